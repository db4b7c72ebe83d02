/*
 * client/admin_group_parse.c - turns consumer group answers (ListGroups,
 * DescribeGroup with the ListTopics answer that names its topic ids) into the
 * public results of streambus.h, one allocation each (struct admin_block, as
 * in admin_parse.c). Bodies come from the network: each is decoded, and so
 * fully checked, by proto/ before anything is allocated.
 *
 * A group description's partition table is built from two sources: the
 * committed offsets (by topic name) and the members' current assignments (by
 * topic id, named through ListTopics; each name is copied once). The rows of
 * both are sorted by topic and partition and merged, so a partition that is
 * both committed and owned is one row. End offsets and lag are filled in
 * later by admin_group.c (they need ListOffsets).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client/client_private.h"
#include "proto/api_admin.h"
#include "proto/api_group.h"

/* A topic id and its name, from ListTopics; copy is the name in the result, once made. */
struct group_topic_name {
    uint32_t topic_id;          /* Broker-assigned id. */
    struct sb_wire_string name; /* Its name (borrowed from the ListTopics body). */
    const char *copy;           /* The name in the result block, or NULL until needed. */
};

/* The ListTopics names and the result block the description is built in. */
struct group_build {
    struct admin_block block;       /* The result allocation. */
    struct group_topic_name *names; /* Topic ids and names (owned), or NULL. */
    uint32_t name_count;            /* Entries in names. */
    size_t names_bytes;             /* Block bytes every name would take. */
};

int
admin_parse_group_list(const uint8_t *body, size_t body_bytes, struct sb_admin_group_list **out)
{
    struct sb_list_groups_response response;
    if (sb_list_groups_response_decode(body, body_bytes, &response) != 0) {
        return SB_ERR_CORRUPT;
    }
    if (response.error_code != 0) {
        return client_error_from_wire(response.error_code);
    }
    uint32_t count = response.group_cursor.count;
    size_t size = admin_aligned(sizeof(struct sb_admin_group_list)) +
                  admin_aligned((size_t)count * sizeof(struct sb_admin_group));
    struct sb_list_groups_response sizing = response;
    struct sb_list_groups_entry entry;
    while (sb_list_groups_response_next_group(&sizing, &entry) == 1) {
        size += admin_string_size(entry.group_id);
    }
    struct admin_block block;
    if (admin_block_init(&block, size) != 0) {
        return -ENOMEM;
    }
    struct sb_admin_group_list *list = admin_take(&block, sizeof(*list));
    struct sb_admin_group *groups = admin_take(&block, (size_t)count * sizeof(*groups));
    uint32_t used = 0;
    while (used < count && sb_list_groups_response_next_group(&response, &entry) == 1) {
        groups[used++] = (struct sb_admin_group){admin_string(&block, entry.group_id),
                                                 entry.state, entry.member_count};
    }
    list->group_count = used;
    list->groups = groups;
    *out = list;
    return 0;
}

/* Reads the ListTopics answer (NULL: none) into build->names. */
static int
group_names_read(struct group_build *build, const uint8_t *body, size_t body_bytes)
{
    if (body == NULL) {
        return 0;
    }
    struct sb_list_topics_response response;
    if (sb_list_topics_response_decode(body, body_bytes, &response) != 0) {
        return SB_ERR_CORRUPT;
    }
    build->names = calloc((size_t)response.topic_cursor.count + 1, sizeof(*build->names));
    if (build->names == NULL) {
        return -ENOMEM;
    }
    struct sb_list_topics_entry entry;
    while (sb_list_topics_response_next_topic(&response, &entry) == 1) {
        build->names[build->name_count++] = (struct group_topic_name){entry.topic_id,
                                                                       entry.name, NULL};
        build->names_bytes += admin_string_size(entry.name);
    }
    return 0;
}

/* The name of topic_id in the result (copied on first use), or NULL when unknown. */
static const char *
group_name(struct group_build *build, uint32_t topic_id)
{
    for (uint32_t index = 0; index < build->name_count; index++) {
        struct group_topic_name *name = &build->names[index];
        if (name->topic_id == topic_id) {
            if (name->copy == NULL) {
                name->copy = admin_string(&build->block, name->name);
            }
            return name->copy;
        }
    }
    return NULL;
}

/* Partitions in a member's assignment (target false) or target (true). */
static uint32_t
group_member_partitions(struct sb_group_member_description member, bool target)
{
    uint32_t count = 0;
    struct sb_group_tpset set;
    while ((target ? sb_group_member_next_target(&member, &set)
                   : sb_group_member_next_assignment(&member, &set)) == 1) {
        count += set.partition_cursor.count;
    }
    return count;
}

/* Block bytes of one member's strings and arrays; adds its owned partitions to *rows. */
static size_t
group_member_size(struct sb_group_member_description member, uint32_t *rows)
{
    uint32_t assigned = group_member_partitions(member, false);
    *rows += assigned;
    size_t size = admin_string_size(member.member_id) + admin_string_size(member.instance_id) +
                  admin_string_size(member.topic_regex) +
                  admin_aligned((size_t)member.topic_name_cursor.count * sizeof(char *)) +
                  admin_aligned((size_t)assigned * sizeof(struct sb_admin_topic_partition)) +
                  admin_aligned((size_t)group_member_partitions(member, true) *
                                sizeof(struct sb_admin_topic_partition));
    struct sb_wire_string name;
    while (sb_group_member_next_topic_name(&member, &name) == 1) {
        size += admin_string_size(name);
    }
    return size;
}

/* Block bytes of the whole description; *rows_out the partition rows before merging. */
static size_t
group_describe_size(struct sb_describe_group_response response, size_t names_bytes,
                    uint32_t *rows_out)
{
    uint32_t rows = 0;
    size_t size = admin_aligned(sizeof(struct sb_admin_group_description)) +
                  admin_string_size(response.group_id) + admin_string_size(response.assignor) +
                  admin_aligned((size_t)response.member_cursor.count *
                                sizeof(struct sb_admin_group_member)) +
                  names_bytes;
    struct sb_group_member_description member;
    while (sb_describe_group_response_next_member(&response, &member) == 1) {
        size += group_member_size(member, &rows);
    }
    struct sb_group_offset_topic topic;
    while (sb_describe_group_response_next_offset_topic(&response, &topic) == 1) {
        size += admin_string_size(topic.name);
        rows += topic.offset_cursor.count;
        struct sb_group_offset offset;
        while (sb_described_offset_topic_next_offset(&topic, &offset) == 1) {
            size += admin_string_size(offset.metadata);
        }
    }
    *rows_out = rows;
    return size + admin_aligned((size_t)rows * sizeof(struct sb_admin_group_partition));
}

/* Fills a member's assignment (target false) or target (true): count entries. */
static struct sb_admin_topic_partition *
group_member_sets(struct group_build *build, struct sb_group_member_description member,
                  bool target, uint32_t count)
{
    struct sb_admin_topic_partition *entries = admin_take(&build->block,
                                                          (size_t)count * sizeof(*entries));
    uint32_t used = 0;
    struct sb_group_tpset set;
    while ((target ? sb_group_member_next_target(&member, &set)
                   : sb_group_member_next_assignment(&member, &set)) == 1) {
        const char *topic = group_name(build, set.topic_id);
        int32_t partition = 0;
        while (used < count && sb_group_tpset_next_partition(&set, &partition) == 1) {
            entries[used++] = (struct sb_admin_topic_partition){topic, partition};
        }
    }
    return entries;
}

/* Fills one member, and one row per partition it owns (at *rows, advanced). */
static void
group_member_fill(struct group_build *build, struct sb_group_member_description member,
                  struct sb_admin_group_member *out, struct sb_admin_group_partition **rows)
{
    uint32_t topic_count = member.topic_name_cursor.count;
    const char **topics = admin_take(&build->block, (size_t)topic_count * sizeof(*topics));
    struct sb_wire_string name;
    struct sb_group_member_description names = member;
    for (uint32_t index = 0; index < topic_count &&
                             sb_group_member_next_topic_name(&names, &name) == 1; index++) {
        topics[index] = admin_string(&build->block, name);
    }
    uint32_t assigned_count = group_member_partitions(member, false);
    uint32_t target_count = group_member_partitions(member, true);
    *out = (struct sb_admin_group_member){
        .member_id = admin_string(&build->block, member.member_id),
        .instance_id = admin_string(&build->block, member.instance_id),
        .member_epoch = member.member_epoch, .topic_count = topic_count, .topics = topics,
        .topic_regex = admin_string(&build->block, member.topic_regex),
        .assigned_count = assigned_count,
        .assigned = group_member_sets(build, member, false, assigned_count),
        .target_count = target_count,
        .target = group_member_sets(build, member, true, target_count)};
    for (uint32_t index = 0; index < assigned_count; index++) {
        *(*rows)++ = (struct sb_admin_group_partition){
            .topic = out->assigned[index].topic, .partition = out->assigned[index].partition,
            .member_id = out->member_id, .committed_offset = -1, .commit_time_ms = -1,
            .end_offset = -1, .lag = -1};
    }
}

/* Fills one row per committed offset (at *rows, advanced). */
static void
group_offsets_fill(struct group_build *build, struct sb_describe_group_response response,
                   struct sb_admin_group_partition **rows)
{
    struct sb_group_offset_topic topic;
    while (sb_describe_group_response_next_offset_topic(&response, &topic) == 1) {
        const char *name = admin_string(&build->block, topic.name);
        struct sb_group_offset offset;
        while (sb_described_offset_topic_next_offset(&topic, &offset) == 1) {
            *(*rows)++ = (struct sb_admin_group_partition){
                .topic = name, .partition = offset.partition,
                .committed_offset = offset.offset, .commit_time_ms = offset.commit_time_ms,
                .metadata = admin_string(&build->block, offset.metadata), .end_offset = -1,
                .lag = -1};
        }
    }
}

static int
group_row_compare(const void *left, const void *right)
{
    const struct sb_admin_group_partition *a = left;
    const struct sb_admin_group_partition *b = right;
    int order = strcmp(a->topic != NULL ? a->topic : "", b->topic != NULL ? b->topic : "");
    if (order != 0) {
        return order;
    }
    return (a->partition > b->partition) - (a->partition < b->partition);
}

static int
group_member_compare(const void *left, const void *right)
{
    const struct sb_admin_group_member *a = left;
    const struct sb_admin_group_member *b = right;
    return strcmp(a->member_id, b->member_id);
}

/* Sorts rows and merges those of one partition (a commit and an owner); returns the count
 * left. */
static uint32_t
group_rows_merge(struct sb_admin_group_partition *rows, uint32_t count)
{
    qsort(rows, count, sizeof(*rows), group_row_compare);
    uint32_t kept = 0;
    for (uint32_t index = 0; index < count; index++) {
        struct sb_admin_group_partition *last = kept > 0 ? &rows[kept - 1] : NULL;
        if (last == NULL || group_row_compare(last, &rows[index]) != 0) {
            rows[kept++] = rows[index];
            continue;
        }
        if (last->committed_offset < 0) {
            last->committed_offset = rows[index].committed_offset;
            last->commit_time_ms = rows[index].commit_time_ms;
            last->metadata = rows[index].metadata;
        }
        if (last->member_id == NULL) {
            last->member_id = rows[index].member_id;
        }
    }
    return kept;
}

/* Fills the description from a decoded answer into the sized block. */
static struct sb_admin_group_description *
group_describe_fill(struct group_build *build, struct sb_describe_group_response response,
                    uint32_t row_count)
{
    struct sb_admin_group_description *description = admin_take(&build->block,
                                                                 sizeof(*description));
    uint32_t member_count = response.member_cursor.count;
    struct sb_admin_group_member *members = admin_take(&build->block, (size_t)member_count *
                                                                          sizeof(*members));
    struct sb_admin_group_partition *rows = admin_take(&build->block,
                                                       (size_t)row_count * sizeof(*rows));
    struct sb_admin_group_partition *row = rows;
    struct sb_group_member_description member;
    struct sb_describe_group_response walk = response;
    for (uint32_t index = 0; index < member_count &&
                             sb_describe_group_response_next_member(&walk, &member) == 1;
         index++) {
        group_member_fill(build, member, &members[index], &row);
    }
    group_offsets_fill(build, response, &row);
    qsort(members, member_count, sizeof(*members), group_member_compare);
    *description = (struct sb_admin_group_description){
        .group_id = admin_string(&build->block, response.group_id), .state = response.state,
        .group_epoch = response.group_epoch, .assignment_epoch = response.assignment_epoch,
        .assignor = admin_string(&build->block, response.assignor),
        .member_count = member_count, .members = members,
        .partition_count = group_rows_merge(rows, (uint32_t)(row - rows)),
        .partitions = rows};
    return description;
}

int
admin_parse_group_describe(const uint8_t *body, size_t body_bytes, const uint8_t *topics_body,
                           size_t topics_bytes, struct sb_admin_group_description **out)
{
    struct sb_describe_group_response response;
    if (sb_describe_group_response_decode(body, body_bytes, &response) != 0) {
        return SB_ERR_CORRUPT;
    }
    if (response.error_code != 0) {
        return client_error_from_wire(response.error_code);
    }
    struct group_build build = {.names = NULL};
    int result = group_names_read(&build, topics_body, topics_bytes);
    uint32_t row_count = 0;
    size_t size = group_describe_size(response, build.names_bytes, &row_count);
    if (result == 0) {
        result = admin_block_init(&build.block, size);
    }
    if (result == 0) {
        *out = group_describe_fill(&build, response, row_count);
    }
    free(build.names);
    return result;
}
