/*
 * core/ring.c - SPSC rings and the sleep/wake handshake (see ring.h for the
 * protocol). This file holds every atomic operation of the runtime; each one
 * says what it orders.
 *
 * Indices are free-running uint32_t counters; unsigned wrap-around keeps
 * `tail - head` correct as long as the ring holds at most 2^31 messages.
 */
#include "core/ring.h"

#include <string.h>

#include "core/assert.h"

#define RING_MASK (SB_RING_SLOTS - 1u)

void
sb_ring_init(struct sb_ring *ring)
{
    atomic_init(&ring->tail, 0);
    atomic_init(&ring->head, 0);
    ring->tail_pending = 0;
    ring->head_cached = 0;
    ring->tail_cached = 0;
}

bool
sb_ring_push(struct sb_ring *ring, const struct sb_msg *message)
{
    SB_ASSERT(ring->tail_pending - ring->head_cached <= SB_RING_SLOTS);
    if (ring->tail_pending - ring->head_cached == SB_RING_SLOTS) {
        /* Acquire: the consumer's reads of the slots it freed happen before we overwrite. */
        ring->head_cached = atomic_load_explicit(&ring->head, memory_order_acquire);
        if (ring->tail_pending - ring->head_cached == SB_RING_SLOTS) {
            return false;
        }
    }
    ring->slots[ring->tail_pending & RING_MASK] = *message;
    ring->tail_pending++;
    return true;
}

uint32_t
sb_ring_publish(struct sb_ring *ring)
{
    /* Relaxed: only this producer thread ever writes tail. */
    uint32_t published = atomic_load_explicit(&ring->tail, memory_order_relaxed);
    uint32_t count = ring->tail_pending - published;
    if (count != 0) {
        /* Release: the slot writes above become visible before the new tail. */
        atomic_store_explicit(&ring->tail, ring->tail_pending, memory_order_release);
    }
    return count;
}

uint32_t
sb_ring_unpublished(const struct sb_ring *ring)
{
    /* Relaxed: producer-private read of its own last store. */
    return ring->tail_pending - atomic_load_explicit(&ring->tail, memory_order_relaxed);
}

uint32_t
sb_ring_pop(struct sb_ring *ring, struct sb_msg *messages, uint32_t count_max)
{
    /* Relaxed: only this consumer thread ever writes head. */
    uint32_t head = atomic_load_explicit(&ring->head, memory_order_relaxed);
    if (ring->tail_cached == head) {
        /* Acquire: pairs with the producer's release in sb_ring_publish, so the slot
         * contents are visible before we read them. */
        ring->tail_cached = atomic_load_explicit(&ring->tail, memory_order_acquire);
    }
    uint32_t available = ring->tail_cached - head;
    SB_ASSERT(available <= SB_RING_SLOTS);
    uint32_t count = available < count_max ? available : count_max;
    for (uint32_t index = 0; index < count; index++) {
        messages[index] = ring->slots[(head + index) & RING_MASK];
    }
    if (count != 0) {
        /* Release: our slot reads complete before the producer may reuse the slots. */
        atomic_store_explicit(&ring->head, head + count, memory_order_release);
    }
    return count;
}

bool
sb_ring_is_empty(struct sb_ring *ring)
{
    uint32_t head = atomic_load_explicit(&ring->head, memory_order_relaxed);
    /* Acquire: if non-empty, the next pop may use this tail and read the slots. */
    ring->tail_cached = atomic_load_explicit(&ring->tail, memory_order_acquire);
    return ring->tail_cached == head;
}

void
sb_waiter_init(struct sb_waiter *waiter)
{
    atomic_init(&waiter->sleeping, 0);
    memset(waiter->padding, 0, sizeof(waiter->padding));
}

void
sb_waiter_prepare_sleep(struct sb_waiter *waiter)
{
    /* Seq-cst store then full fence: the flag is globally visible before the receiver loads
     * any ring tail (the store-load order a plain release store would not give). */
    atomic_store_explicit(&waiter->sleeping, 1, memory_order_seq_cst);
    atomic_thread_fence(memory_order_seq_cst);
}

void
sb_waiter_cancel_sleep(struct sb_waiter *waiter)
{
    /* Relaxed: a sender that still sees 1 only rings a spurious (harmless) doorbell. */
    atomic_store_explicit(&waiter->sleeping, 0, memory_order_relaxed);
}

void
sb_waiter_awake(struct sb_waiter *waiter)
{
    /* Relaxed: same reasoning as cancel; the next prepare_sleep orders itself. */
    atomic_store_explicit(&waiter->sleeping, 0, memory_order_relaxed);
}

void
sb_waiter_fence(void)
{
    /* Full fence: the tail stores published before this call are globally visible before we
     * load any sleeping flag; pairs with the fence in sb_waiter_prepare_sleep. */
    atomic_thread_fence(memory_order_seq_cst);
}

bool
sb_waiter_claim_wakeup(struct sb_waiter *waiter)
{
    /* Relaxed: ordered after our tail stores by sb_waiter_fence. */
    if (atomic_load_explicit(&waiter->sleeping, memory_order_relaxed) == 0) {
        return false;
    }
    /* Acquire-release exchange: exactly one sender claims the wake-up. */
    return atomic_exchange_explicit(&waiter->sleeping, 0, memory_order_acq_rel) == 1;
}

void
sb_activity_init(struct sb_activity *activity)
{
    atomic_init(&activity->sent, 0);
    atomic_init(&activity->received, 0);
    atomic_init(&activity->drained, 0);
}

void
sb_activity_add_sent(struct sb_activity *activity, uint64_t count)
{
    /* Seq-cst: termination detection compares these counters across shards, so their order
     * relative to the ring stores and the drained flag must be a single total order. */
    atomic_fetch_add_explicit(&activity->sent, count, memory_order_seq_cst);
}

void
sb_activity_add_received(struct sb_activity *activity, uint64_t count)
{
    /* Seq-cst, and drained is cleared first: a scan that sees the new count also sees the shard
     * busy, so a message being handled (which may send more) never looks like quiescence. */
    atomic_store_explicit(&activity->drained, 0, memory_order_seq_cst);
    atomic_fetch_add_explicit(&activity->received, count, memory_order_seq_cst);
}

void
sb_activity_set_drained(struct sb_activity *activity, bool drained)
{
    /* Seq-cst: see sb_activity_add_sent. */
    atomic_store_explicit(&activity->drained, drained ? 1u : 0u, memory_order_seq_cst);
}

void
sb_activity_read(struct sb_activity *activity, uint64_t *sent, uint64_t *received,
                 bool *drained)
{
    /* Seq-cst loads: see sb_activity_add_sent. */
    *drained = atomic_load_explicit(&activity->drained, memory_order_seq_cst) != 0;
    *sent = atomic_load_explicit(&activity->sent, memory_order_seq_cst);
    *received = atomic_load_explicit(&activity->received, memory_order_seq_cst);
}

void
sb_flag_init(struct sb_flag *flag)
{
    atomic_init(&flag->raised, 0);
}

void
sb_flag_raise(struct sb_flag *flag)
{
    /* Release: whatever the raiser wrote before is visible to a thread that sees the flag. */
    atomic_store_explicit(&flag->raised, 1, memory_order_release);
}

bool
sb_flag_is_raised(struct sb_flag *flag)
{
    /* Acquire: pairs with sb_flag_raise. */
    return atomic_load_explicit(&flag->raised, memory_order_acquire) != 0;
}
