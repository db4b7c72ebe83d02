/*
 * core/shard.c - one shard's event loop and the accessors application code
 * uses (see shard.h for the iteration order and the shutdown protocol).
 * Start reading at sb_shard_iterate.
 */
#include "core/shard.h"

#include <errno.h>
#include <string.h>

#include "core/assert.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/io.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/shard_private.h"

/* Longest idle sleep; the loop re-checks the world at least this often. */
#define SHARD_IDLE_WAIT_NS (1000 * SB_NS_PER_MS)
/* While stopping, drained shards re-check quiescence this often. */
#define SHARD_STOPPING_WAIT_NS (1 * SB_NS_PER_MS)
#define SHARD_SHUTDOWN_TIMEOUT_NS (10 * SB_NS_PER_S)

uint32_t
sb_shard_id(const struct sb_shard *shard)
{
    return shard->id;
}

uint32_t
sb_shard_count(const struct sb_shard *shard)
{
    return shard->mesh->shard_count;
}

struct sb_io *
sb_shard_io(struct sb_shard *shard)
{
    return shard->io;
}

struct sb_arena *
sb_shard_arena(struct sb_shard *shard)
{
    return &shard->arena;
}

struct sb_timer_heap *
sb_shard_timers(struct sb_shard *shard)
{
    return &shard->timers;
}

void *
sb_shard_hooks_context(const struct sb_shard *shard)
{
    return shard->config->hooks.context;
}

void
sb_shard_set_user(struct sb_shard *shard, void *user)
{
    shard->user = user;
}

void *
sb_shard_user(const struct sb_shard *shard)
{
    return shard->user;
}

uint64_t
sb_shard_now_ns(struct sb_shard *shard)
{
    return sb_io_now_ns(shard->io);
}

int
sb_shard_timer_arm(struct sb_shard *shard, struct sb_timer *timer, uint64_t delay_ns,
                   sb_timer_callback callback, void *context)
{
    return sb_timer_arm(&shard->timers, timer, sb_io_now_ns(shard->io) + delay_ns, callback,
                        context);
}

void
sb_shard_timer_disarm(struct sb_shard *shard, struct sb_timer *timer)
{
    sb_timer_disarm(&shard->timers, timer);
}

int
sb_shard_send(struct sb_shard *shard, uint32_t destination, struct sb_msg *message)
{
    SB_ASSERT(destination < shard->mesh->shard_count);
    message->source_shard = (uint16_t)shard->id;
    int result = sb_outbox_send(&shard->outbox, shard->mesh, destination, message);
    if (result == 0) {
        shard->stats.messages_sent++;
    }
    return result;
}

bool
sb_shard_stopping(const struct sb_shard *shard)
{
    return sb_flag_is_raised(shard->stop_requested);
}

bool
sb_shard_owns(const struct sb_shard *shard, const void *pointer)
{
    const uint8_t *byte = pointer;
    return byte >= shard->arena.base && byte < shard->arena.base + shard->arena.capacity;
}

void
sb_shard_stats(const struct sb_shard *shard, struct sb_shard_stats *stats_out)
{
    *stats_out = shard->stats;
    stats_out->messages_overflowed = shard->outbox.overflowed_total;
    if (shard->io != NULL) {
        stats_out->wakeups = sb_io_wakeups(shard->io);
    }
}

static uint64_t
config_or(uint64_t value, uint64_t fallback)
{
    return value != 0 ? value : fallback;
}

int
sb_shard_setup(struct sb_shard *shard)
{
    const struct sb_runtime_config *config = shard->config;
    sb_log_set_shard((int)shard->id);
    struct sb_io_config io_config = {.backend = config->backend, .sim = config->sim};
    int result = sb_io_create(&io_config, &shard->io);
    if (result == 0) {
        shard->mesh->ios[shard->id] = shard->io;
        result = sb_arena_init(&shard->arena, config_or(config->arena_bytes,
                                                        SB_SHARD_ARENA_BYTES));
    }
    if (result == 0) {
        result = sb_timer_heap_init(&shard->timers, &shard->arena,
                                    (uint32_t)config_or(config->timers_max, SB_TIMERS_MAX));
    }
    if (result == 0) {
        result = sb_outbox_init(&shard->outbox, shard->mesh, shard->id,
                                (uint32_t)config_or(config->overflow_messages,
                                                    SB_OVERFLOW_MESSAGES_MAX),
                                &shard->arena);
    }
    if (result == 0 && config->hooks.start != NULL) {
        result = config->hooks.start(shard);
    }
    shard->started = result == 0;
    if (result != 0) {
        sb_log_error("shard start failed", "error=\"%s\"", sb_strerror(result));
        shard->result = result;
        shard->loop_ended = true;
        sb_activity_set_drained(&shard->mesh->activity[shard->id], true);
    }
    return result;
}

static void
shard_deliver(void *context, const struct sb_msg *message)
{
    struct sb_shard *shard = context;
    shard->stats.messages_received++;
    shard->config->hooks.message(shard, message);
}

/* Shutdown bookkeeping for one iteration; returns true if stop work was started. */
static bool
shard_stop_progress(struct sb_shard *shard, uint64_t now_ns)
{
    const struct sb_shard_hooks *hooks = &shard->config->hooks;
    if (!shard->stop_seen) {
        shard->stop_seen = true;
        shard->stop_started_ns = now_ns;
        if (hooks->stop != NULL) {
            hooks->stop(shard);
        }
        return true;
    }
    if (shard->abandon_messages) {
        /* Another shard never started: messages to it would wait forever. Only the io ops of
         * this shard must finish before its memory goes. */
        shard->loop_ended = sb_io_in_flight(shard->io) == 0;
        return false;
    }
    bool drained = (hooks->drained == NULL || hooks->drained(shard)) &&
                   sb_io_in_flight(shard->io) == 0 &&
                   sb_outbox_pending(&shard->outbox, shard->mesh) == 0 &&
                   sb_mesh_inbound_empty(shard->mesh, shard->id);
    sb_activity_set_drained(&shard->mesh->activity[shard->id], drained);
    if (drained && sb_mesh_quiescent(shard->mesh)) {
        shard->loop_ended = true;
    } else if (now_ns - shard->stop_started_ns >
               config_or(shard->config->shutdown_timeout_ns, SHARD_SHUTDOWN_TIMEOUT_NS)) {
        sb_log_warn("shutdown timed out; leaving work behind", "io_in_flight=%u drained=%d",
                    sb_io_in_flight(shard->io), drained);
        sb_activity_set_drained(&shard->mesh->activity[shard->id], true);
        shard->loop_ended = true;
    }
    return false;
}

/* How long an idle shard may sleep: until its next timer, capped. */
static uint64_t
shard_idle_wait_ns(struct sb_shard *shard, uint64_t now_ns)
{
    uint64_t wait_ns = sb_shard_stopping(shard)
                           ? SHARD_STOPPING_WAIT_NS
                           : config_or(shard->config->idle_wait_ns, SHARD_IDLE_WAIT_NS);
    uint64_t deadline_ns = sb_timer_next_deadline(&shard->timers);
    if (deadline_ns != SB_TIMER_NO_DEADLINE) {
        wait_ns = deadline_ns <= now_ns ? 0 : sb_min_u64(wait_ns, deadline_ns - now_ns);
    }
    return wait_ns;
}

/* Sleeps in the io only after the handshake of ring.h says no message can be missed. */
static int
shard_run_io(struct sb_shard *shard, uint64_t wait_ns)
{
    struct sb_waiter *waiter = &shard->mesh->waiters[shard->id];
    if (wait_ns > 0) {
        sb_waiter_prepare_sleep(waiter);
        if (!sb_mesh_inbound_empty(shard->mesh, shard->id)) {
            sb_waiter_cancel_sleep(waiter);
            wait_ns = 0;
        }
    }
    int ran = sb_io_run(shard->io, wait_ns);
    if (wait_ns > 0) {
        sb_waiter_awake(waiter);
        shard->stats.sleeps++;
    }
    return ran;
}

bool
sb_shard_iterate(struct sb_shard *shard, bool may_sleep)
{
    SB_ASSERT(!shard->loop_ended);
    shard->stats.iterations++;
    uint32_t received = sb_mesh_drain(shard->mesh, shard->id, shard_deliver, shard);
    uint64_t now_ns = sb_io_now_ns(shard->io);
    uint32_t fired = sb_timer_fire_due(&shard->timers, now_ns);
    shard->stats.timers_fired += fired;
    if (shard->config->hooks.iteration_end != NULL) {
        shard->config->hooks.iteration_end(shard);
    }
    uint32_t waiting = sb_outbox_flush(&shard->outbox, shard->mesh, shard->io);
    /* Work done here needs no extra iteration before sleeping: messages it sent are flushed,
     * io it started is submitted by the same run that waits, and the sleep handshake looks
     * at the inbound rings again. Only overflow waiting for ring space must not sleep. */
    bool must_not_sleep = waiting != 0;
    if (sb_shard_stopping(shard)) {
        must_not_sleep = shard_stop_progress(shard, now_ns) || must_not_sleep;
    }
    uint64_t wait_ns = (must_not_sleep || !may_sleep || shard->loop_ended)
                           ? 0 : shard_idle_wait_ns(shard, now_ns);
    int ran = shard_run_io(shard, wait_ns);
    if (ran < 0) {
        sb_log_error("io failed; shard stops", "error=\"%s\"", sb_strerror(ran));
        shard->result = ran;
        shard->loop_ended = true;
        sb_activity_set_drained(&shard->mesh->activity[shard->id], true);
        return false;
    }
    return received != 0 || fired != 0 || waiting != 0 || ran > 0;
}

void
sb_shard_teardown(struct sb_shard *shard)
{
    if (shard->started && shard->config->hooks.finish != NULL) {
        shard->config->hooks.finish(shard);
    }
    if (shard->io != NULL) {
        shard->stats.wakeups = sb_io_wakeups(shard->io);
        sb_io_destroy(shard->io);
        shard->io = NULL;
    }
    if (shard->arena.base != NULL) {
        sb_arena_deinit(&shard->arena);
    }
}
