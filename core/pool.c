/*
 * core/pool.c - fixed-size object pool (see pool.h).
 *
 * Free slots are a stack of indices, so the most recently released (cache-hot)
 * slot is reused first. A bitmap of acquired slots catches double releases.
 */
#include "core/pool.h"

#include <errno.h>
#include <string.h>

#include "core/arena.h"
#include "core/assert.h"

int
sb_pool_init(struct sb_pool *pool, struct sb_arena *arena, uint32_t object_bytes,
             size_t alignment, uint32_t capacity)
{
    SB_ASSERT(object_bytes > 0);
    SB_ASSERT(capacity > 0);
    memset(pool, 0, sizeof(*pool));
    pool->slot_bytes = (uint32_t)sb_align_up(object_bytes, alignment);
    pool->capacity = capacity;
    pool->slots = sb_arena_alloc(arena, (size_t)pool->slot_bytes * capacity, alignment);
    pool->in_use_bits = sb_arena_alloc(arena, ((capacity + 63) / 64) * sizeof(uint64_t), 8);
    pool->free_stack = sb_arena_alloc(arena, capacity * sizeof(uint32_t), 4);
    if (pool->slots == NULL || pool->in_use_bits == NULL || pool->free_stack == NULL) {
        return -ENOMEM;
    }
    for (uint32_t index = 0; index < capacity; index++) {
        pool->free_stack[index] = capacity - 1 - index;
    }
    pool->free_count = capacity;
    return 0;
}

void *
sb_pool_acquire(struct sb_pool *pool)
{
    if (pool->free_count == 0) {
        return NULL;
    }
    uint32_t index = pool->free_stack[--pool->free_count];
    SB_ASSERT(index < pool->capacity);
    SB_ASSERT((pool->in_use_bits[index / 64] & (1ull << (index % 64))) == 0);
    pool->in_use_bits[index / 64] |= 1ull << (index % 64);
    uint32_t acquired = pool->capacity - pool->free_count;
    if (acquired > pool->acquired_peak) {
        pool->acquired_peak = acquired;
    }
    uint8_t *object = pool->slots + (size_t)index * pool->slot_bytes;
    memset(object, 0, pool->slot_bytes);
    return object;
}

void
sb_pool_release(struct sb_pool *pool, void *object)
{
    SB_ASSERT(sb_pool_owns(pool, object));
    size_t distance = (size_t)((uint8_t *)object - pool->slots);
    SB_ASSERT(distance % pool->slot_bytes == 0);
    uint32_t index = (uint32_t)(distance / pool->slot_bytes);
    SB_ASSERT((pool->in_use_bits[index / 64] & (1ull << (index % 64))) != 0);
    pool->in_use_bits[index / 64] &= ~(1ull << (index % 64));
    SB_ASSERT(pool->free_count < pool->capacity);
    pool->free_stack[pool->free_count++] = index;
}

bool
sb_pool_owns(const struct sb_pool *pool, const void *object)
{
    const uint8_t *byte = object;
    return byte >= pool->slots && byte < pool->slots + (size_t)pool->slot_bytes * pool->capacity;
}
