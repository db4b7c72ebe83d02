/*
 * broker/broker.h - the StreamBus broker as a library call, used by the
 * `streambus` binary (broker/main.c), by tests that run a broker in-process,
 * and by the simulator (test/sim/sb-sim), which runs every shard of a broker
 * on its own thread in virtual time.
 *
 * The I/O backend follows from the `sim` argument of sb_broker_start: NULL
 * starts one io_uring thread per shard; a world (core/sim.h) starts the shards
 * on the sim backend, where nothing runs until the caller steps them:
 *
 *   sb_broker_start(&config, sim, &broker);
 *   while (sb_broker_step(broker)) { ...drive clients, faults... }
 *   sb_broker_end(broker);    // after sb_broker_stop, or after sb_sim_power_loss
 */
#ifndef SB_BROKER_BROKER_H
#define SB_BROKER_BROKER_H

#include <stdbool.h>

#include "broker/config.h"

struct sb_broker;
struct sb_sim;

/* Runs a broker until SIGINT or SIGTERM (then stops cleanly) or a fatal error. Returns 0 after
 * a clean stop, or a negative error (already logged). */
int sb_broker_run(const struct sb_broker_config *config);

/* Loads (or creates) the data directory and starts the shards: their threads (sim NULL) or,
 * on the sim backend, their start hooks on the caller's thread. The main port opens in the
 * first iteration. Returns 0 or a negative error (already logged; nothing is left running). */
int sb_broker_start(const struct sb_broker_config *config, struct sb_sim *sim,
                    struct sb_broker **broker_out);
/* Sim backend: one iteration of every shard, then virtual time moves to the next event if
 * none had work. Returns false once every shard has ended (after a stop or a fatal error). */
bool sb_broker_step(struct sb_broker *broker);
/* Asks the broker to stop cleanly: no new connections, requests in flight are finished. */
void sb_broker_stop(struct sb_broker *broker);
/* Waits for the shards to end (io_uring), or, on the sim backend after sb_sim_power_loss,
 * abandons them as a crash would; then frees the broker. Returns 0 after a clean stop, or the
 * first fatal error. */
int sb_broker_end(struct sb_broker *broker);

#endif /* SB_BROKER_BROKER_H */
