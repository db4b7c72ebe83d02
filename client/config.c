/*
 * client/config.c - configuration keys, defaults and parsing
 * (sb_client_config_*). One table maps each key to its field and parser, so
 * set and get accept exactly the same keys; docs/client.md lists them.
 *
 * Values are strings as in Kafka properties: numbers in decimal, booleans
 * "true"/"false", enums by name. A bad value is refused at set time with
 * SB_ERR_CONFIG and the key in sb_client_error_detail().
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/client_private.h"
#include "proto/compress.h"

/* How a setting's value is parsed. */
enum config_kind {
    CONFIG_STRING,
    CONFIG_U32,
    CONFIG_U64,
    CONFIG_BOOL,
    CONFIG_ACKS,
    CONFIG_IDEMPOTENCE,
    CONFIG_COMPRESSION,
    CONFIG_RESET,
};

/* One configuration key. */
struct config_setting {
    const char *key;       /* The key. */
    enum config_kind kind; /* Parser. */
    size_t offset;         /* Field in struct sb_client_config. */
    size_t size;           /* Field size (strings: capacity). */
    uint64_t min;          /* Numbers: smallest value. */
    uint64_t max;          /* Numbers: largest value. */
};

#define CONFIG_FIELD(name) \
    offsetof(struct sb_client_config, name), sizeof(((struct sb_client_config *)0)->name)
#define CONFIG_MS_MAX 86400000u /* One day: the longest timeout of any setting. */

static const struct config_setting config_settings[] = {
    {"bootstrap.servers", CONFIG_STRING, CONFIG_FIELD(bootstrap_servers), 0, 0},
    {"client.id", CONFIG_STRING, CONFIG_FIELD(client_id), 0, 0},
    {"shard.aware", CONFIG_BOOL, CONFIG_FIELD(shard_aware), 0, 1},
    {"request.timeout.ms", CONFIG_U32, CONFIG_FIELD(request_timeout_ms), 1, CONFIG_MS_MAX},
    {"reconnect.backoff.ms", CONFIG_U32, CONFIG_FIELD(reconnect_backoff_ms), 1, 60000},
    {"reconnect.backoff.max.ms", CONFIG_U32, CONFIG_FIELD(reconnect_backoff_max_ms), 1,
     600000},
    {"connection.health.interval.ms", CONFIG_U32, CONFIG_FIELD(health_interval_ms), 100,
     CONFIG_MS_MAX},
    {"metadata.max.age.ms", CONFIG_U32, CONFIG_FIELD(metadata_max_age_ms), 100, CONFIG_MS_MAX},
    {"metadata.refresh.backoff.ms", CONFIG_U32, CONFIG_FIELD(metadata_refresh_backoff_ms), 1,
     60000},
    {"receive.frame.bytes.max", CONFIG_U32, CONFIG_FIELD(receive_frame_bytes_max), 1u << 16,
     1u << 30},
    {"acks", CONFIG_ACKS, CONFIG_FIELD(acks), 0, 0},
    {"enable.idempotence", CONFIG_IDEMPOTENCE, CONFIG_FIELD(idempotence), 0, 0},
    {"linger.ms", CONFIG_U32, CONFIG_FIELD(linger_ms), 0, 60000},
    {"batch.bytes", CONFIG_U32, CONFIG_FIELD(batch_bytes), 1024, 1u << 30},
    {"compression", CONFIG_COMPRESSION, CONFIG_FIELD(compression), 0, 0},
    {"buffer.memory.bytes", CONFIG_U64, CONFIG_FIELD(buffer_memory_bytes), 1u << 16,
     1ull << 40},
    {"max.block.ms", CONFIG_U32, CONFIG_FIELD(max_block_ms), 0, CONFIG_MS_MAX},
    {"max.in.flight.requests.per.connection", CONFIG_U32, CONFIG_FIELD(max_in_flight), 1, 64},
    {"retries", CONFIG_U32, CONFIG_FIELD(retries), 0, INT32_MAX},
    {"retry.backoff.ms", CONFIG_U32, CONFIG_FIELD(retry_backoff_ms), 1, 60000},
    {"retry.backoff.max.ms", CONFIG_U32, CONFIG_FIELD(retry_backoff_max_ms), 1, 600000},
    {"delivery.timeout.ms", CONFIG_U32, CONFIG_FIELD(delivery_timeout_ms), 1, CONFIG_MS_MAX},
    {"request.bytes.max", CONFIG_U32, CONFIG_FIELD(request_bytes_max), 1u << 12, 1u << 30},
    {"auto.offset.reset", CONFIG_RESET, CONFIG_FIELD(auto_offset_reset), 0, 0},
    {"fetch.wait.max.ms", CONFIG_U32, CONFIG_FIELD(fetch_wait_max_ms), 0, 60000},
    {"fetch.min.bytes", CONFIG_U32, CONFIG_FIELD(fetch_min_bytes), 0, 1u << 30},
    {"fetch.max.bytes", CONFIG_U32, CONFIG_FIELD(fetch_max_bytes), 1u << 10, 1u << 30},
    {"fetch.partition.max.bytes", CONFIG_U32, CONFIG_FIELD(fetch_partition_max_bytes), 1u << 10,
     1u << 30},
    {"fetch.buffer.bytes", CONFIG_U64, CONFIG_FIELD(fetch_buffer_bytes), 1u << 10, 1ull << 40},
    {"group.id", CONFIG_STRING, CONFIG_FIELD(group_id), 0, 0},
    {"group.instance.id", CONFIG_STRING, CONFIG_FIELD(group_instance_id), 0, 0},
    {"group.remote.assignor", CONFIG_STRING, CONFIG_FIELD(group_remote_assignor), 0, 0},
    {"enable.auto.commit", CONFIG_BOOL, CONFIG_FIELD(enable_auto_commit), 0, 1},
    {"auto.commit.interval.ms", CONFIG_U32, CONFIG_FIELD(auto_commit_interval_ms), 1,
     CONFIG_MS_MAX},
};

static const char *const config_reset_names[] = {"earliest", "latest", "error"};

void
client_config_defaults(struct sb_client_config *config)
{
    memset(config, 0, sizeof(*config));
    snprintf(config->bootstrap_servers, sizeof(config->bootstrap_servers), "127.0.0.1:9092");
    snprintf(config->client_id, sizeof(config->client_id), "streambus");
    config->shard_aware = true;
    config->request_timeout_ms = 30000;
    config->reconnect_backoff_ms = 50;
    config->reconnect_backoff_max_ms = 2000;
    config->health_interval_ms = 30000;
    config->metadata_max_age_ms = 300000;
    config->metadata_refresh_backoff_ms = 100;
    config->receive_frame_bytes_max = 64u << 20;
    config->acks = -1;
    config->idempotence = -1;
    config->linger_ms = 5;
    config->batch_bytes = 256u << 10;
    config->compression = SB_COMPRESSION_NONE;
    config->buffer_memory_bytes = 32ull << 20;
    config->max_block_ms = 60000;
    config->max_in_flight = 5;
    config->retries = INT32_MAX;
    config->retry_backoff_ms = 100;
    config->retry_backoff_max_ms = 1000;
    config->delivery_timeout_ms = 120000;
    config->request_bytes_max = 8u << 20;
    config->auto_offset_reset = CLIENT_RESET_LATEST;
    config->fetch_wait_max_ms = 500;
    config->fetch_min_bytes = 1;
    config->fetch_max_bytes = 16u << 20;
    config->fetch_partition_max_bytes = 1u << 20;
    config->fetch_buffer_bytes = 32ull << 20;
    config->enable_auto_commit = true;
    config->auto_commit_interval_ms = 5000;
    config->log_level = SB_CLIENT_LOG_INFO;
}

int
client_config_validate(const struct sb_client_config *config)
{
    if (config->idempotence == 1 && config->acks == 0) {
        client_detail_set("enable.idempotence=true needs acks=1 or acks=all");
        return SB_ERR_CONFIG;
    }
    if (config->fetch_max_bytes > config->receive_frame_bytes_max / 2) {
        client_detail_set("fetch.max.bytes must be at most half of receive.frame.bytes.max");
        return SB_ERR_CONFIG;
    }
    if (config->retry_backoff_max_ms < config->retry_backoff_ms ||
        config->reconnect_backoff_max_ms < config->reconnect_backoff_ms) {
        client_detail_set("a *.backoff.max.ms is below its *.backoff.ms");
        return SB_ERR_CONFIG;
    }
    return 0;
}

struct sb_client_config *
sb_client_config_new(void)
{
    struct sb_client_config *config = calloc(1, sizeof(*config));
    if (config != NULL) {
        client_config_defaults(config);
    }
    return config;
}

static const struct config_setting *
config_find(const char *key)
{
    for (size_t index = 0; index < sizeof(config_settings) / sizeof(config_settings[0]);
         index++) {
        if (strcmp(config_settings[index].key, key) == 0) {
            return &config_settings[index];
        }
    }
    return NULL;
}

static int
config_parse_u64(const char *value, uint64_t min, uint64_t max, uint64_t *out)
{
    if (value[0] < '0' || value[0] > '9') {
        return -EINVAL;
    }
    char *end = NULL;
    errno = 0;
    unsigned long long number = strtoull(value, &end, 10);
    if (errno != 0 || *end != '\0' || number < min || number > max) {
        return -EINVAL;
    }
    *out = number;
    return 0;
}

static int
config_parse_enum(const struct config_setting *setting, const char *value, int *out)
{
    enum sb_compression codec;
    switch (setting->kind) {
    case CONFIG_ACKS:
        if (strcmp(value, "all") == 0 || strcmp(value, "-1") == 0) {
            *out = -1;
        } else if (strcmp(value, "0") == 0 || strcmp(value, "1") == 0) {
            *out = value[0] - '0';
        } else {
            return -EINVAL;
        }
        return 0;
    case CONFIG_COMPRESSION:
        if (sb_compression_parse(value, &codec) != 0) {
            return -EINVAL;
        }
        *out = (int)codec;
        return 0;
    case CONFIG_RESET:
        for (int index = 0; index < 3; index++) {
            if (strcmp(value, config_reset_names[index]) == 0) {
                *out = index;
                return 0;
            }
        }
        return -EINVAL;
    default:
        return -EINVAL;
    }
}

static int
config_parse_bool(const char *value, bool *out)
{
    if (strcmp(value, "true") == 0 || strcmp(value, "1") == 0) {
        *out = true;
    } else if (strcmp(value, "false") == 0 || strcmp(value, "0") == 0) {
        *out = false;
    } else {
        return -EINVAL;
    }
    return 0;
}

/* Parses value for setting into the field at field; returns 0 or -EINVAL. */
static int
config_store(struct sb_client_config *config, const struct config_setting *setting,
             const char *value)
{
    uint8_t *field = (uint8_t *)config + setting->offset;
    uint64_t number = 0;
    bool flag = false;
    int choice = 0;
    int result = -EINVAL;
    switch (setting->kind) {
    case CONFIG_STRING:
        if (strlen(value) < setting->size) {
            memcpy(field, value, strlen(value) + 1);
            result = 0;
        }
        break;
    case CONFIG_U32:
        result = config_parse_u64(value, setting->min, setting->max, &number);
        *(uint32_t *)(void *)field = result == 0 ? (uint32_t)number : *(uint32_t *)(void *)field;
        break;
    case CONFIG_U64:
        result = config_parse_u64(value, setting->min, setting->max, &number);
        *(uint64_t *)(void *)field = result == 0 ? number : *(uint64_t *)(void *)field;
        break;
    case CONFIG_BOOL:
    case CONFIG_IDEMPOTENCE:
        result = config_parse_bool(value, &flag);
        if (result == 0 && setting->kind == CONFIG_BOOL) {
            *(bool *)(void *)field = flag;
        } else if (result == 0) {
            config->idempotence = flag ? 1 : 0;
        }
        break;
    default:
        result = config_parse_enum(setting, value, &choice);
        if (result == 0 && setting->kind == CONFIG_ACKS) {
            config->acks = (int16_t)choice;
            config->acks_set = true;
        } else if (result == 0) {
            *(int *)(void *)field = choice;
        }
        break;
    }
    return result;
}

int
sb_client_config_set(struct sb_client_config *config, const char *key, const char *value)
{
    client_detail_clear();
    if (config == NULL || key == NULL || value == NULL) {
        return -EINVAL;
    }
    const struct config_setting *setting = config_find(key);
    if (setting == NULL) {
        client_detail_set("unknown configuration key \"%s\"", key);
        return SB_ERR_CONFIG;
    }
    if (config_store(config, setting, value) != 0) {
        client_detail_set("bad value \"%s\" for %s", value, key);
        return SB_ERR_CONFIG;
    }
    return 0;
}

/* Formats the value of setting into text. */
static void
config_format(const struct sb_client_config *config, const struct config_setting *setting,
              char *text, size_t capacity)
{
    const uint8_t *field = (const uint8_t *)config + setting->offset;
    switch (setting->kind) {
    case CONFIG_STRING:
        snprintf(text, capacity, "%s", (const char *)field);
        break;
    case CONFIG_U32:
        snprintf(text, capacity, "%" PRIu32, *(const uint32_t *)(const void *)field);
        break;
    case CONFIG_U64:
        snprintf(text, capacity, "%" PRIu64, *(const uint64_t *)(const void *)field);
        break;
    case CONFIG_BOOL:
        snprintf(text, capacity, "%s", *(const bool *)(const void *)field ? "true" : "false");
        break;
    case CONFIG_IDEMPOTENCE:
        snprintf(text, capacity, "%s", config->idempotence == 0 ? "false" : "true");
        break;
    case CONFIG_ACKS:
        snprintf(text, capacity, "%s", config->acks == -1 ? "all" : config->acks ? "1" : "0");
        break;
    case CONFIG_COMPRESSION:
        snprintf(text, capacity, "%s",
                 sb_compression_name((enum sb_compression)config->compression));
        break;
    case CONFIG_RESET:
        snprintf(text, capacity, "%s", config_reset_names[config->auto_offset_reset]);
        break;
    }
}

int
sb_client_config_get(const struct sb_client_config *config, const char *key, char *value_out,
                     size_t capacity)
{
    client_detail_clear();
    if (config == NULL || key == NULL || value_out == NULL || capacity == 0) {
        return -EINVAL;
    }
    const struct config_setting *setting = config_find(key);
    if (setting == NULL) {
        client_detail_set("unknown configuration key \"%s\"", key);
        return SB_ERR_CONFIG;
    }
    char text[1100];
    config_format(config, setting, text, sizeof(text));
    size_t length = strlen(text);
    if (length >= capacity) {
        return -ENOSPC;
    }
    memcpy(value_out, text, length + 1);
    return (int)length;
}

void
sb_client_config_set_log(struct sb_client_config *config, int min_level,
                         void (*log)(void *opaque, int level, const char *line), void *opaque)
{
    if (config == NULL) {
        return;
    }
    config->log_level = min_level;
    config->log = log;
    config->log_opaque = opaque;
}

void
sb_client_config_free(struct sb_client_config *config)
{
    free(config);
}
