/*
 * test/proto/test_wire.c - frames and primitives (proto/wire.h) and the
 * error table (proto/errors.h): primitive round trips with their exact
 * little-endian bytes; every sticky reader and writer error; untrusted
 * lengths and counts (longer than the bytes left, null where not allowed,
 * counts that cannot fit, refused before any element is read); every frame
 * header error (-EAGAIN at every length, -EMSGSIZE from the first 4 bytes,
 * bad flags, reserved bits, wrong CRC); frame encoding (backfill, rewind on
 * failure, pipelined frames); the unknown API / version answer; and the
 * error codes against the table in docs/protocol.md.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base.h"
#include "core/crc32c.h"
#include "core/endian.h"
#include "core/error.h"
#include "core/limits.h"
#include "proto/errors.h"
#include "proto/wire.h"
#include "test/proto/wire_fixture.h"

#define FRAME_BYTES_MAX (1u << 20)

static uint8_t buffer[4096];
static uint8_t large_buffer[SB_WIRE_ARRAY_COUNT_MAX + 64];

/* An element reader the test expects never to be called. */
static void
element_read_forbidden(struct sb_wire_reader *reader, void *element)
{
    (void)reader;
    (void)element;
    cr_assert_fail("an element was read although the count was refused");
}

static void
element_read_u16(struct sb_wire_reader *reader, void *element)
{
    *(uint16_t *)element = sb_wire_read_u16(reader);
}

static void
element_write_u16(struct sb_wire_writer *writer, const void *element)
{
    sb_wire_write_u16(writer, *(const uint16_t *)element);
}

/* A reader over bytes that a test wrote by hand. */
static struct sb_wire_reader
reader_over(const uint8_t *bytes, size_t length)
{
    struct sb_wire_reader reader;
    sb_wire_reader_init(&reader, bytes, length);
    return reader;
}

Test(wire, primitives_round_trip_little_endian)
{
    struct sb_wire_writer writer;
    sb_wire_writer_init(&writer, buffer, sizeof(buffer));
    sb_wire_write_u8(&writer, 0xAB);
    sb_wire_write_i8(&writer, -2);
    sb_wire_write_u16(&writer, 0x1234);
    sb_wire_write_i16(&writer, -3);
    sb_wire_write_u32(&writer, 0x89ABCDEFu);
    sb_wire_write_i32(&writer, INT32_MIN);
    sb_wire_write_u64(&writer, 0x0102030405060708ull);
    sb_wire_write_i64(&writer, -1);
    cr_assert_eq(writer.error, 0);
    static const uint8_t expected[] = {
        0xAB, 0xFE, 0x34, 0x12, 0xFD, 0xFF, 0xEF, 0xCD, 0xAB, 0x89, 0x00, 0x00, 0x00, 0x80,
        0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xFF, 0xFF,
    };
    cr_assert_eq(sb_wire_writer_length(&writer), sizeof(expected));
    cr_assert_arr_eq(buffer, expected, sizeof(expected));
    struct sb_wire_reader reader = reader_over(buffer, sizeof(expected));
    cr_assert_eq(sb_wire_read_u8(&reader), 0xAB);
    cr_assert_eq(sb_wire_read_i8(&reader), -2);
    cr_assert_eq(sb_wire_read_u16(&reader), 0x1234);
    cr_assert_eq(sb_wire_read_i16(&reader), -3);
    cr_assert_eq(sb_wire_read_u32(&reader), 0x89ABCDEFu);
    cr_assert_eq(sb_wire_read_i32(&reader), INT32_MIN);
    cr_assert_eq(sb_wire_read_u64(&reader), 0x0102030405060708ull);
    cr_assert_eq(sb_wire_read_i64(&reader), -1);
    cr_assert_eq(sb_wire_reader_finish(&reader), 0);
}

Test(wire, strings_and_bytes_round_trip_with_nulls)
{
    struct sb_wire_writer writer;
    sb_wire_writer_init(&writer, buffer, sizeof(buffer));
    static const uint8_t data[] = {1, 2, 3};
    sb_wire_write_string(&writer, sb_wire_string_from_cstr("topic"));
    sb_wire_write_string(&writer, sb_wire_string_from_cstr(""));
    sb_wire_write_string_nullable(&writer, sb_wire_string_from_cstr(NULL));
    sb_wire_write_bytes(&writer, (struct sb_wire_bytes){data, sizeof(data)});
    sb_wire_write_bytes_nullable(&writer, (struct sb_wire_bytes){NULL, 0});
    cr_assert_eq(writer.error, 0);
    static const uint8_t expected[] = {
        5, 0, 't', 'o', 'p', 'i', 'c', 0, 0, 0xFF, 0xFF, 3, 0, 0, 0, 1, 2, 3,
        0xFF, 0xFF, 0xFF, 0xFF,
    };
    cr_assert_eq(sb_wire_writer_length(&writer), sizeof(expected));
    cr_assert_arr_eq(buffer, expected, sizeof(expected));
    struct sb_wire_reader reader = reader_over(buffer, sizeof(expected));
    struct sb_wire_string string;
    struct sb_wire_bytes bytes;
    sb_wire_read_string(&reader, &string);
    cr_assert(fixture_string_is(string, "topic"));
    sb_wire_read_string(&reader, &string);
    cr_assert(fixture_string_is(string, ""));
    cr_assert_not_null(string.chars, "an empty string is not null");
    sb_wire_read_string_nullable(&reader, &string);
    cr_assert(fixture_string_is(string, NULL));
    sb_wire_read_bytes(&reader, &bytes);
    cr_assert_eq(bytes.length, 3);
    cr_assert_arr_eq(bytes.data, data, 3);
    sb_wire_read_bytes_nullable(&reader, &bytes);
    cr_assert_null(bytes.data);
    cr_assert_eq(sb_wire_reader_finish(&reader), 0);
}

Test(wire, writer_no_space_is_sticky_and_writes_nothing)
{
    struct sb_wire_writer writer;
    sb_wire_writer_init(&writer, buffer, 5);
    sb_wire_write_u32(&writer, 1);
    sb_wire_write_u16(&writer, 2);
    cr_assert_eq(writer.error, -ENOSPC);
    sb_wire_write_u8(&writer, 3);
    cr_assert_eq(sb_wire_writer_length(&writer), 4, "nothing is written after the failure");
    sb_wire_writer_init(&writer, buffer, 6);
    sb_wire_write_string(&writer, sb_wire_string_from_cstr("abcde"));
    cr_assert_eq(writer.error, -ENOSPC);
    cr_assert_eq(sb_wire_writer_length(&writer), 0, "a string that does not fit writes nothing");
    sb_wire_writer_init(&writer, buffer, 8);
    sb_wire_write_bytes(&writer, (struct sb_wire_bytes){buffer, 5});
    cr_assert_eq(writer.error, -ENOSPC);
    cr_assert_eq(sb_wire_writer_length(&writer), 0);
    sb_wire_writer_init(&writer, buffer, 3);
    cr_assert_null(sb_wire_write_reserve(&writer, 4));
    cr_assert_eq(writer.error, -ENOSPC);
}

Test(wire, writer_refuses_what_the_format_cannot_carry)
{
    static char long_string[SB_WIRE_STRING_BYTES_MAX + 2];
    memset(long_string, 'x', sizeof(long_string) - 1);
    struct sb_wire_writer writer;
    sb_wire_writer_init(&writer, buffer, sizeof(buffer));
    sb_wire_write_string(&writer, sb_wire_string_from_cstr(NULL));
    cr_assert_eq(writer.error, -EINVAL, "null in a non-nullable string");
    sb_wire_write_u8(&writer, 1);
    cr_assert_eq(sb_wire_writer_length(&writer), 0);
    sb_wire_writer_init(&writer, buffer, sizeof(buffer));
    struct sb_wire_string too_long = sb_wire_string_from_cstr(long_string);
    cr_assert_eq(too_long.length, SB_WIRE_STRING_NULL);
    sb_wire_write_string_nullable(&writer, too_long);
    cr_assert_eq(writer.error, -EINVAL, "65535 bytes would read as null");
    sb_wire_writer_init(&writer, buffer, sizeof(buffer));
    sb_wire_write_bytes(&writer, (struct sb_wire_bytes){NULL, 0});
    cr_assert_eq(writer.error, -EINVAL, "null in non-nullable bytes");
    sb_wire_writer_init(&writer, buffer, sizeof(buffer));
    sb_wire_write_bytes_nullable(&writer, (struct sb_wire_bytes){buffer, SB_WIRE_BYTES_NULL});
    cr_assert_eq(writer.error, -EINVAL, "a length equal to the null marker");
    sb_wire_writer_init(&writer, buffer, sizeof(buffer));
    sb_wire_write_array_count(&writer, SB_WIRE_ARRAY_COUNT_MAX + 1);
    cr_assert_eq(writer.error, -EINVAL);
    sb_wire_writer_init(&writer, buffer, sizeof(buffer));
    sb_wire_write_array(&writer, NULL, 2, sizeof(uint16_t), element_write_u16);
    cr_assert_eq(writer.error, -EINVAL, "count without elements");
    cr_assert_eq(sb_wire_writer_length(&writer), 0);
    sb_wire_writer_init(&writer, buffer, 4);
    sb_wire_write_array_count(&writer, SB_WIRE_ARRAY_COUNT_MAX + 1);
    sb_wire_write_u64(&writer, 1);
    cr_assert_eq(writer.error, -EINVAL, "the first error wins");
}

Test(wire, reader_past_the_end_is_sticky)
{
    static const uint8_t bytes[] = {1, 2, 3};
    struct sb_wire_reader reader = reader_over(bytes, sizeof(bytes));
    cr_assert_eq(sb_wire_read_u32(&reader), 0);
    cr_assert_eq(reader.error, SB_ECORRUPT);
    cr_assert_eq(sb_wire_read_u8(&reader), 0, "no read succeeds after a failure");
    cr_assert_eq(reader.cursor, bytes, "a failed read moves nothing");
    cr_assert_eq(sb_wire_reader_finish(&reader), SB_ECORRUPT);
    reader = reader_over(bytes, sizeof(bytes));
    cr_assert_eq(sb_wire_read_u16(&reader), 0x0201);
    cr_assert_eq(sb_wire_reader_finish(&reader), SB_ECORRUPT, "a byte left over");
    reader = reader_over(NULL, 0);
    cr_assert_eq(sb_wire_read_i64(&reader), 0);
    cr_assert_eq(reader.error, SB_ECORRUPT);
}

Test(wire, string_longer_than_remaining_is_corrupt)
{
    static const uint8_t bytes[] = {4, 0, 'a', 'b', 'c'};
    struct sb_wire_reader reader = reader_over(bytes, sizeof(bytes));
    struct sb_wire_string string;
    sb_wire_read_string(&reader, &string);
    cr_assert_eq(reader.error, SB_ECORRUPT);
    cr_assert_null(string.chars);
    static const uint8_t huge[] = {0xFE, 0xFF, 'a'};
    reader = reader_over(huge, sizeof(huge));
    sb_wire_read_string_nullable(&reader, &string);
    cr_assert_eq(reader.error, SB_ECORRUPT);
    static const uint8_t cut_length[] = {4};
    reader = reader_over(cut_length, sizeof(cut_length));
    sb_wire_read_string(&reader, &string);
    cr_assert_eq(reader.error, SB_ECORRUPT);
}

Test(wire, null_string_where_not_nullable_is_corrupt)
{
    static const uint8_t bytes[] = {0xFF, 0xFF};
    struct sb_wire_reader reader = reader_over(bytes, sizeof(bytes));
    struct sb_wire_string string;
    sb_wire_read_string(&reader, &string);
    cr_assert_eq(reader.error, SB_ECORRUPT);
    reader = reader_over(bytes, sizeof(bytes));
    sb_wire_read_string_nullable(&reader, &string);
    cr_assert_eq(sb_wire_reader_finish(&reader), 0);
    cr_assert_null(string.chars);
}

Test(wire, bytes_with_null_or_negative_length_is_corrupt)
{
    static const uint8_t null_bytes[] = {0xFF, 0xFF, 0xFF, 0xFF};
    struct sb_wire_reader reader = reader_over(null_bytes, sizeof(null_bytes));
    struct sb_wire_bytes bytes;
    sb_wire_read_bytes(&reader, &bytes);
    cr_assert_eq(reader.error, SB_ECORRUPT, "null where not nullable");
    reader = reader_over(null_bytes, sizeof(null_bytes));
    sb_wire_read_bytes_nullable(&reader, &bytes);
    cr_assert_eq(sb_wire_reader_finish(&reader), 0);
    cr_assert_null(bytes.data);
    static const uint8_t negative[] = {0x00, 0x00, 0x00, 0x80, 1, 2};
    reader = reader_over(negative, sizeof(negative));
    sb_wire_read_bytes_nullable(&reader, &bytes);
    cr_assert_eq(reader.error, SB_ECORRUPT, "-2^31 as int32 is a length past the end");
    static const uint8_t minus_two[] = {0xFE, 0xFF, 0xFF, 0xFF, 1, 2};
    reader = reader_over(minus_two, sizeof(minus_two));
    sb_wire_read_bytes_nullable(&reader, &bytes);
    cr_assert_eq(reader.error, SB_ECORRUPT);
}

Test(wire, array_count_that_cannot_fit_is_refused_before_iterating)
{
    uint8_t bytes[4 + 7] = {0};
    fixture_poke_u32(bytes, 4);
    struct sb_wire_reader reader = reader_over(bytes, sizeof(bytes));
    struct sb_wire_array array;
    uint16_t scratch;
    sb_wire_read_array(&reader, 2, element_read_forbidden, &scratch, &array);
    cr_assert_eq(reader.error, SB_ECORRUPT, "4 x 2 bytes > 7 left");
    cr_assert_eq(array.count, 0);
    cr_assert_eq(sb_wire_array_next(&array, element_read_forbidden, &scratch), SB_ECORRUPT);
    fixture_poke_u32(bytes, UINT32_MAX - 1);
    reader = reader_over(bytes, sizeof(bytes));
    cr_assert_eq(sb_wire_read_array_count(&reader, 1), 0);
    cr_assert_eq(reader.error, SB_ECORRUPT);
    fixture_poke_u32(bytes, 3);
    reader = reader_over(bytes, sizeof(bytes));
    cr_assert_eq(sb_wire_read_array_count(&reader, 2), 3, "3 x 2 <= 7 is plausible");
}

Test(wire, array_count_above_the_limit_is_refused)
{
    fixture_poke_u32(large_buffer, SB_WIRE_ARRAY_COUNT_MAX + 1);
    struct sb_wire_reader reader = reader_over(large_buffer, sizeof(large_buffer));
    struct sb_wire_array array;
    uint16_t scratch;
    cr_assert_gt(sizeof(large_buffer) - 4, SB_WIRE_ARRAY_COUNT_MAX, "the bytes would fit");
    sb_wire_read_array(&reader, 1, element_read_forbidden, &scratch, &array);
    cr_assert_eq(reader.error, SB_ECORRUPT);
    fixture_poke_u32(large_buffer, SB_WIRE_ARRAY_NULL);
    reader = reader_over(large_buffer, sizeof(large_buffer));
    sb_wire_read_array(&reader, 1, element_read_forbidden, &scratch, &array);
    cr_assert_eq(reader.error, SB_ECORRUPT, "null where not nullable");
}

Test(wire, array_round_trip_and_iteration_end)
{
    static const uint16_t values[] = {10, 20, 30};
    struct sb_wire_writer writer;
    sb_wire_writer_init(&writer, buffer, sizeof(buffer));
    sb_wire_write_array(&writer, values, 3, sizeof(values[0]), element_write_u16);
    sb_wire_write_u8(&writer, 0x55);
    cr_assert_eq(writer.error, 0);
    cr_assert_eq(sb_wire_writer_length(&writer), 4 + 6 + 1);
    struct sb_wire_reader reader = reader_over(buffer, sb_wire_writer_length(&writer));
    struct sb_wire_array array;
    uint16_t value;
    sb_wire_read_array(&reader, 2, element_read_u16, &value, &array);
    cr_assert_eq(sb_wire_read_u8(&reader), 0x55, "the array was walked to its end");
    cr_assert_eq(sb_wire_reader_finish(&reader), 0);
    cr_assert_eq(array.count, 3);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(sb_wire_array_next(&array, element_read_u16, &value), 1);
        cr_assert_eq(value, values[i]);
    }
    cr_assert_eq(sb_wire_array_next(&array, element_read_u16, &value), 0);
    cr_assert_eq(sb_wire_array_next(&array, element_read_u16, &value), 0, "end stays end");
}

Test(wire, array_iteration_over_inconsistent_bytes_is_corrupt)
{
    static const uint8_t bytes[] = {1, 0, 2};
    struct sb_wire_array array = {.reader = reader_over(bytes, sizeof(bytes)), .count = 2};
    uint16_t value;
    cr_assert_eq(sb_wire_array_next(&array, element_read_u16, &value), 1);
    cr_assert_eq(sb_wire_array_next(&array, element_read_u16, &value), SB_ECORRUPT);
    cr_assert_eq(sb_wire_array_next(&array, element_read_u16, &value), SB_ECORRUPT, "sticky");
    array = (struct sb_wire_array){.reader = reader_over(bytes, sizeof(bytes)), .count = 1};
    cr_assert_eq(sb_wire_array_next(&array, element_read_u16, &value), 1);
    cr_assert_eq(sb_wire_array_next(&array, element_read_u16, &value), SB_ECORRUPT,
                 "a byte left after the last element");
}

Test(wire, nullable_array)
{
    uint8_t bytes[4 + 2];
    fixture_poke_u32(bytes, SB_WIRE_ARRAY_NULL);
    struct sb_wire_reader reader = reader_over(bytes, 4);
    struct sb_wire_array array;
    uint16_t value;
    cr_assert(sb_wire_read_array_nullable(&reader, 2, element_read_forbidden, &value, &array));
    cr_assert_eq(sb_wire_reader_finish(&reader), 0);
    cr_assert_eq(array.count, 0);
    cr_assert_eq(sb_wire_array_next(&array, element_read_u16, &value), 0);
    fixture_poke_u32(bytes, 1);
    fixture_poke_u16(bytes + 4, 9);
    reader = reader_over(bytes, sizeof(bytes));
    cr_assert_not(sb_wire_read_array_nullable(&reader, 2, element_read_u16, &value, &array));
    cr_assert_eq(array.count, 1);
    fixture_poke_u32(bytes, 2);
    reader = reader_over(bytes, sizeof(bytes));
    cr_assert_not(sb_wire_read_array_nullable(&reader, 2, element_read_u16, &value, &array));
    cr_assert_eq(reader.error, SB_ECORRUPT);
    reader = reader_over(bytes, 3);
    cr_assert_not(sb_wire_read_array_nullable(&reader, 2, element_read_u16, &value, &array));
    cr_assert_eq(reader.error, SB_ECORRUPT, "a cut count");
}

Test(frame, layout_and_crc_match_the_documented_example)
{
    struct sb_wire_writer writer;
    sb_wire_writer_init(&writer, buffer, sizeof(buffer));
    struct sb_frame_header header = {.api_key = SB_API_API_VERSIONS, .correlation_id = 1};
    cr_assert_eq(sb_frame_begin(&writer, &header), 0);
    cr_assert_eq(sb_frame_finish(&writer), 0);
    static const uint8_t expected[] = {
        0x14, 0, 0, 0, 0xDA, 0x4E, 0x01, 0x73, 0, 0, 0, 0, 1, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0,
    };
    cr_assert_eq(sb_wire_writer_length(&writer), sizeof(expected));
    cr_assert_arr_eq(buffer, expected, sizeof(expected), "docs/protocol.md's example");
    cr_assert_eq(sb_crc32c(0, buffer + 8, 16), 0x73014EDAu);
    fixture_corpus_write("api_versions_request_example", buffer, sizeof(expected));
}

/* Writes a frame of `runs` byte runs of 100 bytes each (run i filled with i), the runs with
 * known CRCs passed as such (crc_delta added to each, to make them wrong); returns its CRC. */
static uint32_t
frame_with_runs(uint8_t *out, size_t capacity, uint32_t runs, bool known, uint32_t crc_delta)
{
    static uint8_t run[100];
    struct sb_wire_writer writer;
    sb_wire_writer_init(&writer, out, capacity);
    struct sb_frame_header header = {.api_key = SB_API_FETCH, .correlation_id = 9,
                                     .flags = SB_FRAME_FLAG_RESPONSE};
    cr_assert_eq(sb_frame_begin(&writer, &header), 0);
    for (uint32_t index = 0; index < runs; index++) {
        memset(run, (int)index, sizeof(run));
        sb_wire_write_u16(&writer, (uint16_t)index); /* Bytes between runs. */
        struct sb_wire_bytes value = {run, sizeof(run)};
        if (known) {
            sb_wire_write_bytes_crc(&writer, value, sb_crc32c(0, run, sizeof(run)) + crc_delta);
        } else {
            sb_wire_write_bytes(&writer, value);
        }
    }
    cr_assert_eq(sb_frame_finish(&writer), 0);
    struct sb_frame frame;
    int decoded = sb_frame_decode(out, sb_wire_writer_length(&writer), FRAME_BYTES_MAX, &frame);
    cr_assert(decoded == 0 || crc_delta != 0, "decodes: %d", decoded);
    return sb_load_le32(out + SB_FRAME_OFFSET_CRC);
}

/* Runs whose CRC the writer is told (record batches a read checked) are combined into the
 * frame's CRC, not read again: the same CRC as reading them, a different one when the told
 * CRC is wrong; past SB_WIRE_KNOWN_CRC_RUNS_MAX runs the rest are read. */
Test(frame, runs_of_known_crc_are_combined_not_read)
{
    static uint8_t plain[4096];
    static uint8_t combined[4096];
    const uint32_t counts[] = {1, 3, SB_WIRE_KNOWN_CRC_RUNS_MAX, SB_WIRE_KNOWN_CRC_RUNS_MAX + 5};
    for (uint32_t index = 0; index < 4; index++) {
        uint32_t runs = counts[index];
        uint32_t expected = frame_with_runs(plain, sizeof(plain), runs, false, 0);
        cr_assert_eq(frame_with_runs(combined, sizeof(combined), runs, true, 0), expected,
                     "%u runs", runs);
        cr_assert_neq(frame_with_runs(combined, sizeof(combined), runs, true, 1), expected,
                      "%u runs: the told CRC is used", runs);
    }
}

Test(frame, round_trip_of_every_header_field)
{
    struct sb_wire_writer writer;
    sb_wire_writer_init(&writer, buffer, sizeof(buffer));
    struct sb_frame_header header = {
        .api_key = SB_API_FETCH,
        .api_version = 0,
        .correlation_id = 0xDEADBEEFu,
        .flags = SB_FRAME_FLAG_RESPONSE,
        .error_code = SB_WIRE_ERROR_BROKER_BUSY,
    };
    sb_frame_begin(&writer, &header);
    sb_wire_write_u32(&writer, 0xCAFEF00Du);
    cr_assert_eq(sb_frame_finish(&writer), 0);
    struct sb_frame frame;
    cr_assert_eq(sb_frame_decode(buffer, sb_wire_writer_length(&writer), FRAME_BYTES_MAX,
                                 &frame), 0);
    cr_assert_eq(frame.header.frame_bytes, 24);
    cr_assert_eq(frame.header.api_key, SB_API_FETCH);
    cr_assert_eq(frame.header.correlation_id, 0xDEADBEEFu);
    cr_assert_eq(frame.header.flags, SB_FRAME_FLAG_RESPONSE);
    cr_assert_eq(frame.header.error_code, SB_WIRE_ERROR_BROKER_BUSY);
    cr_assert_eq(frame.body_bytes, 4);
    cr_assert_eq(frame.body, buffer + SB_FRAME_HEADER_BYTES);
    cr_assert(sb_frame_header_is_response(&frame.header));
}

/* Writes a 24-byte request header with the given length field and a valid rest. */
static void
header_bytes(uint8_t *bytes, uint32_t frame_bytes)
{
    memset(bytes, 0, SB_FRAME_HEADER_BYTES);
    fixture_poke_u32(bytes, frame_bytes);
    fixture_poke_u32(bytes + SB_FRAME_OFFSET_CORRELATION_ID, 42);
}

Test(frame, too_large_is_known_from_the_first_four_bytes)
{
    static const uint32_t sizes[] = {1u << 31, UINT32_MAX, FRAME_BYTES_MAX + 1};
    for (size_t i = 0; i < SB_ARRAY_COUNT(sizes); i++) {
        uint8_t bytes[SB_FRAME_HEADER_BYTES];
        header_bytes(bytes, sizes[i]);
        struct sb_frame_header header;
        cr_assert_eq(sb_frame_header_decode(bytes, 4, FRAME_BYTES_MAX, &header), -EMSGSIZE);
        cr_assert_eq(header.frame_bytes, sizes[i], "kept for the log");
        cr_assert_eq(sb_frame_header_decode(bytes, sizeof(bytes), FRAME_BYTES_MAX, &header),
                     -EMSGSIZE);
        cr_assert_eq(header.correlation_id, 42, "raw fields for the error response");
    }
    uint8_t bytes[SB_FRAME_HEADER_BYTES];
    header_bytes(bytes, FRAME_BYTES_MAX);
    struct sb_frame_header header;
    cr_assert_eq(sb_frame_header_decode(bytes, sizeof(bytes), FRAME_BYTES_MAX, &header),
                 -EAGAIN, "exactly the limit is allowed");
    cr_assert_eq(sb_frame_total_bytes(&header), 4 + (size_t)FRAME_BYTES_MAX);
}

Test(frame, shorter_than_a_header_is_corrupt_from_the_first_four_bytes)
{
    static const uint32_t sizes[] = {0, 1, SB_FRAME_BYTES_MIN - 1};
    for (size_t i = 0; i < SB_ARRAY_COUNT(sizes); i++) {
        uint8_t bytes[SB_FRAME_HEADER_BYTES];
        header_bytes(bytes, sizes[i]);
        struct sb_frame_header header;
        cr_assert_eq(sb_frame_header_decode(bytes, 4, FRAME_BYTES_MAX, &header), SB_ECORRUPT);
    }
}

Test(frame, truncated_anywhere_asks_for_the_rest)
{
    uint8_t bytes[SB_FRAME_HEADER_BYTES + 8];
    header_bytes(bytes, SB_FRAME_BYTES_MIN + 8);
    for (size_t available = 0; available < sizeof(bytes); available++) {
        struct sb_frame_header header;
        cr_assert_eq(sb_frame_header_decode(bytes, available, FRAME_BYTES_MAX, &header),
                     -EAGAIN);
        size_t wanted = available < 4 ? SB_FRAME_HEADER_BYTES : sizeof(bytes);
        cr_assert_eq(sb_frame_total_bytes(&header), wanted, "at %zu bytes", available);
    }
}

Test(frame, undefined_flags_and_reserved_bits_are_corrupt_before_the_body)
{
    uint8_t bytes[SB_FRAME_HEADER_BYTES];
    struct sb_frame_header header;
    for (int bit = 2; bit < 16; bit++) {
        header_bytes(bytes, 1000);
        fixture_poke_u16(bytes + SB_FRAME_OFFSET_FLAGS, (uint16_t)(1u << bit));
        cr_assert_eq(sb_frame_header_decode(bytes, sizeof(bytes), FRAME_BYTES_MAX, &header),
                     SB_ECORRUPT, "flag bit %d", bit);
    }
    header_bytes(bytes, 1000);
    fixture_poke_u16(bytes + SB_FRAME_OFFSET_FLAGS,
                     SB_FRAME_FLAG_RESPONSE | SB_FRAME_FLAG_NO_RESPONSE);
    cr_assert_eq(sb_frame_header_decode(bytes, sizeof(bytes), FRAME_BYTES_MAX, &header),
                 SB_ECORRUPT, "a response cannot ask for no response");
    header_bytes(bytes, 1000);
    fixture_poke_u16(bytes + SB_FRAME_OFFSET_ERROR_CODE, SB_WIRE_ERROR_CORRUPT_FRAME);
    cr_assert_eq(sb_frame_header_decode(bytes, sizeof(bytes), FRAME_BYTES_MAX, &header),
                 SB_ECORRUPT, "a request with an error code");
    for (int i = 0; i < 4; i++) {
        header_bytes(bytes, 1000);
        bytes[SB_FRAME_OFFSET_RESERVED + i] = 0x10;
        cr_assert_eq(sb_frame_header_decode(bytes, sizeof(bytes), FRAME_BYTES_MAX, &header),
                     SB_ECORRUPT, "reserved byte %d", i);
    }
    header_bytes(bytes, 1000);
    fixture_poke_u16(bytes + SB_FRAME_OFFSET_FLAGS, SB_FRAME_FLAG_NO_RESPONSE);
    cr_assert_eq(sb_frame_header_decode(bytes, sizeof(bytes), FRAME_BYTES_MAX, &header),
                 -EAGAIN, "acks=0 requests are valid; the body is missing");
}

Test(frame, wrong_crc_is_corrupt)
{
    struct sb_wire_writer writer;
    sb_wire_writer_init(&writer, buffer, sizeof(buffer));
    struct sb_frame_header header = {.api_key = SB_API_HEALTH, .correlation_id = 3};
    sb_frame_begin(&writer, &header);
    cr_assert_eq(sb_frame_finish(&writer), 0);
    size_t length = sb_wire_writer_length(&writer);
    struct sb_frame frame;
    struct sb_frame_header decoded;
    cr_assert_eq(sb_frame_header_decode(buffer, length, FRAME_BYTES_MAX, &decoded), 0);
    cr_assert_eq(sb_frame_verify_crc(buffer, length, &decoded), 0);
    cr_assert_eq(sb_frame_verify_crc(buffer, length - 1, &decoded), -EAGAIN);
    buffer[SB_FRAME_OFFSET_CRC] ^= 0x80;
    cr_assert_eq(sb_frame_header_decode(buffer, length, FRAME_BYTES_MAX, &decoded), 0,
                 "the header checks do not look at the CRC");
    cr_assert_eq(sb_frame_verify_crc(buffer, length, &decoded), SB_ECORRUPT);
    frame.body_bytes = 12345;
    cr_assert_eq(sb_frame_decode(buffer, length, FRAME_BYTES_MAX, &frame), SB_ECORRUPT);
    cr_assert_eq(frame.body_bytes, 12345, "untouched on error");
}

Test(frame, begin_refuses_headers_the_decoder_would_refuse)
{
    static const struct sb_frame_header invalid[] = {
        {.flags = 0x0004},
        {.flags = SB_FRAME_FLAG_RESPONSE | SB_FRAME_FLAG_NO_RESPONSE},
        {.flags = 0, .error_code = SB_WIRE_ERROR_INVALID_REQUEST},
    };
    for (size_t i = 0; i < SB_ARRAY_COUNT(invalid); i++) {
        struct sb_wire_writer writer;
        sb_wire_writer_init(&writer, buffer, sizeof(buffer));
        cr_assert_eq(sb_frame_begin(&writer, &invalid[i]), -EINVAL);
        sb_wire_write_u32(&writer, 1);
        cr_assert_eq(sb_frame_finish(&writer), -EINVAL);
        cr_assert_eq(sb_wire_writer_length(&writer), 0);
        cr_assert_eq(writer.error, 0, "the writer can take another frame");
    }
}

Test(frame, failed_frame_leaves_earlier_frames_and_no_bytes)
{
    struct sb_wire_writer writer;
    sb_wire_writer_init(&writer, buffer, 60);
    struct sb_frame_header header = {.api_key = SB_API_HEALTH, .correlation_id = 1};
    sb_frame_begin(&writer, &header);
    cr_assert_eq(sb_frame_finish(&writer), 0);
    header.correlation_id = 2;
    sb_frame_begin(&writer, &header);
    sb_wire_write_u64(&writer, 1);
    sb_wire_write_u64(&writer, 2);
    cr_assert_eq(sb_frame_finish(&writer), -ENOSPC, "24 + 24 + 16 bytes do not fit in 60");
    cr_assert_eq(sb_wire_writer_length(&writer), SB_FRAME_HEADER_BYTES);
    cr_assert_eq(sb_frame_error_response_encode(&writer, &header, SB_WIRE_ERROR_BROKER_BUSY), 0);
    cr_assert_eq(sb_wire_writer_length(&writer), 2 * SB_FRAME_HEADER_BYTES);
}

Test(frame, pipelined_frames_split_one_by_one)
{
    struct sb_wire_writer writer;
    sb_wire_writer_init(&writer, buffer, sizeof(buffer));
    for (uint32_t i = 0; i < 3; i++) {
        struct sb_frame_header header = {.api_key = (uint16_t)i, .correlation_id = 100 + i};
        sb_frame_begin(&writer, &header);
        for (uint32_t j = 0; j < i; j++) {
            sb_wire_write_u32(&writer, j);
        }
        cr_assert_eq(sb_frame_finish(&writer), 0);
    }
    size_t length = sb_wire_writer_length(&writer);
    fixture_corpus_write("pipelined_three_requests", buffer, length);
    size_t offset = 0;
    for (uint32_t i = 0; i < 3; i++) {
        struct sb_frame frame;
        cr_assert_eq(sb_frame_decode(buffer + offset, length - offset, FRAME_BYTES_MAX, &frame),
                     0);
        cr_assert_eq(frame.header.correlation_id, 100 + i);
        cr_assert_eq(frame.body_bytes, 4 * i);
        offset += sb_frame_total_bytes(&frame.header);
    }
    cr_assert_eq(offset, length);
}

Test(frame, begin_twice_is_a_programmer_error, .signal = SIGABRT)
{
    struct sb_wire_writer writer;
    sb_wire_writer_init(&writer, buffer, sizeof(buffer));
    struct sb_frame_header header = {0};
    sb_frame_begin(&writer, &header);
    sb_frame_begin(&writer, &header);
}

Test(frame, finish_without_begin_is_a_programmer_error, .signal = SIGABRT)
{
    struct sb_wire_writer writer;
    sb_wire_writer_init(&writer, buffer, sizeof(buffer));
    sb_frame_finish(&writer);
}

Test(api, check_and_version_ranges)
{
    const struct sb_api_version_range *ranges;
    cr_assert_eq(sb_api_version_ranges(&ranges), SB_API_COUNT);
    for (uint16_t key = 0; key < SB_API_COUNT; key++) {
        cr_assert_eq(ranges[key].api_key, key);
        cr_assert_leq(ranges[key].min_version, ranges[key].max_version);
        cr_assert_eq(sb_api_check(key, ranges[key].max_version), SB_WIRE_ERROR_NONE);
        cr_assert_eq(sb_api_check(key, ranges[key].max_version + 1),
                     SB_WIRE_ERROR_UNSUPPORTED_VERSION);
        cr_assert_str_neq(sb_api_name(key), "unknown");
    }
    cr_assert_eq(sb_api_check(SB_API_COUNT, 0), SB_WIRE_ERROR_UNKNOWN_API);
    cr_assert_eq(sb_api_check(UINT16_MAX, 0), SB_WIRE_ERROR_UNKNOWN_API);
    cr_assert_str_eq(sb_api_name(SB_API_PRODUCE), "Produce");
    cr_assert_str_eq(sb_api_name(SB_API_COUNT), "unknown");
}

/* What the broker does with a request it cannot serve: a well-formed answer, empty body. */
static void
check_error_response(uint16_t api_key, uint16_t api_version, enum sb_wire_error expected)
{
    uint8_t request_bytes[SB_FRAME_HEADER_BYTES];
    struct sb_wire_writer writer;
    sb_wire_writer_init(&writer, request_bytes, sizeof(request_bytes));
    struct sb_frame_header header = {.api_key = api_key, .api_version = api_version,
                                     .correlation_id = 0x01020304};
    sb_frame_begin(&writer, &header);
    cr_assert_eq(sb_frame_finish(&writer), 0);
    struct sb_frame request;
    cr_assert_eq(sb_frame_decode(request_bytes, sizeof(request_bytes), FRAME_BYTES_MAX,
                                 &request), 0);
    enum sb_wire_error error = sb_api_check(request.header.api_key, request.header.api_version);
    cr_assert_eq(error, expected);
    sb_wire_writer_init(&writer, buffer, sizeof(buffer));
    cr_assert_eq(sb_frame_error_response_encode(&writer, &request.header, error), 0);
    struct sb_frame response;
    cr_assert_eq(sb_frame_decode(buffer, sb_wire_writer_length(&writer), FRAME_BYTES_MAX,
                                 &response), 0);
    cr_assert_eq(response.header.flags, SB_FRAME_FLAG_RESPONSE);
    cr_assert_eq(response.header.error_code, (int16_t)expected);
    cr_assert_eq(response.header.api_key, api_key);
    cr_assert_eq(response.header.api_version, api_version);
    cr_assert_eq(response.header.correlation_id, 0x01020304);
    cr_assert_eq(response.body_bytes, 0);
}

Test(api, unknown_key_or_version_gets_a_well_formed_error_response)
{
    check_error_response(SB_API_COUNT, 0, SB_WIRE_ERROR_UNKNOWN_API);
    check_error_response(0x7FFF, 3, SB_WIRE_ERROR_UNKNOWN_API);
    check_error_response(SB_API_PRODUCE, 1, SB_WIRE_ERROR_UNSUPPORTED_VERSION);
    fixture_corpus_write("error_response_unsupported_version", buffer, SB_FRAME_HEADER_BYTES);
}

Test(errors, names_are_distinct_and_unknown_codes_are_not_retriable)
{
    for (int code = 0; code < SB_WIRE_ERROR_COUNT; code++) {
        cr_assert(sb_wire_error_is_known(code));
        cr_assert_str_neq(sb_wire_error_name(code), "UNKNOWN");
        for (int other = 0; other < code; other++) {
            cr_assert_str_neq(sb_wire_error_name(code), sb_wire_error_name(other));
        }
    }
    static const int unknown[] = {-1, SB_WIRE_ERROR_COUNT, INT16_MAX, INT16_MIN};
    for (size_t i = 0; i < SB_ARRAY_COUNT(unknown); i++) {
        cr_assert_not(sb_wire_error_is_known(unknown[i]));
        cr_assert_str_eq(sb_wire_error_name(unknown[i]), "UNKNOWN");
        cr_assert_not(sb_wire_error_retriable(unknown[i]));
    }
    cr_assert_not(sb_wire_error_retriable(SB_WIRE_ERROR_NONE));
    cr_assert(sb_wire_error_retriable(SB_WIRE_ERROR_DISK_FULL));
    cr_assert_not(sb_wire_error_retriable(SB_WIRE_ERROR_OUT_OF_ORDER_SEQUENCE_NUMBER));
}

/* Checks one row "| code | `NAME` | meaning | retriable |" of the documented table. */
static int
check_documented_row(const char *line)
{
    int code = -1;
    char name[64];
    if (sscanf(line, "| %d | `%63[A-Z_]`", &code, name) != 2) {
        return 0;
    }
    cr_assert_str_eq(sb_wire_error_name(code), name, "docs/protocol.md code %d", code);
    const char *last = strrchr(line, '|');
    const char *column = last - 1;
    while (column > line && *column != '|') {
        column--;
    }
    bool retriable = strstr(column, "yes") != NULL;
    cr_assert_eq(sb_wire_error_retriable(code), retriable, "retriable column of %s", name);
    return 1;
}

Test(errors, table_matches_docs_protocol_md)
{
    FILE *file = fopen(SB_SOURCE_ROOT "/docs/protocol.md", "r");
    cr_assert_not_null(file);
    char line[512];
    int rows = 0;
    bool in_table = false;
    while (fgets(line, sizeof(line), file) != NULL) {
        if (strncmp(line, "## Error codes", 14) == 0) {
            in_table = true;
        } else if (in_table) {
            rows += check_documented_row(line);
        }
    }
    fclose(file);
    cr_assert_eq(rows, SB_WIRE_ERROR_COUNT, "one documented row per code");
}
