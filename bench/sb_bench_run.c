/*
 * bench/sb_bench_run.c - the threads of a run and what drivers call back.
 *
 * Producer loop (sb_bench_producer_main):
 *   open loop (--rate): message i of a producer has the intended send time
 *     start + i * interval; after each wake-up the producer sends every message whose
 *     time has come (producer_burst), then sleeps until the next is due but wakes at
 *     most every --pace-us; it records latencies from the intended time, so a stall (of
 *     the server, the client or this loop, or the pace) shows up in every message it
 *     delays (coordinated omission corrected, as wrk2 and HdrHistogram do);
 *   closed loop: at most max_in_flight unacknowledged, latency from the real send.
 * The producer's thread takes no lock per send: sent_count is an atomic only it writes
 * and in flight is next_sequence less the atomic completed. Acknowledgements arrive
 * through sb_bench_producer_complete (on a driver thread, or inside producer_progress
 * for drivers that have no thread), which records the latency under the recorder's lock
 * (uncontended: the reporter takes it once a second), adds to completed and wakes the
 * producer only if it waits; acks that arrive after sending stopped (the drain) are also
 * counted apart, with their largest latency. Consumers poll their driver, which hands each
 * message to sb_bench_consumer_deliver. The reporter (sb_bench_report.c) takes each
 * recorder's figures every second under the recorder's lock, and each producer's
 * sent_count.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#include "bench/sb_bench.h"

/* A failed ping or poll is retried after this long, so an unreachable server is not spun on. */
#define SB_BENCH_ERROR_PAUSE_NS (10 * 1000 * 1000)
/* While draining, the in-flight count is rechecked at least this often. */
#define SB_BENCH_DRAIN_STEP_NS (10 * 1000 * 1000)

/* Longest single wait, so stop flags are seen promptly. */
#define WAIT_SLICE_NS (100u * 1000u * 1000u)
/* Key buffer of a message. */
#define KEY_BYTES 32

void
sb_bench_recorder_init(struct sb_bench_recorder *recorder)
{
    memset(recorder, 0, sizeof(*recorder));
    pthread_mutex_init(&recorder->lock, NULL);
}

void
sb_bench_recorder_deinit(struct sb_bench_recorder *recorder)
{
    pthread_mutex_destroy(&recorder->lock);
}

static void
recorder_error_locked(struct sb_bench_recorder *recorder, const char *what, int error)
{
    recorder->counts.errors++;
    snprintf(recorder->last_error, sizeof(recorder->last_error), "%s: %s", what,
             sb_bench_strerror(error));
}

void
sb_bench_recorder_error(struct sb_bench_recorder *recorder, const char *what, int error)
{
    pthread_mutex_lock(&recorder->lock);
    recorder_error_locked(recorder, what, error);
    pthread_mutex_unlock(&recorder->lock);
}

void
sb_bench_producer_complete(struct sb_bench_producer *producer, uint64_t sequence,
                           uint64_t send_ns, size_t bytes, int error)
{
    struct sb_bench *bench = producer->bench;
    uint64_t now = sb_bench_now_ns();
    if (error == 0 && bench->verify != NULL) {
        sb_bench_bitmap_set(&producer->acked, sequence);
    }
    if (error == 0) {
        atomic_fetch_add(&bench->acked_total, 1);
    }
    /* Uncontended: only the reporter takes this lock too, once a second. */
    pthread_mutex_lock(&producer->recorder.lock);
    if (error != 0) {
        recorder_error_locked(&producer->recorder, "produce", error);
    } else {
        producer->acked_first = sequence < producer->acked_first ? sequence
                                                                 : producer->acked_first;
        producer->acked_last = sequence > producer->acked_last ? sequence : producer->acked_last;
        producer->acked_count++;
        if (atomic_load(&bench->stop_sending)) {
            uint64_t latency_ns = now > send_ns ? now - send_ns : 0;
            producer->drain_acked++;
            producer->drain_ack_max_ns = latency_ns > producer->drain_ack_max_ns
                                             ? latency_ns : producer->drain_ack_max_ns;
        }
        producer->recorder.counts.acked++;
        producer->recorder.counts.acked_bytes += bytes;
        sb_bench_histogram_record_since(&producer->recorder.ack, send_ns, now);
        producer->recorder.last_event_ns = now;
    }
    pthread_mutex_unlock(&producer->recorder.lock);
    /* After the figures: a producer that sees nothing in flight finds them recorded.
     * Sequentially consistent with producer_wait_completion's store of waiting and load
     * of completed: either it sees this completion or this load sees it waiting. */
    atomic_fetch_add(&producer->completed, 1);
    if (atomic_load(&producer->waiting)) {
        pthread_mutex_lock(&producer->wake_lock);
        pthread_cond_signal(&producer->wake);
        pthread_mutex_unlock(&producer->wake_lock);
    }
}

void
sb_bench_consumer_deliver(struct sb_bench_consumer *consumer, const void *value,
                          size_t value_length)
{
    struct sb_bench *bench = consumer->bench;
    uint64_t now = sb_bench_now_ns();
    uint32_t producer_id;
    uint64_t sequence;
    uint64_t send_ns;
    uint32_t partition;
    bool valid = sb_bench_message_parse(value, value_length, &producer_id, &sequence, &send_ns,
                                        &partition);
    if (valid && bench->verify != NULL) {
        sb_bench_verify_deliver(bench->verify, producer_id, sequence, partition);
    } else if (bench->verify != NULL) {
        atomic_fetch_add(&bench->verify->malformed, 1);
    }
    uint64_t received = atomic_fetch_add(&bench->received_total, 1) + 1;
    pthread_mutex_lock(&consumer->recorder.lock);
    if (!valid) {
        recorder_error_locked(&consumer->recorder, "malformed message", -EBADMSG);
    }
    consumer->recorder.counts.received++;
    consumer->recorder.counts.received_bytes += value_length;
    if (valid && bench->config.mode == SB_BENCH_E2E) {
        sb_bench_histogram_record_since(&consumer->recorder.end_to_end, send_ns, now);
    }
    consumer->recorder.last_event_ns = now;
    pthread_mutex_unlock(&consumer->recorder.lock);
    if (bench->config.message_count != 0 && bench->config.mode == SB_BENCH_CONSUME &&
        received >= bench->config.message_count) {
        atomic_store(&bench->stop_consuming, true);
    }
}

/* Messages in flight: sent less completed (completions add to completed on any thread). */
static uint64_t
producer_in_flight(struct sb_bench_producer *producer)
{
    return producer->next_sequence - atomic_load(&producer->completed);
}

/* Sleeps until deadline_ns (at most WAIT_SLICE_NS), or lets a driver without a
 * completion thread receive until then. */
static void
producer_sleep(struct sb_bench_producer *producer, uint64_t deadline_ns)
{
    struct sb_bench *bench = producer->bench;
    uint64_t now = sb_bench_now_ns();
    if (deadline_ns > now + WAIT_SLICE_NS) {
        deadline_ns = now + WAIT_SLICE_NS;
    }
    if (bench->driver->producer_progress != NULL) {
        int result = bench->driver->producer_progress(producer->handle, deadline_ns);
        if (result < 0) {
            sb_bench_recorder_error(&producer->recorder, "receive", result);
        }
        return;
    }
    struct timespec until = {.tv_sec = (time_t)(deadline_ns / 1000000000u),
                             .tv_nsec = (long)(deadline_ns % 1000000000u)};
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL);
}

/* Waits until a completion arrives after completed was seen, or deadline_ns (at most
 * WAIT_SLICE_NS). The condition variable is signalled only while waiting is set, so
 * completions cost no system call while the producer is not waiting. */
static void
producer_wait_completion(struct sb_bench_producer *producer, uint64_t seen,
                         uint64_t deadline_ns)
{
    struct sb_bench *bench = producer->bench;
    uint64_t now = sb_bench_now_ns();
    if (deadline_ns > now + WAIT_SLICE_NS) {
        deadline_ns = now + WAIT_SLICE_NS;
    }
    if (bench->driver->producer_progress != NULL) {
        producer_sleep(producer, deadline_ns);
        return;
    }
    struct timespec until = {.tv_sec = (time_t)(deadline_ns / 1000000000u),
                             .tv_nsec = (long)(deadline_ns % 1000000000u)};
    pthread_mutex_lock(&producer->wake_lock);
    atomic_store(&producer->waiting, true);
    if (atomic_load(&producer->completed) == seen) {
        pthread_cond_timedwait(&producer->wake, &producer->wake_lock, &until);
    }
    atomic_store(&producer->waiting, false);
    pthread_mutex_unlock(&producer->wake_lock);
}

/* Builds and sends the producer's next message with the given send time. Only the
 * producer's thread runs it: no lock (sent_count is read by the reporter). */
static void
producer_send(struct sb_bench_producer *producer, uint8_t *value, uint64_t send_ns)
{
    struct sb_bench *bench = producer->bench;
    const struct sb_bench_config *config = &bench->config;
    char key[KEY_BYTES];
    uint64_t sequence = producer->next_sequence++;
    uint32_t size = sb_bench_message_size(config, &producer->rng);
    size_t key_length = sb_bench_message_key(config, &producer->rng, key, sizeof(key));
    uint32_t topic_index = (uint32_t)((sequence + producer->index) % config->topic_count);
    uint32_t partition = sb_bench_message_partition(config, key, key_length,
                                                    sequence / config->topic_count,
                                                    producer->index);
    sb_bench_message_fill(value, size, producer->id, sequence, send_ns,
                          topic_index * config->partitions + partition);
    struct sb_bench_message message = {
        .topic = bench->topic_names[topic_index], .topic_index = topic_index,
        .partition = partition, .key = key_length > 0 ? key : NULL, .key_length = key_length,
        .value = value, .value_length = size, .sequence = sequence, .send_ns = send_ns};
    atomic_store_explicit(&producer->sent_count, producer->next_sequence,
                          memory_order_relaxed);
    int result = bench->driver->producer_send(producer->handle, &message);
    if (result < 0) {
        atomic_fetch_add(&producer->completed, 1); /* Never in flight. */
        sb_bench_recorder_error(&producer->recorder, "send", result);
    }
}

/* True when --messages is reached (counting this send). */
static bool
producer_count_reached(struct sb_bench *bench)
{
    if (bench->config.message_count == 0) {
        return false;
    }
    return atomic_fetch_add(&bench->sent_total, 1) >= bench->config.message_count;
}

/* The intended time of the producer's first message: producers are staggered. */
static uint64_t
producer_first_ns(const struct sb_bench_producer *producer, double interval_ns)
{
    return producer->bench->start_ns +
           (uint64_t)(interval_ns * producer->index / producer->bench->config.producers);
}

/* Sends every message due (at most SB_BENCH_BURST_MAX, within the in-flight bound)
 * without reading the clock in open loop: each carries its intended time. Returns
 * false once --messages is reached. */
static bool
producer_burst(struct sb_bench_producer *producer, uint8_t *value, uint64_t due,
               uint64_t first_ns, double interval_ns)
{
    uint64_t room = producer->in_flight_max - producer_in_flight(producer);
    uint64_t count = due - producer->next_sequence;
    count = count < room ? count : room;
    count = count < SB_BENCH_BURST_MAX ? count : SB_BENCH_BURST_MAX;
    for (uint64_t index = 0; index < count; index++) {
        if (producer_count_reached(producer->bench)) {
            return false;
        }
        uint64_t send_ns = interval_ns > 0
                               ? first_ns + (uint64_t)(interval_ns * producer->next_sequence)
                               : sb_bench_now_ns();
        producer_send(producer, value, send_ns);
    }
    return true;
}

static void
producer_drain(struct sb_bench_producer *producer)
{
    struct sb_bench *bench = producer->bench;
    uint64_t deadline = sb_bench_now_ns() + (uint64_t)(bench->config.drain_s * 1e9);
    int result = bench->driver->producer_flush(producer->handle,
                                               (int)(bench->config.drain_s * 1000));
    if (result < 0) {
        sb_bench_recorder_error(&producer->recorder, "flush", result);
    }
    for (;;) {
        uint64_t seen = atomic_load(&producer->completed);
        uint64_t now = sb_bench_now_ns();
        if (producer->next_sequence == seen || now >= deadline) {
            break;
        }
        producer_wait_completion(producer, seen, now + SB_BENCH_DRAIN_STEP_NS);
    }
}

/* The producer's loop: after each wake-up it sends every message due (open loop) or
 * fills the in-flight bound (closed loop), then sleeps until the next message is due
 * but wakes at most every --pace-us, or waits for a completion when the bound is full. */
void *
sb_bench_producer_main(void *argument)
{
    struct sb_bench_producer *producer = argument;
    struct sb_bench *bench = producer->bench;
    double interval_ns = bench->config.rate > 0
                             ? 1e9 * bench->config.producers / bench->config.rate : 0;
    uint64_t first_ns = producer_first_ns(producer, interval_ns);
    uint64_t pace_ns = (uint64_t)bench->config.pace_us * 1000u;
    uint64_t woken_ns = 0;
    uint8_t *value = malloc(bench->config.size_max);
    prctl(PR_SET_TIMERSLACK, 1000UL);
    while (value != NULL && !atomic_load(&bench->stop_sending)) {
        uint64_t now = sb_bench_now_ns();
        uint64_t due = sb_bench_pace_due(first_ns, interval_ns, now);
        if (producer->next_sequence >= due) {
            uint64_t next_ns = first_ns + (uint64_t)(interval_ns * producer->next_sequence);
            producer_sleep(producer, next_ns > woken_ns + pace_ns ? next_ns
                                                                  : woken_ns + pace_ns);
            continue;
        }
        uint64_t seen = atomic_load(&producer->completed);
        if (producer->next_sequence - seen >= producer->in_flight_max) {
            producer_wait_completion(producer, seen, now + WAIT_SLICE_NS);
            continue;
        }
        woken_ns = now;
        if (!producer_burst(producer, value, due, first_ns, interval_ns)) {
            break;
        }
    }
    producer->due_count = sb_bench_pace_due(first_ns, interval_ns, bench->send_stop_ns);
    producer_drain(producer);
    free(value);
    atomic_fetch_sub(&bench->producers_running, 1);
    return NULL;
}

static void
pause_after_error(void)
{
    struct timespec pause = {0, SB_BENCH_ERROR_PAUSE_NS};
    nanosleep(&pause, NULL);
}

void *
sb_bench_ping_main(void *argument)
{
    struct sb_bench_producer *producer = argument;
    struct sb_bench *bench = producer->bench;
    double interval_ns = bench->config.rate > 0
                             ? 1e9 * bench->config.producers / bench->config.rate : 0;
    uint64_t next_ns = producer_first_ns(producer, interval_ns);
    prctl(PR_SET_TIMERSLACK, 1000UL);
    while (!atomic_load(&bench->stop_sending) && !producer_count_reached(bench)) {
        uint64_t intended = sb_bench_now_ns();
        if (interval_ns > 0) {
            struct timespec until = {.tv_sec = (time_t)(next_ns / 1000000000u),
                                     .tv_nsec = (long)(next_ns % 1000000000u)};
            clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL);
            intended = next_ns;
            next_ns += (uint64_t)interval_ns;
        }
        pthread_mutex_lock(&producer->recorder.lock);
        producer->recorder.counts.sent++;
        pthread_mutex_unlock(&producer->recorder.lock);
        int result = bench->driver->ping(producer->handle);
        uint64_t now = sb_bench_now_ns();
        pthread_mutex_lock(&producer->recorder.lock);
        if (result < 0) {
            recorder_error_locked(&producer->recorder, "ping", result);
        } else {
            producer->recorder.counts.acked++;
            sb_bench_histogram_record_since(&producer->recorder.ack, intended, now);
            producer->recorder.last_event_ns = now;
        }
        pthread_mutex_unlock(&producer->recorder.lock);
        if (result < 0) {
            pause_after_error();
        }
    }
    atomic_fetch_sub(&bench->producers_running, 1);
    return NULL;
}

void *
sb_bench_consumer_main(void *argument)
{
    struct sb_bench_consumer *consumer = argument;
    struct sb_bench *bench = consumer->bench;
    while (!atomic_load(&bench->stop_consuming)) {
        int result = bench->driver->consumer_poll(consumer->handle, 100);
        if (result < 0) {
            sb_bench_recorder_error(&consumer->recorder, "poll", result);
            pause_after_error();
        }
    }
    return NULL;
}
