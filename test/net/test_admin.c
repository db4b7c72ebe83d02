/*
 * test/net/test_admin.c - shard 0's control plane (net/admin.c) against a
 * real broker.
 *
 * Pipelined admin flood: 20 connections each pipeline 64 AlterTopicConfig
 * requests (1,280 at once, more than any fixed queue of admin requests), on
 * one shard and through both ports of two shards. Every request must be
 * answered, in order per connection, with success (a retriable BROKER_BUSY
 * is allowed too); the broker must stay alive, serve Health and stop
 * cleanly.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "proto/api_admin.h"
#include "proto/errors.h"
#include "test/net/broker_fixture.h"

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
