/*
 * test/sim/sb_sim.c - `sb-sim --seed S [--steps K] [--keep] [--log-level L]`:
 * the whole broker in the deterministic simulator, with simulated clients and
 * seeded faults, checking the broker's promises (docs/testing.md).
 *
 * Output: on a violation, what broke and the command that reproduces it;
 * always, as the last line,
 *   seed=S steps=K shards=N crashes=C acked_all=A acked_one=B read=R
 *   virtual_ms=T result=ok|FAIL trace=HEX
 * The same seed and steps give the same line. Exit status: 0 if every
 * invariant held, 1 on a violation, 2 on bad usage or a set-up failure.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "test/sim/sim_world.h"

#define SB_SIM_STEPS_DEFAULT 4000u

static void
usage(FILE *out)
{
    fprintf(out, "usage: sb-sim --seed S [--steps K] [--keep] [--log-level debug|info|warn|"
                 "error]\n"
                 "  Runs the broker in the simulator with seeded clients and faults; prints\n"
                 "  seed=S steps=K ... trace=HEX last (the same for the same seed).\n"
                 "  --steps K   steps of traffic before the final check (default %u)\n"
                 "  --keep      leave the data directory (its path is printed)\n",
            SB_SIM_STEPS_DEFAULT);
}

static int
parse_u64(const char *text, uint64_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long value = strtoull(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || text[0] == '-') {
        return -EINVAL;
    }
    *out = value;
    return 0;
}

struct options {
    uint64_t seed;               /* --seed. */
    bool seed_given;             /* --seed was given. */
    uint64_t steps;              /* --steps. */
    bool keep;                   /* --keep. */
    enum sb_log_level log_level; /* --log-level. */
};

static int
parse_args(int argc, char **argv, struct options *options)
{
    options->steps = SB_SIM_STEPS_DEFAULT;
    options->log_level = SB_LOG_ERROR;
    for (int index = 1; index < argc; index++) {
        const char *arg = argv[index];
        const char *value = index + 1 < argc ? argv[index + 1] : NULL;
        int result = 0;
        if (strcmp(arg, "--seed") == 0 && value != NULL) {
            result = parse_u64(value, &options->seed);
            options->seed_given = true;
            index++;
        } else if (strcmp(arg, "--steps") == 0 && value != NULL) {
            result = parse_u64(value, &options->steps);
            index++;
        } else if (strcmp(arg, "--log-level") == 0 && value != NULL) {
            result = sb_log_level_parse(value, &options->log_level);
            index++;
        } else if (strcmp(arg, "--keep") == 0) {
            options->keep = true;
        } else if (strcmp(arg, "--help") == 0) {
            usage(stdout);
            exit(0);
        } else {
            result = -EINVAL;
        }
        if (result != 0) {
            fprintf(stderr, "sb-sim: bad argument: %s\n", arg);
            return -EINVAL;
        }
    }
    return options->seed_given ? 0 : -EINVAL;
}

int
main(int argc, char **argv)
{
    struct options options;
    memset(&options, 0, sizeof(options));
    if (parse_args(argc, argv, &options) != 0) {
        usage(stderr);
        return 2;
    }
    sb_log_set_level(options.log_level);
    static struct sim_world world;
    world.keep_data = options.keep;
    world.log_level = options.log_level;
    int result = sim_world_create(&world, options.seed, options.steps);
    bool ok = result == 0 && sim_world_run(&world);
    if (result != 0 && !world.model.violated) {
        fprintf(stderr, "sb-sim: cannot set up seed %" PRIu64 ": error %d\n", options.seed,
                result);
        sim_world_destroy(&world);
        return 2;
    }
    if (!ok) {
        printf("sb-sim: invariant violated at step %" PRIu64 ": %s\n", world.step,
               world.model.violation);
        printf("reproduce: sb-sim --seed %" PRIu64 " --steps %" PRIu64 "\n", options.seed,
               options.steps);
    }
    if (options.keep) {
        printf("data directory: %s\n", world.data_dir);
    }
    printf("seed=%" PRIu64 " steps=%" PRIu64 " shards=%u crashes=%u acked_all=%" PRIu64
           " acked_one=%" PRIu64 " read=%" PRIu64 " groups=%u members=%u commits=%" PRIu64
           " virtual_ms=%" PRIu64 " result=%s trace=%016" PRIx64 "\n", options.seed,
           options.steps, world.shards, world.crashes, world.model.acked_all,
           world.model.acked_one, world.model.read, world.group_count, world.member_count,
           world.commits_acked,
           sb_sim_now_ns(world.sim) / (uint64_t)SB_NS_PER_MS, ok ? "ok" : "FAIL",
           sim_world_trace(&world));
    sim_world_destroy(&world);
    return ok ? 0 : 1;
}
