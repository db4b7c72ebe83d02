/*
 * storage/retention.c - deleting old data by time and size (cleanup.policy
 * delete). Only whole closed segments go, oldest first, never the open one;
 * the log start offset moves to the first offset still kept. The next
 * manifest records it; if the process dies first, recovery derives it again
 * from the first segment left.
 *
 * Retention runs from the iteration hook at most every retention_check_interval_ns
 * (store config, default 5 s) of the io clock; so does the start of key compaction for
 * partitions with cleanup.policy compact (compaction.c).
 */
#include <inttypes.h>

#include "core/assert.h"
#include "core/clock.h"
#include "core/log.h"
#include "storage/store_private.h"

/* True if the partition's oldest segment may be deleted under its retention settings. */
static bool
retention_oldest_expired(const struct sb_partition *partition, int64_t now_ms)
{
    const struct segment *oldest = partition->oldest;
    if (oldest == NULL || oldest == partition->newest || !oldest->closed || oldest->doomed) {
        return false;
    }
    const struct sb_partition_config *config = &partition->config;
    uint64_t oldest_bytes = oldest->data_end - SB_BLOCK_BYTES;
    /* Like Kafka: delete while what remains still holds at least retention_bytes. */
    if (config->retention_bytes >= 0 &&
        partition->segment_bytes_total - oldest_bytes >= (uint64_t)config->retention_bytes) {
        return true;
    }
    /* A segment compaction emptied (when the policy was compact) holds nothing to keep. */
    return config->retention_ms >= 0 &&
           (oldest->batch_count == 0 || oldest->max_timestamp_ms < now_ms - config->retention_ms);
}

static void
retention_partition(struct sb_partition *partition, int64_t now_ms)
{
    /* Bounded by the partition's segment count. */
    while (retention_oldest_expired(partition, now_ms)) {
        struct segment *oldest = partition->oldest;
        int64_t next_start = oldest->next->base_offset;
        sb_log_info("retention deletes segment", "topic=%u partition=%u base_offset=%" PRId64
                    " bytes=%llu", partition->topic_id, partition->partition,
                    oldest->base_offset, (unsigned long long)(oldest->data_end - SB_BLOCK_BYTES));
        /* Unpinned, segment_delete frees it: decide before, never read it after. */
        bool pinned = oldest->pins != 0;
        segment_delete(oldest);
        if (pinned) {
            /* Still read by someone: it goes when unpinned; stop here for now. */
            partition->log_start_offset = next_start;
            return;
        }
        if (next_start > partition->log_start_offset) {
            partition->log_start_offset = next_start;
        }
    }
}

void
retention_maybe_start(struct sb_store *store, uint64_t now_ns)
{
    if (now_ns < store->next_retention_ns || store->failed) {
        return;
    }
    store->next_retention_ns = now_ns + store->config.retention_check_interval_ns;
    int64_t now_ms = (int64_t)(sb_clock_realtime_ns() / SB_NS_PER_MS);
    for (uint32_t slot = 0; slot < store->config.partitions_max; slot++) {
        struct sb_partition *partition = &store->partitions[slot];
        if (partition->used && !partition->dropped &&
            partition->config.cleanup == SB_CLEANUP_DELETE) {
            retention_partition(partition, now_ms);
        }
    }
    compaction_maybe_start(store, now_ms);
}

bool
retention_busy(const struct sb_store *store)
{
    return compaction_busy(store);
}
