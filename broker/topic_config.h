/*
 * broker/topic_config.h - the topic configs (retention.ms, cleanup.policy, ...) as one table:
 * each key's name, type, bounds, the field of struct sb_topic it sets, and the broker setting
 * that holds its default for new topics. CreateTopics and AlterTopicConfig parse through it,
 * DescribeTopic lists it, and broker/config.c takes the default settings from it, so a new
 * key is one table entry (broker/topic_config.c; docs/protocol.md "Topic configs").
 */
#ifndef SB_BROKER_TOPIC_CONFIG_H
#define SB_BROKER_TOPIC_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "broker/metadata.h"
#include "proto/api_admin.h"

/* Keys in the table: DescribeTopic lists them all, in table order. */
#define SB_TOPIC_CONFIG_COUNT 8u
/* Text DescribeTopic needs per key: the longest int64 or choice name, and its NUL. */
#define SB_TOPIC_CONFIG_TEXT_BYTES 24u
/* A `max` that stands for the topic's default (the broker's max_message_bytes). */
#define SB_TOPIC_CONFIG_MAX_DEFAULT INT64_MIN

enum sb_topic_config_type {
    SB_TOPIC_CONFIG_NUMBER, /* A decimal int64 within [min, max]. */
    SB_TOPIC_CONFIG_CHOICE, /* One of two names, stored as false / true (or enum 0 / 1). */
};

struct sb_topic_config_key {
    const char *name;               /* The key on the wire, e.g. "retention.ms". */
    enum sb_topic_config_type type; /* How its value is written. */
    int64_t min;                    /* NUMBER: smallest value accepted. */
    int64_t max;                    /* NUMBER: largest accepted, or SB_TOPIC_CONFIG_MAX_DEFAULT. */
    const char *choices[2];         /* CHOICE: the names of values 0 and 1. */
    size_t offset;                  /* Its field in struct sb_topic. */
    size_t size;                    /* That field's bytes: 8, 4 or 1 (bool). */
    const char *setting;            /* Broker setting with the default for new topics, or
                                       NULL (storage's default, or max.message.bytes: the
                                       broker's max_message_bytes). */
    const char *help;               /* The setting's line in --help, or NULL. */
};

/* The key named `name` (`length` bytes), or NULL. */
const struct sb_topic_config_key *sb_topic_config_find(const char *name, uint16_t length);
/* The key whose default the broker setting `setting` holds, or NULL. */
const struct sb_topic_config_key *sb_topic_config_find_setting(const char *setting);
/* The index-th key of the table (index < SB_TOPIC_CONFIG_COUNT). */
const struct sb_topic_config_key *sb_topic_config_at(uint32_t index);

/* Sets `key`'s field of `topic` to `number` (a NUMBER key). SB_TOPIC_CONFIG_MAX_DEFAULT bounds
 * it by default_max. Returns 0, or -EINVAL outside the key's bounds. */
int sb_topic_config_set_number(const struct sb_topic_config_key *key, struct sb_topic *topic,
                               int64_t number, int64_t default_max);
/* Sets `key`'s field of `topic` from `value` (`length` bytes; a CHOICE key). Returns 0, or
 * -EINVAL unless it is one of the key's two names. */
int sb_topic_config_set_choice(const struct sb_topic_config_key *key, struct sb_topic *topic,
                               const char *value, uint16_t length);

/* Applies one topic config `key`=`value` from CreateTopics or AlterTopicConfig (value NULL:
 * the key's value in `defaults`). Returns 0, or -EINVAL for an unknown key or a bad value (a
 * number out of bounds, not a plain decimal, or an unknown name). */
int sb_topic_config_set(struct sb_topic *topic, const struct sb_topic *defaults,
                        const char *key, uint16_t key_length, const char *value,
                        uint16_t value_length);

/* DescribeTopic: every key of `topic` as text, into `configs` (SB_TOPIC_CONFIG_COUNT entries)
 * pointing into `text` (SB_TOPIC_CONFIG_COUNT * SB_TOPIC_CONFIG_TEXT_BYTES bytes, which must
 * outlive them). Returns SB_TOPIC_CONFIG_COUNT. */
uint32_t sb_topic_config_describe(const struct sb_topic *topic, struct sb_topic_config *configs,
                                  char *text);

#endif /* SB_BROKER_TOPIC_CONFIG_H */
