/*
 * core/pool.h - a fixed pool of equal-sized objects, carved at start-up.
 *
 * Acquire and release are O(1) and never touch the heap. An empty pool
 * returns NULL: callers turn that into back-pressure (-ENOBUFS / SB_EFULL),
 * never a crash. Releasing a pointer the pool does not own, or releasing
 * twice, is a programmer error and fails an assertion. Not thread-safe: a
 * pool belongs to one shard, and objects travel home by ring to be released.
 */
#ifndef SB_CORE_POOL_H
#define SB_CORE_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sb_arena;

struct sb_pool {
    uint8_t *slots;         /* capacity * slot_bytes bytes of object memory (borrowed). */
    uint64_t *in_use_bits;  /* One bit per slot: set while acquired (borrowed). */
    uint32_t *free_stack;   /* Indices of free slots; the top is free_count - 1 (borrowed). */
    uint32_t slot_bytes;    /* Object size rounded up to the alignment. */
    uint32_t capacity;      /* Slots in the pool. */
    uint32_t free_count;    /* Slots currently free. */
    uint32_t acquired_peak; /* Most slots ever acquired at once (for metrics). */
};

/* Carves a pool of `capacity` objects of `object_bytes`, aligned to `alignment`, from `arena`.
 * Returns 0, or -ENOMEM if the arena is too small. */
int sb_pool_init(struct sb_pool *pool, struct sb_arena *arena, uint32_t object_bytes,
                 size_t alignment, uint32_t capacity);
/* Returns a zeroed object, borrowed until sb_pool_release; NULL when the pool is empty. */
void *sb_pool_acquire(struct sb_pool *pool);
/* Returns an object to the pool. */
void sb_pool_release(struct sb_pool *pool, void *object);
/* True if `object` points at a slot of this pool (acquired or not). */
bool sb_pool_owns(const struct sb_pool *pool, const void *object);

static inline uint32_t
sb_pool_available(const struct sb_pool *pool)
{
    return pool->free_count;
}

#endif /* SB_CORE_POOL_H */
