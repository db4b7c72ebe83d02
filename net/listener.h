/*
 * net/listener.h - a listening TCP socket with a multishot accept.
 *
 * sb_listener_open binds host:port (retrying for a few seconds while the
 * port is still held by a broker that just died), arms a multishot accept,
 * and re-arms it whenever the kernel ends it; every accepted socket goes to
 * `accepted`, which owns it from then on (typically sb_net_adopt, or a hand-
 * off to another shard). sb_listener_stop cancels the accept (sockets that
 * still arrive are closed); sb_listener_close releases the socket once the
 * shard's loop has ended. Runs on the shard's own thread.
 */
#ifndef SB_NET_LISTENER_H
#define SB_NET_LISTENER_H

#include <stdbool.h>
#include <stdint.h>

#include "core/io.h"

struct sb_listener;

/* A new connection's socket `fd`, owned by the callee. */
typedef void (*sb_listener_callback)(struct sb_listener *listener, int fd);

struct sb_listener {
    struct sb_io *io;               /* The shard's io. */
    int fd;                         /* Listening socket, or -1. */
    uint16_t port;                  /* The bound port (the one picked when 0 was asked). */
    bool stopping;                  /* sb_listener_stop was called. */
    struct sb_io_op accept_op;      /* Multishot accept. */
    struct sb_io_op cancel_op;      /* Cancelling it at stop. */
    sb_listener_callback accepted;  /* Where accepted sockets go. */
    void *context;                  /* The callback's, unused by the listener. */
};

/* Listens on IPv4 `host`:`port` (0: any free port) and starts accepting. Returns 0, -EINVAL
 * for a host that is not an IPv4 address, or the listen error (logged). On failure nothing is
 * left open. `host` is borrowed for the call. */
int sb_listener_open(struct sb_listener *listener, struct sb_io *io, const char *host,
                     uint16_t port, sb_listener_callback accepted, void *context);
/* Stops accepting; idempotent. */
void sb_listener_stop(struct sb_listener *listener);
/* Closes the socket (after the loop ended). Idempotent, and nothing on a zeroed listener
 * that was never opened. */
void sb_listener_close(struct sb_listener *listener);

#endif /* SB_NET_LISTENER_H */
