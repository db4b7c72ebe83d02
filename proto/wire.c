/*
 * proto/wire.c - frames ([frame-header] in wire.h) and the primitive reader
 * and writer every API codec is built from ([wire-primitives]).
 *
 * Reading order: the API table, frame decoding, the reader, the writer, and
 * last the frame encoder that wraps a body written with the writer.
 *
 * Invariants:
 * - The reader never reads outside [cursor, end); after its first failure it
 *   moves no more and returns zeros, so decoders stay straight-line code and
 *   check once. Every length and count is checked against the bytes left
 *   before it is used.
 * - The writer never writes outside [start, end); a write that fails writes
 *   nothing, so the bytes before the cursor are always whole fields.
 * - A frame's CRC covers everything after the CRC field; sb_frame_begin
 *   refuses headers that sb_frame_header_decode would refuse, so every frame
 *   this file writes decodes.
 */
#include "proto/wire.h"

#include <assert.h>
#include <errno.h>
#include <string.h>

#include "core/assert.h"
#include "core/base.h"
#include "core/crc32c.h"
#include "core/endian.h"
#include "core/error.h"
#include "core/limits.h"

static_assert(SB_FRAME_OFFSET_RESERVED + 4 == SB_FRAME_HEADER_BYTES, "fields fill the header");
static_assert(SB_FRAME_BYTES_MIN == 20, "frame_bytes counts the header after the prefix");

static const struct sb_api_version_range api_version_ranges[SB_API_COUNT] = {
    {SB_API_API_VERSIONS, 0, 0},     {SB_API_METADATA, 0, 0},
    {SB_API_PRODUCE, 0, 0},          {SB_API_FETCH, 0, 1},
    {SB_API_LIST_OFFSETS, 0, 0},     {SB_API_INIT_PRODUCER_ID, 0, 0},
    {SB_API_CREATE_TOPICS, 0, 0},    {SB_API_DELETE_TOPICS, 0, 0},
    {SB_API_LIST_TOPICS, 0, 0},      {SB_API_DESCRIBE_TOPIC, 0, 0},
    {SB_API_ALTER_TOPIC_CONFIG, 0, 0}, {SB_API_HEALTH, 0, 0},
    {SB_API_OFFSET_COMMIT, 0, 0},    {SB_API_OFFSET_FETCH, 0, 0},
    {SB_API_GROUP_HEARTBEAT, 0, 0},  {SB_API_LIST_GROUPS, 0, 0},
    {SB_API_DESCRIBE_GROUP, 0, 0},   {SB_API_DELETE_GROUP, 0, 0},
    {SB_API_ALTER_GROUP_OFFSETS, 0, 0},
};

static const char *const api_names[SB_API_COUNT] = {
    "ApiVersions", "Metadata",      "Produce",      "Fetch",
    "ListOffsets", "InitProducerId", "CreateTopics", "DeleteTopics",
    "ListTopics",  "DescribeTopic", "AlterTopicConfig", "Health",
    "OffsetCommit", "OffsetFetch",  "GroupHeartbeat", "ListGroups",
    "DescribeGroup", "DeleteGroup", "AlterGroupOffsets",
};

static uint32_t frame_header_load(const uint8_t *bytes, struct sb_frame_header *out);
static bool frame_header_is_valid(const struct sb_frame_header *header, uint32_t reserved);
static const uint8_t *reader_take(struct sb_wire_reader *reader, size_t length);
static uint32_t reader_array_count_check(struct sb_wire_reader *reader, uint32_t count,
                                         uint32_t element_bytes_min);
static void reader_array_walk(struct sb_wire_reader *reader, uint32_t count,
                              void (*element_read)(struct sb_wire_reader *reader,
                                                   void *element),
                              void *scratch, struct sb_wire_array *out);
static uint8_t *writer_take(struct sb_wire_writer *writer, size_t length);
static void writer_fail(struct sb_wire_writer *writer, int error);

uint32_t
sb_api_version_ranges(const struct sb_api_version_range **out)
{
    *out = api_version_ranges;
    return SB_API_COUNT;
}

const char *
sb_api_name(uint16_t api_key)
{
    return api_key < SB_API_COUNT ? api_names[api_key] : "unknown";
}

enum sb_wire_error
sb_api_check(uint16_t api_key, uint16_t api_version)
{
    if (api_key >= SB_API_COUNT) {
        return SB_WIRE_ERROR_UNKNOWN_API;
    }
    const struct sb_api_version_range *range = &api_version_ranges[api_key];
    SB_ASSERT(range->api_key == api_key);
    if (api_version < range->min_version || api_version > range->max_version) {
        return SB_WIRE_ERROR_UNSUPPORTED_VERSION;
    }
    return SB_WIRE_ERROR_NONE;
}

int
sb_frame_header_decode(const uint8_t *bytes, size_t available, uint32_t frame_bytes_max,
                       struct sb_frame_header *out)
{
    SB_ASSERT(frame_bytes_max >= SB_FRAME_BYTES_MIN);
    memset(out, 0, sizeof(*out));
    if (available < SB_FRAME_PREFIX_BYTES) {
        return -EAGAIN;
    }
    out->frame_bytes = sb_load_le32(bytes + SB_FRAME_OFFSET_FRAME_BYTES);
    uint32_t reserved = 0;
    if (available >= SB_FRAME_HEADER_BYTES) {
        reserved = frame_header_load(bytes, out);
    }
    if (out->frame_bytes > frame_bytes_max) {
        return -EMSGSIZE;
    }
    if (out->frame_bytes < SB_FRAME_BYTES_MIN) {
        return SB_ECORRUPT;
    }
    if (available < SB_FRAME_HEADER_BYTES) {
        return -EAGAIN;
    }
    if (!frame_header_is_valid(out, reserved)) {
        return SB_ECORRUPT;
    }
    if (available - SB_FRAME_PREFIX_BYTES < out->frame_bytes) {
        return -EAGAIN;
    }
    return 0;
}

/* Fills every field but frame_bytes from a whole header; returns the reserved field. */
static uint32_t
frame_header_load(const uint8_t *bytes, struct sb_frame_header *out)
{
    out->crc32c = sb_load_le32(bytes + SB_FRAME_OFFSET_CRC);
    out->api_key = sb_load_le16(bytes + SB_FRAME_OFFSET_API_KEY);
    out->api_version = sb_load_le16(bytes + SB_FRAME_OFFSET_API_VERSION);
    out->correlation_id = sb_load_le32(bytes + SB_FRAME_OFFSET_CORRELATION_ID);
    out->flags = sb_load_le16(bytes + SB_FRAME_OFFSET_FLAGS);
    out->error_code = (int16_t)sb_load_le16(bytes + SB_FRAME_OFFSET_ERROR_CODE);
    return sb_load_le32(bytes + SB_FRAME_OFFSET_RESERVED);
}

/* The header checks shared by the decoder and sb_frame_begin. */
static bool
frame_header_is_valid(const struct sb_frame_header *header, uint32_t reserved)
{
    if ((header->flags & ~SB_FRAME_FLAGS_DEFINED) != 0 || reserved != 0) {
        return false;
    }
    if (sb_frame_header_is_response(header)) {
        return (header->flags & SB_FRAME_FLAG_NO_RESPONSE) == 0;
    }
    return header->error_code == 0;
}

int
sb_frame_verify_crc(const uint8_t *bytes, size_t available,
                    const struct sb_frame_header *header)
{
    SB_ASSERT(header->frame_bytes >= SB_FRAME_BYTES_MIN);
    if (available < sb_frame_total_bytes(header)) {
        return -EAGAIN;
    }
    size_t covered = header->frame_bytes - (SB_FRAME_OFFSET_API_KEY - SB_FRAME_PREFIX_BYTES);
    uint32_t crc = sb_crc32c(0, bytes + SB_FRAME_OFFSET_API_KEY, covered);
    return crc == header->crc32c ? 0 : SB_ECORRUPT;
}

int
sb_frame_decode(const uint8_t *bytes, size_t available, uint32_t frame_bytes_max,
                struct sb_frame *out)
{
    struct sb_frame_header header;
    int error = sb_frame_header_decode(bytes, available, frame_bytes_max, &header);
    if (error != 0) {
        return error;
    }
    error = sb_frame_verify_crc(bytes, available, &header);
    if (error != 0) {
        return error;
    }
    out->header = header;
    out->body = bytes + SB_FRAME_HEADER_BYTES;
    out->body_bytes = header.frame_bytes - SB_FRAME_BYTES_MIN;
    return 0;
}

void
sb_wire_reader_init(struct sb_wire_reader *reader, const uint8_t *bytes, size_t length)
{
    SB_ASSERT(bytes != NULL || length == 0);
    reader->cursor = bytes;
    reader->end = bytes == NULL ? bytes : bytes + length; /* No arithmetic on NULL. */
    reader->error = 0;
}

int
sb_wire_reader_finish(const struct sb_wire_reader *reader)
{
    if (reader->error != 0) {
        return reader->error;
    }
    return reader->cursor == reader->end ? 0 : SB_ECORRUPT;
}

uint8_t
sb_wire_read_u8(struct sb_wire_reader *reader)
{
    const uint8_t *bytes = reader_take(reader, 1);
    return bytes == NULL ? 0 : bytes[0];
}

int8_t
sb_wire_read_i8(struct sb_wire_reader *reader)
{
    return (int8_t)sb_wire_read_u8(reader);
}

uint16_t
sb_wire_read_u16(struct sb_wire_reader *reader)
{
    const uint8_t *bytes = reader_take(reader, 2);
    return bytes == NULL ? 0 : sb_load_le16(bytes);
}

int16_t
sb_wire_read_i16(struct sb_wire_reader *reader)
{
    return (int16_t)sb_wire_read_u16(reader);
}

uint32_t
sb_wire_read_u32(struct sb_wire_reader *reader)
{
    const uint8_t *bytes = reader_take(reader, 4);
    return bytes == NULL ? 0 : sb_load_le32(bytes);
}

int32_t
sb_wire_read_i32(struct sb_wire_reader *reader)
{
    return (int32_t)sb_wire_read_u32(reader);
}

uint64_t
sb_wire_read_u64(struct sb_wire_reader *reader)
{
    const uint8_t *bytes = reader_take(reader, 8);
    return bytes == NULL ? 0 : sb_load_le64(bytes);
}

int64_t
sb_wire_read_i64(struct sb_wire_reader *reader)
{
    return (int64_t)sb_wire_read_u64(reader);
}

void
sb_wire_read_string(struct sb_wire_reader *reader, struct sb_wire_string *out)
{
    sb_wire_read_string_nullable(reader, out);
    if (out->chars == NULL && reader->error == 0) {
        reader->error = SB_ECORRUPT;
    }
}

void
sb_wire_read_string_nullable(struct sb_wire_reader *reader, struct sb_wire_string *out)
{
    out->chars = NULL;
    out->length = 0;
    uint16_t length = sb_wire_read_u16(reader);
    if (reader->error != 0 || length == SB_WIRE_STRING_NULL) {
        return;
    }
    const uint8_t *chars = reader_take(reader, length);
    if (chars != NULL) {
        out->chars = (const char *)chars;
        out->length = length;
    }
}

void
sb_wire_read_bytes(struct sb_wire_reader *reader, struct sb_wire_bytes *out)
{
    sb_wire_read_bytes_nullable(reader, out);
    if (out->data == NULL && reader->error == 0) {
        reader->error = SB_ECORRUPT;
    }
}

void
sb_wire_read_bytes_nullable(struct sb_wire_reader *reader, struct sb_wire_bytes *out)
{
    out->data = NULL;
    out->length = 0;
    uint32_t length = sb_wire_read_u32(reader);
    if (reader->error != 0 || length == SB_WIRE_BYTES_NULL) {
        return;
    }
    const uint8_t *data = reader_take(reader, length);
    if (data != NULL) {
        out->data = data;
        out->length = length;
    }
}

uint32_t
sb_wire_read_array_count(struct sb_wire_reader *reader, uint32_t element_bytes_min)
{
    uint32_t count = sb_wire_read_u32(reader);
    return reader_array_count_check(reader, count, element_bytes_min);
}

/* Refuses counts that cannot be real before a single element is looked at, so a forged
 * count costs nothing. */
static uint32_t
reader_array_count_check(struct sb_wire_reader *reader, uint32_t count,
                         uint32_t element_bytes_min)
{
    SB_ASSERT(element_bytes_min >= 1);
    if (reader->error != 0) {
        return 0;
    }
    if (count > SB_WIRE_ARRAY_COUNT_MAX ||
        (uint64_t)count * element_bytes_min > sb_wire_reader_remaining(reader)) {
        reader->error = SB_ECORRUPT;
        return 0;
    }
    return count;
}

void
sb_wire_read_array(struct sb_wire_reader *reader, uint32_t element_bytes_min,
                   void (*element_read)(struct sb_wire_reader *reader, void *element),
                   void *scratch, struct sb_wire_array *out)
{
    uint32_t count = sb_wire_read_array_count(reader, element_bytes_min);
    reader_array_walk(reader, count, element_read, scratch, out);
}

bool
sb_wire_read_array_nullable(struct sb_wire_reader *reader, uint32_t element_bytes_min,
                            void (*element_read)(struct sb_wire_reader *reader, void *element),
                            void *scratch, struct sb_wire_array *out)
{
    uint32_t count = sb_wire_read_u32(reader);
    bool null = reader->error == 0 && count == SB_WIRE_ARRAY_NULL;
    if (null) {
        count = 0;
    }
    count = reader_array_count_check(reader, count, element_bytes_min);
    reader_array_walk(reader, count, element_read, scratch, out);
    return null;
}

/* Reads count elements to find the array's end; *out then covers exactly those bytes. The
 * loop is bounded by count <= SB_WIRE_ARRAY_COUNT_MAX and stops at the first error. */
static void
reader_array_walk(struct sb_wire_reader *reader, uint32_t count,
                  void (*element_read)(struct sb_wire_reader *reader, void *element),
                  void *scratch, struct sb_wire_array *out)
{
    SB_ASSERT(count <= SB_WIRE_ARRAY_COUNT_MAX);
    const uint8_t *start = reader->cursor;
    for (uint32_t i = 0; i < count && reader->error == 0; i++) {
        const uint8_t *before = reader->cursor;
        element_read(reader, scratch);
        /* Every element has a fixed part, so the walk always moves on. */
        if (reader->error == 0) {
            SB_ASSERT(reader->cursor > before);
        }
    }
    out->reader.cursor = start;
    out->reader.end = reader->error == 0 ? reader->cursor : start;
    out->reader.error = reader->error;
    out->count = reader->error == 0 ? count : 0;
    out->index = 0;
}

int
sb_wire_array_next(struct sb_wire_array *array,
                   void (*element_read)(struct sb_wire_reader *reader, void *element),
                   void *element)
{
    struct sb_wire_reader *reader = &array->reader;
    if (reader->error != 0) {
        return reader->error;
    }
    if (array->index == array->count) {
        return sb_wire_reader_finish(reader);
    }
    element_read(reader, element);
    if (reader->error != 0) {
        return reader->error;
    }
    array->index++;
    return 1;
}

/* Returns length bytes at the cursor and moves past them, or NULL (setting the sticky
 * error) when fewer remain or an earlier read failed. */
static const uint8_t *
reader_take(struct sb_wire_reader *reader, size_t length)
{
    if (reader->error != 0) {
        return NULL;
    }
    if (length > sb_wire_reader_remaining(reader)) {
        reader->error = SB_ECORRUPT;
        return NULL;
    }
    const uint8_t *bytes = reader->cursor;
    reader->cursor += length;
    return bytes;
}

void
sb_wire_writer_init(struct sb_wire_writer *writer, uint8_t *buffer, size_t capacity)
{
    SB_ASSERT(buffer != NULL || capacity == 0);
    writer->start = buffer;
    writer->cursor = buffer;
    writer->end = buffer == NULL ? buffer : buffer + sb_min_u64(capacity, UINT32_MAX);
    writer->frame = NULL;
    writer->error = 0;
    writer->known_crc_count = 0;
}

void
sb_wire_write_u8(struct sb_wire_writer *writer, uint8_t value)
{
    uint8_t *bytes = writer_take(writer, 1);
    if (bytes != NULL) {
        bytes[0] = value;
    }
}

void
sb_wire_write_i8(struct sb_wire_writer *writer, int8_t value)
{
    sb_wire_write_u8(writer, (uint8_t)value);
}

void
sb_wire_write_u16(struct sb_wire_writer *writer, uint16_t value)
{
    uint8_t *bytes = writer_take(writer, 2);
    if (bytes != NULL) {
        sb_store_le16(bytes, value);
    }
}

void
sb_wire_write_i16(struct sb_wire_writer *writer, int16_t value)
{
    sb_wire_write_u16(writer, (uint16_t)value);
}

void
sb_wire_write_u32(struct sb_wire_writer *writer, uint32_t value)
{
    uint8_t *bytes = writer_take(writer, 4);
    if (bytes != NULL) {
        sb_store_le32(bytes, value);
    }
}

void
sb_wire_write_i32(struct sb_wire_writer *writer, int32_t value)
{
    sb_wire_write_u32(writer, (uint32_t)value);
}

void
sb_wire_write_u64(struct sb_wire_writer *writer, uint64_t value)
{
    uint8_t *bytes = writer_take(writer, 8);
    if (bytes != NULL) {
        sb_store_le64(bytes, value);
    }
}

void
sb_wire_write_i64(struct sb_wire_writer *writer, int64_t value)
{
    sb_wire_write_u64(writer, (uint64_t)value);
}

void
sb_wire_write_string(struct sb_wire_writer *writer, struct sb_wire_string value)
{
    if (value.chars == NULL) {
        writer_fail(writer, -EINVAL);
        return;
    }
    sb_wire_write_string_nullable(writer, value);
}

void
sb_wire_write_string_nullable(struct sb_wire_writer *writer, struct sb_wire_string value)
{
    if (value.chars == NULL) {
        sb_wire_write_u16(writer, SB_WIRE_STRING_NULL);
        return;
    }
    if (value.length > SB_WIRE_STRING_BYTES_MAX) {
        writer_fail(writer, -EINVAL);
        return;
    }
    /* Take length and bytes at once, so a string that does not fit writes nothing. */
    uint8_t *bytes = writer_take(writer, 2 + (size_t)value.length);
    if (bytes != NULL) {
        sb_store_le16(bytes, value.length);
        memcpy(bytes + 2, value.chars, value.length);
    }
}

void
sb_wire_write_bytes(struct sb_wire_writer *writer, struct sb_wire_bytes value)
{
    if (value.data == NULL) {
        writer_fail(writer, -EINVAL);
        return;
    }
    sb_wire_write_bytes_nullable(writer, value);
}

void
sb_wire_write_bytes_nullable(struct sb_wire_writer *writer, struct sb_wire_bytes value)
{
    if (value.data == NULL) {
        sb_wire_write_u32(writer, SB_WIRE_BYTES_NULL);
        return;
    }
    if (value.length > SB_WIRE_BYTES_LENGTH_MAX) {
        writer_fail(writer, -EINVAL);
        return;
    }
    uint8_t *bytes = writer_take(writer, 4 + (size_t)value.length);
    if (bytes != NULL) {
        sb_store_le32(bytes, value.length);
        if (bytes + 4 != value.data) {
            /* Not memcpy: the bytes may be later in this buffer (wire.h). */
            memmove(bytes + 4, value.data, value.length);
        }
    }
}

void
sb_wire_write_bytes_crc(struct sb_wire_writer *writer, struct sb_wire_bytes value, uint32_t crc)
{
    sb_wire_write_bytes(writer, value);
    if (writer->error != 0 || writer->frame == NULL || value.length == 0 ||
        writer->known_crc_count == SB_WIRE_KNOWN_CRC_RUNS_MAX) {
        return; /* Read as usual by sb_frame_finish. */
    }
    writer->known_crcs[writer->known_crc_count++] = (struct sb_wire_known_crc){
        .offset = (uint32_t)(writer->cursor - value.length - writer->start),
        .length = value.length, .crc = crc};
}

void
sb_wire_write_array_count(struct sb_wire_writer *writer, uint32_t count)
{
    if (count > SB_WIRE_ARRAY_COUNT_MAX) {
        writer_fail(writer, -EINVAL);
        return;
    }
    sb_wire_write_u32(writer, count);
}

void
sb_wire_write_array_null(struct sb_wire_writer *writer)
{
    sb_wire_write_u32(writer, SB_WIRE_ARRAY_NULL);
}

void
sb_wire_write_array(struct sb_wire_writer *writer, const void *elements, uint32_t count,
                    size_t element_size,
                    void (*element_write)(struct sb_wire_writer *writer, const void *element))
{
    SB_ASSERT(element_size > 0);
    if (count > 0 && elements == NULL) {
        writer_fail(writer, -EINVAL);
        return;
    }
    sb_wire_write_array_count(writer, count);
    const uint8_t *element = elements;
    /* Bounded by count <= SB_WIRE_ARRAY_COUNT_MAX (checked above); stops at an error. */
    for (uint32_t i = 0; i < count && writer->error == 0; i++) {
        element_write(writer, element);
        element += element_size;
    }
}

uint8_t *
sb_wire_write_reserve(struct sb_wire_writer *writer, size_t length)
{
    return writer_take(writer, length);
}

/* Returns length bytes at the cursor and moves past them, or NULL (with -ENOSPC) when they
 * do not fit or an earlier write failed. */
static uint8_t *
writer_take(struct sb_wire_writer *writer, size_t length)
{
    if (writer->error != 0) {
        return NULL;
    }
    if (length > (size_t)(writer->end - writer->cursor)) {
        writer->error = -ENOSPC;
        return NULL;
    }
    uint8_t *bytes = writer->cursor;
    writer->cursor += length;
    return bytes;
}

/* Records the first error only: later failures are consequences of it. */
static void
writer_fail(struct sb_wire_writer *writer, int error)
{
    SB_ASSERT(error < 0);
    if (writer->error == 0) {
        writer->error = error;
    }
}

int
sb_frame_begin(struct sb_wire_writer *writer, const struct sb_frame_header *header)
{
    SB_ASSERT(writer->frame == NULL);
    writer->frame = writer->cursor;
    writer->known_crc_count = 0;
    if (!frame_header_is_valid(header, 0)) {
        writer_fail(writer, -EINVAL);
        return writer->error;
    }
    uint8_t *bytes = writer_take(writer, SB_FRAME_HEADER_BYTES);
    if (bytes == NULL) {
        return writer->error;
    }
    /* frame_bytes and crc32c are backfilled by sb_frame_finish. */
    sb_store_le32(bytes + SB_FRAME_OFFSET_FRAME_BYTES, 0);
    sb_store_le32(bytes + SB_FRAME_OFFSET_CRC, 0);
    sb_store_le16(bytes + SB_FRAME_OFFSET_API_KEY, header->api_key);
    sb_store_le16(bytes + SB_FRAME_OFFSET_API_VERSION, header->api_version);
    sb_store_le32(bytes + SB_FRAME_OFFSET_CORRELATION_ID, header->correlation_id);
    sb_store_le16(bytes + SB_FRAME_OFFSET_FLAGS, header->flags);
    sb_store_le16(bytes + SB_FRAME_OFFSET_ERROR_CODE, (uint16_t)header->error_code);
    sb_store_le32(bytes + SB_FRAME_OFFSET_RESERVED, 0);
    return 0;
}

int
sb_frame_finish(struct sb_wire_writer *writer)
{
    SB_ASSERT(writer->frame != NULL);
    uint8_t *frame = writer->frame;
    writer->frame = NULL;
    if (writer->error != 0) {
        int error = writer->error;
        writer->cursor = frame;
        writer->error = 0;
        writer->known_crc_count = 0;
        return error;
    }
    size_t total = (size_t)(writer->cursor - frame);
    SB_ASSERT(total >= SB_FRAME_HEADER_BYTES);
    /* The writer's capacity is clamped to UINT32_MAX, so the length fits its field. */
    uint32_t frame_bytes = (uint32_t)(total - SB_FRAME_PREFIX_BYTES);
    sb_store_le32(frame + SB_FRAME_OFFSET_FRAME_BYTES, frame_bytes);
    /* Bytes from API_KEY on; runs of known CRC are combined, not read (bounded by the
     * runs). */
    const uint8_t *at = frame + SB_FRAME_OFFSET_API_KEY;
    uint32_t crc = 0;
    for (uint32_t index = 0; index < writer->known_crc_count; index++) {
        const struct sb_wire_known_crc *known = &writer->known_crcs[index];
        const uint8_t *run = writer->start + known->offset;
        SB_ASSERT(run >= at && run + known->length <= writer->cursor);
        crc = sb_crc32c(crc, at, (size_t)(run - at));
        crc = sb_crc32c_combine(crc, known->crc, known->length);
        at = run + known->length;
    }
    writer->known_crc_count = 0;
    crc = sb_crc32c(crc, at, (size_t)(writer->cursor - at));
    sb_store_le32(frame + SB_FRAME_OFFSET_CRC, crc);
    return 0;
}

int
sb_frame_error_response_encode(struct sb_wire_writer *writer,
                               const struct sb_frame_header *request,
                               enum sb_wire_error error)
{
    SB_ASSERT(error != SB_WIRE_ERROR_NONE);
    struct sb_frame_header response = {
        .api_key = request->api_key,
        .api_version = request->api_version,
        .correlation_id = request->correlation_id,
        .flags = SB_FRAME_FLAG_RESPONSE,
        .error_code = (int16_t)error,
    };
    sb_frame_begin(writer, &response);
    return sb_frame_finish(writer);
}
