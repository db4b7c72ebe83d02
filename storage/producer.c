/*
 * storage/producer.c - idempotent producers: per partition, the recent
 * sequence numbers of each producer id, so a retried batch is recognized
 * (and answered with its original offset) and a gap is refused.
 *
 * A batch with producer_id >= 0 and base_sequence >= 0 is idempotent. For
 * its producer (same id) in this partition (Kafka's rules):
 *   - an older epoch is fenced (-ESTALE);
 *   - a newer epoch starts over at sequence 0 (else -EILSEQ);
 *   - the same epoch must continue at last_sequence + 1; a batch equal to one
 *     of the last SB_PRODUCER_RECENT batches is a duplicate (-EEXIST with the
 *     original base offset); anything else is out of order (-EILSEQ).
 * An unknown producer (new, expired or evicted) must start at sequence 0:
 * anything else is -ESRCH (UNKNOWN_PRODUCER_ID; the client takes a new epoch),
 * since accepting it could store a retry of a batch whose record was lost.
 *
 * Lifetime: a producer idle longer than producer_expiration_ms is forgotten
 * (when next looked up, when its slot is wanted, and at recovery). A partition
 * tracks at most SB_STORE_PRODUCERS_PER_PARTITION, from a store-wide pool; when
 * full, a newcomer takes the slot of the least recently used producer if that
 * one has been idle SB_PRODUCER_EVICT_IDLE_MS (or the expiration, if shorter),
 * else it is refused with SB_EFULL (retriable) and nothing is appended.
 *
 * Durability: each producer keeps two histories: `appended` (up to the log
 * end, what appends are checked against) and `flushed` (up to the partition's
 * flushed_offset, fed by flush.c as batches become durable in segments). A new
 * segment's block 0 carries the flushed histories ([PRODUCER-SNAPSHOT]): the
 * state as of its base offset. Recovery loads the open segment's snapshot,
 * then replays the open segment and the WAL after it, so the state survives
 * rolls and restarts exactly.
 */
#include <errno.h>
#include <string.h>

#include "core/assert.h"
#include "core/clock.h"
#include "core/error.h"
#include "proto/batch.h"
#include "storage/store_private.h"

static int64_t
producer_now_ms(void)
{
    return (int64_t)(sb_clock_realtime_ns() / SB_NS_PER_MS);
}

static bool
producer_expired(const struct sb_partition *partition, const struct producer_state *state,
                 int64_t now_ms)
{
    return now_ms - state->last_used_ms > (int64_t)partition->store->config.producer_expiration_ms;
}

static void
producer_unlink(struct sb_partition *partition, struct producer_state **link)
{
    struct producer_state *state = *link;
    *link = state->next;
    SB_ASSERT(partition->producer_count > 0);
    partition->producer_count--;
    sb_slab_give(&partition->store->producer_slab, state);
}

/* The producer's state; an expired one is forgotten first when `expire` is set. */
static struct producer_state *
producer_find(struct sb_partition *partition, int64_t producer_id, bool expire)
{
    for (struct producer_state **link = &partition->producers; *link != NULL;
         link = &(*link)->next) {
        if ((*link)->producer_id != producer_id) {
            continue;
        }
        if (expire && producer_expired(partition, *link, producer_now_ms())) {
            producer_unlink(partition, link);
            return NULL;
        }
        return *link;
    }
    return NULL;
}

/* Frees the slots of expired producers. */
static void
producer_expire(struct sb_partition *partition, int64_t now_ms)
{
    struct producer_state **link = &partition->producers;
    /* Bounded by the partition's producers. */
    while (*link != NULL) {
        if (producer_expired(partition, *link, now_ms)) {
            producer_unlink(partition, link);
        } else {
            link = &(*link)->next;
        }
    }
}

/* Gives the slot of the least recently used producer, if `force` or it is idle enough. */
static struct producer_state *
producer_evict(struct sb_partition *partition, int64_t now_ms, bool force)
{
    struct producer_state **oldest = NULL;
    for (struct producer_state **link = &partition->producers; *link != NULL;
         link = &(*link)->next) {
        if (oldest == NULL || (*link)->last_used_ms < (*oldest)->last_used_ms) {
            oldest = link;
        }
    }
    int64_t idle_ms = (int64_t)partition->store->config.producer_expiration_ms;
    idle_ms = idle_ms < SB_PRODUCER_EVICT_IDLE_MS ? idle_ms : SB_PRODUCER_EVICT_IDLE_MS;
    if (oldest == NULL || (!force && now_ms - (*oldest)->last_used_ms < idle_ms)) {
        return NULL;
    }
    struct producer_state *state = *oldest;
    *oldest = state->next;
    partition->producer_count--;
    return state;
}

/* A fresh state for `producer_id` (linked into the partition), or NULL if there is no room
 * (never when `force`, unless the pool is empty and the partition tracks nobody). */
static struct producer_state *
producer_take(struct sb_partition *partition, int64_t producer_id, int64_t now_ms, bool force)
{
    producer_expire(partition, now_ms);
    struct producer_state *state = NULL;
    if (partition->producer_count < SB_STORE_PRODUCERS_PER_PARTITION) {
        state = sb_slab_take(&partition->store->producer_slab);
    }
    if (state == NULL) {
        state = producer_evict(partition, now_ms, force);
    }
    if (state == NULL) {
        return NULL;
    }
    memset(state, 0, sizeof(*state));
    state->producer_id = producer_id;
    state->last_used_ms = now_ms;
    state->appended.last_sequence = -1;
    state->flushed.last_sequence = -1;
    state->flushed.epoch = -1;
    state->next = partition->producers;
    partition->producers = state;
    partition->producer_count++;
    SB_ASSERT(partition->producer_count <= SB_STORE_PRODUCERS_PER_PARTITION);
    return state;
}

static bool
producer_idempotent(const struct sb_batch_header *header)
{
    return header->producer_id >= 0 && header->base_sequence >= 0;
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
    if (!producer_idempotent(header)) {
        return 0;
    }
    struct producer_state *state = producer_find(partition, header->producer_id, true);
    if (state == NULL) {
        if (header->base_sequence != 0) {
            return -ESRCH;
        }
        state = producer_take(partition, header->producer_id, producer_now_ms(), false);
        if (state == NULL) {
            return SB_EFULL;
        }
        state->appended.epoch = header->producer_epoch;
        return 0;
    }
    const struct producer_history *history = &state->appended;
    if (header->producer_epoch != history->epoch) {
        if (header->producer_epoch < history->epoch) {
            return -ESTALE;
        }
        return header->base_sequence == 0 ? 0 : -EILSEQ;
    }
    int32_t last = producer_last_sequence(header);
    for (uint32_t index = 0; index < history->recent_count; index++) {
        const struct producer_batch *recent = &history->recent[index];
        if (recent->first_sequence == header->base_sequence && recent->last_sequence == last) {
            *duplicate_offset_out = recent->base_offset;
            return -EEXIST;
        }
    }
    int32_t expected = history->last_sequence == INT32_MAX ? 0 : history->last_sequence + 1;
    return header->base_sequence == expected ? 0 : -EILSEQ;
}

static void
history_note(struct producer_history *history, const struct sb_batch_header *header,
             int64_t base_offset)
{
    if (header->producer_epoch != history->epoch) {
        history->epoch = header->producer_epoch;
        history->recent_count = 0;
        history->recent_next = 0;
    }
    history->last_sequence = producer_last_sequence(header);
    history->recent[history->recent_next] = (struct producer_batch){
        header->base_sequence, history->last_sequence, base_offset};
    history->recent_next = (history->recent_next + 1) % SB_PRODUCER_RECENT;
    if (history->recent_count < SB_PRODUCER_RECENT) {
        history->recent_count++;
    }
}

void
producer_note(struct sb_partition *partition, const struct sb_batch_header *header,
              int64_t base_offset)
{
    if (!producer_idempotent(header)) {
        return;
    }
    struct producer_state *state = producer_find(partition, header->producer_id, false);
    SB_ASSERT(state != NULL); /* producer_check found or made it just before. */
    history_note(&state->appended, header, base_offset);
    state->last_used_ms = producer_now_ms();
}

void
producer_note_flushed(struct sb_partition *partition, const struct sb_batch_header *header,
                      int64_t base_offset)
{
    if (!producer_idempotent(header)) {
        return;
    }
    struct producer_state *state = producer_find(partition, header->producer_id, false);
    if (state != NULL) { /* Else evicted or expired since: forgotten on purpose. */
        history_note(&state->flushed, header, base_offset);
    }
}

void
producer_note_recovered(struct sb_partition *partition, const struct sb_batch_header *header,
                        bool in_segment, int64_t written_ms)
{
    if (!producer_idempotent(header)) {
        return;
    }
    /* The append time is not stored: age from the file's last write, which is no earlier, or
     * the batch's own clock if that is later (a producer is never forgotten early), never
     * from the future. */
    int64_t now_ms = producer_now_ms();
    int64_t used_ms = written_ms > header->max_timestamp_ms ? written_ms
                                                            : header->max_timestamp_ms;
    used_ms = used_ms < now_ms ? used_ms : now_ms;
    struct producer_state *state = producer_find(partition, header->producer_id, false);
    if (state == NULL) {
        if (now_ms - used_ms > (int64_t)partition->store->config.producer_expiration_ms) {
            return;
        }
        state = producer_take(partition, header->producer_id, now_ms, true);
        if (state == NULL) {
            return; /* The store-wide pool is empty: the producer stays unknown. */
        }
    }
    history_note(&state->appended, header, header->base_offset);
    if (in_segment) {
        history_note(&state->flushed, header, header->base_offset);
    }
    state->last_used_ms = used_ms > state->last_used_ms ? used_ms : state->last_used_ms;
}

static void
history_to_entry(const struct producer_history *history, struct sb_producer_entry *entry)
{
    entry->epoch = history->epoch;
    entry->last_sequence = history->last_sequence;
    entry->recent_count = (uint8_t)history->recent_count;
    uint32_t first = (history->recent_next + SB_PRODUCER_RECENT - history->recent_count) %
                     SB_PRODUCER_RECENT;
    for (uint32_t index = 0; index < history->recent_count; index++) {
        const struct producer_batch *batch =
            &history->recent[(first + index) % SB_PRODUCER_RECENT];
        entry->recent[index] = (struct sb_producer_entry_batch){
            batch->first_sequence, batch->last_sequence, batch->base_offset};
    }
}

void
producer_snapshot_encode(struct sb_partition *partition, uint8_t *bytes)
{
    int64_t now_ms = producer_now_ms();
    uint32_t count = 0;
    for (struct producer_state *state = partition->producers; state != NULL;
         state = state->next) {
        if (state->flushed.recent_count == 0 || producer_expired(partition, state, now_ms)) {
            continue;
        }
        SB_ASSERT(count < SB_PRODUCER_SNAPSHOT_MAX);
        struct sb_producer_entry entry = {.producer_id = state->producer_id,
                                          .last_used_ms = state->last_used_ms};
        history_to_entry(&state->flushed, &entry);
        sb_producer_entry_encode(&entry, bytes + SB_PRODUCER_SNAPSHOT_HEADER_BYTES +
                                             count * SB_PRODUCER_ENTRY_BYTES);
        count++;
    }
    sb_producer_snapshot_seal(bytes, count);
}

static void
history_from_entry(struct producer_history *history, const struct sb_producer_entry *entry)
{
    history->epoch = entry->epoch;
    history->last_sequence = entry->last_sequence;
    history->recent_count = entry->recent_count;
    history->recent_next = entry->recent_count % SB_PRODUCER_RECENT;
    for (uint32_t index = 0; index < entry->recent_count; index++) {
        history->recent[index] = (struct producer_batch){entry->recent[index].first_sequence,
                                                         entry->recent[index].last_sequence,
                                                         entry->recent[index].base_offset};
    }
}

int
producer_snapshot_load(struct sb_partition *partition, const uint8_t *bytes)
{
    uint32_t count = 0;
    int result = sb_producer_snapshot_verify(bytes, &count);
    int64_t now_ms = producer_now_ms();
    for (uint32_t index = 0; result == 0 && index < count; index++) {
        struct sb_producer_entry entry;
        result = sb_producer_entry_decode(bytes + SB_PRODUCER_SNAPSHOT_HEADER_BYTES +
                                              index * SB_PRODUCER_ENTRY_BYTES, &entry);
        if (result != 0 || now_ms - entry.last_used_ms >
                               (int64_t)partition->store->config.producer_expiration_ms) {
            continue;
        }
        struct producer_state *state = producer_find(partition, entry.producer_id, false);
        if (state == NULL) {
            state = producer_take(partition, entry.producer_id, now_ms, true);
        }
        if (state != NULL) {
            history_from_entry(&state->appended, &entry);
            history_from_entry(&state->flushed, &entry);
            state->last_used_ms = entry.last_used_ms;
        }
    }
    return result;
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
