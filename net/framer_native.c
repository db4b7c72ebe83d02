/*
 * net/framer_native.c - the framer of StreamBus's own wire protocol.
 *
 * The prefix is the whole 24-byte [frame-header] of proto/wire.h: its first
 * four bytes give the length (checked against the limit as soon as they are
 * present), the rest is validated before any body byte is read, and a
 * frame-level error answer is a header-only response echoing the request's
 * key, version and correlation id. The CRC covers the body too, so it is the
 * layer above that checks it, once the frame is whole.
 */
#include <assert.h>
#include <errno.h>
#include <stdint.h>

#include "core/assert.h"
#include "core/error.h"
#include "net/framer.h"
#include "proto/errors.h"
#include "proto/wire.h"

static_assert(SB_FRAME_HEADER_BYTES <= SB_FRAMER_PREFIX_BYTES_MAX, "the header is the prefix");
static_assert(SB_FRAME_HEADER_BYTES <= SB_FRAMER_ERROR_FRAME_BYTES_MAX, "an error is a header");

static int
native_prefix_decode(const uint8_t *prefix, uint32_t available, uint32_t frame_bytes_max,
                     uint32_t *frame_total_bytes_out)
{
    SB_ASSERT(available > 0 && available <= SB_FRAME_HEADER_BYTES);
    struct sb_frame_header header;
    int result = sb_frame_header_decode(prefix, available, frame_bytes_max, &header);
    if (result == -EMSGSIZE || result == SB_ECORRUPT) {
        return result;
    }
    if (available < SB_FRAME_HEADER_BYTES) {
        return -EAGAIN;
    }
    /* A whole, valid header: only the body may be missing. */
    SB_ASSERT(result == 0 || result == -EAGAIN);
    *frame_total_bytes_out = (uint32_t)sb_frame_total_bytes(&header);
    return 0;
}

static uint32_t
native_error_encode(const uint8_t *prefix, int16_t error, uint8_t *out)
{
    SB_ASSERT(error != SB_WIRE_ERROR_NONE);
    struct sb_frame_header header;
    /* The fields are loaded whatever the verdict: a malformed header is answered too. */
    sb_frame_header_decode(prefix, SB_FRAME_HEADER_BYTES, UINT32_MAX, &header);
    struct sb_wire_writer writer;
    sb_wire_writer_init(&writer, out, SB_FRAME_HEADER_BYTES);
    int result = sb_frame_error_response_encode(&writer, &header, (enum sb_wire_error)error);
    SB_ASSERT(result == 0);
    return (uint32_t)sb_wire_writer_length(&writer);
}

const struct sb_framer sb_framer_native = {
    .name = "native",
    .prefix_bytes = SB_FRAME_HEADER_BYTES,
    .prefix_decode = native_prefix_decode,
    .error_encode = native_error_encode,
    .errors = {
        [SB_FRAMER_ERROR_TOO_LARGE] = SB_WIRE_ERROR_REQUEST_TOO_LARGE,
        [SB_FRAMER_ERROR_CORRUPT] = SB_WIRE_ERROR_CORRUPT_FRAME,
        [SB_FRAMER_ERROR_REFUSED] = SB_WIRE_ERROR_TOO_MANY_CONNECTIONS,
    },
};
