/*
 * test/storage/test_producer.c - idempotent producers (storage/producer.c):
 * their state survives segment rolls and restarts (snapshots in the segment
 * header block, then the open segment and the WAL), a table of more producers
 * than the old fixed LRU keeps every one, idle producers expire by age, a full
 * table refuses newcomers with a retriable error, and an unknown producer must
 * start at sequence 0.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/error.h"
#include "proto/batch.h"
#include "test/storage/fixture.h"

#define BUFFER_BYTES (64u << 10)
#define TOPIC 12u

static uint8_t batch_buffer[BUFFER_BYTES];

static struct sb_partition *
partition_of(struct fixture *fixture, uint32_t index, uint64_t segment_bytes)
{
    struct sb_partition_config config;
    sb_partition_config_default(&config);
    config.segment_bytes = segment_bytes;
    struct sb_partition *partition = NULL;
    cr_assert_eq(sb_store_partition_open(fixture->store, TOPIC, index, &config, &partition),
                 0);
    return partition;
}

/* An idempotent batch of `count` records of producer `id` (`epoch`) from `sequence`. */
static uint32_t
producer_batch(int64_t id, int16_t epoch, int32_t sequence, uint32_t count)
{
    struct sb_batch_builder builder;
    int64_t now_ms = (int64_t)(sb_clock_realtime_ns() / SB_NS_PER_MS);
    sb_batch_builder_init(&builder, batch_buffer, BUFFER_BYTES, now_ms);
    sb_batch_builder_set_producer(&builder, id, epoch, sequence);
    for (uint32_t index = 0; index < count; index++) {
        char value[48];
        int length = snprintf(value, sizeof(value), "p%lld-s%d", (long long)id,
                              sequence + (int32_t)index);
        struct sb_record record = {.key = "k", .key_length = 1, .value = value,
                                   .value_length = length, .timestamp_ms = now_ms};
        cr_assert_eq(sb_batch_builder_add(&builder, &record), 0);
    }
    const uint8_t *batch;
    uint32_t bytes;
    cr_assert_eq(sb_batch_builder_finish(&builder, SB_COMPRESSION_NONE, NULL, 0, &batch, &bytes),
                 0);
    return bytes;
}

static void
append_done(struct sb_append *append)
{
    *(bool *)append->context = true;
}

/* Appends producer `id`'s batch and waits until durable: its base offset, or for a duplicate
 * (-EEXIST, also notified once durable) the original's offset through *duplicate_out, or the
 * error. */
static int64_t
producer_append(struct fixture *fixture, struct sb_partition *partition, int64_t id,
                int32_t sequence, uint32_t count, int64_t *duplicate_out)
{
    uint32_t bytes = producer_batch(id, 0, sequence, count);
    struct sb_append append;
    bool done = false;
    int result = sb_partition_append(partition, batch_buffer, bytes, &append, append_done,
                                     &done);
    if (result < 0 && result != -EEXIST) {
        return result;
    }
    cr_assert(fixture_run_until(fixture, &done, 100000), "append never became durable");
    if (result == -EEXIST) {
        cr_assert_eq(append.base_offset, sb_partition_duplicate_offset(partition));
        if (duplicate_out != NULL) {
            *duplicate_out = append.base_offset;
        }
        return -EEXIST;
    }
    return append.result < 0 ? append.result : append.base_offset;
}

/* Non-idempotent filler: enough 1 KiB-ish batches to roll small segments a few times. */
static void
append_filler(struct fixture *fixture, struct sb_partition *partition, uint32_t batches)
{
    for (uint32_t index = 0; index < batches; index++) {
        uint32_t bytes = fixture_batch(batch_buffer, BUFFER_BYTES, 16, index,
                                       (int64_t)(sb_clock_realtime_ns() / SB_NS_PER_MS));
        cr_assert_geq(fixture_append_durable(fixture, partition, batch_buffer, bytes), 0);
    }
}

static void
sleep_ms(long milliseconds)
{
    struct timespec pause = {.tv_sec = 0, .tv_nsec = milliseconds * 1000000l};
    nanosleep(&pause, NULL);
}

/* Defect 10: a retry of a producer's first batch, after segments rolled past it and the
 * broker restarted, is a duplicate answered with the original offset, not stored again. */
Test(producer, retry_after_roll_and_restart_is_duplicate)
{
    struct fixture fixture;
    fixture_init(&fixture, 1010);
    cr_assert_eq(fixture_open(&fixture), 0);
    struct sb_partition *partition = partition_of(&fixture, 0, 8 << 10);
    cr_assert_eq(producer_append(&fixture, partition, 7, 0, 3, NULL), 0);
    cr_assert_eq(producer_append(&fixture, partition, 7, 3, 2, NULL), 3);
    append_filler(&fixture, partition, 120);
    int64_t end = sb_partition_log_end_offset(partition);
    fixture_close(&fixture); /* Flushes: the producer's batches are now in closed segments. */
    cr_assert_eq(fixture_open(&fixture), 0);
    partition = partition_of(&fixture, 0, 8 << 10);
    int64_t original = -1;
    cr_assert_eq(producer_append(&fixture, partition, 7, 3, 2, &original), -EEXIST,
                 "the retried last batch was stored again");
    cr_assert_eq(original, 3);
    cr_assert_eq(producer_append(&fixture, partition, 7, 0, 3, &original), -EEXIST,
                 "the retried first batch was stored again");
    cr_assert_eq(original, 0);
    cr_assert_eq(producer_append(&fixture, partition, 7, 9, 1, NULL), -EILSEQ);
    cr_assert_eq(producer_append(&fixture, partition, 7, 5, 1, NULL), end);
    /* Once more after a crash (no clean close): the WAL and the snapshot together. */
    append_filler(&fixture, partition, 60);
    fixture_crash(&fixture);
    cr_assert_eq(fixture_open(&fixture), 0);
    partition = partition_of(&fixture, 0, 8 << 10);
    cr_assert_eq(producer_append(&fixture, partition, 7, 5, 1, &original), -EEXIST);
    cr_assert_eq(original, end);
    cr_assert_eq(producer_append(&fixture, partition, 7, 0, 3, &original), -EEXIST);
    cr_assert_eq(original, 0);
    fixture_close(&fixture);
    fixture_destroy(&fixture);
}

/* Defect 10: twenty producers on one partition, each retrying its last batch (live, after a
 * roll and a restart): every retry is a duplicate, none is stored again. */
Test(producer, twenty_producers_retry_their_last_batch)
{
    struct fixture fixture;
    fixture_init(&fixture, 1020);
    cr_assert_eq(fixture_open(&fixture), 0);
    struct sb_partition *partition = partition_of(&fixture, 1, 8 << 10);
    enum { PRODUCERS = 20, ROUNDS = 3 };
    int64_t last_offset[PRODUCERS];
    for (int32_t round = 0; round < ROUNDS; round++) {
        for (int64_t id = 0; id < PRODUCERS; id++) {
            last_offset[id] = producer_append(&fixture, partition, 100 + id, round * 2, 2, NULL);
            cr_assert_geq(last_offset[id], 0);
        }
    }
    for (uint32_t pass = 0; pass < 2; pass++) {
        for (int64_t id = 0; id < PRODUCERS; id++) {
            int64_t original = -1;
            cr_assert_eq(producer_append(&fixture, partition, 100 + id, (ROUNDS - 1) * 2, 2,
                                         &original), -EEXIST,
                         "producer %lld (pass %u) forgotten", (long long)id, pass);
            cr_assert_eq(original, last_offset[id]);
        }
        append_filler(&fixture, partition, 40);
        fixture_close(&fixture);
        cr_assert_eq(fixture_open(&fixture), 0);
        partition = partition_of(&fixture, 1, 8 << 10);
    }
    fixture_close(&fixture);
    fixture_destroy(&fixture);
}

/* Defect 10: an unknown producer must start at sequence 0 (UNKNOWN_PRODUCER_ID otherwise), and
 * so must a new epoch of a known one (OUT_OF_ORDER_SEQUENCE). */
Test(producer, unknown_producer_must_start_at_zero)
{
    struct fixture fixture;
    fixture_init(&fixture, 1030);
    cr_assert_eq(fixture_open(&fixture), 0);
    struct sb_partition *partition = partition_of(&fixture, 2, 1 << 20);
    cr_assert_eq(producer_append(&fixture, partition, 55, 4, 1, NULL), -ESRCH);
    cr_assert_eq(sb_partition_log_end_offset(partition), 0, "nothing stored");
    cr_assert_eq(producer_append(&fixture, partition, 55, 0, 1, NULL), 0);
    uint32_t bytes = producer_batch(55, 1, 1, 1);
    cr_assert_eq(sb_partition_append(partition, batch_buffer, bytes, NULL, NULL, NULL),
                 -EILSEQ);
    fixture_close(&fixture);
    fixture_destroy(&fixture);
}

/* Defect 10: producers idle longer than producer_expiration_ms are forgotten; a full table
 * refuses a newcomer (SB_EFULL, retriable) while every member is younger than that. */
Test(producer, eviction_by_age)
{
    struct fixture fixture;
    fixture_init(&fixture, 0);
    fixture.config.producer_expiration_ms = 300;
    cr_assert_eq(fixture_open(&fixture), 0);
    struct sb_partition *partition = partition_of(&fixture, 3, 1 << 20);
    for (int64_t id = 0; id < SB_STORE_PRODUCERS_PER_PARTITION; id++) {
        cr_assert_geq(producer_append(&fixture, partition, 200 + id, 0, 1, NULL), 0);
    }
    cr_assert_eq(producer_append(&fixture, partition, 999, 0, 1, NULL), SB_EFULL,
                 "a live producer was evicted for a newcomer");
    int64_t original = -1;
    cr_assert_eq(producer_append(&fixture, partition, 200, 0, 1, &original), -EEXIST);
    sleep_ms(400);
    cr_assert_geq(producer_append(&fixture, partition, 999, 0, 1, NULL), 0);
    /* Producer 200 expired: its continuation is refused as unknown, not taken blindly. */
    cr_assert_eq(producer_append(&fixture, partition, 200, 1, 1, NULL), -ESRCH);
    fixture_close(&fixture);
    /* Expired producers are not brought back by recovery either. */
    sleep_ms(400);
    cr_assert_eq(fixture_open(&fixture), 0);
    partition = partition_of(&fixture, 3, 1 << 20);
    cr_assert_eq(producer_append(&fixture, partition, 999, 1, 1, NULL), -ESRCH);
    fixture_close(&fixture);
    fixture_destroy(&fixture);
}
