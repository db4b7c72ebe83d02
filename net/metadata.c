/*
 * net/metadata.c - the topic table and its file format (metadata.h).
 */
#include "net/metadata.h"

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

#define METADATA_MAGIC 0x444d4253u
#define METADATA_VERSION 1u

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
    memcpy(topics, from->topics, SB_TOPICS_MAX * sizeof(struct sb_topic));
    memcpy(name_index, from->name_index, SB_METADATA_INDEX_SLOTS * sizeof(uint16_t));
    memcpy(id_index, from->id_index, SB_METADATA_INDEX_SLOTS * sizeof(uint16_t));
    *to = *from;
    to->topics = topics;
    to->name_index = name_index;
    to->id_index = id_index;
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
    }
}

bool
sb_metadata_name_valid(const char *name, uint16_t length)
{
    if (length == 0 || length > SB_TOPIC_NAME_BYTES_MAX ||
        (length == 1 && name[0] == '.') || (length == 2 && memcmp(name, "..", 2) == 0)) {
        return false;
    }
    for (uint16_t index = 0; index < length; index++) {
        char character = name[index];
        bool allowed = (character >= 'a' && character <= 'z') ||
                       (character >= 'A' && character <= 'Z') ||
                       (character >= '0' && character <= '9') || character == '.' ||
                       character == '_' || character == '-';
        if (!allowed) {
            return false;
        }
    }
    return true;
}

static bool
metadata_key_is(const char *key, uint16_t key_length, const char *name)
{
    return strlen(name) == key_length && memcmp(key, name, key_length) == 0;
}

/* Parses a signed decimal of at most 20 characters; false if malformed. */
static bool
metadata_number(const char *value, uint16_t length, int64_t *out)
{
    char text[24];
    if (length == 0 || length >= sizeof(text)) {
        return false;
    }
    memcpy(text, value, length);
    text[length] = '\0';
    char *end = NULL;
    errno = 0;
    long long number = strtoll(text, &end, 10);
    if (errno != 0 || *end != '\0') {
        return false;
    }
    *out = number;
    return true;
}

static int
metadata_text_config(struct sb_topic *topic, const char *key, uint16_t key_length,
                     const char *value, uint16_t value_length)
{
    if (metadata_key_is(key, key_length, "cleanup.policy")) {
        if (value_length == 6 && memcmp(value, "delete", 6) == 0) {
            topic->config.cleanup = SB_CLEANUP_DELETE;
        } else if (value_length == 7 && memcmp(value, "compact", 7) == 0) {
            topic->config.cleanup = SB_CLEANUP_COMPACT;
        } else {
            return -EINVAL;
        }
        return 0;
    }
    if (metadata_key_is(key, key_length, "message.timestamp.type")) {
        if (value_length == 10 && memcmp(value, "CreateTime", 10) == 0) {
            topic->config.log_append_time = false;
        } else if (value_length == 13 && memcmp(value, "LogAppendTime", 13) == 0) {
            topic->config.log_append_time = true;
        } else {
            return -EINVAL;
        }
        return 0;
    }
    return -ENOENT;
}

int
sb_metadata_topic_config(struct sb_topic *topic, const struct sb_topic *defaults,
                         const char *key, uint16_t key_length, const char *value,
                         uint16_t value_length)
{
    struct sb_topic reset = *topic;
    if (value == NULL) {
        reset.config = defaults->config;
        reset.max_message_bytes = defaults->max_message_bytes;
        value = NULL;
    }
    int text = value == NULL ? -ENOENT
                             : metadata_text_config(topic, key, key_length, value, value_length);
    if (text != -ENOENT) {
        return text;
    }
    int64_t number = 0;
    if (value != NULL && !metadata_number(value, value_length, &number)) {
        return -EINVAL;
    }
    struct sb_partition_config *config = &topic->config;
    const struct sb_partition_config *fallback = &reset.config;
    if (metadata_key_is(key, key_length, "retention.ms") && number >= -1) {
        config->retention_ms = value != NULL ? number : fallback->retention_ms;
    } else if (metadata_key_is(key, key_length, "retention.bytes") && number >= -1) {
        config->retention_bytes = value != NULL ? number : fallback->retention_bytes;
    } else if (metadata_key_is(key, key_length, "segment.bytes") &&
               (value == NULL || number >= 64 * 1024)) {
        config->segment_bytes = value != NULL ? (uint64_t)number : fallback->segment_bytes;
    } else if (metadata_key_is(key, key_length, "delete.retention.ms") && number >= 0) {
        config->delete_retention_ms = value != NULL ? number : fallback->delete_retention_ms;
    } else if (metadata_key_is(key, key_length, "min.compaction.lag.ms") && number >= 0) {
        config->min_compaction_lag_ms = value != NULL ? number : fallback->min_compaction_lag_ms;
    } else if (metadata_key_is(key, key_length, "max.message.bytes") &&
               (value == NULL || (number >= 1024 && number <= defaults->max_message_bytes))) {
        topic->max_message_bytes = value != NULL ? (uint32_t)number : reset.max_message_bytes;
    } else if (value == NULL && (metadata_key_is(key, key_length, "cleanup.policy") ||
                                 metadata_key_is(key, key_length, "message.timestamp.type"))) {
        config->cleanup = fallback->cleanup;
        config->log_append_time = fallback->log_append_time;
    } else {
        return -EINVAL;
    }
    return 0;
}

uint64_t
sb_metadata_encoded_bytes_max(void)
{
    return SB_METADATA_HEADER_BYTES + (uint64_t)SB_TOPICS_MAX * SB_METADATA_TOPIC_BYTES;
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
    if (topic->name_length > SB_TOPIC_NAME_BYTES_MAX || topic->topic_id == 0 ||
        topic->partition_count == 0 || topic->partition_count > SB_TOPIC_PARTITIONS_MAX ||
        bytes[284] > 1 || bytes[285] > 1) {
        return SB_ECORRUPT;
    }
    memcpy(topic->name, bytes + 10, topic->name_length);
    if (!sb_metadata_name_valid(topic->name, topic->name_length)) {
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

int64_t
sb_metadata_encode(const struct sb_metadata *metadata, uint8_t *buffer, uint64_t capacity)
{
    uint64_t file_bytes = SB_METADATA_HEADER_BYTES +
                          (uint64_t)metadata->topic_count * SB_METADATA_TOPIC_BYTES;
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
    uint8_t *cursor = buffer + SB_METADATA_HEADER_BYTES;
    for (uint32_t index = 0; index < SB_TOPICS_MAX; index++) {
        if (metadata->topics[index].used) {
            metadata_topic_encode(&metadata->topics[index], cursor);
            cursor += SB_METADATA_TOPIC_BYTES;
        }
    }
    sb_store_le32(buffer + 4, sb_crc32c(0, buffer + 8, file_bytes - 8));
    return (int64_t)file_bytes;
}

int
sb_metadata_decode(struct sb_metadata *metadata, const uint8_t *bytes, uint64_t length)
{
    if (length < SB_METADATA_HEADER_BYTES || sb_load_le32(bytes) != METADATA_MAGIC ||
        sb_load_le16(bytes + 8) != METADATA_VERSION || sb_load_le64(bytes + 32) != length ||
        sb_load_le32(bytes + 4) != sb_crc32c(0, bytes + 8, length - 8)) {
        return SB_ECORRUPT;
    }
    uint32_t topic_count = sb_load_le32(bytes + 12);
    if (topic_count > SB_TOPICS_MAX ||
        length != SB_METADATA_HEADER_BYTES + (uint64_t)topic_count * SB_METADATA_TOPIC_BYTES) {
        return SB_ECORRUPT;
    }
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
    return 0;
}

int
sb_metadata_load(struct sb_metadata *metadata, const char *data_dir)
{
    char path[300];
    snprintf(path, sizeof(path), "%s/metadata", data_dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -errno;
    }
    uint64_t capacity = sb_metadata_encoded_bytes_max();
    uint8_t *buffer = sb_alloc(capacity);
    ssize_t length = buffer != NULL ? read(fd, buffer, capacity) : -1;
    int result = length < 0 ? (buffer == NULL ? -ENOMEM : -errno) : 0;
    close(fd);
    if (result == 0) {
        result = sb_metadata_decode(metadata, buffer, (uint64_t)length);
    }
    sb_free(buffer);
    return result;
}

/* Durable replace: write temp, fsync, rename over, fsync the directory. */
int
sb_metadata_save(const struct sb_metadata *metadata, const char *data_dir)
{
    uint64_t capacity = sb_metadata_encoded_bytes_max();
    uint8_t *buffer = sb_alloc(capacity);
    if (buffer == NULL) {
        return -ENOMEM;
    }
    int64_t length = sb_metadata_encode(metadata, buffer, capacity);
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
