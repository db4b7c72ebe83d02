/*
 * core/mesh.c - shard-to-shard messaging (see mesh.h): sending through the
 * outbox with overflow, batched publish and doorbells, draining inbound
 * rings, and the termination check used at shutdown.
 *
 * Order guarantee: for each (sender, destination) pair messages are delivered
 * in send order. A message goes to overflow whenever that destination's
 * overflow queue is non-empty, so a later message never overtakes one that
 * is waiting.
 *
 * Termination (sb_mesh_quiescent): counters only grow, and a shard reports
 * drained only while it has no work, nothing in its outbox and nothing in its
 * inbound rings. If two consecutive scans read the same counters, every shard
 * drained in both, and the sums of sent and received match, then no message
 * was in transit between the scans and none can appear (four-counter method).
 */
#include "core/mesh.h"

#include <errno.h>
#include <string.h>

#include "core/alloc.h"
#include "core/arena.h"
#include "core/assert.h"
#include "core/limits.h"

struct sb_overflow_node {
    struct sb_msg message;         /* The waiting message. */
    struct sb_overflow_node *next; /* Next newer message for the same destination. */
};

static struct sb_ring *
mesh_ring(struct sb_mesh *mesh, uint32_t from, uint32_t to)
{
    SB_ASSERT(from < mesh->shard_count);
    SB_ASSERT(to < mesh->shard_count);
    return &mesh->rings[(size_t)from * mesh->shard_count + to];
}

int
sb_mesh_create(uint32_t shard_count, enum sb_io_doorbell doorbell, struct sb_mesh **mesh_out)
{
    SB_ASSERT(shard_count > 0 && shard_count <= SB_SHARDS_MAX);
    struct sb_mesh *mesh = sb_alloc(sizeof(*mesh));
    if (mesh == NULL) {
        return -ENOMEM;
    }
    size_t ring_count = (size_t)shard_count * shard_count;
    mesh->shard_count = shard_count;
    mesh->doorbell = doorbell;
    mesh->rings = sb_alloc_aligned(ring_count * sizeof(struct sb_ring), SB_FALSE_SHARING_BYTES);
    mesh->waiters = sb_alloc_aligned(shard_count * sizeof(struct sb_waiter),
                                     SB_FALSE_SHARING_BYTES);
    mesh->activity = sb_alloc_aligned(shard_count * sizeof(struct sb_activity),
                                      SB_FALSE_SHARING_BYTES);
    mesh->ios = sb_alloc(shard_count * sizeof(struct sb_io *));
    if (mesh->rings == NULL || mesh->waiters == NULL || mesh->activity == NULL ||
        mesh->ios == NULL) {
        sb_mesh_destroy(mesh);
        return -ENOMEM;
    }
    for (size_t index = 0; index < ring_count; index++) {
        sb_ring_init(&mesh->rings[index]);
    }
    for (uint32_t shard = 0; shard < shard_count; shard++) {
        sb_waiter_init(&mesh->waiters[shard]);
        sb_activity_init(&mesh->activity[shard]);
    }
    *mesh_out = mesh;
    return 0;
}

void
sb_mesh_destroy(struct sb_mesh *mesh)
{
    if (mesh == NULL) {
        return;
    }
    sb_free(mesh->rings);
    sb_free(mesh->waiters);
    sb_free(mesh->activity);
    sb_free(mesh->ios);
    sb_free(mesh);
}

int
sb_outbox_init(struct sb_outbox *outbox, struct sb_mesh *mesh, uint32_t shard_id,
               uint32_t overflow_capacity, struct sb_arena *arena)
{
    SB_ASSERT(shard_id < mesh->shard_count);
    memset(outbox, 0, sizeof(*outbox));
    outbox->shard_id = shard_id;
    outbox->queues = sb_arena_alloc(arena, mesh->shard_count * sizeof(outbox->queues[0]),
                                    sizeof(void *));
    outbox->destinations_touched = sb_arena_alloc(arena, mesh->shard_count, 1);
    if (outbox->queues == NULL || outbox->destinations_touched == NULL) {
        return -ENOMEM;
    }
    return sb_pool_init(&outbox->overflow_nodes, arena, sizeof(struct sb_overflow_node),
                        SB_CACHELINE_BYTES, overflow_capacity);
}

static int
outbox_enqueue_overflow(struct sb_outbox *outbox, uint32_t destination,
                        const struct sb_msg *message)
{
    struct sb_overflow_node *node = sb_pool_acquire(&outbox->overflow_nodes);
    if (node == NULL) {
        return -ENOBUFS;
    }
    node->message = *message;
    node->next = NULL;
    struct sb_overflow_queue *queue = &outbox->queues[destination];
    if (queue->tail == NULL) {
        queue->head = node;
    } else {
        queue->tail->next = node;
    }
    queue->tail = node;
    queue->count++;
    outbox->overflowed_total++;
    return 0;
}

int
sb_outbox_send(struct sb_outbox *outbox, struct sb_mesh *mesh, uint32_t destination,
               const struct sb_msg *message)
{
    SB_ASSERT(destination < mesh->shard_count);
    SB_ASSERT(message->source_shard == outbox->shard_id);
    outbox->destinations_touched[destination] = 1;
    if (outbox->queues[destination].count == 0 &&
        sb_ring_push(mesh_ring(mesh, outbox->shard_id, destination), message)) {
        return 0;
    }
    return outbox_enqueue_overflow(outbox, destination, message);
}

/* Moves waiting messages of one destination into its ring, oldest first, while there is room. */
static void
outbox_move_overflow(struct sb_outbox *outbox, struct sb_ring *ring, uint32_t destination)
{
    struct sb_overflow_queue *queue = &outbox->queues[destination];
    while (queue->head != NULL && sb_ring_push(ring, &queue->head->message)) {
        struct sb_overflow_node *node = queue->head;
        queue->head = node->next;
        if (queue->head == NULL) {
            queue->tail = NULL;
        }
        queue->count--;
        sb_pool_release(&outbox->overflow_nodes, node);
    }
}

uint32_t
sb_outbox_flush(struct sb_outbox *outbox, struct sb_mesh *mesh, struct sb_io *self)
{
    bool published_to[SB_SHARDS_MAX] = {false};
    uint64_t published_total = 0;
    uint32_t still_waiting = 0;
    for (uint32_t destination = 0; destination < mesh->shard_count; destination++) {
        if (!outbox->destinations_touched[destination]) {
            continue;
        }
        struct sb_ring *ring = mesh_ring(mesh, outbox->shard_id, destination);
        outbox_move_overflow(outbox, ring, destination);
        uint32_t published = sb_ring_publish(ring);
        published_to[destination] = published != 0;
        published_total += published;
        still_waiting += outbox->queues[destination].count;
        /* Stay touched while overflow waits, so the next flush retries it. */
        outbox->destinations_touched[destination] = outbox->queues[destination].count != 0;
    }
    if (published_total == 0) {
        return still_waiting;
    }
    sb_activity_add_sent(&mesh->activity[outbox->shard_id], published_total);
    sb_waiter_fence();
    for (uint32_t destination = 0; destination < mesh->shard_count; destination++) {
        if (published_to[destination] && destination != outbox->shard_id &&
            sb_waiter_claim_wakeup(&mesh->waiters[destination])) {
            sb_io_wake(self, mesh->ios[destination], mesh->doorbell);
        }
    }
    return still_waiting;
}

uint32_t
sb_outbox_pending(const struct sb_outbox *outbox, const struct sb_mesh *mesh)
{
    uint32_t pending = 0;
    for (uint32_t destination = 0; destination < mesh->shard_count; destination++) {
        pending += outbox->queues[destination].count;
        pending += sb_ring_unpublished(
            &mesh->rings[(size_t)outbox->shard_id * mesh->shard_count + destination]);
    }
    return pending;
}

uint32_t
sb_mesh_drain(struct sb_mesh *mesh, uint32_t shard_id,
              void (*deliver)(void *context, const struct sb_msg *message), void *context)
{
    struct sb_msg batch[SB_RING_DRAIN_BATCH_MAX];
    uint32_t delivered = 0;
    for (uint32_t source = 0; source < mesh->shard_count; source++) {
        uint32_t count = sb_ring_pop(mesh_ring(mesh, source, shard_id), batch,
                                     SB_RING_DRAIN_BATCH_MAX);
        for (uint32_t index = 0; index < count; index++) {
            deliver(context, &batch[index]);
        }
        delivered += count;
    }
    if (delivered != 0) {
        sb_activity_add_received(&mesh->activity[shard_id], delivered);
    }
    return delivered;
}

bool
sb_mesh_inbound_empty(struct sb_mesh *mesh, uint32_t shard_id)
{
    for (uint32_t source = 0; source < mesh->shard_count; source++) {
        if (!sb_ring_is_empty(mesh_ring(mesh, source, shard_id))) {
            return false;
        }
    }
    return true;
}

/* One scan: false if some shard is not drained; otherwise the sums, folded into a signature. */
static bool
mesh_scan(struct sb_mesh *mesh, uint64_t *sent_sum, uint64_t *received_sum)
{
    *sent_sum = 0;
    *received_sum = 0;
    for (uint32_t shard = 0; shard < mesh->shard_count; shard++) {
        uint64_t sent;
        uint64_t received;
        bool drained;
        sb_activity_read(&mesh->activity[shard], &sent, &received, &drained);
        if (!drained) {
            return false;
        }
        *sent_sum += sent;
        *received_sum += received;
    }
    return true;
}

bool
sb_mesh_quiescent(struct sb_mesh *mesh)
{
    uint64_t sent_first;
    uint64_t received_first;
    uint64_t sent_second;
    uint64_t received_second;
    if (!mesh_scan(mesh, &sent_first, &received_first) || sent_first != received_first) {
        return false;
    }
    if (!mesh_scan(mesh, &sent_second, &received_second)) {
        return false;
    }
    return sent_second == sent_first && received_second == received_first;
}
