/*
 * broker/api_topics.c - the APIs that ask the owning shards about their partitions and
 * state (route OWNERS, api.h, split by router.c):
 *   DescribeTopic  one describe_part per partition of the topic; each owner fills in its
 *                  partitions' offsets; the configs come from the connection's shard's table.
 *   Health         one op on every shard, without parts; each fills in its own entry
 *                  (connections, partitions owned, state) of the request's state.
 */
#include <stdio.h>

#include "core/assert.h"
#include "core/clock.h"
#include "broker/api.h"
#include "broker/router.h"
#include "broker/topic_config.h"
#include "proto/api_admin.h"
#include "proto/api_meta.h"

/* One partition of a DescribeTopic request. */
struct describe_part {
    struct part part;         /* Topic, partition, owner, error, op. */
    int64_t log_start_offset; /* The owner's answer (0 when it has none). */
    int64_t high_watermark;   /* The owner's answer. */
    int64_t log_end_offset;   /* The owner's answer. */
};

static struct describe_part *
describe_part_at(const struct request *request, uint32_t index)
{
    return (struct describe_part *)(void *)router_part(request, index);
}

/* DescribeTopic: one part per partition of the topic, answered by their owners. */
int16_t
describe_topic_decode(struct broker_shard *self, struct request *request)
{
    const uint8_t *body;
    uint32_t body_bytes;
    request_body(request, &body, &body_bytes);
    struct sb_describe_topic_request decoded;
    if (sb_describe_topic_request_decode(body, body_bytes, &decoded) != 0) {
        return SB_WIRE_ERROR_INVALID_REQUEST;
    }
    struct sb_topic *topic = sb_metadata_find(&self->metadata, decoded.name.chars,
                                              decoded.name.length);
    struct router_layout layout = {
        .topic_count = 1, .part_count = topic != NULL ? topic->partition_count : 0,
        .part_bytes = sizeof(struct describe_part), .op_bytes = sizeof(struct op)};
    layout.extra_bytes =
        (uint64_t)layout.part_count * sizeof(struct sb_describe_topic_partition) +
        SB_TOPIC_CONFIG_COUNT * (sizeof(struct sb_topic_config) + SB_TOPIC_CONFIG_TEXT_BYTES);
    int16_t error = router_reserve(request, &layout);
    if (error != SB_WIRE_ERROR_NONE) {
        return error;
    }
    if (!request_reserve_response(request, (uint64_t)layout.part_count * 40 +
                                               decoded.name.length + 4096)) {
        return SB_WIRE_ERROR_BROKER_BUSY;
    }
    request->topics[0] = decoded.name;
    for (uint32_t index = 0; index < layout.part_count; index++) {
        struct part *part = router_part(request, index);
        part->partition = (int32_t)index;
        router_resolve(request, part, decoded.name);
    }
    router_split(request);
    return SB_WIRE_ERROR_NONE;
}

/* The partition's leader, or -1 when its topic was deleted meanwhile. */
static int32_t
describe_leader(struct broker_shard *self, const struct part *part)
{
    const struct sb_assignment_entry *entry =
        sb_assignment_find(&self->assignment, part->topic_id, (uint32_t)part->partition);
    return entry != NULL ? entry->leader : -1;
}

int
describe_topic_encode(struct broker_shard *self, struct request *request,
                      struct sb_wire_writer *writer)
{
    struct sb_topic *topic = sb_metadata_find(&self->metadata, request->topics[0].chars,
                                              request->topics[0].length);
    struct sb_describe_topic_partition *partitions = request->extra;
    struct sb_topic_config *configs =
        (struct sb_topic_config *)(void *)(partitions + request->part_count);
    struct sb_describe_topic_response response = {.name = request->topics[0]};
    if (topic == NULL) {
        response.error_code = SB_WIRE_ERROR_UNKNOWN_TOPIC_OR_PARTITION;
        return sb_describe_topic_response_encode(writer, &response);
    }
    for (uint32_t index = 0; index < request->part_count; index++) {
        const struct describe_part *part = describe_part_at(request, index);
        partitions[index] = (struct sb_describe_topic_partition){
            .partition = part->part.partition, .leader = describe_leader(self, &part->part),
            .shard = (int32_t)part->part.owner, .log_start_offset = part->log_start_offset,
            .high_watermark = part->high_watermark, .log_end_offset = part->log_end_offset};
    }
    response.topic_id = topic->topic_id;
    response.partitions = partitions;
    response.partition_count = request->part_count;
    response.configs = configs;
    response.config_count = sb_topic_config_describe(topic, configs,
                                                     (char *)(configs + SB_TOPIC_CONFIG_COUNT));
    return sb_describe_topic_response_encode(writer, &response);
}

/* The owner: its partitions' offsets. */
void
describe_topic_execute(struct broker_shard *self, struct op *op)
{
    for (uint32_t index = 0; index < op->part_count; index++) {
        struct describe_part *part = describe_part_at(op->request, op->parts[index]);
        struct sb_partition *partition = router_partition(self, &part->part, NULL);
        if (partition != NULL) {
            part->log_start_offset = sb_partition_log_start_offset(partition);
            part->high_watermark = sb_partition_high_watermark(partition);
            part->log_end_offset = sb_partition_log_end_offset(partition);
        }
    }
    if (router_op_step(self, op)) {
        router_op_finish(self, op);
    }
}

/* Health: the request's state is one sb_health_shard per shard, each filled by its shard. */
int16_t
health_decode(struct broker_shard *self, struct request *request)
{
    uint32_t shard_count = self->metadata.shard_count;
    struct router_layout layout = {
        .part_bytes = sizeof(struct part), .op_bytes = sizeof(struct op),
        .state_bytes = shard_count * sizeof(struct sb_health_shard)};
    int16_t error = router_reserve(request, &layout);
    if (error != SB_WIRE_ERROR_NONE) {
        return error;
    }
    if (!request_reserve_response(request, 64 + (uint64_t)shard_count * 16)) {
        return SB_WIRE_ERROR_BROKER_BUSY;
    }
    router_split_every_shard(request);
    return SB_WIRE_ERROR_NONE;
}

int
health_encode(struct broker_shard *self, struct request *request, struct sb_wire_writer *writer)
{
    struct sb_health_response response = {
        .status = self->stopping ? SB_HEALTH_STOPPING : SB_HEALTH_SERVING,
        .node_id = self->broker->config.node_id,
        .uptime_ms = (int64_t)((sb_io_now_ns(self->io) - self->broker->started_ns) /
                               SB_NS_PER_MS),
        .shards = request->state,
        .shard_count = self->metadata.shard_count,
    };
    return sb_health_response_encode(writer, &response);
}

/* Health on one shard: its entry of the answer (the request's state, borrowed with the op). */
void
health_execute(struct broker_shard *self, struct op *op)
{
    uint32_t partitions = 0;
    for (uint32_t index = 0; index < SB_TOPICS_MAX; index++) {
        const struct sb_topic *topic = &self->metadata.topics[index];
        for (uint32_t partition = 0; topic->used && partition < topic->partition_count;
             partition++) {
            partitions += sb_assignment_owner(&self->assignment, topic->topic_id, partition) ==
                          self->id;
        }
    }
    struct sb_health_shard *shards = op->request->state;
    shards[self->id] = (struct sb_health_shard){
        .shard_id = (int32_t)self->id, .status = self->stopping ? 2 : 0,
        .connections = (int32_t)self->net.conn_count, .partitions = (int32_t)partitions,
    };
    if (router_op_step(self, op)) {
        router_op_finish(self, op);
    }
}
