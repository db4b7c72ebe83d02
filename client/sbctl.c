/*
 * client/sbctl.c - sbctl, the StreamBus command-line tool (kcat-like), built
 * only on the public API of libstreambus:
 *
 *   sbctl [-b HOST:PORT] [--timeout MS] COMMAND ...
 *     topic create|list|describe|delete|alter ...
 *     produce TOPIC ...      one record per stdin line; exit 0 only when all were acked
 *     consume TOPIC ...      one record per stdout line (--group G: as a group member)
 *     health
 *     group list|describe|reset-offsets|delete ...   (sbctl_group.c)
 *
 * Exit codes (sbctl.h): 0 success; 1 the broker refused or a record failed
 * (e.g. unknown topic); 2 bad usage; 3 the broker could not be reached or did
 * not answer in time. Every message goes to stderr, prefixed "sbctl: ".
 * Start reading at main.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "streambus/streambus.h"
#include "client/sbctl.h"

/* How long consume --count asks the broker's health before saying it reached the end. */
#define SBCTL_HEALTH_TIMEOUT_MS 1000

/* Repeatable options (--config, -H) at most this many times. */
#define SBCTL_REPEATS_MAX 64
/* Poll slice of consume, so signals and end checks are seen promptly. */
#define SBCTL_POLL_SLICE_MS 200

/* Options of produce and consume and topic commands (each uses some of them). */
struct sbctl_options {
    const char *topic;                         /* Positional TOPIC or NAME. */
    const char *prefix;                        /* topic list PREFIX. */
    int32_t partition;                         /* -p, or SB_PARTITION_ANY. */
    int32_t partitions;                        /* --partitions, 0 if not given. */
    const char *configs[SBCTL_REPEATS_MAX];    /* --config key=value. */
    size_t config_count;                       /* Entries in configs. */
    const char *headers[SBCTL_REPEATS_MAX];    /* -H name=value. */
    size_t header_count;                       /* Entries in headers. */
    const char *key_separator;                 /* -K SEP, or NULL. */
    const char *acks;                          /* --acks. */
    const char *compression;                   /* --compression. */
    const char *linger_ms;                     /* --linger. */
    const char *from;                          /* --from. */
    int64_t count;                             /* --count, -1 if not given. */
    bool follow;                               /* --follow. */
    const char *format;                        /* --format. */
    const char *group;                         /* consume --group. */
    const char *offset_reset;                  /* consume --group: auto.offset.reset. */
};

static volatile sig_atomic_t sbctl_stop;

static const char sbctl_usage[] =
    "usage: sbctl [-b HOST:PORT] [--timeout MS] COMMAND [ARGS]\n"
    "\n"
    "commands:\n"
    "  topic create NAME [--partitions N] [--config key=value ...]\n"
    "  topic list [PREFIX]\n"
    "  topic describe NAME\n"
    "  topic delete NAME\n"
    "  topic alter NAME [--partitions N] [--config key=value|key ...]\n"
    "  produce TOPIC [-p PARTITION] [-K SEP] [-H name=value ...] [--acks 0|1|all]\n"
    "                [--compression none|gzip|snappy|lz4|zstd] [--linger MS]\n"
    "  consume TOPIC [-p PARTITION] [--from beginning|end|OFFSET|@TIMESTAMP_MS]\n"
    "                [--count N] [--follow] [--format FMT]\n"
    "  consume TOPIC --group G [--from beginning|end] [--count N] [--format FMT]\n"
    "  health\n"
    "  group list | group describe GROUP | group delete GROUP\n"
    "  group reset-offsets GROUP --topic TOPIC\n"
    "                --to-earliest|--to-latest|--to-offset N|--to-time MS\n"
    "\n"
    "options:\n"
    "  -b, --brokers HOST:PORT  bootstrap broker(s), comma separated (default 127.0.0.1:9092)\n"
    "  --timeout MS             how long to wait for the broker (default 30000)\n"
    "  -h, --help               this text; `sbctl COMMAND --help` for one command\n"
    "  --version                print the library version\n"
    "\n"
    "exit status: 0 ok, 1 refused by the broker or a record failed, 2 usage,\n"
    "3 broker unreachable or timed out, 4 consume --count reached the end first\n";

static const char sbctl_topic_usage[] =
    "usage: sbctl topic create NAME [--partitions N] [--config key=value ...]\n"
    "       sbctl topic list [PREFIX]\n"
    "       sbctl topic describe NAME\n"
    "       sbctl topic delete NAME\n"
    "       sbctl topic alter NAME [--partitions N] [--config key=value|key ...]\n"
    "\n"
    "create makes a topic (default: the broker's default partition count); describe\n"
    "prints each partition's leader, owning shard, earliest (log start) and latest (high\n"
    "watermark) offsets, and every config; alter grows partitions and sets configs (a bare\n"
    "key resets it).\n";

static const char sbctl_produce_usage[] =
    "usage: sbctl produce TOPIC [-p PARTITION] [-K SEP] [-H name=value ...]\n"
    "                     [--acks 0|1|all] [--compression CODEC] [--linger MS]\n"
    "\n"
    "Reads one record per line from stdin (the newline is not part of it) and sends it.\n"
    "  -p PARTITION   send every record to this partition (default: by key, else spread)\n"
    "  -K SEP         split each line at the first SEP into key and value\n"
    "  -H name=value  add this header to every record (repeatable)\n"
    "  --acks         0, 1 or all (default all)\n"
    "  --compression  none, gzip, snappy, lz4 or zstd (default none)\n"
    "  --linger MS    wait up to MS to batch records (default 5)\n"
    "Exits 0 only when every record was acknowledged; otherwise says how many failed.\n";

static const char sbctl_consume_usage[] =
    "usage: sbctl consume TOPIC [-p PARTITION] [--from WHERE] [--count N] [--follow]\n"
    "                     [--format FMT]\n"
    "\n"
    "Writes one record per line to stdout.\n"
    "  -p PARTITION   read only this partition (default: all)\n"
    "  --from WHERE   beginning (default), end, an OFFSET, or @TIMESTAMP_MS\n"
    "  --count N      stop after N records (exit 4 when no more arrive within --timeout)\n"
    "  --follow       keep waiting for new records (until interrupted or --count)\n"
    "  --format FMT   what to print per record (default %v); a newline follows each:\n"
    "                 %t topic  %p partition  %o offset  %k key  %v value\n"
    "                 %T timestamp (ms)  %h headers (name=value,...)  %% a percent sign\n"
    "                 \\n newline  \\t tab  \\\\ backslash\n"
    "Without --count or --follow it stops at the end of the partition(s) as of its start.\n"
    "       sbctl consume TOPIC --group G [--from beginning|end] [--count N] [--format FMT]\n"
    "Consumes as a member of consumer group G: the group's members split the partitions.\n"
    "--from says where partitions without a committed offset start (default beginning).\n"
    "Commits what it printed as it goes (every second); runs until --count records or\n"
    "SIGINT/SIGTERM, then commits, leaves the group and exits 0.\n";

static const char sbctl_health_usage[] =
    "usage: sbctl health\n"
    "\n"
    "Asks the broker for its status, uptime and per-shard load. Exits 0 when it is serving.\n";

void
sbctl_error(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    fputs("sbctl: ", stderr);
    vfprintf(stderr, format, args);
    fputc('\n', stderr);
    va_end(args);
}

/* Exit status for a library error: unreachable/timeouts 3, anything else 1. */
static int
sbctl_exit_code(int error)
{
    switch (error) {
    case -ECONNREFUSED:
    case -ECONNRESET:
    case -ETIMEDOUT:
    case -EHOSTUNREACH:
    case -ENETUNREACH:
    case -ECONNABORTED:
    case -EPIPE:
        return SBCTL_EXIT_UNREACHABLE;
    default:
        return SBCTL_EXIT_FAILED;
    }
}

int
sbctl_fail(const char *what, int error)
{
    const char *detail = sb_client_error_detail();
    if (detail[0] != '\0') {
        sbctl_error("%s: %s (%s)", what, sb_client_strerror(error), detail);
    } else {
        sbctl_error("%s: %s", what, sb_client_strerror(error));
    }
    return sbctl_exit_code(error);
}

bool
sbctl_parse_i64(const char *text, int64_t min, int64_t *out)
{
    char *end = NULL;
    errno = 0;
    long long value = strtoll(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || value < min) {
        return false;
    }
    *out = value;
    return true;
}

int
sbctl_connect(struct sbctl *sbctl, const struct sbctl_options *options)
{
    struct sb_client_config *config = sb_client_config_new();
    if (config == NULL) {
        sbctl_error("out of memory");
        return SBCTL_EXIT_FAILED;
    }
    char timeout[32];
    snprintf(timeout, sizeof(timeout), "%d", sbctl->timeout_ms);
    struct {
        const char *key;
        const char *value;
    } settings[] = {
        {"bootstrap.servers", sbctl->brokers}, {"client.id", "sbctl"},
        {"request.timeout.ms", timeout}, {"max.block.ms", timeout},
        {"delivery.timeout.ms", timeout}, {"auto.offset.reset", "earliest"},
        {"acks", options != NULL ? options->acks : NULL},
        {"compression", options != NULL ? options->compression : NULL},
        {"linger.ms", options != NULL ? options->linger_ms : NULL},
        {"group.id", options != NULL ? options->group : NULL},
        {"auto.offset.reset", options != NULL ? options->offset_reset : NULL},
        {"auto.commit.interval.ms", options != NULL && options->group != NULL ? "1000" : NULL},
    };
    int result = 0;
    for (size_t index = 0; index < sizeof(settings) / sizeof(settings[0]) && result == 0;
         index++) {
        if (settings[index].value != NULL) {
            result = sb_client_config_set(config, settings[index].key, settings[index].value);
        }
    }
    result = result == 0 ? sb_client_open(config, &sbctl->client) : result;
    sb_client_config_free(config);
    if (result != 0) {
        sbctl_fail("configuration", result);
        return result == SB_ERR_CONFIG ? SBCTL_EXIT_USAGE : SBCTL_EXIT_FAILED;
    }
    return SBCTL_EXIT_OK;
}

int
sbctl_option(int argc, char **argv, int *index, const char *name, const char *alias,
             const char **value)
{
    const char *argument = argv[*index];
    size_t length = strlen(name);
    if (strncmp(argument, name, length) == 0 && argument[length] == '=') {
        *value = argument + length + 1;
        return 1;
    }
    if (strcmp(argument, name) != 0 && (alias == NULL || strcmp(argument, alias) != 0)) {
        return 0;
    }
    if (*index + 1 >= argc) {
        sbctl_error("%s needs a value", argument);
        return -1;
    }
    *value = argv[++*index];
    return 1;
}

static bool
sbctl_repeat(const char **list, size_t *count, const char *value)
{
    if (*count == SBCTL_REPEATS_MAX) {
        sbctl_error("too many repeated options (at most %d)", SBCTL_REPEATS_MAX);
        return false;
    }
    list[(*count)++] = value;
    return true;
}

/* Applies one option with a value to options; returns false for a bad value. */
static bool
sbctl_apply(struct sbctl_options *options, const char *name, const char *value)
{
    int64_t number = 0;
    if (strcmp(name, "--partition") == 0) {
        if (!sbctl_parse_i64(value, 0, &number) || number > INT32_MAX) {
            sbctl_error("bad partition \"%s\"", value);
            return false;
        }
        options->partition = (int32_t)number;
    } else if (strcmp(name, "--partitions") == 0) {
        if (!sbctl_parse_i64(value, 1, &number) || number > INT32_MAX) {
            sbctl_error("bad partition count \"%s\"", value);
            return false;
        }
        options->partitions = (int32_t)number;
    } else if (strcmp(name, "--count") == 0) {
        if (!sbctl_parse_i64(value, 0, &options->count)) {
            sbctl_error("bad count \"%s\"", value);
            return false;
        }
    } else if (strcmp(name, "--config") == 0) {
        return sbctl_repeat(options->configs, &options->config_count, value);
    } else if (strcmp(name, "--header") == 0) {
        return sbctl_repeat(options->headers, &options->header_count, value);
    } else if (strcmp(name, "--key-separator") == 0) {
        options->key_separator = value;
    } else if (strcmp(name, "--acks") == 0) {
        options->acks = value;
    } else if (strcmp(name, "--compression") == 0) {
        options->compression = value;
    } else if (strcmp(name, "--linger") == 0) {
        options->linger_ms = value;
    } else if (strcmp(name, "--from") == 0) {
        options->from = value;
    } else {
        options->format = value;
    }
    return true;
}

/* Options with a value: long name and short alias. */
static const struct {
    const char *name;
    const char *alias;
} sbctl_valued[] = {
    {"--partition", "-p"}, {"--partitions", NULL}, {"--count", "-c"}, {"--config", NULL},
    {"--header", "-H"}, {"--key-separator", "-K"}, {"--acks", NULL},
    {"--compression", "-z"}, {"--linger", NULL}, {"--from", "-o"}, {"--format", "-f"},
};

/* Parses a command's arguments: positional arguments into positional[], options into
 * *options. Returns -1 for --help, 0 ok, SBCTL_EXIT_USAGE on error. */
static int
sbctl_parse(int argc, char **argv, struct sbctl_options *options, const char **positional,
            int positional_max, int *positional_count)
{
    *options = (struct sbctl_options){.partition = SB_PARTITION_ANY, .count = -1};
    *positional_count = 0;
    for (int index = 0; index < argc; index++) {
        if (strcmp(argv[index], "--help") == 0 || strcmp(argv[index], "-h") == 0) {
            return -1;
        }
        if (strcmp(argv[index], "--follow") == 0 || strcmp(argv[index], "-F") == 0) {
            options->follow = true;
            continue;
        }
        int matched = 0;
        for (size_t option = 0; option < sizeof(sbctl_valued) / sizeof(sbctl_valued[0]) &&
                                matched == 0; option++) {
            const char *value = NULL;
            matched = sbctl_option(argc, argv, &index, sbctl_valued[option].name,
                                   sbctl_valued[option].alias, &value);
            if (matched == 1 && !sbctl_apply(options, sbctl_valued[option].name, value)) {
                return SBCTL_EXIT_USAGE;
            }
        }
        if (matched < 0) {
            return SBCTL_EXIT_USAGE;
        }
        if (matched == 0 && argv[index][0] == '-' && argv[index][1] != '\0') {
            sbctl_error("unknown option %s", argv[index]);
            return SBCTL_EXIT_USAGE;
        }
        if (matched == 0) {
            if (*positional_count == positional_max) {
                sbctl_error("unexpected argument \"%s\"", argv[index]);
                return SBCTL_EXIT_USAGE;
            }
            positional[(*positional_count)++] = argv[index];
        }
    }
    return 0;
}

static int
sbctl_topic_describe(struct sbctl *sbctl, const char *name)
{
    struct sb_admin_topic_description *description = NULL;
    int result = sb_admin_topic_describe(sbctl->client, name, sbctl->timeout_ms, &description);
    if (result != 0) {
        char what[300];
        snprintf(what, sizeof(what), "topic describe %s", name);
        return sbctl_fail(what, result);
    }
    printf("topic %s id=%" PRIu32 " partitions=%" PRIu32 "\n", description->name,
           description->topic_id, description->partition_count);
    for (uint32_t index = 0; index < description->partition_count; index++) {
        const struct sb_admin_partition *partition = &description->partitions[index];
        printf("  partition %" PRId32 " leader=%" PRId32 " shard=%" PRId32 " earliest=%" PRId64
               " latest=%" PRId64 " end=%" PRId64 "\n",
               partition->partition, partition->leader, partition->shard,
               partition->log_start_offset, partition->high_watermark,
               partition->log_end_offset);
    }
    printf("config:\n");
    for (uint32_t index = 0; index < description->config_count; index++) {
        const struct sb_admin_config_entry *config = &description->configs[index];
        printf("  %s=%s%s\n", config->key, config->value != NULL ? config->value : "(hidden)",
               config->is_default ? " (default)" : "");
    }
    sb_admin_topic_description_free(description);
    return SBCTL_EXIT_OK;
}

static int
sbctl_topic_list(struct sbctl *sbctl, const char *prefix)
{
    struct sb_admin_topic_list *list = NULL;
    int result = sb_admin_topic_list(sbctl->client, prefix, sbctl->timeout_ms, &list);
    if (result != 0) {
        return sbctl_fail("topic list", result);
    }
    for (uint32_t index = 0; index < list->topic_count; index++) {
        const struct sb_admin_topic *topic = &list->topics[index];
        printf("%s partitions=%" PRId32 " id=%" PRIu32 "%s\n", topic->name,
               topic->partition_count, topic->topic_id, topic->internal ? " internal" : "");
    }
    sb_admin_topic_list_free(list);
    return SBCTL_EXIT_OK;
}

/* topic create|delete|alter NAME: the commands that only report success. */
static int
sbctl_topic_change(struct sbctl *sbctl, const char *action, const char *name,
                   const struct sbctl_options *options)
{
    int result;
    if (strcmp(action, "create") == 0) {
        result = sb_admin_topic_create(sbctl->client, name, options->partitions,
                                       options->configs, options->config_count,
                                       sbctl->timeout_ms);
    } else if (strcmp(action, "delete") == 0) {
        result = sb_admin_topic_delete(sbctl->client, name, sbctl->timeout_ms);
    } else {
        result = sb_admin_topic_alter(sbctl->client, name, options->partitions,
                                      options->configs, options->config_count,
                                      sbctl->timeout_ms);
    }
    if (result != 0) {
        char what[300];
        snprintf(what, sizeof(what), "topic %s %s", action, name);
        return sbctl_fail(what, result);
    }
    fprintf(stderr, "sbctl: topic %s: %s\n", name,
            strcmp(action, "create") == 0 ? "created"
            : strcmp(action, "delete") == 0 ? "deleted" : "altered");
    return SBCTL_EXIT_OK;
}

/* Whether every --config is key=value (or, unless create, a bare key): a usage check. */
static bool
sbctl_configs_valid(const struct sbctl_options *options, bool create)
{
    for (size_t index = 0; index < options->config_count; index++) {
        const char *config = options->configs[index];
        const char *equals = strchr(config, '=');
        if (config[0] == '\0' || equals == config || (create && equals == NULL)) {
            sbctl_error("config \"%s\" is not %s", config, create ? "key=value"
                                                                 : "key=value or key");
            return false;
        }
    }
    return true;
}

static int
sbctl_topic(struct sbctl *sbctl, int argc, char **argv)
{
    struct sbctl_options options;
    const char *positional[3];
    int count = 0;
    int parsed = sbctl_parse(argc, argv, &options, positional, 3, &count);
    if (parsed != 0) {
        fputs(sbctl_topic_usage, parsed < 0 ? stdout : stderr);
        return parsed < 0 ? SBCTL_EXIT_OK : SBCTL_EXIT_USAGE;
    }
    const char *action = count > 0 ? positional[0] : "";
    bool is_list = strcmp(action, "list") == 0;
    bool known = is_list || strcmp(action, "create") == 0 || strcmp(action, "delete") == 0 ||
                 strcmp(action, "describe") == 0 || strcmp(action, "alter") == 0;
    if (!known || (!is_list && count != 2) || (is_list && count > 2)) {
        sbctl_error(known ? "topic %s needs exactly one NAME" : "unknown topic command \"%s\"",
                    action);
        fputs(sbctl_topic_usage, stderr);
        return SBCTL_EXIT_USAGE;
    }
    if (!sbctl_configs_valid(&options, strcmp(action, "create") == 0)) {
        fputs(sbctl_topic_usage, stderr);
        return SBCTL_EXIT_USAGE;
    }
    int result = sbctl_connect(sbctl, NULL);
    if (result != SBCTL_EXIT_OK) {
        return result;
    }
    if (is_list) {
        return sbctl_topic_list(sbctl, count == 2 ? positional[1] : "");
    }
    if (strcmp(action, "describe") == 0) {
        return sbctl_topic_describe(sbctl, positional[1]);
    }
    return sbctl_topic_change(sbctl, action, positional[1], &options);
}

/* Produce bookkeeping shared with the delivery callback (on the client's thread). */
struct sbctl_produce {
    uint64_t acked;       /* Records stored. */
    uint64_t failed;      /* Records that failed. */
    int first_error;      /* The first failure's code. */
};

/* Notes a record that failed with error (a refused send or a failed delivery). */
static void
sbctl_produce_failed(struct sbctl_produce *state, int error)
{
    int expected = 0;
    __atomic_compare_exchange_n(&state->first_error, &expected, error, false,
                                __ATOMIC_RELAXED, __ATOMIC_RELAXED);
    __atomic_fetch_add(&state->failed, 1, __ATOMIC_RELAXED);
}

static void
sbctl_on_delivery(const struct sb_producer_delivery *delivery, void *opaque)
{
    struct sbctl_produce *state = opaque;
    if (delivery->error == 0) {
        __atomic_fetch_add(&state->acked, 1, __ATOMIC_RELAXED);
        return;
    }
    sbctl_produce_failed(state, delivery->error);
}

/* Parses -H name=value options into headers. */
static bool
sbctl_headers(const struct sbctl_options *options, struct sb_client_header *headers)
{
    for (size_t index = 0; index < options->header_count; index++) {
        const char *text = options->headers[index];
        const char *equals = strchr(text, '=');
        if (equals == NULL || equals == text) {
            sbctl_error("header \"%s\" is not name=value", text);
            return false;
        }
        headers[index] = (struct sb_client_header){text, (size_t)(equals - text), equals + 1,
                                                   strlen(equals + 1)};
    }
    return true;
}

/* Sends one line (without its newline) as a record. */
static int
sbctl_send_line(struct sb_producer *producer, const struct sbctl_options *options,
                struct sb_producer_message *message, char *line, size_t length,
                struct sbctl_produce *state)
{
    message->key = NULL;
    message->key_length = 0;
    message->value = line;
    message->value_length = length;
    if (options->key_separator != NULL && options->key_separator[0] != '\0') {
        char *separator = memmem(line, length, options->key_separator,
                                 strlen(options->key_separator));
        if (separator != NULL) {
            message->key = line;
            message->key_length = (size_t)(separator - line);
            message->value = separator + strlen(options->key_separator);
            message->value_length = length - message->key_length -
                                    strlen(options->key_separator);
        }
    }
    return sb_producer_send(producer, message, sbctl_on_delivery, state);
}

/* Reads stdin to the end (or a signal), sending each line: a line refused by send counts
 * as failed and the next one is tried. Returns how many lines were read. */
static uint64_t
sbctl_produce_lines(struct sb_producer *producer, const struct sbctl_options *options,
                    struct sb_producer_message *message, struct sbctl_produce *state)
{
    char *line = NULL;
    size_t capacity = 0;
    ssize_t length;
    uint64_t lines = 0;
    while (!sbctl_stop && (length = getline(&line, &capacity, stdin)) >= 0) {
        if (length > 0 && line[length - 1] == '\n') {
            line[--length] = '\0';
        }
        int result = sbctl_send_line(producer, options, message, line, (size_t)length, state);
        if (result != 0) {
            sbctl_produce_failed(state, result);
        }
        lines++;
    }
    free(line);
    return lines;
}

static int
sbctl_produce_run(struct sbctl *sbctl, const struct sbctl_options *options)
{
    int count = sb_client_partition_count(sbctl->client, options->topic, sbctl->timeout_ms);
    if (count >= 0 && options->partition >= count) {
        count = SB_ERR_UNKNOWN_TOPIC;
    }
    char what[300];
    snprintf(what, sizeof(what), "produce %s", options->topic);
    if (count < 0) {
        return sbctl_fail(what, count);
    }
    struct sb_client_header headers[SBCTL_REPEATS_MAX];
    struct sb_producer *producer = NULL;
    if (!sbctl_headers(options, headers)) {
        return SBCTL_EXIT_USAGE;
    }
    int result = sb_producer_open(sbctl->client, &producer);
    if (result != 0) {
        return sbctl_fail(what, result);
    }
    struct sbctl_produce state = {0};
    struct sb_producer_message message = {
        .topic = options->topic, .partition = options->partition, .headers = headers,
        .header_count = (uint32_t)options->header_count};
    uint64_t lines = sbctl_produce_lines(producer, options, &message, &state);
    sb_producer_close(producer, -1); /* Bounded by delivery.timeout.ms. */
    if (state.failed == 0) {
        fprintf(stderr, "sbctl: produce %s: %" PRIu64 " record(s) acknowledged\n",
                options->topic, state.acked);
        return SBCTL_EXIT_OK;
    }
    sbctl_error("produce %s: %" PRIu64 " of %" PRIu64 " record(s) failed (%" PRIu64
                " acknowledged): %s", options->topic, state.failed, lines, state.acked,
                sb_client_strerror(state.first_error));
    return sbctl_exit_code(state.first_error);
}

static int
sbctl_produce(struct sbctl *sbctl, int argc, char **argv)
{
    struct sbctl_options options;
    const char *positional[1];
    int count = 0;
    int parsed = sbctl_parse(argc, argv, &options, positional, 1, &count);
    if (parsed == 0 && count != 1) {
        sbctl_error("produce needs a TOPIC");
        parsed = SBCTL_EXIT_USAGE;
    }
    if (parsed != 0) {
        fputs(sbctl_produce_usage, parsed < 0 ? stdout : stderr);
        return parsed < 0 ? SBCTL_EXIT_OK : SBCTL_EXIT_USAGE;
    }
    options.topic = positional[0];
    int result = sbctl_connect(sbctl, &options);
    return result != SBCTL_EXIT_OK ? result : sbctl_produce_run(sbctl, &options);
}

/* Writes bytes, or nothing for NULL. */
static void
sbctl_write(const void *bytes, size_t length)
{
    if (bytes != NULL && length > 0) {
        fwrite(bytes, 1, length, stdout);
    }
}

static void
sbctl_write_headers(const struct sb_consumer_record *record)
{
    for (uint32_t index = 0; index < record->header_count; index++) {
        const struct sb_client_header *header = &record->headers[index];
        if (index > 0) {
            fputc(',', stdout);
        }
        sbctl_write(header->name, header->name_length);
        fputc('=', stdout);
        sbctl_write(header->value, header->value_length);
    }
}

/* Prints one record as format says, then a newline. */
static void
sbctl_print(const char *format, const struct sb_consumer_record *record)
{
    for (const char *cursor = format; *cursor != '\0'; cursor++) {
        if (*cursor == '\\' && cursor[1] != '\0') {
            cursor++;
            fputc(*cursor == 'n' ? '\n' : *cursor == 't' ? '\t' : *cursor, stdout);
            continue;
        }
        if (*cursor != '%' || cursor[1] == '\0') {
            fputc(*cursor, stdout);
            continue;
        }
        cursor++;
        switch (*cursor) {
        case 't': fputs(record->topic, stdout); break;
        case 'p': printf("%" PRId32, record->partition); break;
        case 'o': printf("%" PRId64, record->offset); break;
        case 'T': printf("%" PRId64, record->timestamp_ms); break;
        case 'k': sbctl_write(record->key, record->key_length); break;
        case 'v': sbctl_write(record->value, record->value_length); break;
        case 'h': sbctl_write_headers(record); break;
        default: fputc(*cursor, stdout); break;
        }
    }
    fputc('\n', stdout);
}

/* Where consume starts: an offset, or SB_OFFSET_* / a timestamp (timestamp_out >= 0). */
static bool
sbctl_parse_from(const char *from, int64_t *offset_out, int64_t *timestamp_out)
{
    *timestamp_out = -1;
    if (from == NULL || strcmp(from, "beginning") == 0) {
        *offset_out = SB_OFFSET_BEGINNING;
    } else if (strcmp(from, "end") == 0) {
        *offset_out = SB_OFFSET_END;
    } else if (from[0] == '@') {
        return sbctl_parse_i64(from + 1, 0, timestamp_out);
    } else {
        return sbctl_parse_i64(from, 0, offset_out);
    }
    return true;
}

/* State of one consume run. */
struct sbctl_consume {
    struct sb_consumer *consumer;        /* Open consumer. */
    struct sb_admin_topic_description *description; /* Partitions and end offsets. */
    int64_t *ends;                       /* Per partition: stop at this offset, or -1. */
    uint32_t remaining;                  /* Partitions not yet at their end. */
    uint64_t printed;                    /* Records written. */
};

/* Assigns and positions every partition to read; computes where each ends. */
static int
sbctl_consume_assign(struct sbctl *sbctl, const struct sbctl_options *options,
                     struct sbctl_consume *run, int64_t offset, int64_t timestamp)
{
    const char *topic = options->topic;
    bool stop_at_end = !options->follow && options->count < 0;
    for (uint32_t index = 0; index < run->description->partition_count; index++) {
        const struct sb_admin_partition *partition = &run->description->partitions[index];
        run->ends[index] = -1;
        if (options->partition >= 0 && partition->partition != options->partition) {
            continue;
        }
        int result = sb_consumer_assign(run->consumer, topic, partition->partition);
        result = result == 0 && timestamp >= 0
                     ? sb_consumer_seek_timestamp(run->consumer, topic, partition->partition,
                                                  timestamp)
                     : result == 0 ? sb_consumer_seek(run->consumer, topic,
                                                      partition->partition, offset)
                                   : result;
        int64_t position = 0;
        if (result == 0 && stop_at_end) {
            result = sb_consumer_position(run->consumer, topic, partition->partition,
                                          sbctl->timeout_ms, &position);
        }
        if (result != 0) {
            return result;
        }
        if (stop_at_end && position < partition->high_watermark) {
            run->ends[index] = partition->high_watermark;
            run->remaining++;
        }
    }
    return 0;
}

static void
sbctl_on_signal(int signal_number)
{
    (void)signal_number;
    sbctl_stop = 1;
}

/* No record for --timeout: with --count and a broker that answers, the partitions are at
 * their end (exit 4); else the broker is unreachable or too slow (exit 3). */
static int
sbctl_consume_idle(struct sbctl *sbctl, const struct sbctl_options *options,
                   const struct sbctl_consume *run)
{
    struct sb_admin_health *health = NULL;
    int timeout_ms = sbctl->timeout_ms < SBCTL_HEALTH_TIMEOUT_MS ? sbctl->timeout_ms
                                                                 : SBCTL_HEALTH_TIMEOUT_MS;
    if (options->count >= 0 && sb_admin_health(sbctl->client, timeout_ms, &health) == 0) {
        sb_admin_health_free(health);
        sbctl_error("consume %s: %" PRIu64 " of %" PRId64 " record(s): reached the end, no "
                    "more within %d ms", options->topic, run->printed, options->count,
                    sbctl->timeout_ms);
        return SBCTL_EXIT_SHORT;
    }
    sbctl_error("consume %s: no records for %d ms", options->topic, sbctl->timeout_ms);
    return SBCTL_EXIT_UNREACHABLE;
}

/* Polls and prints until the end, the count, a signal, or an error. */
static int
sbctl_consume_loop(struct sbctl *sbctl, const struct sbctl_options *options,
                   struct sbctl_consume *run)
{
    bool stop_at_end = !options->follow && options->count < 0;
    const char *format = options->format != NULL ? options->format : "%v";
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    int64_t idle_since_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    while (!sbctl_stop && (!stop_at_end || run->remaining > 0) &&
           (options->count < 0 || run->printed < (uint64_t)options->count)) {
        const struct sb_consumer_record *record = NULL;
        int result = sb_consumer_poll(run->consumer, SBCTL_POLL_SLICE_MS, &record);
        clock_gettime(CLOCK_MONOTONIC, &now);
        int64_t now_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
        if (result < 0) {
            sbctl_error("consume %s/%" PRId32 ": %s", record->topic, record->partition,
                        sb_client_strerror(result));
            return sbctl_exit_code(result);
        }
        if (result == 0) {
            if (!options->follow && now_ms - idle_since_ms > sbctl->timeout_ms) {
                return sbctl_consume_idle(sbctl, options, run);
            }
            continue;
        }
        idle_since_ms = now_ms;
        uint32_t index = 0;
        while (index < run->description->partition_count &&
               run->description->partitions[index].partition != record->partition) {
            index++;
        }
        bool past_end = stop_at_end && index < run->description->partition_count &&
                        (run->ends[index] < 0 || record->offset >= run->ends[index]);
        if (past_end) {
            continue; /* Arrived after we started: not ours to print. */
        }
        sbctl_print(format, record);
        run->printed++;
        if (options->follow) {
            fflush(stdout);
        }
        if (stop_at_end && index < run->description->partition_count &&
            record->offset + 1 >= run->ends[index]) {
            run->ends[index] = -1;
            run->remaining--;
        }
    }
    return SBCTL_EXIT_OK;
}

static int
sbctl_consume_run(struct sbctl *sbctl, const struct sbctl_options *options)
{
    int64_t offset = 0;
    int64_t timestamp = -1;
    if (!sbctl_parse_from(options->from, &offset, &timestamp)) {
        sbctl_error("bad --from \"%s\" (beginning, end, OFFSET or @TIMESTAMP_MS)",
                    options->from);
        return SBCTL_EXIT_USAGE;
    }
    char what[300];
    snprintf(what, sizeof(what), "consume %s", options->topic);
    struct sbctl_consume run = {0};
    int result = sb_admin_topic_describe(sbctl->client, options->topic, sbctl->timeout_ms,
                                         &run.description);
    if (result != 0) {
        return sbctl_fail(what, result);
    }
    int status = SBCTL_EXIT_FAILED;
    run.ends = calloc(run.description->partition_count + 1, sizeof(*run.ends));
    if (options->partition >= 0 &&
        (uint32_t)options->partition >= run.description->partition_count) {
        status = sbctl_fail(what, SB_ERR_UNKNOWN_TOPIC);
    } else if (run.ends != NULL && (result = sb_consumer_open(sbctl->client,
                                                              &run.consumer)) == 0) {
        result = sbctl_consume_assign(sbctl, options, &run, offset, timestamp);
        status = result != 0 ? sbctl_fail(what, result)
                             : sbctl_consume_loop(sbctl, options, &run);
        sb_consumer_close(run.consumer);
    }
    fflush(stdout);
    free(run.ends);
    sb_admin_topic_description_free(run.description);
    return status;
}

/* consume --group: polls and prints as a member of the group until --count or a signal;
 * then a final commit of what was printed, and close leaves the group. */
static int
sbctl_consume_group(struct sbctl *sbctl, const struct sbctl_options *options)
{
    char what[600];
    snprintf(what, sizeof(what), "consume %s --group %s", options->topic, options->group);
    int result = sb_client_partition_count(sbctl->client, options->topic, sbctl->timeout_ms);
    struct sb_consumer *consumer = NULL;
    const char *topics[] = {options->topic};
    result = result >= 0 ? sb_consumer_open(sbctl->client, &consumer) : result;
    result = result == 0 ? sb_consumer_subscribe(consumer, topics, 1) : result;
    const char *format = options->format != NULL ? options->format : "%v";
    uint64_t printed = 0;
    while (result == 0 && !sbctl_stop &&
           (options->count < 0 || printed < (uint64_t)options->count)) {
        const struct sb_consumer_record *record = NULL;
        result = sb_consumer_poll(consumer, SBCTL_POLL_SLICE_MS, &record);
        if (result == 1) {
            sbctl_print(format, record);
            fflush(stdout);
            printed++;
            result = 0;
        }
    }
    int status = result != 0 ? sbctl_fail(what, result) : SBCTL_EXIT_OK;
    result = consumer != NULL ? sb_consumer_commit_sync(consumer, NULL, 0, sbctl->timeout_ms)
                              : 0;
    if (result != 0) {
        status = status != SBCTL_EXIT_OK ? status : sbctl_fail("final commit", result);
    }
    sb_consumer_close(consumer);
    return status;
}

/* Takes --group G (and its value) out of the consume arguments into *group; returns the
 * remaining count (argv compacted in place) or -1 when the value is missing. */
static int
sbctl_consume_group_option(int argc, char **argv, const char **group)
{
    int kept = 0;
    *group = NULL;
    for (int index = 0; index < argc; index++) {
        if (strcmp(argv[index], "--group") == 0 || strcmp(argv[index], "-g") == 0) {
            if (index + 1 >= argc) {
                sbctl_error("%s needs a value", argv[index]);
                return -1;
            }
            *group = argv[++index];
        } else if (strncmp(argv[index], "--group=", 8) == 0) {
            *group = argv[index] + 8;
        } else {
            argv[kept++] = argv[index];
        }
    }
    return kept;
}

/* Checks the options consume --group accepts; sets where uncommitted partitions start. */
static bool
sbctl_consume_group_check(struct sbctl_options *options)
{
    if (options->partition >= 0) {
        sbctl_error("consume --group takes no -p: the group assigns the partitions");
        return false;
    }
    if (options->from != NULL && strcmp(options->from, "beginning") != 0 &&
        strcmp(options->from, "end") != 0) {
        sbctl_error("consume --group: --from is beginning or end");
        return false;
    }
    options->offset_reset = options->from != NULL && strcmp(options->from, "end") == 0
                                ? "latest"
                                : "earliest";
    return true;
}

static int
sbctl_consume(struct sbctl *sbctl, int argc, char **argv)
{
    struct sbctl_options options;
    const char *positional[1];
    const char *group = NULL;
    int count = 0;
    argc = sbctl_consume_group_option(argc, argv, &group);
    int parsed = argc < 0 ? SBCTL_EXIT_USAGE
                          : sbctl_parse(argc, argv, &options, positional, 1, &count);
    if (parsed == 0 && count != 1) {
        sbctl_error("consume needs a TOPIC");
        parsed = SBCTL_EXIT_USAGE;
    }
    options.group = group;
    if (parsed == 0 && group != NULL && !sbctl_consume_group_check(&options)) {
        parsed = SBCTL_EXIT_USAGE;
    }
    if (parsed != 0) {
        fputs(sbctl_consume_usage, parsed < 0 ? stdout : stderr);
        return parsed < 0 ? SBCTL_EXIT_OK : SBCTL_EXIT_USAGE;
    }
    options.topic = positional[0];
    struct sigaction action = {.sa_handler = sbctl_on_signal};
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);
    int result = sbctl_connect(sbctl, group != NULL ? &options : NULL);
    if (result != SBCTL_EXIT_OK) {
        return result;
    }
    return group != NULL ? sbctl_consume_group(sbctl, &options)
                         : sbctl_consume_run(sbctl, &options);
}

static int
sbctl_health(struct sbctl *sbctl, int argc, char **argv)
{
    struct sbctl_options options;
    const char *positional[1];
    int count = 0;
    int parsed = sbctl_parse(argc, argv, &options, positional, 0, &count);
    if (parsed != 0) {
        fputs(sbctl_health_usage, parsed < 0 ? stdout : stderr);
        return parsed < 0 ? SBCTL_EXIT_OK : SBCTL_EXIT_USAGE;
    }
    int result = sbctl_connect(sbctl, NULL);
    struct sb_admin_health *health = NULL;
    if (result != SBCTL_EXIT_OK) {
        return result;
    }
    result = sb_admin_health(sbctl->client, sbctl->timeout_ms, &health);
    if (result != 0) {
        return sbctl_fail("health", result);
    }
    static const char *const names[] = {"serving", "starting", "stopping", "degraded"};
    const char *status = health->status >= 0 && health->status < 4 ? names[health->status]
                                                                    : "unknown";
    printf("status=%s node=%" PRId32 " uptime_ms=%" PRId64 " shards=%" PRIu32 "\n", status,
           health->node_id, health->uptime_ms, health->shard_count);
    for (uint32_t index = 0; index < health->shard_count; index++) {
        const struct sb_admin_shard_health *shard = &health->shards[index];
        int code = shard->status;
        printf("  shard %" PRId32 " status=%s connections=%" PRId32 " partitions=%" PRId32 "\n",
               shard->shard_id, code >= 0 && code < 4 ? names[code] : "unknown",
               shard->connections, shard->partitions);
    }
    int exit_code = health->status == SB_ADMIN_STATUS_SERVING ? SBCTL_EXIT_OK
                                                              : SBCTL_EXIT_FAILED;
    sb_admin_health_free(health);
    return exit_code;
}

/* Parses the global options before the command; returns the command's index or -1. */
static int
sbctl_globals(int argc, char **argv, struct sbctl *sbctl, int *exit_code)
{
    for (int index = 1; index < argc; index++) {
        const char *value = NULL;
        int64_t number = 0;
        if (strcmp(argv[index], "--help") == 0 || strcmp(argv[index], "-h") == 0) {
            fputs(sbctl_usage, stdout);
            *exit_code = SBCTL_EXIT_OK;
            return -1;
        }
        if (strcmp(argv[index], "--version") == 0) {
            printf("sbctl (libstreambus %s)\n", sb_client_version());
            *exit_code = SBCTL_EXIT_OK;
            return -1;
        }
        int matched = sbctl_option(argc, argv, &index, "--brokers", "-b", &value);
        if (matched == 1) {
            sbctl->brokers = value;
            continue;
        }
        matched = matched == 0 ? sbctl_option(argc, argv, &index, "--timeout", NULL, &value)
                               : matched;
        if (matched == 1 && sbctl_parse_i64(value, 1, &number) && number <= 86400000) {
            sbctl->timeout_ms = (int)number;
            continue;
        }
        if (matched == 0 && argv[index][0] != '-') {
            return index;
        }
        sbctl_error(matched == 1 ? "bad --timeout \"%s\"" : "unknown option %s",
                    matched == 1 ? value : argv[index]);
        break;
    }
    if (argc <= 1) {
        sbctl_error("no command given");
    }
    fputs(sbctl_usage, stderr);
    *exit_code = SBCTL_EXIT_USAGE;
    return -1;
}

int
main(int argc, char **argv)
{
    struct sbctl sbctl = {.brokers = "127.0.0.1:9092", .timeout_ms = 30000};
    int exit_code = SBCTL_EXIT_USAGE;
    int command = sbctl_globals(argc, argv, &sbctl, &exit_code);
    if (command < 0) {
        return exit_code;
    }
    const char *name = argv[command];
    int rest = argc - command - 1;
    char **arguments = argv + command + 1;
    if (strcmp(name, "topic") == 0) {
        exit_code = sbctl_topic(&sbctl, rest, arguments);
    } else if (strcmp(name, "produce") == 0) {
        exit_code = sbctl_produce(&sbctl, rest, arguments);
    } else if (strcmp(name, "consume") == 0) {
        exit_code = sbctl_consume(&sbctl, rest, arguments);
    } else if (strcmp(name, "health") == 0) {
        exit_code = sbctl_health(&sbctl, rest, arguments);
    } else if (strcmp(name, "group") == 0) {
        exit_code = sbctl_group(&sbctl, rest, arguments);
    } else {
        sbctl_error("unknown command \"%s\"", name);
        fputs(sbctl_usage, stderr);
        exit_code = SBCTL_EXIT_USAGE;
    }
    sb_client_close(sbctl.client);
    return exit_code;
}
