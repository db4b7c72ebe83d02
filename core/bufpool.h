/*
 * core/bufpool.h - a shard's budget of variable-size buffers (request frames,
 * responses, fetch data), in whole 4 KiB pages of one region reserved at
 * start-up. The budget is counted in bytes: an acquire fails only when the
 * pages it needs would pass the budget or no run of them is free, and the
 * caller applies back-pressure (stops reading a connection) instead of
 * allocating. Inside the region a buddy allocator finds the pages: freed
 * blocks merge with their free buddies, so memory moves freely between
 * buffer sizes and a mix of small buffers never locks out a large one once
 * they are released. Not thread-safe: one shard; buffers go home to be
 * released.
 */
#ifndef SB_CORE_BUFPOOL_H
#define SB_CORE_BUFPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SB_BUFPOOL_PAGE_BYTES 4096u
/* Block orders: a block of order k is 2^k pages (order 19: 2 GiB). */
#define SB_BUFPOOL_ORDERS_MAX 20u

struct sb_bufpool_free;

struct sb_bufpool {
    uint8_t *region;                                   /* Reserved memory (owned). */
    uint64_t region_bytes;                             /* Its size: the budget rounded up to
                                                          whole blocks of the largest order. */
    uint64_t budget_bytes;                             /* Most bytes acquired at once. */
    uint8_t *orders;                                   /* Per page: order + 1 if a free block
                                                          starts there, else 0 (owned). */
    uint64_t in_use_bytes;                             /* Acquired and not released. */
    uint64_t in_use_peak_bytes;                        /* Most ever in use. */
    uint32_t order_count;                              /* Orders 0 .. order_count - 1. */
    struct sb_bufpool_free *free[SB_BUFPOOL_ORDERS_MAX]; /* Free blocks per order. */
};

/* Reserves `budget_bytes` (untouched pages cost nothing) for buffers up to `buffer_bytes_max`.
 * Returns 0, -EINVAL (budget below buffer_bytes_max, or buffers above 2 GiB) or -ENOMEM. */
int sb_bufpool_init(struct sb_bufpool *pool, uint64_t budget_bytes, uint32_t buffer_bytes_max);
void sb_bufpool_deinit(struct sb_bufpool *pool);
/* A buffer of at least `bytes` (4096-aligned, contents undefined), borrowed until released;
 * NULL when the budget is exhausted, no free run is large enough, or bytes exceeds
 * buffer_bytes_max. *capacity_out gets its real size: bytes rounded up to whole pages. */
void *sb_bufpool_acquire(struct sb_bufpool *pool, uint32_t bytes, uint32_t *capacity_out);
/* Returns a buffer; `capacity` is what acquire (or shrink) reported. */
void sb_bufpool_release(struct sb_bufpool *pool, void *buffer, uint32_t capacity);
/* Gives back the pages of a buffer beyond its first `bytes` (at least one page is kept);
 * returns the new capacity, to be passed to release. */
uint32_t sb_bufpool_shrink(struct sb_bufpool *pool, void *buffer, uint32_t capacity,
                           uint32_t bytes);

#endif /* SB_CORE_BUFPOOL_H */
