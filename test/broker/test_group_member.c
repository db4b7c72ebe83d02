/*
 * test/broker/test_group_member.c - broker/group_member.c's membership state machine as a
 * unit (no broker, no sockets; the test owns the clock and the topic table).
 *
 * Scenarios: a join gets every partition; a second member waits until the first has revoked
 * (revoke before assign); stale, unknown and lost-answer epochs; the commit check; leaving;
 * session and rebalance timeouts; static membership (leave with -2 and take the place back
 * without a rebalance, UNRELEASED_INSTANCE_ID for a second live holder, expiry); regex
 * subscriptions; partition growth; unsubscribing; deleted topics; topics past the group's
 * partition limit; the group size limit; bad requests; the
 * group's assignor choice; and the states EMPTY, ASSIGNING, RECONCILING, STABLE, DEAD.
 *
 * The randomized test drives up to 12 simulated clients with a seeded generator through
 * thousands of steps of joins, heartbeats, slow revocations, leaves (-1 and -2), crashes,
 * pauses (zombies that come back), static rejoins, subscription changes (names and regexes)
 * and partition growth, expiring members as time passes. After every step it checks:
 * - no partition is owned by two clients whose members are live in the group (a member the
 *   group still has, not away), and each such client owns only partitions its member holds;
 * - a live client's commit at its epoch is accepted;
 * - epochs never go backwards (the group epoch, the assignment epoch, each member's epoch);
 * and after every 500 steps and at the end it lets heartbeats settle (no more changes, the
 * silent members expire) and checks every partition of every subscribed topic is owned by
 * exactly one live client that subscribes to it, and the group is STABLE.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "broker/group_member.h"

#define SESSION_MS 10000

/* The group, the broker's topics and the last answer. */
struct world {
    struct sb_membership membership;                        /* The group under test. */
    struct sb_group_topic topics[4];                        /* The broker's topics. */
    char names[4][16];                                      /* Their names. */
    struct sb_group_topics view;                            /* Points at topics. */
    struct sb_group_answer answer;                          /* The last answer. */
    struct sb_group_partition assigned[SB_GROUP_PARTITIONS_MAX]; /* The last assignment. */
};

static struct world world;

static void
world_init(struct world *w)
{
    memset(w, 0, sizeof(*w));
    sb_membership_init(&w->membership, SB_GROUP_ASSIGNOR_UNIFORM, SESSION_MS);
    w->view.topics = w->topics;
}

/* Adds topic `name` with id count + 1 (or grows an existing one) and bumps the version. */
static void
topic_set(struct world *w, const char *name, uint32_t partitions)
{
    for (uint32_t at = 0; at < w->view.count; at++) {
        if (strcmp(w->names[at], name) == 0) {
            w->topics[at].partition_count = partitions;
            w->view.version++;
            return;
        }
    }
    uint32_t at = w->view.count++;
    snprintf(w->names[at], sizeof(w->names[at]), "%s", name);
    w->topics[at] = (struct sb_group_topic){w->names[at], at + 1, partitions};
    w->view.version++;
}

/* Deletes the last topic the world has and bumps the version. */
static void
topic_delete_last(struct world *w)
{
    w->view.count--;
    w->view.version++;
}

/* A heartbeat of `id` at `epoch` listing `owned` (NULL: unchanged). */
static struct sb_group_heartbeat
request_of(const char *id, int32_t epoch, const struct sb_group_partition *owned,
           uint32_t owned_count)
{
    return (struct sb_group_heartbeat){
        .member_id = id, .member_epoch = epoch, .rebalance_timeout_ms = -1,
        .owned_set = owned != NULL, .owned = owned, .owned_count = owned_count};
}

static const struct sb_group_answer *
send(struct world *w, const struct sb_group_heartbeat *request, int64_t now_ms)
{
    sb_membership_heartbeat(&w->membership, request, &w->view, now_ms, &w->answer,
                            w->assigned);
    return &w->answer;
}

/* Sets the request's subscription to `count` topic names. */
static void
subscribe_names(struct sb_group_heartbeat *request, const char *const *names, uint32_t count)
{
    request->topic_names_set = true;
    request->topic_names = names;
    request->topic_name_count = count;
}

/* Joins `id` subscribed to `count` topic names; returns the answer. */
static const struct sb_group_answer *
join_names(struct world *w, const char *id, const char *const *names, uint32_t count,
           int64_t now_ms)
{
    struct sb_group_heartbeat request = request_of(id, 0, w->assigned, 0);
    subscribe_names(&request, names, count);
    return send(w, &request, now_ms);
}

static const struct sb_group_answer *
join(struct world *w, const char *id, const char *topic, int64_t now_ms)
{
    const char *names[] = {topic};
    return join_names(w, id, names, 1, now_ms);
}

/* Topics orders (id 1) and refunds (id 2) of 2 partitions each; "a" joins both. */
static void
two_topics_joined(struct world *w)
{
    static const char *const both[] = {"orders", "refunds"};
    topic_set(w, "orders", 2);
    topic_set(w, "refunds", 2);
    cr_assert_eq(join_names(w, "a", both, 2, 0)->assigned_count, 4u);
}

/* A heartbeat listing exactly what the last answer assigned (a prompt client). */
static const struct sb_group_answer *
ack(struct world *w, const char *id, int32_t epoch, int64_t now_ms)
{
    static struct sb_group_partition owned[SB_GROUP_PARTITIONS_MAX];
    uint32_t count = w->answer.assigned_count;
    memcpy(owned, w->assigned, count * sizeof(owned[0]));
    struct sb_group_heartbeat request = request_of(id, epoch, owned, count);
    return send(w, &request, now_ms);
}

static uint32_t
owned_count(const struct world *w, const char *id)
{
    static struct sb_group_partition out[SB_GROUP_PARTITIONS_MAX];
    int index = sb_membership_find(&w->membership, id);
    cr_assert_geq(index, 0, "%s is a member", id);
    return sb_membership_partitions(&w->membership, (uint32_t)index, false, out);
}

Test(group_member, a_join_gets_every_partition_at_epoch_one)
{
    world_init(&world);
    topic_set(&world, "orders", 4);
    cr_assert_eq(sb_membership_state(&world.membership), SB_MEMBERSHIP_EMPTY);
    const struct sb_group_answer *answer = join(&world, "a", "orders", 0);
    cr_assert_eq(answer->error, SB_GROUP_ERROR_NONE);
    cr_assert_eq(answer->member_epoch, 1);
    cr_assert_eq(answer->assigned_count, 4u);
    for (uint32_t partition = 0; partition < 4; partition++) {
        cr_assert_eq(world.assigned[partition].topic_id, 1u);
        cr_assert_eq(world.assigned[partition].partition, partition);
    }
    cr_assert_eq(world.membership.group_epoch, 1);
    cr_assert_eq(sb_membership_state(&world.membership), SB_MEMBERSHIP_STABLE);
    sb_membership_deinit(&world.membership);
    cr_assert_eq(sb_membership_state(&world.membership), SB_MEMBERSHIP_DEAD);
}

/* a owns orders 0-3 at epoch 1; b joins: returns with both at epoch 2, stable. */
static void
two_members_settle(struct world *w)
{
    topic_set(w, "orders", 4);
    join(w, "a", "orders", 0);
    const struct sb_group_answer *answer = join(w, "b", "orders", 10);
    cr_assert_eq(answer->member_epoch, 2);
    cr_assert_eq(answer->assigned_count, 0u, "a still owns everything");
    cr_assert_eq(sb_membership_state(&w->membership), SB_MEMBERSHIP_RECONCILING);
    static const struct sb_group_partition all[] = {{1, 0}, {1, 1}, {1, 2}, {1, 3}};
    struct sb_group_heartbeat request = request_of("a", 1, all, 4);
    answer = send(w, &request, 20);
    cr_assert_eq(answer->member_epoch, 1, "a must revoke before its epoch moves");
    cr_assert_eq(answer->assigned_count, 2u);
    cr_assert_eq(sb_membership_check_commit(&w->membership, "a", 1), SB_GROUP_ERROR_NONE);
    answer = ack(w, "a", 1, 30);
    cr_assert_eq(answer->member_epoch, 2);
    cr_assert_eq(answer->assigned_count, 2u);
    struct sb_group_partition kept[2] = {w->assigned[0], w->assigned[1]};
    answer = ack(w, "b", 2, 40);
    cr_assert_eq(answer->assigned_count, 2u, "b gets what a released");
    for (uint32_t at = 0; at < 2; at++) {
        for (uint32_t other = 0; other < 2; other++) {
            cr_assert_neq(kept[at].partition, w->assigned[other].partition, "no overlap");
        }
    }
    cr_assert_eq(sb_membership_state(&w->membership), SB_MEMBERSHIP_STABLE);
}

Test(group_member, a_second_member_waits_until_the_first_revoked)
{
    world_init(&world);
    two_members_settle(&world);
    cr_assert_eq(owned_count(&world, "a"), 2u);
    cr_assert_eq(owned_count(&world, "b"), 2u);
}

Test(group_member, wrong_unknown_and_lost_answer_epochs)
{
    world_init(&world);
    two_members_settle(&world);
    struct sb_group_heartbeat request = request_of("a", 7, NULL, 0);
    cr_assert_eq(send(&world, &request, 50)->error, SB_GROUP_ERROR_FENCED_MEMBER_EPOCH);
    request = request_of("zzz", 3, NULL, 0);
    cr_assert_eq(send(&world, &request, 50)->error, SB_GROUP_ERROR_UNKNOWN_MEMBER_ID);
    static struct sb_group_partition a_owns[SB_GROUP_PARTITIONS_MAX];
    int a = sb_membership_find(&world.membership, "a");
    uint32_t count = sb_membership_partitions(&world.membership, (uint32_t)a, false, a_owns);
    request = request_of("a", 1, a_owns, count);
    const struct sb_group_answer *answer = send(&world, &request, 60);
    cr_assert_eq(answer->error, SB_GROUP_ERROR_NONE, "its last answer was lost");
    cr_assert_eq(answer->member_epoch, 2);
    request = request_of("a", 1, NULL, 0);
    cr_assert_eq(send(&world, &request, 60)->error, SB_GROUP_ERROR_FENCED_MEMBER_EPOCH,
                 "an old epoch without its owned partitions");
    static const struct sb_group_partition all[] = {{1, 0}, {1, 1}, {1, 2}, {1, 3}};
    request = request_of("a", 1, all, 4);
    cr_assert_eq(send(&world, &request, 60)->error, SB_GROUP_ERROR_FENCED_MEMBER_EPOCH,
                 "an old epoch claiming b's partitions");
}

Test(group_member, commits_are_checked_against_the_member_epoch)
{
    world_init(&world);
    two_members_settle(&world);
    const struct sb_membership *membership = &world.membership;
    cr_assert_eq(sb_membership_check_commit(membership, "a", 2), SB_GROUP_ERROR_NONE);
    cr_assert_eq(sb_membership_check_commit(membership, "a", 1),
                 SB_GROUP_ERROR_STALE_MEMBER_EPOCH);
    cr_assert_eq(sb_membership_check_commit(membership, "a", 3),
                 SB_GROUP_ERROR_FENCED_MEMBER_EPOCH);
    cr_assert_eq(sb_membership_check_commit(membership, "a", -5),
                 SB_GROUP_ERROR_FENCED_MEMBER_EPOCH);
    cr_assert_eq(sb_membership_check_commit(membership, "nobody", 2),
                 SB_GROUP_ERROR_UNKNOWN_MEMBER_ID);
    cr_assert_eq(sb_membership_check_commit(membership, "", -1),
                 SB_GROUP_ERROR_UNKNOWN_MEMBER_ID, "no commits without membership now");
    struct sb_group_heartbeat request = request_of("a", SB_MEMBER_EPOCH_LEAVE, NULL, 0);
    send(&world, &request, 70);
    request = request_of("b", SB_MEMBER_EPOCH_LEAVE, NULL, 0);
    send(&world, &request, 70);
    cr_assert_eq(sb_membership_check_commit(membership, "", -1), SB_GROUP_ERROR_NONE);
    cr_assert_eq(sb_membership_check_commit(membership, "a", 2),
                 SB_GROUP_ERROR_UNKNOWN_MEMBER_ID);
}

Test(group_member, a_leaving_member_frees_its_partitions)
{
    world_init(&world);
    two_members_settle(&world);
    struct sb_group_heartbeat request = request_of("a", SB_MEMBER_EPOCH_LEAVE, NULL, 0);
    const struct sb_group_answer *answer = send(&world, &request, 50);
    cr_assert_eq(answer->error, SB_GROUP_ERROR_NONE);
    cr_assert_eq(answer->member_epoch, SB_MEMBER_EPOCH_LEAVE);
    cr_assert_eq(world.membership.group_epoch, 3);
    cr_assert_eq(sb_membership_state(&world.membership), SB_MEMBERSHIP_ASSIGNING);
    answer = ack(&world, "b", 2, 60);
    cr_assert_eq(answer->member_epoch, 3);
    cr_assert_eq(answer->assigned_count, 4u);
    cr_assert_eq(send(&world, &request, 70)->error, SB_GROUP_ERROR_UNKNOWN_MEMBER_ID);
}

Test(group_member, a_silent_member_is_fenced_after_its_session)
{
    world_init(&world);
    two_members_settle(&world);
    cr_assert_eq(sb_membership_deadline(&world.membership), 30 + SESSION_MS, "a's session");
    ack(&world, "a", 2, 5000);
    cr_assert_eq(sb_membership_expire(&world.membership, 40 + SESSION_MS - 1), 0u);
    cr_assert_eq(sb_membership_expire(&world.membership, 40 + SESSION_MS), 1u, "b is silent");
    cr_assert_lt(sb_membership_find(&world.membership, "b"), 0);
    cr_assert_eq(sb_membership_state(&world.membership), SB_MEMBERSHIP_ASSIGNING);
    static struct sb_group_partition two[SB_GROUP_PARTITIONS_MAX];
    int a = sb_membership_find(&world.membership, "a");
    sb_membership_partitions(&world.membership, (uint32_t)a, false, two);
    struct sb_group_heartbeat request = request_of("a", 2, two, 2);
    cr_assert_eq(send(&world, &request, 10100)->assigned_count, 4u);
    request = request_of("b", 2, NULL, 0);
    cr_assert_eq(send(&world, &request, 10100)->error, SB_GROUP_ERROR_UNKNOWN_MEMBER_ID);
    cr_assert_eq(sb_membership_check_commit(&world.membership, "b", 2),
                 SB_GROUP_ERROR_UNKNOWN_MEMBER_ID, "the zombie's commit is refused");
}

Test(group_member, a_member_that_does_not_revoke_in_time_is_fenced)
{
    world_init(&world);
    topic_set(&world, "orders", 4);
    const char *names[] = {"orders"};
    struct sb_group_heartbeat request = request_of("a", 0, world.assigned, 0);
    subscribe_names(&request, names, 1);
    request.rebalance_timeout_ms = 3000;
    send(&world, &request, 0);
    join(&world, "b", "orders", 100);
    static const struct sb_group_partition all[] = {{1, 0}, {1, 1}, {1, 2}, {1, 3}};
    request = request_of("a", 1, all, 4);
    cr_assert_eq(send(&world, &request, 200)->member_epoch, 1);
    cr_assert_eq(sb_membership_deadline(&world.membership), 3200);
    cr_assert_eq(send(&world, &request, 3000)->member_epoch, 1, "still not revoked");
    cr_assert_eq(sb_membership_expire(&world.membership, 3199), 0u);
    cr_assert_eq(sb_membership_expire(&world.membership, 3200), 1u);
    cr_assert_lt(sb_membership_find(&world.membership, "a"), 0);
    request = request_of("b", 2, world.assigned, 0);
    cr_assert_eq(send(&world, &request, 3300)->assigned_count, 4u);
}

/* Joins a static member `id` with instance id "i1". */
static const struct sb_group_answer *
join_static(struct world *w, const char *id, int64_t now_ms)
{
    const char *names[] = {"orders"};
    struct sb_group_heartbeat request = request_of(id, 0, w->assigned, 0);
    request.instance_id = "i1";
    subscribe_names(&request, names, 1);
    return send(w, &request, now_ms);
}

Test(group_member, a_static_member_takes_its_place_back_without_a_rebalance)
{
    world_init(&world);
    topic_set(&world, "orders", 4);
    cr_assert_eq(join_static(&world, "a1", 0)->assigned_count, 4u);
    join(&world, "b", "orders", 10);
    ack(&world, "b", 2, 10);
    static const struct sb_group_partition all[] = {{1, 0}, {1, 1}, {1, 2}, {1, 3}};
    struct sb_group_heartbeat request = request_of("a1", 1, all, 4);
    send(&world, &request, 20);
    ack(&world, "a1", 1, 30);
    cr_assert_eq(world.answer.member_epoch, 2);
    cr_assert_eq(world.answer.assigned_count, 2u);
    request = request_of("b", 2, world.assigned, 0);
    cr_assert_eq(send(&world, &request, 40)->assigned_count, 2u);
    request = request_of("a1", SB_MEMBER_EPOCH_STATIC_LEAVE, NULL, 0);
    cr_assert_eq(send(&world, &request, 100)->member_epoch, SB_MEMBER_EPOCH_STATIC_LEAVE);
    cr_assert_eq(world.membership.group_epoch, 2, "no rebalance");
    cr_assert_eq(sb_membership_check_commit(&world.membership, "a1", 2),
                 SB_GROUP_ERROR_FENCED_MEMBER_EPOCH);
    const struct sb_group_answer *answer = join_static(&world, "a2", 200);
    cr_assert_eq(answer->error, SB_GROUP_ERROR_NONE);
    cr_assert_eq(answer->member_epoch, 2, "its epoch back");
    cr_assert_eq(answer->assigned_count, 2u, "its partitions back");
    cr_assert_eq(world.membership.group_epoch, 2, "still no rebalance");
    cr_assert_lt(sb_membership_find(&world.membership, "a1"), 0);
    cr_assert_eq(sb_membership_state(&world.membership), SB_MEMBERSHIP_STABLE);
    cr_assert_eq(join_static(&world, "a3", 300)->error,
                 SB_GROUP_ERROR_UNRELEASED_INSTANCE_ID);
}

Test(group_member, a_static_member_away_longer_than_its_session_is_removed)
{
    world_init(&world);
    topic_set(&world, "orders", 4);
    join_static(&world, "a1", 0);
    struct sb_group_heartbeat request = request_of("a1", SB_MEMBER_EPOCH_STATIC_LEAVE, NULL, 0);
    send(&world, &request, 100);
    cr_assert_eq(sb_membership_state(&world.membership), SB_MEMBERSHIP_STABLE);
    cr_assert_eq(sb_membership_expire(&world.membership, 100 + SESSION_MS - 1), 0u);
    cr_assert_eq(sb_membership_expire(&world.membership, 100 + SESSION_MS), 1u);
    cr_assert_eq(sb_membership_state(&world.membership), SB_MEMBERSHIP_EMPTY);
    const struct sb_group_answer *answer = join_static(&world, "a2", 20000);
    cr_assert_eq(answer->member_epoch, 3, "a new member after a rebalance");
}

Test(group_member, a_regex_subscribes_to_whole_matching_names)
{
    world_init(&world);
    topic_set(&world, "orders", 2);
    topic_set(&world, "orders-eu", 2);
    topic_set(&world, "borders", 2);
    struct sb_group_heartbeat request = request_of("a", 0, world.assigned, 0);
    request.topic_regex = "(";
    cr_assert_eq(send(&world, &request, 0)->error,
                 SB_GROUP_ERROR_INVALID_REGULAR_EXPRESSION);
    cr_assert_lt(sb_membership_find(&world.membership, "a"), 0, "nothing changed");
    request.topic_regex = "orders.*";
    const struct sb_group_answer *answer = send(&world, &request, 0);
    cr_assert_eq(answer->error, SB_GROUP_ERROR_NONE);
    cr_assert_eq(answer->assigned_count, 4u);
    cr_assert_eq(world.assigned[3].topic_id, 2u);
    topic_set(&world, "orders-us", 3);
    answer = ack(&world, "a", 1, 10);
    cr_assert_eq(answer->member_epoch, 2, "a new matching topic moves the epoch");
    cr_assert_eq(answer->assigned_count, 7u);
    request = request_of("a", 2, NULL, 0);
    request.topic_regex = "";
    answer = send(&world, &request, 20);
    cr_assert_eq(answer->assigned_count, 0u, "an empty regex subscribes to nothing");
}

Test(group_member, partition_growth_moves_the_epoch_and_assigns_the_new_partitions)
{
    world_init(&world);
    topic_set(&world, "orders", 2);
    join(&world, "a", "orders", 0);
    topic_set(&world, "orders", 5);
    const struct sb_group_answer *answer = ack(&world, "a", 1, 10);
    cr_assert_eq(answer->member_epoch, 2);
    cr_assert_eq(answer->assigned_count, 5u);
    cr_assert_eq(world.membership.group_epoch, 2);
    topic_set(&world, "other", 5);
    answer = ack(&world, "a", 2, 20);
    cr_assert_eq(world.membership.group_epoch, 2, "an unsubscribed topic changes nothing");
}

Test(group_member, an_unsubscribed_topic_is_revoked_and_assigned_to_nobody)
{
    world_init(&world);
    two_topics_joined(&world);
    static const struct sb_group_partition all[] = {{1, 0}, {1, 1}, {2, 0}, {2, 1}};
    const char *refunds[] = {"refunds"};
    struct sb_group_heartbeat request = request_of("a", 1, all, 4);
    subscribe_names(&request, refunds, 1);
    const struct sb_group_answer *answer = send(&world, &request, 10);
    cr_assert_eq(answer->member_epoch, 1, "orders not revoked yet");
    cr_assert_eq(answer->assigned_count, 2u);
    cr_assert_eq(world.assigned[0].topic_id, 2u);
    cr_assert_eq(sb_membership_state(&world.membership), SB_MEMBERSHIP_RECONCILING);
    answer = ack(&world, "a", 1, 20);
    cr_assert_eq(answer->member_epoch, 2);
    cr_assert_eq(sb_membership_state(&world.membership), SB_MEMBERSHIP_STABLE);
}

Test(group_member, a_deleted_topic_is_revoked_and_then_forgotten)
{
    world_init(&world);
    two_topics_joined(&world);
    static const struct sb_group_partition all[] = {{1, 0}, {1, 1}, {2, 0}, {2, 1}};
    topic_delete_last(&world);
    struct sb_group_heartbeat request = request_of("a", 1, all, 4);
    const struct sb_group_answer *answer = send(&world, &request, 10);
    cr_assert_eq(answer->assigned_count, 2u, "refunds is gone");
    cr_assert_eq(world.membership.topic_count, 2u, "still held: still tracked");
    cr_assert_eq(ack(&world, "a", 1, 20)->member_epoch, 2);
    topic_set(&world, "orders", 3);
    cr_assert_eq(ack(&world, "a", 2, 30)->assigned_count, 3u);
    cr_assert_eq(world.membership.topic_count, 1u, "released: forgotten");
}

Test(group_member, topics_past_the_group_limit_are_left_out)
{
    world_init(&world);
    topic_set(&world, "big", SB_GROUP_PARTITIONS_MAX);
    topic_set(&world, "small", 1);
    const char *both[] = {"big", "small"};
    const struct sb_group_answer *answer = join_names(&world, "a", both, 2, 0);
    cr_assert_eq(answer->error, SB_GROUP_ERROR_NONE);
    cr_assert_eq(answer->assigned_count, SB_GROUP_PARTITIONS_MAX);
    cr_assert(world.membership.topics_truncated);
    cr_assert_eq(world.membership.topic_count, 1u);
}

Test(group_member, the_group_refuses_a_member_past_its_size)
{
    world_init(&world);
    topic_set(&world, "orders", 1);
    char id[16];
    for (uint32_t member = 0; member < SB_GROUP_MEMBERS_MAX; member++) {
        snprintf(id, sizeof(id), "m%u", member);
        cr_assert_eq(join(&world, id, "orders", member)->error, SB_GROUP_ERROR_NONE);
    }
    cr_assert_eq(join(&world, "late", "orders", 100)->error,
                 SB_GROUP_ERROR_GROUP_MAX_SIZE_REACHED);
    cr_assert_eq(world.membership.member_count, SB_GROUP_MEMBERS_MAX);
}

Test(group_member, bad_requests_change_nothing)
{
    world_init(&world);
    topic_set(&world, "orders", 1);
    char long_id[SB_WIRE_MEMBER_ID_BYTES_MAX + 2];
    memset(long_id, 'x', sizeof(long_id) - 1);
    long_id[sizeof(long_id) - 1] = '\0';
    cr_assert_eq(join(&world, "", "orders", 0)->error, SB_GROUP_ERROR_INVALID_REQUEST);
    cr_assert_eq(join(&world, long_id, "orders", 0)->error, SB_GROUP_ERROR_INVALID_REQUEST);
    struct sb_group_heartbeat request = request_of("a", 0, NULL, 0);
    request.assignor = "sticky";
    cr_assert_eq(send(&world, &request, 0)->error, SB_GROUP_ERROR_UNSUPPORTED_ASSIGNOR);
    request = request_of("a", -3, NULL, 0);
    cr_assert_eq(send(&world, &request, 0)->error, SB_GROUP_ERROR_INVALID_REQUEST);
    request = request_of("a", 0, NULL, 0);
    request.instance_id = "";
    cr_assert_eq(send(&world, &request, 0)->error, SB_GROUP_ERROR_INVALID_REQUEST);
    static char name[SB_WIRE_TOPIC_NAME_BYTES_MAX + 1];
    memset(name, 'n', SB_WIRE_TOPIC_NAME_BYTES_MAX);
    const char *names[SB_GROUP_SUBSCRIPTION_BYTES_MAX / SB_WIRE_TOPIC_NAME_BYTES_MAX + 1];
    for (uint32_t at = 0; at < sizeof(names) / sizeof(names[0]); at++) {
        names[at] = name;
    }
    cr_assert_eq(join_names(&world, "a", names, sizeof(names) / sizeof(names[0]), 0)->error,
                 SB_GROUP_ERROR_INVALID_REQUEST, "names past the subscription's bytes");
    static char regex[SB_GROUP_REGEX_BYTES_MAX + 2];
    memset(regex, 'r', SB_GROUP_REGEX_BYTES_MAX + 1);
    request = request_of("a", 0, NULL, 0);
    request.topic_regex = regex;
    cr_assert_eq(send(&world, &request, 0)->error, SB_GROUP_ERROR_INVALID_REQUEST);
    cr_assert_eq(world.membership.member_count, 0u);
    cr_assert_eq(world.membership.group_epoch, 0);
}

Test(group_member, the_group_uses_the_assignor_most_members_ask_for)
{
    world_init(&world);
    topic_set(&world, "orders", 4);
    cr_assert_eq(sb_membership_assignor(&world.membership), SB_GROUP_ASSIGNOR_UNIFORM);
    struct sb_group_heartbeat request = request_of("a", 0, NULL, 0);
    request.assignor = "range";
    send(&world, &request, 0);
    cr_assert_eq(sb_membership_assignor(&world.membership), SB_GROUP_ASSIGNOR_RANGE);
    request = request_of("b", 0, NULL, 0);
    request.assignor = "uniform";
    send(&world, &request, 0);
    cr_assert_eq(sb_membership_assignor(&world.membership), SB_GROUP_ASSIGNOR_UNIFORM,
                 "a tie keeps the default");
}

/* The randomized test (see the file comment). */
#define SIM_CLIENTS 12
#define SIM_TOPICS 3
#define SIM_PARTITIONS_MAX 16

enum client_state {
    CLIENT_ABSENT,  /* Never joined, or left with -1. */
    CLIENT_LIVE,    /* Heartbeats. */
    CLIENT_CRASHED, /* Gone without a word; may restart as a new incarnation. */
    CLIENT_PAUSED,  /* Silent but still believes what it owned; may resume (a zombie). */
    CLIENT_AWAY,    /* A static member that left with -2; may restart. */
};

/* One simulated consumer process (one incarnation at a time). */
struct client {
    enum client_state state;                      /* See enum client_state. */
    char member_id[24];                           /* This incarnation's member id. */
    char instance_id[16];                         /* "" = dynamic. */
    uint32_t incarnation;                         /* Restarts so far. */
    int32_t epoch;                                /* Last epoch received; 0 = join next. */
    int32_t highest_epoch;                        /* Highest epoch this member id got. */
    bool owned[SIM_TOPICS][SIM_PARTITIONS_MAX];   /* What the process owns now. */
    uint32_t topics_mask;                         /* Subscribed topics (bit = topic). */
    bool by_regex;                                /* Subscribes with a regex. */
    bool subscription_sent;                       /* The group has its subscription. */
};

/* The simulation: the world, its clients, the generator and the clock. */
struct sim {
    struct client clients[SIM_CLIENTS]; /* Clients by index; even ones are static. */
    uint64_t random;                    /* xorshift64 state. */
    int64_t now_ms;                     /* The clock. */
    int32_t group_epoch;                /* Highest group epoch seen. */
    int32_t assignment_epoch;           /* Highest assignment epoch seen. */
};

static struct sim sim;

static uint64_t
sim_random(struct sim *s)
{
    s->random ^= s->random << 13;
    s->random ^= s->random >> 7;
    s->random ^= s->random << 17;
    return s->random;
}

static void
client_new_incarnation(struct sim *s, uint32_t index)
{
    struct client *client = &s->clients[index];
    client->incarnation++;
    snprintf(client->member_id, sizeof(client->member_id), "c%u-%u", index,
             client->incarnation);
    client->epoch = 0;
    client->highest_epoch = 0;
    memset(client->owned, 0, sizeof(client->owned));
    client->subscription_sent = false;
}

static void
client_subscribe_randomly(struct sim *s, struct client *client)
{
    client->topics_mask = (uint32_t)(sim_random(s) % (1u << SIM_TOPICS));
    client->by_regex = sim_random(s) % 2 == 0;
    client->subscription_sent = false;
}

/* Fills the request's subscription from the client's mask: names, or "t[..]". */
static void
client_subscription(const struct client *client, struct sb_group_heartbeat *request,
                    const char **names, char *regex)
{
    static const char *const topic_names[SIM_TOPICS] = {"t0", "t1", "t2"};
    uint32_t count = 0;
    char digits[SIM_TOPICS + 1] = {0};
    for (uint32_t topic = 0; topic < SIM_TOPICS; topic++) {
        if (client->topics_mask & (1u << topic)) {
            names[count] = topic_names[topic];
            digits[count++] = (char)('0' + topic);
        }
    }
    request->topic_names_set = true;
    request->topic_names = names;
    request->topic_name_count = client->by_regex ? 0 : count;
    regex[0] = '\0';
    if (client->by_regex && count > 0) {
        snprintf(regex, 16, "t[%s]", digits);
    }
    request->topic_regex = regex;
}

/* One heartbeat of a client; `lazy`: it keeps what it must revoke a while longer. Returns
 * the answer's error. */
static enum sb_group_error
client_heartbeat(struct sim *s, uint32_t index, bool lazy)
{
    struct client *client = &s->clients[index];
    static struct sb_group_partition owned[SIM_TOPICS * SIM_PARTITIONS_MAX];
    uint32_t owned_count = 0;
    for (uint32_t topic = 0; topic < SIM_TOPICS; topic++) {
        for (uint32_t partition = 0; partition < SIM_PARTITIONS_MAX; partition++) {
            if (client->owned[topic][partition]) {
                owned[owned_count++] = (struct sb_group_partition){topic + 1, partition};
            }
        }
    }
    struct sb_group_heartbeat request = request_of(client->member_id, client->epoch, owned,
                                                   owned_count);
    request.instance_id = client->instance_id[0] ? client->instance_id : NULL;
    const char *names[SIM_TOPICS];
    char regex[16];
    if (!client->subscription_sent || client->epoch == 0) {
        client_subscription(client, &request, names, regex);
        request.rebalance_timeout_ms = 2000 + (int32_t)(sim_random(s) % 4000);
    }
    const struct sb_group_answer *answer = send(&world, &request, s->now_ms);
    if (answer->error == SB_GROUP_ERROR_FENCED_MEMBER_EPOCH ||
        answer->error == SB_GROUP_ERROR_UNKNOWN_MEMBER_ID) {
        client->epoch = 0;
        memset(client->owned, 0, sizeof(client->owned));
        return answer->error;
    }
    if (answer->error != SB_GROUP_ERROR_NONE) {
        cr_assert_eq(answer->error, SB_GROUP_ERROR_UNRELEASED_INSTANCE_ID);
        return answer->error;
    }
    cr_assert_geq(answer->member_epoch, client->highest_epoch, "%s: epoch went back",
                  client->member_id);
    client->epoch = client->highest_epoch = answer->member_epoch;
    client->subscription_sent = true;
    if (!lazy) {
        memset(client->owned, 0, sizeof(client->owned));
    }
    for (uint32_t at = 0; at < answer->assigned_count; at++) {
        client->owned[world.assigned[at].topic_id - 1][world.assigned[at].partition] = true;
    }
    return SB_GROUP_ERROR_NONE;
}

/* A random client in `state`, or -1. */
static int
sim_pick(struct sim *s, enum client_state state)
{
    uint32_t start = (uint32_t)(sim_random(s) % SIM_CLIENTS);
    for (uint32_t step = 0; step < SIM_CLIENTS; step++) {
        uint32_t index = (start + step) % SIM_CLIENTS;
        if (s->clients[index].state == state) {
            return (int)index;
        }
    }
    return -1;
}

/* A client joins (a new process, or a restart of a crashed or away one). */
static void
sim_start(struct sim *s, int index)
{
    if (index < 0) {
        return;
    }
    enum client_state before = s->clients[index].state;
    client_new_incarnation(s, (uint32_t)index);
    client_subscribe_randomly(s, &s->clients[index]);
    s->clients[index].state = CLIENT_LIVE;
    if (client_heartbeat(s, (uint32_t)index, false) == SB_GROUP_ERROR_UNRELEASED_INSTANCE_ID) {
        s->clients[index].state = before;
    }
}

static void
sim_leave(struct sim *s, int index)
{
    if (index < 0) {
        return;
    }
    struct client *client = &s->clients[index];
    bool away = client->instance_id[0] != '\0';
    struct sb_group_heartbeat request = request_of(
        client->member_id, away ? SB_MEMBER_EPOCH_STATIC_LEAVE : SB_MEMBER_EPOCH_LEAVE, NULL, 0);
    enum sb_group_error error = send(&world, &request, s->now_ms)->error;
    cr_assert(error == SB_GROUP_ERROR_NONE || error == SB_GROUP_ERROR_UNKNOWN_MEMBER_ID);
    memset(client->owned, 0, sizeof(client->owned));
    client->state = away ? CLIENT_AWAY : CLIENT_ABSENT;
}

static void
sim_step(struct sim *s)
{
    uint64_t event = sim_random(s) % 100;
    int index = sim_pick(s, CLIENT_LIVE);
    if (event < 50 && index >= 0) {
        client_heartbeat(s, (uint32_t)index, sim_random(s) % 4 == 0);
    } else if (event < 58) {
        sim_start(s, sim_pick(s, CLIENT_ABSENT));
    } else if (event < 63) {
        sim_leave(s, index);
    } else if (event < 66 && index >= 0) {
        s->clients[index].state = CLIENT_CRASHED;
        memset(s->clients[index].owned, 0, sizeof(s->clients[index].owned));
    } else if (event < 69 && index >= 0) {
        s->clients[index].state = CLIENT_PAUSED;
    } else if (event < 74) {
        index = sim_pick(s, CLIENT_PAUSED);
        if (index >= 0) {
            s->clients[index].state = CLIENT_LIVE;
            client_heartbeat(s, (uint32_t)index, false);
        }
    } else if (event < 79) {
        sim_start(s, sim_pick(s, sim_random(s) % 2 ? CLIENT_CRASHED : CLIENT_AWAY));
    } else if (event < 85 && index >= 0) {
        client_subscribe_randomly(s, &s->clients[index]);
        client_heartbeat(s, (uint32_t)index, false);
    } else if (event < 87) {
        uint32_t topic = (uint32_t)(sim_random(s) % SIM_TOPICS);
        uint32_t partitions = world.topics[topic].partition_count + 1 +
                              (uint32_t)(sim_random(s) % 3);
        topic_set(&world, world.names[topic],
                  partitions < SIM_PARTITIONS_MAX ? partitions : SIM_PARTITIONS_MAX);
    }
    s->now_ms += (int64_t)(sim_random(s) % 400);
    sb_membership_expire(&world.membership, s->now_ms);
}

/* The member index of a client whose member is live in the group, or -1. */
static int
sim_live_member(const struct client *client)
{
    if (client->state != CLIENT_LIVE && client->state != CLIENT_PAUSED) {
        return -1;
    }
    int index = sb_membership_find(&world.membership, client->member_id);
    if (index < 0 || world.membership.members[index].epoch < 0) {
        return -1;
    }
    return index;
}

/* Whether member `member` holds partition `partition` of topic id `topic_id`. */
static bool
sim_holds(uint32_t member, uint32_t topic_id, uint32_t partition)
{
    const struct sb_membership *membership = &world.membership;
    for (uint32_t at = 0; at < membership->topic_count; at++) {
        const struct sb_group_topic_entry *entry = &membership->topics[at];
        if (entry->topic_id == topic_id && partition < entry->partition_count) {
            return membership->holder[entry->first_slot + partition] == member;
        }
    }
    return false;
}

static void
sim_check(struct sim *s, uint32_t step)
{
    cr_assert_geq(world.membership.group_epoch, s->group_epoch, "step %u", step);
    cr_assert_geq(world.membership.assignment_epoch, s->assignment_epoch, "step %u", step);
    s->group_epoch = world.membership.group_epoch;
    s->assignment_epoch = world.membership.assignment_epoch;
    int owner[SIM_TOPICS][SIM_PARTITIONS_MAX];
    memset(owner, 0xff, sizeof(owner));
    for (uint32_t index = 0; index < SIM_CLIENTS; index++) {
        const struct client *client = &s->clients[index];
        int member = sim_live_member(client);
        if (member < 0) {
            continue;
        }
        if (client->epoch > 0) {
            cr_assert_eq(sb_membership_check_commit(&world.membership, client->member_id,
                                                    client->epoch),
                         SB_GROUP_ERROR_NONE, "step %u: %s", step, client->member_id);
        }
        for (uint32_t topic = 0; topic < SIM_TOPICS; topic++) {
            for (uint32_t partition = 0; partition < SIM_PARTITIONS_MAX; partition++) {
                if (!client->owned[topic][partition]) {
                    continue;
                }
                cr_assert_eq(owner[topic][partition], -1, "step %u: t%u/%u owned twice", step,
                             topic, partition);
                owner[topic][partition] = (int)index;
                cr_assert(sim_holds((uint32_t)member, topic + 1, partition),
                          "step %u: %s owns t%u/%u its member does not hold", step,
                          client->member_id, topic, partition);
            }
        }
    }
}

/* Lets every live client heartbeat promptly for 30 s (the silent ones expire), then checks
 * every partition of a subscribed topic is owned by exactly one live subscriber. */
static void
sim_settle(struct sim *s, uint32_t step)
{
    for (uint32_t index = 0; index < SIM_CLIENTS; index++) {
        if (s->clients[index].state == CLIENT_PAUSED) {
            s->clients[index].state = CLIENT_LIVE;
        }
    }
    for (uint32_t round = 0; round < 30; round++) {
        s->now_ms += 1000;
        for (uint32_t index = 0; index < SIM_CLIENTS; index++) {
            if (s->clients[index].state == CLIENT_LIVE) {
                client_heartbeat(s, index, false);
            }
        }
        sb_membership_expire(&world.membership, s->now_ms);
        sim_check(s, step);
    }
    enum sb_membership_state state = sb_membership_state(&world.membership);
    cr_assert(state == SB_MEMBERSHIP_STABLE || state == SB_MEMBERSHIP_EMPTY,
              "step %u: state %d", step, state);
    for (uint32_t topic = 0; topic < SIM_TOPICS; topic++) {
        bool subscribed = false;
        for (uint32_t index = 0; index < SIM_CLIENTS; index++) {
            subscribed |= sim_live_member(&s->clients[index]) >= 0 &&
                          (s->clients[index].topics_mask & (1u << topic));
        }
        for (uint32_t partition = 0; partition < world.topics[topic].partition_count;
             partition++) {
            uint32_t owners = 0;
            for (uint32_t index = 0; index < SIM_CLIENTS; index++) {
                const struct client *client = &s->clients[index];
                if (sim_live_member(client) >= 0 && client->owned[topic][partition]) {
                    cr_assert(client->topics_mask & (1u << topic));
                    owners++;
                }
            }
            cr_assert_eq(owners, subscribed ? 1u : 0u, "step %u: t%u/%u has %u owners", step,
                         topic, partition, owners);
        }
    }
}

static void
sim_run(uint64_t seed, uint32_t steps)
{
    world_init(&world);
    memset(&sim, 0, sizeof(sim));
    sim.random = seed;
    topic_set(&world, "t0", 2);
    topic_set(&world, "t1", 3);
    topic_set(&world, "t2", 4);
    for (uint32_t index = 0; index < SIM_CLIENTS; index += 2) {
        snprintf(sim.clients[index].instance_id, sizeof(sim.clients[index].instance_id),
                 "inst%u", index);
    }
    for (uint32_t step = 1; step <= steps; step++) {
        sim_step(&sim);
        sim_check(&sim, step);
        if (step % 500 == 0) {
            sim_settle(&sim, step);
        }
    }
    sb_membership_deinit(&world.membership);
}

Test(group_member, random_joins_leaves_and_crashes_never_share_a_partition)
{
    static const uint64_t seeds[] = {0x9e3779b97f4a7c15ull, 0x1234567ull, 0xdeadbeefcafeull};
    for (uint32_t at = 0; at < sizeof(seeds) / sizeof(seeds[0]); at++) {
        sim_run(seeds[at], 5000);
    }
}

/* issue 13, sb-sim: a restarted coordinator has forgotten its members, but a member of its
 * previous life still owns its partitions until its session ends by its own clock. Found by
 * sb-sim (a member joining the restarted broker was given a partition a live member of the
 * broker's previous life still owned). A group held until a time gives nobody a partition
 * before then; members join, get their epochs and targets, and are given the partitions at
 * their first heartbeat from then on. */
Test(group_member, a_held_group_gives_no_partition_before_the_hold_ends)
{
    world_init(&world);
    sb_membership_hold(&world.membership, 1000);
    topic_set(&world, "orders", 4);
    const struct sb_group_answer *answer = join(&world, "a", "orders", 0);
    cr_assert_eq(answer->error, SB_GROUP_ERROR_NONE);
    cr_assert_eq(answer->member_epoch, 1);
    cr_assert_eq(answer->assigned_count, 0u, "held: a member of the last life may own them");
    cr_assert_eq(owned_count(&world, "a"), 0u);
    answer = ack(&world, "a", 1, 999);
    cr_assert_eq(answer->assigned_count, 0u);
    answer = ack(&world, "a", 1, 1000);
    cr_assert_eq(answer->member_epoch, 1);
    cr_assert_eq(answer->assigned_count, 4u, "given at the first heartbeat once it ended");
    cr_assert_eq(sb_membership_state(&world.membership), SB_MEMBERSHIP_STABLE);
    sb_membership_deinit(&world.membership);
}

/* issue 13, found by sb-sim (seed 1082 of a sweep): a member that revokes promptly each time
 * it is asked, while members keep joining and each new target asks it to revoke more, was
 * fenced by its rebalance timeout counted from the first revocation, though it never held
 * on to a partition it had been told to revoke. Its timer restarts whenever it releases one. */
Test(group_member, a_member_that_keeps_revoking_is_not_fenced_by_its_rebalance_timeout)
{
    world_init(&world);
    topic_set(&world, "orders", 6);
    static const char *const orders[] = {"orders"};
    struct sb_group_heartbeat request = request_of("a", 0, NULL, 0);
    subscribe_names(&request, orders, 1);
    request.rebalance_timeout_ms = 1000;
    cr_assert_eq(send(&world, &request, 0)->assigned_count, 6u);
    struct sb_group_partition all[6];
    memcpy(all, world.assigned, sizeof(all));
    join(&world, "b", "orders", 100);
    request = request_of("a", 1, all, 6);
    cr_assert_eq(send(&world, &request, 200)->assigned_count, 3u, "a must revoke 3: timer on");
    struct sb_group_partition kept[3];
    memcpy(kept, world.assigned, sizeof(kept));
    join(&world, "c", "orders", 1000);
    request = request_of("a", 1, kept, 3);
    const struct sb_group_answer *answer = send(&world, &request, 1100);
    cr_assert_eq(answer->error, SB_GROUP_ERROR_NONE, "error %d", answer->error);
    cr_assert_eq(answer->assigned_count, 2u, "released 3, must now revoke one more");
    cr_assert_eq(sb_membership_expire(&world.membership, 1300), 0u,
                 "a released partitions at 1100: its rebalance timeout starts again");
    cr_assert_eq(sb_membership_expire(&world.membership, 2100), 1u,
                 "still holding the one to revoke a rebalance timeout later: fenced");
    cr_assert_eq(sb_membership_find(&world.membership, "a"), -ENOENT);
    sb_membership_deinit(&world.membership);
}
