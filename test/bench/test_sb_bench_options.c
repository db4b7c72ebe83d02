/*
 * test/bench/test_sb_bench_options.c - sb-bench's command line without a broker:
 * --rate is a message count per second (a million is accepted, as is the documented
 * maximum; zero, fractions, negative values and anything above the maximum are
 * refused), --verify-against belongs to consume only, and --group to the modes with
 * consumers (consume, e2e), with --commit sync|async, a bounded --commit-interval-ms and
 * --join-timeout in seconds; --pace-us is 0 .. 10000 microseconds (100 by default).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bench/sb_bench.h"

/* Parses "sb-bench mode" followed by flag and value. */
static int
parse_with(const char *mode, const char *flag, const char *value,
           struct sb_bench_config *config)
{
    char *argv[] = {"sb-bench", (char *)mode, (char *)flag, (char *)value, NULL};
    freopen("/dev/null", "w", stderr);
    return sb_bench_options_parse(config, 4, argv);
}

Test(sb_bench_options, rate_accepts_a_million_messages_per_second)
{
    struct sb_bench_config config;
    cr_assert_eq(parse_with("produce", "--rate", "1000000", &config), 0);
    cr_assert_eq(config.rate, 1000000.0);
    cr_assert_eq(parse_with("e2e", "--rate", "1", &config), 0);
    cr_assert_eq(config.rate, 1.0);
    char maximum[32];
    snprintf(maximum, sizeof(maximum), "%llu", (unsigned long long)SB_BENCH_RATE_MAX);
    cr_assert_eq(parse_with("produce", "--rate", maximum, &config), 0);
    cr_assert_eq(config.rate, (double)SB_BENCH_RATE_MAX);
}

Test(sb_bench_options, rate_refuses_what_is_not_a_count_in_range)
{
    static const char *const bad[] = {"0", "-5", "2.5", "1e6", "", "abc", "100000001",
                                      "99999999999999999999999"};
    for (size_t index = 0; index < sizeof(bad) / sizeof(bad[0]); index++) {
        struct sb_bench_config config;
        cr_assert_eq(parse_with("produce", "--rate", bad[index], &config), -EINVAL,
                     "--rate '%s' accepted", bad[index]);
    }
}

Test(sb_bench_options, verify_against_is_for_consume_only)
{
    struct sb_bench_config config;
    cr_assert_eq(parse_with("consume", "--verify-against", "produce.json", &config), 0);
    cr_assert_str_eq(config.verify_against, "produce.json");
    cr_assert_eq(parse_with("produce", "--verify-against", "produce.json", &config), -EINVAL);
    cr_assert_eq(parse_with("e2e", "--verify-against", "produce.json", &config), -EINVAL);
}

Test(sb_bench_options, group_is_for_modes_with_consumers)
{
    struct sb_bench_config config;
    cr_assert_eq(parse_with("consume", "--group", "g", &config), 0);
    cr_assert_str_eq(config.group, "g");
    cr_assert_eq(config.commit, SB_BENCH_COMMIT_ASYNC);
    cr_assert_eq(config.commit_interval_ms, 100);
    cr_assert_eq(parse_with("e2e", "--group", "g", &config), 0);
    cr_assert_eq(parse_with("produce", "--group", "g", &config), -EINVAL);
    cr_assert_eq(parse_with("ping", "--group", "g", &config), -EINVAL);
    cr_assert_eq(parse_with("consume", "--group", "", &config), -EINVAL);
    char long_id[SB_BENCH_GROUP_ID_BYTES_MAX + 2];
    memset(long_id, 'g', sizeof(long_id) - 1);
    long_id[sizeof(long_id) - 1] = '\0';
    cr_assert_eq(parse_with("consume", "--group", long_id, &config), -EINVAL);
    char *no_consumers[] = {"sb-bench", "e2e", "--group", "g", "--consumers", "0", NULL};
    cr_assert_eq(sb_bench_options_parse(&config, 6, no_consumers), -EINVAL);
}

Test(sb_bench_options, commit_mode_and_interval)
{
    struct sb_bench_config config;
    char *sync[] = {"sb-bench", "consume", "--group", "g", "--commit", "sync",
                    "--commit-interval-ms", "0", NULL};
    cr_assert_eq(sb_bench_options_parse(&config, 8, sync), 0);
    cr_assert_eq(config.commit, SB_BENCH_COMMIT_SYNC);
    cr_assert_eq(config.commit_interval_ms, 0);
    cr_assert_eq(parse_with("consume", "--commit", "async", &config), 0);
    cr_assert_eq(config.commit, SB_BENCH_COMMIT_ASYNC);
    cr_assert_eq(parse_with("consume", "--commit", "auto", &config), -EINVAL);
    cr_assert_eq(parse_with("consume", "--commit-interval-ms", "60001", &config), -EINVAL);
    cr_assert_eq(parse_with("consume", "--commit-interval-ms", "-1", &config), -EINVAL);
    cr_assert_eq(config.join_timeout_s, 60);
    cr_assert_eq(parse_with("e2e", "--join-timeout", "0.5", &config), 0);
    cr_assert_eq(config.join_timeout_s, 0.5);
    cr_assert_eq(parse_with("e2e", "--join-timeout", "-1", &config), -EINVAL);
}

Test(sb_bench_options, pace_us_is_bounded)
{
    struct sb_bench_config config;
    cr_assert_eq(parse_with("produce", "--rate", "10", &config), 0);
    cr_assert_eq(config.pace_us, SB_BENCH_PACE_US_DEFAULT);
    cr_assert_eq(parse_with("produce", "--pace-us", "0", &config), 0);
    cr_assert_eq(config.pace_us, 0);
    cr_assert_eq(parse_with("e2e", "--pace-us", "10000", &config), 0);
    cr_assert_eq(config.pace_us, 10000);
    cr_assert_eq(parse_with("produce", "--pace-us", "10001", &config), -EINVAL);
    cr_assert_eq(parse_with("produce", "--pace-us", "-1", &config), -EINVAL);
}
