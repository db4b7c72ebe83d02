/*
 * test/storage/test_store.c - the store's basic contract: appends get dense
 * offsets and become durable, reads return whole batches with keys, values,
 * headers and timestamps intact, from the memtable and from segments after a
 * flush, and everything survives a clean restart. A bad payload CRC is refused by
 * sb_partition_append (its callers trust nothing) and not hashed again by
 * sb_partition_append_verified (the broker checked it); both report the log-append time
 * they stamped.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "core/clock.h"
#include "core/error.h"
#include "proto/batch.h"
#include "test/storage/fixture.h"

#define BUFFER_BYTES (256u << 10)

static uint8_t batch_buffer[BUFFER_BYTES];
static uint8_t read_buffer[BUFFER_BYTES];

static int64_t
now_ms(void)
{
    return (int64_t)(sb_clock_realtime_ns() / SB_NS_PER_MS);
}

static struct sb_partition *
open_partition(struct fixture *fixture, uint32_t topic, uint32_t index)
{
    struct sb_partition_config config;
    sb_partition_config_default(&config);
    config.segment_bytes = 64 << 10;
    struct sb_partition *partition = NULL;
    cr_assert_eq(sb_store_partition_open(fixture->store, topic, index, &config, &partition), 0);
    return partition;
}

/* Checks that `bytes` of read_buffer hold whole batches with dense offsets from `offset`, each
 * record as fixture_batch made it with `count` records; returns the next offset. */
static int64_t
check_batches(const uint8_t *buffer, uint32_t bytes, int64_t offset, uint32_t count)
{
    uint32_t at = 0;
    while (at < bytes) {
        struct sb_batch_header header;
        cr_assert_eq(sb_batch_verify(buffer + at, bytes - at, 1 << 20, &header), 0);
        cr_assert_eq(header.base_offset, offset, "dense offsets");
        cr_assert_eq(header.record_count, count);
        struct sb_record_iter iterator;
        sb_record_iter_init(&iterator, &header, buffer + at + SB_BATCH_HEADER_BYTES,
                            header.records_bytes);
        struct sb_record_view record;
        uint32_t index = 0;
        while (sb_record_iter_next(&iterator, &record) == 1) {
            char key[32];
            int length = snprintf(key, sizeof(key), "key-%u", index);
            cr_assert_eq(record.key_length, length);
            cr_assert_eq(memcmp(record.key, key, (size_t)length), 0);
            cr_assert_eq(record.offset, offset + index);
            cr_assert_eq(record.header_count, 1);
            index++;
        }
        cr_assert_eq(index, count);
        offset += count;
        at += header.batch_bytes;
    }
    return offset;
}

Test(store, append_read_round_trip_from_memtable)
{
    struct fixture fixture;
    fixture_init(&fixture, 0);
    cr_assert_eq(fixture_open(&fixture), 0);
    struct sb_partition *partition = open_partition(&fixture, 1, 0);
    for (uint32_t round = 0; round < 10; round++) {
        uint32_t bytes = fixture_batch(batch_buffer, BUFFER_BYTES, 5, round, now_ms() + round);
        cr_assert_eq(fixture_append_durable(&fixture, partition, batch_buffer, bytes),
                     (int64_t)round * 5);
    }
    cr_assert_eq(sb_partition_high_watermark(partition), 50);
    cr_assert_eq(sb_partition_log_end_offset(partition), 50);
    uint32_t bytes = 0;
    cr_assert_eq(fixture_read(&fixture, partition, 0, read_buffer, BUFFER_BYTES, BUFFER_BYTES,
                              &bytes), 0);
    cr_assert_eq(check_batches(read_buffer, bytes, 0, 5), 50);
    /* From the middle of a batch: the batch holding the offset comes first. */
    cr_assert_eq(fixture_read(&fixture, partition, 12, read_buffer, BUFFER_BYTES, 1, &bytes), 0);
    cr_assert_eq(check_batches(read_buffer, bytes, 10, 5), 15, "exactly one whole batch");
    cr_assert_eq(fixture_read(&fixture, partition, 50, read_buffer, BUFFER_BYTES, BUFFER_BYTES,
                              &bytes), 0);
    cr_assert_eq(bytes, 0, "nothing at the high watermark");
    cr_assert_eq(fixture_read(&fixture, partition, 51, read_buffer, BUFFER_BYTES, BUFFER_BYTES,
                              &bytes), -ERANGE);
    fixture_close(&fixture);
    fixture_destroy(&fixture);
}

static void
count_durable(void *context, struct sb_partition *partition)
{
    (void)partition;
    (*(uint32_t *)context)++;
}

/* The broker may hold the high watermark below the locally durable offset (acks=all over
 * replicas): durable records above it are not served until the broker advances it. */
Test(store, records_above_a_held_high_watermark_are_not_served)
{
    struct fixture fixture;
    fixture_init(&fixture, 0);
    uint32_t durable_calls = 0;
    fixture.config.hold_high_watermark = true;
    fixture.config.durable = count_durable;
    fixture.config.lookup_context = &durable_calls;
    cr_assert_eq(fixture_open(&fixture), 0);
    struct sb_partition *partition = open_partition(&fixture, 1, 0);
    for (uint32_t round = 0; round < 2; round++) {
        uint32_t bytes = fixture_batch(batch_buffer, BUFFER_BYTES, 5, round, now_ms());
        cr_assert_eq(fixture_append_durable(&fixture, partition, batch_buffer, bytes),
                     (int64_t)round * 5);
    }
    cr_assert_eq(sb_partition_durable_offset(partition), 10);
    cr_assert_eq(sb_partition_high_watermark(partition), 0, "held by the broker");
    cr_assert_geq(durable_calls, 1, "the broker hears that the durable offset moved");
    uint32_t bytes = 0;
    cr_assert_eq(fixture_read(&fixture, partition, 0, read_buffer, BUFFER_BYTES, BUFFER_BYTES,
                              &bytes), 0);
    cr_assert_eq(bytes, 0, "durable but above the high watermark: not served");
    sb_partition_advance_high_watermark(partition, 5);
    cr_assert_eq(fixture_read(&fixture, partition, 0, read_buffer, BUFFER_BYTES, BUFFER_BYTES,
                              &bytes), 0);
    cr_assert_eq(check_batches(read_buffer, bytes, 0, 5), 5, "only the first batch");
    sb_partition_advance_high_watermark(partition, 10);
    cr_assert_eq(fixture_read(&fixture, partition, 0, read_buffer, BUFFER_BYTES, BUFFER_BYTES,
                              &bytes), 0);
    cr_assert_eq(check_batches(read_buffer, bytes, 0, 5), 10, "both once it advanced");
    sb_partition_advance_high_watermark(partition, 5);
    cr_assert_eq(sb_partition_high_watermark(partition), 10, "it never moves back");
    fixture_close(&fixture);
    fixture_destroy(&fixture);
}

/* Without a broker's hold the high watermark follows the durable offset. */
Test(store, the_high_watermark_follows_the_durable_offset_by_default)
{
    struct fixture fixture;
    fixture_init(&fixture, 0);
    cr_assert_eq(fixture_open(&fixture), 0);
    struct sb_partition *partition = open_partition(&fixture, 1, 0);
    uint32_t bytes = fixture_batch(batch_buffer, BUFFER_BYTES, 5, 0, now_ms());
    cr_assert_eq(fixture_append_durable(&fixture, partition, batch_buffer, bytes), 0);
    cr_assert_eq(sb_partition_durable_offset(partition), 5);
    cr_assert_eq(sb_partition_high_watermark(partition), 5);
    fixture_close(&fixture);
    fixture_destroy(&fixture);
}

Test(store, flush_moves_batches_into_segments_and_restart_keeps_them)
{
    struct fixture fixture;
    fixture_init(&fixture, 0);
    cr_assert_eq(fixture_open(&fixture), 0);
    struct sb_partition *partition = open_partition(&fixture, 7, 3);
    int64_t next = 0;
    for (uint32_t round = 0; round < 200; round++) {
        uint32_t bytes = fixture_batch(batch_buffer, BUFFER_BYTES, 10, round, now_ms());
        cr_assert_eq(fixture_append_durable(&fixture, partition, batch_buffer, bytes), next);
        next += 10;
    }
    fixture_close(&fixture); /* Shutdown flushes everything into segments. */
    cr_assert_eq(fixture_open(&fixture), 0);
    partition = sb_store_partition_find(fixture.store, 7, 3);
    cr_assert_not_null(partition, "recovered from the manifest");
    cr_assert_eq(sb_partition_log_end_offset(partition), 2000);
    cr_assert_eq(sb_partition_high_watermark(partition), 2000);
    int64_t offset = 0;
    while (offset < 2000) {
        uint32_t bytes = 0;
        cr_assert_eq(fixture_read(&fixture, partition, offset, read_buffer, BUFFER_BYTES, 8192,
                                  &bytes), 0);
        cr_assert_gt(bytes, 0, "offset %lld readable", (long long)offset);
        offset = check_batches(read_buffer, bytes, offset, 10);
    }
    fixture_close(&fixture);
    fixture_destroy(&fixture);
}

/* A read remembers the memtable entry it ended at (the next read starts there). A flush that
 * released that entry while it was the partition's last left the hint pointing at a freed
 * entry whose chain ended; the next batch started a new chain, and every read of it answered
 * nothing until the entry's slot was reused: consumers at the log end starved while the high
 * watermark said there was more (sb-bench group runs failed with records left behind). */
Test(store, a_read_after_a_flush_finds_the_batches_appended_since)
{
    struct fixture fixture;
    fixture_init(&fixture, 3);
    fixture.config.flush_interval_ns = SB_NS_PER_MS;
    cr_assert_eq(fixture_open(&fixture), 0);
    struct sb_partition *partition = open_partition(&fixture, 4, 0);
    uint32_t bytes = fixture_batch(batch_buffer, BUFFER_BYTES, 5, 0, now_ms());
    cr_assert_eq(fixture_append_durable(&fixture, partition, batch_buffer, bytes), 0);
    uint32_t read_bytes = 0;
    cr_assert_eq(fixture_read(&fixture, partition, 0, read_buffer, BUFFER_BYTES, BUFFER_BYTES,
                              &read_bytes), 0);
    cr_assert_eq(check_batches(read_buffer, read_bytes, 0, 5), 5);
    struct sb_store_stats before;
    sb_store_stats(fixture.store, &before);
    struct sb_store_stats now = before;
    /* The flush interval passes, the batch goes to a segment and leaves the memtable. */
    for (uint32_t step = 0; step < 1000 && now.flushes == before.flushes; step++) {
        fixture_step(&fixture, 100 * 1000);
        sb_store_stats(fixture.store, &now);
    }
    cr_assert_gt(now.flushes, before.flushes, "no flush round ran");
    fixture_settle(&fixture);
    bytes = fixture_batch(batch_buffer, BUFFER_BYTES, 5, 1, now_ms());
    cr_assert_eq(fixture_append_durable(&fixture, partition, batch_buffer, bytes), 5);
    cr_assert_eq(fixture_read(&fixture, partition, 5, read_buffer, BUFFER_BYTES, BUFFER_BYTES,
                              &read_bytes), 0);
    cr_assert_gt(read_bytes, 0, "the batch after the flushed one is not served");
    cr_assert_eq(check_batches(read_buffer, read_bytes, 5, 5), 10);
    fixture_close(&fixture);
    fixture_destroy(&fixture);
}

/* A flush round whose first writer fails at once (its segment file cannot be created: the
 * partition's directory is gone) ended the round inside flush_maybe_start, which then still
 * began the manifest: the round "completed", the WAL was released past batches no segment
 * held, and the retry timer found the round in another phase (an assertion: the broker
 * aborted). Now the round fails, is retried with back-off, keeps every batch readable, and
 * succeeds once the directory is back. */
Test(store, a_segment_that_cannot_be_created_fails_the_round_and_keeps_the_data)
{
    struct fixture fixture;
    fixture_init(&fixture, 0);
    fixture.config.flush_interval_ns = SB_NS_PER_MS;
    cr_assert_eq(fixture_open(&fixture), 0);
    struct sb_partition *partition = open_partition(&fixture, 6, 0);
    char directory[256];
    snprintf(directory, sizeof(directory), "%s/partitions/6-0", fixture.data_dir);
    cr_assert_eq(rmdir(directory), 0, "%s", directory); /* Empty: no flush ran yet. */
    struct sb_store_stats before;
    sb_store_stats(fixture.store, &before);
    for (uint32_t round = 0; round < 3; round++) {
        uint32_t bytes = fixture_batch(batch_buffer, BUFFER_BYTES, 5, round, now_ms());
        cr_assert_eq(fixture_append_durable(&fixture, partition, batch_buffer, bytes),
                     (int64_t)round * 5);
    }
    struct sb_store_stats now = before;
    /* Bounded: the first failure and at least one retry that fails again. */
    for (uint32_t step = 0; step < 5000 && now.flush_failures < before.flush_failures + 2;
         step++) {
        fixture_step(&fixture, 1000 * 1000);
        sb_store_stats(fixture.store, &now);
    }
    cr_assert_geq(now.flush_failures, before.flush_failures + 2, "the round was not retried");
    cr_assert_eq(now.flushes, before.flushes, "a failed round checkpointed");
    cr_assert_eq(sb_store_flush_error(fixture.store), -ENOENT);
    uint32_t read_bytes = 0;
    cr_assert_eq(fixture_read(&fixture, partition, 0, read_buffer, BUFFER_BYTES, BUFFER_BYTES,
                              &read_bytes), 0);
    cr_assert_eq(check_batches(read_buffer, read_bytes, 0, 5), 15, "every batch still readable");
    cr_assert_eq(mkdir(directory, 0755), 0);
    for (uint32_t step = 0; step < 5000 && now.flushes == before.flushes; step++) {
        fixture_step(&fixture, 1000 * 1000);
        sb_store_stats(fixture.store, &now);
    }
    cr_assert_gt(now.flushes, before.flushes, "the retry never succeeded");
    fixture_close(&fixture);
    cr_assert_eq(fixture_open(&fixture), 0);
    partition = sb_store_partition_find(fixture.store, 6, 0);
    cr_assert_not_null(partition);
    cr_assert_eq(fixture_read(&fixture, partition, 0, read_buffer, BUFFER_BYTES, BUFFER_BYTES,
                              &read_bytes), 0);
    cr_assert_eq(check_batches(read_buffer, read_bytes, 0, 5), 15, "every batch after restart");
    fixture_close(&fixture);
    fixture_destroy(&fixture);
}

/* Group commit: appends that arrive while a cycle is on disk wait in the open cycle and go
 * down together in the next one. Sealing one small cycle per loop iteration instead (each a
 * padded 4 KiB write and an fdatasync of its own) let a steady stream of appends that nobody
 * waits on (acks=1) fall ever further behind its durable point. */
Test(store, appends_during_a_cycle_share_the_next_one)
{
    struct fixture fixture;
    fixture_init(&fixture, 7); /* Simulator: each disk op takes 10-200 us. */
    cr_assert_eq(fixture_open(&fixture), 0);
    struct sb_partition *partition = open_partition(&fixture, 2, 0);
    struct sb_store_stats before;
    sb_store_stats(fixture.store, &before);
    uint32_t appends = 400;
    for (uint32_t index = 0; index < appends; index++) {
        uint32_t bytes = fixture_batch(batch_buffer, BUFFER_BYTES, 1, index, now_ms());
        cr_assert_eq(sb_partition_append(partition, batch_buffer, bytes, NULL, NULL, NULL), 0);
        fixture_step(&fixture, 10 * 1000); /* One loop iteration per append. */
    }
    struct sb_store_stats after;
    sb_store_stats(fixture.store, &after);
    uint64_t cycles = after.cycles - before.cycles;
    cr_assert_lt(cycles, appends / 4, "%llu cycles for %u appends: one per iteration",
                 (unsigned long long)cycles, appends);
    /* Behind by at most the cycle on disk and the one growing: a few iterations settle it. */
    for (uint32_t step = 0; step < 100 && sb_partition_high_watermark(partition) < appends;
         step++) {
        fixture_step(&fixture, 100 * 1000);
    }
    cr_assert_eq(sb_partition_high_watermark(partition), appends);
    fixture_close(&fixture);
    fixture_destroy(&fixture);
}

/* issue 12, clean-up: the payload CRC is checked once per produce. sb_partition_append checks
 * it; sb_partition_append_verified leaves it to its caller but still checks the header. Both
 * stamp a log-append-time partition's batch and report that time. */
Test(store, append_checks_the_payload_crc_and_append_verified_trusts_its_caller)
{
    struct fixture fixture;
    fixture_init(&fixture, 0);
    cr_assert_eq(fixture_open(&fixture), 0);
    struct sb_partition_config config;
    sb_partition_config_default(&config);
    config.log_append_time = true;
    struct sb_partition *partition = NULL;
    cr_assert_eq(sb_store_partition_open(fixture.store, 1, 0, &config, &partition), 0);
    cr_assert_eq(sb_partition_append_time(partition), -1, "nothing stamped yet");
    uint32_t bytes = fixture_batch(batch_buffer, BUFFER_BYTES, 5, 0, now_ms());
    batch_buffer[SB_BATCH_HEADER_BYTES + 3] ^= 0x40;
    cr_assert_eq(sb_partition_append(partition, batch_buffer, bytes, NULL, NULL, NULL),
                 SB_ECORRUPT);
    batch_buffer[SB_BATCH_HEADER_BYTES + 3] ^= 0x40;
    batch_buffer[SB_BATCH_OFFSET_BASE_OFFSET] ^= 0x01;
    cr_assert_eq(sb_partition_append_verified(partition, batch_buffer, bytes, NULL, NULL, NULL),
                 SB_ECORRUPT, "the header CRC is still checked");
    batch_buffer[SB_BATCH_OFFSET_BASE_OFFSET] ^= 0x01;
    cr_assert_eq(sb_partition_log_end_offset(partition), 0, "nothing was appended");
    int64_t before_ms = now_ms();
    cr_assert_eq(sb_partition_append_verified(partition, batch_buffer, bytes, NULL, NULL, NULL),
                 0);
    int64_t stamped = sb_partition_append_time(partition);
    cr_assert(stamped >= before_ms && stamped <= now_ms(), "stamped %lld", (long long)stamped);
    cr_assert_eq(sb_partition_append(partition, batch_buffer, bytes, NULL, NULL, NULL), 0);
    cr_assert_geq(sb_partition_append_time(partition), stamped);
    fixture_settle(&fixture);
    uint32_t read_bytes = 0;
    cr_assert_eq(fixture_read(&fixture, partition, 0, read_buffer, BUFFER_BYTES, 1,
                              &read_bytes), 0);
    struct sb_batch_header header;
    cr_assert_eq(sb_batch_verify(read_buffer, read_bytes, 1 << 20, &header), 0);
    cr_assert_eq(header.max_timestamp_ms, stamped, "the time reported is the time stored");
    fixture_close(&fixture);
    fixture_destroy(&fixture);
}
