/*
 * broker/api_offsets.c - ListOffsets (route OWNERS, api.h): one list_offsets_part per
 * partition, one list_offsets_op per owning shard (router.c). The owner answers each part
 * in turn: the earliest offset, the latest (the high watermark), or the first offset at or
 * after a time, looked up in the partition's batches with a buffer of the owner's memory
 * (grown for a batch stored under a higher max_message_bytes than today's).
 */
#include <errno.h>

#include "core/assert.h"
#include "broker/api.h"
#include "broker/router.h"
#include "proto/api_fetch.h"

/* One partition of a ListOffsets request. */
struct list_offsets_part {
    struct part part;        /* Topic, partition, owner, error, op. */
    int64_t timestamp;       /* The question: EARLIEST, LATEST or a time in ms. */
    int64_t offset;          /* The answer, or -1. */
    int64_t found_timestamp; /* The answer's timestamp, or -1. */
};

/* The partitions of a ListOffsets request one owner answers. */
struct list_offsets_op {
    struct op op;                 /* Request, owner, parts, pending steps, links. */
    uint32_t next_part;           /* Index in op.parts of the next part to answer. */
    struct sb_time_lookup lookup; /* A lookup by time in progress. */
    uint8_t *lookup_buffer;       /* Its buffer (the owner's memory), or NULL. */
    uint32_t lookup_capacity;     /* Its size. */
};

static bool list_offsets_part_run(struct broker_shard *self, struct list_offsets_op *op,
                                  struct list_offsets_part *part);
static void list_offsets_next(struct broker_shard *self, struct list_offsets_op *op);

static struct list_offsets_part *
list_offsets_part_at(const struct request *request, uint32_t index)
{
    return (struct list_offsets_part *)(void *)router_part(request, index);
}

/* Counts the request's partitions; *names_bytes_out: its topic names' bytes (echoed back). */
static uint32_t
list_offsets_count(const struct sb_list_offsets_request *decoded, uint64_t *names_bytes_out)
{
    struct sb_list_offsets_request copy = *decoded;
    struct sb_list_offsets_topic topic;
    uint32_t parts = 0;
    *names_bytes_out = 0;
    while (sb_list_offsets_request_next_topic(&copy, &topic) == 1) {
        parts += topic.partition_cursor.count;
        *names_bytes_out += topic.name.length;
    }
    return parts;
}

static int
list_offsets_parts(struct request *request, struct sb_list_offsets_request *decoded)
{
    struct sb_list_offsets_topic topic;
    uint32_t topic_index = 0;
    uint32_t part_index = 0;
    while (sb_list_offsets_request_next_topic(decoded, &topic) == 1) {
        request->topics[topic_index] = topic.name;
        struct sb_list_offsets_partition partition;
        int next;
        while ((next = sb_list_offsets_topic_next_partition(&topic, &partition)) == 1) {
            struct list_offsets_part *part = list_offsets_part_at(request, part_index++);
            part->part.topic_index = topic_index;
            part->part.partition = partition.partition;
            part->timestamp = partition.timestamp;
            part->offset = -1;
            part->found_timestamp = -1;
            router_resolve(request, &part->part, topic.name);
        }
        if (next < 0) {
            return next;
        }
        topic_index++;
    }
    return 0;
}

int16_t
list_offsets_decode(struct broker_shard *self, struct request *request)
{
    const uint8_t *body;
    uint32_t body_bytes;
    request_body(request, &body, &body_bytes);
    struct sb_list_offsets_request decoded;
    if (sb_list_offsets_request_decode(body, body_bytes, &decoded) != 0) {
        return SB_WIRE_ERROR_INVALID_REQUEST;
    }
    uint64_t names_bytes;
    struct router_layout layout = {
        .topic_count = decoded.topic_cursor.count,
        .part_count = list_offsets_count(&decoded, &names_bytes),
        .part_bytes = sizeof(struct list_offsets_part),
        .op_bytes = sizeof(struct list_offsets_op)};
    layout.extra_bytes =
        (uint64_t)layout.topic_count * sizeof(struct sb_list_offsets_topic_response) +
        (uint64_t)layout.part_count * sizeof(struct sb_list_offsets_partition_response);
    int16_t error = router_reserve(request, &layout);
    if (error != SB_WIRE_ERROR_NONE) {
        return error;
    }
    if (!request_reserve_response(request, names_bytes + (uint64_t)layout.topic_count * 8 +
                                               (uint64_t)layout.part_count * 24)) {
        return SB_WIRE_ERROR_BROKER_BUSY;
    }
    if (list_offsets_parts(request, &decoded) != 0) {
        return SB_WIRE_ERROR_INVALID_REQUEST;
    }
    router_split(request);
    return SB_WIRE_ERROR_NONE;
}

int
list_offsets_encode(struct broker_shard *self, struct request *request,
                    struct sb_wire_writer *writer)
{
    struct sb_list_offsets_topic_response *topics = request->extra;
    struct sb_list_offsets_partition_response *partitions =
        (struct sb_list_offsets_partition_response *)(void *)(topics + request->topic_count);
    for (uint32_t index = 0; index < request->part_count; index++) {
        const struct list_offsets_part *part = list_offsets_part_at(request, index);
        partitions[index] = (struct sb_list_offsets_partition_response){
            .partition = part->part.partition, .error_code = part->part.error,
            .timestamp = part->found_timestamp, .offset = part->offset};
    }
    uint32_t part_index = 0;
    for (uint32_t topic = 0; topic < request->topic_count; topic++) {
        uint32_t first = part_index;
        uint32_t count = router_topic_span(request, topic, &part_index);
        topics[topic] = (struct sb_list_offsets_topic_response){
            .name = request->topics[topic], .partitions = partitions + first,
            .partition_count = count};
    }
    struct sb_list_offsets_response response = {.topics = topics,
                                                .topic_count = request->topic_count};
    return sb_list_offsets_response_encode(writer, &response);
}

/* The owner's side. */

void
list_offsets_execute(struct broker_shard *self, struct op *base)
{
    struct list_offsets_op *op = (struct list_offsets_op *)(void *)base;
    op->next_part = 0;
    list_offsets_next(self, op);
}

/* The lookup buffer, `bytes` at least (owner's memory). A batch stored under a higher
 * max_message_bytes than today's may need more than the first one: false (the part's error
 * set) when no buffer can hold it (MESSAGE_TOO_LARGE: above max_frame_bytes, the largest) or
 * the memory is busy now (BROKER_BUSY). */
static bool
list_offsets_buffer(struct broker_shard *self, struct list_offsets_op *op,
                    struct list_offsets_part *part, uint32_t bytes)
{
    if (op->lookup_buffer != NULL && op->lookup_capacity >= bytes) {
        return true;
    }
    if (op->lookup_buffer != NULL) {
        sb_bufpool_release(&self->buffers, op->lookup_buffer, op->lookup_capacity);
    }
    bool fits = bytes <= self->broker->config.max_frame_bytes;
    op->lookup_buffer = fits ? sb_bufpool_acquire(&self->buffers, bytes, &op->lookup_capacity)
                             : NULL;
    if (op->lookup_buffer == NULL) {
        part->part.error = fits ? SB_WIRE_ERROR_BROKER_BUSY : SB_WIRE_ERROR_MESSAGE_TOO_LARGE;
        return false;
    }
    return true;
}

/* The lookup ended (at once or by callback): its answer, or a batch too large for the buffer
 * looked up again with a buffer that holds it. Returns true when the part is answered. */
static bool
list_offsets_answer(struct broker_shard *self, struct list_offsets_op *op,
                    struct list_offsets_part *part)
{
    struct sb_time_lookup *lookup = &op->lookup;
    if (lookup->result == -ENOSPC && lookup->needed_bytes > op->lookup_capacity) {
        return !list_offsets_buffer(self, op, part, lookup->needed_bytes) ||
               list_offsets_part_run(self, op, part);
    }
    if (lookup->result == 0) {
        part->offset = lookup->offset;
        part->found_timestamp = lookup->found_timestamp_ms;
    } else {
        part->part.error = SB_WIRE_ERROR_STORAGE_ERROR;
    }
    return true;
}

static void
list_offsets_lookup_done(struct sb_time_lookup *lookup)
{
    struct list_offsets_op *op = lookup->context;
    struct broker_shard *self = op->op.owner_shard;
    struct list_offsets_part *part = list_offsets_part_at(op->op.request,
                                                          op->op.parts[op->next_part - 1]);
    if (list_offsets_answer(self, op, part)) {
        list_offsets_next(self, op);
    }
}

/* Answers one part; returns true if done at once. */
static bool
list_offsets_part_run(struct broker_shard *self, struct list_offsets_op *op,
                      struct list_offsets_part *part)
{
    struct sb_partition *partition = router_partition(self, &part->part, NULL);
    if (partition == NULL) {
        return true;
    }
    if (part->timestamp == SB_LIST_OFFSETS_EARLIEST) {
        part->offset = sb_partition_log_start_offset(partition);
        return true;
    }
    if (part->timestamp == SB_LIST_OFFSETS_LATEST) {
        part->offset = sb_partition_high_watermark(partition);
        return true;
    }
    if (part->timestamp < 0) { /* No such query: a bad request, not a bad record time. */
        part->part.error = SB_WIRE_ERROR_INVALID_REQUEST;
        return true;
    }
    if (!list_offsets_buffer(self, op, part, self->broker->config.max_message_bytes)) {
        return true;
    }
    struct sb_time_lookup *lookup = &op->lookup;
    lookup->timestamp_ms = part->timestamp;
    lookup->callback = list_offsets_lookup_done;
    lookup->context = op;
    lookup->buffer = op->lookup_buffer;
    lookup->capacity = op->lookup_capacity;
    int started = sb_partition_offset_for_time(partition, lookup);
    if (started == 0) {
        return false;
    }
    if (started < 0) {
        lookup->result = started;
    }
    return list_offsets_answer(self, op, part);
}

static void
list_offsets_next(struct broker_shard *self, struct list_offsets_op *op)
{
    /* Bounded by the op's parts. */
    while (op->next_part < op->op.part_count) {
        struct list_offsets_part *part = list_offsets_part_at(op->op.request,
                                                              op->op.parts[op->next_part++]);
        if (!list_offsets_part_run(self, op, part)) {
            return;
        }
    }
    if (router_op_step(self, &op->op)) {
        if (op->lookup_buffer != NULL) {
            sb_bufpool_release(&self->buffers, op->lookup_buffer, op->lookup_capacity);
            op->lookup_buffer = NULL;
        }
        router_op_finish(self, &op->op);
    }
}
