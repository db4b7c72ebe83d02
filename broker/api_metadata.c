/*
 * broker/api_metadata.c - the APIs the connection's shard answers alone, from its copy of
 * the topic table (route LOCAL, api.h): ApiVersions (the registry's ranges and the broker's
 * limits), Metadata (topics, partitions, owning shards and their ports) and ListTopics.
 *
 * Each decode keeps what its encode needs at the start of the request's scratch, and
 * reserves the response for the largest answer the table can give.
 */
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "broker/api.h"
#include "broker/broker_private.h"
#include "broker/group_coordinator.h"
#include "proto/api_admin.h"
#include "proto/api_meta.h"

static int list_topics_compare(const void *left, const void *right);

/* ApiVersions: the registry's ranges (api.c), the version string and the limits. */
int16_t
api_versions_decode(struct broker_shard *self, struct request *request)
{
    return request_reserve_response(request, 64 + (uint64_t)api_key_limit() * 6)
               ? SB_WIRE_ERROR_NONE : SB_WIRE_ERROR_BROKER_BUSY;
}

int
api_versions_encode(struct broker_shard *self, struct request *request,
                    struct sb_wire_writer *writer)
{
    struct sb_api_version_range ranges[SB_API_COUNT];
    SB_ASSERT(api_key_limit() <= SB_ARRAY_COUNT(ranges));
    const struct sb_broker_config *config = &self->broker->config;
    struct sb_api_versions_response response = {
        .apis = ranges,
        .api_count = api_version_ranges(ranges, SB_ARRAY_COUNT(ranges)),
        .broker_version = sb_wire_string_from_cstr("streambus " SB_VERSION),
        .frame_bytes_max = config->max_frame_bytes,
        .batch_bytes_max = config->max_message_bytes,
    };
    return sb_api_versions_response_encode(writer, &response);
}

/* ListTopics: the decoded request, then one entry per topic, in the scratch. */
struct list_topics_scratch {
    struct sb_list_topics_request decoded; /* The prefix (borrowed from the frame). */
    struct sb_list_topics_entry entries[];  /* Room for every topic of the table. */
};

int16_t
list_topics_decode(struct broker_shard *self, struct request *request)
{
    const uint8_t *body;
    uint32_t body_bytes;
    request_body(request, &body, &body_bytes);
    struct sb_list_topics_request decoded;
    if (sb_list_topics_request_decode(body, body_bytes, &decoded) != 0) {
        return SB_WIRE_ERROR_INVALID_REQUEST;
    }
    uint32_t count = self->metadata.topic_count;
    if (!request_reserve_scratch(request, sizeof(struct list_topics_scratch) +
                                              (uint64_t)count *
                                                  sizeof(struct sb_list_topics_entry) + 64) ||
        !request_reserve_response(request, (uint64_t)count * (SB_WIRE_TOPIC_NAME_BYTES_MAX + 16))) {
        return SB_WIRE_ERROR_BROKER_BUSY;
    }
    ((struct list_topics_scratch *)(void *)request->scratch)->decoded = decoded;
    return SB_WIRE_ERROR_NONE;
}

/* Every topic whose name starts with the prefix, sorted; internal topics only for a prefix
 * that names them (starts with "__"). */
int
list_topics_encode(struct broker_shard *self, struct request *request,
                   struct sb_wire_writer *writer)
{
    struct list_topics_scratch *scratch = (struct list_topics_scratch *)(void *)request->scratch;
    struct sb_wire_string prefix = scratch->decoded.prefix;
    bool internal_asked = group_topic_is_internal(prefix.chars, prefix.length);
    uint32_t used = 0;
    for (uint32_t index = 0; index < SB_TOPICS_MAX; index++) {
        const struct sb_topic *topic = &self->metadata.topics[index];
        bool internal = group_topic_is_internal(topic->name, topic->name_length);
        if (!topic->used || topic->name_length < prefix.length ||
            memcmp(topic->name, prefix.chars, prefix.length) != 0 ||
            (internal && !internal_asked)) {
            continue;
        }
        scratch->entries[used++] = (struct sb_list_topics_entry){
            .name = {topic->name, topic->name_length},
            .topic_id = topic->topic_id,
            .partition_count = (int32_t)topic->partition_count,
            .internal = internal ? 1 : 0,
        };
    }
    qsort(scratch->entries, used, sizeof(scratch->entries[0]), list_topics_compare);
    struct sb_list_topics_response response = {.topics = scratch->entries,
                                                .topic_count = used};
    return sb_list_topics_response_encode(writer, &response);
}

/* docs/protocol.md lists topics sorted by name: bytewise, a prefix first. */
static int
list_topics_compare(const void *left, const void *right)
{
    return sb_wire_string_compare(((const struct sb_list_topics_entry *)left)->name,
                                  ((const struct sb_list_topics_entry *)right)->name);
}

/* Metadata for one topic into `out`, its partitions into `partitions` (scratch). */
static void
metadata_topic(struct broker_shard *self, const struct sb_topic *topic,
                       struct sb_metadata_topic *out, struct sb_metadata_partition *partitions)
{
    for (uint32_t index = 0; index < topic->partition_count; index++) {
        const struct sb_assignment_entry *entry = sb_assignment_get(&self->assignment,
                                                                    topic->topic_id, index);
        partitions[index] = (struct sb_metadata_partition){
            .partition = (int32_t)index,
            .leader = entry->leader,
            .shard = (int32_t)entry->shard,
        };
    }
    *out = (struct sb_metadata_topic){
        .name = {topic->name, topic->name_length},
        .topic_id = topic->topic_id,
        .partitions = partitions,
        .partition_count = topic->partition_count,
    };
}

/* Counts the topics and partitions a Metadata request names (all when all_topics). */
static void
metadata_count(struct broker_shard *self, struct sb_metadata_request *decoded,
                       uint32_t *topics_out, uint64_t *partitions_out)
{
    *topics_out = 0;
    *partitions_out = 0;
    if (decoded->all_topics) {
        for (uint32_t index = 0; index < SB_TOPICS_MAX; index++) {
            if (self->metadata.topics[index].used) {
                (*topics_out)++;
                *partitions_out += self->metadata.topics[index].partition_count;
            }
        }
        return;
    }
    struct sb_metadata_request cursor = *decoded;
    struct sb_wire_string name;
    while (sb_metadata_request_next_topic(&cursor, &name) == 1) {
        struct sb_topic *topic = sb_metadata_find(&self->metadata, name.chars, name.length);
        (*topics_out)++;
        *partitions_out += topic != NULL ? topic->partition_count : 0;
    }
}

/* Metadata: the decoded request and the response's arrays, in the scratch: topic_count
 * topics, then their partitions, then one entry per shard. */
struct metadata_scratch {
    struct sb_metadata_request decoded; /* Names asked for (borrowed from the frame). */
    uint32_t topic_count;               /* Topics answered. */
    struct sb_metadata_topic topics[];  /* topic_count, then the partitions and shards. */
};

int
metadata_encode(struct broker_shard *self, struct request *request,
                struct sb_wire_writer *writer)
{
    struct metadata_scratch *scratch = (struct metadata_scratch *)(void *)request->scratch;
    struct sb_metadata_request *decoded = &scratch->decoded;
    struct sb_metadata_topic *topics = scratch->topics;
    struct sb_metadata_partition *partitions =
        (struct sb_metadata_partition *)(void *)(topics + scratch->topic_count);
    const struct sb_broker_config *config = &self->broker->config;
    uint32_t used = 0;
    uint64_t partition_used = 0;
    for (uint32_t index = 0; decoded->all_topics && index < SB_TOPICS_MAX; index++) {
        const struct sb_topic *topic = &self->metadata.topics[index];
        /* Internal topics only when asked for by name. */
        if (topic->used && !group_topic_is_internal(topic->name, topic->name_length)) {
            metadata_topic(self, topic, &topics[used++], partitions + partition_used);
            partition_used += topic->partition_count;
        }
    }
    struct sb_wire_string name;
    while (!decoded->all_topics && sb_metadata_request_next_topic(decoded, &name) == 1) {
        struct sb_topic *topic = sb_metadata_find(&self->metadata, name.chars, name.length);
        if (topic == NULL) {
            topics[used++] = (struct sb_metadata_topic){
                .error_code = SB_WIRE_ERROR_UNKNOWN_TOPIC_OR_PARTITION, .name = name};
            continue;
        }
        metadata_topic(self, topic, &topics[used++], partitions + partition_used);
        partition_used += topic->partition_count;
    }
    uint32_t shard_count = self->metadata.shard_count;
    struct sb_metadata_shard *shards = (struct sb_metadata_shard *)(void *)(partitions +
                                                                            partition_used);
    for (uint32_t shard = 0; shard < shard_count; shard++) {
        shards[shard] = (struct sb_metadata_shard){(int32_t)shard,
                                                   (int32_t)(config->listen_port + 1 + shard)};
    }
    struct sb_metadata_broker broker = {
        .node_id = config->node_id, .host = sb_wire_string_from_cstr(config->listen_host),
        .port = config->listen_port, .shards = shards, .shard_count = shard_count,
    };
    struct sb_metadata_response response = {.brokers = &broker, .broker_count = 1,
                                            .topics = topics, .topic_count = used};
    return sb_metadata_response_encode(writer, &response);
}

int16_t
metadata_decode(struct broker_shard *self, struct request *request)
{
    const uint8_t *body;
    uint32_t body_bytes;
    request_body(request, &body, &body_bytes);
    struct sb_metadata_request decoded;
    if (sb_metadata_request_decode(body, body_bytes, &decoded) != 0 ||
        (!decoded.all_topics && decoded.topic_cursor.count > SB_BROKER_REQUEST_TOPICS_MAX)) {
        return SB_WIRE_ERROR_INVALID_REQUEST; /* Undecodable, or past the work bound. */
    }
    uint32_t topic_count;
    uint64_t partition_count;
    metadata_count(self, &decoded, &topic_count, &partition_count);
    uint64_t scratch = sizeof(struct metadata_scratch) +
                       (uint64_t)topic_count * sizeof(struct sb_metadata_topic) +
                       partition_count * sizeof(struct sb_metadata_partition) +
                       (uint64_t)self->metadata.shard_count * sizeof(struct sb_metadata_shard);
    /* Names asked for are echoed back, known or not: they all lie in the request's body. */
    uint64_t names_bytes = decoded.all_topics ? (uint64_t)topic_count * SB_WIRE_TOPIC_NAME_BYTES_MAX
                                              : body_bytes;
    uint64_t response = names_bytes + (uint64_t)topic_count * 16 + partition_count * 16 +
                        (uint64_t)self->metadata.shard_count * 8 + 128;
    if (!request_reserve_scratch(request, scratch + 64) ||
        !request_reserve_response(request, response)) {
        return SB_WIRE_ERROR_BROKER_BUSY;
    }
    struct metadata_scratch *kept = (struct metadata_scratch *)(void *)request->scratch;
    kept->decoded = decoded;
    kept->topic_count = topic_count;
    return SB_WIRE_ERROR_NONE;
}
