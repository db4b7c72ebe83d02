/*
 * proto/api_produce.h - the Produce (2) body: record batches in, offsets out.
 * Layout and semantics: docs/protocol.md "Produce"; conventions (encoders,
 * decoders, iterators, ownership) as in proto/api_meta.h.
 *
 * `records` is carried as bytes: its content is one or more whole record
 * batches (proto/batch.h), not checked here; the broker verifies them with
 * sb_batch_verify before appending.
 */
#ifndef SB_PROTO_API_PRODUCE_H
#define SB_PROTO_API_PRODUCE_H

#include <stddef.h>
#include <stdint.h>

#include "proto/wire.h"

/* acks values (docs/protocol.md). */
#define SB_PRODUCE_ACKS_NONE 0
#define SB_PRODUCE_ACKS_LEADER 1
#define SB_PRODUCE_ACKS_ALL (-1)

/* One partition's batches in a Produce request. */
struct sb_produce_partition {
    int32_t partition;            /* Partition number. */
    struct sb_wire_bytes records; /* Whole record batches (borrowed; not null). */
};

/* One topic of a Produce request. */
struct sb_produce_topic {
    struct sb_wire_string name;                    /* Topic name. */
    const struct sb_produce_partition *partitions; /* Encode: partition_count (borrowed). */
    uint32_t partition_count;                      /* Partitions in the array. */
    struct sb_wire_array partition_cursor;         /* Decode: partitions not yet returned. */
};

/* Produce request body. */
struct sb_produce_request {
    int16_t acks;                            /* 0, 1 or -1 (SB_PRODUCE_ACKS_*). */
    int32_t timeout_ms;                      /* Wait for room and acks=-1 (0: 30 s). */
    struct sb_wire_string transactional_id;  /* Reserved: must be null (chars NULL). */
    const struct sb_produce_topic *topics;   /* Encode: topic_count topics (borrowed). */
    uint32_t topic_count;                    /* Topics in the array. */
    struct sb_wire_array topic_cursor;       /* Decode: topics not yet returned. */
};

/* One partition's result in a Produce response. */
struct sb_produce_partition_response {
    int32_t partition;          /* Partition number. */
    int16_t error_code;         /* enum sb_wire_error. */
    int64_t base_offset;        /* Offset of the first record appended, -1 if none was. */
    int64_t log_append_time_ms; /* Append time for LogAppendTime topics, else -1. */
    int64_t log_start_offset;   /* The partition's first offset, -1 if unknown. */
};

/* One topic of a Produce response. */
struct sb_produce_topic_response {
    struct sb_wire_string name;                             /* Topic name. */
    const struct sb_produce_partition_response *partitions; /* Encode (borrowed). */
    uint32_t partition_count;                               /* Partitions in the array. */
    struct sb_wire_array partition_cursor;                  /* Decode: not yet returned. */
};

/* Produce response body. */
struct sb_produce_response {
    const struct sb_produce_topic_response *topics; /* Encode: topic_count (borrowed). */
    uint32_t topic_count;                           /* Topics in the array. */
    struct sb_wire_array topic_cursor;              /* Decode: topics not yet returned. */
    int32_t throttle_ms;                            /* Quota delay; 0 for now. */
};

int sb_produce_request_encode(struct sb_wire_writer *writer,
                              const struct sb_produce_request *request);
int sb_produce_request_decode(const uint8_t *body, size_t body_bytes,
                              struct sb_produce_request *out);
int sb_produce_request_next_topic(struct sb_produce_request *request,
                                  struct sb_produce_topic *out);
int sb_produce_topic_next_partition(struct sb_produce_topic *topic,
                                    struct sb_produce_partition *out);

int sb_produce_response_encode(struct sb_wire_writer *writer,
                               const struct sb_produce_response *response);
int sb_produce_response_decode(const uint8_t *body, size_t body_bytes,
                               struct sb_produce_response *out);
int sb_produce_response_next_topic(struct sb_produce_response *response,
                                   struct sb_produce_topic_response *out);
int sb_produce_topic_response_next_partition(struct sb_produce_topic_response *topic,
                                             struct sb_produce_partition_response *out);

#endif /* SB_PROTO_API_PRODUCE_H */
