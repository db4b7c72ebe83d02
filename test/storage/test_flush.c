/*
 * test/storage/test_flush.c - the flush (storage/flush.c) under the
 * simulator: a partition dropped (the store call DeleteTopics makes) at every
 * moment of a flush round, before it, during its tail-block read, data
 * writes, fdatasync and directory sync, and after it, never trips an
 * assertion, its files are deleted (also when the round fails with it still
 * queued: one writer and an injected write error), and every other partition
 * keeps every batch, before and after a restart.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "proto/batch.h"
#include "test/storage/fixture.h"

#define TOPIC 21u
#define PARTITIONS 4u
#define DROPPED 1u
#define BATCHES_PER_PHASE 3u
#define RECORDS_PER_BATCH 5u
/* Steps (about one simulated I/O event each) the drop is delayed by after the second
 * phase of appends: from before the flush round starts until after it ends. */
#define DROP_MOMENTS 90u
#define READ_BYTES (64u << 10)

static uint8_t batch_buffer[64u << 10];
static uint8_t read_buffer[READ_BYTES];

static struct sb_partition *
partition_of(struct fixture *fixture, uint32_t index)
{
    struct sb_partition_config config;
    sb_partition_config_default(&config);
    config.segment_bytes = 6 << 10; /* Rolls every few batches. */
    struct sb_partition *partition = NULL;
    cr_assert_eq(sb_store_partition_open(fixture->store, TOPIC, index, &config, &partition),
                 0);
    return partition;
}

static void
append_phase(struct fixture *fixture, struct sb_partition **partitions, uint32_t phase)
{
    for (uint32_t batch = 0; batch < BATCHES_PER_PHASE; batch++) {
        for (uint32_t index = 0; index < PARTITIONS; index++) {
            if (partitions[index] == NULL) {
                continue;
            }
            uint32_t bytes = fixture_batch(batch_buffer, sizeof(batch_buffer),
                                           RECORDS_PER_BATCH, phase * 100 + batch,
                                           (int64_t)(sb_clock_realtime_ns() / SB_NS_PER_MS));
            cr_assert_geq(fixture_append_durable(fixture, partitions[index], batch_buffer,
                                                 bytes), 0);
        }
    }
}

/* Every record of the partition reads back, in dense whole batches. */
static void
check_partition(struct fixture *fixture, struct sb_partition *partition, int64_t records)
{
    cr_assert_eq(sb_partition_high_watermark(partition), records);
    cr_assert_not(sb_partition_fenced(partition, NULL));
    int64_t offset = 0;
    /* Bounded: every read returns at least one batch or the test fails. */
    while (offset < records) {
        uint32_t bytes = 0;
        cr_assert_eq(fixture_read(fixture, partition, offset, read_buffer, READ_BYTES,
                                  READ_BYTES, &bytes), 0);
        cr_assert_gt(bytes, 0);
        for (uint32_t at = 0; at < bytes;) {
            struct sb_batch_header header;
            cr_assert_eq(sb_batch_verify(read_buffer + at, bytes - at, 1 << 20, &header), 0);
            cr_assert_eq(header.base_offset, offset);
            offset += header.record_count;
            at += header.batch_bytes;
        }
    }
}

static void
check_survivors(struct fixture *fixture, int64_t records)
{
    for (uint32_t index = 0; index < PARTITIONS; index++) {
        if (index != DROPPED) {
            check_partition(fixture, partition_of(fixture, index), records);
        }
    }
}

static void
drop_at_moment(uint32_t moment)
{
    struct fixture fixture;
    fixture_init(&fixture, 3000 + moment);
    fixture.config.flush_interval_ns = 20 * SB_NS_PER_MS;
    bool failing = moment % 2 == 1; /* One writer, and the next write fails at the drop. */
    if (failing) {
        fixture.config.flush_concurrency = 1;
    }
    cr_assert_eq(fixture_open(&fixture), 0);
    struct sb_partition *partitions[PARTITIONS];
    for (uint32_t index = 0; index < PARTITIONS; index++) {
        partitions[index] = partition_of(&fixture, index);
    }
    append_phase(&fixture, partitions, 0);
    struct sb_store_stats stats;
    sb_store_stats(fixture.store, &stats);
    uint64_t flushes = stats.flushes;
    /* Bounded: the interval flush comes within a few hundred simulated milliseconds. */
    for (uint32_t step = 0; step < 100000 && stats.flushes == flushes; step++) {
        fixture_step(&fixture, SB_NS_PER_MS);
        sb_store_stats(fixture.store, &stats);
    }
    cr_assert_gt(stats.flushes, flushes, "the first flush round never ran");
    /* The next round appends after partial tail blocks (read back from the segment). */
    append_phase(&fixture, partitions, 1);
    for (uint32_t step = 0; step < moment; step++) {
        fixture_step(&fixture, SB_NS_PER_MS);
    }
    if (failing) {
        struct sb_sim_fault_once fault = {.kind = SB_IO_OP_WRITE, .nth = 1, .error = -EIO};
        cr_assert_eq(sb_sim_fault_once(fixture.sim, &fault), 0);
    }
    cr_assert_eq(sb_store_partition_drop(fixture.store, partitions[DROPPED]), 0);
    partitions[DROPPED] = NULL;
    fixture_settle(&fixture);
    char path[256];
    snprintf(path, sizeof(path), "%s/partitions/%u-%u", fixture.data_dir, TOPIC, DROPPED);
    cr_assert_neq(access(path, F_OK), 0, "moment %u: the dropped partition's files are left",
                  moment);
    int64_t records = 2 * BATCHES_PER_PHASE * RECORDS_PER_BATCH;
    check_survivors(&fixture, records);
    append_phase(&fixture, partitions, 2);
    records += BATCHES_PER_PHASE * RECORDS_PER_BATCH;
    fixture_close(&fixture);
    cr_assert_eq(fixture_open(&fixture), 0);
    cr_assert_null(sb_store_partition_find(fixture.store, TOPIC, DROPPED));
    check_survivors(&fixture, records);
    fixture_close(&fixture);
    fixture_destroy(&fixture);
}

/* Defect 3: dropping a partition while its flush is in flight (every moment of a round). */
Test(flush, drop_partition_at_every_moment_of_a_flush, .timeout = 300)
{
    for (uint32_t moment = 0; moment < DROP_MOMENTS; moment++) {
        drop_at_moment(moment);
    }
}
