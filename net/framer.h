/*
 * net/framer.h - how the transport finds frames in a byte stream: one framer
 * per wire protocol, and nothing else of the protocol is known to net/.
 *
 * A connection gathers the first bytes of each frame (up to prefix_bytes, as
 * they arrive) and asks the framer about them: how long the whole frame is,
 * or that it is over the limit, or malformed. The frame then goes, whole and
 * unread, to the layer above. When net/ itself must refuse a frame (too
 * large, malformed prefix, connection over its limit), the framer writes the
 * protocol's answer from the prefix, echoing what the protocol echoes (the
 * native protocol: key, version and correlation id). Adding a wire protocol
 * (Kafka) is adding a framer: a const struct sb_framer and its two functions.
 */
#ifndef SB_NET_FRAMER_H
#define SB_NET_FRAMER_H

#include <stdint.h>

/* Largest prefix any framer needs, and largest frame-level error answer it writes. */
#define SB_FRAMER_PREFIX_BYTES_MAX 32u
#define SB_FRAMER_ERROR_FRAME_BYTES_MAX 32u

/* Why the transport refuses a frame itself; the framer maps each to its protocol's code. */
enum sb_framer_error {
    SB_FRAMER_ERROR_TOO_LARGE, /* The frame's length is over the connection's limit. */
    SB_FRAMER_ERROR_CORRUPT,   /* The prefix is malformed: the stream cannot be trusted. */
    SB_FRAMER_ERROR_REFUSED,   /* The connection is over max_connections. */
    SB_FRAMER_ERROR_COUNT,
};

struct sb_framer {
    const char *name;      /* The protocol ("native"), for logs. */
    uint32_t prefix_bytes; /* Bytes that give a frame's length and what an error answer
                              echoes; at most SB_FRAMER_PREFIX_BYTES_MAX. */
    /*
     * Decodes the first `available` bytes (1 .. prefix_bytes, borrowed for the
     * call) of a frame. frame_bytes_max is the connection's limit in the
     * protocol's own terms (the native protocol: its frame_bytes field, the
     * bytes after the length). Returns
     *   0            the prefix is whole and valid; *frame_total_bytes_out is the
     *                frame's size, prefix included;
     *   -EAGAIN      more prefix bytes are needed;
     *   -EMSGSIZE    the frame is longer than the limit (possibly known before
     *                the whole prefix is);
     *   SB_ECORRUPT  the prefix is malformed.
     */
    int (*prefix_decode)(const uint8_t *prefix, uint32_t available, uint32_t frame_bytes_max,
                         uint32_t *frame_total_bytes_out);
    /* Writes into `out` (SB_FRAMER_ERROR_FRAME_BYTES_MAX bytes, the caller's) the answer
     * to the frame that starts with the whole `prefix` (borrowed), carrying `error`, a
     * frame-level error code of this protocol; returns the answer's length. */
    uint32_t (*error_encode)(const uint8_t *prefix, int16_t error, uint8_t *out);
    int16_t errors[SB_FRAMER_ERROR_COUNT]; /* This protocol's code for each enum value. */
};

/* The native protocol's framer ([frame-header] in proto/wire.h). */
extern const struct sb_framer sb_framer_native;

#endif /* SB_NET_FRAMER_H */
