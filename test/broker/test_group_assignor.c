/*
 * test/broker/test_group_assignor.c - broker/group_assignor.c's range and uniform assignors
 * as pure functions (no broker): range's contiguous runs by sorted member id and its
 * subscriber-only topics; uniform's balance (counts within one with equal subscriptions),
 * its stickiness (a member joining or leaving moves only what balance needs), unequal
 * subscriptions; too many partitions refused; and a seeded randomized check that uniform
 * with equal subscriptions is always balanced, complete, and never makes one member both
 * gain and lose partitions.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "broker/group_assignor.h"

/* A small group for the assignors: members a..h (ids given per test), their bitmaps. */
struct fixture {
    struct sb_assignor_member members[SB_GROUP_MEMBERS_MAX]; /* The assignors' view. */
    uint64_t bits[SB_GROUP_MEMBERS_MAX][SB_GROUP_TOPIC_WORDS]; /* Each member's topics. */
    uint32_t partition_counts[SB_GROUP_TOPICS_MAX];           /* Per topic. */
    uint16_t previous[SB_GROUP_PARTITIONS_MAX];               /* The previous target. */
    uint16_t target[SB_GROUP_PARTITIONS_MAX];                 /* The result. */
    struct sb_assignor_input input;                           /* Points at the above. */
};

static void
fixture_init(struct fixture *fixture, uint32_t member_count, uint32_t topic_count)
{
    memset(fixture, 0, sizeof(*fixture));
    for (uint32_t member = 0; member < SB_GROUP_MEMBERS_MAX; member++) {
        fixture->members[member].topic_bits = fixture->bits[member];
    }
    for (uint32_t slot = 0; slot < SB_GROUP_PARTITIONS_MAX; slot++) {
        fixture->previous[slot] = SB_GROUP_NOBODY;
    }
    fixture->input = (struct sb_assignor_input){fixture->members, member_count,
                                                 fixture->partition_counts, topic_count,
                                                 fixture->previous};
}

static void
subscribe(struct fixture *fixture, uint32_t member, const char *id, uint32_t topic)
{
    fixture->members[member].member_id = id;
    fixture->bits[member][topic / 64] |= 1ull << (topic % 64);
}

static int
run(struct fixture *fixture, enum sb_group_assignor assignor)
{
    return sb_group_assign(assignor, &fixture->input, fixture->target);
}

static uint32_t
load(const struct fixture *fixture, uint32_t slots, uint16_t member)
{
    uint32_t count = 0;
    for (uint32_t slot = 0; slot < slots; slot++) {
        count += fixture->target[slot] == member;
    }
    return count;
}

Test(group_assignor, range_gives_contiguous_runs_by_sorted_member_id)
{
    static struct fixture fixture;
    fixture_init(&fixture, 3, 2);
    const char *ids[] = {"c", "a", "b"};
    for (uint32_t member = 0; member < 3; member++) {
        subscribe(&fixture, member, ids[member], 0);
        subscribe(&fixture, member, ids[member], 1);
    }
    fixture.partition_counts[0] = 7;
    fixture.partition_counts[1] = 2;
    cr_assert_eq(run(&fixture, SB_GROUP_ASSIGNOR_RANGE), 9);
    const uint16_t expected[] = {1, 1, 1, 2, 2, 0, 0, /* topic 1: */ 1, 2};
    for (uint32_t slot = 0; slot < 9; slot++) {
        cr_assert_eq(fixture.target[slot], expected[slot], "slot %u", slot);
    }
}

Test(group_assignor, range_gives_a_topic_only_to_its_subscribers)
{
    static struct fixture fixture;
    fixture_init(&fixture, 3, 3);
    subscribe(&fixture, 0, "a", 0);
    subscribe(&fixture, 2, "b", 0);
    subscribe(&fixture, 2, "b", 1);
    fixture.partition_counts[0] = 2;
    fixture.partition_counts[1] = 3;
    fixture.partition_counts[2] = 2;
    cr_assert_eq(run(&fixture, SB_GROUP_ASSIGNOR_RANGE), 7);
    const uint16_t expected[] = {0, 2, 2, 2, 2, SB_GROUP_NOBODY, SB_GROUP_NOBODY};
    for (uint32_t slot = 0; slot < 7; slot++) {
        cr_assert_eq(fixture.target[slot], expected[slot], "slot %u", slot);
    }
}

Test(group_assignor, uniform_balances_equal_subscriptions_within_one)
{
    static struct fixture fixture;
    fixture_init(&fixture, 3, 2);
    const char *ids[] = {"x", "y", "z"};
    for (uint32_t member = 0; member < 3; member++) {
        subscribe(&fixture, member, ids[member], 0);
        subscribe(&fixture, member, ids[member], 1);
    }
    fixture.partition_counts[0] = 6;
    fixture.partition_counts[1] = 4;
    cr_assert_eq(run(&fixture, SB_GROUP_ASSIGNOR_UNIFORM), 10);
    cr_assert_eq(load(&fixture, 10, 0) + load(&fixture, 10, 1) + load(&fixture, 10, 2), 10);
    for (uint16_t member = 0; member < 3; member++) {
        cr_assert(load(&fixture, 10, member) == 3 || load(&fixture, 10, member) == 4);
    }
}

Test(group_assignor, uniform_moves_only_what_a_new_member_needs)
{
    static struct fixture fixture;
    fixture_init(&fixture, 4, 1);
    const char *ids[] = {"a", "b", "c", "d"};
    for (uint32_t member = 0; member < 3; member++) {
        subscribe(&fixture, member, ids[member], 0);
    }
    fixture.partition_counts[0] = 12;
    cr_assert_eq(run(&fixture, SB_GROUP_ASSIGNOR_UNIFORM), 12);
    memcpy(fixture.previous, fixture.target, sizeof(fixture.target));
    subscribe(&fixture, 3, ids[3], 0);
    cr_assert_eq(run(&fixture, SB_GROUP_ASSIGNOR_UNIFORM), 12);
    cr_assert_eq(load(&fixture, 12, 3), 3, "the new member gets its share");
    for (uint32_t slot = 0; slot < 12; slot++) {
        if (fixture.target[slot] != 3) {
            cr_assert_eq(fixture.target[slot], fixture.previous[slot], "slot %u stays", slot);
        }
    }
}

Test(group_assignor, uniform_spreads_a_leaving_members_partitions_and_keeps_the_rest)
{
    static struct fixture fixture;
    fixture_init(&fixture, 3, 1);
    const char *ids[] = {"a", "b", "c"};
    for (uint32_t member = 0; member < 3; member++) {
        subscribe(&fixture, member, ids[member], 0);
    }
    fixture.partition_counts[0] = 9;
    cr_assert_eq(run(&fixture, SB_GROUP_ASSIGNOR_UNIFORM), 9);
    memcpy(fixture.previous, fixture.target, sizeof(fixture.target));
    fixture.members[1].member_id = NULL;
    cr_assert_eq(run(&fixture, SB_GROUP_ASSIGNOR_UNIFORM), 9);
    cr_assert_eq(load(&fixture, 9, 1), 0, "the leaver has nothing");
    cr_assert(load(&fixture, 9, 0) >= 4 && load(&fixture, 9, 2) >= 4);
    for (uint32_t slot = 0; slot < 9; slot++) {
        if (fixture.previous[slot] != 1) {
            cr_assert_eq(fixture.target[slot], fixture.previous[slot], "slot %u stays", slot);
        }
    }
}

Test(group_assignor, uniform_with_unequal_subscriptions_uses_the_only_subscriber)
{
    static struct fixture fixture;
    fixture_init(&fixture, 2, 2);
    subscribe(&fixture, 0, "a", 0);
    subscribe(&fixture, 0, "a", 1);
    subscribe(&fixture, 1, "b", 1);
    fixture.partition_counts[0] = 4;
    fixture.partition_counts[1] = 4;
    cr_assert_eq(run(&fixture, SB_GROUP_ASSIGNOR_UNIFORM), 8);
    for (uint32_t slot = 0; slot < 4; slot++) {
        cr_assert_eq(fixture.target[slot], 0, "only a subscribes to topic 0");
        cr_assert_eq(fixture.target[4 + slot], 1, "b balances with topic 1");
    }
}

Test(group_assignor, more_partitions_than_a_group_holds_are_refused)
{
    static struct fixture fixture;
    fixture_init(&fixture, 1, 2);
    subscribe(&fixture, 0, "a", 0);
    fixture.partition_counts[0] = SB_GROUP_PARTITIONS_MAX;
    fixture.partition_counts[1] = 1;
    cr_assert_eq(run(&fixture, SB_GROUP_ASSIGNOR_UNIFORM), -E2BIG);
    cr_assert_eq(run(&fixture, SB_GROUP_ASSIGNOR_RANGE), -E2BIG);
}

Test(group_assignor, names_parse_both_ways)
{
    enum sb_group_assignor assignor;
    cr_assert(sb_group_assignor_parse("range", &assignor));
    cr_assert_eq(assignor, SB_GROUP_ASSIGNOR_RANGE);
    cr_assert_str_eq(sb_group_assignor_name(assignor), "range");
    cr_assert(sb_group_assignor_parse("uniform", &assignor));
    cr_assert_eq(assignor, SB_GROUP_ASSIGNOR_UNIFORM);
    cr_assert_str_eq(sb_group_assignor_name(assignor), "uniform");
    cr_assert_not(sb_group_assignor_parse("sticky", &assignor));
}

/* xorshift64: the seeded generator of the randomized tests. */
static uint64_t
next_random(uint64_t *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return *state;
}

/* `rounds` random groups of up to 16 members on 3 topics of 0 to partitions_max partitions
 * each, from random previous owners (some of them gone): every partition assigned, loads
 * within one, and no member both gains and loses partitions in one step. */
static void
check_uniform_random_rounds(uint32_t rounds, uint32_t partitions_max, uint64_t state)
{
    static struct fixture fixture;
    static char ids[SB_GROUP_MEMBERS_MAX][8];
    fixture_init(&fixture, 16, 3);
    for (uint32_t round = 0; round < rounds; round++) {
        uint32_t slots = 0;
        for (uint32_t topic = 0; topic < 3; topic++) {
            fixture.partition_counts[topic] =
                (uint32_t)(next_random(&state) % (partitions_max + 1));
            slots += fixture.partition_counts[topic];
        }
        uint32_t live = 0;
        for (uint32_t member = 0; member < 16; member++) {
            fixture.members[member].member_id = NULL;
            if (next_random(&state) % 3 != 0) {
                snprintf(ids[member], sizeof(ids[member]), "m%02u", member);
                subscribe(&fixture, member, ids[member], 0);
                subscribe(&fixture, member, ids[member], 1);
                subscribe(&fixture, member, ids[member], 2);
                live++;
            }
        }
        for (uint32_t slot = 0; slot < slots; slot++) {
            uint64_t owner = next_random(&state) % 18;
            fixture.previous[slot] = owner < 16 ? (uint16_t)owner : SB_GROUP_NOBODY;
        }
        cr_assert_eq(run(&fixture, SB_GROUP_ASSIGNOR_UNIFORM), (int)slots);
        uint32_t low = UINT32_MAX;
        uint32_t high = 0;
        for (uint16_t member = 0; member < 16; member++) {
            if (fixture.members[member].member_id == NULL) {
                cr_assert_eq(load(&fixture, slots, member), 0, "round %u", round);
                continue;
            }
            uint32_t count = load(&fixture, slots, member);
            low = count < low ? count : low;
            high = count > high ? count : high;
            bool gained = false;
            bool lost = false;
            for (uint32_t slot = 0; slot < slots; slot++) {
                gained |= fixture.target[slot] == member && fixture.previous[slot] != member;
                lost |= fixture.target[slot] != member && fixture.previous[slot] == member;
            }
            cr_assert(!(gained && lost), "round %u: member %u both gains and loses", round,
                      member);
        }
        for (uint32_t slot = 0; live > 0 && slot < slots; slot++) {
            cr_assert_neq(fixture.target[slot], SB_GROUP_NOBODY, "round %u slot %u", round, slot);
        }
        cr_assert(live == 0 || high - low <= 1, "round %u: %u..%u", round, low, high);
    }
}

Test(group_assignor, uniform_random_equal_subscriptions_stay_balanced_and_sticky)
{
    check_uniform_random_rounds(500, 19, 0x5eed1234abcdull);
}

/* The shape of a big group: up to the 4,096 partitions a group may hold. */
Test(group_assignor, uniform_random_thousands_of_partitions_stay_balanced_and_sticky)
{
    check_uniform_random_rounds(60, SB_GROUP_PARTITIONS_MAX / 3, 0xb16b00b5cafeull);
}
