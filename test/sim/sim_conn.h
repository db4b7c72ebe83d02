/*
 * test/sim/sim_conn.h - one simulated client connection of sb-sim: a socket of
 * the simulator's network (core/sim.h) that sends native-protocol request
 * frames and hands back each response frame, checked against the requests in
 * flight: a response must answer the oldest unanswered request (same
 * correlation id and API key), as docs/protocol.md promises per connection.
 *
 * States: CLOSED --sim_conn_open--> CONNECTING --connected--> OPEN
 *         any --sim_conn_close or an error--> CLOSING --ops done--> CLOSED.
 * A violation of the protocol by the broker is reported through on_violation
 * (sb-sim then fails the seed).
 */
#ifndef SB_TEST_SIM_CONN_H
#define SB_TEST_SIM_CONN_H

#include <stdbool.h>
#include <stdint.h>

#include "core/io.h"
#include "proto/wire.h"

/* Requests in flight per connection (pipelining depth of the simulated clients). */
#define SIM_CONN_PENDING_MAX 16u
/* Received bytes kept for one frame: the broker's responses stay far below this. */
#define SIM_CONN_IN_BYTES (4u << 20)
/* Request bytes queued while a send is in flight. */
#define SIM_CONN_OUT_BYTES (1u << 20)

enum sim_conn_state {
    SIM_CONN_CLOSED = 0,
    SIM_CONN_CONNECTING,
    SIM_CONN_OPEN,
    SIM_CONN_CLOSING,
};

struct sim_conn;

/* One request sent and not yet answered. */
struct sim_pending {
    uint32_t correlation_id; /* Chosen by the connection, increasing. */
    uint16_t api_key;        /* enum sb_api_key. */
    uint64_t sent_ns;        /* Virtual time it was queued. */
    uint64_t tag;            /* The owner's note (e.g. which batch a produce carried). */
};

struct sim_conn_hooks {
    /* The connection is open (requests may be sent). */
    void (*on_open)(struct sim_conn *conn);
    /* A response to `pending` (borrowed for the call). */
    void (*on_response)(struct sim_conn *conn, const struct sim_pending *pending,
                        const struct sb_frame *frame);
    /* The connection ended (refused, reset, closed); every pending request is dropped. */
    void (*on_closed)(struct sim_conn *conn, int error);
    /* The broker broke the protocol; `what` describes it. */
    void (*on_violation)(struct sim_conn *conn, const char *what);
};

struct sim_conn {
    struct sb_io *io;                /* The clients' io (borrowed). */
    struct sim_conn_hooks hooks;     /* The owner's callbacks (copied). */
    void *context;                   /* The owner's. */
    uint8_t state;                   /* enum sim_conn_state. */
    int fd;                          /* Socket, -1 when none. */
    int close_error;                 /* Why it is closing (reported once closed). */
    struct sockaddr_in address;      /* Where it connects. */
    struct sb_io_op connect_op;      /* The connect in flight. */
    struct sb_io_op recv_op;         /* The receive in flight. */
    struct sb_io_op send_op;         /* The send in flight. */
    bool connecting;                 /* connect_op is in flight. */
    bool receiving;                  /* recv_op is in flight. */
    bool sending;                    /* send_op is in flight. */
    uint8_t *in;                     /* Received bytes not yet parsed (owned). */
    uint32_t in_used;                /* Bytes there. */
    uint8_t *out;                    /* Request bytes to send (owned). */
    uint32_t out_used;               /* Bytes there. */
    uint32_t out_in_flight;          /* Of those, bytes given to send_op. */
    struct sim_pending pending[SIM_CONN_PENDING_MAX]; /* Ring of unanswered requests. */
    uint32_t pending_head;           /* Oldest. */
    uint32_t pending_count;          /* Entries. */
    uint32_t next_correlation;       /* For the next request. */
    uint16_t begun_api_key;          /* The request sim_conn_begin started. */
    uint64_t responses;              /* Responses received over all lives. */
};

/* Returns 0 or -ENOMEM. */
int sim_conn_init(struct sim_conn *conn, struct sb_io *io, const struct sim_conn_hooks *hooks,
                  void *context);
void sim_conn_deinit(struct sim_conn *conn);
/* Power was lost: the io is gone; forget every op and byte (the io must be replaced). */
void sim_conn_forget(struct sim_conn *conn, struct sb_io *io);
/* CLOSED -> CONNECTING to 127.0.0.1:port. */
void sim_conn_open(struct sim_conn *conn, uint16_t port);
/* Starts closing (no-op unless CONNECTING or OPEN). */
void sim_conn_close(struct sim_conn *conn, int error);
/* Requests may be queued: OPEN, with room in the pending ring and the send buffer. */
bool sim_conn_can_send(const struct sim_conn *conn, uint32_t depth_max);
/* Starts a request frame at the end of the send buffer: the caller encodes the body into
 * *writer, then calls sim_conn_finish. Returns 0, or -ENOSPC when no request may be sent. */
int sim_conn_begin(struct sim_conn *conn, uint16_t api_key, uint16_t api_version,
                   struct sb_wire_writer *writer);
/* Completes the frame begun (`encoded`: the body encoder's result) and queues it. Returns 0 or
 * the first error (nothing is queued then). */
int sim_conn_finish(struct sim_conn *conn, struct sb_wire_writer *writer, int encoded,
                    uint64_t now_ns, uint64_t tag);
/* The oldest unanswered request, or NULL. */
const struct sim_pending *sim_conn_oldest(const struct sim_conn *conn);

#endif /* SB_TEST_SIM_CONN_H */
