/*
 * core/shard_private.h - the shard's state and loop entry points, shared by
 * shard.c (the loop) and runtime.c (threads, start and stop). Nothing else
 * includes it.
 */
#ifndef SB_CORE_SHARD_PRIVATE_H
#define SB_CORE_SHARD_PRIVATE_H

#include <pthread.h>

#include "core/arena.h"
#include "core/mesh.h"
#include "core/ring.h"
#include "core/runtime.h"
#include "core/shard.h"
#include "core/timer.h"

struct sb_shard {
    uint32_t id;                           /* 0 .. shard_count - 1. */
    uint32_t cpu;                          /* CPU pinned to, or UINT32_MAX. */
    struct sb_runtime *runtime;            /* Owner (borrowed). */
    const struct sb_runtime_config *config; /* The runtime's config (borrowed). */
    struct sb_mesh *mesh;                  /* Rings to and from every shard (borrowed). */
    struct sb_flag *stop_requested;        /* Raised by sb_runtime_stop (borrowed). */
    struct sb_flag ended;                  /* Raised when the loop has ended. */
    struct sb_io *io;                      /* Owned; created on the shard's thread. */
    struct sb_arena arena;                 /* Owned start-up memory. */
    struct sb_timer_heap timers;           /* Carved from the arena. */
    struct sb_outbox outbox;               /* Carved from the arena. */
    void *user;                            /* Application state (borrowed). */
    bool started;                          /* hooks.start succeeded. */
    bool stop_seen;                        /* hooks.stop has run. */
    bool abandon_messages;                 /* Start failed somewhere: stop without draining. */
    bool loop_ended;                       /* The loop will not iterate again. */
    int result;                            /* 0, or the error that ended the shard. */
    uint64_t stop_started_ns;              /* When this shard saw stop. */
    struct sb_shard_stats stats;           /* Counters (owner thread only). */
    pthread_t thread;                      /* URING backend: the shard's thread. */
};

/* On the shard's thread: creates the io, arena, timers and outbox, then runs hooks.start.
 * Returns 0 or the first error (the shard is then marked ended and drained). */
int sb_shard_setup(struct sb_shard *shard);
/* One loop iteration (see shard.h). `may_sleep`: wait in the io if idle. Returns true if the
 * iteration did any work. Sets loop_ended when shutdown completes or on a fatal io error. */
bool sb_shard_iterate(struct sb_shard *shard, bool may_sleep);
/* On the shard's thread after the loop: hooks.finish, then frees io, arena. */
void sb_shard_teardown(struct sb_shard *shard);

#endif /* SB_CORE_SHARD_PRIVATE_H */
