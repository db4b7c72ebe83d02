/*
 * broker/config.h - the broker's configuration: built-in defaults, then the
 * config file (`--config FILE`, lines of `key = value`, `#` comments), then
 * command-line flags, each overriding the one before. docs/configuration.md
 * lists every key; examples/streambus.conf ships with the defaults.
 */
#ifndef SB_BROKER_CONFIG_H
#define SB_BROKER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/io.h"
#include "core/log.h"
#include "storage/store.h"

/* Bits of sb_broker_config.budgets_set. */
#define SB_BUDGET_REQUEST_MEMORY 1u
#define SB_BUDGET_MEMTABLE 2u
#define SB_BUDGET_BLOCK_CACHE 4u

struct sb_broker_config {
    char data_dir[200];              /* data_dir: where everything is stored. */
    char listen_host[64];            /* listen: host part (an IPv4 address). */
    uint16_t listen_port;            /* listen: port; shard i also listens on port + 1 + i. */
    uint32_t cores;                  /* cores: shard threads; 0 = one per allowed CPU. */
    int32_t node_id;                 /* node_id: this broker's id in metadata. */
    enum sb_log_level log_level;     /* log_level: debug, info, warn, error. */
    enum sb_io_doorbell doorbell;    /* doorbell: msg_ring or eventfd. */
    uint32_t max_frame_bytes;        /* max_frame_bytes: largest request accepted. */
    uint32_t max_connections;        /* max_connections: per shard. */
    uint32_t max_inflight_requests;  /* max_inflight_requests: per connection. */
    uint64_t request_memory_bytes;   /* request_memory_bytes: per shard budget for requests. */
    uint32_t idle_timeout_ms;        /* idle_timeout_ms: close connections idle this long. */
    uint64_t wal_file_bytes;         /* wal_file_bytes: size of each WAL file. */
    uint32_t wal_files;              /* wal_files: WAL files per shard. */
    bool wal_prefill;                /* wal_prefill: zero-fill new WAL files. */
    uint64_t memtable_bytes;         /* memtable_bytes: per shard WAL ring / memtable. */
    uint64_t commit_delay_us;        /* commit_delay_us: grow commit cycles this long. */
    uint64_t wal_dsync_bytes;        /* wal_dsync_bytes: lone cycles up to this size are one
                                        RWF_DSYNC write (0: never). */
    uint64_t block_cache_bytes;      /* block_cache_bytes: per shard segment read cache. */
    uint64_t memory_limit_bytes;     /* memory_limit_bytes: budgets fit in this; 0 = the
                                        cgroup's limit, else physical memory (broker/memory.h). */
    uint32_t budgets_set;            /* SB_BUDGET_* set explicitly (kept by the fitting). */
    uint32_t max_message_bytes;      /* max_message_bytes: largest record batch. */
    uint64_t producer_expiration_ms; /* producer_expiration_ms: forget idle idempotent
                                        producers (docs/storage.md). */
    uint32_t flush_syncfs_partitions; /* flush_syncfs_partitions: rounds over this many
                                         partitions end with one syncfs (0: never). */
    uint32_t default_partitions;     /* default_partitions: CreateTopics with partitions <= 0. */
    uint32_t offsets_topic_partitions; /* offsets_topic_partitions: of __consumer_offsets, used
                                          when it is created (fixed from then on). */
    uint64_t offsets_retention_ms;   /* offsets_retention_ms: an empty group is deleted this
                                        long after its last commit. */
    uint32_t group_session_timeout_ms; /* group_session_timeout_ms: a member silent this long
                                          is fenced (docs/groups.md). */
    uint32_t group_min_session_timeout_ms; /* group_min_session_timeout_ms: the lowest session
                                              timeout accepted. */
    uint32_t group_max_session_timeout_ms; /* group_max_session_timeout_ms: the highest. */
    uint32_t group_heartbeat_interval_ms; /* group_heartbeat_interval_ms: GroupHeartbeat's
                                             answer tells members to heartbeat this often. */
    struct sb_partition_config topic_defaults; /* retention_ms, retention_bytes, segment_bytes,
                                                  cleanup_policy, ... for new topics. */
};

void sb_broker_config_defaults(struct sb_broker_config *config);
/* Applies one `key = value` setting. Returns 0, or -EINVAL with a message in error. */
int sb_broker_config_set(struct sb_broker_config *config, const char *key, const char *value,
                         char *error, size_t error_capacity);
/* Checks settings against each other: the group session timeout within its bounds, the
 * heartbeat interval below it. Returns 0, or -EINVAL with a message in error. */
int sb_broker_config_check(const struct sb_broker_config *config, char *error,
                           size_t error_capacity);
/* Reads a config file. Returns 0, or -errno / -EINVAL with "<file>:<line>: <message>". */
int sb_broker_config_load(struct sb_broker_config *config, const char *path, char *error,
                          size_t error_capacity);
/* Parses command-line flags (after loading --config if given). Returns 0, 1 if --help was
 * printed, or -EINVAL with a message. */
int sb_broker_config_parse_args(struct sb_broker_config *config, int argc, char **argv,
                                char *error, size_t error_capacity);
/* Writes the usage text to stdout. */
void sb_broker_config_usage(const char *program);

#endif /* SB_BROKER_CONFIG_H */
