/*
 * core/clock.h - monotonic and wall clocks in nanoseconds. Shards read time
 * through their io (sb_io_now_ns) so the simulator can substitute virtual
 * time; these are the real clocks behind the io_uring backend.
 */
#ifndef SB_CORE_CLOCK_H
#define SB_CORE_CLOCK_H

#include <stdint.h>

#define SB_NS_PER_US 1000ull
#define SB_NS_PER_MS 1000000ull
#define SB_NS_PER_S 1000000000ull

/* CLOCK_MONOTONIC in nanoseconds: never jumps, meaningless across reboots. */
uint64_t sb_clock_monotonic_ns(void);
/* CLOCK_REALTIME in nanoseconds since the Unix epoch (record timestamps). */
uint64_t sb_clock_realtime_ns(void);

#endif /* SB_CORE_CLOCK_H */
