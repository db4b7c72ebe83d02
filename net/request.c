/*
 * net/request.c - a request from a whole frame to an encoded response, on
 * the connection's shard (see broker_private.h for the life of a request).
 *
 * Partition requests (Produce, Fetch, ListOffsets, DescribeTopic) become one
 * item per partition, grouped into one work per owning shard; local works run
 * at once, others travel as MSG_WORK and come back as MSG_WORK_DONE. Control
 * requests (CreateTopics, DeleteTopics, AlterTopicConfig, InitProducerId) go
 * to shard 0. ApiVersions, Metadata and ListTopics are answered from the
 * shard's copy of the metadata. Health is one work per shard, items-free.
 *
 * Memory for the response is taken when the request starts (a Fetch: its
 * works' buffers then, its response when they are back, sized to what they
 * read); if the shard's request budget is exhausted the request is answered
 * BROKER_BUSY (retriable) in its own frame buffer, so a full budget never
 * fails silently. No request asks for more than an idle budget holds.
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "core/clock.h"
#include "core/log.h"
#include "net/broker_private.h"
#include "proto/api_admin.h"
#include "proto/api_fetch.h"
#include "proto/api_meta.h"
#include "proto/api_produce.h"
#include "proto/api_producer.h"
#include "proto/errors.h"

/* Room for a response's frame header, counts and fixed fields beyond the estimates below. */
#define RESPONSE_SLACK_BYTES 256u

static void request_dispatch(struct request *request);
static void request_fetch_read(struct request *request);
static void request_finish_fetch(struct request *request);
static int request_list_topics_compare(const void *left, const void *right);

/* Frees everything the request holds; deferred while an owner still refers to a work of it
 * (acks=all answered at its timeout: the appends call back later). */
void
request_release(struct request *request)
{
    struct broker_shard *self = request->home;
    if (request->works_held > 0) {
        request->release_deferred = true;
        request->conn = NULL;
        return;
    }
    if (request->response != NULL && request->response_capacity != 0) {
        sb_bufpool_release(&self->buffers, request->response, request->response_capacity);
    }
    for (uint32_t index = 0; index < request->work_count; index++) {
        struct work *work = &request->works[index];
        if (work->data != NULL) {
            sb_bufpool_release(&self->buffers, work->data, work->data_capacity);
        }
    }
    if (request->scratch != NULL) {
        sb_bufpool_release(&self->buffers, request->scratch, request->scratch_capacity);
    }
    if (request->frame != NULL) {
        sb_bufpool_release(&self->buffers, request->frame, request->frame_capacity);
    }
    SB_ASSERT(self->requests_in_flight > 0);
    self->requests_in_flight--;
    memset(request, 0, sizeof(*request));
    sb_pool_release(&self->requests, request);
}

static void
request_complete(struct request *request)
{
    request->complete = true;
    if (request->conn != NULL) {
        conn_response_ready(request->conn);
    }
}

/* A frame-level error response (empty body), written over the request's own frame buffer. */
bool
request_respond_error(struct request *request, int16_t error)
{
    if (request->response != NULL && request->response_capacity != 0) {
        sb_bufpool_release(&request->home->buffers, request->response,
                           request->response_capacity);
    }
    uint8_t *buffer = request->error_frame;
    struct sb_wire_writer writer;
    sb_wire_writer_init(&writer, buffer, SB_FRAME_HEADER_BYTES);
    int result = sb_frame_error_response_encode(&writer, &request->header,
                                                (enum sb_wire_error)error);
    SB_ASSERT(result == 0);
    request->response = buffer;
    request->response_capacity = 0; /* Not a buffer of its own. */
    request->response_bytes = (uint32_t)sb_wire_writer_length(&writer);
    request->no_response = false;
    request_complete(request);
    return true;
}

/* Takes the response buffer: `bytes` at most. False (and BROKER_BUSY sent) if no memory. */
static bool
request_reserve_response(struct request *request, uint64_t bytes)
{
    bytes += RESPONSE_SLACK_BYTES;
    request->response = bytes <= UINT32_MAX
                            ? sb_bufpool_acquire(&request->home->buffers, (uint32_t)bytes,
                                                 &request->response_capacity)
                            : NULL;
    if (request->response == NULL) {
        request_respond_error(request, SB_WIRE_ERROR_BROKER_BUSY);
        return false;
    }
    return true;
}

static bool
request_reserve_scratch(struct request *request, uint64_t bytes)
{
    request->scratch = sb_bufpool_acquire(&request->home->buffers, (uint32_t)bytes,
                                          &request->scratch_capacity);
    if (request->scratch == NULL || bytes > UINT32_MAX) {
        request_respond_error(request, SB_WIRE_ERROR_BROKER_BUSY);
        return false;
    }
    memset(request->scratch, 0, bytes);
    return true;
}

/* Begins the response frame in the reserved buffer. */
static void
request_writer_begin(struct request *request, struct sb_wire_writer *writer)
{
    sb_wire_writer_init(writer, request->response, request->response_capacity);
    struct sb_frame_header header = {
        .api_key = request->header.api_key,
        .api_version = request->header.api_version,
        .correlation_id = request->header.correlation_id,
        .flags = SB_FRAME_FLAG_RESPONSE,
    };
    int result = sb_frame_begin(writer, &header);
    SB_ASSERT(result == 0);
}

/* Finishes the frame; an encoding failure here means an estimate was wrong: a bug, but the
 * client still gets an answer. */
static void
request_writer_finish(struct request *request, struct sb_wire_writer *writer, int encoded)
{
    int result = encoded == 0 ? sb_frame_finish(writer) : encoded;
    if (result != 0) {
        sb_log_error("response encoding failed", "api=%s error=%d",
                     sb_api_name(request->header.api_key), result);
        request_respond_error(request, SB_WIRE_ERROR_UNKNOWN_SERVER_ERROR);
        return;
    }
    request->response_bytes = (uint32_t)sb_wire_writer_length(writer);
    request_complete(request);
}

static const struct sb_frame *
request_frame(struct request *request, struct sb_frame *frame)
{
    frame->header = request->header;
    frame->body = request->frame + SB_FRAME_HEADER_BYTES;
    frame->body_bytes = request->header.frame_bytes - (SB_FRAME_HEADER_BYTES -
                                                        SB_FRAME_PREFIX_BYTES);
    return frame;
}

/* ApiVersions: the ranges this build decodes, the version string and the limits. */
static void
request_api_versions(struct request *request)
{
    const struct sb_api_version_range *ranges;
    uint32_t count = sb_api_version_ranges(&ranges);
    if (!request_reserve_response(request, 64 + (uint64_t)count * 6)) {
        return;
    }
    const struct sb_broker_config *config = &request->home->broker->config;
    struct sb_api_versions_response response = {
        .apis = ranges,
        .api_count = count,
        .broker_version = sb_wire_string_from_cstr("streambus " SB_VERSION),
        .frame_bytes_max = config->max_frame_bytes,
        .batch_bytes_max = config->max_message_bytes,
    };
    struct sb_wire_writer writer;
    request_writer_begin(request, &writer);
    request_writer_finish(request, &writer, sb_api_versions_response_encode(&writer, &response));
}

/* ListTopics: every topic whose name starts with the prefix. */
static void
request_list_topics(struct request *request)
{
    struct broker_shard *self = request->home;
    struct sb_frame frame;
    request_frame(request, &frame);
    struct sb_list_topics_request decoded;
    if (sb_list_topics_request_decode(frame.body, frame.body_bytes, &decoded) != 0) {
        request_respond_error(request, SB_WIRE_ERROR_INVALID_REQUEST);
        return;
    }
    uint32_t count = self->metadata.topic_count;
    if (!request_reserve_scratch(request, (uint64_t)count * sizeof(struct sb_list_topics_entry) +
                                              64) ||
        !request_reserve_response(request, (uint64_t)count * (SB_TOPIC_NAME_BYTES_MAX + 16))) {
        return;
    }
    struct sb_list_topics_entry *entries = (struct sb_list_topics_entry *)(void *)request->scratch;
    uint32_t used = 0;
    for (uint32_t index = 0; index < SB_TOPICS_MAX; index++) {
        const struct sb_topic *topic = &self->metadata.topics[index];
        if (!topic->used || topic->name_length < decoded.prefix.length ||
            memcmp(topic->name, decoded.prefix.chars, decoded.prefix.length) != 0) {
            continue;
        }
        entries[used++] = (struct sb_list_topics_entry){
            .name = {topic->name, topic->name_length},
            .topic_id = topic->topic_id,
            .partition_count = (int32_t)topic->partition_count,
        };
    }
    qsort(entries, used, sizeof(*entries), request_list_topics_compare);
    struct sb_list_topics_response response = {.topics = entries, .topic_count = used};
    struct sb_wire_writer writer;
    request_writer_begin(request, &writer);
    request_writer_finish(request, &writer, sb_list_topics_response_encode(&writer, &response));
}

/* docs/protocol.md lists topics sorted by name: bytewise, a prefix first. */
static int
request_list_topics_compare(const void *left, const void *right)
{
    const struct sb_wire_string *a = &((const struct sb_list_topics_entry *)left)->name;
    const struct sb_wire_string *b = &((const struct sb_list_topics_entry *)right)->name;
    int order = memcmp(a->chars, b->chars, a->length < b->length ? a->length : b->length);
    return order != 0 ? order : (a->length > b->length) - (a->length < b->length);
}

/* Metadata for one topic into `out`, its partitions into `partitions` (scratch). */
static void
request_metadata_topic(struct broker_shard *self, const struct sb_topic *topic,
                       struct sb_metadata_topic *out, struct sb_metadata_partition *partitions)
{
    for (uint32_t index = 0; index < topic->partition_count; index++) {
        partitions[index] = (struct sb_metadata_partition){
            .partition = (int32_t)index,
            .leader = self->broker->config.node_id,
            .shard = (int32_t)sb_metadata_owner(&self->metadata, topic->topic_id, index),
        };
    }
    *out = (struct sb_metadata_topic){
        .name = {topic->name, topic->name_length},
        .topic_id = topic->topic_id,
        .partitions = partitions,
        .partition_count = topic->partition_count,
    };
}

/* Counts the topics and partitions a Metadata request names (all when all_topics). */
static void
request_metadata_count(struct broker_shard *self, struct sb_metadata_request *decoded,
                       uint32_t *topics_out, uint64_t *partitions_out)
{
    *topics_out = 0;
    *partitions_out = 0;
    if (decoded->all_topics) {
        for (uint32_t index = 0; index < SB_TOPICS_MAX; index++) {
            if (self->metadata.topics[index].used) {
                (*topics_out)++;
                *partitions_out += self->metadata.topics[index].partition_count;
            }
        }
        return;
    }
    struct sb_metadata_request cursor = *decoded;
    struct sb_wire_string name;
    while (sb_metadata_request_next_topic(&cursor, &name) == 1) {
        struct sb_topic *topic = sb_metadata_find(&self->metadata, name.chars, name.length);
        (*topics_out)++;
        *partitions_out += topic != NULL ? topic->partition_count : 0;
    }
}

static void
request_metadata_encode(struct request *request, struct sb_metadata_request *decoded,
                        struct sb_metadata_topic *topics, struct sb_metadata_partition *partitions)
{
    struct broker_shard *self = request->home;
    const struct sb_broker_config *config = &self->broker->config;
    uint32_t used = 0;
    uint64_t partition_used = 0;
    for (uint32_t index = 0; decoded->all_topics && index < SB_TOPICS_MAX; index++) {
        const struct sb_topic *topic = &self->metadata.topics[index];
        if (topic->used) {
            request_metadata_topic(self, topic, &topics[used++], partitions + partition_used);
            partition_used += topic->partition_count;
        }
    }
    struct sb_wire_string name;
    while (!decoded->all_topics && sb_metadata_request_next_topic(decoded, &name) == 1) {
        struct sb_topic *topic = sb_metadata_find(&self->metadata, name.chars, name.length);
        if (topic == NULL) {
            topics[used++] = (struct sb_metadata_topic){
                .error_code = SB_WIRE_ERROR_UNKNOWN_TOPIC_OR_PARTITION, .name = name};
            continue;
        }
        request_metadata_topic(self, topic, &topics[used++], partitions + partition_used);
        partition_used += topic->partition_count;
    }
    uint32_t shard_count = self->metadata.shard_count;
    struct sb_metadata_shard *shards = (struct sb_metadata_shard *)(void *)(partitions +
                                                                            partition_used);
    for (uint32_t shard = 0; shard < shard_count; shard++) {
        shards[shard] = (struct sb_metadata_shard){(int32_t)shard,
                                                   (int32_t)(config->listen_port + 1 + shard)};
    }
    struct sb_metadata_broker broker = {
        .node_id = config->node_id, .host = sb_wire_string_from_cstr(config->listen_host),
        .port = config->listen_port, .shards = shards, .shard_count = shard_count,
    };
    struct sb_metadata_response response = {.brokers = &broker, .broker_count = 1,
                                            .topics = topics, .topic_count = used};
    struct sb_wire_writer writer;
    request_writer_begin(request, &writer);
    request_writer_finish(request, &writer, sb_metadata_response_encode(&writer, &response));
}

static void
request_metadata(struct request *request)
{
    struct broker_shard *self = request->home;
    struct sb_frame frame;
    request_frame(request, &frame);
    struct sb_metadata_request decoded;
    if (sb_metadata_request_decode(frame.body, frame.body_bytes, &decoded) != 0) {
        request_respond_error(request, SB_WIRE_ERROR_INVALID_REQUEST);
        return;
    }
    if (!decoded.all_topics && decoded.topic_cursor.count > SB_NET_REQUEST_TOPICS_MAX) {
        request_respond_error(request, SB_WIRE_ERROR_INVALID_REQUEST); /* Work bound. */
        return;
    }
    uint32_t topic_count;
    uint64_t partition_count;
    request_metadata_count(self, &decoded, &topic_count, &partition_count);
    uint64_t scratch = (uint64_t)topic_count * sizeof(struct sb_metadata_topic) +
                       partition_count * sizeof(struct sb_metadata_partition) +
                       (uint64_t)self->metadata.shard_count * sizeof(struct sb_metadata_shard);
    /* Names asked for are echoed back, known or not: they all lie in the request's body. */
    uint64_t names_bytes = decoded.all_topics ? (uint64_t)topic_count * SB_TOPIC_NAME_BYTES_MAX
                                              : frame.body_bytes;
    uint64_t response = names_bytes + (uint64_t)topic_count * 16 + partition_count * 16 +
                        (uint64_t)self->metadata.shard_count * 8 + 128;
    if (!request_reserve_scratch(request, scratch + 64) ||
        !request_reserve_response(request, response)) {
        return;
    }
    struct sb_metadata_topic *topics = (struct sb_metadata_topic *)(void *)request->scratch;
    struct sb_metadata_partition *partitions =
        (struct sb_metadata_partition *)(void *)(topics + topic_count);
    request_metadata_encode(request, &decoded, topics, partitions);
}

/* Scratch layout of a partition request: topic names, items, one work per shard, then
 * `extra` bytes for the response's arrays. A request naming more topics or partitions than
 * the work bound allows is INVALID_REQUEST. */
static bool
request_reserve_items(struct request *request, uint32_t topic_count, uint32_t item_count,
                      uint64_t extra)
{
    if (topic_count > SB_NET_REQUEST_TOPICS_MAX || item_count > SB_NET_REQUEST_ITEMS_MAX) {
        request_respond_error(request, SB_WIRE_ERROR_INVALID_REQUEST);
        return false;
    }
    uint32_t shard_count = request->home->metadata.shard_count;
    uint64_t bytes = (uint64_t)topic_count * sizeof(struct sb_wire_string) +
                     (uint64_t)item_count * sizeof(struct item) +
                     (uint64_t)shard_count * sizeof(struct work) + extra + 64;
    if (!request_reserve_scratch(request, bytes)) {
        return false;
    }
    uint8_t *cursor = request->scratch;
    request->works = (struct work *)(void *)cursor;
    cursor += (uint64_t)shard_count * sizeof(struct work);
    request->items = (struct item *)(void *)cursor;
    cursor += (uint64_t)item_count * sizeof(struct item);
    request->topics = (struct sb_wire_string *)(void *)cursor;
    request->topic_count = topic_count;
    request->item_count = item_count;
    return true;
}

/* Extra scratch for a request: after the topic names. */
static void *
request_extra(struct request *request)
{
    return request->topics + request->topic_count;
}

/* Health: one work per shard fills that shard's entry (connections, partitions, state). */
static void
request_health(struct request *request)
{
    struct broker_shard *self = request->home;
    uint32_t shard_count = self->metadata.shard_count;
    if (!request_reserve_items(request, 0, 0, shard_count * sizeof(struct sb_health_shard)) ||
        !request_reserve_response(request, 64 + (uint64_t)shard_count * 16)) {
        return;
    }
    request->health = request_extra(request);
    request->work_count = shard_count;
    for (uint32_t shard = 0; shard < shard_count; shard++) {
        request->works[shard] = (struct work){.request = request, .home = self,
                                              .owner = shard, .api_key = SB_API_HEALTH};
    }
    request_dispatch(request);
}

/* Resolves an item's topic and owner; unknown topics and partitions get an error. */
static void
request_item_resolve(struct request *request, struct item *item, struct sb_wire_string name)
{
    struct broker_shard *self = request->home;
    struct sb_topic *topic = sb_metadata_find(&self->metadata, name.chars, name.length);
    if (topic == NULL || item->partition < 0 ||
        (uint32_t)item->partition >= topic->partition_count) {
        item->error = SB_WIRE_ERROR_UNKNOWN_TOPIC_OR_PARTITION;
        return;
    }
    item->topic_id = topic->topic_id;
    item->owner = sb_metadata_owner(&self->metadata, topic->topic_id, (uint32_t)item->partition);
}

/* One work per owner of an item without error, in shard order. */
static void
request_group_works(struct request *request)
{
    uint32_t shard_count = request->home->metadata.shard_count;
    request->work_count = 0;
    for (uint32_t shard = 0; shard < shard_count; shard++) {
        struct work *work = NULL;
        for (uint32_t index = 0; index < request->item_count; index++) {
            struct item *item = &request->items[index];
            if (item->error != SB_WIRE_ERROR_NONE || item->owner != shard) {
                continue;
            }
            if (work == NULL) {
                work = &request->works[request->work_count++];
                work->request = request;
                work->home = request->home;
                work->owner = shard;
                work->api_key = request->header.api_key;
                work->acks = request->acks;
            }
            item->work = work;
        }
    }
}

static int
request_produce_items(struct request *request, struct sb_produce_request *decoded)
{
    struct sb_produce_topic topic;
    uint32_t topic_index = 0;
    uint32_t item_index = 0;
    while (sb_produce_request_next_topic(decoded, &topic) == 1) {
        request->topics[topic_index] = topic.name;
        struct sb_produce_partition partition;
        int next;
        while ((next = sb_produce_topic_next_partition(&topic, &partition)) == 1) {
            struct item *item = &request->items[item_index++];
            item->topic_index = topic_index;
            item->partition = partition.partition;
            item->records = partition.records.data;
            item->records_bytes = partition.records.length;
            item->base_offset = -1;
            item->log_append_time = -1;
            item->log_start_offset = -1;
            request_item_resolve(request, item, topic.name);
        }
        if (next < 0) {
            return next;
        }
        topic_index++;
    }
    return 0;
}

static int
request_key_compare(const void *left, const void *right)
{
    uint64_t a = *(const uint64_t *)left;
    uint64_t b = *(const uint64_t *)right;
    return a < b ? -1 : a > b;
}

/* Whether a known topic's partition appears twice (docs/protocol.md: INVALID_REQUEST). Sorts
 * the items' keys in the response arrays' scratch, which is filled only when answering. */
static bool
request_produce_repeats(struct request *request)
{
    static_assert(sizeof(struct sb_produce_partition_response) >= sizeof(uint64_t),
                  "a key per item fits the response arrays");
    uint64_t *keys = request_extra(request);
    uint32_t count = 0;
    for (uint32_t index = 0; index < request->item_count; index++) {
        const struct item *item = &request->items[index];
        if (item->error == SB_WIRE_ERROR_NONE) {
            keys[count++] = (uint64_t)item->topic_id << 32 | (uint32_t)item->partition;
        }
    }
    qsort(keys, count, sizeof(*keys), request_key_compare);
    for (uint32_t index = 1; index < count; index++) {
        if (keys[index] == keys[index - 1]) {
            return true;
        }
    }
    return false;
}

/* Counts the request's partitions; *names_bytes_out: its topic names' bytes (echoed back,
 * known or not, so the response is sized from them, not from the longest valid name). */
static uint32_t
request_produce_count(const struct sb_produce_request *decoded, uint64_t *names_bytes_out)
{
    struct sb_produce_request copy = *decoded;
    struct sb_produce_topic topic;
    uint32_t items = 0;
    *names_bytes_out = 0;
    while (sb_produce_request_next_topic(&copy, &topic) == 1) {
        items += topic.partition_cursor.count;
        *names_bytes_out += topic.name.length;
    }
    return items;
}

static void
request_produce(struct request *request)
{
    struct sb_frame frame;
    request_frame(request, &frame);
    struct sb_produce_request decoded;
    if (sb_produce_request_decode(frame.body, frame.body_bytes, &decoded) != 0 ||
        (decoded.acks != 0 && decoded.acks != 1 && decoded.acks != -1) ||
        decoded.timeout_ms < 0 || decoded.transactional_id.chars != NULL) {
        request_respond_error(request, SB_WIRE_ERROR_INVALID_REQUEST);
        return;
    }
    request->acks = decoded.acks;
    request->produce_timeout_ms = decoded.timeout_ms;
    /* The frame flag, not acks, decides whether an answer is sent (docs/protocol.md). */
    request->no_response = (request->header.flags & SB_FRAME_FLAG_NO_RESPONSE) != 0;
    uint32_t topic_count = decoded.topic_cursor.count;
    uint64_t names_bytes;
    uint32_t item_count = request_produce_count(&decoded, &names_bytes);
    uint64_t extra = (uint64_t)topic_count * sizeof(struct sb_produce_topic_response) +
                     (uint64_t)item_count * sizeof(struct sb_produce_partition_response);
    if (!request_reserve_items(request, topic_count, item_count, extra) ||
        !request_reserve_response(request, names_bytes + (uint64_t)topic_count * 8 +
                                               (uint64_t)item_count * 32)) {
        return;
    }
    if (request_produce_items(request, &decoded) != 0 || request_produce_repeats(request)) {
        request_respond_error(request, SB_WIRE_ERROR_INVALID_REQUEST);
        return;
    }
    request_dispatch(request);
}

/* Counts the request's partitions. */
static uint32_t
request_fetch_count(const struct sb_fetch_request *decoded)
{
    struct sb_fetch_request copy = *decoded;
    struct sb_fetch_topic topic;
    uint32_t items = 0;
    while (sb_fetch_request_next_topic(&copy, &topic) == 1) {
        items += topic.partition_cursor.count;
    }
    return items;
}

static int
request_fetch_items(struct request *request, struct sb_fetch_request *decoded)
{
    struct sb_fetch_topic topic;
    uint32_t topic_index = 0;
    uint32_t item_index = 0;
    while (sb_fetch_request_next_topic(decoded, &topic) == 1) {
        request->topics[topic_index] = topic.name;
        struct sb_fetch_partition partition;
        int next;
        while ((next = sb_fetch_topic_next_partition(&topic, &partition)) == 1) {
            struct item *item = &request->items[item_index++];
            item->topic_index = topic_index;
            item->partition = partition.partition;
            item->fetch_offset = partition.fetch_offset;
            if (partition.partition_max_bytes < 0) {
                return -EINVAL; /* docs/protocol.md: negative byte values are refused. */
            }
            item->max_bytes = (uint32_t)partition.partition_max_bytes;
            item->high_watermark = -1;
            item->log_start_offset = -1;
            request_item_resolve(request, item, topic.name);
            if (item->error == SB_WIRE_ERROR_NONE && topic.topic_id != 0 &&
                topic.topic_id != item->topic_id) {
                /* Version 1: the reader's position is in a topic since deleted; this one
                 * has the name only. */
                item->error = SB_WIRE_ERROR_UNKNOWN_TOPIC_ID;
            }
        }
        if (next < 0) {
            return next;
        }
        topic_index++;
    }
    return 0;
}

/* The response's record limit: max_bytes, and never more than a frame (the first batch may
 * still pass it, as docs/protocol.md promises). */
static uint64_t
request_fetch_limit(const struct request *request)
{
    uint64_t asked = request->fetch_max_bytes > 0 ? (uint64_t)request->fetch_max_bytes : 0;
    return sb_min_u64(asked, request->home->broker->config.max_frame_bytes);
}

/* Half of what an idle shard's request memory has besides this request's frame, scratch and
 * `response_bytes`: the most the works' buffers take together (the response copies them). */
static uint64_t
request_fetch_half(const struct request *request, uint64_t response_bytes)
{
    uint64_t taken = (uint64_t)request->frame_capacity + request->scratch_capacity +
                     response_bytes;
    uint64_t budget = request->home->buffers.budget_bytes;
    return budget > taken ? (budget - taken) / 2 : 0;
}

/* Each work gets one buffer: its partitions' limits (at most the response limit) plus room for
 * one whole batch of the largest size (today's max_message_bytes, or a larger stored batch a
 * read of this request found: request_fetch_reread), so a batch bigger than the limits still
 * comes back and consumers progress. Together they take at most half of what the request
 * memory has left besides this request (the response is a copy of what they read), so an idle
 * broker can always serve the fetch; past that share a work gets one batch's room, and works
 * past the whole half get none and answer without records. The work served first rotates from
 * fetch to fetch, so the next fetches serve those. False when the memory is busy now
 * (BROKER_BUSY, retriable). */
static bool
request_fetch_buffers(struct request *request, uint64_t response_bytes)
{
    struct broker_shard *self = request->home;
    const struct sb_broker_config *config = &self->broker->config;
    /* A batch fits in a produce frame, so never needs more than max_frame_bytes. */
    uint64_t batch_room = sb_min_u64((uint64_t)config->max_message_bytes + SB_BUFPOOL_PAGE_BYTES,
                                     config->max_frame_bytes);
    batch_room = sb_max_u64(batch_room, request->fetch_batch_room);
    uint64_t half = request_fetch_half(request, response_bytes);
    uint64_t share = sb_max_u64(half / sb_max_u64(request->work_count, 1), batch_room);
    share = sb_min_u64(share, config->max_frame_bytes); /* The pool's largest buffer. */
    uint64_t limit = request_fetch_limit(request);
    uint64_t granted = 0;
    uint32_t first = self->fetch_turn++;
    for (uint32_t turn = 0; turn < request->work_count; turn++) {
        struct work *work = &request->works[(first + turn) % request->work_count];
        uint64_t wanted = 0;
        for (uint32_t item_index = 0; item_index < request->item_count; item_index++) {
            struct item *item = &request->items[item_index];
            wanted += item->work == work ? item->max_bytes : 0;
        }
        uint64_t capacity = sb_min_u64(sb_min_u64(wanted, limit) + batch_room, share);
        work->data = NULL;
        work->max_bytes = 0;
        if (turn != 0 && granted + capacity > half) {
            continue; /* No buffer: its items answer without records. */
        }
        granted += capacity;
        /* Room below max_bytes always leaves a whole batch's room in the buffer. */
        work->max_bytes = (uint32_t)(capacity - batch_room);
        work->data = sb_bufpool_acquire(&self->buffers, (uint32_t)capacity,
                                        &work->data_capacity);
        if (work->data == NULL) {
            return false;
        }
    }
    return true;
}

/* The response's size besides the records: the topic names echoed back (unknown ones may be
 * longer than a valid name), and each topic's and partition's fixed fields. */
static uint64_t
request_fetch_response_bytes(const struct request *request)
{
    uint64_t bytes = (uint64_t)request->item_count * 48;
    for (uint32_t topic = 0; topic < request->topic_count; topic++) {
        bytes += request->topics[topic].length + 8u;
    }
    return bytes;
}

static void
request_fetch(struct request *request)
{
    struct sb_frame frame;
    request_frame(request, &frame);
    struct sb_fetch_request decoded;
    if (sb_fetch_request_decode(frame.body, frame.body_bytes, request->header.api_version,
                                &decoded) != 0 ||
        decoded.max_wait_ms < 0 || decoded.min_bytes < 0 || decoded.max_bytes < 0 ||
        decoded.isolation_level != SB_FETCH_ISOLATION_READ_UNCOMMITTED) {
        request_respond_error(request, SB_WIRE_ERROR_INVALID_REQUEST);
        return;
    }
    uint32_t topic_count = decoded.topic_cursor.count;
    uint32_t item_count = request_fetch_count(&decoded);
    uint64_t extra = (uint64_t)topic_count * sizeof(struct sb_fetch_topic_response) +
                     (uint64_t)item_count * sizeof(struct sb_fetch_partition_response);
    if (!request_reserve_items(request, topic_count, item_count, extra)) {
        return;
    }
    request->fetch_max_bytes = decoded.max_bytes;
    request->fetch_batch_room = 0;
    if (request_fetch_items(request, &decoded) != 0) {
        request_respond_error(request, SB_WIRE_ERROR_INVALID_REQUEST);
        return;
    }
    request_group_works(request);
    int32_t wait_ms = decoded.max_wait_ms > 0 ? decoded.max_wait_ms : 0;
    wait_ms = wait_ms < SB_NET_FETCH_WAIT_MAX_MS ? wait_ms : SB_NET_FETCH_WAIT_MAX_MS;
    request->fetch_min_bytes = decoded.min_bytes;
    request->fetch_deadline_ns = sb_clock_monotonic_ns() + (uint64_t)wait_ms * SB_NS_PER_MS;
    request_fetch_read(request); /* Waits, if it must, once this read came short. */
}

/* Gives back the works' buffers. */
static void
request_fetch_release(struct request *request)
{
    for (uint32_t index = 0; index < request->work_count; index++) {
        struct work *work = &request->works[index];
        if (work->data != NULL) {
            sb_bufpool_release(&request->home->buffers, work->data, work->data_capacity);
            work->data = NULL;
        }
    }
}

/* Sends the works to wait for data they have not read yet, holding no buffers, until the
 * deadline. */
static void
request_fetch_wait(struct request *request)
{
    uint64_t now_ns = sb_clock_monotonic_ns();
    uint64_t left_ms = request->fetch_deadline_ns > now_ns
                           ? (request->fetch_deadline_ns - now_ns) / SB_NS_PER_MS : 0;
    request->fetch_waiting = true;
    request_fetch_release(request);
    for (uint32_t index = 0; index < request->work_count; index++) {
        request->works[index].max_wait_ms = (int32_t)sb_max_u64(left_ms, 1);
    }
    for (uint32_t index = 0; index < request->item_count; index++) {
        request->items[index].data_bytes = 0;
    }
    request_dispatch(request);
}

/* Takes the works' buffers and sends them to read (BROKER_BUSY if the memory is busy). */
static void
request_fetch_read(struct request *request)
{
    request->fetch_waiting = false;
    /* The response itself is taken when the works are back, sized to what they read. */
    uint64_t response = request_fetch_response_bytes(request) + RESPONSE_SLACK_BYTES;
    if (!request_fetch_buffers(request, response)) {
        request_respond_error(request, SB_WIRE_ERROR_BROKER_BUSY);
        return;
    }
    for (uint32_t index = 0; index < request->work_count; index++) {
        request->works[index].max_wait_ms = 0;
    }
    request_dispatch(request);
}

/* After a read: items whose first batch did not fit their work's buffer were stored under a
 * higher max_message_bytes than today's. A batch no response can carry (above max_frame_bytes
 * less the response's own fields, or above the half of an idle shard's request memory the
 * works may take) is MESSAGE_TOO_LARGE; for the others the works read again with room for the
 * largest. Each read again needs a larger batch than the last, so it ends. Returns true when
 * it reads again. */
static bool
request_fetch_reread(struct request *request)
{
    const struct sb_broker_config *config = &request->home->broker->config;
    uint64_t response = request_fetch_response_bytes(request) + RESPONSE_SLACK_BYTES;
    uint64_t frame = (uint64_t)config->max_frame_bytes + SB_FRAME_HEADER_BYTES;
    uint64_t carried = sb_min_u64(frame > response ? frame - response : 0,
                                  request_fetch_half(request, response));
    uint32_t needed = 0;
    for (uint32_t index = 0; index < request->item_count; index++) {
        struct item *item = &request->items[index];
        if (item->batch_needed > carried) {
            item->error = SB_WIRE_ERROR_MESSAGE_TOO_LARGE;
        } else if (item->batch_needed > needed) {
            needed = item->batch_needed;
        }
    }
    if (needed <= request->fetch_batch_room) {
        return false;
    }
    request->fetch_batch_room = needed;
    request_fetch_release(request);
    request_fetch_read(request);
    return true;
}

/* The works are back: after a wait, read; after a read, read again if a stored batch did not
 * fit, else answer, unless less than min_bytes came, nothing failed, and there is time to wait
 * for more. A cancelled fetch, or any on a stopping broker, is answered with what it has. */
static void
request_fetch_continue(struct request *request)
{
    bool ending = request->fetch_cancelled || request->home->stopping;
    if (request->fetch_waiting && !ending) {
        request_fetch_read(request);
        return;
    }
    if (!request->fetch_waiting && !ending && request_fetch_reread(request)) {
        return;
    }
    uint64_t read_bytes = 0;
    bool failed = false;
    for (uint32_t index = 0; index < request->item_count; index++) {
        read_bytes += request->items[index].data_bytes;
        failed = failed || request->items[index].error != SB_WIRE_ERROR_NONE;
    }
    /* As before the phases: at least one byte is waited for (min_bytes <= 0 counts as 1). */
    uint64_t wanted = request->fetch_min_bytes > 0 ? (uint64_t)request->fetch_min_bytes : 1;
    uint64_t now_ns = sb_clock_monotonic_ns();
    if (!request->fetch_waiting && !ending && !failed && read_bytes < wanted &&
        now_ns + SB_NS_PER_MS <= request->fetch_deadline_ns) {
        request_fetch_wait(request);
        return;
    }
    request_finish_fetch(request);
}

void
request_cancel(struct request *request)
{
    struct broker_shard *self = request->home;
    if (request->header.api_key != SB_API_FETCH || request->complete ||
        request->fetch_cancelled) {
        return;
    }
    request->fetch_cancelled = true;
    for (uint32_t index = 0; request->fetch_waiting && index < request->work_count; index++) {
        struct work *work = &request->works[index];
        if (work->owner == self->id) {
            work_cancel(self, work);
        } else {
            /* A hint: if it cannot go now, the fetch ends at its deadline (at most
             * SB_NET_FETCH_WAIT_MAX_MS). */
            broker_send_if_room(self, work->owner, MSG_WORK_CANCEL, work);
        }
    }
}

/* As request_produce_count. */
static uint32_t
request_list_offsets_count(const struct sb_list_offsets_request *decoded,
                           uint64_t *names_bytes_out)
{
    struct sb_list_offsets_request copy = *decoded;
    struct sb_list_offsets_topic topic;
    uint32_t items = 0;
    *names_bytes_out = 0;
    while (sb_list_offsets_request_next_topic(&copy, &topic) == 1) {
        items += topic.partition_cursor.count;
        *names_bytes_out += topic.name.length;
    }
    return items;
}

static int
request_list_offsets_items(struct request *request, struct sb_list_offsets_request *decoded)
{
    struct sb_list_offsets_topic topic;
    uint32_t topic_index = 0;
    uint32_t item_index = 0;
    while (sb_list_offsets_request_next_topic(decoded, &topic) == 1) {
        request->topics[topic_index] = topic.name;
        struct sb_list_offsets_partition partition;
        int next;
        while ((next = sb_list_offsets_topic_next_partition(&topic, &partition)) == 1) {
            struct item *item = &request->items[item_index++];
            item->topic_index = topic_index;
            item->partition = partition.partition;
            item->timestamp = partition.timestamp;
            item->offset = -1;
            item->found_timestamp = -1;
            request_item_resolve(request, item, topic.name);
        }
        if (next < 0) {
            return next;
        }
        topic_index++;
    }
    return 0;
}

static void
request_list_offsets(struct request *request)
{
    struct sb_frame frame;
    request_frame(request, &frame);
    struct sb_list_offsets_request decoded;
    if (sb_list_offsets_request_decode(frame.body, frame.body_bytes, &decoded) != 0) {
        request_respond_error(request, SB_WIRE_ERROR_INVALID_REQUEST);
        return;
    }
    uint32_t topic_count = decoded.topic_cursor.count;
    uint64_t names_bytes;
    uint32_t item_count = request_list_offsets_count(&decoded, &names_bytes);
    uint64_t extra = (uint64_t)topic_count * sizeof(struct sb_list_offsets_topic_response) +
                     (uint64_t)item_count * sizeof(struct sb_list_offsets_partition_response);
    if (!request_reserve_items(request, topic_count, item_count, extra) ||
        !request_reserve_response(request, names_bytes + (uint64_t)topic_count * 8 +
                                               (uint64_t)item_count * 24)) {
        return;
    }
    if (request_list_offsets_items(request, &decoded) != 0) {
        request_respond_error(request, SB_WIRE_ERROR_INVALID_REQUEST);
        return;
    }
    request_dispatch(request);
}

/* DescribeTopic: one item per partition of the topic, answered by their owners. */
static void
request_describe_topic(struct request *request)
{
    struct broker_shard *self = request->home;
    struct sb_frame frame;
    request_frame(request, &frame);
    struct sb_describe_topic_request decoded;
    if (sb_describe_topic_request_decode(frame.body, frame.body_bytes, &decoded) != 0) {
        request_respond_error(request, SB_WIRE_ERROR_INVALID_REQUEST);
        return;
    }
    struct sb_topic *topic = sb_metadata_find(&self->metadata, decoded.name.chars,
                                              decoded.name.length);
    uint32_t item_count = topic != NULL ? topic->partition_count : 0;
    uint64_t extra = (uint64_t)item_count * sizeof(struct sb_describe_topic_partition) +
                     16 * sizeof(struct sb_topic_config) + 16 * 64;
    if (!request_reserve_items(request, 1, item_count, extra) ||
        !request_reserve_response(request, (uint64_t)item_count * 40 + decoded.name.length +
                                               4096)) {
        return;
    }
    request->topics[0] = decoded.name;
    for (uint32_t index = 0; index < item_count; index++) {
        struct item *item = &request->items[index];
        item->partition = (int32_t)index;
        request_item_resolve(request, item, decoded.name);
    }
    request_dispatch(request);
}

static void request_finish(struct request *request);

/* Runs each work: local ones now, remote ones by message. A guard count keeps the request from
 * finishing while works are still being handed out. */
static void
request_dispatch(struct request *request)
{
    struct broker_shard *self = request->home;
    if (request->header.api_key != SB_API_FETCH && request->header.api_key != SB_API_HEALTH) {
        request_group_works(request);
    }
    request->works_pending = request->work_count + 1;
    for (uint32_t index = 0; index < request->work_count; index++) {
        struct work *work = &request->works[index];
        if (work->owner == self->id) {
            work_execute(self, work);
        } else {
            broker_send(self, work->owner, MSG_WORK, &work->outgoing, work);
        }
    }
    if (--request->works_pending == 0) {
        request_finish(request);
    }
}

void
request_work_released(struct work *work)
{
    struct request *request = work->request;
    SB_ASSERT(request->works_held > 0);
    if (--request->works_held == 0 && request->release_deferred) {
        request_release(request);
    }
}

void
request_work_done(struct work *work)
{
    struct request *request = work->request;
    if (work->data != NULL) {
        /* The reservation now follows what was read. */
        work->data_capacity = sb_bufpool_shrink(&request->home->buffers, work->data,
                                                work->data_capacity, work->data_used);
    }
    request->works_held += work->answered_early ? 1 : 0;
    SB_ASSERT(request->works_pending > 0);
    if (--request->works_pending == 0) {
        request_finish(request);
    }
}

/* Items are in request order, so each topic's items are one run: returns the run's length
 * starting at *cursor and moves the cursor past it. */
static uint32_t
request_topic_span(const struct request *request, uint32_t topic, uint32_t *cursor)
{
    uint32_t first = *cursor;
    while (*cursor < request->item_count && request->items[*cursor].topic_index == topic) {
        (*cursor)++;
    }
    return *cursor - first;
}

/* Produce response: one entry per item, grouped by topic in request order. */
static void
request_finish_produce(struct request *request)
{
    if (request->no_response) {
        request_complete(request);
        return;
    }
    struct sb_produce_topic_response *topics = request_extra(request);
    struct sb_produce_partition_response *partitions =
        (struct sb_produce_partition_response *)(void *)(topics + request->topic_count);
    for (uint32_t index = 0; index < request->item_count; index++) {
        const struct item *item = &request->items[index];
        partitions[index] = (struct sb_produce_partition_response){
            .partition = item->partition, .error_code = item->error,
            /* Appending stopped part-way (docs/protocol.md): where the stored ones start. */
            .base_offset = item->error == 0 || item->batches_done > 0 ? item->base_offset : -1,
            .log_append_time_ms = item->log_append_time,
            .log_start_offset = item->log_start_offset,
        };
    }
    uint32_t item_index = 0;
    for (uint32_t topic = 0; topic < request->topic_count; topic++) {
        uint32_t first = item_index;
        uint32_t count = request_topic_span(request, topic, &item_index);
        topics[topic] = (struct sb_produce_topic_response){
            .name = request->topics[topic], .partitions = partitions + first,
            .partition_count = count};
    }
    struct sb_produce_response response = {.topics = topics,
                                           .topic_count = request->topic_count};
    struct sb_wire_writer writer;
    request_writer_begin(request, &writer);
    request_writer_finish(request, &writer, sb_produce_response_encode(&writer, &response));
}

/* Fetch response: whole batches only, trimmed to the limit in request order, but the first
 * partition with data always keeps its first batch. Returns the record bytes kept. */
static uint64_t
request_fetch_trim(struct request *request, struct sb_fetch_partition_response *partitions)
{
    uint64_t limit = request_fetch_limit(request);
    uint64_t used = 0;
    for (uint32_t index = 0; index < request->item_count; index++) {
        const struct item *item = &request->items[index];
        uint32_t bytes = item->error == 0 ? item->data_bytes : 0;
        if (used != 0 && used + bytes > limit) {
            bytes = 0; /* Past the response limit: the client fetches it next time. */
        }
        used += bytes;
        partitions[index] = (struct sb_fetch_partition_response){
            .partition = item->partition, .error_code = item->error,
            .high_watermark = item->high_watermark, .log_start_offset = item->log_start_offset,
            .last_stable_offset = item->high_watermark,
            .records = {bytes != 0 ? item->work->data + item->data_offset
                                   : (const uint8_t *)"", bytes},
        };
    }
    return used;
}

/* The response buffer is taken now, for the records actually kept; the works' buffers go
 * back as soon as they are copied. */
static void
request_finish_fetch(struct request *request)
{
    struct sb_fetch_topic_response *topics = request_extra(request);
    struct sb_fetch_partition_response *partitions =
        (struct sb_fetch_partition_response *)(void *)(topics + request->topic_count);
    uint64_t records = request_fetch_trim(request, partitions);
    if (!request_reserve_response(request, request_fetch_response_bytes(request) + records)) {
        return;
    }
    uint32_t item_index = 0;
    for (uint32_t topic = 0; topic < request->topic_count; topic++) {
        uint32_t first = item_index;
        uint32_t count = request_topic_span(request, topic, &item_index);
        topics[topic] = (struct sb_fetch_topic_response){
            .name = request->topics[topic], .partitions = partitions + first,
            .partition_count = count};
    }
    struct sb_fetch_response response = {.topics = topics, .topic_count = request->topic_count};
    struct sb_wire_writer writer;
    request_writer_begin(request, &writer);
    int encoded = sb_fetch_response_encode(&writer, &response);
    request_fetch_release(request);
    request_writer_finish(request, &writer, encoded);
}

static void
request_finish_list_offsets(struct request *request)
{
    struct sb_list_offsets_topic_response *topics = request_extra(request);
    struct sb_list_offsets_partition_response *partitions =
        (struct sb_list_offsets_partition_response *)(void *)(topics + request->topic_count);
    for (uint32_t index = 0; index < request->item_count; index++) {
        const struct item *item = &request->items[index];
        partitions[index] = (struct sb_list_offsets_partition_response){
            .partition = item->partition, .error_code = item->error,
            .timestamp = item->found_timestamp, .offset = item->offset};
    }
    uint32_t item_index = 0;
    for (uint32_t topic = 0; topic < request->topic_count; topic++) {
        uint32_t first = item_index;
        uint32_t count = request_topic_span(request, topic, &item_index);
        topics[topic] = (struct sb_list_offsets_topic_response){
            .name = request->topics[topic], .partitions = partitions + first,
            .partition_count = count};
    }
    struct sb_list_offsets_response response = {.topics = topics,
                                                .topic_count = request->topic_count};
    struct sb_wire_writer writer;
    request_writer_begin(request, &writer);
    request_writer_finish(request, &writer,
                          sb_list_offsets_response_encode(&writer, &response));
}

/* The topic's configs as text for DescribeTopic, into `configs` (text in `text`). */
static uint32_t
request_describe_configs(const struct sb_topic *topic, struct sb_topic_config *configs,
                         char *text)
{
    const struct sb_partition_config *config = &topic->config;
    char *cursor = text;
    uint32_t count = 0;
    const char *keys[] = {"retention.ms", "retention.bytes", "segment.bytes",
                          "delete.retention.ms", "min.compaction.lag.ms", "max.message.bytes"};
    int64_t values[] = {config->retention_ms, config->retention_bytes,
                        (int64_t)config->segment_bytes, config->delete_retention_ms,
                        config->min_compaction_lag_ms, topic->max_message_bytes};
    for (uint32_t index = 0; index < SB_ARRAY_COUNT(keys); index++) {
        int length = snprintf(cursor, 64, "%lld", (long long)values[index]);
        configs[count++] = (struct sb_topic_config){sb_wire_string_from_cstr(keys[index]),
                                                    {cursor, (uint16_t)length}, 0};
        cursor += length + 1;
    }
    configs[count++] = (struct sb_topic_config){
        sb_wire_string_from_cstr("cleanup.policy"),
        sb_wire_string_from_cstr(config->cleanup == SB_CLEANUP_COMPACT ? "compact" : "delete"),
        0};
    configs[count++] = (struct sb_topic_config){
        sb_wire_string_from_cstr("message.timestamp.type"),
        sb_wire_string_from_cstr(config->log_append_time ? "LogAppendTime" : "CreateTime"), 0};
    return count;
}

static void
request_finish_describe(struct request *request)
{
    struct broker_shard *self = request->home;
    struct sb_topic *topic = sb_metadata_find(&self->metadata, request->topics[0].chars,
                                              request->topics[0].length);
    struct sb_describe_topic_partition *partitions = request_extra(request);
    struct sb_topic_config *configs =
        (struct sb_topic_config *)(void *)(partitions + request->item_count);
    struct sb_describe_topic_response response = {.name = request->topics[0]};
    if (topic == NULL) {
        response.error_code = SB_WIRE_ERROR_UNKNOWN_TOPIC_OR_PARTITION;
    } else {
        for (uint32_t index = 0; index < request->item_count; index++) {
            const struct item *item = &request->items[index];
            partitions[index] = (struct sb_describe_topic_partition){
                .partition = item->partition, .leader = self->broker->config.node_id,
                .shard = (int32_t)item->owner, .log_start_offset = item->log_start_offset,
                .high_watermark = item->high_watermark, .log_end_offset = item->log_end_offset};
        }
        response.topic_id = topic->topic_id;
        response.partitions = partitions;
        response.partition_count = request->item_count;
        response.configs = configs;
        response.config_count = request_describe_configs(topic, configs,
                                                         (char *)(configs + 16));
    }
    struct sb_wire_writer writer;
    request_writer_begin(request, &writer);
    request_writer_finish(request, &writer,
                          sb_describe_topic_response_encode(&writer, &response));
}

static void
request_finish_health(struct request *request)
{
    struct broker_shard *self = request->home;
    struct sb_health_response response = {
        .status = self->stopping ? SB_HEALTH_STOPPING : SB_HEALTH_SERVING,
        .node_id = self->broker->config.node_id,
        .uptime_ms = (int64_t)((sb_clock_monotonic_ns() - self->broker->started_ns) /
                               SB_NS_PER_MS),
        .shards = request->health,
        .shard_count = self->metadata.shard_count,
    };
    struct sb_wire_writer writer;
    request_writer_begin(request, &writer);
    request_writer_finish(request, &writer, sb_health_response_encode(&writer, &response));
}

static void
request_finish(struct request *request)
{
    switch (request->header.api_key) {
    case SB_API_PRODUCE:
        request_finish_produce(request);
        break;
    case SB_API_FETCH:
        request_fetch_continue(request);
        break;
    case SB_API_LIST_OFFSETS:
        request_finish_list_offsets(request);
        break;
    case SB_API_DESCRIBE_TOPIC:
        request_finish_describe(request);
        break;
    case SB_API_HEALTH:
        request_finish_health(request);
        break;
    default:
        SB_ASSERT(false && "not a partition request");
    }
}

/* Control requests run on shard 0; the response buffer is taken here, on the home shard. */
static void
request_admin(struct request *request)
{
    struct broker_shard *self = request->home;
    uint64_t frame_bytes = request->header.frame_bytes;
    if (!request_reserve_response(request, frame_bytes * 2 + 4096)) {
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

void
request_start(struct request *request)
{
    const struct sb_frame_header *header = &request->header;
    size_t total = sb_frame_total_bytes(header);
    if (sb_frame_verify_crc(request->frame, total, header) != 0) {
        /* The stream cannot be trusted any more: answer, then close (docs/protocol.md). */
        if (request->conn != NULL) {
            conn_close_after_answers(request->conn);
        }
        request_respond_error(request, SB_WIRE_ERROR_CORRUPT_FRAME);
        return;
    }
    bool silent = (header->flags & SB_FRAME_FLAG_NO_RESPONSE) != 0;
    if (silent && header->api_key != SB_API_PRODUCE) {
        if (request->conn != NULL) {
            conn_close_after_answers(request->conn);
        }
        request_respond_error(request, SB_WIRE_ERROR_INVALID_REQUEST);
        return;
    }
    enum sb_wire_error error = sb_api_check(header->api_key, header->api_version);
    if (error != SB_WIRE_ERROR_NONE || sb_frame_header_is_response(header)) {
        request_respond_error(request, error != SB_WIRE_ERROR_NONE
                                           ? (int16_t)error : SB_WIRE_ERROR_INVALID_REQUEST);
        return;
    }
    switch (header->api_key) {
    case SB_API_API_VERSIONS:
        request_api_versions(request);
        break;
    case SB_API_METADATA:
        request_metadata(request);
        break;
    case SB_API_LIST_TOPICS:
        request_list_topics(request);
        break;
    case SB_API_HEALTH:
        request_health(request);
        break;
    case SB_API_PRODUCE:
        request_produce(request);
        break;
    case SB_API_FETCH:
        request_fetch(request);
        break;
    case SB_API_LIST_OFFSETS:
        request_list_offsets(request);
        break;
    case SB_API_DESCRIBE_TOPIC:
        request_describe_topic(request);
        break;
    default:
        request_admin(request);
        break;
    }
}
