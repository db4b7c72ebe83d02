/*
 * test/storage/test_wal.c - several commit cycles on disk at once
 * (SB_WAL_CYCLES_IN_FLIGHT_MAX), under the simulator's seeded disk latencies
 * (10-200 us per op), so a later cycle's writes and fdatasync often finish
 * before an earlier cycle's. Each test counts that the case it is about
 * happened (cycles_behind, cycles_held, cycles_redone, cycles_on_disk):
 *  - acknowledgements come in log order, across partitions, even when a later
 *    cycle is durable first (model.h counts acknowledgements out of order);
 *  - a failed write or fdatasync of the earlier cycle holds back the later
 *    one, even if the later one's fdatasync succeeded: the power is cut at
 *    the first acknowledgement after the failure and every acknowledged batch
 *    must survive;
 *  - a power cut (lost or torn unsynced writes) with two cycles on disk loses
 *    no acknowledged batch, and recovery replays a prefix: no corruption is
 *    reported when a later cycle survived without the earlier one, in the
 *    same WAL file or in a new one;
 *  - a write-back error (the simulator's one-shot write-back fault: reported
 *    to the next fdatasync of the file, whoever issued it) is never taken by a
 *    later cycle's fdatasync alone while the earlier cycle is acknowledged;
 *  - a lone cycle written as one RWF_DSYNC write (cycles_dsync) is acknowledged only
 *    once durable, a failed one (write, its sync, its write-back, or a file system
 *    refusing RWF_DSYNC) acknowledges nothing until its retry, and acknowledgements stay
 *    in log order when a normal cycle is issued behind a dsync one (cycles_behind_dsync);
 *  - the BEHIND flag of [WAL-ENTRY] round-trips, and bad values are corrupt.
 * Replay one seed: SB_TEST_SEED=<seed> test_storage --filter 'wal/<name>' (SB_TEST_SEEDS=<n>
 * runs n seeds instead of SEEDS, from SB_TEST_FIRST_SEED or 1).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/crc32c.h"
#include "core/endian.h"
#include "core/error.h"
#include "core/log.h"
#include "core/sim.h"
#include "test/storage/fixture.h"
#include "storage/format.h"
#include "test/storage/model.h"

#define TOPIC 9u
#define PARTITIONS 4u
#define SEEDS 24u
#define BATCHES 400u
/* Steps (virtual wait of STEP_NS each) a workload may take; retries back off up to 1 s. */
#define STEPS_MAX 200000u
/* Short steps: appends keep arriving while cycles are on disk. */
#define STEP_NS (30u * 1000u)
/* Faults: the Nth WAL-or-flush op of a kind fails, N = 1 .. FAULT_NTH_MAX. */
#define FAULT_NTH_MAX 40u

static struct fixture fixture_state;
static struct model model_state;

static uint64_t
wal_test_first_seed(void)
{
    const char *seed = getenv("SB_TEST_SEED");
    const char *first = getenv("SB_TEST_FIRST_SEED");
    return seed != NULL ? strtoull(seed, NULL, 10) : first != NULL ? strtoull(first, NULL, 10) : 1;
}

static uint32_t
wal_test_seed_count(void)
{
    const char *count = getenv("SB_TEST_SEEDS");
    if (getenv("SB_TEST_SEED") != NULL) {
        return 1;
    }
    return count != NULL ? (uint32_t)strtoul(count, NULL, 10) : SEEDS;
}

/* Small cycles and files, so cycles are many and some start a new WAL file (with 64 KiB
 * files, most of them). */
static void
wal_setup(struct fixture *fixture, struct model *model, uint64_t seed, uint64_t wal_file_bytes)
{
    fixture_init(fixture, seed);
    fixture->config.wal_file_bytes = wal_file_bytes;
    fixture->config.wal_file_count = wal_file_bytes < (256 << 10) ? 8 : 3;
    fixture->config.memtable_bytes = 512 << 10;
    fixture->config.cycle_bytes_max = 32 << 10;
    fixture->config.batch_bytes_max = 16 << 10;
    struct sb_partition_config config;
    sb_partition_config_default(&config);
    config.segment_bytes = 64 << 10;
    config.retention_ms = -1;
    model_init(model, fixture, seed, TOPIC, PARTITIONS, &config);
    cr_assert_eq(fixture_open(fixture), 0);
    model_open_partitions(model);
}

static struct sb_store_stats
wal_stats(const struct fixture *fixture)
{
    struct sb_store_stats stats;
    sb_store_stats(fixture->store, &stats);
    return stats;
}

/* How a workload ends early (all false: when every batch is durable). */
struct wal_cut {
    bool at_ack_after_fault;   /* At the first acknowledgement after the one-shot fault fired. */
    uint32_t at_held;          /* At the end of the Nth step that left a later cycle durable
                                  and held behind an earlier one still on disk. */
    bool held_new_file;        /* Only if the held cycle began a new WAL file. */
};

/* Appends BATCHES batches (0 to 3 per step, to seeded partitions) and steps until all are
 * durable or the cut's moment comes. Returns true if it cut short. */
static bool
wal_workload(struct fixture *fixture, struct model *model, const struct wal_cut *cut)
{
    uint32_t next = 0;
    uint32_t held_steps = 0;
    bool new_file_behind = false; /* A cycle that began a file was issued behind another. */
    for (uint32_t step = 0; step < STEPS_MAX; step++) {
        uint32_t burst = (uint32_t)(sb_sim_random(fixture->sim) % 4);
        for (uint32_t count = 0; count < burst && next < BATCHES; count++) {
            uint32_t index = (uint32_t)(sb_sim_random(fixture->sim) % PARTITIONS);
            int result = model_append(model, index, 1 + next % 6, model->seed * 10000 + next);
            if (result == -ENOBUFS) {
                break;
            }
            cr_assert_eq(result, 0, "seed %llu: append %d", (unsigned long long)model->seed,
                         result);
            next++;
        }
        uint64_t acknowledged = model->acknowledged_total;
        struct sb_store_stats before = wal_stats(fixture);
        bool fault_fired = sb_sim_faults_once_armed(fixture->sim) == 0;
        fixture_step(fixture, STEP_NS);
        if (cut->at_ack_after_fault && fault_fired && model->acknowledged_total > acknowledged) {
            return true;
        }
        struct sb_store_stats stats = wal_stats(fixture);
        new_file_behind = (new_file_behind && stats.cycles == before.cycles) ||
                          (stats.cycles_behind > before.cycles_behind &&
                           stats.wal_generations > before.wal_generations);
        if (cut->at_held != 0 && stats.cycles_held > before.cycles_held &&
            stats.cycles_on_disk == 2 && (new_file_behind || !cut->held_new_file) &&
            ++held_steps == cut->at_held) {
            return true;
        }
        if (next == BATCHES && model_unacknowledged(model) == 0) {
            return false;
        }
    }
    cr_assert_fail("seed %llu: appends never became durable", (unsigned long long)model->seed);
    return false;
}

Test(wal, acknowledgements_follow_log_order_when_cycles_complete_out_of_order, .timeout = 300)
{
    sb_log_set_level(SB_LOG_ERROR);
    struct fixture *fixture = &fixture_state;
    struct model *model = &model_state;
    uint64_t behind = 0;
    uint64_t held = 0;
    uint64_t first = wal_test_first_seed();
    for (uint64_t seed = first; seed < first + wal_test_seed_count(); seed++) {
        wal_setup(fixture, model, seed, 256 << 10);
        struct wal_cut cut = {0};
        cr_assert_not(wal_workload(fixture, model, &cut));
        cr_assert_eq(model->acknowledged_out_of_order, 0,
                     "seed %llu: %llu acknowledgements out of log order",
                     (unsigned long long)seed,
                     (unsigned long long)model->acknowledged_out_of_order);
        cr_assert_eq(model->acknowledged_total, model->appended_total);
        struct sb_store_stats stats = wal_stats(fixture);
        behind += stats.cycles_behind;
        held += stats.cycles_held;
        model_check(model);
        fixture_close(fixture);
        model_reopen_and_check(model);
        fixture_close(fixture);
        fixture_destroy(fixture);
    }
    cr_assert_gt(behind, 0, "no cycle was issued while another was on disk");
    cr_assert_gt(held, 0, "no later cycle was durable before an earlier one");
}

/* One run with the Nth op of `kind` failing (a write's write-back, with `writeback`): cut at
 * the first acknowledgement after it, then every acknowledged batch must survive. Returns
 * false if the fault never fired. */
static bool
wal_fault_run(enum sb_io_op_kind kind, bool writeback, uint32_t nth, uint64_t *redone)
{
    struct fixture *fixture = &fixture_state;
    struct model *model = &model_state;
    wal_setup(fixture, model, 500 + nth, nth % 2 == 0 ? 64 << 10 : 256 << 10);
    struct sb_sim_fault_once fault = {.kind = kind, .nth = nth, .error = -EIO,
                                      .writeback = writeback};
    cr_assert_eq(sb_sim_fault_once(fixture->sim, &fault), 0);
    struct wal_cut cut = {.at_ack_after_fault = true};
    bool cut_short = wal_workload(fixture, model, &cut);
    bool fired = sb_sim_faults_once_armed(fixture->sim) == 0;
    cr_assert_eq(model->acknowledged_out_of_order, 0, "nth %u: out of log order", nth);
    *redone += wal_stats(fixture).cycles_redone;
    if (fired) {
        cr_assert(cut_short, "nth %u: nothing acknowledged after the failure", nth);
    }
    fixture_power_loss(fixture, SB_SIM_LOSE_UNSYNCED);
    model_reopen_and_check(model);
    fixture_close(fixture);
    fixture_destroy(fixture);
    return fired;
}

Test(wal, a_failed_earlier_cycle_holds_back_the_later_one_until_its_retry, .timeout = 300)
{
    sb_log_set_level(SB_LOG_ERROR);
    uint64_t redone = 0;
    uint32_t fired = 0;
    for (uint32_t nth = 1; nth <= FAULT_NTH_MAX; nth++) {
        fired += wal_fault_run(SB_IO_OP_FSYNC, false, nth, &redone) ? 1 : 0;
        fired += wal_fault_run(SB_IO_OP_WRITE, false, nth, &redone) ? 1 : 0;
    }
    cr_assert_gt(fired, 0);
    cr_assert_gt(redone, 0, "no later cycle was synced behind a failed one");
}

/* The header blocks of every WAL file (index < WAL_FILES_MAX), read from disk. */
#define WAL_FILES_MAX 8u
struct wal_headers {
    uint8_t blocks[WAL_FILES_MAX][SB_BLOCK_BYTES];
    bool valid[WAL_FILES_MAX]; /* The block decodes as a header. */
};

static void
wal_headers_read(const struct fixture *fixture, struct wal_headers *headers)
{
    for (uint32_t index = 0; index < WAL_FILES_MAX; index++) {
        char path[256];
        snprintf(path, sizeof(path), "%s/shards/0/wal-%u.log", fixture->data_dir, index);
        FILE *file = fopen(path, "rb");
        struct sb_wal_file_header header;
        headers->valid[index] =
            file != NULL && fread(headers->blocks[index], 1, SB_BLOCK_BYTES, file) ==
                                SB_BLOCK_BYTES &&
            sb_wal_file_header_decode(headers->blocks[index], &header) == 0 &&
            header.generation != 0;
        if (file != NULL) {
            fclose(file);
        }
    }
}

/* A cycle that began a WAL file's new generation and failed is written again with the same
 * bytes, its header block included (the header's creation time is chosen once, when the
 * cycle is placed): a power cut during the retry tears nothing that differs. */
Test(wal, a_retried_cycle_writes_the_same_header_block)
{
    sb_log_set_level(SB_LOG_ERROR);
    static struct wal_headers at_failure;
    static struct wal_headers after;
    uint32_t compared = 0;
    for (uint32_t nth = 1; nth <= FAULT_NTH_MAX; nth++) {
        struct fixture *fixture = &fixture_state;
        struct model *model = &model_state;
        wal_setup(fixture, model, 700 + nth, 64 << 10);
        struct sb_sim_fault_once fault = {.kind = SB_IO_OP_FSYNC, .nth = nth, .error = -EIO};
        cr_assert_eq(sb_sim_fault_once(fixture->sim, &fault), 0);
        uint64_t retries = 0;
        /* Bounded by STEPS_MAX: appends a batch a step until the fault fires. */
        for (uint32_t step = 0; step < STEPS_MAX && sb_sim_faults_once_armed(fixture->sim) > 0;
             step++) {
            int result = model_append(model, step % PARTITIONS, 4, model->seed * 10000 + step);
            cr_assert(result == 0 || result == -ENOBUFS, "append %d", result);
            fixture_step(fixture, STEP_NS);
        }
        retries = wal_stats(fixture).cycle_retries;
        wal_headers_read(fixture, &at_failure);
        /* Bounded by STEPS_MAX: until the retry made everything appended durable. */
        for (uint32_t step = 0; step < STEPS_MAX && (wal_stats(fixture).cycle_retries == retries ||
                                                     model_unacknowledged(model) > 0);
             step++) {
            fixture_step(fixture, STEP_NS);
        }
        bool retried = wal_stats(fixture).cycle_retries > retries; /* Else a flush's failed. */
        wal_headers_read(fixture, &after);
        for (uint32_t index = 0; retried && index < WAL_FILES_MAX; index++) {
            struct sb_wal_file_header before_header;
            struct sb_wal_file_header after_header;
            if (!at_failure.valid[index] || !after.valid[index] ||
                sb_wal_file_header_decode(at_failure.blocks[index], &before_header) != 0 ||
                sb_wal_file_header_decode(after.blocks[index], &after_header) != 0 ||
                before_header.generation != after_header.generation) {
                continue;
            }
            compared++;
            cr_assert_eq(memcmp(at_failure.blocks[index], after.blocks[index], SB_BLOCK_BYTES),
                         0, "nth %u: WAL file %u's header block of generation %llu changed",
                         nth, index, (unsigned long long)after_header.generation);
        }
        model_check(model);
        fixture_close(fixture);
        fixture_destroy(fixture);
    }
    cr_assert_gt(compared, 0);
}

/* A write-back error goes to the first fdatasync of the file that runs after it, whichever
 * cycle issued it. With two fdatasyncs of one WAL file in flight, the later cycle's could
 * take the earlier cycle's error while the earlier one's succeeded: the earlier cycle was
 * acknowledged with a write missing. A cycle's fdatasync now waits for the earlier cycle's
 * of the same file (cycle_syncs_waited), so the error reaches a cycle at or before the one
 * it belongs to. */
Test(wal, a_write_back_error_is_never_reported_to_a_later_cycle_alone, .timeout = 300)
{
    sb_log_set_level(SB_LOG_ERROR);
    uint64_t redone = 0;
    uint32_t fired = 0;
    uint64_t waited = 0;
    for (uint32_t nth = 1; nth <= 2 * FAULT_NTH_MAX; nth++) {
        fired += wal_fault_run(SB_IO_OP_WRITE, true, nth, &redone) ? 1 : 0;
    }
    for (uint64_t seed = 1; seed <= 4; seed++) {
        wal_setup(&fixture_state, &model_state, seed, 256 << 10);
        struct wal_cut cut = {0};
        cr_assert_not(wal_workload(&fixture_state, &model_state, &cut));
        waited += wal_stats(&fixture_state).cycle_syncs_waited;
        fixture_close(&fixture_state);
        fixture_destroy(&fixture_state);
    }
    cr_assert_gt(fired, 0);
    cr_assert_gt(waited, 0, "no cycle's fdatasync waited for an earlier one of its file");
}

/* One run cut at a moment a later cycle is held behind an earlier one on disk (one that
 * began a new WAL file, with 64 KiB files); returns true if that moment came. */
static bool
wal_power_loss_run(uint64_t seed, enum sb_sim_power_loss_mode mode, uint64_t wal_file_bytes)
{
    struct fixture *fixture = &fixture_state;
    struct model *model = &model_state;
    wal_setup(fixture, model, seed, wal_file_bytes);
    /* A wider spread of disk latencies: more cycles finish out of order. */
    fixture->faults.disk_latency_max_ns = 1000 * 1000;
    fixture_set_faults(fixture, NULL);
    bool new_file = wal_file_bytes < (256 << 10);
    struct wal_cut cut = {.at_held = new_file ? 1 : 1 + (uint32_t)(seed % 4),
                          .held_new_file = new_file};
    bool cut_short = wal_workload(fixture, model, &cut);
    cr_assert_eq(model->acknowledged_out_of_order, 0);
    fixture_power_loss(fixture, mode);
    model_reopen_and_check(model); /* No acknowledged batch lost, no corruption reported. */
    fixture_close(fixture);
    fixture_destroy(fixture);
    return cut_short;
}

Test(wal, power_loss_with_two_cycles_on_disk_keeps_acknowledged_appends, .timeout = 300)
{
    sb_log_set_level(SB_LOG_ERROR);
    uint64_t first = wal_test_first_seed();
    uint32_t cuts_same_file = 0;
    uint32_t cuts_new_file = 0;
    for (uint64_t seed = first; seed < first + wal_test_seed_count(); seed++) {
        for (uint32_t mode = 0; mode < 2; mode++) {
            enum sb_sim_power_loss_mode loss = mode == 0 ? SB_SIM_LOSE_UNSYNCED
                                                         : SB_SIM_TEAR_UNSYNCED;
            cuts_same_file += wal_power_loss_run(seed, loss, 256 << 10) ? 1 : 0;
            cuts_new_file += wal_power_loss_run(seed, loss, 64 << 10) ? 1 : 0;
        }
    }
    if (getenv("SB_TEST_SEED") == NULL) {
        cr_assert_gt(cuts_same_file, 0, "no cut with a later cycle held");
        cr_assert_gt(cuts_new_file, 0, "no cut with a later cycle held in a new WAL file");
    }
}

/* Appends one batch and steps (short steps) until it is acknowledged. */
static void
wal_append_until_acknowledged(struct fixture *fixture, struct model *model, uint32_t index)
{
    uint64_t acknowledged = model->acknowledged_total;
    cr_assert_eq(model_append(model, index % PARTITIONS, 2, model->seed * 10000 + index), 0);
    /* Bounded by STEPS_MAX. */
    for (uint32_t step = 0; step < STEPS_MAX && model->acknowledged_total == acknowledged;
         step++) {
        fixture_step(fixture, STEP_NS / 10);
    }
    cr_assert_eq(model->acknowledged_total, acknowledged + 1, "seed %llu: batch %u",
                 (unsigned long long)model->seed, index);
}

/* A cycle with nothing else of its WAL file on disk is one RWF_DSYNC write, acknowledged when
 * that write completes: a power cut right at the acknowledgement keeps it, whatever the cut
 * does to unsynced writes. (The first cycle begins a WAL generation, with a header block:
 * write + fdatasync; the ones after it are lone.) */
Test(wal, a_lone_dsync_cycle_is_acknowledged_only_once_durable, .timeout = 300)
{
    sb_log_set_level(SB_LOG_ERROR);
    struct fixture *fixture = &fixture_state;
    struct model *model = &model_state;
    const enum sb_sim_power_loss_mode modes[] = {SB_SIM_LOSE_UNSYNCED, SB_SIM_TEAR_UNSYNCED,
                                                 SB_SIM_GARBLE_UNSYNCED};
    for (uint64_t seed = 1; seed <= 8; seed++) {
        for (uint32_t mode = 0; mode < 3; mode++) {
            wal_setup(fixture, model, seed, 256 << 10);
            uint32_t batches = 1 + (uint32_t)(seed % 4);
            for (uint32_t index = 0; index < batches; index++) {
                wal_append_until_acknowledged(fixture, model, index);
            }
            struct sb_store_stats stats = wal_stats(fixture);
            cr_assert_eq(stats.cycles_dsync, batches - 1, "seed %llu: %llu dsync cycles",
                         (unsigned long long)seed, (unsigned long long)stats.cycles_dsync);
            cr_assert_eq(stats.cycles, batches);
            fixture_power_loss(fixture, modes[mode]);
            model_reopen_and_check(model); /* Every acknowledged batch is there. */
            fixture_close(fixture);
            fixture_destroy(fixture);
        }
    }
}

/* One failure of a lone cycle's dsync write: nothing is acknowledged until the cycle is
 * written again (a refused RWF_DSYNC: as write + fdatasync), and a power cut at that
 * acknowledgement keeps everything acknowledged. */
static void
wal_dsync_fault_run(uint64_t seed, const struct sb_sim_fault_once *fault)
{
    struct fixture *fixture = &fixture_state;
    struct model *model = &model_state;
    wal_setup(fixture, model, seed, 256 << 10);
    wal_append_until_acknowledged(fixture, model, 0);
    wal_append_until_acknowledged(fixture, model, 1);
    cr_assert_eq(sb_sim_fault_once(fixture->sim, fault), 0);
    struct sb_store_stats before = wal_stats(fixture);
    cr_assert_eq(model_append(model, 2, 3, seed * 10000 + 2), 0);
    /* Bounded by STEPS_MAX: until the fault fired and the failed cycle left the disk. */
    for (uint32_t step = 0; step < STEPS_MAX && (sb_sim_faults_once_armed(fixture->sim) > 0 ||
                                                 wal_stats(fixture).cycles_on_disk > 0);
         step++) {
        fixture_step(fixture, STEP_NS / 10);
    }
    struct sb_store_stats failed = wal_stats(fixture);
    cr_assert_eq(failed.cycles_dsync, before.cycles_dsync + 1, "the fault hit a dsync write");
    cr_assert_eq(model->acknowledged_total, 2, "acknowledged before the failed cycle's retry");
    cr_assert_eq(failed.cycles, before.cycles);
    uint64_t acknowledged = model->acknowledged_total;
    /* Bounded by STEPS_MAX: the retry after its back-off. */
    for (uint32_t step = 0; step < STEPS_MAX && model->acknowledged_total == acknowledged;
         step++) {
        fixture_step(fixture, STEP_NS);
    }
    struct sb_store_stats after = wal_stats(fixture);
    cr_assert_eq(model->acknowledged_total, 3);
    cr_assert_eq(after.cycle_retries, before.cycle_retries + 1);
    bool refused = fault->error == -EOPNOTSUPP;
    cr_assert_eq(after.cycles_dsync, failed.cycles_dsync + (refused ? 0 : 1));
    fixture_power_loss(fixture, SB_SIM_GARBLE_UNSYNCED);
    model_reopen_and_check(model);
    fixture_close(fixture);
    fixture_destroy(fixture);
}

Test(wal, a_failed_dsync_write_acknowledges_nothing_until_its_retry, .timeout = 300)
{
    sb_log_set_level(SB_LOG_ERROR);
    const struct sb_sim_fault_once faults[] = {
        {.kind = SB_IO_OP_WRITE, .nth = 1, .error = -EIO},        /* Nothing written. */
        {.kind = SB_IO_OP_FDATASYNC, .nth = 1, .error = -EIO},    /* Written, not durable. */
        {.kind = SB_IO_OP_WRITE, .nth = 1, .error = -EIO, .writeback = true},
        {.kind = SB_IO_OP_WRITE, .nth = 1, .error = -EOPNOTSUPP}, /* No RWF_DSYNC here. */
    };
    for (uint64_t seed = 1; seed <= 4; seed++) {
        for (uint32_t index = 0; index < sizeof(faults) / sizeof(faults[0]); index++) {
            wal_dsync_fault_run(seed, &faults[index]);
        }
    }
}

/* A dsync cycle writing while a later cycle is issued behind it (in its file: that one's
 * fdatasync waits for the dsync write; in a new file: it may be durable first and is held):
 * acknowledgements stay in log order, and a power cut at such a moment loses nothing
 * acknowledged. */
Test(wal, acknowledgements_follow_log_order_across_dsync_and_normal_cycles, .timeout = 300)
{
    sb_log_set_level(SB_LOG_ERROR);
    struct fixture *fixture = &fixture_state;
    struct model *model = &model_state;
    uint64_t behind_dsync = 0;
    uint64_t first = wal_test_first_seed();
    for (uint64_t seed = first; seed < first + wal_test_seed_count(); seed++) {
        wal_setup(fixture, model, seed, seed % 2 == 0 ? 64 << 10 : 256 << 10);
        fixture->faults.disk_latency_max_ns = 1000 * 1000;
        fixture_set_faults(fixture, NULL);
        struct wal_cut cut = {.at_held = seed % 3 == 0 ? 1 + (uint32_t)(seed % 4) : 0};
        bool cut_short = wal_workload(fixture, model, &cut);
        cr_assert_eq(model->acknowledged_out_of_order, 0, "seed %llu: out of log order",
                     (unsigned long long)seed);
        if (!cut_short) {
            cr_assert_eq(model->acknowledged_total, model->appended_total);
        }
        behind_dsync += wal_stats(fixture).cycles_behind_dsync;
        fixture_power_loss(fixture, SB_SIM_TEAR_UNSYNCED);
        model_reopen_and_check(model);
        fixture_close(fixture);
        fixture_destroy(fixture);
    }
    if (getenv("SB_TEST_SEED") == NULL) {
        cr_assert_gt(behind_dsync, 0, "no cycle was issued behind a dsync cycle");
    }
}

/* Sets a header field and seals the header's CRC again, as a writer of bad bytes would. */
static void
wal_header_poke(uint8_t *bytes, uint32_t offset, uint64_t value, uint32_t width)
{
    if (width == 2) {
        sb_store_le16(bytes + offset, (uint16_t)value);
    } else {
        sb_store_le64(bytes + offset, value);
    }
    sb_store_le32(bytes + 4, sb_crc32c(0, bytes + 8, SB_WAL_ENTRY_HEADER_BYTES - 8));
}

Test(wal, behind_flag_round_trips_and_bad_values_are_corrupt)
{
    struct sb_wal_entry_header header = {
        .kind = SB_WAL_ENTRY_BATCH, .payload_bytes = 100, .sequence = 12,
        .generation = 3, .cycle_sequence = 10, .behind = true, .unsynced_sequence = 7,
    };
    uint8_t bytes[SB_WAL_ENTRY_HEADER_BYTES];
    sb_wal_entry_header_encode(&header, bytes);
    struct sb_wal_entry_header decoded;
    cr_assert_eq(sb_wal_entry_header_decode(bytes, &decoded), 0);
    cr_assert(decoded.behind);
    cr_assert_eq(decoded.unsynced_sequence, 7);
    header.behind = false;
    header.unsynced_sequence = 0;
    sb_wal_entry_header_encode(&header, bytes);
    cr_assert_eq(sb_wal_entry_header_decode(bytes, &decoded), 0);
    cr_assert_not(decoded.behind);
    cr_assert_eq(sb_load_le64(bytes + 56), 0, "without BEHIND, bytes as before the flag");
    uint8_t bad[SB_WAL_ENTRY_HEADER_BYTES];
    memcpy(bad, bytes, sizeof(bad));
    wal_header_poke(bad, 56, 5, 8); /* A sequence without the flag. */
    cr_assert_eq(sb_wal_entry_header_decode(bad, &decoded), SB_ECORRUPT);
    memcpy(bad, bytes, sizeof(bad));
    wal_header_poke(bad, 10, 2, 2); /* An unknown flag. */
    cr_assert_eq(sb_wal_entry_header_decode(bad, &decoded), SB_ECORRUPT);
    memcpy(bad, bytes, sizeof(bad));
    wal_header_poke(bad, 10, SB_WAL_ENTRY_FLAG_BEHIND, 2);
    wal_header_poke(bad, 56, 10, 8); /* Not below its own cycle. */
    cr_assert_eq(sb_wal_entry_header_decode(bad, &decoded), SB_ECORRUPT);
}
