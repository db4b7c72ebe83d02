/*
 * core/sim.h - the deterministic simulation world behind the `sim` io backend.
 *
 * A world holds a virtual clock, a seeded random generator, simulated TCP
 * sockets (in memory, with seeded delays and resets) and the bookkeeping for
 * real files: every write not yet covered by an fsync is remembered with the
 * bytes it overwrote, so sb_sim_power_loss can put each file back the way a
 * power cut would leave it. Any number of ios may join one world (one per
 * simulated shard); all of them must be driven from one thread.
 *
 * Determinism: with the same seed, configuration and sequence of calls, the
 * same completions happen at the same virtual times in the same order, and
 * sb_sim_trace_hash returns the same value. Each completion is folded into
 * the hash (virtual time, op kind, fd number, result).
 *
 * Time only moves when an io runs with nothing ready: sb_io_run(io, wait)
 * jumps the clock to the earlier of its next event and now + wait. A driver
 * of several ios calls sb_io_run(io, 0) on each, then sb_sim_advance.
 */
#ifndef SB_CORE_SIM_H
#define SB_CORE_SIM_H

#include <stdbool.h>
#include <stdint.h>

#include "core/io.h"

struct sb_sim;

/* Fault rates are in parts per million of eligible operations. */
struct sb_sim_faults {
    /* WRITE_DSYNC draws the WRITE rates, then (once it landed) fsync_error_ppm, and takes two
     * disk latencies plus sync_latency_extra_ns; it is durable only if it passes both. */
    uint32_t write_error_ppm;      /* WRITE/WRITEV fails with -EIO, nothing written. */
    uint32_t write_nospace_ppm;    /* WRITE/WRITEV fails with -ENOSPC, nothing written. */
    uint32_t write_short_ppm;      /* WRITE/WRITEV writes a 512-byte-aligned prefix only. */
    uint32_t read_error_ppm;       /* READ fails with -EIO. */
    uint32_t fsync_error_ppm;      /* FSYNC/FDATASYNC/SYNCFS fails with -EIO; nothing becomes
                                      durable. */
    uint32_t connection_reset_ppm; /* A SEND resets its connection (both ends see -ECONNRESET). */
    uint64_t disk_latency_min_ns;  /* Each disk op completes after a uniform delay in */
    uint64_t disk_latency_max_ns;  /*   [min, max]. */
    uint64_t sync_latency_extra_ns; /* FSYNC/FDATASYNC/SYNCFS complete this much later still (a
                                       sync waits for the device; a buffered write does not). */
    uint64_t net_latency_min_ns;   /* Bytes sent arrive after a uniform delay in [min, max], */
    uint64_t net_latency_max_ns;   /*   never before bytes sent earlier on the same socket. */
};

struct sb_sim_config {
    uint64_t seed;               /* Same seed, same run. */
    struct sb_sim_faults faults; /* All zero: no faults, zero latency. */
};

/* One-shot fault: the `nth` (1-based) eligible op of `kind` from now on fails with `error`
 * (e.g. -EIO, -ENOSPC). Used by "fail the Nth op" loops. kind is WRITE, WRITEV, READ, FSYNC,
 * FDATASYNC, SYNCFS or OPENAT (WRITE also matches WRITEV, FSYNC also matches FDATASYNC; SYNCFS
 * and OPENAT only themselves). A WRITE_DSYNC counts as a WRITE, and, once it landed, as an
 * FSYNC (a failure there leaves it landed, unsynced). A write-back fault is reported by the
 * next FSYNC of its file, the next WRITE_DSYNC of its file, or the next SYNCFS. */
struct sb_sim_fault_once {
    enum sb_io_op_kind kind;
    uint32_t nth;
    int32_t error;
    /* WRITE only: the write lands and succeeds, but its write-back fails, as a page-cache
     * write's can: the first fsync of the file executed after it (whoever issued it) returns
     * `error` once, makes nothing durable, and puts the write's old bytes back on disk. Linux
     * reports a write-back error to one fsync per open file. (Not modelled, asserted
     * against: a later unsynced write over the same bytes before that fsync.) */
    bool writeback;
};

enum sb_sim_power_loss_mode {
    SB_SIM_LOSE_UNSYNCED = 0, /* Every write since the file's last fsync is undone. */
    SB_SIM_TEAR_UNSYNCED = 1, /* Each such write keeps a seeded 512-byte-aligned prefix. */
    SB_SIM_GARBLE_UNSYNCED = 2, /* As TEAR, and the sector after the kept prefix (the one being
                                   written at the cut) holds seeded garbage, neither its old
                                   nor its new bytes: even an identical overwrite is lost. */
};

int sb_sim_create(const struct sb_sim_config *config, struct sb_sim **sim_out);
/* Frees the world. Ios that joined it must be destroyed first. */
void sb_sim_destroy(struct sb_sim *sim);

uint64_t sb_sim_now_ns(const struct sb_sim *sim);
/* Moves the clock to the earliest pending event of any io or the alarm (returns false if there
 * is neither). */
bool sb_sim_advance(struct sb_sim *sim);
/* Moves the clock forward by `delta_ns` (timers and delays elapse), or only to the alarm. */
void sb_sim_sleep(struct sb_sim *sim, uint64_t delta_ns);
/* For a driver with deadlines of its own (simulated clients): time, however it moves
 * (sb_sim_advance, sb_sim_sleep, a waiting sb_io_run), stops at `at_ns` first, as at an event.
 * One alarm: a later call replaces it; it clears once reached; at or before now: none. */
void sb_sim_alarm(struct sb_sim *sim, uint64_t at_ns);

/* The seeded generator, for tests and drivers that need reproducible choices. */
uint64_t sb_sim_random(struct sb_sim *sim);

/* Arms a one-shot fault; up to 16 may be armed at once. Returns 0 or -ENOSPC. */
int sb_sim_fault_once(struct sb_sim *sim, const struct sb_sim_fault_once *fault);
/* One-shot faults armed and not yet fired (a test's proof that its faults were hit). */
uint32_t sb_sim_faults_once_armed(const struct sb_sim *sim);
/* Replaces the fault rates (e.g. to clear them so writes resume). */
void sb_sim_set_faults(struct sb_sim *sim, const struct sb_sim_faults *faults);

/* Simulates a power cut on every file written through this world: undoes (or tears, or
 * garbles) each unsynced write, newest first, and truncates files back to their last synced
 * size. In-flight ops are not completed, nor are ops started afterwards on those ios (code
 * tearing down the crashed shards may start some); the ios must be destroyed afterwards.
 * Returns 0 or -errno. */
int sb_sim_power_loss(struct sb_sim *sim, enum sb_sim_power_loss_mode mode);

/* Hash of every completion so far (see "Determinism" above). */
uint64_t sb_sim_trace_hash(const struct sb_sim *sim);
/* Completions so far. */
uint64_t sb_sim_trace_count(const struct sb_sim *sim);

#endif /* SB_CORE_SIM_H */
