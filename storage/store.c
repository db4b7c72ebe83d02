/*
 * storage/store.c - a shard's store: configuration defaults, the directory
 * lock, the partition table, the append entry point, the per-iteration hook,
 * shutdown, and the synchronous I/O helpers used at start-up. See
 * store_private.h for how the files of storage/ divide the work.
 */
#include "storage/store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/assert.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/pages.h"
#include "proto/batch.h"
#include "storage/store_private.h"

#define STORE_DEFAULT_WAL_FILE_BYTES (8ull << 20)
#define STORE_DEFAULT_WAL_FILES 4u
#define STORE_DEFAULT_MEMTABLE_BYTES (64ull << 20)
#define STORE_DEFAULT_FLUSH_INTERVAL_NS (30ull * SB_NS_PER_S)
#define STORE_DEFAULT_BATCH_BYTES (1u << 20)
#define STORE_DEFAULT_PARTITIONS 16384u
#define STORE_DEFAULT_SEGMENTS 65536u
#define STORE_DEFAULT_CACHE_BYTES (64ull << 20)
#define STORE_DEFAULT_INDEX_BYTES (32ull << 20)
#define STORE_DEFAULT_INDEX_INTERVAL (64u << 10)
#define STORE_DEFAULT_FLUSH_CONCURRENCY 16u
#define STORE_DEFAULT_FLUSH_SYNC_CONCURRENCY 256u
#define STORE_DEFAULT_RETENTION_CHECK_INTERVAL_NS (5ull * SB_NS_PER_S)
#define STORE_DEFAULT_COMPACTION_KEYS (1u << 20)
#define STORE_DEFAULT_PRODUCER_EXPIRATION_MS (24ull * 3600ull * 1000ull)

void
sb_partition_config_default(struct sb_partition_config *config)
{
    config->segment_bytes = 1ull << 30;
    config->retention_ms = 7ll * 24 * 3600 * 1000;
    config->retention_bytes = -1;
    config->cleanup = SB_CLEANUP_DELETE;
    config->delete_retention_ms = 24ll * 3600 * 1000;
    config->min_compaction_lag_ms = 0;
    config->log_append_time = false;
}

static uint64_t
or_default(uint64_t value, uint64_t fallback)
{
    return value != 0 ? value : fallback;
}

static int
store_config_fill(struct sb_store_config *config)
{
    config->wal_file_bytes = or_default(config->wal_file_bytes, STORE_DEFAULT_WAL_FILE_BYTES);
    config->wal_file_count = (uint32_t)or_default(config->wal_file_count,
                                                  STORE_DEFAULT_WAL_FILES);
    config->memtable_bytes = or_default(config->memtable_bytes, STORE_DEFAULT_MEMTABLE_BYTES);
    uint64_t cycle_floor = sb_align_up(sb_wal_entry_span(config->batch_bytes_max != 0
                                                             ? config->batch_bytes_max
                                                             : STORE_DEFAULT_BATCH_BYTES) +
                                           2 * SB_BLOCK_BYTES, SB_BLOCK_BYTES);
    config->cycle_bytes_max = or_default(
        config->cycle_bytes_max,
        sb_max_u64(cycle_floor, sb_min_u64(4ull << 20, config->wal_file_bytes / 4)));
    config->flush_interval_ns = or_default(config->flush_interval_ns,
                                           STORE_DEFAULT_FLUSH_INTERVAL_NS);
    config->batch_bytes_max = (uint32_t)or_default(config->batch_bytes_max,
                                                   STORE_DEFAULT_BATCH_BYTES);
    config->partitions_max = (uint32_t)or_default(config->partitions_max,
                                                  STORE_DEFAULT_PARTITIONS);
    config->segments_max = (uint32_t)or_default(config->segments_max, STORE_DEFAULT_SEGMENTS);
    config->block_cache_bytes = or_default(config->block_cache_bytes, STORE_DEFAULT_CACHE_BYTES);
    if (config->wal_dsync_bytes_max == 0) {
        config->wal_dsync_bytes_max = SB_WAL_CYCLE_CHUNK_BYTES;
    }
    if (config->readahead_bytes == 0) {
        config->readahead_bytes = SB_STORE_READAHEAD_BYTES;
    }
    config->index_bytes = or_default(config->index_bytes, STORE_DEFAULT_INDEX_BYTES);
    config->index_interval_bytes = (uint32_t)or_default(config->index_interval_bytes,
                                                        STORE_DEFAULT_INDEX_INTERVAL);
    config->flush_concurrency = (uint32_t)or_default(config->flush_concurrency,
                                                     STORE_DEFAULT_FLUSH_CONCURRENCY);
    config->flush_sync_concurrency = (uint32_t)or_default(
        config->flush_sync_concurrency, STORE_DEFAULT_FLUSH_SYNC_CONCURRENCY);
    config->retention_check_interval_ns = or_default(config->retention_check_interval_ns,
                                                     STORE_DEFAULT_RETENTION_CHECK_INTERVAL_NS);
    config->compaction_keys_max = (uint32_t)or_default(config->compaction_keys_max,
                                                       STORE_DEFAULT_COMPACTION_KEYS);
    config->producer_expiration_ms = or_default(config->producer_expiration_ms,
                                                STORE_DEFAULT_PRODUCER_EXPIRATION_MS);
    uint64_t block = SB_BLOCK_BYTES;
    bool valid = config->wal_file_bytes % block == 0 && config->memtable_bytes % block == 0 &&
                 config->wal_file_count >= 2 &&
                 config->wal_file_count <= SB_STORE_WAL_FILES_MAX &&
                 config->batch_bytes_max <= SB_STORE_BATCH_BYTES_MAX &&
                 config->cycle_bytes_max % block == 0 &&
                 config->cycle_bytes_max + block <= config->wal_file_bytes &&
                 sb_wal_entry_span(config->batch_bytes_max) + 2 * block <=
                     config->cycle_bytes_max &&
                 config->cycle_bytes_max * 4 <= config->memtable_bytes &&
                 config->block_cache_bytes >= 4 * SB_CACHE_BLOCK_BYTES &&
                 config->compaction_keys_max <= (1u << 30) &&
                 config->producer_expiration_ms <= (uint64_t)INT64_MAX;
    return valid ? 0 : SB_ECONFIG;
}

static int
store_mkdirs(const char *path)
{
    char buffer[320];
    snprintf(buffer, sizeof(buffer), "%s", path);
    for (char *cursor = buffer + 1; *cursor != '\0'; cursor++) {
        if (*cursor == '/') {
            *cursor = '\0';
            if (mkdir(buffer, 0755) != 0 && errno != EEXIST) {
                return -errno;
            }
            *cursor = '/';
        }
    }
    if (mkdir(buffer, 0755) != 0 && errno != EEXIST) {
        return -errno;
    }
    return 0;
}

static int
store_lock(struct sb_store *store)
{
    char path[320];
    snprintf(path, sizeof(path), "%s/LOCK", store->shard_dir);
    store->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (store->lock_fd < 0) {
        return -errno;
    }
    if (flock(store->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        int error = errno == EWOULDBLOCK ? -EBUSY : -errno;
        sb_log_error("data directory is in use by another process", "path=%s", path);
        return error;
    }
    /* Through the io, like every descriptor that gets an fsync (the simulator must know it). */
    store->shard_dir_fd = sb_io_open(store->io, store->shard_dir, O_RDONLY | O_DIRECTORY, 0);
    if (store->shard_dir_fd < 0) {
        return store->shard_dir_fd;
    }
    store->partitions_dir_fd = sb_io_open(store->io, store->partitions_dir,
                                          O_RDONLY | O_DIRECTORY, 0);
    return store->partitions_dir_fd < 0 ? store->partitions_dir_fd : 0;
}

/* The store's tables are sized for its limits but mapped untouched (sb_pages_map, slabs):
 * memory is resident only for the partitions, segments and producers actually there. */
static int
store_allocate(struct sb_store *store)
{
    const struct sb_store_config *config = &store->config;
    uint32_t buckets = 1;
    while (buckets < config->partitions_max * 2) {
        buckets <<= 1;
    }
    store->table_mask = buckets - 1;
    store->table = sb_pages_map(buckets * sizeof(store->table[0]));
    store->partitions = sb_pages_map(config->partitions_max * sizeof(struct sb_partition));
    store->scratch = sb_alloc_aligned(sb_align_up(config->batch_bytes_max, SB_BLOCK_BYTES),
                                      SB_BLOCK_BYTES);
    if (store->table == NULL || store->partitions == NULL || store->scratch == NULL) {
        return -ENOMEM;
    }
    uint64_t chunk_count = sb_max_u64(config->index_bytes / sizeof(struct index_chunk), 1);
    uint64_t producers = (uint64_t)config->partitions_max * 2;
    if (sb_slab_init(&store->segment_slab, sizeof(struct segment), config->segments_max) != 0 ||
        sb_slab_init(&store->index_chunk_slab, sizeof(struct index_chunk), chunk_count) != 0 ||
        sb_slab_init(&store->producer_slab, sizeof(struct producer_state), producers) != 0) {
        return -ENOMEM;
    }
    store->next_segment_id = 1;
    return 0;
}

static int
store_prepare(struct sb_store *store)
{
    int written = snprintf(store->shard_dir, sizeof(store->shard_dir), "%s/shards/%u",
                           store->config.data_dir, store->config.shard_id);
    int written_partitions = snprintf(store->partitions_dir, sizeof(store->partitions_dir),
                                      "%s/partitions", store->config.data_dir);
    if (written >= (int)sizeof(store->shard_dir) ||
        written_partitions >= (int)sizeof(store->partitions_dir)) {
        return -ENAMETOOLONG;
    }
    int result = store_mkdirs(store->shard_dir);
    if (result == 0) {
        result = store_mkdirs(store->partitions_dir);
    }
    if (result == 0) {
        result = store_lock(store);
    }
    if (result == 0) {
        result = store_allocate(store);
    }
    if (result == 0) {
        result = cache_init(store);
    }
    if (result == 0) {
        result = flush_init(store);
    }
    if (result == 0) {
        result = compaction_init(store); /* After flush_init: it sizes footers by staging. */
    }
    return result == 0 ? wal_init(store) : result;
}

int
sb_store_open(struct sb_io *io, struct sb_timer_heap *timers,
              const struct sb_store_config *config, struct sb_store **store_out)
{
    *store_out = NULL;
    struct sb_store *store = sb_alloc(sizeof(*store));
    if (store == NULL) {
        return -ENOMEM;
    }
    store->io = io;
    store->timers = timers;
    store->config = *config;
    store->lock_fd = -1;
    store->shard_dir_fd = -1;
    store->partitions_dir_fd = -1;
    store->manifest_fd = -1;
    sb_timer_init(&store->flush_retry_timer);
    sb_timer_init(&store->wal.retry_timer);
    sb_timer_init(&store->wal.delay_timer);
    int result = store_config_fill(&store->config);
    if (result == 0) {
        result = store_prepare(store);
    }
    if (result == 0) {
        uint64_t start_ns = sb_clock_monotonic_ns();
        result = recovery_run(store);
        store->stats.recovery_ns = sb_clock_monotonic_ns() - start_ns;
    }
    if (result != 0) {
        sb_log_error("store open failed", "dir=%s error=\"%s\"", store->shard_dir,
                     sb_strerror(result));
        store->shutting_down = true;
        sb_store_close(store);
        return result;
    }
    store->last_flush_ns = sb_io_now_ns(io);
    *store_out = store;
    return 0;
}

/* Fails every append still waiting for durability (the store is going away). */
static void
store_abandon_appends(struct sb_store *store)
{
    struct wal *wal = &store->wal;
    while (wal->appends_head != NULL) {
        struct sb_append *append = wal->appends_head;
        wal->appends_head = append->next;
        append->result = SB_ESHUTDOWN;
        append->callback(append);
    }
    wal->appends_tail = NULL;
}

void
sb_store_close(struct sb_store *store)
{
    if (store == NULL) {
        return;
    }
    store_abandon_appends(store);
    compaction_deinit(store);
    for (uint32_t slot = 0; store->partitions != NULL && slot < store->config.partitions_max;
         slot++) {
        struct sb_partition *partition = &store->partitions[slot];
        while (partition->used && partition->oldest != NULL) {
            /* Reads pinning it now never finish (a power cut: the io completes nothing). */
            partition->oldest->pins = 0;
            segment_destroy(partition->oldest, false);
        }
    }
    while (store->replaced_segments != NULL) {
        store->replaced_segments->pins = 0;
        segment_destroy(store->replaced_segments, false);
    }
    wal_deinit(store);
    flush_deinit(store);
    cache_deinit(store);
    sb_free(store->scratch);
    sb_slab_deinit(&store->producer_slab);
    sb_slab_deinit(&store->index_chunk_slab);
    sb_slab_deinit(&store->segment_slab);
    sb_pages_unmap(store->partitions, store->config.partitions_max * sizeof(struct sb_partition));
    sb_pages_unmap(store->table, (store->table_mask + 1) * sizeof(store->table[0]));
    if (store->shard_dir_fd >= 0) {
        sb_io_close(store->io, store->shard_dir_fd);
    }
    if (store->partitions_dir_fd >= 0) {
        sb_io_close(store->io, store->partitions_dir_fd);
    }
    if (store->lock_fd >= 0) {
        close(store->lock_fd); /* Releases the flock. */
    }
    sb_free(store);
}

void
store_fail(struct sb_store *store, const char *what, int error)
{
    sb_log_error("storage failed; the shard stops writing", "what=\"%s\" error=\"%s\"", what,
                 sb_strerror(error));
    store->failed = true;
}

static uint32_t
store_hash(uint32_t topic_id, uint32_t partition)
{
    uint64_t key = ((uint64_t)topic_id << 32) | partition;
    key ^= key >> 33;
    key *= 0xff51afd7ed558ccdull;
    key ^= key >> 33;
    return (uint32_t)key;
}

struct sb_partition *
store_partition_slot(struct sb_store *store, uint32_t slot)
{
    SB_ASSERT(slot < store->config.partitions_max);
    SB_ASSERT(store->partitions[slot].used);
    return &store->partitions[slot];
}

struct sb_partition *
sb_store_partition_find(struct sb_store *store, uint32_t topic_id, uint32_t partition)
{
    struct sb_partition *cursor = store->table[store_hash(topic_id, partition) &
                                               store->table_mask];
    for (; cursor != NULL; cursor = cursor->hash_next) {
        if (cursor->topic_id == topic_id && cursor->partition == partition) {
            return cursor;
        }
    }
    return NULL;
}

static void
store_table_remove(struct sb_store *store, struct sb_partition *partition)
{
    struct sb_partition **link = &store->table[store_hash(partition->topic_id,
                                                          partition->partition) &
                                               store->table_mask];
    while (*link != partition) {
        SB_ASSERT(*link != NULL);
        link = &(*link)->hash_next;
    }
    *link = partition->hash_next;
    partition->hash_next = NULL;
}

/* Takes a free slot, names it and puts it in the table; the caller sets offsets. */
struct sb_partition *
store_partition_add(struct sb_store *store, uint32_t topic_id, uint32_t partition_index,
                    const struct sb_partition_config *config)
{
    uint32_t slot = 0;
    while (slot < store->config.partitions_max && store->partitions[slot].used) {
        slot++;
    }
    if (slot == store->config.partitions_max) {
        return NULL;
    }
    struct sb_partition *partition = &store->partitions[slot];
    memset(partition, 0, sizeof(*partition));
    partition->store = store;
    partition->slot = slot;
    partition->used = true;
    partition->topic_id = topic_id;
    partition->partition = partition_index;
    partition->config = *config;
    partition->memtable_first = SB_STORE_NONE;
    partition->memtable_last = SB_STORE_NONE;
    partition->read_hint = SB_STORE_NONE;
    partition->append_time_ms = -1;
    uint32_t bucket = store_hash(topic_id, partition_index) & store->table_mask;
    partition->hash_next = store->table[bucket];
    store->table[bucket] = partition;
    store->partition_count++;
    return partition;
}

int
sb_store_partition_open(struct sb_store *store, uint32_t topic_id, uint32_t partition_index,
                        const struct sb_partition_config *config,
                        struct sb_partition **partition_out)
{
    struct sb_partition *partition = sb_store_partition_find(store, topic_id, partition_index);
    if (partition != NULL) {
        sb_partition_set_config(partition, config);
        *partition_out = partition;
        return 0;
    }
    char path[320];
    partition_dir_path(store, topic_id, partition_index, path, sizeof(path));
    int result = store_mkdirs(path);
    if (result < 0) {
        return result;
    }
    partition = store_partition_add(store, topic_id, partition_index, config);
    if (partition == NULL) {
        return -ENOSPC;
    }
    *partition_out = partition;
    return 0;
}

void
sb_partition_set_config(struct sb_partition *partition, const struct sb_partition_config *config)
{
    partition->config = *config;
    partition->compaction_due_ms = 0;
}

/* Detaches the partition's memtable batches: they stay in the ring until flushed past, but
 * belong to nobody and are never written to a segment. */
static void
store_partition_detach_memtable(struct sb_store *store, struct sb_partition *partition)
{
    for (uint32_t index = partition->memtable_first; index != SB_STORE_NONE;) {
        struct memtable_entry *entry = wal_fifo_entry(store, index);
        entry->partition_slot = SB_STORE_NONE;
        index = entry->next;
    }
    partition->memtable_first = SB_STORE_NONE;
    partition->memtable_last = SB_STORE_NONE;
    partition->memtable_count = 0;
    partition->read_hint = SB_STORE_NONE;
}

void
store_partition_release_if_unused(struct sb_partition *partition)
{
    if (!partition->dropped || partition->pins != 0 || partition->in_flush_list ||
        partition->memtable_count != 0 || partition->oldest != NULL) {
        return;
    }
    char path[320];
    partition_dir_path(partition->store, partition->topic_id, partition->partition, path,
                       sizeof(path));
    rmdir(path);
    producer_forget_all(partition);
    partition->used = false;
    partition->store->partition_count--;
}

int
sb_store_partition_drop(struct sb_store *store, struct sb_partition *partition)
{
    SB_ASSERT(partition->used && !partition->dropped);
    partition->dropped = true;
    store_table_remove(store, partition);
    store_partition_detach_memtable(store, partition);
    if (!partition->in_flush_list) {
        partition_delete_segments(partition);
    }
    store_partition_release_if_unused(partition);
    return 0;
}

/* A retry of one of the producer's recent batches: answer with where it went, once all is
 * durable. */
static int
partition_append_duplicate(struct sb_partition *partition, int64_t duplicate_offset,
                           struct sb_append *append, sb_append_callback callback, void *context)
{
    partition->duplicate_offset = duplicate_offset;
    if (append != NULL) {
        append->callback = callback;
        append->context = context;
        append->base_offset = duplicate_offset;
        wal_note_append(partition->store, append, partition->store->wal.head);
    }
    return -EEXIST;
}

/* sb_partition_append's body; `payload_verified`: the caller checked the payload CRC (see
 * sb_partition_append_verified), so only the header is decoded (and its CRC checked) here. */
static int
partition_append(struct sb_partition *partition, const uint8_t *batch, uint32_t batch_bytes,
                 bool payload_verified, struct sb_append *append, sb_append_callback callback,
                 void *context)
{
    struct sb_store *store = partition->store;
    if (store->shutting_down) {
        return SB_ESHUTDOWN;
    }
    if (store->failed || partition->dropped) {
        return store->failed ? -EIO : -ENOENT;
    }
    if (partition->fenced) {
        return -EROFS;
    }
    if (batch_bytes > store->config.batch_bytes_max) {
        return -EMSGSIZE;
    }
    struct sb_batch_header header;
    uint32_t bytes_max = store->config.batch_bytes_max;
    int result = payload_verified ? sb_batch_header_decode(batch, batch_bytes, bytes_max, &header)
                                  : sb_batch_verify(batch, batch_bytes, bytes_max, &header);
    if (result < 0 || header.batch_bytes != batch_bytes) {
        return SB_ECORRUPT;
    }
    if (payload_verified) {
        SB_ASSERT_DEBUG(sb_batch_verify(batch, batch_bytes, bytes_max, &header) == 0);
    }
    int64_t duplicate_offset = -1;
    result = producer_check(partition, &header, &duplicate_offset);
    if (result == -EEXIST) {
        return partition_append_duplicate(partition, duplicate_offset, append, callback, context);
    }
    if (result < 0) {
        return result;
    }
    struct wal_append_options options = {
        .batch_bytes = batch_bytes,
        .assign_offset = true,
        .base_offset = partition->next_offset,
        .append_time_ms = partition->config.log_append_time
                              ? (int64_t)(sb_clock_realtime_ns() / SB_NS_PER_MS) : -1,
    };
    uint64_t ring_position;
    result = wal_append_entry(store, partition, batch, &options, &ring_position);
    if (result < 0) {
        store->stats.append_refusals++;
        return result;
    }
    producer_note(partition, &header, options.base_offset);
    partition->next_offset += header.record_count;
    partition->append_time_ms = options.append_time_ms;
    store->stats.appends++;
    if (append != NULL) {
        SB_ASSERT(callback != NULL);
        append->callback = callback;
        append->context = context;
        append->base_offset = options.base_offset;
        wal_note_append(store, append, ring_position + batch_bytes);
    }
    return 0;
}

int
sb_partition_append(struct sb_partition *partition, const uint8_t *batch, uint32_t batch_bytes,
                    struct sb_append *append, sb_append_callback callback, void *context)
{
    return partition_append(partition, batch, batch_bytes, false, append, callback, context);
}

int
sb_partition_append_verified(struct sb_partition *partition, const uint8_t *batch,
                             uint32_t batch_bytes, struct sb_append *append,
                             sb_append_callback callback, void *context)
{
    return partition_append(partition, batch, batch_bytes, true, append, callback, context);
}

int64_t
sb_partition_append_time(const struct sb_partition *partition)
{
    return partition->append_time_ms;
}

int64_t
sb_partition_log_start_offset(const struct sb_partition *partition)
{
    return partition->log_start_offset;
}

int64_t
sb_partition_log_end_offset(const struct sb_partition *partition)
{
    return partition->next_offset;
}

int64_t
sb_partition_durable_offset(const struct sb_partition *partition)
{
    return partition->durable_offset;
}

int64_t
sb_partition_high_watermark(const struct sb_partition *partition)
{
    return partition->high_watermark;
}

void
sb_partition_advance_high_watermark(struct sb_partition *partition, int64_t offset)
{
    SB_ASSERT(offset <= partition->durable_offset);
    if (offset > partition->high_watermark) {
        partition->high_watermark = offset;
    }
    SB_ASSERT(partition->high_watermark <= partition->durable_offset);
}

uint32_t
sb_partition_topic_id(const struct sb_partition *partition)
{
    return partition->topic_id;
}

uint32_t
sb_partition_index(const struct sb_partition *partition)
{
    return partition->partition;
}

bool
sb_partition_fenced(const struct sb_partition *partition, int64_t *fenced_offset_out)
{
    if (partition->fenced && fenced_offset_out != NULL) {
        *fenced_offset_out = partition->fenced_offset;
    }
    return partition->fenced;
}

int64_t
sb_partition_duplicate_offset(const struct sb_partition *partition)
{
    return partition->duplicate_offset;
}

void
sb_store_iteration_end(struct sb_store *store)
{
    if (store->failed) {
        return;
    }
    wal_iteration_end(store);
    uint64_t now_ns = sb_io_now_ns(store->io);
    bool flush_due = store->wal.committed != store->wal.tail &&
                     (now_ns - store->last_flush_ns >= store->config.flush_interval_ns ||
                      (store->shutting_down && wal_idle(store)));
    if (wal_needs_flush(store) || flush_due) {
        flush_maybe_start(store, flush_due);
    }
    retention_maybe_start(store, now_ns);
}

void
sb_store_shutdown(struct sb_store *store)
{
    store->shutting_down = true;
    sb_store_iteration_end(store);
}

bool
sb_store_idle(const struct sb_store *store)
{
    if (store->cache.ahead_loading != 0) {
        return false; /* Read-ahead loads land in the cache and unpin their segments. */
    }
    if (store->failed) {
        return !wal_landing(store) && flush_idle(store) && !retention_busy(store);
    }
    return wal_idle(store) && flush_idle(store) && store->wal.committed == store->wal.tail &&
           !retention_busy(store);
}

void
sb_store_stats(const struct sb_store *store, struct sb_store_stats *stats_out)
{
    *stats_out = store->stats;
    stats_out->memtable_used_bytes = store->wal.head - store->wal.tail;
    stats_out->cycles_on_disk = store->wal.flying;
}

int
sb_store_flush_error(const struct sb_store *store)
{
    return store->flush_error;
}

static void
store_sync_done(struct sb_io_op *op)
{
    *(bool *)op->context = true;
}

/* Runs the io until the op is done. Start-up only: the shard is not serving yet. */
static int
store_sync_finish(struct sb_store *store, struct sb_io_op *op, bool *done)
{
    /* Bounded by the op itself: every op completes (or the ring fails). */
    while (!*done) {
        int ran = sb_io_run(store->io, 100 * SB_NS_PER_MS);
        if (ran < 0) {
            return ran;
        }
    }
    return op->result;
}

int
store_sync_read(struct sb_store *store, int fd, void *buffer, uint32_t length, uint64_t offset)
{
    struct sb_io_op op = {0};
    bool done = false;
    sb_io_read(store->io, &op, fd, buffer, length, offset, store_sync_done, &done);
    return store_sync_finish(store, &op, &done);
}

int
store_sync_write(struct sb_store *store, int fd, const void *buffer, uint32_t length,
                 uint64_t offset)
{
    struct sb_io_op op = {0};
    bool done = false;
    sb_io_write(store->io, &op, fd, buffer, length, offset, store_sync_done, &done);
    return store_sync_finish(store, &op, &done);
}

int
store_sync_fsync(struct sb_store *store, int fd)
{
    struct sb_io_op op = {0};
    bool done = false;
    sb_io_fsync(store->io, &op, fd, true, store_sync_done, &done);
    return store_sync_finish(store, &op, &done);
}

int
store_sync_fallocate(struct sb_store *store, int fd, uint64_t offset, uint64_t length)
{
    struct sb_io_op op = {0};
    bool done = false;
    sb_io_fallocate(store->io, &op, fd, offset, length, store_sync_done, &done);
    return store_sync_finish(store, &op, &done);
}
