/*
 * broker/admin.c - shard 0's control plane: CreateTopics, DeleteTopics,
 * AlterTopicConfig and InitProducerId, one request at a time.
 *
 *   admin_submit -> queue -> admin_next: validate and change shard 0's table
 *     -> (changes) persist <data>/metadata: write temp, fdatasync, rename,
 *        fsync directory -> send MSG_TOPIC_UPDATE to every other shard and
 *        apply locally -> all MSG_TOPIC_UPDATE_DONE back
 *     -> encode the response into the request's buffer -> MSG_ADMIN_DONE.
 *
 * A request is answered only after its changes are durable and every shard
 * has applied them, so a client that created a topic can produce to any of
 * its partitions through any shard at once. Producer ids come from blocks of
 * SB_PRODUCER_ID_BLOCK whose end is persisted before an id of the block is
 * handed out, so an id is never given twice, even across crashes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/assert.h"
#include "core/error.h"
#include "core/io_durability.h"
#include "core/log.h"
#include "broker/api.h"
#include "broker/broker_private.h"
#include "broker/group_coordinator.h"
#include "broker/topic_config.h"
#include "proto/api_admin.h"
#include "proto/api_producer.h"
#include "proto/errors.h"

/* Topic changes one admin request may make. */
#define ADMIN_CHANGES_MAX 1024u

enum admin_phase {
    ADMIN_IDLE = 0,
    ADMIN_PERSIST_WRITE,
    ADMIN_PERSIST_SYNC,
    ADMIN_PERSIST_DIRECTORY,
    ADMIN_BROADCAST,
};

struct admin_result {
    struct sb_wire_string name;          /* Topic name (borrowed from the request frame). */
    uint32_t topic_id;                   /* New id, or 0. */
    int16_t error;                       /* enum sb_wire_error. */
    const char *message;                 /* Detail, or NULL. */
};

struct admin_state {
    struct request *queue_head;           /* Oldest request waiting (linked by admin_next). */
    struct request *queue_tail;           /* Newest. */
    uint32_t queue_count;                 /* Waiting: at most every shard's request slots. */
    struct request *current;              /* Being handled. */
    enum admin_phase phase;               /* Where it is. */
    struct topic_update *updates;         /* Changes of the current request (owned). */
    struct topic_broadcast *broadcasts;   /* One per shard: the changes sent there (owned). */
    uint32_t update_count;                /* Changes. */
    uint32_t acks_pending;                /* Shard acknowledgements outstanding. */
    struct admin_result *results;         /* Per-topic outcome (owned). */
    uint32_t result_count;                /* Outcomes. */
    uint8_t *image;                       /* Metadata file image (owned). */
    uint64_t image_capacity;              /* Its size (grown with the tables). */
    uint64_t image_bytes;                 /* Bytes of it to write. */
    int temp_fd;                          /* metadata.tmp while writing. */
    int directory_fd;                     /* The data directory. */
    struct sb_io_op op;                   /* The I/O in flight. */
    bool persist;                         /* The metadata file must be rewritten. */
    struct sb_metadata before;            /* Shard 0's table before the current request. */
    int64_t producer_id_next;             /* Next producer id to hand out. */
    int64_t producer_id_limit;            /* Persisted end of the current block. */
    int64_t producer_id_answer;           /* InitProducerId: id being answered. */
    int16_t producer_epoch_answer;        /* InitProducerId: its epoch. */
};

static void admin_next(struct broker_shard *self);

int
admin_init(struct broker_shard *self)
{
    struct admin_state *admin = sb_alloc(sizeof(*admin));
    if (admin == NULL) {
        return -ENOMEM;
    }
    self->admin = admin;
    admin->updates = sb_alloc(ADMIN_CHANGES_MAX * sizeof(struct topic_update));
    admin->results = sb_alloc(ADMIN_CHANGES_MAX * sizeof(struct admin_result));
    admin->broadcasts = sb_alloc(self->metadata.shard_count * sizeof(struct topic_broadcast));
    admin->temp_fd = -1;
    admin->directory_fd = sb_io_open(self->io, self->broker->config.data_dir,
                                     O_RDONLY | O_DIRECTORY, 0);
    int result = admin->directory_fd < 0 ? admin->directory_fd : 0;
    if (result == 0) {
        result = sb_metadata_init(&admin->before);
    }
    if (result != 0) {
        return result;
    }
    admin->producer_id_next = self->metadata.next_producer_id;
    admin->producer_id_limit = self->metadata.next_producer_id;
    if (admin->updates == NULL || admin->results == NULL || admin->broadcasts == NULL) {
        return -ENOMEM;
    }
    return 0;
}

void
admin_deinit(struct broker_shard *self)
{
    struct admin_state *admin = self->admin;
    if (admin->directory_fd >= 0) {
        sb_io_close(self->io, admin->directory_fd);
    }
    sb_metadata_deinit(&admin->before);
    sb_free(admin->image);
    sb_free(admin->broadcasts);
    sb_free(admin->results);
    sb_free(admin->updates);
    sb_free(admin);
    self->admin = NULL;
}

bool
admin_idle(const struct broker_shard *self)
{
    return self->admin->current == NULL && self->admin->queue_count == 0;
}

/* The queue is linked through the requests themselves, so it cannot overflow: it holds at
 * most SB_BROKER_REQUESTS_MAX requests per shard, and a flood is held back where it enters, by
 * each connection's in-flight limit and each shard's request slots and memory. */
void
admin_submit(struct broker_shard *self, struct request *request)
{
    struct admin_state *admin = self->admin;
    SB_ASSERT(admin->queue_count < SB_BROKER_REQUESTS_MAX * self->metadata.shard_count);
    request->admin_next = NULL;
    if (admin->queue_tail == NULL) {
        admin->queue_head = request;
    } else {
        admin->queue_tail->admin_next = request;
    }
    admin->queue_tail = request;
    admin->queue_count++;
    if (admin->current == NULL) {
        admin_next(self);
    }
}

/* The request is answered (its buffer holds the response): send it home, take the next. */
static void
admin_finish(struct broker_shard *self)
{
    struct admin_state *admin = self->admin;
    struct request *request = admin->current;
    admin->current = NULL;
    admin->phase = ADMIN_IDLE;
    if (request->home == self) {
        request_admin_done(request);
    } else {
        broker_send(self, request->home->id, MSG_ADMIN_DONE, &request->outgoing, request);
    }
    admin_next(self);
}

static const struct sb_topic *
admin_defaults(struct broker_shard *self, struct sb_topic *defaults)
{
    memset(defaults, 0, sizeof(*defaults));
    defaults->config = self->broker->config.topic_defaults;
    defaults->max_message_bytes = self->broker->config.max_message_bytes;
    return defaults;
}

static bool
admin_record(struct admin_state *admin, struct sb_wire_string name, uint32_t topic_id,
             int16_t error, const char *message)
{
    if (admin->result_count == ADMIN_CHANGES_MAX) {
        return false;
    }
    admin->results[admin->result_count++] = (struct admin_result){name, topic_id, error,
                                                                   message};
    return true;
}

static void
admin_queue_update(struct admin_state *admin, const struct sb_topic *topic, bool deleted)
{
    SB_ASSERT(admin->update_count < ADMIN_CHANGES_MAX);
    admin->updates[admin->update_count++] = (struct topic_update){.topic = *topic,
                                                                  .deleted = deleted};
}

/* Partitions the broker could still take (each shard's store has a fixed table). */
static bool
admin_partitions_fit(struct broker_shard *self, uint64_t more)
{
    uint64_t total = 0;
    for (uint32_t index = 0; index < SB_TOPICS_MAX; index++) {
        total += self->metadata.topics[index].used ? self->metadata.topics[index].partition_count
                                                   : 0;
    }
    return total + more <= (uint64_t)self->metadata.shard_count * 16384u;
}

/* Checks one topic of CreateTopics and, unless validating only, adds it. */
static void
admin_create_one(struct broker_shard *self, struct sb_create_topic *create, bool validate_only)
{
    struct admin_state *admin = self->admin;
    struct sb_topic defaults;
    admin_defaults(self, &defaults);
    int32_t partitions = create->partition_count > 0
                             ? create->partition_count
                             : (int32_t)self->broker->config.default_partitions;
    int16_t error = SB_WIRE_ERROR_NONE;
    const char *message = NULL;
    if (!sb_topic_name_is_valid(create->name)) {
        error = SB_WIRE_ERROR_INVALID_TOPIC_NAME;
        message = "1-249 characters of [A-Za-z0-9._-]";
    } else if (sb_metadata_find(&self->metadata, create->name.chars, create->name.length)) {
        error = SB_WIRE_ERROR_TOPIC_ALREADY_EXISTS;
    } else if ((uint32_t)partitions > SB_TOPIC_PARTITIONS_MAX ||
               !admin_partitions_fit(self, (uint64_t)partitions)) {
        error = SB_WIRE_ERROR_INVALID_PARTITIONS;
        message = "too many partitions";
    } else if (create->replication_factor != 1 && create->replication_factor != -1) {
        error = SB_WIRE_ERROR_INVALID_REPLICATION_FACTOR;
        message = "this broker is a single node: replication factor 1";
    } else if (self->metadata.topic_count == SB_TOPICS_MAX) {
        error = SB_WIRE_ERROR_POLICY_VIOLATION;
        message = "too many topics";
    }
    struct sb_topic topic = defaults;
    topic.used = true;
    topic.partition_count = (uint32_t)partitions;
    topic.name_length = create->name.length;
    memcpy(topic.name, create->name.chars, sb_min_u64(create->name.length,
                                                      SB_WIRE_TOPIC_NAME_BYTES_MAX));
    struct sb_topic_config config;
    while (error == SB_WIRE_ERROR_NONE && sb_create_topic_next_config(create, &config) == 1) {
        if (sb_topic_config_set(&topic, &defaults, config.key.chars, config.key.length,
                                config.value.chars, config.value.length) != 0) {
            error = SB_WIRE_ERROR_INVALID_CONFIG;
            message = "unknown key or bad value";
        }
    }
    if (error == SB_WIRE_ERROR_NONE && !validate_only) {
        topic.topic_id = self->metadata.next_topic_id;
        sb_metadata_put(&self->metadata, &topic);
        admin_queue_update(admin, &topic, false);
    }
    admin_record(admin, create->name, error == 0 && !validate_only ? topic.topic_id : 0, error,
                 message);
}

int16_t
create_topics_decode(struct broker_shard *self, struct request *request)
{
    const uint8_t *body;
    uint32_t body_bytes;
    request_body(request, &body, &body_bytes);
    struct sb_create_topics_request decoded;
    if (sb_create_topics_request_decode(body, body_bytes, &decoded) != 0 ||
        decoded.topic_cursor.count > ADMIN_CHANGES_MAX) {
        return SB_WIRE_ERROR_INVALID_REQUEST;
    }
    struct sb_create_topic create;
    int next;
    while ((next = sb_create_topics_request_next_topic(&decoded, &create)) == 1) {
        admin_create_one(self, &create, decoded.validate_only != 0);
    }
    return next < 0 ? SB_WIRE_ERROR_INVALID_REQUEST : SB_WIRE_ERROR_NONE;
}

int16_t
delete_topics_decode(struct broker_shard *self, struct request *request)
{
    struct admin_state *admin = self->admin;
    const uint8_t *body;
    uint32_t body_bytes;
    request_body(request, &body, &body_bytes);
    struct sb_delete_topics_request decoded;
    if (sb_delete_topics_request_decode(body, body_bytes, &decoded) != 0 ||
        decoded.name_cursor.count > ADMIN_CHANGES_MAX) {
        return SB_WIRE_ERROR_INVALID_REQUEST;
    }
    struct sb_wire_string name;
    int next;
    while ((next = sb_delete_topics_request_next_name(&decoded, &name)) == 1) {
        struct sb_topic *topic = sb_metadata_find(&self->metadata, name.chars, name.length);
        if (topic == NULL || group_topic_is_internal(name.chars, name.length)) {
            admin_record(admin, name, 0, topic == NULL ? SB_WIRE_ERROR_UNKNOWN_TOPIC_OR_PARTITION
                                                       : SB_WIRE_ERROR_INVALID_TOPIC_NAME, NULL);
            continue;
        }
        admin_queue_update(admin, topic, true);
        admin_record(admin, name, topic->topic_id, SB_WIRE_ERROR_NONE, NULL);
        sb_metadata_remove(&self->metadata, topic->topic_id);
    }
    return next < 0 ? SB_WIRE_ERROR_INVALID_REQUEST : SB_WIRE_ERROR_NONE;
}

int16_t
alter_topic_config_decode(struct broker_shard *self, struct request *request)
{
    struct admin_state *admin = self->admin;
    const uint8_t *body;
    uint32_t body_bytes;
    request_body(request, &body, &body_bytes);
    struct sb_alter_topic_config_request decoded;
    if (sb_alter_topic_config_request_decode(body, body_bytes, &decoded) != 0) {
        return SB_WIRE_ERROR_INVALID_REQUEST;
    }
    struct sb_topic *current = sb_metadata_find(&self->metadata, decoded.name.chars,
                                                decoded.name.length);
    if (current == NULL || group_topic_is_internal(decoded.name.chars, decoded.name.length)) {
        admin_record(admin, decoded.name, 0,
                     current == NULL ? SB_WIRE_ERROR_UNKNOWN_TOPIC_OR_PARTITION
                                     : SB_WIRE_ERROR_INVALID_TOPIC_NAME,
                     current == NULL ? NULL : "an internal topic");
        return SB_WIRE_ERROR_NONE;
    }
    struct sb_topic changed = *current;
    struct sb_topic defaults;
    admin_defaults(self, &defaults);
    int16_t error = SB_WIRE_ERROR_NONE;
    const char *message = NULL;
    if (decoded.partition_count != 0 &&
        (decoded.partition_count < (int32_t)current->partition_count ||
         (uint32_t)decoded.partition_count > SB_TOPIC_PARTITIONS_MAX ||
         !admin_partitions_fit(self, (uint64_t)decoded.partition_count -
                                         current->partition_count))) {
        error = SB_WIRE_ERROR_INVALID_PARTITIONS;
        message = "partitions can only grow, up to the broker's limit";
    } else if (decoded.partition_count != 0) {
        changed.partition_count = (uint32_t)decoded.partition_count;
    }
    struct sb_topic_config config;
    while (error == SB_WIRE_ERROR_NONE &&
           sb_alter_topic_config_request_next_config(&decoded, &config) == 1) {
        if (sb_topic_config_set(&changed, &defaults, config.key.chars, config.key.length,
                                config.value.chars, config.value.length) != 0) {
            error = SB_WIRE_ERROR_INVALID_CONFIG;
            message = "unknown key or bad value";
        }
    }
    if (error == SB_WIRE_ERROR_NONE && decoded.validate_only == 0) {
        *current = changed;
        admin_queue_update(admin, &changed, false);
    }
    admin_record(admin, decoded.name, current->topic_id, error, message);
    return SB_WIRE_ERROR_NONE;
}

/* Hands out the next producer id; a new block's end is persisted first (admin_changes). */
int16_t
init_producer_id_decode(struct broker_shard *self, struct request *request)
{
    struct admin_state *admin = self->admin;
    const uint8_t *body;
    uint32_t body_bytes;
    request_body(request, &body, &body_bytes);
    struct sb_init_producer_id_request decoded;
    if (sb_init_producer_id_request_decode(body, body_bytes, &decoded) != 0 ||
        decoded.transactional_id.chars != NULL) {
        return SB_WIRE_ERROR_INVALID_REQUEST;
    }
    if (decoded.producer_id >= 0) {
        /* A known producer asks again: same id, next epoch (fences the older instance). */
        bool known = decoded.producer_id < admin->producer_id_next && decoded.producer_epoch >= 0 &&
                     decoded.producer_epoch < INT16_MAX;
        admin->producer_id_answer = known ? decoded.producer_id : -1;
        admin->producer_epoch_answer = known ? (int16_t)(decoded.producer_epoch + 1) : -1;
        return SB_WIRE_ERROR_NONE; /* Unknown: INVALID_PRODUCER_ID_MAPPING in the body. */
    }
    if (admin->producer_id_next >= admin->producer_id_limit) {
        /* next passes the limit after a failed persist (the id it took was not handed out). */
        admin->producer_id_limit = admin->producer_id_next + SB_PRODUCER_ID_BLOCK;
        self->metadata.next_producer_id = admin->producer_id_limit;
        admin->persist = true;
    }
    admin->producer_id_answer = admin->producer_id_next++;
    admin->producer_epoch_answer = 0;
    return SB_WIRE_ERROR_NONE;
}

int
create_topics_encode(struct broker_shard *self, struct request *request,
                     struct sb_wire_writer *writer)
{
    struct admin_state *admin = self->admin;
    struct sb_create_topic_result results[ADMIN_CHANGES_MAX];
    for (uint32_t index = 0; index < admin->result_count; index++) {
        const struct admin_result *result = &admin->results[index];
        results[index] = (struct sb_create_topic_result){
            result->name, result->topic_id, result->error,
            sb_wire_string_from_cstr(result->message)};
    }
    struct sb_create_topics_response response = {.topics = results,
                                                 .topic_count = admin->result_count};
    return sb_create_topics_response_encode(writer, &response);
}

int
delete_topics_encode(struct broker_shard *self, struct request *request,
                     struct sb_wire_writer *writer)
{
    struct admin_state *admin = self->admin;
    struct sb_delete_topic_result results[ADMIN_CHANGES_MAX];
    for (uint32_t index = 0; index < admin->result_count; index++) {
        results[index] = (struct sb_delete_topic_result){admin->results[index].name,
                                                        admin->results[index].error};
    }
    struct sb_delete_topics_response response = {.topics = results,
                                                 .topic_count = admin->result_count};
    return sb_delete_topics_response_encode(writer, &response);
}

int
alter_topic_config_encode(struct broker_shard *self, struct request *request,
                          struct sb_wire_writer *writer)
{
    struct admin_state *admin = self->admin;
    struct sb_alter_topic_config_response response = {
        admin->results[0].error, sb_wire_string_from_cstr(admin->results[0].message)};
    return sb_alter_topic_config_response_encode(writer, &response);
}

int
init_producer_id_encode(struct broker_shard *self, struct request *request,
                        struct sb_wire_writer *writer)
{
    struct admin_state *admin = self->admin;
    struct sb_init_producer_id_response response = {
        admin->producer_id_answer < 0 ? SB_WIRE_ERROR_INVALID_PRODUCER_ID_MAPPING : 0,
        admin->producer_id_answer, admin->producer_epoch_answer};
    return sb_init_producer_id_response_encode(writer, &response);
}

static void admin_persist_begin(struct broker_shard *self);

static void
admin_next(struct broker_shard *self)
{
    struct admin_state *admin = self->admin;
    if (admin->current != NULL || admin->queue_count == 0) {
        return;
    }
    struct request *request = admin->queue_head;
    admin->queue_head = request->admin_next;
    if (admin->queue_head == NULL) {
        admin->queue_tail = NULL;
    }
    request->admin_next = NULL;
    admin->queue_count--;
    admin->current = request;
    admin->update_count = 0;
    admin->result_count = 0;
    admin->persist = false;
    sb_metadata_copy(&admin->before, &self->metadata);
    const struct api *api = api_find(request->header.api_key);
    SB_ASSERT(api != NULL && api->route == API_ROUTE_CONTROL);
    int16_t error = api->decode(self, request);
    if (error != SB_WIRE_ERROR_NONE) {
        sb_metadata_copy(&self->metadata, &admin->before);
        request_encode(self, request, error);
        admin_finish(self);
        return;
    }
    if (admin->update_count > 0 || admin->persist) {
        admin_persist_begin(self);
        return;
    }
    request_encode(self, request, SB_WIRE_ERROR_NONE);
    admin_finish(self);
}

static void admin_persist_done(struct sb_io_op *op);

/* Writing the metadata failed: undo the request's changes on shard 0 and answer an error. */
static void
admin_persist_failed(struct broker_shard *self, int error)
{
    struct admin_state *admin = self->admin;
    sb_log_error("cannot persist metadata; the change is refused", "error=\"%s\"",
                 sb_strerror(error));
    if (admin->temp_fd >= 0) {
        sb_io_close(self->io, admin->temp_fd);
        admin->temp_fd = -1;
    }
    placement_unassign(self, admin->updates, admin->update_count, &admin->before);
    sb_metadata_copy(&self->metadata, &admin->before);
    admin->producer_id_limit = self->metadata.next_producer_id;
    admin->producer_id_next = sb_max_u64((uint64_t)admin->producer_id_next,
                                         (uint64_t)admin->producer_id_limit);
    request_encode(self, admin->current, error == -ENOSPC ? SB_WIRE_ERROR_DISK_FULL
                                                          : SB_WIRE_ERROR_STORAGE_ERROR);
    admin_finish(self);
}

static void
admin_persist_begin(struct broker_shard *self)
{
    struct admin_state *admin = self->admin;
    int placed = placement_assign(self, admin->updates, admin->update_count);
    int64_t length = placed < 0 ? placed
                                : placement_encode(self, &admin->image, &admin->image_capacity);
    if (length < 0) {
        admin_persist_failed(self, (int)length);
        return;
    }
    admin->image_bytes = (uint64_t)length;
    char path[320];
    snprintf(path, sizeof(path), "%s/metadata.tmp", self->broker->config.data_dir);
    admin->temp_fd = sb_io_open(self->io, path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (admin->temp_fd < 0) {
        int error = admin->temp_fd;
        admin->temp_fd = -1;
        admin_persist_failed(self, error);
        return;
    }
    admin->phase = ADMIN_PERSIST_WRITE;
    sb_io_write(self->io, &admin->op, admin->temp_fd, admin->image, (uint32_t)length, 0,
                admin_persist_done, self);
}

static void admin_broadcast(struct broker_shard *self);

static void
admin_persist_done(struct sb_io_op *op)
{
    struct broker_shard *self = op->context;
    struct admin_state *admin = self->admin;
    if (op->result < 0 || (admin->phase == ADMIN_PERSIST_WRITE &&
                           (uint64_t)op->result != admin->image_bytes)) {
        admin_persist_failed(self, op->result < 0 ? op->result : -EIO);
        return;
    }
    if (admin->phase == ADMIN_PERSIST_WRITE) {
        admin->phase = ADMIN_PERSIST_SYNC;
        sb_io_fsync(self->io, &admin->op, admin->temp_fd, true, admin_persist_done, self);
        return;
    }
    if (admin->phase == ADMIN_PERSIST_SYNC) {
        sb_io_close(self->io, admin->temp_fd);
        admin->temp_fd = -1;
        char from[320];
        char to[320];
        snprintf(from, sizeof(from), "%s/metadata.tmp", self->broker->config.data_dir);
        snprintf(to, sizeof(to), "%s/metadata", self->broker->config.data_dir);
        if (sb_io_durability_rename(from, to) != 0) {
            admin_persist_failed(self, -errno);
            return;
        }
        admin->phase = ADMIN_PERSIST_DIRECTORY;
        sb_io_fsync(self->io, &admin->op, admin->directory_fd, false, admin_persist_done, self);
        return;
    }
    admin_broadcast(self);
}

/* Durable: every shard applies the changes (shard 0 now, each other shard by one message
 * carrying them all, in order). */
static void
admin_broadcast(struct broker_shard *self)
{
    struct admin_state *admin = self->admin;
    admin->phase = ADMIN_BROADCAST;
    uint32_t shard_count = self->metadata.shard_count;
    admin->acks_pending = 1; /* Guard while sending. */
    for (uint32_t index = 0; index < admin->update_count; index++) {
        struct topic_update *update = &admin->updates[index];
        admin_apply_topic(self, &update->topic, update->deleted, &self->assignment);
    }
    for (uint32_t shard = 1; admin->update_count > 0 && shard < shard_count; shard++) {
        struct topic_broadcast *broadcast = &admin->broadcasts[shard];
        broadcast->updates = admin->updates;
        broadcast->assignment = &self->assignment;
        broadcast->update_count = admin->update_count;
        admin->acks_pending++;
        broker_send(self, shard, MSG_TOPIC_UPDATE, &broadcast->outgoing, broadcast);
    }
    admin_topic_update_done(self, NULL);
}

void
admin_topic_update_done(struct broker_shard *self, struct topic_broadcast *broadcast)
{
    (void)broadcast;
    struct admin_state *admin = self->admin;
    SB_ASSERT(admin->acks_pending > 0);
    if (--admin->acks_pending != 0) {
        return;
    }
    request_encode(self, admin->current, SB_WIRE_ERROR_NONE);
    admin_finish(self);
}

/* Every shard: apply a topic change to the local table and open or drop owned partitions. */
int
admin_apply_topic(struct broker_shard *self, const struct sb_topic *topic, bool deleted,
                  const struct sb_assignment *assignment)
{
    int received = placement_receive(self, topic, deleted, assignment);
    if (received != 0) {
        return received;
    }
    for (uint32_t partition = 0; partition < topic->partition_count; partition++) {
        if (sb_assignment_owner(&self->assignment, topic->topic_id, partition) != self->id) {
            continue;
        }
        struct sb_partition *opened = sb_store_partition_find(self->store, topic->topic_id,
                                                              partition);
        if (deleted && opened != NULL) {
            sb_store_partition_drop(self->store, opened);
        } else if (!deleted) {
            int result = sb_store_partition_open(self->store, topic->topic_id, partition,
                                                 &topic->config, &opened);
            if (result < 0) {
                sb_log_error("cannot open partition", "topic=%s partition=%u error=\"%s\"",
                             topic->name, partition, sb_strerror(result));
            }
        }
    }
    if (deleted) {
        sb_assignment_remove(&self->assignment, topic->topic_id, 0, topic->partition_count);
    }
    if (self->id == 0) {
        return 0; /* Shard 0's table was changed when the request was decided. */
    }
    if (deleted) {
        sb_metadata_remove(&self->metadata, topic->topic_id);
        return 0;
    }
    return sb_metadata_put(&self->metadata, topic);
}

void
admin_topic_update(struct broker_shard *self, struct topic_broadcast *broadcast)
{
    for (uint32_t index = 0; index < broadcast->update_count; index++) {
        const struct topic_update *update = &broadcast->updates[index];
        admin_apply_topic(self, &update->topic, update->deleted, broadcast->assignment);
    }
    broker_send(self, 0, MSG_TOPIC_UPDATE_DONE, &broadcast->outgoing, broadcast);
}
