/*
 * proto/api_producer.h - the InitProducerId (5) body, which gives an
 * idempotent producer its id and epoch. Layout: docs/protocol.md
 * "InitProducerId"; conventions as in proto/api_meta.h (no arrays here).
 */
#ifndef SB_PROTO_API_PRODUCER_H
#define SB_PROTO_API_PRODUCER_H

#include <stddef.h>
#include <stdint.h>

#include "proto/wire.h"

/* InitProducerId request body. */
struct sb_init_producer_id_request {
    struct sb_wire_string transactional_id; /* Reserved: must be null (chars NULL). */
    int32_t transaction_timeout_ms;         /* Reserved; ignored while not transactional. */
    int64_t producer_id;                    /* -1 for a new producer, else the current id. */
    int16_t producer_epoch;                 /* -1 for a new producer, else the current one. */
};

/* InitProducerId response body. */
struct sb_init_producer_id_response {
    int16_t error_code;     /* enum sb_wire_error. */
    int64_t producer_id;    /* The id to put in batch headers, -1 on error. */
    int16_t producer_epoch; /* Its epoch, -1 on error. */
};

int sb_init_producer_id_request_encode(struct sb_wire_writer *writer,
                                       const struct sb_init_producer_id_request *request);
int sb_init_producer_id_request_decode(const uint8_t *body, size_t body_bytes,
                                       struct sb_init_producer_id_request *out);

int sb_init_producer_id_response_encode(struct sb_wire_writer *writer,
                                        const struct sb_init_producer_id_response *response);
int sb_init_producer_id_response_decode(const uint8_t *body, size_t body_bytes,
                                        struct sb_init_producer_id_response *out);

#endif /* SB_PROTO_API_PRODUCER_H */
