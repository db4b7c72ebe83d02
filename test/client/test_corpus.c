/*
 * test/client/test_corpus.c - writes the seed corpus of fuzz_client.c: one
 * well-formed answer per API the client decodes, plus answers that take the
 * interesting paths (retriable and fatal produce errors, a fenced producer,
 * out-of-range fetches, compressed and control batches, a raw frame).
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

#include "proto/api_admin.h"
#include "proto/api_fetch.h"
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
        {0, 0, 10, 0, 10, {records, (uint32_t)used}},
        {1, SB_WIRE_ERROR_OFFSET_OUT_OF_RANGE, 5, 2, 5, {records, 0}}};
    struct sb_fetch_topic_response topic = {.name = sb_wire_string_from_cstr("t"),
                                            .partitions = partitions, .partition_count = 2};
    struct sb_fetch_response response = {.topics = &topic, .topic_count = 1};
    struct sb_wire_writer writer = seed_writer();
    sb_fetch_response_encode(&writer, &response);
    seed_write("fetch_batches", SEED_FETCH, 0, &writer);
    partitions[0].records.length = 0;
    partitions[1] = (struct sb_fetch_partition_response){1, 0, 0, 0, 0, {records, 0}};
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

Test(corpus, every_fuzz_seed_encodes)
{
    seed_api_versions();
    seed_metadata();
    seed_produce();
    seed_fetch();
    seed_admin();
}
