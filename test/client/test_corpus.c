/*
 * test/client/test_corpus.c - writes the seed corpus of fuzz_client.c: one
 * well-formed answer per API the client decodes, plus answers that take the
 * interesting paths (retriable and fatal produce errors, a fenced producer,
 * out-of-range fetches, compressed and control batches, a raw frame, group answers: an
 * assignment of an unknown topic id, a fencing, stored and refused commits, an offset).
 *
 * Each file is: target byte (enum fuzz_target), frame error byte, body. The
 * files are checked in under test/client/corpus/ and replayed by meson test;
 * to rewrite them after a format change:
 *   SB_CLIENT_CORPUS_DIR=$PWD/test/client/corpus build/test/client/test_client \
 *       --filter 'corpus/every_fuzz_seed_encodes'
 * Without the variable the test only checks that every seed can be encoded.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/client_private.h"
#include "proto/api_admin.h"
#include "proto/api_fetch.h"
#include "proto/api_group.h"
#include "proto/api_meta.h"
#include "proto/api_produce.h"
#include "proto/api_producer.h"
#include "proto/batch.h"

/* fuzz_client.c's targets (kept in step by hand; the values are its input format). */
enum seed_target {
    SEED_API_VERSIONS = 0,
    SEED_METADATA = 1,
    SEED_PRODUCE = 2,
    SEED_FETCH = 3,
    SEED_LIST_OFFSETS = 4,
    SEED_INIT_PRODUCER_ID = 5,
    SEED_CREATE_TOPICS = 6,
    SEED_DELETE_TOPICS = 7,
    SEED_LIST_TOPICS = 8,
    SEED_DESCRIBE_TOPIC = 9,
    SEED_ALTER_TOPIC_CONFIG = 10,
    SEED_HEALTH = 11,
    SEED_RAW = 12,
    SEED_LIST_GROUPS = 13,
    SEED_DESCRIBE_GROUP = 14,
    SEED_GROUP_HEARTBEAT = 15,
    SEED_OFFSET_COMMIT = 16,
    SEED_OFFSET_FETCH = 17,
};

static uint8_t seed_body[1 << 16];

/* Writes target, frame_error and the writer's bytes as corpus file name (when asked). */
static void
seed_write(const char *name, enum seed_target target, int8_t frame_error,
           const struct sb_wire_writer *writer)
{
    cr_assert_eq(writer->error, 0, "%s encodes", name);
    const char *directory = getenv("SB_CLIENT_CORPUS_DIR");
    if (directory == NULL) {
        return;
    }
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", directory, name);
    FILE *file = fopen(path, "wb");
    cr_assert_not_null(file, "%s", path);
    uint8_t prefix[2] = {(uint8_t)target, (uint8_t)frame_error};
    fwrite(prefix, 1, 2, file);
    fwrite(writer->start, 1, sb_wire_writer_length(writer), file);
    fclose(file);
}

static struct sb_wire_writer
seed_writer(void)
{
    struct sb_wire_writer writer;
    sb_wire_writer_init(&writer, seed_body, sizeof(seed_body));
    return writer;
}

static void
seed_api_versions(void)
{
    const struct sb_api_version_range *ranges = NULL;
    uint32_t count = sb_api_version_ranges(&ranges);
    struct sb_api_versions_response response = {
        .apis = ranges, .api_count = count, .broker_version = sb_wire_string_from_cstr("0.1.0"),
        .frame_bytes_max = 16u << 20, .batch_bytes_max = 1u << 20};
    struct sb_wire_writer writer = seed_writer();
    sb_api_versions_response_encode(&writer, &response);
    seed_write("api_versions", SEED_API_VERSIONS, 0, &writer);
    /* The same answer as raw bytes: a whole frame for the handshake (correlation id 1). */
    static uint8_t frame[4096];
    struct sb_wire_writer raw;
    sb_wire_writer_init(&raw, frame, sizeof(frame));
    struct sb_frame_header header = {.api_key = SB_API_API_VERSIONS, .correlation_id = 1,
                                     .flags = SB_FRAME_FLAG_RESPONSE};
    cr_assert_eq(sb_frame_begin(&raw, &header), 0);
    sb_api_versions_response_encode(&raw, &response);
    cr_assert_eq(sb_frame_finish(&raw), 0);
    seed_write("raw_api_versions_frame", SEED_RAW, 0, &raw);
}

static void
seed_metadata(void)
{
    struct sb_metadata_shard shards[2] = {{0, 2}, {1, 3}};
    struct sb_metadata_broker broker = {.node_id = 0,
                                        .host = sb_wire_string_from_cstr("127.0.0.1"),
                                        .port = 1, .shards = shards, .shard_count = 2};
    struct sb_metadata_partition partitions[3] = {{0, 0, 1, 0}, {1, 0, 0, 0}, {2, -1, -1, 18}};
    struct sb_metadata_topic topics[2] = {
        {.name = sb_wire_string_from_cstr("t"), .topic_id = 1, .partitions = partitions,
         .partition_count = 3},
        {.error_code = 7, .name = sb_wire_string_from_cstr("gone")}};
    struct sb_metadata_response response = {.brokers = &broker, .broker_count = 1,
                                            .topics = topics, .topic_count = 2};
    struct sb_wire_writer writer = seed_writer();
    sb_metadata_response_encode(&writer, &response);
    seed_write("metadata", SEED_METADATA, 0, &writer);
}

static void
seed_produce_one(const char *name, int16_t first_error, int16_t second_error, int8_t frame)
{
    struct sb_produce_partition_response partitions[2] = {
        {0, first_error, first_error == 0 ? 10 : -1, -1, 0},
        {1, second_error, second_error == 0 ? 20 : -1, 1700000000000, 0}};
    struct sb_produce_topic_response topic = {.name = sb_wire_string_from_cstr("t"),
                                              .partitions = partitions, .partition_count = 2};
    struct sb_produce_response response = {.topics = &topic, .topic_count = 1};
    struct sb_wire_writer writer = seed_writer();
    if (frame == 0) {
        sb_produce_response_encode(&writer, &response);
    }
    seed_write(name, SEED_PRODUCE, frame, &writer);
}

static void
seed_produce(void)
{
    seed_produce_one("produce_ok", 0, 0, 0);
    seed_produce_one("produce_not_leader", 0, SB_WIRE_ERROR_NOT_LEADER_OR_FOLLOWER, 0);
    seed_produce_one("produce_out_of_order", SB_WIRE_ERROR_OUT_OF_ORDER_SEQUENCE_NUMBER, 0, 0);
    seed_produce_one("produce_fenced", SB_WIRE_ERROR_INVALID_PRODUCER_EPOCH,
                     SB_WIRE_ERROR_MESSAGE_TOO_LARGE, 0);
    seed_produce_one("produce_frame_error", 0, 0, SB_WIRE_ERROR_TOO_MANY_IN_FLIGHT_REQUESTS);
    struct sb_init_producer_id_response ok = {0, 7, 0};
    struct sb_wire_writer writer = seed_writer();
    sb_init_producer_id_response_encode(&writer, &ok);
    seed_write("init_producer_id", SEED_INIT_PRODUCER_ID, 0, &writer);
    struct sb_init_producer_id_response fenced = {SB_WIRE_ERROR_INVALID_PRODUCER_EPOCH, -1, -1};
    writer = seed_writer();
    sb_init_producer_id_response_encode(&writer, &fenced);
    seed_write("init_producer_id_fenced", SEED_INIT_PRODUCER_ID, 0, &writer);
}

/* Appends a batch of count records at base_offset to records (used bytes so far). */
static size_t
seed_batch(uint8_t *records, size_t used, int64_t base_offset, uint32_t count,
           enum sb_compression codec, bool control)
{
    static uint8_t buffer[4096];
    static uint8_t scratch[8192];
    struct sb_batch_builder builder;
    sb_batch_builder_init(&builder, buffer, sizeof(buffer), 1000);
    sb_batch_builder_set_control(&builder, control);
    struct sb_record_header header = {"h", 1, "v", 1};
    for (uint32_t index = 0; index < count; index++) {
        struct sb_record record = {.key = "k", .key_length = 1, .value = "value",
                                   .value_length = 5, .timestamp_ms = 1000 + index,
                                   .headers = &header, .header_count = 1};
        cr_assert_eq(sb_batch_builder_add(&builder, &record), 0);
    }
    const uint8_t *batch;
    uint32_t bytes;
    cr_assert_eq(sb_batch_builder_finish(&builder, codec, scratch, sizeof(scratch), &batch,
                                         &bytes), 0);
    memcpy(records + used, batch, bytes);
    sb_batch_assign_offset(records + used, base_offset);
    return used + bytes;
}

static void
seed_fetch(void)
{
    static uint8_t records[16384];
    size_t used = seed_batch(records, 0, 0, 3, SB_COMPRESSION_NONE, false);
    used = seed_batch(records, used, 3, 1, SB_COMPRESSION_NONE, true);
    used = seed_batch(records, used, 4, 4, SB_COMPRESSION_ZSTD, false);
    used = seed_batch(records, used, 8, 2, SB_COMPRESSION_LZ4, false);
    struct sb_fetch_partition_response partitions[2] = {
        {0, 0, 10, 0, 10, {records, (uint32_t)used}, false, 0},
        {1, SB_WIRE_ERROR_OFFSET_OUT_OF_RANGE, 5, 2, 5, {records, 0}, false, 0}};
    struct sb_fetch_topic_response topic = {.name = sb_wire_string_from_cstr("t"),
                                            .partitions = partitions, .partition_count = 2};
    struct sb_fetch_response response = {.topics = &topic, .topic_count = 1};
    struct sb_wire_writer writer = seed_writer();
    sb_fetch_response_encode(&writer, &response);
    seed_write("fetch_batches", SEED_FETCH, 0, &writer);
    partitions[0].records.length = 0;
    partitions[1] = (struct sb_fetch_partition_response){1, 0, 0, 0, 0, {records, 0}, false, 0};
    writer = seed_writer();
    sb_fetch_response_encode(&writer, &response);
    seed_write("fetch_empty", SEED_FETCH, 0, &writer);
    struct sb_list_offsets_partition_response answers[2] = {{0, 0, -1, 5}, {1, 0, 1000, -1}};
    struct sb_list_offsets_topic_response list_topic = {
        .name = sb_wire_string_from_cstr("t"), .partitions = answers, .partition_count = 2};
    struct sb_list_offsets_response list = {.topics = &list_topic, .topic_count = 1};
    writer = seed_writer();
    sb_list_offsets_response_encode(&writer, &list);
    seed_write("list_offsets", SEED_LIST_OFFSETS, 0, &writer);
}

static void
seed_admin(void)
{
    struct sb_create_topic_result created = {sb_wire_string_from_cstr("t"), 0, 12,
                                             sb_wire_string_from_cstr("retention.ms: bad")};
    struct sb_create_topics_response create = {.topics = &created, .topic_count = 1};
    struct sb_wire_writer writer = seed_writer();
    sb_create_topics_response_encode(&writer, &create);
    seed_write("create_topics", SEED_CREATE_TOPICS, 0, &writer);
    struct sb_delete_topic_result deleted = {sb_wire_string_from_cstr("t"), 0};
    struct sb_delete_topics_response delete = {.topics = &deleted, .topic_count = 1};
    writer = seed_writer();
    sb_delete_topics_response_encode(&writer, &delete);
    seed_write("delete_topics", SEED_DELETE_TOPICS, 0, &writer);
    struct sb_list_topics_entry entries[2] = {{sb_wire_string_from_cstr("a"), 1, 3, 0},
                                              {sb_wire_string_from_cstr("__offsets"), 2, 1, 1}};
    struct sb_list_topics_response list = {.topics = entries, .topic_count = 2};
    writer = seed_writer();
    sb_list_topics_response_encode(&writer, &list);
    seed_write("list_topics", SEED_LIST_TOPICS, 0, &writer);
    struct sb_describe_topic_partition partitions[2] = {{0, 0, 1, 0, 5, 6}, {1, 0, 0, 2, 2, 2}};
    struct sb_topic_config configs[2] = {
        {sb_wire_string_from_cstr("retention.ms"), sb_wire_string_from_cstr("1000"), 0},
        {sb_wire_string_from_cstr("secret"), {NULL, 0}, 1}};
    struct sb_describe_topic_response describe = {
        .name = sb_wire_string_from_cstr("t"), .topic_id = 1, .partitions = partitions,
        .partition_count = 2, .configs = configs, .config_count = 2};
    writer = seed_writer();
    sb_describe_topic_response_encode(&writer, &describe);
    seed_write("describe_topic", SEED_DESCRIBE_TOPIC, 0, &writer);
    struct sb_alter_topic_config_response alter = {12, sb_wire_string_from_cstr("no")};
    writer = seed_writer();
    sb_alter_topic_config_response_encode(&writer, &alter);
    seed_write("alter_topic_config", SEED_ALTER_TOPIC_CONFIG, 0, &writer);
    struct sb_health_shard shards[2] = {{0, 0, 3, 4}, {1, 3, 0, 0}};
    struct sb_health_response health = {.status = 3, .node_id = 0, .uptime_ms = 5,
                                        .shards = shards, .shard_count = 2};
    writer = seed_writer();
    sb_health_response_encode(&writer, &health);
    seed_write("health", SEED_HEALTH, 0, &writer);
}

/* The DescribeGroup seed parses: topic id 1 named "t", id 9 unknown (NULL); the member's
 * partitions and the commits merge into one row per partition, sorted. */
static void
seed_check_group(const uint8_t *describe, size_t describe_bytes, size_t topics_bytes)
{
    struct sb_admin_group_description *description = NULL;
    cr_assert_eq(admin_parse_group_describe(describe, describe_bytes, describe + describe_bytes,
                                            topics_bytes, &description), 0);
    cr_assert_eq(description->member_count, 1u);
    const struct sb_admin_group_member *member = &description->members[0];
    cr_assert_str_eq(member->instance_id, "i");
    cr_assert_str_eq(member->topic_regex, "t.*");
    cr_assert_eq(member->assigned_count, 3u);
    cr_assert_null(member->assigned[2].topic);
    cr_assert_eq(member->target_count, 2u);
    static const struct {
        const char *topic;
        int32_t partition;
        int64_t committed;
        bool owned;
    } rows[4] = {{NULL, 0, -1, true}, {"t", 0, 5, true}, {"t", 1, -1, true}, {"t", 3, 1, false}};
    cr_assert_eq(description->partition_count, 4u);
    for (uint32_t index = 0; index < 4; index++) {
        const struct sb_admin_group_partition *row = &description->partitions[index];
        cr_assert(rows[index].topic == NULL ? row->topic == NULL
                                            : strcmp(row->topic, rows[index].topic) == 0);
        cr_assert_eq(row->partition, rows[index].partition);
        cr_assert_eq(row->committed_offset, rows[index].committed, "row %u", index);
        cr_assert_eq(row->member_id != NULL, rows[index].owned, "row %u", index);
        cr_assert_eq(row->lag, -1, "filled in later");
    }
    sb_admin_group_description_free(description);
}

/* ListGroups, and DescribeGroup (a member owning partitions of topic id 1, a commit)
 * after its length, followed by the ListTopics answer naming topic 1 (fuzz_client.c). */
static void
seed_admin_group(void)
{
    struct sb_list_groups_entry groups[2] = {{sb_wire_string_from_cstr("a"), 3, 2},
                                             {sb_wire_string_from_cstr("b"), 0, 0}};
    struct sb_list_groups_response list = {.groups = groups, .group_count = 2};
    struct sb_wire_writer writer = seed_writer();
    sb_list_groups_response_encode(&writer, &list);
    seed_write("list_groups", SEED_LIST_GROUPS, 0, &writer);
    int32_t owned[2] = {0, 1};
    struct sb_group_tpset sets[2] = {{.topic_id = 1, .partitions = owned, .partition_count = 2},
                                     {.topic_id = 9, .partitions = owned, .partition_count = 1}};
    struct sb_wire_string subscribed = sb_wire_string_from_cstr("t");
    struct sb_group_member_description member = {
        .member_id = sb_wire_string_from_cstr("m"), .instance_id = sb_wire_string_from_cstr("i"),
        .member_epoch = 2, .topic_names = &subscribed, .topic_name_count = 1,
        .topic_regex = sb_wire_string_from_cstr("t.*"), .assignment = sets,
        .assignment_count = 2, .target = sets, .target_count = 1};
    struct sb_group_offset offsets[2] = {{0, 5, sb_wire_string_from_cstr("x"), 1000, 0},
                                         {3, 1, {NULL, 0}, 1000, 0}};
    struct sb_group_offset_topic committed = {.name = subscribed, .offsets = offsets,
                                              .offset_count = 2};
    struct sb_describe_group_response describe = {
        .group_id = sb_wire_string_from_cstr("g"), .state = 3, .group_epoch = 2,
        .assignment_epoch = 2, .assignor = sb_wire_string_from_cstr("uniform"),
        .members = &member, .member_count = 1, .offsets = &committed, .offset_topic_count = 1};
    writer = seed_writer();
    sb_wire_write_u16(&writer, 0);
    sb_describe_group_response_encode(&writer, &describe);
    size_t length = sb_wire_writer_length(&writer) - 2;
    seed_body[0] = (uint8_t)length;
    seed_body[1] = (uint8_t)(length >> 8);
    struct sb_list_topics_entry topic = {subscribed, 1, 2, 0};
    struct sb_list_topics_response topics = {.topics = &topic, .topic_count = 1};
    sb_list_topics_response_encode(&writer, &topics);
    seed_write("describe_group", SEED_DESCRIBE_GROUP, 0, &writer);
    seed_check_group(seed_body + 2, length, sb_wire_writer_length(&writer) - 2 - length);
}

static void
seed_group(void)
{
    int32_t numbers[2] = {0, 1};
    struct sb_group_tpset sets[2] = {{.topic_id = 1, .partitions = numbers, .partition_count = 2},
                                     {.topic_id = 9, .partitions = numbers, .partition_count = 1}};
    struct sb_group_heartbeat_response beat = {
        .member_id = sb_wire_string_from_cstr("m"), .member_epoch = 3,
        .heartbeat_interval_ms = 1000, .assignment = sets, .assignment_count = 2};
    struct sb_wire_writer writer = seed_writer();
    sb_group_heartbeat_response_encode(&writer, &beat);
    seed_write("group_heartbeat_assignment", SEED_GROUP_HEARTBEAT, 0, &writer);
    struct sb_group_heartbeat_response fenced = {
        .error_code = SB_WIRE_ERROR_FENCED_MEMBER_EPOCH, .member_id = beat.member_id,
        .member_epoch = -1, .assignment_unchanged = true};
    writer = seed_writer();
    sb_group_heartbeat_response_encode(&writer, &fenced);
    seed_write("group_heartbeat_fenced", SEED_GROUP_HEARTBEAT, 0, &writer);
    struct sb_offset_commit_partition_result stored = {.partition = 0};
    struct sb_offset_commit_topic_result topic = {.name = sb_wire_string_from_cstr("t"),
                                                  .partitions = &stored, .partition_count = 1};
    struct sb_offset_commit_response commit = {.topics = &topic, .topic_count = 1};
    writer = seed_writer();
    sb_offset_commit_response_encode(&writer, &commit);
    seed_write("offset_commit", SEED_OFFSET_COMMIT, 0, &writer);
    struct sb_offset_commit_response refused = {
        .error_code = SB_WIRE_ERROR_STALE_MEMBER_EPOCH};
    writer = seed_writer();
    sb_offset_commit_response_encode(&writer, &refused);
    seed_write("offset_commit_stale", SEED_OFFSET_COMMIT, 0, &writer);
    struct sb_group_offset offset = {.partition = 0, .offset = 42,
                                     .metadata = sb_wire_string_from_cstr("meta"),
                                     .commit_time_ms = 1000};
    struct sb_group_offset_topic offsets = {.name = sb_wire_string_from_cstr("t"),
                                            .offsets = &offset, .offset_count = 1};
    struct sb_offset_fetch_response fetch = {.topics = &offsets, .topic_count = 1};
    writer = seed_writer();
    sb_offset_fetch_response_encode(&writer, &fetch);
    seed_write("offset_fetch", SEED_OFFSET_FETCH, 0, &writer);
}

Test(corpus, every_fuzz_seed_encodes)
{
    seed_group();
    seed_api_versions();
    seed_metadata();
    seed_produce();
    seed_fetch();
    seed_admin();
    seed_admin_group();
}
