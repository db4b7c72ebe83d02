/*
 * broker/group_coordinator.c - the coordinator side of consumer groups
 * (group_coordinator.h): the offsets topic, the coordinator of a group, reading a shard's
 * offsets partitions back at start, appending group records, and expiry.
 *
 * Reading back: once the shard's store is open, each offsets partition it owns is read from
 * its log start to its high watermark (everything recovered is durable), batch by batch, and
 * every record applied to the table (group_record_apply); until the last one is read the
 * table is not served (COORDINATOR_LOAD_IN_PROGRESS). Appends (commits, tombstones) apply
 * their own batch the same way once it is durable, so the table never runs ahead of the
 * disk and the two paths cannot disagree.
 */
#include "broker/group_coordinator.h"

#include <errno.h>
#include <string.h>

#include "core/alloc.h"
#include "core/assert.h"
#include "core/clock.h"
#include "core/crc32c.h"
#include "core/error.h"
#include "core/log.h"

/* Offsets topic segments: rolled at 100 MiB so compaction has closed segments to work on. */
#define GROUP_OFFSETS_SEGMENT_BYTES (100ull << 20)
/* A read back that failed for now (EIO, no memory) is tried again this much later: the
 * groups are not served until every acknowledged commit is read back. */
#define GROUP_LOAD_RETRY_MS 10u
/* Checks for empty groups to expire: a quarter of the retention, within these bounds (member
 * deadlines arm the pass sooner). */
#define GROUP_EXPIRY_INTERVAL_MIN_MS 100u
#define GROUP_EXPIRY_INTERVAL_MAX_MS 60000u

/* A shard's groups and the reading back of its offsets partitions. */
struct group_coordinator {
    struct group_table table;   /* The groups of the offsets partitions this shard owns. */
    bool loaded;                /* Every offsets partition was read back. */
    uint32_t load_partition;    /* The offsets partition being read back. */
    int64_t load_offset;        /* The next offset to read there. */
    uint8_t *load_buffer;       /* Batches read (owned until loaded). */
    uint32_t load_capacity;     /* Its bytes. */
    struct sb_read read;        /* The read in progress. */
    struct sb_timer load_retry; /* Reading back again after a read failed for now. */
    bool load_waiting;          /* load_retry is armed: reading back waits for it. */
    struct sb_timer expiry;     /* The next expiry pass. */
    uint64_t expiry_at_ns;      /* When it fires (shard clock); UINT64_MAX while unarmed. */
    struct group_topic_view view; /* The topics heartbeats see. */
    int64_t hold_until_ms;      /* Groups give no partition before (shard clock; 0: none). */
};

/* An expiry's tombstones on their way to disk. */
struct group_expiry {
    struct group_write write;   /* The append. */
    uint8_t *buffer;            /* The batch (owned). */
};

static void group_load_next(struct broker_shard *self);
static void group_expiry_arm(struct broker_shard *self);
static void group_expiry_fire(struct sb_timer *timer);

bool
group_topic_is_internal(const char *name, uint16_t length)
{
    return length >= 2 && name[0] == '_' && name[1] == '_';
}

void
group_topic_view_get(struct group_topic_view *view, const struct sb_metadata *metadata,
                     struct sb_group_topics *out)
{
    if (!view->valid || view->changes != metadata->changes) {
        view->count = 0;
        for (uint32_t slot = 0; slot < SB_TOPICS_MAX; slot++) {
            const struct sb_topic *topic = &metadata->topics[slot];
            if (topic->used && !group_topic_is_internal(topic->name, topic->name_length)) {
                view->topics[view->count++] = (struct sb_group_topic){
                    topic->name, topic->topic_id, topic->partition_count};
            }
        }
        view->valid = true;
        view->changes = metadata->changes;
    }
    *out = (struct sb_group_topics){view->topics, view->count, view->changes};
}

int64_t
group_coordinator_hold_until_ms(const struct broker_shard *self)
{
    return self->groups->hold_until_ms;
}

void
group_coordinator_topics(struct broker_shard *self, struct sb_group_topics *out)
{
    group_topic_view_get(&self->groups->view, &self->metadata, out);
}

int
group_offsets_topic_ensure(struct broker *broker)
{
    uint16_t length = (uint16_t)strlen(GROUP_OFFSETS_TOPIC);
    if (sb_metadata_find(&broker->metadata, GROUP_OFFSETS_TOPIC, length) != NULL) {
        broker->offsets_recovered = true;
        return 0;
    }
    struct sb_topic topic;
    memset(&topic, 0, sizeof(topic));
    topic.used = true;
    topic.topic_id = broker->metadata.next_topic_id;
    topic.name_length = length;
    memcpy(topic.name, GROUP_OFFSETS_TOPIC, length);
    topic.partition_count = broker->config.offsets_topic_partitions;
    if (topic.partition_count == 0) {
        sb_log_error("offsets_topic_partitions must be at least 1", "%s", "");
        return SB_ECONFIG;
    }
    topic.config = broker->config.topic_defaults;
    topic.config.cleanup = SB_CLEANUP_COMPACT;
    topic.config.retention_ms = -1;
    topic.config.retention_bytes = -1;
    topic.config.segment_bytes = GROUP_OFFSETS_SEGMENT_BYTES;
    topic.config.log_append_time = false;
    topic.max_message_bytes = broker->config.max_message_bytes;
    int result = sb_metadata_put(&broker->metadata, &topic);
    int64_t placed = result != 0 ? result : sb_assignment_place_local(
        &broker->assignment, topic.topic_id, topic.partition_count,
        broker->metadata.shard_count, broker->config.node_id);
    if (placed < 0) {
        return (int)placed;
    }
    broker->assignment.epoch++;
    sb_log_info("offsets topic created", "name=%s partitions=%u", GROUP_OFFSETS_TOPIC,
                topic.partition_count);
    return sb_metadata_save(&broker->metadata, &broker->assignment, broker->config.data_dir);
}

/* The offsets topic in this shard's table, or NULL. */
static struct sb_topic *
group_offsets_topic(struct broker_shard *self)
{
    return sb_metadata_find(&self->metadata, GROUP_OFFSETS_TOPIC,
                            (uint16_t)strlen(GROUP_OFFSETS_TOPIC));
}

bool
group_coordinator_of(struct broker_shard *self, struct sb_wire_string group_id,
                     uint32_t *partition_out, uint32_t *shard_out)
{
    struct sb_topic *topic = group_offsets_topic(self);
    if (topic == NULL || topic->partition_count == 0) {
        return false;
    }
    *partition_out = sb_crc32c(0, group_id.chars, group_id.length) % topic->partition_count;
    *shard_out = sb_assignment_owner(&self->assignment, topic->topic_id, *partition_out);
    return true;
}

int
group_coordinator_start(struct broker_shard *self)
{
    struct group_coordinator *groups = sb_alloc(sizeof(*groups));
    if (groups == NULL) {
        return -ENOMEM;
    }
    memset(groups, 0, sizeof(*groups));
    group_table_init(&groups->table);
    sb_timer_init(&groups->expiry);
    sb_timer_init(&groups->load_retry);
    groups->expiry_at_ns = UINT64_MAX;
    self->groups = groups;
    groups->load_capacity = self->broker->config.max_message_bytes;
    groups->load_buffer = sb_alloc(groups->load_capacity);
    if (groups->load_buffer == NULL) {
        return -ENOMEM;
    }
    groups->load_offset = -1;
    group_load_next(self);
    return 0;
}

void
group_coordinator_finish(struct broker_shard *self)
{
    struct group_coordinator *groups = self->groups;
    if (groups == NULL) {
        return;
    }
    group_table_deinit(&groups->table);
    sb_free(groups->load_buffer);
    sb_free(groups);
    self->groups = NULL;
}

void
group_coordinator_stop(struct broker_shard *self)
{
    if (self->groups != NULL) {
        sb_shard_timer_disarm(self->shard, &self->groups->expiry);
        sb_shard_timer_disarm(self->shard, &self->groups->load_retry);
    }
}

struct group_table *
group_coordinator_table(struct broker_shard *self)
{
    return self->groups != NULL && self->groups->loaded ? &self->groups->table : NULL;
}

/* Applies every record of the whole batches in bytes[0, length) to the table. */
static void
group_batches_apply(struct group_table *table, uint32_t partition, const uint8_t *bytes,
                    uint32_t length, int64_t *next_offset_out)
{
    uint32_t position = 0;
    struct sb_batch_header header;
    while (position < length &&
           sb_batch_header_decode(bytes + position, length - position, UINT32_MAX,
                                  &header) == 0) {
        const uint8_t *batch = bytes + position;
        position += header.batch_bytes;
        *next_offset_out = header.base_offset + header.record_count;
        if (sb_batch_header_compression(&header) != SB_COMPRESSION_NONE) {
            continue; /* The broker writes uncompressed batches; Produce cannot reach it. */
        }
        struct sb_record_iter iter;
        struct sb_record_view record;
        sb_record_iter_init(&iter, &header, batch + SB_BATCH_HEADER_BYTES,
                            header.records_bytes);
        while (sb_record_iter_next(&iter, &record) == 1) {
            if (group_record_apply(table, partition, &record) == -ENOMEM) {
                sb_log_error("group record dropped: no memory", "partition=%u offset=%lld",
                             partition, (long long)record.offset);
            }
        }
    }
}

/* The offsets partition being read back, or NULL when it is not this shard's (or gone). */
static struct sb_partition *
group_load_partition(struct broker_shard *self, const struct sb_topic *topic)
{
    struct group_coordinator *groups = self->groups;
    if (sb_assignment_owner(&self->assignment, topic->topic_id, groups->load_partition) !=
        self->id) {
        return NULL;
    }
    return sb_store_partition_find(self->store, topic->topic_id, groups->load_partition);
}

/* A read of the partition being read back finished: apply it, or move past the partition
 * (at its end, or when it cannot be read further). */
static void
group_load_apply(struct broker_shard *self, struct sb_read *read)
{
    struct group_coordinator *groups = self->groups;
    if (read->result == -ENOSPC && read->needed_bytes > groups->load_capacity) {
        uint8_t *bigger = sb_alloc(read->needed_bytes);
        if (bigger != NULL) {
            sb_free(groups->load_buffer);
            groups->load_buffer = bigger;
            groups->load_capacity = read->needed_bytes;
            return;
        }
    }
    if (read->result == -EIO || read->result == -ENOMEM || read->result == -ENOSPC ||
        read->result == -EAGAIN || read->result == -EINTR) {
        sb_log_error("offsets partition read failed; reading again", "partition=%u "
                     "offset=%lld error=\"%s\"", groups->load_partition,
                     (long long)groups->load_offset, sb_strerror(read->result));
        groups->load_waiting = true; /* The same offset again (group_load_next). */
        return;
    }
    int64_t before = groups->load_offset;
    if (read->result == 0 && read->bytes > 0) {
        group_batches_apply(&groups->table, groups->load_partition, groups->load_buffer,
                            read->bytes, &groups->load_offset);
    }
    if (read->result != 0 || read->bytes == 0 || groups->load_offset <= before) {
        if (read->result != 0 || read->bytes > 0) {
            sb_log_error("offsets partition not read back to its end", "partition=%u "
                         "offset=%lld error=\"%s\"", groups->load_partition,
                         (long long)before, sb_strerror(read->result));
        }
        groups->load_partition++;
        groups->load_offset = -1;
    }
}

static void
group_load_read_done(struct sb_read *read)
{
    struct broker_shard *self = read->context;
    group_load_apply(self, read);
    group_load_next(self);
}

static void
group_load_retry_fire(struct sb_timer *timer)
{
    struct broker_shard *self = timer->context;
    self->groups->load_waiting = false;
    group_load_next(self);
}

/* Reads the next batches back, partition after partition, until a read goes to the disk
 * (its callback goes on), one failed for now (tried again after GROUP_LOAD_RETRY_MS) or
 * every offsets partition is done. */
static void
group_load_next(struct broker_shard *self)
{
    struct group_coordinator *groups = self->groups;
    struct sb_topic *topic = group_offsets_topic(self);
    while (topic != NULL && groups->load_partition < topic->partition_count) {
        if (groups->load_waiting) {
            if (!self->stopping) {
                int armed = sb_shard_timer_arm(self->shard, &groups->load_retry,
                                               GROUP_LOAD_RETRY_MS * SB_NS_PER_MS,
                                               group_load_retry_fire, self);
                SB_ASSERT(armed == 0); /* The shard's own timers are counted in its heap. */
            }
            return;
        }
        struct sb_partition *partition = group_load_partition(self, topic);
        if (partition == NULL) {
            groups->load_partition++;
            continue;
        }
        int64_t start = sb_partition_log_start_offset(partition);
        groups->load_offset = groups->load_offset < start ? start : groups->load_offset;
        groups->read = (struct sb_read){
            .offset = groups->load_offset, .max_bytes = groups->load_capacity,
            .buffer = groups->load_buffer, .capacity = groups->load_capacity,
            .callback = group_load_read_done, .context = self};
        int result = sb_partition_read(partition, &groups->read);
        if (result == 0) {
            return;
        }
        if (result < 0) {
            groups->read.result = result;
        }
        group_load_apply(self, &groups->read);
    }
    groups->loaded = true;
    if (self->broker->offsets_recovered) {
        groups->hold_until_ms = (int64_t)(sb_shard_now_ns(self->shard) / SB_NS_PER_MS) +
                                (int64_t)self->broker->config.group_session_timeout_ms;
    }
    sb_free(groups->load_buffer);
    groups->load_buffer = NULL;
    sb_log_info("groups read back", "shard=%u groups=%u", self->id,
                groups->table.groups.count);
    group_expiry_arm(self);
}

static void
group_write_durable(struct sb_append *append)
{
    struct group_write *write = append->context;
    struct group_coordinator *groups = write->self->groups;
    if (append->result == 0) {
        int64_t next_offset;
        group_batches_apply(&groups->table, write->partition, write->batch, write->batch_bytes,
                            &next_offset);
    }
    write->done(write, append->result);
}

int
group_write_start(struct group_write *write)
{
    struct broker_shard *self = write->self;
    struct sb_topic *topic = group_offsets_topic(self);
    struct sb_partition *partition =
        topic == NULL ? NULL
                      : sb_store_partition_find(self->store, topic->topic_id, write->partition);
    if (partition == NULL) {
        return -ENOENT;
    }
    return sb_partition_append(partition, write->batch, write->batch_bytes, &write->append,
                               group_write_durable, write);
}

int64_t
group_tombstones_build(const struct group *group, uint8_t **buffer_out)
{
    uint64_t capacity = SB_BATCH_HEADER_BYTES;
    for (uint32_t slot = 0; slot < group->offsets.capacity; slot++) {
        const struct group_offset *offset = group_index_slot(&group->offsets, slot);
        capacity += offset == NULL ? 0
                                   : GROUP_RECORD_KEY_FIXED_BYTES + group->id_length +
                                         offset->topic_length + GROUP_RECORD_OVERHEAD_BYTES;
    }
    uint8_t *buffer = sb_alloc(capacity);
    if (buffer == NULL) {
        return -ENOMEM;
    }
    struct sb_batch_builder builder;
    int64_t now_ms = (int64_t)(sb_clock_realtime_ns() / SB_NS_PER_MS);
    sb_batch_builder_init(&builder, buffer, capacity, now_ms);
    struct sb_wire_string id = {group->id, group->id_length};
    uint8_t key[GROUP_RECORD_KEY_FIXED_BYTES + SB_WIRE_GROUP_ID_BYTES_MAX +
                SB_WIRE_TOPIC_NAME_BYTES_MAX];
    for (uint32_t slot = 0; slot < group->offsets.capacity; slot++) {
        const struct group_offset *offset = group_index_slot(&group->offsets, slot);
        if (offset == NULL) {
            continue;
        }
        struct sb_wire_string topic = {offset->topic, offset->topic_length};
        struct sb_record record = {
            .key = key, .key_length = (int32_t)group_record_key(key, id, topic, offset->partition),
            .value_length = -1, .timestamp_ms = now_ms};
        int result = sb_batch_builder_add(&builder, &record);
        SB_ASSERT(result == 0); /* Sized above. */
    }
    const uint8_t *batch;
    uint32_t batch_bytes;
    int result = sb_batch_builder_finish(&builder, SB_COMPRESSION_NONE, NULL, 0, &batch,
                                         &batch_bytes);
    if (result != 0) {
        sb_free(buffer);
        return result;
    }
    *buffer_out = buffer;
    return batch_bytes;
}

static void
group_expiry_done(struct group_write *write, int result)
{
    struct group_expiry *expiry = write->context;
    if (result != 0) {
        sb_log_error("group expiry not written", "error=\"%s\"", sb_strerror(result));
    }
    sb_free(expiry->buffer);
    sb_free(expiry);
}

/* Writes the tombstones of an expired group; the table drops it once they are durable. */
static void
group_expire(struct broker_shard *self, struct group *group)
{
    struct group_expiry *expiry = sb_alloc(sizeof(*expiry));
    int64_t bytes = expiry == NULL ? -ENOMEM : group_tombstones_build(group, &expiry->buffer);
    if (bytes < 0) {
        sb_free(expiry);
        return;
    }
    group->deleting = true;
    expiry->write = (struct group_write){
        .self = self, .partition = group->partition, .batch = expiry->buffer,
        .batch_bytes = (uint32_t)bytes, .done = group_expiry_done, .context = expiry};
    sb_log_info("group expired", "group=%.*s", (int)group->id_length, group->id);
    int result = group_write_start(&expiry->write);
    if (result != 0) {
        group_expiry_done(&expiry->write, result);
    }
}

static void
group_expiry_fire(struct sb_timer *timer)
{
    struct broker_shard *self = timer->context;
    self->groups->expiry_at_ns = UINT64_MAX;
    struct group_table *table = &self->groups->table;
    int64_t now_ms = (int64_t)(sb_clock_realtime_ns() / SB_NS_PER_MS);
    int64_t retention_ms = (int64_t)self->broker->config.offsets_retention_ms;
    int64_t clock_ms = (int64_t)(sb_shard_now_ns(self->shard) / SB_NS_PER_MS);
    for (uint32_t slot = 0; slot < table->groups.capacity; slot++) {
        /* Removing a group may move a later one into this slot (it waits a pass). */
        struct group *group = group_index_slot(&table->groups, slot);
        if (group != NULL && !group_membership_expire(table, group, clock_ms)) {
            continue;
        }
        if (group != NULL && group->member_count == 0 && !group->deleting &&
            now_ms - group->last_commit_ms > retention_ms) {
            group_expire(self, group);
        }
    }
    group_expiry_arm(self);
}

/* Arms the expiry pass to fire at at_ns (now if that has passed). */
static void
group_expiry_at(struct broker_shard *self, uint64_t at_ns)
{
    struct group_coordinator *groups = self->groups;
    uint64_t now_ns = sb_shard_now_ns(self->shard);
    sb_shard_timer_disarm(self->shard, &groups->expiry);
    groups->expiry_at_ns = UINT64_MAX;
    if (self->stopping) {
        return;
    }
    int result = sb_shard_timer_arm(self->shard, &groups->expiry,
                                    at_ns > now_ns ? at_ns - now_ns : 0, group_expiry_fire,
                                    self);
    SB_ASSERT(result == 0); /* The shard's own timers are counted in its heap. */
    groups->expiry_at_ns = at_ns;
}

/* A member deadline (shard clock ms; INT64_MAX: none) in shard clock ns. */
static uint64_t
group_deadline_ns(int64_t deadline_ms)
{
    return deadline_ms == INT64_MAX || deadline_ms > (int64_t)(UINT64_MAX / SB_NS_PER_MS)
               ? UINT64_MAX
               : (uint64_t)(deadline_ms < 0 ? 0 : deadline_ms) * SB_NS_PER_MS;
}

/* The next pass: at the earliest member deadline of any group, and at the latest after a
 * quarter of the retention (within bounds) for empty groups. */
static void
group_expiry_arm(struct broker_shard *self)
{
    uint64_t interval_ms = self->broker->config.offsets_retention_ms / 4;
    interval_ms = interval_ms < GROUP_EXPIRY_INTERVAL_MIN_MS ? GROUP_EXPIRY_INTERVAL_MIN_MS
                  : interval_ms > GROUP_EXPIRY_INTERVAL_MAX_MS ? GROUP_EXPIRY_INTERVAL_MAX_MS
                                                              : interval_ms;
    uint64_t at_ns = sb_shard_now_ns(self->shard) + interval_ms * SB_NS_PER_MS;
    struct group_table *table = &self->groups->table;
    for (uint32_t slot = 0; slot < table->groups.capacity; slot++) {
        const struct group *group = group_index_slot(&table->groups, slot);
        if (group != NULL && group->membership != NULL) {
            uint64_t deadline_ns = group_deadline_ns(sb_membership_deadline(group->membership));
            at_ns = deadline_ns < at_ns ? deadline_ns : at_ns;
        }
    }
    group_expiry_at(self, at_ns);
}

void
group_coordinator_membership_changed(struct broker_shard *self,
                                     const struct sb_membership *membership)
{
    struct group_coordinator *groups = self->groups;
    uint64_t deadline_ns = group_deadline_ns(sb_membership_deadline(membership));
    if (groups->loaded && deadline_ns < groups->expiry_at_ns) {
        group_expiry_at(self, deadline_ns);
    }
}
