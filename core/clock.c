/*
 * core/clock.c - thin wrappers over clock_gettime (vDSO, no system call).
 */
#include "core/clock.h"

#include <time.h>

static uint64_t
clock_read_ns(clockid_t clock_id)
{
    struct timespec now;
    clock_gettime(clock_id, &now);
    return (uint64_t)now.tv_sec * SB_NS_PER_S + (uint64_t)now.tv_nsec;
}

uint64_t
sb_clock_monotonic_ns(void)
{
    return clock_read_ns(CLOCK_MONOTONIC);
}

uint64_t
sb_clock_realtime_ns(void)
{
    return clock_read_ns(CLOCK_REALTIME);
}
