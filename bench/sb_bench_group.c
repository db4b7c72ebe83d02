/*
 * bench/sb_bench_group.c - what sb-bench measures of a consumer group (--group): the
 * partitions each rebalance moved (an event log with wall-clock times, so a script can
 * match them against the moment it killed a member in another process), redeliveries,
 * rebalance pauses and commit latency, and their summary lines and JSON.
 *
 * Per partition it keeps the highest offset delivered in this run and, at each
 * assignment, that offset as the handover mark: a later record at or below the mark is a
 * redelivery (an earlier owner in this run delivered it; the new owner started from a
 * commit below it), counted and kept from the verifier. Only one consumer holds a
 * partition at a time (the coordinator revokes before it assigns), so each partition's
 * entries have one writer at a time; the rebalance callbacks and commit outcomes take the
 * lock. sb_bench_report_group.c prints and writes what is gathered here.
 *
 *   pause     revocation (or loss) of a partition to the first record the next owner in
 *             this run delivers from it;
 *   handover  the same revocation to the next assignment of the partition in this run;
 *   commit    sb_consumer_commit_sync's duration, or commit_async's call to its callback.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bench/sb_bench.h"

struct sb_bench_group *
sb_bench_group_new(uint32_t partitions_total)
{
    struct sb_bench_group *group = calloc(1, sizeof(*group));
    if (group == NULL) {
        return NULL;
    }
    group->partitions_total = partitions_total;
    group->high_offset = calloc(partitions_total, sizeof(*group->high_offset));
    group->handover_high = calloc(partitions_total, sizeof(*group->handover_high));
    group->revoked_ns = calloc(partitions_total, sizeof(*group->revoked_ns));
    group->pending = calloc(partitions_total, sizeof(*group->pending));
    group->owner = calloc(partitions_total, sizeof(*group->owner));
    group->events = calloc(SB_BENCH_GROUP_EVENTS_MAX, sizeof(*group->events));
    pthread_mutex_init(&group->lock, NULL);
    if (group->high_offset == NULL || group->handover_high == NULL ||
        group->revoked_ns == NULL || group->pending == NULL || group->owner == NULL ||
        group->events == NULL) {
        sb_bench_group_free(group);
        return NULL;
    }
    for (uint32_t partition = 0; partition < partitions_total; partition++) {
        atomic_store(&group->high_offset[partition], -1);
        atomic_store(&group->handover_high[partition], -1);
    }
    return group;
}

void
sb_bench_group_free(struct sb_bench_group *group)
{
    if (group == NULL) {
        return;
    }
    pthread_mutex_destroy(&group->lock);
    free((void *)group->high_offset);
    free((void *)group->handover_high);
    free((void *)group->revoked_ns);
    free((void *)group->pending);
    free((void *)group->owner);
    free(group->events);
    free(group);
}

void
sb_bench_group_subscribed(struct sb_bench_group *group)
{
    pthread_mutex_lock(&group->lock);
    if (group->subscribe_ns == 0) {
        group->subscribe_ns = sb_bench_now_ns();
    }
    pthread_mutex_unlock(&group->lock);
}

static uint64_t
unix_now_us(void)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (uint64_t)now.tv_sec * 1000000u + (uint64_t)now.tv_nsec / 1000u;
}

/* Adds partition to (assigned) or removes it from the consumer's list. */
static void
consumer_list_update(struct sb_bench_consumer *consumer, uint32_t partition, bool add)
{
    for (uint32_t slot = 0; slot < consumer->assigned_count; slot++) {
        if (consumer->assigned[slot] == partition) {
            if (!add) {
                consumer->assigned[slot] = consumer->assigned[--consumer->assigned_count];
            }
            return;
        }
    }
    if (add) {
        consumer->assigned[consumer->assigned_count++] = partition;
    }
}

/* Logs one move (lock held); returns its index + 1, or 0 when the log is full. */
static uint32_t
event_append(struct sb_bench_group *group, uint32_t consumer, enum sb_bench_group_kind kind,
             uint32_t partition, uint64_t unix_us)
{
    if (group->event_count >= SB_BENCH_GROUP_EVENTS_MAX) {
        group->events_dropped++;
        return 0;
    }
    struct sb_bench_group_event *event = &group->events[group->event_count++];
    event->unix_us = unix_us;
    atomic_store(&event->first_delivery_unix_us, 0);
    event->partition = partition;
    event->consumer = consumer;
    event->kind = kind;
    return group->event_count;
}

/* One partition of a rebalance callback (lock held). */
static void
partition_moved(struct sb_bench_group *group, struct sb_bench_consumer *consumer,
                enum sb_bench_group_kind kind, uint32_t partition, uint64_t now_ns,
                uint64_t unix_us)
{
    uint32_t logged = event_append(group, consumer->index, kind, partition, unix_us);
    group->moved[kind]++;
    if (kind == SB_BENCH_GROUP_ASSIGNED) {
        uint64_t revoked = atomic_load(&group->revoked_ns[partition]);
        if (revoked != 0) {
            sb_bench_histogram_record_since(&group->handover, revoked, now_ns);
        }
        atomic_store(&group->handover_high[partition], atomic_load(&group->high_offset[partition]));
        atomic_store(&group->pending[partition], logged);
        atomic_store(&group->owner[partition], consumer->index + 1);
        atomic_fetch_add(&group->held, 1);
    } else {
        uint32_t holder = consumer->index + 1;
        atomic_compare_exchange_strong(&group->owner[partition], &holder, 0);
        atomic_store(&group->revoked_ns[partition], now_ns);
        atomic_store(&group->pending[partition], 0);
        atomic_fetch_sub(&group->held, 1);
    }
    consumer_list_update(consumer, partition, kind == SB_BENCH_GROUP_ASSIGNED);
}

void
sb_bench_group_rebalance(struct sb_bench_group *group, struct sb_bench_consumer *consumer,
                         enum sb_bench_group_kind kind, const uint32_t *partitions,
                         size_t count)
{
    uint64_t now_ns = sb_bench_now_ns();
    uint64_t unix_us = unix_now_us();
    pthread_mutex_lock(&group->lock);
    for (size_t index = 0; index < count; index++) {
        if (partitions[index] < group->partitions_total) {
            partition_moved(group, consumer, kind, partitions[index], now_ns, unix_us);
        }
    }
    if (group->join_ns == 0 && atomic_load(&group->held) == group->partitions_total) {
        group->join_ns = now_ns;
    }
    if (count > 0) {
        group->settled_ns = now_ns;
        group->received_settled = atomic_load(&consumer->bench->received_total);
    }
    pthread_mutex_unlock(&group->lock);
}

/* The first record of partition since its assignment: closes its pause and event. */
static void
first_delivery(struct sb_bench_group *group, uint32_t partition, uint32_t logged)
{
    uint64_t now_ns = sb_bench_now_ns();
    uint64_t unix_us = unix_now_us();
    uint64_t revoked = atomic_exchange(&group->revoked_ns[partition], 0);
    pthread_mutex_lock(&group->lock);
    if (revoked != 0) {
        sb_bench_histogram_record_since(&group->pause, revoked, now_ns);
    }
    if (logged != 0) {
        atomic_store(&group->events[logged - 1].first_delivery_unix_us, unix_us);
    }
    pthread_mutex_unlock(&group->lock);
}

bool
sb_bench_group_deliver(struct sb_bench_group *group, uint32_t consumer, uint32_t partition,
                       int64_t offset)
{
    if (partition >= group->partitions_total) {
        return false;
    }
    uint32_t logged = atomic_exchange(&group->pending[partition], 0);
    if (logged != 0 || atomic_load(&group->revoked_ns[partition]) != 0) {
        first_delivery(group, partition, logged);
    }
    if (offset <= atomic_load(&group->handover_high[partition])) {
        atomic_fetch_add(&group->redelivered, 1);
        return true;
    }
    if (offset > atomic_load(&group->high_offset[partition])) {
        atomic_store(&group->high_offset[partition], offset);
    }
    if (atomic_load(&group->owner[partition]) != consumer + 1) {
        /* A fenced member's late delivery: the next owner's copy will be a redelivery. */
        atomic_store(&group->handover_high[partition], offset);
    }
    return false;
}

void
sb_bench_group_commit(struct sb_bench_group *group, uint64_t latency_ns, int error)
{
    pthread_mutex_lock(&group->lock);
    if (error == 0) {
        sb_histogram_record(&group->commit, latency_ns);
    } else {
        group->commit_errors++;
    }
    pthread_mutex_unlock(&group->lock);
}

bool
sb_bench_group_complete(struct sb_bench_group *group)
{
    return atomic_load(&group->held) == group->partitions_total;
}
