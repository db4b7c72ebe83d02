/*
 * bench/sb_bench_report.c - what sb-bench shows: a progress line per second on
 * stderr, the summary table on stdout, and the JSON file (--json) with every
 * figure, both full histograms and the per-second series.
 *
 * sb_bench_report_tick takes every recorder's figures of the last interval under
 * its lock, adds them to the run's totals when the interval started after the
 * warm-up, and appends one entry to the series. Throughput is counted over the
 * measured window: from the end of the warm-up to the last acknowledgement or
 * delivery (so acks of the last sends are counted, and latencies they carry).
 *
 * JSON layout (times in microseconds unless the name says otherwise):
 *   {tool, version, driver, durability, mode, label, config{...}, window_s, elapsed_s,
 *    load_generator_cpu_s, load_generator_cores (its CPU time / elapsed),
 *    generator{cpu_s, messages, cpu_us_per_message (after the warm-up: CPU / messages sent,
 *      consume: received), window_s, cores, cores_allowed, busiest_thread, threads_busy,
 *      judged, due, sent, behind (sb_bench_generator.c: the rule)},
 *    generator_bound, schedule_behind (the rule's verdicts),
 *    produced{messages, bytes, msgs_per_s, mb_per_s, errors, sent},
 *    consumed{messages, bytes, msgs_per_s, mb_per_s, errors},
 *    latency{produce_ack|ping, end_to_end: {count, min_us, mean_us, p50_us, p90_us,
 *            p99_us, p99_9_us, p99_99_us, max_us, histogram: [[low_ns, high_ns, count]]}},
 *    drain{acked, ack_max_us} (acks that came after sending stopped, in produce_ack too;
 *      a largest latency above produce_ack's p99.99 means a message waited for the end),
 *    verified, lost_checked, lost, duplicated, out_of_order, malformed, errors, first_error,
 *    lost_against ("acknowledged": e2e, or consume with --verify-against FILE, then also
 *    verified_against: FILE, else null; "gaps": consume without it; "none": produce, ping),
 *    partitions_empty (delivered nothing), partitions_behind and records_behind (left with
 *    records, or never answered, at the end), stopped_early (so, without --messages or a
 *    signal: the run fails),
 *    acknowledged: [{producer, first, last, count}] (produce, e2e: the smallest and
 *      largest acknowledged sequence of each producer and how many were acknowledged; the
 *      reference --verify-against reads, sb_bench_reference.c),
 *    group (null without --group; sb_bench_group.c lists its members),
 *    series: [{t, warmup, sent, acked, received, msgs_per_s, mb_per_s, errors,
 *              ack_p50_us, ack_p99_us, e2e_p50_us, e2e_p99_us}]}
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/sb_bench.h"
#include "streambus/streambus.h"

/* The percentiles of the summary and the JSON, with their JSON names. */
static const struct {
    double percent;     /* Percentile. */
    const char *name;   /* JSON key. */
    const char *title;  /* Summary column. */
} percentiles[] = {
    {50, "p50_us", "p50"},       {90, "p90_us", "p90"},         {99, "p99_us", "p99"},
    {99.9, "p99_9_us", "p99.9"}, {99.99, "p99_99_us", "p99.99"},
};
#define PERCENTILE_COUNT (sizeof(percentiles) / sizeof(percentiles[0]))

const char *
sb_bench_strerror(int error)
{
    if (error <= -4096) {
        return sb_client_strerror(error);
    }
    return strerror(-error);
}

static void
counts_add(struct sb_bench_counts *into, const struct sb_bench_counts *from)
{
    into->sent += from->sent;
    into->acked += from->acked;
    into->acked_bytes += from->acked_bytes;
    into->errors += from->errors;
    into->received += from->received;
    into->received_bytes += from->received_bytes;
}

/* Moves a recorder's interval figures into the tick scratch and second. */
static void
take_recorder(struct sb_bench *bench, struct sb_bench_recorder *recorder,
              struct sb_bench_second *second)
{
    pthread_mutex_lock(&recorder->lock);
    counts_add(&second->counts, &recorder->counts);
    memset(&recorder->counts, 0, sizeof(recorder->counts));
    sb_histogram_merge(bench->tick_ack, &recorder->ack);
    sb_histogram_merge(bench->tick_end_to_end, &recorder->end_to_end);
    if (recorder->ack.total != 0) {
        sb_histogram_reset(&recorder->ack);
    }
    if (recorder->end_to_end.total != 0) {
        sb_histogram_reset(&recorder->end_to_end);
    }
    if (recorder->last_event_ns > bench->measure_end_ns) {
        bench->measure_end_ns = recorder->last_event_ns;
    }
    if (recorder->last_error[0] != '\0' && bench->first_error[0] == '\0') {
        snprintf(bench->first_error, sizeof(bench->first_error), "%s", recorder->last_error);
    }
    pthread_mutex_unlock(&recorder->lock);
}

static void
print_progress(const struct sb_bench *bench, const struct sb_bench_second *second,
               double seconds)
{
    const struct sb_bench_counts *counts = &second->counts;
    bool consuming = bench->config.mode == SB_BENCH_CONSUME || bench->config.mode == SB_BENCH_E2E;
    uint64_t messages = consuming && bench->config.mode == SB_BENCH_CONSUME ? counts->received
                                                                             : counts->acked;
    uint64_t bytes = consuming && bench->config.mode == SB_BENCH_CONSUME
                         ? counts->received_bytes : counts->acked_bytes;
    fprintf(stderr, "[%6.1fs]%s %9.0f msg/s %8.2f MB/s", second->time_s,
            second->warmup ? " warmup" : "", messages / seconds, bytes / seconds / 1e6);
    if (bench->config.mode != SB_BENCH_CONSUME) {
        fprintf(stderr, "  %s p50 %8.1f us p99 %8.1f us",
                bench->config.mode == SB_BENCH_PING ? "rtt" : "ack",
                second->ack_p50_ns / 1e3, second->ack_p99_ns / 1e3);
    }
    if (bench->config.mode == SB_BENCH_E2E) {
        fprintf(stderr, "  recv %9.0f/s  e2e p50 %8.1f us p99 %8.1f us",
                counts->received / seconds, second->end_to_end_p50_ns / 1e3,
                second->end_to_end_p99_ns / 1e3);
    }
    fprintf(stderr, "  errors %llu\n", (unsigned long long)counts->errors);
}

void
sb_bench_report_tick(struct sb_bench *bench, uint64_t now_ns, bool print)
{
    struct sb_bench_second second = {0};
    sb_histogram_reset(bench->tick_ack);
    sb_histogram_reset(bench->tick_end_to_end);
    for (uint32_t index = 0; index < bench->config.producers; index++) {
        struct sb_bench_producer *producer = &bench->producers[index];
        uint64_t sent = atomic_load_explicit(&producer->sent_count, memory_order_relaxed);
        second.counts.sent += sent - producer->sent_taken;
        producer->sent_taken = sent;
        take_recorder(bench, &producer->recorder, &second);
    }
    for (uint32_t index = 0; index < bench->config.consumers; index++) {
        take_recorder(bench, &bench->consumers[index].recorder, &second);
    }
    double seconds = (double)(now_ns - bench->last_tick_ns) / 1e9;
    second.warmup = bench->last_tick_ns < bench->measure_start_ns;
    second.time_s = (double)(now_ns - bench->start_ns) / 1e9;
    second.ack_p50_ns = sb_histogram_percentile(bench->tick_ack, 50);
    second.ack_p99_ns = sb_histogram_percentile(bench->tick_ack, 99);
    second.end_to_end_p50_ns = sb_histogram_percentile(bench->tick_end_to_end, 50);
    second.end_to_end_p99_ns = sb_histogram_percentile(bench->tick_end_to_end, 99);
    if (!second.warmup) {
        counts_add(&bench->totals, &second.counts);
        sb_histogram_merge(bench->ack, bench->tick_ack);
        sb_histogram_merge(bench->end_to_end, bench->tick_end_to_end);
    }
    if (bench->series_count < bench->series_capacity) {
        bench->series[bench->series_count++] = second;
    }
    bench->last_tick_ns = now_ns;
    if (print && !bench->config.quiet && seconds > 0.05) {
        print_progress(bench, &second, seconds);
    }
}

/* Seconds of the measured window (at least 1 ms). */
static double
window_s(const struct sb_bench *bench)
{
    double seconds = 0;
    if (bench->measure_end_ns > bench->measure_start_ns) {
        seconds = (double)(bench->measure_end_ns - bench->measure_start_ns) / 1e9;
    }
    return seconds < 1e-3 ? 1e-3 : seconds;
}

/* The acks that came after sending stopped, and their largest latency. */
static void
drain_figures(const struct sb_bench *bench, uint64_t *acked, uint64_t *ack_max_ns)
{
    *acked = 0;
    *ack_max_ns = 0;
    for (uint32_t index = 0; bench->producers != NULL && index < bench->config.producers;
         index++) {
        const struct sb_bench_producer *producer = &bench->producers[index];
        *acked += producer->drain_acked;
        *ack_max_ns = producer->drain_ack_max_ns > *ack_max_ns ? producer->drain_ack_max_ns
                                                               : *ack_max_ns;
    }
}

void
sb_bench_summary_latency(const char *title, const struct sb_histogram *histogram)
{
    printf("%-14s %10llu", title, (unsigned long long)histogram->total);
    for (size_t index = 0; index < PERCENTILE_COUNT; index++) {
        printf(" %9.1f", sb_histogram_percentile(histogram, percentiles[index].percent) / 1e3);
    }
    printf(" %9.1f %9.1f\n", histogram->maximum / 1e3, sb_histogram_mean(histogram) / 1e3);
}

static void
summary_header(const struct sb_bench *bench)
{
    const struct sb_bench_config *config = &bench->config;
    printf("sb-bench %s, driver %s (%s), %s:%u\n", sb_bench_mode_name(config->mode),
           bench->driver->name, bench->driver->durability(bench->driver_state), config->host,
           config->port);
    printf("%u topic(s) x %u partition(s), %u producer(s), %u consumer(s), %u thread(s), "
           "size %u..%u B, acks=%s, ", config->topic_count, config->partitions,
           config->producers, config->consumers, config->threads, config->size_min,
           config->size_max, config->acks);
    if (config->rate > 0) {
        printf("open loop at %.0f msg/s\n", config->rate);
    } else {
        printf("closed loop, %u in flight per producer\n", config->max_in_flight);
    }
    printf("measured %.2f s after a %u s warm-up; sb-bench used %.2f CPU cores\n\n",
           window_s(bench), config->warmup_s,
           bench->elapsed_s > 0 ? bench->cpu_s / bench->elapsed_s : 0);
}

/* The generator's CPU per message after the warm-up, in microseconds (0 without any). */
static double
generator_us_per_message(const struct sb_bench_generator *generator)
{
    return generator->messages > 0 ? generator->cpu_s * 1e6 / (double)generator->messages : 0;
}

static void
summary_generator(const struct sb_bench *bench)
{
    const struct sb_bench_generator *generator = &bench->generator;
    printf("generator: %.2f us CPU per message (%.2f s for %llu after the warm-up); "
           "busiest thread %.0f%% of the sending window, %u thread(s) busy, %.2f of %u "
           "core(s)%s\n", generator_us_per_message(generator), generator->cpu_s,
           (unsigned long long)generator->messages, generator->busiest_thread * 100,
           generator->threads_busy, generator->cores, generator->cores_allowed,
           generator->bound ? ": GENERATOR-BOUND" : generator->judged ? "" : " (not judged)");
}

void
sb_bench_report_generator_warnings(const struct sb_bench *bench)
{
    const struct sb_bench_generator *generator = &bench->generator;
    if (generator->bound) {
        fprintf(stderr, "sb-bench: WARNING: the load generator, not the broker, is the "
                "bottleneck: its busiest thread was on a CPU %.0f%% of the sending window and "
                "it used %.2f of %u core(s) (limit %.0f%%); add --threads or --producers, or "
                "run several generators (scripts/bench-multi)\n",
                generator->busiest_thread * 100, generator->cores, generator->cores_allowed,
                SB_BENCH_BUSY_SHARE * 100);
    }
    if (generator->schedule_behind) {
        fprintf(stderr, "sb-bench: WARNING: the open loop fell behind: %.1f%% of the %llu "
                "messages due were not sent when sending stopped (limit %.0f%%): %s\n",
                generator->behind * 100, (unsigned long long)generator->due,
                SB_BENCH_BEHIND_SHARE * 100,
                generator->bound ? "the generator could not keep up"
                                 : "the client or the broker pushed back");
    }
}

/* Prints "title: count ..." naming up to SB_BENCH_NAMED_MAX global partitions. */
static void
summary_named(const struct sb_bench *bench, const char *title, uint32_t count,
              const uint32_t *named)
{
    printf("%s: %u of %u:", title, count, bench->config.topic_count * bench->config.partitions);
    for (uint32_t index = 0; index < count && index < SB_BENCH_NAMED_MAX; index++) {
        printf(" %s/%u", bench->topic_names[named[index] / bench->config.partitions],
               named[index] % bench->config.partitions);
    }
    printf("%s\n", count > SB_BENCH_NAMED_MAX ? " ..." : "");
}

/* Partitions that delivered nothing; the first SB_BENCH_NAMED_MAX go to named. */
static uint32_t
partitions_empty(const struct sb_bench *bench, uint32_t *named)
{
    uint32_t empty = 0;
    for (uint32_t partition = 0; bench->verify != NULL &&
                                 partition < bench->verify->partitions_total; partition++) {
        if (atomic_load(&bench->verify->delivered[partition]) != 0) {
            continue;
        }
        if (empty < SB_BENCH_NAMED_MAX) {
            named[empty] = partition;
        }
        empty++;
    }
    return empty;
}

/* Names the partitions that delivered nothing and those consumers left records on. */
static void
summary_partitions(const struct sb_bench *bench)
{
    uint32_t named[SB_BENCH_NAMED_MAX];
    uint32_t empty = partitions_empty(bench, named);
    if (empty > 0) {
        summary_named(bench, "partitions that delivered nothing", empty, named);
    }
    if (bench->behind.partitions > 0) {
        printf("consumers %s with records left (%llu known) or never answered on ",
               bench->behind.stopped_early ? "stopped early" : "were stopped",
               (unsigned long long)bench->behind.records);
        summary_named(bench, "partitions", bench->behind.partitions, bench->behind.named);
    }
}

/* Says what lost was counted against. */
static void
summary_lost_against(const struct sb_bench *bench)
{
    if (bench->config.mode != SB_BENCH_CONSUME) {
        printf("lost counted against every acknowledged sequence of this run's producers\n");
    } else if (bench->config.verify_against != NULL) {
        printf("lost counted against the acknowledged ranges of %u producer(s) in %s\n",
               bench->reference.count, bench->config.verify_against);
    } else {
        printf("lost counts gaps only: records missing before the first or after the last one "
               "seen are not (use --verify-against)\n");
    }
}

void
sb_bench_report_summary(const struct sb_bench *bench)
{
    const struct sb_bench_counts *totals = &bench->totals;
    double seconds = window_s(bench);
    summary_header(bench);
    printf("%-14s %12s %12s %10s %8s\n", "", "messages", "msg/s", "MB/s", "errors");
    if (bench->config.mode == SB_BENCH_PING) {
        printf("%-14s %12llu %12.0f %10s %8llu\n", "round trips",
               (unsigned long long)totals->acked, totals->acked / seconds, "-",
               (unsigned long long)totals->errors);
    } else if (bench->config.producers > 0) {
        printf("%-14s %12llu %12.0f %10.2f %8llu\n", "produced",
               (unsigned long long)totals->acked, totals->acked / seconds,
               totals->acked_bytes / seconds / 1e6, (unsigned long long)totals->errors);
    }
    if (bench->config.consumers > 0) {
        printf("%-14s %12llu %12.0f %10.2f\n", "consumed",
               (unsigned long long)totals->received, totals->received / seconds,
               totals->received_bytes / seconds / 1e6);
    }
    printf("\n%-14s %10s", "latency (us)", "count");
    for (size_t index = 0; index < PERCENTILE_COUNT; index++) {
        printf(" %9s", percentiles[index].title);
    }
    printf(" %9s %9s\n", "max", "mean");
    if (bench->config.producers > 0) {
        sb_bench_summary_latency(bench->config.mode == SB_BENCH_PING ? "round trip" : "produce-ack",
                        bench->ack);
    }
    if (bench->config.mode == SB_BENCH_E2E) {
        sb_bench_summary_latency("end-to-end", bench->end_to_end);
    }
    if (bench->config.producers > 0 && bench->config.mode != SB_BENCH_PING) {
        uint64_t acked;
        uint64_t ack_max_ns;
        drain_figures(bench, &acked, &ack_max_ns);
        printf("drain: %llu acks after sending stopped, produce-ack max %.1f us "
               "(p99.99 of the run %.1f us)\n", (unsigned long long)acked, ack_max_ns / 1e3,
               sb_histogram_percentile(bench->ack, 99.99) / 1e3);
    }
    if (bench->verify != NULL) {
        printf("\nverification: lost %llu%s, duplicated %llu, out of order %llu\n",
               (unsigned long long)bench->lost,
               bench->lost_checked ? "" : " (not checked: stopped before the end)",
               (unsigned long long)bench->duplicated, (unsigned long long)bench->out_of_order);
        summary_lost_against(bench);
    }
    if (bench->config.consumers > 0) {
        summary_partitions(bench);
    }
    sb_bench_group_summary(bench);
    summary_generator(bench);
    if (bench->first_error[0] != '\0') {
        printf("first error: %s\n", bench->first_error);
    }
}

void
sb_bench_json_string(FILE *file, const char *text)
{
    fputc('"', file);
    for (const char *at = text != NULL ? text : ""; *at != '\0'; at++) {
        unsigned char c = (unsigned char)*at;
        if (c == '"' || c == '\\') {
            fprintf(file, "\\%c", c);
        } else if (c < 0x20) {
            fprintf(file, "\\u%04x", c);
        } else {
            fputc(c, file);
        }
    }
    fputc('"', file);
}

static void
json_config(FILE *file, const struct sb_bench *bench)
{
    const struct sb_bench_config *config = &bench->config;
    fprintf(file, "  \"config\": {\"host\": ");
    sb_bench_json_string(file, config->host);
    fprintf(file, ", \"port\": %u, \"duration_s\": %.3f, \"warmup_s\": %u, \"topic\": ",
            config->port, config->duration_s, config->warmup_s);
    sb_bench_json_string(file, config->topic);
    fprintf(file, ", \"topics\": %u, \"partitions\": %u, \"producers\": %u, \"consumers\": %u, "
            "\"threads\": %u, \"size_min\": %u, \"size_max\": %u, \"size\": \"%s\", "
            "\"keys\": \"%s\", \"key_count\": %u, \"zipf_exponent\": %.3f, ",
            config->topic_count, config->partitions, config->producers, config->consumers,
            config->threads, config->size_min, config->size_max,
            config->size_kind == SB_BENCH_SIZE_FIXED ? "fixed" : "uniform",
            config->key_kind == SB_BENCH_KEY_NONE      ? "none"
            : config->key_kind == SB_BENCH_KEY_UNIFORM ? "uniform" : "zipf",
            config->key_count, config->zipf_exponent);
    fprintf(file, "\"rate\": %.1f, \"loop\": \"%s\", \"pace_us\": %u, \"max_in_flight\": %u, "
            "\"messages\": %llu, \"batch_bytes\": %u, \"linger_ms\": %u, \"acks\": ",
            config->rate, config->rate > 0 ? "open" : "closed", config->pace_us,
            config->max_in_flight,
            (unsigned long long)config->message_count, config->batch_bytes, config->linger_ms);
    sb_bench_json_string(file, config->acks);
    fprintf(file, ", \"compression\": ");
    sb_bench_json_string(file, config->compression);
    fprintf(file, ", \"from\": \"%s\"},\n", config->from_beginning ? "beginning" : "end");
}

void
sb_bench_json_latency(FILE *file, const char *name, const struct sb_histogram *histogram,
                      bool last)
{
    fprintf(file, "    \"%s\": {\"count\": %llu, \"min_us\": %.3f, \"mean_us\": %.3f", name,
            (unsigned long long)histogram->total, histogram->minimum / 1e3,
            sb_histogram_mean(histogram) / 1e3);
    for (size_t index = 0; index < PERCENTILE_COUNT; index++) {
        fprintf(file, ", \"%s\": %.3f", percentiles[index].name,
                sb_histogram_percentile(histogram, percentiles[index].percent) / 1e3);
    }
    fprintf(file, ", \"max_us\": %.3f, \"clamped\": %llu,\n      \"histogram\": [",
            histogram->maximum / 1e3, (unsigned long long)histogram->clamped);
    bool first = true;
    for (uint32_t slot = 0; slot < SB_HISTOGRAM_SLOTS; slot++) {
        if (histogram->counts[slot] != 0) {
            fprintf(file, "%s[%llu, %llu, %llu]", first ? "" : ", ",
                    (unsigned long long)sb_histogram_slot_lowest(slot),
                    (unsigned long long)sb_histogram_slot_highest(slot),
                    (unsigned long long)histogram->counts[slot]);
            first = false;
        }
    }
    fprintf(file, "]}%s\n", last ? "" : ",");
}

static void
json_throughput(FILE *file, const char *name, uint64_t messages, uint64_t bytes,
                double seconds, const char *extra)
{
    fprintf(file, "  \"%s\": {\"messages\": %llu, \"bytes\": %llu, \"msgs_per_s\": %.1f, "
            "\"mb_per_s\": %.3f, \"mib_per_s\": %.3f%s},\n", name,
            (unsigned long long)messages, (unsigned long long)bytes, messages / seconds,
            bytes / seconds / 1e6, bytes / seconds / 1048576.0, extra);
}

static void
json_series(FILE *file, const struct sb_bench *bench)
{
    fprintf(file, "  \"series\": [");
    for (uint32_t index = 0; index < bench->series_count; index++) {
        const struct sb_bench_second *second = &bench->series[index];
        double previous = index == 0 ? 0 : bench->series[index - 1].time_s;
        double seconds = second->time_s - previous > 1e-3 ? second->time_s - previous : 1e-3;
        uint64_t messages = bench->config.mode == SB_BENCH_CONSUME ? second->counts.received
                                                                   : second->counts.acked;
        uint64_t bytes = bench->config.mode == SB_BENCH_CONSUME ? second->counts.received_bytes
                                                                : second->counts.acked_bytes;
        fprintf(file, "%s\n    {\"t\": %.3f, \"warmup\": %s, \"sent\": %llu, \"acked\": %llu, "
                "\"received\": %llu, \"errors\": %llu, \"msgs_per_s\": %.1f, "
                "\"mb_per_s\": %.3f, \"ack_p50_us\": %.3f, \"ack_p99_us\": %.3f, "
                "\"e2e_p50_us\": %.3f, \"e2e_p99_us\": %.3f}", index == 0 ? "" : ",",
                second->time_s, second->warmup ? "true" : "false",
                (unsigned long long)second->counts.sent, (unsigned long long)second->counts.acked,
                (unsigned long long)second->counts.received,
                (unsigned long long)second->counts.errors, messages / seconds,
                bytes / seconds / 1e6, second->ack_p50_ns / 1e3, second->ack_p99_ns / 1e3,
                second->end_to_end_p50_ns / 1e3, second->end_to_end_p99_ns / 1e3);
    }
    fprintf(file, "\n  ]\n");
}

/* The entries of "acknowledged": one per producer with an acknowledged sequence. */
static void
json_acknowledged(FILE *file, const struct sb_bench *bench)
{
    bool first = true;
    for (uint32_t index = 0; index < bench->config.producers; index++) {
        const struct sb_bench_producer *producer = &bench->producers[index];
        if (producer->acked_count == 0 || bench->config.mode == SB_BENCH_PING) {
            continue;
        }
        fprintf(file, "%s\n    {\"producer\": %u, \"first\": %llu, \"last\": %llu, "
                "\"count\": %llu}", first ? "" : ",", producer->id,
                (unsigned long long)producer->acked_first,
                (unsigned long long)producer->acked_last,
                (unsigned long long)producer->acked_count);
        first = false;
    }
}

/* What lost was counted against, what consumers left behind, the acknowledged ranges. */
static void
json_verification(FILE *file, const struct sb_bench *bench)
{
    bool gaps = bench->config.mode == SB_BENCH_CONSUME && bench->config.verify_against == NULL;
    const char *against = bench->verify == NULL ? "none" : gaps ? "gaps" : "acknowledged";
    fprintf(file, ",\n  \"lost_against\": \"%s\", \"verified_against\": ", against);
    if (bench->config.verify_against != NULL) {
        sb_bench_json_string(file, bench->config.verify_against);
    } else {
        fprintf(file, "null");
    }
    uint32_t named[SB_BENCH_NAMED_MAX];
    fprintf(file, ",\n  \"partitions_empty\": %u, \"partitions_behind\": %u, "
            "\"records_behind\": %llu, \"stopped_early\": %s",
            bench->config.consumers > 0 ? partitions_empty(bench, named) : 0,
            bench->behind.partitions, (unsigned long long)bench->behind.records,
            bench->behind.stopped_early ? "true" : "false");
    fprintf(file, ",\n  \"acknowledged\": [");
    json_acknowledged(file, bench);
    fprintf(file, "],\n");
}

static void
json_generator(FILE *file, const struct sb_bench_generator *generator)
{
    fprintf(file, "  \"generator\": {\"cpu_s\": %.3f, \"messages\": %llu, "
            "\"cpu_us_per_message\": %.4f, \"window_s\": %.3f, \"cores\": %.3f, "
            "\"cores_allowed\": %u, \"busiest_thread\": %.3f, \"threads_busy\": %u, "
            "\"judged\": %s, \"due\": %llu, \"sent\": %llu, \"behind\": %.5f},\n"
            "  \"generator_bound\": %s, \"schedule_behind\": %s,\n", generator->cpu_s,
            (unsigned long long)generator->messages, generator_us_per_message(generator),
            generator->window_s, generator->cores, generator->cores_allowed,
            generator->busiest_thread, generator->threads_busy,
            generator->judged ? "true" : "false",
            (unsigned long long)(generator->due == UINT64_MAX ? 0 : generator->due),
            (unsigned long long)generator->sent, generator->behind,
            generator->bound ? "true" : "false", generator->schedule_behind ? "true" : "false");
}

static void
json_results(FILE *file, const struct sb_bench *bench)
{
    const struct sb_bench_counts *totals = &bench->totals;
    double seconds = window_s(bench);
    char sent[64];
    snprintf(sent, sizeof(sent), ", \"errors\": %llu, \"sent\": %llu",
             (unsigned long long)totals->errors, (unsigned long long)totals->sent);
    fprintf(file, "  \"window_s\": %.6f, \"elapsed_s\": %.3f, \"load_generator_cpu_s\": %.3f, "
            "\"load_generator_cores\": %.3f,\n", seconds, bench->elapsed_s, bench->cpu_s,
            bench->elapsed_s > 0 ? bench->cpu_s / bench->elapsed_s : 0);
    json_generator(file, &bench->generator);
    json_throughput(file, "produced", totals->acked, totals->acked_bytes, seconds, sent);
    json_throughput(file, "consumed", totals->received, totals->received_bytes, seconds, "");
    fprintf(file, "  \"latency\": {\n");
    sb_bench_json_latency(file, bench->config.mode == SB_BENCH_PING ? "ping" : "produce_ack",
                          bench->ack, false);
    sb_bench_json_latency(file, "end_to_end", bench->end_to_end, true);
    uint64_t drain_acked;
    uint64_t drain_ack_max_ns;
    drain_figures(bench, &drain_acked, &drain_ack_max_ns);
    fprintf(file, "  },\n  \"drain\": {\"acked\": %llu, \"ack_max_us\": %.3f},\n",
            (unsigned long long)drain_acked, drain_ack_max_ns / 1e3);
    fprintf(file, "  \"verified\": %s, \"lost_checked\": %s, \"lost\": %llu, "
            "\"duplicated\": %llu, \"out_of_order\": %llu, \"malformed\": %llu, "
            "\"errors\": %llu, \"first_error\": ",
            bench->verify != NULL ? "true" : "false", bench->lost_checked ? "true" : "false",
            (unsigned long long)bench->lost,
            (unsigned long long)bench->duplicated, (unsigned long long)bench->out_of_order,
            bench->verify != NULL ? (unsigned long long)atomic_load(&bench->verify->malformed) : 0,
            (unsigned long long)totals->errors);
    sb_bench_json_string(file, bench->first_error);
    json_verification(file, bench);
}

int
sb_bench_report_json(const struct sb_bench *bench, const char *path)
{
    FILE *file = fopen(path, "w");
    if (file == NULL) {
        return -errno;
    }
    fprintf(file, "{\n  \"tool\": \"sb-bench\", \"version\": \"%s\", \"driver\": \"%s\", "
            "\"durability\": ", sb_client_version(), bench->driver->name);
    sb_bench_json_string(file, bench->driver->durability(bench->driver_state));
    fprintf(file, ", \"mode\": \"%s\", \"label\": ", sb_bench_mode_name(bench->config.mode));
    sb_bench_json_string(file, bench->config.label);
    fprintf(file, ",\n");
    json_config(file, bench);
    json_results(file, bench);
    sb_bench_group_json(file, bench);
    json_series(file, bench);
    fprintf(file, "}\n");
    int result = ferror(file) ? -EIO : 0;
    if (fclose(file) != 0 && result == 0) {
        result = -errno;
    }
    return result;
}
