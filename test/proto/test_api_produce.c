/*
 * test/proto/test_api_produce.c - Produce bodies (proto/api_produce.h):
 * request and response round trips through a frame with the generic checks
 * of wire_fixture.h; records carrying real record batches (two back to back,
 * one of them compressed) that still verify after the trip; acks=0 frames
 * with the no-response flag; null and overlong records refused.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "core/error.h"
#include "proto/api_produce.h"
#include "proto/batch.h"
#include "test/proto/wire_fixture.h"

#define RECORDS_BYTES_MAX 2048

static uint8_t records[RECORDS_BYTES_MAX];
static size_t records_bytes;
static uint8_t body[4096];

/* Two batches back to back: one uncompressed, one zstd. */
static void
build_records(void)
{
    static uint8_t plain[1024];
    static uint8_t scratch[1024];
    struct sb_batch_builder builder;
    struct sb_record record = {.key = "k", .key_length = 1, .value = "value",
                               .value_length = 5, .timestamp_ms = 1700000000000LL};
    const uint8_t *batch;
    uint32_t batch_bytes;
    records_bytes = 0;
    for (int i = 0; i < 2; i++) {
        sb_batch_builder_init(&builder, plain, sizeof(plain), record.timestamp_ms);
        cr_assert_eq(sb_batch_builder_add(&builder, &record), 0);
        cr_assert_eq(sb_batch_builder_add(&builder, &record), 0);
        enum sb_compression codec = i == 0 ? SB_COMPRESSION_NONE : SB_COMPRESSION_ZSTD;
        cr_assert_eq(sb_batch_builder_finish(&builder, codec, scratch, sizeof(scratch), &batch,
                                             &batch_bytes), 0);
        memcpy(records + records_bytes, batch, batch_bytes);
        records_bytes += batch_bytes;
    }
}

static struct sb_produce_partition produce_partitions[2];
static struct sb_produce_topic produce_topics[2];

static int
encode_produce_request(struct sb_wire_writer *writer)
{
    build_records();
    produce_partitions[0] = (struct sb_produce_partition){
        .partition = 0, .records = {records, (uint32_t)records_bytes}};
    produce_partitions[1] = (struct sb_produce_partition){
        .partition = 7, .records = {records, 0}};
    produce_topics[0] = (struct sb_produce_topic){
        .name = {"orders", 6}, .partitions = produce_partitions, .partition_count = 2};
    produce_topics[1] = (struct sb_produce_topic){.name = {"empty", 5}};
    struct sb_produce_request request = {
        .acks = SB_PRODUCE_ACKS_ALL, .timeout_ms = 30000, .topics = produce_topics,
        .topic_count = 2,
    };
    fixture_frame_begin(writer, SB_API_PRODUCE, false);
    sb_produce_request_encode(writer, &request);
    return sb_frame_finish(writer);
}

Test(api_produce, request_round_trip_keeps_batches_intact)
{
    struct sb_frame frame = fixture_encode(encode_produce_request, "produce_request");
    struct sb_produce_request request;
    cr_assert_eq(sb_produce_request_decode(frame.body, frame.body_bytes, &request), 0);
    cr_assert_eq(request.acks, -1);
    cr_assert_eq(request.timeout_ms, 30000);
    cr_assert(fixture_string_is(request.transactional_id, NULL));
    cr_assert_eq(request.topic_count, 2);
    struct sb_produce_topic topic;
    struct sb_produce_partition partition;
    cr_assert_eq(sb_produce_request_next_topic(&request, &topic), 1);
    cr_assert(fixture_string_is(topic.name, "orders"));
    cr_assert_eq(topic.partition_count, 2);
    cr_assert_eq(sb_produce_topic_next_partition(&topic, &partition), 1);
    cr_assert_eq(partition.partition, 0);
    cr_assert_eq(partition.records.length, records_bytes);
    cr_assert_geq(partition.records.data, frame.body, "records point into the frame");
    struct sb_batch_header header;
    cr_assert_eq(sb_batch_verify(partition.records.data, partition.records.length, 1u << 20,
                                 &header), 0);
    cr_assert_eq(sb_batch_verify(partition.records.data + header.batch_bytes,
                                 partition.records.length - header.batch_bytes, 1u << 20,
                                 &header), 0);
    cr_assert_eq(sb_produce_topic_next_partition(&topic, &partition), 1);
    cr_assert_eq(partition.partition, 7);
    cr_assert_eq(partition.records.length, 0);
    cr_assert_not_null(partition.records.data, "empty, not null");
    cr_assert_eq(sb_produce_topic_next_partition(&topic, &partition), 0);
    cr_assert_eq(sb_produce_request_next_topic(&request, &topic), 1);
    cr_assert(fixture_string_is(topic.name, "empty"));
    cr_assert_eq(sb_produce_topic_next_partition(&topic, &partition), 0);
    cr_assert_eq(sb_produce_request_next_topic(&request, &topic), 0);
}

static int
encode_produce_request_acks0(struct sb_wire_writer *writer)
{
    build_records();
    struct sb_produce_partition partition = {.partition = 3,
                                             .records = {records, (uint32_t)records_bytes}};
    struct sb_produce_topic topic = {.name = {"logs", 4}, .partitions = &partition,
                                     .partition_count = 1};
    struct sb_produce_request request = {
        .acks = SB_PRODUCE_ACKS_NONE, .timeout_ms = 0,
        .transactional_id = {"reserved", 8}, .topics = &topic, .topic_count = 1,
    };
    struct sb_frame_header header = {.api_key = SB_API_PRODUCE, .correlation_id = 7,
                                     .flags = SB_FRAME_FLAG_NO_RESPONSE};
    sb_frame_begin(writer, &header);
    sb_produce_request_encode(writer, &request);
    return sb_frame_finish(writer);
}

Test(api_produce, acks_zero_request_sets_the_no_response_flag)
{
    struct sb_frame frame = fixture_encode(encode_produce_request_acks0,
                                           "produce_request_acks0");
    cr_assert_eq(frame.header.flags, SB_FRAME_FLAG_NO_RESPONSE);
    struct sb_produce_request request;
    cr_assert_eq(sb_produce_request_decode(frame.body, frame.body_bytes, &request), 0);
    cr_assert_eq(request.acks, 0);
    cr_assert(fixture_string_is(request.transactional_id, "reserved"),
              "decoded as given; the broker refuses it");
}

Test(api_produce, null_or_overlong_records_are_corrupt)
{
    struct sb_frame frame = fixture_encode(encode_produce_request, "produce_request");
    memcpy(body, frame.body, frame.body_bytes);
    /* acks 2, timeout 4, transactional id 2, topics count 4, name 2 + 6, partitions count 4,
     * partition 4, then records' length. */
    size_t records_length_offset = 2 + 4 + 2 + 4 + 8 + 4 + 4;
    struct sb_produce_request request;
    fixture_poke_u32(body + records_length_offset, SB_WIRE_BYTES_NULL);
    cr_assert_eq(sb_produce_request_decode(body, frame.body_bytes, &request), SB_ECORRUPT);
    fixture_poke_u32(body + records_length_offset, (uint32_t)frame.body_bytes);
    cr_assert_eq(sb_produce_request_decode(body, frame.body_bytes, &request), SB_ECORRUPT);
    fixture_poke_u32(body + records_length_offset, 0x80000000u);
    cr_assert_eq(sb_produce_request_decode(body, frame.body_bytes, &request), SB_ECORRUPT);
    fixture_poke_u32(body + records_length_offset, (uint32_t)records_bytes);
    cr_assert_eq(sb_produce_request_decode(body, frame.body_bytes, &request), 0);
    fixture_poke_u32(body + 8, 0x10000000u);
    cr_assert_eq(sb_produce_request_decode(body, frame.body_bytes, &request), SB_ECORRUPT,
                 "a topic count that cannot fit");
}

static const struct sb_produce_partition_response produce_results[] = {
    {.partition = 0, .error_code = 0, .base_offset = 1000, .log_append_time_ms = -1,
     .log_start_offset = 0},
    {.partition = 1, .error_code = SB_WIRE_ERROR_CORRUPT_MESSAGE, .base_offset = -1,
     .log_append_time_ms = -1, .log_start_offset = -1},
    {.partition = 2, .error_code = 0, .base_offset = INT64_MAX - 5,
     .log_append_time_ms = 1700000000123LL, .log_start_offset = 42},
};

static int
encode_produce_response(struct sb_wire_writer *writer)
{
    struct sb_produce_topic_response topic = {.name = {"orders", 6},
                                              .partitions = produce_results,
                                              .partition_count = 3};
    struct sb_produce_response response = {.topics = &topic, .topic_count = 1,
                                           .throttle_ms = 250};
    fixture_frame_begin(writer, SB_API_PRODUCE, true);
    sb_produce_response_encode(writer, &response);
    return sb_frame_finish(writer);
}

Test(api_produce, response_round_trip)
{
    struct sb_frame frame = fixture_encode(encode_produce_response, "produce_response");
    struct sb_produce_response response;
    cr_assert_eq(sb_produce_response_decode(frame.body, frame.body_bytes, &response), 0);
    cr_assert_eq(response.throttle_ms, 250);
    cr_assert_eq(response.topic_count, 1);
    struct sb_produce_topic_response topic;
    cr_assert_eq(sb_produce_response_next_topic(&response, &topic), 1);
    cr_assert(fixture_string_is(topic.name, "orders"));
    struct sb_produce_partition_response partition;
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(sb_produce_topic_response_next_partition(&topic, &partition), 1);
        cr_assert_eq(partition.partition, produce_results[i].partition);
        cr_assert_eq(partition.error_code, produce_results[i].error_code);
        cr_assert_eq(partition.base_offset, produce_results[i].base_offset);
        cr_assert_eq(partition.log_append_time_ms, produce_results[i].log_append_time_ms);
        cr_assert_eq(partition.log_start_offset, produce_results[i].log_start_offset);
    }
    cr_assert_eq(sb_produce_topic_response_next_partition(&topic, &partition), 0);
    cr_assert_eq(sb_produce_response_next_topic(&response, &topic), 0);
}

Test(api_produce, encoder_refuses_a_null_topic_name)
{
    uint8_t buffer[256];
    struct sb_wire_writer writer;
    sb_wire_writer_init(&writer, buffer, sizeof(buffer));
    struct sb_produce_topic topic = {.name = {NULL, 0}};
    struct sb_produce_request request = {.acks = 1, .topics = &topic, .topic_count = 1};
    cr_assert_eq(sb_produce_request_encode(&writer, &request), -EINVAL);
    struct sb_produce_partition partition = {.partition = 0, .records = {NULL, 0}};
    topic = (struct sb_produce_topic){.name = {"t", 1}, .partitions = &partition,
                                      .partition_count = 1};
    sb_wire_writer_init(&writer, buffer, sizeof(buffer));
    cr_assert_eq(sb_produce_request_encode(&writer, &request), -EINVAL, "null records");
}
