/*
 * test/proto/wire_fixture.h - shared checks for the protocol suites
 * (test_wire.c, test_api_*.c). fixture_encode() encodes one sample frame and
 * runs every generic check on it: the frame decodes; every prefix of it is
 * -EAGAIN; every strict prefix of its body, and the body plus one byte, is
 * SB_ECORRUPT; a flip of any byte after the length field is SB_ECORRUPT;
 * every single-byte mutation of the body decodes or fails cleanly; and every
 * smaller output buffer gives -ENOSPC leaving no bytes behind.
 *
 * With SB_WIRE_CORPUS_DIR set in the environment, each checked frame is
 * also written there as <name> (how test/fuzz/corpus/wire was made).
 *
 * The fixture suites (test_fixtures*.c) compare encoded bytes and decoded
 * strings with fixture_assert_encoded and fixture_assert_string.
 */
#ifndef SB_TEST_PROTO_WIRE_FIXTURE_H
#define SB_TEST_PROTO_WIRE_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/wire.h"

/* Big enough for every sample frame. */
#define FIXTURE_FRAME_BYTES_MAX (64u << 10)

/* Starts a frame of api_key (version 0, correlation id 7) as a request or a response. */
void fixture_frame_begin(struct sb_wire_writer *writer, uint16_t api_key, bool response);

/*
 * Runs encode (which writes one whole frame with fixture_frame_begin, a body encoder and
 * sb_frame_finish, returning sb_frame_finish's result) and every check above; name is the
 * corpus file name. Returns the decoded frame; its body points into a buffer that stays
 * valid until the next fixture_encode.
 */
struct sb_frame fixture_encode(int (*encode)(struct sb_wire_writer *writer), const char *name);

/* Decodes a body, as in walking it completely (test/fuzz/wire_walk.h). */
int fixture_walk(const struct sb_frame *frame, const uint8_t *body, size_t body_bytes);

/* Writes bytes to $SB_WIRE_CORPUS_DIR/name when that variable is set. */
void fixture_corpus_write(const char *name, const uint8_t *bytes, size_t length);

/* Little-endian pokes for hand-made bodies. */
void fixture_poke_u16(uint8_t *bytes, uint16_t value);
void fixture_poke_u32(uint8_t *bytes, uint32_t value);

/* Asserts that got (got_length bytes) is exactly expected (length bytes); what names it. */
void fixture_assert_same_bytes(const uint8_t *got, size_t got_length, const uint8_t *expected,
                               size_t length, const char *what);

/* Asserts that the encoder returned error 0 and that writer holds exactly expected. */
void fixture_assert_encoded(const struct sb_wire_writer *writer, int error,
                            const uint8_t *expected, size_t length, const char *what);

/* Asserts that got holds exactly want (a null string when want.chars is NULL). */
void fixture_assert_string(struct sb_wire_string got, struct sb_wire_string want,
                           const char *what);

/* True when string holds exactly cstr (cstr NULL: string is null). */
bool fixture_string_is(struct sb_wire_string string, const char *cstr);

#endif /* SB_TEST_PROTO_WIRE_FIXTURE_H */
