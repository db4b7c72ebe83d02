/*
 * test/sim/sim_conn.c - see sim_conn.h.
 */
#include "test/sim/sim_conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"

static void conn_connect_done(struct sb_io_op *op);
static void conn_recv_done(struct sb_io_op *op);
static void conn_send_done(struct sb_io_op *op);

int
sim_conn_init(struct sim_conn *conn, struct sb_io *io, const struct sim_conn_hooks *hooks,
              void *context)
{
    memset(conn, 0, sizeof(*conn));
    conn->io = io;
    conn->hooks = *hooks;
    conn->context = context;
    conn->fd = -1;
    conn->in = sb_alloc(SIM_CONN_IN_BYTES);
    conn->out = sb_alloc(SIM_CONN_OUT_BYTES);
    return conn->in != NULL && conn->out != NULL ? 0 : -ENOMEM;
}

void
sim_conn_deinit(struct sim_conn *conn)
{
    sb_free(conn->in);
    sb_free(conn->out);
    conn->in = NULL;
    conn->out = NULL;
}

void
sim_conn_forget(struct sim_conn *conn, struct sb_io *io)
{
    conn->io = io;
    conn->state = SIM_CONN_CLOSED;
    conn->fd = -1;
    memset(&conn->connect_op, 0, sizeof(conn->connect_op));
    memset(&conn->recv_op, 0, sizeof(conn->recv_op));
    memset(&conn->send_op, 0, sizeof(conn->send_op));
    conn->connecting = false;
    conn->receiving = false;
    conn->sending = false;
    conn->in_used = 0;
    conn->out_used = 0;
    conn->out_in_flight = 0;
    conn->pending_count = 0;
}

void
sim_conn_open(struct sim_conn *conn, uint16_t port)
{
    if (conn->state != SIM_CONN_CLOSED) {
        return;
    }
    conn->fd = sb_io_socket(conn->io);
    if (conn->fd < 0) {
        conn->hooks.on_closed(conn, conn->fd);
        return;
    }
    memset(&conn->address, 0, sizeof(conn->address));
    conn->address.sin_family = AF_INET;
    conn->address.sin_port = htons(port);
    conn->address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    conn->state = SIM_CONN_CONNECTING;
    conn->connecting = true;
    conn->in_used = 0;
    conn->out_used = 0;
    conn->out_in_flight = 0;
    conn->pending_count = 0;
    sb_io_connect(conn->io, &conn->connect_op, conn->fd, &conn->address, conn_connect_done,
                  conn);
}

/* CLOSING -> CLOSED once no op of the connection is in flight. */
static void
conn_maybe_closed(struct sim_conn *conn)
{
    if (conn->state != SIM_CONN_CLOSING || conn->connecting || conn->receiving ||
        conn->sending) {
        return;
    }
    conn->state = SIM_CONN_CLOSED;
    conn->pending_count = 0;
    conn->hooks.on_closed(conn, conn->close_error);
}

void
sim_conn_close(struct sim_conn *conn, int error)
{
    if (conn->state != SIM_CONN_CONNECTING && conn->state != SIM_CONN_OPEN) {
        return;
    }
    conn->state = SIM_CONN_CLOSING;
    conn->close_error = error;
    sb_io_close(conn->io, conn->fd); /* Ops in flight complete with -ECANCELED. */
    conn->fd = -1;
    conn_maybe_closed(conn);
}

static void
conn_arm_recv(struct sim_conn *conn)
{
    conn->receiving = true;
    sb_io_recv(conn->io, &conn->recv_op, conn->fd, conn->in + conn->in_used,
               SIM_CONN_IN_BYTES - conn->in_used, conn_recv_done, conn);
}

static void
conn_connect_done(struct sb_io_op *op)
{
    struct sim_conn *conn = op->context;
    conn->connecting = false;
    if (conn->state != SIM_CONN_CONNECTING) {
        conn_maybe_closed(conn);
        return;
    }
    if (op->result < 0) {
        sim_conn_close(conn, op->result);
        return;
    }
    conn->state = SIM_CONN_OPEN;
    conn_arm_recv(conn);
    conn->hooks.on_open(conn);
}

static void
conn_violation(struct sim_conn *conn, const char *what)
{
    conn->hooks.on_violation(conn, what);
    sim_conn_close(conn, -EPROTO);
}

/* One whole response frame at conn->in: checks it answers the oldest request. */
static bool
conn_deliver(struct sim_conn *conn, const struct sb_frame *frame)
{
    char what[160];
    if (!sb_frame_header_is_response(&frame->header) || conn->pending_count == 0) {
        conn_violation(conn, "a frame that answers no request");
        return false;
    }
    struct sim_pending pending = conn->pending[conn->pending_head];
    if (frame->header.correlation_id != pending.correlation_id ||
        frame->header.api_key != pending.api_key) {
        snprintf(what, sizeof(what), "response out of order: correlation %u api %u, expected "
                 "correlation %u api %u", frame->header.correlation_id, frame->header.api_key,
                 pending.correlation_id, pending.api_key);
        conn_violation(conn, what);
        return false;
    }
    conn->pending_head = (conn->pending_head + 1) % SIM_CONN_PENDING_MAX;
    conn->pending_count--;
    conn->responses++;
    conn->hooks.on_response(conn, &pending, frame);
    return conn->state == SIM_CONN_OPEN;
}

/* Hands over every whole frame received; keeps a partial one. */
static void
conn_parse(struct sim_conn *conn)
{
    uint32_t start = 0;
    /* Bounded: each pass consumes a frame of at least 24 bytes. */
    while (conn->state == SIM_CONN_OPEN && conn->in_used - start >= SB_FRAME_HEADER_BYTES) {
        struct sb_frame frame;
        int result = sb_frame_decode(conn->in + start, conn->in_used - start,
                                     SIM_CONN_IN_BYTES - SB_FRAME_PREFIX_BYTES, &frame);
        if (result == -EAGAIN) {
            break;
        }
        if (result != 0) {
            conn_violation(conn, "a response frame that does not decode (length, flags, CRC)");
            return;
        }
        uint32_t total = (uint32_t)sb_frame_total_bytes(&frame.header);
        if (!conn_deliver(conn, &frame)) {
            return;
        }
        start += total;
    }
    memmove(conn->in, conn->in + start, conn->in_used - start);
    conn->in_used -= start;
}

static void
conn_recv_done(struct sb_io_op *op)
{
    struct sim_conn *conn = op->context;
    conn->receiving = false;
    if (conn->state != SIM_CONN_OPEN) {
        conn_maybe_closed(conn);
        return;
    }
    if (op->result <= 0) {
        sim_conn_close(conn, op->result == 0 ? -ECONNRESET : op->result);
        return;
    }
    conn->in_used += (uint32_t)op->result;
    conn_parse(conn);
    if (conn->state == SIM_CONN_OPEN) {
        if (conn->in_used == SIM_CONN_IN_BYTES) {
            conn_violation(conn, "a response larger than the client's buffer");
            return;
        }
        conn_arm_recv(conn);
    }
}

static void
conn_flush(struct sim_conn *conn)
{
    if (conn->sending || conn->out_used == 0 || conn->state != SIM_CONN_OPEN) {
        return;
    }
    conn->sending = true;
    conn->out_in_flight = conn->out_used;
    sb_io_send(conn->io, &conn->send_op, conn->fd, conn->out, conn->out_in_flight,
               conn_send_done, conn);
}

static void
conn_send_done(struct sb_io_op *op)
{
    struct sim_conn *conn = op->context;
    conn->sending = false;
    if (conn->state != SIM_CONN_OPEN) {
        conn_maybe_closed(conn);
        return;
    }
    if (op->result < 0) {
        sim_conn_close(conn, op->result);
        return;
    }
    uint32_t sent = (uint32_t)op->result;
    memmove(conn->out, conn->out + sent, conn->out_used - sent);
    conn->out_used -= sent;
    conn_flush(conn);
}

bool
sim_conn_can_send(const struct sim_conn *conn, uint32_t depth_max)
{
    return conn->state == SIM_CONN_OPEN && conn->pending_count < depth_max &&
           conn->pending_count < SIM_CONN_PENDING_MAX &&
           conn->out_used < SIM_CONN_OUT_BYTES / 2;
}

int
sim_conn_begin(struct sim_conn *conn, uint16_t api_key, uint16_t api_version,
               struct sb_wire_writer *writer)
{
    if (conn->state != SIM_CONN_OPEN || conn->pending_count == SIM_CONN_PENDING_MAX) {
        return -ENOSPC;
    }
    struct sb_frame_header header = {
        .api_key = api_key,
        .api_version = api_version,
        .correlation_id = conn->next_correlation,
    };
    conn->begun_api_key = api_key;
    sb_wire_writer_init(writer, conn->out + conn->out_used, SIM_CONN_OUT_BYTES - conn->out_used);
    return sb_frame_begin(writer, &header);
}

int
sim_conn_finish(struct sim_conn *conn, struct sb_wire_writer *writer, int encoded,
                uint64_t now_ns, uint64_t tag)
{
    int result = encoded != 0 ? encoded : sb_frame_finish(writer);
    if (result != 0) {
        return result;
    }
    conn->out_used += (uint32_t)sb_wire_writer_length(writer);
    uint32_t slot = (conn->pending_head + conn->pending_count) % SIM_CONN_PENDING_MAX;
    conn->pending[slot] = (struct sim_pending){.correlation_id = conn->next_correlation,
                                               .api_key = conn->begun_api_key,
                                               .sent_ns = now_ns, .tag = tag};
    conn->pending_count++;
    conn->next_correlation++;
    conn_flush(conn);
    return 0;
}

const struct sim_pending *
sim_conn_oldest(const struct sim_conn *conn)
{
    return conn->pending_count > 0 ? &conn->pending[conn->pending_head] : NULL;
}
