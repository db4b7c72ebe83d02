/*
 * test/core/test_runtime.c - shards talking through the mesh on real
 * threads (io_uring backend): request/response with 1, 2 and 4 shards
 * (more shards than CPUs included), per-sender order, payload memory returning
 * to the shard that allocated it, overflow order and back-pressure, a
 * sleep/wake stress that hangs (and times out) if a wake-up is ever lost,
 * shutdown with traffic in flight, and start-up failure; and the same shards
 * stepped on the test's thread by the simulator backend, including the end
 * of a run by power loss (sb_runtime_abandon).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdatomic.h>
#include <time.h>

#include "core/arena.h"
#include "core/pool.h"
#include "core/runtime.h"
#include "core/sim.h"

enum {
    MESSAGE_REQUEST = 16,
    MESSAGE_REPLY = 17,
};

struct peer_state {
    uint64_t sent;          /* Requests sent to this peer. */
    uint64_t replied;       /* Replies received from this peer. */
    uint64_t next_expected; /* Next request sequence expected from this peer. */
};

struct app_shard {
    struct sb_pool payloads;              /* Request payloads, owned by this shard. */
    struct peer_state peers[8];           /* Per peer shard. */
    uint64_t errors;                      /* Order, ownership or value violations. */
    uint64_t replies_total;               /* All replies received. */
    uint64_t send_refused;                /* -ENOBUFS from sb_shard_send. */
    bool stopping;                        /* hooks.stop ran: send no new requests. */
};

struct app {
    uint64_t requests_per_peer;    /* 0: unlimited (until stop). */
    uint32_t window;               /* Requests in flight per peer. */
    bool reply_enabled;            /* False: the overflow test only counts arrivals. */
    int fail_start_on_shard;       /* -1, or the shard whose start fails. */
    _Atomic uint32_t shards_done;  /* Shards that received every reply. */
    _Atomic uint64_t shard0_replies; /* Shard 0's replies_total, for the test's thread. */
    struct app_shard shards[8];    /* Per shard state. */
};

static struct app_shard *
app_shard_of(struct sb_shard *shard)
{
    struct app *app = sb_shard_hooks_context(shard);
    return &app->shards[sb_shard_id(shard)];
}

static bool
app_send_request(struct sb_shard *shard, uint32_t peer)
{
    struct app *app = sb_shard_hooks_context(shard);
    struct app_shard *state = app_shard_of(shard);
    struct peer_state *peer_state = &state->peers[peer];
    if (state->stopping ||
        (app->requests_per_peer != 0 && peer_state->sent == app->requests_per_peer)) {
        return false;
    }
    uint64_t *payload = sb_pool_acquire(&state->payloads);
    cr_assert_not_null(payload, "window bounds the payloads in flight");
    *payload = peer_state->sent * 3;
    struct sb_msg message = {.type = MESSAGE_REQUEST, .payload = payload};
    message.request_sequence = peer_state->sent;
    if (sb_shard_send(shard, peer, &message) != 0) {
        sb_pool_release(&state->payloads, payload);
        state->send_refused++;
        return false;
    }
    peer_state->sent++;
    return true;
}

static int
app_start(struct sb_shard *shard)
{
    struct app *app = sb_shard_hooks_context(shard);
    if ((int)sb_shard_id(shard) == app->fail_start_on_shard) {
        return -EADDRINUSE;
    }
    struct app_shard *state = app_shard_of(shard);
    int result = sb_pool_init(&state->payloads, sb_shard_arena(shard), sizeof(uint64_t), 8,
                              app->window * sb_shard_count(shard));
    cr_assert_eq(result, 0);
    for (uint32_t peer = 0; peer < sb_shard_count(shard); peer++) {
        for (uint32_t index = 0; index < app->window; index++) {
            app_send_request(shard, peer);
        }
    }
    return 0;
}

static void
app_on_request(struct sb_shard *shard, struct app_shard *state, const struct sb_msg *message)
{
    struct peer_state *from = &state->peers[message->source_shard];
    state->errors += message->request_sequence != from->next_expected;
    from->next_expected = message->request_sequence + 1;
    struct sb_msg reply = *message;
    reply.type = MESSAGE_REPLY;
    reply.arguments[0] = *(uint64_t *)message->payload + 1;
    cr_assert_eq(sb_shard_send(shard, message->source_shard, &reply), 0);
}

static void
app_on_reply(struct sb_shard *shard, struct app_shard *state, const struct sb_msg *message)
{
    struct app *app = sb_shard_hooks_context(shard);
    uint64_t *payload = message->payload;
    state->errors += !sb_shard_owns(shard, payload) || !sb_pool_owns(&state->payloads, payload);
    state->errors += message->arguments[0] != message->request_sequence * 3 + 1;
    sb_pool_release(&state->payloads, payload);
    state->peers[message->source_shard].replied++;
    state->replies_total++;
    if (sb_shard_id(shard) == 0) {
        atomic_store_explicit(&app->shard0_replies, state->replies_total, memory_order_relaxed);
    }
    app_send_request(shard, message->source_shard);
    uint64_t expected = app->requests_per_peer * sb_shard_count(shard);
    if (app->requests_per_peer != 0 && state->replies_total == expected) {
        atomic_fetch_add(&app->shards_done, 1);
    }
}

static void
app_message(struct sb_shard *shard, const struct sb_msg *message)
{
    struct app *app = sb_shard_hooks_context(shard);
    struct app_shard *state = app_shard_of(shard);
    if (!app->reply_enabled) {
        struct peer_state *from = &state->peers[message->source_shard];
        state->errors += message->request_sequence != from->next_expected;
        from->next_expected = message->request_sequence + 1;
        return;
    }
    if (message->type == MESSAGE_REQUEST) {
        app_on_request(shard, state, message);
    } else {
        app_on_reply(shard, state, message);
    }
}

static void
app_stop(struct sb_shard *shard)
{
    app_shard_of(shard)->stopping = true;
}

static bool
app_drained(struct sb_shard *shard)
{
    struct app_shard *state = app_shard_of(shard);
    for (uint32_t peer = 0; peer < sb_shard_count(shard); peer++) {
        if (state->peers[peer].sent != state->peers[peer].replied) {
            return false;
        }
    }
    return true;
}

static struct sb_runtime_config
app_config(struct app *app, uint32_t shard_count, enum sb_io_doorbell doorbell)
{
    struct sb_runtime_config config = {
        .shard_count = shard_count,
        .backend = SB_IO_BACKEND_URING,
        .doorbell = doorbell,
        .pin_threads = true,
        .hooks = {.start = app_start, .stop = app_stop, .drained = app_drained,
                  .message = app_message, .context = app},
    };
    return config;
}

static void
sleep_ms(long milliseconds)
{
    struct timespec delay = {.tv_sec = milliseconds / 1000,
                             .tv_nsec = (milliseconds % 1000) * 1000000};
    nanosleep(&delay, NULL);
}

/* Runs until every shard has all its replies (or `limit_ms` passes), then stops. */
static void
run_request_response(struct app *app, uint32_t shard_count, enum sb_io_doorbell doorbell,
                     uint64_t idle_wait_ns)
{
    struct sb_runtime_config config = app_config(app, shard_count, doorbell);
    config.idle_wait_ns = idle_wait_ns;
    struct sb_runtime *runtime;
    cr_assert_eq(sb_runtime_create(&config, &runtime), 0);
    cr_assert_eq(sb_runtime_start(runtime), 0);
    /* Bounded: a lost wake-up shows up as the Criterion timeout of the calling test. */
    while (atomic_load(&app->shards_done) < shard_count) {
        sleep_ms(1);
    }
    sb_runtime_stop(runtime);
    cr_assert_eq(sb_runtime_wait(runtime), 0);
    sb_runtime_destroy(runtime);
}

static void
check_all_replied(struct app *app, uint32_t shard_count)
{
    for (uint32_t id = 0; id < shard_count; id++) {
        struct app_shard *state = &app->shards[id];
        cr_assert_eq(state->errors, 0, "shard %u saw order or ownership errors", id);
        for (uint32_t peer = 0; peer < shard_count; peer++) {
            cr_assert_eq(state->peers[peer].sent, state->peers[peer].replied);
            if (app->requests_per_peer != 0) {
                cr_assert_eq(state->peers[peer].replied, app->requests_per_peer);
            }
        }
        cr_assert_eq(sb_pool_available(&state->payloads), state->payloads.capacity,
                     "every payload came home to shard %u", id);
    }
}

static void
request_response_with(uint32_t shard_count)
{
    static struct app app;
    memset(&app, 0, sizeof(app));
    app.requests_per_peer = 20000;
    app.window = 64;
    app.reply_enabled = true;
    app.fail_start_on_shard = -1;
    run_request_response(&app, shard_count, SB_IO_DOORBELL_MSG_RING, 0);
    check_all_replied(&app, shard_count);
}

Test(runtime, request_response_one_shard, .timeout = 60)
{
    request_response_with(1);
}

Test(runtime, request_response_two_shards, .timeout = 60)
{
    request_response_with(2);
}

Test(runtime, request_response_four_shards, .timeout = 120)
{
    request_response_with(4);
}

/* One message in flight per pair, so every hop finds the receiver asleep. With a one-minute
 * idle sleep, a single lost wake-up stalls the test past its timeout. (Checked: removing the
 * fences from ring.c's handshake makes this test time out in most runs.) */
static void
sleep_wake_stress(enum sb_io_doorbell doorbell)
{
    static struct app app;
    memset(&app, 0, sizeof(app));
    app.requests_per_peer = 100000;
    app.window = 1;
    app.reply_enabled = true;
    app.fail_start_on_shard = -1;
    run_request_response(&app, 2, doorbell, 60ull * 1000000000ull);
    check_all_replied(&app, 2);
}

Test(runtime, sleep_wake_stress_msg_ring, .timeout = 50)
{
    sleep_wake_stress(SB_IO_DOORBELL_MSG_RING);
}

Test(runtime, sleep_wake_stress_eventfd, .timeout = 50)
{
    sleep_wake_stress(SB_IO_DOORBELL_EVENTFD);
}

Test(runtime, shutdown_with_traffic_in_flight, .timeout = 60)
{
    static struct app app;
    memset(&app, 0, sizeof(app));
    app.requests_per_peer = 0;
    app.window = 32;
    app.reply_enabled = true;
    app.fail_start_on_shard = -1;
    struct sb_runtime_config config = app_config(&app, 2, SB_IO_DOORBELL_MSG_RING);
    struct sb_runtime *runtime;
    cr_assert_eq(sb_runtime_create(&config, &runtime), 0);
    cr_assert_eq(sb_runtime_start(runtime), 0);
    /* Stop only once traffic flows both ways at full window (bounded by the test timeout). */
    while (atomic_load_explicit(&app.shard0_replies, memory_order_relaxed) < 10000) {
        sleep_ms(1);
    }
    sb_runtime_stop(runtime);
    cr_assert_eq(sb_runtime_wait(runtime), 0);
    sb_runtime_destroy(runtime);
    cr_assert_gt(app.shards[0].replies_total, 0, "traffic was flowing when stop came");
    check_all_replied(&app, 2);
}

Test(runtime, start_failure_is_reported_and_cleaned_up, .timeout = 30)
{
    static struct app app;
    memset(&app, 0, sizeof(app));
    app.requests_per_peer = 10;
    app.window = 1;
    app.reply_enabled = true;
    app.fail_start_on_shard = 1;
    struct sb_runtime_config config = app_config(&app, 2, SB_IO_DOORBELL_MSG_RING);
    struct sb_runtime *runtime;
    cr_assert_eq(sb_runtime_create(&config, &runtime), 0);
    cr_assert_eq(sb_runtime_start(runtime), -EADDRINUSE);
    sb_runtime_destroy(runtime);
}

static int
overflow_start(struct sb_shard *shard)
{
    struct app *app = sb_shard_hooks_context(shard);
    struct app_shard *state = app_shard_of(shard);
    if (sb_shard_id(shard) != 0) {
        return 0;
    }
    /* Far more than one ring holds, all before the first flush. */
    for (uint64_t sequence = 0; sequence < app->requests_per_peer; sequence++) {
        struct sb_msg message = {.type = MESSAGE_REQUEST, .request_sequence =
                                     state->peers[1].sent};
        if (sb_shard_send(shard, 1, &message) == 0) {
            state->peers[1].sent++;
        } else {
            state->send_refused++;
        }
    }
    return 0;
}

static bool
overflow_drained(struct sb_shard *shard)
{
    struct app *app = sb_shard_hooks_context(shard);
    return sb_shard_id(shard) == 0 ||
           app->shards[1].peers[0].next_expected == app->shards[0].peers[1].sent;
}

static struct app *
overflow_run(uint32_t overflow_messages, uint64_t messages)
{
    static struct app app;
    memset(&app, 0, sizeof(app));
    app.requests_per_peer = messages;
    app.fail_start_on_shard = -1;
    struct sb_runtime_config config = {
        .shard_count = 2,
        .doorbell = SB_IO_DOORBELL_MSG_RING,
        .overflow_messages = overflow_messages,
        .hooks = {.start = overflow_start, .drained = overflow_drained,
                  .message = app_message, .context = &app},
    };
    struct sb_runtime *runtime;
    cr_assert_eq(sb_runtime_create(&config, &runtime), 0);
    cr_assert_eq(sb_runtime_start(runtime), 0);
    sb_runtime_stop(runtime);
    cr_assert_eq(sb_runtime_wait(runtime), 0);
    sb_runtime_destroy(runtime);
    cr_assert_eq(app.shards[1].errors, 0, "overflow delivered out of order");
    cr_assert_eq(app.shards[1].peers[0].next_expected, app.shards[0].peers[1].sent,
                 "every accepted message arrived");
    return &app;
}

Test(runtime, overflow_keeps_order, .timeout = 30)
{
    struct app *app = overflow_run(4096, 3 * SB_RING_SLOTS + 17);
    cr_assert_eq(app->shards[0].send_refused, 0);
    cr_assert_eq(app->shards[0].peers[1].sent, 3 * SB_RING_SLOTS + 17);
}

Test(runtime, overflow_pool_exhaustion_is_back_pressure, .timeout = 30)
{
    static const uint32_t overflow_nodes = 16;
    struct app *app = overflow_run(overflow_nodes, SB_RING_SLOTS + overflow_nodes + 100);
    cr_assert_eq(app->shards[0].send_refused, 100, "sends beyond ring + overflow are refused");
    cr_assert_eq(app->shards[0].peers[1].sent, SB_RING_SLOTS + overflow_nodes);
}

/* Steps shards of the sim backend until every shard has its replies; returns the steps. */
static uint32_t
sim_step_until_replied(struct sb_runtime *runtime, struct app *app, uint32_t shard_count)
{
    uint32_t steps = 0;
    for (; steps < 1000000 && atomic_load(&app->shards_done) < shard_count; steps++) {
        cr_assert(sb_runtime_step(runtime));
    }
    return steps;
}

static _Atomic uint32_t sim_finished;
static _Atomic uint32_t sim_abandoned;

static void
sim_abandon(struct sb_shard *shard)
{
    (void)shard;
    cr_assert_eq(atomic_load(&sim_finished), 0, "every abandon runs before any finish");
    atomic_fetch_add(&sim_abandoned, 1);
}

static void
sim_finish(struct sb_shard *shard)
{
    (void)shard;
    atomic_fetch_add(&sim_finished, 1);
}

/* A world for `seed` in *sim_out and two stepped shards in it, started; counters zeroed. */
static struct sb_runtime *
sim_runtime(struct app *app, uint64_t seed, struct sb_sim **sim_out)
{
    struct sb_sim_config sim_config = {.seed = seed};
    cr_assert_eq(sb_sim_create(&sim_config, sim_out), 0);
    atomic_store(&sim_finished, 0);
    atomic_store(&sim_abandoned, 0);
    memset(app, 0, sizeof(*app));
    app->requests_per_peer = 500;
    app->window = 8;
    app->reply_enabled = true;
    app->fail_start_on_shard = -1;
    struct sb_runtime_config config = app_config(app, 2, SB_IO_DOORBELL_EVENTFD);
    config.backend = SB_IO_BACKEND_SIM;
    config.sim = *sim_out;
    config.pin_threads = false;
    config.hooks.finish = sim_finish;
    config.hooks.abandon = sim_abandon;
    struct sb_runtime *runtime;
    cr_assert_eq(sb_runtime_create(&config, &runtime), 0);
    cr_assert_eq(sb_runtime_start(runtime), 0);
    return runtime;
}

Test(runtime, sim_steps_shards_on_the_callers_thread, .timeout = 60)
{
    static struct app app;
    struct sb_sim *sim;
    struct sb_runtime *runtime = sim_runtime(&app, 7, &sim);
    cr_assert_lt(sim_step_until_replied(runtime, &app, 2), 1000000);
    sb_runtime_stop(runtime);
    uint32_t steps = 0;
    while (steps < 100000 && sb_runtime_step(runtime)) {
        steps++;
    }
    cr_assert_lt(steps, 100000, "the stepped shards drained and ended");
    cr_assert_eq(sb_runtime_wait(runtime), 0);
    cr_assert_eq(atomic_load(&sim_finished), 2);
    cr_assert_eq(atomic_load(&sim_abandoned), 0, "a clean stop abandons nothing");
    sb_runtime_destroy(runtime);
    check_all_replied(&app, 2);
    sb_sim_destroy(sim);
}

Test(runtime, sim_power_loss_abandons_the_shards, .timeout = 60)
{
    static struct app app;
    struct sb_sim *sim;
    struct sb_runtime *runtime = sim_runtime(&app, 8, &sim);
    for (uint32_t step = 0; step < 50; step++) {
        cr_assert(sb_runtime_step(runtime));
    }
    cr_assert_eq(sb_sim_power_loss(sim, SB_SIM_LOSE_UNSYNCED), 0);
    sb_runtime_abandon(runtime);
    cr_assert_eq(atomic_load(&sim_abandoned), 2, "each shard's abandon ran once");
    cr_assert_eq(atomic_load(&sim_finished), 2, "each shard's finish ran once");
    cr_assert_not(sb_runtime_step(runtime), "nothing is left to step");
    sb_runtime_abandon(runtime);
    cr_assert_eq(atomic_load(&sim_finished), 2, "abandoning twice does nothing more");
    sb_runtime_destroy(runtime);
    sb_sim_destroy(sim);
}
