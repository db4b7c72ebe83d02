/*
 * test/client/test_shapes.c - many-partition fetches with the client's default fetch
 * settings (issue 10, defects 4 and 12): a topic of 16, 32, 64 or 1000 partitions on
 * a broker of 1 or 2 shards; N records per partition are produced with libstreambus,
 * then one libstreambus consumer (a client with every default setting) assigns every
 * partition from the beginning and must get every record exactly once and in order
 * within SHAPES_DEADLINE_MS (generous: this is not a speed test; a healthy broker needs
 * about a second). A consumer that gets no record for SHAPES_STALL_MS while some are
 * missing fails at once, and the failure names how many records and which partitions
 * are missing.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test/client/client_fixture.h"

TestSuite(shapes, .fini = cluster_cleanup);

/* The whole consume must end within this (generous: no speed assertion). */
#define SHAPES_DEADLINE_MS 30000
/* Or fail early once nothing arrived for this long while records are missing. */
#define SHAPES_STALL_MS 10000
/* Records per partition: fewer for 1000 partitions (50,000 in all). */
#define SHAPES_RECORDS 100
#define SHAPES_RECORDS_MANY 50
/* Missing partitions named in a failure message, at most. */
#define SHAPES_NAMED_MAX 16

/* What the consumer got so far. */
struct shapes_progress {
    uint32_t partitions;     /* Partitions of the topic. */
    uint32_t records;        /* Records produced per partition. */
    uint32_t *next;          /* Per partition: index of the next record expected. */
    uint64_t received;       /* Records received (every one checked). */
    uint64_t errors;         /* Polls that returned an error. */
    int last_error;          /* The latest of them. */
};

static void
shapes_delivered(const struct sb_producer_delivery *delivery, void *opaque)
{
    uint64_t *failed = opaque;
    if (delivery->error != 0) {
        __atomic_fetch_add(failed, 1, __ATOMIC_RELAXED);
    }
}

/* Produces "p<partition>-<index>" for index < records to every partition of topic. */
static void
shapes_produce(struct sb_client *client, const char *topic, uint32_t partitions,
               uint32_t records)
{
    struct sb_producer *producer = NULL;
    uint64_t failed = 0;
    cr_assert_eq(sb_producer_open(client, &producer), 0);
    for (uint32_t index = 0; index < records; index++) {
        for (uint32_t partition = 0; partition < partitions; partition++) {
            char value[32];
            int length = snprintf(value, sizeof(value), "p%u-%u", partition, index);
            struct sb_producer_message message = {
                .topic = topic, .partition = (int32_t)partition, .value = value,
                .value_length = (size_t)length};
            int result = sb_producer_send(producer, &message, shapes_delivered, &failed);
            cr_assert_eq(result, 0, "send: %s", sb_client_strerror(result));
        }
    }
    cr_assert_eq(sb_producer_close(producer, SHAPES_DEADLINE_MS), 0);
    cr_assert_eq(__atomic_load_n(&failed, __ATOMIC_RELAXED), 0, "records failed to send");
}

/* Checks one record: the next expected of its partition, at the offset of its index. */
static void
shapes_check(struct shapes_progress *progress, const struct sb_consumer_record *record)
{
    cr_assert(record->partition >= 0 && (uint32_t)record->partition < progress->partitions,
              "partition %d", record->partition);
    uint32_t partition = (uint32_t)record->partition;
    uint32_t expected = progress->next[partition];
    char value[32];
    int length = snprintf(value, sizeof(value), "p%u-%u", partition, expected);
    cr_assert_lt(expected, progress->records, "partition %u: a record after the last: %.*s",
                 partition, (int)record->value_length, (const char *)record->value);
    cr_assert(record->value_length == (size_t)length &&
                  memcmp(record->value, value, (size_t)length) == 0,
              "partition %u: expected %s at offset %u, got %.*s at offset %lld (duplicate "
              "or out of order)", partition, value, expected, (int)record->value_length,
              (const char *)record->value, (long long)record->offset);
    cr_assert_eq(record->offset, (int64_t)expected);
    progress->next[partition] = expected + 1;
    progress->received++;
}

/* Fails naming how many records and which partitions are missing. */
static void
shapes_fail_missing(const struct shapes_progress *progress, int64_t elapsed_ms)
{
    char named[SHAPES_NAMED_MAX * 24] = "";
    size_t used = 0;
    uint32_t short_partitions = 0;
    uint32_t empty_partitions = 0;
    for (uint32_t partition = 0; partition < progress->partitions; partition++) {
        uint32_t got = progress->next[partition];
        if (got == progress->records) {
            continue;
        }
        empty_partitions += got == 0;
        if (short_partitions++ < SHAPES_NAMED_MAX && used < sizeof(named)) {
            used += (size_t)snprintf(named + used, sizeof(named) - used, " %u(%u)", partition,
                                     got);
        }
    }
    uint64_t total = (uint64_t)progress->partitions * progress->records;
    cr_assert_fail("consumed %llu of %llu records after %lld ms; %u partition(s) short, %u with "
            "nothing; partition(got):%s%s; %llu poll error(s), last: %s",
            (unsigned long long)progress->received, (unsigned long long)total,
            (long long)elapsed_ms, short_partitions, empty_partitions, named,
            short_partitions > SHAPES_NAMED_MAX ? " ..." : "",
            (unsigned long long)progress->errors,
            progress->errors > 0 ? sb_client_strerror(progress->last_error) : "none");
}

/* Consumes every partition from the beginning until every record arrived. */
static void
shapes_consume(struct sb_client *client, const char *topic, struct shapes_progress *progress)
{
    struct sb_consumer *consumer = NULL;
    cr_assert_eq(sb_consumer_open(client, &consumer), 0);
    for (uint32_t partition = 0; partition < progress->partitions; partition++) {
        cr_assert_eq(sb_consumer_assign(consumer, topic, (int32_t)partition), 0);
        cr_assert_eq(sb_consumer_seek(consumer, topic, (int32_t)partition,
                                      SB_OFFSET_BEGINNING), 0);
    }
    uint64_t total = (uint64_t)progress->partitions * progress->records;
    int64_t start_ms = test_now_ms();
    int64_t last_record_ms = start_ms;
    while (progress->received < total) {
        int64_t now_ms = test_now_ms();
        if (now_ms - start_ms >= SHAPES_DEADLINE_MS ||
            now_ms - last_record_ms >= SHAPES_STALL_MS) {
            shapes_fail_missing(progress, now_ms - start_ms);
            break;
        }
        const struct sb_consumer_record *record = NULL;
        int result = sb_consumer_poll(consumer, 200, &record);
        if (result < 0) {
            progress->errors++;
            progress->last_error = result;
        } else if (result > 0) {
            shapes_check(progress, record);
            last_record_ms = test_now_ms();
        }
    }
    /* Nothing more may come: a record after the last would be a duplicate. */
    const struct sb_consumer_record *record = NULL;
    int result = sb_consumer_poll(consumer, 300, &record);
    if (result > 0) {
        shapes_check(progress, record);
    }
    sb_consumer_close(consumer);
}

/* A client with every default but its bootstrap server (the fixture's client shortens the
 * fetch wait and reconnect backoff). */
static struct sb_client *
shapes_client(const struct cluster *cluster)
{
    struct sb_client_config *config = sb_client_config_new();
    cr_assert_not_null(config);
    cr_assert_eq(sb_client_config_set(config, "bootstrap.servers", cluster->bootstrap), 0);
    struct sb_client *client = NULL;
    cr_assert_eq(sb_client_open(config, &client), 0);
    sb_client_config_free(config);
    return client;
}

/* The whole scenario on a broker of shards shards. */
static void
shapes_run(uint32_t shards, uint32_t partitions, uint32_t records)
{
    struct cluster cluster;
    char topic[32];
    snprintf(topic, sizeof(topic), "shapes-%u", partitions);
    cluster_start(&cluster, shards, NULL, NULL);
    cluster_topic(&cluster, topic, (int32_t)partitions);
    struct sb_client *client = shapes_client(&cluster);
    shapes_produce(client, topic, partitions, records);
    struct shapes_progress progress = {.partitions = partitions, .records = records};
    progress.next = calloc(partitions, sizeof(*progress.next));
    cr_assert_not_null(progress.next);
    shapes_consume(client, topic, &progress);
    cr_assert_eq(progress.received, (uint64_t)partitions * records);
    free(progress.next);
    sb_client_close(client);
    cluster_stop(&cluster);
}

Test(shapes, every_record_of_16_partitions_on_1_shard, .timeout = 120)
{
    shapes_run(1, 16, SHAPES_RECORDS);
}

Test(shapes, every_record_of_32_partitions_on_1_shard, .timeout = 120)
{
    shapes_run(1, 32, SHAPES_RECORDS);
}

Test(shapes, every_record_of_64_partitions_on_1_shard, .timeout = 120)
{
    shapes_run(1, 64, SHAPES_RECORDS);
}

Test(shapes, every_record_of_1000_partitions_on_1_shard, .timeout = 120)
{
    shapes_run(1, 1000, SHAPES_RECORDS_MANY);
}

Test(shapes, every_record_of_16_partitions_on_2_shards, .timeout = 120)
{
    shapes_run(2, 16, SHAPES_RECORDS);
}

Test(shapes, every_record_of_32_partitions_on_2_shards, .timeout = 120)
{
    shapes_run(2, 32, SHAPES_RECORDS);
}

Test(shapes, every_record_of_64_partitions_on_2_shards, .timeout = 120)
{
    shapes_run(2, 64, SHAPES_RECORDS);
}

Test(shapes, every_record_of_1000_partitions_on_2_shards, .timeout = 120)
{
    shapes_run(2, 1000, SHAPES_RECORDS_MANY);
}

/* Counts the client's log lines that say a whole request was refused. */
static void
shapes_count_refused(void *opaque, int level, const char *line)
{
    (void)level;
    if (strstr(line, "refused") != NULL) {
        __atomic_fetch_add((uint64_t *)opaque, 1, __ATOMIC_RELAXED);
    }
}

/* Consumes one record from each of 2 x WIDE_PARTITIONS partitions of two topics on one
 * connection, assigned topic after topic or alternating between them (a0, b0, a1, ...), and
 * checks that no request was refused. */
static void
shapes_wide_run(bool alternate)
{
    enum { WIDE_PARTITIONS = 2100 };
    const char *const topics[] = {"wide-a", "wide-b"};
    struct cluster cluster;
    cluster_start(&cluster, 1, NULL, NULL);
    struct sb_client_config *config = sb_client_config_new();
    cr_assert_not_null(config);
    cr_assert_eq(sb_client_config_set(config, "bootstrap.servers", cluster.bootstrap), 0);
    uint64_t refused = 0;
    sb_client_config_set_log(config, SB_CLIENT_LOG_WARN, shapes_count_refused, &refused);
    struct sb_client *client = NULL;
    cr_assert_eq(sb_client_open(config, &client), 0);
    sb_client_config_free(config);
    struct shapes_progress progress[2];
    struct sb_consumer *consumer = NULL;
    cr_assert_eq(sb_consumer_open(client, &consumer), 0);
    for (uint32_t topic = 0; topic < 2; topic++) {
        cluster_topic(&cluster, topics[topic], WIDE_PARTITIONS);
        shapes_produce(client, topics[topic], WIDE_PARTITIONS, 1);
        progress[topic] = (struct shapes_progress){.partitions = WIDE_PARTITIONS, .records = 1};
        progress[topic].next = calloc(WIDE_PARTITIONS, sizeof(*progress[topic].next));
        cr_assert_not_null(progress[topic].next);
    }
    for (uint32_t index = 0; index < 2u * WIDE_PARTITIONS; index++) {
        uint32_t topic = alternate ? index % 2 : index / WIDE_PARTITIONS;
        int32_t partition = (int32_t)(alternate ? index / 2 : index % WIDE_PARTITIONS);
        cr_assert_eq(sb_consumer_assign(consumer, topics[topic], partition), 0);
        cr_assert_eq(sb_consumer_seek(consumer, topics[topic], partition, SB_OFFSET_BEGINNING),
                     0);
    }
    int64_t start_ms = test_now_ms();
    /* Bounded by the deadline. */
    while (progress[0].received + progress[1].received < 2u * WIDE_PARTITIONS &&
           test_now_ms() - start_ms < SHAPES_DEADLINE_MS) {
        const struct sb_consumer_record *record = NULL;
        int result = sb_consumer_poll(consumer, 200, &record);
        cr_assert_geq(result, 0, "poll: %s", sb_client_strerror(result));
        if (result > 0) {
            shapes_check(&progress[strcmp(record->topic, topics[0]) == 0 ? 0 : 1], record);
        }
    }
    cr_assert_eq(__atomic_load_n(&refused, __ATOMIC_RELAXED), 0,
                 "%llu requests refused", (unsigned long long)refused);
    for (uint32_t topic = 0; topic < 2; topic++) {
        if (progress[topic].received != WIDE_PARTITIONS) {
            shapes_fail_missing(&progress[topic], test_now_ms() - start_ms);
        }
        free(progress[topic].next);
    }
    sb_consumer_close(consumer);
    sb_client_close(client);
    cluster_stop(&cluster);
}

/* More partitions on one connection than a request may name topic elements (4,096): the
 * client sent one topic element per partition, so every Fetch and ListOffsets of them all
 * was refused as INVALID_REQUEST and the partitions only got turns as their back-offs
 * spread out (10,000-partition read-backs left partitions unanswered). Now a request names
 * each topic once per run of its partitions and stops at the broker's limits. */
Test(shapes, every_record_of_4200_partitions_in_two_topics_with_no_refused_request,
     .timeout = 180)
{
    shapes_wide_run(false);
}

/* Partitions of two topics assigned alternately: each is a topic element of its own, 4,200
 * in all, so a request must stop at 4,096 topic elements and the rest go in the next (the
 * starvation this found, in 1 of 5 runs, has a deterministic test in test_offline.c:
 * fetch_offline/a_request_full_of_topic_elements_leaves_no_partition_behind). */
Test(shapes, alternating_topics_make_4200_topic_elements_split_over_requests, .timeout = 180)
{
    shapes_wide_run(true);
}
