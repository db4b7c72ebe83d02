/*
 * core/pages.c - huge-page-friendly mappings (pages.h). The mapping is made 2 MiB
 * larger than asked, then trimmed to a 2 MiB-aligned window, because
 * transparent huge pages only back aligned 2 MiB ranges.
 */
#include "core/pages.h"

#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "core/base.h"

#define PAGES_HUGE_BYTES (2u << 20)

void *
sb_pages_map(size_t size)
{
    size_t rounded = sb_align_up(size, PAGES_HUGE_BYTES);
    size_t mapped = rounded + PAGES_HUGE_BYTES;
    uint8_t *region = mmap(NULL, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                           -1, 0);
    if (region == MAP_FAILED) {
        return NULL;
    }
    uint8_t *aligned = (uint8_t *)sb_align_up((uintptr_t)region, PAGES_HUGE_BYTES);
    if (aligned > region) {
        munmap(region, (size_t)(aligned - region));
    }
    size_t tail = (size_t)((region + mapped) - (aligned + rounded));
    if (tail > 0) {
        munmap(aligned + rounded, tail);
    }
    /* Advice only: without huge pages the mapping still works with 4 KiB pages. */
    madvise(aligned, rounded, MADV_HUGEPAGE);
    return aligned;
}

void
sb_pages_unmap(void *pages, size_t size)
{
    if (pages != NULL) {
        munmap(pages, sb_align_up(size, PAGES_HUGE_BYTES));
    }
}

void
sb_pages_zero(void *memory, size_t size)
{
    uint8_t *bytes = memory;
    size_t whole_pages = size & ~(size_t)(SB_PAGE_BYTES - 1);
    if (whole_pages > 0 && madvise(bytes, whole_pages, MADV_DONTNEED) != 0) {
        memset(bytes, 0, whole_pages);
    }
    memset(bytes + whole_pages, 0, size - whole_pages);
}
