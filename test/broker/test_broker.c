/*
 * test/broker/test_broker.c - a real `streambus` process, driven over sockets:
 * topics, produce and fetch across shards (1 and 2 cores), pipelining,
 * long-poll, acks=0, restarts (clean and kill -9), and hostile input that
 * must get an error or a closed connection while other clients carry on.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/base.h"
#include "core/crc32c.h"
#include "core/limits.h"
#include "core/endian.h"
#include "proto/api_admin.h"
#include "proto/api_fetch.h"
#include "proto/api_meta.h"
#include "proto/api_produce.h"
#include "proto/api_producer.h"
#include "proto/batch.h"
#include "proto/errors.h"
#include "test/broker/broker_fixture.h"

#define TIMEOUT_MS 10000

/* Produces `records` records "<prefix>-i" to topic/partition with `acks`; asserts no error and
 * returns the base offset (-1 with acks 0, which gets no answer). */
static int64_t
produce(struct client *client, const char *topic, int32_t partition, int16_t acks,
        const char *prefix, uint32_t records)
{
    static uint8_t batch[1 << 16];
    struct produce_spec spec = {.topic = topic, .partition = partition, .batch = batch,
                                .bytes = test_batch(batch, sizeof(batch), records, prefix),
                                .acks = acks, .timeout_ms = 5000};
    int64_t base_offset;
    int16_t error = client_produce(client, &spec, &base_offset);
    cr_assert_eq(error, 0, "produce error %s", sb_wire_error_name(error));
    return base_offset;
}

struct fetched {
    int16_t error;           /* Partition error. */
    int64_t high_watermark;  /* Reported high watermark. */
    uint32_t records;        /* Records in the returned batches. */
    int64_t next_offset;     /* After the last record returned (or the fetch offset). */
    char first_value[64];    /* Value of the first record, NUL-terminated. */
};

static void
fetch_parse(const struct sb_fetch_partition_response *partition, int64_t offset,
            struct fetched *out)
{
    memset(out, 0, sizeof(*out));
    out->error = partition->error_code;
    out->high_watermark = partition->high_watermark;
    out->next_offset = offset;
    for (uint32_t at = 0; at < partition->records.length;) {
        struct sb_batch_header header;
        cr_assert_eq(sb_batch_verify(partition->records.data + at, partition->records.length - at,
                                     1 << 24, &header), 0, "whole, valid batches");
        struct sb_record_iter iterator;
        sb_record_iter_init(&iterator, &header, partition->records.data + at + 64,
                            header.records_bytes);
        struct sb_record_view record;
        while (sb_record_iter_next(&iterator, &record) == 1) {
            if (record.offset < offset) {
                continue;
            }
            cr_assert_eq(record.offset, out->next_offset, "dense, ordered offsets");
            if (out->records == 0) {
                size_t length = sb_min_u64((size_t)record.value_length, 63);
                memcpy(out->first_value, record.value, length);
            }
            out->records++;
            out->next_offset++;
        }
        at += header.batch_bytes;
    }
}

/* Fetches topic/partition from `offset` (long-polling as asked) and parses it into *out. */
static void
fetch(struct client *client, const char *topic, int32_t partition, int64_t offset,
      int32_t max_wait_ms, int32_t min_bytes, struct fetched *out)
{
    struct fetch_spec spec = {.topic = topic, .partition = partition, .offset = offset,
                              .partition_max_bytes = 1 << 20, .max_bytes = 4 << 20,
                              .max_wait_ms = max_wait_ms, .min_bytes = min_bytes};
    struct sb_fetch_partition_response result;
    client_fetch(client, &spec, &result);
    fetch_parse(&result, offset, out);
}

static void
round_trip_with(uint32_t cores)
{
    struct broker_process broker;
    broker_init(&broker, cores);
    broker_start(&broker);
    struct client client;
    client_connect(&client, broker.port);
    cr_assert_eq(client_create_topic(&client, "orders", 4), SB_WIRE_ERROR_NONE);
    cr_assert_eq(client_create_topic(&client, "orders", 4), SB_WIRE_ERROR_TOPIC_ALREADY_EXISTS);
    cr_assert_eq(client_create_topic(&client, "bad name!", 1), SB_WIRE_ERROR_INVALID_TOPIC_NAME);
    for (int32_t partition = 0; partition < 4; partition++) {
        for (int round = 0; round < 5; round++) {
            char prefix[32];
            snprintf(prefix, sizeof(prefix), "p%d-r%d", partition, round);
            cr_assert_eq(produce(&client, "orders", partition, -1, prefix, 10), round * 10);
        }
    }
    for (int32_t partition = 0; partition < 4; partition++) {
        struct fetched result;
        fetch(&client, "orders", partition, 0, 0, 0, &result);
        cr_assert_eq(result.error, 0);
        cr_assert_eq(result.high_watermark, 50);
        cr_assert_eq(result.records, 50, "every record of partition %d", partition);
        char expected[32];
        snprintf(expected, sizeof(expected), "p%d-r0-0", partition);
        cr_assert_str_eq(result.first_value, expected);
        fetch(&client, "orders", partition, 25, 0, 0, &result);
        cr_assert_eq(result.records, 25, "from the middle of a batch");
    }
    struct fetched unknown;
    fetch(&client, "nope", 0, 0, 0, 0, &unknown);
    cr_assert_eq(unknown.error, SB_WIRE_ERROR_UNKNOWN_TOPIC_OR_PARTITION);
    client_close(&client);
    cr_assert_eq(broker_stop(&broker), 0, "SIGTERM exits 0");
    broker_destroy(&broker);
}

/* The fixture's own error path: another process takes the picked port between picking and
 * the broker's bind (the CI failure of 2026-12-07): the first start moves to a new range. */
Test(broker, fixture_moves_to_new_ports_when_the_picked_ones_are_taken, .timeout = 60)
{
    struct broker_process broker;
    broker_init(&broker, 1);
    int squatter = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(squatter, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(broker.port),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(squatter, (struct sockaddr *)&address, sizeof(address)), 0);
    cr_assert_eq(listen(squatter, 128), 0); /* Connections wait, unanswered. */
    uint16_t taken = broker.port;
    broker_start(&broker);
    cr_assert_neq(broker.port, taken);
    struct client client;
    client_connect(&client, broker.port);
    cr_assert_eq(client_create_topic(&client, "moved", 1), SB_WIRE_ERROR_NONE);
    client_close(&client);
    close(squatter);
    broker_stop_and_destroy(&broker);
}

Test(broker, produce_fetch_round_trip_one_shard, .timeout = 60)
{
    round_trip_with(1);
}

Test(broker, produce_fetch_round_trip_two_shards, .timeout = 60)
{
    round_trip_with(2);
}

/* Asks for every topic's metadata; `frame` holds the answer `response` decodes. */
static void
metadata_all(struct client *client, struct sb_frame *frame, struct sb_metadata_response *response)
{
    struct sb_metadata_request request = {.all_topics = true};
    client_send(client, SB_API_METADATA, 0, encode_metadata_request, &request);
    cr_assert_eq(client_receive(client, frame, TIMEOUT_MS), 0);
    cr_assert_eq(sb_metadata_response_decode(frame->body, frame->body_bytes, response), 0);
}

Test(broker, metadata_names_each_partitions_shard_and_port, .timeout = 60)
{
    struct broker_process broker;
    broker_init(&broker, 2);
    broker_start(&broker);
    struct client client;
    client_connect(&client, broker.port);
    cr_assert_eq(client_create_topic(&client, "events", 3), SB_WIRE_ERROR_NONE);
    struct sb_frame frame;
    struct sb_metadata_response response;
    metadata_all(&client, &frame, &response);
    struct sb_metadata_broker node;
    cr_assert_eq(sb_metadata_response_next_broker(&response, &node), 1);
    cr_assert_eq(node.port, broker.port);
    struct sb_metadata_shard shard;
    for (int32_t index = 0; index < 2; index++) {
        cr_assert_eq(sb_metadata_broker_next_shard(&node, &shard), 1);
        cr_assert_eq(shard.port, broker.port + 1 + index);
    }
    struct sb_metadata_topic topic;
    cr_assert_eq(sb_metadata_response_next_topic(&response, &topic), 1);
    cr_assert_eq(topic.partition_count, 3);
    struct sb_metadata_partition partition;
    int32_t shards_seen[2] = {0};
    while (sb_metadata_topic_next_partition(&topic, &partition) == 1) {
        shards_seen[partition.shard]++;
    }
    cr_assert(shards_seen[0] > 0 && shards_seen[1] > 0, "partitions spread over both shards");
    /* A shard's own port serves its partitions directly. */
    struct client direct;
    client_connect(&direct, (uint16_t)(broker.port + 2));
    cr_assert_eq(produce(&direct, "events", 0, 1, "direct", 3), 0);
    client_close(&direct);
    client_close(&client);
    cr_assert_eq(broker_stop(&broker), 0);
    broker_destroy(&broker);
}

/* With one shard every answer is queued by the append's own completion and submitted before
 * the loop's next iteration; with two, some come back from the other shard. */
static void
pipelined_in_order(uint32_t cores)
{
    struct broker_process broker;
    broker_init(&broker, cores);
    broker_start(&broker);
    struct client client;
    client_connect(&client, broker.port);
    cr_assert_eq(client_create_topic(&client, "pipe", 2), SB_WIRE_ERROR_NONE);
    /* acks=0 first: nothing comes back for it. */
    produce(&client, "pipe", 1, 0, "silent", 1);
    uint32_t first = client_send(&client, SB_API_API_VERSIONS, 0, encode_api_versions_request,
                                 NULL);
    uint32_t correlations[40];
    for (int index = 0; index < 40; index++) {
        static uint8_t batch[4096];
        uint32_t bytes = test_batch(batch, sizeof(batch), 1, "pipelined");
        struct sb_produce_partition part = {.partition = index % 2, .records = {batch, bytes}};
        struct sb_produce_topic topic = {.name = sb_wire_string_from_cstr("pipe"),
                                         .partitions = &part, .partition_count = 1};
        struct sb_produce_request request = {.acks = (int16_t)(index % 3 == 0 ? -1 : 1),
                                             .timeout_ms = 5000, .topics = &topic,
                                             .topic_count = 1};
        correlations[index] = client_send(&client, SB_API_PRODUCE, 0, encode_produce_request,
                                          &request);
    }
    struct sb_frame frame;
    cr_assert_eq(client_receive(&client, &frame, TIMEOUT_MS), 0);
    cr_assert_eq(frame.header.correlation_id, first, "the acks=0 produce got no response");
    for (int index = 0; index < 40; index++) {
        cr_assert_eq(client_receive(&client, &frame, TIMEOUT_MS), 0);
        cr_assert_eq(frame.header.correlation_id, correlations[index], "response order");
    }
    struct fetched result;
    fetch(&client, "pipe", 1, 0, 0, 0, &result);
    cr_assert_eq(result.records, 21, "the acks=0 record was stored too");
    cr_assert_str_eq(result.first_value, "silent-0");
    client_close(&client);
    cr_assert_eq(broker_stop(&broker), 0);
    broker_destroy(&broker);
}

Test(broker, pipelined_requests_are_answered_in_order_and_acks0_gets_no_answer, .timeout = 60)
{
    pipelined_in_order(2);
}

Test(broker, pipelined_requests_are_answered_in_order_on_one_shard, .timeout = 60)
{
    pipelined_in_order(1);
}

Test(broker, long_poll_fetch_wakes_when_data_arrives, .timeout = 60)
{
    struct broker_process broker;
    broker_init(&broker, 2);
    broker_start(&broker);
    struct client consumer;
    struct client producer;
    client_connect(&consumer, broker.port);
    client_connect(&producer, broker.port);
    cr_assert_eq(client_create_topic(&producer, "poll", 2), SB_WIRE_ERROR_NONE);
    for (int32_t partition = 0; partition < 2; partition++) {
        struct fetch_spec spec = {.topic = "poll", .partition = partition,
                                  .partition_max_bytes = 1 << 20, .max_bytes = 1 << 20,
                                  .max_wait_ms = 20000, .min_bytes = 1};
        client_send(&consumer, SB_API_FETCH, 0, encode_fetch_spec, &spec);
        struct sb_frame frame;
        cr_assert_eq(client_receive(&consumer, &frame, 300), -ETIMEDOUT, "parked while empty");
        produce(&producer, "poll", partition, 1, "wake", 2);
        /* Well before max_wait (20 s): the produce woke the fetch. */
        cr_assert_eq(client_receive(&consumer, &frame, 5000), 0);
        struct sb_fetch_partition_response result;
        decode_fetch_partition(&frame, &result);
        struct fetched parsed;
        fetch_parse(&result, 0, &parsed);
        cr_assert_eq(parsed.records, 2);
    }
    /* With nothing arriving, max_wait ends the poll with an empty answer. */
    struct fetched empty;
    fetch(&consumer, "poll", 0, 2, 200, 1, &empty);
    cr_assert_eq(empty.records, 0);
    cr_assert_eq(empty.error, 0);
    client_close(&consumer);
    client_close(&producer);
    cr_assert_eq(broker_stop(&broker), 0);
    broker_destroy(&broker);
}

static void
restart_keeps_everything(bool kill_it)
{
    struct broker_process broker;
    broker_init(&broker, 2);
    broker_start(&broker);
    struct client client;
    client_connect(&client, broker.port);
    cr_assert_eq(client_create_topic(&client, "durable", 4), SB_WIRE_ERROR_NONE);
    for (int round = 0; round < 30; round++) {
        produce(&client, "durable", round % 4, -1, "kept", 7);
    }
    client_close(&client);
    if (kill_it) {
        broker_kill(&broker);
    } else {
        cr_assert_eq(broker_stop(&broker), 0);
    }
    broker_start(&broker);
    client_connect(&client, broker.port);
    cr_assert_eq(client_create_topic(&client, "durable", 4), SB_WIRE_ERROR_TOPIC_ALREADY_EXISTS);
    uint32_t total = 0;
    for (int32_t partition = 0; partition < 4; partition++) {
        struct fetched result;
        fetch(&client, "durable", partition, 0, 0, 0, &result);
        cr_assert_eq(result.error, 0);
        total += result.records;
        cr_assert_eq(result.high_watermark, (int64_t)result.records);
    }
    cr_assert_eq(total, 30 * 7, "every acknowledged record is back");
    cr_assert_eq(produce(&client, "durable", 0, -1, "after", 1), 8 * 7, "offsets continue");
    client_close(&client);
    cr_assert_eq(broker_stop(&broker), 0);
    broker_destroy(&broker);
}

Test(broker, clean_restart_keeps_topics_and_records, .timeout = 60)
{
    restart_keeps_everything(false);
}

Test(broker, kill_9_loses_no_acknowledged_record, .timeout = 60)
{
    restart_keeps_everything(true);
}

/* Rewrites <data>/metadata as the previous version wrote it: version 1, the topic records
 * only (the assignment records dropped), bytes 40..64 reserved. */
static void
metadata_file_downgrade(const char *data_dir, uint32_t topic_count)
{
    static uint8_t image[1 << 16];
    char path[200];
    snprintf(path, sizeof(path), "%s/metadata", data_dir);
    FILE *file = fopen(path, "r+b");
    cr_assert_not_null(file);
    size_t length = fread(image, 1, sizeof(image), file);
    uint64_t version_1_bytes = 64 + 512 * (uint64_t)topic_count;
    cr_assert_eq(sb_load_le16(image + 8), 2, "the current version writes version 2");
    cr_assert_gt(length, version_1_bytes, "with assignment records");
    sb_store_le16(image + 8, 1);
    memset(image + 40, 0, 24);
    sb_store_le64(image + 32, version_1_bytes);
    sb_store_le32(image + 4, sb_crc32c(0, image + 8, version_1_bytes - 8));
    cr_assert_eq(fseek(file, 0, SEEK_SET), 0);
    cr_assert_eq(fwrite(image, 1, version_1_bytes, file), version_1_bytes);
    cr_assert_eq(ftruncate(fileno(file), (off_t)version_1_bytes), 0);
    cr_assert_eq(fclose(file), 0);
}

/* Reads the 64-byte header of <data>/metadata into `header`. */
static void
metadata_file_header(const char *data_dir, uint8_t *header)
{
    char path[200];
    snprintf(path, sizeof(path), "%s/metadata", data_dir);
    FILE *file = fopen(path, "rb");
    cr_assert_not_null(file);
    cr_assert_eq(fread(header, 1, 64, file), 64u);
    fclose(file);
}

/* Metadata: each partition of `name` is on shard (topic id + partition) % 2, led by `leader`. */
static void
metadata_check_placement(struct client *client, const char *name, int32_t leader)
{
    struct sb_frame frame;
    struct sb_metadata_response response;
    metadata_all(client, &frame, &response);
    struct sb_metadata_topic topic;
    int32_t seen = 0;
    while (sb_metadata_response_next_topic(&response, &topic) == 1) {
        if (topic.name.length != strlen(name) ||
            memcmp(topic.name.chars, name, topic.name.length) != 0) {
            continue;
        }
        struct sb_metadata_partition partition;
        while (sb_metadata_topic_next_partition(&topic, &partition) == 1) {
            cr_assert_eq(partition.shard, (int32_t)((topic.topic_id + partition.partition) % 2));
            cr_assert_eq(partition.leader, leader);
            seen++;
        }
    }
    cr_assert_gt(seen, 0, "topic %s listed", name);
}

/* A data directory written by the previous version (metadata without an assignment) loads:
 * its partitions stay on their shards with their records, and the file is rewritten with
 * the assignment. A new node id then leads them all. */
Test(broker, a_data_directory_of_the_previous_version_keeps_partitions_on_their_shards,
     .timeout = 90)
{
    struct broker_process broker;
    broker_init(&broker, 2);
    broker_start(&broker);
    struct client client;
    client_connect(&client, broker.port);
    cr_assert_eq(client_create_topic(&client, "before", 4), SB_WIRE_ERROR_NONE);
    cr_assert_eq(client_create_topic(&client, "also", 3), SB_WIRE_ERROR_NONE);
    for (int32_t partition = 0; partition < 4; partition++) {
        produce(&client, "before", partition, -1, "kept", (uint32_t)partition + 1);
    }
    client_close(&client);
    cr_assert_eq(broker_stop(&broker), 0);
    metadata_file_downgrade(broker.data_dir, 3); /* __consumer_offsets, then the two. */
    for (int32_t leader = 0; leader <= 3; leader += 3) {
        if (leader != 0) {
            snprintf(broker.extra, sizeof(broker.extra), "--node-id %d", leader);
        }
        broker_start(&broker);
        client_connect(&client, broker.port);
        metadata_check_placement(&client, "before", leader);
        metadata_check_placement(&client, "also", leader);
        for (int32_t partition = 0; partition < 4; partition++) {
            struct fetched result;
            fetch(&client, "before", partition, 0, 0, 0, &result);
            cr_assert_eq(result.error, 0);
            cr_assert_eq(result.records, (uint32_t)partition + 1, "records of %d kept",
                         partition);
        }
        client_close(&client);
        cr_assert_eq(broker_stop(&broker), 0);
        uint8_t header[64];
        metadata_file_header(broker.data_dir, header);
        cr_assert_eq(sb_load_le16(header + 8), 2, "rewritten with the assignment");
        cr_assert_eq(sb_load_le32(header + 48), 7u + SB_GROUP_OFFSETS_PARTITIONS_DEFAULT,
                     "one record per partition, __consumer_offsets' too");
    }
    broker_destroy(&broker);
}

/* A topic change that cannot be persisted (metadata.tmp cannot be opened) is refused and
 * its partitions' placement undone: the next change places them afresh, and the file's
 * assignment epoch counts only the changes made. */
Test(broker, a_topic_change_that_cannot_be_persisted_is_undone_with_its_assignment,
     .timeout = 60)
{
    struct broker_process broker;
    broker_init(&broker, 2);
    broker_start(&broker);
    struct client client;
    client_connect(&client, broker.port);
    cr_assert_eq(client_create_topic(&client, "first", 2), SB_WIRE_ERROR_NONE);
    char blocker[200];
    snprintf(blocker, sizeof(blocker), "%s/metadata.tmp", broker.data_dir);
    cr_assert_eq(mkdir(blocker, 0755), 0);
    struct sb_create_topic topic = {.name = sb_wire_string_from_cstr("second"),
                                    .partition_count = 3, .replication_factor = 1};
    struct sb_create_topics_request request = {.topics = &topic, .topic_count = 1,
                                               .timeout_ms = 5000};
    client_send(&client, SB_API_CREATE_TOPICS, 0, encode_create_topics_request, &request);
    struct sb_frame frame;
    cr_assert_eq(client_receive(&client, &frame, TIMEOUT_MS), 0);
    cr_assert_eq(frame.header.error_code, SB_WIRE_ERROR_STORAGE_ERROR);
    cr_assert_eq(rmdir(blocker), 0);
    cr_assert_eq(client_create_topic(&client, "second", 5), SB_WIRE_ERROR_NONE);
    metadata_check_placement(&client, "second", 0);
    cr_assert_eq(produce(&client, "second", 4, -1, "placed", 2), 0);
    client_close(&client);
    cr_assert_eq(broker_stop(&broker), 0);
    uint8_t header[64];
    metadata_file_header(broker.data_dir, header);
    cr_assert_eq(sb_load_le64(header + 40), 3u,
                 "the offsets topic and two changes made, the refused one undone");
    cr_assert_eq(sb_load_le32(header + 48), 7u + SB_GROUP_OFFSETS_PARTITIONS_DEFAULT,
                 "one record per partition, __consumer_offsets' too");
    broker_destroy(&broker);
}

/* Produces one idempotent batch; returns the partition's error, *offset_out its base offset. */
static int16_t
produce_idempotent(struct client *client, int64_t producer_id, int32_t sequence,
                   int64_t *offset_out)
{
    static uint8_t batch[4096];
    struct sb_batch_builder builder;
    sb_batch_builder_init(&builder, batch, sizeof(batch), 1000);
    sb_batch_builder_set_producer(&builder, producer_id, 0, sequence);
    for (int index = 0; index < 3; index++) {
        struct sb_record record = {.key = "k", .key_length = 1, .value = "v",
                                   .value_length = 1, .timestamp_ms = 1000};
        cr_assert_eq(sb_batch_builder_add(&builder, &record), 0);
    }
    const uint8_t *bytes;
    uint32_t length;
    cr_assert_eq(sb_batch_builder_finish(&builder, SB_COMPRESSION_NONE, NULL, 0, &bytes,
                                         &length), 0);
    return client_produce_acks_all(client, "idem", 0, bytes, length, offset_out);
}

Test(broker, idempotent_retries_create_no_duplicates_even_after_kill_9, .timeout = 60)
{
    struct broker_process broker;
    broker_init(&broker, 2);
    broker_start(&broker);
    struct client client;
    client_connect(&client, broker.port);
    cr_assert_eq(client_create_topic(&client, "idem", 1), SB_WIRE_ERROR_NONE);
    struct sb_init_producer_id_request init = {.producer_id = -1, .producer_epoch = -1};
    client_send(&client, SB_API_INIT_PRODUCER_ID, 0, encode_init_producer_id_request, &init);
    struct sb_frame frame;
    cr_assert_eq(client_receive(&client, &frame, TIMEOUT_MS), 0);
    struct sb_init_producer_id_response id;
    cr_assert_eq(sb_init_producer_id_response_decode(frame.body, frame.body_bytes, &id), 0);
    cr_assert_eq(id.error_code, 0);
    cr_assert_geq(id.producer_id, 0);
    int64_t offset = -1;
    cr_assert_eq(produce_idempotent(&client, id.producer_id, 0, &offset), 0);
    cr_assert_eq(offset, 0);
    cr_assert_eq(produce_idempotent(&client, id.producer_id, 0, &offset), 0, "retry accepted");
    cr_assert_eq(offset, 0, "and answered with the original offset");
    cr_assert_eq(produce_idempotent(&client, id.producer_id, 6, &offset),
                 SB_WIRE_ERROR_OUT_OF_ORDER_SEQUENCE_NUMBER, "a gap is refused");
    cr_assert_eq(produce_idempotent(&client, id.producer_id, 3, &offset), 0);
    cr_assert_eq(offset, 3);
    cr_assert_eq(produce_idempotent(&client, id.producer_id + 1, 5, &offset),
                 SB_WIRE_ERROR_UNKNOWN_PRODUCER_ID, "an unknown producer must start at 0");
    client_close(&client);
    broker_kill(&broker);
    broker_start(&broker);
    client_connect(&client, broker.port);
    cr_assert_eq(produce_idempotent(&client, id.producer_id, 3, &offset), 0);
    cr_assert_eq(offset, 3, "the producer's state survived the crash");
    struct fetched result;
    fetch(&client, "idem", 0, 0, 0, 0, &result);
    cr_assert_eq(result.records, 6, "two batches, no duplicate");
    client_close(&client);
    cr_assert_eq(broker_stop(&broker), 0);
    broker_destroy(&broker);
}

/* Cross-shard flood: with 8 shards, connections pipelining Health (which asks every shard)
 * send 8 cross-shard messages per request, 4,096 requests per shard at once: far more than a
 * shard's overflow pool holds while the other shards (8 threads on this VM's CPUs) lag. A
 * flood of connections on the main port is handed off to the shards at the same time. Every
 * request must be answered and the broker must stay up. */
#define FLOOD_SHARDS 8u
#define FLOOD_PIPELINE 4096u
#define FLOOD_CONNECTIONS 4u
#define FLOOD_HANDOFFS 200u

static void
pipeline_health(struct client *client, uint32_t count, uint8_t *frames, uint32_t capacity)
{
    uint32_t used = 0;
    for (uint32_t index = 0; index < count; index++) {
        struct sb_frame_header header = {.api_key = SB_API_HEALTH,
                                         .correlation_id = client->next_correlation++};
        used += frame_encode(frames + used, capacity - used, &header, encode_empty_request,
                             NULL);
    }
    client_send_raw(client, frames, used);
}

Test(broker, cross_shard_message_flood_is_answered_never_aborts, .timeout = 240)
{
    struct broker_process broker;
    broker_start_new(&broker, FLOOD_SHARDS, "--max-inflight-requests 4096");
    static uint8_t frames[FLOOD_PIPELINE * 64];
    struct client clients[FLOOD_CONNECTIONS];
    for (uint32_t index = 0; index < FLOOD_CONNECTIONS; index++) {
        client_connect(&clients[index], (uint16_t)(broker.port + 1 + index % 2));
        clients[index].timeout_ms = 60000;
    }
    struct client handed[FLOOD_HANDOFFS];
    for (uint32_t round = 0; round < 3; round++) {
        for (uint32_t index = 0; index < FLOOD_CONNECTIONS; index++) {
            pipeline_health(&clients[index], FLOOD_PIPELINE, frames, sizeof(frames));
        }
        for (uint32_t index = 0; index < FLOOD_HANDOFFS; index++) {
            client_connect(&handed[index], broker.port);
        }
        for (uint32_t index = 0; index < FLOOD_CONNECTIONS; index++) {
            for (uint32_t answer = 0; answer < FLOOD_PIPELINE; answer++) {
                struct sb_frame frame;
                cr_assert_eq(client_receive(&clients[index], &frame, 60000), 0,
                             "every Health is answered");
                cr_assert(frame.header.error_code == SB_WIRE_ERROR_NONE ||
                          frame.header.error_code == SB_WIRE_ERROR_BROKER_BUSY);
            }
        }
        for (uint32_t index = 0; index < FLOOD_HANDOFFS; index++) {
            client_close(&handed[index]);
        }
    }
    cr_assert_eq(health_on_new_connection(broker.port), SB_WIRE_ERROR_NONE, "broker alive");
    for (uint32_t index = 0; index < FLOOD_CONNECTIONS; index++) {
        client_close(&clients[index]);
    }
    broker_stop_and_destroy(&broker);
}

/* Main port after the shard ports: the shards other than 0 own partitions with megabytes of
 * WAL to replay after kill -9, so they take longer to start than shard 0. As soon as the
 * main port accepts, every shard's own port must accept too. */
#define READY_SHARDS 4u
#define READY_RESTARTS 4

/* Whether a TCP connection to 127.0.0.1:port is accepted. */
static bool
port_accepts(uint16_t port)
{
    struct client probe;
    if (client_try_connect(&probe, port) != 0) {
        return false;
    }
    client_close(&probe);
    return true;
}

/* Fills the WAL of every shard but 0 (partitions are found through Metadata). */
static void
fill_wal_of_shards_but_0(struct client *client)
{
    cr_assert_eq(client_create_topic(client, "replay", 8), SB_WIRE_ERROR_NONE);
    struct sb_frame frame;
    struct sb_metadata_response response;
    metadata_all(client, &frame, &response);
    struct sb_metadata_topic topic;
    cr_assert_eq(sb_metadata_response_next_topic(&response, &topic), 1);
    bool others[8] = {false};
    struct sb_metadata_partition partition;
    while (sb_metadata_topic_next_partition(&topic, &partition) == 1) {
        others[partition.partition] = partition.shard != 0;
    }
    static uint8_t batch[1u << 20];
    struct produce_spec spec = {.topic = "replay", .batch = batch, .acks = 1,
                                .bytes = test_batch(batch, sizeof(batch), 20000, "replay"),
                                .timeout_ms = 5000};
    for (int32_t index = 0; index < 8; index++) {
        for (int round = 0; others[index] && round < 16; round++) {
            spec.partition = index;
            cr_assert_eq(client_produce(client, &spec, NULL), SB_WIRE_ERROR_NONE);
        }
    }
}

Test(broker, main_port_accepts_only_once_every_shard_port_listens, .timeout = 180)
{
    struct broker_process broker;
    broker_start_new(&broker, READY_SHARDS, "--wal-files 8");
    struct client client;
    client_connect(&client, broker.port);
    fill_wal_of_shards_but_0(&client);
    client_close(&client);
    for (int restart = 0; restart < READY_RESTARTS; restart++) {
        broker_kill(&broker);
        /* A killed broker's listeners can outlive it briefly: wait until they are gone. */
        for (int wait = 0; wait < 500 && port_accepts(broker.port); wait++) {
            usleep(10000);
        }
        broker_spawn(&broker);
        bool accepted = false;
        for (int attempt = 0; attempt < 20000 && !accepted; attempt++) {
            accepted = port_accepts(broker.port);
            if (!accepted) {
                usleep(500);
            }
        }
        cr_assert(accepted, "the main port accepts within 10 s");
        for (uint32_t shard = 0; shard < READY_SHARDS; shard++) {
            cr_assert(port_accepts((uint16_t)(broker.port + 1 + shard)),
                      "restart %d: shard %u's port listens once the main port accepts",
                      restart, shard);
        }
        cr_assert_eq(health_on_new_connection(broker.port), SB_WIRE_ERROR_NONE);
    }
    broker_stop_and_destroy(&broker);
}
