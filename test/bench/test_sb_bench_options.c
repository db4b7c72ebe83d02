/*
 * test/bench/test_sb_bench_options.c - sb-bench's command line without a broker:
 * --rate is a message count per second (a million is accepted, as is the documented
 * maximum; zero, fractions, negative values and anything above the maximum are
 * refused), and --verify-against belongs to consume only.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>

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
