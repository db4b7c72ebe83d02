/*
 * test/client/test_restart.c - the client while the broker goes away: an
 * idempotent producer streaming async sends while the broker is killed (-9)
 * or stopped and restarted must end with every record present exactly once,
 * in order; back-pressure when the broker is down (send blocks up to
 * max.block.ms, then SB_ERR_FULL; delivery timeouts; flush and close
 * deadlines); consumers and admin calls that carry on after a restart.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/client_private.h"
#include "test/client/client_fixture.h"

TestSuite(restart, .fini = cluster_cleanup);

#define STREAM_RECORDS 20000
#define STREAM_PARTITIONS 2

/* A sender thread and what its callbacks saw. */
struct stream {
    struct sb_producer *producer;         /* Shared producer. */
    uint32_t acked;                       /* Successful callbacks. */
    uint32_t failed;                      /* Failed callbacks. */
    int first_error;                      /* First failure. */
    int send_error;                       /* First send error. */
    int64_t offsets[STREAM_RECORDS];      /* Offset reported per record. */
};

static void
on_stream_delivery(const struct sb_producer_delivery *delivery, void *opaque)
{
    struct stream *stream = *(struct stream **)opaque;
    uint32_t index = (uint32_t)(uintptr_t)((void **)opaque)[1];
    stream->offsets[index] = delivery->offset;
    if (delivery->error != 0) {
        __atomic_compare_exchange_n(&stream->first_error, &(int){0}, delivery->error, false,
                                    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
        __atomic_fetch_add(&stream->failed, 1, __ATOMIC_SEQ_CST);
    } else {
        __atomic_fetch_add(&stream->acked, 1, __ATOMIC_SEQ_CST);
    }
}

static void *stream_slots[STREAM_RECORDS][2];

/* Sends STREAM_RECORDS records "r<i>" round the partitions, paced so the stream spans
 * the restart. */
static void *
stream_send(void *argument)
{
    struct stream *stream = argument;
    for (uint32_t index = 0; index < STREAM_RECORDS; index++) {
        char value[32];
        int length = snprintf(value, sizeof(value), "r%u", index);
        stream_slots[index][0] = stream;
        stream_slots[index][1] = (void *)(uintptr_t)index;
        struct sb_producer_message message = {
            .topic = "stream", .partition = (int32_t)(index % STREAM_PARTITIONS),
            .value = value, .value_length = (size_t)length};
        int result = sb_producer_send(stream->producer, &message, on_stream_delivery,
                                      stream_slots[index]);
        if (result != 0) {
            stream->send_error = result;
            break;
        }
        if (index % 200 == 199) {
            test_sleep_ms(15);
        }
    }
    return NULL;
}

/* Reads a whole partition and checks it holds exactly its records, in order. */
static void
check_partition_exactly_once(struct cluster *cluster, int32_t partition,
                             const struct stream *stream)
{
    uint32_t expected = STREAM_RECORDS / STREAM_PARTITIONS;
    static struct test_record records[STREAM_RECORDS];
    uint32_t read = cluster_read(cluster->client, "stream", partition, 0, records, expected + 10,
                                 1500);
    cr_assert_eq(read, expected, "partition %d holds %u records, not %u (duplicates or gaps)",
                 partition, read, expected);
    for (uint32_t position = 0; position < read; position++) {
        uint32_t index = position * STREAM_PARTITIONS + (uint32_t)partition;
        char value[32];
        snprintf(value, sizeof(value), "r%u", index);
        cr_assert_str_eq(records[position].value, value, "offset %u", position);
        cr_assert_eq(records[position].offset, (int64_t)position);
        cr_assert_eq(stream->offsets[index], (int64_t)position, "the reported offset");
    }
}

static void
stream_across_restart(uint32_t cores, bool kill_9)
{
    const char *settings[] = {"linger.ms", "2", "retry.backoff.ms", "20",
                              "retry.backoff.max.ms", "200", "request.timeout.ms", "5000",
                              "delivery.timeout.ms", "60000", NULL};
    struct cluster cluster;
    cluster_start(&cluster, cores, NULL, settings);
    cluster_topic(&cluster, "stream", STREAM_PARTITIONS);
    static struct stream stream;
    memset(&stream, 0, sizeof(stream));
    cr_assert_eq(sb_producer_open(cluster.client, &stream.producer), 0);
    pthread_t sender;
    cr_assert_eq(pthread_create(&sender, NULL, stream_send, &stream), 0);
    /* Mid-stream: once a tenth is acknowledged (bounded, 10 s); pacing keeps the rest for
     * after the restart. */
    for (int wait = 0; wait < 1000 && __atomic_load_n(&stream.acked, __ATOMIC_SEQ_CST) <
                                          STREAM_RECORDS / 10; wait++) {
        test_sleep_ms(10);
    }
    uint32_t acked_before = __atomic_load_n(&stream.acked, __ATOMIC_SEQ_CST);
    cr_assert(acked_before >= STREAM_RECORDS / 10 && acked_before < STREAM_RECORDS,
              "%u acknowledged when the broker goes", acked_before);
    if (kill_9) {
        broker_kill(&cluster.broker);
    } else {
        cr_assert_eq(broker_stop(&cluster.broker), 0);
    }
    test_sleep_ms(200); /* Down for a while: not a synchronisation. */
    broker_start(&cluster.broker);
    pthread_join(sender, NULL);
    cr_assert_eq(stream.send_error, 0, "send: %s", sb_client_strerror(stream.send_error));
    cr_assert_eq(sb_producer_flush(stream.producer, 60000), 0);
    cr_assert_eq(stream.failed, 0, "failed: %s", sb_client_strerror(stream.first_error));
    cr_assert_eq(stream.acked, STREAM_RECORDS);
    cr_assert_eq(sb_producer_close(stream.producer, TEST_WAIT_MS), 0);
    for (int32_t partition = 0; partition < STREAM_PARTITIONS; partition++) {
        check_partition_exactly_once(&cluster, partition, &stream);
    }
    cluster_stop(&cluster);
}

Test(restart, kill_9_mid_stream_one_shard_keeps_every_record_once_in_order, .timeout = 120)
{
    stream_across_restart(1, true);
}

Test(restart, kill_9_mid_stream_two_shards_keeps_every_record_once_in_order, .timeout = 120)
{
    stream_across_restart(2, true);
}

Test(restart, clean_restart_mid_stream_keeps_every_record_once_in_order, .timeout = 120)
{
    stream_across_restart(2, false);
}

/* Counts callbacks of the back-pressure test. */
struct outcomes {
    uint32_t ok;        /* Delivered. */
    uint32_t timed_out; /* -ETIMEDOUT. */
    uint32_t shutdown;  /* SB_ERR_SHUTDOWN. */
    uint32_t other;     /* Anything else. */
};

static void
on_outcome(const struct sb_producer_delivery *delivery, void *opaque)
{
    struct outcomes *outcomes = opaque;
    uint32_t *counter = delivery->error == 0               ? &outcomes->ok
                        : delivery->error == -ETIMEDOUT    ? &outcomes->timed_out
                        : delivery->error == SB_ERR_SHUTDOWN ? &outcomes->shutdown
                                                             : &outcomes->other;
    __atomic_fetch_add(counter, 1, __ATOMIC_SEQ_CST);
}

/* Sends 1 KiB records until send fails; returns the failure and how many went in. */
static int
fill_until_refused(struct sb_producer *producer, struct outcomes *outcomes, uint32_t *sent,
                   int64_t *blocked_ms)
{
    static char value[1024];
    struct sb_producer_message message = {.topic = "pressure", .partition = 0, .value = value,
                                          .value_length = sizeof(value)};
    for (*sent = 0; *sent < 10000; (*sent)++) {
        int64_t start = test_now_ms();
        int result = sb_producer_send(producer, &message, on_outcome, outcomes);
        *blocked_ms = test_now_ms() - start;
        if (result != 0) {
            return result;
        }
    }
    return 0;
}

Test(restart, back_pressure_when_the_broker_is_down, .timeout = 60)
{
    const char *settings[] = {"buffer.memory.bytes", "65536", "max.block.ms", "300",
                              "delivery.timeout.ms", "1500", "request.timeout.ms", "1000",
                              NULL};
    struct cluster cluster;
    cluster_start(&cluster, 1, NULL, settings);
    cluster_topic(&cluster, "pressure", 1);
    cluster_produce(cluster.client, "pressure", 0, 0, 1); /* Metadata is now known. */
    cr_assert_eq(broker_stop(&cluster.broker), 0);
    struct sb_producer *producer = NULL;
    cr_assert_eq(sb_producer_open(cluster.client, &producer), 0);
    static struct outcomes outcomes;
    uint32_t sent = 0;
    int64_t blocked_ms = 0;
    cr_assert_eq(fill_until_refused(producer, &outcomes, &sent, &blocked_ms), SB_ERR_FULL);
    cr_assert_gt(sent, 10);
    cr_assert_lt(sent, 100, "the buffer is bounded by buffer.memory.bytes");
    /* A lower bound only (a wait cannot end early on a loaded machine): 250 of 300 ms. */
    cr_assert_geq(blocked_ms, 250, "send blocked about max.block.ms before giving up");
    cr_assert_eq(sb_producer_flush(producer, 100), -ETIMEDOUT);
    /* Past delivery.timeout.ms every buffered record fails, which frees the buffer. */
    for (int wait = 0; wait < 500 && sb_producer_pending(producer) > 0; wait++) {
        test_sleep_ms(10);
    }
    cr_assert_eq(sb_producer_pending(producer), 0);
    cr_assert_eq(outcomes.timed_out, sent);
    uint32_t again = 0;
    cr_assert_eq(fill_until_refused(producer, &outcomes, &again, &blocked_ms), SB_ERR_FULL);
    cr_assert_gt(again, 10, "room again once the timed-out records are gone");
    cr_assert_eq(sb_producer_close(producer, 100), -ETIMEDOUT, "close with a deadline");
    cr_assert_eq(outcomes.timed_out + outcomes.shutdown, sent + again, "every record reported");
    cr_assert_eq(outcomes.ok + outcomes.other, 0);
    cluster_stop(&cluster);
}

Test(restart, max_block_zero_refuses_at_once_and_unknown_metadata_times_out, .timeout = 60)
{
    const char *settings[] = {"buffer.memory.bytes", "65536", "max.block.ms", "0", NULL};
    struct cluster cluster;
    cluster_start(&cluster, 1, NULL, settings);
    cluster_topic(&cluster, "pressure", 1);
    /* With max.block.ms=0 even unknown metadata is not waited for: learn it first. */
    cr_assert_eq(sb_client_partition_count(cluster.client, "pressure", TEST_WAIT_MS), 1);
    cr_assert_eq(broker_stop(&cluster.broker), 0);
    struct sb_producer *producer = NULL;
    cr_assert_eq(sb_producer_open(cluster.client, &producer), 0);
    static struct outcomes outcomes;
    uint32_t sent = 0;
    int64_t blocked_ms = 0;
    cr_assert_eq(fill_until_refused(producer, &outcomes, &sent, &blocked_ms), SB_ERR_FULL);
    struct sb_producer_message message = {.topic = "never-seen", .partition = 0, .value = "v",
                                          .value_length = 1};
    int result = sb_producer_send(producer, &message, NULL, NULL);
    cr_assert(result == -ECONNREFUSED || result == -ETIMEDOUT, "%s",
              sb_client_strerror(result));
    cr_assert_eq(sb_producer_close(producer, 0), -ETIMEDOUT);
    cr_assert_eq(outcomes.shutdown, sent);
    cluster_stop(&cluster);
}

Test(restart, consumer_and_admin_carry_on_after_a_restart, .timeout = 60)
{
    const char *settings[] = {"auto.offset.reset", "earliest", NULL};
    struct cluster cluster;
    cluster_start(&cluster, 2, NULL, settings);
    cluster_topic(&cluster, "phoenix", 2);
    cluster_produce(cluster.client, "phoenix", 1, 0, 10);
    struct sb_consumer *consumer = NULL;
    cr_assert_eq(sb_consumer_open(cluster.client, &consumer), 0);
    cr_assert_eq(sb_consumer_assign(consumer, "phoenix", 1), 0);
    const struct sb_consumer_record *record = NULL;
    for (int index = 0; index < 10; index++) {
        cr_assert_eq(sb_consumer_poll(consumer, TEST_WAIT_MS, &record), 1);
    }
    cr_assert_eq(broker_stop(&cluster.broker), 0);
    cr_assert_eq(sb_consumer_poll(consumer, 300, &record), 0, "nothing while it is down");
    broker_start(&cluster.broker);
    cluster_produce(cluster.client, "phoenix", 1, 10, 5);
    for (int index = 10; index < 15; index++) {
        cr_assert_eq(sb_consumer_poll(consumer, TEST_WAIT_MS, &record), 1);
        cr_assert_eq(record->offset, index);
    }
    struct sb_admin_topic_list *list = NULL;
    cr_assert_eq(sb_admin_topic_list(cluster.client, NULL, TEST_WAIT_MS, &list), 0);
    cr_assert_eq(list->topic_count, 1);
    sb_admin_topic_list_free(list);
    sb_consumer_close(consumer);
    cluster_stop(&cluster);
}

/* Ports the client has connections to (owner 0), as a bit set over base .. base + 8. */
static uint32_t
connected_ports(struct sb_client *client, uint16_t base)
{
    uint32_t ports = 0;
    pthread_mutex_lock(&client->mutex);
    for (struct client_conn *conn = client->conns; conn != NULL; conn = conn->next) {
        if (conn_ready(conn) && conn->port >= base && conn->port < base + 8) {
            ports |= 1u << (conn->port - base);
        }
    }
    pthread_mutex_unlock(&client->mutex);
    return ports;
}

Test(restart, shard_aware_clients_connect_to_owning_shards_and_can_be_told_not_to, .timeout = 60)
{
    struct cluster cluster;
    cluster_start(&cluster, 2, NULL, NULL);
    cluster_topic(&cluster, "shards", 4);
    for (int32_t partition = 0; partition < 4; partition++) {
        cluster_produce(cluster.client, "shards", partition, 0, 1);
    }
    cr_assert_eq(connected_ports(cluster.client, cluster.broker.port), 0x7,
                 "main port plus both shard ports");
    const char *plain[] = {"shard.aware", "false", NULL};
    struct sb_client *client = cluster_client(&cluster, plain);
    for (int32_t partition = 0; partition < 4; partition++) {
        cluster_produce(client, "shards", partition, 1, 1);
    }
    cr_assert_eq(connected_ports(client, cluster.broker.port), 0x1, "only the main port");
    sb_client_close(client);
    cluster_stop(&cluster);
}

Test(restart, idle_connections_get_health_checks, .timeout = 60)
{
    const char *settings[] = {"connection.health.interval.ms", "100", NULL};
    struct cluster cluster;
    cluster_start(&cluster, 1, NULL, settings);
    struct sb_admin_topic_list *list = NULL;
    cr_assert_eq(sb_admin_topic_list(cluster.client, "", TEST_WAIT_MS, &list), 0);
    sb_admin_topic_list_free(list);
    pthread_mutex_lock(&cluster.client->mutex);
    uint64_t before = cluster.client->conns->last_receive_ns;
    pthread_mutex_unlock(&cluster.client->mutex);
    /* Nothing is sent by us: only a health check can bring an answer (bounded, 5 s; the
     * interval is 100 ms). */
    uint64_t after = before;
    bool ready = false;
    for (int wait = 0; wait < 500 && after == before; wait++) {
        test_sleep_ms(10);
        pthread_mutex_lock(&cluster.client->mutex);
        after = cluster.client->conns->last_receive_ns;
        ready = conn_ready(cluster.client->conns);
        pthread_mutex_unlock(&cluster.client->mutex);
    }
    cr_assert(ready);
    cr_assert_gt(after, before, "the idle connection was checked (Health answered)");
    cluster_stop(&cluster);
}

static int64_t frozen_offset = -2;

static void
on_frozen_delivery(const struct sb_producer_delivery *delivery, void *opaque)
{
    (void)opaque;
    frozen_offset = delivery->error == 0 ? delivery->offset : delivery->error;
}

/* Whether the producer's oldest unfinished batch (of its first partition) was sent and its
 * request failed, so it waits to be sent again. */
static bool
oldest_batch_failed_once(struct sb_client *client, const struct sb_producer *producer)
{
    pthread_mutex_lock(&client->mutex);
    const struct producer_partition *partition = producer->partitions;
    const struct producer_batch *batch = partition != NULL ? partition->head : NULL;
    bool failed = batch != NULL && batch->attempts >= 1 && batch->state == BATCH_QUEUED &&
                  batch->last_error != 0;
    pthread_mutex_unlock(&client->mutex);
    return failed;
}

/* A request that times out while the broker is frozen (SIGSTOP) is resent on a new
 * connection; the broker, thawed, appends the original and then sees the resend: with
 * idempotence it answers the resend with the original offset, so the record is stored
 * once. (Without idempotence this very scenario stores it twice.) */
Test(restart, a_resend_of_a_batch_the_broker_already_stored_is_not_duplicated, .timeout = 60)
{
    const char *settings[] = {"request.timeout.ms", "300", "retry.backoff.ms", "10", NULL};
    struct cluster cluster;
    cluster_start(&cluster, 1, NULL, settings);
    cluster_topic(&cluster, "frozen", 1);
    struct sb_producer *producer = NULL;
    cr_assert_eq(sb_producer_open(cluster.client, &producer), 0);
    struct sb_producer_message message = {.topic = "frozen", .partition = 0, .value = "a",
                                          .value_length = 1};
    cr_assert_eq(sb_producer_send_sync(producer, &message, NULL), 0);
    kill(cluster.broker.pid, SIGSTOP);
    message.value = "b";
    cr_assert_eq(sb_producer_send(producer, &message, on_frozen_delivery, NULL), 0);
    /* Past request.timeout.ms the request is abandoned: wait until it was (bounded, 10 s).
     * Its batch can then complete only by a resend, which the thawed broker sees after the
     * original. */
    for (int wait = 0; wait < 1000 && !oldest_batch_failed_once(cluster.client, producer);
         wait++) {
        test_sleep_ms(10);
    }
    cr_assert(oldest_batch_failed_once(cluster.client, producer), "the request was abandoned");
    kill(cluster.broker.pid, SIGCONT);
    cr_assert_eq(sb_producer_flush(producer, TEST_WAIT_MS), 0);
    cr_assert_eq(frozen_offset, 1, "the resend was answered with the original offset");
    message.value = "c";
    int64_t offset = -1;
    cr_assert_eq(sb_producer_send_sync(producer, &message, &offset), 0);
    cr_assert_eq(offset, 2, "no duplicate before it");
    cr_assert_eq(sb_producer_close(producer, TEST_WAIT_MS), 0);
    struct test_record records[5];
    cr_assert_eq(cluster_read(cluster.client, "frozen", 0, 0, records, 5, 1000), 3);
    cr_assert_str_eq(records[0].value, "a");
    cr_assert_str_eq(records[1].value, "b");
    cr_assert_str_eq(records[2].value, "c");
    cluster_stop(&cluster);
}

/* Closing objects whose requests are still in flight: the answers arrive later and must
 * find nothing freed (run under ASan in CI). */
Test(restart, closing_with_requests_in_flight_is_safe, .timeout = 60)
{
    struct cluster cluster;
    cluster_start(&cluster, 1, NULL, NULL);
    cluster_topic(&cluster, "late", 1);
    cluster_produce(cluster.client, "late", 0, 0, 1);
    kill(cluster.broker.pid, SIGSTOP);
    struct sb_producer *producer = NULL;
    cr_assert_eq(sb_producer_open(cluster.client, &producer), 0); /* InitProducerId goes out. */
    struct sb_consumer *consumer = NULL;
    cr_assert_eq(sb_consumer_open(cluster.client, &consumer), 0);
    cr_assert_eq(sb_consumer_assign(consumer, "late", 0), 0); /* ListOffsets goes out. */
    static struct outcomes outcomes;
    struct sb_producer_message message = {.topic = "late", .partition = 0, .value = "v",
                                          .value_length = 1};
    cr_assert_eq(sb_producer_send(producer, &message, on_outcome, &outcomes), 0);
    test_sleep_ms(100);
    cr_assert_eq(sb_producer_close(producer, 0), -ETIMEDOUT);
    cr_assert_eq(outcomes.shutdown, 1);
    sb_consumer_close(consumer);
    kill(cluster.broker.pid, SIGCONT);
    struct sb_admin_health *health = NULL;
    cr_assert_eq(sb_admin_health(cluster.client, TEST_WAIT_MS, &health), 0);
    sb_admin_health_free(health);
    cluster_stop(&cluster);
}

/* A describe on a client of its own (a thread), while the test starts the broker. */
struct early_describe {
    struct sb_client *client; /* Opened while the broker is down. */
    int result;               /* What sb_admin_topic_describe returned. */
    int64_t elapsed_ms;       /* How long it took. */
};

static void *
early_describe_run(void *argument)
{
    struct early_describe *early = argument;
    int64_t start_ms = test_now_ms();
    struct sb_admin_topic_description *description = NULL;
    early->result = sb_admin_topic_describe(early->client, "early", TEST_WAIT_MS,
                                            &description);
    early->elapsed_ms = test_now_ms() - start_ms;
    if (early->result == 0) {
        sb_admin_topic_description_free(description);
    }
    return NULL;
}

/* Issue 10 defect 17: a client started while nothing listens gave up at the first refused
 * connection although its timeout promised to wait for the broker. Now admin calls and
 * metadata waits retry refused connections with backoff until their timeout (the broker
 * is started from the test's main thread: its PR_SET_PDEATHSIG follows the thread). */
Test(restart, a_client_started_before_the_broker_waits_for_it, .timeout = 60)
{
    struct cluster cluster;
    cluster_start(&cluster, 2, NULL, NULL);
    cluster_topic(&cluster, "early", 2);
    cluster_produce(cluster.client, "early", 1, 0, 3);
    cr_assert_eq(broker_stop(&cluster.broker), 0);
    static struct early_describe early;
    early.client = cluster_client(&cluster, NULL);
    pthread_t describer;
    cr_assert_eq(pthread_create(&describer, NULL, early_describe_run, &early), 0);
    test_sleep_ms(1500);
    broker_start(&cluster.broker);
    pthread_join(describer, NULL);
    cr_assert_eq(early.result, 0, "describe after %lld ms: %s", (long long)early.elapsed_ms,
                 sb_client_strerror(early.result));
    struct test_record records[4];
    cr_assert_eq(cluster_read(early.client, "early", 1, 0, records, 4, 2000), 3);
    sb_client_close(early.client);
    /* With nothing listening until the timeout, the call fails with the connection error. */
    cr_assert_eq(broker_stop(&cluster.broker), 0);
    struct sb_client *late = cluster_client(&cluster, NULL);
    int64_t start_ms = test_now_ms();
    cr_assert_eq(sb_client_partition_count(late, "early", 1000), -ECONNREFUSED);
    cr_assert_geq(test_now_ms() - start_ms, 900, "it waited for its timeout");
    sb_client_close(late);
    cluster_stop(&cluster);
}
