/*
 * streambus/streambus.h - libstreambus, the C client of StreamBus: producer,
 * consumer and topic administration over the native protocol.
 *
 * Objects and their lifecycle (docs/client.md is the guide):
 *
 *   sb_client_config_new -> sb_client_config_set ... -> sb_client_open -> (config may be freed)
 *   sb_client            one background I/O thread, its connections and metadata
 *     sb_producer_open   -> sb_producer_send / _send_sync / _flush -> sb_producer_close
 *     sb_consumer_open   -> sb_consumer_assign / _seek / _poll -> sb_consumer_close
 *                        or  sb_consumer_subscribe -> _poll / _commit_* -> _close (groups)
 *     sb_admin_*         topic create, delete, list, describe, alter; broker health;
 *                        consumer groups: list, describe, reset offsets, delete
 *   sb_client_close      after every producer and consumer of the client is closed
 *
 * Errors: every function that can fail returns an int, >= 0 on success and a
 * negative code on failure: -errno (e.g. -ETIMEDOUT, -ECONNREFUSED, -EINVAL),
 * one of the SB_ERR_* codes below, or a broker error SB_ERR_WIRE(code).
 * sb_client_strerror() describes any of them; sb_client_error_detail() adds
 * the broker's message or the offending config key for the calling thread.
 *
 * Threading: the library runs one I/O thread per sb_client. Callbacks (delivery
 * reports, the log callback) run on that thread; they must return quickly and
 * must not call blocking functions of the same client (those then fail with
 * -EDEADLK instead of deadlocking). Which functions may be called concurrently
 * is stated per object below.
 *
 * Safety: the library never aborts, never crashes and never prints because of
 * what a broker sends; bytes from the network are checked (CRCs, lengths) and
 * refused with an error. It writes nothing to stdout or stderr; set a log
 * callback to see its log lines.
 *
 * Ownership words used below: "borrowed for the call" (the library copies what
 * it needs before returning), "owned by the library until X" (valid until X,
 * never freed by the caller), "the caller frees with Y".
 */
#ifndef STREAMBUS_STREAMBUS_H
#define STREAMBUS_STREAMBUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define SB_CLIENT_API __attribute__((visibility("default")))
#else
#define SB_CLIENT_API
#endif

/* The library version; sb_client_version() returns the same string at run time. */
#define STREAMBUS_VERSION_MAJOR 0
#define STREAMBUS_VERSION_MINOR 1
#define STREAMBUS_VERSION_PATCH 0

/* ---------------------------------------------------------------------------------------
 * Errors
 * ------------------------------------------------------------------------------------- */

/* Codes shared with the broker's own code (same values as its SB_E* codes). */
#define SB_ERR_CORRUPT (-4097)  /* Bytes from the broker failed a CRC or structure check. */
#define SB_ERR_SHUTDOWN (-4098) /* The object is closing; the operation was not done. */
#define SB_ERR_FULL (-4099)     /* A bounded buffer is full (back-pressure, see max.block.ms). */
#define SB_ERR_CONFIG (-4100)   /* Unknown configuration key or bad value. */
/* Client-only codes. */
#define SB_ERR_PROTOCOL (-4200) /* The broker answered something this client cannot use. */
#define SB_ERR_NOT_ASSIGNED (-4201) /* The consumer has no such partition assigned. */
#define SB_ERR_NO_OFFSET (-4202)    /* No committed offset and auto.offset.reset=error. */
#define SB_ERR_NO_GROUP (-4203)     /* A group call on a consumer without group.id. */

/* Broker error codes (docs/protocol.md "Error codes") as return values: wire code c is
 * returned as SB_ERR_WIRE(c), i.e. -5000 - c. */
#define SB_ERR_WIRE_BASE (-5000)
#define SB_ERR_WIRE(code) (SB_ERR_WIRE_BASE - (code))
#define SB_ERR_UNKNOWN_TOPIC SB_ERR_WIRE(7)        /* No such topic or partition. */
#define SB_ERR_TOPIC_EXISTS SB_ERR_WIRE(8)         /* CreateTopics of an existing name. */
#define SB_ERR_INVALID_TOPIC SB_ERR_WIRE(9)        /* Not a valid topic name. */
#define SB_ERR_INVALID_PARTITIONS SB_ERR_WIRE(10)  /* Bad partition count. */
#define SB_ERR_INVALID_CONFIG SB_ERR_WIRE(12)      /* Bad topic config key or value. */
#define SB_ERR_OFFSET_OUT_OF_RANGE SB_ERR_WIRE(13) /* Fetch offset outside the log. */
#define SB_ERR_MESSAGE_TOO_LARGE SB_ERR_WIRE(15)   /* A record does not fit one batch. */
#define SB_ERR_OUT_OF_ORDER SB_ERR_WIRE(26)        /* Producer sequence gap. */
#define SB_ERR_PRODUCER_FENCED SB_ERR_WIRE(28)     /* A newer producer epoch took over. */
#define SB_ERR_GROUP_NOT_FOUND SB_ERR_WIRE(39)     /* No such group. */
#define SB_ERR_INVALID_GROUP_ID SB_ERR_WIRE(40)    /* Not a valid group id. */
#define SB_ERR_UNKNOWN_MEMBER_ID SB_ERR_WIRE(41)   /* The group no longer knows the member. */
#define SB_ERR_FENCED_MEMBER_EPOCH SB_ERR_WIRE(42) /* The member was fenced (a zombie). */
#define SB_ERR_STALE_MEMBER_EPOCH SB_ERR_WIRE(43)  /* Commit at an older member epoch. */
#define SB_ERR_NON_EMPTY_GROUP SB_ERR_WIRE(44)     /* The group has active members. */
#define SB_ERR_GROUP_MAX_SIZE_REACHED SB_ERR_WIRE(45) /* The group is full. */
#define SB_ERR_UNRELEASED_INSTANCE_ID SB_ERR_WIRE(46) /* group.instance.id held by another
                                                        * live member. */
#define SB_ERR_COORDINATOR_LOADING SB_ERR_WIRE(47) /* Its coordinator is still starting. */
#define SB_ERR_NOT_COORDINATOR SB_ERR_WIRE(48)     /* Another broker coordinates it. */
#define SB_ERR_UNSUPPORTED_ASSIGNOR SB_ERR_WIRE(49)   /* group.remote.assignor unknown. */
#define SB_ERR_INVALID_REGULAR_EXPRESSION SB_ERR_WIRE(50) /* A subscription regex does not
                                                            * compile on the broker. */
#define SB_ERR_OFFSET_METADATA_TOO_LARGE SB_ERR_WIRE(51)  /* Commit metadata > 4096 bytes. */

/* Describes any return code of this library (0, -errno, SB_ERR_*). Never NULL; static
 * storage. Thread-safe. */
SB_CLIENT_API const char *sb_client_strerror(int code);

/* True when the operation may succeed if tried again later (connection errors, timeouts,
 * and broker errors marked retriable in docs/protocol.md). Thread-safe. */
SB_CLIENT_API bool sb_client_error_is_retriable(int code);

/* The detail of the last failed call made by the calling thread: the broker's error message,
 * the config key that was refused, or "" when there is none. Owned by the library until the
 * thread's next call into it. */
SB_CLIENT_API const char *sb_client_error_detail(void);

/* "MAJOR.MINOR.PATCH" of the loaded library; static storage. */
SB_CLIENT_API const char *sb_client_version(void);

/* ---------------------------------------------------------------------------------------
 * Configuration: string keys and values, as in docs/client.md (Kafka-like names).
 * A config is used by one thread at a time; sb_client_open copies it.
 * ------------------------------------------------------------------------------------- */

struct sb_client_config;

/* Log levels passed to the log callback. */
#define SB_CLIENT_LOG_DEBUG 0
#define SB_CLIENT_LOG_INFO 1
#define SB_CLIENT_LOG_WARN 2
#define SB_CLIENT_LOG_ERROR 3

/* Returns a config holding every default, or NULL when out of memory. The caller frees it
 * with sb_client_config_free. */
SB_CLIENT_API struct sb_client_config *sb_client_config_new(void);

/* Sets key to value (both borrowed for the call; copied). Returns 0; SB_ERR_CONFIG for an
 * unknown key or a value that does not parse or is out of range (the detail names it). */
SB_CLIENT_API int sb_client_config_set(struct sb_client_config *config, const char *key,
                                       const char *value);

/* Writes the current value of key, NUL-terminated, into value_out (capacity bytes).
 * Returns the value's length; SB_ERR_CONFIG for an unknown key; -ENOSPC when it does not
 * fit. */
SB_CLIENT_API int sb_client_config_get(const struct sb_client_config *config, const char *key,
                                       char *value_out, size_t capacity);

/* Routes the library's log lines at or above min_level (SB_CLIENT_LOG_*) to log, which runs
 * on the library's threads with a NUL-terminated line (borrowed for the call). opaque is
 * passed through. NULL log (the default) drops every line. */
SB_CLIENT_API void sb_client_config_set_log(struct sb_client_config *config, int min_level,
                                            void (*log)(void *opaque, int level,
                                                        const char *line),
                                            void *opaque);

/* Frees a config; NULL is ignored. */
SB_CLIENT_API void sb_client_config_free(struct sb_client_config *config);

/* ---------------------------------------------------------------------------------------
 * Client: connections, metadata and the I/O thread. Every sb_client_* and sb_admin_*
 * function is thread-safe.
 * ------------------------------------------------------------------------------------- */

struct sb_client;

/* Validates config (borrowed for the call), starts the I/O thread and returns the client in
 * *client_out. Connecting is lazy and never fails here: a broker that is down shows up as
 * errors or timeouts of later calls. Returns 0; SB_ERR_CONFIG; -ENOMEM; or an errno from
 * creating the thread or its wake-up descriptor. The caller closes it with
 * sb_client_close. */
SB_CLIENT_API int sb_client_open(const struct sb_client_config *config,
                                 struct sb_client **client_out);

/* Stops the I/O thread, closes every connection and frees the client. Producers and
 * consumers still open are closed first (producers with a zero timeout, so records not yet
 * delivered are reported with SB_ERR_SHUTDOWN). Not callable from a callback; NULL is
 * ignored. */
SB_CLIENT_API void sb_client_close(struct sb_client *client);

/* Returns the partition count of topic (borrowed for the call), from cached metadata or by
 * asking the broker, waiting up to timeout_ms. Errors: SB_ERR_UNKNOWN_TOPIC,
 * SB_ERR_INVALID_TOPIC, -ETIMEDOUT,
 * a connection error such as -ECONNREFUSED once every bootstrap server failed. */
SB_CLIENT_API int sb_client_partition_count(struct sb_client *client, const char *topic,
                                            int timeout_ms);

/* ---------------------------------------------------------------------------------------
 * Records and headers
 * ------------------------------------------------------------------------------------- */

/* Partition chosen by the partitioner (murmur2 of the key like Kafka's default partitioner,
 * round-robin for a null key). */
#define SB_PARTITION_ANY (-1)

/* One record header: a name and a value, both byte strings. */
struct sb_client_header {
    const char *name;     /* name_length bytes (not NUL-terminated when received). */
    size_t name_length;   /* Bytes of name. */
    const void *value;    /* value_length bytes; NULL = null value. */
    size_t value_length;  /* Bytes of value; 0 when value is NULL. */
};

/* ---------------------------------------------------------------------------------------
 * Producer. sb_producer_send, _send_sync and _flush are thread-safe; _close must not run
 * concurrently with other calls on the same producer.
 * ------------------------------------------------------------------------------------- */

struct sb_producer;

/* A record to send. Every pointer is borrowed for the call: send copies the bytes. */
struct sb_producer_message {
    const char *topic;                      /* Topic name, NUL-terminated. */
    int32_t partition;                      /* A partition, or SB_PARTITION_ANY. */
    const void *key;                        /* key_length bytes; NULL = null key. */
    size_t key_length;                      /* Bytes of key. */
    const void *value;                      /* value_length bytes; NULL = null (tombstone). */
    size_t value_length;                    /* Bytes of value. */
    const struct sb_client_header *headers; /* header_count headers, or NULL. */
    uint32_t header_count;                  /* Entries in headers. */
    int64_t timestamp_ms;                   /* Create time in ms since the epoch; 0 = now. */
};

/* The outcome of one record, given to its delivery callback. */
struct sb_producer_delivery {
    int error;            /* 0 when stored; else a negative code (never retried further). */
    const char *topic;    /* The record's topic (owned by the library). */
    int32_t partition;    /* Its partition, or -1 when none was chosen. */
    int64_t offset;       /* Its offset; -1 on error and with acks=0. */
    int64_t timestamp_ms; /* Its create time, or the broker's append time (LogAppendTime). */
};

/* Creates a producer on client with the client's producer settings (acks, linger.ms,
 * batch.bytes, compression, enable.idempotence, ...). Returns 0 and *producer_out, or
 * -ENOMEM / SB_ERR_CONFIG (e.g. idempotence with acks=0 set explicitly). Closed with
 * sb_producer_close. */
SB_CLIENT_API int sb_producer_open(struct sb_client *client, struct sb_producer **producer_out);

/*
 * Queues message for sending and returns without waiting for the broker. on_delivery (may
 * be NULL) is called exactly once with the outcome, on the client's I/O thread, with
 * delivery borrowed for the call and the opaque given here; it is never called when send
 * returns an error. Records of one partition are stored in send order.
 * Blocks up to max.block.ms while buffer.memory.bytes is used up or the topic's metadata
 * is not yet known. Returns 0; -EINVAL (no topic, a negative partition other than
 * SB_PARTITION_ANY, a length above INT32_MAX); SB_ERR_INVALID_TOPIC (not a valid topic
 * name, docs/protocol.md "Topic names"); SB_ERR_UNKNOWN_TOPIC (the broker says the
 * topic or partition does not exist); SB_ERR_MESSAGE_TOO_LARGE (larger than one batch);
 * SB_ERR_FULL (buffer still full after max.block.ms, or at once from a callback);
 * -ETIMEDOUT (metadata still unknown after max.block.ms; -EAGAIN instead from a callback,
 * which never waits); a connection error when every bootstrap server refused;
 * SB_ERR_SHUTDOWN; SB_ERR_PRODUCER_FENCED after fencing.
 */
SB_CLIENT_API int sb_producer_send(struct sb_producer *producer,
                                   const struct sb_producer_message *message,
                                   void (*on_delivery)(
                                       const struct sb_producer_delivery *delivery,
                                       void *opaque),
                                   void *opaque);

/* Sends message and waits for its outcome (bounded by max.block.ms plus
 * delivery.timeout.ms). Returns 0 with the record's offset in *offset_out (may be NULL;
 * -1 with acks=0), or any error of sb_producer_send or of the delivery. -EDEADLK from a
 * callback. */
SB_CLIENT_API int sb_producer_send_sync(struct sb_producer *producer,
                                        const struct sb_producer_message *message,
                                        int64_t *offset_out);

/* Sends everything queued now (ignoring linger.ms) and waits until no record of the producer
 * is pending: each was delivered or failed and its callback returned (records other threads
 * send meanwhile are waited for too). timeout_ms < 0 waits without limit (records still end
 * by delivery.timeout.ms). Returns 0; -ETIMEDOUT; -EDEADLK from a callback. */
SB_CLIENT_API int sb_producer_flush(struct sb_producer *producer, int timeout_ms);

/* Records accepted by send whose callback has not yet returned. */
SB_CLIENT_API uint64_t sb_producer_pending(struct sb_producer *producer);

/* Flushes for up to timeout_ms (< 0: no limit), then fails what is left with
 * SB_ERR_SHUTDOWN (their callbacks run before close returns) and frees the producer.
 * Returns 0 when everything was delivered, else -ETIMEDOUT. -EDEADLK (and nothing is
 * closed) when called from a callback. NULL is ignored. */
SB_CLIENT_API int sb_producer_close(struct sb_producer *producer, int timeout_ms);

/* ---------------------------------------------------------------------------------------
 * Consumer. A consumer is used by one thread at a time (any thread, but not concurrently).
 * ------------------------------------------------------------------------------------- */

struct sb_consumer;

/* Positions for sb_consumer_seek. */
#define SB_OFFSET_BEGINNING (-2) /* The partition's first offset (log start). */
#define SB_OFFSET_END (-1)       /* After its last record: only new records are read. */

/* A record returned by sb_consumer_poll. Owned by the library until the next poll, seek,
 * unassign or close of the same consumer. */
struct sb_consumer_record {
    const char *topic;                      /* Topic name (NUL-terminated). */
    int32_t partition;                      /* Partition number. */
    int64_t offset;                         /* The record's offset. */
    int64_t timestamp_ms;                   /* Create time, or the append time (below). */
    bool log_append_time;                   /* timestamp_ms is the broker's append time. */
    const void *key;                        /* key_length bytes; NULL = null key. */
    size_t key_length;                      /* Bytes of key. */
    const void *value;                      /* value_length bytes; NULL = null value. */
    size_t value_length;                    /* Bytes of value. */
    const struct sb_client_header *headers; /* header_count headers. */
    uint32_t header_count;                  /* Entries in headers. */
};

/* Creates a consumer on client with the client's consumer settings (fetch.*,
 * auto.offset.reset). It has its own connections, so its long-poll fetches never delay
 * the client's producers. Returns 0 and *consumer_out, or -ENOMEM. */
SB_CLIENT_API int sb_consumer_open(struct sb_client *client, struct sb_consumer **consumer_out);

/* Adds partition of topic (borrowed for the call) to the consumer, starting at
 * auto.offset.reset until a seek says otherwise. Returns 0; -EEXIST when already assigned;
 * -EINVAL for a negative partition or no topic; SB_ERR_INVALID_TOPIC for a name no topic can
 * have; -EBUSY while the consumer is subscribed to a group. Whether the partition exists is
 * learned
 * from the broker: a missing one is reported by poll as SB_ERR_UNKNOWN_TOPIC. */
SB_CLIENT_API int sb_consumer_assign(struct sb_consumer *consumer, const char *topic,
                                     int32_t partition);

/* Removes an assigned partition and drops its buffered records. Returns 0 or
 * SB_ERR_NOT_ASSIGNED. */
SB_CLIENT_API int sb_consumer_unassign(struct sb_consumer *consumer, const char *topic,
                                       int32_t partition);

/* Moves an assigned partition to offset (>= 0), SB_OFFSET_BEGINNING or SB_OFFSET_END; the
 * next record polled from it has that offset (or the next one present). Records already
 * buffered for it are dropped. Returns 0, -EINVAL or SB_ERR_NOT_ASSIGNED. An offset outside
 * the log is handled by auto.offset.reset when fetched. */
SB_CLIENT_API int sb_consumer_seek(struct sb_consumer *consumer, const char *topic,
                                   int32_t partition, int64_t offset);

/* Moves an assigned partition to the first record whose timestamp is >= timestamp_ms (ms
 * since the epoch), or to the end when there is none. Returns as sb_consumer_seek. */
SB_CLIENT_API int sb_consumer_seek_timestamp(struct sb_consumer *consumer, const char *topic,
                                             int32_t partition, int64_t timestamp_ms);

/*
 * Returns the next record of any assigned partition, waiting up to timeout_ms (0: do not
 * wait, < 0: no limit). Returns 1 with *record_out; 0 when the time ran out; or a negative
 * code for a partition that stopped (e.g. SB_ERR_OFFSET_OUT_OF_RANGE with
 * auto.offset.reset=error, SB_ERR_UNKNOWN_TOPIC, SB_ERR_CORRUPT): then *record_out names
 * the partition (topic, partition, offset = its position; no key or value) and that
 * partition fetches nothing more until it is sought again. Fetching continues in the
 * background, so the next records are usually buffered before this returns.
 * With a subscription, poll also runs the group's rebalance work first (commit on revoke,
 * the rebalance callback, reading committed offsets of new partitions, which may take up
 * to request.timeout.ms beyond timeout_ms), reports SB_ERR_NO_OFFSET for a new partition
 * without a commit under auto.offset.reset=error (record_out names it), and returns a
 * group error that ended the membership (record_out is then NULL).
 */
SB_CLIENT_API int sb_consumer_poll(struct sb_consumer *consumer, int timeout_ms,
                                   const struct sb_consumer_record **record_out);

/* The offset of the next record poll will return for the partition, waiting up to
 * timeout_ms for a pending seek to resolve. Returns 0 and *offset_out; -ETIMEDOUT;
 * SB_ERR_NOT_ASSIGNED. */
SB_CLIENT_API int sb_consumer_position(struct sb_consumer *consumer, const char *topic,
                                       int32_t partition, int timeout_ms, int64_t *offset_out);

/* Records between the position and the partition's high watermark as last reported by the
 * broker, waiting up to timeout_ms for both to be known. Returns 0 and *lag_out (>= 0);
 * -ETIMEDOUT; SB_ERR_NOT_ASSIGNED. */
SB_CLIENT_API int sb_consumer_lag(struct sb_consumer *consumer, const char *topic,
                                  int32_t partition, int timeout_ms, int64_t *lag_out);

/* Stops fetching, drops buffered records and frees the consumer. With a subscription it
 * first leaves the group as sb_consumer_unsubscribe does (commit when enable.auto.commit,
 * the revoked callback, then a leave heartbeat: epoch -1, or -2 with group.instance.id so
 * the static member keeps its partitions for the broker's session timeout), waits up to
 * request.timeout.ms for async commits still in flight (their callbacks run before close
 * returns), and never blocks longer than that for a broker that is down. NULL is
 * ignored. Not callable from a callback of the same client. */
SB_CLIENT_API void sb_consumer_close(struct sb_consumer *consumer);

/* ---------------------------------------------------------------------------------------
 * Consumer groups (docs/client.md "Consumer groups"). A consumer whose client has a
 * group.id may subscribe: the group's coordinator then assigns it partitions and moves
 * them between the group's members (KIP-848 style, docs/groups.md); commits store, per
 * partition, the offset of the next record to process. Settings of the client:
 *   group.id                 the group ("" = none: only assign() and no commits)
 *   group.instance.id        static membership: a stable id per process ("" = dynamic)
 *   group.remote.assignor    "uniform" or "range"; "" = the broker's default
 *   enable.auto.commit       true (default): commit the positions every
 *   auto.commit.interval.ms  (default 5000) on the I/O thread, on revoke and at close
 *   auto.offset.reset        where a partition without a committed offset starts:
 *                            earliest, latest (default), or error (poll reports
 *                            SB_ERR_NO_OFFSET for it)
 * The session timeout and heartbeat interval are the broker's (heartbeats run on the
 * client's I/O thread at the interval the broker returns). Delivery is at-least-once with
 * the default settings: a position is committed only after poll returned the record
 * before it, and the next poll call is taken as "processed"; after a crash or fencing,
 * records after the last commit are delivered again.
 *
 * Rebalance callbacks run on the thread that calls sb_consumer_poll (also inside
 * sb_consumer_unsubscribe and sb_consumer_close), never on the I/O thread, so they may
 * call every sb_consumer_* function of the consumer except poll, close, subscribe and
 * unsubscribe (-EDEADLK); poll runs them before it returns any record of a later
 * assignment. Partitions of a subscription are not fetched until their callback ran.
 * Poll a subscribed consumer at least once per session timeout: a member that does not
 * give up revoked partitions within it is removed from the group (their records are then
 * delivered again elsewhere). Its poll from an I/O-thread callback returns -EDEADLK.
 * ------------------------------------------------------------------------------------- */

/* A partition with an offset: commit input, callback and assignment output. */
struct sb_consumer_partition {
    const char *topic;    /* Topic name. Output: owned by the library until the client closes. */
    int32_t partition;    /* Partition number. */
    int64_t offset;       /* Commit: the next offset to process (>= 0). Assigned: the start
                           * position (-1: resolved later by auto.offset.reset). Revoked,
                           * lost and sb_consumer_assignment: the position, -1 if unknown. */
    const char *metadata; /* Commit: stored with the offset (NULL = none); output: NULL. */
    int error;            /* Output of commits: 0 or this partition's error. */
};

/* Rebalance events. */
#define SB_CONSUMER_ASSIGNED 1 /* The partitions were added to the consumer. */
#define SB_CONSUMER_REVOKED 2  /* They are taken away: commit now if you commit yourself. */
#define SB_CONSUMER_LOST 3     /* They were taken away without notice (the member was
                                * fenced or the broker restarted): no commit is possible. */

/* The rebalance callback: event SB_CONSUMER_*, partitions (count entries, borrowed for the
 * call). With revoked partitions the consumer still holds them during the call (commits
 * of them are accepted); after it returns they are gone and the coordinator is told. */
typedef void (*sb_consumer_rebalance_fn)(struct sb_consumer *consumer, int event,
                                         const struct sb_consumer_partition *partitions,
                                         size_t count, void *opaque);

/* Sets (or with NULL clears) the rebalance callback and its opaque. Call it before
 * subscribing. Returns 0 or -EINVAL. */
SB_CLIENT_API int sb_consumer_set_rebalance_callback(struct sb_consumer *consumer,
                                                     sb_consumer_rebalance_fn on_rebalance,
                                                     void *opaque);

/* Joins the client's group subscribed to count topic names (borrowed for the call;
 * topics that do not exist yet are assigned once created), replacing any previous
 * subscription. Returns at once; partitions arrive through poll. Returns 0; -EINVAL (no
 * topics, count above 256, a NULL name); SB_ERR_INVALID_TOPIC; SB_ERR_NO_GROUP; -EBUSY
 * when partitions were assigned by hand (unassign them first). Errors of the group itself
 * (SB_ERR_INVALID_GROUP_ID, SB_ERR_UNRELEASED_INSTANCE_ID, SB_ERR_GROUP_MAX_SIZE_REACHED,
 * ...) are returned by the next poll, after which the consumer stays out of the group
 * until it subscribes again. */
SB_CLIENT_API int sb_consumer_subscribe(struct sb_consumer *consumer,
                                        const char *const *topics, size_t count);

/* As sb_consumer_subscribe, with every topic whose whole name matches regex (POSIX
 * extended, evaluated by the broker; internal topics never match), including topics
 * created later. -EINVAL for an empty regex or one longer than 255 bytes; a regex the
 * broker cannot compile is reported by poll as SB_ERR_INVALID_REGULAR_EXPRESSION. */
SB_CLIENT_API int sb_consumer_subscribe_pattern(struct sb_consumer *consumer,
                                                const char *regex);

/* Leaves the group: commits the positions when enable.auto.commit, runs the revoked
 * callback, drops every partition and sends the leave heartbeat (waiting up to
 * request.timeout.ms for its answer). Returns 0 (also when not subscribed) or -EDEADLK
 * from a callback. */
SB_CLIENT_API int sb_consumer_unsubscribe(struct sb_consumer *consumer);

/* Commits offsets (count entries, borrowed for the call) to the group, or with offsets
 * NULL the current position of every partition of the assignment that has one, and waits
 * up to timeout_ms (< 0: request.timeout.ms) for the coordinator to store them durably.
 * Retriable errors (coordinator loading, STALE_MEMBER_EPOCH, connection loss) are retried
 * within the time. Works with a subscription (at the member's epoch) and with assign()
 * (only while the group has no members). Returns 0 when every offset is stored; else the
 * first error: SB_ERR_NO_GROUP, -EINVAL (a negative offset, count above 4096),
 * SB_ERR_FENCED_MEMBER_EPOCH or SB_ERR_UNKNOWN_MEMBER_ID (the member lost its partitions:
 * nothing was stored), a partition's error (SB_ERR_UNKNOWN_TOPIC,
 * SB_ERR_OFFSET_METADATA_TOO_LARGE), -ETIMEDOUT, -EDEADLK from an I/O-thread callback. */
SB_CLIENT_API int sb_consumer_commit_sync(struct sb_consumer *consumer,
                                          const struct sb_consumer_partition *offsets,
                                          size_t count, int timeout_ms);

/* The outcome of an async commit: error 0 or as sb_consumer_commit_sync, offsets as
 * committed with each partition's error (borrowed for the call). */
typedef void (*sb_consumer_commit_fn)(struct sb_consumer *consumer, int error,
                                      const struct sb_consumer_partition *offsets,
                                      size_t count, void *opaque);

/* As sb_consumer_commit_sync without waiting: the offsets are copied, sent, and
 * on_commit (may be NULL) is called exactly once with the outcome on the client's I/O
 * thread (it must not block), within request.timeout.ms. Commits of one consumer are
 * stored in call order. Returns 0 (on_commit will run), or SB_ERR_NO_GROUP, -EINVAL,
 * -ENOMEM (on_commit will not run). */
SB_CLIENT_API int sb_consumer_commit_async(struct sb_consumer *consumer,
                                           const struct sb_consumer_partition *offsets,
                                           size_t count, sb_consumer_commit_fn on_commit,
                                           void *opaque);

/* Asks the coordinator for the committed offset of partition of topic in the client's
 * group (any partition, assigned or not), waiting up to timeout_ms. Returns 0 and
 * *offset_out (-1 when the group has no commit for it); SB_ERR_NO_GROUP; -ETIMEDOUT; a
 * connection error; -EDEADLK from an I/O-thread callback. */
SB_CLIENT_API int sb_consumer_committed(struct sb_consumer *consumer, const char *topic,
                                        int32_t partition, int timeout_ms,
                                        int64_t *offset_out);

/* The partitions the consumer holds now (assigned by hand or by its group), with their
 * positions: writes up to capacity entries to partitions_out (topic names owned by the
 * library until the client closes) and returns how many there are (may exceed capacity),
 * or -EINVAL. */
SB_CLIENT_API int sb_consumer_assignment(struct sb_consumer *consumer,
                                         struct sb_consumer_partition *partitions_out,
                                         size_t capacity);

/* The member id the consumer uses in its group (chosen at open, kept across rejoins;
 * owned by the library until the consumer closes), and in *epoch_out (may be NULL) its
 * current member epoch (0 while joining, -1 when not in a group). */
SB_CLIENT_API const char *sb_consumer_member_id(struct sb_consumer *consumer,
                                                int32_t *epoch_out);

/* ---------------------------------------------------------------------------------------
 * Admin: synchronous topic administration on the client's first reachable broker. Every
 * call waits up to timeout_ms (< 0: request.timeout.ms) and fails fast with the connection
 * error (e.g. -ECONNREFUSED) once every bootstrap server refused.
 * ------------------------------------------------------------------------------------- */

/* Creates topic name with partitions (<= 0: the broker's default count) and configs, each
 * "key=value" (docs/protocol.md "Topic configs"); all borrowed for the call. Waits until the
 * client's metadata knows the topic, so producers can use it at once. Returns 0;
 * SB_ERR_TOPIC_EXISTS,
 * SB_ERR_INVALID_TOPIC, SB_ERR_INVALID_PARTITIONS, SB_ERR_INVALID_CONFIG (the detail has the
 * broker's message); -EINVAL for a config without '='; connection errors; -ETIMEDOUT. */
SB_CLIENT_API int sb_admin_topic_create(struct sb_client *client, const char *name,
                                        int32_t partitions, const char *const *configs,
                                        size_t config_count, int timeout_ms);

/* Deletes topic name. Returns 0, SB_ERR_UNKNOWN_TOPIC, or as above. */
SB_CLIENT_API int sb_admin_topic_delete(struct sb_client *client, const char *name,
                                        int timeout_ms);

/* Changes a topic: partitions 0 keeps the count, else the new (larger) count; configs are
 * "key=value" to set or "key" alone to reset to the default. All or nothing. Waits until
 * the client's metadata has the new partition count. Returns 0 or as sb_admin_topic_create
 * (SB_ERR_UNKNOWN_TOPIC for a missing topic). */
SB_CLIENT_API int sb_admin_topic_alter(struct sb_client *client, const char *name,
                                       int32_t partitions, const char *const *configs,
                                       size_t config_count, int timeout_ms);

/* One topic in a list. */
struct sb_admin_topic {
    const char *name;        /* Topic name. */
    uint32_t topic_id;       /* Broker-assigned id. */
    int32_t partition_count; /* Partitions. */
    bool internal;           /* One of the broker's own topics. */
};

/* A list of topics, sorted by name. */
struct sb_admin_topic_list {
    uint32_t topic_count;                /* Entries in topics. */
    const struct sb_admin_topic *topics; /* The topics. */
};

/* Lists topics whose name starts with prefix ("" or NULL: all). Returns 0 and *list_out,
 * which the caller frees with sb_admin_topic_list_free; or a connection error or -ETIMEDOUT. */
SB_CLIENT_API int sb_admin_topic_list(struct sb_client *client, const char *prefix,
                                      int timeout_ms, struct sb_admin_topic_list **list_out);
SB_CLIENT_API void sb_admin_topic_list_free(struct sb_admin_topic_list *list);

/* One partition of a described topic. */
struct sb_admin_partition {
    int32_t partition;        /* Partition number. */
    int32_t leader;           /* Node id of its leader, -1 if none. */
    int32_t shard;            /* Owning shard on the leader, -1 if none. */
    int64_t log_start_offset; /* First offset still stored. */
    int64_t high_watermark;   /* Offset after the last committed record. */
    int64_t log_end_offset;   /* Offset after the last appended record. */
};

/* One config entry of a described topic. */
struct sb_admin_config_entry {
    const char *key;   /* Config key. */
    const char *value; /* Its value, or NULL when the broker does not show it. */
    bool is_default;   /* The broker default applies. */
};

/* What DescribeTopic returns. */
struct sb_admin_topic_description {
    const char *name;                             /* Topic name. */
    uint32_t topic_id;                            /* Broker-assigned id. */
    uint32_t partition_count;                     /* Entries in partitions. */
    const struct sb_admin_partition *partitions;  /* In partition order. */
    uint32_t config_count;                        /* Entries in configs. */
    const struct sb_admin_config_entry *configs;  /* Every config, defaults included. */
};

/* Describes topic name. Returns 0 and *description_out (the caller frees it with
 * sb_admin_topic_description_free), SB_ERR_UNKNOWN_TOPIC, or as above. */
SB_CLIENT_API int sb_admin_topic_describe(struct sb_client *client, const char *name,
                                          int timeout_ms,
                                          struct sb_admin_topic_description **description_out);
SB_CLIENT_API void sb_admin_topic_description_free(struct sb_admin_topic_description *d);

/* Broker and shard status values. */
#define SB_ADMIN_STATUS_SERVING 0
#define SB_ADMIN_STATUS_STARTING 1
#define SB_ADMIN_STATUS_STOPPING 2
#define SB_ADMIN_STATUS_DEGRADED 3

/* One shard of a broker's health report. */
struct sb_admin_shard_health {
    int32_t shard_id;    /* Shard number. */
    int status;          /* SB_ADMIN_STATUS_*. */
    int32_t connections; /* Client connections it serves. */
    int32_t partitions;  /* Partitions it owns. */
};

/* A broker's health report. */
struct sb_admin_health {
    int status;                                /* SB_ADMIN_STATUS_* of the broker. */
    int32_t node_id;                           /* Its node id. */
    int64_t uptime_ms;                         /* Time since it started. */
    uint32_t shard_count;                      /* Entries in shards. */
    const struct sb_admin_shard_health *shards; /* One per shard. */
};

/* Asks the first reachable bootstrap broker for its health. Returns 0 and *health_out (the
 * caller frees it with sb_admin_health_free), or a connection error or -ETIMEDOUT. */
SB_CLIENT_API int sb_admin_health(struct sb_client *client, int timeout_ms,
                                  struct sb_admin_health **health_out);
SB_CLIENT_API void sb_admin_health_free(struct sb_admin_health *health);

/* ---------------------------------------------------------------------------------------
 * Admin: consumer groups (docs/client.md "Consumer group administration"). Each call is
 * sent to a bootstrap broker, whose receiving shard hands it to the group's coordinator
 * shard; while the coordinator is still reading its groups back after a start
 * (COORDINATOR_LOAD_IN_PROGRESS) or says another broker coordinates it
 * (NOT_COORDINATOR), the call is resent with retry.backoff.ms backoff until timeout_ms
 * runs out, and then returns that error. Every call waits up to timeout_ms in all
 * (< 0: request.timeout.ms) and fails with the connection error (e.g. -ECONNREFUSED)
 * once every bootstrap server refused. A group id is 1 to 255 bytes of printable ASCII
 * (0x21-0x7E); any other is SB_ERR_INVALID_GROUP_ID at once, a NULL one -EINVAL.
 * ------------------------------------------------------------------------------------- */

/* Broker errors of the group calls: SB_ERR_GROUP_NOT_FOUND, SB_ERR_INVALID_GROUP_ID,
 * SB_ERR_NON_EMPTY_GROUP, SB_ERR_COORDINATOR_LOADING, SB_ERR_NOT_COORDINATOR (above, with
 * the other broker errors). */

/* Group states (the broker's, docs/groups.md). */
#define SB_ADMIN_GROUP_EMPTY 0       /* No members. */
#define SB_ADMIN_GROUP_ASSIGNING 1   /* A new target assignment is being computed. */
#define SB_ADMIN_GROUP_RECONCILING 2 /* Members move towards the target assignment. */
#define SB_ADMIN_GROUP_STABLE 3      /* Every member has its target assignment. */
#define SB_ADMIN_GROUP_DEAD 4        /* Being deleted. */

/* "Empty", "Assigning", "Reconciling", "Stable", "Dead", or "Unknown"; static storage. */
SB_CLIENT_API const char *sb_admin_group_state_name(int state);

/* One group in a list. */
struct sb_admin_group {
    const char *group_id; /* The group. */
    int state;            /* SB_ADMIN_GROUP_*. */
    int32_t member_count; /* Its members now. */
};

/* A list of groups, sorted by group id. */
struct sb_admin_group_list {
    uint32_t group_count;                /* Entries in groups. */
    const struct sb_admin_group *groups; /* The groups. */
};

/* Lists every group of the broker (every shard's). Returns 0 and *list_out, which the
 * caller frees with sb_admin_group_list_free; or SB_ERR_COORDINATOR_LOADING, a connection
 * error or -ETIMEDOUT. */
SB_CLIENT_API int sb_admin_group_list(struct sb_client *client, int timeout_ms,
                                      struct sb_admin_group_list **list_out);
SB_CLIENT_API void sb_admin_group_list_free(struct sb_admin_group_list *list);

/* One partition of a topic. */
struct sb_admin_topic_partition {
    const char *topic;  /* Topic name; NULL when no topic has the id any more (deleted). */
    int32_t partition;  /* Partition number. */
};

/* One member of a described group. The protocol carries no client host or client id. */
struct sb_admin_group_member {
    const char *member_id;     /* Chosen by the member's client. */
    const char *instance_id;   /* Static membership's instance id; NULL for a dynamic one. */
    int32_t member_epoch;      /* Its epoch. */
    uint32_t topic_count;      /* Entries in topics. */
    const char *const *topics; /* The topic names it subscribes to. */
    const char *topic_regex;   /* Its subscription pattern, or NULL. */
    uint32_t assigned_count;   /* Entries in assigned. */
    const struct sb_admin_topic_partition *assigned; /* What it owns now. */
    uint32_t target_count;     /* Entries in target. */
    const struct sb_admin_topic_partition *target;   /* What it will own once reconciled. */
};

/* One partition a described group has a committed offset for or a member owns. */
struct sb_admin_group_partition {
    const char *topic;        /* Topic name (NULL as in struct sb_admin_topic_partition). */
    int32_t partition;        /* Partition number. */
    const char *member_id;    /* The member that owns it now, or NULL. */
    int64_t committed_offset; /* The next offset the group consumes, -1 without a commit. */
    int64_t commit_time_ms;   /* Broker time of the commit, -1 without one. */
    const char *metadata;     /* The commit's metadata string, NULL without a commit. */
    int64_t end_offset;       /* The partition's high watermark, -1 when unknown (the
                               * topic or partition is gone). */
    int64_t lag;              /* end_offset - committed_offset, -1 when either is unknown. */
};

/* What sb_admin_group_describe returns. */
struct sb_admin_group_description {
    const char *group_id;     /* The group. */
    int state;                /* SB_ADMIN_GROUP_*. */
    int32_t group_epoch;      /* Bumped by every membership or subscription change. */
    int32_t assignment_epoch; /* The group epoch of the current target assignment. */
    const char *assignor;     /* The assignor in use; "" for an empty group. */
    uint32_t member_count;    /* Entries in members. */
    const struct sb_admin_group_member *members;       /* By member id. */
    uint32_t partition_count; /* Entries in partitions. */
    const struct sb_admin_group_partition *partitions; /* By topic name, then partition. */
};

/* Describes group_id (borrowed for the call): state, members with their assignments, and
 * per partition its committed offset, end offset and lag (end offsets are asked with
 * ListOffsets after the group answered, so a lag is as of the call's end). Returns 0 and
 * *description_out (the caller frees it with sb_admin_group_description_free);
 * SB_ERR_GROUP_NOT_FOUND (no such group: none with members or committed offsets);
 * SB_ERR_INVALID_GROUP_ID; -EINVAL; or as sb_admin_group_list. */
SB_CLIENT_API int sb_admin_group_describe(struct sb_client *client, const char *group_id,
                                          int timeout_ms,
                                          struct sb_admin_group_description **description_out);
SB_CLIENT_API void sb_admin_group_description_free(struct sb_admin_group_description *d);

/* Where sb_admin_group_reset_offsets moves a group's committed offsets. */
#define SB_ADMIN_RESET_EARLIEST 0 /* Each partition's log start offset. */
#define SB_ADMIN_RESET_LATEST 1   /* Each partition's high watermark (skip everything). */
#define SB_ADMIN_RESET_OFFSET 2   /* value, clamped into [log start, high watermark]. */
#define SB_ADMIN_RESET_TIME 3     /* The first record with a timestamp >= value (ms since
                                   * the epoch), or the high watermark when there is none. */

/* The offsets a reset committed: offsets[p] for partition p of the topic. */
struct sb_admin_group_reset {
    uint32_t partition_count; /* Entries in offsets: the topic's partitions. */
    const int64_t *offsets;   /* The committed offset of each partition. */
};

/* Sets the committed offset of every partition of topic for group_id (both borrowed for
 * the call; the group is created when it does not exist), as mode (SB_ADMIN_RESET_*) with
 * value says; offsets are resolved with ListOffsets, then committed together
 * (AlterGroupOffsets: all or nothing). Only a group without members can be reset: the
 * broker refuses one with members with SB_ERR_NON_EMPTY_GROUP (the detail says to stop its
 * consumers first). Returns 0 and, when result_out is not NULL, *result_out (the caller
 * frees it with sb_admin_group_reset_free); -EINVAL (bad mode, a negative offset or time,
 * no topic); SB_ERR_UNKNOWN_TOPIC; SB_ERR_INVALID_TOPIC; SB_ERR_INVALID_GROUP_ID;
 * SB_ERR_NON_EMPTY_GROUP; or as sb_admin_group_list. */
SB_CLIENT_API int sb_admin_group_reset_offsets(struct sb_client *client, const char *group_id,
                                               const char *topic, int mode, int64_t value,
                                               int timeout_ms,
                                               struct sb_admin_group_reset **result_out);
SB_CLIENT_API void sb_admin_group_reset_free(struct sb_admin_group_reset *result);

/* Deletes group_id (borrowed for the call) and its committed offsets, durably. Returns 0;
 * SB_ERR_GROUP_NOT_FOUND; SB_ERR_NON_EMPTY_GROUP while it has members; SB_ERR_INVALID_GROUP_ID;
 * -EINVAL; or as sb_admin_group_list. */
SB_CLIENT_API int sb_admin_group_delete(struct sb_client *client, const char *group_id,
                                        int timeout_ms);

#ifdef __cplusplus
}
#endif

#endif /* STREAMBUS_STREAMBUS_H */
