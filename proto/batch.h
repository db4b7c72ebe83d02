/*
 * proto/batch.h - the record batch: the one unit of data that producers send,
 * the broker appends to segments unchanged (except for the fields below), and
 * consumers fetch. The same bytes are used on the wire and on disk. Prose and
 * rationale: docs/record-batch.md.
 *
 * [batch-header] Fixed 64-byte header, little-endian:
 *
 *   off size field               meaning
 *     0   4  magic               0x31424253 (stored bytes 53 42 42 31, "SBB1")
 *     4   4  header_crc32c       CRC32C of bytes [8, 64)
 *     8   4  batch_bytes         header + payload bytes, >= 64
 *    12   4  record_count        >= 1
 *    16   8  base_offset         int64, offset of record 0; set by the broker
 *    24   8  first_timestamp_ms  int64, record timestamps are deltas from it
 *    32   8  max_timestamp_ms    int64, largest record timestamp (or append time)
 *    40   8  producer_id         int64, -1 = none
 *    48   2  producer_epoch      int16, -1 = none
 *    50   2  attributes          see [batch-attributes]
 *    52   4  base_sequence       int32, -1 = none
 *    56   4  payload_crc32c      CRC32C of bytes [64, batch_bytes)
 *    60   4  records_bytes       record area bytes once decompressed
 *    64   -  payload             the record area, compressed as a whole by the codec
 *
 * [batch-attributes] bits 0-2 codec (enum sb_compression; 5-7 invalid), bit 3
 * timestamp type (0 create time, 1 log-append time), bit 4 control batch,
 * bits 5-15 zero.
 *
 * [batch-record] The record area is record_count records, back to back:
 *
 *   length           uvarint   bytes of the rest of this record
 *   attributes       1 byte    0
 *   timestamp_delta  zigzag    ms after first_timestamp_ms (may be negative)
 *   offset_delta     uvarint   the record's index: 0, 1, 2, ... (offsets are dense)
 *   key_length       zigzag    -1 = null key
 *   key              key_length bytes
 *   value_length     zigzag    -1 = null value (tombstone)
 *   value            value_length bytes
 *   header_count     uvarint
 *   headers          header_count x [batch-record-header]
 *
 * [batch-record-header] name_length uvarint, name bytes, value_length zigzag
 * (-1 = null), value bytes.
 *
 * Varints are proto/varint.h: 32-bit fields (every one but timestamp_delta)
 * take at most 5 bytes, and non-minimal encodings are corrupt.
 *
 * Every function here is pure: it works on caller buffers, does no I/O and
 * allocates nothing (compression libraries aside). Decoders never trust a
 * length: any inconsistency is SB_ECORRUPT.
 */
#ifndef SB_PROTO_BATCH_H
#define SB_PROTO_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/compress.h"

#define SB_BATCH_HEADER_BYTES 64
#define SB_BATCH_MAGIC 0x31424253u

/* Byte offsets of the header fields ([batch-header]). */
#define SB_BATCH_OFFSET_MAGIC 0
#define SB_BATCH_OFFSET_HEADER_CRC 4
#define SB_BATCH_OFFSET_BATCH_BYTES 8
#define SB_BATCH_OFFSET_RECORD_COUNT 12
#define SB_BATCH_OFFSET_BASE_OFFSET 16
#define SB_BATCH_OFFSET_FIRST_TIMESTAMP 24
#define SB_BATCH_OFFSET_MAX_TIMESTAMP 32
#define SB_BATCH_OFFSET_PRODUCER_ID 40
#define SB_BATCH_OFFSET_PRODUCER_EPOCH 48
#define SB_BATCH_OFFSET_ATTRIBUTES 50
#define SB_BATCH_OFFSET_BASE_SEQUENCE 52
#define SB_BATCH_OFFSET_PAYLOAD_CRC 56
#define SB_BATCH_OFFSET_RECORDS_BYTES 60
/* The header CRC covers [SB_BATCH_OFFSET_BATCH_BYTES, SB_BATCH_HEADER_BYTES). */
#define SB_BATCH_HEADER_CRC_BYTES (SB_BATCH_HEADER_BYTES - SB_BATCH_OFFSET_BATCH_BYTES)

/* Attribute bits ([batch-attributes]). */
#define SB_BATCH_ATTRIBUTE_CODEC_MASK 0x0007u
#define SB_BATCH_ATTRIBUTE_LOG_APPEND_TIME 0x0008u
#define SB_BATCH_ATTRIBUTE_CONTROL 0x0010u
#define SB_BATCH_ATTRIBUTE_RESERVED_MASK 0xFFE0u

/* Smallest encoded record: length, attributes, timestamp_delta, offset_delta, key_length,
 * value_length and header_count of one byte each. So record_count * 7 <= records_bytes. */
#define SB_BATCH_RECORD_BYTES_MIN 7

/* A decoded [batch-header]. */
struct sb_batch_header {
    uint32_t header_crc32c;     /* Stored CRC32C of bytes [8, 64). */
    uint32_t batch_bytes;       /* Header plus payload bytes. */
    uint32_t record_count;      /* Records in the batch, >= 1. */
    int64_t base_offset;        /* Offset of record 0 (>= 0; 0 until the broker assigns). */
    int64_t first_timestamp_ms; /* Base of the records' timestamp deltas. */
    int64_t max_timestamp_ms;   /* Largest record timestamp, or the log-append time. */
    int64_t producer_id;        /* Idempotent producer, -1 = none. */
    int16_t producer_epoch;     /* Epoch of producer_id, -1 = none. */
    uint16_t attributes;        /* [batch-attributes]; use the accessors below. */
    int32_t base_sequence;      /* Sequence number of record 0, -1 = none. */
    uint32_t payload_crc32c;    /* Stored CRC32C of the payload. */
    uint32_t records_bytes;     /* Record area bytes after decompression. */
};

static inline enum sb_compression
sb_batch_header_compression(const struct sb_batch_header *header)
{
    return (enum sb_compression)(header->attributes & SB_BATCH_ATTRIBUTE_CODEC_MASK);
}

static inline bool
sb_batch_header_is_log_append_time(const struct sb_batch_header *header)
{
    return (header->attributes & SB_BATCH_ATTRIBUTE_LOG_APPEND_TIME) != 0;
}

static inline bool
sb_batch_header_is_control(const struct sb_batch_header *header)
{
    return (header->attributes & SB_BATCH_ATTRIBUTE_CONTROL) != 0;
}

/* Offset of the last record; never overflows for a decoded header. */
static inline int64_t
sb_batch_header_last_offset(const struct sb_batch_header *header)
{
    return header->base_offset + (int64_t)header->record_count - 1;
}

/*
 * Decodes and checks the 64-byte header at bytes (borrowed for the call; only
 * min(available, 64) bytes are read). Returns 0 and fills *out; -EAGAIN when
 * available < 64; SB_ECORRUPT for a bad magic or header CRC, batch_bytes < 64
 * or > batch_bytes_max, record_count 0, base_offset negative or so large the
 * last offset overflows, reserved attribute bits, codec 5-7, records_bytes <
 * record_count * SB_BATCH_RECORD_BYTES_MIN, records_bytes != batch_bytes - 64
 * when uncompressed, or an empty payload when compressed. A compressed
 * batch's records_bytes has no other bound here: the caller checks it against
 * its buffer (sb_batch_decompress_records does). *out is untouched on error.
 */
int sb_batch_header_decode(const uint8_t *bytes, size_t available, uint32_t batch_bytes_max,
                           struct sb_batch_header *out);

/* Writes header as 64 bytes at bytes, computing header_crc32c (header->header_crc32c is
 * ignored) and the magic. For builders and tests; header must describe a valid batch. */
void sb_batch_header_encode(const struct sb_batch_header *header, uint8_t *bytes);

/* sb_batch_header_decode, then checks the payload CRC. bytes holds length bytes (borrowed);
 * more than batch_bytes is fine (the next batch follows). Returns 0; -EAGAIN when length <
 * 64 or < batch_bytes; SB_ECORRUPT for any decode error or a payload CRC mismatch. */
int sb_batch_verify(const uint8_t *bytes, size_t length, uint32_t batch_bytes_max,
                    struct sb_batch_header *out);

/* Broker-side rewrites of a verified batch's header (bytes: at least 64 bytes, borrowed).
 * Each sets its fields and recomputes header_crc32c only; the payload and its CRC never
 * change. Both assert that the header CRC was valid before the rewrite. */
void sb_batch_assign_offset(uint8_t *bytes, int64_t base_offset);
/* Sets the log-append-time attribute and max_timestamp_ms = timestamp_ms; readers then
 * report timestamp_ms as every record's timestamp. */
void sb_batch_set_log_append_time(uint8_t *bytes, int64_t timestamp_ms);

/* One record header as given to the builder. */
struct sb_record_header {
    const void *name;     /* name_length bytes (borrowed until added); NULL if length 0. */
    uint32_t name_length; /* Bytes of name. */
    const void *value;    /* value_length bytes (borrowed until added); NULL if null. */
    int32_t value_length; /* Bytes of value, -1 = null. */
};

/* One record as given to the builder; everything is copied by sb_batch_builder_add. */
struct sb_record {
    const void *key;                         /* key_length bytes, borrowed for the call. */
    int32_t key_length;                      /* Bytes of key, -1 = null key. */
    const void *value;                       /* value_length bytes, borrowed for the call. */
    int32_t value_length;                    /* Bytes of value, -1 = null (tombstone). */
    int64_t timestamp_ms;                    /* Create time of the record. */
    const struct sb_record_header *headers;  /* header_count headers, borrowed for the call. */
    uint32_t header_count;                   /* Entries in headers. */
};

/* Builds one batch in a caller buffer: the header slot first, then the record area. */
struct sb_batch_builder {
    uint8_t *buffer;            /* Caller's buffer, borrowed until the batch is used. */
    size_t capacity;            /* Usable bytes of buffer (at most UINT32_MAX). */
    size_t used;                /* Header slot plus the records added so far. */
    uint32_t record_count;      /* Records added so far. */
    int64_t first_timestamp_ms; /* Base of the timestamp deltas. */
    int64_t max_timestamp_ms;   /* Largest timestamp added (valid once record_count > 0). */
    int64_t producer_id;        /* -1 unless set by sb_batch_builder_set_producer. */
    int16_t producer_epoch;     /* -1 unless set. */
    int32_t base_sequence;      /* -1 unless set. */
    bool control;               /* Marks a control batch (attribute bit 4). */
};

/* Starts an empty batch in buffer (capacity >= 64; borrowed until the finished batch is no
 * longer used). Producer fields start as "none". */
void sb_batch_builder_init(struct sb_batch_builder *builder, uint8_t *buffer, size_t capacity,
                           int64_t first_timestamp_ms);
void sb_batch_builder_set_producer(struct sb_batch_builder *builder, int64_t producer_id,
                                   int16_t producer_epoch, int32_t base_sequence);
void sb_batch_builder_set_control(struct sb_batch_builder *builder, bool control);

/* Appends a copy of record. Returns 0; -ENOSPC when it does not fit (the builder is left
 * unchanged and usable); -EINVAL for a length below -1, a NULL pointer with a positive
 * length, or a timestamp whose delta from first_timestamp_ms overflows. */
int sb_batch_builder_add(struct sb_batch_builder *builder, const struct sb_record *record);

/*
 * Completes the batch. With SB_COMPRESSION_NONE the header is written into
 * the builder's buffer, *batch_out points at it, and scratch may be NULL.
 * Otherwise the record area is compressed into scratch after a 64-byte
 * header, *batch_out points at scratch (borrowed), and scratch_capacity must
 * hold header plus compressed payload (see sb_compress_bound) and must not
 * overlap buffer. Returns 0; -EINVAL for no records, an invalid codec, or a
 * record area above SB_COMPRESS_BYTES_MAX with a codec; -ENOSPC when scratch
 * is too small; -ENOMEM from a compression library. May be called again (e.g.
 * with another codec); adding more records after finishing is allowed.
 */
int sb_batch_builder_finish(struct sb_batch_builder *builder, enum sb_compression codec,
                            uint8_t *scratch, size_t scratch_capacity,
                            const uint8_t **batch_out, uint32_t *batch_bytes_out);

/* One decoded record: pointers borrow the record area given to the iterator. */
struct sb_record_view {
    int64_t offset;          /* base_offset + index. */
    int64_t timestamp_ms;    /* first_timestamp_ms + delta, or the log-append time. */
    const uint8_t *key;      /* NULL when key_length is -1. */
    int32_t key_length;      /* -1 = null key. */
    const uint8_t *value;    /* NULL when value_length is -1. */
    int32_t value_length;    /* -1 = tombstone. */
    const uint8_t *headers;  /* Encoded headers, for sb_record_header_iter_init. */
    uint32_t headers_bytes;  /* Bytes at headers. */
    uint32_t header_count;   /* Headers encoded at headers. */
};

/* Walks an uncompressed record area, checking all of it. */
struct sb_record_iter {
    const uint8_t *records;     /* Record area (borrowed until iteration ends). */
    size_t records_bytes;       /* Bytes of the record area. */
    size_t position;            /* Bytes consumed so far. */
    uint32_t index;             /* Records returned so far. */
    uint32_t record_count;      /* Records the header promises. */
    int64_t base_offset;        /* From the header. */
    int64_t first_timestamp_ms; /* From the header. */
    int64_t max_timestamp_ms;   /* From the header; every timestamp in log-append mode. */
    bool log_append_time;       /* The header's timestamp type. */
    int error;                  /* First error returned; every later call returns it. */
};

/* Starts at record 0. header comes from sb_batch_header_decode; records holds its record
 * area (the payload, or sb_batch_decompress_records' output); records_bytes must equal
 * header->records_bytes. */
void sb_record_iter_init(struct sb_record_iter *iter, const struct sb_batch_header *header,
                         const uint8_t *records, size_t records_bytes);
/* Returns 1 with the next record in *out; 0 after exactly record_count records that use
 * exactly records_bytes; SB_ECORRUPT for a malformed varint, a length overrun, nonzero
 * record attributes, an offset_delta other than the index, malformed headers, bytes left
 * inside a record or after the last one, or fewer records than promised. */
int sb_record_iter_next(struct sb_record_iter *iter, struct sb_record_view *out);

/* One decoded record header: pointers borrow the record area. */
struct sb_record_header_view {
    const uint8_t *name;   /* name_length bytes. */
    uint32_t name_length;  /* Bytes of name. */
    const uint8_t *value;  /* NULL when value_length is -1. */
    int32_t value_length;  /* -1 = null value. */
};

/* Walks the headers of one record view. */
struct sb_record_header_iter {
    const uint8_t *bytes;  /* The view's encoded headers (borrowed). */
    size_t bytes_length;   /* Bytes at bytes. */
    size_t position;       /* Bytes consumed so far. */
    uint32_t index;        /* Headers returned so far. */
    uint32_t header_count; /* Headers to return. */
};

void sb_record_header_iter_init(struct sb_record_header_iter *iter,
                                const struct sb_record_view *record);
/* Returns 1 with the next header, 0 at the end, SB_ECORRUPT if the bytes do not hold exactly
 * header_count headers (never for a view from sb_record_iter_next, which checked them). */
int sb_record_header_iter_next(struct sb_record_header_iter *iter,
                               struct sb_record_header_view *out);

/*
 * Writes the record area of a verified batch (batch and header from
 * sb_batch_verify; batch borrowed) into out, decompressing when needed.
 * Returns records_bytes; -E2BIG when records_bytes > out_capacity (or
 * SB_COMPRESS_BYTES_MAX), refused before decompressing anything, so a small
 * payload cannot expand beyond the caller's limit; SB_ECORRUPT when the
 * payload is not a valid stream or decompresses to other than records_bytes;
 * -ENOMEM from a library.
 */
int sb_batch_decompress_records(const uint8_t *batch, const struct sb_batch_header *header,
                                uint8_t *out, size_t out_capacity);

#endif /* SB_PROTO_BATCH_H */
