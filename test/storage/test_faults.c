/*
 * test/storage/test_faults.c - failed writes and fdatasyncs (EIO, ENOSPC)
 * through the simulator's one-shot faults: for each kind and error, the Nth
 * WRITE (WAL writev, segment, footer and manifest writes) or FSYNC (WAL and
 * segment fdatasync, manifest and directory fsyncs) after the store opened
 * fails, for N = 1, 2, ... until the workload no longer reaches an Nth op
 * (also with three such ops in a row failing, so retries fail too).
 * Each run checks that writing resumes (every append becomes durable, the
 * retry counters moved), that no callback said durable too early (a power
 * cut that loses every unsynced write, right after the first acknowledgement
 * that follows the failure, or after the last one, keeps every acknowledged
 * batch), and that recovery finds no corruption. Then a memtable that fills
 * while every write fails: -ENOBUFS back-pressure, durable data still
 * readable, and appends succeed again once the faults clear, without a reopen.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>

#include "core/clock.h"
#include "core/log.h"
#include "test/storage/fixture.h"
#include "test/storage/model.h"

#define TOPIC 6u
#define PARTITIONS 3u
#define BATCHES 128u
/* The loop over N must stop below this (the workload has fewer ops of a kind). */
#define NTH_MAX 1000u
/* Loop iterations (1 ms of virtual time each) a run may take to make everything durable;
 * retries back off up to 1 s. */
#define STEPS_MAX 200000u

static struct fixture fixture_state;
static struct model model_state;

static void
faults_setup(struct fixture *fixture, struct model *model, uint64_t seed)
{
    fixture_init(fixture, seed);
    fixture->config.wal_file_bytes = 64 << 10;
    fixture->config.wal_file_count = 2;
    fixture->config.memtable_bytes = 128 << 10;
    fixture->config.cycle_bytes_max = 32 << 10;
    fixture->config.batch_bytes_max = 16 << 10;
    fixture->config.flush_concurrency = 2;
    struct sb_partition_config config;
    sb_partition_config_default(&config);
    config.segment_bytes = 16 << 10;
    config.retention_ms = -1;
    model_init(model, fixture, seed, TOPIC, PARTITIONS, &config);
    cr_assert_eq(fixture_open(fixture), 0);
    model_open_partitions(model);
}

static uint64_t
faults_counted(const struct fixture *fixture)
{
    struct sb_store_stats stats;
    sb_store_stats(fixture->store, &stats);
    return stats.cycle_retries + stats.flush_failures;
}

/* One run: the workload with the Nth op of `kind` failing with `error`. */
struct fault_run {
    enum sb_io_op_kind kind; /* WRITE or FSYNC. */
    int32_t error;           /* -EIO or -ENOSPC. */
    uint32_t nth;            /* Which op fails. */
    bool cut_at_ack;         /* Cut the power at the first acknowledgement after the failure. */
    uint32_t burst;          /* Ops nth, nth + 1, ... nth + burst - 1 all fail. */
    bool fired;              /* Out: the store saw the failure (retry counters moved). */
    uint64_t cycles;         /* Out: commit cycles made durable. */
    uint64_t flushes;        /* Out: flush rounds completed. */
};

/* Appends the fixed workload (BATCHES batches over PARTITIONS) and steps until each is
 * durable; with cut_at_ack, returns early right after the first step in which an
 * acknowledgement arrived once the failure was seen. Returns true if it cut short. */
static bool
faults_workload(struct fixture *fixture, struct model *model, const struct fault_run *run)
{
    uint32_t next = 0;
    for (uint32_t step = 0; step < STEPS_MAX; step++) {
        /* Two appends per iteration; a full memtable just waits. */
        for (uint32_t count = 0; count < 2 && next < BATCHES; count++) {
            int result = model_append(model, next % PARTITIONS, 1 + next % 8,
                                      model->seed * 1000 + next);
            if (result == -ENOBUFS) {
                break;
            }
            cr_assert_eq(result, 0, "nth %u: append %d", run->nth, result);
            next++;
        }
        uint32_t waiting = model_unacknowledged(model);
        bool failed_before = faults_counted(fixture) > 0;
        fixture_step(fixture, SB_NS_PER_MS);
        if (run->cut_at_ack && failed_before && model_unacknowledged(model) < waiting) {
            return true;
        }
        if (next == BATCHES && model_unacknowledged(model) == 0) {
            return false;
        }
    }
    cr_assert_fail("nth %u: appends never became durable (writes did not resume)", run->nth);
    return false;
}

static void
faults_run(struct fault_run *run)
{
    struct fixture *fixture = &fixture_state;
    struct model *model = &model_state;
    uint64_t seed = 100 + run->nth;
    faults_setup(fixture, model, seed);
    for (uint32_t extra = 0; extra < run->burst; extra++) {
        struct sb_sim_fault_once fault = {.kind = run->kind, .nth = run->nth + extra,
                                          .error = run->error};
        cr_assert_eq(sb_sim_fault_once(fixture->sim, &fault), 0);
    }
    struct sb_store_stats before;
    sb_store_stats(fixture->store, &before); /* Opening flushed once already. */
    bool cut_short = faults_workload(fixture, model, run);
    struct sb_store_stats stats;
    sb_store_stats(fixture->store, &stats);
    run->fired = stats.cycle_retries + stats.flush_failures > 0;
    run->cycles = stats.cycles - before.cycles;
    run->flushes = stats.flushes - before.flushes;
    if (!cut_short) {
        cr_assert_eq(model_unacknowledged(model), 0, "nth %u: all durable", run->nth);
    }
    /* Whatever an acknowledgement promised must be on disk already. */
    fixture_power_loss(fixture, SB_SIM_LOSE_UNSYNCED);
    int opened = fixture_open(fixture);
    for (uint32_t again = 0; again < run->burst && !run->fired && opened < 0; again++) {
        /* A fault was still armed and recovery met it: opening fails, and works again. */
        opened = fixture_open(fixture);
    }
    cr_assert_eq(opened, 0, "nth %u: reopen failed: %d", run->nth, opened);
    model_check_recovered(model);
    fixture_close(fixture);
    fixture_destroy(fixture);
}

/* Fails the 1st, 2nd, ... op of `kind` until the workload no longer reaches one. */
static void
faults_loop(enum sb_io_op_kind kind, int32_t error, bool cut_at_ack, uint32_t burst)
{
    sb_log_set_level(SB_LOG_ERROR);
    struct fault_run run = {.kind = kind, .error = error, .cut_at_ack = cut_at_ack,
                            .burst = burst};
    uint32_t nth = 1;
    for (; nth < NTH_MAX; nth++) {
        run.nth = nth;
        faults_run(&run);
        if (!run.fired) {
            break;
        }
    }
    cr_assert_lt(nth, NTH_MAX, "the workload kept reaching the Nth op");
    /* The last run did the whole workload without noticing a failure. Each of its cycles is a
     * writev and an fdatasync, each flush round at least one write and three fsyncs: a
     * smaller stopping point means a failure went unnoticed. */
    uint64_t floor = kind == SB_IO_OP_WRITE ? run.cycles + run.flushes
                                            : run.cycles + 3 * run.flushes;
    cr_assert_gt(nth, floor, "stopped at nth %u, but the workload makes more than %llu such "
                 "ops: a failure was swallowed", nth, (unsigned long long)floor);
    cr_assert_gt(run.flushes, 0, "the workload flushes");
}

Test(faults, nth_write_fails_with_eio, .timeout = 300)
{
    faults_loop(SB_IO_OP_WRITE, -EIO, false, 1);
}

Test(faults, nth_write_fails_with_enospc, .timeout = 300)
{
    faults_loop(SB_IO_OP_WRITE, -ENOSPC, false, 1);
}

Test(faults, nth_fsync_fails_with_eio, .timeout = 300)
{
    faults_loop(SB_IO_OP_FSYNC, -EIO, false, 1);
}

Test(faults, nth_fsync_fails_with_enospc, .timeout = 300)
{
    faults_loop(SB_IO_OP_FSYNC, -ENOSPC, false, 1);
}

Test(faults, nth_write_fails_and_power_is_cut_at_the_next_ack, .timeout = 300)
{
    faults_loop(SB_IO_OP_WRITE, -EIO, true, 1);
}

Test(faults, nth_fsync_fails_and_power_is_cut_at_the_next_ack, .timeout = 300)
{
    faults_loop(SB_IO_OP_FSYNC, -EIO, true, 1);
}

Test(faults, three_writes_in_a_row_fail_from_the_nth, .timeout = 300)
{
    faults_loop(SB_IO_OP_WRITE, -ENOSPC, false, 3);
}

Test(faults, three_fsyncs_in_a_row_fail_from_the_nth, .timeout = 300)
{
    faults_loop(SB_IO_OP_FSYNC, -EIO, true, 3);
}

/* Appends batches until a flush (beyond the one at open) has moved some into segments, then
 * a few more that stay in the memtable, and waits until all are durable. */
static void
backpressure_fill_durable(struct fixture *fixture, struct model *model)
{
    struct sb_store_stats stats;
    uint32_t next = 0;
    sb_store_stats(fixture->store, &stats);
    uint64_t flushes = stats.flushes;
    for (uint32_t step = 0; step < 10000 && stats.flushes == flushes; step++) {
        if (model_append(model, next % PARTITIONS, 8, 7000 + next) == 0) {
            next++; /* Else ordinary back-pressure: the flush catches up. */
        }
        fixture_step(fixture, SB_NS_PER_MS);
        sb_store_stats(fixture->store, &stats);
    }
    cr_assert_gt(stats.flushes, flushes);
    for (uint32_t more = 0; more < 6; more++, next++) {
        cr_assert_eq(model_append(model, next % PARTITIONS, 4, 7000 + next), 0);
    }
    for (uint32_t step = 0; step < 10000 && model_unacknowledged(model) > 0; step++) {
        fixture_step(fixture, SB_NS_PER_MS);
    }
    cr_assert_eq(model_unacknowledged(model), 0);
}

Test(faults, full_memtable_pushes_back_while_writes_fail_and_recovers_without_reopen)
{
    sb_log_set_level(SB_LOG_ERROR);
    struct fixture *fixture = &fixture_state;
    struct model *model = &model_state;
    faults_setup(fixture, model, 77);
    backpressure_fill_durable(fixture, model);
    int64_t high_watermarks[PARTITIONS];
    for (uint32_t index = 0; index < PARTITIONS; index++) {
        high_watermarks[index] = sb_partition_high_watermark(model->partitions[index].partition);
    }
    struct sb_sim_faults faults = {.write_error_ppm = 1000000};
    fixture_set_faults(fixture, &faults);
    int result = 0;
    for (uint32_t tag = 0; tag < 1000 && result == 0; tag++) {
        result = model_append(model, tag % PARTITIONS, 8, 9000 + tag);
        fixture_step(fixture, SB_NS_PER_MS);
    }
    cr_assert_eq(result, -ENOBUFS, "a full memtable is back-pressure");
    struct sb_store_stats stats;
    sb_store_stats(fixture->store, &stats);
    cr_assert_gt(stats.append_refusals, 0);
    cr_assert_gt(stats.flush_failures, 0, "a flush was tried and failed");
    for (uint32_t index = 0; index < PARTITIONS; index++) {
        cr_assert_eq(sb_partition_high_watermark(model->partitions[index].partition),
                     high_watermarks[index], "nothing new is durable");
    }
    model_check(model); /* Durable data is still served, from segments and memtable. */
    fixture_set_faults(fixture, NULL);
    for (uint32_t step = 0; step < STEPS_MAX && model_unacknowledged(model) > 0; step++) {
        fixture_step(fixture, SB_NS_PER_MS);
    }
    cr_assert_eq(model_unacknowledged(model), 0, "everything waiting became durable");
    sb_store_stats(fixture->store, &stats);
    cr_assert_gt(stats.cycle_retries, 0);
    result = -ENOBUFS;
    for (uint32_t step = 0; step < STEPS_MAX && result == -ENOBUFS; step++) {
        result = model_append(model, 0, 3, 99999);
        fixture_step(fixture, SB_NS_PER_MS);
    }
    cr_assert_eq(result, 0, "appends are taken again, without a reopen");
    model_check(model);
    fixture_close(fixture);
    model_reopen_and_check(model);
    fixture_close(fixture);
    fixture_destroy(fixture);
}
