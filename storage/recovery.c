/*
 * storage/recovery.c - opening a store: what survived, what was torn, what
 * is corrupt. Runs once in sb_store_open, before the shard serves; its I/O
 * is synchronous (store_sync_*), which is allowed only at start-up.
 *
 *  1. MANIFEST: the checkpoint and each partition's durable state. Missing:
 *     a new store. Corrupt: refuse to start (it is written by rename, so a
 *     torn one cannot happen).
 *  2. Segments of each manifest partition: closed ones checked through their
 *     footer (or rescanned if the footer is bad), the open one scanned up to
 *     its recorded data end and cut there; files newer than the manifest are
 *     deleted (the WAL still has their batches). Corruption inside recorded
 *     data fences the partition at the first offset lost.
 *  3. WAL: files ordered by generation, entries replayed from the checkpoint
 *     while magic, CRC, generation and dense sequence hold. The first entry
 *     that fails ends the log if nothing durable follows it (a torn tail;
 *     cycles after it that were on disk at the same time, flag BEHIND, are
 *     dropped with it); if a later commit cycle proves it durable, that is
 *     corruption of acknowledged data: it is reported with file and
 *     position, and replay resumes after it, fencing any partition left with
 *     a gap.
 *     Each file is read ahead (RECOVERY_READS_MAX reads of 2 MiB in flight,
 *     replayed in file order: struct recovery_stream); a read that fails
 *     where replay needs it refuses the start, never cuts the log there.
 *  4. Everything replayed is flushed to segments and checkpointed, so the
 *     WAL restarts empty in a new generation. Flush rounds also start every
 *     RECOVERY_FLUSH_KICK_BYTES (or an eighth of the memtable) during replay,
 *     so writing segments overlaps reading the WAL (a checkpoint mid-replay
 *     covers only replayed entries, as when the memtable fills).
 */
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/assert.h"
#include "core/clock.h"
#include "core/endian.h"
#include "core/error.h"
#include "core/limits.h"
#include "core/log.h"
#include "proto/batch.h"
#include "storage/store_private.h"

/* Segments per partition that recovery can list at once. */
#define RECOVERY_SEGMENTS_MAX 65536u
/* Failed flush rounds recovery retries before it gives up opening the store. */
#define RECOVERY_FLUSH_ATTEMPTS 5u
/* Bytes of WAL read per step while replaying, and per read of the replay's read-ahead. */
#define RECOVERY_READ_BYTES (2u << 20)
/* WAL reads in flight while replaying a file (ordered read-ahead). */
#define RECOVERY_READS_MAX 4u
/* Replayed payload bytes after which a flush round starts while replay goes on. */
#define RECOVERY_FLUSH_KICK_BYTES (64ull << 20)

static void
recovery_fence(struct sb_partition *partition, int64_t offset, const char *why)
{
    partition->store->stats.recovery_corruptions++;
    if (!partition->fenced || offset < partition->fenced_offset) {
        partition->fenced = true;
        partition->fenced_offset = offset;
    }
    sb_log_error("partition fenced: stored data is corrupt or missing", "topic=%u partition=%u "
                 "fenced_offset=%" PRId64 " why=\"%s\"", partition->topic_id,
                 partition->partition, offset, why);
}

static int
recovery_lookup(struct sb_store *store, uint32_t topic_id, uint32_t partition,
                struct sb_partition_config *config)
{
    sb_partition_config_default(config);
    if (store->config.lookup == NULL) {
        return 0;
    }
    return store->config.lookup(store->config.lookup_context, topic_id, partition, config);
}

/* Removes a partition directory and every file in it (a deleted topic, or stale files). */
static void
recovery_remove_dir(struct sb_store *store, uint32_t topic_id, uint32_t partition,
                    bool keep_directory)
{
    char path[320];
    partition_dir_path(store, topic_id, partition, path, sizeof(path));
    DIR *directory = opendir(path);
    if (directory == NULL) {
        return;
    }
    struct dirent *item;
    /* Bounded by the directory's entries. */
    while ((item = readdir(directory)) != NULL) {
        if (item->d_name[0] == '.') {
            continue;
        }
        char file[600];
        snprintf(file, sizeof(file), "%s/%s", path, item->d_name);
        unlink(file);
    }
    closedir(directory);
    if (!keep_directory) {
        rmdir(path);
    }
}

static int
compare_offsets(const void *a, const void *b)
{
    int64_t left = *(const int64_t *)a;
    int64_t right = *(const int64_t *)b;
    return left < right ? -1 : left > right;
}

/* Lists the base offsets of a partition's segment files, sorted, and deletes any compaction
 * copy a crash left before its rename (<base>.seg.compact: the original is intact). Returns
 * the count or -errno. */
static int
recovery_list_segments(struct sb_store *store, const struct sb_partition *partition,
                       int64_t *offsets, uint32_t capacity)
{
    char path[320];
    partition_dir_path(store, partition->topic_id, partition->partition, path, sizeof(path));
    DIR *directory = opendir(path);
    if (directory == NULL) {
        return errno == ENOENT ? 0 : -errno;
    }
    uint32_t count = 0;
    struct dirent *item;
    while ((item = readdir(directory)) != NULL && count < capacity) {
        char *end = NULL;
        long long value = strtoll(item->d_name, &end, 10);
        if (end == item->d_name + 20 && strcmp(end, ".seg") == 0 && value >= 0) {
            offsets[count++] = value;
        } else if (end == item->d_name + 20 && strcmp(end, ".seg.compact") == 0) {
            char file[600];
            snprintf(file, sizeof(file), "%s/%s", path, item->d_name);
            unlink(file);
        }
    }
    closedir(directory);
    qsort(offsets, count, sizeof(int64_t), compare_offsets);
    return (int)count;
}

/* One read of the replay's read-ahead. Its buffer has `headroom_bytes` in front of the chunk,
 * where the unreplayed end of the previous chunk is copied (an entry straddling the two). */
struct recovery_read {
    struct sb_io_op op; /* The read (its offset, length and result describe the chunk). */
    uint8_t *buffer;    /* headroom_bytes + RECOVERY_READ_BYTES, aligned (owned). */
    bool busy;          /* Issued, not completed. */
};

/* Ordered read-ahead over one WAL file: chunk k (at base + k * RECOVERY_READ_BYTES) is read into
 * reads[k % RECOVERY_READS_MAX]; up to RECOVERY_READS_MAX are in flight and they are replayed
 * in file order through the window. A failed read is an error once replay reaches it; one
 * that comes back short ends the file there (as a file shorter than its header says). */
struct recovery_stream {
    struct recovery_read reads[RECOVERY_READS_MAX]; /* The reads. */
    uint32_t headroom_bytes;  /* The longest entry today's batch_bytes_max writes, + 1 block. */
    const struct recovery_file *file; /* The file being replayed (borrowed). */
    uint64_t base;            /* File position of chunk 0 (a block boundary). */
    uint64_t next;            /* The chunk the window moves to next. */
    uint64_t issued;          /* Chunks issued. */
    bool ended;               /* A chunk came back short: nothing after it is read. */
    bool window_in_stream;    /* The window is in reads[(next - 1) % MAX], else in
                                 recovery->buffer (a whole long entry) or empty. */
    const uint8_t *window;    /* The bytes of the file from window_start (borrowed), */
    uint64_t window_start;    /*   up to window_end. */
    uint64_t window_end;
    uint64_t replayed_bytes;  /* Payload replayed since a flush round last started. */
};

struct recovery {
    struct sb_store *store;   /* The store being opened. */
    struct recovery_stream stream; /* WAL read-ahead while replaying. */
    uint8_t *buffer;          /* Read buffer (owned). */
    uint32_t buffer_bytes;    /* Its size. */
    uint64_t next_sequence;   /* Expected sequence of the next WAL entry. */
    uint64_t checkpoint;      /* From the manifest. */
    bool corruption_found;    /* Some durable data was corrupt (reported). */
    int64_t file_written_ms;  /* Last write of the file being scanned or replayed (wall
                                 clock): no batch in it was appended later. */
};

/* Makes the read buffer hold `bytes`: data on disk may be larger than today's settings size it
 * for (a batch or footer written under a higher batch_bytes_max), never larger than the format
 * limit. Its contents are lost. Returns 0, -EMSGSIZE beyond the limit, or -ENOMEM. */
static int
recovery_buffer_reserve(struct recovery *recovery, uint64_t bytes)
{
    if (bytes <= recovery->buffer_bytes) {
        return 0;
    }
    if (bytes > SB_STORE_BATCH_BYTES_MAX + 2ull * SB_BLOCK_BYTES) {
        return -EMSGSIZE;
    }
    uint64_t buffer_bytes = sb_align_up(bytes, SB_BLOCK_BYTES);
    uint8_t *buffer = sb_alloc_aligned_replace(recovery->buffer, buffer_bytes, SB_BLOCK_BYTES);
    if (buffer == NULL) {
        return -ENOMEM;
    }
    recovery->buffer = buffer;
    recovery->buffer_bytes = (uint32_t)buffer_bytes;
    return 0;
}

/* Notes when the file was last written, for the age of the producers found in it. */
static void
recovery_note_file_time(struct recovery *recovery, int fd)
{
    struct stat status;
    recovery->file_written_ms = fstat(fd, &status) == 0
                                    ? (int64_t)status.st_mtim.tv_sec * 1000ll +
                                          status.st_mtim.tv_nsec / 1000000ll
                                    : (int64_t)(sb_clock_realtime_ns() / SB_NS_PER_MS);
}

/* Scans batches of a segment from block 1 up to `limit` and notes each valid one (and its
 * producer, for the open segment: closed ones are older than its snapshot). Returns the
 * position after the last valid, contiguous batch. */
static uint64_t
recovery_scan_segment(struct recovery *recovery, struct segment *segment, uint64_t limit,
                      bool note_producers)
{
    struct sb_store *store = recovery->store;
    uint64_t position = SB_BLOCK_BYTES;
    segment->data_end = SB_BLOCK_BYTES;
    uint64_t chunk_start = 0;
    int chunk_bytes = 0;
    /* Bounded by `limit`: every pass moves position forward or stops. */
    while (position + SB_BATCH_HEADER_BYTES <= limit) {
        if (position < chunk_start || position + SB_BATCH_HEADER_BYTES >
                                          chunk_start + (uint64_t)chunk_bytes) {
            chunk_start = position / SB_BLOCK_BYTES * SB_BLOCK_BYTES;
            chunk_bytes = store_sync_read(store, segment->fd, recovery->buffer,
                                          recovery->buffer_bytes, chunk_start);
            if (chunk_bytes <= 0) {
                break;
            }
        }
        const uint8_t *bytes = recovery->buffer + (position - chunk_start);
        uint64_t available = chunk_start + (uint64_t)chunk_bytes - position;
        struct sb_batch_header header;
        if (sb_batch_header_decode(bytes, available, SB_STORE_BATCH_BYTES_MAX, &header) != 0 ||
            position + header.batch_bytes > limit ||
            header.base_offset <= segment->last_offset) {
            break;
        }
        if (header.batch_bytes > available) {
            uint64_t needed = position % SB_BLOCK_BYTES + header.batch_bytes;
            if (chunk_start == position / SB_BLOCK_BYTES * SB_BLOCK_BYTES &&
                needed <= recovery->buffer_bytes) {
                break; /* Read from its own block and still short: the file ends inside it. */
            }
            if (recovery_buffer_reserve(recovery, needed) != 0) {
                break;
            }
            chunk_bytes = 0; /* Re-read from this batch's block. */
            continue;
        }
        if (sb_batch_verify(bytes, header.batch_bytes, UINT32_MAX, &header) != 0) {
            break;
        }
        segment_note_batch(segment, bytes, position);
        if (note_producers) {
            producer_note_recovered(segment->partition, &header, true,
                                    recovery->file_written_ms);
        }
        position += header.batch_bytes;
    }
    return position;
}

/* Reads and checks a closed segment's trailer and footer and loads its index. */
static int
recovery_load_footer(struct recovery *recovery, struct segment *segment)
{
    struct sb_store *store = recovery->store;
    struct stat status;
    if (fstat(segment->fd, &status) != 0 || status.st_size < 2 * (off_t)SB_BLOCK_BYTES ||
        status.st_size % SB_BLOCK_BYTES != 0) {
        return SB_ECORRUPT;
    }
    uint64_t file_bytes = (uint64_t)status.st_size;
    if (store_sync_read(store, segment->fd, recovery->buffer, SB_BLOCK_BYTES,
                        file_bytes - SB_BLOCK_BYTES) != (int)SB_BLOCK_BYTES) {
        return SB_ECORRUPT;
    }
    struct sb_segment_trailer trailer;
    if (sb_segment_trailer_decode(recovery->buffer + SB_BLOCK_BYTES - SB_TRAILER_BYTES,
                                  &trailer) != 0 ||
        trailer.footer_position + trailer.footer_bytes != file_bytes ||
        recovery_buffer_reserve(recovery, trailer.footer_bytes) != 0) {
        return SB_ECORRUPT;
    }
    int read = store_sync_read(store, segment->fd, recovery->buffer, trailer.footer_bytes,
                               trailer.footer_position);
    struct sb_segment_footer footer;
    if (read != (int)trailer.footer_bytes ||
        sb_segment_footer_decode(recovery->buffer, trailer.footer_bytes, &footer) != 0 ||
        sb_align_up(footer.data_end, SB_BLOCK_BYTES) != trailer.footer_position ||
        footer.first_offset < segment->base_offset) {
        return SB_ECORRUPT;
    }
    for (uint32_t index = 0; index < footer.index_count; index++) {
        struct sb_index_entry entry;
        sb_index_entry_decode(recovery->buffer + SB_FOOTER_HEADER_BYTES +
                                  (uint64_t)index * SB_INDEX_ENTRY_BYTES, &entry);
        segment_index_note(segment, entry.base_offset, entry.position, entry.max_timestamp_ms);
    }
    segment->data_end = segment->durable_data_end = footer.data_end;
    segment->last_offset = footer.last_offset;
    segment->record_count = footer.record_count;
    segment->batch_count = footer.batch_count;
    segment->min_timestamp_ms = footer.min_timestamp_ms;
    segment->max_timestamp_ms = footer.max_timestamp_ms;
    segment->last_write_ns = (int64_t)status.st_mtim.tv_sec * 1000000000ll +
                             status.st_mtim.tv_nsec;
    segment->partition->segment_bytes_total += footer.data_end - SB_BLOCK_BYTES;
    return 0;
}

static bool
recovery_header_matches(struct recovery *recovery, struct segment *segment)
{
    if (store_sync_read(recovery->store, segment->fd, recovery->buffer, SB_BLOCK_BYTES, 0) !=
        (int)SB_BLOCK_BYTES) {
        return false;
    }
    struct sb_segment_header header;
    return sb_segment_header_decode(recovery->buffer, &header) == 0 &&
           header.topic_id == segment->partition->topic_id &&
           header.partition == segment->partition->partition &&
           header.base_offset == segment->base_offset;
}

/* A closed segment: trust a valid footer; otherwise rescan its data and keep what is valid. */
static void
recovery_closed_segment(struct recovery *recovery, struct segment *segment, int64_t next_base)
{
    if (recovery_header_matches(recovery, segment) &&
        recovery_load_footer(recovery, segment) == 0 && segment->last_offset < next_base) {
        return;
    }
    char path[384];
    segment_path(segment->partition, segment->base_offset, path, sizeof(path));
    sb_log_error("segment footer or header is corrupt; rescanning", "path=%s", path);
    recovery->corruption_found = true;
    recovery->store->stats.recovery_corruptions++;
    struct stat status;
    uint64_t limit = fstat(segment->fd, &status) == 0 ? (uint64_t)status.st_size : 0;
    recovery_scan_segment(recovery, segment, limit, false);
    segment->durable_data_end = segment->data_end;
    segment->closed = true;
    if (segment->last_offset + 1 < next_base) {
        recovery_fence(segment->partition, segment->last_offset + 1,
                       "closed segment lost batches");
    }
}

/* The open segment: every byte up to the recorded data end must be valid batches. */
static int
recovery_open_segment(struct recovery *recovery, struct segment *segment, uint64_t data_end,
                      int64_t next_offset)
{
    struct sb_partition *partition = segment->partition;
    char path[384];
    segment_path(partition, segment->base_offset, path, sizeof(path));
    bool header_ok = data_end <= SB_BLOCK_BYTES || recovery_header_matches(recovery, segment);
    if (header_ok && data_end > SB_BLOCK_BYTES &&
        producer_snapshot_load(partition, recovery->buffer + SB_SEGMENT_HEADER_BYTES) != 0) {
        /* The data is intact; producers left out are refused as unknown, not duplicated. */
        sb_log_error("producer snapshot is corrupt; its producers must start again",
                     "path=%s", path);
        recovery->store->stats.recovery_corruptions++;
    }
    recovery_note_file_time(recovery, segment->fd);
    uint64_t end = header_ok ? recovery_scan_segment(recovery, segment, data_end, true)
                             : SB_BLOCK_BYTES;
    if (end < data_end || segment->last_offset + 1 < next_offset) {
        sb_log_error("corrupt data in open segment", "path=%s position=%llu "
                     "recorded_end=%llu", path, (unsigned long long)end,
                     (unsigned long long)data_end);
        recovery->corruption_found = true;
        recovery_fence(partition, segment->last_offset + 1, "open segment corrupt");
    }
    segment->durable_data_end = segment->data_end;
    segment->header_pending = !header_ok || data_end <= SB_BLOCK_BYTES;
    /* Cut what a flush wrote after the manifest: the WAL replays it. */
    if (ftruncate(segment->fd, (off_t)sb_align_up(segment->data_end, SB_BLOCK_BYTES)) != 0) {
        return -errno;
    }
    return 0;
}

/* Opens every segment of a manifest partition; deletes files the manifest does not cover. */
static int
recovery_partition_segments(struct recovery *recovery, struct sb_partition *partition,
                            const struct sb_manifest_partition *record)
{
    struct sb_store *store = recovery->store;
    int64_t *offsets = sb_alloc(RECOVERY_SEGMENTS_MAX * sizeof(int64_t));
    if (offsets == NULL) {
        return -ENOMEM;
    }
    int count = recovery_list_segments(store, partition, offsets, RECOVERY_SEGMENTS_MAX);
    bool open_found = false;
    int result = count < 0 ? count : 0;
    for (int index = 0; result == 0 && index < count; index++) {
        int64_t base = offsets[index];
        bool is_open = base == record->open_segment_base && record->open_segment_data_end != 0;
        bool stale = base > record->open_segment_base ||
                     (index + 1 < count && offsets[index + 1] <= record->log_start_offset);
        if (stale) {
            char path[384];
            segment_path(partition, base, path, sizeof(path));
            unlink(path);
            continue;
        }
        struct segment *segment;
        result = segment_open_existing(partition, base, !is_open, SB_BLOCK_BYTES, &segment);
        if (result != 0) {
            break;
        }
        if (is_open) {
            open_found = true;
            result = recovery_open_segment(recovery, segment, record->open_segment_data_end,
                                           record->next_offset);
        } else {
            int64_t next_base = index + 1 < count ? offsets[index + 1] : record->next_offset;
            recovery_closed_segment(recovery, segment, next_base);
            open_found = open_found || base == record->open_segment_base;
        }
    }
    sb_free(offsets);
    /* Retention deletes whole segments before the next manifest records the new log start:
     * the first segment left is where the log starts now. */
    if (partition->oldest != NULL && partition->oldest->base_offset > partition->log_start_offset) {
        partition->log_start_offset = partition->oldest->base_offset;
    }
    if (result == 0 && !open_found && record->next_offset > record->log_start_offset) {
        recovery->corruption_found = true;
        recovery_fence(partition, record->open_segment_base, "open segment file is missing");
    }
    return result;
}

static int
recovery_manifest_partition(struct recovery *recovery, const uint8_t *bytes)
{
    struct sb_store *store = recovery->store;
    struct sb_manifest_partition record;
    sb_manifest_partition_decode(bytes, &record);
    if (record.log_start_offset < 0 || record.next_offset < record.log_start_offset ||
        record.open_segment_base < 0) {
        sb_log_error("manifest record is inconsistent", "topic=%u partition=%u",
                     record.topic_id, record.partition);
        return SB_ECORRUPT;
    }
    struct sb_partition_config config;
    if (recovery_lookup(store, record.topic_id, record.partition, &config) == -ENOENT) {
        recovery_remove_dir(store, record.topic_id, record.partition, false);
        return 0;
    }
    struct sb_partition *partition = store_partition_add(store, record.topic_id,
                                                         record.partition, &config);
    if (partition == NULL) {
        return -ENOSPC;
    }
    partition->log_start_offset = record.log_start_offset;
    partition->next_offset = partition->high_watermark = record.next_offset;
    partition->durable_offset = record.next_offset;
    partition->flushed_offset = record.next_offset;
    if ((record.flags & SB_MANIFEST_FLAG_FENCED) != 0) {
        partition->fenced = true;
        partition->fenced_offset = record.fenced_offset;
    }
    return recovery_partition_segments(recovery, partition, &record);
}

/* Loads MANIFEST: the checkpoint and every partition it records. */
static int
recovery_manifest(struct recovery *recovery)
{
    struct sb_store *store = recovery->store;
    char path[320];
    snprintf(path, sizeof(path), "%s/MANIFEST.tmp", store->shard_dir);
    unlink(path); /* A temp file left by a crash was never renamed: it means nothing. */
    snprintf(path, sizeof(path), "%s/MANIFEST", store->shard_dir);
    int fd = sb_io_open(store->io, path, O_RDONLY, 0);
    if (fd == -ENOENT) {
        return 0;
    }
    if (fd < 0) {
        return fd;
    }
    struct stat status;
    int result = fstat(fd, &status) == 0 ? 0 : -errno;
    uint64_t file_bytes = result == 0 ? (uint64_t)status.st_size : 0;
    if (result == 0 && (file_bytes < SB_MANIFEST_HEADER_BYTES ||
                        file_bytes > store->manifest_capacity)) {
        result = SB_ECORRUPT;
    }
    if (result == 0) {
        int read = store_sync_read(store, fd, store->manifest_buffer, (uint32_t)file_bytes, 0);
        result = read == (int)file_bytes ? 0 : (read < 0 ? read : SB_ECORRUPT);
    }
    sb_io_close(store->io, fd);
    struct sb_manifest_header header;
    if (result == 0 && (sb_manifest_verify(store->manifest_buffer, file_bytes) != 0 ||
                        sb_manifest_header_decode(store->manifest_buffer, &header) != 0 ||
                        header.file_bytes != file_bytes)) {
        result = SB_ECORRUPT;
    }
    if (result != 0) {
        sb_log_error("MANIFEST is unreadable; refusing to start", "path=%s error=\"%s\"",
                     path, sb_strerror(result));
        return result;
    }
    recovery->checkpoint = header.checkpoint_sequence;
    for (uint32_t index = 0; result == 0 && index < header.partition_count; index++) {
        result = recovery_manifest_partition(
            recovery, store->manifest_buffer + SB_MANIFEST_HEADER_BYTES +
                          (uint64_t)index * SB_MANIFEST_PARTITION_BYTES);
    }
    return result;
}

struct recovery_file {
    uint32_t index;              /* Which WAL file: wal-<index>.log. */
    int fd;                      /* Its descriptor (recovery's own beyond wal_files). */
    struct sb_wal_file_header header; /* Its valid header. */
};

static int
compare_generations(const void *a, const void *b)
{
    uint64_t left = ((const struct recovery_file *)a)->header.generation;
    uint64_t right = ((const struct recovery_file *)b)->header.generation;
    return left < right ? -1 : left > right;
}

/* The number <n> of a "wal-<n>.log" name (decimal, no leading zero), or -1. */
static int
recovery_wal_file_number(const char *name)
{
    char *end = NULL;
    if (strncmp(name, "wal-", 4) != 0 || name[4] < '0' || name[4] > '9' ||
        (name[4] == '0' && name[5] != '.')) {
        return -1;
    }
    unsigned long number = strtoul(name + 4, &end, 10);
    return strcmp(end, ".log") == 0 && number <= INT32_MAX ? (int)number : -1;
}

/* Every wal-<n>.log of the shard directory, whatever wal_files is today (a smaller setting must
 * not hide acknowledged entries): bit n of *present_out. A number at or above the hard limit
 * cannot be ours: refuse to start rather than ignore it. */
static int
recovery_wal_list(struct recovery *recovery, uint64_t *present_out)
{
    struct sb_store *store = recovery->store;
    static_assert(SB_STORE_WAL_FILES_MAX <= 64, "one bit per WAL file");
    DIR *directory = opendir(store->shard_dir);
    if (directory == NULL) {
        return -errno;
    }
    uint64_t present = 0;
    int result = 0;
    struct dirent *item;
    /* Bounded by the directory's entries. */
    while ((item = readdir(directory)) != NULL) {
        int number = recovery_wal_file_number(item->d_name);
        if (number >= (int)SB_STORE_WAL_FILES_MAX) {
            sb_log_error("unexpected WAL file; refusing to start", "dir=%s file=%s",
                         store->shard_dir, item->d_name);
            result = SB_ECORRUPT;
        } else if (number >= 0) {
            present |= 1ull << number;
        }
    }
    closedir(directory);
    *present_out = present;
    return result;
}

/* The descriptor of WAL file `index`: the store's for the configured files, else opened here
 * (closed by recovery_wal_close). */
static int
recovery_wal_open(struct recovery *recovery, uint32_t index)
{
    struct sb_store *store = recovery->store;
    if (index < store->config.wal_file_count) {
        return store->wal.files[index].fd;
    }
    char path[320];
    snprintf(path, sizeof(path), "%s/wal-%u.log", store->shard_dir, index);
    return sb_io_open(store->io, path, O_RDONLY | O_DIRECT, 0);
}

static void
recovery_wal_close(struct recovery *recovery, const struct recovery_file *files, uint32_t count)
{
    for (uint32_t index = 0; index < count; index++) {
        if (files[index].index >= recovery->store->config.wal_file_count) {
            sb_io_close(recovery->store->io, files[index].fd);
        }
    }
}

/* Reads the header of every WAL file there is, of any size (a changed wal_file_bytes must not
 * hide acknowledged entries); returns how many are valid, sorted by generation, in *count_out.
 * Later generations must be newer than every one seen, even in files about to go. */
static int
recovery_wal_files(struct recovery *recovery, struct recovery_file *files, uint32_t *count_out)
{
    struct sb_store *store = recovery->store;
    uint64_t present = 0;
    int result = recovery_wal_list(recovery, &present);
    uint32_t count = 0;
    for (uint32_t index = 0; result == 0 && index < SB_STORE_WAL_FILES_MAX; index++) {
        int fd = (present >> index & 1) != 0 ? recovery_wal_open(recovery, index) : -1;
        if (fd < 0) {
            result = (present >> index & 1) != 0 ? fd : 0;
            continue;
        }
        struct sb_wal_file_header header;
        int read = store_sync_read(store, fd, recovery->buffer, SB_BLOCK_BYTES, 0);
        if (read < 0) {
            /* Skipping the file would drop its acknowledged entries. */
            sb_log_error("WAL header read failed; refusing to start", "file=wal-%u.log "
                         "error=\"%s\"", index, sb_strerror(read));
            result = read;
        }
        bool valid = read == (int)SB_BLOCK_BYTES &&
                     sb_wal_file_header_decode(recovery->buffer, &header) == 0 &&
                     header.shard_id == store->config.shard_id &&
                     header.file_bytes % SB_BLOCK_BYTES == 0 &&
                     header.file_bytes >= 2 * SB_BLOCK_BYTES;
        if (valid && index < store->config.wal_file_count) {
            store->wal.files[index].generation = header.generation;
            store->wal.files[index].first_sequence = header.first_sequence;
            store->wal.files[index].file_bytes = header.file_bytes;
        }
        if (valid) {
            store->wal.next_generation = sb_max_u64(store->wal.next_generation,
                                                    header.generation + 1);
            files[count++] = (struct recovery_file){.index = index, .fd = fd, .header = header};
        } else if (index >= store->config.wal_file_count) {
            sb_io_close(store->io, fd);
        }
    }
    qsort(files, count, sizeof(files[0]), compare_generations);
    *count_out = count;
    return result;
}

/* Finds (or creates) the partition a replayed batch belongs to; NULL if it was deleted. */
static struct sb_partition *
recovery_replay_partition(struct recovery *recovery, const struct sb_wal_entry_header *entry)
{
    struct sb_store *store = recovery->store;
    struct sb_partition *partition = sb_store_partition_find(store, entry->topic_id,
                                                             entry->partition);
    if (partition != NULL) {
        return partition;
    }
    struct sb_partition_config config;
    if (recovery_lookup(store, entry->topic_id, entry->partition, &config) == -ENOENT) {
        return NULL;
    }
    /* Not in the manifest: any segment files are from a flush that never committed. */
    recovery_remove_dir(store, entry->topic_id, entry->partition, true);
    struct sb_partition *created = NULL;
    if (sb_store_partition_open(store, entry->topic_id, entry->partition, &config,
                                &created) != 0) {
        return NULL;
    }
    created->log_start_offset = created->next_offset = entry->base_offset;
    created->flushed_offset = created->high_watermark = entry->base_offset;
    created->durable_offset = entry->base_offset;
    return created;
}

static int recovery_flush_all(struct recovery *recovery);
static int recovery_flush_wait(struct recovery *recovery, uint64_t failures);

/* Copies a replayed batch into the memtable, flushing first if it is full. The batch may be
 * larger than today's batch_bytes_max allows (written under a higher one): the flush writers
 * are made ready for it; only a memtable too small to hold it stops recovery. */
static int
recovery_replay_append(struct recovery *recovery, struct sb_partition *partition,
                       const uint8_t *batch, const struct wal_append_options *options)
{
    struct sb_store *store = recovery->store;
    int result = 0;
    if (options->batch_bytes > store->config.batch_bytes_max) {
        /* Longer than the flush writers are sized for: they grow, but not during a round (one
         * started while replaying). */
        result = recovery_flush_wait(recovery, store->stats.flush_failures);
        if (result == 0) {
            result = flush_staging_reserve(store, options->batch_bytes);
        }
    }
    if (result < 0) {
        return result;
    }
    uint64_t ring_position;
    result = wal_append_entry(store, partition, batch, options, &ring_position);
    if (result == -ENOBUFS) {
        result = recovery_flush_all(recovery);
        if (result == 0) {
            result = wal_append_entry(store, partition, batch, options, &ring_position);
        }
    }
    if (result == -ENOBUFS) {
        sb_log_error("a WAL entry does not fit the memtable; refusing to start (raise "
                     "memtable_bytes)", "batch_bytes=%u memtable_bytes=%llu",
                     options->batch_bytes, (unsigned long long)store->config.memtable_bytes);
    }
    return result;
}

/* Replays one valid BATCH entry (payload already verified) into its partition's memtable. */
static int
recovery_replay_batch(struct recovery *recovery, const struct sb_wal_entry_header *entry,
                      const uint8_t *batch)
{
    struct sb_partition *partition = recovery_replay_partition(recovery, entry);
    if (partition == NULL || (partition->fenced && entry->base_offset >=
                                                       partition->fenced_offset)) {
        return 0;
    }
    if (entry->base_offset < partition->next_offset) {
        return 0; /* Already in a segment. */
    }
    if (entry->base_offset > partition->next_offset) {
        recovery->corruption_found = true;
        recovery_fence(partition, partition->next_offset, "offsets missing from the WAL");
        return 0;
    }
    struct wal_append_options options = {
        .batch_bytes = entry->payload_bytes,
        .append_time_ms = -1,
        .durable_already = true,
        .sequence = entry->sequence,
    };
    int result = recovery_replay_append(recovery, partition, batch, &options);
    if (result == 0) {
        struct sb_batch_header header;
        int decoded = sb_batch_header_decode(batch, SB_BATCH_HEADER_BYTES, UINT32_MAX, &header);
        if (decoded == 0) {
            producer_note_recovered(partition, &header, false, recovery->file_written_ms);
        }
        partition->next_offset += sb_load_le32(batch + SB_BATCH_OFFSET_RECORD_COUNT);
        recovery->store->stats.recovered_batches++;
    }
    return result;
}

/* Decodes the entry at `bytes` (`available` bytes read): 1 valid (header filled), 0 the log
 * stops here. A BATCH entry at or after the checkpoint must also pass its batch CRCs. */
static int
recovery_entry_valid(struct recovery *recovery, const struct recovery_file *file,
                     const uint8_t *bytes, uint64_t available, uint64_t position,
                     struct sb_wal_entry_header *entry)
{
    if (available < SB_WAL_ENTRY_HEADER_BYTES ||
        sb_wal_entry_header_decode(bytes, entry) != 0 ||
        entry->generation != file->header.generation ||
        entry->sequence != recovery->next_sequence ||
        position + sb_wal_entry_span(entry->payload_bytes) > file->header.file_bytes) {
        return 0;
    }
    if (entry->kind != SB_WAL_ENTRY_BATCH || entry->sequence < recovery->checkpoint) {
        return 1;
    }
    if (entry->payload_bytes > SB_STORE_BATCH_BYTES_MAX) {
        return 0;
    }
    if (available < sb_wal_entry_span(entry->payload_bytes)) {
        return -EAGAIN;
    }
    struct sb_batch_header batch;
    const uint8_t *payload = bytes + SB_WAL_ENTRY_HEADER_BYTES;
    if (sb_batch_verify(payload, entry->payload_bytes, SB_STORE_BATCH_BYTES_MAX, &batch) != 0 ||
        batch.batch_bytes != entry->payload_bytes || batch.base_offset != entry->base_offset) {
        return 0;
    }
    return 1;
}

static int
recovery_read_chunk(struct recovery *recovery, const struct recovery_file *file,
                    uint64_t chunk_start)
{
    uint64_t length = sb_min_u64(recovery->buffer_bytes,
                                 file->header.file_bytes - chunk_start);
    return store_sync_read(recovery->store, file->fd, recovery->buffer, (uint32_t)length,
                           chunk_start);
}

static void
recovery_stream_read_done(struct sb_io_op *op)
{
    *(bool *)op->context = false;
}

/* Issues the stream's next chunks, keeping RECOVERY_READS_MAX reads ahead of the window's. */
static void
recovery_stream_issue(struct recovery *recovery)
{
    struct recovery_stream *stream = &recovery->stream;
    uint64_t file_bytes = stream->file->header.file_bytes;
    uint64_t held = stream->window_in_stream ? stream->next - 1 : stream->next;
    /* Bounded: at most RECOVERY_READS_MAX reads are issued per call. */
    while (!stream->ended && stream->issued < held + RECOVERY_READS_MAX) {
        uint64_t position = stream->base + stream->issued * RECOVERY_READ_BYTES;
        if (position >= file_bytes) {
            return;
        }
        struct recovery_read *read = &stream->reads[stream->issued % RECOVERY_READS_MAX];
        SB_ASSERT(!read->busy);
        read->busy = true;
        sb_io_read(recovery->store->io, &read->op, stream->file->fd,
                   read->buffer + stream->headroom_bytes,
                   (uint32_t)sb_min_u64(RECOVERY_READ_BYTES, file_bytes - position), position,
                   recovery_stream_read_done, &read->busy);
        stream->issued++;
    }
}

/* Runs the io until `read` completes; flush rounds started during replay move on meanwhile. */
static int
recovery_stream_wait(struct recovery *recovery, const struct recovery_read *read)
{
    struct sb_store *store = recovery->store;
    /* Bounded by the read itself: every issued op completes (or the io fails). */
    while (read->busy) {
        int ran = sb_io_run(store->io, 100 * SB_NS_PER_MS);
        if (ran < 0) {
            return ran;
        }
        sb_timer_fire_due(store->timers, sb_io_now_ns(store->io));
    }
    return 0;
}

/* Waits for every read in flight (their buffers and ops are then free). */
static int
recovery_stream_drain(struct recovery *recovery)
{
    for (uint32_t index = 0; index < RECOVERY_READS_MAX; index++) {
        int result = recovery_stream_wait(recovery, &recovery->stream.reads[index]);
        if (result < 0) {
            return result;
        }
    }
    recovery->stream.window_in_stream = false;
    return 0;
}

/* Starts reading `file` ahead from the block holding `position`; the window is empty there. */
static int
recovery_stream_start(struct recovery *recovery, const struct recovery_file *file,
                      uint64_t position)
{
    struct recovery_stream *stream = &recovery->stream;
    int result = recovery_stream_drain(recovery);
    stream->file = file;
    stream->base = position / SB_BLOCK_BYTES * SB_BLOCK_BYTES;
    stream->next = 0;
    stream->issued = 0;
    stream->ended = false;
    stream->window = NULL;
    stream->window_start = stream->window_end = stream->base;
    if (result == 0) {
        recovery_stream_issue(recovery);
    }
    return result;
}

/* Moves the window to the next chunk, carrying the bytes from `position` (not yet replayed) into
 * the headroom in front of it. Returns 1, 0 if the file has nothing more (its end, or an earlier
 * short read), or the read's error. */
static int
recovery_stream_next(struct recovery *recovery, uint64_t position)
{
    struct recovery_stream *stream = &recovery->stream;
    uint64_t tail = 0;
    /* Not in the read-ahead, or past its window (an entry below the checkpoint is skipped by
     * its header alone, and may end beyond the bytes read): start again from `position`. */
    if (stream->window != NULL && (!stream->window_in_stream || position > stream->window_end)) {
        int restarted = recovery_stream_start(recovery, stream->file, position);
        if (restarted < 0) {
            return restarted;
        }
    } else if (stream->window != NULL) {
        SB_ASSERT(position >= stream->window_start && position <= stream->window_end);
        tail = stream->window_end - position;
    }
    SB_ASSERT(tail <= stream->headroom_bytes);
    if (stream->ended || stream->next >= stream->issued) {
        return 0;
    }
    struct recovery_read *read = &stream->reads[stream->next % RECOVERY_READS_MAX];
    int result = recovery_stream_wait(recovery, read);
    if (result == 0 && read->op.result < 0) {
        result = read->op.result;
        sb_log_error("WAL read failed during recovery; refusing to start", "file=wal-%u.log "
                     "position=%llu error=\"%s\"", stream->file->index,
                     (unsigned long long)read->op.offset, sb_strerror(result));
    }
    if (result < 0) {
        return result;
    }
    uint8_t *data = read->buffer + stream->headroom_bytes;
    if (tail > 0) {
        memcpy(data - tail, stream->window + (position - stream->window_start), tail);
    }
    stream->window = data - tail;
    stream->window_start = read->op.offset - tail;
    stream->window_end = read->op.offset + (uint64_t)read->op.result;
    stream->ended = (uint32_t)read->op.result < read->op.length;
    stream->window_in_stream = true;
    stream->next++;
    recovery_stream_issue(recovery);
    /* Reaps what completed without waiting: a flush round's next writes go out now, not at
     * the next read replay has to wait for. */
    int ran = sb_io_run(recovery->store->io, 0);
    return ran < 0 ? ran : 1;
}

/* An entry longer than the headroom (written under a higher batch_bytes_max): stops the
 * read-ahead and reads it whole, from its block, into recovery->buffer. Returns 1, 0 if the
 * file ends inside it, or an error. */
static int
recovery_stream_whole(struct recovery *recovery, uint64_t position, uint64_t span)
{
    struct recovery_stream *stream = &recovery->stream;
    int result = recovery_stream_drain(recovery);
    uint64_t start = position / SB_BLOCK_BYTES * SB_BLOCK_BYTES;
    uint64_t needed = position - start + span;
    if (result == 0) {
        result = recovery_buffer_reserve(recovery, needed);
    }
    int read = result == 0 ? recovery_read_chunk(recovery, stream->file, start) : result;
    if (read < 0) {
        sb_log_error("WAL read failed during recovery; refusing to start", "file=wal-%u.log "
                     "position=%llu error=\"%s\"", stream->file->index,
                     (unsigned long long)start, sb_strerror(read));
        return read;
    }
    stream->window = recovery->buffer;
    stream->window_start = start;
    stream->window_end = start + (uint64_t)read;
    return (uint64_t)read >= needed;
}

/* Replays one valid entry and counts its bytes: every RECOVERY_FLUSH_KICK_BYTES (an eighth of a
 * smaller memtable, so the test stores' recoveries flush while replaying too) a flush round
 * starts, so writing the replayed batches into segments overlaps reading the rest. */
static int
recovery_replay_entry(struct recovery *recovery, const struct sb_wal_entry_header *entry,
                      const uint8_t *bytes)
{
    struct sb_store *store = recovery->store;
    if (entry->kind != SB_WAL_ENTRY_BATCH || entry->sequence < recovery->checkpoint) {
        return 0;
    }
    int result = recovery_replay_batch(recovery, entry, bytes + SB_WAL_ENTRY_HEADER_BYTES);
    recovery->stream.replayed_bytes += entry->payload_bytes;
    uint64_t kick_bytes = sb_min_u64(RECOVERY_FLUSH_KICK_BYTES, store->config.memtable_bytes / 8);
    if (result == 0 && recovery->stream.replayed_bytes >= kick_bytes &&
        flush_idle(store)) {
        recovery->stream.replayed_bytes = 0;
        wal_replay_done(store);
        flush_maybe_start(store, false);
    }
    return result;
}

/* Replays entries of one file from `position` while they are valid, reading ahead. Returns 0
 * and the position where the log stops in this file, or a negative error (a failed read). */
static int
recovery_replay_file(struct recovery *recovery, const struct recovery_file *file,
                     uint64_t position, uint64_t *stop_out)
{
    struct recovery_stream *stream = &recovery->stream;
    int result = recovery_stream_start(recovery, file, position);
    /* Bounded by the file size: every pass advances position, or the window, or stops. */
    while (result >= 0 && position + SB_WAL_ENTRY_HEADER_BYTES <= file->header.file_bytes) {
        uint64_t available = stream->window != NULL && position <= stream->window_end
                                 ? stream->window_end - position
                                 : 0;
        const uint8_t *bytes = available > 0 ? stream->window + (position - stream->window_start)
                                             : NULL;
        struct sb_wal_entry_header entry;
        int valid = available < SB_WAL_ENTRY_HEADER_BYTES
                        ? -EAGAIN
                        : recovery_entry_valid(recovery, file, bytes, available, position,
                                               &entry);
        if (valid == -EAGAIN) {
            bool whole = available >= SB_WAL_ENTRY_HEADER_BYTES &&
                         position % SB_BLOCK_BYTES + sb_wal_entry_span(entry.payload_bytes) >
                             stream->headroom_bytes;
            result = whole ? recovery_stream_whole(recovery, position,
                                                   sb_wal_entry_span(entry.payload_bytes))
                           : recovery_stream_next(recovery, position);
            if (result == 0) {
                break;
            }
            continue;
        }
        if (valid == 0) {
            break;
        }
        result = recovery_replay_entry(recovery, &entry, bytes);
        recovery->next_sequence += result >= 0;
        position += result >= 0 ? sb_wal_entry_span(entry.payload_bytes) : 0;
    }
    int drained = recovery_stream_drain(recovery);
    *stop_out = position;
    return result < 0 ? result : drained;
}

/* What the cycles on disk after a stop say about it. */
struct recovery_later {
    bool found;        /* A later cycle of this file's generation starts after the stop. */
    uint64_t position; /* The first such cycle's position. */
    uint64_t sequence; /* Its first sequence. */
    bool proof;        /* Some later cycle proves the entry at next_sequence was durable. */
};

/* Scans the file's blocks from `position` for starts of cycles of its generation beyond
 * next_sequence. Such a cycle proves that the entry at next_sequence completed its fdatasync
 * if its durable-before sequence ([WAL-ENTRY]: unsynced_sequence if BEHIND, else its own
 * cycle sequence) is above it: then the stop is corruption of acknowledged data, not a torn
 * tail. A cycle issued while the stopped one was still on disk proves nothing. Returns 0, or
 * a failed read's error: blocks that could not be read might hold the proof, so the stop
 * cannot be judged a torn tail. */
static int
recovery_scan_cycles(struct recovery *recovery, const struct recovery_file *file,
                     uint64_t position, struct recovery_later *later)
{
    uint64_t chunk_start = 0;
    uint64_t chunk_end = 0;
    for (; position + SB_WAL_ENTRY_HEADER_BYTES <= file->header.file_bytes;
         position += SB_BLOCK_BYTES) {
        if (position >= chunk_end) {
            chunk_start = position;
            int read = recovery_read_chunk(recovery, file, chunk_start);
            if (read <= 0) {
                return read;
            }
            chunk_end = chunk_start + (uint64_t)read;
        }
        struct sb_wal_entry_header entry;
        if (sb_wal_entry_header_decode(recovery->buffer + (position - chunk_start), &entry) !=
                0 ||
            entry.generation != file->header.generation ||
            entry.cycle_sequence != entry.sequence || entry.sequence <= recovery->next_sequence) {
            continue;
        }
        if (!later->found) {
            later->found = true;
            later->position = position;
            later->sequence = entry.sequence;
        }
        uint64_t durable_before = entry.behind ? entry.unsynced_sequence : entry.sequence;
        if (durable_before > recovery->next_sequence) {
            later->proof = true;
            return 0;
        }
    }
    return 0;
}

/* Does a cycle in files[from..count) prove the entry at next_sequence durable? 1 or 0, or a
 * failed read's error. */
static int
recovery_proven_later(struct recovery *recovery, const struct recovery_file *files,
                      uint32_t count, uint32_t from)
{
    for (uint32_t index = from; index < count; index++) {
        if (files[index].header.first_sequence < recovery->next_sequence) {
            continue; /* Not part of the log (recovery_wal skips it too). */
        }
        struct recovery_later later = {0};
        int result = recovery_scan_cycles(recovery, &files[index], SB_BLOCK_BYTES, &later);
        if (result < 0 || later.proof) {
            return result < 0 ? result : 1;
        }
    }
    return 0;
}

static void
recovery_report_gap(struct recovery *recovery, const struct recovery_file *file, uint64_t stop,
                    uint64_t resume_sequence)
{
    recovery->corruption_found = true;
    recovery->store->stats.recovery_corruptions++;
    sb_log_error("WAL corruption inside acknowledged data", "file=wal-%u.log position=%llu "
                 "lost_sequences=%llu-%llu", file->index, (unsigned long long)stop,
                 (unsigned long long)recovery->next_sequence,
                 (unsigned long long)(resume_sequence - 1));
    recovery->next_sequence = resume_sequence;
}

/* Replays files[index] to its end, resynchronizing after corruption; sets *ended if the log
 * ends inside it (a torn tail with later cycles that were on disk with it). Returns 0 or an
 * error. */
static int
recovery_replay_whole_file(struct recovery *recovery, const struct recovery_file *files,
                           uint32_t count, uint32_t index, bool *ended)
{
    const struct recovery_file *file = &files[index];
    uint64_t position = SB_BLOCK_BYTES;
    recovery_note_file_time(recovery, file->fd);
    /* Bounded: each resync moves to a later cycle of the file. */
    for (;;) {
        uint64_t stop = 0;
        int result = recovery_replay_file(recovery, file, position, &stop);
        if (result < 0) {
            return result;
        }
        struct recovery_later later = {0};
        result = recovery_scan_cycles(recovery, file, stop / SB_BLOCK_BYTES * SB_BLOCK_BYTES +
                                                          SB_BLOCK_BYTES, &later);
        if (result < 0 || !later.found) {
            return result;
        }
        int proven = later.proof ? 1 : recovery_proven_later(recovery, files, count, index + 1);
        if (proven <= 0) {
            *ended = proven == 0;
            return proven;
        }
        recovery_report_gap(recovery, file, stop, later.sequence);
        position = later.position;
    }
}

static int
recovery_wal(struct recovery *recovery)
{
    struct recovery_file files[SB_STORE_WAL_FILES_MAX];
    uint32_t count = 0;
    int result = recovery_wal_files(recovery, files, &count);
    uint32_t start = 0;
    for (uint32_t index = 0; index < count; index++) {
        if (files[index].header.first_sequence <= recovery->checkpoint) {
            start = index;
        }
    }
    bool ended = false;
    for (uint32_t index = start; result == 0 && !ended && index < count; index++) {
        const struct recovery_file *file = &files[index];
        if (index == start) {
            recovery->next_sequence = file->header.first_sequence;
        } else if (file->header.first_sequence < recovery->next_sequence) {
            continue; /* Cannot follow the log: not part of it. */
        } else if (file->header.first_sequence > recovery->next_sequence) {
            int proven = recovery_proven_later(recovery, files, count, index);
            if (proven <= 0) {
                result = proven; /* 0: a torn tail, this file's first cycle was on disk with
                                    it; else a read failed where the proof could be. */
                break;
            }
            recovery_report_gap(recovery, &files[index - 1], 0, file->header.first_sequence);
        }
        result = recovery_replay_whole_file(recovery, files, count, index, &ended);
    }
    recovery_wal_close(recovery, files, count);
    return result;
}

/* Runs the io until no flush round is running. A failed round is retried after its back-off
 * (the shard's timers are not running yet, so they are fired here); returns -EIO once
 * RECOVERY_FLUSH_ATTEMPTS rounds failed since the flush_failures count `failures`. */
static int
recovery_flush_wait(struct recovery *recovery, uint64_t failures)
{
    struct sb_store *store = recovery->store;
    /* Bounded: at most RECOVERY_FLUSH_ATTEMPTS rounds, each ends or fails. */
    while (!flush_idle(store)) {
        if (store->stats.flush_failures - failures >= RECOVERY_FLUSH_ATTEMPTS) {
            return -EIO;
        }
        int ran = sb_io_run(store->io, 10 * SB_NS_PER_MS);
        if (ran < 0) {
            return ran;
        }
        sb_timer_fire_due(store->timers, sb_io_now_ns(store->io));
    }
    return 0;
}

/* Flushes everything replayed so far into segments and checkpoints it. A round started during
 * replay covers only what was replayed when it began: it ends first, then a forced round. */
static int
recovery_flush_all(struct recovery *recovery)
{
    struct sb_store *store = recovery->store;
    uint64_t failures = store->stats.flush_failures;
    int result = recovery_flush_wait(recovery, failures);
    if (result < 0) {
        return result;
    }
    wal_replay_done(store);
    flush_maybe_start(store, true);
    return recovery_flush_wait(recovery, failures);
}

/* Allocates the read-ahead's buffers: each holds a chunk and, in front of it, the longest entry
 * today's settings write (longer ones are read whole into recovery->buffer). */
static int
recovery_stream_init(struct recovery *recovery)
{
    struct recovery_stream *stream = &recovery->stream;
    stream->headroom_bytes = (uint32_t)sb_align_up(
        sb_wal_entry_span(recovery->store->config.batch_bytes_max) + SB_BLOCK_BYTES,
        SB_BLOCK_BYTES);
    for (uint32_t index = 0; index < RECOVERY_READS_MAX; index++) {
        stream->reads[index].buffer = sb_alloc_aligned_raw(
            stream->headroom_bytes + RECOVERY_READ_BYTES, SB_BLOCK_BYTES);
        if (stream->reads[index].buffer == NULL) {
            return -ENOMEM;
        }
    }
    return 0;
}

static void
recovery_stream_deinit(struct recovery *recovery)
{
    for (uint32_t index = 0; index < RECOVERY_READS_MAX; index++) {
        SB_ASSERT(!recovery->stream.reads[index].busy);
        sb_free(recovery->stream.reads[index].buffer);
    }
}

int
recovery_run(struct sb_store *store)
{
    struct recovery recovery = {.store = store};
    recovery.buffer_bytes = (uint32_t)sb_align_up(
        RECOVERY_READ_BYTES + sb_wal_entry_span(store->config.batch_bytes_max) + SB_BLOCK_BYTES,
        SB_BLOCK_BYTES);
    recovery.buffer_bytes = (uint32_t)sb_max_u64(recovery.buffer_bytes, store->staging_bytes);
    recovery.buffer = sb_alloc_aligned_raw(recovery.buffer_bytes, SB_BLOCK_BYTES);
    if (recovery.buffer == NULL) {
        return -ENOMEM;
    }
    int result = recovery_stream_init(&recovery);
    if (result == 0) {
        result = recovery_manifest(&recovery);
    }
    store->checkpoint_sequence = recovery.checkpoint;
    if (result == 0) {
        result = recovery_wal(&recovery);
    }
    if (result == 0) {
        uint64_t next_sequence = sb_max_u64(recovery.next_sequence, recovery.checkpoint);
        store->wal.next_sequence = next_sequence;
        store->wal.open_cycle_sequence = next_sequence;
        result = recovery_flush_all(&recovery);
        if (result == 0) {
            result = wal_start_generation(store, next_sequence);
        }
    }
    if (result < 0 && !flush_idle(store)) {
        /* A round started during replay may have writes in flight: they end (the round ends
         * or backs off) before the store is torn down. Its result changes nothing here. */
        int waited = recovery_flush_wait(&recovery, store->stats.flush_failures);
        SB_ASSERT(waited <= 0);
    }
    if (recovery.corruption_found) {
        sb_log_error("recovery found corrupt data (see above); affected partitions are fenced",
                     "shard=%u", store->config.shard_id);
    }
    recovery_stream_deinit(&recovery);
    sb_free(recovery.buffer);
    return result;
}
