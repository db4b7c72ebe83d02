/*
 * broker/broker_private.h - the broker's state and the contract between the
 * files of broker/ (nothing outside broker/ includes it):
 *   broker.c    the process (start, signals) and each shard's hooks, its
 *               listeners and connection hand-off, message dispatch, and the
 *               callbacks net/ calls (broker_request_acquire / _start /
 *               _release / _cancel, broker_conn_ended)
 *   request.c   a request's life: checks, its API's route, memory, answers
 *   api.c       the API registry: one entry per API (api.h)
 *   router.c    splitting a request into ops per owning shard, gathering (router.h)
 *   api_*.c     one API family each: decode, execute on the owner, encode
 *   admin.c     shard 0's control plane: topics, producer ids, metadata file
 *   config.c / metadata.c  settings and the topic table
 *   assignment.c / placement.c  partition -> shard, leader, replicas, and the control
 *               plane's filling of it
 * The transport (sockets, frames, in-order answers, connection limits) is
 * net/ (net/conn.h): each shard embeds a struct sb_net, each request a
 * struct sb_net_request (`request->net`).
 *
 * A request's life (request.c):
 *
 *   net: whole frame -> broker_request_start -> request_start --api_check-->
 *   its entry's route:
 *      LOCAL:   decode, encode
 *      OWNERS:  decode: parts by owner shard, one typed op per owner (router.c)
 *               --> local: router_execute; remote: MSG_OP --> MSG_OP_DONE ... all back
 *               --> router_gather: encode (or the API goes on: a fetch reads again)
 *      CONTROL: MSG_ADMIN to shard 0: decode and decide, persist, broadcast, encode
 *               --> MSG_ADMIN_DONE
 *      --> sb_net_request_complete: net sends it in request order, coalesced
 *      --> net: broker_request_release -> request_release
 *
 * Memory: the request, its frame, its parts, its ops and every buffer an op
 * fills belong to the connection's shard; owners borrow them while a MSG_OP
 * is theirs and give them back with MSG_OP_DONE.
 */
#ifndef SB_BROKER_BROKER_PRIVATE_H
#define SB_BROKER_BROKER_PRIVATE_H

#include <assert.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/bufpool.h"
#include "core/io.h"
#include "core/limits.h"
#include "core/pool.h"
#include "core/ring.h"
#include "core/shard.h"
#include "core/timer.h"
#include "broker/assignment.h"
#include "broker/config.h"
#include "broker/metadata.h"
#include "net/conn.h"
#include "net/listener.h"
#include "proto/wire.h"
#include "storage/store.h"


enum broker_message {
    MSG_CONN_HANDOFF = 16,  /* shard 0 -> shard: arguments[0] = socket fd. */
    MSG_CONN_CLOSED,        /* shard -> shard 0: arguments[1] of its connections ended. */
    MSG_OP,                 /* payload: struct op for this (owner) shard (router.h). */
    MSG_OP_DONE,            /* payload: the same op, results filled in. */
    MSG_OP_RELEASED,        /* payload: an op answered early; the owner is done with it. */
    MSG_ADMIN,              /* payload: struct request to run on shard 0. */
    MSG_ADMIN_DONE,         /* payload: the request, response encoded. */
    MSG_TOPIC_UPDATE,       /* payload: struct topic_broadcast from shard 0. */
    MSG_TOPIC_UPDATE_DONE,  /* payload: the broadcast, back to shard 0. */
    MSG_FETCH_CANCEL,       /* payload: a fetch op; end its wait now if it waits. */
    MSG_GROUP_BODY_FREE,    /* payload: a group response body, back to the shard that
                               allocated it (api_group.c). */
};

/* A message waiting in its sender for an overflow node (the shard's pool was empty), linked
 * through memory its payload already has, so sending never fails and never allocates. */
struct outgoing {
    struct outgoing *next; /* Next newer message for the same destination. */
    void *payload;         /* The message's payload. */
    uint16_t type;         /* enum broker_message. */
};

/* Per destination shard: messages waiting for an overflow node, oldest first. */
struct outgoing_queue {
    struct outgoing *head; /* Oldest. */
    struct outgoing *tail; /* Newest. */
};

struct broker_shard;
struct request;

struct op;
struct group_coordinator;
struct fetch_op;
struct produce_op;

/* A connection's request, from frame to response. */
struct request {
    struct sb_net_request net;      /* The transport's part: connection, frame (from the
                                       bufpool), response (bufpool, or its error frame),
                                       completion. */
    struct broker_shard *home;      /* The shard that owns everything below. */
    struct sb_frame_header header;  /* Decoded frame header (request_start onwards). */
    uint8_t *scratch;               /* The API's decoded state, parts, ops (bufpool). */
    uint32_t scratch_capacity;      /* Its size class. */
    void *state;                    /* The API's request-wide state (scratch), or NULL. */
    struct sb_wire_string *topics;  /* topic_count names in request order (scratch). */
    uint32_t topic_count;           /* Topics in the request. */
    uint8_t *parts;                 /* part_count typed parts, part_bytes each (router.h). */
    uint32_t part_bytes;            /* Size of one. */
    uint32_t part_count;            /* Partitions in the request. */
    uint8_t *ops;                   /* op_count typed ops, op_bytes each: one per owner. */
    uint32_t op_bytes;              /* Size of one. */
    uint32_t op_count;              /* Ops. */
    uint32_t *op_parts;             /* The parts' indexes, grouped by op (scratch). */
    void *extra;                    /* The response's arrays (scratch). */
    uint32_t ops_pending;           /* Ops not yet back. */
    uint32_t ops_held;              /* Ops answered early, not yet released by their owner. */
    bool release_deferred;          /* Released while ops_held > 0: freed at the last. */
    struct request *admin_next;     /* Shard 0's admin queue, while shard 0 borrows it. */
    struct outgoing outgoing;       /* Its MSG_ADMIN or MSG_ADMIN_DONE while it waits. */
};

/* Shard 0's record of a topic change being made durable and broadcast. */
struct topic_update {
    struct sb_topic topic;          /* The topic after the change. */
    bool deleted;                   /* The topic was deleted. */
};

/* Shard 0's changes of one admin request, sent to one other shard (one per shard, so each
 * message has its own link while it waits to be sent). */
struct topic_broadcast {
    struct outgoing outgoing;            /* MSG_TOPIC_UPDATE and its reply. */
    const struct topic_update *updates;  /* Shard 0's changes (borrowed until the reply). */
    const struct sb_assignment *assignment; /* Shard 0's assignment after them (borrowed
                                               until the reply). */
    uint32_t update_count;               /* Changes. */
};

struct broker {
    struct sb_broker_config config; /* Settings. */
    struct sb_metadata metadata;    /* Loaded at start; shards copy it. */
    struct sb_assignment assignment; /* Loaded (or filled) at start; shards copy it. */
    uint64_t started_ns;            /* Start time (uptime). */
    struct sb_runtime *runtime;     /* The shards. */
    int main_port_result;           /* Shard 0's main port listen error (read once joined). */
    bool offsets_recovered;         /* __consumer_offsets was there at start: a restart, so
                                       groups are held (group_coordinator_hold_until_ms). */
};

struct broker_shard {
    struct broker *broker;          /* Process-wide settings (read-only). */
    struct sb_shard *shard;         /* The runtime shard. */
    uint32_t id;                    /* Shard id. */
    struct sb_io *io;               /* Shard's io. */
    struct sb_store *store;         /* Shard's storage. */
    struct sb_metadata metadata;    /* This shard's copy of the topic table. */
    struct sb_assignment assignment; /* This shard's copy of the partition assignment. */
    struct sb_bufpool buffers;      /* Frames, responses, fetch data. */
    struct sb_net net;              /* Connections (net/conn.h). */
    struct sb_pool requests;        /* struct request. */
    struct sb_listener listener;    /* This shard's own port. */
    struct sb_listener main_listener; /* Shard 0: the main port, once every shard listens. */
    bool main_port_opened;          /* Shard 0: opening the main port was tried. */
    uint32_t *shard_conn_counts;    /* Shard 0: connections per shard (hand-off balance). */
    struct fetch_op *parked;        /* Fetches waiting for data here. */
    struct produce_op *produce_waiting; /* Produces waiting for memtable room, in order. */
    uint32_t ops_in_flight;         /* Ops this shard runs for others (or itself). */
    uint32_t group_bodies_lent;     /* Group response bodies it allocated, not back yet. */
    uint32_t requests_in_flight;    /* Requests of this shard not finished. */
    uint32_t fetch_turn;            /* Rotates the fetch op served first when not all of a
                                       fetch's ops get a buffer. */
    struct outgoing_queue *outgoing; /* Per destination: messages waiting for a node. */
    uint32_t outgoing_count;        /* Messages waiting there. */
    uint32_t closed_unsent;         /* Connection ends not yet reported to shard 0. */
    struct sb_timer outgoing_timer; /* Keeps the shard awake while messages wait. */
    bool stopping;                  /* Stop was requested. */
    struct admin_state *admin;      /* Shard 0: the control plane. */
    struct group_coordinator *groups; /* The consumer groups it coordinates
                                         (group_coordinator.c). */
};

/* broker.c */
struct broker_shard *broker_shard_of(struct sb_shard *shard);
/* Sends `payload` as a `type` message to `destination`, in order with earlier ones; when the
 * shard's overflow pool is empty it waits, linked through `outgoing` (which the sender owns
 * until the message is delivered), and goes at the end of a later loop iteration. */
void broker_send(struct broker_shard *self, uint32_t destination, uint16_t type,
                 struct outgoing *outgoing, void *payload);
/* Sends a message that may be dropped (a hint: its receiver copes without it) if it can go
 * now, in order; false if it would have to wait. */
bool broker_send_if_room(struct broker_shard *self, uint32_t destination, uint16_t type,
                         void *payload);

/* request.c */
void request_start(struct request *request);
void request_admin_done(struct request *request);
/* Frees everything the request holds; deferred while an owner still refers to an op of it
 * (acks=all answered at its timeout: the appends call back later). */
void request_release(struct request *request);
/* The connection is closing: a fetch waiting for data stops waiting and is answered. */
void request_cancel(struct request *request);
bool request_respond_error(struct request *request, int16_t error);
/* The request's body: after the frame header, in its frame (borrowed with the request). */
void request_body(const struct request *request, const uint8_t **body_out,
                  uint32_t *bytes_out);
/* Takes the response buffer (`bytes` and room for the frame) or the scratch (`bytes`,
 * zeroed); false when the shard's request memory is short (the caller answers BROKER_BUSY). */
bool request_reserve_response(struct request *request, uint64_t bytes);
bool request_reserve_scratch(struct request *request, uint64_t bytes);
/* Encodes the request's response (its API's encode, api.h) into its reserved response
 * buffer, or the frame-level `error` when it is not NONE; does not send it. Runs where the
 * results are: the connection's shard, or shard 0 for the control plane. */
void request_encode(struct broker_shard *self, struct request *request, int16_t error);
/* Encodes the response on the connection's shard and hands it to the connection (an acks=0
 * produce completes without one). */
void request_answer(struct request *request);

/* api_fetch.c */
/* Storage hook: a partition's durable offset moved; raises its high watermark (the acks=all
 * policy) and parked fetches on it run again. */
void fetch_partition_durable(void *context, struct sb_partition *partition);
void fetch_cancel_parked(struct broker_shard *self);
/* A fetch op of a request whose connection closed: ends its wait if it is parked here. */
void fetch_cancel_op(struct broker_shard *self, struct op *op);

/* api_group.c */
/* MSG_GROUP_BODY_FREE: a response body this shard encoded, copied by the connection's shard
 * and given back: freed here, where it was allocated. */
void group_body_free(struct broker_shard *self, void *payload);

/* api_produce.c */
/* End of each iteration: produces waiting for memtable room try again. */
void produce_resume(struct broker_shard *self);
/* The wire error of an append's result (sb_partition_append). */
int16_t produce_append_error(int result);

/* admin.c */
int admin_init(struct broker_shard *self);
void admin_deinit(struct broker_shard *self);
void admin_submit(struct broker_shard *self, struct request *request);
void admin_topic_update(struct broker_shard *self, struct topic_broadcast *broadcast);
void admin_topic_update_done(struct broker_shard *self, struct topic_broadcast *broadcast);
bool admin_idle(const struct broker_shard *self);
/* Every shard: applies a topic change (entries of its partitions copied from shard 0's
 * `assignment`, borrowed) and opens or drops the partitions it owns. */
int admin_apply_topic(struct broker_shard *self, const struct sb_topic *topic, bool deleted,
                      const struct sb_assignment *assignment);

/* placement.c */
/* Shard 0, before persisting a change: places the partitions of `updates` (one broker's
 * policy) and bumps the assignment epoch. Returns 0, -ENOMEM or -ENOSPC. */
int placement_assign(struct broker_shard *self, const struct topic_update *updates,
                     uint32_t update_count);
/* Shard 0, persisting failed: undoes placement_assign (`before`: the topic table before). */
void placement_unassign(struct broker_shard *self, const struct topic_update *updates,
                        uint32_t update_count, struct sb_metadata *before);
/* Shard 0: the metadata file image of both tables into *image, grown (owned by the caller)
 * to *capacity when too small. Returns its length or -ENOMEM. */
int64_t placement_encode(struct broker_shard *self, uint8_t **image, uint64_t *capacity);
/* Another shard: copies the entries of a topic's partitions from shard 0's `from`. Returns
 * 0, or -ENOMEM/-ENOSPC (logged; the change is then not applied on this shard). */
int placement_receive(struct broker_shard *self, const struct sb_topic *topic, bool deleted,
                      const struct sb_assignment *from);

#endif /* SB_BROKER_BROKER_PRIVATE_H */
