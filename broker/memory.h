/*
 * broker/memory.h - fitting the broker's per-shard memory budgets (request
 * memory, memtable, block cache) into the memory it may use: the limit of its
 * memory cgroup (v2 memory.max, v1 memory.limit_in_bytes), or the
 * `memory_limit_bytes` setting. Budgets set explicitly are kept; the others
 * shrink together, never below what the broker needs to work at all.
 */
#ifndef SB_BROKER_MEMORY_H
#define SB_BROKER_MEMORY_H

#include <stddef.h>
#include <stdint.h>

#include "broker/config.h"

/* Memory taken per shard besides the budgets (receive buffers, flush staging, tables). */
#define SB_MEMORY_SHARD_OVERHEAD_BYTES (24ull << 20)
/* Memory taken once besides the shards (metadata, admin, the main thread). */
#define SB_MEMORY_PROCESS_OVERHEAD_BYTES (16ull << 20)
/* Smallest memtable and block cache a shard can work with. */
#define SB_MEMORY_MEMTABLE_MIN_BYTES (8ull << 20)
#define SB_MEMORY_CACHE_MIN_BYTES (4ull << 20)

/* The tightest memory limit of the cgroup named for this process in `proc_cgroup` (the
 * format of /proc/self/cgroup) and of its ancestors, read under `cgroup_root` (normally
 * /sys/fs/cgroup; v1 hierarchies under cgroup_root/memory). Returns 0 if there is none
 * ("max", the v1 "unlimited" value, or nothing readable). */
uint64_t sb_memory_cgroup_limit(const char *proc_cgroup, const char *cgroup_root);

/* Shrinks the budgets of `config` that were not set explicitly so that `shards` shards fit
 * in `limit_bytes` (3/4 of it for the budgets, after the overheads above). Returns 1 if it
 * changed them, 0 if they already fit, or -ENOMEM with a message in `error` if even the
 * smallest budgets (and the explicit ones) do not fit. */
int sb_memory_fit(struct sb_broker_config *config, uint32_t shards, uint64_t limit_bytes,
                  char *error, size_t error_capacity);

#endif /* SB_BROKER_MEMORY_H */
