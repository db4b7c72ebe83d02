/*
 * bench/sb_bench_workload.c - what sb-bench sends: message sizes (fixed or
 * uniform), keys (none, uniform, Zipf), the partition of each message, and the
 * 32-byte header every message starts with (layout in sb_bench.h). The filler
 * after the header is text-like (random lowercase words), so compression has
 * something to do without being trivial.
 *
 * sb_bench_workload_init builds the read-only tables (filler, Zipf CDF) once,
 * before any thread starts; everything else is pure or uses the caller's rng.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/sb_bench.h"

/* Filler bytes beyond the largest message, so each message starts at its own offset. */
#define FILLER_SLACK_BYTES 65536u

/* The read-only tables built by sb_bench_workload_init. */
static struct {
    char *filler;           /* size_max + FILLER_SLACK_BYTES text-like bytes. */
    uint32_t filler_bytes;  /* Bytes of filler. */
    double *zipf_cdf;       /* key_count cumulative probabilities, or NULL. */
} workload;

uint64_t
sb_bench_random(uint64_t *state)
{
    /* splitmix64. */
    uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* A uniform double in [0, 1). */
static double
random_unit(uint64_t *state)
{
    return (double)(sb_bench_random(state) >> 11) * (1.0 / 9007199254740992.0);
}

static int
zipf_init(const struct sb_bench_config *config)
{
    workload.zipf_cdf = calloc(config->key_count, sizeof(double));
    if (workload.zipf_cdf == NULL) {
        return -ENOMEM;
    }
    double sum = 0;
    for (uint32_t rank = 0; rank < config->key_count; rank++) {
        sum += 1.0 / pow((double)(rank + 1), config->zipf_exponent);
        workload.zipf_cdf[rank] = sum;
    }
    for (uint32_t rank = 0; rank < config->key_count; rank++) {
        workload.zipf_cdf[rank] /= sum;
    }
    return 0;
}

int
sb_bench_workload_init(const struct sb_bench_config *config)
{
    uint64_t rng = 42;
    workload.filler_bytes = config->size_max + FILLER_SLACK_BYTES;
    workload.filler = malloc(workload.filler_bytes);
    if (workload.filler == NULL) {
        return -ENOMEM;
    }
    for (uint32_t index = 0; index < workload.filler_bytes; index++) {
        uint64_t draw = sb_bench_random(&rng) % 32;
        workload.filler[index] = draw < 26 ? (char)('a' + draw) : ' ';
    }
    if (config->key_kind == SB_BENCH_KEY_ZIPF) {
        return zipf_init(config);
    }
    return 0;
}

void
sb_bench_workload_deinit(void)
{
    free(workload.filler);
    free(workload.zipf_cdf);
    memset(&workload, 0, sizeof(workload));
}

uint32_t
sb_bench_message_size(const struct sb_bench_config *config, uint64_t *rng)
{
    if (config->size_kind == SB_BENCH_SIZE_FIXED) {
        return config->size_min;
    }
    uint64_t span = (uint64_t)config->size_max - config->size_min + 1;
    return config->size_min + (uint32_t)(sb_bench_random(rng) % span);
}

/* The first rank whose cumulative probability reaches draw (binary search). */
static uint32_t
zipf_rank(uint32_t count, double draw)
{
    uint32_t low = 0;
    uint32_t high = count - 1;
    while (low < high) {
        uint32_t middle = low + (high - low) / 2;
        if (workload.zipf_cdf[middle] >= draw) {
            high = middle;
        } else {
            low = middle + 1;
        }
    }
    return low;
}

size_t
sb_bench_message_key(const struct sb_bench_config *config, uint64_t *rng, char *key,
                     size_t capacity)
{
    uint32_t rank;
    if (config->key_kind == SB_BENCH_KEY_NONE) {
        return 0;
    }
    if (config->key_kind == SB_BENCH_KEY_UNIFORM) {
        rank = (uint32_t)(sb_bench_random(rng) % config->key_count);
    } else {
        rank = zipf_rank(config->key_count, random_unit(rng));
    }
    int length = snprintf(key, capacity, "key-%08u", rank);
    return length > 0 && (size_t)length < capacity ? (size_t)length : 0;
}

uint32_t
sb_bench_message_partition(const struct sb_bench_config *config, const char *key,
                           size_t key_length, uint64_t sequence, uint32_t salt)
{
    if (key_length == 0) {
        return (uint32_t)((sequence + salt) % config->partitions);
    }
    uint32_t hash = 2166136261u;
    for (size_t index = 0; index < key_length; index++) {
        hash = (hash ^ (uint8_t)key[index]) * 16777619u;
    }
    return hash % config->partitions;
}

static void
put_u32(uint8_t *at, uint32_t value)
{
    for (int index = 0; index < 4; index++) {
        at[index] = (uint8_t)(value >> (8 * index));
    }
}

static void
put_u64(uint8_t *at, uint64_t value)
{
    put_u32(at, (uint32_t)value);
    put_u32(at + 4, (uint32_t)(value >> 32));
}

static uint32_t
get_u32(const uint8_t *at)
{
    return (uint32_t)at[0] | (uint32_t)at[1] << 8 | (uint32_t)at[2] << 16 |
           (uint32_t)at[3] << 24;
}

static uint64_t
get_u64(const uint8_t *at)
{
    return (uint64_t)get_u32(at) | (uint64_t)get_u32(at + 4) << 32;
}

void
sb_bench_message_fill(uint8_t *value, uint32_t size, uint32_t producer_id, uint64_t sequence,
                      uint64_t send_ns, uint32_t global_partition)
{
    put_u32(value, SB_BENCH_MAGIC);
    put_u32(value + 4, producer_id);
    put_u64(value + 8, sequence);
    put_u64(value + 16, send_ns);
    put_u32(value + 24, global_partition);
    put_u32(value + 28, size);
    uint32_t filler_offset = (uint32_t)((sequence * 131u) % FILLER_SLACK_BYTES);
    memcpy(value + SB_BENCH_HEADER_BYTES, workload.filler + filler_offset,
           size - SB_BENCH_HEADER_BYTES);
}

bool
sb_bench_message_parse(const void *value, size_t size, uint32_t *producer_id,
                       uint64_t *sequence, uint64_t *send_ns, uint32_t *global_partition)
{
    const uint8_t *bytes = value;
    if (value == NULL || size < SB_BENCH_HEADER_BYTES || get_u32(bytes) != SB_BENCH_MAGIC ||
        get_u32(bytes + 28) != size) {
        return false;
    }
    *producer_id = get_u32(bytes + 4);
    *sequence = get_u64(bytes + 8);
    *send_ns = get_u64(bytes + 16);
    *global_partition = get_u32(bytes + 24);
    return true;
}

void
sb_bench_topic_name(const struct sb_bench_config *config, uint32_t topic_index, char *name,
                    size_t capacity)
{
    if (config->topic_count == 1) {
        snprintf(name, capacity, "%s", config->topic);
    } else {
        snprintf(name, capacity, "%s-%u", config->topic, topic_index);
    }
}
