/*
 * client/sbctl_group.c - `sbctl group`: consumer group administration on the
 * public sb_admin_group_* API.
 *
 *   group list                       one line per group: id, state, members
 *   group describe GROUP             the group, its members, then one table row per
 *                                    partition: committed offset, end offset, lag, owner
 *   group reset-offsets GROUP --topic TOPIC --to-earliest|--to-latest|--to-offset N|
 *                                    --to-time MS   (only while the group has no members)
 *   group delete GROUP
 *
 * Exit codes as every sbctl command (sbctl.h): a group with active members
 * (reset-offsets, delete) and an unknown group are refusals by the broker (1),
 * with a message that names the cause. Start reading at sbctl_group.
 */
#include "client/sbctl.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "streambus/streambus.h"

static const char sbctl_group_usage[] =
    "usage: sbctl group list\n"
    "       sbctl group describe GROUP\n"
    "       sbctl group reset-offsets GROUP --topic TOPIC\n"
    "                   --to-earliest|--to-latest|--to-offset N|--to-time MS\n"
    "       sbctl group delete GROUP\n"
    "\n"
    "list prints each group's state and member count. describe prints the group's state,\n"
    "its members (member id, instance id, epoch, subscription, assigned partitions), then\n"
    "per partition the committed offset, the end offset (high watermark), the lag and the\n"
    "member that owns it (- where there is none). reset-offsets sets the committed offset\n"
    "of every partition of TOPIC: to the log start, to the end, to N (clamped into the\n"
    "log), or to the first record at or after MS ms since the epoch (the end if none);\n"
    "only a group without members can be reset (exit 1 otherwise: stop its consumers\n"
    "first). delete removes an empty group and its committed offsets.\n";

/* Takes one reset target option at argv[*index]; 1 taken, 0 not one, -1 bad. */
static int
sbctl_group_target(int argc, char **argv, int *index, struct sbctl_group_options *options)
{
    /* In the order of the SB_ADMIN_RESET_* values. */
    static const char *const names[] = {"--to-earliest", "--to-latest", "--to-offset",
                                        "--to-time"};
    const char *value = NULL;
    int mode = -1;
    int taken = 0;
    for (int candidate = 0; candidate < 4 && taken == 0; candidate++) {
        taken = candidate < SB_ADMIN_RESET_OFFSET
                    ? strcmp(argv[*index], names[candidate]) == 0
                    : sbctl_option(argc, argv, index, names[candidate], NULL, &value);
        mode = candidate;
    }
    if (taken <= 0) {
        return taken;
    }
    if (options->mode >= 0) {
        sbctl_error("give only one --to-* option");
        return -1;
    }
    if (mode >= SB_ADMIN_RESET_OFFSET && !sbctl_parse_i64(value, 0, &options->value)) {
        sbctl_error("bad %s \"%s\" (an integer >= 0)", names[mode], value);
        return -1;
    }
    options->mode = mode;
    return 1;
}

/* Parses the arguments after "group"; returns -1 for --help, 0 ok, or SBCTL_EXIT_USAGE. */
static int
sbctl_group_parse(int argc, char **argv, struct sbctl_group_options *options)
{
    *options = (struct sbctl_group_options){.mode = -1};
    const char *positional[2] = {NULL, NULL};
    int count = 0;
    for (int index = 0; index < argc; index++) {
        if (strcmp(argv[index], "--help") == 0 || strcmp(argv[index], "-h") == 0) {
            return -1;
        }
        const char *value = NULL;
        int taken = sbctl_option(argc, argv, &index, "--topic", "-t", &value);
        options->topic = taken == 1 ? value : options->topic;
        taken = taken == 0 ? sbctl_group_target(argc, argv, &index, options) : taken;
        if (taken < 0) {
            return SBCTL_EXIT_USAGE;
        }
        if (taken == 0 && argv[index][0] == '-' && argv[index][1] != '\0') {
            sbctl_error("unknown option %s", argv[index]);
            return SBCTL_EXIT_USAGE;
        }
        if (taken == 0 && count == 2) {
            sbctl_error("unexpected argument \"%s\"", argv[index]);
            return SBCTL_EXIT_USAGE;
        }
        if (taken == 0) {
            positional[count++] = argv[index];
        }
    }
    options->action = positional[0] != NULL ? positional[0] : "";
    options->group = positional[1];
    return 0;
}

/* Checks that the options fit the action; returns 0 or SBCTL_EXIT_USAGE. */
static int
sbctl_group_check(const struct sbctl_group_options *options)
{
    const char *action = options->action;
    bool list = strcmp(action, "list") == 0;
    bool reset = strcmp(action, "reset-offsets") == 0;
    if (!list && !reset && strcmp(action, "describe") != 0 && strcmp(action, "delete") != 0) {
        sbctl_error(action[0] == '\0' ? "group needs a command%s"
                                      : "unknown group command \"%s\"", action);
        return SBCTL_EXIT_USAGE;
    }
    if (list == (options->group != NULL)) {
        sbctl_error(list ? "group list takes no GROUP" : "group %s needs a GROUP", action);
        return SBCTL_EXIT_USAGE;
    }
    if (reset && (options->topic == NULL || options->mode < 0)) {
        sbctl_error("group reset-offsets needs --topic and one of --to-earliest, --to-latest,"
                    " --to-offset N, --to-time MS");
        return SBCTL_EXIT_USAGE;
    }
    if (!reset && (options->topic != NULL || options->mode >= 0)) {
        sbctl_error("--topic and --to-* belong to group reset-offsets");
        return SBCTL_EXIT_USAGE;
    }
    return 0;
}

static int
sbctl_group_list(struct sbctl *sbctl)
{
    struct sb_admin_group_list *list = NULL;
    int result = sb_admin_group_list(sbctl->client, sbctl->timeout_ms, &list);
    if (result != 0) {
        return sbctl_fail("group list", result);
    }
    for (uint32_t index = 0; index < list->group_count; index++) {
        const struct sb_admin_group *group = &list->groups[index];
        printf("%s state=%s members=%" PRId32 "\n", group->group_id,
               sb_admin_group_state_name(group->state), group->member_count);
    }
    sb_admin_group_list_free(list);
    return SBCTL_EXIT_OK;
}

/* Prints a list of partitions as "topic/p,topic/p" ("-" when empty). */
static void
sbctl_group_partitions(const struct sb_admin_topic_partition *partitions, uint32_t count)
{
    for (uint32_t index = 0; index < count; index++) {
        const char *topic = partitions[index].topic;
        printf("%s%s/%" PRId32, index > 0 ? "," : "", topic != NULL ? topic : "(deleted)",
               partitions[index].partition);
    }
    fputs(count == 0 ? "-\n" : "\n", stdout);
}

static void
sbctl_group_members(const struct sb_admin_group_description *description)
{
    if (description->member_count == 0) {
        return;
    }
    printf("\n%-32s %-16s %6s  %-24s %s\n", "MEMBER", "INSTANCE", "EPOCH", "SUBSCRIPTION",
           "ASSIGNED");
    for (uint32_t index = 0; index < description->member_count; index++) {
        const struct sb_admin_group_member *member = &description->members[index];
        char subscription[256] = "";
        size_t used = 0;
        for (uint32_t topic = 0; topic < member->topic_count && used < sizeof(subscription);
             topic++) {
            used += (size_t)snprintf(subscription + used, sizeof(subscription) - used, "%s%s",
                                     topic > 0 ? "," : "", member->topics[topic]);
        }
        if (member->topic_regex != NULL && used < sizeof(subscription)) {
            snprintf(subscription + used, sizeof(subscription) - used, "%s/%s/",
                     used > 0 ? "," : "", member->topic_regex);
        }
        printf("%-32s %-16s %6" PRId32 "  %-24s ", member->member_id,
               member->instance_id != NULL ? member->instance_id : "-", member->member_epoch,
               subscription[0] != '\0' ? subscription : "-");
        sbctl_group_partitions(member->assigned, member->assigned_count);
    }
}

/* Writes value, or "-" when it is negative (unknown), into text. */
static const char *
sbctl_group_number(char *text, size_t capacity, int64_t value)
{
    snprintf(text, capacity, value < 0 ? "-" : "%" PRId64, value);
    return text;
}

static void
sbctl_group_table(const struct sb_admin_group_description *description)
{
    int width = 5; /* "TOPIC" */
    for (uint32_t index = 0; index < description->partition_count; index++) {
        const char *topic = description->partitions[index].topic;
        int length = (int)strlen(topic != NULL ? topic : "(deleted)");
        width = length > width ? length : width;
    }
    printf("\n%-*s %9s %12s %12s %12s  %s\n", width, "TOPIC", "PARTITION", "COMMITTED", "END",
           "LAG", "MEMBER");
    for (uint32_t index = 0; index < description->partition_count; index++) {
        const struct sb_admin_group_partition *row = &description->partitions[index];
        char committed[24], end[24], lag[24];
        printf("%-*s %9" PRId32 " %12s %12s %12s  %s\n", width,
               row->topic != NULL ? row->topic : "(deleted)", row->partition,
               sbctl_group_number(committed, sizeof(committed), row->committed_offset),
               sbctl_group_number(end, sizeof(end), row->end_offset),
               sbctl_group_number(lag, sizeof(lag), row->lag),
               row->member_id != NULL ? row->member_id : "-");
    }
}

static int
sbctl_group_describe(struct sbctl *sbctl, const char *group)
{
    struct sb_admin_group_description *description = NULL;
    int result = sb_admin_group_describe(sbctl->client, group, sbctl->timeout_ms,
                                         &description);
    if (result != 0) {
        char what[300];
        snprintf(what, sizeof(what), "group describe %s", group);
        return sbctl_fail(what, result);
    }
    int64_t total_lag = 0;
    for (uint32_t index = 0; index < description->partition_count; index++) {
        int64_t lag = description->partitions[index].lag;
        total_lag += lag > 0 ? lag : 0;
    }
    printf("group %s state=%s members=%" PRIu32 " assignor=%s epoch=%" PRId32
           " assignment_epoch=%" PRId32 " lag=%" PRId64 "\n",
           description->group_id, sb_admin_group_state_name(description->state),
           description->member_count,
           description->assignor[0] != '\0' ? description->assignor : "-",
           description->group_epoch, description->assignment_epoch, total_lag);
    sbctl_group_members(description);
    if (description->partition_count > 0) {
        sbctl_group_table(description);
    }
    sb_admin_group_description_free(description);
    return SBCTL_EXIT_OK;
}

static int
sbctl_group_reset(struct sbctl *sbctl, const struct sbctl_group_options *options)
{
    struct sb_admin_group_reset *reset = NULL;
    int result = sb_admin_group_reset_offsets(sbctl->client, options->group, options->topic,
                                              options->mode, options->value,
                                              sbctl->timeout_ms, &reset);
    if (result != 0) {
        char what[600];
        snprintf(what, sizeof(what), "group reset-offsets %s --topic %s", options->group,
                 options->topic);
        return sbctl_fail(what, result);
    }
    for (uint32_t index = 0; index < reset->partition_count; index++) {
        printf("%s/%" PRIu32 " offset=%" PRId64 "\n", options->topic, index,
               reset->offsets[index]);
    }
    sb_admin_group_reset_free(reset);
    fprintf(stderr, "sbctl: group %s: offsets of %s reset\n", options->group, options->topic);
    return SBCTL_EXIT_OK;
}

static int
sbctl_group_delete(struct sbctl *sbctl, const char *group)
{
    int result = sb_admin_group_delete(sbctl->client, group, sbctl->timeout_ms);
    if (result != 0) {
        char what[300];
        snprintf(what, sizeof(what), "group delete %s", group);
        return sbctl_fail(what, result);
    }
    fprintf(stderr, "sbctl: group %s: deleted\n", group);
    return SBCTL_EXIT_OK;
}

int
sbctl_group_options_parse(int argc, char **argv, struct sbctl_group_options *options)
{
    int parsed = sbctl_group_parse(argc, argv, options);
    return parsed == 0 ? sbctl_group_check(options) : parsed;
}

int
sbctl_group(struct sbctl *sbctl, int argc, char **argv)
{
    struct sbctl_group_options options;
    int parsed = sbctl_group_options_parse(argc, argv, &options);
    if (parsed != 0) {
        fputs(sbctl_group_usage, parsed < 0 ? stdout : stderr);
        return parsed < 0 ? SBCTL_EXIT_OK : SBCTL_EXIT_USAGE;
    }
    int result = sbctl_connect(sbctl, NULL);
    if (result != SBCTL_EXIT_OK) {
        return result;
    }
    if (strcmp(options.action, "list") == 0) {
        return sbctl_group_list(sbctl);
    }
    if (strcmp(options.action, "describe") == 0) {
        return sbctl_group_describe(sbctl, options.group);
    }
    if (strcmp(options.action, "reset-offsets") == 0) {
        return sbctl_group_reset(sbctl, &options);
    }
    return sbctl_group_delete(sbctl, options.group);
}
