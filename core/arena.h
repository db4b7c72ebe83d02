/*
 * core/arena.h - a bump allocator over one allocation made at start-up.
 *
 * A shard carves its long-lived structures (ring tables, pools, io buffers)
 * from its arena before it starts, and per-request scratch arenas are reset
 * when the request completes. Allocation never calls the heap: an exhausted
 * arena returns NULL, which callers treat as back-pressure or a start-up
 * configuration error. Not thread-safe: one owner.
 */
#ifndef SB_CORE_ARENA_H
#define SB_CORE_ARENA_H

#include <stddef.h>
#include <stdint.h>

struct sb_arena {
    uint8_t *base;   /* Start of the backing allocation (owned). */
    size_t capacity; /* Bytes in the backing allocation. */
    size_t used;     /* Bytes handed out since init or the last reset. */
};

/* Allocates `capacity` bytes of backing memory (page aligned). Returns 0 or -ENOMEM. */
int sb_arena_init(struct sb_arena *arena, size_t capacity);
/* Frees the backing memory; every pointer handed out becomes invalid. */
void sb_arena_deinit(struct sb_arena *arena);
/* Returns `size` zeroed bytes aligned to `alignment` (power of two), borrowed until reset or
 * deinit; NULL when the arena cannot fit them. */
void *sb_arena_alloc(struct sb_arena *arena, size_t size, size_t alignment);
/* Forgets every allocation at once; the memory is reused by later allocations. */
void sb_arena_reset(struct sb_arena *arena);

#endif /* SB_CORE_ARENA_H */
