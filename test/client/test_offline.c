/*
 * test/client/test_offline.c - the parts of the client that need no broker:
 * configuration keys and values, error codes and texts, the record walker on
 * valid, compressed, control and corrupt batches, the receive path on
 * hostile bytes (oversized, corrupt and unexpected frames close the
 * connection and fail its requests, never crash), metadata routing with the
 * shard-port fallback, the lifecycle of a client nobody answers, a consumer group
 * member's retries against scripted coordinator answers, and a Fetch refused as a whole.
 */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/client_private.h"
#include "core/crc32c.h"
#include "proto/api_admin.h"
#include "proto/api_group.h"
#include "proto/api_meta.h"
#include "proto/compress.h"
#include "test/client/client_fixture.h"

Test(config, keys_parse_validate_and_read_back)
{
    struct sb_client_config *config = sb_client_config_new();
    char value[64];
    cr_assert_eq(sb_client_config_get(config, "acks", value, sizeof(value)), 3);
    cr_assert_str_eq(value, "all");
    cr_assert_eq(sb_client_config_set(config, "acks", "1"), 0);
    cr_assert_eq(sb_client_config_get(config, "acks", value, sizeof(value)), 1);
    cr_assert_eq(sb_client_config_set(config, "acks", "2"), SB_ERR_CONFIG);
    cr_assert_neq(strstr(sb_client_error_detail(), "acks"), NULL);
    cr_assert_eq(sb_client_config_set(config, "linger.ms", "-1"), SB_ERR_CONFIG);
    cr_assert_eq(sb_client_config_set(config, "linger.ms", "12x"), SB_ERR_CONFIG);
    cr_assert_eq(sb_client_config_set(config, "linger.ms", "12"), 0);
    cr_assert_eq(sb_client_config_get(config, "linger.ms", value, sizeof(value)), 2);
    cr_assert_str_eq(value, "12");
    cr_assert_eq(sb_client_config_set(config, "compression", "brotli"), SB_ERR_CONFIG);
    cr_assert_eq(sb_client_config_set(config, "compression", "zstd"), 0);
    cr_assert_eq(sb_client_config_set(config, "auto.offset.reset", "earliest"), 0);
    cr_assert_eq(sb_client_config_set(config, "shard.aware", "maybe"), SB_ERR_CONFIG);
    cr_assert_eq(sb_client_config_set(config, "no.such.key", "1"), SB_ERR_CONFIG);
    cr_assert_neq(strstr(sb_client_error_detail(), "no.such.key"), NULL);
    cr_assert_eq(sb_client_config_get(config, "no.such.key", value, sizeof(value)),
                 SB_ERR_CONFIG);
    cr_assert_eq(sb_client_config_get(config, "bootstrap.servers", value, 4), -ENOSPC);
    cr_assert_eq(sb_client_config_set(NULL, "acks", "1"), -EINVAL);
    sb_client_config_free(config);
    sb_client_config_free(NULL);
}

Test(config, open_refuses_inconsistent_settings)
{
    struct sb_client_config *config = sb_client_config_new();
    struct sb_client *client = NULL;
    cr_assert_eq(sb_client_config_set(config, "bootstrap.servers", "nohost"), 0);
    cr_assert_eq(sb_client_open(config, &client), SB_ERR_CONFIG, "no port");
    cr_assert_eq(sb_client_config_set(config, "bootstrap.servers", "h:99999"), 0);
    cr_assert_eq(sb_client_open(config, &client), SB_ERR_CONFIG, "port out of range");
    cr_assert_eq(sb_client_config_set(config, "bootstrap.servers", " , "), 0);
    cr_assert_eq(sb_client_open(config, &client), SB_ERR_CONFIG, "empty");
    cr_assert_eq(sb_client_config_set(config, "bootstrap.servers", "[::1]:9092,a:1"), 0);
    cr_assert_eq(sb_client_config_set(config, "acks", "0"), 0);
    cr_assert_eq(sb_client_config_set(config, "enable.idempotence", "true"), 0);
    cr_assert_eq(sb_client_open(config, &client), SB_ERR_CONFIG, "idempotence needs acks");
    cr_assert_eq(sb_client_config_set(config, "enable.idempotence", "false"), 0);
    cr_assert_eq(sb_client_config_set(config, "retry.backoff.ms", "5000"), 0);
    cr_assert_eq(sb_client_open(config, &client), SB_ERR_CONFIG, "backoff above its max");
    cr_assert_eq(sb_client_config_set(config, "retry.backoff.ms", "50"), 0);
    cr_assert_eq(sb_client_open(config, &client), 0);
    cr_assert_eq(client->bootstrap_count, 2);
    cr_assert_str_eq(client->bootstrap_hosts[0], "::1");
    cr_assert_eq(client->bootstrap_ports[1], 1);
    sb_client_close(client);
    sb_client_config_free(config);
    cr_assert_eq(sb_client_open(NULL, NULL), -EINVAL);
}

Test(errors, every_code_has_text_and_wire_codes_map_both_ways)
{
    cr_assert_str_eq(sb_client_strerror(0), "success");
    cr_assert_str_eq(sb_client_strerror(SB_ERR_UNKNOWN_TOPIC), "unknown topic or partition");
    cr_assert_str_eq(sb_client_strerror(-ECONNREFUSED), "Connection refused");
    cr_assert_neq(strlen(sb_client_strerror(SB_ERR_CORRUPT)), 0);
    cr_assert_neq(strlen(sb_client_strerror(SB_ERR_PROTOCOL)), 0);
    cr_assert_neq(strlen(sb_client_strerror(SB_ERR_WIRE(9999))), 0);
    cr_assert_neq(strlen(sb_client_strerror(-99999)), 0);
    for (int code = 1; code < SB_WIRE_ERROR_COUNT; code++) {
        int error = client_error_from_wire(code);
        cr_assert_eq(error, SB_ERR_WIRE(code));
        cr_assert_eq(client_error_wire_code(error), code);
        cr_assert_eq(sb_client_error_is_retriable(error), sb_wire_error_retriable(code));
    }
    cr_assert_eq(client_error_from_wire(0), 0);
    cr_assert_eq(client_error_from_wire(-3), SB_ERR_WIRE(SB_WIRE_ERROR_UNKNOWN_SERVER_ERROR));
    cr_assert_eq(client_error_wire_code(-ETIMEDOUT), -1);
    cr_assert(sb_client_error_is_retriable(-ECONNRESET));
    cr_assert(!sb_client_error_is_retriable(-EINVAL));
    cr_assert_str_eq(sb_client_version(), "0.1.0");
}

/* Builds a batch of count records "v<i>" at base_offset, compressed with codec. */
static uint32_t
build_batch(uint8_t *out, size_t capacity, int64_t base_offset, uint32_t count,
            enum sb_compression codec, bool control)
{
    static uint8_t buffer[1 << 16];
    static uint8_t scratch[1 << 17];
    struct sb_batch_builder builder;
    sb_batch_builder_init(&builder, buffer, sizeof(buffer), 1000);
    sb_batch_builder_set_control(&builder, control);
    for (uint32_t index = 0; index < count; index++) {
        char value[16];
        int length = snprintf(value, sizeof(value), "v%u", index);
        struct sb_record record = {.key_length = -1, .value = value, .value_length = length,
                                   .timestamp_ms = 1000 + index};
        cr_assert_eq(sb_batch_builder_add(&builder, &record), 0);
    }
    const uint8_t *batch;
    uint32_t bytes;
    cr_assert_eq(sb_batch_builder_finish(&builder, codec, scratch, sizeof(scratch), &batch,
                                         &bytes), 0);
    cr_assert_leq(bytes, capacity);
    memcpy(out, batch, bytes);
    sb_batch_assign_offset(out, base_offset);
    return bytes;
}

Test(records, walks_plain_compressed_and_control_batches)
{
    static uint8_t bytes[1 << 17];
    size_t length = build_batch(bytes, sizeof(bytes), 0, 3, SB_COMPRESSION_NONE, false);
    length += build_batch(bytes + length, sizeof(bytes) - length, 3, 1, SB_COMPRESSION_NONE,
                          true);
    length += build_batch(bytes + length, sizeof(bytes) - length, 4, 5, SB_COMPRESSION_ZSTD,
                          false);
    struct client_records records = {0};
    client_records_init(&records, bytes, length, 1 << 20);
    struct sb_record_view view;
    bool log_append_time = true;
    int64_t expected[] = {0, 1, 2, 4, 5, 6, 7, 8};
    for (uint32_t index = 0; index < 8; index++) {
        cr_assert_eq(client_records_next(&records, &view, &log_append_time), 1);
        cr_assert_eq(view.offset, expected[index], "control batch skipped");
        cr_assert(!log_append_time);
    }
    cr_assert_eq(client_records_next(&records, &view, &log_append_time), 0);
    client_records_init(&records, bytes, length, 8);
    for (uint32_t index = 0; index < 3; index++) {
        cr_assert_eq(client_records_next(&records, &view, &log_append_time), 1);
    }
    cr_assert_eq(client_records_next(&records, &view, &log_append_time), SB_ERR_CORRUPT,
                 "a batch that would decompress beyond the limit is refused");
    client_records_deinit(&records);
}

Test(records, corrupt_bytes_stop_the_walk_with_an_error)
{
    static uint8_t bytes[4096];
    size_t length = build_batch(bytes, sizeof(bytes), 10, 4, SB_COMPRESSION_NONE, false);
    struct client_records records = {0};
    struct sb_record_view view;
    bool log_append_time;
    for (size_t flip = 0; flip < length; flip += 7) {
        bytes[flip] ^= 0x5a;
        client_records_init(&records, bytes, length, 1 << 20);
        int result = 1;
        for (int round = 0; round < 10 && result == 1; round++) {
            result = client_records_next(&records, &view, &log_append_time);
        }
        cr_assert_eq(result, SB_ERR_CORRUPT, "flip at %zu", flip);
        cr_assert_eq(client_records_next(&records, &view, &log_append_time), SB_ERR_CORRUPT);
        bytes[flip] ^= 0x5a;
    }
    client_records_init(&records, bytes, length - 1, 1 << 20);
    cr_assert_eq(client_records_next(&records, &view, &log_append_time), SB_ERR_CORRUPT,
                 "a truncated batch");
    client_records_deinit(&records);
}

/* A client with no thread and one READY connection on a harmless descriptor. */
/* A client without a thread whose bootstrap connection is READY (writes go to /dev/null);
 * with group, its group.id (and a short request.timeout.ms). */
static struct sb_client *
offline_client(struct client_conn **conn_out, const char *group)
{
    struct sb_client_config *config = sb_client_config_new();
    cr_assert_eq(sb_client_config_set(config, "bootstrap.servers", "127.0.0.1:1"), 0);
    if (group != NULL) {
        cr_assert_eq(sb_client_config_set(config, "group.id", group), 0);
        cr_assert_eq(sb_client_config_set(config, "request.timeout.ms", "200"), 0);
    }
    struct sb_client *client = NULL;
    cr_assert_eq(client_open_offline(config, &client), 0);
    sb_client_config_free(config);
    struct client_conn *conn = conn_get(client, "127.0.0.1", 1, 0);
    conn->bootstrap = true;
    conn->fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    conn->state = CONN_READY;
    *conn_out = conn;
    return client;
}

static int offline_done_error;
static int offline_done_calls;

static void
offline_done(struct sb_client *client, struct client_request *request, int error,
             const uint8_t *body, size_t body_bytes)
{
    (void)client;
    (void)request;
    (void)body;
    (void)body_bytes;
    offline_done_error = error;
    offline_done_calls++;
}

static int
encode_health(struct sb_wire_writer *writer, const void *body)
{
    (void)body;
    return sb_health_request_encode(writer);
}

/* Queues a Health request on conn, so a response has something to match. */
static void
offline_request(struct sb_client *client, struct client_conn *conn,
                struct client_request *request)
{
    *request = (struct client_request){.done = offline_done};
    cr_assert_eq(conn_send(client, conn, SB_API_HEALTH, 0, encode_health, NULL, request, 1000),
                 0);
}

/* Encodes a response frame for key and correlation with body bytes. */
static size_t
offline_frame(uint8_t *out, size_t capacity, uint16_t api_key, uint32_t correlation,
              int16_t error, const uint8_t *body, size_t body_bytes)
{
    struct sb_wire_writer writer;
    sb_wire_writer_init(&writer, out, capacity);
    struct sb_frame_header header = {.api_key = api_key, .correlation_id = correlation,
                                     .flags = SB_FRAME_FLAG_RESPONSE, .error_code = error};
    cr_assert_eq(sb_frame_begin(&writer, &header), 0);
    uint8_t *room = sb_wire_write_reserve(&writer, body_bytes);
    if (body_bytes > 0) {
        memcpy(room, body, body_bytes);
    }
    cr_assert_eq(sb_frame_finish(&writer), 0);
    return sb_wire_writer_length(&writer);
}

Test(receive, hostile_frames_close_the_connection_and_fail_requests)
{
    struct client_conn *conn = NULL;
    struct sb_client *client = offline_client(&conn, NULL);
    struct client_request request;
    uint8_t frame[256];
    uint8_t body[16] = {0};
    /* 1: a good frame in two pieces is answered once. */
    offline_request(client, conn, &request);
    size_t length = offline_frame(frame, sizeof(frame), SB_API_HEALTH, request.correlation_id,
                                  0, body, 0);
    cr_assert_eq(conn_receive_bytes(client, conn, frame, 10), 0);
    cr_assert_eq(offline_done_calls, 0);
    cr_assert_eq(conn_receive_bytes(client, conn, frame + 10, length - 10), 0);
    cr_assert_eq(offline_done_calls, 1);
    cr_assert_eq(offline_done_error, 0);
    /* 2: a frame-level error reaches the request as SB_ERR_WIRE. */
    offline_request(client, conn, &request);
    length = offline_frame(frame, sizeof(frame), SB_API_HEALTH, request.correlation_id,
                           SB_WIRE_ERROR_INVALID_REQUEST, body, 0);
    cr_assert_eq(conn_receive_bytes(client, conn, frame, length), 0);
    cr_assert_eq(offline_done_error, SB_ERR_WIRE(SB_WIRE_ERROR_INVALID_REQUEST));
    /* 3: a wrong correlation id closes the connection and fails the request. */
    offline_request(client, conn, &request);
    length = offline_frame(frame, sizeof(frame), SB_API_HEALTH, request.correlation_id + 5, 0,
                           body, 0);
    cr_assert_eq(conn_receive_bytes(client, conn, frame, length), SB_ERR_PROTOCOL);
    cr_assert_eq(offline_done_error, SB_ERR_PROTOCOL);
    cr_assert_eq(conn->state, CONN_BACKOFF);
    cr_assert_eq(offline_done_calls, 3);
    sb_client_close(client);
}

static void
reopen(struct client_conn *conn)
{
    conn->fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    conn->state = CONN_READY;
}

Test(receive, oversized_corrupt_and_unrequested_frames_never_crash)
{
    struct client_conn *conn = NULL;
    struct sb_client *client = offline_client(&conn, NULL);
    struct client_request request;
    uint8_t frame[256];
    uint8_t body[4] = {1, 2, 3, 4};
    offline_request(client, conn, &request);
    uint8_t huge[4] = {0xff, 0xff, 0xff, 0x7f};
    cr_assert_eq(conn_receive_bytes(client, conn, huge, 4), -EMSGSIZE, "refused at 4 bytes");
    cr_assert_eq(offline_done_error, -EMSGSIZE);
    reopen(conn);
    offline_request(client, conn, &request);
    size_t length = offline_frame(frame, sizeof(frame), SB_API_HEALTH, request.correlation_id,
                                  0, body, 4);
    frame[length - 1] ^= 1;
    cr_assert_eq(conn_receive_bytes(client, conn, frame, length), SB_ERR_CORRUPT, "bad CRC");
    reopen(conn);
    length = offline_frame(frame, sizeof(frame), SB_API_HEALTH, 1, 0, body, 4);
    cr_assert_eq(conn_receive_bytes(client, conn, frame, length), SB_ERR_PROTOCOL,
                 "nothing was asked");
    reopen(conn);
    offline_request(client, conn, &request);
    length = offline_frame(frame, sizeof(frame), SB_API_HEALTH, request.correlation_id, 0,
                           body, 0);
    frame[16] = 0; /* The response flag is gone: a request, not an answer. */
    struct sb_frame_header header;
    sb_frame_header_decode(frame, length, UINT32_MAX, &header);
    uint32_t crc = sb_crc32c(0, frame + 8, length - 8);
    memcpy(frame + 4, &crc, 4);
    cr_assert_eq(conn_receive_bytes(client, conn, frame, length), SB_ERR_PROTOCOL);
    sb_client_close(client);
}

/* Applies a Metadata answer naming one broker (ports base, shards base + 1 ..) and topic
 * "t" with two partitions on shards 0 and 1. */
static void
offline_metadata(struct sb_client *client, uint16_t base)
{
    struct sb_metadata_shard shards[2] = {{0, base + 1}, {1, base + 2}};
    struct sb_metadata_broker broker = {.node_id = 0,
                                        .host = sb_wire_string_from_cstr("127.0.0.1"),
                                        .port = base, .shards = shards, .shard_count = 2};
    struct sb_metadata_partition partitions[2] = {{0, 0, 0, 0}, {1, 0, 1, 0}};
    struct sb_metadata_topic topic = {.name = sb_wire_string_from_cstr("t"), .topic_id = 1,
                                      .partitions = partitions, .partition_count = 2};
    struct sb_metadata_response response = {.brokers = &broker, .broker_count = 1,
                                            .topics = &topic, .topic_count = 1};
    uint8_t body[512];
    struct sb_wire_writer writer;
    sb_wire_writer_init(&writer, body, sizeof(body));
    cr_assert_eq(sb_metadata_response_encode(&writer, &response), 0);
    cr_assert_eq(metadata_apply(client, body, sb_wire_writer_length(&writer)), 0);
    cr_assert_eq(metadata_apply(client, body, sb_wire_writer_length(&writer) - 1),
                 SB_ERR_CORRUPT);
}

Test(metadata, routes_to_owning_shards_and_falls_back_to_the_plain_port)
{
    struct client_conn *conn = NULL;
    struct sb_client *client = offline_client(&conn, NULL);
    struct client_topic *topic = metadata_topic(client, "t");
    offline_metadata(client, 1);
    cr_assert_eq(topic->partition_count, 2);
    cr_assert_eq(topic->error, 0);
    struct client_conn *route = metadata_route(client, topic, 1, 0);
    cr_assert_eq(route->port, 3, "partition 1 lives on shard 1: port base + 2");
    route->failures = 2;
    cr_assert_eq(metadata_route(client, topic, 1, 0), conn, "a failing shard port: plain");
    cr_assert_null(metadata_route(client, topic, 2, 0));
    client->config.shard_aware = false;
    cr_assert_eq(metadata_route(client, topic, 0, 0), conn);
    cr_assert_eq(metadata_route(client, topic, 0, 9)->owner_id, 9, "consumers have their own");
    sb_client_close(client);
}

Test(lifecycle, a_client_nobody_answers_closes_cleanly_and_times_out)
{
    struct sb_client_config *config = sb_client_config_new();
    cr_assert_eq(sb_client_config_set(config, "bootstrap.servers", "127.0.0.1:1"), 0);
    cr_assert_eq(sb_client_config_set(config, "max.block.ms", "200"), 0);
    struct sb_client *client = NULL;
    cr_assert_eq(sb_client_open(config, &client), 0);
    sb_client_config_free(config);
    struct sb_producer *producer = NULL;
    struct sb_consumer *consumer = NULL;
    cr_assert_eq(sb_producer_open(client, &producer), 0);
    cr_assert_eq(sb_consumer_open(client, &consumer), 0);
    struct sb_producer_message message = {.topic = "t", .partition = 0, .value = "v",
                                          .value_length = 1};
    int result = sb_producer_send(producer, &message, NULL, NULL);
    cr_assert(result == -ECONNREFUSED || result == -ETIMEDOUT, "%d", result);
    cr_assert_eq(sb_consumer_assign(consumer, "t", 0), 0);
    const struct sb_consumer_record *record = NULL;
    cr_assert_eq(sb_consumer_poll(consumer, 100, &record), 0);
    int64_t position = 0;
    cr_assert_eq(sb_consumer_position(consumer, "t", 0, 100, &position), -ETIMEDOUT);
    sb_client_close(client); /* Closes the producer and consumer too. */
}

/* Lines the log callback received, and their lowest level. */
static int log_lines;
static int log_level_min = 99;

static void
count_log(void *opaque, int level, const char *line)
{
    (void)opaque;
    cr_assert_neq(strstr(line, "streambus client"), NULL);
    __atomic_fetch_add(&log_lines, 1, __ATOMIC_SEQ_CST);
    if (level < log_level_min) {
        log_level_min = level;
    }
}

/* Opens a client on a closed port, lets it fail to connect a few times, closes it. */
static void
fail_to_connect(void (*log)(void *opaque, int level, const char *line))
{
    struct sb_client_config *config = sb_client_config_new();
    cr_assert_eq(sb_client_config_set(config, "bootstrap.servers", "127.0.0.1:1"), 0);
    cr_assert_eq(sb_client_config_set(config, "reconnect.backoff.ms", "10"), 0);
    cr_assert_eq(sb_client_config_set(config, "reconnect.backoff.max.ms", "20"), 0);
    if (log != NULL) {
        sb_client_config_set_log(config, SB_CLIENT_LOG_DEBUG, log, NULL);
    }
    struct sb_client *client = NULL;
    cr_assert_eq(sb_client_open(config, &client), 0);
    sb_client_config_free(config);
    cr_assert_eq(sb_client_partition_count(client, "t", 1000), -ECONNREFUSED);
    struct sb_admin_health *health = NULL;
    cr_assert_eq(sb_admin_health(client, 1000, &health), -ECONNREFUSED);
    sb_client_close(client);
}

Test(lifecycle, log_lines_go_only_to_the_log_callback)
{
    fail_to_connect(count_log);
    cr_assert_gt(log_lines, 0);
    cr_assert_eq(log_level_min, SB_CLIENT_LOG_DEBUG);
}

Test(lifecycle, without_a_log_callback_nothing_is_printed, .init = cr_redirect_stderr)
{
    fail_to_connect(NULL);
    fflush(stderr);
    cr_assert_stderr_eq_str("");
}

/* Answers the newest request on conn (api_key) with the body encode writes from response. */
static int
offline_answer(struct sb_client *client, struct client_conn *conn, uint16_t api_key,
               int (*encode)(struct sb_wire_writer *writer, const void *response),
               const void *response)
{
    cr_assert_not_null(conn->inflight_tail);
    cr_assert_eq(conn->inflight_tail->api_key, api_key);
    uint8_t body[1024];
    size_t body_bytes = 1; /* NULL encode: one byte no answer decodes. */
    body[0] = 0xff;
    if (encode != NULL) {
        struct sb_wire_writer writer;
        sb_wire_writer_init(&writer, body, sizeof(body));
        cr_assert_eq(encode(&writer, response), 0);
        body_bytes = sb_wire_writer_length(&writer);
    }
    uint8_t frame[1200];
    size_t length = offline_frame(frame, sizeof(frame), api_key,
                                  conn->inflight_tail->correlation_id, 0, body, body_bytes);
    return conn_receive_bytes(client, conn, frame, length);
}

static int
encode_beat(struct sb_wire_writer *writer, const void *response)
{
    return sb_group_heartbeat_response_encode(writer, response);
}

static int
encode_commit(struct sb_wire_writer *writer, const void *response)
{
    return sb_offset_commit_response_encode(writer, response);
}

static int
encode_topics(struct sb_wire_writer *writer, const void *response)
{
    return sb_list_topics_response_encode(writer, response);
}

/* Mutex held: runs the member's I/O work, then answers its heartbeat with error (and, for
 * NONE, epoch 3 and assignment when not NULL). */
static void
offline_beat(struct sb_client *client, struct client_conn *conn, struct sb_consumer *consumer,
             int16_t error, const struct sb_group_tpset *assignment)
{
    consumer->group.heartbeat_at_ns = 0;
    group_run(client, consumer, client_now_ns());
    cr_assert(consumer->group.heartbeat_inflight);
    struct sb_group_heartbeat_response response = {
        .error_code = error, .member_id = sb_wire_string_from_cstr(consumer->group.member_id),
        .member_epoch = 3, .heartbeat_interval_ms = 60000,
        .assignment_unchanged = assignment == NULL, .assignment = assignment,
        .assignment_count = assignment != NULL ? 1 : 0};
    cr_assert_eq(offline_answer(client, conn, SB_API_GROUP_HEARTBEAT,
                                error == SB_WIRE_ERROR_CORRUPT_MESSAGE ? NULL : encode_beat,
                                &response), 0);
    cr_assert(!consumer->group.heartbeat_inflight);
}

/* What the scripted async commits reported. */
static int offline_commit_error;
static int offline_commit_calls;

static void
offline_on_commit(struct sb_consumer *consumer, int error,
                  const struct sb_consumer_partition *offsets, size_t count, void *opaque)
{
    (void)consumer;
    (void)offsets;
    (void)count;
    (void)opaque;
    offline_commit_error = error;
    offline_commit_calls++;
}

/* Mutex held: an async commit of t7-0 at 5, sent, then answered with group_error or with
 * partition (which should be 0). */
static void
offline_commit(struct sb_client *client, struct client_conn *conn, struct sb_consumer *consumer,
               int16_t group_error, int32_t partition)
{
    struct sb_consumer_partition offset = {.topic = "t7", .partition = 0, .offset = 5};
    pthread_mutex_unlock(&client->mutex);
    cr_assert_eq(sb_consumer_commit_async(consumer, &offset, 1, offline_on_commit, NULL), 0);
    pthread_mutex_lock(&client->mutex);
    group_run(client, consumer, client_now_ns());
    struct sb_offset_commit_partition_result result = {.partition = partition};
    struct sb_offset_commit_topic_result topic = {
        .name = sb_wire_string_from_cstr("t7"), .partitions = &result, .partition_count = 1};
    struct sb_offset_commit_response response = {
        .error_code = group_error, .topics = &topic, .topic_count = group_error == 0 ? 1 : 0};
    cr_assert_eq(offline_answer(client, conn, SB_API_OFFSET_COMMIT, encode_commit, &response),
                 0);
}

/* An offline client in group "g" whose consumer subscribed to t7; returns it with its
 * mutex held. */
static struct sb_client *
offline_member(struct client_conn **conn_out, struct sb_consumer **consumer_out)
{
    struct sb_client *client = offline_client(conn_out, "g");
    cr_assert_eq(sb_consumer_open(client, consumer_out), 0);
    const char *topics[] = {"t7"};
    cr_assert_eq(sb_consumer_subscribe(*consumer_out, topics, 1), 0);
    pthread_mutex_lock(&client->mutex);
    return client;
}

Test(groups_offline, retriable_coordinator_answers_are_retried_and_others_are_not)
{
    struct client_conn *conn = NULL;
    struct sb_consumer *consumer = NULL;
    struct sb_client *client = offline_member(&conn, &consumer);
    struct consumer_group *group = &consumer->group;
    offline_beat(client, conn, consumer, SB_WIRE_ERROR_COORDINATOR_LOAD_IN_PROGRESS, NULL);
    cr_assert_eq(group->heartbeat_failures, 1u);
    cr_assert_eq(group->epoch, 0, "still joining");
    client->metadata_wanted = false;
    offline_beat(client, conn, consumer, SB_WIRE_ERROR_NOT_COORDINATOR, NULL);
    cr_assert(client->metadata_wanted, "the coordinator may have moved");
    offline_beat(client, conn, consumer, SB_WIRE_ERROR_CORRUPT_MESSAGE, NULL);
    cr_assert_eq(group->heartbeat_failures, 3u, "an answer that does not decode");
    int32_t partitions[] = {0, 1};
    struct sb_group_tpset set = {.topic_id = 7, .partitions = partitions, .partition_count = 2};
    offline_beat(client, conn, consumer, SB_WIRE_ERROR_NONE, &set);
    cr_assert_eq(group->epoch, 3);
    cr_assert_eq(group->target_count, 2u);
    cr_assert_null(group->target[0].topic, "topic id 7 is not in the cache");
    group_run(client, consumer, client_now_ns());
    cr_assert(group->list_inflight, "ListTopics finds its name");
    cr_assert_eq(offline_answer(client, conn, SB_API_LIST_TOPICS, NULL, NULL), 0);
    cr_assert(!group->list_inflight);
    cr_assert_gt(group->list_at_ns, client_now_ns(), "a bad answer: asked again later");
    group->list_at_ns = 0;
    group_run(client, consumer, client_now_ns());
    cr_assert(group->list_inflight);
    struct sb_list_topics_entry entry = {.name = sb_wire_string_from_cstr("t7"), .topic_id = 7,
                                         .partition_count = 2};
    struct sb_list_topics_response listed = {.topics = &entry, .topic_count = 1};
    cr_assert_eq(offline_answer(client, conn, SB_API_LIST_TOPICS, encode_topics, &listed), 0);
    cr_assert_str_eq(group->target[1].topic->name, "t7");
    cr_assert(group->reconcile_wanted);

    offline_commit(client, conn, consumer, SB_WIRE_ERROR_COORDINATOR_LOAD_IN_PROGRESS, 0);
    cr_assert_null(client->group_done_head, "retried, not finished");
    group->ops_head->retry_at_ns = 0;
    group_run(client, consumer, client_now_ns());
    struct sb_offset_commit_response stored = {0};
    struct sb_offset_commit_partition_result ok = {.partition = 0};
    struct sb_offset_commit_topic_result topic = {.name = sb_wire_string_from_cstr("t7"),
                                                  .partitions = &ok, .partition_count = 1};
    stored.topics = &topic;
    stored.topic_count = 1;
    cr_assert_eq(offline_answer(client, conn, SB_API_OFFSET_COMMIT, encode_commit, &stored), 0);
    cr_assert_eq(group_callbacks(client), 1u);
    cr_assert_eq(offline_commit_error, 0);
    offline_commit(client, conn, consumer, SB_WIRE_ERROR_NONE, 1);
    cr_assert_eq(group_callbacks(client), 1u);
    cr_assert_eq(offline_commit_error, SB_ERR_PROTOCOL, "an answer about another partition");
    offline_commit(client, conn, consumer, SB_WIRE_ERROR_INVALID_GROUP_ID, 0);
    cr_assert_eq(group_callbacks(client), 1u);
    cr_assert_eq(offline_commit_error, SB_ERR_INVALID_GROUP_ID, "final at once");
    cr_assert_eq(offline_commit_calls, 3);

    offline_beat(client, conn, consumer, SB_WIRE_ERROR_FENCED_MEMBER_EPOCH, NULL);
    cr_assert_eq(group->epoch, 0, "rejoins");
    cr_assert(!group->lost, "nothing was held: no LOST work for poll");
    cr_assert(group->heartbeat_now);
    pthread_mutex_unlock(&client->mutex);
    sb_consumer_close(consumer);
    sb_client_close(client);
}

/* Mutex held: partition p of t7 (topic id 7) as poll adds an assigned one, at offset 0. */
static struct consumer_partition *
offline_hold(struct sb_client *client, struct sb_consumer *consumer, int32_t p)
{
    struct client_topic *topic = metadata_topic(client, "t7");
    cr_assert_not_null(topic);
    topic->topic_id = 7;
    struct consumer_partition *held = consumer_partition_add(consumer, topic, p, 0, -1);
    cr_assert_not_null(held);
    held->group_topic_id = 7;
    return held;
}

Test(groups_offline, a_partition_the_target_gives_back_before_poll_revoked_it_is_fetched_again)
{
    struct client_conn *conn = NULL;
    struct sb_consumer *consumer = NULL;
    struct sb_client *client = offline_member(&conn, &consumer);
    int32_t both[] = {0, 1};
    struct sb_group_tpset set = {.topic_id = 7, .partitions = both, .partition_count = 2};
    offline_beat(client, conn, consumer, SB_WIRE_ERROR_NONE, &set);
    struct consumer_partition *first = offline_hold(client, consumer, 0);
    struct consumer_partition *second = offline_hold(client, consumer, 1);
    set.partition_count = 1;
    offline_beat(client, conn, consumer, SB_WIRE_ERROR_NONE, &set);
    cr_assert(!first->paused);
    cr_assert(second->paused, "to be revoked: not fetched any more");
    set.partition_count = 2;
    offline_beat(client, conn, consumer, SB_WIRE_ERROR_NONE, &set);
    cr_assert(!second->paused, "targeted again before poll revoked it: fetched again");
    offline_beat(client, conn, consumer, SB_WIRE_ERROR_FENCED_MEMBER_EPOCH, NULL);
    cr_assert(first->paused && second->paused, "lost: nothing is fetched");
    cr_assert(consumer->group.lost);
    pthread_mutex_unlock(&client->mutex);
    sb_consumer_close(consumer);
    sb_client_close(client);
}

/* The log lines a scripted consumer's client wrote that say a whole request was refused. */
static int offline_refused_lines;

static void
offline_count_refused(void *opaque, int level, const char *line)
{
    (void)opaque;
    (void)level;
    offline_refused_lines += strstr(line, "Fetch of 1 partitions refused") != NULL;
}

/* A Fetch the broker refuses as a whole with an error no retry mends (INVALID_REQUEST: a
 * client defect, such as the 4,096-topic-element limit once was) is logged, and its
 * partition backs off and is asked again; BROKER_BUSY (the request shrinks) is not logged. */
Test(fetch_offline, a_fetch_refused_as_invalid_is_logged_and_asked_again)
{
    struct client_conn *conn = NULL;
    struct sb_client *client = offline_client(&conn, NULL);
    client->config.log = offline_count_refused;
    client->config.log_level = SB_CLIENT_LOG_WARN;
    struct client_topic *topic = metadata_topic(client, "t");
    offline_metadata(client, 1);
    struct sb_consumer *consumer = NULL;
    cr_assert_eq(sb_consumer_open(client, &consumer), 0);
    cr_assert_eq(sb_consumer_assign(consumer, "t", 0), 0);
    cr_assert_eq(sb_consumer_seek(consumer, "t", 0, 0), 0);
    pthread_mutex_lock(&client->mutex);
    struct client_conn *route = metadata_route(client, topic, 0, consumer->owner_id);
    cr_assert_not_null(route);
    route->fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    route->state = CONN_READY;
    const int16_t refusals[] = {SB_WIRE_ERROR_BROKER_BUSY, SB_WIRE_ERROR_INVALID_REQUEST};
    for (uint32_t round = 0; round < 2; round++) {
        consumer->partitions->retry_at_ns = 0;
        fetch_run(client, consumer, client_now_ns());
        cr_assert(consumer->partitions->fetch_inflight, "round %u: no Fetch sent", round);
        uint8_t frame[64];
        size_t length = offline_frame(frame, sizeof(frame), SB_API_FETCH,
                                      route->inflight_tail->correlation_id, refusals[round],
                                      NULL, 0);
        cr_assert_eq(conn_receive_bytes(client, route, frame, length), 0);
        cr_assert_not(consumer->partitions->fetch_inflight);
        /* BROKER_BUSY shrinks the request and asks again at once; INVALID_REQUEST backs off. */
        cr_assert_eq(consumer->partitions->failures, round, "round %u", round);
        cr_assert_eq(offline_refused_lines, (int)round, "round %u", round);
    }
    pthread_mutex_unlock(&client->mutex);
    sb_consumer_close(consumer);
    sb_client_close(client);
}
