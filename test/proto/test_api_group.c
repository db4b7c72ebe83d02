/*
 * test/proto/test_api_group.c - consumer group bodies (proto/api_group.h):
 * round trips of every request and response through a frame with the generic
 * checks of wire_fixture.h; the null arrays of GroupHeartbeat ("unchanged")
 * and OffsetFetch ("every topic") kept apart from empty ones; null group ids
 * refused; the group id and member id rules of docs/protocol.md.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "core/error.h"
#include "core/limits.h"
#include "proto/api_group.h"
#include "test/proto/wire_fixture.h"

static uint8_t body[4096];

static const struct sb_offset_commit_partition commit_partitions[] = {
    {.partition = 0, .offset = 42, .metadata = {"m", 1}},
    {.partition = 3, .offset = 0, .metadata = {NULL, 0}},
};
static const struct sb_offset_commit_topic commit_topics[] = {
    {.name = {"orders", 6}, .partitions = commit_partitions, .partition_count = 2},
    {.name = {"none", 4}},
};

/* Checks the two topics of commit_topics as next returns them from owner. */
static void
check_commit_topics(void *owner, int (*next)(void *owner, struct sb_offset_commit_topic *out))
{
    struct sb_offset_commit_topic topic;
    struct sb_offset_commit_partition partition;
    cr_assert_eq(next(owner, &topic), 1);
    cr_assert(fixture_string_is(topic.name, "orders"));
    cr_assert_eq(topic.partition_count, 2);
    cr_assert_eq(sb_offset_commit_topic_next_partition(&topic, &partition), 1);
    cr_assert_eq(partition.partition, 0);
    cr_assert_eq(partition.offset, 42);
    cr_assert(fixture_string_is(partition.metadata, "m"));
    cr_assert_eq(sb_offset_commit_topic_next_partition(&topic, &partition), 1);
    cr_assert_eq(partition.partition, 3);
    cr_assert(fixture_string_is(partition.metadata, NULL), "null metadata stays null");
    cr_assert_eq(sb_offset_commit_topic_next_partition(&topic, &partition), 0);
    cr_assert_eq(next(owner, &topic), 1);
    cr_assert(fixture_string_is(topic.name, "none"));
    cr_assert_eq(sb_offset_commit_topic_next_partition(&topic, &partition), 0);
    cr_assert_eq(next(owner, &topic), 0);
}

static int
encode_offset_commit_request(struct sb_wire_writer *writer)
{
    struct sb_offset_commit_request request = {
        .group_id = {"g1", 2}, .member_id = {"member-a", 8}, .member_epoch = 7,
        .topics = commit_topics, .topic_count = 2};
    fixture_frame_begin(writer, SB_API_OFFSET_COMMIT, false);
    sb_offset_commit_request_encode(writer, &request);
    return sb_frame_finish(writer);
}

static int
next_commit_topic(void *owner, struct sb_offset_commit_topic *out)
{
    return sb_offset_commit_request_next_topic(owner, out);
}

Test(api_group, offset_commit_request_round_trip)
{
    struct sb_frame frame = fixture_encode(encode_offset_commit_request,
                                           "offset_commit_request");
    struct sb_offset_commit_request request;
    cr_assert_eq(sb_offset_commit_request_decode(frame.body, frame.body_bytes, &request), 0);
    cr_assert(fixture_string_is(request.group_id, "g1"));
    cr_assert(fixture_string_is(request.member_id, "member-a"));
    cr_assert_eq(request.member_epoch, 7);
    cr_assert_eq(request.topic_count, 2);
    check_commit_topics(&request, next_commit_topic);
}

Test(api_group, offset_commit_request_with_a_null_group_id_is_corrupt)
{
    struct sb_frame frame = fixture_encode(encode_offset_commit_request,
                                           "offset_commit_request");
    memcpy(body, frame.body, frame.body_bytes);
    fixture_poke_u16(body, SB_WIRE_STRING_NULL);
    struct sb_offset_commit_request request;
    cr_assert_eq(sb_offset_commit_request_decode(body, frame.body_bytes, &request),
                 SB_ECORRUPT);
}

static int
encode_alter_group_offsets_request(struct sb_wire_writer *writer)
{
    struct sb_alter_group_offsets_request request = {
        .group_id = {"g1", 2}, .topics = commit_topics, .topic_count = 2};
    fixture_frame_begin(writer, SB_API_ALTER_GROUP_OFFSETS, false);
    sb_alter_group_offsets_request_encode(writer, &request);
    return sb_frame_finish(writer);
}

static int
next_alter_topic(void *owner, struct sb_offset_commit_topic *out)
{
    return sb_alter_group_offsets_request_next_topic(owner, out);
}

Test(api_group, alter_group_offsets_request_round_trip)
{
    struct sb_frame frame = fixture_encode(encode_alter_group_offsets_request,
                                           "alter_group_offsets_request");
    struct sb_alter_group_offsets_request request;
    cr_assert_eq(sb_alter_group_offsets_request_decode(frame.body, frame.body_bytes, &request),
                 0);
    cr_assert(fixture_string_is(request.group_id, "g1"));
    cr_assert_eq(request.topic_count, 2);
    check_commit_topics(&request, next_alter_topic);
}

static const struct sb_offset_commit_partition_result commit_results[] = {
    {.partition = 0, .error_code = 0},
    {.partition = 9, .error_code = SB_WIRE_ERROR_UNKNOWN_TOPIC_OR_PARTITION},
};

/* Encodes an OffsetCommit (or, with the same layout, AlterGroupOffsets) response. */
static int
encode_commit_response(struct sb_wire_writer *writer, uint16_t api_key)
{
    struct sb_offset_commit_topic_result topics[] = {
        {.name = {"orders", 6}, .partitions = commit_results, .partition_count = 2},
    };
    struct sb_offset_commit_response response = {.error_code = 0, .topics = topics,
                                                 .topic_count = 1};
    fixture_frame_begin(writer, api_key, true);
    sb_offset_commit_response_encode(writer, &response);
    return sb_frame_finish(writer);
}

static int
encode_offset_commit_response(struct sb_wire_writer *writer)
{
    return encode_commit_response(writer, SB_API_OFFSET_COMMIT);
}

static int
encode_alter_group_offsets_response(struct sb_wire_writer *writer)
{
    return encode_commit_response(writer, SB_API_ALTER_GROUP_OFFSETS);
}

/* Checks the response of encode_commit_response in frame. */
static void
check_commit_response(const struct sb_frame *frame)
{
    struct sb_offset_commit_response response;
    cr_assert_eq(sb_offset_commit_response_decode(frame->body, frame->body_bytes, &response),
                 0);
    cr_assert_eq(response.error_code, 0);
    struct sb_offset_commit_topic_result topic;
    struct sb_offset_commit_partition_result result;
    cr_assert_eq(sb_offset_commit_response_next_topic(&response, &topic), 1);
    cr_assert(fixture_string_is(topic.name, "orders"));
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(sb_offset_commit_topic_result_next_partition(&topic, &result), 1);
        cr_assert_eq(result.partition, commit_results[i].partition);
        cr_assert_eq(result.error_code, commit_results[i].error_code);
    }
    cr_assert_eq(sb_offset_commit_topic_result_next_partition(&topic, &result), 0);
    cr_assert_eq(sb_offset_commit_response_next_topic(&response, &topic), 0);
}

Test(api_group, offset_commit_and_alter_group_offsets_responses_round_trip)
{
    struct sb_frame frame = fixture_encode(encode_offset_commit_response,
                                           "offset_commit_response");
    check_commit_response(&frame);
    frame = fixture_encode(encode_alter_group_offsets_response, "alter_group_offsets_response");
    check_commit_response(&frame);
}

static const int32_t fetch_partitions[] = {0, 1, 5};

static int
encode_offset_fetch_request(struct sb_wire_writer *writer)
{
    struct sb_offset_fetch_topic topics[] = {
        {.name = {"orders", 6}, .partitions = fetch_partitions, .partition_count = 3},
    };
    struct sb_offset_fetch_request request = {.group_id = {"g1", 2}, .topics = topics,
                                              .topic_count = 1};
    fixture_frame_begin(writer, SB_API_OFFSET_FETCH, false);
    sb_offset_fetch_request_encode(writer, &request);
    return sb_frame_finish(writer);
}

static int
encode_offset_fetch_request_all(struct sb_wire_writer *writer)
{
    struct sb_offset_fetch_request request = {.group_id = {"g1", 2}, .all_topics = true};
    fixture_frame_begin(writer, SB_API_OFFSET_FETCH, false);
    sb_offset_fetch_request_encode(writer, &request);
    return sb_frame_finish(writer);
}

Test(api_group, offset_fetch_request_round_trip)
{
    struct sb_frame frame = fixture_encode(encode_offset_fetch_request, "offset_fetch_request");
    struct sb_offset_fetch_request request;
    cr_assert_eq(sb_offset_fetch_request_decode(frame.body, frame.body_bytes, &request), 0);
    cr_assert(fixture_string_is(request.group_id, "g1"));
    cr_assert(!request.all_topics);
    struct sb_offset_fetch_topic topic;
    cr_assert_eq(sb_offset_fetch_request_next_topic(&request, &topic), 1);
    cr_assert(fixture_string_is(topic.name, "orders"));
    int32_t partition;
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(sb_offset_fetch_topic_next_partition(&topic, &partition), 1);
        cr_assert_eq(partition, fetch_partitions[i]);
    }
    cr_assert_eq(sb_offset_fetch_topic_next_partition(&topic, &partition), 0);
    cr_assert_eq(sb_offset_fetch_request_next_topic(&request, &topic), 0);
    frame = fixture_encode(encode_offset_fetch_request_all, "offset_fetch_request_all");
    cr_assert_eq(sb_offset_fetch_request_decode(frame.body, frame.body_bytes, &request), 0);
    cr_assert(request.all_topics, "the null array asks for every topic");
    cr_assert_eq(request.topic_count, 0);
}

static const struct sb_group_offset fetched_offsets[] = {
    {.partition = 0, .offset = 42, .metadata = {"m", 1}, .commit_time_ms = 1700000000000,
     .error_code = 0},
    {.partition = 1, .offset = -1, .metadata = {NULL, 0}, .commit_time_ms = -1,
     .error_code = 0},
};
static const struct sb_group_offset_topic fetched_topics[] = {
    {.name = {"orders", 6}, .offsets = fetched_offsets, .offset_count = 2},
};

/* Checks the topics of fetched_topics as next and next_offset return them. */
static void
check_offset_topics(void *owner, int (*next)(void *owner, struct sb_group_offset_topic *out),
                    int (*next_offset)(struct sb_group_offset_topic *topic,
                                       struct sb_group_offset *out))
{
    struct sb_group_offset_topic topic;
    struct sb_group_offset offset;
    cr_assert_eq(next(owner, &topic), 1);
    cr_assert(fixture_string_is(topic.name, "orders"));
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(next_offset(&topic, &offset), 1);
        cr_assert_eq(offset.partition, fetched_offsets[i].partition);
        cr_assert_eq(offset.offset, fetched_offsets[i].offset);
        cr_assert_eq(offset.commit_time_ms, fetched_offsets[i].commit_time_ms);
        cr_assert_eq(offset.error_code, 0);
        fixture_assert_string(offset.metadata, fetched_offsets[i].metadata, "metadata");
    }
    cr_assert_eq(next_offset(&topic, &offset), 0);
    cr_assert_eq(next(owner, &topic), 0);
}

static int
encode_offset_fetch_response(struct sb_wire_writer *writer)
{
    struct sb_offset_fetch_response response = {.topics = fetched_topics, .topic_count = 1};
    fixture_frame_begin(writer, SB_API_OFFSET_FETCH, true);
    sb_offset_fetch_response_encode(writer, &response);
    return sb_frame_finish(writer);
}

static int
next_fetched_topic(void *owner, struct sb_group_offset_topic *out)
{
    return sb_offset_fetch_response_next_topic(owner, out);
}

Test(api_group, offset_fetch_response_round_trip)
{
    struct sb_frame frame = fixture_encode(encode_offset_fetch_response,
                                           "offset_fetch_response");
    struct sb_offset_fetch_response response;
    cr_assert_eq(sb_offset_fetch_response_decode(frame.body, frame.body_bytes, &response), 0);
    cr_assert_eq(response.error_code, 0);
    check_offset_topics(&response, next_fetched_topic, sb_offset_fetch_topic_next_offset);
}

static const int32_t owned_partitions[] = {2, 4};
static const struct sb_group_tpset owned_sets[] = {
    {.topic_id = 11, .partitions = owned_partitions, .partition_count = 2},
    {.topic_id = 12},
};
static const struct sb_wire_string subscribed[] = {{"orders", 6}, {"logs", 4}};

static int
encode_group_heartbeat_join(struct sb_wire_writer *writer)
{
    struct sb_group_heartbeat_request request = {
        .group_id = {"g1", 2}, .member_id = {"member-a", 8}, .member_epoch = 0,
        .instance_id = {"host-1", 6}, .rebalance_timeout_ms = 30000,
        .topic_names = subscribed, .topic_name_count = 2, .topic_regex = {"", 0},
        .server_assignor = {"uniform", 7}, .owned = owned_sets, .owned_count = 2};
    fixture_frame_begin(writer, SB_API_GROUP_HEARTBEAT, false);
    sb_group_heartbeat_request_encode(writer, &request);
    return sb_frame_finish(writer);
}

static int
encode_group_heartbeat_unchanged(struct sb_wire_writer *writer)
{
    struct sb_group_heartbeat_request request = {
        .group_id = {"g1", 2}, .member_id = {"member-a", 8}, .member_epoch = 5,
        .rebalance_timeout_ms = -1, .topic_names_unchanged = true, .owned_unchanged = true};
    fixture_frame_begin(writer, SB_API_GROUP_HEARTBEAT, false);
    sb_group_heartbeat_request_encode(writer, &request);
    return sb_frame_finish(writer);
}

/* Checks a decoded owned_sets. */
static void
check_tpsets(void *owner, int (*next)(void *owner, struct sb_group_tpset *out))
{
    struct sb_group_tpset set;
    int32_t partition;
    cr_assert_eq(next(owner, &set), 1);
    cr_assert_eq(set.topic_id, 11);
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(sb_group_tpset_next_partition(&set, &partition), 1);
        cr_assert_eq(partition, owned_partitions[i]);
    }
    cr_assert_eq(sb_group_tpset_next_partition(&set, &partition), 0);
    cr_assert_eq(next(owner, &set), 1);
    cr_assert_eq(set.topic_id, 12);
    cr_assert_eq(sb_group_tpset_next_partition(&set, &partition), 0);
    cr_assert_eq(next(owner, &set), 0);
}

static int
next_owned(void *owner, struct sb_group_tpset *out)
{
    return sb_group_heartbeat_request_next_owned(owner, out);
}

Test(api_group, group_heartbeat_request_round_trip)
{
    struct sb_frame frame = fixture_encode(encode_group_heartbeat_join,
                                           "group_heartbeat_request");
    struct sb_group_heartbeat_request request;
    cr_assert_eq(sb_group_heartbeat_request_decode(frame.body, frame.body_bytes, &request), 0);
    cr_assert(fixture_string_is(request.member_id, "member-a"));
    cr_assert_eq(request.member_epoch, 0);
    cr_assert(fixture_string_is(request.instance_id, "host-1"));
    cr_assert_eq(request.rebalance_timeout_ms, 30000);
    cr_assert(!request.topic_names_unchanged);
    struct sb_wire_string name;
    cr_assert_eq(sb_group_heartbeat_request_next_topic_name(&request, &name), 1);
    cr_assert(fixture_string_is(name, "orders"));
    cr_assert_eq(sb_group_heartbeat_request_next_topic_name(&request, &name), 1);
    cr_assert(fixture_string_is(name, "logs"));
    cr_assert_eq(sb_group_heartbeat_request_next_topic_name(&request, &name), 0);
    cr_assert(fixture_string_is(request.topic_regex, ""), "empty regex: none");
    cr_assert(fixture_string_is(request.server_assignor, "uniform"));
    cr_assert(!request.owned_unchanged);
    check_tpsets(&request, next_owned);
}

Test(api_group, group_heartbeat_request_with_nothing_changed)
{
    struct sb_frame frame = fixture_encode(encode_group_heartbeat_unchanged,
                                           "group_heartbeat_request_unchanged");
    struct sb_group_heartbeat_request request;
    cr_assert_eq(sb_group_heartbeat_request_decode(frame.body, frame.body_bytes, &request), 0);
    cr_assert_eq(request.member_epoch, 5);
    cr_assert(fixture_string_is(request.instance_id, NULL));
    cr_assert(request.topic_names_unchanged);
    cr_assert(fixture_string_is(request.topic_regex, NULL));
    cr_assert(fixture_string_is(request.server_assignor, NULL));
    cr_assert(request.owned_unchanged);
    cr_assert_eq(request.owned_count, 0);
}

static int
encode_group_heartbeat_response(struct sb_wire_writer *writer)
{
    struct sb_group_heartbeat_response response = {
        .member_id = {"member-a", 8}, .member_epoch = 6, .heartbeat_interval_ms = 3000,
        .assignment = owned_sets, .assignment_count = 2};
    fixture_frame_begin(writer, SB_API_GROUP_HEARTBEAT, true);
    sb_group_heartbeat_response_encode(writer, &response);
    return sb_frame_finish(writer);
}

static int
next_assignment(void *owner, struct sb_group_tpset *out)
{
    return sb_group_heartbeat_response_next_assignment(owner, out);
}

Test(api_group, group_heartbeat_response_round_trip)
{
    struct sb_frame frame = fixture_encode(encode_group_heartbeat_response,
                                           "group_heartbeat_response");
    struct sb_group_heartbeat_response response;
    cr_assert_eq(sb_group_heartbeat_response_decode(frame.body, frame.body_bytes, &response),
                 0);
    cr_assert_eq(response.error_code, 0);
    cr_assert(fixture_string_is(response.error_message, NULL));
    cr_assert(fixture_string_is(response.member_id, "member-a"));
    cr_assert_eq(response.member_epoch, 6);
    cr_assert_eq(response.heartbeat_interval_ms, 3000);
    cr_assert(!response.assignment_unchanged);
    check_tpsets(&response, next_assignment);
}

static const int8_t list_states[] = {SB_GROUP_STATE_STABLE, SB_GROUP_STATE_EMPTY};

static int
encode_list_groups_request(struct sb_wire_writer *writer)
{
    struct sb_list_groups_request request = {.states = list_states, .state_count = 2};
    fixture_frame_begin(writer, SB_API_LIST_GROUPS, false);
    sb_list_groups_request_encode(writer, &request);
    return sb_frame_finish(writer);
}

static const struct sb_list_groups_entry list_entries[] = {
    {.group_id = {"a", 1}, .state = SB_GROUP_STATE_EMPTY, .member_count = 0},
    {.group_id = {"b", 1}, .state = SB_GROUP_STATE_STABLE, .member_count = 3},
};

static int
encode_list_groups_response(struct sb_wire_writer *writer)
{
    struct sb_list_groups_response response = {.groups = list_entries, .group_count = 2};
    fixture_frame_begin(writer, SB_API_LIST_GROUPS, true);
    sb_list_groups_response_encode(writer, &response);
    return sb_frame_finish(writer);
}

Test(api_group, list_groups_round_trip)
{
    struct sb_frame frame = fixture_encode(encode_list_groups_request, "list_groups_request");
    struct sb_list_groups_request request;
    cr_assert_eq(sb_list_groups_request_decode(frame.body, frame.body_bytes, &request), 0);
    int8_t state;
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(sb_list_groups_request_next_state(&request, &state), 1);
        cr_assert_eq(state, list_states[i]);
    }
    cr_assert_eq(sb_list_groups_request_next_state(&request, &state), 0);
    frame = fixture_encode(encode_list_groups_response, "list_groups_response");
    struct sb_list_groups_response response;
    cr_assert_eq(sb_list_groups_response_decode(frame.body, frame.body_bytes, &response), 0);
    struct sb_list_groups_entry entry;
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(sb_list_groups_response_next_group(&response, &entry), 1);
        cr_assert(fixture_string_is(entry.group_id, i == 0 ? "a" : "b"));
        cr_assert_eq(entry.state, list_entries[i].state);
        cr_assert_eq(entry.member_count, list_entries[i].member_count);
    }
    cr_assert_eq(sb_list_groups_response_next_group(&response, &entry), 0);
}

/* Encodes a group id request (DescribeGroup, DeleteGroup) for api_key. */
static int
encode_group_id_request(struct sb_wire_writer *writer, uint16_t api_key)
{
    struct sb_group_id_request request = {.group_id = {"g1", 2}};
    fixture_frame_begin(writer, api_key, false);
    sb_group_id_request_encode(writer, &request);
    return sb_frame_finish(writer);
}

static int
encode_describe_group_request(struct sb_wire_writer *writer)
{
    return encode_group_id_request(writer, SB_API_DESCRIBE_GROUP);
}

static int
encode_delete_group_request(struct sb_wire_writer *writer)
{
    return encode_group_id_request(writer, SB_API_DELETE_GROUP);
}

static int
encode_delete_group_response(struct sb_wire_writer *writer)
{
    struct sb_delete_group_response response = {.error_code = SB_WIRE_ERROR_NON_EMPTY_GROUP};
    fixture_frame_begin(writer, SB_API_DELETE_GROUP, true);
    sb_delete_group_response_encode(writer, &response);
    return sb_frame_finish(writer);
}

Test(api_group, group_id_requests_and_delete_group_response_round_trip)
{
    struct sb_group_id_request request;
    struct sb_frame frame = fixture_encode(encode_describe_group_request,
                                           "describe_group_request");
    cr_assert_eq(sb_group_id_request_decode(frame.body, frame.body_bytes, &request), 0);
    cr_assert(fixture_string_is(request.group_id, "g1"));
    frame = fixture_encode(encode_delete_group_request, "delete_group_request");
    cr_assert_eq(sb_group_id_request_decode(frame.body, frame.body_bytes, &request), 0);
    cr_assert(fixture_string_is(request.group_id, "g1"));
    frame = fixture_encode(encode_delete_group_response, "delete_group_response");
    struct sb_delete_group_response response;
    cr_assert_eq(sb_delete_group_response_decode(frame.body, frame.body_bytes, &response), 0);
    cr_assert_eq(response.error_code, SB_WIRE_ERROR_NON_EMPTY_GROUP);
}

static int
encode_describe_group_response(struct sb_wire_writer *writer)
{
    struct sb_group_member_description members[] = {
        {.member_id = {"member-a", 8}, .instance_id = {NULL, 0}, .member_epoch = 6,
         .topic_names = subscribed, .topic_name_count = 2, .topic_regex = {"o.*", 3},
         .assignment = owned_sets, .assignment_count = 2, .target = owned_sets,
         .target_count = 2},
    };
    struct sb_describe_group_response response = {
        .group_id = {"g1", 2}, .state = SB_GROUP_STATE_RECONCILING, .group_epoch = 6,
        .assignment_epoch = 5, .assignor = {"range", 5}, .members = members,
        .member_count = 1, .offsets = fetched_topics, .offset_topic_count = 1};
    fixture_frame_begin(writer, SB_API_DESCRIBE_GROUP, true);
    sb_describe_group_response_encode(writer, &response);
    return sb_frame_finish(writer);
}

static int
next_member_assignment(void *owner, struct sb_group_tpset *out)
{
    return sb_group_member_next_assignment(owner, out);
}

static int
next_member_target(void *owner, struct sb_group_tpset *out)
{
    return sb_group_member_next_target(owner, out);
}

static int
next_described_topic(void *owner, struct sb_group_offset_topic *out)
{
    return sb_describe_group_response_next_offset_topic(owner, out);
}

Test(api_group, describe_group_response_round_trip)
{
    struct sb_frame frame = fixture_encode(encode_describe_group_response,
                                           "describe_group_response");
    struct sb_describe_group_response response;
    cr_assert_eq(sb_describe_group_response_decode(frame.body, frame.body_bytes, &response),
                 0);
    cr_assert(fixture_string_is(response.group_id, "g1"));
    cr_assert_eq(response.state, SB_GROUP_STATE_RECONCILING);
    cr_assert_eq(response.group_epoch, 6);
    cr_assert_eq(response.assignment_epoch, 5);
    cr_assert(fixture_string_is(response.assignor, "range"));
    struct sb_group_member_description member;
    cr_assert_eq(sb_describe_group_response_next_member(&response, &member), 1);
    cr_assert(fixture_string_is(member.member_id, "member-a"));
    cr_assert(fixture_string_is(member.instance_id, NULL));
    cr_assert_eq(member.member_epoch, 6);
    cr_assert_eq(member.topic_name_count, 2);
    cr_assert(fixture_string_is(member.topic_regex, "o.*"));
    check_tpsets(&member, next_member_assignment);
    check_tpsets(&member, next_member_target);
    cr_assert_eq(sb_describe_group_response_next_member(&response, &member), 0);
    check_offset_topics(&response, next_described_topic, sb_described_offset_topic_next_offset);
}

Test(api_group, group_and_member_ids)
{
    char longest[SB_WIRE_GROUP_ID_BYTES_MAX + 1];
    memset(longest, 'g', sizeof(longest));
    cr_assert(sb_group_id_is_valid((struct sb_wire_string){"my-group.1", 10}));
    cr_assert(sb_group_id_is_valid((struct sb_wire_string){"a/b:c~!", 7}), "printable ASCII");
    cr_assert(sb_group_id_is_valid((struct sb_wire_string){longest, SB_WIRE_GROUP_ID_BYTES_MAX}));
    cr_assert(!sb_group_id_is_valid((struct sb_wire_string){longest, sizeof(longest)}));
    cr_assert(!sb_group_id_is_valid((struct sb_wire_string){"", 0}));
    cr_assert(!sb_group_id_is_valid((struct sb_wire_string){NULL, 0}));
    cr_assert(!sb_group_id_is_valid((struct sb_wire_string){"a b", 3}), "no spaces");
    cr_assert(!sb_group_id_is_valid((struct sb_wire_string){"a\x7f", 2}));
    cr_assert(!sb_group_id_is_valid((struct sb_wire_string){"\xc3\xa9", 2}), "ASCII only");
    cr_assert(sb_group_member_id_is_valid((struct sb_wire_string){longest,
                                                                  SB_WIRE_MEMBER_ID_BYTES_MAX}));
    cr_assert(!sb_group_member_id_is_valid(
        (struct sb_wire_string){longest, SB_WIRE_MEMBER_ID_BYTES_MAX + 1}));
    cr_assert(!sb_group_member_id_is_valid((struct sb_wire_string){"", 0}));
}
