/*
 * test/core/test_ring.c - SPSC ring: FIFO order with no loss and no
 * duplicates across two threads (10 million messages), wrap-around, the full
 * ring, unpublished messages being invisible, and the waiter handshake.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>

#include "core/alloc.h"
#include "core/ring.h"

#define CROSS_THREAD_MESSAGES 10000000ull
#define PRODUCER_BATCH 32

static struct sb_ring *
ring_new(void)
{
    struct sb_ring *ring = sb_alloc_aligned(sizeof(*ring), SB_FALSE_SHARING_BYTES);
    cr_assert_not_null(ring);
    sb_ring_init(ring);
    return ring;
}

static struct sb_msg
message_with(uint64_t value)
{
    struct sb_msg message = {.type = 1, .request_sequence = value};
    message.arguments[0] = ~value;
    return message;
}

Test(ring, single_thread_fifo_and_wrap_around)
{
    struct sb_ring *ring = ring_new();
    uint64_t next_push = 0;
    uint64_t next_pop = 0;
    struct sb_msg batch[SB_RING_DRAIN_BATCH_MAX];
    /* 40 laps around the ring with uneven push and pop sizes. */
    while (next_pop < 40ull * SB_RING_SLOTS) {
        for (int count = 0; count < 37; count++) {
            struct sb_msg message = message_with(next_push);
            if (!sb_ring_push(ring, &message)) {
                break;
            }
            next_push++;
        }
        sb_ring_publish(ring);
        uint32_t popped = sb_ring_pop(ring, batch, 23);
        for (uint32_t index = 0; index < popped; index++) {
            cr_assert_eq(batch[index].request_sequence, next_pop);
            cr_assert_eq(batch[index].arguments[0], ~next_pop);
            next_pop++;
        }
    }
    sb_free(ring);
}

Test(ring, full_ring_refuses_then_accepts_after_pop)
{
    struct sb_ring *ring = ring_new();
    for (uint32_t index = 0; index < SB_RING_SLOTS; index++) {
        struct sb_msg message = message_with(index);
        cr_assert(sb_ring_push(ring, &message));
    }
    struct sb_msg extra = message_with(999);
    cr_assert_not(sb_ring_push(ring, &extra), "a full ring takes no more");
    cr_assert_eq(sb_ring_unpublished(ring), SB_RING_SLOTS);
    cr_assert_eq(sb_ring_publish(ring), SB_RING_SLOTS);
    struct sb_msg popped;
    cr_assert_eq(sb_ring_pop(ring, &popped, 1), 1);
    cr_assert_eq(popped.request_sequence, 0);
    cr_assert(sb_ring_push(ring, &extra), "one slot freed, one push fits");
    cr_assert_not(sb_ring_push(ring, &extra));
    sb_free(ring);
}

Test(ring, unpublished_messages_are_invisible)
{
    struct sb_ring *ring = ring_new();
    struct sb_msg message = message_with(7);
    cr_assert(sb_ring_push(ring, &message));
    cr_assert(sb_ring_is_empty(ring));
    struct sb_msg popped;
    cr_assert_eq(sb_ring_pop(ring, &popped, 1), 0);
    cr_assert_eq(sb_ring_publish(ring), 1);
    cr_assert_not(sb_ring_is_empty(ring));
    cr_assert_eq(sb_ring_pop(ring, &popped, 1), 1);
    cr_assert_eq(popped.request_sequence, 7);
    cr_assert(sb_ring_is_empty(ring));
    sb_free(ring);
}

static void *
producer_main(void *argument)
{
    struct sb_ring *ring = argument;
    uint64_t next = 0;
    while (next < CROSS_THREAD_MESSAGES) {
        uint32_t pushed = 0;
        while (pushed < PRODUCER_BATCH && next < CROSS_THREAD_MESSAGES) {
            struct sb_msg message = message_with(next);
            if (!sb_ring_push(ring, &message)) {
                break;
            }
            next++;
            pushed++;
        }
        sb_ring_publish(ring);
        if (pushed == 0) {
            sched_yield();
        }
    }
    return NULL;
}

Test(ring, ten_million_messages_across_threads_in_order, .timeout = 120)
{
    struct sb_ring *ring = ring_new();
    pthread_t producer;
    cr_assert_eq(pthread_create(&producer, NULL, producer_main, ring), 0);
    struct sb_msg batch[SB_RING_DRAIN_BATCH_MAX];
    uint64_t expected = 0;
    uint64_t mismatches = 0;
    while (expected < CROSS_THREAD_MESSAGES) {
        uint32_t popped = sb_ring_pop(ring, batch, SB_RING_DRAIN_BATCH_MAX);
        if (popped == 0) {
            sched_yield();
            continue;
        }
        for (uint32_t index = 0; index < popped; index++) {
            /* Any loss, duplicate or reorder breaks the sequence from here on. */
            mismatches += batch[index].request_sequence != expected ||
                          batch[index].arguments[0] != ~expected;
            expected++;
        }
    }
    pthread_join(producer, NULL);
    cr_assert_eq(mismatches, 0, "messages lost, duplicated or reordered");
    cr_assert(sb_ring_is_empty(ring), "nothing beyond the last message");
    sb_free(ring);
}

Test(ring, waiter_claims_a_wakeup_only_once)
{
    struct sb_waiter waiter;
    sb_waiter_init(&waiter);
    sb_waiter_fence();
    cr_assert_not(sb_waiter_claim_wakeup(&waiter), "awake receiver: no doorbell");
    sb_waiter_prepare_sleep(&waiter);
    cr_assert(sb_waiter_claim_wakeup(&waiter), "sleeping receiver: first sender rings");
    cr_assert_not(sb_waiter_claim_wakeup(&waiter), "second sender does not");
    sb_waiter_prepare_sleep(&waiter);
    sb_waiter_cancel_sleep(&waiter);
    cr_assert_not(sb_waiter_claim_wakeup(&waiter), "cancelled sleep: no doorbell");
}

Test(ring, activity_receive_clears_drained)
{
    struct sb_activity activity;
    sb_activity_init(&activity);
    sb_activity_set_drained(&activity, true);
    sb_activity_add_received(&activity, 3);
    uint64_t sent;
    uint64_t received;
    bool drained;
    sb_activity_read(&activity, &sent, &received, &drained);
    cr_assert_eq(received, 3);
    cr_assert_eq(sent, 0);
    cr_assert_not(drained);
}
