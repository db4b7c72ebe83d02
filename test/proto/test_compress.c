/*
 * test/proto/test_compress.c - the batch codecs: round trips of random,
 * compressible and empty inputs for every codec, the size errors (-ENOSPC,
 * -E2BIG) with guard bytes proving nothing is written past capacity, and
 * hostile input (garbage, truncation, trailing bytes, bit flips) answered with
 * errors rather than crashes. Run under ASan/UBSan to check memory safety.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <zstd.h>

#include "core/error.h"
#include "proto/compress.h"

#define INPUT_BYTES_MAX (256 * 1024)
#define GUARD_BYTES 64
#define GUARD 0xA5

static const enum sb_compression every_codec[] = {
    SB_COMPRESSION_NONE, SB_COMPRESSION_GZIP, SB_COMPRESSION_SNAPPY, SB_COMPRESSION_LZ4,
    SB_COMPRESSION_ZSTD,
};
static const enum sb_compression real_codecs[] = {
    SB_COMPRESSION_GZIP, SB_COMPRESSION_SNAPPY, SB_COMPRESSION_LZ4, SB_COMPRESSION_ZSTD,
};

static uint8_t input[INPUT_BYTES_MAX];
static uint8_t compressed[INPUT_BYTES_MAX * 2];
static uint8_t output[INPUT_BYTES_MAX + GUARD_BYTES];

/* xorshift64: deterministic bytes, so every failure replays. */
static uint64_t
next_random(uint64_t *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return *state;
}

static void
fill_random(uint8_t *bytes, size_t length, uint64_t seed)
{
    uint64_t state = seed | 1;
    for (size_t i = 0; i < length; i++) {
        bytes[i] = (uint8_t)(next_random(&state) >> 24);
    }
}

/* Text-like bytes: a few words repeated, so every codec shrinks them. */
static void
fill_compressible(uint8_t *bytes, size_t length)
{
    static const char words[] = "stream bus record batch offset partition leader ";
    for (size_t i = 0; i < length; i++) {
        bytes[i] = (uint8_t)words[(i * 7 / 5) % (sizeof(words) - 1)];
    }
}

/* Compresses input[0, length) with codec and checks it decompresses back exactly. */
static int
round_trip(enum sb_compression codec, size_t length)
{
    int packed = sb_compress(codec, input, length, compressed, sizeof(compressed));
    cr_assert_geq(packed, 0, "%s compress %zu: %d", sb_compression_name(codec), length, packed);
    cr_assert_leq((size_t)packed, sb_compress_bound(codec, length));
    memset(output, GUARD, sizeof(output));
    int unpacked = sb_decompress(codec, compressed, (size_t)packed, output, length);
    cr_assert_eq(unpacked, (int)length, "%s decompress %zu: %d", sb_compression_name(codec),
                 length, unpacked);
    cr_assert_eq(memcmp(input, output, length), 0, "%s bytes differ", sb_compression_name(codec));
    cr_assert_eq(output[length], GUARD);
    return packed;
}

/* True when the GUARD_BYTES of output after `from` are untouched. */
static bool
guard_intact(size_t from)
{
    for (size_t i = from; i < from + GUARD_BYTES; i++) {
        if (output[i] != GUARD) {
            return false;
        }
    }
    return true;
}

Test(compress, round_trip_random_every_codec)
{
    size_t lengths[] = {1, 2, 15, 16, 17, 1000, 4096, 65536, 200001};
    for (size_t c = 0; c < sizeof(every_codec) / sizeof(every_codec[0]); c++) {
        for (size_t i = 0; i < sizeof(lengths) / sizeof(lengths[0]); i++) {
            fill_random(input, lengths[i], lengths[i] + c);
            round_trip(every_codec[c], lengths[i]);
        }
    }
}

Test(compress, round_trip_compressible_every_codec_shrinks)
{
    fill_compressible(input, INPUT_BYTES_MAX);
    for (size_t c = 0; c < sizeof(real_codecs) / sizeof(real_codecs[0]); c++) {
        int packed = round_trip(real_codecs[c], INPUT_BYTES_MAX);
        cr_assert_lt(packed, INPUT_BYTES_MAX / 4, "%s: %d", sb_compression_name(real_codecs[c]),
                     packed);
    }
}

Test(compress, round_trip_empty_input_every_codec)
{
    for (size_t c = 0; c < sizeof(every_codec) / sizeof(every_codec[0]); c++) {
        round_trip(every_codec[c], 0);
    }
}

Test(compress, bound_capacity_always_suffices)
{
    size_t lengths[] = {0, 1, 100, 5000, 100000};
    for (size_t c = 0; c < sizeof(every_codec) / sizeof(every_codec[0]); c++) {
        for (size_t i = 0; i < sizeof(lengths) / sizeof(lengths[0]); i++) {
            fill_random(input, lengths[i], 3);
            size_t bound = sb_compress_bound(every_codec[c], lengths[i]);
            cr_assert_leq(bound, sizeof(compressed));
            cr_assert_geq(sb_compress(every_codec[c], input, lengths[i], compressed, bound), 0,
                          "%s at bound %zu", sb_compression_name(every_codec[c]), bound);
        }
    }
}

Test(compress, small_destination_is_enospc)
{
    fill_random(input, 1000, 11);
    for (size_t c = 0; c < sizeof(every_codec) / sizeof(every_codec[0]); c++) {
        memset(output, GUARD, sizeof(output));
        cr_assert_eq(sb_compress(every_codec[c], input, 1000, output, 16), -ENOSPC, "%s",
                     sb_compression_name(every_codec[c]));
        cr_assert(guard_intact(16), "%s wrote past capacity", sb_compression_name(every_codec[c]));
    }
}

Test(compress, snappy_needs_the_bound)
{
    fill_compressible(input, 1000);
    size_t bound = sb_compress_bound(SB_COMPRESSION_SNAPPY, 1000);
    cr_assert_eq(sb_compress(SB_COMPRESSION_SNAPPY, input, 1000, compressed, bound - 1), -ENOSPC);
    cr_assert_gt(sb_compress(SB_COMPRESSION_SNAPPY, input, 1000, compressed, bound), 0);
}

Test(compress, output_beyond_capacity_is_e2big_every_codec)
{
    fill_compressible(input, 10000);
    for (size_t c = 0; c < sizeof(every_codec) / sizeof(every_codec[0]); c++) {
        enum sb_compression codec = every_codec[c];
        int packed = sb_compress(codec, input, 10000, compressed, sizeof(compressed));
        cr_assert_gt(packed, 0);
        size_t capacities[] = {0, 1, 5000, 9999};
        for (size_t i = 0; i < sizeof(capacities) / sizeof(capacities[0]); i++) {
            memset(output, GUARD, sizeof(output));
            int result = sb_decompress(codec, compressed, (size_t)packed, output, capacities[i]);
            if (codec == SB_COMPRESSION_LZ4 && capacities[i] == 0) {
                cr_assert_eq(result, SB_ECORRUPT, "lz4 cannot tell without output space");
            } else {
                cr_assert_eq(result, -E2BIG, "%s capacity %zu: %d", sb_compression_name(codec),
                             capacities[i], result);
            }
            cr_assert(guard_intact(capacities[i]), "%s wrote past capacity",
                      sb_compression_name(codec));
        }
        cr_assert_eq(sb_decompress(codec, compressed, (size_t)packed, output, 10000), 10000);
    }
}

Test(compress, gzip_output_exactly_full_then_trailer_succeeds)
{
    /* The probe path: output fills exactly while the gzip trailer is still unread. */
    fill_random(input, 3000, 21);
    int packed = sb_compress(SB_COMPRESSION_GZIP, input, 3000, compressed, sizeof(compressed));
    cr_assert_gt(packed, 0);
    cr_assert_eq(sb_decompress(SB_COMPRESSION_GZIP, compressed, (size_t)packed, output, 3000),
                 3000);
    cr_assert_eq(sb_decompress(SB_COMPRESSION_GZIP, compressed, (size_t)packed - 4, output, 3000),
                 SB_ECORRUPT, "trailer cut short");
}

Test(compress, zstd_frame_without_content_size_is_bounded_by_capacity)
{
    fill_compressible(input, 50000);
    ZSTD_CCtx *context = ZSTD_createCCtx();
    cr_assert_not_null(context);
    cr_assert_eq(ZSTD_CCtx_setParameter(context, ZSTD_c_contentSizeFlag, 0), 0);
    size_t packed = ZSTD_compress2(context, compressed, sizeof(compressed), input, 50000);
    ZSTD_freeCCtx(context);
    cr_assert_not(ZSTD_isError(packed));
    cr_assert_eq(ZSTD_getFrameContentSize(compressed, packed), ZSTD_CONTENTSIZE_UNKNOWN);
    memset(output, GUARD, sizeof(output));
    cr_assert_eq(sb_decompress(SB_COMPRESSION_ZSTD, compressed, packed, output, 1000), -E2BIG);
    cr_assert(guard_intact(1000));
    cr_assert_eq(sb_decompress(SB_COMPRESSION_ZSTD, compressed, packed, output, 50000), 50000);
    cr_assert_eq(memcmp(input, output, 50000), 0);
}

Test(compress, known_garbage_is_corrupt_every_codec)
{
    static const uint8_t text[] = "this is certainly not a compressed stream of any kind!";
    static const uint8_t snappy_overlong_length[] = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
    static const uint8_t lz4_offset_zero[] = {0x10, 'a', 0x00, 0x00, 0x00};
    for (size_t c = 0; c < sizeof(real_codecs) / sizeof(real_codecs[0]); c++) {
        cr_assert_eq(sb_decompress(real_codecs[c], text, sizeof(text), output, 4096),
                     SB_ECORRUPT, "%s", sb_compression_name(real_codecs[c]));
        cr_assert_eq(sb_decompress(real_codecs[c], text, 0, output, 4096), SB_ECORRUPT,
                     "%s empty input", sb_compression_name(real_codecs[c]));
    }
    cr_assert_eq(sb_decompress(SB_COMPRESSION_SNAPPY, snappy_overlong_length,
                               sizeof(snappy_overlong_length), output, 4096),
                 SB_ECORRUPT);
    cr_assert_eq(sb_decompress(SB_COMPRESSION_LZ4, lz4_offset_zero, sizeof(lz4_offset_zero),
                               output, 4096),
                 SB_ECORRUPT);
}

Test(compress, truncated_streams_are_errors)
{
    fill_compressible(input, 20000);
    for (size_t c = 0; c < sizeof(real_codecs) / sizeof(real_codecs[0]); c++) {
        enum sb_compression codec = real_codecs[c];
        int packed = sb_compress(codec, input, 20000, compressed, sizeof(compressed));
        cr_assert_gt(packed, 8);
        for (int cut = 1; cut < packed; cut += (cut < 16 ? 1 : 37)) {
            int result = sb_decompress(codec, compressed, (size_t)(packed - cut), output, 20000);
            cr_assert_eq(result, SB_ECORRUPT, "%s cut %d: %d", sb_compression_name(codec), cut,
                         result);
        }
    }
}

Test(compress, trailing_bytes_are_errors)
{
    fill_compressible(input, 5000);
    for (size_t c = 0; c < sizeof(real_codecs) / sizeof(real_codecs[0]); c++) {
        enum sb_compression codec = real_codecs[c];
        int packed = sb_compress(codec, input, 5000, compressed, sizeof(compressed));
        cr_assert_gt(packed, 0);
        memcpy(compressed + packed, "junk", 4);
        int result = sb_decompress(codec, compressed, (size_t)packed + 4, output, 20000);
        cr_assert_lt(result, 0, "%s accepted trailing bytes", sb_compression_name(codec));
    }
}

Test(compress, random_garbage_never_overruns)
{
    uint64_t state = 1234;
    for (int round = 0; round < 2000; round++) {
        size_t length = next_random(&state) % 300;
        fill_random(compressed, length, next_random(&state));
        size_t capacity = next_random(&state) % 2000;
        for (size_t c = 0; c < sizeof(real_codecs) / sizeof(real_codecs[0]); c++) {
            memset(output, GUARD, capacity + GUARD_BYTES);
            int result = sb_decompress(real_codecs[c], compressed, length, output, capacity);
            cr_assert(result < 0 || (size_t)result <= capacity);
            cr_assert(result >= 0 || result == SB_ECORRUPT || result == -E2BIG, "%d", result);
            cr_assert(guard_intact(capacity), "%s wrote past capacity",
                      sb_compression_name(real_codecs[c]));
        }
    }
}

Test(compress, bit_flips_never_overrun)
{
    fill_compressible(input, 8000);
    fill_random(input + 4000, 500, 77);
    uint64_t state = 99;
    for (size_t c = 0; c < sizeof(real_codecs) / sizeof(real_codecs[0]); c++) {
        enum sb_compression codec = real_codecs[c];
        int packed = sb_compress(codec, input, 8000, compressed, sizeof(compressed));
        cr_assert_gt(packed, 0);
        for (int round = 0; round < 500; round++) {
            size_t bit = next_random(&state) % ((size_t)packed * 8);
            compressed[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            memset(output, GUARD, 8000 + GUARD_BYTES);
            int result = sb_decompress(codec, compressed, (size_t)packed, output, 8000);
            cr_assert(result < 0 || result <= 8000);
            cr_assert(guard_intact(8000), "%s wrote past capacity", sb_compression_name(codec));
            compressed[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        }
    }
}

Test(compress, invalid_codec_is_einval)
{
    for (unsigned codec = SB_COMPRESSION_COUNT; codec < 8; codec++) {
        cr_assert_eq(sb_compress((enum sb_compression)codec, input, 10, compressed, 100), -EINVAL);
        cr_assert_eq(sb_decompress((enum sb_compression)codec, input, 10, output, 100), -EINVAL);
        cr_assert_eq(sb_compress_bound((enum sb_compression)codec, 10), 0);
        cr_assert_str_eq(sb_compression_name((enum sb_compression)codec), "invalid");
    }
}

Test(compress, oversized_input_is_einval)
{
    size_t too_big = (size_t)SB_COMPRESS_BYTES_MAX + 1;
    for (size_t c = 0; c < sizeof(every_codec) / sizeof(every_codec[0]); c++) {
        cr_assert_eq(sb_compress(every_codec[c], input, too_big, compressed, 100), -EINVAL);
        cr_assert_eq(sb_compress_bound(every_codec[c], too_big), 0);
        cr_assert_eq(sb_decompress(every_codec[c], input, (size_t)INT32_MAX + 1, output, 100),
                     -EINVAL);
    }
}

Test(compress, none_copies_and_checks_sizes)
{
    fill_random(input, 100, 8);
    cr_assert_eq(sb_compress(SB_COMPRESSION_NONE, input, 100, compressed, 99), -ENOSPC);
    cr_assert_eq(sb_compress(SB_COMPRESSION_NONE, input, 100, compressed, 100), 100);
    cr_assert_eq(sb_decompress(SB_COMPRESSION_NONE, compressed, 100, output, 99), -E2BIG);
    cr_assert_eq(sb_decompress(SB_COMPRESSION_NONE, compressed, 100, output, 100), 100);
    cr_assert_eq(memcmp(input, output, 100), 0);
}

Test(compress, names_parse_back)
{
    for (size_t c = 0; c < sizeof(every_codec) / sizeof(every_codec[0]); c++) {
        enum sb_compression parsed = SB_COMPRESSION_NONE;
        cr_assert_eq(sb_compression_parse(sb_compression_name(every_codec[c]), &parsed), 0);
        cr_assert_eq(parsed, every_codec[c]);
    }
    enum sb_compression unchanged = SB_COMPRESSION_ZSTD;
    cr_assert_eq(sb_compression_parse("GZIP", &unchanged), -EINVAL);
    cr_assert_eq(sb_compression_parse("", &unchanged), -EINVAL);
    cr_assert_eq(sb_compression_parse("lz4hc", &unchanged), -EINVAL);
    cr_assert_eq(unchanged, SB_COMPRESSION_ZSTD);
    cr_assert_str_eq(sb_compression_name(SB_COMPRESSION_LZ4), "lz4");
}
