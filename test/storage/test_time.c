/*
 * test/storage/test_time.c - sb_partition_offset_for_time against a model of
 * every record's (offset, timestamp): the answer is the first offset below
 * the high watermark whose record timestamp is >= t, with that timestamp; or
 * the high watermark and -1 when there is none. Asked for every record's
 * timestamp and its neighbours (so between records inside a batch, where
 * record timestamps need not be in order), before everything and after
 * everything, with batches of every codec, while the data is in the memtable,
 * in closed and open segments after a restart, and split between both.
 * Batches not yet durable are never an answer. A log-append-time partition
 * answers by append time, whatever the producers' create times were.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "proto/batch.h"
#include "test/storage/fixture.h"

#define TOPIC 14u
#define BATCHES_MAX 64u
#define RECORDS_MAX 512u
#define BUFFER_BYTES (128u << 10)

struct timed_record {
    int64_t offset;       /* Its offset. */
    int64_t timestamp_ms; /* Its timestamp. */
};

static struct fixture fixture_state;
static struct timed_record records[RECORDS_MAX];
static uint32_t record_count;
static uint8_t build_buffer[BUFFER_BYTES];
static uint8_t scratch_buffer[BUFFER_BYTES];
static uint8_t lookup_buffer[BUFFER_BYTES];
static uint8_t read_buffer[BUFFER_BYTES];

static int64_t
now_ms(void)
{
    return (int64_t)(sb_clock_realtime_ns() / SB_NS_PER_MS);
}

/* Batch `index`: 1..8 records, codec index % 5, timestamps 100 ms apart between batches,
 * 10 ms apart inside; odd batches list their records newest first, every seventh batch lies
 * before its predecessors. Fills the record model; returns the batch (in build or scratch). */
static const uint8_t *
timed_batch(uint32_t index, int64_t base_ms, int64_t first_offset, uint32_t *bytes_out)
{
    uint32_t count = 1 + (index * 5) % 8;
    int64_t first_ms = base_ms + (int64_t)index * 100 - (index % 7 == 6 ? 350 : 0);
    struct sb_batch_builder builder;
    sb_batch_builder_init(&builder, build_buffer, BUFFER_BYTES, first_ms);
    for (uint32_t slot = 0; slot < count; slot++) {
        uint32_t step = index % 2 == 1 ? count - 1 - slot : slot;
        char value[64];
        int length = snprintf(value, sizeof(value), "batch-%u-record-%u", index, slot);
        struct sb_record record = {.key = "k", .key_length = 1, .value = value,
                                   .value_length = length,
                                   .timestamp_ms = first_ms + (int64_t)step * 10};
        cr_assert_eq(sb_batch_builder_add(&builder, &record), 0);
        cr_assert_lt(record_count, RECORDS_MAX);
        records[record_count++] = (struct timed_record){first_offset + slot,
                                                         record.timestamp_ms};
    }
    const uint8_t *batch;
    cr_assert_eq(sb_batch_builder_finish(&builder, (enum sb_compression)(index % 5),
                                         scratch_buffer, BUFFER_BYTES, &batch, bytes_out), 0);
    return batch;
}

static void
lookup_done(struct sb_time_lookup *lookup)
{
    *(bool *)lookup->context = true;
}

/* Runs a lookup to its end; returns its result. */
static int
lookup_run(struct fixture *fixture, struct sb_partition *partition, int64_t timestamp_ms,
           int64_t *offset_out, int64_t *found_out, bool *synchronous_out)
{
    bool done = false;
    struct sb_time_lookup lookup = {.timestamp_ms = timestamp_ms, .callback = lookup_done,
                                    .context = &done, .buffer = lookup_buffer,
                                    .capacity = BUFFER_BYTES};
    int started = sb_partition_offset_for_time(partition, &lookup);
    if (started < 0) {
        return started;
    }
    *synchronous_out = started == 1;
    if (started == 0) {
        cr_assert(fixture_run_until(fixture, &done, 100000), "lookup never finished");
    }
    *offset_out = lookup.offset;
    *found_out = lookup.found_timestamp_ms;
    return lookup.result;
}

/* The model's answer: the first record below `end` with a timestamp >= t. */
static struct timed_record
model_answer(int64_t timestamp_ms, int64_t end)
{
    for (uint32_t index = 0; index < record_count; index++) {
        if (records[index].offset < end && records[index].timestamp_ms >= timestamp_ms) {
            return records[index];
        }
    }
    return (struct timed_record){end, -1};
}

static void
check_one(struct fixture *fixture, struct sb_partition *partition, int64_t timestamp_ms,
          const char *phase)
{
    int64_t end = sb_partition_high_watermark(partition);
    struct timed_record expected = model_answer(timestamp_ms, end);
    int64_t offset = -2;
    int64_t found = -2;
    bool synchronous;
    int result = lookup_run(fixture, partition, timestamp_ms, &offset, &found, &synchronous);
    cr_assert_eq(result, 0, "%s: t=%lld: result %d", phase, (long long)timestamp_ms, result);
    cr_assert_eq(offset, expected.offset, "%s: t=%lld: offset %lld, expected %lld", phase,
                 (long long)timestamp_ms, (long long)offset, (long long)expected.offset);
    cr_assert_eq(found, expected.timestamp_ms, "%s: t=%lld: found %lld, expected %lld", phase,
                 (long long)timestamp_ms, (long long)found, (long long)expected.timestamp_ms);
}

/* Every record's timestamp and its neighbours, before all and after all. */
static void
check_all(struct fixture *fixture, struct sb_partition *partition, int64_t base_ms,
          const char *phase)
{
    check_one(fixture, partition, 0, phase);
    check_one(fixture, partition, base_ms - 100000, phase);
    int64_t newest = INT64_MIN;
    for (uint32_t index = 0; index < record_count; index++) {
        int64_t timestamp_ms = records[index].timestamp_ms;
        check_one(fixture, partition, timestamp_ms - 1, phase);
        check_one(fixture, partition, timestamp_ms, phase);
        check_one(fixture, partition, timestamp_ms + 1, phase);
        newest = timestamp_ms > newest ? timestamp_ms : newest;
    }
    check_one(fixture, partition, newest + 1, phase);
    check_one(fixture, partition, INT64_MAX, phase);
}

static struct sb_partition *
time_partition(struct fixture *fixture, bool log_append_time)
{
    struct sb_partition_config config;
    sb_partition_config_default(&config);
    config.segment_bytes = 4096; /* Some batches per segment: several closed ones. */
    config.log_append_time = log_append_time;
    struct sb_partition *partition;
    cr_assert_eq(sb_store_partition_open(fixture->store, TOPIC, log_append_time ? 1 : 0,
                                         &config, &partition), 0);
    return partition;
}

static void
append_timed(struct fixture *fixture, struct sb_partition *partition, uint32_t first,
             uint32_t last, int64_t base_ms)
{
    for (uint32_t index = first; index < last; index++) {
        uint32_t bytes;
        const uint8_t *batch = timed_batch(index, base_ms, sb_partition_log_end_offset(partition),
                                           &bytes);
        cr_assert_geq(fixture_append_durable(fixture, partition, batch, bytes), 0);
    }
}

Test(time, offset_for_time_across_memtable_and_segments_with_every_codec, .timeout = 120)
{
    sb_log_set_level(SB_LOG_WARN);
    struct fixture *fixture = &fixture_state;
    fixture_init(fixture, 0);
    fixture->config.index_interval_bytes = 512; /* Several index entries per segment. */
    record_count = 0;
    int64_t base_ms = now_ms() - 24 * 3600 * 1000ll;
    cr_assert_eq(fixture_open(fixture), 0);
    struct sb_partition *partition = time_partition(fixture, false);
    append_timed(fixture, partition, 0, 24, base_ms);
    check_all(fixture, partition, base_ms, "memtable");
    fixture_close(fixture); /* Flushes everything into segments. */
    cr_assert_eq(fixture_open(fixture), 0);
    partition = time_partition(fixture, false);
    struct sb_store_stats stats;
    sb_store_stats(fixture->store, &stats);
    cr_assert_eq(stats.recovered_batches, 0, "all of it is in segments now");
    check_all(fixture, partition, base_ms, "segments");
    append_timed(fixture, partition, 24, 48, base_ms);
    check_all(fixture, partition, base_ms, "segments and memtable");
    /* A batch that is not durable yet (no loop iteration ran) is never the answer. */
    int64_t high_watermark = sb_partition_high_watermark(partition);
    uint32_t bytes;
    uint32_t saved_count = record_count;
    const uint8_t *batch = timed_batch(48, base_ms + 1000000, high_watermark, &bytes);
    record_count = saved_count;
    cr_assert_eq(sb_partition_append(partition, batch, bytes, NULL, NULL, NULL), 0);
    int64_t offset;
    int64_t found;
    bool synchronous;
    cr_assert_eq(lookup_run(fixture, partition, base_ms + 1000000, &offset, &found,
                            &synchronous), 0);
    cr_assert(synchronous);
    cr_assert_eq(offset, high_watermark, "not durable, not visible");
    cr_assert_eq(found, -1);
    check_all(fixture, partition, base_ms, "with a batch in flight");
    fixture_close(fixture);
    fixture_destroy(fixture);
}

/* The append time the store stamped on the batch at `offset`. */
static int64_t
stamped_time(struct fixture *fixture, struct sb_partition *partition, int64_t offset)
{
    uint32_t bytes = 0;
    cr_assert_eq(fixture_read(fixture, partition, offset, read_buffer, BUFFER_BYTES, 1, &bytes),
                 0);
    struct sb_batch_header header;
    cr_assert_eq(sb_batch_verify(read_buffer, bytes, BUFFER_BYTES, &header), 0);
    cr_assert(sb_batch_header_is_log_append_time(&header));
    return header.max_timestamp_ms;
}

Test(time, log_append_time_partition_answers_by_append_time)
{
    sb_log_set_level(SB_LOG_WARN);
    struct fixture *fixture = &fixture_state;
    fixture_init(fixture, 0);
    cr_assert_eq(fixture_open(fixture), 0);
    struct sb_partition *partition = time_partition(fixture, true);
    int64_t created_ms = now_ms() - 30 * 24 * 3600 * 1000ll; /* Producers' clocks: way off. */
    for (uint32_t index = 0; index < 12; index++) {
        record_count = 0;
        uint32_t bytes;
        const uint8_t *batch = timed_batch(index, created_ms, 0, &bytes);
        cr_assert_geq(fixture_append_durable(fixture, partition, batch, bytes), 0);
    }
    for (int restart = 0; restart < 2; restart++) {
        /* Model: every record of a batch carries the batch's append time. */
        record_count = 0;
        for (int64_t offset = 0; offset < sb_partition_high_watermark(partition);) {
            int64_t stamped = stamped_time(fixture, partition, offset);
            struct sb_batch_header header;
            sb_batch_header_decode(read_buffer, SB_BATCH_HEADER_BYTES, BUFFER_BYTES, &header);
            for (uint32_t slot = 0; slot < header.record_count; slot++) {
                records[record_count++] = (struct timed_record){offset + slot, stamped};
            }
            offset += header.record_count;
        }
        check_one(fixture, partition, created_ms, "create times are ignored");
        check_all(fixture, partition, created_ms, restart == 0 ? "memtable" : "segments");
        fixture_close(fixture);
        cr_assert_eq(fixture_open(fixture), 0);
        partition = time_partition(fixture, true);
    }
    fixture_close(fixture);
    fixture_destroy(fixture);
}
