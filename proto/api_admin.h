/*
 * proto/api_admin.h - topic administration bodies: CreateTopics (6),
 * DeleteTopics (7), ListTopics (8), DescribeTopic (9), AlterTopicConfig (10).
 * Layouts, topic names and config keys: docs/protocol.md; conventions
 * (encoders, decoders, iterators, ownership) as in proto/api_meta.h.
 */
#ifndef SB_PROTO_API_ADMIN_H
#define SB_PROTO_API_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/wire.h"

/* True for a valid topic name (docs/protocol.md "Topic names"): 1 to
 * SB_WIRE_TOPIC_NAME_BYTES_MAX bytes of A-Z a-z 0-9 . _ -, and not "." or "..". */
bool sb_topic_name_is_valid(struct sb_wire_string name);

/* One topic config entry: key and value. */
struct sb_topic_config {
    struct sb_wire_string key;   /* Config key, e.g. "retention.ms". */
    struct sb_wire_string value; /* Value as text; null = the default (reset). */
    int8_t is_default;           /* DescribeTopic only (not on the wire elsewhere): 1 if the
                                  * broker default applies. */
};

/* One topic to create. */
struct sb_create_topic {
    struct sb_wire_string name;            /* Topic name. */
    int32_t partition_count;               /* Partitions, >= 1. */
    int16_t replication_factor;            /* Must be 1 for now. */
    const struct sb_topic_config *configs; /* Encode: config_count entries (borrowed). */
    uint32_t config_count;                 /* Entries in the array. */
    struct sb_wire_array config_cursor;    /* Decode: entries not yet returned. */
};

/* CreateTopics request body. */
struct sb_create_topics_request {
    const struct sb_create_topic *topics; /* Encode: topic_count topics (borrowed). */
    uint32_t topic_count;                 /* Topics in the array. */
    struct sb_wire_array topic_cursor;    /* Decode: topics not yet returned. */
    int32_t timeout_ms;                   /* Wait for the topics to be ready. */
    int8_t validate_only;                 /* 1 = check only, create nothing. */
};

/* One topic's result in a CreateTopics response. */
struct sb_create_topic_result {
    struct sb_wire_string name;          /* Topic name. */
    uint32_t topic_id;                   /* New id, 0 on error or with validate_only. */
    int16_t error_code;                  /* enum sb_wire_error. */
    struct sb_wire_string error_message; /* Detail, or null. */
};

/* CreateTopics response body. */
struct sb_create_topics_response {
    const struct sb_create_topic_result *topics; /* Encode: topic_count (borrowed). */
    uint32_t topic_count;                        /* Results in the array. */
    struct sb_wire_array topic_cursor;           /* Decode: results not yet returned. */
};

int sb_create_topics_request_encode(struct sb_wire_writer *writer,
                                    const struct sb_create_topics_request *request);
int sb_create_topics_request_decode(const uint8_t *body, size_t body_bytes,
                                    struct sb_create_topics_request *out);
int sb_create_topics_request_next_topic(struct sb_create_topics_request *request,
                                        struct sb_create_topic *out);
int sb_create_topic_next_config(struct sb_create_topic *topic, struct sb_topic_config *out);

int sb_create_topics_response_encode(struct sb_wire_writer *writer,
                                     const struct sb_create_topics_response *response);
int sb_create_topics_response_decode(const uint8_t *body, size_t body_bytes,
                                     struct sb_create_topics_response *out);
int sb_create_topics_response_next_topic(struct sb_create_topics_response *response,
                                         struct sb_create_topic_result *out);

/* DeleteTopics request body. */
struct sb_delete_topics_request {
    const struct sb_wire_string *names; /* Encode: name_count names (borrowed). */
    uint32_t name_count;                /* Names in the array. */
    struct sb_wire_array name_cursor;   /* Decode: names not yet returned. */
    int32_t timeout_ms;                 /* Wait for the deletion at most this long. */
};

/* One topic's result in a DeleteTopics response. */
struct sb_delete_topic_result {
    struct sb_wire_string name; /* Topic name. */
    int16_t error_code;         /* enum sb_wire_error. */
};

/* DeleteTopics response body. */
struct sb_delete_topics_response {
    const struct sb_delete_topic_result *topics; /* Encode: topic_count (borrowed). */
    uint32_t topic_count;                        /* Results in the array. */
    struct sb_wire_array topic_cursor;           /* Decode: results not yet returned. */
};

int sb_delete_topics_request_encode(struct sb_wire_writer *writer,
                                    const struct sb_delete_topics_request *request);
int sb_delete_topics_request_decode(const uint8_t *body, size_t body_bytes,
                                    struct sb_delete_topics_request *out);
int sb_delete_topics_request_next_name(struct sb_delete_topics_request *request,
                                       struct sb_wire_string *out);

int sb_delete_topics_response_encode(struct sb_wire_writer *writer,
                                     const struct sb_delete_topics_response *response);
int sb_delete_topics_response_decode(const uint8_t *body, size_t body_bytes,
                                     struct sb_delete_topics_response *out);
int sb_delete_topics_response_next_topic(struct sb_delete_topics_response *response,
                                         struct sb_delete_topic_result *out);

/* ListTopics request body. */
struct sb_list_topics_request {
    struct sb_wire_string prefix; /* Only names starting with it; empty = all (not null). */
};

/* One topic in a ListTopics response. */
struct sb_list_topics_entry {
    struct sb_wire_string name; /* Topic name. */
    uint32_t topic_id;          /* Broker-assigned id. */
    int32_t partition_count;    /* Partitions of the topic. */
    int8_t internal;            /* 1 for the broker's own topics. */
};

/* ListTopics response body. */
struct sb_list_topics_response {
    const struct sb_list_topics_entry *topics; /* Encode: topic_count (borrowed). */
    uint32_t topic_count;                      /* Topics in the array. */
    struct sb_wire_array topic_cursor;         /* Decode: topics not yet returned. */
};

int sb_list_topics_request_encode(struct sb_wire_writer *writer,
                                  const struct sb_list_topics_request *request);
int sb_list_topics_request_decode(const uint8_t *body, size_t body_bytes,
                                  struct sb_list_topics_request *out);

int sb_list_topics_response_encode(struct sb_wire_writer *writer,
                                   const struct sb_list_topics_response *response);
int sb_list_topics_response_decode(const uint8_t *body, size_t body_bytes,
                                   struct sb_list_topics_response *out);
int sb_list_topics_response_next_topic(struct sb_list_topics_response *response,
                                       struct sb_list_topics_entry *out);

/* DescribeTopic request body. */
struct sb_describe_topic_request {
    struct sb_wire_string name; /* Topic name. */
};

/* One partition in a DescribeTopic response. */
struct sb_describe_topic_partition {
    int32_t partition;        /* Partition number. */
    int32_t leader;           /* Node id of the leader, -1 if none. */
    int32_t shard;            /* Owning shard, -1 if none. */
    int64_t log_start_offset; /* First offset still in the log. */
    int64_t high_watermark;   /* Offset after the last committed record. */
    int64_t log_end_offset;   /* Offset after the last appended record. */
};

/* DescribeTopic response body. */
struct sb_describe_topic_response {
    int16_t error_code;                                   /* enum sb_wire_error. */
    struct sb_wire_string name;                           /* Topic name. */
    uint32_t topic_id;                                    /* 0 on error. */
    const struct sb_describe_topic_partition *partitions; /* Encode (borrowed). */
    uint32_t partition_count;                             /* Partitions in the array. */
    struct sb_wire_array partition_cursor;                /* Decode: not yet returned. */
    const struct sb_topic_config *configs;                /* Encode: with is_default. */
    uint32_t config_count;                                /* Entries in the array. */
    struct sb_wire_array config_cursor;                   /* Decode: not yet returned. */
};

int sb_describe_topic_request_encode(struct sb_wire_writer *writer,
                                     const struct sb_describe_topic_request *request);
int sb_describe_topic_request_decode(const uint8_t *body, size_t body_bytes,
                                     struct sb_describe_topic_request *out);

int sb_describe_topic_response_encode(struct sb_wire_writer *writer,
                                      const struct sb_describe_topic_response *response);
int sb_describe_topic_response_decode(const uint8_t *body, size_t body_bytes,
                                      struct sb_describe_topic_response *out);
int sb_describe_topic_response_next_partition(struct sb_describe_topic_response *response,
                                              struct sb_describe_topic_partition *out);
int sb_describe_topic_response_next_config(struct sb_describe_topic_response *response,
                                           struct sb_topic_config *out);

/* AlterTopicConfig request body. */
struct sb_alter_topic_config_request {
    struct sb_wire_string name;            /* Topic name. */
    int32_t partition_count;               /* 0 = unchanged, else the new (larger) count. */
    const struct sb_topic_config *configs; /* Encode: config_count entries (borrowed). */
    uint32_t config_count;                 /* Entries in the array. */
    struct sb_wire_array config_cursor;    /* Decode: entries not yet returned. */
    int8_t validate_only;                  /* 1 = check only. */
};

/* AlterTopicConfig response body. */
struct sb_alter_topic_config_response {
    int16_t error_code;                  /* enum sb_wire_error. */
    struct sb_wire_string error_message; /* Detail, or null. */
};

int sb_alter_topic_config_request_encode(struct sb_wire_writer *writer,
                                         const struct sb_alter_topic_config_request *request);
int sb_alter_topic_config_request_decode(const uint8_t *body, size_t body_bytes,
                                         struct sb_alter_topic_config_request *out);
int sb_alter_topic_config_request_next_config(struct sb_alter_topic_config_request *request,
                                              struct sb_topic_config *out);

int sb_alter_topic_config_response_encode(struct sb_wire_writer *writer,
                                          const struct sb_alter_topic_config_response *response);
int sb_alter_topic_config_response_decode(const uint8_t *body, size_t body_bytes,
                                          struct sb_alter_topic_config_response *out);

#endif /* SB_PROTO_API_ADMIN_H */
