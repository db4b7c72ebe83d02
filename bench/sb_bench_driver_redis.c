/*
 * bench/sb_bench_driver_redis.c - sb-bench's Redis Streams driver (Debian's
 * hiredis, blocking contexts driven with poll), for side-by-side runs.
 *
 * Mapping: partition p of a topic is the stream key "TOPIC:p". A producer owns
 * one connection and pipelines XADD TOPIC:p * v VALUE: sends are appended to the
 * context's output buffer (written out every PIPELINE_BYTES or before waiting),
 * replies come back in order, so a ring of (sequence, send time, bytes) in send
 * order pairs each reply with its message. This driver has no thread of its
 * own: sb-bench calls producer_progress whenever a producer waits. A consumer
 * owns one connection and reads its partitions with XREAD COUNT BLOCK STREAMS,
 * remembering the last id of each. acks are not a Redis notion: a reply means
 * the command ran, which with appendfsync always comes after the AOF fsync of
 * its event-loop cycle; the durability label is read from the server's config.
 */
#include <errno.h>
#include <hiredis/hiredis.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/sb_bench.h"

/* Output bytes a producer buffers before writing them to the socket. */
#define PIPELINE_BYTES 65536
/* Entries per stream per XREAD. */
#define READ_COUNT "1000"
/* Longest stream id text ("ms-seq"). */
#define ID_BYTES 48

struct redis_state {
    const struct sb_bench_config *config;   /* Borrowed from the run. */
    redisContext *admin;                    /* Setup connection. */
    char durability[SB_BENCH_NAME_BYTES];   /* Label from CONFIG GET. */
};

/* One XADD whose reply has not come. */
struct redis_pending {
    uint64_t sequence;  /* Message sequence. */
    uint64_t send_ns;   /* Send (intended) time. */
    uint32_t bytes;     /* Value bytes. */
};

struct redis_producer {
    struct sb_bench_producer *bench;  /* The bench's producer. */
    redisContext *context;            /* Its connection. */
    struct redis_pending *ring;       /* Pending XADDs in send order. */
    uint64_t ring_mask;               /* Ring capacity - 1 (a power of two). */
    uint64_t head;                    /* Next entry to fill. */
    uint64_t tail;                    /* Oldest pending entry. */
    size_t unwritten_bytes;           /* Roughly what the output buffer holds. */
};

struct redis_consumer {
    struct sb_bench_consumer *bench;  /* The bench's consumer. */
    redisContext *context;            /* Its connection. */
    uint32_t stream_count;            /* Streams read (= assigned partitions). */
    char (*keys)[SB_BENCH_NAME_BYTES + 16]; /* Stream key of each. */
    char (*ids)[ID_BYTES];            /* Last id read of each. */
    const char **argv;                /* XREAD arguments (6 + 2 * stream_count). */
    size_t *lengths;                  /* Their lengths. */
};

static int
redis_connect(const struct sb_bench_config *config, redisContext **context_out)
{
    struct timeval timeout = {5, 0};
    redisContext *context = redisConnectWithTimeout(config->host, config->port, timeout);
    if (context == NULL) {
        return -ENOMEM;
    }
    if (context->err != 0) {
        fprintf(stderr, "sb-bench: redis %s:%u: %s\n", config->host, config->port,
                context->errstr);
        redisFree(context);
        return -ECONNREFUSED;
    }
    *context_out = context;
    return 0;
}

/* The value of CONFIG GET name into value (capacity bytes); "" when unknown. */
static void
config_get(redisContext *context, const char *name, char *value, size_t capacity)
{
    redisReply *reply = redisCommand(context, "CONFIG GET %s", name);
    value[0] = '\0';
    if (reply != NULL && reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 &&
        reply->element[1]->type == REDIS_REPLY_STRING) {
        snprintf(value, capacity, "%s", reply->element[1]->str);
    }
    freeReplyObject(reply);
}

static void
redis_close(void *state_pointer)
{
    struct redis_state *state = state_pointer;
    if (state != NULL) {
        redisFree(state->admin);
        free(state);
    }
}

static int
redis_open(const struct sb_bench_config *config, void **state_out)
{
    char appendonly[16];
    char appendfsync[16];
    struct redis_state *state = calloc(1, sizeof(*state));
    if (state == NULL) {
        return -ENOMEM;
    }
    state->config = config;
    int result = redis_connect(config, &state->admin);
    if (result < 0) {
        redis_close(state);
        return result;
    }
    config_get(state->admin, "appendonly", appendonly, sizeof(appendonly));
    config_get(state->admin, "appendfsync", appendfsync, sizeof(appendfsync));
    if (strcmp(appendonly, "yes") != 0) {
        snprintf(state->durability, sizeof(state->durability), "not durable: no AOF");
    } else if (strcmp(appendfsync, "always") == 0) {
        snprintf(state->durability, sizeof(state->durability),
                 "durable: AOF appendfsync always");
    } else {
        snprintf(state->durability, sizeof(state->durability),
                 "not durable: AOF appendfsync %s", appendfsync);
    }
    *state_out = state;
    return 0;
}

static const char *
redis_durability(void *state_pointer)
{
    struct redis_state *state = state_pointer;
    return state->durability;
}

static int
redis_topic_prepare(void *state_pointer, const char *topic, uint32_t partitions)
{
    struct redis_state *state = state_pointer;
    if (!state->config->recreate) {
        return 0;
    }
    for (uint32_t partition = 0; partition < partitions; partition++) {
        char key[SB_BENCH_NAME_BYTES + 16];
        snprintf(key, sizeof(key), "%s:%u", topic, partition);
        redisReply *reply = redisCommand(state->admin, "DEL %s", key);
        if (reply == NULL) {
            return -EIO;
        }
        freeReplyObject(reply);
    }
    return 0;
}

static void
redis_producer_close(void *handle)
{
    struct redis_producer *producer = handle;
    if (producer->context != NULL) {
        redisFree(producer->context);
    }
    free(producer->ring);
    free(producer);
}

static int
redis_producer_open(void *state_pointer, struct sb_bench_producer *owner, void **handle_out)
{
    struct redis_state *state = state_pointer;
    struct redis_producer *producer = calloc(1, sizeof(*producer));
    if (producer == NULL) {
        return -ENOMEM;
    }
    producer->bench = owner;
    uint64_t capacity = 1;
    while (capacity < owner->in_flight_max) {
        capacity *= 2;
    }
    producer->ring = calloc(capacity, sizeof(*producer->ring));
    producer->ring_mask = capacity - 1;
    int result = producer->ring == NULL ? -ENOMEM
                                        : redis_connect(state->config, &producer->context);
    if (result < 0) {
        redis_producer_close(producer);
        return result;
    }
    *handle_out = producer;
    return 0;
}

/* Writes the whole output buffer (blocking). */
static int
producer_write(struct redis_producer *producer)
{
    int done = 0;
    while (!done) {
        if (redisBufferWrite(producer->context, &done) != REDIS_OK) {
            return -EIO;
        }
    }
    producer->unwritten_bytes = 0;
    return 0;
}

static int
redis_producer_send(void *handle, const struct sb_bench_message *message)
{
    struct redis_producer *producer = handle;
    char key[SB_BENCH_NAME_BYTES + 16];
    if (producer->head - producer->tail > producer->ring_mask) {
        return -ENOBUFS;
    }
    int key_length = snprintf(key, sizeof(key), "%s:%u", message->topic, message->partition);
    const char *argv[] = {"XADD", key, "*", "v", message->value};
    size_t lengths[] = {4, (size_t)key_length, 1, 1, message->value_length};
    if (redisAppendCommandArgv(producer->context, 5, argv, lengths) != REDIS_OK) {
        return -EIO;
    }
    producer->ring[producer->head++ & producer->ring_mask] = (struct redis_pending){
        .sequence = message->sequence, .send_ns = message->send_ns,
        .bytes = (uint32_t)message->value_length};
    producer->unwritten_bytes += message->value_length + 64;
    if (producer->unwritten_bytes >= PIPELINE_BYTES) {
        return producer_write(producer);
    }
    return 0;
}

/* Completes the messages of every whole reply already read. */
static int
producer_take_replies(struct redis_producer *producer)
{
    for (;;) {
        void *reply = NULL;
        if (redisGetReplyFromReader(producer->context, &reply) != REDIS_OK) {
            return -EIO;
        }
        if (reply == NULL) {
            return 0;
        }
        int error = ((redisReply *)reply)->type == REDIS_REPLY_ERROR ? -EIO : 0;
        freeReplyObject(reply);
        if (producer->tail == producer->head) {
            return -EPROTO;
        }
        struct redis_pending pending = producer->ring[producer->tail++ & producer->ring_mask];
        sb_bench_producer_complete(producer->bench, pending.sequence, pending.send_ns,
                                   pending.bytes, error);
    }
}

static int
redis_producer_progress(void *handle, uint64_t deadline_ns)
{
    struct redis_producer *producer = handle;
    int result = producer_write(producer);
    if (result == 0) {
        result = producer_take_replies(producer);
    }
    uint64_t now = sb_bench_now_ns();
    if (result < 0 || deadline_ns <= now) {
        return result;
    }
    if (producer->tail == producer->head) {
        struct timespec until = {.tv_sec = (time_t)(deadline_ns / 1000000000u),
                                 .tv_nsec = (long)(deadline_ns % 1000000000u)};
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL);
        return 0;
    }
    struct pollfd waiting = {.fd = producer->context->fd, .events = POLLIN};
    int timeout_ms = (int)((deadline_ns - now + 999999) / 1000000);
    int ready = poll(&waiting, 1, timeout_ms);
    if (ready < 0) {
        return errno == EINTR ? 0 : -errno;
    }
    if (ready > 0 && redisBufferRead(producer->context) != REDIS_OK) {
        return -EIO;
    }
    return producer_take_replies(producer);
}

static int
redis_producer_flush(void *handle, int timeout_ms)
{
    struct redis_producer *producer = handle;
    uint64_t deadline = sb_bench_now_ns() + (uint64_t)timeout_ms * 1000000u;
    while (producer->tail != producer->head) {
        uint64_t now = sb_bench_now_ns();
        if (now >= deadline) {
            return -ETIMEDOUT;
        }
        int result = redis_producer_progress(producer, now + 100000000u < deadline
                                                           ? now + 100000000u : deadline);
        if (result < 0) {
            return result;
        }
    }
    return 0;
}

static int
redis_ping(void *handle)
{
    struct redis_producer *producer = handle;
    redisReply *reply = redisCommand(producer->context, "PING");
    int result = reply == NULL || reply->type == REDIS_REPLY_ERROR ? -EIO : 0;
    freeReplyObject(reply);
    return result;
}

static void
redis_consumer_close(void *handle)
{
    struct redis_consumer *consumer = handle;
    if (consumer->context != NULL) {
        redisFree(consumer->context);
    }
    free(consumer->keys);
    free(consumer->ids);
    free(consumer->argv);
    free(consumer->lengths);
    free(consumer);
}

/* The id of the last entry of key, or "0-0" for an empty stream. */
static int
stream_last_id(redisContext *context, const char *key, char *id)
{
    redisReply *reply = redisCommand(context, "XREVRANGE %s + - COUNT 1", key);
    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(reply);
        return -EIO;
    }
    snprintf(id, ID_BYTES, "0-0");
    if (reply->elements == 1 && reply->element[0]->type == REDIS_REPLY_ARRAY &&
        reply->element[0]->elements >= 1 &&
        reply->element[0]->element[0]->type == REDIS_REPLY_STRING) {
        snprintf(id, ID_BYTES, "%s", reply->element[0]->element[0]->str);
    }
    freeReplyObject(reply);
    return 0;
}

/* Fills keys, start ids and the constant part of the XREAD arguments. */
static int
consumer_streams_init(struct redis_consumer *consumer, const struct sb_bench_config *config)
{
    const struct sb_bench_consumer *owner = consumer->bench;
    uint32_t count = consumer->stream_count;
    for (uint32_t index = 0; index < count; index++) {
        uint32_t global = owner->assigned[index];
        snprintf(consumer->keys[index], sizeof(consumer->keys[index]), "%s:%u",
                 owner->bench->topic_names[global / config->partitions],
                 global % config->partitions);
        snprintf(consumer->ids[index], ID_BYTES, "0-0");
        if (!config->from_beginning &&
            stream_last_id(consumer->context, consumer->keys[index], consumer->ids[index]) < 0) {
            return -EIO;
        }
        consumer->argv[6 + index] = consumer->keys[index];
        consumer->lengths[6 + index] = strlen(consumer->keys[index]);
    }
    static const char *const head[] = {"XREAD", "COUNT", READ_COUNT, "BLOCK", "0", "STREAMS"};
    for (uint32_t index = 0; index < 6; index++) {
        consumer->argv[index] = head[index];
        consumer->lengths[index] = strlen(head[index]);
    }
    return 0;
}

static int
redis_consumer_open(void *state_pointer, struct sb_bench_consumer *owner, void **handle_out)
{
    struct redis_state *state = state_pointer;
    struct redis_consumer *consumer = calloc(1, sizeof(*consumer));
    if (consumer == NULL) {
        return -ENOMEM;
    }
    uint32_t count = owner->assigned_count;
    consumer->bench = owner;
    consumer->stream_count = count;
    consumer->keys = calloc(count + 1, sizeof(*consumer->keys));
    consumer->ids = calloc(count + 1, sizeof(*consumer->ids));
    consumer->argv = calloc(6 + 2 * (size_t)count, sizeof(*consumer->argv));
    consumer->lengths = calloc(6 + 2 * (size_t)count, sizeof(*consumer->lengths));
    int result = consumer->keys == NULL || consumer->ids == NULL || consumer->argv == NULL ||
                         consumer->lengths == NULL
                     ? -ENOMEM
                     : redis_connect(state->config, &consumer->context);
    if (result == 0) {
        result = consumer_streams_init(consumer, state->config);
    }
    if (result < 0) {
        redis_consumer_close(consumer);
        return result;
    }
    *handle_out = consumer;
    return 0;
}

/* The index of a stream key in the consumer's list (keys are few or sorted by
 * assignment, so a linear scan from a hint is enough). */
static int64_t
stream_index(const struct redis_consumer *consumer, const char *key, uint32_t hint)
{
    for (uint32_t step = 0; step < consumer->stream_count; step++) {
        uint32_t index = (hint + step) % consumer->stream_count;
        if (strcmp(consumer->keys[index], key) == 0) {
            return index;
        }
    }
    return -1;
}

/* Delivers the entries of one stream of an XREAD reply and moves its id on. */
static int
consumer_take_stream(struct redis_consumer *consumer, const redisReply *stream, uint32_t hint)
{
    if (stream->type != REDIS_REPLY_ARRAY || stream->elements != 2 ||
        stream->element[0]->type != REDIS_REPLY_STRING ||
        stream->element[1]->type != REDIS_REPLY_ARRAY) {
        return -EPROTO;
    }
    int64_t index = stream_index(consumer, stream->element[0]->str, hint);
    if (index < 0) {
        return -EPROTO;
    }
    const redisReply *entries = stream->element[1];
    for (size_t entry = 0; entry < entries->elements; entry++) {
        const redisReply *item = entries->element[entry];
        if (item->type != REDIS_REPLY_ARRAY || item->elements != 2 ||
            item->element[1]->type != REDIS_REPLY_ARRAY || item->element[1]->elements < 2) {
            return -EPROTO;
        }
        const redisReply *value = item->element[1]->element[1];
        sb_bench_consumer_deliver(consumer->bench, value->str, value->len);
        snprintf(consumer->ids[index], ID_BYTES, "%s", item->element[0]->str);
    }
    return 0;
}

static int
redis_consumer_poll(void *handle, int timeout_ms)
{
    struct redis_consumer *consumer = handle;
    char block[16];
    uint32_t count = consumer->stream_count;
    snprintf(block, sizeof(block), "%d", timeout_ms > 0 ? timeout_ms : 1);
    consumer->argv[4] = block;
    consumer->lengths[4] = strlen(block);
    for (uint32_t index = 0; index < count; index++) {
        consumer->argv[6 + count + index] = consumer->ids[index];
        consumer->lengths[6 + count + index] = strlen(consumer->ids[index]);
    }
    redisReply *reply = redisCommandArgv(consumer->context, (int)(6 + 2 * count),
                                         consumer->argv, consumer->lengths);
    if (reply == NULL) {
        return -EIO;
    }
    int result = reply->type == REDIS_REPLY_ERROR ? -EIO : 0;
    for (size_t stream = 0; result == 0 && reply->type == REDIS_REPLY_ARRAY &&
                            stream < reply->elements; stream++) {
        result = consumer_take_stream(consumer, reply->element[stream], (uint32_t)stream);
    }
    freeReplyObject(reply);
    return result;
}

const struct sb_bench_driver sb_bench_driver_redis = {
    .name = "redis",
    .open = redis_open,
    .close = redis_close,
    .topic_prepare = redis_topic_prepare,
    .durability = redis_durability,
    .producer_open = redis_producer_open,
    .producer_send = redis_producer_send,
    .producer_progress = redis_producer_progress,
    .producer_flush = redis_producer_flush,
    .producer_close = redis_producer_close,
    .ping = redis_ping,
    .consumer_open = redis_consumer_open,
    .consumer_poll = redis_consumer_poll,
    .consumer_close = redis_consumer_close,
};
