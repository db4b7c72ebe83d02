/*
 * broker/memory.c - per-shard memory budgets fitted to the broker's memory limit
 * (memory.h). The cgroup files are read once at start-up, before any shard
 * runs.
 */
#include "broker/memory.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base.h"

/* v1 reports "no limit" as a huge number (LONG_MAX rounded down to a page). */
#define MEMORY_UNLIMITED_FROM (1ull << 62)
#define MEMORY_ALIGNMENT_BYTES (64u << 10)
#define MEMORY_PATH_BYTES 512u

/* The number in `path`, or 0 when it is missing, "max", or unlimited. */
static uint64_t
memory_read_limit(const char *path)
{
    FILE *file = fopen(path, "r");
    if (file == NULL) {
        return 0;
    }
    char text[64] = {0};
    bool read = fgets(text, sizeof(text), file) != NULL;
    fclose(file);
    char *end = NULL;
    uint64_t value = read ? strtoull(text, &end, 10) : 0;
    if (end == text || value >= MEMORY_UNLIMITED_FROM) {
        return 0;
    }
    return value;
}

/* The tighter of two limits, 0 meaning none. */
static uint64_t
memory_tighter(uint64_t a, uint64_t b)
{
    return a == 0 ? b : b == 0 ? a : sb_min_u64(a, b);
}

/* The tightest limit in `file_name` of directory `base`/`path` and each of its ancestors. */
static uint64_t
memory_tightest_along(const char *base, const char *path, const char *file_name)
{
    char directory[MEMORY_PATH_BYTES];
    int length = snprintf(directory, sizeof(directory), "%s%s", base, path);
    if (length < 0 || (size_t)length >= sizeof(directory)) {
        return 0;
    }
    size_t base_length = strlen(base);
    uint64_t tightest = 0;
    /* Bounded by the path's length: each pass removes one component. */
    for (;;) {
        char file[MEMORY_PATH_BYTES + 32];
        snprintf(file, sizeof(file), "%s/%s", directory, file_name);
        tightest = memory_tighter(tightest, memory_read_limit(file));
        char *slash = strrchr(directory, '/');
        if (slash == NULL || (size_t)(slash - directory) < base_length) {
            return tightest;
        }
        *slash = '\0';
    }
}

uint64_t
sb_memory_cgroup_limit(const char *proc_cgroup, const char *cgroup_root)
{
    FILE *file = fopen(proc_cgroup, "r");
    if (file == NULL) {
        return 0;
    }
    uint64_t tightest = 0;
    char line[MEMORY_PATH_BYTES];
    while (fgets(line, sizeof(line), file) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        char *controllers = strchr(line, ':');
        char *path = controllers != NULL ? strchr(controllers + 1, ':') : NULL;
        if (path == NULL) {
            continue;
        }
        *path++ = '\0';
        controllers++;
        uint64_t limit = 0;
        char base[MEMORY_PATH_BYTES];
        if (*controllers == '\0') { /* v2: "0::/path". */
            snprintf(base, sizeof(base), "%s", cgroup_root);
            limit = memory_tightest_along(base, path, "memory.max");
        } else if (strstr(controllers, "memory") != NULL) { /* v1: "N:memory:/path". */
            snprintf(base, sizeof(base), "%s/memory", cgroup_root);
            limit = memory_tightest_along(base, path, "memory.limit_in_bytes");
        }
        tightest = memory_tighter(tightest, limit);
    }
    fclose(file);
    return tightest;
}

/* One budget the fitting may change. */
struct budget {
    uint64_t *bytes;   /* The setting. */
    uint64_t floor;    /* Smallest workable value. */
    bool adjustable;   /* Not set explicitly. */
};

int
sb_memory_fit(struct sb_broker_config *config, uint32_t shards, uint64_t limit_bytes,
              char *error, size_t error_capacity)
{
    uint64_t cycle = sb_align_up(sb_max_u64((uint64_t)config->max_message_bytes + (16u << 10),
                                            sb_min_u64(4ull << 20, config->wal_file_bytes / 4)),
                                 4096);
    struct budget budgets[] = {
        {&config->request_memory_bytes,
         sb_align_up((uint64_t)config->max_frame_bytes + MEMORY_ALIGNMENT_BYTES,
                     MEMORY_ALIGNMENT_BYTES),
         (config->budgets_set & SB_BUDGET_REQUEST_MEMORY) == 0},
        {&config->memtable_bytes, sb_max_u64(SB_MEMORY_MEMTABLE_MIN_BYTES, 4 * cycle),
         (config->budgets_set & SB_BUDGET_MEMTABLE) == 0},
        {&config->block_cache_bytes, SB_MEMORY_CACHE_MIN_BYTES,
         (config->budgets_set & SB_BUDGET_BLOCK_CACHE) == 0},
    };
    uint64_t overhead = SB_MEMORY_PROCESS_OVERHEAD_BYTES +
                        (uint64_t)shards * SB_MEMORY_SHARD_OVERHEAD_BYTES;
    uint64_t usable = limit_bytes / 4 * 3;
    uint64_t per_shard = usable > overhead ? (usable - overhead) / shards : 0;
    uint64_t fixed = 0;
    uint64_t adjustable = 0;
    uint64_t floors = 0;
    for (size_t index = 0; index < sizeof(budgets) / sizeof(budgets[0]); index++) {
        uint64_t value = *budgets[index].bytes;
        if (budgets[index].adjustable) {
            adjustable += value;
            floors += sb_min_u64(value, budgets[index].floor);
        } else {
            fixed += value;
        }
    }
    if (fixed + adjustable <= per_shard) {
        return 0;
    }
    if (fixed + floors > per_shard) {
        snprintf(error, error_capacity,
                 "a memory limit of %" PRIu64 " MiB leaves %" PRIu64 " MiB per shard for %u "
                 "shards, but request memory, memtable and block cache need at least %" PRIu64
                 " MiB (set memory_limit_bytes, fewer cores, a smaller max_frame_bytes, or "
                 "smaller budgets)", limit_bytes >> 20, per_shard >> 20, shards,
                 (fixed + floors + (1u << 20) - 1) >> 20);
        return -ENOMEM;
    }
    /* Each adjustable budget keeps its floor and an equal share of what is left above. */
    uint64_t room = per_shard - fixed - floors;
    uint64_t above_floors = adjustable - floors;
    for (size_t index = 0; index < sizeof(budgets) / sizeof(budgets[0]); index++) {
        struct budget *budget = &budgets[index];
        uint64_t floor = sb_min_u64(*budget->bytes, budget->floor);
        if (budget->adjustable) {
            uint64_t share = (uint64_t)((double)(*budget->bytes - floor) * (double)room /
                                        (double)above_floors);
            *budget->bytes = floor + share / MEMORY_ALIGNMENT_BYTES * MEMORY_ALIGNMENT_BYTES;
        }
    }
    return 1;
}
