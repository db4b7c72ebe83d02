/*
 * core/alloc_mimalloc.c - sb_alloc over mimalloc's mi_ API (meson
 * -Dallocator=mimalloc, the default). Sibling of alloc_libc.c; meson compiles
 * exactly one of them.
 */
#include "core/alloc.h"

#include <mimalloc.h>

#include "core/assert.h"
#include "core/pages.h"

/* mi_zalloc writes zeros over a large block, so all of it is resident at once, used or not
 * (an idle broker's tables are mostly unused): large zeroed blocks are taken raw and
 * page-aligned instead, and zeroed by handing their pages back (sb_pages_zero). */
static void *
alloc_zeroed_lazily(size_t size, size_t alignment)
{
    void *memory = mi_malloc_aligned(size, sb_max_u64(alignment, SB_PAGE_BYTES));
    if (memory != NULL) {
        sb_pages_zero(memory, size);
    }
    return memory;
}

void *
sb_alloc_aligned(size_t size, size_t alignment)
{
    SB_ASSERT(sb_is_power_of_two(alignment));
    SB_ASSERT(size > 0);
    if (size >= SB_PAGES_LAZY_ZERO_BYTES) {
        return alloc_zeroed_lazily(size, alignment);
    }
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
    if (size >= SB_PAGES_LAZY_ZERO_BYTES) {
        return alloc_zeroed_lazily(size, SB_PAGE_BYTES);
    }
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
