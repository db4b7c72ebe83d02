/*
 * test/client/test_groups.c - consumer groups in libstreambus against real
 * brokers: subscriptions split partitions with no overlap, commits (sync,
 * async, on revoke, automatic) survive consumer restarts and a broker kill -9,
 * a killed consumer's partitions move to the others within the session
 * timeout (at-least-once, duplicates bounded by the last uncommitted batch),
 * static members rejoin without a rebalance, fenced members' commits are
 * refused, patterns pick up new topics, auto.offset.reset=error, and every
 * error path of the API.
 *
 * Brokers run with a 3 s group session timeout (heartbeats every second), so a
 * dead member is noticed quickly; every wait is bounded by TEST_WAIT_MS-sized
 * deadlines and asserts nothing about speed.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client/client_private.h"
#include "core/crc32c.h"
#include "test/client/client_fixture.h"

TestSuite(groups, .fini = cluster_cleanup);

/* Broker flags of every test: a short session timeout. */
#define GROUP_BROKER_FLAGS                                                                \
    "--group-session-timeout-ms 3000 --group-min-session-timeout-ms 1000 "                 \
    "--group-heartbeat-interval-ms 1000"
/* The session timeout above, in ms. */
#define GROUP_SESSION_MS 3000
/* Longest wait for a group to settle or records to arrive. */
#define GROUP_WAIT_MS 30000
/* Partitions of the tests' topic, and records produced per partition. */
#define GROUP_PARTITIONS 6
#define GROUP_RECORDS 40
/* Consumers one test runs in this process. */
#define GROUP_CONSUMERS_MAX 3

/* One consumer of a test with its own client, and what its callbacks saw. */
struct member {
    struct sb_client *client;     /* Its client. */
    struct sb_consumer *consumer; /* Its consumer. */
    uint32_t assigned_events;     /* ASSIGNED callbacks. */
    uint32_t revoked_events;      /* REVOKED callbacks. */
    uint32_t lost_events;         /* LOST callbacks. */
};

/* Records processed per partition and offset (count of deliveries). */
struct ledger {
    uint8_t seen[GROUP_PARTITIONS][4 * GROUP_RECORDS]; /* Deliveries of each record. */
    uint32_t total;                                     /* Distinct records seen. */
    uint32_t duplicates;                                /* Deliveries beyond the first. */
};

static void
on_rebalance(struct sb_consumer *consumer, int event,
             const struct sb_consumer_partition *partitions, size_t count, void *opaque)
{
    struct member *member = opaque;
    cr_assert_eq(consumer, member->consumer);
    cr_assert_gt(count, 0u);
    cr_assert_not_null(partitions[0].topic);
    member->assigned_events += event == SB_CONSUMER_ASSIGNED;
    member->revoked_events += event == SB_CONSUMER_REVOKED;
    member->lost_events += event == SB_CONSUMER_LOST;
}

/* Opens member's client in group with settings (NULL-terminated pairs, NULL: none) plus
 * auto.offset.reset=earliest, and its consumer with the counting callback. */
static void
member_open(struct member *member, struct cluster *cluster, const char *group,
            const char *const *settings)
{
    const char *all[32] = {"group.id", group, "auto.offset.reset", "earliest",
                           "auto.commit.interval.ms", "200"};
    size_t used = 6;
    for (size_t index = 0; settings != NULL && settings[index] != NULL && used < 30; index++) {
        all[used++] = settings[index];
    }
    all[used] = NULL;
    *member = (struct member){.client = cluster_client(cluster, all)};
    cr_assert_eq(sb_consumer_open(member->client, &member->consumer), 0);
    cr_assert_eq(sb_consumer_set_rebalance_callback(member->consumer, on_rebalance, member), 0);
}

static void
member_subscribe(struct member *member, const char *topic)
{
    const char *topics[] = {topic};
    cr_assert_eq(sb_consumer_subscribe(member->consumer, topics, 1), 0);
}

static void
member_close(struct member *member)
{
    sb_consumer_close(member->consumer);
    sb_client_close(member->client);
    member->consumer = NULL;
    member->client = NULL;
}

/* Counts one delivery of partition's record at offset. */
static void
ledger_add(struct ledger *ledger, int32_t partition, int64_t offset)
{
    cr_assert(partition >= 0 && partition < GROUP_PARTITIONS, "partition %d", partition);
    cr_assert(offset >= 0 && offset < 4 * GROUP_RECORDS, "offset %lld", (long long)offset);
    uint8_t *seen = &ledger->seen[partition][offset];
    ledger->total += *seen == 0;
    ledger->duplicates += *seen > 0;
    (*seen)++;
}

/* Polls member once (up to wait_ms); a record goes into ledger. Returns poll's result. */
static int
member_poll(struct member *member, struct ledger *ledger, int wait_ms)
{
    const struct sb_consumer_record *record = NULL;
    int result = sb_consumer_poll(member->consumer, wait_ms, &record);
    if (result == 1 && ledger != NULL) {
        ledger_add(ledger, record->partition, record->offset);
    }
    return result;
}

/* Partitions member holds now. */
static int
member_partitions(struct member *member, struct sb_consumer_partition *out, size_t capacity)
{
    int count = sb_consumer_assignment(member->consumer, out, capacity);
    cr_assert_geq(count, 0);
    return count;
}

/* Produces GROUP_RECORDS records to each of the topic's partitions (from number first). */
static void
produce_all(struct cluster *cluster, const char *topic, uint32_t first)
{
    for (int32_t partition = 0; partition < GROUP_PARTITIONS; partition++) {
        cluster_produce(cluster->client, topic, partition, first, GROUP_RECORDS);
    }
}

/* Polls members round-robin until ledger holds want records and every member holds
 * per_member partitions (0: any), or GROUP_WAIT_MS passed. */
static void
poll_until(struct member *members, uint32_t count, struct ledger *ledger, uint32_t want,
           int per_member)
{
    int64_t deadline = test_now_ms() + GROUP_WAIT_MS;
    bool settled = false;
    /* Bounded by the deadline. */
    while (test_now_ms() < deadline && !(settled && ledger->total >= want)) {
        settled = true;
        for (uint32_t index = 0; index < count; index++) {
            int result = member_poll(&members[index], ledger, 20);
            cr_assert_geq(result, 0, "poll: %s", sb_client_strerror(result));
            struct sb_consumer_partition held[GROUP_PARTITIONS];
            settled = settled && (per_member == 0 ||
                                  member_partitions(&members[index], held,
                                                    GROUP_PARTITIONS) == per_member);
        }
    }
    cr_assert_geq(ledger->total, want, "records seen: %u of %u", ledger->total, want);
    cr_assert(settled, "the group did not settle");
}

/* Polls the in-process members for about ms, recording into ledger. */
static void
poll_for(struct member *members, uint32_t count, struct ledger *ledger, int ms)
{
    int64_t until = test_now_ms() + ms;
    /* Bounded by the time. */
    while (test_now_ms() < until) {
        for (uint32_t index = 0; index < count; index++) {
            cr_assert_geq(member_poll(&members[index], ledger, 20), 0);
        }
    }
}

Test(groups, three_consumers_split_six_partitions_and_process_each_record_once, .timeout = 90)
{
    struct cluster cluster;
    cluster_start(&cluster, 2, GROUP_BROKER_FLAGS, NULL);
    cluster_topic(&cluster, "orders", GROUP_PARTITIONS);
    produce_all(&cluster, "orders", 0);
    struct member members[GROUP_CONSUMERS_MAX];
    static struct ledger ledger;
    memset(&ledger, 0, sizeof(ledger));
    for (uint32_t index = 0; index < GROUP_CONSUMERS_MAX; index++) {
        member_open(&members[index], &cluster, "split", NULL);
        member_subscribe(&members[index], "orders");
    }
    poll_until(members, GROUP_CONSUMERS_MAX, &ledger, GROUP_PARTITIONS * GROUP_RECORDS, 2);
    bool owned[GROUP_PARTITIONS] = {false};
    for (uint32_t index = 0; index < GROUP_CONSUMERS_MAX; index++) {
        struct sb_consumer_partition held[GROUP_PARTITIONS];
        cr_assert_eq(member_partitions(&members[index], held, GROUP_PARTITIONS), 2);
        for (int at = 0; at < 2; at++) {
            cr_assert_str_eq(held[at].topic, "orders");
            cr_assert(!owned[held[at].partition], "partition %d held twice",
                      held[at].partition);
            owned[held[at].partition] = true;
        }
    }
    cr_assert_eq(ledger.duplicates, 0u, "every record exactly once");
    struct sb_client *client = members[0].client;
    pthread_mutex_lock(&client->mutex);
    struct client_topic *offsets = metadata_topic(client, "__consumer_offsets");
    cr_assert_gt(offsets->partition_count, 0u, "the coordinator is found through metadata");
    const char *group_id = "split";
    uint32_t coordinator = sb_crc32c(0, group_id, strlen(group_id)) % offsets->partition_count;
    struct client_conn *route = metadata_route(client, offsets, (int32_t)coordinator, 0);
    cr_assert_not_null(route);
    cr_assert_eq(route->state, CONN_READY, "group requests use the coordinator shard's port");
    cr_assert_neq(route->port, cluster.broker.port, "not the plain port");
    pthread_mutex_unlock(&client->mutex);
    for (uint32_t index = 0; index < GROUP_CONSUMERS_MAX; index++) {
        cr_assert_eq(sb_consumer_commit_sync(members[index].consumer, NULL, 0, TEST_WAIT_MS), 0);
    }
    for (int32_t partition = 0; partition < GROUP_PARTITIONS; partition++) {
        int64_t committed = -1;
        cr_assert_eq(sb_consumer_committed(members[0].consumer, "orders", partition,
                                           TEST_WAIT_MS, &committed), 0);
        cr_assert_eq(committed, GROUP_RECORDS);
    }
    for (uint32_t index = 0; index < GROUP_CONSUMERS_MAX; index++) {
        member_close(&members[index]);
    }
    cluster_stop(&cluster);
}

/* Polls member until it returns a record (or a negative code), up to GROUP_WAIT_MS. */
static int
poll_one(struct member *member, const struct sb_consumer_record **record_out)
{
    int64_t deadline = test_now_ms() + GROUP_WAIT_MS;
    int result = 0;
    /* Bounded by the deadline. */
    while (result == 0 && test_now_ms() < deadline) {
        result = sb_consumer_poll(member->consumer, 100, record_out);
    }
    return result;
}

Test(groups, a_restarted_consumer_resumes_from_its_committed_offset, .timeout = 60)
{
    struct cluster cluster;
    cluster_start(&cluster, 1, GROUP_BROKER_FLAGS, NULL);
    cluster_topic(&cluster, "log", 1);
    cluster_produce(cluster.client, "log", 0, 0, 20);
    const char *manual[] = {"enable.auto.commit", "false", NULL};
    struct member member;
    member_open(&member, &cluster, "resume", manual);
    member_subscribe(&member, "log");
    const struct sb_consumer_record *record = NULL;
    for (int64_t offset = 0; offset < 12; offset++) {
        cr_assert_eq(poll_one(&member, &record), 1);
        cr_assert_eq(record->offset, offset);
    }
    int64_t position = -1;
    cr_assert_eq(sb_consumer_position(member.consumer, "log", 0, TEST_WAIT_MS, &position), 0);
    cr_assert_eq(position, 12);
    int64_t lag = -1;
    cr_assert_eq(sb_consumer_lag(member.consumer, "log", 0, TEST_WAIT_MS, &lag), 0);
    cr_assert_eq(lag, 8);
    cr_assert_eq(sb_consumer_commit_sync(member.consumer, NULL, 0, TEST_WAIT_MS), 0);
    cr_assert_eq(sb_consumer_poll(member.consumer, 1000, &record), 1, "one more, not committed");
    member_close(&member);
    member_open(&member, &cluster, "resume", manual);
    member_subscribe(&member, "log");
    cr_assert_eq(poll_one(&member, &record), 1);
    cr_assert_eq(record->offset, 12, "resumed at the commit");
    int64_t committed = -1;
    cr_assert_eq(sb_consumer_committed(member.consumer, "log", 0, TEST_WAIT_MS, &committed), 0);
    cr_assert_eq(committed, 12);
    cr_assert_eq(sb_consumer_committed(member.consumer, "log", 1, TEST_WAIT_MS, &committed), 0);
    cr_assert_eq(committed, -1, "no commit for another partition");
    member_close(&member);
    cluster_stop(&cluster);
}

/* What commit_async reported. */
struct async_result {
    int calls;       /* Callbacks. */
    int error;       /* The last error. */
    size_t count;    /* Entries of the last call. */
    int64_t offset;  /* Offset of its first entry. */
};

static void
on_commit(struct sb_consumer *consumer, int error, const struct sb_consumer_partition *offsets,
          size_t count, void *opaque)
{
    (void)consumer;
    struct async_result *result = opaque;
    result->error = error;
    result->count = count;
    result->offset = count > 0 ? offsets[0].offset : -1;
    __atomic_add_fetch(&result->calls, 1, __ATOMIC_SEQ_CST);
}

static void
wait_async(struct async_result *result, int calls)
{
    int64_t deadline = test_now_ms() + GROUP_WAIT_MS;
    /* Bounded by the deadline. */
    while (__atomic_load_n(&result->calls, __ATOMIC_SEQ_CST) < calls &&
           test_now_ms() < deadline) {
        test_sleep_ms(10);
    }
    cr_assert_eq(__atomic_load_n(&result->calls, __ATOMIC_SEQ_CST), calls);
}

Test(groups, an_acknowledged_commit_survives_a_broker_kill_9, .timeout = 90)
{
    struct cluster cluster;
    cluster_start(&cluster, 2, GROUP_BROKER_FLAGS, NULL);
    cluster_topic(&cluster, "ledger", 2);
    struct member member;
    member_open(&member, &cluster, "durable", NULL);
    struct sb_consumer_partition offsets[] = {
        {.topic = "ledger", .partition = 0, .offset = 17, .metadata = "m0"},
        {.topic = "ledger", .partition = 1, .offset = 42}};
    cr_assert_eq(sb_consumer_commit_sync(member.consumer, offsets, 2, TEST_WAIT_MS), 0);
    struct async_result async = {0};
    offsets[1].offset = 43;
    cr_assert_eq(sb_consumer_commit_async(member.consumer, &offsets[1], 1, on_commit, &async),
                 0);
    wait_async(&async, 1);
    cr_assert_eq(async.error, 0);
    cr_assert_eq(async.count, 1u);
    cr_assert_eq(async.offset, 43);
    member_close(&member);
    broker_kill(&cluster.broker);
    broker_start(&cluster.broker);
    member_open(&member, &cluster, "durable", NULL);
    int64_t committed = -1;
    cr_assert_eq(sb_consumer_committed(member.consumer, "ledger", 0, GROUP_WAIT_MS, &committed),
                 0);
    cr_assert_eq(committed, 17);
    cr_assert_eq(sb_consumer_committed(member.consumer, "ledger", 1, GROUP_WAIT_MS, &committed),
                 0);
    cr_assert_eq(committed, 43);
    member_close(&member);
    cluster_stop(&cluster);
}

Test(groups, auto_offset_reset_error_reports_a_partition_without_a_commit, .timeout = 60)
{
    struct cluster cluster;
    cluster_start(&cluster, 1, GROUP_BROKER_FLAGS, NULL);
    cluster_topic(&cluster, "strict", 2);
    cluster_produce(cluster.client, "strict", 0, 0, 5);
    cluster_produce(cluster.client, "strict", 1, 0, 5);
    struct member member;
    member_open(&member, &cluster, "strict-group", NULL);
    struct sb_consumer_partition start = {.topic = "strict", .partition = 1, .offset = 3};
    cr_assert_eq(sb_consumer_commit_sync(member.consumer, &start, 1, TEST_WAIT_MS), 0);
    member_close(&member);
    const char *strict[] = {"auto.offset.reset", "error", NULL};
    member_open(&member, &cluster, "strict-group", strict);
    member_subscribe(&member, "strict");
    const struct sb_consumer_record *record = NULL;
    bool reported = false;
    bool committed_read = false;
    int64_t deadline = test_now_ms() + GROUP_WAIT_MS;
    /* Bounded by the deadline. */
    while (!(reported && committed_read) && test_now_ms() < deadline) {
        int result = sb_consumer_poll(member.consumer, 100, &record);
        if (result == SB_ERR_NO_OFFSET) {
            cr_assert_eq(record->partition, 0);
            cr_assert_str_eq(record->topic, "strict");
            reported = true;
        } else if (result == 1) {
            cr_assert_eq(record->partition, 1);
            cr_assert_eq(record->offset, 3, "partition 1 starts at its commit");
            committed_read = true;
        } else {
            cr_assert_eq(result, 0, "%s", sb_client_strerror(result));
        }
    }
    cr_assert(reported && committed_read);
    cr_assert_eq(sb_consumer_seek(member.consumer, "strict", 0, SB_OFFSET_BEGINNING), 0);
    do {
        cr_assert_eq(poll_one(&member, &record), 1);
    } while (record->partition != 0);
    cr_assert_eq(record->offset, 0, "a seek starts it again");
    member_close(&member);
    cluster_stop(&cluster);
}

Test(groups, a_pattern_subscription_picks_up_a_topic_created_later, .timeout = 60)
{
    struct cluster cluster;
    cluster_start(&cluster, 2, GROUP_BROKER_FLAGS, NULL);
    cluster_topic(&cluster, "evt.a", 1);
    cluster_topic(&cluster, "other", 1);
    cluster_produce(cluster.client, "evt.a", 0, 0, 1);
    cluster_produce(cluster.client, "other", 0, 0, 1);
    struct member member;
    member_open(&member, &cluster, "pattern", NULL);
    cr_assert_eq(sb_consumer_subscribe_pattern(member.consumer, "evt\\..*"), 0);
    const struct sb_consumer_record *record = NULL;
    cr_assert_eq(poll_one(&member, &record), 1);
    cr_assert_str_eq(record->topic, "evt.a");
    cluster_topic(&cluster, "evt.b", 1);
    cluster_produce(cluster.client, "evt.b", 0, 0, 1);
    cr_assert_eq(poll_one(&member, &record), 1);
    cr_assert_str_eq(record->topic, "evt.b", "the new topic joined the subscription");
    struct sb_consumer_partition held[4];
    cr_assert_eq(member_partitions(&member, held, 4), 2);
    cr_assert_eq(member.assigned_events, 2u);
    member_close(&member);
    cluster_stop(&cluster);
}

/* Polls member until it holds want partitions and has no rebalance work left, or
 * GROUP_WAIT_MS passed; asserts it got there. */
static void
settle(struct member *member, int want)
{
    struct sb_consumer_partition held[GROUP_PARTITIONS];
    int64_t deadline = test_now_ms() + GROUP_WAIT_MS;
    /* Bounded by the deadline. */
    while (member_partitions(member, held, GROUP_PARTITIONS) != want &&
           test_now_ms() < deadline) {
        cr_assert_geq(member_poll(member, NULL, 50), 0);
    }
    cr_assert_eq(member_partitions(member, held, GROUP_PARTITIONS), want);
}

Test(groups, a_fenced_members_commit_is_refused_and_it_rejoins, .timeout = 60)
{
    struct cluster cluster;
    cluster_start(&cluster, 1, GROUP_BROKER_FLAGS, NULL);
    cluster_topic(&cluster, "fence", 2);
    const char *manual[] = {"enable.auto.commit", "false", NULL};
    struct member member;
    member_open(&member, &cluster, "fenced", manual);
    member_subscribe(&member, "fence");
    settle(&member, 2);
    int32_t epoch = 0;
    const char *member_id = sb_consumer_member_id(member.consumer, &epoch);
    cr_assert_eq(strlen(member_id), 32u);
    cr_assert_gt(epoch, 0);
    /* A zombie's view: an epoch the coordinator never gave. */
    pthread_mutex_lock(&member.client->mutex);
    member.consumer->group.epoch = epoch + 5;
    pthread_mutex_unlock(&member.client->mutex);
    struct sb_consumer_partition offset = {.topic = "fence", .partition = 0, .offset = 1};
    cr_assert_eq(sb_consumer_commit_sync(member.consumer, &offset, 1, TEST_WAIT_MS),
                 SB_ERR_FENCED_MEMBER_EPOCH);
    struct async_result async = {0};
    cr_assert_eq(sb_consumer_commit_async(member.consumer, &offset, 1, on_commit, &async), 0);
    wait_async(&async, 1);
    cr_assert(async.error == SB_ERR_FENCED_MEMBER_EPOCH ||
              async.error == SB_ERR_UNKNOWN_MEMBER_ID, "%s", sb_client_strerror(async.error));
    int64_t deadline = test_now_ms() + GROUP_WAIT_MS;
    /* Its next heartbeat is refused: the partitions are lost, then assigned again. */
    while ((member.lost_events == 0 || member.assigned_events < 2) &&
           test_now_ms() < deadline) {
        cr_assert_geq(member_poll(&member, NULL, 50), 0);
    }
    cr_assert_eq(member.lost_events, 1u);
    cr_assert_eq(member.revoked_events, 0u, "lost partitions are not revoked");
    settle(&member, 2);
    cr_assert_str_eq(sb_consumer_member_id(member.consumer, NULL), member_id, "same id");
    int64_t committed = -1;
    cr_assert_eq(sb_consumer_committed(member.consumer, "fence", 0, TEST_WAIT_MS, &committed),
                 0);
    cr_assert_eq(committed, -1, "nothing of the zombie was stored");
    member_close(&member);
    cluster_stop(&cluster);
}

/* The member's epoch and partitions as a comparable fingerprint. */
static uint64_t
fingerprint(struct member *member)
{
    int32_t epoch = 0;
    sb_consumer_member_id(member->consumer, &epoch);
    struct sb_consumer_partition held[GROUP_PARTITIONS];
    int count = member_partitions(member, held, GROUP_PARTITIONS);
    uint64_t mask = 0;
    for (int index = 0; index < count; index++) {
        mask |= 1ull << held[index].partition;
    }
    return ((uint64_t)(uint32_t)epoch << 32) | mask;
}

Test(groups, a_static_member_rejoins_with_its_partitions_without_a_rebalance, .timeout = 90)
{
    struct cluster cluster;
    cluster_start(&cluster, 2, GROUP_BROKER_FLAGS, NULL);
    cluster_topic(&cluster, "static", GROUP_PARTITIONS);
    const char *first[] = {"group.instance.id", "first", NULL};
    const char *second[] = {"group.instance.id", "second", NULL};
    struct member members[2];
    member_open(&members[0], &cluster, "statics", first);
    member_subscribe(&members[0], "static");
    settle(&members[0], GROUP_PARTITIONS);
    member_open(&members[1], &cluster, "statics", second);
    member_subscribe(&members[1], "static");
    static struct ledger ledger;
    memset(&ledger, 0, sizeof(ledger));
    poll_until(members, 2, &ledger, 0, GROUP_PARTITIONS / 2);
    int64_t deadline = test_now_ms() + GROUP_WAIT_MS;
    /* Heartbeats bring both epochs to the group's (bounded by the deadline). */
    while (fingerprint(&members[0]) >> 32 != fingerprint(&members[1]) >> 32 &&
           test_now_ms() < deadline) {
        poll_for(members, 2, &ledger, 100);
    }
    cr_assert_eq(fingerprint(&members[0]) >> 32, fingerprint(&members[1]) >> 32);
    uint64_t before = fingerprint(&members[0]);
    uint64_t other = fingerprint(&members[1]);
    uint32_t other_events = members[1].assigned_events + members[1].revoked_events;
    member_close(&members[0]);
    member_open(&members[0], &cluster, "statics", first);
    member_subscribe(&members[0], "static");
    settle(&members[0], GROUP_PARTITIONS / 2);
    cr_assert_eq(fingerprint(&members[0]) & 0xffffffffu, before & 0xffffffffu,
                 "the same partitions");
    int64_t until = test_now_ms() + 2000;
    /* The other member keeps polling meanwhile: no rebalance reaches it. */
    while (test_now_ms() < until) {
        cr_assert_geq(member_poll(&members[1], NULL, 50), 0);
        cr_assert_geq(member_poll(&members[0], NULL, 50), 0);
    }
    cr_assert_eq(fingerprint(&members[1]), other, "epoch and partitions unchanged");
    cr_assert_eq(members[1].assigned_events + members[1].revoked_events, other_events);
    member_close(&members[0]);
    member_close(&members[1]);
    cluster_stop(&cluster);
}

Test(groups, group_calls_without_a_group_id_are_refused, .timeout = 60)
{
    struct cluster cluster;
    cluster_start(&cluster, 1, GROUP_BROKER_FLAGS, NULL);
    struct sb_consumer *plain = NULL;
    cr_assert_eq(sb_consumer_open(cluster.client, &plain), 0);
    const char *topics[] = {"args"};
    struct sb_consumer_partition offset = {.topic = "args", .partition = 0, .offset = 1};
    int64_t committed = 0;
    cr_assert_eq(sb_consumer_subscribe(plain, topics, 1), SB_ERR_NO_GROUP);
    cr_assert_eq(sb_consumer_subscribe_pattern(plain, "a.*"), SB_ERR_NO_GROUP);
    cr_assert_eq(sb_consumer_commit_sync(plain, &offset, 1, 1000), SB_ERR_NO_GROUP);
    cr_assert_eq(sb_consumer_commit_async(plain, &offset, 1, NULL, NULL), SB_ERR_NO_GROUP);
    cr_assert_eq(sb_consumer_committed(plain, "args", 0, 1000, &committed), SB_ERR_NO_GROUP);
    int32_t epoch = 0;
    cr_assert_not_null(sb_consumer_member_id(plain, &epoch));
    cr_assert_eq(epoch, -1);
    cr_assert_eq(sb_consumer_unsubscribe(plain), 0, "not subscribed: nothing to do");
    sb_consumer_close(plain);
    cluster_stop(&cluster);
}

Test(groups, group_calls_with_bad_arguments_are_refused, .timeout = 60)
{
    struct cluster cluster;
    cluster_start(&cluster, 1, GROUP_BROKER_FLAGS, NULL);
    cluster_topic(&cluster, "args", 1);
    const char *topics[] = {"args"};
    struct sb_consumer_partition offset = {.topic = "args", .partition = 0, .offset = 1};
    int64_t committed = 0;
    struct member member;
    member_open(&member, &cluster, "args-group", NULL);
    struct sb_consumer *consumer = member.consumer;
    const char *bad_name[] = {"no spaces"};
    const char *null_name[] = {NULL};
    cr_assert_eq(sb_consumer_subscribe(consumer, NULL, 1), -EINVAL);
    cr_assert_eq(sb_consumer_subscribe(consumer, topics, 0), -EINVAL);
    cr_assert_eq(sb_consumer_subscribe(consumer, topics, 257), -EINVAL);
    cr_assert_eq(sb_consumer_subscribe(consumer, null_name, 1), -EINVAL);
    cr_assert_eq(sb_consumer_subscribe(consumer, bad_name, 1), SB_ERR_INVALID_TOPIC);
    char long_regex[300];
    memset(long_regex, 'a', sizeof(long_regex) - 1);
    long_regex[sizeof(long_regex) - 1] = '\0';
    cr_assert_eq(sb_consumer_subscribe_pattern(consumer, ""), -EINVAL);
    cr_assert_eq(sb_consumer_subscribe_pattern(consumer, long_regex), -EINVAL);
    cr_assert_eq(sb_consumer_set_rebalance_callback(NULL, NULL, NULL), -EINVAL);
    cr_assert_eq(sb_consumer_assignment(consumer, NULL, 1), -EINVAL);
    cr_assert_eq(sb_consumer_committed(consumer, NULL, 0, 1000, &committed), -EINVAL);

    struct sb_consumer_partition bad[2] = {offset, offset};
    cr_assert_eq(sb_consumer_commit_sync(consumer, bad, 2, 1000), -EINVAL, "twice");
    bad[0].offset = -1;
    cr_assert_eq(sb_consumer_commit_sync(consumer, bad, 1, 1000), -EINVAL, "negative");
    bad[0] = (struct sb_consumer_partition){.topic = "args", .partition = -1, .offset = 1};
    cr_assert_eq(sb_consumer_commit_sync(consumer, bad, 1, 1000), -EINVAL, "no partition");
    cr_assert_eq(sb_consumer_committed(consumer, "no spaces", 0, 1000, &committed),
                 SB_ERR_INVALID_TOPIC);
    bad[0] = (struct sb_consumer_partition){.topic = "no spaces", .offset = 1};
    cr_assert_eq(sb_consumer_commit_sync(consumer, bad, 1, 1000), SB_ERR_INVALID_TOPIC);
    cr_assert_eq(sb_consumer_commit_sync(consumer, NULL, 1, 1000), -EINVAL);
    cr_assert_eq(sb_consumer_commit_sync(consumer, bad, 4097, 1000), -EINVAL);
    cr_assert_eq(sb_consumer_commit_sync(consumer, NULL, 0, 1000), 0, "nothing to commit");
    static char metadata[5000];
    memset(metadata, 'm', sizeof(metadata) - 1);
    bad[0] = (struct sb_consumer_partition){.topic = "args", .offset = 1, .metadata = metadata};
    cr_assert_eq(sb_consumer_commit_sync(consumer, bad, 1, TEST_WAIT_MS),
                 SB_ERR_OFFSET_METADATA_TOO_LARGE);
    bad[0] = (struct sb_consumer_partition){.topic = "args", .partition = 9, .offset = 1};
    cr_assert_eq(sb_consumer_commit_sync(consumer, bad, 1, TEST_WAIT_MS), SB_ERR_UNKNOWN_TOPIC);

    cr_assert_eq(sb_consumer_assign(consumer, "args", 0), 0);
    cr_assert_eq(sb_consumer_subscribe(consumer, topics, 1), -EBUSY, "assigned by hand");
    cr_assert_eq(sb_consumer_unassign(consumer, "args", 0), 0);
    cr_assert_eq(sb_consumer_subscribe(consumer, topics, 1), 0);
    cr_assert_eq(sb_consumer_assign(consumer, "args", 0), -EBUSY, "subscribed");
    settle(&member, 1);
    struct sb_consumer *manual = NULL;
    cr_assert_eq(sb_consumer_open(member.client, &manual), 0);
    cr_assert_eq(sb_consumer_commit_sync(manual, &offset, 1, TEST_WAIT_MS),
                 SB_ERR_UNKNOWN_MEMBER_ID, "a commit without membership while members exist");
    sb_consumer_close(manual);
    cr_assert_eq(sb_consumer_unsubscribe(consumer), 0);
    cr_assert_eq(member.revoked_events, 1u);
    struct sb_consumer_partition held[1];
    cr_assert_eq(member_partitions(&member, held, 1), 0);
    cr_assert_eq(sb_consumer_assign(consumer, "args", 0), 0, "unsubscribed: assign works");
    member_close(&member);
    cluster_stop(&cluster);
}

/* Subscribes a consumer of group with settings and returns the first poll error. */
static int
first_group_error(struct cluster *cluster, const char *group, const char *const *settings,
                  const char *regex)
{
    struct member member;
    member_open(&member, cluster, group, settings);
    if (regex != NULL) {
        cr_assert_eq(sb_consumer_subscribe_pattern(member.consumer, regex), 0);
    } else {
        member_subscribe(&member, "errors");
    }
    const struct sb_consumer_record *record = NULL;
    int result = poll_one(&member, &record);
    if (result < 0) {
        cr_assert_null(record);
        cr_assert_eq(sb_consumer_poll(member.consumer, 200, &record), 0, "reported once");
    }
    member_close(&member);
    return result;
}

Test(groups, group_errors_end_the_membership_and_are_reported_by_poll, .timeout = 60)
{
    struct cluster cluster;
    cluster_start(&cluster, 1, GROUP_BROKER_FLAGS, NULL);
    cluster_topic(&cluster, "errors", 1);
    const char *assignor[] = {"group.remote.assignor", "nosuch", NULL};
    cr_assert_eq(first_group_error(&cluster, "g-assignor", assignor, NULL),
                 SB_ERR_UNSUPPORTED_ASSIGNOR);
    cr_assert_eq(first_group_error(&cluster, "g-regex", NULL, "(unclosed"),
                 SB_ERR_INVALID_REGULAR_EXPRESSION);
    cr_assert_eq(first_group_error(&cluster, "bad\tgroup", NULL, NULL), SB_ERR_INVALID_GROUP_ID);
    const char *same[] = {"group.instance.id", "twin", NULL};
    struct member holder;
    member_open(&holder, &cluster, "g-twins", same);
    member_subscribe(&holder, "errors");
    settle(&holder, 1);
    cr_assert_eq(first_group_error(&cluster, "g-twins", same, NULL),
                 SB_ERR_UNRELEASED_INSTANCE_ID);
    member_close(&holder);
    cluster_stop(&cluster);
}

/* A rebalance callback that tries the calls a callback may not make. */
static void
on_rebalance_reentrant(struct sb_consumer *consumer, int event,
                       const struct sb_consumer_partition *partitions, size_t count,
                       void *opaque)
{
    int *checks = opaque;
    const struct sb_consumer_record *record = NULL;
    const char *topics[] = {"reenter"};
    cr_assert_eq(sb_consumer_poll(consumer, 0, &record), -EDEADLK);
    cr_assert_eq(sb_consumer_subscribe(consumer, topics, 1), -EDEADLK);
    cr_assert_eq(sb_consumer_unsubscribe(consumer), -EDEADLK);
    if (event == SB_CONSUMER_REVOKED) {
        cr_assert_eq(sb_consumer_commit_sync(consumer, partitions, count, TEST_WAIT_MS), 0,
                     "revoked partitions are still held during the callback");
    }
    (*checks)++;
}

/* An async commit callback (on the I/O thread) that tries to block. */
static void
on_commit_blocking(struct sb_consumer *consumer, int error,
                   const struct sb_consumer_partition *offsets, size_t count, void *opaque)
{
    (void)error;
    int *result = opaque;
    const char *topics[] = {"reenter"};
    int64_t committed = 0;
    cr_assert_eq(sb_consumer_subscribe(consumer, topics, 1), -EDEADLK);
    cr_assert_eq(sb_consumer_unsubscribe(consumer), -EDEADLK);
    cr_assert_eq(sb_consumer_committed(consumer, "reenter", 0, 100, &committed), -EDEADLK);
    const struct sb_consumer_record *record = NULL;
    cr_assert_eq(sb_consumer_poll(consumer, 0, &record), -EDEADLK, "its rebalance work waits");
    __atomic_store_n(result, sb_consumer_commit_sync(consumer, offsets, count, 100),
                     __ATOMIC_SEQ_CST);
}

Test(groups, callbacks_may_not_reenter_and_commit_on_revoke_works, .timeout = 60)
{
    struct cluster cluster;
    cluster_start(&cluster, 1, GROUP_BROKER_FLAGS, NULL);
    cluster_topic(&cluster, "reenter", 1);
    cluster_produce(cluster.client, "reenter", 0, 0, 3);
    const char *manual[] = {"enable.auto.commit", "false", NULL};
    struct member member;
    member_open(&member, &cluster, "reenter-group", manual);
    int checks = 0;
    cr_assert_eq(sb_consumer_set_rebalance_callback(member.consumer, on_rebalance_reentrant,
                                                    &checks), 0);
    member_subscribe(&member, "reenter");
    const struct sb_consumer_record *record = NULL;
    cr_assert_eq(poll_one(&member, &record), 1);
    cr_assert_eq(checks, 1, "assigned");
    int blocked = 1;
    cr_assert_eq(sb_consumer_commit_async(member.consumer, NULL, 0, on_commit_blocking,
                                          &blocked), 0);
    int64_t deadline = test_now_ms() + GROUP_WAIT_MS;
    /* Bounded by the deadline. */
    while (__atomic_load_n(&blocked, __ATOMIC_SEQ_CST) == 1 && test_now_ms() < deadline) {
        test_sleep_ms(10);
    }
    cr_assert_eq(blocked, -EDEADLK, "a blocking call on the I/O thread");
    cr_assert_eq(sb_consumer_unsubscribe(member.consumer), 0);
    cr_assert_eq(checks, 2, "revoked");
    int64_t committed = -1;
    cr_assert_eq(sb_consumer_committed(member.consumer, "reenter", 0, TEST_WAIT_MS, &committed),
                 0);
    cr_assert_eq(committed, 1, "the callback's commit");
    member_close(&member);
    cluster_stop(&cluster);
}

Test(groups, a_commit_or_close_while_the_broker_is_down_ends_in_time, .timeout = 60)
{
    struct cluster cluster;
    cluster_start(&cluster, 1, GROUP_BROKER_FLAGS, NULL);
    cluster_topic(&cluster, "down", 1);
    const char *quick[] = {"request.timeout.ms", "2000", NULL};
    struct member member;
    member_open(&member, &cluster, "down-group", quick);
    member_subscribe(&member, "down");
    settle(&member, 1);
    cr_assert_eq(broker_stop(&cluster.broker), 0);
    struct sb_consumer_partition offset = {.topic = "down", .partition = 0, .offset = 1};
    int result = sb_consumer_commit_sync(member.consumer, &offset, 1, 1000);
    cr_assert(result == -ETIMEDOUT || result == -ECONNREFUSED, "%s", sb_client_strerror(result));
    struct async_result async = {0};
    cr_assert_eq(sb_consumer_commit_async(member.consumer, &offset, 1, on_commit, &async), 0);
    int64_t started = test_now_ms();
    member_close(&member);
    cr_assert_eq(async.calls, 1, "the callback ran before close returned");
    cr_assert_neq(async.error, 0);
    cr_assert_lt(test_now_ms() - started, 20000, "close is bounded by request.timeout.ms");
    broker_start(&cluster.broker);
    cluster_stop(&cluster);
}

/* The forked consumer of the kill test: commits after every CHILD_COMMIT_EVERY records it
 * processed (and on revoke), writes "partition offset" per processed record to log_fd, and
 * runs until killed (or 60 s). Never returns. */
#define CHILD_COMMIT_EVERY 5

static void
child_on_rebalance(struct sb_consumer *consumer, int event,
                   const struct sb_consumer_partition *partitions, size_t count, void *opaque)
{
    (void)opaque;
    if (event == SB_CONSUMER_REVOKED) {
        sb_consumer_commit_sync(consumer, partitions, count, TEST_WAIT_MS);
    }
}

static void
child_consume(const char *bootstrap, int log_fd)
{
    struct sb_client_config *config = sb_client_config_new();
    struct sb_client *client = NULL;
    struct sb_consumer *consumer = NULL;
    const char *topics[] = {"work"};
    if (config == NULL || sb_client_config_set(config, "bootstrap.servers", bootstrap) != 0 ||
        sb_client_config_set(config, "group.id", "workers") != 0 ||
        sb_client_config_set(config, "enable.auto.commit", "false") != 0 ||
        sb_client_config_set(config, "auto.offset.reset", "earliest") != 0 ||
        sb_client_open(config, &client) != 0 || sb_consumer_open(client, &consumer) != 0 ||
        sb_consumer_set_rebalance_callback(consumer, child_on_rebalance, NULL) != 0 ||
        sb_consumer_subscribe(consumer, topics, 1) != 0) {
        _exit(2);
    }
    uint32_t processed = 0;
    int64_t deadline = test_now_ms() + 60000;
    /* Bounded by the deadline; normally ends with SIGKILL. */
    while (test_now_ms() < deadline) {
        const struct sb_consumer_record *record = NULL;
        if (sb_consumer_poll(consumer, 100, &record) != 1) {
            continue;
        }
        char line[64];
        int length = snprintf(line, sizeof(line), "%d %lld\n", record->partition,
                              (long long)record->offset);
        if (write(log_fd, line, (size_t)length) != length) {
            _exit(3);
        }
        if (++processed % CHILD_COMMIT_EVERY == 0) {
            sb_consumer_commit_sync(consumer, NULL, 0, TEST_WAIT_MS);
        }
    }
    _exit(0);
}

/* Adds the "partition offset" lines of the file at path to ledger (and to last[partition],
 * when not NULL, the highest offset); returns a mask of the partitions seen. */
static uint32_t
file_ledger(const char *path, struct ledger *ledger, int64_t *last)
{
    FILE *file = fopen(path, "r");
    cr_assert_not_null(file);
    uint32_t partitions = 0;
    int partition = 0;
    long long offset = 0;
    /* Bounded by the file's size. */
    while (fscanf(file, "%d %lld", &partition, &offset) == 2) {
        ledger_add(ledger, partition, offset);
        partitions |= 1u << partition;
        if (last != NULL) {
            last[partition] = offset > last[partition] ? offset : last[partition];
        }
    }
    fclose(file);
    return partitions;
}

Test(groups, a_killed_consumers_partitions_move_to_the_others_and_nothing_is_skipped,
     .timeout = 120)
{
    struct cluster cluster;
    cluster_start(&cluster, 2, GROUP_BROKER_FLAGS, NULL);
    cluster_topic(&cluster, "work", GROUP_PARTITIONS);
    produce_all(&cluster, "work", 0);
    char directory[] = "/tmp/sb-groups-XXXXXX";
    cr_assert_not_null(mkdtemp(directory));
    char path[128];
    snprintf(path, sizeof(path), "%s/child.log", directory);
    int log_fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0600);
    cr_assert_geq(log_fd, 0);
    pid_t child = fork();
    cr_assert_geq(child, 0);
    if (child == 0) {
        child_consume(cluster.bootstrap, log_fd);
    }
    close(log_fd);
    struct member members[2];
    static struct ledger parent;
    memset(&parent, 0, sizeof(parent));
    for (uint32_t index = 0; index < 2; index++) {
        member_open(&members[index], &cluster, "workers", NULL);
        member_subscribe(&members[index], "work");
    }
    /* Phase 1: the three of them hold two partitions each and processed everything. */
    static struct ledger all;
    int64_t deadline = test_now_ms() + GROUP_WAIT_MS;
    uint32_t child_partitions = 0;
    do {
        poll_until(members, 2, &parent, 0, 2);
        poll_for(members, 2, &parent, 200);
        all = parent;
        child_partitions = file_ledger(path, &all, NULL);
    } while ((all.total < GROUP_PARTITIONS * GROUP_RECORDS || child_partitions == 0) &&
             test_now_ms() < deadline);
    cr_assert_eq(all.total, GROUP_PARTITIONS * GROUP_RECORDS);
    cr_assert_eq(all.duplicates, 0u, "no failure yet: exactly once");
    cr_assert_eq(kill(child, SIGKILL), 0);
    int status = 0;
    cr_assert_eq(waitpid(child, &status, 0), child);
    int64_t killed_at = test_now_ms();
    /* Phase 2: new records everywhere; the dead member's partitions must be taken over. */
    produce_all(&cluster, "work", GROUP_RECORDS);
    poll_until(members, 2, &parent, 0, GROUP_PARTITIONS / 2);
    int64_t takeover_ms = test_now_ms() - killed_at;
    cr_assert_lt(takeover_ms, GROUP_SESSION_MS + 20000, "taken over after %lld ms",
                 (long long)takeover_ms);
    deadline = test_now_ms() + GROUP_WAIT_MS;
    do {
        poll_for(members, 2, &parent, 100);
        all = parent;
        file_ledger(path, &all, NULL);
    } while (all.total < 2 * GROUP_PARTITIONS * GROUP_RECORDS && test_now_ms() < deadline);
    cr_assert_eq(all.total, 2 * GROUP_PARTITIONS * GROUP_RECORDS, "nothing skipped");
    cr_assert_leq(all.duplicates, CHILD_COMMIT_EVERY,
                  "duplicates only from the dead member's last uncommitted batch: %u",
                  all.duplicates);
    cr_log_info("takeover after %lld ms, %u duplicate(s)", (long long)takeover_ms,
                all.duplicates);
    for (uint32_t index = 0; index < 2; index++) {
        member_close(&members[index]);
    }
    unlink(path);
    rmdir(directory);
    cluster_stop(&cluster);
}

/* Starts argv with stdout to out (-1: discarded), stdin and stderr /dev/null. */
static pid_t
spawn(char *const *argv, int out)
{
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        dup2(null, STDIN_FILENO);
        dup2(out >= 0 ? out : null, STDOUT_FILENO);
        dup2(null, STDERR_FILENO);
        execv(argv[0], argv);
        _exit(127);
    }
    return pid;
}

/* An sbctl consume --group process writing "partition offset" lines to a file. */
struct sbctl_member {
    pid_t pid;       /* The process. */
    char path[160];  /* Its stdout. */
};

static void
sbctl_member_start(struct sbctl_member *member, const char *bootstrap, const char *directory,
                   int number, const char *timeout_ms)
{
    snprintf(member->path, sizeof(member->path), "%s/sbctl-%d.out", directory, number);
    int out = open(member->path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    cr_assert_geq(out, 0);
    char *argv[] = {SBCTL_BINARY, "-b", (char *)bootstrap, "--timeout", (char *)timeout_ms,
                    "consume",
                    "cli", "--group", "cli-group", "--from", "beginning", "--format", "%p %o",
                    NULL};
    member->pid = spawn(argv, out);
    close(out);
}

Test(groups, two_sbctl_consume_group_processes_split_the_partitions_and_commit, .timeout = 90)
{
    struct cluster cluster;
    cluster_start(&cluster, 2, GROUP_BROKER_FLAGS, NULL);
    cluster_topic(&cluster, "cli", 4);
    char directory[] = "/tmp/sb-groups-XXXXXX";
    cr_assert_not_null(mkdtemp(directory));
    struct sbctl_member members[2];
    for (int number = 0; number < 2; number++) {
        sbctl_member_start(&members[number], cluster.bootstrap, directory, number, "10000");
    }
    /* Records keep coming until both members printed some (the second one's join moves
     * partitions to it), bounded by GROUP_WAIT_MS. */
    static struct ledger ledger;
    int64_t last[GROUP_PARTITIONS];
    uint32_t lines[2] = {0, 0};
    uint32_t produced = 0;
    int64_t deadline = test_now_ms() + GROUP_WAIT_MS;
    do {
        if (produced < 4 * GROUP_RECORDS - 10 && (lines[0] == 0 || lines[1] == 0)) {
            for (int32_t partition = 0; partition < 4; partition++) {
                cluster_produce(cluster.client, "cli", partition, produced, 1);
            }
            produced++;
        }
        test_sleep_ms(100);
        memset(&ledger, 0, sizeof(ledger));
        for (int number = 0; number < 2; number++) {
            memset(last, -1, sizeof(last));
            lines[number] = file_ledger(members[number].path, &ledger, last);
        }
    } while ((lines[0] == 0 || lines[1] == 0 || ledger.total < 4 * produced) &&
             test_now_ms() < deadline);
    cr_assert(lines[0] > 0 && lines[1] > 0, "both printed: %u and %u", lines[0], lines[1]);
    cr_assert_eq(ledger.total, 4 * produced, "every record printed");
    cr_assert_eq(ledger.duplicates, 0u, "by one of them only");
    for (int number = 0; number < 2; number++) {
        cr_assert_eq(kill(members[number].pid, SIGTERM), 0);
        int status = 0;
        cr_assert_eq(waitpid(members[number].pid, &status, 0), members[number].pid);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "SIGTERM: exit 0");
    }
    memset(&ledger, 0, sizeof(ledger));
    memset(last, -1, sizeof(last));
    for (int number = 0; number < 2; number++) {
        file_ledger(members[number].path, &ledger, last);
        unlink(members[number].path);
    }
    rmdir(directory);
    struct member reader;
    member_open(&reader, &cluster, "cli-group", NULL);
    for (int32_t partition = 0; partition < 4; partition++) {
        int64_t committed = -1;
        cr_assert_eq(sb_consumer_committed(reader.consumer, "cli", partition, TEST_WAIT_MS,
                                           &committed), 0);
        cr_assert_eq(committed, last[partition] + 1, "partition %d: committed what it printed",
                     partition);
    }
    member_close(&reader);
    cluster_stop(&cluster);
}

/* Runs sbctl -b bootstrap consume ARGS (NULL-terminated, output discarded); its exit code. */
static int
sbctl_consume_exit(const char *bootstrap, const char *const *args)
{
    char *argv[16] = {SBCTL_BINARY, "-b", (char *)bootstrap, "--timeout", "3000", "consume"};
    int argc = 6;
    for (size_t index = 0; args[index] != NULL && argc < 15; index++) {
        argv[argc++] = (char *)args[index];
    }
    argv[argc] = NULL;
    pid_t pid = spawn(argv, -1);
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status));
    return WEXITSTATUS(status);
}

Test(groups, sbctl_consume_group_refuses_what_a_group_cannot_do, .timeout = 60)
{
    struct cluster cluster;
    cluster_start(&cluster, 1, GROUP_BROKER_FLAGS, NULL);
    cluster_topic(&cluster, "cli", 1);
    cluster_produce(cluster.client, "cli", 0, 0, 3);
    const char *partition[] = {"cli", "--group", "g", "-p", "0", NULL};
    const char *offset[] = {"cli", "--group", "g", "--from", "5", NULL};
    const char *missing[] = {"cli", "--group", NULL};
    const char *unknown[] = {"nosuch", "--group", "g", NULL};
    const char *counted[] = {"cli", "--group=g", "--count", "2", NULL};
    const char *bad_group[] = {"cli", "--group", "bad\tgroup", NULL};
    cr_assert_eq(sbctl_consume_exit(cluster.bootstrap, bad_group), 1, "refused group id");
    cr_assert_eq(sbctl_consume_exit(cluster.bootstrap, partition), 2);
    cr_assert_eq(sbctl_consume_exit(cluster.bootstrap, offset), 2);
    cr_assert_eq(sbctl_consume_exit(cluster.bootstrap, missing), 2);
    cr_assert_eq(sbctl_consume_exit(cluster.bootstrap, unknown), 1);
    cr_assert_eq(sbctl_consume_exit(cluster.bootstrap, counted), 0);
    struct member reader;
    member_open(&reader, &cluster, "g", NULL);
    int64_t committed = -1;
    cr_assert_eq(sb_consumer_committed(reader.consumer, "cli", 0, TEST_WAIT_MS, &committed), 0);
    cr_assert_eq(committed, 2, "--count 2 committed the two it printed");
    member_close(&reader);
    cluster_stop(&cluster);
}

Test(groups, a_member_rejoins_after_a_broker_kill_9_and_resumes_at_its_commit, .timeout = 90)
{
    struct cluster cluster;
    cluster_start(&cluster, 2, GROUP_BROKER_FLAGS, NULL);
    cluster_topic(&cluster, "again", 1);
    cluster_produce(cluster.client, "again", 0, 0, 5);
    struct member member;
    member_open(&member, &cluster, "again-group", NULL);
    member_subscribe(&member, "again");
    const struct sb_consumer_record *record = NULL;
    for (int64_t offset = 0; offset < 5; offset++) {
        cr_assert_eq(poll_one(&member, &record), 1);
    }
    cr_assert_eq(sb_consumer_commit_sync(member.consumer, NULL, 0, TEST_WAIT_MS), 0);
    broker_kill(&cluster.broker);
    broker_start(&cluster.broker);
    cluster_produce(cluster.client, "again", 0, 5, 3);
    int64_t deadline = test_now_ms() + GROUP_WAIT_MS;
    int64_t next = 5;
    /* The coordinator forgot the member: it loses its partition, rejoins and reads on from
     * the commit (records after it may come twice, none is skipped). */
    while ((next < 8 || member.lost_events == 0) && test_now_ms() < deadline) {
        int result = sb_consumer_poll(member.consumer, 100, &record);
        cr_assert_geq(result, 0, "%s", sb_client_strerror(result));
        if (result == 1) {
            cr_assert_leq(record->offset, next, "nothing skipped");
            next = record->offset == next ? next + 1 : next;
        }
    }
    cr_assert_eq(next, 8);
    cr_assert_eq(member.lost_events, 1u, "the restarted coordinator did not know it");
    cluster_produce(cluster.client, "again", 0, 8, 1);
    do {
        cr_assert_eq(poll_one(&member, &record), 1, "a member again");
    } while (record->offset < 8);
    cr_assert_eq(record->offset, 8);
    member_close(&member);
    cluster_stop(&cluster);
}

Test(groups, sbctl_consume_group_whose_final_commit_fails_does_not_exit_0, .timeout = 60)
{
    struct cluster cluster;
    cluster_start(&cluster, 1, GROUP_BROKER_FLAGS, NULL);
    cluster_topic(&cluster, "cli", 1);
    cluster_produce(cluster.client, "cli", 0, 0, 2);
    char directory[] = "/tmp/sb-groups-XXXXXX";
    cr_assert_not_null(mkdtemp(directory));
    struct sbctl_member member;
    sbctl_member_start(&member, cluster.bootstrap, directory, 0, "2000");
    static struct ledger ledger;
    int64_t deadline = test_now_ms() + GROUP_WAIT_MS;
    /* Bounded by the deadline. */
    while (ledger.total < 2 && test_now_ms() < deadline) {
        test_sleep_ms(50);
        memset(&ledger, 0, sizeof(ledger));
        file_ledger(member.path, &ledger, NULL);
    }
    cr_assert_eq(ledger.total, 2u);
    cr_assert_eq(broker_stop(&cluster.broker), 0);
    cr_assert_eq(kill(member.pid, SIGTERM), 0);
    int status = 0;
    cr_assert_eq(waitpid(member.pid, &status, 0), member.pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 3, "the broker is gone: exit 3, not 0");
    unlink(member.path);
    rmdir(directory);
    broker_start(&cluster.broker);
    cluster_stop(&cluster);
}

Test(groups, a_new_subscription_replaces_the_old_one_and_unsubscribe_allows_a_rejoin,
     .timeout = 60)
{
    struct cluster cluster;
    cluster_start(&cluster, 2, GROUP_BROKER_FLAGS, NULL);
    cluster_topic(&cluster, "first", 1);
    cluster_topic(&cluster, "second", 2);
    struct member member;
    member_open(&member, &cluster, "changing", NULL);
    member_subscribe(&member, "first");
    settle(&member, 1);
    const char *both[] = {"first", "second"};
    cr_assert_eq(sb_consumer_subscribe(member.consumer, both, 2), 0);
    settle(&member, 3);
    member_subscribe(&member, "second");
    settle(&member, 2);
    struct sb_consumer_partition held[4];
    cr_assert_eq(member_partitions(&member, held, 4), 2);
    cr_assert_str_eq(held[0].topic, "second");
    cr_assert_str_eq(held[1].topic, "second");
    cr_assert_eq(sb_consumer_unsubscribe(member.consumer), 0);
    cr_assert_eq(member_partitions(&member, held, 4), 0);
    int32_t epoch = 0;
    sb_consumer_member_id(member.consumer, &epoch);
    cr_assert_eq(epoch, -1, "left");
    member_subscribe(&member, "first");
    settle(&member, 1);
    cr_assert_eq(member_partitions(&member, held, 4), 1);
    cr_assert_str_eq(held[0].topic, "first");
    member_close(&member);
    cluster_stop(&cluster);
}

/* Waits up to GROUP_WAIT_MS (without polling) until member's heartbeats brought a target
 * of want partitions. */
static void
target_wait(struct member *member, uint32_t want)
{
    int64_t deadline = test_now_ms() + GROUP_WAIT_MS;
    uint32_t count = 0;
    /* Bounded by the deadline. */
    while (test_now_ms() < deadline) {
        pthread_mutex_lock(&member->client->mutex);
        count = member->consumer->group.target_count;
        pthread_mutex_unlock(&member->client->mutex);
        if (count == want) {
            break;
        }
        usleep(10000);
    }
    cr_assert_eq(count, want, "target of %u partitions, not %u", count, want);
}

/* A member told to revoke a partition (paused) that its next answer gives back, before its
 * poll revoked it, still holds it: it must fetch it again (the coordinator never let it go,
 * so nobody else ever will). Fencing storms make this likely: members vanish mid-rebalance. */
Test(groups, a_partition_given_back_before_poll_revoked_it_is_consumed_again, .timeout = 90)
{
    struct cluster cluster;
    /* Heartbeats every 2 s: the holder's rebalance timeout (6 s) outlasts the steps below. */
    cluster_start(&cluster, 1,
                  "--group-session-timeout-ms 6000 --group-heartbeat-interval-ms 2000", NULL);
    cluster_topic(&cluster, "back", 2);
    struct member holder;
    struct member other;
    member_open(&holder, &cluster, "back", NULL);
    member_subscribe(&holder, "back");
    settle(&holder, 2);
    member_open(&other, &cluster, "back", NULL);
    member_subscribe(&other, "back");
    target_wait(&holder, 1); /* One partition is the other member's now: paused. */
    member_close(&other);
    target_wait(&holder, 2); /* Given back before the holder's poll revoked it. */
    for (int32_t partition = 0; partition < 2; partition++) {
        cluster_produce(cluster.client, "back", partition, 0, GROUP_RECORDS);
    }
    static struct ledger ledger;
    memset(&ledger, 0, sizeof(ledger));
    poll_until(&holder, 1, &ledger, 2 * GROUP_RECORDS, 2);
    cr_assert_eq(holder.lost_events, 0u, "the holder was never fenced");
    cr_assert_eq(holder.revoked_events, 0u, "nothing was revoked");
    member_close(&holder);
    cluster_stop(&cluster);
}
