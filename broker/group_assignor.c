/*
 * broker/group_assignor.c - the range and uniform assignors (group_assignor.h).
 *
 * Both read members, topics and the previous target assignment and write the next one; both
 * order members by member id so the result does not depend on where a member sits in the
 * group's table. Range gives each topic's partitions in contiguous runs, the first runs one
 * longer. Uniform keeps every partition with its previous owner, gives the unowned ones to
 * the least loaded subscriber, then moves one partition at a time to the least loaded
 * member from the most loaded owner of a topic it subscribes to, while that owner holds more
 * than one above it; with equal subscriptions the member counts then differ by at most one,
 * and only the excess of overloaded members moves.
 * Start reading at sb_group_assign.
 */
#include "broker/group_assignor.h"

#include <errno.h>
#include <string.h>

#include "core/assert.h"

/* Member indexes sorted by member id, and how many there are. */
struct order {
    uint16_t index[SB_GROUP_MEMBERS_MAX]; /* Member indexes, by ascending member id. */
    uint32_t count;                       /* Entries of `index`. */
};

static void order_members(const struct sb_assignor_input *input, struct order *order);
static void assign_range(const struct sb_assignor_input *input, const struct order *order,
                         uint16_t *target);
static void assign_uniform(const struct sb_assignor_input *input, const struct order *order,
                           uint16_t *target);

int
sb_group_assign(enum sb_group_assignor assignor, const struct sb_assignor_input *input,
                uint16_t *target)
{
    SB_ASSERT(input->member_count <= SB_GROUP_MEMBERS_MAX);
    SB_ASSERT(input->topic_count <= SB_GROUP_TOPICS_MAX);
    uint64_t slots = 0;
    for (uint32_t topic = 0; topic < input->topic_count; topic++) {
        slots += input->partition_counts[topic];
    }
    if (slots > SB_GROUP_PARTITIONS_MAX) {
        return -E2BIG;
    }
    struct order order;
    order_members(input, &order);
    if (assignor == SB_GROUP_ASSIGNOR_RANGE) {
        assign_range(input, &order, target);
    } else {
        SB_ASSERT(assignor == SB_GROUP_ASSIGNOR_UNIFORM);
        assign_uniform(input, &order, target);
    }
    return (int)slots;
}

bool
sb_group_assignor_parse(const char *name, enum sb_group_assignor *assignor_out)
{
    if (strcmp(name, "uniform") == 0) {
        *assignor_out = SB_GROUP_ASSIGNOR_UNIFORM;
        return true;
    }
    if (strcmp(name, "range") == 0) {
        *assignor_out = SB_GROUP_ASSIGNOR_RANGE;
        return true;
    }
    return false;
}

const char *
sb_group_assignor_name(enum sb_group_assignor assignor)
{
    return assignor == SB_GROUP_ASSIGNOR_RANGE ? "range" : "uniform";
}

/* Insertion sort of the members by id: at most SB_GROUP_MEMBERS_MAX of them. */
static void
order_members(const struct sb_assignor_input *input, struct order *order)
{
    order->count = 0;
    for (uint32_t member = 0; member < input->member_count; member++) {
        const char *id = input->members[member].member_id;
        if (id == NULL) {
            continue;
        }
        uint32_t at = order->count;
        while (at > 0 && strcmp(input->members[order->index[at - 1]].member_id, id) > 0) {
            order->index[at] = order->index[at - 1];
            at--;
        }
        order->index[at] = (uint16_t)member;
        order->count++;
    }
    SB_ASSERT(order->count <= SB_GROUP_MEMBERS_MAX);
}

static bool
subscribes(const struct sb_assignor_input *input, uint16_t member, uint32_t topic)
{
    return sb_group_topic_bit(input->members[member].topic_bits, topic);
}

static void
assign_range(const struct sb_assignor_input *input, const struct order *order,
             uint16_t *target)
{
    uint32_t first = 0;
    for (uint32_t topic = 0; topic < input->topic_count; topic++) {
        uint32_t partitions = input->partition_counts[topic];
        uint16_t eligible[SB_GROUP_MEMBERS_MAX];
        uint32_t eligible_count = 0;
        for (uint32_t at = 0; at < order->count; at++) {
            if (subscribes(input, order->index[at], topic)) {
                eligible[eligible_count++] = order->index[at];
            }
        }
        for (uint32_t partition = 0; partition < partitions; partition++) {
            target[first + partition] = SB_GROUP_NOBODY;
        }
        uint32_t next = 0;
        for (uint32_t at = 0; at < eligible_count; at++) {
            uint32_t run = partitions / eligible_count + (at < partitions % eligible_count);
            for (uint32_t partition = next; partition < next + run; partition++) {
                target[first + partition] = eligible[at];
            }
            next += run;
        }
        SB_ASSERT(eligible_count == 0 || next == partitions);
        first += partitions;
    }
}

/* The subscriber of `topic` with the fewest slots (the first by member id on a tie), or
 * SB_GROUP_NOBODY. */
static uint16_t
least_loaded(const struct sb_assignor_input *input, const struct order *order,
             const uint32_t *loads, uint32_t topic)
{
    uint16_t best = SB_GROUP_NOBODY;
    for (uint32_t at = 0; at < order->count; at++) {
        uint16_t member = order->index[at];
        if (subscribes(input, member, topic) && (best == SB_GROUP_NOBODY ||
                                                 loads[member] < loads[best])) {
            best = member;
        }
    }
    return best;
}

/* Keeps each slot with its previous owner if that is still a subscribed member. */
static void
uniform_keep(const struct sb_assignor_input *input, uint32_t *loads, uint16_t *target)
{
    uint32_t first = 0;
    for (uint32_t topic = 0; topic < input->topic_count; topic++) {
        for (uint32_t slot = first; slot < first + input->partition_counts[topic]; slot++) {
            uint16_t owner = input->previous[slot];
            target[slot] = SB_GROUP_NOBODY;
            if (owner < input->member_count && input->members[owner].member_id != NULL &&
                subscribes(input, owner, topic)) {
                target[slot] = owner;
                loads[owner]++;
            }
        }
        first += input->partition_counts[topic];
    }
}

/* Gives each unowned slot to its topic's least loaded subscriber. */
static void
uniform_fill(const struct sb_assignor_input *input, const struct order *order,
             uint32_t *loads, uint16_t *target)
{
    uint32_t first = 0;
    for (uint32_t topic = 0; topic < input->topic_count; topic++) {
        for (uint32_t slot = first; slot < first + input->partition_counts[topic]; slot++) {
            uint16_t best = least_loaded(input, order, loads, topic);
            if (target[slot] == SB_GROUP_NOBODY && best != SB_GROUP_NOBODY) {
                target[slot] = best;
                loads[best]++;
            }
        }
        first += input->partition_counts[topic];
    }
}

/* The slot of a topic `receiver` subscribes to whose owner holds the most slots, if that is
 * more than one above the receiver; else -1. */
static int64_t
uniform_richest(const struct sb_assignor_input *input, uint16_t receiver,
                const uint32_t *loads, const uint16_t *target)
{
    int64_t found = -1;
    uint32_t found_load = loads[receiver] + 1;
    uint32_t first = 0;
    for (uint32_t topic = 0; topic < input->topic_count; topic++) {
        uint32_t end = first + input->partition_counts[topic];
        for (uint32_t slot = first; slot < end && subscribes(input, receiver, topic); slot++) {
            if (target[slot] != SB_GROUP_NOBODY && loads[target[slot]] > found_load) {
                found = slot;
                found_load = loads[target[slot]];
            }
        }
        first = end;
    }
    return found;
}

/* One move: the least loaded member (then by member id) that can takes a slot from the most
 * loaded owner of a topic it subscribes to, when that owner holds more than one above it.
 * A member that receives is always the least loaded, and one that gives always the most,
 * so with equal subscriptions no member both gives and receives. Returns whether a slot
 * moved. */
static bool
uniform_move(const struct sb_assignor_input *input, const struct order *order,
             uint32_t *loads, uint16_t *target)
{
    uint16_t receivers[SB_GROUP_MEMBERS_MAX];
    for (uint32_t at = 0; at < order->count; at++) {
        uint16_t member = order->index[at];
        uint32_t to = at;
        while (to > 0 && loads[receivers[to - 1]] > loads[member]) {
            receivers[to] = receivers[to - 1];
            to--;
        }
        receivers[to] = member;
    }
    for (uint32_t at = 0; at < order->count; at++) {
        int64_t slot = uniform_richest(input, receivers[at], loads, target);
        if (slot >= 0) {
            loads[target[slot]]--;
            target[slot] = receivers[at];
            loads[receivers[at]]++;
            return true;
        }
    }
    return false;
}

static void
assign_uniform(const struct sb_assignor_input *input, const struct order *order,
               uint16_t *target)
{
    uint32_t loads[SB_GROUP_MEMBERS_MAX];
    memset(loads, 0, sizeof(loads));
    uniform_keep(input, loads, target);
    uniform_fill(input, order, loads, target);
    for (uint32_t move = 0; move < SB_GROUP_BALANCE_MOVES_MAX; move++) {
        if (!uniform_move(input, order, loads, target)) {
            break;
        }
    }
}
