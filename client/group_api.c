/*
 * client/group_api.c - the API side of consumer groups (sb_consumer_subscribe,
 * _commit_*, _committed, _assignment, ...) and the rebalance work poll does
 * on the caller's thread (group_poll_work).
 *
 * Reconciliation (docs/client.md "Consumer groups"): the I/O thread (group.c)
 * stores the coordinator's target assignment and pauses partitions it no
 * longer lists. poll then, in this order: drops every partition without a
 * commit when the membership was lost (LOST callback); revokes held partitions
 * the target does not list (commit of their positions with enable.auto.commit,
 * REVOKED callback while they are still held, then removal); and adds the
 * target's new partitions at their committed offsets (OffsetFetch), or per
 * auto.offset.reset without one (ASSIGNED callback). Each change asks for a
 * heartbeat at once, which tells the coordinator what is held now.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "client/client_private.h"
#include "proto/api_fetch.h"
#include "proto/api_group.h"

void
group_init(struct sb_client *client, struct sb_consumer *consumer)
{
    uint8_t bytes[(GROUP_MEMBER_ID_BYTES - 1) / 2];
    if (getrandom(bytes, sizeof(bytes), 0) != (ssize_t)sizeof(bytes)) {
        pthread_mutex_lock(&client->mutex);
        uint64_t mix = client_now_ns() ^ client_backoff_ns(client, 1, 1000, 1000);
        pthread_mutex_unlock(&client->mutex);
        for (size_t index = 0; index < sizeof(bytes); index++) {
            bytes[index] = (uint8_t)(mix >> (8 * (index % 8))) ^ (uint8_t)index;
        }
    }
    for (size_t index = 0; index < sizeof(bytes); index++) {
        snprintf(&consumer->group.member_id[2 * index], 3, "%02x", bytes[index]);
    }
    consumer->group.epoch = -1;
}

int
sb_consumer_set_rebalance_callback(struct sb_consumer *consumer,
                                   sb_consumer_rebalance_fn on_rebalance, void *opaque)
{
    client_detail_clear();
    if (consumer == NULL) {
        return -EINVAL;
    }
    pthread_mutex_lock(&consumer->client->mutex);
    consumer->group.on_rebalance = on_rebalance;
    consumer->group.rebalance_opaque = opaque;
    pthread_mutex_unlock(&consumer->client->mutex);
    return 0;
}

/* Frees the subscription's names and regex. */
static void
group_subscription_free(struct consumer_group *group)
{
    for (uint32_t index = 0; index < group->topic_count; index++) {
        free(group->topic_names[index]);
    }
    free(group->topic_names);
    free(group->regex);
    group->topic_names = NULL;
    group->topic_count = 0;
    group->regex = NULL;
}

/* Installs a subscription (names owned from now on, or regex): joins, or tells the
 * coordinator at once. Returns 0, -EBUSY (partitions assigned by hand) or -EDEADLK. */
static int
group_subscribe(struct sb_consumer *consumer, char **names, uint32_t count, char *regex)
{
    struct sb_client *client = consumer->client;
    struct consumer_group *group = &consumer->group;
    pthread_mutex_lock(&client->mutex);
    int result = 0;
    if (client_on_io_thread(client) || group->in_rebalance) {
        result = -EDEADLK;
    } else if (!group->subscribed && consumer->partitions != NULL) {
        result = -EBUSY;
    }
    if (result == 0) {
        group_subscription_free(group);
        group->topic_names = names;
        group->topic_count = count;
        group->regex = regex;
        group->subscribed = true;
        group->subscription_changed = true;
        group->heartbeat_now = true;
        group->fatal_error = 0;
        group->fatal_reported = false;
        if (group->epoch < 0) { /* A new join: nothing of an earlier membership counts. */
            group->epoch = SB_GROUP_EPOCH_JOIN;
            group->target_count = 0;
            group->reconcile_wanted = false;
        }
        group->auto_commit_at_ns = client_now_ns() +
                                   (uint64_t)client->config.auto_commit_interval_ms * 1000000ull;
        client_wake(client);
    }
    pthread_mutex_unlock(&client->mutex);
    if (result != 0) {
        for (uint32_t index = 0; index < count; index++) {
            free(names[index]);
        }
        free(names);
        free(regex);
    }
    return result;
}

int
sb_consumer_subscribe(struct sb_consumer *consumer, const char *const *topics, size_t count)
{
    client_detail_clear();
    if (consumer == NULL || topics == NULL || count == 0 || count > GROUP_SUBSCRIBED_TOPICS_MAX) {
        return -EINVAL;
    }
    for (size_t index = 0; index < count; index++) {
        if (topics[index] == NULL) {
            return -EINVAL;
        }
        if (!metadata_name_valid(topics[index])) {
            client_detail_set("%s", topics[index]);
            return SB_ERR_INVALID_TOPIC;
        }
    }
    if (consumer->client->config.group_id[0] == '\0') {
        return SB_ERR_NO_GROUP;
    }
    char **names = calloc(count, sizeof(*names));
    size_t copied = 0;
    while (names != NULL && copied < count && (names[copied] = strdup(topics[copied])) != NULL) {
        copied++;
    }
    if (copied < count) {
        for (size_t index = 0; names != NULL && index < copied; index++) {
            free(names[index]);
        }
        free(names);
        return -ENOMEM;
    }
    return group_subscribe(consumer, names, (uint32_t)count, NULL);
}

int
sb_consumer_subscribe_pattern(struct sb_consumer *consumer, const char *regex)
{
    client_detail_clear();
    if (consumer == NULL || regex == NULL || regex[0] == '\0' ||
        strlen(regex) > GROUP_REGEX_BYTES_MAX) {
        return -EINVAL;
    }
    if (consumer->client->config.group_id[0] == '\0') {
        return SB_ERR_NO_GROUP;
    }
    char *copy = strdup(regex);
    if (copy == NULL) {
        return -ENOMEM;
    }
    return group_subscribe(consumer, NULL, 0, copy);
}

/* Mutex held: takes op (not in flight) out of its consumer's queue. */
static void
group_op_unqueue(struct consumer_group *group, struct group_op *op)
{
    struct group_op *previous = NULL;
    for (struct group_op *at = group->ops_head; at != NULL; previous = at, at = at->next) {
        if (at == op) {
            *(previous != NULL ? &previous->next : &group->ops_head) = op->next;
            group->ops_tail = group->ops_tail == op ? previous : group->ops_tail;
            group->ops_pending--;
            return;
        }
    }
}

/* Queues op and waits for it until deadline_ns. Returns its error; *owned_out says whether
 * the caller still owns (and frees) op, false when it was given up in flight. */
static int
group_op_execute(struct sb_consumer *consumer, struct group_op *op, uint64_t deadline_ns,
                 bool *owned_out)
{
    struct sb_client *client = consumer->client;
    op->sync = true;
    op->deadline_ns = deadline_ns;
    pthread_mutex_lock(&client->mutex);
    group_op_queue(client, op);
    uint64_t failures = client->bootstrap_failures;
    /* Bounded by the deadline. */
    while (!op->done && client_wait(client, deadline_ns) == 0) {
    }
    int result = op->done ? op->error : client_wait_error(client, failures);
    *owned_out = op->done || !op->inflight;
    if (!op->done && op->inflight) {
        op->abandoned = true; /* group_op_finish frees it; nobody waits for it any more. */
        consumer->group.ops_pending--;
    } else if (!op->done) {
        group_op_unqueue(&consumer->group, op);
    }
    pthread_mutex_unlock(&client->mutex);
    return result;
}

/* Builds an op of kind from the caller's offsets (names checked and interned, metadata
 * copied, sorted). Returns 0 with *op_out, or -EINVAL, SB_ERR_INVALID_TOPIC, -ENOMEM. */
static int
group_op_from(struct sb_consumer *consumer, enum group_op_kind kind,
              const struct sb_consumer_partition *offsets, size_t count,
              struct group_op **op_out)
{
    for (size_t index = 0; index < count; index++) {
        const struct sb_consumer_partition *entry = &offsets[index];
        if (entry->topic == NULL || entry->partition < 0 ||
            (kind == GROUP_OP_COMMIT && entry->offset < 0)) {
            return -EINVAL;
        }
        if (!metadata_name_valid(entry->topic)) {
            client_detail_set("%s", entry->topic);
            return SB_ERR_INVALID_TOPIC;
        }
    }
    struct group_op *op = group_op_new(consumer, kind, count);
    if (op == NULL) {
        return -ENOMEM;
    }
    struct sb_client *client = consumer->client;
    int result = 0;
    pthread_mutex_lock(&client->mutex);
    for (size_t index = 0; index < count && result == 0; index++) {
        struct client_topic *topic = metadata_topic(client, offsets[index].topic);
        const char *metadata = offsets[index].metadata;
        op->offsets[index] = (struct sb_consumer_partition){
            .topic = topic != NULL ? topic->name : NULL, .partition = offsets[index].partition,
            .offset = offsets[index].offset,
            .metadata = metadata != NULL ? strdup(metadata) : NULL};
        result = topic == NULL || (metadata != NULL && op->offsets[index].metadata == NULL)
                     ? -ENOMEM
                     : 0;
    }
    pthread_mutex_unlock(&client->mutex);
    result = result == 0 ? group_op_sort(op) : result;
    if (result != 0) {
        group_op_free(op);
        return result;
    }
    *op_out = op;
    return 0;
}

/* Checks a commit call and builds its op (*op_out NULL: nothing to commit). */
static int
group_commit_prepare(struct sb_consumer *consumer, const struct sb_consumer_partition *offsets,
                     size_t count, struct group_op **op_out)
{
    *op_out = NULL;
    if (consumer == NULL || (offsets == NULL && count > 0) ||
        count > GROUP_COMMIT_PARTITIONS_MAX) {
        return -EINVAL;
    }
    if (consumer->client->config.group_id[0] == '\0') {
        return SB_ERR_NO_GROUP;
    }
    if (offsets != NULL) {
        return count == 0 ? 0 : group_op_from(consumer, GROUP_OP_COMMIT, offsets, count, op_out);
    }
    pthread_mutex_lock(&consumer->client->mutex);
    int result = group_op_positions(consumer, false, op_out);
    pthread_mutex_unlock(&consumer->client->mutex);
    return result;
}

/* The deadline of a call's timeout_ms (< 0: request.timeout.ms). */
static uint64_t
group_deadline_ns(const struct sb_consumer *consumer, int timeout_ms)
{
    return client_deadline_ns(timeout_ms < 0 ? (int)consumer->client->config.request_timeout_ms
                                             : timeout_ms);
}

int
sb_consumer_commit_sync(struct sb_consumer *consumer, const struct sb_consumer_partition *offsets,
                        size_t count, int timeout_ms)
{
    client_detail_clear();
    if (consumer != NULL && client_on_io_thread(consumer->client)) {
        return -EDEADLK;
    }
    struct group_op *op = NULL;
    int result = group_commit_prepare(consumer, offsets, count, &op);
    if (result != 0 || op == NULL) {
        return result;
    }
    bool owned = false;
    result = group_op_execute(consumer, op, group_deadline_ns(consumer, timeout_ms), &owned);
    if (owned) {
        group_op_free(op);
    }
    return result;
}

int
sb_consumer_commit_async(struct sb_consumer *consumer,
                         const struct sb_consumer_partition *offsets, size_t count,
                         sb_consumer_commit_fn on_commit, void *opaque)
{
    client_detail_clear();
    struct group_op *op = NULL;
    int result = group_commit_prepare(consumer, offsets, count, &op);
    if (result != 0) {
        return result;
    }
    if (op == NULL) {
        op = group_op_new(consumer, GROUP_OP_COMMIT, 0); /* Nothing: reported as done. */
        if (op == NULL) {
            return -ENOMEM;
        }
    }
    op->on_commit = on_commit;
    op->opaque = opaque;
    pthread_mutex_lock(&consumer->client->mutex);
    group_op_queue(consumer->client, op);
    pthread_mutex_unlock(&consumer->client->mutex);
    return 0;
}

int
sb_consumer_committed(struct sb_consumer *consumer, const char *topic, int32_t partition,
                      int timeout_ms, int64_t *offset_out)
{
    client_detail_clear();
    if (consumer == NULL || topic == NULL || partition < 0 || offset_out == NULL) {
        return -EINVAL;
    }
    if (consumer->client->config.group_id[0] == '\0') {
        return SB_ERR_NO_GROUP;
    }
    if (client_on_io_thread(consumer->client)) {
        return -EDEADLK;
    }
    struct sb_consumer_partition asked = {.topic = topic, .partition = partition};
    struct group_op *op = NULL;
    int result = group_op_from(consumer, GROUP_OP_FETCH, &asked, 1, &op);
    if (result != 0) {
        return result;
    }
    bool owned = false;
    result = group_op_execute(consumer, op, group_deadline_ns(consumer, timeout_ms), &owned);
    if (result == 0) {
        *offset_out = op->offsets[0].offset;
    }
    if (owned) {
        group_op_free(op);
    }
    return result;
}

int
sb_consumer_assignment(struct sb_consumer *consumer, struct sb_consumer_partition *partitions_out,
                       size_t capacity)
{
    client_detail_clear();
    if (consumer == NULL || (partitions_out == NULL && capacity > 0)) {
        return -EINVAL;
    }
    pthread_mutex_lock(&consumer->client->mutex);
    int count = 0;
    for (struct consumer_partition *held = consumer->partitions; held != NULL;
         held = held->next) {
        if ((size_t)count < capacity) {
            partitions_out[count] = (struct sb_consumer_partition){
                .topic = held->topic->name, .partition = held->partition,
                .offset = held->state == POSITION_VALID ? held->position : -1};
        }
        count++;
    }
    pthread_mutex_unlock(&consumer->client->mutex);
    return count;
}

const char *
sb_consumer_member_id(struct sb_consumer *consumer, int32_t *epoch_out)
{
    if (consumer == NULL) {
        return NULL;
    }
    if (epoch_out != NULL) {
        pthread_mutex_lock(&consumer->client->mutex);
        *epoch_out = consumer->group.epoch;
        pthread_mutex_unlock(&consumer->client->mutex);
    }
    return consumer->group.member_id;
}

/* Runs the rebalance callback (mutex not held) with list. */
static void
group_callback(struct sb_consumer *consumer, int event, struct sb_consumer_partition *list,
               size_t count)
{
    struct consumer_group *group = &consumer->group;
    if (group->on_rebalance != NULL && count > 0) {
        group->in_rebalance = true;
        group->on_rebalance(consumer, event, list, count, group->rebalance_opaque);
        group->in_rebalance = false;
    }
}

/* Mutex held: true when held is in the target assignment. */
static bool
group_targeted(const struct consumer_group *group, const struct consumer_partition *held)
{
    for (uint32_t index = 0; index < group->target_count; index++) {
        if (group->target[index].topic_id == held->group_topic_id &&
            group->target[index].partition == held->partition) {
            return true;
        }
    }
    return false;
}

/* Mutex held: the held partitions to give up (all, or those the target does not list) as a
 * list with their positions; *count_out entries (0: NULL). -ENOMEM. */
static int
group_revocable(struct sb_consumer *consumer, bool all, struct sb_consumer_partition **list_out,
                size_t *count_out)
{
    size_t count = 0;
    *list_out = NULL;
    for (struct consumer_partition *held = consumer->partitions; held != NULL;
         held = held->next) {
        count += all || !group_targeted(&consumer->group, held);
    }
    *count_out = count;
    if (count == 0) {
        return 0;
    }
    struct sb_consumer_partition *list = calloc(count, sizeof(*list));
    if (list == NULL) {
        *count_out = 0;
        return -ENOMEM;
    }
    size_t at = 0;
    for (struct consumer_partition *held = consumer->partitions; held != NULL;
         held = held->next) {
        if (all || !group_targeted(&consumer->group, held)) {
            list[at++] = (struct sb_consumer_partition){
                .topic = held->topic->name, .partition = held->partition,
                .offset = held->state == POSITION_VALID ? held->position : -1};
        }
    }
    *list_out = list;
    return 0;
}

/* Mutex held: removes the listed partitions and tells the coordinator soon. */
static void
group_remove(struct sb_consumer *consumer, const struct sb_consumer_partition *list,
             size_t count)
{
    for (size_t index = 0; index < count; index++) {
        struct consumer_partition *held =
            consumer_find(consumer, list[index].topic, list[index].partition);
        if (held != NULL) {
            consumer_partition_remove(consumer, held);
        }
    }
    consumer->group.heartbeat_now = true;
    client_wake(consumer->client);
}

/* Gives up the listed partitions (mutex not held) and frees list: for a revoke under
 * enable.auto.commit their positions are committed first; the callback runs while they are
 * still held; then they are removed. */
static void
group_give_up(struct sb_consumer *consumer, int event, struct sb_consumer_partition *list,
              size_t count)
{
    struct sb_client *client = consumer->client;
    struct sb_consumer_partition *valid = NULL;
    if (event == SB_CONSUMER_REVOKED && client->config.enable_auto_commit && count > 0 &&
        (valid = calloc(count, sizeof(*valid))) != NULL) {
        size_t valid_count = 0;
        for (size_t index = 0; index < count; index++) {
            if (list[index].offset >= 0) {
                valid[valid_count++] = list[index];
            }
        }
        int result = valid_count > 0 ? sb_consumer_commit_sync(consumer, valid, valid_count, -1)
                                     : 0;
        if (result != 0) {
            client_log(client, SB_CLIENT_LOG_WARN, "group %s: commit on revoke failed: %s",
                       client->config.group_id, sb_client_strerror(result));
        }
        free(valid);
    }
    group_callback(consumer, event, list, count);
    pthread_mutex_lock(&client->mutex);
    group_remove(consumer, list, count);
    pthread_mutex_unlock(&client->mutex);
    free(list);
}

/* Mutex held: an OffsetFetch of the target's partitions not held yet (*op_out NULL: none;
 * topics not yet resolved wait). 0 or -ENOMEM. */
static int
group_assignable(struct sb_consumer *consumer, struct group_op **op_out)
{
    const struct consumer_group *group = &consumer->group;
    size_t count = 0;
    *op_out = NULL;
    for (uint32_t index = 0; index < group->target_count; index++) {
        const struct group_target *entry = &group->target[index];
        count += entry->topic != NULL &&
                 consumer_find(consumer, entry->topic->name, entry->partition) == NULL;
    }
    struct group_op *op = count > 0 ? group_op_new(consumer, GROUP_OP_FETCH, count) : NULL;
    if (count > 0 && op == NULL) {
        return -ENOMEM;
    }
    size_t at = 0;
    for (uint32_t index = 0; op != NULL && index < group->target_count; index++) {
        const struct group_target *entry = &group->target[index];
        if (entry->topic != NULL &&
            consumer_find(consumer, entry->topic->name, entry->partition) == NULL) {
            op->offsets[at++] = (struct sb_consumer_partition){
                .topic = entry->topic->name, .partition = entry->partition,
                .offset = (int64_t)entry->topic_id}; /* Carried to group_add. */
        }
    }
    if (op != NULL) {
        group_op_sort(op); /* Target entries are distinct: never -EINVAL. */
    }
    *op_out = op;
    return 0;
}

/* Mutex held: adds the fetched partitions still targeted and not held, at their committed
 * offsets or per auto.offset.reset; fills list (op->count entries) for the ASSIGNED
 * callback and returns how many it holds. */
static size_t
group_add(struct sb_consumer *consumer, const struct group_op *op, const uint32_t *topic_ids,
          struct sb_consumer_partition *list)
{
    struct sb_client *client = consumer->client;
    size_t count = 0;
    for (size_t index = 0; index < op->count; index++) {
        const struct sb_consumer_partition *entry = &op->offsets[index];
        struct consumer_partition probe = {.partition = entry->partition,
                                           .group_topic_id = topic_ids[index]};
        if (!group_targeted(&consumer->group, &probe) ||
            consumer_find(consumer, entry->topic, entry->partition) != NULL) {
            continue; /* The target moved on meanwhile. */
        }
        int reset = client->config.auto_offset_reset;
        int64_t resolve = reset == CLIENT_RESET_EARLIEST ? SB_LIST_OFFSETS_EARLIEST
                                                         : SB_LIST_OFFSETS_LATEST;
        struct consumer_partition *held =
            consumer_partition_add(consumer, metadata_topic(client, entry->topic),
                                   entry->partition, entry->offset, resolve);
        if (held == NULL) {
            continue; /* Out of memory: the partition is not held, the next poll retries. */
        }
        held->group_topic_id = topic_ids[index];
        held->committed = entry->offset;
        if (entry->offset < 0 && reset == CLIENT_RESET_ERROR) {
            held->state = POSITION_FAILED;
            held->error = SB_ERR_NO_OFFSET;
            held->position = -1;
        }
        list[count++] = (struct sb_consumer_partition){
            .topic = held->topic->name, .partition = held->partition, .offset = entry->offset};
    }
    consumer->group.heartbeat_now = true;
    consumer->group.reconcile_wanted = true; /* What was skipped gets another look. */
    client_wake(client);
    return count;
}

/* Adds the target's new partitions (mutex not held), then the ASSIGNED callback. */
static void
group_assign(struct sb_consumer *consumer)
{
    struct sb_client *client = consumer->client;
    struct group_op *op = NULL;
    pthread_mutex_lock(&client->mutex);
    int result = group_assignable(consumer, &op);
    pthread_mutex_unlock(&client->mutex);
    uint32_t *topic_ids = op != NULL ? calloc(op->count, sizeof(*topic_ids)) : NULL;
    struct sb_consumer_partition *list = op != NULL ? calloc(op->count, sizeof(*list)) : NULL;
    if (op == NULL || topic_ids == NULL || list == NULL) {
        result = result != 0 ? result : op != NULL ? -ENOMEM : 0;
    } else {
        for (size_t index = 0; index < op->count; index++) {
            topic_ids[index] = (uint32_t)op->offsets[index].offset;
        }
        bool owned = false;
        result = group_op_execute(consumer, op, group_deadline_ns(consumer, -1), &owned);
        op = owned ? op : NULL;
    }
    size_t count = 0;
    pthread_mutex_lock(&client->mutex);
    if (result == 0 && op != NULL) {
        count = group_add(consumer, op, topic_ids, list);
    } else if (result != 0) {
        consumer->group.reconcile_wanted = true;
        client_log(client, SB_CLIENT_LOG_WARN, "group %s: reading committed offsets failed: %s",
                   client->config.group_id, sb_client_strerror(result));
    }
    pthread_mutex_unlock(&client->mutex);
    group_callback(consumer, SB_CONSUMER_ASSIGNED, list, count);
    group_op_free(op);
    free(topic_ids);
    free(list);
}

int
group_poll_work(struct sb_consumer *consumer, const struct sb_consumer_record **record_out)
{
    struct consumer_group *group = &consumer->group;
    struct sb_client *client = consumer->client;
    if (client_on_io_thread(client)) { /* Its rebalance work would wait for itself. */
        pthread_mutex_lock(&client->mutex);
        bool subscribed = group->subscribed;
        pthread_mutex_unlock(&client->mutex);
        return subscribed ? -EDEADLK : 0;
    }
    if (group->in_rebalance) {
        return -EDEADLK;
    }
    if (!group->subscribed) {
        return 0;
    }
    pthread_mutex_lock(&client->mutex);
    int fatal = group->fatal_error != 0 && !group->fatal_reported ? group->fatal_error : 0;
    if (!group->reconcile_wanted && fatal == 0) {
        pthread_mutex_unlock(&client->mutex);
        return 0;
    }
    group->reconcile_wanted = false;
    group->fatal_reported = group->fatal_reported || fatal != 0;
    bool lost = group->lost || fatal != 0;
    struct sb_consumer_partition *list = NULL;
    size_t count = 0;
    int result = group_revocable(consumer, lost, &list, &count);
    group->reconcile_wanted = result != 0;
    pthread_mutex_unlock(&client->mutex);
    if (count > 0) {
        group_give_up(consumer, lost ? SB_CONSUMER_LOST : SB_CONSUMER_REVOKED, list, count);
    }
    if (fatal != 0) {
        *record_out = NULL;
        return fatal;
    }
    if (lost) {
        pthread_mutex_lock(&client->mutex);
        group->lost = false; /* Rejoins with epoch 0 and nothing held. */
        group->heartbeat_now = true;
        client_wake(client);
        pthread_mutex_unlock(&client->mutex);
        return 0;
    }
    group_assign(consumer);
    return 0;
}

/* Leaves the group (unsubscribe, close): commits and revokes (or loses) what is held, then
 * sends the leave heartbeat (epoch -1, or -2 for a static member that closes) and waits up
 * to request.timeout.ms for it. */
static int
group_leave(struct sb_consumer *consumer, bool closing)
{
    struct consumer_group *group = &consumer->group;
    struct sb_client *client = consumer->client;
    if (client_on_io_thread(client) || group->in_rebalance) {
        return -EDEADLK;
    }
    if (!group->subscribed) {
        return 0;
    }
    pthread_mutex_lock(&client->mutex);
    bool lost = group->lost || group->fatal_error != 0 || group->epoch <= 0;
    struct sb_consumer_partition *list = NULL;
    size_t count = 0;
    group_revocable(consumer, true, &list, &count);
    pthread_mutex_unlock(&client->mutex);
    if (count > 0) {
        group_give_up(consumer, lost ? SB_CONSUMER_LOST : SB_CONSUMER_REVOKED, list, count);
    }
    pthread_mutex_lock(&client->mutex);
    while (consumer->partitions != NULL) { /* Only if memory ran out above. */
        consumer_partition_remove(consumer, consumer->partitions);
    }
    group_subscription_free(group);
    group->subscribed = false;
    group->subscription_changed = false;
    group->target_count = 0;
    group->lost = false;
    group->reconcile_wanted = false;
    if (group->epoch >= 0 && group->fatal_error == 0) {
        bool is_static = closing && client->config.group_instance_id[0] != '\0';
        group->leave_epoch = is_static ? SB_GROUP_EPOCH_STATIC_LEAVE : SB_GROUP_EPOCH_LEAVE;
        client_wake(client);
        uint64_t deadline_ns = group_deadline_ns(consumer, -1);
        /* Bounded by the deadline. */
        while (group->leave_epoch != 0 && client_wait(client, deadline_ns) == 0) {
        }
    }
    group->leave_epoch = 0;
    group->epoch = -1;
    group->fatal_error = 0;
    pthread_mutex_unlock(&client->mutex);
    return 0;
}

int
sb_consumer_unsubscribe(struct sb_consumer *consumer)
{
    client_detail_clear();
    if (consumer == NULL) {
        return -EINVAL;
    }
    return group_leave(consumer, false);
}

/* Mutex held: true when a finished async commit of consumer still awaits its callback. */
static bool
group_done_waiting(const struct sb_client *client, const struct sb_consumer *consumer)
{
    for (const struct group_op *op = client->group_done_head; op != NULL; op = op->next) {
        if (op->consumer == consumer) {
            return true;
        }
    }
    return false;
}

void
group_close(struct sb_consumer *consumer)
{
    struct sb_client *client = consumer->client;
    struct consumer_group *group = &consumer->group;
    if (client->config.group_id[0] == '\0') {
        return;
    }
    group_leave(consumer, true);
    pthread_mutex_lock(&client->mutex);
    /* Async commits get request.timeout.ms to finish, then the unsent ones fail; each
     * callback runs before the consumer is freed. Bounded by the deadlines. */
    for (int round = 0; round < 2 && group->ops_pending > 0; round++) {
        uint64_t deadline_ns = group_deadline_ns(consumer, -1);
        while (group->ops_pending > 0 && client_wait(client, deadline_ns) == 0) {
        }
        group_ops_fail(client, consumer, SB_ERR_SHUTDOWN);
    }
    /* Finished ones only wait for the I/O thread to run their callback (which must not
     * block, so this ends). */
    while (client->io_thread_started && group_done_waiting(client, consumer)) {
        client_wait(client, client_deadline_ns(CLIENT_POLL_SLEEP_MS_MAX));
    }
    free(group->target);
    group->target = NULL;
    group->target_count = 0;
    pthread_mutex_unlock(&client->mutex);
}
