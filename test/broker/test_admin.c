/*
 * test/broker/test_admin.c - shard 0's control plane (broker/admin.c) against a
 * real broker.
 *
 * Pipelined admin flood: 20 connections each pipeline 64 AlterTopicConfig
 * requests (1,280 at once, more than any fixed queue of admin requests), on
 * one shard and through both ports of two shards. Every request must be
 * answered, in order per connection, with success (a retriable BROKER_BUSY
 * is allowed too); the broker must stay alive, serve Health and stop
 * cleanly.
 *
 * Admin racing data: a topic deleted and created again gets a new id (never
 * one used before, also after SIGTERM and kill -9) and none of the old
 * records; a topic whose partitions grow while producers pipeline into its
 * old partitions loses and reorders nothing, and its new partitions take
 * records as soon as the alter is answered, through every shard's port.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "proto/api_admin.h"
#include "proto/api_produce.h"
#include "proto/batch.h"
#include "proto/errors.h"
#include "test/broker/broker_fixture.h"

#define ADMIN_CONNECTIONS 20
#define ADMIN_PIPELINE 64

static int
encode_alter(struct sb_wire_writer *writer, const void *request)
{
    return sb_alter_topic_config_request_encode(writer, request);
}

/* Sends one AlterTopicConfig setting retention.ms of "altered" to `retention`. */
static uint32_t
send_alter(struct client *client, uint32_t retention)
{
    char value[16];
    snprintf(value, sizeof(value), "%u", 3600000u + retention);
    struct sb_topic_config config = {.key = sb_wire_string_from_cstr("retention.ms"),
                                     .value = sb_wire_string_from_cstr(value)};
    struct sb_alter_topic_config_request request = {
        .name = sb_wire_string_from_cstr("altered"), .configs = &config, .config_count = 1};
    return client_send(client, SB_API_ALTER_TOPIC_CONFIG, 0, encode_alter, &request);
}

static void
expect_alter_answer(struct client *client, uint32_t correlation)
{
    struct sb_frame frame;
    cr_assert_eq(client_receive(client, &frame, 60000), 0, "every alter is answered");
    cr_assert_eq(frame.header.correlation_id, correlation, "answers in order");
    int16_t error = frame.header.error_code;
    if (error == 0) {
        struct sb_alter_topic_config_response response;
        cr_assert_eq(sb_alter_topic_config_response_decode(frame.body, frame.body_bytes,
                                                           &response), 0);
        error = response.error_code;
    }
    cr_assert(error == SB_WIRE_ERROR_NONE || error == SB_WIRE_ERROR_BROKER_BUSY,
              "alter answered %s", sb_wire_error_name(error));
}

static void
admin_flood(uint32_t cores)
{
    struct broker_process broker;
    broker_start_new(&broker, cores, NULL);
    struct client clients[ADMIN_CONNECTIONS];
    client_connect(&clients[0], broker.port);
    cr_assert_eq(client_create_topic(&clients[0], "altered", 2), SB_WIRE_ERROR_NONE);
    for (uint32_t index = 1; index < ADMIN_CONNECTIONS; index++) {
        /* Main port and every shard's own port, in turn. */
        client_connect(&clients[index], (uint16_t)(broker.port + index % (cores + 1)));
    }
    uint32_t correlations[ADMIN_CONNECTIONS][ADMIN_PIPELINE];
    for (uint32_t sent = 0; sent < ADMIN_PIPELINE; sent++) {
        for (uint32_t index = 0; index < ADMIN_CONNECTIONS; index++) {
            correlations[index][sent] = send_alter(&clients[index],
                                                   index * ADMIN_PIPELINE + sent);
        }
    }
    for (uint32_t index = 0; index < ADMIN_CONNECTIONS; index++) {
        for (uint32_t sent = 0; sent < ADMIN_PIPELINE; sent++) {
            expect_alter_answer(&clients[index], correlations[index][sent]);
        }
        client_close(&clients[index]);
    }
    cr_assert_eq(health_on_new_connection(broker.port), SB_WIRE_ERROR_NONE, "broker alive");
    broker_stop_and_destroy(&broker);
}

Test(admin, pipelined_alter_flood_from_20_connections_is_answered_one_shard, .timeout = 240)
{
    admin_flood(1);
}

Test(admin, pipelined_alter_flood_from_20_connections_is_answered_two_shards, .timeout = 240)
{
    admin_flood(2);
}

/* Fetches all of topic/partition from offset 0 and asserts it holds exactly `records` records
 * (dense offsets from 0), each value starting with `prefix`. */
static void
expect_records(struct client *client, const char *topic, int32_t partition, uint32_t records,
               const char *prefix)
{
    struct fetch_spec spec = {.topic = topic, .partition = partition, .offset = 0,
                              .partition_max_bytes = 8 << 20, .max_bytes = 8 << 20};
    struct sb_fetch_partition_response result;
    client_fetch(client, &spec, &result);
    cr_assert_eq(result.error_code, SB_WIRE_ERROR_NONE, "%s/%d: %s", topic, partition,
                 sb_wire_error_name(result.error_code));
    cr_assert_eq(result.high_watermark, records, "%s/%d high watermark", topic, partition);
    int64_t next = 0;
    for (uint32_t at = 0; at < result.records.length;) {
        struct sb_batch_header header;
        cr_assert_eq(sb_batch_verify(result.records.data + at, result.records.length - at,
                                     1 << 24, &header), 0);
        struct sb_record_iter iterator;
        sb_record_iter_init(&iterator, &header, result.records.data + at + 64,
                            header.records_bytes);
        struct sb_record_view record;
        while (sb_record_iter_next(&iterator, &record) == 1) {
            cr_assert_eq(record.offset, next++, "%s/%d: dense offsets", topic, partition);
            cr_assert(record.value_length >= (int32_t)strlen(prefix) &&
                      memcmp(record.value, prefix, strlen(prefix)) == 0,
                      "%s/%d offset %lld is %.*s, not %s...", topic, partition,
                      (long long)record.offset, (int)record.value_length,
                      (const char *)record.value, prefix);
        }
        at += header.batch_bytes;
    }
    cr_assert_eq(next, records, "%s/%d: every record", topic, partition);
}

/* Produces `records` acknowledged records "<prefix>-i" to topic/partition; asserts the base
 * offset. */
static void
produce_records(struct client *client, const char *topic, int32_t partition, uint32_t records,
                const char *prefix, int64_t expected_base)
{
    static uint8_t batch[1 << 16];
    uint32_t bytes = test_batch(batch, sizeof(batch), records, prefix);
    int64_t base_offset;
    int16_t error = client_produce_acks_all(client, topic, partition, batch, bytes,
                                            &base_offset);
    cr_assert_eq(error, SB_WIRE_ERROR_NONE, "%s/%d: %s", topic, partition,
                 sb_wire_error_name(error));
    cr_assert_eq(base_offset, expected_base, "%s/%d base offset", topic, partition);
}

/* Creates topic "passing" with records and deletes it again; returns its id. */
static uint32_t
create_and_delete(struct client *client)
{
    cr_assert_eq(client_create_topic(client, "passing", 1), SB_WIRE_ERROR_NONE);
    struct topic_description description;
    client_describe_topic(client, "passing", &description);
    produce_records(client, "passing", 0, 30, "passing", 0);
    cr_assert_eq(client_delete_topic(client, "passing"), SB_WIRE_ERROR_NONE);
    return description.topic_id;
}

/* Deletes "reborn" and creates it again with 2 partitions; asserts its new id is above
 * `highest_id` (every id used before), that it starts empty and takes "<prefix>" records
 * from offset 0. Returns the new id. */
static uint32_t
recreate(struct client *client, uint32_t highest_id, const char *prefix)
{
    cr_assert_eq(client_delete_topic(client, "reborn"), SB_WIRE_ERROR_NONE);
    cr_assert_eq(client_create_topic(client, "reborn", 2), SB_WIRE_ERROR_NONE);
    struct topic_description description;
    client_describe_topic(client, "reborn", &description);
    cr_assert_gt(description.topic_id, highest_id, "a new id, never one used before");
    for (int32_t partition = 0; partition < 2; partition++) {
        expect_records(client, "reborn", partition, 0, prefix);
        produce_records(client, "reborn", partition, 5, prefix, 0);
    }
    return description.topic_id;
}

/* After a restart: "reborn" still has id `id` and holds the 5 "<prefix>" records per
 * partition of its last creation; "passing" is gone. */
static void
expect_reborn(struct client *client, uint32_t id, const char *prefix)
{
    struct topic_description description;
    client_describe_topic(client, "reborn", &description);
    cr_assert_eq(description.topic_id, id, "the id is kept");
    for (int32_t partition = 0; partition < 2; partition++) {
        expect_records(client, "reborn", partition, 5, prefix);
    }
    client_describe_topic(client, "passing", &description);
    cr_assert_eq(description.error, SB_WIRE_ERROR_UNKNOWN_TOPIC_OR_PARTITION);
}

Test(admin, recreated_topics_get_new_ids_and_no_old_data_also_after_a_restart, .timeout = 120)
{
    struct broker_process broker;
    broker_start_new(&broker, 2, NULL);
    struct client client;
    client_connect(&client, broker.port);
    cr_assert_eq(client_create_topic(&client, "reborn", 2), SB_WIRE_ERROR_NONE);
    for (int32_t partition = 0; partition < 2; partition++) {
        produce_records(&client, "reborn", partition, 30, "first", 0);
    }
    uint32_t id = recreate(&client, 1, "second");
    /* The highest id so far belongs to a deleted topic: a restart must not hand it out. */
    uint32_t highest = create_and_delete(&client);
    client_close(&client);
    cr_assert_eq(broker_stop(&broker), 0);
    broker_start(&broker);
    client_connect(&client, (uint16_t)(broker.port + 2));
    expect_reborn(&client, id, "second");
    /* Re-created just before a kill -9: neither old records nor an old id come back. */
    id = recreate(&client, highest, "third");
    highest = create_and_delete(&client);
    client_close(&client);
    broker_kill(&broker);
    broker_start(&broker);
    client_connect(&client, (uint16_t)(broker.port + 1));
    expect_reborn(&client, id, "third");
    recreate(&client, highest, "fourth");
    cr_assert_gt(create_and_delete(&client), highest);
    client_close(&client);
    broker_stop_and_destroy(&broker);
}

#define GROW_PIPELINE 120   /* Produce requests each producer pipelines around the alters. */
#define GROW_RECORDS 10     /* Records per request. */

/* Sends GROW_PIPELINE / 2 produce requests from each producer (producer i to partition i). */
static void
grow_send(struct client *producers, const uint8_t *batch, uint32_t bytes)
{
    for (uint32_t sent = 0; sent < GROW_PIPELINE / 2; sent++) {
        for (int32_t partition = 0; partition < 2; partition++) {
            struct produce_spec spec = {.topic = "growing", .partition = partition,
                                        .batch = batch, .bytes = bytes, .acks = -1,
                                        .timeout_ms = 30000};
            client_send(&producers[partition], SB_API_PRODUCE, 0, encode_produce_spec, &spec);
        }
    }
}

/* Receives every pipelined answer of producer `partition`: all succeed, in order, with base
 * offsets GROW_RECORDS apart. */
static void
grow_receive(struct client *producer, int32_t partition)
{
    for (uint32_t index = 0; index < GROW_PIPELINE; index++) {
        struct sb_frame frame;
        cr_assert_eq(client_receive(producer, &frame, 30000), 0, "every produce is answered");
        cr_assert_eq(frame.header.correlation_id, index + 1, "answers in order");
        cr_assert_eq(frame.header.error_code, 0);
        struct sb_produce_response response;
        struct sb_produce_topic_response topic;
        struct sb_produce_partition_response result;
        cr_assert_eq(sb_produce_response_decode(frame.body, frame.body_bytes, &response), 0);
        cr_assert_eq(sb_produce_response_next_topic(&response, &topic), 1);
        cr_assert_eq(sb_produce_topic_response_next_partition(&topic, &result), 1);
        cr_assert_eq(result.error_code, SB_WIRE_ERROR_NONE, "partition %d request %u: %s",
                     partition, index, sb_wire_error_name(result.error_code));
        cr_assert_eq(result.base_offset, (int64_t)index * GROW_RECORDS);
    }
}

Test(admin, partitions_grow_under_traffic, .timeout = 120)
{
    struct broker_process broker;
    broker_start_new(&broker, 2, NULL);
    struct client admin;
    struct client producers[2];
    client_connect(&admin, broker.port);
    cr_assert_eq(client_create_topic(&admin, "growing", 2), SB_WIRE_ERROR_NONE);
    /* Each producer talks to the shard that does not own its partition as well as the one that
     * does: partitions go round the shards, so ports 1 and 2 differ per partition. */
    client_connect(&producers[0], (uint16_t)(broker.port + 2));
    client_connect(&producers[1], (uint16_t)(broker.port + 1));
    static uint8_t batch[4096];
    uint32_t bytes = test_batch(batch, sizeof(batch), GROW_RECORDS, "old");
    grow_send(producers, batch, bytes);
    cr_assert_eq(client_alter_topic(&admin, "growing", 4, NULL, NULL), SB_WIRE_ERROR_NONE);
    /* New partitions take records as soon as the alter is answered, through either shard. */
    struct client shards[2];
    client_connect(&shards[0], (uint16_t)(broker.port + 1));
    client_connect(&shards[1], (uint16_t)(broker.port + 2));
    produce_records(&shards[0], "growing", 3, 10, "new", 0);
    produce_records(&shards[1], "growing", 2, 10, "new", 0);
    grow_send(producers, batch, bytes);
    cr_assert_eq(client_alter_topic(&admin, "growing", 8, "retention.ms", "-1"),
                 SB_WIRE_ERROR_NONE);
    for (int32_t partition = 4; partition < 8; partition++) {
        produce_records(&shards[partition % 2], "growing", partition, 10, "new", 0);
    }
    for (int32_t partition = 0; partition < 2; partition++) {
        grow_receive(&producers[partition], partition);
        client_close(&producers[partition]);
    }
    struct topic_description description;
    client_describe_topic(&admin, "growing", &description);
    cr_assert_eq(description.partition_count, 8);
    for (int32_t partition = 0; partition < 8; partition++) {
        expect_records(&admin, "growing", partition,
                       partition < 2 ? GROW_PIPELINE * GROW_RECORDS : 10,
                       partition < 2 ? "old" : "new");
    }
    client_close(&shards[0]);
    client_close(&shards[1]);
    client_close(&admin);
    broker_stop_and_destroy(&broker);
}
