/*
 * test/core/test_crc32c.c - CRC32C: published check values (RFC 3720
 * appendix B.4 and the CRC catalogue), incremental chaining, and the hardware
 * path equal to the software path over every length 0..4096 at every
 * alignment 0..15, plus lengths around the three-stream block boundaries.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "core/crc32c.h"

/* Deterministic test bytes (xorshift64), so failures replay exactly. */
static void
fill_random(uint8_t *bytes, size_t length, uint64_t seed)
{
    uint64_t state = seed | 1;
    for (size_t i = 0; i < length; i++) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        bytes[i] = (uint8_t)(state >> 24);
    }
}

static void
check_vectors(uint32_t (*crc)(uint32_t, const void *, size_t))
{
    uint8_t bytes[32];
    memset(bytes, 0, sizeof(bytes));
    cr_assert_eq(crc(0, bytes, 32), 0x8A9136AAu, "32 zero bytes");
    memset(bytes, 0xFF, sizeof(bytes));
    cr_assert_eq(crc(0, bytes, 32), 0x62A8AB43u, "32 0xFF bytes");
    for (int i = 0; i < 32; i++) {
        bytes[i] = (uint8_t)i;
    }
    cr_assert_eq(crc(0, bytes, 32), 0x46DD794Eu, "incrementing bytes");
    for (int i = 0; i < 32; i++) {
        bytes[i] = (uint8_t)(31 - i);
    }
    cr_assert_eq(crc(0, bytes, 32), 0x113FDB5Cu, "decrementing bytes");
    cr_assert_eq(crc(0, "123456789", 9), 0xE3069283u, "check value");
    cr_assert_eq(crc(0, "a", 1), 0xC1D04330u, "one byte");
    cr_assert_eq(crc(0, NULL, 0), 0u, "empty message");
}

Test(crc32c, known_vectors)
{
    check_vectors(sb_crc32c);
}

Test(crc32c, software_known_vectors)
{
    check_vectors(sb_crc32c_software);
}

Test(crc32c, empty_input_keeps_crc)
{
    cr_assert_eq(sb_crc32c(0xDEADBEEFu, NULL, 0), 0xDEADBEEFu);
    cr_assert_eq(sb_crc32c_software(0x12345678u, "x", 0), 0x12345678u);
}

Test(crc32c, chaining_equals_whole)
{
    static uint8_t bytes[70000];
    fill_random(bytes, sizeof(bytes), 7);
    uint32_t whole = sb_crc32c(0, bytes, sizeof(bytes));
    size_t splits[] = {0, 1, 7, 8, 9, 767, 768, 769, 24575, 24576, 24577, 50000, 70000};
    for (size_t i = 0; i < sizeof(splits) / sizeof(splits[0]); i++) {
        size_t split = splits[i];
        uint32_t first = sb_crc32c(0, bytes, split);
        cr_assert_eq(sb_crc32c(first, bytes + split, sizeof(bytes) - split), whole,
                     "split at %zu", split);
        first = sb_crc32c_software(0, bytes, split);
        cr_assert_eq(sb_crc32c_software(first, bytes + split, sizeof(bytes) - split), whole,
                     "software split at %zu", split);
    }
}

Test(crc32c, hardware_matches_software_every_length_and_alignment)
{
    static uint8_t bytes[4096 + 16];
    fill_random(bytes, sizeof(bytes), 42);
    cr_log_info("crc32c hardware path: %s", sb_crc32c_hardware_enabled() ? "sse4.2" : "none");
    for (size_t alignment = 0; alignment < 16; alignment++) {
        for (size_t length = 0; length <= 4096; length++) {
            uint32_t seed = (uint32_t)(length * 2654435761u);
            uint32_t hardware = sb_crc32c(seed, bytes + alignment, length);
            uint32_t software = sb_crc32c_software(seed, bytes + alignment, length);
            if (hardware != software) {
                cr_assert_fail("length %zu alignment %zu: %08x != %08x", length, alignment,
                               hardware, software);
            }
        }
    }
}

Test(crc32c, hardware_matches_software_around_block_boundaries)
{
    static uint8_t bytes[4 * 3 * 8192 + 64];
    fill_random(bytes, sizeof(bytes), 99);
    size_t bases[] = {3 * 256, 2 * 3 * 256, 3 * 8192, 2 * 3 * 8192, 4 * 3 * 8192};
    for (size_t i = 0; i < sizeof(bases) / sizeof(bases[0]); i++) {
        for (size_t delta = 0; delta < 34; delta++) {
            size_t length = bases[i] + delta - 17;
            uint32_t software = sb_crc32c_software(1, bytes + 3, length);
            cr_assert_eq(sb_crc32c(1, bytes + 3, length), software, "length %zu", length);
        }
    }
}

Test(crc32c, large_buffer_matches_software)
{
    static uint8_t bytes[(1u << 20) + 13];
    fill_random(bytes, sizeof(bytes), 5);
    cr_assert_eq(sb_crc32c(0, bytes, sizeof(bytes)), sb_crc32c_software(0, bytes, sizeof(bytes)));
}

/* combine(crc(A), crc(B), |B|) is crc(A||B) for every split of buffers up to 1 MiB, and
 * with an empty A or B. */
Test(crc32c, combine_equals_the_crc_of_the_concatenation)
{
    static uint8_t bytes[1 << 20];
    uint32_t state = 12345;
    for (size_t index = 0; index < sizeof(bytes); index++) {
        state = state * 1103515245u + 12345u;
        bytes[index] = (uint8_t)(state >> 16);
    }
    const size_t lengths[] = {0, 1, 7, 64, 65, 4096, 16384 + 64, 1 << 20};
    for (size_t index = 0; index < sizeof(lengths) / sizeof(lengths[0]); index++) {
        size_t total = lengths[index];
        uint32_t whole = sb_crc32c(0, bytes, total);
        const size_t splits[] = {0, 1, total / 3, total / 2, total > 64 ? 64 : total, total};
        for (size_t split_index = 0; split_index < 6; split_index++) {
            size_t split = splits[split_index] <= total ? splits[split_index] : total;
            uint32_t first = sb_crc32c(0, bytes, split);
            uint32_t second = sb_crc32c(0, bytes + split, total - split);
            cr_assert_eq(sb_crc32c_combine(first, second, total - split), whole,
                         "length %zu split %zu", total, split);
        }
    }
    cr_assert_eq(sb_crc32c_combine(0, 0, 0), 0u);
}
