/*
 * storage/read.c - reading whole batches by offset, and finding offsets by
 * timestamp, from the memtable or from segment files.
 *
 * Source of an offset: the memtable holds every batch from its first entry's
 * base offset up to the log end; older offsets are in segments. A read serves
 * one source per call and never beyond the high watermark, so nothing that is
 * not durable is ever seen. Memtable reads finish at once; segment reads go
 * through the block cache and may finish later (read_resume is called by the
 * cache when a block arrives). Segment reads load ahead of themselves (read_ahead), so a
 * sequential consumer's blocks are on their way while its last answer is being sent.
 *
 * Every batch copied out of a segment is CRC-checked first: a corrupt batch is
 * counted, logged with its file and position, and never served. A read also returns the
 * CRC of all it copied (read->crc), from those checks, for the response frame's CRC.
 */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "core/assert.h"
#include "core/crc32c.h"
#include "core/endian.h"
#include "core/error.h"
#include "core/limits.h"
#include "core/log.h"
#include "proto/batch.h"
#include "storage/store_private.h"

static_assert(sizeof(struct read_state) <= sizeof(((struct sb_read *)0)->state),
              "read state fits the caller's struct");

static struct read_state *
read_state_of(struct sb_read *read)
{
    return (struct read_state *)(void *)read->state;
}

static int64_t
entry_last_offset(const struct memtable_entry *entry)
{
    return entry->base_offset + (int64_t)entry->record_count - 1;
}

/* The memtable entry holding `offset` (or the first after it), starting from the partition's
 * read hint when it is still valid and not past the offset. */
static struct memtable_entry *
read_memtable_find(struct sb_partition *partition, int64_t offset, uint32_t *index_out)
{
    struct sb_store *store = partition->store;
    uint32_t index = partition->memtable_first;
    if (partition->read_hint != SB_STORE_NONE) {
        struct memtable_entry *hint = wal_fifo_entry(store, partition->read_hint);
        if (hint->partition_slot == partition->slot &&
            hint->sequence == partition->read_hint_sequence && hint->base_offset <= offset) {
            index = partition->read_hint;
        }
    }
    while (index != SB_STORE_NONE) {
        struct memtable_entry *entry = wal_fifo_entry(store, index);
        if (entry_last_offset(entry) >= offset) {
            *index_out = index;
            return entry;
        }
        index = entry->next;
    }
    return NULL;
}

static int
read_from_memtable(struct sb_partition *partition, struct sb_read *read)
{
    struct sb_store *store = partition->store;
    uint32_t index;
    struct memtable_entry *entry = read_memtable_find(partition, read->offset, &index);
    while (entry != NULL && entry->base_offset < partition->high_watermark) {
        if (read->bytes > 0 && read->bytes + entry->batch_bytes > read->max_bytes) {
            break;
        }
        if (read->bytes + entry->batch_bytes > read->capacity) {
            if (read->bytes == 0) {
                read->needed_bytes = entry->batch_bytes;
                return -ENOSPC;
            }
            break;
        }
        memcpy(read->buffer + read->bytes, wal_ring_at(store, entry->ring_position),
               entry->batch_bytes);
        read->crc = sb_crc32c(read->crc, read->buffer + read->bytes, entry->batch_bytes);
        read->bytes += entry->batch_bytes;
        partition->read_hint = index;
        partition->read_hint_sequence = entry->sequence;
        if (entry->next == SB_STORE_NONE) {
            break;
        }
        index = entry->next;
        entry = wal_fifo_entry(store, index);
    }
    return 0;
}

static void
read_finish(struct sb_read *read, int result)
{
    struct read_state *state = read_state_of(read);
    struct sb_partition *partition = state->partition;
    read->result = result;
    read->high_watermark = partition->high_watermark;
    read->log_start_offset = partition->log_start_offset;
    if (state->segment != NULL) {
        segment_release(state->segment);
        state->segment = NULL;
    }
    SB_ASSERT(partition->pins > 0);
    partition->pins--;
    store_partition_release_if_unused(partition);
}

/* Copies `length` file bytes at `position` of the read's segment into `out`, as far as cached
 * blocks allow. Returns bytes copied (< length when it had to wait), or a negative error. */
static int
read_segment_bytes(struct sb_read *read, uint64_t position, uint8_t *out, uint32_t length)
{
    struct read_state *state = read_state_of(read);
    struct sb_store *store = state->partition->store;
    uint32_t copied = 0;
    while (copied < length) {
        uint64_t at = position + copied;
        uint32_t valid = 0;
        const uint8_t *block = cache_get(store, state->segment, at / SB_CACHE_BLOCK_BYTES,
                                         &valid, read);
        if (block == NULL) {
            return valid == 0 ? -ENOBUFS : (int)copied;
        }
        uint32_t inside = (uint32_t)(at % SB_CACHE_BLOCK_BYTES);
        if (inside >= valid) {
            return -EIO; /* The file ends before data_end says it should. */
        }
        uint32_t piece = (uint32_t)sb_min_u64(length - copied, valid - inside);
        memcpy(out + copied, block + inside, piece);
        copied += piece;
    }
    return (int)copied;
}

/* A stored batch failed a check: count it, say where, and never serve it. */
static void
read_report_corrupt(struct sb_read *read, const char *what)
{
    struct read_state *state = read_state_of(read);
    struct segment *segment = state->segment;
    struct sb_partition *partition = state->partition;
    partition->store->stats.corrupt_reads++;
    sb_log_error("corrupt batch in segment; not served", "what=\"%s\" topic=%u partition=%u "
                 "segment=%" PRId64 " position=%llu", what, partition->topic_id,
                 partition->partition, segment->base_offset,
                 (unsigned long long)state->position);
}

static int read_start(struct sb_read *read, int64_t offset);

/* Reads the current batch's header; returns 1 when decided, 0 when waiting, < 0 to finish
 * with that result (0 bytes-so-far cases included: see callers). */
static int
read_segment_header(struct sb_read *read)
{
    struct read_state *state = read_state_of(read);
    struct segment *segment = state->segment;
    int copied = read_segment_bytes(read, state->position + state->header_have,
                                    state->header + state->header_have,
                                    SB_BATCH_HEADER_BYTES - state->header_have);
    if (copied < 0) {
        return copied;
    }
    state->header_have += (uint32_t)copied;
    if (state->header_have < SB_BATCH_HEADER_BYTES) {
        return 0;
    }
    struct sb_batch_header header;
    int decoded = sb_batch_header_decode(state->header, SB_BATCH_HEADER_BYTES,
                                         SB_STORE_BATCH_BYTES_MAX, &header);
    if (decoded < 0 || state->position + header.batch_bytes > segment->durable_data_end) {
        read_report_corrupt(read, "batch header");
        return SB_ECORRUPT;
    }
    state->batch_bytes = header.batch_bytes;
    state->batch_copied = 0;
    int64_t last_offset = header.base_offset + (int64_t)header.record_count - 1;
    state->copying = state->time_mode ? header.max_timestamp_ms >= state->timestamp_ms
                                      : last_offset >= read->offset;
    if (header.base_offset >= state->limit_offset) {
        return -ERANGE; /* Past the high watermark: the read is complete. */
    }
    return 1;
}

enum read_admission {
    READ_WAIT,     /* Waiting for the cache. */
    READ_FINISHED, /* read_finish was called. */
    READ_SKIP,     /* The batch is before the offset (or timestamp): skipped. */
    READ_COPY,     /* Copy this batch. */
};

/* Reads the next batch's header and decides what to do with the batch. */
static enum read_admission
read_segment_admit(struct sb_read *read)
{
    struct read_state *state = read_state_of(read);
    int decided = read_segment_header(read);
    if (decided == 0) {
        return READ_WAIT;
    }
    if (decided < 0) {
        bool complete = decided == -ERANGE || read->bytes != 0;
        read_finish(read, complete ? 0 : decided);
        return READ_FINISHED;
    }
    if (!state->copying) {
        state->position += state->batch_bytes;
        state->batch_bytes = 0;
        state->header_have = 0;
        return READ_SKIP;
    }
    if (read->bytes != 0 && read->bytes + state->batch_bytes > read->max_bytes) {
        read_finish(read, 0);
        return READ_FINISHED;
    }
    if (read->bytes + state->batch_bytes > read->capacity) {
        if (read->bytes == 0) {
            read->needed_bytes = state->batch_bytes;
        }
        read_finish(read, read->bytes != 0 ? 0 : -ENOSPC);
        return READ_FINISHED;
    }
    return READ_COPY;
}

/* Before each batch: loads ahead from the batch's block to what the rest of the read may copy,
 * plus the store's readahead_bytes for a sequential read, within the durable data. A
 * sequential reader's next read starts where the segment's read-ahead mark is, inside its
 * window: only the new blocks are looked at. Timestamp lookups load nothing ahead. */
static void
read_ahead(struct sb_read *read)
{
    struct read_state *state = read_state_of(read);
    struct segment *segment = state->segment;
    int64_t ahead = segment->partition->store->config.readahead_bytes;
    if (state->time_mode || ahead < 0) {
        return;
    }
    uint64_t rest = read->max_bytes > read->bytes ? read->max_bytes - read->bytes : 0;
    uint64_t beyond = state->sequential ? (uint64_t)ahead : 0;
    uint64_t end = sb_min_u64(state->position + rest + beyond, segment->durable_data_end);
    uint64_t first = state->position / SB_CACHE_BLOCK_BYTES;
    uint64_t last = (end + SB_CACHE_BLOCK_BYTES - 1) / SB_CACHE_BLOCK_BYTES;
    if (segment->readahead_block > first && segment->readahead_block <= last) {
        first = segment->readahead_block;
    }
    if (first < last) {
        segment->readahead_block = cache_readahead(segment->partition->store, segment, first,
                                                   last);
    }
}

/* Returns true when the read finished (result set), false while it waits for the cache. */
static bool
read_segment_run(struct sb_read *read)
{
    struct read_state *state = read_state_of(read);
    /* Bounded: each pass consumes one batch of the segment or returns. */
    for (;;) {
        struct segment *segment = state->segment;
        if (read->result < 0) {
            read_finish(read, read->result);
            return true;
        }
        if (state->position >= segment->durable_data_end) {
            if (read->bytes != 0 || segment->last_offset + 1 >= state->limit_offset) {
                read_finish(read, 0);
                return true;
            }
            int64_t next_offset = segment->last_offset + 1;
            segment_release(segment);
            state->segment = NULL;
            return read_start(read, next_offset) != 0;
        }
        if (state->batch_bytes == 0) {
            read_ahead(read);
            enum read_admission admission = read_segment_admit(read);
            if (admission == READ_WAIT) {
                return false;
            }
            if (admission == READ_FINISHED) {
                return true;
            }
            if (admission == READ_SKIP) {
                continue;
            }
        }
        uint8_t *out = read->buffer + read->bytes;
        int copied = read_segment_bytes(read, state->position + state->batch_copied,
                                        out + state->batch_copied,
                                        state->batch_bytes - state->batch_copied);
        if (copied < 0) {
            read_finish(read, read->bytes != 0 ? 0 : copied);
            return true;
        }
        state->batch_copied += (uint32_t)copied;
        if (state->batch_copied < state->batch_bytes) {
            return false;
        }
        struct sb_batch_header header;
        if (sb_batch_verify(out, state->batch_bytes, UINT32_MAX, &header) != 0) {
            read_report_corrupt(read, "batch payload");
            read_finish(read, read->bytes != 0 ? 0 : SB_ECORRUPT);
            return true;
        }
        /* The payload's CRC was just computed and matched: combined, not computed again. */
        read->crc = sb_crc32c_combine(sb_crc32c(read->crc, out, SB_BATCH_HEADER_BYTES),
                                      header.payload_crc32c,
                                      state->batch_bytes - SB_BATCH_HEADER_BYTES);
        read->bytes += state->batch_bytes;
        state->position += state->batch_bytes;
        segment->read_next_offset = header.base_offset + (int64_t)header.record_count;
        state->batch_bytes = 0;
        state->header_have = 0;
        if (state->time_mode) {
            read_finish(read, 0);
            return true;
        }
    }
}

void
read_resume(struct sb_read *read)
{
    if (read_segment_run(read)) {
        read->callback(read);
    }
}

static int
read_start_segment(struct sb_read *read, struct segment *segment, uint64_t position)
{
    struct read_state *state = read_state_of(read);
    segment->pins++;
    state->segment = segment;
    state->position = position;
    /* Where the segment's last read stopped, or at its start where the previous one's did. */
    int64_t offset = read->offset;
    state->sequential = (segment->read_next_offset > segment->base_offset &&
                         segment->read_next_offset == offset) ||
                        (offset == segment->base_offset && segment->previous != NULL &&
                         segment->previous->read_next_offset == offset);
    state->batch_bytes = 0;
    state->header_have = 0;
    return read_segment_run(read) ? 1 : 0;
}

/* Picks the source for `offset` and reads. Returns 1 when finished, 0 when waiting. */
static int
read_start(struct sb_read *read, int64_t offset)
{
    struct read_state *state = read_state_of(read);
    struct sb_partition *partition = state->partition;
    read->offset = offset;
    if (partition->fenced && offset >= partition->fenced_offset) {
        read_finish(read, -EROFS);
        return 1;
    }
    if (offset >= state->limit_offset) {
        read_finish(read, 0);
        return 1;
    }
    if (partition->memtable_first != SB_STORE_NONE &&
        wal_fifo_entry(partition->store, partition->memtable_first)->base_offset <= offset) {
        read_finish(read, read_from_memtable(partition, read));
        return 1;
    }
    struct segment *segment = segment_for_offset(partition, offset);
    if (segment == NULL) {
        /* Not in a segment and before the memtable: a compacted gap at a segment's end, or
         * nothing at all. The memtable (if any) has the next offsets. */
        read_finish(read, partition->memtable_first != SB_STORE_NONE
                              ? read_from_memtable(partition, read) : 0);
        return 1;
    }
    return read_start_segment(read, segment, segment_index_lookup(segment, offset));
}

static int
read_begin(struct sb_partition *partition, struct sb_read *read)
{
    if (partition->dropped) {
        return -ENOENT;
    }
    struct read_state *state = read_state_of(read);
    memset(state, 0, sizeof(*state));
    state->partition = partition;
    state->limit_offset = partition->high_watermark;
    read->result = 0;
    read->bytes = 0;
    read->crc = 0;
    read->needed_bytes = 0;
    partition->pins++;
    return 0;
}

int
sb_partition_read(struct sb_partition *partition, struct sb_read *read)
{
    int result = read_begin(partition, read);
    if (result < 0) {
        return result;
    }
    if (partition->fenced && read->offset >= partition->fenced_offset) {
        /* Before the range check: recovery may have cut the log at the fence, and a reader
         * beyond it must hear "fenced", not "out of range" (which consumers reset on). */
        read_finish(read, -EROFS);
        return -EROFS;
    }
    if (read->offset < partition->log_start_offset || read->offset > partition->next_offset) {
        read_finish(read, -ERANGE);
        return -ERANGE;
    }
    result = read_start(read, read->offset);
    if (result == 1 && read->result < 0) {
        return read->result;
    }
    return result;
}

/* The first record of `batch` (uncompressed, or decompressible into the store's scratch) with
 * timestamp >= the target; otherwise the batch's base offset. */
static void
time_lookup_resolve(struct sb_time_lookup *lookup, struct sb_store *store, const uint8_t *batch)
{
    struct sb_batch_header header;
    int decoded = sb_batch_header_decode(batch, SB_BATCH_HEADER_BYTES, UINT32_MAX, &header);
    SB_ASSERT(decoded == 0); /* Verified when copied. */
    lookup->offset = header.base_offset;
    lookup->found_timestamp_ms = header.max_timestamp_ms;
    const uint8_t *records = batch + SB_BATCH_HEADER_BYTES;
    if (sb_batch_header_compression(&header) != SB_COMPRESSION_NONE) {
        int length = sb_batch_decompress_records(batch, &header, store->scratch,
                                                 store->config.batch_bytes_max);
        if (length < 0) {
            return; /* Too big to expand here: the batch's first offset is a safe answer. */
        }
        records = store->scratch;
    }
    struct sb_record_iter iterator;
    sb_record_iter_init(&iterator, &header, records, header.records_bytes);
    struct sb_record_view record;
    /* Bounded by the batch's record count. */
    while (sb_record_iter_next(&iterator, &record) == 1) {
        if (record.timestamp_ms >= lookup->timestamp_ms) {
            lookup->offset = record.offset;
            lookup->found_timestamp_ms = record.timestamp_ms;
            return;
        }
    }
}

/* The read in time mode finished: resolve the record, answer. */
static void
time_lookup_finish(struct sb_time_lookup *lookup)
{
    struct sb_partition *partition = lookup->partition;
    lookup->result = lookup->read.result;
    lookup->needed_bytes = lookup->read.needed_bytes;
    lookup->offset = partition->high_watermark;
    lookup->found_timestamp_ms = -1;
    if (lookup->read.result == 0 && lookup->read.bytes > 0) {
        time_lookup_resolve(lookup, partition->store, lookup->buffer);
    }
}

static void
time_lookup_read_done(struct sb_read *read)
{
    struct sb_time_lookup *lookup = read->context;
    time_lookup_finish(lookup);
    lookup->callback(lookup);
}

/* The first memtable batch below the high watermark whose timestamps reach `timestamp_ms`. */
static struct memtable_entry *
time_lookup_memtable(struct sb_partition *partition, int64_t timestamp_ms)
{
    for (uint32_t index = partition->memtable_first; index != SB_STORE_NONE;) {
        struct memtable_entry *entry = wal_fifo_entry(partition->store, index);
        if (entry->base_offset >= partition->high_watermark) {
            return NULL;
        }
        if (entry->max_timestamp_ms >= timestamp_ms) {
            return entry;
        }
        index = entry->next;
    }
    return NULL;
}

int
sb_partition_offset_for_time(struct sb_partition *partition, struct sb_time_lookup *lookup)
{
    struct sb_read *read = &lookup->read;
    read->buffer = lookup->buffer;
    read->capacity = lookup->capacity;
    read->max_bytes = 1;
    read->offset = partition->log_start_offset;
    read->callback = time_lookup_read_done;
    read->context = lookup;
    lookup->partition = partition;
    int result = read_begin(partition, read);
    if (result < 0) {
        return result;
    }
    struct read_state *state = read_state_of(read);
    state->time_mode = true;
    state->timestamp_ms = lookup->timestamp_ms;
    for (struct segment *segment = partition->oldest; segment != NULL; segment = segment->next) {
        if (!segment->doomed && segment->batch_count > 0 &&
            segment->max_timestamp_ms >= lookup->timestamp_ms) {
            uint64_t position = segment_index_lookup_time(segment, lookup->timestamp_ms);
            if (read_start_segment(read, segment, position) == 0) {
                return 0;
            }
            time_lookup_finish(lookup);
            return lookup->result < 0 ? lookup->result : 1;
        }
    }
    struct memtable_entry *entry = time_lookup_memtable(partition, lookup->timestamp_ms);
    int copy_result = 0;
    if (entry != NULL && entry->batch_bytes <= lookup->capacity) {
        memcpy(lookup->buffer, wal_ring_at(partition->store, entry->ring_position),
               entry->batch_bytes);
        read->bytes = entry->batch_bytes;
    } else if (entry != NULL) {
        read->needed_bytes = entry->batch_bytes;
        copy_result = -ENOSPC;
    }
    read_finish(read, copy_result);
    time_lookup_finish(lookup);
    return lookup->result < 0 ? lookup->result : 1;
}
