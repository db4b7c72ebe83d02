/*
 * proto/api_group.c - the consumer group bodies (api_group.h; layouts in
 * docs/protocol.md "Consumer group APIs"): the id checks, then OffsetCommit
 * and AlterGroupOffsets (one topic layout, one response layout), OffsetFetch,
 * the topic-partition set, GroupHeartbeat, ListGroups, DescribeGroup and
 * DeleteGroup (whose request is DescribeGroup's). Built like api_admin.c: one
 * _read and one _write helper per array element, decoders in field order
 * ending with sb_wire_reader_finish.
 *
 * Committed offsets come in two layouts: with a per-partition error code in
 * OffsetFetch (fetched_*), without one in DescribeGroup (described_*); both
 * fill struct sb_group_offset through group_offset_read/_write.
 */
#include "proto/api_group.h"

#include <string.h>

#include "core/error.h"
#include "core/limits.h"

#define STRING_BYTES_MIN 2                /* An empty string. */
#define INT32_BYTES 4                     /* One int32. */
#define INT8_BYTES 1                      /* One int8. */
#define COMMIT_TOPIC_BYTES_MIN 6          /* name, partitions []. */
#define COMMIT_PARTITION_BYTES_MIN 14     /* partition, offset, metadata "". */
#define COMMIT_RESULT_BYTES_MIN 6         /* partition, error_code. */
#define OFFSET_TOPIC_BYTES_MIN 6          /* name, partitions []. */
#define FETCHED_OFFSET_BYTES_MIN 24       /* partition, offset, metadata, time, error. */
#define DESCRIBED_OFFSET_BYTES_MIN 22     /* partition, offset, metadata, time. */
#define TPSET_BYTES_MIN 8                 /* topic_id, partitions []. */
#define LIST_GROUPS_ENTRY_BYTES_MIN 7     /* group_id, state, member_count. */
#define MEMBER_BYTES_MIN 22               /* ids, epoch, names [], regex, two sets []. */

static bool printable_id_is_valid(struct sb_wire_string id, uint16_t bytes_max);
static void string_read(struct sb_wire_reader *reader, void *element);
static void string_write(struct sb_wire_writer *writer, const void *element);
static void i32_read(struct sb_wire_reader *reader, void *element);
static void i32_write(struct sb_wire_writer *writer, const void *element);
static void i8_read(struct sb_wire_reader *reader, void *element);
static void i8_write(struct sb_wire_writer *writer, const void *element);
static void commit_topic_read(struct sb_wire_reader *reader, void *element);
static void commit_topic_write(struct sb_wire_writer *writer, const void *element);
static void commit_partition_read(struct sb_wire_reader *reader, void *element);
static void commit_partition_write(struct sb_wire_writer *writer, const void *element);
static void commit_result_topic_read(struct sb_wire_reader *reader, void *element);
static void commit_result_topic_write(struct sb_wire_writer *writer, const void *element);
static void commit_result_read(struct sb_wire_reader *reader, void *element);
static void commit_result_write(struct sb_wire_writer *writer, const void *element);
static void fetch_topic_read(struct sb_wire_reader *reader, void *element);
static void fetch_topic_write(struct sb_wire_writer *writer, const void *element);
static void group_offset_read(struct sb_wire_reader *reader, struct sb_group_offset *offset,
                              bool with_error);
static void group_offset_write(struct sb_wire_writer *writer,
                               const struct sb_group_offset *offset, bool with_error);
static void fetched_offset_read(struct sb_wire_reader *reader, void *element);
static void fetched_offset_write(struct sb_wire_writer *writer, const void *element);
static void described_offset_read(struct sb_wire_reader *reader, void *element);
static void described_offset_write(struct sb_wire_writer *writer, const void *element);
static void fetched_topic_read(struct sb_wire_reader *reader, void *element);
static void fetched_topic_write(struct sb_wire_writer *writer, const void *element);
static void described_topic_read(struct sb_wire_reader *reader, void *element);
static void described_topic_write(struct sb_wire_writer *writer, const void *element);
static void tpset_read(struct sb_wire_reader *reader, void *element);
static void tpset_write(struct sb_wire_writer *writer, const void *element);
static void list_groups_entry_read(struct sb_wire_reader *reader, void *element);
static void list_groups_entry_write(struct sb_wire_writer *writer, const void *element);
static void member_read(struct sb_wire_reader *reader, void *element);
static void member_write(struct sb_wire_writer *writer, const void *element);

bool
sb_group_id_is_valid(struct sb_wire_string group_id)
{
    return printable_id_is_valid(group_id, SB_WIRE_GROUP_ID_BYTES_MAX);
}

bool
sb_group_member_id_is_valid(struct sb_wire_string member_id)
{
    return printable_id_is_valid(member_id, SB_WIRE_MEMBER_ID_BYTES_MAX);
}

static bool
printable_id_is_valid(struct sb_wire_string id, uint16_t bytes_max)
{
    if (id.chars == NULL || id.length == 0 || id.length > bytes_max) {
        return false;
    }
    for (uint16_t i = 0; i < id.length; i++) {
        if (id.chars[i] < 0x21 || id.chars[i] > 0x7E) {
            return false;
        }
    }
    return true;
}

static void
string_read(struct sb_wire_reader *reader, void *element)
{
    sb_wire_read_string(reader, element);
}

static void
string_write(struct sb_wire_writer *writer, const void *element)
{
    const struct sb_wire_string *string = element;
    sb_wire_write_string(writer, *string);
}

static void
i32_read(struct sb_wire_reader *reader, void *element)
{
    int32_t *value = element;
    *value = sb_wire_read_i32(reader);
}

static void
i32_write(struct sb_wire_writer *writer, const void *element)
{
    const int32_t *value = element;
    sb_wire_write_i32(writer, *value);
}

static void
i8_read(struct sb_wire_reader *reader, void *element)
{
    int8_t *value = element;
    *value = sb_wire_read_i8(reader);
}

static void
i8_write(struct sb_wire_writer *writer, const void *element)
{
    const int8_t *value = element;
    sb_wire_write_i8(writer, *value);
}

/* ------------------------------------------- OffsetCommit, AlterGroupOffsets */

int
sb_offset_commit_request_encode(struct sb_wire_writer *writer,
                                const struct sb_offset_commit_request *request)
{
    sb_wire_write_string(writer, request->group_id);
    sb_wire_write_string(writer, request->member_id);
    sb_wire_write_i32(writer, request->member_epoch);
    sb_wire_write_array(writer, request->topics, request->topic_count,
                        sizeof(*request->topics), commit_topic_write);
    return writer->error;
}

int
sb_offset_commit_request_decode(const uint8_t *body, size_t body_bytes,
                                struct sb_offset_commit_request *out)
{
    struct sb_wire_reader reader;
    struct sb_offset_commit_request request;
    struct sb_offset_commit_topic scratch;
    memset(&request, 0, sizeof(request));
    sb_wire_reader_init(&reader, body, body_bytes);
    sb_wire_read_string(&reader, &request.group_id);
    sb_wire_read_string(&reader, &request.member_id);
    request.member_epoch = sb_wire_read_i32(&reader);
    sb_wire_read_array(&reader, COMMIT_TOPIC_BYTES_MIN, commit_topic_read, &scratch,
                       &request.topic_cursor);
    request.topic_count = request.topic_cursor.count;
    int error = sb_wire_reader_finish(&reader);
    if (error == 0) {
        *out = request;
    }
    return error;
}

int
sb_offset_commit_request_next_topic(struct sb_offset_commit_request *request,
                                    struct sb_offset_commit_topic *out)
{
    return sb_wire_array_next(&request->topic_cursor, commit_topic_read, out);
}

int
sb_offset_commit_topic_next_partition(struct sb_offset_commit_topic *topic,
                                      struct sb_offset_commit_partition *out)
{
    return sb_wire_array_next(&topic->partition_cursor, commit_partition_read, out);
}

int
sb_alter_group_offsets_request_encode(struct sb_wire_writer *writer,
                                      const struct sb_alter_group_offsets_request *request)
{
    sb_wire_write_string(writer, request->group_id);
    sb_wire_write_array(writer, request->topics, request->topic_count,
                        sizeof(*request->topics), commit_topic_write);
    return writer->error;
}

int
sb_alter_group_offsets_request_decode(const uint8_t *body, size_t body_bytes,
                                      struct sb_alter_group_offsets_request *out)
{
    struct sb_wire_reader reader;
    struct sb_alter_group_offsets_request request;
    struct sb_offset_commit_topic scratch;
    memset(&request, 0, sizeof(request));
    sb_wire_reader_init(&reader, body, body_bytes);
    sb_wire_read_string(&reader, &request.group_id);
    sb_wire_read_array(&reader, COMMIT_TOPIC_BYTES_MIN, commit_topic_read, &scratch,
                       &request.topic_cursor);
    request.topic_count = request.topic_cursor.count;
    int error = sb_wire_reader_finish(&reader);
    if (error == 0) {
        *out = request;
    }
    return error;
}

int
sb_alter_group_offsets_request_next_topic(struct sb_alter_group_offsets_request *request,
                                          struct sb_offset_commit_topic *out)
{
    return sb_wire_array_next(&request->topic_cursor, commit_topic_read, out);
}

static void
commit_topic_read(struct sb_wire_reader *reader, void *element)
{
    struct sb_offset_commit_topic *topic = element;
    struct sb_offset_commit_partition scratch;
    sb_wire_read_string(reader, &topic->name);
    topic->partitions = NULL;
    sb_wire_read_array(reader, COMMIT_PARTITION_BYTES_MIN, commit_partition_read, &scratch,
                       &topic->partition_cursor);
    topic->partition_count = topic->partition_cursor.count;
}

static void
commit_topic_write(struct sb_wire_writer *writer, const void *element)
{
    const struct sb_offset_commit_topic *topic = element;
    sb_wire_write_string(writer, topic->name);
    sb_wire_write_array(writer, topic->partitions, topic->partition_count,
                        sizeof(*topic->partitions), commit_partition_write);
}

static void
commit_partition_read(struct sb_wire_reader *reader, void *element)
{
    struct sb_offset_commit_partition *partition = element;
    partition->partition = sb_wire_read_i32(reader);
    partition->offset = sb_wire_read_i64(reader);
    sb_wire_read_string_nullable(reader, &partition->metadata);
}

static void
commit_partition_write(struct sb_wire_writer *writer, const void *element)
{
    const struct sb_offset_commit_partition *partition = element;
    sb_wire_write_i32(writer, partition->partition);
    sb_wire_write_i64(writer, partition->offset);
    sb_wire_write_string_nullable(writer, partition->metadata);
}

int
sb_offset_commit_response_encode(struct sb_wire_writer *writer,
                                 const struct sb_offset_commit_response *response)
{
    sb_wire_write_i16(writer, response->error_code);
    sb_wire_write_array(writer, response->topics, response->topic_count,
                        sizeof(*response->topics), commit_result_topic_write);
    return writer->error;
}

int
sb_offset_commit_response_decode(const uint8_t *body, size_t body_bytes,
                                 struct sb_offset_commit_response *out)
{
    struct sb_wire_reader reader;
    struct sb_offset_commit_response response;
    struct sb_offset_commit_topic_result scratch;
    memset(&response, 0, sizeof(response));
    sb_wire_reader_init(&reader, body, body_bytes);
    response.error_code = sb_wire_read_i16(&reader);
    sb_wire_read_array(&reader, COMMIT_TOPIC_BYTES_MIN, commit_result_topic_read, &scratch,
                       &response.topic_cursor);
    response.topic_count = response.topic_cursor.count;
    int error = sb_wire_reader_finish(&reader);
    if (error == 0) {
        *out = response;
    }
    return error;
}

int
sb_offset_commit_response_next_topic(struct sb_offset_commit_response *response,
                                     struct sb_offset_commit_topic_result *out)
{
    return sb_wire_array_next(&response->topic_cursor, commit_result_topic_read, out);
}

int
sb_offset_commit_topic_result_next_partition(struct sb_offset_commit_topic_result *topic,
                                             struct sb_offset_commit_partition_result *out)
{
    return sb_wire_array_next(&topic->partition_cursor, commit_result_read, out);
}

static void
commit_result_topic_read(struct sb_wire_reader *reader, void *element)
{
    struct sb_offset_commit_topic_result *topic = element;
    struct sb_offset_commit_partition_result scratch;
    sb_wire_read_string(reader, &topic->name);
    topic->partitions = NULL;
    sb_wire_read_array(reader, COMMIT_RESULT_BYTES_MIN, commit_result_read, &scratch,
                       &topic->partition_cursor);
    topic->partition_count = topic->partition_cursor.count;
}

static void
commit_result_topic_write(struct sb_wire_writer *writer, const void *element)
{
    const struct sb_offset_commit_topic_result *topic = element;
    sb_wire_write_string(writer, topic->name);
    sb_wire_write_array(writer, topic->partitions, topic->partition_count,
                        sizeof(*topic->partitions), commit_result_write);
}

static void
commit_result_read(struct sb_wire_reader *reader, void *element)
{
    struct sb_offset_commit_partition_result *result = element;
    result->partition = sb_wire_read_i32(reader);
    result->error_code = sb_wire_read_i16(reader);
}

static void
commit_result_write(struct sb_wire_writer *writer, const void *element)
{
    const struct sb_offset_commit_partition_result *result = element;
    sb_wire_write_i32(writer, result->partition);
    sb_wire_write_i16(writer, result->error_code);
}

/* ------------------------------------------------------------- OffsetFetch */

int
sb_offset_fetch_request_encode(struct sb_wire_writer *writer,
                               const struct sb_offset_fetch_request *request)
{
    sb_wire_write_string(writer, request->group_id);
    if (request->all_topics) {
        sb_wire_write_array_null(writer);
        return writer->error;
    }
    sb_wire_write_array(writer, request->topics, request->topic_count,
                        sizeof(*request->topics), fetch_topic_write);
    return writer->error;
}

int
sb_offset_fetch_request_decode(const uint8_t *body, size_t body_bytes,
                               struct sb_offset_fetch_request *out)
{
    struct sb_wire_reader reader;
    struct sb_offset_fetch_request request;
    struct sb_offset_fetch_topic scratch;
    memset(&request, 0, sizeof(request));
    sb_wire_reader_init(&reader, body, body_bytes);
    sb_wire_read_string(&reader, &request.group_id);
    request.all_topics = sb_wire_read_array_nullable(&reader, OFFSET_TOPIC_BYTES_MIN,
                                                     fetch_topic_read, &scratch,
                                                     &request.topic_cursor);
    request.topic_count = request.topic_cursor.count;
    int error = sb_wire_reader_finish(&reader);
    if (error == 0) {
        *out = request;
    }
    return error;
}

int
sb_offset_fetch_request_next_topic(struct sb_offset_fetch_request *request,
                                   struct sb_offset_fetch_topic *out)
{
    return sb_wire_array_next(&request->topic_cursor, fetch_topic_read, out);
}

int
sb_offset_fetch_topic_next_partition(struct sb_offset_fetch_topic *topic, int32_t *out)
{
    return sb_wire_array_next(&topic->partition_cursor, i32_read, out);
}

static void
fetch_topic_read(struct sb_wire_reader *reader, void *element)
{
    struct sb_offset_fetch_topic *topic = element;
    int32_t scratch;
    sb_wire_read_string(reader, &topic->name);
    topic->partitions = NULL;
    sb_wire_read_array(reader, INT32_BYTES, i32_read, &scratch, &topic->partition_cursor);
    topic->partition_count = topic->partition_cursor.count;
}

static void
fetch_topic_write(struct sb_wire_writer *writer, const void *element)
{
    const struct sb_offset_fetch_topic *topic = element;
    sb_wire_write_string(writer, topic->name);
    sb_wire_write_array(writer, topic->partitions, topic->partition_count,
                        sizeof(*topic->partitions), i32_write);
}

int
sb_offset_fetch_response_encode(struct sb_wire_writer *writer,
                                const struct sb_offset_fetch_response *response)
{
    sb_wire_write_i16(writer, response->error_code);
    sb_wire_write_array(writer, response->topics, response->topic_count,
                        sizeof(*response->topics), fetched_topic_write);
    return writer->error;
}

int
sb_offset_fetch_response_decode(const uint8_t *body, size_t body_bytes,
                                struct sb_offset_fetch_response *out)
{
    struct sb_wire_reader reader;
    struct sb_offset_fetch_response response;
    struct sb_group_offset_topic scratch;
    memset(&response, 0, sizeof(response));
    sb_wire_reader_init(&reader, body, body_bytes);
    response.error_code = sb_wire_read_i16(&reader);
    sb_wire_read_array(&reader, OFFSET_TOPIC_BYTES_MIN, fetched_topic_read, &scratch,
                       &response.topic_cursor);
    response.topic_count = response.topic_cursor.count;
    int error = sb_wire_reader_finish(&reader);
    if (error == 0) {
        *out = response;
    }
    return error;
}

int
sb_offset_fetch_response_next_topic(struct sb_offset_fetch_response *response,
                                    struct sb_group_offset_topic *out)
{
    return sb_wire_array_next(&response->topic_cursor, fetched_topic_read, out);
}

int
sb_offset_fetch_topic_next_offset(struct sb_group_offset_topic *topic,
                                  struct sb_group_offset *out)
{
    return sb_wire_array_next(&topic->offset_cursor, fetched_offset_read, out);
}

static void
group_offset_read(struct sb_wire_reader *reader, struct sb_group_offset *offset,
                  bool with_error)
{
    offset->partition = sb_wire_read_i32(reader);
    offset->offset = sb_wire_read_i64(reader);
    sb_wire_read_string_nullable(reader, &offset->metadata);
    offset->commit_time_ms = sb_wire_read_i64(reader);
    offset->error_code = with_error ? sb_wire_read_i16(reader) : 0;
}

static void
group_offset_write(struct sb_wire_writer *writer, const struct sb_group_offset *offset,
                   bool with_error)
{
    sb_wire_write_i32(writer, offset->partition);
    sb_wire_write_i64(writer, offset->offset);
    sb_wire_write_string_nullable(writer, offset->metadata);
    sb_wire_write_i64(writer, offset->commit_time_ms);
    if (with_error) {
        sb_wire_write_i16(writer, offset->error_code);
    }
}

static void
fetched_offset_read(struct sb_wire_reader *reader, void *element)
{
    group_offset_read(reader, element, true);
}

static void
fetched_offset_write(struct sb_wire_writer *writer, const void *element)
{
    group_offset_write(writer, element, true);
}

static void
described_offset_read(struct sb_wire_reader *reader, void *element)
{
    group_offset_read(reader, element, false);
}

static void
described_offset_write(struct sb_wire_writer *writer, const void *element)
{
    group_offset_write(writer, element, false);
}

static void
fetched_topic_read(struct sb_wire_reader *reader, void *element)
{
    struct sb_group_offset_topic *topic = element;
    struct sb_group_offset scratch;
    sb_wire_read_string(reader, &topic->name);
    topic->offsets = NULL;
    sb_wire_read_array(reader, FETCHED_OFFSET_BYTES_MIN, fetched_offset_read, &scratch,
                       &topic->offset_cursor);
    topic->offset_count = topic->offset_cursor.count;
}

static void
fetched_topic_write(struct sb_wire_writer *writer, const void *element)
{
    const struct sb_group_offset_topic *topic = element;
    sb_wire_write_string(writer, topic->name);
    sb_wire_write_array(writer, topic->offsets, topic->offset_count, sizeof(*topic->offsets),
                        fetched_offset_write);
}

static void
described_topic_read(struct sb_wire_reader *reader, void *element)
{
    struct sb_group_offset_topic *topic = element;
    struct sb_group_offset scratch;
    sb_wire_read_string(reader, &topic->name);
    topic->offsets = NULL;
    sb_wire_read_array(reader, DESCRIBED_OFFSET_BYTES_MIN, described_offset_read, &scratch,
                       &topic->offset_cursor);
    topic->offset_count = topic->offset_cursor.count;
}

static void
described_topic_write(struct sb_wire_writer *writer, const void *element)
{
    const struct sb_group_offset_topic *topic = element;
    sb_wire_write_string(writer, topic->name);
    sb_wire_write_array(writer, topic->offsets, topic->offset_count, sizeof(*topic->offsets),
                        described_offset_write);
}

/* ------------------------------------------------- topic-partition sets */

int
sb_group_tpset_next_partition(struct sb_group_tpset *set, int32_t *out)
{
    return sb_wire_array_next(&set->partition_cursor, i32_read, out);
}

static void
tpset_read(struct sb_wire_reader *reader, void *element)
{
    struct sb_group_tpset *set = element;
    int32_t scratch;
    set->topic_id = sb_wire_read_u32(reader);
    set->partitions = NULL;
    sb_wire_read_array(reader, INT32_BYTES, i32_read, &scratch, &set->partition_cursor);
    set->partition_count = set->partition_cursor.count;
}

static void
tpset_write(struct sb_wire_writer *writer, const void *element)
{
    const struct sb_group_tpset *set = element;
    sb_wire_write_u32(writer, set->topic_id);
    sb_wire_write_array(writer, set->partitions, set->partition_count,
                        sizeof(*set->partitions), i32_write);
}

/* Writes a nullable array of sets: the null array when unchanged. */
static void
tpsets_write_nullable(struct sb_wire_writer *writer, bool unchanged,
                      const struct sb_group_tpset *sets, uint32_t count)
{
    if (unchanged) {
        sb_wire_write_array_null(writer);
        return;
    }
    sb_wire_write_array(writer, sets, count, sizeof(*sets), tpset_write);
}

/* ---------------------------------------------------------- GroupHeartbeat */

int
sb_group_heartbeat_request_encode(struct sb_wire_writer *writer,
                                  const struct sb_group_heartbeat_request *request)
{
    sb_wire_write_string(writer, request->group_id);
    sb_wire_write_string(writer, request->member_id);
    sb_wire_write_i32(writer, request->member_epoch);
    sb_wire_write_string_nullable(writer, request->instance_id);
    sb_wire_write_i32(writer, request->rebalance_timeout_ms);
    if (request->topic_names_unchanged) {
        sb_wire_write_array_null(writer);
    } else {
        sb_wire_write_array(writer, request->topic_names, request->topic_name_count,
                            sizeof(*request->topic_names), string_write);
    }
    sb_wire_write_string_nullable(writer, request->topic_regex);
    sb_wire_write_string_nullable(writer, request->server_assignor);
    tpsets_write_nullable(writer, request->owned_unchanged, request->owned,
                          request->owned_count);
    return writer->error;
}

int
sb_group_heartbeat_request_decode(const uint8_t *body, size_t body_bytes,
                                  struct sb_group_heartbeat_request *out)
{
    struct sb_wire_reader reader;
    struct sb_group_heartbeat_request request;
    struct sb_wire_string name_scratch;
    struct sb_group_tpset set_scratch;
    memset(&request, 0, sizeof(request));
    sb_wire_reader_init(&reader, body, body_bytes);
    sb_wire_read_string(&reader, &request.group_id);
    sb_wire_read_string(&reader, &request.member_id);
    request.member_epoch = sb_wire_read_i32(&reader);
    sb_wire_read_string_nullable(&reader, &request.instance_id);
    request.rebalance_timeout_ms = sb_wire_read_i32(&reader);
    request.topic_names_unchanged = sb_wire_read_array_nullable(
        &reader, STRING_BYTES_MIN, string_read, &name_scratch, &request.topic_name_cursor);
    request.topic_name_count = request.topic_name_cursor.count;
    sb_wire_read_string_nullable(&reader, &request.topic_regex);
    sb_wire_read_string_nullable(&reader, &request.server_assignor);
    request.owned_unchanged = sb_wire_read_array_nullable(&reader, TPSET_BYTES_MIN, tpset_read,
                                                          &set_scratch, &request.owned_cursor);
    request.owned_count = request.owned_cursor.count;
    int error = sb_wire_reader_finish(&reader);
    if (error == 0) {
        *out = request;
    }
    return error;
}

int
sb_group_heartbeat_request_next_topic_name(struct sb_group_heartbeat_request *request,
                                           struct sb_wire_string *out)
{
    return sb_wire_array_next(&request->topic_name_cursor, string_read, out);
}

int
sb_group_heartbeat_request_next_owned(struct sb_group_heartbeat_request *request,
                                      struct sb_group_tpset *out)
{
    return sb_wire_array_next(&request->owned_cursor, tpset_read, out);
}

int
sb_group_heartbeat_response_encode(struct sb_wire_writer *writer,
                                   const struct sb_group_heartbeat_response *response)
{
    sb_wire_write_i16(writer, response->error_code);
    sb_wire_write_string_nullable(writer, response->error_message);
    sb_wire_write_string(writer, response->member_id);
    sb_wire_write_i32(writer, response->member_epoch);
    sb_wire_write_i32(writer, response->heartbeat_interval_ms);
    tpsets_write_nullable(writer, response->assignment_unchanged, response->assignment,
                          response->assignment_count);
    return writer->error;
}

int
sb_group_heartbeat_response_decode(const uint8_t *body, size_t body_bytes,
                                   struct sb_group_heartbeat_response *out)
{
    struct sb_wire_reader reader;
    struct sb_group_heartbeat_response response;
    struct sb_group_tpset scratch;
    memset(&response, 0, sizeof(response));
    sb_wire_reader_init(&reader, body, body_bytes);
    response.error_code = sb_wire_read_i16(&reader);
    sb_wire_read_string_nullable(&reader, &response.error_message);
    sb_wire_read_string(&reader, &response.member_id);
    response.member_epoch = sb_wire_read_i32(&reader);
    response.heartbeat_interval_ms = sb_wire_read_i32(&reader);
    response.assignment_unchanged = sb_wire_read_array_nullable(
        &reader, TPSET_BYTES_MIN, tpset_read, &scratch, &response.assignment_cursor);
    response.assignment_count = response.assignment_cursor.count;
    int error = sb_wire_reader_finish(&reader);
    if (error == 0) {
        *out = response;
    }
    return error;
}

int
sb_group_heartbeat_response_next_assignment(struct sb_group_heartbeat_response *response,
                                            struct sb_group_tpset *out)
{
    return sb_wire_array_next(&response->assignment_cursor, tpset_read, out);
}

/* -------------------------------------------------------------- ListGroups */

int
sb_list_groups_request_encode(struct sb_wire_writer *writer,
                              const struct sb_list_groups_request *request)
{
    sb_wire_write_array(writer, request->states, request->state_count,
                        sizeof(*request->states), i8_write);
    return writer->error;
}

int
sb_list_groups_request_decode(const uint8_t *body, size_t body_bytes,
                              struct sb_list_groups_request *out)
{
    struct sb_wire_reader reader;
    struct sb_list_groups_request request;
    int8_t scratch;
    memset(&request, 0, sizeof(request));
    sb_wire_reader_init(&reader, body, body_bytes);
    sb_wire_read_array(&reader, INT8_BYTES, i8_read, &scratch, &request.state_cursor);
    request.state_count = request.state_cursor.count;
    int error = sb_wire_reader_finish(&reader);
    if (error == 0) {
        *out = request;
    }
    return error;
}

int
sb_list_groups_request_next_state(struct sb_list_groups_request *request, int8_t *out)
{
    return sb_wire_array_next(&request->state_cursor, i8_read, out);
}

int
sb_list_groups_response_encode(struct sb_wire_writer *writer,
                               const struct sb_list_groups_response *response)
{
    sb_wire_write_i16(writer, response->error_code);
    sb_wire_write_array(writer, response->groups, response->group_count,
                        sizeof(*response->groups), list_groups_entry_write);
    return writer->error;
}

int
sb_list_groups_response_decode(const uint8_t *body, size_t body_bytes,
                               struct sb_list_groups_response *out)
{
    struct sb_wire_reader reader;
    struct sb_list_groups_response response;
    struct sb_list_groups_entry scratch;
    memset(&response, 0, sizeof(response));
    sb_wire_reader_init(&reader, body, body_bytes);
    response.error_code = sb_wire_read_i16(&reader);
    sb_wire_read_array(&reader, LIST_GROUPS_ENTRY_BYTES_MIN, list_groups_entry_read, &scratch,
                       &response.group_cursor);
    response.group_count = response.group_cursor.count;
    int error = sb_wire_reader_finish(&reader);
    if (error == 0) {
        *out = response;
    }
    return error;
}

int
sb_list_groups_response_next_group(struct sb_list_groups_response *response,
                                   struct sb_list_groups_entry *out)
{
    return sb_wire_array_next(&response->group_cursor, list_groups_entry_read, out);
}

static void
list_groups_entry_read(struct sb_wire_reader *reader, void *element)
{
    struct sb_list_groups_entry *entry = element;
    sb_wire_read_string(reader, &entry->group_id);
    entry->state = sb_wire_read_i8(reader);
    entry->member_count = sb_wire_read_i32(reader);
}

static void
list_groups_entry_write(struct sb_wire_writer *writer, const void *element)
{
    const struct sb_list_groups_entry *entry = element;
    sb_wire_write_string(writer, entry->group_id);
    sb_wire_write_i8(writer, entry->state);
    sb_wire_write_i32(writer, entry->member_count);
}

/* ---------------------------------------------- DescribeGroup, DeleteGroup */

int
sb_group_id_request_encode(struct sb_wire_writer *writer,
                           const struct sb_group_id_request *request)
{
    sb_wire_write_string(writer, request->group_id);
    return writer->error;
}

int
sb_group_id_request_decode(const uint8_t *body, size_t body_bytes,
                           struct sb_group_id_request *out)
{
    struct sb_wire_reader reader;
    struct sb_group_id_request request;
    sb_wire_reader_init(&reader, body, body_bytes);
    sb_wire_read_string(&reader, &request.group_id);
    int error = sb_wire_reader_finish(&reader);
    if (error == 0) {
        *out = request;
    }
    return error;
}

int
sb_describe_group_response_encode(struct sb_wire_writer *writer,
                                  const struct sb_describe_group_response *response)
{
    sb_wire_write_i16(writer, response->error_code);
    sb_wire_write_string(writer, response->group_id);
    sb_wire_write_i8(writer, response->state);
    sb_wire_write_i32(writer, response->group_epoch);
    sb_wire_write_i32(writer, response->assignment_epoch);
    sb_wire_write_string(writer, response->assignor);
    sb_wire_write_array(writer, response->members, response->member_count,
                        sizeof(*response->members), member_write);
    sb_wire_write_array(writer, response->offsets, response->offset_topic_count,
                        sizeof(*response->offsets), described_topic_write);
    return writer->error;
}

int
sb_describe_group_response_decode(const uint8_t *body, size_t body_bytes,
                                  struct sb_describe_group_response *out)
{
    struct sb_wire_reader reader;
    struct sb_describe_group_response response;
    struct sb_group_member_description member_scratch;
    struct sb_group_offset_topic topic_scratch;
    memset(&response, 0, sizeof(response));
    sb_wire_reader_init(&reader, body, body_bytes);
    response.error_code = sb_wire_read_i16(&reader);
    sb_wire_read_string(&reader, &response.group_id);
    response.state = sb_wire_read_i8(&reader);
    response.group_epoch = sb_wire_read_i32(&reader);
    response.assignment_epoch = sb_wire_read_i32(&reader);
    sb_wire_read_string(&reader, &response.assignor);
    sb_wire_read_array(&reader, MEMBER_BYTES_MIN, member_read, &member_scratch,
                       &response.member_cursor);
    response.member_count = response.member_cursor.count;
    sb_wire_read_array(&reader, OFFSET_TOPIC_BYTES_MIN, described_topic_read, &topic_scratch,
                       &response.offset_cursor);
    response.offset_topic_count = response.offset_cursor.count;
    int error = sb_wire_reader_finish(&reader);
    if (error == 0) {
        *out = response;
    }
    return error;
}

int
sb_describe_group_response_next_member(struct sb_describe_group_response *response,
                                       struct sb_group_member_description *out)
{
    return sb_wire_array_next(&response->member_cursor, member_read, out);
}

int
sb_group_member_next_topic_name(struct sb_group_member_description *member,
                                struct sb_wire_string *out)
{
    return sb_wire_array_next(&member->topic_name_cursor, string_read, out);
}

int
sb_group_member_next_assignment(struct sb_group_member_description *member,
                                struct sb_group_tpset *out)
{
    return sb_wire_array_next(&member->assignment_cursor, tpset_read, out);
}

int
sb_group_member_next_target(struct sb_group_member_description *member,
                            struct sb_group_tpset *out)
{
    return sb_wire_array_next(&member->target_cursor, tpset_read, out);
}

int
sb_describe_group_response_next_offset_topic(struct sb_describe_group_response *response,
                                             struct sb_group_offset_topic *out)
{
    return sb_wire_array_next(&response->offset_cursor, described_topic_read, out);
}

int
sb_described_offset_topic_next_offset(struct sb_group_offset_topic *topic,
                                      struct sb_group_offset *out)
{
    return sb_wire_array_next(&topic->offset_cursor, described_offset_read, out);
}

static void
member_read(struct sb_wire_reader *reader, void *element)
{
    struct sb_group_member_description *member = element;
    struct sb_wire_string name_scratch;
    struct sb_group_tpset set_scratch;
    sb_wire_read_string(reader, &member->member_id);
    sb_wire_read_string_nullable(reader, &member->instance_id);
    member->member_epoch = sb_wire_read_i32(reader);
    member->topic_names = NULL;
    sb_wire_read_array(reader, STRING_BYTES_MIN, string_read, &name_scratch,
                       &member->topic_name_cursor);
    member->topic_name_count = member->topic_name_cursor.count;
    sb_wire_read_string_nullable(reader, &member->topic_regex);
    member->assignment = NULL;
    sb_wire_read_array(reader, TPSET_BYTES_MIN, tpset_read, &set_scratch,
                       &member->assignment_cursor);
    member->assignment_count = member->assignment_cursor.count;
    member->target = NULL;
    sb_wire_read_array(reader, TPSET_BYTES_MIN, tpset_read, &set_scratch,
                       &member->target_cursor);
    member->target_count = member->target_cursor.count;
}

static void
member_write(struct sb_wire_writer *writer, const void *element)
{
    const struct sb_group_member_description *member = element;
    sb_wire_write_string(writer, member->member_id);
    sb_wire_write_string_nullable(writer, member->instance_id);
    sb_wire_write_i32(writer, member->member_epoch);
    sb_wire_write_array(writer, member->topic_names, member->topic_name_count,
                        sizeof(*member->topic_names), string_write);
    sb_wire_write_string_nullable(writer, member->topic_regex);
    sb_wire_write_array(writer, member->assignment, member->assignment_count,
                        sizeof(*member->assignment), tpset_write);
    sb_wire_write_array(writer, member->target, member->target_count, sizeof(*member->target),
                        tpset_write);
}

int
sb_delete_group_response_encode(struct sb_wire_writer *writer,
                                const struct sb_delete_group_response *response)
{
    sb_wire_write_i16(writer, response->error_code);
    return writer->error;
}

int
sb_delete_group_response_decode(const uint8_t *body, size_t body_bytes,
                                struct sb_delete_group_response *out)
{
    struct sb_wire_reader reader;
    struct sb_delete_group_response response;
    sb_wire_reader_init(&reader, body, body_bytes);
    response.error_code = sb_wire_read_i16(&reader);
    int error = sb_wire_reader_finish(&reader);
    if (error == 0) {
        *out = response;
    }
    return error;
}
