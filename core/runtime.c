/*
 * core/runtime.c - creates the mesh and N shards, runs them on pinned threads
 * (io_uring) or steps them on the caller's thread (sim), and stops them on
 * request or on SIGINT/SIGTERM. See runtime.h for the calling sequence.
 *
 * Threads meet at two barriers: after set-up (so every io exists before any
 * doorbell can be rung, and start failures are known to all), and after the
 * loop (so no io is destroyed while another shard might still ring it).
 */
#include "core/runtime.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/assert.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/shard_private.h"
#include "core/sim.h"

/* How often sb_runtime_wait_for_signal checks whether the shards ended by themselves. */
#define RUNTIME_SIGNAL_POLL_NS (100 * SB_NS_PER_MS)

struct sb_runtime {
    struct sb_runtime_config config; /* Copied at create. */
    struct sb_mesh *mesh;            /* Owned. */
    struct sb_shard *shards;         /* shard_count shards (owned). */
    struct sb_flag stop_requested;   /* Raised once by sb_runtime_stop. */
    pthread_barrier_t started;       /* Shards + caller meet after set-up. */
    pthread_barrier_t finished;      /* Shards meet after their loops. */
    bool threads_running;            /* URING: threads exist and are not joined. */
    bool start_failed;               /* Some shard's set-up failed. */
    sigset_t stop_signals;           /* SIGINT and SIGTERM. */
};

uint32_t
sb_runtime_cpus_allowed(void)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) != 0) {
        return 1;
    }
    int count = CPU_COUNT(&set);
    return count > 0 ? (uint32_t)count : 1;
}

/* The `index`-th CPU of the affinity mask, wrapping around. */
static uint32_t
runtime_cpu_for(uint32_t index)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) != 0) {
        return UINT32_MAX;
    }
    uint32_t wanted = index % sb_runtime_cpus_allowed();
    for (uint32_t cpu = 0; cpu < CPU_SETSIZE; cpu++) {
        if (CPU_ISSET(cpu, &set) && wanted-- == 0) {
            return cpu;
        }
    }
    return UINT32_MAX;
}

int
sb_runtime_create(const struct sb_runtime_config *config, struct sb_runtime **runtime_out)
{
    *runtime_out = NULL;
    uint32_t shard_count = config->shard_count != 0 ? config->shard_count
                                                    : sb_runtime_cpus_allowed();
    if (shard_count > SB_SHARDS_MAX || config->hooks.message == NULL ||
        (config->backend == SB_IO_BACKEND_SIM && config->sim == NULL)) {
        return SB_ECONFIG;
    }
    struct sb_runtime *runtime = sb_alloc(sizeof(*runtime));
    if (runtime == NULL) {
        return -ENOMEM;
    }
    runtime->config = *config;
    runtime->config.shard_count = shard_count;
    sb_flag_init(&runtime->stop_requested);
    sigemptyset(&runtime->stop_signals);
    sigaddset(&runtime->stop_signals, SIGINT);
    sigaddset(&runtime->stop_signals, SIGTERM);
    runtime->shards = sb_alloc(shard_count * sizeof(struct sb_shard));
    int result = runtime->shards == NULL ? -ENOMEM : 0;
    if (result == 0) {
        result = sb_mesh_create(shard_count, config->doorbell, &runtime->mesh);
    }
    if (result != 0) {
        sb_free(runtime->shards);
        sb_free(runtime);
        return result;
    }
    for (uint32_t id = 0; id < shard_count; id++) {
        struct sb_shard *shard = &runtime->shards[id];
        shard->id = id;
        shard->cpu = UINT32_MAX;
        shard->config = &runtime->config;
        shard->mesh = runtime->mesh;
        shard->stop_requested = &runtime->stop_requested;
        sb_flag_init(&shard->ended);
    }
    *runtime_out = runtime;
    return 0;
}

void
sb_runtime_destroy(struct sb_runtime *runtime)
{
    if (runtime == NULL) {
        return;
    }
    SB_ASSERT(!runtime->threads_running);
    sb_mesh_destroy(runtime->mesh);
    sb_free(runtime->shards);
    sb_free(runtime);
}

static void
runtime_pin(struct sb_shard *shard)
{
    uint32_t cpu = runtime_cpu_for(shard->id);
    if (cpu == UINT32_MAX) {
        return;
    }
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set) == 0) {
        shard->cpu = cpu;
    } else {
        sb_log_warn("could not pin shard", "cpu=%u", cpu);
    }
}

static int
runtime_first_error(struct sb_runtime *runtime)
{
    for (uint32_t id = 0; id < runtime->config.shard_count; id++) {
        if (runtime->shards[id].result != 0) {
            return runtime->shards[id].result;
        }
    }
    return 0;
}

static void
runtime_mark_ended(struct sb_shard *shard)
{
    sb_flag_raise(&shard->ended);
}

static void *
runtime_thread_main(void *argument)
{
    struct sb_shard *shard = argument;
    struct sb_runtime *runtime = shard->runtime;
    if (runtime->config.pin_threads) {
        runtime_pin(shard);
    }
    sb_shard_setup(shard);
    pthread_barrier_wait(&runtime->started);
    if (runtime_first_error(runtime) != 0) {
        shard->abandon_messages = true;
        sb_runtime_stop(runtime);
    }
    /* The shard loop: unbounded by design, it ends only through the shutdown protocol. */
    while (!shard->loop_ended) {
        sb_shard_iterate(shard, true);
    }
    pthread_barrier_wait(&runtime->finished);
    sb_shard_teardown(shard);
    runtime_mark_ended(shard);
    return NULL;
}

static int
runtime_start_threads(struct sb_runtime *runtime)
{
    uint32_t count = runtime->config.shard_count;
    if (pthread_barrier_init(&runtime->started, NULL, count + 1) != 0 ||
        pthread_barrier_init(&runtime->finished, NULL, count) != 0) {
        return -ENOMEM;
    }
    /* Blocked here, inherited by every shard thread: only the caller receives them. */
    pthread_sigmask(SIG_BLOCK, &runtime->stop_signals, NULL);
    uint32_t created = 0;
    int result = 0;
    for (; created < count; created++) {
        struct sb_shard *shard = &runtime->shards[created];
        result = -pthread_create(&shard->thread, NULL, runtime_thread_main, shard);
        if (result != 0) {
            break;
        }
    }
    if (created < count) {
        /* Cannot meet the barrier with fewer threads: this is fatal at start-up. */
        sb_panic("could not create shard thread %u: %s", created, sb_strerror(result));
    }
    runtime->threads_running = true;
    return 0;
}

int
sb_runtime_start(struct sb_runtime *runtime)
{
    for (uint32_t id = 0; id < runtime->config.shard_count; id++) {
        runtime->shards[id].runtime = runtime;
    }
    if (runtime->config.backend == SB_IO_BACKEND_SIM) {
        int first_error = 0;
        for (uint32_t id = 0; id < runtime->config.shard_count; id++) {
            int result = sb_shard_setup(&runtime->shards[id]);
            first_error = first_error != 0 ? first_error : result;
        }
        sb_log_set_shard(-1);
        if (first_error != 0) {
            for (uint32_t id = 0; id < runtime->config.shard_count; id++) {
                runtime->shards[id].abandon_messages = true;
            }
            runtime->start_failed = true;
            sb_runtime_stop(runtime);
        }
        return first_error;
    }
    int result = runtime_start_threads(runtime);
    if (result != 0) {
        return result;
    }
    pthread_barrier_wait(&runtime->started);
    result = runtime_first_error(runtime);
    if (result != 0) {
        runtime->start_failed = true;
        sb_runtime_wait(runtime);
    }
    return result;
}

void
sb_runtime_stop(struct sb_runtime *runtime)
{
    if (sb_flag_is_raised(&runtime->stop_requested)) {
        return;
    }
    sb_flag_raise(&runtime->stop_requested);
    if (runtime->config.backend == SB_IO_BACKEND_SIM) {
        return;
    }
    for (uint32_t id = 0; id < runtime->config.shard_count; id++) {
        struct sb_io *io = runtime->mesh->ios[id];
        if (io != NULL && !sb_flag_is_raised(&runtime->shards[id].ended)) {
            sb_io_wake_external(io);
        }
    }
}

int
sb_runtime_wait(struct sb_runtime *runtime)
{
    if (runtime->threads_running) {
        for (uint32_t id = 0; id < runtime->config.shard_count; id++) {
            pthread_join(runtime->shards[id].thread, NULL);
        }
        runtime->threads_running = false;
        pthread_barrier_destroy(&runtime->started);
        pthread_barrier_destroy(&runtime->finished);
    }
    return runtime_first_error(runtime);
}

static bool
runtime_all_ended(struct sb_runtime *runtime)
{
    for (uint32_t id = 0; id < runtime->config.shard_count; id++) {
        if (!sb_flag_is_raised(&runtime->shards[id].ended)) {
            return false;
        }
    }
    return true;
}

int
sb_runtime_wait_for_signal(struct sb_runtime *runtime)
{
    struct timespec poll = {.tv_sec = 0, .tv_nsec = (long)RUNTIME_SIGNAL_POLL_NS};
    /* Unbounded by design: waits until a signal arrives or every shard has ended. */
    while (!runtime_all_ended(runtime) && !sb_flag_is_raised(&runtime->stop_requested)) {
        int signal_number = sigtimedwait(&runtime->stop_signals, NULL, &poll);
        if (signal_number == SIGINT || signal_number == SIGTERM) {
            sb_log_info("stopping", "signal=%s", signal_number == SIGINT ? "SIGINT" : "SIGTERM");
            break;
        }
    }
    sb_runtime_stop(runtime);
    return sb_runtime_wait(runtime);
}

/* SIM: with no shard busy, moves virtual time to the next io event or timer deadline. */
static void
runtime_sim_advance(struct sb_runtime *runtime)
{
    if (sb_sim_advance(runtime->config.sim)) {
        return;
    }
    uint64_t now_ns = sb_sim_now_ns(runtime->config.sim);
    uint64_t earliest_ns = SB_TIMER_NO_DEADLINE;
    for (uint32_t id = 0; id < runtime->config.shard_count; id++) {
        struct sb_shard *shard = &runtime->shards[id];
        if (!shard->loop_ended) {
            earliest_ns = sb_min_u64(earliest_ns, sb_timer_next_deadline(&shard->timers));
        }
    }
    if (earliest_ns != SB_TIMER_NO_DEADLINE && earliest_ns > now_ns) {
        sb_sim_sleep(runtime->config.sim, earliest_ns - now_ns);
    } else if (sb_flag_is_raised(&runtime->stop_requested)) {
        sb_sim_sleep(runtime->config.sim, SB_NS_PER_MS);
    }
}

/* SIM: no message waits in a ring or an outbox (one sent late in an iteration, after its
 * receiver's turn, must be delivered before time moves on). */
static bool
runtime_sim_messages_settled(struct sb_runtime *runtime)
{
    for (uint32_t id = 0; id < runtime->config.shard_count; id++) {
        struct sb_shard *shard = &runtime->shards[id];
        if (!shard->loop_ended && (!sb_mesh_inbound_empty(runtime->mesh, id) ||
                                   sb_outbox_pending(&shard->outbox, runtime->mesh) != 0)) {
            return false;
        }
    }
    return true;
}

bool
sb_runtime_step(struct sb_runtime *runtime)
{
    SB_ASSERT(runtime->config.backend == SB_IO_BACKEND_SIM);
    bool any_live = false;
    bool any_busy = false;
    for (uint32_t id = 0; id < runtime->config.shard_count; id++) {
        struct sb_shard *shard = &runtime->shards[id];
        if (shard->loop_ended) {
            continue;
        }
        sb_log_set_shard((int)id);
        any_busy = sb_shard_iterate(shard, false) || any_busy;
        any_live = true;
    }
    sb_log_set_shard(-1);
    if (!any_live) {
        for (uint32_t id = 0; id < runtime->config.shard_count; id++) {
            if (!sb_flag_is_raised(&runtime->shards[id].ended)) {
                sb_shard_teardown(&runtime->shards[id]);
                runtime_mark_ended(&runtime->shards[id]);
            }
        }
        return false;
    }
    if (!any_busy && runtime_sim_messages_settled(runtime)) {
        runtime_sim_advance(runtime);
    }
    return true;
}

void
sb_runtime_abandon(struct sb_runtime *runtime)
{
    SB_ASSERT(runtime->config.backend == SB_IO_BACKEND_SIM);
    for (uint32_t id = 0; id < runtime->config.shard_count; id++) {
        struct sb_shard *shard = &runtime->shards[id];
        if (!sb_flag_is_raised(&shard->ended) && shard->started &&
            runtime->config.hooks.abandon != NULL) {
            sb_log_set_shard((int)id);
            runtime->config.hooks.abandon(shard);
        }
    }
    for (uint32_t id = 0; id < runtime->config.shard_count; id++) {
        struct sb_shard *shard = &runtime->shards[id];
        if (!sb_flag_is_raised(&shard->ended)) {
            shard->loop_ended = true;
            sb_log_set_shard((int)id);
            sb_shard_teardown(shard);
            runtime_mark_ended(shard);
        }
    }
    sb_log_set_shard(-1);
}

struct sb_shard *
sb_runtime_shard(struct sb_runtime *runtime, uint32_t shard_id)
{
    SB_ASSERT(shard_id < runtime->config.shard_count);
    return &runtime->shards[shard_id];
}
