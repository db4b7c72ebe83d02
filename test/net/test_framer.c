/*
 * test/net/test_framer.c - the native framer (net/framer_native.c): the
 * frame length from a whole prefix, -EAGAIN while the prefix is short, a
 * length over the limit found from the first 4 bytes, a too-short frame and
 * a malformed header refused before any body byte, and the exact bytes of a
 * frame-level error answer.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "core/error.h"
#include "net/framer.h"
#include "proto/errors.h"
#include "proto/wire.h"

#define FRAME_BYTES_MAX 4096u

/* A request header of a frame with `body_bytes` of body, from the real encoder. */
static void
header_build(uint8_t *out, uint32_t body_bytes)
{
    static uint8_t frame[SB_FRAME_HEADER_BYTES + 64];
    cr_assert(body_bytes <= 64);
    struct sb_wire_writer writer;
    sb_wire_writer_init(&writer, frame, sizeof(frame));
    struct sb_frame_header header = {.api_key = SB_API_METADATA, .api_version = 0,
                                     .correlation_id = 0x01020304u};
    cr_assert_eq(sb_frame_begin(&writer, &header), 0);
    memset(sb_wire_write_reserve(&writer, body_bytes), 0xAB, body_bytes);
    cr_assert_eq(sb_frame_finish(&writer), 0);
    memcpy(out, frame, SB_FRAME_HEADER_BYTES);
}

static void
store_le32(uint8_t *at, uint32_t value)
{
    for (int index = 0; index < 4; index++) {
        at[index] = (uint8_t)(value >> (8 * index));
    }
}

Test(framer, whole_prefix_gives_the_frame_size)
{
    uint8_t prefix[SB_FRAME_HEADER_BYTES];
    header_build(prefix, 40);
    uint32_t total = 0;
    int result = sb_framer_native.prefix_decode(prefix, SB_FRAME_HEADER_BYTES, FRAME_BYTES_MAX,
                                                &total);
    cr_assert_eq(result, 0);
    cr_assert_eq(total, SB_FRAME_HEADER_BYTES + 40);
    cr_assert_eq(sb_framer_native.prefix_bytes, SB_FRAME_HEADER_BYTES);
}

Test(framer, empty_body_is_a_whole_frame)
{
    uint8_t prefix[SB_FRAME_HEADER_BYTES];
    header_build(prefix, 0);
    uint32_t total = 0;
    cr_assert_eq(sb_framer_native.prefix_decode(prefix, SB_FRAME_HEADER_BYTES, FRAME_BYTES_MAX,
                                                &total), 0);
    cr_assert_eq(total, SB_FRAME_HEADER_BYTES);
}

Test(framer, short_prefix_asks_for_more)
{
    uint8_t prefix[SB_FRAME_HEADER_BYTES];
    header_build(prefix, 8);
    for (uint32_t available = 1; available < SB_FRAME_HEADER_BYTES; available++) {
        uint32_t total = 0;
        cr_assert_eq(sb_framer_native.prefix_decode(prefix, available, FRAME_BYTES_MAX, &total),
                     -EAGAIN, "available=%u", available);
    }
}

Test(framer, length_over_the_limit_is_known_from_four_bytes)
{
    uint8_t prefix[SB_FRAME_HEADER_BYTES];
    header_build(prefix, 8);
    store_le32(prefix, FRAME_BYTES_MAX + 1);
    uint32_t total = 0;
    cr_assert_eq(sb_framer_native.prefix_decode(prefix, 4, FRAME_BYTES_MAX, &total), -EMSGSIZE);
    cr_assert_eq(sb_framer_native.prefix_decode(prefix, SB_FRAME_HEADER_BYTES, FRAME_BYTES_MAX,
                                                &total), -EMSGSIZE);
    store_le32(prefix, FRAME_BYTES_MAX);
    cr_assert_eq(sb_framer_native.prefix_decode(prefix, 4, FRAME_BYTES_MAX, &total), -EAGAIN);
}

Test(framer, frame_shorter_than_its_header_is_corrupt)
{
    uint8_t prefix[SB_FRAME_HEADER_BYTES];
    header_build(prefix, 8);
    store_le32(prefix, SB_FRAME_BYTES_MIN - 1);
    uint32_t total = 0;
    cr_assert_eq(sb_framer_native.prefix_decode(prefix, 4, FRAME_BYTES_MAX, &total), SB_ECORRUPT);
}

Test(framer, malformed_header_is_corrupt_before_the_body)
{
    uint8_t prefix[SB_FRAME_HEADER_BYTES];
    header_build(prefix, 8);
    prefix[SB_FRAME_OFFSET_RESERVED] = 1;
    uint32_t total = 0;
    cr_assert_eq(sb_framer_native.prefix_decode(prefix, SB_FRAME_HEADER_BYTES - 1,
                                                FRAME_BYTES_MAX, &total), -EAGAIN);
    cr_assert_eq(sb_framer_native.prefix_decode(prefix, SB_FRAME_HEADER_BYTES, FRAME_BYTES_MAX,
                                                &total), SB_ECORRUPT);
}

Test(framer, error_answer_echoes_the_request)
{
    uint8_t prefix[SB_FRAME_HEADER_BYTES];
    header_build(prefix, 8);
    uint8_t out[SB_FRAMER_ERROR_FRAME_BYTES_MAX];
    int16_t error = sb_framer_native.errors[SB_FRAMER_ERROR_TOO_LARGE];
    cr_assert_eq(error, SB_WIRE_ERROR_REQUEST_TOO_LARGE);
    uint32_t length = sb_framer_native.error_encode(prefix, error, out);
    cr_assert_eq(length, SB_FRAME_HEADER_BYTES);
    struct sb_frame frame;
    cr_assert_eq(sb_frame_decode(out, length, FRAME_BYTES_MAX, &frame), 0);
    cr_assert_eq(frame.header.api_key, SB_API_METADATA);
    cr_assert_eq(frame.header.correlation_id, 0x01020304u);
    cr_assert_eq(frame.header.flags, SB_FRAME_FLAG_RESPONSE);
    cr_assert_eq(frame.header.error_code, SB_WIRE_ERROR_REQUEST_TOO_LARGE);
    cr_assert_eq(frame.body_bytes, 0);
    /* [frame-header]: frame_bytes 20, then the CRC, key 1, version 0, the correlation id. */
    static const uint8_t expected_head[4] = {20, 0, 0, 0};
    cr_assert_arr_eq(out, expected_head, 4);
    static const uint8_t expected_fields[16] = {1, 0, 0, 0, 4, 3, 2, 1, 1, 0, 5, 0, 0, 0,
                                                0, 0};
    cr_assert_arr_eq(out + 8, expected_fields, 16);
}

Test(framer, error_answer_to_a_malformed_header_still_echoes)
{
    uint8_t prefix[SB_FRAME_HEADER_BYTES];
    header_build(prefix, 8);
    prefix[SB_FRAME_OFFSET_FLAGS] = 0xFF;
    uint8_t out[SB_FRAMER_ERROR_FRAME_BYTES_MAX];
    int16_t error = sb_framer_native.errors[SB_FRAMER_ERROR_CORRUPT];
    cr_assert_eq(error, SB_WIRE_ERROR_CORRUPT_FRAME);
    uint32_t length = sb_framer_native.error_encode(prefix, error, out);
    struct sb_frame frame;
    cr_assert_eq(sb_frame_decode(out, length, FRAME_BYTES_MAX, &frame), 0);
    cr_assert_eq(frame.header.correlation_id, 0x01020304u);
    cr_assert_eq(frame.header.error_code, SB_WIRE_ERROR_CORRUPT_FRAME);
    cr_assert_eq(sb_framer_native.errors[SB_FRAMER_ERROR_REFUSED],
                 SB_WIRE_ERROR_TOO_MANY_CONNECTIONS);
}
