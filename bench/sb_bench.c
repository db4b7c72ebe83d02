/*
 * bench/sb_bench.c - sb-bench, the load generator: main and the phases of a run.
 *
 *   parse options -> open driver -> prepare topics -> open consumers (positioned
 *   before anything is sent) -> open producers -> start threads ->
 *   tick every second (progress) -> stop sending (duration, --messages or
 *   SIGINT) -> producers drain their acks -> consumers drain what was
 *   acknowledged (e2e) -> stop -> verification -> summary, JSON -> exit status.
 *
 * Exit status: 0; 1 when any error, lost, duplicated or out-of-order message was
 * counted, when consumers stopped early (records left on a partition, or a partition
 * never answered, at the end of a run not stopped by --messages or a signal), or the
 * driver could not start; 2 for bad usage (also --group with a driver without groups).
 * With --group, e2e's consumers wait until the group gave them every partition before
 * producers open. Start at main.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bench/sb_bench.h"

/* Main loop wake-up, so stop conditions are seen promptly. */
#define MAIN_SLICE_NS (20u * 1000u * 1000u)

static volatile sig_atomic_t interrupted;

static void
on_signal(int signal_number)
{
    (void)signal_number;
    interrupted = 1;
}

static const struct sb_bench_driver *
driver_find(const char *name)
{
    static const struct sb_bench_driver *const drivers[] = {
        &sb_bench_driver_streambus, &sb_bench_driver_nats, &sb_bench_driver_redis};
    for (size_t index = 0; index < sizeof(drivers) / sizeof(drivers[0]); index++) {
        if (strcmp(drivers[index]->name, name) == 0) {
            return drivers[index];
        }
    }
    return NULL;
}

static int
bench_allocate(struct sb_bench *bench)
{
    const struct sb_bench_config *config = &bench->config;
    bench->producers = calloc(config->producers + 1, sizeof(*bench->producers));
    bench->consumers = calloc(config->consumers + 1, sizeof(*bench->consumers));
    bench->topic_names = calloc(config->topic_count, sizeof(*bench->topic_names));
    bench->ack = calloc(1, sizeof(*bench->ack));
    bench->end_to_end = calloc(1, sizeof(*bench->end_to_end));
    bench->tick_ack = calloc(1, sizeof(*bench->tick_ack));
    bench->tick_end_to_end = calloc(1, sizeof(*bench->tick_end_to_end));
    double seconds = config->warmup_s + config->duration_s + config->drain_s + 10;
    bench->series_capacity = seconds < SB_BENCH_SERIES_MAX ? (uint32_t)seconds
                                                           : SB_BENCH_SERIES_MAX;
    bench->series = calloc(bench->series_capacity, sizeof(*bench->series));
    bench->cpu_start = calloc(1, sizeof(*bench->cpu_start));
    bench->cpu_end = calloc(1, sizeof(*bench->cpu_end));
    if (bench->cpu_start == NULL || bench->cpu_end == NULL ||
        bench->producers == NULL || bench->consumers == NULL || bench->topic_names == NULL ||
        bench->ack == NULL || bench->end_to_end == NULL || bench->tick_ack == NULL ||
        bench->tick_end_to_end == NULL || bench->series == NULL) {
        return -ENOMEM;
    }
    for (uint32_t index = 0; index < config->topic_count; index++) {
        sb_bench_topic_name(config, index, bench->topic_names[index], SB_BENCH_NAME_BYTES);
    }
    bool verifying = config->mode == SB_BENCH_E2E || config->mode == SB_BENCH_CONSUME;
    if (verifying) {
        bench->verify = sb_bench_verify_new(config->topic_count * config->partitions);
        if (bench->verify == NULL) {
            return -ENOMEM;
        }
    }
    if (config->group != NULL) {
        bench->group = sb_bench_group_new(config->topic_count * config->partitions);
        if (bench->group == NULL) {
            return -ENOMEM;
        }
    }
    return 0;
}

static void
bench_free(struct sb_bench *bench)
{
    for (uint32_t index = 0; index < bench->config.producers && bench->producers; index++) {
        sb_bench_bitmap_free(&bench->producers[index].acked);
        sb_bench_recorder_deinit(&bench->producers[index].recorder);
        pthread_cond_destroy(&bench->producers[index].wake);
        pthread_mutex_destroy(&bench->producers[index].wake_lock);
    }
    for (uint32_t index = 0; index < bench->config.consumers && bench->consumers; index++) {
        free(bench->consumers[index].assigned);
        sb_bench_recorder_deinit(&bench->consumers[index].recorder);
    }
    sb_bench_verify_free(bench->verify);
    sb_bench_group_free(bench->group);
    sb_bench_reference_free(&bench->reference);
    free(bench->producers);
    free(bench->consumers);
    free(bench->topic_names);
    free(bench->ack);
    free(bench->end_to_end);
    free(bench->tick_ack);
    free(bench->tick_end_to_end);
    free(bench->series);
    free(bench->cpu_start);
    free(bench->cpu_end);
}

/* e2e with --group: polls every consumer until this run's consumers hold every partition
 * and know each position, so nothing sent is missed; bounded by --join-timeout. */
static int
group_join(struct sb_bench *bench)
{
    uint64_t deadline = sb_bench_now_ns() + (uint64_t)(bench->config.join_timeout_s * 1e9);
    while (!sb_bench_group_complete(bench->group)) {
        if (sb_bench_now_ns() >= deadline || interrupted) {
            fprintf(stderr, "sb-bench: group %s: this run's consumers hold %u of %u "
                    "partitions after --join-timeout %.1f s\n", bench->config.group,
                    atomic_load(&bench->group->held), bench->group->partitions_total,
                    bench->config.join_timeout_s);
            return -ETIMEDOUT;
        }
        for (uint32_t index = 0; index < bench->config.consumers; index++) {
            struct sb_bench_consumer *consumer = &bench->consumers[index];
            int result = bench->driver->consumer_poll(consumer->handle, 10);
            if (result < 0) {
                fprintf(stderr, "sb-bench: consumer %u: %s\n", index,
                        sb_bench_strerror(result));
                return result;
            }
        }
    }
    for (uint32_t index = 0; index < bench->config.consumers; index++) {
        int result = bench->driver->consumer_ready(bench->consumers[index].handle);
        if (result < 0) {
            return result;
        }
    }
    return 0;
}

/* Splits the partitions over the consumers round-robin (without --group: with it, the
 * group assigns them as consumers subscribe) and opens each. */
static int
consumers_open(struct sb_bench *bench)
{
    const struct sb_bench_config *config = &bench->config;
    uint32_t total = config->topic_count * config->partitions;
    for (uint32_t index = 0; index < config->consumers; index++) {
        struct sb_bench_consumer *consumer = &bench->consumers[index];
        consumer->index = index;
        consumer->bench = bench;
        sb_bench_recorder_init(&consumer->recorder);
        consumer->assigned = calloc(total / config->consumers + 1 +
                                        (config->group != NULL ? total : 0),
                                    sizeof(uint32_t));
        if (consumer->assigned == NULL) {
            return -ENOMEM;
        }
        for (uint32_t partition = index; partition < total && config->group == NULL;
             partition += config->consumers) {
            consumer->assigned[consumer->assigned_count++] = partition;
        }
    }
    for (uint32_t index = 0; index < config->consumers; index++) {
        struct sb_bench_consumer *consumer = &bench->consumers[index];
        int result = bench->driver->consumer_open(bench->driver_state, consumer,
                                                  &consumer->handle);
        if (result < 0) {
            fprintf(stderr, "sb-bench: consumer %u: %s\n", index, sb_bench_strerror(result));
            return result;
        }
    }
    return config->group != NULL && config->mode == SB_BENCH_E2E ? group_join(bench) : 0;
}

static int
producers_open(struct sb_bench *bench)
{
    const struct sb_bench_config *config = &bench->config;
    for (uint32_t index = 0; index < config->producers; index++) {
        struct sb_bench_producer *producer = &bench->producers[index];
        pthread_condattr_t attributes;
        pthread_condattr_init(&attributes);
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC);
        pthread_cond_init(&producer->wake, &attributes);
        pthread_condattr_destroy(&attributes);
        pthread_mutex_init(&producer->wake_lock, NULL);
        sb_bench_recorder_init(&producer->recorder);
        producer->index = index;
        producer->id = bench->nonce << 12 | index;
        producer->acked_first = UINT64_MAX;
        producer->bench = bench;
        producer->rng = (uint64_t)bench->nonce << 32 | index;
        producer->in_flight_max = config->mode == SB_BENCH_PING ? 1
                                  : config->rate > 0          ? SB_BENCH_IN_FLIGHT_MAX
                                                              : config->max_in_flight;
        int result = bench->driver->producer_open(bench->driver_state, producer,
                                                  &producer->handle);
        if (result < 0) {
            fprintf(stderr, "sb-bench: producer %u: %s\n", index, sb_bench_strerror(result));
            return result;
        }
    }
    return 0;
}

static int
topics_prepare(struct sb_bench *bench)
{
    if (bench->config.mode == SB_BENCH_PING) {
        return 0;
    }
    for (uint32_t index = 0; index < bench->config.topic_count; index++) {
        int result = bench->driver->topic_prepare(bench->driver_state, bench->topic_names[index],
                                                  bench->config.partitions);
        if (result < 0) {
            fprintf(stderr, "sb-bench: topic %s: %s\n", bench->topic_names[index],
                    sb_bench_strerror(result));
            return result;
        }
    }
    return 0;
}

static int
threads_start(struct sb_bench *bench)
{
    const struct sb_bench_config *config = &bench->config;
    bench->start_ns = sb_bench_now_ns();
    bench->last_tick_ns = bench->start_ns;
    bench->measure_start_ns = bench->start_ns + (uint64_t)config->warmup_s * 1000000000u;
    atomic_store(&bench->producers_running, config->producers);
    for (uint32_t index = 0; index < config->consumers; index++) {
        if (pthread_create(&bench->consumers[index].thread, NULL, sb_bench_consumer_main,
                           &bench->consumers[index]) != 0) {
            return -EAGAIN;
        }
    }
    void *(*main_of_producer)(void *) = config->mode == SB_BENCH_PING ? sb_bench_ping_main
                                                                      : sb_bench_producer_main;
    for (uint32_t index = 0; index < config->producers; index++) {
        if (pthread_create(&bench->producers[index].thread, NULL, main_of_producer,
                           &bench->producers[index]) != 0) {
            return -EAGAIN;
        }
    }
    return 0;
}

/* True once the consumers got everything they are waiting for, or should stop. */
static bool
consumers_done(struct sb_bench *bench, uint64_t now, uint64_t drain_deadline)
{
    if (atomic_load(&bench->stop_consuming) || bench->config.consumers == 0) {
        return true;
    }
    if (now >= drain_deadline || interrupted) {
        return true;
    }
    if (bench->config.mode == SB_BENCH_E2E) {
        return atomic_load(&bench->received_total) >= atomic_load(&bench->acked_total);
    }
    return bench->config.mode != SB_BENCH_CONSUME;
}

/* Consume mode: true once records stopped coming for --idle-stop seconds (with --group,
 * while this run's consumers hold every partition: not in the middle of a rebalance). */
static bool
consume_idle(struct sb_bench *bench, uint64_t now, uint64_t *seen, uint64_t *changed_ns)
{
    uint64_t received = atomic_load(&bench->received_total);
    if (received != *seen || (bench->group != NULL && !sb_bench_group_complete(bench->group))) {
        *seen = received;
        *changed_ns = now;
        return false;
    }
    return bench->config.mode == SB_BENCH_CONSUME && received > 0 &&
           now - *changed_ns >= (uint64_t)(bench->config.idle_stop_s * 1e9);
}

/* CPU seconds (user + system) this process used so far. */
static double
process_cpu_s(void)
{
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    return (double)usage.ru_utime.tv_sec + (double)usage.ru_utime.tv_usec / 1e6 +
           (double)usage.ru_stime.tv_sec + (double)usage.ru_stime.tv_usec / 1e6;
}

/* Samples the threads' CPU at the end of the warm-up (start) or when sending stops (a
 * run stopped within its warm-up is sampled twice then: a window of 0, not judged). */
static void
generator_sample(struct sb_bench *bench, bool start)
{
    if (!bench->cpu_sampled) {
        bench->cpu_sampled = true;
        bench->cpu_measure_start_s = process_cpu_s();
        if (sb_bench_cpu_sample(bench->cpu_start, SB_BENCH_TASK_DIRECTORY) < 0) {
            bench->cpu_start->count = 0;
        }
    }
    if (!start) {
        *bench->cpu_end = *bench->cpu_start;
        if (sb_bench_cpu_sample(bench->cpu_end, SB_BENCH_TASK_DIRECTORY) < 0) {
            bench->cpu_end->count = 0;
        }
    }
}

/* Ticks every second until every phase ended. */
static void
run_loop(struct sb_bench *bench)
{
    const struct sb_bench_config *config = &bench->config;
    uint64_t send_end = bench->measure_start_ns + (uint64_t)(config->duration_s * 1e9);
    uint64_t drain_deadline = UINT64_MAX;
    uint64_t next_tick = bench->start_ns + 1000000000u;
    uint64_t seen = 0;
    uint64_t changed_ns = bench->start_ns;
    for (;;) {
        uint64_t now = sb_bench_now_ns();
        if (!bench->cpu_sampled && now >= bench->measure_start_ns) {
            generator_sample(bench, true);
        }
        if (now >= next_tick) {
            sb_bench_report_tick(bench, now, true);
            next_tick += 1000000000u;
        }
        if (consume_idle(bench, now, &seen, &changed_ns)) {
            bench->caught_up = true;
            atomic_store(&bench->stop_consuming, true);
        }
        bool sending = !atomic_load(&bench->stop_sending);
        bool finished = config->producers > 0 ? atomic_load(&bench->producers_running) == 0
                                              : atomic_load(&bench->stop_consuming);
        if (sending && (now >= send_end || interrupted || finished)) {
            bench->send_stop_ns = now;
            generator_sample(bench, false);
            atomic_store(&bench->stop_sending, true);
            drain_deadline = now + (uint64_t)(config->drain_s * 1e9);
            if (config->mode == SB_BENCH_CONSUME) {
                atomic_store(&bench->stop_consuming, true);
            }
        }
        if (!sending && atomic_load(&bench->producers_running) == 0 &&
            consumers_done(bench, now, drain_deadline)) {
            break;
        }
        struct timespec pause = {0, MAIN_SLICE_NS};
        nanosleep(&pause, NULL);
    }
    atomic_store(&bench->stop_consuming, true);
    atomic_store(&bench->stop_sending, true);
}

static void
threads_join(struct sb_bench *bench)
{
    for (uint32_t index = 0; index < bench->config.producers; index++) {
        pthread_join(bench->producers[index].thread, NULL);
    }
    for (uint32_t index = 0; index < bench->config.consumers; index++) {
        pthread_join(bench->consumers[index].thread, NULL);
    }
    sb_bench_report_tick(bench, sb_bench_now_ns(), true);
}

/* True when consumers stopped on purpose before the end: --messages or a signal. */
static bool
consumers_stopped_on_purpose(struct sb_bench *bench)
{
    return interrupted || (bench->config.mode == SB_BENCH_CONSUME &&
                           bench->config.message_count != 0 &&
                           atomic_load(&bench->received_total) >= bench->config.message_count);
}

/* Asks each consumer what it left behind (records of its partitions not delivered, or
 * partitions never answered); a consume run that went idle with records left is not
 * caught up, and consumers that stopped with records left did so early. */
static void
consumers_behind(struct sb_bench *bench)
{
    struct sb_bench_behind *behind = &bench->behind;
    if (bench->driver->consumer_lag == NULL) {
        return;
    }
    for (uint32_t index = 0; index < bench->config.consumers; index++) {
        struct sb_bench_consumer *consumer = &bench->consumers[index];
        for (uint32_t slot = 0; slot < consumer->assigned_count; slot++) {
            uint64_t lag = 0;
            int result = bench->driver->consumer_lag(consumer->handle, slot, &lag);
            if (result == 0 && lag == 0) {
                continue;
            }
            behind->records += result == 0 ? lag : 0;
            if (behind->partitions < SB_BENCH_NAMED_MAX) {
                behind->named[behind->partitions] = consumer->assigned[slot];
            }
            behind->partitions++;
        }
    }
    if (behind->partitions > 0) {
        bench->caught_up = false;
        behind->stopped_early = !consumers_stopped_on_purpose(bench);
    }
}

static void
verify_finish(struct sb_bench *bench)
{
    if (bench->verify == NULL) {
        return;
    }
    bench->duplicated = atomic_load(&bench->verify->duplicated);
    bench->out_of_order = atomic_load(&bench->verify->out_of_order);
    if (bench->config.mode == SB_BENCH_CONSUME && bench->config.verify_against != NULL) {
        /* Every acknowledged record is due: a run that stopped for any reason but
         * --messages or a signal before they all arrived lost them. */
        bool partial = consumers_stopped_on_purpose(bench);
        bench->lost_checked = !partial;
        for (uint32_t index = 0; index < bench->reference.count && !partial; index++) {
            bench->lost += sb_bench_verify_lost_range(bench->verify,
                                                      &bench->reference.producers[index]);
        }
        return;
    }
    if (bench->config.mode == SB_BENCH_CONSUME) {
        bench->lost_checked = bench->caught_up;
        bench->lost = bench->caught_up ? sb_bench_verify_lost_gaps(bench->verify) : 0;
        return;
    }
    bench->lost_checked = true;
    for (uint32_t index = 0; index < bench->config.producers; index++) {
        struct sb_bench_producer *producer = &bench->producers[index];
        bench->lost += sb_bench_verify_lost_acked(bench->verify, producer->id, &producer->acked,
                                                  producer->next_sequence);
    }
}

/* The generator's cost after the warm-up and whether it was the bottleneck. */
static void
generator_finish(struct sb_bench *bench)
{
    const struct sb_bench_config *config = &bench->config;
    struct sb_bench_generator *generator = &bench->generator;
    bool paced = config->rate > 0 && config->message_count == 0 &&
                 config->mode != SB_BENCH_PING && config->producers > 0;
    generator->cpu_s = process_cpu_s() - bench->cpu_measure_start_s;
    generator->messages = config->mode == SB_BENCH_CONSUME ? bench->totals.received
                                                           : bench->totals.sent;
    generator->cores_allowed = sb_bench_cores_allowed();
    for (uint32_t index = 0; index < config->producers && config->mode != SB_BENCH_PING;
         index++) {
        generator->due += bench->producers[index].due_count;
        generator->sent += bench->producers[index].next_sequence;
    }
    generator->due = paced ? generator->due : UINT64_MAX;
    sb_bench_generator_judge(generator, bench->cpu_start, bench->cpu_end);
}

static void
handles_close(struct sb_bench *bench)
{
    for (uint32_t index = 0; index < bench->config.producers; index++) {
        if (bench->producers[index].handle != NULL) {
            bench->driver->producer_close(bench->producers[index].handle);
        }
    }
    for (uint32_t index = 0; index < bench->config.consumers; index++) {
        if (bench->consumers[index].handle != NULL) {
            bench->driver->consumer_close(bench->consumers[index].handle);
        }
    }
}

/* Prints the summary, writes the JSON; returns the exit status. */
static int
bench_finish(struct sb_bench *bench)
{
    consumers_behind(bench);
    verify_finish(bench);
    sb_bench_report_summary(bench);
    int status = 0;
    if (bench->config.json_path != NULL) {
        int result = sb_bench_report_json(bench, bench->config.json_path);
        if (result < 0) {
            fprintf(stderr, "sb-bench: %s: %s\n", bench->config.json_path, strerror(-result));
            status = 1;
        }
    }
    sb_bench_report_generator_warnings(bench);
    if (bench->lost != 0 || bench->duplicated != 0 || bench->out_of_order != 0) {
        fprintf(stderr, "sb-bench: FAILED verification: lost %llu, duplicated %llu, "
                "out of order %llu\n", (unsigned long long)bench->lost,
                (unsigned long long)bench->duplicated, (unsigned long long)bench->out_of_order);
        status = 1;
    }
    if (bench->behind.stopped_early) {
        fprintf(stderr, "sb-bench: FAILED: consumers stopped early: %u partition(s) with "
                "records left (%llu known) or never answered\n", bench->behind.partitions,
                (unsigned long long)bench->behind.records);
        status = 1;
    }
    if (bench->totals.errors != 0) {
        fprintf(stderr, "sb-bench: %llu error(s); first: %s\n",
                (unsigned long long)bench->totals.errors, bench->first_error);
        status = 1;
    }
    return status;
}

static int
bench_run(struct sb_bench *bench)
{
    int result = bench->driver->open(&bench->config, &bench->driver_state);
    if (result < 0) {
        fprintf(stderr, "sb-bench: %s: %s\n", bench->driver->name, sb_bench_strerror(result));
        return 1;
    }
    result = topics_prepare(bench);
    if (result == 0) {
        result = consumers_open(bench);
    }
    if (result == 0) {
        result = producers_open(bench);
    }
    if (result == 0) {
        double cpu_start_s = process_cpu_s();
        result = threads_start(bench);
        if (result == 0) {
            run_loop(bench);
        }
        atomic_store(&bench->stop_sending, true);
        atomic_store(&bench->stop_consuming, true);
        threads_join(bench);
        generator_sample(bench, true); /* A run that failed before its warm-up ended. */
        generator_finish(bench);
        bench->cpu_s = process_cpu_s() - cpu_start_s;
        bench->elapsed_s = (double)(sb_bench_now_ns() - bench->start_ns) / 1e9;
    }
    int status = result == 0 ? bench_finish(bench) : 1;
    handles_close(bench);
    bench->driver->close(bench->driver_state);
    return status;
}

int
main(int argc, char **argv)
{
    static struct sb_bench bench;
    if (sb_bench_options_parse(&bench.config, argc, argv) != 0) {
        return argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
                   ? 0 : 2;
    }
    bench.driver = driver_find(bench.config.driver);
    if (bench.driver == NULL) {
        fprintf(stderr, "sb-bench: unknown driver '%s' (streambus, nats, redis)\n",
                bench.config.driver);
        return 2;
    }
    if (bench.config.group != NULL && !bench.driver->groups) {
        fprintf(stderr, "sb-bench: --group is not supported by the %s driver\n",
                bench.config.driver);
        return 2;
    }
    bench.nonce = (uint32_t)((sb_bench_now_ns() ^ ((uint64_t)getpid() << 16)) & 0xfffff);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGPIPE, SIG_IGN);
    if (bench.config.verify_against != NULL) {
        int result = sb_bench_reference_load(bench.config.verify_against, &bench.reference);
        if (result < 0) {
            fprintf(stderr, "sb-bench: --verify-against %s: %s\n", bench.config.verify_against,
                    result == -EBADMSG ? "no valid \"acknowledged\" ranges (write it with "
                                         "--json in a produce run)" : strerror(-result));
            return 2;
        }
    }
    int status = 1;
    if (sb_bench_workload_init(&bench.config) == 0 && bench_allocate(&bench) == 0) {
        status = bench_run(&bench);
    } else {
        fprintf(stderr, "sb-bench: out of memory\n");
    }
    bench_free(&bench);
    sb_bench_workload_deinit();
    return status;
}
