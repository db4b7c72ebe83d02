/*
 * core/base.h - the few language helpers every StreamBus file may use:
 * cache-line constants, branch hints, container_of, min/max and array size.
 * Nothing here allocates or does I/O.
 */
#ifndef SB_CORE_BASE_H
#define SB_CORE_BASE_H

#include <stddef.h>
#include <stdint.h>

/* One cache line; SPSC indices are padded to two lines against adjacent-line prefetch. */
#define SB_CACHELINE_BYTES 64
#define SB_FALSE_SHARING_BYTES 128

#define SB_LIKELY(x) __builtin_expect(!!(x), 1)
#define SB_UNLIKELY(x) __builtin_expect(!!(x), 0)

#define SB_ARRAY_COUNT(a) (sizeof(a) / sizeof((a)[0]))

#define SB_CONTAINER_OF(pointer, type, member) \
    ((type *)(void *)((char *)(pointer) - offsetof(type, member)))

#define SB_NORETURN __attribute__((noreturn))
#define SB_PRINTF(format_index, first_arg) \
    __attribute__((format(printf, format_index, first_arg)))
#define SB_MUST_USE __attribute__((warn_unused_result))

static inline uint64_t
sb_min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

static inline uint64_t
sb_max_u64(uint64_t a, uint64_t b)
{
    return a > b ? a : b;
}

/* Rounds up to a multiple of a power of two. */
static inline uint64_t
sb_align_up(uint64_t value, uint64_t power_of_two)
{
    return (value + power_of_two - 1) & ~(power_of_two - 1);
}

static inline int
sb_is_power_of_two(uint64_t value)
{
    return value != 0 && (value & (value - 1)) == 0;
}

#endif /* SB_CORE_BASE_H */
