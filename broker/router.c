/*
 * broker/router.c - a partition request split into one op per owning shard, the ops run
 * there and come back, and the results are gathered in request order (router.h has the
 * diagram). Home-side functions come first, then the owner's.
 *
 * Ownership comes from sb_assignment_owner (broker/assignment.h), the one place that says which
 * shard owns a partition. Nothing here knows an API: the typed parts and ops of each API
 * (api_produce.c, ...) begin with struct part and struct op, and the API's entry (api.c)
 * says what an op does on its owner and what happens when all are back.
 */
#include "broker/router.h"

#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "broker/api.h"

int16_t
router_reserve(struct request *request, const struct router_layout *layout)
{
    SB_ASSERT(layout->part_bytes >= sizeof(struct part) && layout->part_bytes % 8 == 0);
    SB_ASSERT(layout->op_bytes >= sizeof(struct op) && layout->op_bytes % 8 == 0);
    if (layout->topic_count > SB_BROKER_REQUEST_TOPICS_MAX ||
        layout->part_count > SB_BROKER_REQUEST_ITEMS_MAX) {
        return SB_WIRE_ERROR_INVALID_REQUEST; /* The work bound (docs/protocol.md). */
    }
    uint32_t shard_count = request->home->metadata.shard_count;
    uint64_t state_bytes = (layout->state_bytes + 7) / 8 * 8;
    uint64_t ops_bytes = (uint64_t)shard_count * layout->op_bytes;
    uint64_t parts_bytes = (uint64_t)layout->part_count * layout->part_bytes;
    uint64_t topics_bytes = (uint64_t)layout->topic_count * sizeof(struct sb_wire_string);
    uint64_t order_bytes = ((uint64_t)layout->part_count * sizeof(uint32_t) + 7) / 8 * 8;
    if (!request_reserve_scratch(request, state_bytes + ops_bytes + parts_bytes +
                                              topics_bytes + order_bytes +
                                              layout->extra_bytes + 64)) {
        return SB_WIRE_ERROR_BROKER_BUSY;
    }
    uint8_t *cursor = request->scratch;
    request->state = layout->state_bytes != 0 ? cursor : NULL;
    cursor += state_bytes;
    request->ops = cursor;
    request->op_bytes = layout->op_bytes;
    request->op_count = 0;
    cursor += ops_bytes;
    request->parts = cursor;
    request->part_bytes = layout->part_bytes;
    request->part_count = layout->part_count;
    cursor += parts_bytes;
    request->topics = (struct sb_wire_string *)(void *)cursor;
    request->topic_count = layout->topic_count;
    cursor += topics_bytes;
    request->op_parts = (uint32_t *)(void *)cursor;
    request->extra = cursor + order_bytes;
    return SB_WIRE_ERROR_NONE;
}

struct part *
router_part(const struct request *request, uint32_t index)
{
    SB_ASSERT(index < request->part_count);
    return (struct part *)(void *)(request->parts + (uint64_t)index * request->part_bytes);
}

struct op *
router_op(const struct request *request, uint32_t index)
{
    SB_ASSERT(index < request->op_count);
    return (struct op *)(void *)(request->ops + (uint64_t)index * request->op_bytes);
}

void
router_resolve(struct request *request, struct part *part, struct sb_wire_string name)
{
    struct broker_shard *self = request->home;
    struct sb_metadata *metadata = &self->metadata;
    struct sb_topic *topic = sb_metadata_find(metadata, name.chars, name.length);
    if (topic == NULL || part->partition < 0 ||
        (uint32_t)part->partition >= topic->partition_count) {
        part->error = SB_WIRE_ERROR_UNKNOWN_TOPIC_OR_PARTITION;
        return;
    }
    part->topic_id = topic->topic_id;
    part->owner = sb_assignment_owner(&self->assignment, topic->topic_id,
                                      (uint32_t)part->partition);
}

static int
router_key_compare(const void *left, const void *right)
{
    uint64_t a = *(const uint64_t *)left;
    uint64_t b = *(const uint64_t *)right;
    return a < b ? -1 : a > b;
}

bool
router_repeats(struct request *request)
{
    uint64_t *keys = request->extra;
    uint32_t count = 0;
    for (uint32_t index = 0; index < request->part_count; index++) {
        const struct part *part = router_part(request, index);
        if (part->error == SB_WIRE_ERROR_NONE) {
            keys[count++] = (uint64_t)part->topic_id << 32 | (uint32_t)part->partition;
        }
    }
    qsort(keys, count, sizeof(*keys), router_key_compare);
    for (uint32_t index = 1; index < count; index++) {
        if (keys[index] == keys[index - 1]) {
            return true;
        }
    }
    return false;
}

/* A new op for `owner`, carrying the parts listed from `parts` on. */
static struct op *
router_op_add(struct request *request, uint32_t owner, uint32_t *parts)
{
    struct op *op = (struct op *)(void *)(request->ops +
                                          (uint64_t)request->op_count * request->op_bytes);
    request->op_count++;
    *op = (struct op){.request = request, .owner = owner, .parts = parts};
    return op;
}

void
router_split(struct request *request)
{
    uint32_t shard_count = request->home->metadata.shard_count;
    uint32_t listed = 0;
    request->op_count = 0;
    /* Bounded by shards x parts (SB_BROKER_REQUEST_ITEMS_MAX). */
    for (uint32_t shard = 0; shard < shard_count; shard++) {
        struct op *op = NULL;
        for (uint32_t index = 0; index < request->part_count; index++) {
            struct part *part = router_part(request, index);
            if (part->error != SB_WIRE_ERROR_NONE || part->owner != shard) {
                continue;
            }
            if (op == NULL) {
                op = router_op_add(request, shard, request->op_parts + listed);
            }
            request->op_parts[listed++] = index;
            op->part_count++;
            part->op = op;
        }
    }
    SB_ASSERT(listed <= request->part_count);
}

void
router_split_every_shard(struct request *request)
{
    uint32_t shard_count = request->home->metadata.shard_count;
    request->op_count = 0;
    for (uint32_t shard = 0; shard < shard_count; shard++) {
        router_op_add(request, shard, request->op_parts);
    }
}

void
router_split_coordinator(struct request *request, uint32_t owner)
{
    request->op_count = 0;
    struct op *op = router_op_add(request, owner, request->op_parts);
    for (uint32_t index = 0; index < request->part_count; index++) {
        request->op_parts[index] = index;
        router_part(request, index)->op = op;
    }
    op->part_count = request->part_count;
}

uint32_t
router_topic_span(const struct request *request, uint32_t topic, uint32_t *cursor)
{
    uint32_t first = *cursor;
    while (*cursor < request->part_count && router_part(request, *cursor)->topic_index == topic) {
        (*cursor)++;
    }
    return *cursor - first;
}

/* A guard count keeps the request from being gathered while ops are still handed out. */
void
router_dispatch(struct request *request)
{
    struct broker_shard *self = request->home;
    SB_ASSERT(request->ops_pending == 0);
    request->ops_pending = request->op_count + 1;
    for (uint32_t index = 0; index < request->op_count; index++) {
        struct op *op = router_op(request, index);
        if (op->owner == self->id) {
            router_execute(self, op);
        } else {
            broker_send(self, op->owner, MSG_OP, &op->outgoing, op);
        }
    }
    if (--request->ops_pending == 0) {
        router_gather(request);
    }
}

void
router_op_done(struct op *op)
{
    struct request *request = op->request;
    request->ops_held += op->held ? 1 : 0;
    SB_ASSERT(request->ops_pending > 0);
    if (--request->ops_pending == 0) {
        router_gather(request);
    }
}

void
router_op_released(struct op *op)
{
    struct request *request = op->request;
    SB_ASSERT(op->held && request->ops_held > 0);
    if (--request->ops_held == 0 && request->release_deferred) {
        request_release(request);
    }
}

void
router_gather(struct request *request)
{
    const struct api *api = api_find(request->header.api_key);
    SB_ASSERT(api != NULL && request->ops_pending == 0);
    if (api->gathered != NULL) {
        api->gathered(request);
    } else {
        request_answer(request);
    }
}

void
router_execute(struct broker_shard *self, struct op *op)
{
    const struct api *api = api_find(op->request->header.api_key);
    SB_ASSERT(api != NULL && api->execute != NULL);
    SB_ASSERT(op->owner == self->id);
    self->ops_in_flight++;
    op->owner_shard = self;
    op->pending = 1; /* Released by the step that finishes the op's parts. */
    api->execute(self, op);
}

bool
router_op_step(struct broker_shard *self, struct op *op)
{
    SB_ASSERT(op->owner_shard == self);
    SB_ASSERT(op->pending > 0);
    return --op->pending == 0;
}

/* Sends the op home: answered (MSG_OP_DONE) or, after an early answer, released. */
static void
router_op_send_home(struct broker_shard *self, struct op *op, uint16_t type)
{
    bool done = type == MSG_OP_DONE;
    uint32_t home = op->request->home->id;
    if (op->owner == home) {
        if (done) {
            router_op_done(op);
        } else {
            router_op_released(op);
        }
        return;
    }
    broker_send(self, home, type, done ? &op->outgoing : &op->released, op);
}

void
router_op_finish(struct broker_shard *self, struct op *op)
{
    SB_ASSERT(op->pending == 0);
    SB_ASSERT(self->ops_in_flight > 0);
    self->ops_in_flight--;
    router_op_send_home(self, op, op->held ? MSG_OP_RELEASED : MSG_OP_DONE);
}

void
router_op_answer_early(struct broker_shard *self, struct op *op)
{
    SB_ASSERT(op->pending > 0 && !op->held);
    op->held = true;
    router_op_send_home(self, op, MSG_OP_DONE);
}

struct sb_partition *
router_partition(struct broker_shard *self, struct part *part, struct sb_topic **topic_out)
{
    struct sb_partition *partition = sb_store_partition_find(self->store, part->topic_id,
                                                             (uint32_t)part->partition);
    struct sb_topic *topic = sb_metadata_find_id(&self->metadata, part->topic_id);
    if (partition == NULL || topic == NULL) {
        part->error = SB_WIRE_ERROR_UNKNOWN_TOPIC_OR_PARTITION;
        return NULL;
    }
    if (topic_out != NULL) {
        *topic_out = topic;
    }
    return partition;
}
