/*
 * test/broker/test_config.c - the broker's settings (broker/config.c) and what must
 * hold across restarts, against a real broker:
 *
 *  - examples/streambus.conf loads through --config, and flags override it;
 *  - a bad line in a config file stops the broker with exit status 2 and a
 *    message naming the file, the line and the key;
 *  - a data directory created with 2 shards refuses --cores 1, with both numbers;
 *  - topic configs altered and partitions grown survive SIGTERM and kill -9;
 *  - idle_timeout_ms closes an idle connection but not one whose fetch is parked;
 *  - SIGTERM while an acks=all produce waits for its commit answers it (and
 *    the records are there after the restart), then exits 0;
 *  - a start that fails on a file descriptor limit says so, never "out of memory";
 *  - a size with a suffix (k, m, g) that would not fit its setting is refused, never
 *    wrapped, and so is one above its named ceiling (unit tests of sb_broker_config_set).
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

#include "broker/broker.h"
#include "broker/config.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/limits.h"
#include "proto/api_fetch.h"
#include "proto/api_produce.h"
#include "proto/errors.h"
#include "test/broker/broker_fixture.h"

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

/* Sets `key` to `value` on the defaults; returns the result and the setting in *config. */
static int
config_try(struct sb_broker_config *config, const char *key, const char *value)
{
    char error[256] = "";
    sb_broker_config_defaults(config);
    int result = sb_broker_config_set(config, key, value, error, sizeof(error));
    if (result != 0) {
        cr_assert_neq(strstr(error, key), NULL, "the error names the key: %s", error);
    }
    return result;
}

/* issue 12, clean-up: a suffix multiplies only values that stay within the setting's type,
 * 64-bit (signed or unsigned, both held as int64 while parsed) or 32-bit. */
Test(config, a_size_suffix_that_would_overflow_is_refused_not_wrapped)
{
    struct sb_broker_config config;
    cr_assert_eq(config_try(&config, "memtable_bytes", "9007199254740991k"), 0);
    cr_assert_eq(config.memtable_bytes, 9007199254740991ull << 10);
    cr_assert_eq(config_try(&config, "memtable_bytes", "9223372036854775807k"), -EINVAL);
    cr_assert_eq(config_try(&config, "memtable_bytes", "9007199254740992k"), -EINVAL);
    cr_assert_eq(config_try(&config, "memtable_bytes", "8589934592g"), -EINVAL);
    cr_assert_eq(config_try(&config, "memtable_bytes", "99999999999999999999"), -EINVAL);
    cr_assert_eq(config_try(&config, "retention_bytes", "8589934591g"), 0);
    cr_assert_eq(config.topic_defaults.retention_bytes, INT64_MAX - ((1ll << 30) - 1));
    cr_assert_eq(config_try(&config, "retention_bytes", "8589934592g"), -EINVAL);
    cr_assert_eq(config_try(&config, "retention_bytes", "-8589934593g"), -EINVAL);
    cr_assert_eq(config_try(&config, "idle_timeout_ms", "4194303k"), 0);
    cr_assert_eq(config.idle_timeout_ms, 4194303u << 10);
    cr_assert_eq(config_try(&config, "idle_timeout_ms", "4194304k"), -EINVAL);
    cr_assert_eq(config_try(&config, "idle_timeout_ms", "4g"), -EINVAL);
    cr_assert_eq(config_try(&config, "idle_timeout_ms", "1kk"), -EINVAL);
    cr_assert_eq(config_try(&config, "idle_timeout_ms", "-1k"), -EINVAL);
}

/* issue 12, limits: a setting whose ceiling is a named limit (core/limits.h) refuses more, so
 * max_frame_bytes + the frame header cannot wrap (it was taken up to 4 GiB - 1). */
Test(config, a_setting_above_its_named_ceiling_is_refused)
{
    struct sb_broker_config config;
    cr_assert_eq(config_try(&config, "max_frame_bytes", "1g"), 0);
    cr_assert_eq(config.max_frame_bytes, SB_WIRE_FRAME_BYTES_MAX);
    cr_assert_eq(config_try(&config, "max_frame_bytes", "1073741825"), -EINVAL);
    cr_assert_eq(config_try(&config, "max_frame_bytes", "4294967295"), -EINVAL);
    cr_assert_eq(config_try(&config, "max_message_bytes", "1g"), 0);
    cr_assert_eq(config_try(&config, "max_message_bytes", "1073741825"), -EINVAL);
    cr_assert_eq(config_try(&config, "wal_files", "64"), 0);
    cr_assert_eq(config_try(&config, "wal_files", "65"), -EINVAL);
    cr_assert_eq(config_try(&config, "max_connections", "1048576"), 0);
    cr_assert_eq(config_try(&config, "max_connections", "1048577"), -EINVAL);
}

/* issue 12, clean-up: shard 0's control plane opened the data directory and reported a failure
 * as -ENOMEM. Under file descriptor limits from tiny up to one the broker starts with, each
 * failed start names EMFILE (whichever open ran out), never ENOMEM. */
Test(config, a_failed_open_at_start_is_reported_with_its_errno_not_enomem, .timeout = 120)
{
    struct broker_process broker;
    broker_init(&broker, 1);
    int failures = 0;
    int status = 1;
    /* Bounded: 40 limits; it stops at the first the broker starts with. */
    for (int limit = 4; limit < 44 && status == 1; limit++) {
        char command[768];
        snprintf(command, sizeof(command),
                 "exec 2>&1; ulimit -n %d && exec timeout -s INT 1 %s --cores 1 "
                 "--data-dir %s --listen 127.0.0.1:%u", limit, STREAMBUS_BINARY, broker.data_dir,
                 broker.port);
        FILE *pipe = popen(command, "r");
        cr_assert_not_null(pipe);
        char output[8192];
        size_t length = fread(output, 1, sizeof(output) - 1, pipe);
        output[length] = '\0';
        char rest[4096];
        /* Bounded by the 1 s run: a started broker may log refused accepts until then. */
        while (fread(rest, 1, sizeof(rest), pipe) > 0) {
        }
        int result = pclose(pipe);
        cr_assert(WIFEXITED(result), "limit %d: status %d", limit, result);
        status = WEXITSTATUS(result);
        cr_assert_null(strstr(output, "Cannot allocate memory"), "limit %d: %s", limit, output);
        if (status == 1) {
            cr_assert_not_null(strstr(output, "Too many open files"), "limit %d: %s", limit,
                               output);
            failures++;
        }
    }
    cr_assert_eq(status, 124, "the broker starts and runs until timeout stops it (status %d)",
                 status);
    cr_assert_gt(failures, 2);
    broker_destroy(&broker);
}

/* issue 13, groups: the session timeout must lie within its bounds and the heartbeat
 * interval below it; the flags are checked together once all are read, and a broker started
 * with such settings directly (as sb-sim does) refuses to start. */
Test(config, group_timeouts_outside_their_bounds_are_refused)
{
    struct sb_broker_config config;
    sb_broker_config_defaults(&config);
    char error[256] = "";
    cr_assert_eq(sb_broker_config_check(&config, error, sizeof(error)), 0);
    cr_assert_eq(config.group_session_timeout_ms, 45000);
    cr_assert_eq(config.group_heartbeat_interval_ms, 5000);
    char *low[] = {"streambus", "--group-session-timeout-ms", "5999"};
    cr_assert_eq(sb_broker_config_parse_args(&config, 3, low, error, sizeof(error)), -EINVAL);
    cr_assert_neq(strstr(error, "group_session_timeout_ms = 5999"), NULL, "%s", error);
    sb_broker_config_defaults(&config);
    char *high[] = {"streambus", "--group-session-timeout-ms", "1800001"};
    cr_assert_eq(sb_broker_config_parse_args(&config, 3, high, error, sizeof(error)), -EINVAL);
    sb_broker_config_defaults(&config);
    char *lowered[] = {"streambus", "--group-session-timeout-ms", "1000",
                       "--group-min-session-timeout-ms", "500",
                       "--group-heartbeat-interval-ms", "200"};
    cr_assert_eq(sb_broker_config_parse_args(&config, 7, lowered, error, sizeof(error)), 0,
                 "%s", error);
    cr_assert_eq(config.group_session_timeout_ms, 1000);
    sb_broker_config_defaults(&config);
    char *interval[] = {"streambus", "--group-heartbeat-interval-ms", "45000"};
    cr_assert_eq(sb_broker_config_parse_args(&config, 3, interval, error, sizeof(error)),
                 -EINVAL);
    cr_assert_neq(strstr(error, "group_heartbeat_interval_ms = 45000"), NULL, "%s", error);
    sb_broker_config_defaults(&config);
    config.group_session_timeout_ms = 0;
    config.group_min_session_timeout_ms = 0;
    cr_assert_eq(sb_broker_config_check(&config, error, sizeof(error)), -EINVAL);
    config.group_session_timeout_ms = 1000;
    config.group_heartbeat_interval_ms = 0;
    cr_assert_eq(sb_broker_config_check(&config, error, sizeof(error)), -EINVAL);
    struct sb_broker *broker = NULL;
    cr_assert_eq(sb_broker_start(&config, NULL, &broker), SB_ECONFIG);
    cr_assert_null(broker);
}
