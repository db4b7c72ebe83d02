/*
 * test/storage/fixture.h - a store on its own io, timers and temporary data
 * directory, driven the way a shard drives it (iteration hook, io run,
 * timers), plus helpers that build record batches for tests.
 */
#ifndef SB_TEST_STORAGE_FIXTURE_H
#define SB_TEST_STORAGE_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/io.h"
#include "core/sim.h"
#include "core/timer.h"
#include "storage/store.h"

struct fixture {
    char data_dir[128];          /* Temporary directory, removed by fixture_destroy. */
    struct sb_sim *sim;          /* Simulator world, or NULL for io_uring. */
    struct sb_io *io;            /* The io. */
    struct sb_arena arena;       /* Timer heap memory. */
    struct sb_timer_heap timers; /* Timers the store arms. */
    struct sb_store_config config; /* Config used for every open. */
    struct sb_store *store;      /* Open store, or NULL. */
    struct sb_sim_faults faults; /* Simulator: the latencies fixture_init chose (no faults). */
};

/* Small, fast defaults: 1 MiB WAL files, 4 MiB memtable, 1 MiB cache. `sim_seed` 0: io_uring. */
void fixture_init(struct fixture *fixture, uint64_t sim_seed);
/* Opens the store (recovery included); returns sb_store_open's result. */
int fixture_open(struct fixture *fixture);
/* Shuts down cleanly (waits for idle) and closes. */
void fixture_close(struct fixture *fixture);
/* Closes without shutdown, as after a crash (nothing more is written). */
void fixture_crash(struct fixture *fixture);
/* Simulator only: cuts the power (every unsynced write undone or torn, per `mode`), frees the
 * store without any further I/O (the io is dead: nothing in flight ever completes), and joins
 * a fresh io to the same world, ready for fixture_open. Appends still waiting are told
 * SB_ESHUTDOWN. */
void fixture_power_loss(struct fixture *fixture, enum sb_sim_power_loss_mode mode);
/* Simulator only: sets fault rates on top of fixture_init's latencies (NULL: no faults). */
void fixture_set_faults(struct fixture *fixture, const struct sb_sim_faults *faults);
/* Tears everything down, removes the data directory. */
void fixture_destroy(struct fixture *fixture);
/* One shard-loop iteration: hook, io (waiting up to wait_ns), timers. */
void fixture_step(struct fixture *fixture, uint64_t wait_ns);
/* Steps until *flag is true or `steps_max` steps ran; returns *flag. */
bool fixture_run_until(struct fixture *fixture, const bool *flag, uint32_t steps_max);
/* Steps until the store is idle. */
void fixture_settle(struct fixture *fixture);

/* Builds a batch of `count` records "key-<n>" -> "value-<n>-<tag>" with timestamps
 * first_timestamp_ms + n into buffer; returns its bytes. */
uint32_t fixture_batch(uint8_t *buffer, uint32_t capacity, uint32_t count, uint64_t tag,
                       int64_t first_timestamp_ms);

/* Appends and waits until durable; returns the base offset or a negative error. */
int64_t fixture_append_durable(struct fixture *fixture, struct sb_partition *partition,
                               const uint8_t *batch, uint32_t bytes);

/* Reads synchronously (stepping the io as needed); returns the read's result. */
int fixture_read(struct fixture *fixture, struct sb_partition *partition, int64_t offset,
                 uint8_t *buffer, uint32_t capacity, uint32_t max_bytes, uint32_t *bytes_out);

#endif /* SB_TEST_STORAGE_FIXTURE_H */
