/*
 * test/storage/test_compaction.c - key compaction (cleanup.policy compact)
 * against a reference model. The model remembers every record appended (key
 * or null key, value or tombstone, timestamp), indexed by its offset. After a
 * pass it predicts the partition exactly: in the compacted prefix of closed
 * segments (those whose records are all older than min_compaction_lag_ms, up
 * to the first that is not), a record stays if its key is null, or its offset
 * is the latest of its key and it is a value or a tombstone younger than
 * delete_retention_ms; everything else stays as appended, the open segment
 * included. The store must return exactly those records, at their offsets,
 * byte for byte, when the partition is read from its start and from offsets
 * in the middle (inside removed ranges too), after a clean restart and after
 * a crash. With failures injected (a failed write, fdatasync, directory fsync
 * or read, a power cut mid-pass), the partition stays readable and correct
 * (every record it returns is the one appended at that offset, and every
 * record the model keeps is there), and a later pass completes.
 *
 * Segments are 64 KiB; compaction checks run on every loop iteration
 * (retention_check_interval_ns = 1) and data is flushed at once.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/base.h"
#include "core/clock.h"
#include "core/log.h"
#include "proto/batch.h"
#include "test/storage/fixture.h"

#define TOPIC 21u
#define SEGMENT_BYTES (64u << 10)
#define RECORDS_MAX 16384u
#define SEGMENTS_MAX 1024u
#define KEYS 40u
/* Key numbers: 0 .. KEYS-1 are shared; from KEYS on, each is used once. */
#define KEY_SPACE 4096u
#define HOUR_MS (3600ll * 1000)
#define BATCH_BUFFER_BYTES (256u << 10)
#define READ_BUFFER_BYTES (256u << 10)
#define RECORDS_BUFFER_BYTES (1u << 20)
/* Bytes of a "compressible" value (a batch of them expands far beyond batch_bytes_max). */
#define COMPRESSIBLE_VALUE_BYTES (16u << 10)
/* Loop iterations a pass may take. */
#define STEPS_MAX 200000u

/* One record the test appended; its offset is its index in the model. */
struct model_record {
    int32_t key;          /* Key number, -1 for a null key. */
    int32_t value_length; /* -1: tombstone. */
    uint32_t value_seed;  /* Seed of the value's bytes. */
    int64_t timestamp_ms; /* Create time. */
};

struct compaction_model {
    struct sb_partition_config config;          /* The partition's configuration. */
    struct model_record records[RECORDS_MAX];   /* By offset. */
    uint32_t count;                             /* Records appended (offsets 0 .. count-1). */
    uint32_t unique_next;                       /* Next key number used only once. */
    uint64_t random;                            /* Generator state. */
};

/* What a workload appends. */
struct workload {
    uint32_t batches;         /* Batches to append. */
    uint32_t tombstone_pct;   /* Chance of a tombstone. */
    uint32_t null_key_pct;    /* Chance of a null key. */
    uint32_t old_pct;         /* Chance a record is three hours old (else from now). */
    bool compress;            /* Random codecs, some batches of big compressible values. */
    bool old_first;           /* The first half of the batches old, the rest new. */
    uint32_t narrow_keys;     /* > 0: the first half of the batches use only this many keys. */
};

static struct fixture fixture_state;
static struct compaction_model model_state;
static uint8_t batch_buffer[BATCH_BUFFER_BYTES];
static uint8_t compress_buffer[BATCH_BUFFER_BYTES];
static uint8_t read_buffer[READ_BUFFER_BYTES];
static uint8_t records_buffer[RECORDS_BUFFER_BYTES];
static uint8_t value_buffer[COMPRESSIBLE_VALUE_BYTES];
static int64_t read_offsets[RECORDS_MAX];
/* Compressed batches read back that compaction cut from a batch of compressible values. */
static uint32_t recompressed_batches;
static bool expected_kept[RECORDS_MAX];

static int64_t
now_ms(void)
{
    return (int64_t)(sb_clock_realtime_ns() / SB_NS_PER_MS);
}

static uint32_t
next_random(struct compaction_model *model, uint32_t bound)
{
    model->random = model->random * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)((model->random >> 33) % bound);
}

/* The value bytes of a record (value_buffer holds them until the next call). */
static const uint8_t *
model_value(const struct model_record *record)
{
    for (int32_t index = 0; index < record->value_length; index++) {
        value_buffer[index] = record->value_length >= (int32_t)COMPRESSIBLE_VALUE_BYTES
                                  ? (uint8_t)('a' + record->value_seed % 26)
                                  : (uint8_t)(record->value_seed * 31 + (uint32_t)index * 7);
    }
    return value_buffer;
}

static int
model_key(const struct model_record *record, char *key, size_t capacity)
{
    return snprintf(key, capacity, "key-%03d", record->key);
}

/* Draws the records of one batch into the model (at `first`); returns how many. */
static uint32_t
model_draw_batch(struct compaction_model *model, const struct workload *workload, bool old,
                 bool compressible, uint32_t keys, uint32_t first)
{
    uint32_t count = compressible ? 6 : 1 + next_random(model, 20);
    cr_assert_leq(first + count, RECORDS_MAX);
    int64_t base_ms = now_ms() - (old ? 3 * HOUR_MS : 0);
    for (uint32_t index = 0; index < count; index++) {
        struct model_record *record = &model->records[first + index];
        record->key = next_random(model, 100) < workload->null_key_pct
                          ? -1 : (int32_t)next_random(model, keys);
        if (compressible && index > 0) {
            /* Record 0 is likely superseded later; the rest never are, so their run is
             * larger than batch_bytes_max uncompressed. */
            cr_assert_lt(model->unique_next, KEY_SPACE);
            record->key = (int32_t)model->unique_next++;
        }
        record->value_length = compressible ? (int32_t)COMPRESSIBLE_VALUE_BYTES
                                            : (int32_t)next_random(model, 400);
        if (!compressible && next_random(model, 100) < workload->tombstone_pct) {
            record->value_length = -1;
        }
        record->value_seed = next_random(model, 1u << 30);
        record->timestamp_ms = base_ms + index;
    }
    return count;
}

/* Builds the batch of records [first, first + count) into batch_buffer. */
static uint32_t
model_build_batch(const struct compaction_model *model, uint32_t first, uint32_t count,
                  enum sb_compression codec, const uint8_t **batch_out)
{
    struct sb_batch_builder builder;
    sb_batch_builder_init(&builder, batch_buffer, sizeof(batch_buffer),
                          model->records[first].timestamp_ms);
    for (uint32_t index = first; index < first + count; index++) {
        const struct model_record *record = &model->records[index];
        char key[16];
        int key_length = model_key(record, key, sizeof(key));
        struct sb_record_header header = {.name = "n", .name_length = 1, .value = "v",
                                          .value_length = 1};
        struct sb_record built = {
            .key = record->key >= 0 ? key : NULL,
            .key_length = record->key >= 0 ? key_length : -1,
            .value = record->value_length >= 0 ? model_value(record) : NULL,
            .value_length = record->value_length,
            .timestamp_ms = record->timestamp_ms,
            .headers = &header,
            .header_count = index % 3 == 0 ? 1 : 0,
        };
        cr_assert_eq(sb_batch_builder_add(&builder, &built), 0);
    }
    uint32_t bytes = 0;
    cr_assert_eq(sb_batch_builder_finish(&builder, codec, compress_buffer,
                                         sizeof(compress_buffer), batch_out, &bytes), 0);
    return bytes;
}

static void
append_done(struct sb_append *append)
{
    cr_assert_eq(append->result, 0);
    (*(uint32_t *)append->context)--;
}

/* Appends one batch, stepping while the memtable is full; counts it in *pending. */
static void
append_batch(struct fixture *fixture, struct sb_partition *partition, const uint8_t *batch,
             uint32_t bytes, struct sb_append *append, uint32_t *pending)
{
    (*pending)++;
    for (uint32_t step = 0; step < STEPS_MAX; step++) {
        int result = sb_partition_append(partition, batch, bytes, append, append_done, pending);
        if (result == 0) {
            return;
        }
        cr_assert_eq(result, -ENOBUFS);
        fixture_step(fixture, SB_NS_PER_MS);
    }
    cr_assert_fail("the memtable never drained");
}

/* Appends the workload, 8 batches at a time, each group made durable before the next. */
static void
model_append(struct fixture *fixture, struct sb_partition *partition,
             struct compaction_model *model, const struct workload *workload)
{
    static struct sb_append appends[8];
    static const enum sb_compression codecs[] = {
        SB_COMPRESSION_NONE, SB_COMPRESSION_GZIP, SB_COMPRESSION_SNAPPY, SB_COMPRESSION_LZ4,
        SB_COMPRESSION_ZSTD,
    };
    uint32_t pending = 0;
    for (uint32_t batch = 0; batch < workload->batches; batch++) {
        bool old = workload->old_first ? batch < workload->batches / 2
                                       : next_random(model, 100) < workload->old_pct;
        bool compressible = workload->compress && next_random(model, 8) == 0;
        enum sb_compression codec = workload->compress
                                        ? codecs[1 + next_random(model, 4)] : codecs[0];
        uint32_t keys = workload->narrow_keys > 0 && batch < workload->batches / 2
                            ? workload->narrow_keys : KEYS;
        uint32_t first = model->count;
        uint32_t count = model_draw_batch(model, workload, old, compressible, keys, first);
        const uint8_t *bytes = NULL;
        uint32_t length = model_build_batch(model, first, count, codec, &bytes);
        cr_assert_eq(sb_partition_log_end_offset(partition), (int64_t)first);
        append_batch(fixture, partition, bytes, length, &appends[batch % 8], &pending);
        model->count += count;
        if (batch % 8 == 7 || batch + 1 == workload->batches) {
            for (uint32_t step = 0; step < STEPS_MAX && pending > 0; step++) {
                fixture_step(fixture, SB_NS_PER_MS);
            }
            cr_assert_eq(pending, 0, "appends never became durable");
        }
    }
}

static int
compare_offsets(const void *left, const void *right)
{
    int64_t a = *(const int64_t *)left;
    int64_t b = *(const int64_t *)right;
    return a < b ? -1 : a > b;
}

/* Base offsets of the partition's segment files, sorted; counts compaction copies too (and
 * gives the base offset and size of the last one in copy_out, if not NULL). */
static uint32_t
list_segments_and_copies(const struct fixture *fixture, int64_t *bases, uint32_t *copies_out,
                         int64_t copy_out[2])
{
    char path[256];
    snprintf(path, sizeof(path), "%s/partitions/%u-0", fixture->data_dir, TOPIC);
    DIR *directory = opendir(path);
    cr_assert_not_null(directory, "%s", path);
    uint32_t count = 0;
    uint32_t copies = 0;
    struct dirent *item;
    while ((item = readdir(directory)) != NULL) {
        size_t length = strlen(item->d_name);
        if (length > 4 && strcmp(item->d_name + length - 4, ".seg") == 0) {
            cr_assert_lt(count, SEGMENTS_MAX);
            bases[count++] = strtoll(item->d_name, NULL, 10);
        } else if (strstr(item->d_name, ".compact") != NULL) {
            copies++;
            char file[512];
            struct stat status;
            snprintf(file, sizeof(file), "%s/%s", path, item->d_name);
            if (copy_out != NULL && stat(file, &status) == 0) {
                copy_out[0] = strtoll(item->d_name, NULL, 10);
                copy_out[1] = status.st_size;
            }
        }
    }
    closedir(directory);
    qsort(bases, count, sizeof(bases[0]), compare_offsets);
    *copies_out = copies;
    return count;
}

static uint32_t
list_segments(const struct fixture *fixture, int64_t *bases, uint32_t *copies_out)
{
    return list_segments_and_copies(fixture, bases, copies_out, NULL);
}

/* First offset outside the compacted prefix: the first closed segment holding a record younger
 * than the lag, else the open segment's base. */
static int64_t
model_prefix_end(const struct compaction_model *model, const int64_t *bases, uint32_t count,
                 int64_t at_ms)
{
    int64_t lag_ms = model->config.min_compaction_lag_ms;
    for (uint32_t segment = 0; lag_ms > 0 && segment + 1 < count; segment++) {
        for (int64_t offset = bases[segment]; offset < bases[segment + 1]; offset++) {
            if (model->records[offset].timestamp_ms > at_ms - lag_ms) {
                return bases[segment];
            }
        }
    }
    return bases[count - 1];
}

/* Fills expected_kept for every offset, with the key map holding the records below
 * `map_end`; returns how many records the model keeps. */
static uint32_t
model_expect(const struct compaction_model *model, int64_t prefix_end, int64_t map_end,
             int64_t at_ms)
{
    static int64_t latest[KEY_SPACE];
    for (uint32_t key = 0; key < KEY_SPACE; key++) {
        latest[key] = -1;
    }
    for (uint32_t offset = 0; offset < map_end; offset++) {
        if (model->records[offset].key >= 0) {
            latest[model->records[offset].key] = offset;
        }
    }
    uint32_t kept = 0;
    for (uint32_t offset = 0; offset < model->count; offset++) {
        const struct model_record *record = &model->records[offset];
        bool young = record->timestamp_ms > at_ms - model->config.delete_retention_ms;
        expected_kept[offset] = offset >= prefix_end || record->key < 0 ||
                                (latest[record->key] == offset &&
                                 (record->value_length >= 0 || young));
        kept += expected_kept[offset];
    }
    return kept;
}

/* One record read back must be the one appended at its offset. */
static void
check_record(const struct compaction_model *model, const struct sb_record_view *view)
{
    cr_assert_lt(view->offset, (int64_t)model->count);
    const struct model_record *record = &model->records[view->offset];
    cr_assert_eq(view->timestamp_ms, record->timestamp_ms, "offset %lld",
                 (long long)view->offset);
    cr_assert_eq(view->value_length, record->value_length, "offset %lld",
                 (long long)view->offset);
    if (record->value_length > 0) {
        cr_assert_eq(memcmp(view->value, model_value(record), (size_t)record->value_length), 0);
    }
    char key[16];
    int key_length = model_key(record, key, sizeof(key));
    cr_assert_eq(view->key_length, record->key >= 0 ? key_length : -1);
    if (record->key >= 0) {
        cr_assert_eq(memcmp(view->key, key, (size_t)key_length), 0);
    }
    cr_assert_eq(view->header_count, view->offset % 3 == 0 ? 1u : 0u);
}

/* Checks the batches of one read in `buffer`; appends the offsets at or after `from` to
 * read_offsets. Returns the offset after the last batch. */
static int64_t
check_read(const struct compaction_model *model, const uint8_t *buffer, int64_t from,
           uint32_t bytes, uint32_t *count)
{
    int64_t next = from;
    for (uint32_t at = 0; at < bytes;) {
        struct sb_batch_header header;
        cr_assert_eq(sb_batch_verify(buffer + at, bytes - at, READ_BUFFER_BYTES, &header), 0);
        cr_assert_leq(header.batch_bytes, 64u << 10, "a batch above batch_bytes_max");
        int length = sb_batch_decompress_records(buffer + at, &header, records_buffer,
                                                 sizeof(records_buffer));
        cr_assert_geq(length, 0);
        struct sb_record_iter iterator;
        sb_record_iter_init(&iterator, &header, records_buffer, (size_t)length);
        struct sb_record_view view;
        int result;
        while ((result = sb_record_iter_next(&iterator, &view)) == 1) {
            check_record(model, &view);
            if (view.offset >= from) {
                cr_assert(*count == 0 || view.offset > read_offsets[*count - 1]);
                read_offsets[(*count)++] = view.offset;
            }
        }
        cr_assert_eq(result, 0);
        if (sb_batch_header_compression(&header) != SB_COMPRESSION_NONE &&
            header.record_count == 5 && header.records_bytes > (64u << 10)) {
            recompressed_batches++;
        }
        next = sb_batch_header_last_offset(&header) + 1;
        at += header.batch_bytes;
    }
    return next;
}

/* Reads the partition from `from` to the high watermark into read_offsets; returns the
 * count. Every read below the high watermark must return something. */
static uint32_t
read_partition(struct fixture *fixture, struct sb_partition *partition,
               const struct compaction_model *model, int64_t from)
{
    uint32_t count = 0;
    int64_t offset = from;
    int64_t end = sb_partition_high_watermark(partition);
    while (offset < end) {
        uint32_t bytes = 0;
        cr_assert_eq(fixture_read(fixture, partition, offset, read_buffer, READ_BUFFER_BYTES,
                                  128u << 10, &bytes), 0, "offset %lld", (long long)offset);
        cr_assert_gt(bytes, 0, "nothing returned at offset %lld (end %lld)", (long long)offset,
                     (long long)end);
        int64_t next = check_read(model, read_buffer, offset, bytes, &count);
        cr_assert_gt(next, offset);
        offset = next;
    }
    return count;
}

/* The first record whose key does not fit a map of `keys_max` keys (the map covers what is
 * before it), or the log end. */
static int64_t
model_map_end(const struct compaction_model *model, uint32_t keys_max)
{
    static bool seen[KEY_SPACE];
    memset(seen, 0, sizeof(seen));
    uint32_t distinct = 0;
    for (uint32_t offset = 0; offset < model->count; offset++) {
        int32_t key = model->records[offset].key;
        if (key >= 0 && !seen[key]) {
            if (distinct == keys_max) {
                return offset;
            }
            seen[key] = true;
            distinct++;
        }
    }
    return model->count;
}

/* The partition against the model: exactly what it keeps (or, with !exact after a failure,
 * at least that, and nothing that was not appended). Also from offsets in the middle. A map
 * of keys_max keys (0: all fit) compacts only the segments before the first key that does
 * not fit. */
static void
check_partition_map(struct fixture *fixture, struct sb_partition *partition,
                    const struct compaction_model *model, bool exact, uint32_t keys_max)
{
    static int64_t bases[SEGMENTS_MAX];
    uint32_t copies = 0;
    uint32_t segments = list_segments(fixture, bases, &copies);
    cr_assert_eq(copies, 0, "a compaction copy was left behind");
    cr_assert_gt(segments, 0);
    int64_t at_ms = now_ms();
    int64_t prefix_end = model_prefix_end(model, bases, segments, at_ms);
    int64_t map_end = keys_max > 0 ? model_map_end(model, keys_max) : model->count;
    for (uint32_t segment = 0; segment < segments; segment++) {
        bool holds_map_end = bases[segment] <= map_end &&
                             (segment + 1 == segments || bases[segment + 1] > map_end);
        if (holds_map_end && map_end < model->count && bases[segment] < prefix_end) {
            prefix_end = bases[segment]; /* Not mapped whole: it and the rest stay. */
        }
    }
    uint32_t kept = model_expect(model, prefix_end, map_end, at_ms);
    cr_assert_eq(sb_partition_log_start_offset(partition), 0);
    cr_assert_eq(sb_partition_high_watermark(partition), (int64_t)model->count);
    uint32_t count = read_partition(fixture, partition, model, 0);
    uint32_t found = 0;
    for (uint32_t index = 0; index < count; index++) {
        found += expected_kept[read_offsets[index]];
    }
    cr_assert_eq(found, kept, "%u of the %u records the model keeps were read", found, kept);
    if (!exact) {
        return;
    }
    cr_assert_eq(count, kept, "read %u records, the model keeps %u", count, kept);
    for (int64_t from = 1; from < (int64_t)model->count; from += 1 + model->count / 7) {
        uint32_t tail = read_partition(fixture, partition, model, from);
        uint32_t expected = 0;
        for (int64_t offset = from; offset < (int64_t)model->count; offset++) {
            expected += expected_kept[offset];
        }
        cr_assert_eq(tail, expected, "resuming at %lld", (long long)from);
    }
}

static void
check_partition(struct fixture *fixture, struct sb_partition *partition,
                const struct compaction_model *model, bool exact)
{
    check_partition_map(fixture, partition, model, exact, 0);
}

/* Recovery asks for the partition's configuration. */
static int
compaction_lookup(void *context, uint32_t topic_id, uint32_t partition,
                  struct sb_partition_config *config_out)
{
    (void)context;
    cr_assert_eq(topic_id, TOPIC);
    cr_assert_eq(partition, 0);
    *config_out = model_state.config;
    return 0;
}

static struct sb_partition *
compaction_setup_keys(struct fixture *fixture, struct compaction_model *model, uint64_t sim_seed,
                      uint32_t keys_max)
{
    sb_log_set_level(SB_LOG_WARN);
    fixture_init(fixture, sim_seed);
    fixture->config.compaction_keys_max = keys_max;
    fixture->config.flush_interval_ns = 1;
    fixture->config.retention_check_interval_ns = 1;
    fixture->config.lookup = compaction_lookup;
    memset(model, 0, sizeof(*model));
    model->unique_next = KEYS;
    model->random = sim_seed + 77;
    sb_partition_config_default(&model->config);
    model->config.segment_bytes = SEGMENT_BYTES;
    model->config.cleanup = SB_CLEANUP_COMPACT;
    model->config.delete_retention_ms = HOUR_MS;
    cr_assert_eq(fixture_open(fixture), 0);
    struct sb_partition *partition;
    cr_assert_eq(sb_store_partition_open(fixture->store, TOPIC, 0, &model->config, &partition),
                 0);
    return partition;
}

static struct sb_partition *
compaction_setup(struct fixture *fixture, struct compaction_model *model, uint64_t sim_seed)
{
    return compaction_setup_keys(fixture, model, sim_seed, 0);
}

static struct sb_store_stats
store_stats(const struct fixture *fixture)
{
    struct sb_store_stats stats;
    sb_store_stats(fixture->store, &stats);
    return stats;
}

/* Settles, asks for a pass (a configuration change) and waits until one ends. Returns true if
 * it finished, false if it failed. */
static bool
compact_now(struct fixture *fixture, struct sb_partition *partition,
            const struct compaction_model *model)
{
    fixture_settle(fixture);
    struct sb_store_stats before = store_stats(fixture);
    sb_partition_set_config(partition, &model->config);
    for (uint32_t step = 0; step < STEPS_MAX; step++) {
        fixture_step(fixture, SB_NS_PER_MS);
        struct sb_store_stats now = store_stats(fixture);
        if (now.compactions != before.compactions ||
            now.compaction_failures != before.compaction_failures) {
            fixture_settle(fixture);
            return now.compactions != before.compactions;
        }
    }
    cr_assert_fail("no compaction pass ended");
    return false;
}

static struct sb_partition *
reopen(struct fixture *fixture, const struct compaction_model *model, bool crash)
{
    if (crash) {
        fixture_crash(fixture);
    } else {
        fixture_close(fixture);
    }
    cr_assert_eq(fixture_open(fixture), 0);
    struct sb_partition *partition = sb_store_partition_find(fixture->store, TOPIC, 0);
    cr_assert_not_null(partition);
    cr_assert_eq(sb_partition_high_watermark(partition), (int64_t)model->count);
    return partition;
}

Test(compaction, keeps_the_latest_record_per_key_at_its_offset, .timeout = 300)
{
    struct fixture *fixture = &fixture_state;
    struct compaction_model *model = &model_state;
    struct sb_partition *partition = compaction_setup(fixture, model, 0);
    struct workload workload = {.batches = 500, .tombstone_pct = 12, .null_key_pct = 5,
                                .old_pct = 50};
    model_append(fixture, partition, model, &workload);
    cr_assert(compact_now(fixture, partition, model));
    struct sb_store_stats stats = store_stats(fixture);
    cr_assert_gt(stats.compacted_segments, 0);
    cr_assert_gt(stats.compaction_records_removed, 0);
    cr_assert_eq(stats.compaction_failures, 0);
    cr_assert_eq(stats.corrupt_reads, 0);
    check_partition(fixture, partition, model, true);
    /* A pass with nothing left to remove rewrites nothing. */
    cr_assert(compact_now(fixture, partition, model));
    cr_assert_eq(store_stats(fixture).compacted_segments, stats.compacted_segments);
    partition = reopen(fixture, model, false);
    check_partition(fixture, partition, model, true);
    partition = reopen(fixture, model, true);
    check_partition(fixture, partition, model, true);
    workload.batches = 200;
    model_append(fixture, partition, model, &workload);
    cr_assert(compact_now(fixture, partition, model));
    check_partition(fixture, partition, model, true);
    fixture_close(fixture);
    fixture_destroy(fixture);
}

Test(compaction, rewrites_compressed_batches, .timeout = 300)
{
    struct fixture *fixture = &fixture_state;
    struct compaction_model *model = &model_state;
    struct sb_partition *partition = compaction_setup(fixture, model, 0);
    struct workload workload = {.batches = 600, .tombstone_pct = 10, .null_key_pct = 5,
                                .old_pct = 50, .compress = true};
    model_append(fixture, partition, model, &workload);
    cr_assert(compact_now(fixture, partition, model));
    cr_assert_gt(store_stats(fixture).compaction_records_removed, 0);
    recompressed_batches = 0;
    check_partition(fixture, partition, model, true);
    cr_assert_gt(recompressed_batches, 0, "runs too large to store uncompressed");
    partition = reopen(fixture, model, false);
    check_partition(fixture, partition, model, true);
    fixture_close(fixture);
    fixture_destroy(fixture);
}

Test(compaction, leaves_segments_younger_than_the_lag, .timeout = 300)
{
    struct fixture *fixture = &fixture_state;
    struct compaction_model *model = &model_state;
    struct sb_partition *partition = compaction_setup(fixture, model, 0);
    model->config.min_compaction_lag_ms = HOUR_MS;
    sb_partition_set_config(partition, &model->config);
    struct workload workload = {.batches = 500, .tombstone_pct = 10, .old_first = true};
    model_append(fixture, partition, model, &workload);
    cr_assert(compact_now(fixture, partition, model));
    check_partition(fixture, partition, model, true);
    /* The young half is untouched: everything from the first young record's segment on. */
    static int64_t bases[SEGMENTS_MAX];
    uint32_t copies = 0;
    uint32_t segments = list_segments(fixture, bases, &copies);
    int64_t prefix_end = model_prefix_end(model, bases, segments, now_ms());
    cr_assert_gt(prefix_end, 0);
    cr_assert_lt(prefix_end, bases[segments - 1]);
    for (int64_t offset = prefix_end; offset < (int64_t)model->count; offset++) {
        cr_assert(expected_kept[offset]);
    }
    /* Without the lag, the rest is compacted too; segments left empty are deleted (but the
     * oldest), and reads step over their offsets, also after a crash. */
    model->config.min_compaction_lag_ms = 0;
    cr_assert(compact_now(fixture, partition, model));
    check_partition(fixture, partition, model, true);
    cr_assert_lt(list_segments(fixture, bases, &copies), segments);
    partition = reopen(fixture, model, true);
    check_partition(fixture, partition, model, true);
    fixture_close(fixture);
    fixture_destroy(fixture);
}

Test(compaction, compacts_the_prefix_whose_keys_fit_the_map, .timeout = 300)
{
    struct fixture *fixture = &fixture_state;
    struct compaction_model *model = &model_state;
    struct sb_partition *partition = compaction_setup_keys(fixture, model, 0, 6);
    /* Appended while compaction is off, so one pass decides everything. */
    model->config.cleanup = SB_CLEANUP_DELETE;
    model->config.retention_ms = -1;
    sb_partition_set_config(partition, &model->config);
    struct workload workload = {.batches = 500, .tombstone_pct = 10, .null_key_pct = 5,
                                .old_pct = 50, .narrow_keys = 5};
    model_append(fixture, partition, model, &workload);
    model->config.cleanup = SB_CLEANUP_COMPACT;
    cr_assert(compact_now(fixture, partition, model));
    cr_assert_gt(store_stats(fixture).compaction_records_removed, 0);
    check_partition_map(fixture, partition, model, true, 6);
    fixture_close(fixture);
    fixture_destroy(fixture);
}

/* Appends with compaction off (policy delete, no limits) in a simulated world. */
static struct sb_partition *
fault_setup(struct fixture *fixture, struct compaction_model *model, uint64_t seed)
{
    struct sb_partition *partition = compaction_setup(fixture, model, seed);
    model->config.cleanup = SB_CLEANUP_DELETE;
    model->config.retention_ms = -1;
    sb_partition_set_config(partition, &model->config);
    struct workload workload = {.batches = 160, .tombstone_pct = 15, .null_key_pct = 5,
                                .old_pct = 70};
    model_append(fixture, partition, model, &workload);
    fixture_settle(fixture);
    model->config.cleanup = SB_CLEANUP_COMPACT;
    return partition;
}

/* One pass over fresh data with the nth op of `kind` failing with `error`. Returns false if
 * the pass had fewer such ops (it finished; the fault is left armed and the run ends). */
static bool
fault_run(uint64_t seed, enum sb_io_op_kind kind, int32_t error, uint32_t nth)
{
    struct fixture *fixture = &fixture_state;
    struct compaction_model *model = &model_state;
    struct sb_partition *partition = fault_setup(fixture, model, seed);
    struct sb_sim_fault_once fault = {.kind = kind, .nth = nth, .error = error};
    cr_assert_eq(sb_sim_fault_once(fixture->sim, &fault), 0);
    bool fired = !compact_now(fixture, partition, model);
    /* The pass fails exactly when the fault hit it: an error it swallowed would show as a
     * finished pass with the fault used up. */
    cr_assert_eq(sb_sim_faults_once_armed(fixture->sim), fired ? 0 : 1,
                 "kind %d nth %u: pass %s", (int)kind, nth, fired ? "failed" : "finished");
    if (fired) {
        check_partition(fixture, partition, model, false);
        cr_assert(compact_now(fixture, partition, model), "the pass after the failure");
        check_partition(fixture, partition, model, true);
        partition = reopen(fixture, model, true);
        check_partition(fixture, partition, model, true);
    }
    fixture_crash(fixture);
    fixture_destroy(fixture);
    return fired;
}

Test(compaction, a_failed_write_fsync_or_read_leaves_the_partition_correct, .timeout = 600)
{
    static const enum sb_io_op_kind kinds[] = {SB_IO_OP_WRITE, SB_IO_OP_FSYNC, SB_IO_OP_READ};
    for (uint32_t kind = 0; kind < SB_ARRAY_COUNT(kinds); kind++) {
        uint32_t nth = 1;
        for (; nth < 1000; nth++) {
            int32_t error = kinds[kind] == SB_IO_OP_WRITE && nth % 2 == 0 ? -ENOSPC : -EIO;
            if (!fault_run(40 + nth, kinds[kind], error, nth)) {
                break;
            }
        }
        cr_log_info("kind %u: a pass failed on each of its first %u ops", kind, nth - 1);
        cr_assert_gt(nth, 2, "a pass makes several ops of kind %u", kind);
        cr_assert_lt(nth, 1000);
    }
}

Test(compaction, power_loss_during_a_pass_leaves_a_copy_recovery_deletes, .timeout = 300)
{
    struct fixture *fixture = &fixture_state;
    struct compaction_model *model = &model_state;
    for (uint64_t rewritten = 0; rewritten < 3; rewritten++) {
        struct sb_partition *partition = fault_setup(fixture, model, 90 + rewritten);
        sb_partition_set_config(partition, &model->config);
        static int64_t bases[SEGMENTS_MAX];
        uint32_t copies = 0;
        for (uint32_t step = 0; step < STEPS_MAX; step++) {
            fixture_step(fixture, SB_NS_PER_MS);
            list_segments(fixture, bases, &copies);
            if (copies > 0 && store_stats(fixture).compacted_segments >= rewritten) {
                break;
            }
        }
        cr_assert_eq(copies, 1, "a copy is being written");
        fixture_power_loss(fixture, SB_SIM_LOSE_UNSYNCED);
        cr_assert_eq(fixture_open(fixture), 0);
        cr_assert_eq(store_stats(fixture).recovery_corruptions, 0);
        partition = sb_store_partition_find(fixture->store, TOPIC, 0);
        cr_assert_not_null(partition);
        check_partition(fixture, partition, model, false);
        cr_assert(compact_now(fixture, partition, model));
        check_partition(fixture, partition, model, true);
        fixture_close(fixture);
        fixture_destroy(fixture);
    }
}

/* A read kept in flight while a pass runs. */
struct concurrent_read {
    struct sb_read read;         /* The read. */
    bool in_flight;              /* Started and not finished. */
    uint64_t compacted_at_start; /* Segments compacted when it started. */
    uint8_t buffer[96u << 10];   /* Its destination. */
};

static struct concurrent_read concurrent_reads[4];

static void
concurrent_read_done(struct sb_read *read)
{
    ((struct concurrent_read *)read->context)->in_flight = false;
}

/* Checks a finished read: what it returned was appended there. */
static void
concurrent_read_check(const struct compaction_model *model, const struct concurrent_read *slot)
{
    cr_assert_eq(slot->read.result, 0);
    cr_assert_gt(slot->read.bytes, 0, "offset %lld", (long long)slot->read.offset);
    uint32_t count = 0;
    check_read(model, slot->buffer, slot->read.offset, slot->read.bytes, &count);
}

/* Starts a read of the segment being copied once its copy is written (its fdatasync is in
 * flight, and the swap follows), unless one was started already. */
static void
concurrent_read_start(struct fixture *fixture, struct sb_partition *partition,
                      const struct compaction_model *model, struct concurrent_read *slot,
                      int64_t *last_base)
{
    static int64_t bases[SEGMENTS_MAX];
    uint32_t copies = 0;
    int64_t copy[2] = {-1, 0};
    list_segments_and_copies(fixture, bases, &copies, copy);
    if (copies == 0 || copy[1] == 0 || copy[0] == *last_base) {
        return;
    }
    *last_base = copy[0];
    slot->read = (struct sb_read){
        .offset = copy[0], .max_bytes = 32u << 10, .buffer = slot->buffer,
        .capacity = sizeof(slot->buffer), .callback = concurrent_read_done, .context = slot,
    };
    slot->compacted_at_start = store_stats(fixture).compacted_segments;
    slot->in_flight = true;
    int started = sb_partition_read(partition, &slot->read);
    cr_assert_geq(started, 0);
    if (started == 1) {
        slot->in_flight = false;
        concurrent_read_check(model, slot);
        slot->read.callback = NULL;
    }
}

Test(compaction, reads_in_flight_keep_the_segment_they_pinned, .timeout = 300)
{
    struct fixture *fixture = &fixture_state;
    struct compaction_model *model = &model_state;
    struct sb_partition *partition = fault_setup(fixture, model, 7);
    fixture->faults.disk_latency_max_ns = 5 * SB_NS_PER_MS;
    fixture_set_faults(fixture, NULL);
    uint64_t passes = store_stats(fixture).compactions;
    sb_partition_set_config(partition, &model->config);
    uint32_t across_swap = 0;
    int64_t last_base = -1;
    for (uint32_t step = 0; step < STEPS_MAX && store_stats(fixture).compactions == passes;
         step++) {
        for (uint32_t index = 0; index < SB_ARRAY_COUNT(concurrent_reads); index++) {
            if (!concurrent_reads[index].in_flight) {
                concurrent_read_start(fixture, partition, model, &concurrent_reads[index],
                                      &last_base);
            }
        }
        fixture_step(fixture, SB_NS_PER_MS);
        for (uint32_t index = 0; index < SB_ARRAY_COUNT(concurrent_reads); index++) {
            struct concurrent_read *slot = &concurrent_reads[index];
            if (!slot->in_flight && slot->read.callback != NULL) {
                concurrent_read_check(model, slot);
                /* It pinned the original, which the copy replaced before it finished. */
                across_swap += store_stats(fixture).compacted_segments !=
                               slot->compacted_at_start;
                slot->read.callback = NULL;
            }
        }
    }
    cr_assert_gt(store_stats(fixture).compacted_segments, 0);
    cr_assert_gt(across_swap, 0, "some reads of a segment ran across its swap");
    cr_assert_eq(store_stats(fixture).corrupt_reads, 0);
    for (uint32_t step = 0; step < STEPS_MAX; step++) {
        bool busy = false;
        for (uint32_t index = 0; index < SB_ARRAY_COUNT(concurrent_reads); index++) {
            busy = busy || concurrent_reads[index].in_flight;
        }
        if (!busy) {
            break;
        }
        fixture_step(fixture, SB_NS_PER_MS);
    }
    fixture_settle(fixture);
    check_partition(fixture, partition, model, true);
    fixture_close(fixture);
    fixture_destroy(fixture);
}
