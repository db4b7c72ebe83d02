/*
 * core/io_sim_net.c - simulated TCP for the sim io backend (the disk half and
 * the world are in io_sim.c; shared types in io_sim_internal.h). Entirely in
 * memory: no real socket is ever created.
 *
 * Start reading at sb_sim_net_queue (submission) and sb_sim_net_execute (an
 * ACCEPT or RECV whose event is due).
 *
 * A socket is a slot of a fixed table; its virtual descriptor is
 * SB_SIM_SOCKET_FD_BASE + slot, and the lowest free slot is taken, as the
 * kernel takes the lowest free descriptor. States:
 *
 *   FREE --sb_sim_net_socket--> OPEN --queue_connect--> CONNECTED
 *   FREE --sb_sim_net_listen--> LISTENING
 *   FREE --queue_connect (server end, in_backlog)--> CONNECTED
 *   any --sb_sim_net_close--> FREE      (sb_sim_net_wipe: all at power loss)
 *
 * Bytes travel as chunks queued on the receiving socket, each with an arrival
 * time max(previous arrival, now + seeded latency), so one direction never
 * reorders. A close queues an end-of-stream mark the same way, after all
 * bytes. A reset (seeded per SEND) drops both ends' queues; from then on every
 * op on either end fails with -ECONNRESET.
 *
 * Each socket holds at most one pending RECV and one pending ACCEPT (a second
 * one fails with -EBUSY). Such an op is "parked" on the socket until there is
 * something to deliver, then "scheduled" as an event at the time that thing
 * arrives; when the event runs it delivers, re-parks, or re-schedules. CONNECT,
 * SEND and SENDMSG take effect when submitted and deliver their decided result
 * by event (connect after the handshake latency, sends at once). A send is
 * never blocked: past SB_SIM_SOCKET_INBOUND_BYTES_MAX unreceived bytes towards
 * one socket it fails with -ENOBUFS.
 */
#include <errno.h>
#include <string.h>

#include "core/alloc.h"
#include "core/assert.h"
#include "core/io_sim_internal.h"
#include "core/limits.h"

/* Ports handed out for listen(port 0), and local ports of connecting sockets. */
#define NET_LISTEN_PORT_FIRST 40000u
#define NET_CONNECT_PORT_FIRST 50000u
#define NET_PORT_LAST 65535u
/* No socket slot. */
#define NET_NONE UINT32_MAX

static_assert(SB_SIM_SOCKETS_MAX < NET_PORT_LAST - NET_LISTEN_PORT_FIRST,
              "an ephemeral port is always free");

enum net_socket_state {
    NET_FREE = 0,
    NET_OPEN,
    NET_LISTENING,
    NET_CONNECTED,
};

/* Bytes on their way to a socket. */
struct net_chunk {
    struct net_chunk *next; /* The chunk that arrives after this one (owned). */
    uint64_t arrival_ns;    /* When the bytes become readable. */
    uint32_t length;        /* Payload bytes. */
    uint32_t consumed;      /* Payload bytes already received. */
    uint8_t bytes[];        /* Payload. */
};

struct net_socket {
    uint8_t state;              /* enum net_socket_state. */
    bool reset;                 /* The connection was reset: every op fails -ECONNRESET. */
    bool fin;                   /* The peer closed: end of stream at fin_ns, after all bytes. */
    bool in_backlog;            /* Server end not accepted yet (its descriptor is unknown). */
    bool recv_scheduled;        /* recv_op has an event in recv_io's heap (else parked). */
    bool accept_scheduled;      /* accept_op has an event in accept_io's heap (else parked). */
    uint16_t port;              /* Local port (0 while OPEN). */
    uint16_t peer_port;         /* Remote port of a connected socket. */
    uint32_t peer;              /* Slot of the other end; NET_NONE once it closed. */
    uint32_t backlog;           /* Listener: most connections waiting for accept. */
    uint32_t ready_count;       /* Listener: connections waiting for accept. */
    uint32_t ready_head;        /* Listener: oldest waiting server end (FIFO via ready_next). */
    uint32_t ready_tail;        /* Listener: newest waiting server end. */
    uint32_t ready_next;        /* Waiting server end: the next in its listener's FIFO. */
    uint64_t ready_ns;          /* Waiting server end: when its handshake completes. */
    uint64_t fin_ns;            /* When the end of stream arrives (valid if fin). */
    uint64_t last_arrival_ns;   /* Arrival of the newest chunk or mark queued here. */
    uint64_t inbound_bytes;     /* Unreceived payload bytes queued here. */
    struct net_chunk *inbound_head; /* Chunks in arrival order (owned). */
    struct net_chunk *inbound_tail; /* The newest chunk. */
    struct sb_io_op *recv_op;   /* The pending RECV, if any (borrowed). */
    struct sim_io *recv_io;     /* The io recv_op was started on (borrowed). */
    struct sb_io_op *accept_op; /* Listener: the pending ACCEPT, if any (borrowed). */
    struct sim_io *accept_io;   /* The io accept_op was started on (borrowed). */
};

struct sim_net {
    struct sb_sim *sim;         /* The world (borrowed). */
    uint32_t next_listen_port;  /* Next port to try for listen(port 0). */
    uint32_t next_connect_port; /* Next local port of a connecting socket. */
    struct net_socket sockets[SB_SIM_SOCKETS_MAX]; /* By descriptor - SB_SIM_SOCKET_FD_BASE. */
};

int
sb_sim_net_create(struct sb_sim *sim, struct sim_net **net_out)
{
    SB_ASSERT(sim != NULL);
    SB_ASSERT(net_out != NULL);
    struct sim_net *net = sb_alloc(sizeof(*net));
    if (net == NULL) {
        return -ENOMEM;
    }
    net->sim = sim;
    net->next_listen_port = NET_LISTEN_PORT_FIRST;
    net->next_connect_port = NET_CONNECT_PORT_FIRST;
    *net_out = net;
    return 0;
}

void
sb_sim_net_destroy(struct sim_net *net)
{
    if (net == NULL) {
        return;
    }
    sb_sim_net_wipe(net);
    sb_free(net);
}

static void
net_inbound_free(struct net_socket *socket)
{
    struct net_chunk *chunk = socket->inbound_head;
    /* Bounded: every chunk holds at least one of the SB_SIM_SOCKET_INBOUND_BYTES_MAX bytes. */
    for (uint32_t index = 0; chunk != NULL; index++) {
        SB_ASSERT(index < SB_SIM_SOCKET_INBOUND_BYTES_MAX);
        struct net_chunk *next = chunk->next;
        sb_free(chunk);
        chunk = next;
    }
    socket->inbound_head = NULL;
    socket->inbound_tail = NULL;
    socket->inbound_bytes = 0;
}

void
sb_sim_net_wipe(struct sim_net *net)
{
    for (uint32_t index = 0; index < SB_SIM_SOCKETS_MAX; index++) {
        net_inbound_free(&net->sockets[index]);
        memset(&net->sockets[index], 0, sizeof(net->sockets[index]));
    }
}

/* The socket a caller's descriptor names; server ends still in a backlog have no caller yet. */
static struct net_socket *
net_socket_find(struct sim_net *net, int fd)
{
    if (fd < SB_SIM_SOCKET_FD_BASE || fd >= SB_SIM_SOCKET_FD_BASE + SB_SIM_SOCKETS_MAX) {
        return NULL;
    }
    struct net_socket *socket = &net->sockets[fd - SB_SIM_SOCKET_FD_BASE];
    return socket->state == NET_FREE || socket->in_backlog ? NULL : socket;
}

static uint32_t
net_socket_index(const struct sim_net *net, const struct net_socket *socket)
{
    SB_ASSERT(socket >= net->sockets && socket < net->sockets + SB_SIM_SOCKETS_MAX);
    return (uint32_t)(socket - net->sockets);
}

/* The lowest free slot, like the kernel's lowest free descriptor; NULL when all are used. */
static struct net_socket *
net_socket_allocate(struct sim_net *net, enum net_socket_state state)
{
    SB_ASSERT(state != NET_FREE);
    for (uint32_t index = 0; index < SB_SIM_SOCKETS_MAX; index++) {
        struct net_socket *socket = &net->sockets[index];
        if (socket->state == NET_FREE) {
            memset(socket, 0, sizeof(*socket));
            socket->state = (uint8_t)state;
            socket->peer = NET_NONE;
            socket->ready_head = NET_NONE;
            socket->ready_tail = NET_NONE;
            socket->ready_next = NET_NONE;
            return socket;
        }
    }
    return NULL;
}

/* Frees a slot; the other end, if any, forgets it (it has been reset or told of the close). */
static void
net_socket_release(struct sim_net *net, struct net_socket *socket)
{
    SB_ASSERT(socket->recv_op == NULL);
    SB_ASSERT(socket->accept_op == NULL);
    if (socket->peer != NET_NONE) {
        struct net_socket *peer = &net->sockets[socket->peer];
        SB_ASSERT(peer->peer == net_socket_index(net, socket));
        peer->peer = NET_NONE;
    }
    net_inbound_free(socket);
    memset(socket, 0, sizeof(*socket));
}

static int
net_socket_fd(const struct sim_net *net, const struct net_socket *socket)
{
    return SB_SIM_SOCKET_FD_BASE + (int)net_socket_index(net, socket);
}

int
sb_sim_net_socket(struct sim_io *io)
{
    struct sim_net *net = io->sim->net;
    struct net_socket *socket = net_socket_allocate(net, NET_OPEN);
    if (socket == NULL) {
        return -EMFILE;
    }
    return net_socket_fd(net, socket);
}

static struct net_socket *
listen_find(struct sim_net *net, uint32_t port)
{
    for (uint32_t index = 0; index < SB_SIM_SOCKETS_MAX; index++) {
        struct net_socket *socket = &net->sockets[index];
        if (socket->state == NET_LISTENING && socket->port == port) {
            return socket;
        }
    }
    return NULL;
}

/* The next port from NET_LISTEN_PORT_FIRST up (wrapping) that no listener holds. */
static uint32_t
listen_ephemeral(struct sim_net *net)
{
    /* Each busy candidate is held by a listener: SB_SIM_SOCKETS_MAX + 1 tries find one. */
    for (uint32_t attempt = 0; attempt <= SB_SIM_SOCKETS_MAX; attempt++) {
        uint32_t port = net->next_listen_port;
        net->next_listen_port = port == NET_PORT_LAST ? NET_LISTEN_PORT_FIRST : port + 1;
        if (listen_find(net, port) == NULL) {
            return port;
        }
    }
    SB_ASSERT(false && "no ephemeral port although fewer listeners than ports");
    return 0;
}

int
sb_sim_net_listen(struct sim_io *io, const struct sockaddr_in *address, int backlog)
{
    struct sim_net *net = io->sim->net;
    SB_ASSERT(address != NULL);
    uint32_t port = ntohs(address->sin_port);
    if (port != 0 && listen_find(net, port) != NULL) {
        return -EADDRINUSE;
    }
    struct net_socket *socket = net_socket_allocate(net, NET_LISTENING);
    if (socket == NULL) {
        return -EMFILE;
    }
    socket->port = (uint16_t)(port != 0 ? port : listen_ephemeral(net));
    int64_t clamped = backlog < 1 ? 1 : backlog;
    socket->backlog = (uint32_t)sb_min_u64((uint64_t)clamped, SB_SIM_BACKLOG_MAX);
    return net_socket_fd(net, socket);
}

int
sb_sim_net_local_port(struct sim_io *io, int fd)
{
    struct net_socket *socket = net_socket_find(io->sim->net, fd);
    if (socket == NULL) {
        return -EBADF;
    }
    return socket->port;
}

int
sb_sim_net_connected(struct sim_io *io, int fd)
{
    struct net_socket *socket = net_socket_find(io->sim->net, fd);
    if (socket == NULL) {
        return -EBADF;
    }
    return socket->state == NET_CONNECTED ? 0 : -ENOTCONN;
}

/* ---- Close and reset -------------------------------------------------------------------- */

static void net_wake_receiver(struct sim_net *net, struct net_socket *socket);
static void close_listener(struct sim_net *net, struct net_socket *listener);
static void close_connected(struct sim_net *net, struct net_socket *socket);

/* Pending ops on the descriptor complete with -ECANCELED; the peer sees end of stream. */
int
sb_sim_net_close(struct sim_io *io, int fd)
{
    struct sim_net *net = io->sim->net;
    struct net_socket *socket = net_socket_find(net, fd);
    if (socket == NULL) {
        return -EBADF;
    }
    /* Scheduled ops (and decided results) first, then parked ops, each due now. */
    sb_sim_events_cancel_fd(net->sim, fd);
    uint64_t now_ns = net->sim->now_ns;
    if (socket->recv_op != NULL && !socket->recv_scheduled) {
        sb_sim_event_push(socket->recv_io, socket->recv_op, now_ns, SIM_EVENT_COMPLETE,
                          -ECANCELED);
    }
    if (socket->accept_op != NULL && !socket->accept_scheduled) {
        sb_sim_event_push(socket->accept_io, socket->accept_op, now_ns, SIM_EVENT_COMPLETE,
                          -ECANCELED);
    }
    socket->recv_op = NULL;
    socket->recv_io = NULL;
    socket->accept_op = NULL;
    socket->accept_io = NULL;
    if (socket->state == NET_LISTENING) {
        close_listener(net, socket);
    } else if (socket->state == NET_CONNECTED) {
        close_connected(net, socket);
    }
    net_socket_release(net, socket);
    return 0;
}

/* Both ends drop their queued bytes; a pending receive on either learns at once. */
static void
net_reset(struct sim_net *net, struct net_socket *socket)
{
    struct net_socket *ends[2] = {socket, NULL};
    if (socket->peer != NET_NONE) {
        ends[1] = &net->sockets[socket->peer];
    }
    for (uint32_t index = 0; index < SB_ARRAY_COUNT(ends); index++) {
        if (ends[index] != NULL) {
            ends[index]->reset = true;
            net_inbound_free(ends[index]);
            net_wake_receiver(net, ends[index]);
        }
    }
}

/* Connections nobody accepted are reset: their clients see -ECONNRESET. */
static void
close_listener(struct sim_net *net, struct net_socket *listener)
{
    SB_ASSERT(listener->ready_count <= SB_SIM_BACKLOG_MAX);
    while (listener->ready_count > 0) {
        struct net_socket *server = &net->sockets[listener->ready_head];
        SB_ASSERT(server->in_backlog);
        listener->ready_head = server->ready_next;
        listener->ready_count--;
        net_reset(net, server);
        server->in_backlog = false;
        net_socket_release(net, server);
    }
    listener->ready_tail = NET_NONE;
}

/* The peer gets end of stream after every byte already sent to it. */
static void
close_connected(struct sim_net *net, struct net_socket *socket)
{
    if (socket->peer == NET_NONE) {
        return;
    }
    struct net_socket *peer = &net->sockets[socket->peer];
    if (peer->reset) {
        return;
    }
    struct sb_sim *sim = net->sim;
    uint64_t latency_ns = sb_sim_uniform(sim, sim->faults.net_latency_min_ns,
                                         sim->faults.net_latency_max_ns);
    peer->fin = true;
    peer->fin_ns = sb_max_u64(peer->last_arrival_ns, sim->now_ns + latency_ns);
    peer->last_arrival_ns = peer->fin_ns;
    net_wake_receiver(net, peer);
}

/* ---- Submission ------------------------------------------------------------------------- */

static int queue_accept(struct sim_io *io, struct sb_io_op *op);
static int queue_connect(struct sim_io *io, struct sb_io_op *op);
static int queue_recv(struct sim_io *io, struct sb_io_op *op);
static int queue_send(struct sim_io *io, struct sb_io_op *op);

void
sb_sim_net_queue(struct sim_io *io, struct sb_io_op *op)
{
    SB_ASSERT(op->state == SB_IO_OP_IN_FLIGHT);
    int result = 0;
    switch (op->kind) {
    case SB_IO_OP_ACCEPT:
        result = queue_accept(io, op);
        break;
    case SB_IO_OP_CONNECT:
        result = queue_connect(io, op);
        break;
    case SB_IO_OP_RECV:
        result = queue_recv(io, op);
        break;
    case SB_IO_OP_SEND:
    case SB_IO_OP_SENDMSG:
        result = queue_send(io, op);
        break;
    default:
        SB_ASSERT(false && "not a socket op");
    }
    /* Helpers return 0 once the op is parked or scheduled, or -errno to fail it now. */
    if (result < 0) {
        sb_sim_event_push(io, op, io->sim->now_ns, SIM_EVENT_COMPLETE, result);
    }
}

/* Schedules a parked ACCEPT when a connection is waiting. */
static void
net_wake_acceptor(struct sim_net *net, struct net_socket *listener)
{
    if (listener->accept_op == NULL || listener->accept_scheduled ||
        listener->ready_count == 0) {
        return;
    }
    const struct net_socket *server = &net->sockets[listener->ready_head];
    uint64_t due_ns = sb_max_u64(net->sim->now_ns, server->ready_ns);
    sb_sim_event_push(listener->accept_io, listener->accept_op, due_ns, SIM_EVENT_EXECUTE, 0);
    listener->accept_scheduled = true;
}

/* Schedules a parked RECV when something will arrive: bytes, end of stream or a reset. */
static void
net_wake_receiver(struct sim_net *net, struct net_socket *socket)
{
    if (socket->recv_op == NULL || socket->recv_scheduled) {
        return;
    }
    uint64_t due_ns;
    if (socket->reset) {
        due_ns = net->sim->now_ns;
    } else if (socket->inbound_head != NULL) {
        due_ns = socket->inbound_head->arrival_ns;
    } else if (socket->fin) {
        due_ns = socket->fin_ns;
    } else {
        return;
    }
    due_ns = sb_max_u64(due_ns, net->sim->now_ns);
    sb_sim_event_push(socket->recv_io, socket->recv_op, due_ns, SIM_EVENT_EXECUTE, 0);
    socket->recv_scheduled = true;
}

static int
queue_accept(struct sim_io *io, struct sb_io_op *op)
{
    struct sim_net *net = io->sim->net;
    struct net_socket *listener = net_socket_find(net, op->fd);
    if (listener == NULL) {
        return op->fd < SB_SIM_SOCKET_FD_BASE ? -ENOTSOCK : -EBADF;
    }
    if (listener->state != NET_LISTENING) {
        return -EINVAL;
    }
    if (listener->accept_op != NULL) {
        return -EBUSY;
    }
    listener->accept_op = op;
    listener->accept_io = io;
    listener->accept_scheduled = false;
    net_wake_acceptor(net, listener);
    return 0;
}

/* Refused (-ECONNREFUSED after the latency) without a listener, with a full backlog or a full
 * socket table; otherwise both ends exist at once and the server end waits for accept. */
static int
queue_connect(struct sim_io *io, struct sb_io_op *op)
{
    struct sim_net *net = io->sim->net;
    struct sb_sim *sim = io->sim;
    struct net_socket *client = net_socket_find(net, op->fd);
    if (client == NULL) {
        return op->fd < SB_SIM_SOCKET_FD_BASE ? -ENOTSOCK : -EBADF;
    }
    if (client->state != NET_OPEN) {
        return client->state == NET_CONNECTED ? -EISCONN : -EINVAL;
    }
    SB_ASSERT(op->u.address != NULL);
    uint64_t due_ns = sim->now_ns + sb_sim_uniform(sim, sim->faults.net_latency_min_ns,
                                                   sim->faults.net_latency_max_ns);
    struct net_socket *listener = listen_find(net, ntohs(op->u.address->sin_port));
    struct net_socket *server = NULL;
    if (listener != NULL && listener->ready_count < listener->backlog) {
        server = net_socket_allocate(net, NET_CONNECTED);
    }
    if (server == NULL) {
        sb_sim_event_push(io, op, due_ns, SIM_EVENT_COMPLETE, -ECONNREFUSED);
        return 0;
    }
    uint32_t server_index = net_socket_index(net, server);
    client->state = NET_CONNECTED;
    client->port = (uint16_t)net->next_connect_port;
    net->next_connect_port = net->next_connect_port == NET_PORT_LAST
                                 ? NET_CONNECT_PORT_FIRST : net->next_connect_port + 1;
    client->peer = server_index;
    client->peer_port = listener->port;
    server->in_backlog = true;
    server->port = listener->port;
    server->peer = net_socket_index(net, client);
    server->peer_port = client->port;
    server->ready_ns = due_ns;
    if (listener->ready_count == 0) {
        listener->ready_head = server_index;
    } else {
        net->sockets[listener->ready_tail].ready_next = server_index;
    }
    listener->ready_tail = server_index;
    listener->ready_count++;
    net_wake_acceptor(net, listener);
    sb_sim_event_push(io, op, due_ns, SIM_EVENT_COMPLETE, 0);
    return 0;
}

static int
queue_recv(struct sim_io *io, struct sb_io_op *op)
{
    struct sim_net *net = io->sim->net;
    struct net_socket *socket = net_socket_find(net, op->fd);
    if (socket == NULL) {
        return op->fd < SB_SIM_SOCKET_FD_BASE ? -ENOTSOCK : -EBADF;
    }
    if (socket->reset) {
        return -ECONNRESET;
    }
    if (socket->state != NET_CONNECTED) {
        return -ENOTCONN;
    }
    if (socket->recv_op != NULL) {
        return -EBUSY;
    }
    socket->recv_op = op;
    socket->recv_io = io;
    socket->recv_scheduled = false;
    net_wake_receiver(net, socket);
    return 0;
}

static uint64_t
send_length(const struct sb_io_op *op)
{
    if (op->kind == SB_IO_OP_SEND) {
        return op->length;
    }
    const struct msghdr *message = op->u.message;
    SB_ASSERT(message != NULL);
    SB_ASSERT(message->msg_iovlen <= SB_SIM_VECTORS_MAX);
    uint64_t total = 0;
    for (size_t index = 0; index < message->msg_iovlen; index++) {
        total += message->msg_iov[index].iov_len;
    }
    return total;
}

static int send_enqueue(struct sim_net *net, struct net_socket *peer, const struct sb_io_op *op,
                        uint32_t length);

/* The bytes are on their way when this returns; the send completes at once with them all. */
static int
queue_send(struct sim_io *io, struct sb_io_op *op)
{
    struct sim_net *net = io->sim->net;
    struct net_socket *socket = net_socket_find(net, op->fd);
    if (socket == NULL) {
        return op->fd < SB_SIM_SOCKET_FD_BASE ? -ENOTSOCK : -EBADF;
    }
    if (socket->reset) {
        return -ECONNRESET;
    }
    if (socket->state != NET_CONNECTED) {
        return -ENOTCONN;
    }
    if (socket->peer == NET_NONE) {
        return -EPIPE;
    }
    uint64_t length = send_length(op);
    if (length > INT32_MAX) {
        return -EMSGSIZE;
    }
    if (sb_sim_chance(io->sim, io->sim->faults.connection_reset_ppm)) {
        net_reset(net, socket);
        return -ECONNRESET;
    }
    struct net_socket *peer = &net->sockets[socket->peer];
    if (peer->inbound_bytes + length > SB_SIM_SOCKET_INBOUND_BYTES_MAX) {
        return -ENOBUFS;
    }
    if (length > 0) {
        int result = send_enqueue(net, peer, op, (uint32_t)length);
        if (result < 0) {
            return result;
        }
    }
    sb_sim_event_push(io, op, io->sim->now_ns, SIM_EVENT_COMPLETE, (int32_t)length);
    return 0;
}

static int
send_enqueue(struct sim_net *net, struct net_socket *peer, const struct sb_io_op *op,
             uint32_t length)
{
    struct sb_sim *sim = net->sim;
    SB_ASSERT(length > 0);
    SB_ASSERT(!peer->fin && !peer->reset);
    struct net_chunk *chunk = sb_alloc(sizeof(*chunk) + length);
    if (chunk == NULL) {
        return -ENOMEM;
    }
    if (op->kind == SB_IO_OP_SEND) {
        memcpy(chunk->bytes, op->u.source, length);
    } else {
        uint32_t copied = 0;
        for (size_t index = 0; index < op->u.message->msg_iovlen; index++) {
            const struct iovec *vector = &op->u.message->msg_iov[index];
            if (vector->iov_len > 0) {
                memcpy(chunk->bytes + copied, vector->iov_base, vector->iov_len);
                copied += (uint32_t)vector->iov_len;
            }
        }
        SB_ASSERT(copied == length);
    }
    uint64_t latency_ns = sb_sim_uniform(sim, sim->faults.net_latency_min_ns,
                                         sim->faults.net_latency_max_ns);
    chunk->length = length;
    chunk->arrival_ns = sb_max_u64(peer->last_arrival_ns, sim->now_ns + latency_ns);
    peer->last_arrival_ns = chunk->arrival_ns;
    if (peer->inbound_tail != NULL) {
        peer->inbound_tail->next = chunk;
    } else {
        peer->inbound_head = chunk;
    }
    peer->inbound_tail = chunk;
    peer->inbound_bytes += length;
    net_wake_receiver(net, peer);
    return 0;
}

/* ---- Due ACCEPT and RECV ---------------------------------------------------------------- */

static void execute_accept(struct sim_io *io, struct sb_io_op *op);
static void execute_recv(struct sim_io *io, struct sb_io_op *op);

void
sb_sim_net_execute(struct sim_io *io, struct sb_io_op *op)
{
    SB_ASSERT(op->state == SB_IO_OP_IN_FLIGHT);
    if (op->kind == SB_IO_OP_ACCEPT) {
        execute_accept(io, op);
    } else {
        SB_ASSERT(op->kind == SB_IO_OP_RECV);
        execute_recv(io, op);
    }
}

/* Takes the oldest waiting connection; a multishot accept re-arms before its callback runs,
 * so the callback may cancel it or close the listener. */
static void
execute_accept(struct sim_io *io, struct sb_io_op *op)
{
    struct sim_net *net = io->sim->net;
    struct net_socket *listener = net_socket_find(net, op->fd);
    SB_ASSERT(listener != NULL && listener->accept_op == op);
    SB_ASSERT(listener->ready_count > 0);
    listener->accept_scheduled = false;
    struct net_socket *server = &net->sockets[listener->ready_head];
    SB_ASSERT(server->in_backlog);
    SB_ASSERT(server->ready_ns <= net->sim->now_ns);
    listener->ready_head = server->ready_next;
    listener->ready_count--;
    if (listener->ready_count == 0) {
        listener->ready_tail = NET_NONE;
    }
    server->in_backlog = false;
    server->ready_next = NET_NONE;
    if (op->u.address != NULL && op->address_length >= sizeof(struct sockaddr_in)) {
        memset(op->u.address, 0, sizeof(*op->u.address));
        op->u.address->sin_family = AF_INET;
        op->u.address->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        op->u.address->sin_port = htons(server->peer_port);
    }
    int fd = net_socket_fd(net, server);
    if (op->multishot) {
        net_wake_acceptor(net, listener);
        sb_sim_complete(io, op, fd, true, false, 0);
        return;
    }
    listener->accept_op = NULL;
    listener->accept_io = NULL;
    sb_sim_complete(io, op, fd, false, false, 0);
}

/* Copies bytes that have arrived, up to `capacity`, freeing chunks as they empty. */
static uint32_t
recv_copy(struct net_socket *socket, uint64_t now_ns, uint8_t *destination, uint32_t capacity)
{
    uint32_t copied = 0;
    /* Bounded: each pass empties a chunk or fills the destination. */
    for (uint32_t index = 0; index < SB_SIM_SOCKET_INBOUND_BYTES_MAX; index++) {
        struct net_chunk *chunk = socket->inbound_head;
        if (chunk == NULL || chunk->arrival_ns > now_ns || copied == capacity) {
            break;
        }
        uint32_t part = (uint32_t)sb_min_u64(chunk->length - chunk->consumed, capacity - copied);
        memcpy(destination + copied, chunk->bytes + chunk->consumed, part);
        copied += part;
        chunk->consumed += part;
        socket->inbound_bytes -= part;
        if (chunk->consumed == chunk->length) {
            socket->inbound_head = chunk->next;
            if (socket->inbound_head == NULL) {
                socket->inbound_tail = NULL;
            }
            sb_free(chunk);
        }
    }
    return copied;
}

static void
recv_finish(struct sim_io *io, struct net_socket *socket, struct sb_io_op *op, int32_t result)
{
    socket->recv_op = NULL;
    socket->recv_io = NULL;
    sb_sim_complete(io, op, result, false, false, 0);
}

/* Delivers what has arrived (bytes, then end of stream as 0), or the reset; if nothing has
 * arrived yet, waits again. A multishot receive takes the oldest free buffer of its group
 * (-ENOBUFS ends it when there is none) and re-arms before its callback runs. */
static void
execute_recv(struct sim_io *io, struct sb_io_op *op)
{
    struct sim_net *net = io->sim->net;
    uint64_t now_ns = io->sim->now_ns;
    struct net_socket *socket = net_socket_find(net, op->fd);
    SB_ASSERT(socket != NULL && socket->recv_op == op);
    socket->recv_scheduled = false;
    if (socket->reset) {
        recv_finish(io, socket, op, -ECONNRESET);
        return;
    }
    const struct net_chunk *head = socket->inbound_head;
    if (head == NULL && socket->fin && socket->fin_ns <= now_ns) {
        recv_finish(io, socket, op, 0);
        return;
    }
    if (head == NULL || head->arrival_ns > now_ns) {
        net_wake_receiver(net, socket);
        return;
    }
    if (!op->multishot) {
        uint32_t count = recv_copy(socket, now_ns, op->u.buffer, op->length);
        recv_finish(io, socket, op, (int32_t)count);
        return;
    }
    uint16_t buffer_id = 0;
    uint32_t buffer_bytes = 0;
    uint8_t *buffer = sb_sim_buffer_take(io, op->buffer_group, &buffer_id, &buffer_bytes);
    if (buffer == NULL) {
        recv_finish(io, socket, op, -ENOBUFS);
        return;
    }
    uint32_t count = recv_copy(socket, now_ns, buffer, buffer_bytes);
    net_wake_receiver(net, socket);
    sb_sim_complete(io, op, (int32_t)count, true, true, buffer_id);
}

bool
sb_sim_net_forget(struct sim_io *io, struct sb_io_op *op)
{
    struct net_socket *socket = net_socket_find(io->sim->net, op->fd);
    if (socket == NULL) {
        return false;
    }
    if (socket->recv_op == op && socket->recv_io == io) {
        socket->recv_op = NULL;
        socket->recv_io = NULL;
        socket->recv_scheduled = false;
        return true;
    }
    if (socket->accept_op == op && socket->accept_io == io) {
        socket->accept_op = NULL;
        socket->accept_io = NULL;
        socket->accept_scheduled = false;
        return true;
    }
    return false;
}
