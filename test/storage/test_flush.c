/*
 * test/storage/test_flush.c - the flush (storage/flush.c) under the
 * simulator: a partition dropped (the store call DeleteTopics makes) at every
 * moment of a flush round, before it, during its tail-block read, data
 * writes, fdatasync and directory sync, and after it, never trips an
 * assertion, its files are deleted (also when the round fails with it still
 * queued: one writer and an injected write error), and every other partition
 * keeps every batch, before and after a restart; the same with one sync for
 * four writers (a writer waits for a sync with its partition dropped).
 * The sync queue: a round over hundreds of partitions keeps more syncs in
 * flight than there are writers (counted by the io), never more than its
 * limit; a failed fdatasync (or directory fsync) among them fails the round
 * with that partition's flushed offset not moved, the retry completes it, and
 * a power cut after that loses nothing. The syncfs ending of a round over
 * many partitions (flush_syncfs_partitions_min): one syncfs and no segment
 * sync in flight; a failed syncfs (injected, or reporting a segment write's
 * write-back error) fails the round with no flushed offset moved; a
 * partition dropped while it waits for the syncfs is let go. A failed
 * segment file creation (an OPENAT op) fails the round, which is retried.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "proto/batch.h"
#include "storage/store_private.h"
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

/* `sync_concurrency`: the store's flush_sync_concurrency (0: its default). */
static void
drop_at_moment(uint32_t moment, uint32_t sync_concurrency)
{
    struct fixture fixture;
    fixture_init(&fixture, 3000 + moment);
    fixture.config.flush_interval_ns = 20 * SB_NS_PER_MS;
    fixture.config.flush_sync_concurrency = sync_concurrency;
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
        drop_at_moment(moment, 0);
    }
}

/* With one sync for four writers, writers wait for it holding written partitions: a drop
 * lands on a waiting writer at some moment too. */
Test(flush, drop_partition_at_every_moment_with_one_sync, .timeout = 300)
{
    for (uint32_t moment = 0; moment < DROP_MOMENTS; moment++) {
        drop_at_moment(moment, 1);
    }
}

#define QUEUE_TOPIC 22u
#define QUEUE_PARTITIONS 500u /* Under the simulator's tracked-file limit (1024). */
#define QUEUE_WRITERS 4u
#define QUEUE_SYNCS 64u

static struct sb_partition *queue_partitions[QUEUE_PARTITIONS];
/* The store's flush_syncfs_partitions_min for queue_setup (0: fdatasync each, as before). */
static uint32_t queue_syncfs_min;

/* Partitions whose batch is in a segment (flushed_offset moved). */
static uint32_t
queue_flushed_count(void)
{
    uint32_t count = 0;
    for (uint32_t index = 0; index < QUEUE_PARTITIONS; index++) {
        count += queue_partitions[index]->flushed_offset == RECORDS_PER_BATCH;
    }
    return count;
}

/* Cuts the power, opens the store again and checks every partition but `skipped` (UINT32_MAX:
 * none) holds its batch; closes and destroys the fixture. */
static void
queue_power_loss_and_check(struct fixture *fixture, uint32_t skipped)
{
    fixture_power_loss(fixture, SB_SIM_LOSE_UNSYNCED);
    cr_assert_eq(fixture_open(fixture), 0);
    for (uint32_t index = 0; index < QUEUE_PARTITIONS; index++) {
        struct sb_partition *partition = sb_store_partition_find(fixture->store, QUEUE_TOPIC,
                                                                 index);
        if (index == skipped) {
            cr_assert_null(partition);
            continue;
        }
        cr_assert_not_null(partition);
        check_partition(fixture, partition, RECORDS_PER_BATCH);
    }
    fixture_close(fixture);
    fixture_destroy(fixture);
}

/* A store with QUEUE_PARTITIONS partitions, one durable batch each (tagged by index), `syncs`
 * syncs for QUEUE_WRITERS writers, syncs 5 ms slower than writes (as on a disk). */
static void
queue_setup(struct fixture *fixture, uint64_t seed, uint32_t syncs)
{
    fixture_init(fixture, seed);
    fixture->config.partitions_max = 1024;
    fixture->config.flush_concurrency = QUEUE_WRITERS;
    fixture->config.flush_sync_concurrency = syncs;
    fixture->config.flush_syncfs_partitions_min = queue_syncfs_min;
    fixture->config.flush_interval_ns = 30 * SB_NS_PER_S; /* No round until queue_setup ends. */
    struct sb_sim_faults faults = {.sync_latency_extra_ns = 5 * SB_NS_PER_MS};
    fixture_set_faults(fixture, &faults);
    cr_assert_eq(fixture_open(fixture), 0);
    struct sb_partition_config config;
    sb_partition_config_default(&config);
    for (uint32_t index = 0; index < QUEUE_PARTITIONS; index++) {
        cr_assert_eq(sb_store_partition_open(fixture->store, QUEUE_TOPIC, index, &config,
                                             &queue_partitions[index]), 0);
        uint32_t bytes = fixture_batch(batch_buffer, sizeof(batch_buffer), RECORDS_PER_BATCH,
                                       index, 1000);
        cr_assert_geq(fixture_append_durable(fixture, queue_partitions[index], batch_buffer,
                                             bytes), 0);
    }
    struct sb_store_stats stats;
    sb_store_stats(fixture->store, &stats);
    cr_assert_eq(queue_flushed_count(), 0, "a round ran during the appends");
    sb_sim_sleep(fixture->sim, fixture->config.flush_interval_ns); /* The round is due. */
}

/* Steps until stats field `flushes` or `flush_failures` passes `than`; returns it. */
static uint64_t
queue_wait_stat(struct fixture *fixture, bool failures, uint64_t than)
{
    struct sb_store_stats stats = {0};
    /* Bounded: a round (or its retry) ends within a few simulated seconds. */
    for (uint32_t step = 0; step < 1000000; step++) {
        sb_store_stats(fixture->store, &stats);
        if ((failures ? stats.flush_failures : stats.flushes) > than) {
            break;
        }
        fixture_step(fixture, SB_NS_PER_MS);
    }
    return failures ? stats.flush_failures : stats.flushes;
}

/* Drops `waiting` (held by the round), waits for the round to end without a failure, checks
 * its files are gone, then cuts the power and checks every other partition. */
static void
queue_drop_and_check(struct fixture *fixture, struct sb_partition *waiting)
{
    struct sb_store *store = fixture->store;
    uint32_t dropped = waiting->partition;
    struct sb_store_stats stats;
    sb_store_stats(store, &stats);
    cr_assert_eq(sb_store_partition_drop(store, waiting), 0);
    queue_partitions[dropped] = NULL;
    cr_assert_gt(queue_wait_stat(fixture, false, stats.flushes), stats.flushes);
    sb_store_stats(store, &stats);
    cr_assert_eq(stats.flush_failures, 0);
    char path[256];
    snprintf(path, sizeof(path), "%s/partitions/%u-%u", fixture->data_dir, QUEUE_TOPIC, dropped);
    cr_assert_neq(access(path, F_OK), 0, "the dropped partition's files are left");
    queue_power_loss_and_check(fixture, dropped);
}

Test(flush, a_round_keeps_more_syncs_in_flight_than_writers, .timeout = 300)
{
    struct fixture fixture;
    queue_setup(&fixture, 4100, QUEUE_SYNCS);
    uint32_t before = sb_io_syncs_in_flight_max(fixture.io);
    struct sb_store_stats stats;
    sb_store_stats(fixture.store, &stats);
    cr_assert_gt(queue_wait_stat(&fixture, false, stats.flushes), stats.flushes);
    cr_assert_eq(queue_flushed_count(), QUEUE_PARTITIONS);
    uint32_t most = sb_io_syncs_in_flight_max(fixture.io);
    cr_log_info("syncs in flight at once: %u before the round, %u in it (%u writers)", before,
                most, QUEUE_WRITERS);
    cr_assert_gt(most, 4 * QUEUE_WRITERS, "the round's syncs did not overlap");
    cr_assert_leq(most, QUEUE_SYNCS + before, "more syncs in flight than the limit");
    queue_power_loss_and_check(&fixture, UINT32_MAX);
}

/* The nth sync of the round (a data fdatasync or a directory fsync, with dozens in flight)
 * fails: the round fails with -EIO and that partition's flushed_offset has not moved; the
 * retry flushes every partition and fsyncs every directory left unsynced (also of a partition
 * whose data sync had succeeded), and a power cut then loses nothing. */
static void
queue_fail_nth_sync(uint32_t nth)
{
    struct fixture fixture;
    queue_setup(&fixture, 4200 + nth, QUEUE_SYNCS);
    struct sb_store_stats stats;
    sb_store_stats(fixture.store, &stats);
    struct sb_sim_fault_once fault = {.kind = SB_IO_OP_FDATASYNC, .nth = nth, .error = -EIO};
    cr_assert_eq(sb_sim_fault_once(fixture.sim, &fault), 0);
    cr_assert_gt(queue_wait_stat(&fixture, true, stats.flush_failures), stats.flush_failures,
                 "sync %u: the round did not fail", nth);
    cr_assert_eq(sb_sim_faults_once_armed(fixture.sim), 0);
    cr_assert_eq(sb_store_flush_error(fixture.store), -EIO);
    struct sb_store_stats failed;
    sb_store_stats(fixture.store, &failed);
    cr_assert_eq(failed.flushes, stats.flushes, "sync %u: a failed round checkpointed", nth);
    uint32_t flushed = queue_flushed_count();
    cr_log_info("sync %u failed: %u of %u partitions flushed", nth, flushed, QUEUE_PARTITIONS);
    cr_assert_lt(flushed, QUEUE_PARTITIONS, "sync %u: every flushed_offset moved", nth);
    cr_assert_gt(queue_wait_stat(&fixture, false, stats.flushes), stats.flushes,
                 "sync %u: the retry never completed", nth);
    cr_assert_eq(queue_flushed_count(), QUEUE_PARTITIONS);
    for (uint32_t index = 0; index < QUEUE_PARTITIONS; index++) {
        cr_assert_not(queue_partitions[index]->needs_dir_sync,
                      "sync %u: partition %u's new file is not in a synced directory", nth,
                      index);
    }
    cr_assert_eq(sb_store_flush_error(fixture.store), 0);
    queue_power_loss_and_check(&fixture, UINT32_MAX);
}

Test(flush, failed_sync_in_the_queue_fails_the_round_and_keeps_the_data, .timeout = 300)
{
    static const uint32_t nths[] = {1, 2, 37, 66, 300, 650};
    for (uint32_t index = 0; index < sizeof(nths) / sizeof(nths[0]); index++) {
        queue_fail_nth_sync(nths[index]);
    }
}

/* A writer that finished writing but found no free sync waits holding its partition; the
 * partition is dropped then: the writer lets it go when a sync frees (no failure), its files
 * are deleted, and every other partition is flushed and survives a power cut. */
Test(flush, a_partition_dropped_while_its_writer_waits_for_a_sync_is_let_go, .timeout = 300)
{
    struct fixture fixture;
    queue_setup(&fixture, 4300, 1);
    struct sb_store *store = fixture.store;
    struct sb_partition *waiting = NULL;
    /* Bounded: with one sync for four writers, writers wait within the round's first syncs. */
    for (uint32_t step = 0; step < 100000 && waiting == NULL; step++) {
        fixture_step(&fixture, SB_NS_PER_MS);
        for (uint32_t index = 0; index < QUEUE_WRITERS && store->flush_sync_free == NULL;
             index++) {
            struct flush_writer *writer = &store->writers[index];
            if (writer->partition != NULL && writer->op.state == SB_IO_OP_IDLE) {
                waiting = writer->partition;
            }
        }
    }
    cr_assert_not_null(waiting, "no writer ever waited for a sync");
    queue_drop_and_check(&fixture, waiting);
}

/* A round over at least flush_syncfs_partitions_min partitions writes them all and makes them
 * durable with one syncfs: no segment fdatasync or directory fsync in flight beside the WAL's
 * (counted by the io), every partition flushed and its directory synced, and a power cut
 * after the checkpoint loses nothing. */
Test(flush, a_round_over_many_partitions_ends_with_one_syncfs, .timeout = 300)
{
    struct fixture fixture;
    queue_syncfs_min = QUEUE_PARTITIONS;
    queue_setup(&fixture, 4400, QUEUE_SYNCS);
    queue_syncfs_min = 0;
    uint32_t before = sb_io_syncs_in_flight_max(fixture.io);
    struct sb_store_stats stats;
    sb_store_stats(fixture.store, &stats);
    cr_assert_gt(queue_wait_stat(&fixture, false, stats.flushes), stats.flushes);
    struct sb_store_stats after;
    sb_store_stats(fixture.store, &after);
    cr_assert_eq(after.flush_syncfs, stats.flush_syncfs + 1);
    cr_assert_eq(queue_flushed_count(), QUEUE_PARTITIONS);
    for (uint32_t index = 0; index < QUEUE_PARTITIONS; index++) {
        cr_assert_not(queue_partitions[index]->needs_dir_sync);
    }
    cr_assert_leq(sb_io_syncs_in_flight_max(fixture.io), before > 1 ? before : 1,
                  "segment syncs overlapped: the round did not use its syncfs");
    queue_power_loss_and_check(&fixture, UINT32_MAX);
}

/* One fewer partition than flush_syncfs_partitions_min: the round fdatasyncs each, as before. */
Test(flush, a_round_under_the_syncfs_threshold_syncs_each_partition, .timeout = 300)
{
    struct fixture fixture;
    queue_syncfs_min = QUEUE_PARTITIONS + 1;
    queue_setup(&fixture, 4500, QUEUE_SYNCS);
    queue_syncfs_min = 0;
    struct sb_store_stats stats;
    sb_store_stats(fixture.store, &stats);
    cr_assert_gt(queue_wait_stat(&fixture, false, stats.flushes), stats.flushes);
    struct sb_store_stats after;
    sb_store_stats(fixture.store, &after);
    cr_assert_eq(after.flush_syncfs, stats.flush_syncfs);
    cr_assert_gt(sb_io_syncs_in_flight_max(fixture.io), 4 * QUEUE_WRITERS);
    queue_power_loss_and_check(&fixture, UINT32_MAX);
}

/* The round's syncfs fails (injected -EIO, or a segment write's write-back error that it
 * reports): the round fails, no partition's flushed_offset has moved (nothing of the round
 * counts as durable, so the WAL keeps it), the retry (also by syncfs) completes, and a power
 * cut then loses nothing. */
static void
queue_fail_syncfs(bool writeback)
{
    struct fixture fixture;
    queue_syncfs_min = QUEUE_PARTITIONS;
    queue_setup(&fixture, 4600 + writeback, QUEUE_SYNCS);
    queue_syncfs_min = 0;
    struct sb_store_stats stats;
    sb_store_stats(fixture.store, &stats);
    struct sb_sim_fault_once fault = {.kind = SB_IO_OP_SYNCFS, .nth = 1, .error = -EIO};
    if (writeback) {
        fault = (struct sb_sim_fault_once){.kind = SB_IO_OP_WRITE, .nth = 100, .error = -EIO,
                                           .writeback = true};
    }
    cr_assert_eq(sb_sim_fault_once(fixture.sim, &fault), 0);
    cr_assert_gt(queue_wait_stat(&fixture, true, stats.flush_failures), stats.flush_failures,
                 "the round did not fail");
    cr_assert_eq(sb_sim_faults_once_armed(fixture.sim), 0);
    cr_assert_eq(sb_store_flush_error(fixture.store), -EIO);
    struct sb_store_stats failed;
    sb_store_stats(fixture.store, &failed);
    cr_assert_eq(failed.flushes, stats.flushes, "a failed round checkpointed");
    cr_assert_eq(queue_flushed_count(), 0, "a flushed_offset moved without a good syncfs");
    cr_assert_gt(queue_wait_stat(&fixture, false, stats.flushes), stats.flushes,
                 "the retry never completed");
    sb_store_stats(fixture.store, &failed);
    cr_assert_eq(failed.flush_syncfs, stats.flush_syncfs + 1);
    cr_assert_eq(queue_flushed_count(), QUEUE_PARTITIONS);
    cr_assert_eq(sb_store_flush_error(fixture.store), 0);
    queue_power_loss_and_check(&fixture, UINT32_MAX);
}

Test(flush, failed_syncfs_fails_the_round_and_keeps_the_data, .timeout = 300)
{
    queue_fail_syncfs(false);
}

Test(flush, a_write_back_error_reported_by_syncfs_fails_the_round, .timeout = 300)
{
    queue_fail_syncfs(true);
}

/* A partition whose pass waits for the round's syncfs is dropped: the round lets it go when
 * the syncfs completes (no failure), its files are deleted, and every other partition is
 * flushed and survives a power cut. */
Test(flush, a_partition_dropped_while_it_waits_for_the_syncfs_is_let_go, .timeout = 300)
{
    struct fixture fixture;
    queue_syncfs_min = QUEUE_PARTITIONS;
    queue_setup(&fixture, 4700, QUEUE_SYNCS);
    queue_syncfs_min = 0;
    struct sb_store *store = fixture.store;
    /* Bounded: the first pass waits for the syncfs within the round's first writes. */
    for (uint32_t step = 0; step < 100000 && store->flush_syncfs_list == NULL; step++) {
        fixture_step(&fixture, SB_NS_PER_MS);
    }
    struct sb_partition *waiting = store->flush_syncfs_list;
    cr_assert_not_null(waiting, "no pass ever waited for the syncfs");
    queue_drop_and_check(&fixture, waiting);
}

/* Segment files are created by OPENAT ops: the nth of the round fails (-ENOSPC, as a full
 * inode table would): the round fails with that partition not flushed, the retry creates it,
 * and a power cut then loses nothing. */
Test(flush, a_failed_segment_file_creation_fails_the_round_and_keeps_the_data, .timeout = 300)
{
    static const uint32_t nths[] = {1, 37, 500};
    for (uint32_t index = 0; index < sizeof(nths) / sizeof(nths[0]); index++) {
        struct fixture fixture;
        queue_setup(&fixture, 4800 + index, QUEUE_SYNCS);
        struct sb_store_stats stats;
        sb_store_stats(fixture.store, &stats);
        struct sb_sim_fault_once fault = {.kind = SB_IO_OP_OPENAT, .nth = nths[index],
                                          .error = -ENOSPC};
        cr_assert_eq(sb_sim_fault_once(fixture.sim, &fault), 0);
        cr_assert_gt(queue_wait_stat(&fixture, true, stats.flush_failures),
                     stats.flush_failures, "open %u: the round did not fail", nths[index]);
        cr_assert_eq(sb_sim_faults_once_armed(fixture.sim), 0);
        cr_assert_eq(sb_store_flush_error(fixture.store), -ENOSPC);
        cr_assert_lt(queue_flushed_count(), QUEUE_PARTITIONS);
        cr_assert_gt(queue_wait_stat(&fixture, false, stats.flushes), stats.flushes,
                     "open %u: the retry never completed", nths[index]);
        cr_assert_eq(queue_flushed_count(), QUEUE_PARTITIONS);
        queue_power_loss_and_check(&fixture, UINT32_MAX);
    }
}

/* 3 MiB of one partition's batches are written in pieces of about 1 MiB
 * (FLUSH_WRITE_BYTES_TARGET), so a WAL write never queues behind a multi-MiB segment write;
 * every record still reads back, in order, after a power cut. */
Test(flush, a_partition_is_written_in_pieces_of_about_one_mebibyte, .timeout = 300)
{
    struct fixture fixture;
    fixture_init(&fixture, 77);
    fixture.config.flush_interval_ns = 30 * SB_NS_PER_S; /* No round until the appends end. */
    cr_assert_eq(fixture_open(&fixture), 0);
    struct sb_partition_config config;
    sb_partition_config_default(&config);
    struct sb_partition *partition = NULL;
    cr_assert_eq(sb_store_partition_open(fixture.store, TOPIC, 0, &config, &partition), 0);
    uint64_t appended = 0;
    int64_t records = 0;
    /* Bounded: each batch adds tens of KiB. */
    while (appended < (3u << 20)) {
        uint32_t bytes = fixture_batch(batch_buffer, sizeof(batch_buffer), 1000,
                                       (uint64_t)records, 1000);
        cr_assert_geq(fixture_append_durable(&fixture, partition, batch_buffer, bytes), 0);
        appended += bytes;
        records += 1000;
    }
    sb_sim_sleep(fixture.sim, fixture.config.flush_interval_ns); /* The last round is due. */
    struct sb_store_stats stats = {0};
    /* Bounded: the rounds end within a few simulated seconds. */
    for (uint32_t step = 0; step < 100000 && stats.segment_bytes_written < appended; step++) {
        fixture_step(&fixture, SB_NS_PER_MS);
        sb_store_stats(fixture.store, &stats);
    }
    cr_assert_eq(stats.segment_bytes_written, appended);
    cr_assert_geq(stats.segment_data_writes, 3, "%" PRIu64 " writes",
                  stats.segment_data_writes);
    cr_assert_leq(stats.segment_data_write_bytes_max, (1u << 20) + SB_BLOCK_BYTES,
                  "a write of %" PRIu64 " bytes", stats.segment_data_write_bytes_max);
    fixture_power_loss(&fixture, SB_SIM_LOSE_UNSYNCED);
    cr_assert_eq(fixture_open(&fixture), 0);
    partition = sb_store_partition_find(fixture.store, TOPIC, 0);
    cr_assert_not_null(partition);
    check_partition(&fixture, partition, records);
    fixture_close(&fixture);
    fixture_destroy(&fixture);
}

/* A round starts as soon as the WAL writes in its last free file, not when that file is
 * nearly full: it then has a whole file of appends to finish in (at 250 MB/s, 32 ms with
 * 8 MiB files instead of the last two cycles' 16 ms). */
Test(flush, a_round_starts_when_the_wal_enters_its_last_free_file, .timeout = 300)
{
    struct fixture fixture;
    fixture_init(&fixture, 78);
    fixture.config.flush_interval_ns = 30 * SB_NS_PER_S; /* Only the WAL starts a round. */
    fixture.config.memtable_bytes = 64u << 20;            /* The ring is never half full. */
    fixture.config.batch_bytes_max = 64u << 10;           /* Cycles of 256 KiB at most. */
    cr_assert_eq(fixture_open(&fixture), 0);
    uint32_t files = fixture.config.wal_file_count;
    uint64_t file_bytes = fixture.config.wal_file_bytes;
    struct sb_partition_config config;
    sb_partition_config_default(&config);
    struct sb_partition *partition = NULL;
    cr_assert_eq(sb_store_partition_open(fixture.store, TOPIC, 0, &config, &partition), 0);
    struct sb_store_stats stats = {0};
    sb_store_stats(fixture.store, &stats);
    uint64_t rounds_at_open = stats.flushes; /* Opening ends with a round of its own. */
    uint32_t last_free = UINT32_MAX; /* Known once the first batch chose its file. */
    int64_t records = 0;
    /* Bounded: each batch adds tens of KiB; the last file is entered after files - 1 of them. */
    while (fixture.store->wal.current_file != last_free) {
        uint32_t bytes = fixture_batch(batch_buffer, sizeof(batch_buffer), 1000,
                                       (uint64_t)records, 1000);
        cr_assert_geq(fixture_append_durable(&fixture, partition, batch_buffer, bytes), 0);
        records += 1000;
        if (last_free == UINT32_MAX) {
            last_free = (fixture.store->wal.current_file + files - 1) % files;
        }
        sb_store_stats(fixture.store, &stats);
        cr_assert_eq(stats.flushes, rounds_at_open, "a round before the last free file");
        if (fixture.store->wal.current_file != last_free) {
            cr_assert(flush_idle(fixture.store), "a round before the last free file");
        }
        cr_assert_lt((uint64_t)records, 1000u * 1000u);
    }
    cr_assert_lt(fixture.store->wal.files[last_free].write_position, file_bytes / 2);
    /* Bounded: a round, if due, starts at the end of the next loop iteration. */
    for (uint32_t step = 0; step < 100 && flush_idle(fixture.store); step++) {
        fixture_step(&fixture, SB_NS_PER_MS);
    }
    sb_store_stats(fixture.store, &stats);
    cr_assert(!flush_idle(fixture.store) || stats.flushes > rounds_at_open,
              "no round with the WAL in its last free file");
    fixture_settle(&fixture);
    sb_store_stats(fixture.store, &stats);
    cr_assert_gt(stats.flushes, rounds_at_open, "no round with the WAL in its last free file");
    check_partition(&fixture, partition, records);
    fixture_close(&fixture);
    fixture_destroy(&fixture);
}
