/*
 * proto/api_fetch.c - Fetch and ListOffsets request and response bodies
 * (api_fetch.h; layouts in docs/protocol.md). Built like api_meta.c: one
 * _read and one _write helper per array element, decoders in field order
 * ending with sb_wire_reader_finish. Fetch first, then ListOffsets.
 */
#include "proto/api_fetch.h"

#include <errno.h>
#include <string.h>

#include "core/assert.h"
#include "core/error.h"

#define TOPIC_BYTES_MIN 6                      /* name "", partitions []. */
#define FETCH_TOPIC_V1_BYTES_MIN 10            /* name "", topic_id, partitions []. */
#define FETCH_PARTITION_BYTES_MIN 16           /* partition, fetch_offset, max bytes. */
#define FETCH_PARTITION_RESPONSE_BYTES_MIN 34  /* 4 + 2 + 3 x 8 + records (empty). */
#define LIST_OFFSETS_PARTITION_BYTES_MIN 12    /* partition, timestamp. */
#define LIST_OFFSETS_PARTITION_RESPONSE_BYTES_MIN 22 /* partition, error, timestamp, offset. */

static void fetch_topic_read(struct sb_wire_reader *reader, void *element);
static void fetch_topic_write(struct sb_wire_writer *writer, const void *element);
static void fetch_topic_v1_read(struct sb_wire_reader *reader, void *element);
static void fetch_topic_v1_write(struct sb_wire_writer *writer, const void *element);
static void fetch_partition_read(struct sb_wire_reader *reader, void *element);
static void fetch_partition_write(struct sb_wire_writer *writer, const void *element);
static void fetch_topic_response_read(struct sb_wire_reader *reader, void *element);
static void fetch_topic_response_write(struct sb_wire_writer *writer, const void *element);
static void fetch_partition_response_read(struct sb_wire_reader *reader, void *element);
static void fetch_partition_response_write(struct sb_wire_writer *writer, const void *element);
static void list_offsets_topic_read(struct sb_wire_reader *reader, void *element);
static void list_offsets_topic_write(struct sb_wire_writer *writer, const void *element);
static void list_offsets_partition_read(struct sb_wire_reader *reader, void *element);
static void list_offsets_partition_write(struct sb_wire_writer *writer, const void *element);
static void list_offsets_topic_response_read(struct sb_wire_reader *reader, void *element);
static void list_offsets_topic_response_write(struct sb_wire_writer *writer,
                                              const void *element);
static void list_offsets_partition_response_read(struct sb_wire_reader *reader,
                                                 void *element);
static void list_offsets_partition_response_write(struct sb_wire_writer *writer,
                                                  const void *element);

int
sb_fetch_request_encode(struct sb_wire_writer *writer, const struct sb_fetch_request *request)
{
    sb_wire_write_i32(writer, request->max_wait_ms);
    sb_wire_write_i32(writer, request->min_bytes);
    sb_wire_write_i32(writer, request->max_bytes);
    sb_wire_write_i8(writer, request->isolation_level);
    SB_ASSERT(request->api_version <= SB_FETCH_VERSION_MAX);
    sb_wire_write_array(writer, request->topics, request->topic_count,
                        sizeof(*request->topics),
                        request->api_version == 0 ? fetch_topic_write : fetch_topic_v1_write);
    return writer->error;
}

int
sb_fetch_request_decode(const uint8_t *body, size_t body_bytes, uint16_t api_version,
                        struct sb_fetch_request *out)
{
    struct sb_wire_reader reader;
    struct sb_fetch_request request;
    struct sb_fetch_topic scratch;
    if (api_version > SB_FETCH_VERSION_MAX) {
        return -EINVAL;
    }
    memset(&request, 0, sizeof(request));
    request.api_version = api_version;
    sb_wire_reader_init(&reader, body, body_bytes);
    request.max_wait_ms = sb_wire_read_i32(&reader);
    request.min_bytes = sb_wire_read_i32(&reader);
    request.max_bytes = sb_wire_read_i32(&reader);
    request.isolation_level = sb_wire_read_i8(&reader);
    sb_wire_read_array(&reader, api_version == 0 ? TOPIC_BYTES_MIN : FETCH_TOPIC_V1_BYTES_MIN,
                       api_version == 0 ? fetch_topic_read : fetch_topic_v1_read, &scratch,
                       &request.topic_cursor);
    request.topic_count = request.topic_cursor.count;
    int error = sb_wire_reader_finish(&reader);
    if (error == 0) {
        *out = request;
    }
    return error;
}

int
sb_fetch_request_next_topic(struct sb_fetch_request *request, struct sb_fetch_topic *out)
{
    return sb_wire_array_next(&request->topic_cursor,
                              request->api_version == 0 ? fetch_topic_read : fetch_topic_v1_read,
                              out);
}

int
sb_fetch_topic_next_partition(struct sb_fetch_topic *topic, struct sb_fetch_partition *out)
{
    return sb_wire_array_next(&topic->partition_cursor, fetch_partition_read, out);
}

static void
fetch_topic_read(struct sb_wire_reader *reader, void *element)
{
    struct sb_fetch_topic *topic = element;
    struct sb_fetch_partition scratch;
    sb_wire_read_string(reader, &topic->name);
    topic->topic_id = 0;
    topic->partitions = NULL;
    sb_wire_read_array(reader, FETCH_PARTITION_BYTES_MIN, fetch_partition_read, &scratch,
                       &topic->partition_cursor);
    topic->partition_count = topic->partition_cursor.count;
}

static void
fetch_topic_write(struct sb_wire_writer *writer, const void *element)
{
    const struct sb_fetch_topic *topic = element;
    sb_wire_write_string(writer, topic->name);
    sb_wire_write_array(writer, topic->partitions, topic->partition_count,
                        sizeof(*topic->partitions), fetch_partition_write);
}

/* Version 1: the name, then the topic id, then the partitions. */
static void
fetch_topic_v1_read(struct sb_wire_reader *reader, void *element)
{
    struct sb_fetch_topic *topic = element;
    struct sb_fetch_partition scratch;
    sb_wire_read_string(reader, &topic->name);
    topic->topic_id = sb_wire_read_u32(reader);
    topic->partitions = NULL;
    sb_wire_read_array(reader, FETCH_PARTITION_BYTES_MIN, fetch_partition_read, &scratch,
                       &topic->partition_cursor);
    topic->partition_count = topic->partition_cursor.count;
}

static void
fetch_topic_v1_write(struct sb_wire_writer *writer, const void *element)
{
    const struct sb_fetch_topic *topic = element;
    sb_wire_write_string(writer, topic->name);
    sb_wire_write_u32(writer, topic->topic_id);
    sb_wire_write_array(writer, topic->partitions, topic->partition_count,
                        sizeof(*topic->partitions), fetch_partition_write);
}

static void
fetch_partition_read(struct sb_wire_reader *reader, void *element)
{
    struct sb_fetch_partition *partition = element;
    partition->partition = sb_wire_read_i32(reader);
    partition->fetch_offset = sb_wire_read_i64(reader);
    partition->partition_max_bytes = sb_wire_read_i32(reader);
}

static void
fetch_partition_write(struct sb_wire_writer *writer, const void *element)
{
    const struct sb_fetch_partition *partition = element;
    sb_wire_write_i32(writer, partition->partition);
    sb_wire_write_i64(writer, partition->fetch_offset);
    sb_wire_write_i32(writer, partition->partition_max_bytes);
}

int
sb_fetch_response_encode(struct sb_wire_writer *writer, const struct sb_fetch_response *response)
{
    sb_wire_write_i32(writer, response->throttle_ms);
    sb_wire_write_array(writer, response->topics, response->topic_count,
                        sizeof(*response->topics), fetch_topic_response_write);
    return writer->error;
}

int
sb_fetch_response_decode(const uint8_t *body, size_t body_bytes, struct sb_fetch_response *out)
{
    struct sb_wire_reader reader;
    struct sb_fetch_response response;
    struct sb_fetch_topic_response scratch;
    memset(&response, 0, sizeof(response));
    sb_wire_reader_init(&reader, body, body_bytes);
    response.throttle_ms = sb_wire_read_i32(&reader);
    sb_wire_read_array(&reader, TOPIC_BYTES_MIN, fetch_topic_response_read, &scratch,
                       &response.topic_cursor);
    response.topic_count = response.topic_cursor.count;
    int error = sb_wire_reader_finish(&reader);
    if (error == 0) {
        *out = response;
    }
    return error;
}

int
sb_fetch_response_next_topic(struct sb_fetch_response *response,
                             struct sb_fetch_topic_response *out)
{
    return sb_wire_array_next(&response->topic_cursor, fetch_topic_response_read, out);
}

int
sb_fetch_topic_response_next_partition(struct sb_fetch_topic_response *topic,
                                       struct sb_fetch_partition_response *out)
{
    return sb_wire_array_next(&topic->partition_cursor, fetch_partition_response_read, out);
}

static void
fetch_topic_response_read(struct sb_wire_reader *reader, void *element)
{
    struct sb_fetch_topic_response *topic = element;
    struct sb_fetch_partition_response scratch;
    sb_wire_read_string(reader, &topic->name);
    topic->partitions = NULL;
    sb_wire_read_array(reader, FETCH_PARTITION_RESPONSE_BYTES_MIN,
                       fetch_partition_response_read, &scratch, &topic->partition_cursor);
    topic->partition_count = topic->partition_cursor.count;
}

static void
fetch_topic_response_write(struct sb_wire_writer *writer, const void *element)
{
    const struct sb_fetch_topic_response *topic = element;
    sb_wire_write_string(writer, topic->name);
    sb_wire_write_array(writer, topic->partitions, topic->partition_count,
                        sizeof(*topic->partitions), fetch_partition_response_write);
}

static void
fetch_partition_response_read(struct sb_wire_reader *reader, void *element)
{
    struct sb_fetch_partition_response *partition = element;
    partition->partition = sb_wire_read_i32(reader);
    partition->error_code = sb_wire_read_i16(reader);
    partition->high_watermark = sb_wire_read_i64(reader);
    partition->log_start_offset = sb_wire_read_i64(reader);
    partition->last_stable_offset = sb_wire_read_i64(reader);
    sb_wire_read_bytes(reader, &partition->records);
}

static void
fetch_partition_response_write(struct sb_wire_writer *writer, const void *element)
{
    const struct sb_fetch_partition_response *partition = element;
    sb_wire_write_i32(writer, partition->partition);
    sb_wire_write_i16(writer, partition->error_code);
    sb_wire_write_i64(writer, partition->high_watermark);
    sb_wire_write_i64(writer, partition->log_start_offset);
    sb_wire_write_i64(writer, partition->last_stable_offset);
    if (partition->records_crc_known) {
        sb_wire_write_bytes_crc(writer, partition->records, partition->records_crc);
    } else {
        sb_wire_write_bytes(writer, partition->records);
    }
}

int
sb_list_offsets_request_encode(struct sb_wire_writer *writer,
                               const struct sb_list_offsets_request *request)
{
    sb_wire_write_array(writer, request->topics, request->topic_count,
                        sizeof(*request->topics), list_offsets_topic_write);
    return writer->error;
}

int
sb_list_offsets_request_decode(const uint8_t *body, size_t body_bytes,
                               struct sb_list_offsets_request *out)
{
    struct sb_wire_reader reader;
    struct sb_list_offsets_request request;
    struct sb_list_offsets_topic scratch;
    memset(&request, 0, sizeof(request));
    sb_wire_reader_init(&reader, body, body_bytes);
    sb_wire_read_array(&reader, TOPIC_BYTES_MIN, list_offsets_topic_read, &scratch,
                       &request.topic_cursor);
    request.topic_count = request.topic_cursor.count;
    int error = sb_wire_reader_finish(&reader);
    if (error == 0) {
        *out = request;
    }
    return error;
}

int
sb_list_offsets_request_next_topic(struct sb_list_offsets_request *request,
                                   struct sb_list_offsets_topic *out)
{
    return sb_wire_array_next(&request->topic_cursor, list_offsets_topic_read, out);
}

int
sb_list_offsets_topic_next_partition(struct sb_list_offsets_topic *topic,
                                     struct sb_list_offsets_partition *out)
{
    return sb_wire_array_next(&topic->partition_cursor, list_offsets_partition_read, out);
}

static void
list_offsets_topic_read(struct sb_wire_reader *reader, void *element)
{
    struct sb_list_offsets_topic *topic = element;
    struct sb_list_offsets_partition scratch;
    sb_wire_read_string(reader, &topic->name);
    topic->partitions = NULL;
    sb_wire_read_array(reader, LIST_OFFSETS_PARTITION_BYTES_MIN, list_offsets_partition_read,
                       &scratch, &topic->partition_cursor);
    topic->partition_count = topic->partition_cursor.count;
}

static void
list_offsets_topic_write(struct sb_wire_writer *writer, const void *element)
{
    const struct sb_list_offsets_topic *topic = element;
    sb_wire_write_string(writer, topic->name);
    sb_wire_write_array(writer, topic->partitions, topic->partition_count,
                        sizeof(*topic->partitions), list_offsets_partition_write);
}

static void
list_offsets_partition_read(struct sb_wire_reader *reader, void *element)
{
    struct sb_list_offsets_partition *partition = element;
    partition->partition = sb_wire_read_i32(reader);
    partition->timestamp = sb_wire_read_i64(reader);
}

static void
list_offsets_partition_write(struct sb_wire_writer *writer, const void *element)
{
    const struct sb_list_offsets_partition *partition = element;
    sb_wire_write_i32(writer, partition->partition);
    sb_wire_write_i64(writer, partition->timestamp);
}

int
sb_list_offsets_response_encode(struct sb_wire_writer *writer,
                                const struct sb_list_offsets_response *response)
{
    sb_wire_write_array(writer, response->topics, response->topic_count,
                        sizeof(*response->topics), list_offsets_topic_response_write);
    return writer->error;
}

int
sb_list_offsets_response_decode(const uint8_t *body, size_t body_bytes,
                                struct sb_list_offsets_response *out)
{
    struct sb_wire_reader reader;
    struct sb_list_offsets_response response;
    struct sb_list_offsets_topic_response scratch;
    memset(&response, 0, sizeof(response));
    sb_wire_reader_init(&reader, body, body_bytes);
    sb_wire_read_array(&reader, TOPIC_BYTES_MIN, list_offsets_topic_response_read, &scratch,
                       &response.topic_cursor);
    response.topic_count = response.topic_cursor.count;
    int error = sb_wire_reader_finish(&reader);
    if (error == 0) {
        *out = response;
    }
    return error;
}

int
sb_list_offsets_response_next_topic(struct sb_list_offsets_response *response,
                                    struct sb_list_offsets_topic_response *out)
{
    return sb_wire_array_next(&response->topic_cursor, list_offsets_topic_response_read, out);
}

int
sb_list_offsets_topic_response_next_partition(struct sb_list_offsets_topic_response *topic,
                                              struct sb_list_offsets_partition_response *out)
{
    return sb_wire_array_next(&topic->partition_cursor, list_offsets_partition_response_read,
                              out);
}

static void
list_offsets_topic_response_read(struct sb_wire_reader *reader, void *element)
{
    struct sb_list_offsets_topic_response *topic = element;
    struct sb_list_offsets_partition_response scratch;
    sb_wire_read_string(reader, &topic->name);
    topic->partitions = NULL;
    sb_wire_read_array(reader, LIST_OFFSETS_PARTITION_RESPONSE_BYTES_MIN,
                       list_offsets_partition_response_read, &scratch,
                       &topic->partition_cursor);
    topic->partition_count = topic->partition_cursor.count;
}

static void
list_offsets_topic_response_write(struct sb_wire_writer *writer, const void *element)
{
    const struct sb_list_offsets_topic_response *topic = element;
    sb_wire_write_string(writer, topic->name);
    sb_wire_write_array(writer, topic->partitions, topic->partition_count,
                        sizeof(*topic->partitions), list_offsets_partition_response_write);
}

static void
list_offsets_partition_response_read(struct sb_wire_reader *reader, void *element)
{
    struct sb_list_offsets_partition_response *partition = element;
    partition->partition = sb_wire_read_i32(reader);
    partition->error_code = sb_wire_read_i16(reader);
    partition->timestamp = sb_wire_read_i64(reader);
    partition->offset = sb_wire_read_i64(reader);
}

static void
list_offsets_partition_response_write(struct sb_wire_writer *writer, const void *element)
{
    const struct sb_list_offsets_partition_response *partition = element;
    sb_wire_write_i32(writer, partition->partition);
    sb_wire_write_i16(writer, partition->error_code);
    sb_wire_write_i64(writer, partition->timestamp);
    sb_wire_write_i64(writer, partition->offset);
}
