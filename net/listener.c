/*
 * net/listener.c - listening sockets: bind with a bounded retry, multishot
 * accept re-armed when the kernel ends it, cancel at stop. See
 * net/listener.h for the contract.
 */
#include "net/listener.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <time.h>

#include "core/assert.h"
#include "core/error.h"
#include "core/log.h"

/* Connections the kernel queues before they are accepted. */
#define LISTENER_BACKLOG 1024
/* Start-up retries while the port is still held (a broker that just died by kill -9 keeps
 * it while the kernel tears down its io_uring), and the pause between them. */
#define LISTENER_RETRIES_MAX 100
#define LISTENER_RETRY_PAUSE_MS 50

static void listener_accept_done(struct sb_io_op *op);

static void
listener_arm(struct sb_listener *listener)
{
    SB_ASSERT(listener->fd >= 0 && !listener->stopping);
    sb_io_accept(listener->io, &listener->accept_op, listener->fd, true, NULL,
                 listener_accept_done, listener);
}

int
sb_listener_open(struct sb_listener *listener, struct sb_io *io, const char *host,
                 uint16_t port, sb_listener_callback accepted, void *context)
{
    SB_ASSERT(accepted != NULL);
    memset(listener, 0, sizeof(*listener));
    listener->io = io;
    listener->fd = -1;
    listener->accepted = accepted;
    listener->context = context;
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(port)};
    if (inet_pton(AF_INET, host, &address.sin_addr) != 1) {
        sb_log_error("listen address is not an IPv4 address", "host=%s", host);
        return -EINVAL;
    }
    int fd = sb_io_listen(io, &address, LISTENER_BACKLOG);
    /* Bounded: LISTENER_RETRIES_MAX pauses (none on the simulator, whose ports are free as
     * soon as they are closed). */
    int attempts = sb_io_backend(io) == SB_IO_BACKEND_URING ? LISTENER_RETRIES_MAX : 0;
    for (int attempt = 0; fd == -EADDRINUSE && attempt < attempts; attempt++) {
        struct timespec pause = {.tv_nsec = LISTENER_RETRY_PAUSE_MS * 1000 * 1000};
        nanosleep(&pause, NULL);
        fd = sb_io_listen(io, &address, LISTENER_BACKLOG);
    }
    if (fd < 0) {
        sb_log_error("cannot listen", "host=%s port=%u error=\"%s\"", host, port,
                     sb_strerror(fd));
        return fd;
    }
    listener->fd = fd;
    listener->port = port != 0 ? port : (uint16_t)sb_io_local_port(io, fd);
    listener_arm(listener);
    return 0;
}

static void
listener_accept_done(struct sb_io_op *op)
{
    struct sb_listener *listener = op->context;
    if (op->result >= 0) {
        if (listener->stopping) {
            sb_io_close(listener->io, op->result);
        } else {
            listener->accepted(listener, op->result);
        }
    } else if (op->result != -ECANCELED) {
        sb_log_warn("accept failed", "port=%u error=\"%s\"", listener->port,
                    sb_strerror(op->result));
    }
    if (!op->more && !listener->stopping) {
        listener_arm(listener);
    }
}

static void
listener_cancel_done(struct sb_io_op *op)
{
    (void)op; /* The accept itself completes with -ECANCELED and is not re-armed. */
}

void
sb_listener_stop(struct sb_listener *listener)
{
    if (listener->stopping) {
        return;
    }
    listener->stopping = true;
    if (listener->accept_op.state != SB_IO_OP_IDLE) {
        sb_io_cancel(listener->io, &listener->cancel_op, &listener->accept_op,
                     listener_cancel_done, listener);
    }
}

void
sb_listener_close(struct sb_listener *listener)
{
    if (listener->io != NULL && listener->fd >= 0) {
        sb_io_close(listener->io, listener->fd);
        listener->fd = -1;
    }
}
