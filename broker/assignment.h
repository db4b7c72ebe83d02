/*
 * broker/assignment.h - the partition assignment table: (topic, partition) ->
 * owning shard, leader broker, leader epoch and replica list. It is data, not
 * a formula, so that clusters can fill it from a metadata store; on one broker
 * it is filled as partitions always were placed (sb_assignment_place_local).
 *
 * Shard 0 owns the authoritative table: it changes it with the topic table,
 * persists it in <data>/metadata ([METADATA-ASSIGNMENT] in metadata.h) with an
 * epoch bumped on every change, and broadcasts the changes with the topic
 * updates; every shard keeps its own copy. Invariant: every partition of every
 * topic in a shard's topic table has an entry in that shard's assignment.
 *
 * Lookups hash (topic id, partition) into an open-addressing table (linear
 * probing, at most half full, backward-shift deletion), so routing a request
 * costs a few probes per partition, never a scan. The table grows by doubling
 * when partitions are added (sb_alloc: a topic change is the control plane's
 * cold path, not a request's). Pure: no I/O, no shard state, testable alone.
 */
#ifndef SB_BROKER_ASSIGNMENT_H
#define SB_BROKER_ASSIGNMENT_H

#include <stdbool.h>
#include <stdint.h>

/* Most replicas a partition may list. */
#define SB_ASSIGNMENT_REPLICAS_MAX 8u
/* Slots of an empty table (a power of two). */
#define SB_ASSIGNMENT_SLOTS_MIN 1024u
/* Most entries: every partition of every topic (metadata.h's SB_TOPICS_MAX x
 * SB_TOPIC_PARTITIONS_MAX), so a table of twice as many slots still fits uint32_t. */
#define SB_ASSIGNMENT_ENTRIES_MAX (1u << 24)
/* Bytes of one [METADATA-ASSIGNMENT] record. */
#define SB_ASSIGNMENT_RECORD_BYTES 64u

struct sb_assignment_entry {
    uint32_t topic_id;        /* 0: an empty slot (topic ids start at 1). */
    uint32_t partition;       /* Partition number. */
    uint32_t shard;           /* Shard owning it on the leader. */
    int32_t leader;           /* Node id of the leading broker. */
    int32_t leader_epoch;     /* 0 at creation; bumped whenever the leader changes. */
    uint32_t replica_count;   /* Replicas listed, 1..SB_ASSIGNMENT_REPLICAS_MAX. */
    int32_t replicas[SB_ASSIGNMENT_REPLICAS_MAX]; /* Node ids, leader first. */
};

struct sb_assignment {
    struct sb_assignment_entry *slots; /* slot_count slots (owned). */
    uint32_t slot_count;               /* A power of two; entries use at most half. */
    uint32_t entry_count;              /* Slots in use. */
    uint64_t epoch;                    /* Bumped by each change shard 0 persists. */
};

/* Returns 0 or -ENOMEM. */
int sb_assignment_init(struct sb_assignment *assignment);
void sb_assignment_deinit(struct sb_assignment *assignment);
/* Removes every entry; the epoch becomes 0. */
void sb_assignment_clear(struct sb_assignment *assignment);
/* Makes `to` (initialized) hold every entry and the epoch of `from`. Returns 0 or -ENOMEM
 * (then `to` is unchanged). */
int sb_assignment_copy(struct sb_assignment *to, const struct sb_assignment *from);

/* The entry of (topic_id, partition), or NULL; borrowed until the table changes. */
const struct sb_assignment_entry *sb_assignment_find(const struct sb_assignment *assignment,
                                                     uint32_t topic_id, uint32_t partition);
/* The entry of a partition the caller's topic table holds (asserted present: the invariant
 * above); borrowed until the table changes. */
const struct sb_assignment_entry *sb_assignment_get(const struct sb_assignment *assignment,
                                                    uint32_t topic_id, uint32_t partition);
/* The shard owning a partition the caller's topic table holds (as sb_assignment_get). The one
 * place a partition's owner is decided. */
uint32_t sb_assignment_owner(const struct sb_assignment *assignment, uint32_t topic_id,
                             uint32_t partition);
/* Makes room for `more` entries beyond those present. Returns 0 or -ENOMEM (or -ENOSPC past
 * SB_ASSIGNMENT_ENTRIES_MAX); after 0, that many puts of new entries cannot fail. */
int sb_assignment_reserve(struct sb_assignment *assignment, uint32_t more);
/* Inserts `entry` (copied) or replaces the entry of its partition. Returns 0, -ENOMEM or
 * -ENOSPC. */
int sb_assignment_put(struct sb_assignment *assignment, const struct sb_assignment_entry *entry);
/* Removes the entries of partitions [from, to) of a topic; absent ones are skipped. */
void sb_assignment_remove(struct sb_assignment *assignment, uint32_t topic_id, uint32_t from,
                          uint32_t to);
/* Copies the entries of partitions [0, partition_count) of a topic from `from` (which has
 * them all): a shard applying shard 0's change. All or nothing: 0 or -ENOMEM/-ENOSPC. */
int sb_assignment_copy_topic(struct sb_assignment *to, const struct sb_assignment *from,
                             uint32_t topic_id, uint32_t partition_count);
/* One broker's policy: every partition [0, partition_count) of a topic is led by `broker`
 * with replicas [broker]. A missing entry is created on shard (topic_id + partition) %
 * shard_count (where partitions have always lived) with leader epoch 0; an entry led by
 * another broker moves to `broker`, its leader epoch bumped, its shard kept. Returns the
 * number of entries created or changed, or -ENOMEM/-ENOSPC (then nothing changed). */
int64_t sb_assignment_place_local(struct sb_assignment *assignment, uint32_t topic_id,
                                  uint32_t partition_count, uint32_t shard_count,
                                  int32_t broker);

/* [METADATA-ASSIGNMENT] record codec (metadata.h): encode into SB_ASSIGNMENT_RECORD_BYTES
 * bytes; decode returns 0 or SB_ECORRUPT (a replica count outside 1..MAX, a topic id 0). */
void sb_assignment_entry_encode(const struct sb_assignment_entry *entry, uint8_t *bytes);
int sb_assignment_entry_decode(const uint8_t *bytes, struct sb_assignment_entry *entry);

#endif /* SB_BROKER_ASSIGNMENT_H */
