/*
 * test/proto/test_fixtures_group.c - the consumer group bodies against bytes
 * written by hand from the tables of docs/protocol.md ("Consumer group
 * APIs"), as test_fixtures.c does for the other APIs (how fixtures are
 * written: its header comment): each body is encoded from a known struct and
 * compared byte for byte, and the fixture is decoded and compared with the
 * struct, field by field and array end by array end.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "proto/api_group.h"
#include "proto/wire.h"
#include "test/proto/wire_fixture.h"

static uint8_t output[4096];

/* A writer over output. */
static struct sb_wire_writer
fixture_writer(void)
{
    struct sb_wire_writer writer;
    sb_wire_writer_init(&writer, output, sizeof(output));
    return writer;
}

/* -------------------------------------- OffsetCommit (12), AlterGroupOffsets (18) */

#define COMMIT_TOPICS_BYTES                                                                    \
    0x01, 0x00, 0x00, 0x00,                         /* topics: count 1 */                      \
        0x06, 0x00, 'o', 'r', 'd', 'e', 'r', 's',   /* · name "orders" */                      \
        0x02, 0x00, 0x00, 0x00,                     /* · partitions: count 2 */                \
        0x03, 0x00, 0x00, 0x00,                     /* · · partition 3 */                      \
        0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, /* · · offset 0x0102030405060708 */    \
        0x02, 0x00, 'a', 'b',                       /* · · metadata "ab" */                    \
        0x05, 0x00, 0x00, 0x00,                     /* · · partition 5 */                      \
        0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* · · offset 16 */                    \
        0xff, 0xff                                  /* · · metadata null */

static const uint8_t offset_commit_request_bytes[] = {
    0x02, 0x00, 'g', '1',      /* group_id "g1" */
    0x03, 0x00, 'm', '-', '1', /* member_id "m-1" */
    0x07, 0x00, 0x00, 0x00,    /* member_epoch 7 */
    COMMIT_TOPICS_BYTES,
};

static const uint8_t alter_group_offsets_request_bytes[] = {
    0x02, 0x00, 'g', '1', /* group_id "g1" */
    COMMIT_TOPICS_BYTES,
};

static const struct sb_offset_commit_partition commit_partitions[] = {
    {.partition = 3, .offset = 0x0102030405060708, .metadata = {"ab", 2}},
    {.partition = 5, .offset = 16, .metadata = {NULL, 0}},
};
static const struct sb_offset_commit_topic commit_topic = {
    .name = {"orders", 6}, .partitions = commit_partitions, .partition_count = 2};

/* Checks the topics of COMMIT_TOPICS_BYTES as next returns them from owner. */
static void
check_commit_topics(void *owner, int (*next)(void *owner, struct sb_offset_commit_topic *out))
{
    struct sb_offset_commit_topic topic;
    cr_assert_eq(next(owner, &topic), 1);
    fixture_assert_string(topic.name, commit_topic.name, "name");
    struct sb_offset_commit_partition partition;
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(sb_offset_commit_topic_next_partition(&topic, &partition), 1);
        cr_assert_eq(partition.partition, commit_partitions[i].partition);
        cr_assert_eq(partition.offset, commit_partitions[i].offset);
        fixture_assert_string(partition.metadata, commit_partitions[i].metadata, "metadata");
    }
    cr_assert_eq(sb_offset_commit_topic_next_partition(&topic, &partition), 0);
    cr_assert_eq(next(owner, &topic), 0);
}

static int
next_commit_topic(void *owner, struct sb_offset_commit_topic *out)
{
    return sb_offset_commit_request_next_topic(owner, out);
}

static int
next_alter_topic(void *owner, struct sb_offset_commit_topic *out)
{
    return sb_alter_group_offsets_request_next_topic(owner, out);
}

Test(fixtures_group, offset_commit_request)
{
    struct sb_offset_commit_request request = {.group_id = {"g1", 2}, .member_id = {"m-1", 3},
                                               .member_epoch = 7, .topics = &commit_topic,
                                               .topic_count = 1};
    struct sb_wire_writer writer = fixture_writer();
    fixture_assert_encoded(&writer, sb_offset_commit_request_encode(&writer, &request),
                           offset_commit_request_bytes, sizeof(offset_commit_request_bytes),
                           "OffsetCommit request");
    struct sb_offset_commit_request got;
    cr_assert_eq(sb_offset_commit_request_decode(offset_commit_request_bytes,
                                                 sizeof(offset_commit_request_bytes), &got),
                 0);
    fixture_assert_string(got.group_id, request.group_id, "group_id");
    fixture_assert_string(got.member_id, request.member_id, "member_id");
    cr_assert_eq(got.member_epoch, 7);
    cr_assert_eq(got.topic_count, 1);
    check_commit_topics(&got, next_commit_topic);
}

Test(fixtures_group, alter_group_offsets_request)
{
    struct sb_alter_group_offsets_request request = {.group_id = {"g1", 2},
                                                     .topics = &commit_topic, .topic_count = 1};
    struct sb_wire_writer writer = fixture_writer();
    fixture_assert_encoded(&writer, sb_alter_group_offsets_request_encode(&writer, &request),
                           alter_group_offsets_request_bytes,
                           sizeof(alter_group_offsets_request_bytes),
                           "AlterGroupOffsets request");
    struct sb_alter_group_offsets_request got;
    cr_assert_eq(sb_alter_group_offsets_request_decode(alter_group_offsets_request_bytes,
                                                       sizeof(alter_group_offsets_request_bytes),
                                                       &got),
                 0);
    fixture_assert_string(got.group_id, request.group_id, "group_id");
    check_commit_topics(&got, next_alter_topic);
}

static const uint8_t offset_commit_response_bytes[] = {
    0x00, 0x00,                               /* error_code 0 */
    0x01, 0x00, 0x00, 0x00,                   /* topics: count 1 */
    0x06, 0x00, 'o', 'r', 'd', 'e', 'r', 's', /* · name "orders" */
    0x02, 0x00, 0x00, 0x00,                   /* · partitions: count 2 */
    0x03, 0x00, 0x00, 0x00,                   /* · · partition 3 */
    0x00, 0x00,                               /* · · error_code 0 */
    0x05, 0x00, 0x00, 0x00,                   /* · · partition 5 */
    0x33, 0x00,                               /* · · error_code 51 OFFSET_METADATA_TOO_LARGE */
};

static const uint8_t offset_commit_response_stale_bytes[] = {
    0x2b, 0x00,             /* error_code 43 STALE_MEMBER_EPOCH */
    0x00, 0x00, 0x00, 0x00, /* topics: count 0 */
};

static const struct sb_offset_commit_partition_result commit_results[] = {
    {.partition = 3, .error_code = SB_WIRE_ERROR_NONE},
    {.partition = 5, .error_code = SB_WIRE_ERROR_OFFSET_METADATA_TOO_LARGE},
};

Test(fixtures_group, offset_commit_response)
{
    struct sb_offset_commit_topic_result topic = {.name = {"orders", 6},
                                                  .partitions = commit_results,
                                                  .partition_count = 2};
    struct sb_offset_commit_response response = {.topics = &topic, .topic_count = 1};
    struct sb_wire_writer writer = fixture_writer();
    fixture_assert_encoded(&writer, sb_offset_commit_response_encode(&writer, &response),
                           offset_commit_response_bytes, sizeof(offset_commit_response_bytes),
                           "OffsetCommit response");
    struct sb_offset_commit_response got;
    cr_assert_eq(sb_offset_commit_response_decode(offset_commit_response_bytes,
                                                  sizeof(offset_commit_response_bytes), &got),
                 0);
    cr_assert_eq(got.error_code, 0);
    struct sb_offset_commit_topic_result got_topic;
    cr_assert_eq(sb_offset_commit_response_next_topic(&got, &got_topic), 1);
    fixture_assert_string(got_topic.name, topic.name, "name");
    struct sb_offset_commit_partition_result result;
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(sb_offset_commit_topic_result_next_partition(&got_topic, &result), 1);
        cr_assert_eq(result.partition, commit_results[i].partition);
        cr_assert_eq(result.error_code, commit_results[i].error_code);
    }
    cr_assert_eq(sb_offset_commit_topic_result_next_partition(&got_topic, &result), 0);
    cr_assert_eq(sb_offset_commit_response_next_topic(&got, &got_topic), 0);
}

Test(fixtures_group, offset_commit_response_with_a_group_error)
{
    struct sb_offset_commit_response response = {.error_code =
                                                      SB_WIRE_ERROR_STALE_MEMBER_EPOCH};
    struct sb_wire_writer writer = fixture_writer();
    fixture_assert_encoded(&writer, sb_offset_commit_response_encode(&writer, &response),
                           offset_commit_response_stale_bytes,
                           sizeof(offset_commit_response_stale_bytes), "OffsetCommit error");
    struct sb_offset_commit_response got;
    cr_assert_eq(sb_offset_commit_response_decode(offset_commit_response_stale_bytes,
                                                  sizeof(offset_commit_response_stale_bytes),
                                                  &got),
                 0);
    cr_assert_eq(got.error_code, SB_WIRE_ERROR_STALE_MEMBER_EPOCH);
    cr_assert_eq(got.topic_count, 0);
}

/* -------------------------------------------------------------- OffsetFetch (13) */

static const uint8_t offset_fetch_request_bytes[] = {
    0x02, 0x00, 'g', '1',                     /* group_id "g1" */
    0x01, 0x00, 0x00, 0x00,                   /* topics: count 1 */
    0x06, 0x00, 'o', 'r', 'd', 'e', 'r', 's', /* · name "orders" */
    0x02, 0x00, 0x00, 0x00,                   /* · partitions: count 2 */
    0x00, 0x00, 0x00, 0x00,                   /* · · 0 */
    0x02, 0x00, 0x00, 0x00,                   /* · · 2 */
};

static const uint8_t offset_fetch_request_all_bytes[] = {
    0x02, 0x00, 'g', '1',   /* group_id "g1" */
    0xff, 0xff, 0xff, 0xff, /* topics: null = every committed partition */
};

static const int32_t fetch_partitions[] = {0, 2};

Test(fixtures_group, offset_fetch_request)
{
    struct sb_offset_fetch_topic topic = {.name = {"orders", 6}, .partitions = fetch_partitions,
                                          .partition_count = 2};
    struct sb_offset_fetch_request request = {.group_id = {"g1", 2}, .topics = &topic,
                                              .topic_count = 1};
    struct sb_wire_writer writer = fixture_writer();
    fixture_assert_encoded(&writer, sb_offset_fetch_request_encode(&writer, &request),
                           offset_fetch_request_bytes, sizeof(offset_fetch_request_bytes),
                           "OffsetFetch request");
    struct sb_offset_fetch_request got;
    cr_assert_eq(sb_offset_fetch_request_decode(offset_fetch_request_bytes,
                                                sizeof(offset_fetch_request_bytes), &got),
                 0);
    fixture_assert_string(got.group_id, request.group_id, "group_id");
    cr_assert(!got.all_topics);
    struct sb_offset_fetch_topic got_topic;
    cr_assert_eq(sb_offset_fetch_request_next_topic(&got, &got_topic), 1);
    fixture_assert_string(got_topic.name, topic.name, "name");
    int32_t partition;
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(sb_offset_fetch_topic_next_partition(&got_topic, &partition), 1);
        cr_assert_eq(partition, fetch_partitions[i]);
    }
    cr_assert_eq(sb_offset_fetch_topic_next_partition(&got_topic, &partition), 0);
    cr_assert_eq(sb_offset_fetch_request_next_topic(&got, &got_topic), 0);
}

Test(fixtures_group, offset_fetch_request_for_every_topic)
{
    struct sb_offset_fetch_request request = {.group_id = {"g1", 2}, .all_topics = true};
    struct sb_wire_writer writer = fixture_writer();
    fixture_assert_encoded(&writer, sb_offset_fetch_request_encode(&writer, &request),
                           offset_fetch_request_all_bytes,
                           sizeof(offset_fetch_request_all_bytes), "OffsetFetch all");
    struct sb_offset_fetch_request got;
    cr_assert_eq(sb_offset_fetch_request_decode(offset_fetch_request_all_bytes,
                                                sizeof(offset_fetch_request_all_bytes), &got),
                 0);
    cr_assert(got.all_topics);
    cr_assert_eq(got.topic_count, 0);
}

static const uint8_t offset_fetch_response_bytes[] = {
    0x00, 0x00,                                     /* error_code 0 */
    0x01, 0x00, 0x00, 0x00,                         /* topics: count 1 */
    0x06, 0x00, 'o', 'r', 'd', 'e', 'r', 's',       /* · name "orders" */
    0x02, 0x00, 0x00, 0x00,                         /* · partitions: count 2 */
    0x00, 0x00, 0x00, 0x00,                         /* · · partition 0 */
    0x2a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* · · offset 42 */
    0x02, 0x00, 'a', 'b',                           /* · · metadata "ab" */
    0x00, 0x68, 0xe5, 0xcf, 0x8b, 0x01, 0x00, 0x00, /* · · commit_time_ms 1.7e12 */
    0x00, 0x00,                                     /* · · error_code 0 */
    0x02, 0x00, 0x00, 0x00,                         /* · · partition 2 */
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* · · offset -1 */
    0xff, 0xff,                                     /* · · metadata null */
    0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* · · commit_time_ms -2 */
    0x07, 0x00,                                     /* · · error_code 7 */
};

static const struct sb_group_offset fetched_offsets[] = {
    {.partition = 0, .offset = 42, .metadata = {"ab", 2}, .commit_time_ms = 1700000000000,
     .error_code = SB_WIRE_ERROR_NONE},
    {.partition = 2, .offset = -1, .metadata = {NULL, 0}, .commit_time_ms = -2,
     .error_code = SB_WIRE_ERROR_UNKNOWN_TOPIC_OR_PARTITION},
};

/* Checks one committed offset against want; with_error: OffsetFetch's error_code too. */
static void
check_offset(const struct sb_group_offset *got, const struct sb_group_offset *want,
             bool with_error)
{
    cr_assert_eq(got->partition, want->partition);
    cr_assert_eq(got->offset, want->offset);
    fixture_assert_string(got->metadata, want->metadata, "metadata");
    cr_assert_eq(got->commit_time_ms, want->commit_time_ms);
    cr_assert_eq(got->error_code, with_error ? want->error_code : 0);
}

Test(fixtures_group, offset_fetch_response)
{
    struct sb_group_offset_topic topic = {.name = {"orders", 6}, .offsets = fetched_offsets,
                                          .offset_count = 2};
    struct sb_offset_fetch_response response = {.topics = &topic, .topic_count = 1};
    struct sb_wire_writer writer = fixture_writer();
    fixture_assert_encoded(&writer, sb_offset_fetch_response_encode(&writer, &response),
                           offset_fetch_response_bytes, sizeof(offset_fetch_response_bytes),
                           "OffsetFetch response");
    struct sb_offset_fetch_response got;
    cr_assert_eq(sb_offset_fetch_response_decode(offset_fetch_response_bytes,
                                                 sizeof(offset_fetch_response_bytes), &got),
                 0);
    cr_assert_eq(got.error_code, 0);
    struct sb_group_offset_topic got_topic;
    cr_assert_eq(sb_offset_fetch_response_next_topic(&got, &got_topic), 1);
    fixture_assert_string(got_topic.name, topic.name, "name");
    struct sb_group_offset offset;
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(sb_offset_fetch_topic_next_offset(&got_topic, &offset), 1);
        check_offset(&offset, &fetched_offsets[i], true);
    }
    cr_assert_eq(sb_offset_fetch_topic_next_offset(&got_topic, &offset), 0);
    cr_assert_eq(sb_offset_fetch_response_next_topic(&got, &got_topic), 0);
}

/* ----------------------------------------------------------- GroupHeartbeat (14) */

static const uint8_t group_heartbeat_join_bytes[] = {
    0x02, 0x00, 'g', '1',                     /* group_id "g1" */
    0x03, 0x00, 'm', '-', '1',                /* member_id "m-1" */
    0x00, 0x00, 0x00, 0x00,                   /* member_epoch 0 (join) */
    0x02, 0x00, 'i', '1',                     /* instance_id "i1" */
    0x30, 0x75, 0x00, 0x00,                   /* rebalance_timeout_ms 30000 */
    0x01, 0x00, 0x00, 0x00,                   /* subscribed_topic_names: count 1 */
    0x06, 0x00, 'o', 'r', 'd', 'e', 'r', 's', /* · "orders" */
    0xff, 0xff,                               /* subscribed_topic_regex null */
    0x05, 0x00, 'r', 'a', 'n', 'g', 'e',      /* server_assignor "range" */
    0x01, 0x00, 0x00, 0x00,                   /* owned_partitions: count 1 */
    0x44, 0x33, 0x22, 0x11,                   /* · topic_id 0x11223344 */
    0x01, 0x00, 0x00, 0x00,                   /* · partitions: count 1 */
    0x01, 0x00, 0x00, 0x00,                   /* · · 1 */
};

static const uint8_t group_heartbeat_unchanged_bytes[] = {
    0x02, 0x00, 'g', '1',      /* group_id "g1" */
    0x03, 0x00, 'm', '-', '1', /* member_id "m-1" */
    0x09, 0x00, 0x00, 0x00,    /* member_epoch 9 */
    0xff, 0xff,                /* instance_id null */
    0xff, 0xff, 0xff, 0xff,    /* rebalance_timeout_ms -1 */
    0xff, 0xff, 0xff, 0xff,    /* subscribed_topic_names null */
    0xff, 0xff,                /* subscribed_topic_regex null */
    0xff, 0xff,                /* server_assignor null */
    0xff, 0xff, 0xff, 0xff,    /* owned_partitions null */
};

static const int32_t owned_partitions[] = {1};
static const struct sb_group_tpset owned_set = {.topic_id = 0x11223344u,
                                                .partitions = owned_partitions,
                                                .partition_count = 1};
static const struct sb_wire_string subscribed_name = {"orders", 6};

/* Checks one decoded set against want. */
static void
check_tpset(struct sb_group_tpset *got, const struct sb_group_tpset *want)
{
    cr_assert_eq(got->topic_id, want->topic_id);
    cr_assert_eq(got->partition_count, want->partition_count);
    int32_t partition;
    for (uint32_t i = 0; i < want->partition_count; i++) {
        cr_assert_eq(sb_group_tpset_next_partition(got, &partition), 1);
        cr_assert_eq(partition, want->partitions[i]);
    }
    cr_assert_eq(sb_group_tpset_next_partition(got, &partition), 0);
}

Test(fixtures_group, group_heartbeat_request_join)
{
    struct sb_group_heartbeat_request request = {
        .group_id = {"g1", 2}, .member_id = {"m-1", 3}, .member_epoch = 0,
        .instance_id = {"i1", 2}, .rebalance_timeout_ms = 30000,
        .topic_names = &subscribed_name, .topic_name_count = 1, .topic_regex = {NULL, 0},
        .server_assignor = {"range", 5}, .owned = &owned_set, .owned_count = 1};
    struct sb_wire_writer writer = fixture_writer();
    fixture_assert_encoded(&writer, sb_group_heartbeat_request_encode(&writer, &request),
                           group_heartbeat_join_bytes, sizeof(group_heartbeat_join_bytes),
                           "GroupHeartbeat join");
    struct sb_group_heartbeat_request got;
    cr_assert_eq(sb_group_heartbeat_request_decode(group_heartbeat_join_bytes,
                                                   sizeof(group_heartbeat_join_bytes), &got),
                 0);
    fixture_assert_string(got.group_id, request.group_id, "group_id");
    fixture_assert_string(got.member_id, request.member_id, "member_id");
    cr_assert_eq(got.member_epoch, 0);
    fixture_assert_string(got.instance_id, request.instance_id, "instance_id");
    cr_assert_eq(got.rebalance_timeout_ms, 30000);
    cr_assert(!got.topic_names_unchanged);
    struct sb_wire_string name;
    cr_assert_eq(sb_group_heartbeat_request_next_topic_name(&got, &name), 1);
    fixture_assert_string(name, subscribed_name, "subscribed name");
    cr_assert_eq(sb_group_heartbeat_request_next_topic_name(&got, &name), 0);
    fixture_assert_string(got.topic_regex, request.topic_regex, "regex");
    fixture_assert_string(got.server_assignor, request.server_assignor, "assignor");
    cr_assert(!got.owned_unchanged);
    struct sb_group_tpset set;
    cr_assert_eq(sb_group_heartbeat_request_next_owned(&got, &set), 1);
    check_tpset(&set, &owned_set);
    cr_assert_eq(sb_group_heartbeat_request_next_owned(&got, &set), 0);
}

Test(fixtures_group, group_heartbeat_request_unchanged)
{
    struct sb_group_heartbeat_request request = {
        .group_id = {"g1", 2}, .member_id = {"m-1", 3}, .member_epoch = 9,
        .rebalance_timeout_ms = -1, .topic_names_unchanged = true, .owned_unchanged = true};
    struct sb_wire_writer writer = fixture_writer();
    fixture_assert_encoded(&writer, sb_group_heartbeat_request_encode(&writer, &request),
                           group_heartbeat_unchanged_bytes,
                           sizeof(group_heartbeat_unchanged_bytes), "GroupHeartbeat unchanged");
    struct sb_group_heartbeat_request got;
    cr_assert_eq(sb_group_heartbeat_request_decode(group_heartbeat_unchanged_bytes,
                                                   sizeof(group_heartbeat_unchanged_bytes),
                                                   &got),
                 0);
    cr_assert_eq(got.member_epoch, 9);
    fixture_assert_string(got.instance_id, request.instance_id, "instance_id");
    cr_assert_eq(got.rebalance_timeout_ms, -1);
    cr_assert(got.topic_names_unchanged);
    fixture_assert_string(got.topic_regex, request.topic_regex, "regex");
    fixture_assert_string(got.server_assignor, request.server_assignor, "assignor");
    cr_assert(got.owned_unchanged);
}

static const uint8_t group_heartbeat_response_bytes[] = {
    0x00, 0x00,                /* error_code 0 */
    0xff, 0xff,                /* error_message null */
    0x03, 0x00, 'm', '-', '1', /* member_id "m-1" */
    0x08, 0x00, 0x00, 0x00,    /* member_epoch 8 */
    0x88, 0x13, 0x00, 0x00,    /* heartbeat_interval_ms 5000 */
    0x01, 0x00, 0x00, 0x00,    /* assignment: count 1 */
    0x44, 0x33, 0x22, 0x11,    /* · topic_id 0x11223344 */
    0x01, 0x00, 0x00, 0x00,    /* · partitions: count 1 */
    0x01, 0x00, 0x00, 0x00,    /* · · 1 */
};

static const uint8_t group_heartbeat_fenced_bytes[] = {
    0x2a, 0x00,                                /* error_code 42 FENCED_MEMBER_EPOCH */
    0x06, 0x00, 'f', 'e', 'n', 'c', 'e', 'd',  /* error_message "fenced" */
    0x03, 0x00, 'm', '-', '1',                 /* member_id "m-1" */
    0xff, 0xff, 0xff, 0xff,                    /* member_epoch -1 */
    0x88, 0x13, 0x00, 0x00,                    /* heartbeat_interval_ms 5000 */
    0xff, 0xff, 0xff, 0xff,                    /* assignment null (unchanged) */
};

Test(fixtures_group, group_heartbeat_response)
{
    struct sb_group_heartbeat_response response = {
        .member_id = {"m-1", 3}, .member_epoch = 8, .heartbeat_interval_ms = 5000,
        .assignment = &owned_set, .assignment_count = 1};
    struct sb_wire_writer writer = fixture_writer();
    fixture_assert_encoded(&writer, sb_group_heartbeat_response_encode(&writer, &response),
                           group_heartbeat_response_bytes,
                           sizeof(group_heartbeat_response_bytes), "GroupHeartbeat response");
    struct sb_group_heartbeat_response got;
    cr_assert_eq(sb_group_heartbeat_response_decode(group_heartbeat_response_bytes,
                                                    sizeof(group_heartbeat_response_bytes),
                                                    &got),
                 0);
    cr_assert_eq(got.error_code, 0);
    fixture_assert_string(got.error_message, response.error_message, "error_message");
    fixture_assert_string(got.member_id, response.member_id, "member_id");
    cr_assert_eq(got.member_epoch, 8);
    cr_assert_eq(got.heartbeat_interval_ms, 5000);
    cr_assert(!got.assignment_unchanged);
    struct sb_group_tpset set;
    cr_assert_eq(sb_group_heartbeat_response_next_assignment(&got, &set), 1);
    check_tpset(&set, &owned_set);
    cr_assert_eq(sb_group_heartbeat_response_next_assignment(&got, &set), 0);
}

Test(fixtures_group, group_heartbeat_response_fenced)
{
    struct sb_group_heartbeat_response response = {
        .error_code = SB_WIRE_ERROR_FENCED_MEMBER_EPOCH, .error_message = {"fenced", 6},
        .member_id = {"m-1", 3}, .member_epoch = -1, .heartbeat_interval_ms = 5000,
        .assignment_unchanged = true};
    struct sb_wire_writer writer = fixture_writer();
    fixture_assert_encoded(&writer, sb_group_heartbeat_response_encode(&writer, &response),
                           group_heartbeat_fenced_bytes, sizeof(group_heartbeat_fenced_bytes),
                           "GroupHeartbeat fenced");
    struct sb_group_heartbeat_response got;
    cr_assert_eq(sb_group_heartbeat_response_decode(group_heartbeat_fenced_bytes,
                                                    sizeof(group_heartbeat_fenced_bytes), &got),
                 0);
    cr_assert_eq(got.error_code, SB_WIRE_ERROR_FENCED_MEMBER_EPOCH);
    fixture_assert_string(got.error_message, response.error_message, "error_message");
    cr_assert_eq(got.member_epoch, -1);
    cr_assert(got.assignment_unchanged);
    cr_assert_eq(got.assignment_count, 0);
}

/* ---------------------------------------------------------------- ListGroups (15) */

static const uint8_t list_groups_request_bytes[] = {
    0x02, 0x00, 0x00, 0x00, /* states_filter: count 2 */
    0x03,                   /* · STABLE */
    0x00,                   /* · EMPTY */
};

static const int8_t list_states[] = {SB_GROUP_STATE_STABLE, SB_GROUP_STATE_EMPTY};

Test(fixtures_group, list_groups_request)
{
    struct sb_list_groups_request request = {.states = list_states, .state_count = 2};
    struct sb_wire_writer writer = fixture_writer();
    fixture_assert_encoded(&writer, sb_list_groups_request_encode(&writer, &request),
                           list_groups_request_bytes, sizeof(list_groups_request_bytes),
                           "ListGroups request");
    struct sb_list_groups_request got;
    cr_assert_eq(sb_list_groups_request_decode(list_groups_request_bytes,
                                               sizeof(list_groups_request_bytes), &got),
                 0);
    int8_t state;
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(sb_list_groups_request_next_state(&got, &state), 1);
        cr_assert_eq(state, list_states[i]);
    }
    cr_assert_eq(sb_list_groups_request_next_state(&got, &state), 0);
}

static const uint8_t list_groups_response_bytes[] = {
    0x00, 0x00,             /* error_code 0 */
    0x02, 0x00, 0x00, 0x00, /* groups: count 2 */
    0x01, 0x00, 'a',        /* · group_id "a" */
    0x00,                   /* · state EMPTY */
    0x00, 0x00, 0x00, 0x00, /* · member_count 0 */
    0x02, 0x00, 'b', 'b',   /* · group_id "bb" */
    0x03,                   /* · state STABLE */
    0x02, 0x00, 0x00, 0x00, /* · member_count 2 */
};

static const struct sb_list_groups_entry list_entries[] = {
    {.group_id = {"a", 1}, .state = SB_GROUP_STATE_EMPTY, .member_count = 0},
    {.group_id = {"bb", 2}, .state = SB_GROUP_STATE_STABLE, .member_count = 2},
};

Test(fixtures_group, list_groups_response)
{
    struct sb_list_groups_response response = {.groups = list_entries, .group_count = 2};
    struct sb_wire_writer writer = fixture_writer();
    fixture_assert_encoded(&writer, sb_list_groups_response_encode(&writer, &response),
                           list_groups_response_bytes, sizeof(list_groups_response_bytes),
                           "ListGroups response");
    struct sb_list_groups_response got;
    cr_assert_eq(sb_list_groups_response_decode(list_groups_response_bytes,
                                                sizeof(list_groups_response_bytes), &got),
                 0);
    cr_assert_eq(got.error_code, 0);
    struct sb_list_groups_entry entry;
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(sb_list_groups_response_next_group(&got, &entry), 1);
        fixture_assert_string(entry.group_id, list_entries[i].group_id, "group_id");
        cr_assert_eq(entry.state, list_entries[i].state);
        cr_assert_eq(entry.member_count, list_entries[i].member_count);
    }
    cr_assert_eq(sb_list_groups_response_next_group(&got, &entry), 0);
}

/* ---------------------------------------- DescribeGroup (16), DeleteGroup (17) */

static const uint8_t group_id_request_bytes[] = {
    0x02, 0x00, 'g', '1', /* group_id "g1" */
};

Test(fixtures_group, group_id_request)
{
    struct sb_group_id_request request = {.group_id = {"g1", 2}};
    struct sb_wire_writer writer = fixture_writer();
    fixture_assert_encoded(&writer, sb_group_id_request_encode(&writer, &request),
                           group_id_request_bytes, sizeof(group_id_request_bytes),
                           "DescribeGroup / DeleteGroup request");
    struct sb_group_id_request got;
    cr_assert_eq(sb_group_id_request_decode(group_id_request_bytes,
                                            sizeof(group_id_request_bytes), &got),
                 0);
    fixture_assert_string(got.group_id, request.group_id, "group_id");
}

static const uint8_t describe_group_response_bytes[] = {
    0x00, 0x00,                                     /* error_code 0 */
    0x02, 0x00, 'g', '1',                           /* group_id "g1" */
    0x02,                                           /* state RECONCILING */
    0x06, 0x00, 0x00, 0x00,                         /* group_epoch 6 */
    0x05, 0x00, 0x00, 0x00,                         /* assignment_epoch 5 */
    0x05, 0x00, 'r', 'a', 'n', 'g', 'e',            /* assignor "range" */
    0x01, 0x00, 0x00, 0x00,                         /* members: count 1 */
    0x03, 0x00, 'm', '-', '1',                      /* · member_id "m-1" */
    0x02, 0x00, 'i', '1',                           /* · instance_id "i1" */
    0x04, 0x00, 0x00, 0x00,                         /* · member_epoch 4 */
    0x01, 0x00, 0x00, 0x00,                         /* · subscribed_topic_names: count 1 */
    0x06, 0x00, 'o', 'r', 'd', 'e', 'r', 's',       /* · · "orders" */
    0xff, 0xff,                                     /* · subscribed_topic_regex null */
    0x01, 0x00, 0x00, 0x00,                         /* · assignment: count 1 */
    0x44, 0x33, 0x22, 0x11,                         /* · · topic_id 0x11223344 */
    0x01, 0x00, 0x00, 0x00,                         /* · · partitions: count 1 */
    0x01, 0x00, 0x00, 0x00,                         /* · · · 1 */
    0x00, 0x00, 0x00, 0x00,                         /* · target_assignment: count 0 */
    0x01, 0x00, 0x00, 0x00,                         /* offsets: count 1 */
    0x06, 0x00, 'o', 'r', 'd', 'e', 'r', 's',       /* · name "orders" */
    0x01, 0x00, 0x00, 0x00,                         /* · partitions: count 1 */
    0x00, 0x00, 0x00, 0x00,                         /* · · partition 0 */
    0x2a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* · · offset 42 */
    0x02, 0x00, 'a', 'b',                           /* · · metadata "ab" */
    0x00, 0x68, 0xe5, 0xcf, 0x8b, 0x01, 0x00, 0x00, /* · · commit_time_ms 1.7e12 */
};

static const struct sb_group_member_description described_member = {
    .member_id = {"m-1", 3}, .instance_id = {"i1", 2}, .member_epoch = 4,
    .topic_names = &subscribed_name, .topic_name_count = 1, .topic_regex = {NULL, 0},
    .assignment = &owned_set, .assignment_count = 1};

/* Checks the member of describe_group_response_bytes. */
static void
check_described_member(struct sb_group_member_description *got)
{
    const struct sb_group_member_description *want = &described_member;
    fixture_assert_string(got->member_id, want->member_id, "member_id");
    fixture_assert_string(got->instance_id, want->instance_id, "instance_id");
    cr_assert_eq(got->member_epoch, 4);
    struct sb_wire_string name;
    cr_assert_eq(sb_group_member_next_topic_name(got, &name), 1);
    fixture_assert_string(name, subscribed_name, "subscribed name");
    cr_assert_eq(sb_group_member_next_topic_name(got, &name), 0);
    fixture_assert_string(got->topic_regex, want->topic_regex, "regex");
    struct sb_group_tpset set;
    cr_assert_eq(sb_group_member_next_assignment(got, &set), 1);
    check_tpset(&set, &owned_set);
    cr_assert_eq(sb_group_member_next_assignment(got, &set), 0);
    cr_assert_eq(sb_group_member_next_target(got, &set), 0);
}

Test(fixtures_group, describe_group_response)
{
    struct sb_group_offset_topic offsets = {.name = {"orders", 6}, .offsets = fetched_offsets,
                                            .offset_count = 1};
    struct sb_describe_group_response response = {
        .group_id = {"g1", 2}, .state = SB_GROUP_STATE_RECONCILING, .group_epoch = 6,
        .assignment_epoch = 5, .assignor = {"range", 5}, .members = &described_member,
        .member_count = 1, .offsets = &offsets, .offset_topic_count = 1};
    struct sb_wire_writer writer = fixture_writer();
    fixture_assert_encoded(&writer, sb_describe_group_response_encode(&writer, &response),
                           describe_group_response_bytes, sizeof(describe_group_response_bytes),
                           "DescribeGroup response");
    struct sb_describe_group_response got;
    cr_assert_eq(sb_describe_group_response_decode(describe_group_response_bytes,
                                                   sizeof(describe_group_response_bytes), &got),
                 0);
    cr_assert_eq(got.error_code, 0);
    fixture_assert_string(got.group_id, response.group_id, "group_id");
    cr_assert_eq(got.state, SB_GROUP_STATE_RECONCILING);
    cr_assert_eq(got.group_epoch, 6);
    cr_assert_eq(got.assignment_epoch, 5);
    fixture_assert_string(got.assignor, response.assignor, "assignor");
    struct sb_group_member_description member;
    cr_assert_eq(sb_describe_group_response_next_member(&got, &member), 1);
    check_described_member(&member);
    cr_assert_eq(sb_describe_group_response_next_member(&got, &member), 0);
    struct sb_group_offset_topic topic;
    cr_assert_eq(sb_describe_group_response_next_offset_topic(&got, &topic), 1);
    fixture_assert_string(topic.name, offsets.name, "name");
    struct sb_group_offset offset;
    cr_assert_eq(sb_described_offset_topic_next_offset(&topic, &offset), 1);
    check_offset(&offset, &fetched_offsets[0], false);
    cr_assert_eq(sb_described_offset_topic_next_offset(&topic, &offset), 0);
    cr_assert_eq(sb_describe_group_response_next_offset_topic(&got, &topic), 0);
}

static const uint8_t delete_group_response_bytes[] = {
    0x2c, 0x00, /* error_code 44 NON_EMPTY_GROUP */
};

Test(fixtures_group, delete_group_response)
{
    struct sb_delete_group_response response = {.error_code = SB_WIRE_ERROR_NON_EMPTY_GROUP};
    struct sb_wire_writer writer = fixture_writer();
    fixture_assert_encoded(&writer, sb_delete_group_response_encode(&writer, &response),
                           delete_group_response_bytes, sizeof(delete_group_response_bytes),
                           "DeleteGroup response");
    struct sb_delete_group_response got;
    cr_assert_eq(sb_delete_group_response_decode(delete_group_response_bytes,
                                                 sizeof(delete_group_response_bytes), &got),
                 0);
    cr_assert_eq(got.error_code, SB_WIRE_ERROR_NON_EMPTY_GROUP);
}
