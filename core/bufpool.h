/*
 * core/bufpool.h - a shard's budget of variable-size buffers (request frames,
 * responses, fetch data): power-of-two size classes from 4 KiB up to a
 * maximum, carved on demand from one region reserved at start-up and reused
 * through per-class free lists. The region is the hard memory budget: when a
 * class has no free buffer and the region is used up, acquire fails and the
 * caller applies back-pressure (stops reading a connection) instead of
 * allocating. Not thread-safe: one shard; buffers go home to be released.
 */
#ifndef SB_CORE_BUFPOOL_H
#define SB_CORE_BUFPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SB_BUFPOOL_CLASS_MIN_BYTES 4096u
#define SB_BUFPOOL_CLASSES_MAX 20u

struct sb_bufpool_free;

struct sb_bufpool {
    uint8_t *region;                                    /* Reserved memory (owned). */
    uint64_t region_bytes;                              /* Its size: the budget. */
    uint64_t carved_bytes;                              /* Handed out from region so far. */
    uint64_t in_use_bytes;                              /* Acquired and not released. */
    uint64_t in_use_peak_bytes;                         /* Most ever in use. */
    uint32_t class_count;                               /* Size classes. */
    struct sb_bufpool_free *free[SB_BUFPOOL_CLASSES_MAX]; /* Free list per class. */
};

/* Reserves `budget_bytes` (untouched pages cost nothing) for buffers up to `buffer_bytes_max`
 * (rounded up to a power of two). Returns 0, -EINVAL or -ENOMEM. */
int sb_bufpool_init(struct sb_bufpool *pool, uint64_t budget_bytes, uint32_t buffer_bytes_max);
void sb_bufpool_deinit(struct sb_bufpool *pool);
/* A buffer of at least `bytes` (4096-aligned, contents undefined), borrowed until released;
 * NULL when the budget is exhausted or bytes exceeds the largest class. *capacity_out gets its
 * real size. */
void *sb_bufpool_acquire(struct sb_bufpool *pool, uint32_t bytes, uint32_t *capacity_out);
/* Returns a buffer; `capacity` is what acquire reported. */
void sb_bufpool_release(struct sb_bufpool *pool, void *buffer, uint32_t capacity);
/* Bytes that an acquire of `bytes` would take from the budget (its class size). */
uint32_t sb_bufpool_class_bytes(const struct sb_bufpool *pool, uint32_t bytes);

#endif /* SB_CORE_BUFPOOL_H */
