/*
 * bench/sb_bench_generator.c - is sb-bench itself the bottleneck? It samples the CPU
 * time of every thread of the process (/proc/self/task/TID/stat, utime + stime, in
 * clock ticks) at the end of the warm-up and when sending stops, and judges the
 * sending window between them:
 *
 *   busiest_thread = max over threads of (CPU time in the window / window)
 *   threads_busy   = threads with that share >= SB_BENCH_BUSY_SHARE
 *   cores          = CPU time of every thread in the window / window
 *   bound          = judged and (busiest_thread >= SB_BENCH_BUSY_SHARE or
 *                    cores >= SB_BENCH_BUSY_SHARE * cores_allowed)
 *   judged         = window >= SB_BENCH_JUDGE_WINDOW_S (ticks are 10 ms: <= 1 % error)
 *   behind         = open loop: (due - sent) / due when sending stopped; > SB_BENCH_BEHIND_SHARE
 *                    is reported apart (the generator, or the client's backpressure)
 *
 * A thread that was on a CPU for (nearly) the whole window could not have sent more,
 * whatever the broker did; nor could a process that used every CPU it may run on. The
 * pure parts (sb_bench_stat_ticks, sb_bench_generator_judge) are tested with
 * synthetic input (test/bench/test_sb_bench_generator.c), as is sb_bench_pace_due, the
 * open loop's schedule. Start at sb_bench_cpu_sample.
 */
#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/sb_bench.h"

/* Bytes of a /proc stat line read (the fields used come long before). */
#define STAT_LINE_BYTES 1024
/* utime and stime are the 14th and 15th fields: the 12th and 13th after "(comm) ". */
#define STAT_UTIME_AFTER_COMM 11

/* Open loop: messages whose intended time (first_ns + sequence * interval_ns) is at
 * most now_ns. Closed loop (interval 0): no bound. */
uint64_t
sb_bench_pace_due(uint64_t first_ns, double interval_ns, uint64_t now_ns)
{
    if (interval_ns <= 0) {
        return UINT64_MAX;
    }
    if (now_ns < first_ns) {
        return 0;
    }
    return (uint64_t)((double)(now_ns - first_ns) / interval_ns) + 1;
}

int
sb_bench_stat_ticks(const char *line, uint64_t *ticks_out)
{
    const char *at = strrchr(line, ')');
    if (at == NULL) {
        return -EBADMSG;
    }
    at++;
    uint64_t fields[2];
    for (int field = 0; field <= STAT_UTIME_AFTER_COMM + 1; field++) {
        while (*at == ' ') {
            at++;
        }
        if (*at == '\0' || *at == '\n') {
            return -EBADMSG;
        }
        char *end = NULL;
        unsigned long long value = strtoull(at, &end, 10);
        if (field >= STAT_UTIME_AFTER_COMM) {
            if (end == at || (*end != ' ' && *end != '\n' && *end != '\0')) {
                return -EBADMSG;
            }
            fields[field - STAT_UTIME_AFTER_COMM] = value;
        }
        at = strchr(at, ' ');
        at = at != NULL ? at : "";
    }
    *ticks_out = fields[0] + fields[1];
    return 0;
}

/* Reads one thread's CPU ticks from task_directory/TID/stat; -errno or -EBADMSG. */
static int
thread_ticks(const char *task_directory, const char *tid, uint64_t *ticks_out)
{
    char path[512];
    char line[STAT_LINE_BYTES];
    snprintf(path, sizeof(path), "%s/%s/stat", task_directory, tid);
    FILE *file = fopen(path, "r");
    if (file == NULL) {
        return -errno;
    }
    char *read = fgets(line, sizeof(line), file);
    fclose(file);
    return read != NULL ? sb_bench_stat_ticks(line, ticks_out) : -EBADMSG;
}

int
sb_bench_cpu_sample(struct sb_bench_cpu_sample *sample, const char *task_directory)
{
    DIR *directory = opendir(task_directory);
    if (directory == NULL) {
        return -errno;
    }
    sample->at_ns = sb_bench_now_ns();
    sample->count = 0;
    sample->ticks_per_s = (uint32_t)sysconf(_SC_CLK_TCK);
    struct dirent *entry;
    while ((entry = readdir(directory)) != NULL && sample->count < SB_BENCH_SAMPLE_THREADS_MAX) {
        uint64_t ticks;
        if (entry->d_name[0] == '.' || thread_ticks(task_directory, entry->d_name, &ticks) < 0) {
            continue; /* Gone since readdir (or unreadable): it no longer counts. */
        }
        sample->threads[sample->count].tid = atoi(entry->d_name);
        sample->threads[sample->count].ticks = ticks;
        sample->count++;
    }
    closedir(directory);
    return 0;
}

uint32_t
sb_bench_cores_allowed(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) != 0) {
        long online = sysconf(_SC_NPROCESSORS_ONLN);
        return online > 0 ? (uint32_t)online : 1;
    }
    return (uint32_t)CPU_COUNT(&set);
}

/* The ticks of tid in sample, 0 when it did not exist yet. */
static uint64_t
sample_ticks(const struct sb_bench_cpu_sample *sample, int32_t tid)
{
    for (uint32_t index = 0; index < sample->count; index++) {
        if (sample->threads[index].tid == tid) {
            return sample->threads[index].ticks;
        }
    }
    return 0;
}

void
sb_bench_generator_judge(struct sb_bench_generator *generator,
                         const struct sb_bench_cpu_sample *start,
                         const struct sb_bench_cpu_sample *end)
{
    double window_s = end->at_ns > start->at_ns ? (double)(end->at_ns - start->at_ns) / 1e9 : 0;
    double ticks_per_s = end->ticks_per_s > 0 ? end->ticks_per_s : 100;
    double total_s = 0;
    generator->window_s = window_s;
    generator->busiest_thread = 0;
    generator->threads_busy = 0;
    for (uint32_t index = 0; index < end->count && window_s > 0; index++) {
        uint64_t before = sample_ticks(start, end->threads[index].tid);
        uint64_t ticks = end->threads[index].ticks;
        double share = (double)(ticks > before ? ticks - before : 0) / ticks_per_s / window_s;
        total_s += share * window_s;
        generator->busiest_thread = share > generator->busiest_thread ? share
                                                                       : generator->busiest_thread;
        generator->threads_busy += share >= SB_BENCH_BUSY_SHARE;
    }
    generator->cores = window_s > 0 ? total_s / window_s : 0;
    generator->behind = generator->due > generator->sent && generator->due != UINT64_MAX
                            ? (double)(generator->due - generator->sent) / (double)generator->due
                            : 0;
    generator->judged = window_s >= SB_BENCH_JUDGE_WINDOW_S;
    generator->bound = generator->judged &&
                       (generator->busiest_thread >= SB_BENCH_BUSY_SHARE ||
                        generator->cores >= SB_BENCH_BUSY_SHARE * generator->cores_allowed);
    generator->schedule_behind = generator->behind > SB_BENCH_BEHIND_SHARE;
}
