/*
 * storage/flush.c - moving durable memtable batches into segment files, then
 * recording the result in the manifest and releasing the WAL (a checkpoint).
 *
 * One flush round at a time covers the ring up to `committed` when it starts:
 *
 *   IDLE --flush_maybe_start--> SEGMENTS --all writers done--> MANIFEST_WRITE
 *    ^                             | a writer failed                 |
 *    |                             v                                 v
 *    +---- retry timer ---- BACKING_OFF <---- failure ---- MANIFEST_SYNC (write, fsync,
 *    |                                                      rename, fsync directory)
 *    +------------------ checkpoint: release ring and WAL <---------+
 *
 * Up to flush_concurrency writers (each with a staging buffer) only write; a
 * pool of flush_sync_concurrency syncs (an op each, no buffer) makes it durable:
 *
 *   writer: take --> [close full segment: FOOTER_WRITE] ---------------> hand over
 *               \--> [TAIL_READ] --> DATA_WRITE (chunk after chunk) ---> hand over
 *               \--> (only a new file left to make durable) ----------> hand over
 *   hand over (writer_hand_over): a free sync takes the partition and the writer
 *   takes the next partition at once; none free: SYNC_WAIT until one is.
 *   sync (flush_sync_start ... flush_sync_done): FOOTER fdatasync -> closed;
 *   DATA fdatasync -> flushed_offset moves; DIRECTORY fsync (after the partition's
 *   last data sync, when it created a file) -> done. Then: more batches: back on
 *   the list for a writer (flush_give_back); only a directory fsync: the same sync
 *   does it; nothing: the round lets go of it (flush_release_partition).
 *
 * A data pass ends when nothing is left or the segment is full, so a partition
 * given back always starts a footer or a new segment: no tail block is lost.
 * A segment's last partial block is read back and written again with the new
 * batches after its old bytes (identical bytes over identical bytes; see
 * docs/storage.md on powersafe overwrite). A partition's flushed_offset only
 * moves after fdatasync, so a failed round is retried from where each
 * partition really is. A partition dropped while a writer holds it is let go
 * at that writer's next completion (writer_abandon_dropped); its files are
 * deleted once no writer holds it or the round gives it back.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/assert.h"
#include "core/clock.h"
#include "core/endian.h"
#include "core/error.h"
#include "core/io_durability.h"
#include "core/log.h"
#include "core/pages.h"
#include "proto/batch.h"
#include "storage/store_private.h"

enum writer_phase {
    WRITER_IDLE = 0,
    WRITER_FOOTER_WRITE,
    WRITER_TAIL_READ,
    WRITER_DATA_WRITE,
    WRITER_SYNC_WAIT,
    WRITER_CREATE,
};

enum flush_sync_kind {
    FLUSH_SYNC_DATA = 0,  /* fdatasync a pass's writes; then flushed_offset moves. */
    FLUSH_SYNC_FOOTER,    /* fdatasync a full segment's footer; then the segment is closed. */
    FLUSH_SYNC_DIRECTORY, /* fsync the partition directory a segment file was created in. */
};

#define FLUSH_STAGING_BYTES_MIN (4u << 20)
/* A data write takes batches up to this size (its first batch always fits). A WAL write
 * queued behind a segment write waits for it: on a device that serves one command at a
 * time (a virtual disk), a 4 MiB write holds the WAL for ~2 ms, a 1 MiB one for ~0.4 ms. */
#define FLUSH_WRITE_BYTES_TARGET (1u << 20)

static void writer_step(struct flush_writer *writer);
static void writer_io_done(struct sb_io_op *op);
static void writer_create_segment(struct flush_writer *writer, int64_t base_offset);
static void flush_manifest_begin(struct sb_store *store);
static void flush_sync_start(struct flush_sync *sync);
static void flush_sync_done(struct sb_io_op *op);
static void flush_syncs_init(struct sb_store *store);

int
flush_init(struct sb_store *store)
{
    uint32_t count = store->config.flush_concurrency;
    store->staging_bytes = (uint32_t)sb_max_u64(
        FLUSH_STAGING_BYTES_MIN, sb_align_up(store->config.batch_bytes_max, SB_BLOCK_BYTES) +
                                     2 * SB_BLOCK_BYTES);
    store->footer_bytes_max = store->staging_bytes;
    store->writers = sb_alloc(count * sizeof(struct flush_writer));
    store->flush_syncs = sb_alloc(store->config.flush_sync_concurrency *
                                  sizeof(struct flush_sync));
    store->manifest_capacity = sb_align_up(
        SB_MANIFEST_HEADER_BYTES + (uint64_t)store->config.partitions_max *
                                       SB_MANIFEST_PARTITION_BYTES, SB_BLOCK_BYTES);
    store->manifest_buffer = sb_alloc_aligned(store->manifest_capacity, SB_BLOCK_BYTES);
    if (store->writers == NULL || store->flush_syncs == NULL ||
        store->manifest_buffer == NULL) {
        return -ENOMEM;
    }
    flush_syncs_init(store);
    for (uint32_t index = 0; index < count; index++) {
        struct flush_writer *writer = &store->writers[index];
        writer->store = store;
        writer->partition = NULL;
        writer->phase = WRITER_IDLE;
        /* Huge pages: a segment write is a few physically contiguous ranges, so it takes a
         * few of the device queue's descriptors instead of one per 4 KiB page. */
        writer->staging = sb_pages_map(store->staging_bytes);
        if (writer->staging == NULL) {
            return -ENOMEM;
        }
        writer->staging_mapped = store->staging_bytes;
    }
    store->flush_retry_delay_ns = SB_STORE_RETRY_MIN_NS;
    store->flush_syncfs_allowed = sb_io_syncfs_reports_errors(store->io);
    if (!store->flush_syncfs_allowed && store->config.flush_syncfs_partitions_min != 0) {
        sb_log_info("flush rounds fdatasync every segment: this kernel's syncfs does not "
                    "report write-back errors (Linux < 5.8)", "partitions_min=%u",
                    store->config.flush_syncfs_partitions_min);
    }
    return 0;
}

int
flush_staging_reserve(struct sb_store *store, uint32_t batch_bytes)
{
    SB_ASSERT(flush_idle(store));
    uint64_t needed = sb_align_up(batch_bytes, SB_BLOCK_BYTES) + 2 * SB_BLOCK_BYTES;
    if (needed <= store->staging_bytes) {
        return 0;
    }
    SB_ASSERT(needed <= UINT32_MAX);
    for (uint32_t index = 0; index < store->config.flush_concurrency; index++) {
        struct flush_writer *writer = &store->writers[index];
        SB_ASSERT(writer->partition == NULL);
        uint8_t *staging = sb_pages_map(needed);
        if (staging == NULL) {
            return -ENOMEM;
        }
        sb_pages_unmap(writer->staging, writer->staging_mapped);
        writer->staging = staging;
        writer->staging_mapped = (uint32_t)needed;
    }
    store->staging_bytes = (uint32_t)needed;
    return 0;
}

/* Also after a crash or a fatal error with a round in flight: descriptors it holds close. */
void
flush_deinit(struct sb_store *store)
{
    sb_timer_disarm(store->timers, &store->flush_retry_timer);
    for (uint32_t index = 0; store->writers != NULL && index < store->config.flush_concurrency;
         index++) {
        sb_pages_unmap(store->writers[index].staging, store->writers[index].staging_mapped);
    }
    for (uint32_t index = 0;
         store->flush_syncs != NULL && index < store->config.flush_sync_concurrency; index++) {
        struct flush_sync *sync = &store->flush_syncs[index];
        if (sync->partition != NULL && sync->directory_fd >= 0) {
            sb_io_close(store->io, sync->directory_fd);
        }
    }
    if (store->manifest_fd >= 0) {
        sb_io_close(store->io, store->manifest_fd);
        store->manifest_fd = -1;
    }
    sb_free(store->writers);
    sb_free(store->flush_syncs);
    sb_free(store->manifest_buffer);
    store->writers = NULL;
    store->flush_syncs = NULL;
    store->manifest_buffer = NULL;
}

bool
flush_idle(const struct sb_store *store)
{
    return store->flush_phase == FLUSH_IDLE;
}

/* The first sequence at ring position `committed`: the next cycle's, or the open cycle's. */
static uint64_t
flush_sequence_at_committed(const struct sb_store *store)
{
    const struct wal *wal = &store->wal;
    if (wal->sealed_count > 0) {
        return wal->sealed_cycles[wal->sealed_first].first_sequence;
    }
    return wal->open_cycle_sequence;
}

/* Queues every partition with durable batches not yet in a segment, or whose directory still
 * needs its fsync for a file created in it (a failed round let go of it in between). */
static uint32_t
flush_build_list(struct sb_store *store)
{
    struct wal *wal = &store->wal;
    uint32_t listed = 0;
    store->flush_list = NULL;
    for (uint32_t count = 0; count < wal->fifo_durable; count++) {
        struct memtable_entry *entry = wal_fifo_entry(store, (wal->fifo_head + count) %
                                                                 wal->fifo_capacity);
        if (entry->partition_slot == SB_STORE_NONE) {
            continue;
        }
        struct sb_partition *partition = store_partition_slot(store, entry->partition_slot);
        /* Flushed already, unless its directory fsync is still owed (a failed round). */
        if (partition->in_flush_list || (entry->base_offset < partition->flushed_offset &&
                                         !partition->needs_dir_sync)) {
            continue;
        }
        partition->in_flush_list = true;
        partition->flush_next = store->flush_list;
        store->flush_list = partition;
        listed++;
    }
    return listed;
}

static void flush_round_maybe_end(struct sb_store *store);
static void flush_syncfs_done(struct sb_io_op *op);
static void flush_syncfs_let_go(struct sb_store *store, bool durable);

static void
writer_take_next(struct flush_writer *writer)
{
    struct sb_store *store = writer->store;
    writer->partition = store->flush_list;
    if (writer->partition == NULL) {
        return;
    }
    store->flush_list = writer->partition->flush_next;
    store->flush_active++;
    struct sb_partition *partition = writer->partition;
    writer->segment = NULL;
    writer->pending_offset = partition->flushed_offset;
    writer->pending_end = partition->newest != NULL ? partition->newest->data_end
                                                    : SB_BLOCK_BYTES;
    writer->tail_in_staging = false;
    writer_step(writer);
}

void
flush_maybe_start(struct sb_store *store, bool force)
{
    struct wal *wal = &store->wal;
    if (store->flush_phase != FLUSH_IDLE || store->failed) {
        return;
    }
    if (wal->committed == wal->tail && !force) {
        return;
    }
    store->flush_phase = FLUSH_SEGMENTS;
    store->flush_failed = false;
    store->flush_end = wal->committed;
    store->flush_end_fifo = wal->fifo_durable;
    store->flush_end_sequence = flush_sequence_at_committed(store);
    uint32_t listed = flush_build_list(store);
    /* Many files: one syncfs (one device cache flush) beats one fdatasync each. */
    store->flush_syncfs = store->flush_syncfs_allowed &&
                          store->config.flush_syncfs_partitions_min != 0 &&
                          listed >= store->config.flush_syncfs_partitions_min;
    store->flush_syncfs_list = NULL;
    /* A writer may finish (or fail) its partition at once; one that failed stops the round
     * from taking more, and the last to let go ends the round (flush_round_maybe_end). */
    for (uint32_t index = 0; index < store->config.flush_concurrency && !store->flush_failed;
         index++) {
        if (store->writers[index].partition == NULL) {
            writer_take_next(&store->writers[index]);
        }
    }
    /* Nothing to write: the round goes on to the manifest here, unless a writer that
     * finished at once already ended it (manifest begun, or failed and backing off). */
    flush_round_maybe_end(store);
}

static void
flush_retry_fire(struct sb_timer *timer)
{
    struct sb_store *store = timer->context;
    SB_ASSERT(store->flush_phase == FLUSH_BACKING_OFF);
    store->flush_phase = FLUSH_IDLE;
    flush_maybe_start(store, true);
}

static void
flush_round_failed(struct sb_store *store)
{
    store->stats.flush_failures++;
    store->flush_phase = FLUSH_BACKING_OFF;
    int armed = sb_timer_arm(store->timers, &store->flush_retry_timer,
                             sb_io_now_ns(store->io) + store->flush_retry_delay_ns,
                             flush_retry_fire, store);
    if (armed < 0) {
        store_fail(store, "cannot arm the flush retry timer", armed);
    }
    store->flush_retry_delay_ns = sb_min_u64(store->flush_retry_delay_ns * 2,
                                             SB_STORE_RETRY_MAX_NS);
}

/* The round lets go of `partition` (done with it, failed, or dropped): a dropped partition's
 * files are deleted now that nothing of the round holds them. */
static void
flush_release_partition(struct sb_store *store, struct sb_partition *partition)
{
    SB_ASSERT(partition->in_flush_list);
    SB_ASSERT(store->flush_active > 0);
    partition->in_flush_list = false;
    store->flush_active--;
    if (partition->dropped) {
        partition_delete_segments(partition);
        store_partition_release_if_unused(partition);
    }
}

/* Once no writer and no sync holds a partition: the manifest, or (failed) the back-off. Called
 * after every step that may let one go; only the first call that finds none ends the round. */
static void
flush_round_maybe_end(struct sb_store *store)
{
    if (store->flush_active > 0 || store->flush_phase != FLUSH_SEGMENTS) {
        return;
    }
    SB_ASSERT(store->flush_syncs_in_flight == 0);
    if (!store->flush_failed && store->flush_syncfs_list != NULL) {
        store->flush_phase = FLUSH_SYNCFS;
        sb_io_syncfs(store->io, &store->flush_syncfs_op, store->shard_dir_fd, flush_syncfs_done,
                     store);
        return;
    }
    flush_syncfs_let_go(store, false);
    if (!store->flush_failed) {
        SB_ASSERT(store->flush_list == NULL);
        flush_manifest_begin(store);
        return;
    }
    /* Unclaim partitions no writer reached (or given back); the retry rebuilds the list. One
     * dropped meanwhile waited for this round to let go of its files: delete them now. */
    for (struct sb_partition *left = store->flush_list; left != NULL;) {
        struct sb_partition *next = left->flush_next;
        left->in_flush_list = false;
        if (left->dropped) {
            partition_delete_segments(left);
            store_partition_release_if_unused(left);
        }
        left = next;
    }
    store->flush_list = NULL;
    flush_round_failed(store);
}

/* A writer finished its partition (or gave up on it): take the next, or end the round. */
static void
writer_finish_partition(struct flush_writer *writer)
{
    struct sb_store *store = writer->store;
    flush_release_partition(store, writer->partition);
    writer->partition = NULL;
    writer->phase = WRITER_IDLE;
    if (!store->flush_failed) {
        writer_take_next(writer);
    }
    flush_round_maybe_end(store);
}

static void
writer_failed(struct flush_writer *writer, const char *step, int error)
{
    struct sb_partition *partition = writer->partition;
    sb_log_warn("segment flush failed; will retry", "step=%s topic=%u partition=%u "
                "error=\"%s\"", step, partition->topic_id, partition->partition,
                sb_strerror(error));
    writer->store->flush_error = error;
    writer->store->flush_failed = true;
    writer_finish_partition(writer);
}

/* The partition's first memtable batch at or after `offset` that this round covers, or NULL. */
static struct memtable_entry *
flush_entry_from(struct sb_store *store, struct sb_partition *partition, int64_t offset)
{
    for (uint32_t index = partition->memtable_first; index != SB_STORE_NONE;) {
        struct memtable_entry *entry = wal_fifo_entry(store, index);
        if (entry->sequence >= store->flush_end_sequence) {
            return NULL;
        }
        if (entry->base_offset >= offset) {
            return entry;
        }
        index = entry->next;
    }
    return NULL;
}

/* The next batch to write: after what this pass wrote already. */
static struct memtable_entry *
writer_next_entry(struct flush_writer *writer)
{
    return flush_entry_from(writer->store, writer->partition, writer->pending_offset);
}

static void
writer_start_io(struct flush_writer *writer, enum writer_phase phase)
{
    writer->phase = phase;
    struct sb_io *io = writer->store->io;
    struct segment *segment = writer->segment;
    uint32_t length = (uint32_t)sb_align_up(writer->staged, SB_BLOCK_BYTES);
    switch (phase) {
    case WRITER_TAIL_READ:
        sb_io_read(io, &writer->op, segment->fd, writer->staging, SB_BLOCK_BYTES,
                   writer->write_position, writer_io_done, writer);
        break;
    case WRITER_FOOTER_WRITE:
    case WRITER_DATA_WRITE:
        if (phase == WRITER_DATA_WRITE) {
            writer->store->stats.segment_data_writes++;
            writer->store->stats.segment_data_write_bytes_max = sb_max_u64(
                writer->store->stats.segment_data_write_bytes_max, length);
        }
        memset(writer->staging + writer->staged, 0, length - writer->staged);
        sb_io_write(io, &writer->op, segment->fd, writer->staging, length,
                    writer->write_position, writer_io_done, writer);
        break;
    default:
        SB_ASSERT(false && "not an io phase");
    }
}

/* Writes the footer of the full open segment (the next batch goes to a new one). */
static void
writer_close_segment(struct flush_writer *writer, struct segment *segment)
{
    uint32_t footer_bytes = segment_footer_build(segment, writer->staging,
                                                 writer->store->staging_bytes);
    SB_ASSERT(footer_bytes != 0); /* segment_index_capacity keeps the index small enough. */
    writer->segment = segment;
    writer->staged = footer_bytes;
    writer->write_position = sb_align_up(segment->data_end, SB_BLOCK_BYTES);
    writer_start_io(writer, WRITER_FOOTER_WRITE);
}

/* Copies the round's next batches of the partition after `staged`, stopping at the staging
 * capacity or FLUSH_WRITE_BYTES_TARGET, at the segment size limit (a segment always takes
 * its first batch), or at the end of what this round covers. */
static void
writer_stage_batches(struct flush_writer *writer, struct memtable_entry *entry)
{
    struct sb_store *store = writer->store;
    struct sb_partition *partition = writer->partition;
    struct segment *segment = writer->segment;
    uint64_t data_end = writer->write_position + writer->staged;
    SB_ASSERT(data_end == writer->pending_end);
    bool segment_empty = segment->batch_count == 0 && writer->pending_offset ==
                                                          partition->flushed_offset;
    uint32_t first_staged = writer->staged;
    for (;;) {
        bool fits = writer->staged + entry->batch_bytes <= store->staging_bytes &&
                    (writer->staged + entry->batch_bytes <= FLUSH_WRITE_BYTES_TARGET ||
                     writer->staged == first_staged);
        bool segment_room = data_end + entry->batch_bytes - SB_BLOCK_BYTES <=
                                partition->config.segment_bytes ||
                            (segment_empty && writer->staged == first_staged);
        if (!fits || !segment_room) {
            break;
        }
        memcpy(writer->staging + writer->staged, wal_ring_at(store, entry->ring_position),
               entry->batch_bytes);
        writer->staged += entry->batch_bytes;
        data_end += entry->batch_bytes;
        writer->pending_offset = entry->base_offset + entry->record_count;
        if (entry->next == SB_STORE_NONE) {
            break;
        }
        entry = wal_fifo_entry(store, entry->next);
        if (entry->sequence >= store->flush_end_sequence) {
            break;
        }
    }
    SB_ASSERT(writer->staged > first_staged);
    writer->pending_end = data_end;
    writer_start_io(writer, WRITER_DATA_WRITE);
}

/* Where the pass's next write starts: after the last batch written. Its partial block is
 * still at the end of the staging buffer after a write; before the first, it is read back. */
static void
writer_stage_start(struct flush_writer *writer, struct segment *segment)
{
    uint64_t aligned = writer->pending_end / SB_BLOCK_BYTES * SB_BLOCK_BYTES;
    uint32_t partial = (uint32_t)(writer->pending_end - aligned);
    if (segment->header_pending && writer->pending_end == SB_BLOCK_BYTES) {
        segment_header_block(segment, writer->staging);
        /* Nothing of this segment is flushed yet: the flushed histories are the producers'
         * state as of its base offset. */
        SB_ASSERT(writer->pending_offset == writer->partition->flushed_offset);
        producer_snapshot_encode(writer->partition, writer->staging + SB_SEGMENT_HEADER_BYTES);
        writer->write_position = 0;
        writer->staged = SB_BLOCK_BYTES;
    } else if (partial != 0 && writer->tail_in_staging) {
        memmove(writer->staging, writer->staging + (aligned - writer->write_position), partial);
        writer->write_position = aligned;
        writer->staged = partial;
    } else if (partial != 0) {
        writer->write_position = aligned;
        writer->staged = 0;
        writer_start_io(writer, WRITER_TAIL_READ);
        return;
    } else {
        writer->write_position = writer->pending_end;
        writer->staged = 0;
    }
    writer_stage_batches(writer, writer_next_entry(writer));
}

/* The writer's part of a step is written: a free sync takes the partition (and what the pass
 * wrote) and the writer takes the next partition at once, so no staging buffer waits for a
 * sync. With every sync in flight the writer waits (flush_syncs_serve_waiting). */
static void
writer_hand_over(struct flush_writer *writer, enum flush_sync_kind kind)
{
    struct sb_store *store = writer->store;
    struct flush_sync *sync = store->flush_sync_free;
    if (sync == NULL) {
        writer->phase = WRITER_SYNC_WAIT;
        writer->sync_kind = kind;
        return;
    }
    SB_ASSERT(sync->partition == NULL);
    store->flush_sync_free = sync->next_free;
    sync->partition = writer->partition;
    sync->segment = writer->segment;
    sync->pending_offset = writer->pending_offset;
    sync->pending_end = writer->pending_end;
    sync->kind = kind;
    writer->partition = NULL;
    writer->phase = WRITER_IDLE;
    flush_sync_start(sync);
    if (!store->flush_failed) {
        writer_take_next(writer);
    }
    flush_round_maybe_end(store);
}

/* A round ending with a syncfs: the pass (or, with nothing written, only the directory entry
 * of a new file) waits on flush_syncfs_list for it, still claimed by the round (in_flush_list)
 * but held by nobody, and the writer takes the next partition. Nothing of the pass counts as
 * durable (flushed_offset stays) until the syncfs succeeded (flush_syncfs_let_go). */
static void
writer_defer(struct flush_writer *writer)
{
    struct sb_store *store = writer->store;
    struct sb_partition *partition = writer->partition;
    SB_ASSERT(partition->in_flush_list && !partition->syncfs_pass);
    SB_ASSERT(store->flush_active > 0);
    bool unsynced = writer->pending_offset > partition->flushed_offset;
    partition->syncfs_pass = true;
    partition->syncfs_segment = unsynced ? writer->segment : NULL;
    partition->syncfs_pending_offset = writer->pending_offset;
    partition->syncfs_pending_end = writer->pending_end;
    partition->syncfs_next = store->flush_syncfs_list;
    store->flush_syncfs_list = partition;
    store->flush_active--;
    writer->partition = NULL;
    writer->phase = WRITER_IDLE;
    if (!store->flush_failed) {
        writer_take_next(writer);
    }
    flush_round_maybe_end(store);
}

/* Decides the writer's next move for its partition. Batches are written chunk after chunk and
 * made durable by one fdatasync when the pass ends (nothing left, or the segment is full). */
static void
writer_step(struct flush_writer *writer)
{
    struct sb_partition *partition = writer->partition;
    struct memtable_entry *entry = partition->dropped ? NULL : writer_next_entry(writer);
    struct segment *segment = partition->newest;
    bool unsynced = writer->pending_offset > partition->flushed_offset;
    bool full = entry != NULL && segment != NULL && segment->batch_count + unsynced > 0 &&
                writer->pending_end - SB_BLOCK_BYTES + entry->batch_bytes >
                    partition->config.segment_bytes;
    bool deferred = writer->store->flush_syncfs && !partition->dropped;
    if (unsynced && entry == NULL && deferred) {
        writer_defer(writer);
        return;
    }
    if (unsynced && (entry == NULL || full)) {
        writer_hand_over(writer, FLUSH_SYNC_DATA);
        return;
    }
    if (entry == NULL) {
        if (partition->needs_dir_sync && !partition->dropped) {
            if (deferred) {
                writer_defer(writer);
                return;
            }
            writer_hand_over(writer, FLUSH_SYNC_DIRECTORY);
            return;
        }
        writer_finish_partition(writer);
        return;
    }
    if (segment != NULL && full && !segment->closed) {
        writer_close_segment(writer, segment);
        return;
    }
    if (segment == NULL || full) {
        writer_create_segment(writer, entry->base_offset);
        return;
    }
    writer->segment = segment;
    writer_stage_start(writer, segment);
}

/* The partition needs a new segment: its file is created by an OPENAT op (writer_io_done
 * goes on with writer_create_done). */
static void
writer_create_segment(struct flush_writer *writer, int64_t base_offset)
{
    struct segment *segment = NULL;
    int result = segment_create_begin(writer->partition, base_offset, writer->path,
                                      sizeof(writer->path), &segment);
    if (result < 0) {
        writer_failed(writer, "create segment", result);
        return;
    }
    writer->segment = segment;
    writer->phase = WRITER_CREATE;
    sb_io_openat(writer->store->io, &writer->op, writer->path,
                 O_RDWR | O_CREAT | O_TRUNC | O_DIRECT, 0644, writer_io_done, writer);
}

/* The new segment's file is open (or the open failed: the round fails, nothing linked). A
 * partition dropped meanwhile gets no segment: the file just made is closed and removed, and
 * the caller lets the partition go. */
static void
writer_create_done(struct flush_writer *writer, int32_t result)
{
    struct segment *segment = writer->segment;
    SB_ASSERT(writer->phase == WRITER_CREATE);
    writer->segment = NULL;
    if (writer->partition->dropped || result < 0) {
        segment_create_end(segment, -1);
        if (result >= 0) {
            sb_io_close(writer->store->io, result);
            unlink(writer->path);
        }
        if (!writer->partition->dropped) {
            writer_failed(writer, "create segment", result);
        }
        return;
    }
    segment_create_end(segment, result);
    writer->pending_end = segment->data_end;
    writer->tail_in_staging = false;
    writer->segment = segment;
    writer_stage_start(writer, segment);
}

/* The writer's partition was dropped while its I/O was in flight: whatever that I/O did, the
 * partition's memtable and files are gone from under the pass. Let go of it (its files are
 * deleted by writer_finish_partition); it is no failure of the round. */
static void
writer_abandon_dropped(struct flush_writer *writer)
{
    SB_ASSERT(writer->partition->dropped);
    writer_finish_partition(writer);
}

static void
writer_io_done(struct sb_io_op *op)
{
    struct flush_writer *writer = op->context;
    int32_t result = op->result;
    if (writer->phase == WRITER_CREATE) {
        bool dropped = writer->partition->dropped;
        writer_create_done(writer, result);
        if (dropped) {
            writer_abandon_dropped(writer);
        }
        return;
    }
    if (writer->partition->dropped) {
        writer_abandon_dropped(writer);
        return;
    }
    switch (writer->phase) {
    case WRITER_TAIL_READ:
        if (result != (int32_t)SB_BLOCK_BYTES) {
            writer_failed(writer, "read tail block", result < 0 ? result : -EIO);
            return;
        }
        writer->staged = (uint32_t)(writer->pending_end - writer->write_position);
        writer_stage_batches(writer, writer_next_entry(writer));
        return;
    case WRITER_FOOTER_WRITE:
    case WRITER_DATA_WRITE:
        if (result != (int32_t)sb_align_up(writer->staged, SB_BLOCK_BYTES)) {
            /* A short write to a regular file means the disk (or the quota) is full. */
            writer_failed(writer, "write segment", result < 0 ? result : -ENOSPC);
            return;
        }
        if (writer->phase == WRITER_FOOTER_WRITE) {
            writer_hand_over(writer, FLUSH_SYNC_FOOTER);
            return;
        }
        writer->tail_in_staging = true;
        writer_step(writer);
        return;
    default:
        SB_ASSERT(false && "io completion in an idle writer");
    }
}

/* ---- The sync queue: syncs in flight without staging buffers ---- */

static void
flush_syncs_init(struct sb_store *store)
{
    store->flush_sync_free = NULL;
    store->flush_syncs_in_flight = 0;
    for (uint32_t index = store->config.flush_sync_concurrency; index-- > 0;) {
        struct flush_sync *sync = &store->flush_syncs[index];
        *sync = (struct flush_sync){.store = store, .directory_fd = -1};
        sync->next_free = store->flush_sync_free;
        store->flush_sync_free = sync;
    }
}

static void
flush_sync_free(struct flush_sync *sync)
{
    struct sb_store *store = sync->store;
    SB_ASSERT(sync->partition != NULL);
    SB_ASSERT(sync->directory_fd < 0);
    sync->partition = NULL;
    sync->next_free = store->flush_sync_free;
    store->flush_sync_free = sync;
}

/* Starts the sync's fsync through sb_io (so the simulator's power cut knows of it). A
 * directory that cannot be opened fails the sync at once. */
static void
flush_sync_start(struct flush_sync *sync)
{
    struct sb_store *store = sync->store;
    struct sb_partition *partition = sync->partition;
    SB_ASSERT(partition != NULL && partition->in_flush_list);
    store->flush_syncs_in_flight++;
    if (sync->kind != FLUSH_SYNC_DIRECTORY) {
        sb_io_fsync(store->io, &sync->op, sync->segment->fd, true, flush_sync_done, sync);
        return;
    }
    char path[320];
    partition_dir_path(store, partition->topic_id, partition->partition, path, sizeof(path));
    int fd = sb_io_open(store->io, path, O_RDONLY | O_DIRECTORY, 0);
    if (fd < 0) {
        sync->op.result = fd;
        sync->op.context = sync;
        flush_sync_done(&sync->op);
        return;
    }
    sync->directory_fd = fd;
    sb_io_fsync(store->io, &sync->op, fd, false, flush_sync_done, sync);
}

/* A pass's writes and their sync (its fdatasync, or the round's syncfs) succeeded: account
 * for every batch of the partition below `pending_offset` now durable in `segment`, from the
 * memtable (the same bytes that were written). */
static void
flush_data_durable(struct sb_store *store, struct sb_partition *partition,
                   struct segment *segment, int64_t pending_offset, uint64_t pending_end)
{
    uint64_t position = segment->data_end;
    uint64_t first_block = position / SB_CACHE_BLOCK_BYTES;
    for (struct memtable_entry *entry = flush_entry_from(store, partition,
                                                         partition->flushed_offset);
         entry != NULL && entry->base_offset < pending_offset;) {
        const uint8_t *batch = wal_ring_at(store, entry->ring_position);
        segment_note_batch(segment, batch, position);
        struct sb_batch_header header;
        if (sb_batch_header_decode(batch, entry->batch_bytes, UINT32_MAX, &header) == 0) {
            producer_note_flushed(partition, &header, entry->base_offset);
        }
        position += entry->batch_bytes;
        store->stats.segment_bytes_written += entry->batch_bytes;
        entry = entry->next == SB_STORE_NONE ? NULL : wal_fifo_entry(store, entry->next);
    }
    SB_ASSERT(position == pending_end);
    segment->header_pending = false;
    segment->durable_data_end = segment->data_end;
    segment->last_write_ns = (int64_t)sb_clock_realtime_ns();
    partition->flushed_offset = pending_offset;
    cache_invalidate(store, segment, first_block);
}

/* A partition with more batches goes back on the list; an idle writer (if any) takes it. */
static void
flush_give_back(struct sb_store *store, struct sb_partition *partition)
{
    SB_ASSERT(partition->in_flush_list);
    SB_ASSERT(store->flush_active > 0);
    store->flush_active--;
    partition->flush_next = store->flush_list;
    store->flush_list = partition;
    for (uint32_t index = 0; index < store->config.flush_concurrency; index++) {
        if (store->writers[index].partition == NULL) {
            writer_take_next(&store->writers[index]);
            return;
        }
    }
}

/* The sync succeeded: what is left of the partition's round. A directory fsync after its last
 * data sync reuses this sync (no writer needed); more batches need a writer. */
static void
flush_sync_continue(struct flush_sync *sync)
{
    struct sb_store *store = sync->store;
    struct sb_partition *partition = sync->partition;
    struct memtable_entry *entry = store->flush_failed
                                       ? NULL
                                       : flush_entry_from(store, partition,
                                                          partition->flushed_offset);
    if (entry == NULL && partition->needs_dir_sync && !store->flush_failed) {
        sync->kind = FLUSH_SYNC_DIRECTORY;
        flush_sync_start(sync);
        return;
    }
    flush_sync_free(sync);
    if (entry == NULL) {
        flush_release_partition(store, partition);
    } else {
        flush_give_back(store, partition);
    }
}

/* Writers waiting for a sync hand their partitions over while syncs are free. */
static void
flush_syncs_serve_waiting(struct sb_store *store)
{
    for (uint32_t index = 0; index < store->config.flush_concurrency &&
                             store->flush_sync_free != NULL; index++) {
        struct flush_writer *writer = &store->writers[index];
        if (writer->phase != WRITER_SYNC_WAIT) {
            continue;
        }
        if (writer->partition->dropped) {
            writer_abandon_dropped(writer);
        } else {
            writer_hand_over(writer, (enum flush_sync_kind)writer->sync_kind);
        }
    }
}

static const char *const flush_sync_steps[] = {
    [FLUSH_SYNC_DATA] = "fdatasync segment",
    [FLUSH_SYNC_FOOTER] = "fdatasync segment footer",
    [FLUSH_SYNC_DIRECTORY] = "fsync directory",
};

/* A sync finished. Failed: the round fails (the partition's flushed_offset has not moved, so
 * the retry rewrites from there); dropped meanwhile: let go, no failure. */
static void
flush_sync_done(struct sb_io_op *op)
{
    struct flush_sync *sync = op->context;
    struct sb_store *store = sync->store;
    struct sb_partition *partition = sync->partition;
    SB_ASSERT(store->flush_syncs_in_flight > 0);
    store->flush_syncs_in_flight--;
    if (sync->directory_fd >= 0) {
        sb_io_close(store->io, sync->directory_fd);
        sync->directory_fd = -1;
    }
    if (partition->dropped || op->result < 0) {
        if (!partition->dropped) {
            sb_log_warn("segment flush failed; will retry", "step=%s topic=%u partition=%u "
                        "error=\"%s\"", flush_sync_steps[sync->kind], partition->topic_id,
                        partition->partition, sb_strerror(op->result));
            store->flush_error = op->result;
            store->flush_failed = true;
        }
        flush_sync_free(sync);
        flush_release_partition(store, partition);
    } else {
        if (sync->kind == FLUSH_SYNC_DATA) {
            flush_data_durable(store, partition, sync->segment, sync->pending_offset,
                               sync->pending_end);
        } else if (sync->kind == FLUSH_SYNC_FOOTER) {
            sync->segment->closed = true;
        } else {
            partition->needs_dir_sync = false;
        }
        flush_sync_continue(sync);
    }
    flush_syncs_serve_waiting(store);
    flush_round_maybe_end(store);
}

/* The round lets go of every pass that waited for the syncfs. `durable` (the syncfs
 * succeeded): each pass's batches count as flushed and its directory as synced; otherwise
 * nothing moves and the retry rewrites them from flushed_offset. A partition dropped
 * meanwhile has its files deleted now. */
static void
flush_syncfs_let_go(struct sb_store *store, bool durable)
{
    for (struct sb_partition *partition = store->flush_syncfs_list; partition != NULL;) {
        struct sb_partition *next = partition->syncfs_next;
        SB_ASSERT(partition->syncfs_pass && partition->in_flush_list);
        partition->syncfs_pass = false;
        partition->in_flush_list = false;
        partition->syncfs_next = NULL;
        if (partition->dropped) {
            partition_delete_segments(partition);
            store_partition_release_if_unused(partition);
        } else if (durable) {
            if (partition->syncfs_segment != NULL) {
                flush_data_durable(store, partition, partition->syncfs_segment,
                                   partition->syncfs_pending_offset,
                                   partition->syncfs_pending_end);
            }
            partition->needs_dir_sync = false;
        }
        partition = next;
    }
    store->flush_syncfs_list = NULL;
}

/* The round's syncfs finished: every file it wrote is durable (or, failed, none counts as
 * such and the round is retried: an error names no file). Then the manifest, whose own
 * fdatasync is the round's last device cache flush before the WAL is released. */
static void
flush_syncfs_done(struct sb_io_op *op)
{
    struct sb_store *store = op->context;
    SB_ASSERT(store->flush_phase == FLUSH_SYNCFS);
    SB_ASSERT(store->flush_list == NULL && store->flush_active == 0);
    if (op->result < 0) {
        sb_log_warn("segment flush failed; will retry", "step=syncfs error=\"%s\"",
                    sb_strerror(op->result));
        store->flush_error = op->result;
        flush_syncfs_let_go(store, false);
        flush_round_failed(store);
        return;
    }
    flush_syncfs_let_go(store, true);
    store->stats.flush_syncfs++;
    flush_manifest_begin(store);
}

/* Fills the manifest image: the checkpoint and one record per partition with segments. */
static uint64_t
flush_manifest_build(struct sb_store *store, uint64_t checkpoint_sequence)
{
    uint8_t *image = store->manifest_buffer;
    uint32_t count = 0;
    for (uint32_t slot = 0; slot < store->config.partitions_max; slot++) {
        struct sb_partition *partition = &store->partitions[slot];
        if (!partition->used || partition->dropped || partition->newest == NULL) {
            continue;
        }
        struct segment *open_segment = partition->newest;
        struct sb_manifest_partition record = {
            .topic_id = partition->topic_id,
            .partition = partition->partition,
            .log_start_offset = partition->log_start_offset,
            .next_offset = partition->flushed_offset,
            .open_segment_base = open_segment->base_offset,
            .open_segment_data_end = open_segment->closed ? 0
                                                          : open_segment->durable_data_end,
            .flags = partition->fenced ? SB_MANIFEST_FLAG_FENCED : 0,
            .fenced_offset = partition->fenced ? partition->fenced_offset : 0,
        };
        sb_manifest_partition_encode(&record, image + SB_MANIFEST_HEADER_BYTES +
                                                  (uint64_t)count * SB_MANIFEST_PARTITION_BYTES);
        count++;
    }
    uint64_t file_bytes = SB_MANIFEST_HEADER_BYTES + (uint64_t)count *
                                                         SB_MANIFEST_PARTITION_BYTES;
    struct sb_manifest_header header = {
        .partition_count = count,
        .file_bytes = file_bytes,
        .checkpoint_sequence = checkpoint_sequence,
        .written_ns = sb_clock_realtime_ns(),
    };
    sb_manifest_header_encode(&header, image);
    sb_manifest_seal(image, file_bytes);
    return file_bytes;
}

static void flush_manifest_io_done(struct sb_io_op *op);

static void
flush_manifest_path(const struct sb_store *store, bool temporary, char *path, size_t capacity)
{
    snprintf(path, capacity, "%s/MANIFEST%s", store->shard_dir, temporary ? ".tmp" : "");
}

static void
flush_manifest_failed(struct sb_store *store, const char *step, int error)
{
    sb_log_warn("manifest write failed; will retry", "step=%s error=\"%s\"", step,
                sb_strerror(error));
    store->flush_error = error;
    if (store->manifest_fd >= 0) {
        sb_io_close(store->io, store->manifest_fd);
        store->manifest_fd = -1;
    }
    flush_round_failed(store);
}

static void
flush_manifest_begin(struct sb_store *store)
{
    store->flush_phase = FLUSH_MANIFEST_WRITE;
    store->manifest_bytes = flush_manifest_build(store, store->flush_end_sequence);
    char path[320];
    flush_manifest_path(store, true, path, sizeof(path));
    store->manifest_fd = sb_io_open(store->io, path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (store->manifest_fd < 0) {
        int error = store->manifest_fd;
        store->manifest_fd = -1;
        flush_manifest_failed(store, "open", error);
        return;
    }
    sb_io_write(store->io, &store->manifest_op, store->manifest_fd, store->manifest_buffer,
                (uint32_t)store->manifest_bytes, 0, flush_manifest_io_done, store);
}

/* The manifest is in place: everything this round covered is in segments. */
static void
flush_checkpoint(struct sb_store *store)
{
    store->checkpoint_sequence = store->flush_end_sequence;
    wal_release_flushed(store, store->flush_end, store->flush_end_fifo);
    store->flush_phase = FLUSH_IDLE;
    store->flush_retry_delay_ns = SB_STORE_RETRY_MIN_NS;
    store->flush_error = 0;
    store->last_flush_ns = sb_io_now_ns(store->io);
    store->stats.flushes++;
}

/* Steps: write temp -> fdatasync temp -> rename -> fsync the shard directory -> fsync the
 * partitions directory (new partition directories) -> checkpoint. */
static void
flush_manifest_io_done(struct sb_io_op *op)
{
    struct sb_store *store = op->context;
    if (op->result < 0 || (store->flush_phase == FLUSH_MANIFEST_WRITE &&
                           (uint64_t)op->result != store->manifest_bytes)) {
        flush_manifest_failed(store, store->flush_phase == FLUSH_MANIFEST_WRITE ? "write"
                                                                                  : "sync",
                              op->result < 0 ? op->result : -EIO);
        return;
    }
    if (store->flush_phase == FLUSH_MANIFEST_WRITE) {
        store->flush_phase = FLUSH_MANIFEST_SYNC;
        sb_io_fsync(store->io, &store->manifest_op, store->manifest_fd, true,
                    flush_manifest_io_done, store);
        return;
    }
    if (store->manifest_fd >= 0) {
        sb_io_close(store->io, store->manifest_fd);
        store->manifest_fd = -1;
        char from[320];
        char to[320];
        flush_manifest_path(store, true, from, sizeof(from));
        flush_manifest_path(store, false, to, sizeof(to));
        if (sb_io_durability_rename(from, to) != 0) {
            flush_manifest_failed(store, "rename", -errno);
            return;
        }
        sb_io_fsync(store->io, &store->manifest_op, store->shard_dir_fd, false,
                    flush_manifest_io_done, store);
        return;
    }
    if (store->flush_phase == FLUSH_MANIFEST_SYNC) {
        store->flush_phase = FLUSH_MANIFEST_PARENT_SYNC;
        sb_io_fsync(store->io, &store->manifest_op, store->partitions_dir_fd, false,
                    flush_manifest_io_done, store);
        return;
    }
    flush_checkpoint(store);
}
