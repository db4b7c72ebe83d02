/*
 * broker/group_assignor.h - the consumer group assignors: pure functions from a group's
 * members (with the topics each subscribes to), its topics (with partition counts) and the
 * previous target assignment to the next target assignment. No I/O, no allocation, no time.
 *
 * Partitions are numbered densely, topic-major: topic t's partition p is slot
 * first(t) + p, where first(t) is the sum of the partition counts of topics 0 .. t-1. An
 * assignment is one member index per slot, or SB_GROUP_NOBODY. docs/groups.md describes
 * both assignors.
 */
#ifndef SB_BROKER_GROUP_ASSIGNOR_H
#define SB_BROKER_GROUP_ASSIGNOR_H

#include <stdbool.h>
#include <stdint.h>

#include "core/limits.h"

/* The member index that means "no member". */
#define SB_GROUP_NOBODY UINT16_MAX
/* Words of a member's topic bitmap. */
#define SB_GROUP_TOPIC_WORDS (SB_GROUP_TOPICS_MAX / 64u)

/* The server-side assignors a group may use. */
enum sb_group_assignor {
    SB_GROUP_ASSIGNOR_UNIFORM = 0, /* Balanced and sticky (the default). */
    SB_GROUP_ASSIGNOR_RANGE = 1,   /* Per topic, contiguous ranges by sorted member id. */
};

/* One member as the assignors see it. */
struct sb_assignor_member {
    const char *member_id;     /* Borrowed; NULL = this index is not a member. */
    const uint64_t *topic_bits; /* Borrowed SB_GROUP_TOPIC_WORDS words: bit t = subscribes
                                 * to topic t. */
};

/* What an assignor reads. */
struct sb_assignor_input {
    const struct sb_assignor_member *members; /* Borrowed, member_count entries. */
    uint32_t member_count;                    /* <= SB_GROUP_MEMBERS_MAX. */
    const uint32_t *partition_counts;         /* Borrowed, topic_count entries. */
    uint32_t topic_count;                     /* <= SB_GROUP_TOPICS_MAX. */
    const uint16_t *previous; /* Borrowed, one member index per slot (the previous target;
                               * indexes that are no longer members count as nobody). */
};

/* Writes the new target assignment, one member index (or SB_GROUP_NOBODY) per slot, into
 * `target` (caller-owned, one entry per slot). A slot goes only to a member subscribed to
 * its topic, and every slot of a topic with a subscriber goes to one.
 * Returns the slot count, or -E2BIG when the slots exceed SB_GROUP_PARTITIONS_MAX. */
int sb_group_assign(enum sb_group_assignor assignor, const struct sb_assignor_input *input,
                    uint16_t *target);

/* The assignor named `name` ("range", "uniform"); returns false for any other name. */
bool sb_group_assignor_parse(const char *name, enum sb_group_assignor *assignor_out);
/* The assignor's name, a static string. */
const char *sb_group_assignor_name(enum sb_group_assignor assignor);

/* True when the member subscribes to topic `topic_index`. */
static inline bool
sb_group_topic_bit(const uint64_t *topic_bits, uint32_t topic_index)
{
    return (topic_bits[topic_index / 64u] >> (topic_index % 64u)) & 1u;
}

#endif /* SB_BROKER_GROUP_ASSIGNOR_H */
