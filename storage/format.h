/*
 * storage/format.h - every on-disk structure of the storage engine, as
 * byte-offset tables, with pure encode/decode functions (format.c). All
 * integers are little-endian. Record batches inside WAL entries and segments
 * use proto's format (proto/batch.h, docs/record-batch.md), whose own header
 * and payload CRCs protect the records. docs/storage.md explains the design.
 *
 * Data directory of one shard's store:
 *   <data>/shards/<shard>/LOCK            flock()ed while a store has it open
 *   <data>/shards/<shard>/MANIFEST        [MANIFEST]; replaced by write-temp, fsync, rename
 *   <data>/shards/<shard>/wal-<n>.log     n = 0 .. wal_files-1 (< 64), preallocated, recycled;
 *                                         recovery reads every one there is, of any size
 *   <data>/partitions/<topic_id>-<partition>/<base_offset, 20 digits>.seg   [SEGMENT]
 *   <data>/partitions/<topic_id>-<partition>/<base_offset>.seg.compact   a compaction copy
 *                                         being written; renamed over the .seg when durable
 *
 * [WAL-FILE] block 0 of every WAL file (4096 bytes; the rest of the block is zero):
 *   off size field
 *   0   4   magic            0x46574253 ("SBWF")
 *   4   4   header_crc32c    CRC32C of bytes [8, 64)
 *   8   2   version          1
 *   10  2   reserved         0
 *   12  4   shard_id
 *   16  8   generation       unique per shard, increasing; every reuse of a file gets a new one
 *   24  8   first_sequence   sequence number of the first entry written in this generation
 *   32  8   file_bytes       size the file was created with
 *   40  8   created_ns       wall clock when this generation began (informational)
 *   48  16  reserved         0
 * Entries follow from byte 4096.
 *
 * [WAL-ENTRY] 64-byte header, then payload; every entry is a multiple of 64 bytes:
 *   0   4   magic            0x31574253 ("SBW1")
 *   4   4   header_crc32c    CRC32C of bytes [8, 64) of this header
 *   8   2   kind             1 BATCH (payload: one record batch), 2 PADDING (payload ignored)
 *   10  2   flags            bit 0 BEHIND: issued while an earlier cycle was on disk; others 0
 *   12  4   payload_bytes    bytes of payload; the entry spans align64(64 + payload_bytes)
 *   16  8   sequence         dense per shard: each entry is the previous + 1, across files
 *   24  8   generation       the generation of the file it was written into
 *   32  8   cycle_sequence   sequence of the first entry of its commit cycle
 *   40  4   topic_id         BATCH: the partition's topic; PADDING: 0
 *   44  4   partition        BATCH: the partition index; PADDING: 0
 *   48  8   base_offset      BATCH: the batch's base offset (also inside the batch); else 0
 *   56  8   unsynced_sequence BEHIND: the oldest sequence not yet durable when its cycle was
 *                            issued (below its cycle_sequence); else 0
 * A commit cycle is a run of entries that starts on a 4096-byte boundary and ends with a
 * PADDING entry up to the next boundary, written with its own writes and made durable with
 * its own fdatasync, issued once those writes completed. Up to SB_WAL_CYCLES_IN_FLIGHT_MAX
 * cycles are on disk at once and they are acknowledged in log order. A cycle on disk proves
 * that every entry below its *durable-before* sequence completed its fdatasync:
 * unsynced_sequence if BEHIND, else its own cycle_sequence (every earlier cycle was durable
 * when it was issued; files written before BEHIND existed have no flags, and this meaning).
 *
 * [SEGMENT] block 0 (4096 bytes; the rest of the block is zero):
 *   0   4   magic            0x47534253 ("SBSG")
 *   4   4   header_crc32c    CRC32C of bytes [8, 64)
 *   8   2   version          1
 *   10  2   reserved         0
 *   12  4   topic_id
 *   16  4   partition
 *   20  4   reserved         0
 *   24  8   base_offset      first offset this segment may hold (its file name)
 *   32  8   created_ns       wall clock at creation
 *   40  24  reserved         0
 *   64  ..   [PRODUCER-SNAPSHOT] (all zero: none)
 * Record batches follow back to back from byte 4096, in offset order, up to data_end. Key
 * compaction (storage/compaction.c) leaves gaps in the offsets between and after batches.
 * Bytes after data_end up to the next 4096 boundary are zero. An open segment ends there;
 * a closed (immutable) segment continues with its footer at align4096(data_end):
 *
 * [SEGMENT-FOOTER] at footer_position = align4096(data_end), footer_bytes long (multiple of
 * 4096); CRC32C covers the whole footer except its first 8 bytes:
 *   0   4   magic            0x46534253 ("SBSF")
 *   4   4   footer_crc32c    CRC32C of bytes [8, footer_bytes)
 *   8   4   footer_bytes
 *   12  4   index_count
 *   16  4   batch_count
 *   20  4   reserved         0
 *   24  8   data_end         byte position just after the last batch
 *   32  8   first_offset     base offset of the first batch
 *   40  8   last_offset      last offset the segment covers: its last batch's last offset,
 *                            or beyond it when compaction removed the records after
 *   48  8   record_count
 *   56  8   min_timestamp_ms
 *   64  8   max_timestamp_ms
 *   72  56  reserved         0
 *   128 ..  index: index_count x [INDEX-ENTRY], in offset order
 *   ..      zero padding; the last 64 bytes of the footer are the trailer:
 * [INDEX-ENTRY] 24 bytes, one for the first batch and then one per index_interval bytes:
 *   0   8   base_offset      a batch's base offset
 *   8   8   position         the batch's byte position in the file
 *   16  8   max_timestamp_ms the largest record timestamp in all batches up to this one
 *                            (so the first entry with max_timestamp_ms >= t is at or
 *                            before the first record with timestamp >= t)
 * [PRODUCER-SNAPSHOT] at byte 64 of a segment's block 0: the idempotent producers of the
 * partition as of the segment's base offset (every batch before it), written with the block
 * when the segment's first batches are flushed; recovery starts from it and replays the
 * batches after (storage/producer.c):
 *   0   4   magic            0x50534253 ("SBSP")
 *   4   4   crc32c           CRC32C of bytes [8, 16 + count x 104)
 *   8   4   count            producers, at most SB_PRODUCER_SNAPSHOT_MAX
 *   12  4   reserved         0
 *   16  ..  count x [PRODUCER-ENTRY]
 * [PRODUCER-ENTRY] 104 bytes:
 *   0   8   producer_id
 *   8   8   last_used_ms     wall clock of its last append (expiry)
 *   16  2   epoch
 *   18  1   recent_count     1 .. 5: batches in recent[] that are used, oldest first
 *   19  1   reserved         0
 *   20  4   last_sequence    last sequence appended
 *   24  80  recent[5]        {first_sequence 4, last_sequence 4, base_offset 8}
 * [SEGMENT-TRAILER] the last 64 bytes of a closed segment file:
 *   0   4   magic            0x54534253 ("SBST")
 *   4   4   trailer_crc32c   CRC32C of bytes [8, 64)
 *   8   8   footer_position
 *   16  4   footer_bytes
 *   20  44  reserved         0
 *
 * [MANIFEST] one file per shard: a 64-byte header, then partition_count 64-byte records.
 *   0   4   magic            0x464d4253 ("SBMF")
 *   4   4   crc32c           CRC32C of bytes [8, file_bytes)
 *   8   2   version          1
 *   10  2   reserved         0
 *   12  4   partition_count
 *   16  8   file_bytes       64 + 64 * partition_count
 *   24  8   checkpoint_sequence  every WAL entry with a smaller sequence is durable in
 *                                segments; recovery replays from here
 *   32  8   written_ns       wall clock at write (informational)
 *   40  24  reserved         0
 * [MANIFEST-PARTITION] one per partition this shard has flushed:
 *   0   4   topic_id
 *   4   4   partition
 *   8   8   log_start_offset   first offset still kept (retention moves it up)
 *   16  8   next_offset        offset after the last record durable in segments
 *   24  8   open_segment_base  base offset of the open segment (its file name)
 *   32  8   open_segment_data_end  durable data_end of the open segment
 *   40  4   flags              bit 0: fenced (corruption found; see fenced_offset)
 *   44  4   reserved           0
 *   48  8   fenced_offset      first offset that may not be served when fenced
 *   56  8   reserved           0
 */
#ifndef SB_STORAGE_FORMAT_H
#define SB_STORAGE_FORMAT_H

#include <stdbool.h>
#include <stdint.h>

#define SB_BLOCK_BYTES 4096u

#define SB_WAL_FILE_MAGIC 0x46574253u
#define SB_WAL_ENTRY_MAGIC 0x31574253u
#define SB_SEGMENT_MAGIC 0x47534253u
#define SB_FOOTER_MAGIC 0x46534253u
#define SB_TRAILER_MAGIC 0x54534253u
#define SB_MANIFEST_MAGIC 0x464d4253u
#define SB_FORMAT_VERSION 1u

#define SB_WAL_FILE_HEADER_BYTES 64u
#define SB_WAL_ENTRY_HEADER_BYTES 64u
#define SB_WAL_ENTRY_ALIGNMENT 64u
#define SB_WAL_ENTRY_FLAG_BEHIND 1u
#define SB_SEGMENT_HEADER_BYTES 64u
#define SB_FOOTER_HEADER_BYTES 128u
#define SB_INDEX_ENTRY_BYTES 24u
#define SB_TRAILER_BYTES 64u
#define SB_PRODUCER_SNAPSHOT_MAGIC 0x50534253u
#define SB_PRODUCER_SNAPSHOT_HEADER_BYTES 16u
#define SB_PRODUCER_ENTRY_BYTES 104u
#define SB_PRODUCER_ENTRY_RECENT 5u
/* Entries that fit in block 0 after the segment header. */
#define SB_PRODUCER_SNAPSHOT_MAX                                                                   \
    ((SB_BLOCK_BYTES - SB_SEGMENT_HEADER_BYTES - SB_PRODUCER_SNAPSHOT_HEADER_BYTES) /              \
     SB_PRODUCER_ENTRY_BYTES)
#define SB_MANIFEST_HEADER_BYTES 64u
#define SB_MANIFEST_PARTITION_BYTES 64u

enum sb_wal_entry_kind {
    SB_WAL_ENTRY_BATCH = 1,
    SB_WAL_ENTRY_PADDING = 2,
};

struct sb_wal_file_header {
    uint32_t shard_id;       /* Shard that owns the file. */
    uint64_t generation;     /* This use of the file. */
    uint64_t first_sequence; /* First entry's sequence in this generation. */
    uint64_t file_bytes;     /* Created size. */
    uint64_t created_ns;     /* When the generation began. */
};

struct sb_wal_entry_header {
    uint16_t kind;           /* enum sb_wal_entry_kind. */
    uint32_t payload_bytes;  /* Bytes after the header. */
    uint64_t sequence;       /* Dense per shard. */
    uint64_t generation;     /* File generation it was written in. */
    uint64_t cycle_sequence; /* First sequence of its commit cycle. */
    uint32_t topic_id;       /* BATCH only. */
    uint32_t partition;      /* BATCH only. */
    int64_t base_offset;     /* BATCH only. */
    bool behind;             /* Issued while an earlier cycle was on disk (flag BEHIND). */
    uint64_t unsynced_sequence; /* behind: oldest sequence not durable at issue; else 0. */
};

struct sb_segment_header {
    uint32_t topic_id;    /* Owning topic. */
    uint32_t partition;   /* Owning partition. */
    int64_t base_offset;  /* First offset it may hold. */
    uint64_t created_ns;  /* Creation time. */
};

/* One batch of a producer's recent history. */
struct sb_producer_entry_batch {
    int32_t first_sequence; /* Its base sequence. */
    int32_t last_sequence;  /* Its last sequence. */
    int64_t base_offset;    /* Where it was appended. */
};

struct sb_producer_entry {
    int64_t producer_id;    /* Who. */
    int64_t last_used_ms;   /* Wall clock of its last append. */
    int16_t epoch;          /* Epoch of the batches in recent. */
    uint8_t recent_count;   /* Used entries of recent, oldest first (1 .. 5). */
    int32_t last_sequence;  /* Last sequence appended. */
    struct sb_producer_entry_batch recent[SB_PRODUCER_ENTRY_RECENT]; /* Its last batches. */
};

struct sb_segment_footer {
    uint32_t footer_bytes;       /* Multiple of 4096, including the trailer. */
    uint32_t index_count;        /* Index entries that follow the footer header. */
    uint32_t batch_count;        /* Batches in the segment. */
    uint64_t data_end;           /* Byte after the last batch. */
    int64_t first_offset;        /* First batch's base offset. */
    int64_t last_offset;         /* Last offset covered (>= the last batch's last). */
    uint64_t record_count;       /* Records in all batches. */
    int64_t min_timestamp_ms;    /* Smallest record timestamp. */
    int64_t max_timestamp_ms;    /* Largest record timestamp. */
};

struct sb_index_entry {
    int64_t base_offset;      /* A batch's base offset. */
    uint64_t position;        /* Its byte position in the segment file. */
    int64_t max_timestamp_ms; /* Largest timestamp up to and including this batch. */
};

struct sb_segment_trailer {
    uint64_t footer_position; /* Where the footer starts. */
    uint32_t footer_bytes;    /* Footer length, trailer included. */
};

struct sb_manifest_header {
    uint32_t partition_count;     /* Records that follow. */
    uint64_t file_bytes;          /* Whole file. */
    uint64_t checkpoint_sequence; /* WAL entries below this are in segments. */
    uint64_t written_ns;          /* When written. */
};

#define SB_MANIFEST_FLAG_FENCED 1u

struct sb_manifest_partition {
    uint32_t topic_id;              /* Topic. */
    uint32_t partition;             /* Partition index. */
    int64_t log_start_offset;       /* First offset kept. */
    int64_t next_offset;            /* After the last durable record. */
    int64_t open_segment_base;      /* Open segment's base offset. */
    uint64_t open_segment_data_end; /* Open segment's durable data end. */
    uint32_t flags;                 /* SB_MANIFEST_FLAG_*. */
    int64_t fenced_offset;          /* First offset not served when fenced. */
};

/* Bytes an entry with `payload_bytes` of payload occupies (header + payload, 64-aligned). */
static inline uint64_t
sb_wal_entry_span(uint32_t payload_bytes)
{
    return ((uint64_t)SB_WAL_ENTRY_HEADER_BYTES + payload_bytes + SB_WAL_ENTRY_ALIGNMENT - 1) &
           ~(uint64_t)(SB_WAL_ENTRY_ALIGNMENT - 1);
}

/* Encoders write exactly the structure's bytes (header sizes above) including CRC and magic;
 * the caller zeroes any rest of the block. Decoders check magic, version, CRC and reserved
 * fields and return 0 or SB_ECORRUPT; they never trust a length they cannot check. */
void sb_wal_file_header_encode(const struct sb_wal_file_header *header, uint8_t *bytes);
int sb_wal_file_header_decode(const uint8_t *bytes, struct sb_wal_file_header *header);
void sb_wal_entry_header_encode(const struct sb_wal_entry_header *header, uint8_t *bytes);
int sb_wal_entry_header_decode(const uint8_t *bytes, struct sb_wal_entry_header *header);
/* True if the 64 bytes are all zero (never-written space: the end of a WAL). */
bool sb_format_is_zero(const uint8_t *bytes, uint32_t length);

void sb_segment_header_encode(const struct sb_segment_header *header, uint8_t *bytes);
int sb_segment_header_decode(const uint8_t *bytes, struct sb_segment_header *header);
/* The footer header (first 128 bytes); the CRC over the whole footer is set by
 * sb_segment_footer_seal once the index entries are in place. */
void sb_segment_footer_encode(const struct sb_segment_footer *footer, uint8_t *bytes);
void sb_segment_footer_seal(uint8_t *footer_bytes_start, uint32_t footer_bytes);
/* Decodes and checks the whole footer (CRC over footer_bytes, index counts that fit). */
int sb_segment_footer_decode(const uint8_t *bytes, uint32_t available,
                             struct sb_segment_footer *footer);
void sb_index_entry_encode(const struct sb_index_entry *entry, uint8_t *bytes);
void sb_index_entry_decode(const uint8_t *bytes, struct sb_index_entry *entry);
/* [PRODUCER-SNAPSHOT]: entries are encoded in place at bytes + 16 + n * 104, then the seal
 * writes magic, count and CRC. Verify returns 0 and the count (0 for an all-zero header: no
 * snapshot) or SB_ECORRUPT; entry decode returns SB_ECORRUPT for a bad recent_count. */
void sb_producer_entry_encode(const struct sb_producer_entry *entry, uint8_t *bytes);
int sb_producer_entry_decode(const uint8_t *bytes, struct sb_producer_entry *entry);
void sb_producer_snapshot_seal(uint8_t *bytes, uint32_t count);
int sb_producer_snapshot_verify(const uint8_t *bytes, uint32_t *count_out);
void sb_segment_trailer_encode(const struct sb_segment_trailer *trailer, uint8_t *bytes);
int sb_segment_trailer_decode(const uint8_t *bytes, struct sb_segment_trailer *trailer);

void sb_manifest_header_encode(const struct sb_manifest_header *header, uint8_t *bytes);
/* Checks magic, version and that file_bytes matches partition_count; the CRC over the whole
 * file is checked by sb_manifest_verify. */
int sb_manifest_header_decode(const uint8_t *bytes, struct sb_manifest_header *header);
void sb_manifest_seal(uint8_t *file, uint64_t file_bytes);
int sb_manifest_verify(const uint8_t *file, uint64_t file_bytes);
void sb_manifest_partition_encode(const struct sb_manifest_partition *record, uint8_t *bytes);
void sb_manifest_partition_decode(const uint8_t *bytes, struct sb_manifest_partition *record);

#endif /* SB_STORAGE_FORMAT_H */
