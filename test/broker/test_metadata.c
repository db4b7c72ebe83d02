/*
 * test/broker/test_metadata.c - broker/metadata.c's topic table as a unit: lookups
 * by name and by id through the hash indexes stay exact while topics are
 * created, deleted and created again (up to a full table), through a copy
 * and through the file image (issue 10, defect 7: the lookups were scans of
 * every slot, which the indexes replace).
 *
 * The topic config table (broker/topic_config.c, issue 12) as a unit: each key is accepted
 * at its bounds and refused just past them, resets to the default alone, and DescribeTopic
 * lists every key in table order. A topic name read from the file passes the one validator
 * the broker and the client share (proto's sb_topic_name_is_valid), or the file is corrupt.
 *
 * The groups' topic view (broker/group_coordinator.h, issue 13) follows the table's change
 * count: rebuilt after every put, remove or copy, and only then.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

#include "broker/group_coordinator.h"
#include "broker/metadata.h"
#include "broker/topic_config.h"
#include "core/crc32c.h"
#include "core/endian.h"
#include "core/error.h"
#include "proto/api_admin.h"

#define ROUNDS 6u

/* The model: which names exist, with which id (0: none). Topic k is named "t-<k>". */
static uint32_t model_ids[SB_TOPICS_MAX];

static struct sb_topic
topic_make(uint32_t key, uint32_t topic_id)
{
    struct sb_topic topic = {.topic_id = topic_id, .partition_count = 1 + key % 7};
    topic.name_length = (uint16_t)snprintf(topic.name, sizeof(topic.name), "t-%u", key);
    return topic;
}

/* Every name and id answers as the model says; a few never-used ones are absent. */
static void
check_against_model(struct sb_metadata *metadata)
{
    uint32_t present = 0;
    for (uint32_t key = 0; key < SB_TOPICS_MAX; key++) {
        struct sb_topic wanted = topic_make(key, model_ids[key]);
        struct sb_topic *by_name = sb_metadata_find(metadata, wanted.name, wanted.name_length);
        if (model_ids[key] == 0) {
            cr_assert_null(by_name, "%s was deleted", wanted.name);
            continue;
        }
        present++;
        cr_assert_not_null(by_name, "%s exists", wanted.name);
        cr_assert_eq(by_name->topic_id, model_ids[key]);
        cr_assert_eq(by_name->partition_count, wanted.partition_count);
        cr_assert_eq(sb_metadata_find_id(metadata, model_ids[key]), by_name);
    }
    cr_assert_eq(metadata->topic_count, present);
    cr_assert_null(sb_metadata_find(metadata, "t-", 2));
    cr_assert_null(sb_metadata_find(metadata, "t-99999", 7));
    cr_assert_null(sb_metadata_find_id(metadata, metadata->next_topic_id));
}

Test(metadata, lookups_stay_exact_through_create_delete_recreate)
{
    struct sb_metadata metadata;
    cr_assert_eq(sb_metadata_init(&metadata), 0);
    memset(model_ids, 0, sizeof(model_ids));
    uint32_t next_id = 1;
    for (uint32_t round = 0; round < ROUNDS; round++) {
        /* Create every missing topic (a full table), then delete a different share of them
         * each round, by a stride, so probe chains get holes everywhere. */
        for (uint32_t key = 0; key < SB_TOPICS_MAX; key++) {
            if (model_ids[key] == 0) {
                struct sb_topic topic = topic_make(key, next_id);
                cr_assert_eq(sb_metadata_put(&metadata, &topic), 0);
                model_ids[key] = next_id++;
            }
        }
        struct sb_topic extra = topic_make(SB_TOPICS_MAX, next_id);
        cr_assert_eq(sb_metadata_put(&metadata, &extra), -ENOSPC, "the table is full");
        check_against_model(&metadata);
        uint32_t stride = 2 + round;
        for (uint32_t key = round; key < SB_TOPICS_MAX; key += stride) {
            sb_metadata_remove(&metadata, model_ids[key]);
            model_ids[key] = 0;
        }
        check_against_model(&metadata);
    }
    /* Replacing a topic by id keeps the lookups right. */
    uint32_t key = 1;
    while (model_ids[key] == 0) {
        key++;
    }
    struct sb_topic changed = topic_make(key, model_ids[key]);
    changed.partition_count = 99;
    cr_assert_eq(sb_metadata_put(&metadata, &changed), 0);
    cr_assert_eq(sb_metadata_find(&metadata, changed.name, changed.name_length)->partition_count,
                 99u);
    changed.partition_count = topic_make(key, 0).partition_count;
    cr_assert_eq(sb_metadata_put(&metadata, &changed), 0);
    check_against_model(&metadata);
    /* A copy and a decoded file image answer the same. */
    struct sb_metadata copy;
    cr_assert_eq(sb_metadata_init(&copy), 0);
    sb_metadata_copy(&copy, &metadata);
    check_against_model(&copy);
    struct sb_assignment assignment;
    cr_assert_eq(sb_assignment_init(&assignment), 0);
    for (uint32_t index = 0; index < SB_TOPICS_MAX; index++) {
        const struct sb_topic *topic = &metadata.topics[index];
        cr_assert_geq(topic->used ? sb_assignment_place_local(&assignment, topic->topic_id,
                                                              topic->partition_count, 1, 0)
                                  : 0, 0);
    }
    static uint8_t image[SB_METADATA_HEADER_BYTES + SB_TOPICS_MAX * SB_METADATA_TOPIC_BYTES +
                         SB_TOPICS_MAX * 7 * SB_ASSIGNMENT_RECORD_BYTES];
    int64_t bytes = sb_metadata_encode(&metadata, &assignment, image, sizeof(image));
    cr_assert_gt(bytes, 0);
    cr_assert_eq(sb_metadata_decode(&copy, &assignment, image, (uint64_t)bytes), 0);
    check_against_model(&copy);
    sb_assignment_deinit(&assignment);
    sb_metadata_deinit(&copy);
    sb_metadata_deinit(&metadata);
}

/* A topic with storage's defaults and the broker's max_message_bytes of 1 MiB. */
static struct sb_topic
config_defaults(void)
{
    struct sb_topic topic = {.max_message_bytes = 1u << 20};
    sb_partition_config_default(&topic.config);
    return topic;
}

/* Sets `key` to `value` on a copy of the defaults; returns the result and the copy. */
static int
config_apply(const char *key, const char *value, struct sb_topic *topic)
{
    struct sb_topic defaults = config_defaults();
    *topic = defaults;
    return sb_topic_config_set(topic, &defaults, key, (uint16_t)strlen(key), value,
                               (uint16_t)(value != NULL ? strlen(value) : 0));
}

Test(topic_config, every_number_key_is_accepted_at_its_bounds_and_refused_past_them)
{
    struct bound {
        const char *key;   /* The key. */
        const char *lowest; /* Its smallest value, accepted. */
        const char *below;  /* One less, refused. */
        const char *highest; /* Its largest value, accepted. */
        const char *above;  /* One more (or an int64 overflow), refused. */
    };
    const struct bound bounds[] = {
        {"retention.ms", "-1", "-2", "9223372036854775807", "9223372036854775808"},
        {"retention.bytes", "-1", "-2", "9223372036854775807", "9223372036854775808"},
        {"segment.bytes", "65536", "65535", "9223372036854775807", "9223372036854775808"},
        {"delete.retention.ms", "0", "-1", "9223372036854775807", "9223372036854775808"},
        {"min.compaction.lag.ms", "0", "-1", "9223372036854775807", "9223372036854775808"},
        {"max.message.bytes", "1024", "1023", "1048576", "1048577"},
    };
    struct sb_topic topic;
    for (size_t index = 0; index < sizeof(bounds) / sizeof(bounds[0]); index++) {
        const struct bound *bound = &bounds[index];
        cr_assert_eq(config_apply(bound->key, bound->lowest, &topic), 0, "%s", bound->key);
        cr_assert_eq(config_apply(bound->key, bound->below, &topic), -EINVAL, "%s", bound->key);
        cr_assert_eq(config_apply(bound->key, bound->highest, &topic), 0, "%s", bound->key);
        cr_assert_eq(config_apply(bound->key, bound->above, &topic), -EINVAL, "%s", bound->key);
        cr_assert_eq(config_apply(bound->key, "12x", &topic), -EINVAL, "%s", bound->key);
        cr_assert_eq(config_apply(bound->key, "", &topic), -EINVAL, "%s", bound->key);
    }
    cr_assert_eq(config_apply("segment.bytes", "65536", &topic), 0);
    cr_assert_eq(topic.config.segment_bytes, 65536);
    cr_assert_eq(config_apply("retention.ms", "-1", &topic), 0);
    cr_assert_eq(topic.config.retention_ms, -1);
    cr_assert_eq(config_apply("max.message.bytes", "1024", &topic), 0);
    cr_assert_eq(topic.max_message_bytes, 1024);
    cr_assert_eq(config_apply("min.compaction.lag.ms", "7", &topic), 0);
    cr_assert_eq(topic.config.min_compaction_lag_ms, 7);
}

Test(topic_config, choices_unknown_keys_and_resets)
{
    struct sb_topic topic;
    cr_assert_eq(config_apply("cleanup.policy", "compact", &topic), 0);
    cr_assert_eq(topic.config.cleanup, SB_CLEANUP_COMPACT);
    cr_assert_eq(config_apply("cleanup.policy", "Compact", &topic), -EINVAL);
    cr_assert_eq(config_apply("message.timestamp.type", "LogAppendTime", &topic), 0);
    cr_assert(topic.config.log_append_time);
    cr_assert_eq(config_apply("message.timestamp.type", "LogAppend", &topic), -EINVAL);
    cr_assert_eq(config_apply("segment.ms", "1000", &topic), -EINVAL, "not a key here");
    cr_assert_eq(config_apply("retention.m", "1000", &topic), -EINVAL);
    cr_assert_eq(config_apply("segment.ms", NULL, &topic), -EINVAL, "nor to reset");
    struct sb_topic defaults = config_defaults();
    struct sb_topic changed = defaults;
    changed.config.retention_ms = 5;
    changed.config.cleanup = SB_CLEANUP_COMPACT;
    changed.config.log_append_time = true;
    changed.max_message_bytes = 2048;
    cr_assert_eq(sb_topic_config_set(&changed, &defaults, "cleanup.policy", 14, NULL, 0), 0);
    cr_assert_eq(changed.config.cleanup, SB_CLEANUP_DELETE, "reset to the default");
    cr_assert(changed.config.log_append_time, "a reset touches its own key only");
    cr_assert_eq(changed.config.retention_ms, 5);
    cr_assert_eq(sb_topic_config_set(&changed, &defaults, "max.message.bytes", 17, NULL, 0), 0);
    cr_assert_eq(changed.max_message_bytes, 1u << 20);
}

Test(topic_config, describe_lists_every_key_in_table_order)
{
    struct sb_topic topic = config_defaults();
    topic.config.retention_bytes = 123456789012345;
    topic.config.cleanup = SB_CLEANUP_COMPACT;
    struct sb_topic_config configs[SB_TOPIC_CONFIG_COUNT];
    char text[SB_TOPIC_CONFIG_COUNT * SB_TOPIC_CONFIG_TEXT_BYTES];
    cr_assert_eq(sb_topic_config_describe(&topic, configs, text), SB_TOPIC_CONFIG_COUNT);
    const char *expected[SB_TOPIC_CONFIG_COUNT][2] = {
        {"retention.ms", "604800000"},     {"retention.bytes", "123456789012345"},
        {"segment.bytes", "1073741824"},   {"delete.retention.ms", "86400000"},
        {"min.compaction.lag.ms", "0"},    {"max.message.bytes", "1048576"},
        {"cleanup.policy", "compact"},     {"message.timestamp.type", "CreateTime"},
    };
    for (uint32_t index = 0; index < SB_TOPIC_CONFIG_COUNT; index++) {
        cr_assert(sb_wire_string_equals(configs[index].key, expected[index][0]), "%u", index);
        cr_assert(sb_wire_string_equals(configs[index].value, expected[index][1]),
                  "%s = %.*s", expected[index][0], configs[index].value.length,
                  configs[index].value.chars);
        struct sb_topic parsed = config_defaults();
        struct sb_topic defaults = config_defaults();
        cr_assert_eq(sb_topic_config_set(&parsed, &defaults, configs[index].key.chars,
                                         configs[index].key.length, configs[index].value.chars,
                                         configs[index].value.length), 0,
                     "what DescribeTopic says parses back: %s", expected[index][0]);
    }
}

/* issue 12: one topic-name validator. A file image whose topic is renamed to `name` (its CRC
 * made right again) decodes exactly when proto's validator accepts the name. */
Test(metadata, a_stored_topic_name_is_checked_by_the_shared_validator)
{
    static char longest[SB_WIRE_TOPIC_NAME_BYTES_MAX + 2];
    memset(longest, 'x', SB_WIRE_TOPIC_NAME_BYTES_MAX + 1);
    const struct {
        const char *name; /* The name written into the image. */
        uint16_t length;  /* Its length. */
        bool valid;       /* What the validator says. */
    } names[] = {
        {"a.b_C-9", 7, true},  {".", 1, false},   {"..", 2, false}, {"...", 3, true},
        {"a/b", 3, false},     {"a b", 3, false}, {"", 0, false},
        {longest, SB_WIRE_TOPIC_NAME_BYTES_MAX, true},
        {longest, SB_WIRE_TOPIC_NAME_BYTES_MAX + 1, false},
    };
    struct sb_metadata metadata;
    cr_assert_eq(sb_metadata_init(&metadata), 0);
    metadata.shard_count = 1;
    metadata.next_topic_id = 2;
    struct sb_topic topic = topic_make(1, 1);
    cr_assert_eq(sb_metadata_put(&metadata, &topic), 0);
    struct sb_assignment assignment;
    cr_assert_eq(sb_assignment_init(&assignment), 0);
    cr_assert_eq(topic.partition_count, 2);
    cr_assert_geq(sb_assignment_place_local(&assignment, 1, 2, 1, 0), 0);
    static uint8_t image[SB_METADATA_HEADER_BYTES + SB_METADATA_TOPIC_BYTES +
                         2 * SB_ASSIGNMENT_RECORD_BYTES];
    int64_t bytes = sb_metadata_encode(&metadata, &assignment, image, sizeof(image));
    cr_assert_eq(bytes, (int64_t)sizeof(image));
    for (size_t index = 0; index < sizeof(names) / sizeof(names[0]); index++) {
        struct sb_wire_string name = {names[index].name, names[index].length};
        cr_assert_eq(sb_topic_name_is_valid(name), names[index].valid, "%zu", index);
        uint8_t *record = image + SB_METADATA_HEADER_BYTES;
        memset(record + 10, 0, 250);
        memcpy(record + 10, name.chars, name.length);
        sb_store_le16(record + 8, name.length);
        sb_store_le32(image + 4, sb_crc32c(0, image + 8, sizeof(image) - 8));
        cr_assert_eq(sb_metadata_decode(&metadata, &assignment, image, sizeof(image)),
                     names[index].valid ? 0 : SB_ECORRUPT, "name %zu", index);
    }
    sb_assignment_deinit(&assignment);
    sb_metadata_deinit(&metadata);
}

/* Puts topic `name` with `id` and `partitions` into `metadata`. */
static void
view_put(struct sb_metadata *metadata, const char *name, uint32_t id, uint32_t partitions)
{
    struct sb_topic topic;
    memset(&topic, 0, sizeof(topic));
    topic.topic_id = id;
    topic.name_length = (uint16_t)strlen(name);
    memcpy(topic.name, name, topic.name_length);
    topic.partition_count = partitions;
    cr_assert_eq(sb_metadata_put(metadata, &topic), 0);
}

/* issue 13: heartbeats read the topics through a view rebuilt only when the shard's topic
 * table changed (a put, a remove, a copy: also a copy that rolls a failed change back), not
 * by scanning every topic slot each time. */
Test(metadata, the_topic_view_is_rebuilt_only_when_the_table_changes)
{
    struct sb_metadata metadata;
    cr_assert_eq(sb_metadata_init(&metadata), 0);
    struct group_topic_view *view = calloc(1, sizeof(*view));
    cr_assert_not_null(view);
    view_put(&metadata, "orders", 1, 4);
    view_put(&metadata, "__consumer_offsets", 2, 16);
    struct sb_group_topics topics;
    group_topic_view_get(view, &metadata, &topics);
    cr_assert_eq(topics.count, 1u, "internal topics are left out");
    cr_assert_str_eq(topics.topics[0].name, "orders");
    cr_assert_eq(topics.topics[0].partition_count, 4u);
    uint64_t first = topics.version;
    sb_metadata_find_id(&metadata, 1)->partition_count = 9; /* Behind the table's back. */
    group_topic_view_get(view, &metadata, &topics);
    cr_assert_eq(topics.topics[0].partition_count, 4u, "not rescanned");
    cr_assert_eq(topics.version, first);
    view_put(&metadata, "orders", 1, 6);
    group_topic_view_get(view, &metadata, &topics);
    cr_assert_eq(topics.topics[0].partition_count, 6u);
    cr_assert_gt(topics.version, first);
    struct sb_metadata before;
    cr_assert_eq(sb_metadata_init(&before), 0);
    sb_metadata_copy(&before, &metadata);
    view_put(&metadata, "payments", 3, 2);
    group_topic_view_get(view, &metadata, &topics);
    cr_assert_eq(topics.count, 2u);
    uint64_t grown = topics.version;
    sb_metadata_copy(&metadata, &before); /* A failed change rolled back. */
    group_topic_view_get(view, &metadata, &topics);
    cr_assert_eq(topics.count, 1u);
    cr_assert_gt(topics.version, grown, "the version never goes back");
    sb_metadata_remove(&metadata, 1);
    group_topic_view_get(view, &metadata, &topics);
    cr_assert_eq(topics.count, 0u);
    free(view);
    sb_metadata_deinit(&before);
    sb_metadata_deinit(&metadata);
}
