/*
 * broker/api_produce.c - Produce (route OWNERS, api.h): decoded on the connection's shard
 * into one produce_part per partition and one produce_op per owning shard (router.c); on
 * the owner every batch of a partition is validated before any is appended, then appended
 * in order, and the op answers at once (acks 0/1) or when its last batches are durable
 * (acks=all), within the request's timeout.
 *
 * Produce ops wait for memtable room in arrival order (produce_resume), so a partition's
 * batches never overtake each other. An acks=all op answered at its deadline stays held by
 * its appends until the last one calls back (router_op_answer_early).
 */
#include <errno.h>
#include <string.h>

#include "core/assert.h"
#include "core/clock.h"
#include "core/endian.h"
#include "core/error.h"
#include "broker/api.h"
#include "broker/group_coordinator.h"
#include "broker/router.h"
#include "proto/api_produce.h"
#include "proto/batch.h"

/* One partition of a Produce request. */
struct produce_part {
    struct part part;         /* Topic, partition, owner, error, op. */
    const uint8_t *records;   /* Its batches (borrowed from the frame). */
    uint32_t records_bytes;   /* Their length. */
    uint32_t records_done;    /* Bytes appended so far. */
    uint32_t batch_count;     /* Batches in records. */
    uint32_t batches_done;    /* Batches appended so far. */
    int64_t base_offset;      /* First offset, or -1. */
    int64_t log_append_time;  /* Append time (LogAppendTime topics), or -1. */
    int64_t log_start_offset; /* The partition's first offset, or -1. */
    struct sb_append append;  /* acks=all: the last batch's durability. */
    bool durable_waiting;     /* acks=all: `append` has not called back yet. */
};

/* The partitions of a Produce request one owner appends. */
struct produce_op {
    struct op op;                     /* Request, owner, parts, pending steps, links. */
    int16_t acks;                     /* 0, 1 or -1. */
    int32_t timeout_ms;               /* The request's timeout_ms (0: the default). */
    uint32_t next_part;               /* Index in op.parts where appending resumes. */
    uint64_t deadline_ns;             /* When waiting for room or acks gives up. */
    struct sb_timer deadline;         /* That deadline (owner's timer). */
    struct produce_op *waiting_next;  /* Owner's list of ops waiting for memtable room. */
};

static void produce_appended(struct broker_shard *self, struct produce_op *op);

static struct produce_part *
produce_part_at(const struct request *request, uint32_t index)
{
    return (struct produce_part *)(void *)router_part(request, index);
}

/* Counts the request's partitions; *names_bytes_out: its topic names' bytes (echoed back,
 * known or not, so the response is sized from them, not from the longest valid name). */
static uint32_t
produce_count(const struct sb_produce_request *decoded, uint64_t *names_bytes_out)
{
    struct sb_produce_request copy = *decoded;
    struct sb_produce_topic topic;
    uint32_t parts = 0;
    *names_bytes_out = 0;
    while (sb_produce_request_next_topic(&copy, &topic) == 1) {
        parts += topic.partition_cursor.count;
        *names_bytes_out += topic.name.length;
    }
    return parts;
}

static int
produce_parts(struct request *request, struct sb_produce_request *decoded)
{
    struct sb_produce_topic topic;
    uint32_t topic_index = 0;
    uint32_t part_index = 0;
    while (sb_produce_request_next_topic(decoded, &topic) == 1) {
        request->topics[topic_index] = topic.name;
        struct sb_produce_partition partition;
        int next;
        while ((next = sb_produce_topic_next_partition(&topic, &partition)) == 1) {
            struct produce_part *part = produce_part_at(request, part_index++);
            part->part.topic_index = topic_index;
            part->part.partition = partition.partition;
            part->records = partition.records.data;
            part->records_bytes = partition.records.length;
            part->base_offset = -1;
            part->log_append_time = -1;
            part->log_start_offset = -1;
            router_resolve(request, &part->part, topic.name);
            if (part->part.error == SB_WIRE_ERROR_NONE &&
                group_topic_is_internal(topic.name.chars, topic.name.length)) {
                part->part.error = SB_WIRE_ERROR_INVALID_TOPIC_NAME; /* The broker's own. */
            }
        }
        if (next < 0) {
            return next;
        }
        topic_index++;
    }
    return 0;
}

int16_t
produce_decode(struct broker_shard *self, struct request *request)
{
    const uint8_t *body;
    uint32_t body_bytes;
    request_body(request, &body, &body_bytes);
    struct sb_produce_request decoded;
    if (sb_produce_request_decode(body, body_bytes, &decoded) != 0 ||
        (decoded.acks != 0 && decoded.acks != 1 && decoded.acks != -1) ||
        decoded.timeout_ms < 0 || decoded.transactional_id.chars != NULL) {
        return SB_WIRE_ERROR_INVALID_REQUEST;
    }
    /* The frame flag, not acks, decides whether an answer is sent (docs/protocol.md). */
    request->net.no_response = (request->header.flags & SB_FRAME_FLAG_NO_RESPONSE) != 0;
    uint64_t names_bytes;
    struct router_layout layout = {
        .topic_count = decoded.topic_cursor.count,
        .part_count = produce_count(&decoded, &names_bytes),
        .part_bytes = sizeof(struct produce_part), .op_bytes = sizeof(struct produce_op)};
    /* The response's arrays; router_repeats sorts a key per part there first. */
    static_assert(sizeof(struct sb_produce_partition_response) >= sizeof(uint64_t),
                  "a key per part fits the response arrays");
    layout.extra_bytes =
        (uint64_t)layout.topic_count * sizeof(struct sb_produce_topic_response) +
        (uint64_t)layout.part_count * sizeof(struct sb_produce_partition_response);
    int16_t error = router_reserve(request, &layout);
    if (error != SB_WIRE_ERROR_NONE) {
        return error;
    }
    if (!request_reserve_response(request, names_bytes + (uint64_t)layout.topic_count * 8 +
                                               (uint64_t)layout.part_count * 32)) {
        return SB_WIRE_ERROR_BROKER_BUSY;
    }
    if (produce_parts(request, &decoded) != 0 || router_repeats(request)) {
        return SB_WIRE_ERROR_INVALID_REQUEST;
    }
    router_split(request);
    for (uint32_t index = 0; index < request->op_count; index++) {
        struct produce_op *op = (struct produce_op *)(void *)router_op(request, index);
        op->acks = decoded.acks;
        op->timeout_ms = decoded.timeout_ms;
    }
    return SB_WIRE_ERROR_NONE;
}

/* Produce response: one entry per part, grouped by topic in request order. */
int
produce_encode(struct broker_shard *self, struct request *request,
               struct sb_wire_writer *writer)
{
    struct sb_produce_topic_response *topics = request->extra;
    struct sb_produce_partition_response *partitions =
        (struct sb_produce_partition_response *)(void *)(topics + request->topic_count);
    for (uint32_t index = 0; index < request->part_count; index++) {
        const struct produce_part *part = produce_part_at(request, index);
        int16_t error = part->part.error;
        partitions[index] = (struct sb_produce_partition_response){
            .partition = part->part.partition, .error_code = error,
            /* Appending stopped part-way (docs/protocol.md): where the stored ones start. */
            .base_offset = error == 0 || part->batches_done > 0 ? part->base_offset : -1,
            .log_append_time_ms = part->log_append_time,
            .log_start_offset = part->log_start_offset,
        };
    }
    uint32_t part_index = 0;
    for (uint32_t topic = 0; topic < request->topic_count; topic++) {
        uint32_t first = part_index;
        uint32_t count = router_topic_span(request, topic, &part_index);
        topics[topic] = (struct sb_produce_topic_response){
            .name = request->topics[topic], .partitions = partitions + first,
            .partition_count = count};
    }
    struct sb_produce_response response = {.topics = topics,
                                           .topic_count = request->topic_count};
    return sb_produce_response_encode(writer, &response);
}

static void
produce_step_done(struct broker_shard *self, struct produce_op *op)
{
    if (router_op_step(self, &op->op)) {
        sb_shard_timer_disarm(self->shard, &op->deadline);
        router_op_finish(self, &op->op);
    }
}

int16_t
produce_append_error(int result)
{
    switch (result) {
    case -ENOBUFS:
    case SB_EFULL: /* The partition's idempotent-producer table is full of live producers. */
        return SB_WIRE_ERROR_BROKER_BUSY;
    case -EMSGSIZE:
        return SB_WIRE_ERROR_MESSAGE_TOO_LARGE;
    case -EROFS:
        return SB_WIRE_ERROR_DATA_FENCED;
    case -ENOENT:
        return SB_WIRE_ERROR_UNKNOWN_TOPIC_OR_PARTITION;
    case SB_ESHUTDOWN:
        return SB_WIRE_ERROR_SHUTTING_DOWN;
    case SB_ECORRUPT:
        return SB_WIRE_ERROR_CORRUPT_MESSAGE;
    case -EILSEQ:
        return SB_WIRE_ERROR_OUT_OF_ORDER_SEQUENCE_NUMBER;
    case -ESTALE:
        return SB_WIRE_ERROR_INVALID_PRODUCER_EPOCH;
    case -ESRCH:
        return SB_WIRE_ERROR_UNKNOWN_PRODUCER_ID;
    default:
        return SB_WIRE_ERROR_STORAGE_ERROR;
    }
}

/* Whether `next` may follow `previous` in one partition of one request: the same producer
 * (or none), and an idempotent batch continues the previous one's sequence. */
static int16_t
produce_follows(const struct sb_batch_header *previous, const struct sb_batch_header *next)
{
    if (next->producer_id != previous->producer_id ||
        next->producer_epoch != previous->producer_epoch) {
        return SB_WIRE_ERROR_INVALID_RECORD;
    }
    int64_t expected = ((int64_t)previous->base_sequence + previous->record_count) %
                       ((int64_t)INT32_MAX + 1);
    if (next->producer_id >= 0 && next->base_sequence != expected) {
        return SB_WIRE_ERROR_OUT_OF_ORDER_SEQUENCE_NUMBER;
    }
    return SB_WIRE_ERROR_NONE;
}

/* Every batch in `records` must be whole, pass its CRCs, and continue the previous batch's
 * producer sequence before any is appended (docs/protocol.md), so a partition's sequence
 * is never appended in part. */
static int16_t
produce_validate(const struct produce_part *part, uint32_t batch_bytes_max,
                 uint32_t *count_out)
{
    uint32_t count = 0;
    struct sb_batch_header previous;
    for (uint32_t at = 0; at < part->records_bytes;) {
        struct sb_batch_header header;
        int result = sb_batch_verify(part->records + at, part->records_bytes - at, UINT32_MAX,
                                     &header);
        if (result != 0) {
            return SB_WIRE_ERROR_CORRUPT_MESSAGE;
        }
        if (header.batch_bytes > batch_bytes_max) {
            return SB_WIRE_ERROR_MESSAGE_TOO_LARGE;
        }
        int16_t follows = count > 0 ? produce_follows(&previous, &header)
                                    : SB_WIRE_ERROR_NONE;
        if (follows != SB_WIRE_ERROR_NONE) {
            return follows;
        }
        previous = header;
        at += header.batch_bytes;
        count++;
    }
    *count_out = count;
    return count == 0 ? SB_WIRE_ERROR_INVALID_RECORD : SB_WIRE_ERROR_NONE;
}

static void
produce_durable(struct sb_append *append)
{
    struct produce_part *part = append->context;
    struct produce_op *op = (struct produce_op *)(void *)part->part.op;
    SB_ASSERT(part->durable_waiting);
    part->durable_waiting = false;
    if (append->result != 0 && !op->op.held) {
        part->part.error = produce_append_error(append->result);
    }
    produce_step_done(op->op.owner_shard, op);
}

/* The memtable is full: -ENOBUFS to wait for room, or the part's error when it cannot drain
 * (say why now rather than time out later). */
static int
produce_no_room(struct broker_shard *self, struct produce_part *part)
{
    int flush_error = sb_store_flush_error(self->store);
    if (flush_error == 0) {
        return -ENOBUFS; /* Back-pressure: retried when the memtable has room. */
    }
    part->part.error = flush_error == -ENOSPC || flush_error == -EDQUOT
                           ? SB_WIRE_ERROR_DISK_FULL : SB_WIRE_ERROR_STORAGE_ERROR;
    return 0;
}

/* Appends the part's batches from where it stopped. Returns -ENOBUFS if the memtable is
 * full (the part waits, its progress kept), 0 when the part is done (or failed). */
static int
produce_append(struct broker_shard *self, struct produce_op *op, struct produce_part *part,
               struct sb_partition *partition)
{
    while (part->records_done < part->records_bytes) {
        const uint8_t *batch = part->records + part->records_done;
        uint32_t bytes = sb_load_le32(batch + SB_BATCH_OFFSET_BATCH_BYTES);
        bool wait = part->batches_done + 1 == part->batch_count && op->acks == -1;
        /* produce_validate checked every batch's payload CRC: storage trusts it. */
        int result = sb_partition_append_verified(partition, batch, bytes,
                                                  wait ? &part->append : NULL, produce_durable,
                                                  part);
        if (result == 0 && part->log_append_time < 0) {
            /* The time stamped into its first batch stored (-1 under CreateTime). */
            part->log_append_time = sb_partition_append_time(partition);
        }
        if (result == -ENOBUFS) {
            return produce_no_room(self, part);
        }
        if (result == -EEXIST && part->batches_done == 0) {
            /* A retried batch: success, with the offset it got the first time. */
            part->base_offset = sb_partition_duplicate_offset(partition);
        } else if (result != 0 && result != -EEXIST) {
            part->part.error = produce_append_error(result);
            return 0;
        }
        if (wait) {
            part->durable_waiting = true;
            op->op.pending++;
        }
        part->records_done += bytes;
        part->batches_done++;
    }
    return 0;
}

/* Validates (first time) and appends one part. Returns false if it must wait for room. */
static bool
produce_part_run(struct broker_shard *self, struct produce_op *op, struct produce_part *part)
{
    struct sb_topic *topic = NULL;
    struct sb_partition *partition = router_partition(self, &part->part, &topic);
    if (partition == NULL) {
        return true;
    }
    SB_ASSERT(topic != NULL);
    if (part->records_done == 0) {
        part->part.error = produce_validate(part, topic->max_message_bytes, &part->batch_count);
        if (part->part.error != SB_WIRE_ERROR_NONE) {
            return true;
        }
        part->base_offset = sb_partition_log_end_offset(partition);
    }
    if (produce_append(self, op, part, partition) == -ENOBUFS) {
        return false;
    }
    if (part->part.error != SB_WIRE_ERROR_NONE) {
        return true;
    }
    part->log_start_offset = sb_partition_log_start_offset(partition);
    return true;
}

/* Appends every part of the op, in order; returns false if it must wait for room. */
static bool
produce_parts_run(struct broker_shard *self, struct produce_op *op)
{
    const struct request *request = op->op.request;
    for (; op->next_part < op->op.part_count; op->next_part++) {
        struct produce_part *part = produce_part_at(request, op->op.parts[op->next_part]);
        if (part->part.error == SB_WIRE_ERROR_NONE && !produce_part_run(self, op, part)) {
            return false;
        }
    }
    return true;
}

static void
produce_timeout(struct sb_timer *timer)
{
    struct produce_op *op = timer->context;
    struct broker_shard *self = op->op.owner_shard;
    for (uint32_t index = op->next_part; index < op->op.part_count; index++) {
        struct produce_part *part = produce_part_at(op->op.request, op->op.parts[index]);
        if (part->part.error == SB_WIRE_ERROR_NONE) {
            part->part.error = SB_WIRE_ERROR_REQUEST_TIMED_OUT;
        }
    }
    for (struct produce_op **link = &self->produce_waiting; *link != NULL;
         link = &(*link)->waiting_next) {
        if (*link == op) {
            *link = op->waiting_next;
            break;
        }
    }
    produce_appended(self, op); /* Past the deadline: earlier acks=all waits expire. */
}

/* acks=all not reached by the request's deadline (a failing or stalled disk): the parts
 * still waiting are answered REQUEST_TIMED_OUT now (their data may still become durable,
 * as docs/protocol.md says). Their appends keep referring to the op, so it is released to
 * its request only when the last one calls back (produce_step_done). */
static void
produce_expire(struct sb_timer *timer)
{
    struct produce_op *op = timer->context;
    for (uint32_t index = 0; index < op->op.part_count; index++) {
        struct produce_part *part = produce_part_at(op->op.request, op->op.parts[index]);
        if (part->durable_waiting) {
            part->part.error = SB_WIRE_ERROR_REQUEST_TIMED_OUT;
        }
    }
    router_op_answer_early(op->op.owner_shard, &op->op);
}

/* Every batch is appended (or refused): the answer waits for the acks=all appends, until
 * the deadline at most. (Each shard's timer heap has room for every op's deadline:
 * broker_timers_per_shard.) */
static void
produce_appended(struct broker_shard *self, struct produce_op *op)
{
    uint64_t now_ns = sb_shard_now_ns(self->shard);
    if (op->op.pending > 1) {
        uint64_t delay_ns = op->deadline_ns > now_ns ? op->deadline_ns - now_ns : 0;
        int armed = sb_shard_timer_arm(self->shard, &op->deadline, delay_ns, produce_expire, op);
        SB_ASSERT(armed == 0);
    }
    produce_step_done(self, op);
}

/* The request's timeout_ms (0: SB_BROKER_PRODUCE_TIMEOUT_DEFAULT_MS) bounds the wait for room
 * and for acks=all together. */
void
produce_execute(struct broker_shard *self, struct op *base)
{
    struct produce_op *op = (struct produce_op *)(void *)base;
    int32_t timeout_ms = op->timeout_ms > 0 ? op->timeout_ms
                                            : (int32_t)SB_BROKER_PRODUCE_TIMEOUT_DEFAULT_MS;
    uint64_t timeout_ns = (uint64_t)timeout_ms * SB_NS_PER_MS;
    op->deadline_ns = sb_shard_now_ns(self->shard) + timeout_ns;
    op->next_part = 0;
    sb_timer_init(&op->deadline);
    if (self->produce_waiting == NULL && produce_parts_run(self, op)) {
        produce_appended(self, op);
        return;
    }
    struct produce_op **tail = &self->produce_waiting;
    while (*tail != NULL) {
        tail = &(*tail)->waiting_next;
    }
    op->waiting_next = NULL;
    *tail = op;
    int armed = sb_shard_timer_arm(self->shard, &op->deadline, timeout_ns, produce_timeout, op);
    SB_ASSERT(armed == 0);
}

void
produce_resume(struct broker_shard *self)
{
    /* Bounded by the waiting list; stops at the first op still without room. */
    while (self->produce_waiting != NULL) {
        struct produce_op *op = self->produce_waiting;
        if (!produce_parts_run(self, op)) {
            return;
        }
        self->produce_waiting = op->waiting_next;
        sb_shard_timer_disarm(self->shard, &op->deadline);
        produce_appended(self, op);
    }
}
