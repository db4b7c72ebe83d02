/*
 * test/broker/broker_unit.c - one broker shard in the test's process (broker_unit.h).
 */
#include "broker_unit.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/config.h"

/* Request memory of the unit shard, and its request slots. */
#define UNIT_REQUEST_MEMORY_BYTES (64u << 20)
#define UNIT_REQUESTS 16u

void
broker_unit_init(struct broker_unit *unit, uint32_t shard_count)
{
    memset(unit, 0, sizeof(*unit));
    snprintf(unit->data_dir, sizeof(unit->data_dir), "/tmp/sb-unit-XXXXXX");
    cr_assert_not_null(mkdtemp(unit->data_dir));
    struct sb_broker_config *config = &unit->broker.config;
    sb_broker_config_defaults(config);
    snprintf(config->data_dir, sizeof(config->data_dir), "%s", unit->data_dir);
    struct broker_shard *self = &unit->shard;
    self->broker = &unit->broker;
    struct sb_sim_config sim_config = {.seed = 1};
    cr_assert_eq(sb_sim_create(&sim_config, &unit->sim), 0);
    struct sb_io_config io_config = {.backend = SB_IO_BACKEND_SIM, .sim = unit->sim};
    cr_assert_eq(sb_io_create(&io_config, &self->io), 0);
    cr_assert_eq(sb_metadata_init(&self->metadata), 0);
    self->metadata.shard_count = shard_count;
    self->metadata.next_topic_id = 1;
    cr_assert_eq(sb_assignment_init(&self->assignment), 0);
    cr_assert_eq(sb_bufpool_init(&self->buffers, UNIT_REQUEST_MEMORY_BYTES,
                                 config->max_frame_bytes + SB_FRAME_HEADER_BYTES), 0);
    cr_assert_eq(sb_arena_init(&unit->arena, UNIT_REQUESTS * (sizeof(struct request) + 64) +
                                                 4096), 0);
    cr_assert_eq(sb_pool_init(&self->requests, &unit->arena, sizeof(struct request),
                              _Alignof(struct request), UNIT_REQUESTS), 0);
    cr_assert_eq(admin_init(self), 0);
}

void
broker_unit_deinit(struct broker_unit *unit)
{
    struct broker_shard *self = &unit->shard;
    cr_assert_eq(self->requests_in_flight, 0, "every request was released");
    admin_deinit(self);
    sb_arena_deinit(&unit->arena);
    sb_bufpool_deinit(&self->buffers);
    sb_metadata_deinit(&self->metadata);
    sb_assignment_deinit(&self->assignment);
    sb_io_destroy(self->io);
    sb_sim_destroy(unit->sim);
    rmdir(unit->data_dir);
}

uint32_t
broker_unit_topic(struct broker_unit *unit, const char *name, uint32_t partitions)
{
    struct sb_metadata *metadata = &unit->shard.metadata;
    struct sb_topic topic = {.used = true, .topic_id = metadata->next_topic_id,
                             .name_length = (uint16_t)strlen(name),
                             .partition_count = partitions,
                             .max_message_bytes = unit->broker.config.max_message_bytes};
    snprintf(topic.name, sizeof(topic.name), "%s", name);
    topic.config = unit->broker.config.topic_defaults;
    cr_assert_eq(sb_metadata_put(metadata, &topic), 0);
    cr_assert_geq(sb_assignment_place_local(&unit->shard.assignment, topic.topic_id, partitions,
                                            metadata->shard_count,
                                            unit->broker.config.node_id), 0);
    return topic.topic_id;
}

struct request *
broker_unit_request(struct broker_unit *unit, uint16_t key, uint16_t version, uint16_t flags,
                    int (*encode_body)(struct sb_wire_writer *writer, const void *context),
                    const void *context)
{
    struct broker_shard *self = &unit->shard;
    struct request *request = sb_pool_acquire(&self->requests);
    cr_assert_not_null(request);
    self->requests_in_flight++;
    request->home = self;
    request->net.framer = &sb_framer_native;
    request->net.frame = sb_bufpool_acquire(&self->buffers, 1u << 20, &request->net.frame_capacity);
    cr_assert_not_null(request->net.frame);
    struct sb_wire_writer writer;
    sb_wire_writer_init(&writer, request->net.frame, request->net.frame_capacity);
    struct sb_frame_header header = {.api_key = key, .api_version = version,
                                      .correlation_id = 7, .flags = flags};
    cr_assert_eq(sb_frame_begin(&writer, &header), 0);
    cr_assert_eq(encode_body != NULL ? encode_body(&writer, context) : 0, 0);
    cr_assert_eq(sb_frame_finish(&writer), 0);
    cr_assert_eq(sb_frame_header_decode(request->net.frame, sb_wire_writer_length(&writer),
                                        request->net.frame_capacity, &request->header), 0);
    return request;
}

int16_t
broker_unit_response(const struct request *request, const uint8_t **body_out,
                     uint32_t *body_bytes_out)
{
    cr_assert(request->net.complete, "the request was answered");
    cr_assert_not_null(request->net.response);
    struct sb_frame frame;
    cr_assert_eq(sb_frame_decode(request->net.response, request->net.response_bytes, UINT32_MAX,
                                 &frame), 0);
    cr_assert(sb_frame_header_is_response(&frame.header));
    cr_assert_eq(frame.header.api_key, request->header.api_key);
    cr_assert_eq(frame.header.correlation_id, request->header.correlation_id);
    *body_out = frame.body;
    *body_bytes_out = frame.body_bytes;
    return frame.header.error_code;
}
