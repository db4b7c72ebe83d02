/*
 * test/core/test_pool.c - arena bump allocation and fixed pools: alignment,
 * exhaustion as back-pressure (NULL), reuse, and death on double release or
 * foreign pointers.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/pool.h"

Test(arena, aligns_and_refuses_when_full)
{
    struct sb_arena arena;
    cr_assert_eq(sb_arena_init(&arena, 1024), 0);
    void *small = sb_arena_alloc(&arena, 3, 1);
    void *aligned = sb_arena_alloc(&arena, 100, 64);
    cr_assert_not_null(small);
    cr_assert_not_null(aligned);
    cr_assert_eq((uintptr_t)aligned % 64, 0);
    cr_assert_null(sb_arena_alloc(&arena, 1024, 8), "does not fit any more");
    sb_arena_reset(&arena);
    cr_assert_not_null(sb_arena_alloc(&arena, 1024, 8), "fits after reset");
    sb_arena_deinit(&arena);
}

Test(pool, exhaustion_returns_null_and_release_reuses)
{
    struct sb_arena arena;
    cr_assert_eq(sb_arena_init(&arena, 1 << 16), 0);
    struct sb_pool pool;
    cr_assert_eq(sb_pool_init(&pool, &arena, 40, 64, 8), 0);
    void *objects[8];
    for (int index = 0; index < 8; index++) {
        objects[index] = sb_pool_acquire(&pool);
        cr_assert_not_null(objects[index]);
        cr_assert_eq((uintptr_t)objects[index] % 64, 0);
        cr_assert(sb_pool_owns(&pool, objects[index]));
    }
    cr_assert_null(sb_pool_acquire(&pool), "empty pool is back-pressure");
    cr_assert_eq(sb_pool_available(&pool), 0);
    sb_pool_release(&pool, objects[3]);
    cr_assert_eq(sb_pool_acquire(&pool), objects[3], "most recently released is reused");
    cr_assert_eq(pool.acquired_peak, 8);
    sb_arena_deinit(&arena);
}

Test(pool, init_fails_when_arena_is_too_small)
{
    struct sb_arena arena;
    cr_assert_eq(sb_arena_init(&arena, 256), 0);
    struct sb_pool pool;
    cr_assert_lt(sb_pool_init(&pool, &arena, 64, 64, 100), 0);
    sb_arena_deinit(&arena);
}

Test(pool, double_release_aborts, .signal = SIGABRT)
{
    struct sb_arena arena;
    sb_arena_init(&arena, 1 << 12);
    struct sb_pool pool;
    sb_pool_init(&pool, &arena, 16, 16, 4);
    void *object = sb_pool_acquire(&pool);
    sb_pool_release(&pool, object);
    sb_pool_release(&pool, object);
}

Test(pool, foreign_pointer_aborts, .signal = SIGABRT)
{
    struct sb_arena arena;
    sb_arena_init(&arena, 1 << 12);
    struct sb_pool pool;
    sb_pool_init(&pool, &arena, 16, 16, 4);
    static char elsewhere[16];
    sb_pool_release(&pool, elsewhere);
}
