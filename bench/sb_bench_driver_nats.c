/*
 * bench/sb_bench_driver_nats.c - sb-bench's NATS JetStream driver (Debian's
 * libnats), for side-by-side runs with the same workload.
 *
 * Mapping: a topic is a stream of the same name with file storage and subjects
 * "TOPIC.*"; partition p is subject "TOPIC.p" (JetStream keeps per-subject order).
 * Producers publish asynchronously (js_PublishAsync) with at most the in-flight
 * bound pending; the publish-ack handler, on libnats's thread, decodes the
 * message's header to find its sequence and send time. acks=0 publishes plain
 * NATS messages without a JetStream ack (they are still stored). Each producer
 * and consumer has its own connection, so --threads does not apply.
 * Consumers are ordered push consumers (no acks, flow control), one per topic
 * when the consumer reads every partition of it, else one per partition; the
 * subscription callbacks deliver to sb-bench directly.
 * Durability: nats-server 2.9 writes messages to its files but does not fsync
 * each write (no sync option before 2.10), so its figures are labelled not
 * durable; scripts/bench-compare confirms with strace.
 */
#include <errno.h>
#include <nats/nats.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/sb_bench.h"

/* JetStream API and flush waits. */
#define NATS_WAIT_MS 30000
/* Subscriptions of one consumer, at most. */
#define NATS_SUBSCRIPTIONS_MAX 10000

struct nats_state {
    const struct sb_bench_config *config; /* Borrowed from the run. */
    natsConnection *connection;           /* Admin connection. */
    jsCtx *js;                            /* Admin JetStream context. */
};

struct nats_producer {
    struct sb_bench_producer *bench;      /* The bench's producer. */
    natsConnection *connection;           /* Its own connection. */
    jsCtx *js;                            /* Context whose ack handler reports to bench. */
    bool plain;                           /* acks=0: core NATS publish, no ack. */
};

struct nats_consumer {
    struct sb_bench_consumer *bench;                      /* The bench's consumer. */
    natsConnection *connection;                           /* Its own connection. */
    jsCtx *js;                                            /* Its JetStream context. */
    natsSubscription *subscriptions[NATS_SUBSCRIPTIONS_MAX]; /* Ordered consumers. */
    uint32_t subscription_count;                          /* Entries in subscriptions. */
};

/* A libnats status as -errno, printing libnats's text the first time. */
static int
nats_error(natsStatus status, const char *what)
{
    static _Atomic bool printed;
    if (status == NATS_OK) {
        return 0;
    }
    if (!atomic_exchange(&printed, true)) {
        fprintf(stderr, "sb-bench: nats %s: %s (%s)\n", what, natsStatus_GetText(status),
                nats_GetLastError(NULL));
    }
    switch (status) {
    case NATS_TIMEOUT:
        return -ETIMEDOUT;
    case NATS_NO_SERVER:
    case NATS_CONNECTION_CLOSED:
        return -ECONNREFUSED;
    case NATS_NO_MEMORY:
        return -ENOMEM;
    default:
        return -EIO;
    }
}

static int
nats_connect(const struct sb_bench_config *config, natsConnection **connection_out)
{
    natsOptions *options = NULL;
    char url[SB_BENCH_NAME_BYTES + 32];
    snprintf(url, sizeof(url), "nats://%s:%u", config->host, config->port);
    natsStatus status = natsOptions_Create(&options);
    if (status == NATS_OK) {
        status = natsOptions_SetURL(options, url);
    }
    if (status == NATS_OK) {
        status = natsOptions_SetTimeout(options, 5000);
    }
    if (status == NATS_OK) {
        status = natsConnection_Connect(connection_out, options);
    }
    natsOptions_Destroy(options);
    return nats_error(status, "connect");
}

static void
nats_close(void *state_pointer)
{
    struct nats_state *state = state_pointer;
    if (state != NULL) {
        jsCtx_Destroy(state->js);
        natsConnection_Destroy(state->connection);
        free(state);
    }
}

static int
nats_open(const struct sb_bench_config *config, void **state_out)
{
    struct nats_state *state = calloc(1, sizeof(*state));
    if (state == NULL) {
        return -ENOMEM;
    }
    state->config = config;
    int result = nats_connect(config, &state->connection);
    if (result == 0) {
        result = nats_error(natsConnection_JetStream(&state->js, state->connection, NULL),
                            "jetstream");
    }
    if (result < 0) {
        nats_close(state);
        return result;
    }
    *state_out = state;
    return 0;
}

static const char *
nats_durability(void *state_pointer)
{
    (void)state_pointer;
    return "not durable: nats-server 2.9 does not fsync each write";
}

static int
nats_topic_prepare(void *state_pointer, const char *topic, uint32_t partitions)
{
    struct nats_state *state = state_pointer;
    jsErrCode code = 0;
    jsStreamInfo *info = NULL;
    (void)partitions;
    if (!state->config->create) {
        natsStatus status = js_GetStreamInfo(&info, state->js, topic, NULL, &code);
        jsStreamInfo_Destroy(info);
        return nats_error(status, "stream info");
    }
    if (state->config->recreate) {
        js_DeleteStream(state->js, topic, NULL, &code);
    }
    char subject[SB_BENCH_NAME_BYTES + 8];
    snprintf(subject, sizeof(subject), "%s.*", topic);
    const char *subjects[] = {subject};
    jsStreamConfig stream;
    jsStreamConfig_Init(&stream);
    stream.Name = topic;
    stream.Subjects = subjects;
    stream.SubjectsLen = 1;
    stream.Storage = js_FileStorage;
    stream.Replicas = 1;
    natsStatus status = js_AddStream(&info, state->js, &stream, NULL, &code);
    jsStreamInfo_Destroy(info);
    if (status != NATS_OK && code == JSStreamNameExistErr) {
        return 0;
    }
    return nats_error(status, "add stream");
}

static void
nats_acked(jsCtx *js, natsMsg *message, jsPubAck *ack, jsPubAckErr *ack_error, void *closure)
{
    struct nats_producer *producer = closure;
    uint32_t producer_id;
    uint64_t sequence = 0;
    uint64_t send_ns = 0;
    uint32_t partition;
    const char *data = natsMsg_GetData(message);
    size_t length = (size_t)natsMsg_GetDataLength(message);
    (void)js;
    (void)ack_error;
    if (!sb_bench_message_parse(data, length, &producer_id, &sequence, &send_ns, &partition)) {
        send_ns = sb_bench_now_ns();
    }
    sb_bench_producer_complete(producer->bench, sequence, send_ns, length,
                               ack != NULL ? 0 : -EIO);
    natsMsg_Destroy(message);
}

static void
nats_producer_close(void *handle)
{
    struct nats_producer *producer = handle;
    jsCtx_Destroy(producer->js);
    natsConnection_Destroy(producer->connection);
    free(producer);
}

static int
nats_producer_open(void *state_pointer, struct sb_bench_producer *owner, void **handle_out)
{
    struct nats_state *state = state_pointer;
    struct nats_producer *producer = calloc(1, sizeof(*producer));
    if (producer == NULL) {
        return -ENOMEM;
    }
    producer->bench = owner;
    producer->plain = strcmp(state->config->acks, "0") == 0;
    int result = nats_connect(state->config, &producer->connection);
    if (result == 0) {
        jsOptions options;
        jsOptions_Init(&options);
        options.Wait = NATS_WAIT_MS;
        options.PublishAsync.MaxPending = (int64_t)owner->in_flight_max + 1;
        options.PublishAsync.AckHandler = nats_acked;
        options.PublishAsync.AckHandlerClosure = producer;
        result = nats_error(natsConnection_JetStream(&producer->js, producer->connection,
                                                     &options), "jetstream");
    }
    if (result < 0) {
        nats_producer_close(producer);
        return result;
    }
    *handle_out = producer;
    return 0;
}

static int
nats_producer_send(void *handle, const struct sb_bench_message *message)
{
    struct nats_producer *producer = handle;
    char subject[SB_BENCH_NAME_BYTES + 16];
    snprintf(subject, sizeof(subject), "%s.%u", message->topic, message->partition);
    if (producer->plain) {
        int result = nats_error(natsConnection_Publish(producer->connection, subject,
                                                       message->value,
                                                       (int)message->value_length), "publish");
        if (result == 0) {
            sb_bench_producer_complete(producer->bench, message->sequence, message->send_ns,
                                       message->value_length, 0);
        }
        return result;
    }
    return nats_error(js_PublishAsync(producer->js, subject, message->value,
                                      (int)message->value_length, NULL), "publish");
}

static int
nats_producer_flush(void *handle, int timeout_ms)
{
    struct nats_producer *producer = handle;
    if (producer->plain) {
        return nats_error(natsConnection_FlushTimeout(producer->connection, timeout_ms),
                          "flush");
    }
    jsPubOptions options;
    jsPubOptions_Init(&options);
    options.MaxWait = timeout_ms;
    return nats_error(js_PublishAsyncComplete(producer->js, &options), "flush");
}

static int
nats_ping(void *handle)
{
    struct nats_producer *producer = handle;
    return nats_error(natsConnection_FlushTimeout(producer->connection, NATS_WAIT_MS), "ping");
}

static void
nats_received(natsConnection *connection, natsSubscription *subscription, natsMsg *message,
              void *closure)
{
    struct nats_consumer *consumer = closure;
    (void)connection;
    (void)subscription;
    sb_bench_consumer_deliver(consumer->bench, natsMsg_GetData(message),
                              (size_t)natsMsg_GetDataLength(message));
    natsMsg_Destroy(message);
}

static void
nats_consumer_close(void *handle)
{
    struct nats_consumer *consumer = handle;
    for (uint32_t index = 0; index < consumer->subscription_count; index++) {
        natsSubscription_Unsubscribe(consumer->subscriptions[index]);
        natsSubscription_Destroy(consumer->subscriptions[index]);
    }
    jsCtx_Destroy(consumer->js);
    natsConnection_Destroy(consumer->connection);
    free(consumer);
}

/* Starts an ordered consumer of subject in stream topic. */
static int
nats_subscribe(struct nats_consumer *consumer, const struct sb_bench_config *config,
               const char *topic, const char *subject)
{
    natsSubscription *subscription = NULL;
    jsErrCode code = 0;
    jsSubOptions options;
    jsSubOptions_Init(&options);
    options.Stream = topic;
    options.Ordered = true;
    options.Config.DeliverPolicy = config->from_beginning ? js_DeliverAll : js_DeliverNew;
    if (consumer->subscription_count == NATS_SUBSCRIPTIONS_MAX) {
        return -ENOBUFS;
    }
    int result = nats_error(js_Subscribe(&subscription, consumer->js, subject, nats_received,
                                         consumer, NULL, &options, &code), "subscribe");
    if (result == 0) {
        consumer->subscriptions[consumer->subscription_count++] = subscription;
        result = nats_error(natsSubscription_SetPendingLimits(subscription, -1, -1),
                            "pending limits");
    }
    return result;
}

/* Subscribes to each assigned partition, or to TOPIC.* when every partition is ours. */
static int
nats_subscribe_all(struct nats_consumer *consumer, const struct sb_bench_config *config)
{
    const struct sb_bench_consumer *owner = consumer->bench;
    bool whole_topics = owner->assigned_count == config->topic_count * config->partitions;
    int result = 0;
    for (uint32_t index = 0; index < owner->assigned_count && result == 0; index++) {
        uint32_t topic_index = owner->assigned[index] / config->partitions;
        uint32_t partition = owner->assigned[index] % config->partitions;
        const char *topic = owner->bench->topic_names[topic_index];
        char subject[SB_BENCH_NAME_BYTES + 16];
        if (whole_topics && partition != 0) {
            continue;
        }
        if (whole_topics) {
            snprintf(subject, sizeof(subject), "%s.*", topic);
        } else {
            snprintf(subject, sizeof(subject), "%s.%u", topic, partition);
        }
        result = nats_subscribe(consumer, config, topic, subject);
    }
    return result;
}

static int
nats_consumer_open(void *state_pointer, struct sb_bench_consumer *owner, void **handle_out)
{
    struct nats_state *state = state_pointer;
    struct nats_consumer *consumer = calloc(1, sizeof(*consumer));
    if (consumer == NULL) {
        return -ENOMEM;
    }
    consumer->bench = owner;
    int result = nats_connect(state->config, &consumer->connection);
    if (result == 0) {
        result = nats_error(natsConnection_JetStream(&consumer->js, consumer->connection, NULL),
                            "jetstream");
    }
    if (result == 0) {
        result = nats_subscribe_all(consumer, state->config);
    }
    if (result < 0) {
        nats_consumer_close(consumer);
        return result;
    }
    *handle_out = consumer;
    return 0;
}

/* Messages arrive on the subscriptions' threads; the consumer thread only waits. */
static int
nats_consumer_poll(void *handle, int timeout_ms)
{
    (void)handle;
    struct timespec pause = {timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000L};
    nanosleep(&pause, NULL);
    return 0;
}

const struct sb_bench_driver sb_bench_driver_nats = {
    .name = "nats",
    .open = nats_open,
    .close = nats_close,
    .topic_prepare = nats_topic_prepare,
    .durability = nats_durability,
    .producer_open = nats_producer_open,
    .producer_send = nats_producer_send,
    .producer_progress = NULL,
    .producer_flush = nats_producer_flush,
    .producer_close = nats_producer_close,
    .ping = nats_ping,
    .consumer_open = nats_consumer_open,
    .consumer_poll = nats_consumer_poll,
    .consumer_close = nats_consumer_close,
};
