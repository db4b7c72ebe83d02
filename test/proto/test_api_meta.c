/*
 * test/proto/test_api_meta.c - ApiVersions, Metadata and Health bodies
 * (proto/api_meta.h): a round trip of every request and response through a
 * frame, each with the generic checks of wire_fixture.h (truncation at
 * every byte, trailing bytes, byte flips, mutations, -ENOSPC at every
 * capacity), plus the corrupt inputs specific to each body: non-empty empty
 * bodies, null and oversized arrays, null strings where not allowed.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "core/error.h"
#include "proto/api_fetch.h"
#include "proto/api_meta.h"
#include "test/proto/wire_fixture.h"

static uint8_t body[256];

static int
encode_api_versions_request(struct sb_wire_writer *writer)
{
    fixture_frame_begin(writer, SB_API_API_VERSIONS, false);
    sb_api_versions_request_encode(writer);
    return sb_frame_finish(writer);
}

Test(api_meta, api_versions_request_round_trip)
{
    struct sb_frame frame = fixture_encode(encode_api_versions_request, "api_versions_request");
    cr_assert_eq(frame.body_bytes, 0);
    cr_assert_eq(sb_api_versions_request_decode(frame.body, 0), 0);
    cr_assert_eq(sb_api_versions_request_decode(body, 1), SB_ECORRUPT, "the body is empty");
}

static int
encode_api_versions_response(struct sb_wire_writer *writer)
{
    const struct sb_api_version_range *ranges;
    struct sb_api_versions_response response = {
        .api_count = sb_api_version_ranges(&ranges),
        .broker_version = sb_wire_string_from_cstr("0.1.0"),
        .frame_bytes_max = 16u << 20,
        .batch_bytes_max = 1u << 20,
    };
    response.apis = ranges;
    fixture_frame_begin(writer, SB_API_API_VERSIONS, true);
    sb_api_versions_response_encode(writer, &response);
    return sb_frame_finish(writer);
}

Test(api_meta, api_versions_response_round_trip)
{
    struct sb_frame frame = fixture_encode(encode_api_versions_response,
                                           "api_versions_response");
    struct sb_api_versions_response response;
    cr_assert_eq(sb_api_versions_response_decode(frame.body, frame.body_bytes, &response), 0);
    cr_assert_eq(response.api_count, SB_API_COUNT);
    cr_assert_null(response.apis);
    cr_assert(fixture_string_is(response.broker_version, "0.1.0"));
    cr_assert_eq(response.frame_bytes_max, 16u << 20);
    cr_assert_eq(response.batch_bytes_max, 1u << 20);
    struct sb_api_version_range range;
    for (uint16_t key = 0; key < SB_API_COUNT; key++) {
        cr_assert_eq(sb_api_versions_response_next_api(&response, &range), 1);
        cr_assert_eq(range.api_key, key);
        cr_assert_eq(range.min_version, 0);
        cr_assert_eq(range.max_version, key == SB_API_FETCH ? SB_FETCH_VERSION_MAX : 0);
    }
    cr_assert_eq(sb_api_versions_response_next_api(&response, &range), 0);
}

Test(api_meta, api_versions_response_with_a_forged_count_is_corrupt)
{
    struct sb_frame frame = fixture_encode(encode_api_versions_response,
                                           "api_versions_response");
    memcpy(body, frame.body, frame.body_bytes);
    fixture_poke_u32(body, SB_API_COUNT + 1);
    struct sb_api_versions_response response = {.api_count = 99};
    cr_assert_eq(sb_api_versions_response_decode(body, frame.body_bytes, &response),
                 SB_ECORRUPT);
    cr_assert_eq(response.api_count, 99, "untouched on error");
    fixture_poke_u32(body, 0x2AAAAAAA);
    cr_assert_eq(sb_api_versions_response_decode(body, frame.body_bytes, &response),
                 SB_ECORRUPT, "6 bytes each cannot fit");
}

static const struct sb_wire_string metadata_topics[] = {
    {"orders", 6},
    {"", 0},
    {"payments.eu-west_1", 18},
};

static int
encode_metadata_request(struct sb_wire_writer *writer)
{
    struct sb_metadata_request request = {.topics = metadata_topics, .topic_count = 3};
    fixture_frame_begin(writer, SB_API_METADATA, false);
    sb_metadata_request_encode(writer, &request);
    return sb_frame_finish(writer);
}

static int
encode_metadata_request_all(struct sb_wire_writer *writer)
{
    struct sb_metadata_request request = {.all_topics = true};
    fixture_frame_begin(writer, SB_API_METADATA, false);
    sb_metadata_request_encode(writer, &request);
    return sb_frame_finish(writer);
}

Test(api_meta, metadata_request_round_trip)
{
    struct sb_frame frame = fixture_encode(encode_metadata_request, "metadata_request");
    struct sb_metadata_request request;
    cr_assert_eq(sb_metadata_request_decode(frame.body, frame.body_bytes, &request), 0);
    cr_assert_not(request.all_topics);
    cr_assert_eq(request.topic_count, 3);
    struct sb_wire_string name;
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(sb_metadata_request_next_topic(&request, &name), 1);
        cr_assert_eq(name.length, metadata_topics[i].length);
        cr_assert_arr_eq(name.chars, metadata_topics[i].chars, name.length);
    }
    cr_assert_eq(sb_metadata_request_next_topic(&request, &name), 0);
}

Test(api_meta, metadata_request_for_all_topics_is_a_null_array)
{
    struct sb_frame frame = fixture_encode(encode_metadata_request_all, "metadata_request_all");
    cr_assert_eq(frame.body_bytes, 4);
    struct sb_metadata_request request;
    cr_assert_eq(sb_metadata_request_decode(frame.body, frame.body_bytes, &request), 0);
    cr_assert(request.all_topics);
    cr_assert_eq(request.topic_count, 0);
    struct sb_wire_string name;
    cr_assert_eq(sb_metadata_request_next_topic(&request, &name), 0);
    uint8_t empty[4] = {0};
    cr_assert_eq(sb_metadata_request_decode(empty, sizeof(empty), &request), 0);
    cr_assert_not(request.all_topics, "an empty array asks for no topic");
}

Test(api_meta, metadata_request_with_a_null_name_is_corrupt)
{
    uint8_t bytes[6];
    fixture_poke_u32(bytes, 1);
    fixture_poke_u16(bytes + 4, SB_WIRE_STRING_NULL);
    struct sb_metadata_request request;
    cr_assert_eq(sb_metadata_request_decode(bytes, sizeof(bytes), &request), SB_ECORRUPT);
    fixture_poke_u32(bytes, 3);
    cr_assert_eq(sb_metadata_request_decode(bytes, sizeof(bytes), &request), SB_ECORRUPT,
                 "3 names need at least 6 bytes after the count");
}

static const struct sb_metadata_shard metadata_shards[] = {{0, 9093}, {1, 9094}};
static const struct sb_metadata_broker metadata_brokers[] = {
    {.node_id = 1, .host = {"10.0.0.1", 8}, .port = 9092, .shards = metadata_shards,
     .shard_count = 2},
    {.node_id = 2, .host = {"", 0}, .port = 9092, .shards = NULL, .shard_count = 0},
};
static const struct sb_metadata_partition metadata_partitions[] = {
    {.partition = 0, .leader = 1, .shard = 0, .error_code = 0},
    {.partition = 1, .leader = -1, .shard = -1,
     .error_code = SB_WIRE_ERROR_NOT_LEADER_OR_FOLLOWER},
};
static const struct sb_metadata_topic metadata_response_topics[] = {
    {.error_code = 0, .name = {"orders", 6}, .topic_id = 17, .partitions = metadata_partitions,
     .partition_count = 2},
    {.error_code = SB_WIRE_ERROR_UNKNOWN_TOPIC_OR_PARTITION, .name = {"missing", 7},
     .topic_id = 0, .partitions = NULL, .partition_count = 0},
};

static int
encode_metadata_response(struct sb_wire_writer *writer)
{
    struct sb_metadata_response response = {
        .brokers = metadata_brokers, .broker_count = 2,
        .topics = metadata_response_topics, .topic_count = 2,
    };
    fixture_frame_begin(writer, SB_API_METADATA, true);
    sb_metadata_response_encode(writer, &response);
    return sb_frame_finish(writer);
}

static void
check_metadata_broker(struct sb_metadata_broker *broker, const struct sb_metadata_broker *want)
{
    cr_assert_eq(broker->node_id, want->node_id);
    cr_assert_eq(broker->host.length, want->host.length);
    cr_assert_arr_eq(broker->host.chars, want->host.chars, want->host.length);
    cr_assert_eq(broker->port, want->port);
    cr_assert_eq(broker->shard_count, want->shard_count);
    struct sb_metadata_shard shard;
    for (uint32_t i = 0; i < want->shard_count; i++) {
        cr_assert_eq(sb_metadata_broker_next_shard(broker, &shard), 1);
        cr_assert_eq(shard.shard_id, want->shards[i].shard_id);
        cr_assert_eq(shard.port, want->shards[i].port);
    }
    cr_assert_eq(sb_metadata_broker_next_shard(broker, &shard), 0);
}

static void
check_metadata_topic(struct sb_metadata_topic *topic, const struct sb_metadata_topic *want)
{
    cr_assert_eq(topic->error_code, want->error_code);
    cr_assert_eq(topic->name.length, want->name.length);
    cr_assert_arr_eq(topic->name.chars, want->name.chars, want->name.length);
    cr_assert_eq(topic->topic_id, want->topic_id);
    cr_assert_eq(topic->partition_count, want->partition_count);
    struct sb_metadata_partition partition;
    for (uint32_t i = 0; i < want->partition_count; i++) {
        cr_assert_eq(sb_metadata_topic_next_partition(topic, &partition), 1);
        cr_assert_eq(partition.partition, want->partitions[i].partition);
        cr_assert_eq(partition.leader, want->partitions[i].leader);
        cr_assert_eq(partition.shard, want->partitions[i].shard);
        cr_assert_eq(partition.error_code, want->partitions[i].error_code);
    }
    cr_assert_eq(sb_metadata_topic_next_partition(topic, &partition), 0);
}

Test(api_meta, metadata_response_round_trip)
{
    struct sb_frame frame = fixture_encode(encode_metadata_response, "metadata_response");
    struct sb_metadata_response response;
    cr_assert_eq(sb_metadata_response_decode(frame.body, frame.body_bytes, &response), 0);
    cr_assert_eq(response.broker_count, 2);
    cr_assert_eq(response.topic_count, 2);
    struct sb_metadata_broker broker;
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(sb_metadata_response_next_broker(&response, &broker), 1);
        check_metadata_broker(&broker, &metadata_brokers[i]);
    }
    cr_assert_eq(sb_metadata_response_next_broker(&response, &broker), 0);
    struct sb_metadata_topic topic;
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(sb_metadata_response_next_topic(&response, &topic), 1);
        check_metadata_topic(&topic, &metadata_response_topics[i]);
    }
    cr_assert_eq(sb_metadata_response_next_topic(&response, &topic), 0);
}

Test(api_meta, metadata_response_with_forged_nested_counts_is_corrupt)
{
    struct sb_frame frame = fixture_encode(encode_metadata_response, "metadata_response");
    memcpy(body, frame.body, frame.body_bytes);
    /* brokers[0]: count 4, node_id 4, host 2 + 8, port 4, then its shard count. */
    size_t shard_count_offset = 4 + 4 + 2 + 8 + 4;
    cr_assert_eq(body[shard_count_offset], 2);
    fixture_poke_u32(body + shard_count_offset, 3);
    struct sb_metadata_response response;
    cr_assert_eq(sb_metadata_response_decode(body, frame.body_bytes, &response), SB_ECORRUPT,
                 "one shard too many eats the next broker");
    fixture_poke_u32(body + shard_count_offset, UINT32_MAX);
    cr_assert_eq(sb_metadata_response_decode(body, frame.body_bytes, &response), SB_ECORRUPT);
    fixture_poke_u32(body + shard_count_offset, 2);
    fixture_poke_u32(body, SB_WIRE_ARRAY_NULL);
    cr_assert_eq(sb_metadata_response_decode(body, frame.body_bytes, &response), SB_ECORRUPT,
                 "brokers is not nullable");
}

static int
encode_health_request(struct sb_wire_writer *writer)
{
    fixture_frame_begin(writer, SB_API_HEALTH, false);
    sb_health_request_encode(writer);
    return sb_frame_finish(writer);
}

Test(api_meta, health_request_round_trip)
{
    struct sb_frame frame = fixture_encode(encode_health_request, "health_request");
    cr_assert_eq(sb_health_request_decode(frame.body, frame.body_bytes), 0);
    cr_assert_eq(sb_health_request_decode(body, 2), SB_ECORRUPT);
}

static const struct sb_health_shard health_shards[] = {
    {.shard_id = 0, .status = SB_HEALTH_SERVING, .connections = 12, .partitions = 40},
    {.shard_id = 1, .status = SB_HEALTH_DEGRADED, .connections = 0, .partitions = INT32_MAX},
};

static int
encode_health_response(struct sb_wire_writer *writer)
{
    struct sb_health_response response = {
        .status = SB_HEALTH_DEGRADED, .node_id = 3, .uptime_ms = 123456789012LL,
        .shards = health_shards, .shard_count = 2,
    };
    fixture_frame_begin(writer, SB_API_HEALTH, true);
    sb_health_response_encode(writer, &response);
    return sb_frame_finish(writer);
}

Test(api_meta, health_response_round_trip)
{
    struct sb_frame frame = fixture_encode(encode_health_response, "health_response");
    struct sb_health_response response;
    cr_assert_eq(sb_health_response_decode(frame.body, frame.body_bytes, &response), 0);
    cr_assert_eq(response.status, SB_HEALTH_DEGRADED);
    cr_assert_eq(response.node_id, 3);
    cr_assert_eq(response.uptime_ms, 123456789012LL);
    cr_assert_eq(response.shard_count, 2);
    struct sb_health_shard shard;
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(sb_health_response_next_shard(&response, &shard), 1);
        cr_assert_eq(shard.shard_id, health_shards[i].shard_id);
        cr_assert_eq(shard.status, health_shards[i].status);
        cr_assert_eq(shard.connections, health_shards[i].connections);
        cr_assert_eq(shard.partitions, health_shards[i].partitions);
    }
    cr_assert_eq(sb_health_response_next_shard(&response, &shard), 0);
    memcpy(body, frame.body, frame.body_bytes);
    fixture_poke_u32(body + 13, 3);
    cr_assert_eq(sb_health_response_decode(body, frame.body_bytes, &response), SB_ECORRUPT,
                 "3 shards of 13 bytes do not fit in 26");
}
