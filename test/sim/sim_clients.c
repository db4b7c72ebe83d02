/*
 * test/sim/sim_clients.c - the simulated clients of sb-sim (sim_world.h):
 *
 *   admin     creates the topics (again after each restart: an acknowledged
 *             topic must then already exist), and keeps asking ListTopics,
 *             DescribeTopic (high watermark >= every acks=all ack so far),
 *             Health and a scratch topic's CreateTopics / DeleteTopics;
 *   producer  acks=all or acks=1, idempotent or not, pipelined up to its
 *             depth, one or two partitions per request; each acknowledged
 *             record is claimed in the model at its offset;
 *   consumer  one fetch at a time over every partition, from the next offset
 *             of each; offsets must be dense, records must be ones sent to
 *             that partition, at the offsets acknowledgements named, and
 *             never at or past the high watermark; now and then ListOffsets
 *             (earliest 0, latest at or past every acks=all ack);
 *   member    a consumer group member (sim_members.c).
 *
 * No client ever resends a batch: a request whose answer is lost (reset,
 * power cut) has an unknown outcome, which the model allows.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "core/crc32c.h"
#include "proto/api_admin.h"
#include "proto/api_fetch.h"
#include "proto/api_meta.h"
#include "proto/api_produce.h"
#include "proto/api_producer.h"
#include "proto/batch.h"
#include "test/sim/sim_world.h"

/* A produce batch holds at most this many records. */
#define CLIENT_BATCH_RECORDS_MAX 8u
/* Bytes of one encoded batch at most. */
#define CLIENT_BATCH_BYTES 1024u
/* What produce requests ask the broker to wait at most. */
#define CLIENT_PRODUCE_TIMEOUT_MS 5000
/* A request unanswered this long on a live connection breaks the broker's promises. */
#define CLIENT_RESPONSE_LIMIT_NS (120 * SB_NS_PER_S)
/* Record timestamps: a fixed wall-clock base plus virtual time (retention is off). */
#define CLIENT_TIMESTAMP_BASE_MS 1700000000000ll
#define CLIENT_SCRATCH_TOPIC "scratch"

static struct sim_model *
client_model(struct sim_client *client)
{
    return &client->world->model;
}

void
sim_client_fail(struct sim_client *client, const char *what, int16_t error)
{
    static const char *const roles[] = {"admin", "producer", "consumer", "member"};
    sim_model_fail(client_model(client), "client %u (%s): %s (error %d: %s)", client->index,
                   roles[client->role], what, error, sb_wire_error_name(error));
}

/* ---- Sending ------------------------------------------------------------------------------ */

bool
sim_client_begin(struct sim_client *client, uint16_t api_key, struct sb_wire_writer *writer)
{
    return sim_conn_begin(&client->conn, api_key, 0, writer) == 0;
}

bool
sim_client_finish(struct sim_client *client, struct sb_wire_writer *writer, int encoded,
              uint64_t tag)
{
    int result = sim_conn_finish(&client->conn, writer, encoded,
                                 sim_world_now_ns(client->world), tag);
    if (result != 0) {
        sim_model_fail(client_model(client), "client %u: cannot encode a request: %d",
                       client->index, result);
    }
    return result == 0;
}

/* ---- Admin -------------------------------------------------------------------------------- */

static void
admin_create_topics(struct sim_client *client)
{
    struct sim_world *world = client->world;
    struct sb_create_topic topics[SIM_TOPICS];
    for (uint32_t topic = 0; topic < SIM_TOPICS; topic++) {
        topics[topic] = (struct sb_create_topic){
            .name = sb_wire_string_from_cstr(sim_world_topic_name(topic)),
            .partition_count = (int32_t)world->partitions[topic],
            .replication_factor = 1,
        };
    }
    struct sb_create_topics_request request = {.topics = topics, .topic_count = SIM_TOPICS,
                                                .timeout_ms = 5000};
    struct sb_wire_writer writer;
    if (sim_client_begin(client, SB_API_CREATE_TOPICS, &writer)) {
        sim_client_finish(client, &writer, sb_create_topics_request_encode(&writer, &request), 0);
    }
}

bool
sim_client_error_tolerated(int16_t error)
{
    return error == SB_WIRE_ERROR_STORAGE_ERROR || error == SB_WIRE_ERROR_DISK_FULL ||
           error == SB_WIRE_ERROR_REQUEST_TIMED_OUT || error == SB_WIRE_ERROR_BROKER_BUSY ||
           error == SB_WIRE_ERROR_SHUTTING_DOWN;
}

uint32_t
sim_client_topic_index(struct sb_wire_string name)
{
    for (uint32_t topic = 0; topic < SIM_TOPICS; topic++) {
        if (sb_wire_string_equals(name, sim_world_topic_name(topic))) {
            return topic;
        }
    }
    return UINT32_MAX;
}

static void
admin_created(struct sim_client *client, const struct sb_frame *frame)
{
    struct sim_world *world = client->world;
    struct sb_create_topics_response response;
    if (sb_create_topics_response_decode(frame->body, frame->body_bytes, &response) != 0) {
        sim_client_fail(client, "a CreateTopics response that does not decode", 0);
        return;
    }
    struct sb_create_topic_result result;
    /* Bounded by the response's topic count (decode checked it against the body). */
    while (sb_create_topics_response_next_topic(&response, &result) == 1) {
        uint32_t topic = sim_client_topic_index(result.name);
        if (topic == UINT32_MAX) {
            continue; /* The scratch topic: any answer goes. */
        }
        if (result.error_code == SB_WIRE_ERROR_NONE && world->topic_acked[topic]) {
            sim_client_fail(client, "an acknowledged topic was lost: CreateTopics made it anew", 0);
        } else if (result.error_code == SB_WIRE_ERROR_NONE ||
                   result.error_code == SB_WIRE_ERROR_TOPIC_ALREADY_EXISTS) {
            world->topic_ready[topic] = true;
            world->topic_acked[topic] = true;
            world->topic_ids[topic] = result.topic_id != 0 ? result.topic_id
                                                           : world->topic_ids[topic];
        } else if (!sim_client_error_tolerated(result.error_code)) {
            sim_client_fail(client, "CreateTopics refused a valid topic", result.error_code);
        }
    }
}

static void
admin_listed(struct sim_client *client, const struct sb_frame *frame)
{
    struct sim_world *world = client->world;
    struct sb_list_topics_response response;
    if (sb_list_topics_response_decode(frame->body, frame->body_bytes, &response) != 0) {
        sim_client_fail(client, "a ListTopics response that does not decode", 0);
        return;
    }
    bool found[SIM_TOPICS] = {false};
    struct sb_list_topics_entry entry;
    while (sb_list_topics_response_next_topic(&response, &entry) == 1) {
        uint32_t topic = sim_client_topic_index(entry.name);
        if (topic != UINT32_MAX) {
            found[topic] = true;
            world->topic_ids[topic] = entry.topic_id;
            if (entry.partition_count != (int32_t)world->partitions[topic]) {
                sim_client_fail(client, "ListTopics shows another partition count", 0);
            }
        }
    }
    for (uint32_t topic = 0; topic < SIM_TOPICS; topic++) {
        if (world->topic_ready[topic] && !found[topic]) {
            sim_client_fail(client, "ListTopics lacks a topic that exists", 0);
        }
    }
}

static void
admin_described(struct sim_client *client, uint32_t topic, const struct sb_frame *frame)
{
    struct sim_world *world = client->world;
    struct sb_describe_topic_response response;
    if (sb_describe_topic_response_decode(frame->body, frame->body_bytes, &response) != 0) {
        sim_client_fail(client, "a DescribeTopic response that does not decode", 0);
        return;
    }
    if (response.error_code != SB_WIRE_ERROR_NONE) {
        if (!sim_client_error_tolerated(response.error_code)) {
            sim_client_fail(client, "DescribeTopic of an existing topic failed",
                            response.error_code);
        }
        return;
    }
    struct sb_describe_topic_partition partition;
    while (sb_describe_topic_response_next_partition(&response, &partition) == 1) {
        uint32_t slot = sim_world_slot(world, topic, partition.partition);
        if (slot == UINT32_MAX) {
            sim_client_fail(client, "DescribeTopic names a partition that does not exist", 0);
            return;
        }
        if (partition.high_watermark < client->durable_at_send[slot]) {
            char what[160];
            snprintf(what, sizeof(what), "DescribeTopic: slot %u high watermark %lld below "
                     "acknowledged offset %lld", slot, (long long)partition.high_watermark,
                     (long long)client->durable_at_send[slot] - 1);
            sim_client_fail(client, what, 0);
        }
    }
}

static void
admin_answered(struct sim_client *client, const struct sim_pending *pending,
               const struct sb_frame *frame)
{
    int16_t error = frame->header.error_code;
    if (error != SB_WIRE_ERROR_NONE) {
        if (!sim_client_error_tolerated(error)) {
            sim_client_fail(client, "an admin request was refused", error);
        }
        return;
    }
    switch (pending->api_key) {
    case SB_API_CREATE_TOPICS:
        admin_created(client, frame);
        break;
    case SB_API_LIST_TOPICS:
        admin_listed(client, frame);
        break;
    case SB_API_DESCRIBE_TOPIC:
        admin_described(client, (uint32_t)pending->tag, frame);
        break;
    case SB_API_HEALTH: {
        struct sb_health_response health;
        if (sb_health_response_decode(frame->body, frame->body_bytes, &health) != 0 ||
            health.shard_count != client->world->shards) {
            sim_client_fail(client, "a Health response that does not decode or names other shards",
                        0);
        }
        break;
    }
    default:
        break; /* DeleteTopics of the scratch topic: any answer goes. */
    }
}

static void
admin_describe(struct sim_client *client, uint32_t topic)
{
    struct sim_world *world = client->world;
    for (uint32_t slot = 0; slot < world->slot_count; slot++) {
        client->durable_at_send[slot] = world->model.slots[slot].durable_end;
    }
    struct sb_describe_topic_request request = {
        .name = sb_wire_string_from_cstr(sim_world_topic_name(topic))};
    struct sb_wire_writer writer;
    if (sim_client_begin(client, SB_API_DESCRIBE_TOPIC, &writer)) {
        sim_client_finish(client, &writer, sb_describe_topic_request_encode(&writer, &request),
                      topic);
    }
}

/* One admin operation, chosen by the seed; one at a time keeps describe's snapshot valid. */
static void
admin_drive(struct sim_client *client)
{
    struct sim_world *world = client->world;
    bool ready = world->topic_ready[0] && world->topic_ready[1];
    if (!sim_conn_can_send(&client->conn, 1) || sim_world_now_ns(world) < client->next_op_ns) {
        return;
    }
    client->next_op_ns = sim_world_now_ns(world) + (1 + sim_world_random(world, 20)) *
                                                         SB_NS_PER_MS;
    if (!ready) {
        admin_create_topics(client);
        return;
    }
    uint64_t choice = sim_world_random(world, 5);
    if (choice == 1) {
        admin_describe(client, (uint32_t)sim_world_random(world, SIM_TOPICS));
        return;
    }
    static const uint16_t api_keys[] = {SB_API_LIST_TOPICS, SB_API_DESCRIBE_TOPIC, SB_API_HEALTH,
                                        SB_API_CREATE_TOPICS, SB_API_DELETE_TOPICS};
    struct sb_wire_writer writer;
    if (!sim_client_begin(client, api_keys[choice], &writer)) {
        return;
    }
    struct sb_wire_string scratch = sb_wire_string_from_cstr(CLIENT_SCRATCH_TOPIC);
    struct sb_list_topics_request list = {.prefix = sb_wire_string_from_cstr("")};
    struct sb_create_topic topic = {.name = scratch, .partition_count = 1,
                                    .replication_factor = 1};
    struct sb_create_topics_request create = {.topics = &topic, .topic_count = 1,
                                              .timeout_ms = 5000};
    struct sb_delete_topics_request delete = {.names = &scratch, .name_count = 1,
                                              .timeout_ms = 5000};
    int encoded = choice == 0   ? sb_list_topics_request_encode(&writer, &list)
                  : choice == 2 ? sb_health_request_encode(&writer)
                  : choice == 3 ? sb_create_topics_request_encode(&writer, &create)
                                : sb_delete_topics_request_encode(&writer, &delete);
    sim_client_finish(client, &writer, encoded, 0);
}

/* ---- Producers ---------------------------------------------------------------------------- */

static void
producer_init_id(struct sim_client *client)
{
    struct sb_init_producer_id_request request = {.producer_id = -1, .producer_epoch = -1};
    client->producer_ready = false;
    struct sb_wire_writer writer;
    client->init_in_flight =
        sim_client_begin(client, SB_API_INIT_PRODUCER_ID, &writer) &&
        sim_client_finish(client, &writer, sb_init_producer_id_request_encode(&writer, &request),
                          0);
}

static void
producer_got_id(struct sim_client *client, const struct sb_frame *frame)
{
    client->init_in_flight = false;
    struct sb_init_producer_id_response response;
    if (frame->header.error_code != SB_WIRE_ERROR_NONE) {
        return; /* Tried again by producer_drive. */
    }
    if (sb_init_producer_id_response_decode(frame->body, frame->body_bytes, &response) != 0) {
        sim_client_fail(client, "an InitProducerId response that does not decode", 0);
        return;
    }
    if (response.error_code != SB_WIRE_ERROR_NONE) {
        if (!sim_client_error_tolerated(response.error_code)) {
            sim_client_fail(client, "InitProducerId failed", response.error_code);
        }
        return;
    }
    client->producer_id = response.producer_id;
    client->producer_epoch = response.producer_epoch;
    memset(client->sequences, 0, sizeof(client->sequences));
    client->producer_ready = true;
}

/* Builds one batch of `count` new records for `slot` into `buffer`. */
static uint32_t
producer_batch(struct sim_client *client, uint32_t slot, uint32_t count, uint8_t *buffer,
               uint64_t *first_id_out)
{
    struct sim_world *world = client->world;
    int64_t now_ms = CLIENT_TIMESTAMP_BASE_MS + (int64_t)(sim_world_now_ns(world) / SB_NS_PER_MS);
    struct sb_batch_builder builder;
    sb_batch_builder_init(&builder, buffer, CLIENT_BATCH_BYTES, now_ms);
    if (client->idempotent) {
        sb_batch_builder_set_producer(&builder, client->producer_id, client->producer_epoch,
                                      client->sequences[slot]);
        client->sequences[slot] += (int32_t)count;
    }
    for (uint32_t index = 0; index < count; index++) {
        uint8_t value[SIM_VALUE_BYTES];
        uint64_t id = sim_model_new_record(&world->model, slot);
        if (index == 0) {
            *first_id_out = id;
        }
        sim_model_value(id, slot, value);
        struct sb_record record = {.key_length = -1, .value = value,
                                   .value_length = SIM_VALUE_BYTES, .timestamp_ms = now_ms};
        if (id == UINT64_MAX || sb_batch_builder_add(&builder, &record) != 0) {
            sim_client_fail(client, "cannot build a batch", 0);
            return 0;
        }
    }
    const uint8_t *batch;
    uint32_t batch_bytes;
    if (sb_batch_builder_finish(&builder, SB_COMPRESSION_NONE, NULL, 0, &batch,
                                &batch_bytes) != 0) {
        sim_client_fail(client, "cannot finish a batch", 0);
        return 0;
    }
    return batch_bytes;
}

/* One produce request: one or two partitions (of one topic or both). */
static void
producer_send(struct sim_client *client)
{
    struct sim_world *world = client->world;
    struct sim_produce_note *note = &client->notes[client->next_note];
    uint8_t batches[2][CLIENT_BATCH_BYTES];
    struct sb_produce_partition partitions[2];
    struct sb_produce_topic topics[2];
    note->part_count = 1 + (uint32_t)(world->slot_count > 1 && sim_world_random(world, 3) == 0);
    note->slots[0] = (uint32_t)sim_world_random(world, world->slot_count);
    note->slots[1] = (note->slots[0] + 1 + (uint32_t)sim_world_random(world, world->slot_count - 1))
                     % world->slot_count;
    uint32_t topic_count = 0;
    for (uint32_t part = 0; part < note->part_count; part++) {
        uint32_t slot = note->slots[part];
        uint32_t topic = slot < world->partitions[0] ? 0 : 1;
        note->counts[part] = 1 + (uint32_t)sim_world_random(world, CLIENT_BATCH_RECORDS_MAX);
        uint32_t bytes = producer_batch(client, slot, note->counts[part], batches[part],
                                        &note->first_ids[part]);
        partitions[part] = (struct sb_produce_partition){
            .partition = (int32_t)(slot - (topic == 0 ? 0 : world->partitions[0])),
            .records = {.data = batches[part], .length = bytes}};
        if (topic_count > 0 && sb_wire_string_equals(topics[topic_count - 1].name,
                                                      sim_world_topic_name(topic))) {
            topics[topic_count - 1].partition_count++;
            continue;
        }
        topics[topic_count++] = (struct sb_produce_topic){
            .name = sb_wire_string_from_cstr(sim_world_topic_name(topic)),
            .partitions = &partitions[part], .partition_count = 1};
    }
    struct sb_produce_request request = {.acks = client->acks,
                                         .timeout_ms = CLIENT_PRODUCE_TIMEOUT_MS,
                                         .topics = topics, .topic_count = topic_count};
    struct sb_wire_writer writer;
    if (sim_client_begin(client, SB_API_PRODUCE, &writer) &&
        sim_client_finish(client, &writer, sb_produce_request_encode(&writer, &request),
                      client->next_note)) {
        client->next_note = (client->next_note + 1) % SIM_CONN_PENDING_MAX;
    }
}

static bool
producer_error_tolerated(const struct sim_client *client, int16_t error)
{
    return sim_client_error_tolerated(error) || error == SB_WIRE_ERROR_NOT_ENOUGH_REPLICAS ||
           error == SB_WIRE_ERROR_TOO_MANY_IN_FLIGHT_REQUESTS ||
           (client->idempotent && (error == SB_WIRE_ERROR_OUT_OF_ORDER_SEQUENCE_NUMBER ||
                                   error == SB_WIRE_ERROR_UNKNOWN_PRODUCER_ID ||
                                   error == SB_WIRE_ERROR_INVALID_PRODUCER_EPOCH));
}

/* Claims the records of batch `part` of `note` at base_offset on. */
static void
producer_acknowledged(struct sim_client *client, const struct sim_produce_note *note,
                      uint32_t part, int64_t base_offset)
{
    uint32_t slot = note->slots[part];
    enum sim_claim claim = client->acks == SB_PRODUCE_ACKS_ALL ? SIM_CLAIM_ACK_ALL
                                                               : SIM_CLAIM_ACK_ONE;
    for (uint32_t index = 0; index < note->counts[part]; index++) {
        uint8_t value[SIM_VALUE_BYTES];
        sim_model_value(note->first_ids[part] + index, slot, value);
        sim_model_claim(client_model(client), slot, base_offset + index, value,
                        SIM_VALUE_BYTES, claim);
    }
}

/* The batch of `note` for topic/partition, or UINT32_MAX. */
static uint32_t
producer_part(struct sim_client *client, const struct sim_produce_note *note,
              struct sb_wire_string name, int32_t partition)
{
    uint32_t topic = sim_client_topic_index(name);
    uint32_t slot = topic == UINT32_MAX ? UINT32_MAX
                                        : sim_world_slot(client->world, topic, partition);
    for (uint32_t part = 0; part < note->part_count; part++) {
        if (note->slots[part] == slot) {
            return part;
        }
    }
    return UINT32_MAX;
}

static void
producer_answered(struct sim_client *client, const struct sim_pending *pending,
                  const struct sb_frame *frame)
{
    const struct sim_produce_note *note = &client->notes[pending->tag];
    bool failed = frame->header.error_code != SB_WIRE_ERROR_NONE;
    struct sb_produce_response response;
    if (!failed && sb_produce_response_decode(frame->body, frame->body_bytes, &response) != 0) {
        sim_client_fail(client, "a Produce response that does not decode", 0);
        return;
    }
    int16_t error = frame->header.error_code;
    uint32_t answered = 0;
    struct sb_produce_topic_response topic;
    while (!failed && sb_produce_response_next_topic(&response, &topic) == 1) {
        struct sb_produce_partition_response partition;
        while (sb_produce_topic_response_next_partition(&topic, &partition) == 1) {
            uint32_t part = producer_part(client, note, topic.name, partition.partition);
            if (part == UINT32_MAX) {
                sim_client_fail(client, "a Produce response names a partition not asked for", 0);
                return;
            }
            answered++;
            if (partition.error_code == SB_WIRE_ERROR_NONE && partition.base_offset >= 0) {
                producer_acknowledged(client, note, part, partition.base_offset);
            } else if (partition.error_code == SB_WIRE_ERROR_NONE) {
                sim_client_fail(client, "a Produce acknowledgement without an offset", 0);
            } else {
                error = partition.error_code;
            }
        }
    }
    if (!failed && answered != note->part_count) {
        sim_client_fail(client, "a Produce response does not answer every partition", 0);
    }
    if (error != SB_WIRE_ERROR_NONE && !producer_error_tolerated(client, error)) {
        sim_client_fail(client, "a valid produce was refused", error);
    }
    if (error != SB_WIRE_ERROR_NONE && client->idempotent) {
        client->producer_ready = false; /* Sequences are unknown now: a fresh producer id. */
    }
}

static void
producer_drive(struct sim_client *client)
{
    struct sim_world *world = client->world;
    if (!world->topic_ready[0] || !world->topic_ready[1] || client->conn.state != SIM_CONN_OPEN) {
        return;
    }
    if (client->idempotent && !client->producer_ready) {
        if (!client->init_in_flight && sim_conn_can_send(&client->conn, client->depth)) {
            producer_init_id(client);
        }
        return;
    }
    if (sim_world_now_ns(world) < client->next_op_ns ||
        !sim_conn_can_send(&client->conn, client->depth)) {
        return;
    }
    client->next_op_ns = sim_world_now_ns(world) + sim_world_random(world, 2 * SB_NS_PER_MS);
    producer_send(client);
}

/* ---- Consumer ----------------------------------------------------------------------------- */

static void
consumer_send(struct sim_client *client)
{
    struct sim_world *world = client->world;
    struct sb_fetch_partition partitions[SIM_SLOTS_MAX];
    struct sb_fetch_topic topics[SIM_TOPICS];
    uint32_t slot = 0;
    for (uint32_t topic = 0; topic < SIM_TOPICS; topic++) {
        topics[topic] = (struct sb_fetch_topic){
            .name = sb_wire_string_from_cstr(sim_world_topic_name(topic)),
            .partitions = &partitions[slot], .partition_count = world->partitions[topic]};
        for (uint32_t partition = 0; partition < world->partitions[topic]; partition++, slot++) {
            partitions[slot] = (struct sb_fetch_partition){
                .partition = (int32_t)partition, .fetch_offset = client->next_offsets[slot],
                .partition_max_bytes = 16 << 10};
            client->durable_at_send[slot] = world->model.slots[slot].durable_end;
        }
    }
    static const int32_t waits_ms[] = {0, 5, 50};
    struct sb_fetch_request request = {
        .max_wait_ms = waits_ms[sim_world_random(world, 3)], .min_bytes = 1,
        .max_bytes = 128 << 10, .topics = topics, .topic_count = SIM_TOPICS};
    struct sb_wire_writer writer;
    client->fetch_in_flight =
        sim_client_begin(client, SB_API_FETCH, &writer) &&
        sim_client_finish(client, &writer, sb_fetch_request_encode(&writer, &request), 0);
}

/* Checks and claims every record of the batches in `records`, which start at the slot's next
 * offset (or in the batch holding it) and must be dense. */
static void
consumer_records(struct sim_client *client, uint32_t slot, struct sb_wire_bytes records,
                 int64_t high_watermark)
{
    struct sim_model *model = client_model(client);
    uint32_t position = 0;
    uint8_t area[SIM_CONN_IN_BYTES / 64];
    /* Bounded: each pass consumes a batch of at least 64 bytes. */
    while (position < records.length && !model->violated) {
        struct sb_batch_header header;
        if (sb_batch_verify(records.data + position, records.length - position, UINT32_MAX,
                            &header) != 0) {
            sim_model_fail(model, "slot %u: a fetched batch at byte %u fails its checks", slot,
                           position);
            return;
        }
        position += header.batch_bytes;
        int64_t next = client->next_offsets[slot];
        if (sb_batch_header_last_offset(&header) < next) {
            continue; /* The batch holding an offset before the one asked for. */
        }
        if (header.base_offset > next) {
            sim_model_fail(model, "slot %u: offsets not dense: expected %lld, a batch starts at "
                           "%lld", slot, (long long)next, (long long)header.base_offset);
            return;
        }
        if (sb_batch_header_last_offset(&header) >= high_watermark) {
            sim_model_fail(model, "slot %u: fetch returned offset %lld at or past the high "
                           "watermark %lld", slot,
                           (long long)sb_batch_header_last_offset(&header),
                           (long long)high_watermark);
            return;
        }
        int64_t length = sb_batch_decompress_records(records.data + position - header.batch_bytes,
                                                     &header, area, sizeof(area));
        struct sb_record_iter iter;
        sb_record_iter_init(&iter, &header, area, length > 0 ? (size_t)length : 0);
        struct sb_record_view record;
        while (length > 0 && sb_record_iter_next(&iter, &record) == 1) {
            if (record.offset >= next) {
                sim_model_claim(model, slot, record.offset, record.value, record.value_length,
                                SIM_CLAIM_READ);
            }
        }
        if (length <= 0 || iter.error != 0) {
            sim_model_fail(model, "slot %u: a fetched batch's records do not decode", slot);
            return;
        }
        client->next_offsets[slot] = sb_batch_header_last_offset(&header) + 1;
    }
}

static bool
consumer_error_tolerated(int16_t error)
{
    return error == SB_WIRE_ERROR_NONE || sim_client_error_tolerated(error);
}

static void
consumer_partition(struct sim_client *client, uint32_t topic,
                   const struct sb_fetch_partition_response *partition)
{
    uint32_t slot = sim_world_slot(client->world, topic, partition->partition);
    if (slot == UINT32_MAX) {
        sim_client_fail(client, "a Fetch response names a partition not asked for", 0);
        return;
    }
    if (partition->error_code != SB_WIRE_ERROR_NONE) {
        if (!consumer_error_tolerated(partition->error_code)) {
            char what[96];
            snprintf(what, sizeof(what), "fetch of slot %u at offset %lld failed", slot,
                     (long long)client->next_offsets[slot]);
            sim_client_fail(client, what, partition->error_code);
        }
        return;
    }
    if (partition->high_watermark < client->durable_at_send[slot]) {
        sim_model_fail(client_model(client), "slot %u: high watermark %lld below acknowledged "
                       "(acks=all) offset %lld", slot, (long long)partition->high_watermark,
                       (long long)client->durable_at_send[slot] - 1);
        return;
    }
    client->high_watermarks[slot] = partition->high_watermark;
    consumer_records(client, slot, partition->records, partition->high_watermark);
}

static void
consumer_answered(struct sim_client *client, const struct sb_frame *frame)
{
    client->fetch_in_flight = false;
    if (frame->header.error_code != SB_WIRE_ERROR_NONE) {
        if (!consumer_error_tolerated(frame->header.error_code)) {
            sim_client_fail(client, "a fetch was refused", frame->header.error_code);
        }
        return;
    }
    struct sb_fetch_response response;
    if (sb_fetch_response_decode(frame->body, frame->body_bytes, &response) != 0) {
        sim_client_fail(client, "a Fetch response that does not decode", 0);
        return;
    }
    struct sb_fetch_topic_response topic;
    while (sb_fetch_response_next_topic(&response, &topic) == 1) {
        uint32_t topic_index = sim_client_topic_index(topic.name);
        struct sb_fetch_partition_response partition;
        while (topic_index != UINT32_MAX &&
               sb_fetch_topic_response_next_partition(&topic, &partition) == 1) {
            consumer_partition(client, topic_index, &partition);
        }
        if (topic_index == UINT32_MAX) {
            sim_client_fail(client, "a Fetch response names a topic not asked for", 0);
        }
    }
}

/* ListOffsets of every partition, all earliest or all latest (the high watermark). */
static void
consumer_list_offsets(struct sim_client *client)
{
    struct sim_world *world = client->world;
    bool latest = sim_world_random(world, 2) == 0;
    struct sb_list_offsets_partition partitions[SIM_SLOTS_MAX];
    struct sb_list_offsets_topic topics[SIM_TOPICS];
    uint32_t slot = 0;
    for (uint32_t topic = 0; topic < SIM_TOPICS; topic++) {
        topics[topic] = (struct sb_list_offsets_topic){
            .name = sb_wire_string_from_cstr(sim_world_topic_name(topic)),
            .partitions = &partitions[slot], .partition_count = world->partitions[topic]};
        for (uint32_t partition = 0; partition < world->partitions[topic]; partition++, slot++) {
            partitions[slot] = (struct sb_list_offsets_partition){
                .partition = (int32_t)partition,
                .timestamp = latest ? SB_LIST_OFFSETS_LATEST : SB_LIST_OFFSETS_EARLIEST};
            client->durable_at_send[slot] = world->model.slots[slot].durable_end;
        }
    }
    struct sb_list_offsets_request request = {.topics = topics, .topic_count = SIM_TOPICS};
    struct sb_wire_writer writer;
    client->fetch_in_flight =
        sim_client_begin(client, SB_API_LIST_OFFSETS, &writer) &&
        sim_client_finish(client, &writer, sb_list_offsets_request_encode(&writer, &request),
                      latest);
}

/* Earliest is 0 (retention is off); latest is at or past every acks=all acknowledgement. */
static void
consumer_listed(struct sim_client *client, const struct sim_pending *pending,
                const struct sb_frame *frame)
{
    client->fetch_in_flight = false;
    struct sb_list_offsets_response response;
    if (frame->header.error_code != SB_WIRE_ERROR_NONE) {
        if (!consumer_error_tolerated(frame->header.error_code)) {
            sim_client_fail(client, "a ListOffsets was refused", frame->header.error_code);
        }
        return;
    }
    if (sb_list_offsets_response_decode(frame->body, frame->body_bytes, &response) != 0) {
        sim_client_fail(client, "a ListOffsets response that does not decode", 0);
        return;
    }
    struct sb_list_offsets_topic_response topic;
    while (sb_list_offsets_response_next_topic(&response, &topic) == 1) {
        uint32_t topic_index = sim_client_topic_index(topic.name);
        struct sb_list_offsets_partition_response partition;
        while (sb_list_offsets_topic_response_next_partition(&topic, &partition) == 1) {
            uint32_t slot = sim_world_slot(client->world, topic_index, partition.partition);
            if (slot == UINT32_MAX || !consumer_error_tolerated(partition.error_code)) {
                sim_client_fail(client, "ListOffsets of an existing partition failed",
                            partition.error_code);
            } else if (partition.error_code != SB_WIRE_ERROR_NONE) {
                continue;
            } else if (pending->tag == 0 && partition.offset != 0) {
                sim_client_fail(client, "ListOffsets earliest is not 0 with retention off", 0);
            } else if (pending->tag != 0 && partition.offset < client->durable_at_send[slot]) {
                sim_model_fail(client_model(client), "slot %u: ListOffsets latest %lld below "
                               "acknowledged (acks=all) offset %lld", slot,
                               (long long)partition.offset,
                               (long long)client->durable_at_send[slot] - 1);
            }
        }
    }
}

static void
consumer_drive(struct sim_client *client)
{
    struct sim_world *world = client->world;
    if (!world->topic_ready[0] || !world->topic_ready[1] || client->fetch_in_flight ||
        !sim_conn_can_send(&client->conn, 1)) {
        return;
    }
    if (sim_world_random(world, 8) == 0) {
        consumer_list_offsets(client);
    } else {
        consumer_send(client);
    }
}

/* ---- Connection hooks and the client's life ------------------------------------------------ */

static void
client_on_open(struct sim_conn *conn)
{
    struct sim_client *client = conn->context;
    sim_world_fold(client->world, 0x6f70656e00ull + client->index);
    client->producer_ready = !client->idempotent;
    client->init_in_flight = false;
    client->fetch_in_flight = false;
}

static void
client_on_response(struct sim_conn *conn, const struct sim_pending *pending,
                   const struct sb_frame *frame)
{
    struct sim_client *client = conn->context;
    struct sim_world *world = client->world;
    sim_world_fold(world, ((uint64_t)client->index << 48) ^ ((uint64_t)pending->api_key << 32) ^
                              pending->correlation_id);
    if (pending->api_key != SB_API_OFFSET_FETCH) {
        /* OffsetFetch shows commit times of the broker's wall clock: its offsets are folded
         * instead (sim_members.c). */
        sim_world_fold(world, sb_crc32c(0, frame->body, frame->body_bytes));
    }
    if (pending->api_key == SB_API_PRODUCE) {
        producer_answered(client, pending, frame);
    } else if (pending->api_key == SB_API_INIT_PRODUCER_ID) {
        producer_got_id(client, frame);
    } else if (pending->api_key == SB_API_FETCH) {
        consumer_answered(client, frame);
    } else if (pending->api_key == SB_API_LIST_OFFSETS) {
        consumer_listed(client, pending, frame);
    } else if (client->role == SIM_ROLE_MEMBER) {
        sim_member_answered(client, pending, frame);
    } else {
        admin_answered(client, pending, frame);
    }
}

void
sim_client_reconnect_later(struct sim_client *client)
{
    struct sim_world *world = client->world;
    client->reconnect_ns = sim_world_now_ns(world) + (1 + sim_world_random(world, 20)) *
                                                         SB_NS_PER_MS;
}

static void
client_on_closed(struct sim_conn *conn, int error)
{
    struct sim_client *client = conn->context;
    struct sim_world *world = client->world;
    sim_world_fold(world, 0xc105e00000ull + client->index);
    (void)error;
    sim_client_reconnect_later(client);
    client->fetch_in_flight = false;
    client->init_in_flight = false;
    client->producer_ready = false;
    if (client->role == SIM_ROLE_MEMBER) {
        sim_member_disconnected(client);
    }
}

static void
client_on_violation(struct sim_conn *conn, const char *what)
{
    struct sim_client *client = conn->context;
    sim_client_fail(client, what, 0);
}

int
sim_client_init(struct sim_client *client, struct sim_world *world, uint32_t index,
                uint8_t role)
{
    memset(client, 0, sizeof(*client));
    client->world = world;
    client->index = index;
    client->role = role;
    client->acks = SB_PRODUCE_ACKS_ALL;
    client->depth = 1;
    struct sim_conn_hooks hooks = {.on_open = client_on_open, .on_response = client_on_response,
                                   .on_closed = client_on_closed,
                                   .on_violation = client_on_violation};
    return sim_conn_init(&client->conn, world->io, &hooks, client);
}

void
sim_client_drive(struct sim_client *client)
{
    struct sim_world *world = client->world;
    if (client->role == SIM_ROLE_MEMBER && client->member.state == SIM_MEMBER_DOWN) {
        sim_member_drive(client); /* Not running: no connection until it comes back. */
        return;
    }
    if (client->conn.state == SIM_CONN_CLOSED) {
        if (sim_world_now_ns(world) >= client->reconnect_ns && world->broker != NULL) {
            /* The main port, or a shard's own port (shard-aware clients). */
            uint32_t port_choice = (uint32_t)sim_world_random(world, world->shards + 1);
            sim_conn_open(&client->conn, (uint16_t)(world->config.listen_port +
                                                    (port_choice == 0 ? 0 : port_choice)));
        }
        return;
    }
    if (client->role == SIM_ROLE_ADMIN) {
        admin_drive(client);
    } else if (client->role == SIM_ROLE_PRODUCER) {
        producer_drive(client);
    } else if (client->role == SIM_ROLE_CONSUMER) {
        consumer_drive(client);
    } else {
        sim_member_drive(client);
    }
}

void
sim_client_crash(struct sim_client *client)
{
    sim_conn_forget(&client->conn, client->world->io);
    client->reconnect_ns = 0;
    client->producer_ready = false;
    client->init_in_flight = false;
    client->fetch_in_flight = false;
    memset(client->next_offsets, 0, sizeof(client->next_offsets));
    memset(client->high_watermarks, 0, sizeof(client->high_watermarks));
    if (client->role == SIM_ROLE_MEMBER) {
        sim_member_disconnected(client);
    }
}

uint64_t
sim_client_deadline(const struct sim_client *client)
{
    if (client->role == SIM_ROLE_MEMBER) {
        uint64_t member_ns = sim_member_deadline(client);
        return client->conn.state == SIM_CONN_CLOSED && client->reconnect_ns < member_ns &&
                       client->member.state != SIM_MEMBER_DOWN
                   ? client->reconnect_ns
                   : member_ns;
    }
    if (client->conn.state == SIM_CONN_CLOSED) {
        return client->reconnect_ns;
    }
    return client->role == SIM_ROLE_CONSUMER ? 0 : client->next_op_ns;
}

void
sim_client_check_liveness(struct sim_client *client)
{
    const struct sim_pending *oldest = sim_conn_oldest(&client->conn);
    if (client->conn.state == SIM_CONN_OPEN && oldest != NULL &&
        sim_world_now_ns(client->world) - oldest->sent_ns > CLIENT_RESPONSE_LIMIT_NS) {
        char what[96];
        snprintf(what, sizeof(what), "request %u (api %u) unanswered for 120 s",
                 oldest->correlation_id, oldest->api_key);
        sim_client_fail(client, what, 0);
    }
}
