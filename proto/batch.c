/*
 * proto/batch.c - encode, check and walk record batches ([batch-header],
 * [batch-record] in batch.h; prose in docs/record-batch.md).
 *
 * Reading order: header decode/encode and the broker's in-place rewrites,
 * then the builder (producer side), then the record iterator (consumer and
 * broker validation side), then decompression.
 *
 * Invariants:
 * - Decoders read only inside the buffers they are given and treat every
 *   length as hostile; a decoded header passed header_check(), so its
 *   record_count, base_offset and records_bytes are mutually consistent.
 * - The builder keeps header slot + records <= capacity <= UINT32_MAX, so
 *   batch_bytes always fits its field, and a failed add changes nothing.
 * - The header CRC covers the payload CRC, so a batch whose header verifies
 *   and whose payload matches payload_crc32c is intact end to end. Broker
 *   rewrites touch only the header and re-hash only its 56 bytes.
 */
#include "proto/batch.h"

#include <assert.h>
#include <errno.h>
#include <string.h>

#include "core/assert.h"
#include "core/base.h"
#include "core/crc32c.h"
#include "core/endian.h"
#include "core/error.h"
#include "proto/varint.h"

static_assert(SB_BATCH_HEADER_BYTES == 64, "the header is one cache line");
static_assert(SB_BATCH_OFFSET_RECORDS_BYTES + 4 == SB_BATCH_HEADER_BYTES, "fields fill it");
static_assert(SB_COMPRESSION_COUNT - 1 <= SB_BATCH_ATTRIBUTE_CODEC_MASK, "codecs fit bits 0-2");

/* A bounded read position inside one record ([batch-record]). */
struct record_cursor {
    const uint8_t *bytes; /* Start of the record (its length varint). */
    size_t end;           /* Bytes of the record, length varint included. */
    size_t position;      /* Bytes consumed. */
};

static int header_check(const struct sb_batch_header *header, uint32_t batch_bytes_max);
static void header_crc_check(const uint8_t *bytes);
static void header_crc_rewrite(uint8_t *bytes);
static int builder_add_check(const struct sb_record *record);
static uint64_t builder_add_body_bytes(const struct sb_record *record, int64_t timestamp_delta,
                                       uint32_t offset_delta);
static size_t builder_add_encode(uint8_t *out, const struct sb_record *record,
                                 uint32_t body_bytes, int64_t timestamp_delta,
                                 uint32_t offset_delta);
static int record_decode(const uint8_t *bytes, size_t available, uint32_t index,
                         struct sb_record_view *out, int64_t *timestamp_delta);
static int record_header_decode(const uint8_t *bytes, size_t available,
                                struct sb_record_header_view *out);

int
sb_batch_header_decode(const uint8_t *bytes, size_t available, uint32_t batch_bytes_max,
                       struct sb_batch_header *out)
{
    SB_ASSERT(batch_bytes_max >= SB_BATCH_HEADER_BYTES);
    if (available < SB_BATCH_HEADER_BYTES) {
        return -EAGAIN;
    }
    if (sb_load_le32(bytes + SB_BATCH_OFFSET_MAGIC) != SB_BATCH_MAGIC) {
        return SB_ECORRUPT;
    }
    struct sb_batch_header header;
    header.header_crc32c = sb_load_le32(bytes + SB_BATCH_OFFSET_HEADER_CRC);
    if (header.header_crc32c !=
        sb_crc32c(0, bytes + SB_BATCH_OFFSET_BATCH_BYTES, SB_BATCH_HEADER_CRC_BYTES)) {
        return SB_ECORRUPT;
    }
    header.batch_bytes = sb_load_le32(bytes + SB_BATCH_OFFSET_BATCH_BYTES);
    header.record_count = sb_load_le32(bytes + SB_BATCH_OFFSET_RECORD_COUNT);
    header.base_offset = (int64_t)sb_load_le64(bytes + SB_BATCH_OFFSET_BASE_OFFSET);
    header.first_timestamp_ms = (int64_t)sb_load_le64(bytes + SB_BATCH_OFFSET_FIRST_TIMESTAMP);
    header.max_timestamp_ms = (int64_t)sb_load_le64(bytes + SB_BATCH_OFFSET_MAX_TIMESTAMP);
    header.producer_id = (int64_t)sb_load_le64(bytes + SB_BATCH_OFFSET_PRODUCER_ID);
    header.producer_epoch = (int16_t)sb_load_le16(bytes + SB_BATCH_OFFSET_PRODUCER_EPOCH);
    header.attributes = sb_load_le16(bytes + SB_BATCH_OFFSET_ATTRIBUTES);
    header.base_sequence = (int32_t)sb_load_le32(bytes + SB_BATCH_OFFSET_BASE_SEQUENCE);
    header.payload_crc32c = sb_load_le32(bytes + SB_BATCH_OFFSET_PAYLOAD_CRC);
    header.records_bytes = sb_load_le32(bytes + SB_BATCH_OFFSET_RECORDS_BYTES);
    int error = header_check(&header, batch_bytes_max);
    if (error != 0) {
        return error;
    }
    *out = header;
    return 0;
}

void
sb_batch_header_encode(const struct sb_batch_header *header, uint8_t *bytes)
{
    SB_ASSERT(header->batch_bytes >= SB_BATCH_HEADER_BYTES);
    SB_ASSERT(header->record_count >= 1);
    sb_store_le32(bytes + SB_BATCH_OFFSET_MAGIC, SB_BATCH_MAGIC);
    sb_store_le32(bytes + SB_BATCH_OFFSET_BATCH_BYTES, header->batch_bytes);
    sb_store_le32(bytes + SB_BATCH_OFFSET_RECORD_COUNT, header->record_count);
    sb_store_le64(bytes + SB_BATCH_OFFSET_BASE_OFFSET, (uint64_t)header->base_offset);
    sb_store_le64(bytes + SB_BATCH_OFFSET_FIRST_TIMESTAMP, (uint64_t)header->first_timestamp_ms);
    sb_store_le64(bytes + SB_BATCH_OFFSET_MAX_TIMESTAMP, (uint64_t)header->max_timestamp_ms);
    sb_store_le64(bytes + SB_BATCH_OFFSET_PRODUCER_ID, (uint64_t)header->producer_id);
    sb_store_le16(bytes + SB_BATCH_OFFSET_PRODUCER_EPOCH, (uint16_t)header->producer_epoch);
    sb_store_le16(bytes + SB_BATCH_OFFSET_ATTRIBUTES, header->attributes);
    sb_store_le32(bytes + SB_BATCH_OFFSET_BASE_SEQUENCE, (uint32_t)header->base_sequence);
    sb_store_le32(bytes + SB_BATCH_OFFSET_PAYLOAD_CRC, header->payload_crc32c);
    sb_store_le32(bytes + SB_BATCH_OFFSET_RECORDS_BYTES, header->records_bytes);
    header_crc_rewrite(bytes);
}

int
sb_batch_verify(const uint8_t *bytes, size_t length, uint32_t batch_bytes_max,
                struct sb_batch_header *out)
{
    struct sb_batch_header header;
    int error = sb_batch_header_decode(bytes, length, batch_bytes_max, &header);
    if (error != 0) {
        return error;
    }
    if (length < header.batch_bytes) {
        return -EAGAIN;
    }
    size_t payload_bytes = header.batch_bytes - SB_BATCH_HEADER_BYTES;
    if (sb_crc32c(0, bytes + SB_BATCH_HEADER_BYTES, payload_bytes) != header.payload_crc32c) {
        return SB_ECORRUPT;
    }
    *out = header;
    return 0;
}

void
sb_batch_assign_offset(uint8_t *bytes, int64_t base_offset)
{
    SB_ASSERT(base_offset >= 0);
    header_crc_check(bytes);
    uint32_t record_count = sb_load_le32(bytes + SB_BATCH_OFFSET_RECORD_COUNT);
    SB_ASSERT(base_offset <= INT64_MAX - (int64_t)record_count + 1);
    sb_store_le64(bytes + SB_BATCH_OFFSET_BASE_OFFSET, (uint64_t)base_offset);
    header_crc_rewrite(bytes);
}

void
sb_batch_set_log_append_time(uint8_t *bytes, int64_t timestamp_ms)
{
    header_crc_check(bytes);
    uint16_t attributes = sb_load_le16(bytes + SB_BATCH_OFFSET_ATTRIBUTES);
    attributes |= SB_BATCH_ATTRIBUTE_LOG_APPEND_TIME;
    sb_store_le16(bytes + SB_BATCH_OFFSET_ATTRIBUTES, attributes);
    sb_store_le64(bytes + SB_BATCH_OFFSET_MAX_TIMESTAMP, (uint64_t)timestamp_ms);
    header_crc_rewrite(bytes);
}

/* The broker only rewrites headers it has verified: a bad CRC here is a programmer error,
 * and re-hashing it would launder corrupt bytes into a valid-looking batch. */
static void
header_crc_check(const uint8_t *bytes)
{
    SB_ASSERT(sb_load_le32(bytes + SB_BATCH_OFFSET_MAGIC) == SB_BATCH_MAGIC);
    SB_ASSERT(sb_load_le32(bytes + SB_BATCH_OFFSET_HEADER_CRC) ==
              sb_crc32c(0, bytes + SB_BATCH_OFFSET_BATCH_BYTES, SB_BATCH_HEADER_CRC_BYTES));
}

static int
header_check(const struct sb_batch_header *header, uint32_t batch_bytes_max)
{
    if (header->batch_bytes < SB_BATCH_HEADER_BYTES || header->batch_bytes > batch_bytes_max) {
        return SB_ECORRUPT;
    }
    if (header->record_count == 0) {
        return SB_ECORRUPT;
    }
    if (header->base_offset < 0 ||
        header->base_offset > INT64_MAX - (int64_t)header->record_count + 1) {
        return SB_ECORRUPT;
    }
    if ((header->attributes & SB_BATCH_ATTRIBUTE_RESERVED_MASK) != 0) {
        return SB_ECORRUPT;
    }
    if (!sb_compression_is_valid(header->attributes & SB_BATCH_ATTRIBUTE_CODEC_MASK)) {
        return SB_ECORRUPT;
    }
    if ((uint64_t)header->record_count * SB_BATCH_RECORD_BYTES_MIN > header->records_bytes) {
        return SB_ECORRUPT;
    }
    uint32_t payload_bytes = header->batch_bytes - SB_BATCH_HEADER_BYTES;
    if (sb_batch_header_compression(header) == SB_COMPRESSION_NONE) {
        return header->records_bytes == payload_bytes ? 0 : SB_ECORRUPT;
    }
    return payload_bytes > 0 ? 0 : SB_ECORRUPT;
}

static void
header_crc_rewrite(uint8_t *bytes)
{
    uint32_t crc = sb_crc32c(0, bytes + SB_BATCH_OFFSET_BATCH_BYTES, SB_BATCH_HEADER_CRC_BYTES);
    sb_store_le32(bytes + SB_BATCH_OFFSET_HEADER_CRC, crc);
}

void
sb_batch_builder_init(struct sb_batch_builder *builder, uint8_t *buffer, size_t capacity,
                      int64_t first_timestamp_ms)
{
    SB_ASSERT(buffer != NULL);
    SB_ASSERT(capacity >= SB_BATCH_HEADER_BYTES);
    builder->buffer = buffer;
    builder->capacity = sb_min_u64(capacity, UINT32_MAX);
    builder->used = SB_BATCH_HEADER_BYTES;
    builder->record_count = 0;
    builder->first_timestamp_ms = first_timestamp_ms;
    builder->max_timestamp_ms = INT64_MIN;
    builder->producer_id = -1;
    builder->producer_epoch = -1;
    builder->base_sequence = -1;
    builder->control = false;
}

void
sb_batch_builder_set_producer(struct sb_batch_builder *builder, int64_t producer_id,
                              int16_t producer_epoch, int32_t base_sequence)
{
    builder->producer_id = producer_id;
    builder->producer_epoch = producer_epoch;
    builder->base_sequence = base_sequence;
}

void
sb_batch_builder_set_control(struct sb_batch_builder *builder, bool control)
{
    builder->control = control;
}

int
sb_batch_builder_add(struct sb_batch_builder *builder, const struct sb_record *record)
{
    SB_ASSERT(builder->used >= SB_BATCH_HEADER_BYTES);
    SB_ASSERT(builder->used <= builder->capacity);
    int error = builder_add_check(record);
    if (error != 0) {
        return error;
    }
    int64_t timestamp_delta = 0;
    if (__builtin_sub_overflow(record->timestamp_ms, builder->first_timestamp_ms,
                               &timestamp_delta)) {
        return -EINVAL;
    }
    uint64_t body_bytes = builder_add_body_bytes(record, timestamp_delta, builder->record_count);
    if (body_bytes > builder->capacity) {
        return -ENOSPC; /* Also keeps the length within its 32-bit field. */
    }
    uint64_t record_bytes = sb_varint_size_u64(body_bytes) + body_bytes;
    if (record_bytes > builder->capacity - builder->used) {
        return -ENOSPC;
    }
    size_t written = builder_add_encode(builder->buffer + builder->used, record,
                                        (uint32_t)body_bytes, timestamp_delta,
                                        builder->record_count);
    SB_ASSERT(written == record_bytes);
    builder->used += written;
    /* Each record takes >= 7 bytes of a capacity <= UINT32_MAX: the count cannot wrap. */
    SB_ASSERT(builder->record_count < UINT32_MAX);
    builder->record_count++;
    if (record->timestamp_ms > builder->max_timestamp_ms) {
        builder->max_timestamp_ms = record->timestamp_ms;
    }
    return 0;
}

int
sb_batch_builder_finish(struct sb_batch_builder *builder, enum sb_compression codec,
                        uint8_t *scratch, size_t scratch_capacity,
                        const uint8_t **batch_out, uint32_t *batch_bytes_out)
{
    SB_ASSERT(builder->used <= builder->capacity);
    if (builder->record_count == 0 || !sb_compression_is_valid((unsigned)codec)) {
        return -EINVAL;
    }
    size_t records_bytes = builder->used - SB_BATCH_HEADER_BYTES;
    uint8_t *batch = builder->buffer;
    size_t payload_bytes = records_bytes;
    if (codec != SB_COMPRESSION_NONE) {
        if (scratch == NULL || scratch_capacity < SB_BATCH_HEADER_BYTES) {
            return -ENOSPC;
        }
        /* The codecs read the record area while writing scratch: they must not overlap. */
        SB_ASSERT((uintptr_t)scratch >= (uintptr_t)(builder->buffer + builder->capacity) ||
                  (uintptr_t)(scratch + scratch_capacity) <= (uintptr_t)builder->buffer);
        size_t payload_capacity = sb_min_u64(scratch_capacity, UINT32_MAX) -
                                  SB_BATCH_HEADER_BYTES;
        int compressed = sb_compress(codec, builder->buffer + SB_BATCH_HEADER_BYTES,
                                     records_bytes, scratch + SB_BATCH_HEADER_BYTES,
                                     payload_capacity);
        if (compressed < 0) {
            return compressed;
        }
        batch = scratch;
        payload_bytes = (size_t)compressed;
    }
    struct sb_batch_header header = {
        .batch_bytes = (uint32_t)(SB_BATCH_HEADER_BYTES + payload_bytes),
        .record_count = builder->record_count,
        .base_offset = 0,
        .first_timestamp_ms = builder->first_timestamp_ms,
        .max_timestamp_ms = builder->max_timestamp_ms,
        .producer_id = builder->producer_id,
        .producer_epoch = builder->producer_epoch,
        .attributes = (uint16_t)((unsigned)codec |
                                 (builder->control ? SB_BATCH_ATTRIBUTE_CONTROL : 0)),
        .base_sequence = builder->base_sequence,
        .payload_crc32c = sb_crc32c(0, batch + SB_BATCH_HEADER_BYTES, payload_bytes),
        .records_bytes = (uint32_t)records_bytes,
    };
    sb_batch_header_encode(&header, batch);
    *batch_out = batch;
    *batch_bytes_out = header.batch_bytes;
    return 0;
}

static int
builder_add_check(const struct sb_record *record)
{
    if (record->key_length < -1 || (record->key_length > 0 && record->key == NULL)) {
        return -EINVAL;
    }
    if (record->value_length < -1 || (record->value_length > 0 && record->value == NULL)) {
        return -EINVAL;
    }
    if (record->header_count > 0 && record->headers == NULL) {
        return -EINVAL;
    }
    for (uint32_t i = 0; i < record->header_count; i++) {
        const struct sb_record_header *header = &record->headers[i];
        if (header->name_length > 0 && header->name == NULL) {
            return -EINVAL;
        }
        if (header->value_length < -1 || (header->value_length > 0 && header->value == NULL)) {
            return -EINVAL;
        }
    }
    return 0;
}

/* Bytes of a length-prefixed field: the zigzag length and the bytes (none when null). */
static uint64_t
builder_field_bytes(int32_t length)
{
    return sb_varint_size_s64(length) + (length > 0 ? (uint64_t)length : 0);
}

/* Bytes of the record after its length varint. Sums in 64 bits cannot overflow: at most
 * 2^32 headers of under 2^33 bytes each. */
static uint64_t
builder_add_body_bytes(const struct sb_record *record, int64_t timestamp_delta,
                       uint32_t offset_delta)
{
    uint64_t bytes = 1 + sb_varint_size_s64(timestamp_delta) + sb_varint_size_u64(offset_delta);
    bytes += builder_field_bytes(record->key_length);
    bytes += builder_field_bytes(record->value_length);
    bytes += sb_varint_size_u64(record->header_count);
    for (uint32_t i = 0; i < record->header_count; i++) {
        const struct sb_record_header *header = &record->headers[i];
        bytes += sb_varint_size_u64(header->name_length) + header->name_length;
        bytes += builder_field_bytes(header->value_length);
    }
    return bytes;
}

/* Writes a zigzag length and its bytes; returns bytes written. */
static size_t
builder_field_encode(uint8_t *out, const void *bytes, int32_t length)
{
    size_t written = sb_varint_encode_s64(out, length);
    if (length > 0) {
        memcpy(out + written, bytes, (size_t)length);
        written += (size_t)length;
    }
    return written;
}

static size_t
builder_add_encode(uint8_t *out, const struct sb_record *record, uint32_t body_bytes,
                   int64_t timestamp_delta, uint32_t offset_delta)
{
    size_t written = sb_varint_encode_u64(out, body_bytes);
    out[written++] = 0; /* Record attributes. */
    written += sb_varint_encode_s64(out + written, timestamp_delta);
    written += sb_varint_encode_u64(out + written, offset_delta);
    written += builder_field_encode(out + written, record->key, record->key_length);
    written += builder_field_encode(out + written, record->value, record->value_length);
    written += sb_varint_encode_u64(out + written, record->header_count);
    for (uint32_t i = 0; i < record->header_count; i++) {
        const struct sb_record_header *header = &record->headers[i];
        written += sb_varint_encode_u64(out + written, header->name_length);
        if (header->name_length > 0) {
            memcpy(out + written, header->name, header->name_length);
            written += header->name_length;
        }
        written += builder_field_encode(out + written, header->value, header->value_length);
    }
    return written;
}

void
sb_record_iter_init(struct sb_record_iter *iter, const struct sb_batch_header *header,
                    const uint8_t *records, size_t records_bytes)
{
    SB_ASSERT(records_bytes == header->records_bytes);
    SB_ASSERT(records != NULL || records_bytes == 0);
    SB_ASSERT(header->base_offset >= 0);
    iter->records = records;
    iter->records_bytes = records_bytes;
    iter->position = 0;
    iter->index = 0;
    iter->record_count = header->record_count;
    iter->base_offset = header->base_offset;
    iter->first_timestamp_ms = header->first_timestamp_ms;
    iter->max_timestamp_ms = header->max_timestamp_ms;
    iter->log_append_time = sb_batch_header_is_log_append_time(header);
    iter->error = 0;
}

int
sb_record_iter_next(struct sb_record_iter *iter, struct sb_record_view *out)
{
    SB_ASSERT(iter->position <= iter->records_bytes);
    SB_ASSERT(iter->index <= iter->record_count);
    if (iter->error != 0) {
        return iter->error;
    }
    if (iter->index == iter->record_count) {
        if (iter->position != iter->records_bytes) {
            iter->error = SB_ECORRUPT; /* Bytes after the last record. */
        }
        return iter->error;
    }
    struct sb_record_view view;
    int64_t timestamp_delta = 0;
    int consumed = record_decode(iter->records + iter->position,
                                 iter->records_bytes - iter->position, iter->index, &view,
                                 &timestamp_delta);
    if (consumed < 0) {
        iter->error = consumed;
        return consumed;
    }
    view.offset = iter->base_offset + iter->index;
    if (iter->log_append_time) {
        view.timestamp_ms = iter->max_timestamp_ms;
    } else if (__builtin_add_overflow(iter->first_timestamp_ms, timestamp_delta,
                                      &view.timestamp_ms)) {
        iter->error = SB_ECORRUPT;
        return SB_ECORRUPT;
    }
    iter->position += (size_t)consumed;
    iter->index++;
    *out = view;
    return 1;
}

static int
record_cursor_u32(struct record_cursor *cursor, uint32_t *out)
{
    int consumed = sb_varint_decode_u32(cursor->bytes + cursor->position,
                                        cursor->end - cursor->position, out);
    if (consumed < 0) {
        return SB_ECORRUPT;
    }
    cursor->position += (size_t)consumed;
    return 0;
}

static int
record_cursor_s64(struct record_cursor *cursor, int64_t *out)
{
    int consumed = sb_varint_decode_s64(cursor->bytes + cursor->position,
                                        cursor->end - cursor->position, out);
    if (consumed < 0) {
        return SB_ECORRUPT;
    }
    cursor->position += (size_t)consumed;
    return 0;
}

/* Reads a zigzag length (>= -1) and that many bytes; *bytes_out is NULL for -1. */
static int
record_cursor_field(struct record_cursor *cursor, int32_t *length_out,
                    const uint8_t **bytes_out)
{
    int32_t length = 0;
    int consumed = sb_varint_decode_s32(cursor->bytes + cursor->position,
                                        cursor->end - cursor->position, &length);
    if (consumed < 0 || length < -1) {
        return SB_ECORRUPT;
    }
    cursor->position += (size_t)consumed;
    if (length == -1) {
        *length_out = -1;
        *bytes_out = NULL;
        return 0;
    }
    if ((size_t)length > cursor->end - cursor->position) {
        return SB_ECORRUPT;
    }
    *length_out = length;
    *bytes_out = cursor->bytes + cursor->position;
    cursor->position += (size_t)length;
    return 0;
}

/* Checks header_count headers at the cursor and records where they are. */
static int
record_decode_headers(struct record_cursor *cursor, struct sb_record_view *out)
{
    if (record_cursor_u32(cursor, &out->header_count) != 0) {
        return SB_ECORRUPT;
    }
    size_t start = cursor->position;
    /* Bounded by the record: each header consumes at least 2 bytes or fails. */
    for (uint32_t i = 0; i < out->header_count; i++) {
        struct sb_record_header_view header;
        int consumed = record_header_decode(cursor->bytes + cursor->position,
                                            cursor->end - cursor->position, &header);
        if (consumed < 0) {
            return SB_ECORRUPT;
        }
        cursor->position += (size_t)consumed;
    }
    out->headers = cursor->bytes + start;
    out->headers_bytes = (uint32_t)(cursor->position - start);
    return 0;
}

/* Decodes the record at bytes, whose offset_delta must be index. Returns the bytes it
 * occupies or SB_ECORRUPT; fills *out except offset and timestamp_ms. */
static int
record_decode(const uint8_t *bytes, size_t available, uint32_t index,
              struct sb_record_view *out, int64_t *timestamp_delta)
{
    uint32_t length = 0;
    int prefix = sb_varint_decode_u32(bytes, available, &length);
    if (prefix < 0 || length > available - (size_t)prefix) {
        return SB_ECORRUPT;
    }
    struct record_cursor cursor = {
        .bytes = bytes, .end = (size_t)prefix + length, .position = (size_t)prefix};
    if (length == 0 || bytes[cursor.position] != 0) {
        return SB_ECORRUPT; /* Missing or nonzero record attributes. */
    }
    cursor.position++;
    uint32_t offset_delta = 0;
    if (record_cursor_s64(&cursor, timestamp_delta) != 0 ||
        record_cursor_u32(&cursor, &offset_delta) != 0 || offset_delta != index) {
        return SB_ECORRUPT;
    }
    if (record_cursor_field(&cursor, &out->key_length, &out->key) != 0 ||
        record_cursor_field(&cursor, &out->value_length, &out->value) != 0) {
        return SB_ECORRUPT;
    }
    if (record_decode_headers(&cursor, out) != 0) {
        return SB_ECORRUPT;
    }
    if (cursor.position != cursor.end) {
        return SB_ECORRUPT; /* Bytes left inside the record. */
    }
    SB_ASSERT(cursor.end <= available);
    return (int)cursor.end;
}

/* Decodes one [batch-record-header]; returns bytes consumed or SB_ECORRUPT. */
static int
record_header_decode(const uint8_t *bytes, size_t available, struct sb_record_header_view *out)
{
    uint32_t name_length = 0;
    int consumed = sb_varint_decode_u32(bytes, available, &name_length);
    if (consumed < 0 || name_length > available - (size_t)consumed) {
        return SB_ECORRUPT;
    }
    struct record_cursor cursor = {
        .bytes = bytes, .end = available, .position = (size_t)consumed + name_length};
    if (record_cursor_field(&cursor, &out->value_length, &out->value) != 0) {
        return SB_ECORRUPT;
    }
    out->name = bytes + consumed;
    out->name_length = name_length;
    SB_ASSERT(cursor.position <= available);
    return (int)cursor.position;
}

void
sb_record_header_iter_init(struct sb_record_header_iter *iter,
                           const struct sb_record_view *record)
{
    SB_ASSERT(record->headers != NULL || record->headers_bytes == 0);
    iter->bytes = record->headers;
    iter->bytes_length = record->headers_bytes;
    iter->position = 0;
    iter->index = 0;
    iter->header_count = record->header_count;
}

int
sb_record_header_iter_next(struct sb_record_header_iter *iter,
                           struct sb_record_header_view *out)
{
    SB_ASSERT(iter->position <= iter->bytes_length);
    if (iter->index == iter->header_count) {
        return iter->position == iter->bytes_length ? 0 : SB_ECORRUPT;
    }
    int consumed = record_header_decode(iter->bytes + iter->position,
                                        iter->bytes_length - iter->position, out);
    if (consumed < 0) {
        return consumed;
    }
    iter->position += (size_t)consumed;
    iter->index++;
    return 1;
}

int
sb_batch_decompress_records(const uint8_t *batch, const struct sb_batch_header *header,
                            uint8_t *out, size_t out_capacity)
{
    SB_ASSERT(header->batch_bytes >= SB_BATCH_HEADER_BYTES);
    SB_ASSERT(sb_load_le32(batch + SB_BATCH_OFFSET_MAGIC) == SB_BATCH_MAGIC);
    if (header->records_bytes > out_capacity || header->records_bytes > SB_COMPRESS_BYTES_MAX) {
        return -E2BIG; /* Before any decompression: bombs stop here. */
    }
    int produced = sb_decompress(sb_batch_header_compression(header),
                                 batch + SB_BATCH_HEADER_BYTES,
                                 header->batch_bytes - SB_BATCH_HEADER_BYTES, out,
                                 header->records_bytes);
    if (produced == -E2BIG) {
        return SB_ECORRUPT; /* More output than records_bytes promised. */
    }
    if (produced < 0) {
        return produced;
    }
    if ((uint32_t)produced != header->records_bytes) {
        return SB_ECORRUPT;
    }
    return produced;
}
