/*
 * bench/sb_bench_driver_nats_none.c - the NATS driver when sb-bench was built
 * without libnats (libnats-dev): every call says so.
 */
#include <errno.h>
#include <stdio.h>

#include "bench/sb_bench.h"

static int
nats_none_open(const struct sb_bench_config *config, void **state_out)
{
    (void)config;
    (void)state_out;
    fprintf(stderr, "sb-bench: built without libnats (install libnats-dev, rebuild)\n");
    return -ENOTSUP;
}

const struct sb_bench_driver sb_bench_driver_nats = {
    .name = "nats",
    .open = nats_none_open,
};
