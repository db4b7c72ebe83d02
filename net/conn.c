/*
 * net/conn.c - one client connection on its shard.
 *
 * Input: a multishot receive fills buffers of the shard's provided-buffer
 * group; conn_consume copies their bytes into the frame being assembled (a
 * bufpool buffer sized from the frame's length, which is checked against
 * max_frame_bytes before anything is allocated) and hands each whole frame to
 * request_start. When no request slot, no memory or no in-flight slot is
 * free, the received buffer is held, the receive is cancelled, and the
 * connection resumes from conn_resume_all once resources free up: that is
 * the back-pressure, and no byte is dropped. Buffers the receive delivers
 * before its cancellation takes effect are held as well (the shard keeps one
 * held_buffer per buffer of its group), so a client that sends far ahead is
 * throttled by TCP, never disconnected.
 *
 * Output: responses leave strictly in request order. conn_try_send gathers the
 * finished responses at the head of the in-flight FIFO into one sendmsg.
 *
 * Closing: a connection closes on peer EOF, an I/O error, a frame-level error
 * (after its error response is sent), the idle timeout or shutdown; its
 * memory goes back once no request, receive or send refers to it. A
 * connection over max_connections is refused: its first request is answered
 * with the frame-level error TOO_MANY_CONNECTIONS, as other frame-level errors
 * are, and its idle timeout is SB_NET_REFUSED_WAIT_MS.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <unistd.h>

#include "core/assert.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/log.h"
#include "net/broker_private.h"

static void conn_recv_done(struct sb_io_op *op);
static void conn_send_done(struct sb_io_op *op);
static void conn_idle_fire(struct sb_timer *timer);
static void conn_maybe_free(struct conn *conn);
static void conn_try_send(struct conn *conn);

static void
conn_arm_recv(struct conn *conn)
{
    SB_ASSERT(!conn->receiving && !conn->closing);
    conn->receiving = true;
    sb_io_recv_multishot(conn->owner->io, &conn->recv_op, conn->fd, SB_NET_RECV_GROUP,
                         conn_recv_done, conn);
}

/* How long the connection may stay idle: a refused one only waits for its first request. */
static uint32_t
conn_idle_timeout_ms(const struct conn *conn)
{
    return conn->refused ? SB_NET_REFUSED_WAIT_MS : conn->owner->broker->config.idle_timeout_ms;
}

static void
conn_arm_idle(struct conn *conn)
{
    uint32_t timeout_ms = conn_idle_timeout_ms(conn);
    if (timeout_ms != 0) {
        sb_shard_timer_arm(conn->owner->shard, &conn->idle_timer, timeout_ms * SB_NS_PER_MS,
                           conn_idle_fire, conn);
    }
}

int
conn_adopt(struct broker_shard *self, int fd, bool counted)
{
    struct conn *conn = NULL;
    bool refused = self->conn_count >= self->broker->config.max_connections;
    if (!self->stopping && (!refused || self->refused_count < SB_NET_REFUSED_CONNECTIONS_MAX)) {
        conn = sb_pool_acquire(&self->conns);
    }
    if (conn == NULL) {
        sb_log_debug("connection closed at once: limit reached or stopping",
                     "max_connections=%u refused=%u", self->broker->config.max_connections,
                     self->refused_count);
        close(fd);
        if (counted) {
            broker_conn_ended(self, self->id);
        }
        return self->stopping ? SB_ESHUTDOWN : -EMFILE;
    }
    conn->owner = self;
    conn->fd = fd;
    conn->id = ++self->next_conn_id;
    conn->counted = counted;
    conn->refused = refused;
    conn->last_activity_ns = sb_shard_now_ns(self->shard);
    sb_timer_init(&conn->idle_timer);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    conn->next = self->conn_list;
    if (self->conn_list != NULL) {
        self->conn_list->previous = conn;
    }
    self->conn_list = conn;
    if (refused) {
        self->refused_count++;
    } else {
        self->conn_count++;
    }
    conn_arm_recv(conn);
    conn_arm_idle(conn);
    sb_log_debug("connection opened", "connection=%llu fd=%d counted=%d",
                 (unsigned long long)conn->id, fd, counted);
    return 0;
}

static void
conn_cancel_done(struct sb_io_op *op)
{
    struct conn *conn = op->context;
    conn->cancelling = false;
    conn_maybe_free(conn);
}

static void
conn_stop_receiving(struct conn *conn)
{
    if (conn->receiving && !conn->cancelling) {
        conn->cancelling = true;
        sb_io_cancel(conn->owner->io, &conn->cancel_op, &conn->recv_op, conn_cancel_done, conn);
    }
}

/* No more input; close once everything in flight is answered and sent. */
static void
conn_begin_close(struct conn *conn)
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
    for (struct request *request = conn->inflight_head; request != NULL;
         request = request->next) {
        request_cancel(request);
    }
    conn_try_send(conn);
    conn_maybe_free(conn);
}

static void
conn_release_held(struct conn *conn)
{
    while (conn->held_count > 0) {
        uint16_t buffer_id = conn->held_first;
        conn->held_first = conn->owner->held[buffer_id].next;
        conn->held_count--;
        sb_io_buffer_recycle(conn->owner->io, SB_NET_RECV_GROUP, buffer_id);
    }
}

static void
conn_maybe_free(struct conn *conn)
{
    struct broker_shard *self = conn->owner;
    if (!conn->closing || conn->receiving || conn->sending || conn->cancelling ||
        conn->inflight_count != 0) {
        return;
    }
    if (conn->assembling != NULL) {
        request_release(conn->assembling);
        conn->assembling = NULL;
    }
    conn_release_held(conn);
    sb_shard_timer_disarm(self->shard, &conn->idle_timer);
    sb_io_close(self->io, conn->fd);
    if (conn->previous != NULL) {
        conn->previous->next = conn->next;
    } else {
        self->conn_list = conn->next;
    }
    if (conn->next != NULL) {
        conn->next->previous = conn->previous;
    }
    if (conn->refused) {
        self->refused_count--;
    } else {
        self->conn_count--;
    }
    if (conn->counted) {
        broker_conn_ended(self, self->id);
    }
    sb_pool_release(&self->conns, conn);
}

/* Answers a frame-level error (bad length, bad header) and closes after sending it. */
static void
conn_frame_error(struct conn *conn, int16_t error)
{
    struct broker_shard *self = conn->owner;
    struct sb_frame_header header;
    sb_frame_header_decode(conn->prefix, conn->prefix_have, self->broker->config.max_frame_bytes,
                           &header);
    sb_log_debug("closing connection after a frame error", "connection=%llu error=%s",
                (unsigned long long)conn->id, sb_wire_error_name(error));
    conn->close_after_send = true;
    conn_stop_receiving(conn);
    struct request *request = sb_pool_acquire(&self->requests);
    if (request == NULL || conn->prefix_have < SB_FRAME_HEADER_BYTES) {
        if (request != NULL) {
            sb_pool_release(&self->requests, request);
        }
        conn_begin_close(conn);
        return;
    }
    request->conn = conn;
    request->home = self;
    request->header = header;
    self->requests_in_flight++;
    if (conn->inflight_tail == NULL) {
        conn->inflight_head = request;
    } else {
        conn->inflight_tail->next = request;
    }
    conn->inflight_tail = request;
    conn->inflight_count++;
    request_respond_error(request, error);
}

/* The first bytes of a frame: checks the length and header, then takes a request slot and a
 * frame buffer. Returns 1 when the frame can be filled, 0 to wait (back-pressure), -1 when the
 * connection is closing. */
static int
conn_begin_frame(struct conn *conn)
{
    struct broker_shard *self = conn->owner;
    struct sb_frame_header header;
    int decoded = sb_frame_header_decode(conn->prefix, conn->prefix_have,
                                         self->broker->config.max_frame_bytes, &header);
    if (decoded == -EMSGSIZE || decoded == SB_ECORRUPT) {
        conn_frame_error(conn, decoded == -EMSGSIZE ? SB_WIRE_ERROR_REQUEST_TOO_LARGE
                                                    : SB_WIRE_ERROR_CORRUPT_FRAME);
        return -1;
    }
    if (conn->prefix_have < SB_FRAME_HEADER_BYTES) {
        return 1; /* Keep gathering the header. */
    }
    if (conn->refused) {
        conn_frame_error(conn, SB_WIRE_ERROR_TOO_MANY_CONNECTIONS);
        return -1;
    }
    if (conn->inflight_count >= self->broker->config.max_inflight_requests) {
        return 0;
    }
    uint32_t total = (uint32_t)sb_frame_total_bytes(&header);
    struct request *request = sb_pool_acquire(&self->requests);
    uint32_t capacity = 0;
    uint8_t *frame = request != NULL ? sb_bufpool_acquire(&self->buffers, total, &capacity)
                                     : NULL;
    if (frame == NULL) {
        if (request != NULL) {
            sb_pool_release(&self->requests, request);
        }
        return 0;
    }
    request->conn = conn;
    request->home = self;
    request->header = header;
    request->frame = frame;
    request->frame_capacity = capacity;
    memcpy(frame, conn->prefix, SB_FRAME_HEADER_BYTES);
    conn->assembling = request;
    conn->frame_have = SB_FRAME_HEADER_BYTES;
    self->requests_in_flight++;
    return 1;
}

static void
conn_frame_complete(struct conn *conn)
{
    struct request *request = conn->assembling;
    conn->assembling = NULL;
    conn->prefix_have = 0;
    conn->frame_have = 0;
    if (conn->inflight_tail == NULL) {
        conn->inflight_head = request;
    } else {
        conn->inflight_tail->next = request;
    }
    conn->inflight_tail = request;
    conn->inflight_count++;
    request_start(request);
}

/* Consumes bytes of one received buffer; returns how many (fewer when it must wait). */
static uint32_t
conn_consume(struct conn *conn, const uint8_t *data, uint32_t length)
{
    uint32_t used = 0;
    /* Bounded by `length`: every pass consumes bytes, waits or closes. */
    while (used < length && !conn->closing && !conn->close_after_send) {
        if (conn->assembling == NULL) {
            uint32_t take = (uint32_t)sb_min_u64(SB_FRAME_HEADER_BYTES - conn->prefix_have,
                                                 length - used);
            memcpy(conn->prefix + conn->prefix_have, data + used, take);
            conn->prefix_have += take;
            used += take;
            int begun = conn_begin_frame(conn);
            if (begun <= 0) {
                if (begun == 0) {
                    /* Give the header bytes back: the frame starts again when resumed. */
                    conn->prefix_have -= take;
                    used -= take;
                }
                return used;
            }
            if (conn->assembling == NULL) {
                continue;
            }
        }
        struct request *request = conn->assembling;
        uint32_t total = (uint32_t)sb_frame_total_bytes(&request->header);
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
conn_hold(struct conn *conn, uint16_t buffer_id, uint32_t offset, uint32_t length)
{
    struct broker_shard *self = conn->owner;
    SB_ASSERT(buffer_id < SB_NET_RECV_BUFFERS);
    SB_ASSERT(conn->held_count < SB_NET_RECV_BUFFERS);
    self->held[buffer_id] = (struct held_buffer){offset, length, 0};
    if (conn->held_count == 0) {
        conn->held_first = buffer_id;
    } else {
        self->held[conn->held_last].next = buffer_id;
    }
    conn->held_last = buffer_id;
    conn->held_count++;
    conn_stop_receiving(conn);
}

/* Consumes held buffers in order; returns true when none is left. */
static bool
conn_consume_held(struct conn *conn)
{
    struct broker_shard *self = conn->owner;
    while (conn->held_count > 0 && !conn->closing) {
        uint16_t buffer_id = conn->held_first;
        struct held_buffer *held = &self->held[buffer_id];
        const uint8_t *data = sb_io_buffer(self->io, SB_NET_RECV_GROUP, buffer_id);
        held->offset += conn_consume(conn, data + held->offset, held->length - held->offset);
        if (held->offset < held->length) {
            return false;
        }
        conn->held_first = held->next;
        conn->held_count--;
        sb_io_buffer_recycle(self->io, SB_NET_RECV_GROUP, buffer_id);
    }
    return conn->held_count == 0;
}

static void
conn_received(struct conn *conn, uint16_t buffer_id, uint32_t length)
{
    struct broker_shard *self = conn->owner;
    if (conn->held_count > 0 || !conn_consume_held(conn)) {
        conn_hold(conn, buffer_id, 0, length);
        return;
    }
    const uint8_t *data = sb_io_buffer(self->io, SB_NET_RECV_GROUP, buffer_id);
    uint32_t used = conn_consume(conn, data, length);
    if (used < length && !conn->closing && !conn->close_after_send) {
        conn_hold(conn, buffer_id, used, length);
        return;
    }
    sb_io_buffer_recycle(self->io, SB_NET_RECV_GROUP, buffer_id);
}

static void
conn_recv_done(struct sb_io_op *op)
{
    struct conn *conn = op->context;
    conn->last_activity_ns = sb_shard_now_ns(conn->owner->shard);
    if (op->result > 0 && op->has_buffer) {
        if (conn->closing || conn->close_after_send) {
            sb_io_buffer_recycle(conn->owner->io, SB_NET_RECV_GROUP, op->buffer_id);
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
        /* -ENOBUFS: the shard ran out of receive buffers; conn_resume_all re-arms. */
        conn_maybe_free(conn);
    }
}

/* Drops answered requests at the head that need no bytes sent (acks=0 produce). */
static void
conn_pop_silent(struct conn *conn)
{
    while (conn->inflight_head != NULL && conn->inflight_head->complete &&
           conn->inflight_head->no_response) {
        struct request *request = conn->inflight_head;
        conn->inflight_head = request->next;
        if (conn->inflight_head == NULL) {
            conn->inflight_tail = NULL;
        }
        conn->inflight_count--;
        request_release(request);
    }
}

/* Sends every finished response at the head of the FIFO, in order, in one sendmsg. */
static void
conn_try_send(struct conn *conn)
{
    conn_pop_silent(conn);
    if (conn->sending) {
        return;
    }
    uint32_t count = 0;
    uint32_t offset = conn->send_offset;
    for (struct request *request = conn->inflight_head;
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
        if (conn->inflight_count == 0 && conn->close_after_send) {
            conn_begin_close(conn);
        }
        conn_maybe_free(conn);
        return;
    }
    memset(&conn->message, 0, sizeof(conn->message));
    conn->message.msg_iov = conn->vectors;
    conn->message.msg_iovlen = count;
    conn->sending = true;
    sb_io_sendmsg(conn->owner->io, &conn->send_op, conn->fd, &conn->message, conn_send_done,
                  conn);
}

void
conn_close_after_answers(struct conn *conn)
{
    conn->close_after_send = true;
    conn_stop_receiving(conn);
}

void
conn_response_ready(struct conn *conn)
{
    conn_try_send(conn);
}

static void
conn_send_done(struct sb_io_op *op)
{
    struct conn *conn = op->context;
    conn->sending = false;
    conn->last_activity_ns = sb_shard_now_ns(conn->owner->shard);
    if (op->result < 0) {
        sb_log_debug("send failed; closing", "connection=%llu error=\"%s\"",
                     (unsigned long long)conn->id, sb_strerror(op->result));
        /* Nothing more can be sent: answer-and-drop what is left. */
        conn->close_after_send = true;
        conn->closing = true;
        conn_stop_receiving(conn);
        while (conn->inflight_head != NULL && conn->inflight_head->complete) {
            conn->inflight_head->no_response = true;
            conn_pop_silent(conn);
        }
        conn_maybe_free(conn);
        return;
    }
    uint64_t sent = (uint64_t)op->result;
    while (sent > 0) {
        struct request *request = conn->inflight_head;
        uint64_t left = request->response_bytes - conn->send_offset;
        if (sent < left) {
            conn->send_offset += (uint32_t)sent;
            break;
        }
        sent -= left;
        conn->send_offset = 0;
        conn->inflight_head = request->next;
        if (conn->inflight_head == NULL) {
            conn->inflight_tail = NULL;
        }
        conn->inflight_count--;
        request_release(request);
    }
    conn_try_send(conn);
}

static void
conn_idle_fire(struct sb_timer *timer)
{
    struct conn *conn = timer->context;
    struct broker_shard *self = conn->owner;
    uint64_t idle_ns = (uint64_t)conn_idle_timeout_ms(conn) * SB_NS_PER_MS;
    uint64_t now_ns = sb_shard_now_ns(self->shard);
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

void
conn_close_all(struct broker_shard *self)
{
    struct conn *conn = self->conn_list;
    while (conn != NULL) {
        struct conn *next = conn->next;
        conn_begin_close(conn);
        conn = next;
    }
}

/* End of each loop iteration: connections held back by back-pressure try again, and
 * receives that lost their multishot arming (buffer shortage) are re-armed. */
void
conn_resume_all(struct broker_shard *self)
{
    for (struct conn *conn = self->conn_list; conn != NULL; conn = conn->next) {
        if (conn->closing || conn->close_after_send) {
            continue;
        }
        if (conn->held_count > 0 || conn->prefix_have == SB_FRAME_HEADER_BYTES) {
            if (!conn_consume_held(conn)) {
                continue;
            }
        }
        if (!conn->receiving && !conn->cancelling && !conn->closing && conn->held_count == 0) {
            conn_arm_recv(conn);
        }
    }
}
