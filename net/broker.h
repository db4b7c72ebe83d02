/*
 * net/broker.h - the StreamBus broker as a library call, used by the
 * `streambus` binary (net/main.c) and by tests that run a broker in-process.
 */
#ifndef SB_NET_BROKER_H
#define SB_NET_BROKER_H

#include "net/config.h"

/* Runs a broker until SIGINT or SIGTERM (then stops cleanly) or a fatal error. Returns 0 after
 * a clean stop, or a negative error (already logged). */
int sb_broker_run(const struct sb_broker_config *config);

#endif /* SB_NET_BROKER_H */
