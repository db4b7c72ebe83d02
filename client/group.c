/*
 * client/group.c - the I/O side of consumer groups: the heartbeat loop,
 * commits and committed-offset queries (ops), auto commits, and resolving the
 * topic ids of an assignment to names.
 *
 * Coordinator: requests go to the port of the shard that owns partition
 * crc32c(group.id) mod P of __consumer_offsets (known from Metadata), else to
 * a bootstrap port: every port forwards group requests to the coordinator, so
 * routing is an optimisation. COORDINATOR_LOAD_IN_PROGRESS, NOT_COORDINATOR
 * (which also refreshes metadata), BROKER_BUSY and lost connections are
 * retried with backoff.
 *
 * Heartbeat: one in flight per consumer, at the interval the coordinator
 * returns, or at once when something changed (join, subscription, owned
 * partitions, leave). Each carries every partition the consumer holds. An
 * answer with a new assignment becomes the target; partitions held but not in
 * it are paused (no fetching) and poll revokes them (group_api.c), then reports
 * them gone in the next heartbeat; one a later answer lists again before poll
 * revoked it is resumed; new ones are added by poll. UNKNOWN_MEMBER_ID
 * and FENCED_MEMBER_EPOCH mark the membership lost: everything is paused, poll
 * drops it without a commit, and the member rejoins with epoch 0.
 *
 * Ops: commits and offset queries of one consumer are sent one at a time, in
 * order, each encoded when sent (so a retry after STALE_MEMBER_EPOCH carries the
 * new epoch) and finished once: a waiting caller is woken, an async commit's
 * callback is queued for the I/O loop (group_callbacks).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client/client_private.h"
#include "core/crc32c.h"
#include "core/limits.h"
#include "proto/api_admin.h"
#include "proto/api_group.h"

/* The internal topic whose partition owners coordinate groups. */
#define GROUP_OFFSETS_TOPIC "__consumer_offsets"

/* A heartbeat or ListTopics in flight (allocated: its consumer may close meanwhile). */
struct group_call {
    struct client_request request; /* First member: done handlers cast back. */
};

/* Frees a finished heartbeat or ListTopics; returns its consumer (NULL: it closed). */
static struct sb_consumer *
group_call_end(struct client_request *request)
{
    struct sb_consumer *consumer = request->owner;
    free(request);
    return consumer;
}

/* The connection to the group's coordinator for general requests, or NULL. */
static struct client_conn *
group_conn(struct sb_client *client)
{
    struct client_topic *offsets = metadata_topic(client, GROUP_OFFSETS_TOPIC);
    if (offsets != NULL && offsets->partition_count > 0) {
        const char *id = client->config.group_id;
        uint32_t partition = sb_crc32c(0, id, strlen(id)) % offsets->partition_count;
        struct client_conn *conn = metadata_route(client, offsets, (int32_t)partition, 0);
        if (conn != NULL) {
            return conn;
        }
    }
    return metadata_bootstrap_conn(client);
}

/* Retriable trouble with the coordinator: refresh metadata when it may have moved. */
static void
group_note_trouble(struct sb_client *client, int error)
{
    int wire = client_error_wire_code(error);
    if (wire < 0 || wire == SB_WIRE_ERROR_NOT_COORDINATOR) {
        metadata_refresh(client);
    }
}

void
group_op_free(struct group_op *op)
{
    if (op == NULL) {
        return;
    }
    for (size_t index = 0; index < op->count; index++) {
        free((char *)op->offsets[index].metadata);
    }
    free(op->offsets);
    free(op);
}

void
group_op_queue(struct sb_client *client, struct group_op *op)
{
    struct consumer_group *group = &op->consumer->group;
    op->request = (struct client_request){.owner = op->consumer};
    if (group->ops_tail != NULL) {
        group->ops_tail->next = op;
    } else {
        group->ops_head = op;
    }
    group->ops_tail = op;
    group->ops_pending++;
    client_wake(client);
}

/* Mutex held: an op's outcome is final. Takes it off its queue; wakes its waiter or queues
 * its callback. */
static void
group_op_finish(struct sb_client *client, struct group_op *op, int error)
{
    struct consumer_group *group = &op->consumer->group;
    CLIENT_ASSERT(group->ops_head == op);
    group->ops_head = op->next;
    if (group->ops_head == NULL) {
        group->ops_tail = NULL;
    }
    op->next = NULL;
    op->inflight = false;
    op->done = true;
    op->error = error;
    if (op->automatic) {
        group->auto_commit_inflight = false;
    }
    if (error != 0) {
        client_log(client, SB_CLIENT_LOG_WARN, "group %s: %s failed: %s",
                   client->config.group_id, op->kind == GROUP_OP_COMMIT ? "commit" : "offset fetch",
                   sb_client_strerror(error));
    }
    if (op->sync || op->automatic) {
        group->ops_pending -= op->abandoned ? 0 : 1;
        if (op->abandoned || op->automatic) {
            group_op_free(op);
        }
    } else if (client->group_done_tail != NULL) {
        client->group_done_tail->next = op;
        client->group_done_tail = op;
    } else {
        client->group_done_head = client->group_done_tail = op;
    }
    pthread_cond_broadcast(&client->cond);
}

void
group_ops_fail(struct sb_client *client, struct sb_consumer *consumer, int error)
{
    /* Bounded by the queue's length. */
    while (consumer->group.ops_head != NULL && !consumer->group.ops_head->inflight) {
        group_op_finish(client, consumer->group.ops_head, error);
    }
}

/* Mutex held: a retriable failure of op: again after a backoff, or final at its deadline. */
static void
group_op_retry(struct sb_client *client, struct group_op *op, int error)
{
    op->inflight = false;
    group_note_trouble(client, error);
    uint64_t now_ns = client_now_ns();
    op->retry_at_ns = now_ns + client_backoff_ns(client, op->attempts,
                                                 client->config.retry_backoff_ms,
                                                 client->config.retry_backoff_max_ms);
    if (client_error_wire_code(error) == SB_WIRE_ERROR_STALE_MEMBER_EPOCH) {
        op->consumer->group.heartbeat_now = true;
    }
    if (op->retry_at_ns >= op->deadline_ns) {
        group_op_finish(client, op, error);
        return;
    }
    client_schedule(client, op->retry_at_ns);
}

/* Encodes the OffsetCommit of op (runs inside conn_send); topics and partitions are scratch
 * arrays of op->count entries. */
static int
group_commit_write(struct sb_wire_writer *writer, const struct group_op *op,
                   struct sb_offset_commit_topic *topics,
                   struct sb_offset_commit_partition *partitions)
{
    const struct sb_consumer *consumer = op->consumer;
    const struct consumer_group *group = &consumer->group;
    uint32_t topic_count = 0;
    for (size_t index = 0; index < op->count; index++) {
        const struct sb_consumer_partition *entry = &op->offsets[index];
        if (topic_count == 0 || strcmp(op->offsets[index - 1].topic, entry->topic) != 0) {
            topics[topic_count++] = (struct sb_offset_commit_topic){
                .name = sb_wire_string_from_cstr(entry->topic), .partitions = &partitions[index]};
        }
        topics[topic_count - 1].partition_count++;
        partitions[index] = (struct sb_offset_commit_partition){
            .partition = entry->partition, .offset = entry->offset,
            .metadata = sb_wire_string_from_cstr(entry->metadata)};
    }
    bool member = group->subscribed && group->epoch >= 0;
    struct sb_offset_commit_request request = {
        .group_id = sb_wire_string_from_cstr(consumer->client->config.group_id),
        .member_id = sb_wire_string_from_cstr(member ? group->member_id : ""),
        .member_epoch = member ? group->epoch : SB_GROUP_EPOCH_NONE,
        .topics = topics, .topic_count = topic_count};
    return sb_offset_commit_request_encode(writer, &request);
}

static int
group_commit_encode(struct sb_wire_writer *writer, const void *body)
{
    const struct group_op *op = body;
    struct sb_offset_commit_topic *topics = calloc(op->count, sizeof(*topics));
    struct sb_offset_commit_partition *partitions = calloc(op->count, sizeof(*partitions));
    int result = topics != NULL && partitions != NULL
                     ? group_commit_write(writer, op, topics, partitions)
                     : -ENOMEM;
    free(topics);
    free(partitions);
    return result;
}

/* Encodes the OffsetFetch of op (runs inside conn_send). */
static int
group_fetch_encode(struct sb_wire_writer *writer, const void *body)
{
    const struct group_op *op = body;
    struct sb_offset_fetch_topic *topics = calloc(op->count, sizeof(*topics));
    int32_t *partitions = calloc(op->count, sizeof(*partitions));
    int result = -ENOMEM;
    if (topics != NULL && partitions != NULL) {
        uint32_t topic_count = 0;
        for (size_t index = 0; index < op->count; index++) {
            const struct sb_consumer_partition *entry = &op->offsets[index];
            if (topic_count == 0 || strcmp(op->offsets[index - 1].topic, entry->topic) != 0) {
                topics[topic_count++] = (struct sb_offset_fetch_topic){
                    .name = sb_wire_string_from_cstr(entry->topic),
                    .partitions = &partitions[index]};
            }
            topics[topic_count - 1].partition_count++;
            partitions[index] = entry->partition;
        }
        struct sb_offset_fetch_request request = {
            .group_id = sb_wire_string_from_cstr(op->consumer->client->config.group_id),
            .topics = topics, .topic_count = topic_count};
        result = sb_offset_fetch_request_encode(writer, &request);
    }
    free(topics);
    free(partitions);
    return result;
}

/* Records the answer for the next entry of op (answers come in request order): its error
 * and, for OffsetFetch, its committed offset. Returns 0, or SB_ERR_PROTOCOL when the
 * answer names another partition or there are too many. */
static int
group_answer(struct group_op *op, size_t *index, struct sb_wire_string topic,
             int32_t partition, int16_t error_code, int64_t offset, int *first)
{
    if (*index >= op->count || partition != op->offsets[*index].partition ||
        !sb_wire_string_equals(topic, op->offsets[*index].topic)) {
        return SB_ERR_PROTOCOL;
    }
    struct sb_consumer_partition *entry = &op->offsets[(*index)++];
    entry->error = client_error_from_wire(error_code);
    entry->offset = op->kind == GROUP_OP_FETCH ? (offset >= 0 ? offset : -1) : entry->offset;
    *first = *first != 0 ? *first : entry->error;
    return 0;
}

/* Applies an OffsetCommit or OffsetFetch response to op: per-partition errors (and
 * committed offsets), the first of them in *first_out (final: never retried); returns the
 * group-wide error, SB_ERR_CORRUPT or SB_ERR_PROTOCOL. */
static int
group_op_apply(struct group_op *op, const uint8_t *body, size_t body_bytes, int *first_out)
{
    struct sb_offset_commit_response commit;
    struct sb_offset_fetch_response fetch;
    bool is_commit = op->kind == GROUP_OP_COMMIT;
    int16_t error_code = 0;
    if (is_commit ? sb_offset_commit_response_decode(body, body_bytes, &commit) != 0
                  : sb_offset_fetch_response_decode(body, body_bytes, &fetch) != 0) {
        return SB_ERR_CORRUPT;
    }
    error_code = is_commit ? commit.error_code : fetch.error_code;
    if (error_code != SB_WIRE_ERROR_NONE) {
        return client_error_from_wire(error_code);
    }
    size_t index = 0;
    int first = 0;
    int result = 0;
    struct sb_offset_commit_topic_result commit_topic;
    struct sb_offset_commit_partition_result committed;
    while (is_commit && result == 0 &&
           sb_offset_commit_response_next_topic(&commit, &commit_topic) == 1) {
        while (result == 0 &&
               sb_offset_commit_topic_result_next_partition(&commit_topic, &committed) == 1) {
            result = group_answer(op, &index, commit_topic.name, committed.partition,
                                  committed.error_code, -1, &first);
        }
    }
    struct sb_group_offset_topic fetch_topic;
    struct sb_group_offset fetched;
    while (!is_commit && result == 0 &&
           sb_offset_fetch_response_next_topic(&fetch, &fetch_topic) == 1) {
        while (result == 0 && sb_offset_fetch_topic_next_offset(&fetch_topic, &fetched) == 1) {
            result = group_answer(op, &index, fetch_topic.name, fetched.partition,
                                  fetched.error_code, fetched.offset, &first);
        }
    }
    *first_out = first;
    return result != 0 || index != op->count ? SB_ERR_PROTOCOL : 0;
}

/* Mutex held: after a stored commit, remembers each offset on the partitions still held. */
static void
group_commit_note(struct sb_consumer *consumer, const struct group_op *op)
{
    for (size_t index = 0; index < op->count; index++) {
        const struct sb_consumer_partition *entry = &op->offsets[index];
        struct consumer_partition *partition =
            consumer_find(consumer, entry->topic, entry->partition);
        if (partition != NULL && entry->error == 0) {
            partition->committed = entry->offset;
        }
    }
}

static void
group_op_done(struct sb_client *client, struct client_request *request, int error,
              const uint8_t *body, size_t body_bytes)
{
    struct group_op *op = (struct group_op *)request;
    if (request->owner == NULL) {
        group_op_free(op); /* Its consumer closed after waiting for it. */
        return;
    }
    int partition_error = 0;
    if (error == 0) {
        error = group_op_apply(op, body, body_bytes, &partition_error);
    }
    if (error != 0 && sb_client_error_is_retriable(error)) {
        group_op_retry(client, op, error);
        return;
    }
    error = error != 0 ? error : partition_error;
    if (op->kind == GROUP_OP_COMMIT) {
        group_commit_note(op->consumer, op);
    }
    group_op_finish(client, op, error);
}

/* Mutex held: sends the consumer's oldest op when due; fails it at its deadline. */
static void
group_ops_run(struct sb_client *client, struct sb_consumer *consumer, uint64_t now_ns)
{
    struct group_op *op = consumer->group.ops_head;
    if (op == NULL || op->inflight) {
        return;
    }
    if (op->count == 0 || now_ns >= op->deadline_ns) { /* Nothing to send, or too late. */
        group_op_finish(client, op, op->count == 0 ? 0
                                    : op->attempts > 0 ? -ETIMEDOUT
                                                       : client_wait_error(client, 0));
        return;
    }
    client_schedule(client, op->deadline_ns);
    if (now_ns < op->retry_at_ns) {
        client_schedule(client, op->retry_at_ns);
        return;
    }
    struct client_conn *conn = group_conn(client);
    if (conn == NULL || !conn_want(client, conn)) {
        return;
    }
    op->request = (struct client_request){.owner = consumer, .done = group_op_done};
    op->attempts++;
    op->inflight = true;
    uint32_t timeout_ms = client->config.request_timeout_ms;
    int result = op->kind == GROUP_OP_COMMIT
                     ? conn_send(client, conn, SB_API_OFFSET_COMMIT, 0, group_commit_encode, op,
                                 &op->request, timeout_ms)
                     : conn_send(client, conn, SB_API_OFFSET_FETCH, 0, group_fetch_encode, op,
                                 &op->request, timeout_ms);
    if (result != 0 && sb_client_error_is_retriable(result)) {
        group_op_retry(client, op, result);
    } else if (result != 0) {
        group_op_finish(client, op, result);
    }
}

uint32_t
group_callbacks(struct sb_client *client)
{
    uint32_t ran = 0;
    client->in_callbacks = true;
    while (client->group_done_head != NULL && ran < CLIENT_CALLBACKS_PER_ROUND_MAX) {
        struct group_op *op = client->group_done_head;
        client->group_done_head = op->next;
        if (client->group_done_head == NULL) {
            client->group_done_tail = NULL;
        }
        pthread_mutex_unlock(&client->mutex);
        if (op->on_commit != NULL) {
            op->on_commit(op->consumer, op->error, op->offsets, op->count, op->opaque);
        }
        pthread_mutex_lock(&client->mutex);
        op->consumer->group.ops_pending--;
        group_op_free(op);
        ran++;
    }
    client->in_callbacks = false;
    if (ran > 0) {
        pthread_cond_broadcast(&client->cond);
    }
    return ran;
}

/* Mutex held: pauses every held partition the target does not list (all when lost), so
 * nothing more is fetched for them, and resumes those it lists again (given back before
 * poll revoked them: the coordinator never let them go), then asks poll to reconcile. */
static void
group_pause_revoked(struct sb_client *client, struct sb_consumer *consumer)
{
    struct consumer_group *group = &consumer->group;
    for (struct consumer_partition *held = consumer->partitions; held != NULL;
         held = held->next) {
        bool kept = false;
        for (uint32_t index = 0; index < group->target_count && !group->lost; index++) {
            kept = kept || (group->target[index].topic_id == held->group_topic_id &&
                            group->target[index].partition == held->partition);
        }
        held->paused = !kept;
    }
    group->reconcile_wanted = true;
    pthread_cond_broadcast(&client->cond);
}

/* Mutex held: gives target entries whose topic id the metadata cache knows their topic;
 * true when every entry has one. */
static bool
group_resolve(struct sb_client *client, struct consumer_group *group)
{
    bool all = true;
    for (uint32_t index = 0; index < group->target_count; index++) {
        struct group_target *entry = &group->target[index];
        for (struct client_topic *topic = client->topics;
             topic != NULL && entry->topic == NULL; topic = topic->next) {
            entry->topic = topic->topic_id == entry->topic_id ? topic : NULL;
        }
        all = all && entry->topic != NULL;
    }
    return all;
}

/* Mutex held: replaces the target with a heartbeat's assignment. Returns 0, -ENOMEM or
 * SB_ERR_CORRUPT (the target is then unchanged). */
static int
group_target_set(struct sb_client *client, struct consumer_group *group,
                 struct sb_group_heartbeat_response *response)
{
    struct group_target *target = calloc(GROUP_COMMIT_PARTITIONS_MAX, sizeof(*target));
    if (target == NULL) {
        return -ENOMEM;
    }
    uint32_t count = 0;
    struct sb_group_tpset set;
    int32_t partition;
    int more = 0;
    while ((more = sb_group_heartbeat_response_next_assignment(response, &set)) == 1) {
        int next = 0;
        while ((next = sb_group_tpset_next_partition(&set, &partition)) == 1 &&
               count < GROUP_COMMIT_PARTITIONS_MAX) {
            target[count++] = (struct group_target){.topic_id = set.topic_id,
                                                    .partition = partition};
        }
        more = next < 0 || next == 1 ? -1 : 0;
        if (more != 0) {
            break;
        }
    }
    if (more != 0) {
        free(target);
        return SB_ERR_CORRUPT;
    }
    free(group->target);
    group->target = target;
    group->target_count = count;
    if (!group_resolve(client, group)) {
        group->list_at_ns = 0; /* Ask ListTopics for the names now. */
    }
    return 0;
}

static int
group_list_encode(struct sb_wire_writer *writer, const void *body)
{
    (void)body;
    struct sb_list_topics_request request = {.prefix = sb_wire_string_from_cstr("")};
    return sb_list_topics_request_encode(writer, &request);
}

/* A ListTopics answer: names for the target's unknown topic ids. */
static void
group_list_done(struct sb_client *client, struct client_request *request, int error,
                const uint8_t *body, size_t body_bytes)
{
    struct sb_consumer *consumer = group_call_end(request);
    if (consumer == NULL) {
        return;
    }
    struct consumer_group *group = &consumer->group;
    group->list_inflight = false;
    struct sb_list_topics_response response;
    if (error == 0 && sb_list_topics_response_decode(body, body_bytes, &response) != 0) {
        error = SB_ERR_CORRUPT;
    }
    struct sb_list_topics_entry entry;
    char name[SB_WIRE_TOPIC_NAME_BYTES_MAX + 1];
    while (error == 0 && sb_list_topics_response_next_topic(&response, &entry) == 1) {
        for (uint32_t index = 0; index < group->target_count; index++) {
            struct group_target *target = &group->target[index];
            if (target->topic != NULL || target->topic_id != entry.topic_id ||
                entry.name.length > SB_WIRE_TOPIC_NAME_BYTES_MAX) {
                continue;
            }
            memcpy(name, entry.name.chars, entry.name.length);
            name[entry.name.length] = '\0';
            target->topic = metadata_name_valid(name) ? metadata_topic(client, name) : NULL;
        }
    }
    if (!group_resolve(client, group)) {
        const struct sb_client_config *config = &client->config;
        group->list_at_ns = client_now_ns() + client_backoff_ns(client, 3,
                                                                config->retry_backoff_ms,
                                                                config->retry_backoff_max_ms);
        client_schedule(client, group->list_at_ns);
    }
    group->reconcile_wanted = true;
    pthread_cond_broadcast(&client->cond);
}

/* Mutex held: asks ListTopics for names of target topic ids the cache does not know. */
static void
group_list_run(struct sb_client *client, struct sb_consumer *consumer, uint64_t now_ns)
{
    struct consumer_group *group = &consumer->group;
    if (group->list_inflight || group_resolve(client, group)) {
        return;
    }
    if (now_ns < group->list_at_ns) {
        client_schedule(client, group->list_at_ns);
        return;
    }
    struct client_conn *conn = metadata_bootstrap_conn(client);
    struct group_call *call = NULL;
    if (conn == NULL || !conn_want(client, conn) || (call = calloc(1, sizeof(*call))) == NULL) {
        return;
    }
    call->request = (struct client_request){.owner = consumer, .done = group_list_done};
    if (conn_send(client, conn, SB_API_LIST_TOPICS, 0, group_list_encode, NULL, &call->request,
                  client->config.request_timeout_ms) != 0) {
        free(call);
        return;
    }
    group->list_inflight = true;
}

/* One held partition, for building a heartbeat's owned sets. */
struct group_owned {
    uint32_t topic_id; /* Its topic's id as assigned. */
    int32_t partition; /* Partition number. */
};

static int
group_owned_compare(const void *a, const void *b)
{
    const struct group_owned *left = a;
    const struct group_owned *right = b;
    if (left->topic_id != right->topic_id) {
        return left->topic_id < right->topic_id ? -1 : 1;
    }
    return (left->partition > right->partition) - (left->partition < right->partition);
}

/* What a heartbeat is built from: the request and its scratch arrays. */
struct group_beat_body {
    struct sb_group_heartbeat_request request;    /* The body to encode. */
    struct sb_wire_string names[GROUP_SUBSCRIBED_TOPICS_MAX]; /* Subscribed names. */
    struct group_owned *owned;                    /* Held partitions, by topic id. */
    int32_t *numbers;                             /* Their partition numbers. */
    struct sb_group_tpset *sets;                  /* One per topic. */
};

/* Mutex held: fills body->owned/numbers/sets with the held partitions; -ENOMEM. */
static int
group_beat_owned(struct sb_consumer *consumer, struct group_beat_body *body)
{
    uint32_t count = 0;
    for (struct consumer_partition *held = consumer->partitions; held != NULL;
         held = held->next) {
        count++;
    }
    body->owned = calloc(count + 1, sizeof(*body->owned));
    body->numbers = calloc(count + 1, sizeof(*body->numbers));
    body->sets = calloc(count + 1, sizeof(*body->sets));
    if (body->owned == NULL || body->numbers == NULL || body->sets == NULL) {
        return -ENOMEM;
    }
    uint32_t at = 0;
    for (struct consumer_partition *held = consumer->partitions; held != NULL;
         held = held->next) {
        body->owned[at++] = (struct group_owned){held->group_topic_id, held->partition};
    }
    qsort(body->owned, count, sizeof(*body->owned), group_owned_compare);
    uint32_t set_count = 0;
    for (uint32_t index = 0; index < count; index++) {
        if (index == 0 || body->owned[index].topic_id != body->owned[index - 1].topic_id) {
            body->sets[set_count++] = (struct sb_group_tpset){
                .topic_id = body->owned[index].topic_id, .partitions = &body->numbers[index]};
        }
        body->sets[set_count - 1].partition_count++;
        body->numbers[index] = body->owned[index].partition;
    }
    body->request.owned = body->sets;
    body->request.owned_count = set_count;
    return 0;
}

/* Mutex held: the heartbeat to send now (join, beat or leave); -ENOMEM. */
static int
group_beat_build(struct sb_client *client, struct sb_consumer *consumer,
                 struct group_beat_body *body)
{
    struct consumer_group *group = &consumer->group;
    const struct sb_client_config *config = &client->config;
    int32_t epoch = group->leave_epoch != 0 ? group->leave_epoch : group->epoch;
    bool full = epoch == SB_GROUP_EPOCH_JOIN || group->subscription_changed;
    body->request = (struct sb_group_heartbeat_request){
        .group_id = sb_wire_string_from_cstr(config->group_id),
        .member_id = sb_wire_string_from_cstr(group->member_id),
        .member_epoch = epoch,
        .instance_id = sb_wire_string_from_cstr(config->group_instance_id[0] != '\0'
                                                     ? config->group_instance_id
                                                     : NULL),
        .rebalance_timeout_ms = -1,
        .topic_names_unchanged = !full,
        .topic_names = body->names,
        .topic_regex = sb_wire_string_from_cstr(full ? (group->regex != NULL ? group->regex : "")
                                                     : NULL),
        .server_assignor = sb_wire_string_from_cstr(
            full && config->group_remote_assignor[0] != '\0' ? config->group_remote_assignor
                                                              : NULL)};
    for (uint32_t index = 0; full && index < group->topic_count; index++) {
        body->names[index] = sb_wire_string_from_cstr(group->topic_names[index]);
    }
    body->request.topic_name_count = full ? group->topic_count : 0;
    return group_beat_owned(consumer, body);
}

static int
group_beat_encode(struct sb_wire_writer *writer, const void *body)
{
    return sb_group_heartbeat_request_encode(writer, body);
}

/* Mutex held: the heartbeat failed retriably: try again after a backoff. */
static void
group_beat_retry(struct sb_client *client, struct consumer_group *group, int error)
{
    group->heartbeat_failures++;
    group->heartbeat_now = false; /* The next heartbeat carries the news anyway. */
    group->subscription_changed = group->subscription_changed || group->subscription_inflight;
    group->subscription_inflight = false;
    group_note_trouble(client, error);
    group->heartbeat_at_ns = client_now_ns() +
                             client_backoff_ns(client, group->heartbeat_failures,
                                               client->config.retry_backoff_ms,
                                               client->config.retry_backoff_max_ms);
    client_schedule(client, group->heartbeat_at_ns);
    if (group->heartbeat_failures == 1 || group->heartbeat_failures % 16 == 0) {
        client_log(client, SB_CLIENT_LOG_WARN, "group %s: heartbeat failed: %s",
                   client->config.group_id, sb_client_strerror(error));
    }
}

/* Mutex held: the coordinator no longer knows the member (or fenced it): every partition is
 * lost; with none held it rejoins at once, else after poll dropped them. */
static void
group_lose(struct sb_client *client, struct sb_consumer *consumer, int error)
{
    struct consumer_group *group = &consumer->group;
    client_log(client, SB_CLIENT_LOG_WARN, "group %s: member %s lost its partitions: %s",
               client->config.group_id, group->member_id, sb_client_strerror(error));
    group->epoch = SB_GROUP_EPOCH_JOIN;
    group->target_count = 0;
    group->lost = consumer->partitions != NULL;
    group->heartbeat_now = true;
    group_pause_revoked(client, consumer);
}

/* Mutex held: applies a decoded heartbeat answer that is not a leave's. */
static void
group_beat_apply(struct sb_client *client, struct sb_consumer *consumer,
                 struct sb_group_heartbeat_response *response)
{
    struct consumer_group *group = &consumer->group;
    int error = client_error_from_wire(response->error_code);
    int wire = response->error_code;
    if (wire == SB_WIRE_ERROR_UNKNOWN_MEMBER_ID || wire == SB_WIRE_ERROR_FENCED_MEMBER_EPOCH) {
        group_lose(client, consumer, error);
        return;
    }
    if (error != 0 && sb_client_error_is_retriable(error)) {
        group_beat_retry(client, group, error);
        return;
    }
    if (error != 0) {
        client_log(client, SB_CLIENT_LOG_ERROR, "group %s: membership ended: %s%s%.*s",
                   client->config.group_id, sb_client_strerror(error),
                   response->error_message.chars != NULL ? ": " : "",
                   (int)response->error_message.length,
                   response->error_message.chars != NULL ? response->error_message.chars : "");
        group->fatal_error = error;
        group->fatal_reported = false;
        group->epoch = -1;
        group->target_count = 0;
        group_pause_revoked(client, consumer);
        return;
    }
    if (!response->assignment_unchanged &&
        group_target_set(client, group, response) != 0) {
        group_beat_retry(client, group, SB_ERR_CORRUPT);
        return;
    }
    group->heartbeat_failures = 0;
    group->subscription_inflight = false;
    group->epoch = response->member_epoch;
    group->interval_ms = response->heartbeat_interval_ms > 0 ? response->heartbeat_interval_ms
                                                             : 1;
    group->heartbeat_at_ns = client_now_ns() + (uint64_t)group->interval_ms * 1000000ull;
    if (!response->assignment_unchanged) {
        group_pause_revoked(client, consumer);
    }
}

static void
group_beat_done(struct sb_client *client, struct client_request *request, int error,
                const uint8_t *body, size_t body_bytes)
{
    struct sb_consumer *consumer = group_call_end(request);
    if (consumer == NULL) {
        return;
    }
    struct consumer_group *group = &consumer->group;
    group->heartbeat_inflight = false;
    if (group->leave_sent) {
        group->leave_sent = false;
        group->leave_epoch = 0;
        group->epoch = -1;
        pthread_cond_broadcast(&client->cond);
        return;
    }
    struct sb_group_heartbeat_response response;
    if (error == 0 && sb_group_heartbeat_response_decode(body, body_bytes, &response) != 0) {
        error = SB_ERR_CORRUPT;
    }
    if (error != 0) {
        group_beat_retry(client, group, error);
        return;
    }
    group_beat_apply(client, consumer, &response);
}

/* Mutex held: sends the heartbeat when due. */
static void
group_beat_run(struct sb_client *client, struct sb_consumer *consumer, uint64_t now_ns)
{
    struct consumer_group *group = &consumer->group;
    bool leaving = group->leave_epoch != 0;
    if (group->heartbeat_inflight ||
        (!leaving && (group->fatal_error != 0 || group->lost || !group->subscribed))) {
        return;
    }
    if (!group->heartbeat_now && !leaving && now_ns < group->heartbeat_at_ns) {
        client_schedule(client, group->heartbeat_at_ns);
        return;
    }
    struct client_conn *conn = group_conn(client);
    if (leaving && (conn == NULL || conn->state == CONN_BACKOFF)) {
        group->leave_epoch = 0; /* The coordinator is unreachable: its session timeout ends */
        group->epoch = -1;      /* the membership instead. */
        pthread_cond_broadcast(&client->cond);
        return;
    }
    if (conn == NULL || !conn_want(client, conn)) {
        return;
    }
    struct group_beat_body body = {0};
    struct group_call *call = calloc(1, sizeof(*call));
    int result = call == NULL ? -ENOMEM : group_beat_build(client, consumer, &body);
    if (result == 0) {
        call->request = (struct client_request){.owner = consumer, .done = group_beat_done};
        result = conn_send(client, conn, SB_API_GROUP_HEARTBEAT, 0, group_beat_encode,
                           &body.request, &call->request, client->config.request_timeout_ms);
    }
    free(body.owned);
    free(body.numbers);
    free(body.sets);
    if (result != 0 && leaving) {
        free(call);
        group->leave_epoch = 0; /* Leaving is best effort: the session timeout ends it. */
        group->epoch = -1;
        pthread_cond_broadcast(&client->cond);
        return;
    }
    if (result != 0) {
        free(call);
        group_beat_retry(client, group, result);
        return;
    }
    group->heartbeat_inflight = true;
    group->heartbeat_now = false;
    group->subscription_inflight = !body.request.topic_names_unchanged;
    group->subscription_changed = false;
    group->leave_sent = leaving;
}

struct group_op *
group_op_new(struct sb_consumer *consumer, enum group_op_kind kind, size_t count)
{
    struct group_op *op = calloc(1, sizeof(*op));
    if (op == NULL) {
        return NULL;
    }
    op->offsets = calloc(count + 1, sizeof(*op->offsets));
    if (op->offsets == NULL) {
        free(op);
        return NULL;
    }
    op->consumer = consumer;
    op->kind = kind;
    op->count = count;
    op->deadline_ns = client_now_ns() +
                      (uint64_t)consumer->client->config.request_timeout_ms * 1000000ull;
    return op;
}

static int
group_offset_compare(const void *a, const void *b)
{
    const struct sb_consumer_partition *left = a;
    const struct sb_consumer_partition *right = b;
    int order = strcmp(left->topic, right->topic);
    if (order != 0) {
        return order;
    }
    return (left->partition > right->partition) - (left->partition < right->partition);
}

int
group_op_sort(struct group_op *op)
{
    qsort(op->offsets, op->count, sizeof(*op->offsets), group_offset_compare);
    for (size_t index = 1; index < op->count; index++) {
        if (group_offset_compare(&op->offsets[index - 1], &op->offsets[index]) == 0) {
            client_detail_set("partition %s-%d appears twice", op->offsets[index].topic,
                              op->offsets[index].partition);
            return -EINVAL;
        }
    }
    return 0;
}

int
group_op_positions(struct sb_consumer *consumer, bool changed_only, struct group_op **op_out)
{
    size_t count = 0;
    *op_out = NULL;
    for (struct consumer_partition *held = consumer->partitions; held != NULL;
         held = held->next) {
        count += held->state == POSITION_VALID &&
                 (!changed_only || held->position != held->committed);
    }
    if (count == 0) {
        return 0;
    }
    struct group_op *op = group_op_new(consumer, GROUP_OP_COMMIT, count);
    if (op == NULL) {
        return -ENOMEM;
    }
    size_t at = 0;
    for (struct consumer_partition *held = consumer->partitions; held != NULL;
         held = held->next) {
        if (held->state == POSITION_VALID &&
            (!changed_only || held->position != held->committed)) {
            op->offsets[at++] = (struct sb_consumer_partition){
                .topic = held->topic->name, .partition = held->partition,
                .offset = held->position};
        }
    }
    int result = group_op_sort(op);
    CLIENT_ASSERT(result == 0);
    *op_out = op;
    return result;
}

/* Mutex held: queues an automatic commit of the positions that moved, when due. */
static void
group_auto_commit(struct sb_client *client, struct sb_consumer *consumer, uint64_t now_ns)
{
    struct consumer_group *group = &consumer->group;
    if (!client->config.enable_auto_commit || !group->subscribed || group->epoch <= 0 ||
        group->auto_commit_inflight || group->lost) {
        return;
    }
    if (now_ns < group->auto_commit_at_ns) {
        client_schedule(client, group->auto_commit_at_ns);
        return;
    }
    group->auto_commit_at_ns = now_ns +
                               (uint64_t)client->config.auto_commit_interval_ms * 1000000ull;
    client_schedule(client, group->auto_commit_at_ns);
    struct group_op *op = NULL;
    if (group_op_positions(consumer, true, &op) != 0 || op == NULL) {
        return;
    }
    op->automatic = true;
    group->auto_commit_inflight = true;
    group_op_queue(client, op);
}

void
group_run(struct sb_client *client, struct sb_consumer *consumer, uint64_t now_ns)
{
    if (client->config.group_id[0] == '\0') {
        return;
    }
    group_ops_run(client, consumer, now_ns);
    if (consumer->group.subscribed && consumer->group.fatal_error == 0) {
        group_list_run(client, consumer, now_ns);
        group_auto_commit(client, consumer, now_ns);
    }
    group_beat_run(client, consumer, now_ns);
}
