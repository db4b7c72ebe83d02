/*
 * test/core/test_timer.c - the timer heap fires in (deadline, arming order),
 * never early, survives random disarms, refuses arming past capacity, and a
 * callback re-arming itself waits for the next call.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>

#include "core/arena.h"
#include "core/timer.h"

#define TIMER_COUNT 10000

struct fired_log {
    uint64_t deadlines[TIMER_COUNT]; /* Deadline of each fired timer, in firing order. */
    uint64_t sequences[TIMER_COUNT]; /* Arming order of each fired timer. */
    uint32_t count;                  /* Timers fired so far. */
};

static struct fired_log fired;

static void
record_fire(struct sb_timer *timer)
{
    fired.deadlines[fired.count] = timer->deadline_ns;
    fired.sequences[fired.count] = timer->sequence;
    fired.count++;
}

static uint64_t
next_random(uint64_t *state)
{
    *state = *state * 6364136223846793005ull + 1442695040888963407ull;
    return *state >> 33;
}

Test(timer, fires_in_deadline_then_arming_order)
{
    static struct sb_timer timers[TIMER_COUNT];
    struct sb_arena arena;
    cr_assert_eq(sb_arena_init(&arena, 1 << 20), 0);
    struct sb_timer_heap heap;
    cr_assert_eq(sb_timer_heap_init(&heap, &arena, TIMER_COUNT), 0);
    fired.count = 0;
    uint64_t state = 42;
    for (uint32_t index = 0; index < TIMER_COUNT; index++) {
        sb_timer_init(&timers[index]);
        /* Few distinct deadlines, so ties are common. */
        uint64_t deadline = 1000 + next_random(&state) % 500;
        cr_assert_eq(sb_timer_arm(&heap, &timers[index], deadline, record_fire, NULL), 0);
    }
    /* Disarm a random third. */
    uint32_t disarmed = 0;
    for (uint32_t index = 0; index < TIMER_COUNT; index++) {
        if (next_random(&state) % 3 == 0) {
            sb_timer_disarm(&heap, &timers[index]);
            cr_assert_not(sb_timer_is_armed(&timers[index]));
            disarmed++;
        }
    }
    uint64_t now = 900;
    cr_assert_eq(sb_timer_fire_due(&heap, now), 0, "nothing is due early");
    for (; now <= 1600; now += 7) {
        uint32_t before = fired.count;
        sb_timer_fire_due(&heap, now);
        for (uint32_t index = before; index < fired.count; index++) {
            cr_assert_leq(fired.deadlines[index], now, "never fires early");
        }
    }
    cr_assert_eq(fired.count, TIMER_COUNT - disarmed);
    for (uint32_t index = 1; index < fired.count; index++) {
        bool ordered = fired.deadlines[index - 1] < fired.deadlines[index] ||
                       (fired.deadlines[index - 1] == fired.deadlines[index] &&
                        fired.sequences[index - 1] < fired.sequences[index]);
        cr_assert(ordered, "timer %u fired out of order", index);
    }
    cr_assert_eq(sb_timer_next_deadline(&heap), SB_TIMER_NO_DEADLINE);
    sb_arena_deinit(&arena);
}

Test(timer, full_heap_is_back_pressure)
{
    struct sb_arena arena;
    cr_assert_eq(sb_arena_init(&arena, 4096), 0);
    struct sb_timer_heap heap;
    cr_assert_eq(sb_timer_heap_init(&heap, &arena, 2), 0);
    struct sb_timer timers[3];
    for (int index = 0; index < 3; index++) {
        sb_timer_init(&timers[index]);
    }
    cr_assert_eq(sb_timer_arm(&heap, &timers[0], 5, record_fire, NULL), 0);
    cr_assert_eq(sb_timer_arm(&heap, &timers[1], 5, record_fire, NULL), 0);
    cr_assert_eq(sb_timer_arm(&heap, &timers[2], 5, record_fire, NULL), -ENOBUFS);
    cr_assert_not(sb_timer_is_armed(&timers[2]));
    sb_arena_deinit(&arena);
}

static struct sb_timer_heap *rearm_heap;
static uint32_t rearm_count;

static void
rearm_self(struct sb_timer *timer)
{
    rearm_count++;
    sb_timer_arm(rearm_heap, timer, 0, rearm_self, NULL);
}

Test(timer, rearming_callback_waits_for_next_call)
{
    struct sb_arena arena;
    cr_assert_eq(sb_arena_init(&arena, 4096), 0);
    struct sb_timer_heap heap;
    cr_assert_eq(sb_timer_heap_init(&heap, &arena, 4), 0);
    rearm_heap = &heap;
    rearm_count = 0;
    struct sb_timer timer;
    sb_timer_init(&timer);
    cr_assert_eq(sb_timer_arm(&heap, &timer, 0, rearm_self, NULL), 0);
    cr_assert_eq(sb_timer_fire_due(&heap, 10), 1);
    cr_assert_eq(sb_timer_fire_due(&heap, 10), 1);
    cr_assert_eq(rearm_count, 2);
    sb_arena_deinit(&arena);
}

Test(timer, arming_an_armed_timer_aborts, .signal = SIGABRT)
{
    struct sb_arena arena;
    sb_arena_init(&arena, 4096);
    struct sb_timer_heap heap;
    sb_timer_heap_init(&heap, &arena, 4);
    struct sb_timer timer;
    sb_timer_init(&timer);
    sb_timer_arm(&heap, &timer, 1, record_fire, NULL);
    sb_timer_arm(&heap, &timer, 2, record_fire, NULL);
}
