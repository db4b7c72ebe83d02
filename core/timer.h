/*
 * core/timer.h - a shard's timers: a binary min-heap of caller-owned timers
 * ordered by (deadline, arming order), so timers with equal deadlines fire in
 * the order they were armed. The shard's loop sleeps until the earliest
 * deadline (sb_timer_next_deadline) and then fires what is due.
 *
 * The heap's slot array comes from the shard's arena; arming never allocates,
 * and a full heap is back-pressure (-ENOBUFS). Not thread-safe: one shard.
 */
#ifndef SB_CORE_TIMER_H
#define SB_CORE_TIMER_H

#include <stdbool.h>
#include <stdint.h>

struct sb_arena;
struct sb_timer;

typedef void (*sb_timer_callback)(struct sb_timer *timer);

#define SB_TIMER_NOT_ARMED UINT32_MAX
#define SB_TIMER_NO_DEADLINE UINT64_MAX

struct sb_timer {
    uint64_t deadline_ns;       /* When it fires, on the shard's io clock. */
    uint64_t sequence;          /* Arming order; breaks ties between equal deadlines. */
    uint32_t heap_index;        /* Position in the heap, or SB_TIMER_NOT_ARMED. */
    sb_timer_callback callback; /* Runs once when the timer fires (borrowed function). */
    void *context;              /* For the callback; never touched by the heap. */
};

struct sb_timer_heap {
    struct sb_timer **entries; /* Min-heap of armed timers (borrowed from the arena). */
    uint32_t count;            /* Armed timers. */
    uint32_t capacity;         /* Slots in entries. */
    uint64_t next_sequence;    /* Next arming order number. */
};

/* Carves room for `capacity` timers from `arena`. Returns 0 or -ENOMEM. */
int sb_timer_heap_init(struct sb_timer_heap *heap, struct sb_arena *arena, uint32_t capacity);
/* Zeroes a timer so it reads as not armed. */
void sb_timer_init(struct sb_timer *timer);
/* Arms `timer` (not armed) to fire at `deadline_ns`. Returns 0, or -ENOBUFS if the heap is full. */
int sb_timer_arm(struct sb_timer_heap *heap, struct sb_timer *timer, uint64_t deadline_ns,
                 sb_timer_callback callback, void *context);
/* Disarms `timer` if armed; otherwise does nothing. */
void sb_timer_disarm(struct sb_timer_heap *heap, struct sb_timer *timer);
bool sb_timer_is_armed(const struct sb_timer *timer);
/* Earliest deadline, or SB_TIMER_NO_DEADLINE if nothing is armed. */
uint64_t sb_timer_next_deadline(const struct sb_timer_heap *heap);
/* Fires, in order, every timer due at `now_ns` that was armed before this call (a timer re-armed
 * by a callback waits for the next call). Returns how many fired. */
uint32_t sb_timer_fire_due(struct sb_timer_heap *heap, uint64_t now_ns);

#endif /* SB_CORE_TIMER_H */
