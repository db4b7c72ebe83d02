/*
 * broker/group_coordinator.h - where consumer groups live (group_coordinator.c): the
 * internal compacted topic __consumer_offsets (created at the first start with
 * `offsets_topic_partitions` partitions, fixed from then on), a group's coordinator (the
 * shard owning partition crc32c(group id) mod partitions), each shard's group table read
 * back from its offsets partitions at start, appends of group records that change the table
 * once durable, and the expiry of empty groups (`offsets_retention_ms`).
 */
#ifndef SB_BROKER_GROUP_COORDINATOR_H
#define SB_BROKER_GROUP_COORDINATOR_H

#include <stdbool.h>
#include <stdint.h>

#include "broker/broker_private.h"
#include "broker/group.h"

/* The internal topic of committed offsets. */
#define GROUP_OFFSETS_TOPIC "__consumer_offsets"

struct group_write;
/* Called on the coordinator when a group_write is durable and applied (result 0) or failed
 * (SB_ESHUTDOWN, or an append error). */
typedef void group_write_done_fn(struct group_write *write, int result);

/* A batch of group records being appended to an offsets partition. */
struct group_write {
    struct sb_append append;   /* The append's durability callback. */
    struct broker_shard *self; /* The coordinator shard. */
    uint32_t partition;        /* Offsets partition. */
    const uint8_t *batch;      /* The batch (borrowed until done). */
    uint32_t batch_bytes;      /* Its length. */
    group_write_done_fn *done; /* Runs once, on the coordinator. */
    void *context;             /* For done. */
};

/* The shard's topics as a group's membership sees them (internal topics left out), rebuilt
 * only when the topic table changed: heartbeats do not scan the table. */
struct group_topic_view {
    bool valid;                                  /* `topics` reflects `changes`. */
    uint64_t changes;                            /* The table's sb_metadata.changes then. */
    uint32_t count;                              /* Entries of topics. */
    struct sb_group_topic topics[SB_TOPICS_MAX]; /* Names borrowed from the table. */
};

/* The view of `metadata` into *out (its version is the table's change count), rebuilding
 * `view` first if the table changed since it was built. *out borrows view and metadata
 * until the table next changes. */
void group_topic_view_get(struct group_topic_view *view, const struct sb_metadata *metadata,
                          struct sb_group_topics *out);
/* Coordinator: after a restart, the time (shard clock ms) before which its groups give no
 * partition to anyone (sb_membership_hold): the end of the session timeout from when its
 * groups were read back, as members of the broker's previous life, which it forgot, may
 * own partitions until then. 0 after a first start. */
int64_t group_coordinator_hold_until_ms(const struct broker_shard *self);
/* Coordinator: the shard's view (group_topic_view_get on its own table). */
void group_coordinator_topics(struct broker_shard *self, struct sb_group_topics *out);

/* Start-up, before the shards run: creates __consumer_offsets when the data directory has
 * none (and saves the metadata file). Returns 0 or -errno. */
int group_offsets_topic_ensure(struct broker *broker);
/* True for the names of the broker's internal topics (starting with "__"). */
bool group_topic_is_internal(const char *name, uint16_t length);
/* The group's offsets partition and coordinator shard from this shard's tables; false when
 * there is no offsets topic. */
bool group_coordinator_of(struct broker_shard *self, struct sb_wire_string group_id,
                          uint32_t *partition_out, uint32_t *shard_out);

/* Every shard, from its hooks: start (once its store is open: the table, and reading it back
 * begins), stop, finish (free). */
int group_coordinator_start(struct broker_shard *self);
void group_coordinator_stop(struct broker_shard *self);
void group_coordinator_finish(struct broker_shard *self);
/* The shard's group table; NULL while its offsets partitions are still being read back. */
struct group_table *group_coordinator_table(struct broker_shard *self);

/* Coordinator: after a heartbeat changed `membership` (one of this shard's groups): the
 * expiry pass is armed at its next member deadline if that comes before the pass. */
void group_coordinator_membership_changed(struct broker_shard *self,
                                          const struct sb_membership *membership);
/* Coordinator: appends write->batch to its offsets partition; write->done runs once it is
 * durable and applied to the table. Returns 0, or the append's error (then done never runs). */
int group_write_start(struct group_write *write);
/* Coordinator: a batch of tombstones for every committed offset of `group` into a buffer it
 * allocates (*buffer_out, the caller's to sb_free); returns its length or -errno. */
int64_t group_tombstones_build(const struct group *group, uint8_t **buffer_out);

#endif /* SB_BROKER_GROUP_COORDINATOR_H */
