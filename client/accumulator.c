/*
 * client/accumulator.c - the producer's bookkeeping that keeps every step
 * independent of how many partitions it has sent to: the index of its
 * partitions (open addressing on topic and partition number), the linger and
 * ready lists of partitions (struct producer_list) and the age list of its
 * unresolved batches (oldest first, so by delivery deadline).
 *
 * A send finds its partition in the index; a new batch joins the age list and
 * its partition the linger list; sealing moves the partition to the ready
 * list; produce.c walks only the due head of the linger list, the expired
 * head of the age list and the ready list (docs/client.md "Accumulator").
 */
#include <errno.h>
#include <stdlib.h>

#include "client/client_private.h"

/* The index is grown when it would be fuller than 1/2. */
#define ACCUMULATOR_INDEX_MIN 64u

static uint32_t
accumulator_hash(const struct client_topic *topic, int32_t partition)
{
    uint64_t key = (uint64_t)(uintptr_t)topic ^ ((uint64_t)(uint32_t)partition << 40);
    key *= 0x9e3779b97f4a7c15ull;
    return (uint32_t)(key >> 32);
}

/* The slot of (topic, partition): its entry, or the empty slot where it goes. */
static struct producer_partition **
accumulator_slot(struct producer_partition **index, uint32_t capacity,
                 const struct client_topic *topic, int32_t partition)
{
    uint32_t mask = capacity - 1;
    uint32_t slot = accumulator_hash(topic, partition) & mask;
    /* Bounded: the index is never more than half full. */
    while (index[slot] != NULL &&
           (index[slot]->topic != topic || index[slot]->partition != partition)) {
        slot = (slot + 1) & mask;
    }
    return &index[slot];
}

/* Makes room for one more partition; -ENOMEM leaves the index as it was. */
static int
accumulator_index_grow(struct sb_producer *producer)
{
    if ((uint64_t)(producer->partition_count + 1) * 2 <= producer->index_capacity) {
        return 0;
    }
    uint32_t capacity = producer->index_capacity == 0 ? ACCUMULATOR_INDEX_MIN
                                                      : producer->index_capacity * 2;
    struct producer_partition **index = calloc(capacity, sizeof(*index));
    if (index == NULL) {
        return -ENOMEM;
    }
    for (uint32_t slot = 0; slot < producer->index_capacity; slot++) {
        struct producer_partition *entry = producer->index[slot];
        if (entry != NULL) {
            *accumulator_slot(index, capacity, entry->topic, entry->partition) = entry;
        }
    }
    free(producer->index);
    producer->index = index;
    producer->index_capacity = capacity;
    return 0;
}

struct producer_partition *
producer_partition_get(struct sb_producer *producer, struct client_topic *topic,
                       int32_t partition)
{
    if (producer->index_capacity > 0) {
        struct producer_partition *entry = *accumulator_slot(
            producer->index, producer->index_capacity, topic, partition);
        if (entry != NULL) {
            return entry;
        }
    }
    if (accumulator_index_grow(producer) != 0) {
        return NULL;
    }
    struct producer_partition *entry = calloc(1, sizeof(*entry));
    if (entry == NULL) {
        return NULL;
    }
    entry->producer = producer;
    entry->topic = topic;
    entry->partition = partition;
    entry->next = producer->partitions;
    producer->partitions = entry;
    producer->partition_count++;
    *accumulator_slot(producer->index, producer->index_capacity, topic, partition) = entry;
    return entry;
}

void
producer_list_add(struct sb_producer *producer, struct producer_partition *partition,
                  enum producer_list_kind kind)
{
    struct producer_list *list = &producer->lists[kind];
    struct producer_list_link *link = &partition->links[kind];
    if (link->linked) {
        return;
    }
    *link = (struct producer_list_link){.previous = list->tail, .linked = true};
    if (list->tail != NULL) {
        list->tail->links[kind].next = partition;
    } else {
        list->head = partition;
    }
    list->tail = partition;
    list->count++;
}

void
producer_list_remove(struct sb_producer *producer, struct producer_partition *partition,
                     enum producer_list_kind kind)
{
    struct producer_list *list = &producer->lists[kind];
    struct producer_list_link *link = &partition->links[kind];
    if (!link->linked) {
        return;
    }
    if (link->previous != NULL) {
        link->previous->links[kind].next = link->next;
    } else {
        list->head = link->next;
    }
    if (link->next != NULL) {
        link->next->links[kind].previous = link->previous;
    } else {
        list->tail = link->previous;
    }
    *link = (struct producer_list_link){0};
    list->count--;
}

void
producer_batch_link(struct producer_partition *partition, struct producer_batch *batch)
{
    struct sb_producer *producer = partition->producer;
    if (partition->tail != NULL) {
        partition->tail->next = batch;
    } else {
        partition->head = batch;
    }
    partition->tail = batch;
    batch->older = producer->newest;
    batch->newer = NULL;
    if (producer->newest != NULL) {
        producer->newest->newer = batch;
    } else {
        producer->oldest = batch;
    }
    producer->newest = batch;
}

/* Takes batch off the producer's age list. */
static void
accumulator_age_unlink(struct sb_producer *producer, struct producer_batch *batch)
{
    if (batch->older != NULL) {
        batch->older->newer = batch->newer;
    } else if (producer->oldest == batch) {
        producer->oldest = batch->newer;
    }
    if (batch->newer != NULL) {
        batch->newer->older = batch->older;
    } else if (producer->newest == batch) {
        producer->newest = batch->older;
    }
    batch->older = NULL;
    batch->newer = NULL;
}

void
producer_partition_unlink(struct producer_partition *partition, struct producer_batch *batch)
{
    struct producer_batch *previous = NULL;
    for (struct producer_batch *cursor = partition->head; cursor != NULL;
         cursor = cursor->next) {
        if (cursor == batch) {
            if (previous != NULL) {
                previous->next = batch->next;
            } else {
                partition->head = batch->next;
            }
            if (partition->tail == batch) {
                partition->tail = previous;
            }
            batch->next = NULL;
            accumulator_age_unlink(partition->producer, batch);
            break;
        }
        previous = cursor;
    }
    if (partition->tail == NULL || partition->tail->state != BATCH_OPEN) {
        producer_list_remove(partition->producer, partition, PRODUCER_LIST_LINGER);
        producer_list_remove(partition->producer, partition, PRODUCER_LIST_WAITING);
    }
}

void
producer_partitions_free(struct sb_producer *producer)
{
    while (producer->partitions != NULL) {
        struct producer_partition *partition = producer->partitions;
        CLIENT_ASSERT(partition->head == NULL);
        producer->partitions = partition->next;
        free(partition);
    }
    free(producer->index);
    producer->index = NULL;
    producer->index_capacity = 0;
    producer->partition_count = 0;
    for (uint32_t kind = 0; kind < PRODUCER_LIST_COUNT; kind++) {
        producer->lists[kind] = (struct producer_list){0};
    }
}
