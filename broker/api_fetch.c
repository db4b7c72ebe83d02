/*
 * broker/api_fetch.c - Fetch (route OWNERS, api.h): one fetch_part per partition, one
 * fetch_op per owning shard (router.c), sent to their owners in rounds until answered:
 *
 *   decode --> read: each op takes a buffer and reads its parts in order (whole batches,
 *              below the high watermark) --> back (fetch_gathered):
 *      a stored batch did not fit (an older, larger max_message_bytes) --> read again
 *      less than min_bytes, nothing failed, time left --> wait: the ops go without
 *              buffers and park on their owner until a partition's high watermark moves
 *              (fetch_partition_durable), the deadline passes or the connection closes
 *              (fetch_cancel) --> back --> read
 *      else --> answer: trimmed to max_bytes in request order (fetch_encode)
 *
 * So a waiting fetch holds no fetch memory. The buffers are the connection's shard's; an
 * owner fills them while the op is its. When one op reads every part, its buffer is the
 * response: each part's records are read to where fetch_encode puts them (the frame header
 * and the fixed fields of the topics and parts before them left free), so they are sent
 * without being copied again; trimming moves the records after a dropped part down.
 */
#include <errno.h>
#include <string.h>

#include "core/assert.h"
#include "core/clock.h"
#include "core/error.h"
#include "broker/api.h"
#include "broker/router.h"
#include "proto/api_fetch.h"

/* Room for a response's frame header, counts and fixed fields beyond the estimate below. */
#define FETCH_RESPONSE_SLACK_BYTES 256u

/* The request-wide state of a Fetch (request->state). */
struct fetch_state {
    int32_t max_bytes;    /* The response's record limit. */
    int32_t min_bytes;    /* Answer once this much was read. */
    uint64_t deadline_ns; /* When its long poll ends (monotonic). */
    bool waiting;         /* Its ops wait for data, holding no buffers. */
    uint32_t batch_room;  /* Room for a batch in each op's buffer beyond today's
                             max_message_bytes (an older, larger batch), or 0. */
    bool cancelled;       /* Its connection closed: answer without waiting. */
    uint32_t head_bytes;  /* The response's bytes besides the records: frame header, fixed
                             fields of every topic and part. */
};

/* One partition of a Fetch request. */
struct fetch_part {
    struct part part;         /* Topic, partition, owner, error, op. */
    int64_t fetch_offset;     /* First offset wanted. */
    uint32_t max_bytes;       /* The partition's limit. */
    uint32_t data_offset;     /* Where its batches start in its op's buffer. */
    uint32_t data_bytes;      /* Bytes of whole batches there. */
    uint32_t data_crc;        /* Their CRC32C (the read's), for the frame's CRC. */
    uint32_t batch_needed;    /* The size of a first batch that did not fit the op's buffer
                                 (stored under a higher max_message_bytes), else 0. */
    int64_t high_watermark;   /* As the last read saw it, or -1. */
    int64_t log_start_offset; /* As the last read saw it, or -1. */
    uint32_t head_at;         /* Where its records start in the response when the records of
                                 the parts before it are empty (frame header included). */
};

/* The partitions of a Fetch one owner reads or waits for. */
struct fetch_op {
    struct op op;               /* Request, owner, parts, pending steps, links. */
    int32_t max_wait_ms;        /* > 0: wait this long for new data (no buffer); 0: read. */
    uint32_t max_bytes;         /* Its share of the response limit. */
    uint8_t *data;              /* Buffer for all its parts (the request's shard's). */
    uint32_t data_capacity;     /* Its size. */
    uint32_t data_used;         /* Bytes filled. */
    uint32_t next_part;         /* Index in op.parts of the next part to read. */
    bool in_place;              /* Its buffer is the response (the request's only op): the
                                   records go where fetch_encode puts them. */
    struct sb_read read;        /* The read in progress. */
    bool parked;                /* Waiting for data or the deadline. */
    struct sb_timer deadline;   /* Long-poll deadline (owner's timer). */
    struct fetch_op *parked_next; /* Owner's list of parked fetches. */
};

static void fetch_read(struct request *request);
static void fetch_next(struct broker_shard *self, struct fetch_op *op);

static struct fetch_part *
fetch_part_at(const struct request *request, uint32_t index)
{
    return (struct fetch_part *)(void *)router_part(request, index);
}

static struct fetch_op *
fetch_op_at(const struct request *request, uint32_t index)
{
    return (struct fetch_op *)(void *)router_op(request, index);
}

/* Counts the request's partitions. */
static uint32_t
fetch_count(const struct sb_fetch_request *decoded)
{
    struct sb_fetch_request copy = *decoded;
    struct sb_fetch_topic topic;
    uint32_t parts = 0;
    while (sb_fetch_request_next_topic(&copy, &topic) == 1) {
        parts += topic.partition_cursor.count;
    }
    return parts;
}

static int
fetch_parts(struct request *request, struct sb_fetch_request *decoded)
{
    struct fetch_state *state = request->state;
    struct sb_fetch_topic topic;
    uint32_t topic_index = 0;
    uint32_t part_index = 0;
    uint32_t head_at = SB_FRAME_HEADER_BYTES + SB_FETCH_RESPONSE_HEAD_BYTES;
    while (sb_fetch_request_next_topic(decoded, &topic) == 1) {
        request->topics[topic_index] = topic.name;
        head_at += SB_FETCH_TOPIC_RESPONSE_HEAD_BYTES(topic.name.length);
        struct sb_fetch_partition partition;
        int next;
        while ((next = sb_fetch_topic_next_partition(&topic, &partition)) == 1) {
            struct fetch_part *part = fetch_part_at(request, part_index++);
            part->part.topic_index = topic_index;
            part->part.partition = partition.partition;
            part->fetch_offset = partition.fetch_offset;
            head_at += SB_FETCH_PARTITION_RESPONSE_HEAD_BYTES;
            part->head_at = head_at;
            if (partition.partition_max_bytes < 0) {
                return -EINVAL; /* docs/protocol.md: negative byte values are refused. */
            }
            part->max_bytes = (uint32_t)partition.partition_max_bytes;
            part->high_watermark = -1;
            part->log_start_offset = -1;
            router_resolve(request, &part->part, topic.name);
            if (part->part.error == SB_WIRE_ERROR_NONE && topic.topic_id != 0 &&
                topic.topic_id != part->part.topic_id) {
                /* Version 1: the reader's position is in a topic since deleted; this one
                 * has the name only. */
                part->part.error = SB_WIRE_ERROR_UNKNOWN_TOPIC_ID;
            }
        }
        if (next < 0) {
            return next;
        }
        topic_index++;
    }
    state->head_bytes = head_at;
    return 0;
}

/* The response's record limit: max_bytes, and never more than a frame (the first batch may
 * still pass it, as docs/protocol.md promises). */
static uint64_t
fetch_limit(const struct request *request)
{
    const struct fetch_state *state = request->state;
    uint64_t asked = state->max_bytes > 0 ? (uint64_t)state->max_bytes : 0;
    return sb_min_u64(asked, request->home->broker->config.max_frame_bytes);
}

/* Half of what an idle shard's request memory has besides this request's frame, scratch and
 * `response_bytes`: the most the ops' buffers take together (the response copies them,
 * unless the only op's buffer is the response). */
static uint64_t
fetch_half(const struct request *request, uint64_t response_bytes)
{
    uint64_t taken = (uint64_t)request->net.frame_capacity + request->scratch_capacity +
                     response_bytes;
    uint64_t budget = request->home->buffers.budget_bytes;
    return budget > taken ? (budget - taken) / 2 : 0;
}

/* The response's size besides the records: the topic names echoed back (unknown ones may be
 * longer than a valid name), and each topic's and partition's fixed fields. */
static uint64_t
fetch_response_bytes(const struct request *request)
{
    uint64_t bytes = (uint64_t)request->part_count * 48;
    for (uint32_t topic = 0; topic < request->topic_count; topic++) {
        bytes += request->topics[topic].length + 8u;
    }
    return bytes;
}

/* One op's buffer size: its partitions' limits (at most the response limit) plus room for
 * one whole batch, within `share`. */
static uint64_t
fetch_op_capacity(const struct request *request, const struct fetch_op *op,
                  uint64_t batch_room, uint64_t share)
{
    uint64_t wanted = 0;
    for (uint32_t index = 0; index < op->op.part_count; index++) {
        wanted += fetch_part_at(request, op->op.parts[index])->max_bytes;
    }
    return sb_min_u64(sb_min_u64(wanted, fetch_limit(request)) + batch_room, share);
}

/* Each op gets one buffer: its partitions' limits (at most the response limit) plus room for
 * one whole batch of the largest size (today's max_message_bytes, or a larger stored batch a
 * read of this request found: fetch_reread), so a batch bigger than the limits still comes
 * back and consumers progress. Together they take at most half of what the request memory
 * has left besides this request (the response is a copy of what they read), so an idle
 * broker can always serve the fetch; past that share an op gets one batch's room, and ops
 * past the whole half get none and answer without records. The op served first rotates from
 * fetch to fetch, so the next fetches serve those. False when the memory is busy now
 * (BROKER_BUSY, retriable). */
static bool
fetch_buffers(struct request *request, uint64_t response_bytes)
{
    struct broker_shard *self = request->home;
    const struct sb_broker_config *config = &self->broker->config;
    const struct fetch_state *state = request->state;
    /* A batch fits in a produce frame, so never needs more than max_frame_bytes. */
    uint64_t batch_room = sb_min_u64((uint64_t)config->max_message_bytes + SB_BUFPOOL_PAGE_BYTES,
                                     config->max_frame_bytes);
    batch_room = sb_max_u64(batch_room, state->batch_room);
    uint64_t half = fetch_half(request, response_bytes);
    uint64_t share = sb_max_u64(half / sb_max_u64(request->op_count, 1), batch_room);
    share = sb_min_u64(share, config->max_frame_bytes); /* The pool's largest buffer. */
    uint64_t granted = 0;
    uint32_t first = self->fetch_turn++;
    for (uint32_t turn = 0; turn < request->op_count; turn++) {
        struct fetch_op *op = fetch_op_at(request, (first + turn) % request->op_count);
        uint64_t capacity = fetch_op_capacity(request, op, batch_room, share);
        op->data = NULL;
        op->max_bytes = 0;
        if (turn != 0 && granted + capacity > half) {
            continue; /* No buffer: its parts answer without records. */
        }
        granted += capacity;
        /* Room below max_bytes always leaves a whole batch's room in the buffer. */
        op->max_bytes = (uint32_t)(capacity - batch_room);
        op->in_place = request->op_count == 1;
        capacity += op->in_place ? state->head_bytes : 0;
        op->data = sb_bufpool_acquire(&self->buffers, (uint32_t)capacity, &op->data_capacity);
        if (op->data == NULL) {
            return false;
        }
    }
    return true;
}

/* Gives back the ops' buffers. */
static void
fetch_release(struct request *request)
{
    for (uint32_t index = 0; index < request->op_count; index++) {
        struct fetch_op *op = fetch_op_at(request, index);
        if (op->data != NULL) {
            sb_bufpool_release(&request->home->buffers, op->data, op->data_capacity);
            op->data = NULL;
        }
    }
}

/* Takes the ops' buffers for a read; false (none kept) if the memory is busy. */
static bool
fetch_prepare_read(struct request *request)
{
    struct fetch_state *state = request->state;
    state->waiting = false;
    /* The response itself is taken when the ops are back, sized to what they read. */
    uint64_t response = fetch_response_bytes(request) + FETCH_RESPONSE_SLACK_BYTES;
    if (!fetch_buffers(request, response)) {
        fetch_release(request);
        return false;
    }
    for (uint32_t index = 0; index < request->op_count; index++) {
        fetch_op_at(request, index)->max_wait_ms = 0;
    }
    return true;
}

int16_t
fetch_decode(struct broker_shard *self, struct request *request)
{
    const uint8_t *body;
    uint32_t body_bytes;
    request_body(request, &body, &body_bytes);
    struct sb_fetch_request decoded;
    if (sb_fetch_request_decode(body, body_bytes, request->header.api_version, &decoded) != 0 ||
        decoded.max_wait_ms < 0 || decoded.min_bytes < 0 || decoded.max_bytes < 0 ||
        decoded.isolation_level != SB_FETCH_ISOLATION_READ_UNCOMMITTED) {
        return SB_WIRE_ERROR_INVALID_REQUEST;
    }
    struct router_layout layout = {
        .topic_count = decoded.topic_cursor.count, .part_count = fetch_count(&decoded),
        .part_bytes = sizeof(struct fetch_part), .op_bytes = sizeof(struct fetch_op),
        .state_bytes = sizeof(struct fetch_state)};
    layout.extra_bytes = (uint64_t)layout.topic_count * sizeof(struct sb_fetch_topic_response) +
                         (uint64_t)layout.part_count * sizeof(struct sb_fetch_partition_response);
    int16_t error = router_reserve(request, &layout);
    if (error != SB_WIRE_ERROR_NONE) {
        return error;
    }
    struct fetch_state *state = request->state;
    state->max_bytes = decoded.max_bytes;
    if (fetch_parts(request, &decoded) != 0) {
        return SB_WIRE_ERROR_INVALID_REQUEST;
    }
    router_split(request);
    int32_t wait_ms = decoded.max_wait_ms > 0 ? decoded.max_wait_ms : 0;
    wait_ms = wait_ms < SB_BROKER_FETCH_WAIT_MAX_MS ? wait_ms : SB_BROKER_FETCH_WAIT_MAX_MS;
    state->min_bytes = decoded.min_bytes;
    state->deadline_ns = sb_io_now_ns(request->home->io) + (uint64_t)wait_ms * SB_NS_PER_MS;
    /* Reads first; waits, if it must, once this read came short. */
    return fetch_prepare_read(request) ? SB_WIRE_ERROR_NONE : SB_WIRE_ERROR_BROKER_BUSY;
}

/* Sends the ops to read (BROKER_BUSY if the memory is busy). */
static void
fetch_read(struct request *request)
{
    if (!fetch_prepare_read(request)) {
        request_respond_error(request, SB_WIRE_ERROR_BROKER_BUSY);
        return;
    }
    router_dispatch(request);
}

/* Sends the ops to wait for data they have not read yet, holding no buffers, until the
 * deadline. */
static void
fetch_wait(struct request *request)
{
    struct fetch_state *state = request->state;
    uint64_t now_ns = sb_io_now_ns(request->home->io);
    uint64_t left_ms = state->deadline_ns > now_ns
                           ? (state->deadline_ns - now_ns) / SB_NS_PER_MS : 0;
    state->waiting = true;
    fetch_release(request);
    for (uint32_t index = 0; index < request->op_count; index++) {
        fetch_op_at(request, index)->max_wait_ms = (int32_t)sb_max_u64(left_ms, 1);
    }
    for (uint32_t index = 0; index < request->part_count; index++) {
        fetch_part_at(request, index)->data_bytes = 0;
    }
    router_dispatch(request);
}

/* After a read: parts whose first batch did not fit their op's buffer were stored under a
 * higher max_message_bytes than today's. A batch no response can carry (above
 * max_frame_bytes less the response's own fields, or above the half of an idle shard's
 * request memory the ops may take) is MESSAGE_TOO_LARGE; for the others the ops read again
 * with room for the largest. Each read again needs a larger batch than the last, so it
 * ends. Returns true when it reads again. */
static bool
fetch_reread(struct request *request)
{
    const struct sb_broker_config *config = &request->home->broker->config;
    struct fetch_state *state = request->state;
    uint64_t response = fetch_response_bytes(request) + FETCH_RESPONSE_SLACK_BYTES;
    uint64_t frame = (uint64_t)config->max_frame_bytes + SB_FRAME_HEADER_BYTES;
    uint64_t carried = sb_min_u64(frame > response ? frame - response : 0,
                                  fetch_half(request, response));
    uint32_t needed = 0;
    for (uint32_t index = 0; index < request->part_count; index++) {
        struct fetch_part *part = fetch_part_at(request, index);
        if (part->batch_needed > carried) {
            part->part.error = SB_WIRE_ERROR_MESSAGE_TOO_LARGE;
        } else if (part->batch_needed > needed) {
            needed = part->batch_needed;
        }
    }
    if (needed <= state->batch_room) {
        return false;
    }
    state->batch_room = needed;
    fetch_release(request);
    fetch_read(request);
    return true;
}

/* Fetch response: whole batches only, trimmed to the limit in request order, but the first
 * partition with data always keeps its first batch. Returns the record bytes kept. */
static uint64_t
fetch_trim(struct request *request, struct sb_fetch_partition_response *partitions)
{
    uint64_t limit = fetch_limit(request);
    uint64_t used = 0;
    for (uint32_t index = 0; index < request->part_count; index++) {
        const struct fetch_part *part = fetch_part_at(request, index);
        const struct fetch_op *op = (const struct fetch_op *)(const void *)part->part.op;
        uint32_t bytes = part->part.error == 0 ? part->data_bytes : 0;
        if (used != 0 && used + bytes > limit) {
            bytes = 0; /* Past the response limit: the client fetches it next time. */
        }
        used += bytes;
        partitions[index] = (struct sb_fetch_partition_response){
            .partition = part->part.partition, .error_code = part->part.error,
            .high_watermark = part->high_watermark, .log_start_offset = part->log_start_offset,
            .last_stable_offset = part->high_watermark,
            .records = {bytes != 0 ? op->data + part->data_offset : (const uint8_t *)"", bytes},
            .records_crc_known = bytes != 0, .records_crc = part->data_crc,
        };
    }
    return used;
}

/* The response buffer is taken now, for the records actually kept (fetch_encode). */
static void
fetch_answer(struct request *request)
{
    struct sb_fetch_topic_response *topics = request->extra;
    struct sb_fetch_partition_response *partitions =
        (struct sb_fetch_partition_response *)(void *)(topics + request->topic_count);
    uint64_t records = fetch_trim(request, partitions);
    struct fetch_op *only = request->op_count == 1 ? fetch_op_at(request, 0) : NULL;
    if (only != NULL && only->in_place && only->data != NULL) {
        /* The records are in place (fetch_trim pointed at them): the buffer is the answer. */
        request->net.response = only->data;
        request->net.response_capacity = only->data_capacity;
        only->data = NULL;
    } else if (!request_reserve_response(request, fetch_response_bytes(request) + records)) {
        fetch_release(request);
        request_respond_error(request, SB_WIRE_ERROR_BROKER_BUSY);
        return;
    }
    request_answer(request);
}

/* The partitions were trimmed into the response arrays (fetch_answer); the ops' buffers go
 * back as soon as they are copied. */
int
fetch_encode(struct broker_shard *self, struct request *request, struct sb_wire_writer *writer)
{
    struct sb_fetch_topic_response *topics = request->extra;
    struct sb_fetch_partition_response *partitions =
        (struct sb_fetch_partition_response *)(void *)(topics + request->topic_count);
    uint32_t part_index = 0;
    for (uint32_t topic = 0; topic < request->topic_count; topic++) {
        uint32_t first = part_index;
        uint32_t count = router_topic_span(request, topic, &part_index);
        topics[topic] = (struct sb_fetch_topic_response){
            .name = request->topics[topic], .partitions = partitions + first,
            .partition_count = count};
    }
    struct sb_fetch_response response = {.topics = topics, .topic_count = request->topic_count};
    int encoded = sb_fetch_response_encode(writer, &response);
    fetch_release(request);
    return encoded;
}

/* The ops are back: after a wait, read; after a read, read again if a stored batch did not
 * fit, else answer, unless less than min_bytes came, nothing failed, and there is time to
 * wait for more. A cancelled fetch, or any on a stopping broker, is answered with what it
 * has. */
void
fetch_gathered(struct request *request)
{
    struct fetch_state *state = request->state;
    for (uint32_t index = 0; index < request->op_count; index++) {
        struct fetch_op *op = fetch_op_at(request, index);
        if (op->data != NULL) { /* The reservation now follows what was read. */
            uint32_t head = op->in_place ? state->head_bytes : 0;
            op->data_capacity = sb_bufpool_shrink(&request->home->buffers, op->data,
                                                  op->data_capacity, head + op->data_used);
        }
    }
    bool ending = state->cancelled || request->home->stopping;
    if (state->waiting && !ending) {
        fetch_read(request);
        return;
    }
    if (!state->waiting && !ending && fetch_reread(request)) {
        return;
    }
    uint64_t read_bytes = 0;
    bool failed = false;
    for (uint32_t index = 0; index < request->part_count; index++) {
        const struct fetch_part *part = fetch_part_at(request, index);
        read_bytes += part->data_bytes;
        failed = failed || part->part.error != SB_WIRE_ERROR_NONE;
    }
    /* As before the phases: at least one byte is waited for (min_bytes <= 0 counts as 1). */
    uint64_t wanted = state->min_bytes > 0 ? (uint64_t)state->min_bytes : 1;
    uint64_t now_ns = sb_io_now_ns(request->home->io);
    if (!state->waiting && !ending && !failed && read_bytes < wanted &&
        now_ns + SB_NS_PER_MS <= state->deadline_ns) {
        fetch_wait(request);
        return;
    }
    fetch_answer(request);
}

void
fetch_cancel(struct request *request)
{
    struct broker_shard *self = request->home;
    struct fetch_state *state = request->state;
    if (state == NULL || state->cancelled) {
        return; /* Not decoded (refused), or cancelled already. */
    }
    state->cancelled = true;
    for (uint32_t index = 0; state->waiting && index < request->op_count; index++) {
        struct op *op = router_op(request, index);
        if (op->owner == self->id) {
            fetch_cancel_op(self, op);
        } else {
            /* A hint: if it cannot go now, the fetch ends at its deadline (at most
             * SB_BROKER_FETCH_WAIT_MAX_MS). */
            broker_send_if_room(self, op->owner, MSG_FETCH_CANCEL, op);
        }
    }
}

/* The owner's side. */

static void
fetch_step_done(struct broker_shard *self, struct fetch_op *op)
{
    if (router_op_step(self, &op->op)) {
        router_op_finish(self, &op->op);
    }
}

/* Records the finished read of the op's current part. */
static void
fetch_record(struct fetch_op *op, const struct sb_read *read)
{
    struct fetch_part *part = fetch_part_at(op->op.request, op->op.parts[op->next_part - 1]);
    if (read->result == 0) {
        part->data_offset = (op->in_place ? part->head_at : 0) + op->data_used;
        part->data_bytes = read->bytes;
        part->data_crc = read->crc;
        op->data_used += read->bytes;
    } else if (read->result == -ENOSPC) {
        part->batch_needed = read->needed_bytes; /* The request reads again with room. */
    } else {
        part->part.error = read->result == -EROFS ? SB_WIRE_ERROR_DATA_FENCED
                           : read->result == -ERANGE ? SB_WIRE_ERROR_OFFSET_OUT_OF_RANGE
                           : read->result == SB_ECORRUPT ? SB_WIRE_ERROR_CORRUPT_MESSAGE
                           : read->result == -ENOBUFS ? SB_WIRE_ERROR_BROKER_BUSY
                           : SB_WIRE_ERROR_STORAGE_ERROR;
    }
    part->high_watermark = read->high_watermark;
    part->log_start_offset = read->log_start_offset;
}

static void
fetch_read_done(struct sb_read *read)
{
    struct fetch_op *op = read->context;
    fetch_record(op, read);
    fetch_next(op->op.owner_shard, op);
}

/* Starts the read of one part; returns true if it finished at once (results recorded). */
static bool
fetch_part_read(struct broker_shard *self, struct fetch_op *op, struct fetch_part *part)
{
    struct sb_partition *partition = router_partition(self, &part->part, NULL);
    if (partition == NULL) {
        return true;
    }
    part->high_watermark = sb_partition_high_watermark(partition);
    part->log_start_offset = sb_partition_log_start_offset(partition);
    part->data_bytes = 0;
    uint32_t room = op->max_bytes > op->data_used ? op->max_bytes - op->data_used : 0;
    if (room == 0 && (op->data_used != 0 || op->data == NULL)) {
        return true; /* The response is full (or had no room): the client asks again. */
    }
    /* In place, the records go after the fixed fields before them, and room is left for all
     * the fixed fields after them. */
    const struct fetch_state *state = op->op.request->state;
    uint32_t head = op->in_place ? part->head_at : 0;
    uint32_t tail = op->in_place ? state->head_bytes - part->head_at : 0;
    struct sb_read *read = &op->read;
    read->offset = part->fetch_offset;
    read->max_bytes = (uint32_t)sb_min_u64(room, part->max_bytes);
    read->buffer = op->data + head + op->data_used;
    read->capacity = op->data_capacity - head - tail - op->data_used;
    read->callback = fetch_read_done;
    read->context = op;
    int started = sb_partition_read(partition, read);
    if (started == 0) {
        return false;
    }
    if (started < 0) {
        read->result = started;
        read->bytes = 0;
        read->high_watermark = part->high_watermark;
        read->log_start_offset = part->log_start_offset;
    }
    fetch_record(op, read);
    return true;
}

static void
fetch_next(struct broker_shard *self, struct fetch_op *op)
{
    /* Bounded by the op's parts: each pass starts the next one. */
    while (op->next_part < op->op.part_count) {
        struct fetch_part *part = fetch_part_at(op->op.request, op->op.parts[op->next_part++]);
        if (!fetch_part_read(self, op, part)) {
            return;
        }
    }
    fetch_step_done(self, op);
}

/* Reads every part, from an empty buffer. */
static void
fetch_round(struct broker_shard *self, struct fetch_op *op)
{
    op->data_used = 0;
    for (uint32_t index = 0; index < op->op.part_count; index++) {
        struct fetch_part *part = fetch_part_at(op->op.request, op->op.parts[index]);
        part->part.error = SB_WIRE_ERROR_NONE;
        part->data_bytes = 0;
        part->batch_needed = 0;
    }
    fetch_next(self, op);
}

static void
fetch_unpark(struct broker_shard *self, struct fetch_op *op)
{
    for (struct fetch_op **link = &self->parked; *link != NULL; link = &(*link)->parked_next) {
        if (*link == op) {
            *link = op->parked_next;
            break;
        }
    }
    op->parked = false;
}

/* Long-poll deadline: the wait is over. */
static void
fetch_deadline_fire(struct sb_timer *timer)
{
    struct fetch_op *op = timer->context;
    struct broker_shard *self = op->op.owner_shard;
    if (op->parked) {
        fetch_unpark(self, op);
        fetch_step_done(self, op);
    }
}

/* A parked op's wait ends now: unparked, its deadline disarmed, home. */
static void
fetch_wake(struct broker_shard *self, struct fetch_op *op)
{
    fetch_unpark(self, op);
    sb_shard_timer_disarm(self->shard, &op->deadline);
    fetch_step_done(self, op);
}

/* Whether a read would answer something new: a part's partition is gone, its offset is out
 * of range, or its high watermark passed both the offset and what the last read saw. */
static bool
fetch_ready(struct broker_shard *self, const struct fetch_op *op)
{
    for (uint32_t index = 0; index < op->op.part_count; index++) {
        const struct fetch_part *part = fetch_part_at(op->op.request, op->op.parts[index]);
        struct sb_partition *partition = sb_store_partition_find(
            self->store, part->part.topic_id, (uint32_t)part->part.partition);
        if (partition == NULL) {
            return true;
        }
        int64_t high_watermark = sb_partition_high_watermark(partition);
        if (part->fetch_offset > high_watermark ||
            part->fetch_offset < sb_partition_log_start_offset(partition) ||
            (high_watermark > part->fetch_offset && high_watermark > part->high_watermark)) {
            return true;
        }
    }
    return false;
}

/* A long poll: home at once if there is something to read, else parked (no buffer held). */
static void
fetch_park(struct broker_shard *self, struct fetch_op *op)
{
    if (self->stopping || fetch_ready(self, op)) {
        fetch_step_done(self, op);
        return;
    }
    /* Each shard's timer heap has room for every op's deadline (broker_timers_per_shard). */
    int armed = sb_shard_timer_arm(self->shard, &op->deadline,
                                   (uint64_t)op->max_wait_ms * SB_NS_PER_MS, fetch_deadline_fire,
                                   op);
    SB_ASSERT(armed == 0);
    op->parked = true;
    op->parked_next = self->parked;
    self->parked = op;
}

/* A long poll (max_wait > 0, no buffer) or a read into the op's buffer. */
void
fetch_execute(struct broker_shard *self, struct op *base)
{
    struct fetch_op *op = (struct fetch_op *)(void *)base;
    op->next_part = 0;
    sb_timer_init(&op->deadline);
    if (op->max_wait_ms > 0) {
        fetch_park(self, op);
    } else {
        fetch_round(self, op);
    }
}

static bool
fetch_touches(const struct fetch_op *op, uint32_t topic_id, uint32_t partition)
{
    for (uint32_t index = 0; index < op->op.part_count; index++) {
        const struct fetch_part *part = fetch_part_at(op->op.request, op->op.parts[index]);
        if (part->part.topic_id == topic_id && (uint32_t)part->part.partition == partition) {
            return true;
        }
    }
    return false;
}

void
fetch_partition_durable(void *context, struct sb_partition *partition)
{
    struct broker_shard *self = context;
    /* The acks=all policy on one broker: the replicas are this broker alone, so what is
     * locally durable is committed. */
    sb_partition_advance_high_watermark(partition, sb_partition_durable_offset(partition));
    uint32_t topic_id = sb_partition_topic_id(partition);
    uint32_t index = sb_partition_index(partition);
    struct fetch_op *op = self->parked;
    while (op != NULL) {
        struct fetch_op *next = op->parked_next;
        if (fetch_touches(op, topic_id, index)) {
            fetch_wake(self, op);
        }
        op = next;
    }
}

void
fetch_cancel_parked(struct broker_shard *self)
{
    while (self->parked != NULL) {
        fetch_wake(self, self->parked);
    }
}

void
fetch_cancel_op(struct broker_shard *self, struct op *base)
{
    /* Found in the parked list before it is touched: an op that already went home may be
     * freed memory by now (a later dispatch of the same memory arrives after this cancel). */
    for (struct fetch_op *parked = self->parked; parked != NULL; parked = parked->parked_next) {
        if (&parked->op == base) {
            fetch_wake(self, parked);
            return;
        }
    }
}
