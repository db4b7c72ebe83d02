/*
 * broker/group.h - a coordinator shard's consumer groups, protocol-neutral: the groups whose
 * offsets partition (of the internal topic __consumer_offsets) this shard owns, each with
 * its committed offsets and its membership. Native APIs (api_group.c) and, later, Kafka's
 * classic group protocol read and change the same table (group.c); it is rebuilt at start
 * from the offsets partitions (group_coordinator.c).
 *
 * The table only changes from records of the group's offsets partition once they are durable
 * (group_record_apply), so what OffsetFetch answers never runs ahead of the disk.
 *
 * [OFFSETS-RECORD] Records of __consumer_offsets, little-endian. Key:
 *   0 1 version 0   1 1 type (0 = committed offset)   2 2 group length g   4 g group
 *   4+g 2 topic length t   6+g t topic   6+g+t 4 partition
 * Value (null = tombstone: the offset is removed; compaction keeps the latest per key):
 *   0 1 version 0   1 8 offset   9 8 commit time (ms since the epoch)
 *   17 2 metadata length m   19 m metadata
 * A record of another version or type is skipped at recovery (a newer broker's).
 *
 * Membership: helper code for the group protocol (group_member*.c) owns the fields marked
 * "membership" below and may add its own; everything else here treats a group with
 * member_count > 0 as having members (commits without membership, deletion and offset resets
 * are refused then).
 */
#ifndef SB_BROKER_GROUP_H
#define SB_BROKER_GROUP_H

#include <stdbool.h>
#include <stdint.h>

#include "core/limits.h"
#include "broker/group_member.h"
#include "proto/batch.h"
#include "proto/wire.h"

/* [OFFSETS-RECORD] constants. */
#define GROUP_RECORD_VERSION 0
#define GROUP_RECORD_TYPE_OFFSET 0
#define GROUP_RECORD_KEY_FIXED_BYTES 10u  /* version, type, two lengths, partition. */
#define GROUP_RECORD_VALUE_FIXED_BYTES 19u /* version, offset, time, metadata length. */
/* Bytes one offset record may add to a batch beyond its key and value: its varints. */
#define GROUP_RECORD_OVERHEAD_BYTES 32u

/* An open-addressing hash index of pointers (linear probing, at most half full). */
struct group_index {
    void **slots;      /* capacity entries, NULL = empty (owned). */
    uint32_t capacity; /* A power of two, or 0 before the first insert. */
    uint32_t count;    /* Entries. */
};

/* One committed offset of a group. */
struct group_offset {
    uint32_t hash;                    /* Of topic and partition (the index's key). */
    uint16_t topic_length;            /* Bytes of topic. */
    char topic[SB_WIRE_TOPIC_NAME_BYTES_MAX + 1]; /* Topic name, NUL-terminated. */
    int32_t partition;                /* Partition number. */
    int64_t offset;                   /* The committed offset. */
    int64_t commit_time_ms;           /* Broker time of the commit. */
    uint16_t metadata_length;         /* Bytes of metadata. */
    char *metadata;                   /* The client's string (owned), NULL when empty. */
};

/* One consumer group. */
struct group {
    uint32_t hash;                   /* Of the group id (the table's key). */
    uint16_t id_length;              /* Bytes of id. */
    char id[SB_WIRE_GROUP_ID_BYTES_MAX + 1]; /* Group id, NUL-terminated. */
    uint32_t partition;              /* Its offsets partition. */
    struct group_index offsets;      /* struct group_offset by topic and partition. */
    int64_t last_commit_ms;          /* Newest commit time (expiry), 0 when none. */
    uint32_t member_count;           /* Membership: live members (0 = empty group). */
    int8_t state;                    /* Membership: enum sb_group_state. */
    int32_t group_epoch;             /* Membership: bumped by membership changes. */
    int32_t assignment_epoch;        /* Membership: epoch of the target assignment. */
    struct sb_membership *membership; /* Members and assignments (group_member.h; owned),
                                         NULL until the first GroupHeartbeat. */
    bool deleting;                   /* Tombstones of every offset are being written
                                        (DeleteGroup, expiry). */
};

/* A shard's groups. */
struct group_table {
    struct group_index groups;       /* struct group by id. */
};

void group_table_init(struct group_table *table);
/* Frees every group and offset. */
void group_table_deinit(struct group_table *table);
/* The group, or NULL. */
struct group *group_find(struct group_table *table, struct sb_wire_string id);
/* The group, created empty (offsets partition `partition`) if needed; NULL without memory. */
struct group *group_find_or_create(struct group_table *table, struct sb_wire_string id,
                                   uint32_t partition);
/* Removes and frees the group with its offsets. */
void group_remove(struct group_table *table, struct group *group);
/* After the group's membership changed (a heartbeat, an expiry): copies member_count, state
 * and the epochs from it, and removes the group from the table when it has neither members
 * nor committed offsets (nothing is left to keep). Returns false when it was removed. */
bool group_membership_sync(struct group_table *table, struct group *group);
/* Removes the members whose session or rebalance timeout ran out by now_ms (the shard's
 * clock), then group_membership_sync. Returns false when the group was removed. */
bool group_membership_expire(struct group_table *table, struct group *group, int64_t now_ms);
/* The index's entry at `slot` (NULL when empty): iteration over groups or offsets. */
static inline void *
group_index_slot(const struct group_index *index, uint32_t slot)
{
    return index->slots[slot];
}

/* The group's committed offset of topic and partition, or NULL. */
struct group_offset *group_offset_find(struct group *group, struct sb_wire_string topic,
                                       int32_t partition);

/* Key and value of an offset record into `key` (room for GROUP_RECORD_KEY_FIXED_BYTES + group
 * + topic) and `value` (GROUP_RECORD_VALUE_FIXED_BYTES + metadata); return their lengths. */
uint32_t group_record_key(uint8_t *key, struct sb_wire_string group, struct sb_wire_string topic,
                          int32_t partition);
uint32_t group_record_value(uint8_t *value, int64_t offset, int64_t commit_time_ms,
                            struct sb_wire_string metadata);
/* Applies one durable record of offsets partition `partition` to the table: a commit
 * creates the group if needed and sets the offset, a tombstone removes it. Returns 0,
 * SB_ECORRUPT for a key or value that does not parse (skipped), -ENOMEM. */
int group_record_apply(struct group_table *table, uint32_t partition,
                       const struct sb_record_view *record);

#endif /* SB_BROKER_GROUP_H */
