/*
 * proto/api_produce.c - Produce request and response bodies (api_produce.h;
 * layout in docs/protocol.md "Produce"). Built like api_meta.c: one _read and
 * one _write helper per array element, decoders in field order ending with
 * sb_wire_reader_finish. Record batches pass through as bytes.
 */
#include "proto/api_produce.h"

#include <string.h>

#include "core/error.h"

#define PRODUCE_PARTITION_BYTES_MIN 8           /* partition, records (empty). */
#define PRODUCE_TOPIC_BYTES_MIN 6               /* name "", partitions []. */
#define PRODUCE_PARTITION_RESPONSE_BYTES_MIN 30 /* partition, error, three int64. */

static void produce_topic_read(struct sb_wire_reader *reader, void *element);
static void produce_topic_write(struct sb_wire_writer *writer, const void *element);
static void produce_partition_read(struct sb_wire_reader *reader, void *element);
static void produce_partition_write(struct sb_wire_writer *writer, const void *element);
static void produce_topic_response_read(struct sb_wire_reader *reader, void *element);
static void produce_topic_response_write(struct sb_wire_writer *writer, const void *element);
static void produce_partition_response_read(struct sb_wire_reader *reader, void *element);
static void produce_partition_response_write(struct sb_wire_writer *writer,
                                             const void *element);

int
sb_produce_request_encode(struct sb_wire_writer *writer, const struct sb_produce_request *request)
{
    sb_wire_write_i16(writer, request->acks);
    sb_wire_write_i32(writer, request->timeout_ms);
    sb_wire_write_string_nullable(writer, request->transactional_id);
    sb_wire_write_array(writer, request->topics, request->topic_count,
                        sizeof(*request->topics), produce_topic_write);
    return writer->error;
}

int
sb_produce_request_decode(const uint8_t *body, size_t body_bytes,
                          struct sb_produce_request *out)
{
    struct sb_wire_reader reader;
    struct sb_produce_request request;
    struct sb_produce_topic scratch;
    memset(&request, 0, sizeof(request));
    sb_wire_reader_init(&reader, body, body_bytes);
    request.acks = sb_wire_read_i16(&reader);
    request.timeout_ms = sb_wire_read_i32(&reader);
    sb_wire_read_string_nullable(&reader, &request.transactional_id);
    sb_wire_read_array(&reader, PRODUCE_TOPIC_BYTES_MIN, produce_topic_read, &scratch,
                       &request.topic_cursor);
    request.topic_count = request.topic_cursor.count;
    int error = sb_wire_reader_finish(&reader);
    if (error == 0) {
        *out = request;
    }
    return error;
}

int
sb_produce_request_next_topic(struct sb_produce_request *request, struct sb_produce_topic *out)
{
    return sb_wire_array_next(&request->topic_cursor, produce_topic_read, out);
}

int
sb_produce_topic_next_partition(struct sb_produce_topic *topic, struct sb_produce_partition *out)
{
    return sb_wire_array_next(&topic->partition_cursor, produce_partition_read, out);
}

static void
produce_topic_read(struct sb_wire_reader *reader, void *element)
{
    struct sb_produce_topic *topic = element;
    struct sb_produce_partition scratch;
    sb_wire_read_string(reader, &topic->name);
    topic->partitions = NULL;
    sb_wire_read_array(reader, PRODUCE_PARTITION_BYTES_MIN, produce_partition_read, &scratch,
                       &topic->partition_cursor);
    topic->partition_count = topic->partition_cursor.count;
}

static void
produce_topic_write(struct sb_wire_writer *writer, const void *element)
{
    const struct sb_produce_topic *topic = element;
    sb_wire_write_string(writer, topic->name);
    sb_wire_write_array(writer, topic->partitions, topic->partition_count,
                        sizeof(*topic->partitions), produce_partition_write);
}

static void
produce_partition_read(struct sb_wire_reader *reader, void *element)
{
    struct sb_produce_partition *partition = element;
    partition->partition = sb_wire_read_i32(reader);
    sb_wire_read_bytes(reader, &partition->records);
}

static void
produce_partition_write(struct sb_wire_writer *writer, const void *element)
{
    const struct sb_produce_partition *partition = element;
    sb_wire_write_i32(writer, partition->partition);
    sb_wire_write_bytes(writer, partition->records);
}

int
sb_produce_response_encode(struct sb_wire_writer *writer,
                           const struct sb_produce_response *response)
{
    sb_wire_write_array(writer, response->topics, response->topic_count,
                        sizeof(*response->topics), produce_topic_response_write);
    sb_wire_write_i32(writer, response->throttle_ms);
    return writer->error;
}

int
sb_produce_response_decode(const uint8_t *body, size_t body_bytes,
                           struct sb_produce_response *out)
{
    struct sb_wire_reader reader;
    struct sb_produce_response response;
    struct sb_produce_topic_response scratch;
    memset(&response, 0, sizeof(response));
    sb_wire_reader_init(&reader, body, body_bytes);
    sb_wire_read_array(&reader, PRODUCE_TOPIC_BYTES_MIN, produce_topic_response_read, &scratch,
                       &response.topic_cursor);
    response.topic_count = response.topic_cursor.count;
    response.throttle_ms = sb_wire_read_i32(&reader);
    int error = sb_wire_reader_finish(&reader);
    if (error == 0) {
        *out = response;
    }
    return error;
}

int
sb_produce_response_next_topic(struct sb_produce_response *response,
                               struct sb_produce_topic_response *out)
{
    return sb_wire_array_next(&response->topic_cursor, produce_topic_response_read, out);
}

int
sb_produce_topic_response_next_partition(struct sb_produce_topic_response *topic,
                                         struct sb_produce_partition_response *out)
{
    return sb_wire_array_next(&topic->partition_cursor, produce_partition_response_read, out);
}

static void
produce_topic_response_read(struct sb_wire_reader *reader, void *element)
{
    struct sb_produce_topic_response *topic = element;
    struct sb_produce_partition_response scratch;
    sb_wire_read_string(reader, &topic->name);
    topic->partitions = NULL;
    sb_wire_read_array(reader, PRODUCE_PARTITION_RESPONSE_BYTES_MIN,
                       produce_partition_response_read, &scratch, &topic->partition_cursor);
    topic->partition_count = topic->partition_cursor.count;
}

static void
produce_topic_response_write(struct sb_wire_writer *writer, const void *element)
{
    const struct sb_produce_topic_response *topic = element;
    sb_wire_write_string(writer, topic->name);
    sb_wire_write_array(writer, topic->partitions, topic->partition_count,
                        sizeof(*topic->partitions), produce_partition_response_write);
}

static void
produce_partition_response_read(struct sb_wire_reader *reader, void *element)
{
    struct sb_produce_partition_response *partition = element;
    partition->partition = sb_wire_read_i32(reader);
    partition->error_code = sb_wire_read_i16(reader);
    partition->base_offset = sb_wire_read_i64(reader);
    partition->log_append_time_ms = sb_wire_read_i64(reader);
    partition->log_start_offset = sb_wire_read_i64(reader);
}

static void
produce_partition_response_write(struct sb_wire_writer *writer, const void *element)
{
    const struct sb_produce_partition_response *partition = element;
    sb_wire_write_i32(writer, partition->partition);
    sb_wire_write_i16(writer, partition->error_code);
    sb_wire_write_i64(writer, partition->base_offset);
    sb_wire_write_i64(writer, partition->log_append_time_ms);
    sb_wire_write_i64(writer, partition->log_start_offset);
}
