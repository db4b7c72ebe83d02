/*
 * storage/producer.c - idempotent producers: per partition, the recent
 * sequence numbers of each producer id, so a retried batch is recognized
 * (and answered with its original offset) and a gap is refused.
 *
 * A batch with producer_id >= 0 and base_sequence >= 0 is idempotent. For
 * its producer (same id) in this partition:
 *   - an older epoch is fenced (-ESTALE);
 *   - a newer epoch starts over (its first sequence may be anything);
 *   - the same epoch must continue at last_sequence + 1; a batch equal to one
 *     of the last SB_PRODUCER_RECENT batches is a duplicate (-EEXIST with the
 *     original base offset); anything else is out of order (-EILSEQ).
 * An unknown producer (new, or forgotten) is accepted at any sequence.
 * State lives in a store-wide pool; each partition keeps at most
 * SB_PRODUCERS_PER_PARTITION, forgetting the least recently used. Recovery
 * rebuilds it from the batches it scans (the open segment and the WAL).
 */
#include <errno.h>
#include <string.h>

#include "core/assert.h"
#include "proto/batch.h"
#include "storage/store_private.h"

static struct producer_state *
producer_find(struct sb_partition *partition, int64_t producer_id)
{
    for (struct producer_state *state = partition->producers; state != NULL;
         state = state->next) {
        if (state->producer_id == producer_id) {
            return state;
        }
    }
    return NULL;
}

/* A slot for a new producer: from the pool, or the partition's least recently used. */
static struct producer_state *
producer_take(struct sb_partition *partition)
{
    struct sb_store *store = partition->store;
    struct producer_state *state = NULL;
    if (partition->producer_count < SB_PRODUCERS_PER_PARTITION) {
        state = sb_slab_take(&store->producer_slab);
    }
    if (state != NULL) {
        partition->producer_count++;
    } else {
        struct producer_state **oldest = &partition->producers;
        for (struct producer_state **link = &partition->producers; *link != NULL;
             link = &(*link)->next) {
            if ((*link)->last_used < (*oldest)->last_used) {
                oldest = link;
            }
        }
        state = *oldest;
        if (state == NULL) {
            return NULL; /* Pool empty and nothing to reuse: not tracked (accepted). */
        }
        *oldest = state->next;
    }
    memset(state, 0, sizeof(*state));
    state->next = partition->producers;
    partition->producers = state;
    return state;
}

static int32_t
producer_last_sequence(const struct sb_batch_header *header)
{
    int64_t last = (int64_t)header->base_sequence + (int64_t)header->record_count - 1;
    return (int32_t)(last % ((int64_t)INT32_MAX + 1));
}

int
producer_check(struct sb_partition *partition, const struct sb_batch_header *header,
               int64_t *duplicate_offset_out)
{
    if (header->producer_id < 0 || header->base_sequence < 0) {
        return 0;
    }
    struct producer_state *state = producer_find(partition, header->producer_id);
    if (state == NULL || header->producer_epoch > state->epoch) {
        return 0;
    }
    if (header->producer_epoch < state->epoch) {
        return -ESTALE;
    }
    int32_t last = producer_last_sequence(header);
    for (uint32_t index = 0; index < state->recent_count; index++) {
        const struct producer_batch *recent = &state->recent[index];
        if (recent->first_sequence == header->base_sequence && recent->last_sequence == last) {
            *duplicate_offset_out = recent->base_offset;
            return -EEXIST;
        }
    }
    int32_t expected = state->last_sequence == INT32_MAX ? 0 : state->last_sequence + 1;
    return header->base_sequence == expected ? 0 : -EILSEQ;
}

void
producer_note(struct sb_partition *partition, const struct sb_batch_header *header,
              int64_t base_offset)
{
    if (header->producer_id < 0 || header->base_sequence < 0) {
        return;
    }
    struct producer_state *state = producer_find(partition, header->producer_id);
    if (state == NULL || header->producer_epoch != state->epoch) {
        state = state != NULL ? state : producer_take(partition);
        if (state == NULL) {
            return;
        }
        state->producer_id = header->producer_id;
        state->epoch = header->producer_epoch;
        state->recent_count = 0;
        state->recent_next = 0;
    }
    state->last_sequence = producer_last_sequence(header);
    state->last_used = ++partition->store->producer_clock;
    state->recent[state->recent_next] = (struct producer_batch){
        header->base_sequence, state->last_sequence, base_offset};
    state->recent_next = (state->recent_next + 1) % SB_PRODUCER_RECENT;
    if (state->recent_count < SB_PRODUCER_RECENT) {
        state->recent_count++;
    }
}

void
producer_forget_all(struct sb_partition *partition)
{
    struct sb_store *store = partition->store;
    while (partition->producers != NULL) {
        struct producer_state *state = partition->producers;
        partition->producers = state->next;
        sb_slab_give(&store->producer_slab, state);
    }
    partition->producer_count = 0;
}
