/*
 * client/client_private.h - the inside of libstreambus, shared by its files
 * and by test/client (never installed).
 *
 * One struct sb_client owns everything: settings, one mutex and condition
 * variable, the I/O thread with its wake-up eventfd, the connections, the
 * metadata cache, and the lists of producers, consumers and admin jobs.
 *
 * Locking: client->mutex guards every field of every object reachable from
 * the client, except the few the header of each struct marks "API thread
 * only" (a consumer's current chunk and record). The I/O thread holds the
 * mutex while it works and releases it around poll() and around user
 * callbacks. API calls take it, change state, wake the I/O thread when it has
 * something new to do (client_wake), and wait on client->cond when they must
 * block. Every wait has a deadline.
 *
 * Requests: an owner (metadata, admin job, producer, consumer) embeds a
 * struct client_request in its context and hands it to conn_send. The
 * connection calls request->done exactly once: with the response body (which
 * points into the receive buffer and is valid only during the call), or with
 * an error (connection lost, frame-level error, timeout, client closing).
 * Connections are never freed while the client lives (except a closed
 * consumer's), so a done handler may use its connection freely.
 *
 * Where to start reading: client.c (the I/O loop), then conn.c, metadata.c,
 * producer.c + produce.c, consumer.c + fetch.c, admin.c.
 */
#ifndef SB_CLIENT_CLIENT_PRIVATE_H
#define SB_CLIENT_CLIENT_PRIVATE_H

#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/base.h"
#include "proto/batch.h"
#include "proto/wire.h"
#include "streambus/streambus.h"

/* Debug-only assertion: the client never aborts in a user's process (STYLE.md rule 23). */
#ifdef SB_CLIENT_DEBUG_ASSERTS
#include "core/assert.h"
#define CLIENT_ASSERT(expression) SB_ASSERT(expression)
#else
#define CLIENT_ASSERT(expression) ((void)sizeof(!(expression)))
#endif

/* Limits of the client (STYLE.md rule 19). */
#define CLIENT_BOOTSTRAP_SERVERS_MAX 16   /* Entries in bootstrap.servers. */
#define CLIENT_HOST_BYTES 256              /* Host name, NUL included. */
#define CLIENT_SHARDS_MAX 256              /* Shards of one broker we keep ports for. */
#define CLIENT_BROKERS_MAX 64              /* Brokers in the metadata cache. */
#define CLIENT_POLL_FDS_MAX 512            /* Connections polled at once. */
#define CLIENT_POLL_SLEEP_MS_MAX 250       /* Longest poll() sleep: a safety net for timers. */
#define CLIENT_RECEIVE_CHUNK_BYTES (256u << 10) /* Bytes read per recv() call. */
#define CLIENT_RECEIVE_ROUNDS_MAX 16       /* recv() calls per connection per loop iteration. */
#define CLIENT_BUFFER_BYTES_MIN 4096u      /* Smallest connection buffer. */
#define CLIENT_BUFFER_KEEP_BYTES (4u << 20) /* Larger idle buffers are freed. */
#define CLIENT_CALLBACKS_PER_ROUND_MAX 4096 /* Delivery callbacks run per loop iteration. */
#define CLIENT_CALLBACKS_PER_UNLOCK_MAX 64 /* Delivery callbacks run per mutex release. */
#define CLIENT_HEADERS_MAX 4096            /* Headers of one produced record. */
#define CLIENT_BATCH_BUFFER_BYTES_MIN 1024u /* First buffer of a new producer batch. */
#define CLIENT_DETAIL_BYTES 512            /* sb_client_error_detail text. */
/* A Fetch refused with BROKER_BUSY is split: half the partitions per request, then half
 * the bytes per partition down to this; the limits double back after this many answers. */
#define CLIENT_FETCH_PARTITION_BYTES_MIN (16u << 10)
#define CLIENT_FETCH_GROW_AFTER 64u
/* Batches of one partition in flight with idempotence: the broker recognizes a resend only
 * among a producer's last 5 batches per partition (storage's SB_PRODUCER_RECENT). */
#define CLIENT_IDEMPOTENT_IN_FLIGHT_MAX 5u
/* An open batch whose partition already has a sealed batch waiting to be sent may grow to
 * this many times batch.bytes (at most the broker's batch_bytes_max): with the partition's
 * in-flight window full, bytes in flight grow by the batch size, not the batch count. */
#define CLIENT_BATCH_BACKLOG_FACTOR 4u

/* Admin and metadata bodies are encoded into buffers of this size, then grown. */
#define CLIENT_ENCODE_BYTES_MIN 4096u

/* ---------------------------------------------------------------------------------------
 * Settings (config.c)
 * ------------------------------------------------------------------------------------- */

/* auto.offset.reset values. */
enum client_offset_reset {
    CLIENT_RESET_EARLIEST = 0,
    CLIENT_RESET_LATEST = 1,
    CLIENT_RESET_ERROR = 2,
};

/* The parsed configuration; struct sb_client_config is exactly this, and a client keeps a
 * copy. Defaults and meanings: docs/client.md. */
struct sb_client_config {
    char bootstrap_servers[1024];         /* bootstrap.servers: "host:port,host:port". */
    char client_id[128];                  /* client.id, for logs. */
    bool shard_aware;                     /* shard.aware: connect to owning shards' ports. */
    uint32_t request_timeout_ms;          /* request.timeout.ms. */
    uint32_t reconnect_backoff_ms;        /* reconnect.backoff.ms (first retry). */
    uint32_t reconnect_backoff_max_ms;    /* reconnect.backoff.max.ms. */
    uint32_t health_interval_ms;          /* connection.health.interval.ms. */
    uint32_t metadata_max_age_ms;         /* metadata.max.age.ms. */
    uint32_t metadata_refresh_backoff_ms; /* metadata.refresh.backoff.ms. */
    uint32_t receive_frame_bytes_max;     /* receive.frame.bytes.max. */
    int16_t acks;                         /* acks: 0, 1 or -1 (all). */
    bool acks_set;                        /* acks was set explicitly. */
    int idempotence;                      /* enable.idempotence: 1, 0, or -1 (default). */
    uint32_t linger_ms;                   /* linger.ms. */
    uint32_t batch_bytes;                 /* batch.bytes. */
    int compression;                      /* compression: enum sb_compression. */
    uint64_t buffer_memory_bytes;         /* buffer.memory.bytes. */
    uint32_t max_block_ms;                /* max.block.ms. */
    uint32_t max_in_flight;               /* max.in.flight.requests.per.connection. */
    uint32_t retries;                     /* retries. */
    uint32_t retry_backoff_ms;            /* retry.backoff.ms. */
    uint32_t retry_backoff_max_ms;        /* retry.backoff.max.ms. */
    uint32_t delivery_timeout_ms;         /* delivery.timeout.ms. */
    uint32_t request_bytes_max;           /* request.bytes.max (one Produce request). */
    int auto_offset_reset;                /* auto.offset.reset: enum client_offset_reset. */
    uint32_t fetch_wait_max_ms;           /* fetch.wait.max.ms. */
    uint32_t fetch_min_bytes;             /* fetch.min.bytes. */
    uint32_t fetch_max_bytes;             /* fetch.max.bytes. */
    uint32_t fetch_partition_max_bytes;   /* fetch.partition.max.bytes. */
    uint64_t fetch_buffer_bytes;          /* fetch.buffer.bytes. */
    char group_id[256];                   /* group.id ("" = none). */
    char group_instance_id[250];          /* group.instance.id ("" = dynamic member). */
    char group_remote_assignor[16];       /* group.remote.assignor ("" = broker's). */
    bool enable_auto_commit;              /* enable.auto.commit. */
    uint32_t auto_commit_interval_ms;     /* auto.commit.interval.ms. */
    int log_level;                        /* Lowest level passed to log. */
    void (*log)(void *opaque, int level, const char *line); /* Log callback or NULL. */
    void *log_opaque;                     /* Passed to log. */
};

/* Fills config with every default. */
void client_config_defaults(struct sb_client_config *config);
/* Checks settings that depend on each other; returns 0 or SB_ERR_CONFIG (with detail). */
int client_config_validate(const struct sb_client_config *config);

/* ---------------------------------------------------------------------------------------
 * Errors (error.c)
 * ------------------------------------------------------------------------------------- */

/* SB_ERR_WIRE(code) for a nonzero wire code, 0 for NONE. */
int client_error_from_wire(int code);
/* The wire code inside a SB_ERR_WIRE value, or -1 when error is not one. */
int client_error_wire_code(int error);
/* Sets the calling thread's detail text (printf-style); client_detail_clear empties it. */
void client_detail_set(const char *format, ...) __attribute__((format(printf, 1, 2)));
void client_detail_clear(void);

/* ---------------------------------------------------------------------------------------
 * Byte buffers and requests (conn.c)
 * ------------------------------------------------------------------------------------- */

/* A growable byte window: bytes [start, start + length) of an allocation of capacity. */
struct client_buffer {
    uint8_t *bytes;  /* The allocation (owned), or NULL. */
    size_t capacity; /* Bytes allocated. */
    size_t start;    /* First byte not yet consumed. */
    size_t length;   /* Bytes held from start. */
};

struct sb_client;
struct client_conn;

/* One request in flight on a connection, embedded in its owner's context. */
struct client_request {
    struct client_request *next; /* Next request in the connection's in-flight FIFO. */
    uint32_t correlation_id;     /* Set by conn_send. */
    uint16_t api_key;            /* enum sb_api_key. */
    bool counts_as_produce;      /* Counted against max.in.flight on its connection. */
    uint64_t deadline_ns;        /* Monotonic time after which the connection is abandoned. */
    void *owner;                 /* Producer, consumer or NULL; cleared when it closes. */
    /* Called once: error 0 with the response body (valid during the call only), or a
     * negative error with body NULL. May send on any connection; must not free conns. */
    void (*done)(struct sb_client *client, struct client_request *request, int error,
                 const uint8_t *body, size_t body_bytes);
};

/* Connection states:
 *
 *   IDLE --conn_want--> CONNECTING --writable, SO_ERROR 0--> HANDSHAKE (ApiVersions sent)
 *     ^                     |                                      |
 *     |                     | error                                | answer: conn_handshake_done
 *     |                     v                                      v
 *   (backoff over) <--- BACKOFF <------ conn_fail (any error) --- READY
 */
enum client_conn_state {
    CONN_IDLE = 0,
    CONN_CONNECTING = 1,
    CONN_HANDSHAKE = 2,
    CONN_READY = 3,
    CONN_BACKOFF = 4,
};

/* A TCP connection to one port of one broker, for one owner. */
struct client_conn {
    struct client_conn *next;         /* Next connection of the client. */
    char host[CLIENT_HOST_BYTES];     /* Host to connect to. */
    uint16_t port;                    /* Port (plain or a shard's). */
    uint32_t owner_id;                /* 0: metadata, admin, producers; else a consumer. */
    bool bootstrap;                   /* One of bootstrap.servers (admin, metadata). */
    int fd;                           /* Socket, or -1. */
    enum client_conn_state state;     /* See the diagram above. */
    struct client_buffer out;         /* Encoded frames not yet written. */
    struct client_buffer in;          /* Bytes received, not yet parsed. */
    struct client_request *inflight_head; /* Requests sent (or queued in out), in order. */
    struct client_request *inflight_tail; /* Last of them. */
    uint32_t inflight_count;          /* Requests in the FIFO. */
    uint32_t produce_inflight;        /* Of them, Produce requests. */
    uint32_t next_correlation_id;     /* Next correlation id to use. */
    uint32_t failures;                /* Consecutive failures (reset by a handshake). */
    int last_error;                   /* Why it last failed. */
    uint64_t retry_at_ns;             /* BACKOFF: reconnect no earlier. */
    uint64_t last_receive_ns;         /* Last bytes received (health checks). */
    uint32_t frame_bytes_max;         /* The broker's request limit (ApiVersions). */
    struct client_request handshake;  /* The ApiVersions request. */
    struct client_request health;     /* The idle health check. */
    bool health_inflight;             /* health is in the FIFO. */
    bool released;                    /* Its owner closed: freed by the I/O thread. */
};

/* Finds or creates the connection to host:port for owner (NULL when out of memory). */
struct client_conn *conn_get(struct sb_client *client, const char *host, uint16_t port,
                             uint32_t owner_id);
/* Starts connecting when idle and not backing off; true when the connection is READY. */
bool conn_want(struct sb_client *client, struct client_conn *conn);
/* The socket is connected: sends ApiVersions first; nothing else goes out until it is
 * answered (conn_handshake_done makes the connection READY). */
void conn_handshake_start(struct sb_client *client, struct client_conn *conn);
/* True when requests may be sent now. */
bool conn_ready(const struct client_conn *conn);
/*
 * Encodes a frame (api_key, flags) whose body encode writes from body, into the
 * connection's output. With request (not NULL and no SB_FRAME_FLAG_NO_RESPONSE) the
 * request joins the in-flight FIFO with deadline now + timeout_ms. Returns 0; -EMSGSIZE
 * when the frame exceeds the broker's limit; -ENOMEM; -ENOTCONN when not READY (nothing
 * queued then). Never calls request->done itself.
 */
int conn_send(struct sb_client *client, struct client_conn *conn, uint16_t api_key,
              uint16_t flags, int (*encode)(struct sb_wire_writer *writer, const void *body),
              const void *body, struct client_request *request, uint32_t timeout_ms);
/* Closes the socket and fails every in-flight request with error; enters BACKOFF. */
void conn_fail(struct sb_client *client, struct client_conn *conn, int error);
/* Closes every connection of owner_id (in-flight requests fail with error) and marks them
 * released; the I/O thread frees them (conn_free_released) before its next poll. */
void conn_release_owner(struct sb_client *client, uint32_t owner_id, int error);
/* Frees released connections; with all set (client closing), closes and frees every one. */
void conn_free_released(struct sb_client *client, bool all);
/* Clears request->owner of every in-flight request that belongs to owner. */
void conn_disown(struct sb_client *client, const void *owner);
/* Loop helpers: fill pollfds (returns how many), handle their events, run timers. */
uint32_t conn_poll_fill(struct sb_client *client, struct pollfd *fds, struct client_conn **conns,
                        uint32_t capacity);
void conn_poll_handle(struct sb_client *client, struct client_conn *conn, short revents);
/* Writes conn->out as far as the socket takes it (the I/O thread, or an API thread that
 * holds the mutex: bytes leave in the order they were queued, whichever thread writes). */
void conn_write(struct sb_client *client, struct client_conn *conn);
void conn_timers(struct sb_client *client, uint64_t now_ns);
/* Takes bytes as if received (parsing and dispatching every whole frame); for the fuzz
 * target and tests. Returns 0 or the error that closed the connection. */
int conn_receive_bytes(struct sb_client *client, struct client_conn *conn, const uint8_t *bytes,
                       size_t length);
/* Frees a buffer's memory. */
void client_buffer_free(struct client_buffer *buffer);
/* Makes room for extra bytes after the window; returns 0 or -ENOMEM. */
int client_buffer_reserve(struct client_buffer *buffer, size_t extra);

/* ---------------------------------------------------------------------------------------
 * Metadata (metadata.c)
 * ------------------------------------------------------------------------------------- */

/* Where one partition lives. */
struct client_partition_meta {
    int32_t leader;     /* Node id, -1 if none. */
    int32_t shard;      /* Owning shard on the leader, -1 if none. */
    int16_t error_code; /* Wire error of the partition. */
};

/* A topic the client has been asked about; never freed before the client. */
struct client_topic {
    struct client_topic *next;                /* Next topic of the client. */
    char *name;                               /* NUL-terminated name (owned). */
    uint32_t topic_id;                        /* Broker id, 0 while unknown. */
    uint32_t partition_count;                 /* Entries in partitions (0: unknown). */
    struct client_partition_meta *partitions; /* Owned array. */
    int error;                                /* 0, or the topic's error from the broker. */
    uint64_t answers;                         /* Metadata answers received about it. */
};

/* A broker from Metadata: where its plain port and shard ports are. */
struct client_broker {
    int32_t node_id;              /* Cluster-wide id. */
    char host[CLIENT_HOST_BYTES]; /* Host name or address. */
    int32_t port;                 /* Plain port. */
    uint32_t shard_count;         /* Entries in shard_ports. */
    int32_t shard_ports[CLIENT_SHARDS_MAX]; /* Port of each shard. */
};

/* True for a name the broker could accept (docs/protocol.md "Topic names"): only such names
 * enter the metadata cache, whose refresh names them all. */
bool metadata_name_valid(const char *name);
/* Finds the topic, creating an unknown entry (and asking for a refresh) when new; NULL only
 * when out of memory. name must be metadata_name_valid. */
struct client_topic *metadata_topic(struct sb_client *client, const char *name);
/* Asks for a metadata refresh soon (rate-limited by metadata.refresh.backoff.ms). */
void metadata_refresh(struct sb_client *client);
/* I/O thread: sends the refresh when due. */
void metadata_run(struct sb_client *client, uint64_t now_ns);
/* Applies a Metadata response body; returns 0 or SB_ERR_CORRUPT (nothing applied). */
int metadata_apply(struct sb_client *client, const uint8_t *body, size_t body_bytes);
/* The connection that serves partition of topic for owner: the owning shard's port when
 * shard-aware and reachable, else the leader's plain port. NULL while the leader is
 * unknown. */
struct client_conn *metadata_route(struct sb_client *client, const struct client_topic *topic,
                                   int32_t partition, uint32_t owner_id);
/* API thread, mutex held: waits until topic has an answer newer than the wait's start or
 * deadline_ns passes. Returns 0, the topic's error, -ETIMEDOUT, or the connection error
 * once every bootstrap server failed during the wait. */
int metadata_wait(struct sb_client *client, struct client_topic *topic, uint64_t deadline_ns);
/* The bootstrap connection to use now (first READY one, else the next to try). */
struct client_conn *metadata_bootstrap_conn(struct sb_client *client);
void metadata_free(struct sb_client *client);

/* ---------------------------------------------------------------------------------------
 * The client (client.c)
 * ------------------------------------------------------------------------------------- */

struct sb_producer;
struct sb_consumer;
struct admin_job;

/* One delivery report waiting to be given to its callback on the I/O thread. */
struct client_delivery {
    void (*callback)(const struct sb_producer_delivery *delivery, void *opaque); /* Or NULL. */
    void *opaque;                         /* The caller's value. */
    struct sb_producer_delivery delivery; /* What the callback sees. */
    struct sb_producer *producer;         /* Whose pending count drops after the callback. */
};

/* Delivery reports queued for the I/O thread to run (a growable array, FIFO). */
struct client_delivery_queue {
    struct client_delivery *entries; /* capacity entries (owned). */
    size_t capacity;                 /* Entries allocated. */
    size_t head;                     /* First entry not yet run. */
    size_t count;                    /* Entries waiting. */
};

struct sb_client {
    struct sb_client_config config;   /* A copy of the caller's config. */
    char bootstrap_hosts[CLIENT_BOOTSTRAP_SERVERS_MAX][CLIENT_HOST_BYTES]; /* Parsed. */
    uint16_t bootstrap_ports[CLIENT_BOOTSTRAP_SERVERS_MAX]; /* Parsed. */
    uint32_t bootstrap_count;         /* Entries above (>= 1). */
    uint32_t bootstrap_next;          /* Bootstrap server to try next. */
    pthread_mutex_t mutex;            /* Guards everything (see the file comment). */
    pthread_cond_t cond;              /* Broadcast whenever a waiter may proceed. */
    pthread_t io_thread;              /* The I/O thread. */
    bool io_thread_started;           /* io_thread was created (false offline). */
    int wake_fd;                      /* eventfd that wakes the I/O thread, or -1. */
    bool wake_pending;                /* A wake-up was written and not yet drained. */
    bool stopping;                    /* sb_client_close asked the thread to exit. */
    bool in_callbacks;                /* The I/O thread is running user callbacks. */
    uint64_t callback_unlocks;        /* Mutex releases to run delivery callbacks (tests). */
    uint64_t next_wakeup_ns;          /* Earliest timer of this iteration. */
    uint64_t random_state;            /* xorshift state for jitter. */
    struct client_conn *conns;        /* Every connection. */
    uint32_t conn_count;              /* Entries in conns. */
    uint32_t next_owner_id;           /* Owner id of the next consumer. */
    struct client_topic *topics;      /* Metadata cache. */
    struct client_broker *brokers;    /* Metadata: broker_count entries (owned). */
    uint32_t broker_count;            /* Entries in brokers. */
    uint64_t metadata_generation;     /* Bumped by every applied Metadata answer. */
    bool metadata_wanted;             /* A refresh is due. */
    bool metadata_inflight;           /* A Metadata request is in flight. */
    uint64_t metadata_next_ns;        /* No refresh before this time. */
    uint64_t metadata_refreshed_ns;   /* Last answer applied. */
    struct client_request metadata_request; /* The refresh in flight. */
    uint64_t bootstrap_failures;      /* Connection failures of bootstrap connections. */
    int bootstrap_error;              /* The last of them. */
    uint32_t frame_bytes_max;         /* Smallest broker request limit seen (0: unknown). */
    uint32_t batch_bytes_max;         /* Smallest broker batch limit seen (0: unknown). */
    struct sb_producer *producers;    /* Open producers. */
    struct sb_consumer *consumers;    /* Open consumers. */
    struct admin_job *admin_queue;    /* Admin jobs not yet sent. */
    struct client_delivery_queue deliveries; /* Callbacks to run. */
    struct group_op *group_done_head;  /* Finished async commits awaiting their callback. */
    struct group_op *group_done_tail;  /* Newest of them. */
    struct pollfd poll_fds[CLIENT_POLL_FDS_MAX]; /* I/O thread: the eventfd, then conns. */
    struct client_conn *poll_conns[CLIENT_POLL_FDS_MAX]; /* I/O thread: conn of each fd. */
};

/* Returns CLOCK_MONOTONIC in ns. */
uint64_t client_now_ns(void);
/* Deadline for a timeout in ms (< 0: far future) from now. */
uint64_t client_deadline_ns(int timeout_ms);
/* Mutex held: wakes the I/O thread (once until it drains). */
void client_wake(struct sb_client *client);
/* Mutex held: lowers the I/O thread's next wake-up to at_ns. */
void client_schedule(struct sb_client *client, uint64_t at_ns);
/* Mutex held: waits on cond until woken or deadline_ns; returns -ETIMEDOUT when it passed. */
int client_wait(struct sb_client *client, uint64_t deadline_ns);
/* Mutex held: the error of a wait for the broker that reached its deadline: the last
 * bootstrap connection error when one failed since failures was read (so "Connection
 * refused" says why), else -ETIMEDOUT. */
int client_wait_error(const struct sb_client *client, uint64_t failures);
/* True when the caller is the client's I/O thread (a callback): it must not block. */
bool client_on_io_thread(const struct sb_client *client);
/* A jittered exponential backoff: base * 2^(attempt - 1) capped at max, then a random
 * value in [half, whole] of it, in ns. */
uint64_t client_backoff_ns(struct sb_client *client, uint32_t attempt, uint32_t base_ms,
                           uint32_t max_ms);
/* Mutex held: queues a delivery report for the I/O thread; returns 0 or -ENOMEM. */
int client_delivery_push(struct sb_client *client, const struct client_delivery *delivery);
/* Formats a log line and gives it to the log callback when its level is enabled. */
void client_log(const struct sb_client *client, int level, const char *format, ...)
    __attribute__((format(printf, 3, 4)));
/* Builds a client without a thread or sockets, for the fuzz target and unit tests. */
int client_open_offline(const struct sb_client_config *config, struct sb_client **client_out);
/* One iteration of the I/O loop's work (no poll), mutex held. */
void client_run_once(struct sb_client *client);

/* ---------------------------------------------------------------------------------------
 * Producer (producer.c: API and accumulator; produce.c: requests, responses, retries)
 * ------------------------------------------------------------------------------------- */

/* One record's delivery target inside a batch. */
struct producer_callback {
    void (*callback)(const struct sb_producer_delivery *delivery, void *opaque); /* Or NULL. */
    void *opaque;           /* The caller's value. */
    struct producer_sync *sync; /* A blocking sender waiting for it, or NULL. */
    int64_t timestamp_ms;   /* The record's timestamp. */
};

/* A blocking sender's slot (on its stack). */
struct producer_sync {
    bool done;      /* Set by the I/O thread. */
    int error;      /* Outcome. */
    int64_t offset; /* Offset on success. */
};

/* Batch states: OPEN (accepting records) -> QUEUED (sealed: producer_batch_seal) ->
 * IN_FLIGHT (produce_send) -> done (produce_complete) or back to QUEUED (produce_retry). */
enum producer_batch_state {
    BATCH_OPEN = 0,
    BATCH_QUEUED = 1,
    BATCH_IN_FLIGHT = 2,
};

struct producer_partition;

/* A record batch being built or sent. */
struct producer_batch {
    struct producer_batch *next;          /* Next batch of the partition (send order). */
    struct producer_batch *older;         /* Previous batch of the producer's age list. */
    struct producer_batch *newer;         /* Next batch of the producer's age list. */
    struct producer_partition *partition; /* Owner. */
    enum producer_batch_state state;      /* See above. */
    uint8_t *buffer;                      /* Builder buffer (owned). */
    size_t buffer_capacity;               /* Its size. */
    struct sb_batch_builder builder;      /* Builds into buffer. */
    uint8_t *compressed;                  /* Header + compressed payload (owned) or NULL. */
    const uint8_t *sealed;                /* The finished batch (buffer or compressed). */
    uint32_t sealed_bytes;                /* Its size. */
    struct producer_callback *callbacks;  /* One per record (owned). */
    uint32_t callback_capacity;           /* Entries allocated. */
    uint32_t record_count;                /* Records added. */
    uint64_t memory_bytes;                /* Charged to buffer.memory.bytes. */
    uint64_t created_ns;                  /* When its first record arrived. */
    uint64_t deadline_ns;                 /* delivery.timeout.ms from created_ns. */
    uint32_t attempts;                    /* Times sent. */
    int last_error;                       /* Error of the last failed attempt. */
    int32_t base_sequence;                /* Sequence of record 0, -1 until first sent. */
    int16_t epoch;                        /* Producer epoch it was stamped with. */
};

/* The producer's lists of partitions (accumulator.c): LINGER holds the partitions whose
 * tail batch is OPEN, in the order those batches were created (so by linger deadline);
 * READY the partitions that may have a QUEUED batch to send; WAITING the partitions whose
 * OPEN tail batch is due but stays open, taking records, until the QUEUED batch before it
 * is sent (produce_linger). */
enum producer_list_kind {
    PRODUCER_LIST_LINGER = 0,
    PRODUCER_LIST_READY = 1,
    PRODUCER_LIST_WAITING = 2,
    PRODUCER_LIST_COUNT = 3,
};

/* A partition's place in one producer list. */
struct producer_list_link {
    struct producer_partition *previous; /* Towards the head. */
    struct producer_partition *next;     /* Towards the tail. */
    bool linked;                         /* On the list. */
};

/* One producer list. */
struct producer_list {
    struct producer_partition *head; /* First partition (oldest). */
    struct producer_partition *tail; /* Last partition. */
    uint32_t count;                  /* Partitions on it. */
};

/* A producer's state for one partition. */
struct producer_partition {
    struct producer_partition *next;   /* Next partition of the producer. */
    struct producer_list_link links[PRODUCER_LIST_COUNT]; /* Places in the producer lists. */
    struct sb_producer *producer;      /* Owner. */
    struct client_topic *topic;        /* Its topic. */
    int32_t partition;                 /* Partition number. */
    struct producer_batch *head;       /* Oldest unfinished batch (in flight ones first). */
    struct producer_batch *tail;       /* Newest (may be OPEN). */
    uint32_t inflight_count;           /* Batches IN_FLIGHT. */
    struct client_conn *conn;          /* Connection of its in-flight batches. */
    bool retrying;                     /* A batch failed: send nothing until in-flight is 0. */
    int32_t next_sequence;             /* Next base_sequence to assign. */
    uint64_t retry_at_ns;              /* Send nothing before this time. */
};

struct sb_producer {
    struct sb_producer *next;          /* Next producer of the client. */
    struct sb_client *client;          /* Owner. */
    int16_t acks;                      /* 0, 1, -1. */
    bool idempotent;                   /* Uses producer id, epoch and sequences. */
    int compression;                   /* enum sb_compression. */
    uint32_t batch_bytes;              /* Largest batch. */
    int64_t producer_id;               /* -1 until InitProducerId answered. */
    int16_t epoch;                     /* Current epoch. */
    bool init_inflight;                /* InitProducerId in flight. */
    bool epoch_bump_wanted;            /* A sequence hole: bump once nothing is in flight. */
    uint64_t init_retry_at_ns;         /* Next InitProducerId attempt. */
    uint32_t init_attempts;            /* Failed InitProducerId attempts in a row. */
    int fatal_error;                   /* Fencing: every send fails with it. */
    struct producer_partition *partitions; /* Every partition it has sent to. */
    struct producer_partition **index; /* Open-addressing table of partitions (owned). */
    uint32_t index_capacity;           /* Slots in index (a power of two, or 0). */
    uint32_t partition_count;          /* Partitions in the list and the index. */
    struct producer_list lists[PRODUCER_LIST_COUNT]; /* Linger and ready lists. */
    struct producer_batch *oldest;     /* Age list of unresolved batches: by created_ns. */
    struct producer_batch *newest;     /* Its other end. */
    uint32_t round_robin;              /* Next partition for null keys. */
    uint64_t buffered_bytes;           /* Charged against buffer.memory.bytes. */
    uint64_t pending_records;          /* Sent, callback not yet returned. */
    uint32_t flushing;                 /* Flush calls in progress: seal every batch. */
    uint32_t inflight_batches;         /* Batches IN_FLIGHT across partitions. */
    uint64_t requests_sent;            /* Produce requests handed to connections. */
    uint32_t request_batches_max;      /* Most batches one of them carried. */
    uint64_t request_bytes_max;        /* Most batch bytes one of them carried. */
    uint32_t sealed_bytes_max;         /* Largest batch sealed (tests count with it). */
    bool closing;                      /* sb_producer_close is running. */
};

/* accumulator.c: the partition of (topic, partition), created on first use; NULL: no
 * memory. */
struct producer_partition *producer_partition_get(struct sb_producer *producer,
                                                  struct client_topic *topic,
                                                  int32_t partition);
/* Appends partition to list kind (no-op when it is on it). */
void producer_list_add(struct sb_producer *producer, struct producer_partition *partition,
                       enum producer_list_kind kind);
/* Removes partition from list kind (no-op when it is not on it). */
void producer_list_remove(struct sb_producer *producer, struct producer_partition *partition,
                          enum producer_list_kind kind);
/* Appends a new batch to partition's batches and to the producer's age list. */
void producer_batch_link(struct producer_partition *partition, struct producer_batch *batch);
/* Frees every partition, the index and the lists (their batches are gone already). */
void producer_partitions_free(struct sb_producer *producer);
/* Seals an OPEN batch (compressing it) and puts its partition on the ready list;
 * returns 0 or an error for its records. */
int producer_batch_seal(struct sb_producer *producer, struct producer_batch *batch);
/* Completes every record of batch with error (0: offset base_offset + i) and frees it;
 * the batch must already be unlinked from its partition. */
void producer_batch_complete(struct sb_producer *producer, struct producer_batch *batch,
                             int error, int64_t base_offset, int64_t append_time_ms);
/* Unlinks batch (the partition's head or any other) from its partition and the age list;
 * the partition leaves the linger list when its tail is no longer OPEN. */
void producer_partition_unlink(struct producer_partition *partition,
                               struct producer_batch *batch);
/* I/O thread: seal, expire, stamp and send what is ready; InitProducerId. */
void produce_run(struct sb_client *client, struct sb_producer *producer, uint64_t now_ns);
/* The caller's thread (mutex held), linger.ms 0: when partition holds just the open batch
 * and its connection has nothing waiting to be written, seals, sends and writes it at once.
 * Returns true when the I/O thread need not be woken (it polls the socket for the answer). */
bool produce_send_now(struct sb_client *client, struct sb_producer *producer,
                      struct producer_partition *partition);
/* Applies a Produce response to the batches of context; used by the fuzz target too. */
struct produce_context;
void produce_done(struct sb_client *client, struct client_request *request, int error,
                  const uint8_t *body, size_t body_bytes);
/* Applies an InitProducerId response. */
void produce_init_done(struct sb_client *client, struct client_request *request, int error,
                       const uint8_t *body, size_t body_bytes);
/* Murmur2 of Kafka's default partitioner (seed 0x9747b28c), for keyed records. */
uint32_t producer_murmur2(const void *key, size_t length);

/* ---------------------------------------------------------------------------------------
 * Consumer (consumer.c: API; fetch.c: Fetch and ListOffsets; records.c: parsing)
 * ------------------------------------------------------------------------------------- */

/* Where a partition's position comes from. */
enum consumer_position_state {
    POSITION_RESOLVE = 0, /* ListOffsets with resolve_timestamp pending. */
    POSITION_VALID = 1,   /* position and fetch_offset are offsets. */
    POSITION_FAILED = 2,  /* Stopped with error until the next seek. */
};

struct consumer_partition;

/* Record bytes fetched for one partition, handed out by poll. */
struct consumer_chunk {
    struct consumer_chunk *next;          /* Next chunk in the consumer's ready queue. */
    struct consumer_partition *partition; /* Whose records. */
    uint32_t epoch;                       /* Partition epoch when fetched. */
    uint8_t *bytes;                       /* Whole record batches (owned). */
    size_t length;                        /* Bytes. */
};

/* One assigned partition. */
struct consumer_partition {
    struct consumer_partition *next; /* Next assigned partition. */
    struct client_topic *topic;      /* Its topic. */
    int32_t partition;               /* Partition number. */
    enum consumer_position_state state; /* See above. */
    int64_t resolve_timestamp;       /* RESOLVE: ListOffsets timestamp (-2, -1 or a time). */
    int64_t position;                /* Next offset poll returns. */
    int64_t fetch_offset;            /* Next offset to fetch. */
    uint32_t epoch;                  /* Bumped by seek: older answers are dropped. */
    bool fetch_inflight;             /* In a Fetch in flight, or its records await their
                                      * topic check. */
    bool list_inflight;              /* In a ListOffsets in flight. */
    bool watermark_known;            /* high_watermark was reported. */
    int64_t high_watermark;          /* Last reported. */
    int64_t log_start_offset;        /* Last reported. */
    uint64_t buffered_bytes;         /* Bytes of its chunks in the ready queue. */
    int error;                       /* FAILED: why; reported once by poll. */
    bool error_reported;             /* poll returned error already. */
    uint32_t failures;               /* Consecutive retriable failures. */
    uint64_t failing_since_ns;       /* When the first of them happened. */
    int last_error;                  /* The last of them. */
    bool starving_reported;          /* Logged that it got nothing for long. */
    uint64_t retry_at_ns;            /* Fetch or list nothing before. */
    uint64_t topic_answers;          /* Topic answers seen at assign or seek: only newer
                                      * ones may stop it as unknown. */
    uint32_t topic_id;               /* Id of the topic the position belongs to (named in
                                      * each Fetch), 0 until the first Fetch after assign,
                                      * seek or a start over. */
    bool removed;                    /* Unassigned; freed when nothing refers to it. */
    uint32_t references;             /* In-flight requests and chunks pointing at it. */
    bool paused;                     /* Group: being revoked or lost; not fetched. */
    uint32_t group_topic_id;         /* Group: the topic id the coordinator assigned it by. */
    int64_t committed;               /* Group: last offset committed by this consumer, -1. */
};

/* Walks the record batches of a chunk (records.c); pure, no locks. */
struct client_records {
    const uint8_t *bytes;          /* Whole batches (borrowed). */
    size_t length;                 /* Bytes. */
    size_t position;               /* Next batch starts here. */
    struct sb_batch_header header; /* Current batch. */
    struct sb_record_iter iter;    /* Records of the current batch. */
    bool in_batch;                 /* iter is live. */
    uint8_t *scratch;              /* Decompression buffer (owned). */
    size_t scratch_capacity;       /* Its size. */
    size_t scratch_limit;          /* Largest decompressed batch accepted. */
};

void client_records_init(struct client_records *records, const uint8_t *bytes, size_t length,
                         size_t scratch_limit);
/* Returns 1 with the next record (control batches skipped), 0 at the end, SB_ERR_CORRUPT
 * for a bad batch or record, -ENOMEM. Pointers in out borrow bytes or the scratch. */
int client_records_next(struct client_records *records, struct sb_record_view *out,
                        bool *log_append_time_out);
void client_records_deinit(struct client_records *records);
/* Decodes record's headers into *headers (grown as needed, owned by the caller); returns
 * the count or -ENOMEM. */
int client_records_headers(const struct sb_record_view *record,
                           struct sb_client_header **headers, uint32_t *capacity);

/* Limits of consumer groups in the client. */
#define GROUP_SUBSCRIBED_TOPICS_MAX 256u  /* Names in one subscription. */
#define GROUP_REGEX_BYTES_MAX 255u        /* A subscription regex (the broker's limit). */
#define GROUP_COMMIT_PARTITIONS_MAX 4096u /* Partitions in one commit or offset fetch. */
#define GROUP_MEMBER_ID_BYTES 33u         /* 32 hex digits and the NUL. */

/* One partition of the target assignment the coordinator sent. */
struct group_target {
    uint32_t topic_id;          /* The topic's id. */
    int32_t partition;          /* Partition number. */
    struct client_topic *topic; /* Its name, NULL until resolved (metadata or ListTopics). */
};

/* A commit or committed-offset query (group.c). */
enum group_op_kind {
    GROUP_OP_COMMIT = 0, /* OffsetCommit. */
    GROUP_OP_FETCH = 1,  /* OffsetFetch. */
};

/* One OffsetCommit or OffsetFetch of a consumer: queued by the API thread, sent by the I/O
 * thread one at a time per consumer (so commits are stored in call order), retried on
 * retriable errors until its deadline. */
struct group_op {
    struct client_request request;         /* First member: done handlers cast back. */
    struct group_op *next;                 /* Next op in the consumer's queue or the
                                            * client's finished list. */
    struct sb_consumer *consumer;          /* Owner. */
    enum group_op_kind kind;               /* What it is. */
    struct sb_consumer_partition *offsets; /* count entries sorted by topic and partition
                                            * (owned; names are client_topic names;
                                            * metadata strings owned). */
    size_t count;                          /* Entries in offsets. */
    uint64_t deadline_ns;                  /* Fails with -ETIMEDOUT after this. */
    uint64_t retry_at_ns;                  /* Not sent before this. */
    uint32_t attempts;                     /* Sends so far. */
    bool inflight;                         /* Sent, not answered. */
    bool done;                             /* Finished; error and offsets final. */
    bool abandoned;                        /* Its waiter gave up: freed when finished. */
    bool sync;                             /* A caller waits for it (else async). */
    bool automatic;                        /* An auto commit (updates no callback). */
    int error;                             /* Outcome. */
    sb_consumer_commit_fn on_commit;       /* Async: the callback, or NULL. */
    void *opaque;                          /* Passed to on_commit. */
};

/* A consumer's group membership (group.c: I/O thread; group_api.c: API thread). */
struct consumer_group {
    bool subscribed;                   /* subscribe() was called and not undone. */
    char **topic_names;                /* Subscribed names (owned), or NULL. */
    uint32_t topic_count;              /* Entries in topic_names. */
    char *regex;                       /* Subscribed regex (owned), or NULL. */
    bool subscription_changed;         /* Send the full subscription in the next heartbeat. */
    bool subscription_inflight;        /* The heartbeat in flight carries it (resent when
                                        * that heartbeat fails). */
    char member_id[GROUP_MEMBER_ID_BYTES]; /* Chosen at open, kept across rejoins. */
    int32_t epoch;                     /* -1: not a member; 0: joining; else the last one. */
    int32_t interval_ms;               /* Heartbeat interval the coordinator asked for. */
    bool heartbeat_inflight;           /* A GroupHeartbeat is in flight. */
    bool heartbeat_now;                /* Something changed: heartbeat without waiting. */
    uint64_t heartbeat_at_ns;          /* Next periodic heartbeat (or retry). */
    uint32_t heartbeat_failures;       /* Failed heartbeats in a row (backoff). */
    int32_t leave_epoch;               /* 0, or -1 / -2: the leave heartbeat to send. */
    bool leave_sent;                   /* The in-flight heartbeat is the leave. */
    struct group_target *target;       /* The assignment last received (owned). */
    uint32_t target_count;             /* Entries in target. */
    bool reconcile_wanted;             /* poll has rebalance work (revoke, assign, lost). */
    bool lost;                         /* Fenced: drop every partition, then rejoin. */
    int fatal_error;                   /* A group error that ended the membership, or 0. */
    bool fatal_reported;               /* poll returned fatal_error. */
    bool list_inflight;                /* ListTopics (resolving target ids) in flight. */
    uint64_t list_at_ns;               /* No ListTopics before this. */
    uint64_t auto_commit_at_ns;        /* Next auto commit. */
    bool auto_commit_inflight;         /* An auto commit is queued or in flight. */
    struct group_op *ops_head;         /* Ops not yet finished, oldest first. */
    struct group_op *ops_tail;         /* Newest. */
    uint32_t ops_pending;              /* Ops whose outcome (callback) is not yet given. */
    sb_consumer_rebalance_fn on_rebalance; /* Rebalance callback or NULL. */
    void *rebalance_opaque;            /* Passed to on_rebalance. */
    bool in_rebalance;                 /* API thread: a rebalance callback is running. */
};

struct sb_consumer {
    struct sb_consumer *next;            /* Next consumer of the client. */
    struct sb_client *client;            /* Owner. */
    uint32_t owner_id;                   /* Its connections' owner id. */
    struct consumer_partition *partitions; /* Assigned partitions. */
    struct consumer_chunk *ready_head;   /* Fetched chunks, oldest first. */
    struct consumer_chunk *ready_tail;   /* Newest. */
    uint64_t buffered_bytes;             /* Bytes in the ready queue. */
    bool closing;                        /* sb_consumer_close is running. */
    uint32_t fetch_partitions_max;       /* Partitions per Fetch, 0: no limit (BROKER_BUSY
                                          * halves it). */
    uint32_t fetch_partition_bytes;      /* Bytes asked per partition, 0:
                                          * fetch.partition.max.bytes (BROKER_BUSY at one
                                          * partition halves it). */
    uint32_t fetch_answers;              /* Answers since the last shrink. */
    uint32_t fetch_rotation;             /* Position in the partition list where the next
                                          * Fetch starts: after the last partition taken
                                          * (split requests) or the last an answer gave
                                          * records (trimmed responses). */
    /* API thread only: */
    struct consumer_chunk *current;      /* Chunk being handed out. */
    struct client_records records;       /* Its iterator. */
    struct sb_consumer_record record;    /* The record last returned. */
    struct sb_client_header *headers;    /* Its headers (owned). */
    uint32_t header_capacity;            /* Entries allocated. */
    struct consumer_group group;         /* Group membership (mutex, except where noted). */
};

/* I/O thread: list offsets and fetch for whatever needs it. */
void fetch_run(struct sb_client *client, struct sb_consumer *consumer, uint64_t now_ns);
void fetch_done(struct sb_client *client, struct client_request *request, int error,
                const uint8_t *body, size_t body_bytes);
void fetch_list_done(struct sb_client *client, struct client_request *request, int error,
                     const uint8_t *body, size_t body_bytes);
/* Mutex held: the assigned partition, or NULL. */
struct consumer_partition *consumer_find(struct sb_consumer *consumer, const char *topic,
                                         int32_t partition);
/* Mutex held: adds a partition of topic starting at offset (>= 0), or resolved by ListOffsets
 * at resolve_timestamp (SB_LIST_OFFSETS_*); NULL when out of memory. */
struct consumer_partition *consumer_partition_add(struct sb_consumer *consumer,
                                                  struct client_topic *topic,
                                                  int32_t partition, int64_t offset,
                                                  int64_t resolve_timestamp);
/* Mutex held: removes an assigned partition and drops its buffered records. */
void consumer_partition_remove(struct sb_consumer *consumer,
                               struct consumer_partition *partition);

/* group.c, I/O thread: heartbeats, auto commits, ops, resolving assigned topic ids. */
void group_run(struct sb_client *client, struct sb_consumer *consumer, uint64_t now_ns);
/* Runs the callbacks of finished async commits, each with the mutex released; returns how
 * many ran. */
uint32_t group_callbacks(struct sb_client *client);
/* Mutex held: queues op (fully built) on its consumer and wakes the I/O thread. */
void group_op_queue(struct sb_client *client, struct group_op *op);
/* A new op of count zeroed offsets, its deadline request.timeout.ms from now; NULL when out
 * of memory. */
struct group_op *group_op_new(struct sb_consumer *consumer, enum group_op_kind kind,
                              size_t count);
/* Sorts op's offsets by topic and partition; -EINVAL when one appears twice. */
int group_op_sort(struct group_op *op);
/* Mutex held: a commit of the position of every held partition that has one (with
 * changed_only, those not yet committed); *op_out NULL when there is none. 0 or -ENOMEM. */
int group_op_positions(struct sb_consumer *consumer, bool changed_only,
                       struct group_op **op_out);
/* Frees an op and what it owns. */
void group_op_free(struct group_op *op);
/* Mutex held: fails every queued op of consumer with error (closing). */
void group_ops_fail(struct sb_client *client, struct sb_consumer *consumer, int error);
/* group_api.c, API thread: the rebalance work poll does first (mutex not held). Returns 0,
 * or an error for poll to return (*record_out set as poll documents). */
int group_poll_work(struct sb_consumer *consumer, const struct sb_consumer_record **record_out);
/* group_api.c: leaves the group at close (static members with epoch -2). */
void group_close(struct sb_consumer *consumer);
/* group_api.c: fills the member id and epoch of a new consumer. */
void group_init(struct sb_client *client, struct sb_consumer *consumer);

/* Drops a partition reference; frees it when removed and unreferenced. */
void consumer_partition_release(struct consumer_partition *partition);
/* Frees a chunk and drops its partition reference. */
void consumer_chunk_free(struct consumer_chunk *chunk);

/* ---------------------------------------------------------------------------------------
 * Admin (admin.c, admin_parse.c; groups: admin_group.c, admin_group_parse.c)
 * ------------------------------------------------------------------------------------- */

/* One admin request: encoded by the API thread, sent by the I/O thread. */
struct admin_job {
    struct client_request request; /* In flight (first member: the done handler casts). */
    struct admin_job *next;        /* Next unsent job. */
    uint16_t api_key;              /* enum sb_api_key. */
    uint8_t *body;                 /* Encoded request body (owned). */
    size_t body_bytes;             /* Its size. */
    uint8_t *response;             /* Copy of the response body (owned) once done. */
    size_t response_bytes;         /* Its size. */
    int error;                     /* Outcome when done. */
    bool sent;                     /* Handed to a connection. */
    bool done;                     /* Answered or failed. */
    bool abandoned;                /* The caller gave up: whoever finishes frees it. */
};

/* Sends one admin request (body encoded by encode) and waits up to timeout_ms; returns 0
 * with the response body in *response_out (the caller frees it), or the error. */
int admin_execute(struct sb_client *client, uint16_t api_key,
                  int (*encode)(struct sb_wire_writer *writer, const void *request),
                  const void *request, int timeout_ms, uint8_t **response_out,
                  size_t *response_bytes_out);
/* timeout_ms, or request.timeout.ms when it is negative. */
int admin_timeout_ms(const struct sb_client *client, int timeout_ms);

/* A bump allocator over one result allocation (admin_parse.c): a result is the struct, then
 * its arrays, then its strings, each 8-byte aligned, so its *_free is a single free(). */
struct admin_block {
    uint8_t *base;   /* The allocation (handed to the caller). */
    size_t used;     /* Bytes taken so far. */
    size_t capacity; /* Bytes allocated. */
};

/* bytes rounded up to 8. */
size_t admin_aligned(size_t bytes);
/* Allocates capacity zeroed bytes (at least 1); 0 or -ENOMEM. */
int admin_block_init(struct admin_block *block, size_t capacity);
/* Takes the next bytes (rounded up to 8) of the block; the caller sized it. */
void *admin_take(struct admin_block *block, size_t bytes);
/* Copies a wire string as a C string into the block; the null string stays NULL. */
const char *admin_string(struct admin_block *block, struct sb_wire_string string);
/* Block bytes admin_string takes for string. */
size_t admin_string_size(struct sb_wire_string string);

/* I/O thread: sends queued admin jobs on a bootstrap connection. */
void admin_run(struct sb_client *client);
void admin_done(struct sb_client *client, struct client_request *request, int error,
                const uint8_t *body, size_t body_bytes);
/* Parse helpers shared with the fuzz target: each decodes a response body into the public
 * result (allocated; freed with the public free function) or returns SB_ERR_CORRUPT or the
 * broker's error. */
int admin_parse_list(const uint8_t *body, size_t body_bytes, struct sb_admin_topic_list **out);
int admin_parse_describe(const uint8_t *body, size_t body_bytes,
                         struct sb_admin_topic_description **out);
int admin_parse_health(const uint8_t *body, size_t body_bytes, struct sb_admin_health **out);
int admin_parse_create(const uint8_t *body, size_t body_bytes);
int admin_parse_delete(const uint8_t *body, size_t body_bytes);
int admin_parse_alter(const uint8_t *body, size_t body_bytes);
/* Group answers (admin_group_parse.c), as above: ListGroups; DescribeGroup with the
 * ListTopics answer naming its topic ids (topics_body NULL: none; the ids stay unnamed).
 * End offsets and lags are left -1 for the caller to fill in. */
int admin_parse_group_list(const uint8_t *body, size_t body_bytes,
                           struct sb_admin_group_list **out);
int admin_parse_group_describe(const uint8_t *body, size_t body_bytes,
                               const uint8_t *topics_body, size_t topics_bytes,
                               struct sb_admin_group_description **out);

#endif /* SB_CLIENT_CLIENT_PRIVATE_H */
