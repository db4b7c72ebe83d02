/*
 * core/shard.h - one shard: a thread (or, under the simulator, a step
 * function) that owns an io, an arena, timers and an outbox, and runs the
 * event loop. Application code plugs in through struct sb_shard_hooks and
 * reaches everything it owns through the shard.
 *
 * One loop iteration (shard_iterate in shard.c):
 *   1. drain inbound rings, handing each message to hooks.message;
 *   2. fire due timers;
 *   3. hooks.iteration_end (e.g. start a WAL commit cycle for dirty data);
 *   4. flush the outbox: publish rings, ring doorbells of sleeping shards;
 *   5. sb_io_run: one submit, then wait (only if idle: until the next timer,
 *      a completion or a doorbell) and run completion callbacks.
 *
 * Shutdown: once the runtime is asked to stop, each shard calls hooks.stop
 * once, keeps looping, and reports itself drained when hooks.drained says so,
 * no io op is in flight and its rings and outbox are empty. The loop ends
 * when every shard is drained and no message is in transit (mesh.h).
 *
 * Every function here must be called on the shard's own thread.
 */
#ifndef SB_CORE_SHARD_H
#define SB_CORE_SHARD_H

#include <stdbool.h>
#include <stdint.h>

#include "core/ring.h"
#include "core/timer.h"

struct sb_shard;
struct sb_io;
struct sb_arena;

struct sb_shard_hooks {
    /* On the shard's thread once its io exists, before any message. Nonzero aborts start. */
    int (*start)(struct sb_shard *shard);
    /* Stop was requested: stop taking new work (cancel accepts...). Called once. */
    void (*stop)(struct sb_shard *shard);
    /* During stop: true when the application has nothing left in flight. NULL: always. */
    bool (*drained)(struct sb_shard *shard);
    /* A message for this shard; `message` is borrowed for the call, its payload is owned. */
    void (*message)(struct sb_shard *shard, const struct sb_msg *message);
    /* End of each loop iteration, before the outbox flush and the io submit. May be NULL. */
    void (*iteration_end)(struct sb_shard *shard);
    /* After the loop ended, on the shard's thread, before its io is destroyed. May be NULL. */
    void (*finish)(struct sb_shard *shard);
    /* SIM, sb_runtime_abandon after a power cut: runs on every live shard before any shard is
     * finished or freed, so work that refers to other shards' memory can be dropped while all
     * of it exists. May be NULL. */
    void (*abandon)(struct sb_shard *shard);
    void *context; /* Shared by all shards; read it with sb_shard_hooks_context. */
};

uint32_t sb_shard_id(const struct sb_shard *shard);
uint32_t sb_shard_count(const struct sb_shard *shard);
struct sb_io *sb_shard_io(struct sb_shard *shard);
struct sb_arena *sb_shard_arena(struct sb_shard *shard);
struct sb_timer_heap *sb_shard_timers(struct sb_shard *shard);
void *sb_shard_hooks_context(const struct sb_shard *shard);

/* Per-shard application state: set once in hooks.start, borrowed by the shard. */
void sb_shard_set_user(struct sb_shard *shard, void *user);
void *sb_shard_user(const struct sb_shard *shard);

/* Now on the shard's io clock (virtual under the simulator). */
uint64_t sb_shard_now_ns(struct sb_shard *shard);
/* Arms `timer` to fire `delay_ns` from now. Returns 0 or -ENOBUFS. */
int sb_shard_timer_arm(struct sb_shard *shard, struct sb_timer *timer, uint64_t delay_ns,
                       sb_timer_callback callback, void *context);
void sb_shard_timer_disarm(struct sb_shard *shard, struct sb_timer *timer);

/* Sends a copy of `message` to shard `destination` (source_shard is filled in). Delivery is in
 * send order per destination, visible at the end of this loop iteration. Returns 0, or -ENOBUFS
 * when the destination's ring and this shard's overflow pool are full. */
int sb_shard_send(struct sb_shard *shard, uint32_t destination, struct sb_msg *message);
/* True once stop has been requested. */
bool sb_shard_stopping(const struct sb_shard *shard);
/* True if `pointer` lies in this shard's arena (memory-returns-home checks). */
bool sb_shard_owns(const struct sb_shard *shard, const void *pointer);

struct sb_shard_stats {
    uint64_t iterations;          /* Loop iterations. */
    uint64_t sleeps;              /* Iterations that waited in the kernel (or virtual time). */
    uint64_t messages_received;   /* Messages delivered to hooks.message. */
    uint64_t messages_sent;       /* sb_shard_send calls that succeeded. */
    uint64_t messages_overflowed; /* Sends that waited in overflow. */
    uint64_t wakeups;             /* Doorbells received. */
    uint64_t timers_fired;        /* Timer callbacks run. */
};

void sb_shard_stats(const struct sb_shard *shard, struct sb_shard_stats *stats_out);

#endif /* SB_CORE_SHARD_H */
