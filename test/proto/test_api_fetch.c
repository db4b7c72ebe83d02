/*
 * test/proto/test_api_fetch.c - Fetch and ListOffsets bodies
 * (proto/api_fetch.h): request and response round trips through a frame
 * with the generic checks of wire_fixture.h; a Fetch response carrying a
 * real record batch that still verifies; forged counts and null records
 * refused.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "core/error.h"
#include "proto/api_fetch.h"
#include "proto/batch.h"
#include "test/proto/wire_fixture.h"

static uint8_t body[4096];

static const struct sb_fetch_partition fetch_partitions[] = {
    {.partition = 0, .fetch_offset = 0, .partition_max_bytes = 1 << 20},
    {.partition = 5, .fetch_offset = INT64_MAX, .partition_max_bytes = 1},
};

static int
encode_fetch_request(struct sb_wire_writer *writer)
{
    struct sb_fetch_topic topics[] = {
        {.name = {"orders", 6}, .partitions = fetch_partitions, .partition_count = 2},
        {.name = {"idle", 4}},
    };
    struct sb_fetch_request request = {
        .max_wait_ms = 500, .min_bytes = 1, .max_bytes = 50 << 20,
        .isolation_level = SB_FETCH_ISOLATION_READ_UNCOMMITTED, .topics = topics,
        .topic_count = 2,
    };
    fixture_frame_begin(writer, SB_API_FETCH, false);
    sb_fetch_request_encode(writer, &request);
    return sb_frame_finish(writer);
}

Test(api_fetch, fetch_request_round_trip)
{
    struct sb_frame frame = fixture_encode(encode_fetch_request, "fetch_request");
    struct sb_fetch_request request;
    cr_assert_eq(sb_fetch_request_decode(frame.body, frame.body_bytes, 0, &request), 0);
    cr_assert_eq(request.max_wait_ms, 500);
    cr_assert_eq(request.min_bytes, 1);
    cr_assert_eq(request.max_bytes, 50 << 20);
    cr_assert_eq(request.isolation_level, 0);
    cr_assert_eq(request.topic_count, 2);
    struct sb_fetch_topic topic;
    struct sb_fetch_partition partition;
    cr_assert_eq(sb_fetch_request_next_topic(&request, &topic), 1);
    cr_assert(fixture_string_is(topic.name, "orders"));
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(sb_fetch_topic_next_partition(&topic, &partition), 1);
        cr_assert_eq(partition.partition, fetch_partitions[i].partition);
        cr_assert_eq(partition.fetch_offset, fetch_partitions[i].fetch_offset);
        cr_assert_eq(partition.partition_max_bytes, fetch_partitions[i].partition_max_bytes);
    }
    cr_assert_eq(sb_fetch_topic_next_partition(&topic, &partition), 0);
    cr_assert_eq(sb_fetch_request_next_topic(&request, &topic), 1);
    cr_assert(fixture_string_is(topic.name, "idle"));
    cr_assert_eq(topic.partition_count, 0);
    cr_assert_eq(sb_fetch_request_next_topic(&request, &topic), 0);
}

Test(api_fetch, fetch_request_with_forged_partition_count_is_corrupt)
{
    struct sb_frame frame = fixture_encode(encode_fetch_request, "fetch_request");
    memcpy(body, frame.body, frame.body_bytes);
    /* 13 fixed bytes, topic count 4, name 2 + 6, then the partition count. */
    size_t partition_count_offset = 13 + 4 + 8;
    cr_assert_eq(body[partition_count_offset], 2);
    struct sb_fetch_request request;
    fixture_poke_u32(body + partition_count_offset, 3);
    cr_assert_eq(sb_fetch_request_decode(body, frame.body_bytes, 0, &request), SB_ECORRUPT);
    fixture_poke_u32(body + partition_count_offset, 1);
    cr_assert_eq(sb_fetch_request_decode(body, frame.body_bytes, 0, &request), SB_ECORRUPT,
                 "the second partition is read as the next topic");
}

static uint8_t batch_bytes[1024];
static uint32_t batch_length;

static int
encode_fetch_response(struct sb_wire_writer *writer)
{
    struct sb_batch_builder builder;
    struct sb_record record = {.key = NULL, .key_length = -1, .value = "hello",
                               .value_length = 5, .timestamp_ms = 5};
    const uint8_t *batch;
    sb_batch_builder_init(&builder, batch_bytes, sizeof(batch_bytes), 5);
    cr_assert_eq(sb_batch_builder_add(&builder, &record), 0);
    cr_assert_eq(sb_batch_builder_finish(&builder, SB_COMPRESSION_NONE, NULL, 0, &batch,
                                         &batch_length), 0);
    sb_batch_assign_offset(batch_bytes, 41);
    struct sb_fetch_partition_response partitions[] = {
        {.partition = 0, .error_code = 0, .high_watermark = 42, .log_start_offset = 0,
         .last_stable_offset = 42, .records = {batch, batch_length}},
        {.partition = 5, .error_code = SB_WIRE_ERROR_OFFSET_OUT_OF_RANGE, .high_watermark = 42,
         .log_start_offset = 0, .last_stable_offset = 42, .records = {batch, 0}},
    };
    struct sb_fetch_topic_response topic = {.name = {"orders", 6}, .partitions = partitions,
                                            .partition_count = 2};
    struct sb_fetch_response response = {.throttle_ms = 0, .topics = &topic, .topic_count = 1};
    fixture_frame_begin(writer, SB_API_FETCH, true);
    sb_fetch_response_encode(writer, &response);
    return sb_frame_finish(writer);
}

Test(api_fetch, fetch_response_round_trip_with_a_batch)
{
    struct sb_frame frame = fixture_encode(encode_fetch_response, "fetch_response");
    struct sb_fetch_response response;
    cr_assert_eq(sb_fetch_response_decode(frame.body, frame.body_bytes, &response), 0);
    cr_assert_eq(response.throttle_ms, 0);
    struct sb_fetch_topic_response topic;
    cr_assert_eq(sb_fetch_response_next_topic(&response, &topic), 1);
    cr_assert(fixture_string_is(topic.name, "orders"));
    struct sb_fetch_partition_response partition;
    cr_assert_eq(sb_fetch_topic_response_next_partition(&topic, &partition), 1);
    cr_assert_eq(partition.high_watermark, 42);
    cr_assert_eq(partition.last_stable_offset, 42);
    cr_assert_eq(partition.records.length, batch_length);
    struct sb_batch_header header;
    cr_assert_eq(sb_batch_verify(partition.records.data, partition.records.length, 1u << 20,
                                 &header), 0);
    cr_assert_eq(header.base_offset, 41);
    cr_assert_eq(sb_fetch_topic_response_next_partition(&topic, &partition), 1);
    cr_assert_eq(partition.error_code, SB_WIRE_ERROR_OFFSET_OUT_OF_RANGE);
    cr_assert_eq(partition.records.length, 0);
    cr_assert_eq(sb_fetch_topic_response_next_partition(&topic, &partition), 0);
    cr_assert_eq(sb_fetch_response_next_topic(&response, &topic), 0);
}

Test(api_fetch, fetch_response_with_null_records_is_corrupt)
{
    struct sb_frame frame = fixture_encode(encode_fetch_response, "fetch_response");
    memcpy(body, frame.body, frame.body_bytes);
    /* throttle 4, topics 4, name 2 + 6, partitions 4, partition fields 30. */
    size_t records_length_offset = 4 + 4 + 8 + 4 + 30;
    cr_assert_eq(body[records_length_offset], batch_length);
    fixture_poke_u32(body + records_length_offset, SB_WIRE_BYTES_NULL);
    struct sb_fetch_response response;
    cr_assert_eq(sb_fetch_response_decode(body, frame.body_bytes, &response), SB_ECORRUPT);
}

static const struct sb_list_offsets_partition list_offsets_partitions[] = {
    {.partition = 0, .timestamp = SB_LIST_OFFSETS_EARLIEST},
    {.partition = 1, .timestamp = SB_LIST_OFFSETS_LATEST},
    {.partition = 2, .timestamp = 1700000000000LL},
};

static int
encode_list_offsets_request(struct sb_wire_writer *writer)
{
    struct sb_list_offsets_topic topic = {.name = {"orders", 6},
                                          .partitions = list_offsets_partitions,
                                          .partition_count = 3};
    struct sb_list_offsets_request request = {.topics = &topic, .topic_count = 1};
    fixture_frame_begin(writer, SB_API_LIST_OFFSETS, false);
    sb_list_offsets_request_encode(writer, &request);
    return sb_frame_finish(writer);
}

Test(api_fetch, list_offsets_request_round_trip)
{
    struct sb_frame frame = fixture_encode(encode_list_offsets_request, "list_offsets_request");
    struct sb_list_offsets_request request;
    cr_assert_eq(sb_list_offsets_request_decode(frame.body, frame.body_bytes, &request), 0);
    struct sb_list_offsets_topic topic;
    cr_assert_eq(sb_list_offsets_request_next_topic(&request, &topic), 1);
    cr_assert(fixture_string_is(topic.name, "orders"));
    struct sb_list_offsets_partition partition;
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(sb_list_offsets_topic_next_partition(&topic, &partition), 1);
        cr_assert_eq(partition.partition, list_offsets_partitions[i].partition);
        cr_assert_eq(partition.timestamp, list_offsets_partitions[i].timestamp);
    }
    cr_assert_eq(sb_list_offsets_topic_next_partition(&topic, &partition), 0);
    cr_assert_eq(sb_list_offsets_request_next_topic(&request, &topic), 0);
}

static const struct sb_list_offsets_partition_response list_offsets_results[] = {
    {.partition = 0, .error_code = 0, .timestamp = -1, .offset = 0},
    {.partition = 1, .error_code = 0, .timestamp = -1, .offset = 42},
    {.partition = 2, .error_code = SB_WIRE_ERROR_UNKNOWN_TOPIC_OR_PARTITION, .timestamp = -1,
     .offset = -1},
};

static int
encode_list_offsets_response(struct sb_wire_writer *writer)
{
    struct sb_list_offsets_topic_response topic = {.name = {"orders", 6},
                                                   .partitions = list_offsets_results,
                                                   .partition_count = 3};
    struct sb_list_offsets_response response = {.topics = &topic, .topic_count = 1};
    fixture_frame_begin(writer, SB_API_LIST_OFFSETS, true);
    sb_list_offsets_response_encode(writer, &response);
    return sb_frame_finish(writer);
}

Test(api_fetch, list_offsets_response_round_trip)
{
    struct sb_frame frame = fixture_encode(encode_list_offsets_response,
                                           "list_offsets_response");
    struct sb_list_offsets_response response;
    cr_assert_eq(sb_list_offsets_response_decode(frame.body, frame.body_bytes, &response), 0);
    struct sb_list_offsets_topic_response topic;
    cr_assert_eq(sb_list_offsets_response_next_topic(&response, &topic), 1);
    struct sb_list_offsets_partition_response partition;
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(sb_list_offsets_topic_response_next_partition(&topic, &partition), 1);
        cr_assert_eq(partition.partition, list_offsets_results[i].partition);
        cr_assert_eq(partition.error_code, list_offsets_results[i].error_code);
        cr_assert_eq(partition.timestamp, list_offsets_results[i].timestamp);
        cr_assert_eq(partition.offset, list_offsets_results[i].offset);
    }
    cr_assert_eq(sb_list_offsets_topic_response_next_partition(&topic, &partition), 0);
    cr_assert_eq(sb_list_offsets_response_next_topic(&response, &topic), 0);
    memcpy(body, frame.body, frame.body_bytes);
    fixture_poke_u32(body, 2);
    cr_assert_eq(sb_list_offsets_response_decode(body, frame.body_bytes, &response),
                 SB_ECORRUPT, "a second topic that is not there");
}

/* Records placed where the layout constants say the encoder puts them are not moved, and the
 * response is the same as one encoded from records elsewhere; records placed later in the
 * same buffer (an earlier partition's records left out) are moved down intact. */
Test(api_fetch, fetch_response_records_in_place_follow_the_layout_constants)
{
    static uint8_t in_place[512];
    static uint8_t copied[512];
    static const uint8_t first[] = "first-records";
    static const uint8_t second[] = "second-records!";
    uint32_t topic_head = SB_FETCH_TOPIC_RESPONSE_HEAD_BYTES(6);
    uint32_t at_first = SB_FETCH_RESPONSE_HEAD_BYTES + topic_head +
                        SB_FETCH_PARTITION_RESPONSE_HEAD_BYTES;
    uint32_t at_second = at_first + (uint32_t)sizeof(first) +
                         SB_FETCH_PARTITION_RESPONSE_HEAD_BYTES;
    for (int dropped = 0; dropped < 2; dropped++) {
        memset(in_place, 0xee, sizeof(in_place));
        memcpy(in_place + at_first, first, sizeof(first));
        memcpy(in_place + at_second, second, sizeof(second));
        uint32_t first_bytes = dropped ? 0 : (uint32_t)sizeof(first);
        struct sb_fetch_partition_response placed[] = {
            {.partition = 1, .records = {in_place + at_first, first_bytes}},
            {.partition = 2, .records = {in_place + at_second, sizeof(second)}},
        };
        struct sb_fetch_partition_response elsewhere[] = {
            {.partition = 1, .records = {first, first_bytes}},
            {.partition = 2, .records = {second, sizeof(second)}},
        };
        struct sb_fetch_topic_response topic = {.name = {"orders", 6}, .partitions = placed,
                                                .partition_count = 2};
        struct sb_fetch_response response = {.topics = &topic, .topic_count = 1};
        struct sb_wire_writer writer;
        sb_wire_writer_init(&writer, in_place, sizeof(in_place));
        cr_assert_eq(sb_fetch_response_encode(&writer, &response), 0);
        size_t length = sb_wire_writer_length(&writer);
        topic.partitions = elsewhere;
        sb_wire_writer_init(&writer, copied, sizeof(copied));
        cr_assert_eq(sb_fetch_response_encode(&writer, &response), 0);
        cr_assert_eq(sb_wire_writer_length(&writer), length);
        cr_assert_eq(memcmp(in_place, copied, length), 0, "dropped %d", dropped);
    }
}
