/*
 * test/fuzz/wire_walk.c - one walker per body decoder (wire_walk.h). Each
 * decodes, then drains every iterator, asserting that iteration cannot fail
 * after a successful decode, that element counts match, and that every
 * string and bytes field points inside the body. Produce and Fetch records
 * are also split into record batches with sb_batch_verify.
 */
#include "test/fuzz/wire_walk.h"

#include <errno.h>

#include "core/assert.h"
#include "core/base.h"
#include "proto/api_admin.h"
#include "proto/api_fetch.h"
#include "proto/api_group.h"
#include "proto/api_meta.h"
#include "proto/api_produce.h"
#include "proto/api_producer.h"
#include "proto/batch.h"

/* Batches looked at per records field, and the largest batch accepted while walking. */
#define WALK_BATCHES_MAX 64
#define WALK_BATCH_BYTES_MAX (1u << 20)

/* The body being walked: every pointer handed out must lie inside it. */
static const uint8_t *walk_body_start;
static const uint8_t *walk_body_end;

static void
walk_begin(const uint8_t *body, size_t body_bytes)
{
    walk_body_start = body;
    walk_body_end = body + body_bytes;
}

/* An iterator's return after a successful decode: 1 (element) or 0 (end), never an error. */
static bool
walk_next(int result)
{
    SB_ASSERT(result == 0 || result == 1);
    return result == 1;
}

static void
walk_range(const void *data, size_t length)
{
    const uint8_t *bytes = data;
    SB_ASSERT(bytes >= walk_body_start);
    SB_ASSERT(bytes <= walk_body_end);
    SB_ASSERT(length <= (size_t)(walk_body_end - bytes));
}

static void
walk_string(struct sb_wire_string string)
{
    if (string.chars == NULL) {
        SB_ASSERT(string.length == 0);
        return;
    }
    walk_range(string.chars, string.length);
}

static void
walk_string_required(struct sb_wire_string string)
{
    SB_ASSERT(string.chars != NULL);
    walk_string(string);
}

/* Splits records into batches as the broker and the consumer will. */
static void
walk_records(struct sb_wire_bytes records)
{
    SB_ASSERT(records.data != NULL);
    walk_range(records.data, records.length);
    const uint8_t *cursor = records.data;
    size_t remaining = records.length;
    for (int i = 0; i < WALK_BATCHES_MAX && remaining > 0; i++) {
        struct sb_batch_header header;
        if (sb_batch_verify(cursor, remaining, WALK_BATCH_BYTES_MAX, &header) != 0) {
            return;
        }
        SB_ASSERT(header.batch_bytes <= remaining);
        cursor += header.batch_bytes;
        remaining -= header.batch_bytes;
    }
}

static int
walk_api_versions_request(const uint8_t *body, size_t body_bytes)
{
    return sb_api_versions_request_decode(body, body_bytes);
}

static int
walk_api_versions_response(const uint8_t *body, size_t body_bytes)
{
    struct sb_api_versions_response response;
    int error = sb_api_versions_response_decode(body, body_bytes, &response);
    if (error != 0) {
        return error;
    }
    walk_begin(body, body_bytes);
    walk_string_required(response.broker_version);
    struct sb_api_version_range range;
    uint32_t count = 0;
    while (walk_next(sb_api_versions_response_next_api(&response, &range))) {
        count++;
    }
    SB_ASSERT(count == response.api_count);
    SB_ASSERT(sb_api_versions_response_next_api(&response, &range) == 0);
    return 0;
}

static int
walk_metadata_request(const uint8_t *body, size_t body_bytes)
{
    struct sb_metadata_request request;
    int error = sb_metadata_request_decode(body, body_bytes, &request);
    if (error != 0) {
        return error;
    }
    walk_begin(body, body_bytes);
    if (request.all_topics) {
        SB_ASSERT(request.topic_count == 0);
    }
    struct sb_wire_string name;
    uint32_t count = 0;
    while (walk_next(sb_metadata_request_next_topic(&request, &name))) {
        walk_string_required(name);
        count++;
    }
    SB_ASSERT(count == request.topic_count);
    return 0;
}

static void
walk_metadata_broker(struct sb_metadata_broker *broker)
{
    walk_string_required(broker->host);
    SB_ASSERT(broker->shards == NULL);
    struct sb_metadata_shard shard;
    uint32_t count = 0;
    while (walk_next(sb_metadata_broker_next_shard(broker, &shard))) {
        count++;
    }
    SB_ASSERT(count == broker->shard_count);
}

static void
walk_metadata_topic(struct sb_metadata_topic *topic)
{
    walk_string_required(topic->name);
    SB_ASSERT(topic->partitions == NULL);
    struct sb_metadata_partition partition;
    uint32_t count = 0;
    while (walk_next(sb_metadata_topic_next_partition(topic, &partition))) {
        count++;
    }
    SB_ASSERT(count == topic->partition_count);
}

static int
walk_metadata_response(const uint8_t *body, size_t body_bytes)
{
    struct sb_metadata_response response;
    int error = sb_metadata_response_decode(body, body_bytes, &response);
    if (error != 0) {
        return error;
    }
    walk_begin(body, body_bytes);
    struct sb_metadata_broker broker;
    uint32_t brokers = 0;
    while (walk_next(sb_metadata_response_next_broker(&response, &broker))) {
        walk_metadata_broker(&broker);
        brokers++;
    }
    SB_ASSERT(brokers == response.broker_count);
    struct sb_metadata_topic topic;
    uint32_t topics = 0;
    while (walk_next(sb_metadata_response_next_topic(&response, &topic))) {
        walk_metadata_topic(&topic);
        topics++;
    }
    SB_ASSERT(topics == response.topic_count);
    return 0;
}

static int
walk_produce_request(const uint8_t *body, size_t body_bytes)
{
    struct sb_produce_request request;
    int error = sb_produce_request_decode(body, body_bytes, &request);
    if (error != 0) {
        return error;
    }
    walk_begin(body, body_bytes);
    walk_string(request.transactional_id);
    struct sb_produce_topic topic;
    uint32_t topics = 0;
    while (walk_next(sb_produce_request_next_topic(&request, &topic))) {
        walk_string_required(topic.name);
        struct sb_produce_partition partition;
        uint32_t partitions = 0;
        while (walk_next(sb_produce_topic_next_partition(&topic, &partition))) {
            walk_records(partition.records);
            partitions++;
        }
        SB_ASSERT(partitions == topic.partition_count);
        topics++;
    }
    SB_ASSERT(topics == request.topic_count);
    return 0;
}

static int
walk_produce_response(const uint8_t *body, size_t body_bytes)
{
    struct sb_produce_response response;
    int error = sb_produce_response_decode(body, body_bytes, &response);
    if (error != 0) {
        return error;
    }
    walk_begin(body, body_bytes);
    struct sb_produce_topic_response topic;
    uint32_t topics = 0;
    while (walk_next(sb_produce_response_next_topic(&response, &topic))) {
        walk_string_required(topic.name);
        struct sb_produce_partition_response partition;
        uint32_t partitions = 0;
        while (walk_next(sb_produce_topic_response_next_partition(&topic, &partition))) {
            partitions++;
        }
        SB_ASSERT(partitions == topic.partition_count);
        topics++;
    }
    SB_ASSERT(topics == response.topic_count);
    return 0;
}

static int walk_fetch_request_version(const uint8_t *body, size_t body_bytes,
                                      uint16_t api_version);

static int
walk_fetch_request(const uint8_t *body, size_t body_bytes)
{
    return walk_fetch_request_version(body, body_bytes, 0);
}

static int
walk_fetch_request_v1(const uint8_t *body, size_t body_bytes)
{
    return walk_fetch_request_version(body, body_bytes, 1);
}

static int
walk_fetch_request_version(const uint8_t *body, size_t body_bytes, uint16_t api_version)
{
    struct sb_fetch_request request;
    int error = sb_fetch_request_decode(body, body_bytes, api_version, &request);
    if (error != 0) {
        return error;
    }
    walk_begin(body, body_bytes);
    struct sb_fetch_topic topic;
    uint32_t topics = 0;
    while (walk_next(sb_fetch_request_next_topic(&request, &topic))) {
        walk_string_required(topic.name);
        struct sb_fetch_partition partition;
        uint32_t partitions = 0;
        while (walk_next(sb_fetch_topic_next_partition(&topic, &partition))) {
            partitions++;
        }
        SB_ASSERT(partitions == topic.partition_count);
        topics++;
    }
    SB_ASSERT(topics == request.topic_count);
    return 0;
}

static int
walk_fetch_response(const uint8_t *body, size_t body_bytes)
{
    struct sb_fetch_response response;
    int error = sb_fetch_response_decode(body, body_bytes, &response);
    if (error != 0) {
        return error;
    }
    walk_begin(body, body_bytes);
    struct sb_fetch_topic_response topic;
    uint32_t topics = 0;
    while (walk_next(sb_fetch_response_next_topic(&response, &topic))) {
        walk_string_required(topic.name);
        struct sb_fetch_partition_response partition;
        uint32_t partitions = 0;
        while (walk_next(sb_fetch_topic_response_next_partition(&topic, &partition))) {
            walk_records(partition.records);
            partitions++;
        }
        SB_ASSERT(partitions == topic.partition_count);
        topics++;
    }
    SB_ASSERT(topics == response.topic_count);
    return 0;
}

static int
walk_list_offsets_request(const uint8_t *body, size_t body_bytes)
{
    struct sb_list_offsets_request request;
    int error = sb_list_offsets_request_decode(body, body_bytes, &request);
    if (error != 0) {
        return error;
    }
    walk_begin(body, body_bytes);
    struct sb_list_offsets_topic topic;
    uint32_t topics = 0;
    while (walk_next(sb_list_offsets_request_next_topic(&request, &topic))) {
        walk_string_required(topic.name);
        struct sb_list_offsets_partition partition;
        uint32_t partitions = 0;
        while (walk_next(sb_list_offsets_topic_next_partition(&topic, &partition))) {
            partitions++;
        }
        SB_ASSERT(partitions == topic.partition_count);
        topics++;
    }
    SB_ASSERT(topics == request.topic_count);
    return 0;
}

static int
walk_list_offsets_response(const uint8_t *body, size_t body_bytes)
{
    struct sb_list_offsets_response response;
    int error = sb_list_offsets_response_decode(body, body_bytes, &response);
    if (error != 0) {
        return error;
    }
    walk_begin(body, body_bytes);
    struct sb_list_offsets_topic_response topic;
    uint32_t topics = 0;
    while (walk_next(sb_list_offsets_response_next_topic(&response, &topic))) {
        walk_string_required(topic.name);
        struct sb_list_offsets_partition_response partition;
        uint32_t partitions = 0;
        while (walk_next(sb_list_offsets_topic_response_next_partition(&topic, &partition))) {
            partitions++;
        }
        SB_ASSERT(partitions == topic.partition_count);
        topics++;
    }
    SB_ASSERT(topics == response.topic_count);
    return 0;
}

static int
walk_init_producer_id_request(const uint8_t *body, size_t body_bytes)
{
    struct sb_init_producer_id_request request;
    int error = sb_init_producer_id_request_decode(body, body_bytes, &request);
    if (error == 0) {
        walk_begin(body, body_bytes);
        walk_string(request.transactional_id);
    }
    return error;
}

static int
walk_init_producer_id_response(const uint8_t *body, size_t body_bytes)
{
    struct sb_init_producer_id_response response;
    return sb_init_producer_id_response_decode(body, body_bytes, &response);
}

static void
walk_config(const struct sb_topic_config *config)
{
    walk_string_required(config->key);
    walk_string(config->value);
}

static int
walk_create_topics_request(const uint8_t *body, size_t body_bytes)
{
    struct sb_create_topics_request request;
    int error = sb_create_topics_request_decode(body, body_bytes, &request);
    if (error != 0) {
        return error;
    }
    walk_begin(body, body_bytes);
    struct sb_create_topic topic;
    uint32_t topics = 0;
    while (walk_next(sb_create_topics_request_next_topic(&request, &topic))) {
        walk_string_required(topic.name);
        struct sb_topic_config config;
        uint32_t configs = 0;
        while (walk_next(sb_create_topic_next_config(&topic, &config))) {
            walk_config(&config);
            configs++;
        }
        SB_ASSERT(configs == topic.config_count);
        topics++;
    }
    SB_ASSERT(topics == request.topic_count);
    return 0;
}

static int
walk_create_topics_response(const uint8_t *body, size_t body_bytes)
{
    struct sb_create_topics_response response;
    int error = sb_create_topics_response_decode(body, body_bytes, &response);
    if (error != 0) {
        return error;
    }
    walk_begin(body, body_bytes);
    struct sb_create_topic_result result;
    uint32_t count = 0;
    while (walk_next(sb_create_topics_response_next_topic(&response, &result))) {
        walk_string_required(result.name);
        walk_string(result.error_message);
        count++;
    }
    SB_ASSERT(count == response.topic_count);
    return 0;
}

static int
walk_delete_topics_request(const uint8_t *body, size_t body_bytes)
{
    struct sb_delete_topics_request request;
    int error = sb_delete_topics_request_decode(body, body_bytes, &request);
    if (error != 0) {
        return error;
    }
    walk_begin(body, body_bytes);
    struct sb_wire_string name;
    uint32_t count = 0;
    while (walk_next(sb_delete_topics_request_next_name(&request, &name))) {
        walk_string_required(name);
        count++;
    }
    SB_ASSERT(count == request.name_count);
    return 0;
}

static int
walk_delete_topics_response(const uint8_t *body, size_t body_bytes)
{
    struct sb_delete_topics_response response;
    int error = sb_delete_topics_response_decode(body, body_bytes, &response);
    if (error != 0) {
        return error;
    }
    walk_begin(body, body_bytes);
    struct sb_delete_topic_result result;
    uint32_t count = 0;
    while (walk_next(sb_delete_topics_response_next_topic(&response, &result))) {
        walk_string_required(result.name);
        count++;
    }
    SB_ASSERT(count == response.topic_count);
    return 0;
}

static int
walk_list_topics_request(const uint8_t *body, size_t body_bytes)
{
    struct sb_list_topics_request request;
    int error = sb_list_topics_request_decode(body, body_bytes, &request);
    if (error == 0) {
        walk_begin(body, body_bytes);
        walk_string_required(request.prefix);
    }
    return error;
}

static int
walk_list_topics_response(const uint8_t *body, size_t body_bytes)
{
    struct sb_list_topics_response response;
    int error = sb_list_topics_response_decode(body, body_bytes, &response);
    if (error != 0) {
        return error;
    }
    walk_begin(body, body_bytes);
    struct sb_list_topics_entry entry;
    uint32_t count = 0;
    while (walk_next(sb_list_topics_response_next_topic(&response, &entry))) {
        walk_string_required(entry.name);
        count++;
    }
    SB_ASSERT(count == response.topic_count);
    return 0;
}

static int
walk_describe_topic_request(const uint8_t *body, size_t body_bytes)
{
    struct sb_describe_topic_request request;
    int error = sb_describe_topic_request_decode(body, body_bytes, &request);
    if (error == 0) {
        walk_begin(body, body_bytes);
        walk_string_required(request.name);
    }
    return error;
}

static int
walk_describe_topic_response(const uint8_t *body, size_t body_bytes)
{
    struct sb_describe_topic_response response;
    int error = sb_describe_topic_response_decode(body, body_bytes, &response);
    if (error != 0) {
        return error;
    }
    walk_begin(body, body_bytes);
    walk_string_required(response.name);
    struct sb_describe_topic_partition partition;
    uint32_t partitions = 0;
    while (walk_next(sb_describe_topic_response_next_partition(&response, &partition))) {
        partitions++;
    }
    SB_ASSERT(partitions == response.partition_count);
    struct sb_topic_config config;
    uint32_t configs = 0;
    while (walk_next(sb_describe_topic_response_next_config(&response, &config))) {
        walk_config(&config);
        configs++;
    }
    SB_ASSERT(configs == response.config_count);
    return 0;
}

static int
walk_alter_topic_config_request(const uint8_t *body, size_t body_bytes)
{
    struct sb_alter_topic_config_request request;
    int error = sb_alter_topic_config_request_decode(body, body_bytes, &request);
    if (error != 0) {
        return error;
    }
    walk_begin(body, body_bytes);
    walk_string_required(request.name);
    struct sb_topic_config config;
    uint32_t count = 0;
    while (walk_next(sb_alter_topic_config_request_next_config(&request, &config))) {
        walk_config(&config);
        count++;
    }
    SB_ASSERT(count == request.config_count);
    return 0;
}

static int
walk_alter_topic_config_response(const uint8_t *body, size_t body_bytes)
{
    struct sb_alter_topic_config_response response;
    int error = sb_alter_topic_config_response_decode(body, body_bytes, &response);
    if (error == 0) {
        walk_begin(body, body_bytes);
        walk_string(response.error_message);
    }
    return error;
}

static int
walk_health_request(const uint8_t *body, size_t body_bytes)
{
    return sb_health_request_decode(body, body_bytes);
}

static int
walk_health_response(const uint8_t *body, size_t body_bytes)
{
    struct sb_health_response response;
    int error = sb_health_response_decode(body, body_bytes, &response);
    if (error != 0) {
        return error;
    }
    struct sb_health_shard shard;
    uint32_t count = 0;
    while (walk_next(sb_health_response_next_shard(&response, &shard))) {
        count++;
    }
    SB_ASSERT(count == response.shard_count);
    return 0;
}

/* Drains a topic-partition set's partitions. */
static void
walk_tpset(struct sb_group_tpset *set)
{
    int32_t partition;
    uint32_t count = 0;
    while (walk_next(sb_group_tpset_next_partition(set, &partition))) {
        count++;
    }
    SB_ASSERT(count == set->partition_count);
}

/* Drains an array of topic-partition sets through next (a request's or response's iterator
 * over owner); returns how many there were. */
static uint32_t
walk_tpsets(void *owner, int (*next)(void *owner, struct sb_group_tpset *out))
{
    struct sb_group_tpset set;
    uint32_t count = 0;
    while (walk_next(next(owner, &set))) {
        walk_tpset(&set);
        count++;
    }
    return count;
}

/* Drains the topics of committed offsets to store (OffsetCommit, AlterGroupOffsets). */
static uint32_t
walk_commit_topics(void *owner, int (*next)(void *owner, struct sb_offset_commit_topic *out))
{
    struct sb_offset_commit_topic topic;
    uint32_t topics = 0;
    while (walk_next(next(owner, &topic))) {
        walk_string_required(topic.name);
        struct sb_offset_commit_partition partition;
        uint32_t partitions = 0;
        while (walk_next(sb_offset_commit_topic_next_partition(&topic, &partition))) {
            walk_string(partition.metadata);
            partitions++;
        }
        SB_ASSERT(partitions == topic.partition_count);
        topics++;
    }
    return topics;
}

static int
next_commit_topic(void *owner, struct sb_offset_commit_topic *out)
{
    return sb_offset_commit_request_next_topic(owner, out);
}

static int
next_alter_topic(void *owner, struct sb_offset_commit_topic *out)
{
    return sb_alter_group_offsets_request_next_topic(owner, out);
}

static int
walk_offset_commit_request(const uint8_t *body, size_t body_bytes)
{
    struct sb_offset_commit_request request;
    int error = sb_offset_commit_request_decode(body, body_bytes, &request);
    if (error != 0) {
        return error;
    }
    walk_begin(body, body_bytes);
    walk_string_required(request.group_id);
    walk_string_required(request.member_id);
    SB_ASSERT(walk_commit_topics(&request, next_commit_topic) == request.topic_count);
    return 0;
}

static int
walk_alter_group_offsets_request(const uint8_t *body, size_t body_bytes)
{
    struct sb_alter_group_offsets_request request;
    int error = sb_alter_group_offsets_request_decode(body, body_bytes, &request);
    if (error != 0) {
        return error;
    }
    walk_begin(body, body_bytes);
    walk_string_required(request.group_id);
    SB_ASSERT(walk_commit_topics(&request, next_alter_topic) == request.topic_count);
    return 0;
}

static int
walk_offset_commit_response(const uint8_t *body, size_t body_bytes)
{
    struct sb_offset_commit_response response;
    int error = sb_offset_commit_response_decode(body, body_bytes, &response);
    if (error != 0) {
        return error;
    }
    walk_begin(body, body_bytes);
    struct sb_offset_commit_topic_result topic;
    uint32_t topics = 0;
    while (walk_next(sb_offset_commit_response_next_topic(&response, &topic))) {
        walk_string_required(topic.name);
        struct sb_offset_commit_partition_result result;
        uint32_t partitions = 0;
        while (walk_next(sb_offset_commit_topic_result_next_partition(&topic, &result))) {
            partitions++;
        }
        SB_ASSERT(partitions == topic.partition_count);
        topics++;
    }
    SB_ASSERT(topics == response.topic_count);
    return 0;
}

static int
walk_offset_fetch_request(const uint8_t *body, size_t body_bytes)
{
    struct sb_offset_fetch_request request;
    int error = sb_offset_fetch_request_decode(body, body_bytes, &request);
    if (error != 0) {
        return error;
    }
    walk_begin(body, body_bytes);
    walk_string_required(request.group_id);
    SB_ASSERT(!request.all_topics || request.topic_count == 0);
    struct sb_offset_fetch_topic topic;
    uint32_t topics = 0;
    while (walk_next(sb_offset_fetch_request_next_topic(&request, &topic))) {
        walk_string_required(topic.name);
        int32_t partition;
        uint32_t partitions = 0;
        while (walk_next(sb_offset_fetch_topic_next_partition(&topic, &partition))) {
            partitions++;
        }
        SB_ASSERT(partitions == topic.partition_count);
        topics++;
    }
    SB_ASSERT(topics == request.topic_count);
    return 0;
}

/* Drains one topic of committed offsets with next (OffsetFetch's or DescribeGroup's). */
static void
walk_offset_topic(struct sb_group_offset_topic *topic,
                  int (*next)(struct sb_group_offset_topic *topic, struct sb_group_offset *out))
{
    walk_string_required(topic->name);
    struct sb_group_offset offset;
    uint32_t count = 0;
    while (walk_next(next(topic, &offset))) {
        walk_string(offset.metadata);
        count++;
    }
    SB_ASSERT(count == topic->offset_count);
}

static int
walk_offset_fetch_response(const uint8_t *body, size_t body_bytes)
{
    struct sb_offset_fetch_response response;
    int error = sb_offset_fetch_response_decode(body, body_bytes, &response);
    if (error != 0) {
        return error;
    }
    walk_begin(body, body_bytes);
    struct sb_group_offset_topic topic;
    uint32_t topics = 0;
    while (walk_next(sb_offset_fetch_response_next_topic(&response, &topic))) {
        walk_offset_topic(&topic, sb_offset_fetch_topic_next_offset);
        topics++;
    }
    SB_ASSERT(topics == response.topic_count);
    return 0;
}

static int
next_owned(void *owner, struct sb_group_tpset *out)
{
    return sb_group_heartbeat_request_next_owned(owner, out);
}

static int
walk_group_heartbeat_request(const uint8_t *body, size_t body_bytes)
{
    struct sb_group_heartbeat_request request;
    int error = sb_group_heartbeat_request_decode(body, body_bytes, &request);
    if (error != 0) {
        return error;
    }
    walk_begin(body, body_bytes);
    walk_string_required(request.group_id);
    walk_string_required(request.member_id);
    walk_string(request.instance_id);
    walk_string(request.topic_regex);
    walk_string(request.server_assignor);
    struct sb_wire_string name;
    uint32_t names = 0;
    while (walk_next(sb_group_heartbeat_request_next_topic_name(&request, &name))) {
        walk_string_required(name);
        names++;
    }
    SB_ASSERT(names == request.topic_name_count);
    SB_ASSERT(walk_tpsets(&request, next_owned) == request.owned_count);
    return 0;
}

static int
next_assignment(void *owner, struct sb_group_tpset *out)
{
    return sb_group_heartbeat_response_next_assignment(owner, out);
}

static int
walk_group_heartbeat_response(const uint8_t *body, size_t body_bytes)
{
    struct sb_group_heartbeat_response response;
    int error = sb_group_heartbeat_response_decode(body, body_bytes, &response);
    if (error != 0) {
        return error;
    }
    walk_begin(body, body_bytes);
    walk_string(response.error_message);
    walk_string_required(response.member_id);
    SB_ASSERT(walk_tpsets(&response, next_assignment) == response.assignment_count);
    return 0;
}

static int
walk_list_groups_request(const uint8_t *body, size_t body_bytes)
{
    struct sb_list_groups_request request;
    int error = sb_list_groups_request_decode(body, body_bytes, &request);
    if (error != 0) {
        return error;
    }
    int8_t state;
    uint32_t count = 0;
    while (walk_next(sb_list_groups_request_next_state(&request, &state))) {
        count++;
    }
    SB_ASSERT(count == request.state_count);
    return 0;
}

static int
walk_list_groups_response(const uint8_t *body, size_t body_bytes)
{
    struct sb_list_groups_response response;
    int error = sb_list_groups_response_decode(body, body_bytes, &response);
    if (error != 0) {
        return error;
    }
    walk_begin(body, body_bytes);
    struct sb_list_groups_entry entry;
    uint32_t count = 0;
    while (walk_next(sb_list_groups_response_next_group(&response, &entry))) {
        walk_string_required(entry.group_id);
        count++;
    }
    SB_ASSERT(count == response.group_count);
    return 0;
}

static int
walk_group_id_request(const uint8_t *body, size_t body_bytes)
{
    struct sb_group_id_request request;
    int error = sb_group_id_request_decode(body, body_bytes, &request);
    if (error == 0) {
        walk_begin(body, body_bytes);
        walk_string_required(request.group_id);
    }
    return error;
}

static int
next_member_assignment(void *owner, struct sb_group_tpset *out)
{
    return sb_group_member_next_assignment(owner, out);
}

static int
next_member_target(void *owner, struct sb_group_tpset *out)
{
    return sb_group_member_next_target(owner, out);
}

static void
walk_member(struct sb_group_member_description *member)
{
    walk_string_required(member->member_id);
    walk_string(member->instance_id);
    walk_string(member->topic_regex);
    struct sb_wire_string name;
    uint32_t names = 0;
    while (walk_next(sb_group_member_next_topic_name(member, &name))) {
        walk_string_required(name);
        names++;
    }
    SB_ASSERT(names == member->topic_name_count);
    SB_ASSERT(walk_tpsets(member, next_member_assignment) == member->assignment_count);
    SB_ASSERT(walk_tpsets(member, next_member_target) == member->target_count);
}

static int
walk_describe_group_response(const uint8_t *body, size_t body_bytes)
{
    struct sb_describe_group_response response;
    int error = sb_describe_group_response_decode(body, body_bytes, &response);
    if (error != 0) {
        return error;
    }
    walk_begin(body, body_bytes);
    walk_string_required(response.group_id);
    walk_string_required(response.assignor);
    struct sb_group_member_description member;
    uint32_t members = 0;
    while (walk_next(sb_describe_group_response_next_member(&response, &member))) {
        walk_member(&member);
        members++;
    }
    SB_ASSERT(members == response.member_count);
    struct sb_group_offset_topic topic;
    uint32_t topics = 0;
    while (walk_next(sb_describe_group_response_next_offset_topic(&response, &topic))) {
        walk_offset_topic(&topic, sb_described_offset_topic_next_offset);
        topics++;
    }
    SB_ASSERT(topics == response.offset_topic_count);
    return 0;
}

static int
walk_delete_group_response(const uint8_t *body, size_t body_bytes)
{
    struct sb_delete_group_response response;
    return sb_delete_group_response_decode(body, body_bytes, &response);
}

const struct wire_walker wire_walkers[] = {
    {SB_API_API_VERSIONS, 0, false, "api_versions_request", walk_api_versions_request},
    {SB_API_API_VERSIONS, 0, true, "api_versions_response", walk_api_versions_response},
    {SB_API_METADATA, 0, false, "metadata_request", walk_metadata_request},
    {SB_API_METADATA, 0, true, "metadata_response", walk_metadata_response},
    {SB_API_PRODUCE, 0, false, "produce_request", walk_produce_request},
    {SB_API_PRODUCE, 0, true, "produce_response", walk_produce_response},
    {SB_API_FETCH, 0, false, "fetch_request", walk_fetch_request},
    {SB_API_FETCH, 0, true, "fetch_response", walk_fetch_response},
    {SB_API_FETCH, 1, false, "fetch_request_v1", walk_fetch_request_v1},
    {SB_API_FETCH, 1, true, "fetch_response_v1", walk_fetch_response},
    {SB_API_LIST_OFFSETS, 0, false, "list_offsets_request", walk_list_offsets_request},
    {SB_API_LIST_OFFSETS, 0, true, "list_offsets_response", walk_list_offsets_response},
    {SB_API_INIT_PRODUCER_ID, 0, false, "init_producer_id_request", walk_init_producer_id_request},
    {SB_API_INIT_PRODUCER_ID, 0, true, "init_producer_id_response",
     walk_init_producer_id_response},
    {SB_API_CREATE_TOPICS, 0, false, "create_topics_request", walk_create_topics_request},
    {SB_API_CREATE_TOPICS, 0, true, "create_topics_response", walk_create_topics_response},
    {SB_API_DELETE_TOPICS, 0, false, "delete_topics_request", walk_delete_topics_request},
    {SB_API_DELETE_TOPICS, 0, true, "delete_topics_response", walk_delete_topics_response},
    {SB_API_LIST_TOPICS, 0, false, "list_topics_request", walk_list_topics_request},
    {SB_API_LIST_TOPICS, 0, true, "list_topics_response", walk_list_topics_response},
    {SB_API_DESCRIBE_TOPIC, 0, false, "describe_topic_request", walk_describe_topic_request},
    {SB_API_DESCRIBE_TOPIC, 0, true, "describe_topic_response", walk_describe_topic_response},
    {SB_API_ALTER_TOPIC_CONFIG, 0, false, "alter_topic_config_request",
     walk_alter_topic_config_request},
    {SB_API_ALTER_TOPIC_CONFIG, 0, true, "alter_topic_config_response",
     walk_alter_topic_config_response},
    {SB_API_HEALTH, 0, false, "health_request", walk_health_request},
    {SB_API_HEALTH, 0, true, "health_response", walk_health_response},
    {SB_API_OFFSET_COMMIT, 0, false, "offset_commit_request", walk_offset_commit_request},
    {SB_API_OFFSET_COMMIT, 0, true, "offset_commit_response", walk_offset_commit_response},
    {SB_API_OFFSET_FETCH, 0, false, "offset_fetch_request", walk_offset_fetch_request},
    {SB_API_OFFSET_FETCH, 0, true, "offset_fetch_response", walk_offset_fetch_response},
    {SB_API_GROUP_HEARTBEAT, 0, false, "group_heartbeat_request", walk_group_heartbeat_request},
    {SB_API_GROUP_HEARTBEAT, 0, true, "group_heartbeat_response",
     walk_group_heartbeat_response},
    {SB_API_LIST_GROUPS, 0, false, "list_groups_request", walk_list_groups_request},
    {SB_API_LIST_GROUPS, 0, true, "list_groups_response", walk_list_groups_response},
    {SB_API_DESCRIBE_GROUP, 0, false, "describe_group_request", walk_group_id_request},
    {SB_API_DESCRIBE_GROUP, 0, true, "describe_group_response", walk_describe_group_response},
    {SB_API_DELETE_GROUP, 0, false, "delete_group_request", walk_group_id_request},
    {SB_API_DELETE_GROUP, 0, true, "delete_group_response", walk_delete_group_response},
    {SB_API_ALTER_GROUP_OFFSETS, 0, false, "alter_group_offsets_request",
     walk_alter_group_offsets_request},
    {SB_API_ALTER_GROUP_OFFSETS, 0, true, "alter_group_offsets_response",
     walk_offset_commit_response},
};

const size_t wire_walker_count = SB_ARRAY_COUNT(wire_walkers);

int
wire_walk(uint16_t api_key, uint16_t api_version, bool response, const uint8_t *body,
          size_t body_bytes)
{
    for (size_t i = 0; i < wire_walker_count; i++) {
        if (wire_walkers[i].api_key == api_key && wire_walkers[i].api_version == api_version &&
            wire_walkers[i].response == response) {
            return wire_walkers[i].walk(body, body_bytes);
        }
    }
    return -ENOENT;
}
