/*
 * broker/metadata.c - the topic table and its file format (metadata.h).
 */
#include "broker/metadata.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/assert.h"
#include "core/crc32c.h"
#include "core/endian.h"
#include "core/error.h"
#include "core/io_durability.h"
#include "core/limits.h"
#include "proto/api_admin.h"

#define METADATA_MAGIC 0x444d4253u
#define METADATA_VERSION_TOPICS 1u /* Read only: topics, no assignment. */
#define METADATA_VERSION 2u

static_assert((SB_METADATA_INDEX_SLOTS & (SB_METADATA_INDEX_SLOTS - 1)) == 0,
              "the index is masked by its size");
static_assert(SB_METADATA_INDEX_SLOTS >= 2 * SB_TOPICS_MAX, "the index stays half empty");
static_assert(SB_TOPICS_MAX < UINT16_MAX, "a slot + 1 fits an index entry");

int
sb_metadata_init(struct sb_metadata *metadata)
{
    memset(metadata, 0, sizeof(*metadata));
    metadata->topics = sb_alloc(SB_TOPICS_MAX * sizeof(struct sb_topic));
    metadata->name_index = sb_alloc(SB_METADATA_INDEX_SLOTS * sizeof(uint16_t));
    metadata->id_index = sb_alloc(SB_METADATA_INDEX_SLOTS * sizeof(uint16_t));
    metadata->next_topic_id = 1;
    metadata->next_producer_id = 1;
    metadata->shard_count = 1;
    if (metadata->topics == NULL || metadata->name_index == NULL ||
        metadata->id_index == NULL) {
        sb_metadata_deinit(metadata);
        return -ENOMEM;
    }
    memset(metadata->topics, 0, SB_TOPICS_MAX * sizeof(struct sb_topic));
    memset(metadata->name_index, 0, SB_METADATA_INDEX_SLOTS * sizeof(uint16_t));
    memset(metadata->id_index, 0, SB_METADATA_INDEX_SLOTS * sizeof(uint16_t));
    return 0;
}

void
sb_metadata_deinit(struct sb_metadata *metadata)
{
    sb_free(metadata->topics);
    sb_free(metadata->name_index);
    sb_free(metadata->id_index);
    metadata->topics = NULL;
    metadata->name_index = NULL;
    metadata->id_index = NULL;
}

void
sb_metadata_copy(struct sb_metadata *to, const struct sb_metadata *from)
{
    struct sb_topic *topics = to->topics;
    uint16_t *name_index = to->name_index;
    uint16_t *id_index = to->id_index;
    uint64_t changes = (to->changes > from->changes ? to->changes : from->changes) + 1;
    memcpy(topics, from->topics, SB_TOPICS_MAX * sizeof(struct sb_topic));
    memcpy(name_index, from->name_index, SB_METADATA_INDEX_SLOTS * sizeof(uint16_t));
    memcpy(id_index, from->id_index, SB_METADATA_INDEX_SLOTS * sizeof(uint16_t));
    *to = *from;
    to->topics = topics;
    to->name_index = name_index;
    to->id_index = id_index;
    to->changes = changes;
}

static uint32_t
metadata_name_hash(const char *name, uint16_t name_length)
{
    return sb_crc32c(0x5b7d3a91u, name, name_length) & (SB_METADATA_INDEX_SLOTS - 1);
}

static uint32_t
metadata_id_hash(uint32_t topic_id)
{
    return (topic_id * 0x9e3779b1u >> 16) & (SB_METADATA_INDEX_SLOTS - 1);
}

static bool
metadata_name_is(const struct sb_topic *topic, const char *name, uint16_t name_length)
{
    return topic->name_length == name_length && memcmp(topic->name, name, name_length) == 0;
}

struct sb_topic *
sb_metadata_find(struct sb_metadata *metadata, const char *name, uint16_t name_length)
{
    /* Bounded by the index: it is at most half full, so an empty entry ends the probe. */
    for (uint32_t at = metadata_name_hash(name, name_length);;
         at = (at + 1) & (SB_METADATA_INDEX_SLOTS - 1)) {
        uint16_t entry = metadata->name_index[at];
        if (entry == 0) {
            return NULL;
        }
        struct sb_topic *topic = &metadata->topics[entry - 1];
        SB_ASSERT(topic->used);
        if (metadata_name_is(topic, name, name_length)) {
            return topic;
        }
    }
}

struct sb_topic *
sb_metadata_find_id(struct sb_metadata *metadata, uint32_t topic_id)
{
    /* Bounded by the index, as above. */
    for (uint32_t at = metadata_id_hash(topic_id);; at = (at + 1) & (SB_METADATA_INDEX_SLOTS - 1)) {
        uint16_t entry = metadata->id_index[at];
        if (entry == 0) {
            return NULL;
        }
        struct sb_topic *topic = &metadata->topics[entry - 1];
        SB_ASSERT(topic->used);
        if (topic->topic_id == topic_id) {
            return topic;
        }
    }
}

static void
metadata_index_insert(uint16_t *index, uint32_t hash, uint32_t slot)
{
    uint32_t at = hash;
    /* Bounded by the index: it is at most half full. */
    while (index[at] != 0) {
        at = (at + 1) & (SB_METADATA_INDEX_SLOTS - 1);
    }
    index[at] = (uint16_t)(slot + 1);
}

/* Removes `slot` from an index; entries after it move back into the gap if their probe
 * started at or before it (backward-shift deletion: no tombstones, probes stay short). */
static void
metadata_index_remove(struct sb_metadata *metadata, uint16_t *index, uint32_t hash,
                      uint32_t slot)
{
    const uint32_t mask = SB_METADATA_INDEX_SLOTS - 1;
    uint32_t gap = hash;
    /* Bounded by the index: the entry is there, before the next empty one. */
    while (index[gap] != slot + 1) {
        SB_ASSERT(index[gap] != 0);
        gap = (gap + 1) & mask;
    }
    index[gap] = 0;
    /* Bounded by the index: ends at the next empty entry. */
    for (uint32_t at = (gap + 1) & mask; index[at] != 0; at = (at + 1) & mask) {
        const struct sb_topic *topic = &metadata->topics[index[at] - 1];
        uint32_t home = index == metadata->name_index
                            ? metadata_name_hash(topic->name, topic->name_length)
                            : metadata_id_hash(topic->topic_id);
        /* The entry may fill the gap if the gap lies on its probe path (home .. at). */
        if (((at - home) & mask) >= ((at - gap) & mask)) {
            index[gap] = index[at];
            index[at] = 0;
            gap = at;
        }
    }
}

/* Takes a used slot out of both indexes (before it changes or is freed). */
static void
metadata_unindex(struct sb_metadata *metadata, struct sb_topic *topic)
{
    uint32_t slot = (uint32_t)(topic - metadata->topics);
    metadata_index_remove(metadata, metadata->name_index,
                          metadata_name_hash(topic->name, topic->name_length), slot);
    metadata_index_remove(metadata, metadata->id_index, metadata_id_hash(topic->topic_id), slot);
}

int
sb_metadata_put(struct sb_metadata *metadata, const struct sb_topic *topic)
{
    struct sb_topic *slot = sb_metadata_find_id(metadata, topic->topic_id);
    if (slot != NULL) {
        metadata_unindex(metadata, slot); /* Replaced in place. */
    }
    for (uint32_t index = 0; slot == NULL && index < SB_TOPICS_MAX; index++) {
        if (!metadata->topics[index].used) {
            slot = &metadata->topics[index];
            metadata->topic_count++;
        }
    }
    if (slot == NULL) {
        return -ENOSPC;
    }
    metadata->changes++;
    *slot = *topic;
    slot->used = true;
    uint32_t slot_index = (uint32_t)(slot - metadata->topics);
    metadata_index_insert(metadata->name_index, metadata_name_hash(slot->name, slot->name_length),
                          slot_index);
    metadata_index_insert(metadata->id_index, metadata_id_hash(slot->topic_id), slot_index);
    if (topic->topic_id >= metadata->next_topic_id) {
        metadata->next_topic_id = topic->topic_id + 1;
    }
    return 0;
}

void
sb_metadata_remove(struct sb_metadata *metadata, uint32_t topic_id)
{
    struct sb_topic *topic = sb_metadata_find_id(metadata, topic_id);
    if (topic != NULL) {
        metadata_unindex(metadata, topic);
        topic->used = false;
        metadata->topic_count--;
        metadata->changes++;
    }
}

/* Partitions of every topic of the table. */
static uint64_t
metadata_partition_total(const struct sb_metadata *metadata)
{
    uint64_t total = 0;
    for (uint32_t index = 0; index < SB_TOPICS_MAX; index++) {
        total += metadata->topics[index].used ? metadata->topics[index].partition_count : 0;
    }
    return total;
}

uint64_t
sb_metadata_encoded_bytes(const struct sb_metadata *metadata)
{
    return SB_METADATA_HEADER_BYTES + (uint64_t)metadata->topic_count * SB_METADATA_TOPIC_BYTES +
           metadata_partition_total(metadata) * SB_ASSIGNMENT_RECORD_BYTES;
}

static void
metadata_topic_encode(const struct sb_topic *topic, uint8_t *bytes)
{
    memset(bytes, 0, SB_METADATA_TOPIC_BYTES);
    sb_store_le32(bytes, topic->topic_id);
    sb_store_le32(bytes + 4, topic->partition_count);
    sb_store_le16(bytes + 8, topic->name_length);
    memcpy(bytes + 10, topic->name, topic->name_length);
    sb_store_le64(bytes + 260, topic->config.segment_bytes);
    sb_store_le64(bytes + 268, (uint64_t)topic->config.retention_ms);
    sb_store_le64(bytes + 276, (uint64_t)topic->config.retention_bytes);
    bytes[284] = topic->config.cleanup == SB_CLEANUP_COMPACT;
    bytes[285] = topic->config.log_append_time;
    sb_store_le64(bytes + 288, (uint64_t)topic->config.delete_retention_ms);
    sb_store_le64(bytes + 296, (uint64_t)topic->config.min_compaction_lag_ms);
    sb_store_le32(bytes + 304, topic->max_message_bytes);
}

static int
metadata_topic_decode(const uint8_t *bytes, struct sb_topic *topic)
{
    memset(topic, 0, sizeof(*topic));
    topic->used = true;
    topic->topic_id = sb_load_le32(bytes);
    topic->partition_count = sb_load_le32(bytes + 4);
    topic->name_length = sb_load_le16(bytes + 8);
    if (topic->name_length > SB_WIRE_TOPIC_NAME_BYTES_MAX || topic->topic_id == 0 ||
        topic->partition_count == 0 || topic->partition_count > SB_TOPIC_PARTITIONS_MAX ||
        bytes[284] > 1 || bytes[285] > 1) {
        return SB_ECORRUPT;
    }
    memcpy(topic->name, bytes + 10, topic->name_length);
    if (!sb_topic_name_is_valid((struct sb_wire_string){topic->name, topic->name_length})) {
        return SB_ECORRUPT;
    }
    topic->config.segment_bytes = sb_load_le64(bytes + 260);
    topic->config.retention_ms = (int64_t)sb_load_le64(bytes + 268);
    topic->config.retention_bytes = (int64_t)sb_load_le64(bytes + 276);
    topic->config.cleanup = bytes[284] ? SB_CLEANUP_COMPACT : SB_CLEANUP_DELETE;
    topic->config.log_append_time = bytes[285] != 0;
    topic->config.delete_retention_ms = (int64_t)sb_load_le64(bytes + 288);
    topic->config.min_compaction_lag_ms = (int64_t)sb_load_le64(bytes + 296);
    topic->max_message_bytes = sb_load_le32(bytes + 304);
    return 0;
}

/* [METADATA-ASSIGNMENT] records of a topic's partitions at `cursor`; returns the end. */
static uint8_t *
metadata_assignment_encode(const struct sb_topic *topic, const struct sb_assignment *assignment,
                           uint8_t *cursor)
{
    for (uint32_t partition = 0; partition < topic->partition_count; partition++) {
        const struct sb_assignment_entry *entry = sb_assignment_find(assignment, topic->topic_id,
                                                                     partition);
        SB_ASSERT(entry != NULL);
        sb_assignment_entry_encode(entry, cursor);
        cursor += SB_ASSIGNMENT_RECORD_BYTES;
    }
    return cursor;
}

int64_t
sb_metadata_encode(const struct sb_metadata *metadata, const struct sb_assignment *assignment,
                   uint8_t *buffer, uint64_t capacity)
{
    uint64_t file_bytes = sb_metadata_encoded_bytes(metadata);
    if (file_bytes > capacity) {
        return -ENOSPC;
    }
    memset(buffer, 0, SB_METADATA_HEADER_BYTES);
    sb_store_le32(buffer, METADATA_MAGIC);
    sb_store_le16(buffer + 8, METADATA_VERSION);
    sb_store_le32(buffer + 12, metadata->topic_count);
    sb_store_le32(buffer + 16, metadata->shard_count);
    sb_store_le32(buffer + 20, metadata->next_topic_id);
    sb_store_le64(buffer + 24, (uint64_t)metadata->next_producer_id);
    sb_store_le64(buffer + 32, file_bytes);
    sb_store_le64(buffer + 40, assignment->epoch);
    sb_store_le32(buffer + 48, (uint32_t)metadata_partition_total(metadata));
    uint8_t *cursor = buffer + SB_METADATA_HEADER_BYTES;
    uint8_t *records = cursor + (uint64_t)metadata->topic_count * SB_METADATA_TOPIC_BYTES;
    for (uint32_t index = 0; index < SB_TOPICS_MAX; index++) {
        if (metadata->topics[index].used) {
            metadata_topic_encode(&metadata->topics[index], cursor);
            cursor += SB_METADATA_TOPIC_BYTES;
            records = metadata_assignment_encode(&metadata->topics[index], assignment, records);
        }
    }
    SB_ASSERT(records == buffer + file_bytes);
    sb_store_le32(buffer + 4, sb_crc32c(0, buffer + 8, file_bytes - 8));
    return (int64_t)file_bytes;
}

/* The [METADATA-ASSIGNMENT] records after the topics: exactly one per partition of the
 * table's topics, each on one of its shards. */
static int
metadata_assignment_decode(struct sb_metadata *metadata, struct sb_assignment *assignment,
                           const uint8_t *records, uint32_t count)
{
    if (count != metadata_partition_total(metadata)) {
        return SB_ECORRUPT;
    }
    int reserved = sb_assignment_reserve(assignment, count);
    if (reserved != 0) {
        return reserved;
    }
    for (uint32_t index = 0; index < count; index++) {
        struct sb_assignment_entry entry;
        if (sb_assignment_entry_decode(records + (uint64_t)index * SB_ASSIGNMENT_RECORD_BYTES,
                                       &entry) != 0) {
            return SB_ECORRUPT;
        }
        const struct sb_topic *topic = sb_metadata_find_id(metadata, entry.topic_id);
        if (topic == NULL || entry.partition >= topic->partition_count ||
            entry.shard >= metadata->shard_count ||
            sb_assignment_find(assignment, entry.topic_id, entry.partition) != NULL) {
            return SB_ECORRUPT;
        }
        int put = sb_assignment_put(assignment, &entry);
        SB_ASSERT(put == 0); /* Room was reserved. */
    }
    return 0;
}

int
sb_metadata_decode(struct sb_metadata *metadata, struct sb_assignment *assignment,
                   const uint8_t *bytes, uint64_t length)
{
    uint16_t version = length >= SB_METADATA_HEADER_BYTES ? sb_load_le16(bytes + 8) : 0;
    if (length < SB_METADATA_HEADER_BYTES || sb_load_le32(bytes) != METADATA_MAGIC ||
        (version != METADATA_VERSION && version != METADATA_VERSION_TOPICS) ||
        sb_load_le64(bytes + 32) != length ||
        sb_load_le32(bytes + 4) != sb_crc32c(0, bytes + 8, length - 8)) {
        return SB_ECORRUPT;
    }
    uint32_t topic_count = sb_load_le32(bytes + 12);
    uint32_t assignment_count = version == METADATA_VERSION ? sb_load_le32(bytes + 48) : 0;
    uint64_t topics_end = SB_METADATA_HEADER_BYTES +
                          (uint64_t)topic_count * SB_METADATA_TOPIC_BYTES;
    if (topic_count > SB_TOPICS_MAX ||
        length != topics_end + (uint64_t)assignment_count * SB_ASSIGNMENT_RECORD_BYTES) {
        return SB_ECORRUPT;
    }
    sb_assignment_clear(assignment);
    memset(metadata->topics, 0, SB_TOPICS_MAX * sizeof(struct sb_topic));
    memset(metadata->name_index, 0, SB_METADATA_INDEX_SLOTS * sizeof(uint16_t));
    memset(metadata->id_index, 0, SB_METADATA_INDEX_SLOTS * sizeof(uint16_t));
    metadata->topic_count = 0;
    metadata->shard_count = sb_load_le32(bytes + 16);
    metadata->next_topic_id = sb_load_le32(bytes + 20);
    metadata->next_producer_id = (int64_t)sb_load_le64(bytes + 24);
    if (metadata->shard_count == 0 || metadata->next_topic_id == 0) {
        return SB_ECORRUPT;
    }
    for (uint32_t index = 0; index < topic_count; index++) {
        struct sb_topic topic;
        if (metadata_topic_decode(bytes + SB_METADATA_HEADER_BYTES +
                                      (uint64_t)index * SB_METADATA_TOPIC_BYTES, &topic) != 0 ||
            sb_metadata_find(metadata, topic.name, topic.name_length) != NULL ||
            topic.topic_id >= metadata->next_topic_id) {
            return SB_ECORRUPT;
        }
        sb_metadata_put(metadata, &topic);
    }
    if (version == METADATA_VERSION_TOPICS) {
        return 0;
    }
    assignment->epoch = sb_load_le64(bytes + 40);
    return metadata_assignment_decode(metadata, assignment, bytes + topics_end,
                                      assignment_count);
}

/* Reads all `length` bytes of `fd` into `buffer`; returns 0, -EIO (shorter) or -errno. */
static int
metadata_read_all(int fd, uint8_t *buffer, uint64_t length)
{
    uint64_t done = 0;
    /* Bounded: each round reads at least one byte or ends. */
    while (done < length) {
        ssize_t got = read(fd, buffer + done, length - done);
        if (got <= 0) {
            return got < 0 ? -errno : -EIO;
        }
        done += (uint64_t)got;
    }
    return 0;
}

int
sb_metadata_load(struct sb_metadata *metadata, struct sb_assignment *assignment,
                 const char *data_dir)
{
    char path[300];
    snprintf(path, sizeof(path), "%s/metadata", data_dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -errno;
    }
    struct stat status;
    uint64_t bytes_max = SB_METADATA_HEADER_BYTES +
                         (uint64_t)SB_TOPICS_MAX * SB_METADATA_TOPIC_BYTES +
                         (uint64_t)SB_ASSIGNMENT_ENTRIES_MAX * SB_ASSIGNMENT_RECORD_BYTES;
    int result = fstat(fd, &status) != 0 ? -errno : 0;
    if (result == 0 && (uint64_t)status.st_size > bytes_max) {
        result = SB_ECORRUPT;
    }
    uint64_t length = result == 0 ? (uint64_t)status.st_size : 0;
    uint8_t *buffer = result == 0 ? sb_alloc(length + 1) : NULL;
    if (result == 0 && buffer == NULL) {
        result = -ENOMEM;
    }
    if (result == 0) {
        result = metadata_read_all(fd, buffer, length);
    }
    close(fd);
    if (result == 0) {
        result = sb_metadata_decode(metadata, assignment, buffer, length);
    }
    sb_free(buffer);
    return result;
}

/* Durable replace: write temp, fsync, rename over, fsync the directory. */
int
sb_metadata_save(const struct sb_metadata *metadata, const struct sb_assignment *assignment,
                 const char *data_dir)
{
    uint64_t capacity = sb_metadata_encoded_bytes(metadata);
    uint8_t *buffer = sb_alloc(capacity);
    if (buffer == NULL) {
        return -ENOMEM;
    }
    int64_t length = sb_metadata_encode(metadata, assignment, buffer, capacity);
    char path[300];
    char temporary[310];
    snprintf(path, sizeof(path), "%s/metadata", data_dir);
    snprintf(temporary, sizeof(temporary), "%s/metadata.tmp", data_dir);
    int fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int result = fd < 0 ? -errno : 0;
    if (result == 0 && (write(fd, buffer, (size_t)length) != length || fdatasync(fd) != 0)) {
        result = -EIO;
    }
    if (fd >= 0) {
        close(fd);
    }
    if (result == 0 && sb_io_durability_rename(temporary, path) != 0) {
        result = -errno;
    }
    int directory = open(data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (result == 0 && (directory < 0 || fsync(directory) != 0)) {
        result = -EIO;
    }
    if (directory >= 0) {
        close(directory);
    }
    sb_free(buffer);
    return result;
}
