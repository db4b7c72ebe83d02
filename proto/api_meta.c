/*
 * proto/api_meta.c - ApiVersions, Metadata and Health bodies (api_meta.h;
 * layouts in docs/protocol.md).
 *
 * Every array element has one _read and one _write helper with the generic
 * signatures of sb_wire_read_array / sb_wire_write_array; a decoder is the
 * body's fields in order, then sb_wire_reader_finish. Reading the same
 * helpers top to bottom against the tables in docs/protocol.md is the review.
 *
 * The *_BYTES_MIN constants are the smallest encoding of one element (every
 * string empty, every array empty): they bound untrusted counts.
 */
#include "proto/api_meta.h"

#include <string.h>

#include "core/error.h"

#define API_RANGE_BYTES_MIN 6        /* api_key, min_version, max_version. */
#define TOPIC_NAME_BYTES_MIN 2       /* An empty string. */
#define METADATA_SHARD_BYTES_MIN 8   /* shard_id, port. */
#define METADATA_BROKER_BYTES_MIN 14 /* node_id, host "", port, shards []. */
#define METADATA_PARTITION_BYTES_MIN 14 /* partition, leader, shard, error_code. */
#define METADATA_TOPIC_BYTES_MIN 12  /* error_code, name "", topic_id, partitions []. */
#define HEALTH_SHARD_BYTES_MIN 13    /* shard_id, status, connections, partitions. */

static void api_range_read(struct sb_wire_reader *reader, void *element);
static void api_range_write(struct sb_wire_writer *writer, const void *element);
static void topic_name_read(struct sb_wire_reader *reader, void *element);
static void topic_name_write(struct sb_wire_writer *writer, const void *element);
static void metadata_broker_read(struct sb_wire_reader *reader, void *element);
static void metadata_broker_write(struct sb_wire_writer *writer, const void *element);
static void metadata_shard_read(struct sb_wire_reader *reader, void *element);
static void metadata_shard_write(struct sb_wire_writer *writer, const void *element);
static void metadata_topic_read(struct sb_wire_reader *reader, void *element);
static void metadata_topic_write(struct sb_wire_writer *writer, const void *element);
static void metadata_partition_read(struct sb_wire_reader *reader, void *element);
static void metadata_partition_write(struct sb_wire_writer *writer, const void *element);
static void health_shard_read(struct sb_wire_reader *reader, void *element);
static void health_shard_write(struct sb_wire_writer *writer, const void *element);

int
sb_api_versions_request_encode(struct sb_wire_writer *writer)
{
    return writer->error;
}

int
sb_api_versions_request_decode(const uint8_t *body, size_t body_bytes)
{
    return body_bytes == 0 ? 0 : SB_ECORRUPT;
}

int
sb_api_versions_response_encode(struct sb_wire_writer *writer,
                                const struct sb_api_versions_response *response)
{
    sb_wire_write_array(writer, response->apis, response->api_count, sizeof(*response->apis),
                        api_range_write);
    sb_wire_write_string(writer, response->broker_version);
    sb_wire_write_u32(writer, response->frame_bytes_max);
    sb_wire_write_u32(writer, response->batch_bytes_max);
    return writer->error;
}

int
sb_api_versions_response_decode(const uint8_t *body, size_t body_bytes,
                                struct sb_api_versions_response *out)
{
    struct sb_wire_reader reader;
    struct sb_api_versions_response response;
    struct sb_api_version_range scratch;
    memset(&response, 0, sizeof(response));
    sb_wire_reader_init(&reader, body, body_bytes);
    sb_wire_read_array(&reader, API_RANGE_BYTES_MIN, api_range_read, &scratch,
                       &response.api_cursor);
    response.api_count = response.api_cursor.count;
    sb_wire_read_string(&reader, &response.broker_version);
    response.frame_bytes_max = sb_wire_read_u32(&reader);
    response.batch_bytes_max = sb_wire_read_u32(&reader);
    int error = sb_wire_reader_finish(&reader);
    if (error == 0) {
        *out = response;
    }
    return error;
}

int
sb_api_versions_response_next_api(struct sb_api_versions_response *response,
                                  struct sb_api_version_range *out)
{
    return sb_wire_array_next(&response->api_cursor, api_range_read, out);
}

static void
api_range_read(struct sb_wire_reader *reader, void *element)
{
    struct sb_api_version_range *range = element;
    range->api_key = sb_wire_read_u16(reader);
    range->min_version = sb_wire_read_u16(reader);
    range->max_version = sb_wire_read_u16(reader);
}

static void
api_range_write(struct sb_wire_writer *writer, const void *element)
{
    const struct sb_api_version_range *range = element;
    sb_wire_write_u16(writer, range->api_key);
    sb_wire_write_u16(writer, range->min_version);
    sb_wire_write_u16(writer, range->max_version);
}

int
sb_metadata_request_encode(struct sb_wire_writer *writer,
                           const struct sb_metadata_request *request)
{
    if (request->all_topics) {
        sb_wire_write_array_null(writer);
        return writer->error;
    }
    sb_wire_write_array(writer, request->topics, request->topic_count,
                        sizeof(*request->topics), topic_name_write);
    return writer->error;
}

int
sb_metadata_request_decode(const uint8_t *body, size_t body_bytes,
                           struct sb_metadata_request *out)
{
    struct sb_wire_reader reader;
    struct sb_metadata_request request;
    struct sb_wire_string scratch;
    memset(&request, 0, sizeof(request));
    sb_wire_reader_init(&reader, body, body_bytes);
    request.all_topics = sb_wire_read_array_nullable(&reader, TOPIC_NAME_BYTES_MIN,
                                                     topic_name_read, &scratch,
                                                     &request.topic_cursor);
    request.topic_count = request.topic_cursor.count;
    int error = sb_wire_reader_finish(&reader);
    if (error == 0) {
        *out = request;
    }
    return error;
}

int
sb_metadata_request_next_topic(struct sb_metadata_request *request,
                               struct sb_wire_string *out)
{
    return sb_wire_array_next(&request->topic_cursor, topic_name_read, out);
}

static void
topic_name_read(struct sb_wire_reader *reader, void *element)
{
    sb_wire_read_string(reader, element);
}

static void
topic_name_write(struct sb_wire_writer *writer, const void *element)
{
    const struct sb_wire_string *name = element;
    sb_wire_write_string(writer, *name);
}

int
sb_metadata_response_encode(struct sb_wire_writer *writer,
                            const struct sb_metadata_response *response)
{
    sb_wire_write_array(writer, response->brokers, response->broker_count,
                        sizeof(*response->brokers), metadata_broker_write);
    sb_wire_write_array(writer, response->topics, response->topic_count,
                        sizeof(*response->topics), metadata_topic_write);
    return writer->error;
}

int
sb_metadata_response_decode(const uint8_t *body, size_t body_bytes,
                            struct sb_metadata_response *out)
{
    struct sb_wire_reader reader;
    struct sb_metadata_response response;
    struct sb_metadata_broker broker_scratch;
    struct sb_metadata_topic topic_scratch;
    memset(&response, 0, sizeof(response));
    sb_wire_reader_init(&reader, body, body_bytes);
    sb_wire_read_array(&reader, METADATA_BROKER_BYTES_MIN, metadata_broker_read,
                       &broker_scratch, &response.broker_cursor);
    response.broker_count = response.broker_cursor.count;
    sb_wire_read_array(&reader, METADATA_TOPIC_BYTES_MIN, metadata_topic_read, &topic_scratch,
                       &response.topic_cursor);
    response.topic_count = response.topic_cursor.count;
    int error = sb_wire_reader_finish(&reader);
    if (error == 0) {
        *out = response;
    }
    return error;
}

int
sb_metadata_response_next_broker(struct sb_metadata_response *response,
                                 struct sb_metadata_broker *out)
{
    return sb_wire_array_next(&response->broker_cursor, metadata_broker_read, out);
}

int
sb_metadata_broker_next_shard(struct sb_metadata_broker *broker, struct sb_metadata_shard *out)
{
    return sb_wire_array_next(&broker->shard_cursor, metadata_shard_read, out);
}

int
sb_metadata_response_next_topic(struct sb_metadata_response *response,
                                struct sb_metadata_topic *out)
{
    return sb_wire_array_next(&response->topic_cursor, metadata_topic_read, out);
}

int
sb_metadata_topic_next_partition(struct sb_metadata_topic *topic,
                                 struct sb_metadata_partition *out)
{
    return sb_wire_array_next(&topic->partition_cursor, metadata_partition_read, out);
}

static void
metadata_broker_read(struct sb_wire_reader *reader, void *element)
{
    struct sb_metadata_broker *broker = element;
    struct sb_metadata_shard scratch;
    broker->node_id = sb_wire_read_i32(reader);
    sb_wire_read_string(reader, &broker->host);
    broker->port = sb_wire_read_i32(reader);
    broker->shards = NULL;
    sb_wire_read_array(reader, METADATA_SHARD_BYTES_MIN, metadata_shard_read, &scratch,
                       &broker->shard_cursor);
    broker->shard_count = broker->shard_cursor.count;
}

static void
metadata_broker_write(struct sb_wire_writer *writer, const void *element)
{
    const struct sb_metadata_broker *broker = element;
    sb_wire_write_i32(writer, broker->node_id);
    sb_wire_write_string(writer, broker->host);
    sb_wire_write_i32(writer, broker->port);
    sb_wire_write_array(writer, broker->shards, broker->shard_count, sizeof(*broker->shards),
                        metadata_shard_write);
}

static void
metadata_shard_read(struct sb_wire_reader *reader, void *element)
{
    struct sb_metadata_shard *shard = element;
    shard->shard_id = sb_wire_read_i32(reader);
    shard->port = sb_wire_read_i32(reader);
}

static void
metadata_shard_write(struct sb_wire_writer *writer, const void *element)
{
    const struct sb_metadata_shard *shard = element;
    sb_wire_write_i32(writer, shard->shard_id);
    sb_wire_write_i32(writer, shard->port);
}

static void
metadata_topic_read(struct sb_wire_reader *reader, void *element)
{
    struct sb_metadata_topic *topic = element;
    struct sb_metadata_partition scratch;
    topic->error_code = sb_wire_read_i16(reader);
    sb_wire_read_string(reader, &topic->name);
    topic->topic_id = sb_wire_read_u32(reader);
    topic->partitions = NULL;
    sb_wire_read_array(reader, METADATA_PARTITION_BYTES_MIN, metadata_partition_read, &scratch,
                       &topic->partition_cursor);
    topic->partition_count = topic->partition_cursor.count;
}

static void
metadata_topic_write(struct sb_wire_writer *writer, const void *element)
{
    const struct sb_metadata_topic *topic = element;
    sb_wire_write_i16(writer, topic->error_code);
    sb_wire_write_string(writer, topic->name);
    sb_wire_write_u32(writer, topic->topic_id);
    sb_wire_write_array(writer, topic->partitions, topic->partition_count,
                        sizeof(*topic->partitions), metadata_partition_write);
}

static void
metadata_partition_read(struct sb_wire_reader *reader, void *element)
{
    struct sb_metadata_partition *partition = element;
    partition->partition = sb_wire_read_i32(reader);
    partition->leader = sb_wire_read_i32(reader);
    partition->shard = sb_wire_read_i32(reader);
    partition->error_code = sb_wire_read_i16(reader);
}

static void
metadata_partition_write(struct sb_wire_writer *writer, const void *element)
{
    const struct sb_metadata_partition *partition = element;
    sb_wire_write_i32(writer, partition->partition);
    sb_wire_write_i32(writer, partition->leader);
    sb_wire_write_i32(writer, partition->shard);
    sb_wire_write_i16(writer, partition->error_code);
}

int
sb_health_request_encode(struct sb_wire_writer *writer)
{
    return writer->error;
}

int
sb_health_request_decode(const uint8_t *body, size_t body_bytes)
{
    return body_bytes == 0 ? 0 : SB_ECORRUPT;
}

int
sb_health_response_encode(struct sb_wire_writer *writer,
                          const struct sb_health_response *response)
{
    sb_wire_write_i8(writer, response->status);
    sb_wire_write_i32(writer, response->node_id);
    sb_wire_write_i64(writer, response->uptime_ms);
    sb_wire_write_array(writer, response->shards, response->shard_count,
                        sizeof(*response->shards), health_shard_write);
    return writer->error;
}

int
sb_health_response_decode(const uint8_t *body, size_t body_bytes,
                          struct sb_health_response *out)
{
    struct sb_wire_reader reader;
    struct sb_health_response response;
    struct sb_health_shard scratch;
    memset(&response, 0, sizeof(response));
    sb_wire_reader_init(&reader, body, body_bytes);
    response.status = sb_wire_read_i8(&reader);
    response.node_id = sb_wire_read_i32(&reader);
    response.uptime_ms = sb_wire_read_i64(&reader);
    sb_wire_read_array(&reader, HEALTH_SHARD_BYTES_MIN, health_shard_read, &scratch,
                       &response.shard_cursor);
    response.shard_count = response.shard_cursor.count;
    int error = sb_wire_reader_finish(&reader);
    if (error == 0) {
        *out = response;
    }
    return error;
}

int
sb_health_response_next_shard(struct sb_health_response *response, struct sb_health_shard *out)
{
    return sb_wire_array_next(&response->shard_cursor, health_shard_read, out);
}

static void
health_shard_read(struct sb_wire_reader *reader, void *element)
{
    struct sb_health_shard *shard = element;
    shard->shard_id = sb_wire_read_i32(reader);
    shard->status = sb_wire_read_i8(reader);
    shard->connections = sb_wire_read_i32(reader);
    shard->partitions = sb_wire_read_i32(reader);
}

static void
health_shard_write(struct sb_wire_writer *writer, const void *element)
{
    const struct sb_health_shard *shard = element;
    sb_wire_write_i32(writer, shard->shard_id);
    sb_wire_write_i8(writer, shard->status);
    sb_wire_write_i32(writer, shard->connections);
    sb_wire_write_i32(writer, shard->partitions);
}
