/*
 * net/broker.c - the broker process and each shard's life.
 *
 * sb_broker_run loads (or creates) the data directory's metadata, starts one
 * shard per core with the hooks below, and waits for SIGINT/SIGTERM. On each
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
 * listening; only then is the broker logged ready.
 *
 * Messages: broker_send never fails. A message goes into the ring or the
 * shard's overflow pool; when the pool is empty it waits in a per-destination
 * FIFO linked through its payload (struct outgoing) and is retried at the end
 * of each iteration (broker_outgoing_flush), before anything newer for that
 * destination, so order holds. A hand-off that finds no room is adopted by
 * shard 0 itself; connection ends are counted and reported in one message.
 */
#include "net/broker.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
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
#include "net/broker_private.h"
#include "net/memory.h"

static void broker_accept_done(struct sb_io_op *op);

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
        sb_metadata_owner(&self->metadata, topic_id, partition) != self->id) {
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
        .batch_bytes_max = config->max_message_bytes,
        .block_cache_bytes = config->block_cache_bytes,
        .producer_expiration_ms = config->producer_expiration_ms,
        .lookup = broker_lookup,
        .lookup_context = self,
        .durable = work_partition_durable,
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
            if (sb_metadata_owner(&self->metadata, topic->topic_id, partition) != self->id) {
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

static int
broker_listen(struct broker_shard *self, uint16_t port, int *fd_out)
{
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(port)};
    if (inet_pton(AF_INET, self->broker->config.listen_host, &address.sin_addr) != 1) {
        sb_log_error("listen address is not an IPv4 address", "host=%s",
                     self->broker->config.listen_host);
        return -EINVAL;
    }
    int fd = sb_io_listen(self->io, &address, 1024);
    /* A broker that just died (kill -9) may hold the port for a moment while the kernel tears
     * down its io_uring: retry for a few seconds at start-up. Bounded: 100 x 50 ms. */
    for (int attempt = 0; fd == -EADDRINUSE && attempt < 100; attempt++) {
        struct timespec pause = {.tv_sec = 0, .tv_nsec = 50 * 1000 * 1000};
        nanosleep(&pause, NULL);
        fd = sb_io_listen(self->io, &address, 1024);
    }
    if (fd < 0) {
        sb_log_error("cannot listen", "host=%s port=%u error=\"%s\"",
                     self->broker->config.listen_host, port, sb_strerror(fd));
        return fd;
    }
    *fd_out = fd;
    return 0;
}

static void
broker_arm_accept(struct broker_shard *self, struct sb_io_op *op, int fd)
{
    sb_io_accept(self->io, op, fd, true, NULL, broker_accept_done, self);
}

static int
broker_start_network(struct broker_shard *self)
{
    const struct sb_broker_config *config = &self->broker->config;
    int result = sb_io_buffer_group_create(self->io, SB_NET_RECV_GROUP, SB_NET_RECV_BUFFERS,
                                           SB_NET_RECV_BUFFER_BYTES);
    if (result == 0) {
        result = broker_listen(self, (uint16_t)(config->listen_port + 1 + self->id),
                               &self->listen_fd);
    }
    if (result != 0) {
        return result;
    }
    broker_arm_accept(self, &self->accept_op, self->listen_fd);
    return 0;
}

/* Shard 0, first iteration: every shard started and listens on its own port, so the main
 * port opens now. If it cannot, the broker stops and exits with the error. */
static void
broker_open_main_port(struct broker_shard *self)
{
    struct broker *broker = self->broker;
    const struct sb_broker_config *config = &broker->config;
    self->main_port_opened = true;
    int result = broker_listen(self, config->listen_port, &self->main_listen_fd);
    if (result != 0) {
        broker->main_port_result = result;
        sb_runtime_stop(broker->runtime);
        return;
    }
    broker_arm_accept(self, &self->main_accept_op, self->main_listen_fd);
    sb_log_info("listening", "host=%s port=%u shard_ports=%u-%u", config->listen_host,
                config->listen_port, config->listen_port + 1,
                config->listen_port + sb_shard_count(self->shard));
    sb_log_info("streambus ready", "shards=%u data_dir=%s startup_ms=%llu",
                sb_shard_count(self->shard), config->data_dir,
                (unsigned long long)((sb_clock_monotonic_ns() - broker->started_ns) /
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
        result = sb_bufpool_init(&self->buffers, config->request_memory_bytes,
                                 config->max_frame_bytes + SB_FRAME_HEADER_BYTES);
    }
    if (result == 0) {
        uint64_t conns = (uint64_t)config->max_connections + SB_NET_REFUSED_CONNECTIONS_MAX;
        result = sb_pool_init(&self->conns, arena, sizeof(struct conn), 64,
                              (uint32_t)sb_min_u64(conns, UINT32_MAX));
    }
    if (result == 0) {
        result = sb_pool_init(&self->requests, arena, sizeof(struct request), 64,
                              SB_NET_REQUESTS_MAX);
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
    self->listen_fd = -1;
    self->main_listen_fd = -1;
    sb_shard_set_user(shard, self);
    int result = broker_allocate(self);
    if (result == 0) {
        result = broker_open_store(self);
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
        conn_adopt(self, fd, true);
    }
}

static void
broker_accept_done(struct sb_io_op *op)
{
    struct broker_shard *self = op->context;
    bool main_port = op == &self->main_accept_op;
    if (op->result >= 0) {
        if (self->stopping) {
            close(op->result);
        } else if (main_port) {
            broker_hand_off(self, op->result);
        } else {
            conn_adopt(self, op->result, false);
        }
    } else if (op->result != -ECANCELED) {
        sb_log_warn("accept failed", "error=\"%s\"", sb_strerror(op->result));
    }
    if (!op->more && !self->stopping) {
        broker_arm_accept(self, op, main_port ? self->main_listen_fd : self->listen_fd);
    }
}

void
broker_conn_ended(struct broker_shard *self, uint32_t shard)
{
    if (self->id != 0) {
        self->closed_unsent++;
        if (!broker_report_closed(self)) {
            broker_outgoing_arm(self);
        }
        return;
    }
    SB_ASSERT(self->shard_conn_counts[shard] > 0);
    self->shard_conn_counts[shard]--;
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
        conn_adopt(self, (int)message->arguments[0], true);
        break;
    case MSG_CONN_CLOSED:
        broker_conns_ended(self, (uint32_t)message->arguments[0], message->arguments[1]);
        break;
    case MSG_WORK:
        work_execute(self, message->payload);
        break;
    case MSG_WORK_DONE:
        request_work_done(message->payload);
        break;
    case MSG_WORK_CANCEL:
        work_cancel(self, message->payload);
        break;
    case MSG_WORK_RELEASED:
        request_work_released(message->payload);
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
broker_cancel_done(struct sb_io_op *op)
{
    (void)op; /* The accept itself completes with -ECANCELED and is not re-armed. */
}

static void
broker_stop(struct sb_shard *shard)
{
    struct broker_shard *self = broker_shard_of(shard);
    self->stopping = true;
    sb_log_info("stopping: no new connections; finishing requests", "connections=%u",
                self->conn_count);
    struct sb_io_op *accepts[2] = {&self->accept_op, &self->main_accept_op};
    for (uint32_t index = 0; index < 2; index++) {
        if (accepts[index]->state != SB_IO_OP_IDLE) {
            sb_io_cancel(self->io, &self->accept_cancel_ops[index], accepts[index],
                         broker_cancel_done, self);
        }
    }
    work_cancel_parked(self);
    conn_close_all(self);
}

static bool
broker_drained(struct sb_shard *shard)
{
    struct broker_shard *self = broker_shard_of(shard);
    if (self == NULL) {
        return true;
    }
    if (self->conn_count != 0 || self->refused_count != 0 || self->requests_in_flight != 0 ||
        self->works_in_flight != 0 || self->outgoing_count != 0 || self->closed_unsent != 0 ||
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
    work_produce_resume(self);
    conn_resume_all(self);
    /* Last: the appends of requests resumed above start their commit in this iteration,
     * rather than after the shard's next sleep. */
    sb_store_iteration_end(self->store);
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
    if (self->listen_fd >= 0) {
        sb_io_close(self->io, self->listen_fd);
    }
    if (self->main_listen_fd >= 0) {
        sb_io_close(self->io, self->main_listen_fd);
    }
    if (self->admin != NULL) {
        admin_deinit(self);
    }
    sb_bufpool_deinit(&self->buffers);
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
    int result = sb_metadata_load(&broker->metadata, config->data_dir);
    if (result == -ENOENT && broker_metadata_lost(config->data_dir)) {
        return SB_ECORRUPT;
    }
    if (result == -ENOENT) {
        broker->metadata.shard_count = config->cores != 0 ? config->cores
                                                          : sb_runtime_cpus_allowed();
        sb_log_info("new data directory", "path=%s shards=%u", config->data_dir,
                    broker->metadata.shard_count);
        return sb_metadata_save(&broker->metadata, config->data_dir);
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
    return 0;
}

static int
broker_serve(struct broker *broker)
{
    struct sb_runtime_config runtime_config = {
        .shard_count = broker->metadata.shard_count,
        .backend = SB_IO_BACKEND_URING,
        .doorbell = broker->config.doorbell,
        .pin_threads = true,
        .arena_bytes = 64ull << 20,
        .shutdown_timeout_ns = 30 * SB_NS_PER_S,
        .hooks = {.start = broker_start, .stop = broker_stop, .drained = broker_drained,
                  .message = broker_message, .iteration_end = broker_iteration_end,
                  .finish = broker_finish, .context = broker},
    };
    int result = sb_runtime_create(&runtime_config, &broker->runtime);
    if (result != 0) {
        return result;
    }
    result = sb_runtime_start(broker->runtime);
    if (result == 0) {
        result = sb_runtime_wait_for_signal(broker->runtime);
    }
    sb_runtime_destroy(broker->runtime);
    return result != 0 ? result : broker->main_port_result;
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

int
sb_broker_run(const struct sb_broker_config *config)
{
    struct broker *broker = sb_alloc(sizeof(*broker));
    if (broker == NULL) {
        return -ENOMEM;
    }
    broker->config = *config;
    broker->started_ns = sb_clock_monotonic_ns();
    broker->main_port_result = 0;
    sb_log_set_level(config->log_level);
    broker_raise_file_limit();
    int result = sb_metadata_init(&broker->metadata);
    if (result == 0) {
        result = broker_prepare_data(broker);
    }
    if (result == 0) {
        result = broker_fit_memory(broker);
    }
    if (result == 0) {
        result = broker_serve(broker);
    }
    sb_metadata_deinit(&broker->metadata);
    sb_free(broker);
    if (result == 0) {
        sb_log_info("stopped cleanly", "%s", "");
    }
    return result;
}
