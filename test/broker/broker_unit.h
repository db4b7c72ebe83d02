/*
 * test/broker/broker_unit.h - one broker shard in the test's own process, without a
 * runtime, sockets or storage, for unit tests of the request path (the API registry and the
 * router): its topic table, request memory, request pool and shard 0's control plane are
 * real, its io is the simulator's (virtual clock); its store is NULL, so requests must not
 * reach a partition (unknown topics do not).
 */
#ifndef SB_TEST_BROKER_BROKER_UNIT_H
#define SB_TEST_BROKER_BROKER_UNIT_H

#include <stdint.h>

#include "core/arena.h"
#include "core/sim.h"
#include "broker/broker_private.h"
#include "proto/wire.h"

struct broker_unit {
    struct broker broker;       /* Settings (defaults) and the process-wide table. */
    struct broker_shard shard;  /* Shard `id` of `shard_count`. */
    struct sb_arena arena;      /* The request pool's memory. */
    struct sb_sim *sim;         /* The shard io's world. */
    char data_dir[64];          /* A temporary directory for the control plane. */
};

/* A shard with id 0 of `shard_count` shards and an empty topic table; the control plane is
 * set up (its requests must not persist anything: no I/O backend). */
void broker_unit_init(struct broker_unit *unit, uint32_t shard_count);
void broker_unit_deinit(struct broker_unit *unit);
/* Adds a topic of `partitions` partitions to the shard's table; returns its id. */
uint32_t broker_unit_topic(struct broker_unit *unit, const char *name, uint32_t partitions);
/* A request as the connection would start it: a frame of (key, version, flags, correlation id 7)
 * whose body `encode_body` writes (NULL: empty). The request is the shard's (request_release). */
struct request *broker_unit_request(struct broker_unit *unit, uint16_t key, uint16_t version,
                                    uint16_t flags,
                                    int (*encode_body)(struct sb_wire_writer *writer,
                                                       const void *context),
                                    const void *context);
/* The request's response frame: asserts it is complete and a response to it; returns its
 * frame-level error and points *body_out at its body. */
int16_t broker_unit_response(const struct request *request, const uint8_t **body_out,
                             uint32_t *body_bytes_out);

#endif /* SB_TEST_BROKER_BROKER_UNIT_H */
