/*
 * proto/api_group.h - the consumer group bodies: OffsetCommit (12),
 * OffsetFetch (13), GroupHeartbeat (14), ListGroups (15), DescribeGroup (16),
 * DeleteGroup (17), AlterGroupOffsets (18), and the group id rules. Layouts
 * and semantics: docs/protocol.md "Consumer group APIs"; conventions
 * (encoders, decoders, iterators, ownership) as in proto/api_meta.h.
 *
 * Shared elements: a topic of committed offsets to store (struct
 * sb_offset_commit_topic, OffsetCommit and AlterGroupOffsets requests), a
 * topic of per-partition results (struct sb_offset_commit_topic_result, their
 * responses), a topic of committed offsets to show (struct
 * sb_group_offset_topic, OffsetFetch with a per-partition error code and
 * DescribeGroup without one: each response has its own iterator), and a
 * topic-partition set (struct sb_group_tpset: topic id + partitions, the
 * assignments of GroupHeartbeat and DescribeGroup).
 */
#ifndef SB_PROTO_API_GROUP_H
#define SB_PROTO_API_GROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/wire.h"

/* member_epoch values with a meaning of their own. */
#define SB_GROUP_EPOCH_NONE (-1)        /* OffsetCommit: a commit without membership. */
#define SB_GROUP_EPOCH_JOIN 0           /* GroupHeartbeat: join the group. */
#define SB_GROUP_EPOCH_LEAVE (-1)       /* GroupHeartbeat: leave the group. */
#define SB_GROUP_EPOCH_STATIC_LEAVE (-2) /* GroupHeartbeat: a static member leaves for now. */

/* Group states (the `state` fields). Wire values; they never change. */
enum sb_group_state {
    SB_GROUP_STATE_EMPTY = 0,       /* No members. */
    SB_GROUP_STATE_ASSIGNING = 1,   /* The target assignment is being computed. */
    SB_GROUP_STATE_RECONCILING = 2, /* Members move towards the target assignment. */
    SB_GROUP_STATE_STABLE = 3,      /* Every member has its target assignment. */
    SB_GROUP_STATE_DEAD = 4,        /* Being deleted. */
};

/* Number of states: 0 .. SB_GROUP_STATE_COUNT - 1. */
#define SB_GROUP_STATE_COUNT 5

/* True for a valid group id: 1 to SB_WIRE_GROUP_ID_BYTES_MAX bytes of printable ASCII
 * (0x21 .. 0x7E). */
bool sb_group_id_is_valid(struct sb_wire_string group_id);
/* True for a valid client-chosen member id: 1 to SB_WIRE_MEMBER_ID_BYTES_MAX printable bytes. */
bool sb_group_member_id_is_valid(struct sb_wire_string member_id);

/* One partition's offset to commit. */
struct sb_offset_commit_partition {
    int32_t partition;              /* Partition number. */
    int64_t offset;                 /* The next offset to consume, >= 0. */
    struct sb_wire_string metadata; /* Kept with the offset; null = empty. */
};

/* One topic of offsets to commit (OffsetCommit, AlterGroupOffsets). */
struct sb_offset_commit_topic {
    struct sb_wire_string name;                          /* Topic name. */
    const struct sb_offset_commit_partition *partitions; /* Encode: partition_count. */
    uint32_t partition_count;                            /* Partitions in the array. */
    struct sb_wire_array partition_cursor;               /* Decode: not yet returned. */
};

/* OffsetCommit request body. */
struct sb_offset_commit_request {
    struct sb_wire_string group_id;              /* The group. */
    struct sb_wire_string member_id;             /* The committing member; empty with -1. */
    int32_t member_epoch;                        /* Its epoch, or SB_GROUP_EPOCH_NONE. */
    const struct sb_offset_commit_topic *topics; /* Encode: topic_count topics (borrowed). */
    uint32_t topic_count;                        /* Topics in the array. */
    struct sb_wire_array topic_cursor;           /* Decode: topics not yet returned. */
};

/* AlterGroupOffsets request body (an empty group's offsets set by an admin). */
struct sb_alter_group_offsets_request {
    struct sb_wire_string group_id;              /* The group. */
    const struct sb_offset_commit_topic *topics; /* Encode: topic_count topics (borrowed). */
    uint32_t topic_count;                        /* Topics in the array. */
    struct sb_wire_array topic_cursor;           /* Decode: topics not yet returned. */
};

/* One partition's result of a commit. */
struct sb_offset_commit_partition_result {
    int32_t partition;  /* Partition number. */
    int16_t error_code; /* enum sb_wire_error. */
};

/* One topic's results of a commit. */
struct sb_offset_commit_topic_result {
    struct sb_wire_string name;                                 /* Topic name. */
    const struct sb_offset_commit_partition_result *partitions; /* Encode (borrowed). */
    uint32_t partition_count;                                   /* Partitions in the array. */
    struct sb_wire_array partition_cursor;                      /* Decode: not yet returned. */
};

/* OffsetCommit and AlterGroupOffsets response body (the same layout). */
struct sb_offset_commit_response {
    int16_t error_code;                                 /* Group-wide; then no topics. */
    const struct sb_offset_commit_topic_result *topics; /* Encode: topic_count (borrowed). */
    uint32_t topic_count;                               /* Topics in the array. */
    struct sb_wire_array topic_cursor;                  /* Decode: not yet returned. */
};

int sb_offset_commit_request_encode(struct sb_wire_writer *writer,
                                    const struct sb_offset_commit_request *request);
int sb_offset_commit_request_decode(const uint8_t *body, size_t body_bytes,
                                    struct sb_offset_commit_request *out);
int sb_offset_commit_request_next_topic(struct sb_offset_commit_request *request,
                                        struct sb_offset_commit_topic *out);
/* The partitions of a topic from an OffsetCommit or AlterGroupOffsets request. */
int sb_offset_commit_topic_next_partition(struct sb_offset_commit_topic *topic,
                                          struct sb_offset_commit_partition *out);

int sb_alter_group_offsets_request_encode(struct sb_wire_writer *writer,
                                          const struct sb_alter_group_offsets_request *request);
int sb_alter_group_offsets_request_decode(const uint8_t *body, size_t body_bytes,
                                          struct sb_alter_group_offsets_request *out);
int sb_alter_group_offsets_request_next_topic(struct sb_alter_group_offsets_request *request,
                                              struct sb_offset_commit_topic *out);

/* OffsetCommit and AlterGroupOffsets responses. */
int sb_offset_commit_response_encode(struct sb_wire_writer *writer,
                                     const struct sb_offset_commit_response *response);
int sb_offset_commit_response_decode(const uint8_t *body, size_t body_bytes,
                                     struct sb_offset_commit_response *out);
int sb_offset_commit_response_next_topic(struct sb_offset_commit_response *response,
                                         struct sb_offset_commit_topic_result *out);
int sb_offset_commit_topic_result_next_partition(struct sb_offset_commit_topic_result *topic,
                                                 struct sb_offset_commit_partition_result *out);

/* One topic of an OffsetFetch request. */
struct sb_offset_fetch_topic {
    struct sb_wire_string name;            /* Topic name. */
    const int32_t *partitions;             /* Encode: partition_count numbers (borrowed). */
    uint32_t partition_count;              /* Partitions in the array. */
    struct sb_wire_array partition_cursor; /* Decode: not yet returned. */
};

/* OffsetFetch request body. */
struct sb_offset_fetch_request {
    struct sb_wire_string group_id;             /* The group. */
    bool all_topics;                            /* Null array: every committed partition. */
    const struct sb_offset_fetch_topic *topics; /* Encode: topic_count topics (borrowed). */
    uint32_t topic_count;                       /* Topics in the array (0 when all_topics). */
    struct sb_wire_array topic_cursor;          /* Decode: topics not yet returned. */
};

/* One committed offset as OffsetFetch and DescribeGroup show it. */
struct sb_group_offset {
    int32_t partition;              /* Partition number. */
    int64_t offset;                 /* The committed offset, -1 if none. */
    struct sb_wire_string metadata; /* As committed; null when there is no commit. */
    int64_t commit_time_ms;         /* Broker time of the commit, -1 if none. */
    int16_t error_code;             /* OffsetFetch only (not in DescribeGroup): enum
                                     * sb_wire_error. */
};

/* One topic of committed offsets (OffsetFetch and DescribeGroup responses). */
struct sb_group_offset_topic {
    struct sb_wire_string name;           /* Topic name. */
    const struct sb_group_offset *offsets; /* Encode: offset_count (borrowed). */
    uint32_t offset_count;                /* Partitions in the array. */
    struct sb_wire_array offset_cursor;   /* Decode: not yet returned. */
};

/* OffsetFetch response body. */
struct sb_offset_fetch_response {
    int16_t error_code;                         /* Group-wide; then no topics. */
    const struct sb_group_offset_topic *topics; /* Encode: topic_count (borrowed). */
    uint32_t topic_count;                       /* Topics in the array. */
    struct sb_wire_array topic_cursor;          /* Decode: not yet returned. */
};

int sb_offset_fetch_request_encode(struct sb_wire_writer *writer,
                                   const struct sb_offset_fetch_request *request);
int sb_offset_fetch_request_decode(const uint8_t *body, size_t body_bytes,
                                   struct sb_offset_fetch_request *out);
int sb_offset_fetch_request_next_topic(struct sb_offset_fetch_request *request,
                                       struct sb_offset_fetch_topic *out);
int sb_offset_fetch_topic_next_partition(struct sb_offset_fetch_topic *topic, int32_t *out);

int sb_offset_fetch_response_encode(struct sb_wire_writer *writer,
                                    const struct sb_offset_fetch_response *response);
int sb_offset_fetch_response_decode(const uint8_t *body, size_t body_bytes,
                                    struct sb_offset_fetch_response *out);
int sb_offset_fetch_response_next_topic(struct sb_offset_fetch_response *response,
                                        struct sb_group_offset_topic *out);
/* The partitions of a topic from an OffsetFetch response (with error_code). */
int sb_offset_fetch_topic_next_offset(struct sb_group_offset_topic *topic,
                                      struct sb_group_offset *out);

/* A topic-partition set: partitions of one topic, by id. */
struct sb_group_tpset {
    uint32_t topic_id;                     /* The topic's id. */
    const int32_t *partitions;             /* Encode: partition_count numbers (borrowed). */
    uint32_t partition_count;              /* Partitions in the array. */
    struct sb_wire_array partition_cursor; /* Decode: not yet returned. */
};

int sb_group_tpset_next_partition(struct sb_group_tpset *set, int32_t *out);

/* GroupHeartbeat request body. The *_unchanged flags are the null arrays of the wire. */
struct sb_group_heartbeat_request {
    struct sb_wire_string group_id;         /* The group. */
    struct sb_wire_string member_id;        /* Chosen by the client. */
    int32_t member_epoch;                   /* 0 join, -1 leave, -2 static leave, else last. */
    struct sb_wire_string instance_id;      /* Static membership; null = dynamic. */
    int32_t rebalance_timeout_ms;           /* -1 = unchanged. */
    bool topic_names_unchanged;             /* Null subscribed_topic_names. */
    const struct sb_wire_string *topic_names; /* Encode: topic_name_count (borrowed). */
    uint32_t topic_name_count;              /* Names in the array. */
    struct sb_wire_array topic_name_cursor; /* Decode: not yet returned. */
    struct sb_wire_string topic_regex;      /* Null = unchanged, empty = none. */
    struct sb_wire_string server_assignor;  /* Null = unchanged. */
    bool owned_unchanged;                   /* Null owned_partitions. */
    const struct sb_group_tpset *owned;     /* Encode: owned_count sets (borrowed). */
    uint32_t owned_count;                   /* Sets in the array. */
    struct sb_wire_array owned_cursor;      /* Decode: not yet returned. */
};

/* GroupHeartbeat response body. */
struct sb_group_heartbeat_response {
    int16_t error_code;                      /* enum sb_wire_error. */
    struct sb_wire_string error_message;     /* Detail, or null. */
    struct sb_wire_string member_id;         /* Echoed. */
    int32_t member_epoch;                    /* The member's epoch from now on. */
    int32_t heartbeat_interval_ms;           /* Next heartbeat after this long. */
    bool assignment_unchanged;               /* Null assignment. */
    const struct sb_group_tpset *assignment; /* Encode: assignment_count (borrowed). */
    uint32_t assignment_count;               /* Sets in the array. */
    struct sb_wire_array assignment_cursor;  /* Decode: not yet returned. */
};

int sb_group_heartbeat_request_encode(struct sb_wire_writer *writer,
                                      const struct sb_group_heartbeat_request *request);
int sb_group_heartbeat_request_decode(const uint8_t *body, size_t body_bytes,
                                      struct sb_group_heartbeat_request *out);
int sb_group_heartbeat_request_next_topic_name(struct sb_group_heartbeat_request *request,
                                               struct sb_wire_string *out);
int sb_group_heartbeat_request_next_owned(struct sb_group_heartbeat_request *request,
                                          struct sb_group_tpset *out);

int sb_group_heartbeat_response_encode(struct sb_wire_writer *writer,
                                       const struct sb_group_heartbeat_response *response);
int sb_group_heartbeat_response_decode(const uint8_t *body, size_t body_bytes,
                                       struct sb_group_heartbeat_response *out);
int sb_group_heartbeat_response_next_assignment(struct sb_group_heartbeat_response *response,
                                                struct sb_group_tpset *out);

/* ListGroups request body. */
struct sb_list_groups_request {
    const int8_t *states;          /* Encode: state_count enum sb_group_state (borrowed). */
    uint32_t state_count;          /* States in the filter; 0 = every group. */
    struct sb_wire_array state_cursor; /* Decode: not yet returned. */
};

/* One group in a ListGroups response. */
struct sb_list_groups_entry {
    struct sb_wire_string group_id; /* The group. */
    int8_t state;                   /* enum sb_group_state. */
    int32_t member_count;           /* Its members. */
};

/* ListGroups response body. */
struct sb_list_groups_response {
    int16_t error_code;                        /* enum sb_wire_error. */
    const struct sb_list_groups_entry *groups; /* Encode: group_count (borrowed). */
    uint32_t group_count;                      /* Groups in the array. */
    struct sb_wire_array group_cursor;         /* Decode: not yet returned. */
};

int sb_list_groups_request_encode(struct sb_wire_writer *writer,
                                  const struct sb_list_groups_request *request);
int sb_list_groups_request_decode(const uint8_t *body, size_t body_bytes,
                                  struct sb_list_groups_request *out);
int sb_list_groups_request_next_state(struct sb_list_groups_request *request, int8_t *out);

int sb_list_groups_response_encode(struct sb_wire_writer *writer,
                                   const struct sb_list_groups_response *response);
int sb_list_groups_response_decode(const uint8_t *body, size_t body_bytes,
                                   struct sb_list_groups_response *out);
int sb_list_groups_response_next_group(struct sb_list_groups_response *response,
                                       struct sb_list_groups_entry *out);

/* DescribeGroup and DeleteGroup request body: one group id. */
struct sb_group_id_request {
    struct sb_wire_string group_id; /* The group. */
};

int sb_group_id_request_encode(struct sb_wire_writer *writer,
                               const struct sb_group_id_request *request);
int sb_group_id_request_decode(const uint8_t *body, size_t body_bytes,
                               struct sb_group_id_request *out);

/* One member in a DescribeGroup response. */
struct sb_group_member_description {
    struct sb_wire_string member_id;          /* Chosen by the client. */
    struct sb_wire_string instance_id;        /* Null for a dynamic member. */
    int32_t member_epoch;                     /* Its epoch. */
    const struct sb_wire_string *topic_names; /* Encode: topic_name_count (borrowed). */
    uint32_t topic_name_count;                /* Subscribed names. */
    struct sb_wire_array topic_name_cursor;   /* Decode: not yet returned. */
    struct sb_wire_string topic_regex;        /* Null = none. */
    const struct sb_group_tpset *assignment;  /* Encode: what it owns now (borrowed). */
    uint32_t assignment_count;                /* Sets in the array. */
    struct sb_wire_array assignment_cursor;   /* Decode: not yet returned. */
    const struct sb_group_tpset *target;      /* Encode: what it will own (borrowed). */
    uint32_t target_count;                    /* Sets in the array. */
    struct sb_wire_array target_cursor;       /* Decode: not yet returned. */
};

/* DescribeGroup response body. */
struct sb_describe_group_response {
    int16_t error_code;                                /* enum sb_wire_error. */
    struct sb_wire_string group_id;                    /* The group. */
    int8_t state;                                      /* enum sb_group_state. */
    int32_t group_epoch;                               /* -1 on error. */
    int32_t assignment_epoch;                          /* -1 on error. */
    struct sb_wire_string assignor;                    /* Empty for an empty group. */
    const struct sb_group_member_description *members; /* Encode: member_count (borrowed). */
    uint32_t member_count;                             /* Members in the array. */
    struct sb_wire_array member_cursor;                /* Decode: not yet returned. */
    const struct sb_group_offset_topic *offsets;       /* Encode: offset_topic_count. */
    uint32_t offset_topic_count;                       /* Topics in the array. */
    struct sb_wire_array offset_cursor;                /* Decode: not yet returned. */
};

int sb_describe_group_response_encode(struct sb_wire_writer *writer,
                                      const struct sb_describe_group_response *response);
int sb_describe_group_response_decode(const uint8_t *body, size_t body_bytes,
                                      struct sb_describe_group_response *out);
int sb_describe_group_response_next_member(struct sb_describe_group_response *response,
                                           struct sb_group_member_description *out);
int sb_group_member_next_topic_name(struct sb_group_member_description *member,
                                    struct sb_wire_string *out);
int sb_group_member_next_assignment(struct sb_group_member_description *member,
                                    struct sb_group_tpset *out);
int sb_group_member_next_target(struct sb_group_member_description *member,
                                struct sb_group_tpset *out);
int sb_describe_group_response_next_offset_topic(struct sb_describe_group_response *response,
                                                 struct sb_group_offset_topic *out);
/* The partitions of a topic from a DescribeGroup response (error_code is set to 0). */
int sb_described_offset_topic_next_offset(struct sb_group_offset_topic *topic,
                                          struct sb_group_offset *out);

/* DeleteGroup response body. */
struct sb_delete_group_response {
    int16_t error_code; /* enum sb_wire_error. */
};

int sb_delete_group_response_encode(struct sb_wire_writer *writer,
                                    const struct sb_delete_group_response *response);
int sb_delete_group_response_decode(const uint8_t *body, size_t body_bytes,
                                    struct sb_delete_group_response *out);

#endif /* SB_PROTO_API_GROUP_H */
