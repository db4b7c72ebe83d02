/*
 * core/pages.h - big, long-lived buffers straight from the kernel (the WAL
 * ring, the block cache): page-aligned, zero, paid for only when touched, and
 * backed by transparent huge pages where the kernel allows (madvise), which
 * turns a page fault per 4 KiB into one per 2 MiB the first time the memory
 * is used. sb_pages_zero gives the same "paid for when touched" to heap
 * blocks. Thread-safe.
 */
#ifndef SB_CORE_PAGES_H
#define SB_CORE_PAGES_H

#include <stddef.h>

/* Maps `size` bytes (rounded up to 2 MiB), 2 MiB-aligned. Returns NULL on failure. */
void *sb_pages_map(size_t size);
/* Unmaps memory from sb_pages_map with the same `size`; NULL is ignored. */
void sb_pages_unmap(void *pages, size_t size);

/* Page size sb_pages_zero works in. */
#define SB_PAGE_BYTES 4096u
/* Blocks of the general heap from this size on are zeroed with sb_pages_zero (alloc.h). */
#define SB_PAGES_LAZY_ZERO_BYTES (256u << 10)
/* Zeroes `size` bytes at `memory` (SB_PAGE_BYTES-aligned, private anonymous memory such as
 * a heap block) without touching them: whole pages are handed back to the kernel
 * (MADV_DONTNEED), read as zero and are paid for only when written again. */
void sb_pages_zero(void *memory, size_t size);

#endif /* SB_CORE_PAGES_H */
