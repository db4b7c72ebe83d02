/*
 * broker/api_group.c - the consumer group APIs with committed offsets (route COORDINATOR,
 * api.h): each request is decoded on the connection's shard and runs as ONE op on the
 * group's coordinator shard (group_coordinator.h), which owns the group's table entry.
 *   OffsetCommit, AlterGroupOffsets  one group_part per partition; the coordinator checks
 *            the group, builds one batch of offset records ([OFFSETS-RECORD], group.h) for
 *            the partitions without error in the request's scratch, appends it to the
 *            group's offsets partition and answers once it is durable (and applied).
 *   OffsetFetch  the coordinator encodes the response body from its table into memory it
 *            allocates (sizes are only known there); the connection's shard copies it into
 *            the response and sends it back to be freed where it was allocated
 *            (MSG_GROUP_BODY_FREE; group_body_*).
 *   DeleteGroup  the coordinator appends tombstones of every offset and answers once they
 *            are durable; an empty group is dropped by them.
 *   DescribeGroup  as OffsetFetch: the coordinator encodes the group's state and offsets.
 *   GroupHeartbeat  as OffsetFetch: the coordinator runs the heartbeat through the group's
 *            membership (group_member.h; members whose session or rebalance timeout ran
 *            out leave first, here and in DescribeGroup) and encodes the answer.
 *   ListGroups  an op on every shard (as Health); each encodes its own groups, and the
 *            connection's shard merges them sorted by group id.
 * A group id that is not valid is answered INVALID_GROUP_ID without an op.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/assert.h"
#include "core/clock.h"
#include "core/error.h"
#include "broker/api.h"
#include "broker/group_coordinator.h"
#include "broker/router.h"
#include "proto/api_group.h"

/* First size tried for a body the coordinator encodes; doubled until it fits. */
#define GROUP_BODY_BYTES_MIN 4096u

/* One partition of an OffsetCommit or AlterGroupOffsets request. */
struct group_part {
    struct part part;               /* Topic, partition, error (owner unused). */
    int64_t offset;                 /* The offset to commit. */
    struct sb_wire_string metadata; /* Its metadata (borrowed from the frame). */
};

/* A group request's state on the connection's shard. */
struct group_state {
    struct sb_wire_string group_id;  /* The group (borrowed from the frame). */
    struct sb_wire_string member_id; /* OffsetCommit: the committing member. */
    int32_t member_epoch;            /* OffsetCommit: its epoch; -1 without membership. */
    bool empty_only;                 /* AlterGroupOffsets: only an empty group. */
    uint32_t partition;              /* The group's offsets partition. */
    int16_t error;                   /* Group-wide error (home or coordinator). */
    uint8_t *batch;                  /* Commits: room for the batch (scratch). */
    uint32_t batch_capacity;         /* Its bytes. */
};

/* A response body encoded on the coordinator (OffsetFetch, DescribeGroup, ListGroups): one
 * allocation there, lent to the connection's shard until copied, then freed there again. */
struct group_body {
    struct outgoing outgoing; /* Its MSG_GROUP_BODY_FREE while it waits to be sent. */
    uint32_t owner;           /* The shard that allocated it (and frees it). */
    uint32_t bytes;           /* The encoded body's length. */
    uint8_t data[];           /* The encoded body. */
};

/* The op on the coordinator. */
struct group_op {
    struct op op;             /* Request, owner, parts, pending steps, links. */
    struct group_write write; /* A commit's or a deletion's append. */
    uint8_t *tombstones;      /* DeleteGroup: the batch (allocated on the coordinator). */
    struct group_body *body;  /* OffsetFetch, DescribeGroup, ListGroups: the encoded body
                                 (the coordinator's, lent to the connection's shard). */
    int16_t error;            /* ListGroups: this shard's error (each op has its own). */
};

static struct group_part *
group_part_at(const struct request *request, uint32_t index)
{
    return (struct group_part *)(void *)router_part(request, index);
}

static struct group_op *
group_op_of(struct op *op)
{
    return (struct group_op *)(void *)op;
}

/* Home: the group's coordinator for a request whose state and parts are set: one op there,
 * or none (an invalid group id, no offsets topic: the state's error answers). */
static void
group_route(struct broker_shard *self, struct request *request)
{
    struct group_state *state = request->state;
    uint32_t shard;
    if (!sb_group_id_is_valid(state->group_id)) {
        state->error = SB_WIRE_ERROR_INVALID_GROUP_ID;
    } else if (!group_coordinator_of(self, state->group_id, &state->partition, &shard)) {
        state->error = SB_WIRE_ERROR_COORDINATOR_LOAD_IN_PROGRESS;
    } else {
        router_split_coordinator(request, shard);
    }
}

/* Coordinator: the group (NULL if there is none), its members whose time ran out removed
 * first (which may remove an empty group without offsets). */
static struct group *
group_find_expired(struct broker_shard *self, struct group_table *table,
                   struct sb_wire_string id)
{
    struct group *group = group_find(table, id);
    int64_t now_ms = (int64_t)(sb_shard_now_ns(self->shard) / SB_NS_PER_MS);
    if (group != NULL && !group_membership_expire(table, group, now_ms)) {
        return NULL;
    }
    return group;
}

/* Coordinator: the op is done (its group-wide error in the state). */
static void
group_op_done(struct broker_shard *self, struct group_op *op, int16_t error)
{
    struct group_state *state = op->op.request->state;
    if (error != SB_WIRE_ERROR_NONE) {
        state->error = error;
    }
    if (router_op_step(self, &op->op)) {
        router_op_finish(self, &op->op);
    }
}

/* ------------------------------------------------ OffsetCommit, AlterGroupOffsets */

/* Counts a commit request's partitions, and the bytes of its topic names (echoed) and of
 * the batch its records may need. */
static uint32_t
commit_count(const struct sb_offset_commit_request *decoded, uint64_t *names_out,
             uint64_t *batch_out)
{
    struct sb_offset_commit_request copy = *decoded;
    struct sb_offset_commit_topic topic;
    struct sb_offset_commit_partition partition;
    uint32_t parts = 0;
    *names_out = 0;
    *batch_out = SB_BATCH_HEADER_BYTES;
    while (sb_offset_commit_request_next_topic(&copy, &topic) == 1) {
        *names_out += topic.name.length;
        while (sb_offset_commit_topic_next_partition(&topic, &partition) == 1) {
            parts++;
            *batch_out += GROUP_RECORD_KEY_FIXED_BYTES + GROUP_RECORD_VALUE_FIXED_BYTES +
                          GROUP_RECORD_OVERHEAD_BYTES + decoded->group_id.length +
                          topic.name.length + partition.metadata.length;
        }
    }
    return parts;
}

/* A partition's own error: its topic and partition exist, its offset and metadata fit. */
static void
commit_part_check(struct request *request, struct group_part *part, struct sb_wire_string name)
{
    router_resolve(request, &part->part, name);
    if (part->part.error != SB_WIRE_ERROR_NONE) {
        return;
    }
    if (part->offset < 0) {
        part->part.error = SB_WIRE_ERROR_OFFSET_OUT_OF_RANGE;
    } else if (part->metadata.length > SB_WIRE_OFFSET_METADATA_BYTES_MAX) {
        part->part.error = SB_WIRE_ERROR_OFFSET_METADATA_TOO_LARGE;
    }
}

static void
commit_parts(struct request *request, struct sb_offset_commit_request *decoded)
{
    struct sb_offset_commit_topic topic;
    uint32_t topic_index = 0;
    uint32_t part_index = 0;
    while (sb_offset_commit_request_next_topic(decoded, &topic) == 1) {
        request->topics[topic_index] = topic.name;
        struct sb_offset_commit_partition partition;
        while (sb_offset_commit_topic_next_partition(&topic, &partition) == 1) {
            struct group_part *part = group_part_at(request, part_index++);
            part->part.topic_index = topic_index;
            part->part.partition = partition.partition;
            part->offset = partition.offset;
            part->metadata = partition.metadata;
            commit_part_check(request, part, topic.name);
        }
        topic_index++;
    }
}

/* Home, OffsetCommit and AlterGroupOffsets (as a commit without membership). */
static int16_t
commit_prepare(struct broker_shard *self, struct request *request,
               struct sb_offset_commit_request *decoded, bool empty_only)
{
    uint64_t names_bytes;
    uint64_t batch_bytes;
    struct router_layout layout = {
        .topic_count = decoded->topic_count,
        .part_count = commit_count(decoded, &names_bytes, &batch_bytes),
        .part_bytes = sizeof(struct group_part), .op_bytes = sizeof(struct group_op),
        .state_bytes = sizeof(struct group_state)};
    uint64_t arrays =
        (uint64_t)layout.topic_count * sizeof(struct sb_offset_commit_topic_result) +
        (uint64_t)layout.part_count * sizeof(struct sb_offset_commit_partition_result);
    layout.extra_bytes = (arrays + 7) / 8 * 8 + batch_bytes;
    int16_t error = router_reserve(request, &layout);
    if (error != SB_WIRE_ERROR_NONE) {
        return error;
    }
    if (!request_reserve_response(request, names_bytes + (uint64_t)layout.topic_count * 8 +
                                               (uint64_t)layout.part_count * 6)) {
        return SB_WIRE_ERROR_BROKER_BUSY;
    }
    struct group_state *state = request->state;
    *state = (struct group_state){
        .group_id = decoded->group_id, .member_id = decoded->member_id,
        .member_epoch = decoded->member_epoch, .empty_only = empty_only,
        .batch = (uint8_t *)request->extra + (arrays + 7) / 8 * 8,
        .batch_capacity = (uint32_t)batch_bytes};
    commit_parts(request, decoded);
    if (router_repeats(request)) {
        return SB_WIRE_ERROR_INVALID_REQUEST;
    }
    group_route(self, request);
    return SB_WIRE_ERROR_NONE;
}

int16_t
offset_commit_decode(struct broker_shard *self, struct request *request)
{
    const uint8_t *body;
    uint32_t body_bytes;
    request_body(request, &body, &body_bytes);
    struct sb_offset_commit_request decoded;
    if (sb_offset_commit_request_decode(body, body_bytes, &decoded) != 0) {
        return SB_WIRE_ERROR_INVALID_REQUEST;
    }
    return commit_prepare(self, request, &decoded, false);
}

int16_t
alter_group_offsets_decode(struct broker_shard *self, struct request *request)
{
    const uint8_t *body;
    uint32_t body_bytes;
    request_body(request, &body, &body_bytes);
    struct sb_alter_group_offsets_request decoded;
    if (sb_alter_group_offsets_request_decode(body, body_bytes, &decoded) != 0) {
        return SB_WIRE_ERROR_INVALID_REQUEST;
    }
    /* The same topics as OffsetCommit (api_group.h), committed without membership. */
    struct sb_offset_commit_request commit = {
        .group_id = decoded.group_id, .member_id = {"", 0},
        .member_epoch = SB_GROUP_EPOCH_NONE, .topic_count = decoded.topic_count,
        .topic_cursor = decoded.topic_cursor};
    return commit_prepare(self, request, &commit, true);
}

static int16_t heartbeat_error(enum sb_group_error error);

/* Coordinator: whether the group takes this commit (docs/protocol.md "OffsetCommit"): a
 * member's commit must carry its current epoch (sb_membership_check_commit). */
static int16_t
commit_allowed(const struct group_state *state, const struct group *group)
{
    bool has_members = group != NULL && group->member_count > 0;
    if (state->empty_only) {
        return has_members ? SB_WIRE_ERROR_NON_EMPTY_GROUP : SB_WIRE_ERROR_NONE;
    }
    if (state->member_epoch == SB_GROUP_EPOCH_NONE) {
        return has_members ? SB_WIRE_ERROR_UNKNOWN_MEMBER_ID : SB_WIRE_ERROR_NONE;
    }
    char member_id[SB_WIRE_MEMBER_ID_BYTES_MAX + 1];
    if (group == NULL || group->membership == NULL || state->member_id.chars == NULL ||
        state->member_id.length > SB_WIRE_MEMBER_ID_BYTES_MAX) {
        return SB_WIRE_ERROR_UNKNOWN_MEMBER_ID;
    }
    memcpy(member_id, state->member_id.chars, state->member_id.length);
    member_id[state->member_id.length] = '\0';
    return heartbeat_error(sb_membership_check_commit(group->membership, member_id,
                                                      state->member_epoch));
}

/* Coordinator: the batch of the op's partitions without error; returns its length (0 when
 * there is none). */
static uint32_t
commit_batch(const struct op *op, struct group_state *state)
{
    struct request *request = op->request;
    struct sb_batch_builder builder;
    int64_t now_ms = (int64_t)(sb_clock_realtime_ns() / SB_NS_PER_MS);
    sb_batch_builder_init(&builder, state->batch, state->batch_capacity, now_ms);
    uint8_t key[GROUP_RECORD_KEY_FIXED_BYTES + SB_WIRE_GROUP_ID_BYTES_MAX +
                SB_WIRE_TOPIC_NAME_BYTES_MAX];
    uint8_t value[GROUP_RECORD_VALUE_FIXED_BYTES + SB_WIRE_OFFSET_METADATA_BYTES_MAX];
    for (uint32_t index = 0; index < op->part_count; index++) {
        const struct group_part *part = group_part_at(request, op->parts[index]);
        if (part->part.error != SB_WIRE_ERROR_NONE) {
            continue;
        }
        struct sb_record record = {
            .key = key, .value = value, .timestamp_ms = now_ms,
            .key_length = (int32_t)group_record_key(key, state->group_id,
                                                    request->topics[part->part.topic_index],
                                                    part->part.partition),
            .value_length = (int32_t)group_record_value(value, part->offset, now_ms,
                                                        part->metadata)};
        int result = sb_batch_builder_add(&builder, &record);
        SB_ASSERT(result == 0); /* Sized by commit_count. */
    }
    const uint8_t *batch;
    uint32_t batch_bytes;
    if (builder.record_count == 0 ||
        sb_batch_builder_finish(&builder, SB_COMPRESSION_NONE, NULL, 0, &batch,
                                &batch_bytes) != 0) {
        return 0;
    }
    return batch_bytes;
}

static void
commit_durable(struct group_write *write, int result)
{
    struct group_op *op = write->context;
    group_op_done(write->self, op, result == 0 ? SB_WIRE_ERROR_NONE
                                               : produce_append_error(result));
}

void
offset_commit_execute(struct broker_shard *self, struct op *op)
{
    struct group_state *state = op->request->state;
    struct group_table *table = group_coordinator_table(self);
    if (table == NULL) {
        group_op_done(self, group_op_of(op), SB_WIRE_ERROR_COORDINATOR_LOAD_IN_PROGRESS);
        return;
    }
    int16_t error = commit_allowed(state, group_find_expired(self, table, state->group_id));
    uint32_t batch_bytes = error == SB_WIRE_ERROR_NONE ? commit_batch(op, state) : 0;
    if (batch_bytes == 0) {
        group_op_done(self, group_op_of(op), error);
        return;
    }
    struct group_op *group_op = group_op_of(op);
    group_op->write = (struct group_write){
        .self = self, .partition = state->partition, .batch = state->batch,
        .batch_bytes = batch_bytes, .done = commit_durable, .context = group_op};
    int result = group_write_start(&group_op->write);
    if (result != 0) {
        group_op_done(self, group_op, produce_append_error(result));
    }
}

int
offset_commit_encode(struct broker_shard *self, struct request *request,
                     struct sb_wire_writer *writer)
{
    const struct group_state *state = request->state;
    struct sb_offset_commit_response response = {.error_code = state->error};
    if (state->error != SB_WIRE_ERROR_NONE) {
        return sb_offset_commit_response_encode(writer, &response);
    }
    struct sb_offset_commit_topic_result *topics = request->extra;
    struct sb_offset_commit_partition_result *partitions =
        (struct sb_offset_commit_partition_result *)(void *)(topics + request->topic_count);
    for (uint32_t index = 0; index < request->part_count; index++) {
        const struct group_part *part = group_part_at(request, index);
        partitions[index] = (struct sb_offset_commit_partition_result){
            .partition = part->part.partition, .error_code = part->part.error};
    }
    uint32_t part_index = 0;
    for (uint32_t topic = 0; topic < request->topic_count; topic++) {
        uint32_t first = part_index;
        uint32_t count = router_topic_span(request, topic, &part_index);
        topics[topic] = (struct sb_offset_commit_topic_result){
            .name = request->topics[topic], .partitions = partitions + first,
            .partition_count = count};
    }
    response.topics = topics;
    response.topic_count = request->topic_count;
    return sb_offset_commit_response_encode(writer, &response);
}

/* ----------------------------------- bodies encoded on the coordinator (OffsetFetch, ...) */

/* A response encoder for group_body_encode. */
typedef int group_encode_fn(struct sb_wire_writer *writer, const void *response);

/* Coordinator: encodes `response` into a body it allocates and lends to the op (doubling from
 * GROUP_BODY_BYTES_MIN up to the frame limit). Returns NONE, or BROKER_BUSY without memory,
 * MESSAGE_TOO_LARGE above the frame limit. */
static int16_t
group_body_encode(struct broker_shard *self, struct group_op *op, group_encode_fn *encode,
                  const void *response)
{
    uint64_t limit = self->broker->config.max_frame_bytes;
    for (uint64_t capacity = GROUP_BODY_BYTES_MIN; capacity <= limit; capacity *= 2) {
        struct group_body *body = sb_alloc(sizeof(*body) + capacity);
        if (body == NULL) {
            return SB_WIRE_ERROR_BROKER_BUSY;
        }
        struct sb_wire_writer writer;
        sb_wire_writer_init(&writer, body->data, capacity);
        if (encode(&writer, response) == 0) {
            body->owner = self->id;
            body->bytes = (uint32_t)sb_wire_writer_length(&writer);
            op->body = body;
            self->group_bodies_lent++;
            return SB_WIRE_ERROR_NONE;
        }
        sb_free(body);
    }
    return SB_WIRE_ERROR_MESSAGE_TOO_LARGE;
}

void
group_body_free(struct broker_shard *self, void *payload)
{
    struct group_body *body = payload;
    SB_ASSERT(body->owner == self->id && self->group_bodies_lent > 0);
    self->group_bodies_lent--;
    sb_free(body);
}

/* Home: the op's body (if any) back to the shard that allocated it, which frees it. */
static void
group_body_return(struct broker_shard *self, struct group_op *op)
{
    struct group_body *body = op->body;
    op->body = NULL;
    if (body == NULL) {
        return;
    }
    if (body->owner == self->id) {
        group_body_free(self, body);
    } else {
        broker_send(self, body->owner, MSG_GROUP_BODY_FREE, &body->outgoing, body);
    }
}

/* The request's op (a coordinator route has at most one), or NULL. */
static struct group_op *
group_request_op(const struct request *request)
{
    return request->op_count > 0 ? group_op_of(router_op(request, 0)) : NULL;
}

/* Home, the op back: the response sized to the coordinator's body, then the answer. */
void
group_body_gathered(struct request *request)
{
    struct group_op *op = group_request_op(request);
    uint32_t bytes = op != NULL && op->body != NULL ? op->body->bytes : 0;
    if (!request_reserve_response(request, (uint64_t)bytes + 64)) {
        if (op != NULL) {
            group_body_return(request->home, op);
        }
        request_respond_error(request, SB_WIRE_ERROR_BROKER_BUSY);
        return;
    }
    request_answer(request);
}

/* Home: the coordinator's body into the response, then given back. */
static int
group_body_copy(struct request *request, struct sb_wire_writer *writer)
{
    struct group_op *op = group_request_op(request);
    SB_ASSERT(op != NULL && op->body != NULL);
    uint8_t *target = sb_wire_write_reserve(writer, op->body->bytes);
    if (target != NULL) {
        memcpy(target, op->body->data, op->body->bytes);
    }
    group_body_return(request->home, op);
    return writer->error;
}

static int
group_offset_compare(const void *left, const void *right)
{
    const struct group_offset *a = *(const struct group_offset *const *)left;
    const struct group_offset *b = *(const struct group_offset *const *)right;
    int order = strcmp(a->topic, b->topic);
    return order != 0 ? order : (a->partition > b->partition) - (a->partition < b->partition);
}

/* Every committed offset of `group` (may be NULL), sorted by topic and partition, as
 * response arrays: *topics_out (the caller's to sb_free, one allocation with the offsets)
 * and their count. Returns 0 or -ENOMEM. */
static int
group_offsets_sorted(const struct group *group, struct sb_group_offset_topic **topics_out,
                     uint32_t *topic_count_out)
{
    uint32_t count = group != NULL ? group->offsets.count : 0;
    size_t bytes = (size_t)count * (sizeof(struct sb_group_offset_topic) +
                                    sizeof(struct sb_group_offset) + sizeof(void *)) + 8;
    struct sb_group_offset_topic *topics = sb_alloc(bytes);
    if (topics == NULL) {
        return -ENOMEM;
    }
    struct sb_group_offset *offsets = (struct sb_group_offset *)(void *)(topics + count);
    const struct group_offset **sorted = (const struct group_offset **)(void *)(offsets + count);
    uint32_t used = 0;
    for (uint32_t slot = 0; group != NULL && slot < group->offsets.capacity; slot++) {
        const struct group_offset *entry = group_index_slot(&group->offsets, slot);
        if (entry != NULL) {
            sorted[used++] = entry;
        }
    }
    qsort(sorted, used, sizeof(*sorted), group_offset_compare);
    uint32_t topic_count = 0;
    for (uint32_t index = 0; index < used; index++) {
        const struct group_offset *entry = sorted[index];
        offsets[index] = (struct sb_group_offset){
            .partition = entry->partition, .offset = entry->offset,
            .metadata = {entry->metadata != NULL ? entry->metadata : "", entry->metadata_length},
            .commit_time_ms = entry->commit_time_ms};
        if (index == 0 || strcmp(entry->topic, sorted[index - 1]->topic) != 0) {
            topics[topic_count++] = (struct sb_group_offset_topic){
                .name = {entry->topic, entry->topic_length}, .offsets = offsets + index};
        }
        topics[topic_count - 1].offset_count++;
    }
    *topics_out = topics;
    *topic_count_out = topic_count;
    return 0;
}

/* ------------------------------------------------------------------ OffsetFetch */

/* Home, for requests with only a group id to route (OffsetFetch, DescribeGroup, DeleteGroup):
 * the state and, unless the id is invalid, one op on the coordinator. */
static int16_t
group_id_prepare(struct broker_shard *self, struct request *request,
                 struct sb_wire_string group_id)
{
    struct router_layout layout = {
        .part_bytes = sizeof(struct group_part), .op_bytes = sizeof(struct group_op),
        .state_bytes = sizeof(struct group_state)};
    int16_t error = router_reserve(request, &layout);
    if (error != SB_WIRE_ERROR_NONE) {
        return error;
    }
    struct group_state *state = request->state;
    *state = (struct group_state){.group_id = group_id};
    group_route(self, request);
    return SB_WIRE_ERROR_NONE;
}

int16_t
offset_fetch_decode(struct broker_shard *self, struct request *request)
{
    const uint8_t *body;
    uint32_t body_bytes;
    request_body(request, &body, &body_bytes);
    struct sb_offset_fetch_request decoded;
    if (sb_offset_fetch_request_decode(body, body_bytes, &decoded) != 0) {
        return SB_WIRE_ERROR_INVALID_REQUEST;
    }
    return group_id_prepare(self, request, decoded.group_id);
}

static int
offset_fetch_encode_response(struct sb_wire_writer *writer, const void *response)
{
    return sb_offset_fetch_response_encode(writer, response);
}

/* Coordinator: the asked partitions' offsets (-1 without a commit) into `topics` and
 * `offsets` (room for every topic and partition of the request). */
static uint32_t
offset_fetch_asked(struct group *group, struct sb_offset_fetch_request *decoded,
                   struct sb_group_offset_topic *topics, struct sb_group_offset *offsets)
{
    struct sb_offset_fetch_topic topic;
    uint32_t topic_count = 0;
    uint32_t used = 0;
    while (sb_offset_fetch_request_next_topic(decoded, &topic) == 1) {
        topics[topic_count] = (struct sb_group_offset_topic){.name = topic.name,
                                                             .offsets = offsets + used};
        int32_t partition;
        while (sb_offset_fetch_topic_next_partition(&topic, &partition) == 1) {
            const struct group_offset *entry =
                group != NULL ? group_offset_find(group, topic.name, partition) : NULL;
            offsets[used++] = entry == NULL
                ? (struct sb_group_offset){.partition = partition, .offset = -1,
                                           .commit_time_ms = -1}
                : (struct sb_group_offset){
                      .partition = partition, .offset = entry->offset,
                      .metadata = {entry->metadata != NULL ? entry->metadata : "",
                                   entry->metadata_length},
                      .commit_time_ms = entry->commit_time_ms};
            topics[topic_count].offset_count++;
        }
        topic_count++;
    }
    return topic_count;
}

/* Coordinator: the response for the partitions the request names. */
static int16_t
offset_fetch_named(struct broker_shard *self, struct group_op *op, struct group *group,
                   struct sb_offset_fetch_request *decoded)
{
    struct sb_offset_fetch_request copy = *decoded;
    struct sb_offset_fetch_topic topic;
    uint64_t partitions = 0;
    while (sb_offset_fetch_request_next_topic(&copy, &topic) == 1) {
        partitions += topic.partition_count;
    }
    struct sb_group_offset_topic *topics =
        sb_alloc((size_t)decoded->topic_count * sizeof(*topics) +
                 (size_t)partitions * sizeof(struct sb_group_offset) + 8);
    if (topics == NULL) {
        return SB_WIRE_ERROR_BROKER_BUSY;
    }
    struct sb_group_offset *offsets =
        (struct sb_group_offset *)(void *)(topics + decoded->topic_count);
    struct sb_offset_fetch_response response = {
        .topics = topics, .topic_count = offset_fetch_asked(group, decoded, topics, offsets)};
    int16_t error = group_body_encode(self, op, offset_fetch_encode_response, &response);
    sb_free(topics);
    return error;
}

void
offset_fetch_execute(struct broker_shard *self, struct op *op)
{
    struct group_state *state = op->request->state;
    struct group_table *table = group_coordinator_table(self);
    if (table == NULL) {
        group_op_done(self, group_op_of(op), SB_WIRE_ERROR_COORDINATOR_LOAD_IN_PROGRESS);
        return;
    }
    struct group *group = group_find(table, state->group_id);
    const uint8_t *body;
    uint32_t body_bytes;
    request_body(op->request, &body, &body_bytes);
    struct sb_offset_fetch_request decoded;
    int result = sb_offset_fetch_request_decode(body, body_bytes, &decoded);
    SB_ASSERT(result == 0); /* Decoded on the connection's shard already. */
    if (!decoded.all_topics) {
        group_op_done(self, group_op_of(op), offset_fetch_named(self, group_op_of(op), group,
                                                                &decoded));
        return;
    }
    struct sb_offset_fetch_response response = {0};
    int16_t error = group_offsets_sorted(group, (struct sb_group_offset_topic **)&response.topics,
                                         &response.topic_count) != 0
                        ? SB_WIRE_ERROR_BROKER_BUSY
                        : group_body_encode(self, group_op_of(op), offset_fetch_encode_response,
                                            &response);
    sb_free((void *)response.topics);
    group_op_done(self, group_op_of(op), error);
}

int
offset_fetch_encode(struct broker_shard *self, struct request *request,
                    struct sb_wire_writer *writer)
{
    const struct group_state *state = request->state;
    if (state->error != SB_WIRE_ERROR_NONE) {
        struct sb_offset_fetch_response response = {.error_code = state->error};
        return sb_offset_fetch_response_encode(writer, &response);
    }
    return group_body_copy(request, writer);
}

/* ------------------------------------------------------------------ DeleteGroup */

/* Home: a request that names just a group (DeleteGroup, DescribeGroup), routed. */
static int16_t
group_id_request_prepare(struct broker_shard *self, struct request *request)
{
    const uint8_t *body;
    uint32_t body_bytes;
    request_body(request, &body, &body_bytes);
    struct sb_group_id_request decoded;
    if (sb_group_id_request_decode(body, body_bytes, &decoded) != 0) {
        return SB_WIRE_ERROR_INVALID_REQUEST;
    }
    return group_id_prepare(self, request, decoded.group_id);
}

int16_t
delete_group_decode(struct broker_shard *self, struct request *request)
{
    int16_t error = group_id_request_prepare(self, request);
    if (error == SB_WIRE_ERROR_NONE && !request_reserve_response(request, 16)) {
        return SB_WIRE_ERROR_BROKER_BUSY;
    }
    return error;
}

static void
delete_group_durable(struct group_write *write, int result)
{
    struct group_op *op = write->context;
    sb_free(op->tombstones);
    op->tombstones = NULL;
    group_op_done(write->self, op, result == 0 ? SB_WIRE_ERROR_NONE
                                               : produce_append_error(result));
}

void
delete_group_execute(struct broker_shard *self, struct op *op)
{
    struct group_op *group_op = group_op_of(op);
    struct group_state *state = op->request->state;
    struct group_table *table = group_coordinator_table(self);
    struct group *group = table != NULL ? group_find_expired(self, table, state->group_id)
                                        : NULL;
    int16_t error = table == NULL ? SB_WIRE_ERROR_COORDINATOR_LOAD_IN_PROGRESS
                    : group == NULL ? SB_WIRE_ERROR_GROUP_ID_NOT_FOUND
                    : group->member_count > 0 ? SB_WIRE_ERROR_NON_EMPTY_GROUP
                                              : SB_WIRE_ERROR_NONE;
    int64_t bytes = error == SB_WIRE_ERROR_NONE
                        ? group_tombstones_build(group, &group_op->tombstones) : 0;
    if (bytes <= 0) {
        group_op_done(self, group_op, bytes < 0 ? SB_WIRE_ERROR_BROKER_BUSY : error);
        return;
    }
    group_op->write = (struct group_write){
        .self = self, .partition = group->partition, .batch = group_op->tombstones,
        .batch_bytes = (uint32_t)bytes, .done = delete_group_durable, .context = group_op};
    int result = group_write_start(&group_op->write);
    if (result != 0) {
        delete_group_durable(&group_op->write, result);
        return;
    }
    group->deleting = true;
}

int
delete_group_encode(struct broker_shard *self, struct request *request,
                    struct sb_wire_writer *writer)
{
    const struct group_state *state = request->state;
    struct sb_delete_group_response response = {.error_code = state->error};
    return sb_delete_group_response_encode(writer, &response);
}

/* ---------------------------------------------------------------- DescribeGroup */

int16_t
describe_group_decode(struct broker_shard *self, struct request *request)
{
    return group_id_request_prepare(self, request);
}

static int
describe_group_encode_response(struct sb_wire_writer *writer, const void *response)
{
    return sb_describe_group_response_encode(writer, response);
}

/* Partitions (sorted by topic id) as one set per topic, their numbers into `numbers`;
 * returns how many sets (GroupHeartbeat's assignment, DescribeGroup's). */
static uint32_t
group_partition_sets(const struct sb_group_partition *partitions, uint32_t count,
                     int32_t *numbers, struct sb_group_tpset *sets)
{
    uint32_t set_count = 0;
    for (uint32_t at = 0; at < count; at++) {
        if (set_count == 0 || sets[set_count - 1].topic_id != partitions[at].topic_id) {
            sets[set_count++] = (struct sb_group_tpset){.topic_id = partitions[at].topic_id,
                                                        .partitions = numbers + at};
        }
        numbers[at] = (int32_t)partitions[at].partition;
        sets[set_count - 1].partition_count++;
    }
    return set_count;
}

/* DescribeGroup's members as the wire shows them, on the coordinator (allocated). */
struct describe_scratch {
    struct sb_group_member_description members[SB_GROUP_MEMBERS_MAX]; /* The members. */
    struct sb_group_partition partitions[SB_GROUP_PARTITIONS_MAX]; /* One member's, in turn. */
    int32_t numbers[2][SB_GROUP_PARTITIONS_MAX]; /* Owned now, then target, of every member
                                                  * (each partition has one owner and one
                                                  * target at most). */
    struct sb_group_tpset sets[2][SB_GROUP_PARTITIONS_MAX]; /* Their sets. */
    struct sb_wire_string names[]; /* Every member's subscribed topic names. */
};

/* Subscribed topic names across the group's members. */
static uint32_t
describe_name_count(const struct sb_membership *membership)
{
    uint32_t count = 0;
    for (uint32_t index = 0; index < SB_GROUP_MEMBERS_MAX; index++) {
        const struct sb_group_member *member = &membership->members[index];
        for (uint32_t at = 0; member->used && at < member->topic_names_bytes; at++) {
            count += member->topic_names[at] == '\0';
        }
    }
    return count;
}

/* One member's description, its names and partitions appended to the scratch at `used`
 * (names, owned numbers, owned sets, target numbers, target sets), which it advances. */
static void
describe_member(const struct sb_membership *membership, uint32_t index,
                struct describe_scratch *scratch, uint32_t *used,
                struct sb_group_member_description *out)
{
    const struct sb_group_member *member = &membership->members[index];
    *out = (struct sb_group_member_description){
        .member_id = sb_wire_string_from_cstr(member->member_id),
        .instance_id = sb_wire_string_from_cstr(member->instance_id[0] ? member->instance_id
                                                                       : NULL),
        .member_epoch = member->epoch, .topic_names = scratch->names + used[0],
        .topic_regex = sb_wire_string_from_cstr(member->regex_source[0] ? member->regex_source
                                                                         : NULL)};
    for (uint32_t at = 0; at < member->topic_names_bytes;) {
        const char *name = member->topic_names + at;
        scratch->names[used[0]++] = sb_wire_string_from_cstr(name);
        out->topic_name_count++;
        at += (uint32_t)strlen(name) + 1;
    }
    for (uint32_t kind = 0; kind < 2; kind++) {
        uint32_t count = sb_membership_partitions(membership, index, kind == 1,
                                                  scratch->partitions);
        SB_ASSERT(used[1 + 2 * kind] + count <= SB_GROUP_PARTITIONS_MAX);
        const struct sb_group_tpset *sets = scratch->sets[kind] + used[2 + 2 * kind];
        uint32_t set_count = group_partition_sets(scratch->partitions, count,
                                                  scratch->numbers[kind] + used[1 + 2 * kind],
                                                  scratch->sets[kind] + used[2 + 2 * kind]);
        used[1 + 2 * kind] += count;
        used[2 + 2 * kind] += set_count;
        if (kind == 0) {
            out->assignment = sets;
            out->assignment_count = set_count;
        } else {
            out->target = sets;
            out->target_count = set_count;
        }
    }
}

/* Coordinator: the group's members into the response, from a scratch it allocates
 * (*scratch_out, to sb_free; NULL without members). Returns NONE or BROKER_BUSY. */
static int16_t
describe_members(const struct group *group, struct sb_describe_group_response *response,
                 struct describe_scratch **scratch_out)
{
    *scratch_out = NULL;
    if (group->membership == NULL || group->member_count == 0) {
        return SB_WIRE_ERROR_NONE;
    }
    const struct sb_membership *membership = group->membership;
    uint32_t names = describe_name_count(membership);
    struct describe_scratch *scratch =
        sb_alloc(sizeof(*scratch) + (size_t)names * sizeof(struct sb_wire_string));
    if (scratch == NULL) {
        return SB_WIRE_ERROR_BROKER_BUSY;
    }
    uint32_t used[5] = {0};
    for (uint32_t index = 0; index < SB_GROUP_MEMBERS_MAX; index++) {
        if (membership->members[index].used) {
            describe_member(membership, index, scratch, used,
                            &scratch->members[response->member_count++]);
        }
    }
    SB_ASSERT(used[0] == names);
    response->members = scratch->members;
    response->assignor = sb_wire_string_from_cstr(
        sb_group_assignor_name(sb_membership_assignor(membership)));
    *scratch_out = scratch;
    return SB_WIRE_ERROR_NONE;
}

/* Coordinator: the group's state, members (group_member.h) and committed offsets. */
void
describe_group_execute(struct broker_shard *self, struct op *op)
{
    struct group_state *state = op->request->state;
    struct group_table *table = group_coordinator_table(self);
    struct group *group = table != NULL ? group_find_expired(self, table, state->group_id)
                                        : NULL;
    if (group == NULL) {
        group_op_done(self, group_op_of(op), table == NULL
                                                 ? SB_WIRE_ERROR_COORDINATOR_LOAD_IN_PROGRESS
                                                 : SB_WIRE_ERROR_GROUP_ID_NOT_FOUND);
        return;
    }
    struct sb_describe_group_response response = {
        .group_id = state->group_id, .state = group->state, .group_epoch = group->group_epoch,
        .assignment_epoch = group->assignment_epoch, .assignor = {"", 0}};
    struct describe_scratch *members;
    struct sb_group_offset_topic *topics = NULL;
    int16_t error = describe_members(group, &response, &members);
    if (error == SB_WIRE_ERROR_NONE &&
        group_offsets_sorted(group, &topics, &response.offset_topic_count) == 0) {
        response.offsets = topics;
        error = group_body_encode(self, group_op_of(op), describe_group_encode_response,
                                  &response);
    } else {
        error = SB_WIRE_ERROR_BROKER_BUSY;
    }
    sb_free(topics);
    sb_free(members);
    group_op_done(self, group_op_of(op), error);
}

int
describe_group_encode(struct broker_shard *self, struct request *request,
                      struct sb_wire_writer *writer)
{
    const struct group_state *state = request->state;
    if (state->error != SB_WIRE_ERROR_NONE) {
        struct sb_describe_group_response response = {
            .error_code = state->error, .group_id = state->group_id, .group_epoch = -1,
            .assignment_epoch = -1, .assignor = {"", 0}};
        return sb_describe_group_response_encode(writer, &response);
    }
    return group_body_copy(request, writer);
}

/* ------------------------------------------------------------------ ListGroups */

/* ListGroups' state: the states asked for. */
struct list_groups_state {
    uint32_t state_mask; /* Bit s: state s is listed; 0 = every state. */
};

int16_t
list_groups_decode(struct broker_shard *self, struct request *request)
{
    const uint8_t *body;
    uint32_t body_bytes;
    request_body(request, &body, &body_bytes);
    struct sb_list_groups_request decoded;
    if (sb_list_groups_request_decode(body, body_bytes, &decoded) != 0) {
        return SB_WIRE_ERROR_INVALID_REQUEST;
    }
    struct router_layout layout = {
        .part_bytes = sizeof(struct group_part), .op_bytes = sizeof(struct group_op),
        .state_bytes = sizeof(struct list_groups_state)};
    int16_t error = router_reserve(request, &layout);
    if (error != SB_WIRE_ERROR_NONE) {
        return error;
    }
    struct list_groups_state *state = request->state;
    int8_t wanted;
    while (sb_list_groups_request_next_state(&decoded, &wanted) == 1) {
        state->state_mask |= wanted >= 0 && wanted < SB_GROUP_STATE_COUNT ? 1u << wanted : 0;
    }
    router_split_every_shard(request);
    return SB_WIRE_ERROR_NONE;
}

static int
list_groups_encode_response(struct sb_wire_writer *writer, const void *response)
{
    return sb_list_groups_response_encode(writer, response);
}

/* Each shard: its groups in the states asked for, as a ListGroups body of its own. */
void
list_groups_execute(struct broker_shard *self, struct op *op)
{
    const struct list_groups_state *state = op->request->state;
    struct group_op *group_op = group_op_of(op);
    struct group_table *table = group_coordinator_table(self);
    if (table == NULL) {
        group_op->error = SB_WIRE_ERROR_COORDINATOR_LOAD_IN_PROGRESS;
    }
    uint32_t capacity = table != NULL ? table->groups.count : 0;
    struct sb_list_groups_entry *entries = sb_alloc((size_t)capacity * sizeof(*entries) + 8);
    struct sb_list_groups_response response = {.groups = entries};
    for (uint32_t slot = 0; entries != NULL && table != NULL && slot < table->groups.capacity;
         slot++) {
        const struct group *group = group_index_slot(&table->groups, slot);
        if (group != NULL &&
            (state->state_mask == 0 || (state->state_mask >> group->state & 1u) != 0)) {
            entries[response.group_count++] = (struct sb_list_groups_entry){
                .group_id = {group->id, group->id_length}, .state = group->state,
                .member_count = (int32_t)group->member_count};
        }
    }
    if (group_op->error == SB_WIRE_ERROR_NONE) {
        group_op->error = entries == NULL ? SB_WIRE_ERROR_BROKER_BUSY
                                          : group_body_encode(self, group_op,
                                                              list_groups_encode_response,
                                                              &response);
    }
    sb_free(entries);
    if (router_op_step(self, op)) {
        router_op_finish(self, op);
    }
}

/* Home: the bodies the shards encoded, back to them. */
static void
list_groups_free(struct request *request)
{
    for (uint32_t index = 0; index < request->op_count; index++) {
        group_body_return(request->home, group_op_of(router_op(request, index)));
    }
}

/* Home: every shard's body back; the response sized to all of them. */
void
list_groups_gathered(struct request *request)
{
    uint64_t bytes = 0;
    for (uint32_t index = 0; index < request->op_count; index++) {
        const struct group_body *body = group_op_of(router_op(request, index))->body;
        bytes += body != NULL ? body->bytes : 0;
    }
    if (!request_reserve_response(request, bytes + 64)) {
        list_groups_free(request);
        request_respond_error(request, SB_WIRE_ERROR_BROKER_BUSY);
        return;
    }
    request_answer(request);
}

static int
list_groups_compare(const void *left, const void *right)
{
    return sb_wire_string_compare(((const struct sb_list_groups_entry *)left)->group_id,
                                  ((const struct sb_list_groups_entry *)right)->group_id);
}

/* Home: every shard's groups, merged and sorted by group id; or the first shard's error. */
int
list_groups_encode(struct broker_shard *self, struct request *request,
                   struct sb_wire_writer *writer)
{
    struct sb_list_groups_response response = {0};
    uint32_t count = 0;
    for (uint32_t index = 0; index < request->op_count; index++) {
        struct group_op *op = group_op_of(router_op(request, index));
        struct sb_list_groups_response part;
        response.error_code = response.error_code != 0 ? response.error_code : op->error;
        count += op->body != NULL &&
                 sb_list_groups_response_decode(op->body->data, op->body->bytes, &part) == 0
                     ? part.group_count : 0;
    }
    struct sb_list_groups_entry *entries = sb_alloc((size_t)count * sizeof(*entries) + 8);
    for (uint32_t index = 0; entries != NULL && response.error_code == 0 &&
                             index < request->op_count; index++) {
        struct group_op *op = group_op_of(router_op(request, index));
        struct sb_list_groups_response part;
        if (sb_list_groups_response_decode(op->body->data, op->body->bytes, &part) == 0) {
            while (sb_list_groups_response_next_group(&part, &entries[response.group_count]) ==
                   1) {
                response.group_count++;
            }
        }
    }
    if (entries != NULL) {
        qsort(entries, response.group_count, sizeof(*entries), list_groups_compare);
    }
    response.groups = entries;
    int result = entries == NULL ? -ENOMEM : sb_list_groups_response_encode(writer, &response);
    sb_free(entries);
    list_groups_free(request);
    return result;
}

/* --------------------------------------------------------------- GroupHeartbeat */

/* A GroupHeartbeat in the membership module's terms, on the coordinator: the request's
 * strings NUL-terminated, its owned partitions, the topic table and the answer (allocated
 * per heartbeat: too large for a stack). */
struct heartbeat_scratch {
    char member_id[SB_WIRE_MEMBER_ID_BYTES_MAX + 1];     /* The member id. */
    char instance_id[SB_GROUP_INSTANCE_ID_BYTES_MAX + 1]; /* The instance id, if any. */
    char regex[SB_GROUP_REGEX_BYTES_MAX + 1];             /* The regex, if any. */
    char assignor[16];                                    /* The assignor's name, if any. */
    char names[SB_GROUP_SUBSCRIPTION_BYTES_MAX];          /* Topic names, each NUL-ended. */
    const char *name_list[SB_GROUP_SUBSCRIPTION_BYTES_MAX / 2]; /* Into names. */
    struct sb_group_partition owned[SB_GROUP_PARTITIONS_MAX];    /* What the member owns. */
    struct sb_group_partition assigned[SB_GROUP_PARTITIONS_MAX]; /* Its assignment. */
    int32_t numbers[SB_GROUP_PARTITIONS_MAX];             /* The assignment's partitions. */
    struct sb_group_tpset sets[SB_GROUP_PARTITIONS_MAX];  /* The assignment by topic. */
};

int16_t
group_heartbeat_decode(struct broker_shard *self, struct request *request)
{
    const uint8_t *body;
    uint32_t body_bytes;
    request_body(request, &body, &body_bytes);
    struct sb_group_heartbeat_request decoded;
    if (sb_group_heartbeat_request_decode(body, body_bytes, &decoded) != 0) {
        return SB_WIRE_ERROR_INVALID_REQUEST;
    }
    return group_id_prepare(self, request, decoded.group_id);
}

/* Copies a wire string into `out` (capacity bytes) NUL-terminated; NULL for the null string
 * (or one that does not fit: *fits_out becomes false). */
static const char *
heartbeat_cstr(struct sb_wire_string string, char *out, size_t capacity, bool *fits_out)
{
    if (string.chars == NULL) {
        return NULL;
    }
    if (string.length >= capacity) {
        *fits_out = false;
        return NULL;
    }
    memcpy(out, string.chars, string.length);
    out[string.length] = '\0';
    return out;
}

/* The request's subscribed names into the scratch; false when they do not fit. */
static bool
heartbeat_names(struct sb_group_heartbeat_request *decoded, struct heartbeat_scratch *scratch,
                struct sb_group_heartbeat *request)
{
    request->topic_names_set = !decoded->topic_names_unchanged;
    request->topic_names = scratch->name_list;
    uint32_t used = 0;
    struct sb_wire_string name;
    while (request->topic_names_set &&
           sb_group_heartbeat_request_next_topic_name(decoded, &name) == 1) {
        if (name.length + 1u > sizeof(scratch->names) - used) {
            return false;
        }
        bool fits = true;
        scratch->name_list[request->topic_name_count++] =
            heartbeat_cstr(name, scratch->names + used, name.length + 1u, &fits);
        used += name.length + 1u;
        SB_ASSERT(fits);
    }
    return true;
}

/* The request's owned partitions into the scratch; false when there are too many. */
static bool
heartbeat_owned(struct sb_group_heartbeat_request *decoded, struct heartbeat_scratch *scratch,
                struct sb_group_heartbeat *request)
{
    request->owned_set = !decoded->owned_unchanged;
    request->owned = scratch->owned;
    struct sb_group_tpset set;
    while (request->owned_set && sb_group_heartbeat_request_next_owned(decoded, &set) == 1) {
        int32_t partition;
        while (sb_group_tpset_next_partition(&set, &partition) == 1) {
            if (request->owned_count == SB_GROUP_PARTITIONS_MAX) {
                return false;
            }
            if (partition >= 0) {
                scratch->owned[request->owned_count++] =
                    (struct sb_group_partition){set.topic_id, (uint32_t)partition};
            }
        }
    }
    return true;
}

/* The request in the module's terms; false for one it cannot take (INVALID_REQUEST). */
static bool
heartbeat_request(struct sb_group_heartbeat_request *decoded,
                  struct heartbeat_scratch *scratch, struct sb_group_heartbeat *request)
{
    bool assignor_fits = true;
    const char *assignor = heartbeat_cstr(decoded->server_assignor, scratch->assignor,
                                          sizeof(scratch->assignor), &assignor_fits);
    bool fits = sb_group_member_id_is_valid(decoded->member_id);
    *request = (struct sb_group_heartbeat){
        .member_id = heartbeat_cstr(decoded->member_id, scratch->member_id,
                                    sizeof(scratch->member_id), &fits),
        .member_epoch = decoded->member_epoch,
        .instance_id = heartbeat_cstr(decoded->instance_id, scratch->instance_id,
                                      sizeof(scratch->instance_id), &fits),
        .rebalance_timeout_ms = decoded->rebalance_timeout_ms,
        .topic_regex = heartbeat_cstr(decoded->topic_regex, scratch->regex,
                                      sizeof(scratch->regex), &fits),
        /* A name too long for the scratch is no assignor: UNSUPPORTED_ASSIGNOR. */
        .assignor = assignor_fits ? assignor : ""};
    return fits && heartbeat_names(decoded, scratch, request) &&
           heartbeat_owned(decoded, scratch, request);
}

/* The module's errors as wire codes. */
static int16_t
heartbeat_error(enum sb_group_error error)
{
    switch (error) {
    case SB_GROUP_ERROR_NONE: return SB_WIRE_ERROR_NONE;
    case SB_GROUP_ERROR_UNKNOWN_MEMBER_ID: return SB_WIRE_ERROR_UNKNOWN_MEMBER_ID;
    case SB_GROUP_ERROR_FENCED_MEMBER_EPOCH: return SB_WIRE_ERROR_FENCED_MEMBER_EPOCH;
    case SB_GROUP_ERROR_STALE_MEMBER_EPOCH: return SB_WIRE_ERROR_STALE_MEMBER_EPOCH;
    case SB_GROUP_ERROR_UNRELEASED_INSTANCE_ID: return SB_WIRE_ERROR_UNRELEASED_INSTANCE_ID;
    case SB_GROUP_ERROR_GROUP_MAX_SIZE_REACHED: return SB_WIRE_ERROR_GROUP_MAX_SIZE_REACHED;
    case SB_GROUP_ERROR_INVALID_REGULAR_EXPRESSION:
        return SB_WIRE_ERROR_INVALID_REGULAR_EXPRESSION;
    case SB_GROUP_ERROR_UNSUPPORTED_ASSIGNOR: return SB_WIRE_ERROR_UNSUPPORTED_ASSIGNOR;
    case SB_GROUP_ERROR_INVALID_REQUEST: return SB_WIRE_ERROR_INVALID_REQUEST;
    }
    return SB_WIRE_ERROR_INVALID_REQUEST;
}

static int
group_heartbeat_encode_response(struct sb_wire_writer *writer, const void *response)
{
    return sb_group_heartbeat_response_encode(writer, response);
}

/* Coordinator: the group's membership, created with the group on its first heartbeat (with
 * the broker's group_session_timeout_ms); the members whose time ran out leave first. NULL
 * without memory. */
static struct sb_membership *
heartbeat_membership(const struct broker_shard *self, struct group *group, int64_t now_ms)
{
    if (group->membership == NULL) {
        group->membership = sb_alloc(sizeof(*group->membership));
        if (group->membership == NULL) {
            return NULL;
        }
        sb_membership_init(group->membership, SB_GROUP_ASSIGNOR_UNIFORM,
                           (int32_t)self->broker->config.group_session_timeout_ms);
        sb_membership_hold(group->membership, group_coordinator_hold_until_ms(self));
    }
    sb_membership_expire(group->membership, now_ms);
    return group->membership;
}

/* Coordinator: runs the heartbeat and encodes its response; returns a group-wide error. */
static int16_t
heartbeat_run(struct broker_shard *self, struct group_op *op, struct group_table *table,
              struct group *group, struct sb_group_heartbeat_request *decoded,
              struct heartbeat_scratch *scratch)
{
    int64_t now_ms = (int64_t)(sb_shard_now_ns(self->shard) / SB_NS_PER_MS);
    struct sb_membership *membership = heartbeat_membership(self, group, now_ms);
    if (membership == NULL) {
        return SB_WIRE_ERROR_BROKER_BUSY;
    }
    struct sb_group_heartbeat request;
    struct sb_group_answer answer = {.error = SB_GROUP_ERROR_INVALID_REQUEST,
                                     .member_epoch = decoded->member_epoch};
    if (heartbeat_request(decoded, scratch, &request)) {
        struct sb_group_topics topics;
        group_coordinator_topics(self, &topics);
        sb_membership_heartbeat(membership, &request, &topics, now_ms, &answer,
                                scratch->assigned);
    }
    group_coordinator_membership_changed(self, membership);
    group_membership_sync(table, group); /* The group may be gone: not used below. */
    struct sb_group_heartbeat_response response = {
        .error_code = heartbeat_error(answer.error), .member_id = decoded->member_id,
        .member_epoch = answer.member_epoch,
        .heartbeat_interval_ms = (int32_t)self->broker->config.group_heartbeat_interval_ms,
        .assignment_unchanged = answer.error != SB_GROUP_ERROR_NONE || answer.member_epoch < 0,
        .assignment = scratch->sets};
    if (!response.assignment_unchanged) {
        response.assignment_count = group_partition_sets(scratch->assigned,
                                                         answer.assigned_count,
                                                         scratch->numbers, scratch->sets);
    }
    return group_body_encode(self, op, group_heartbeat_encode_response, &response);
}

void
group_heartbeat_execute(struct broker_shard *self, struct op *op)
{
    struct group_state *state = op->request->state;
    struct group_table *table = group_coordinator_table(self);
    struct group *group = table != NULL ? group_find_or_create(table, state->group_id,
                                                               state->partition)
                                        : NULL;
    struct heartbeat_scratch *scratch = group != NULL ? sb_alloc(sizeof(*scratch)) : NULL;
    if (scratch == NULL) {
        group_op_done(self, group_op_of(op), table == NULL
                                                 ? SB_WIRE_ERROR_COORDINATOR_LOAD_IN_PROGRESS
                                                 : SB_WIRE_ERROR_BROKER_BUSY);
        return;
    }
    const uint8_t *body;
    uint32_t body_bytes;
    request_body(op->request, &body, &body_bytes);
    struct sb_group_heartbeat_request decoded;
    int result = sb_group_heartbeat_request_decode(body, body_bytes, &decoded);
    SB_ASSERT(result == 0); /* Decoded on the connection's shard already. */
    int16_t error = heartbeat_run(self, group_op_of(op), table, group, &decoded, scratch);
    sb_free(scratch);
    group_op_done(self, group_op_of(op), error);
}

int
group_heartbeat_encode(struct broker_shard *self, struct request *request,
                       struct sb_wire_writer *writer)
{
    const struct group_state *state = request->state;
    if (state->error != SB_WIRE_ERROR_NONE) {
        struct sb_group_heartbeat_response response = {
            .error_code = state->error, .member_id = {"", 0}, .member_epoch = -1,
            .assignment_unchanged = true};
        return sb_group_heartbeat_response_encode(writer, &response);
    }
    return group_body_copy(request, writer);
}
