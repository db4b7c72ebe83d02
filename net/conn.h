/*
 * net/conn.h - the connections of one shard, and the contract with the
 * layer above (the broker; or a test's echo layer).
 *
 * The upper layer embeds a struct sb_net in its shard state and a struct
 * sb_net_request in its request (SB_CONTAINER_OF gets back out). net/ owns
 * the sockets, the receive buffers and the order of answers; the upper layer
 * owns request slots and their memory, and is reached through struct
 * sb_net_callbacks:
 *
 *   bytes in --prefix_decode--> request_acquire(frame size) --fill-->
 *   request_start --(upper layer works)--> sb_net_request_complete -->
 *   sent in request order, coalesced --> request_release
 *
 * A frame the transport refuses (over max_frame_bytes, malformed prefix,
 * connection over max_connections) is answered by the framer's error frame
 * in a request slot without a frame buffer, and the connection closes after
 * sending it. When the upper layer has no slot or memory (acquire returns
 * NULL) or the connection has max_inflight_requests unanswered, the bytes
 * wait and receiving stops until sb_net_resume finds room: back-pressure,
 * never dropped input.
 *
 * Every function here runs on the shard's own thread.
 */
#ifndef SB_NET_CONN_H
#define SB_NET_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/io.h"
#include "core/pool.h"
#include "core/timer.h"
#include "net/framer.h"

/* Provided buffers for multishot receive: one group per shard's io. */
#define SB_NET_RECV_BUFFERS 256u
#define SB_NET_RECV_BUFFER_BYTES (16u << 10)
#define SB_NET_RECV_GROUP 0
/* Answers coalesced into one sendmsg. */
#define SB_NET_SEND_VECTORS_MAX 32u
/* Connections over max_connections a shard keeps, per shard, until it has answered their first
 * frame with the framer's REFUSED error (docs/protocol.md: TOO_MANY_CONNECTIONS); more are
 * closed at once, and so is one whose first frame prefix does not arrive within
 * SB_NET_REFUSED_WAIT_MS. */
#define SB_NET_REFUSED_CONNECTIONS_MAX 64u
#define SB_NET_REFUSED_WAIT_MS 1000u

struct sb_conn;
struct sb_shard;

/* The transport's part of a request, embedded in the upper layer's request. */
struct sb_net_request {
    struct sb_conn *conn;           /* Its connection; NULL once the connection let go. */
    const struct sb_framer *framer; /* Its wire protocol: encodes its frame-level errors. */
    struct sb_net_request *next;    /* The connection's in-flight FIFO. */
    uint8_t *frame;                 /* The whole frame (the upper layer's memory), or NULL
                                       for a frame-level error answer. */
    uint32_t frame_capacity;        /* The frame buffer's size (the upper layer's record). */
    uint32_t frame_total_bytes;     /* Bytes of the frame, prefix included. */
    uint8_t *response;              /* The answer to send (the upper layer's memory, or
                                       error_frame), or NULL. */
    uint32_t response_capacity;     /* Its size; 0 when it is error_frame. */
    uint32_t response_bytes;        /* Bytes to send. */
    bool complete;                  /* The answer is ready (or none is needed). */
    bool no_response;               /* Nothing is sent (e.g. a Produce with acks=0). */
    uint8_t error_frame[SB_FRAMER_ERROR_FRAME_BYTES_MAX]; /* A frame-level error answer. */
};

/* How net/ reaches the upper layer; every pointer argument is borrowed for the call. */
struct sb_net_callbacks {
    /* A request slot, zeroed but for `frame`: a buffer of at least frame_total_bytes (set
     * frame and frame_capacity), or none when frame_total_bytes is 0 (for an error answer).
     * NULL when there is no slot or memory now: the bytes wait for sb_net_resume. */
    struct sb_net_request *(*request_acquire)(void *context, uint32_t frame_total_bytes);
    /* A whole frame is in request->frame and the request in its connection's FIFO; the upper
     * layer answers with sb_net_request_complete or sb_net_request_respond_error. */
    void (*request_start)(struct sb_net_request *request);
    /* The connection is done with the request (its answer went out or was dropped, or its
     * frame never completed) and request->conn is NULL: the upper layer frees it. */
    void (*request_release)(struct sb_net_request *request);
    /* The connection is closing: nobody waits for the request's answer any more (end a long
     * poll now). The request stays in the FIFO until released. */
    void (*request_cancel)(struct sb_net_request *request);
    /* A connection adopted with report_end ended (or was closed at adoption). */
    void (*conn_ended)(void *context);
    void *context; /* First argument of request_acquire and conn_ended. */
};

/* Connection limits, from the upper layer's configuration. */
struct sb_net_config {
    uint32_t max_connections;       /* Served connections per shard; more are refused. */
    uint32_t max_frame_bytes;       /* Largest frame, in the framer's terms. */
    uint32_t max_inflight_requests; /* Unanswered requests per connection. */
    uint32_t idle_timeout_ms;       /* Close a connection idle this long; 0: never. */
};

/* A provided buffer whose bytes wait for memory or an in-flight slot (back-pressure). The
 * shard has one per buffer of its receive group, so a connection can hold any number of
 * them (never more than the group has) without room of its own. */
struct sb_held_buffer {
    uint32_t offset;    /* Bytes consumed. */
    uint32_t length;    /* Bytes received. */
    uint16_t next;      /* Next buffer the same connection holds (its FIFO). */
};

/* One shard's transport. */
struct sb_net {
    struct sb_net_config config;        /* Limits. */
    const struct sb_framer *framer;     /* The wire protocol (static). */
    struct sb_net_callbacks callbacks;  /* The upper layer. */
    struct sb_shard *shard;             /* Timers and clock. */
    struct sb_io *io;                   /* The shard's io. */
    struct sb_held_buffer held[SB_NET_RECV_BUFFERS]; /* By receive buffer id: bytes held. */
    struct sb_pool conns;               /* struct sb_conn. */
    struct sb_conn *conn_list;          /* Live connections. */
    uint32_t conn_count;                /* Live connections, refused ones not included. */
    uint32_t refused_count;             /* Live refused connections. */
    uint64_t next_conn_id;              /* Connection ids, unique within the shard. */
    bool stopping;                      /* sb_net_stop was called: adopt no more. */
};

/* Sets up `net` on `shard`: the receive buffer group on the shard's io and the connection
 * pool in its arena (max_connections + SB_NET_REFUSED_CONNECTIONS_MAX). The shard's timer
 * heap must have room for one timer per such connection (its idle timer). `config`,
 * `callbacks` are copied; `framer` is borrowed for good. Returns 0 or -errno. */
int sb_net_init(struct sb_net *net, struct sb_shard *shard, const struct sb_net_config *config,
                const struct sb_framer *framer, const struct sb_net_callbacks *callbacks);
/* Takes socket `fd` (owned from now on, closed on every path). At max_connections it is kept
 * as refused (see SB_NET_REFUSED_CONNECTIONS_MAX), or closed at once when those are used up
 * too or net is stopping. `report_end`: callbacks.conn_ended runs when it ends. Returns 0
 * (also when refused), or -EMFILE / SB_ESHUTDOWN when it was closed at once. */
int sb_net_adopt(struct sb_net *net, int fd, bool report_end);
/* No more connections; every connection stops reading and closes once answered. */
void sb_net_stop(struct sb_net *net);
/* Call at the end of each loop iteration: connections held back by back-pressure try again,
 * and receives that lost their arming (buffer shortage) are re-armed. */
void sb_net_resume(struct sb_net *net);
/* True when no connection is left (after sb_net_stop: the shard may end). */
bool sb_net_idle(const struct sb_net *net);

/* The answer in request->response (response_bytes), or none when no_response, is ready: it
 * goes out after every earlier request's. */
void sb_net_request_complete(struct sb_net_request *request);
/* Answers the request with the framer's frame-level error `error` (a code of the protocol)
 * instead of request->response, which the caller has freed; completes it. */
void sb_net_request_respond_error(struct sb_net_request *request, int16_t error);
/* The request's connection reads no more and closes once every request received so far is
 * answered (a frame that breaks the stream). Nothing when the connection is gone. */
void sb_net_request_close_after_answers(struct sb_net_request *request);

#endif /* SB_NET_CONN_H */
