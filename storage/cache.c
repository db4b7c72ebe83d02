/*
 * storage/cache.c - the shard's block cache for segment reads: fixed 64 KiB
 * blocks carved at open (the hard memory budget), found through a hash of
 * (segment id, block index), filled by O_DIRECT reads, evicted by the clock
 * algorithm. Reads that need a block being loaded wait on it and are resumed
 * (read_resume) when it arrives.
 *
 * Read-ahead (cache_readahead) starts loads nobody waits for yet, each pinning its segment
 * until it lands, at most a share of the blocks at once so reads always find a victim.
 *
 * A block being loaded is never evicted. A flush that rewrites part of an
 * open segment invalidates that segment's blocks from the rewritten one on;
 * a load that was in flight then is discarded when it lands and its waiters
 * ask again.
 */
#include <errno.h>
#include <string.h>

#include "core/alloc.h"
#include "core/assert.h"
#include "core/limits.h"
#include "core/pages.h"
#include "storage/store_private.h"

static void cache_load_done(struct sb_io_op *op);

int
cache_init(struct sb_store *store)
{
    struct block_cache *cache = &store->cache;
    cache->block_count = (uint32_t)(store->config.block_cache_bytes / SB_CACHE_BLOCK_BYTES);
    uint32_t buckets = 1;
    while (buckets < cache->block_count * 2) {
        buckets <<= 1;
    }
    cache->bucket_mask = buckets - 1;
    cache->buckets = sb_alloc(buckets * sizeof(cache->buckets[0]));
    cache->blocks = sb_alloc(cache->block_count * sizeof(struct cache_block));
    cache->memory = sb_pages_map((size_t)cache->block_count * SB_CACHE_BLOCK_BYTES);
    if (cache->buckets == NULL || cache->blocks == NULL || cache->memory == NULL) {
        return -ENOMEM;
    }
    for (uint32_t index = 0; index < cache->block_count; index++) {
        cache->blocks[index].data = cache->memory + (size_t)index * SB_CACHE_BLOCK_BYTES;
    }
    return 0;
}

void
cache_deinit(struct sb_store *store)
{
    struct block_cache *cache = &store->cache;
    sb_pages_unmap(cache->memory, (size_t)cache->block_count * SB_CACHE_BLOCK_BYTES);
    sb_free(cache->blocks);
    sb_free(cache->buckets);
    memset(cache, 0, sizeof(*cache));
}

static uint64_t
cache_key(const struct segment *segment, uint64_t block_index)
{
    SB_ASSERT(block_index < (1ull << 32));
    return ((uint64_t)segment->id << 32) | block_index;
}

static struct cache_block **
cache_bucket(struct block_cache *cache, uint64_t key)
{
    uint64_t hash = key * 0x9e3779b97f4a7c15ull;
    return &cache->buckets[(hash >> 32) & cache->bucket_mask];
}

static void
cache_unhash(struct block_cache *cache, struct cache_block *block)
{
    struct cache_block **link = cache_bucket(cache, block->key);
    while (*link != block) {
        SB_ASSERT(*link != NULL);
        link = &(*link)->hash_next;
    }
    *link = block->hash_next;
    block->hash_next = NULL;
    block->key = 0;
}

/* Clock eviction over at most two sweeps; NULL if every block is loading. */
static struct cache_block *
cache_victim(struct block_cache *cache)
{
    for (uint32_t step = 0; step < 2 * cache->block_count; step++) {
        struct cache_block *block = &cache->blocks[cache->clock_hand];
        cache->clock_hand = (cache->clock_hand + 1) % cache->block_count;
        if (block->loading) {
            continue;
        }
        if (block->referenced) {
            block->referenced = false;
            continue;
        }
        if (block->key != 0) {
            cache_unhash(cache, block);
        }
        return block;
    }
    return NULL;
}

static void
cache_add_waiter(struct cache_block *block, struct sb_read *waiter)
{
    struct read_state *state = (struct read_state *)(void *)waiter->state;
    state->next_waiter = block->waiters;
    block->waiters = waiter;
}

/* Hashes `block` as (segment, block_index) and starts its read; its waiters are set. */
static void
cache_load(struct sb_store *store, struct segment *segment, uint64_t block_index,
           struct cache_block *block)
{
    struct block_cache *cache = &store->cache;
    uint64_t key = cache_key(segment, block_index);
    store->stats.cache_misses++;
    block->key = key;
    block->loading = true;
    block->referenced = true;
    block->valid_bytes = 0;
    struct cache_block **bucket = cache_bucket(cache, key);
    block->hash_next = *bucket;
    *bucket = block;
    memset(&block->op, 0, sizeof(block->op));
    sb_io_read(store->io, &block->op, segment->fd, block->data, SB_CACHE_BLOCK_BYTES,
               block_index * SB_CACHE_BLOCK_BYTES, cache_load_done, store);
}

/* The block's bytes (valid_bytes_out of them), or NULL: then either `waiter` was queued and
 * will be resumed, or *valid_bytes_out is 0 and no block could be had (-ENOBUFS for the read). */
const uint8_t *
cache_get(struct sb_store *store, struct segment *segment, uint64_t block_index,
          uint32_t *valid_bytes_out, struct sb_read *waiter)
{
    struct block_cache *cache = &store->cache;
    uint64_t key = cache_key(segment, block_index);
    *valid_bytes_out = 0;
    for (struct cache_block *block = *cache_bucket(cache, key); block != NULL;
         block = block->hash_next) {
        if (block->key != key) {
            continue;
        }
        if (block->loading) {
            cache_add_waiter(block, waiter);
            *valid_bytes_out = 1;
            return NULL;
        }
        block->referenced = true;
        store->stats.cache_hits++;
        *valid_bytes_out = block->valid_bytes;
        return block->data;
    }
    struct cache_block *block = cache_victim(cache);
    if (block == NULL) {
        return NULL;
    }
    block->waiters = NULL;
    cache_add_waiter(block, waiter);
    *valid_bytes_out = 1;
    cache_load(store, segment, block_index, block);
    return NULL;
}

/* Whether the block is cached or loading. */
static bool
cache_has(struct block_cache *cache, uint64_t key)
{
    for (struct cache_block *block = *cache_bucket(cache, key); block != NULL;
         block = block->hash_next) {
        if (block->key == key) {
            return true;
        }
    }
    return false;
}

uint64_t
cache_readahead(struct sb_store *store, struct segment *segment, uint64_t from_block,
                uint64_t to_block)
{
    struct block_cache *cache = &store->cache;
    uint32_t share = cache->block_count / SB_STORE_READAHEAD_CACHE_SHARE;
    uint64_t block_index = from_block;
    /* Bounded by the range and by the share. */
    for (; block_index < to_block; block_index++) {
        if (cache_has(cache, cache_key(segment, block_index))) {
            continue;
        }
        struct cache_block *block = cache->ahead_loading < share ? cache_victim(cache) : NULL;
        if (block == NULL) {
            break;
        }
        block->waiters = NULL;
        block->ahead = segment;
        segment->pins++;
        cache->ahead_loading++;
        cache_load(store, segment, block_index, block);
    }
    return block_index;
}

static void
cache_load_done(struct sb_io_op *op)
{
    struct sb_store *store = op->context;
    struct cache_block *block = SB_CONTAINER_OF(op, struct cache_block, op);
    block->loading = false;
    if (op->result < 0 || block->key == 0) {
        /* Failed, or invalidated while loading: forget it; waiters ask again (and see the
         * error through their own retry of the read). */
        if (block->key != 0) {
            cache_unhash(&store->cache, block);
        }
        block->valid_bytes = 0;
        block->referenced = false;
    } else {
        block->valid_bytes = (uint32_t)op->result;
    }
    /* Taken before the waiters run: a read they resume may pick this block again for a
     * read-ahead of its own, and its `ahead` must not be mistaken for this load's. */
    struct segment *ahead = block->ahead;
    block->ahead = NULL;
    struct sb_read *waiter = block->waiters;
    block->waiters = NULL;
    int error = op->result < 0 ? op->result : 0;
    while (waiter != NULL) {
        struct read_state *state = (struct read_state *)(void *)waiter->state;
        struct sb_read *next = state->next_waiter;
        state->next_waiter = NULL;
        if (error < 0) {
            waiter->result = error;
        }
        read_resume(waiter);
        waiter = next;
    }
    if (ahead != NULL) {
        /* Last: unpinned, the segment may go, taking its blocks (this one too) with it. */
        SB_ASSERT(store->cache.ahead_loading > 0);
        store->cache.ahead_loading--;
        segment_release(ahead);
    }
}

void
cache_invalidate(struct sb_store *store, struct segment *segment, uint64_t from_block)
{
    struct block_cache *cache = &store->cache;
    segment->readahead_block = sb_min_u64(segment->readahead_block, from_block);
    for (uint32_t index = 0; index < cache->block_count; index++) {
        struct cache_block *block = &cache->blocks[index];
        if (block->key == 0 || (uint32_t)(block->key >> 32) != segment->id ||
            (block->key & 0xffffffffu) < from_block) {
            continue;
        }
        /* A loading block stays out of the hash and is discarded when its read lands. */
        cache_unhash(cache, block);
        block->referenced = false;
    }
}
