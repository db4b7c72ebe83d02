/*
 * core/crc32c.c - CRC32C over byte buffers (see crc32c.h).
 *
 * Two paths compute the same function on the raw CRC register (the public
 * functions add the standard pre- and post-inversion):
 *
 * - software: slicing-by-8 tables, eight bytes per step;
 * - hardware: the SSE4.2 crc32 instruction, compiled for that target only in
 *   crc32c_hardware_raw() and picked at load time with __builtin_cpu_supports,
 *   so the rest of the program needs no -msse4.2.
 *
 * The crc32 instruction has a latency of three cycles but a throughput of
 * one, so the hardware path runs three independent streams over three
 * adjacent blocks of a large buffer and then joins them. Joining uses the
 * linearity of the CRC register: the register after A||B equals
 * shift(register after A, |B|) ^ (register after B started from 0), where
 * shift(x, n) is the register after n zero bytes starting from x. shift is
 * linear in x, so for each of the two block sizes it is a table of 4 x 256
 * entries built at load time (crc32c_shift_table_init).
 *
 * sb_crc32c_combine() uses the same linearity for any length: shift(x, n) is x times
 * x^(8n) modulo the polynomial (in the reflected order, where the register's top bit is
 * x^0 and one zero bit multiplies by x), and the finalized CRC of A||B is
 * shift(crc(A), |B|) ^ crc(B) (the inversions cancel). x^(8n) is the product of the
 * powers x^(8 * 2^k) for the bits k of n (crc32c_power, built at load time).
 *
 * Start reading at sb_crc32c(). Every table is written once by the load-time
 * constructor crc32c_init() and only read afterwards.
 */
#include "core/crc32c.h"

#include <assert.h>
#include <string.h>

#include "core/assert.h"
#include "core/base.h"

/* Reflected Castagnoli polynomial. */
#define CRC32C_POLYNOMIAL 0x82F63B78u

/* Bytes per stream in one three-stream step; large steps for big buffers, short ones for
 * the remainder. Both are multiples of 8 (the instruction's word). */
#define CRC32C_LONG_BYTES 8192
#define CRC32C_SHORT_BYTES 256

static_assert(CRC32C_LONG_BYTES % 8 == 0, "long streams are whole words");
static_assert(CRC32C_SHORT_BYTES % 8 == 0, "short streams are whole words");

/* crc32c_table[k][b]: register after byte b followed by k zero bytes, from register 0. */
static uint32_t crc32c_table[8][256];
/* A shift operator: the register after a fixed count of zero bytes, as a function of the
 * register before, split by input byte. */
struct crc32c_shift_table {
    uint32_t image[4][256]; /* [k][b]: image of the register value b << 8k. */
};

/* Shift operators for CRC32C_LONG_BYTES and CRC32C_SHORT_BYTES zero bytes. */
static struct crc32c_shift_table crc32c_long_shift;
static struct crc32c_shift_table crc32c_short_shift;
/* crc32c_power[k] = x^(8 * 2^k) modulo the polynomial, reflected (sb_crc32c_combine). */
static uint32_t crc32c_power[64];
/* Set once the tables are built; then true forever. */
static bool crc32c_ready;
/* True when the CPU has SSE4.2 and sb_crc32c() uses it. */
static bool crc32c_hardware;

static void crc32c_init(void) __attribute__((constructor));
static uint32_t crc32c_software_raw(uint32_t state, const uint8_t *bytes, size_t length);
static uint32_t crc32c_hardware_raw(uint32_t state, const uint8_t *bytes, size_t length);
static bool crc32c_cpu_has_sse42(void);

uint32_t
sb_crc32c(uint32_t crc, const void *data, size_t length)
{
    if (SB_UNLIKELY(!crc32c_ready)) {
        crc32c_init();
    }
    if (SB_LIKELY(crc32c_hardware)) {
        return ~crc32c_hardware_raw(~crc, data, length);
    }
    return ~crc32c_software_raw(~crc, data, length);
}

uint32_t
sb_crc32c_software(uint32_t crc, const void *data, size_t length)
{
    if (SB_UNLIKELY(!crc32c_ready)) {
        crc32c_init();
    }
    return ~crc32c_software_raw(~crc, data, length);
}

bool
sb_crc32c_hardware_enabled(void)
{
    if (SB_UNLIKELY(!crc32c_ready)) {
        crc32c_init();
    }
    return crc32c_hardware;
}

/* a * b modulo the polynomial, both reflected (top bit x^0). Bounded: 32 steps. */
static uint32_t
crc32c_multiply(uint32_t a, uint32_t b)
{
    uint32_t product = 0;
    for (uint32_t bit = 0; bit < 32; bit++) {
        if (a & (0x80000000u >> bit)) {
            product ^= b;
        }
        b = (b >> 1) ^ ((b & 1) ? CRC32C_POLYNOMIAL : 0); /* b * x */
    }
    return product;
}

uint32_t
sb_crc32c_combine(uint32_t crc_first, uint32_t crc_second, uint64_t second_length)
{
    if (SB_UNLIKELY(!crc32c_ready)) {
        crc32c_init();
    }
    uint32_t power = 0x80000000u; /* x^0 */
    /* Bounded by the 64 bits of the length. */
    for (uint32_t k = 0; second_length != 0; k++, second_length >>= 1) {
        if (second_length & 1) {
            power = crc32c_multiply(power, crc32c_power[k]);
        }
    }
    return crc32c_multiply(crc_first, power) ^ crc_second;
}

/* Advances the register over one byte. */
static inline uint32_t
crc32c_byte(uint32_t state, uint8_t byte)
{
    return crc32c_table[0][(state ^ byte) & 0xFF] ^ (state >> 8);
}

static inline uint64_t
crc32c_load_u64_le(const uint8_t *bytes)
{
    uint64_t word = 0;
    for (int i = 7; i >= 0; i--) {
        word = (word << 8) | bytes[i];
    }
    return word;
}

static uint32_t
crc32c_software_raw(uint32_t state, const uint8_t *bytes, size_t length)
{
    while (length >= 8) {
        uint64_t word = crc32c_load_u64_le(bytes) ^ state;
        state = crc32c_table[7][word & 0xFF] ^ crc32c_table[6][(word >> 8) & 0xFF] ^
                crc32c_table[5][(word >> 16) & 0xFF] ^ crc32c_table[4][(word >> 24) & 0xFF] ^
                crc32c_table[3][(word >> 32) & 0xFF] ^ crc32c_table[2][(word >> 40) & 0xFF] ^
                crc32c_table[1][(word >> 48) & 0xFF] ^ crc32c_table[0][word >> 56];
        bytes += 8;
        length -= 8;
    }
    while (length > 0) {
        state = crc32c_byte(state, *bytes);
        bytes++;
        length--;
    }
    return state;
}

/* Applies a shift operator (see the file comment) to a register value. */
static inline uint32_t
crc32c_shift(const struct crc32c_shift_table *shift, uint32_t state)
{
    return shift->image[0][state & 0xFF] ^ shift->image[1][(state >> 8) & 0xFF] ^
           shift->image[2][(state >> 16) & 0xFF] ^ shift->image[3][state >> 24];
}

/* Builds the operator "append zero_bytes zero bytes" from its action on each register bit. */
static void
crc32c_shift_table_init(struct crc32c_shift_table *shift, size_t zero_bytes)
{
    uint32_t bit_image[32];
    for (int bit = 0; bit < 32; bit++) {
        uint32_t state = 1u << bit;
        for (size_t i = 0; i < zero_bytes; i++) {
            state = crc32c_byte(state, 0);
        }
        bit_image[bit] = state;
    }
    for (int k = 0; k < 4; k++) {
        for (uint32_t byte = 0; byte < 256; byte++) {
            uint32_t image = 0;
            for (int bit = 0; bit < 8; bit++) {
                if ((byte >> bit) & 1) {
                    image ^= bit_image[8 * k + bit];
                }
            }
            shift->image[k][byte] = image;
        }
    }
}

static void
crc32c_init(void)
{
    for (uint32_t byte = 0; byte < 256; byte++) {
        uint32_t state = byte;
        for (int bit = 0; bit < 8; bit++) {
            state = (state >> 1) ^ ((state & 1) ? CRC32C_POLYNOMIAL : 0);
        }
        crc32c_table[0][byte] = state;
    }
    for (int k = 1; k < 8; k++) {
        for (uint32_t byte = 0; byte < 256; byte++) {
            uint32_t previous = crc32c_table[k - 1][byte];
            crc32c_table[k][byte] = crc32c_byte(previous, 0);
        }
    }
    crc32c_shift_table_init(&crc32c_long_shift, CRC32C_LONG_BYTES);
    crc32c_shift_table_init(&crc32c_short_shift, CRC32C_SHORT_BYTES);
    uint32_t power = 0x80000000u;
    for (int bit = 0; bit < 8; bit++) {
        power = (power >> 1) ^ ((power & 1) ? CRC32C_POLYNOMIAL : 0); /* x^8 */
    }
    for (uint32_t k = 0; k < 64; k++) {
        crc32c_power[k] = power;
        power = crc32c_multiply(power, power);
    }
    /* Self-check of the tables against the standard check value. */
    SB_ASSERT(~crc32c_software_raw(~0u, (const uint8_t *)"123456789", 9) == 0xE3069283u);
    crc32c_hardware = crc32c_cpu_has_sse42();
    crc32c_ready = true;
    if (crc32c_hardware) {
        SB_ASSERT(~crc32c_hardware_raw(~0u, (const uint8_t *)"123456789", 9) == 0xE3069283u);
    }
}

#if defined(__x86_64__)

#include <nmmintrin.h>

#define CRC32C_TARGET_SSE42 __attribute__((target("sse4.2")))

static bool
crc32c_cpu_has_sse42(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("sse4.2");
}

/* x86 is little-endian and allows unaligned loads; memcpy compiles to one mov. */
static inline uint64_t
crc32c_load_u64(const uint8_t *bytes)
{
    uint64_t word;
    memcpy(&word, bytes, sizeof(word));
    return word;
}

/* Runs three streams over three adjacent blocks of stream_bytes each and joins them. */
CRC32C_TARGET_SSE42 static inline uint64_t
crc32c_hardware_triple(uint64_t crc, const uint8_t *bytes, size_t stream_bytes,
                       const struct crc32c_shift_table *shift)
{
    uint64_t crc1 = 0;
    uint64_t crc2 = 0;
    const uint8_t *end = bytes + stream_bytes;
    while (bytes < end) {
        crc = _mm_crc32_u64(crc, crc32c_load_u64(bytes));
        crc1 = _mm_crc32_u64(crc1, crc32c_load_u64(bytes + stream_bytes));
        crc2 = _mm_crc32_u64(crc2, crc32c_load_u64(bytes + 2 * stream_bytes));
        bytes += 8;
    }
    crc = crc32c_shift(shift, (uint32_t)crc) ^ crc1;
    return crc32c_shift(shift, (uint32_t)crc) ^ crc2;
}

CRC32C_TARGET_SSE42 static uint32_t
crc32c_hardware_raw(uint32_t state, const uint8_t *bytes, size_t length)
{
    uint64_t crc = state;
    while (length >= 3 * CRC32C_LONG_BYTES) {
        crc = crc32c_hardware_triple(crc, bytes, CRC32C_LONG_BYTES, &crc32c_long_shift);
        bytes += 3 * CRC32C_LONG_BYTES;
        length -= 3 * CRC32C_LONG_BYTES;
    }
    while (length >= 3 * CRC32C_SHORT_BYTES) {
        crc = crc32c_hardware_triple(crc, bytes, CRC32C_SHORT_BYTES, &crc32c_short_shift);
        bytes += 3 * CRC32C_SHORT_BYTES;
        length -= 3 * CRC32C_SHORT_BYTES;
    }
    while (length >= 8) {
        crc = _mm_crc32_u64(crc, crc32c_load_u64(bytes));
        bytes += 8;
        length -= 8;
    }
    uint32_t crc_low = (uint32_t)crc;
    while (length > 0) {
        crc_low = _mm_crc32_u8(crc_low, *bytes);
        bytes++;
        length--;
    }
    return crc_low;
}

#else /* !__x86_64__: no hardware path; the software tables serve every call. */

static bool
crc32c_cpu_has_sse42(void)
{
    return false;
}

static uint32_t
crc32c_hardware_raw(uint32_t state, const uint8_t *bytes, size_t length)
{
    return crc32c_software_raw(state, bytes, length);
}

#endif /* __x86_64__ */
