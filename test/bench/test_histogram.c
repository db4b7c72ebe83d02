/*
 * test/bench/test_histogram.c - bench/histogram.c against exact percentiles:
 * every percentile the histogram reports lies in [x, x + x/128] of the exact
 * value x computed from the sorted samples, for several distributions; plus the
 * slot layout, merging, clamping and the empty histogram.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bench/histogram.h"

#define SAMPLES 200000

static const double checked_percents[] = {0.1, 1, 10, 25, 50, 75, 90, 99, 99.9, 99.99, 100};

static uint64_t
next_random(uint64_t *state)
{
    uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static double
unit(uint64_t *state)
{
    return (double)(next_random(state) >> 11) / 9007199254740992.0;
}

static int
compare_u64(const void *left, const void *right)
{
    uint64_t a = *(const uint64_t *)left;
    uint64_t b = *(const uint64_t *)right;
    return a < b ? -1 : a > b;
}

/* Records values, then checks each percentile against the sorted values. */
static void
check_against_exact(uint64_t *values, size_t count)
{
    struct sb_histogram *histogram = calloc(1, sizeof(*histogram));
    cr_assert_not_null(histogram);
    for (size_t index = 0; index < count; index++) {
        sb_histogram_record(histogram, values[index]);
    }
    qsort(values, count, sizeof(values[0]), compare_u64);
    cr_assert_eq(histogram->total, count);
    cr_assert_eq(histogram->minimum, values[0]);
    cr_assert_eq(histogram->maximum, values[count - 1]);
    for (size_t index = 0; index < sizeof(checked_percents) / sizeof(double); index++) {
        double percent = checked_percents[index];
        size_t rank = (size_t)ceil(percent / 100.0 * (double)count - 1e-9);
        uint64_t exact = values[rank == 0 ? 0 : rank - 1];
        uint64_t reported = sb_histogram_percentile(histogram, percent);
        cr_assert_geq(reported, exact, "p%g: %llu < exact %llu", percent,
                      (unsigned long long)reported, (unsigned long long)exact);
        cr_assert_leq(reported, exact + exact / 128, "p%g: %llu > exact %llu + 1/128",
                      percent, (unsigned long long)reported, (unsigned long long)exact);
    }
    double sum = 0;
    for (size_t index = 0; index < count; index++) {
        sum += (double)values[index];
    }
    cr_assert_float_eq(sb_histogram_mean(histogram), sum / (double)count, 1e-6 * sum / count);
    free(histogram);
}

Test(histogram, log_uniform_from_1us_to_10s_matches_exact_percentiles)
{
    uint64_t *values = malloc(SAMPLES * sizeof(uint64_t));
    uint64_t rng = 1;
    for (size_t index = 0; index < SAMPLES; index++) {
        values[index] = (uint64_t)(1000.0 * pow(1e7, unit(&rng)));
    }
    check_against_exact(values, SAMPLES);
    free(values);
}

Test(histogram, exponential_latencies_match_exact_percentiles)
{
    uint64_t *values = malloc(SAMPLES * sizeof(uint64_t));
    uint64_t rng = 2;
    for (size_t index = 0; index < SAMPLES; index++) {
        values[index] = 20000 + (uint64_t)(-50000.0 * log(1.0 - unit(&rng)));
    }
    check_against_exact(values, SAMPLES);
    free(values);
}

Test(histogram, bimodal_with_rare_stalls_matches_exact_percentiles)
{
    uint64_t *values = malloc(SAMPLES * sizeof(uint64_t));
    uint64_t rng = 3;
    for (size_t index = 0; index < SAMPLES; index++) {
        bool stall = next_random(&rng) % 1000 == 0;
        values[index] = stall ? 200000000 + next_random(&rng) % 100000000
                              : 30000 + next_random(&rng) % 5000;
    }
    check_against_exact(values, SAMPLES);
    free(values);
}

Test(histogram, small_values_are_exact)
{
    uint64_t values[100];
    for (uint64_t index = 0; index < 100; index++) {
        values[index] = index + 1;
    }
    check_against_exact(values, 100);
    struct sb_histogram *histogram = calloc(1, sizeof(*histogram));
    for (uint64_t value = 1; value <= 100; value++) {
        sb_histogram_record(histogram, value);
    }
    cr_assert_eq(sb_histogram_percentile(histogram, 50), 50);
    cr_assert_eq(sb_histogram_percentile(histogram, 99), 99);
    cr_assert_eq(sb_histogram_percentile(histogram, 100), 100);
    cr_assert_eq(sb_histogram_percentile(histogram, 0), 1);
    free(histogram);
}

Test(histogram, single_value_is_every_percentile)
{
    struct sb_histogram *histogram = calloc(1, sizeof(*histogram));
    sb_histogram_record(histogram, 123456789);
    cr_assert_eq(sb_histogram_percentile(histogram, 1), 123456789);
    cr_assert_eq(sb_histogram_percentile(histogram, 99.99), 123456789);
    free(histogram);
}

Test(histogram, empty_reports_zero)
{
    struct sb_histogram *histogram = calloc(1, sizeof(*histogram));
    cr_assert_eq(sb_histogram_percentile(histogram, 50), 0);
    cr_assert_eq(sb_histogram_mean(histogram), 0);
    cr_assert_eq(histogram->total, 0);
    free(histogram);
}

Test(histogram, slots_are_contiguous_ordered_and_narrow)
{
    for (uint32_t slot = 0; slot < SB_HISTOGRAM_SLOTS; slot++) {
        uint64_t lowest = sb_histogram_slot_lowest(slot);
        uint64_t highest = sb_histogram_slot_highest(slot);
        cr_assert_eq(sb_histogram_slot(lowest), slot);
        cr_assert_eq(sb_histogram_slot(highest), slot);
        cr_assert_leq(highest - lowest, lowest / 128, "slot %u too wide", slot);
        if (slot > 0) {
            cr_assert_eq(sb_histogram_slot_highest(slot - 1) + 1, lowest);
        }
    }
    cr_assert_eq(sb_histogram_slot_highest(SB_HISTOGRAM_SLOTS - 1), SB_HISTOGRAM_VALUE_MAX);
}

Test(histogram, values_above_the_range_are_clamped_and_counted)
{
    struct sb_histogram *histogram = calloc(1, sizeof(*histogram));
    sb_histogram_record(histogram, SB_HISTOGRAM_VALUE_MAX + 1000);
    sb_histogram_record(histogram, 5);
    cr_assert_eq(histogram->clamped, 1);
    cr_assert_eq(histogram->maximum, SB_HISTOGRAM_VALUE_MAX);
    cr_assert_eq(sb_histogram_percentile(histogram, 100), SB_HISTOGRAM_VALUE_MAX);
    cr_assert_eq(sb_histogram_percentile(histogram, 50), 5);
    free(histogram);
}

Test(histogram, merge_equals_recording_everything_in_one)
{
    struct sb_histogram *left = calloc(1, sizeof(*left));
    struct sb_histogram *right = calloc(1, sizeof(*right));
    struct sb_histogram *both = calloc(1, sizeof(*both));
    uint64_t rng = 4;
    for (int index = 0; index < 50000; index++) {
        uint64_t value = 1000 + next_random(&rng) % 100000000;
        sb_histogram_record(index % 3 == 0 ? left : right, value);
        sb_histogram_record(both, value);
    }
    sb_histogram_merge(left, right);
    cr_assert_eq(memcmp(left->counts, both->counts, sizeof(both->counts)), 0);
    cr_assert_eq(left->total, both->total);
    cr_assert_eq(left->minimum, both->minimum);
    cr_assert_eq(left->maximum, both->maximum);
    sb_histogram_reset(left);
    cr_assert_eq(left->total, 0);
    free(left);
    free(right);
    free(both);
}
