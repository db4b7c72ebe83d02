/*
 * test/broker/test_shapes.c - the shapes users have, through a real broker of 2 shards
 * (issue 11, item 4):
 *
 *  - a topic of 4,096 partitions (SB_TOPIC_PARTITIONS_MAX) next to a small one:
 *    Metadata, DescribeTopic and ListTopics describe every partition (index, leader,
 *    owning shard (topic_id + partition) % shards, offsets), one Produce and one Fetch
 *    reach every partition with its own records, and all of it holds again after a
 *    SIGTERM restart and after kill -9;
 *  - 1,000 connections, open together, each with one acks=all Produce in flight before
 *    any answer is read: every one is answered, both shards serve some of them, and every
 *    record is stored exactly once at a dense offset;
 *  - 20 idempotent producers interleaving on one partition: each one's retries are
 *    answered with the original offsets, also after kill -9; 32 producers fill the
 *    partition's table (SB_STORE_PRODUCERS_PER_PARTITION) and a 33rd gets BROKER_BUSY with
 *    nothing appended; once the others have been idle longer than producer_expiration_ms
 *    the 33rd is accepted and a forgotten producer's retry is refused, never stored twice
 *    (docs/storage.md, "Idempotent producers").
 *
 * Start reading at the Test() functions at the end of each section.
 */
#include <assert.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "broker/metadata.h"
#include "proto/api_admin.h"
#include "proto/api_fetch.h"
#include "proto/api_meta.h"
#include "proto/api_produce.h"
#include "proto/api_producer.h"
#include "proto/batch.h"
#include "proto/errors.h"
#include "storage/store.h"
#include "test/broker/broker_fixture.h"

/* The wide topic: the most partitions a topic may have. */
#define WIDE_PARTITIONS SB_TOPIC_PARTITIONS_MAX
/* Room for one partition's batch of at most 3 records. */
#define WIDE_BATCH_BYTES 256u
/* Shards of every broker here. */
#define SHAPES_SHARDS 2u
/* A restart of the wide topic's broker may take this many 50 ms waits (60 s). */
#define WIDE_START_ATTEMPTS 1200
/* Partitions of the small topic listed next to the wide one. */
#define NARROW_PARTITIONS 3

/* Encode adapters for client_send. */
static int
encode_describe_topic_request(struct sb_wire_writer *writer, const void *request)
{
    return sb_describe_topic_request_encode(writer, request);
}

static int
encode_list_topics_request(struct sb_wire_writer *writer, const void *request)
{
    return sb_list_topics_request_encode(writer, request);
}

/* Records partition p gets per round: 1 to 3, so neighbours' offsets differ. */
static uint32_t
wide_records(uint32_t partition)
{
    return 1 + partition % 3;
}

/* The value of record `index` of `partition` in `round`. */
static int
wide_value(char *value, size_t capacity, uint32_t partition, uint32_t round, uint32_t index)
{
    return snprintf(value, capacity, "w%u-r%u-%u", partition, round, index);
}

/* Builds partition p's batch of `round` (values wide_value) into `buffer`; returns bytes. */
static uint32_t
wide_batch(uint8_t *buffer, uint32_t partition, uint32_t round)
{
    struct sb_batch_builder builder;
    sb_batch_builder_init(&builder, buffer, WIDE_BATCH_BYTES, 1000);
    for (uint32_t index = 0; index < wide_records(partition); index++) {
        char value[32];
        int length = wide_value(value, sizeof(value), partition, round, index);
        struct sb_record record = {.value = value, .value_length = length,
                                   .key_length = -1, .timestamp_ms = 1000};
        cr_assert_eq(sb_batch_builder_add(&builder, &record), 0);
    }
    const uint8_t *batch;
    uint32_t bytes;
    cr_assert_eq(sb_batch_builder_finish(&builder, SB_COMPRESSION_NONE, NULL, 0, &batch,
                                         &bytes), 0);
    memmove(buffer, batch, bytes);
    return bytes;
}

/* One Produce of round `round` to every wide partition; each base offset must be
 * round * wide_records(p). */
static void
wide_produce(struct client *client, uint32_t round)
{
    static uint8_t batches[WIDE_PARTITIONS][WIDE_BATCH_BYTES];
    static struct sb_produce_partition parts[WIDE_PARTITIONS];
    for (uint32_t index = 0; index < WIDE_PARTITIONS; index++) {
        uint32_t bytes = wide_batch(batches[index], index, round);
        parts[index] = (struct sb_produce_partition){(int32_t)index, {batches[index], bytes}};
    }
    struct sb_produce_topic topic = {.name = sb_wire_string_from_cstr("wide"),
                                     .partitions = parts, .partition_count = WIDE_PARTITIONS};
    struct sb_produce_request request = {.acks = -1, .timeout_ms = 10000, .topics = &topic,
                                         .topic_count = 1};
    client_send(client, SB_API_PRODUCE, 0, encode_produce_request, &request);
    struct sb_frame frame;
    cr_assert_eq(client_receive(client, &frame, client->timeout_ms), 0, "produce answered");
    cr_assert_eq(frame.header.error_code, 0, "%s", sb_wire_error_name(frame.header.error_code));
    struct sb_produce_response response;
    struct sb_produce_topic_response topic_response;
    cr_assert_eq(sb_produce_response_decode(frame.body, frame.body_bytes, &response), 0);
    cr_assert_eq(sb_produce_response_next_topic(&response, &topic_response), 1);
    for (uint32_t index = 0; index < WIDE_PARTITIONS; index++) {
        struct sb_produce_partition_response result;
        cr_assert_eq(sb_produce_topic_response_next_partition(&topic_response, &result), 1,
                     "an answer for partition %u", index);
        cr_assert_eq(result.partition, (int32_t)index);
        cr_assert_eq(result.error_code, 0, "partition %u: %s", index,
                     sb_wire_error_name(result.error_code));
        cr_assert_eq(result.base_offset, (int64_t)(round * wide_records(index)),
                     "partition %u's own offsets", index);
    }
    struct sb_produce_partition_response extra;
    cr_assert_eq(sb_produce_topic_response_next_partition(&topic_response, &extra), 0);
}

/* Checks one fetched wide partition: rounds 0..rounds-1 of its records, in order. */
static void
wide_check_records(const struct sb_fetch_partition_response *partition, uint32_t index,
                   uint32_t rounds)
{
    uint32_t records = wide_records(index);
    uint32_t seen = 0;
    for (uint32_t at = 0; at < partition->records.length;) {
        struct sb_batch_header header;
        cr_assert_eq(sb_batch_verify(partition->records.data + at,
                                     partition->records.length - at, 1 << 24, &header), 0);
        struct sb_record_iter iterator;
        sb_record_iter_init(&iterator, &header, partition->records.data + at +
                            SB_BATCH_HEADER_BYTES, header.records_bytes);
        struct sb_record_view record;
        while (sb_record_iter_next(&iterator, &record) == 1) {
            char expected[32];
            int length = wide_value(expected, sizeof(expected), index, seen / records,
                                    seen % records);
            cr_assert_eq(record.offset, (int64_t)seen, "partition %u: dense offsets", index);
            cr_assert(record.value_length == length &&
                      memcmp(record.value, expected, (size_t)length) == 0,
                      "partition %u offset %u holds its own record %s", index, seen, expected);
            seen++;
        }
        at += header.batch_bytes;
    }
    cr_assert_eq(seen, rounds * records, "partition %u: every record", index);
}

/* One Fetch of every wide partition from offset 0: each has rounds × its records. */
static void
wide_fetch(struct client *client, uint32_t rounds)
{
    static struct sb_fetch_partition parts[WIDE_PARTITIONS];
    for (uint32_t index = 0; index < WIDE_PARTITIONS; index++) {
        parts[index] = (struct sb_fetch_partition){(int32_t)index, 0, 1 << 20};
    }
    struct sb_fetch_topic topic = {.name = sb_wire_string_from_cstr("wide"),
                                   .partitions = parts, .partition_count = WIDE_PARTITIONS};
    struct sb_fetch_request request = {.max_bytes = 16 << 20, .topics = &topic,
                                       .topic_count = 1};
    client_send(client, SB_API_FETCH, 0, encode_fetch_request, &request);
    struct sb_frame frame;
    cr_assert_eq(client_receive(client, &frame, client->timeout_ms), 0, "fetch answered");
    cr_assert_eq(frame.header.error_code, 0, "%s", sb_wire_error_name(frame.header.error_code));
    struct sb_fetch_response response;
    struct sb_fetch_topic_response topic_response;
    cr_assert_eq(sb_fetch_response_decode(frame.body, frame.body_bytes, &response), 0);
    cr_assert_eq(sb_fetch_response_next_topic(&response, &topic_response), 1);
    for (uint32_t index = 0; index < WIDE_PARTITIONS; index++) {
        struct sb_fetch_partition_response partition;
        cr_assert_eq(sb_fetch_topic_response_next_partition(&topic_response, &partition), 1,
                     "partition %u answered", index);
        cr_assert_eq(partition.partition, (int32_t)index);
        cr_assert_eq(partition.error_code, 0, "partition %u: %s", index,
                     sb_wire_error_name(partition.error_code));
        cr_assert_eq(partition.high_watermark, (int64_t)(rounds * wide_records(index)));
        wide_check_records(&partition, index, rounds);
    }
}

/* Metadata naming the wide topic: one broker of SHAPES_SHARDS shards, every partition in
 * order, led by node 0, owned by shard (topic_id + partition) % shards. Returns topic_id. */
static uint32_t
wide_metadata(struct client *client)
{
    struct sb_wire_string name = sb_wire_string_from_cstr("wide");
    struct sb_metadata_request request = {.topics = &name, .topic_count = 1};
    client_send(client, SB_API_METADATA, 0, encode_metadata_request, &request);
    struct sb_frame frame;
    cr_assert_eq(client_receive(client, &frame, client->timeout_ms), 0, "metadata answered");
    cr_assert_eq(frame.header.error_code, 0);
    struct sb_metadata_response response;
    cr_assert_eq(sb_metadata_response_decode(frame.body, frame.body_bytes, &response), 0);
    struct sb_metadata_broker broker;
    cr_assert_eq(sb_metadata_response_next_broker(&response, &broker), 1);
    cr_assert_eq(broker.shard_count, SHAPES_SHARDS);
    struct sb_metadata_topic topic;
    cr_assert_eq(sb_metadata_response_next_topic(&response, &topic), 1);
    cr_assert_eq(topic.error_code, 0);
    cr_assert_eq(topic.partition_count, WIDE_PARTITIONS, "every partition described");
    cr_assert_neq(topic.topic_id, 0);
    for (uint32_t index = 0; index < WIDE_PARTITIONS; index++) {
        struct sb_metadata_partition partition;
        cr_assert_eq(sb_metadata_topic_next_partition(&topic, &partition), 1);
        cr_assert_eq(partition.partition, (int32_t)index);
        cr_assert_eq(partition.error_code, 0);
        cr_assert_eq(partition.leader, 0);
        cr_assert_eq(partition.shard, (int32_t)((topic.topic_id + index) % SHAPES_SHARDS),
                     "partition %u's owner", index);
    }
    cr_assert_eq(sb_metadata_response_next_topic(&response, &topic), 0);
    return topic.topic_id;
}

/* DescribeTopic of the wide topic: every partition, its owner, and `rounds` rounds stored
 * (log start 0, high watermark = log end = rounds × its records). */
static void
wide_describe(struct client *client, uint32_t topic_id, uint32_t rounds)
{
    struct sb_describe_topic_request request = {.name = sb_wire_string_from_cstr("wide")};
    client_send(client, SB_API_DESCRIBE_TOPIC, 0, encode_describe_topic_request, &request);
    struct sb_frame frame;
    cr_assert_eq(client_receive(client, &frame, client->timeout_ms), 0, "describe answered");
    cr_assert_eq(frame.header.error_code, 0);
    struct sb_describe_topic_response response;
    cr_assert_eq(sb_describe_topic_response_decode(frame.body, frame.body_bytes, &response), 0);
    cr_assert_eq(response.error_code, 0);
    cr_assert_eq(response.topic_id, topic_id);
    cr_assert_eq(response.partition_count, WIDE_PARTITIONS, "every partition described");
    for (uint32_t index = 0; index < WIDE_PARTITIONS; index++) {
        struct sb_describe_topic_partition partition;
        cr_assert_eq(sb_describe_topic_response_next_partition(&response, &partition), 1);
        int64_t stored = (int64_t)(rounds * wide_records(index));
        cr_assert_eq(partition.partition, (int32_t)index);
        cr_assert_eq(partition.leader, 0);
        cr_assert_eq(partition.shard, (int32_t)((topic_id + index) % SHAPES_SHARDS));
        cr_assert_eq(partition.log_start_offset, 0);
        cr_assert_eq(partition.high_watermark, stored, "partition %u", index);
        cr_assert_eq(partition.log_end_offset, stored, "partition %u", index);
    }
}

/* ListTopics: names sorted; "narrow" and "wide" listed with their ids and counts. */
static void
wide_list(struct client *client, uint32_t topic_id)
{
    struct sb_list_topics_request request = {.prefix = sb_wire_string_from_cstr("")};
    client_send(client, SB_API_LIST_TOPICS, 0, encode_list_topics_request, &request);
    struct sb_frame frame;
    cr_assert_eq(client_receive(client, &frame, client->timeout_ms), 0, "list answered");
    cr_assert_eq(frame.header.error_code, 0);
    struct sb_list_topics_response response;
    cr_assert_eq(sb_list_topics_response_decode(frame.body, frame.body_bytes, &response), 0);
    char previous[256] = "";
    uint32_t found = 0;
    struct sb_list_topics_entry entry;
    while (sb_list_topics_response_next_topic(&response, &entry) == 1) {
        char name[256];
        snprintf(name, sizeof(name), "%.*s", (int)entry.name.length, entry.name.chars);
        cr_assert_gt(strcmp(name, previous), 0, "sorted by name: %s after %s", name, previous);
        memcpy(previous, name, sizeof(previous));
        if (strcmp(name, "wide") == 0) {
            cr_assert_eq(entry.topic_id, topic_id);
            cr_assert_eq(entry.partition_count, (int32_t)WIDE_PARTITIONS);
            found++;
        } else if (strcmp(name, "narrow") == 0) {
            cr_assert_eq(entry.partition_count, NARROW_PARTITIONS);
            found++;
        }
    }
    cr_assert_eq(found, 2, "both topics listed");
}

/* Restarts the broker and waits until it answers: opening 4,096 partitions can take
 * longer than broker_start waits on a loaded machine (several seconds were seen here). */
static void
wide_restart(struct broker_process *broker)
{
    broker_spawn(broker);
    for (int attempt = 0; attempt < WIDE_START_ATTEMPTS; attempt++) {
        struct client probe;
        if (client_try_connect(&probe, broker->port) == 0) {
            client_send(&probe, SB_API_HEALTH, 0, encode_empty_request, NULL);
            struct sb_frame frame;
            bool answered = client_receive(&probe, &frame, 1000) == 0;
            client_close(&probe);
            if (answered) {
                return;
            }
        }
        int status;
        cr_assert_eq(waitpid(broker->pid, &status, WNOHANG), 0, "broker exited at start");
        struct timespec delay = {0, 50 * 1000 * 1000};
        nanosleep(&delay, NULL);
    }
    cr_assert_fail("broker did not answer within %d attempts", WIDE_START_ATTEMPTS);
}

/* Everything a client can ask about the wide topic, with `rounds` rounds stored. */
static void
wide_check_all(const struct broker_process *broker, uint32_t topic_id, uint32_t rounds)
{
    struct client client;
    client_connect(&client, broker->port);
    cr_assert_eq(wide_metadata(&client), topic_id, "the topic keeps its id");
    wide_describe(&client, topic_id, rounds);
    wide_list(&client, topic_id);
    wide_fetch(&client, rounds);
    client_close(&client);
}

Test(shapes, topic_of_4096_partitions_is_served_whole_and_survives_restarts, .timeout = 120)
{
    struct broker_process broker;
    broker_start_new(&broker, SHAPES_SHARDS, NULL);
    struct client client;
    client_connect(&client, broker.port);
    cr_assert_eq(client_create_topic(&client, "wide", (int32_t)WIDE_PARTITIONS), 0);
    cr_assert_eq(client_create_topic(&client, "narrow", NARROW_PARTITIONS), 0);
    uint32_t topic_id = wide_metadata(&client);
    wide_describe(&client, topic_id, 0);
    wide_produce(&client, 0);
    client_close(&client);
    wide_check_all(&broker, topic_id, 1);
    cr_assert_eq(broker_stop(&broker), 0, "SIGTERM exits 0");
    wide_restart(&broker);
    wide_check_all(&broker, topic_id, 1);
    client_connect(&client, broker.port);
    wide_produce(&client, 1);
    client_close(&client);
    broker_kill(&broker);
    wide_restart(&broker);
    wide_check_all(&broker, topic_id, 2);
    broker_stop_and_destroy(&broker);
}

/* The crowd: connections open together, each with one Produce in flight. */
#define CROWD_CONNECTIONS 1000u
#define CROWD_PARTITIONS 8u
/* A crowd connection's receive buffer: its answers are small. */
#define CROWD_BUFFER_BYTES (64u << 10)

/* client_connect with a small receive buffer (a thousand of the fixture's 32 MiB ones would
 * be 32 GB of address space). */
static void
crowd_connect(struct client *client, uint16_t port)
{
    client_connect(client, port);
    free(client->buffer);
    client->capacity = CROWD_BUFFER_BYTES;
    client->buffer = malloc(client->capacity);
    cr_assert_not_null(client->buffer);
}

/* Sends connection `index`'s one-record batch "c<index>" to partition index % partitions. */
static void
crowd_send(struct client *client, uint32_t index)
{
    uint8_t batch[256];
    char value[16];
    struct sb_batch_builder builder;
    sb_batch_builder_init(&builder, batch, sizeof(batch), 1000);
    int length = snprintf(value, sizeof(value), "c%u", index);
    struct sb_record record = {.value = value, .value_length = length, .key_length = -1,
                               .timestamp_ms = 1000};
    cr_assert_eq(sb_batch_builder_add(&builder, &record), 0);
    const uint8_t *bytes;
    uint32_t size;
    cr_assert_eq(sb_batch_builder_finish(&builder, SB_COMPRESSION_NONE, NULL, 0, &bytes, &size),
                 0);
    struct produce_spec spec = {.topic = "crowd", .partition = (int32_t)(index % CROWD_PARTITIONS),
                                .batch = bytes, .bytes = size, .acks = -1, .timeout_ms = 10000};
    client_send(client, SB_API_PRODUCE, 0, encode_produce_spec, &spec);
}

/* Receives connection `index`'s Produce answer: no error, at an offset of its partition
 * no other connection got; records the connection there. */
static void
crowd_receive(struct client *client, uint32_t index,
              int32_t owners[CROWD_PARTITIONS][CROWD_CONNECTIONS])
{
    struct sb_frame frame;
    cr_assert_eq(client_receive(client, &frame, client->timeout_ms), 0,
                 "connection %u is answered", index);
    cr_assert_eq(frame.header.error_code, 0, "connection %u: %s", index,
                 sb_wire_error_name(frame.header.error_code));
    struct sb_produce_response response;
    struct sb_produce_topic_response topic;
    struct sb_produce_partition_response result;
    cr_assert_eq(sb_produce_response_decode(frame.body, frame.body_bytes, &response), 0);
    cr_assert_eq(sb_produce_response_next_topic(&response, &topic), 1);
    cr_assert_eq(sb_produce_topic_response_next_partition(&topic, &result), 1);
    cr_assert_eq(result.error_code, 0, "connection %u: %s", index,
                 sb_wire_error_name(result.error_code));
    uint32_t partition = index % CROWD_PARTITIONS;
    cr_assert(result.base_offset >= 0 &&
              result.base_offset < (int64_t)(CROWD_CONNECTIONS / CROWD_PARTITIONS),
              "connection %u: offset %lld within its partition's records", index,
              (long long)result.base_offset);
    cr_assert_eq(owners[partition][result.base_offset], -1,
                 "connection %u got offset %lld of partition %u, already given", index,
                 (long long)result.base_offset, partition);
    owners[partition][result.base_offset] = (int32_t)index;
}

/* Health on a new connection while the crowd is connected: both shards serve some of it,
 * and together at least all of it. */
static void
crowd_health(uint16_t port)
{
    struct client client;
    client_connect(&client, port);
    client_send(&client, SB_API_HEALTH, 0, encode_empty_request, NULL);
    struct sb_frame frame;
    cr_assert_eq(client_receive(&client, &frame, client.timeout_ms), 0);
    struct sb_health_response response;
    cr_assert_eq(sb_health_response_decode(frame.body, frame.body_bytes, &response), 0);
    cr_assert_eq(response.shard_count, SHAPES_SHARDS);
    int32_t total = 0;
    struct sb_health_shard shard;
    while (sb_health_response_next_shard(&response, &shard) == 1) {
        cr_assert_gt(shard.connections, 0, "shard %d serves part of the crowd", shard.shard_id);
        total += shard.connections;
    }
    cr_assert_geq(total, (int32_t)CROWD_CONNECTIONS);
    client_close(&client);
}

/* Every partition holds exactly the records of the connections that got its offsets. */
static void
crowd_fetch(uint16_t port, int32_t owners[CROWD_PARTITIONS][CROWD_CONNECTIONS])
{
    struct client client;
    client_connect(&client, port);
    for (uint32_t partition = 0; partition < CROWD_PARTITIONS; partition++) {
        struct fetch_spec spec = {.topic = "crowd", .partition = (int32_t)partition,
                                  .partition_max_bytes = 1 << 20, .max_bytes = 1 << 20};
        struct sb_fetch_partition_response result;
        client_fetch(&client, &spec, &result);
        cr_assert_eq(result.error_code, 0);
        uint32_t seen = 0;
        for (uint32_t at = 0; at < result.records.length;) {
            struct sb_batch_header header;
            cr_assert_eq(sb_batch_verify(result.records.data + at, result.records.length - at,
                                         1 << 24, &header), 0);
            struct sb_record_iter iterator;
            sb_record_iter_init(&iterator, &header,
                                result.records.data + at + SB_BATCH_HEADER_BYTES,
                                header.records_bytes);
            struct sb_record_view record;
            while (sb_record_iter_next(&iterator, &record) == 1) {
                char expected[16];
                int length = snprintf(expected, sizeof(expected), "c%d",
                                      owners[partition][seen]);
                cr_assert_eq(record.offset, (int64_t)seen);
                cr_assert(record.value_length == length &&
                          memcmp(record.value, expected, (size_t)length) == 0,
                          "partition %u offset %u holds %s", partition, seen, expected);
                seen++;
            }
            at += header.batch_bytes;
        }
        cr_assert_eq(seen, CROWD_CONNECTIONS / CROWD_PARTITIONS, "partition %u", partition);
    }
    client_close(&client);
}

Test(shapes, a_thousand_connections_producing_at_once_are_each_stored_once, .timeout = 120)
{
    static_assert(CROWD_CONNECTIONS % CROWD_PARTITIONS == 0, "equal shares");
    static struct client crowd[CROWD_CONNECTIONS];
    static int32_t owners[CROWD_PARTITIONS][CROWD_CONNECTIONS];
    memset(owners, 0xff, sizeof(owners));
    struct broker_process broker;
    broker_start_new(&broker, SHAPES_SHARDS, NULL);
    struct client admin;
    client_connect(&admin, broker.port);
    cr_assert_eq(client_create_topic(&admin, "crowd", (int32_t)CROWD_PARTITIONS), 0);
    client_close(&admin);
    for (uint32_t index = 0; index < CROWD_CONNECTIONS; index++) {
        crowd_connect(&crowd[index], broker.port);
    }
    for (uint32_t index = 0; index < CROWD_CONNECTIONS; index++) {
        crowd_send(&crowd[index], index);
    }
    for (uint32_t index = 0; index < CROWD_CONNECTIONS; index++) {
        crowd_receive(&crowd[index], index, owners);
    }
    crowd_health(broker.port);
    for (uint32_t index = 0; index < CROWD_CONNECTIONS; index++) {
        client_close(&crowd[index]);
    }
    crowd_fetch(broker.port, owners);
    broker_stop_and_destroy(&broker);
}

/* Idempotent producers sharing one partition. */
#define PRODUCERS 20u
/* Batches each of them appends, of PRODUCER_RECORDS records each. */
#define PRODUCER_BATCHES 3u
#define PRODUCER_RECORDS 2u
/* One more than a partition tracks. */
#define PRODUCERS_ALL (SB_STORE_PRODUCERS_PER_PARTITION + 1u)
/* The producer_expiration_ms of the last start, and how long the test waits past it. */
#define PRODUCER_EXPIRATION_MS 1000
#define PRODUCER_IDLE_MS 1500

/* A producer id and epoch from InitProducerId. */
struct producer {
    int64_t id;     /* Its producer id. */
    int16_t epoch;  /* Its epoch. */
};

static void
producer_init(struct client *client, struct producer *producer)
{
    struct sb_init_producer_id_request init = {.producer_id = -1, .producer_epoch = -1};
    client_send(client, SB_API_INIT_PRODUCER_ID, 0, encode_init_producer_id_request, &init);
    struct sb_frame frame;
    cr_assert_eq(client_receive(client, &frame, client->timeout_ms), 0);
    struct sb_init_producer_id_response id;
    cr_assert_eq(sb_init_producer_id_response_decode(frame.body, frame.body_bytes, &id), 0);
    cr_assert_eq(id.error_code, 0);
    *producer = (struct producer){id.producer_id, id.producer_epoch};
}

/* Appends (or retries) `producer`'s batch number `batch` (sequence batch × records) to
 * "idem" 0; returns the partition's error and the base offset in *offset. */
static int16_t
producer_send(struct client *client, const struct producer *producer, uint32_t batch,
              int64_t *offset)
{
    uint8_t buffer[256];
    struct sb_batch_builder builder;
    sb_batch_builder_init(&builder, buffer, sizeof(buffer), 1000);
    sb_batch_builder_set_producer(&builder, producer->id, producer->epoch,
                                  (int32_t)(batch * PRODUCER_RECORDS));
    for (uint32_t index = 0; index < PRODUCER_RECORDS; index++) {
        struct sb_record record = {.value = "v", .value_length = 1, .key_length = -1,
                                   .timestamp_ms = 1000};
        cr_assert_eq(sb_batch_builder_add(&builder, &record), 0);
    }
    const uint8_t *bytes;
    uint32_t size;
    cr_assert_eq(sb_batch_builder_finish(&builder, SB_COMPRESSION_NONE, NULL, 0, &bytes, &size),
                 0);
    return client_produce_acks_all(client, "idem", 0, bytes, size, offset);
}

/* Every one of the first PRODUCERS producers' batches, retried, gets its original offset
 * (the batches were appended round-robin: batch b of producer k at (b × PRODUCERS + k) ×
 * records), and nothing is appended. */
static void
producers_retry_all(struct client *client, const struct producer *producers)
{
    for (uint32_t batch = 0; batch < PRODUCER_BATCHES; batch++) {
        for (uint32_t index = 0; index < PRODUCERS; index++) {
            int64_t offset = -1;
            cr_assert_eq(producer_send(client, &producers[index], batch, &offset), 0,
                         "producer %u's retry of batch %u is accepted", index, batch);
            cr_assert_eq(offset, (int64_t)((batch * PRODUCERS + index) * PRODUCER_RECORDS),
                         "producer %u's retry of batch %u gets its original offset", index,
                         batch);
        }
    }
}

/* The partition's high watermark, from a Fetch at its log end. */
static int64_t
producers_log_end(struct client *client)
{
    struct fetch_spec spec = {.topic = "idem", .partition = 0, .partition_max_bytes = 1 << 20,
                              .max_bytes = 1 << 20};
    struct sb_fetch_partition_response result;
    client_fetch(client, &spec, &result);
    cr_assert_eq(result.error_code, 0);
    return result.high_watermark;
}

/* Waits until every producer has been idle longer than PRODUCER_EXPIRATION_MS (the broker
 * measures idleness on the wall clock), then restarts the broker with that expiration. */
static void
producers_expire(struct broker_process *broker)
{
    cr_assert_eq(broker_stop(broker), 0);
    struct timespec idle = {PRODUCER_IDLE_MS / 1000, PRODUCER_IDLE_MS % 1000 * 1000000L};
    nanosleep(&idle, NULL);
    snprintf(broker->extra, sizeof(broker->extra), "--producer-expiration-ms %d",
             PRODUCER_EXPIRATION_MS);
    broker_start(broker);
}

Test(shapes, twenty_producers_on_one_partition_keep_their_state_until_evicted, .timeout = 120)
{
    static_assert(PRODUCERS < SB_STORE_PRODUCERS_PER_PARTITION, "all 20 are tracked");
    struct producer producers[PRODUCERS_ALL];
    struct broker_process broker;
    broker_start_new(&broker, SHAPES_SHARDS, NULL);
    struct client client;
    client_connect(&client, broker.port);
    cr_assert_eq(client_create_topic(&client, "idem", 1), 0);
    for (uint32_t index = 0; index < PRODUCERS_ALL; index++) {
        producer_init(&client, &producers[index]);
    }
    for (uint32_t batch = 0; batch < PRODUCER_BATCHES; batch++) {
        for (uint32_t index = 0; index < PRODUCERS; index++) {
            int64_t offset = -1;
            cr_assert_eq(producer_send(&client, &producers[index], batch, &offset), 0);
            cr_assert_eq(offset, (int64_t)((batch * PRODUCERS + index) * PRODUCER_RECORDS));
        }
    }
    int64_t log_end = (int64_t)(PRODUCER_BATCHES * PRODUCERS * PRODUCER_RECORDS);
    producers_retry_all(&client, producers);
    cr_assert_eq(producers_log_end(&client), log_end, "no retry was stored");
    client_close(&client);
    broker_kill(&broker);
    broker_start(&broker);
    client_connect(&client, broker.port);
    producers_retry_all(&client, producers);
    /* Fill the table: producers 20..31 start, the 33rd finds no slot. */
    for (uint32_t index = PRODUCERS; index + 1 < PRODUCERS_ALL; index++) {
        cr_assert_eq(producer_send(&client, &producers[index], 0, NULL), 0);
        log_end += PRODUCER_RECORDS;
    }
    const struct producer *last = &producers[PRODUCERS_ALL - 1];
    cr_assert_eq(producer_send(&client, last, 0, NULL), SB_WIRE_ERROR_BROKER_BUSY,
                 "a 33rd producer, with every other one recently active, is refused");
    cr_assert_eq(producers_log_end(&client), log_end, "and nothing is appended");
    client_close(&client);
    producers_expire(&broker);
    client_connect(&client, broker.port);
    int64_t offset = -1;
    cr_assert_eq(producer_send(&client, last, 0, &offset), 0, "expired producers make room");
    cr_assert_eq(offset, log_end);
    log_end += PRODUCER_RECORDS;
    cr_assert_eq(producer_send(&client, &producers[0], PRODUCER_BATCHES - 1, &offset),
                 SB_WIRE_ERROR_UNKNOWN_PRODUCER_ID, "a forgotten producer's retry is refused");
    cr_assert_eq(producers_log_end(&client), log_end, "never stored twice");
    client_close(&client);
    broker_stop_and_destroy(&broker);
}
