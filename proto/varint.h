/*
 * proto/varint.h - variable-length integers of the record format (see
 * docs/record-batch.md): unsigned LEB128 ("uvarint") and zigzag-mapped signed
 * values ("zigzag varint").
 *
 * An unsigned value is written seven bits at a time, least significant group
 * first; every byte but the last has bit 7 set. A signed value v is first
 * mapped to (v << 1) ^ (v >> 63), so small magnitudes stay short.
 *
 * Decoders never trust their input. They return the bytes consumed (>= 1),
 * -EAGAIN when the input ends inside the varint, and SB_ECORRUPT when the
 * encoding is longer than the field allows (10 bytes for 64-bit fields, 5 for
 * 32-bit fields), overflows the field, or is not minimal (a final 0x00 byte
 * after a continuation byte). Rejecting non-minimal forms makes every value
 * have exactly one encoding, so re-encoding a decoded record gives back the
 * same bytes. Encoders write into a buffer that the caller has sized with
 * sb_varint_size_*() or the *_BYTES_MAX constants.
 */
#ifndef SB_PROTO_VARINT_H
#define SB_PROTO_VARINT_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/* Longest encodings of a 64-bit and of a 32-bit value. */
#define SB_VARINT64_BYTES_MAX 10
#define SB_VARINT32_BYTES_MAX 5

static inline uint64_t
sb_zigzag_encode(int64_t value)
{
    return ((uint64_t)value << 1) ^ (uint64_t)(value >> 63);
}

static inline int64_t
sb_zigzag_decode(uint64_t value)
{
    return (int64_t)((value >> 1) ^ (~(value & 1) + 1));
}

/* Bytes that sb_varint_encode_u64(value) writes: 1..10. */
static inline size_t
sb_varint_size_u64(uint64_t value)
{
    size_t size = 1;
    while (value >= 0x80) {
        value >>= 7;
        size++;
    }
    return size;
}

static inline size_t
sb_varint_size_s64(int64_t value)
{
    return sb_varint_size_u64(sb_zigzag_encode(value));
}

/* Writes value at out (room for sb_varint_size_u64(value) bytes); returns bytes written. */
static inline size_t
sb_varint_encode_u64(uint8_t *out, uint64_t value)
{
    size_t size = 0;
    while (value >= 0x80) {
        out[size++] = (uint8_t)(value | 0x80);
        value >>= 7;
    }
    out[size++] = (uint8_t)value;
    return size;
}

static inline size_t
sb_varint_encode_s64(uint8_t *out, int64_t value)
{
    return sb_varint_encode_u64(out, sb_zigzag_encode(value));
}

/* Decodes an unsigned varint of at most bytes_max bytes whose value is <= value_max (see the
 * file comment for the returns). The shared body of the four typed decoders below. */
static inline int
sb_varint_decode_bounded(const uint8_t *bytes, size_t available, size_t bytes_max,
                     uint64_t value_max, uint64_t *out)
{
    uint64_t value = 0;
    for (size_t i = 0; i < bytes_max; i++) {
        if (i == available) {
            return -EAGAIN;
        }
        uint64_t group = bytes[i] & 0x7F;
        if (i == 9 && group > 1) {
            return SB_ECORRUPT; /* Bits beyond 64. */
        }
        value |= group << (7 * i);
        if ((bytes[i] & 0x80) == 0) {
            if (i > 0 && bytes[i] == 0) {
                return SB_ECORRUPT; /* Not minimal. */
            }
            if (value > value_max) {
                return SB_ECORRUPT;
            }
            *out = value;
            return (int)i + 1;
        }
    }
    return SB_ECORRUPT; /* Longer than the field allows. */
}

static inline int
sb_varint_decode_u64(const uint8_t *bytes, size_t available, uint64_t *out)
{
    return sb_varint_decode_bounded(bytes, available, SB_VARINT64_BYTES_MAX, UINT64_MAX, out);
}

static inline int
sb_varint_decode_u32(const uint8_t *bytes, size_t available, uint32_t *out)
{
    uint64_t value = 0;
    int consumed = sb_varint_decode_bounded(bytes, available, SB_VARINT32_BYTES_MAX, UINT32_MAX,
                                        &value);
    if (consumed > 0) {
        *out = (uint32_t)value;
    }
    return consumed;
}

static inline int
sb_varint_decode_s64(const uint8_t *bytes, size_t available, int64_t *out)
{
    uint64_t value = 0;
    int consumed = sb_varint_decode_u64(bytes, available, &value);
    if (consumed > 0) {
        *out = sb_zigzag_decode(value);
    }
    return consumed;
}

/* A zigzag value that must lie in int32_t: at most 5 bytes, mapped value <= UINT32_MAX. */
static inline int
sb_varint_decode_s32(const uint8_t *bytes, size_t available, int32_t *out)
{
    uint64_t value = 0;
    int consumed = sb_varint_decode_bounded(bytes, available, SB_VARINT32_BYTES_MAX, UINT32_MAX,
                                        &value);
    if (consumed > 0) {
        *out = (int32_t)sb_zigzag_decode(value);
    }
    return consumed;
}

#endif /* SB_PROTO_VARINT_H */
