/*
 * proto/api_fetch.h - the read side: Fetch (3) and ListOffsets (4) bodies.
 * Layouts and semantics: docs/protocol.md "Fetch", "ListOffsets";
 * conventions (encoders, decoders, iterators, ownership) as in
 * proto/api_meta.h.
 *
 * A Fetch response's `records` holds whole record batches only
 * (proto/batch.h); this codec carries them as bytes and the consumer checks
 * each batch with sb_batch_verify.
 */
#ifndef SB_PROTO_API_FETCH_H
#define SB_PROTO_API_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/wire.h"

/* isolation_level values. */
#define SB_FETCH_ISOLATION_READ_UNCOMMITTED 0

/* ListOffsets timestamp values that are not times. */
#define SB_LIST_OFFSETS_EARLIEST (-2)
#define SB_LIST_OFFSETS_LATEST (-1)

/* One partition to read in a Fetch request. */
struct sb_fetch_partition {
    int32_t partition;           /* Partition number. */
    int64_t fetch_offset;        /* First offset wanted. */
    int32_t partition_max_bytes; /* Soft limit of this partition's record bytes. */
};

/* Fetch versions: 1 adds each topic's id (docs/protocol.md "Fetch"). */
#define SB_FETCH_VERSION_MAX 1

/* One topic of a Fetch request. */
struct sb_fetch_topic {
    struct sb_wire_string name;                  /* Topic name. */
    uint32_t topic_id;                           /* Version 1: the id the reader's position
                                                    belongs to (0: any); 0 in version 0. */
    const struct sb_fetch_partition *partitions; /* Encode: partition_count (borrowed). */
    uint32_t partition_count;                    /* Partitions in the array. */
    struct sb_wire_array partition_cursor;       /* Decode: partitions not yet returned. */
};

/* Fetch request body. */
struct sb_fetch_request {
    uint16_t api_version;                /* Layout: 0 or 1 (encode: chosen; decode: given). */
    int32_t max_wait_ms;                 /* Long-poll limit. */
    int32_t min_bytes;                   /* Answer once this many bytes are available. */
    int32_t max_bytes;                   /* Soft limit of the response's record bytes. */
    int8_t isolation_level;              /* SB_FETCH_ISOLATION_READ_UNCOMMITTED only. */
    const struct sb_fetch_topic *topics; /* Encode: topic_count topics (borrowed). */
    uint32_t topic_count;                /* Topics in the array. */
    struct sb_wire_array topic_cursor;   /* Decode: topics not yet returned. */
};

/* One partition's data in a Fetch response. */
struct sb_fetch_partition_response {
    int32_t partition;            /* Partition number. */
    int16_t error_code;           /* enum sb_wire_error. */
    int64_t high_watermark;       /* Offset after the last committed record. */
    int64_t log_start_offset;     /* First offset still in the log. */
    int64_t last_stable_offset;   /* Equals high_watermark until transactions exist. */
    struct sb_wire_bytes records; /* Whole record batches (borrowed; not null; may be empty). */
    bool records_crc_known;       /* Encode: records_crc is the records' CRC32C (from 0), so
                                     the frame's CRC combines it (sb_wire_write_bytes_crc). */
    uint32_t records_crc;         /* Encode: see records_crc_known. */
};

/* One topic of a Fetch response. */
struct sb_fetch_topic_response {
    struct sb_wire_string name;                           /* Topic name. */
    const struct sb_fetch_partition_response *partitions; /* Encode (borrowed). */
    uint32_t partition_count;                             /* Partitions in the array. */
    struct sb_wire_array partition_cursor;                /* Decode: not yet returned. */
};

/* The Fetch response's layout before each partition's record bytes (docs/protocol.md): the
 * body opens with throttle_ms and the topic count; each topic with its name (u16 length and
 * bytes) and partition count; each partition with its fixed fields and the records' u32
 * length. A broker that reads records straight to where the encoder puts them counts with
 * these (sb_wire_write_bytes moves nothing already in place). */
#define SB_FETCH_RESPONSE_HEAD_BYTES 8u
#define SB_FETCH_TOPIC_RESPONSE_HEAD_BYTES(name_length) (2u + (uint32_t)(name_length) + 4u)
#define SB_FETCH_PARTITION_RESPONSE_HEAD_BYTES 34u

/* Fetch response body. */
struct sb_fetch_response {
    int32_t throttle_ms;                          /* Quota delay; 0 for now. */
    const struct sb_fetch_topic_response *topics; /* Encode: topic_count (borrowed). */
    uint32_t topic_count;                         /* Topics in the array. */
    struct sb_wire_array topic_cursor;            /* Decode: topics not yet returned. */
};

int sb_fetch_request_encode(struct sb_wire_writer *writer,
                            const struct sb_fetch_request *request);
/* Decodes a body of api_version (0 .. SB_FETCH_VERSION_MAX). */
int sb_fetch_request_decode(const uint8_t *body, size_t body_bytes, uint16_t api_version,
                            struct sb_fetch_request *out);
int sb_fetch_request_next_topic(struct sb_fetch_request *request, struct sb_fetch_topic *out);
int sb_fetch_topic_next_partition(struct sb_fetch_topic *topic, struct sb_fetch_partition *out);

int sb_fetch_response_encode(struct sb_wire_writer *writer,
                             const struct sb_fetch_response *response);
int sb_fetch_response_decode(const uint8_t *body, size_t body_bytes,
                             struct sb_fetch_response *out);
int sb_fetch_response_next_topic(struct sb_fetch_response *response,
                                 struct sb_fetch_topic_response *out);
int sb_fetch_topic_response_next_partition(struct sb_fetch_topic_response *topic,
                                           struct sb_fetch_partition_response *out);

/* One partition to look up in a ListOffsets request. */
struct sb_list_offsets_partition {
    int32_t partition; /* Partition number. */
    int64_t timestamp; /* SB_LIST_OFFSETS_EARLIEST, _LATEST, or a time in ms. */
};

/* One topic of a ListOffsets request. */
struct sb_list_offsets_topic {
    struct sb_wire_string name;                         /* Topic name. */
    const struct sb_list_offsets_partition *partitions; /* Encode (borrowed). */
    uint32_t partition_count;                           /* Partitions in the array. */
    struct sb_wire_array partition_cursor;              /* Decode: not yet returned. */
};

/* ListOffsets request body. */
struct sb_list_offsets_request {
    const struct sb_list_offsets_topic *topics; /* Encode: topic_count topics (borrowed). */
    uint32_t topic_count;                       /* Topics in the array. */
    struct sb_wire_array topic_cursor;          /* Decode: topics not yet returned. */
};

/* One partition's answer in a ListOffsets response. */
struct sb_list_offsets_partition_response {
    int32_t partition;  /* Partition number. */
    int16_t error_code; /* enum sb_wire_error. */
    int64_t timestamp;  /* Timestamp of the record found, -1 if none or not by time. */
    int64_t offset;     /* The offset found, -1 if none. */
};

/* One topic of a ListOffsets response. */
struct sb_list_offsets_topic_response {
    struct sb_wire_string name;                                  /* Topic name. */
    const struct sb_list_offsets_partition_response *partitions; /* Encode (borrowed). */
    uint32_t partition_count;                                    /* Partitions in the array. */
    struct sb_wire_array partition_cursor;                       /* Decode: not yet returned. */
};

/* ListOffsets response body. */
struct sb_list_offsets_response {
    const struct sb_list_offsets_topic_response *topics; /* Encode: topic_count (borrowed). */
    uint32_t topic_count;                                /* Topics in the array. */
    struct sb_wire_array topic_cursor;                   /* Decode: not yet returned. */
};

int sb_list_offsets_request_encode(struct sb_wire_writer *writer,
                                   const struct sb_list_offsets_request *request);
int sb_list_offsets_request_decode(const uint8_t *body, size_t body_bytes,
                                   struct sb_list_offsets_request *out);
int sb_list_offsets_request_next_topic(struct sb_list_offsets_request *request,
                                       struct sb_list_offsets_topic *out);
int sb_list_offsets_topic_next_partition(struct sb_list_offsets_topic *topic,
                                         struct sb_list_offsets_partition *out);

int sb_list_offsets_response_encode(struct sb_wire_writer *writer,
                                    const struct sb_list_offsets_response *response);
int sb_list_offsets_response_decode(const uint8_t *body, size_t body_bytes,
                                    struct sb_list_offsets_response *out);
int sb_list_offsets_response_next_topic(struct sb_list_offsets_response *response,
                                        struct sb_list_offsets_topic_response *out);
int sb_list_offsets_topic_response_next_partition(
    struct sb_list_offsets_topic_response *topic,
    struct sb_list_offsets_partition_response *out);

#endif /* SB_PROTO_API_FETCH_H */
