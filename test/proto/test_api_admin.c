/*
 * test/proto/test_api_admin.c - topic administration bodies
 * (proto/api_admin.h): round trips of CreateTopics, DeleteTopics,
 * ListTopics, DescribeTopic and AlterTopicConfig requests and responses
 * through a frame with the generic checks of wire_fixture.h; config values
 * that are null (reset to default) versus empty; null keys and names
 * refused; the topic name rules of docs/protocol.md.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "core/error.h"
#include "core/limits.h"
#include "proto/api_admin.h"
#include "test/proto/wire_fixture.h"

static uint8_t body[4096];

static const struct sb_topic_config create_configs[] = {
    {.key = {"cleanup.policy", 14}, .value = {"compact", 7}},
    {.key = {"retention.ms", 12}, .value = {NULL, 0}},
    {.key = {"segment.ms", 10}, .value = {"", 0}},
};

static void
check_configs(const struct sb_topic_config *got, const struct sb_topic_config *want)
{
    cr_assert_eq(got->key.length, want->key.length);
    cr_assert_arr_eq(got->key.chars, want->key.chars, want->key.length);
    cr_assert_eq(got->value.chars == NULL, want->value.chars == NULL, "null stays null");
    cr_assert_eq(got->value.length, want->value.length);
    if (want->value.chars != NULL) {
        cr_assert_arr_eq(got->value.chars, want->value.chars, want->value.length);
    }
}

static int
encode_create_topics_request(struct sb_wire_writer *writer)
{
    struct sb_create_topic topics[] = {
        {.name = {"orders", 6}, .partition_count = 12, .replication_factor = 1,
         .configs = create_configs, .config_count = 3},
        {.name = {"plain", 5}, .partition_count = 1, .replication_factor = 1},
    };
    struct sb_create_topics_request request = {.topics = topics, .topic_count = 2,
                                               .timeout_ms = 5000, .validate_only = 1};
    fixture_frame_begin(writer, SB_API_CREATE_TOPICS, false);
    sb_create_topics_request_encode(writer, &request);
    return sb_frame_finish(writer);
}

Test(api_admin, create_topics_request_round_trip)
{
    struct sb_frame frame = fixture_encode(encode_create_topics_request,
                                           "create_topics_request");
    struct sb_create_topics_request request;
    cr_assert_eq(sb_create_topics_request_decode(frame.body, frame.body_bytes, &request), 0);
    cr_assert_eq(request.timeout_ms, 5000);
    cr_assert_eq(request.validate_only, 1);
    cr_assert_eq(request.topic_count, 2);
    struct sb_create_topic topic;
    struct sb_topic_config config;
    cr_assert_eq(sb_create_topics_request_next_topic(&request, &topic), 1);
    cr_assert(fixture_string_is(topic.name, "orders"));
    cr_assert_eq(topic.partition_count, 12);
    cr_assert_eq(topic.replication_factor, 1);
    cr_assert_eq(topic.config_count, 3);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(sb_create_topic_next_config(&topic, &config), 1);
        check_configs(&config, &create_configs[i]);
    }
    cr_assert_eq(sb_create_topic_next_config(&topic, &config), 0);
    cr_assert_eq(sb_create_topics_request_next_topic(&request, &topic), 1);
    cr_assert(fixture_string_is(topic.name, "plain"));
    cr_assert_eq(sb_create_topic_next_config(&topic, &config), 0);
    cr_assert_eq(sb_create_topics_request_next_topic(&request, &topic), 0);
}

Test(api_admin, create_topics_request_with_a_null_key_is_corrupt)
{
    struct sb_frame frame = fixture_encode(encode_create_topics_request,
                                           "create_topics_request");
    memcpy(body, frame.body, frame.body_bytes);
    /* topics count 4, name 2 + 6, partitions 4, replication 2, configs count 4. */
    size_t key_offset = 4 + 8 + 4 + 2 + 4;
    cr_assert_eq(body[key_offset], 14);
    fixture_poke_u16(body + key_offset, SB_WIRE_STRING_NULL);
    struct sb_create_topics_request request;
    cr_assert_eq(sb_create_topics_request_decode(body, frame.body_bytes, &request),
                 SB_ECORRUPT);
}

static const struct sb_create_topic_result create_results[] = {
    {.name = {"orders", 6}, .topic_id = 9, .error_code = 0, .error_message = {NULL, 0}},
    {.name = {"bad name", 8}, .topic_id = 0, .error_code = SB_WIRE_ERROR_INVALID_TOPIC_NAME,
     .error_message = {"space in name", 13}},
};

static int
encode_create_topics_response(struct sb_wire_writer *writer)
{
    struct sb_create_topics_response response = {.topics = create_results, .topic_count = 2};
    fixture_frame_begin(writer, SB_API_CREATE_TOPICS, true);
    sb_create_topics_response_encode(writer, &response);
    return sb_frame_finish(writer);
}

Test(api_admin, create_topics_response_round_trip)
{
    struct sb_frame frame = fixture_encode(encode_create_topics_response,
                                           "create_topics_response");
    struct sb_create_topics_response response;
    cr_assert_eq(sb_create_topics_response_decode(frame.body, frame.body_bytes, &response), 0);
    struct sb_create_topic_result result;
    cr_assert_eq(sb_create_topics_response_next_topic(&response, &result), 1);
    cr_assert(fixture_string_is(result.name, "orders"));
    cr_assert_eq(result.topic_id, 9);
    cr_assert_eq(result.error_code, 0);
    cr_assert(fixture_string_is(result.error_message, NULL));
    cr_assert_eq(sb_create_topics_response_next_topic(&response, &result), 1);
    cr_assert(fixture_string_is(result.name, "bad name"));
    cr_assert_eq(result.error_code, SB_WIRE_ERROR_INVALID_TOPIC_NAME);
    cr_assert(fixture_string_is(result.error_message, "space in name"));
    cr_assert_eq(sb_create_topics_response_next_topic(&response, &result), 0);
}

static const struct sb_wire_string delete_names[] = {{"orders", 6}, {"logs", 4}};

static int
encode_delete_topics_request(struct sb_wire_writer *writer)
{
    struct sb_delete_topics_request request = {.names = delete_names, .name_count = 2,
                                               .timeout_ms = 1000};
    fixture_frame_begin(writer, SB_API_DELETE_TOPICS, false);
    sb_delete_topics_request_encode(writer, &request);
    return sb_frame_finish(writer);
}

Test(api_admin, delete_topics_request_round_trip)
{
    struct sb_frame frame = fixture_encode(encode_delete_topics_request,
                                           "delete_topics_request");
    struct sb_delete_topics_request request;
    cr_assert_eq(sb_delete_topics_request_decode(frame.body, frame.body_bytes, &request), 0);
    cr_assert_eq(request.timeout_ms, 1000);
    cr_assert_eq(request.name_count, 2);
    struct sb_wire_string name;
    cr_assert_eq(sb_delete_topics_request_next_name(&request, &name), 1);
    cr_assert(fixture_string_is(name, "orders"));
    cr_assert_eq(sb_delete_topics_request_next_name(&request, &name), 1);
    cr_assert(fixture_string_is(name, "logs"));
    cr_assert_eq(sb_delete_topics_request_next_name(&request, &name), 0);
}

static int
encode_delete_topics_response(struct sb_wire_writer *writer)
{
    struct sb_delete_topic_result results[] = {
        {.name = {"orders", 6}, .error_code = 0},
        {.name = {"__offsets", 9}, .error_code = SB_WIRE_ERROR_POLICY_VIOLATION},
    };
    struct sb_delete_topics_response response = {.topics = results, .topic_count = 2};
    fixture_frame_begin(writer, SB_API_DELETE_TOPICS, true);
    sb_delete_topics_response_encode(writer, &response);
    return sb_frame_finish(writer);
}

Test(api_admin, delete_topics_response_round_trip)
{
    struct sb_frame frame = fixture_encode(encode_delete_topics_response,
                                           "delete_topics_response");
    struct sb_delete_topics_response response;
    cr_assert_eq(sb_delete_topics_response_decode(frame.body, frame.body_bytes, &response), 0);
    struct sb_delete_topic_result result;
    cr_assert_eq(sb_delete_topics_response_next_topic(&response, &result), 1);
    cr_assert(fixture_string_is(result.name, "orders"));
    cr_assert_eq(result.error_code, 0);
    cr_assert_eq(sb_delete_topics_response_next_topic(&response, &result), 1);
    cr_assert(fixture_string_is(result.name, "__offsets"));
    cr_assert_eq(result.error_code, SB_WIRE_ERROR_POLICY_VIOLATION);
    cr_assert_eq(sb_delete_topics_response_next_topic(&response, &result), 0);
}

static int
encode_list_topics_request(struct sb_wire_writer *writer)
{
    struct sb_list_topics_request request = {.prefix = {"ord", 3}};
    fixture_frame_begin(writer, SB_API_LIST_TOPICS, false);
    sb_list_topics_request_encode(writer, &request);
    return sb_frame_finish(writer);
}

Test(api_admin, list_topics_request_round_trip)
{
    struct sb_frame frame = fixture_encode(encode_list_topics_request, "list_topics_request");
    struct sb_list_topics_request request;
    cr_assert_eq(sb_list_topics_request_decode(frame.body, frame.body_bytes, &request), 0);
    cr_assert(fixture_string_is(request.prefix, "ord"));
    uint8_t null_prefix[2] = {0xFF, 0xFF};
    cr_assert_eq(sb_list_topics_request_decode(null_prefix, 2, &request), SB_ECORRUPT,
                 "all topics is the empty prefix, not null");
}

static const struct sb_list_topics_entry listed_topics[] = {
    {.name = {"__offsets", 9}, .topic_id = 1, .partition_count = 50, .internal = 1},
    {.name = {"orders", 6}, .topic_id = 9, .partition_count = 12, .internal = 0},
};

static int
encode_list_topics_response(struct sb_wire_writer *writer)
{
    struct sb_list_topics_response response = {.topics = listed_topics, .topic_count = 2};
    fixture_frame_begin(writer, SB_API_LIST_TOPICS, true);
    sb_list_topics_response_encode(writer, &response);
    return sb_frame_finish(writer);
}

Test(api_admin, list_topics_response_round_trip)
{
    struct sb_frame frame = fixture_encode(encode_list_topics_response, "list_topics_response");
    struct sb_list_topics_response response;
    cr_assert_eq(sb_list_topics_response_decode(frame.body, frame.body_bytes, &response), 0);
    struct sb_list_topics_entry entry;
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(sb_list_topics_response_next_topic(&response, &entry), 1);
        cr_assert_eq(entry.name.length, listed_topics[i].name.length);
        cr_assert_arr_eq(entry.name.chars, listed_topics[i].name.chars, entry.name.length);
        cr_assert_eq(entry.topic_id, listed_topics[i].topic_id);
        cr_assert_eq(entry.partition_count, listed_topics[i].partition_count);
        cr_assert_eq(entry.internal, listed_topics[i].internal);
    }
    cr_assert_eq(sb_list_topics_response_next_topic(&response, &entry), 0);
}

static int
encode_describe_topic_request(struct sb_wire_writer *writer)
{
    struct sb_describe_topic_request request = {.name = {"orders", 6}};
    fixture_frame_begin(writer, SB_API_DESCRIBE_TOPIC, false);
    sb_describe_topic_request_encode(writer, &request);
    return sb_frame_finish(writer);
}

Test(api_admin, describe_topic_request_round_trip)
{
    struct sb_frame frame = fixture_encode(encode_describe_topic_request,
                                           "describe_topic_request");
    struct sb_describe_topic_request request;
    cr_assert_eq(sb_describe_topic_request_decode(frame.body, frame.body_bytes, &request), 0);
    cr_assert(fixture_string_is(request.name, "orders"));
}

static const struct sb_describe_topic_partition described_partitions[] = {
    {.partition = 0, .leader = 1, .shard = 0, .log_start_offset = 0, .high_watermark = 100,
     .log_end_offset = 101},
    {.partition = 1, .leader = 1, .shard = 1, .log_start_offset = 5, .high_watermark = 5,
     .log_end_offset = 5},
};
static const struct sb_topic_config described_configs[] = {
    {.key = {"cleanup.policy", 14}, .value = {"delete", 6}, .is_default = 1},
    {.key = {"retention.ms", 12}, .value = {"3600000", 7}, .is_default = 0},
    {.key = {"secret", 6}, .value = {NULL, 0}, .is_default = 0},
};

static int
encode_describe_topic_response(struct sb_wire_writer *writer)
{
    struct sb_describe_topic_response response = {
        .error_code = 0, .name = {"orders", 6}, .topic_id = 9,
        .partitions = described_partitions, .partition_count = 2,
        .configs = described_configs, .config_count = 3,
    };
    fixture_frame_begin(writer, SB_API_DESCRIBE_TOPIC, true);
    sb_describe_topic_response_encode(writer, &response);
    return sb_frame_finish(writer);
}

Test(api_admin, describe_topic_response_round_trip)
{
    struct sb_frame frame = fixture_encode(encode_describe_topic_response,
                                           "describe_topic_response");
    struct sb_describe_topic_response response;
    cr_assert_eq(sb_describe_topic_response_decode(frame.body, frame.body_bytes, &response), 0);
    cr_assert(fixture_string_is(response.name, "orders"));
    cr_assert_eq(response.topic_id, 9);
    struct sb_describe_topic_partition partition;
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(sb_describe_topic_response_next_partition(&response, &partition), 1);
        const struct sb_describe_topic_partition *want = &described_partitions[i];
        cr_assert_eq(partition.partition, want->partition);
        cr_assert_eq(partition.leader, want->leader);
        cr_assert_eq(partition.shard, want->shard);
        cr_assert_eq(partition.log_start_offset, want->log_start_offset);
        cr_assert_eq(partition.high_watermark, want->high_watermark);
        cr_assert_eq(partition.log_end_offset, want->log_end_offset);
    }
    cr_assert_eq(sb_describe_topic_response_next_partition(&response, &partition), 0);
    struct sb_topic_config config;
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(sb_describe_topic_response_next_config(&response, &config), 1);
        check_configs(&config, &described_configs[i]);
        cr_assert_eq(config.is_default, described_configs[i].is_default);
    }
    cr_assert_eq(sb_describe_topic_response_next_config(&response, &config), 0);
}

static int
encode_alter_topic_config_request(struct sb_wire_writer *writer)
{
    struct sb_alter_topic_config_request request = {
        .name = {"orders", 6}, .partition_count = 24, .configs = create_configs,
        .config_count = 3, .validate_only = 0,
    };
    fixture_frame_begin(writer, SB_API_ALTER_TOPIC_CONFIG, false);
    sb_alter_topic_config_request_encode(writer, &request);
    return sb_frame_finish(writer);
}

Test(api_admin, alter_topic_config_request_round_trip)
{
    struct sb_frame frame = fixture_encode(encode_alter_topic_config_request,
                                           "alter_topic_config_request");
    struct sb_alter_topic_config_request request;
    cr_assert_eq(sb_alter_topic_config_request_decode(frame.body, frame.body_bytes, &request),
                 0);
    cr_assert(fixture_string_is(request.name, "orders"));
    cr_assert_eq(request.partition_count, 24);
    cr_assert_eq(request.validate_only, 0);
    struct sb_topic_config config;
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(sb_alter_topic_config_request_next_config(&request, &config), 1);
        check_configs(&config, &create_configs[i]);
    }
    cr_assert_eq(sb_alter_topic_config_request_next_config(&request, &config), 0);
}

static int
encode_alter_topic_config_response(struct sb_wire_writer *writer)
{
    struct sb_alter_topic_config_response response = {
        .error_code = SB_WIRE_ERROR_INVALID_CONFIG,
        .error_message = {"retention.ms: not a number", 26},
    };
    fixture_frame_begin(writer, SB_API_ALTER_TOPIC_CONFIG, true);
    sb_alter_topic_config_response_encode(writer, &response);
    return sb_frame_finish(writer);
}

Test(api_admin, alter_topic_config_response_round_trip)
{
    struct sb_frame frame = fixture_encode(encode_alter_topic_config_response,
                                           "alter_topic_config_response");
    struct sb_alter_topic_config_response response;
    cr_assert_eq(sb_alter_topic_config_response_decode(frame.body, frame.body_bytes,
                                                       &response), 0);
    cr_assert_eq(response.error_code, SB_WIRE_ERROR_INVALID_CONFIG);
    cr_assert(fixture_string_is(response.error_message, "retention.ms: not a number"));
}

Test(api_admin, topic_name_rules)
{
    static char longest[SB_WIRE_TOPIC_NAME_BYTES_MAX + 2];
    memset(longest, 'a', SB_WIRE_TOPIC_NAME_BYTES_MAX);
    cr_assert(sb_topic_name_is_valid(sb_wire_string_from_cstr(longest)));
    longest[SB_WIRE_TOPIC_NAME_BYTES_MAX] = 'a';
    cr_assert_not(sb_topic_name_is_valid(sb_wire_string_from_cstr(longest)));
    static const char *const valid[] = {"a", "orders", "Orders.v2", "a-b_c", "...", "__offsets"};
    for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
        cr_assert(sb_topic_name_is_valid(sb_wire_string_from_cstr(valid[i])), "%s", valid[i]);
    }
    static const char *const invalid[] = {"", ".", "..", "a b", "a/b", "tópico", "a\n"};
    for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
        cr_assert_not(sb_topic_name_is_valid(sb_wire_string_from_cstr(invalid[i])), "%s",
                      invalid[i]);
    }
    cr_assert_not(sb_topic_name_is_valid(sb_wire_string_from_cstr(NULL)));
    struct sb_wire_string with_nul = {"a\0b", 3};
    cr_assert_not(sb_topic_name_is_valid(with_nul));
}
