/*
 * net/metadata.h - the broker's topic table: names, ids, partition counts
 * and configs, plus the node-wide counters (next topic id, next producer id
 * block) and the shard count the data directory was created with.
 *
 * Shard 0 owns the authoritative table and persists it (<data>/metadata,
 * [METADATA] below, replaced by write-temp, fsync, rename, fsync dir); every
 * shard keeps its own copy, updated by messages from shard 0. Partition p of
 * topic t is owned by shard (t + p) mod shard_count: fixed for the life of the
 * data directory, so a partition's data never changes shards.
 *
 * Lookups by name and by id go through two hash indexes (open addressing,
 * linear probing, at most half full), so a request naming many topics or
 * partitions costs a few probes per name, never a scan of the table.
 *
 * [METADATA] 64-byte header then topic_count records of 512 bytes, little-endian:
 *   0  4 magic 0x444d4253 ("SBMD")   4 4 crc32c of [8, file_bytes)
 *   8  2 version 1                   10 2 reserved
 *   12 4 topic_count                 16 4 shard_count
 *   20 4 next_topic_id               24 8 next_producer_id
 *   32 8 file_bytes                  40 24 reserved
 * [METADATA-TOPIC] 512 bytes:
 *   0  4 topic_id        4 4 partition_count   8 2 name_length   10 250 name
 *   260 8 segment_bytes  268 8 retention_ms    276 8 retention_bytes
 *   284 1 cleanup (0 delete, 1 compact)        285 1 log_append_time   286 2 reserved
 *   288 8 delete_retention_ms   296 8 min_compaction_lag_ms   304 4 max_message_bytes
 *   308 204 reserved
 */
#ifndef SB_NET_METADATA_H
#define SB_NET_METADATA_H

#include <stdbool.h>
#include <stdint.h>

#include "storage/store.h"

#define SB_TOPICS_MAX 4096u
#define SB_TOPIC_NAME_BYTES_MAX 249u
#define SB_TOPIC_PARTITIONS_MAX 4096u
#define SB_METADATA_HEADER_BYTES 64u
#define SB_METADATA_TOPIC_BYTES 512u
/* Slots of each hash index: a power of two, twice the topics (probes stay short). */
#define SB_METADATA_INDEX_SLOTS (2u * SB_TOPICS_MAX)
/* Producer ids are handed out from blocks; the persisted counter is the next block's start. */
#define SB_PRODUCER_ID_BLOCK 1000

struct sb_topic {
    bool used;                         /* Slot in use. */
    uint32_t topic_id;                 /* Never reused. */
    uint16_t name_length;              /* Bytes of name. */
    char name[SB_TOPIC_NAME_BYTES_MAX + 1]; /* NUL-terminated. */
    uint32_t partition_count;          /* Partitions 0 .. count-1. */
    struct sb_partition_config config; /* Storage settings. */
    uint32_t max_message_bytes;        /* Largest batch accepted. */
};

struct sb_metadata {
    struct sb_topic *topics;           /* SB_TOPICS_MAX slots (owned). */
    uint16_t *name_index;              /* SB_METADATA_INDEX_SLOTS: topic slot + 1 by name
                                          hash, 0 = empty (owned). */
    uint16_t *id_index;                /* The same by topic id (owned). */
    uint32_t topic_count;              /* Slots used. */
    uint32_t shard_count;              /* Fixed at data directory creation. */
    uint32_t next_topic_id;            /* Next id to assign (ids start at 1). */
    int64_t next_producer_id;          /* Start of the next unallocated producer id block. */
};

int sb_metadata_init(struct sb_metadata *metadata);
void sb_metadata_deinit(struct sb_metadata *metadata);
/* Copies every field (the destination must be initialized). */
void sb_metadata_copy(struct sb_metadata *to, const struct sb_metadata *from);

struct sb_topic *sb_metadata_find(struct sb_metadata *metadata, const char *name,
                                  uint16_t name_length);
struct sb_topic *sb_metadata_find_id(struct sb_metadata *metadata, uint32_t topic_id);
/* Puts `topic` (by id) into the table, replacing an existing entry. Returns 0 or -ENOSPC.
 * Every change to the table goes through put and remove (they keep the indexes). */
int sb_metadata_put(struct sb_metadata *metadata, const struct sb_topic *topic);
void sb_metadata_remove(struct sb_metadata *metadata, uint32_t topic_id);

static inline uint32_t
sb_metadata_owner(const struct sb_metadata *metadata, uint32_t topic_id, uint32_t partition)
{
    return (topic_id + partition) % metadata->shard_count;
}

/* True if `name` is a valid topic name: 1..249 bytes of [A-Za-z0-9._-], not "." or "..". */
bool sb_metadata_name_valid(const char *name, uint16_t length);
/* Applies one topic config `key`=`value` (value NULL = default from `defaults`). Returns 0, or
 * -EINVAL for an unknown key or a bad value. */
int sb_metadata_topic_config(struct sb_topic *topic, const struct sb_topic *defaults,
                             const char *key, uint16_t key_length, const char *value,
                             uint16_t value_length);

/* Serializes the table into `buffer`; returns the byte count or -ENOSPC. */
int64_t sb_metadata_encode(const struct sb_metadata *metadata, uint8_t *buffer,
                           uint64_t capacity);
/* Parses a file image. Returns 0 or SB_ECORRUPT. */
int sb_metadata_decode(struct sb_metadata *metadata, const uint8_t *bytes, uint64_t length);
/* Bytes an image of the full table may need. */
uint64_t sb_metadata_encoded_bytes_max(void);

/* Start-up only (before the shards run): loads <dir>/metadata with plain system calls.
 * Returns 0, -ENOENT if there is none, SB_ECORRUPT, or -errno. */
int sb_metadata_load(struct sb_metadata *metadata, const char *data_dir);
/* Start-up only: writes <dir>/metadata durably. */
int sb_metadata_save(const struct sb_metadata *metadata, const char *data_dir);

#endif /* SB_NET_METADATA_H */
