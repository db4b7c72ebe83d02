/*
 * test/core/test_slab.c - lazily carved slabs: objects are distinct and
 * zeroed, exhaustion answers NULL, given-back objects are reused, memory
 * never used is never resident, and a foreign pointer is refused (death).
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>

#include "core/slab.h"
#include "test/core/residency.h"

struct object {
    uint64_t words[5];
};

Test(slab, carves_in_order_until_full_then_reuses_zeroed)
{
    struct sb_slab slab;
    cr_assert_eq(sb_slab_init(&slab, sizeof(struct object), 4), 0);
    struct object *objects[4];
    for (int index = 0; index < 4; index++) {
        objects[index] = sb_slab_take(&slab);
        cr_assert_not_null(objects[index]);
        for (int word = 0; word < 5; word++) {
            cr_assert_eq(objects[index]->words[word], 0);
        }
        memset(objects[index], 0xab, sizeof(struct object));
    }
    cr_assert_null(sb_slab_take(&slab), "all four are in use");
    cr_assert_eq(slab.in_use, 4);
    sb_slab_give(&slab, objects[2]);
    sb_slab_give(&slab, objects[0]);
    struct object *again = sb_slab_take(&slab);
    cr_assert_eq(again, objects[0], "the last given back is reused first");
    for (int word = 0; word < 5; word++) {
        cr_assert_eq(again->words[word], 0, "reused objects come back zeroed");
    }
    cr_assert_eq(sb_slab_take(&slab), objects[2]);
    cr_assert_null(sb_slab_take(&slab));
    sb_slab_deinit(&slab);
    sb_slab_deinit(&slab); /* Safe twice (and on a failed init). */
}

Test(slab, memory_never_used_is_never_resident)
{
    struct sb_slab slab;
    uint64_t capacity = 1u << 20; /* 40 MiB of objects. */
    cr_assert_eq(sb_slab_init(&slab, sizeof(struct object), capacity), 0);
    for (int index = 0; index < 100; index++) {
        struct object *object = sb_slab_take(&slab);
        object->words[0] = (uint64_t)index + 1;
    }
    size_t bytes = capacity * sizeof(struct object);
    size_t resident = resident_bytes(slab.memory, bytes);
    /* 100 objects touch one page; a transparent huge page makes that 2 MiB at most. */
    cr_assert_leq(resident, 2u << 20, "%zu bytes resident of %zu", resident, bytes);
    sb_slab_deinit(&slab);
}

Test(slab, giving_back_a_foreign_pointer_aborts, .signal = SIGABRT)
{
    struct sb_slab slab;
    cr_assert_eq(sb_slab_init(&slab, sizeof(struct object), 4), 0);
    struct object outsider;
    cr_assert_not_null(sb_slab_take(&slab));
    sb_slab_give(&slab, &outsider);
}
