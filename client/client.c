/*
 * client/client.c - the client object and its I/O thread (sb_client_*).
 *
 * The I/O thread runs client_io_main, a loop of:
 *   client_run_once   (mutex held) timers, metadata, admin, producers, consumers
 *   client_callbacks  delivery callbacks, each with the mutex released
 *   poll()            mutex released; the eventfd wakes it for new work
 *   conn_poll_handle  (mutex held) connect completions, reads, writes
 *   client_callbacks  again at once when answers completed records
 * The loop is the only unbounded loop of the library; every sleep is bounded
 * by CLIENT_POLL_SLEEP_MS_MAX, so a missed timer costs at most that much.
 *
 * API threads take the mutex, change state, and call client_wake when the
 * I/O thread has something new to do; they block in client_wait (condition
 * variable on CLOCK_MONOTONIC) with a deadline. A producer with linger.ms 0
 * writes a lone batch to an idle connection itself (produce_send_now): no
 * wake-up, the I/O thread's poll() sees the answer.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "client/client_private.h"

static void *client_io_main(void *argument);

uint64_t
client_now_ns(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
}

uint64_t
client_deadline_ns(int timeout_ms)
{
    if (timeout_ms < 0) {
        return UINT64_MAX / 2;
    }
    return client_now_ns() + (uint64_t)timeout_ms * 1000000ull;
}

/* Parses "host:port" or "[v6]:port" into host and port; returns 0 or -EINVAL. */
static int
client_parse_server(const char *text, size_t length, char *host, uint16_t *port)
{
    const char *colon = NULL;
    for (size_t index = length; index > 0; index--) {
        if (text[index - 1] == ':') {
            colon = text + index - 1;
            break;
        }
    }
    if (colon == NULL || colon == text || (size_t)(colon - text) >= CLIENT_HOST_BYTES) {
        return -EINVAL;
    }
    const char *host_start = text;
    size_t host_length = (size_t)(colon - text);
    if (host_start[0] == '[' && host_length >= 2 && host_start[host_length - 1] == ']') {
        host_start++;
        host_length -= 2;
    }
    char digits[8];
    size_t digit_count = length - (size_t)(colon + 1 - text);
    if (digit_count == 0 || digit_count >= sizeof(digits) || host_length == 0) {
        return -EINVAL;
    }
    memcpy(digits, colon + 1, digit_count);
    digits[digit_count] = '\0';
    char *end = NULL;
    long number = strtol(digits, &end, 10);
    if (*end != '\0' || number <= 0 || number > 65535) {
        return -EINVAL;
    }
    memcpy(host, host_start, host_length);
    host[host_length] = '\0';
    *port = (uint16_t)number;
    return 0;
}

static int
client_parse_bootstrap(struct sb_client *client)
{
    const char *cursor = client->config.bootstrap_servers;
    while (*cursor != '\0') {
        size_t length = strcspn(cursor, ",");
        while (length > 0 && *cursor == ' ') {
            cursor++;
            length--;
        }
        if (length > 0) {
            uint32_t index = client->bootstrap_count;
            if (index == CLIENT_BOOTSTRAP_SERVERS_MAX ||
                client_parse_server(cursor, length, client->bootstrap_hosts[index],
                                    &client->bootstrap_ports[index]) != 0) {
                client_detail_set("bad bootstrap.servers entry \"%.*s\"", (int)length, cursor);
                return SB_ERR_CONFIG;
            }
            client->bootstrap_count++;
        }
        cursor += length + (cursor[length] == ',');
    }
    if (client->bootstrap_count == 0) {
        client_detail_set("bootstrap.servers is empty");
        return SB_ERR_CONFIG;
    }
    return 0;
}

/* Allocates and initializes everything but the thread and the eventfd. */
static int
client_create(const struct sb_client_config *config, struct sb_client **client_out)
{
    client_detail_clear();
    struct sb_client *client = calloc(1, sizeof(*client));
    if (client == NULL) {
        return -ENOMEM;
    }
    if (config != NULL) {
        client->config = *config;
    } else {
        client_config_defaults(&client->config);
    }
    int result = client_config_validate(&client->config);
    result = result == 0 ? client_parse_bootstrap(client) : result;
    if (result != 0) {
        free(client);
        return result;
    }
    pthread_condattr_t attributes;
    pthread_condattr_init(&attributes);
    pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC);
    pthread_cond_init(&client->cond, &attributes);
    pthread_condattr_destroy(&attributes);
    pthread_mutex_init(&client->mutex, NULL);
    client->wake_fd = -1;
    client->next_owner_id = 1;
    client->random_state = client_now_ns() ^ ((uint64_t)(uintptr_t)client << 17) ^ 0x9E3779B9u;
    *client_out = client;
    return 0;
}

int
client_open_offline(const struct sb_client_config *config, struct sb_client **client_out)
{
    return client_create(config, client_out);
}

int
sb_client_open(const struct sb_client_config *config, struct sb_client **client_out)
{
    if (client_out == NULL) {
        return -EINVAL;
    }
    struct sb_client *client;
    int result = client_create(config, &client);
    if (result != 0) {
        return result;
    }
    client->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (client->wake_fd < 0) {
        result = -errno;
        goto out_free;
    }
    /* The I/O thread takes no signals: the application's handlers run on its threads. */
    sigset_t all;
    sigset_t previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    result = -pthread_create(&client->io_thread, NULL, client_io_main, client);
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    if (result != 0) {
        goto out_close_fd;
    }
    client->io_thread_started = true;
    client_log(client, SB_CLIENT_LOG_INFO, "client started, bootstrap %s",
               client->config.bootstrap_servers);
    *client_out = client;
    return 0;
out_close_fd:
    close(client->wake_fd);
out_free:
    pthread_mutex_destroy(&client->mutex);
    pthread_cond_destroy(&client->cond);
    free(client);
    return result;
}

/* Frees what the thread no longer uses: connections (failing their requests), metadata,
 * queued admin jobs and delivery reports. */
static void
client_free(struct sb_client *client)
{
    pthread_mutex_lock(&client->mutex);
    conn_free_released(client, true);
    for (struct admin_job *job = client->admin_queue; job != NULL;) {
        struct admin_job *next = job->next;
        job->next = NULL;
        admin_done(client, &job->request, SB_ERR_SHUTDOWN, NULL, 0);
        job = next;
    }
    client->admin_queue = NULL;
    /* Finished async commits left only by a client without an I/O thread (which runs every
     * callback before it exits): their consumers are gone, so no callback. */
    while (client->group_done_head != NULL) {
        struct group_op *op = client->group_done_head;
        client->group_done_head = op->next;
        group_op_free(op);
    }
    metadata_free(client);
    free(client->deliveries.entries);
    pthread_mutex_unlock(&client->mutex);
    if (client->wake_fd >= 0) {
        close(client->wake_fd);
    }
    pthread_mutex_destroy(&client->mutex);
    pthread_cond_destroy(&client->cond);
    free(client);
}

void
sb_client_close(struct sb_client *client)
{
    if (client == NULL || client_on_io_thread(client)) {
        return;
    }
    pthread_mutex_lock(&client->mutex);
    while (client->producers != NULL) {
        struct sb_producer *producer = client->producers;
        pthread_mutex_unlock(&client->mutex);
        sb_producer_close(producer, 0);
        pthread_mutex_lock(&client->mutex);
    }
    while (client->consumers != NULL) {
        struct sb_consumer *consumer = client->consumers;
        pthread_mutex_unlock(&client->mutex);
        sb_consumer_close(consumer);
        pthread_mutex_lock(&client->mutex);
    }
    client->stopping = true;
    client_wake(client);
    pthread_mutex_unlock(&client->mutex);
    if (client->io_thread_started) {
        pthread_join(client->io_thread, NULL);
    }
    client_free(client);
}

int
sb_client_partition_count(struct sb_client *client, const char *topic, int timeout_ms)
{
    client_detail_clear();
    if (client == NULL || topic == NULL || topic[0] == '\0') {
        return -EINVAL;
    }
    if (!metadata_name_valid(topic)) {
        return SB_ERR_INVALID_TOPIC;
    }
    uint64_t deadline_ns = client_deadline_ns(timeout_ms);
    pthread_mutex_lock(&client->mutex);
    struct client_topic *entry = metadata_topic(client, topic);
    int result = entry == NULL ? -ENOMEM : 0;
    if (result == 0 && (entry->answers == 0 || entry->error != 0)) {
        result = client_on_io_thread(client) ? -EDEADLK
                                             : metadata_wait(client, entry, deadline_ns);
    }
    if (result == 0) {
        result = entry->error != 0 ? entry->error : (int)entry->partition_count;
    }
    pthread_mutex_unlock(&client->mutex);
    return result;
}

void
client_wake(struct sb_client *client)
{
    if (client->wake_pending || client->wake_fd < 0) {
        return;
    }
    client->wake_pending = true;
    uint64_t one = 1;
    ssize_t written = write(client->wake_fd, &one, sizeof(one));
    (void)written; /* EAGAIN means the counter is already nonzero: awake anyway. */
}

void
client_schedule(struct sb_client *client, uint64_t at_ns)
{
    if (at_ns < client->next_wakeup_ns) {
        client->next_wakeup_ns = at_ns;
    }
}

int
client_wait(struct sb_client *client, uint64_t deadline_ns)
{
    uint64_t now_ns = client_now_ns();
    if (now_ns >= deadline_ns) {
        return -ETIMEDOUT;
    }
    /* Wait in slices so a deadline far in the future never overflows timespec. */
    uint64_t until_ns = deadline_ns - now_ns > 1000000000ull ? now_ns + 1000000000ull
                                                              : deadline_ns;
    struct timespec until = {.tv_sec = (time_t)(until_ns / 1000000000ull),
                             .tv_nsec = (long)(until_ns % 1000000000ull)};
    pthread_cond_timedwait(&client->cond, &client->mutex, &until);
    return client_now_ns() >= deadline_ns ? -ETIMEDOUT : 0;
}

int
client_wait_error(const struct sb_client *client, uint64_t failures)
{
    if (client->bootstrap_failures == failures || client->bootstrap_error == 0) {
        return -ETIMEDOUT;
    }
    return client->bootstrap_error;
}

bool
client_on_io_thread(const struct sb_client *client)
{
    return client->io_thread_started && pthread_equal(pthread_self(), client->io_thread);
}

uint64_t
client_backoff_ns(struct sb_client *client, uint32_t attempt, uint32_t base_ms, uint32_t max_ms)
{
    uint64_t backoff_ms = base_ms;
    for (uint32_t step = 1; step < attempt && backoff_ms < max_ms; step++) {
        backoff_ms *= 2;
    }
    backoff_ms = backoff_ms > max_ms ? max_ms : backoff_ms;
    /* xorshift64: cheap jitter, so clients that failed together do not retry together. */
    uint64_t x = client->random_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    client->random_state = x;
    uint64_t whole_ns = backoff_ms * 1000000ull;
    return whole_ns / 2 + x % (whole_ns / 2 + 1);
}

int
client_delivery_push(struct sb_client *client, const struct client_delivery *delivery)
{
    struct client_delivery_queue *queue = &client->deliveries;
    if (queue->count == queue->capacity) {
        size_t capacity = queue->capacity == 0 ? 64 : queue->capacity * 2;
        struct client_delivery *entries = calloc(capacity, sizeof(*entries));
        if (entries == NULL) {
            return -ENOMEM;
        }
        for (size_t index = 0; index < queue->count; index++) {
            entries[index] = queue->entries[(queue->head + index) % queue->capacity];
        }
        free(queue->entries);
        queue->entries = entries;
        queue->capacity = capacity;
        queue->head = 0;
    }
    queue->entries[(queue->head + queue->count) % queue->capacity] = *delivery;
    queue->count++;
    return 0;
}

void
client_log(const struct sb_client *client, int level, const char *format, ...)
{
    if (client->config.log == NULL || level < client->config.log_level) {
        return;
    }
    char line[1024];
    int used = snprintf(line, sizeof(line), "streambus client %s: ", client->config.client_id);
    used = used < 0 ? 0 : used >= (int)sizeof(line) ? (int)sizeof(line) - 1 : used;
    va_list args;
    va_start(args, format);
    vsnprintf(line + used, sizeof(line) - (size_t)used, format, args);
    va_end(args);
    client->config.log(client->config.log_opaque, level, line);
}

/* Runs every producer. The producers of a client share each connection's max.in.flight
 * Produce requests, and the first to run takes a slot that freed: those that sent a request
 * move behind those that did not (in order), so a producer with a sealed batch runs first
 * once a slot frees, however busy the others are (without it, a producer that always had a
 * batch ready starved the rest until it stopped). O(producers), like the walk itself. */
static void
client_run_producers(struct sb_client *client, uint64_t now_ns)
{
    struct sb_producer *waited = NULL;
    struct sb_producer **waited_tail = &waited;
    struct sb_producer *served = NULL;
    struct sb_producer **served_tail = &served;
    struct sb_producer *producer = client->producers;
    /* Bounded: each producer once; produce_run neither opens nor closes producers. */
    while (producer != NULL) {
        struct sb_producer *next = producer->next;
        uint64_t sent_before = producer->requests_sent;
        produce_run(client, producer, now_ns);
        producer->next = NULL;
        if (producer->requests_sent != sent_before) {
            *served_tail = producer;
            served_tail = &producer->next;
        } else {
            *waited_tail = producer;
            waited_tail = &producer->next;
        }
        producer = next;
    }
    *waited_tail = served;
    client->producers = waited;
}

void
client_run_once(struct sb_client *client)
{
    uint64_t now_ns = client_now_ns();
    client->next_wakeup_ns = now_ns + CLIENT_POLL_SLEEP_MS_MAX * 1000000ull;
    conn_free_released(client, false);
    conn_timers(client, now_ns);
    metadata_run(client, now_ns);
    admin_run(client);
    client_run_producers(client, now_ns);
    for (struct sb_consumer *consumer = client->consumers; consumer != NULL;
         consumer = consumer->next) {
        fetch_run(client, consumer, now_ns);
        group_run(client, consumer, now_ns);
    }
}

/* Runs queued delivery callbacks with the mutex released: up to
 * CLIENT_CALLBACKS_PER_UNLOCK_MAX of them are copied out and run under one release, so the
 * mutex is not taken again (and other threads are not woken to contend for it) per record.
 * A producer's pending count drops only after its callbacks returned, so it cannot be freed
 * while one runs. Returns how many ran. */
static uint32_t
client_callbacks(struct sb_client *client)
{
    struct client_delivery_queue *queue = &client->deliveries;
    struct client_delivery taken[CLIENT_CALLBACKS_PER_UNLOCK_MAX];
    uint32_t ran = 0;
    client->in_callbacks = true;
    /* Bounded: each round runs at least one callback, CLIENT_CALLBACKS_PER_ROUND_MAX in all. */
    while (queue->count > 0 && ran < CLIENT_CALLBACKS_PER_ROUND_MAX) {
        uint32_t count = 0;
        while (queue->count > 0 && count < CLIENT_CALLBACKS_PER_UNLOCK_MAX &&
               ran + count < CLIENT_CALLBACKS_PER_ROUND_MAX) {
            taken[count++] = queue->entries[queue->head];
            queue->head = (queue->head + 1) % queue->capacity;
            queue->count--;
        }
        pthread_mutex_unlock(&client->mutex);
        for (uint32_t index = 0; index < count; index++) {
            if (taken[index].callback != NULL) {
                taken[index].callback(&taken[index].delivery, taken[index].opaque);
            }
        }
        pthread_mutex_lock(&client->mutex);
        for (uint32_t index = 0; index < count; index++) {
            CLIENT_ASSERT(taken[index].producer->pending_records > 0);
            taken[index].producer->pending_records--;
        }
        client->callback_unlocks++;
        ran += count;
    }
    client->in_callbacks = false;
    if (ran > 0) {
        pthread_cond_broadcast(&client->cond);
    }
    return ran;
}

static void
client_drain_wake(struct sb_client *client)
{
    uint64_t count;
    ssize_t got = read(client->wake_fd, &count, sizeof(count));
    (void)got;
    client->wake_pending = false;
}

/* One poll() over the wake-up eventfd and every connection, then their events. */
static void
client_poll(struct sb_client *client)
{
    struct pollfd *fds = client->poll_fds;
    struct client_conn **conns = client->poll_conns;
    fds[0] = (struct pollfd){.fd = client->wake_fd, .events = POLLIN};
    uint32_t count = 1 + conn_poll_fill(client, fds + 1, conns + 1, CLIENT_POLL_FDS_MAX - 1);
    uint64_t now_ns = client_now_ns();
    int timeout_ms = 0;
    if (client->next_wakeup_ns > now_ns) {
        uint64_t wait_ms = (client->next_wakeup_ns - now_ns + 999999ull) / 1000000ull;
        timeout_ms = (int)(wait_ms > CLIENT_POLL_SLEEP_MS_MAX ? CLIENT_POLL_SLEEP_MS_MAX
                                                               : wait_ms);
    }
    pthread_mutex_unlock(&client->mutex);
    int ready = poll(fds, count, timeout_ms);
    pthread_mutex_lock(&client->mutex);
    if (ready <= 0) {
        return;
    }
    if (fds[0].revents != 0) {
        client_drain_wake(client);
    }
    for (uint32_t index = 1; index < count; index++) {
        /* A connection released while we slept is not freed before the next iteration. */
        if (fds[index].revents != 0 && !conns[index]->released &&
            conns[index]->fd == fds[index].fd) {
            conn_poll_handle(client, conns[index], fds[index].revents);
        }
    }
}

static void *
client_io_main(void *argument)
{
    struct sb_client *client = argument;
    pthread_mutex_lock(&client->mutex);
    while (!client->stopping) {
        client_run_once(client);
        if (client->deliveries.count > 0) {
            client_callbacks(client);
            continue;
        }
        if (group_callbacks(client) > 0) {
            continue;
        }
        client_poll(client);
        if (client->deliveries.count > 0) {
            client_callbacks(client); /* Answers first: the rest of the round can wait. */
        }
    }
    /* Reports queued while stopping still reach their callbacks. */
    while (client->deliveries.count > 0 || client->group_done_head != NULL) {
        client_callbacks(client);
        group_callbacks(client);
    }
    pthread_mutex_unlock(&client->mutex);
    return NULL;
}
