/*
 * bench/histogram.c - the log-linear latency histogram of histogram.h.
 *
 * Slot layout (H = SB_HISTOGRAM_SUB_BUCKETS / 2 = 128):
 *   values 0 .. 2H-1            slot = value (exact)
 *   values 2^(b+7) .. 2^(b+8)-1 bucket b >= 1: slot = b*H + (value >> b), width 2^b
 * so slots are contiguous and ordered by value. Start at sb_histogram_slot.
 */
#include "bench/histogram.h"

#include <math.h>
#include <string.h>

#define HALF_BITS (SB_HISTOGRAM_SUB_BUCKET_BITS - 1)
#define HALF (1u << HALF_BITS)

_Static_assert(SB_HISTOGRAM_SLOTS == (SB_HISTOGRAM_VALUE_BITS - HALF_BITS + 1) * HALF,
               "the last bucket ends at the last slot");

void
sb_histogram_reset(struct sb_histogram *histogram)
{
    memset(histogram, 0, sizeof(*histogram));
}

uint32_t
sb_histogram_slot(uint64_t value)
{
    if (value > SB_HISTOGRAM_VALUE_MAX) {
        value = SB_HISTOGRAM_VALUE_MAX;
    }
    if (value < 2 * HALF) {
        return (uint32_t)value;
    }
    uint32_t bucket = (uint32_t)(63 - __builtin_clzll(value)) - HALF_BITS;
    return bucket * HALF + (uint32_t)(value >> bucket);
}

uint64_t
sb_histogram_slot_lowest(uint32_t slot)
{
    if (slot < 2 * HALF) {
        return slot;
    }
    uint32_t bucket = slot / HALF - 1;
    return (uint64_t)(slot - bucket * HALF) << bucket;
}

uint64_t
sb_histogram_slot_highest(uint32_t slot)
{
    if (slot < 2 * HALF) {
        return slot;
    }
    uint32_t bucket = slot / HALF - 1;
    return sb_histogram_slot_lowest(slot) + (UINT64_C(1) << bucket) - 1;
}

void
sb_histogram_record(struct sb_histogram *histogram, uint64_t value)
{
    if (value > SB_HISTOGRAM_VALUE_MAX) {
        histogram->clamped++;
        value = SB_HISTOGRAM_VALUE_MAX;
    }
    histogram->counts[sb_histogram_slot(value)]++;
    if (histogram->total == 0 || value < histogram->minimum) {
        histogram->minimum = value;
    }
    if (value > histogram->maximum) {
        histogram->maximum = value;
    }
    histogram->total++;
    histogram->sum += (double)value;
}

void
sb_histogram_merge(struct sb_histogram *into, const struct sb_histogram *from)
{
    if (from->total == 0) {
        return;
    }
    for (uint32_t slot = 0; slot < SB_HISTOGRAM_SLOTS; slot++) {
        into->counts[slot] += from->counts[slot];
    }
    if (into->total == 0 || from->minimum < into->minimum) {
        into->minimum = from->minimum;
    }
    if (from->maximum > into->maximum) {
        into->maximum = from->maximum;
    }
    into->total += from->total;
    into->sum += from->sum;
    into->clamped += from->clamped;
}

uint64_t
sb_histogram_percentile(const struct sb_histogram *histogram, double percent)
{
    if (histogram->total == 0) {
        return 0;
    }
    if (percent <= 0) {
        return histogram->minimum;
    }
    /* The rank of the value asked for: ceil(p/100 * n), at least 1, at most n. */
    double rank_real = ceil(percent / 100.0 * (double)histogram->total - 1e-9);
    uint64_t rank = rank_real < 1 ? 1 : (uint64_t)rank_real;
    if (rank >= histogram->total) {
        return histogram->maximum;
    }
    uint64_t seen = 0;
    for (uint32_t slot = 0; slot < SB_HISTOGRAM_SLOTS; slot++) {
        seen += histogram->counts[slot];
        if (seen >= rank) {
            uint64_t highest = sb_histogram_slot_highest(slot);
            return highest < histogram->maximum ? highest : histogram->maximum;
        }
    }
    return histogram->maximum;
}

double
sb_histogram_mean(const struct sb_histogram *histogram)
{
    return histogram->total == 0 ? 0 : histogram->sum / (double)histogram->total;
}
