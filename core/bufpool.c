/*
 * core/bufpool.c - page buffers over one reserved region (bufpool.h).
 *
 * A buddy allocator: the region is cut into aligned blocks of 2^order pages
 * (offsets relative to the region). A free block keeps its list links in its
 * own first bytes, and `orders` marks the page where it starts, so a block
 * being freed finds out in O(1) whether its buddy (offset XOR size) is free
 * and of the same order, and merges with it, again and again up to the
 * largest order. An acquire takes the smallest free block that holds the
 * rounded-up pages, splits it down, and frees at once the pages past the
 * ones asked for; release and shrink free any page range by cutting it into
 * the largest aligned blocks it contains. Start reading at sb_bufpool_acquire.
 */
#include "core/bufpool.h"

#include <errno.h>
#include <sys/mman.h>

#include "core/assert.h"
#include "core/base.h"

struct sb_bufpool_free {
    struct sb_bufpool_free *next;     /* Next free block of the same order. */
    struct sb_bufpool_free *previous; /* Previous one, or NULL at the head. */
};

static void bufpool_free_range(struct sb_bufpool *pool, uint64_t page, uint64_t end);

/* The smallest order whose blocks hold `pages`. */
static uint32_t
bufpool_order_of(uint64_t pages)
{
    uint32_t order = 0;
    while (((uint64_t)1 << order) < pages) {
        order++;
    }
    return order;
}

static uint64_t
bufpool_pages_of(uint32_t bytes)
{
    return bytes == 0 ? 1 : ((uint64_t)bytes + SB_BUFPOOL_PAGE_BYTES - 1) / SB_BUFPOOL_PAGE_BYTES;
}

static struct sb_bufpool_free *
bufpool_block(const struct sb_bufpool *pool, uint64_t page)
{
    return (struct sb_bufpool_free *)(void *)(pool->region + page * SB_BUFPOOL_PAGE_BYTES);
}

int
sb_bufpool_init(struct sb_bufpool *pool, uint64_t budget_bytes, uint32_t buffer_bytes_max)
{
    *pool = (struct sb_bufpool){0};
    pool->order_count = bufpool_order_of(bufpool_pages_of(buffer_bytes_max)) + 1;
    if (pool->order_count > SB_BUFPOOL_ORDERS_MAX || budget_bytes < buffer_bytes_max) {
        return -EINVAL;
    }
    /* Whole blocks of the largest order, so a largest buffer always has room when idle; the
     * budget, not the region, limits what is acquired. */
    uint64_t largest_bytes = (uint64_t)SB_BUFPOOL_PAGE_BYTES << (pool->order_count - 1);
    uint64_t region_bytes = sb_align_up(budget_bytes, largest_bytes);
    uint64_t page_count = region_bytes / SB_BUFPOOL_PAGE_BYTES;
    /* mmap, not the heap: the budget is reserved address space, paid for only when touched. */
    void *region = mmap(NULL, region_bytes, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (region == MAP_FAILED) {
        return -ENOMEM;
    }
    void *orders = mmap(NULL, page_count, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (orders == MAP_FAILED) {
        munmap(region, region_bytes);
        return -ENOMEM;
    }
    pool->region = region;
    pool->region_bytes = region_bytes;
    pool->budget_bytes = budget_bytes;
    pool->orders = orders;
    bufpool_free_range(pool, 0, page_count);
    return 0;
}

void
sb_bufpool_deinit(struct sb_bufpool *pool)
{
    if (pool->region != NULL) {
        munmap(pool->orders, pool->region_bytes / SB_BUFPOOL_PAGE_BYTES);
        munmap(pool->region, pool->region_bytes);
    }
    *pool = (struct sb_bufpool){0};
}

static void
bufpool_push(struct sb_bufpool *pool, uint64_t page, uint32_t order)
{
    struct sb_bufpool_free *block = bufpool_block(pool, page);
    block->previous = NULL;
    block->next = pool->free[order];
    if (block->next != NULL) {
        block->next->previous = block;
    }
    pool->free[order] = block;
    pool->orders[page] = (uint8_t)(order + 1);
}

static void
bufpool_unlink(struct sb_bufpool *pool, uint64_t page, uint32_t order)
{
    struct sb_bufpool_free *block = bufpool_block(pool, page);
    SB_ASSERT(pool->orders[page] == order + 1);
    if (block->previous != NULL) {
        block->previous->next = block->next;
    } else {
        pool->free[order] = block->next;
    }
    if (block->next != NULL) {
        block->next->previous = block->previous;
    }
    pool->orders[page] = 0;
}

void *
sb_bufpool_acquire(struct sb_bufpool *pool, uint32_t bytes, uint32_t *capacity_out)
{
    uint64_t pages = bufpool_pages_of(bytes);
    uint32_t order = bufpool_order_of(pages);
    if (order >= pool->order_count ||
        pool->in_use_bytes + pages * SB_BUFPOOL_PAGE_BYTES > pool->budget_bytes) {
        return NULL;
    }
    uint32_t found = order;
    while (found < pool->order_count && pool->free[found] == NULL) {
        found++;
    }
    if (found == pool->order_count) {
        return NULL;
    }
    uint8_t *buffer = (uint8_t *)pool->free[found];
    uint64_t page = (uint64_t)(buffer - pool->region) / SB_BUFPOOL_PAGE_BYTES;
    bufpool_unlink(pool, page, found);
    /* Bounded by the orders: each pass frees the upper half of the block. */
    while (found > order) {
        found--;
        bufpool_push(pool, page + ((uint64_t)1 << found), found);
    }
    bufpool_free_range(pool, page + pages, page + ((uint64_t)1 << order));
    pool->in_use_bytes += pages * SB_BUFPOOL_PAGE_BYTES;
    pool->in_use_peak_bytes = sb_max_u64(pool->in_use_peak_bytes, pool->in_use_bytes);
    SB_ASSERT(pool->in_use_bytes <= pool->budget_bytes);
    *capacity_out = (uint32_t)(pages * SB_BUFPOOL_PAGE_BYTES);
    return buffer;
}

/* The first page of a buffer acquired with `capacity`, checked against the region. */
static uint64_t
bufpool_page_checked(const struct sb_bufpool *pool, const void *buffer, uint32_t capacity)
{
    const uint8_t *byte = buffer;
    SB_ASSERT(byte >= pool->region && byte + capacity <= pool->region + pool->region_bytes);
    SB_ASSERT((uint64_t)(byte - pool->region) % SB_BUFPOOL_PAGE_BYTES == 0);
    SB_ASSERT(capacity != 0 && capacity % SB_BUFPOOL_PAGE_BYTES == 0);
    SB_ASSERT(pool->in_use_bytes >= capacity);
    return (uint64_t)(byte - pool->region) / SB_BUFPOOL_PAGE_BYTES;
}

void
sb_bufpool_release(struct sb_bufpool *pool, void *buffer, uint32_t capacity)
{
    uint64_t page = bufpool_page_checked(pool, buffer, capacity);
    pool->in_use_bytes -= capacity;
    bufpool_free_range(pool, page, page + capacity / SB_BUFPOOL_PAGE_BYTES);
}

uint32_t
sb_bufpool_shrink(struct sb_bufpool *pool, void *buffer, uint32_t capacity, uint32_t bytes)
{
    uint64_t page = bufpool_page_checked(pool, buffer, capacity);
    uint64_t pages = capacity / SB_BUFPOOL_PAGE_BYTES;
    uint64_t kept = sb_min_u64(bufpool_pages_of(bytes), pages);
    pool->in_use_bytes -= (pages - kept) * SB_BUFPOOL_PAGE_BYTES;
    bufpool_free_range(pool, page + kept, page + pages);
    return (uint32_t)(kept * SB_BUFPOOL_PAGE_BYTES);
}

/* Frees one aligned block, merging it with its free buddy as long as there is one. */
static void
bufpool_free_block(struct sb_bufpool *pool, uint64_t page, uint32_t order)
{
    uint64_t page_count = pool->region_bytes / SB_BUFPOOL_PAGE_BYTES;
    SB_ASSERT(page % ((uint64_t)1 << order) == 0);
    SB_ASSERT(pool->orders[page] == 0);
    /* Bounded by the orders: each merge doubles the block. */
    while (order + 1 < pool->order_count) {
        uint64_t buddy = page ^ ((uint64_t)1 << order);
        if (buddy >= page_count || pool->orders[buddy] != order + 1) {
            break;
        }
        bufpool_unlink(pool, buddy, order);
        page = sb_min_u64(page, buddy);
        order++;
    }
    bufpool_push(pool, page, order);
}

/* Frees pages [page, end) as the largest aligned blocks that tile them. */
static void
bufpool_free_range(struct sb_bufpool *pool, uint64_t page, uint64_t end)
{
    /* Bounded by the range: each pass frees at least one page. */
    while (page < end) {
        uint32_t order = 0;
        while (order + 1 < pool->order_count && page % ((uint64_t)2 << order) == 0 &&
               page + ((uint64_t)2 << order) <= end) {
            order++;
        }
        bufpool_free_block(pool, page, order);
        page += (uint64_t)1 << order;
    }
}
