/*
 * core/ring.h - single-producer single-consumer rings of 64-byte messages,
 * and the sleep/wake handshake between a shard and the shards that send to it.
 *
 * Every atomic of the runtime lives in ring.c (STYLE.md rule 17).
 *
 * A ring carries messages from one shard to one other. The producer writes
 * slots privately (sb_ring_push) and makes a batch visible with one release
 * store (sb_ring_publish); the consumer takes up to a batch at once
 * (sb_ring_pop). Each side keeps a cached copy of the other side's index so
 * the shared line is read only when the cache says full or empty.
 *
 * Sleep/wake (a Dekker-style handshake on two shared variables, the ring tail
 * and the receiver's `sleeping` flag):
 *   receiver: sb_waiter_prepare_sleep (sleeping = 1; full fence), then looks
 *             at every inbound ring; if all are empty it sleeps, otherwise it
 *             calls sb_waiter_cancel_sleep. After waking: sb_waiter_awake.
 *   sender:   sb_ring_publish (release tail); sb_waiter_should_ring (full
 *             fence; claims sleeping 1 -> 0) and rings the doorbell if true.
 * The two full fences guarantee that at least one side sees the other's store:
 * either the receiver sees the new tail and stays up, or the sender sees
 * sleeping == 1 and rings. A wake-up is never lost; at most one sender rings.
 */
#ifndef SB_CORE_RING_H
#define SB_CORE_RING_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/base.h"
#include "core/limits.h"

/* One cache line. Ownership of `payload` travels with the message. */
struct sb_msg {
    uint16_t type;             /* What the message means (runtime or application defined). */
    uint16_t source_shard;     /* Sender; replies and returned memory go back here. */
    uint32_t flags;            /* Meaning defined by `type`. */
    uint64_t connection_id;    /* Connection the message concerns, if any. */
    uint64_t request_sequence; /* Request the message concerns, if any. */
    void *payload;             /* Owned by the receiver once delivered; may be NULL. */
    uint64_t arguments[4];     /* Small inline arguments. */
};
static_assert(sizeof(struct sb_msg) == SB_CACHELINE_BYTES, "a message is one cache line");

struct sb_ring {
    /* Producer side. */
    alignas(SB_FALSE_SHARING_BYTES) _Atomic uint32_t tail; /* Published end (release). */
    uint32_t tail_pending;                                 /* Written but not published. */
    uint32_t head_cached;                                  /* Producer's copy of head. */
    /* Consumer side. */
    alignas(SB_FALSE_SHARING_BYTES) _Atomic uint32_t head; /* Consumed end (release). */
    uint32_t tail_cached;                                  /* Consumer's copy of tail. */
    /* Slots; index = position & (SB_RING_SLOTS - 1). */
    alignas(SB_FALSE_SHARING_BYTES) struct sb_msg slots[SB_RING_SLOTS];
};

/* The receiver's half of the sleep/wake handshake, on its own lines. */
struct sb_waiter {
    alignas(SB_FALSE_SHARING_BYTES) _Atomic uint32_t sleeping; /* 1 while about to sleep. */
    char padding[SB_FALSE_SHARING_BYTES - sizeof(uint32_t)];   /* Keep neighbours off. */
};

void sb_ring_init(struct sb_ring *ring);

/* Producer: writes one message into a free slot without publishing it. Returns false if the
 * ring is full (counting unpublished messages). */
bool sb_ring_push(struct sb_ring *ring, const struct sb_msg *message);
/* Producer: makes every pushed message visible to the consumer. Returns how many. */
uint32_t sb_ring_publish(struct sb_ring *ring);
/* Producer: messages pushed but not yet published. */
uint32_t sb_ring_unpublished(const struct sb_ring *ring);

/* Consumer: copies up to `count_max` published messages, oldest first, into `messages` and
 * frees their slots. Returns how many. */
uint32_t sb_ring_pop(struct sb_ring *ring, struct sb_msg *messages, uint32_t count_max);
/* Consumer: true if nothing published is waiting (reads the shared tail). */
bool sb_ring_is_empty(struct sb_ring *ring);

void sb_waiter_init(struct sb_waiter *waiter);
/* Receiver: announces the intent to sleep; then check every inbound ring. */
void sb_waiter_prepare_sleep(struct sb_waiter *waiter);
/* Receiver: found work after prepare_sleep; stays awake. */
void sb_waiter_cancel_sleep(struct sb_waiter *waiter);
/* Receiver: woke up (for any reason). */
void sb_waiter_awake(struct sb_waiter *waiter);
/* Sender, once after publishing to any number of rings: orders those tail stores before the
 * sleeping-flag loads of the sb_waiter_claim_wakeup calls that follow. */
void sb_waiter_fence(void);
/* Sender, after sb_waiter_fence: true if the receiver may be asleep and this sender must ring
 * its doorbell. Claims the wake-up, so concurrent senders ring at most once. */
bool sb_waiter_claim_wakeup(struct sb_waiter *waiter);

/* Per-shard activity counters for shutdown's termination detection (see mesh.c). Written only
 * by the owning shard, read by all. */
struct sb_activity {
    alignas(SB_FALSE_SHARING_BYTES) _Atomic uint64_t sent; /* Messages published. */
    _Atomic uint64_t received;                             /* Messages popped. */
    _Atomic uint32_t drained;                              /* 1: idle and stopping. */
};

void sb_activity_init(struct sb_activity *activity);
void sb_activity_add_sent(struct sb_activity *activity, uint64_t count);
/* Also clears drained: a shard that received work is busy until it says otherwise. */
void sb_activity_add_received(struct sb_activity *activity, uint64_t count);
void sb_activity_set_drained(struct sb_activity *activity, bool drained);
/* Reads all three counters (each atomically; not as one snapshot). */
void sb_activity_read(struct sb_activity *activity, uint64_t *sent, uint64_t *received,
                      bool *drained);

/* A process-wide one-way flag (e.g. "stop requested"), safe to raise from any thread. */
struct sb_flag {
    _Atomic uint32_t raised; /* 0 until raised, then 1 forever. */
};

void sb_flag_init(struct sb_flag *flag);
void sb_flag_raise(struct sb_flag *flag);
bool sb_flag_is_raised(struct sb_flag *flag);

#endif /* SB_CORE_RING_H */
