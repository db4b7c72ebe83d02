/*
 * broker/group.c - a coordinator shard's group table (group.h): the hash indexes of groups
 * and of each group's committed offsets, and the records of __consumer_offsets that change
 * them ([OFFSETS-RECORD]).
 *
 * Both indexes are one struct group_index of pointers, keyed by a CRC32C the entry keeps:
 * linear probing, at most half full, doubled when it would not be, and backward-shift
 * deletion (no tombstones), so a lookup probes a few slots whatever the history.
 */
#include "broker/group.h"

#include <errno.h>
#include <string.h>

#include "core/alloc.h"
#include "core/assert.h"
#include "core/crc32c.h"
#include "core/endian.h"
#include "core/error.h"

/* Slots of a new index. */
#define GROUP_INDEX_CAPACITY_MIN 16u

/* True when `entry` has the key `key` (a struct group_key). */
typedef bool group_match_fn(const void *entry, const void *key);

/* A lookup key: a name (group id or topic) and, for offsets, a partition. */
struct group_key {
    struct sb_wire_string name; /* Group id or topic name. */
    int32_t partition;          /* Offsets only. */
};

static uint32_t
group_entry_hash(const void *entry, bool is_group)
{
    return is_group ? ((const struct group *)entry)->hash
                    : ((const struct group_offset *)entry)->hash;
}

/* The slot holding the entry with `key` (hash `hash`), or the empty slot where it would go. */
static uint32_t
group_index_probe(const struct group_index *index, uint32_t hash, group_match_fn *match,
                  const void *key)
{
    uint32_t mask = index->capacity - 1;
    uint32_t slot = hash & mask;
    while (index->slots[slot] != NULL && !match(index->slots[slot], key)) {
        slot = (slot + 1) & mask;
    }
    return slot;
}

static void *
group_index_find(const struct group_index *index, uint32_t hash, group_match_fn *match,
                 const void *key)
{
    if (index->capacity == 0) {
        return NULL;
    }
    return index->slots[group_index_probe(index, hash, match, key)];
}

/* Doubles the index (or makes the first one); false without memory. */
static bool
group_index_grow(struct group_index *index, bool is_group)
{
    uint32_t capacity = index->capacity == 0 ? GROUP_INDEX_CAPACITY_MIN : index->capacity * 2;
    void **slots = sb_alloc((size_t)capacity * sizeof(*slots));
    if (slots == NULL) {
        return false;
    }
    memset(slots, 0, (size_t)capacity * sizeof(*slots));
    for (uint32_t old = 0; old < index->capacity; old++) {
        void *entry = index->slots[old];
        if (entry == NULL) {
            continue;
        }
        uint32_t slot = group_entry_hash(entry, is_group) & (capacity - 1);
        while (slots[slot] != NULL) {
            slot = (slot + 1) & (capacity - 1);
        }
        slots[slot] = entry;
    }
    sb_free(index->slots);
    index->slots = slots;
    index->capacity = capacity;
    return true;
}

/* Inserts `entry` (not yet present); false without memory. */
static bool
group_index_insert(struct group_index *index, void *entry, bool is_group)
{
    if ((index->count + 1) * 2 > index->capacity && !group_index_grow(index, is_group)) {
        return false;
    }
    uint32_t mask = index->capacity - 1;
    uint32_t slot = group_entry_hash(entry, is_group) & mask;
    while (index->slots[slot] != NULL) {
        slot = (slot + 1) & mask;
    }
    index->slots[slot] = entry;
    index->count++;
    return true;
}

/* Removes `entry` (present), shifting back the entries probed past its slot. */
static void
group_index_remove(struct group_index *index, const void *entry, bool is_group)
{
    uint32_t mask = index->capacity - 1;
    uint32_t slot = group_entry_hash(entry, is_group) & mask;
    while (index->slots[slot] != entry) {
        slot = (slot + 1) & mask;
    }
    uint32_t hole = slot;
    for (uint32_t next = (hole + 1) & mask; index->slots[next] != NULL;
         next = (next + 1) & mask) {
        uint32_t home = group_entry_hash(index->slots[next], is_group) & mask;
        /* The entry at `next` may move to the hole unless its home lies in (hole, next]. */
        bool stays = hole <= next ? (home > hole && home <= next) : (home > hole || home <= next);
        if (!stays) {
            index->slots[hole] = index->slots[next];
            hole = next;
        }
    }
    index->slots[hole] = NULL;
    index->count--;
}

static bool
group_matches(const void *entry, const void *key)
{
    const struct group *group = entry;
    const struct group_key *wanted = key;
    return group->id_length == wanted->name.length &&
           memcmp(group->id, wanted->name.chars, wanted->name.length) == 0;
}

static bool
group_offset_matches(const void *entry, const void *key)
{
    const struct group_offset *offset = entry;
    const struct group_key *wanted = key;
    return offset->partition == wanted->partition &&
           offset->topic_length == wanted->name.length &&
           memcmp(offset->topic, wanted->name.chars, wanted->name.length) == 0;
}

static uint32_t
group_offset_hash(struct sb_wire_string topic, int32_t partition)
{
    uint8_t bytes[4];
    sb_store_le32(bytes, (uint32_t)partition);
    return sb_crc32c(sb_crc32c(0, topic.chars, topic.length), bytes, sizeof(bytes));
}

void
group_table_init(struct group_table *table)
{
    memset(table, 0, sizeof(*table));
}

static void
group_free(struct group *group)
{
    for (uint32_t slot = 0; slot < group->offsets.capacity; slot++) {
        struct group_offset *offset = group->offsets.slots[slot];
        if (offset != NULL) {
            sb_free(offset->metadata);
            sb_free(offset);
        }
    }
    sb_free(group->offsets.slots);
    if (group->membership != NULL) {
        sb_membership_deinit(group->membership);
        sb_free(group->membership);
    }
    sb_free(group);
}

void
group_table_deinit(struct group_table *table)
{
    for (uint32_t slot = 0; slot < table->groups.capacity; slot++) {
        if (table->groups.slots[slot] != NULL) {
            group_free(table->groups.slots[slot]);
        }
    }
    sb_free(table->groups.slots);
    memset(table, 0, sizeof(*table));
}

struct group *
group_find(struct group_table *table, struct sb_wire_string id)
{
    struct group_key key = {.name = id};
    return group_index_find(&table->groups, sb_crc32c(0, id.chars, id.length), group_matches,
                            &key);
}

struct group *
group_find_or_create(struct group_table *table, struct sb_wire_string id, uint32_t partition)
{
    SB_ASSERT(id.length <= SB_WIRE_GROUP_ID_BYTES_MAX);
    struct group *group = group_find(table, id);
    if (group != NULL) {
        return group;
    }
    group = sb_alloc(sizeof(*group));
    if (group == NULL) {
        return NULL;
    }
    memset(group, 0, sizeof(*group));
    group->hash = sb_crc32c(0, id.chars, id.length);
    group->id_length = id.length;
    memcpy(group->id, id.chars, id.length);
    group->partition = partition;
    if (!group_index_insert(&table->groups, group, true)) {
        sb_free(group);
        return NULL;
    }
    return group;
}

void
group_remove(struct group_table *table, struct group *group)
{
    group_index_remove(&table->groups, group, true);
    group_free(group);
}

bool
group_membership_sync(struct group_table *table, struct group *group)
{
    const struct sb_membership *membership = group->membership;
    SB_ASSERT(membership != NULL);
    group->member_count = membership->member_count;
    group->state = (int8_t)sb_membership_state(membership);
    group->group_epoch = membership->group_epoch;
    group->assignment_epoch = membership->assignment_epoch;
    if (group->member_count == 0 && group->offsets.count == 0 && !group->deleting) {
        group_remove(table, group);
        return false;
    }
    return true;
}

bool
group_membership_expire(struct group_table *table, struct group *group, int64_t now_ms)
{
    if (group->membership == NULL) {
        return true;
    }
    sb_membership_expire(group->membership, now_ms);
    return group_membership_sync(table, group);
}

struct group_offset *
group_offset_find(struct group *group, struct sb_wire_string topic, int32_t partition)
{
    struct group_key key = {.name = topic, .partition = partition};
    return group_index_find(&group->offsets, group_offset_hash(topic, partition),
                            group_offset_matches, &key);
}

/* Sets the group's offset of topic and partition (creating the entry); -ENOMEM. */
static int
group_offset_set(struct group *group, struct sb_wire_string topic, int32_t partition,
                 int64_t offset, int64_t commit_time_ms, struct sb_wire_string metadata)
{
    char *copy = NULL;
    if (metadata.length > 0 && (copy = sb_alloc(metadata.length)) == NULL) {
        return -ENOMEM;
    }
    struct group_offset *entry = group_offset_find(group, topic, partition);
    if (entry == NULL) {
        entry = sb_alloc(sizeof(*entry));
        if (entry != NULL) {
            memset(entry, 0, sizeof(*entry));
            entry->hash = group_offset_hash(topic, partition);
            entry->topic_length = topic.length;
            memcpy(entry->topic, topic.chars, topic.length);
            entry->partition = partition;
        }
        if (entry == NULL || !group_index_insert(&group->offsets, entry, false)) {
            sb_free(entry);
            sb_free(copy);
            return -ENOMEM;
        }
    }
    sb_free(entry->metadata);
    if (copy != NULL) {
        memcpy(copy, metadata.chars, metadata.length);
    }
    entry->metadata = copy;
    entry->metadata_length = metadata.length;
    entry->offset = offset;
    entry->commit_time_ms = commit_time_ms;
    group->last_commit_ms = commit_time_ms > group->last_commit_ms ? commit_time_ms
                                                                   : group->last_commit_ms;
    return 0;
}

/* Removes the group's offset of topic and partition, if any; then a group without offsets
 * and without members is removed. */
static void
group_offset_remove(struct group_table *table, struct group *group, struct sb_wire_string topic,
                    int32_t partition)
{
    struct group_offset *entry = group_offset_find(group, topic, partition);
    if (entry != NULL) {
        group_index_remove(&group->offsets, entry, false);
        sb_free(entry->metadata);
        sb_free(entry);
    }
    if (group->offsets.count == 0 && group->member_count == 0) {
        group_remove(table, group);
    }
}

uint32_t
group_record_key(uint8_t *key, struct sb_wire_string group, struct sb_wire_string topic,
                 int32_t partition)
{
    key[0] = GROUP_RECORD_VERSION;
    key[1] = GROUP_RECORD_TYPE_OFFSET;
    sb_store_le16(key + 2, group.length);
    memcpy(key + 4, group.chars, group.length);
    sb_store_le16(key + 4 + group.length, topic.length);
    memcpy(key + 6 + group.length, topic.chars, topic.length);
    sb_store_le32(key + 6 + group.length + topic.length, (uint32_t)partition);
    return GROUP_RECORD_KEY_FIXED_BYTES + group.length + topic.length;
}

uint32_t
group_record_value(uint8_t *value, int64_t offset, int64_t commit_time_ms,
                   struct sb_wire_string metadata)
{
    value[0] = GROUP_RECORD_VERSION;
    sb_store_le64(value + 1, (uint64_t)offset);
    sb_store_le64(value + 9, (uint64_t)commit_time_ms);
    sb_store_le16(value + 17, metadata.length);
    if (metadata.length > 0) {
        memcpy(value + 19, metadata.chars, metadata.length);
    }
    return GROUP_RECORD_VALUE_FIXED_BYTES + metadata.length;
}

/* A parsed offset record key. */
struct group_record_key {
    struct sb_wire_string group; /* Points into the record. */
    struct sb_wire_string topic; /* Points into the record. */
    int32_t partition;           /* Partition number. */
};

/* Parses a key of this version and type; false for anything else (skipped). */
static bool
group_record_key_parse(const struct sb_record_view *record, struct group_record_key *out)
{
    const uint8_t *key = record->key;
    uint32_t length = record->key_length < 0 ? 0 : (uint32_t)record->key_length;
    if (length < GROUP_RECORD_KEY_FIXED_BYTES || key[0] != GROUP_RECORD_VERSION ||
        key[1] != GROUP_RECORD_TYPE_OFFSET) {
        return false;
    }
    uint16_t group_length = sb_load_le16(key + 2);
    if (group_length == 0 || group_length > SB_WIRE_GROUP_ID_BYTES_MAX ||
        length < GROUP_RECORD_KEY_FIXED_BYTES + group_length) {
        return false;
    }
    uint16_t topic_length = sb_load_le16(key + 4 + group_length);
    if (topic_length > SB_WIRE_TOPIC_NAME_BYTES_MAX ||
        length != GROUP_RECORD_KEY_FIXED_BYTES + group_length + topic_length) {
        return false;
    }
    out->group = (struct sb_wire_string){(const char *)key + 4, group_length};
    out->topic = (struct sb_wire_string){(const char *)key + 6 + group_length, topic_length};
    out->partition = (int32_t)sb_load_le32(key + 6 + group_length + topic_length);
    return true;
}

int
group_record_apply(struct group_table *table, uint32_t partition,
                   const struct sb_record_view *record)
{
    struct group_record_key key;
    if (!group_record_key_parse(record, &key)) {
        return SB_ECORRUPT;
    }
    if (record->value_length < 0) {
        struct group *group = group_find(table, key.group);
        if (group != NULL) {
            group_offset_remove(table, group, key.topic, key.partition);
        }
        return 0;
    }
    const uint8_t *value = record->value;
    uint32_t length = (uint32_t)record->value_length;
    if (length < GROUP_RECORD_VALUE_FIXED_BYTES || value[0] != GROUP_RECORD_VERSION ||
        length != GROUP_RECORD_VALUE_FIXED_BYTES + sb_load_le16(value + 17)) {
        return SB_ECORRUPT;
    }
    struct group *group = group_find_or_create(table, key.group, partition);
    if (group == NULL) {
        return -ENOMEM;
    }
    struct sb_wire_string metadata = {(const char *)value + 19, sb_load_le16(value + 17)};
    return group_offset_set(group, key.topic, key.partition, (int64_t)sb_load_le64(value + 1),
                            (int64_t)sb_load_le64(value + 9), metadata);
}
