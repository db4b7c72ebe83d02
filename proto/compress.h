/*
 * proto/compress.h - the compression codecs of record batches, one call each
 * way over caller buffers.
 *
 * Codec numbers are the value of bits 0-2 of a batch's attributes (see
 * proto/batch.h), so they are part of the disk and wire format and never
 * change. Each codec is one self-contained stream:
 *   gzip    RFC 1952 gzip member (zlib, windowBits 15 + 16), default level;
 *   snappy  raw snappy block (snappy-c.h), which starts with its own length;
 *   lz4     raw LZ4 block (LZ4_compress_default), no frame, no stored length;
 *   zstd    one zstd frame with its content size, level 3.
 *
 * No function here allocates memory itself; zlib and zstd allocate their own
 * short-lived contexts inside each call. Decompression treats its input as
 * hostile: it never writes past dst_capacity and answers garbage with
 * SB_ECORRUPT.
 */
#ifndef SB_PROTO_COMPRESS_H
#define SB_PROTO_COMPRESS_H

#include <stdbool.h>
#include <stddef.h>

/* Compression codec of a batch; the value is stored in attribute bits 0-2. */
enum sb_compression {
    SB_COMPRESSION_NONE = 0,
    SB_COMPRESSION_GZIP = 1,
    SB_COMPRESSION_SNAPPY = 2,
    SB_COMPRESSION_LZ4 = 3,
    SB_COMPRESSION_ZSTD = 4,
};

/* Number of codecs; values at or above it (5-7 in the 3-bit field) are invalid. */
#define SB_COMPRESSION_COUNT 5

/* Largest input to sb_compress() and largest output of sb_decompress(): results are int,
 * and LZ4 blocks stop near 2 GiB. Record batches are far smaller. */
#define SB_COMPRESS_BYTES_MAX (1u << 30)

/* Compresses src_bytes of src into dst (both borrowed for the call). Returns the compressed
 * size; -ENOSPC when the result does not fit in dst_capacity; -EINVAL for an invalid codec
 * or src_bytes > SB_COMPRESS_BYTES_MAX; -ENOMEM if the library cannot get memory. Snappy
 * can only write into dst_capacity >= sb_compress_bound(), and returns -ENOSPC otherwise;
 * the other codecs try any capacity. SB_COMPRESSION_NONE copies. */
int sb_compress(enum sb_compression codec, const void *src, size_t src_bytes, void *dst,
                size_t dst_capacity);

/* Decompresses src_bytes of src into dst (both borrowed for the call), writing at most
 * dst_capacity bytes. Returns the decompressed size; SB_ECORRUPT for input that is not
 * one valid stream of the codec (including trailing bytes); -E2BIG when the output would
 * exceed dst_capacity (or SB_COMPRESS_BYTES_MAX); -EINVAL for an invalid codec; -ENOMEM if
 * the library cannot get memory. LZ4 blocks do not record their size, so for lz4 -E2BIG
 * means "valid up to dst_capacity, then failed": the rest of the input may be corrupt. */
int sb_decompress(enum sb_compression codec, const void *src, size_t src_bytes, void *dst,
                  size_t dst_capacity);

/* Largest compressed size of src_bytes (<= SB_COMPRESS_BYTES_MAX) under codec: a dst of
 * this size never fails with -ENOSPC. Returns 0 for an invalid codec or oversized input. */
size_t sb_compress_bound(enum sb_compression codec, size_t src_bytes);

/* Parses "none", "gzip", "snappy", "lz4" or "zstd" (lower case) into *out. Returns 0, or
 * -EINVAL for any other name (then *out is unchanged). */
int sb_compression_parse(const char *name, enum sb_compression *out);

/* Returns the name parse accepts for codec, or "invalid"; never NULL, static storage. */
const char *sb_compression_name(enum sb_compression codec);

/* True for the five defined codecs. */
static inline bool
sb_compression_is_valid(unsigned codec)
{
    return codec < SB_COMPRESSION_COUNT;
}

#endif /* SB_PROTO_COMPRESS_H */
