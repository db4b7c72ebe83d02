/*
 * test/net/test_config.c - the broker's settings (net/config.c) and what must
 * hold across restarts, against a real broker:
 *
 *  - examples/streambus.conf loads through --config, and flags override it;
 *  - a bad line in a config file stops the broker with exit status 2 and a
 *    message naming the file, the line and the key;
 *  - a data directory created with 2 shards refuses --cores 1, with both numbers;
 *  - topic configs altered and partitions grown survive SIGTERM and kill -9;
 *  - idle_timeout_ms closes an idle connection but not one whose fetch is parked;
 *  - SIGTERM while an acks=all produce waits for its commit answers it (and
 *    the records are there after the restart), then exits 0.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "proto/api_fetch.h"
#include "proto/api_produce.h"
#include "proto/errors.h"
#include "test/net/broker_fixture.h"

#ifndef SB_SOURCE_ROOT
#error "SB_SOURCE_ROOT must name the source tree"
#endif

/* Runs `arguments` after the broker binary (bounded by `timeout`: a broker that should have
 * refused to start but serves is killed after 20 s), with stderr and stdout into `output`.
 * Returns the exit status (128 + signal when killed). */
static int
broker_run_captured(const char *arguments, char *output, size_t capacity)
{
    char command[1024];
    snprintf(command, sizeof(command), "timeout -s KILL 20 %s %s 2>&1", STREAMBUS_BINARY,
             arguments);
    FILE *pipe = popen(command, "r");
    cr_assert_not_null(pipe);
    size_t length = fread(output, 1, capacity - 1, pipe);
    output[length] = '\0';
    int status = pclose(pipe);
    cr_assert(WIFEXITED(status), "status %d", status);
    return WEXITSTATUS(status);
}

Test(config, the_example_file_loads_and_flags_override_it, .timeout = 60)
{
    struct broker_process broker;
    /* The file says data_dir ./data, listen 127.0.0.1:9092 and cores 0: the fixture's flags
     * must win wherever --config stands, or the broker is not found on its port. */
    broker_start_new(&broker, 2, "--config " SB_SOURCE_ROOT "/examples/streambus.conf");
    struct client client;
    client_connect(&client, (uint16_t)(broker.port + 2));
    cr_assert_eq(client_create_topic(&client, "configured", 2), SB_WIRE_ERROR_NONE);
    client_close(&client);
    char path[192];
    snprintf(path, sizeof(path), "%s/metadata", broker.data_dir);
    cr_assert_eq(access(path, F_OK), 0, "the data directory of --data-dir is used");
    broker_stop_and_destroy(&broker);
}

/* One bad config file: its text, the line at fault and what the message must name. */
struct bad_file {
    const char *text;     /* The file. */
    int line;             /* The line the broker must name. */
    const char *naming;   /* The key (or complaint) the message must contain. */
};

Test(config, a_bad_line_exits_2_naming_file_line_and_key, .timeout = 60)
{
    const struct bad_file files[] = {
        {"# fine so far\nnode_id = 3\nmax_frame_bytes = lots\nwal_files = 4\n", 3,
         "max_frame_bytes = lots"},
        {"node_id = 3\n\nno_such_setting = 1\n", 3, "no_such_setting"},
        {"wal_prefill = maybe\n", 1, "wal_prefill"},
        {"cleanup_policy = shred\n", 1, "cleanup_policy"},
        {"log_level = info\nthis line has no equals sign\n", 2, "expected key = value"},
    };
    char directory[] = "/tmp/sb-config-XXXXXX";
    cr_assert_not_null(mkdtemp(directory));
    for (size_t index = 0; index < sizeof(files) / sizeof(files[0]); index++) {
        char path[64];
        snprintf(path, sizeof(path), "%s/bad.conf", directory);
        FILE *file = fopen(path, "w");
        cr_assert_not_null(file);
        fputs(files[index].text, file);
        fclose(file);
        char arguments[256];
        snprintf(arguments, sizeof(arguments), "--config %s --data-dir %s/data", path, directory);
        char output[4096];
        int status = broker_run_captured(arguments, output, sizeof(output));
        cr_assert_eq(status, 2, "file %zu: exit status %d, output: %s", index, status, output);
        char where[96];
        snprintf(where, sizeof(where), "%s:%d:", path, files[index].line);
        cr_assert(strstr(output, where) != NULL, "file %zu names %s: %s", index, where, output);
        cr_assert(strstr(output, files[index].naming) != NULL, "file %zu names %s: %s", index,
                  files[index].naming, output);
        unlink(path);
    }
    char data[64];
    snprintf(data, sizeof(data), "%s/data", directory);
    cr_assert_neq(access(data, F_OK), 0, "a refused setting creates no data directory");
    rmdir(directory);
}

Test(config, another_cores_on_an_existing_data_directory_is_refused_with_the_numbers,
     .timeout = 60)
{
    struct broker_process broker;
    broker_start_new(&broker, 2, NULL);
    cr_assert_eq(broker_stop(&broker), 0);
    char arguments[256];
    snprintf(arguments, sizeof(arguments), "--data-dir %s --listen 127.0.0.1:%u --cores 1",
             broker.data_dir, broker.port);
    char output[4096];
    int status = broker_run_captured(arguments, output, sizeof(output));
    cr_assert_eq(status, 1, "refused: exit status %d, output: %s", status, output);
    cr_assert(strstr(output, "shards=2") != NULL && strstr(output, "requested=1") != NULL,
              "the refusal names both counts: %s", output);
    /* The data directory is untouched: the right count still starts. */
    broker_start(&broker);
    broker_stop_and_destroy(&broker);
}

/* Asserts what DescribeTopic says of "kept": `partitions` partitions, retention.ms
 * `retention`, and `records` records in each partition listed in `filled`. */
static void
expect_kept(struct client *client, uint32_t partitions, const char *retention,
            const int32_t *filled, uint32_t filled_count, int64_t records)
{
    struct topic_description description;
    client_describe_topic(client, "kept", &description);
    cr_assert_eq(description.error, SB_WIRE_ERROR_NONE);
    cr_assert_eq(description.partition_count, partitions, "grown partitions kept");
    cr_assert_str_eq(description.retention_ms, retention, "altered config kept");
    for (uint32_t index = 0; index < filled_count; index++) {
        cr_assert_eq(description.high_watermark[filled[index]], records,
                     "records of partition %d", filled[index]);
    }
}

/* Produces 10 acknowledged (acks=all) records to "kept" partition `partition`. */
static void
produce_kept(struct client *client, int32_t partition, int64_t expected_base)
{
    static uint8_t batch[4096];
    uint32_t bytes = test_batch(batch, sizeof(batch), 10, "kept");
    int64_t base_offset;
    cr_assert_eq(client_produce_acks_all(client, "kept", partition, batch, bytes, &base_offset),
                 SB_WIRE_ERROR_NONE);
    cr_assert_eq(base_offset, expected_base);
}

Test(config, altered_configs_and_grown_partitions_survive_sigterm_and_kill_9, .timeout = 120)
{
    struct broker_process broker;
    broker_start_new(&broker, 2, NULL);
    struct client client;
    client_connect(&client, broker.port);
    cr_assert_eq(client_create_topic(&client, "kept", 2), SB_WIRE_ERROR_NONE);
    cr_assert_eq(client_alter_topic(&client, "kept", 5, "retention.ms", "123456"),
                 SB_WIRE_ERROR_NONE);
    produce_kept(&client, 4, 0);
    client_close(&client);
    cr_assert_eq(broker_stop(&broker), 0);
    broker_start(&broker);
    client_connect(&client, broker.port);
    expect_kept(&client, 5, "123456", (const int32_t[]){4}, 1, 10);
    cr_assert_eq(client_alter_topic(&client, "kept", 7, "retention.ms", "234567"),
                 SB_WIRE_ERROR_NONE);
    produce_kept(&client, 6, 0);
    client_close(&client);
    broker_kill(&broker);
    broker_start(&broker);
    client_connect(&client, broker.port);
    expect_kept(&client, 7, "234567", (const int32_t[]){4, 6}, 2, 10);
    produce_kept(&client, 6, 10);
    client_close(&client);
    broker_stop_and_destroy(&broker);
}

/* Waits up to `timeout_ms` for the broker to close `client`'s connection; returns whether it
 * did (a closed connection reads as -ECONNRESET; nothing else may arrive). */
static bool
closed_by_broker(struct client *client, int timeout_ms)
{
    struct sb_frame frame;
    int received = client_receive(client, &frame, timeout_ms);
    cr_assert_neq(received, 0, "no unasked answer arrives");
    return received != -ETIMEDOUT;
}

Test(config, idle_timeout_closes_an_idle_connection_but_not_a_parked_fetch, .timeout = 60)
{
    struct broker_process broker;
    broker_start_new(&broker, 1, "--idle-timeout-ms 300");
    struct client idle;
    struct client waiting;
    client_connect(&idle, broker.port);
    client_connect(&waiting, broker.port);
    cr_assert_eq(client_create_topic(&waiting, "quiet", 1), SB_WIRE_ERROR_NONE);
    /* Nothing to read: the fetch is parked for 3 s, ten idle timeouts. */
    struct fetch_spec spec = {.topic = "quiet", .partition = 0, .offset = 0,
                              .partition_max_bytes = 1 << 20, .max_bytes = 1 << 20,
                              .max_wait_ms = 3000, .min_bytes = 1};
    uint64_t sent_ns = sb_clock_monotonic_ns();
    uint32_t correlation = client_send(&waiting, SB_API_FETCH, 0, encode_fetch_spec, &spec);
    cr_assert(closed_by_broker(&idle, 10000), "the idle connection is closed");
    struct sb_frame frame;
    cr_assert_eq(client_receive(&waiting, &frame, 10000), 0, "the parked fetch is answered");
    cr_assert_eq(frame.header.correlation_id, correlation);
    /* Closing a connection cuts its long poll short: an idle close would answer within about
     * 2 idle timeouts (600 ms). The broker's timers round to milliseconds, so its 3 s may end
     * a little early; 2 s tells the two apart. */
    cr_assert_geq(sb_clock_monotonic_ns() - sent_ns, 2000 * SB_NS_PER_MS, "waited its time");
    struct sb_fetch_partition_response partition;
    decode_fetch_partition(&frame, &partition);
    cr_assert_eq(partition.error_code, SB_WIRE_ERROR_NONE);
    cr_assert_eq(partition.records.length, 0, "nothing arrived while it waited");
    correlation = client_send(&waiting, SB_API_HEALTH, 0, encode_empty_request, NULL);
    cr_assert_eq(client_receive(&waiting, &frame, 10000), 0, "still open after the wait");
    cr_assert_eq(frame.header.correlation_id, correlation);
    /* Answered, the connection is idle in turn. */
    cr_assert(closed_by_broker(&waiting, 10000), "then it is closed as idle too");
    client_close(&idle);
    client_close(&waiting);
    broker_stop_and_destroy(&broker);
}

/* Decodes the answer of a one-partition Produce; returns its error and base offset. */
static int16_t
produce_answer(const struct sb_frame *frame, int64_t *base_offset)
{
    cr_assert_eq(frame->header.error_code, 0, "%s",
                 sb_wire_error_name(frame->header.error_code));
    struct sb_produce_response response;
    struct sb_produce_topic_response topic;
    struct sb_produce_partition_response result;
    cr_assert_eq(sb_produce_response_decode(frame->body, frame->body_bytes, &response), 0);
    cr_assert_eq(sb_produce_response_next_topic(&response, &topic), 1);
    cr_assert_eq(sb_produce_topic_response_next_partition(&topic, &result), 1);
    *base_offset = result.base_offset;
    return result.error_code;
}

Test(config, sigterm_answers_a_parked_acks_all_produce_and_exits_0, .timeout = 90)
{
    struct broker_process broker;
    /* A commit cycle grows for 2 s, so the produce below waits for it that long. */
    broker_start_new(&broker, 1, "--commit-delay-us 2000000");
    struct client producer;
    struct client observer;
    client_connect(&producer, broker.port);
    client_connect(&observer, broker.port);
    cr_assert_eq(client_create_topic(&observer, "parked", 1), SB_WIRE_ERROR_NONE);
    static uint8_t batch[4096];
    struct produce_spec spec = {.topic = "parked", .partition = 0, .batch = batch,
                                .bytes = test_batch(batch, sizeof(batch), 10, "parked"),
                                .acks = -1, .timeout_ms = 30000};
    uint32_t correlation = client_send(&producer, SB_API_PRODUCE, 0, encode_produce_spec, &spec);
    /* Appended but not committed: the produce is parked in the broker. */
    struct topic_description description = {0};
    for (int attempt = 0; attempt < 400 && description.log_end_offset[0] == 0; attempt++) {
        client_describe_topic(&observer, "parked", &description);
        struct timespec delay = {0, 5 * 1000 * 1000};
        nanosleep(&delay, NULL);
    }
    cr_assert_eq(description.log_end_offset[0], 10, "the batch was appended");
    cr_assert_eq(description.high_watermark[0], 0, "and is waiting for its commit");
    client_close(&observer);
    cr_assert_eq(broker_stop(&broker), 0, "SIGTERM exits 0");
    struct sb_frame frame;
    cr_assert_eq(client_receive(&producer, &frame, 1000), 0, "the parked produce was answered");
    cr_assert_eq(frame.header.correlation_id, correlation);
    int64_t base_offset;
    cr_assert_eq(produce_answer(&frame, &base_offset), SB_WIRE_ERROR_NONE);
    cr_assert_eq(base_offset, 0);
    client_close(&producer);
    broker_start(&broker);
    struct client consumer;
    client_connect(&consumer, broker.port);
    struct fetch_spec fetch = {.topic = "parked", .partition = 0, .offset = 0,
                               .partition_max_bytes = 1 << 20, .max_bytes = 1 << 20};
    struct sb_fetch_partition_response partition;
    client_fetch(&consumer, &fetch, &partition);
    cr_assert_eq(partition.high_watermark, 10, "what SIGTERM acknowledged was kept");
    client_close(&consumer);
    broker_stop_and_destroy(&broker);
}
