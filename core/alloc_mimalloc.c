/*
 * core/alloc_mimalloc.c - sb_alloc over mimalloc's mi_ API (meson
 * -Dallocator=mimalloc, the default). Sibling of alloc_libc.c; meson compiles
 * exactly one of them.
 */
#include "core/alloc.h"

#include <mimalloc.h>

#include "core/assert.h"

void *
sb_alloc_aligned(size_t size, size_t alignment)
{
    SB_ASSERT(sb_is_power_of_two(alignment));
    SB_ASSERT(size > 0);
    return mi_zalloc_aligned(size, alignment);
}

void *
sb_alloc_aligned_raw(size_t size, size_t alignment)
{
    SB_ASSERT(sb_is_power_of_two(alignment));
    SB_ASSERT(size > 0);
    return mi_malloc_aligned(size, alignment);
}

void *
sb_alloc(size_t size)
{
    SB_ASSERT(size > 0);
    return mi_zalloc(size);
}

void
sb_free(void *pointer)
{
    mi_free(pointer);
}

const char *
sb_alloc_name(void)
{
    return "mimalloc";
}
