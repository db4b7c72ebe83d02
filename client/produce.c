/*
 * client/produce.c - the producer's I/O side: InitProducerId, sealing
 * batches when linger.ms passes, stamping producer id/epoch/sequence into
 * batch headers, grouping ready batches into Produce requests per
 * connection, and applying the answers (offsets, retries, failures).
 *
 * Ordering and idempotence (docs/client.md "Delivery guarantees"):
 * - a partition's batches are sent in list order, at most max.in.flight at
 *   a time, all on one connection (the partition moves to another
 *   connection only when nothing is in flight);
 * - a batch gets its base_sequence when first sent and keeps it across
 *   retries, so the broker recognizes a resend (answering with the original
 *   offset) and refuses a gap (OUT_OF_ORDER_SEQUENCE_NUMBER);
 * - when a batch fails retriably, the partition sends nothing until every
 *   batch after it has come back (they fail too, with a gap), then resends
 *   them all in order: no reordering, no duplicates;
 * - a batch that was sent keeps its producer id, epoch and sequence until it
 *   is resolved (stored, or failed back to the application): it is never
 *   restamped, since the broker may have stored it already;
 * - a batch that had a sequence and is given up (fatal error, delivery
 *   timeout, UNKNOWN_PRODUCER_ID) may leave a hole: the partitions send no new
 *   batch, batches already sent are retried under their identity until each
 *   is resolved (a gap at the head of a partition fails it), and only then the
 *   producer bumps its epoch (InitProducerId with its id) and sequences of the
 *   batches never sent restart at 0 (as Kafka's producer does).
 *
 * Retriable errors: connection loss, request timeout, a response we cannot
 * decode, and the wire errors the protocol marks retriable. Each retry waits
 * retry.backoff.ms * 2^(attempt-1) (capped at retry.backoff.max.ms, jittered)
 * and stops at `retries` attempts or delivery.timeout.ms.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client/client_private.h"
#include "proto/api_produce.h"
#include "proto/api_producer.h"

/* A Produce request in flight: at most one batch per partition. */
struct produce_context {
    struct client_request request;    /* First member: done handlers cast back. */
    struct client_conn *conn;         /* Where it was sent. */
    uint32_t batch_count;             /* Entries in batches. */
    struct producer_batch *batches[]; /* In request order (borrowed from partitions). */
};

/* Ready batches gathered for one connection in one round. */
struct produce_gather {
    struct client_conn *conn;         /* Destination. */
    uint32_t batch_count;             /* Entries in batches. */
    uint64_t bytes;                   /* Their sealed bytes. */
    struct producer_batch **batches;  /* Room for every partition of the producer. */
};

/* Produce bodies leave this much room under the broker's frame limit. */
#define PRODUCE_FRAME_SLACK_BYTES 4096u

static int
produce_init_encode(struct sb_wire_writer *writer, const void *body)
{
    return sb_init_producer_id_request_encode(writer, body);
}

/* Whether a batch that was sent is not resolved yet: in flight, or queued for a resend.
 * Sent batches are a prefix of their partition's list, so the heads tell. */
static bool
produce_unresolved(const struct sb_producer *producer)
{
    if (producer->inflight_batches > 0) {
        return true;
    }
    for (const struct producer_partition *partition = producer->partitions; partition != NULL;
         partition = partition->next) {
        if (partition->head != NULL && partition->head->attempts > 0) {
            return true;
        }
    }
    return false;
}

/* Asks for a producer id (or, for a bump, the next epoch of ours). */
static void
produce_init_run(struct sb_client *client, struct sb_producer *producer, uint64_t now_ns)
{
    bool bump = producer->producer_id >= 0 && producer->epoch_bump_wanted &&
                !produce_unresolved(producer);
    if (producer->init_inflight || (producer->producer_id >= 0 && !bump)) {
        return;
    }
    if (now_ns < producer->init_retry_at_ns) {
        client_schedule(client, producer->init_retry_at_ns);
        return;
    }
    struct client_conn *conn = metadata_bootstrap_conn(client);
    if (conn == NULL || !conn_want(client, conn)) {
        return;
    }
    struct sb_init_producer_id_request request = {
        .producer_id = bump ? producer->producer_id : -1,
        .producer_epoch = bump ? producer->epoch : -1,
    };
    /* Its own allocation: it may outlive the producer (close disowns it). */
    struct client_request *init = calloc(1, sizeof(*init));
    if (init == NULL) {
        return;
    }
    *init = (struct client_request){.done = produce_init_done, .owner = producer};
    if (conn_send(client, conn, SB_API_INIT_PRODUCER_ID, 0, produce_init_encode, &request,
                  init, client->config.request_timeout_ms) == 0) {
        producer->init_inflight = true;
    } else {
        free(init);
    }
}

/* New id or epoch: every sequence restarts at 0. Only batches never sent are left, since
 * the id is asked for only once every sent batch is resolved (produce_init_run). */
static void
produce_reset_sequences(struct sb_producer *producer)
{
    for (struct producer_partition *partition = producer->partitions; partition != NULL;
         partition = partition->next) {
        partition->next_sequence = 0;
        for (struct producer_batch *batch = partition->head; batch != NULL;
             batch = batch->next) {
            CLIENT_ASSERT(batch->attempts == 0 && batch->state != BATCH_IN_FLIGHT);
            batch->base_sequence = -1;
        }
    }
}

void
produce_init_done(struct sb_client *client, struct client_request *request, int error,
                  const uint8_t *body, size_t body_bytes)
{
    struct sb_producer *producer = request->owner;
    free(request);
    if (producer == NULL) {
        return;
    }
    producer->init_inflight = false;
    struct sb_init_producer_id_response response = {0};
    if (error == 0 && sb_init_producer_id_response_decode(body, body_bytes, &response) != 0) {
        error = SB_ERR_CORRUPT;
    }
    error = error == 0 ? client_error_from_wire(response.error_code) : error;
    if (error == 0 && (response.producer_id < 0 || response.producer_epoch < 0)) {
        error = SB_ERR_PROTOCOL;
    }
    if (error == SB_ERR_PRODUCER_FENCED) {
        producer->fatal_error = error;
    } else if (error == SB_ERR_WIRE(SB_WIRE_ERROR_INVALID_PRODUCER_ID_MAPPING)) {
        producer->producer_id = -1; /* The broker forgot us: start as a new producer. */
    }
    if (error != 0) {
        producer->init_attempts++;
        producer->init_retry_at_ns = client_now_ns() +
                                     client_backoff_ns(client, producer->init_attempts,
                                                       client->config.retry_backoff_ms,
                                                       client->config.retry_backoff_max_ms);
        client_log(client, SB_CLIENT_LOG_DEBUG, "InitProducerId failed: %s",
                   sb_client_strerror(error));
        return;
    }
    producer->producer_id = response.producer_id;
    producer->epoch = response.producer_epoch;
    producer->epoch_bump_wanted = false;
    producer->init_attempts = 0;
    produce_reset_sequences(producer);
    client_log(client, SB_CLIENT_LOG_DEBUG, "producer id %lld epoch %d",
               (long long)producer->producer_id, producer->epoch);
}

/* Whether a sealed batch of partition waits to be sent (QUEUED: new, or to be retried). */
static bool
produce_has_queued(const struct producer_partition *partition)
{
    /* Bounded: a partition holds at most max.in.flight batches in flight, then its queue. */
    for (const struct producer_batch *batch = partition->head; batch != NULL;
         batch = batch->next) {
        if (batch->state == BATCH_QUEUED) {
            return true;
        }
    }
    return false;
}

/* A QUEUED batch of partition left the queue (sent or given up): its due open batch, if it
 * waited for that, is sealed now. */
static void
produce_seal_waiting(struct sb_producer *producer, struct producer_partition *partition)
{
    if (partition->links[PRODUCER_LIST_WAITING].linked && !produce_has_queued(partition)) {
        CLIENT_ASSERT(partition->tail != NULL && partition->tail->state == BATCH_OPEN);
        producer_batch_seal(producer, partition->tail);
    }
}

/* Fails batch (not in flight) with error; a batch that had a sequence leaves a hole. */
static void
produce_give_up(struct sb_producer *producer, struct producer_batch *batch, int error)
{
    if (producer->idempotent && batch->base_sequence >= 0) {
        producer->epoch_bump_wanted = true;
    }
    struct producer_partition *partition = batch->partition;
    producer_partition_unlink(partition, batch);
    producer_batch_complete(producer, batch, error, -1, -1);
    produce_seal_waiting(producer, partition);
}

/* Seals the open batches whose linger.ms has passed (all of them while flushing): the
 * linger list is in creation order, so only its due head is walked. A due batch whose
 * partition still has a sealed batch waiting to be sent stays open and takes records until
 * that one is sent (WAITING; produce_seal_waiting): sealing it would only queue a small
 * batch behind the other, and a request carries one batch per partition, so a burst or a
 * slow answer would leave a queue of small batches that drains one per round trip. */
static void
produce_linger(struct sb_client *client, struct sb_producer *producer, uint64_t now_ns)
{
    uint64_t linger_ns = client->config.linger_ms * 1000000ull;
    if (producer->flushing != 0) {
        /* Bounded: each round seals the head, which leaves the list. */
        while (producer->lists[PRODUCER_LIST_WAITING].head != NULL) {
            producer_batch_seal(producer, producer->lists[PRODUCER_LIST_WAITING].head->tail);
        }
    }
    /* Bounded: each round seals the head or moves it to WAITING; either leaves the list. */
    while (producer->lists[PRODUCER_LIST_LINGER].head != NULL) {
        struct producer_partition *partition = producer->lists[PRODUCER_LIST_LINGER].head;
        struct producer_batch *tail = partition->tail;
        CLIENT_ASSERT(tail != NULL && tail->state == BATCH_OPEN);
        if (now_ns < tail->created_ns + linger_ns && producer->flushing == 0) {
            client_schedule(client, tail->created_ns + linger_ns);
            return;
        }
        if (producer->flushing == 0 && produce_has_queued(partition)) {
            producer_list_remove(producer, partition, PRODUCER_LIST_LINGER);
            producer_list_add(producer, partition, PRODUCER_LIST_WAITING);
            continue;
        }
        producer_batch_seal(producer, tail);
    }
}


/* Fails the batches not in flight that are past delivery.timeout.ms (every one of them
 * after a fatal error). The age list is in creation order, so by deadline: the walk stops
 * at the first batch not due; the due ones still in flight are resolved by their answer. */
static void
produce_expire(struct sb_client *client, struct sb_producer *producer, uint64_t now_ns)
{
    struct producer_batch *batch = producer->oldest;
    /* Bounded: each batch is visited once. */
    while (batch != NULL) {
        struct producer_batch *newer = batch->newer;
        bool due = now_ns >= batch->deadline_ns;
        if (!due && producer->fatal_error == 0) {
            client_schedule(client, batch->deadline_ns);
            return;
        }
        if (batch->state != BATCH_IN_FLIGHT && producer->fatal_error != 0) {
            produce_give_up(producer, batch, producer->fatal_error);
        } else if (batch->state != BATCH_IN_FLIGHT && due) {
            client_log(client, SB_CLIENT_LOG_WARN, "delivery timed out (%s-%d): %s",
                       batch->partition->topic->name, batch->partition->partition,
                       sb_client_strerror(batch->last_error));
            produce_give_up(producer, batch, -ETIMEDOUT);
        }
        batch = newer;
    }
}

/* The partition's next batch to send and its connection, or NULL. *idle is set when
 * only a seal or an answer can change that (the partition leaves the ready list). */
static struct producer_batch *
produce_ready(struct sb_client *client, struct producer_partition *partition, uint64_t now_ns,
              struct client_conn **conn_out, bool *idle)
{
    *idle = true;
    if (partition->retrying && partition->inflight_count > 0) {
        return NULL;
    }
    struct producer_batch *batch = partition->head;
    while (batch != NULL && batch->state == BATCH_IN_FLIGHT) {
        batch = batch->next;
    }
    uint32_t limit = client->config.max_in_flight;
    if (partition->producer->idempotent && limit > CLIENT_IDEMPOTENT_IN_FLIGHT_MAX) {
        limit = CLIENT_IDEMPOTENT_IN_FLIGHT_MAX;
    }
    if (batch == NULL || batch->state != BATCH_QUEUED || partition->inflight_count >= limit) {
        return NULL;
    }
    *idle = false;
    if (partition->producer->epoch_bump_wanted && batch->attempts == 0) {
        return NULL; /* New batches wait for the new epoch. */
    }
    if (now_ns < partition->retry_at_ns) {
        client_schedule(client, partition->retry_at_ns);
        return NULL;
    }
    struct client_conn *conn = metadata_route(client, partition->topic, partition->partition, 0);
    if (conn == NULL) {
        metadata_refresh(client);
        return NULL;
    }
    if ((partition->inflight_count > 0 && partition->conn != conn) || !conn_want(client, conn) ||
        conn->produce_inflight >= client->config.max_in_flight ||
        conn->out.length > client->config.request_bytes_max) {
        return NULL;
    }
    *conn_out = conn;
    return batch;
}

/* Writes the producer fields into a sealed batch's header (recomputing its CRC). */
static void
produce_stamp(struct sb_producer *producer, struct producer_batch *batch)
{
    struct producer_partition *partition = batch->partition;
    if (!producer->idempotent) {
        return;
    }
    if (batch->base_sequence >= 0) {
        CLIENT_ASSERT(batch->epoch == producer->epoch);
        return; /* A resend: the very identity the broker may have stored. */
    }
    batch->base_sequence = partition->next_sequence;
    int64_t next = (int64_t)partition->next_sequence + batch->record_count;
    partition->next_sequence = (int32_t)(next % ((int64_t)INT32_MAX + 1));
    batch->epoch = producer->epoch;
    struct sb_batch_header header;
    uint8_t *bytes = (uint8_t *)(uintptr_t)batch->sealed;
    if (sb_batch_header_decode(bytes, SB_BATCH_HEADER_BYTES, UINT32_MAX, &header) == 0) {
        header.producer_id = producer->producer_id;
        header.producer_epoch = producer->epoch;
        header.base_sequence = batch->base_sequence;
        sb_batch_header_encode(&header, bytes);
    }
}

static int
produce_encode(struct sb_wire_writer *writer, const void *body)
{
    return sb_produce_request_encode(writer, body);
}

/* Orders context's batches by topic, in place (the order of the request and so of its
 * answer), and fills topics and partitions for them; returns the topic count. */
static uint32_t
produce_group_topics(struct produce_context *context, struct sb_produce_topic *topics,
                     struct sb_produce_partition *partitions)
{
    struct producer_batch **batches = context->batches;
    uint32_t topic_count = 0;
    uint32_t used = 0;
    /* Bounded: each pass takes at least one batch; count * topics steps in all. */
    while (used < context->batch_count) {
        struct client_topic *topic = batches[used]->partition->topic;
        uint32_t start = used;
        for (uint32_t index = used; index < context->batch_count; index++) {
            struct producer_batch *batch = batches[index];
            if (batch->partition->topic == topic) {
                batches[index] = batches[used];
                batches[used] = batch;
                partitions[used++] = (struct sb_produce_partition){
                    batch->partition->partition, {batch->sealed, batch->sealed_bytes}};
            }
        }
        topics[topic_count++] = (struct sb_produce_topic){
            .name = sb_wire_string_from_cstr(topic->name), .partitions = partitions + start,
            .partition_count = used - start};
    }
    return topic_count;
}

static int
produce_encode_send(struct sb_client *client, struct sb_producer *producer,
                    struct produce_context *context)
{
    uint32_t count = context->batch_count;
    struct sb_produce_topic *topics = calloc(count, sizeof(*topics));
    struct sb_produce_partition *partitions = calloc(count, sizeof(*partitions));
    int result = topics == NULL || partitions == NULL ? -ENOMEM : 0;
    struct sb_produce_request request = {
        .acks = producer->acks, .timeout_ms = (int32_t)client->config.request_timeout_ms,
        .topics = topics};
    if (result == 0) {
        request.topic_count = produce_group_topics(context, topics, partitions);
        uint16_t flags = producer->acks == 0 ? SB_FRAME_FLAG_NO_RESPONSE : 0;
        result = conn_send(client, context->conn, SB_API_PRODUCE, flags, produce_encode,
                           &request, &context->request, client->config.request_timeout_ms * 2);
    }
    free(topics);
    free(partitions);
    return result;
}

/* Sends one gathered request; on failure nothing is in flight and sequences are undone. */
static void
produce_send(struct sb_client *client, struct sb_producer *producer,
             struct produce_gather *gather)
{
    CLIENT_ASSERT(gather->batch_count > 0);
    CLIENT_ASSERT(producer->producer_id >= 0 || !producer->idempotent);
    struct produce_context *context = calloc(1, sizeof(*context) + gather->batch_count *
                                                                       sizeof(void *));
    if (context == NULL) {
        return;
    }
    context->request = (struct client_request){
        .done = produce_done, .owner = producer, .counts_as_produce = producer->acks != 0};
    context->conn = gather->conn;
    context->batch_count = gather->batch_count;
    for (uint32_t index = 0; index < gather->batch_count; index++) {
        context->batches[index] = gather->batches[index];
        produce_stamp(producer, gather->batches[index]);
    }
    int result = produce_encode_send(client, producer, context);
    for (uint32_t index = 0; index < gather->batch_count; index++) {
        struct producer_batch *batch = gather->batches[index];
        struct producer_partition *partition = batch->partition;
        if (result != 0) {
            if (batch->attempts == 0 && batch->base_sequence >= 0) {
                partition->next_sequence = batch->base_sequence; /* Never sent: no hole. */
                batch->base_sequence = -1;
            }
            if (result == -EMSGSIZE && gather->batch_count == 1) {
                produce_give_up(producer, batch, SB_ERR_MESSAGE_TOO_LARGE);
            }
            continue;
        }
        batch->state = BATCH_IN_FLIGHT;
        batch->attempts++;
        partition->inflight_count++;
        partition->conn = gather->conn;
        partition->retrying = false;
        producer->inflight_batches++;
        produce_seal_waiting(producer, partition);
    }
    if (result == 0) {
        producer->requests_sent++;
        if (gather->batch_count > producer->request_batches_max) {
            producer->request_batches_max = gather->batch_count;
        }
        if (gather->bytes > producer->request_bytes_max) {
            producer->request_bytes_max = gather->bytes;
        }
    }
    if (result == 0 && producer->acks == 0) {
        /* No answer will come: the batches are done once handed to the connection. */
        produce_done(client, &context->request, 0, NULL, 0);
        return;
    }
    if (result != 0) {
        free(context);
    }
}

/* One round: at most one batch per partition of the ready list, one request per
 * connection. batches, conns and group hold capacity entries. Returns true when a request
 * was attempted. */
static bool
produce_round(struct sb_client *client, struct sb_producer *producer, uint64_t now_ns,
              struct producer_batch **batches, struct client_conn **conns,
              struct producer_batch **group, uint32_t capacity)
{
    uint32_t count = 0;
    struct producer_partition *partition = producer->lists[PRODUCER_LIST_READY].head;
    /* Bounded: the ready list only shrinks during a round. */
    while (partition != NULL && count < capacity) {
        struct producer_partition *next = partition->links[PRODUCER_LIST_READY].next;
        struct client_conn *conn = NULL;
        bool idle = false;
        struct producer_batch *batch = produce_ready(client, partition, now_ns, &conn, &idle);
        if (batch != NULL) {
            batches[count] = batch;
            conns[count++] = conn;
        } else if (idle) {
            producer_list_remove(producer, partition, PRODUCER_LIST_READY);
        }
        partition = next;
    }
    for (uint32_t first = 0; first < count; first++) {
        struct client_conn *conn = conns[first];
        if (conn == NULL) {
            continue;
        }
        uint64_t room = conn->frame_bytes_max - PRODUCE_FRAME_SLACK_BYTES;
        room = client->config.request_bytes_max < room ? client->config.request_bytes_max : room;
        struct produce_gather gather = {.conn = conn, .batches = group};
        for (uint32_t index = first; index < count; index++) {
            if (conns[index] != conn) {
                continue;
            }
            conns[index] = NULL;
            if (gather.batch_count == 0 || gather.bytes + batches[index]->sealed_bytes <= room) {
                group[gather.batch_count++] = batches[index];
                gather.bytes += batches[index]->sealed_bytes;
            }
        }
        produce_send(client, producer, &gather);
    }
    return count > 0;
}

bool
produce_send_now(struct sb_client *client, struct sb_producer *producer,
                 struct producer_partition *partition)
{
    struct producer_batch *batch = partition->tail;
    if (client->config.linger_ms != 0 || producer->acks == 0 || producer->closing ||
        producer->fatal_error != 0 || (producer->idempotent && producer->producer_id < 0) ||
        batch == NULL || batch != partition->head || batch->state != BATCH_OPEN) {
        return false;
    }
    producer_batch_seal(producer, batch);
    struct client_conn *conn = NULL;
    bool idle = false;
    if (produce_ready(client, partition, client_now_ns(), &conn, &idle) != batch ||
        conn->out.length != 0) {
        return false; /* Not idle: the I/O thread sends it after what is queued. */
    }
    struct producer_batch *group[1] = {batch};
    struct produce_gather gather = {.conn = conn, .batches = group, .batch_count = 1,
                                    .bytes = batch->sealed_bytes};
    produce_send(client, producer, &gather);
    if (batch->state != BATCH_IN_FLIGHT) {
        return false; /* Not sent: the I/O thread retries. */
    }
    conn_write(client, conn);
    return conn->fd >= 0 && conn->out.length == 0 && client->deliveries.count == 0;
}

void
produce_run(struct sb_client *client, struct sb_producer *producer, uint64_t now_ns)
{
    if (producer->closing) {
        return;
    }
    produce_expire(client, producer, now_ns);
    produce_linger(client, producer, now_ns);
    if (producer->idempotent) {
        produce_init_run(client, producer, now_ns);
        if (producer->producer_id < 0) {
            return;
        }
    }
    uint32_t capacity = producer->lists[PRODUCER_LIST_READY].count;
    if (capacity == 0) {
        return;
    }
    struct producer_batch **batches = calloc(capacity, sizeof(*batches));
    struct client_conn **conns = calloc(capacity, sizeof(*conns));
    struct producer_batch **group = calloc(capacity, sizeof(*group));
    /* Bounded: a connection takes at most max.in.flight requests, one per round. */
    for (uint32_t round = 0; batches != NULL && conns != NULL && group != NULL &&
                             round < client->config.max_in_flight; round++) {
        if (!produce_round(client, producer, now_ns, batches, conns, group, capacity)) {
            break;
        }
    }
    free(batches);
    free(conns);
    free(group);
}

/* One batch's answer from a Produce response. */
struct produce_answer {
    int error;              /* 0 or a negative code. */
    int64_t base_offset;    /* Offset of its first record. */
    int64_t append_time_ms; /* LogAppendTime, or -1. */
    bool found;             /* The response named its partition. */
};

/* Whether entry index of context is (topic, partition) and still without an answer. */
static bool
produce_answer_matches(const struct produce_context *context,
                       const struct produce_answer *answers, uint32_t index,
                       const struct sb_produce_topic_response *topic, int32_t partition)
{
    if (index >= context->batch_count || answers[index].found) {
        return false;
    }
    const struct producer_partition *owner = context->batches[index]->partition;
    return owner->partition == partition && sb_wire_string_equals(topic->name, owner->topic->name);
}

static int
produce_decode(const struct produce_context *context, const uint8_t *body, size_t body_bytes,
               struct produce_answer *answers)
{
    struct sb_produce_response response;
    if (sb_produce_response_decode(body, body_bytes, &response) != 0) {
        return SB_ERR_CORRUPT;
    }
    struct sb_produce_topic_response topic;
    uint32_t expected = 0; /* The answer follows the request's order: try that entry first. */
    while (sb_produce_response_next_topic(&response, &topic) == 1) {
        struct sb_produce_partition_response partition;
        while (sb_produce_topic_response_next_partition(&topic, &partition) == 1) {
            uint32_t index = expected;
            if (!produce_answer_matches(context, answers, index, &topic, partition.partition)) {
                /* Bounded: batch_count entries. */
                for (index = 0; index < context->batch_count; index++) {
                    if (produce_answer_matches(context, answers, index, &topic,
                                               partition.partition)) {
                        break;
                    }
                }
            }
            if (index < context->batch_count) {
                answers[index] = (struct produce_answer){
                    client_error_from_wire(partition.error_code), partition.base_offset,
                    partition.log_append_time_ms, true};
                expected = index + 1;
            }
        }
    }
    return 0;
}

/* Whether a failed batch may be sent again (and what else the error tells us). */
static bool
produce_retriable(struct sb_client *client, const struct producer_batch *batch, int error)
{
    int wire = client_error_wire_code(error);
    if (wire == SB_WIRE_ERROR_OUT_OF_ORDER_SEQUENCE_NUMBER) {
        /* A gap behind an earlier batch that failed (and will be resent first): resend.
         * A gap at the head of the partition (an earlier batch given up was not stored):
         * the batch fails, it is never resent under a new epoch. */
        return batch != batch->partition->head;
    }
    if (wire == SB_WIRE_ERROR_UNKNOWN_PRODUCER_ID) {
        return false; /* Refused: fails, and produce_give_up asks for a new epoch. */
    }
    if (wire == SB_WIRE_ERROR_UNKNOWN_TOPIC_OR_PARTITION ||
        wire == SB_WIRE_ERROR_NOT_LEADER_OR_FOLLOWER || wire == SB_WIRE_ERROR_WRONG_SHARD ||
        wire < 0) {
        metadata_refresh(client);
    }
    return error == SB_ERR_PROTOCOL || sb_client_error_is_retriable(error);
}

static void
produce_answer_batch(struct sb_client *client, struct sb_producer *producer,
                     struct producer_batch *batch, const struct produce_answer *answer,
                     uint64_t now_ns)
{
    struct producer_partition *partition = batch->partition;
    CLIENT_ASSERT(batch->state == BATCH_IN_FLIGHT);
    CLIENT_ASSERT(partition->inflight_count > 0 && producer->inflight_batches > 0);
    producer_list_add(producer, partition, PRODUCER_LIST_READY); /* Room for the next. */
    partition->inflight_count--;
    producer->inflight_batches--;
    batch->state = BATCH_QUEUED;
    int error = answer->error;
    if (error == SB_ERR_WIRE(SB_WIRE_ERROR_DUPLICATE_SEQUENCE_NUMBER) &&
        answer->base_offset >= 0) {
        error = 0; /* The broker had it already: the original offset is the answer. */
    }
    if (error == 0) {
        producer_partition_unlink(partition, batch);
        producer_batch_complete(producer, batch, 0, answer->base_offset,
                                answer->append_time_ms);
        return;
    }
    batch->last_error = error;
    if (produce_retriable(client, batch, error) &&
        batch->attempts <= client->config.retries && now_ns < batch->deadline_ns &&
        producer->fatal_error == 0) {
        partition->retrying = true;
        uint64_t backoff_ns = client_backoff_ns(client, batch->attempts,
                                                client->config.retry_backoff_ms,
                                                client->config.retry_backoff_max_ms);
        partition->retry_at_ns = now_ns + backoff_ns;
        client_log(client, SB_CLIENT_LOG_DEBUG, "retrying %s-%d: %s", partition->topic->name,
                   partition->partition, sb_client_strerror(error));
        return;
    }
    if (error == SB_ERR_PRODUCER_FENCED) {
        producer->fatal_error = error;
    }
    produce_give_up(producer, batch, error);
}

void
produce_done(struct sb_client *client, struct client_request *request, int error,
             const uint8_t *body, size_t body_bytes)
{
    struct produce_context *context = (struct produce_context *)request;
    struct sb_producer *producer = request->owner;
    struct client_conn *conn = context->conn;
    if (producer == NULL) {
        free(context); /* Closed: its batches were already failed. */
        return;
    }
    struct produce_answer *answers = calloc(context->batch_count + 1, sizeof(*answers));
    bool corrupt = false;
    if (answers == NULL) {
        error = error != 0 ? error : -ENOMEM;
    } else if (error == 0 && producer->acks != 0 &&
               produce_decode(context, body, body_bytes, answers) != 0) {
        error = SB_ERR_CORRUPT;
        corrupt = true;
    }
    uint64_t now_ns = client_now_ns();
    for (uint32_t index = 0; index < context->batch_count; index++) {
        struct produce_answer answer = {error, -1, -1, true};
        if (error == 0 && producer->acks != 0) {
            answer = answers[index].found ? answers[index]
                                          : (struct produce_answer){SB_ERR_PROTOCOL, -1, -1, true};
        }
        produce_answer_batch(client, producer, context->batches[index], &answer, now_ns);
    }
    free(answers);
    free(context);
    client_wake(client);
    if (corrupt) {
        /* An answer we cannot decode: the stream is not to be trusted either. */
        conn_fail(client, conn, SB_ERR_CORRUPT);
    }
}
