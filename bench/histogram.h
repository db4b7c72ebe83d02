/*
 * bench/histogram.h - an HDR-style log-linear histogram of latencies in
 * nanoseconds, with bounded relative error, fixed size and no allocation.
 *
 * Values are grouped in buckets of powers of two, each split linearly into
 * SB_HISTOGRAM_SUB_BUCKETS / 2 sub-buckets (the first bucket into all of them),
 * so a value v is counted in a slot of width at most v / 128: 2 significant
 * decimal digits from 1 ns up to SB_HISTOGRAM_VALUE_MAX (about 73 minutes).
 * Larger values are counted as SB_HISTOGRAM_VALUE_MAX and reported in
 * `clamped`. Exact minimum, maximum and sum are kept beside the counts.
 *
 * A percentile p is the highest value of the slot holding the ceil(p/100 * n)th
 * smallest value (at most the maximum recorded), so for the exact percentile x:
 *   x <= sb_histogram_percentile(h, p) <= x + x / 128.
 * The same layout as HdrHistogram with 2 significant digits and a unit of 1 ns.
 *
 * Not thread-safe: one writer at a time (sb-bench guards each with a mutex and
 * merges per-thread histograms).
 */
#ifndef SB_BENCH_HISTOGRAM_H
#define SB_BENCH_HISTOGRAM_H

#include <stdbool.h>
#include <stdint.h>

/* log2 of the linear sub-buckets of the first bucket (256: 2 significant digits). */
#define SB_HISTOGRAM_SUB_BUCKET_BITS 8
#define SB_HISTOGRAM_SUB_BUCKETS (1u << SB_HISTOGRAM_SUB_BUCKET_BITS)
/* log2 of the first value that is clamped: 2^42 ns is about 73 minutes. */
#define SB_HISTOGRAM_VALUE_BITS 42
/* Largest value counted as itself. */
#define SB_HISTOGRAM_VALUE_MAX ((UINT64_C(1) << SB_HISTOGRAM_VALUE_BITS) - 1)
/* Slots: the first bucket has SUB_BUCKETS, each later one SUB_BUCKETS / 2. */
#define SB_HISTOGRAM_SLOTS \
    ((SB_HISTOGRAM_VALUE_BITS - SB_HISTOGRAM_SUB_BUCKET_BITS + 2) * (SB_HISTOGRAM_SUB_BUCKETS / 2))

/* A histogram; zero-initialized memory (or sb_histogram_reset) is an empty one. */
struct sb_histogram {
    uint64_t counts[SB_HISTOGRAM_SLOTS]; /* Values counted per slot. */
    uint64_t total;                      /* Values recorded. */
    uint64_t minimum;                    /* Smallest value recorded (exact); 0 when empty. */
    uint64_t maximum;                    /* Largest value recorded (after clamping). */
    double sum;                          /* Sum of the values, for the mean. */
    uint64_t clamped;                    /* Values above SB_HISTOGRAM_VALUE_MAX. */
};

/* Empties the histogram. */
void sb_histogram_reset(struct sb_histogram *histogram);

/* Counts one value (nanoseconds). */
void sb_histogram_record(struct sb_histogram *histogram, uint64_t value);

/* Adds every count of from (borrowed) to into. */
void sb_histogram_merge(struct sb_histogram *into, const struct sb_histogram *from);

/* The value at percent (0..100) as described above; 0 when empty. percent 100 is the
 * maximum, percent 0 the minimum. */
uint64_t sb_histogram_percentile(const struct sb_histogram *histogram, double percent);

/* Mean of the recorded values; 0 when empty. */
double sb_histogram_mean(const struct sb_histogram *histogram);

/* The slot that counts value (clamped to SB_HISTOGRAM_VALUE_MAX). */
uint32_t sb_histogram_slot(uint64_t value);

/* The smallest and the largest value counted in slot (< SB_HISTOGRAM_SLOTS). */
uint64_t sb_histogram_slot_lowest(uint32_t slot);
uint64_t sb_histogram_slot_highest(uint32_t slot);

#endif /* SB_BENCH_HISTOGRAM_H */
