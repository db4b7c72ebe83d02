/*
 * client/admin_group.c - consumer group administration (sb_admin_group_*):
 * list, describe (with end offsets and lag), reset a topic's committed
 * offsets, delete.
 *
 * Every group request goes through admin_execute (admin.c) to a bootstrap
 * broker: each of its ports accepts every group API and forwards it to the
 * group's coordinator shard (docs/protocol.md "Consumer group APIs"), so the
 * client needs no coordinator lookup. group_call resends a request whose
 * answer says COORDINATOR_LOAD_IN_PROGRESS or NOT_COORDINATOR (nothing was
 * done then, so resending is safe) with exponential backoff until the call's
 * deadline; every other answer is final. One deadline covers all the
 * requests of a call (describe: DescribeGroup, ListTopics, ListOffsets;
 * reset: Metadata, ListOffsets, AlterGroupOffsets).
 *
 * Results are parsed by admin_group_parse.c; this file fills in what needs
 * more requests (end offsets and lag) and resolves reset targets.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/client_private.h"
#include "core/limits.h"
#include "proto/api_admin.h"
#include "proto/api_fetch.h"
#include "proto/api_group.h"

/* Sends of one group request while the coordinator is loading; the deadline usually ends
 * the retries first. */
#define ADMIN_GROUP_TRIES_MAX 1000u

static int
group_remaining_ms(uint64_t deadline_ns)
{
    uint64_t now_ns = client_now_ns();
    if (now_ns >= deadline_ns) {
        return 0;
    }
    uint64_t left_ms = (deadline_ns - now_ns + 999999u) / 1000000u;
    return left_ms > INT_MAX ? INT_MAX : (int)left_ms;
}

static void
group_sleep_ms(uint32_t milliseconds)
{
    struct timespec pause = {.tv_sec = milliseconds / 1000u,
                             .tv_nsec = (long)(milliseconds % 1000u) * 1000000L};
    nanosleep(&pause, NULL);
}

/* Checks the arguments every call has; sets the detail for a bad group id. */
static int
group_id_check(struct sb_client *client, const char *group_id)
{
    client_detail_clear();
    if (client == NULL || group_id == NULL) {
        return -EINVAL;
    }
    size_t length = strlen(group_id);
    if (length > SB_WIRE_GROUP_ID_BYTES_MAX ||
        !sb_group_id_is_valid((struct sb_wire_string){group_id, (uint16_t)length})) {
        client_detail_set("group id \"%.64s\" is not 1 to %d printable ASCII bytes", group_id,
                          SB_WIRE_GROUP_ID_BYTES_MAX);
        return SB_ERR_INVALID_GROUP_ID;
    }
    return 0;
}

/* Explains the group errors a user acts on; returns error. */
static int
group_detail(int error, const char *group_id)
{
    if (error == SB_ERR_NON_EMPTY_GROUP) {
        client_detail_set("stop the consumers of group \"%s\" first", group_id);
    } else if (error == SB_ERR_GROUP_NOT_FOUND) {
        client_detail_set("no group \"%s\"", group_id);
    } else if (error == SB_ERR_COORDINATOR_LOADING || error == SB_ERR_NOT_COORDINATOR) {
        client_detail_set("group \"%s\": its coordinator was not ready before the timeout",
                          group_id);
    }
    return error;
}

static int
group_error_list(const uint8_t *body, size_t body_bytes)
{
    struct sb_list_groups_response response;
    if (sb_list_groups_response_decode(body, body_bytes, &response) != 0) {
        return SB_ERR_CORRUPT;
    }
    return client_error_from_wire(response.error_code);
}

static int
group_error_describe(const uint8_t *body, size_t body_bytes)
{
    struct sb_describe_group_response response;
    if (sb_describe_group_response_decode(body, body_bytes, &response) != 0) {
        return SB_ERR_CORRUPT;
    }
    return client_error_from_wire(response.error_code);
}

static int
group_error_alter(const uint8_t *body, size_t body_bytes)
{
    struct sb_offset_commit_response response;
    if (sb_offset_commit_response_decode(body, body_bytes, &response) != 0) {
        return SB_ERR_CORRUPT;
    }
    return client_error_from_wire(response.error_code);
}

static int
group_error_delete(const uint8_t *body, size_t body_bytes)
{
    struct sb_delete_group_response response;
    if (sb_delete_group_response_decode(body, body_bytes, &response) != 0) {
        return SB_ERR_CORRUPT;
    }
    return client_error_from_wire(response.error_code);
}

/* Sends a group request until its answer's group-wide error (check) is not a coordinator
 * one to wait for, or the deadline. Returns 0 with the body (the caller frees it), or the
 * error (a body with an error is freed here): a resend that times out returns the
 * coordinator error that caused it, which says more than -ETIMEDOUT. */
static int
group_call(struct sb_client *client, uint16_t api_key,
           int (*encode)(struct sb_wire_writer *writer, const void *request),
           const void *request, uint64_t deadline_ns,
           int (*check)(const uint8_t *body, size_t body_bytes), uint8_t **body_out,
           size_t *body_bytes_out)
{
    uint32_t backoff_ms = client->config.retry_backoff_ms;
    int result = -ETIMEDOUT;
    int coordinator_error = 0;
    for (uint32_t tries = 0; tries < ADMIN_GROUP_TRIES_MAX; tries++) {
        uint8_t *body = NULL;
        size_t body_bytes = 0;
        result = admin_execute(client, api_key, encode, request,
                               group_remaining_ms(deadline_ns), &body, &body_bytes);
        result = result == 0 ? check(body, body_bytes) : result;
        if (result == 0) {
            *body_out = body;
            *body_bytes_out = body_bytes;
            return 0;
        }
        free(body);
        int left_ms = group_remaining_ms(deadline_ns);
        if (result == -ETIMEDOUT && coordinator_error != 0) {
            return coordinator_error;
        }
        if ((result != SB_ERR_COORDINATOR_LOADING && result != SB_ERR_NOT_COORDINATOR) ||
            left_ms == 0) {
            break;
        }
        coordinator_error = result;
        group_sleep_ms(backoff_ms < (uint32_t)left_ms ? backoff_ms : (uint32_t)left_ms);
        backoff_ms = backoff_ms * 2 < client->config.retry_backoff_max_ms
                         ? backoff_ms * 2 : client->config.retry_backoff_max_ms;
    }
    return result;
}

const char *
sb_admin_group_state_name(int state)
{
    static const char *const names[] = {"Empty", "Assigning", "Reconciling", "Stable", "Dead"};
    return state >= 0 && state < (int)(sizeof(names) / sizeof(names[0])) ? names[state]
                                                                          : "Unknown";
}

static int
group_encode_list(struct sb_wire_writer *writer, const void *request)
{
    return sb_list_groups_request_encode(writer, request);
}

int
sb_admin_group_list(struct sb_client *client, int timeout_ms,
                    struct sb_admin_group_list **list_out)
{
    client_detail_clear();
    if (client == NULL || list_out == NULL) {
        return -EINVAL;
    }
    uint64_t deadline_ns = client_deadline_ns(admin_timeout_ms(client, timeout_ms));
    struct sb_list_groups_request request = {.state_count = 0};
    uint8_t *body = NULL;
    size_t body_bytes = 0;
    int result = group_call(client, SB_API_LIST_GROUPS, group_encode_list, &request,
                            deadline_ns, group_error_list, &body, &body_bytes);
    if (result == 0) {
        result = admin_parse_group_list(body, body_bytes, list_out);
        free(body);
    }
    return result;
}

void
sb_admin_group_list_free(struct sb_admin_group_list *list)
{
    free(list);
}

static int
group_encode_id(struct sb_wire_writer *writer, const void *request)
{
    return sb_group_id_request_encode(writer, request);
}

static int
group_encode_topics(struct sb_wire_writer *writer, const void *request)
{
    return sb_list_topics_request_encode(writer, request);
}

static int
group_encode_offsets(struct sb_wire_writer *writer, const void *request)
{
    return sb_list_offsets_request_encode(writer, request);
}

/* Describe: one ListOffsets topic per run of rows of one named topic (rows are sorted). */
static int
group_end_request(const struct sb_admin_group_description *description,
                  struct sb_list_offsets_topic *topics, struct sb_list_offsets_partition *parts,
                  uint32_t *topic_count_out)
{
    uint32_t topic_count = 0;
    for (uint32_t index = 0; index < description->partition_count; index++) {
        const struct sb_admin_group_partition *row = &description->partitions[index];
        parts[index] = (struct sb_list_offsets_partition){row->partition,
                                                          SB_LIST_OFFSETS_LATEST};
        if (row->topic == NULL) {
            continue;
        }
        struct sb_list_offsets_topic *last = topic_count > 0 ? &topics[topic_count - 1] : NULL;
        if (last == NULL || !sb_wire_string_equals(last->name, row->topic)) {
            if (strlen(row->topic) > SB_WIRE_STRING_BYTES_MAX) {
                return SB_ERR_PROTOCOL;
            }
            topics[topic_count++] = (struct sb_list_offsets_topic){
                .name = sb_wire_string_from_cstr(row->topic), .partitions = &parts[index]};
            last = &topics[topic_count - 1];
        }
        last->partition_count++;
    }
    *topic_count_out = topic_count;
    return 0;
}

/* Describe: sets end_offset and lag of the rows a ListOffsets answer names. */
static int
group_end_apply(struct sb_admin_group_description *description, const uint8_t *body,
                size_t body_bytes)
{
    struct sb_list_offsets_response response;
    if (sb_list_offsets_response_decode(body, body_bytes, &response) != 0) {
        return SB_ERR_CORRUPT;
    }
    struct sb_admin_group_partition *rows = (struct sb_admin_group_partition *)
                                                description->partitions;
    struct sb_list_offsets_topic_response topic;
    while (sb_list_offsets_response_next_topic(&response, &topic) == 1) {
        struct sb_list_offsets_partition_response answer;
        while (sb_list_offsets_topic_response_next_partition(&topic, &answer) == 1) {
            for (uint32_t index = 0; index < description->partition_count; index++) {
                struct sb_admin_group_partition *row = &rows[index];
                if (answer.error_code != 0 || row->topic == NULL ||
                    row->partition != answer.partition ||
                    !sb_wire_string_equals(topic.name, row->topic)) {
                    continue;
                }
                row->end_offset = answer.offset;
                row->lag = row->committed_offset < 0 || answer.offset < 0 ? -1
                           : answer.offset > row->committed_offset
                               ? answer.offset - row->committed_offset : 0;
            }
        }
    }
    return 0;
}

/* Describe: asks every row's end offset (one ListOffsets) and computes the lags. */
static int
group_end_offsets(struct sb_client *client, struct sb_admin_group_description *description,
                  uint64_t deadline_ns)
{
    uint32_t count = description->partition_count;
    struct sb_list_offsets_topic *topics = calloc((size_t)count + 1, sizeof(*topics));
    struct sb_list_offsets_partition *parts = calloc((size_t)count + 1, sizeof(*parts));
    struct sb_list_offsets_request request = {.topics = topics};
    int result = topics == NULL || parts == NULL ? -ENOMEM : 0;
    result = result == 0 ? group_end_request(description, topics, parts, &request.topic_count)
                         : result;
    uint8_t *body = NULL;
    size_t body_bytes = 0;
    if (result == 0 && request.topic_count > 0) {
        result = admin_execute(client, SB_API_LIST_OFFSETS, group_encode_offsets, &request,
                               group_remaining_ms(deadline_ns), &body, &body_bytes);
        result = result == 0 ? group_end_apply(description, body, body_bytes) : result;
    }
    free(body);
    free(parts);
    free(topics);
    return result;
}

/* Describe: the ListTopics answer naming the topic ids of the members' assignments, or no
 * body when the group has no members. */
static int
group_topic_names(struct sb_client *client, const uint8_t *body, size_t body_bytes,
                  uint64_t deadline_ns, uint8_t **names_out, size_t *names_bytes_out)
{
    struct sb_describe_group_response response;
    if (sb_describe_group_response_decode(body, body_bytes, &response) != 0) {
        return SB_ERR_CORRUPT;
    }
    if (response.member_cursor.count == 0) {
        return 0;
    }
    struct sb_list_topics_request request = {.prefix = sb_wire_string_from_cstr("")};
    return admin_execute(client, SB_API_LIST_TOPICS, group_encode_topics, &request,
                         group_remaining_ms(deadline_ns), names_out, names_bytes_out);
}

int
sb_admin_group_describe(struct sb_client *client, const char *group_id, int timeout_ms,
                        struct sb_admin_group_description **description_out)
{
    int result = group_id_check(client, group_id);
    if (result != 0 || description_out == NULL) {
        return result != 0 ? result : -EINVAL;
    }
    uint64_t deadline_ns = client_deadline_ns(admin_timeout_ms(client, timeout_ms));
    struct sb_group_id_request request = {.group_id = sb_wire_string_from_cstr(group_id)};
    uint8_t *body = NULL;
    size_t body_bytes = 0;
    result = group_call(client, SB_API_DESCRIBE_GROUP, group_encode_id, &request, deadline_ns,
                        group_error_describe, &body, &body_bytes);
    if (result != 0) {
        return group_detail(result, group_id);
    }
    uint8_t *names = NULL;
    size_t names_bytes = 0;
    struct sb_admin_group_description *description = NULL;
    result = group_topic_names(client, body, body_bytes, deadline_ns, &names, &names_bytes);
    result = result == 0 ? admin_parse_group_describe(body, body_bytes, names, names_bytes,
                                                      &description)
                         : result;
    result = result == 0 ? group_end_offsets(client, description, deadline_ns) : result;
    free(names);
    free(body);
    if (result != 0) {
        sb_admin_group_description_free(description);
        return result;
    }
    *description_out = description;
    return 0;
}

void
sb_admin_group_description_free(struct sb_admin_group_description *description)
{
    free(description);
}

/* Reset: each partition's offset for timestamp (SB_LIST_OFFSETS_* or a time) into
 * offsets[0 .. count). */
static int
group_list_offsets(struct sb_client *client, const char *topic, uint32_t count,
                   int64_t timestamp, uint64_t deadline_ns, int64_t *offsets)
{
    struct sb_list_offsets_partition *parts = calloc(count, sizeof(*parts));
    if (parts == NULL) {
        return -ENOMEM;
    }
    for (uint32_t index = 0; index < count; index++) {
        parts[index] = (struct sb_list_offsets_partition){(int32_t)index, timestamp};
    }
    struct sb_list_offsets_topic named = {.name = sb_wire_string_from_cstr(topic),
                                          .partitions = parts, .partition_count = count};
    struct sb_list_offsets_request request = {.topics = &named, .topic_count = 1};
    uint8_t *body = NULL;
    size_t body_bytes = 0;
    int result = admin_execute(client, SB_API_LIST_OFFSETS, group_encode_offsets, &request,
                               group_remaining_ms(deadline_ns), &body, &body_bytes);
    free(parts);
    struct sb_list_offsets_response response;
    struct sb_list_offsets_topic_response answer_topic;
    if (result == 0 && (sb_list_offsets_response_decode(body, body_bytes, &response) != 0 ||
                        sb_list_offsets_response_next_topic(&response, &answer_topic) != 1)) {
        result = SB_ERR_CORRUPT;
    }
    uint32_t answered = 0;
    struct sb_list_offsets_partition_response answer;
    while (result == 0 &&
           sb_list_offsets_topic_response_next_partition(&answer_topic, &answer) == 1) {
        result = client_error_from_wire(answer.error_code);
        if (result == 0 && answer.partition == (int32_t)answered && answered < count) {
            offsets[answered++] = answer.offset;
        }
    }
    free(body);
    return result == 0 && answered != count ? SB_ERR_PROTOCOL : result;
}

/* Reset: the offset of every partition for mode and value (into offsets). */
static int
group_reset_resolve(struct sb_client *client, const char *topic, uint32_t count, int mode,
                    int64_t value, uint64_t deadline_ns, int64_t *offsets)
{
    if (mode == SB_ADMIN_RESET_EARLIEST || mode == SB_ADMIN_RESET_LATEST) {
        return group_list_offsets(client, topic, count,
                                  mode == SB_ADMIN_RESET_EARLIEST ? SB_LIST_OFFSETS_EARLIEST
                                                                  : SB_LIST_OFFSETS_LATEST,
                                  deadline_ns, offsets);
    }
    int64_t *ends = calloc(count, sizeof(*ends));
    if (ends == NULL) {
        return -ENOMEM;
    }
    int64_t first = mode == SB_ADMIN_RESET_TIME ? value : SB_LIST_OFFSETS_EARLIEST;
    int result = group_list_offsets(client, topic, count, first, deadline_ns, offsets);
    result = result == 0 ? group_list_offsets(client, topic, count, SB_LIST_OFFSETS_LATEST,
                                              deadline_ns, ends)
                         : result;
    for (uint32_t index = 0; result == 0 && index < count; index++) {
        if (mode == SB_ADMIN_RESET_TIME) {
            offsets[index] = offsets[index] >= 0 ? offsets[index] : ends[index];
        } else {
            int64_t low = offsets[index];
            offsets[index] = value < low ? low : value > ends[index] ? ends[index] : value;
        }
    }
    free(ends);
    return result;
}

static int
group_encode_alter(struct sb_wire_writer *writer, const void *request)
{
    return sb_alter_group_offsets_request_encode(writer, request);
}

/* Reset: commits offsets[0 .. count) for topic with AlterGroupOffsets. */
static int
group_reset_commit(struct sb_client *client, const char *group_id, const char *topic,
                   const int64_t *offsets, uint32_t count, uint64_t deadline_ns)
{
    struct sb_offset_commit_partition *parts = calloc(count, sizeof(*parts));
    if (parts == NULL) {
        return -ENOMEM;
    }
    for (uint32_t index = 0; index < count; index++) {
        parts[index] = (struct sb_offset_commit_partition){.partition = (int32_t)index,
                                                           .offset = offsets[index]};
    }
    struct sb_offset_commit_topic named = {.name = sb_wire_string_from_cstr(topic),
                                           .partitions = parts, .partition_count = count};
    struct sb_alter_group_offsets_request request = {
        .group_id = sb_wire_string_from_cstr(group_id), .topics = &named, .topic_count = 1};
    uint8_t *body = NULL;
    size_t body_bytes = 0;
    int result = group_call(client, SB_API_ALTER_GROUP_OFFSETS, group_encode_alter, &request,
                            deadline_ns, group_error_alter, &body, &body_bytes);
    free(parts);
    struct sb_offset_commit_response response;
    struct sb_offset_commit_topic_result answer_topic;
    if (result == 0 && (sb_offset_commit_response_decode(body, body_bytes, &response) != 0 ||
                        sb_offset_commit_response_next_topic(&response, &answer_topic) != 1)) {
        result = SB_ERR_PROTOCOL;
    }
    struct sb_offset_commit_partition_result answer;
    while (result == 0 &&
           sb_offset_commit_topic_result_next_partition(&answer_topic, &answer) == 1) {
        result = client_error_from_wire(answer.error_code);
    }
    free(body);
    return group_detail(result, group_id);
}

int
sb_admin_group_reset_offsets(struct sb_client *client, const char *group_id, const char *topic,
                             int mode, int64_t value, int timeout_ms,
                             struct sb_admin_group_reset **result_out)
{
    int result = group_id_check(client, group_id);
    if (result == 0 && (topic == NULL || mode < SB_ADMIN_RESET_EARLIEST ||
                        mode > SB_ADMIN_RESET_TIME ||
                        ((mode == SB_ADMIN_RESET_OFFSET || mode == SB_ADMIN_RESET_TIME) &&
                         value < 0))) {
        result = -EINVAL;
    }
    if (result != 0) {
        return result;
    }
    uint64_t deadline_ns = client_deadline_ns(admin_timeout_ms(client, timeout_ms));
    int count = sb_client_partition_count(client, topic, group_remaining_ms(deadline_ns));
    if (count < 0) {
        return count;
    }
    struct admin_block block;
    if (admin_block_init(&block, admin_aligned(sizeof(struct sb_admin_group_reset)) +
                                     (size_t)count * sizeof(int64_t)) != 0) {
        return -ENOMEM;
    }
    struct sb_admin_group_reset *reset = admin_take(&block, sizeof(*reset));
    int64_t *offsets = admin_take(&block, (size_t)count * sizeof(*offsets));
    *reset = (struct sb_admin_group_reset){(uint32_t)count, offsets};
    result = group_reset_resolve(client, topic, (uint32_t)count, mode, value, deadline_ns,
                                 offsets);
    result = result == 0 ? group_reset_commit(client, group_id, topic, offsets,
                                              (uint32_t)count, deadline_ns)
                         : result;
    if (result != 0 || result_out == NULL) {
        free(reset);
        return result;
    }
    *result_out = reset;
    return 0;
}

void
sb_admin_group_reset_free(struct sb_admin_group_reset *result)
{
    free(result);
}

int
sb_admin_group_delete(struct sb_client *client, const char *group_id, int timeout_ms)
{
    int result = group_id_check(client, group_id);
    if (result != 0) {
        return result;
    }
    uint64_t deadline_ns = client_deadline_ns(admin_timeout_ms(client, timeout_ms));
    struct sb_group_id_request request = {.group_id = sb_wire_string_from_cstr(group_id)};
    uint8_t *body = NULL;
    size_t body_bytes = 0;
    result = group_call(client, SB_API_DELETE_GROUP, group_encode_id, &request, deadline_ns,
                        group_error_delete, &body, &body_bytes);
    free(body);
    return group_detail(result, group_id);
}
