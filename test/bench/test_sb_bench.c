/*
 * test/bench/test_sb_bench.c - sb-bench end to end, about 2 s per mode, against
 * a real broker started by test/broker's fixture: produce, consume (the produce
 * run's records, from the beginning), e2e and ping each exit 0 and write a JSON
 * file with every expected field (a produce run's drain: no more acks than were in
 * flight, none slower than the run's max) and zero lost, duplicated and out-of-order
 * messages. A consume run verified against a produce run's JSON (--verify-against)
 * counts every acknowledged record it did not get as lost, also when the topic was
 * deleted and recreated so that none of them is left. A consume run that stops with
 * records left (not by --messages) fails and counts the partitions it left behind;
 * partitions that delivered nothing are counted. With --group (a broker with a 6 s
 * session timeout), consumers that subscribe read a backlog and an e2e stream exactly
 * once (nothing lost or duplicated; nothing redelivered unless a member was fenced), hold
 * every partition between them at the end, and the JSON has the group's figures; members
 * fenced by a broker stalled past the session timeout lose their partitions and get them
 * back, redeliveries counted apart, and the run still passes; an e2e run
 * whose group has a member outside the run never holds every partition and gives up
 * after --join-timeout (exit 1) instead of producing. A low-rate run is not generator-bound;
 * scripts/bench-multi's two produce processes merge into summed counts, verified by one
 * consume run with nothing lost or duplicated. Bad usage
 * exits 2, also --group with a mode without consumers or a driver without groups.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test/broker/broker_fixture.h"

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

/* A broker whose group members are fenced after 6 s (heartbeats every 2 s), so rebalances
 * finish within a short run and a loaded machine's stalls fence nobody. */
static void
setup_groups(void)
{
    broker_start_new(&broker, 1,
                     "--group-session-timeout-ms 6000 --group-heartbeat-interval-ms 2000");
}

static void
teardown(void)
{
    broker_destroy(&broker);
}

/* Starts sb-bench MODE with the broker's address, --json json_path and extra arguments;
 * returns its pid at once. */
static pid_t
start_bench(const char *mode, const char *json_path, const char *const *extra)
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
    return child;
}

/* Runs sb-bench as start_bench does and returns its exit status. */
static int
run_bench(const char *mode, const char *json_path, const char *const *extra)
{
    pid_t child = start_bench(mode, json_path, extra);
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
        "\"histogram\"", "\"series\"", "\"msgs_per_s\"", "\"mb_per_s\"", "\"errors\"",
        "\"generator\": {\"cpu_s\"", "\"cpu_us_per_message\"", "\"threads_busy\"",
        "\"busiest_thread\"", "\"generator_bound\"", "\"schedule_behind\""};
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
    /* Counts, not speed: a loaded machine may send few in 2 s, never none. */
    cr_assert_gt(produced, 0);
    cr_assert_gt(json_number(text, "\"produce_ack\"", "count"), 0);
    cr_assert_not_null(strstr(text, "\"acknowledged\": [\n    {\"producer\": "));
    /* The drain's acks are some of the run's (at most the 1000 in flight), no slower than
     * its slowest. */
    double drain_acked = json_number(text, "\"drain\"", "acked");
    cr_assert_leq(drain_acked, 1000);
    cr_assert_leq(drain_acked, json_number(text, "\"produce_ack\"", "count"));
    cr_assert_leq(json_number(text, "\"drain\"", "ack_max_us"),
                  json_number(text, "\"produce_ack\"", "max_us") + 0.001);
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
    /* 80 MB in 4 KiB records: the consumers' first fetches cannot drain both partitions
     * before the main thread's first tick stops them (10,000 × 64 B could, on a loaded
     * machine that held the main thread back: a run stopped early with nothing left). */
    const char *const produce[] = {"--messages", "20000", "--warmup", "0", "--partitions", "2",
                                   "--size", "4096", NULL};
    cr_assert_eq(run_bench("produce", produce_path, produce), 0);
    /* --duration 0 stops the consumers at the main thread's first tick: records are left. */
    const char *const early[] = {"--duration", "0", "--partitions", "2", NULL};
    cr_assert_eq(run_bench("consume", consume_path, early), 1);
    char *text = read_json(consume_path);
    cr_assert_not_null(strstr(text, "\"stopped_early\": true"));
    cr_assert_eq(json_number(text, NULL, "partitions_behind"), 2);
    cr_assert_lt(json_number(text, "\"consumed\"", "messages"), 20000);
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
    cr_assert_gt(produced, 0);
    cr_assert_eq(json_number(text, "\"consumed\"", "messages"), produced);
    cr_assert_gt(json_number(text, "\"end_to_end\"", "count"), 0);
    free(text);
}

/* At 200 messages/s the generator uses a sliver of a CPU however loaded the machine is (CPU
 * time, not speed): the run is judged and not generator-bound, and its CPU per message is
 * counted over the messages it sent. */
Test(sb_bench, a_low_rate_run_is_not_generator_bound, .init = setup, .fini = teardown,
     .timeout = 60)
{
    char path[256];
    json_path_for(path, sizeof(path), "low-rate");
    const char *const extra[] = {"--duration", "2", "--warmup", "0", "--rate", "200",
                                 "--size", "100", "--acks", "1", NULL};
    cr_assert_eq(run_bench("produce", path, extra), 0);
    char *text = read_json(path);
    check_common_fields(text);
    cr_assert_not_null(strstr(text, "\"generator_bound\": false"));
    cr_assert_not_null(strstr(text, "\"judged\": true"));
    cr_assert_gt(json_number(text, "\"generator\"", "messages"), 0);
    cr_assert_gt(json_number(text, "\"generator\"", "cpu_us_per_message"), 0);
    cr_assert_eq(json_number(text, "\"generator\"", "threads_busy"), 0);
    cr_assert_gt(json_number(text, "\"generator\"", "due"), 0);
    free(text);
}

/* scripts/bench-multi: two sb-bench processes produce 400 records each (distinct producer
 * ids); the merged JSON sums their counts and one consume run finds all 800, once. */
Test(sb_bench, bench_multi_merges_two_processes_and_verifies_them, .init = setup,
     .fini = teardown, .timeout = 90)
{
    char address[32];
    char command[1024];
    char path[256];
    snprintf(address, sizeof(address), "127.0.0.1:%u", broker.port);
    /* --dir names a directory that does not exist yet: bench-multi makes it. */
    snprintf(command, sizeof(command), "python3 %s --sb-bench %s --dir %s/multi 2 -- -b %s "
             "--messages 400 --warmup 0 --partitions 2 --size 64 --quiet >/dev/null",
             SB_BENCH_MULTI, SB_BENCH_BINARY, broker.data_dir, address);
    int status = system(command);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "bench-multi: %d", status);
    snprintf(path, sizeof(path), "%s/multi/merged.json", broker.data_dir);
    char *text = read_json(path);
    cr_assert_eq(json_number(text, NULL, "processes"), 2);
    cr_assert_eq(json_number(text, "\"produced\"", "messages"), 800);
    cr_assert_eq(json_number(text, "\"produce_ack\"", "count"), 800);
    cr_assert_eq(json_number(text, NULL, "consumed"), 800);
    cr_assert_eq(json_number(text, NULL, "lost"), 0);
    cr_assert_eq(json_number(text, NULL, "duplicated"), 0);
    cr_assert_eq(json_number(text, NULL, "out_of_order"), 0);
    cr_assert_not_null(strstr(text, "\"producer_ids_distinct\": true"));
    cr_assert_not_null(strstr(text, "\"lost_checked\": true"));
    free(text);
}

/* bench-multi's failures: bad usage exits 2; a produce run that fails (no broker on the
 * port) exits 1; merging a run with itself finds its producer ids twice and exits 1. */
Test(sb_bench, bench_multi_fails_on_usage_failed_runs_and_colliding_ids, .init = setup,
     .fini = teardown, .timeout = 60)
{
    char command[1024];
    char path[256];
    snprintf(command, sizeof(command), "python3 %s 2 >/dev/null 2>&1", SB_BENCH_MULTI);
    int status = system(command);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 2, "usage: %d", status);
    snprintf(command, sizeof(command), "python3 %s --sb-bench %s --dir %s 1 -- -b "
             "127.0.0.1:1 --messages 10 --warmup 0 --quiet --drain 1 >/dev/null 2>&1",
             SB_BENCH_MULTI, SB_BENCH_BINARY, broker.data_dir);
    status = system(command);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1, "no broker: %d", status);
    json_path_for(path, sizeof(path), "once");
    const char *const produce[] = {"--messages", "50", "--warmup", "0", "--size", "64", NULL};
    cr_assert_eq(run_bench("produce", path, produce), 0);
    snprintf(command, sizeof(command), "python3 %s merge %s/twice.json %s %s", SB_BENCH_MULTI,
             broker.data_dir, path, path);
    status = system(command);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1, "same ids: %d", status);
    snprintf(path, sizeof(path), "%s/twice.json", broker.data_dir);
    char *text = read_json(path);
    cr_assert_not_null(strstr(text, "\"producer_ids_distinct\": false"));
    cr_assert_eq(json_number(text, "\"produced\"", "messages"), 100);
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
    cr_assert_gt(json_number(text, "\"ping\"", "count"), 0);
    cr_assert_gt(json_number(text, "\"ping\"", "p50_us"), 0);
    free(text);
}

/* Runs sb-bench with argv (NULL-terminated, argv[0] the binary) without a broker and
 * returns its exit status. */
static int
exit_status(const char *const *argv)
{
    pid_t child = fork();
    cr_assert_geq(child, 0);
    if (child == 0) {
        freopen("/dev/null", "w", stderr);
        freopen("/dev/null", "w", stdout);
        execv(SB_BENCH_BINARY, (char *const *)argv);
        _exit(127);
    }
    int status = 0;
    waitpid(child, &status, 0);
    cr_assert(WIFEXITED(status));
    return WEXITSTATUS(status);
}

Test(sb_bench, bad_usage_exits_2)
{
    const char *const size[] = {SB_BENCH_BINARY, "produce", "--size", "10", NULL};
    cr_assert_eq(exit_status(size), 2);
    const char *const produce[] = {SB_BENCH_BINARY, "produce", "--group", "g", NULL};
    cr_assert_eq(exit_status(produce), 2);
    const char *const ping[] = {SB_BENCH_BINARY, "ping", "--group", "g", NULL};
    cr_assert_eq(exit_status(ping), 2);
    /* Refused before any connection: no server listens on these ports. */
    const char *const nats[] = {SB_BENCH_BINARY, "consume", "--group", "g", "--driver", "nats",
                                "-b", "127.0.0.1:1", NULL};
    cr_assert_eq(exit_status(nats), 2);
    const char *const redis[] = {SB_BENCH_BINARY, "e2e", "--group", "g", "--driver", "redis",
                                 "-b", "127.0.0.1:1", NULL};
    cr_assert_eq(exit_status(redis), 2);
}

/* The common fields, and the group member of the JSON has every field, nothing
 * redelivered and no commit error unless a member was fenced, and this run's consumers hold
 * all of partitions at the end. */
static void
check_group_fields(const char *text, double partitions)
{
    check_common_fields(text);
    static const char *const keys[] = {
        "\"group\": {\"id\": \"", "\"commit_mode\"", "\"commit_interval_ms\"",
        "\"join_ms\"", "\"settled_ms\"", "\"after_settled\": {\"messages\"", "\"assigned\"",
        "\"revoked\"", "\"lost\"", "\"pauses_open\"",
        "\"partitions_by_consumer\"", "\"commit\": {", "\"rebalance_pause\": {",
        "\"handover\": {", "\"events\": [", "\"first_delivery_unix_us\""};
    for (size_t index = 0; index < sizeof(keys) / sizeof(keys[0]); index++) {
        cr_assert_not_null(strstr(text, keys[index]), "JSON lacks %s", keys[index]);
    }
    /* Without a member fenced (a stall of the loaded machine longer than the session),
     * nothing comes twice and every commit is stored. */
    if (json_number(text, "\"group\"", "lost") == 0) {
        cr_assert_eq(json_number(text, "\"group\"", "redelivered"), 0);
        cr_assert_eq(json_number(text, "\"group\"", "commit_errors"), 0);
    }
    cr_assert_eq(json_number(text, "\"group\"", "partitions_held"), partitions);
    cr_assert_gt(json_number(text, "\"group\"", "assigned"), 0);
}

Test(sb_bench, group_consumers_read_a_backlog_exactly_once, .init = setup_groups,
     .fini = teardown, .timeout = 90)
{
    char produce_path[256];
    char consume_path[256];
    json_path_for(produce_path, sizeof(produce_path), "produce");
    json_path_for(consume_path, sizeof(consume_path), "consume");
    const char *const produce[] = {"--messages", "20000", "--warmup", "0", "--partitions", "6",
                                   "--size", "64", "--acks", "1", NULL};
    cr_assert_eq(run_bench("produce", produce_path, produce), 0);
    const char *const consume[] = {"--duration", "60", "--partitions", "6", "--consumers", "3",
                                   "--idle-stop", "2", "--group", "backlog",
                                   "--verify-against", produce_path, NULL};
    cr_assert_eq(run_bench("consume", consume_path, consume), 0);
    char *text = read_json(consume_path);
    check_group_fields(text, 6);
    cr_assert_not_null(strstr(text, "\"lost_checked\": true"));
    cr_assert_eq(json_number(text, "\"consumed\"", "messages"), 20000);
    free(text);
}

/* The sum of the numbers in "partitions_by_consumer", and the smallest. */
static void
partitions_by_consumer(const char *text, uint32_t *sum, uint32_t *smallest)
{
    const char *at = strstr(text, "\"partitions_by_consumer\": [");
    cr_assert_not_null(at);
    at = strchr(at, '[') + 1;
    *sum = 0;
    *smallest = UINT32_MAX;
    while (*at != ']') {
        char *end = NULL;
        uint32_t value = (uint32_t)strtoul(at, &end, 10);
        cr_assert_neq(end, at, "not a number list");
        *sum += value;
        *smallest = value < *smallest ? value : *smallest;
        at = *end == ',' ? end + 2 : end;
    }
}

Test(sb_bench, group_e2e_splits_the_partitions_and_counts_every_message_once,
     .init = setup_groups, .fini = teardown, .timeout = 90)
{
    char path[256];
    json_path_for(path, sizeof(path), "e2e");
    /* 14 s: the members' rebalance (two or three 2 s heartbeats) ends well before. */
    const char *const extra[] = {"--duration", "14", "--warmup", "0", "--partitions", "6",
                                 "--consumers", "3", "--rate", "2000", "--size", "100",
                                 "--acks", "1", "--group", "stream", "--commit", "sync",
                                 "--commit-interval-ms", "0", NULL};
    cr_assert_eq(run_bench("e2e", path, extra), 0);
    char *text = read_json(path);
    check_group_fields(text, 6);
    cr_assert_not_null(strstr(text, "\"commit_mode\": \"sync\""));
    cr_assert_gt(json_number(text, "\"commit\": {", "count"), 0);
    double produced = json_number(text, "\"produced\"", "messages");
    cr_assert_eq(json_number(text, "\"consumed\"", "messages"), produced);
    uint32_t sum;
    uint32_t smallest;
    partitions_by_consumer(text, &sum, &smallest);
    cr_assert_eq(sum, 6);
    cr_assert_gt(smallest, 0, "a consumer holds no partition at the end");
    free(text);
}

/* Waits (bounded) until some partition of topic has a record. */
static void
wait_for_records(const char *topic)
{
    struct client client;
    client_connect(&client, broker.port);
    for (int attempt = 0; attempt < 300; attempt++) {
        struct topic_description description;
        client_describe_topic(&client, topic, &description);
        for (uint32_t index = 0; description.error == 0 && index < description.partition_count;
             index++) {
            if (description.high_watermark[index] > 0) {
                client_close(&client);
                return;
            }
        }
        usleep(100 * 1000);
    }
    cr_assert_fail("no record reached %s in 30 s", topic);
}

Test(sb_bench, group_e2e_with_an_outside_member_gives_up_after_the_join_timeout,
     .init = setup_groups, .fini = teardown, .timeout = 90)
{
    /* The outside member: its own e2e run, which produces only once it holds all six. */
    const char *const outside[] = {"--topic", "shared", "--partitions", "6", "--group", "g",
                                   "--rate", "200", "--size", "64", "--acks", "1",
                                   "--warmup", "0", "--duration", "60", NULL};
    char outside_path[256];
    json_path_for(outside_path, sizeof(outside_path), "outside");
    pid_t member = start_bench("e2e", outside_path, outside);
    wait_for_records("shared");
    char path[256];
    json_path_for(path, sizeof(path), "joined");
    const char *const extra[] = {"--topic", "shared", "--partitions", "6", "--group", "g",
                                 "--join-timeout", "2", "--duration", "5", NULL};
    cr_assert_eq(run_bench("e2e", path, extra), 1);
    cr_assert_eq(access(path, F_OK), -1, "a run that never joined wrote a JSON");
    kill(member, SIGKILL);
    cr_assert_eq(waitpid(member, NULL, 0), member);
}

/* Every member is fenced by a broker stall longer than the session; they rejoin and every
 * record is delivered. (It once failed most runs: a storage read hint left on a flushed
 * memtable entry starved consumers at the log end, docs/reliability.md "Consumer groups".) */
Test(sb_bench, group_members_fenced_by_a_stalled_broker_get_their_partitions_back,
     .fini = teardown, .timeout = 120)
{
    broker_start_new(&broker, 1, "--group-session-timeout-ms 1500 "
                     "--group-min-session-timeout-ms 1000 --group-heartbeat-interval-ms 500");
    char path[256];
    json_path_for(path, sizeof(path), "fenced");
    const char *const extra[] = {"--topic", "stalled", "--duration", "8", "--warmup", "0",
                                 "--partitions", "6", "--consumers", "3", "--rate", "1000",
                                 "--size", "100", "--acks", "1", "--group", "g", NULL};
    pid_t run = start_bench("e2e", path, extra);
    wait_for_records("stalled");
    /* Silent 3 s, twice the session: every member is fenced when the broker resumes. */
    cr_assert_eq(kill(broker.pid, SIGSTOP), 0);
    usleep(3000 * 1000);
    cr_assert_eq(kill(broker.pid, SIGCONT), 0);
    int status = 0;
    cr_assert_eq(waitpid(run, &status, 0), run);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
    char *text = read_json(path);
    check_group_fields(text, 6);
    cr_assert_gt(json_number(text, "\"group\"", "lost"), 0, "no member was fenced");
    double produced = json_number(text, "\"produced\"", "messages");
    cr_assert_eq(json_number(text, "\"consumed\"", "messages"), produced);
    free(text);
}
