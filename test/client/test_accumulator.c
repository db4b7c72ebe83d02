/*
 * test/client/test_accumulator.c - the producer with many partitions against a
 * real broker: thousands of partitions with a few records each all delivered
 * in send order under idempotence, linger.ms honoured per partition when only
 * some partitions have data, and many partitions packed into few Produce
 * requests that stay under request.bytes.max.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "client/client_private.h"
#include "test/client/client_fixture.h"

TestSuite(accumulator, .fini = cluster_cleanup);

#define MANY_TOPICS 2u
#define MANY_PER_TOPIC 2500u
#define MANY_RECORDS 3u
#define MANY_TOTAL (MANY_TOPICS * MANY_PER_TOPIC * MANY_RECORDS)

/* One delivery report, by record index. */
struct report {
    int error;          /* Its error. */
    int64_t offset;     /* Its offset. */
    int64_t at_ms;      /* When the callback ran. */
    bool done;          /* The callback ran. */
};

static pthread_mutex_t reports_mutex = PTHREAD_MUTEX_INITIALIZER;
static struct report reports[MANY_TOTAL];
static uint32_t reports_count;

static void
on_report(const struct sb_producer_delivery *delivery, void *opaque)
{
    uintptr_t index = (uintptr_t)opaque;
    pthread_mutex_lock(&reports_mutex);
    reports[index] = (struct report){delivery->error, delivery->offset, test_now_ms(), true};
    reports_count++;
    pthread_mutex_unlock(&reports_mutex);
}

/* Sends record index (value "v<index>") to topic's partition. */
static void
send_one(struct sb_producer *producer, const char *topic, int32_t partition, uint32_t index,
         uint32_t value_bytes)
{
    static char value[2048];
    int length = snprintf(value, sizeof(value), "v%u", index);
    cr_assert(value_bytes < sizeof(value));
    struct sb_producer_message message = {
        .topic = topic, .partition = partition, .value = value,
        .value_length = value_bytes > (uint32_t)length ? value_bytes : (size_t)length};
    cr_assert_eq(sb_producer_send(producer, &message, on_report, (void *)(uintptr_t)index), 0);
}

/* Starts a one-shard broker and a client with settings, creates topic with partitions
 * and opens a producer; the reports are cleared. */
static struct sb_producer *
start_producer(struct cluster *cluster, const char *const *settings, const char *topic,
               uint32_t partitions)
{
    cluster_start(cluster, 1, NULL, settings);
    cluster_topic(cluster, topic, (int32_t)partitions);
    struct sb_producer *producer = NULL;
    cr_assert_eq(sb_producer_open(cluster->client, &producer), 0);
    reports_count = 0;
    return producer;
}

Test(accumulator, thousands_of_partitions_deliver_every_record_in_order_idempotent,
     .timeout = 240)
{
    const char *settings[] = {"enable.idempotence", "true", "acks", "all", NULL};
    struct cluster cluster;
    const char *topics[MANY_TOPICS] = {"many-a", "many-b"};
    struct sb_producer *producer = start_producer(&cluster, settings, topics[0],
                                                  MANY_PER_TOPIC);
    cluster_topic(&cluster, topics[1], (int32_t)MANY_PER_TOPIC);
    /* Round after round over every partition: each partition's records are far apart. */
    for (uint32_t index = 0; index < MANY_TOTAL; index++) {
        uint32_t slot = index % (MANY_TOPICS * MANY_PER_TOPIC);
        send_one(producer, topics[slot / MANY_PER_TOPIC], (int32_t)(slot % MANY_PER_TOPIC),
                 index, 0);
    }
    cr_assert_eq(sb_producer_flush(producer, TEST_WAIT_MS * 4), 0);
    cr_assert_eq(reports_count, MANY_TOTAL);
    for (uint32_t index = 0; index < MANY_TOTAL; index++) {
        uint32_t round = index / (MANY_TOPICS * MANY_PER_TOPIC);
        cr_assert_eq(reports[index].error, 0, "record %u: %d", index, reports[index].error);
        cr_assert_eq(reports[index].offset, (int64_t)round, "record %u: send order", index);
    }
    struct test_record read[MANY_RECORDS];
    cr_assert_eq(cluster_read(cluster.client, "many-b", MANY_PER_TOPIC - 1, 0, read,
                              MANY_RECORDS, 3000), MANY_RECORDS);
    for (uint32_t round = 0; round < MANY_RECORDS; round++) {
        char value[32];
        snprintf(value, sizeof(value), "v%u", round * MANY_TOPICS * MANY_PER_TOPIC +
                                                  MANY_TOPICS * MANY_PER_TOPIC - 1);
        cr_assert_str_eq(read[round].value, value);
    }
    cr_assert_eq(sb_producer_close(producer, TEST_WAIT_MS), 0);
    cluster_stop(&cluster);
}

/* Waits (bounded) until count reports arrived. */
static void
wait_reports(uint32_t count)
{
    int64_t deadline = test_now_ms() + TEST_WAIT_MS;
    for (;;) {
        pthread_mutex_lock(&reports_mutex);
        uint32_t arrived = reports_count;
        pthread_mutex_unlock(&reports_mutex);
        if (arrived >= count || test_now_ms() > deadline) {
            cr_assert_geq(arrived, count, "reports arrived in time");
            return;
        }
        test_sleep_ms(10);
    }
}

Test(accumulator, linger_is_honoured_per_partition_when_few_have_data, .timeout = 60)
{
    const char *settings[] = {"linger.ms", "300", NULL};
    struct cluster cluster;
    struct sb_producer *producer = start_producer(&cluster, settings, "linger", 64);
    int64_t sent_ms[3];
    for (uint32_t index = 0; index < 3; index++) {
        sent_ms[index] = test_now_ms();
        send_one(producer, "linger", (int32_t)(index * 20 + 3), index, 0);
        test_sleep_ms(100);
    }
    wait_reports(3); /* No flush: each batch leaves when its own linger.ms has passed. */
    for (uint32_t index = 0; index < 3; index++) {
        cr_assert_eq(reports[index].error, 0);
        /* 2 ms: the wall clock of the test against the client's monotonic clock. */
        cr_assert_geq(reports[index].at_ms, sent_ms[index] + 300 - 2,
                      "record %u left before its partition's linger.ms", index);
    }
    cr_assert_eq(sb_producer_close(producer, TEST_WAIT_MS), 0);
    cluster_stop(&cluster);
}

Test(accumulator, many_partitions_share_few_requests_under_request_bytes_max, .timeout = 120)
{
    const char *settings[] = {"linger.ms", "60000", "request.bytes.max", "65536", NULL};
    const uint32_t partitions = 2000;
    struct cluster cluster;
    struct sb_producer *producer = start_producer(&cluster, settings, "pack", partitions);
    for (uint32_t index = 0; index < partitions; index++) {
        send_one(producer, "pack", (int32_t)index, index, 1000);
    }
    cr_assert_eq(sb_producer_flush(producer, TEST_WAIT_MS), 0);
    cr_assert_eq(reports_count, partitions);
    for (uint32_t index = 0; index < partitions; index++) {
        cr_assert_eq(reports[index].error, 0);
        cr_assert_eq(reports[index].offset, 0);
    }
    pthread_mutex_lock(&cluster.client->mutex);
    uint64_t requests = producer->requests_sent;
    uint32_t batches_max = producer->request_batches_max;
    uint64_t bytes_max = producer->request_bytes_max;
    pthread_mutex_unlock(&cluster.client->mutex);
    cr_assert_leq(bytes_max, 65536, "a request stays under request.bytes.max");
    cr_assert_geq(batches_max, 40, "a request carries many partitions (%u)", batches_max);
    cr_assert_leq(requests, partitions / 10, "few requests (%llu)",
                  (unsigned long long)requests);
    cr_assert_eq(sb_producer_close(producer, TEST_WAIT_MS), 0);
    cluster_stop(&cluster);
}
