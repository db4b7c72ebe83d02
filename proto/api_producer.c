/*
 * proto/api_producer.c - InitProducerId request and response bodies
 * (api_producer.h; layout in docs/protocol.md). Fixed fields only: each
 * decoder reads them in order and ends with sb_wire_reader_finish.
 */
#include "proto/api_producer.h"

#include <string.h>

int
sb_init_producer_id_request_encode(struct sb_wire_writer *writer,
                                   const struct sb_init_producer_id_request *request)
{
    sb_wire_write_string_nullable(writer, request->transactional_id);
    sb_wire_write_i32(writer, request->transaction_timeout_ms);
    sb_wire_write_i64(writer, request->producer_id);
    sb_wire_write_i16(writer, request->producer_epoch);
    return writer->error;
}

int
sb_init_producer_id_request_decode(const uint8_t *body, size_t body_bytes,
                                   struct sb_init_producer_id_request *out)
{
    struct sb_wire_reader reader;
    struct sb_init_producer_id_request request;
    memset(&request, 0, sizeof(request));
    sb_wire_reader_init(&reader, body, body_bytes);
    sb_wire_read_string_nullable(&reader, &request.transactional_id);
    request.transaction_timeout_ms = sb_wire_read_i32(&reader);
    request.producer_id = sb_wire_read_i64(&reader);
    request.producer_epoch = sb_wire_read_i16(&reader);
    int error = sb_wire_reader_finish(&reader);
    if (error == 0) {
        *out = request;
    }
    return error;
}

int
sb_init_producer_id_response_encode(struct sb_wire_writer *writer,
                                    const struct sb_init_producer_id_response *response)
{
    sb_wire_write_i16(writer, response->error_code);
    sb_wire_write_i64(writer, response->producer_id);
    sb_wire_write_i16(writer, response->producer_epoch);
    return writer->error;
}

int
sb_init_producer_id_response_decode(const uint8_t *body, size_t body_bytes,
                                    struct sb_init_producer_id_response *out)
{
    struct sb_wire_reader reader;
    struct sb_init_producer_id_response response;
    memset(&response, 0, sizeof(response));
    sb_wire_reader_init(&reader, body, body_bytes);
    response.error_code = sb_wire_read_i16(&reader);
    response.producer_id = sb_wire_read_i64(&reader);
    response.producer_epoch = sb_wire_read_i16(&reader);
    int error = sb_wire_reader_finish(&reader);
    if (error == 0) {
        *out = response;
    }
    return error;
}
