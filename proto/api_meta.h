/*
 * proto/api_meta.h - bodies of ApiVersions (0), Metadata (1) and Health (11):
 * what a client asks before anything else. Layouts: docs/protocol.md.
 *
 * Conventions shared by every proto/api_*.h:
 * - Encoders write one body (no frame header) into a writer and return its
 *   error: 0, -ENOSPC, or -EINVAL for a value the format cannot carry (a
 *   null non-nullable string, an array above SB_WIRE_ARRAY_COUNT_MAX). Wrap
 *   them in sb_frame_begin / sb_frame_finish.
 * - Decoders take a frame body (borrowed; it must outlive everything decoded
 *   from it, since strings, bytes and iterators point into it) and return 0
 *   only when the whole body is well-formed: every field present, every
 *   length and count consistent, no trailing bytes. Otherwise SB_ECORRUPT and
 *   *out is untouched. They check layout only; values (acks, names, configs)
 *   are the broker's business.
 * - One struct per body and per array element serves both directions. An
 *   array is given to encoders as pointer + count (`topics`, `topic_count`)
 *   and returned by decoders as a count plus an iterator (`topic_cursor`,
 *   read with the _next_ function; the pointer is NULL). A _next_ function
 *   returns 1 with the next element, 0 after the last, and SB_ECORRUPT never
 *   for a struct filled by a decoder that returned 0.
 */
#ifndef SB_PROTO_API_META_H
#define SB_PROTO_API_META_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/wire.h"

/* ApiVersions response body; the request body is empty. */
struct sb_api_versions_response {
    const struct sb_api_version_range *apis; /* Encode: api_count ranges (borrowed). */
    uint32_t api_count;                      /* Ranges in the array. */
    struct sb_wire_array api_cursor;         /* Decode: ranges not yet returned. */
    struct sb_wire_string broker_version;    /* Broker release, e.g. "0.1.0". */
    uint32_t frame_bytes_max;                /* The broker's frame size limit. */
    uint32_t batch_bytes_max;                /* The broker's largest record batch. */
};

/* Writes the (empty) request body: returns the writer's error. */
int sb_api_versions_request_encode(struct sb_wire_writer *writer);
/* Returns 0 for an empty body, SB_ECORRUPT otherwise. */
int sb_api_versions_request_decode(const uint8_t *body, size_t body_bytes);

int sb_api_versions_response_encode(struct sb_wire_writer *writer,
                                    const struct sb_api_versions_response *response);
int sb_api_versions_response_decode(const uint8_t *body, size_t body_bytes,
                                    struct sb_api_versions_response *out);
int sb_api_versions_response_next_api(struct sb_api_versions_response *response,
                                      struct sb_api_version_range *out);

/* Metadata request: the topics to describe, or all of them. */
struct sb_metadata_request {
    bool all_topics;                     /* Null array on the wire: every topic. */
    const struct sb_wire_string *topics; /* Encode: topic_count names (borrowed). */
    uint32_t topic_count;                /* Names in the array (0 when all_topics). */
    struct sb_wire_array topic_cursor;   /* Decode: names not yet returned. */
};

/* One shard of a broker, with its own port. */
struct sb_metadata_shard {
    int32_t shard_id; /* 0 .. shard count - 1. */
    int32_t port;     /* base_port + 1 + shard_id. */
};

/* One broker of the cluster. */
struct sb_metadata_broker {
    int32_t node_id;                         /* Cluster-wide broker id. */
    struct sb_wire_string host;              /* Host name or address for clients. */
    int32_t port;                            /* The plain port. */
    const struct sb_metadata_shard *shards;  /* Encode: shard_count shards (borrowed). */
    uint32_t shard_count;                    /* The broker's shard count. */
    struct sb_wire_array shard_cursor;       /* Decode: shards not yet returned. */
};

/* Where one partition lives. */
struct sb_metadata_partition {
    int32_t partition;  /* Partition number. */
    int32_t leader;     /* Node id of the leader, -1 if none. */
    int32_t shard;      /* Owning shard on the leader, -1 if none. */
    int16_t error_code; /* enum sb_wire_error for this partition. */
};

/* One topic of a Metadata response. */
struct sb_metadata_topic {
    int16_t error_code;                           /* enum sb_wire_error for the topic. */
    struct sb_wire_string name;                   /* Topic name. */
    uint32_t topic_id;                            /* Broker-assigned id, 0 on error. */
    const struct sb_metadata_partition *partitions; /* Encode: partition_count (borrowed). */
    uint32_t partition_count;                     /* Partitions in the array. */
    struct sb_wire_array partition_cursor;        /* Decode: partitions not yet returned. */
};

/* Metadata response body. */
struct sb_metadata_response {
    const struct sb_metadata_broker *brokers; /* Encode: broker_count brokers (borrowed). */
    uint32_t broker_count;                    /* Brokers in the array. */
    struct sb_wire_array broker_cursor;       /* Decode: brokers not yet returned. */
    const struct sb_metadata_topic *topics;   /* Encode: topic_count topics (borrowed). */
    uint32_t topic_count;                     /* Topics in the array. */
    struct sb_wire_array topic_cursor;        /* Decode: topics not yet returned. */
};

int sb_metadata_request_encode(struct sb_wire_writer *writer,
                               const struct sb_metadata_request *request);
int sb_metadata_request_decode(const uint8_t *body, size_t body_bytes,
                               struct sb_metadata_request *out);
int sb_metadata_request_next_topic(struct sb_metadata_request *request,
                                   struct sb_wire_string *out);

int sb_metadata_response_encode(struct sb_wire_writer *writer,
                                const struct sb_metadata_response *response);
int sb_metadata_response_decode(const uint8_t *body, size_t body_bytes,
                                struct sb_metadata_response *out);
int sb_metadata_response_next_broker(struct sb_metadata_response *response,
                                     struct sb_metadata_broker *out);
int sb_metadata_broker_next_shard(struct sb_metadata_broker *broker,
                                  struct sb_metadata_shard *out);
int sb_metadata_response_next_topic(struct sb_metadata_response *response,
                                    struct sb_metadata_topic *out);
int sb_metadata_topic_next_partition(struct sb_metadata_topic *topic,
                                     struct sb_metadata_partition *out);

/* Health status of a broker or one shard (the wire value of `status`). */
enum sb_health_status {
    SB_HEALTH_SERVING = 0,
    SB_HEALTH_STARTING = 1,
    SB_HEALTH_STOPPING = 2,
    SB_HEALTH_DEGRADED = 3,
};

/* One shard in a Health response. */
struct sb_health_shard {
    int32_t shard_id;    /* 0 .. shard count - 1. */
    int8_t status;       /* enum sb_health_status. */
    int32_t connections; /* Client connections the shard serves. */
    int32_t partitions;  /* Partitions the shard owns. */
};

/* Health response body; the request body is empty. */
struct sb_health_response {
    int8_t status;                        /* enum sb_health_status of the broker. */
    int32_t node_id;                      /* The broker's node id. */
    int64_t uptime_ms;                    /* Time since the broker started. */
    const struct sb_health_shard *shards; /* Encode: shard_count shards (borrowed). */
    uint32_t shard_count;                 /* The broker's shard count. */
    struct sb_wire_array shard_cursor;    /* Decode: shards not yet returned. */
};

int sb_health_request_encode(struct sb_wire_writer *writer);
int sb_health_request_decode(const uint8_t *body, size_t body_bytes);

int sb_health_response_encode(struct sb_wire_writer *writer,
                              const struct sb_health_response *response);
int sb_health_response_decode(const uint8_t *body, size_t body_bytes,
                              struct sb_health_response *out);
int sb_health_response_next_shard(struct sb_health_response *response,
                                  struct sb_health_shard *out);

#endif /* SB_PROTO_API_META_H */
