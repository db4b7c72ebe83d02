/*
 * core/arena.c - bump allocation (see arena.h). Invariant: used <= capacity,
 * and every returned pointer lies inside [base, base + capacity).
 */
#include "core/arena.h"

#include <errno.h>
#include <string.h>

#include "core/alloc.h"
#include "core/assert.h"

#define ARENA_BACKING_ALIGNMENT 4096

int
sb_arena_init(struct sb_arena *arena, size_t capacity)
{
    SB_ASSERT(capacity > 0);
    /* Not zeroed here: sb_arena_alloc zeroes what it hands out, so pages never used are
     * never touched (and never resident). */
    arena->base = sb_alloc_aligned_raw(capacity, ARENA_BACKING_ALIGNMENT);
    if (arena->base == NULL) {
        return -ENOMEM;
    }
    arena->capacity = capacity;
    arena->used = 0;
    return 0;
}

void
sb_arena_deinit(struct sb_arena *arena)
{
    sb_free(arena->base);
    arena->base = NULL;
    arena->capacity = 0;
    arena->used = 0;
}

void *
sb_arena_alloc(struct sb_arena *arena, size_t size, size_t alignment)
{
    SB_ASSERT(sb_is_power_of_two(alignment));
    SB_ASSERT(alignment <= ARENA_BACKING_ALIGNMENT);
    SB_ASSERT(arena->used <= arena->capacity);
    size_t start = sb_align_up(arena->used, alignment);
    if (start > arena->capacity || size > arena->capacity - start) {
        return NULL;
    }
    arena->used = start + size;
    uint8_t *pointer = arena->base + start;
    memset(pointer, 0, size);
    return pointer;
}

void
sb_arena_reset(struct sb_arena *arena)
{
    SB_ASSERT(arena->used <= arena->capacity);
    arena->used = 0;
}
