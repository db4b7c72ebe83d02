/*
 * broker/broker.c - the broker process and each shard's life.
 *
 * sb_broker_start loads (or creates) the data directory's metadata and starts
 * one shard per core with the hooks below, on io_uring threads or on the
 * simulator (stepped by sb_broker_step); sb_broker_run starts on io_uring and
 * waits for SIGINT/SIGTERM. On each
 * shard, broker_start opens the shard's store (recovery), the partitions it
 * owns, and its listeners; broker_message dispatches the cross-shard messages
 * of broker_private.h; broker_stop begins a clean shutdown, and
 * broker_drained says when the shard has nothing left to do.
 *
 * Connections: shard 0 accepts on the main port and hands each socket to the
 * shard with the fewest connections; every shard also accepts on its own port
 * (main port + 1 + shard) for shard-aware clients. Each shard listens on its
 * own port in broker_start; shard 0 opens the main port only in its first loop
 * iteration, after every shard's start succeeded (the runtime's start
 * barrier), so a client that reached the main port finds every shard port
 * listening; only then is the broker logged ready. The sockets themselves are
 * net/'s (sb_listener, sb_net): the broker gives net/ request slots and whole
 * frames go to request_start (broker_request_acquire, broker_request_start).
 *
 * Messages: broker_send never fails. A message goes into the ring or the
 * shard's overflow pool; when the pool is empty it waits in a per-destination
 * FIFO linked through its payload (struct outgoing) and is retried at the end
 * of each iteration (broker_outgoing_flush), before anything newer for that
 * destination, so order holds. A hand-off that finds no room is adopted by
 * shard 0 itself; connection ends are counted and reported in one message.
 */
#include "broker/broker.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/arena.h"
#include "core/assert.h"
#include "core/base.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/runtime.h"
#include "core/sim.h"
#include "broker/broker_private.h"
#include "broker/group_coordinator.h"
#include "broker/router.h"
#include "broker/memory.h"

/* Each shard's start-up memory beyond its timer heap: pools, the outbox, broker state. */
#define BROKER_SHARD_ARENA_BYTES (64ull << 20)
/* Timers a shard arms for itself, whatever its load (broker_timers_per_shard); within the
 * 2^16 core/limits.h allows beside connections and ops. */
#define BROKER_SHARD_OWN_TIMERS 64u

/* Steps that the started shards of a sim broker get to end after another shard's start
 * failed (they only wait for their own io). */
#define BROKER_SIM_STOP_STEPS_MAX 100000u

/* The handle of broker.h. */
struct sb_broker {
    struct broker state; /* What the shards share (their hooks' context). */
    struct sb_sim *sim;  /* The sim backend's world, or NULL: io_uring threads. */
};

static void broker_main_accepted(struct sb_listener *listener, int fd);
static struct sb_net_request *broker_request_acquire(void *context,
                                                     uint32_t frame_total_bytes);
static void broker_request_start(struct sb_net_request *net_request);
static void broker_request_release(struct sb_net_request *net_request);
static void broker_request_cancel(struct sb_net_request *net_request);
static void broker_conn_ended(void *context);

struct broker_shard *
broker_shard_of(struct sb_shard *shard)
{
    return sb_shard_user(shard);
}

static int
broker_send_now(struct broker_shard *self, uint32_t destination, const struct outgoing *outgoing)
{
    struct sb_msg message = {.type = outgoing->type, .payload = outgoing->payload};
    return sb_shard_send(self->shard, destination, &message);
}

static void broker_outgoing_fire(struct sb_timer *timer);

/* Keeps the shard from sleeping while messages wait (the overflow drains every iteration). */
static void
broker_outgoing_arm(struct broker_shard *self)
{
    if (!sb_timer_is_armed(&self->outgoing_timer)) {
        /* If no timer is free, the idle wait's cap still brings the shard back. */
        sb_shard_timer_arm(self->shard, &self->outgoing_timer, 0, broker_outgoing_fire, self);
    }
}

void
broker_send(struct broker_shard *self, uint32_t destination, uint16_t type,
            struct outgoing *outgoing, void *payload)
{
    SB_ASSERT(destination < sb_shard_count(self->shard));
    SB_ASSERT(outgoing != NULL && payload != NULL);
    outgoing->type = type;
    outgoing->payload = payload;
    outgoing->next = NULL;
    struct outgoing_queue *queue = &self->outgoing[destination];
    if (queue->head == NULL && broker_send_now(self, destination, outgoing) == 0) {
        return;
    }
    if (queue->tail == NULL) {
        queue->head = outgoing;
    } else {
        queue->tail->next = outgoing;
    }
    queue->tail = outgoing;
    self->outgoing_count++;
    broker_outgoing_arm(self);
}

bool
broker_send_if_room(struct broker_shard *self, uint32_t destination, uint16_t type,
                    void *payload)
{
    SB_ASSERT(destination < sb_shard_count(self->shard));
    SB_ASSERT(payload != NULL);
    if (self->outgoing[destination].head != NULL) {
        return false; /* Sending now would pass messages that wait. */
    }
    struct outgoing outgoing = {.type = type, .payload = payload};
    return broker_send_now(self, destination, &outgoing) == 0;
}

/* Sends the connection ends not reported yet; false if they must wait. */
static bool
broker_report_closed(struct broker_shard *self)
{
    if (self->closed_unsent == 0) {
        return true;
    }
    struct sb_msg message = {.type = MSG_CONN_CLOSED};
    message.arguments[0] = self->id;
    message.arguments[1] = self->closed_unsent;
    if (sb_shard_send(self->shard, 0, &message) != 0) {
        return false;
    }
    self->closed_unsent = 0;
    return true;
}

/* Sends waiting messages, oldest first per destination, while the overflow pool has room. */
static void
broker_outgoing_flush(struct broker_shard *self)
{
    bool waiting = !broker_report_closed(self);
    uint32_t count = sb_shard_count(self->shard);
    for (uint32_t destination = 0; destination < count && self->outgoing_count > 0;
         destination++) {
        struct outgoing_queue *queue = &self->outgoing[destination];
        while (queue->head != NULL && broker_send_now(self, destination, queue->head) == 0) {
            queue->head = queue->head->next;
            self->outgoing_count--;
        }
        if (queue->head == NULL) {
            queue->tail = NULL;
        }
    }
    if (waiting || self->outgoing_count > 0) {
        broker_outgoing_arm(self);
    }
}

static void
broker_outgoing_fire(struct sb_timer *timer)
{
    broker_outgoing_flush(timer->context);
}

static int
broker_lookup(void *context, uint32_t topic_id, uint32_t partition,
              struct sb_partition_config *config_out)
{
    struct broker_shard *self = context;
    struct sb_topic *topic = sb_metadata_find_id(&self->metadata, topic_id);
    if (topic == NULL || partition >= topic->partition_count ||
        sb_assignment_owner(&self->assignment, topic_id, partition) != self->id) {
        return -ENOENT;
    }
    *config_out = topic->config;
    return 0;
}

static int
broker_open_store(struct broker_shard *self)
{
    const struct sb_broker_config *config = &self->broker->config;
    struct sb_store_config store_config = {
        .data_dir = config->data_dir,
        .shard_id = self->id,
        .wal_file_bytes = config->wal_file_bytes,
        .wal_file_count = config->wal_files,
        .wal_prefill = config->wal_prefill,
        .memtable_bytes = config->memtable_bytes,
        .commit_delay_ns = config->commit_delay_us * SB_NS_PER_US,
        .wal_dsync_bytes_max = config->wal_dsync_bytes == 0
                                   ? -1
                                   : (int64_t)sb_min_u64(config->wal_dsync_bytes, INT64_MAX),
        .batch_bytes_max = config->max_message_bytes,
        .block_cache_bytes = config->block_cache_bytes,
        .producer_expiration_ms = config->producer_expiration_ms,
        .flush_syncfs_partitions_min = config->flush_syncfs_partitions,
        .lookup = broker_lookup,
        .lookup_context = self,
        .durable = fetch_partition_durable,
        .hold_high_watermark = true,
    };
    int result = sb_store_open(self->io, sb_shard_timers(self->shard), &store_config,
                               &self->store);
    if (result < 0) {
        return result;
    }
    for (uint32_t index = 0; index < SB_TOPICS_MAX; index++) {
        const struct sb_topic *topic = &self->metadata.topics[index];
        for (uint32_t partition = 0; topic->used && partition < topic->partition_count;
             partition++) {
            if (sb_assignment_owner(&self->assignment, topic->topic_id, partition) != self->id) {
                continue;
            }
            struct sb_partition *opened;
            result = sb_store_partition_open(self->store, topic->topic_id, partition,
                                             &topic->config, &opened);
            if (result < 0) {
                return result;
            }
        }
    }
    return 0;
}

/* A connection on this shard's own port stays here. */
static void
broker_accepted(struct sb_listener *listener, int fd)
{
    struct broker_shard *self = listener->context;
    sb_net_adopt(&self->net, fd, false);
}

static int
broker_start_network(struct broker_shard *self)
{
    const struct sb_broker_config *config = &self->broker->config;
    struct sb_net_config net_config = {
        .max_connections = config->max_connections,
        .max_frame_bytes = config->max_frame_bytes,
        .max_inflight_requests = config->max_inflight_requests,
        .idle_timeout_ms = config->idle_timeout_ms,
    };
    struct sb_net_callbacks callbacks = {
        .request_acquire = broker_request_acquire, .request_start = broker_request_start,
        .request_release = broker_request_release, .request_cancel = broker_request_cancel,
        .conn_ended = broker_conn_ended, .context = self,
    };
    int result = sb_net_init(&self->net, self->shard, &net_config, &sb_framer_native,
                             &callbacks);
    if (result == 0) {
        result = sb_listener_open(&self->listener, self->io, config->listen_host,
                                  (uint16_t)(config->listen_port + 1 + self->id),
                                  broker_accepted, self);
    }
    return result;
}

/* Shard 0, first iteration: every shard started and listens on its own port, so the main
 * port opens now. If it cannot, the broker stops and exits with the error. */
static void
broker_open_main_port(struct broker_shard *self)
{
    struct broker *broker = self->broker;
    const struct sb_broker_config *config = &broker->config;
    self->main_port_opened = true;
    int result = sb_listener_open(&self->main_listener, self->io, config->listen_host,
                                  config->listen_port, broker_main_accepted, self);
    if (result != 0) {
        broker->main_port_result = result;
        sb_runtime_stop(broker->runtime);
        return;
    }
    sb_log_info("listening", "host=%s port=%u shard_ports=%u-%u", config->listen_host,
                config->listen_port, config->listen_port + 1,
                config->listen_port + sb_shard_count(self->shard));
    sb_log_info("streambus ready", "shards=%u data_dir=%s startup_ms=%llu",
                sb_shard_count(self->shard), config->data_dir,
                (unsigned long long)((sb_io_now_ns(self->io) - broker->started_ns) /
                                     SB_NS_PER_MS));
}

static int
broker_allocate(struct broker_shard *self)
{
    const struct sb_broker_config *config = &self->broker->config;
    struct sb_arena *arena = sb_shard_arena(self->shard);
    int result = sb_metadata_init(&self->metadata);
    if (result == 0) {
        sb_metadata_copy(&self->metadata, &self->broker->metadata);
        result = sb_assignment_init(&self->assignment);
    }
    if (result == 0) {
        result = sb_assignment_copy(&self->assignment, &self->broker->assignment);
    }
    if (result == 0) {
        result = sb_bufpool_init(&self->buffers, config->request_memory_bytes,
                                 config->max_frame_bytes + SB_FRAME_HEADER_BYTES);
    }
    if (result == 0) {
        result = sb_pool_init(&self->requests, arena, sizeof(struct request), 64,
                              SB_BROKER_REQUESTS_MAX);
    }
    if (result == 0) {
        self->outgoing = sb_arena_alloc(arena, sb_shard_count(self->shard) *
                                                   sizeof(struct outgoing_queue), 8);
        result = self->outgoing == NULL ? -ENOMEM : 0;
        sb_timer_init(&self->outgoing_timer);
    }
    if (result == 0 && self->id == 0) {
        self->shard_conn_counts = sb_arena_alloc(arena, sb_shard_count(self->shard) *
                                                            sizeof(uint32_t), 4);
        result = self->shard_conn_counts == NULL ? -ENOMEM : admin_init(self);
    }
    return result;
}

static void broker_finish(struct sb_shard *shard);

static int
broker_start(struct sb_shard *shard)
{
    struct broker *broker = sb_shard_hooks_context(shard);
    struct broker_shard *self = sb_arena_alloc(sb_shard_arena(shard), sizeof(*self), 64);
    if (self == NULL) {
        return -ENOMEM;
    }
    self->broker = broker;
    self->shard = shard;
    self->id = sb_shard_id(shard);
    self->io = sb_shard_io(shard);
    sb_shard_set_user(shard, self);
    int result = broker_allocate(self);
    if (result == 0) {
        result = broker_open_store(self);
    }
    if (result == 0) {
        result = group_coordinator_start(self);
    }
    if (result == 0) {
        result = broker_start_network(self);
    }
    if (result != 0) {
        broker_finish(shard); /* The runtime runs `finish` only for shards that started. */
    }
    return result;
}

/* Shard 0: the socket goes to the shard with the fewest connections; shard 0 keeps it
 * itself when no message can carry it now. */
static void
broker_hand_off(struct broker_shard *self, int fd)
{
    uint32_t count = sb_shard_count(self->shard);
    uint32_t target = 0;
    for (uint32_t shard = 1; shard < count; shard++) {
        if (self->shard_conn_counts[shard] < self->shard_conn_counts[target]) {
            target = shard;
        }
    }
    if (target != 0) {
        struct sb_msg message = {.type = MSG_CONN_HANDOFF};
        message.arguments[0] = (uint64_t)fd;
        target = sb_shard_send(self->shard, target, &message) == 0 ? target : 0;
    }
    self->shard_conn_counts[target]++;
    if (target == 0) {
        sb_net_adopt(&self->net, fd, true);
    }
}

/* Shard 0's main port: the connection goes to the least-loaded shard. */
static void
broker_main_accepted(struct sb_listener *listener, int fd)
{
    broker_hand_off(listener->context, fd);
}

/* A connection handed off by shard 0 ended here: shard 0 hears of it (for the balance). */
static void
broker_conn_ended(void *context)
{
    struct broker_shard *self = context;
    if (self->id != 0) {
        self->closed_unsent++;
        if (!broker_report_closed(self)) {
            broker_outgoing_arm(self);
        }
        return;
    }
    SB_ASSERT(self->shard_conn_counts[0] > 0);
    self->shard_conn_counts[0]--;
}

/* net/ asks for a request slot: with a frame buffer from the shard's request memory, or
 * with none for a frame-level error answer. NULL (back-pressure): the bytes wait. */
static struct sb_net_request *
broker_request_acquire(void *context, uint32_t frame_total_bytes)
{
    struct broker_shard *self = context;
    struct request *request = sb_pool_acquire(&self->requests);
    if (request == NULL) {
        return NULL;
    }
    if (frame_total_bytes != 0) {
        request->net.frame = sb_bufpool_acquire(&self->buffers, frame_total_bytes,
                                                &request->net.frame_capacity);
        if (request->net.frame == NULL) {
            sb_pool_release(&self->requests, request);
            return NULL;
        }
    }
    request->home = self;
    self->requests_in_flight++;
    return &request->net;
}

/* A whole frame arrived: its header is decoded for the request's handlers. */
static void
broker_request_start(struct sb_net_request *net_request)
{
    struct request *request = SB_CONTAINER_OF(net_request, struct request, net);
    SB_ASSERT(net_request->frame != NULL);
    int decoded = sb_frame_header_decode(net_request->frame, net_request->frame_total_bytes,
                                         request->home->broker->config.max_frame_bytes,
                                         &request->header);
    SB_ASSERT(decoded == 0); /* The framer passed this header, and the frame is whole. */
    request_start(request);
}

static void
broker_request_release(struct sb_net_request *net_request)
{
    request_release(SB_CONTAINER_OF(net_request, struct request, net));
}

static void
broker_request_cancel(struct sb_net_request *net_request)
{
    request_cancel(SB_CONTAINER_OF(net_request, struct request, net));
}

/* Shard 0: `count` connections handed to `shard` ended. */
static void
broker_conns_ended(struct broker_shard *self, uint32_t shard, uint64_t count)
{
    SB_ASSERT(shard < sb_shard_count(self->shard));
    SB_ASSERT(self->shard_conn_counts[shard] >= count);
    self->shard_conn_counts[shard] -= (uint32_t)count;
}

static void
broker_message(struct sb_shard *shard, const struct sb_msg *message)
{
    struct broker_shard *self = broker_shard_of(shard);
    switch (message->type) {
    case MSG_CONN_HANDOFF:
        sb_net_adopt(&self->net, (int)message->arguments[0], true);
        break;
    case MSG_CONN_CLOSED:
        broker_conns_ended(self, (uint32_t)message->arguments[0], message->arguments[1]);
        break;
    case MSG_OP:
        router_execute(self, message->payload);
        break;
    case MSG_OP_DONE:
        router_op_done(message->payload);
        break;
    case MSG_FETCH_CANCEL:
        fetch_cancel_op(self, message->payload);
        break;
    case MSG_GROUP_BODY_FREE:
        group_body_free(self, message->payload);
        break;
    case MSG_OP_RELEASED:
        router_op_released(message->payload);
        break;
    case MSG_ADMIN:
        admin_submit(self, message->payload);
        break;
    case MSG_ADMIN_DONE:
        request_admin_done(message->payload);
        break;
    case MSG_TOPIC_UPDATE:
        admin_topic_update(self, message->payload);
        break;
    case MSG_TOPIC_UPDATE_DONE:
        admin_topic_update_done(self, message->payload);
        break;
    default:
        sb_panic("unknown broker message type %u", message->type);
    }
}

static void
broker_stop(struct sb_shard *shard)
{
    struct broker_shard *self = broker_shard_of(shard);
    self->stopping = true;
    sb_log_info("stopping: no new connections; finishing requests", "connections=%u",
                self->net.conn_count);
    sb_listener_stop(&self->listener);
    sb_listener_stop(&self->main_listener);
    fetch_cancel_parked(self);
    group_coordinator_stop(self);
    sb_net_stop(&self->net);
}

static bool
broker_drained(struct sb_shard *shard)
{
    struct broker_shard *self = broker_shard_of(shard);
    if (self == NULL) {
        return true;
    }
    if (!sb_net_idle(&self->net) || self->requests_in_flight != 0 ||
        self->ops_in_flight != 0 || self->group_bodies_lent != 0 || self->outgoing_count != 0 ||
        self->closed_unsent != 0 ||
        (self->admin != NULL && !admin_idle(self))) {
        return false;
    }
    if (!sb_store_idle(self->store)) {
        sb_store_shutdown(self->store);
        return false;
    }
    return true;
}

static void
broker_iteration_end(struct sb_shard *shard)
{
    struct broker_shard *self = broker_shard_of(shard);
    if (self->id == 0 && !self->main_port_opened && !sb_shard_stopping(shard)) {
        broker_open_main_port(self);
    }
    broker_outgoing_flush(self);
    produce_resume(self);
    sb_net_resume(&self->net);
    /* Last: the appends of requests resumed above start their commit in this iteration,
     * rather than after the shard's next sleep. */
    sb_store_iteration_end(self->store);
}

/* A power cut (simulator): the store goes first on every shard, while every shard's memory
 * still exists, since failing its waiting appends answers works of other shards' requests. */
static void
broker_abandon(struct sb_shard *shard)
{
    struct broker_shard *self = broker_shard_of(shard);
    if (self != NULL && self->store != NULL) {
        sb_store_close(self->store);
        self->store = NULL;
    }
}

static void
broker_finish(struct sb_shard *shard)
{
    struct broker_shard *self = broker_shard_of(shard);
    if (self == NULL) {
        return;
    }
    if (self->store != NULL) {
        sb_store_close(self->store);
    }
    sb_listener_close(&self->listener);
    sb_listener_close(&self->main_listener);
    if (self->admin != NULL) {
        admin_deinit(self);
    }
    group_coordinator_finish(self);
    sb_bufpool_deinit(&self->buffers);
    sb_assignment_deinit(&self->assignment);
    sb_metadata_deinit(&self->metadata);
}

/* Raises the open-file limit to its hard maximum: every segment keeps a descriptor. */
static void
broker_raise_file_limit(void)
{
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        setrlimit(RLIMIT_NOFILE, &limit);
    }
}

/* True if <dir>/<name> is a directory with anything in it. */
static bool
broker_directory_used(const char *data_dir, const char *name)
{
    char path[320];
    snprintf(path, sizeof(path), "%s/%s", data_dir, name);
    DIR *directory = opendir(path);
    if (directory == NULL) {
        return false;
    }
    bool used = false;
    struct dirent *item;
    /* Bounded by the directory's entries; stops at the first real one. */
    while (!used && (item = readdir(directory)) != NULL) {
        used = strcmp(item->d_name, ".") != 0 && strcmp(item->d_name, "..") != 0;
    }
    closedir(directory);
    return used;
}

/* The metadata file is written before any shard starts, so shard or partition files without it
 * mean it was lost, not a new directory: starting would take every partition for a deleted
 * topic and remove its files. */
static bool
broker_metadata_lost(const char *data_dir)
{
    if (!broker_directory_used(data_dir, "shards") &&
        !broker_directory_used(data_dir, "partitions")) {
        return false;
    }
    sb_log_error("the metadata file is missing but the data directory holds shard or partition "
                 "files; refusing to start (restore the file; nothing was deleted)",
                 "path=%s/metadata", data_dir);
    return true;
}

/* One broker leads every partition: fills the assignment a metadata file of version 1 lacks
 * (partitions stay on the shards they were on) and moves partitions another node id led to
 * this one; saves the file if that changed anything. */
static int
broker_place_partitions(struct broker *broker)
{
    int64_t changed = 0;
    for (uint32_t index = 0; index < SB_TOPICS_MAX; index++) {
        const struct sb_topic *topic = &broker->metadata.topics[index];
        int64_t placed = !topic->used ? 0 : sb_assignment_place_local(
            &broker->assignment, topic->topic_id, topic->partition_count,
            broker->metadata.shard_count, broker->config.node_id);
        if (placed < 0) {
            return (int)placed;
        }
        changed += placed;
    }
    if (changed == 0) {
        return 0;
    }
    broker->assignment.epoch++;
    sb_log_info("partition assignment filled", "partitions=%lld epoch=%llu",
                (long long)changed, (unsigned long long)broker->assignment.epoch);
    return sb_metadata_save(&broker->metadata, &broker->assignment, broker->config.data_dir);
}

/* Loads the data directory's metadata, or creates it; fixes the shard count. */
static int
broker_prepare_data(struct broker *broker)
{
    struct sb_broker_config *config = &broker->config;
    if (mkdir(config->data_dir, 0755) != 0 && errno != EEXIST) {
        sb_log_error("cannot create the data directory", "path=%s errno=%d", config->data_dir,
                     errno);
        return -errno;
    }
    int result = sb_metadata_load(&broker->metadata, &broker->assignment, config->data_dir);
    if (result == -ENOENT && broker_metadata_lost(config->data_dir)) {
        return SB_ECORRUPT;
    }
    if (result == -ENOENT) {
        broker->metadata.shard_count = config->cores != 0 ? config->cores
                                                          : sb_runtime_cpus_allowed();
        sb_log_info("new data directory", "path=%s shards=%u", config->data_dir,
                    broker->metadata.shard_count);
        return sb_metadata_save(&broker->metadata, &broker->assignment, config->data_dir);
    }
    if (result != 0) {
        sb_log_error("cannot read metadata", "path=%s/metadata error=\"%s\"", config->data_dir,
                     sb_strerror(result));
        return result;
    }
    if (config->cores != 0 && config->cores != broker->metadata.shard_count) {
        sb_log_error("the data directory was created with another shard count; start with "
                     "that --cores (re-sharding is not supported yet)", "path=%s shards=%u "
                     "requested=%u", config->data_dir, broker->metadata.shard_count,
                     config->cores);
        return SB_ECONFIG;
    }
    return broker_place_partitions(broker);
}

/* Fits the per-shard budgets in memory_limit_bytes, else the cgroup's limit, else RAM. */
static int
broker_fit_memory(struct broker *broker)
{
    struct sb_broker_config *config = &broker->config;
    const char *source = "memory_limit_bytes";
    uint64_t limit = config->memory_limit_bytes;
    if (limit == 0) {
        source = "cgroup";
        limit = sb_memory_cgroup_limit("/proc/self/cgroup", "/sys/fs/cgroup");
    }
    uint64_t ram = (uint64_t)sysconf(_SC_PHYS_PAGES) * (uint64_t)sysconf(_SC_PAGESIZE);
    if (limit == 0 || (ram != 0 && ram < limit)) {
        source = "physical memory";
        limit = ram;
    }
    char error[320];
    int fitted = limit != 0 ? sb_memory_fit(config, broker->metadata.shard_count, limit, error,
                                            sizeof(error))
                            : 0;
    if (fitted < 0) {
        sb_log_error("the memory budgets do not fit", "source=\"%s\" why=\"%s\"", source,
                     error);
        return SB_ECONFIG;
    }
    if (fitted > 0) {
        sb_log_info("memory budgets fitted to the limit",
                    "source=\"%s\" limit_mib=%llu shards=%u request_memory_mib=%llu "
                    "memtable_mib=%llu block_cache_mib=%llu", source,
                    (unsigned long long)(limit >> 20), broker->metadata.shard_count,
                    (unsigned long long)(config->request_memory_bytes >> 20),
                    (unsigned long long)(config->memtable_bytes >> 20),
                    (unsigned long long)(config->block_cache_bytes >> 20));
    }
    return 0;
}

/* Every timer one shard can hold at once, so arming one never fails: an idle timer per
 * connection (refused ones too), a deadline per op any shard's requests can have on it (a
 * produce's wait or a long poll), and the shard's own (the store's retries and delays, the
 * outgoing queue's wake-up). */
static uint64_t
broker_timers_per_shard(const struct broker *broker)
{
    return (uint64_t)broker->config.max_connections + SB_NET_REFUSED_CONNECTIONS_MAX +
           (uint64_t)SB_BROKER_REQUESTS_MAX * broker->metadata.shard_count +
           BROKER_SHARD_OWN_TIMERS;
}

/* Creates and starts the runtime: io_uring threads, or sim shards stepped by the caller. */
static int
broker_serve(struct sb_broker *handle)
{
    struct broker *broker = &handle->state;
    uint64_t timers = broker_timers_per_shard(broker);
    struct sb_runtime_config runtime_config = {
        .shard_count = broker->metadata.shard_count,
        .backend = handle->sim != NULL ? SB_IO_BACKEND_SIM : SB_IO_BACKEND_URING,
        .sim = handle->sim,
        .doorbell = broker->config.doorbell,
        .pin_threads = handle->sim == NULL,
        .timers_max = (uint32_t)timers,
        .arena_bytes = BROKER_SHARD_ARENA_BYTES + timers * sizeof(void *),
        .shutdown_timeout_ns = 30 * SB_NS_PER_S,
        .hooks = {.start = broker_start, .stop = broker_stop, .drained = broker_drained,
                  .message = broker_message, .iteration_end = broker_iteration_end,
                  .finish = broker_finish, .abandon = broker_abandon, .context = broker},
    };
    int result = sb_runtime_create(&runtime_config, &broker->runtime);
    if (result != 0) {
        return result;
    }
    result = sb_runtime_start(broker->runtime);
    if (result != 0 && handle->sim != NULL) {
        /* The shards that started stop (the others never ran): step them to their end. */
        for (uint32_t step = 0; step < BROKER_SIM_STOP_STEPS_MAX &&
                                sb_runtime_step(broker->runtime); step++) {
        }
    }
    if (result != 0) {
        sb_runtime_destroy(broker->runtime);
        broker->runtime = NULL;
    }
    return result;
}

int
sb_broker_start(const struct sb_broker_config *config, struct sb_sim *sim,
                struct sb_broker **broker_out)
{
    *broker_out = NULL;
    struct sb_broker *handle = sb_alloc(sizeof(*handle));
    if (handle == NULL) {
        return -ENOMEM;
    }
    memset(handle, 0, sizeof(*handle));
    handle->sim = sim;
    struct broker *broker = &handle->state;
    broker->config = *config;
    broker->started_ns = sim != NULL ? sb_sim_now_ns(sim) : sb_clock_monotonic_ns();
    sb_log_set_level(config->log_level);
    broker_raise_file_limit();
    char error[256];
    int result = sb_broker_config_check(config, error, sizeof(error));
    if (result != 0) {
        sb_log_error("inconsistent settings", "why=\"%s\"", error);
        sb_free(handle);
        return SB_ECONFIG;
    }
    result = sb_metadata_init(&broker->metadata);
    if (result == 0) {
        result = sb_assignment_init(&broker->assignment);
    }
    if (result == 0) {
        result = broker_prepare_data(broker);
    }
    if (result == 0) {
        result = group_offsets_topic_ensure(broker);
    }
    if (result == 0) {
        result = broker_fit_memory(broker);
    }
    if (result == 0) {
        result = broker_serve(handle);
    }
    if (result != 0) {
        sb_assignment_deinit(&broker->assignment);
        sb_metadata_deinit(&broker->metadata);
        sb_free(handle);
        return result;
    }
    *broker_out = handle;
    return 0;
}

bool
sb_broker_step(struct sb_broker *handle)
{
    SB_ASSERT(handle->sim != NULL);
    return sb_runtime_step(handle->state.runtime);
}

void
sb_broker_stop(struct sb_broker *handle)
{
    sb_runtime_stop(handle->state.runtime);
}

int
sb_broker_end(struct sb_broker *handle)
{
    struct broker *broker = &handle->state;
    bool simulated = handle->sim != NULL;
    if (simulated) {
        sb_runtime_abandon(broker->runtime);
    }
    int result = sb_runtime_wait(broker->runtime);
    result = result != 0 ? result : broker->main_port_result;
    sb_runtime_destroy(broker->runtime);
    sb_assignment_deinit(&broker->assignment);
    sb_metadata_deinit(&broker->metadata);
    sb_free(handle);
    if (result == 0 && !simulated) {
        sb_log_info("stopped cleanly", "%s", "");
    }
    return result;
}

int
sb_broker_run(const struct sb_broker_config *config)
{
    struct sb_broker *broker;
    int result = sb_broker_start(config, NULL, &broker);
    if (result != 0) {
        return result;
    }
    sb_runtime_wait_for_signal(broker->state.runtime);
    return sb_broker_end(broker);
}
