/*
 * broker/assignment.c - the partition assignment table (assignment.h): an
 * open-addressing hash of (topic id, partition) -> entry, at most half full,
 * with backward-shift deletion (no tombstones), grown by doubling.
 *
 * Start with sb_assignment_find (the probe loop) and assignment_grow; the
 * one-broker placement policy is sb_assignment_place_local.
 */
#include "broker/assignment.h"

#include <assert.h>
#include <errno.h>
#include <string.h>

#include "core/alloc.h"
#include "core/assert.h"
#include "core/endian.h"
#include "core/error.h"

static_assert((SB_ASSIGNMENT_SLOTS_MIN & (SB_ASSIGNMENT_SLOTS_MIN - 1)) == 0,
              "the table is masked by its size");
static_assert((uint64_t)SB_ASSIGNMENT_ENTRIES_MAX * 2 <= UINT32_MAX,
              "a full table's slot count fits uint32_t");
static_assert(24 + 4 * SB_ASSIGNMENT_REPLICAS_MAX <= SB_ASSIGNMENT_RECORD_BYTES,
              "the replicas fit a record");

static int assignment_grow(struct sb_assignment *assignment, uint32_t slot_count);

int
sb_assignment_init(struct sb_assignment *assignment)
{
    memset(assignment, 0, sizeof(*assignment));
    return assignment_grow(assignment, SB_ASSIGNMENT_SLOTS_MIN);
}

void
sb_assignment_deinit(struct sb_assignment *assignment)
{
    sb_free(assignment->slots);
    assignment->slots = NULL;
    assignment->slot_count = 0;
    assignment->entry_count = 0;
}

void
sb_assignment_clear(struct sb_assignment *assignment)
{
    memset(assignment->slots, 0, assignment->slot_count * sizeof(*assignment->slots));
    assignment->entry_count = 0;
    assignment->epoch = 0;
}

int
sb_assignment_copy(struct sb_assignment *to, const struct sb_assignment *from)
{
    SB_ASSERT(from->slot_count >= SB_ASSIGNMENT_SLOTS_MIN);
    struct sb_assignment_entry *slots = sb_alloc(from->slot_count * sizeof(*slots));
    if (slots == NULL) {
        return -ENOMEM;
    }
    memcpy(slots, from->slots, from->slot_count * sizeof(*slots));
    sb_free(to->slots);
    *to = *from;
    to->slots = slots;
    return 0;
}

static uint32_t
assignment_hash(const struct sb_assignment *assignment, uint32_t topic_id, uint32_t partition)
{
    uint64_t key = (uint64_t)topic_id << 32 | partition;
    return (uint32_t)((key * 0x9e3779b97f4a7c15ull) >> 32) & (assignment->slot_count - 1);
}

/* The slot holding (topic_id, partition), or the empty slot where it would go. */
static uint32_t
assignment_slot(const struct sb_assignment *assignment, uint32_t topic_id, uint32_t partition)
{
    uint32_t mask = assignment->slot_count - 1;
    uint32_t at = assignment_hash(assignment, topic_id, partition);
    /* Bounded by the table: it is at most half full, so an empty slot ends the probe. */
    while (assignment->slots[at].topic_id != 0 &&
           (assignment->slots[at].topic_id != topic_id ||
            assignment->slots[at].partition != partition)) {
        at = (at + 1) & mask;
    }
    return at;
}

const struct sb_assignment_entry *
sb_assignment_find(const struct sb_assignment *assignment, uint32_t topic_id,
                   uint32_t partition)
{
    SB_ASSERT(topic_id != 0);
    const struct sb_assignment_entry *entry =
        &assignment->slots[assignment_slot(assignment, topic_id, partition)];
    return entry->topic_id != 0 ? entry : NULL;
}

const struct sb_assignment_entry *
sb_assignment_get(const struct sb_assignment *assignment, uint32_t topic_id, uint32_t partition)
{
    const struct sb_assignment_entry *entry = sb_assignment_find(assignment, topic_id,
                                                                 partition);
    SB_ASSERT(entry != NULL);
    return entry;
}

uint32_t
sb_assignment_owner(const struct sb_assignment *assignment, uint32_t topic_id,
                    uint32_t partition)
{
    return sb_assignment_get(assignment, topic_id, partition)->shard;
}

/* Rehashes every entry into a table of `slot_count` slots (a power of two). */
static int
assignment_grow(struct sb_assignment *assignment, uint32_t slot_count)
{
    SB_ASSERT((slot_count & (slot_count - 1)) == 0);
    SB_ASSERT(slot_count >= 2 * assignment->entry_count);
    struct sb_assignment_entry *slots = sb_alloc(slot_count * sizeof(*slots)); /* Zeroed. */
    if (slots == NULL) {
        return -ENOMEM;
    }
    struct sb_assignment old = *assignment;
    assignment->slots = slots;
    assignment->slot_count = slot_count;
    for (uint32_t index = 0; index < old.slot_count; index++) {
        const struct sb_assignment_entry *entry = &old.slots[index];
        if (entry->topic_id != 0) {
            slots[assignment_slot(assignment, entry->topic_id, entry->partition)] = *entry;
        }
    }
    sb_free(old.slots);
    return 0;
}

int
sb_assignment_reserve(struct sb_assignment *assignment, uint32_t more)
{
    uint64_t needed = (uint64_t)assignment->entry_count + more;
    if (needed > SB_ASSIGNMENT_ENTRIES_MAX) {
        return -ENOSPC;
    }
    uint32_t slot_count = assignment->slot_count;
    /* Bounded: at most 32 doublings of a uint32_t. */
    while ((uint64_t)slot_count < 2 * needed) {
        slot_count *= 2;
    }
    return slot_count == assignment->slot_count ? 0 : assignment_grow(assignment, slot_count);
}

int
sb_assignment_put(struct sb_assignment *assignment, const struct sb_assignment_entry *entry)
{
    SB_ASSERT(entry->topic_id != 0);
    SB_ASSERT(entry->replica_count >= 1 && entry->replica_count <= SB_ASSIGNMENT_REPLICAS_MAX);
    uint32_t at = assignment_slot(assignment, entry->topic_id, entry->partition);
    if (assignment->slots[at].topic_id == 0) {
        int reserved = sb_assignment_reserve(assignment, 1);
        if (reserved != 0) {
            return reserved;
        }
        at = assignment_slot(assignment, entry->topic_id, entry->partition);
        assignment->entry_count++;
    }
    assignment->slots[at] = *entry;
    return 0;
}

/* Empties slot `gap`; entries after it move back into the gap if their probe started at or
 * before it, so every probe still reaches its entry before an empty slot. */
static void
assignment_remove_slot(struct sb_assignment *assignment, uint32_t gap)
{
    uint32_t mask = assignment->slot_count - 1;
    SB_ASSERT(assignment->slots[gap].topic_id != 0);
    memset(&assignment->slots[gap], 0, sizeof(assignment->slots[gap]));
    assignment->entry_count--;
    /* Bounded by the table: ends at the next empty slot. */
    for (uint32_t at = (gap + 1) & mask; assignment->slots[at].topic_id != 0;
         at = (at + 1) & mask) {
        struct sb_assignment_entry *entry = &assignment->slots[at];
        uint32_t home = assignment_hash(assignment, entry->topic_id, entry->partition);
        /* The entry may fill the gap if the gap lies on its probe path (home .. at). */
        if (((at - home) & mask) >= ((at - gap) & mask)) {
            assignment->slots[gap] = *entry;
            memset(entry, 0, sizeof(*entry));
            gap = at;
        }
    }
}

void
sb_assignment_remove(struct sb_assignment *assignment, uint32_t topic_id, uint32_t from,
                     uint32_t to)
{
    for (uint32_t partition = from; partition < to; partition++) {
        uint32_t at = assignment_slot(assignment, topic_id, partition);
        if (assignment->slots[at].topic_id != 0) {
            assignment_remove_slot(assignment, at);
        }
    }
}

int
sb_assignment_copy_topic(struct sb_assignment *to, const struct sb_assignment *from,
                         uint32_t topic_id, uint32_t partition_count)
{
    int reserved = sb_assignment_reserve(to, partition_count);
    if (reserved != 0) {
        return reserved;
    }
    for (uint32_t partition = 0; partition < partition_count; partition++) {
        const struct sb_assignment_entry *entry = sb_assignment_find(from, topic_id, partition);
        SB_ASSERT(entry != NULL);
        int put = sb_assignment_put(to, entry);
        SB_ASSERT(put == 0); /* Room was reserved. */
    }
    return 0;
}

int64_t
sb_assignment_place_local(struct sb_assignment *assignment, uint32_t topic_id,
                          uint32_t partition_count, uint32_t shard_count, int32_t broker)
{
    SB_ASSERT(shard_count > 0);
    int reserved = sb_assignment_reserve(assignment, partition_count);
    if (reserved != 0) {
        return reserved;
    }
    int64_t changed = 0;
    for (uint32_t partition = 0; partition < partition_count; partition++) {
        const struct sb_assignment_entry *found = sb_assignment_find(assignment, topic_id,
                                                                     partition);
        if (found != NULL && found->leader == broker && found->replica_count == 1 &&
            found->replicas[0] == broker) {
            continue;
        }
        struct sb_assignment_entry entry = {
            .topic_id = topic_id, .partition = partition,
            .shard = (uint32_t)(((uint64_t)topic_id + partition) % shard_count),
            .leader = broker, .leader_epoch = 0, .replica_count = 1, .replicas = {broker}};
        if (found != NULL) {
            entry.shard = found->shard;
            entry.leader_epoch = found->leader_epoch + (found->leader != broker);
        }
        int put = sb_assignment_put(assignment, &entry);
        SB_ASSERT(put == 0); /* Room was reserved. */
        changed++;
    }
    return changed;
}

/* [METADATA-ASSIGNMENT] in metadata.h. */
void
sb_assignment_entry_encode(const struct sb_assignment_entry *entry, uint8_t *bytes)
{
    memset(bytes, 0, SB_ASSIGNMENT_RECORD_BYTES);
    sb_store_le32(bytes, entry->topic_id);
    sb_store_le32(bytes + 4, entry->partition);
    sb_store_le32(bytes + 8, entry->shard);
    sb_store_le32(bytes + 12, (uint32_t)entry->leader);
    sb_store_le32(bytes + 16, (uint32_t)entry->leader_epoch);
    sb_store_le32(bytes + 20, entry->replica_count);
    for (uint32_t index = 0; index < entry->replica_count; index++) {
        sb_store_le32(bytes + 24 + 4 * index, (uint32_t)entry->replicas[index]);
    }
}

int
sb_assignment_entry_decode(const uint8_t *bytes, struct sb_assignment_entry *entry)
{
    memset(entry, 0, sizeof(*entry));
    entry->topic_id = sb_load_le32(bytes);
    entry->partition = sb_load_le32(bytes + 4);
    entry->shard = sb_load_le32(bytes + 8);
    entry->leader = (int32_t)sb_load_le32(bytes + 12);
    entry->leader_epoch = (int32_t)sb_load_le32(bytes + 16);
    entry->replica_count = sb_load_le32(bytes + 20);
    if (entry->topic_id == 0 || entry->replica_count == 0 ||
        entry->replica_count > SB_ASSIGNMENT_REPLICAS_MAX || entry->leader_epoch < 0) {
        return SB_ECORRUPT;
    }
    for (uint32_t index = 0; index < entry->replica_count; index++) {
        entry->replicas[index] = (int32_t)sb_load_le32(bytes + 24 + 4 * index);
    }
    return 0;
}
