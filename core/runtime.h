/*
 * core/runtime.h - starts N shards and stops them.
 *
 * With the io_uring backend each shard is a thread pinned to one allowed CPU
 * (shard i on the i-th CPU of the affinity mask, wrapping when there are more
 * shards than CPUs). With the sim backend the shards run on the caller's
 * thread, one iteration at a time, in a deterministic order (sb_runtime_step).
 *
 * Typical use:
 *   sb_runtime_create(&config, &runtime);
 *   sb_runtime_start(runtime);             // threads up, hooks.start done
 *   sb_runtime_wait_for_signal(runtime);   // SIGINT/SIGTERM -> stop -> join
 *   sb_runtime_destroy(runtime);
 */
#ifndef SB_CORE_RUNTIME_H
#define SB_CORE_RUNTIME_H

#include <stdbool.h>
#include <stdint.h>

#include "core/io.h"
#include "core/shard.h"

struct sb_runtime;
struct sb_sim;

struct sb_runtime_config {
    uint32_t shard_count;             /* 0: one per CPU in the affinity mask. */
    enum sb_io_backend_kind backend;  /* URING (threads) or SIM (stepped on the caller). */
    struct sb_sim *sim;               /* SIM: the world (borrowed). */
    enum sb_io_doorbell doorbell;     /* How senders wake sleeping shards. */
    bool pin_threads;                 /* Pin shard i to an allowed CPU. */
    uint32_t overflow_messages;       /* Per shard; 0: SB_OVERFLOW_MESSAGES_MAX. */
    uint32_t timers_max;              /* Per shard; 0: SB_TIMERS_MAX. */
    uint64_t arena_bytes;             /* Per shard; 0: SB_SHARD_ARENA_BYTES. */
    uint64_t shutdown_timeout_ns;     /* Give up draining after this; 0: 10 s. */
    uint64_t idle_wait_ns;            /* Longest sleep of an idle shard; 0: 1 s. */
    struct sb_shard_hooks hooks;      /* The application (copied). */
};

/* CPUs in the calling thread's affinity mask (at least 1). */
uint32_t sb_runtime_cpus_allowed(void);

/* Validates the config and allocates shards and mesh. Returns 0, SB_ECONFIG or -ENOMEM. */
int sb_runtime_create(const struct sb_runtime_config *config, struct sb_runtime **runtime_out);
/* Frees everything; the runtime must be stopped and waited for (or never started). */
void sb_runtime_destroy(struct sb_runtime *runtime);

/* URING: starts the shard threads and returns once every hooks.start has run; on failure the
 * started shards are stopped and joined and the first error is returned. SIM: creates each
 * shard's io and runs hooks.start on the caller's thread. SIGINT and SIGTERM are blocked in the
 * calling thread (and so in every shard thread) so sb_runtime_wait_for_signal receives them. */
int sb_runtime_start(struct sb_runtime *runtime);
/* Asks every shard to stop. Any thread; idempotent. */
void sb_runtime_stop(struct sb_runtime *runtime);
/* URING: joins the shard threads. Returns 0, or the first shard's fatal error. */
int sb_runtime_wait(struct sb_runtime *runtime);
/* Waits for SIGINT or SIGTERM (or for the shards to end by themselves), then stops and waits.
 * Returns what sb_runtime_wait returns. */
int sb_runtime_wait_for_signal(struct sb_runtime *runtime);

/* SIM: runs one iteration of every live shard in id order, then, if none did any work, moves
 * virtual time to the next event or timer. Returns false once every shard has ended. */
bool sb_runtime_step(struct sb_runtime *runtime);
/* SIM, after sb_sim_power_loss (every io is dead: nothing in flight completes): ends each shard
 * still running as a crash would, without stop or drain: hooks.abandon on each, then on each
 * hooks.finish and its io and arena are freed. sb_runtime_destroy may follow. */
void sb_runtime_abandon(struct sb_runtime *runtime);

/* The shard with `shard_id`, for stats after the run (borrowed until destroy). */
struct sb_shard *sb_runtime_shard(struct sb_runtime *runtime, uint32_t shard_id);

#endif /* SB_CORE_RUNTIME_H */
