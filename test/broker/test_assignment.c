/*
 * test/broker/test_assignment.c - broker/assignment.c's partition assignment
 * table as a unit (no sockets): hashed lookups, growth as partitions are
 * added, deletion inside probe chains, one broker's placement (the shards
 * partitions always had), copies, and the table in the metadata file: a round
 * trip, corrupt assignments refused, and a version 1 file (no assignment)
 * loaded with every partition on its old shard.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/crc32c.h"
#include "core/endian.h"
#include "core/error.h"
#include "broker/assignment.h"
#include "broker/metadata.h"

/* Checks the one-broker placement of partitions [0, count) of a topic. */
static void
check_placed(const struct sb_assignment *assignment, uint32_t topic_id, uint32_t count,
             uint32_t shard_count, int32_t broker)
{
    for (uint32_t partition = 0; partition < count; partition++) {
        const struct sb_assignment_entry *entry = sb_assignment_find(assignment, topic_id,
                                                                     partition);
        cr_assert_not_null(entry, "topic %u partition %u", topic_id, partition);
        cr_assert_eq(entry->topic_id, topic_id);
        cr_assert_eq(entry->partition, partition);
        cr_assert_eq(entry->shard, (topic_id + partition) % shard_count);
        cr_assert_eq(sb_assignment_owner(assignment, topic_id, partition), entry->shard);
        cr_assert_eq(entry->leader, broker);
        cr_assert_eq(entry->leader_epoch, 0);
        cr_assert_eq(entry->replica_count, 1u);
        cr_assert_eq(entry->replicas[0], broker);
    }
    cr_assert_null(sb_assignment_find(assignment, topic_id, count), "past the last partition");
}

Test(assignment, lookups_find_each_placed_partition_and_nothing_else)
{
    struct sb_assignment assignment;
    cr_assert_eq(sb_assignment_init(&assignment), 0);
    for (uint32_t topic_id = 1; topic_id <= 20; topic_id++) {
        cr_assert_eq(sb_assignment_place_local(&assignment, topic_id, topic_id, 4, 7),
                     (int64_t)topic_id, "every partition placed");
    }
    for (uint32_t topic_id = 1; topic_id <= 20; topic_id++) {
        check_placed(&assignment, topic_id, topic_id, 4, 7);
    }
    cr_assert_eq(assignment.entry_count, 210u);
    cr_assert_null(sb_assignment_find(&assignment, 21, 0));
    cr_assert_eq(sb_assignment_place_local(&assignment, 5, 5, 4, 7), 0, "already placed");
    sb_assignment_deinit(&assignment);
}

/* The owner of a partition without an entry is a broken invariant, not an answer. */
Test(assignment, the_owner_of_an_unassigned_partition_aborts, .signal = SIGABRT)
{
    struct sb_assignment assignment;
    cr_assert_eq(sb_assignment_init(&assignment), 0);
    cr_assert_eq(sb_assignment_place_local(&assignment, 1, 2, 2, 0), 2);
    sb_assignment_owner(&assignment, 1, 2);
}

Test(assignment, partitions_added_to_a_topic_grow_the_table)
{
    struct sb_assignment assignment;
    cr_assert_eq(sb_assignment_init(&assignment), 0);
    cr_assert_eq(sb_assignment_place_local(&assignment, 3, 10, 2, 0), 10);
    uint32_t slots = assignment.slot_count;
    cr_assert_eq(slots, SB_ASSIGNMENT_SLOTS_MIN);
    /* Grow the topic to 4096 partitions in steps: old entries keep their place. */
    for (uint32_t count = 100; count <= 4096; count *= 2) {
        cr_assert_geq(sb_assignment_place_local(&assignment, 3, count, 2, 0), 0);
        check_placed(&assignment, 3, count, 2, 0);
    }
    cr_assert_geq(sb_assignment_place_local(&assignment, 3, 4096, 2, 0), 0);
    check_placed(&assignment, 3, 4096, 2, 0);
    cr_assert_gt(assignment.slot_count, slots, "grown");
    cr_assert_geq(assignment.slot_count, 2 * assignment.entry_count, "at most half full");
    sb_assignment_deinit(&assignment);
}

Test(assignment, removing_entries_keeps_every_other_lookup_exact)
{
    struct sb_assignment assignment;
    cr_assert_eq(sb_assignment_init(&assignment), 0);
    for (uint32_t topic_id = 1; topic_id <= 64; topic_id++) {
        cr_assert_eq(sb_assignment_place_local(&assignment, topic_id, 16, 3, 0), 16);
    }
    /* Delete every third topic, and the upper half of every fifth: holes all over the probe
     * chains (backward-shift deletion must not cut a chain). */
    for (uint32_t topic_id = 1; topic_id <= 64; topic_id++) {
        if (topic_id % 3 == 0) {
            sb_assignment_remove(&assignment, topic_id, 0, 16);
        } else if (topic_id % 5 == 0) {
            sb_assignment_remove(&assignment, topic_id, 8, 16);
        }
    }
    for (uint32_t topic_id = 1; topic_id <= 64; topic_id++) {
        if (topic_id % 3 == 0) {
            cr_assert_null(sb_assignment_find(&assignment, topic_id, 0));
        } else {
            check_placed(&assignment, topic_id, topic_id % 5 == 0 ? 8 : 16, 3, 0);
        }
    }
    sb_assignment_remove(&assignment, 1000, 0, 4); /* Absent: nothing happens. */
    cr_assert_eq(assignment.entry_count, 43u * 16 - 8u * 8);
    sb_assignment_deinit(&assignment);
}

Test(assignment, placement_moves_a_partition_led_elsewhere_and_bumps_its_leader_epoch)
{
    struct sb_assignment assignment;
    cr_assert_eq(sb_assignment_init(&assignment), 0);
    struct sb_assignment_entry elsewhere = {.topic_id = 9, .partition = 1, .shard = 0,
                                            .leader = 4, .leader_epoch = 2, .replica_count = 3,
                                            .replicas = {4, 5, 6}};
    cr_assert_eq(sb_assignment_put(&assignment, &elsewhere), 0);
    cr_assert_eq(sb_assignment_place_local(&assignment, 9, 2, 2, 1), 2);
    const struct sb_assignment_entry *moved = sb_assignment_find(&assignment, 9, 1);
    cr_assert_eq(moved->leader, 1);
    cr_assert_eq(moved->leader_epoch, 3, "the leader changed");
    cr_assert_eq(moved->shard, 0u, "its data stays on its shard");
    cr_assert_eq(moved->replica_count, 1u);
    cr_assert_eq(sb_assignment_find(&assignment, 9, 0)->shard, 1u, "(9 + 0) %% 2");
    sb_assignment_deinit(&assignment);
}

Test(assignment, copies_hold_the_same_entries)
{
    struct sb_assignment from;
    struct sb_assignment whole;
    struct sb_assignment topic;
    cr_assert_eq(sb_assignment_init(&from), 0);
    cr_assert_eq(sb_assignment_init(&whole), 0);
    cr_assert_eq(sb_assignment_init(&topic), 0);
    cr_assert_eq(sb_assignment_place_local(&from, 1, 3000, 4, 2), 3000);
    cr_assert_eq(sb_assignment_place_local(&from, 2, 5, 4, 2), 5);
    from.epoch = 17;
    cr_assert_eq(sb_assignment_copy(&whole, &from), 0);
    cr_assert_eq(whole.epoch, 17u);
    check_placed(&whole, 1, 3000, 4, 2);
    check_placed(&whole, 2, 5, 4, 2);
    cr_assert_eq(sb_assignment_copy_topic(&topic, &from, 1, 3000), 0);
    check_placed(&topic, 1, 3000, 4, 2);
    cr_assert_null(sb_assignment_find(&topic, 2, 0), "only the topic asked for");
    sb_assignment_clear(&whole);
    cr_assert_null(sb_assignment_find(&whole, 1, 0));
    cr_assert_eq(whole.epoch, 0u);
    sb_assignment_deinit(&topic);
    sb_assignment_deinit(&whole);
    sb_assignment_deinit(&from);
}

/* 100,000 partitions: 25 topics of 4,000. Every lookup exact, then half removed. */
Test(assignment, a_table_of_100000_partitions)
{
    struct sb_assignment assignment;
    cr_assert_eq(sb_assignment_init(&assignment), 0);
    for (uint32_t topic_id = 1; topic_id <= 25; topic_id++) {
        cr_assert_eq(sb_assignment_place_local(&assignment, topic_id, 4000, 8, 0), 4000);
    }
    cr_assert_eq(assignment.entry_count, 100000u);
    for (uint32_t topic_id = 1; topic_id <= 25; topic_id++) {
        check_placed(&assignment, topic_id, 4000, 8, 0);
    }
    for (uint32_t topic_id = 1; topic_id <= 25; topic_id += 2) {
        sb_assignment_remove(&assignment, topic_id, 0, 4000);
    }
    for (uint32_t topic_id = 2; topic_id <= 25; topic_id += 2) {
        check_placed(&assignment, topic_id, 4000, 8, 0);
    }
    cr_assert_null(sb_assignment_find(&assignment, 1, 0));
    cr_assert_eq(assignment.entry_count, 48000u);
    sb_assignment_deinit(&assignment);
}

/* A topic table of `count` topics ("t-<id>", id partitions each) and its assignment. */
static void
tables_make(struct sb_metadata *metadata, struct sb_assignment *assignment, uint32_t count,
            uint32_t shard_count)
{
    cr_assert_eq(sb_metadata_init(metadata), 0);
    cr_assert_eq(sb_assignment_init(assignment), 0);
    metadata->shard_count = shard_count;
    for (uint32_t topic_id = 1; topic_id <= count; topic_id++) {
        struct sb_topic topic = {.topic_id = topic_id, .partition_count = topic_id};
        topic.name_length = (uint16_t)snprintf(topic.name, sizeof(topic.name), "t-%u",
                                               topic_id);
        sb_partition_config_default(&topic.config);
        topic.max_message_bytes = 1 << 20;
        cr_assert_eq(sb_metadata_put(metadata, &topic), 0);
        cr_assert_eq(sb_assignment_place_local(assignment, topic_id, topic_id, shard_count, 0),
                     (int64_t)topic_id);
    }
}

static uint8_t *
image_encode(const struct sb_metadata *metadata, const struct sb_assignment *assignment,
             uint64_t *bytes_out)
{
    uint64_t capacity = sb_metadata_encoded_bytes(metadata);
    uint8_t *image = sb_alloc(capacity);
    cr_assert_not_null(image);
    int64_t bytes = sb_metadata_encode(metadata, assignment, image, capacity);
    cr_assert_eq(bytes, (int64_t)capacity);
    *bytes_out = (uint64_t)bytes;
    return image;
}

/* Fixes file_bytes and the CRC of an image changed by a test. */
static void
image_seal(uint8_t *image, uint64_t bytes)
{
    sb_store_le64(image + 32, bytes);
    sb_store_le32(image + 4, sb_crc32c(0, image + 8, bytes - 8));
}

Test(assignment, the_metadata_file_round_trips_the_table)
{
    struct sb_metadata metadata;
    struct sb_assignment assignment;
    tables_make(&metadata, &assignment, 30, 3);
    /* Data, not a formula: an entry no formula would give survives the round trip. */
    struct sb_assignment_entry odd = {.topic_id = 7, .partition = 2, .shard = 0, .leader = 5,
                                      .leader_epoch = 9, .replica_count = 3,
                                      .replicas = {5, 1, 2}};
    cr_assert_eq(sb_assignment_put(&assignment, &odd), 0);
    assignment.epoch = 41;
    char dir[] = "/tmp/sb-assignment-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    cr_assert_eq(sb_metadata_save(&metadata, &assignment, dir), 0);
    struct sb_metadata loaded;
    struct sb_assignment loaded_assignment;
    cr_assert_eq(sb_metadata_init(&loaded), 0);
    cr_assert_eq(sb_assignment_init(&loaded_assignment), 0);
    cr_assert_eq(sb_metadata_load(&loaded, &loaded_assignment, dir), 0);
    cr_assert_eq(loaded.topic_count, 30u);
    cr_assert_eq(loaded_assignment.epoch, 41u);
    cr_assert_eq(loaded_assignment.entry_count, 30u * 31 / 2);
    for (uint32_t topic_id = 1; topic_id <= 30; topic_id++) {
        for (uint32_t partition = 0; partition < topic_id; partition++) {
            const struct sb_assignment_entry *want = sb_assignment_find(&assignment, topic_id,
                                                                        partition);
            const struct sb_assignment_entry *got =
                sb_assignment_find(&loaded_assignment, topic_id, partition);
            cr_assert_not_null(got);
            cr_assert_eq(memcmp(want, got, sizeof(*want)), 0, "%u/%u", topic_id, partition);
        }
    }
    char path[64];
    snprintf(path, sizeof(path), "%s/metadata", dir);
    cr_assert_eq(unlink(path), 0);
    cr_assert_eq(rmdir(dir), 0);
    sb_assignment_deinit(&loaded_assignment);
    sb_metadata_deinit(&loaded);
    sb_assignment_deinit(&assignment);
    sb_metadata_deinit(&metadata);
}

Test(assignment, a_version_1_file_loads_without_assignment_and_placement_keeps_the_shards)
{
    struct sb_metadata metadata;
    struct sb_assignment assignment;
    tables_make(&metadata, &assignment, 12, 5);
    uint64_t bytes = 0;
    uint8_t *image = image_encode(&metadata, &assignment, &bytes);
    /* What the previous version wrote: version 1, topics only, 40..64 reserved (zero). */
    uint64_t version_1_bytes = SB_METADATA_HEADER_BYTES + 12u * SB_METADATA_TOPIC_BYTES;
    sb_store_le16(image + 8, 1);
    memset(image + 40, 0, 24);
    image_seal(image, version_1_bytes);
    struct sb_metadata loaded;
    struct sb_assignment placed;
    cr_assert_eq(sb_metadata_init(&loaded), 0);
    cr_assert_eq(sb_assignment_init(&placed), 0);
    cr_assert_eq(sb_assignment_place_local(&placed, 99, 3, 5, 0), 3); /* Replaced by decode. */
    cr_assert_eq(sb_metadata_decode(&loaded, &placed, image, version_1_bytes), 0);
    cr_assert_eq(loaded.topic_count, 12u);
    cr_assert_eq(placed.entry_count, 0u, "no assignment in version 1");
    /* The broker fills it at start-up: the shards the formula always gave. */
    for (uint32_t topic_id = 1; topic_id <= 12; topic_id++) {
        cr_assert_eq(sb_assignment_place_local(&placed, topic_id, topic_id, loaded.shard_count,
                                               0),
                     (int64_t)topic_id);
        check_placed(&placed, topic_id, topic_id, 5, 0);
    }
    sb_free(image);
    sb_assignment_deinit(&placed);
    sb_metadata_deinit(&loaded);
    sb_assignment_deinit(&assignment);
    sb_metadata_deinit(&metadata);
}

/* Decodes a copy of `original` whose assignment record `record` has the 32-bit field at
 * `field_offset` set to `value`; expects SB_ECORRUPT. */
static void
expect_corrupt_record(const uint8_t *original, uint64_t bytes, uint32_t record,
                      uint32_t field_offset, uint32_t value)
{
    uint8_t *image = sb_alloc(bytes);
    memcpy(image, original, bytes);
    uint64_t records = SB_METADATA_HEADER_BYTES + 4u * SB_METADATA_TOPIC_BYTES;
    sb_store_le32(image + records + (uint64_t)record * SB_ASSIGNMENT_RECORD_BYTES + field_offset,
                  value);
    image_seal(image, bytes);
    struct sb_metadata metadata;
    struct sb_assignment assignment;
    cr_assert_eq(sb_metadata_init(&metadata), 0);
    cr_assert_eq(sb_assignment_init(&assignment), 0);
    cr_assert_eq(sb_metadata_decode(&metadata, &assignment, image, bytes), SB_ECORRUPT,
                 "record %u field %u = %u", record, field_offset, value);
    sb_assignment_deinit(&assignment);
    sb_metadata_deinit(&metadata);
    sb_free(image);
}

Test(assignment, a_file_whose_assignment_misses_repeats_or_misplaces_a_partition_is_corrupt)
{
    struct sb_metadata metadata;
    struct sb_assignment assignment;
    tables_make(&metadata, &assignment, 4, 2); /* Records: 1/0, 2/0, 2/1, 3/0 .. 4/3. */
    uint64_t bytes = 0;
    uint8_t *image = image_encode(&metadata, &assignment, &bytes);
    struct sb_metadata loaded;
    struct sb_assignment loaded_assignment;
    cr_assert_eq(sb_metadata_init(&loaded), 0);
    cr_assert_eq(sb_assignment_init(&loaded_assignment), 0);
    cr_assert_eq(sb_metadata_decode(&loaded, &loaded_assignment, image, bytes), 0);
    expect_corrupt_record(image, bytes, 2, 4, 0);   /* 2/1 repeats 2/0. */
    expect_corrupt_record(image, bytes, 0, 4, 1);   /* Topic 1 has no partition 1. */
    expect_corrupt_record(image, bytes, 0, 0, 77);  /* No topic 77. */
    expect_corrupt_record(image, bytes, 1, 8, 2);   /* Shard 2 of 2. */
    expect_corrupt_record(image, bytes, 1, 20, 0);  /* No replicas. */
    expect_corrupt_record(image, bytes, 1, 20, 9);  /* More replicas than a record holds. */
    /* One record short: the count no longer matches the partitions. */
    sb_store_le32(image + 48, 9);
    image_seal(image, bytes - SB_ASSIGNMENT_RECORD_BYTES);
    cr_assert_eq(sb_metadata_decode(&loaded, &loaded_assignment, image,
                                    bytes - SB_ASSIGNMENT_RECORD_BYTES), SB_ECORRUPT);
    sb_free(image);
    sb_assignment_deinit(&loaded_assignment);
    sb_metadata_deinit(&loaded);
    sb_assignment_deinit(&assignment);
    sb_metadata_deinit(&metadata);
}
