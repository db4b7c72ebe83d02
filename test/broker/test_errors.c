/*
 * test/broker/test_errors.c - the error table of docs/protocol.md, provoked from
 * a real broker: one test per code the broker sends that no other suite
 * provokes (frame level: UNSUPPORTED_VERSION; CreateTopics and
 * AlterTopicConfig: INVALID_PARTITIONS, INVALID_REPLICATION_FACTOR,
 * INVALID_CONFIG, POLICY_VIOLATION; InitProducerId:
 * INVALID_PRODUCER_ID_MAPPING in the body, INVALID_REQUEST at frame level;
 * Produce: CORRUPT_MESSAGE (payload CRC, unknown codec) next to a partition
 * that succeeds, INVALID_RECORD, INVALID_PRODUCER_EPOCH,
 * UNKNOWN_TOPIC_OR_PARTITION for a partition beyond the count; ListOffsets:
 * INVALID_REQUEST for an unknown negative timestamp; Fetch:
 * OFFSET_OUT_OF_RANGE). Each checks the code, where it travels (frame header
 * or body) and that nothing else was touched: the connection stays open, the
 * other partition of the request is served, nothing is stored.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "core/crc32c.h"
#include "core/endian.h"
#include "proto/api_admin.h"
#include "proto/api_fetch.h"
#include "proto/api_produce.h"
#include "proto/api_producer.h"
#include "proto/batch.h"
#include "proto/errors.h"
#include "test/broker/broker_fixture.h"

#define TIMEOUT_MS 10000
/* CreateTopics takes at most this many topics per request (broker/admin.c ADMIN_CHANGES_MAX). */
#define CREATE_BATCH_TOPICS 1024u
/* The broker's topic table (broker/metadata.h SB_TOPICS_MAX). */
#define BROKER_TOPICS_MAX 4096u

/* Receives the answer to `correlation` and asserts it has no frame-level error. */
static void
receive_answer(struct client *client, uint32_t correlation, struct sb_frame *frame)
{
    cr_assert_eq(client_receive(client, frame, TIMEOUT_MS), 0, "answered");
    cr_assert_eq(frame->header.correlation_id, correlation);
    cr_assert_eq(frame->header.error_code, SB_WIRE_ERROR_NONE, "frame-level %s",
                 sb_wire_error_name(frame->header.error_code));
}

/* CreateTopics of `topic` alone; returns its result's error. */
static int16_t
create_one(struct client *client, const struct sb_create_topic *topic, int8_t validate_only)
{
    struct sb_create_topics_request request = {.topics = topic, .topic_count = 1,
                                               .timeout_ms = 5000,
                                               .validate_only = validate_only};
    uint32_t correlation = client_send(client, SB_API_CREATE_TOPICS, 0,
                                       encode_create_topics_request, &request);
    struct sb_frame frame;
    receive_answer(client, correlation, &frame);
    struct sb_create_topics_response response;
    cr_assert_eq(sb_create_topics_response_decode(frame.body, frame.body_bytes, &response), 0);
    struct sb_create_topic_result result;
    cr_assert_eq(sb_create_topics_response_next_topic(&response, &result), 1);
    cr_assert_eq(result.error_code == SB_WIRE_ERROR_NONE && validate_only == 0,
                 result.topic_id != 0, "a topic id exactly when created");
    return result.error_code;
}

static int
encode_alter(struct sb_wire_writer *writer, const void *request)
{
    return sb_alter_topic_config_request_encode(writer, request);
}

static int
encode_describe(struct sb_wire_writer *writer, const void *request)
{
    return sb_describe_topic_request_encode(writer, request);
}

static int
encode_delete(struct sb_wire_writer *writer, const void *request)
{
    return sb_delete_topics_request_encode(writer, request);
}

/* AlterTopicConfig `request`; returns the answer's error. */
static int16_t
alter(struct client *client, const struct sb_alter_topic_config_request *request)
{
    uint32_t correlation = client_send(client, SB_API_ALTER_TOPIC_CONFIG, 0, encode_alter,
                                       request);
    struct sb_frame frame;
    receive_answer(client, correlation, &frame);
    struct sb_alter_topic_config_response response;
    cr_assert_eq(sb_alter_topic_config_response_decode(frame.body, frame.body_bytes,
                                                       &response), 0);
    return response.error_code;
}

/* The topic's partition count, through DescribeTopic. */
static int32_t
partition_count(struct client *client, const char *name)
{
    struct sb_describe_topic_request request = {.name = sb_wire_string_from_cstr(name)};
    uint32_t correlation = client_send(client, SB_API_DESCRIBE_TOPIC, 0,
                                       encode_describe, &request);
    struct sb_frame frame;
    receive_answer(client, correlation, &frame);
    struct sb_describe_topic_response response;
    cr_assert_eq(sb_describe_topic_response_decode(frame.body, frame.body_bytes, &response), 0);
    cr_assert_eq(response.error_code, SB_WIRE_ERROR_NONE);
    return (int32_t)response.partition_cursor.count;
}

Test(errors, unsupported_version_is_answered_and_the_connection_stays_open, .timeout = 60)
{
    struct broker_process broker;
    broker_start_new(&broker, 1, NULL);
    struct client client;
    client_connect(&client, broker.port);
    const struct sb_frame_header header = {.api_key = SB_API_HEALTH, .api_version = 1,
                                           .correlation_id = 77};
    uint8_t frame[64];
    uint32_t bytes = frame_encode(frame, sizeof(frame), &header, encode_empty_request, NULL);
    client_send_raw(&client, frame, bytes);
    struct sb_frame answer;
    cr_assert_eq(client_receive(&client, &answer, TIMEOUT_MS), 0, "answered");
    cr_assert_eq(answer.header.api_key, SB_API_HEALTH, "the key is echoed");
    cr_assert_eq(answer.header.api_version, 1, "the version is echoed");
    cr_assert_eq(answer.header.correlation_id, 77u);
    cr_assert_eq(answer.header.error_code, SB_WIRE_ERROR_UNSUPPORTED_VERSION, "got %s",
                 sb_wire_error_name(answer.header.error_code));
    cr_assert_eq(answer.body_bytes, 0u);
    uint32_t correlation = client_send(&client, SB_API_HEALTH, 0, encode_empty_request, NULL);
    receive_answer(&client, correlation, &answer); /* The same connection still serves. */
    client_close(&client);
    broker_stop_and_destroy(&broker);
}

Test(errors, create_topics_refuses_a_replication_factor_other_than_one, .timeout = 60)
{
    struct broker_process broker;
    broker_start_new(&broker, 1, NULL);
    struct client client;
    client_connect(&client, broker.port);
    struct sb_create_topic topic = {.name = sb_wire_string_from_cstr("replicated"),
                                    .partition_count = 1, .replication_factor = 3};
    for (int8_t validate_only = 0; validate_only <= 1; validate_only++) {
        cr_assert_eq(create_one(&client, &topic, validate_only),
                     SB_WIRE_ERROR_INVALID_REPLICATION_FACTOR);
    }
    topic.replication_factor = 0;
    cr_assert_eq(create_one(&client, &topic, 0), SB_WIRE_ERROR_INVALID_REPLICATION_FACTOR);
    topic.replication_factor = -1; /* The broker's default: 1. */
    cr_assert_eq(create_one(&client, &topic, 0), SB_WIRE_ERROR_NONE);
    client_close(&client);
    broker_stop_and_destroy(&broker);
}

/* Above 4096 per topic on create or alter, or shrinking: refused, nothing changes; a count
 * of 0 takes the broker's default_partitions (1). */
Test(errors, invalid_partitions_on_create_and_on_shrink, .timeout = 60)
{
    struct broker_process broker;
    broker_start_new(&broker, 1, NULL);
    struct client client;
    client_connect(&client, broker.port);
    struct sb_create_topic topic = {.name = sb_wire_string_from_cstr("sized"),
                                    .partition_count = 4097, .replication_factor = 1};
    cr_assert_eq(create_one(&client, &topic, 0), SB_WIRE_ERROR_INVALID_PARTITIONS,
                 "above the per-topic limit of 4096");
    topic.partition_count = 3;
    cr_assert_eq(create_one(&client, &topic, 0), SB_WIRE_ERROR_NONE);
    struct sb_alter_topic_config_request shrink = {.name = topic.name, .partition_count = 2};
    cr_assert_eq(alter(&client, &shrink), SB_WIRE_ERROR_INVALID_PARTITIONS);
    shrink.partition_count = 4097;
    cr_assert_eq(alter(&client, &shrink), SB_WIRE_ERROR_INVALID_PARTITIONS);
    cr_assert_eq(partition_count(&client, "sized"), 3, "nothing changed");
    shrink.partition_count = 4;
    cr_assert_eq(alter(&client, &shrink), SB_WIRE_ERROR_NONE);
    cr_assert_eq(partition_count(&client, "sized"), 4);
    topic = (struct sb_create_topic){.name = sb_wire_string_from_cstr("defaulted"),
                                     .replication_factor = 1};
    cr_assert_eq(create_one(&client, &topic, 0), SB_WIRE_ERROR_NONE);
    cr_assert_eq(partition_count(&client, "defaulted"), 1, "0: default_partitions");
    client_close(&client);
    broker_stop_and_destroy(&broker);
}

Test(errors, invalid_config_on_create_and_alter, .timeout = 60)
{
    struct broker_process broker;
    broker_start_new(&broker, 1, NULL);
    struct client client;
    client_connect(&client, broker.port);
    struct sb_topic_config bad[] = {
        {sb_wire_string_from_cstr("no.such.key"), sb_wire_string_from_cstr("1"), 0},
        {sb_wire_string_from_cstr("retention.ms"), sb_wire_string_from_cstr("-2"), 0},
        {sb_wire_string_from_cstr("cleanup.policy"), sb_wire_string_from_cstr("keep"), 0},
    };
    struct sb_create_topic topic = {.name = sb_wire_string_from_cstr("configured"),
                                    .partition_count = 1, .replication_factor = 1,
                                    .config_count = 1};
    for (size_t index = 0; index < sizeof(bad) / sizeof(bad[0]); index++) {
        topic.configs = &bad[index];
        cr_assert_eq(create_one(&client, &topic, 0), SB_WIRE_ERROR_INVALID_CONFIG, "config %zu",
                     index);
    }
    topic.config_count = 0;
    cr_assert_eq(create_one(&client, &topic, 0), SB_WIRE_ERROR_NONE, "not created before");
    struct sb_topic_config good = {sb_wire_string_from_cstr("retention.ms"),
                                   sb_wire_string_from_cstr("1000"), 0};
    struct sb_topic_config mixed[] = {good, bad[0]};
    struct sb_alter_topic_config_request request = {.name = topic.name, .configs = mixed,
                                                    .config_count = 2};
    cr_assert_eq(alter(&client, &request), SB_WIRE_ERROR_INVALID_CONFIG, "all or none");
    client_close(&client);
    broker_stop_and_destroy(&broker);
}

/* CreateTopics of `count` topics "<prefix>-<i>" in one request; returns how many got `error`
 * (asserting every other one succeeded). */
static uint32_t
create_many(struct client *client, const char *prefix, uint32_t count, int16_t error)
{
    static char names[CREATE_BATCH_TOPICS][32];
    static struct sb_create_topic topics[CREATE_BATCH_TOPICS];
    cr_assert_leq(count, CREATE_BATCH_TOPICS);
    for (uint32_t index = 0; index < count; index++) {
        snprintf(names[index], sizeof(names[index]), "%s-%u", prefix, index);
        topics[index] = (struct sb_create_topic){.name = sb_wire_string_from_cstr(names[index]),
                                                 .partition_count = 1, .replication_factor = 1};
    }
    struct sb_create_topics_request request = {.topics = topics, .topic_count = count,
                                               .timeout_ms = 30000};
    uint32_t correlation = client_send(client, SB_API_CREATE_TOPICS, 0,
                                       encode_create_topics_request, &request);
    struct sb_frame frame;
    receive_answer(client, correlation, &frame);
    struct sb_create_topics_response response;
    cr_assert_eq(sb_create_topics_response_decode(frame.body, frame.body_bytes, &response), 0);
    uint32_t refused = 0;
    struct sb_create_topic_result result;
    for (uint32_t index = 0; index < count; index++) {
        cr_assert_eq(sb_create_topics_response_next_topic(&response, &result), 1);
        cr_assert(result.error_code == SB_WIRE_ERROR_NONE || result.error_code == error,
                  "topic %u: %s", index, sb_wire_error_name(result.error_code));
        refused += result.error_code == error;
    }
    return refused;
}

/* The topic table is full: one more topic is refused by policy, and is accepted again once
 * a topic is deleted. The internal topic __consumer_offsets holds one slot of the table. */
Test(errors, create_topics_beyond_the_topic_table_is_a_policy_violation, .timeout = 120)
{
    struct broker_process broker;
    broker_start_new(&broker, 1, NULL);
    struct client client;
    client_connect(&client, broker.port);
    client.timeout_ms = 60000;
    char prefix[16];
    uint32_t rounds = BROKER_TOPICS_MAX / CREATE_BATCH_TOPICS;
    for (uint32_t round = 0; round < rounds; round++) {
        snprintf(prefix, sizeof(prefix), "t%u", round);
        cr_assert_eq(create_many(&client, prefix, CREATE_BATCH_TOPICS,
                                 SB_WIRE_ERROR_POLICY_VIOLATION),
                     round + 1 == rounds ? 1u : 0u, "round %u fits but for the offsets topic",
                     round);
    }
    cr_assert_eq(create_many(&client, "over", 2, SB_WIRE_ERROR_POLICY_VIOLATION), 2u);
    struct sb_wire_string name = sb_wire_string_from_cstr("t0-0");
    struct sb_delete_topics_request removal = {.names = &name, .name_count = 1,
                                               .timeout_ms = 5000};
    uint32_t correlation = client_send(&client, SB_API_DELETE_TOPICS, 0,
                                       encode_delete, &removal);
    struct sb_frame frame;
    receive_answer(&client, correlation, &frame);
    cr_assert_eq(create_many(&client, "again", 2, SB_WIRE_ERROR_POLICY_VIOLATION), 1u,
                 "one slot freed");
    client_close(&client);
    broker_stop_and_destroy(&broker);
}

/* InitProducerId with `producer_id` and `epoch` (-1, -1: a new producer). */
static struct sb_init_producer_id_response
init_producer(struct client *client, int64_t producer_id, int16_t epoch)
{
    struct sb_init_producer_id_request request = {.producer_id = producer_id,
                                                  .producer_epoch = epoch};
    uint32_t correlation = client_send(client, SB_API_INIT_PRODUCER_ID, 0,
                                       encode_init_producer_id_request, &request);
    struct sb_frame frame;
    receive_answer(client, correlation, &frame);
    struct sb_init_producer_id_response response;
    cr_assert_eq(sb_init_producer_id_response_decode(frame.body, frame.body_bytes, &response),
                 0);
    return response;
}

/* A producer id the broker never handed out is refused in the body (the frame is fine), and
 * the broker keeps handing out ids afterwards; a transactional id is refused at frame level. */
Test(errors, init_producer_id_of_an_unknown_producer_is_an_invalid_mapping, .timeout = 60)
{
    struct broker_process broker;
    broker_start_new(&broker, 1, NULL);
    struct client client;
    client_connect(&client, broker.port);
    struct sb_init_producer_id_response fresh = init_producer(&client, -1, -1);
    cr_assert_eq(fresh.error_code, SB_WIRE_ERROR_NONE);
    cr_assert_geq(fresh.producer_id, 0);
    struct sb_init_producer_id_response unknown = init_producer(&client, fresh.producer_id + 1000,
                                                                0);
    cr_assert_eq(unknown.error_code, SB_WIRE_ERROR_INVALID_PRODUCER_ID_MAPPING, "got %s",
                 sb_wire_error_name(unknown.error_code));
    cr_assert_eq(unknown.producer_id, -1);
    cr_assert_eq(unknown.producer_epoch, -1);
    struct sb_init_producer_id_response bumped = init_producer(&client, fresh.producer_id, 0);
    cr_assert_eq(bumped.error_code, SB_WIRE_ERROR_NONE);
    cr_assert_eq(bumped.producer_id, fresh.producer_id);
    cr_assert_eq(bumped.producer_epoch, 1, "a known producer gets the next epoch");
    struct sb_init_producer_id_request transactional = {
        .transactional_id = sb_wire_string_from_cstr("tx"), .producer_id = -1,
        .producer_epoch = -1};
    uint32_t correlation = client_send(&client, SB_API_INIT_PRODUCER_ID, 0,
                                       encode_init_producer_id_request, &transactional);
    struct sb_frame frame;
    cr_assert_eq(client_receive(&client, &frame, TIMEOUT_MS), 0);
    cr_assert_eq(frame.header.correlation_id, correlation);
    cr_assert_eq(frame.header.error_code, SB_WIRE_ERROR_INVALID_REQUEST,
                 "a transactional id is refused for the whole request");
    cr_assert_eq(frame.body_bytes, 0u);
    client_close(&client);
    broker_stop_and_destroy(&broker);
}

/* The partition's high watermark, through a Fetch from offset 0. */
static int64_t
high_watermark(struct client *client, const char *topic, int32_t partition)
{
    struct fetch_spec spec = {.topic = topic, .partition = partition,
                              .partition_max_bytes = 1 << 20, .max_bytes = 1 << 20};
    struct sb_fetch_partition_response answer;
    client_fetch(client, &spec, &answer);
    cr_assert_eq(answer.error_code, SB_WIRE_ERROR_NONE);
    return answer.high_watermark;
}

/* A fenced producer's older epoch is refused, and nothing of its batch is stored. */
Test(errors, produce_with_an_older_epoch_is_invalid_producer_epoch, .timeout = 60)
{
    struct broker_process broker;
    broker_start_new(&broker, 1, NULL);
    struct client client;
    client_connect(&client, broker.port);
    cr_assert_eq(client_create_topic(&client, "fenced", 1), SB_WIRE_ERROR_NONE);
    struct sb_init_producer_id_response id = init_producer(&client, -1, -1);
    cr_assert_eq(id.error_code, SB_WIRE_ERROR_NONE);
    static uint8_t batch[4096];
    uint32_t bytes = test_producer_batch(batch, sizeof(batch), id.producer_id, 0, 0, 2);
    cr_assert_eq(client_produce_acks_all(&client, "fenced", 0, batch, bytes, NULL), 0);
    struct sb_init_producer_id_response bumped = init_producer(&client, id.producer_id, 0);
    cr_assert_eq(bumped.producer_epoch, 1);
    bytes = test_producer_batch(batch, sizeof(batch), id.producer_id, 1, 0, 2);
    cr_assert_eq(client_produce_acks_all(&client, "fenced", 0, batch, bytes, NULL), 0,
                 "the new epoch starts at sequence 0");
    bytes = test_producer_batch(batch, sizeof(batch), id.producer_id, 0, 2, 2);
    int16_t error = client_produce_acks_all(&client, "fenced", 0, batch, bytes, NULL);
    cr_assert_eq(error, SB_WIRE_ERROR_INVALID_PRODUCER_EPOCH, "got %s",
                 sb_wire_error_name(error));
    cr_assert_eq(high_watermark(&client, "fenced", 0), 4, "the old epoch stored nothing");
    client_close(&client);
    broker_stop_and_destroy(&broker);
}

/* One Produce request (acks=all) of two partitions of `topic`; returns their errors and
 * base offsets. */
static void
produce_two(struct client *client, const char *topic, const uint8_t *const batches[2],
            const uint32_t bytes[2], int16_t errors[2], int64_t offsets[2])
{
    struct sb_produce_partition parts[2];
    for (int32_t index = 0; index < 2; index++) {
        parts[index] = (struct sb_produce_partition){index, {batches[index], bytes[index]}};
    }
    struct sb_produce_topic produce_topic = {.name = sb_wire_string_from_cstr(topic),
                                             .partitions = parts, .partition_count = 2};
    struct sb_produce_request request = {.acks = -1, .timeout_ms = 5000,
                                         .topics = &produce_topic, .topic_count = 1};
    uint32_t correlation = client_send(client, SB_API_PRODUCE, 0, encode_produce_request,
                                       &request);
    struct sb_frame frame;
    receive_answer(client, correlation, &frame);
    struct sb_produce_response response;
    struct sb_produce_topic_response topic_response;
    cr_assert_eq(sb_produce_response_decode(frame.body, frame.body_bytes, &response), 0);
    cr_assert_eq(sb_produce_response_next_topic(&response, &topic_response), 1);
    for (int32_t index = 0; index < 2; index++) {
        struct sb_produce_partition_response result;
        cr_assert_eq(sb_produce_topic_response_next_partition(&topic_response, &result), 1);
        cr_assert_eq(result.partition, index);
        errors[index] = result.error_code;
        offsets[index] = result.base_offset;
    }
}

/* A payload byte flipped after the batch was sealed: its payload CRC fails. The partition is
 * refused whole (its good first batch is not stored either); the other partition of the same
 * request, on the other shard, is stored. */
Test(errors, bad_payload_crc_is_corrupt_message_and_the_other_partition_is_stored,
     .timeout = 60)
{
    struct broker_process broker;
    broker_start_new(&broker, 2, NULL);
    struct client client;
    client_connect(&client, broker.port);
    cr_assert_eq(client_create_topic(&client, "crc", 2), SB_WIRE_ERROR_NONE);
    static uint8_t damaged[8192];
    static uint8_t good[4096];
    uint32_t first = test_producer_batch(damaged, sizeof(damaged), -1, -1, -1, 3);
    uint32_t second = test_producer_batch(damaged + first, sizeof(damaged) - first, -1, -1, -1, 3);
    damaged[first + SB_BATCH_HEADER_BYTES + 2] ^= 0x10;
    const uint8_t *const batches[2] = {damaged, good};
    const uint32_t bytes[2] = {first + second,
                               test_producer_batch(good, sizeof(good), -1, -1, -1, 5)};
    int16_t errors[2];
    int64_t offsets[2];
    produce_two(&client, "crc", batches, bytes, errors, offsets);
    cr_assert_eq(errors[0], SB_WIRE_ERROR_CORRUPT_MESSAGE, "got %s",
                 sb_wire_error_name(errors[0]));
    cr_assert_eq(offsets[0], -1, "nothing of the partition was stored");
    cr_assert_eq(errors[1], SB_WIRE_ERROR_NONE, "got %s", sb_wire_error_name(errors[1]));
    cr_assert_eq(offsets[1], 0);
    cr_assert_eq(high_watermark(&client, "crc", 0), 0);
    cr_assert_eq(high_watermark(&client, "crc", 1), 5);
    client_close(&client);
    broker_stop_and_destroy(&broker);
}

/* A batch whose codec field names no codec (5), its header CRC recomputed so that only the
 * codec is wrong: the header check refuses it as CORRUPT_MESSAGE (a codec the broker does not
 * know is damage, as in Kafka; UNSUPPORTED_COMPRESSION is reserved). */
Test(errors, unknown_codec_is_corrupt_message, .timeout = 60)
{
    struct broker_process broker;
    broker_start_new(&broker, 1, NULL);
    struct client client;
    client_connect(&client, broker.port);
    cr_assert_eq(client_create_topic(&client, "codec", 1), SB_WIRE_ERROR_NONE);
    static uint8_t batch[4096];
    uint32_t bytes = test_producer_batch(batch, sizeof(batch), -1, -1, -1, 3);
    uint16_t attributes = sb_load_le16(batch + SB_BATCH_OFFSET_ATTRIBUTES);
    sb_store_le16(batch + SB_BATCH_OFFSET_ATTRIBUTES, (uint16_t)(attributes | 5u));
    sb_store_le32(batch + SB_BATCH_OFFSET_HEADER_CRC,
                  sb_crc32c(0, batch + SB_BATCH_OFFSET_BATCH_BYTES, SB_BATCH_HEADER_CRC_BYTES));
    int16_t error = client_produce_acks_all(&client, "codec", 0, batch, bytes, NULL);
    cr_assert_eq(error, SB_WIRE_ERROR_CORRUPT_MESSAGE, "got %s", sb_wire_error_name(error));
    cr_assert_eq(high_watermark(&client, "codec", 0), 0);
    client_close(&client);
    broker_stop_and_destroy(&broker);
}

/* INVALID_RECORD: a partition whose batches come from two producers, and a partition with
 * empty records; the other partition of each request is stored. */
Test(errors, mixed_producers_or_empty_records_are_invalid_record, .timeout = 60)
{
    struct broker_process broker;
    broker_start_new(&broker, 2, NULL);
    struct client client;
    client_connect(&client, broker.port);
    cr_assert_eq(client_create_topic(&client, "mixed", 2), SB_WIRE_ERROR_NONE);
    struct sb_init_producer_id_response id = init_producer(&client, -1, -1);
    static uint8_t mixed[8192];
    static uint8_t good[4096];
    uint32_t first = test_producer_batch(mixed, sizeof(mixed), id.producer_id, 0, 0, 2);
    uint32_t second = test_producer_batch(mixed + first, sizeof(mixed) - first, -1, -1, -1, 2);
    const uint32_t good_bytes = test_producer_batch(good, sizeof(good), -1, -1, -1, 1);
    const uint8_t *const batches[2] = {mixed, good};
    uint32_t bytes[2] = {first + second, good_bytes};
    int16_t errors[2];
    int64_t offsets[2];
    produce_two(&client, "mixed", batches, bytes, errors, offsets);
    cr_assert_eq(errors[0], SB_WIRE_ERROR_INVALID_RECORD, "got %s",
                 sb_wire_error_name(errors[0]));
    cr_assert_eq(errors[1], SB_WIRE_ERROR_NONE);
    bytes[0] = 0;
    produce_two(&client, "mixed", batches, bytes, errors, offsets);
    cr_assert_eq(errors[0], SB_WIRE_ERROR_INVALID_RECORD, "empty records: got %s",
                 sb_wire_error_name(errors[0]));
    cr_assert_eq(errors[1], SB_WIRE_ERROR_NONE);
    cr_assert_eq(high_watermark(&client, "mixed", 0), 0);
    cr_assert_eq(high_watermark(&client, "mixed", 1), 2);
    client_close(&client);
    broker_stop_and_destroy(&broker);
}

static int
encode_list_offsets(struct sb_wire_writer *writer, const void *request)
{
    return sb_list_offsets_request_encode(writer, request);
}

/* ListOffsets with a negative timestamp that is neither earliest (-2) nor latest (-1): that
 * partition's error is INVALID_REQUEST (as Kafka, an unknown query is a bad request, not a bad
 * record timestamp); the other partition of the request is answered. */
Test(errors, list_offsets_with_an_unknown_negative_timestamp_is_invalid_request, .timeout = 60)
{
    struct broker_process broker;
    broker_start_new(&broker, 1, NULL);
    struct client client;
    client_connect(&client, broker.port);
    cr_assert_eq(client_create_topic(&client, "times", 2), SB_WIRE_ERROR_NONE);
    static uint8_t batch[4096];
    uint32_t bytes = test_producer_batch(batch, sizeof(batch), -1, -1, -1, 3);
    cr_assert_eq(client_produce_acks_all(&client, "times", 1, batch, bytes, NULL), 0);
    const int64_t bad[] = {-3, INT64_MIN};
    for (size_t round = 0; round < sizeof(bad) / sizeof(bad[0]); round++) {
        struct sb_list_offsets_partition parts[2] = {{0, bad[round]},
                                                     {1, SB_LIST_OFFSETS_LATEST}};
        struct sb_list_offsets_topic topic = {.name = sb_wire_string_from_cstr("times"),
                                              .partitions = parts, .partition_count = 2};
        struct sb_list_offsets_request request = {.topics = &topic, .topic_count = 1};
        uint32_t correlation = client_send(&client, SB_API_LIST_OFFSETS, 0,
                                           encode_list_offsets, &request);
        struct sb_frame frame;
        receive_answer(&client, correlation, &frame);
        struct sb_list_offsets_response response;
        struct sb_list_offsets_topic_response topic_response;
        struct sb_list_offsets_partition_response results[2];
        cr_assert_eq(sb_list_offsets_response_decode(frame.body, frame.body_bytes, &response),
                     0);
        cr_assert_eq(sb_list_offsets_response_next_topic(&response, &topic_response), 1);
        for (int index = 0; index < 2; index++) {
            cr_assert_eq(sb_list_offsets_topic_response_next_partition(&topic_response,
                                                                       &results[index]), 1);
        }
        cr_assert_eq(results[0].error_code, SB_WIRE_ERROR_INVALID_REQUEST, "got %s",
                     sb_wire_error_name(results[0].error_code));
        cr_assert_eq(results[0].offset, -1);
        cr_assert_eq(results[1].error_code, SB_WIRE_ERROR_NONE);
        cr_assert_eq(results[1].offset, 3);
    }
    client_close(&client);
    broker_stop_and_destroy(&broker);
}

/* A fetch offset past the high watermark (and a negative one) is OFFSET_OUT_OF_RANGE; the
 * high watermark itself is in range (an empty answer). */
Test(errors, fetch_outside_the_log_is_offset_out_of_range, .timeout = 60)
{
    struct broker_process broker;
    broker_start_new(&broker, 1, NULL);
    struct client client;
    client_connect(&client, broker.port);
    cr_assert_eq(client_create_topic(&client, "range", 1), SB_WIRE_ERROR_NONE);
    static uint8_t batch[4096];
    uint32_t bytes = test_producer_batch(batch, sizeof(batch), -1, -1, -1, 3);
    cr_assert_eq(client_produce_acks_all(&client, "range", 0, batch, bytes, NULL), 0);
    const int64_t offsets[] = {4, -1, 3};
    const int16_t expected[] = {SB_WIRE_ERROR_OFFSET_OUT_OF_RANGE,
                                SB_WIRE_ERROR_OFFSET_OUT_OF_RANGE, SB_WIRE_ERROR_NONE};
    for (size_t index = 0; index < sizeof(offsets) / sizeof(offsets[0]); index++) {
        struct fetch_spec spec = {.topic = "range", .offset = offsets[index],
                                  .partition_max_bytes = 1 << 20, .max_bytes = 1 << 20};
        struct sb_fetch_partition_response answer;
        client_fetch(&client, &spec, &answer);
        cr_assert_eq(answer.error_code, expected[index], "offset %lld: got %s",
                     (long long)offsets[index], sb_wire_error_name(answer.error_code));
        cr_assert_eq(answer.records.length, 0u);
        cr_assert_eq(answer.high_watermark, 3);
    }
    client_close(&client);
    broker_stop_and_destroy(&broker);
}

/* A partition index the topic does not have is UNKNOWN_TOPIC_OR_PARTITION for that partition
 * alone: the other partition of the same request is stored. */
Test(errors, produce_to_a_partition_beyond_the_count_is_unknown_partition, .timeout = 60)
{
    struct broker_process broker;
    broker_start_new(&broker, 2, NULL);
    struct client client;
    client_connect(&client, broker.port);
    cr_assert_eq(client_create_topic(&client, "single", 1), SB_WIRE_ERROR_NONE);
    static uint8_t batch[4096];
    const uint32_t length = test_producer_batch(batch, sizeof(batch), -1, -1, -1, 2);
    const uint8_t *const batches[2] = {batch, batch};
    const uint32_t bytes[2] = {length, length};
    int16_t errors[2];
    int64_t offsets[2];
    produce_two(&client, "single", batches, bytes, errors, offsets);
    cr_assert_eq(errors[0], SB_WIRE_ERROR_NONE, "got %s", sb_wire_error_name(errors[0]));
    cr_assert_eq(offsets[0], 0);
    cr_assert_eq(errors[1], SB_WIRE_ERROR_UNKNOWN_TOPIC_OR_PARTITION, "got %s",
                 sb_wire_error_name(errors[1]));
    cr_assert_eq(offsets[1], -1);
    cr_assert_eq(high_watermark(&client, "single", 0), 2);
    client_close(&client);
    broker_stop_and_destroy(&broker);
}
