/*
 * test/bench/test_sb_bench_group.c - sb-bench's --group bookkeeping without a broker: a
 * record at or below the offset a partition had reached when it changed hands is a
 * redelivery (counted, kept from the verifier), while one its owner gets twice is not
 * (the verifier counts it as duplicated); a revocation opens a pause that the next
 * owner's first record closes and a handover that the next assignment closes; the
 * consumers' lists, the count of partitions held and the last move (with the deliveries
 * made by then) follow the callbacks; the event log
 * keeps every move with the first delivery after an assignment.
 */
#include <criterion/criterion.h>
#include <errno.h>

#include "bench/sb_bench.h"

#define PARTITIONS 4u

static struct sb_bench_group *group;
static struct sb_bench bench;
static struct sb_bench_consumer consumers[2];
static uint32_t lists[2][PARTITIONS];

static void
setup(void)
{
    group = sb_bench_group_new(PARTITIONS);
    cr_assert_not_null(group);
    for (uint32_t index = 0; index < 2; index++) {
        consumers[index] = (struct sb_bench_consumer){.index = index, .bench = &bench,
                                                      .assigned = lists[index]};
    }
    sb_bench_group_subscribed(group);
}

static void
teardown(void)
{
    sb_bench_group_free(group);
}

static void
move(uint32_t consumer, enum sb_bench_group_kind kind, uint32_t partition)
{
    sb_bench_group_rebalance(group, &consumers[consumer], kind, &partition, 1);
}

TestSuite(sb_bench_group, .init = setup, .fini = teardown);

Test(sb_bench_group, records_below_the_handover_mark_are_redeliveries)
{
    move(0, SB_BENCH_GROUP_ASSIGNED, 2);
    for (int64_t offset = 0; offset < 10; offset++) {
        cr_assert(!sb_bench_group_deliver(group, 0, 2, offset));
    }
    move(0, SB_BENCH_GROUP_REVOKED, 2);
    move(1, SB_BENCH_GROUP_ASSIGNED, 2);
    /* The new owner starts at a commit of 5: offsets 5..9 come again. */
    for (int64_t offset = 5; offset < 13; offset++) {
        cr_assert_eq(sb_bench_group_deliver(group, 1, 2, offset), offset < 10,
                     "offset %lld", (long long)offset);
    }
    cr_assert_eq(atomic_load(&group->redelivered), 5);
    /* Its own record again is no redelivery: the verifier sees it (duplicated). */
    cr_assert(!sb_bench_group_deliver(group, 1, 2, 12));
    cr_assert_eq(atomic_load(&group->redelivered), 5);
}

Test(sb_bench_group, a_fenced_members_late_records_are_redelivered_by_the_new_owner)
{
    move(0, SB_BENCH_GROUP_ASSIGNED, 3);
    cr_assert(!sb_bench_group_deliver(group, 0, 3, 0));
    /* Member 0 was fenced; member 1 got the partition before member 0 heard of it. */
    move(1, SB_BENCH_GROUP_ASSIGNED, 3);
    for (int64_t offset = 1; offset < 4; offset++) {
        cr_assert(!sb_bench_group_deliver(group, 0, 3, offset), "the zombie's first copy");
    }
    move(0, SB_BENCH_GROUP_LOST, 3);
    /* The new owner starts at the last commit (1): 1..3 again, then new records. */
    for (int64_t offset = 1; offset < 6; offset++) {
        cr_assert_eq(sb_bench_group_deliver(group, 1, 3, offset), offset < 4,
                     "offset %lld", (long long)offset);
    }
    cr_assert_eq(atomic_load(&group->redelivered), 3);
    cr_assert_eq(atomic_load(&group->owner[3]), 2, "member 0's loss left member 1 holding it");
}

Test(sb_bench_group, a_revocation_opens_a_pause_the_next_first_record_closes)
{
    move(0, SB_BENCH_GROUP_ASSIGNED, 1);
    cr_assert(!sb_bench_group_deliver(group, 0, 1, 0));
    cr_assert_eq(group->pause.total, 0);
    move(0, SB_BENCH_GROUP_LOST, 1);
    cr_assert_neq(atomic_load(&group->revoked_ns[1]), 0);
    move(1, SB_BENCH_GROUP_ASSIGNED, 1);
    cr_assert_eq(group->handover.total, 1);
    cr_assert_eq(group->pause.total, 0);
    cr_assert(!sb_bench_group_deliver(group, 1, 1, 1));
    cr_assert(!sb_bench_group_deliver(group, 1, 1, 2));
    cr_assert_eq(group->pause.total, 1);
    cr_assert_eq(atomic_load(&group->revoked_ns[1]), 0);
    cr_assert_eq(group->moved[SB_BENCH_GROUP_ASSIGNED], 2);
    cr_assert_eq(group->moved[SB_BENCH_GROUP_LOST], 1);
}

Test(sb_bench_group, lists_held_count_and_events_follow_the_callbacks)
{
    uint32_t all[PARTITIONS] = {0, 1, 2, 3};
    sb_bench_group_rebalance(group, &consumers[0], SB_BENCH_GROUP_ASSIGNED, all, PARTITIONS);
    cr_assert(sb_bench_group_complete(group));
    cr_assert_neq(group->join_ns, 0);
    atomic_store(&bench.received_total, 42);
    cr_assert_eq(consumers[0].assigned_count, PARTITIONS);
    uint32_t half[2] = {1, 3};
    sb_bench_group_rebalance(group, &consumers[0], SB_BENCH_GROUP_REVOKED, half, 2);
    cr_assert(!sb_bench_group_complete(group));
    cr_assert_eq(consumers[0].assigned_count, 2);
    for (uint32_t slot = 0; slot < 2; slot++) {
        cr_assert(consumers[0].assigned[slot] == 0 || consumers[0].assigned[slot] == 2);
    }
    sb_bench_group_rebalance(group, &consumers[1], SB_BENCH_GROUP_ASSIGNED, half, 2);
    cr_assert(sb_bench_group_complete(group));
    cr_assert_geq(group->settled_ns, group->join_ns, "the last move settles the group");
    cr_assert_eq(group->received_settled, 42);
    cr_assert_eq(consumers[1].assigned_count, 2);
    cr_assert_eq(group->event_count, 8);
    cr_assert_eq(group->events[4].kind, SB_BENCH_GROUP_REVOKED);
    cr_assert_eq(group->events[6].consumer, 1);
    cr_assert_eq(atomic_load(&group->events[6].first_delivery_unix_us), 0);
    cr_assert(!sb_bench_group_deliver(group, 1, group->events[6].partition, 0));
    cr_assert_geq(atomic_load(&group->events[6].first_delivery_unix_us),
                  group->events[6].unix_us);
}

Test(sb_bench_group, commits_are_timed_and_failures_counted)
{
    sb_bench_group_commit(group, 1500000, 0);
    sb_bench_group_commit(group, 0, -ETIMEDOUT);
    cr_assert_eq(group->commit.total, 1);
    cr_assert_eq(group->commit_errors, 1);
    cr_assert(!sb_bench_group_deliver(group, 0, PARTITIONS, 0), "a partition out of range");
}
