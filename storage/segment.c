/*
 * storage/segment.c - segment files of one partition ([SEGMENT] in format.h):
 * naming, creation, the in-memory sparse index, the footer written when a
 * segment closes, and the list of a partition's segments. Reads live in
 * read.c, writes in flush.c, validation at start-up in recovery.c.
 *
 * Key compaction (compaction.c) writes a detached copy of a closed segment
 * and swaps it in with segment_replace; the original stays open, off the
 * list, for the reads that pinned it, and closes when the last one is done.
 *
 * Index entries come from a store-wide pool of chunks. When the pool runs
 * dry a segment simply stops gaining entries: lookups then start further
 * back and scan forward, slower but never wrong.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/assert.h"
#include "core/clock.h"
#include "core/log.h"
#include "proto/batch.h"
#include "storage/store_private.h"

void
partition_dir_path(const struct sb_store *store, uint32_t topic_id, uint32_t partition,
                   char *path, size_t capacity)
{
    snprintf(path, capacity, "%s/%u-%u", store->partitions_dir, topic_id, partition);
}

void
segment_path(const struct sb_partition *partition, int64_t base_offset, char *path,
             size_t capacity)
{
    char directory[300];
    partition_dir_path(partition->store, partition->topic_id, partition->partition, directory,
                       sizeof(directory));
    snprintf(path, capacity, "%s/%020" PRId64 ".seg", directory, base_offset);
}

static struct segment *
segment_allocate(struct sb_partition *partition, int64_t base_offset)
{
    struct sb_store *store = partition->store;
    struct segment *segment = sb_slab_take(&store->segment_slab);
    if (segment == NULL) {
        return NULL;
    }
    segment->partition = partition;
    segment->id = store->next_segment_id++;
    if (store->next_segment_id == 0) {
        store->next_segment_id = 1;
    }
    segment->fd = -1;
    segment->base_offset = base_offset;
    segment->last_offset = base_offset - 1;
    segment->data_end = SB_BLOCK_BYTES;
    segment->durable_data_end = SB_BLOCK_BYTES;
    segment->min_timestamp_ms = INT64_MAX;
    segment->max_timestamp_ms = INT64_MIN;
    return segment;
}

/* Appends to the partition's list (segments are created in offset order). */
static void
segment_link(struct sb_partition *partition, struct segment *segment)
{
    segment->previous = partition->newest;
    segment->next = NULL;
    if (partition->newest != NULL) {
        partition->newest->next = segment;
    } else {
        partition->oldest = segment;
    }
    partition->newest = segment;
}

static void
segment_unlink(struct segment *segment)
{
    struct sb_partition *partition = segment->partition;
    if (segment->previous != NULL) {
        segment->previous->next = segment->next;
    } else {
        partition->oldest = segment->next;
    }
    if (segment->next != NULL) {
        segment->next->previous = segment->previous;
    } else {
        partition->newest = segment->previous;
    }
}

/* A new, empty open segment, in two steps so that its file is created by an io op (the flush
 * writer's OPENAT: inode allocation never blocks the shard). Begin takes the segment and names
 * its file into `path`; nothing is linked yet. */
int
segment_create_begin(struct sb_partition *partition, int64_t base_offset, char *path,
                     size_t capacity, struct segment **segment_out)
{
    struct segment *segment = segment_allocate(partition, base_offset);
    if (segment == NULL) {
        return -ENOSPC;
    }
    segment_path(partition, base_offset, path, capacity);
    *segment_out = segment;
    return 0;
}

/* The open of segment_create_begin's file returned `fd`: the segment becomes the partition's
 * open one (its header block is written by the first flush into it), or, `fd` < 0, it is
 * given back. */
void
segment_create_end(struct segment *segment, int fd)
{
    struct sb_partition *partition = segment->partition;
    SB_ASSERT(segment->fd < 0);
    if (fd < 0) {
        sb_slab_give(&partition->store->segment_slab, segment);
        return;
    }
    segment->fd = fd;
    segment->header_pending = true;
    segment->last_write_ns = (int64_t)sb_clock_realtime_ns();
    partition->needs_dir_sync = true;
    segment_link(partition, segment);
}

/* Fills `block` (4096 bytes) with the segment's header block. */
void
segment_header_block(const struct segment *segment, uint8_t *block)
{
    memset(block, 0, SB_BLOCK_BYTES);
    struct sb_segment_header header = {
        .topic_id = segment->partition->topic_id,
        .partition = segment->partition->partition,
        .base_offset = segment->base_offset,
        .created_ns = sb_clock_realtime_ns(),
    };
    sb_segment_header_encode(&header, block);
}

/* Opens an existing file for recovery; the caller validates and fills in the rest. */
int
segment_open_existing(struct sb_partition *partition, int64_t base_offset, bool closed,
                      uint64_t data_end_hint, struct segment **segment_out)
{
    struct sb_store *store = partition->store;
    struct segment *segment = segment_allocate(partition, base_offset);
    if (segment == NULL) {
        return -ENOSPC;
    }
    char path[384];
    segment_path(partition, base_offset, path, sizeof(path));
    segment->fd = sb_io_open(store->io, path, O_RDWR | O_DIRECT, 0);
    if (segment->fd < 0) {
        int error = segment->fd;
        sb_slab_give(&store->segment_slab, segment);
        return error;
    }
    segment->closed = closed;
    segment->data_end = data_end_hint;
    segment->durable_data_end = data_end_hint;
    segment_link(partition, segment);
    *segment_out = segment;
    return 0;
}

static struct index_chunk *
segment_index_chunk(struct segment *segment)
{
    struct index_chunk *chunk = segment->index_tail;
    if (chunk != NULL && chunk->count < SB_INDEX_CHUNK_ENTRIES) {
        return chunk;
    }
    struct sb_store *store = segment->partition->store;
    chunk = sb_slab_take(&store->index_chunk_slab);
    if (chunk == NULL) {
        return NULL;
    }
    if (segment->index_tail == NULL) {
        segment->index_head = chunk;
    } else {
        segment->index_tail->next = chunk;
    }
    segment->index_tail = chunk;
    return chunk;
}

void
segment_index_note(struct segment *segment, int64_t base_offset, uint64_t position,
                   int64_t max_timestamp_ms)
{
    struct sb_store *store = segment->partition->store;
    if (segment->index_count != 0 && position < segment->index_next_position) {
        return;
    }
    if (segment->index_count >= segment_index_capacity(store)) {
        return;
    }
    struct index_chunk *chunk = segment_index_chunk(segment);
    if (chunk == NULL) {
        return; /* Out of index memory: lookups scan further (see the file comment). */
    }
    chunk->entries[chunk->count++] = (struct sb_index_entry){
        .base_offset = base_offset,
        .position = position,
        .max_timestamp_ms = max_timestamp_ms,
    };
    segment->index_count++;
    segment->index_next_position = position + store->config.index_interval_bytes;
}

/* Records one batch written at `position` (counters, timestamps, index). */
void
segment_note_batch(struct segment *segment, const uint8_t *batch, uint64_t position)
{
    struct sb_batch_header header;
    int decoded = sb_batch_header_decode(batch, SB_BATCH_HEADER_BYTES, UINT32_MAX, &header);
    SB_ASSERT(decoded == 0);
    int64_t last_offset = header.base_offset + (int64_t)header.record_count - 1;
    SB_ASSERT(header.base_offset > segment->last_offset);
    segment->last_offset = last_offset;
    segment->record_count += header.record_count;
    segment->batch_count++;
    if (header.first_timestamp_ms < segment->min_timestamp_ms) {
        segment->min_timestamp_ms = header.first_timestamp_ms;
    }
    if (header.max_timestamp_ms > segment->max_timestamp_ms) {
        segment->max_timestamp_ms = header.max_timestamp_ms;
    }
    segment_index_note(segment, header.base_offset, position, segment->max_timestamp_ms);
    uint64_t end = position + header.batch_bytes;
    if (end > segment->data_end) {
        segment->data_end = end;
    }
    if (!segment->detached) {
        segment->partition->segment_bytes_total += header.batch_bytes;
    }
}

uint32_t
segment_index_capacity(const struct sb_store *store)
{
    return (store->footer_bytes_max - SB_FOOTER_HEADER_BYTES - SB_TRAILER_BYTES) /
           SB_INDEX_ENTRY_BYTES;
}

/* Position of the last indexed batch whose base offset is <= offset (block 1 if none). */
uint64_t
segment_index_lookup(const struct segment *segment, int64_t offset)
{
    uint64_t position = SB_BLOCK_BYTES;
    for (const struct index_chunk *chunk = segment->index_head; chunk != NULL;
         chunk = chunk->next) {
        if (chunk->count == 0 || chunk->entries[0].base_offset > offset) {
            break;
        }
        uint32_t low = 0;
        uint32_t high = chunk->count;
        while (high - low > 1) {
            uint32_t middle = (low + high) / 2;
            if (chunk->entries[middle].base_offset <= offset) {
                low = middle;
            } else {
                high = middle;
            }
        }
        position = chunk->entries[low].position;
    }
    return position;
}

/* Where to start scanning for the first record with timestamp >= timestamp_ms: the entry
 * before the first one whose running maximum reaches it (block 1 if none). */
uint64_t
segment_index_lookup_time(const struct segment *segment, int64_t timestamp_ms)
{
    uint64_t position = SB_BLOCK_BYTES;
    for (const struct index_chunk *chunk = segment->index_head; chunk != NULL;
         chunk = chunk->next) {
        for (uint32_t index = 0; index < chunk->count; index++) {
            if (chunk->entries[index].max_timestamp_ms >= timestamp_ms) {
                return position;
            }
            position = chunk->entries[index].position;
        }
    }
    return position;
}

/* Builds the footer and trailer of a closing segment into `buffer`; returns its bytes (a
 * multiple of 4096), or 0 if it does not fit. */
uint32_t
segment_footer_build(const struct segment *segment, uint8_t *buffer, uint32_t capacity)
{
    uint64_t needed = SB_FOOTER_HEADER_BYTES +
                      (uint64_t)segment->index_count * SB_INDEX_ENTRY_BYTES + SB_TRAILER_BYTES;
    uint32_t footer_bytes = (uint32_t)sb_align_up(needed, SB_BLOCK_BYTES);
    if (footer_bytes > capacity) {
        return 0;
    }
    memset(buffer, 0, footer_bytes);
    struct sb_segment_footer footer = {
        .footer_bytes = footer_bytes,
        .index_count = segment->index_count,
        .batch_count = segment->batch_count,
        .data_end = segment->data_end,
        .first_offset = segment->index_head != NULL ? segment->index_head->entries[0].base_offset
                                                    : segment->base_offset,
        .last_offset = segment->last_offset,
        .record_count = segment->record_count,
        .min_timestamp_ms = segment->min_timestamp_ms,
        .max_timestamp_ms = segment->max_timestamp_ms,
    };
    sb_segment_footer_encode(&footer, buffer);
    uint8_t *cursor = buffer + SB_FOOTER_HEADER_BYTES;
    for (const struct index_chunk *chunk = segment->index_head; chunk != NULL;
         chunk = chunk->next) {
        for (uint32_t index = 0; index < chunk->count; index++) {
            sb_index_entry_encode(&chunk->entries[index], cursor);
            cursor += SB_INDEX_ENTRY_BYTES;
        }
    }
    struct sb_segment_trailer trailer = {
        .footer_position = sb_align_up(segment->data_end, SB_BLOCK_BYTES),
        .footer_bytes = footer_bytes,
    };
    sb_segment_trailer_encode(&trailer, buffer + footer_bytes - SB_TRAILER_BYTES);
    sb_segment_footer_seal(buffer, footer_bytes);
    return footer_bytes;
}

static void
segment_free_index(struct segment *segment)
{
    struct sb_store *store = segment->partition->store;
    while (segment->index_head != NULL) {
        struct index_chunk *chunk = segment->index_head;
        segment->index_head = chunk->next;
        sb_slab_give(&store->index_chunk_slab, chunk);
    }
    segment->index_tail = NULL;
    segment->index_count = 0;
}

/* Takes a replaced segment off the store's list of them. */
static void
segment_forget_replaced(struct segment *segment)
{
    struct segment **link = &segment->partition->store->replaced_segments;
    while (*link != segment) {
        SB_ASSERT(*link != NULL);
        link = &(*link)->next;
    }
    *link = segment->next;
}

/* Closes the file, forgets cached blocks, returns the slot; unlinks the file if asked. A
 * detached segment (a compaction copy, or the original it replaced) is in no partition list
 * and counts no bytes. */
void
segment_destroy(struct segment *segment, bool unlink_file)
{
    struct sb_partition *partition = segment->partition;
    struct sb_store *store = partition->store;
    SB_ASSERT(segment->pins == 0);
    if (unlink_file) {
        SB_ASSERT(!segment->detached);
    }
    cache_invalidate(store, segment, 0);
    if (segment->fd >= 0) {
        sb_io_close(store->io, segment->fd);
    }
    if (unlink_file) {
        char path[384];
        segment_path(partition, segment->base_offset, path, sizeof(path));
        if (unlink(path) != 0) {
            sb_log_warn("cannot delete segment", "path=%s errno=%d", path, errno);
        }
    }
    if (segment->replaced) {
        segment_forget_replaced(segment);
    } else if (!segment->detached) {
        if (segment->data_end > SB_BLOCK_BYTES) {
            partition->segment_bytes_total -= segment->data_end - SB_BLOCK_BYTES;
        }
        segment_unlink(segment);
    }
    segment_free_index(segment);
    sb_slab_give(&store->segment_slab, segment);
}

/* Deletes a segment now, or when its last read unpins it. */
void
segment_delete(struct segment *segment)
{
    if (segment->pins != 0) {
        segment->doomed = true;
        return;
    }
    segment_destroy(segment, true);
}

void
segment_release(struct segment *segment)
{
    SB_ASSERT(segment->pins > 0);
    segment->pins--;
    if (segment->pins == 0 && (segment->doomed || segment->replaced)) {
        struct sb_partition *partition = segment->partition;
        segment_destroy(segment, segment->doomed);
        store_partition_release_if_unused(partition);
    }
}

/* A detached segment for a compaction copy of `original`: same partition and base offset, a
 * new file at `path` (created or truncated). Returns 0, -ENOSPC without a free slot, -errno. */
int
segment_open_copy(const struct segment *original, const char *path, struct segment **copy_out)
{
    struct sb_partition *partition = original->partition;
    struct sb_store *store = partition->store;
    struct segment *copy = segment_allocate(partition, original->base_offset);
    if (copy == NULL) {
        return -ENOSPC;
    }
    copy->fd = sb_io_open(store->io, path, O_RDWR | O_CREAT | O_TRUNC | O_DIRECT, 0644);
    if (copy->fd < 0) {
        int error = copy->fd;
        sb_slab_give(&store->segment_slab, copy);
        return error;
    }
    copy->detached = true;
    *copy_out = copy;
    return 0;
}

/* Puts the closed `copy` in the partition's list where `original` was. The original is
 * detached and closed (never unlinked: its name is the copy's now) once no read pins it. */
void
segment_replace(struct segment *original, struct segment *copy)
{
    struct sb_partition *partition = original->partition;
    SB_ASSERT(copy->detached && !original->detached);
    SB_ASSERT(copy->base_offset == original->base_offset && copy->closed);
    copy->previous = original->previous;
    copy->next = original->next;
    if (copy->previous != NULL) {
        copy->previous->next = copy;
    } else {
        partition->oldest = copy;
    }
    if (copy->next != NULL) {
        copy->next->previous = copy;
    } else {
        partition->newest = copy;
    }
    copy->detached = false;
    partition->segment_bytes_total = partition->segment_bytes_total -
                                     (original->data_end - SB_BLOCK_BYTES) +
                                     (copy->data_end - SB_BLOCK_BYTES);
    original->detached = true;
    original->replaced = true;
    original->previous = NULL;
    original->next = partition->store->replaced_segments;
    partition->store->replaced_segments = original;
    if (original->pins == 0) {
        segment_destroy(original, false);
    }
}

void
partition_delete_segments(struct sb_partition *partition)
{
    struct segment *segment = partition->oldest;
    while (segment != NULL) {
        struct segment *next = segment->next;
        segment_delete(segment);
        segment = next;
    }
}

/* The segment holding `offset`; if the offset falls between two segments (compaction deleted
 * the segments that held it), the next one; else NULL. Searches from the newest (reads are
 * mostly recent). */
struct segment *
segment_for_offset(struct sb_partition *partition, int64_t offset)
{
    struct segment *after = NULL;
    for (struct segment *segment = partition->newest; segment != NULL;
         segment = segment->previous) {
        if (segment->doomed) {
            continue;
        }
        if (segment->base_offset <= offset) {
            return offset <= segment->last_offset ? segment : after;
        }
        after = segment;
    }
    return NULL;
}
