/*
 * core/limits.h - every fixed limit of the runtime, in one place.
 *
 * Each ring, pool, queue, batch and retry loop is bounded by a constant named
 * here (STYLE.md rule 19). Relations between limits are checked at compile
 * time below. Limits that an operator may tune become configuration with
 * these values as their hard ceilings.
 */
#ifndef SB_CORE_LIMITS_H
#define SB_CORE_LIMITS_H

#include <assert.h>
#include <stdint.h>

/* Shards: one pinned thread each. More shards than CPUs is allowed. */
#define SB_SHARDS_MAX 256

/* Cross-shard SPSC ring: 64-byte slots per ordered pair of shards. */
#define SB_RING_SLOTS 256
/* Messages taken from one inbound ring per loop iteration, so no peer starves the others. */
#define SB_RING_DRAIN_BATCH_MAX 64
/* Per-shard pool of overflow nodes that hold messages while a destination ring is full. */
#define SB_OVERFLOW_MESSAGES_MAX 16384

/* Timers armed at once on one shard (a fixed binary heap). */
#define SB_TIMERS_MAX 65536

/* io_uring submission and completion queue sizes, and completions reaped per batch. */
#define SB_IO_SUBMIT_QUEUE_ENTRIES 1024
#define SB_IO_COMPLETION_QUEUE_ENTRIES 8192
/* io_uring runs fsync and other blocking file ops on kernel workers, by default at most
 * min(SQ entries, 4 x CPUs) at once per ring: 8 on 2 CPUs, however many syncs are in flight.
 * A flush round keeps up to 256 fdatasyncs in flight so ext4 commits them together. */
#define SB_IO_BLOCKING_WORKERS 256
#define SB_IO_REAP_BATCH 256
/* Provided-buffer groups per io instance, and buffers per group (kernel limit 32768). */
#define SB_IO_BUFFER_GROUPS_MAX 4
#define SB_IO_BUFFERS_PER_GROUP_MAX 32768
/* Registered (fixed) file slots per io instance. */
#define SB_IO_FIXED_FILES_MAX 1024

/* Simulator: virtual file descriptors, unsynced writes remembered per world, and trace size. */
#define SB_SIM_FILES_MAX 1024
#define SB_SIM_SOCKETS_MAX 1024
#define SB_SIM_UNSYNCED_WRITES_MAX 65536
#define SB_SIM_EVENTS_MAX 65536
/* Simulator: ios joined to one world, one-shot faults armed at once, bytes of unsynced writes
 * remembered per world (each costs twice that: pre-image and data), bytes queued towards one
 * simulated socket, connections waiting in one listener's backlog, and vectors per
 * WRITEV/SENDMSG (Linux IOV_MAX). */
#define SB_SIM_IOS_MAX 64
#define SB_SIM_FAULTS_ONCE_MAX 16
#define SB_SIM_UNSYNCED_BYTES_MAX (256u << 20)
#define SB_SIM_SOCKET_INBOUND_BYTES_MAX (64u << 20)
#define SB_SIM_BACKLOG_MAX 4096
#define SB_SIM_VECTORS_MAX 1024

/* Bytes in one formatted log line, including the prefix. */
#define SB_LOG_LINE_BYTES 1024

/* Start-up arena of a shard. */
#define SB_SHARD_ARENA_BYTES (16u << 20)

/* Loop iterations a shard spends draining after stop is requested, before it gives up. */
#define SB_SHUTDOWN_DRAIN_ITERATIONS_MAX 100000

/* Native wire protocol (docs/protocol.md): the default and the ceiling of the broker's
 * frame size setting, the default largest record batch (topic config max.message.bytes),
 * the longest topic name, and the most elements one array may declare. */
#define SB_WIRE_FRAME_BYTES_DEFAULT (16u << 20)
#define SB_WIRE_FRAME_BYTES_MAX (1u << 30)
#define SB_WIRE_BATCH_BYTES_DEFAULT (1u << 20)
#define SB_WIRE_TOPIC_NAME_BYTES_MAX 249
#define SB_WIRE_ARRAY_COUNT_MAX (1u << 20)
/* Consumer groups (docs/protocol.md "Consumer group APIs"): the longest group id, the longest
 * member id a client may choose, and the longest metadata string of a committed offset. */
#define SB_WIRE_GROUP_ID_BYTES_MAX 255
#define SB_WIRE_MEMBER_ID_BYTES_MAX 64
#define SB_WIRE_OFFSET_METADATA_BYTES_MAX 4096
/* Consumer groups on the broker: the default partitions of __consumer_offsets and how long an
 * empty group's offsets are kept after its last commit (offsets_retention_ms). */
#define SB_GROUP_OFFSETS_PARTITIONS_DEFAULT 16u
#define SB_GROUP_OFFSETS_RETENTION_MS_DEFAULT (7ull * 24 * 3600 * 1000)

/* Storage: WAL files one shard may have (the ceiling of the wal_files setting; recovery reads
 * every wal-<n>.log below it, whatever the setting is today), and the largest record batch
 * the store ever accepts (the ceiling of max_message_bytes). Data on disk is checked against
 * this format limit, never against today's setting, so lowering a setting keeps what was
 * stored under the old one readable. */
#define SB_STORE_WAL_FILES_MAX 64u
#define SB_STORE_BATCH_BYTES_MAX (1u << 30)
/* Storage: how far a segment read loads ahead of what it has to copy (beyond the rest of its
 * max_bytes), so the next fetch of a sequential consumer finds its blocks on their way; and
 * the share of the block cache (1 / N of its blocks) read-ahead may have loading at once. */
#define SB_STORE_READAHEAD_BYTES (2u << 20)
#define SB_STORE_READAHEAD_CACHE_SHARE 4u

/* Broker: requests one shard holds at once (all its connections; its request pool), and the
 * defaults of the per-connection, per-shard settings max_inflight_requests,
 * request_memory_bytes and max_connections (docs/configuration.md). */
#define SB_BROKER_REQUESTS_MAX 4096u
#define SB_BROKER_INFLIGHT_REQUESTS_DEFAULT 64u
#define SB_BROKER_REQUEST_MEMORY_BYTES_DEFAULT (256ull << 20)
#define SB_BROKER_CONNECTIONS_DEFAULT 1024u
/* The most max_connections may be: each connection has an idle timer in its shard's heap. */
#define SB_BROKER_CONNECTIONS_MAX (1u << 20)
/* Most topics and partitions one request may name (docs/protocol.md): a bound on the work one
 * request does on its shard before others are served again. */
#define SB_BROKER_REQUEST_TOPICS_MAX 4096u
#define SB_BROKER_REQUEST_ITEMS_MAX 65536u
/* Longest long poll (a Fetch's max_wait_ms above it counts as this), and a produce's wait for
 * memtable room and acks=all when its timeout_ms is 0 (docs/protocol.md). */
#define SB_BROKER_FETCH_WAIT_MAX_MS 30000
#define SB_BROKER_PRODUCE_TIMEOUT_DEFAULT_MS 30000u
/* Topics the broker's table holds, and partitions of one topic. */
#define SB_TOPICS_MAX 4096u
#define SB_TOPIC_PARTITIONS_MAX 4096u
/* The highest main port: shard i listens on port + 1 + i. */
#define SB_BROKER_PORT_MAX (65535u - 1u - SB_SHARDS_MAX)
/* Consumer group membership (broker/group_member.h; a member id is at most
 * SB_WIRE_MEMBER_ID_BYTES_MAX): members of one group, bytes of an instance id, of one member's
 * subscribed topic names (each with its NUL) and of its regular expression; topics and
 * partitions one group's assignment covers; and partitions the uniform assignor moves to
 * balance one assignment (broker/group_assignor.c; every move lowers the sum of squared
 * loads, equal subscriptions need at most one per partition). */
#define SB_GROUP_MEMBERS_MAX 64u
#define SB_GROUP_INSTANCE_ID_BYTES_MAX 249u
#define SB_GROUP_SUBSCRIPTION_BYTES_MAX 1024u
#define SB_GROUP_REGEX_BYTES_MAX 255u
#define SB_GROUP_TOPICS_MAX 256u
#define SB_GROUP_PARTITIONS_MAX 4096u
#define SB_GROUP_BALANCE_MOVES_MAX (4u * SB_GROUP_PARTITIONS_MAX)
/* Defaults of the group settings (broker/config.h): a member silent this long is fenced
 * (Kafka's group.consumer.session.timeout.ms), the bounds that setting must lie within
 * (Kafka's group.min/max.session.timeout.ms), and members heartbeat this often
 * (GroupHeartbeat's heartbeat_interval_ms); the ceiling of all four (a membership keeps
 * times in int32_t milliseconds). */
#define SB_GROUP_SESSION_TIMEOUT_MS_DEFAULT 45000
#define SB_GROUP_SESSION_TIMEOUT_MS_MIN_DEFAULT 6000
#define SB_GROUP_SESSION_TIMEOUT_MS_MAX_DEFAULT 1800000
#define SB_GROUP_HEARTBEAT_INTERVAL_MS_DEFAULT 5000
#define SB_GROUP_SESSION_TIMEOUT_MS_CEILING 2147483647u

static_assert((SB_RING_SLOTS & (SB_RING_SLOTS - 1)) == 0, "ring slots must be a power of two");
static_assert(SB_RING_DRAIN_BATCH_MAX <= SB_RING_SLOTS, "drain batch within one ring");
static_assert(SB_IO_REAP_BATCH <= SB_IO_COMPLETION_QUEUE_ENTRIES, "reap batch within the CQ");
static_assert(SB_IO_SUBMIT_QUEUE_ENTRIES <= SB_IO_COMPLETION_QUEUE_ENTRIES, "CQ >= SQ");
static_assert(SB_IO_BUFFERS_PER_GROUP_MAX <= 32768, "kernel limit on provided buffers");
static_assert(SB_WIRE_FRAME_BYTES_DEFAULT <= SB_WIRE_FRAME_BYTES_MAX, "default within ceiling");
static_assert(SB_WIRE_BATCH_BYTES_DEFAULT < SB_WIRE_FRAME_BYTES_DEFAULT, "a batch fits a frame");
static_assert(SB_WIRE_TOPIC_NAME_BYTES_MAX < 0xFFFF, "a topic name fits a wire string");
static_assert(SB_WIRE_ARRAY_COUNT_MAX < 0xFFFFFFFFu, "0xFFFFFFFF stays the null array");
static_assert(SB_STORE_BATCH_BYTES_MAX <= SB_WIRE_FRAME_BYTES_MAX, "a stored batch fits a frame");

/* Member indexes are uint16 with UINT16_MAX for "nobody"; a member's topics are a bitmap of
 * 64-bit words; a subscription holds at least one longest topic name. */
static_assert(SB_GROUP_MEMBERS_MAX < 0xFFFFu, "member indexes fit uint16 beside nobody");
static_assert(SB_GROUP_TOPICS_MAX % 64u == 0, "topic bitmaps are whole words");
static_assert(SB_GROUP_SUBSCRIPTION_BYTES_MAX > SB_WIRE_TOPIC_NAME_BYTES_MAX, "one name fits");
static_assert(SB_GROUP_PARTITIONS_MAX >= SB_TOPIC_PARTITIONS_MAX, "one whole topic fits a group");

/* How the runtime's, the broker's and the wire's limits relate (issue 12). Each says why. */

/* A shard whose peer stops draining still sends a whole ring's worth more before its sends
 * wait in their senders (broker_send): overflow absorbs bursts, it does not just trickle. */
static_assert(SB_OVERFLOW_MESSAGES_MAX >= SB_RING_SLOTS, "overflow holds a full ring");
/* Every request a shard holds can have its forwarded work (MSG_WORK, the common
 * single-partition case) in overflow at once, so the waiting path stays the exception. */
static_assert(SB_OVERFLOW_MESSAGES_MAX >= SB_BROKER_REQUESTS_MAX, "overflow per request");
/* One connection's default pipeline takes a small share of its shard's request slots: a
 * pipelining client cannot starve the shard's other connections of requests. */
static_assert(SB_BROKER_INFLIGHT_REQUESTS_DEFAULT * 16 <= SB_BROKER_REQUESTS_MAX,
              "a connection's pipeline is a fraction of the shard's requests");
/* A request of the largest default frame and its response fit the default per-shard request
 * memory at once (broker/memory.c refuses less than one frame), with room for others. */
static_assert(SB_BROKER_REQUEST_MEMORY_BYTES_DEFAULT >= 4ull * SB_WIRE_FRAME_BYTES_DEFAULT,
              "request memory holds several largest frames");
/* The broker sizes each shard's timer heap at start-up for every connection and every op of
 * every shard's requests (broker/broker.c broker_timers_per_shard), so arming never fails;
 * the count must fit the heap's 32-bit capacity. */
static_assert((uint64_t)SB_BROKER_CONNECTIONS_MAX + SB_BROKER_REQUESTS_MAX * SB_SHARDS_MAX +
                      (1u << 16) <= UINT32_MAX,
              "a shard's timers fit 32 bits");
/* Shard 0's admin queue counts requests of every shard in a uint32 (broker/admin.c). */
static_assert((uint64_t)SB_BROKER_REQUESTS_MAX * SB_SHARDS_MAX <= UINT32_MAX,
              "the admin queue count fits 32 bits");
/* DescribeTopic has one item per partition of its topic (it is not checked against
 * SB_BROKER_REQUEST_ITEMS_MAX), so a topic's partitions must stay within the bound. */
static_assert(SB_TOPIC_PARTITIONS_MAX <= SB_BROKER_REQUEST_ITEMS_MAX,
              "a topic's partitions fit one request");
/* A Metadata request for all topics answers no more topics than one may name. */
static_assert(SB_TOPICS_MAX <= SB_BROKER_REQUEST_TOPICS_MAX, "all topics fit one request");
/* The request bounds, not the decoder's array bound, refuse an oversized request, with the
 * error docs/protocol.md names. */
static_assert(SB_BROKER_REQUEST_ITEMS_MAX <= SB_WIRE_ARRAY_COUNT_MAX, "items within arrays");
static_assert(SB_BROKER_REQUEST_TOPICS_MAX <= SB_WIRE_ARRAY_COUNT_MAX, "topics within arrays");
/* The last shard's port, port + SB_SHARDS_MAX, is still a port. */
static_assert(SB_BROKER_PORT_MAX + SB_SHARDS_MAX <= 65535u - 1u, "every shard's port exists");

#endif /* SB_CORE_LIMITS_H */
