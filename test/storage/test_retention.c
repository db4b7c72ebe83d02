/*
 * test/storage/test_retention.c - retention (cleanup policy delete) against a
 * reference model, with io_uring. The model packs each partition's batches
 * into segments the documented way (a segment takes batches while its data
 * stays within segment_bytes, and always at least one; every segment but the
 * newest is closed), then deletes closed segments oldest first while what
 * remains still holds retention_bytes, or while their newest record is older
 * than retention_ms; never the open one. The store must agree: the same
 * segment files on disk, the same log start offset, -ERANGE below it, every
 * batch from there on byte for byte, and all of it again after a clean
 * restart and after a crash.
 *
 * Retention runs on every loop iteration here (retention_check_interval_ns =
 * 1) and data is flushed as soon as it is durable (flush_interval_ns = 1).
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base.h"
#include "core/clock.h"
#include "core/log.h"
#include "proto/batch.h"
#include "test/storage/fixture.h"

#define TOPIC 13u
#define PARTITIONS 4u
#define BATCHES_MAX 512u
#define SEGMENT_BYTES (8u << 10)
#define HOUR_MS (3600ll * 1000)
#define BUFFER_BYTES (64u << 10)

struct retained_batch {
    int64_t base_offset;        /* Offset the store assigned. */
    uint32_t record_count;      /* Records. */
    uint32_t bytes;             /* Batch bytes. */
    int64_t first_timestamp_ms; /* Record i has first_timestamp_ms + i. */
    uint64_t tag;               /* Seed of keys and values. */
};

struct model_segment {
    int64_t base_offset;      /* Its first batch's base offset (the file name). */
    uint64_t bytes;           /* Batch bytes in it. */
    int64_t max_timestamp_ms; /* Newest record. */
    uint32_t first_batch;     /* Index of its first batch. */
};

struct retention_partition {
    struct sb_partition_config config;       /* Retention settings under test. */
    struct retained_batch batches[BATCHES_MAX]; /* Everything appended, in offset order. */
    uint32_t count;                          /* Batches appended. */
    uint32_t deleted;                        /* Model segments deleted (a prefix). */
};

static struct fixture fixture_state;
static struct retention_partition partitions_state[PARTITIONS];
static uint8_t batch_buffer[BUFFER_BYTES];
static uint8_t expected_buffer[BUFFER_BYTES];
static uint8_t read_buffer[BUFFER_BYTES];

static int64_t
now_ms(void)
{
    return (int64_t)(sb_clock_realtime_ns() / SB_NS_PER_MS);
}

static uint64_t
next_random(uint64_t *state)
{
    *state = *state * 6364136223846793005ull + 1442695040888963407ull;
    return *state >> 33;
}

/* Records "k<tag>-<i>" with values of a size drawn from the tag, timestamps first + i. */
static uint32_t
retention_batch_build(const struct retained_batch *batch, uint8_t *buffer)
{
    uint64_t state = batch->tag;
    struct sb_batch_builder builder;
    sb_batch_builder_init(&builder, buffer, BUFFER_BYTES, batch->first_timestamp_ms);
    for (uint32_t index = 0; index < batch->record_count; index++) {
        char key[40];
        char value[700];
        int key_length = snprintf(key, sizeof(key), "k%llx-%u", (unsigned long long)batch->tag,
                                  index);
        uint32_t value_length = (uint32_t)(next_random(&state) % sizeof(value));
        memset(value, 'a' + (int)(index % 26), value_length);
        struct sb_record record = {
            .key = key, .key_length = key_length, .value = value,
            .value_length = (int32_t)value_length,
            .timestamp_ms = batch->first_timestamp_ms + index,
        };
        cr_assert_eq(sb_batch_builder_add(&builder, &record), 0);
    }
    const uint8_t *bytes_out;
    uint32_t bytes;
    cr_assert_eq(sb_batch_builder_finish(&builder, SB_COMPRESSION_NONE, NULL, 0, &bytes_out,
                                         &bytes), 0);
    return bytes;
}

/* The documented packing: returns the model's segments of the partition. */
static uint32_t
model_segments(const struct retention_partition *model, struct model_segment *segments)
{
    uint32_t count = 0;
    for (uint32_t index = 0; index < model->count; index++) {
        const struct retained_batch *batch = &model->batches[index];
        struct model_segment *last = count > 0 ? &segments[count - 1] : NULL;
        if (last == NULL || last->bytes + batch->bytes > SEGMENT_BYTES) {
            last = &segments[count++];
            *last = (struct model_segment){.base_offset = batch->base_offset,
                                           .max_timestamp_ms = INT64_MIN, .first_batch = index};
        }
        last->bytes += batch->bytes;
        int64_t newest = batch->first_timestamp_ms + batch->record_count - 1;
        last->max_timestamp_ms = newest > last->max_timestamp_ms ? newest : last->max_timestamp_ms;
    }
    return count;
}

/* Deletes closed model segments, oldest first, while retention allows. */
static void
model_retention(struct retention_partition *model, int64_t at_ms)
{
    static struct model_segment segments[BATCHES_MAX];
    uint32_t count = model_segments(model, segments);
    const struct sb_partition_config *config = &model->config;
    uint64_t total = 0;
    for (uint32_t index = model->deleted; index < count; index++) {
        total += segments[index].bytes;
    }
    while (model->deleted + 1 < count) {
        const struct model_segment *oldest = &segments[model->deleted];
        bool by_bytes = config->retention_bytes >= 0 &&
                        total - oldest->bytes >= (uint64_t)config->retention_bytes;
        bool by_time = config->retention_ms >= 0 &&
                       oldest->max_timestamp_ms < at_ms - config->retention_ms;
        if (!by_bytes && !by_time) {
            break;
        }
        total -= oldest->bytes;
        model->deleted++;
    }
}

static int64_t
model_log_start(const struct retention_partition *model)
{
    static struct model_segment segments[BATCHES_MAX];
    model_segments(model, segments);
    return model->deleted > 0 ? segments[model->deleted].base_offset : 0;
}

static int
compare_offsets(const void *left, const void *right)
{
    int64_t a = *(const int64_t *)left;
    int64_t b = *(const int64_t *)right;
    return a < b ? -1 : a > b;
}

/* The base offsets of the partition's segment files, sorted. */
static uint32_t
list_segment_files(const struct fixture *fixture, uint32_t index, int64_t *offsets,
                   uint32_t capacity)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/partitions/%u-%u", fixture->data_dir, TOPIC, index);
    DIR *directory = opendir(path);
    cr_assert_not_null(directory, "%s", path);
    uint32_t count = 0;
    struct dirent *item;
    while ((item = readdir(directory)) != NULL) {
        size_t length = strlen(item->d_name);
        if (length > 4 && strcmp(item->d_name + length - 4, ".seg") == 0) {
            cr_assert_lt(count, capacity);
            offsets[count++] = strtoll(item->d_name, NULL, 10);
        }
    }
    closedir(directory);
    qsort(offsets, count, sizeof(offsets[0]), compare_offsets);
    return count;
}

/* The files on disk are exactly the model's segments that retention kept. */
static void
check_files(const struct fixture *fixture, uint32_t index,
            const struct retention_partition *model)
{
    static struct model_segment segments[BATCHES_MAX];
    static int64_t files[BATCHES_MAX];
    uint32_t count = model_segments(model, segments);
    uint32_t file_count = list_segment_files(fixture, index, files, BATCHES_MAX);
    cr_assert_eq(file_count, count - model->deleted, "partition %u: %u segment files, model "
                 "keeps %u of %u", index, file_count, count - model->deleted, count);
    for (uint32_t at = 0; at < file_count; at++) {
        cr_assert_eq(files[at], segments[model->deleted + at].base_offset,
                     "partition %u: segment file %u", index, at);
    }
}

/* Reads from the log start to the end: the model's batches, byte for byte. */
static void
check_reads(struct fixture *fixture, struct sb_partition *partition, uint32_t index,
            const struct retention_partition *model, int64_t log_start)
{
    uint32_t batch_index = 0;
    while (batch_index < model->count && model->batches[batch_index].base_offset < log_start) {
        batch_index++;
    }
    int64_t offset = log_start;
    int64_t end = sb_partition_high_watermark(partition);
    while (offset < end) {
        uint32_t bytes = 0;
        cr_assert_eq(fixture_read(fixture, partition, offset, read_buffer, BUFFER_BYTES, 16384,
                                  &bytes), 0, "partition %u offset %lld", index, (long long)offset);
        cr_assert_gt(bytes, 0);
        for (uint32_t at = 0; at < bytes; batch_index++) {
            cr_assert_lt(batch_index, model->count);
            const struct retained_batch *batch = &model->batches[batch_index];
            struct sb_batch_header header;
            cr_assert_eq(sb_batch_verify(read_buffer + at, bytes - at, BUFFER_BYTES, &header), 0);
            cr_assert_eq(header.base_offset, batch->base_offset, "partition %u", index);
            uint32_t expected = retention_batch_build(batch, expected_buffer);
            cr_assert_eq(header.batch_bytes, expected);
            cr_assert_eq(memcmp(read_buffer + at + SB_BATCH_OFFSET_FIRST_TIMESTAMP,
                                expected_buffer + SB_BATCH_OFFSET_FIRST_TIMESTAMP,
                                expected - SB_BATCH_OFFSET_FIRST_TIMESTAMP), 0);
            at += header.batch_bytes;
            offset += header.record_count;
        }
    }
    cr_assert_eq(batch_index, model->count, "partition %u: every kept batch read", index);
}

/* The store agrees with the model: log start, files, -ERANGE below, batches from there. */
static void
check_partition(struct fixture *fixture, uint32_t index, const struct retention_partition *model)
{
    struct sb_partition *partition = sb_store_partition_find(fixture->store, TOPIC, index);
    cr_assert_not_null(partition);
    int64_t log_start = model_log_start(model);
    cr_assert_eq(sb_partition_log_start_offset(partition), log_start, "partition %u: log start "
                 "%lld, model %lld", index, (long long)sb_partition_log_start_offset(partition),
                 (long long)log_start);
    check_files(fixture, index, model);
    uint32_t bytes = 0;
    if (log_start > 0) {
        cr_assert_eq(fixture_read(fixture, partition, log_start - 1, read_buffer, BUFFER_BYTES,
                                  BUFFER_BYTES, &bytes), -ERANGE, "partition %u", index);
        cr_assert_eq(fixture_read(fixture, partition, 0, read_buffer, BUFFER_BYTES,
                                  BUFFER_BYTES, &bytes), -ERANGE, "partition %u", index);
    }
    check_reads(fixture, partition, index, model, log_start);
}

/* Recovery asks the broker for each partition's configuration. */
static int
retention_lookup(void *context, uint32_t topic_id, uint32_t partition,
                 struct sb_partition_config *config_out)
{
    (void)context;
    cr_assert_eq(topic_id, TOPIC);
    cr_assert_lt(partition, PARTITIONS);
    *config_out = partitions_state[partition].config;
    return 0;
}

static void
retention_setup(struct fixture *fixture)
{
    fixture_init(fixture, 0);
    fixture->config.flush_interval_ns = 1;
    fixture->config.retention_check_interval_ns = 1;
    fixture->config.lookup = retention_lookup;
    memset(partitions_state, 0, sizeof(partitions_state));
    static const int64_t bytes_limit[PARTITIONS] = {20000, -1, 30000, -1};
    static const int64_t time_limit[PARTITIONS] = {-1, HOUR_MS, HOUR_MS, -1};
    for (uint32_t index = 0; index < PARTITIONS; index++) {
        struct sb_partition_config *config = &partitions_state[index].config;
        sb_partition_config_default(config);
        config->segment_bytes = SEGMENT_BYTES;
        config->retention_bytes = bytes_limit[index];
        config->retention_ms = time_limit[index];
    }
}

static void
retention_open_partitions(struct fixture *fixture)
{
    for (uint32_t index = 0; index < PARTITIONS; index++) {
        struct sb_partition *partition;
        cr_assert_eq(sb_store_partition_open(fixture->store, TOPIC, index,
                                             &partitions_state[index].config, &partition), 0);
    }
}

/* Appends `count` durable batches to each partition; `old_per_mille` of them carry record
 * timestamps three hours old, the rest are from the last minute. */
static void
retention_append(struct fixture *fixture, uint64_t *state, uint32_t count,
                 uint32_t old_per_mille)
{
    for (uint32_t round = 0; round < count; round++) {
        for (uint32_t index = 0; index < PARTITIONS; index++) {
            struct retention_partition *model = &partitions_state[index];
            cr_assert_lt(model->count, BATCHES_MAX);
            struct retained_batch *batch = &model->batches[model->count];
            bool old = next_random(state) % 1000 < old_per_mille;
            batch->record_count = 1 + (uint32_t)(next_random(state) % 10);
            batch->tag = next_random(state);
            batch->first_timestamp_ms = now_ms() - (old ? 3 * HOUR_MS : 0) -
                                        (int64_t)(next_random(state) % 60000);
            batch->bytes = retention_batch_build(batch, batch_buffer);
            struct sb_partition *partition = sb_store_partition_find(fixture->store, TOPIC,
                                                                     index);
            batch->base_offset = fixture_append_durable(fixture, partition, batch_buffer,
                                                        batch->bytes);
            cr_assert_geq(batch->base_offset, 0);
            model->count++;
        }
    }
}

/* Lets every flush finish, runs retention once more, and compares with the model. */
static void
retention_settle_and_check(struct fixture *fixture)
{
    fixture_settle(fixture);
    fixture_step(fixture, 0);
    int64_t at_ms = now_ms();
    for (uint32_t index = 0; index < PARTITIONS; index++) {
        model_retention(&partitions_state[index], at_ms);
        check_partition(fixture, index, &partitions_state[index]);
    }
}

static void
retention_check_all(struct fixture *fixture)
{
    for (uint32_t index = 0; index < PARTITIONS; index++) {
        check_partition(fixture, index, &partitions_state[index]);
    }
}

Test(retention, deletes_what_the_model_predicts_and_restarts_keep_the_log_start, .timeout = 120)
{
    sb_log_set_level(SB_LOG_WARN);
    struct fixture *fixture = &fixture_state;
    retention_setup(fixture);
    cr_assert_eq(fixture_open(fixture), 0);
    retention_open_partitions(fixture);
    uint64_t state = 2024;
    static const uint32_t old_per_mille[] = {1000, 700, 300, 0, 0};
    for (uint32_t round = 0; round < SB_ARRAY_COUNT(old_per_mille); round++) {
        retention_append(fixture, &state, 12, old_per_mille[round]);
        retention_settle_and_check(fixture);
    }
    cr_assert_gt(partitions_state[0].deleted, 0, "bytes retention deleted something");
    cr_assert_gt(partitions_state[1].deleted, 0, "time retention deleted something");
    cr_assert_eq(partitions_state[3].deleted, 0, "no retention, no deletion");
    /* Retention that runs when nothing is left to flush: only retention moves the log start
     * now, and the restart must still see it. */
    partitions_state[3].config.retention_bytes = 0;
    sb_partition_set_config(sb_store_partition_find(fixture->store, TOPIC, 3),
                            &partitions_state[3].config);
    retention_settle_and_check(fixture);
    cr_assert_gt(partitions_state[3].deleted, 0);
    fixture_close(fixture);
    cr_assert_eq(fixture_open(fixture), 0);
    retention_check_all(fixture);
    retention_open_partitions(fixture);
    retention_append(fixture, &state, 6, 0);
    retention_settle_and_check(fixture);
    fixture_crash(fixture);
    cr_assert_eq(fixture_open(fixture), 0);
    retention_check_all(fixture);
    fixture_close(fixture);
    fixture_destroy(fixture);
}

/* One retention pass deletes several unpinned segments: segment_delete frees each at once, so
 * nothing of it may be read afterwards. Under AddressSanitizer (slabs poison what is given
 * back) a read of a freed segment is reported; every build checks what the pass left. */
Test(retention, one_pass_deletes_several_segments_and_reads_none_it_freed, .timeout = 60)
{
    struct fixture fixture;
    fixture_init(&fixture, 0);
    cr_assert_eq(fixture_open(&fixture), 0);
    struct sb_partition_config config;
    sb_partition_config_default(&config);
    config.segment_bytes = SEGMENT_BYTES;
    config.retention_ms = -1;
    struct sb_partition *partition = NULL;
    cr_assert_eq(sb_store_partition_open(fixture.store, TOPIC, 0, &config, &partition), 0);
    int64_t old_ms = now_ms() - 8 * 24 * HOUR_MS;
    for (uint32_t index = 0; index < 12; index++) {
        uint32_t bytes = fixture_batch(batch_buffer, BUFFER_BYTES, 100, index, old_ms);
        cr_assert_eq(fixture_append_durable(&fixture, partition, batch_buffer, bytes),
                     (int64_t)index * 100);
    }
    fixture_close(&fixture);
    int64_t before[64];
    uint32_t count = list_segment_files(&fixture, 0, before, 64);
    cr_assert_geq(count, 4, "several closed segments and the open one");
    /* Reopened with the default retention (7 days): every closed segment has expired, and the
     * first iteration's retention pass deletes them all. */
    cr_assert_eq(fixture_open(&fixture), 0);
    fixture_step(&fixture, 0);
    partition = sb_store_partition_find(fixture.store, TOPIC, 0);
    cr_assert_not_null(partition);
    int64_t after[64];
    cr_assert_eq(list_segment_files(&fixture, 0, after, 64), 1, "only the open segment stays");
    cr_assert_eq(after[0], before[count - 1]);
    cr_assert_eq(sb_partition_log_start_offset(partition), before[count - 1]);
    fixture_close(&fixture);
    fixture_destroy(&fixture);
}
