/*
 * broker/request.c - a request's life on the connection's shard, from a whole frame to an
 * encoded response (broker_private.h has the diagram): the frame's checks, the registry
 * lookup (api.c) and the route of the request's API: answered here (LOCAL), split into ops
 * for the owning shards (OWNERS, router.c), or run by shard 0's control plane (CONTROL,
 * admin.c). What each API does is in its own file (api_*.c, admin.c).
 *
 * Memory for the response is taken when the request starts (a Fetch: its ops' buffers
 * then, its response when they are back, sized to what they read); if the shard's request
 * budget is exhausted the request is answered BROKER_BUSY (retriable) in its own frame
 * buffer, so a full budget never fails silently. No request asks for more than an idle
 * budget holds.
 */
#include <errno.h>
#include <string.h>

#include "core/assert.h"
#include "core/log.h"
#include "broker/api.h"
#include "broker/broker_private.h"
#include "broker/router.h"
#include "proto/errors.h"

/* Room for a response's frame header, counts and fixed fields beyond each API's estimate. */
#define RESPONSE_SLACK_BYTES 256u

void
request_release(struct request *request)
{
    struct broker_shard *self = request->home;
    if (request->ops_held > 0) {
        request->release_deferred = true;
        return;
    }
    if (request->net.response != NULL && request->net.response_capacity != 0) {
        sb_bufpool_release(&self->buffers, request->net.response, request->net.response_capacity);
    }
    if (request->scratch != NULL) {
        sb_bufpool_release(&self->buffers, request->scratch, request->scratch_capacity);
    }
    if (request->net.frame != NULL) {
        sb_bufpool_release(&self->buffers, request->net.frame, request->net.frame_capacity);
    }
    SB_ASSERT(self->requests_in_flight > 0);
    self->requests_in_flight--;
    memset(request, 0, sizeof(*request));
    sb_pool_release(&self->requests, request);
}

static void
request_complete(struct request *request)
{
    sb_net_request_complete(&request->net);
}

/* A frame-level error response (empty body), written over the request's own frame buffer. */
bool
request_respond_error(struct request *request, int16_t error)
{
    if (request->net.response != NULL && request->net.response_capacity != 0) {
        sb_bufpool_release(&request->home->buffers, request->net.response,
                           request->net.response_capacity);
    }
    sb_net_request_respond_error(&request->net, error);
    return true;
}

bool
request_reserve_response(struct request *request, uint64_t bytes)
{
    bytes += RESPONSE_SLACK_BYTES;
    request->net.response = bytes <= UINT32_MAX
                                ? sb_bufpool_acquire(&request->home->buffers, (uint32_t)bytes,
                                                     &request->net.response_capacity)
                                : NULL;
    return request->net.response != NULL;
}

bool
request_reserve_scratch(struct request *request, uint64_t bytes)
{
    request->scratch = bytes <= UINT32_MAX
                           ? sb_bufpool_acquire(&request->home->buffers, (uint32_t)bytes,
                                                &request->scratch_capacity)
                           : NULL;
    if (request->scratch == NULL) {
        return false;
    }
    memset(request->scratch, 0, bytes);
    return true;
}

/* A frame-level error written over the request's own response buffer (which stays the
 * connection's shard's: shard 0 may write it). */
static void
request_encode_error(struct request *request, int16_t error)
{
    request->net.response_bytes = request->net.framer->error_encode(request->net.frame, error,
                                                                    request->net.response);
}

void
request_encode(struct broker_shard *self, struct request *request, int16_t error)
{
    SB_ASSERT(request->net.response != NULL &&
              request->net.response_capacity >= SB_FRAMER_ERROR_FRAME_BYTES_MAX);
    if (error != SB_WIRE_ERROR_NONE) {
        request_encode_error(request, error);
        return;
    }
    const struct api *api = api_find(request->header.api_key);
    SB_ASSERT(api != NULL);
    struct sb_wire_writer writer;
    sb_wire_writer_init(&writer, request->net.response, request->net.response_capacity);
    struct sb_frame_header header = {
        .api_key = request->header.api_key,
        .api_version = request->header.api_version,
        .correlation_id = request->header.correlation_id,
        .flags = SB_FRAME_FLAG_RESPONSE,
    };
    int result = sb_frame_begin(&writer, &header);
    SB_ASSERT(result == 0);
    result = api->encode(self, request, &writer);
    result = result == 0 ? sb_frame_finish(&writer) : result;
    if (result != 0) {
        /* An estimate of the response's size was wrong: a bug, but the client still gets an
         * answer. */
        sb_log_error("response encoding failed", "api=%s error=%d", sb_api_name(header.api_key),
                     result);
        request_encode_error(request, SB_WIRE_ERROR_UNKNOWN_SERVER_ERROR);
        return;
    }
    request->net.response_bytes = (uint32_t)sb_wire_writer_length(&writer);
}

void
request_answer(struct request *request)
{
    if (!request->net.no_response) {
        request_encode(request->home, request, SB_WIRE_ERROR_NONE);
    }
    request_complete(request);
}

void
request_body(const struct request *request, const uint8_t **body_out, uint32_t *bytes_out)
{
    *body_out = request->net.frame + SB_FRAME_HEADER_BYTES;
    *bytes_out = request->header.frame_bytes - (SB_FRAME_HEADER_BYTES - SB_FRAME_PREFIX_BYTES);
}

/* Control requests run on shard 0; the response buffer is taken here, on the home shard. */
static void
request_admin(struct request *request)
{
    struct broker_shard *self = request->home;
    uint64_t frame_bytes = request->header.frame_bytes;
    if (!request_reserve_response(request, frame_bytes * 2 + 4096)) {
        request_respond_error(request, SB_WIRE_ERROR_BROKER_BUSY);
        return;
    }
    if (self->id == 0) {
        admin_submit(self, request);
    } else {
        broker_send(self, 0, MSG_ADMIN, &request->outgoing, request);
    }
}

void
request_admin_done(struct request *request)
{
    request_complete(request);
}

/* The request is for this broker (request_start checked it): its API's route runs it. */
static void
request_route(struct request *request, const struct api *api)
{
    if (api->route == API_ROUTE_CONTROL) {
        request_admin(request);
        return;
    }
    int16_t error = api->decode(request->home, request);
    if (error != SB_WIRE_ERROR_NONE) {
        request_respond_error(request, error);
    } else if (api->route == API_ROUTE_LOCAL) {
        request_answer(request);
    } else {
        router_dispatch(request);
    }
}

void
request_start(struct request *request)
{
    const struct sb_frame_header *header = &request->header;
    size_t total = sb_frame_total_bytes(header);
    if (sb_frame_verify_crc(request->net.frame, total, header) != 0) {
        /* The stream cannot be trusted any more: answer, then close (docs/protocol.md). */
        sb_net_request_close_after_answers(&request->net);
        request_respond_error(request, SB_WIRE_ERROR_CORRUPT_FRAME);
        return;
    }
    const struct api *api;
    enum sb_wire_error error = api_check(header->api_key, header->api_version, &api);
    bool silent = (header->flags & SB_FRAME_FLAG_NO_RESPONSE) != 0;
    if (silent && (api == NULL || !api->silent_allowed)) {
        sb_net_request_close_after_answers(&request->net);
        request_respond_error(request, SB_WIRE_ERROR_INVALID_REQUEST);
        return;
    }
    if (error != SB_WIRE_ERROR_NONE || sb_frame_header_is_response(header)) {
        request_respond_error(request, error != SB_WIRE_ERROR_NONE
                                           ? (int16_t)error : SB_WIRE_ERROR_INVALID_REQUEST);
        return;
    }
    request_route(request, api);
}

void
request_cancel(struct request *request)
{
    const struct api *api = api_find(request->header.api_key);
    if (api != NULL && api->cancel != NULL && !request->net.complete) {
        api->cancel(request);
    }
}
