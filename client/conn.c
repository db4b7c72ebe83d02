/*
 * client/conn.c - one TCP connection to one broker port: non-blocking
 * connect, the ApiVersions handshake, pipelined requests matched to their
 * responses in order, reconnect with jittered exponential backoff, request
 * deadlines and health checks on idle connections. State diagram: struct
 * client_conn in client_private.h.
 *
 * Invariants: every request in the in-flight FIFO gets exactly one call of
 * its done handler (response, frame-level error or conn_fail); responses
 * must arrive in FIFO order with the expected correlation id and API, else
 * the connection is closed (docs/protocol.md "Connection rules": a frame the
 * client cannot decode closes the connection and fails its requests as
 * retriable). A conn is never freed while the I/O loop may hold it.
 *
 * Received bytes are untrusted: frame sizes are checked against
 * receive.frame.bytes.max before any body is awaited, CRCs are verified, and
 * nothing here asserts on them.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client/client_private.h"
#include "proto/api_fetch.h"
#include "proto/api_meta.h"

/* Default request limit until the broker's ApiVersions answer says otherwise. */
#define CONN_FRAME_BYTES_DEFAULT (16u << 20)

/* The one version of each API this client speaks (every request it sends carries it); a
 * broker must support each of the APIs in CONN_API_REQUIRED. */
static const uint16_t conn_api_versions[SB_API_COUNT] = {
    [SB_API_FETCH] = SB_FETCH_VERSION_MAX, /* 1: the reader's topic id. */
};
/* The APIs this client sends today: keys 0 .. Health (the consumer group APIs, 12 on, are not
 * used yet). */
#define CONN_API_REQUIRED ((1u << (SB_API_HEALTH + 1)) - 1)

static void conn_handshake_done(struct sb_client *client, struct client_request *request,
                                int error, const uint8_t *body, size_t body_bytes);
static void conn_health_done(struct sb_client *client, struct client_request *request,
                             int error, const uint8_t *body, size_t body_bytes);

void
client_buffer_free(struct client_buffer *buffer)
{
    free(buffer->bytes);
    *buffer = (struct client_buffer){0};
}

int
client_buffer_reserve(struct client_buffer *buffer, size_t extra)
{
    if (buffer->start + buffer->length + extra <= buffer->capacity) {
        return 0;
    }
    if (buffer->start > 0) {
        memmove(buffer->bytes, buffer->bytes + buffer->start, buffer->length);
        buffer->start = 0;
        if (buffer->length + extra <= buffer->capacity) {
            return 0;
        }
    }
    size_t capacity = buffer->capacity < CLIENT_BUFFER_BYTES_MIN ? CLIENT_BUFFER_BYTES_MIN
                                                                 : buffer->capacity;
    while (capacity < buffer->length + extra) {
        capacity *= 2;
    }
    uint8_t *bytes = realloc(buffer->bytes, capacity);
    if (bytes == NULL) {
        return -ENOMEM;
    }
    buffer->bytes = bytes;
    buffer->capacity = capacity;
    return 0;
}

/* Drops consumed bytes and gives back a large allocation once it is empty. */
static void
client_buffer_compact(struct client_buffer *buffer)
{
    if (buffer->length == 0) {
        buffer->start = 0;
        if (buffer->capacity > CLIENT_BUFFER_KEEP_BYTES) {
            client_buffer_free(buffer);
        }
    }
}

struct client_conn *
conn_get(struct sb_client *client, const char *host, uint16_t port, uint32_t owner_id)
{
    for (struct client_conn *conn = client->conns; conn != NULL; conn = conn->next) {
        if (!conn->released && conn->port == port && conn->owner_id == owner_id &&
            strcmp(conn->host, host) == 0) {
            return conn;
        }
    }
    if (client->conn_count >= CLIENT_POLL_FDS_MAX - 1 || strlen(host) >= CLIENT_HOST_BYTES) {
        return NULL;
    }
    struct client_conn *conn = calloc(1, sizeof(*conn));
    if (conn == NULL) {
        return NULL;
    }
    memcpy(conn->host, host, strlen(host) + 1);
    conn->port = port;
    conn->owner_id = owner_id;
    conn->fd = -1;
    conn->state = CONN_IDLE;
    conn->next_correlation_id = 1;
    conn->frame_bytes_max = CONN_FRAME_BYTES_DEFAULT;
    conn->next = client->conns;
    client->conns = conn;
    client->conn_count++;
    return conn;
}

static int
conn_encode_api_versions(struct sb_wire_writer *writer, const void *body)
{
    (void)body;
    return sb_api_versions_request_encode(writer);
}

static int
conn_encode_health(struct sb_wire_writer *writer, const void *body)
{
    (void)body;
    return sb_health_request_encode(writer);
}

void
conn_handshake_start(struct sb_client *client, struct client_conn *conn)
{
    conn->state = CONN_HANDSHAKE;
    conn->last_receive_ns = client_now_ns();
    conn->handshake = (struct client_request){.done = conn_handshake_done};
    int result = conn_send(client, conn, SB_API_API_VERSIONS, 0, conn_encode_api_versions, NULL,
                           &conn->handshake, client->config.request_timeout_ms);
    if (result != 0) {
        conn_fail(client, conn, result);
    }
}

/* Resolves host:port (numeric hosts never touch the network) and starts a connect. */
static int
conn_open_socket(struct client_conn *conn)
{
    char service[8];
    snprintf(service, sizeof(service), "%u", conn->port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV};
    struct addrinfo *found = NULL;
    int resolved = getaddrinfo(conn->host, service, &hints, &found);
    if (resolved != 0 || found == NULL) {
        return resolved == EAI_SYSTEM ? -errno : -EHOSTUNREACH;
    }
    int fd = socket(found->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int result = fd < 0 ? -errno : 0;
    if (result == 0) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (connect(fd, found->ai_addr, found->ai_addrlen) != 0 && errno != EINPROGRESS) {
            result = -errno;
            close(fd);
        }
    }
    freeaddrinfo(found);
    if (result == 0) {
        conn->fd = fd;
    }
    return result;
}

static void
conn_connect(struct sb_client *client, struct client_conn *conn)
{
    int result = conn_open_socket(conn);
    if (result != 0) {
        conn->state = CONN_CONNECTING; /* So conn_fail counts a failed attempt. */
        conn_fail(client, conn, result);
        return;
    }
    client_log(client, SB_CLIENT_LOG_DEBUG, "connecting to %s:%u", conn->host, conn->port);
    conn->state = CONN_CONNECTING;
    /* While connecting, retry_at_ns is the connect deadline. */
    conn->retry_at_ns = client_now_ns() + client->config.request_timeout_ms * 1000000ull;
    client_schedule(client, conn->retry_at_ns);
}

bool
conn_want(struct sb_client *client, struct client_conn *conn)
{
    if (conn->released) {
        return false;
    }
    if (conn->state == CONN_BACKOFF) {
        if (client_now_ns() < conn->retry_at_ns) {
            client_schedule(client, conn->retry_at_ns);
            return false;
        }
        conn->state = CONN_IDLE;
    }
    if (conn->state == CONN_IDLE) {
        conn_connect(client, conn);
    }
    return conn->state == CONN_READY;
}

bool
conn_ready(const struct client_conn *conn)
{
    return conn->state == CONN_READY && !conn->released;
}

/* Encodes one frame at the end of conn->out; returns its size or a negative error. */
static int
conn_encode(struct client_conn *conn, const struct sb_frame_header *header,
            int (*encode)(struct sb_wire_writer *writer, const void *body), const void *body)
{
    /* First try the room the buffer already has (it keeps up to CLIENT_BUFFER_KEEP_BYTES),
     * then double. */
    size_t free_bytes = conn->out.capacity - conn->out.start - conn->out.length;
    size_t want = free_bytes > CLIENT_ENCODE_BYTES_MIN ? free_bytes : CLIENT_ENCODE_BYTES_MIN;
    uint64_t limit = (uint64_t)conn->frame_bytes_max + SB_FRAME_PREFIX_BYTES;
    for (;;) {
        if (client_buffer_reserve(&conn->out, want) != 0) {
            return -ENOMEM;
        }
        struct client_buffer *out = &conn->out;
        size_t used = out->start + out->length;
        struct sb_wire_writer writer;
        sb_wire_writer_init(&writer, out->bytes + used, out->capacity - used);
        int result = sb_frame_begin(&writer, header);
        result = result == 0 ? encode(&writer, body) : result;
        result = result == 0 ? sb_frame_finish(&writer) : result;
        if (result == 0) {
            size_t written = sb_wire_writer_length(&writer);
            return written > limit ? -EMSGSIZE : (int)written;
        }
        if (result != -ENOSPC) {
            return result;
        }
        if (out->capacity - used >= limit) {
            return -EMSGSIZE; /* Larger than the broker would accept anyway. */
        }
        want = (out->capacity - used) * 2;
    }
}

int
conn_send(struct sb_client *client, struct client_conn *conn, uint16_t api_key, uint16_t flags,
          int (*encode)(struct sb_wire_writer *writer, const void *body), const void *body,
          struct client_request *request, uint32_t timeout_ms)
{
    CLIENT_ASSERT(encode != NULL);
    CLIENT_ASSERT(request == NULL || request->done != NULL);
    bool handshake = request == &conn->handshake && conn->state == CONN_HANDSHAKE;
    if (conn->fd < 0 || conn->released || (conn->state != CONN_READY && !handshake)) {
        return -ENOTCONN;
    }
    CLIENT_ASSERT(api_key < SB_API_COUNT);
    struct sb_frame_header header = {.api_key = api_key,
                                     .api_version = conn_api_versions[api_key], .flags = flags,
                                     .correlation_id = conn->next_correlation_id};
    int written = conn_encode(conn, &header, encode, body);
    if (written < 0) {
        return written;
    }
    conn->next_correlation_id++;
    conn->out.length += (size_t)written;
    if (request != NULL && (flags & SB_FRAME_FLAG_NO_RESPONSE) == 0) {
        request->next = NULL;
        request->correlation_id = header.correlation_id;
        request->api_key = api_key;
        request->deadline_ns = client_now_ns() + (uint64_t)timeout_ms * 1000000ull;
        if (conn->inflight_tail != NULL) {
            conn->inflight_tail->next = request;
        } else {
            conn->inflight_head = request;
        }
        conn->inflight_tail = request;
        conn->inflight_count++;
        conn->produce_inflight += request->counts_as_produce;
    }
    return 0;
}

void
conn_fail(struct sb_client *client, struct client_conn *conn, int error)
{
    bool established = conn->state == CONN_READY;
    if (conn->fd >= 0) {
        close(conn->fd);
        conn->fd = -1;
    }
    if (conn->state != CONN_IDLE || conn->inflight_head != NULL) {
        client_log(client, established ? SB_CLIENT_LOG_WARN : SB_CLIENT_LOG_DEBUG,
                   "connection to %s:%u failed: %s", conn->host, conn->port,
                   sb_client_strerror(error));
    }
    conn->state = CONN_BACKOFF;
    conn->failures = established ? 1 : conn->failures + 1;
    conn->last_error = error;
    conn->retry_at_ns = client_now_ns() +
                        client_backoff_ns(client, conn->failures,
                                          client->config.reconnect_backoff_ms,
                                          client->config.reconnect_backoff_max_ms);
    conn->out.start = conn->out.length = 0;
    conn->in.start = conn->in.length = 0;
    conn->health_inflight = false;
    if (conn->bootstrap) {
        client->bootstrap_failures++;
        client->bootstrap_error = error;
    }
    struct client_request *request = conn->inflight_head;
    conn->inflight_head = conn->inflight_tail = NULL;
    conn->inflight_count = 0;
    conn->produce_inflight = 0;
    while (request != NULL) {
        struct client_request *next = request->next;
        request->next = NULL;
        request->done(client, request, error, NULL, 0);
        request = next;
    }
    pthread_cond_broadcast(&client->cond);
}

void
conn_release_owner(struct sb_client *client, uint32_t owner_id, int error)
{
    for (struct client_conn *conn = client->conns; conn != NULL; conn = conn->next) {
        if (conn->owner_id == owner_id && !conn->released) {
            conn_fail(client, conn, error);
            conn->released = true;
        }
    }
    client_wake(client);
}

void
conn_free_released(struct sb_client *client, bool all)
{
    struct client_conn **link = &client->conns;
    while (*link != NULL) {
        struct client_conn *conn = *link;
        if (!conn->released && !all) {
            link = &conn->next;
            continue;
        }
        if (conn->fd >= 0 || conn->inflight_head != NULL) {
            conn_fail(client, conn, SB_ERR_SHUTDOWN);
        }
        *link = conn->next;
        client->conn_count--;
        client_buffer_free(&conn->out);
        client_buffer_free(&conn->in);
        free(conn);
    }
}

void
conn_disown(struct sb_client *client, const void *owner)
{
    for (struct client_conn *conn = client->conns; conn != NULL; conn = conn->next) {
        for (struct client_request *request = conn->inflight_head; request != NULL;
             request = request->next) {
            if (request->owner == owner) {
                request->owner = NULL;
            }
        }
    }
}

uint32_t
conn_poll_fill(struct sb_client *client, struct pollfd *fds, struct client_conn **conns,
               uint32_t capacity)
{
    uint32_t count = 0;
    for (struct client_conn *conn = client->conns; conn != NULL && count < capacity;
         conn = conn->next) {
        if (conn->fd < 0 || conn->released) {
            continue;
        }
        short events = POLLIN;
        if (conn->state == CONN_CONNECTING || conn->out.length > 0) {
            events |= POLLOUT;
        }
        fds[count] = (struct pollfd){.fd = conn->fd, .events = events};
        conns[count] = conn;
        count++;
    }
    return count;
}

/* Pops the head request and hands it the frame. */
static void
conn_dispatch(struct sb_client *client, struct client_conn *conn, const struct sb_frame *frame)
{
    struct client_request *request = conn->inflight_head;
    const struct sb_frame_header *header = &frame->header;
    if (request == NULL || !sb_frame_header_is_response(header) ||
        header->correlation_id != request->correlation_id || header->api_key != request->api_key) {
        conn_fail(client, conn, SB_ERR_PROTOCOL);
        return;
    }
    CLIENT_ASSERT(conn->inflight_count > 0);
    conn->inflight_head = request->next;
    if (conn->inflight_head == NULL) {
        conn->inflight_tail = NULL;
    }
    conn->inflight_count--;
    conn->produce_inflight -= request->counts_as_produce;
    request->next = NULL;
    if (header->error_code != 0) {
        request->done(client, request, client_error_from_wire(header->error_code), NULL, 0);
    } else {
        request->done(client, request, 0, frame->body, frame->body_bytes);
    }
}

/* Parses and dispatches every whole frame in conn->in. */
static void
conn_parse(struct sb_client *client, struct client_conn *conn)
{
    while (conn->fd >= 0 && conn->in.length >= SB_FRAME_PREFIX_BYTES) {
        const uint8_t *bytes = conn->in.bytes + conn->in.start;
        struct sb_frame frame;
        int result = sb_frame_header_decode(bytes, conn->in.length,
                                            client->config.receive_frame_bytes_max,
                                            &frame.header);
        if (result == -EAGAIN) {
            size_t total = sb_frame_total_bytes(&frame.header);
            if (client_buffer_reserve(&conn->in, total - conn->in.length) != 0) {
                conn_fail(client, conn, -ENOMEM);
            }
            return;
        }
        result = result == 0 ? sb_frame_verify_crc(bytes, conn->in.length, &frame.header)
                             : result;
        if (result != 0) {
            conn_fail(client, conn, result == -EMSGSIZE ? -EMSGSIZE : SB_ERR_CORRUPT);
            return;
        }
        size_t total = sb_frame_total_bytes(&frame.header);
        frame.body = bytes + SB_FRAME_HEADER_BYTES;
        frame.body_bytes = frame.header.frame_bytes - SB_FRAME_BYTES_MIN;
        conn->last_receive_ns = client_now_ns();
        conn_dispatch(client, conn, &frame);
        if (conn->fd < 0) {
            return; /* A handler (or the dispatch) closed the connection. */
        }
        conn->in.start += total;
        conn->in.length -= total;
    }
    client_buffer_compact(&conn->in);
}

static void
conn_read(struct sb_client *client, struct client_conn *conn)
{
    for (uint32_t round = 0; round < CLIENT_RECEIVE_ROUNDS_MAX && conn->fd >= 0; round++) {
        if (client_buffer_reserve(&conn->in, CLIENT_RECEIVE_CHUNK_BYTES) != 0) {
            conn_fail(client, conn, -ENOMEM);
            return;
        }
        struct client_buffer *in = &conn->in;
        size_t used = in->start + in->length;
        ssize_t got = recv(conn->fd, in->bytes + used, in->capacity - used, 0);
        if (got == 0) {
            conn_fail(client, conn, -ECONNRESET);
            return;
        }
        if (got < 0) {
            if (errno != EAGAIN && errno != EINTR) {
                conn_fail(client, conn, -errno);
            }
            return;
        }
        in->length += (size_t)got;
        conn_parse(client, conn);
    }
}

void
conn_write(struct sb_client *client, struct client_conn *conn)
{
    while (conn->fd >= 0 && conn->out.length > 0) {
        ssize_t sent = send(conn->fd, conn->out.bytes + conn->out.start, conn->out.length,
                            MSG_NOSIGNAL);
        if (sent < 0) {
            if (errno != EAGAIN && errno != EINTR) {
                conn_fail(client, conn, -errno);
            }
            return;
        }
        conn->out.start += (size_t)sent;
        conn->out.length -= (size_t)sent;
    }
    client_buffer_compact(&conn->out);
}

void
conn_poll_handle(struct sb_client *client, struct client_conn *conn, short revents)
{
    if (conn->state == CONN_CONNECTING) {
        int error = 0;
        socklen_t length = sizeof(error);
        if (getsockopt(conn->fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) {
            error = errno;
        }
        if (error != 0) {
            conn_fail(client, conn, -error);
        } else if ((revents & (POLLOUT | POLLERR | POLLHUP)) != 0) {
            conn_handshake_start(client, conn);
        }
        return;
    }
    if ((revents & (POLLOUT | POLLERR | POLLHUP)) != 0) {
        conn_write(client, conn);
    }
    if (conn->fd >= 0 && (revents & (POLLIN | POLLERR | POLLHUP)) != 0) {
        conn_read(client, conn);
    }
}

/* Request deadlines, the connect deadline and idle health checks of one connection. */
static void
conn_timer(struct sb_client *client, struct client_conn *conn, uint64_t now_ns)
{
    if (conn->state == CONN_CONNECTING) {
        if (now_ns >= conn->retry_at_ns) {
            conn_fail(client, conn, -ETIMEDOUT);
        } else {
            client_schedule(client, conn->retry_at_ns);
        }
        return;
    }
    if (conn->inflight_head != NULL) {
        if (now_ns >= conn->inflight_head->deadline_ns) {
            conn_fail(client, conn, -ETIMEDOUT);
        } else {
            client_schedule(client, conn->inflight_head->deadline_ns);
        }
        return;
    }
    if (conn->state != CONN_READY) {
        return;
    }
    uint64_t due_ns = conn->last_receive_ns + client->config.health_interval_ms * 1000000ull;
    if (now_ns < due_ns) {
        client_schedule(client, due_ns);
        return;
    }
    conn->health = (struct client_request){.done = conn_health_done};
    if (conn_send(client, conn, SB_API_HEALTH, 0, conn_encode_health, NULL, &conn->health,
                  client->config.request_timeout_ms) == 0) {
        conn->health_inflight = true;
    }
}

void
conn_timers(struct sb_client *client, uint64_t now_ns)
{
    for (struct client_conn *conn = client->conns; conn != NULL; conn = conn->next) {
        if (!conn->released && conn->fd >= 0) {
            conn_timer(client, conn, now_ns);
        }
    }
}

int
conn_receive_bytes(struct sb_client *client, struct client_conn *conn, const uint8_t *bytes,
                   size_t length)
{
    if (conn->fd < 0) {
        return -ENOTCONN;
    }
    if (length == 0) {
        return 0;
    }
    if (client_buffer_reserve(&conn->in, length) != 0) {
        return -ENOMEM;
    }
    memcpy(conn->in.bytes + conn->in.start + conn->in.length, bytes, length);
    conn->in.length += length;
    conn_parse(client, conn);
    return conn->fd < 0 ? conn->last_error : 0;
}

/* Checks that the broker speaks our version of every API and learns its limits. */
static int
conn_apply_api_versions(struct sb_client *client, struct client_conn *conn,
                        const uint8_t *body, size_t body_bytes)
{
    struct sb_api_versions_response response;
    if (sb_api_versions_response_decode(body, body_bytes, &response) != 0) {
        return SB_ERR_CORRUPT;
    }
    uint32_t supported = 0;
    struct sb_api_version_range range;
    while (sb_api_versions_response_next_api(&response, &range) == 1) {
        if (range.api_key < SB_API_COUNT &&
            range.min_version <= conn_api_versions[range.api_key] &&
            range.max_version >= conn_api_versions[range.api_key]) {
            supported |= 1u << range.api_key;
        }
    }
    if ((supported & CONN_API_REQUIRED) != CONN_API_REQUIRED || response.frame_bytes_max < 1024 ||
        response.batch_bytes_max < 64) {
        return SB_ERR_PROTOCOL;
    }
    conn->frame_bytes_max = response.frame_bytes_max;
    if (client->frame_bytes_max == 0 || response.frame_bytes_max < client->frame_bytes_max) {
        client->frame_bytes_max = response.frame_bytes_max;
    }
    if (client->batch_bytes_max == 0 || response.batch_bytes_max < client->batch_bytes_max) {
        client->batch_bytes_max = response.batch_bytes_max;
    }
    return 0;
}

static void
conn_handshake_done(struct sb_client *client, struct client_request *request, int error,
                    const uint8_t *body, size_t body_bytes)
{
    struct client_conn *conn = SB_CONTAINER_OF(request, struct client_conn, handshake);
    if (error != 0) {
        if (conn->fd >= 0) {
            conn_fail(client, conn, error);
        }
        return;
    }
    int result = conn_apply_api_versions(client, conn, body, body_bytes);
    if (result != 0) {
        conn_fail(client, conn, result);
        return;
    }
    conn->state = CONN_READY;
    conn->failures = 0;
    client_log(client, SB_CLIENT_LOG_DEBUG, "connected to %s:%u", conn->host, conn->port);
    pthread_cond_broadcast(&client->cond);
}

static void
conn_health_done(struct sb_client *client, struct client_request *request, int error,
                 const uint8_t *body, size_t body_bytes)
{
    struct client_conn *conn = SB_CONTAINER_OF(request, struct client_conn, health);
    conn->health_inflight = false;
    struct sb_health_response response;
    if (error == 0 && sb_health_response_decode(body, body_bytes, &response) != 0) {
        error = SB_ERR_CORRUPT;
    }
    if (error != 0 && conn->fd >= 0) {
        conn_fail(client, conn, error);
    }
}
