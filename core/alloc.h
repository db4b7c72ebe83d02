/*
 * core/alloc.h - the general-purpose heap (meson option `allocator`:
 * mimalloc, jemalloc or libc). Used at start-up to carve arenas and pools and
 * on cold paths; the hot path allocates from pools and arenas instead.
 * Thread-safe. Memory may be freed from any thread, but the runtime's rule is
 * that it returns to the shard that allocated it (see ring.h).
 */
#ifndef SB_CORE_ALLOC_H
#define SB_CORE_ALLOC_H

#include <stddef.h>

/* Returns zeroed memory of `size` bytes aligned to `alignment` (a power of two), or NULL. */
void *sb_alloc_aligned(size_t size, size_t alignment);
/* Like sb_alloc_aligned but not zeroed: big buffers whose pages should only be touched (and
 * paid for) when used. */
void *sb_alloc_aligned_raw(size_t size, size_t alignment);
/* Returns zeroed memory of `size` bytes, or NULL. */
void *sb_alloc(size_t size);
/* Frees memory from sb_alloc or sb_alloc_aligned; NULL is ignored. */
void sb_free(void *pointer);
/* How a reusable I/O buffer grows: returns an unzeroed buffer of `size` bytes aligned to
 * `alignment` and frees `old` (its contents are not kept), or NULL with `old` untouched. */
static inline void *
sb_alloc_aligned_replace(void *old, size_t size, size_t alignment)
{
    void *bigger = sb_alloc_aligned_raw(size, alignment);
    if (bigger != NULL) {
        sb_free(old);
    }
    return bigger;
}
/* Name of the allocator compiled in, for logs. */
const char *sb_alloc_name(void);

#endif /* SB_CORE_ALLOC_H */
