/*
 * core/alloc_libc.c - sb_alloc over the C library's malloc family. With
 * -Dallocator=jemalloc, Debian's unprefixed jemalloc is linked and replaces
 * malloc, so this file serves both libc and jemalloc (SB_ALLOCATOR_NAME says
 * which). Sibling of alloc_mimalloc.c.
 */
#include "core/alloc.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "core/pages.h"

void *
sb_alloc_aligned(size_t size, size_t alignment)
{
    SB_ASSERT(sb_is_power_of_two(alignment));
    SB_ASSERT(size > 0);
    /* Large blocks are zeroed by handing their pages back: resident only once written. */
    bool lazily = size >= SB_PAGES_LAZY_ZERO_BYTES;
    void *pointer = sb_alloc_aligned_raw(size, lazily ? sb_max_u64(alignment, SB_PAGE_BYTES)
                                                      : alignment);
    if (pointer != NULL && lazily) {
        sb_pages_zero(pointer, size);
    } else if (pointer != NULL) {
        memset(pointer, 0, size);
    }
    return pointer;
}

void *
sb_alloc_aligned_raw(size_t size, size_t alignment)
{
    SB_ASSERT(sb_is_power_of_two(alignment));
    SB_ASSERT(size > 0);
    void *pointer = NULL;
    size_t alignment_used = alignment < sizeof(void *) ? sizeof(void *) : alignment;
    return posix_memalign(&pointer, alignment_used, size) == 0 ? pointer : NULL;
}

void *
sb_alloc(size_t size)
{
    SB_ASSERT(size > 0);
    return calloc(1, size);
}

void
sb_free(void *pointer)
{
    free(pointer);
}

const char *
sb_alloc_name(void)
{
    return SB_ALLOCATOR_NAME;
}
