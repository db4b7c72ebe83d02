/*
 * test/bench/test_sb_bench_generator.c - the rule that calls a run generator-bound, with
 * synthetic CPU samples (no timing): a thread on a CPU for >= 90 % of the sending window,
 * or a process using >= 90 % of the CPUs it may run on, is the bottleneck; less is not; a
 * window under a second is not judged; a thread missing from the first sample counts from
 * zero; the open loop is behind when more than 1 % of the due messages were not sent. The
 * /proc stat parser reads utime + stime after a command name holding spaces and ')', and
 * refuses lines without them; a sample skips threads whose stat is unreadable or garbled and
 * fails on a missing directory. The open loop's schedule counts the messages due.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench/sb_bench.h"

static struct sb_bench_cpu_sample start;
static struct sb_bench_cpu_sample end;

/* Two samples window_s apart; thread i used ticks[i] ticks (100 per second) in between. */
static void
samples_with(double window_s, const uint64_t *ticks, uint32_t count)
{
    memset(&start, 0, sizeof(start));
    memset(&end, 0, sizeof(end));
    start.at_ns = 1000000000u;
    end.at_ns = start.at_ns + (uint64_t)(window_s * 1e9);
    start.ticks_per_s = end.ticks_per_s = 100;
    for (uint32_t index = 0; index < count; index++) {
        start.threads[index].tid = end.threads[index].tid = (int32_t)(100 + index);
        start.threads[index].ticks = 500;
        end.threads[index].ticks = 500 + ticks[index];
    }
    start.count = end.count = count;
}

static struct sb_bench_generator
judged(uint32_t cores_allowed, uint64_t due, uint64_t sent)
{
    struct sb_bench_generator generator = {.cores_allowed = cores_allowed, .due = due,
                                           .sent = sent};
    sb_bench_generator_judge(&generator, &start, &end);
    return generator;
}

Test(sb_bench_generator, a_thread_busy_nearly_all_the_window_is_the_bottleneck)
{
    const uint64_t ticks[] = {190, 40, 10}; /* 95 %, 20 %, 5 % of 2 s. */
    samples_with(2.0, ticks, 3);
    struct sb_bench_generator generator = judged(2, UINT64_MAX, 0);
    cr_assert(generator.judged);
    cr_assert(generator.bound);
    cr_assert_eq(generator.threads_busy, 1);
    cr_assert_float_eq(generator.busiest_thread, 0.95, 1e-9);
    cr_assert_float_eq(generator.cores, 1.2, 1e-9);
}

Test(sb_bench_generator, a_process_using_every_allowed_cpu_is_the_bottleneck)
{
    const uint64_t ticks[] = {60, 60, 70}; /* No thread busy; 0.95 of one core. */
    samples_with(2.0, ticks, 3);
    struct sb_bench_generator generator = judged(1, UINT64_MAX, 0);
    cr_assert_eq(generator.threads_busy, 0);
    cr_assert(generator.bound);
    generator = judged(2, UINT64_MAX, 0); /* 0.95 of two cores is not. */
    cr_assert_not(generator.bound);
}

Test(sb_bench_generator, a_lightly_loaded_generator_is_not_the_bottleneck)
{
    const uint64_t ticks[] = {170, 2}; /* 85 %: under the 90 % line. */
    samples_with(2.0, ticks, 2);
    struct sb_bench_generator generator = judged(2, 1000, 1000);
    cr_assert(generator.judged);
    cr_assert_not(generator.bound);
    cr_assert_not(generator.schedule_behind);
    cr_assert_eq(generator.behind, 0);
}

Test(sb_bench_generator, a_window_under_a_second_is_not_judged)
{
    const uint64_t ticks[] = {50}; /* 100 % of 0.5 s. */
    samples_with(0.5, ticks, 1);
    struct sb_bench_generator generator = judged(1, UINT64_MAX, 0);
    cr_assert_not(generator.judged);
    cr_assert_not(generator.bound);
    cr_assert_float_eq(generator.busiest_thread, 1.0, 1e-9);
}

Test(sb_bench_generator, a_thread_started_after_the_first_sample_counts_from_zero)
{
    const uint64_t ticks[] = {10};
    samples_with(1.0, ticks, 1);
    end.threads[1].tid = 999;
    end.threads[1].ticks = 95; /* Not in the first sample: 95 % of the window. */
    end.count = 2;
    struct sb_bench_generator generator = judged(4, UINT64_MAX, 0);
    cr_assert(generator.bound);
    cr_assert_eq(generator.threads_busy, 1);
}

Test(sb_bench_generator, an_open_loop_more_than_one_percent_behind_is_flagged)
{
    const uint64_t ticks[] = {10};
    samples_with(2.0, ticks, 1);
    struct sb_bench_generator generator = judged(1, 1000, 989); /* 1.1 % unsent. */
    cr_assert(generator.schedule_behind);
    cr_assert_not(generator.bound);
    cr_assert_float_eq(generator.behind, 0.011, 1e-9);
    generator = judged(1, 1000, 990); /* 1 %: not more than the limit. */
    cr_assert_not(generator.schedule_behind);
    generator = judged(1, UINT64_MAX, 5); /* Closed loop: no schedule. */
    cr_assert_eq(generator.behind, 0);
}

Test(sb_bench_generator, stat_ticks_adds_utime_and_stime_after_the_command)
{
    uint64_t ticks = 0;
    const char *line = "4855 (a) b) c) R 4851 4851 24255 0 -1 4194304 99 0 0 0 37 5 0 0 20 0 "
                       "1 0 216575\n";
    cr_assert_eq(sb_bench_stat_ticks(line, &ticks), 0);
    cr_assert_eq(ticks, 42);
}

Test(sb_bench_generator, stat_ticks_refuses_lines_without_the_fields)
{
    uint64_t ticks = 7;
    cr_assert_eq(sb_bench_stat_ticks("4855 cat R 1 2 3", &ticks), -EBADMSG);
    cr_assert_eq(sb_bench_stat_ticks("4855 (cat) R 4851 4851 24255 0 -1 4194304 99 0 0 0\n",
                                     &ticks), -EBADMSG);
    cr_assert_eq(sb_bench_stat_ticks("1 (x) R 1 1 1 0 -1 0 0 0 0 0 abc 5 0\n", &ticks),
                 -EBADMSG);
    cr_assert_eq(ticks, 7);
}

Test(sb_bench_generator, a_sample_of_this_process_finds_this_thread)
{
    struct sb_bench_cpu_sample *sample = calloc(1, sizeof(*sample));
    cr_assert_eq(sb_bench_cpu_sample(sample, SB_BENCH_TASK_DIRECTORY), 0);
    cr_assert_geq(sample->count, 1);
    cr_assert_gt(sample->ticks_per_s, 0);
    cr_assert_geq(sb_bench_cores_allowed(), 1);
    free(sample);
}

/* Writes text to directory/tid/stat. */
static void
stat_file(const char *directory, const char *tid, const char *text)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", directory, tid);
    cr_assert_eq(mkdir(path, 0700), 0);
    snprintf(path, sizeof(path), "%s/%s/stat", directory, tid);
    FILE *file = fopen(path, "w");
    cr_assert_not_null(file);
    fputs(text, file);
    fclose(file);
}

/* The task directory of the next test; fini removes it even when an assertion fails first. */
static char task_directory[] = "/tmp/sb-bench-task-XXXXXX";

static void task_directory_remove(void)
{
    char command[128];
    snprintf(command, sizeof(command), "rm -rf %s", task_directory);
    cr_assert_eq(system(command), 0);
}

static void task_directory_create(void)
{
    cr_assert_not_null(mkdtemp(task_directory));
}

Test(sb_bench_generator, a_sample_skips_garbled_threads_and_fails_without_its_directory,
     .init = task_directory_create, .fini = task_directory_remove)
{
    stat_file(task_directory, "7", "7 (sb bench) S 1 1 1 0 -1 0 0 0 0 0 30 12 0 0\n");
    stat_file(task_directory, "8", "8 garbage\n");
    struct sb_bench_cpu_sample *sample = calloc(1, sizeof(*sample));
    cr_assert_eq(sb_bench_cpu_sample(sample, task_directory), 0);
    cr_assert_eq(sample->count, 1);
    cr_assert_eq(sample->threads[0].tid, 7);
    cr_assert_eq(sample->threads[0].ticks, 42);
    task_directory_remove();
    cr_assert_eq(sb_bench_cpu_sample(sample, task_directory), -ENOENT);
    free(sample);
}

Test(sb_bench_generator, pace_due_counts_the_messages_whose_time_has_come)
{
    cr_assert_eq(sb_bench_pace_due(1000, 10.0, 999), 0);
    cr_assert_eq(sb_bench_pace_due(1000, 10.0, 1000), 1);
    cr_assert_eq(sb_bench_pace_due(1000, 10.0, 1025), 3);
    cr_assert_eq(sb_bench_pace_due(1000, 10.0, 1030), 4);
    cr_assert_eq(sb_bench_pace_due(1000, 0, 5), UINT64_MAX);
}
