/*
 * storage/compaction.c - key compaction (cleanup.policy compact): keeps the
 * latest record of every key, drops tombstones once delete_retention_ms has
 * passed, and never changes an offset. docs/storage.md ("Compaction") has the
 * rationale; this comment is the contract.
 *
 * One pass at a time per store, over one partition, started from the
 * retention check (retention_maybe_start) for a partition whose open segment
 * rolled since its last pass, whose compaction_due_ms has come (a kept
 * tombstone or a young segment became removable), whose configuration
 * changed, whose last pass failed, or that has not had a pass since the store
 * opened. A pass:
 *  1. MAP: reads every segment, oldest to the one that was open when the pass
 *     began (up to its durable end), into a hash table of key hash -> latest
 *     offset (compaction_keys_max keys, allocated at open). If a new key does
 *     not fit, mapping stops: only segments mapped whole are compacted (a
 *     prefix, as Kafka's cleaner does with its dirty section). The memtable is
 *     not mapped: its batches are newer than anything compacted and only
 *     make a pass find more to remove.
 *  2. Candidates, oldest first, while each is closed, not the newest segment,
 *     mapped whole, and old enough (max timestamp <= now - min_compaction_
 *     lag_ms): the first that fails ends the pass, so the compacted part is
 *     always a prefix. SCAN reads a candidate until it meets a record to
 *     remove; none: next candidate. COPY reads it again and writes
 *     <base>.seg.compact: a record stays if its key is null, if its offset is
 *     the latest for its key, and (a tombstone) if its timestamp is newer than
 *     now - delete_retention_ms (< 0: tombstones stay). Control batches stay.
 *  3. A batch whose records all stay is copied byte for byte (codec, producer
 *     fields and CRCs kept). Otherwise each run of consecutive surviving
 *     records becomes a batch of its own (base offset = the run's first offset,
 *     offset deltas 0, 1, ...; first timestamp and attributes of the original
 *     batch; producer fields -1), uncompressed, or compressed again with the
 *     original codec if the uncompressed run would exceed batch_bytes_max. A
 *     run never spans two original batches.
 *  4. The copy gets a header block, its batches, a footer and index for the
 *     same offset range (its footer last_offset stays the original's, so a
 *     removed tail leaves a gap that readers step over), then fdatasync,
 *     rename over <base>.seg, the swap of the in-memory segment
 *     (segment_replace: reads that pinned the original keep its descriptor
 *     until they finish), and an fsync of the directory before the next
 *     candidate. A copy left with no record is not written: the segment is
 *     deleted instead, unless it is the partition's oldest (which anchors the
 *     log start offset: recovery derives it from the oldest file); the oldest
 *     then stays as an empty segment.
 *
 * Order is what makes a removed tombstone safe: the records it deleted are in
 * older segments of the same prefix, rewritten (durably, directory included)
 * before the tombstone's segment is. Hash collisions of two keys (64-bit
 * hashes) would lose a record; at a million keys per pass the odds are about
 * 3e-8 per pass.
 *
 * Every step is bounded (COMPACTION_STEP_BYTES of reading, writing, decoding
 * or map clearing) and asynchronous through sb_io:
 *
 *   IDLE --compaction_maybe_start--> [CLEAR: a chunk per nop] --> MAP
 *   MAP --read windows (compaction_run)--> next segment ... --> SCAN first candidate
 *   SCAN --removable record found--> COPY --end of segment--> FOOTER (write data tail
 *        |                            |                      + footer) --> SYNC
 *        | nothing to remove          | nothing survives     --rename, segment_replace-->
 *        v                            v (segment_delete)        DIR_SYNC
 *   next candidate <------------------+------------------------------+
 *   no candidate left: compaction_finish --> IDLE
 *   any failure (I/O, corrupt bytes), shutdown, drop: compaction_stop --> IDLE
 *
 * A failure deletes the temporary file and leaves the original untouched;
 * the partition is retried on a later check (I/O errors) or after its next
 * roll (corrupt or oversized batches, which are logged). Recovery deletes any
 * .seg.compact file a crash left behind; a rename that happened is complete,
 * since the copy was durable with a valid footer before it.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/assert.h"
#include "core/pages.h"
#include "core/crc32c.h"
#include "core/endian.h"
#include "core/error.h"
#include "core/io_durability.h"
#include "core/log.h"
#include "proto/batch.h"
#include "proto/varint.h"
#include "storage/store_private.h"

/* Bytes read, written, decoded or cleared in one step of a pass. */
#define COMPACTION_STEP_BYTES (1u << 20)
/* A compressed batch may expand to this many times batch_bytes_max; beyond, the pass stops. */
#define COMPACTION_RECORDS_FACTOR 4u
/* Suffix of a copy being written next to its segment. */
#define COMPACTION_SUFFIX ".compact"

/* What compaction_consume stopped for (errors are negative). */
enum compaction_outcome {
    CONSUME_READ = 1,  /* The next batch is not in the window. */
    CONSUME_WRITE = 2, /* The copy's output is full enough to write. */
    CONSUME_YIELD = 3, /* The step's budget is spent. */
    CONSUME_FOUND = 4, /* SCAN met a record to remove. */
    CONSUME_FULL = 5,  /* MAP met a key that does not fit. */
    CONSUME_END = 6,   /* The segment is consumed. */
};

static void compaction_io_done(struct sb_io_op *op);
static void compaction_run(struct sb_store *store);
static void compaction_stop(struct sb_store *store, const char *why, int error);

int
compaction_init(struct sb_store *store)
{
    struct compaction *compaction = &store->compaction;
    const struct sb_store_config *config = &store->config;
    compaction->directory_fd = -1;
    compaction->keys_max = config->compaction_keys_max;
    uint64_t slots = 1;
    while (slots < (uint64_t)config->compaction_keys_max + config->compaction_keys_max / 3 + 1) {
        slots <<= 1;
    }
    SB_ASSERT(slots <= (1ull << 32));
    compaction->slot_mask = (uint32_t)(slots - 1);
    /* Kernel-zeroed and untouched until a compacted topic needs it: no cost otherwise. */
    compaction->slots_bytes = slots * sizeof(struct compaction_slot);
    compaction->slots = sb_pages_map(compaction->slots_bytes);
    uint64_t batch_bytes = sb_align_up(config->batch_bytes_max, SB_BLOCK_BYTES);
    compaction->input_capacity = (uint32_t)(COMPACTION_STEP_BYTES + batch_bytes + SB_BLOCK_BYTES);
    compaction->records_capacity = (uint32_t)sb_max_u64(COMPACTION_STEP_BYTES,
                                                        COMPACTION_RECORDS_FACTOR * batch_bytes);
    compaction->output_capacity = (uint32_t)(COMPACTION_STEP_BYTES + SB_BLOCK_BYTES +
                                             sb_max_u64(batch_bytes, store->staging_bytes));
    compaction->input = sb_alloc_aligned_raw(compaction->input_capacity, SB_BLOCK_BYTES);
    compaction->records = sb_alloc_aligned_raw(compaction->records_capacity, 64);
    compaction->run = sb_alloc_aligned_raw(SB_BATCH_HEADER_BYTES +
                                               (size_t)compaction->records_capacity, 64);
    compaction->output = sb_alloc_aligned_raw(compaction->output_capacity, SB_BLOCK_BYTES);
    for (int codec = SB_COMPRESSION_GZIP; codec < SB_COMPRESSION_COUNT; codec++) {
        compaction->packed_capacity = (uint32_t)sb_max_u64(
            compaction->packed_capacity,
            sb_compress_bound((enum sb_compression)codec, compaction->records_capacity));
    }
    compaction->packed = sb_alloc_aligned_raw(compaction->packed_capacity, 64);
    if (compaction->slots == NULL || compaction->input == NULL || compaction->records == NULL ||
        compaction->run == NULL || compaction->output == NULL || compaction->packed == NULL) {
        return -ENOMEM;
    }
    return 0;
}

/* Also after a crash or a fatal error with a pass in flight: the copy's descriptor closes
 * (its file stays for recovery to delete); pinned segments are the caller's to free. */
void
compaction_deinit(struct sb_store *store)
{
    struct compaction *compaction = &store->compaction;
    if (compaction->copy != NULL) {
        segment_destroy(compaction->copy, false);
        compaction->copy = NULL;
    }
    if (compaction->phase == COMPACTION_DIR_SYNC && compaction->directory_fd >= 0) {
        sb_io_close(store->io, compaction->directory_fd);
    }
    sb_pages_unmap(compaction->slots, compaction->slots_bytes);
    sb_free(compaction->input);
    sb_free(compaction->records);
    sb_free(compaction->run);
    sb_free(compaction->output);
    sb_free(compaction->packed);
    memset(compaction, 0, sizeof(*compaction));
    compaction->directory_fd = -1;
}

bool
compaction_busy(const struct sb_store *store)
{
    return store->compaction.phase != COMPACTION_IDLE;
}

/* True if the partition has closed segments and something may have become removable. */
static bool
compaction_due(const struct sb_partition *partition, int64_t now_ms)
{
    if (!partition->used || partition->dropped || partition->fenced ||
        partition->config.cleanup != SB_CLEANUP_COMPACT || partition->newest == NULL ||
        partition->oldest == partition->newest) {
        return false;
    }
    return partition->newest->base_offset != partition->compaction_newest_base ||
           now_ms >= partition->compaction_due_ms;
}

static void compaction_begin(struct sb_store *store, struct sb_partition *partition,
                             int64_t now_ms);

void
compaction_maybe_start(struct sb_store *store, int64_t now_ms)
{
    struct compaction *compaction = &store->compaction;
    if (compaction->phase != COMPACTION_IDLE || store->shutting_down || store->failed) {
        return;
    }
    uint32_t count = store->config.partitions_max;
    for (uint32_t step = 0; step < count; step++) {
        uint32_t slot = (compaction->next_slot + step) % count;
        struct sb_partition *partition = &store->partitions[slot];
        if (compaction_due(partition, now_ms)) {
            compaction->next_slot = (slot + 1) % count;
            compaction_begin(store, partition, now_ms);
            return;
        }
    }
}

/* Makes `segment` (pinned here; may be NULL) the one being read, releasing the previous. */
static void
compaction_take_segment(struct compaction *compaction, struct segment *segment)
{
    if (segment != NULL) {
        segment->pins++;
    }
    if (compaction->segment != NULL) {
        segment_release(compaction->segment);
    }
    compaction->segment = segment;
}

/* Starts reading the current segment from its first batch up to its durable end. */
static void
compaction_read_from_start(struct compaction *compaction)
{
    compaction->window_start = 0;
    compaction->window_bytes = 0;
    compaction->position = SB_BLOCK_BYTES;
    compaction->end = compaction->segment->durable_data_end;
    compaction->last_seen_offset = compaction->segment->base_offset - 1;
    compaction->batch_open = false;
}

static bool compaction_interrupted(const struct sb_store *store, bool segment_too);

static void
compaction_map_start(struct sb_store *store)
{
    struct compaction *compaction = &store->compaction;
    struct sb_partition *partition = compaction->partition;
    if (compaction_interrupted(store, false) || partition->oldest == NULL) {
        compaction_stop(store, "interrupted", -ECANCELED); /* While the map was cleared. */
        return;
    }
    compaction->phase = COMPACTION_MAP;
    compaction->map_dirty = true;
    compaction_take_segment(compaction, partition->oldest);
    compaction_read_from_start(compaction);
    compaction_run(store);
}

/* Empties the next chunk of the key map; yields between chunks. */
static void
compaction_clear_step(struct sb_store *store)
{
    struct compaction *compaction = &store->compaction;
    uint64_t slots = (uint64_t)compaction->slot_mask + 1;
    if (compaction->clear_next >= slots) {
        compaction->map_dirty = false;
        compaction_map_start(store);
        return;
    }
    uint64_t chunk = sb_min_u64(COMPACTION_STEP_BYTES / sizeof(struct compaction_slot),
                                slots - compaction->clear_next);
    memset(&compaction->slots[compaction->clear_next], 0,
           chunk * sizeof(struct compaction_slot));
    compaction->clear_next += chunk;
    sb_io_nop(store->io, &compaction->op, compaction_io_done, store);
}

static void
compaction_begin(struct sb_store *store, struct sb_partition *partition, int64_t now_ms)
{
    struct compaction *compaction = &store->compaction;
    SB_ASSERT(compaction->segment == NULL && compaction->copy == NULL);
    SB_ASSERT(partition->newest != NULL);
    partition->pins++;
    compaction->partition = partition;
    compaction->now_ms = now_ms;
    compaction->map_last_base = partition->newest->base_offset;
    compaction->mapped_end = -1;
    compaction->due_ms = INT64_MAX;
    compaction->keys = 0;
    compaction->staged = 0;
    if (!compaction->map_dirty) {
        compaction_map_start(store);
        return;
    }
    compaction->phase = COMPACTION_CLEAR;
    compaction->clear_next = 0;
    compaction_clear_step(store);
}

/* MurmurHash3's 64-bit finalizer: every input bit affects every output bit. */
static uint64_t
compaction_mix(uint64_t value)
{
    value ^= value >> 33;
    value *= 0xff51afd7ed558ccdull;
    value ^= value >> 33;
    value *= 0xc4ceb9fe1a85ec53ull;
    value ^= value >> 33;
    return value;
}

/* 64-bit hash of a key, 8 bytes per mixing round (never 0, which marks an empty slot). */
static uint64_t
compaction_hash(const uint8_t *key, uint32_t length)
{
    uint64_t hash = compaction_mix(0x9e3779b97f4a7c15ull ^ length);
    uint32_t at = 0;
    for (; at + 8 <= length; at += 8) {
        hash = compaction_mix(hash ^ sb_load_le64(key + at));
    }
    uint64_t tail = 0;
    for (uint32_t shift = 0; at < length; at++, shift += 8) {
        tail |= (uint64_t)key[at] << shift;
    }
    hash = compaction_mix(hash ^ tail ^ 0x5bd1e995ull);
    return hash != 0 ? hash : 1;
}

/* The slot holding `hash`, or the empty slot where it would go. Bounded: the map always keeps
 * a quarter of its slots empty (keys_max), so probing meets one. */
static struct compaction_slot *
compaction_slot_find(struct compaction *compaction, uint64_t hash)
{
    uint32_t index = (uint32_t)(hash >> 32) & compaction->slot_mask;
    while (compaction->slots[index].hash != hash && compaction->slots[index].hash != 0) {
        index = (index + 1) & compaction->slot_mask;
    }
    return &compaction->slots[index];
}

/* Notes `offset` as the latest for the key. Returns false when a new key does not fit. */
static bool
compaction_map_put(struct compaction *compaction, uint64_t hash, int64_t offset)
{
    struct compaction_slot *slot = compaction_slot_find(compaction, hash);
    if (slot->hash == 0) {
        if (compaction->keys == compaction->keys_max) {
            return false;
        }
        compaction->keys++;
        slot->hash = hash;
        slot->offset = offset;
    }
    if (offset > slot->offset) {
        slot->offset = offset;
    }
    return true;
}

/* True if the record stays (see the file comment); a tombstone kept only for its age sets
 * when the partition is due again. */
static bool
compaction_keeps(struct compaction *compaction, const struct sb_record_view *record)
{
    if (record->key_length < 0) {
        return true;
    }
    const struct compaction_slot *slot = compaction_slot_find(
        compaction, compaction_hash(record->key, (uint32_t)record->key_length));
    if (slot->hash != 0 && slot->offset > record->offset) {
        return false; /* Superseded by a later record of the key. */
    }
    int64_t retention_ms = compaction->partition->config.delete_retention_ms;
    if (record->value_length >= 0 || retention_ms < 0) {
        return true;
    }
    if (record->timestamp_ms > compaction->now_ms - retention_ms) {
        int64_t due_ms;
        if (__builtin_add_overflow(record->timestamp_ms, retention_ms, &due_ms)) {
            due_ms = INT64_MAX;
        }
        compaction->due_ms = due_ms < compaction->due_ms ? due_ms : compaction->due_ms;
        return true;
    }
    return false;
}

/* Finds the batch at `position` in the window: 1 (header and iterator ready), 0 (read a window
 * from its block first), or SB_ECORRUPT / -EIO / -E2BIG. */
static int
compaction_open_batch(struct sb_store *store)
{
    struct compaction *compaction = &store->compaction;
    uint64_t window_end = compaction->window_start + compaction->window_bytes;
    uint64_t block = compaction->position / SB_BLOCK_BYTES * SB_BLOCK_BYTES;
    struct sb_batch_header *header = &compaction->batch;
    bool header_in = compaction->position >= compaction->window_start &&
                     compaction->position + SB_BATCH_HEADER_BYTES <= window_end;
    const uint8_t *bytes = header_in ? compaction->input + (compaction->position -
                                                            compaction->window_start)
                                     : NULL;
    if (header_in && (sb_batch_header_decode(bytes, SB_BATCH_HEADER_BYTES,
                                             store->config.batch_bytes_max, header) != 0 ||
                      compaction->position + header->batch_bytes > compaction->end)) {
        return SB_ECORRUPT;
    }
    if (!header_in || compaction->position + header->batch_bytes > window_end) {
        /* A window read from this batch's block holds it whole unless the file was short. */
        return compaction->window_start == block && compaction->window_bytes > 0 ? -EIO : 0;
    }
    if (sb_batch_verify(bytes, header->batch_bytes, store->config.batch_bytes_max,
                        header) != 0 || header->base_offset <= compaction->last_seen_offset ||
        sb_batch_header_last_offset(header) > compaction->segment->last_offset) {
        return SB_ECORRUPT; /* Checked: the copy's bookkeeping asserts offset order. */
    }
    compaction->last_seen_offset = sb_batch_header_last_offset(header);
    compaction->batch_data = bytes;
    const uint8_t *records = bytes + SB_BATCH_HEADER_BYTES;
    if (sb_batch_header_compression(header) != SB_COMPRESSION_NONE) {
        int length = sb_batch_decompress_records(bytes, header, compaction->records,
                                                 compaction->records_capacity);
        if (length < 0) {
            return length;
        }
        records = compaction->records;
    }
    sb_record_iter_init(&compaction->iterator, header, records, header->records_bytes);
    compaction->run_count = 0;
    compaction->run_bytes = 0;
    compaction->batch_trimmed = false;
    compaction->batch_open = true;
    return 1;
}

/* MAP: every keyed record of the batch into the map. */
static int
compaction_map_batch(struct compaction *compaction)
{
    if (sb_batch_header_is_control(&compaction->batch)) {
        return 0;
    }
    struct sb_record_view record;
    int next;
    /* Bounded by the batch's record count. */
    while ((next = sb_record_iter_next(&compaction->iterator, &record)) == 1) {
        if (record.key_length >= 0 &&
            !compaction_map_put(compaction,
                                compaction_hash(record.key, (uint32_t)record.key_length),
                                record.offset)) {
            return CONSUME_FULL;
        }
    }
    return next;
}

/* SCAN: is any record of the batch removed? */
static int
compaction_scan_batch(struct compaction *compaction)
{
    if (sb_batch_header_is_control(&compaction->batch)) {
        return 0;
    }
    struct sb_record_view record;
    int next;
    /* Bounded by the batch's record count. */
    while ((next = sb_record_iter_next(&compaction->iterator, &record)) == 1) {
        if (!compaction_keeps(compaction, &record)) {
            return CONSUME_FOUND;
        }
    }
    return next;
}

static int compaction_copy_batch(struct sb_store *store);

/* Consumes batches of the current segment for the current phase. */
static int
compaction_consume(struct sb_store *store)
{
    struct compaction *compaction = &store->compaction;
    uint64_t budget = 0;
    /* Bounded: each pass finishes a batch, or returns. */
    for (;;) {
        if (compaction->staged >= COMPACTION_STEP_BYTES) {
            return CONSUME_WRITE;
        }
        if (!compaction->batch_open) {
            if (compaction->position >= compaction->end) {
                return CONSUME_END;
            }
            if (budget >= COMPACTION_STEP_BYTES) {
                return CONSUME_YIELD;
            }
            int opened = compaction_open_batch(store);
            if (opened <= 0) {
                return opened == 0 ? CONSUME_READ : opened;
            }
            budget += compaction->batch.batch_bytes + compaction->batch.records_bytes;
        }
        int handled = compaction->phase == COMPACTION_MAP ? compaction_map_batch(compaction)
                      : compaction->phase == COMPACTION_SCAN ? compaction_scan_batch(compaction)
                                                             : compaction_copy_batch(store);
        if (handled != 0) {
            return handled;
        }
        compaction->batch_open = false;
        compaction->position += compaction->batch.batch_bytes;
    }
}

/* Appends one finished batch to the copy's output and notes it in the copy. */
static void
compaction_output_note(struct compaction *compaction, uint32_t batch_bytes)
{
    uint8_t *batch = compaction->output + compaction->staged;
    segment_note_batch(compaction->copy, batch, compaction->write_position + compaction->staged);
    compaction->staged += batch_bytes;
    SB_ASSERT(compaction->staged <= compaction->output_capacity);
}

/* Adds one surviving record (its encoded bytes) to the run: the same record with the offset
 * delta of its place in the run. */
static void
compaction_run_add(struct compaction *compaction, const uint8_t *bytes, size_t length,
                   const struct sb_record_view *record)
{
    uint32_t body = 0;
    int64_t delta = 0;
    uint32_t old_index = 0;
    /* Verified by the iterator that just returned the record. */
    int length_bytes = sb_varint_decode_u32(bytes, length, &body);
    SB_ASSERT(length_bytes > 0);
    int delta_bytes = sb_varint_decode_s64(bytes + length_bytes + 1,
                                           length - (size_t)length_bytes - 1, &delta);
    SB_ASSERT(delta_bytes > 0);
    size_t prefix = (size_t)length_bytes + 1 + (size_t)delta_bytes;
    int index_bytes = sb_varint_decode_u32(bytes + prefix, length - prefix, &old_index);
    SB_ASSERT(index_bytes > 0);
    const uint8_t *tail = bytes + prefix + (size_t)index_bytes;
    size_t tail_bytes = length - prefix - (size_t)index_bytes;
    uint64_t new_body = 1 + (uint64_t)delta_bytes + sb_varint_size_u64(compaction->run_count) +
                        tail_bytes;
    uint8_t *out = compaction->run + SB_BATCH_HEADER_BYTES + compaction->run_bytes;
    size_t at = sb_varint_encode_u64(out, new_body);
    out[at++] = 0;
    memcpy(out + at, bytes + length_bytes + 1, (size_t)delta_bytes);
    at += (size_t)delta_bytes;
    at += sb_varint_encode_u64(out + at, compaction->run_count);
    memcpy(out + at, tail, tail_bytes);
    at += tail_bytes;
    SB_ASSERT(at <= length); /* A record never grows: its offset delta only shrinks. */
    if (compaction->run_count == 0) {
        compaction->run_first_offset = record->offset;
        compaction->run_max_timestamp_ms = record->timestamp_ms;
    }
    if (record->timestamp_ms > compaction->run_max_timestamp_ms) {
        compaction->run_max_timestamp_ms = record->timestamp_ms;
    }
    compaction->run_bytes += (uint32_t)at;
    compaction->run_count++;
}

/* Writes the run as a batch into the output: uncompressed, or with the original codec if it
 * would not fit batch_bytes_max. Returns 0 or -EMSGSIZE (it does not fit even so). */
static int
compaction_run_emit(struct sb_store *store)
{
    struct compaction *compaction = &store->compaction;
    SB_ASSERT(compaction->run_count > 0);
    SB_ASSERT(compaction->copy != NULL && compaction->staged < COMPACTION_STEP_BYTES);
    const struct sb_batch_header *original = &compaction->batch;
    enum sb_compression codec = sb_batch_header_compression(original);
    uint8_t *batch = compaction->output + compaction->staged;
    uint32_t payload_bytes = compaction->run_bytes;
    const uint8_t *records = compaction->run + SB_BATCH_HEADER_BYTES;
    uint32_t batch_bytes_max = store->config.batch_bytes_max;
    if (SB_BATCH_HEADER_BYTES + (uint64_t)payload_bytes <= batch_bytes_max) {
        codec = SB_COMPRESSION_NONE;
    } else {
        /* Into a buffer of the codec's bound (snappy writes into nothing smaller). */
        int compressed = codec == SB_COMPRESSION_NONE ? -ENOSPC
                         : sb_compress(codec, records, payload_bytes, compaction->packed,
                                       compaction->packed_capacity);
        if (compressed < 0 || (uint32_t)compressed > batch_bytes_max - SB_BATCH_HEADER_BYTES) {
            return -EMSGSIZE;
        }
        records = compaction->packed;
        payload_bytes = (uint32_t)compressed;
    }
    memcpy(batch + SB_BATCH_HEADER_BYTES, records, payload_bytes);
    struct sb_batch_header header = {
        .batch_bytes = SB_BATCH_HEADER_BYTES + payload_bytes,
        .record_count = compaction->run_count,
        .base_offset = compaction->run_first_offset,
        .first_timestamp_ms = original->first_timestamp_ms,
        .max_timestamp_ms = sb_batch_header_is_log_append_time(original)
                                ? original->max_timestamp_ms
                                : compaction->run_max_timestamp_ms,
        .producer_id = -1,
        .producer_epoch = -1,
        .attributes = (uint16_t)((original->attributes & ~SB_BATCH_ATTRIBUTE_CODEC_MASK) |
                                 (uint16_t)codec),
        .base_sequence = -1,
        .payload_crc32c = sb_crc32c(0, batch + SB_BATCH_HEADER_BYTES, payload_bytes),
        .records_bytes = compaction->run_bytes,
    };
    sb_batch_header_encode(&header, batch);
    compaction_output_note(compaction, header.batch_bytes);
    compaction->run_count = 0;
    compaction->run_bytes = 0;
    return 0;
}

/* Copies the original batch as it is. */
static void
compaction_copy_whole(struct compaction *compaction)
{
    memcpy(compaction->output + compaction->staged, compaction->batch_data,
           compaction->batch.batch_bytes);
    compaction_output_note(compaction, compaction->batch.batch_bytes);
}

/* COPY: the batch's surviving runs into the output. Returns 0 when the batch is done,
 * CONSUME_WRITE to write before going on with it, or an error. */
static int
compaction_copy_batch(struct sb_store *store)
{
    struct compaction *compaction = &store->compaction;
    struct sb_record_iter *iterator = &compaction->iterator;
    if (sb_batch_header_is_control(&compaction->batch)) {
        compaction_copy_whole(compaction);
        return 0;
    }
    struct sb_record_view record;
    size_t start = iterator->position;
    int next;
    /* Bounded by the batch's record count. */
    while ((next = sb_record_iter_next(iterator, &record)) == 1) {
        if (compaction_keeps(compaction, &record)) {
            compaction_run_add(compaction, iterator->records + start,
                               iterator->position - start, &record);
        } else {
            compaction->removed++;
            compaction->batch_trimmed = true;
            int emitted = compaction->run_count > 0 ? compaction_run_emit(store) : 0;
            if (emitted < 0) {
                return emitted;
            }
            if (compaction->staged >= COMPACTION_STEP_BYTES) {
                return CONSUME_WRITE;
            }
        }
        start = iterator->position;
    }
    if (next < 0) {
        return next;
    }
    if (!compaction->batch_trimmed) {
        compaction_copy_whole(compaction);
    } else if (compaction->run_count > 0) {
        int emitted = compaction_run_emit(store);
        if (emitted < 0) {
            return emitted;
        }
    }
    return 0;
}

static void
compaction_temp_path(const struct segment *segment, char *path, size_t capacity)
{
    char final[384];
    segment_path(segment->partition, segment->base_offset, final, sizeof(final));
    snprintf(path, capacity, "%s%s", final, COMPACTION_SUFFIX);
}

/* SCAN found a record to remove: start writing the copy. */
static void
compaction_copy_begin(struct sb_store *store)
{
    struct compaction *compaction = &store->compaction;
    SB_ASSERT(compaction->copy == NULL);
    SB_ASSERT(compaction->segment->closed);
    char path[400];
    compaction_temp_path(compaction->segment, path, sizeof(path));
    int result = segment_open_copy(compaction->segment, path, &compaction->copy);
    if (result < 0) {
        compaction_stop(store, "create the copy", result);
        return;
    }
    compaction->phase = COMPACTION_COPY;
    compaction->removed = 0;
    segment_header_block(compaction->copy, compaction->output);
    compaction->staged = SB_BLOCK_BYTES;
    compaction->write_position = 0;
    compaction_read_from_start(compaction);
    compaction_run(store);
}

/* Moves on to `next` if it is a candidate (see the file comment), else ends the pass. */
static void
compaction_next_candidate(struct sb_store *store, struct segment *next)
{
    struct compaction *compaction = &store->compaction;
    struct sb_partition *partition = compaction->partition;
    int64_t lag_ms = partition->config.min_compaction_lag_ms;
    bool candidate = next != NULL && next != partition->newest && next->closed &&
                     !next->doomed && next->last_offset <= compaction->mapped_end;
    if (candidate && lag_ms > 0 && next->batch_count > 0 &&
        next->max_timestamp_ms > compaction->now_ms - lag_ms) {
        int64_t due_ms;
        if (__builtin_add_overflow(next->max_timestamp_ms, lag_ms, &due_ms)) {
            due_ms = INT64_MAX;
        }
        compaction->due_ms = due_ms < compaction->due_ms ? due_ms : compaction->due_ms;
        candidate = false;
    }
    if (!candidate) {
        compaction_stop(store, NULL, 0);
        return;
    }
    compaction_take_segment(compaction, next);
    compaction->phase = COMPACTION_SCAN;
    compaction_read_from_start(compaction);
    compaction_run(store);
}

/* MAP finished a segment: the next one, or the candidates. */
static void
compaction_map_next(struct sb_store *store, bool full)
{
    struct compaction *compaction = &store->compaction;
    struct segment *segment = compaction->segment;
    if (!full && segment->closed && compaction->end == segment->durable_data_end) {
        compaction->mapped_end = segment->last_offset;
    }
    struct segment *next = segment->next;
    if (!full && next != NULL && next->base_offset <= compaction->map_last_base) {
        compaction_take_segment(compaction, next);
        compaction_read_from_start(compaction);
        compaction_run(store);
        return;
    }
    compaction_take_segment(compaction, NULL);
    compaction_next_candidate(store, compaction->partition->oldest);
}

static void
compaction_read(struct sb_store *store)
{
    struct compaction *compaction = &store->compaction;
    uint64_t start = compaction->position / SB_BLOCK_BYTES * SB_BLOCK_BYTES;
    uint64_t length = sb_min_u64(compaction->input_capacity,
                                 sb_align_up(compaction->end, SB_BLOCK_BYTES) - start);
    compaction->window_start = start;
    compaction->window_bytes = 0;
    sb_io_read(store->io, &compaction->op, compaction->segment->fd, compaction->input,
               (uint32_t)length, start, compaction_io_done, store);
}

/* Writes the whole blocks of the output; the partial last block stays for the next write. */
static void
compaction_write(struct sb_store *store)
{
    struct compaction *compaction = &store->compaction;
    uint32_t length = compaction->staged / SB_BLOCK_BYTES * SB_BLOCK_BYTES;
    SB_ASSERT(length > 0);
    SB_ASSERT(compaction->write_position % SB_BLOCK_BYTES == 0);
    sb_io_write(store->io, &compaction->op, compaction->copy->fd, compaction->output, length,
                compaction->write_position, compaction_io_done, store);
}

/* A write of whole blocks landed: keep the partial block at the front. */
static void
compaction_written(struct compaction *compaction, uint32_t length)
{
    memmove(compaction->output, compaction->output + length, compaction->staged - length);
    compaction->staged -= length;
    compaction->write_position += length;
}

/* Closes and deletes the copy being written (its original is untouched). */
static void
compaction_discard_copy(struct compaction *compaction)
{
    char path[400];
    compaction_temp_path(compaction->copy, path, sizeof(path));
    segment_destroy(compaction->copy, false);
    compaction->copy = NULL;
    if (unlink(path) != 0 && errno != ENOENT) {
        sb_log_warn("cannot delete a compaction copy", "path=%s errno=%d", path, errno);
    }
}

static void
compaction_dir_sync(struct sb_store *store)
{
    struct compaction *compaction = &store->compaction;
    struct sb_partition *partition = compaction->partition;
    char path[320];
    partition_dir_path(store, partition->topic_id, partition->partition, path, sizeof(path));
    int fd = sb_io_open(store->io, path, O_RDONLY | O_DIRECTORY, 0);
    if (fd < 0) {
        compaction_stop(store, "open the directory", fd);
        return;
    }
    compaction->directory_fd = fd;
    compaction->phase = COMPACTION_DIR_SYNC;
    sb_io_fsync(store->io, &compaction->op, fd, false, compaction_io_done, store);
}

/* COPY reached the segment's end: write the tail and footer, or delete an emptied segment. */
static void
compaction_copy_end(struct sb_store *store)
{
    struct compaction *compaction = &store->compaction;
    struct segment *segment = compaction->segment;
    struct segment *copy = compaction->copy;
    if (copy->batch_count == 0 && segment != compaction->partition->oldest) {
        compaction_discard_copy(compaction);
        sb_log_info("compaction deletes an emptied segment", "topic=%u partition=%u "
                    "base_offset=%" PRId64, segment->partition->topic_id,
                    segment->partition->partition, segment->base_offset);
        store->stats.compacted_segments++;
        store->stats.compaction_records_removed += compaction->removed;
        segment_delete(segment); /* Pinned by this pass: it goes when released. */
        compaction_dir_sync(store);
        return;
    }
    copy->last_offset = segment->last_offset;
    uint32_t data_bytes = (uint32_t)sb_align_up(compaction->staged, SB_BLOCK_BYTES);
    memset(compaction->output + compaction->staged, 0, data_bytes - compaction->staged);
    uint32_t footer_bytes = segment_footer_build(copy, compaction->output + data_bytes,
                                                 compaction->output_capacity - data_bytes);
    SB_ASSERT(footer_bytes != 0); /* segment_index_capacity keeps the index small enough. */
    compaction->phase = COMPACTION_FOOTER;
    compaction->staged = data_bytes + footer_bytes;
    sb_io_write(store->io, &compaction->op, copy->fd, compaction->output, compaction->staged,
                compaction->write_position, compaction_io_done, store);
}

/* The copy is durable: put it in place of the original, on disk and in memory. */
static void
compaction_swap(struct sb_store *store)
{
    struct compaction *compaction = &store->compaction;
    struct segment *original = compaction->segment;
    struct segment *copy = compaction->copy;
    SB_ASSERT(copy != NULL && !original->doomed);
    SB_ASSERT(copy->data_end >= SB_BLOCK_BYTES && copy->base_offset == original->base_offset);
    char from[400];
    char to[384];
    compaction_temp_path(original, from, sizeof(from));
    segment_path(original->partition, original->base_offset, to, sizeof(to));
    if (sb_io_durability_rename(from, to) != 0) {
        compaction_stop(store, "rename the copy", -errno);
        return;
    }
    copy->closed = true;
    copy->durable_data_end = copy->data_end;
    copy->last_write_ns = original->last_write_ns;
    compaction->copy = NULL;
    segment_replace(original, copy);
    compaction_take_segment(compaction, copy);
    store->stats.compacted_segments++;
    store->stats.compaction_records_removed += compaction->removed;
    compaction_dir_sync(store);
}

/* The current segment is consumed: what that means depends on the phase. */
static void
compaction_segment_end(struct sb_store *store)
{
    struct compaction *compaction = &store->compaction;
    switch (compaction->phase) {
    case COMPACTION_MAP:
        compaction_map_next(store, false);
        return;
    case COMPACTION_SCAN:
        compaction_next_candidate(store, compaction->segment->next);
        return;
    default:
        SB_ASSERT(compaction->phase == COMPACTION_COPY);
        compaction_copy_end(store);
        return;
    }
}

/* True if the pass must stop now: the store stops, or the partition goes away or stops being
 * compacted; with `segment_too`, also if retention doomed the segment being read. */
static bool
compaction_interrupted(const struct sb_store *store, bool segment_too)
{
    const struct compaction *compaction = &store->compaction;
    const struct sb_partition *partition = compaction->partition;
    return store->shutting_down || store->failed || partition->dropped ||
           partition->config.cleanup != SB_CLEANUP_COMPACT ||
           (segment_too && compaction->segment != NULL && compaction->segment->doomed);
}

/* Consumes what is in the window and starts the next I/O (or the next phase). */
static void
compaction_run(struct sb_store *store)
{
    struct compaction *compaction = &store->compaction;
    if (compaction_interrupted(store, true)) {
        compaction_stop(store, "interrupted", -ECANCELED);
        return;
    }
    int outcome = compaction_consume(store);
    switch (outcome) {
    case CONSUME_READ:
        compaction_read(store);
        return;
    case CONSUME_WRITE:
        compaction_write(store);
        return;
    case CONSUME_YIELD:
        sb_io_nop(store->io, &compaction->op, compaction_io_done, store);
        return;
    case CONSUME_FOUND:
        compaction_copy_begin(store);
        return;
    case CONSUME_FULL:
        compaction_map_next(store, true);
        return;
    case CONSUME_END:
        compaction_segment_end(store);
        return;
    default:
        compaction_stop(store, outcome == -EMSGSIZE || outcome == -E2BIG
                                   ? "a batch too large to rewrite" : "corrupt batch",
                        outcome);
        return;
    }
}

/* A read, write or yield of MAP, SCAN or COPY finished. */
static void
compaction_transfer_done(struct sb_store *store, const struct sb_io_op *op)
{
    struct compaction *compaction = &store->compaction;
    if (op->kind == SB_IO_OP_READ) {
        if (op->result < 0) {
            compaction_stop(store, "read", op->result);
            return;
        }
        compaction->window_bytes = (uint32_t)op->result;
    } else if (op->kind == SB_IO_OP_WRITE) {
        if (op->result < 0 || (uint32_t)op->result != op->length) {
            compaction_stop(store, "write", op->result < 0 ? op->result : -EIO);
            return;
        }
        compaction_written(compaction, op->length);
    }
    compaction_run(store);
}

static void
compaction_io_done(struct sb_io_op *op)
{
    struct sb_store *store = op->context;
    struct compaction *compaction = &store->compaction;
    int32_t result = op->result;
    switch (compaction->phase) {
    case COMPACTION_CLEAR:
        compaction_clear_step(store);
        return;
    case COMPACTION_FOOTER:
        if (result < 0 || (uint32_t)result != op->length) {
            compaction_stop(store, "write the footer", result < 0 ? result : -EIO);
            return;
        }
        compaction->phase = COMPACTION_SYNC;
        compaction->staged = 0;
        sb_io_fsync(store->io, &compaction->op, compaction->copy->fd, true, compaction_io_done,
                    store);
        return;
    case COMPACTION_SYNC:
        if (result < 0 || compaction_interrupted(store, true)) {
            compaction_stop(store, "fdatasync the copy", result < 0 ? result : -ECANCELED);
            return;
        }
        compaction_swap(store);
        return;
    case COMPACTION_DIR_SYNC:
        sb_io_close(store->io, compaction->directory_fd);
        compaction->directory_fd = -1;
        if (result < 0 || compaction_interrupted(store, false)) {
            compaction_stop(store, "fsync the directory", result < 0 ? result : -ECANCELED);
            return;
        }
        /* Its own segment may be doomed (emptied): it stays linked while pinned. */
        compaction_next_candidate(store, compaction->segment->next);
        return;
    default:
        compaction_transfer_done(store, op);
        return;
    }
}

/* Ends the pass: finished (why == NULL) or stopped by `error`. Releases what it holds and
 * says when the partition is due again. */
static void
compaction_stop(struct sb_store *store, const char *why, int error)
{
    struct compaction *compaction = &store->compaction;
    struct sb_partition *partition = compaction->partition;
    if (compaction->copy != NULL) {
        compaction_discard_copy(compaction);
    }
    compaction_take_segment(compaction, NULL);
    if (why == NULL) {
        partition->compaction_newest_base = compaction->map_last_base;
        partition->compaction_due_ms = compaction->due_ms;
        store->stats.compactions++;
    } else if (error == SB_ECORRUPT || error == -EMSGSIZE || error == -E2BIG) {
        /* Not worth retrying before the log changes: wait for the next roll. */
        sb_log_error("compaction stopped", "why=\"%s\" topic=%u partition=%u error=\"%s\"",
                     why, partition->topic_id, partition->partition, sb_strerror(error));
        partition->compaction_newest_base = compaction->map_last_base;
        partition->compaction_due_ms = INT64_MAX;
        store->stats.compaction_failures++;
    } else {
        if (error != -ECANCELED) {
            sb_log_warn("compaction failed; will retry", "why=\"%s\" topic=%u partition=%u "
                        "error=\"%s\"", why, partition->topic_id, partition->partition,
                        sb_strerror(error));
            store->stats.compaction_failures++;
        }
        partition->compaction_due_ms = 0;
    }
    compaction->phase = COMPACTION_IDLE;
    compaction->partition = NULL;
    compaction->staged = 0;
    SB_ASSERT(partition->pins > 0);
    partition->pins--;
    store_partition_release_if_unused(partition);
}
