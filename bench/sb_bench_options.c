/*
 * bench/sb_bench_options.c - sb-bench's command line: every flag, its default
 * and its check. sb_bench_options_parse fills a struct sb_bench_config or
 * prints the usage and returns -EINVAL. Start at sb_bench_options_parse.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/sb_bench.h"

static const char usage_text[] =
    "usage: sb-bench MODE [options]      MODE: produce, consume, e2e (both), ping\n"
    "  -b, --broker HOST:PORT    server (default 127.0.0.1 and the driver's port:\n"
    "                            streambus 9092, nats 4222, redis 6379)\n"
    "  --driver NAME             streambus (default), nats (JetStream), redis (Streams)\n"
    "  --duration S              measured seconds after the warm-up (10)\n"
    "  --warmup S                whole seconds not counted (1; consume: 0)\n"
    "  --drain S                 longest wait for acks/deliveries at the end (30)\n"
    "  --idle-stop S             consume: stop once no record came for S seconds (2);\n"
    "                            records still left then fail the run\n"
    "  --topic NAME              topic, or prefix NAME-i with --topics > 1 (sb-bench)\n"
    "  --topics N  --partitions N   topics and partitions per topic (1, 1)\n"
    "  --producers N  --consumers N threads producing and consuming (1, 1)\n"
    "  --threads N               client instances (connections, I/O threads) (1)\n"
    "  --size SPEC               bytes per message: N or uniform:MIN:MAX (1024; >= 32)\n"
    "  --keys SPEC               none, uniform:N or zipf:N[:S] (none: round-robin)\n"
    "  --rate R                  open loop: R messages/s in total (a whole number, 1 to\n"
    "                            100000000), latency measured from each message's intended\n"
    "                            send time (no coordinated omission)\n"
    "  --pace-us N               open loop: wake at most every N us and send every message\n"
    "                            due (100; 0: wake for each message; at most 10000)\n"
    "  --max-in-flight N         closed loop (no --rate): unacked per producer (1000)\n"
    "  --messages N              stop after N messages sent (produce) or received\n"
    "  --batch-bytes N --linger-ms N --acks 0|1|all --compression C   client settings\n"
    "                            (262144, 5, all, none; batch/linger/compression: streambus)\n"
    "  --from beginning|end      where consumers start (consume: beginning, e2e: end);\n"
    "                            with --group: partitions without a committed offset\n"
    "  --group G                 consume, e2e (streambus): consumers subscribe to the topics\n"
    "                            in group G instead of splitting the partitions by hand\n"
    "  --commit sync|async       --group: how positions are committed (async)\n"
    "  --commit-interval-ms N    --group: commit at most every N ms, 0 after every poll (100)\n"
    "  --join-timeout S          e2e --group: longest wait for this run's consumers to hold\n"
    "                            every partition before producing; then exit 1 (60)\n"
    "  --recreate                delete and create the topics first\n"
    "  --no-create               do not create missing topics\n"
    "  --json FILE               every figure, the histograms and the per-second series\n"
    "                            (produce, e2e: also each producer's acknowledged range)\n"
    "  --verify-against FILE     consume: count as lost every record the produce run that\n"
    "                            wrote FILE (--json) acknowledged and this run did not get,\n"
    "                            at either end too (without it only gaps are counted)\n"
    "  --label TEXT              carried into the JSON\n"
    "  --quiet                   no progress lines\n"
    "Exit status: 0 ok; 1 errors, lost/duplicated/out-of-order messages, or consumers that\n"
    "stopped with records left on a partition (not by --messages); 2 bad usage.\n";

enum option_key {
    OPTION_DRIVER = 256,
    OPTION_DURATION,
    OPTION_WARMUP,
    OPTION_DRAIN,
    OPTION_IDLE_STOP,
    OPTION_TOPIC,
    OPTION_TOPICS,
    OPTION_PARTITIONS,
    OPTION_PRODUCERS,
    OPTION_CONSUMERS,
    OPTION_THREADS,
    OPTION_SIZE,
    OPTION_KEYS,
    OPTION_RATE,
    OPTION_PACE_US,
    OPTION_MAX_IN_FLIGHT,
    OPTION_MESSAGES,
    OPTION_BATCH_BYTES,
    OPTION_LINGER_MS,
    OPTION_ACKS,
    OPTION_COMPRESSION,
    OPTION_FROM,
    OPTION_RECREATE,
    OPTION_NO_CREATE,
    OPTION_JSON,
    OPTION_VERIFY_AGAINST,
    OPTION_LABEL,
    OPTION_QUIET,
    OPTION_GROUP,
    OPTION_COMMIT,
    OPTION_COMMIT_INTERVAL_MS,
    OPTION_JOIN_TIMEOUT,
};

static const struct option long_options[] = {
    {"broker", required_argument, NULL, 'b'},
    {"help", no_argument, NULL, 'h'},
    {"driver", required_argument, NULL, OPTION_DRIVER},
    {"duration", required_argument, NULL, OPTION_DURATION},
    {"warmup", required_argument, NULL, OPTION_WARMUP},
    {"drain", required_argument, NULL, OPTION_DRAIN},
    {"idle-stop", required_argument, NULL, OPTION_IDLE_STOP},
    {"topic", required_argument, NULL, OPTION_TOPIC},
    {"topics", required_argument, NULL, OPTION_TOPICS},
    {"partitions", required_argument, NULL, OPTION_PARTITIONS},
    {"producers", required_argument, NULL, OPTION_PRODUCERS},
    {"consumers", required_argument, NULL, OPTION_CONSUMERS},
    {"threads", required_argument, NULL, OPTION_THREADS},
    {"size", required_argument, NULL, OPTION_SIZE},
    {"keys", required_argument, NULL, OPTION_KEYS},
    {"rate", required_argument, NULL, OPTION_RATE},
    {"pace-us", required_argument, NULL, OPTION_PACE_US},
    {"max-in-flight", required_argument, NULL, OPTION_MAX_IN_FLIGHT},
    {"messages", required_argument, NULL, OPTION_MESSAGES},
    {"batch-bytes", required_argument, NULL, OPTION_BATCH_BYTES},
    {"linger-ms", required_argument, NULL, OPTION_LINGER_MS},
    {"acks", required_argument, NULL, OPTION_ACKS},
    {"compression", required_argument, NULL, OPTION_COMPRESSION},
    {"from", required_argument, NULL, OPTION_FROM},
    {"recreate", no_argument, NULL, OPTION_RECREATE},
    {"no-create", no_argument, NULL, OPTION_NO_CREATE},
    {"json", required_argument, NULL, OPTION_JSON},
    {"verify-against", required_argument, NULL, OPTION_VERIFY_AGAINST},
    {"label", required_argument, NULL, OPTION_LABEL},
    {"quiet", no_argument, NULL, OPTION_QUIET},
    {"group", required_argument, NULL, OPTION_GROUP},
    {"commit", required_argument, NULL, OPTION_COMMIT},
    {"commit-interval-ms", required_argument, NULL, OPTION_COMMIT_INTERVAL_MS},
    {"join-timeout", required_argument, NULL, OPTION_JOIN_TIMEOUT},
    {NULL, 0, NULL, 0},
};

const char *
sb_bench_mode_name(enum sb_bench_mode mode)
{
    switch (mode) {
    case SB_BENCH_PRODUCE:
        return "produce";
    case SB_BENCH_CONSUME:
        return "consume";
    case SB_BENCH_E2E:
        return "e2e";
    case SB_BENCH_PING:
        return "ping";
    }
    return "?";
}

static int
fail(const char *flag, const char *value)
{
    fprintf(stderr, "sb-bench: bad value for %s: '%s'\n", flag, value);
    return -EINVAL;
}

/* Parses an unsigned integer in [minimum, maximum]. */
static int
parse_u64(const char *text, uint64_t minimum, uint64_t maximum, uint64_t *value_out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long value = strtoull(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || text[0] == '-' || value < minimum ||
        value > maximum) {
        return -EINVAL;
    }
    *value_out = value;
    return 0;
}

static int
parse_u32(const char *flag, const char *text, uint32_t minimum, uint32_t maximum,
          uint32_t *value_out)
{
    uint64_t value;
    if (parse_u64(text, minimum, maximum, &value) != 0) {
        return fail(flag, text);
    }
    *value_out = (uint32_t)value;
    return 0;
}

static int
parse_seconds(const char *flag, const char *text, double *value_out)
{
    char *end = NULL;
    double value = strtod(text, &end);
    if (end == text || *end != '\0' || !(value >= 0) || value > 86400.0 * 7) {
        return fail(flag, text);
    }
    *value_out = value;
    return 0;
}

/* A count of messages per second, 1 .. SB_BENCH_RATE_MAX (not seconds: no 7-day cap). */
static int
parse_rate(struct sb_bench_config *config, const char *text)
{
    uint64_t rate;
    if (parse_u64(text, 1, SB_BENCH_RATE_MAX, &rate) != 0) {
        return fail("--rate", text);
    }
    config->rate = (double)rate;
    return 0;
}

/* "N" or "uniform:MIN:MAX". */
static int
parse_size(struct sb_bench_config *config, const char *text)
{
    uint64_t minimum;
    uint64_t maximum;
    char low[32];
    char high[32];
    if (sscanf(text, "uniform:%31[0-9]:%31[0-9]", low, high) == 2) {
        if (parse_u64(low, SB_BENCH_HEADER_BYTES, SB_BENCH_MESSAGE_BYTES_MAX, &minimum) != 0 ||
            parse_u64(high, minimum, SB_BENCH_MESSAGE_BYTES_MAX, &maximum) != 0) {
            return fail("--size", text);
        }
        config->size_kind = SB_BENCH_SIZE_UNIFORM;
    } else if (parse_u64(text, SB_BENCH_HEADER_BYTES, SB_BENCH_MESSAGE_BYTES_MAX,
                         &minimum) == 0) {
        maximum = minimum;
        config->size_kind = SB_BENCH_SIZE_FIXED;
    } else {
        return fail("--size", text);
    }
    config->size_min = (uint32_t)minimum;
    config->size_max = (uint32_t)maximum;
    return 0;
}

/* "none", "uniform:N" or "zipf:N[:S]". */
static int
parse_keys(struct sb_bench_config *config, const char *text)
{
    char count[32] = "";
    char exponent[32] = "";
    if (strcmp(text, "none") == 0) {
        config->key_kind = SB_BENCH_KEY_NONE;
        return 0;
    }
    if (sscanf(text, "uniform:%31[0-9]", count) == 1) {
        config->key_kind = SB_BENCH_KEY_UNIFORM;
    } else if (sscanf(text, "zipf:%31[0-9]:%31[0-9.]", count, exponent) >= 1) {
        config->key_kind = SB_BENCH_KEY_ZIPF;
        if (exponent[0] != '\0') {
            config->zipf_exponent = strtod(exponent, NULL);
        }
    } else {
        return fail("--keys", text);
    }
    if (!(config->zipf_exponent > 0 && config->zipf_exponent < 10)) {
        return fail("--keys", text);
    }
    return parse_u32("--keys", count, 1, SB_BENCH_KEYS_MAX, &config->key_count);
}

static int
parse_broker(struct sb_bench_config *config, const char *text)
{
    const char *colon = strrchr(text, ':');
    uint32_t port = 0;
    if (colon == NULL || (size_t)(colon - text) >= sizeof(config->host) ||
        parse_u32("-b", colon + 1, 1, 65535, &port) != 0) {
        return fail("-b", text);
    }
    if (colon != text) {
        memcpy(config->host, text, (size_t)(colon - text));
        config->host[colon - text] = '\0';
    }
    config->port = (uint16_t)port;
    return 0;
}

static void
config_defaults(struct sb_bench_config *config)
{
    memset(config, 0, sizeof(*config));
    config->driver = "streambus";
    snprintf(config->host, sizeof(config->host), "127.0.0.1");
    config->duration_s = 10;
    config->drain_s = 30;
    config->idle_stop_s = 2;
    config->warmup_s = UINT32_MAX; /* Not given yet. */
    config->topic = "sb-bench";
    config->topic_count = 1;
    config->partitions = 1;
    config->producers = 1;
    config->consumers = 1;
    config->threads = 1;
    config->size_kind = SB_BENCH_SIZE_FIXED;
    config->size_min = 1024;
    config->size_max = 1024;
    config->zipf_exponent = 0.99;
    config->max_in_flight = 1000;
    config->pace_us = SB_BENCH_PACE_US_DEFAULT;
    config->batch_bytes = 262144;
    config->linger_ms = 5;
    config->acks = "all";
    config->compression = "none";
    config->create = true;
    config->commit = SB_BENCH_COMMIT_ASYNC;
    config->commit_interval_ms = 100;
    config->join_timeout_s = 60;
}

/* Options about the workload's shape. Returns 1 when key is not one of them. */
static int
parse_shape(struct sb_bench_config *config, int key, const char *value)
{
    switch (key) {
    case OPTION_TOPIC:
        config->topic = value;
        return strlen(value) == 0 || strlen(value) > 100 ? fail("--topic", value) : 0;
    case OPTION_TOPICS:
        return parse_u32("--topics", value, 1, 1000, &config->topic_count);
    case OPTION_PARTITIONS:
        return parse_u32("--partitions", value, 1, 10000, &config->partitions);
    case OPTION_PRODUCERS:
        return parse_u32("--producers", value, 0, SB_BENCH_THREADS_MAX, &config->producers);
    case OPTION_CONSUMERS:
        return parse_u32("--consumers", value, 0, SB_BENCH_THREADS_MAX, &config->consumers);
    case OPTION_THREADS:
        return parse_u32("--threads", value, 1, SB_BENCH_THREADS_MAX, &config->threads);
    case OPTION_SIZE:
        return parse_size(config, value);
    case OPTION_KEYS:
        return parse_keys(config, value);
    case OPTION_RATE:
        return parse_rate(config, value);
    case OPTION_PACE_US:
        return parse_u32("--pace-us", value, 0, SB_BENCH_PACE_US_MAX, &config->pace_us);
    case OPTION_MAX_IN_FLIGHT:
        return parse_u32("--max-in-flight", value, 1, SB_BENCH_IN_FLIGHT_MAX,
                         &config->max_in_flight);
    case OPTION_MESSAGES:
        return parse_u64(value, 1, UINT64_MAX / 2, &config->message_count) != 0
                   ? fail("--messages", value) : 0;
    case OPTION_BATCH_BYTES:
        return parse_u32("--batch-bytes", value, 1, 1u << 30, &config->batch_bytes);
    case OPTION_LINGER_MS:
        return parse_u32("--linger-ms", value, 0, 60000, &config->linger_ms);
    case OPTION_ACKS:
        config->acks = value;
        return strcmp(value, "0") == 0 || strcmp(value, "1") == 0 || strcmp(value, "all") == 0
                   ? 0 : fail("--acks", value);
    case OPTION_COMPRESSION:
        config->compression = value;
        return 0;
    case OPTION_GROUP:
        config->group = value;
        return strlen(value) == 0 || strlen(value) > SB_BENCH_GROUP_ID_BYTES_MAX
                   ? fail("--group", value) : 0;
    case OPTION_COMMIT:
        config->commit = strcmp(value, "sync") == 0 ? SB_BENCH_COMMIT_SYNC
                                                    : SB_BENCH_COMMIT_ASYNC;
        return strcmp(value, "sync") == 0 || strcmp(value, "async") == 0
                   ? 0 : fail("--commit", value);
    case OPTION_COMMIT_INTERVAL_MS:
        return parse_u32("--commit-interval-ms", value, 0, SB_BENCH_COMMIT_INTERVAL_MS_MAX,
                         &config->commit_interval_ms);
    default:
        return 1;
    }
}

/* Options about the run. Returns 1 when key is not one of them. */
static int
parse_run(struct sb_bench_config *config, int key, const char *value, bool *from_given)
{
    switch (key) {
    case 'b':
        return parse_broker(config, value);
    case OPTION_DRIVER:
        config->driver = value;
        return 0;
    case OPTION_DURATION:
        return parse_seconds("--duration", value, &config->duration_s);
    case OPTION_WARMUP:
        return parse_u32("--warmup", value, 0, 3600, &config->warmup_s);
    case OPTION_DRAIN:
        return parse_seconds("--drain", value, &config->drain_s);
    case OPTION_IDLE_STOP:
        return parse_seconds("--idle-stop", value, &config->idle_stop_s);
    case OPTION_JOIN_TIMEOUT:
        return parse_seconds("--join-timeout", value, &config->join_timeout_s);
    case OPTION_FROM:
        *from_given = true;
        config->from_beginning = strcmp(value, "beginning") == 0;
        return config->from_beginning || strcmp(value, "end") == 0 ? 0 : fail("--from", value);
    case OPTION_RECREATE:
        config->recreate = true;
        return 0;
    case OPTION_NO_CREATE:
        config->create = false;
        return 0;
    case OPTION_JSON:
        config->json_path = value;
        return 0;
    case OPTION_VERIFY_AGAINST:
        config->verify_against = value;
        return 0;
    case OPTION_LABEL:
        config->label = value;
        return 0;
    case OPTION_QUIET:
        config->quiet = true;
        return 0;
    default:
        return 1;
    }
}

static int
parse_mode(struct sb_bench_config *config, const char *text)
{
    static const enum sb_bench_mode modes[] = {SB_BENCH_PRODUCE, SB_BENCH_CONSUME,
                                               SB_BENCH_E2E, SB_BENCH_PING};
    for (size_t index = 0; index < sizeof(modes) / sizeof(modes[0]); index++) {
        if (strcmp(text, sb_bench_mode_name(modes[index])) == 0) {
            config->mode = modes[index];
            return 0;
        }
    }
    return -EINVAL;
}

/* Defaults that depend on other settings, and checks across settings. */
static int
config_finish(struct sb_bench_config *config, bool port_given, bool from_given)
{
    if (!port_given) {
        config->port = strcmp(config->driver, "nats") == 0    ? 4222
                       : strcmp(config->driver, "redis") == 0 ? 6379
                                                              : 9092;
    }
    if (config->warmup_s == UINT32_MAX) {
        config->warmup_s = config->mode == SB_BENCH_CONSUME ? 0 : 1;
    }
    if (!from_given) {
        config->from_beginning = config->mode == SB_BENCH_CONSUME;
    }
    if (config->mode == SB_BENCH_CONSUME) {
        config->producers = 0;
        config->create = false;
    }
    if (config->mode == SB_BENCH_PRODUCE || config->mode == SB_BENCH_PING) {
        config->consumers = 0;
    }
    if (config->mode != SB_BENCH_CONSUME && config->producers == 0) {
        return fail("--producers", "0");
    }
    if (config->mode != SB_BENCH_CONSUME && config->verify_against != NULL) {
        return fail("--verify-against", "only for consume");
    }
    if (config->group != NULL && config->consumers == 0) {
        return fail("--group", "only for consume and e2e, with consumers");
    }
    if (config->mode == SB_BENCH_CONSUME && config->consumers == 0) {
        return fail("--consumers", "0");
    }
    if (config->topic_count * config->partitions > SB_BENCH_PARTITIONS_MAX) {
        return fail("--partitions", "too many in total");
    }
    if (config->recreate) {
        config->create = true;
    }
    return 0;
}

int
sb_bench_options_parse(struct sb_bench_config *config, int argc, char **argv)
{
    bool port_given = false;
    bool from_given = false;
    config_defaults(config);
    if (argc < 2 || parse_mode(config, argv[1]) != 0) {
        fputs(usage_text, argc >= 2 && strcmp(argv[1], "--help") == 0 ? stdout : stderr);
        return -EINVAL;
    }
    optind = 2;
    for (;;) {
        int key = getopt_long(argc, argv, "b:h", long_options, NULL);
        if (key == -1) {
            break;
        }
        if (key == 'h' || key == '?') {
            fputs(usage_text, key == 'h' ? stdout : stderr);
            return -EINVAL;
        }
        port_given |= key == 'b';
        int result = parse_shape(config, key, optarg);
        if (result == 1) {
            result = parse_run(config, key, optarg, &from_given);
        }
        if (result != 0) {
            return -EINVAL;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "sb-bench: unexpected argument '%s'\n", argv[optind]);
        return -EINVAL;
    }
    return config_finish(config, port_given, from_given);
}
