/*
 * bench/sb_bench_verify.c - checks that every acknowledged message arrives
 * exactly once and in order per partition.
 *
 * Each message carries (producer id, sequence, partition). Per producer id the
 * verifier keeps a bitmap of delivered sequences and, per partition, the last
 * sequence delivered:
 *   duplicated    a sequence delivered again;
 *   out_of_order  a first delivery below the partition's last sequence;
 *   lost          (e2e) acknowledged but never delivered, from the producers'
 *                 bitmaps of acknowledged sequences; (consume --verify-against)
 *                 acknowledged in the produce run's range [first, last] of each
 *                 producer but never delivered, so loss before the first or after
 *                 the last record seen counts; (consume without a reference) only
 *                 gaps between the smallest and largest sequence delivered.
 * It also counts the messages delivered per partition, so a run can name the
 * partitions that delivered nothing.
 * Threads: any number of consumers deliver at once, but each partition is read by
 * one consumer, so last_sequence entries have a single writer. Producer ids are
 * found by open addressing over atomics; inserting takes the lock. Bitmaps grow
 * chunk by chunk with compare-and-swap and never shrink until freed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bench/sb_bench.h"

#define CHUNK_WORDS ((1u << SB_BENCH_BITMAP_CHUNK_BITS) / 64)

struct sb_bench_verify *
sb_bench_verify_new(uint32_t partitions_total)
{
    struct sb_bench_verify *verify = calloc(1, sizeof(*verify));
    if (verify == NULL) {
        return NULL;
    }
    verify->delivered = calloc(partitions_total, sizeof(*verify->delivered));
    if (verify->delivered == NULL) {
        free(verify);
        return NULL;
    }
    pthread_mutex_init(&verify->lock, NULL);
    verify->partitions_total = partitions_total;
    return verify;
}

void
sb_bench_verify_free(struct sb_bench_verify *verify)
{
    if (verify == NULL) {
        return;
    }
    for (uint32_t slot = 0; slot < SB_BENCH_VERIFY_PRODUCERS_MAX; slot++) {
        struct sb_bench_verify_producer *producer = verify->producers[slot];
        if (producer != NULL) {
            sb_bench_bitmap_free(&producer->received);
            free(producer->last_sequence);
            free(producer);
        }
    }
    pthread_mutex_destroy(&verify->lock);
    free((void *)verify->delivered);
    free(verify);
}

static struct sb_bench_verify_producer *
producer_new(uint32_t id, uint32_t partitions_total)
{
    struct sb_bench_verify_producer *producer = calloc(1, sizeof(*producer));
    if (producer == NULL) {
        return NULL;
    }
    producer->last_sequence = malloc(sizeof(int64_t) * partitions_total);
    if (producer->last_sequence == NULL) {
        free(producer);
        return NULL;
    }
    for (uint32_t partition = 0; partition < partitions_total; partition++) {
        producer->last_sequence[partition] = -1;
    }
    producer->id = id;
    atomic_store(&producer->sequence_min, UINT64_MAX);
    return producer;
}

/* Finds (or with insert, adds) producer id; NULL when absent or the table is full. */
static struct sb_bench_verify_producer *
verify_find(struct sb_bench_verify *verify, uint32_t id, bool insert)
{
    uint64_t key = (uint64_t)id + 1;
    uint32_t start = (uint32_t)((id * UINT64_C(2654435761)) % SB_BENCH_VERIFY_PRODUCERS_MAX);
    for (uint32_t probe = 0; probe < SB_BENCH_VERIFY_PRODUCERS_MAX; probe++) {
        uint32_t slot = (start + probe) % SB_BENCH_VERIFY_PRODUCERS_MAX;
        uint64_t seen = atomic_load_explicit(&verify->ids[slot], memory_order_acquire);
        if (seen == key) {
            return verify->producers[slot];
        }
        if (seen != 0) {
            continue;
        }
        if (!insert) {
            return NULL;
        }
        pthread_mutex_lock(&verify->lock);
        struct sb_bench_verify_producer *found = NULL;
        if (atomic_load(&verify->ids[slot]) == 0) {
            found = producer_new(id, verify->partitions_total);
            verify->producers[slot] = found;
            /* Publishes the producer before its id (the acquire load above pairs). */
            atomic_store_explicit(&verify->ids[slot], found != NULL ? key : 0,
                                  memory_order_release);
        }
        pthread_mutex_unlock(&verify->lock);
        uint64_t now = atomic_load(&verify->ids[slot]);
        if (now == key) {
            return verify->producers[slot];
        }
        if (now == 0 || found != NULL) {
            return NULL; /* Out of memory. */
        }
        probe--; /* Another id took the slot meanwhile: look at it again. */
    }
    return NULL;
}

static void
store_min_max(struct sb_bench_verify_producer *producer, uint64_t sequence)
{
    uint64_t seen = atomic_load(&producer->sequence_min);
    while (sequence < seen &&
           !atomic_compare_exchange_weak(&producer->sequence_min, &seen, sequence)) {
    }
    seen = atomic_load(&producer->sequence_max);
    while (sequence > seen &&
           !atomic_compare_exchange_weak(&producer->sequence_max, &seen, sequence)) {
    }
}

void
sb_bench_verify_deliver(struct sb_bench_verify *verify, uint32_t producer_id,
                        uint64_t sequence, uint32_t global_partition)
{
    struct sb_bench_verify_producer *producer = verify_find(verify, producer_id, true);
    if (producer == NULL || global_partition >= verify->partitions_total) {
        atomic_fetch_add(&verify->overflow, 1);
        return;
    }
    atomic_fetch_add_explicit(&verify->delivered[global_partition], 1, memory_order_relaxed);
    if (sb_bench_bitmap_set(&producer->received, sequence)) {
        atomic_fetch_add(&verify->duplicated, 1);
        return;
    }
    atomic_fetch_add(&producer->distinct, 1);
    store_min_max(producer, sequence);
    int64_t *last = &producer->last_sequence[global_partition];
    if ((int64_t)sequence < *last) {
        atomic_fetch_add(&verify->out_of_order, 1);
    } else {
        *last = (int64_t)sequence;
    }
}

/* The word holding bit, or NULL when its chunk was never written. */
static _Atomic uint64_t *
bitmap_word(const struct sb_bench_bitmap *bitmap, uint64_t bit)
{
    uint64_t chunk = bit >> SB_BENCH_BITMAP_CHUNK_BITS;
    if (chunk >= SB_BENCH_BITMAP_CHUNKS_MAX) {
        return NULL;
    }
    _Atomic uint64_t *words = atomic_load_explicit(&bitmap->chunks[chunk], memory_order_acquire);
    if (words == NULL) {
        return NULL;
    }
    return &words[(bit / 64) % CHUNK_WORDS];
}

bool
sb_bench_bitmap_set(struct sb_bench_bitmap *bitmap, uint64_t bit)
{
    uint64_t chunk = bit >> SB_BENCH_BITMAP_CHUNK_BITS;
    if (chunk >= SB_BENCH_BITMAP_CHUNKS_MAX) {
        return false;
    }
    if (atomic_load_explicit(&bitmap->chunks[chunk], memory_order_acquire) == NULL) {
        _Atomic uint64_t *fresh = calloc(CHUNK_WORDS, sizeof(uint64_t));
        _Atomic uint64_t *expected = NULL;
        if (fresh == NULL) {
            return false;
        }
        /* Publishes the zeroed chunk; the loser of a race frees its own. */
        if (!atomic_compare_exchange_strong_explicit(&bitmap->chunks[chunk], &expected, fresh,
                                                     memory_order_acq_rel,
                                                     memory_order_acquire)) {
            free(fresh);
        }
    }
    uint64_t mask = UINT64_C(1) << (bit % 64);
    return (atomic_fetch_or_explicit(bitmap_word(bitmap, bit), mask, memory_order_relaxed) &
            mask) != 0;
}

bool
sb_bench_bitmap_test(const struct sb_bench_bitmap *bitmap, uint64_t bit)
{
    _Atomic uint64_t *word = bitmap_word(bitmap, bit);
    return word != NULL &&
           (atomic_load_explicit(word, memory_order_relaxed) & (UINT64_C(1) << (bit % 64))) != 0;
}

void
sb_bench_bitmap_free(struct sb_bench_bitmap *bitmap)
{
    for (uint32_t chunk = 0; chunk < SB_BENCH_BITMAP_CHUNKS_MAX; chunk++) {
        free((void *)atomic_load(&bitmap->chunks[chunk]));
        atomic_store(&bitmap->chunks[chunk], NULL);
    }
}

uint64_t
sb_bench_verify_lost_acked(struct sb_bench_verify *verify, uint32_t producer_id,
                           const struct sb_bench_bitmap *acked, uint64_t sequences)
{
    struct sb_bench_verify_producer *producer = verify_find(verify, producer_id, false);
    uint64_t lost = 0;
    for (uint64_t bit = 0; bit < sequences; bit += 64) {
        _Atomic uint64_t *acked_word = bitmap_word(acked, bit);
        if (acked_word == NULL) {
            continue;
        }
        uint64_t want = atomic_load(acked_word);
        _Atomic uint64_t *got = producer != NULL ? bitmap_word(&producer->received, bit) : NULL;
        uint64_t have = got != NULL ? atomic_load(got) : 0;
        lost += (uint64_t)__builtin_popcountll(want & ~have);
    }
    return lost;
}

/* Bits set in [first, last] of bitmap. */
static uint64_t
bitmap_count_range(const struct sb_bench_bitmap *bitmap, uint64_t first, uint64_t last)
{
    uint64_t count = 0;
    for (uint64_t bit = first - first % 64; bit <= last; bit += 64) {
        _Atomic uint64_t *word = bitmap_word(bitmap, bit);
        if (word == NULL) {
            continue;
        }
        uint64_t mask = UINT64_MAX;
        if (bit < first) {
            mask &= UINT64_MAX << (first - bit);
        }
        if (last - bit < 63) {
            mask &= UINT64_MAX >> (63 - (last - bit));
        }
        count += (uint64_t)__builtin_popcountll(atomic_load(word) & mask);
        if (bit > UINT64_MAX - 64) {
            break;
        }
    }
    return count;
}

uint64_t
sb_bench_verify_lost_range(struct sb_bench_verify *verify,
                           const struct sb_bench_acknowledged *range)
{
    struct sb_bench_verify_producer *producer = verify_find(verify, range->producer_id, false);
    if (producer == NULL || range->count == 0) {
        return range->count;
    }
    uint64_t delivered = bitmap_count_range(&producer->received, range->first, range->last);
    return delivered < range->count ? range->count - delivered : 0;
}

uint64_t
sb_bench_verify_lost_gaps(struct sb_bench_verify *verify)
{
    uint64_t lost = 0;
    for (uint32_t slot = 0; slot < SB_BENCH_VERIFY_PRODUCERS_MAX; slot++) {
        if (atomic_load(&verify->ids[slot]) == 0) {
            continue;
        }
        struct sb_bench_verify_producer *producer = verify->producers[slot];
        uint64_t distinct = atomic_load(&producer->distinct);
        if (distinct > 0) {
            lost += atomic_load(&producer->sequence_max) - atomic_load(&producer->sequence_min) +
                    1 - distinct;
        }
    }
    return lost;
}
