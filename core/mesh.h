/*
 * core/mesh.h - the N x N rings that connect shards, and each shard's outbox.
 *
 * The mesh (one per runtime) owns a ring for every ordered pair of shards
 * (including a shard to itself), a waiter per receiving shard and the
 * per-shard activity counters used to detect that shutdown has drained. Each
 * shard owns an outbox: messages it sends go straight into the destination
 * ring, or, when that ring is full, into a per-destination overflow FIFO that
 * is moved into the ring later, never reordering. An empty overflow pool is
 * back-pressure (-ENOBUFS) to the sender. Messages become visible to the
 * receiver only at sb_outbox_flush, once per loop iteration (batched publish),
 * which also rings the doorbell of any receiver that was going to sleep.
 */
#ifndef SB_CORE_MESH_H
#define SB_CORE_MESH_H

#include <stdbool.h>
#include <stdint.h>

#include "core/io.h"
#include "core/pool.h"
#include "core/ring.h"

struct sb_arena;

struct sb_mesh {
    uint32_t shard_count;            /* N. */
    struct sb_ring *rings;           /* N * N rings; from `f` to `t` is rings[f * N + t]. */
    struct sb_waiter *waiters;       /* One per receiving shard. */
    struct sb_activity *activity;    /* One per shard. */
    struct sb_io **ios;              /* Each shard's io, for doorbells (set by the shard). */
    enum sb_io_doorbell doorbell;    /* How senders wake receivers. */
};

struct sb_overflow_node;

struct sb_overflow_queue {
    struct sb_overflow_node *head; /* Oldest message waiting for ring space. */
    struct sb_overflow_node *tail; /* Newest. */
    uint32_t count;                /* Messages waiting. */
};

struct sb_outbox {
    uint32_t shard_id;                 /* The sending shard. */
    struct sb_pool overflow_nodes;     /* Nodes for messages waiting for ring space. */
    struct sb_overflow_queue *queues;  /* One per destination shard. */
    uint8_t *destinations_touched;     /* 1 per destination with unpublished or waiting messages. */
    uint64_t overflowed_total;         /* Messages that ever waited in overflow (metrics). */
};

/* Allocates the mesh for `shard_count` shards from the heap (start-up only). Returns 0 or
 * -ENOMEM. */
int sb_mesh_create(uint32_t shard_count, enum sb_io_doorbell doorbell, struct sb_mesh **mesh_out);
void sb_mesh_destroy(struct sb_mesh *mesh);

/* Carves an outbox for `shard_id` with `overflow_capacity` overflow nodes from `arena`. */
int sb_outbox_init(struct sb_outbox *outbox, struct sb_mesh *mesh, uint32_t shard_id,
                   uint32_t overflow_capacity, struct sb_arena *arena);
/* Queues `message` for `destination` (copied). Returns 0, or -ENOBUFS when the ring is full and
 * the overflow pool is empty (nothing was queued). */
int sb_outbox_send(struct sb_outbox *outbox, struct sb_mesh *mesh, uint32_t destination,
                   const struct sb_msg *message);
/* Moves overflow into rings, publishes every touched ring and wakes receivers about to sleep,
 * using `self` for MSG_RING doorbells. Returns the number of messages still in overflow. */
uint32_t sb_outbox_flush(struct sb_outbox *outbox, struct sb_mesh *mesh, struct sb_io *self);
/* Messages queued in overflow or pushed but unpublished. */
uint32_t sb_outbox_pending(const struct sb_outbox *outbox, const struct sb_mesh *mesh);

/* Pops up to SB_RING_DRAIN_BATCH_MAX messages from each ring into `shard_id` and hands each to
 * `deliver`. Returns how many were delivered. */
uint32_t sb_mesh_drain(struct sb_mesh *mesh, uint32_t shard_id,
                       void (*deliver)(void *context, const struct sb_msg *message),
                       void *context);
/* True if no published message waits for `shard_id`. */
bool sb_mesh_inbound_empty(struct sb_mesh *mesh, uint32_t shard_id);

/* Termination detection for shutdown: true when every shard has declared itself drained and
 * every message sent has been received, observed identically by two consecutive scans. */
bool sb_mesh_quiescent(struct sb_mesh *mesh);

#endif /* SB_CORE_MESH_H */
