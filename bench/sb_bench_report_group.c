/*
 * bench/sb_bench_report_group.c - the figures of a --group run (sb_bench_group.c gathers
 * them): summary lines, and the JSON member
 *   group: null without --group, else {id, commit_mode ("sync"|"async"),
 *     commit_interval_ms, join_ms (first subscribe to this run's consumers holding every
 *     partition; null if never), settled_ms (first subscribe to the last partition move:
 *     the group's own rebalancing is over), after_settled {messages, msgs_per_s} (records
 *     delivered after the last move, and their rate up to the last delivery: throughput
 *     without the join; msgs_per_s null when none), assigned, revoked, lost (partitions
 *     moved by the callbacks, per kind), redelivered (records delivered again after a
 *     handover: not verified again, not in "consumed"), commit_errors (failed commits;
 *     those refused because the member was fenced are no error of the run), pauses_open
 *     (revoked partitions that delivered nothing since), partitions_held (at the end),
 *     partitions_by_consumer ([held by consumer i at the end]), events_dropped,
 *     commit, rebalance_pause, handover: latency objects as "latency"'s members,
 *     events: [{t_unix_us, consumer, event ("assigned"|"revoked"|"lost"), partition
 *       (global: topic index * partitions + partition), first_delivery_unix_us (assigned:
 *       wall time of its first record after the event, else null)}]}
 */
#include <stdio.h>

#include "bench/sb_bench.h"

static const char *const kind_names[] = {"assigned", "revoked", "lost"};

/* Revoked (or lost) partitions that delivered nothing since. */
static uint32_t
pauses_open(const struct sb_bench_group *group)
{
    uint32_t open = 0;
    for (uint32_t partition = 0; partition < group->partitions_total; partition++) {
        open += atomic_load(&group->revoked_ns[partition]) != 0;
    }
    return open;
}

/* Milliseconds from the first subscribe to at_ns, or null when at_ns is 0. */
static void
json_ms_since_subscribe(FILE *file, const struct sb_bench_group *group, uint64_t at_ns)
{
    if (at_ns != 0) {
        fprintf(file, "%.3f", (double)(at_ns - group->subscribe_ns) / 1e6);
    } else {
        fprintf(file, "null");
    }
}

/* Records delivered after the last partition move, and their rate to the last delivery. */
static void
json_after_settled(FILE *file, const struct sb_bench *bench)
{
    const struct sb_bench_group *group = bench->group;
    uint64_t messages = atomic_load(&bench->received_total) - group->received_settled;
    fprintf(file, ", \"after_settled\": {\"messages\": %llu, \"msgs_per_s\": ",
            (unsigned long long)messages);
    if (messages > 0 && bench->measure_end_ns > group->settled_ns) {
        fprintf(file, "%.1f}", messages / ((double)(bench->measure_end_ns - group->settled_ns) /
                                           1e9));
    } else {
        fprintf(file, "null}");
    }
}

void
sb_bench_group_summary(const struct sb_bench *bench)
{
    const struct sb_bench_group *group = bench->group;
    if (group == NULL) {
        return;
    }
    printf("\ngroup %s: ", bench->config.group);
    if (group->join_ns != 0) {
        printf("every partition held %.1f ms, the last move %.1f ms after the first subscribe",
               (double)(group->join_ns - group->subscribe_ns) / 1e6,
               (double)(group->settled_ns - group->subscribe_ns) / 1e6);
    } else {
        printf("this run's consumers never held every partition at once");
    }
    printf("; partitions assigned %llu, revoked %llu, lost %llu; redelivered %llu; "
           "commit errors %llu\n", (unsigned long long)group->moved[SB_BENCH_GROUP_ASSIGNED],
           (unsigned long long)group->moved[SB_BENCH_GROUP_REVOKED],
           (unsigned long long)group->moved[SB_BENCH_GROUP_LOST],
           (unsigned long long)atomic_load(&group->redelivered),
           (unsigned long long)group->commit_errors);
    sb_bench_summary_latency("commit", &group->commit);
    sb_bench_summary_latency("rebal. pause", &group->pause);
    sb_bench_summary_latency("handover", &group->handover);
}

static void
json_events(FILE *file, const struct sb_bench_group *group)
{
    fprintf(file, "    \"events\": [");
    for (uint32_t index = 0; index < group->event_count; index++) {
        const struct sb_bench_group_event *event = &group->events[index];
        uint64_t first = atomic_load(&event->first_delivery_unix_us);
        fprintf(file, "%s\n      {\"t_unix_us\": %llu, \"consumer\": %u, \"event\": \"%s\", "
                "\"partition\": %u, \"first_delivery_unix_us\": ", index == 0 ? "" : ",",
                (unsigned long long)event->unix_us, event->consumer, kind_names[event->kind],
                event->partition);
        if (first != 0) {
            fprintf(file, "%llu}", (unsigned long long)first);
        } else {
            fprintf(file, "null}");
        }
    }
    fprintf(file, "]\n");
}

void
sb_bench_group_json(FILE *file, const struct sb_bench *bench)
{
    const struct sb_bench_group *group = bench->group;
    if (group == NULL) {
        fprintf(file, "  \"group\": null,\n");
        return;
    }
    fprintf(file, "  \"group\": {\"id\": ");
    sb_bench_json_string(file, bench->config.group);
    fprintf(file, ", \"commit_mode\": \"%s\", \"commit_interval_ms\": %u, \"join_ms\": ",
            bench->config.commit == SB_BENCH_COMMIT_SYNC ? "sync" : "async",
            bench->config.commit_interval_ms);
    json_ms_since_subscribe(file, group, group->join_ns);
    fprintf(file, ", \"settled_ms\": ");
    json_ms_since_subscribe(file, group, group->settled_ns);
    json_after_settled(file, bench);
    fprintf(file, ",\n    \"assigned\": %llu, \"revoked\": %llu, \"lost\": %llu, "
            "\"redelivered\": %llu, \"commit_errors\": %llu, \"pauses_open\": %u, "
            "\"partitions_held\": %u, \"events_dropped\": %llu,\n",
            (unsigned long long)group->moved[SB_BENCH_GROUP_ASSIGNED],
            (unsigned long long)group->moved[SB_BENCH_GROUP_REVOKED],
            (unsigned long long)group->moved[SB_BENCH_GROUP_LOST],
            (unsigned long long)atomic_load(&group->redelivered),
            (unsigned long long)group->commit_errors, pauses_open(group),
            atomic_load(&group->held), (unsigned long long)group->events_dropped);
    fprintf(file, "    \"partitions_by_consumer\": [");
    for (uint32_t index = 0; index < bench->config.consumers; index++) {
        fprintf(file, "%s%u", index == 0 ? "" : ", ", bench->consumers[index].assigned_count);
    }
    fprintf(file, "],\n");
    sb_bench_json_latency(file, "commit", &group->commit, false);
    sb_bench_json_latency(file, "rebalance_pause", &group->pause, false);
    sb_bench_json_latency(file, "handover", &group->handover, false);
    json_events(file, group);
    fprintf(file, "  },\n");
}
