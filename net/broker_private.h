/*
 * net/broker_private.h - the broker's state and the contract between the
 * files of net/ (nothing outside net/ includes it):
 *   broker.c    the process (start, signals) and each shard's hooks, listeners,
 *               connection hand-off, message dispatch
 *   conn.c      one connection: receive, frame assembly, in-order responses, limits
 *   request.c   decoding a request, splitting it by owning shard, answering it
 *   work.c      the owning shard's side: produce, fetch (long-poll), offsets
 *   admin.c     shard 0's control plane: topics, producer ids, metadata file
 *   config.c / metadata.c  settings and the topic table
 *
 * A request's life (request.c):
 *
 *   conn_frame_ready -> request_start --decode--> items grouped by owner shard
 *      --> one struct work per owner (local: work_execute; remote: MSG_WORK)
 *      --> MSG_WORK_DONE ... all back --> request_finish: encode the response
 *      --> conn_response_ready: sent in request order, coalesced
 *
 * Memory: the request, its frame, its items, its works and every buffer a work
 * fills belong to the connection's shard; owners borrow them while a MSG_WORK
 * is theirs and give them back with MSG_WORK_DONE.
 */
#ifndef SB_NET_BROKER_PRIVATE_H
#define SB_NET_BROKER_PRIVATE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/bufpool.h"
#include "core/io.h"
#include "core/pool.h"
#include "core/ring.h"
#include "core/shard.h"
#include "core/timer.h"
#include "net/config.h"
#include "net/metadata.h"
#include "proto/wire.h"
#include "storage/store.h"

/* Provided buffers for multishot receive, per shard. */
#define SB_NET_RECV_BUFFERS 256u
#define SB_NET_RECV_BUFFER_BYTES (16u << 10)
#define SB_NET_RECV_GROUP 0
/* Responses coalesced into one sendmsg. */
#define SB_NET_SEND_VECTORS_MAX 32u
/* A produce's wait for memtable room and acks=all when its timeout_ms is 0. */
#define SB_NET_PRODUCE_TIMEOUT_DEFAULT_MS 30000u
/* Concurrent requests per shard (all connections) and partition works. */
#define SB_NET_REQUESTS_MAX 4096u
#define SB_NET_WORKS_MAX 8192u
/* Most topics and partitions one request may name (docs/protocol.md): a bound on the work one
 * request does on its shard before others are served again. */
#define SB_NET_REQUEST_TOPICS_MAX 4096u
#define SB_NET_REQUEST_ITEMS_MAX 65536u
/* Connections over max_connections a shard keeps, per shard, until it has answered their first
 * request with TOO_MANY_CONNECTIONS (docs/protocol.md); more are closed at once, and so is
 * one whose first request header does not arrive within SB_NET_REFUSED_WAIT_MS. */
#define SB_NET_REFUSED_CONNECTIONS_MAX 64u
#define SB_NET_REFUSED_WAIT_MS 1000u
/* Longest long poll: a Fetch's max_wait_ms above it counts as this (docs/protocol.md). */
#define SB_NET_FETCH_WAIT_MAX_MS 30000

enum broker_message {
    MSG_CONN_HANDOFF = 16,  /* shard 0 -> shard: arguments[0] = socket fd. */
    MSG_CONN_CLOSED,        /* shard -> shard 0: arguments[1] of its connections ended. */
    MSG_WORK,               /* payload: struct work for this (owner) shard (Health too). */
    MSG_WORK_DONE,          /* payload: the same work, results filled in. */
    MSG_WORK_RELEASED,      /* payload: a work answered early; the owner is done with it. */
    MSG_ADMIN,              /* payload: struct request to run on shard 0. */
    MSG_ADMIN_DONE,         /* payload: the request, response encoded. */
    MSG_TOPIC_UPDATE,       /* payload: struct topic_broadcast from shard 0. */
    MSG_TOPIC_UPDATE_DONE,  /* payload: the broadcast, back to shard 0. */
    MSG_WORK_CANCEL,        /* payload: a fetch work; end its wait now if it waits. */
};

/* A message waiting in its sender for an overflow node (the shard's pool was empty), linked
 * through memory its payload already has, so sending never fails and never allocates. */
struct outgoing {
    struct outgoing *next; /* Next newer message for the same destination. */
    void *payload;         /* The message's payload. */
    uint16_t type;         /* enum broker_message. */
};

/* Per destination shard: messages waiting for an overflow node, oldest first. */
struct outgoing_queue {
    struct outgoing *head; /* Oldest. */
    struct outgoing *tail; /* Newest. */
};

struct broker_shard;
struct request;

/* One partition touched by a request, in request order. */
struct item {
    uint32_t topic_index;     /* Which topic of the request (response grouping). */
    uint32_t topic_id;        /* 0 when the topic is unknown. */
    int32_t partition;        /* Partition number. */
    uint32_t owner;           /* Owning shard. */
    int16_t error;            /* enum sb_wire_error for this partition. */
    const uint8_t *records;   /* Produce: batches (borrowed from the frame). */
    uint32_t records_bytes;   /* Produce: their length. */
    int64_t base_offset;      /* Produce: first offset. */
    int64_t log_append_time;  /* Produce: append time or -1. */
    int64_t log_start_offset; /* Produce, fetch, describe. */
    int64_t high_watermark;   /* Fetch, describe. */
    int64_t log_end_offset;   /* Describe. */
    int64_t fetch_offset;     /* Fetch: first offset wanted. */
    uint32_t max_bytes;       /* Fetch: partition limit. */
    uint32_t data_offset;     /* Fetch: where its batches start in the work's buffer. */
    uint32_t data_bytes;      /* Fetch: bytes of whole batches there. */
    uint32_t batch_needed;    /* Fetch: the size of a first batch that did not fit the work's
                                 buffer (stored under a higher max_message_bytes), else 0. */
    int64_t timestamp;        /* ListOffsets: question. */
    int64_t offset;           /* ListOffsets: answer. */
    int64_t found_timestamp;  /* ListOffsets: answer's timestamp. */
    struct sb_append append;  /* Produce acks=all: the last batch's durability. */
    uint32_t records_done;    /* Produce: bytes of records appended so far. */
    uint32_t batch_count;     /* Produce: batches in records. */
    uint32_t batches_done;    /* Produce: batches appended so far. */
    bool durable_waiting;     /* Produce acks=all: `append` has not called back yet. */
    struct work *work;        /* The work this item belongs to. */
};

/* The part of a request one owner shard carries out. */
struct work {
    struct request *request;     /* Home request (borrowed by the owner). */
    struct broker_shard *home;   /* The request's shard. */
    uint32_t owner;              /* Shard that runs it. */
    struct broker_shard *owner_shard; /* Set by the owner when it starts the work. */
    uint16_t api_key;            /* What to do with the items. */
    int16_t acks;                /* Produce. */
    uint32_t pending;            /* Owner: async steps outstanding. */
    int32_t max_wait_ms;         /* Fetch: > 0: wait this long for new data (no buffer);
                                    0: read into the buffer now. */
    uint32_t max_bytes;          /* Fetch: this work's share of the response limit. */
    uint8_t *data;               /* Fetch: buffer for all its items (request's shard). */
    uint32_t data_capacity;      /* Fetch: its size. */
    uint32_t data_used;          /* Fetch: bytes filled. */
    bool parked;                 /* Fetch: waiting for data or the deadline. */
    struct sb_timer deadline;    /* Fetch: long-poll deadline (owner's timer). */
    struct work *parked_next;    /* Owner's list of parked fetches. */
    uint32_t next_item;          /* Owner: next item to read or look up (they go in turn). */
    struct sb_read read;         /* Fetch: the read in progress. */
    struct sb_time_lookup lookup; /* ListOffsets by time: the lookup in progress. */
    struct outgoing outgoing;    /* Its MSG_WORK or MSG_WORK_DONE while it waits to be sent. */
    bool answered_early;         /* Produce: answered at its timeout; appends still refer to
                                  * it until MSG_WORK_RELEASED. */
    uint64_t produce_deadline_ns; /* Produce: when waiting for room or acks gives up. */
    struct outgoing released;    /* Its MSG_WORK_RELEASED while it waits to be sent. */
    uint8_t *lookup_buffer;      /* Owner-side buffer for lookups (owner's memory). */
    uint32_t lookup_capacity;    /* Its size. */
};

/* A connection's request, from frame to response. */
struct request {
    struct conn *conn;              /* The connection (NULL once it closed). */
    struct broker_shard *home;      /* The shard that owns everything below. */
    struct request *next;           /* Connection's in-flight FIFO. */
    struct sb_frame_header header;  /* Decoded frame header. */
    uint8_t *frame;                 /* Whole frame (from the bufpool). */
    uint32_t frame_capacity;        /* Its size class. */
    uint8_t *response;              /* Encoded response frame, or NULL. */
    uint32_t response_capacity;     /* Its size class. */
    uint32_t response_bytes;        /* Bytes to send. */
    uint8_t *scratch;               /* Items, topic names, works (bufpool). */
    uint32_t scratch_capacity;      /* Its size class. */
    struct item *items;             /* item_count items. */
    uint32_t item_count;            /* Partitions in the request. */
    struct sb_wire_string *topics;  /* topic_count names in request order. */
    uint32_t topic_count;           /* Topics in the request. */
    struct work *works;             /* One per owner shard used. */
    uint32_t work_count;            /* Works. */
    uint32_t works_pending;         /* Works not yet back. */
    uint32_t works_held;            /* Works answered early, not yet released by their owner. */
    bool release_deferred;          /* Released while works_held > 0: freed at the last. */
    int32_t fetch_max_bytes;        /* Fetch: response limit. */
    int32_t fetch_min_bytes;        /* Fetch: answer once this much was read. */
    uint64_t fetch_deadline_ns;     /* Fetch: when its long poll ends (monotonic). */
    bool fetch_waiting;             /* Fetch: its works wait for data, holding no buffers. */
    uint32_t fetch_batch_room;      /* Fetch: room for a batch in each work's buffer beyond
                                       today's max_message_bytes (an older, larger batch). */
    bool fetch_cancelled;           /* Fetch: its connection closed; answer without waiting. */
    int16_t acks;                   /* Produce. */
    int32_t produce_timeout_ms;     /* Produce: how long to wait for room or acks. */
    uint8_t error_frame[SB_FRAME_HEADER_BYTES]; /* A frame-level error response. */
    bool complete;                  /* Response ready (or none needed). */
    bool no_response;               /* acks=0 produce: nothing is sent. */
    struct request *admin_next;     /* Shard 0's admin queue, while shard 0 borrows it. */
    struct outgoing outgoing;       /* Its MSG_ADMIN or MSG_ADMIN_DONE while it waits. */
    struct sb_health_shard *health; /* Health: one entry per shard (in scratch). */
};

/* A provided buffer whose bytes wait for memory or an in-flight slot (back-pressure). The
 * shard has one per buffer of its receive group, so a connection can hold any number of
 * them (never more than the group has) without room of its own. */
struct held_buffer {
    uint32_t offset;    /* Bytes consumed. */
    uint32_t length;    /* Bytes received. */
    uint16_t next;      /* Next buffer the same connection holds (its FIFO). */
};

/* One client connection. */
struct conn {
    struct broker_shard *owner;     /* Shard serving it. */
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
    bool counted;                   /* Shard 0 counts it for hand-off balance. */
    bool refused;                   /* Over max_connections: its first request gets
                                     * TOO_MANY_CONNECTIONS, then it closes. */
    struct iovec vectors[SB_NET_SEND_VECTORS_MAX]; /* The sendmsg's pieces. */
    struct msghdr message;          /* The sendmsg. */
    uint32_t sent_requests;         /* Requests whose bytes are in the sendmsg. */
    uint32_t send_offset;           /* Bytes of the first response already sent. */
    uint8_t prefix[SB_FRAME_HEADER_BYTES]; /* The next frame's header, being gathered. */
    uint32_t prefix_have;           /* Bytes of it gathered. */
    struct request *assembling;     /* Request whose frame is being filled, or NULL. */
    uint32_t frame_have;            /* Bytes of its frame received. */
    uint16_t held_first;            /* Oldest held buffer (its id), if any. */
    uint16_t held_last;             /* Newest held buffer. */
    uint32_t held_count;            /* Buffers held (back-pressure when > 0). */
    bool close_after_send;          /* A frame-level error was answered: close then. */
    struct request *inflight_head;  /* Requests in arrival order. */
    struct request *inflight_tail;  /* Newest. */
    uint32_t inflight_count;        /* Requests not yet answered. */
    struct sb_timer idle_timer;     /* Closes the connection when idle. */
    uint64_t last_activity_ns;      /* Last byte in or out. */
    struct conn *next;              /* Shard's connection list. */
    struct conn *previous;          /* Shard's connection list. */
};

/* Shard 0's record of a topic change being made durable and broadcast. */
struct topic_update {
    struct sb_topic topic;          /* The topic after the change. */
    bool deleted;                   /* The topic was deleted. */
};

/* Shard 0's changes of one admin request, sent to one other shard (one per shard, so each
 * message has its own link while it waits to be sent). */
struct topic_broadcast {
    struct outgoing outgoing;            /* MSG_TOPIC_UPDATE and its reply. */
    const struct topic_update *updates;  /* Shard 0's changes (borrowed until the reply). */
    uint32_t update_count;               /* Changes. */
};

struct broker {
    struct sb_broker_config config; /* Settings. */
    struct sb_metadata metadata;    /* Loaded at start; shards copy it. */
    uint64_t started_ns;            /* Start time (uptime). */
    struct sb_runtime *runtime;     /* The shards. */
    int main_port_result;           /* Shard 0's main port listen error (read once joined). */
};

struct broker_shard {
    struct broker *broker;          /* Process-wide settings (read-only). */
    struct sb_shard *shard;         /* The runtime shard. */
    uint32_t id;                    /* Shard id. */
    struct sb_io *io;               /* Shard's io. */
    struct sb_store *store;         /* Shard's storage. */
    struct sb_metadata metadata;    /* This shard's copy of the topic table. */
    struct sb_bufpool buffers;      /* Frames, responses, fetch data. */
    struct held_buffer held[SB_NET_RECV_BUFFERS]; /* By receive buffer id: bytes held. */
    struct sb_pool conns;           /* struct conn. */
    struct sb_pool requests;        /* struct request. */
    struct conn *conn_list;         /* Live connections. */
    uint32_t conn_count;            /* Live connections, refused ones not included. */
    uint32_t refused_count;         /* Live refused connections (struct conn.refused). */
    uint64_t next_conn_id;          /* Connection ids. */
    int listen_fd;                  /* This shard's own port. */
    int main_listen_fd;             /* Shard 0: the main port, once every shard listens. */
    bool main_port_opened;          /* Shard 0: opening the main port was tried. */
    struct sb_io_op accept_op;      /* Multishot accept on listen_fd. */
    struct sb_io_op main_accept_op; /* Shard 0: multishot accept on the main port. */
    struct sb_io_op accept_cancel_ops[2]; /* Cancelling both accepts at stop. */
    uint32_t *shard_conn_counts;    /* Shard 0: connections per shard (hand-off balance). */
    struct work *parked;            /* Fetches waiting for data here. */
    struct work *produce_waiting;   /* Produces waiting for memtable room, in order. */
    uint32_t works_in_flight;       /* Works this shard runs for others (or itself). */
    uint32_t requests_in_flight;    /* Requests of this shard not finished. */
    uint32_t fetch_turn;            /* Rotates the fetch work served first when not all of a
                                       fetch's works get a buffer. */
    struct outgoing_queue *outgoing; /* Per destination: messages waiting for a node. */
    uint32_t outgoing_count;        /* Messages waiting there. */
    uint32_t closed_unsent;         /* Connection ends not yet reported to shard 0. */
    struct sb_timer outgoing_timer; /* Keeps the shard awake while messages wait. */
    bool stopping;                  /* Stop was requested. */
    struct admin_state *admin;      /* Shard 0: the control plane. */
};

/* broker.c */
struct broker_shard *broker_shard_of(struct sb_shard *shard);
/* Sends `payload` as a `type` message to `destination`, in order with earlier ones; when the
 * shard's overflow pool is empty it waits, linked through `outgoing` (which the sender owns
 * until the message is delivered), and goes at the end of a later loop iteration. */
void broker_send(struct broker_shard *self, uint32_t destination, uint16_t type,
                 struct outgoing *outgoing, void *payload);
/* Sends a message that may be dropped (a hint: its receiver copes without it) if it can go
 * now, in order; false if it would have to wait. */
bool broker_send_if_room(struct broker_shard *self, uint32_t destination, uint16_t type,
                         void *payload);

/* conn.c */
/* Takes a new socket. At max_connections it is kept as refused (see
 * SB_NET_REFUSED_CONNECTIONS_MAX), or closed at once when those are used up too or the shard
 * is stopping. `counted`: it came through shard 0's hand-off, which must hear when it ends.
 * Returns 0 (also when refused), or -EMFILE / SB_ESHUTDOWN when closed at once. */
int conn_adopt(struct broker_shard *self, int fd, bool counted);
/* Shard 0: a counted connection on `shard` ended. */
void broker_conn_ended(struct broker_shard *self, uint32_t shard);
void conn_response_ready(struct conn *conn);
/* Stops reading; closes once every request received so far is answered. */
void conn_close_after_answers(struct conn *conn);
void conn_close_all(struct broker_shard *self);
void conn_resume_all(struct broker_shard *self);

/* request.c */
void request_start(struct request *request);
void request_work_done(struct work *work);
/* A work answered early (at its timeout) is no longer referred to by its owner. */
void request_work_released(struct work *work);
void request_admin_done(struct request *request);
void request_release(struct request *request);
/* The connection is closing: a fetch waiting for data stops waiting and is answered. */
void request_cancel(struct request *request);
bool request_respond_error(struct request *request, int16_t error);

/* work.c */
void work_execute(struct broker_shard *self, struct work *work);
/* Storage hook: a partition's high watermark moved; parked fetches on it run again. */
void work_partition_durable(void *context, struct sb_partition *partition);
void work_cancel_parked(struct broker_shard *self);
/* A fetch work of a request whose connection closed: ends its wait if it is parked here. */
void work_cancel(struct broker_shard *self, struct work *work);
/* End of each iteration: produces waiting for memtable room try again. */
void work_produce_resume(struct broker_shard *self);

/* admin.c */
int admin_init(struct broker_shard *self);
void admin_deinit(struct broker_shard *self);
void admin_submit(struct broker_shard *self, struct request *request);
void admin_topic_update(struct broker_shard *self, struct topic_broadcast *broadcast);
void admin_topic_update_done(struct broker_shard *self, struct topic_broadcast *broadcast);
bool admin_idle(const struct broker_shard *self);
int admin_apply_topic(struct broker_shard *self, const struct sb_topic *topic, bool deleted);

#endif /* SB_NET_BROKER_PRIVATE_H */
