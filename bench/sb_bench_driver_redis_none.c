/*
 * bench/sb_bench_driver_redis_none.c - the Redis driver when sb-bench was built
 * without hiredis (libhiredis-dev): every call says so.
 */
#include <errno.h>
#include <stdio.h>

#include "bench/sb_bench.h"

static int
redis_none_open(const struct sb_bench_config *config, void **state_out)
{
    (void)config;
    (void)state_out;
    fprintf(stderr, "sb-bench: built without hiredis (install libhiredis-dev, rebuild)\n");
    return -ENOTSUP;
}

const struct sb_bench_driver sb_bench_driver_redis = {
    .name = "redis",
    .open = redis_none_open,
};
