/*
 * bench/sb_bench_driver_streambus.c - sb-bench's StreamBus driver, on the
 * public API of libstreambus (streambus/streambus.h) only.
 *
 * --threads N opens N clients (each one I/O thread and its connections);
 * producer i uses client i % N and consumer j client (producers + j) % N.
 * Each producer is one sb_producer with the run's acks, linger.ms, batch.bytes
 * and compression (idempotence as the library defaults: on unless acks=0).
 * sb-bench picks every message's partition itself, the same way for every driver.
 * A delivery callback learns its message from a slot of the producer's slot
 * table (one per message in flight; the table is as large as the in-flight
 * bound, so a free slot always exists when the bench loop sends). No lock: the
 * producer's thread claims a slot that is not busy (scanning on from the last one
 * claimed) and the delivery callback, after reading it, clears busy with release.
 * Consumers assign their partitions, seek, and wait until every position is
 * known, so an e2e run's consumers are in place before the first send. After the
 * run, each partition's lag (sb_consumer_lag) tells what a consumer left behind.
 * With --group, the clients carry group.id (enable.auto.commit off) and each consumer
 * subscribes to the run's topics: its rebalance callback tells sb_bench_group.c what moved
 * and commits the revoked partitions' positions (commit_sync, timed); after records were
 * delivered, poll commits every position at most every --commit-interval-ms (commit_async
 * with one in flight, or commit_sync), timing each; a commit refused because the member was
 * fenced is counted, not an error of the run. sb_consumer_close leaves the group,
 * committing on revoke.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/sb_bench.h"
#include "streambus/streambus.h"

/* Admin calls and position lookups wait this long. */
#define ADMIN_TIMEOUT_MS 30000
/* Records handed over per consumer_poll call, at most. */
#define POLL_RECORDS_MAX 4096

struct streambus_state {
    const struct sb_bench_config *config;              /* Borrowed from the run. */
    struct sb_client *clients[SB_BENCH_THREADS_MAX];   /* config->threads clients. */
};

struct streambus_producer;

/* One message in flight. */
struct streambus_slot {
    struct streambus_producer *owner; /* Its producer. */
    uint64_t sequence;                /* Message sequence. */
    uint64_t send_ns;                 /* Send (intended) time. */
    uint32_t bytes;                   /* Value bytes. */
    _Atomic bool busy;                /* Claimed by a send, until its delivery. */
};

struct streambus_producer {
    struct sb_bench_producer *bench;  /* The bench's producer. */
    struct sb_client *client;         /* Its client. */
    struct sb_producer *producer;     /* The library's producer. */
    struct streambus_slot *slots;     /* slot_count slots. */
    uint32_t slot_count;              /* = the producer's in-flight bound. */
    uint32_t cursor;                  /* Where the next claim looks first (its thread). */
};

struct streambus_consumer {
    struct sb_bench_consumer *bench;  /* The bench's consumer. */
    struct sb_consumer *consumer;     /* The library's consumer. */
    struct sb_bench_group *group;     /* --group figures, or NULL. */
    uint32_t topic_index;             /* Topic of the last record (a lookup cache). */
    uint32_t *moved;                  /* --group: a callback's global partitions. */
    struct sb_consumer_partition *revoked; /* --group: revoked positions to commit. */
    bool uncommitted;                 /* --group: delivered since the last commit. */
    uint64_t commit_ns;               /* --group: when the last commit started. */
    _Atomic bool commit_pending;      /* --group: an async commit is in flight. */
};

static int
config_build(const struct sb_bench_config *config, struct sb_client_config **out)
{
    struct sb_client_config *client_config = sb_client_config_new();
    char servers[SB_BENCH_NAME_BYTES + 16];
    char batch[32];
    char linger[32];
    if (client_config == NULL) {
        return -ENOMEM;
    }
    snprintf(servers, sizeof(servers), "%s:%u", config->host, config->port);
    snprintf(batch, sizeof(batch), "%u", config->batch_bytes);
    snprintf(linger, sizeof(linger), "%u", config->linger_ms);
    const char *settings[][2] = {
        {"bootstrap.servers", servers}, {"client.id", "sb-bench"}, {"acks", config->acks},
        {"linger.ms", linger}, {"batch.bytes", batch}, {"compression", config->compression},
        {"auto.offset.reset", config->from_beginning ? "earliest" : "latest"},
        {"max.block.ms", "10000"}, {"group.id", config->group != NULL ? config->group : ""},
        {"enable.auto.commit", config->group != NULL ? "false" : "true"}};
    for (size_t index = 0; index < sizeof(settings) / sizeof(settings[0]); index++) {
        int result = sb_client_config_set(client_config, settings[index][0], settings[index][1]);
        if (result < 0) {
            fprintf(stderr, "sb-bench: %s=%s: %s\n", settings[index][0], settings[index][1],
                    sb_client_strerror(result));
            sb_client_config_free(client_config);
            return result;
        }
    }
    *out = client_config;
    return 0;
}

static void
streambus_close(void *state_pointer)
{
    struct streambus_state *state = state_pointer;
    if (state == NULL) {
        return;
    }
    for (uint32_t index = 0; index < SB_BENCH_THREADS_MAX; index++) {
        sb_client_close(state->clients[index]);
    }
    free(state);
}

static int
streambus_open(const struct sb_bench_config *config, void **state_out)
{
    struct sb_client_config *client_config;
    struct streambus_state *state = calloc(1, sizeof(*state));
    if (state == NULL) {
        return -ENOMEM;
    }
    state->config = config;
    int result = config_build(config, &client_config);
    for (uint32_t index = 0; result == 0 && index < config->threads; index++) {
        result = sb_client_open(client_config, &state->clients[index]);
    }
    if (result == 0) {
        sb_client_config_free(client_config);
        *state_out = state;
        return 0;
    }
    streambus_close(state);
    return result;
}

static const char *
streambus_durability(void *state_pointer)
{
    struct streambus_state *state = state_pointer;
    if (strcmp(state->config->acks, "all") == 0) {
        return "durable: acked after the WAL fdatasync";
    }
    if (strcmp(state->config->acks, "1") == 0) {
        return "acks=1: acked when appended in memory";
    }
    return "acks=0: not acknowledged";
}

static int
topic_check(struct sb_client *client, const char *topic, uint32_t partitions)
{
    int count = sb_client_partition_count(client, topic, ADMIN_TIMEOUT_MS);
    if (count < 0) {
        return count;
    }
    if ((uint32_t)count != partitions) {
        fprintf(stderr, "sb-bench: topic %s has %d partitions, not %u (use --recreate)\n",
                topic, count, partitions);
        return -EINVAL;
    }
    return 0;
}

static int
streambus_topic_prepare(void *state_pointer, const char *topic, uint32_t partitions)
{
    struct streambus_state *state = state_pointer;
    struct sb_client *client = state->clients[0];
    if (!state->config->create) {
        return topic_check(client, topic, partitions);
    }
    if (state->config->recreate) {
        int result = sb_admin_topic_delete(client, topic, ADMIN_TIMEOUT_MS);
        if (result < 0 && result != SB_ERR_UNKNOWN_TOPIC) {
            return result;
        }
    }
    int result = sb_admin_topic_create(client, topic, (int32_t)partitions, NULL, 0,
                                       ADMIN_TIMEOUT_MS);
    if (result == SB_ERR_TOPIC_EXISTS) {
        return topic_check(client, topic, partitions);
    }
    return result;
}

static void
streambus_producer_close(void *handle)
{
    struct streambus_producer *producer = handle;
    sb_producer_close(producer->producer, 0);
    free(producer->slots);
    free(producer);
}

static int
streambus_producer_open(void *state_pointer, struct sb_bench_producer *owner, void **handle_out)
{
    struct streambus_state *state = state_pointer;
    struct streambus_producer *producer = calloc(1, sizeof(*producer));
    if (producer == NULL) {
        return -ENOMEM;
    }
    producer->bench = owner;
    producer->client = state->clients[owner->index % state->config->threads];
    producer->slot_count = (uint32_t)owner->in_flight_max;
    producer->slots = calloc(producer->slot_count, sizeof(*producer->slots));
    if (producer->slots == NULL) {
        streambus_producer_close(producer);
        return -ENOMEM;
    }
    for (uint32_t index = 0; index < producer->slot_count; index++) {
        producer->slots[index].owner = producer;
    }
    int result = sb_producer_open(producer->client, &producer->producer);
    if (result < 0) {
        streambus_producer_close(producer);
        return result;
    }
    *handle_out = producer;
    return 0;
}

static void
streambus_delivered(const struct sb_producer_delivery *delivery, void *opaque)
{
    struct streambus_slot *slot = opaque;
    struct streambus_producer *producer = slot->owner;
    uint64_t sequence = slot->sequence;
    uint64_t send_ns = slot->send_ns;
    uint32_t bytes = slot->bytes;
    /* Orders the reads above before the producer's thread reuses the slot. */
    atomic_store_explicit(&slot->busy, false, memory_order_release);
    sb_bench_producer_complete(producer->bench, sequence, send_ns, bytes, delivery->error);
}

/* A slot that is not busy, marked busy; NULL when every slot is (cannot happen while the
 * bench loop keeps within the in-flight bound). The producer's thread only. */
static struct streambus_slot *
slot_claim(struct streambus_producer *producer)
{
    for (uint32_t step = 0; step < producer->slot_count; step++) {
        struct streambus_slot *slot = &producer->slots[producer->cursor];
        producer->cursor = producer->cursor + 1 < producer->slot_count ? producer->cursor + 1
                                                                       : 0;
        /* Pairs with the release in streambus_delivered: its reads of the slot are done. */
        if (!atomic_load_explicit(&slot->busy, memory_order_acquire)) {
            atomic_store_explicit(&slot->busy, true, memory_order_relaxed);
            return slot;
        }
    }
    return NULL;
}

static int
streambus_producer_send(void *handle, const struct sb_bench_message *message)
{
    struct streambus_producer *producer = handle;
    struct streambus_slot *slot = slot_claim(producer);
    if (slot == NULL) {
        return -ENOBUFS;
    }
    slot->sequence = message->sequence;
    slot->send_ns = message->send_ns;
    slot->bytes = (uint32_t)message->value_length;
    struct sb_producer_message record = {
        .topic = message->topic, .partition = (int32_t)message->partition,
        .key = message->key, .key_length = message->key_length, .value = message->value,
        .value_length = message->value_length};
    int result = sb_producer_send(producer->producer, &record, streambus_delivered, slot);
    if (result < 0) {
        atomic_store_explicit(&slot->busy, false, memory_order_relaxed);
    }
    return result;
}

static int
streambus_producer_flush(void *handle, int timeout_ms)
{
    struct streambus_producer *producer = handle;
    return sb_producer_flush(producer->producer, timeout_ms);
}

static int
streambus_ping(void *handle)
{
    struct streambus_producer *producer = handle;
    struct sb_admin_health *health = NULL;
    int result = sb_admin_health(producer->client, ADMIN_TIMEOUT_MS, &health);
    sb_admin_health_free(health);
    return result;
}

static void
streambus_consumer_close(void *handle)
{
    struct streambus_consumer *consumer = handle;
    sb_consumer_close(consumer->consumer); /* Runs the last revoke callback. */
    free(consumer->moved);
    free(consumer->revoked);
    free(consumer);
}

/* Assigns and seeks every partition (pass 0; with --group the group assigned them), then
 * waits until each position is known (pass 1). */
static int
consumer_positions(struct streambus_consumer *consumer, const struct sb_bench_config *config,
                   int first_pass)
{
    struct sb_bench_consumer *owner = consumer->bench;
    int64_t start = config->from_beginning ? SB_OFFSET_BEGINNING : SB_OFFSET_END;
    for (int pass = first_pass; pass < 2; pass++) {
        for (uint32_t index = 0; index < owner->assigned_count; index++) {
            const char *topic = owner->bench->topic_names[owner->assigned[index] /
                                                          config->partitions];
            int32_t partition = (int32_t)(owner->assigned[index] % config->partitions);
            int64_t position;
            int result = pass == 0
                             ? sb_consumer_assign(consumer->consumer, topic, partition)
                             : sb_consumer_position(consumer->consumer, topic, partition,
                                                    ADMIN_TIMEOUT_MS, &position);
            if (result == 0 && pass == 0) {
                result = sb_consumer_seek(consumer->consumer, topic, partition, start);
            }
            if (result < 0) {
                fprintf(stderr, "sb-bench: %s/%d: %s\n", topic, partition,
                        sb_client_strerror(result));
                return result;
            }
        }
    }
    return 0;
}

/* The global partition (topic index * partitions + partition) of a record or callback
 * entry; UINT32_MAX for a topic that is not the run's. */
static uint32_t
global_partition(struct streambus_consumer *consumer, const char *topic, int32_t partition)
{
    const struct sb_bench *bench = consumer->bench->bench;
    uint32_t topics = bench->config.topic_count;
    for (uint32_t step = 0; step < topics; step++) {
        uint32_t index = (consumer->topic_index + step) % topics;
        if (strcmp(bench->topic_names[index], topic) == 0) {
            consumer->topic_index = index;
            return partition >= 0 && (uint32_t)partition < bench->config.partitions
                       ? index * bench->config.partitions + (uint32_t)partition : UINT32_MAX;
        }
    }
    return UINT32_MAX;
}

/* Times a commit. A commit refused because the member was fenced (its partitions are lost
 * and go to the group again, their uncommitted tail redelivered) is only counted; any other
 * failure is also an error of the run. */
static void
commit_done(struct streambus_consumer *consumer, uint64_t start_ns, int error)
{
    sb_bench_group_commit(consumer->group, sb_bench_now_ns() - start_ns, error);
    if (error < 0 && error != SB_ERR_UNKNOWN_MEMBER_ID && error != SB_ERR_FENCED_MEMBER_EPOCH) {
        sb_bench_recorder_error(&consumer->bench->recorder, "commit", error);
    }
}

/* The outcome of commit_async, on the client's I/O thread. */
static void
commit_async_done(struct sb_consumer *library, int error,
                  const struct sb_consumer_partition *offsets, size_t count, void *opaque)
{
    struct streambus_consumer *consumer = opaque;
    (void)library;
    (void)offsets;
    (void)count;
    commit_done(consumer, consumer->commit_ns, error);
    atomic_store(&consumer->commit_pending, false);
}

/* Commits every position once records were delivered since the last commit, the interval
 * passed and no async commit is in flight. */
static void
commit_when_due(struct streambus_consumer *consumer)
{
    const struct sb_bench_config *config = &consumer->bench->bench->config;
    uint64_t now = sb_bench_now_ns();
    if (!consumer->uncommitted || consumer->bench->assigned_count == 0 ||
        atomic_load(&consumer->commit_pending) ||
        now - consumer->commit_ns < (uint64_t)config->commit_interval_ms * 1000000u) {
        return;
    }
    consumer->uncommitted = false;
    consumer->commit_ns = now;
    if (config->commit == SB_BENCH_COMMIT_SYNC) {
        commit_done(consumer, now,
                    sb_consumer_commit_sync(consumer->consumer, NULL, 0, ADMIN_TIMEOUT_MS));
        return;
    }
    atomic_store(&consumer->commit_pending, true);
    int result = sb_consumer_commit_async(consumer->consumer, NULL, 0, commit_async_done,
                                          consumer);
    if (result < 0) {
        atomic_store(&consumer->commit_pending, false);
        commit_done(consumer, now, result);
    }
}

/* Commits the positions of revoked partitions (those that have one), timed. */
static void
commit_revoked(struct streambus_consumer *consumer,
               const struct sb_consumer_partition *partitions, size_t count)
{
    uint32_t total = consumer->group->partitions_total;
    size_t known = 0;
    for (size_t index = 0; index < count && known < total; index++) {
        if (partitions[index].offset >= 0) {
            consumer->revoked[known] = partitions[index];
            consumer->revoked[known].metadata = NULL;
            known++;
        }
    }
    if (known > 0) {
        uint64_t start = sb_bench_now_ns();
        commit_done(consumer, start, sb_consumer_commit_sync(consumer->consumer,
                                                             consumer->revoked, known,
                                                             ADMIN_TIMEOUT_MS));
    }
}

/* The rebalance callback, on the thread that polls: revoked partitions are committed
 * first, then sb_bench_group.c learns what moved. */
static void
on_rebalance(struct sb_consumer *library, int event,
             const struct sb_consumer_partition *partitions, size_t count, void *opaque)
{
    struct streambus_consumer *consumer = opaque;
    (void)library;
    if (event == SB_CONSUMER_REVOKED) {
        commit_revoked(consumer, partitions, count);
    }
    size_t moved = 0;
    for (size_t index = 0; index < count && moved < consumer->group->partitions_total;
         index++) {
        uint32_t partition = global_partition(consumer, partitions[index].topic,
                                              partitions[index].partition);
        if (partition != UINT32_MAX) {
            consumer->moved[moved++] = partition;
        }
    }
    enum sb_bench_group_kind kind = event == SB_CONSUMER_ASSIGNED ? SB_BENCH_GROUP_ASSIGNED
                                    : event == SB_CONSUMER_REVOKED ? SB_BENCH_GROUP_REVOKED
                                                                   : SB_BENCH_GROUP_LOST;
    sb_bench_group_rebalance(consumer->group, consumer->bench, kind, consumer->moved, moved);
}

/* --group: subscribes to every topic of the run. */
static int
consumer_subscribe(struct streambus_consumer *consumer, const struct sb_bench_config *config)
{
    struct sb_bench *bench = consumer->bench->bench;
    uint32_t total = config->topic_count * config->partitions;
    const char **topics = calloc(config->topic_count, sizeof(*topics));
    consumer->group = bench->group;
    consumer->moved = calloc(total, sizeof(*consumer->moved));
    consumer->revoked = calloc(total, sizeof(*consumer->revoked));
    if (topics == NULL || consumer->moved == NULL || consumer->revoked == NULL) {
        free(topics);
        return -ENOMEM;
    }
    for (uint32_t index = 0; index < config->topic_count; index++) {
        topics[index] = bench->topic_names[index];
    }
    int result = sb_consumer_set_rebalance_callback(consumer->consumer, on_rebalance, consumer);
    if (result == 0) {
        result = sb_consumer_subscribe(consumer->consumer, topics, config->topic_count);
    }
    if (result == 0) {
        sb_bench_group_subscribed(consumer->group);
    }
    free(topics);
    return result;
}

static int
streambus_consumer_open(void *state_pointer, struct sb_bench_consumer *owner, void **handle_out)
{
    struct streambus_state *state = state_pointer;
    const struct sb_bench_config *config = state->config;
    struct streambus_consumer *consumer = calloc(1, sizeof(*consumer));
    if (consumer == NULL) {
        return -ENOMEM;
    }
    consumer->bench = owner;
    struct sb_client *client = state->clients[(config->producers + owner->index) %
                                              config->threads];
    int result = sb_consumer_open(client, &consumer->consumer);
    if (result == 0) {
        result = config->group != NULL ? consumer_subscribe(consumer, config)
                                       : consumer_positions(consumer, config, 0);
    }
    if (result < 0) {
        streambus_consumer_close(consumer);
        return result;
    }
    *handle_out = consumer;
    return 0;
}

static int
streambus_consumer_poll(void *handle, int timeout_ms)
{
    struct streambus_consumer *consumer = handle;
    int result = 0;
    for (uint32_t count = 0; count < POLL_RECORDS_MAX; count++) {
        const struct sb_consumer_record *record;
        result = sb_consumer_poll(consumer->consumer, count == 0 ? timeout_ms : 0, &record);
        if (result <= 0) {
            break;
        }
        if (consumer->group == NULL) {
            sb_bench_consumer_deliver(consumer->bench, record->value, record->value_length);
            continue;
        }
        uint32_t partition = global_partition(consumer, record->topic, record->partition);
        if (!sb_bench_group_deliver(consumer->group, consumer->bench->index, partition,
                                    record->offset)) {
            sb_bench_consumer_deliver(consumer->bench, record->value, record->value_length);
        }
        consumer->uncommitted = true;
    }
    if (result >= 0 && consumer->group != NULL) {
        commit_when_due(consumer);
    }
    return result < 0 ? result : 0;
}

static int
streambus_consumer_ready(void *handle)
{
    struct streambus_consumer *consumer = handle;
    return consumer_positions(consumer, &consumer->bench->bench->config, 1);
}

static int
streambus_consumer_lag(void *handle, uint32_t index, uint64_t *lag_out)
{
    struct streambus_consumer *consumer = handle;
    struct sb_bench_consumer *owner = consumer->bench;
    uint32_t partitions = owner->bench->config.partitions;
    const char *topic = owner->bench->topic_names[owner->assigned[index] / partitions];
    int64_t lag = 0;
    /* No wait: after the run, a partition whose end is still unknown was never answered. */
    int result = sb_consumer_lag(consumer->consumer, topic,
                                 (int32_t)(owner->assigned[index] % partitions), 0, &lag);
    if (result == 0) {
        *lag_out = (uint64_t)lag;
    }
    return result;
}

const struct sb_bench_driver sb_bench_driver_streambus = {
    .name = "streambus",
    .open = streambus_open,
    .close = streambus_close,
    .topic_prepare = streambus_topic_prepare,
    .durability = streambus_durability,
    .producer_open = streambus_producer_open,
    .producer_send = streambus_producer_send,
    .producer_progress = NULL,
    .producer_flush = streambus_producer_flush,
    .producer_close = streambus_producer_close,
    .ping = streambus_ping,
    .consumer_open = streambus_consumer_open,
    .consumer_poll = streambus_consumer_poll,
    .consumer_lag = streambus_consumer_lag,
    .consumer_close = streambus_consumer_close,
    .consumer_ready = streambus_consumer_ready,
    .groups = true,
};
