/*
 * client/fetch.c - the consumer's I/O side: ListOffsets to resolve seeks
 * (beginning, end, timestamp) and Fetch to read records, then the answers.
 *
 * Prefetch: each consumer connection (one per owning shard) keeps one Fetch
 * in flight, a long poll of fetch.wait.max.ms, for every assigned partition
 * it serves, and sends the next one as soon as an answer arrives, while the
 * consumer buffers less than fetch.buffer.bytes. So a tailing consumer finds
 * new records already buffered when it polls. Consumer connections carry
 * only fetches (and idle health checks), so a long poll never delays a
 * producer or a ListOffsets, which use the client's general connections.
 *
 * Topic identity: a topic deleted and created again keeps its name but gets
 * a new id, and its offsets start over. Each partition's position belongs to
 * one topic id (taken from the metadata when the first Fetch is sent), and
 * every Fetch names it (version 1), so the broker refuses to read another
 * topic of that name (UNKNOWN_TOPIC_ID; ids are never reused). Then, or when
 * metadata shows the topic gone or under a new id, the position starts over
 * per auto.offset.reset (fetch_topic_changed), never at the old offset.
 *
 * Staleness: each request remembers each partition's epoch; a seek or
 * unassign bumps it, and answers for an older epoch are dropped. Requests
 * and chunks hold a reference on their partitions, so an unassigned
 * partition lives until the last answer about it is gone.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client/client_private.h"
#include "core/limits.h"
#include "proto/api_fetch.h"

static bool fetch_shrink(struct sb_client *client, struct sb_consumer *consumer,
                         uint32_t partition_count);
static void fetch_grow(struct sb_consumer *consumer);

/* One partition in a Fetch or ListOffsets request. */
struct fetch_entry {
    struct consumer_partition *partition; /* Referenced until the answer. */
    uint32_t epoch;                       /* Its epoch when sent. */
    bool answered;                        /* The response named it. */
    uint32_t turn;                        /* Its place in the consumer's rotation when sent
                                             (fetch_rotation counts the same way). */
};

/* A Fetch or ListOffsets request in flight. */
struct fetch_context {
    struct client_request request; /* First member: done handlers cast back. */
    struct client_conn *conn;      /* Where it was sent. */
    uint32_t entry_count;          /* Entries. */
    uint32_t topic_count;          /* Topic elements they make (fetch_same_topic runs). */
    uint32_t answer_next;          /* The entry the next answer names, if in order. */
    uint32_t wait_ms;              /* Fetch: its long-poll wait (max_wait_ms). */
    struct fetch_entry entries[];  /* The partitions asked about. */
};

void
consumer_partition_release(struct consumer_partition *partition)
{
    CLIENT_ASSERT(partition->references > 0);
    partition->references--;
    if (partition->references == 0 && partition->removed) {
        free(partition);
    }
}

void
consumer_chunk_free(struct consumer_chunk *chunk)
{
    consumer_partition_release(chunk->partition);
    free(chunk->bytes);
    free(chunk);
}

/* Retriable trouble: wait, and refresh metadata when the route may be wrong. */
static void
fetch_backoff(struct sb_client *client, struct consumer_partition *partition, int error)
{
    int wire = client_error_wire_code(error);
    uint64_t now_ns = client_now_ns();
    partition->failures++;
    partition->last_error = error;
    if (partition->failures == 1) {
        partition->failing_since_ns = now_ns;
        partition->starving_reported = false;
    }
    partition->retry_at_ns = now_ns +
                             client_backoff_ns(client, partition->failures,
                                               client->config.retry_backoff_ms,
                                               client->config.retry_backoff_max_ms);
    if (wire < 0 || wire == SB_WIRE_ERROR_UNKNOWN_TOPIC_OR_PARTITION ||
        wire == SB_WIRE_ERROR_UNKNOWN_TOPIC_ID ||
        wire == SB_WIRE_ERROR_NOT_LEADER_OR_FOLLOWER || wire == SB_WIRE_ERROR_WRONG_SHARD) {
        metadata_refresh(client);
    }
}

/* A whole Fetch or ListOffsets the broker answered with an error no retry mends
 * (INVALID_REQUEST: the client asked for something the broker refuses): its partitions back
 * off and ask again, and the log says so, since only a client defect gets there. Errors of
 * the client's own (a closing client, a lost connection) are not the broker's refusal. */
static void
fetch_refused(struct sb_client *client, const struct fetch_context *context, bool list,
              int error)
{
    if (client_error_wire_code(error) > 0 && !sb_client_error_is_retriable(error)) {
        client_log(client, SB_CLIENT_LOG_WARN, "%s of %u partitions refused: %s",
                   list ? "ListOffsets" : "Fetch", context->entry_count,
                   sb_client_strerror(error));
    }
}

/* Stops a partition with error until the next seek (poll reports it once). */
static void
fetch_fail(struct sb_client *client, struct consumer_partition *partition, int error)
{
    partition->state = POSITION_FAILED;
    partition->error = error;
    partition->error_reported = false;
    client_log(client, SB_CLIENT_LOG_WARN, "consumer partition %s-%d stopped: %s",
               partition->topic->name, partition->partition, sb_client_strerror(error));
    pthread_cond_broadcast(&client->cond);
}

/* The partition's topic was deleted (topic_id 0) or created again under topic_id: the
 * position is void, so it starts over per auto.offset.reset (from the new topic once it
 * exists), or, when that is "error", stops with UNKNOWN_TOPIC (deleted) or
 * OFFSET_OUT_OF_RANGE (created again). */
static void
fetch_topic_changed(struct sb_client *client, struct consumer_partition *partition,
                    uint32_t topic_id)
{
    enum client_offset_reset reset = client->config.auto_offset_reset;
    client_log(client, SB_CLIENT_LOG_WARN, "topic %s %s (id %u -> %u): partition %d %s",
               partition->topic->name, topic_id == 0 ? "was deleted" : "was created again",
               partition->topic_id, topic_id, partition->partition,
               reset == CLIENT_RESET_ERROR ? "stopped" : "starts over per auto.offset.reset");
    partition->epoch++; /* Chunks and answers of the old topic are dropped. */
    partition->topic_id = topic_id;
    /* Gone: waits for the topic (never stops as unknown); the next Fetch takes its id. */
    partition->topic_answers = topic_id != 0 ? partition->topic->answers : UINT64_MAX;
    if (reset == CLIENT_RESET_ERROR) {
        fetch_fail(client, partition,
                   topic_id == 0 ? SB_ERR_UNKNOWN_TOPIC : SB_ERR_OFFSET_OUT_OF_RANGE);
        return;
    }
    partition->state = POSITION_RESOLVE;
    partition->resolve_timestamp = reset == CLIENT_RESET_EARLIEST ? SB_LIST_OFFSETS_EARLIEST
                                                                  : SB_LIST_OFFSETS_LATEST;
}

/* Handles an error answer for one partition. */
static void
fetch_partition_error(struct sb_client *client, struct consumer_partition *partition,
                      int error)
{
    if (error == SB_ERR_OFFSET_OUT_OF_RANGE &&
        client->config.auto_offset_reset != CLIENT_RESET_ERROR) {
        partition->state = POSITION_RESOLVE;
        partition->resolve_timestamp = client->config.auto_offset_reset == CLIENT_RESET_EARLIEST
                                           ? SB_LIST_OFFSETS_EARLIEST
                                           : SB_LIST_OFFSETS_LATEST;
        return;
    }
    if (sb_client_error_is_retriable(error) || error == SB_ERR_PROTOCOL) {
        fetch_backoff(client, partition, error);
        return;
    }
    fetch_fail(client, partition, error);
}

static struct fetch_context *
fetch_context_new(struct sb_consumer *consumer, struct client_conn *conn, uint32_t capacity,
                  void (*done)(struct sb_client *, struct client_request *, int,
                               const uint8_t *, size_t))
{
    struct fetch_context *context = calloc(1, sizeof(*context) +
                                                  capacity * sizeof(struct fetch_entry));
    if (context != NULL) {
        context->request = (struct client_request){.done = done, .owner = consumer};
        context->conn = conn;
        context->wait_ms = consumer->client->config.fetch_wait_max_ms;
    }
    return context;
}

static void
fetch_context_free(struct fetch_context *context)
{
    for (uint32_t index = 0; index < context->entry_count; index++) {
        consumer_partition_release(context->entries[index].partition);
    }
    free(context);
}

/* Whether an entry still speaks for its partition. */
static bool
fetch_entry_current(const struct fetch_entry *entry)
{
    return !entry->partition->removed && entry->epoch == entry->partition->epoch;
}

/* Whether entry is the unanswered one for (name, partition). */
static bool
fetch_entry_is(const struct fetch_entry *entry, struct sb_wire_string name, int32_t partition)
{
    return !entry->answered && entry->partition->partition == partition &&
           sb_wire_string_equals(name, entry->partition->topic->name);
}

/* The entry an answer names. The broker answers in request order, so the entry after the
 * last one found is tried first: a response is matched in O(entries), not O(entries^2). */
static struct fetch_entry *
fetch_find(struct fetch_context *context, struct sb_wire_string name, int32_t partition)
{
    uint32_t next = context->answer_next;
    for (uint32_t scanned = 0; scanned < context->entry_count; scanned++) {
        uint32_t index = (next + scanned) % context->entry_count;
        struct fetch_entry *entry = &context->entries[index];
        if (fetch_entry_is(entry, name, partition)) {
            entry->answered = true;
            context->answer_next = index + 1;
            return entry;
        }
    }
    return NULL;
}

/* The topic id a partition's Fetch names: its position's, or (first Fetch since assign, seek
 * or a start over) the one the metadata names now (fetch_fetch_send keeps it). */
static uint32_t
fetch_topic_id(const struct consumer_partition *partition)
{
    return partition->topic_id != 0 ? partition->topic_id : partition->topic->topic_id;
}

/* Whether two partitions of a request share one topic element (same topic, same id). */
static bool
fetch_same_topic(const struct consumer_partition *left, const struct consumer_partition *right)
{
    return left->topic == right->topic && fetch_topic_id(left) == fetch_topic_id(right);
}

static int
fetch_list_encode(struct sb_wire_writer *writer, const void *body)
{
    return sb_list_offsets_request_encode(writer, body);
}

static int
fetch_fetch_encode(struct sb_wire_writer *writer, const void *body)
{
    return sb_fetch_request_encode(writer, body);
}

/* Sends one ListOffsets for the entries of context (one topic element per run of entries of
 * one topic). */
static int
fetch_list_send(struct sb_client *client, struct fetch_context *context)
{
    uint32_t count = context->entry_count;
    struct sb_list_offsets_topic *topics = calloc(count, sizeof(*topics));
    struct sb_list_offsets_partition *partitions = calloc(count, sizeof(*partitions));
    int result = topics == NULL || partitions == NULL ? -ENOMEM : 0;
    uint32_t topic_count = 0;
    for (uint32_t index = 0; result == 0 && index < count; index++) {
        struct consumer_partition *partition = context->entries[index].partition;
        partitions[index] = (struct sb_list_offsets_partition){partition->partition,
                                                               partition->resolve_timestamp};
        if (index == 0 || context->entries[index - 1].partition->topic != partition->topic) {
            topics[topic_count++] = (struct sb_list_offsets_topic){
                .name = sb_wire_string_from_cstr(partition->topic->name),
                .partitions = &partitions[index]};
        }
        topics[topic_count - 1].partition_count++;
    }
    struct sb_list_offsets_request request = {.topics = topics, .topic_count = topic_count};
    if (result == 0) {
        result = conn_send(client, context->conn, SB_API_LIST_OFFSETS, 0, fetch_list_encode,
                           &request, &context->request, client->config.request_timeout_ms);
    }
    free(topics);
    free(partitions);
    return result;
}

/* Sends one Fetch for the entries of context (one topic element per run of entries of one
 * topic and topic id). */
static int
fetch_fetch_send(struct sb_client *client, struct sb_consumer *consumer,
                 struct fetch_context *context)
{
    const struct sb_client_config *config = &client->config;
    uint32_t partition_bytes = consumer->fetch_partition_bytes != 0
                                   ? consumer->fetch_partition_bytes
                                   : config->fetch_partition_max_bytes;
    uint32_t count = context->entry_count;
    struct sb_fetch_topic *topics = calloc(count, sizeof(*topics));
    struct sb_fetch_partition *partitions = calloc(count, sizeof(*partitions));
    int result = topics == NULL || partitions == NULL ? -ENOMEM : 0;
    uint32_t topic_count = 0;
    for (uint32_t index = 0; result == 0 && index < count; index++) {
        struct consumer_partition *partition = context->entries[index].partition;
        partitions[index] = (struct sb_fetch_partition){
            partition->partition, partition->fetch_offset, (int32_t)partition_bytes};
        bool same = index > 0 && fetch_same_topic(context->entries[index - 1].partition,
                                                  partition);
        if (partition->topic_id == 0 && partition->topic->topic_id != 0) {
            /* The first Fetch since assign, seek or a start over: the position is in the
             * topic the metadata names now. */
            partition->topic_id = partition->topic->topic_id;
            partition->topic_answers = partition->topic->answers;
        }
        if (!same) {
            topics[topic_count++] = (struct sb_fetch_topic){
                .name = sb_wire_string_from_cstr(partition->topic->name),
                .topic_id = partition->topic_id, .partitions = &partitions[index]};
        }
        topics[topic_count - 1].partition_count++;
    }
    struct sb_fetch_request request = {
        .api_version = SB_FETCH_VERSION_MAX,
        .max_wait_ms = (int32_t)context->wait_ms,
        .min_bytes = (int32_t)config->fetch_min_bytes,
        .max_bytes = (int32_t)config->fetch_max_bytes,
        .isolation_level = SB_FETCH_ISOLATION_READ_UNCOMMITTED,
        .topics = topics, .topic_count = topic_count};
    if (result == 0) {
        result = conn_send(client, context->conn, SB_API_FETCH, 0, fetch_fetch_encode, &request,
                           &context->request,
                           config->request_timeout_ms + config->fetch_wait_max_ms);
    }
    free(topics);
    free(partitions);
    return result;
}

/* The connection a partition needs now for kind (list: general; fetch: the consumer's), or
 * NULL when it is not ready or the topic is unknown (which then stops the partition). */
static struct client_conn *
fetch_route(struct sb_client *client, struct sb_consumer *consumer,
            struct consumer_partition *partition, bool list)
{
    struct client_topic *topic = partition->topic;
    if (partition->topic_id != 0 && topic->answers > partition->topic_answers &&
        (topic->error == SB_ERR_UNKNOWN_TOPIC ||
         (topic->error == 0 && topic->topic_id != partition->topic_id))) {
        fetch_topic_changed(client, partition, topic->error == 0 ? topic->topic_id : 0);
        return NULL;
    }
    if (topic->answers > partition->topic_answers &&
        (topic->error != 0 || (uint32_t)partition->partition >= topic->partition_count)) {
        fetch_fail(client, partition, topic->error != 0 ? topic->error : SB_ERR_UNKNOWN_TOPIC);
        return NULL;
    }
    struct client_conn *conn = metadata_route(client, topic, partition->partition,
                                              list ? 0 : consumer->owner_id);
    if (conn == NULL) {
        metadata_refresh(client);
        return NULL;
    }
    if (!conn_want(client, conn) || (!list && conn->inflight_count > 0)) {
        return NULL;
    }
    return conn;
}

/* A partition that got no answer since its first failure request.timeout.ms ago (errors,
 * or a connection that never comes back) says so once per episode, in the log. */
static void
fetch_starving_check(struct sb_client *client, struct consumer_partition *partition,
                     uint64_t now_ns)
{
    if (partition->failures == 0 || partition->starving_reported) {
        return;
    }
    uint64_t due_ns = partition->failing_since_ns +
                      client->config.request_timeout_ms * 1000000ull;
    if (now_ns < due_ns) {
        client_schedule(client, due_ns);
        return;
    }
    partition->starving_reported = true;
    client_log(client, SB_CLIENT_LOG_WARN,
               "consumer partition %s-%d got nothing for %llu ms (%u failures, last: %s); "
               "still retrying", partition->topic->name, partition->partition,
               (unsigned long long)((now_ns - partition->failing_since_ns) / 1000000u),
               partition->failures, sb_client_strerror(partition->last_error));
}

/* Whether partition should be in a request of this kind now. */
static bool
fetch_wanted(struct sb_client *client, const struct sb_consumer *consumer,
             const struct consumer_partition *partition, bool list, uint64_t now_ns)
{
    if (partition->paused) {
        return false;
    }
    if (now_ns < partition->retry_at_ns) {
        client_schedule(client, partition->retry_at_ns);
        return false;
    }
    if (list) {
        return partition->state == POSITION_RESOLVE && !partition->list_inflight;
    }
    return partition->state == POSITION_VALID && !partition->fetch_inflight &&
           consumer->buffered_bytes < client->config.fetch_buffer_bytes;
}

/* Adds partition to the request for conn among contexts (creating it); false when that
 * request is full: it names as many topic elements or partitions as a broker takes in one
 * request (core/limits.h), or, for a Fetch once the broker was busy, fetch_partitions_max
 * partitions. */
static bool
fetch_gather(struct sb_consumer *consumer, struct consumer_partition *partition,
             uint32_t turn, struct client_conn *conn, bool list,
             struct fetch_context **contexts, uint32_t *context_count, uint32_t capacity)
{
    uint32_t index = 0;
    while (index < *context_count && contexts[index]->conn != conn) {
        index++;
    }
    if (index == *context_count) {
        contexts[index] = fetch_context_new(consumer, conn, capacity,
                                            list ? fetch_list_done : fetch_done);
        *context_count += contexts[index] != NULL;
    }
    uint32_t limit = list || consumer->fetch_partitions_max == 0 ? capacity
                                                                 : consumer->fetch_partitions_max;
    if (index == *context_count) {
        return false;
    }
    struct fetch_context *context = contexts[index];
    uint32_t count = context->entry_count;
    bool new_topic = count == 0 ||
                     (list ? context->entries[count - 1].partition->topic != partition->topic
                           : !fetch_same_topic(context->entries[count - 1].partition, partition));
    if (count >= limit || count >= SB_BROKER_REQUEST_ITEMS_MAX ||
        (new_topic && context->topic_count >= SB_BROKER_REQUEST_TOPICS_MAX)) {
        return false;
    }
    partition->references++;
    context->entries[context->entry_count++] =
        (struct fetch_entry){partition, partition->epoch, false, turn};
    context->topic_count += new_topic;
    return true;
}

/* Sends requests of one kind: one per connection, every wanted partition it serves (up to
 * the limit; the next round starts after the last partition taken, so all get turns). */
static void
fetch_send_all(struct sb_client *client, struct sb_consumer *consumer, bool list,
               uint64_t now_ns)
{
    uint32_t count = 0;
    for (struct consumer_partition *partition = consumer->partitions; partition != NULL;
         partition = partition->next) {
        count++;
    }
    struct fetch_context **contexts = calloc(count + 1, sizeof(*contexts));
    uint32_t context_count = 0;
    uint32_t first = list ? 0 : consumer->fetch_rotation % count;
    struct consumer_partition *partition = consumer->partitions;
    for (uint32_t skip = 0; skip < first; skip++) {
        partition = partition->next;
    }
    uint32_t wanted = 0;
    for (uint32_t visited = 0; contexts != NULL && visited < count; visited++) {
        struct client_conn *conn = NULL;
        fetch_starving_check(client, partition, now_ns);
        if (fetch_wanted(client, consumer, partition, list, now_ns) &&
            (conn = fetch_route(client, consumer, partition, list)) != NULL) {
            wanted++;
            if (fetch_gather(consumer, partition, first + visited, conn, list, contexts,
                             &context_count, count) &&
                !list) {
                consumer->fetch_rotation = first + visited + 1;
            }
        }
        partition = partition->next != NULL ? partition->next : consumer->partitions;
    }
    for (uint32_t index = 0; index < context_count; index++) {
        struct fetch_context *context = contexts[index];
        if (!list && context->entry_count == consumer->fetch_partitions_max &&
            context->entry_count < wanted) {
            /* Split requests (BROKER_BUSY) take turns: each waits its share of
             * fetch.wait.max.ms, so one round over the partitions waits about as long as
             * one whole request would, and drained partitions do not hold the others. */
            context->wait_ms = (uint32_t)((uint64_t)context->wait_ms * context->entry_count /
                                          wanted);
        }
        int result = list ? fetch_list_send(client, context)
                          : fetch_fetch_send(client, consumer, context);
        for (uint32_t entry = 0; result == 0 && entry < context->entry_count; entry++) {
            *(list ? &context->entries[entry].partition->list_inflight
                   : &context->entries[entry].partition->fetch_inflight) = true;
        }
        if (result != 0) {
            fetch_context_free(context);
        }
    }
    free(contexts);
}

void
fetch_run(struct sb_client *client, struct sb_consumer *consumer, uint64_t now_ns)
{
    if (consumer->closing || consumer->partitions == NULL) {
        return;
    }
    fetch_send_all(client, consumer, true, now_ns);
    fetch_send_all(client, consumer, false, now_ns);
}

void
fetch_list_done(struct sb_client *client, struct client_request *request, int error,
                const uint8_t *body, size_t body_bytes)
{
    struct fetch_context *context = (struct fetch_context *)request;
    struct sb_list_offsets_response response;
    if (error == 0 && sb_list_offsets_response_decode(body, body_bytes, &response) != 0) {
        error = SB_ERR_CORRUPT;
    }
    struct sb_list_offsets_topic_response topic;
    while (error == 0 && sb_list_offsets_response_next_topic(&response, &topic) == 1) {
        struct sb_list_offsets_partition_response answer;
        while (sb_list_offsets_topic_response_next_partition(&topic, &answer) == 1) {
            struct fetch_entry *entry = fetch_find(context, topic.name, answer.partition);
            if (entry == NULL || !fetch_entry_current(entry)) {
                continue;
            }
            struct consumer_partition *partition = entry->partition;
            int answer_error = client_error_from_wire(answer.error_code);
            if (answer_error != 0 || answer.offset < -1) {
                fetch_partition_error(client, partition,
                                      answer_error != 0 ? answer_error : SB_ERR_PROTOCOL);
            } else if (answer.offset == -1) {
                partition->resolve_timestamp = SB_LIST_OFFSETS_LATEST; /* None that late. */
            } else {
                partition->state = POSITION_VALID;
                partition->position = partition->fetch_offset = answer.offset;
                partition->failures = 0;
            }
        }
    }
    if (context->request.owner != NULL) {
        fetch_refused(client, context, true, error);
    }
    for (uint32_t index = 0; index < context->entry_count; index++) {
        struct fetch_entry *entry = &context->entries[index];
        entry->partition->list_inflight = false;
        if (fetch_entry_current(entry) && !entry->answered && context->request.owner != NULL) {
            fetch_backoff(client, entry->partition, error != 0 ? error : SB_ERR_PROTOCOL);
        }
    }
    fetch_context_free(context);
    pthread_cond_broadcast(&client->cond);
}

/* Finds where the whole batches in records end and the offset after the last one. Returns
 * the bytes of whole batches (0 when there is none). */
static size_t
fetch_scan(const uint8_t *records, size_t length, int64_t *next_offset_out)
{
    size_t used = 0;
    struct sb_batch_header header;
    while (length - used >= SB_BATCH_HEADER_BYTES &&
           sb_batch_header_decode(records + used, length - used, UINT32_MAX, &header) == 0 &&
           header.batch_bytes <= length - used) {
        *next_offset_out = sb_batch_header_last_offset(&header) + 1;
        used += header.batch_bytes;
    }
    return used;
}

/* Queues the batches of one partition's answer for poll. */
static void
fetch_take_records(struct sb_client *client, struct sb_consumer *consumer,
                   struct consumer_partition *partition, struct sb_wire_bytes records)
{
    int64_t next_offset = partition->fetch_offset;
    size_t used = fetch_scan(records.data, records.length, &next_offset);
    if (used == 0 || next_offset <= partition->fetch_offset) {
        fetch_fail(client, partition, SB_ERR_CORRUPT); /* No progress possible. */
        return;
    }
    struct consumer_chunk *chunk = calloc(1, sizeof(*chunk));
    uint8_t *bytes = chunk != NULL ? malloc(used) : NULL;
    if (bytes == NULL) {
        free(chunk);
        fetch_backoff(client, partition, -ENOMEM);
        return;
    }
    memcpy(bytes, records.data, used);
    *chunk = (struct consumer_chunk){.partition = partition, .epoch = partition->epoch,
                                     .bytes = bytes, .length = used};
    partition->references++;
    if (consumer->ready_tail != NULL) {
        consumer->ready_tail->next = chunk;
    } else {
        consumer->ready_head = chunk;
    }
    consumer->ready_tail = chunk;
    consumer->buffered_bytes += used;
    partition->buffered_bytes += used;
    partition->fetch_offset = next_offset;
    partition->failures = 0;
}

static void
fetch_answer(struct sb_client *client, struct sb_consumer *consumer,
             struct consumer_partition *partition,
             const struct sb_fetch_partition_response *answer)
{
    int error = client_error_from_wire(answer->error_code);
    if (error != 0) {
        fetch_partition_error(client, partition, error);
        return;
    }
    partition->high_watermark = answer->high_watermark;
    partition->log_start_offset = answer->log_start_offset;
    partition->watermark_known = true;
    partition->failures = 0;
    if (answer->records.length > 0) {
        fetch_take_records(client, consumer, partition, answer->records);
    }
}

/* Decodes a Fetch response and applies every current entry it names. The response was
 * trimmed to fetch.max.bytes in request order, so the next Fetch starts after the last
 * partition that got records: the ones trimmed off go first (else, with backlogs above
 * the limit, the same first partitions would take every response). */
static int
fetch_apply(struct sb_client *client, struct sb_consumer *consumer,
            struct fetch_context *context, const uint8_t *body, size_t body_bytes)
{
    struct sb_fetch_response response;
    if (sb_fetch_response_decode(body, body_bytes, &response) != 0) {
        return SB_ERR_CORRUPT;
    }
    struct sb_fetch_topic_response topic;
    while (sb_fetch_response_next_topic(&response, &topic) == 1) {
        struct sb_fetch_partition_response answer;
        while (sb_fetch_topic_response_next_partition(&topic, &answer) == 1) {
            struct fetch_entry *entry = fetch_find(context, topic.name, answer.partition);
            if (entry != NULL && fetch_entry_current(entry) &&
                entry->partition->state == POSITION_VALID) {
                fetch_answer(client, consumer, entry->partition, &answer);
                if (answer.records.length > 0) {
                    consumer->fetch_rotation = entry->turn + 1;
                }
            }
        }
    }
    return 0;
}

void
fetch_done(struct sb_client *client, struct client_request *request, int error,
           const uint8_t *body, size_t body_bytes)
{
    struct fetch_context *context = (struct fetch_context *)request;
    struct sb_consumer *consumer = request->owner;
    bool corrupt = false;
    for (uint32_t index = 0; index < context->entry_count; index++) {
        context->entries[index].partition->fetch_inflight = false;
    }
    if (consumer != NULL && error == 0) {
        error = fetch_apply(client, consumer, context, body, body_bytes);
        corrupt = error != 0;
        fetch_grow(consumer);
    }
    if (consumer != NULL && error == SB_ERR_WIRE(SB_WIRE_ERROR_BROKER_BUSY) &&
        fetch_shrink(client, consumer, context->entry_count)) {
        error = 0; /* Asked again at once, in smaller requests. */
    }
    if (consumer != NULL) {
        fetch_refused(client, context, false, error);
    }
    for (uint32_t index = 0; consumer != NULL && error != 0 && index < context->entry_count;
         index++) {
        if (fetch_entry_current(&context->entries[index])) {
            fetch_backoff(client, context->entries[index].partition, error);
        }
    }
    struct client_conn *conn = context->conn;
    fetch_context_free(context);
    pthread_cond_broadcast(&client->cond);
    if (corrupt) {
        conn_fail(client, conn, SB_ERR_CORRUPT);
    }
}

/* A Fetch of partition_count partitions was refused as too big (BROKER_BUSY): halves the
 * partitions per request, or at one partition the bytes asked per partition. Returns false
 * when nothing is left to shrink (the partitions then back off). */
static bool
fetch_shrink(struct sb_client *client, struct sb_consumer *consumer, uint32_t partition_count)
{
    uint32_t bytes = consumer->fetch_partition_bytes != 0
                         ? consumer->fetch_partition_bytes
                         : client->config.fetch_partition_max_bytes;
    consumer->fetch_answers = 0;
    if (partition_count > 1) {
        consumer->fetch_partitions_max = partition_count / 2;
        client_log(client, SB_CLIENT_LOG_WARN,
                   "fetch of %u partitions refused (broker busy): now at most %u per request",
                   partition_count, consumer->fetch_partitions_max);
        return true;
    }
    if (bytes / 2 >= CLIENT_FETCH_PARTITION_BYTES_MIN) {
        consumer->fetch_partition_bytes = bytes / 2;
        client_log(client, SB_CLIENT_LOG_WARN,
                   "fetch of one partition refused (broker busy): now %u bytes per partition",
                   consumer->fetch_partition_bytes);
        return true;
    }
    return false;
}

/* A Fetch was answered: after CLIENT_FETCH_GROW_AFTER answers the limits double back. */
static void
fetch_grow(struct sb_consumer *consumer)
{
    if (consumer->fetch_partitions_max == 0 && consumer->fetch_partition_bytes == 0) {
        return;
    }
    if (++consumer->fetch_answers < CLIENT_FETCH_GROW_AFTER) {
        return;
    }
    consumer->fetch_answers = 0;
    uint32_t config_bytes = consumer->client->config.fetch_partition_max_bytes;
    if (consumer->fetch_partition_bytes != 0) {
        uint32_t bytes = consumer->fetch_partition_bytes * 2;
        consumer->fetch_partition_bytes = bytes >= config_bytes ? 0 : bytes;
    } else if (consumer->fetch_partitions_max > UINT32_MAX / 2) {
        consumer->fetch_partitions_max = 0;
    } else {
        consumer->fetch_partitions_max *= 2;
    }
}
