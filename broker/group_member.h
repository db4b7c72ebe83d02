/*
 * broker/group_member.h - a consumer group's membership as a pure state machine: members
 * join, heartbeat with their epoch and the partitions they own, and leave; the group epoch
 * moves on with every change of membership, subscriptions or subscribed topics; the target
 * assignment is computed by the group's assignor (group_assignor.h); each member reconciles
 * towards it, revoking before anything is assigned elsewhere, so no partition is ever
 * assigned to two members at once. Members that miss their session or rebalance timeout
 * are fenced. Modelled on Kafka's consumer group protocol (KIP-848); docs/groups.md has the
 * diagram.
 *
 * No sockets, storage, wire codecs or clocks: the coordinator (broker/group.h) embeds a
 * `struct sb_membership` per group, passes the time in milliseconds and a view of the
 * topics, and maps `enum sb_group_error` to wire error codes. Not thread-safe: one shard
 * owns a group.
 */
#ifndef SB_BROKER_GROUP_MEMBER_H
#define SB_BROKER_GROUP_MEMBER_H

#include <regex.h>
#include <stdbool.h>
#include <stdint.h>

#include "broker/group_assignor.h"
#include "core/limits.h"

/* Member epochs with a meaning in a heartbeat (the wire's values, docs/protocol.md). */
#define SB_MEMBER_EPOCH_JOIN 0
#define SB_MEMBER_EPOCH_LEAVE (-1)
#define SB_MEMBER_EPOCH_STATIC_LEAVE (-2)

/* Outcomes a heartbeat or a commit check reports (the coordinator maps them to wire codes). */
enum sb_group_error {
    SB_GROUP_ERROR_NONE = 0,
    SB_GROUP_ERROR_UNKNOWN_MEMBER_ID,          /* No member with that id. */
    SB_GROUP_ERROR_FENCED_MEMBER_EPOCH,        /* An epoch the member does not have. */
    SB_GROUP_ERROR_STALE_MEMBER_EPOCH,         /* A commit at an older epoch (retriable). */
    SB_GROUP_ERROR_UNRELEASED_INSTANCE_ID,     /* Instance id held by another live member. */
    SB_GROUP_ERROR_GROUP_MAX_SIZE_REACHED,     /* SB_GROUP_MEMBERS_MAX members already. */
    SB_GROUP_ERROR_INVALID_REGULAR_EXPRESSION, /* The regex does not compile. */
    SB_GROUP_ERROR_UNSUPPORTED_ASSIGNOR,       /* No assignor of that name. */
    SB_GROUP_ERROR_INVALID_REQUEST,            /* Ids or subscription out of bounds. */
};

/* Group states, as DescribeGroup and ListGroups show them: the values of the wire's group
 * states (docs/protocol.md). */
enum sb_membership_state {
    SB_MEMBERSHIP_EMPTY = 0,       /* No members. */
    SB_MEMBERSHIP_ASSIGNING = 1,   /* The group epoch is ahead of the target assignment. */
    SB_MEMBERSHIP_RECONCILING = 2, /* Some member does not own its target yet. */
    SB_MEMBERSHIP_STABLE = 3,      /* Every member owns exactly its target. */
    SB_MEMBERSHIP_DEAD = 4,        /* Deleted (sb_membership_deinit). */
};

/* One partition: the broker's topic id and the partition number. */
struct sb_group_partition {
    uint32_t topic_id;  /* broker/metadata.h's topic id. */
    uint32_t partition; /* Partition of that topic. */
};

/* One topic of the broker, as the caller shows it to the group. */
struct sb_group_topic {
    const char *name;         /* Borrowed for the call. */
    uint32_t topic_id;        /* Never reused by the broker. */
    uint32_t partition_count; /* Partitions today (they only grow). */
};

/* The broker's topics; `version` changes whenever any topic is created, deleted or grows,
 * so the group rereads them only then. */
struct sb_group_topics {
    const struct sb_group_topic *topics; /* Borrowed for the call. */
    uint32_t count;                      /* Entries of `topics`. */
    uint64_t version;                    /* The caller's metadata version. */
};

/* One member of the group. */
struct sb_group_member {
    bool used;                                            /* This slot holds a member. */
    char member_id[SB_WIRE_MEMBER_ID_BYTES_MAX + 1];     /* Chosen by the client. */
    char instance_id[SB_GROUP_INSTANCE_ID_BYTES_MAX + 1]; /* Static membership; "" = none. */
    int32_t epoch;          /* Member epoch; SB_MEMBER_EPOCH_STATIC_LEAVE while away. */
    int32_t previous_epoch; /* The epoch before the last advance (a lost answer's). */
    int32_t rebalance_timeout_ms;   /* Time it has to revoke what it must. */
    enum sb_group_assignor assignor; /* The assignor it asked for. */
    bool assignor_set;               /* It asked for one. */
    char topic_names[SB_GROUP_SUBSCRIPTION_BYTES_MAX]; /* Subscribed names, each NUL-ended. */
    uint32_t topic_names_bytes;                        /* Bytes used in topic_names. */
    char regex_source[SB_GROUP_REGEX_BYTES_MAX + 1];   /* Subscribed regex; "" = none. */
    regex_t regex;                                     /* Compiled regex_source. */
    uint64_t topic_bits[SB_GROUP_TOPIC_WORDS];         /* Group topics it subscribes to. */
    int64_t heartbeat_ms;       /* Time of its last heartbeat (or static leave). */
    int64_t revoke_deadline_ms; /* Fenced if still revoking then; -1 = nothing to revoke. */
};

/* One topic of the group's assignment: subscribed by a member, or still owned by one. */
struct sb_group_topic_entry {
    uint32_t topic_id;        /* The broker's topic id. */
    uint32_t partition_count; /* Slots of this topic. */
    uint32_t first_slot;      /* Its partition 0's slot. */
};

/* A group's membership state. About 144 KiB: the coordinator allocates it once per group and
 * never copies it (members hold compiled regexes). */
struct sb_membership {
    enum sb_group_assignor assignor;   /* Used unless most members ask for another. */
    int32_t session_timeout_ms;        /* A member silent this long is fenced. */
    int64_t hold_until_ms;             /* No partition is given to anyone before (0: none). */
    bool dead;                         /* Deinitialized. */
    int32_t group_epoch;               /* Bumped by every change (module comment). */
    int32_t assignment_epoch;          /* The group epoch `target` was computed at. */
    uint32_t member_count;             /* Used entries of `members`. */
    struct sb_group_member members[SB_GROUP_MEMBERS_MAX]; /* By member index. */
    bool topics_known;                 /* The topic table reflects `topics_version`. */
    uint64_t topics_version;           /* The metadata version last read. */
    bool topics_truncated;             /* Subscribed partitions did not all fit. */
    uint32_t topic_count;              /* Entries of `topics`, by ascending topic id. */
    struct sb_group_topic_entry topics[SB_GROUP_TOPICS_MAX]; /* The group's topics. */
    uint32_t slot_count;               /* Partitions across `topics`. */
    uint16_t target[SB_GROUP_PARTITIONS_MAX]; /* Per slot: member it should go to. */
    uint16_t holder[SB_GROUP_PARTITIONS_MAX]; /* Per slot: member that has it (assigned
                                               * and not yet revoked), at most one. */
    uint16_t next_target[SB_GROUP_PARTITIONS_MAX]; /* Scratch: rebuilding `target`, and
                                                    * marking the partitions a member owns. */
    uint16_t next_holder[SB_GROUP_PARTITIONS_MAX]; /* Scratch: rebuilding `holder`. */
};

/* A heartbeat, decoded by the caller. Fields marked "unchanged" keep the member's last
 * values when absent (always read on a join). */
struct sb_group_heartbeat {
    const char *member_id;    /* 1 to SB_WIRE_MEMBER_ID_BYTES_MAX bytes. */
    int32_t member_epoch;     /* SB_MEMBER_EPOCH_JOIN/LEAVE/STATIC_LEAVE or the current one. */
    const char *instance_id;  /* NULL = dynamic member. */
    int32_t rebalance_timeout_ms; /* < 0 = unchanged (a join defaults to the session's). */
    bool topic_names_set;         /* topic_names is present (else unchanged). */
    const char *const *topic_names; /* Borrowed, topic_name_count names. */
    uint32_t topic_name_count;      /* Entries of topic_names. */
    const char *topic_regex;        /* NULL = unchanged, "" = none. */
    const char *assignor;           /* NULL = unchanged; "range" or "uniform". */
    bool owned_set;                 /* owned is present (else unchanged). */
    const struct sb_group_partition *owned; /* Borrowed, owned_count partitions it owns. */
    uint32_t owned_count;                   /* Entries of owned. */
};

/* What the heartbeat answers. */
struct sb_group_answer {
    enum sb_group_error error; /* NONE, or why the heartbeat was refused (nothing changed). */
    int32_t member_epoch;      /* The member's epoch from now on (-1/-2 after leaving). */
    uint32_t assigned_count;   /* Partitions written to the caller's `assigned`. */
};

/* An empty group using `assignor`, fencing members silent for session_timeout_ms (> 0). */
void sb_membership_init(struct sb_membership *membership, enum sb_group_assignor assignor,
                        int32_t session_timeout_ms);
/* Gives no partition to anyone before until_ms: members join, get their epochs and targets,
 * and are given their partitions at their first heartbeat from then on. For a restarted
 * coordinator, which forgot its members while those of its previous life may still own
 * partitions until their sessions end. */
void sb_membership_hold(struct sb_membership *membership, int64_t until_ms);
/* Frees the members' regexes; the group is DEAD from now on: only sb_membership_state may
 * be called on it. */
void sb_membership_deinit(struct sb_membership *membership);

/* Serves one heartbeat at time now_ms against the broker's `topics`: join, leave, or
 * update and reconcile the member. Writes the member's assignment (the partitions it may
 * own now, sorted by slot) into `assigned` (caller-owned, SB_GROUP_PARTITIONS_MAX entries)
 * and the outcome into `answer`. */
void sb_membership_heartbeat(struct sb_membership *membership,
                             const struct sb_group_heartbeat *request,
                             const struct sb_group_topics *topics, int64_t now_ms,
                             struct sb_group_answer *answer, struct sb_group_partition *assigned);

/* Fences members whose session or rebalance timeout passed by now_ms, and drops static
 * members away longer than the session timeout; their partitions are free again. Returns
 * how many members left. */
uint32_t sb_membership_expire(struct sb_membership *membership, int64_t now_ms);
/* The earliest time sb_membership_expire has work, or INT64_MAX without members. */
int64_t sb_membership_deadline(const struct sb_membership *membership);

/* Whether a commit from (member_id, member_epoch) may be stored: NONE for the member's
 * current epoch, STALE_MEMBER_EPOCH for an older one, FENCED_MEMBER_EPOCH for any other,
 * UNKNOWN_MEMBER_ID for an unknown member; epoch -1 (a commit without membership) is
 * accepted only while the group has no members. */
enum sb_group_error sb_membership_check_commit(const struct sb_membership *membership,
                                               const char *member_id, int32_t member_epoch);

/* The group's state for describe. */
enum sb_membership_state sb_membership_state(const struct sb_membership *membership);
/* The index of the member with this id, or -ENOENT. */
int sb_membership_find(const struct sb_membership *membership, const char *member_id);
/* Writes member `index`'s partitions into `out` (SB_GROUP_PARTITIONS_MAX entries), sorted by
 * topic id and partition: the ones it owns now (assigned, not being revoked), or with
 * `target`, its target assignment. Returns how many. */
uint32_t sb_membership_partitions(const struct sb_membership *membership, uint32_t index,
                                  bool target, struct sb_group_partition *out);
/* The assignor the group uses now: the one most members asked for, else its default. */
enum sb_group_assignor sb_membership_assignor(const struct sb_membership *membership);

#endif /* SB_BROKER_GROUP_MEMBER_H */
