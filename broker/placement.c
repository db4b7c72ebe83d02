/*
 * broker/placement.c - the control plane's side of the partition assignment
 * (assignment.h): shard 0 places the partitions of a topic change in its table
 * before persisting it (and takes them out again if persisting fails), writes
 * the metadata file image with the table, and every other shard copies the
 * entries of a change from shard 0's table when the change is broadcast.
 *
 * The policy is one broker's: this broker leads every partition, new ones go
 * to shard (topic id + partition) % shards (sb_assignment_place_local).
 * Clusters will place from a metadata store here instead.
 *
 * Invariant kept on every shard: a topic is in the shard's topic table only
 * with an assignment entry for each of its partitions (admin.c changes shard
 * 0's topic table, then calls placement_assign before anything else runs).
 */
#include <errno.h>

#include "core/alloc.h"
#include "core/assert.h"
#include "core/error.h"
#include "core/log.h"
#include "broker/broker_private.h"

int
placement_assign(struct broker_shard *self, const struct topic_update *updates,
                 uint32_t update_count)
{
    SB_ASSERT(self->id == 0);
    if (update_count == 0) {
        return 0;
    }
    self->assignment.epoch++;
    for (uint32_t index = 0; index < update_count; index++) {
        const struct sb_topic *topic = &updates[index].topic;
        int64_t placed = updates[index].deleted
                             ? 0
                             : sb_assignment_place_local(&self->assignment, topic->topic_id,
                                                         topic->partition_count,
                                                         self->metadata.shard_count,
                                                         self->broker->config.node_id);
        if (placed < 0) {
            return (int)placed;
        }
    }
    return 0;
}

void
placement_unassign(struct broker_shard *self, const struct topic_update *updates,
                   uint32_t update_count, struct sb_metadata *before)
{
    SB_ASSERT(self->id == 0);
    if (update_count == 0) {
        return;
    }
    SB_ASSERT(self->assignment.epoch > 0);
    self->assignment.epoch--;
    for (uint32_t index = 0; index < update_count; index++) {
        const struct sb_topic *topic = &updates[index].topic;
        const struct sb_topic *old = sb_metadata_find_id(before, topic->topic_id);
        if (!updates[index].deleted) {
            sb_assignment_remove(&self->assignment, topic->topic_id,
                                 old != NULL ? old->partition_count : 0,
                                 topic->partition_count);
        }
    }
}

int64_t
placement_encode(struct broker_shard *self, uint8_t **image, uint64_t *capacity)
{
    uint64_t bytes = sb_metadata_encoded_bytes(&self->metadata);
    if (bytes > *capacity) {
        uint8_t *larger = sb_alloc(bytes);
        if (larger == NULL) {
            return -ENOMEM;
        }
        sb_free(*image);
        *image = larger;
        *capacity = bytes;
    }
    int64_t length = sb_metadata_encode(&self->metadata, &self->assignment, *image, *capacity);
    SB_ASSERT(length == (int64_t)bytes);
    return length;
}

int
placement_receive(struct broker_shard *self, const struct sb_topic *topic, bool deleted,
                  const struct sb_assignment *from)
{
    if (self->id == 0) {
        return 0; /* Shard 0 placed it. */
    }
    self->assignment.epoch = from->epoch;
    if (deleted) {
        return 0; /* Its entries go after its partitions (admin_apply_topic). */
    }
    int copied = sb_assignment_copy_topic(&self->assignment, from, topic->topic_id,
                                          topic->partition_count);
    if (copied != 0) {
        sb_log_error("cannot copy a topic's partition assignment; the change is not applied "
                     "on this shard", "shard=%u topic=%s error=\"%s\"", self->id, topic->name,
                     sb_strerror(copied));
        return copied;
    }
    return 0;
}
