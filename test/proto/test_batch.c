/*
 * test/proto/test_batch.c - record batches and varints: builder round trips
 * (keys, null keys, tombstones, headers, timestamps) for every codec; every
 * SB_ECORRUPT path of the header decoder, the payload CRC, the record
 * iterator and decompression, provoked one at a time; the builder's -ENOSPC
 * and -EINVAL leaving it unchanged; broker rewrites (offset, log-append time)
 * keeping the batch valid without touching the payload; death tests for the
 * asserts on programmer errors.
 *
 * Hand-written record areas use the minimal record at index i:
 *   06 00 00 i 01 01 00  = length 6, attributes 0, timestamp_delta 0,
 *                          offset_delta i, key null, value null, 0 headers.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>

#include "core/crc32c.h"
#include "core/error.h"
#include "proto/batch.h"
#include "proto/varint.h"

#define BUFFER_BYTES (1 << 20)
#define BATCH_BYTES_MAX (4u << 20)
#define GUARD 0xA5
#define LARGE_VALUE_BYTES 3000

static uint8_t buffer[BUFFER_BYTES];
static uint8_t scratch[BUFFER_BYTES + 4096];
static uint8_t records_out[BUFFER_BYTES + 64];
static uint8_t large_value[LARGE_VALUE_BYTES];

static const enum sb_compression every_codec[] = {
    SB_COMPRESSION_NONE, SB_COMPRESSION_GZIP, SB_COMPRESSION_SNAPPY, SB_COMPRESSION_LZ4,
    SB_COMPRESSION_ZSTD,
};

static const struct sb_record_header sample_headers[] = {
    {.name = "trace", .name_length = 5, .value = "abc", .value_length = 3},
    {.name = "empty", .name_length = 5, .value = "", .value_length = 0},
    {.name = "null", .name_length = 4, .value = NULL, .value_length = -1},
    {.name = NULL, .name_length = 0, .value = "x", .value_length = 1},
};

#define SAMPLE_FIRST_TIMESTAMP_MS 1000
#define SAMPLE_RECORD_COUNT 5

static struct sb_record sample_records[SAMPLE_RECORD_COUNT] = {
    {.key = "k0", .key_length = 2, .value = "v0", .value_length = 2, .timestamp_ms = 1000},
    {.key = NULL, .key_length = -1, .value = "hello", .value_length = 5, .timestamp_ms = 999},
    {.key = "k2", .key_length = 2, .value = NULL, .value_length = -1, .timestamp_ms = 5000},
    {.key = "", .key_length = 0, .value = "", .value_length = 0, .timestamp_ms = 1000,
     .headers = sample_headers, .header_count = 4},
    {.key = "big", .key_length = 3, .value = large_value, .value_length = LARGE_VALUE_BYTES,
     .timestamp_ms = 1000 + 1000000000000LL},
};

static void
fill_random(uint8_t *bytes, size_t length, uint64_t seed)
{
    uint64_t state = seed | 1;
    for (size_t i = 0; i < length; i++) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        bytes[i] = (uint8_t)(state >> 24);
    }
}

static void
poke_u16(uint8_t *bytes, uint16_t value)
{
    bytes[0] = (uint8_t)value;
    bytes[1] = (uint8_t)(value >> 8);
}

static void
poke_u32(uint8_t *bytes, uint32_t value)
{
    for (int i = 0; i < 4; i++) {
        bytes[i] = (uint8_t)(value >> (8 * i));
    }
}

static void
poke_u64(uint8_t *bytes, uint64_t value)
{
    poke_u32(bytes, (uint32_t)value);
    poke_u32(bytes + 4, (uint32_t)(value >> 32));
}

static uint32_t
peek_u32(const uint8_t *bytes)
{
    return (uint32_t)bytes[0] | ((uint32_t)bytes[1] << 8) | ((uint32_t)bytes[2] << 16) |
           ((uint32_t)bytes[3] << 24);
}

/* Recomputes the header CRC after a test edited a field, as a forger would. */
static void
reseal(uint8_t *batch)
{
    poke_u32(batch + SB_BATCH_OFFSET_HEADER_CRC, sb_crc32c(0, batch + 8, 56));
}

static int
decode(const uint8_t *batch)
{
    struct sb_batch_header header;
    return sb_batch_header_decode(batch, SB_BATCH_HEADER_BYTES, BATCH_BYTES_MAX, &header);
}

/* Builds the sample batch with codec; returns a copy in buffer-independent storage. */
static uint32_t
build_sample(enum sb_compression codec, uint8_t *out)
{
    fill_random(large_value, sizeof(large_value), 17);
    struct sb_batch_builder builder;
    sb_batch_builder_init(&builder, buffer, sizeof(buffer), SAMPLE_FIRST_TIMESTAMP_MS);
    for (int i = 0; i < SAMPLE_RECORD_COUNT; i++) {
        cr_assert_eq(sb_batch_builder_add(&builder, &sample_records[i]), 0);
    }
    const uint8_t *batch = NULL;
    uint32_t batch_bytes = 0;
    cr_assert_eq(sb_batch_builder_finish(&builder, codec, scratch, sizeof(scratch), &batch,
                                         &batch_bytes),
                 0);
    memmove(out, batch, batch_bytes);
    return batch_bytes;
}

static void
check_bytes(const uint8_t *actual, int32_t actual_length, const void *expected,
            int32_t expected_length)
{
    cr_assert_eq(actual_length, expected_length);
    if (expected_length < 0) {
        cr_assert_null(actual);
    } else {
        cr_assert_not_null(actual);
        cr_assert_eq(memcmp(actual, expected, (size_t)expected_length), 0);
    }
}

static void
check_headers(const struct sb_record_view *view, const struct sb_record *expected)
{
    struct sb_record_header_iter headers;
    sb_record_header_iter_init(&headers, view);
    struct sb_record_header_view header;
    for (uint32_t i = 0; i < expected->header_count; i++) {
        cr_assert_eq(sb_record_header_iter_next(&headers, &header), 1);
        const struct sb_record_header *want = &expected->headers[i];
        cr_assert_eq(header.name_length, want->name_length);
        cr_assert_eq(memcmp(header.name, want->name == NULL ? "" : want->name,
                            want->name_length),
                     0);
        check_bytes(header.value, header.value_length, want->value, want->value_length);
    }
    cr_assert_eq(sb_record_header_iter_next(&headers, &header), 0);
}

/* Verifies a sample batch and checks every record against sample_records. */
static void
check_sample(const uint8_t *batch, uint32_t batch_bytes, int64_t base_offset)
{
    struct sb_batch_header header;
    cr_assert_eq(sb_batch_verify(batch, batch_bytes, BATCH_BYTES_MAX, &header), 0);
    cr_assert_eq(header.batch_bytes, batch_bytes);
    cr_assert_eq(header.record_count, SAMPLE_RECORD_COUNT);
    cr_assert_eq(header.base_offset, base_offset);
    cr_assert_eq(header.first_timestamp_ms, SAMPLE_FIRST_TIMESTAMP_MS);
    cr_assert_eq(header.max_timestamp_ms, sample_records[4].timestamp_ms);
    int records_bytes = sb_batch_decompress_records(batch, &header, records_out,
                                                    sizeof(records_out));
    cr_assert_eq(records_bytes, (int)header.records_bytes);
    struct sb_record_iter iter;
    sb_record_iter_init(&iter, &header, records_out, header.records_bytes);
    struct sb_record_view view;
    for (int i = 0; i < SAMPLE_RECORD_COUNT; i++) {
        const struct sb_record *want = &sample_records[i];
        cr_assert_eq(sb_record_iter_next(&iter, &view), 1, "record %d", i);
        cr_assert_eq(view.offset, base_offset + i);
        cr_assert_eq(view.timestamp_ms, want->timestamp_ms);
        check_bytes(view.key, view.key_length, want->key, want->key_length);
        check_bytes(view.value, view.value_length, want->value, want->value_length);
        cr_assert_eq(view.header_count, want->header_count);
        check_headers(&view, want);
    }
    cr_assert_eq(sb_record_iter_next(&iter, &view), 0);
    cr_assert_eq(sb_record_iter_next(&iter, &view), 0, "the end stays the end");
}

/* Runs the iterator over a hand-written record area; returns its final result and counts
 * the records it produced. */
static int
iterate_area(const uint8_t *area, size_t length, uint32_t record_count, int *records_out_count)
{
    struct sb_batch_header header = {
        .batch_bytes = (uint32_t)(SB_BATCH_HEADER_BYTES + length),
        .record_count = record_count,
        .records_bytes = (uint32_t)length,
    };
    struct sb_record_iter iter;
    sb_record_iter_init(&iter, &header, area, length);
    struct sb_record_view view;
    int result;
    int produced = 0;
    while ((result = sb_record_iter_next(&iter, &view)) == 1) {
        produced++;
    }
    if (records_out_count != NULL) {
        *records_out_count = produced;
    }
    return result;
}

static void
assert_area_corrupt(const uint8_t *area, size_t length, uint32_t record_count,
                    const char *what)
{
    cr_assert_eq(iterate_area(area, length, record_count, NULL), SB_ECORRUPT, "%s", what);
}

/* ---- round trips ---- */

Test(batch, round_trip_keys_values_headers_timestamps)
{
    static uint8_t batch[BUFFER_BYTES];
    uint32_t batch_bytes = build_sample(SB_COMPRESSION_NONE, batch);
    check_sample(batch, batch_bytes, 0);
}

Test(batch, round_trip_every_codec)
{
    static uint8_t batch[BUFFER_BYTES];
    for (size_t c = 0; c < sizeof(every_codec) / sizeof(every_codec[0]); c++) {
        uint32_t batch_bytes = build_sample(every_codec[c], batch);
        struct sb_batch_header header;
        cr_assert_eq(sb_batch_verify(batch, batch_bytes, BATCH_BYTES_MAX, &header), 0);
        cr_assert_eq(sb_batch_header_compression(&header), every_codec[c]);
        check_sample(batch, batch_bytes, 0);
    }
}

/* Many records of one shape, compressible or random, through one codec. */
static void
round_trip_many(enum sb_compression codec, bool compressible, int32_t value_length)
{
    static uint8_t value[512];
    struct sb_batch_builder builder;
    sb_batch_builder_init(&builder, buffer, sizeof(buffer), 77);
    for (int i = 0; i < 300; i++) {
        if (compressible) {
            memset(value, 'a' + i % 3, sizeof(value));
        } else {
            fill_random(value, sizeof(value), (uint64_t)i + 1);
        }
        struct sb_record record = {.key = NULL, .key_length = -1, .value = value,
                                   .value_length = value_length, .timestamp_ms = 77 + i};
        cr_assert_eq(sb_batch_builder_add(&builder, &record), 0);
    }
    const uint8_t *batch = NULL;
    uint32_t batch_bytes = 0;
    cr_assert_eq(sb_batch_builder_finish(&builder, codec, scratch, sizeof(scratch), &batch,
                                         &batch_bytes),
                 0);
    struct sb_batch_header header;
    cr_assert_eq(sb_batch_verify(batch, batch_bytes, BATCH_BYTES_MAX, &header), 0);
    cr_assert_eq(sb_batch_decompress_records(batch, &header, records_out, sizeof(records_out)),
                 (int)header.records_bytes);
    struct sb_record_iter iter;
    sb_record_iter_init(&iter, &header, records_out, header.records_bytes);
    struct sb_record_view view;
    for (int i = 0; i < 300; i++) {
        cr_assert_eq(sb_record_iter_next(&iter, &view), 1);
        cr_assert_eq(view.offset, i);
        cr_assert_eq(view.timestamp_ms, 77 + i);
        cr_assert_null(view.key);
        cr_assert_eq(view.value_length, value_length);
    }
    cr_assert_eq(sb_record_iter_next(&iter, &view), 0);
    if (compressible && codec != SB_COMPRESSION_NONE && value_length > 0) {
        cr_assert_lt(header.batch_bytes, header.records_bytes / 4, "%s",
                     sb_compression_name(codec));
    }
}

Test(batch, round_trip_every_codec_compressible_random_and_empty_records)
{
    for (size_t c = 0; c < sizeof(every_codec) / sizeof(every_codec[0]); c++) {
        round_trip_many(every_codec[c], true, 512);
        round_trip_many(every_codec[c], false, 512);
        round_trip_many(every_codec[c], true, 0);
        round_trip_many(every_codec[c], true, -1);
    }
}

Test(batch, producer_fields_and_control_bit_round_trip)
{
    struct sb_batch_builder builder;
    sb_batch_builder_init(&builder, buffer, sizeof(buffer), -5);
    sb_batch_builder_set_producer(&builder, 123456789012LL, 7, 42);
    sb_batch_builder_set_control(&builder, true);
    struct sb_record record = {.key = "c", .key_length = 1, .value_length = -1,
                               .timestamp_ms = -5};
    cr_assert_eq(sb_batch_builder_add(&builder, &record), 0);
    const uint8_t *batch = NULL;
    uint32_t batch_bytes = 0;
    cr_assert_eq(sb_batch_builder_finish(&builder, SB_COMPRESSION_NONE, NULL, 0, &batch,
                                         &batch_bytes),
                 0);
    cr_assert_eq(batch, buffer, "uncompressed batches are finished in place");
    struct sb_batch_header header;
    cr_assert_eq(sb_batch_verify(batch, batch_bytes, BATCH_BYTES_MAX, &header), 0);
    cr_assert_eq(header.producer_id, 123456789012LL);
    cr_assert_eq(header.producer_epoch, 7);
    cr_assert_eq(header.base_sequence, 42);
    cr_assert(sb_batch_header_is_control(&header));
    cr_assert_not(sb_batch_header_is_log_append_time(&header));
    cr_assert_eq(header.first_timestamp_ms, -5);
    cr_assert_eq(header.max_timestamp_ms, -5);
    cr_assert_eq(peek_u32(batch), SB_BATCH_MAGIC);
    static const uint8_t magic_bytes[] = {0x53, 0x42, 0x42, 0x31} /* "SBB1" */;
    cr_assert_eq(memcmp(batch, magic_bytes, 4), 0, "little-endian magic");
}

Test(batch, defaults_mean_no_producer)
{
    static uint8_t batch[BUFFER_BYTES];
    uint32_t batch_bytes = build_sample(SB_COMPRESSION_NONE, batch);
    struct sb_batch_header header;
    cr_assert_eq(sb_batch_verify(batch, batch_bytes, BATCH_BYTES_MAX, &header), 0);
    cr_assert_eq(header.producer_id, -1);
    cr_assert_eq(header.producer_epoch, -1);
    cr_assert_eq(header.base_sequence, -1);
    cr_assert_not(sb_batch_header_is_control(&header));
    cr_assert_eq(sb_batch_header_last_offset(&header), SAMPLE_RECORD_COUNT - 1);
}

Test(batch, header_encode_decode_round_trip)
{
    struct sb_batch_header header = {
        .batch_bytes = 100, .record_count = 3, .base_offset = 99, .first_timestamp_ms = -7,
        .max_timestamp_ms = 12, .producer_id = 5, .producer_epoch = -1,
        .attributes = SB_COMPRESSION_LZ4 | SB_BATCH_ATTRIBUTE_LOG_APPEND_TIME,
        .base_sequence = 10, .payload_crc32c = 0xCAFEF00Du, .records_bytes = 500,
    };
    uint8_t bytes[SB_BATCH_HEADER_BYTES];
    sb_batch_header_encode(&header, bytes);
    struct sb_batch_header decoded;
    cr_assert_eq(sb_batch_header_decode(bytes, sizeof(bytes), 1000, &decoded), 0);
    cr_assert_eq(decoded.header_crc32c, peek_u32(bytes + SB_BATCH_OFFSET_HEADER_CRC));
    cr_assert_eq(decoded.batch_bytes, header.batch_bytes);
    cr_assert_eq(decoded.record_count, header.record_count);
    cr_assert_eq(decoded.base_offset, header.base_offset);
    cr_assert_eq(decoded.first_timestamp_ms, header.first_timestamp_ms);
    cr_assert_eq(decoded.max_timestamp_ms, header.max_timestamp_ms);
    cr_assert_eq(decoded.producer_id, header.producer_id);
    cr_assert_eq(decoded.producer_epoch, header.producer_epoch);
    cr_assert_eq(decoded.attributes, header.attributes);
    cr_assert_eq(decoded.base_sequence, header.base_sequence);
    cr_assert_eq(decoded.payload_crc32c, header.payload_crc32c);
    cr_assert_eq(decoded.records_bytes, header.records_bytes);
    cr_assert(sb_batch_header_is_log_append_time(&decoded));
    cr_assert_eq(sb_batch_header_compression(&decoded), SB_COMPRESSION_LZ4);
}

/* ---- header decode errors ---- */

Test(batch, short_header_is_eagain)
{
    static uint8_t batch[BUFFER_BYTES];
    build_sample(SB_COMPRESSION_NONE, batch);
    struct sb_batch_header header;
    for (size_t available = 0; available < SB_BATCH_HEADER_BYTES; available++) {
        cr_assert_eq(sb_batch_header_decode(batch, available, BATCH_BYTES_MAX, &header),
                     -EAGAIN);
        cr_assert_eq(sb_batch_verify(batch, available, BATCH_BYTES_MAX, &header), -EAGAIN);
    }
}

Test(batch, verify_needs_the_whole_batch_and_ignores_what_follows)
{
    static uint8_t batch[BUFFER_BYTES];
    uint32_t batch_bytes = build_sample(SB_COMPRESSION_NONE, batch);
    struct sb_batch_header header;
    for (size_t length = SB_BATCH_HEADER_BYTES; length < batch_bytes; length += 97) {
        cr_assert_eq(sb_batch_verify(batch, length, BATCH_BYTES_MAX, &header), -EAGAIN);
    }
    cr_assert_eq(sb_batch_verify(batch, batch_bytes - 1, BATCH_BYTES_MAX, &header), -EAGAIN);
    cr_assert_eq(sb_batch_verify(batch, batch_bytes + 1000, BATCH_BYTES_MAX, &header), 0);
}

Test(batch, bad_magic_is_corrupt)
{
    static uint8_t batch[BUFFER_BYTES];
    build_sample(SB_COMPRESSION_NONE, batch);
    for (int i = 0; i < 4; i++) {
        batch[i] ^= 0x20;
        cr_assert_eq(decode(batch), SB_ECORRUPT, "magic byte %d", i);
        batch[i] ^= 0x20;
    }
    cr_assert_eq(decode(batch), 0);
}

Test(batch, any_header_bit_flip_is_corrupt)
{
    static uint8_t batch[BUFFER_BYTES];
    build_sample(SB_COMPRESSION_NONE, batch);
    for (int bit = 0; bit < SB_BATCH_HEADER_BYTES * 8; bit++) {
        batch[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        cr_assert_eq(decode(batch), SB_ECORRUPT, "bit %d", bit);
        batch[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    cr_assert_eq(decode(batch), 0);
}

Test(batch, payload_byte_flip_is_corrupt)
{
    static uint8_t batch[BUFFER_BYTES];
    uint32_t batch_bytes = build_sample(SB_COMPRESSION_ZSTD, batch);
    struct sb_batch_header header;
    for (uint32_t i = SB_BATCH_HEADER_BYTES; i < batch_bytes; i++) {
        batch[i] ^= 0x01;
        cr_assert_eq(decode(batch), 0, "the header alone still decodes");
        cr_assert_eq(sb_batch_verify(batch, batch_bytes, BATCH_BYTES_MAX, &header), SB_ECORRUPT,
                     "byte %u", i);
        batch[i] ^= 0x01;
    }
    cr_assert_eq(sb_batch_verify(batch, batch_bytes, BATCH_BYTES_MAX, &header), 0);
}

Test(batch, every_reserved_attribute_bit_is_corrupt)
{
    static uint8_t batch[BUFFER_BYTES];
    build_sample(SB_COMPRESSION_NONE, batch);
    for (int bit = 5; bit < 16; bit++) {
        poke_u16(batch + SB_BATCH_OFFSET_ATTRIBUTES, (uint16_t)(1u << bit));
        reseal(batch);
        cr_assert_eq(decode(batch), SB_ECORRUPT, "attribute bit %d", bit);
    }
    poke_u16(batch + SB_BATCH_OFFSET_ATTRIBUTES, SB_BATCH_ATTRIBUTE_CONTROL);
    reseal(batch);
    cr_assert_eq(decode(batch), 0, "bits 3 and 4 are defined");
}

Test(batch, codecs_5_to_7_are_corrupt)
{
    static uint8_t batch[BUFFER_BYTES];
    build_sample(SB_COMPRESSION_NONE, batch);
    for (uint16_t codec = 5; codec < 8; codec++) {
        poke_u16(batch + SB_BATCH_OFFSET_ATTRIBUTES, codec);
        reseal(batch);
        cr_assert_eq(decode(batch), SB_ECORRUPT, "codec %u", codec);
    }
}

Test(batch, batch_bytes_out_of_range_is_corrupt)
{
    static uint8_t batch[BUFFER_BYTES];
    uint32_t batch_bytes = build_sample(SB_COMPRESSION_ZSTD, batch);
    struct sb_batch_header header;
    cr_assert_eq(sb_batch_header_decode(batch, 64, batch_bytes - 1, &header), SB_ECORRUPT,
                 "above batch_bytes_max");
    cr_assert_eq(sb_batch_header_decode(batch, 64, batch_bytes, &header), 0, "at the max");
    uint32_t small[] = {0, 1, 63};
    for (size_t i = 0; i < sizeof(small) / sizeof(small[0]); i++) {
        poke_u32(batch + SB_BATCH_OFFSET_BATCH_BYTES, small[i]);
        reseal(batch);
        cr_assert_eq(decode(batch), SB_ECORRUPT, "batch_bytes %u", small[i]);
    }
}

Test(batch, zero_record_count_is_corrupt)
{
    static uint8_t batch[BUFFER_BYTES];
    build_sample(SB_COMPRESSION_NONE, batch);
    poke_u32(batch + SB_BATCH_OFFSET_RECORD_COUNT, 0);
    reseal(batch);
    cr_assert_eq(decode(batch), SB_ECORRUPT);
}

Test(batch, record_count_beyond_records_bytes_is_corrupt)
{
    static uint8_t batch[BUFFER_BYTES];
    uint32_t batch_bytes = build_sample(SB_COMPRESSION_NONE, batch);
    uint32_t records_bytes = batch_bytes - SB_BATCH_HEADER_BYTES;
    poke_u32(batch + SB_BATCH_OFFSET_RECORD_COUNT, records_bytes / SB_BATCH_RECORD_BYTES_MIN);
    reseal(batch);
    cr_assert_eq(decode(batch), 0, "possible count: the iterator finds the mismatch");
    poke_u32(batch + SB_BATCH_OFFSET_RECORD_COUNT, records_bytes / SB_BATCH_RECORD_BYTES_MIN + 1);
    reseal(batch);
    cr_assert_eq(decode(batch), SB_ECORRUPT);
    poke_u32(batch + SB_BATCH_OFFSET_RECORD_COUNT, UINT32_MAX);
    reseal(batch);
    cr_assert_eq(decode(batch), SB_ECORRUPT);
}

Test(batch, uncompressed_records_bytes_mismatch_is_corrupt)
{
    static uint8_t batch[BUFFER_BYTES];
    uint32_t batch_bytes = build_sample(SB_COMPRESSION_NONE, batch);
    uint32_t records_bytes = batch_bytes - SB_BATCH_HEADER_BYTES;
    uint32_t wrong[] = {records_bytes - 1, records_bytes + 1, UINT32_MAX};
    for (size_t i = 0; i < sizeof(wrong) / sizeof(wrong[0]); i++) {
        poke_u32(batch + SB_BATCH_OFFSET_RECORDS_BYTES, wrong[i]);
        reseal(batch);
        cr_assert_eq(decode(batch), SB_ECORRUPT, "records_bytes %u", wrong[i]);
    }
}

Test(batch, compressed_empty_payload_is_corrupt)
{
    struct sb_batch_header header = {
        .batch_bytes = SB_BATCH_HEADER_BYTES, .record_count = 1, .records_bytes = 7,
        .attributes = SB_COMPRESSION_ZSTD, .producer_id = -1,
    };
    uint8_t bytes[SB_BATCH_HEADER_BYTES];
    sb_batch_header_encode(&header, bytes);
    cr_assert_eq(decode(bytes), SB_ECORRUPT);
}

Test(batch, base_offset_out_of_range_is_corrupt)
{
    static uint8_t batch[BUFFER_BYTES];
    build_sample(SB_COMPRESSION_NONE, batch);
    int64_t last_valid = INT64_MAX - (SAMPLE_RECORD_COUNT - 1);
    poke_u64(batch + SB_BATCH_OFFSET_BASE_OFFSET, (uint64_t)last_valid);
    reseal(batch);
    cr_assert_eq(decode(batch), 0);
    poke_u64(batch + SB_BATCH_OFFSET_BASE_OFFSET, (uint64_t)last_valid + 1);
    reseal(batch);
    cr_assert_eq(decode(batch), SB_ECORRUPT, "last offset overflows");
    poke_u64(batch + SB_BATCH_OFFSET_BASE_OFFSET, (uint64_t)-1);
    reseal(batch);
    cr_assert_eq(decode(batch), SB_ECORRUPT, "negative base offset");
}

Test(batch, decode_leaves_output_untouched_on_error)
{
    static uint8_t batch[BUFFER_BYTES];
    build_sample(SB_COMPRESSION_NONE, batch);
    batch[20] ^= 1;
    struct sb_batch_header header;
    memset(&header, GUARD, sizeof(header));
    cr_assert_eq(sb_batch_header_decode(batch, 64, BATCH_BYTES_MAX, &header), SB_ECORRUPT);
    const uint8_t *raw = (const uint8_t *)&header;
    for (size_t i = 0; i < sizeof(header); i++) {
        cr_assert_eq(raw[i], GUARD);
    }
}

/* ---- broker rewrites ---- */

Test(batch, assign_offset_keeps_batch_valid_and_payload_untouched)
{
    static uint8_t batch[BUFFER_BYTES];
    static uint8_t payload[BUFFER_BYTES];
    for (size_t c = 0; c < sizeof(every_codec) / sizeof(every_codec[0]); c++) {
        uint32_t batch_bytes = build_sample(every_codec[c], batch);
        uint32_t payload_crc = peek_u32(batch + SB_BATCH_OFFSET_PAYLOAD_CRC);
        memcpy(payload, batch + 64, batch_bytes - 64);
        sb_batch_assign_offset(batch, 1000000);
        cr_assert_eq(peek_u32(batch + SB_BATCH_OFFSET_PAYLOAD_CRC), payload_crc);
        cr_assert_eq(memcmp(payload, batch + 64, batch_bytes - 64), 0);
        check_sample(batch, batch_bytes, 1000000);
        struct sb_batch_header header;
        cr_assert_eq(sb_batch_verify(batch, batch_bytes, BATCH_BYTES_MAX, &header), 0);
        cr_assert_eq(sb_batch_header_last_offset(&header), 1000000 + SAMPLE_RECORD_COUNT - 1);
    }
}

Test(batch, log_append_time_replaces_every_timestamp)
{
    static uint8_t batch[BUFFER_BYTES];
    uint32_t batch_bytes = build_sample(SB_COMPRESSION_LZ4, batch);
    uint32_t payload_crc = peek_u32(batch + SB_BATCH_OFFSET_PAYLOAD_CRC);
    sb_batch_set_log_append_time(batch, 424242);
    sb_batch_assign_offset(batch, 7);
    cr_assert_eq(peek_u32(batch + SB_BATCH_OFFSET_PAYLOAD_CRC), payload_crc);
    struct sb_batch_header header;
    cr_assert_eq(sb_batch_verify(batch, batch_bytes, BATCH_BYTES_MAX, &header), 0);
    cr_assert(sb_batch_header_is_log_append_time(&header));
    cr_assert_eq(sb_batch_header_compression(&header), SB_COMPRESSION_LZ4);
    cr_assert_eq(header.max_timestamp_ms, 424242);
    cr_assert_eq(header.first_timestamp_ms, SAMPLE_FIRST_TIMESTAMP_MS);
    int records_bytes = sb_batch_decompress_records(batch, &header, records_out,
                                                    sizeof(records_out));
    cr_assert_gt(records_bytes, 0);
    struct sb_record_iter iter;
    sb_record_iter_init(&iter, &header, records_out, (size_t)records_bytes);
    struct sb_record_view view;
    int count = 0;
    while (sb_record_iter_next(&iter, &view) == 1) {
        cr_assert_eq(view.timestamp_ms, 424242);
        cr_assert_eq(view.offset, 7 + count);
        count++;
    }
    cr_assert_eq(count, SAMPLE_RECORD_COUNT);
}

Test(batch, assign_offset_on_corrupt_header_aborts, .signal = SIGABRT)
{
    static uint8_t batch[BUFFER_BYTES];
    build_sample(SB_COMPRESSION_NONE, batch);
    batch[30] ^= 1;
    sb_batch_assign_offset(batch, 5);
}

Test(batch, negative_assigned_offset_aborts, .signal = SIGABRT)
{
    static uint8_t batch[BUFFER_BYTES];
    build_sample(SB_COMPRESSION_NONE, batch);
    sb_batch_assign_offset(batch, -1);
}

/* ---- decompression ---- */

Test(batch, compression_bomb_refused_before_decompressing)
{
    struct sb_batch_builder builder;
    sb_batch_builder_init(&builder, buffer, sizeof(buffer), 0);
    static uint8_t zeros[64 * 1024];
    struct sb_record record = {.key_length = -1, .value = zeros, .value_length = sizeof(zeros)};
    while (sb_batch_builder_add(&builder, &record) == 0) {
        continue;
    }
    const uint8_t *batch = NULL;
    uint32_t batch_bytes = 0;
    cr_assert_eq(sb_batch_builder_finish(&builder, SB_COMPRESSION_ZSTD, scratch,
                                         sizeof(scratch), &batch, &batch_bytes),
                 0);
    struct sb_batch_header header;
    cr_assert_eq(sb_batch_verify(batch, batch_bytes, BATCH_BYTES_MAX, &header), 0);
    cr_assert_gt(header.records_bytes, 100 * batch_bytes, "a bomb: %u -> %u", batch_bytes,
                 header.records_bytes);
    memset(records_out, GUARD, sizeof(records_out));
    cr_assert_eq(sb_batch_decompress_records(batch, &header, records_out, 65536), -E2BIG);
    for (size_t i = 0; i < sizeof(records_out); i++) {
        cr_assert_eq(records_out[i], GUARD, "nothing written at %zu", i);
    }
    cr_assert_eq(sb_batch_decompress_records(batch, &header, records_out, header.records_bytes),
                 (int)header.records_bytes, "exactly enough room");
}

Test(batch, records_bytes_beyond_the_codec_limit_is_refused)
{
    static const char payload[] = "whatever";
    struct sb_batch_header header = {
        .batch_bytes = SB_BATCH_HEADER_BYTES + sizeof(payload), .record_count = 1,
        .records_bytes = SB_COMPRESS_BYTES_MAX + 1, .attributes = SB_COMPRESSION_ZSTD,
    };
    static uint8_t batch[SB_BATCH_HEADER_BYTES + sizeof(payload)];
    memcpy(batch + SB_BATCH_HEADER_BYTES, payload, sizeof(payload));
    sb_batch_header_encode(&header, batch);
    /* The claimed capacity is never used: the call refuses before writing. */
    cr_assert_eq(sb_batch_decompress_records(batch, &header, records_out, SIZE_MAX), -E2BIG);
}

Test(batch, records_bytes_other_than_decompressed_size_is_corrupt)
{
    static uint8_t batch[BUFFER_BYTES];
    for (size_t c = 1; c < sizeof(every_codec) / sizeof(every_codec[0]); c++) {
        build_sample(every_codec[c], batch);
        uint32_t records_bytes = peek_u32(batch + SB_BATCH_OFFSET_RECORDS_BYTES);
        int64_t deltas[] = {-1, 1, -1000};
        for (size_t i = 0; i < sizeof(deltas) / sizeof(deltas[0]); i++) {
            poke_u32(batch + SB_BATCH_OFFSET_RECORDS_BYTES, (uint32_t)(records_bytes + deltas[i]));
            reseal(batch);
            struct sb_batch_header header;
            cr_assert_eq(sb_batch_header_decode(batch, 64, BATCH_BYTES_MAX, &header), 0);
            memset(records_out, GUARD, sizeof(records_out));
            cr_assert_eq(sb_batch_decompress_records(batch, &header, records_out,
                                                     sizeof(records_out)),
                         SB_ECORRUPT, "%s delta %lld", sb_compression_name(every_codec[c]),
                         (long long)deltas[i]);
            cr_assert_eq(records_out[header.records_bytes], GUARD, "stayed within records_bytes");
        }
    }
}

Test(batch, garbage_payload_is_corrupt_for_each_codec)
{
    static const char garbage[] = "not compressed by anything at all, just words";
    static uint8_t batch[SB_BATCH_HEADER_BYTES + sizeof(garbage)];
    memcpy(batch + SB_BATCH_HEADER_BYTES, garbage, sizeof(garbage));
    for (unsigned codec = SB_COMPRESSION_GZIP; codec < SB_COMPRESSION_COUNT; codec++) {
        struct sb_batch_header header = {
            .batch_bytes = sizeof(batch), .record_count = 2, .records_bytes = 1000,
            .attributes = (uint16_t)codec, .producer_id = -1, .producer_epoch = -1,
            .base_sequence = -1, .payload_crc32c = sb_crc32c(0, garbage, sizeof(garbage)),
        };
        sb_batch_header_encode(&header, batch);
        struct sb_batch_header decoded;
        cr_assert_eq(sb_batch_verify(batch, sizeof(batch), BATCH_BYTES_MAX, &decoded), 0);
        cr_assert_eq(sb_batch_decompress_records(batch, &decoded, records_out,
                                                 sizeof(records_out)),
                     SB_ECORRUPT, "%s", sb_compression_name((enum sb_compression)codec));
    }
}

Test(batch, decompress_uncompressed_copies_and_checks_room)
{
    static uint8_t batch[BUFFER_BYTES];
    uint32_t batch_bytes = build_sample(SB_COMPRESSION_NONE, batch);
    struct sb_batch_header header;
    cr_assert_eq(sb_batch_verify(batch, batch_bytes, BATCH_BYTES_MAX, &header), 0);
    size_t short_by_one = header.records_bytes - 1;
    cr_assert_eq(sb_batch_decompress_records(batch, &header, records_out, short_by_one), -E2BIG);
    cr_assert_eq(sb_batch_decompress_records(batch, &header, records_out, header.records_bytes),
                 (int)header.records_bytes);
    cr_assert_eq(memcmp(records_out, batch + 64, header.records_bytes), 0);
}

/* Decompresses and walks a batch whose CRCs were forged to match; returns the final code. */
static int
walk_forged(uint8_t *batch, uint32_t batch_bytes)
{
    poke_u32(batch + SB_BATCH_OFFSET_PAYLOAD_CRC, sb_crc32c(0, batch + 64, batch_bytes - 64));
    reseal(batch);
    struct sb_batch_header header;
    int result = sb_batch_verify(batch, batch_bytes, BATCH_BYTES_MAX, &header);
    if (result != 0) {
        return result;
    }
    result = sb_batch_decompress_records(batch, &header, records_out, sizeof(records_out));
    if (result < 0) {
        return result;
    }
    struct sb_record_iter iter;
    sb_record_iter_init(&iter, &header, records_out, (size_t)result);
    struct sb_record_view view;
    while ((result = sb_record_iter_next(&iter, &view)) == 1) {
        cr_assert(view.key_length >= -1 && view.value_length >= -1);
        struct sb_record_header_iter headers;
        struct sb_record_header_view record_header;
        sb_record_header_iter_init(&headers, &view);
        while (sb_record_header_iter_next(&headers, &record_header) == 1) {
            continue;
        }
    }
    return result;
}

Test(batch, forged_mutations_never_crash_or_overrun)
{
    static uint8_t batch[BUFFER_BYTES];
    uint64_t state = 2024;
    for (size_t c = 0; c < sizeof(every_codec) / sizeof(every_codec[0]); c++) {
        for (int round = 0; round < 400; round++) {
            uint32_t batch_bytes = build_sample(every_codec[c], batch);
            int flips = 1 + round % 4;
            for (int i = 0; i < flips; i++) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                uint32_t position = 64 + (uint32_t)(state % (batch_bytes - 64));
                batch[position] ^= (uint8_t)(1u << ((state >> 32) % 8));
            }
            int result = walk_forged(batch, batch_bytes);
            cr_assert(result == 0 || result == SB_ECORRUPT, "%s round %d: %d",
                      sb_compression_name(every_codec[c]), round, result);
        }
    }
}

/* ---- builder ---- */

/* Field-wise equality (struct padding is not copied reliably). */
static bool
builder_equal(const struct sb_batch_builder *a, const struct sb_batch_builder *b)
{
    return a->buffer == b->buffer && a->capacity == b->capacity && a->used == b->used &&
           a->record_count == b->record_count && a->first_timestamp_ms == b->first_timestamp_ms &&
           a->max_timestamp_ms == b->max_timestamp_ms && a->producer_id == b->producer_id &&
           a->producer_epoch == b->producer_epoch && a->base_sequence == b->base_sequence &&
           a->control == b->control;
}

Test(builder, enospc_leaves_builder_unchanged_and_usable)
{
    static uint8_t small[200];
    static uint8_t value[40];
    struct sb_batch_builder builder;
    sb_batch_builder_init(&builder, small, sizeof(small), 10);
    struct sb_record record = {.key = "key", .key_length = 3, .value = value,
                               .value_length = sizeof(value), .timestamp_ms = 10};
    int added = 0;
    while (sb_batch_builder_add(&builder, &record) == 0) {
        added++;
    }
    cr_assert_eq(added, 2);
    struct sb_batch_builder before = builder;
    uint8_t bytes_before[sizeof(small)];
    memcpy(bytes_before, small, sizeof(small));
    cr_assert_eq(sb_batch_builder_add(&builder, &record), -ENOSPC);
    cr_assert(builder_equal(&before, &builder));
    cr_assert_eq(memcmp(bytes_before, small, sizeof(small)), 0, "no partial record written");
    struct sb_record huge = {.key_length = -1, .value = large_value, .value_length = 300};
    cr_assert_eq(sb_batch_builder_add(&builder, &huge), -ENOSPC, "larger than the buffer");
    cr_assert(builder_equal(&before, &builder));
    struct sb_record tiny = {.key_length = -1, .value_length = -1, .timestamp_ms = 11};
    cr_assert_eq(sb_batch_builder_add(&builder, &tiny), 0, "a smaller record still fits");
    const uint8_t *batch = NULL;
    uint32_t batch_bytes = 0;
    cr_assert_eq(sb_batch_builder_finish(&builder, SB_COMPRESSION_NONE, NULL, 0, &batch,
                                         &batch_bytes),
                 0);
    struct sb_batch_header header;
    cr_assert_eq(sb_batch_verify(batch, batch_bytes, BATCH_BYTES_MAX, &header), 0);
    cr_assert_eq(header.record_count, 3);
    cr_assert_eq(header.max_timestamp_ms, 11);
    cr_assert_eq(iterate_area(batch + 64, header.records_bytes, 3, &added), 0);
    cr_assert_eq(added, 3);
}

Test(builder, record_that_fits_exactly_is_accepted)
{
    static uint8_t exact[SB_BATCH_HEADER_BYTES + 7];
    struct sb_batch_builder builder;
    sb_batch_builder_init(&builder, exact, sizeof(exact), 0);
    struct sb_record record = {.key_length = -1, .value_length = -1, .timestamp_ms = 0};
    cr_assert_eq(sb_batch_builder_add(&builder, &record), 0);
    cr_assert_eq(builder.used, sizeof(exact));
    cr_assert_eq(sb_batch_builder_add(&builder, &record), -ENOSPC);
    static const uint8_t expected[] = {0x06, 0x00, 0x00, 0x00, 0x01, 0x01, 0x00};
    cr_assert_eq(memcmp(exact + 64, expected, sizeof(expected)), 0, "the minimal record");
}

Test(builder, invalid_records_are_einval)
{
    struct sb_record_header bad_name = {.name = NULL, .name_length = 3, .value_length = -1};
    struct sb_record_header bad_value = {.name = "n", .name_length = 1, .value_length = -2};
    struct sb_record_header null_value = {.name = "n", .name_length = 1, .value_length = 2};
    struct sb_record bad[] = {
        {.key_length = -2, .value_length = -1},
        {.key = NULL, .key_length = 4, .value_length = -1},
        {.key_length = -1, .value_length = -3},
        {.key_length = -1, .value = NULL, .value_length = 1},
        {.key_length = -1, .value_length = -1, .headers = NULL, .header_count = 1},
        {.key_length = -1, .value_length = -1, .headers = &bad_name, .header_count = 1},
        {.key_length = -1, .value_length = -1, .headers = &bad_value, .header_count = 1},
        {.key_length = -1, .value_length = -1, .headers = &null_value, .header_count = 1},
    };
    struct sb_batch_builder builder;
    sb_batch_builder_init(&builder, buffer, sizeof(buffer), 0);
    struct sb_batch_builder before = builder;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert_eq(sb_batch_builder_add(&builder, &bad[i]), -EINVAL, "case %zu", i);
        cr_assert(builder_equal(&before, &builder));
    }
}

Test(builder, timestamp_delta_overflow_is_einval)
{
    struct sb_batch_builder builder;
    sb_batch_builder_init(&builder, buffer, sizeof(buffer), INT64_MIN);
    struct sb_record record = {.key_length = -1, .value_length = -1, .timestamp_ms = 1};
    cr_assert_eq(sb_batch_builder_add(&builder, &record), -EINVAL);
    record.timestamp_ms = INT64_MIN;
    cr_assert_eq(sb_batch_builder_add(&builder, &record), 0);
    sb_batch_builder_init(&builder, buffer, sizeof(buffer), INT64_MAX);
    record.timestamp_ms = -2;
    cr_assert_eq(sb_batch_builder_add(&builder, &record), -EINVAL);
}

Test(builder, extreme_timestamps_round_trip)
{
    struct sb_batch_builder builder;
    sb_batch_builder_init(&builder, buffer, sizeof(buffer), 0);
    int64_t stamps[] = {INT64_MIN, INT64_MAX, 0, -1};
    for (size_t i = 0; i < 4; i++) {
        struct sb_record record = {.key_length = -1, .value_length = -1,
                                   .timestamp_ms = stamps[i]};
        cr_assert_eq(sb_batch_builder_add(&builder, &record), 0);
    }
    const uint8_t *batch = NULL;
    uint32_t batch_bytes = 0;
    cr_assert_eq(sb_batch_builder_finish(&builder, SB_COMPRESSION_NONE, NULL, 0, &batch,
                                         &batch_bytes),
                 0);
    struct sb_batch_header header;
    cr_assert_eq(sb_batch_verify(batch, batch_bytes, BATCH_BYTES_MAX, &header), 0);
    cr_assert_eq(header.max_timestamp_ms, INT64_MAX);
    struct sb_record_iter iter;
    sb_record_iter_init(&iter, &header, batch + 64, header.records_bytes);
    struct sb_record_view view;
    for (size_t i = 0; i < 4; i++) {
        cr_assert_eq(sb_record_iter_next(&iter, &view), 1);
        cr_assert_eq(view.timestamp_ms, stamps[i]);
    }
    cr_assert_eq(sb_record_iter_next(&iter, &view), 0);
}

Test(builder, finish_errors)
{
    struct sb_batch_builder builder;
    sb_batch_builder_init(&builder, buffer, sizeof(buffer), 0);
    const uint8_t *batch = NULL;
    uint32_t batch_bytes = 0;
    cr_assert_eq(sb_batch_builder_finish(&builder, SB_COMPRESSION_NONE, NULL, 0, &batch,
                                         &batch_bytes),
                 -EINVAL, "no records");
    fill_random(large_value, sizeof(large_value), 3);
    struct sb_record record = {.key_length = -1, .value = large_value,
                               .value_length = LARGE_VALUE_BYTES};
    cr_assert_eq(sb_batch_builder_add(&builder, &record), 0);
    cr_assert_eq(sb_batch_builder_finish(&builder, (enum sb_compression)5, scratch,
                                         sizeof(scratch), &batch, &batch_bytes),
                 -EINVAL, "codec 5");
    cr_assert_eq(sb_batch_builder_finish(&builder, SB_COMPRESSION_ZSTD, NULL, 0, &batch,
                                         &batch_bytes),
                 -ENOSPC, "no scratch");
    cr_assert_eq(sb_batch_builder_finish(&builder, SB_COMPRESSION_ZSTD, scratch, 63, &batch,
                                         &batch_bytes),
                 -ENOSPC, "scratch smaller than a header");
    cr_assert_eq(sb_batch_builder_finish(&builder, SB_COMPRESSION_GZIP, scratch, 64 + 100,
                                         &batch, &batch_bytes),
                 -ENOSPC, "random bytes do not shrink");
    cr_assert_eq(sb_batch_builder_finish(&builder, SB_COMPRESSION_GZIP, scratch, sizeof(scratch),
                                         &batch, &batch_bytes),
                 0, "the builder is still usable");
    cr_assert_eq(batch, scratch);
}

Test(builder, finish_again_with_another_codec)
{
    fill_random(large_value, sizeof(large_value), 17);
    struct sb_batch_builder builder;
    sb_batch_builder_init(&builder, buffer, sizeof(buffer), SAMPLE_FIRST_TIMESTAMP_MS);
    for (int i = 0; i < SAMPLE_RECORD_COUNT; i++) {
        cr_assert_eq(sb_batch_builder_add(&builder, &sample_records[i]), 0);
    }
    for (size_t c = 0; c < sizeof(every_codec) / sizeof(every_codec[0]); c++) {
        const uint8_t *batch = NULL;
        uint32_t batch_bytes = 0;
        cr_assert_eq(sb_batch_builder_finish(&builder, every_codec[c], scratch, sizeof(scratch),
                                             &batch, &batch_bytes),
                     0);
        check_sample(batch, batch_bytes, 0);
    }
}

Test(builder, init_with_less_than_a_header_aborts, .signal = SIGABRT)
{
    struct sb_batch_builder builder;
    uint8_t tiny[63];
    sb_batch_builder_init(&builder, tiny, sizeof(tiny), 0);
}

/* ---- record iterator ---- */

Test(record_iter, minimal_records_decode)
{
    static const uint8_t area[] = {0x06, 0, 0, 0, 1, 1, 0, 0x06, 0, 0, 1, 1, 1, 0};
    struct sb_batch_header header = {.record_count = 2, .records_bytes = sizeof(area),
                                     .base_offset = 40, .first_timestamp_ms = 9};
    struct sb_record_iter iter;
    sb_record_iter_init(&iter, &header, area, sizeof(area));
    struct sb_record_view view;
    cr_assert_eq(sb_record_iter_next(&iter, &view), 1);
    cr_assert_eq(view.offset, 40);
    cr_assert_eq(view.timestamp_ms, 9);
    cr_assert_null(view.key);
    cr_assert_null(view.value);
    cr_assert_eq(view.key_length, -1);
    cr_assert_eq(view.value_length, -1);
    cr_assert_eq(view.header_count, 0);
    cr_assert_eq(sb_record_iter_next(&iter, &view), 1);
    cr_assert_eq(view.offset, 41);
    cr_assert_eq(sb_record_iter_next(&iter, &view), 0);
}

Test(record_iter, truncated_varints_are_corrupt)
{
    static const uint8_t length_cut[] = {0x86};
    static const uint8_t inside_record[] = {0x03, 0x00, 0x80, 0x80, 0x01, 0, 1, 1, 0};
    static const uint8_t key_length_cut[] = {0x04, 0x00, 0x00, 0x00, 0x81, 0x01, 1, 0};
    assert_area_corrupt(length_cut, sizeof(length_cut), 1, "length varint cut by the area");
    assert_area_corrupt(inside_record, sizeof(inside_record), 1,
                        "timestamp varint cut by the record end");
    assert_area_corrupt(key_length_cut, sizeof(key_length_cut), 1,
                        "key length varint cut by the record end");
    assert_area_corrupt(length_cut, 0, 1, "empty area, one record promised");
}

Test(record_iter, overlong_varints_are_corrupt)
{
    /* Timestamp delta: 11 bytes, then 10 bytes whose last carries bits past 64. */
    static const uint8_t ts_eleven[] = {0x10, 0x00, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
                                        0x80, 0x80, 0x80, 0x00, 0x00, 1, 1, 0};
    static const uint8_t ts_overflow[] = {0x0F, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
                                          0xFF, 0xFF, 0xFF, 0x02, 0x00, 1, 1, 0};
    static const uint8_t ts_largest[] = {0x0F, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
                                         0xFF, 0xFF, 0xFF, 0x01, 0x00, 1, 1, 0};
    /* 32-bit fields: six bytes, and five bytes above UINT32_MAX. */
    static const uint8_t offset_six[] = {0x0B, 0x00, 0x00, 0x80, 0x80, 0x80, 0x80, 0x80,
                                         0x00, 1, 1, 0};
    static const uint8_t key_above_32[] = {0x0A, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF,
                                           0x1F, 1, 0};
    static const uint8_t length_above_32[] = {0xFF, 0xFF, 0xFF, 0xFF, 0x1F, 0, 0, 0, 1, 1, 0};
    assert_area_corrupt(ts_eleven, sizeof(ts_eleven), 1, "11-byte varint");
    assert_area_corrupt(ts_overflow, sizeof(ts_overflow), 1, "bits beyond 64");
    assert_area_corrupt(offset_six, sizeof(offset_six), 1, "6-byte 32-bit varint");
    assert_area_corrupt(key_above_32, sizeof(key_above_32), 1, "key length beyond 32 bits");
    assert_area_corrupt(length_above_32, sizeof(length_above_32), 1, "length beyond 32 bits");
    int count = 0;
    cr_assert_eq(iterate_area(ts_largest, sizeof(ts_largest), 1, &count), 0,
                 "the largest 10-byte varint is valid");
    cr_assert_eq(count, 1);
}

Test(record_iter, non_minimal_varints_are_corrupt)
{
    static const uint8_t offset_padded[] = {0x07, 0, 0, 0x80, 0x00, 1, 1, 0};
    static const uint8_t length_padded[] = {0x86, 0x00, 0, 0, 0, 1, 1, 0};
    assert_area_corrupt(offset_padded, sizeof(offset_padded), 1, "offset 0 in two bytes");
    assert_area_corrupt(length_padded, sizeof(length_padded), 1, "length 6 in two bytes");
}

Test(record_iter, length_overruns_are_corrupt)
{
    static const uint8_t record_past_area[] = {0x10, 0, 0, 0, 1, 1, 0};
    static const uint8_t key_past_record[] = {0x06, 0, 0, 0, 0x14, 1, 0, 0, 0, 0, 0, 0, 0, 0};
    static const uint8_t value_past_record[] = {0x06, 0, 0, 0, 1, 0x08, 0, 0, 0, 0, 0};
    static const uint8_t zero_length[] = {0x00, 0x06, 0, 0, 0, 1, 1, 0};
    assert_area_corrupt(record_past_area, sizeof(record_past_area), 1, "record length");
    assert_area_corrupt(key_past_record, sizeof(key_past_record), 1, "key length");
    assert_area_corrupt(value_past_record, sizeof(value_past_record), 1, "value length");
    assert_area_corrupt(zero_length, sizeof(zero_length), 1, "record without attributes");
}

Test(record_iter, negative_lengths_below_minus_one_are_corrupt)
{
    static const uint8_t key_minus_two[] = {0x06, 0, 0, 0, 0x03, 1, 0};
    static const uint8_t value_minus_two[] = {0x06, 0, 0, 0, 1, 0x03, 0};
    assert_area_corrupt(key_minus_two, sizeof(key_minus_two), 1, "key -2");
    assert_area_corrupt(value_minus_two, sizeof(value_minus_two), 1, "value -2");
}

Test(record_iter, wrong_offset_delta_is_corrupt)
{
    static const uint8_t starts_at_one[] = {0x06, 0, 0, 1, 1, 1, 0};
    static const uint8_t repeats_zero[] = {0x06, 0, 0, 0, 1, 1, 0, 0x06, 0, 0, 0, 1, 1, 0};
    static const uint8_t skips_one[] = {0x06, 0, 0, 0, 1, 1, 0, 0x06, 0, 0, 2, 1, 1, 0};
    int count = 0;
    assert_area_corrupt(starts_at_one, sizeof(starts_at_one), 1, "first offset_delta 1");
    cr_assert_eq(iterate_area(repeats_zero, sizeof(repeats_zero), 2, &count), SB_ECORRUPT);
    cr_assert_eq(count, 1, "the first record was fine");
    assert_area_corrupt(skips_one, sizeof(skips_one), 2, "offset gap");
}

Test(record_iter, nonzero_record_attributes_are_corrupt)
{
    for (int attributes = 1; attributes < 256; attributes <<= 1) {
        uint8_t area[] = {0x06, (uint8_t)attributes, 0, 0, 1, 1, 0};
        assert_area_corrupt(area, sizeof(area), 1, "record attributes");
    }
}

Test(record_iter, record_count_mismatch_is_corrupt)
{
    static const uint8_t two[] = {0x06, 0, 0, 0, 1, 1, 0, 0x06, 0, 0, 1, 1, 1, 0};
    int count = 0;
    cr_assert_eq(iterate_area(two, sizeof(two), 3, &count), SB_ECORRUPT, "fewer than promised");
    cr_assert_eq(count, 2);
    cr_assert_eq(iterate_area(two, sizeof(two), 1, &count), SB_ECORRUPT, "more than promised");
    cr_assert_eq(count, 1);
}

Test(record_iter, leftover_bytes_are_corrupt)
{
    static const uint8_t inside_record[] = {0x07, 0, 0, 0, 1, 1, 0, 0xEE};
    static const uint8_t after_last[] = {0x06, 0, 0, 0, 1, 1, 0, 0x00};
    assert_area_corrupt(inside_record, sizeof(inside_record), 1, "junk inside the record");
    assert_area_corrupt(after_last, sizeof(after_last), 1, "junk after the last record");
}

Test(record_iter, malformed_headers_are_corrupt)
{
    /* One header {"a": "b"} is: 01 'a' 02 'b'. */
    static const uint8_t valid[] = {0x0A, 0, 0, 0, 1, 1, 1, 0x01, 'a', 0x02, 'b'};
    static const uint8_t count_too_high[] = {0x0A, 0, 0, 0, 1, 1, 2, 0x01, 'a', 0x02, 'b'};
    static const uint8_t count_too_low[] = {0x0A, 0, 0, 0, 1, 1, 0, 0x01, 'a', 0x02, 'b'};
    static const uint8_t name_overrun[] = {0x0A, 0, 0, 0, 1, 1, 1, 0x09, 'a', 0x02, 'b'};
    static const uint8_t value_overrun[] = {0x0A, 0, 0, 0, 1, 1, 1, 0x01, 'a', 0x04, 'b'};
    static const uint8_t value_minus_two[] = {0x0A, 0, 0, 0, 1, 1, 1, 0x01, 'a', 0x03, 'b'};
    static const uint8_t name_cut[] = {0x07, 0, 0, 0, 1, 1, 1, 0x80};
    static const uint8_t count_cut[] = {0x06, 0, 0, 0, 1, 1, 0x80};
    int count = 0;
    cr_assert_eq(iterate_area(valid, sizeof(valid), 1, &count), 0);
    cr_assert_eq(count, 1);
    assert_area_corrupt(count_too_high, sizeof(count_too_high), 1, "missing header");
    assert_area_corrupt(count_too_low, sizeof(count_too_low), 1, "unclaimed header bytes");
    assert_area_corrupt(name_overrun, sizeof(name_overrun), 1, "name length");
    assert_area_corrupt(value_overrun, sizeof(value_overrun), 1, "value length");
    assert_area_corrupt(value_minus_two, sizeof(value_minus_two), 1, "value -2");
    assert_area_corrupt(name_cut, sizeof(name_cut), 1, "name length varint cut");
    assert_area_corrupt(count_cut, sizeof(count_cut), 1, "header count varint cut");
}

Test(record_iter, timestamp_overflow_is_corrupt)
{
    static const uint8_t plus_one[] = {0x06, 0, 0x02, 0, 1, 1, 0};
    struct sb_batch_header header = {.record_count = 1, .records_bytes = sizeof(plus_one),
                                     .first_timestamp_ms = INT64_MAX};
    struct sb_record_iter iter;
    sb_record_iter_init(&iter, &header, plus_one, sizeof(plus_one));
    struct sb_record_view view;
    cr_assert_eq(sb_record_iter_next(&iter, &view), SB_ECORRUPT);
    header.attributes = SB_BATCH_ATTRIBUTE_LOG_APPEND_TIME;
    header.max_timestamp_ms = 5;
    sb_record_iter_init(&iter, &header, plus_one, sizeof(plus_one));
    cr_assert_eq(sb_record_iter_next(&iter, &view), 1, "log-append time ignores deltas");
    cr_assert_eq(view.timestamp_ms, 5);
}

Test(record_iter, errors_are_sticky)
{
    static const uint8_t area[] = {0x06, 0, 0, 1, 1, 1, 0, 0x06, 0, 0, 1, 1, 1, 0};
    struct sb_batch_header header = {.record_count = 2, .records_bytes = sizeof(area)};
    struct sb_record_iter iter;
    sb_record_iter_init(&iter, &header, area, sizeof(area));
    struct sb_record_view view;
    cr_assert_eq(sb_record_iter_next(&iter, &view), SB_ECORRUPT);
    cr_assert_eq(sb_record_iter_next(&iter, &view), SB_ECORRUPT);
    cr_assert_eq(sb_record_iter_next(&iter, &view), SB_ECORRUPT);
}

Test(record_iter, mismatched_records_bytes_aborts, .signal = SIGABRT)
{
    static const uint8_t area[] = {0x06, 0, 0, 0, 1, 1, 0};
    struct sb_batch_header header = {.record_count = 1, .records_bytes = 8};
    struct sb_record_iter iter;
    sb_record_iter_init(&iter, &header, area, sizeof(area));
}

Test(record_header_iter, forged_views_are_corrupt)
{
    static const uint8_t one_header[] = {0x01, 'a', 0x02, 'b'};
    struct sb_record_view view = {.headers = one_header, .headers_bytes = sizeof(one_header),
                                  .header_count = 2};
    struct sb_record_header_iter iter;
    struct sb_record_header_view header;
    sb_record_header_iter_init(&iter, &view);
    cr_assert_eq(sb_record_header_iter_next(&iter, &header), 1);
    cr_assert_eq(sb_record_header_iter_next(&iter, &header), SB_ECORRUPT, "second missing");
    view.header_count = 0;
    sb_record_header_iter_init(&iter, &view);
    cr_assert_eq(sb_record_header_iter_next(&iter, &header), SB_ECORRUPT, "bytes left over");
    view.header_count = 1;
    sb_record_header_iter_init(&iter, &view);
    cr_assert_eq(sb_record_header_iter_next(&iter, &header), 1);
    cr_assert_eq(header.name_length, 1);
    cr_assert_eq(header.name[0], 'a');
    cr_assert_eq(header.value_length, 1);
    cr_assert_eq(header.value[0], 'b');
    cr_assert_eq(sb_record_header_iter_next(&iter, &header), 0);
}

/* ---- varints ---- */

Test(varint, unsigned_and_zigzag_round_trip)
{
    static const uint64_t values[] = {0, 1, 127, 128, 16383, 16384, UINT32_MAX,
                                      (uint64_t)UINT32_MAX + 1, INT64_MAX, UINT64_MAX};
    uint8_t bytes[SB_VARINT64_BYTES_MAX];
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        size_t size = sb_varint_encode_u64(bytes, values[i]);
        cr_assert_eq(size, sb_varint_size_u64(values[i]));
        uint64_t decoded = 0;
        cr_assert_eq(sb_varint_decode_u64(bytes, size, &decoded), (int)size);
        cr_assert_eq(decoded, values[i]);
        int64_t signed_value = (int64_t)values[i];
        size = sb_varint_encode_s64(bytes, signed_value);
        cr_assert_eq(size, sb_varint_size_s64(signed_value));
        int64_t signed_decoded = 0;
        cr_assert_eq(sb_varint_decode_s64(bytes, size, &signed_decoded), (int)size);
        cr_assert_eq(signed_decoded, signed_value);
    }
    cr_assert_eq(sb_varint_size_u64(UINT64_MAX), 10);
    cr_assert_eq(sb_varint_size_s64(-1), 1);
    cr_assert_eq(sb_zigzag_encode(-1), 1);
    cr_assert_eq(sb_zigzag_encode(1), 2);
    cr_assert_eq(sb_zigzag_encode(INT64_MIN), UINT64_MAX);
    cr_assert_eq(sb_zigzag_decode(UINT64_MAX), INT64_MIN);
}

Test(varint, truncated_is_eagain)
{
    static const uint8_t bytes[] = {0x80, 0x80, 0x80};
    uint64_t value64 = 0;
    uint32_t value32 = 0;
    int32_t signed32 = 0;
    cr_assert_eq(sb_varint_decode_u64(bytes, 0, &value64), -EAGAIN);
    cr_assert_eq(sb_varint_decode_u64(bytes, 3, &value64), -EAGAIN);
    cr_assert_eq(sb_varint_decode_u32(bytes, 3, &value32), -EAGAIN);
    cr_assert_eq(sb_varint_decode_s32(bytes, 3, &signed32), -EAGAIN);
}

Test(varint, overlong_overflow_and_non_minimal_are_corrupt)
{
    static const uint8_t eleven[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
                                     0x80, 0x01};
    static const uint8_t past_64[] = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
                                      0x7F};
    static const uint8_t padded_zero[] = {0x80, 0x00};
    uint64_t value = 0;
    cr_assert_eq(sb_varint_decode_u64(eleven, sizeof(eleven), &value), SB_ECORRUPT);
    cr_assert_eq(sb_varint_decode_u64(past_64, sizeof(past_64), &value), SB_ECORRUPT);
    cr_assert_eq(sb_varint_decode_u64(padded_zero, sizeof(padded_zero), &value), SB_ECORRUPT);
    int64_t signed_value = 0;
    cr_assert_eq(sb_varint_decode_s64(padded_zero, sizeof(padded_zero), &signed_value),
                 SB_ECORRUPT);
}

Test(varint, thirty_two_bit_limits)
{
    static const uint8_t u32_max[] = {0xFF, 0xFF, 0xFF, 0xFF, 0x0F};
    static const uint8_t u32_over[] = {0x80, 0x80, 0x80, 0x80, 0x10};
    static const uint8_t six[] = {0x81, 0x80, 0x80, 0x80, 0x80, 0x00};
    uint32_t value = 0;
    cr_assert_eq(sb_varint_decode_u32(u32_max, sizeof(u32_max), &value), 5);
    cr_assert_eq(value, UINT32_MAX);
    cr_assert_eq(sb_varint_decode_u32(u32_over, sizeof(u32_over), &value), SB_ECORRUPT);
    cr_assert_eq(sb_varint_decode_u32(six, sizeof(six), &value), SB_ECORRUPT);
    uint8_t bytes[SB_VARINT64_BYTES_MAX];
    int32_t signed_value = 0;
    size_t size = sb_varint_encode_s64(bytes, INT32_MIN);
    cr_assert_eq(sb_varint_decode_s32(bytes, size, &signed_value), (int)size);
    cr_assert_eq(signed_value, INT32_MIN);
    size = sb_varint_encode_s64(bytes, INT32_MAX);
    cr_assert_eq(sb_varint_decode_s32(bytes, size, &signed_value), (int)size);
    cr_assert_eq(signed_value, INT32_MAX);
    size = sb_varint_encode_s64(bytes, (int64_t)INT32_MAX + 1);
    cr_assert_eq(sb_varint_decode_s32(bytes, size, &signed_value), SB_ECORRUPT);
    size = sb_varint_encode_s64(bytes, (int64_t)INT32_MIN - 1);
    cr_assert_eq(sb_varint_decode_s32(bytes, size, &signed_value), SB_ECORRUPT);
}
