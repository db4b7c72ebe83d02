/*
 * broker/config.c - defaults, config file and flags for the broker (config.h).
 * One table maps each key to its parser, so the file and the flags accept
 * exactly the same settings (`--key value` or `--key=value`).
 */
#include "broker/config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/topic_config.h"
#include "core/limits.h"

enum setting_kind {
    SETTING_STRING,
    SETTING_U32,
    SETTING_U64,
    SETTING_I64,
    SETTING_BOOL,
    SETTING_SPECIAL,
};

struct setting {
    const char *key;         /* Name in the file and as --key. */
    enum setting_kind kind;  /* How the value is parsed. */
    size_t offset;           /* Field in struct sb_broker_config. */
    size_t size;             /* Field size (strings: capacity). */
    uint64_t max;            /* Numbers: the largest value accepted (0: the field's type's). */
    const char *help;        /* One line for --help. */
};

#define FIELD(name) \
    offsetof(struct sb_broker_config, name), sizeof(((struct sb_broker_config *)0)->name), 0
/* A field whose ceiling is a named limit (core/limits.h). */
#define FIELD_MAX(name, max) \
    offsetof(struct sb_broker_config, name), sizeof(((struct sb_broker_config *)0)->name), (max)

static const struct setting settings[] = {
    {"data_dir", SETTING_STRING, FIELD(data_dir), "directory for all data (default ./data)"},
    {"listen", SETTING_SPECIAL, 0, 0, 0, "HOST:PORT of the main port (default 127.0.0.1:9092)"},
    {"cores", SETTING_U32, FIELD(cores), "shard threads (default: data dir's, else all CPUs)"},
    {"node_id", SETTING_SPECIAL, 0, 0, 0, "this broker's node id (default 0)"},
    {"log_level", SETTING_SPECIAL, 0, 0, 0, "debug, info, warn or error (default info)"},
    {"doorbell", SETTING_SPECIAL, 0, 0, 0, "msg_ring or eventfd (default msg_ring)"},
    {"max_frame_bytes", SETTING_U32, FIELD_MAX(max_frame_bytes, SB_WIRE_FRAME_BYTES_MAX),
     "largest request (16 MiB)"},
    {"max_connections", SETTING_U32, FIELD_MAX(max_connections, SB_BROKER_CONNECTIONS_MAX),
     "connections per shard (1024)"},
    {"max_inflight_requests", SETTING_U32, FIELD(max_inflight_requests),
     "pipelined requests per connection (64)"},
    {"request_memory_bytes", SETTING_U64, FIELD(request_memory_bytes),
     "per-shard memory for requests and responses (256 MiB)"},
    {"idle_timeout_ms", SETTING_U32, FIELD(idle_timeout_ms), "close idle connections (600000)"},
    {"wal_file_bytes", SETTING_U64, FIELD(wal_file_bytes), "size of each WAL file (8 MiB)"},
    {"wal_files", SETTING_U32, FIELD_MAX(wal_files, SB_STORE_WAL_FILES_MAX),
     "WAL files per shard (4)"},
    {"wal_prefill", SETTING_BOOL, FIELD(wal_prefill), "zero-fill new WAL files (true)"},
    {"memtable_bytes", SETTING_U64, FIELD(memtable_bytes), "per-shard memtable (64 MiB)"},
    {"wal_dsync_bytes", SETTING_U64, FIELD(wal_dsync_bytes),
     "a lone commit cycle up to this size is one RWF_DSYNC write (524288; 0: never)"},
    {"commit_delay_us", SETTING_U64, FIELD(commit_delay_us),
     "wait this long to grow a commit cycle (0)"},
    {"block_cache_bytes", SETTING_U64, FIELD(block_cache_bytes),
     "per-shard segment read cache (64 MiB)"},
    {"memory_limit_bytes", SETTING_U64, FIELD(memory_limit_bytes),
     "fit the per-shard budgets in this (0: the cgroup's limit, else RAM)"},
    {"max_message_bytes", SETTING_U32, FIELD_MAX(max_message_bytes, SB_STORE_BATCH_BYTES_MAX),
     "largest batch (1 MiB)"},
    {"producer_expiration_ms", SETTING_U64, FIELD(producer_expiration_ms),
     "forget idempotent producers idle this long (1 day)"},
    {"flush_syncfs_partitions", SETTING_U32, FIELD(flush_syncfs_partitions),
     "a flush round over this many partitions ends with one syncfs (256; 0: never)"},
    {"default_partitions", SETTING_U32, FIELD(default_partitions), "partitions of new topics (1)"},
    {"offsets_topic_partitions", SETTING_U32,
     FIELD_MAX(offsets_topic_partitions, SB_TOPIC_PARTITIONS_MAX),
     "partitions of __consumer_offsets when first created (16)"},
    {"offsets_retention_ms", SETTING_U64, FIELD(offsets_retention_ms),
     "delete a group without members this long after its last commit (7 days)"},
    {"group_session_timeout_ms", SETTING_U32,
     FIELD_MAX(group_session_timeout_ms, SB_GROUP_SESSION_TIMEOUT_MS_CEILING),
     "fence a group member silent this long (45000)"},
    {"group_min_session_timeout_ms", SETTING_U32,
     FIELD_MAX(group_min_session_timeout_ms, SB_GROUP_SESSION_TIMEOUT_MS_CEILING),
     "lowest group_session_timeout_ms accepted (6000)"},
    {"group_max_session_timeout_ms", SETTING_U32,
     FIELD_MAX(group_max_session_timeout_ms, SB_GROUP_SESSION_TIMEOUT_MS_CEILING),
     "highest group_session_timeout_ms accepted (1800000)"},
    {"group_heartbeat_interval_ms", SETTING_U32,
     FIELD_MAX(group_heartbeat_interval_ms, SB_GROUP_SESSION_TIMEOUT_MS_CEILING),
     "group members heartbeat this often (5000)"},
};

void
sb_broker_config_defaults(struct sb_broker_config *config)
{
    memset(config, 0, sizeof(*config));
    snprintf(config->data_dir, sizeof(config->data_dir), "./data");
    snprintf(config->listen_host, sizeof(config->listen_host), "127.0.0.1");
    config->listen_port = 9092;
    config->log_level = SB_LOG_INFO;
    config->doorbell = SB_IO_DOORBELL_MSG_RING;
    config->max_frame_bytes = SB_WIRE_FRAME_BYTES_DEFAULT;
    config->max_connections = SB_BROKER_CONNECTIONS_DEFAULT;
    config->max_inflight_requests = SB_BROKER_INFLIGHT_REQUESTS_DEFAULT;
    config->request_memory_bytes = SB_BROKER_REQUEST_MEMORY_BYTES_DEFAULT;
    config->idle_timeout_ms = 600000;
    config->wal_file_bytes = 8ull << 20;
    config->wal_files = 4;
    config->wal_prefill = true;
    config->wal_dsync_bytes = 512u << 10;
    config->memtable_bytes = 64ull << 20;
    config->block_cache_bytes = 64ull << 20;
    config->max_message_bytes = SB_WIRE_BATCH_BYTES_DEFAULT;
    config->producer_expiration_ms = 24ull * 3600ull * 1000ull;
    config->flush_syncfs_partitions = 256;
    config->default_partitions = 1;
    config->offsets_topic_partitions = SB_GROUP_OFFSETS_PARTITIONS_DEFAULT;
    config->offsets_retention_ms = SB_GROUP_OFFSETS_RETENTION_MS_DEFAULT;
    config->group_session_timeout_ms = SB_GROUP_SESSION_TIMEOUT_MS_DEFAULT;
    config->group_min_session_timeout_ms = SB_GROUP_SESSION_TIMEOUT_MS_MIN_DEFAULT;
    config->group_max_session_timeout_ms = SB_GROUP_SESSION_TIMEOUT_MS_MAX_DEFAULT;
    config->group_heartbeat_interval_ms = SB_GROUP_HEARTBEAT_INTERVAL_MS_DEFAULT;
    sb_partition_config_default(&config->topic_defaults);
}

static int
config_error(char *error, size_t capacity, const char *key, const char *value, const char *why)
{
    snprintf(error, capacity, "%s = %s: %s", key, value, why);
    return -EINVAL;
}

static int
config_parse_number(const char *value, bool is_signed, int64_t *out)
{
    char *end = NULL;
    errno = 0;
    long long number = strtoll(value, &end, 10);
    if (errno != 0 || end == value || (!is_signed && number < 0)) {
        return -EINVAL;
    }
    /* Size suffixes: k, m, g (powers of 1024). */
    uint64_t scale = 1;
    if (*end == 'k' || *end == 'K') {
        scale = 1ull << 10;
    } else if (*end == 'm' || *end == 'M') {
        scale = 1ull << 20;
    } else if (*end == 'g' || *end == 'G') {
        scale = 1ull << 30;
    }
    end += scale != 1;
    if (*end != '\0' || number > INT64_MAX / (int64_t)scale ||
        number < INT64_MIN / (int64_t)scale) {
        return -EINVAL;
    }
    *out = number * (int64_t)scale;
    return 0;
}

static int
config_set_listen(struct sb_broker_config *config, const char *value)
{
    const char *colon = strrchr(value, ':');
    if (colon == NULL || colon == value || (size_t)(colon - value) >= sizeof(config->listen_host)) {
        return -EINVAL;
    }
    int64_t port;
    if (config_parse_number(colon + 1, false, &port) != 0 || port < 1 ||
        port > SB_BROKER_PORT_MAX) {
        return -EINVAL;
    }
    memcpy(config->listen_host, value, (size_t)(colon - value));
    config->listen_host[colon - value] = '\0';
    config->listen_port = (uint16_t)port;
    return 0;
}

static int
config_set_special(struct sb_broker_config *config, const char *key, const char *value)
{
    if (strcmp(key, "listen") == 0) {
        return config_set_listen(config, value);
    }
    if (strcmp(key, "log_level") == 0) {
        return sb_log_level_parse(value, &config->log_level);
    }
    if (strcmp(key, "doorbell") == 0) {
        if (strcmp(value, "msg_ring") == 0 || strcmp(value, "eventfd") == 0) {
            config->doorbell = value[0] == 'm' ? SB_IO_DOORBELL_MSG_RING
                                               : SB_IO_DOORBELL_EVENTFD;
            return 0;
        }
        return -EINVAL;
    }
    int64_t number;
    if (config_parse_number(value, false, &number) != 0 || number > INT32_MAX) {
        return -EINVAL;
    }
    config->node_id = (int32_t)number;
    return 0;
}

static int
config_set_field(struct sb_broker_config *config, const struct setting *setting,
                 const char *value)
{
    uint8_t *field = (uint8_t *)config + setting->offset;
    int64_t number = 0;
    switch (setting->kind) {
    case SETTING_STRING:
        if (strlen(value) == 0 || strlen(value) >= setting->size) {
            return -EINVAL;
        }
        memcpy(field, value, strlen(value) + 1);
        return 0;
    case SETTING_BOOL:
        if (strcmp(value, "true") != 0 && strcmp(value, "false") != 0) {
            return -EINVAL;
        }
        *(bool *)(void *)field = value[0] == 't';
        return 0;
    case SETTING_U32:
        if (config_parse_number(value, false, &number) != 0 || number > UINT32_MAX ||
            (setting->max != 0 && (uint64_t)number > setting->max)) {
            return -EINVAL;
        }
        *(uint32_t *)(void *)field = (uint32_t)number;
        return 0;
    case SETTING_U64:
    case SETTING_I64:
        if (config_parse_number(value, setting->kind == SETTING_I64, &number) != 0) {
            return -EINVAL;
        }
        memcpy(field, &number, sizeof(number));
        return 0;
    default:
        return config_set_special(config, setting->key, value);
    }
}

/* Remembers that a memory budget was given, so broker/memory.c keeps it as it is. */
static void
config_note_budget(struct sb_broker_config *config, const char *key)
{
    if (strcmp(key, "request_memory_bytes") == 0) {
        config->budgets_set |= SB_BUDGET_REQUEST_MEMORY;
    } else if (strcmp(key, "memtable_bytes") == 0) {
        config->budgets_set |= SB_BUDGET_MEMTABLE;
    } else if (strcmp(key, "block_cache_bytes") == 0) {
        config->budgets_set |= SB_BUDGET_BLOCK_CACHE;
    }
}

/* A setting holding a topic config's default for new topics (broker/topic_config.c): a number
 * as any setting (size suffixes too) within the topic config's bounds, or one of its names. */
static int
config_set_topic_default(struct sb_broker_config *config, const struct sb_topic_config_key *key,
                         const char *value)
{
    struct sb_topic defaults = {.config = config->topic_defaults,
                                .max_message_bytes = config->max_message_bytes};
    int64_t number;
    int result = 0;
    if (key->type == SB_TOPIC_CONFIG_CHOICE) {
        size_t length = strlen(value);
        result = length > UINT16_MAX ? -EINVAL
                                     : sb_topic_config_set_choice(key, &defaults, value,
                                                                  (uint16_t)length);
    } else {
        result = config_parse_number(value, true, &number);
        if (result == 0) {
            result = sb_topic_config_set_number(key, &defaults, number,
                                                config->max_message_bytes);
        }
    }
    if (result == 0) {
        config->topic_defaults = defaults.config;
    }
    return result;
}

int
sb_broker_config_set(struct sb_broker_config *config, const char *key, const char *value,
                     char *error, size_t error_capacity)
{
    for (size_t index = 0; index < sizeof(settings) / sizeof(settings[0]); index++) {
        if (strcmp(settings[index].key, key) == 0) {
            if (config_set_field(config, &settings[index], value) != 0) {
                return config_error(error, error_capacity, key, value, "invalid value");
            }
            config_note_budget(config, key);
            return 0;
        }
    }
    const struct sb_topic_config_key *topic_key = sb_topic_config_find_setting(key);
    if (topic_key == NULL) {
        return config_error(error, error_capacity, key, value, "unknown setting");
    }
    if (config_set_topic_default(config, topic_key, value) != 0) {
        char why[64] = "invalid value";
        if (topic_key->type == SB_TOPIC_CONFIG_CHOICE) {
            snprintf(why, sizeof(why), "%s or %s", topic_key->choices[0],
                     topic_key->choices[1]);
        }
        return config_error(error, error_capacity, key, value, why);
    }
    return 0;
}

int
sb_broker_config_check(const struct sb_broker_config *config, char *error,
                       size_t error_capacity)
{
    uint32_t session_ms = config->group_session_timeout_ms;
    if (session_ms == 0 || session_ms < config->group_min_session_timeout_ms ||
        session_ms > config->group_max_session_timeout_ms) {
        snprintf(error, error_capacity, "group_session_timeout_ms = %u: outside "
                 "group_min_session_timeout_ms %u .. group_max_session_timeout_ms %u (and "
                 "at least 1)", session_ms, config->group_min_session_timeout_ms,
                 config->group_max_session_timeout_ms);
        return -EINVAL;
    }
    if (config->group_heartbeat_interval_ms == 0 ||
        config->group_heartbeat_interval_ms >= session_ms) {
        snprintf(error, error_capacity, "group_heartbeat_interval_ms = %u: must be at least 1 "
                 "and below group_session_timeout_ms %u", config->group_heartbeat_interval_ms,
                 session_ms);
        return -EINVAL;
    }
    return 0;
}

static char *
config_trim(char *text)
{
    while (isspace((unsigned char)*text)) {
        text++;
    }
    size_t length = strlen(text);
    while (length > 0 && isspace((unsigned char)text[length - 1])) {
        text[--length] = '\0';
    }
    return text;
}

/* Reads the rest of a line longer than the load buffer; returns whether it had more than
 * its '\n'. */
static bool
config_line_rest(FILE *file)
{
    int character = fgetc(file);
    bool rest = character != EOF && character != '\n';
    /* Bounded by the file's size. */
    while (character != EOF && character != '\n') {
        character = fgetc(file);
    }
    return rest;
}

int
sb_broker_config_load(struct sb_broker_config *config, const char *path, char *error,
                      size_t error_capacity)
{
    FILE *file = fopen(path, "r");
    if (file == NULL) {
        int result = -errno;
        snprintf(error, error_capacity, "%s: %s", path, strerror(errno));
        return result;
    }
    char line[512];
    int number = 0;
    int result = 0;
    /* Bounded by the file's lines. */
    while (result == 0) {
        line[sizeof(line) - 1] = 1; /* fgets writes a NUL here only when it fills the buffer. */
        if (fgets(line, sizeof(line), file) == NULL) {
            break;
        }
        number++;
        char *comment = strchr(line, '#');
        /* A line that filled the buffer without its '\n': its rest is skipped, which is
         * right only inside a comment. */
        if (line[sizeof(line) - 1] == '\0' && line[sizeof(line) - 2] != '\n' &&
            config_line_rest(file) && comment == NULL) {
            snprintf(error, error_capacity, "%s:%d: line longer than %zu bytes", path, number,
                     sizeof(line) - 1);
            result = -EINVAL;
            break;
        }
        if (comment != NULL) {
            *comment = '\0';
        }
        char *text = config_trim(line);
        if (*text == '\0') {
            continue;
        }
        char *equals = strchr(text, '=');
        if (equals == NULL) {
            snprintf(error, error_capacity, "%s:%d: expected key = value", path, number);
            result = -EINVAL;
            break;
        }
        *equals = '\0';
        char message[256];
        result = sb_broker_config_set(config, config_trim(text), config_trim(equals + 1),
                                      message, sizeof(message));
        if (result != 0) {
            snprintf(error, error_capacity, "%s:%d: %s", path, number, message);
        }
    }
    fclose(file);
    return result;
}

/* One line of --help: the setting as a flag, and what it does. */
static void
config_usage_line(const char *key, const char *help)
{
    char flag[64];
    snprintf(flag, sizeof(flag), "%s", key);
    for (char *cursor = flag; *cursor != '\0'; cursor++) {
        *cursor = *cursor == '_' ? '-' : *cursor;
    }
    printf("  --%-24s %s\n", flag, help);
}

void
sb_broker_config_usage(const char *program)
{
    printf("usage: %s [--config FILE] [--KEY VALUE ...]\n\n"
           "Starts a StreamBus broker. Settings come from built-in defaults, then FILE\n"
           "(lines of `key = value`, keys written with underscores), then flags. Keys:\n\n",
           program);
    for (size_t index = 0; index < sizeof(settings) / sizeof(settings[0]); index++) {
        config_usage_line(settings[index].key, settings[index].help);
    }
    for (uint32_t index = 0; index < SB_TOPIC_CONFIG_COUNT; index++) {
        const struct sb_topic_config_key *key = sb_topic_config_at(index);
        if (key->setting != NULL) {
            config_usage_line(key->setting, key->help);
        }
    }
    printf("\nSIGINT or SIGTERM stops the broker cleanly (exit status 0).\n");
}

/* Splits "--key=value" or "--key value"; returns the number of argv slots used, or -1. */
static int
config_flag(int argc, char **argv, int index, char *key, size_t key_capacity,
            const char **value)
{
    const char *flag = argv[index] + 2;
    const char *equals = strchr(flag, '=');
    size_t key_length = equals != NULL ? (size_t)(equals - flag) : strlen(flag);
    if (key_length == 0 || key_length >= key_capacity) {
        return -1;
    }
    memcpy(key, flag, key_length);
    key[key_length] = '\0';
    for (char *cursor = key; *cursor != '\0'; cursor++) {
        *cursor = *cursor == '-' ? '_' : *cursor;
    }
    if (equals != NULL) {
        *value = equals + 1;
        return 1;
    }
    if (index + 1 >= argc) {
        return -1;
    }
    *value = argv[index + 1];
    return 2;
}

int
sb_broker_config_parse_args(struct sb_broker_config *config, int argc, char **argv,
                            char *error, size_t error_capacity)
{
    /* The file first, wherever --config appears, so every flag overrides it. */
    for (int index = 1; index < argc; index++) {
        if (strcmp(argv[index], "--help") == 0 || strcmp(argv[index], "-h") == 0) {
            sb_broker_config_usage(argv[0]);
            return 1;
        }
        if (strcmp(argv[index], "--config") == 0 && index + 1 < argc) {
            int result = sb_broker_config_load(config, argv[index + 1], error, error_capacity);
            if (result != 0) {
                return result;
            }
        }
    }
    for (int index = 1; index < argc;) {
        char key[64];
        const char *value = NULL;
        int used = strncmp(argv[index], "--", 2) == 0
                       ? config_flag(argc, argv, index, key, sizeof(key), &value) : -1;
        if (used < 0) {
            snprintf(error, error_capacity, "unexpected argument '%s' (see --help)", argv[index]);
            return -EINVAL;
        }
        if (strcmp(key, "config") != 0) {
            int result = sb_broker_config_set(config, key, value, error, error_capacity);
            if (result != 0) {
                return result;
            }
        }
        index += used;
    }
    return sb_broker_config_check(config, error, error_capacity);
}
