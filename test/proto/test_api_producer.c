/*
 * test/proto/test_api_producer.c - InitProducerId bodies
 * (proto/api_producer.h): request and response round trips through a frame
 * with the generic checks of wire_fixture.h, new and existing producers,
 * and a transactional id that is carried (the broker refuses it).
 */
#include <criterion/criterion.h>

#include "core/error.h"
#include "proto/api_producer.h"
#include "test/proto/wire_fixture.h"

static int
encode_new_producer_request(struct sb_wire_writer *writer)
{
    struct sb_init_producer_id_request request = {
        .transactional_id = {NULL, 0}, .transaction_timeout_ms = 60000, .producer_id = -1,
        .producer_epoch = -1,
    };
    fixture_frame_begin(writer, SB_API_INIT_PRODUCER_ID, false);
    sb_init_producer_id_request_encode(writer, &request);
    return sb_frame_finish(writer);
}

static int
encode_bump_epoch_request(struct sb_wire_writer *writer)
{
    struct sb_init_producer_id_request request = {
        .transactional_id = {"tx-1", 4}, .transaction_timeout_ms = 0,
        .producer_id = 0x7000000000000001LL, .producer_epoch = INT16_MAX,
    };
    fixture_frame_begin(writer, SB_API_INIT_PRODUCER_ID, false);
    sb_init_producer_id_request_encode(writer, &request);
    return sb_frame_finish(writer);
}

Test(api_producer, request_round_trip)
{
    struct sb_frame frame = fixture_encode(encode_new_producer_request,
                                           "init_producer_id_request");
    struct sb_init_producer_id_request request;
    cr_assert_eq(sb_init_producer_id_request_decode(frame.body, frame.body_bytes, &request), 0);
    cr_assert(fixture_string_is(request.transactional_id, NULL));
    cr_assert_eq(request.transaction_timeout_ms, 60000);
    cr_assert_eq(request.producer_id, -1);
    cr_assert_eq(request.producer_epoch, -1);
    frame = fixture_encode(encode_bump_epoch_request, "init_producer_id_request_bump");
    cr_assert_eq(sb_init_producer_id_request_decode(frame.body, frame.body_bytes, &request), 0);
    cr_assert(fixture_string_is(request.transactional_id, "tx-1"));
    cr_assert_eq(request.producer_id, 0x7000000000000001LL);
    cr_assert_eq(request.producer_epoch, INT16_MAX);
}

static int
encode_response(struct sb_wire_writer *writer)
{
    struct sb_init_producer_id_response response = {
        .error_code = 0, .producer_id = 12345, .producer_epoch = 3,
    };
    fixture_frame_begin(writer, SB_API_INIT_PRODUCER_ID, true);
    sb_init_producer_id_response_encode(writer, &response);
    return sb_frame_finish(writer);
}

Test(api_producer, response_round_trip)
{
    struct sb_frame frame = fixture_encode(encode_response, "init_producer_id_response");
    cr_assert_eq(frame.body_bytes, 12);
    struct sb_init_producer_id_response response;
    cr_assert_eq(sb_init_producer_id_response_decode(frame.body, frame.body_bytes, &response),
                 0);
    cr_assert_eq(response.error_code, 0);
    cr_assert_eq(response.producer_id, 12345);
    cr_assert_eq(response.producer_epoch, 3);
    cr_assert_eq(sb_init_producer_id_response_decode(frame.body, 11, &response), SB_ECORRUPT);
}
