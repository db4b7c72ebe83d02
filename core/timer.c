/*
 * core/timer.c - the timer min-heap (see timer.h). Invariant: for every
 * entry i > 0, entries[(i - 1) / 2] orders before entries[i], and every armed
 * timer's heap_index is its position.
 */
#include "core/timer.h"

#include <errno.h>

#include "core/arena.h"
#include "core/assert.h"

static bool
timer_before(const struct sb_timer *a, const struct sb_timer *b)
{
    if (a->deadline_ns != b->deadline_ns) {
        return a->deadline_ns < b->deadline_ns;
    }
    return a->sequence < b->sequence;
}

static void
timer_place(struct sb_timer_heap *heap, uint32_t index, struct sb_timer *timer)
{
    heap->entries[index] = timer;
    timer->heap_index = index;
}

static void
timer_sift_up(struct sb_timer_heap *heap, uint32_t index)
{
    struct sb_timer *timer = heap->entries[index];
    while (index > 0) {
        uint32_t parent = (index - 1) / 2;
        if (!timer_before(timer, heap->entries[parent])) {
            break;
        }
        timer_place(heap, index, heap->entries[parent]);
        index = parent;
    }
    timer_place(heap, index, timer);
}

static void
timer_sift_down(struct sb_timer_heap *heap, uint32_t index)
{
    struct sb_timer *timer = heap->entries[index];
    for (;;) {
        uint32_t child = 2 * index + 1;
        if (child >= heap->count) {
            break;
        }
        if (child + 1 < heap->count &&
            timer_before(heap->entries[child + 1], heap->entries[child])) {
            child++;
        }
        if (!timer_before(heap->entries[child], timer)) {
            break;
        }
        timer_place(heap, index, heap->entries[child]);
        index = child;
    }
    timer_place(heap, index, timer);
}

int
sb_timer_heap_init(struct sb_timer_heap *heap, struct sb_arena *arena, uint32_t capacity)
{
    SB_ASSERT(capacity > 0);
    heap->entries = sb_arena_alloc(arena, (size_t)capacity * sizeof(heap->entries[0]),
                                   sizeof(void *));
    if (heap->entries == NULL) {
        return -ENOMEM;
    }
    heap->count = 0;
    heap->capacity = capacity;
    heap->next_sequence = 0;
    return 0;
}

void
sb_timer_init(struct sb_timer *timer)
{
    timer->deadline_ns = 0;
    timer->sequence = 0;
    timer->heap_index = SB_TIMER_NOT_ARMED;
    timer->callback = NULL;
    timer->context = NULL;
}

int
sb_timer_arm(struct sb_timer_heap *heap, struct sb_timer *timer, uint64_t deadline_ns,
             sb_timer_callback callback, void *context)
{
    SB_ASSERT(timer->heap_index == SB_TIMER_NOT_ARMED);
    SB_ASSERT(callback != NULL);
    if (heap->count == heap->capacity) {
        return -ENOBUFS;
    }
    timer->deadline_ns = deadline_ns;
    timer->sequence = heap->next_sequence++;
    timer->callback = callback;
    timer->context = context;
    timer_place(heap, heap->count, timer);
    heap->count++;
    timer_sift_up(heap, heap->count - 1);
    return 0;
}

void
sb_timer_disarm(struct sb_timer_heap *heap, struct sb_timer *timer)
{
    uint32_t index = timer->heap_index;
    if (index == SB_TIMER_NOT_ARMED) {
        return;
    }
    SB_ASSERT(index < heap->count);
    SB_ASSERT(heap->entries[index] == timer);
    timer->heap_index = SB_TIMER_NOT_ARMED;
    heap->count--;
    if (index == heap->count) {
        return;
    }
    timer_place(heap, index, heap->entries[heap->count]);
    if (index > 0 && timer_before(heap->entries[index], heap->entries[(index - 1) / 2])) {
        timer_sift_up(heap, index);
    } else {
        timer_sift_down(heap, index);
    }
}

bool
sb_timer_is_armed(const struct sb_timer *timer)
{
    return timer->heap_index != SB_TIMER_NOT_ARMED;
}

uint64_t
sb_timer_next_deadline(const struct sb_timer_heap *heap)
{
    return heap->count == 0 ? SB_TIMER_NO_DEADLINE : heap->entries[0]->deadline_ns;
}

uint32_t
sb_timer_fire_due(struct sb_timer_heap *heap, uint64_t now_ns)
{
    uint64_t armed_before = heap->next_sequence;
    uint32_t fired = 0;
    /* Bounded by the timers armed before this call: each fires at most once here. */
    while (heap->count > 0) {
        struct sb_timer *timer = heap->entries[0];
        if (timer->deadline_ns > now_ns || timer->sequence >= armed_before) {
            break;
        }
        sb_timer_disarm(heap, timer);
        fired++;
        timer->callback(timer);
    }
    return fired;
}
