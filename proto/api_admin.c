/*
 * proto/api_admin.c - topic administration bodies (api_admin.h; layouts in
 * docs/protocol.md): CreateTopics, DeleteTopics, ListTopics, DescribeTopic,
 * AlterTopicConfig, in that order, after the topic name check. Built like
 * api_meta.c: one _read and one _write helper per array element, decoders
 * in field order ending with sb_wire_reader_finish.
 *
 * Config entries come in two layouts: {key, value?} in CreateTopics and
 * AlterTopicConfig (config_read/_write), and {key, value?, is_default} in
 * DescribeTopic (described_config_read/_write); both fill struct
 * sb_topic_config.
 */
#include "proto/api_admin.h"

#include <string.h>

#include "core/error.h"
#include "core/limits.h"

#define TOPIC_NAME_BYTES_MIN 2           /* An empty string. */
#define CONFIG_BYTES_MIN 4               /* key "", value "" or null. */
#define DESCRIBED_CONFIG_BYTES_MIN 5     /* key, value, is_default. */
#define CREATE_TOPIC_BYTES_MIN 12        /* name, partitions, replication, configs []. */
#define CREATE_TOPIC_RESULT_BYTES_MIN 10 /* name, topic_id, error_code, message. */
#define DELETE_TOPIC_RESULT_BYTES_MIN 4  /* name, error_code. */
#define LIST_TOPICS_ENTRY_BYTES_MIN 11   /* name, topic_id, partition_count, internal. */
#define DESCRIBE_PARTITION_BYTES_MIN 36  /* 3 x int32 + 3 x int64. */

static bool topic_name_byte_is_valid(char byte);
static void config_read(struct sb_wire_reader *reader, void *element);
static void config_write(struct sb_wire_writer *writer, const void *element);
static void described_config_read(struct sb_wire_reader *reader, void *element);
static void described_config_write(struct sb_wire_writer *writer, const void *element);
static void create_topic_read(struct sb_wire_reader *reader, void *element);
static void create_topic_write(struct sb_wire_writer *writer, const void *element);
static void create_topic_result_read(struct sb_wire_reader *reader, void *element);
static void create_topic_result_write(struct sb_wire_writer *writer, const void *element);
static void topic_name_read(struct sb_wire_reader *reader, void *element);
static void topic_name_write(struct sb_wire_writer *writer, const void *element);
static void delete_topic_result_read(struct sb_wire_reader *reader, void *element);
static void delete_topic_result_write(struct sb_wire_writer *writer, const void *element);
static void list_topics_entry_read(struct sb_wire_reader *reader, void *element);
static void list_topics_entry_write(struct sb_wire_writer *writer, const void *element);
static void describe_partition_read(struct sb_wire_reader *reader, void *element);
static void describe_partition_write(struct sb_wire_writer *writer, const void *element);

bool
sb_topic_name_is_valid(struct sb_wire_string name)
{
    if (name.chars == NULL || name.length == 0 || name.length > SB_WIRE_TOPIC_NAME_BYTES_MAX) {
        return false;
    }
    if (sb_wire_string_equals(name, ".") || sb_wire_string_equals(name, "..")) {
        return false;
    }
    for (uint16_t i = 0; i < name.length; i++) {
        if (!topic_name_byte_is_valid(name.chars[i])) {
            return false;
        }
    }
    return true;
}

static bool
topic_name_byte_is_valid(char byte)
{
    return (byte >= 'a' && byte <= 'z') || (byte >= 'A' && byte <= 'Z') ||
           (byte >= '0' && byte <= '9') || byte == '.' || byte == '_' || byte == '-';
}

static void
config_read(struct sb_wire_reader *reader, void *element)
{
    struct sb_topic_config *config = element;
    sb_wire_read_string(reader, &config->key);
    sb_wire_read_string_nullable(reader, &config->value);
    config->is_default = 0;
}

static void
config_write(struct sb_wire_writer *writer, const void *element)
{
    const struct sb_topic_config *config = element;
    sb_wire_write_string(writer, config->key);
    sb_wire_write_string_nullable(writer, config->value);
}

static void
described_config_read(struct sb_wire_reader *reader, void *element)
{
    struct sb_topic_config *config = element;
    sb_wire_read_string(reader, &config->key);
    sb_wire_read_string_nullable(reader, &config->value);
    config->is_default = sb_wire_read_i8(reader);
}

static void
described_config_write(struct sb_wire_writer *writer, const void *element)
{
    const struct sb_topic_config *config = element;
    sb_wire_write_string(writer, config->key);
    sb_wire_write_string_nullable(writer, config->value);
    sb_wire_write_i8(writer, config->is_default);
}

int
sb_create_topics_request_encode(struct sb_wire_writer *writer,
                                const struct sb_create_topics_request *request)
{
    sb_wire_write_array(writer, request->topics, request->topic_count,
                        sizeof(*request->topics), create_topic_write);
    sb_wire_write_i32(writer, request->timeout_ms);
    sb_wire_write_i8(writer, request->validate_only);
    return writer->error;
}

int
sb_create_topics_request_decode(const uint8_t *body, size_t body_bytes,
                                struct sb_create_topics_request *out)
{
    struct sb_wire_reader reader;
    struct sb_create_topics_request request;
    struct sb_create_topic scratch;
    memset(&request, 0, sizeof(request));
    sb_wire_reader_init(&reader, body, body_bytes);
    sb_wire_read_array(&reader, CREATE_TOPIC_BYTES_MIN, create_topic_read, &scratch,
                       &request.topic_cursor);
    request.topic_count = request.topic_cursor.count;
    request.timeout_ms = sb_wire_read_i32(&reader);
    request.validate_only = sb_wire_read_i8(&reader);
    int error = sb_wire_reader_finish(&reader);
    if (error == 0) {
        *out = request;
    }
    return error;
}

int
sb_create_topics_request_next_topic(struct sb_create_topics_request *request,
                                    struct sb_create_topic *out)
{
    return sb_wire_array_next(&request->topic_cursor, create_topic_read, out);
}

int
sb_create_topic_next_config(struct sb_create_topic *topic, struct sb_topic_config *out)
{
    return sb_wire_array_next(&topic->config_cursor, config_read, out);
}

static void
create_topic_read(struct sb_wire_reader *reader, void *element)
{
    struct sb_create_topic *topic = element;
    struct sb_topic_config scratch;
    sb_wire_read_string(reader, &topic->name);
    topic->partition_count = sb_wire_read_i32(reader);
    topic->replication_factor = sb_wire_read_i16(reader);
    topic->configs = NULL;
    sb_wire_read_array(reader, CONFIG_BYTES_MIN, config_read, &scratch, &topic->config_cursor);
    topic->config_count = topic->config_cursor.count;
}

static void
create_topic_write(struct sb_wire_writer *writer, const void *element)
{
    const struct sb_create_topic *topic = element;
    sb_wire_write_string(writer, topic->name);
    sb_wire_write_i32(writer, topic->partition_count);
    sb_wire_write_i16(writer, topic->replication_factor);
    sb_wire_write_array(writer, topic->configs, topic->config_count, sizeof(*topic->configs),
                        config_write);
}

int
sb_create_topics_response_encode(struct sb_wire_writer *writer,
                                 const struct sb_create_topics_response *response)
{
    sb_wire_write_array(writer, response->topics, response->topic_count,
                        sizeof(*response->topics), create_topic_result_write);
    return writer->error;
}

int
sb_create_topics_response_decode(const uint8_t *body, size_t body_bytes,
                                 struct sb_create_topics_response *out)
{
    struct sb_wire_reader reader;
    struct sb_create_topics_response response;
    struct sb_create_topic_result scratch;
    memset(&response, 0, sizeof(response));
    sb_wire_reader_init(&reader, body, body_bytes);
    sb_wire_read_array(&reader, CREATE_TOPIC_RESULT_BYTES_MIN, create_topic_result_read,
                       &scratch, &response.topic_cursor);
    response.topic_count = response.topic_cursor.count;
    int error = sb_wire_reader_finish(&reader);
    if (error == 0) {
        *out = response;
    }
    return error;
}

int
sb_create_topics_response_next_topic(struct sb_create_topics_response *response,
                                     struct sb_create_topic_result *out)
{
    return sb_wire_array_next(&response->topic_cursor, create_topic_result_read, out);
}

static void
create_topic_result_read(struct sb_wire_reader *reader, void *element)
{
    struct sb_create_topic_result *result = element;
    sb_wire_read_string(reader, &result->name);
    result->topic_id = sb_wire_read_u32(reader);
    result->error_code = sb_wire_read_i16(reader);
    sb_wire_read_string_nullable(reader, &result->error_message);
}

static void
create_topic_result_write(struct sb_wire_writer *writer, const void *element)
{
    const struct sb_create_topic_result *result = element;
    sb_wire_write_string(writer, result->name);
    sb_wire_write_u32(writer, result->topic_id);
    sb_wire_write_i16(writer, result->error_code);
    sb_wire_write_string_nullable(writer, result->error_message);
}

int
sb_delete_topics_request_encode(struct sb_wire_writer *writer,
                                const struct sb_delete_topics_request *request)
{
    sb_wire_write_array(writer, request->names, request->name_count, sizeof(*request->names),
                        topic_name_write);
    sb_wire_write_i32(writer, request->timeout_ms);
    return writer->error;
}

int
sb_delete_topics_request_decode(const uint8_t *body, size_t body_bytes,
                                struct sb_delete_topics_request *out)
{
    struct sb_wire_reader reader;
    struct sb_delete_topics_request request;
    struct sb_wire_string scratch;
    memset(&request, 0, sizeof(request));
    sb_wire_reader_init(&reader, body, body_bytes);
    sb_wire_read_array(&reader, TOPIC_NAME_BYTES_MIN, topic_name_read, &scratch,
                       &request.name_cursor);
    request.name_count = request.name_cursor.count;
    request.timeout_ms = sb_wire_read_i32(&reader);
    int error = sb_wire_reader_finish(&reader);
    if (error == 0) {
        *out = request;
    }
    return error;
}

int
sb_delete_topics_request_next_name(struct sb_delete_topics_request *request,
                                   struct sb_wire_string *out)
{
    return sb_wire_array_next(&request->name_cursor, topic_name_read, out);
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
sb_delete_topics_response_encode(struct sb_wire_writer *writer,
                                 const struct sb_delete_topics_response *response)
{
    sb_wire_write_array(writer, response->topics, response->topic_count,
                        sizeof(*response->topics), delete_topic_result_write);
    return writer->error;
}

int
sb_delete_topics_response_decode(const uint8_t *body, size_t body_bytes,
                                 struct sb_delete_topics_response *out)
{
    struct sb_wire_reader reader;
    struct sb_delete_topics_response response;
    struct sb_delete_topic_result scratch;
    memset(&response, 0, sizeof(response));
    sb_wire_reader_init(&reader, body, body_bytes);
    sb_wire_read_array(&reader, DELETE_TOPIC_RESULT_BYTES_MIN, delete_topic_result_read,
                       &scratch, &response.topic_cursor);
    response.topic_count = response.topic_cursor.count;
    int error = sb_wire_reader_finish(&reader);
    if (error == 0) {
        *out = response;
    }
    return error;
}

int
sb_delete_topics_response_next_topic(struct sb_delete_topics_response *response,
                                     struct sb_delete_topic_result *out)
{
    return sb_wire_array_next(&response->topic_cursor, delete_topic_result_read, out);
}

static void
delete_topic_result_read(struct sb_wire_reader *reader, void *element)
{
    struct sb_delete_topic_result *result = element;
    sb_wire_read_string(reader, &result->name);
    result->error_code = sb_wire_read_i16(reader);
}

static void
delete_topic_result_write(struct sb_wire_writer *writer, const void *element)
{
    const struct sb_delete_topic_result *result = element;
    sb_wire_write_string(writer, result->name);
    sb_wire_write_i16(writer, result->error_code);
}

int
sb_list_topics_request_encode(struct sb_wire_writer *writer,
                              const struct sb_list_topics_request *request)
{
    sb_wire_write_string(writer, request->prefix);
    return writer->error;
}

int
sb_list_topics_request_decode(const uint8_t *body, size_t body_bytes,
                              struct sb_list_topics_request *out)
{
    struct sb_wire_reader reader;
    struct sb_list_topics_request request;
    sb_wire_reader_init(&reader, body, body_bytes);
    sb_wire_read_string(&reader, &request.prefix);
    int error = sb_wire_reader_finish(&reader);
    if (error == 0) {
        *out = request;
    }
    return error;
}

int
sb_list_topics_response_encode(struct sb_wire_writer *writer,
                               const struct sb_list_topics_response *response)
{
    sb_wire_write_array(writer, response->topics, response->topic_count,
                        sizeof(*response->topics), list_topics_entry_write);
    return writer->error;
}

int
sb_list_topics_response_decode(const uint8_t *body, size_t body_bytes,
                               struct sb_list_topics_response *out)
{
    struct sb_wire_reader reader;
    struct sb_list_topics_response response;
    struct sb_list_topics_entry scratch;
    memset(&response, 0, sizeof(response));
    sb_wire_reader_init(&reader, body, body_bytes);
    sb_wire_read_array(&reader, LIST_TOPICS_ENTRY_BYTES_MIN, list_topics_entry_read, &scratch,
                       &response.topic_cursor);
    response.topic_count = response.topic_cursor.count;
    int error = sb_wire_reader_finish(&reader);
    if (error == 0) {
        *out = response;
    }
    return error;
}

int
sb_list_topics_response_next_topic(struct sb_list_topics_response *response,
                                   struct sb_list_topics_entry *out)
{
    return sb_wire_array_next(&response->topic_cursor, list_topics_entry_read, out);
}

static void
list_topics_entry_read(struct sb_wire_reader *reader, void *element)
{
    struct sb_list_topics_entry *entry = element;
    sb_wire_read_string(reader, &entry->name);
    entry->topic_id = sb_wire_read_u32(reader);
    entry->partition_count = sb_wire_read_i32(reader);
    entry->internal = sb_wire_read_i8(reader);
}

static void
list_topics_entry_write(struct sb_wire_writer *writer, const void *element)
{
    const struct sb_list_topics_entry *entry = element;
    sb_wire_write_string(writer, entry->name);
    sb_wire_write_u32(writer, entry->topic_id);
    sb_wire_write_i32(writer, entry->partition_count);
    sb_wire_write_i8(writer, entry->internal);
}

int
sb_describe_topic_request_encode(struct sb_wire_writer *writer,
                                 const struct sb_describe_topic_request *request)
{
    sb_wire_write_string(writer, request->name);
    return writer->error;
}

int
sb_describe_topic_request_decode(const uint8_t *body, size_t body_bytes,
                                 struct sb_describe_topic_request *out)
{
    struct sb_wire_reader reader;
    struct sb_describe_topic_request request;
    sb_wire_reader_init(&reader, body, body_bytes);
    sb_wire_read_string(&reader, &request.name);
    int error = sb_wire_reader_finish(&reader);
    if (error == 0) {
        *out = request;
    }
    return error;
}

int
sb_describe_topic_response_encode(struct sb_wire_writer *writer,
                                  const struct sb_describe_topic_response *response)
{
    sb_wire_write_i16(writer, response->error_code);
    sb_wire_write_string(writer, response->name);
    sb_wire_write_u32(writer, response->topic_id);
    sb_wire_write_array(writer, response->partitions, response->partition_count,
                        sizeof(*response->partitions), describe_partition_write);
    sb_wire_write_array(writer, response->configs, response->config_count,
                        sizeof(*response->configs), described_config_write);
    return writer->error;
}

int
sb_describe_topic_response_decode(const uint8_t *body, size_t body_bytes,
                                  struct sb_describe_topic_response *out)
{
    struct sb_wire_reader reader;
    struct sb_describe_topic_response response;
    struct sb_describe_topic_partition partition_scratch;
    struct sb_topic_config config_scratch;
    memset(&response, 0, sizeof(response));
    sb_wire_reader_init(&reader, body, body_bytes);
    response.error_code = sb_wire_read_i16(&reader);
    sb_wire_read_string(&reader, &response.name);
    response.topic_id = sb_wire_read_u32(&reader);
    sb_wire_read_array(&reader, DESCRIBE_PARTITION_BYTES_MIN, describe_partition_read,
                       &partition_scratch, &response.partition_cursor);
    response.partition_count = response.partition_cursor.count;
    sb_wire_read_array(&reader, DESCRIBED_CONFIG_BYTES_MIN, described_config_read,
                       &config_scratch, &response.config_cursor);
    response.config_count = response.config_cursor.count;
    int error = sb_wire_reader_finish(&reader);
    if (error == 0) {
        *out = response;
    }
    return error;
}

int
sb_describe_topic_response_next_partition(struct sb_describe_topic_response *response,
                                          struct sb_describe_topic_partition *out)
{
    return sb_wire_array_next(&response->partition_cursor, describe_partition_read, out);
}

int
sb_describe_topic_response_next_config(struct sb_describe_topic_response *response,
                                       struct sb_topic_config *out)
{
    return sb_wire_array_next(&response->config_cursor, described_config_read, out);
}

static void
describe_partition_read(struct sb_wire_reader *reader, void *element)
{
    struct sb_describe_topic_partition *partition = element;
    partition->partition = sb_wire_read_i32(reader);
    partition->leader = sb_wire_read_i32(reader);
    partition->shard = sb_wire_read_i32(reader);
    partition->log_start_offset = sb_wire_read_i64(reader);
    partition->high_watermark = sb_wire_read_i64(reader);
    partition->log_end_offset = sb_wire_read_i64(reader);
}

static void
describe_partition_write(struct sb_wire_writer *writer, const void *element)
{
    const struct sb_describe_topic_partition *partition = element;
    sb_wire_write_i32(writer, partition->partition);
    sb_wire_write_i32(writer, partition->leader);
    sb_wire_write_i32(writer, partition->shard);
    sb_wire_write_i64(writer, partition->log_start_offset);
    sb_wire_write_i64(writer, partition->high_watermark);
    sb_wire_write_i64(writer, partition->log_end_offset);
}

int
sb_alter_topic_config_request_encode(struct sb_wire_writer *writer,
                                     const struct sb_alter_topic_config_request *request)
{
    sb_wire_write_string(writer, request->name);
    sb_wire_write_i32(writer, request->partition_count);
    sb_wire_write_array(writer, request->configs, request->config_count,
                        sizeof(*request->configs), config_write);
    sb_wire_write_i8(writer, request->validate_only);
    return writer->error;
}

int
sb_alter_topic_config_request_decode(const uint8_t *body, size_t body_bytes,
                                     struct sb_alter_topic_config_request *out)
{
    struct sb_wire_reader reader;
    struct sb_alter_topic_config_request request;
    struct sb_topic_config scratch;
    memset(&request, 0, sizeof(request));
    sb_wire_reader_init(&reader, body, body_bytes);
    sb_wire_read_string(&reader, &request.name);
    request.partition_count = sb_wire_read_i32(&reader);
    sb_wire_read_array(&reader, CONFIG_BYTES_MIN, config_read, &scratch,
                       &request.config_cursor);
    request.config_count = request.config_cursor.count;
    request.validate_only = sb_wire_read_i8(&reader);
    int error = sb_wire_reader_finish(&reader);
    if (error == 0) {
        *out = request;
    }
    return error;
}

int
sb_alter_topic_config_request_next_config(struct sb_alter_topic_config_request *request,
                                          struct sb_topic_config *out)
{
    return sb_wire_array_next(&request->config_cursor, config_read, out);
}

int
sb_alter_topic_config_response_encode(struct sb_wire_writer *writer,
                                      const struct sb_alter_topic_config_response *response)
{
    sb_wire_write_i16(writer, response->error_code);
    sb_wire_write_string_nullable(writer, response->error_message);
    return writer->error;
}

int
sb_alter_topic_config_response_decode(const uint8_t *body, size_t body_bytes,
                                      struct sb_alter_topic_config_response *out)
{
    struct sb_wire_reader reader;
    struct sb_alter_topic_config_response response;
    sb_wire_reader_init(&reader, body, body_bytes);
    response.error_code = sb_wire_read_i16(&reader);
    sb_wire_read_string_nullable(&reader, &response.error_message);
    int error = sb_wire_reader_finish(&reader);
    if (error == 0) {
        *out = response;
    }
    return error;
}
