/*
 * broker/topic_config.c - the table of topic configs (topic_config.h) and the three things
 * done with it: applying a key from the wire (sb_topic_config_set), listing a topic's keys
 * (sb_topic_config_describe), and, through broker/config.c, the settings that hold the
 * defaults for new topics. Start with `keys` below: one entry per key, in DescribeTopic order.
 *
 * Invariant: every value a key's field holds passed that key's bounds, or is storage's
 * default (sb_partition_config_default), or the broker's max_message_bytes.
 */
#include "broker/topic_config.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "core/base.h"

#define FIELD(name) offsetof(struct sb_topic, name), sizeof(((struct sb_topic *)0)->name)
#define NUMBER(min, max) SB_TOPIC_CONFIG_NUMBER, (min), (max), {NULL, NULL}
#define CHOICE(zero, one) SB_TOPIC_CONFIG_CHOICE, 0, 1, {(zero), (one)}

static const struct sb_topic_config_key keys[] = {
    {"retention.ms", NUMBER(-1, INT64_MAX), FIELD(config.retention_ms), "retention_ms",
     "default topic retention by time, -1 = forever (7 days)"},
    {"retention.bytes", NUMBER(-1, INT64_MAX), FIELD(config.retention_bytes), "retention_bytes",
     "default topic retention by size, -1 = none"},
    {"segment.bytes", NUMBER(64 * 1024, INT64_MAX), FIELD(config.segment_bytes),
     "segment_bytes", "default segment size (1 GiB)"},
    {"delete.retention.ms", NUMBER(0, INT64_MAX), FIELD(config.delete_retention_ms), NULL, NULL},
    {"min.compaction.lag.ms", NUMBER(0, INT64_MAX), FIELD(config.min_compaction_lag_ms), NULL,
     NULL},
    {"max.message.bytes", NUMBER(1024, SB_TOPIC_CONFIG_MAX_DEFAULT), FIELD(max_message_bytes),
     NULL, NULL},
    {"cleanup.policy", CHOICE("delete", "compact"), FIELD(config.cleanup), "cleanup_policy",
     "default for new topics: delete or compact"},
    {"message.timestamp.type", CHOICE("CreateTime", "LogAppendTime"),
     FIELD(config.log_append_time), NULL, NULL},
};

static_assert(SB_ARRAY_COUNT(keys) == SB_TOPIC_CONFIG_COUNT, "the count names every key");
static_assert(SB_CLEANUP_DELETE == 0 && SB_CLEANUP_COMPACT == 1, "choices are stored as 0/1");
static_assert(sizeof(enum sb_cleanup_policy) == 4, "an enum field is stored as 4 bytes");

const struct sb_topic_config_key *
sb_topic_config_find(const char *name, uint16_t length)
{
    for (uint32_t index = 0; index < SB_TOPIC_CONFIG_COUNT; index++) {
        if (strlen(keys[index].name) == length && memcmp(keys[index].name, name, length) == 0) {
            return &keys[index];
        }
    }
    return NULL;
}

const struct sb_topic_config_key *
sb_topic_config_find_setting(const char *setting)
{
    for (uint32_t index = 0; index < SB_TOPIC_CONFIG_COUNT; index++) {
        if (keys[index].setting != NULL && strcmp(keys[index].setting, setting) == 0) {
            return &keys[index];
        }
    }
    return NULL;
}

const struct sb_topic_config_key *
sb_topic_config_at(uint32_t index)
{
    SB_ASSERT(index < SB_TOPIC_CONFIG_COUNT);
    return &keys[index];
}

/* The key's field as a number (a choice as 0 or 1). */
static int64_t
topic_config_load(const struct sb_topic_config_key *key, const struct sb_topic *topic)
{
    const uint8_t *field = (const uint8_t *)topic + key->offset;
    uint64_t wide;
    uint32_t narrow;
    bool flag;
    switch (key->size) {
    case 8:
        memcpy(&wide, field, sizeof(wide));
        return (int64_t)wide;
    case 4:
        memcpy(&narrow, field, sizeof(narrow));
        return narrow;
    default:
        SB_ASSERT(key->size == sizeof(bool));
        memcpy(&flag, field, sizeof(flag));
        return flag;
    }
}

/* Stores `value` (within the key's bounds) into the key's field. */
static void
topic_config_store(const struct sb_topic_config_key *key, struct sb_topic *topic, int64_t value)
{
    uint8_t *field = (uint8_t *)topic + key->offset;
    uint64_t wide = (uint64_t)value;
    uint32_t narrow = (uint32_t)value;
    bool flag = value != 0;
    SB_ASSERT(value >= 0 || key->size == 8);
    switch (key->size) {
    case 8:
        memcpy(field, &wide, sizeof(wide));
        return;
    case 4:
        SB_ASSERT(value <= UINT32_MAX);
        memcpy(field, &narrow, sizeof(narrow));
        return;
    default:
        SB_ASSERT(key->size == sizeof(bool) && value <= 1);
        memcpy(field, &flag, sizeof(flag));
        return;
    }
}

int
sb_topic_config_set_number(const struct sb_topic_config_key *key, struct sb_topic *topic,
                           int64_t number, int64_t default_max)
{
    SB_ASSERT(key->type == SB_TOPIC_CONFIG_NUMBER);
    int64_t max = key->max == SB_TOPIC_CONFIG_MAX_DEFAULT ? default_max : key->max;
    if (number < key->min || number > max) {
        return -EINVAL;
    }
    topic_config_store(key, topic, number);
    return 0;
}

int
sb_topic_config_set_choice(const struct sb_topic_config_key *key, struct sb_topic *topic,
                           const char *value, uint16_t length)
{
    SB_ASSERT(key->type == SB_TOPIC_CONFIG_CHOICE);
    for (int64_t choice = 0; choice < 2; choice++) {
        const char *name = key->choices[choice];
        if (strlen(name) == length && memcmp(name, value, length) == 0) {
            topic_config_store(key, topic, choice);
            return 0;
        }
    }
    return -EINVAL;
}

/* Parses a signed decimal of at most 23 characters (strtoll's form); false if malformed. */
static bool
topic_config_number(const char *value, uint16_t length, int64_t *out)
{
    char text[24];
    if (length == 0 || length >= sizeof(text)) {
        return false;
    }
    memcpy(text, value, length);
    text[length] = '\0';
    char *end = NULL;
    errno = 0;
    long long number = strtoll(text, &end, 10);
    if (errno != 0 || *end != '\0') {
        return false;
    }
    *out = number;
    return true;
}

int
sb_topic_config_set(struct sb_topic *topic, const struct sb_topic *defaults,
                    const char *key, uint16_t key_length, const char *value,
                    uint16_t value_length)
{
    const struct sb_topic_config_key *entry = sb_topic_config_find(key, key_length);
    if (entry == NULL) {
        return -EINVAL;
    }
    if (value == NULL) {
        topic_config_store(entry, topic, topic_config_load(entry, defaults));
        return 0;
    }
    if (entry->type == SB_TOPIC_CONFIG_CHOICE) {
        return sb_topic_config_set_choice(entry, topic, value, value_length);
    }
    int64_t number;
    if (!topic_config_number(value, value_length, &number)) {
        return -EINVAL;
    }
    return sb_topic_config_set_number(entry, topic, number, defaults->max_message_bytes);
}

uint32_t
sb_topic_config_describe(const struct sb_topic *topic, struct sb_topic_config *configs,
                         char *text)
{
    for (uint32_t index = 0; index < SB_TOPIC_CONFIG_COUNT; index++) {
        const struct sb_topic_config_key *key = &keys[index];
        int64_t value = topic_config_load(key, topic);
        struct sb_wire_string string;
        if (key->type == SB_TOPIC_CONFIG_CHOICE) {
            string = sb_wire_string_from_cstr(key->choices[value != 0]);
        } else {
            char *slot = text + (size_t)index * SB_TOPIC_CONFIG_TEXT_BYTES;
            int length = snprintf(slot, SB_TOPIC_CONFIG_TEXT_BYTES, "%lld", (long long)value);
            string = (struct sb_wire_string){slot, (uint16_t)length};
        }
        configs[index] = (struct sb_topic_config){sb_wire_string_from_cstr(key->name), string, 0};
    }
    return SB_TOPIC_CONFIG_COUNT;
}
