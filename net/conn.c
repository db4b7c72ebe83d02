/*
 * net/conn.c - the connections of one shard: receive, frames, answers in
 * order, limits, idle timeout, close.
 *
 * Input: a multishot receive fills buffers of the shard's provided-buffer
 * group; conn_consume copies their bytes first into the connection's prefix
 * until the framer knows the frame's size (checked against max_frame_bytes
 * before anything is allocated), then into the frame buffer of a request slot
 * the upper layer gives (callbacks.request_acquire), and hands each whole
 * frame up (callbacks.request_start). When no slot, no memory or no in-flight
 * slot is free, the received buffer is held, the receive is cancelled, and
 * the connection resumes from sb_net_resume once resources free up: that is
 * the back-pressure, and no byte is dropped. Buffers the receive delivers
 * before its cancellation takes effect are held as well (the shard keeps one
 * sb_held_buffer per buffer of its group), so a client that sends far ahead
 * is throttled by TCP, never disconnected.
 *
 * Output: answers leave strictly in request order. conn_try_send gathers the
 * finished answers at the head of the in-flight FIFO into one sendmsg.
 *
 * Closing: a connection closes on peer EOF, an I/O error, a frame-level error
 * (after its error answer is sent), the idle timeout or shutdown; its memory
 * goes back once no request, receive or send refers to it. A connection over
 * max_connections is refused: its first frame is answered with the framer's
 * REFUSED error, as other frame-level errors are, and its idle timeout is
 * SB_NET_REFUSED_WAIT_MS.
 *
 * Start reading at sb_net_adopt, then conn_recv_done and conn_consume.
 */
#include "net/conn.h"

#include <assert.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "core/arena.h"
#include "core/assert.h"
#include "core/base.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/shard.h"

static_assert(SB_NET_RECV_BUFFERS <= SB_IO_BUFFERS_PER_GROUP_MAX, "receive group within limit");
static_assert(SB_NET_RECV_BUFFERS <= UINT16_MAX, "buffer ids are 16 bits");
static_assert(SB_NET_RECV_GROUP < SB_IO_BUFFER_GROUPS_MAX, "receive group id within limit");

/* One client connection. */
struct sb_conn {
    struct sb_net *net;             /* Shard transport serving it. */
    int fd;                         /* Socket. */
    uint64_t id;                    /* Unique within the shard. */
    struct sb_io_op recv_op;        /* Multishot receive. */
    struct sb_io_op send_op;        /* The sendmsg in flight. */
    struct sb_io_op cancel_op;      /* Cancelling the receive. */
    bool receiving;                 /* recv_op is armed. */
    bool sending;                   /* send_op is in flight. */
    bool cancelling;                /* cancel_op is in flight. */
    bool closing;                   /* No more input; close when idle. */
    bool peer_closed;               /* The peer sent EOF. */
    bool report_end;                /* callbacks.conn_ended runs when it ends. */
    bool refused;                   /* Over max_connections: its first frame gets the
                                     * framer's REFUSED error, then it closes. */
    bool resuming;                  /* sb_net_resume works on it: it is not freed under it. */
    struct iovec vectors[SB_NET_SEND_VECTORS_MAX]; /* The sendmsg's pieces. */
    struct msghdr message;          /* The sendmsg. */
    uint32_t send_offset;           /* Bytes of the first answer already sent. */
    uint8_t prefix[SB_FRAMER_PREFIX_BYTES_MAX]; /* The next frame's prefix, being gathered. */
    uint32_t prefix_have;           /* Bytes of it gathered. */
    struct sb_net_request *assembling; /* Request whose frame is being filled, or NULL. */
    uint32_t frame_have;            /* Bytes of its frame received. */
    uint16_t held_first;            /* Oldest held buffer (its id), if any. */
    uint16_t held_last;             /* Newest held buffer. */
    uint32_t held_count;            /* Buffers held (back-pressure when > 0). */
    bool close_after_send;          /* A frame-level error was answered: close then. */
    struct sb_net_request *inflight_head; /* Requests in arrival order. */
    struct sb_net_request *inflight_tail; /* Newest. */
    uint32_t inflight_count;        /* Requests not yet answered. */
    struct sb_timer idle_timer;     /* Closes the connection when idle. */
    uint64_t last_activity_ns;      /* Last byte in or out. */
    struct sb_conn *next;           /* Shard's connection list. */
    struct sb_conn *previous;       /* Shard's connection list. */
};

static void conn_recv_done(struct sb_io_op *op);
static void conn_send_done(struct sb_io_op *op);
static void conn_idle_fire(struct sb_timer *timer);
static void conn_maybe_free(struct sb_conn *conn);
static void conn_try_send(struct sb_conn *conn);
static void conn_begin_close(struct sb_conn *conn);
static void conn_stop_receiving(struct sb_conn *conn);

int
sb_net_init(struct sb_net *net, struct sb_shard *shard, const struct sb_net_config *config,
            const struct sb_framer *framer, const struct sb_net_callbacks *callbacks)
{
    SB_ASSERT(framer->prefix_bytes > 0 && framer->prefix_bytes <= SB_FRAMER_PREFIX_BYTES_MAX);
    SB_ASSERT(callbacks->request_acquire != NULL && callbacks->request_start != NULL);
    memset(net, 0, sizeof(*net));
    net->config = *config;
    net->framer = framer;
    net->callbacks = *callbacks;
    net->shard = shard;
    net->io = sb_shard_io(shard);
    int result = sb_io_buffer_group_create(net->io, SB_NET_RECV_GROUP, SB_NET_RECV_BUFFERS,
                                           SB_NET_RECV_BUFFER_BYTES);
    if (result != 0) {
        return result;
    }
    uint64_t conns = (uint64_t)config->max_connections + SB_NET_REFUSED_CONNECTIONS_MAX;
    return sb_pool_init(&net->conns, sb_shard_arena(shard), sizeof(struct sb_conn), 64,
                        (uint32_t)sb_min_u64(conns, UINT32_MAX));
}

static void
conn_arm_recv(struct sb_conn *conn)
{
    SB_ASSERT(!conn->receiving && !conn->closing);
    conn->receiving = true;
    sb_io_recv_multishot(conn->net->io, &conn->recv_op, conn->fd, SB_NET_RECV_GROUP,
                         conn_recv_done, conn);
}

/* How long the connection may stay idle: a refused one only waits for its first frame. */
static uint32_t
conn_idle_timeout_ms(const struct sb_conn *conn)
{
    return conn->refused ? SB_NET_REFUSED_WAIT_MS : conn->net->config.idle_timeout_ms;
}

static void
conn_arm_idle(struct sb_conn *conn)
{
    uint32_t timeout_ms = conn_idle_timeout_ms(conn);
    if (timeout_ms != 0) {
        int armed = sb_shard_timer_arm(conn->net->shard, &conn->idle_timer,
                                       timeout_ms * SB_NS_PER_MS, conn_idle_fire, conn);
        SB_ASSERT(armed == 0); /* The heap has a timer per connection (net/conn.h). */
    }
}

/* Closes a socket that was never adopted. */
static int
net_adopt_refuse(struct sb_net *net, int fd, bool report_end)
{
    sb_log_debug("connection closed at once: limit reached or stopping",
                 "max_connections=%u refused=%u", net->config.max_connections,
                 net->refused_count);
    sb_io_close(net->io, fd);
    if (report_end) {
        net->callbacks.conn_ended(net->callbacks.context);
    }
    return net->stopping ? SB_ESHUTDOWN : -EMFILE;
}

int
sb_net_adopt(struct sb_net *net, int fd, bool report_end)
{
    SB_ASSERT(fd >= 0);
    struct sb_conn *conn = NULL;
    bool refused = net->conn_count >= net->config.max_connections;
    if (!net->stopping && (!refused || net->refused_count < SB_NET_REFUSED_CONNECTIONS_MAX)) {
        conn = sb_pool_acquire(&net->conns);
    }
    if (conn == NULL) {
        return net_adopt_refuse(net, fd, report_end);
    }
    conn->net = net;
    conn->fd = fd;
    conn->id = ++net->next_conn_id;
    conn->report_end = report_end;
    conn->refused = refused;
    conn->last_activity_ns = sb_shard_now_ns(net->shard);
    sb_timer_init(&conn->idle_timer);
    sb_io_socket_nodelay(net->io, fd);
    conn->next = net->conn_list;
    if (net->conn_list != NULL) {
        net->conn_list->previous = conn;
    }
    net->conn_list = conn;
    if (refused) {
        net->refused_count++;
    } else {
        net->conn_count++;
    }
    conn_arm_recv(conn);
    conn_arm_idle(conn);
    sb_log_debug("connection opened", "connection=%llu fd=%d report_end=%d",
                 (unsigned long long)conn->id, fd, report_end);
    return 0;
}

void
sb_net_stop(struct sb_net *net)
{
    net->stopping = true;
    struct sb_conn *conn = net->conn_list;
    while (conn != NULL) {
        struct sb_conn *next = conn->next;
        conn_begin_close(conn);
        conn = next;
    }
}

bool
sb_net_idle(const struct sb_net *net)
{
    return net->conn_count == 0 && net->refused_count == 0;
}

void
sb_net_request_complete(struct sb_net_request *request)
{
    request->complete = true;
    if (request->conn != NULL) {
        conn_try_send(request->conn);
    }
}

void
sb_net_request_respond_error(struct sb_net_request *request, int16_t error)
{
    SB_ASSERT(request->frame != NULL);
    request->response = request->error_frame;
    request->response_capacity = 0; /* Not a buffer of its own. */
    request->response_bytes = request->framer->error_encode(request->frame, error,
                                                            request->error_frame);
    request->no_response = false;
    sb_net_request_complete(request);
}

void
sb_net_request_close_after_answers(struct sb_net_request *request)
{
    struct sb_conn *conn = request->conn;
    if (conn != NULL) {
        conn->close_after_send = true;
        conn_stop_receiving(conn);
    }
}

static void
conn_cancel_done(struct sb_io_op *op)
{
    struct sb_conn *conn = op->context;
    conn->cancelling = false;
    conn_maybe_free(conn);
}

static void
conn_stop_receiving(struct sb_conn *conn)
{
    if (conn->receiving && !conn->cancelling) {
        conn->cancelling = true;
        sb_io_cancel(conn->net->io, &conn->cancel_op, &conn->recv_op, conn_cancel_done, conn);
    }
}

/* No more input; close once everything in flight is answered and sent. */
static void
conn_begin_close(struct sb_conn *conn)
{
    if (conn->closing) {
        return;
    }
    sb_log_debug("connection closing", "connection=%llu fd=%d peer_closed=%d inflight=%u",
                 (unsigned long long)conn->id, conn->fd, conn->peer_closed,
                 conn->inflight_count);
    conn->closing = true;
    conn_stop_receiving(conn);
    /* Long polls end now: nobody waits for their answers. Bounded by the in-flight requests;
     * a cancel may answer one at once, which only queues its send (the list changes when
     * sends complete). */
    for (struct sb_net_request *request = conn->inflight_head; request != NULL;
         request = request->next) {
        conn->net->callbacks.request_cancel(request);
    }
    /* Ends in conn_maybe_free when nothing is left to send: the connection may be gone. */
    conn_try_send(conn);
}

/* Hands a request back to the upper layer: the connection no longer refers to it. */
static void
conn_release_request(struct sb_conn *conn, struct sb_net_request *request)
{
    request->conn = NULL;
    request->next = NULL;
    conn->net->callbacks.request_release(request);
}

static void
conn_release_held(struct sb_conn *conn)
{
    while (conn->held_count > 0) {
        uint16_t buffer_id = conn->held_first;
        conn->held_first = conn->net->held[buffer_id].next;
        conn->held_count--;
        sb_io_buffer_recycle(conn->net->io, SB_NET_RECV_GROUP, buffer_id);
    }
}

static void
conn_maybe_free(struct sb_conn *conn)
{
    struct sb_net *net = conn->net;
    if (!conn->closing || conn->receiving || conn->sending || conn->cancelling ||
        conn->resuming || conn->inflight_count != 0) {
        return;
    }
    if (conn->assembling != NULL) {
        conn_release_request(conn, conn->assembling);
        conn->assembling = NULL;
    }
    conn_release_held(conn);
    sb_shard_timer_disarm(net->shard, &conn->idle_timer);
    sb_io_close(net->io, conn->fd);
    if (conn->previous != NULL) {
        conn->previous->next = conn->next;
    } else {
        net->conn_list = conn->next;
    }
    if (conn->next != NULL) {
        conn->next->previous = conn->previous;
    }
    if (conn->refused) {
        net->refused_count--;
    } else {
        net->conn_count--;
    }
    if (conn->report_end) {
        net->callbacks.conn_ended(net->callbacks.context);
    }
    sb_pool_release(&net->conns, conn);
}

static void
conn_inflight_push(struct sb_conn *conn, struct sb_net_request *request)
{
    request->conn = conn;
    if (conn->inflight_tail == NULL) {
        conn->inflight_head = request;
    } else {
        conn->inflight_tail->next = request;
    }
    conn->inflight_tail = request;
    conn->inflight_count++;
}

/* Answers a frame-level error (over the limit, malformed, refused) from the prefix and
 * closes after sending it; with less than a whole prefix there is nothing to echo, and the
 * connection closes at once. */
static void
conn_frame_error(struct sb_conn *conn, enum sb_framer_error reason)
{
    struct sb_net *net = conn->net;
    const struct sb_framer *framer = net->framer;
    int16_t error = framer->errors[reason];
    sb_log_debug("closing connection after a frame error", "connection=%llu framer=%s error=%d",
                 (unsigned long long)conn->id, framer->name, error);
    conn->close_after_send = true;
    conn_stop_receiving(conn);
    struct sb_net_request *request = conn->prefix_have < framer->prefix_bytes
                                         ? NULL
                                         : net->callbacks.request_acquire(net->callbacks.context,
                                                                          0);
    if (request == NULL) {
        conn_begin_close(conn);
        return;
    }
    SB_ASSERT(request->frame == NULL && !request->complete);
    request->response = request->error_frame;
    request->response_bytes = framer->error_encode(conn->prefix, error, request->error_frame);
    conn_inflight_push(conn, request);
    sb_net_request_complete(request);
}

/* The first bytes of a frame: the framer checks them, then a request slot with a frame buffer
 * is taken. Returns 1 when the frame can be filled (or its prefix needs more bytes), 0 to wait
 * (back-pressure), -1 when the connection is closing. */
static int
conn_begin_frame(struct sb_conn *conn)
{
    struct sb_net *net = conn->net;
    uint32_t total = 0;
    int decoded = net->framer->prefix_decode(conn->prefix, conn->prefix_have,
                                             net->config.max_frame_bytes, &total);
    if (decoded == -EMSGSIZE || decoded == SB_ECORRUPT) {
        conn_frame_error(conn, decoded == -EMSGSIZE ? SB_FRAMER_ERROR_TOO_LARGE
                                                    : SB_FRAMER_ERROR_CORRUPT);
        return -1;
    }
    if (decoded == -EAGAIN) {
        return 1; /* Keep gathering the prefix. */
    }
    SB_ASSERT(decoded == 0 && total >= net->framer->prefix_bytes);
    if (conn->refused) {
        conn_frame_error(conn, SB_FRAMER_ERROR_REFUSED);
        return -1;
    }
    if (conn->inflight_count >= net->config.max_inflight_requests) {
        return 0;
    }
    struct sb_net_request *request = net->callbacks.request_acquire(net->callbacks.context,
                                                                    total);
    if (request == NULL) {
        return 0;
    }
    SB_ASSERT(request->frame != NULL && request->frame_capacity >= total);
    request->conn = conn;
    request->framer = net->framer;
    request->frame_total_bytes = total;
    memcpy(request->frame, conn->prefix, conn->prefix_have);
    conn->assembling = request;
    conn->frame_have = conn->prefix_have;
    return 1;
}

static void
conn_frame_complete(struct sb_conn *conn)
{
    struct sb_net_request *request = conn->assembling;
    conn->assembling = NULL;
    conn->prefix_have = 0;
    conn->frame_have = 0;
    conn_inflight_push(conn, request);
    conn->net->callbacks.request_start(request);
}

/* Consumes bytes of one received buffer; returns how many (fewer when it must wait). */
static uint32_t
conn_consume(struct sb_conn *conn, const uint8_t *data, uint32_t length)
{
    uint32_t prefix_bytes = conn->net->framer->prefix_bytes;
    uint32_t used = 0;
    /* Bounded by `length`: every pass consumes bytes, waits or closes. */
    while (used < length && !conn->closing && !conn->close_after_send) {
        if (conn->assembling == NULL) {
            uint32_t take = (uint32_t)sb_min_u64(prefix_bytes - conn->prefix_have,
                                                 length - used);
            memcpy(conn->prefix + conn->prefix_have, data + used, take);
            conn->prefix_have += take;
            used += take;
            int begun = conn_begin_frame(conn);
            if (begun <= 0) {
                if (begun == 0) {
                    /* Give the prefix bytes back: the frame starts again when resumed. */
                    conn->prefix_have -= take;
                    used -= take;
                }
                return used;
            }
            if (conn->assembling == NULL) {
                continue;
            }
        }
        struct sb_net_request *request = conn->assembling;
        uint32_t total = request->frame_total_bytes;
        uint32_t take = (uint32_t)sb_min_u64(total - conn->frame_have, length - used);
        memcpy(request->frame + conn->frame_have, data + used, take);
        conn->frame_have += take;
        used += take;
        if (conn->frame_have == total) {
            conn_frame_complete(conn);
        }
    }
    return used;
}

/* Keeps a received buffer whose bytes cannot be consumed yet and stops receiving: the
 * client is throttled (TCP pushes back), never closed. Buffers the receive delivered before
 * its cancellation took effect are held too; a connection never holds more than the shard's
 * receive group has. */
static void
conn_hold(struct sb_conn *conn, uint16_t buffer_id, uint32_t offset, uint32_t length)
{
    struct sb_net *net = conn->net;
    SB_ASSERT(buffer_id < SB_NET_RECV_BUFFERS);
    SB_ASSERT(conn->held_count < SB_NET_RECV_BUFFERS);
    net->held[buffer_id] = (struct sb_held_buffer){offset, length, 0};
    if (conn->held_count == 0) {
        conn->held_first = buffer_id;
    } else {
        net->held[conn->held_last].next = buffer_id;
    }
    conn->held_last = buffer_id;
    conn->held_count++;
    conn_stop_receiving(conn);
}

/* Consumes held buffers in order; returns true when none is left. */
static bool
conn_consume_held(struct sb_conn *conn)
{
    struct sb_net *net = conn->net;
    while (conn->held_count > 0 && !conn->closing) {
        uint16_t buffer_id = conn->held_first;
        struct sb_held_buffer *held = &net->held[buffer_id];
        const uint8_t *data = sb_io_buffer(net->io, SB_NET_RECV_GROUP, buffer_id);
        held->offset += conn_consume(conn, data + held->offset, held->length - held->offset);
        if (held->offset < held->length) {
            return false;
        }
        conn->held_first = held->next;
        conn->held_count--;
        sb_io_buffer_recycle(net->io, SB_NET_RECV_GROUP, buffer_id);
    }
    return conn->held_count == 0;
}

static void
conn_received(struct sb_conn *conn, uint16_t buffer_id, uint32_t length)
{
    struct sb_net *net = conn->net;
    if (conn->held_count > 0 || !conn_consume_held(conn)) {
        conn_hold(conn, buffer_id, 0, length);
        return;
    }
    const uint8_t *data = sb_io_buffer(net->io, SB_NET_RECV_GROUP, buffer_id);
    uint32_t used = conn_consume(conn, data, length);
    if (used < length && !conn->closing && !conn->close_after_send) {
        conn_hold(conn, buffer_id, used, length);
        return;
    }
    sb_io_buffer_recycle(net->io, SB_NET_RECV_GROUP, buffer_id);
}

static void
conn_recv_done(struct sb_io_op *op)
{
    struct sb_conn *conn = op->context;
    conn->last_activity_ns = sb_shard_now_ns(conn->net->shard);
    if (op->result > 0 && op->has_buffer) {
        if (conn->closing || conn->close_after_send) {
            sb_io_buffer_recycle(conn->net->io, SB_NET_RECV_GROUP, op->buffer_id);
        } else {
            conn_received(conn, op->buffer_id, (uint32_t)op->result);
        }
    } else if (op->result == 0) {
        conn->peer_closed = true;
        conn_begin_close(conn);
    } else if (op->result != -ENOBUFS && op->result != -ECANCELED) {
        sb_log_debug("receive failed", "connection=%llu error=\"%s\"",
                     (unsigned long long)conn->id, sb_strerror(op->result));
        conn_begin_close(conn);
    }
    if (!op->more) {
        conn->receiving = false;
        /* -ENOBUFS: the shard ran out of receive buffers; sb_net_resume re-arms. */
        conn_maybe_free(conn);
    }
}

/* Removes the request at the head of the FIFO and hands it back. */
static void
conn_pop(struct sb_conn *conn)
{
    struct sb_net_request *request = conn->inflight_head;
    SB_ASSERT(request != NULL && conn->inflight_count > 0);
    conn->inflight_head = request->next;
    if (conn->inflight_head == NULL) {
        conn->inflight_tail = NULL;
    }
    conn->inflight_count--;
    conn_release_request(conn, request);
}

/* Drops answered requests at the head that need no bytes sent (acks=0 produce). */
static void
conn_pop_silent(struct sb_conn *conn)
{
    while (conn->inflight_head != NULL && conn->inflight_head->complete &&
           conn->inflight_head->no_response) {
        conn_pop(conn);
    }
}

/* Sends every finished answer at the head of the FIFO, in order, in one sendmsg. */
static void
conn_try_send(struct sb_conn *conn)
{
    conn_pop_silent(conn);
    if (conn->sending) {
        return;
    }
    uint32_t count = 0;
    uint32_t offset = conn->send_offset;
    for (struct sb_net_request *request = conn->inflight_head;
         request != NULL && request->complete && count < SB_NET_SEND_VECTORS_MAX;
         request = request->next) {
        if (request->no_response) {
            break; /* Popped on the next pass, after what precedes it is sent. */
        }
        conn->vectors[count].iov_base = request->response + offset;
        conn->vectors[count].iov_len = request->response_bytes - offset;
        offset = 0;
        count++;
    }
    if (count == 0) {
        if (conn->inflight_count == 0 && conn->close_after_send && !conn->closing) {
            conn_begin_close(conn); /* Frees the connection if nothing else refers to it. */
            return;
        }
        conn_maybe_free(conn);
        return;
    }
    memset(&conn->message, 0, sizeof(conn->message));
    conn->message.msg_iov = conn->vectors;
    conn->message.msg_iovlen = count;
    conn->sending = true;
    sb_io_sendmsg(conn->net->io, &conn->send_op, conn->fd, &conn->message, conn_send_done,
                  conn);
}

/* A send failed: nothing more can be sent, so what is answered is dropped. */
static void
conn_send_failed(struct sb_conn *conn, int error)
{
    sb_log_debug("send failed; closing", "connection=%llu error=\"%s\"",
                 (unsigned long long)conn->id, sb_strerror(error));
    conn->close_after_send = true;
    conn->closing = true;
    conn_stop_receiving(conn);
    while (conn->inflight_head != NULL && conn->inflight_head->complete) {
        conn->inflight_head->no_response = true;
        conn_pop_silent(conn);
    }
    conn_maybe_free(conn);
}

static void
conn_send_done(struct sb_io_op *op)
{
    struct sb_conn *conn = op->context;
    conn->sending = false;
    conn->last_activity_ns = sb_shard_now_ns(conn->net->shard);
    if (op->result < 0) {
        conn_send_failed(conn, op->result);
        return;
    }
    uint64_t sent = (uint64_t)op->result;
    while (sent > 0) {
        struct sb_net_request *request = conn->inflight_head;
        uint64_t left = request->response_bytes - conn->send_offset;
        if (sent < left) {
            conn->send_offset += (uint32_t)sent;
            break;
        }
        sent -= left;
        conn->send_offset = 0;
        conn_pop(conn);
    }
    conn_try_send(conn);
}

static void
conn_idle_fire(struct sb_timer *timer)
{
    struct sb_conn *conn = timer->context;
    uint64_t idle_ns = (uint64_t)conn_idle_timeout_ms(conn) * SB_NS_PER_MS;
    uint64_t now_ns = sb_shard_now_ns(conn->net->shard);
    if (conn->closing) {
        return;
    }
    if (conn->inflight_count == 0 && now_ns - conn->last_activity_ns >= idle_ns) {
        sb_log_info("closing idle connection", "connection=%llu idle_ms=%u",
                    (unsigned long long)conn->id, conn_idle_timeout_ms(conn));
        conn_begin_close(conn);
        return;
    }
    conn_arm_idle(conn);
}

/* Consumes what a connection held back, then receives again. */
static void
conn_resume(struct sb_conn *conn)
{
    if (conn->closing || conn->close_after_send) {
        return;
    }
    if (conn->held_count > 0 || conn->prefix_have == conn->net->framer->prefix_bytes) {
        conn->resuming = true;
        bool drained = conn_consume_held(conn);
        conn->resuming = false;
        if (!drained || conn->closing || conn->close_after_send) {
            conn_maybe_free(conn); /* A frame-level error may have closed it. */
            return;
        }
    }
    if (!conn->receiving && !conn->cancelling && conn->held_count == 0) {
        conn_arm_recv(conn);
    }
}

void
sb_net_resume(struct sb_net *net)
{
    struct sb_conn *conn = net->conn_list;
    /* Bounded by the live connections; resuming one frees at most that one. */
    while (conn != NULL) {
        struct sb_conn *next = conn->next;
        conn_resume(conn);
        conn = next;
    }
}
