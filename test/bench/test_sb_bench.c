/*
 * test/bench/test_sb_bench.c - sb-bench end to end, about 2 s per mode, against
 * a real broker started by test/net's fixture: produce, consume (the produce
 * run's records, from the beginning), e2e and ping each exit 0 and write a JSON
 * file with every expected field and zero lost, duplicated and out-of-order
 * messages. A consume run verified against a produce run's JSON (--verify-against)
 * counts every acknowledged record it did not get as lost, also when the topic was
 * deleted and recreated so that none of them is left. A consume run that stops with
 * records left (not by --messages) fails and counts the partitions it left behind;
 * partitions that delivered nothing are counted. Bad usage exits 2.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test/net/broker_fixture.h"

#ifndef SB_BENCH_BINARY
#error "SB_BENCH_BINARY must name the sb-bench executable"
#endif

#define JSON_BYTES_MAX (4u << 20)

static struct broker_process broker;

static void
setup(void)
{
    broker_init(&broker, 1);
    broker_start(&broker);
}

static void
teardown(void)
{
    broker_destroy(&broker);
}

/* Runs sb-bench MODE with the broker's address, extra arguments and --json; returns
 * its exit status. */
static int
run_bench(const char *mode, const char *json_path, const char *const *extra)
{
    char address[32];
    snprintf(address, sizeof(address), "127.0.0.1:%u", broker.port);
    const char *argv[40] = {SB_BENCH_BINARY, mode, "-b", address, "--json", json_path,
                            "--quiet"};
    int argc = 7;
    for (int index = 0; extra != NULL && extra[index] != NULL && argc < 38; index++) {
        argv[argc++] = extra[index];
    }
    argv[argc] = NULL;
    pid_t child = fork();
    cr_assert_geq(child, 0);
    if (child == 0) {
        freopen("/dev/null", "w", stdout);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    int status = 0;
    cr_assert_eq(waitpid(child, &status, 0), child);
    cr_assert(WIFEXITED(status), "sb-bench died");
    return WEXITSTATUS(status);
}

static char *
read_json(const char *path)
{
    FILE *file = fopen(path, "r");
    cr_assert_not_null(file, "no JSON at %s", path);
    char *text = calloc(1, JSON_BYTES_MAX + 1);
    size_t length = fread(text, 1, JSON_BYTES_MAX, file);
    fclose(file);
    text[length] = '\0';
    cr_assert_gt(length, 0);
    return text;
}

/* The number after "key": at its first occurrence after section (or the start). */
static double
json_number(const char *text, const char *section, const char *key)
{
    const char *from = section != NULL ? strstr(text, section) : text;
    cr_assert_not_null(from, "no %s", section);
    char quoted[64];
    snprintf(quoted, sizeof(quoted), "\"%s\": ", key);
    const char *at = strstr(from, quoted);
    cr_assert_not_null(at, "no \"%s\" in the JSON", key);
    return strtod(at + strlen(quoted), NULL);
}

static void
check_common_fields(const char *text)
{
    static const char *const keys[] = {
        "\"tool\": \"sb-bench\"", "\"driver\": \"streambus\"", "\"durability\"", "\"config\"",
        "\"window_s\"", "\"produced\"", "\"consumed\"", "\"latency\"", "\"end_to_end\"",
        "\"p50_us\"", "\"p90_us\"", "\"p99_us\"", "\"p99_9_us\"", "\"p99_99_us\"", "\"max_us\"",
        "\"histogram\"", "\"series\"", "\"msgs_per_s\"", "\"mb_per_s\"", "\"errors\""};
    for (size_t index = 0; index < sizeof(keys) / sizeof(keys[0]); index++) {
        cr_assert_not_null(strstr(text, keys[index]), "JSON lacks %s", keys[index]);
    }
    cr_assert_eq(json_number(text, NULL, "lost"), 0);
    cr_assert_eq(json_number(text, NULL, "duplicated"), 0);
    cr_assert_eq(json_number(text, NULL, "out_of_order"), 0);
    cr_assert_eq(json_number(text, "\"produced\"", "errors"), 0);
}

static void
json_path_for(char *path, size_t capacity, const char *mode)
{
    snprintf(path, capacity, "%s/sb-bench-%s.json", broker.data_dir, mode);
}

Test(sb_bench, produce_then_consume_the_backlog, .init = setup, .fini = teardown,
     .timeout = 60)
{
    char path[256];
    json_path_for(path, sizeof(path), "produce");
    const char *const produce[] = {"--duration", "2", "--warmup", "0", "--partitions", "4",
                                   "--size", "uniform:64:2048", "--keys", "zipf:100", NULL};
    cr_assert_eq(run_bench("produce", path, produce), 0);
    char *text = read_json(path);
    check_common_fields(text);
    cr_assert_not_null(strstr(text, "\"produce_ack\""));
    double produced = json_number(text, "\"produced\"", "messages");
    cr_assert_gt(produced, 100);
    cr_assert_gt(json_number(text, "\"produce_ack\"", "count"), 100);
    cr_assert_not_null(strstr(text, "\"acknowledged\": [\n    {\"producer\": "));
    free(text);

    char consume_path[256];
    json_path_for(consume_path, sizeof(consume_path), "consume");
    const char *const consume[] = {"--duration", "20", "--partitions", "4", "--idle-stop", "1",
                                   "--verify-against", path, NULL};
    cr_assert_eq(run_bench("consume", consume_path, consume), 0);
    text = read_json(consume_path);
    check_common_fields(text);
    cr_assert_not_null(strstr(text, "\"lost_checked\": true"));
    cr_assert_not_null(strstr(text, "\"lost_against\": \"acknowledged\""));
    cr_assert_eq(json_number(text, "\"consumed\"", "messages"), produced);
    free(text);
}

Test(sb_bench, consume_verified_against_a_produce_run_counts_loss_at_either_end,
     .init = setup, .fini = teardown, .timeout = 60)
{
    char produce_path[256];
    char recreate_path[256];
    char consume_path[256];
    json_path_for(produce_path, sizeof(produce_path), "produce");
    json_path_for(recreate_path, sizeof(recreate_path), "recreate");
    json_path_for(consume_path, sizeof(consume_path), "consume");
    const char *const produce[] = {"--messages", "2000", "--warmup", "0", "--partitions", "2",
                                   "--size", "64", NULL};
    cr_assert_eq(run_bench("produce", produce_path, produce), 0);
    /* The topic is deleted and recreated: none of the 2000 acknowledged records is left,
     * and the new records come from another producer id. */
    const char *const recreate[] = {"--messages", "300", "--warmup", "0", "--partitions", "2",
                                    "--size", "64", "--recreate", NULL};
    cr_assert_eq(run_bench("produce", recreate_path, recreate), 0);
    const char *const consume[] = {"--duration", "20", "--partitions", "2", "--idle-stop", "1",
                                   "--verify-against", produce_path, NULL};
    cr_assert_eq(run_bench("consume", consume_path, consume), 1);
    char *text = read_json(consume_path);
    cr_assert_eq(json_number(text, "\"consumed\"", "messages"), 300);
    cr_assert_not_null(strstr(text, "\"lost_checked\": true"));
    cr_assert_eq(json_number(text, NULL, "lost"), 2000);
    free(text);
}

Test(sb_bench, consume_that_stops_early_fails, .init = setup, .fini = teardown,
     .timeout = 60)
{
    char produce_path[256];
    char consume_path[256];
    json_path_for(produce_path, sizeof(produce_path), "produce");
    json_path_for(consume_path, sizeof(consume_path), "consume");
    const char *const produce[] = {"--messages", "10000", "--warmup", "0", "--partitions", "2",
                                   "--size", "64", NULL};
    cr_assert_eq(run_bench("produce", produce_path, produce), 0);
    /* --duration 0 stops the consumers before they poll: every record is left. */
    const char *const early[] = {"--duration", "0", "--partitions", "2", NULL};
    cr_assert_eq(run_bench("consume", consume_path, early), 1);
    char *text = read_json(consume_path);
    cr_assert_not_null(strstr(text, "\"stopped_early\": true"));
    cr_assert_eq(json_number(text, NULL, "partitions_behind"), 2);
    cr_assert_lt(json_number(text, "\"consumed\"", "messages"), 10000);
    free(text);
    /* Stopping at --messages is on purpose. */
    const char *const counted[] = {"--messages", "10", "--partitions", "2", NULL};
    cr_assert_eq(run_bench("consume", consume_path, counted), 0);
    text = read_json(consume_path);
    cr_assert_not_null(strstr(text, "\"stopped_early\": false"));
    free(text);
}

Test(sb_bench, consume_counts_partitions_that_delivered_nothing, .init = setup,
     .fini = teardown, .timeout = 60)
{
    char path[256];
    json_path_for(path, sizeof(path), "produce");
    const char *const produce[] = {"--messages", "2", "--warmup", "0", "--partitions", "4",
                                   "--size", "64", NULL};
    cr_assert_eq(run_bench("produce", path, produce), 0);
    json_path_for(path, sizeof(path), "consume");
    const char *const consume[] = {"--duration", "20", "--partitions", "4", "--idle-stop", "1",
                                   NULL};
    cr_assert_eq(run_bench("consume", path, consume), 0);
    char *text = read_json(path);
    cr_assert_eq(json_number(text, NULL, "partitions_empty"), 2);
    cr_assert_eq(json_number(text, NULL, "partitions_behind"), 0);
    cr_assert_not_null(strstr(text, "\"stopped_early\": false"));
    free(text);
}

Test(sb_bench, e2e_open_loop_counts_every_message_once, .init = setup, .fini = teardown,
     .timeout = 60)
{
    char path[256];
    json_path_for(path, sizeof(path), "e2e");
    const char *const extra[] = {"--duration", "2", "--warmup", "0", "--partitions", "3",
                                 "--producers", "2", "--consumers", "2", "--rate", "5000",
                                 "--size", "100", "--acks", "1", NULL};
    cr_assert_eq(run_bench("e2e", path, extra), 0);
    char *text = read_json(path);
    check_common_fields(text);
    cr_assert_not_null(strstr(text, "\"loop\": \"open\""));
    cr_assert_not_null(strstr(text, "\"lost_checked\": true"));
    double produced = json_number(text, "\"produced\"", "messages");
    cr_assert_gt(produced, 5000);
    cr_assert_eq(json_number(text, "\"consumed\"", "messages"), produced);
    cr_assert_gt(json_number(text, "\"end_to_end\"", "count"), 5000);
    free(text);
}

Test(sb_bench, ping_measures_round_trips, .init = setup, .fini = teardown, .timeout = 60)
{
    char path[256];
    json_path_for(path, sizeof(path), "ping");
    const char *const extra[] = {"--duration", "2", "--warmup", "0", NULL};
    cr_assert_eq(run_bench("ping", path, extra), 0);
    char *text = read_json(path);
    check_common_fields(text);
    cr_assert_not_null(strstr(text, "\"ping\""));
    cr_assert_gt(json_number(text, "\"ping\"", "count"), 100);
    cr_assert_gt(json_number(text, "\"ping\"", "p50_us"), 0);
    free(text);
}

Test(sb_bench, bad_usage_exits_2)
{
    pid_t child = fork();
    cr_assert_geq(child, 0);
    if (child == 0) {
        freopen("/dev/null", "w", stderr);
        execl(SB_BENCH_BINARY, SB_BENCH_BINARY, "produce", "--size", "10", (char *)NULL);
        _exit(127);
    }
    int status = 0;
    waitpid(child, &status, 0);
    cr_assert(WIFEXITED(status));
    cr_assert_eq(WEXITSTATUS(status), 2);
}
