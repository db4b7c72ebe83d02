/*
 * net/work.c - the owning shard's side of a partition request: the items of
 * one struct work, all on partitions this shard owns.
 *
 *   Produce      validate every batch, append, answer at once (acks 0/1) or
 *                when the last batch is durable (acks=all).
 *   Fetch        either wait (max_wait > 0, no buffer): answer at once if a
 *                partition has data the request has not seen, else park
 *                until one's high watermark moves (work_partition_durable),
 *                the deadline passes or the connection closes (work_cancel);
 *                or read (max_wait 0): the items in order into the work's
 *                buffer (whole batches, below the high watermark). The
 *                request's shard alternates them (request.c), so a waiting
 *                fetch holds no fetch memory.
 *   ListOffsets  earliest, latest (high watermark) or by timestamp.
 *   Describe     offsets of each partition.
 *   Health       this shard's connections, partitions and state, into the
 *                request's entry for this shard.
 *
 * `pending` counts the work's unfinished steps plus one guard; at zero the
 * work goes home (MSG_WORK_DONE) and its memory stops being ours.
 */
#include <errno.h>
#include <string.h>

#include "core/assert.h"
#include "core/clock.h"
#include "core/endian.h"
#include "core/error.h"
#include "core/log.h"
#include "net/broker_private.h"
#include "proto/api_fetch.h"
#include "proto/api_meta.h"
#include "proto/batch.h"
#include "proto/errors.h"

static void work_fetch_next(struct broker_shard *self, struct work *work);
static void work_lookup_next(struct broker_shard *self, struct work *work);
static void work_produce_appended(struct broker_shard *self, struct work *work);

/* Sends the work home: answered (MSG_WORK_DONE) or, after an early answer, released. */
static void
work_send_home(struct broker_shard *self, struct work *work, uint16_t type)
{
    bool done = type == MSG_WORK_DONE;
    if (work->owner == work->home->id) {
        if (done) {
            request_work_done(work);
        } else {
            request_work_released(work);
        }
        return;
    }
    broker_send(self, work->home->id, type, done ? &work->outgoing : &work->released, work);
}

static void
work_step_done(struct broker_shard *self, struct work *work)
{
    SB_ASSERT(work->pending > 0);
    if (--work->pending != 0) {
        return;
    }
    SB_ASSERT(self->works_in_flight > 0);
    self->works_in_flight--;
    if (work->lookup_buffer != NULL) {
        sb_bufpool_release(&self->buffers, work->lookup_buffer, work->lookup_capacity);
        work->lookup_buffer = NULL;
    }
    if (work->api_key == SB_API_PRODUCE) {
        sb_shard_timer_disarm(self->shard, &work->deadline);
    }
    work_send_home(self, work, work->answered_early ? MSG_WORK_RELEASED : MSG_WORK_DONE);
}

/* The item's partition, or NULL (UNKNOWN_TOPIC_OR_PARTITION) when this shard has no such
 * partition or its table no longer has the topic: a delete is decided on shard 0 (its table
 * changes first) and partitions are dropped only once the metadata file is durable, so a
 * work may run in between. *topic_out (NULL: not wanted) borrows the table's entry until the
 * next topic change. */
static struct sb_partition *
work_partition(struct broker_shard *self, struct item *item, struct sb_topic **topic_out)
{
    struct sb_partition *partition = sb_store_partition_find(self->store, item->topic_id,
                                                             (uint32_t)item->partition);
    struct sb_topic *topic = sb_metadata_find_id(&self->metadata, item->topic_id);
    if (partition == NULL || topic == NULL) {
        item->error = SB_WIRE_ERROR_UNKNOWN_TOPIC_OR_PARTITION;
        return NULL;
    }
    if (topic_out != NULL) {
        *topic_out = topic;
    }
    return partition;
}

static int16_t
work_append_error(int result)
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
work_produce_follows(const struct sb_batch_header *previous, const struct sb_batch_header *next)
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
work_produce_validate(const struct item *item, uint32_t batch_bytes_max, uint32_t *count_out)
{
    uint32_t count = 0;
    struct sb_batch_header previous;
    for (uint32_t at = 0; at < item->records_bytes;) {
        struct sb_batch_header header;
        int result = sb_batch_verify(item->records + at, item->records_bytes - at, UINT32_MAX,
                                     &header);
        if (result != 0) {
            return SB_WIRE_ERROR_CORRUPT_MESSAGE;
        }
        if (header.batch_bytes > batch_bytes_max) {
            return SB_WIRE_ERROR_MESSAGE_TOO_LARGE;
        }
        int16_t follows = count > 0 ? work_produce_follows(&previous, &header)
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
work_produce_durable(struct sb_append *append)
{
    struct item *item = append->context;
    struct work *work = item->work;
    SB_ASSERT(item->durable_waiting);
    item->durable_waiting = false;
    if (append->result != 0 && !work->answered_early) {
        item->error = work_append_error(append->result);
    }
    work_step_done(work->owner_shard, work);
}

/* Appends the item's batches from where it stopped. Returns false if the memtable is full
 * (the item waits, its progress kept), true when the item is done (or failed). */
static bool
work_produce_item(struct broker_shard *self, struct work *work, struct item *item)
{
    struct sb_topic *topic = NULL;
    struct sb_partition *partition = work_partition(self, item, &topic);
    if (partition == NULL) {
        return true;
    }
    SB_ASSERT(topic != NULL);
    if (item->records_done == 0) {
        item->error = work_produce_validate(item, topic->max_message_bytes, &item->batch_count);
        if (item->error != SB_WIRE_ERROR_NONE) {
            return true;
        }
        item->base_offset = sb_partition_log_end_offset(partition);
    }
    while (item->records_done < item->records_bytes) {
        const uint8_t *batch = item->records + item->records_done;
        uint32_t bytes = sb_load_le32(batch + SB_BATCH_OFFSET_BATCH_BYTES);
        bool wait = item->batches_done + 1 == item->batch_count && work->acks == -1;
        int result = sb_partition_append(partition, batch, bytes, wait ? &item->append : NULL,
                                         work_produce_durable, item);
        if (result == -ENOBUFS) {
            int flush_error = sb_store_flush_error(self->store);
            if (flush_error == 0) {
                return false; /* Back-pressure: retried when the memtable has room. */
            }
            /* The memtable cannot drain: say why now rather than time out later. */
            item->error = flush_error == -ENOSPC || flush_error == -EDQUOT
                              ? SB_WIRE_ERROR_DISK_FULL : SB_WIRE_ERROR_STORAGE_ERROR;
            return true;
        }
        if (result == -EEXIST && item->batches_done == 0) {
            /* A retried batch: success, with the offset it got the first time. */
            item->base_offset = sb_partition_duplicate_offset(partition);
        } else if (result != 0 && result != -EEXIST) {
            item->error = work_append_error(result);
            return true;
        }
        if (wait) {
            item->durable_waiting = true;
            work->pending++;
        }
        item->records_done += bytes;
        item->batches_done++;
    }
    item->log_start_offset = sb_partition_log_start_offset(partition);
    if (topic->config.log_append_time) {
        item->log_append_time = (int64_t)(sb_clock_realtime_ns() / SB_NS_PER_MS);
    }
    return true;
}

/* Appends every item of the work, in order; returns false if it must wait for room. */
static bool
work_produce_items(struct broker_shard *self, struct work *work)
{
    struct request *request = work->request;
    for (; work->next_item < request->item_count; work->next_item++) {
        struct item *item = &request->items[work->next_item];
        if (item->work == work && item->error == SB_WIRE_ERROR_NONE &&
            !work_produce_item(self, work, item)) {
            return false;
        }
    }
    return true;
}

static void
work_produce_timeout(struct sb_timer *timer)
{
    struct work *work = timer->context;
    struct broker_shard *self = work->owner_shard;
    struct request *request = work->request;
    for (uint32_t index = work->next_item; index < request->item_count; index++) {
        struct item *item = &request->items[index];
        if (item->work == work && item->error == SB_WIRE_ERROR_NONE) {
            item->error = SB_WIRE_ERROR_REQUEST_TIMED_OUT;
        }
    }
    for (struct work **link = &self->produce_waiting; *link != NULL;
         link = &(*link)->parked_next) {
        if (*link == work) {
            *link = work->parked_next;
            break;
        }
    }
    work_produce_appended(self, work); /* Past the deadline: earlier acks=all waits expire. */
}

/* acks=all not reached by the request's deadline (a failing or stalled disk): the items
 * still waiting are answered REQUEST_TIMED_OUT now (their data may still become durable,
 * as docs/protocol.md says). Their appends keep referring to the work, so it is released
 * to its request only when the last one calls back (work_step_done). */
static void
work_produce_expire(struct sb_timer *timer)
{
    struct work *work = timer->context;
    struct request *request = work->request;
    SB_ASSERT(work->pending > 0 && !work->answered_early);
    for (uint32_t index = 0; index < request->item_count; index++) {
        struct item *item = &request->items[index];
        if (item->work == work && item->durable_waiting) {
            item->error = SB_WIRE_ERROR_REQUEST_TIMED_OUT;
        }
    }
    work->answered_early = true;
    work_send_home(work->owner_shard, work, MSG_WORK_DONE);
}

/* Every batch is appended (or refused): the answer waits for the acks=all appends, until
 * the deadline at most. Without a free timer it waits for them. */
static void
work_produce_appended(struct broker_shard *self, struct work *work)
{
    uint64_t now_ns = sb_shard_now_ns(self->shard);
    if (work->pending > 1) {
        uint64_t delay_ns = work->produce_deadline_ns > now_ns
                                ? work->produce_deadline_ns - now_ns : 0;
        sb_shard_timer_arm(self->shard, &work->deadline, delay_ns, work_produce_expire, work);
    }
    work_step_done(self, work);
}

/* Produce works wait in arrival order, so a partition's batches never overtake each other.
 * The request's timeout_ms (0: SB_NET_PRODUCE_TIMEOUT_DEFAULT_MS) bounds the wait for room
 * and for acks=all together. */
static void
work_produce(struct broker_shard *self, struct work *work)
{
    int32_t timeout_ms = work->request->produce_timeout_ms > 0
                             ? work->request->produce_timeout_ms
                             : (int32_t)SB_NET_PRODUCE_TIMEOUT_DEFAULT_MS;
    uint64_t timeout_ns = (uint64_t)timeout_ms * SB_NS_PER_MS;
    work->produce_deadline_ns = sb_shard_now_ns(self->shard) + timeout_ns;
    sb_timer_init(&work->deadline);
    if (self->produce_waiting == NULL && work_produce_items(self, work)) {
        work_produce_appended(self, work);
        return;
    }
    struct work **tail = &self->produce_waiting;
    while (*tail != NULL) {
        tail = &(*tail)->parked_next;
    }
    work->parked_next = NULL;
    *tail = work;
    if (sb_shard_timer_arm(self->shard, &work->deadline, timeout_ns, work_produce_timeout,
                           work) != 0) {
        *tail = NULL;
        work_produce_timeout(&work->deadline);
    }
}

void
work_produce_resume(struct broker_shard *self)
{
    /* Bounded by the waiting list; stops at the first work still without room. */
    while (self->produce_waiting != NULL) {
        struct work *work = self->produce_waiting;
        if (!work_produce_items(self, work)) {
            return;
        }
        self->produce_waiting = work->parked_next;
        sb_shard_timer_disarm(self->shard, &work->deadline);
        work_produce_appended(self, work);
    }
}

static struct item *
work_next_item(struct work *work)
{
    struct request *request = work->request;
    while (work->next_item < request->item_count) {
        struct item *item = &request->items[work->next_item++];
        if (item->work == work) {
            return item;
        }
    }
    return NULL;
}

/* Records the finished read of the work's current item. */
static void
work_fetch_record(struct work *work, const struct sb_read *read)
{
    struct item *item = &work->request->items[work->next_item - 1];
    if (read->result == 0) {
        item->data_offset = work->data_used;
        item->data_bytes = read->bytes;
        work->data_used += read->bytes;
    } else if (read->result == -ENOSPC) {
        item->batch_needed = read->needed_bytes; /* The request reads again with room. */
    } else {
        item->error = read->result == -EROFS ? SB_WIRE_ERROR_DATA_FENCED
                      : read->result == -ERANGE ? SB_WIRE_ERROR_OFFSET_OUT_OF_RANGE
                      : read->result == SB_ECORRUPT ? SB_WIRE_ERROR_CORRUPT_MESSAGE
                      : read->result == -ENOBUFS ? SB_WIRE_ERROR_BROKER_BUSY
                      : SB_WIRE_ERROR_STORAGE_ERROR;
    }
    item->high_watermark = read->high_watermark;
    item->log_start_offset = read->log_start_offset;
}

static void
work_fetch_read_done(struct sb_read *read)
{
    struct work *work = read->context;
    work_fetch_record(work, read);
    work_fetch_next(work->owner_shard, work);
}

/* Starts the read of one item; returns true if it finished at once (results recorded). */
static bool
work_fetch_item(struct broker_shard *self, struct work *work, struct item *item)
{
    struct sb_partition *partition = work_partition(self, item, NULL);
    if (partition == NULL) {
        return true;
    }
    item->high_watermark = sb_partition_high_watermark(partition);
    item->log_start_offset = sb_partition_log_start_offset(partition);
    item->data_bytes = 0;
    uint32_t room = work->max_bytes > work->data_used ? work->max_bytes - work->data_used : 0;
    if (room == 0 && (work->data_used != 0 || work->data == NULL)) {
        return true; /* The response is full (or had no room): the client asks again. */
    }
    struct sb_read *read = &work->read;
    read->offset = item->fetch_offset;
    read->max_bytes = (uint32_t)sb_min_u64(room, item->max_bytes);
    read->buffer = work->data + work->data_used;
    read->capacity = work->data_capacity - work->data_used;
    read->callback = work_fetch_read_done;
    read->context = work;
    int started = sb_partition_read(partition, read);
    if (started == 0) {
        return false;
    }
    if (started < 0) {
        read->result = started;
        read->bytes = 0;
        read->high_watermark = item->high_watermark;
        read->log_start_offset = item->log_start_offset;
    }
    work_fetch_record(work, read);
    return true;
}

static void
work_unpark(struct broker_shard *self, struct work *work)
{
    for (struct work **link = &self->parked; *link != NULL; link = &(*link)->parked_next) {
        if (*link == work) {
            *link = work->parked_next;
            break;
        }
    }
    work->parked = false;
}

/* Long-poll deadline: the wait is over. */
static void
work_deadline_fire(struct sb_timer *timer)
{
    struct work *work = timer->context;
    struct broker_shard *self = work->owner_shard;
    if (work->parked) {
        work_unpark(self, work);
        work_step_done(self, work);
    }
}

static void
work_fetch_next(struct broker_shard *self, struct work *work)
{
    /* Bounded by the work's items: each pass starts the next one. */
    for (;;) {
        struct item *item = work_next_item(work);
        if (item == NULL) {
            work_step_done(self, work);
            return;
        }
        if (!work_fetch_item(self, work, item)) {
            return;
        }
    }
}

/* Reads every item, from an empty buffer. */
static void
work_fetch_round(struct broker_shard *self, struct work *work)
{
    work->next_item = 0;
    work->data_used = 0;
    for (uint32_t index = 0; index < work->request->item_count; index++) {
        struct item *item = &work->request->items[index];
        if (item->work == work) {
            item->error = SB_WIRE_ERROR_NONE;
            item->data_bytes = 0;
            item->batch_needed = 0;
        }
    }
    work_fetch_next(self, work);
}

/* Whether a read would answer something new: an item's partition is gone, its offset is out
 * of range, or its high watermark passed both the offset and what the last read saw. */
static bool
work_fetch_ready(struct broker_shard *self, const struct work *work)
{
    const struct request *request = work->request;
    for (uint32_t index = 0; index < request->item_count; index++) {
        const struct item *item = &request->items[index];
        if (item->work != work) {
            continue;
        }
        struct sb_partition *partition = sb_store_partition_find(self->store, item->topic_id,
                                                                 (uint32_t)item->partition);
        if (partition == NULL) {
            return true;
        }
        int64_t high_watermark = sb_partition_high_watermark(partition);
        if (item->fetch_offset > high_watermark ||
            item->fetch_offset < sb_partition_log_start_offset(partition) ||
            (high_watermark > item->fetch_offset && high_watermark > item->high_watermark)) {
            return true;
        }
    }
    return false;
}

/* A long poll: home at once if there is something to read, else parked (no buffer held). */
static void
work_fetch_wait(struct broker_shard *self, struct work *work)
{
    if (self->stopping || work_fetch_ready(self, work) ||
        sb_shard_timer_arm(self->shard, &work->deadline,
                           (uint64_t)work->max_wait_ms * SB_NS_PER_MS, work_deadline_fire,
                           work) != 0) {
        work_step_done(self, work);
        return;
    }
    work->parked = true;
    work->parked_next = self->parked;
    self->parked = work;
}

static bool
work_touches(const struct work *work, uint32_t topic_id, uint32_t partition)
{
    const struct request *request = work->request;
    for (uint32_t index = 0; index < request->item_count; index++) {
        const struct item *item = &request->items[index];
        if (item->work == work && item->topic_id == topic_id &&
            (uint32_t)item->partition == partition) {
            return true;
        }
    }
    return false;
}

void
work_partition_durable(void *context, struct sb_partition *partition)
{
    struct broker_shard *self = context;
    uint32_t topic_id = sb_partition_topic_id(partition);
    uint32_t index = sb_partition_index(partition);
    struct work *work = self->parked;
    while (work != NULL) {
        struct work *next = work->parked_next;
        if (work_touches(work, topic_id, index)) {
            work_unpark(self, work);
            sb_shard_timer_disarm(self->shard, &work->deadline);
            work_step_done(self, work);
        }
        work = next;
    }
}

void
work_cancel_parked(struct broker_shard *self)
{
    while (self->parked != NULL) {
        struct work *work = self->parked;
        work_unpark(self, work);
        sb_shard_timer_disarm(self->shard, &work->deadline);
        work_step_done(self, work);
    }
}

void
work_cancel(struct broker_shard *self, struct work *work)
{
    /* Found in the parked list before it is touched: a work that already went home may be
     * freed memory by now (a later dispatch of the same memory arrives after this cancel). */
    for (struct work *parked = self->parked; parked != NULL; parked = parked->parked_next) {
        if (parked == work) {
            work_unpark(self, work);
            sb_shard_timer_disarm(self->shard, &work->deadline);
            work_step_done(self, work);
            return;
        }
    }
}

static bool work_lookup_item(struct broker_shard *self, struct work *work, struct item *item);

/* The lookup buffer, `bytes` at least (owner's memory). A batch stored under a higher
 * max_message_bytes than today's may need more than the first one: false (the item's error
 * set) when no buffer can hold it (MESSAGE_TOO_LARGE: above max_frame_bytes, the largest) or
 * the memory is busy now (BROKER_BUSY). */
static bool
work_lookup_buffer(struct broker_shard *self, struct work *work, struct item *item,
                   uint32_t bytes)
{
    if (work->lookup_buffer != NULL && work->lookup_capacity >= bytes) {
        return true;
    }
    if (work->lookup_buffer != NULL) {
        sb_bufpool_release(&self->buffers, work->lookup_buffer, work->lookup_capacity);
    }
    work->lookup_buffer = bytes <= self->broker->config.max_frame_bytes
                              ? sb_bufpool_acquire(&self->buffers, bytes, &work->lookup_capacity)
                              : NULL;
    if (work->lookup_buffer == NULL) {
        item->error = bytes <= self->broker->config.max_frame_bytes
                          ? SB_WIRE_ERROR_BROKER_BUSY : SB_WIRE_ERROR_MESSAGE_TOO_LARGE;
        return false;
    }
    return true;
}

/* The lookup ended (at once or by callback): its answer, or a batch too large for the buffer
 * looked up again with a buffer that holds it. Returns true when the item is answered. */
static bool
work_lookup_answer(struct broker_shard *self, struct work *work, struct item *item)
{
    struct sb_time_lookup *lookup = &work->lookup;
    if (lookup->result == -ENOSPC && lookup->needed_bytes > work->lookup_capacity) {
        return !work_lookup_buffer(self, work, item, lookup->needed_bytes) ||
               work_lookup_item(self, work, item);
    }
    if (lookup->result == 0) {
        item->offset = lookup->offset;
        item->found_timestamp = lookup->found_timestamp_ms;
    } else {
        item->error = SB_WIRE_ERROR_STORAGE_ERROR;
    }
    return true;
}

static void
work_lookup_done(struct sb_time_lookup *lookup)
{
    struct work *work = lookup->context;
    struct broker_shard *self = work->owner_shard;
    if (work_lookup_answer(self, work, &work->request->items[work->next_item - 1])) {
        work_lookup_next(self, work);
    }
}

/* Answers one ListOffsets item; returns true if done at once. */
static bool
work_lookup_item(struct broker_shard *self, struct work *work, struct item *item)
{
    struct sb_partition *partition = work_partition(self, item, NULL);
    if (partition == NULL) {
        return true;
    }
    if (item->timestamp == SB_LIST_OFFSETS_EARLIEST) {
        item->offset = sb_partition_log_start_offset(partition);
        return true;
    }
    if (item->timestamp == SB_LIST_OFFSETS_LATEST) {
        item->offset = sb_partition_high_watermark(partition);
        return true;
    }
    if (item->timestamp < 0) { /* No such query: a bad request, not a bad record time. */
        item->error = SB_WIRE_ERROR_INVALID_REQUEST;
        return true;
    }
    if (!work_lookup_buffer(self, work, item, self->broker->config.max_message_bytes)) {
        return true;
    }
    struct sb_time_lookup *lookup = &work->lookup;
    lookup->timestamp_ms = item->timestamp;
    lookup->callback = work_lookup_done;
    lookup->context = work;
    lookup->buffer = work->lookup_buffer;
    lookup->capacity = work->lookup_capacity;
    int started = sb_partition_offset_for_time(partition, lookup);
    if (started == 0) {
        return false;
    }
    if (started < 0) {
        lookup->result = started;
    }
    return work_lookup_answer(self, work, item);
}

static void
work_lookup_next(struct broker_shard *self, struct work *work)
{
    /* Bounded by the work's items. */
    for (;;) {
        struct item *item = work_next_item(work);
        if (item == NULL) {
            work_step_done(self, work);
            return;
        }
        if (!work_lookup_item(self, work, item)) {
            return;
        }
    }
}

static void
work_describe(struct broker_shard *self, struct work *work)
{
    struct request *request = work->request;
    for (uint32_t index = 0; index < request->item_count; index++) {
        struct item *item = &request->items[index];
        struct sb_partition *partition = item->work == work ? work_partition(self, item, NULL)
                                                            : NULL;
        if (partition != NULL) {
            item->log_start_offset = sb_partition_log_start_offset(partition);
            item->high_watermark = sb_partition_high_watermark(partition);
            item->log_end_offset = sb_partition_log_end_offset(partition);
        }
    }
}

/* Health: this shard's entry of the answer (the request's scratch, borrowed with the work). */
static void
work_health(struct broker_shard *self, struct work *work)
{
    uint32_t partitions = 0;
    for (uint32_t index = 0; index < SB_TOPICS_MAX; index++) {
        const struct sb_topic *topic = &self->metadata.topics[index];
        for (uint32_t partition = 0; topic->used && partition < topic->partition_count;
             partition++) {
            partitions += sb_metadata_owner(&self->metadata, topic->topic_id, partition) ==
                          self->id;
        }
    }
    work->request->health[self->id] = (struct sb_health_shard){
        .shard_id = (int32_t)self->id, .status = self->stopping ? 2 : 0,
        .connections = (int32_t)self->conn_count, .partitions = (int32_t)partitions,
    };
}

void
work_execute(struct broker_shard *self, struct work *work)
{
    self->works_in_flight++;
    work->owner_shard = self;
    work->pending = 1; /* Released by the step that finishes the work's items. */
    work->next_item = 0;
    switch (work->api_key) {
    case SB_API_PRODUCE:
        work_produce(self, work);
        break;
    case SB_API_FETCH:
        sb_timer_init(&work->deadline);
        if (work->max_wait_ms > 0) {
            work_fetch_wait(self, work);
        } else {
            work_fetch_round(self, work);
        }
        break;
    case SB_API_LIST_OFFSETS:
        work_lookup_next(self, work);
        break;
    case SB_API_HEALTH:
        work_health(self, work);
        work_step_done(self, work);
        break;
    default:
        work_describe(self, work);
        work_step_done(self, work);
        break;
    }
}
