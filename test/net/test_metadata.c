/*
 * test/net/test_metadata.c - net/metadata.c's topic table as a unit: lookups
 * by name and by id through the hash indexes stay exact while topics are
 * created, deleted and created again (up to a full table), through a copy
 * and through the file image (issue 10, defect 7: the lookups were scans of
 * every slot, which the indexes replace).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "net/metadata.h"

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
    static uint8_t image[SB_METADATA_HEADER_BYTES + SB_TOPICS_MAX * SB_METADATA_TOPIC_BYTES];
    int64_t bytes = sb_metadata_encode(&metadata, image, sizeof(image));
    cr_assert_gt(bytes, 0);
    cr_assert_eq(sb_metadata_decode(&copy, image, (uint64_t)bytes), 0);
    check_against_model(&copy);
    sb_metadata_deinit(&copy);
    sb_metadata_deinit(&metadata);
}
