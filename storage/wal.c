/*
 * storage/wal.c - the shard's write-ahead log and memtable.
 *
 * The ring is both: appends copy each batch, behind a 64-byte WAL entry
 * header, into the ring at `head`, and the same bytes are later written to
 * the WAL file by a commit cycle and read by consumers. A FIFO of
 * memtable_entry (one per batch, in ring order) indexes the batches; each
 * partition links its own entries.
 *
 * Commit cycles (docs/storage.md, "Group commit"). Up to SB_WAL_CYCLES_IN_FLIGHT_MAX (2)
 * sealed cycles are on disk at once, each in a flight of its own:
 *
 *   open --wal_seal--> sealed --wal_cycles_start--> WRITING ---writes ok---> SYNCING
 *                        ^     (log order, while a      |                    |      |
 *                        |      flight is free)         | a write failed,    |      | own
 *                        |                              | or an earlier      |      | fdatasync
 *                        |                              | cycle did          |      | ok
 *                        |                              v                    |      v
 *                        |                           FAILED <--fdatasync-----+   DURABLE
 *                        |                              |      failed               |
 *                        |    wal_back_off once no      |       wal_flights_settle: the
 *                        +--- flight is landing, then --+       oldest flight DURABLE ->
 *                             retry_timer (every cycle          committed advances,
 *                             not committed is redone)          appends notified
 * A lone cycle (wal_cycle_lone: one write, no header block, no earlier cycle of its file
 * still on disk) is that one write with RWF_DSYNC: WRITING --dsync write ok--> DURABLE in
 * one command, no fdatasync and no io_uring worker; a failed dsync write is FAILED as above.
 *
 * A cycle's fdatasync is issued on its own file once its own writes completed, so it proves
 * exactly that cycle durable (an fdatasync covers only writes completed before it was
 * issued, and never another file). In one file, a later cycle's fdatasync also waits
 * (WRITTEN, cycle_syncs_waited) until every earlier cycle's own fdatasync completed: Linux
 * reports a write-back error (a write that fell back to the page cache) to one fdatasync of
 * the open file only, and a later cycle's fdatasync running first would take the earlier
 * cycle's error while the earlier one's succeeded. In turn, each error reaches the cycle it
 * belongs to or an earlier one, and nothing from that cycle on is acknowledged. The later
 * cycle's writes still overlap the earlier cycle's fdatasync. Completion is ordered: a later
 * cycle DURABLE first (in another file) waits in its flight (cycles_held) until every earlier
 * one is, and only the oldest flight moves `committed`, so durable offsets and
 * acknowledgements follow log order.
 *
 * A cycle is sealed by padding it to a 4096-byte boundary, so the next cycle never rewrites
 * a block of an acknowledged one. A failed write or fdatasync of any cycle stops new starts;
 * once nothing is landing, every cycle from the oldest not yet committed on (later ones whose
 * fdatasync succeeded included: cycles_redone) is written again, the same bytes at the same
 * place, after a back-off, and nothing in or after the failed cycle is acknowledged until
 * that succeeds. A cycle issued behind another carries the flag BEHIND and the oldest
 * sequence not yet durable ([WAL-ENTRY]), so recovery never takes it for proof that the
 * cycles before it were durable: after a power cut it is cut with them (recovery.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/assert.h"
#include "core/clock.h"
#include "core/crc32c.h"
#include "core/endian.h"
#include "core/error.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/pages.h"
#include "proto/batch.h"
#include "storage/store_private.h"

/* Extents asked for per FIEMAP call, and calls at most, when checking a file is written. */
#define WAL_FIEMAP_EXTENTS 32u
#define WAL_FIEMAP_CALLS_MAX 64u

uint8_t *
wal_ring_at(struct sb_store *store, uint64_t position)
{
    return store->wal.ring + position % store->wal.ring_bytes;
}

struct memtable_entry *
wal_fifo_entry(struct sb_store *store, uint32_t index)
{
    SB_ASSERT(index < store->wal.fifo_capacity);
    return &store->wal.fifo[index];
}

uint32_t
wal_fifo_index_after(const struct sb_store *store, uint32_t index)
{
    return index + 1 == store->wal.fifo_capacity ? 0 : index + 1;
}

static int
wal_file_open(struct sb_store *store, uint32_t index)
{
    char path[320];
    snprintf(path, sizeof(path), "%s/wal-%u.log", store->shard_dir, index);
    int fd = sb_io_open(store->io, path, O_RDWR | O_CREAT | O_DIRECT, 0644);
    if (fd < 0) {
        sb_log_error("cannot open WAL file", "path=%s error=\"%s\"", path, sb_strerror(fd));
        return fd;
    }
    store->wal.files[index].fd = fd;
    return store_sync_fallocate(store, fd, 0, store->config.wal_file_bytes);
}

/* Writes zeros over a new WAL file once, so later cycles overwrite written blocks (which
 * commit faster than blocks the file system still marks unwritten). */
static int
wal_file_prefill(struct sb_store *store, int fd)
{
    uint32_t chunk_bytes = (uint32_t)sb_min_u64(store->wal.ring_bytes, 1u << 20);
    memset(store->wal.ring, 0, chunk_bytes);
    for (uint64_t position = 0; position < store->config.wal_file_bytes;
         position += chunk_bytes) {
        uint32_t length = (uint32_t)sb_min_u64(chunk_bytes,
                                               store->config.wal_file_bytes - position);
        int result = store_sync_write(store, fd, store->wal.ring, length, position);
        if (result < 0) {
            return result;
        }
    }
    return store_sync_fsync(store, fd);
}

int
wal_init(struct sb_store *store)
{
    struct wal *wal = &store->wal;
    const struct sb_store_config *config = &store->config;
    wal->ring_bytes = config->memtable_bytes;
    wal->ring = sb_pages_map(wal->ring_bytes);
    wal->fifo_capacity = (uint32_t)(wal->ring_bytes / 256);
    wal->fifo = sb_pages_map(wal->fifo_capacity * sizeof(struct memtable_entry));
    wal->files = sb_alloc(config->wal_file_count * sizeof(struct wal_file));
    if (wal->ring == NULL || wal->fifo == NULL || wal->files == NULL) {
        return -ENOMEM;
    }
    for (uint32_t index = 0; index < SB_WAL_CYCLES_IN_FLIGHT_MAX; index++) {
        wal->flights[index].store = store;
        wal->flights[index].header_block = sb_alloc_aligned(SB_BLOCK_BYTES, SB_BLOCK_BYTES);
        if (wal->flights[index].header_block == NULL) {
            return -ENOMEM;
        }
    }
    wal->retry_delay_ns = SB_STORE_RETRY_MIN_NS;
    for (uint32_t index = 0; index < config->wal_file_count; index++) {
        wal->files[index].fd = -1;
    }
    for (uint32_t index = 0; index < config->wal_file_count; index++) {
        int result = wal_file_open(store, index);
        if (result < 0) {
            return result;
        }
    }
    return 0;
}

void
wal_deinit(struct sb_store *store)
{
    struct wal *wal = &store->wal;
    sb_timer_disarm(store->timers, &wal->retry_timer);
    sb_timer_disarm(store->timers, &wal->delay_timer);
    for (uint32_t index = 0; wal->files != NULL && index < store->config.wal_file_count;
         index++) {
        if (wal->files[index].fd >= 0) {
            sb_io_close(store->io, wal->files[index].fd);
        }
    }
    sb_free(wal->files);
    sb_pages_unmap(wal->fifo, wal->fifo_capacity * sizeof(struct memtable_entry));
    for (uint32_t index = 0; index < SB_WAL_CYCLES_IN_FLIGHT_MAX; index++) {
        sb_free(wal->flights[index].header_block);
    }
    sb_pages_unmap(wal->ring, wal->ring_bytes);
    memset(wal, 0, sizeof(*wal));
}

/* True if every block of the first `file_bytes` of the file is written: neither a hole nor an
 * extent the file system still marks unwritten (as after an earlier prefill, in a file no cycle
 * has used yet). False whenever the file system cannot say (no FIEMAP). */
static bool
wal_file_written(int fd, uint64_t file_bytes)
{
    /* A struct fiemap followed by its extents (a flexible array member). */
    uint64_t words[(sizeof(struct fiemap) + WAL_FIEMAP_EXTENTS * sizeof(struct fiemap_extent)) /
                   sizeof(uint64_t)];
    struct fiemap *map = (struct fiemap *)words;
    uint64_t covered = 0;
    const uint32_t not_written = FIEMAP_EXTENT_UNWRITTEN | FIEMAP_EXTENT_UNKNOWN |
                                 FIEMAP_EXTENT_DELALLOC;
    /* Bounded by WAL_FIEMAP_CALLS_MAX; each call moves `covered` forward or returns. */
    for (uint32_t call = 0; call < WAL_FIEMAP_CALLS_MAX && covered < file_bytes; call++) {
        memset(words, 0, sizeof(words));
        map->fm_start = covered;
        map->fm_length = file_bytes - covered;
        map->fm_flags = FIEMAP_FLAG_SYNC;
        map->fm_extent_count = WAL_FIEMAP_EXTENTS;
        if (ioctl(fd, FS_IOC_FIEMAP, map) != 0 || map->fm_mapped_extents == 0) {
            return false;
        }
        for (uint32_t index = 0; index < map->fm_mapped_extents; index++) {
            const struct fiemap_extent *extent = &map->fm_extents[index];
            if (extent->fe_logical > covered || (extent->fe_flags & not_written) != 0) {
                return false;
            }
            covered = sb_max_u64(covered, extent->fe_logical + extent->fe_length);
        }
    }
    return covered >= file_bytes;
}

/* Prefills files that were just created or resized (no generation in them), unless an earlier
 * prefill already wrote every block (a file no cycle used before a restart). */
static int
wal_prefill_new_files(struct sb_store *store)
{
    for (uint32_t index = 0; index < store->config.wal_file_count; index++) {
        if (store->wal.files[index].generation == 0 && store->config.wal_prefill &&
            !wal_file_written(store->wal.files[index].fd, store->config.wal_file_bytes)) {
            int result = wal_file_prefill(store, store->wal.files[index].fd);
            if (result < 0) {
                return result;
            }
        }
    }
    return 0;
}

/* Applies today's wal_files and wal_file_bytes. Only called once recovery's checkpoint made
 * every WAL entry unnecessary, so no acknowledged entry is lost by it: files beyond wal_files
 * are removed, and a file of another size (on disk, or in its header) is cut or grown to
 * wal_file_bytes and starts over like a new one. If a power cut undoes a removal or a cut, the
 * file holds an older generation, all below the checkpoint: recovery reads it and comes here
 * again. */
static int
wal_files_resize(struct sb_store *store)
{
    const struct sb_store_config *config = &store->config;
    for (uint32_t index = config->wal_file_count; index < SB_STORE_WAL_FILES_MAX; index++) {
        char path[320];
        snprintf(path, sizeof(path), "%s/wal-%u.log", store->shard_dir, index);
        if (unlink(path) == 0) {
            sb_log_info("WAL file removed (wal_files is smaller)", "path=%s", path);
        }
    }
    for (uint32_t index = 0; index < config->wal_file_count; index++) {
        struct wal_file *file = &store->wal.files[index];
        struct stat status;
        if (fstat(file->fd, &status) != 0) {
            return -errno;
        }
        if ((uint64_t)status.st_size == config->wal_file_bytes &&
            (file->file_bytes == 0 || file->file_bytes == config->wal_file_bytes)) {
            continue;
        }
        sb_log_info("WAL file resized to wal_file_bytes", "file=wal-%u.log from=%llu to=%llu",
                    index, (unsigned long long)(file->file_bytes != 0 ? file->file_bytes
                                                                     : (uint64_t)status.st_size),
                    (unsigned long long)config->wal_file_bytes);
        if (ftruncate(file->fd, (off_t)config->wal_file_bytes) != 0) {
            return -errno;
        }
        int result = store_sync_fallocate(store, file->fd, 0, config->wal_file_bytes);
        if (result < 0) {
            return result;
        }
        file->generation = 0;
        file->file_bytes = 0;
    }
    return 0;
}

/* After recovery has flushed everything: an empty ring on a 4096 boundary, WAL files as today's
 * settings say, and the next cycle begins a new generation in the file after the last one
 * used. Returns 0 or -errno. */
int
wal_start_generation(struct sb_store *store, uint64_t next_sequence)
{
    struct wal *wal = &store->wal;
    SB_ASSERT(wal->head == wal->tail);
    SB_ASSERT(wal->fifo_count == 0);
    SB_ASSERT(store->checkpoint_sequence >= next_sequence);
    int result = wal_files_resize(store);
    if (result < 0) {
        sb_log_error("cannot resize WAL files", "dir=%s error=\"%s\"", store->shard_dir,
                     sb_strerror(result));
        return result;
    }
    uint64_t start = sb_align_up(wal->head, SB_BLOCK_BYTES);
    wal->tail = wal->committed = wal->sealed = wal->head = start;
    wal->next_sequence = next_sequence;
    wal->open_cycle_sequence = next_sequence;
    uint32_t newest = 0;
    for (uint32_t index = 0; index < store->config.wal_file_count; index++) {
        struct wal_file *file = &wal->files[index];
        if (file->generation > wal->files[newest].generation) {
            newest = index;
        }
        wal->next_generation = sb_max_u64(wal->next_generation, file->generation + 1);
        /* Everything below next_sequence is checkpointed: every file is free. */
        file->has_entries = false;
    }
    /* Force the first cycle into a new generation. */
    wal->current_file = newest;
    wal->files[newest].write_position = store->config.wal_file_bytes;
    result = wal_prefill_new_files(store);
    if (result < 0) {
        sb_log_error("WAL prefill failed", "dir=%s error=\"%s\"", store->shard_dir,
                     sb_strerror(result));
    }
    return result;
}

/* Writes a PADDING entry of `span` bytes (a multiple of 64, >= 64) at head. */
static void
wal_put_padding(struct sb_store *store, uint64_t span)
{
    struct wal *wal = &store->wal;
    SB_ASSERT(span >= SB_WAL_ENTRY_HEADER_BYTES && span % SB_WAL_ENTRY_ALIGNMENT == 0);
    SB_ASSERT(wal->head % wal->ring_bytes + span <= wal->ring_bytes);
    struct sb_wal_entry_header header = {
        .kind = SB_WAL_ENTRY_PADDING,
        .payload_bytes = (uint32_t)(span - SB_WAL_ENTRY_HEADER_BYTES),
        .sequence = wal->next_sequence++,
        .cycle_sequence = wal->open_cycle_sequence,
    };
    sb_wal_entry_header_encode(&header, wal_ring_at(store, wal->head));
    wal->head += span;
}

/* Ends the open cycle at a 4096-byte boundary and queues it for writing. */
static void
wal_seal(struct sb_store *store)
{
    struct wal *wal = &store->wal;
    if (wal->head == wal->sealed) {
        return;
    }
    SB_ASSERT(wal->sealed_count < SB_STORE_SEALED_CYCLES_MAX);
    uint64_t gap = sb_align_up(wal->head, SB_BLOCK_BYTES) - wal->head;
    if (gap != 0) {
        wal_put_padding(store, gap);
    }
    uint32_t slot = (wal->sealed_first + wal->sealed_count) % SB_STORE_SEALED_CYCLES_MAX;
    wal->sealed_cycles[slot] = (struct wal_cycle){
        .start = wal->sealed,
        .end = wal->head,
        .first_sequence = wal->open_cycle_sequence,
        .last_sequence = wal->next_sequence - 1,
    };
    wal->sealed_count++;
    wal->sealed = wal->head;
    wal->open_cycle_sequence = wal->next_sequence;
}

/* Room for an entry of `span` at head: ring space (with the padding a seal may need), a FIFO
 * slot, and a sealed-cycle slot if the open cycle must be sealed first. Seals as needed. */
static int
wal_make_room(struct sb_store *store, uint64_t span)
{
    struct wal *wal = &store->wal;
    uint64_t physical = wal->head % wal->ring_bytes;
    uint64_t wrap_padding = physical + span > wal->ring_bytes ? wal->ring_bytes - physical : 0;
    bool must_seal = wal->head - wal->sealed + wrap_padding + span + SB_BLOCK_BYTES >
                     store->config.cycle_bytes_max;
    if (must_seal && wal->sealed_count == SB_STORE_SEALED_CYCLES_MAX) {
        return -ENOBUFS;
    }
    if (wal->fifo_count == wal->fifo_capacity ||
        (wal->head - wal->tail) + wrap_padding + span + 2 * SB_BLOCK_BYTES > wal->ring_bytes) {
        return -ENOBUFS;
    }
    if (must_seal) {
        wal_seal(store);
        physical = wal->head % wal->ring_bytes;
        wrap_padding = physical + span > wal->ring_bytes ? wal->ring_bytes - physical : 0;
    }
    if (wrap_padding != 0) {
        wal_put_padding(store, wrap_padding);
    }
    return 0;
}

static void
wal_fifo_push(struct sb_store *store, struct sb_partition *partition, const uint8_t *batch,
              uint64_t ring_position, uint64_t sequence)
{
    struct wal *wal = &store->wal;
    struct sb_batch_header header;
    int decoded = sb_batch_header_decode(batch, SB_BATCH_HEADER_BYTES, UINT32_MAX, &header);
    SB_ASSERT(decoded == 0); /* The caller validated the batch. */
    uint32_t index = (wal->fifo_head + wal->fifo_count) % wal->fifo_capacity;
    wal->fifo_count++;
    struct memtable_entry *entry = &wal->fifo[index];
    *entry = (struct memtable_entry){
        .ring_position = ring_position,
        .sequence = sequence,
        .base_offset = header.base_offset,
        .max_timestamp_ms = header.max_timestamp_ms,
        .batch_bytes = header.batch_bytes,
        .record_count = header.record_count,
        .partition_slot = partition->slot,
        .next = SB_STORE_NONE,
    };
    if (partition->memtable_last == SB_STORE_NONE) {
        partition->memtable_first = index;
    } else {
        wal->fifo[partition->memtable_last].next = index;
    }
    partition->memtable_last = index;
    partition->memtable_count++;
}

int
wal_append_entry(struct sb_store *store, struct sb_partition *partition, const uint8_t *batch,
                 const struct wal_append_options *options, uint64_t *ring_position_out)
{
    uint32_t batch_bytes = options->batch_bytes;
    bool durable_already = options->durable_already;
    uint64_t sequence = options->sequence;
    struct wal *wal = &store->wal;
    uint64_t span = sb_wal_entry_span(batch_bytes);
    int result = wal_make_room(store, span);
    if (result < 0) {
        return result;
    }
    if (durable_already) {
        /* Recovery replays entries with their original sequence numbers. */
        wal->next_sequence = sequence;
        wal->open_cycle_sequence = sequence;
    } else if (wal->head == wal->sealed) {
        wal->open_cycle_since_ns = sb_io_now_ns(store->io);
    }
    uint8_t *entry = wal_ring_at(store, wal->head);
    uint8_t *copy = entry + SB_WAL_ENTRY_HEADER_BYTES;
    memcpy(copy, batch, batch_bytes);
    if (options->assign_offset) {
        sb_batch_assign_offset(copy, options->base_offset);
    }
    if (options->append_time_ms >= 0) {
        sb_batch_set_log_append_time(copy, options->append_time_ms);
    }
    struct sb_wal_entry_header header = {
        .kind = SB_WAL_ENTRY_BATCH,
        .payload_bytes = batch_bytes,
        .sequence = wal->next_sequence++,
        .cycle_sequence = wal->open_cycle_sequence,
        .topic_id = partition->topic_id,
        .partition = partition->partition,
        .base_offset = (int64_t)sb_load_le64(copy + SB_BATCH_OFFSET_BASE_OFFSET),
    };
    sb_wal_entry_header_encode(&header, entry);
    memset(entry + SB_WAL_ENTRY_HEADER_BYTES + batch_bytes, 0,
           span - SB_WAL_ENTRY_HEADER_BYTES - batch_bytes);
    uint64_t batch_position = wal->head + SB_WAL_ENTRY_HEADER_BYTES;
    wal->head += span;
    wal_fifo_push(store, partition, entry + SB_WAL_ENTRY_HEADER_BYTES, batch_position,
                  header.sequence);
    if (durable_already) {
        wal->sealed = wal->committed = wal->head;
        wal->open_cycle_sequence = wal->next_sequence;
    }
    *ring_position_out = batch_position;
    return 0;
}

/* Marks FIFO entries below `committed` durable: raises durable offsets (and high watermarks,
 * unless the broker holds them), then notifies the appends waiting for them, in ring order. */
static void
wal_advance_durable(struct sb_store *store)
{
    struct wal *wal = &store->wal;
    while (wal->fifo_durable < wal->fifo_count) {
        uint32_t index = (wal->fifo_head + wal->fifo_durable) % wal->fifo_capacity;
        struct memtable_entry *entry = &wal->fifo[index];
        if (entry->ring_position >= wal->committed) {
            break;
        }
        if (entry->partition_slot != SB_STORE_NONE) {
            struct sb_partition *partition = store_partition_slot(store, entry->partition_slot);
            int64_t end = entry->base_offset + (int64_t)entry->record_count;
            if (end > partition->durable_offset) {
                partition->durable_offset = end;
                if (!store->config.hold_high_watermark) {
                    partition->high_watermark = end;
                }
                if (store->config.durable != NULL) {
                    store->config.durable(store->config.lookup_context, partition);
                }
            }
        }
        wal->fifo_durable++;
    }
    while (wal->appends_head != NULL && wal->appends_head->ring_end <= wal->committed) {
        struct sb_append *append = wal->appends_head;
        wal->appends_head = append->next;
        if (wal->appends_head == NULL) {
            wal->appends_tail = NULL;
        }
        append->result = 0;
        append->callback(append);
    }
}

void
wal_note_append(struct sb_store *store, struct sb_append *append, uint64_t ring_end)
{
    struct wal *wal = &store->wal;
    append->ring_end = ring_end;
    append->next = NULL;
    if (wal->appends_tail == NULL) {
        wal->appends_head = append;
    } else {
        wal->appends_tail->next = append;
    }
    wal->appends_tail = append;
}

/* Called by recovery after replaying: everything appended is already durable. */
void
wal_replay_done(struct sb_store *store)
{
    wal_advance_durable(store);
}

/* Rewrites generation, cycle sequence and the BEHIND stamp into every entry header of the
 * cycle (known only once the cycle is placed in a file and issued; `unsynced_sequence` is
 * the oldest sequence not yet durable). The bytes are ours, so this is an encode. */
static void
wal_stamp_cycle(struct sb_store *store, const struct wal_cycle *cycle,
                uint64_t unsynced_sequence)
{
    for (uint64_t position = cycle->start; position < cycle->end;) {
        uint8_t *bytes = wal_ring_at(store, position);
        struct sb_wal_entry_header header;
        int decoded = sb_wal_entry_header_decode(bytes, &header);
        SB_ASSERT(decoded == 0);
        header.generation = cycle->generation;
        header.cycle_sequence = cycle->first_sequence;
        header.behind = unsynced_sequence < cycle->first_sequence;
        header.unsynced_sequence = header.behind ? unsynced_sequence : 0;
        sb_wal_entry_header_encode(&header, bytes);
        position += sb_wal_entry_span(header.payload_bytes);
    }
}

static bool
wal_file_free(const struct sb_store *store, const struct wal_file *file)
{
    return !file->has_entries || file->last_sequence < store->checkpoint_sequence;
}

/* Chooses the file and position of a cycle, moving to the next file (a new generation) when the
 * current one is full. Returns false if the next file still holds un-checkpointed entries. */
static bool
wal_place_cycle(struct sb_store *store, struct wal_cycle *cycle)
{
    struct wal *wal = &store->wal;
    struct wal_file *file = &wal->files[wal->current_file];
    uint64_t bytes = cycle->end - cycle->start;
    if (file->write_position >= SB_BLOCK_BYTES &&
        file->write_position + bytes <= store->config.wal_file_bytes) {
        cycle->file_index = wal->current_file;
        cycle->file_position = file->write_position;
        cycle->new_generation = false;
        cycle->generation = file->generation;
    } else {
        uint32_t next = (wal->current_file + 1) % store->config.wal_file_count;
        struct wal_file *next_file = &wal->files[next];
        if (!wal_file_free(store, next_file)) {
            return false;
        }
        cycle->file_index = next;
        cycle->file_position = SB_BLOCK_BYTES;
        cycle->new_generation = true;
        cycle->created_ns = sb_clock_realtime_ns();
        cycle->generation = wal->next_generation++;
        next_file->generation = cycle->generation;
        next_file->first_sequence = cycle->first_sequence;
        next_file->has_entries = false;
        next_file->write_position = SB_BLOCK_BYTES;
        store->stats.wal_generations++;
    }
    wal->current_file = cycle->file_index;
    cycle->placed = true;
    return true;
}

static void wal_write_done(struct sb_io_op *op);
static bool wal_cycle_lone(struct sb_store *store, const struct wal_cycle *cycle,
                           uint32_t rank);

/* The index in wal->flights of the k-th cycle on disk (k = 0: the oldest, sealed_first). */
static uint32_t
wal_flight_index(const struct wal *wal, uint32_t k)
{
    SB_ASSERT(k < SB_WAL_CYCLES_IN_FLIGHT_MAX);
    return (wal->flights_first + k) % SB_WAL_CYCLES_IN_FLIGHT_MAX;
}

static struct wal_flight *
wal_flight_at(struct wal *wal, uint32_t k)
{
    return &wal->flights[wal_flight_index(wal, k)];
}

/* The k of a flight on disk (its place from the oldest). */
static uint32_t
wal_flight_rank(const struct wal *wal, const struct wal_flight *flight)
{
    return (uint32_t)(flight - wal->flights + SB_WAL_CYCLES_IN_FLIGHT_MAX - wal->flights_first) %
           SB_WAL_CYCLES_IN_FLIGHT_MAX;
}

static struct wal_cycle *
wal_cycle_at(struct wal *wal, uint32_t k)
{
    SB_ASSERT(k < wal->sealed_count);
    return &wal->sealed_cycles[(wal->sealed_first + k) % SB_STORE_SEALED_CYCLES_MAX];
}

/* Queues one write of the cycle. */
static void
wal_cycle_write(struct sb_store *store, struct wal_flight *flight, int fd, const uint8_t *bytes,
                uint64_t length, uint64_t file_position)
{
    SB_ASSERT(flight->writes_pending < SB_WAL_CYCLE_WRITES_MAX);
    SB_ASSERT(length % SB_BLOCK_BYTES == 0 && file_position % SB_BLOCK_BYTES == 0);
    struct sb_io_op *op = &flight->writes[flight->writes_pending++];
    sb_io_write(store->io, op, fd, bytes, (uint32_t)length, file_position, wal_write_done,
                flight);
}

/* Writes one contiguous piece of the ring in chunks, so the device sees them in parallel. */
static uint64_t
wal_cycle_write_piece(struct sb_store *store, struct wal_flight *flight, int fd,
                      const uint8_t *bytes, uint64_t length, uint64_t file_position,
                      uint64_t chunk_bytes)
{
    for (uint64_t done = 0; done < length; done += chunk_bytes) {
        wal_cycle_write(store, flight, fd, bytes + done, sb_min_u64(chunk_bytes, length - done),
                        file_position + done);
    }
    return file_position + length;
}

/* Issues every write of the cycle at once: the header block of a new generation, then the
 * ring's bytes (one or two pieces), cut into chunks. Its own fdatasync follows them all. */
static void
wal_cycle_writes(struct sb_store *store, struct wal_flight *flight,
                 const struct wal_cycle *cycle)
{
    struct wal *wal = &store->wal;
    int fd = wal->files[cycle->file_index].fd;
    flight->fd = fd;
    flight->writes_pending = 0;
    flight->error = 0;
    flight->phase = WAL_FLIGHT_WRITING;
    flight->dsync = wal_cycle_lone(store, cycle, wal_flight_rank(wal, flight));
    if (flight->dsync) {
        /* One command: durable when it completes (docs/storage.md, "Group commit"). */
        store->stats.cycles_dsync++;
        flight->writes_pending = 1;
        sb_io_write_dsync(store->io, &flight->writes[0], fd,
                          wal->ring + cycle->start % wal->ring_bytes,
                          (uint32_t)(cycle->end - cycle->start), cycle->file_position,
                          wal_write_done, flight);
        return;
    }
    if (cycle->new_generation) {
        memset(flight->header_block, 0, SB_BLOCK_BYTES);
        struct sb_wal_file_header header = {
            .shard_id = store->config.shard_id,
            .generation = cycle->generation,
            .first_sequence = cycle->first_sequence,
            .file_bytes = store->config.wal_file_bytes,
            .created_ns = cycle->created_ns,
        };
        sb_wal_file_header_encode(&header, flight->header_block);
        wal_cycle_write(store, flight, fd, flight->header_block, SB_BLOCK_BYTES, 0);
    }
    uint64_t bytes = cycle->end - cycle->start;
    /* At most SB_WAL_CYCLE_WRITES_MAX - 2 chunks (room for the header and the ring wrap). */
    uint64_t chunk_bytes = sb_max_u64(SB_WAL_CYCLE_CHUNK_BYTES,
                                      sb_align_up(bytes / (SB_WAL_CYCLE_WRITES_MAX - 3) + 1,
                                                  SB_BLOCK_BYTES));
    uint64_t physical = cycle->start % wal->ring_bytes;
    uint64_t first = sb_min_u64(bytes, wal->ring_bytes - physical);
    uint64_t position = wal_cycle_write_piece(store, flight, fd, wal->ring + physical, first,
                                              cycle->file_position, chunk_bytes);
    if (first < bytes) {
        wal_cycle_write_piece(store, flight, fd, wal->ring, bytes - first, position,
                              chunk_bytes);
    }
}

/* True if the cycle, k-th on disk (`rank`), can be one RWF_DSYNC write: one piece of the
 * ring (no wrap) of at most wal_dsync_bytes_max and SB_WAL_CYCLE_CHUNK_BYTES, no header block
 * (a new generation keeps write + fdatasync), and no earlier cycle of its file on disk but
 * DURABLE ones. The last makes the dsync write's sync the next sync of the file, so it can
 * take no earlier cycle's write-back error, and a later cycle's fdatasync waits for it (a
 * WRITING flight is ahead in wal_syncs_start). */
static bool
wal_cycle_lone(struct sb_store *store, const struct wal_cycle *cycle, uint32_t rank)
{
    struct wal *wal = &store->wal;
    uint64_t bytes = cycle->end - cycle->start;
    int fd = wal->files[cycle->file_index].fd;
    SB_ASSERT(cycle->placed && bytes % SB_BLOCK_BYTES == 0);
    if (wal->dsync_refused || cycle->new_generation || store->config.wal_dsync_bytes_max < 0 ||
        bytes > (uint64_t)store->config.wal_dsync_bytes_max ||
        bytes > SB_WAL_CYCLE_CHUNK_BYTES ||
        cycle->start % wal->ring_bytes + bytes > wal->ring_bytes) {
        return false;
    }
    /* Bounded by SB_WAL_CYCLES_IN_FLIGHT_MAX. */
    for (uint32_t earlier = 0; earlier < rank; earlier++) {
        const struct wal_flight *other = wal_flight_at(wal, earlier);
        if (other->fd == fd && other->phase != WAL_FLIGHT_DURABLE) {
            return false;
        }
    }
    return true;
}

/* Places the cycle and stamps its entry headers, once (a retry writes the same bytes to the
 * same place). A cycle issued while earlier ones are on disk says so (flag BEHIND) with the
 * oldest sequence not yet durable, so recovery never takes it as proof that they were.
 * Returns false if the next WAL file is still needed (a flush will free it). */
static bool
wal_cycle_prepare(struct sb_store *store, struct wal_cycle *cycle)
{
    struct wal *wal = &store->wal;
    if (cycle->placed) {
        return true;
    }
    if (!wal_place_cycle(store, cycle)) {
        return false;
    }
    struct wal_file *file = &wal->files[cycle->file_index];
    file->write_position = cycle->file_position + (cycle->end - cycle->start);
    /* Not free for reuse until a checkpoint covers the cycle (so not before it is durable). */
    file->last_sequence = cycle->last_sequence;
    file->has_entries = true;
    uint64_t unsynced = wal_cycle_at(wal, 0)->first_sequence;
    SB_ASSERT(unsynced <= cycle->first_sequence);
    wal_stamp_cycle(store, cycle, unsynced);
    return true;
}

/* Starts cycles while fewer than SB_WAL_CYCLES_IN_FLIGHT_MAX are on disk, in log order. */
static void
wal_cycles_start(struct sb_store *store)
{
    struct wal *wal = &store->wal;
    /* Bounded by SB_WAL_CYCLES_IN_FLIGHT_MAX. */
    while (!wal->failing && !wal->backing_off && wal->flying < SB_WAL_CYCLES_IN_FLIGHT_MAX &&
           wal->flying < wal->sealed_count) {
        struct wal_cycle *cycle = wal_cycle_at(wal, wal->flying);
        if (!wal_cycle_prepare(store, cycle)) {
            return; /* Waits for a flush to free the next file; flush_maybe_start is asked. */
        }
        struct wal_flight *flight = wal_flight_at(wal, wal->flying);
        store->stats.cycles_behind += wal->flying > 0 ? 1 : 0;
        store->stats.cycles_behind_dsync += wal->flying > 0 && wal_flight_at(wal, 0)->dsync &&
                                            wal_flight_at(wal, 0)->phase == WAL_FLIGHT_WRITING;
        wal->flying++;
        wal_cycle_writes(store, flight, cycle);
    }
}

static void wal_sync_done(struct sb_io_op *op);
static void wal_flights_settle(struct sb_store *store);

static void
wal_retry_fire(struct sb_timer *timer)
{
    struct sb_store *store = timer->context;
    struct wal *wal = &store->wal;
    SB_ASSERT(wal->backing_off && wal->flying == 0);
    wal->backing_off = false;
    store->stats.cycle_retries++;
    wal_cycles_start(store);
}

/* A write or fdatasync of a cycle failed: nothing in or after it is acknowledged. */
static void
wal_flight_failed(struct sb_store *store, struct wal_flight *flight, const char *step,
                  int error)
{
    struct wal *wal = &store->wal;
    SB_ASSERT(error < 0);
    const struct wal_cycle *cycle = wal_cycle_at(wal, wal_flight_rank(wal, flight));
    sb_log_warn("WAL cycle failed; retrying", "step=%s error=\"%s\" file=%u position=%llu "
                "first_sequence=%llu retry_ms=%llu", step, sb_strerror(error),
                cycle->file_index, (unsigned long long)cycle->file_position,
                (unsigned long long)cycle->first_sequence,
                (unsigned long long)(wal->retry_delay_ns / SB_NS_PER_MS));
    flight->phase = WAL_FLIGHT_FAILED;
    wal->failing = true;
    for (uint32_t k = 0; k < wal->flying; k++) {
        struct wal_flight *waiting = wal_flight_at(wal, k);
        if (waiting->phase == WAL_FLIGHT_WRITTEN) {
            waiting->phase = WAL_FLIGHT_FAILED; /* Never synced now: redone after the back-off. */
        }
    }
}

/* Once nothing is in flight after a failure: every cycle from the oldest not durable on is
 * written and synced again, the same bytes at the same place, after a back-off that doubles
 * up to a second. (A later cycle's own fdatasync may have succeeded; it is synced again all
 * the same, so no acknowledgement rests on an fdatasync that raced a failure.) */
static void
wal_back_off(struct sb_store *store)
{
    struct wal *wal = &store->wal;
    SB_ASSERT(wal->failing && !wal->backing_off);
    for (uint32_t k = 0; k < wal->flying; k++) {
        store->stats.cycles_redone += wal_flight_at(wal, k)->phase == WAL_FLIGHT_DURABLE ? 1 : 0;
    }
    wal->failing = false;
    wal->backing_off = true;
    wal->flying = 0;
    wal->flights_first = 0;
    int armed = sb_timer_arm(store->timers, &wal->retry_timer,
                             sb_io_now_ns(store->io) + wal->retry_delay_ns, wal_retry_fire,
                             store);
    if (armed < 0) {
        store_fail(store, "cannot arm the WAL retry timer", armed);
    }
    wal->retry_delay_ns = sb_min_u64(wal->retry_delay_ns * 2, SB_STORE_RETRY_MAX_NS);
}

/* Issues the fdatasync of every WRITTEN cycle that no earlier cycle of the same file is still
 * ahead of (writing, waiting, or syncing). Issued only once a cycle's writes completed: an
 * fdatasync covers the writes completed before it was issued. */
static void
wal_syncs_start(struct sb_store *store)
{
    struct wal *wal = &store->wal;
    /* Bounded by SB_WAL_CYCLES_IN_FLIGHT_MAX squared. */
    for (uint32_t k = 0; k < wal->flying; k++) {
        struct wal_flight *flight = wal_flight_at(wal, k);
        if (flight->phase != WAL_FLIGHT_WRITTEN) {
            continue;
        }
        bool ahead = false;
        for (uint32_t earlier = 0; earlier < k; earlier++) {
            const struct wal_flight *other = wal_flight_at(wal, earlier);
            ahead = ahead || (other->fd == flight->fd && (other->phase == WAL_FLIGHT_WRITING ||
                                                          other->phase == WAL_FLIGHT_WRITTEN ||
                                                          other->phase == WAL_FLIGHT_SYNCING));
        }
        if (!ahead) {
            flight->phase = WAL_FLIGHT_SYNCING;
            sb_io_fsync(store->io, &flight->sync, flight->fd, true, wal_sync_done, flight);
        }
    }
}

static void
wal_write_done(struct sb_io_op *op)
{
    struct wal_flight *flight = op->context;
    struct sb_store *store = flight->store;
    if ((op->result < 0 || (uint32_t)op->result != op->length) && flight->error == 0) {
        flight->error = op->result < 0 ? op->result : -EIO;
    }
    SB_ASSERT(flight->phase == WAL_FLIGHT_WRITING || flight->phase == WAL_FLIGHT_FAILED);
    SB_ASSERT(flight->writes_pending > 0);
    if (--flight->writes_pending != 0) {
        return;
    }
    if (flight->error != 0) {
        if (flight->dsync && (flight->error == -EINVAL || flight->error == -EOPNOTSUPP)) {
            /* The file system refuses RWF_DSYNC here: the retry and later cycles use
             * write + fdatasync. */
            store->wal.dsync_refused = true;
        }
        wal_flight_failed(store, flight, flight->dsync ? "dsync write" : "write", flight->error);
    } else if (store->wal.failing) {
        flight->phase = WAL_FLIGHT_FAILED; /* An earlier cycle failed: this one is redone. */
    } else if (flight->dsync) {
        flight->phase = WAL_FLIGHT_DURABLE; /* Its write was its sync. */
        store->stats.cycles_held += flight != wal_flight_at(&store->wal, 0) ? 1 : 0;
        wal_syncs_start(store); /* A later cycle of the same file may wait for this one. */
    } else {
        flight->phase = WAL_FLIGHT_WRITTEN;
        wal_syncs_start(store);
        store->stats.cycle_syncs_waited += flight->phase == WAL_FLIGHT_WRITTEN ? 1 : 0;
        return;
    }
    wal_flights_settle(store);
}

static void
wal_sync_done(struct sb_io_op *op)
{
    struct wal_flight *flight = op->context;
    struct sb_store *store = flight->store;
    SB_ASSERT(flight->phase == WAL_FLIGHT_SYNCING);
    if (op->result < 0) {
        wal_flight_failed(store, flight, "fdatasync", op->result);
    } else {
        flight->phase = WAL_FLIGHT_DURABLE;
        /* Durable before an earlier cycle (in another file): held until that one is. */
        store->stats.cycles_held += flight != wal_flight_at(&store->wal, 0) ? 1 : 0;
        wal_syncs_start(store); /* A later cycle of the same file may wait for this one. */
    }
    wal_flights_settle(store);
}

/* Makes the oldest cycle on disk committed. */
static void
wal_cycle_retire(struct sb_store *store)
{
    struct wal *wal = &store->wal;
    struct wal_cycle *cycle = wal_cycle_at(wal, 0);
    SB_ASSERT(wal_flight_at(wal, 0)->phase == WAL_FLIGHT_DURABLE);
    SB_ASSERT(cycle->start == wal->committed && cycle->placed);
    wal->committed = cycle->end;
    wal->sealed_first = (wal->sealed_first + 1) % SB_STORE_SEALED_CYCLES_MAX;
    wal->sealed_count--;
    wal->flights_first = (wal->flights_first + 1) % SB_WAL_CYCLES_IN_FLIGHT_MAX;
    wal->flying--;
    wal->retry_delay_ns = SB_STORE_RETRY_MIN_NS;
    store->stats.cycles++;
    store->stats.cycle_bytes += (cycle->end - cycle->start);
}

/* After a flight changed phase: commits the durable cycles at the front, in log order (a
 * later cycle durable first waits here for the earlier ones), then either backs off (after
 * a failure, once nothing is in flight) or starts the next cycles. */
static void
wal_flights_settle(struct sb_store *store)
{
    struct wal *wal = &store->wal;
    uint64_t committed = wal->committed;
    /* Bounded by SB_WAL_CYCLES_IN_FLIGHT_MAX. */
    while (wal->flying > 0 && wal_flight_at(wal, 0)->phase == WAL_FLIGHT_DURABLE) {
        wal_cycle_retire(store);
    }
    if (wal->committed != committed) {
        wal_advance_durable(store);
    }
    if (wal->failing) {
        if (!wal_landing(store)) {
            wal_back_off(store);
        }
        return;
    }
    wal_cycles_start(store);
}

/* The commit delay has passed: nothing to do here, the loop's iteration_end seals. */
static void
wal_delay_fire(struct sb_timer *timer)
{
    (void)timer;
}

void
wal_iteration_end(struct sb_store *store)
{
    struct wal *wal = &store->wal;
    if (store->failed) {
        return;
    }
    /* Group commit: while SB_WAL_CYCLES_IN_FLIGHT_MAX cycles are on disk, appends keep
     * growing the open cycle, which is sealed when the disk can take it. Sealing whenever
     * there is data would queue one small cycle per loop iteration, each a padded 4 KiB
     * write plus an fdatasync of its own, so a steady acks=1 stream would fall further and
     * further behind its durable point. */
    bool disk_free = !wal->failing && !wal->backing_off &&
                     wal->sealed_count < SB_WAL_CYCLES_IN_FLIGHT_MAX;
    if (wal->head != wal->sealed) {
        uint64_t now_ns = sb_io_now_ns(store->io);
        uint64_t due_ns = wal->open_cycle_since_ns + store->config.commit_delay_ns;
        bool delay_over = store->config.commit_delay_ns == 0 || now_ns >= due_ns;
        if ((delay_over && disk_free) || store->shutting_down ||
            wal->head - wal->sealed >= store->config.cycle_bytes_max / 2) {
            if (wal->sealed_count < SB_STORE_SEALED_CYCLES_MAX) {
                wal_seal(store);
            }
        } else if (!delay_over && !sb_timer_is_armed(&wal->delay_timer)) {
            sb_timer_arm(store->timers, &wal->delay_timer, due_ns, wal_delay_fire, store);
        }
    }
    wal_cycles_start(store);
    if (wal->appends_head != NULL && wal->appends_head->ring_end <= wal->committed) {
        /* Appends registered on data already durable (a producer's retried batch). */
        wal_advance_durable(store);
    }
}

bool
wal_idle(const struct sb_store *store)
{
    const struct wal *wal = &store->wal;
    return wal->flying == 0 && !wal->backing_off && wal->sealed_count == 0 &&
           wal->head == wal->sealed;
}

/* True while a write or fdatasync of a cycle is in flight. */
bool
wal_landing(const struct sb_store *store)
{
    const struct wal *wal = &store->wal;
    for (uint32_t k = 0; k < wal->flying; k++) {
        enum wal_flight_phase phase = wal->flights[wal_flight_index(wal, k)].phase;
        if (phase == WAL_FLIGHT_WRITING || phase == WAL_FLIGHT_WRITTEN ||
            phase == WAL_FLIGHT_SYNCING) {
            return true;
        }
    }
    return false;
}

/* A flush is due when the ring is half full, or as soon as the WAL writes in its last free
 * file (the next one still holds unflushed batches): the round then has a whole file of
 * appends to finish in before appends must wait for it. */
bool
wal_needs_flush(const struct sb_store *store)
{
    const struct wal *wal = &store->wal;
    if (wal->committed == wal->tail) {
        return false;
    }
    if (wal->head - wal->tail >= wal->ring_bytes / 2 ||
        wal->fifo_count >= wal->fifo_capacity / 2) {
        return true;
    }
    uint32_t next = (wal->current_file + 1) % store->config.wal_file_count;
    return !wal_file_free(store, &wal->files[next]);
}

void
wal_release_flushed(struct sb_store *store, uint64_t ring_end, uint32_t fifo_end_count)
{
    struct wal *wal = &store->wal;
    SB_ASSERT(ring_end <= wal->committed);
    SB_ASSERT(fifo_end_count <= wal->fifo_durable);
    for (uint32_t released = 0; released < fifo_end_count; released++) {
        struct memtable_entry *entry = &wal->fifo[wal->fifo_head];
        if (entry->partition_slot != SB_STORE_NONE) {
            struct sb_partition *partition = store_partition_slot(store, entry->partition_slot);
            SB_ASSERT(partition->memtable_first == wal->fifo_head);
            partition->memtable_first = entry->next;
            if (partition->read_hint == wal->fifo_head) {
                /* The entry is freed: its chain may end here while later batches start a
                 * new one, so a read must not start from it. */
                partition->read_hint = SB_STORE_NONE;
            }
            if (entry->next == SB_STORE_NONE) {
                partition->memtable_last = SB_STORE_NONE;
            }
            partition->memtable_count--;
            store_partition_release_if_unused(partition);
        }
        wal->fifo_head = wal_fifo_index_after(store, wal->fifo_head);
        wal->fifo_count--;
        wal->fifo_durable--;
    }
    wal->tail = ring_end;
}
