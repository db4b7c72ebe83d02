/*
 * client/admin_parse.c - turns admin response bodies into the public results
 * of streambus.h. Bodies come from the network: every one is decoded (and so
 * fully checked) by proto/ before anything is allocated, and every string is
 * copied out with a terminating NUL.
 *
 * A result is one allocation: the struct, then its arrays, then its strings,
 * each 8-byte aligned (struct admin_block), so the public *_free functions
 * are a single free(). Sizes are counted in a first pass over a copy of the
 * decoded response (iterators are plain values) and filled in a second.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client/client_private.h"
#include "proto/api_admin.h"
#include "proto/api_meta.h"

size_t
admin_aligned(size_t bytes)
{
    return (bytes + 7u) & ~(size_t)7u;
}

int
admin_block_init(struct admin_block *block, size_t capacity)
{
    block->base = calloc(1, capacity > 0 ? capacity : 1);
    block->used = 0;
    block->capacity = capacity;
    return block->base == NULL ? -ENOMEM : 0;
}

void *
admin_take(struct admin_block *block, size_t bytes)
{
    void *taken = block->base + block->used;
    block->used += admin_aligned(bytes);
    return taken;
}

const char *
admin_string(struct admin_block *block, struct sb_wire_string string)
{
    if (string.chars == NULL) {
        return NULL;
    }
    char *copy = admin_take(block, (size_t)string.length + 1);
    memcpy(copy, string.chars, string.length);
    copy[string.length] = '\0';
    return copy;
}

size_t
admin_string_size(struct sb_wire_string string)
{
    return string.chars == NULL ? 0 : admin_aligned((size_t)string.length + 1);
}

/* Error of the first result, with its message as the thread's detail. */
static int
admin_result_error(int16_t error_code, struct sb_wire_string message)
{
    int error = client_error_from_wire(error_code);
    if (error != 0 && message.chars != NULL) {
        client_detail_set("%.*s", (int)message.length, message.chars);
    }
    return error;
}

int
admin_parse_create(const uint8_t *body, size_t body_bytes)
{
    struct sb_create_topics_response response;
    if (sb_create_topics_response_decode(body, body_bytes, &response) != 0) {
        return SB_ERR_CORRUPT;
    }
    struct sb_create_topic_result result;
    if (sb_create_topics_response_next_topic(&response, &result) != 1) {
        return SB_ERR_PROTOCOL;
    }
    return admin_result_error(result.error_code, result.error_message);
}

int
admin_parse_delete(const uint8_t *body, size_t body_bytes)
{
    struct sb_delete_topics_response response;
    if (sb_delete_topics_response_decode(body, body_bytes, &response) != 0) {
        return SB_ERR_CORRUPT;
    }
    struct sb_delete_topic_result result;
    if (sb_delete_topics_response_next_topic(&response, &result) != 1) {
        return SB_ERR_PROTOCOL;
    }
    return client_error_from_wire(result.error_code);
}

int
admin_parse_alter(const uint8_t *body, size_t body_bytes)
{
    struct sb_alter_topic_config_response response;
    if (sb_alter_topic_config_response_decode(body, body_bytes, &response) != 0) {
        return SB_ERR_CORRUPT;
    }
    return admin_result_error(response.error_code, response.error_message);
}

int
admin_parse_list(const uint8_t *body, size_t body_bytes, struct sb_admin_topic_list **out)
{
    struct sb_list_topics_response response;
    if (sb_list_topics_response_decode(body, body_bytes, &response) != 0) {
        return SB_ERR_CORRUPT;
    }
    uint32_t count = response.topic_cursor.count;
    size_t size = admin_aligned(sizeof(struct sb_admin_topic_list)) +
                  admin_aligned((size_t)count * sizeof(struct sb_admin_topic));
    struct sb_list_topics_response sizing = response;
    struct sb_list_topics_entry entry;
    while (sb_list_topics_response_next_topic(&sizing, &entry) == 1) {
        size += admin_string_size(entry.name);
    }
    struct admin_block block;
    if (admin_block_init(&block, size) != 0) {
        return -ENOMEM;
    }
    struct sb_admin_topic_list *list = admin_take(&block, sizeof(*list));
    struct sb_admin_topic *topics = admin_take(&block, (size_t)count * sizeof(*topics));
    uint32_t index = 0;
    while (index < count && sb_list_topics_response_next_topic(&response, &entry) == 1) {
        topics[index++] = (struct sb_admin_topic){
            .name = admin_string(&block, entry.name), .topic_id = entry.topic_id,
            .partition_count = entry.partition_count, .internal = entry.internal != 0};
    }
    list->topic_count = index;
    list->topics = topics;
    *out = list;
    return 0;
}

static size_t
admin_describe_size(const struct sb_describe_topic_response *response)
{
    struct sb_describe_topic_response sizing = *response;
    size_t size = admin_aligned(sizeof(struct sb_admin_topic_description)) +
                  admin_string_size(response->name) +
                  admin_aligned((size_t)response->partition_cursor.count *
                                sizeof(struct sb_admin_partition)) +
                  admin_aligned((size_t)response->config_cursor.count *
                                sizeof(struct sb_admin_config_entry));
    struct sb_topic_config config;
    while (sb_describe_topic_response_next_config(&sizing, &config) == 1) {
        size += admin_string_size(config.key) + admin_string_size(config.value);
    }
    return size;
}

int
admin_parse_describe(const uint8_t *body, size_t body_bytes,
                     struct sb_admin_topic_description **out)
{
    struct sb_describe_topic_response response;
    if (sb_describe_topic_response_decode(body, body_bytes, &response) != 0) {
        return SB_ERR_CORRUPT;
    }
    if (response.error_code != 0) {
        return client_error_from_wire(response.error_code);
    }
    struct admin_block block;
    if (admin_block_init(&block, admin_describe_size(&response)) != 0) {
        return -ENOMEM;
    }
    struct sb_admin_topic_description *description = admin_take(&block, sizeof(*description));
    uint32_t partition_count = response.partition_cursor.count;
    uint32_t config_count = response.config_cursor.count;
    struct sb_admin_partition *partitions = admin_take(&block, (size_t)partition_count *
                                                                   sizeof(*partitions));
    struct sb_admin_config_entry *configs = admin_take(&block, (size_t)config_count *
                                                                   sizeof(*configs));
    description->name = admin_string(&block, response.name);
    description->topic_id = response.topic_id;
    struct sb_describe_topic_partition partition;
    uint32_t used = 0;
    while (used < partition_count &&
           sb_describe_topic_response_next_partition(&response, &partition) == 1) {
        partitions[used++] = (struct sb_admin_partition){
            partition.partition, partition.leader, partition.shard, partition.log_start_offset,
            partition.high_watermark, partition.log_end_offset};
    }
    description->partition_count = used;
    description->partitions = partitions;
    struct sb_topic_config config;
    used = 0;
    while (used < config_count && sb_describe_topic_response_next_config(&response, &config) == 1) {
        configs[used++] = (struct sb_admin_config_entry){
            admin_string(&block, config.key), admin_string(&block, config.value),
            config.is_default != 0};
    }
    description->config_count = used;
    description->configs = configs;
    *out = description;
    return 0;
}

int
admin_parse_health(const uint8_t *body, size_t body_bytes, struct sb_admin_health **out)
{
    struct sb_health_response response;
    if (sb_health_response_decode(body, body_bytes, &response) != 0) {
        return SB_ERR_CORRUPT;
    }
    uint32_t count = response.shard_cursor.count;
    struct admin_block block;
    size_t size = admin_aligned(sizeof(struct sb_admin_health)) +
                  admin_aligned((size_t)count * sizeof(struct sb_admin_shard_health));
    if (admin_block_init(&block, size) != 0) {
        return -ENOMEM;
    }
    struct sb_admin_health *health = admin_take(&block, sizeof(*health));
    struct sb_admin_shard_health *shards = admin_take(&block, (size_t)count * sizeof(*shards));
    struct sb_health_shard shard;
    uint32_t used = 0;
    while (used < count && sb_health_response_next_shard(&response, &shard) == 1) {
        shards[used++] = (struct sb_admin_shard_health){shard.shard_id, shard.status,
                                                        shard.connections, shard.partitions};
    }
    *health = (struct sb_admin_health){response.status, response.node_id, response.uptime_ms,
                                       used, shards};
    *out = health;
    return 0;
}
