/*
 * test/client/fuzz_client.c - libFuzzer target for everything the client does
 * with bytes from a broker. Built with -fsanitize=fuzzer (-Dfuzzing=libfuzzer)
 * or linked with test/fuzz/replay_main.c, which replays corpus/ in every
 * `meson test` (suites `client` and `fuzz`).
 *
 * Input: byte 0 picks the answer's API (enum fuzz_target), byte 1 is the
 * frame-level error code, the rest is the response body. For the APIs a
 * client sends on a connection, the harness first makes a real offline client
 * send that request (ApiVersions handshake, Metadata refresh, Produce of three
 * records, InitProducerId, Fetch, ListOffsets), then wraps the body in a frame
 * with the right correlation id and a valid CRC (the fuzzer cannot forge
 * CRC32Cs) and feeds it to the connection's receive path. Fetch answers are
 * then polled record by record (batch CRCs, decompression, record headers).
 * Admin answers go to their parsers; FUZZ_DESCRIBE_GROUP's body is a uint16 (little
 * endian) length n, n bytes of DescribeGroup answer, then the ListTopics answer that names
 * its topic ids (none when n is past the end). Group answers (GroupHeartbeat of a member
 * subscribed to "t", OffsetCommit of an async commit, OffsetFetch) go to a consumer of group
 * "g", then to the next heartbeat or ListTopics and the commit callbacks. FUZZ_RAW starts a
 * handshake (ApiVersions,
 * correlation id 1) and feeds the rest as raw received bytes (framing).
 * Oracles: the sanitizers, and that nothing aborts.
 *
 * The client runs offline: no thread, no sockets (connections write into
 * /dev/null and are never polled).
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/client_private.h"
#include "proto/api_meta.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What byte 0 selects. */
enum fuzz_target {
    FUZZ_API_VERSIONS = 0,
    FUZZ_METADATA = 1,
    FUZZ_PRODUCE = 2,
    FUZZ_FETCH = 3,
    FUZZ_LIST_OFFSETS = 4,
    FUZZ_INIT_PRODUCER_ID = 5,
    FUZZ_CREATE_TOPICS = 6,
    FUZZ_DELETE_TOPICS = 7,
    FUZZ_LIST_TOPICS = 8,
    FUZZ_DESCRIBE_TOPIC = 9,
    FUZZ_ALTER_TOPIC_CONFIG = 10,
    FUZZ_HEALTH = 11,
    FUZZ_RAW = 12,
    FUZZ_LIST_GROUPS = 13,
    FUZZ_DESCRIBE_GROUP = 14,
    FUZZ_GROUP_HEARTBEAT = 15,
    FUZZ_OFFSET_COMMIT = 16,
    FUZZ_OFFSET_FETCH = 17,
    FUZZ_TARGET_COUNT = 18,
};

/* Records polled from one fetch answer at most (a bound, not an expectation). */
#define FUZZ_RECORDS_MAX 100000

static struct client_conn *
fuzz_conn(struct sb_client *client, uint32_t owner_id)
{
    struct client_conn *conn = conn_get(client, "127.0.0.1", 1, owner_id);
    if (conn != NULL && conn->fd < 0) {
        conn->bootstrap = owner_id == 0;
        conn->fd = open("/dev/null", O_RDWR | O_CLOEXEC);
        conn->state = CONN_READY;
    }
    return conn;
}

/* A Metadata answer: broker 0 at 127.0.0.1:1 with two shards, topic "t" with two
 * partitions. */
static void
fuzz_metadata(struct sb_client *client)
{
    struct sb_metadata_shard shards[2] = {{0, 2}, {1, 3}};
    struct sb_metadata_broker broker = {.node_id = 0,
                                        .host = sb_wire_string_from_cstr("127.0.0.1"),
                                        .port = 1, .shards = shards, .shard_count = 2};
    struct sb_metadata_partition partitions[2] = {{0, 0, 0, 0}, {1, 0, 1, 0}};
    struct sb_metadata_topic topic = {.name = sb_wire_string_from_cstr("t"), .topic_id = 1,
                                      .partitions = partitions, .partition_count = 2};
    struct sb_metadata_response response = {.brokers = &broker, .broker_count = 1,
                                            .topics = &topic, .topic_count = 1};
    uint8_t body[256];
    struct sb_wire_writer writer;
    sb_wire_writer_init(&writer, body, sizeof(body));
    if (metadata_topic(client, "t") != NULL &&
        sb_metadata_response_encode(&writer, &response) == 0) {
        metadata_apply(client, body, sb_wire_writer_length(&writer));
    }
}

static struct sb_client *
fuzz_client_open(void)
{
    struct sb_client_config config;
    client_config_defaults(&config);
    memcpy(config.bootstrap_servers, "127.0.0.1:1", sizeof("127.0.0.1:1"));
    memcpy(config.group_id, "g", sizeof("g"));
    config.shard_aware = false;
    config.linger_ms = 0;
    struct sb_client *client = NULL;
    if (client_open_offline(&config, &client) != 0) {
        return NULL;
    }
    fuzz_conn(client, 0);
    fuzz_metadata(client);
    return client;
}

/* Queues three records on partitions 0 and 1 and lets the producer send them. */
static struct sb_producer *
fuzz_produce(struct sb_client *client, bool with_id)
{
    struct sb_producer *producer = NULL;
    if (sb_producer_open(client, &producer) != 0) {
        return NULL;
    }
    struct sb_client_header header = {"h", 1, "v", 1};
    for (int32_t index = 0; index < 3; index++) {
        struct sb_producer_message message = {.topic = "t", .partition = index % 2,
                                              .key = "k", .key_length = 1, .value = "value",
                                              .value_length = 5, .headers = &header,
                                              .header_count = 1, .timestamp_ms = 1000};
        sb_producer_send(producer, &message, NULL, NULL);
    }
    if (with_id) {
        producer->producer_id = 7;
        producer->epoch = 0;
    }
    producer->flushing = 1;
    produce_run(client, producer, client_now_ns());
    return producer;
}

/* Assigns t/0 and t/1; with an offset they fetch from it, else they list offsets. */
static struct sb_consumer *
fuzz_consume(struct sb_client *client, bool fetch)
{
    struct sb_consumer *consumer = NULL;
    if (sb_consumer_open(client, &consumer) != 0) {
        return NULL;
    }
    for (int32_t partition = 0; partition < 2; partition++) {
        sb_consumer_assign(consumer, "t", partition);
        sb_consumer_seek(consumer, "t", partition, fetch ? 0 : SB_OFFSET_BEGINNING);
    }
    fuzz_conn(client, consumer->owner_id);
    fetch_run(client, consumer, client_now_ns());
    return consumer;
}

/* Wraps body in a response frame answering the connection's oldest request and feeds it. */
static void
fuzz_answer(struct sb_client *client, struct client_conn *conn, int16_t frame_error,
            const uint8_t *body, size_t body_bytes)
{
    if (conn == NULL || conn->inflight_head == NULL) {
        return;
    }
    size_t capacity = body_bytes + SB_FRAME_HEADER_BYTES;
    uint8_t *frame = malloc(capacity);
    if (frame == NULL) {
        return;
    }
    struct sb_wire_writer writer;
    sb_wire_writer_init(&writer, frame, capacity);
    struct sb_frame_header header = {
        .api_key = conn->inflight_head->api_key, .flags = SB_FRAME_FLAG_RESPONSE,
        .correlation_id = conn->inflight_head->correlation_id, .error_code = frame_error};
    if (sb_frame_begin(&writer, &header) == 0) {
        uint8_t *room = sb_wire_write_reserve(&writer, body_bytes);
        if (room != NULL && body_bytes > 0) {
            memcpy(room, body, body_bytes);
        }
        if (sb_frame_finish(&writer) == 0) {
            conn_receive_bytes(client, conn, frame, sb_wire_writer_length(&writer));
        }
    }
    free(frame);
}

static void
fuzz_poll_all(struct sb_consumer *consumer)
{
    const struct sb_consumer_record *record = NULL;
    for (uint32_t index = 0; index < FUZZ_RECORDS_MAX; index++) {
        if (sb_consumer_poll(consumer, 0, &record) == 0) {
            break;
        }
    }
}

static void
fuzz_admin(enum fuzz_target target, const uint8_t *body, size_t body_bytes)
{
    struct sb_admin_topic_list *list = NULL;
    struct sb_admin_topic_description *description = NULL;
    struct sb_admin_health *health = NULL;
    switch (target) {
    case FUZZ_CREATE_TOPICS:
        admin_parse_create(body, body_bytes);
        break;
    case FUZZ_DELETE_TOPICS:
        admin_parse_delete(body, body_bytes);
        break;
    case FUZZ_LIST_TOPICS:
        admin_parse_list(body, body_bytes, &list);
        break;
    case FUZZ_DESCRIBE_TOPIC:
        admin_parse_describe(body, body_bytes, &description);
        break;
    case FUZZ_ALTER_TOPIC_CONFIG:
        admin_parse_alter(body, body_bytes);
        break;
    default:
        admin_parse_health(body, body_bytes, &health);
        break;
    }
    sb_admin_topic_list_free(list);
    sb_admin_topic_description_free(description);
    sb_admin_health_free(health);
}

/* The group answers (FUZZ_LIST_GROUPS, FUZZ_DESCRIBE_GROUP) to their parsers. */
static void
fuzz_admin_group(enum fuzz_target target, const uint8_t *body, size_t body_bytes)
{
    struct sb_admin_group_list *list = NULL;
    struct sb_admin_group_description *description = NULL;
    if (target == FUZZ_LIST_GROUPS) {
        admin_parse_group_list(body, body_bytes, &list);
        sb_admin_group_list_free(list);
        return;
    }
    size_t split = body_bytes >= 2 ? (size_t)body[0] | (size_t)body[1] << 8 : 0;
    bool named = body_bytes >= 2 && split <= body_bytes - 2;
    size_t skip = body_bytes >= 2 ? 2 : body_bytes;
    if (admin_parse_group_describe(body + skip, named ? split : body_bytes - skip,
                                   named ? body + 2 + split : NULL,
                                   named ? body_bytes - 2 - split : 0, &description) == 0) {
        sb_admin_group_description_free(description);
    }
}

/* A consumer of group "g" with a request of target in flight on the bootstrap connection:
 * a heartbeat (subscribed to "t"), an async commit or an offset fetch of t/0. */
static struct sb_consumer *
fuzz_group(struct sb_client *client, enum fuzz_target target)
{
    struct sb_consumer *consumer = NULL;
    if (sb_consumer_open(client, &consumer) != 0) {
        return NULL;
    }
    const char *topics[] = {"t"};
    struct sb_consumer_partition offset = {.topic = "t", .partition = 0, .offset = 5};
    struct group_op *op = NULL;
    if (target == FUZZ_GROUP_HEARTBEAT) {
        sb_consumer_subscribe(consumer, topics, 1);
    } else if (target == FUZZ_OFFSET_COMMIT) {
        sb_consumer_commit_async(consumer, &offset, 1, NULL, NULL);
    } else if ((op = group_op_new(consumer, GROUP_OP_FETCH, 1)) != NULL) {
        op->offsets[0] = (struct sb_consumer_partition){.topic = "t", .partition = 0};
        group_op_queue(client, op);
    }
    group_run(client, consumer, client_now_ns());
    return consumer;
}

/* After a group answer: the I/O work it causes, the commit callbacks, then a close that
 * does not wait for a coordinator nobody runs. */
static void
fuzz_group_end(struct sb_client *client, struct sb_consumer *consumer)
{
    consumer->group.heartbeat_at_ns = 0;
    group_run(client, consumer, client_now_ns());
    pthread_mutex_lock(&client->mutex); /* group_callbacks releases it around each one. */
    group_callbacks(client);
    pthread_mutex_unlock(&client->mutex);
    client->config.request_timeout_ms = 0;
    sb_consumer_close(consumer);
}

/* Runs the client's side of target's request, then answers it with body. */
static void
fuzz_exchange(struct sb_client *client, enum fuzz_target target, int16_t frame_error,
              const uint8_t *body, size_t body_bytes)
{
    struct client_conn *conn = fuzz_conn(client, 0);
    struct sb_producer *producer = NULL;
    struct sb_consumer *consumer = NULL;
    struct sb_consumer *group_consumer = NULL;
    if (target == FUZZ_API_VERSIONS || target == FUZZ_RAW) {
        conn->state = CONN_HANDSHAKE;
        conn_handshake_start(client, conn);
    } else if (target == FUZZ_METADATA) {
        client->metadata_wanted = true;
        metadata_run(client, client_now_ns());
    } else if (target == FUZZ_PRODUCE || target == FUZZ_INIT_PRODUCER_ID) {
        producer = fuzz_produce(client, target == FUZZ_PRODUCE);
    } else if (target >= FUZZ_GROUP_HEARTBEAT) {
        group_consumer = fuzz_group(client, target);
    } else {
        consumer = fuzz_consume(client, target == FUZZ_FETCH);
        conn = target == FUZZ_FETCH && consumer != NULL
                   ? fuzz_conn(client, consumer->owner_id) : conn;
    }
    if (target == FUZZ_RAW) {
        conn_receive_bytes(client, conn, body, body_bytes);
    } else {
        fuzz_answer(client, conn, frame_error, body, body_bytes);
    }
    if (consumer != NULL) {
        fuzz_poll_all(consumer);
        sb_consumer_close(consumer);
    }
    if (group_consumer != NULL) {
        fuzz_group_end(client, group_consumer);
    }
    sb_producer_close(producer, 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) {
        return 0;
    }
    enum fuzz_target target = (enum fuzz_target)(data[0] % FUZZ_TARGET_COUNT);
    if (target >= FUZZ_CREATE_TOPICS && target <= FUZZ_HEALTH) {
        fuzz_admin(target, data + 2, size - 2);
        return 0;
    }
    if (target == FUZZ_LIST_GROUPS || target == FUZZ_DESCRIBE_GROUP) {
        fuzz_admin_group(target, data + 2, size - 2);
        return 0;
    }
    struct sb_client *client = fuzz_client_open();
    if (client == NULL) {
        return 0;
    }
    fuzz_exchange(client, target, (int16_t)(int8_t)data[1], data + 2, size - 2);
    sb_client_close(client);
    return 0;
}
