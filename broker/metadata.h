/*
 * broker/metadata.h - the broker's topic table: names, ids, partition counts
 * and configs, plus the node-wide counters (next topic id, next producer id
 * block) and the shard count the data directory was created with.
 *
 * Shard 0 owns the authoritative table and persists it (<data>/metadata,
 * [METADATA] below, replaced by write-temp, fsync, rename, fsync dir); every
 * shard keeps its own copy, updated by messages from shard 0. Which shard owns
 * a partition is the assignment table's (assignment.h), persisted in the same
 * file; a partition never changes shards, so its data never moves.
 *
 * Lookups by name and by id go through two hash indexes (open addressing,
 * linear probing, at most half full), so a request naming many topics or
 * partitions costs a few probes per name, never a scan of the table.
 *
 * [METADATA] 64-byte header, topic_count records of 512 bytes, then (version 2)
 * assignment_count records of 64 bytes, little-endian:
 *   0  4 magic 0x444d4253 ("SBMD")   4 4 crc32c of [8, file_bytes)
 *   8  2 version 1 or 2              10 2 reserved
 *   12 4 topic_count                 16 4 shard_count
 *   20 4 next_topic_id               24 8 next_producer_id
 *   32 8 file_bytes                  40 8 assignment_epoch (version 2, else 0)
 *   48 4 assignment_count (version 2, else 0)   52 12 reserved
 * Version 2 is written; version 1 (no assignment) is read with an empty assignment, which
 * the broker fills at start-up (sb_assignment_place_local: the shards partitions always had).
 * [METADATA-TOPIC] 512 bytes:
 *   0  4 topic_id        4 4 partition_count   8 2 name_length   10 250 name
 *   260 8 segment_bytes  268 8 retention_ms    276 8 retention_bytes
 *   284 1 cleanup (0 delete, 1 compact)        285 1 log_append_time   286 2 reserved
 *   288 8 delete_retention_ms   296 8 min_compaction_lag_ms   304 4 max_message_bytes
 *   308 204 reserved
 * [METADATA-ASSIGNMENT] 64 bytes, one per partition of every topic, in topic record order,
 * then partition order:
 *   0 4 topic_id   4 4 partition   8 4 shard   12 4 leader (node id)   16 4 leader_epoch
 *   20 4 replica_count (1..8)   24 32 replicas (8 x int32 node ids, unused ones 0)
 *   56 8 reserved
 */
#ifndef SB_BROKER_METADATA_H
#define SB_BROKER_METADATA_H

#include <stdbool.h>
#include <stdint.h>

#include "broker/assignment.h"
#include "core/limits.h"
#include "storage/store.h"

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
    char name[SB_WIRE_TOPIC_NAME_BYTES_MAX + 1]; /* NUL-terminated; sb_topic_name_is_valid. */
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
    uint64_t changes;                  /* Grows with every put, remove and copy into this
                                          table, never back (caches of it compare it). */
};

int sb_metadata_init(struct sb_metadata *metadata);
void sb_metadata_deinit(struct sb_metadata *metadata);
/* Copies every field but `changes`, which grows (the destination must be initialized). */
void sb_metadata_copy(struct sb_metadata *to, const struct sb_metadata *from);

struct sb_topic *sb_metadata_find(struct sb_metadata *metadata, const char *name,
                                  uint16_t name_length);
struct sb_topic *sb_metadata_find_id(struct sb_metadata *metadata, uint32_t topic_id);
/* Puts `topic` (by id) into the table, replacing an existing entry. Returns 0 or -ENOSPC.
 * Every change to the table goes through put and remove (they keep the indexes). */
int sb_metadata_put(struct sb_metadata *metadata, const struct sb_topic *topic);
void sb_metadata_remove(struct sb_metadata *metadata, uint32_t topic_id);


/* Serializes the topic table and the assignment of its partitions (each must have an entry)
 * into `buffer`; returns the byte count or -ENOSPC. */
int64_t sb_metadata_encode(const struct sb_metadata *metadata,
                           const struct sb_assignment *assignment, uint8_t *buffer,
                           uint64_t capacity);
/* Parses a file image into both tables (initialized; replaced). Returns 0 or SB_ECORRUPT
 * (also for a version 2 assignment that misses, repeats or adds a partition). */
int sb_metadata_decode(struct sb_metadata *metadata, struct sb_assignment *assignment,
                       const uint8_t *bytes, uint64_t length);
/* Bytes sb_metadata_encode needs for this topic table and its partitions' assignment. */
uint64_t sb_metadata_encoded_bytes(const struct sb_metadata *metadata);

/* Start-up only (before the shards run): loads <dir>/metadata with plain system calls.
 * Returns 0, -ENOENT if there is none, SB_ECORRUPT, -ENOMEM or -errno. */
int sb_metadata_load(struct sb_metadata *metadata, struct sb_assignment *assignment,
                     const char *data_dir);
/* Start-up only: writes <dir>/metadata durably. */
int sb_metadata_save(const struct sb_metadata *metadata, const struct sb_assignment *assignment,
                     const char *data_dir);

#endif /* SB_BROKER_METADATA_H */
