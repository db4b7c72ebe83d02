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

/* Storage: WAL files one shard may have (the ceiling of the wal_files setting; recovery reads
 * every wal-<n>.log below it, whatever the setting is today), and the largest record batch
 * the store ever accepts (the ceiling of max_message_bytes). Data on disk is checked against
 * this format limit, never against today's setting, so lowering a setting keeps what was
 * stored under the old one readable. */
#define SB_STORE_WAL_FILES_MAX 64u
#define SB_STORE_BATCH_BYTES_MAX (1u << 30)

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

#endif /* SB_CORE_LIMITS_H */
