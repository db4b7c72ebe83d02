/*
 * bench/bench_ring.c - micro-benchmarks of the shard runtime's messaging:
 *   1. SPSC ring throughput between two pinned threads (messages/s);
 *   2. cross-shard round-trip latency (p50/p99/p99.9) through the runtime,
 *      one message in flight, so every hop finds the receiver asleep and
 *      must ring its doorbell - once with MSG_RING, once with eventfd;
 *   3. the same ping-pong between two pinned threads blocking on pipes, the
 *      kernel's own cross-thread wake-up cost, as the baseline for ratios.
 * Usage: bench_ring [--messages N] [--round-trips N]
 * Run by `meson test --benchmark` (or directly); figures go to BENCHMARKS.md.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/ring.h"
#include "core/runtime.h"

#define PUBLISH_BATCH 32

struct throughput_run {
    struct sb_ring *ring;  /* The ring under test. */
    uint64_t messages;     /* Messages to move. */
    uint32_t cpu;          /* CPU for the producer. */
};

static void
pin_to(uint32_t cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static void *
throughput_producer(void *argument)
{
    struct throughput_run *run = argument;
    pin_to(run->cpu);
    uint64_t next = 0;
    while (next < run->messages) {
        uint32_t pushed = 0;
        struct sb_msg message = {.type = 1};
        while (pushed < PUBLISH_BATCH && next < run->messages) {
            message.request_sequence = next;
            if (!sb_ring_push(run->ring, &message)) {
                break;
            }
            next++;
            pushed++;
        }
        sb_ring_publish(run->ring);
        if (pushed == 0) {
            sched_yield();
        }
    }
    return NULL;
}

static void
bench_throughput(uint64_t messages)
{
    struct throughput_run run = {.messages = messages};
    run.ring = sb_alloc_aligned(sizeof(*run.ring), SB_FALSE_SHARING_BYTES);
    sb_ring_init(run.ring);
    uint32_t cpus = sb_runtime_cpus_allowed();
    run.cpu = cpus > 1 ? 1 : 0;
    pin_to(0);
    pthread_t producer;
    uint64_t start_ns = sb_clock_monotonic_ns();
    pthread_create(&producer, NULL, throughput_producer, &run);
    struct sb_msg batch[SB_RING_DRAIN_BATCH_MAX];
    uint64_t received = 0;
    uint64_t errors = 0;
    while (received < messages) {
        uint32_t count = sb_ring_pop(run.ring, batch, SB_RING_DRAIN_BATCH_MAX);
        for (uint32_t index = 0; index < count; index++) {
            errors += batch[index].request_sequence != received + index;
        }
        received += count;
        if (count == 0) {
            sched_yield();
        }
    }
    uint64_t elapsed_ns = sb_clock_monotonic_ns() - start_ns;
    pthread_join(producer, NULL);
    printf("ring_throughput messages=%llu seconds=%.3f messages_per_second=%.0f "
           "producer_cpu=%u consumer_cpu=0 order_errors=%llu\n",
           (unsigned long long)messages, (double)elapsed_ns / 1e9,
           (double)messages * 1e9 / (double)elapsed_ns, run.cpu, (unsigned long long)errors);
    sb_free(run.ring);
}

struct ping_app {
    uint64_t round_trips;       /* Round trips to measure. */
    uint64_t completed;         /* Round trips done (shard 0 only). */
    uint64_t sent_at_ns;        /* When the ping in flight left shard 0. */
    uint64_t *samples_ns;       /* One latency per round trip. */
};

static void
ping_send(struct sb_shard *shard, struct ping_app *app)
{
    struct sb_msg message = {.type = 16, .request_sequence = app->completed};
    app->sent_at_ns = sb_clock_monotonic_ns();
    if (sb_shard_send(shard, 1, &message) != 0) {
        fprintf(stderr, "send refused\n");
        exit(1);
    }
}

static int
ping_start(struct sb_shard *shard)
{
    if (sb_shard_id(shard) == 0) {
        ping_send(shard, sb_shard_hooks_context(shard));
    }
    return 0;
}

static void
ping_message(struct sb_shard *shard, const struct sb_msg *message)
{
    struct ping_app *app = sb_shard_hooks_context(shard);
    if (sb_shard_id(shard) == 1) {
        struct sb_msg pong = *message;
        sb_shard_send(shard, 0, &pong);
        return;
    }
    app->samples_ns[app->completed++] = sb_clock_monotonic_ns() - app->sent_at_ns;
    if (app->completed < app->round_trips) {
        ping_send(shard, app);
    }
}

static bool
ping_drained(struct sb_shard *shard)
{
    struct ping_app *app = sb_shard_hooks_context(shard);
    return sb_shard_id(shard) != 0 || app->completed == app->round_trips;
}

static int
compare_u64(const void *a, const void *b)
{
    uint64_t left = *(const uint64_t *)a;
    uint64_t right = *(const uint64_t *)b;
    return left < right ? -1 : left > right;
}

static uint64_t
percentile(const uint64_t *sorted, uint64_t count, double fraction)
{
    uint64_t index = (uint64_t)(fraction * (double)(count - 1) + 0.5);
    return sorted[index];
}

static void
bench_round_trip(uint64_t round_trips, enum sb_io_doorbell doorbell, const char *name)
{
    struct ping_app app = {.round_trips = round_trips};
    app.samples_ns = calloc(round_trips, sizeof(uint64_t));
    struct sb_runtime_config config = {
        .shard_count = 2, .doorbell = doorbell, .pin_threads = true,
        .hooks = {.start = ping_start, .message = ping_message, .drained = ping_drained,
                  .context = &app},
    };
    struct sb_runtime *runtime;
    if (sb_runtime_create(&config, &runtime) != 0 || sb_runtime_start(runtime) != 0) {
        fprintf(stderr, "runtime failed to start\n");
        exit(1);
    }
    /* Stop right away: shard 0 reports drained only after the last round trip. */
    sb_runtime_stop(runtime);
    sb_runtime_wait(runtime);
    struct sb_shard_stats stats;
    sb_shard_stats(sb_runtime_shard(runtime, 1), &stats);
    sb_runtime_destroy(runtime);
    qsort(app.samples_ns, round_trips, sizeof(uint64_t), compare_u64);
    printf("round_trip doorbell=%s round_trips=%llu p50_us=%.2f p99_us=%.2f p999_us=%.2f "
           "max_us=%.2f receiver_sleeps=%llu receiver_wakeups=%llu\n",
           name, (unsigned long long)round_trips,
           (double)percentile(app.samples_ns, round_trips, 0.50) / 1e3,
           (double)percentile(app.samples_ns, round_trips, 0.99) / 1e3,
           (double)percentile(app.samples_ns, round_trips, 0.999) / 1e3,
           (double)app.samples_ns[round_trips - 1] / 1e3,
           (unsigned long long)stats.sleeps, (unsigned long long)stats.wakeups);
    free(app.samples_ns);
}

struct pipe_pong {
    int ping[2];         /* Main thread -> ponger. */
    int pong[2];         /* Ponger -> main thread. */
    uint64_t round_trips; /* How many to bounce. */
};

static void *
pipe_ponger(void *argument)
{
    struct pipe_pong *pong = argument;
    pin_to(sb_runtime_cpus_allowed() > 1 ? 1 : 0);
    uint64_t value;
    for (uint64_t round = 0; round < pong->round_trips; round++) {
        if (read(pong->ping[0], &value, sizeof(value)) != sizeof(value) ||
            write(pong->pong[1], &value, sizeof(value)) != sizeof(value)) {
            break;
        }
    }
    return NULL;
}

static void
bench_pipe_baseline(uint64_t round_trips)
{
    struct pipe_pong pong = {.round_trips = round_trips};
    uint64_t *samples = calloc(round_trips, sizeof(uint64_t));
    if (pipe(pong.ping) != 0 || pipe(pong.pong) != 0 || samples == NULL) {
        fprintf(stderr, "pipe baseline failed to start\n");
        exit(1);
    }
    pin_to(0);
    pthread_t ponger;
    pthread_create(&ponger, NULL, pipe_ponger, &pong);
    for (uint64_t round = 0; round < round_trips; round++) {
        uint64_t start_ns = sb_clock_monotonic_ns();
        if (write(pong.ping[1], &round, sizeof(round)) != sizeof(round) ||
            read(pong.pong[0], &round, sizeof(round)) != sizeof(round)) {
            break;
        }
        samples[round] = sb_clock_monotonic_ns() - start_ns;
    }
    pthread_join(ponger, NULL);
    qsort(samples, round_trips, sizeof(uint64_t), compare_u64);
    printf("round_trip baseline=pipe round_trips=%llu p50_us=%.2f p99_us=%.2f p999_us=%.2f "
           "max_us=%.2f\n", (unsigned long long)round_trips,
           (double)percentile(samples, round_trips, 0.50) / 1e3,
           (double)percentile(samples, round_trips, 0.99) / 1e3,
           (double)percentile(samples, round_trips, 0.999) / 1e3,
           (double)samples[round_trips - 1] / 1e3);
    for (int index = 0; index < 2; index++) {
        close(pong.ping[index]);
        close(pong.pong[index]);
    }
    free(samples);
}

int
main(int argc, char **argv)
{
    uint64_t messages = 20000000;
    uint64_t round_trips = 100000;
    for (int index = 1; index + 1 < argc; index += 2) {
        if (strcmp(argv[index], "--messages") == 0) {
            messages = strtoull(argv[index + 1], NULL, 10);
        } else if (strcmp(argv[index], "--round-trips") == 0) {
            round_trips = strtoull(argv[index + 1], NULL, 10);
        }
    }
    if (messages == 0 || round_trips == 0) {
        fprintf(stderr, "usage: bench_ring [--messages N] [--round-trips N]\n");
        return 2;
    }
    printf("cpus_allowed=%u allocator=%s\n", sb_runtime_cpus_allowed(), sb_alloc_name());
    bench_throughput(messages);
    bench_round_trip(round_trips, SB_IO_DOORBELL_MSG_RING, "msg_ring");
    bench_round_trip(round_trips, SB_IO_DOORBELL_EVENTFD, "eventfd");
    bench_pipe_baseline(round_trips);
    return 0;
}
