/*
 * test/broker/test_api.c - the API registry (broker/api.c) without a process: every
 * registered API decodes a request made with proto's codecs and answers a response that
 * proto's codecs decode; keys without an entry and versions outside an entry's range are
 * refused before any handler runs; ApiVersions answers the table.
 *
 * The requests name no existing partition and change nothing durable (validate_only, unknown
 * names, a producer id asked again), so they run on a broker_unit shard with no storage.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "broker_unit.h"
#include "broker/api.h"
#include "proto/api_admin.h"
#include "proto/api_fetch.h"
#include "proto/api_group.h"
#include "proto/api_meta.h"
#include "proto/api_produce.h"
#include "proto/api_producer.h"

static const struct sb_wire_string missing = {"missing", 7};

static int
body_empty(struct sb_wire_writer *writer, const void *context)
{
    return 0;
}

static int
body_metadata(struct sb_wire_writer *writer, const void *context)
{
    struct sb_metadata_request request = {.topics = &missing, .topic_count = 1};
    return sb_metadata_request_encode(writer, &request);
}

static int
body_produce(struct sb_wire_writer *writer, const void *context)
{
    static const uint8_t no_batch[1];
    struct sb_produce_partition partition = {.partition = 0, .records = {no_batch, 0}};
    struct sb_produce_topic topic = {.name = missing, .partitions = &partition,
                                     .partition_count = 1};
    struct sb_produce_request request = {.acks = 1, .topics = &topic, .topic_count = 1};
    return sb_produce_request_encode(writer, &request);
}

static int
body_fetch(struct sb_wire_writer *writer, const void *context)
{
    struct sb_fetch_partition partition = {.partition = 0, .partition_max_bytes = 1024};
    struct sb_fetch_topic topic = {.name = missing, .partitions = &partition,
                                   .partition_count = 1};
    struct sb_fetch_request request = {.api_version = 1, .max_bytes = 4096, .topics = &topic,
                                       .topic_count = 1};
    return sb_fetch_request_encode(writer, &request);
}

static int
body_list_offsets(struct sb_wire_writer *writer, const void *context)
{
    struct sb_list_offsets_partition partition = {.partition = 0,
                                                  .timestamp = SB_LIST_OFFSETS_LATEST};
    struct sb_list_offsets_topic topic = {.name = missing, .partitions = &partition,
                                          .partition_count = 1};
    struct sb_list_offsets_request request = {.topics = &topic, .topic_count = 1};
    return sb_list_offsets_request_encode(writer, &request);
}

static int
body_init_producer_id(struct sb_wire_writer *writer, const void *context)
{
    struct sb_init_producer_id_request request = {.producer_id = 5, .producer_epoch = 0};
    return sb_init_producer_id_request_encode(writer, &request);
}

static int
body_create_topics(struct sb_wire_writer *writer, const void *context)
{
    struct sb_create_topic topic = {.name = missing, .partition_count = 2,
                                    .replication_factor = 1};
    struct sb_create_topics_request request = {.topics = &topic, .topic_count = 1,
                                               .validate_only = 1};
    return sb_create_topics_request_encode(writer, &request);
}

static int
body_delete_topics(struct sb_wire_writer *writer, const void *context)
{
    struct sb_delete_topics_request request = {.names = &missing, .name_count = 1};
    return sb_delete_topics_request_encode(writer, &request);
}

static int
body_list_topics(struct sb_wire_writer *writer, const void *context)
{
    struct sb_list_topics_request request = {.prefix = {"m", 1}};
    return sb_list_topics_request_encode(writer, &request);
}

static int
body_describe_topic(struct sb_wire_writer *writer, const void *context)
{
    struct sb_describe_topic_request request = {.name = missing};
    return sb_describe_topic_request_encode(writer, &request);
}

static int
body_alter_topic_config(struct sb_wire_writer *writer, const void *context)
{
    struct sb_alter_topic_config_request request = {.name = missing};
    return sb_alter_topic_config_request_encode(writer, &request);
}

/* Each response decodes with proto's codec and says what the request asked for. */
static void
check_api_versions(const uint8_t *body, uint32_t bytes)
{
    struct sb_api_versions_response response;
    cr_assert_eq(sb_api_versions_response_decode(body, bytes, &response), 0);
    struct sb_api_version_range table[SB_API_COUNT];
    uint32_t count = api_version_ranges(table, SB_API_COUNT);
    cr_assert_eq(response.api_count, count, "ApiVersions lists every table entry");
    struct sb_api_version_range range;
    for (uint32_t index = 0; index < count; index++) {
        cr_assert_eq(sb_api_versions_response_next_api(&response, &range), 1);
        const struct api *api = api_find(range.api_key);
        cr_assert_not_null(api);
        cr_assert_eq(range.api_key, table[index].api_key);
        cr_assert_eq(range.min_version, api->version_min);
        cr_assert_eq(range.max_version, api->version_max);
    }
}

static void
check_metadata(const uint8_t *body, uint32_t bytes)
{
    struct sb_metadata_response response;
    cr_assert_eq(sb_metadata_response_decode(body, bytes, &response), 0);
    cr_assert_eq(response.broker_count, 1);
    struct sb_metadata_topic topic;
    cr_assert_eq(sb_metadata_response_next_topic(&response, &topic), 1);
    cr_assert_eq(topic.error_code, SB_WIRE_ERROR_UNKNOWN_TOPIC_OR_PARTITION);
}

static void
check_produce(const uint8_t *body, uint32_t bytes)
{
    struct sb_produce_response response;
    cr_assert_eq(sb_produce_response_decode(body, bytes, &response), 0);
    struct sb_produce_topic_response topic;
    struct sb_produce_partition_response partition;
    cr_assert_eq(sb_produce_response_next_topic(&response, &topic), 1);
    cr_assert_eq(sb_produce_topic_response_next_partition(&topic, &partition), 1);
    cr_assert_eq(partition.error_code, SB_WIRE_ERROR_UNKNOWN_TOPIC_OR_PARTITION);
    cr_assert_eq(partition.base_offset, -1);
}

static void
check_fetch(const uint8_t *body, uint32_t bytes)
{
    struct sb_fetch_response response;
    cr_assert_eq(sb_fetch_response_decode(body, bytes, &response), 0);
    struct sb_fetch_topic_response topic;
    struct sb_fetch_partition_response partition;
    cr_assert_eq(sb_fetch_response_next_topic(&response, &topic), 1);
    cr_assert_eq(sb_fetch_topic_response_next_partition(&topic, &partition), 1);
    cr_assert_eq(partition.error_code, SB_WIRE_ERROR_UNKNOWN_TOPIC_OR_PARTITION);
    cr_assert_eq(partition.records.length, 0);
}

static void
check_list_offsets(const uint8_t *body, uint32_t bytes)
{
    struct sb_list_offsets_response response;
    cr_assert_eq(sb_list_offsets_response_decode(body, bytes, &response), 0);
    struct sb_list_offsets_topic_response topic;
    struct sb_list_offsets_partition_response partition;
    cr_assert_eq(sb_list_offsets_response_next_topic(&response, &topic), 1);
    cr_assert_eq(sb_list_offsets_topic_response_next_partition(&topic, &partition), 1);
    cr_assert_eq(partition.error_code, SB_WIRE_ERROR_UNKNOWN_TOPIC_OR_PARTITION);
}

static void
check_init_producer_id(const uint8_t *body, uint32_t bytes)
{
    struct sb_init_producer_id_response response;
    cr_assert_eq(sb_init_producer_id_response_decode(body, bytes, &response), 0);
    cr_assert_eq(response.error_code, SB_WIRE_ERROR_INVALID_PRODUCER_ID_MAPPING);
}

static void
check_create_topics(const uint8_t *body, uint32_t bytes)
{
    struct sb_create_topics_response response;
    cr_assert_eq(sb_create_topics_response_decode(body, bytes, &response), 0);
    struct sb_create_topic_result result;
    cr_assert_eq(sb_create_topics_response_next_topic(&response, &result), 1);
    cr_assert_eq(result.error_code, SB_WIRE_ERROR_NONE);
    cr_assert_eq(result.topic_id, 0, "validate_only creates nothing");
}

static void
check_delete_topics(const uint8_t *body, uint32_t bytes)
{
    struct sb_delete_topics_response response;
    cr_assert_eq(sb_delete_topics_response_decode(body, bytes, &response), 0);
    struct sb_delete_topic_result result;
    cr_assert_eq(sb_delete_topics_response_next_topic(&response, &result), 1);
    cr_assert_eq(result.error_code, SB_WIRE_ERROR_UNKNOWN_TOPIC_OR_PARTITION);
}

static void
check_list_topics(const uint8_t *body, uint32_t bytes)
{
    struct sb_list_topics_response response;
    cr_assert_eq(sb_list_topics_response_decode(body, bytes, &response), 0);
    cr_assert_eq(response.topic_count, 0);
}

static void
check_describe_topic(const uint8_t *body, uint32_t bytes)
{
    struct sb_describe_topic_response response;
    cr_assert_eq(sb_describe_topic_response_decode(body, bytes, &response), 0);
    cr_assert_eq(response.error_code, SB_WIRE_ERROR_UNKNOWN_TOPIC_OR_PARTITION);
}

static void
check_alter_topic_config(const uint8_t *body, uint32_t bytes)
{
    struct sb_alter_topic_config_response response;
    cr_assert_eq(sb_alter_topic_config_response_decode(body, bytes, &response), 0);
    cr_assert_eq(response.error_code, SB_WIRE_ERROR_UNKNOWN_TOPIC_OR_PARTITION);
}

static void
check_health(const uint8_t *body, uint32_t bytes)
{
    struct sb_health_response response;
    cr_assert_eq(sb_health_response_decode(body, bytes, &response), 0);
    cr_assert_eq(response.shard_count, 1);
    struct sb_health_shard shard;
    cr_assert_eq(sb_health_response_next_shard(&response, &shard), 1);
    cr_assert_eq(shard.shard_id, 0);
}

/* Group requests name the empty group id: answered INVALID_GROUP_ID on the connection's
 * shard, before any coordinator (a unit has no offsets topic). */
static const struct sb_wire_string no_group = {"", 0};

static int
body_offset_commit(struct sb_wire_writer *writer, const void *context)
{
    struct sb_offset_commit_partition partition = {.partition = 0, .offset = 1};
    struct sb_offset_commit_topic topic = {.name = missing, .partitions = &partition,
                                           .partition_count = 1};
    struct sb_offset_commit_request request = {.group_id = no_group, .member_id = {"", 0},
                                               .member_epoch = -1, .topics = &topic,
                                               .topic_count = 1};
    return sb_offset_commit_request_encode(writer, &request);
}

static int
body_alter_group_offsets(struct sb_wire_writer *writer, const void *context)
{
    struct sb_alter_group_offsets_request request = {.group_id = no_group};
    return sb_alter_group_offsets_request_encode(writer, &request);
}

static int
body_offset_fetch(struct sb_wire_writer *writer, const void *context)
{
    struct sb_offset_fetch_request request = {.group_id = no_group, .all_topics = true};
    return sb_offset_fetch_request_encode(writer, &request);
}

static int
body_group_id(struct sb_wire_writer *writer, const void *context)
{
    struct sb_group_id_request request = {.group_id = no_group};
    return sb_group_id_request_encode(writer, &request);
}

static int
body_group_heartbeat(struct sb_wire_writer *writer, const void *context)
{
    struct sb_group_heartbeat_request request = {
        .group_id = no_group, .member_id = {"m", 1}, .rebalance_timeout_ms = -1,
        .topic_names_unchanged = true, .owned_unchanged = true};
    return sb_group_heartbeat_request_encode(writer, &request);
}

static void
check_group_heartbeat(const uint8_t *body, uint32_t bytes)
{
    struct sb_group_heartbeat_response response;
    cr_assert_eq(sb_group_heartbeat_response_decode(body, bytes, &response), 0);
    cr_assert_eq(response.error_code, SB_WIRE_ERROR_INVALID_GROUP_ID);
    cr_assert_eq(response.member_epoch, -1);
}

static void
check_offset_commit(const uint8_t *body, uint32_t bytes)
{
    struct sb_offset_commit_response response;
    cr_assert_eq(sb_offset_commit_response_decode(body, bytes, &response), 0);
    cr_assert_eq(response.error_code, SB_WIRE_ERROR_INVALID_GROUP_ID);
    cr_assert_eq(response.topic_count, 0);
}

static void
check_offset_fetch(const uint8_t *body, uint32_t bytes)
{
    struct sb_offset_fetch_response response;
    cr_assert_eq(sb_offset_fetch_response_decode(body, bytes, &response), 0);
    cr_assert_eq(response.error_code, SB_WIRE_ERROR_INVALID_GROUP_ID);
}

static int
body_list_groups(struct sb_wire_writer *writer, const void *context)
{
    struct sb_list_groups_request request = {0};
    return sb_list_groups_request_encode(writer, &request);
}

/* A unit's shard has no group table: it is not serving groups. */
static void
check_list_groups(const uint8_t *body, uint32_t bytes)
{
    struct sb_list_groups_response response;
    cr_assert_eq(sb_list_groups_response_decode(body, bytes, &response), 0);
    cr_assert_eq(response.error_code, SB_WIRE_ERROR_COORDINATOR_LOAD_IN_PROGRESS);
    cr_assert_eq(response.group_count, 0);
}

static void
check_describe_group(const uint8_t *body, uint32_t bytes)
{
    struct sb_describe_group_response response;
    cr_assert_eq(sb_describe_group_response_decode(body, bytes, &response), 0);
    cr_assert_eq(response.error_code, SB_WIRE_ERROR_INVALID_GROUP_ID);
}

static void
check_delete_group(const uint8_t *body, uint32_t bytes)
{
    struct sb_delete_group_response response;
    cr_assert_eq(sb_delete_group_response_decode(body, bytes, &response), 0);
    cr_assert_eq(response.error_code, SB_WIRE_ERROR_INVALID_GROUP_ID);
}

/* One request per API: how to write it and what its answer must say. */
struct api_case {
    uint16_t key;                                                      /* The API. */
    uint16_t version;                                                  /* Its newest. */
    int (*encode_body)(struct sb_wire_writer *writer, const void *context); /* Request. */
    void (*check)(const uint8_t *body, uint32_t bytes);                /* Response. */
};

static const struct api_case cases[] = {
    {SB_API_API_VERSIONS, 0, body_empty, check_api_versions},
    {SB_API_METADATA, 0, body_metadata, check_metadata},
    {SB_API_PRODUCE, 0, body_produce, check_produce},
    {SB_API_FETCH, 1, body_fetch, check_fetch},
    {SB_API_LIST_OFFSETS, 0, body_list_offsets, check_list_offsets},
    {SB_API_INIT_PRODUCER_ID, 0, body_init_producer_id, check_init_producer_id},
    {SB_API_CREATE_TOPICS, 0, body_create_topics, check_create_topics},
    {SB_API_DELETE_TOPICS, 0, body_delete_topics, check_delete_topics},
    {SB_API_LIST_TOPICS, 0, body_list_topics, check_list_topics},
    {SB_API_DESCRIBE_TOPIC, 0, body_describe_topic, check_describe_topic},
    {SB_API_ALTER_TOPIC_CONFIG, 0, body_alter_topic_config, check_alter_topic_config},
    {SB_API_HEALTH, 0, body_empty, check_health},
    {SB_API_OFFSET_COMMIT, 0, body_offset_commit, check_offset_commit},
    {SB_API_OFFSET_FETCH, 0, body_offset_fetch, check_offset_fetch},
    {SB_API_GROUP_HEARTBEAT, 0, body_group_heartbeat, check_group_heartbeat},
    {SB_API_LIST_GROUPS, 0, body_list_groups, check_list_groups},
    {SB_API_DESCRIBE_GROUP, 0, body_group_id, check_describe_group},
    {SB_API_DELETE_GROUP, 0, body_group_id, check_delete_group},
    {SB_API_ALTER_GROUP_OFFSETS, 0, body_alter_group_offsets, check_offset_commit},
};

static const struct api_case *
case_find(uint16_t key)
{
    for (uint32_t index = 0; index < sizeof(cases) / sizeof(cases[0]); index++) {
        if (cases[index].key == key) {
            return &cases[index];
        }
    }
    return NULL;
}

/* Runs one request on a fresh one-shard unit; returns its frame-level error, the body
 * checked by `check` when it is NONE. */
static int16_t
run(uint16_t key, uint16_t version, uint16_t flags,
    int (*encode_body)(struct sb_wire_writer *writer, const void *context),
    void (*check)(const uint8_t *body, uint32_t bytes))
{
    struct broker_unit unit;
    broker_unit_init(&unit, 1);
    struct request *request = broker_unit_request(&unit, key, version, flags, encode_body,
                                                  NULL);
    request_start(request);
    const uint8_t *body;
    uint32_t body_bytes;
    int16_t error = broker_unit_response(request, &body, &body_bytes);
    if (error == SB_WIRE_ERROR_NONE && check != NULL) {
        check(body, body_bytes);
    }
    if (error != SB_WIRE_ERROR_NONE) {
        cr_assert_eq(body_bytes, 0, "a frame-level error has an empty body");
    }
    request_release(request);
    broker_unit_deinit(&unit);
    return error;
}

Test(api, every_entry_is_complete_and_within_what_proto_decodes)
{
    uint32_t registered = 0;
    for (uint32_t key = 0; key <= UINT16_MAX; key++) {
        const struct api *api = api_find((uint16_t)key);
        if (api == NULL) {
            continue;
        }
        registered++;
        cr_assert_lt(key, api_key_limit());
        cr_assert_eq(api->key, key, "an entry sits at its key");
        cr_assert_leq(api->version_min, api->version_max);
        cr_assert_eq(sb_api_check(api->key, api->version_min), SB_WIRE_ERROR_NONE);
        cr_assert_eq(sb_api_check(api->key, api->version_max), SB_WIRE_ERROR_NONE);
        cr_assert_not_null(api->decode);
        cr_assert_not_null(api->encode);
        bool owners = api->route == API_ROUTE_OWNERS || api->route == API_ROUTE_COORDINATOR;
        cr_assert_eq(api->execute != NULL, owners, "%s: execute iff ops run on owners",
                     sb_api_name(api->key));
        if (api->gathered != NULL) {
            cr_assert(owners);
        }
        cr_assert_not_null(case_find(api->key), "%s has a round-trip case here",
                           sb_api_name(api->key));
    }
    cr_assert_eq(registered, SB_API_COUNT, "every API proto decodes is served");
}

Test(api, every_registered_api_round_trips_through_its_handlers)
{
    for (uint32_t index = 0; index < sizeof(cases) / sizeof(cases[0]); index++) {
        const struct api_case *one = &cases[index];
        cr_assert_not_null(api_find(one->key));
        cr_assert_eq(run(one->key, one->version, 0, one->encode_body, one->check),
                     SB_WIRE_ERROR_NONE, "%s", sb_api_name(one->key));
    }
}

Test(api, api_versions_answers_the_table)
{
    cr_assert_eq(run(SB_API_API_VERSIONS, 0, 0, body_empty, check_api_versions),
                 SB_WIRE_ERROR_NONE);
}

Test(api, unregistered_keys_are_unknown_api)
{
    const struct api *api = (const struct api *)&api;
    cr_assert_eq(api_check(SB_API_COUNT, 0, &api), SB_WIRE_ERROR_UNKNOWN_API);
    cr_assert_null(api);
    cr_assert_eq(api_check(UINT16_MAX, 0, &api), SB_WIRE_ERROR_UNKNOWN_API);
    cr_assert_null(api_find((uint16_t)api_key_limit()));
    cr_assert_eq(run(SB_API_COUNT, 0, 0, body_empty, NULL), SB_WIRE_ERROR_UNKNOWN_API);
    cr_assert_eq(run(UINT16_MAX, 0, 0, body_empty, NULL), SB_WIRE_ERROR_UNKNOWN_API);
}

Test(api, versions_outside_an_entry_are_unsupported)
{
    for (uint32_t index = 0; index < sizeof(cases) / sizeof(cases[0]); index++) {
        const struct api *api = api_find(cases[index].key);
        const struct api *found = NULL;
        cr_assert_eq(api_check(api->key, (uint16_t)(api->version_max + 1), &found),
                     SB_WIRE_ERROR_UNSUPPORTED_VERSION);
        cr_assert_eq(found, api);
        cr_assert_eq(run(api->key, (uint16_t)(api->version_max + 1), 0,
                         cases[index].encode_body, NULL),
                     SB_WIRE_ERROR_UNSUPPORTED_VERSION, "%s", sb_api_name(api->key));
    }
}

Test(api, only_produce_may_ask_for_no_response)
{
    for (uint32_t index = 0; index < sizeof(cases) / sizeof(cases[0]); index++) {
        const struct api_case *one = &cases[index];
        if (one->key == SB_API_PRODUCE) {
            continue;
        }
        cr_assert_eq(run(one->key, one->version, SB_FRAME_FLAG_NO_RESPONSE, one->encode_body,
                         NULL),
                     SB_WIRE_ERROR_INVALID_REQUEST, "%s", sb_api_name(one->key));
    }
    cr_assert_eq(run(SB_API_COUNT, 0, SB_FRAME_FLAG_NO_RESPONSE, body_empty, NULL),
                 SB_WIRE_ERROR_INVALID_REQUEST, "an unknown key too (the frame is closed)");
}

Test(api, a_body_that_does_not_decode_is_invalid_request)
{
    for (uint32_t index = 0; index < sizeof(cases) / sizeof(cases[0]); index++) {
        const struct api_case *one = &cases[index];
        if (one->encode_body == body_empty) {
            continue; /* An empty body is the whole request. */
        }
        cr_assert_eq(run(one->key, one->version, 0, body_empty, NULL),
                     SB_WIRE_ERROR_INVALID_REQUEST, "%s", sb_api_name(one->key));
    }
}
