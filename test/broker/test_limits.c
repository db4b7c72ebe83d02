/*
 * test/broker/test_limits.c - the broker's size limits hit exactly, against a
 * real broker (docs/protocol.md, docs/configuration.md):
 *  - max_frame_bytes: a request whose frame_bytes equals the limit is served,
 *    one byte more is REQUEST_TOO_LARGE and the connection closes;
 *  - max_message_bytes (the broker's) and a topic's max.message.bytes: a batch
 *    of exactly the limit is stored, one byte more is MESSAGE_TOO_LARGE; the
 *    config's own bounds; a broker limit lowered below a topic's setting; a
 *    batch stored under a higher limit than today's is fetched whole at a
 *    1-byte limit and found by time (MESSAGE_TOO_LARGE once above the frame);
 *  - Fetch max_bytes and partition_max_bytes with batches larger than half the
 *    limit: whole batches only, the first batch even when larger than either
 *    limit, a batch that would pass a limit deferred to the next fetch.
 * Batches are built to an exact size (one record, its value padded).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/endian.h"
#include "proto/api_admin.h"
#include "proto/api_fetch.h"
#include "proto/api_meta.h"
#include "proto/batch.h"
#include "proto/errors.h"
#include "test/broker/broker_fixture.h"

#define TIMEOUT_MS 10000
#define FRAME_LIMIT (512u << 10)
#define BROKER_MESSAGE_LIMIT (64u << 10)
#define TOPIC_MESSAGE_LIMIT 10000u
/* The topic config's floor (broker/metadata.c). */
#define TOPIC_MESSAGE_FLOOR 1024u
/* Fetch: batches of FETCH_BATCH bytes against limits of FETCH_LIMIT (< 2 batches). */
#define FETCH_BATCH 6000u
#define FETCH_LIMIT 10000
#define FETCH_BATCHES 3
/* A batch stored under the broker's 64 KiB limit, read after it was lowered to 32 KiB. */
#define OLD_BATCH (60u << 10)

static uint8_t padding[FRAME_LIMIT];

/* Builds into buffer (capacity > target) a batch of one record whose size is exactly
 * `target` bytes, moved to the buffer's start; asserts it can. Returns target. */
static uint32_t
sized_batch(uint8_t *buffer, uint32_t capacity, uint32_t target)
{
    memset(padding, 'x', sizeof(padding));
    cr_assert_gt(target, 128u);
    cr_assert_lt(target, sizeof(padding));
    /* The record's varint lengths may jump a byte at a boundary: a longer key evens it out.
     * Bounded: 4 key lengths x 4 value corrections. */
    for (int32_t key_length = 1; key_length <= 4; key_length++) {
        int64_t value_length = (int64_t)target - 128;
        for (int attempt = 0; attempt < 4 && value_length >= 0; attempt++) {
            struct sb_batch_builder builder;
            sb_batch_builder_init(&builder, buffer, capacity, 1000);
            struct sb_record record = {.key = "kkkk", .key_length = key_length,
                                       .value = padding, .value_length = (int32_t)value_length,
                                       .timestamp_ms = 1000};
            cr_assert_eq(sb_batch_builder_add(&builder, &record), 0);
            const uint8_t *bytes;
            uint32_t length;
            cr_assert_eq(sb_batch_builder_finish(&builder, SB_COMPRESSION_NONE, NULL, 0, &bytes,
                                                 &length), 0);
            if (length == target) {
                memmove(buffer, bytes, length);
                return length;
            }
            value_length += (int64_t)target - (int64_t)length;
        }
    }
    cr_assert_fail("no batch of exactly %u bytes", target);
    return 0;
}

/* Produces (acks=all) one batch of exactly `bytes` bytes to topic/partition; returns the
 * partition's error. */
static int16_t
produce_sized(struct client *client, const char *topic, int32_t partition, uint32_t bytes)
{
    static uint8_t batch[FRAME_LIMIT + 4096];
    sized_batch(batch, sizeof(batch), bytes);
    return client_produce_acks_all(client, topic, partition, batch, bytes, NULL);
}

/* The partition's high watermark, through a Fetch from offset 0 of at most 1 byte. */
static int64_t
high_watermark(struct client *client, const char *topic, int32_t partition)
{
    struct fetch_spec spec = {.topic = topic, .partition = partition, .partition_max_bytes = 1,
                              .max_bytes = 1};
    struct sb_fetch_partition_response answer;
    client_fetch(client, &spec, &answer);
    cr_assert_eq(answer.error_code, SB_WIRE_ERROR_NONE);
    return answer.high_watermark;
}

/* ApiVersions tells the client the broker's two limits. */
static void
expect_advertised_limits(struct client *client, uint32_t frame_bytes_max,
                         uint32_t batch_bytes_max)
{
    uint32_t correlation = client_send(client, SB_API_API_VERSIONS, 0,
                                       encode_api_versions_request, NULL);
    struct sb_frame frame;
    cr_assert_eq(client_receive(client, &frame, TIMEOUT_MS), 0);
    cr_assert_eq(frame.header.correlation_id, correlation);
    struct sb_api_versions_response response;
    cr_assert_eq(sb_api_versions_response_decode(frame.body, frame.body_bytes, &response), 0);
    cr_assert_eq(response.frame_bytes_max, frame_bytes_max);
    cr_assert_eq(response.batch_bytes_max, batch_bytes_max);
}

/* A Produce frame carrying one batch of `batch_bytes` into frame (capacity bytes); returns the
 * frame's size (4 + frame_bytes). */
static uint32_t
produce_frame(uint8_t *frame, uint32_t capacity, uint32_t correlation, const uint8_t *batch,
              uint32_t batch_bytes)
{
    const struct sb_frame_header header = {.api_key = SB_API_PRODUCE,
                                           .correlation_id = correlation};
    struct produce_spec spec = {.topic = "edge", .partition = 0, .batch = batch,
                                .bytes = batch_bytes, .acks = -1, .timeout_ms = 5000};
    return frame_encode(frame, capacity, &header, encode_produce_spec, &spec);
}

/* frame_bytes == max_frame_bytes is served (the batch is stored); frame_bytes one more is
 * refused from its length, answered REQUEST_TOO_LARGE, and the connection closes. */
Test(limits, a_frame_of_exactly_max_frame_bytes_is_served_and_one_more_is_refused,
     .timeout = 60)
{
    struct broker_process broker;
    broker_start_new(&broker, 1, "--max-frame-bytes 512k --max-message-bytes 512k");
    struct client client;
    client_connect(&client, broker.port);
    expect_advertised_limits(&client, FRAME_LIMIT, FRAME_LIMIT);
    cr_assert_eq(client_create_topic(&client, "edge", 1), SB_WIRE_ERROR_NONE);
    static uint8_t frame[FRAME_LIMIT + 8192];
    static uint8_t batch[FRAME_LIMIT + 4096];
    uint32_t overhead = produce_frame(frame, sizeof(frame), 0, batch, 0);
    uint32_t batch_bytes = FRAME_LIMIT + SB_FRAME_PREFIX_BYTES - overhead;
    sized_batch(batch, sizeof(batch), batch_bytes);
    uint32_t size = produce_frame(frame, sizeof(frame), 900, batch, batch_bytes);
    cr_assert_eq(sb_load_le32(frame), FRAME_LIMIT, "frame_bytes exactly at the limit");
    client_send_raw(&client, frame, size);
    struct sb_frame answer;
    cr_assert_eq(client_receive(&client, &answer, TIMEOUT_MS), 0);
    cr_assert_eq(answer.header.correlation_id, 900u);
    cr_assert_eq(answer.header.error_code, SB_WIRE_ERROR_NONE, "got %s",
                 sb_wire_error_name(answer.header.error_code));
    cr_assert_eq(high_watermark(&client, "edge", 0), 1, "the batch is stored");
    sized_batch(batch, sizeof(batch), batch_bytes + 1);
    size = produce_frame(frame, sizeof(frame), 901, batch, batch_bytes + 1);
    cr_assert_eq(sb_load_le32(frame), FRAME_LIMIT + 1);
    client_send_raw(&client, frame, size);
    cr_assert_eq(client_receive(&client, &answer, TIMEOUT_MS), 0);
    cr_assert_eq(answer.header.error_code, SB_WIRE_ERROR_REQUEST_TOO_LARGE, "got %s",
                 sb_wire_error_name(answer.header.error_code));
    int closed = client_receive(&client, &answer, TIMEOUT_MS);
    cr_assert(closed == -ECONNRESET || closed == -EPIPE, "then it closes (got %d)", closed);
    client_close(&client);
    client_connect(&client, broker.port);
    cr_assert_eq(high_watermark(&client, "edge", 0), 1, "nothing more stored");
    client_close(&client);
    broker_stop_and_destroy(&broker);
}

static int
encode_alter(struct sb_wire_writer *writer, const void *request)
{
    return sb_alter_topic_config_request_encode(writer, request);
}

/* Sets the topic's max.message.bytes to `value`; returns the answer's error. */
static int16_t
set_topic_limit(struct client *client, const char *topic, uint32_t value)
{
    char text[16];
    snprintf(text, sizeof(text), "%u", value);
    struct sb_topic_config config = {sb_wire_string_from_cstr("max.message.bytes"),
                                     sb_wire_string_from_cstr(text), 0};
    struct sb_alter_topic_config_request request = {.name = sb_wire_string_from_cstr(topic),
                                                    .configs = &config, .config_count = 1};
    uint32_t correlation = client_send(client, SB_API_ALTER_TOPIC_CONFIG, 0, encode_alter,
                                       &request);
    struct sb_frame frame;
    cr_assert_eq(client_receive(client, &frame, TIMEOUT_MS), 0);
    cr_assert_eq(frame.header.correlation_id, correlation);
    cr_assert_eq(frame.header.error_code, SB_WIRE_ERROR_NONE);
    struct sb_alter_topic_config_response response;
    cr_assert_eq(sb_alter_topic_config_response_decode(frame.body, frame.body_bytes,
                                                       &response), 0);
    return response.error_code;
}

/* A batch of exactly the limit is stored, one byte more is MESSAGE_TOO_LARGE and stores
 * nothing: for the broker's max_message_bytes (a topic's default) and a topic's own
 * max.message.bytes. The topic setting's bounds: 1024 … the broker's limit. */
Test(limits, max_message_bytes_of_broker_and_topic_accept_exactly_the_limit, .timeout = 60)
{
    struct broker_process broker;
    broker_start_new(&broker, 1, "--max-message-bytes 64k");
    struct client client;
    client_connect(&client, broker.port);
    cr_assert_eq(client_create_topic(&client, "broad", 1), SB_WIRE_ERROR_NONE);
    cr_assert_eq(client_create_topic(&client, "narrow", 1), SB_WIRE_ERROR_NONE);
    cr_assert_eq(produce_sized(&client, "broad", 0, BROKER_MESSAGE_LIMIT), SB_WIRE_ERROR_NONE);
    int16_t error = produce_sized(&client, "broad", 0, BROKER_MESSAGE_LIMIT + 1);
    cr_assert_eq(error, SB_WIRE_ERROR_MESSAGE_TOO_LARGE, "got %s", sb_wire_error_name(error));
    cr_assert_eq(high_watermark(&client, "broad", 0), 1);
    cr_assert_eq(set_topic_limit(&client, "narrow", TOPIC_MESSAGE_LIMIT), SB_WIRE_ERROR_NONE);
    cr_assert_eq(produce_sized(&client, "narrow", 0, TOPIC_MESSAGE_LIMIT), SB_WIRE_ERROR_NONE);
    error = produce_sized(&client, "narrow", 0, TOPIC_MESSAGE_LIMIT + 1);
    cr_assert_eq(error, SB_WIRE_ERROR_MESSAGE_TOO_LARGE, "got %s", sb_wire_error_name(error));
    cr_assert_eq(high_watermark(&client, "narrow", 0), 1);
    cr_assert_eq(set_topic_limit(&client, "narrow", BROKER_MESSAGE_LIMIT + 1),
                 SB_WIRE_ERROR_INVALID_CONFIG, "above the broker's limit");
    cr_assert_eq(set_topic_limit(&client, "narrow", TOPIC_MESSAGE_FLOOR - 1),
                 SB_WIRE_ERROR_INVALID_CONFIG, "below the floor");
    cr_assert_eq(set_topic_limit(&client, "narrow", TOPIC_MESSAGE_FLOOR), SB_WIRE_ERROR_NONE);
    cr_assert_eq(set_topic_limit(&client, "narrow", BROKER_MESSAGE_LIMIT), SB_WIRE_ERROR_NONE);
    cr_assert_eq(produce_sized(&client, "narrow", 0, BROKER_MESSAGE_LIMIT), SB_WIRE_ERROR_NONE);
    client_close(&client);
    broker_stop_and_destroy(&broker);
}

/* A topic set to 64 KiB, then the broker restarted with max_message_bytes 32 KiB: the broker
 * setting still bounds new batches (docs/configuration.md: it limits new batches), and what
 * was stored under the old value stays readable. */
Test(limits, a_lowered_broker_max_message_bytes_bounds_a_topic_set_higher, .timeout = 60)
{
    struct broker_process broker;
    broker_start_new(&broker, 1, "--max-message-bytes 64k");
    struct client client;
    client_connect(&client, broker.port);
    cr_assert_eq(client_create_topic(&client, "lowered", 1), SB_WIRE_ERROR_NONE);
    cr_assert_eq(set_topic_limit(&client, "lowered", BROKER_MESSAGE_LIMIT), SB_WIRE_ERROR_NONE);
    cr_assert_eq(produce_sized(&client, "lowered", 0, BROKER_MESSAGE_LIMIT), 0);
    client_close(&client);
    cr_assert_eq(broker_stop(&broker), 0);
    snprintf(broker.extra, sizeof(broker.extra), "--max-message-bytes 32k");
    broker_start(&broker);
    client_connect(&client, broker.port);
    int16_t error = produce_sized(&client, "lowered", 0, (32u << 10) + 1);
    cr_assert_eq(error, SB_WIRE_ERROR_MESSAGE_TOO_LARGE, "got %s", sb_wire_error_name(error));
    cr_assert_eq(produce_sized(&client, "lowered", 0, 32u << 10), SB_WIRE_ERROR_NONE);
    struct fetch_spec spec = {.topic = "lowered", .partition_max_bytes = 1 << 20,
                              .max_bytes = 1 << 20};
    struct sb_fetch_partition_response answer;
    client_fetch(&client, &spec, &answer);
    cr_assert_eq(answer.error_code, SB_WIRE_ERROR_NONE, "got %s",
                 sb_wire_error_name(answer.error_code));
    cr_assert_geq(answer.records.length, BROKER_MESSAGE_LIMIT, "got %u bytes",
                  answer.records.length);
    cr_assert_eq(sb_load_le32(answer.records.data + SB_BATCH_OFFSET_BATCH_BYTES),
                 BROKER_MESSAGE_LIMIT, "the old batch, whole");
    cr_assert_eq(answer.high_watermark, 2);
    client_close(&client);
    broker_stop_and_destroy(&broker);
}

/* ListOffsets by time on partition 0 of `topic_name`; returns the partition's error and the
 * offset found in *offset. */
static int16_t
offset_for_time(struct client *client, const char *topic_name, int64_t timestamp_ms,
                int64_t *offset)
{
    struct sb_list_offsets_partition part = {.partition = 0, .timestamp = timestamp_ms};
    struct sb_list_offsets_topic topic = {.name = sb_wire_string_from_cstr(topic_name),
                                          .partitions = &part, .partition_count = 1};
    struct sb_list_offsets_request request = {.topics = &topic, .topic_count = 1};
    client_send(client, SB_API_LIST_OFFSETS, 0, encode_list_offsets_request, &request);
    struct sb_frame frame;
    cr_assert_eq(client_receive(client, &frame, TIMEOUT_MS), 0, "ListOffsets is answered");
    struct sb_list_offsets_response response;
    struct sb_list_offsets_topic_response topic_response;
    struct sb_list_offsets_partition_response result;
    cr_assert_eq(sb_list_offsets_response_decode(frame.body, frame.body_bytes, &response), 0);
    cr_assert_eq(sb_list_offsets_response_next_topic(&response, &topic_response), 1);
    cr_assert_eq(sb_list_offsets_topic_response_next_partition(&topic_response, &result), 1);
    *offset = result.offset;
    return result.error_code;
}

/* The batch of OLD_BATCH bytes at offset 0 of "old" comes back whole from a Fetch of at most
 * one byte, and a lookup by its timestamp finds it. */
static void
expect_old_batch_served(struct client *client, const char *where)
{
    struct fetch_spec spec = {.topic = "old", .partition_max_bytes = 1, .max_bytes = 1};
    struct sb_fetch_partition_response answer;
    client_fetch(client, &spec, &answer);
    cr_assert_eq(answer.error_code, SB_WIRE_ERROR_NONE, "%s: got %s", where,
                 sb_wire_error_name(answer.error_code));
    cr_assert_eq(answer.records.length, OLD_BATCH, "%s: got %u bytes", where,
                 answer.records.length);
    cr_assert_eq(sb_load_le32(answer.records.data + SB_BATCH_OFFSET_BATCH_BYTES), OLD_BATCH,
                 "%s: the old batch, whole", where);
    int64_t offset = -1;
    int16_t error = offset_for_time(client, "old", 1000, &offset);
    cr_assert_eq(error, SB_WIRE_ERROR_NONE, "%s: lookup got %s", where,
                 sb_wire_error_name(error));
    cr_assert_eq(offset, 0, "%s: lookup found %lld", where, (long long)offset);
}

/* A batch stored under max_message_bytes 64 KiB, the broker restarted with 32 KiB: a Fetch
 * with partition_max_bytes and max_bytes 1 still gets the whole batch (the first batch is
 * always returned, docs/protocol.md) and a lookup by time finds it, from the memtable (a
 * crash: the WAL is replayed into it) and from a segment (a clean stop flushes it). */
Test(limits, a_batch_stored_under_a_higher_max_message_bytes_is_served_after_lowering,
     .timeout = 60)
{
    struct broker_process broker;
    broker_start_new(&broker, 1, "--max-message-bytes 64k");
    struct client client;
    client_connect(&client, broker.port);
    cr_assert_eq(client_create_topic(&client, "old", 1), SB_WIRE_ERROR_NONE);
    cr_assert_eq(produce_sized(&client, "old", 0, OLD_BATCH), SB_WIRE_ERROR_NONE);
    client_close(&client);
    broker_kill(&broker);
    snprintf(broker.extra, sizeof(broker.extra), "--max-message-bytes 32k");
    broker_start(&broker);
    client_connect(&client, broker.port);
    expect_old_batch_served(&client, "memtable");
    client_close(&client);
    cr_assert_eq(broker_stop(&broker), 0);
    broker_start(&broker);
    client_connect(&client, broker.port);
    expect_old_batch_served(&client, "segment");
    client_close(&client);
    broker_stop_and_destroy(&broker);
}

/* The same batch after max_frame_bytes was lowered below it too: no response can carry it
 * (docs/protocol.md), so the Fetch answers the partition MESSAGE_TOO_LARGE (not a retriable
 * error a consumer would wait on for good) and so does the lookup by time. */
Test(limits, a_stored_batch_above_a_lowered_max_frame_bytes_is_message_too_large,
     .timeout = 60)
{
    struct broker_process broker;
    broker_start_new(&broker, 1, "--max-message-bytes 64k");
    struct client client;
    client_connect(&client, broker.port);
    cr_assert_eq(client_create_topic(&client, "old", 1), SB_WIRE_ERROR_NONE);
    cr_assert_eq(produce_sized(&client, "old", 0, OLD_BATCH), SB_WIRE_ERROR_NONE);
    client_close(&client);
    cr_assert_eq(broker_stop(&broker), 0);
    snprintf(broker.extra, sizeof(broker.extra), "--max-message-bytes 16k --max-frame-bytes 32k");
    broker_start(&broker);
    client_connect(&client, broker.port);
    struct fetch_spec spec = {.topic = "old", .partition_max_bytes = 1 << 20,
                              .max_bytes = 1 << 20};
    struct sb_fetch_partition_response answer;
    client_fetch(&client, &spec, &answer);
    cr_assert_eq(answer.error_code, SB_WIRE_ERROR_MESSAGE_TOO_LARGE, "got %s",
                 sb_wire_error_name(answer.error_code));
    cr_assert_eq(answer.records.length, 0);
    int64_t offset = -1;
    int16_t error = offset_for_time(&client, "old", 1000, &offset);
    cr_assert_eq(error, SB_WIRE_ERROR_MESSAGE_TOO_LARGE, "lookup got %s",
                 sb_wire_error_name(error));
    client_close(&client);
    broker_stop_and_destroy(&broker);
}

/* What one partition of a Fetch answer carried. */
struct fetched {
    int16_t error;       /* The partition's error. */
    uint32_t batches;    /* Whole batches in its records. */
    int64_t first;       /* Base offset of the first batch, -1 without records. */
};

/* Counts the whole batches of `records` (asserting there is no partial one). */
static struct fetched
fetched_of(const struct sb_fetch_partition_response *partition)
{
    struct fetched out = {.error = partition->error_code, .first = -1};
    const uint8_t *records = partition->records.data;
    uint32_t length = partition->records.length;
    for (uint32_t at = 0; at < length && out.batches <= FETCH_BATCHES;) {
        cr_assert_leq(at + SB_BATCH_HEADER_BYTES, length, "a whole header");
        uint32_t batch_bytes = sb_load_le32(records + at + SB_BATCH_OFFSET_BATCH_BYTES);
        cr_assert_eq(batch_bytes, FETCH_BATCH, "whole batches only");
        cr_assert_leq(at + batch_bytes, length, "a whole batch");
        if (out.batches == 0) {
            out.first = (int64_t)sb_load_le64(records + at + SB_BATCH_OFFSET_BASE_OFFSET);
        }
        out.batches++;
        at += batch_bytes;
    }
    return out;
}

/* One Fetch of partitions 0 and 1 of "fetch" from offsets[], each with partition_max_bytes,
 * the response with max_bytes; returns what each partition carried. */
static void
fetch_two(struct client *client, const int64_t offsets[2], int32_t partition_max_bytes,
          int32_t max_bytes, struct fetched out[2])
{
    struct sb_fetch_partition parts[2] = {{0, offsets[0], partition_max_bytes},
                                          {1, offsets[1], partition_max_bytes}};
    struct sb_fetch_topic topic = {.name = sb_wire_string_from_cstr("fetch"),
                                   .partitions = parts, .partition_count = 2};
    struct sb_fetch_request request = {.max_bytes = max_bytes, .topics = &topic,
                                       .topic_count = 1};
    uint32_t correlation = client_send(client, SB_API_FETCH, 0, encode_fetch_request, &request);
    struct sb_frame frame;
    cr_assert_eq(client_receive(client, &frame, TIMEOUT_MS), 0);
    cr_assert_eq(frame.header.correlation_id, correlation);
    cr_assert_eq(frame.header.error_code, SB_WIRE_ERROR_NONE);
    struct sb_fetch_response response;
    struct sb_fetch_topic_response topic_response;
    cr_assert_eq(sb_fetch_response_decode(frame.body, frame.body_bytes, &response), 0);
    cr_assert_eq(sb_fetch_response_next_topic(&response, &topic_response), 1);
    for (int32_t index = 0; index < 2; index++) {
        struct sb_fetch_partition_response partition;
        cr_assert_eq(sb_fetch_topic_response_next_partition(&topic_response, &partition), 1);
        cr_assert_eq(partition.partition, index);
        out[index] = fetched_of(&partition);
    }
}

/* Expects partition 0 and 1 to have carried `batches0` and `batches1` batches, the first of
 * each (if any) at its fetch offset, without error. */
static void
expect_fetched(const struct fetched got[2], const int64_t offsets[2], uint32_t batches0,
               uint32_t batches1, const char *what)
{
    const uint32_t wanted[2] = {batches0, batches1};
    for (int index = 0; index < 2; index++) {
        cr_assert_eq(got[index].error, SB_WIRE_ERROR_NONE, "%s: partition %d: %s", what, index,
                     sb_wire_error_name(got[index].error));
        cr_assert_eq(got[index].batches, wanted[index], "%s: partition %d carried %u batches, "
                     "wanted %u", what, index, got[index].batches, wanted[index]);
        cr_assert_eq(got[index].first, wanted[index] > 0 ? offsets[index] : -1, "%s", what);
    }
}

/* A broker of `cores` shards with topic "fetch": 2 partitions, each FETCH_BATCHES batches of
 * exactly FETCH_BATCH bytes (one record each: offsets 0, 1, 2). */
static void
fetch_broker(struct broker_process *broker, struct client *client, uint32_t cores)
{
    broker_start_new(broker, cores, NULL);
    client_connect(client, broker->port);
    cr_assert_eq(client_create_topic(client, "fetch", 2), SB_WIRE_ERROR_NONE);
    for (int32_t partition = 0; partition < 2; partition++) {
        for (int round = 0; round < FETCH_BATCHES; round++) {
            cr_assert_eq(produce_sized(client, "fetch", partition, FETCH_BATCH), 0);
        }
    }
}

/* One partition with data (partition 1 fetched at its end): max_bytes and then
 * partition_max_bytes at, below and above multiples of a batch. */
static void
fetch_one_partition_limits(uint32_t cores)
{
    struct broker_process broker;
    struct client client;
    fetch_broker(&broker, &client, cores);
    const int64_t offsets[2] = {0, FETCH_BATCHES};
    const int32_t batch = (int32_t)FETCH_BATCH;
    const struct {
        int32_t max_bytes, partition_max_bytes;
        uint32_t batches;
    } cases[] = {
        {1, 1 << 20, 1},           {FETCH_LIMIT, 1 << 20, 1}, {2 * batch - 1, 1 << 20, 1},
        {2 * batch, 1 << 20, 2},   {3 * batch, 1 << 20, 3},   {1 << 20, 1, 1},
        {1 << 20, FETCH_LIMIT, 1}, {1 << 20, 2 * batch - 1, 1}, {1 << 20, 2 * batch, 2},
    };
    for (size_t index = 0; index < sizeof(cases) / sizeof(cases[0]); index++) {
        struct fetched got[2];
        fetch_two(&client, offsets, cases[index].partition_max_bytes, cases[index].max_bytes,
                  got);
        char what[64];
        snprintf(what, sizeof(what), "max_bytes %d partition_max_bytes %d",
                 cases[index].max_bytes, cases[index].partition_max_bytes);
        expect_fetched(got, offsets, cases[index].batches, 0, what);
    }
    const int64_t next[2] = {1, FETCH_BATCHES};
    struct fetched got[2];
    fetch_two(&client, next, 1 << 20, FETCH_LIMIT, got);
    expect_fetched(got, next, 1, 0, "the deferred batch comes next");
    client_close(&client);
    broker_stop_and_destroy(&broker);
}

Test(limits, fetch_limits_below_two_batches_return_one_whole_batch_one_shard, .timeout = 60)
{
    fetch_one_partition_limits(1);
}

Test(limits, fetch_limits_below_two_batches_return_one_whole_batch_two_shards, .timeout = 60)
{
    fetch_one_partition_limits(2);
}

/* Both partitions have data: only the first batch of the first partition with data may pass
 * a limit; a batch of the second partition that would pass max_bytes waits. */
static void
fetch_two_partition_limits(uint32_t cores)
{
    struct broker_process broker;
    struct client client;
    fetch_broker(&broker, &client, cores);
    const int64_t both[2] = {0, 0};
    const int32_t batch = (int32_t)FETCH_BATCH;
    const struct {
        int32_t max_bytes, partition_max_bytes;
        uint32_t batches0, batches1;
    } cases[] = {
        {1, 1 << 20, 1, 0},           {FETCH_LIMIT, 1 << 20, 1, 0},
        {2 * batch - 1, 1 << 20, 1, 0}, {2 * batch, FETCH_LIMIT, 1, 1},
        {2 * batch, 1 << 20, 2, 0},     {1 << 20, FETCH_LIMIT, 1, 1},
    };
    for (size_t index = 0; index < sizeof(cases) / sizeof(cases[0]); index++) {
        struct fetched got[2];
        fetch_two(&client, both, cases[index].partition_max_bytes, cases[index].max_bytes, got);
        char what[64];
        snprintf(what, sizeof(what), "max_bytes %d partition_max_bytes %d",
                 cases[index].max_bytes, cases[index].partition_max_bytes);
        expect_fetched(got, both, cases[index].batches0, cases[index].batches1, what);
    }
    const int64_t second[2] = {FETCH_BATCHES, 0};
    struct fetched got[2];
    fetch_two(&client, second, 1 << 20, 1, got);
    expect_fetched(got, second, 0, 1, "the first partition with data gets its first batch");
    client_close(&client);
    broker_stop_and_destroy(&broker);
}

Test(limits, fetch_max_bytes_defers_the_second_partition_one_shard, .timeout = 60)
{
    fetch_two_partition_limits(1);
}

Test(limits, fetch_max_bytes_defers_the_second_partition_two_shards, .timeout = 60)
{
    fetch_two_partition_limits(2);
}
