/*
 * proto/compress.c - the four batch codecs over Debian's libraries (see
 * compress.h for the stream format of each).
 *
 * sb_compress() and sb_decompress() check their sizes once, then dispatch to
 * one <codec>_compress / <codec>_decompress pair per codec. Invariants kept
 * by every decompressor: it writes only inside [dst, dst + dst_capacity), it
 * returns the exact decompressed size or an error, and any input it cannot
 * fully account for (bad structure, checksum, truncation, trailing bytes) is
 * SB_ECORRUPT. Library sizes are int or unsigned int, so every size passed to
 * a library is first bounded by SB_COMPRESS_BYTES_MAX or INT_MAX.
 */
#include "proto/compress.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>

#define ZLIB_CONST
#include <lz4.h>
#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "core/assert.h"
#include "core/base.h"
#include "core/error.h"

/* zlib windowBits: a 32 KiB window (15) with the gzip wrapper (+16). */
#define GZIP_WINDOW_BITS (15 + 16)
/* zlib memLevel: its default. */
#define GZIP_MEMORY_LEVEL 8
/* Bytes the gzip wrapper adds beyond the zlib wrapper that compressBound() counts,
 * rounded up: 10 header + 8 trailer, against 2 + 4. */
#define GZIP_WRAPPER_EXTRA_BYTES 18
/* zstd level: its default, a good speed/ratio balance for producers. */
#define ZSTD_LEVEL 3

static const char *const compression_names[SB_COMPRESSION_COUNT] = {
    [SB_COMPRESSION_NONE] = "none",     [SB_COMPRESSION_GZIP] = "gzip",
    [SB_COMPRESSION_SNAPPY] = "snappy", [SB_COMPRESSION_LZ4] = "lz4",
    [SB_COMPRESSION_ZSTD] = "zstd",
};

static int gzip_compress(const uint8_t *src, size_t src_bytes, uint8_t *dst, size_t capacity);
static int gzip_decompress(const uint8_t *src, size_t src_bytes, uint8_t *dst, size_t capacity);
static int snappy_compress_block(const uint8_t *src, size_t src_bytes, uint8_t *dst,
                                 size_t capacity);
static int snappy_decompress_block(const uint8_t *src, size_t src_bytes, uint8_t *dst,
                                   size_t capacity);
static int lz4_compress(const uint8_t *src, size_t src_bytes, uint8_t *dst, size_t capacity);
static int lz4_decompress(const uint8_t *src, size_t src_bytes, uint8_t *dst, size_t capacity);
static int zstd_compress(const uint8_t *src, size_t src_bytes, uint8_t *dst, size_t capacity);
static int zstd_decompress(const uint8_t *src, size_t src_bytes, uint8_t *dst, size_t capacity);

int
sb_compress(enum sb_compression codec, const void *src, size_t src_bytes, void *dst,
            size_t dst_capacity)
{
    if (src_bytes > SB_COMPRESS_BYTES_MAX) {
        return -EINVAL;
    }
    SB_ASSERT(src != NULL || src_bytes == 0);
    SB_ASSERT(dst != NULL || dst_capacity == 0);
    size_t capacity = sb_min_u64(dst_capacity, INT_MAX);
    switch (codec) {
    case SB_COMPRESSION_NONE:
        if (src_bytes > capacity) {
            return -ENOSPC;
        }
        if (src_bytes > 0) {
            memcpy(dst, src, src_bytes);
        }
        return (int)src_bytes;
    case SB_COMPRESSION_GZIP:
        return gzip_compress(src, src_bytes, dst, capacity);
    case SB_COMPRESSION_SNAPPY:
        return snappy_compress_block(src, src_bytes, dst, capacity);
    case SB_COMPRESSION_LZ4:
        return lz4_compress(src, src_bytes, dst, capacity);
    case SB_COMPRESSION_ZSTD:
        return zstd_compress(src, src_bytes, dst, capacity);
    default:
        return -EINVAL; /* Codecs 5-7, or any other value. */
    }
}

int
sb_decompress(enum sb_compression codec, const void *src, size_t src_bytes, void *dst,
              size_t dst_capacity)
{
    if (src_bytes > INT_MAX) {
        return -EINVAL;
    }
    SB_ASSERT(src != NULL || src_bytes == 0);
    SB_ASSERT(dst != NULL || dst_capacity == 0);
    size_t capacity = sb_min_u64(dst_capacity, SB_COMPRESS_BYTES_MAX);
    switch (codec) {
    case SB_COMPRESSION_NONE:
        if (src_bytes > capacity) {
            return -E2BIG;
        }
        if (src_bytes > 0) {
            memcpy(dst, src, src_bytes);
        }
        return (int)src_bytes;
    case SB_COMPRESSION_GZIP:
        return gzip_decompress(src, src_bytes, dst, capacity);
    case SB_COMPRESSION_SNAPPY:
        return snappy_decompress_block(src, src_bytes, dst, capacity);
    case SB_COMPRESSION_LZ4:
        return lz4_decompress(src, src_bytes, dst, capacity);
    case SB_COMPRESSION_ZSTD:
        return zstd_decompress(src, src_bytes, dst, capacity);
    default:
        return -EINVAL;
    }
}

size_t
sb_compress_bound(enum sb_compression codec, size_t src_bytes)
{
    if (src_bytes > SB_COMPRESS_BYTES_MAX) {
        return 0;
    }
    switch (codec) {
    case SB_COMPRESSION_NONE:
        return src_bytes;
    case SB_COMPRESSION_GZIP:
        return compressBound((uLong)src_bytes) + GZIP_WRAPPER_EXTRA_BYTES;
    case SB_COMPRESSION_SNAPPY:
        return snappy_max_compressed_length(src_bytes);
    case SB_COMPRESSION_LZ4:
        return (size_t)LZ4_compressBound((int)src_bytes);
    case SB_COMPRESSION_ZSTD:
        return ZSTD_compressBound(src_bytes);
    default:
        return 0;
    }
}

int
sb_compression_parse(const char *name, enum sb_compression *out)
{
    SB_ASSERT(name != NULL);
    for (unsigned codec = 0; codec < SB_COMPRESSION_COUNT; codec++) {
        if (strcmp(name, compression_names[codec]) == 0) {
            *out = (enum sb_compression)codec;
            return 0;
        }
    }
    return -EINVAL;
}

const char *
sb_compression_name(enum sb_compression codec)
{
    if (!sb_compression_is_valid((unsigned)codec)) {
        return "invalid";
    }
    return compression_names[codec];
}

/* Maps a zlib status other than Z_OK / Z_STREAM_END to our errors. */
static int
gzip_error(int status)
{
    SB_ASSERT(status != Z_STREAM_ERROR); /* Our stream setup is always consistent. */
    if (status == Z_MEM_ERROR) {
        return -ENOMEM;
    }
    return SB_ECORRUPT;
}

static int
gzip_compress(const uint8_t *src, size_t src_bytes, uint8_t *dst, size_t capacity)
{
    z_stream stream;
    memset(&stream, 0, sizeof(stream));
    int status = deflateInit2(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, GZIP_WINDOW_BITS,
                              GZIP_MEMORY_LEVEL, Z_DEFAULT_STRATEGY);
    if (status != Z_OK) {
        return gzip_error(status);
    }
    stream.next_in = src;
    stream.avail_in = (uInt)src_bytes;
    stream.next_out = dst;
    stream.avail_out = (uInt)capacity;
    status = deflate(&stream, Z_FINISH);
    size_t produced = stream.total_out;
    deflateEnd(&stream);
    SB_ASSERT(produced <= capacity);
    if (status != Z_STREAM_END) {
        SB_ASSERT(status == Z_OK || status == Z_BUF_ERROR);
        return -ENOSPC; /* Ran out of output space before the end of the stream. */
    }
    return (int)produced;
}

/*
 * Called when inflate filled dst without reaching the end of the stream: one
 * more byte of output space tells "more data follows" (returns true) from
 * "only the trailer was left" or "the input stops here" (returns false with
 * *status set to the outcome of the last inflate call).
 */
static bool
gzip_decompress_overflows(z_stream *stream, int *status)
{
    uint8_t probe;
    stream->next_out = &probe;
    stream->avail_out = 1;
    *status = inflate(stream, Z_FINISH);
    return stream->avail_out == 0;
}

static int
gzip_decompress(const uint8_t *src, size_t src_bytes, uint8_t *dst, size_t capacity)
{
    z_stream stream;
    memset(&stream, 0, sizeof(stream));
    int status = inflateInit2(&stream, GZIP_WINDOW_BITS);
    if (status != Z_OK) {
        return gzip_error(status);
    }
    stream.next_in = src;
    stream.avail_in = (uInt)src_bytes;
    stream.next_out = dst;
    stream.avail_out = (uInt)capacity;
    status = inflate(&stream, Z_FINISH);
    size_t produced = stream.total_out;
    bool overflows = false;
    if (status != Z_STREAM_END && stream.avail_out == 0) {
        overflows = gzip_decompress_overflows(&stream, &status);
    }
    size_t unread = stream.avail_in;
    inflateEnd(&stream);
    SB_ASSERT(produced <= capacity);
    if (overflows) {
        return -E2BIG;
    }
    if (status != Z_STREAM_END) {
        return gzip_error(status); /* Z_BUF_ERROR here means truncated input. */
    }
    if (unread != 0) {
        return SB_ECORRUPT; /* Bytes after the gzip member. */
    }
    return (int)produced;
}

static int
snappy_compress_block(const uint8_t *src, size_t src_bytes, uint8_t *dst, size_t capacity)
{
    if (capacity < snappy_max_compressed_length(src_bytes)) {
        return -ENOSPC; /* The library needs the worst case to be writable. */
    }
    size_t produced = capacity;
    snappy_status status = snappy_compress((const char *)src, src_bytes, (char *)dst,
                                           &produced);
    SB_ASSERT(status == SNAPPY_OK);
    SB_ASSERT(produced <= capacity);
    return (int)produced;
}

static int
snappy_decompress_block(const uint8_t *src, size_t src_bytes, uint8_t *dst, size_t capacity)
{
    size_t expected = 0;
    if (snappy_uncompressed_length((const char *)src, src_bytes, &expected) != SNAPPY_OK) {
        return SB_ECORRUPT;
    }
    if (expected > capacity) {
        return -E2BIG; /* Refused before writing anything. */
    }
    size_t produced = capacity;
    if (snappy_uncompress((const char *)src, src_bytes, (char *)dst, &produced) != SNAPPY_OK) {
        return SB_ECORRUPT;
    }
    SB_ASSERT(produced == expected);
    return (int)produced;
}

static int
lz4_compress(const uint8_t *src, size_t src_bytes, uint8_t *dst, size_t capacity)
{
    int produced = LZ4_compress_default((const char *)src, (char *)dst, (int)src_bytes,
                                        (int)capacity);
    if (produced <= 0) {
        return -ENOSPC;
    }
    SB_ASSERT((size_t)produced <= capacity);
    return produced;
}

static int
lz4_decompress(const uint8_t *src, size_t src_bytes, uint8_t *dst, size_t capacity)
{
    if (src_bytes == 0) {
        return SB_ECORRUPT; /* Even an empty block has a token byte. */
    }
    int produced = LZ4_decompress_safe((const char *)src, (char *)dst, (int)src_bytes,
                                       (int)capacity);
    if (produced >= 0) {
        SB_ASSERT((size_t)produced <= capacity);
        return produced;
    }
    if (capacity == 0) {
        return SB_ECORRUPT;
    }
    /* Tell "valid but longer than capacity" from garbage: decode only up to capacity. */
    int prefix = LZ4_decompress_safe_partial((const char *)src, (char *)dst, (int)src_bytes,
                                             (int)capacity, (int)capacity);
    if (prefix == (int)capacity) {
        return -E2BIG;
    }
    return SB_ECORRUPT;
}

/* Maps a zstd error result: out of memory, output too small (size_error), anything else
 * (other_error). */
static int
zstd_error(size_t result, int size_error, int other_error)
{
    SB_ASSERT(ZSTD_isError(result));
    ZSTD_ErrorCode code = ZSTD_getErrorCode(result);
    if (code == ZSTD_error_memory_allocation) {
        return -ENOMEM;
    }
    if (code == ZSTD_error_dstSize_tooSmall) {
        return size_error;
    }
    return other_error;
}

static int
zstd_compress(const uint8_t *src, size_t src_bytes, uint8_t *dst, size_t capacity)
{
    size_t produced = ZSTD_compress(dst, capacity, src, src_bytes, ZSTD_LEVEL);
    if (ZSTD_isError(produced)) {
        return zstd_error(produced, -ENOSPC, -EINVAL);
    }
    SB_ASSERT(produced <= capacity);
    return (int)produced;
}

static int
zstd_decompress(const uint8_t *src, size_t src_bytes, uint8_t *dst, size_t capacity)
{
    unsigned long long content_bytes = ZSTD_getFrameContentSize(src, src_bytes);
    if (content_bytes == ZSTD_CONTENTSIZE_ERROR) {
        return SB_ECORRUPT;
    }
    if (content_bytes != ZSTD_CONTENTSIZE_UNKNOWN && content_bytes > capacity) {
        return -E2BIG; /* Refused before writing anything. */
    }
    size_t produced = ZSTD_decompress(dst, capacity, src, src_bytes);
    if (ZSTD_isError(produced)) {
        return zstd_error(produced, -E2BIG, SB_ECORRUPT);
    }
    SB_ASSERT(produced <= capacity);
    return (int)produced;
}
