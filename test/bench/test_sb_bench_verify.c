/*
 * test/bench/test_sb_bench_verify.c - sb-bench's verifier without a broker: records
 * missing at the start, at the end and in the middle of a producer's acknowledged
 * range count as lost (against the range of a produce run, as consume
 * --verify-against does, and against the acknowledged bitmap, as e2e does);
 * duplicates and reordering are counted apart and hide no loss; the reference file
 * is read back from the JSON layout sb_bench_report.c writes, and a malformed one
 * is refused.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/sb_bench.h"

#define PRODUCER 7u
#define PARTITIONS 4u
#define SEQUENCES 100u

/* A verifier that got sequences [first, end) of PRODUCER, round-robin over partitions. */
static struct sb_bench_verify *
deliver_range(uint64_t first, uint64_t end)
{
    struct sb_bench_verify *verify = sb_bench_verify_new(PARTITIONS);
    cr_assert_not_null(verify);
    for (uint64_t sequence = first; sequence < end; sequence++) {
        sb_bench_verify_deliver(verify, PRODUCER, sequence, (uint32_t)(sequence % PARTITIONS));
    }
    return verify;
}

/* Lost against the produce run's range [0, SEQUENCES), every one acknowledged. */
static uint64_t
lost_against_range(struct sb_bench_verify *verify)
{
    struct sb_bench_acknowledged range = {
        .producer_id = PRODUCER, .first = 0, .last = SEQUENCES - 1, .count = SEQUENCES};
    return sb_bench_verify_lost_range(verify, &range);
}

/* Lost against an acknowledged bitmap of [0, SEQUENCES), as e2e counts it. */
static uint64_t
lost_against_acked(struct sb_bench_verify *verify)
{
    struct sb_bench_bitmap acked;
    memset(&acked, 0, sizeof(acked));
    for (uint64_t sequence = 0; sequence < SEQUENCES; sequence++) {
        sb_bench_bitmap_set(&acked, sequence);
    }
    uint64_t lost = sb_bench_verify_lost_acked(verify, PRODUCER, &acked, SEQUENCES);
    sb_bench_bitmap_free(&acked);
    return lost;
}

Test(sb_bench_verify, loss_at_the_start_is_counted)
{
    struct sb_bench_verify *verify = deliver_range(10, SEQUENCES);
    cr_assert_eq(lost_against_range(verify), 10);
    cr_assert_eq(lost_against_acked(verify), 10);
    sb_bench_verify_free(verify);
}

Test(sb_bench_verify, loss_at_the_end_is_counted)
{
    struct sb_bench_verify *verify = deliver_range(0, SEQUENCES - 10);
    cr_assert_eq(lost_against_range(verify), 10);
    cr_assert_eq(lost_against_acked(verify), 10);
    sb_bench_verify_free(verify);
}

Test(sb_bench_verify, loss_in_the_middle_is_counted)
{
    struct sb_bench_verify *verify = deliver_range(0, 40);
    for (uint64_t sequence = 47; sequence < SEQUENCES; sequence++) {
        sb_bench_verify_deliver(verify, PRODUCER, sequence, (uint32_t)(sequence % PARTITIONS));
    }
    cr_assert_eq(lost_against_range(verify), 7);
    cr_assert_eq(lost_against_acked(verify), 7);
    cr_assert_eq(sb_bench_verify_lost_gaps(verify), 7);
    sb_bench_verify_free(verify);
}

Test(sb_bench_verify, nothing_delivered_loses_the_whole_range)
{
    struct sb_bench_verify *verify = sb_bench_verify_new(PARTITIONS);
    cr_assert_eq(lost_against_range(verify), SEQUENCES);
    cr_assert_eq(lost_against_acked(verify), SEQUENCES);
    sb_bench_verify_free(verify);
}

Test(sb_bench_verify, duplicates_are_counted_and_hide_no_loss)
{
    struct sb_bench_verify *verify = deliver_range(0, SEQUENCES - 5);
    for (uint64_t sequence = 50; sequence < 60; sequence++) {
        sb_bench_verify_deliver(verify, PRODUCER, sequence, (uint32_t)(sequence % PARTITIONS));
    }
    cr_assert_eq(atomic_load(&verify->duplicated), 10);
    cr_assert_eq(lost_against_range(verify), 5);
    cr_assert_eq(atomic_load(&verify->out_of_order), 0);
    sb_bench_verify_free(verify);
}

Test(sb_bench_verify, reorder_within_a_partition_is_counted_and_loses_nothing)
{
    struct sb_bench_verify *verify = sb_bench_verify_new(PARTITIONS);
    for (uint64_t sequence = SEQUENCES; sequence-- > 0;) {
        sb_bench_verify_deliver(verify, PRODUCER, sequence, 0);
    }
    cr_assert_eq(atomic_load(&verify->out_of_order), SEQUENCES - 1);
    cr_assert_eq(atomic_load(&verify->duplicated), 0);
    cr_assert_eq(lost_against_range(verify), 0);
    sb_bench_verify_free(verify);
}

Test(sb_bench_verify, range_with_failed_sends_counts_only_acknowledged)
{
    /* 100 sent, 90 acknowledged, 80 delivered: at least 10 acknowledged were lost. */
    struct sb_bench_verify *verify = deliver_range(0, 80);
    struct sb_bench_acknowledged range = {
        .producer_id = PRODUCER, .first = 0, .last = SEQUENCES - 1, .count = 90};
    cr_assert_eq(sb_bench_verify_lost_range(verify, &range), 10);
    range.first = 64; /* A range starting inside a bitmap word. */
    range.last = 70;
    range.count = 7;
    cr_assert_eq(sb_bench_verify_lost_range(verify, &range), 0);
    sb_bench_verify_free(verify);
}

/* Writes text to a fresh file and loads it as a reference; returns the result. */
static int
load_text(const char *text, struct sb_bench_reference *reference)
{
    char path[] = "/tmp/sb-bench-reference-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    int result = sb_bench_reference_load(path, reference);
    unlink(path);
    return result;
}

Test(sb_bench_verify, reference_reads_a_produce_runs_ranges)
{
    struct sb_bench_reference reference;
    cr_assert_eq(load_text("{\"lost\": 0,\n  \"acknowledged\": [\n    {\"producer\": 5, "
                           "\"first\": 0, \"last\": 99, \"count\": 100},\n    {\"producer\": 6, "
                           "\"first\": 3, \"last\": 9, \"count\": 6}],\n  \"series\": []}",
                           &reference), 0);
    cr_assert_eq(reference.count, 2);
    cr_assert_eq(reference.producers[0].producer_id, 5);
    cr_assert_eq(reference.producers[0].last, 99);
    cr_assert_eq(reference.producers[1].first, 3);
    cr_assert_eq(reference.producers[1].count, 6);
    sb_bench_reference_free(&reference);
    cr_assert_eq(load_text("\"acknowledged\": [],", &reference), 0);
    cr_assert_eq(reference.count, 0);
}

Test(sb_bench_verify, reference_refuses_malformed_ranges)
{
    static const char *const bad[] = {
        "{}",
        "\"acknowledged\": [{\"producer\": 5, \"first\": 9, \"last\": 3, \"count\": 1}]",
        "\"acknowledged\": [{\"producer\": 5, \"first\": 0, \"last\": 3, \"count\": 5}]",
        "\"acknowledged\": [{\"producer\": 5, \"first\": 0, \"last\": 3, \"count\": 0}]",
        ("\"acknowledged\": [{\"producer\": 5, \"first\": 0, \"last\": 99999999999, "
         "\"count\": 1}]"),
        "\"acknowledged\": [{\"producer\": 5, \"first\": 0, \"last\": 3, \"count\": 4}",
    };
    for (size_t index = 0; index < sizeof(bad) / sizeof(bad[0]); index++) {
        struct sb_bench_reference reference;
        cr_assert_eq(load_text(bad[index], &reference), -EBADMSG, "accepted: %s", bad[index]);
        cr_assert_null(reference.producers);
    }
    struct sb_bench_reference reference;
    cr_assert_eq(sb_bench_reference_load("/nonexistent/sb-bench.json", &reference), -ENOENT);
}
