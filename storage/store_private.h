/*
 * storage/store_private.h - the store's internal state, shared by the files
 * of storage/ (nothing outside storage/ includes it):
 *   store.c     open/close, partition table, the iteration hook
 *   wal.c       the ring (= memtable), appends, commit cycles, WAL files
 *   segment.c   segment files: create, scan, index, footer, close
 *   flush.c     memtable -> segments, the manifest, checkpoints
 *   cache.c     the block cache for segment reads
 *   read.c      reads by offset and by timestamp
 *   recovery.c  opening a store: lock, manifest, segments, WAL replay
 *   retention.c retention by time and size; starts key compaction
 *   compaction.c key compaction: the key map, segment rewrites, the swap
 *
 * Positions in the ring are logical byte counts that only grow; the byte at
 * logical position p lives at ring[p % ring_bytes].
 *
 *   tail <= flush_end <= committed <= cycle_end <= sealed <= head
 *   |  being flushed  | durable |  in flight  | sealed | open |
 */
#ifndef SB_STORAGE_STORE_PRIVATE_H
#define SB_STORAGE_STORE_PRIVATE_H

#include <stdbool.h>
#include <stdint.h>
#include <assert.h>
#include <sys/uio.h>

#include "core/io.h"
#include "core/slab.h"
#include "core/timer.h"
#include "proto/batch.h"
#include "storage/format.h"
#include "storage/store.h"

#define SB_STORE_NONE UINT32_MAX
#define SB_CACHE_BLOCK_BYTES (64u * 1024u)
#define SB_INDEX_CHUNK_ENTRIES 168u
/* Writes a commit cycle is cut into (they run concurrently, then one fdatasync). */
#define SB_WAL_CYCLE_WRITES_MAX 16u
#define SB_WAL_CYCLE_CHUNK_BYTES (512u << 10)
/* Commit cycles sealed and not yet durable (those on disk included). */
#define SB_STORE_SEALED_CYCLES_MAX 64u
/* Commit cycles on disk at once (writes or fdatasync in flight), acknowledged in log order. */
#define SB_WAL_CYCLES_IN_FLIGHT_MAX 2u
static_assert(SB_WAL_CYCLES_IN_FLIGHT_MAX >= 1 &&
                  SB_WAL_CYCLES_IN_FLIGHT_MAX <= SB_STORE_SEALED_CYCLES_MAX,
              "cycles on disk are sealed cycles");
/* Retry back-off for failed WAL cycles and flushes. */
#define SB_STORE_RETRY_MIN_NS (1000ull * 1000ull)
#define SB_STORE_RETRY_MAX_NS (1000ull * 1000ull * 1000ull)

/* One batch in the memtable: a slot of the FIFO that parallels the ring. */
struct memtable_entry {
    uint64_t ring_position;   /* Logical position of the batch bytes (after its WAL header). */
    uint64_t sequence;        /* WAL sequence of its entry. */
    int64_t base_offset;      /* First offset. */
    int64_t max_timestamp_ms; /* Largest record timestamp. */
    uint32_t batch_bytes;     /* Batch length. */
    uint32_t record_count;    /* Records in the batch. */
    uint32_t partition_slot;  /* Owner, or SB_STORE_NONE once its partition was dropped. */
    uint32_t next;            /* FIFO index of the owner's next batch, or SB_STORE_NONE. */
};

/* Idempotent producers (producer.c). */
#define SB_PRODUCER_RECENT SB_PRODUCER_ENTRY_RECENT
/* A full table gives a newcomer the slot of its least recently used producer once that one
 * has been idle this long (or producer_expiration_ms, if shorter): longer than a client's
 * delivery timeout (2 minutes by default), so the producer evicted cannot still be retrying. */
#define SB_PRODUCER_EVICT_IDLE_MS (5ll * 60ll * 1000ll)

struct producer_batch {
    int32_t first_sequence; /* Base sequence of a recent batch. */
    int32_t last_sequence;  /* Its last sequence. */
    int64_t base_offset;    /* Where it was appended. */
};

/* What a producer did in a partition up to some offset. */
struct producer_history {
    int16_t epoch;                                    /* Epoch of the batches below. */
    int32_t last_sequence;                            /* Last sequence (-1: none yet). */
    struct producer_batch recent[SB_PRODUCER_RECENT]; /* Last batches, for duplicates. */
    uint32_t recent_count;                            /* Entries used. */
    uint32_t recent_next;                             /* Next entry to overwrite. */
};

struct producer_state {
    int64_t producer_id;              /* Who. */
    int64_t last_used_ms;             /* Wall clock of its last append (age, LRU). */
    struct producer_history appended; /* Up to the log end: appends are checked against it. */
    struct producer_history flushed;  /* Up to the partition's flushed_offset: what the next
                                         segment's snapshot records. */
    struct producer_state *next;      /* Partition list or free list. */
};

_Static_assert(SB_PRODUCER_SNAPSHOT_MAX >= SB_STORE_PRODUCERS_PER_PARTITION,
               "a partition's producers fit in a segment's header block");

struct index_chunk {
    struct sb_index_entry entries[SB_INDEX_CHUNK_ENTRIES]; /* In offset order. */
    uint32_t count;                                        /* Entries used. */
    struct index_chunk *next;                              /* Next chunk of the segment. */
};

struct segment {
    struct sb_partition *partition; /* Owner. */
    uint32_t id;                    /* Unique in the store while open (cache key). */
    int fd;                         /* Open O_DIRECT descriptor. */
    int64_t base_offset;            /* File name; first offset it may hold. */
    int64_t last_offset;            /* Last offset covered (compaction may have removed
                                       it), or base_offset - 1 if empty. */
    uint64_t data_end;              /* Byte after the last batch written. */
    uint64_t durable_data_end;      /* data_end as of the last fdatasync. */
    uint64_t record_count;          /* Records in it. */
    uint32_t batch_count;           /* Batches in it. */
    int64_t min_timestamp_ms;       /* Smallest record timestamp (INT64_MAX if empty). */
    int64_t max_timestamp_ms;       /* Largest record timestamp (INT64_MIN if empty). */
    int64_t last_write_ns;          /* Wall clock of the last append (retention age). */
    bool closed;                    /* Has a footer; immutable. */
    uint32_t pins;                  /* Reads and read-ahead loads in progress; deletion
                                       waits for 0. */
    bool doomed;                    /* Delete once unpinned. */
    bool detached;                  /* In no partition list, counted in no total: a compaction
                                       copy before its swap, or the original after it. */
    bool replaced;                  /* Replaced by its compaction copy: close (never unlink)
                                       once unpinned; on the store's replaced list. */
    bool header_pending;            /* Block 0 not written yet (the first flush writes it). */
    uint32_t index_count;           /* Entries in the index chunks. */
    struct index_chunk *index_head; /* Sparse index (may be partial if memory ran out). */
    struct index_chunk *index_tail; /* Last chunk. */
    uint64_t index_next_position;   /* Next data position that earns an index entry. */
    uint64_t readahead_block;       /* Block after the last one read-ahead asked for. */
    int64_t read_next_offset;       /* Offset after the last batch a read copied from it (0:
                                       none): a read starting there is sequential. */
    struct segment *previous;       /* Older segment of the same partition. */
    struct segment *next;           /* Newer segment. */
};

struct sb_partition {
    struct sb_store *store;            /* Owner. */
    uint32_t slot;                     /* Index in the partition pool. */
    bool used;                         /* Slot in use. */
    bool dropped;                      /* Deleted; slot freed when unreferenced. */
    uint32_t topic_id;                 /* Topic. */
    uint32_t partition;                /* Partition index. */
    struct sb_partition_config config; /* Current configuration. */
    int64_t log_start_offset;          /* First offset kept. */
    int64_t next_offset;               /* Log end: next offset to assign. */
    int64_t durable_offset;            /* Offsets below are durable (WAL). */
    int64_t high_watermark;            /* Offsets below are served; <= durable_offset. */
    int64_t flushed_offset;            /* Offsets below are in segments. */
    bool fenced;                       /* Corruption found. */
    int64_t fenced_offset;             /* First offset never served when fenced. */
    uint32_t memtable_first;           /* FIFO index of its oldest batch, or NONE. */
    uint32_t memtable_last;            /* FIFO index of its newest batch, or NONE. */
    uint32_t memtable_count;           /* Batches in the memtable. */
    uint32_t read_hint;                /* FIFO index a recent read ended at, or NONE. */
    uint64_t read_hint_sequence;       /* Sequence of that entry (detects reuse). */
    struct segment *oldest;            /* Segment list, oldest first. */
    struct segment *newest;            /* Open segment (or NULL before the first flush). */
    uint64_t segment_bytes_total;      /* Data bytes in all segments. */
    uint32_t pins;                     /* Reads in progress. */
    struct producer_state *producers;  /* Idempotent producers seen here. */
    uint32_t producer_count;           /* Entries in producers. */
    int64_t duplicate_offset;          /* Original offset of the last duplicate refused. */
    int64_t append_time_ms;            /* Log-append time stamped into the last batch
                                          appended, or -1 (it kept its create time). */
    bool needs_dir_sync;               /* A file was created in its directory since the
                                          last flush: fsync the directory. */
    bool in_flush_list;                /* Queued for the running flush. */
    bool syncfs_pass;                  /* Waits for the round's syncfs (on flush_syncfs_list)
                                          with the pass below, or only its directory. */
    struct segment *syncfs_segment;    /* That pass: its segment (NULL: directory only), */
    int64_t syncfs_pending_offset;     /*   the offset after its last batch, */
    uint64_t syncfs_pending_end;       /*   and the segment position after it. */
    struct sb_partition *syncfs_next;  /* Next on flush_syncfs_list. */
    int64_t compaction_newest_base;    /* Open segment's base offset when the last finished
                                          compaction pass began (a new one: compact again). */
    int64_t compaction_due_ms;         /* Compact again from this wall-clock time (kept
                                          tombstones or young segments become removable). */
    struct sb_partition *flush_next;   /* Next partition to flush. */
    struct sb_partition *hash_next;    /* Partition table chain. */
};

struct wal_file {
    int fd;                   /* O_DIRECT descriptor. */
    uint64_t generation;      /* Current generation (0: never used). */
    uint64_t file_bytes;      /* Size its current generation was written for (0: none). */
    uint64_t first_sequence;  /* First sequence of this generation. */
    uint64_t last_sequence;   /* Last sequence written (valid if has_entries). */
    bool has_entries;         /* Any entry written in this generation. */
    uint64_t write_position;  /* Next byte to write (>= 4096). */
};

/* A sealed commit cycle waiting for its write. */
struct wal_cycle {
    uint64_t start;           /* Ring position (4096-aligned). */
    uint64_t end;             /* Ring position (4096-aligned). */
    uint64_t first_sequence;  /* Sequence of its first entry. */
    uint64_t last_sequence;   /* Sequence of its last entry. */
    bool placed;              /* File, position and header stamps chosen (kept across retries). */
    bool new_generation;      /* Starts a new generation: the header block goes first. */
    uint32_t file_index;      /* File it goes to. */
    uint64_t generation;      /* That file's generation for this cycle. */
    uint64_t file_position;   /* Where its first entry goes in that file. */
    uint64_t created_ns;      /* new_generation: the header's creation time (a retry writes
                                 the same header bytes). */
};

enum wal_flight_phase {
    WAL_FLIGHT_WRITING = 0, /* Its writes are in flight. */
    WAL_FLIGHT_WRITTEN,     /* Writes done; its fdatasync waits for an earlier cycle's
                               fdatasync of the same file to complete. */
    WAL_FLIGHT_SYNCING,     /* Its fdatasync is in flight. */
    WAL_FLIGHT_DURABLE,     /* Synced; waits for every earlier cycle to be durable. */
    WAL_FLIGHT_FAILED,      /* A write or the fdatasync failed, or an earlier cycle did. */
};

/* One commit cycle on disk: its writes, then its own fdatasync on its own file; or, for a
 * lone cycle of one write (dsync), that write with RWF_DSYNC, DURABLE when it completes. */
struct wal_flight {
    struct sb_store *store;          /* Owner (the ops' context). */
    struct sb_io_op writes[SB_WAL_CYCLE_WRITES_MAX]; /* Its writes, issued together. */
    struct sb_io_op sync;            /* Its fdatasync. */
    uint8_t *header_block;           /* 4096 bytes for a new generation's header (owned). */
    int fd;                          /* Its WAL file (the fdatasync's). */
    uint32_t writes_pending;         /* Writes not completed. */
    bool dsync;                      /* Its one write is a WRITE_DSYNC: no fdatasync follows. */
    int error;                       /* First failure (0: none). */
    enum wal_flight_phase phase;     /* State. */
};

struct wal {
    uint8_t *ring;                     /* memtable_bytes, 4096-aligned (owned). */
    uint64_t ring_bytes;               /* Size of ring. */
    uint64_t tail;                     /* Oldest byte still needed. */
    uint64_t committed;                /* Durable up to here. */
    uint64_t sealed;                   /* Cycles sealed up to here. */
    uint64_t head;                     /* Next append. */
    uint64_t next_sequence;            /* Sequence of the next entry. */
    uint64_t open_cycle_sequence;      /* First sequence appended since the last seal. */
    uint64_t open_cycle_since_ns;      /* When the first unsealed byte was appended. */
    struct wal_cycle sealed_cycles[SB_STORE_SEALED_CYCLES_MAX]; /* FIFO of sealed cycles. */
    uint32_t sealed_first;             /* FIFO head index. */
    uint32_t sealed_count;             /* Cycles waiting. */
    /* Cycle sealed_first + k is on disk in flights[(flights_first + k) % MAX], k < flying. */
    struct wal_flight flights[SB_WAL_CYCLES_IN_FLIGHT_MAX];
    uint32_t flights_first;            /* Flight of the oldest cycle on disk. */
    uint32_t flying;                   /* Cycles on disk. */
    bool failing;                      /* A cycle failed: nothing new starts until all land. */
    bool backing_off;                  /* Waiting for retry_timer to start them again. */
    bool dsync_refused;                /* A dsync write failed -EINVAL/-EOPNOTSUPP: no more. */
    uint32_t current_file;             /* File written to. */
    struct wal_file *files;            /* wal_file_count files (owned). */
    uint64_t next_generation;          /* Next generation number. */
    uint64_t retry_delay_ns;           /* Current back-off. */
    struct sb_timer retry_timer;       /* Fires to retry a failed cycle. */
    struct sb_timer delay_timer;       /* Wakes the loop when the commit delay ends. */
    struct sb_append *appends_head;    /* Appends waiting for durability, in ring order. */
    struct sb_append *appends_tail;    /* Last of them. */
    struct memtable_entry *fifo;       /* memtable_batches_max entries (owned). */
    uint32_t fifo_capacity;            /* Entries in fifo. */
    uint32_t fifo_head;                /* Oldest entry. */
    uint32_t fifo_count;               /* Entries in use. */
    uint32_t fifo_durable;             /* Entries made durable (from fifo_head). */
};

enum flush_phase {
    FLUSH_IDLE = 0,
    FLUSH_SEGMENTS,
    FLUSH_SYNCFS,
    FLUSH_MANIFEST_WRITE,
    FLUSH_MANIFEST_SYNC,
    FLUSH_MANIFEST_PARENT_SYNC,
    FLUSH_BACKING_OFF,
};

/* One partition being flushed by one writer. */
struct flush_writer {
    struct sb_store *store;         /* Owner. */
    struct sb_partition *partition; /* Partition being flushed (NULL: idle writer). */
    struct segment *segment;        /* Segment being written. */
    uint8_t *staging;               /* Staging buffer (sb_pages_map, owned). */
    uint32_t staging_mapped;        /* Its size, for sb_pages_unmap. */
    uint32_t staged;                /* Bytes staged (from a 4096 boundary). */
    int64_t pending_offset;         /* Offsets below are written in this pass (maybe unsynced). */
    uint64_t pending_end;           /* File position after the last batch written. */
    bool tail_in_staging;           /* The last write's partial block is in staging. */
    uint64_t write_position;        /* File position of staging[0]. */
    uint32_t phase;                 /* Writer state (flush.c). */
    uint32_t sync_kind;             /* WRITER_SYNC_WAIT: the sync it waits to hand over. */
    struct sb_io_op op;             /* I/O in flight. */
    char path[384];                 /* WRITER_CREATE: the new segment file (op's path). */
};

/* One fdatasync (or directory fsync) of a flush round: a writer hands its partition over to
 * one when its writes are done, and takes the next partition while the sync is in flight. */
struct flush_sync {
    struct sb_store *store;         /* Owner. */
    struct sb_partition *partition; /* Partition it makes durable (NULL: free). */
    struct segment *segment;        /* Segment synced (data and footer syncs). */
    int64_t pending_offset;         /* Data sync: offsets below are flushed once it succeeds. */
    uint64_t pending_end;           /* Data sync: file position after the last batch written. */
    uint32_t kind;                  /* What it syncs (enum flush_sync_kind, flush.c). */
    int directory_fd;               /* Directory sync: the descriptor (owned), else -1. */
    struct flush_sync *next_free;   /* Next free sync (store->flush_sync_free). */
    struct sb_io_op op;             /* The fsync in flight. */
};

/* The private part of a struct sb_read in progress (lives in sb_read.state). */
struct read_state {
    struct sb_partition *partition; /* Pinned while the read runs. */
    struct segment *segment;        /* Pinned segment being read, or NULL. */
    uint64_t position;              /* File position of the current batch. */
    uint32_t batch_bytes;           /* Current batch length (0: header not read yet). */
    uint32_t batch_copied;          /* Bytes of the current batch copied so far. */
    uint32_t header_have;           /* Header bytes gathered. */
    bool copying;                   /* Copying the current batch (else skipping it). */
    bool time_mode;                 /* Timestamp lookup: copy the first batch reaching it. */
    bool sequential;                /* It continues the segment's last read: load ahead. */
    int64_t timestamp_ms;           /* time_mode target. */
    int64_t limit_offset;           /* Serve only offsets below (the high watermark). */
    struct sb_read *next_waiter;    /* Next read waiting for the same cache block. */
    uint8_t header[64];             /* Batch header being gathered. */
};

struct cache_block {
    uint64_t key;             /* (segment id << 32) | block index; 0: empty. */
    uint8_t *data;            /* SB_CACHE_BLOCK_BYTES (borrowed from the cache arena). */
    uint32_t valid_bytes;     /* Bytes read (short at the end of a file). */
    bool loading;             /* A read is in flight. */
    bool referenced;          /* Clock bit. */
    struct sb_io_op op;       /* The read. */
    struct sb_read *waiters;  /* Reads waiting for this block (linked through their state). */
    struct segment *ahead;    /* Segment a read-ahead load pins until it lands, or NULL. */
    struct cache_block *hash_next; /* Hash chain. */
};

struct block_cache {
    struct cache_block *blocks;   /* block_count blocks (owned). */
    uint8_t *memory;              /* block_count * 64 KiB (owned). */
    uint32_t block_count;         /* Blocks. */
    uint32_t clock_hand;          /* Next eviction candidate. */
    struct cache_block **buckets; /* Hash table (owned). */
    uint32_t bucket_mask;         /* Buckets - 1. */
    uint32_t ahead_loading;       /* Read-ahead loads in flight. */
};

enum compaction_phase {
    COMPACTION_IDLE = 0,
    COMPACTION_CLEAR,     /* Emptying the key map, a chunk per yield. */
    COMPACTION_MAP,       /* Reading every segment into the key map. */
    COMPACTION_SCAN,      /* Reading a candidate for a record to remove. */
    COMPACTION_COPY,      /* Reading the candidate again and writing its copy. */
    COMPACTION_FOOTER,    /* Writing the copy's last data block and its footer. */
    COMPACTION_SYNC,      /* fdatasync of the copy. */
    COMPACTION_DIR_SYNC,  /* fsync of the directory after a rename or a deletion. */
};

/* One slot of the key map; hash 0 marks an empty slot. */
struct compaction_slot {
    uint64_t hash;  /* 64-bit hash of a key (never 0). */
    int64_t offset; /* Latest offset seen with that key. */
};

/* The store's one compaction pass (compaction.c). */
struct compaction {
    enum compaction_phase phase;     /* Where the pass is. */
    struct sb_partition *partition;  /* Partition being compacted (pinned), or NULL. */
    struct segment *segment;         /* Segment being read (pinned), or NULL. */
    struct segment *copy;            /* Its copy being written (detached), or NULL. */
    int directory_fd;                /* Partition directory during DIR_SYNC, else -1. */
    uint32_t next_slot;              /* Partition slot the next search for work starts at. */
    int64_t now_ms;                  /* Wall clock when the pass began (all decisions use it). */
    int64_t map_last_base;           /* Base offset of the newest segment when the pass began. */
    int64_t mapped_end;              /* Last offset of the last closed segment mapped whole. */
    int64_t due_ms;                  /* When a record this pass kept becomes removable. */
    struct compaction_slot *slots;   /* The key map (owned). */
    uint64_t slots_bytes;            /* Size of the slots mapping. */
    uint32_t slot_mask;              /* Slots - 1 (a power of two, > keys_max * 4 / 3). */
    uint32_t keys;                   /* Slots in use. */
    uint32_t keys_max;               /* compaction_keys_max. */
    uint64_t clear_next;             /* CLEAR: next slot to empty. */
    bool map_dirty;                  /* Slots may hold keys of an earlier pass. */
    uint8_t *input;                  /* Window of the segment file (owned, aligned). */
    uint32_t input_capacity;         /* Its size. */
    uint64_t window_start;           /* File position of input[0]. */
    uint32_t window_bytes;           /* Bytes read into input. */
    uint64_t position;               /* File position of the batch to consume next. */
    uint64_t end;                    /* Durable data end of the segment being read. */
    int64_t last_seen_offset;        /* Last offset of the batch before position. */
    bool batch_open;                 /* The batch at position is being consumed. */
    struct sb_batch_header batch;    /* Its header. */
    const uint8_t *batch_data;       /* Its bytes (in input). */
    struct sb_record_iter iterator;  /* Its records (in input or in records). */
    uint8_t *records;                /* A compressed batch's record area (owned). */
    uint32_t records_capacity;       /* Its size. */
    uint8_t *run;                    /* A header slot and a run of surviving records (owned). */
    uint32_t run_bytes;              /* Encoded records in run. */
    uint32_t run_count;              /* Records in run. */
    int64_t run_first_offset;        /* Offset of the run's first record. */
    int64_t run_max_timestamp_ms;    /* Largest timestamp in the run. */
    bool batch_trimmed;              /* The open batch lost a record (else copied whole). */
    uint8_t *packed;                 /* A run compressed again (owned). */
    uint32_t packed_capacity;        /* Its size: the largest codec bound of a record area. */
    uint8_t *output;                 /* Copy bytes not written yet (owned, aligned). */
    uint32_t output_capacity;        /* Its size. */
    uint32_t staged;                 /* Bytes in output. */
    uint64_t write_position;         /* File position of output[0]. */
    uint64_t removed;                /* Records the copy being written leaves out. */
    struct sb_io_op op;              /* The read, write, fsync or yield in flight. */
};

struct sb_store {
    struct sb_io *io;                      /* The shard's io (borrowed). */
    struct sb_timer_heap *timers;          /* The shard's timers (borrowed). */
    struct sb_store_config config;         /* With defaults filled in. */
    char shard_dir[256];                   /* <data>/shards/<id>. */
    char partitions_dir[256];              /* <data>/partitions. */
    int lock_fd;                           /* flock()ed LOCK file. */
    int shard_dir_fd;                      /* For directory fsyncs. */
    int partitions_dir_fd;                 /* For directory fsyncs. */
    bool shutting_down;                    /* sb_store_shutdown was called. */
    bool failed;                           /* A fatal error; nothing more is written. */
    struct wal wal;                        /* Ring, cycles, WAL files. */
    struct sb_partition *partitions;       /* partitions_max slots (owned). */
    struct sb_partition **table;           /* Hash buckets (owned). */
    uint32_t table_mask;                   /* Buckets - 1. */
    uint32_t partition_count;              /* Slots used. */
    struct sb_slab segment_slab;           /* segments_max segments. */
    struct segment *replaced_segments;     /* Replaced segments still pinned (through next). */
    uint32_t next_segment_id;              /* Never 0. */
    struct sb_slab index_chunk_slab;       /* index_bytes of sparse index chunks. */
    struct sb_slab producer_slab;          /* Idempotent producer states. */
    struct block_cache cache;              /* Segment read cache. */
    uint64_t checkpoint_sequence;          /* WAL entries below are in segments. */
    enum flush_phase flush_phase;          /* Flush state. */
    uint64_t flush_end;                    /* Ring position the running flush covers. */
    uint32_t flush_end_fifo;               /* FIFO entries before this are being flushed. */
    uint64_t flush_end_sequence;           /* First sequence not covered. */
    struct sb_partition *flush_list;       /* Partitions left to flush. */
    uint32_t flush_active;                 /* Partitions held by a writer or a sync. */
    bool flush_failed;                     /* A writer failed this round. */
    int flush_error;                       /* Last failed round's error; 0 after a success. */
    struct flush_writer *writers;          /* flush_concurrency writers (owned). */
    uint32_t staging_bytes;                /* Each writer's staging buffer. */
    struct flush_sync *flush_syncs;        /* flush_sync_concurrency syncs (owned). */
    struct flush_sync *flush_sync_free;    /* Syncs not in flight (linked by next_free). */
    uint32_t flush_syncs_in_flight;        /* Syncs in flight. */
    bool flush_syncfs_allowed;             /* syncfs reports write-back errors (checked at open). */
    bool flush_syncfs;                     /* This round ends with one syncfs (by rule). */
    struct sb_partition *flush_syncfs_list; /* Passes written, waiting for the syncfs. */
    struct sb_io_op flush_syncfs_op;       /* The round's syncfs. */
    uint32_t footer_bytes_max;             /* Largest segment footer (staging_bytes at open). */
    uint8_t *manifest_buffer;              /* Manifest image (owned, 4096-aligned). */
    uint64_t manifest_capacity;            /* Its size. */
    uint64_t manifest_bytes;               /* Bytes of the image being written. */
    int manifest_fd;                       /* Temp file being written. */
    struct sb_io_op manifest_op;           /* Its I/O. */
    uint64_t flush_retry_delay_ns;         /* Back-off after a failed flush. */
    struct sb_timer flush_retry_timer;     /* Fires to retry. */
    uint64_t next_retention_ns;            /* When retention next runs. */
    uint64_t last_flush_ns;                /* When the last flush finished (monotonic). */
    uint8_t *scratch;                      /* batch_bytes_max, 4096-aligned: tail blocks. */
    struct compaction compaction;          /* Key compaction's pass. */
    struct sb_store_stats stats;           /* Counters. */
};

/* store.c */
struct sb_partition *store_partition_slot(struct sb_store *store, uint32_t slot);
struct sb_partition *store_partition_add(struct sb_store *store, uint32_t topic_id,
                                         uint32_t partition_index,
                                         const struct sb_partition_config *config);
void store_partition_release_if_unused(struct sb_partition *partition);
void store_fail(struct sb_store *store, const char *what, int error);
/* Synchronous I/O for start-up and recovery only: start the op and run the io until it is done.
 * Each returns the op's result (bytes or 0, or -errno). */
int store_sync_read(struct sb_store *store, int fd, void *buffer, uint32_t length,
                    uint64_t offset);
int store_sync_write(struct sb_store *store, int fd, const void *buffer, uint32_t length,
                     uint64_t offset);
int store_sync_fsync(struct sb_store *store, int fd);
int store_sync_fallocate(struct sb_store *store, int fd, uint64_t offset, uint64_t length);

/* wal.c */
struct wal_append_options {
    uint32_t batch_bytes;    /* Length of the batch. */
    bool assign_offset;      /* Rewrite the copy's base offset to base_offset. */
    int64_t base_offset;     /* With assign_offset. */
    int64_t append_time_ms;  /* >= 0: stamp the copy with log-append time. */
    bool durable_already;    /* Recovery replay: the entry is already in the WAL. */
    uint64_t sequence;       /* With durable_already: its original sequence. */
};

int wal_init(struct sb_store *store);
void wal_deinit(struct sb_store *store);
/* Copies a validated batch into the ring behind a WAL entry header, links it into the
 * partition's memtable, and returns the ring position of the batch copy. -ENOBUFS if full. */
int wal_append_entry(struct sb_store *store, struct sb_partition *partition,
                     const uint8_t *batch, const struct wal_append_options *options,
                     uint64_t *ring_position_out);
void wal_iteration_end(struct sb_store *store);
bool wal_idle(const struct sb_store *store);
bool wal_landing(const struct sb_store *store);
struct memtable_entry *wal_fifo_entry(struct sb_store *store, uint32_t index);
uint32_t wal_fifo_index_after(const struct sb_store *store, uint32_t index);
void wal_release_flushed(struct sb_store *store, uint64_t ring_end, uint32_t fifo_end);
bool wal_needs_flush(const struct sb_store *store);
int wal_start_generation(struct sb_store *store, uint64_t next_sequence);
void wal_note_append(struct sb_store *store, struct sb_append *append, uint64_t ring_end);
void wal_replay_done(struct sb_store *store);
uint8_t *wal_ring_at(struct sb_store *store, uint64_t position);

/* segment.c */
int segment_create_begin(struct sb_partition *partition, int64_t base_offset, char *path,
                         size_t capacity, struct segment **segment_out);
void segment_create_end(struct segment *segment, int fd);
int segment_open_existing(struct sb_partition *partition, int64_t base_offset, bool closed,
                          uint64_t data_end_hint, struct segment **segment_out);
void segment_index_note(struct segment *segment, int64_t base_offset, uint64_t position,
                        int64_t max_timestamp_ms);
uint64_t segment_index_lookup(const struct segment *segment, int64_t offset);
uint64_t segment_index_lookup_time(const struct segment *segment, int64_t timestamp_ms);
uint32_t segment_footer_build(const struct segment *segment, uint8_t *buffer,
                              uint32_t capacity);
void segment_release(struct segment *segment);
int segment_open_copy(const struct segment *original, const char *path,
                      struct segment **copy_out);
void segment_replace(struct segment *original, struct segment *copy);
void segment_delete(struct segment *segment);
void segment_header_block(const struct segment *segment, uint8_t *block);
uint32_t segment_index_capacity(const struct sb_store *store);
void segment_destroy(struct segment *segment, bool unlink_file);
void segment_path(const struct sb_partition *partition, int64_t base_offset, char *path,
                  size_t capacity);
void partition_dir_path(const struct sb_store *store, uint32_t topic_id, uint32_t partition,
                        char *path, size_t capacity);
struct segment *segment_for_offset(struct sb_partition *partition, int64_t offset);
void segment_note_batch(struct segment *segment, const uint8_t *batch, uint64_t position);
void partition_delete_segments(struct sb_partition *partition);

/* flush.c */
int flush_init(struct sb_store *store);
void flush_deinit(struct sb_store *store);
void flush_maybe_start(struct sb_store *store, bool force);
bool flush_idle(const struct sb_store *store);
/* Recovery only, between flush rounds: lets every writer stage a batch of `batch_bytes` (one
 * written under a higher batch_bytes_max). Returns 0 or -ENOMEM. */
int flush_staging_reserve(struct sb_store *store, uint32_t batch_bytes);
int flush_manifest_write_sync(struct sb_store *store);

/* cache.c */
int cache_init(struct sb_store *store);
void cache_deinit(struct sb_store *store);
const uint8_t *cache_get(struct sb_store *store, struct segment *segment, uint64_t block_index,
                         uint32_t *valid_bytes_out, struct sb_read *waiter);
/* Starts loads of the blocks [from_block, to_block) of `segment` not cached yet, each pinning
 * the segment until it lands, while read-ahead has less than its share of the cache loading.
 * Returns the block after the last one cached, loading or started. */
uint64_t cache_readahead(struct sb_store *store, struct segment *segment, uint64_t from_block,
                         uint64_t to_block);
void cache_invalidate(struct sb_store *store, struct segment *segment, uint64_t from_block);

/* read.c */
void read_resume(struct sb_read *read);

/* producer.c */
/* 0 to append; -EEXIST (a duplicate: *duplicate_offset_out is the original base offset),
 * -EILSEQ (out of order, or a new epoch not starting at 0), -ESTALE (fenced epoch), -ESRCH
 * (unknown producer not starting at sequence 0) or SB_EFULL (a new producer and no room). */
int producer_check(struct sb_partition *partition, const struct sb_batch_header *header,
                   int64_t *duplicate_offset_out);
/* Records an appended idempotent batch (producer_check accepted it just before). */
void producer_note(struct sb_partition *partition, const struct sb_batch_header *header,
                   int64_t base_offset);
/* Records a batch now durable in a segment (the flushed history). */
void producer_note_flushed(struct sb_partition *partition, const struct sb_batch_header *header,
                           int64_t base_offset);
/* Recovery: a batch found in the open segment (in_segment) or replayed from the WAL, in a
 * file last written at written_ms (wall clock: the latest its append can have been). */
void producer_note_recovered(struct sb_partition *partition,
                             const struct sb_batch_header *header, bool in_segment,
                             int64_t written_ms);
/* Writes the [PRODUCER-SNAPSHOT] of the flushed histories at `bytes` (block 0 + 64). */
void producer_snapshot_encode(struct sb_partition *partition, uint8_t *bytes);
/* Recovery: loads a segment's snapshot (unexpired producers); SB_ECORRUPT if it is bad. */
int producer_snapshot_load(struct sb_partition *partition, const uint8_t *bytes);
void producer_forget_all(struct sb_partition *partition);

/* recovery.c */
int recovery_run(struct sb_store *store);

/* retention.c */
void retention_maybe_start(struct sb_store *store, uint64_t now_ns);
bool retention_busy(const struct sb_store *store);

/* compaction.c */
int compaction_init(struct sb_store *store);
void compaction_deinit(struct sb_store *store);
/* Starts a pass over the next partition that is due, unless one is running. */
void compaction_maybe_start(struct sb_store *store, int64_t now_ms);
bool compaction_busy(const struct sb_store *store);

#endif /* SB_STORAGE_STORE_PRIVATE_H */
