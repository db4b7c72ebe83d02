/*
 * test/core/test_bufpool.c - the page buffer pool: memory released by small
 * buffers serves large ones again (issue 10, defect 6: size classes that
 * never gave memory back locked a broker out of large requests for good),
 * exact page accounting against the byte budget, shrinking, random mixes
 * that never overlap, and death on a foreign pointer.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>

#include "core/bufpool.h"

#define BUDGET_BYTES (8u << 20)
#define LARGEST_BYTES (4u << 20)
#define SMALL_MAX 4096u

/* Fills the budget with small buffers of mixed sizes, releases them all, and then the whole
 * budget must be available as largest buffers. */
Test(bufpool, small_buffers_released_merge_back_into_large_ones)
{
    struct sb_bufpool pool;
    cr_assert_eq(sb_bufpool_init(&pool, BUDGET_BYTES, LARGEST_BYTES), 0);
    static void *buffers[SMALL_MAX];
    static uint32_t capacities[SMALL_MAX];
    uint32_t count = 0;
    const uint32_t sizes[] = {100, 5000, 20000, 40000, 70000, 9000};
    /* Bounded by SMALL_MAX; ends when the budget is used up. */
    while (count < SMALL_MAX) {
        buffers[count] = sb_bufpool_acquire(&pool, sizes[count % 6], &capacities[count]);
        if (buffers[count] == NULL) {
            break;
        }
        count++;
    }
    cr_assert_lt(count, SMALL_MAX, "the budget ran out");
    cr_assert_null(sb_bufpool_acquire(&pool, LARGEST_BYTES, &capacities[count]));
    for (uint32_t index = 0; index < count; index++) {
        sb_bufpool_release(&pool, buffers[index], capacities[index]);
    }
    uint32_t capacity_a;
    uint32_t capacity_b;
    void *large_a = sb_bufpool_acquire(&pool, LARGEST_BYTES, &capacity_a);
    void *large_b = sb_bufpool_acquire(&pool, LARGEST_BYTES, &capacity_b);
    cr_assert_not_null(large_a, "released small buffers serve a large one");
    cr_assert_not_null(large_b, "the whole budget is one again");
    sb_bufpool_release(&pool, large_a, capacity_a);
    sb_bufpool_release(&pool, large_b, capacity_b);
    sb_bufpool_deinit(&pool);
}

Test(bufpool, budget_counts_whole_pages_and_shrink_gives_pages_back)
{
    struct sb_bufpool pool;
    cr_assert_eq(sb_bufpool_init(&pool, BUDGET_BYTES, LARGEST_BYTES), 0);
    uint32_t capacity;
    void *buffer = sb_bufpool_acquire(&pool, 5000, &capacity);
    cr_assert_not_null(buffer);
    cr_assert_eq(capacity, 8192u, "pages, not a power of two of them");
    cr_assert_eq(pool.in_use_bytes, 8192u);
    sb_bufpool_release(&pool, buffer, capacity);
    /* 3 MiB + 1 page is not rounded to 4 MiB: it and a 3 MiB one fit an 8 MiB budget... */
    uint32_t capacity_a;
    uint32_t capacity_b;
    void *a = sb_bufpool_acquire(&pool, (3u << 20) + 1, &capacity_a);
    void *b = sb_bufpool_acquire(&pool, 3u << 20, &capacity_b);
    cr_assert_not_null(a);
    cr_assert_not_null(b);
    cr_assert_eq(capacity_a, (3u << 20) + 4096u);
    /* ...but the budget is bytes: 2 MiB more would pass it. */
    cr_assert_null(sb_bufpool_acquire(&pool, 2u << 20, &capacity));
    capacity_a = sb_bufpool_shrink(&pool, a, capacity_a, 10000);
    cr_assert_eq(capacity_a, 12288u);
    cr_assert_eq(pool.in_use_bytes, 12288u + (3u << 20));
    void *c = sb_bufpool_acquire(&pool, 2u << 20, &capacity);
    cr_assert_not_null(c, "shrunk pages serve others");
    cr_assert_eq(sb_bufpool_shrink(&pool, c, capacity, 0), 4096u, "one page is kept");
    sb_bufpool_release(&pool, c, 4096u);
    sb_bufpool_release(&pool, a, capacity_a);
    sb_bufpool_release(&pool, b, capacity_b);
    cr_assert_eq(pool.in_use_bytes, 0u);
    cr_assert_null(sb_bufpool_acquire(&pool, LARGEST_BYTES + 4096, &capacity), "too large");
    sb_bufpool_deinit(&pool);
}

/* Random acquires, shrinks and releases (seeded xorshift): live buffers never overlap (each
 * holds its own byte pattern), and at the end everything merges back. */
Test(bufpool, random_mix_never_overlaps_and_merges_back)
{
    struct sb_bufpool pool;
    cr_assert_eq(sb_bufpool_init(&pool, BUDGET_BYTES + (1u << 20), LARGEST_BYTES), 0);
    static uint8_t *buffers[64];
    static uint32_t capacities[64];
    uint64_t state = 0x9e3779b97f4a7c15ull;
    for (uint32_t step = 0; step < 20000; step++) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        uint32_t slot = (uint32_t)(state % 64);
        if (buffers[slot] != NULL) {
            for (uint32_t at = 0; at < capacities[slot]; at += 4096) {
                cr_assert_eq(buffers[slot][at], (uint8_t)slot, "slot %u overwritten", slot);
            }
            if ((state >> 32) % 4 == 0) {
                capacities[slot] = sb_bufpool_shrink(&pool, buffers[slot], capacities[slot],
                                                     (uint32_t)(state >> 40) % capacities[slot]);
                continue;
            }
            sb_bufpool_release(&pool, buffers[slot], capacities[slot]);
            buffers[slot] = NULL;
            continue;
        }
        uint32_t bytes = (uint32_t)(state >> 20) % ((state >> 60) < 2 ? LARGEST_BYTES : 65536u);
        buffers[slot] = sb_bufpool_acquire(&pool, bytes, &capacities[slot]);
        for (uint32_t at = 0; buffers[slot] != NULL && at < capacities[slot]; at += 4096) {
            buffers[slot][at] = (uint8_t)slot;
        }
    }
    for (uint32_t slot = 0; slot < 64; slot++) {
        if (buffers[slot] != NULL) {
            sb_bufpool_release(&pool, buffers[slot], capacities[slot]);
        }
    }
    cr_assert_eq(pool.in_use_bytes, 0u);
    uint32_t capacity_a;
    uint32_t capacity_b;
    cr_assert_not_null(sb_bufpool_acquire(&pool, LARGEST_BYTES, &capacity_a));
    cr_assert_not_null(sb_bufpool_acquire(&pool, LARGEST_BYTES, &capacity_b));
    sb_bufpool_deinit(&pool);
}

Test(bufpool, releasing_a_foreign_pointer_aborts, .signal = SIGABRT)
{
    struct sb_bufpool pool;
    cr_assert_eq(sb_bufpool_init(&pool, BUDGET_BYTES, LARGEST_BYTES), 0);
    static uint8_t outside[8192];
    sb_bufpool_release(&pool, outside, 4096);
}
