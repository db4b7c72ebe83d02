/*
 * test/proto/wire_fixture.c - the generic frame and body checks every
 * protocol test runs on its samples (wire_fixture.h).
 */
#include "test/proto/wire_fixture.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "test/fuzz/wire_walk.h"

#define FIXTURE_CORRELATION_ID 7

static uint8_t fixture_frame[FIXTURE_FRAME_BYTES_MAX];
static uint8_t fixture_scratch[FIXTURE_FRAME_BYTES_MAX];

void
fixture_frame_begin(struct sb_wire_writer *writer, uint16_t api_key, bool response)
{
    struct sb_frame_header header = {
        .api_key = api_key,
        .correlation_id = FIXTURE_CORRELATION_ID,
        .flags = response ? SB_FRAME_FLAG_RESPONSE : 0,
    };
    sb_frame_begin(writer, &header);
}

int
fixture_walk(const struct sb_frame *frame, const uint8_t *body, size_t body_bytes)
{
    return wire_walk(frame->header.api_key, frame->header.api_version,
                     sb_frame_header_is_response(&frame->header), body, body_bytes);
}

/* Every capacity below the frame's size fails with -ENOSPC and leaves nothing behind. */
static void
fixture_check_no_space(int (*encode)(struct sb_wire_writer *writer), size_t length)
{
    for (size_t capacity = 0; capacity < length; capacity++) {
        struct sb_wire_writer writer;
        sb_wire_writer_init(&writer, fixture_scratch, capacity);
        cr_assert_eq(encode(&writer), -ENOSPC, "capacity %zu of %zu", capacity, length);
        cr_assert_eq(sb_wire_writer_length(&writer), 0);
        cr_assert_eq(writer.error, 0, "sb_frame_finish clears the error");
    }
}

static void
fixture_check_frame_prefixes(const uint8_t *frame, size_t length)
{
    for (size_t available = 0; available < length; available++) {
        struct sb_frame decoded;
        struct sb_frame_header header;
        cr_assert_eq(sb_frame_decode(frame, available, FIXTURE_FRAME_BYTES_MAX, &decoded),
                     -EAGAIN, "prefix of %zu bytes", available);
        cr_assert_eq(sb_frame_header_decode(frame, available, FIXTURE_FRAME_BYTES_MAX, &header),
                     -EAGAIN);
        size_t wanted = available < SB_FRAME_PREFIX_BYTES ? SB_FRAME_HEADER_BYTES : length;
        cr_assert_eq(sb_frame_total_bytes(&header), wanted);
    }
}

/* Any damaged byte after the length field is caught, by the header checks or the CRC. */
static void
fixture_check_frame_flips(uint8_t *frame, size_t length)
{
    for (size_t i = SB_FRAME_OFFSET_CRC; i < length; i++) {
        struct sb_frame decoded;
        frame[i] ^= 0x01;
        cr_assert_eq(sb_frame_decode(frame, length, FIXTURE_FRAME_BYTES_MAX, &decoded),
                     SB_ECORRUPT, "flipped byte %zu", i);
        frame[i] ^= 0x01;
    }
}

static void
fixture_check_body(const struct sb_frame *frame)
{
    uint8_t *body = fixture_scratch;
    memcpy(body, frame->body, frame->body_bytes);
    cr_assert_eq(fixture_walk(frame, body, frame->body_bytes), 0);
    for (size_t length = 0; length < frame->body_bytes; length++) {
        /* A copy of exactly length bytes at the end of the buffer: overreads leave it. */
        uint8_t *cut = fixture_scratch + sizeof(fixture_scratch) - length;
        memmove(cut, frame->body, length);
        cr_assert_eq(fixture_walk(frame, cut, length), SB_ECORRUPT, "body cut at %zu", length);
    }
    memcpy(body, frame->body, frame->body_bytes);
    body[frame->body_bytes] = 0;
    cr_assert_eq(fixture_walk(frame, body, frame->body_bytes + 1), SB_ECORRUPT,
                 "trailing byte");
    for (size_t i = 0; i < frame->body_bytes; i++) {
        static const uint8_t values[] = {0x00, 0x01, 0x7F, 0x80, 0xFF};
        for (size_t v = 0; v < sizeof(values); v++) {
            memcpy(body, frame->body, frame->body_bytes);
            body[i] = values[v];
            int error = fixture_walk(frame, body, frame->body_bytes);
            cr_assert(error == 0 || error == SB_ECORRUPT, "byte %zu = %u", i, values[v]);
        }
    }
}

struct sb_frame
fixture_encode(int (*encode)(struct sb_wire_writer *writer), const char *name)
{
    struct sb_wire_writer writer;
    sb_wire_writer_init(&writer, fixture_frame, sizeof(fixture_frame));
    cr_assert_eq(encode(&writer), 0, "%s encodes", name);
    size_t length = sb_wire_writer_length(&writer);
    fixture_corpus_write(name, fixture_frame, length);
    struct sb_frame frame;
    cr_assert_eq(sb_frame_decode(fixture_frame, length, FIXTURE_FRAME_BYTES_MAX, &frame), 0);
    cr_assert_eq(sb_frame_total_bytes(&frame.header), length);
    cr_assert_eq(frame.header.correlation_id, FIXTURE_CORRELATION_ID);
    fixture_check_no_space(encode, length);
    fixture_check_frame_prefixes(fixture_frame, length);
    fixture_check_frame_flips(fixture_frame, length);
    fixture_check_body(&frame);
    return frame;
}

void
fixture_corpus_write(const char *name, const uint8_t *bytes, size_t length)
{
    const char *directory = getenv("SB_WIRE_CORPUS_DIR");
    if (directory == NULL) {
        return;
    }
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", directory, name);
    FILE *file = fopen(path, "wb");
    cr_assert_not_null(file, "cannot write %s", path);
    cr_assert_eq(fwrite(bytes, 1, length, file), length);
    fclose(file);
}

void
fixture_poke_u16(uint8_t *bytes, uint16_t value)
{
    bytes[0] = (uint8_t)value;
    bytes[1] = (uint8_t)(value >> 8);
}

void
fixture_poke_u32(uint8_t *bytes, uint32_t value)
{
    for (int i = 0; i < 4; i++) {
        bytes[i] = (uint8_t)(value >> (8 * i));
    }
}

bool
fixture_string_is(struct sb_wire_string string, const char *cstr)
{
    if (cstr == NULL) {
        return string.chars == NULL && string.length == 0;
    }
    return sb_wire_string_equals(string, cstr);
}

void
fixture_assert_same_bytes(const uint8_t *got, size_t got_length, const uint8_t *expected,
                          size_t length, const char *what)
{
    size_t common = got_length < length ? got_length : length;
    for (size_t i = 0; i < common; i++) {
        cr_assert_eq(got[i], expected[i], "%s: byte %zu is 0x%02x, the doc says 0x%02x", what,
                     i, got[i], expected[i]);
    }
    cr_assert_eq(got_length, length, "%s: %zu bytes, the doc says %zu", what, got_length,
                 length);
}

void
fixture_assert_encoded(const struct sb_wire_writer *writer, int error, const uint8_t *expected,
                       size_t length, const char *what)
{
    cr_assert_eq(error, 0, "%s: the encoder failed (%d)", what, error);
    fixture_assert_same_bytes(writer->start, sb_wire_writer_length(writer), expected, length,
                              what);
}

void
fixture_assert_string(struct sb_wire_string got, struct sb_wire_string want, const char *what)
{
    if (want.chars == NULL) {
        cr_assert_null(got.chars, "%s: expected the null string", what);
        cr_assert_eq(got.length, 0, "%s", what);
        return;
    }
    cr_assert_not_null(got.chars, "%s: null, expected \"%.*s\"", what, (int)want.length,
                       want.chars);
    cr_assert_eq(got.length, want.length, "%s: length %u, expected %u", what, got.length,
                 want.length);
    cr_assert_arr_eq(got.chars, want.chars, want.length, "%s", what);
}
