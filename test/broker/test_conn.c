/*
 * test/broker/test_conn.c - one connection's input (broker/conn.c) against a real
 * broker: a client that sends far ahead of what the broker may take in at
 * once (here one request in flight) is throttled, not disconnected; every
 * request it sent is answered, in order.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "proto/api_produce.h"
#include "proto/errors.h"
#include "test/broker/broker_fixture.h"

#define AHEAD_REQUESTS 400u
#define AHEAD_RECORDS 600u

Test(conn, client_far_ahead_of_back_pressure_is_throttled_not_closed, .timeout = 120)
{
    struct broker_process broker;
    broker_start_new(&broker, 1, "--max-inflight-requests 1");
    struct client client;
    client_connect(&client, broker.port);
    cr_assert_eq(client_create_topic(&client, "ahead", 1), SB_WIRE_ERROR_NONE);
    static uint8_t batch[1u << 16];
    struct produce_spec spec = {.topic = "ahead", .batch = batch, .acks = -1,
                                .bytes = test_batch(batch, sizeof(batch), AHEAD_RECORDS, "ahead"),
                                .timeout_ms = 5000};
    uint32_t capacity = AHEAD_REQUESTS * (spec.bytes + 256);
    uint8_t *frames = malloc(capacity);
    cr_assert_not_null(frames);
    uint32_t used = 0;
    uint32_t first = client.next_correlation;
    for (uint32_t index = 0; index < AHEAD_REQUESTS; index++) {
        struct sb_frame_header header = {.api_key = SB_API_PRODUCE,
                                         .correlation_id = client.next_correlation++};
        used += frame_encode(frames + used, capacity - used, &header, encode_produce_spec,
                             &spec);
    }
    /* Megabytes at once: far more than 16 receive buffers while one request is in flight. */
    client_send_raw(&client, frames, used);
    free(frames);
    for (uint32_t index = 0; index < AHEAD_REQUESTS; index++) {
        struct sb_frame frame;
        int result = client_receive(&client, &frame, 30000);
        cr_assert_eq(result, 0, "answer %u of %u arrives (got %d)", index, AHEAD_REQUESTS,
                     result);
        cr_assert_eq(frame.header.correlation_id, first + index, "in order");
        cr_assert_eq(frame.header.error_code, SB_WIRE_ERROR_NONE);
    }
    client_close(&client);
    broker_stop_and_destroy(&broker);
}
