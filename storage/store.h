/*
 * storage/store.h - one shard's storage engine: its write-ahead log, the
 * memtables of its partitions, their segment files, recovery, retention and
 * compaction. The broker opens one store per shard, on the shard's thread,
 * and drives it from the shard loop (sb_store_iteration_end).
 *
 * Durability contract (docs/storage.md):
 *  - sb_partition_append copies the batch into the shard's WAL ring (which is
 *    also the memtable), assigns its offsets and returns: that is the acks=1
 *    point. The append's callback runs once the commit cycle holding it has
 *    been written and fdatasync'ed: that is the acks=all point.
 *  - Each partition has two numbers: its durable offset (offsets below it are
 *    in the fdatasync'ed WAL) and its high watermark (offsets below it are
 *    served to readers), high watermark <= durable offset. The durable offset
 *    only moves when a cycle is durable, so nothing a consumer saw can vanish
 *    in a crash. The high watermark follows it, unless the store was opened
 *    with hold_high_watermark: then only the broker moves it
 *    (sb_partition_advance_high_watermark), its acks=all policy.
 *  - A failed WAL write or fdatasync is retried (the same bytes at the same
 *    place) until it succeeds; nothing is acknowledged meanwhile. A full
 *    memtable is back-pressure (-ENOBUFS), never a crash.
 *
 * Threading: everything runs on the owning shard's thread.
 */
#ifndef SB_STORAGE_STORE_H
#define SB_STORAGE_STORE_H

#include <stdbool.h>
#include <stdint.h>

struct sb_io;
struct sb_timer_heap;
struct sb_store;
struct sb_partition;

enum sb_cleanup_policy {
    SB_CLEANUP_DELETE = 0,  /* Retention deletes whole old segments. */
    SB_CLEANUP_COMPACT = 1, /* Keep the latest record per key. */
};

struct sb_partition_config {
    uint64_t segment_bytes;          /* Roll the open segment beyond this. */
    int64_t retention_ms;            /* Delete closed segments older than this; -1: never. */
    int64_t retention_bytes;         /* Keep the partition under this; -1: no limit. */
    enum sb_cleanup_policy cleanup;  /* Delete or compact. */
    int64_t delete_retention_ms;     /* Compaction keeps tombstones this long. */
    int64_t min_compaction_lag_ms;   /* Compaction leaves records younger than this. */
    bool log_append_time;            /* Stamp batches with the broker's clock. */
};

/* Defaults: 1 GiB segments, 7 days, unlimited bytes, delete, 1 day, 0, create time. */
void sb_partition_config_default(struct sb_partition_config *config);

/* Asked during recovery for each partition found on disk: fills its config and returns 0, or
 * returns -ENOENT if the partition no longer exists (its data is then deleted). */
typedef int (*sb_store_lookup_fn)(void *context, uint32_t topic_id, uint32_t partition,
                                  struct sb_partition_config *config_out);

/* Idempotent producers a partition tracks at once (storage/producer.c, docs/storage.md). */
#define SB_STORE_PRODUCERS_PER_PARTITION 32u

struct sb_store_config {
    const char *data_dir;          /* <data>: uses <data>/shards/<id> and <data>/partitions. */
    uint32_t shard_id;             /* Names the shard directory. */
    uint64_t wal_file_bytes;       /* Each WAL file (multiple of 4096). 0: 64 MiB. */
    uint32_t wal_file_count;       /* Recycled WAL files, >= 2. 0: 4. */
    bool wal_prefill;              /* Zero-fill new WAL files (faster first writes). */
    uint64_t memtable_bytes;       /* The WAL ring = memtable (multiple of 4096). 0: 64 MiB. */
    uint64_t cycle_bytes_max;      /* Largest commit cycle. 0: min(4 MiB, file/4). */
    uint64_t commit_delay_ns;      /* Wait this long to grow a cycle; 0: every iteration. */
    int64_t wal_dsync_bytes_max;   /* A lone cycle (no earlier cycle of its WAL file on disk)
                                      of one write up to this size is that write with
                                      RWF_DSYNC, no fdatasync. 0: 512 KiB
                                      (SB_WAL_CYCLE_CHUNK_BYTES); negative: never. */
    uint64_t flush_interval_ns;    /* Flush a memtable holding data this old. 0: 30 s. */
    uint32_t batch_bytes_max;      /* Largest new batch accepted (<= SB_STORE_BATCH_BYTES_MAX;
                                    * stored batches are checked against that). 0: 1 MiB. */
    uint32_t partitions_max;       /* Partitions open at once. 0: 16384. */
    uint32_t segments_max;         /* Segment files open at once. 0: 65536. */
    uint64_t block_cache_bytes;    /* Segment read cache (64 KiB blocks). 0: 64 MiB. */
    int64_t readahead_bytes;       /* Segment reads load this far ahead of what they copy,
                                      beyond their max_bytes, into the cache. 0: 2 MiB
                                      (SB_STORE_READAHEAD_BYTES); negative: none. */
    uint64_t index_bytes;          /* Memory for segment indexes. 0: 32 MiB. */
    uint32_t index_interval_bytes; /* One index entry per this much data. 0: 64 KiB. */
    uint32_t flush_concurrency;    /* Partitions written at once (each writer holds a staging
                                      buffer of about batch_bytes_max). 0: 16. */
    uint32_t flush_sync_concurrency; /* fdatasyncs a flush round keeps in flight (no buffer
                                        each, only an op). 0: 256. */
    uint32_t flush_syncfs_partitions_min; /* A round over at least this many partitions makes
                                             them durable with one syncfs instead of one
                                             fdatasync each (docs/storage.md, "Flush"), if
                                             the kernel reports syncfs errors (>= 5.8).
                                             0: never (the broker's setting
                                             flush_syncfs_partitions is 256). */
    uint64_t retention_check_interval_ns; /* Retention runs from sb_store_iteration_end at
                                             most this often (io clock). 0: 5 s. */
    uint32_t compaction_keys_max;  /* Distinct keys one compaction pass can map (a map of
                                      16-byte slots at most 3/4 full, allocated at open:
                                      32 MiB for 1M). 0: 1M. */
    uint64_t producer_expiration_ms; /* Forget an idempotent producer idle this long.
                                        0: 1 day. */
    sb_store_lookup_fn lookup;     /* Recovery's question to the broker (may be NULL: keep). */
    void *lookup_context;          /* For lookup (and durable). */
    /* Called when a partition's durable offset moves (and, unless hold_high_watermark, its
     * high watermark with it: new data is visible). May be NULL. */
    void (*durable)(void *context, struct sb_partition *partition);
    bool hold_high_watermark;      /* true: the high watermark moves only by
                                      sb_partition_advance_high_watermark; false: it follows
                                      the durable offset. Both start equal at open. */
};

struct sb_store_stats {
    uint64_t cycles;              /* Commit cycles made durable. */
    uint64_t cycle_bytes;         /* WAL bytes written by them (padding included). */
    uint64_t cycle_retries;       /* Cycles written again after a failed write or fsync. */
    uint64_t cycles_behind;       /* Cycles issued while an earlier one was on disk. */
    uint64_t cycles_held;         /* Cycles synced before an earlier one, held until it was. */
    uint64_t cycles_redone;       /* Cycles synced behind a failed one, written again. */
    uint64_t cycle_syncs_waited;  /* Cycles whose fdatasync waited for an earlier cycle's
                                     fdatasync of the same WAL file. */
    uint64_t wal_generations;     /* Cycles that began a WAL file's new generation. */
    uint64_t cycles_dsync;        /* Cycles issued as one RWF_DSYNC write (no fdatasync). */
    uint64_t cycles_behind_dsync; /* Cycles issued while an earlier dsync cycle was writing. */
    uint64_t cycles_on_disk;      /* Now: cycles whose writes or fdatasync were issued and
                                     that are not yet committed (a gauge, not a count). */
    uint64_t appends;             /* Batches appended. */
    uint64_t append_refusals;     /* Appends refused for lack of memtable space. */
    uint64_t flushes;             /* Flush rounds completed. */
    uint64_t flush_failures;      /* Flush rounds that failed and will be retried. */
    uint64_t flush_syncfs;        /* Flush rounds made durable by one syncfs. */
    uint64_t segment_bytes_written; /* Bytes written to segments. */
    uint64_t segment_data_writes; /* Segment data writes issued (footers not counted). */
    uint64_t segment_data_write_bytes_max; /* The largest of them, in bytes. */
    uint64_t cache_hits;          /* Block cache hits. */
    uint64_t cache_misses;        /* Block cache misses (disk reads). */
    uint64_t corrupt_reads;       /* Batches that failed a CRC on read (never served). */
    uint64_t recovered_batches;   /* Batches replayed from the WAL at open. */
    uint64_t recovery_corruptions; /* Corrupt regions of durable data found at open. */
    uint64_t recovery_ns;         /* Time sb_store_open spent recovering. */
    uint64_t compactions;         /* Compaction passes finished. */
    uint64_t compaction_failures; /* Compaction passes that failed (retried later). */
    uint64_t compacted_segments;  /* Segments compaction rewrote or deleted. */
    uint64_t compaction_records_removed; /* Records compaction removed. */
    uint64_t memtable_used_bytes; /* Ring bytes in use now. */
};

/* Opens (creating if needed) and recovers the shard's store. Runs the io until recovery is
 * done, so call it on the shard's thread before serving. Recovery replays the WAL and flushes
 * everything into segments. Returns 0; -EBUSY if another process holds the directory;
 * SB_ECORRUPT if the manifest or a WAL region that must be durable is corrupt (logged with
 * file and position); -errno for I/O errors. `timers` is the shard's timer heap (borrowed). */
int sb_store_open(struct sb_io *io, struct sb_timer_heap *timers,
                  const struct sb_store_config *config, struct sb_store **store_out);
/* Starts a clean stop: the last cycle, a flush and a checkpoint. Appends are refused from now
 * on (SB_ESHUTDOWN). Poll sb_store_idle, then sb_store_close. */
void sb_store_shutdown(struct sb_store *store);
/* True when no I/O of the store is in flight and nothing is left to write. */
bool sb_store_idle(const struct sb_store *store);
/* Frees everything (after shutdown and idle, or after a fatal error). Unlocks the directory.
 * Ops still in flight are abandoned (reads never call back): close with them only when the io
 * will complete nothing more, as after a simulated power cut. */
void sb_store_close(struct sb_store *store);
/* Call at the end of every loop iteration: starts commit cycles, flushes, retention and
 * compaction. */
void sb_store_iteration_end(struct sb_store *store);
void sb_store_stats(const struct sb_store *store, struct sb_store_stats *stats_out);
/* 0 while segment flushes succeed; while they keep failing, the last failure's error
 * (-ENOSPC or -EDQUOT: the disk is full). A full memtable that cannot drain because of it
 * should be reported to producers as this error, not waited out. */
int sb_store_flush_error(const struct sb_store *store);

/* Opens a partition (creating its directory), or returns the one recovery already opened
 * (its config is replaced). Returns 0, -ENOSPC if partitions_max are open, -errno. */
int sb_store_partition_open(struct sb_store *store, uint32_t topic_id, uint32_t partition,
                            const struct sb_partition_config *config,
                            struct sb_partition **partition_out);
/* The open partition, or NULL. */
struct sb_partition *sb_store_partition_find(struct sb_store *store, uint32_t topic_id,
                                             uint32_t partition);
/* Deletes the partition and all its data (topic deletion). Pending reads complete with
 * -ENOENT; the memory is reused once nothing refers to it. Returns 0 or -errno. */
int sb_store_partition_drop(struct sb_store *store, struct sb_partition *partition);
/* Replaces the configuration; a compacted partition is compacted again at the next check. */
void sb_partition_set_config(struct sb_partition *partition,
                             const struct sb_partition_config *config);

struct sb_append;
typedef void (*sb_append_callback)(struct sb_append *append);

/* Caller-owned record of one append, for the durability callback. */
struct sb_append {
    sb_append_callback callback; /* Runs when durable (result 0) or on a fatal error. */
    void *context;               /* For the callback. */
    int64_t base_offset;         /* Set by sb_partition_append. */
    int result;                  /* 0 when durable; SB_ESHUTDOWN if the store closed first. */
    uint64_t ring_end;           /* Store-private: durable once the WAL reaches this. */
    struct sb_append *next;      /* Store-private: FIFO of appends waiting for durability. */
};

/* Appends one record batch (validated: header and payload CRC; the broker's copy of the
 * bytes is untouched). Assigns base offset = log end offset, applies log-append time if the
 * partition uses it, and copies it into the WAL ring. `append` (may be NULL) is notified when
 * the batch is durable. Returns 0; SB_ECORRUPT for a bad batch; -EMSGSIZE above
 * batch_bytes_max; -ENOBUFS when the memtable is full (retry after it flushes); -EROFS when
 * the partition is fenced; SB_ESHUTDOWN after sb_store_shutdown.
 * Idempotent batches (producer id and base sequence set, storage/producer.c): -EEXIST for a
 * retry of one of the producer's recent batches (nothing appended; sb_partition_
 * duplicate_offset names the original; `append` gets it and is notified once everything
 * appended so far is durable); -EILSEQ for a sequence gap or a new epoch not starting at 0;
 * -ESTALE for an old epoch; -ESRCH for an unknown (new, expired or evicted) producer not
 * starting at sequence 0; SB_EFULL when a new producer finds the partition's table full of
 * producers idle less than min(5 min, producer_expiration_ms) (retriable). */
int sb_partition_append(struct sb_partition *partition, const uint8_t *batch,
                        uint32_t batch_bytes, struct sb_append *append,
                        sb_append_callback callback, void *context);
/* sb_partition_append for a batch whose payload CRC the caller has already checked with
 * sb_batch_verify (the broker checks every batch of a partition before appending any, so a
 * bad one refuses them all), its bytes unchanged since: the payload is not hashed again (in
 * SB_DEBUG_ASSERTS builds it is, as an assertion). The header is still decoded and its CRC
 * checked (64 bytes). Same results as sb_partition_append. */
int sb_partition_append_verified(struct sb_partition *partition, const uint8_t *batch,
                                 uint32_t batch_bytes, struct sb_append *append,
                                 sb_append_callback callback, void *context);
/* The log-append time (ms) stamped into the last batch the partition appended, or -1 when
 * that batch kept its create time (the partition's config has log_append_time false). */
int64_t sb_partition_append_time(const struct sb_partition *partition);

/* Base offset of the original batch of the last -EEXIST from sb_partition_append. */
int64_t sb_partition_duplicate_offset(const struct sb_partition *partition);
int64_t sb_partition_log_start_offset(const struct sb_partition *partition);
/* Next offset to be assigned. */
int64_t sb_partition_log_end_offset(const struct sb_partition *partition);
/* Offsets below it are in the fdatasync'ed WAL (locally durable). */
int64_t sb_partition_durable_offset(const struct sb_partition *partition);
/* Offsets below it are visible to readers; never above the durable offset. */
int64_t sb_partition_high_watermark(const struct sb_partition *partition);
/* Raises the high watermark to `offset` (a batch boundary, at most the durable offset); a
 * lower `offset` changes nothing. Readers waiting on the partition are the caller's to wake. */
void sb_partition_advance_high_watermark(struct sb_partition *partition, int64_t offset);
uint32_t sb_partition_topic_id(const struct sb_partition *partition);
uint32_t sb_partition_index(const struct sb_partition *partition);
/* True if corruption was found; offsets >= *fenced_offset_out are never served. */
bool sb_partition_fenced(const struct sb_partition *partition, int64_t *fenced_offset_out);

struct sb_read;
typedef void (*sb_read_callback)(struct sb_read *read);

/* Caller-owned read: whole batches starting with the one that holds `offset`. */
struct sb_read {
    int64_t offset;           /* In: first offset wanted. */
    uint32_t max_bytes;       /* In: stop before exceeding (but always one whole batch). */
    uint8_t *buffer;          /* In: destination (borrowed until the callback). */
    uint32_t capacity;        /* In: bytes of buffer; a first batch bigger than it is -ENOSPC
                                 (whatever limit it was stored under). */
    sb_read_callback callback; /* In: runs when a read that returned 0 finishes. */
    void *context;            /* In: for the callback. */
    int result;               /* Out: 0; -ERANGE (offset outside the log); SB_ECORRUPT
                                 (a stored batch failed its CRC: reported, not served);
                                 -EROFS (fenced); -ENOENT (dropped); -errno. */
    uint32_t bytes;           /* Out: bytes of whole batches in buffer. */
    uint32_t crc;             /* Out: CRC32C of buffer[0, bytes) (from 0): a batch from a
                                 segment adds its header's and its payload CRC just checked,
                                 so a response's frame CRC need not read it again. */
    uint32_t needed_bytes;    /* Out: with -ENOSPC, the first batch's size: read again with at
                                 least that capacity. */
    int64_t high_watermark;   /* Out: at the time of completion. */
    int64_t log_start_offset; /* Out: at the time of completion. */
    uint64_t state[32];       /* Store-private state of a read in progress. */
};

/* Starts a read. Returns 1 if it completed now (no callback), 0 if it continues in the
 * background (callback later), or a negative error now (no callback). Offsets at or beyond
 * the high watermark give result 0 with bytes 0. */
int sb_partition_read(struct sb_partition *partition, struct sb_read *read);

struct sb_time_lookup;
typedef void (*sb_time_lookup_callback)(struct sb_time_lookup *lookup);

/* Caller-owned lookup of the first offset whose record timestamp is >= timestamp_ms. */
struct sb_time_lookup {
    int64_t timestamp_ms;             /* In. */
    sb_time_lookup_callback callback; /* In: runs when a lookup that returned 0 finishes. */
    void *context;                    /* In. */
    int result;                       /* Out: 0 or -errno / SB_ECORRUPT; -ENOSPC: the batch
                                         does not fit in buffer. */
    uint32_t needed_bytes;            /* Out: with -ENOSPC, that batch's size. */
    int64_t offset;                   /* Out: the offset, or the high watermark if none. */
    int64_t found_timestamp_ms;       /* Out: that record's timestamp, or -1. */
    uint8_t *buffer;                  /* In: room for one batch (batch_bytes_max; a batch
                                         stored under a higher limit may need more). */
    uint32_t capacity;                /* In: bytes of buffer. */
    struct sb_partition *partition;   /* Store-private: the partition asked. */
    struct sb_read read;              /* Store-private: the read it makes. */
};

/* Returns 1 (done now), 0 (callback later) or a negative error. */
int sb_partition_offset_for_time(struct sb_partition *partition, struct sb_time_lookup *lookup);

#endif /* SB_STORAGE_STORE_H */
