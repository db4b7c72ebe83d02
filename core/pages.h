/*
 * core/pages.h - big, long-lived buffers straight from the kernel (the WAL
 * ring, the block cache): page-aligned, zero, paid for only when touched, and
 * backed by transparent huge pages where the kernel allows (madvise), which
 * turns a page fault per 4 KiB into one per 2 MiB the first time the memory
 * is used. Thread-safe.
 */
#ifndef SB_CORE_PAGES_H
#define SB_CORE_PAGES_H

#include <stddef.h>

/* Maps `size` bytes (rounded up to 2 MiB), 2 MiB-aligned. Returns NULL on failure. */
void *sb_pages_map(size_t size);
/* Unmaps memory from sb_pages_map with the same `size`; NULL is ignored. */
void sb_pages_unmap(void *pages, size_t size);

#endif /* SB_CORE_PAGES_H */
