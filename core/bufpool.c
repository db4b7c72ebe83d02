/*
 * core/bufpool.c - size-class buffers over one reserved region (bufpool.h).
 * A free buffer stores the free-list link in its own first bytes.
 */
#include "core/bufpool.h"

#include <errno.h>
#include <sys/mman.h>

#include "core/assert.h"

struct sb_bufpool_free {
    struct sb_bufpool_free *next; /* Next free buffer of the same class. */
};

static uint32_t
bufpool_class_of(uint32_t bytes)
{
    uint32_t class_index = 0;
    uint64_t size = SB_BUFPOOL_CLASS_MIN_BYTES;
    while (size < bytes) {
        size <<= 1;
        class_index++;
    }
    return class_index;
}

int
sb_bufpool_init(struct sb_bufpool *pool, uint64_t budget_bytes, uint32_t buffer_bytes_max)
{
    *pool = (struct sb_bufpool){0};
    pool->class_count = bufpool_class_of(buffer_bytes_max) + 1;
    if (pool->class_count > SB_BUFPOOL_CLASSES_MAX || budget_bytes < buffer_bytes_max) {
        return -EINVAL;
    }
    /* mmap, not the heap: the budget is reserved address space, paid for only when touched. */
    void *region = mmap(NULL, budget_bytes, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (region == MAP_FAILED) {
        return -ENOMEM;
    }
    pool->region = region;
    pool->region_bytes = budget_bytes;
    return 0;
}

void
sb_bufpool_deinit(struct sb_bufpool *pool)
{
    if (pool->region != NULL) {
        munmap(pool->region, pool->region_bytes);
    }
    *pool = (struct sb_bufpool){0};
}

uint32_t
sb_bufpool_class_bytes(const struct sb_bufpool *pool, uint32_t bytes)
{
    (void)pool;
    return SB_BUFPOOL_CLASS_MIN_BYTES << bufpool_class_of(bytes);
}

void *
sb_bufpool_acquire(struct sb_bufpool *pool, uint32_t bytes, uint32_t *capacity_out)
{
    uint32_t class_index = bufpool_class_of(bytes);
    if (class_index >= pool->class_count) {
        return NULL;
    }
    uint32_t size = SB_BUFPOOL_CLASS_MIN_BYTES << class_index;
    struct sb_bufpool_free *buffer = pool->free[class_index];
    if (buffer != NULL) {
        pool->free[class_index] = buffer->next;
    } else {
        uint64_t start = pool->carved_bytes; /* Every class is a multiple of 4096. */
        if (start + size > pool->region_bytes) {
            return NULL;
        }
        buffer = (struct sb_bufpool_free *)(void *)(pool->region + start);
        pool->carved_bytes = start + size;
    }
    pool->in_use_bytes += size;
    if (pool->in_use_bytes > pool->in_use_peak_bytes) {
        pool->in_use_peak_bytes = pool->in_use_bytes;
    }
    *capacity_out = size;
    return buffer;
}

void
sb_bufpool_release(struct sb_bufpool *pool, void *buffer, uint32_t capacity)
{
    uint8_t *byte = buffer;
    SB_ASSERT(byte >= pool->region && byte + capacity <= pool->region + pool->carved_bytes);
    SB_ASSERT(sb_is_power_of_two(capacity) && capacity >= SB_BUFPOOL_CLASS_MIN_BYTES);
    uint32_t class_index = bufpool_class_of(capacity);
    SB_ASSERT(pool->in_use_bytes >= capacity);
    pool->in_use_bytes -= capacity;
    struct sb_bufpool_free *entry = buffer;
    entry->next = pool->free[class_index];
    pool->free[class_index] = entry;
}
