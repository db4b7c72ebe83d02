/*
 * test/broker/test_hostile.c - bad input and abusive clients against a real
 * broker: wrong CRC, truncated frames, absurd lengths, unknown APIs,
 * oversized array counts, garbage, half-sent frames, connection floods and
 * pipelines beyond the in-flight limit. Each gets an error or a closed
 * connection; meanwhile a well-behaved client keeps being served and the
 * broker's memory stays flat.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/crc32c.h"
#include "core/endian.h"
#include "proto/api_admin.h"
#include "proto/api_fetch.h"
#include "proto/api_meta.h"
#include "proto/api_produce.h"
#include "proto/errors.h"
#include "test/broker/broker_fixture.h"

#define TIMEOUT_MS 10000

/* A raw frame: header fields as given, body copied, CRC computed (or corrupted). */
static size_t
raw_frame(uint8_t *out, uint16_t api_key, uint32_t correlation, const void *body,
          uint32_t body_bytes, bool bad_crc)
{
    uint32_t frame_bytes = 20 + body_bytes;
    memset(out, 0, 24);
    sb_store_le32(out, frame_bytes);
    sb_store_le16(out + 8, api_key);
    sb_store_le32(out + 12, correlation);
    if (body_bytes > 0) {
        memcpy(out + 24, body, body_bytes); /* body may be NULL when empty (UBSan). */
    }
    uint32_t crc = sb_crc32c(0, out + 8, frame_bytes - 4);
    sb_store_le32(out + 4, bad_crc ? crc ^ 1 : crc);
    return 4 + frame_bytes;
}

/* The answer to the next request is a frame-level error `expected` for `correlation`. */
static void
expect_error(struct client *client, uint32_t correlation, int16_t expected)
{
    struct sb_frame frame;
    cr_assert_eq(client_receive(client, &frame, TIMEOUT_MS), 0);
    cr_assert_eq(frame.header.correlation_id, correlation);
    cr_assert_eq(frame.header.error_code, expected, "error %s, wanted %s",
                 sb_wire_error_name(frame.header.error_code), sb_wire_error_name(expected));
}

static void
expect_closed(struct client *client)
{
    struct sb_frame frame;
    int result = client_receive(client, &frame, TIMEOUT_MS);
    cr_assert(result == -ECONNRESET || result == -EPIPE, "connection closed (got %d)", result);
}

static void
attack_round(uint16_t port)
{
    uint8_t frame[256];
    struct client client;
    /* Wrong CRC: an error, then the connection closes. */
    client_connect(&client, port);
    client_send_raw(&client, frame, raw_frame(frame, SB_API_HEALTH, 7, NULL, 0, true));
    expect_error(&client, 7, SB_WIRE_ERROR_CORRUPT_FRAME);
    expect_closed(&client);
    client_close(&client);
    /* Length 2^31: refused from the first 4 bytes, before any allocation. */
    client_connect(&client, port);
    raw_frame(frame, SB_API_HEALTH, 8, NULL, 0, false);
    sb_store_le32(frame, 1u << 31);
    client_send_raw(&client, frame, 24);
    expect_error(&client, 8, SB_WIRE_ERROR_REQUEST_TOO_LARGE);
    expect_closed(&client);
    client_close(&client);
    /* Unknown API: a well-formed error, and the connection stays usable. */
    client_connect(&client, port);
    client_send_raw(&client, frame, raw_frame(frame, 999, 9, NULL, 0, false));
    expect_error(&client, 9, SB_WIRE_ERROR_UNKNOWN_API);
    /* Oversized array count in a Metadata body: INVALID_REQUEST, still open. */
    uint8_t body[4];
    sb_store_le32(body, 0x7fffffff);
    client_send_raw(&client, frame, raw_frame(frame, SB_API_METADATA, 10, body, 4, false));
    expect_error(&client, 10, SB_WIRE_ERROR_INVALID_REQUEST);
    uint32_t correlation = client_send(&client, SB_API_HEALTH, 0, encode_empty_request, NULL);
    struct sb_frame answer;
    cr_assert_eq(client_receive(&client, &answer, TIMEOUT_MS), 0);
    cr_assert_eq(answer.header.correlation_id, correlation);
    client_close(&client);
    /* Garbage: either an error and a close, or just a close. */
    client_connect(&client, port);
    for (size_t index = 0; index < sizeof(frame); index++) {
        frame[index] = (uint8_t)(index * 37 + 11);
    }
    client_send_raw(&client, frame, sizeof(frame));
    struct sb_frame ignored;
    int result = 0;
    for (int reads = 0; reads < 4 && result == 0; reads++) {
        result = client_receive(&client, &ignored, TIMEOUT_MS);
    }
    cr_assert(result == -ECONNRESET || result == -EPIPE, "garbage ends in a close");
    client_close(&client);
    /* Truncated frame then hang up: nothing to answer, nothing leaks. */
    client_connect(&client, port);
    size_t length = raw_frame(frame, SB_API_HEALTH, 11, NULL, 0, false);
    client_send_raw(&client, frame, length / 2);
    client_close(&client);
}

Test(hostile, bad_frames_get_errors_or_closes_others_carry_on_memory_flat, .timeout = 120)
{
    struct broker_process broker;
    broker_init(&broker, 2);
    broker_start(&broker);
    attack_round(broker.port);
    cr_assert_eq(health_on_new_connection(broker.port), SB_WIRE_ERROR_NONE, "others served");
    long rss_before = broker_rss_kb(&broker);
    for (int round = 0; round < 200; round++) {
        attack_round(broker.port);
    }
    cr_assert_eq(health_on_new_connection(broker.port), SB_WIRE_ERROR_NONE, "others served");
    long rss_after = broker_rss_kb(&broker);
    cr_assert_lt(rss_after - rss_before, 16 * 1024, "memory flat: %ld kB -> %ld kB",
                 rss_before, rss_after);
    cr_assert_eq(broker_stop(&broker), 0);
    broker_destroy(&broker);
}

Test(hostile, slowloris_half_frames_do_not_block_others, .timeout = 60)
{
    struct broker_process broker;
    broker_init(&broker, 1);
    broker_start(&broker);
    struct client slow[20];
    uint8_t frame[64];
    size_t length = raw_frame(frame, SB_API_HEALTH, 1, NULL, 0, false);
    for (int index = 0; index < 20; index++) {
        client_connect(&slow[index], broker.port);
        client_send_raw(&slow[index], frame, length - 3);
    }
    cr_assert_eq(health_on_new_connection(broker.port), SB_WIRE_ERROR_NONE, "others served");
    /* The rest of the frame arrives late: it is answered normally. */
    client_send_raw(&slow[0], frame + length - 3, 3);
    struct sb_frame answer;
    cr_assert_eq(client_receive(&slow[0], &answer, TIMEOUT_MS), 0);
    cr_assert_eq(answer.header.correlation_id, 1);
    for (int index = 0; index < 20; index++) {
        client_close(&slow[index]);
    }
    cr_assert_eq(broker_stop(&broker), 0);
    broker_destroy(&broker);
}

/* Over the limit, through the main port and the shard's own: the first request is answered
 * with TOO_MANY_CONNECTIONS and its correlation id, then the connection closes; one that sends
 * nothing is closed too (after about a second, docs/protocol.md). */
Test(hostile, connection_limit_answers_too_many_connections_then_closes, .timeout = 60)
{
    struct broker_process broker;
    broker_init(&broker, 1);
    snprintf(broker.extra, sizeof(broker.extra), "--max-connections 3");
    broker_start(&broker);
    struct client clients[3];
    for (int index = 0; index < 3; index++) {
        client_connect(&clients[index], broker.port);
        client_send(&clients[index], SB_API_HEALTH, 0, encode_empty_request, NULL);
        struct sb_frame answer;
        cr_assert_eq(client_receive(&clients[index], &answer, TIMEOUT_MS), 0);
    }
    struct client extra;
    for (uint16_t port = broker.port; port <= broker.port + 1; port++) {
        client_connect(&extra, port);
        extra.next_correlation = 4242;
        client_send(&extra, SB_API_HEALTH, 0, encode_empty_request, NULL);
        expect_error(&extra, 4242, SB_WIRE_ERROR_TOO_MANY_CONNECTIONS);
        expect_closed(&extra);
        client_close(&extra);
        client_connect(&extra, port);
        expect_closed(&extra);
        client_close(&extra);
    }
    client_close(&clients[0]);
    /* A slot freed: a new connection is served (retry while the close is noticed). */
    bool served = false;
    for (int attempt = 0; attempt < 50 && !served; attempt++) {
        client_connect(&extra, broker.port);
        client_send(&extra, SB_API_HEALTH, 0, encode_empty_request, NULL);
        struct sb_frame answer;
        served = client_receive(&extra, &answer, 1000) == 0;
        client_close(&extra);
    }
    cr_assert(served);
    client_close(&clients[1]);
    client_close(&clients[2]);
    cr_assert_eq(broker_stop(&broker), 0);
    broker_destroy(&broker);
}

Test(hostile, pipeline_beyond_the_inflight_limit_is_back_pressure_not_failure, .timeout = 60)
{
    struct broker_process broker;
    broker_init(&broker, 2);
    snprintf(broker.extra, sizeof(broker.extra), "--max-inflight-requests 2");
    broker_start(&broker);
    struct client client;
    client_connect(&client, broker.port);
    uint32_t correlations[200];
    for (int index = 0; index < 200; index++) {
        correlations[index] = client_send(&client, index % 2 ? SB_API_HEALTH
                                                             : SB_API_API_VERSIONS,
                                          0, encode_empty_request, NULL);
    }
    for (int index = 0; index < 200; index++) {
        struct sb_frame answer;
        cr_assert_eq(client_receive(&client, &answer, TIMEOUT_MS), 0);
        cr_assert_eq(answer.header.correlation_id, correlations[index], "in order");
        cr_assert_eq(answer.header.error_code, 0, "none refused");
    }
    client_close(&client);
    cr_assert_eq(broker_stop(&broker), 0);
    broker_destroy(&broker);
}

Test(hostile, no_response_flag_outside_produce_closes, .timeout = 60)
{
    struct broker_process broker;
    broker_init(&broker, 1);
    broker_start(&broker);
    struct client client;
    client_connect(&client, broker.port);
    uint32_t correlation = client_send(&client, SB_API_HEALTH, SB_FRAME_FLAG_NO_RESPONSE,
                                       encode_empty_request, NULL);
    expect_error(&client, correlation, SB_WIRE_ERROR_INVALID_REQUEST);
    expect_closed(&client);
    client_close(&client);
    cr_assert_eq(broker_stop(&broker), 0);
    broker_destroy(&broker);
}

/* Sends `request` (Produce) and expects the frame-level INVALID_REQUEST. */
static void
expect_produce_refused(struct client *client, const struct sb_produce_request *request,
                       const char *why)
{
    uint32_t correlation = client_send(client, SB_API_PRODUCE, 0, encode_produce_request,
                                       request);
    struct sb_frame frame;
    cr_assert_eq(client_receive(client, &frame, TIMEOUT_MS), 0);
    cr_assert_eq(frame.header.correlation_id, correlation);
    cr_assert_eq(frame.header.error_code, SB_WIRE_ERROR_INVALID_REQUEST, "%s: got %s", why,
                 sb_wire_error_name(frame.header.error_code));
}

/* docs/protocol.md, Produce: a negative timeout, a non-null transactional id, or the same
 * topic and partition twice is INVALID_REQUEST for the whole request; nothing is appended. */
Test(hostile, produce_that_the_protocol_refuses_is_invalid_request, .timeout = 60)
{
    struct broker_process broker;
    broker_start_new(&broker, 2, NULL);
    struct client client;
    client_connect(&client, broker.port);
    cr_assert_eq(client_create_topic(&client, "strict", 2), SB_WIRE_ERROR_NONE);
    static uint8_t batch[4096];
    uint32_t bytes = test_batch(batch, sizeof(batch), 3, "strict");
    struct sb_produce_partition parts[2] = {{.partition = 0, .records = {batch, bytes}},
                                            {.partition = 1, .records = {batch, bytes}}};
    struct sb_produce_topic topics[2] = {
        {.name = sb_wire_string_from_cstr("strict"), .partitions = parts, .partition_count = 2},
        {.name = sb_wire_string_from_cstr("strict"), .partitions = parts, .partition_count = 1},
    };
    struct sb_produce_request request = {.acks = 1, .timeout_ms = -1, .topics = topics,
                                         .topic_count = 1};
    expect_produce_refused(&client, &request, "negative timeout");
    request.timeout_ms = 1000;
    request.transactional_id = sb_wire_string_from_cstr("txn");
    expect_produce_refused(&client, &request, "transactional id");
    request.transactional_id = (struct sb_wire_string){0};
    parts[1].partition = 0;
    expect_produce_refused(&client, &request, "one partition twice in a topic");
    parts[1].partition = 1;
    request.topic_count = 2;
    expect_produce_refused(&client, &request, "one topic and partition in two topic entries");
    /* Nothing of the refused requests was appended: the next record gets offset 0. */
    request.topic_count = 1;
    topics[0].partition_count = 1;
    client_send(&client, SB_API_PRODUCE, 0, encode_produce_request, &request);
    struct sb_frame frame;
    cr_assert_eq(client_receive(&client, &frame, TIMEOUT_MS), 0);
    struct sb_produce_response response;
    struct sb_produce_topic_response topic;
    struct sb_produce_partition_response partition;
    cr_assert_eq(sb_produce_response_decode(frame.body, frame.body_bytes, &response), 0);
    cr_assert_eq(sb_produce_response_next_topic(&response, &topic), 1);
    cr_assert_eq(sb_produce_topic_response_next_partition(&topic, &partition), 1);
    cr_assert_eq(partition.error_code, 0);
    cr_assert_eq(partition.base_offset, 0, "refused requests appended nothing");
    client_close(&client);
    broker_stop_and_destroy(&broker);
}

/* docs/protocol.md, Fetch: negative wait or byte values, or an unknown isolation level, is
 * INVALID_REQUEST. */
Test(hostile, fetch_with_negative_wait_or_bytes_is_invalid_request, .timeout = 60)
{
    struct broker_process broker;
    broker_start_new(&broker, 1, NULL);
    struct client client;
    client_connect(&client, broker.port);
    cr_assert_eq(client_create_topic(&client, "strict", 1), SB_WIRE_ERROR_NONE);
    for (int variant = 0; variant < 5; variant++) {
        struct sb_fetch_partition part = {.partition = 0, .partition_max_bytes = 1 << 20};
        struct sb_fetch_topic topic = {.name = sb_wire_string_from_cstr("strict"),
                                       .partitions = &part, .partition_count = 1};
        struct sb_fetch_request request = {.max_wait_ms = 0, .min_bytes = 0,
                                           .max_bytes = 1 << 20, .topics = &topic,
                                           .topic_count = 1};
        request.max_wait_ms = variant == 0 ? -1 : 0;
        request.min_bytes = variant == 1 ? -1 : 0;
        request.max_bytes = variant == 2 ? -1 : 1 << 20;
        part.partition_max_bytes = variant == 3 ? -1 : 1 << 20;
        request.isolation_level = variant == 4 ? 7 : 0;
        uint32_t correlation = client_send(&client, SB_API_FETCH, 0, encode_fetch_request,
                                           &request);
        struct sb_frame frame;
        cr_assert_eq(client_receive(&client, &frame, TIMEOUT_MS), 0);
        cr_assert_eq(frame.header.correlation_id, correlation);
        cr_assert_eq(frame.header.error_code, SB_WIRE_ERROR_INVALID_REQUEST,
                     "variant %d: got %s", variant,
                     sb_wire_error_name(frame.header.error_code));
    }
    client_close(&client);
    broker_stop_and_destroy(&broker);
}

/* Unknown topic names longer than any topic can be (249 bytes) are echoed back in the
 * answer: the response must be sized for them. */
#define LONG_NAMES 8
#define LONG_NAME_BYTES 60000

static int
encode_describe(struct sb_wire_writer *writer, const void *request)
{
    return sb_describe_topic_request_encode(writer, request);
}

/* Sends a request and expects an answer for it without a frame-level error. */
static void
expect_answered(struct client *client, uint16_t api_key,
                int (*encode)(struct sb_wire_writer *writer, const void *request),
                const void *request, const char *what)
{
    uint32_t correlation = client_send(client, api_key, 0, encode, request);
    struct sb_frame frame;
    cr_assert_eq(client_receive(client, &frame, TIMEOUT_MS), 0, "%s answered", what);
    cr_assert_eq(frame.header.correlation_id, correlation);
    cr_assert_eq(frame.header.error_code, SB_WIRE_ERROR_NONE, "%s: got %s", what,
                 sb_wire_error_name(frame.header.error_code));
}

Test(hostile, unknown_topic_names_over_249_bytes_are_answered, .timeout = 60)
{
    struct broker_process broker;
    broker_start_new(&broker, 1, NULL);
    struct client client;
    client_connect(&client, broker.port);
    static char names[LONG_NAMES][LONG_NAME_BYTES];
    struct sb_wire_string strings[LONG_NAMES];
    struct sb_produce_topic produce_topics[LONG_NAMES];
    struct sb_list_offsets_topic offsets_topics[LONG_NAMES];
    static uint8_t batch[4096];
    uint32_t bytes = test_batch(batch, sizeof(batch), 1, "long");
    struct sb_produce_partition produce_part = {.partition = 0, .records = {batch, bytes}};
    struct sb_list_offsets_partition offsets_part = {.partition = 0, .timestamp = -1};
    for (int index = 0; index < LONG_NAMES; index++) {
        memset(names[index], 'a' + index, LONG_NAME_BYTES);
        strings[index] = (struct sb_wire_string){names[index], LONG_NAME_BYTES};
        produce_topics[index] = (struct sb_produce_topic){
            .name = strings[index], .partitions = &produce_part, .partition_count = 1};
        offsets_topics[index] = (struct sb_list_offsets_topic){
            .name = strings[index], .partitions = &offsets_part, .partition_count = 1};
    }
    struct sb_produce_request produce = {.acks = 1, .timeout_ms = 1000,
                                         .topics = produce_topics, .topic_count = LONG_NAMES};
    expect_answered(&client, SB_API_PRODUCE, encode_produce_request, &produce, "Produce");
    struct sb_list_offsets_request offsets = {.topics = offsets_topics,
                                              .topic_count = LONG_NAMES};
    expect_answered(&client, SB_API_LIST_OFFSETS, encode_list_offsets_request, &offsets,
                    "ListOffsets");
    struct sb_describe_topic_request describe = {.name = strings[0]};
    expect_answered(&client, SB_API_DESCRIBE_TOPIC, encode_describe, &describe,
                    "DescribeTopic");
    struct sb_fetch_partition fetch_part = {.partition = 0, .partition_max_bytes = 1 << 20};
    struct sb_fetch_topic fetch_topics[LONG_NAMES];
    for (int index = 0; index < LONG_NAMES; index++) {
        fetch_topics[index] = (struct sb_fetch_topic){
            .name = strings[index], .partitions = &fetch_part, .partition_count = 1};
    }
    struct sb_fetch_request fetch = {.max_bytes = 1 << 20, .topics = fetch_topics,
                                     .topic_count = LONG_NAMES};
    expect_answered(&client, SB_API_FETCH, encode_fetch_request, &fetch, "Fetch");
    struct sb_metadata_request metadata = {.topics = strings, .topic_count = LONG_NAMES};
    expect_answered(&client, SB_API_METADATA, encode_metadata_request, &metadata, "Metadata");
    client_close(&client);
    broker_stop_and_destroy(&broker);
}
