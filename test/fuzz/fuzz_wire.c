/*
 * test/fuzz/fuzz_wire.c - libFuzzer target for the native protocol: splits
 * the input into frames with the frame decoder, as a broker or client
 * receive loop would, and runs every request and response body decoder over
 * each body, draining their iterators (wire_walk.c). Built with
 * -fsanitize=fuzzer (-Dfuzzing=libfuzzer) or linked with replay_main.c,
 * which replays the corpus in every `meson test`.
 *
 * The fuzzer cannot forge CRC32Cs, so the CRC is checked but bodies are
 * decoded whatever its verdict. Oracles besides the sanitizers: -EAGAIN
 * always asks for more bytes than were given, and a frame whose CRC
 * verifies re-encodes (sb_frame_begin/finish) to the same bytes.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/assert.h"
#include "core/error.h"
#include "proto/wire.h"
#include "test/fuzz/wire_walk.h"

/* Frames split from one input, and the frame limit the receiver applies. */
#define FUZZ_FRAMES_MAX 64
#define FUZZ_FRAME_BYTES_MAX (64u << 10)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t fuzz_output[FUZZ_FRAME_BYTES_MAX + SB_FRAME_PREFIX_BYTES];

/* A verified frame must come out of the encoder byte for byte. */
static void
fuzz_reencode(const uint8_t *frame, const struct sb_frame_header *header)
{
    struct sb_wire_writer writer;
    sb_wire_writer_init(&writer, fuzz_output, sizeof(fuzz_output));
    size_t body_bytes = header->frame_bytes - SB_FRAME_BYTES_MIN;
    SB_ASSERT(sb_frame_begin(&writer, header) == 0);
    uint8_t *body = sb_wire_write_reserve(&writer, body_bytes);
    SB_ASSERT(body != NULL);
    memcpy(body, frame + SB_FRAME_HEADER_BYTES, body_bytes);
    SB_ASSERT(sb_frame_finish(&writer) == 0);
    SB_ASSERT(sb_wire_writer_length(&writer) == sb_frame_total_bytes(header));
    SB_ASSERT(memcmp(fuzz_output, frame, sb_wire_writer_length(&writer)) == 0);
}

/* The broker's answer to a request it cannot serve must itself decode. */
static void
fuzz_error_response(const struct sb_frame_header *request)
{
    struct sb_wire_writer writer;
    sb_wire_writer_init(&writer, fuzz_output, sizeof(fuzz_output));
    SB_ASSERT(sb_frame_error_response_encode(&writer, request,
                                             SB_WIRE_ERROR_INVALID_REQUEST) == 0);
    struct sb_frame response;
    SB_ASSERT(sb_frame_decode(fuzz_output, sb_wire_writer_length(&writer),
                              FUZZ_FRAME_BYTES_MAX, &response) == 0);
    SB_ASSERT(response.header.correlation_id == request->correlation_id);
    SB_ASSERT(response.body_bytes == 0);
}

static void
fuzz_frame(const uint8_t *frame, const struct sb_frame_header *header)
{
    const uint8_t *body = frame + SB_FRAME_HEADER_BYTES;
    size_t body_bytes = header->frame_bytes - SB_FRAME_BYTES_MIN;
    for (size_t i = 0; i < wire_walker_count; i++) {
        int error = wire_walkers[i].walk(body, body_bytes);
        SB_ASSERT(error == 0 || error == SB_ECORRUPT);
    }
    (void)sb_api_check(header->api_key, header->api_version);
    if (!sb_frame_header_is_response(header)) {
        fuzz_error_response(header);
    }
    if (sb_frame_verify_crc(frame, sb_frame_total_bytes(header), header) == 0) {
        fuzz_reencode(frame, header);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t offset = 0;
    for (int frames = 0; frames < FUZZ_FRAMES_MAX && offset < size; frames++) {
        const uint8_t *bytes = data + offset;
        size_t available = size - offset;
        struct sb_frame_header header;
        int error = sb_frame_header_decode(bytes, available, FUZZ_FRAME_BYTES_MAX, &header);
        if (error == -EAGAIN) {
            SB_ASSERT(sb_frame_total_bytes(&header) > available);
        }
        if (error != 0) {
            SB_ASSERT(error == -EAGAIN || error == -EMSGSIZE || error == SB_ECORRUPT);
            break;
        }
        fuzz_frame(bytes, &header);
        offset += sb_frame_total_bytes(&header);
    }
    return 0;
}
