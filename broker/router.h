/*
 * broker/router.h - a partition request split by owning shard, and its results gathered
 * (router.c), shared by the API files whose route is OWNERS (api.h).
 *
 * A routed request has, in its scratch (router_reserve):
 *   parts  one per partition it names, in request order: a struct part first, then the
 *          API's own fields (struct produce_part, ...), part_bytes each;
 *   ops    one per owning shard used, in shard order: a struct op first, then the API's own
 *          fields (struct produce_op, ...), op_bytes each; each lists its parts in order.
 *
 *   home:  decode: router_reserve, router_resolve each part, router_split
 *          request_start: router_dispatch --local--> router_execute
 *                                         --remote--> MSG_OP --> router_execute (owner)
 *   owner: api->execute ... router_op_step says the last step is done
 *          --> router_op_finish --> MSG_OP_DONE (or a call, when the owner is home)
 *   home:  router_op_done ... every op back --> router_gather: api->gathered or the answer
 *
 * An op may be answered before its owner is done with it (a produce at its timeout:
 * router_op_answer_early); its request is then freed only once MSG_OP_RELEASED came back.
 * Memory: parts, ops and what they point to are the home shard's; an owner borrows an op
 * from MSG_OP until it sends it home.
 */
#ifndef SB_BROKER_ROUTER_H
#define SB_BROKER_ROUTER_H

#include <stdbool.h>
#include <stdint.h>

#include "broker/broker_private.h"

/* The part of a request that runs on one owner shard; the first field of every typed op. */
struct op {
    struct request *request;          /* Home request (borrowed by the owner while it runs). */
    uint32_t owner;                   /* Shard that runs it. */
    struct broker_shard *owner_shard; /* Set by the owner when it starts the op. */
    uint32_t pending;                 /* Owner: steps outstanding, plus one guard. */
    const uint32_t *parts;            /* Its parts' indexes, in request order (scratch). */
    uint32_t part_count;              /* Parts it carries (0: Health). */
    bool held;                        /* Answered early; the owner still refers to it until
                                         MSG_OP_RELEASED. */
    struct outgoing outgoing;         /* MSG_OP or MSG_OP_DONE while it waits to be sent. */
    struct outgoing released;         /* MSG_OP_RELEASED while it waits to be sent. */
};

/* One partition a request names; the first field of every typed part. */
struct part {
    uint32_t topic_index;  /* Which topic of the request (response grouping). */
    uint32_t topic_id;     /* 0 when the topic is unknown. */
    int32_t partition;     /* Partition number. */
    uint32_t owner;        /* Owning shard (valid when error is NONE). */
    int16_t error;         /* enum sb_wire_error for this partition. */
    struct op *op;         /* The op that carries it; NULL when it has an error. */
};

/* What a routed request's scratch holds (router_reserve). */
struct router_layout {
    uint32_t topic_count; /* Topic names in the request. */
    uint32_t part_count;  /* Partitions in the request. */
    uint32_t part_bytes;  /* Size of the API's typed part (>= sizeof(struct part)). */
    uint32_t op_bytes;    /* Size of the API's typed op (>= sizeof(struct op)). */
    uint64_t state_bytes; /* The API's request-wide state (request->state). */
    uint64_t extra_bytes; /* The response's arrays (request->extra). */
};

/* Home: takes the request's scratch for `layout` (zeroed). Returns NONE, INVALID_REQUEST for
 * more topics or partitions than one request may name (docs/protocol.md), or BROKER_BUSY. */
int16_t router_reserve(struct request *request, const struct router_layout *layout);
/* The request's part `index` (request order) and op `index` (shard order). */
struct part *router_part(const struct request *request, uint32_t index);
struct op *router_op(const struct request *request, uint32_t index);
/* Home: the part's topic id and owner from the shard's table; an unknown topic or partition
 * is UNKNOWN_TOPIC_OR_PARTITION. */
void router_resolve(struct request *request, struct part *part, struct sb_wire_string name);
/* Home: whether a known topic's partition is named twice (docs/protocol.md: INVALID_REQUEST).
 * Sorts in the request's extra scratch, which must hold 8 bytes per part. */
bool router_repeats(struct request *request);
/* Home: one op per owner of a part without error, in shard order, each listing its parts in
 * request order; sets each such part's op. */
void router_split(struct request *request);
/* Home: one op per shard, without parts (Health). */
void router_split_every_shard(struct request *request);
/* Home: one op on `owner` carrying every part, errors included (route COORDINATOR: the
 * group's coordinator shard). */
void router_split_coordinator(struct request *request, uint32_t owner);
/* Home: the parts of topic `topic` are one run from *cursor (parts are in request order):
 * returns its length and moves the cursor past it. */
uint32_t router_topic_span(const struct request *request, uint32_t topic, uint32_t *cursor);
/* Home: runs every op (local ones now, remote ones by MSG_OP); router_gather once all are
 * back (at once if there are none). */
void router_dispatch(struct request *request);
/* Home: an op is back (MSG_OP_DONE). */
void router_op_done(struct op *op);
/* Home: an op answered early is no longer referred to by its owner (MSG_OP_RELEASED). */
void router_op_released(struct op *op);
/* Home: every op is back: the API goes on (api->gathered) or the request is answered. */
void router_gather(struct request *request);

/* Owner: starts an op (MSG_OP, or a call when the owner is home): its API's execute. */
void router_execute(struct broker_shard *self, struct op *op);
/* Owner: one step of the op is done; true when it was the last, and the caller then frees
 * what the op holds here and calls router_op_finish. */
bool router_op_step(struct broker_shard *self, struct op *op);
/* Owner: the op is done here: home with MSG_OP_DONE, or MSG_OP_RELEASED if answered early. */
void router_op_finish(struct broker_shard *self, struct op *op);
/* Owner: answers the op now although steps are pending (router_op_finish releases it). */
void router_op_answer_early(struct broker_shard *self, struct op *op);
/* Owner: the part's partition, or NULL (the part's error set to UNKNOWN_TOPIC_OR_PARTITION)
 * when this shard has no such partition or its table no longer has the topic: a delete is
 * decided on shard 0 first and partitions are dropped once the metadata file is durable, so
 * an op may run in between. *topic_out (NULL: not wanted) borrows the table's entry until
 * the next topic change. */
struct sb_partition *router_partition(struct broker_shard *self, struct part *part,
                                      struct sb_topic **topic_out);

#endif /* SB_BROKER_ROUTER_H */
