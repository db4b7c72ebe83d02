/*
 * test/storage/test_partitions.c - many partitions on one shard, with
 * io_uring: 10,000 partitions (one segment file, so one open descriptor,
 * each; the test raises RLIMIT_NOFILE to its hard limit) each get one or two
 * batches, all become durable, a clean close flushes them into segments, and
 * a reopen reads every one back. Then dense offsets under interleaving: many
 * appends spread at random over partitions without waiting in between, read
 * back from memtable and segments, and again after a restart.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>
#include <sys/resource.h>

#include "core/clock.h"
#include "core/log.h"
#include "proto/batch.h"
#include "test/storage/fixture.h"
#include "test/storage/model.h"

#define MANY_PARTITIONS 10000u
#define MANY_TOPIC 11u
#define READ_BYTES (64u << 10)

static struct fixture fixture_state;
static struct sb_append appends[2 * MANY_PARTITIONS];
static uint8_t batch_buffer[MODEL_BATCH_BYTES_MAX];
static uint8_t expected_buffer[MODEL_BATCH_BYTES_MAX];
static uint8_t read_buffer[READ_BYTES];

static void
raise_descriptor_limit(uint64_t needed)
{
    struct rlimit limit;
    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &limit), 0);
    limit.rlim_cur = limit.rlim_max;
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &limit), 0);
    if (limit.rlim_cur < needed) {
        cr_skip_test("RLIMIT_NOFILE hard limit %llu is below the %llu descriptors needed",
                     (unsigned long long)limit.rlim_cur, (unsigned long long)needed);
    }
}

/* Partition p gets batch tag 2p (1 + p % 5 records) and, if p % 3 == 0, tag 2p + 1. */
static uint32_t
many_batches(uint32_t index)
{
    return index % 3 == 0 ? 2 : 1;
}

static uint32_t
many_records(uint32_t index, uint32_t batch)
{
    return 1 + (index + batch) % 5;
}

static void
many_append_done(struct sb_append *append)
{
    cr_assert_eq(append->result, 0);
    (*(uint32_t *)append->context)++;
}

/* Appends every batch, stepping the loop now and then (and whenever the memtable is full),
 * then waits until all are durable. */
static void
many_append_all(struct fixture *fixture, struct sb_partition **partitions)
{
    static uint32_t durable;
    durable = 0;
    uint32_t appended = 0;
    for (uint32_t batch = 0; batch < 2; batch++) {
        for (uint32_t index = 0; index < MANY_PARTITIONS; index++) {
            if (batch >= many_batches(index)) {
                continue;
            }
            uint32_t bytes = model_batch_build(2ull * index + batch, many_records(index, batch),
                                               batch_buffer);
            int result;
            /* Bounded: the memtable drains as flushes complete. */
            while ((result = sb_partition_append(partitions[index], batch_buffer, bytes,
                                                 &appends[appended], many_append_done,
                                                 &durable)) == -ENOBUFS) {
                fixture_step(fixture, SB_NS_PER_MS);
            }
            cr_assert_eq(result, 0);
            cr_assert_eq(appends[appended].base_offset, batch == 0 ? 0 : many_records(index, 0));
            appended++;
            if (appended % 64 == 0) {
                fixture_step(fixture, 0);
            }
        }
    }
    for (uint32_t step = 0; step < 100000 && durable < appended; step++) {
        fixture_step(fixture, SB_NS_PER_MS);
    }
    cr_assert_eq(durable, appended, "every append became durable");
}

/* Reads partition `index` back: its batches, byte for byte, at dense offsets. */
static void
many_check(struct fixture *fixture, struct sb_partition *partition, uint32_t index)
{
    int64_t end = 0;
    for (uint32_t batch = 0; batch < many_batches(index); batch++) {
        end += many_records(index, batch);
    }
    cr_assert_eq(sb_partition_high_watermark(partition), end, "partition %u", index);
    uint32_t bytes = 0;
    cr_assert_eq(fixture_read(fixture, partition, 0, read_buffer, READ_BYTES, READ_BYTES,
                              &bytes), 0, "partition %u", index);
    uint32_t at = 0;
    int64_t offset = 0;
    for (uint32_t batch = 0; batch < many_batches(index); batch++) {
        struct sb_batch_header header;
        cr_assert_eq(sb_batch_verify(read_buffer + at, bytes - at, 1u << 20, &header), 0,
                     "partition %u batch %u", index, batch);
        cr_assert_eq(header.base_offset, offset, "partition %u: dense offsets", index);
        uint32_t expected = model_batch_build(2ull * index + batch, many_records(index, batch),
                                              expected_buffer);
        cr_assert_eq(header.batch_bytes, expected, "partition %u batch %u", index, batch);
        cr_assert_eq(memcmp(read_buffer + at + SB_BATCH_OFFSET_FIRST_TIMESTAMP,
                            expected_buffer + SB_BATCH_OFFSET_FIRST_TIMESTAMP,
                            expected - SB_BATCH_OFFSET_FIRST_TIMESTAMP), 0,
                     "partition %u batch %u: content", index, batch);
        at += header.batch_bytes;
        offset += header.record_count;
    }
    cr_assert_eq(at, bytes, "partition %u: nothing more", index);
}

Test(partitions, ten_thousand_partitions_on_one_shard, .timeout = 300)
{
    sb_log_set_level(SB_LOG_WARN);
    raise_descriptor_limit(MANY_PARTITIONS + 256);
    struct fixture *fixture = &fixture_state;
    fixture_init(fixture, 0);
    fixture->config.partitions_max = 16384;
    fixture->config.segments_max = 16384;
    fixture->config.memtable_bytes = 16 << 20;
    fixture->config.flush_concurrency = 16;
    cr_assert_eq(fixture_open(fixture), 0);
    static struct sb_partition *partitions[MANY_PARTITIONS];
    struct sb_partition_config config;
    sb_partition_config_default(&config);
    config.retention_ms = -1;
    for (uint32_t index = 0; index < MANY_PARTITIONS; index++) {
        cr_assert_eq(sb_store_partition_open(fixture->store, MANY_TOPIC, index, &config,
                                             &partitions[index]), 0, "partition %u", index);
    }
    many_append_all(fixture, partitions);
    fixture_close(fixture);
    cr_assert_eq(fixture_open(fixture), 0, "reopen with 10,000 segment files");
    for (uint32_t index = 0; index < MANY_PARTITIONS; index++) {
        struct sb_partition *partition = sb_store_partition_find(fixture->store, MANY_TOPIC,
                                                                 index);
        cr_assert_not_null(partition, "partition %u recovered", index);
        many_check(fixture, partition, index);
    }
    struct sb_store_stats stats;
    sb_store_stats(fixture->store, &stats);
    cr_assert_eq(stats.recovery_corruptions, 0);
    fixture_close(fixture);
    fixture_destroy(fixture);
}

static struct model interleave_model;

Test(partitions, offsets_stay_dense_under_interleaved_appends, .timeout = 300)
{
    struct fixture *fixture = &fixture_state;
    struct model *model = &interleave_model;
    fixture_init(fixture, 0);
    fixture->config.memtable_bytes = 1 << 20;
    fixture->config.batch_bytes_max = MODEL_BATCH_BYTES_MAX;
    struct sb_partition_config config;
    sb_partition_config_default(&config);
    config.segment_bytes = 64 << 10;
    config.retention_ms = -1;
    model_init(model, fixture, 0, 12, MODEL_PARTITIONS_MAX, &config);
    cr_assert_eq(fixture_open(fixture), 0);
    model_open_partitions(model);
    uint64_t state = 12345;
    for (uint32_t appended = 0; appended < 4000;) {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        uint32_t index = (uint32_t)(state >> 33) % MODEL_PARTITIONS_MAX;
        uint32_t record_count = 1 + (uint32_t)(state >> 20) % 20;
        int result = model_append(model, index, record_count, state);
        if (result == -ENOBUFS) {
            fixture_step(fixture, SB_NS_PER_MS); /* Back-pressure: let the flush catch up. */
            continue;
        }
        cr_assert_eq(result, 0);
        appended++;
        if ((state >> 40) % 8 == 0) {
            fixture_step(fixture, 0);
        }
    }
    for (uint32_t step = 0; step < 100000 && model_unacknowledged(model) > 0; step++) {
        fixture_step(fixture, SB_NS_PER_MS);
    }
    cr_assert_eq(model_unacknowledged(model), 0);
    struct sb_store_stats stats;
    sb_store_stats(fixture->store, &stats);
    cr_assert_gt(stats.flushes, 1, "part of it is in segments");
    model_check(model);
    fixture_close(fixture);
    model_reopen_and_check(model);
    fixture_close(fixture);
    fixture_destroy(fixture);
}
