/*
 * test/broker/test_groups.c - committed offsets against real brokers (broker/api_group.c,
 * broker/group_coordinator.c): commit then fetch; every acknowledged commit is there after
 * kill -9; groups coordinated by each shard, asked through every port; DeleteGroup and the
 * offset reset (AlterGroupOffsets) of an empty group; ListGroups over every shard; a commit
 * with a member epoch the group does not know is refused; the internal topic
 * __consumer_offsets cannot be produced to, deleted or listed without asking for it; an
 * empty group expires after offsets_retention_ms. Membership over GroupHeartbeat: two
 * members split a topic, revoking before assigning, and DescribeGroup shows them; commits
 * at an old or unknown epoch, or from a member that left, are refused; a group with members
 * is not deleted; bad heartbeats get their errors.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/crc32c.h"
#include "core/limits.h"
#include "proto/api_admin.h"
#include "proto/api_group.h"
#include "proto/api_meta.h"
#include "proto/api_produce.h"
#include "test/broker/broker_fixture.h"

/* Groups the durability test commits to, and commits per group. */
#define DURABLE_GROUPS 12u
#define DURABLE_ROUNDS 5u
/* Polls of the expiry test, 50 ms apart. */
#define EXPIRY_POLLS 200
/* Tries of a group request while its coordinator still reads its groups back (retriable
 * COORDINATOR_LOAD_IN_PROGRESS), 20 ms apart. */
#define LOAD_TRIES 250

static void
pause_ms(long milliseconds)
{
    struct timespec pause = {.tv_sec = milliseconds / 1000,
                             .tv_nsec = milliseconds % 1000 * 1000 * 1000};
    nanosleep(&pause, NULL);
}

/* Sends a request and returns its answer's frame (asserting one comes, for it, without a
 * frame-level error); the body is valid until the next receive. */
static struct sb_frame
ask(struct client *client, uint16_t api_key,
    int (*encode)(struct sb_wire_writer *writer, const void *request), const void *request)
{
    uint32_t correlation = client_send(client, api_key, 0, encode, request);
    struct sb_frame frame;
    cr_assert_eq(client_receive(client, &frame, client->timeout_ms), 0);
    cr_assert_eq(frame.header.correlation_id, correlation);
    cr_assert_eq(frame.header.error_code, 0, "%s",
                 sb_wire_error_name(frame.header.error_code));
    return frame;
}

static int
encode_commit(struct sb_wire_writer *writer, const void *request)
{
    return sb_offset_commit_request_encode(writer, request);
}

static int
encode_alter(struct sb_wire_writer *writer, const void *request)
{
    return sb_alter_group_offsets_request_encode(writer, request);
}

static int
encode_fetch(struct sb_wire_writer *writer, const void *request)
{
    return sb_offset_fetch_request_encode(writer, request);
}

static int
encode_group_id(struct sb_wire_writer *writer, const void *request)
{
    return sb_group_id_request_encode(writer, request);
}

/* Commits `offset` (metadata `metadata`, NULL: null) for topic/partition as `member_epoch`
 * (-1: without membership); returns the group-wide error, *partition_error_out the
 * partition's (NULL: not wanted). */
static int16_t
commit_one(struct client *client, const char *group, const char *topic, int32_t partition,
           int64_t offset, const char *metadata, int32_t member_epoch,
           int16_t *partition_error_out)
{
    struct sb_offset_commit_partition one = {.partition = partition, .offset = offset,
                                             .metadata = sb_wire_string_from_cstr(metadata)};
    struct sb_offset_commit_topic named = {.name = sb_wire_string_from_cstr(topic),
                                           .partitions = &one, .partition_count = 1};
    struct sb_offset_commit_request request = {
        .group_id = sb_wire_string_from_cstr(group),
        .member_id = sb_wire_string_from_cstr(member_epoch < 0 ? "" : "member-1"),
        .member_epoch = member_epoch, .topics = &named, .topic_count = 1};
    struct sb_offset_commit_response response = {
        .error_code = SB_WIRE_ERROR_COORDINATOR_LOAD_IN_PROGRESS};
    for (int try = 0; try < LOAD_TRIES &&
                      response.error_code == SB_WIRE_ERROR_COORDINATOR_LOAD_IN_PROGRESS; try++) {
        pause_ms(try == 0 ? 0 : 20);
        struct sb_frame frame = ask(client, SB_API_OFFSET_COMMIT, encode_commit, &request);
        cr_assert_eq(sb_offset_commit_response_decode(frame.body, frame.body_bytes, &response),
                     0);
    }
    if (response.error_code != SB_WIRE_ERROR_NONE) {
        cr_assert_eq(response.topic_count, 0, "a group-wide error has no topics");
        return response.error_code;
    }
    struct sb_offset_commit_topic_result result_topic;
    struct sb_offset_commit_partition_result result;
    cr_assert_eq(sb_offset_commit_response_next_topic(&response, &result_topic), 1);
    cr_assert(sb_wire_string_equals(result_topic.name, topic));
    cr_assert_eq(sb_offset_commit_topic_result_next_partition(&result_topic, &result), 1);
    cr_assert_eq(result.partition, partition);
    if (partition_error_out != NULL) {
        *partition_error_out = result.error_code;
    } else {
        cr_assert_eq(result.error_code, 0, "%s", sb_wire_error_name(result.error_code));
    }
    return SB_WIRE_ERROR_NONE;
}

/* The committed offset of group/topic/partition (-1: none); its metadata into `metadata`
 * ("(null)" when null). */
static int64_t
fetch_one(struct client *client, const char *group, const char *topic, int32_t partition,
          char *metadata, size_t capacity)
{
    struct sb_offset_fetch_topic named = {.name = sb_wire_string_from_cstr(topic),
                                          .partitions = &partition, .partition_count = 1};
    struct sb_offset_fetch_request request = {.group_id = sb_wire_string_from_cstr(group),
                                              .topics = &named, .topic_count = 1};
    struct sb_offset_fetch_response response = {
        .error_code = SB_WIRE_ERROR_COORDINATOR_LOAD_IN_PROGRESS};
    for (int try = 0; try < LOAD_TRIES &&
                      response.error_code == SB_WIRE_ERROR_COORDINATOR_LOAD_IN_PROGRESS; try++) {
        pause_ms(try == 0 ? 0 : 20);
        struct sb_frame frame = ask(client, SB_API_OFFSET_FETCH, encode_fetch, &request);
        cr_assert_eq(sb_offset_fetch_response_decode(frame.body, frame.body_bytes, &response),
                     0);
    }
    cr_assert_eq(response.error_code, 0, "%s", sb_wire_error_name(response.error_code));
    struct sb_group_offset_topic result_topic;
    struct sb_group_offset result;
    cr_assert_eq(sb_offset_fetch_response_next_topic(&response, &result_topic), 1);
    cr_assert_eq(sb_offset_fetch_topic_next_offset(&result_topic, &result), 1);
    cr_assert_eq(result.partition, partition);
    cr_assert_eq(result.error_code, 0);
    if (metadata != NULL) {
        snprintf(metadata, capacity, "%.*s", (int)result.metadata.length,
                 result.metadata.chars != NULL ? result.metadata.chars : "(null)");
        if (result.metadata.chars == NULL) {
            snprintf(metadata, capacity, "(null)");
        }
    }
    return result.offset;
}

/* DescribeGroup's or DeleteGroup's group-wide error for `group`, once. */
static int16_t
group_request_once(struct client *client, uint16_t api_key, const char *group)
{
    struct sb_group_id_request request = {.group_id = sb_wire_string_from_cstr(group)};
    struct sb_frame frame = ask(client, api_key, encode_group_id, &request);
    if (api_key == SB_API_DELETE_GROUP) {
        struct sb_delete_group_response response;
        cr_assert_eq(sb_delete_group_response_decode(frame.body, frame.body_bytes, &response),
                     0);
        return response.error_code;
    }
    struct sb_describe_group_response response;
    cr_assert_eq(sb_describe_group_response_decode(frame.body, frame.body_bytes, &response), 0);
    return response.error_code;
}

/* group_request_once until the coordinator has read its groups back. */
static int16_t
group_request(struct client *client, uint16_t api_key, const char *group)
{
    int16_t error = SB_WIRE_ERROR_COORDINATOR_LOAD_IN_PROGRESS;
    for (int try = 0; try < LOAD_TRIES && error == SB_WIRE_ERROR_COORDINATOR_LOAD_IN_PROGRESS;
         try++) {
        pause_ms(try == 0 ? 0 : 20);
        error = group_request_once(client, api_key, group);
    }
    return error;
}

Test(groups, a_commit_is_fetched_back, .timeout = 60)
{
    struct broker_process broker;
    broker_start_new(&broker, 1, NULL);
    struct client client;
    client_connect(&client, broker.port);
    cr_assert_eq(client_create_topic(&client, "orders", 3), SB_WIRE_ERROR_NONE);
    cr_assert_eq(commit_one(&client, "g1", "orders", 0, 10, "at ten", -1, NULL), 0);
    cr_assert_eq(commit_one(&client, "g1", "orders", 1, 20, NULL, -1, NULL), 0);
    cr_assert_eq(commit_one(&client, "g1", "orders", 0, 11, "at eleven", -1, NULL), 0);
    char metadata[64];
    cr_assert_eq(fetch_one(&client, "g1", "orders", 0, metadata, sizeof(metadata)), 11);
    cr_assert_str_eq(metadata, "at eleven");
    cr_assert_eq(fetch_one(&client, "g1", "orders", 1, metadata, sizeof(metadata)), 20);
    cr_assert_str_eq(metadata, "", "a null metadata is kept as empty");
    cr_assert_eq(fetch_one(&client, "g1", "orders", 2, metadata, sizeof(metadata)), -1);
    cr_assert_str_eq(metadata, "(null)", "no commit: null metadata");
    cr_assert_eq(fetch_one(&client, "other", "orders", 0, NULL, 0), -1, "another group");
    cr_assert_eq(group_request(&client, SB_API_DESCRIBE_GROUP, "g1"), SB_WIRE_ERROR_NONE);
    cr_assert_eq(group_request(&client, SB_API_DESCRIBE_GROUP, "other"),
                 SB_WIRE_ERROR_GROUP_ID_NOT_FOUND);
    client_close(&client);
    broker_stop_and_destroy(&broker);
}

Test(groups, bad_commits_are_refused, .timeout = 60)
{
    struct broker_process broker;
    broker_start_new(&broker, 1, NULL);
    struct client client;
    client_connect(&client, broker.port);
    cr_assert_eq(client_create_topic(&client, "orders", 1), SB_WIRE_ERROR_NONE);
    int16_t partition_error;
    cr_assert_eq(commit_one(&client, "g1", "orders", 0, 5, NULL, 3, NULL),
                 SB_WIRE_ERROR_UNKNOWN_MEMBER_ID, "no member with that epoch");
    cr_assert_eq(commit_one(&client, "g1", "orders", 0, -2, NULL, -1, &partition_error), 0);
    cr_assert_eq(partition_error, SB_WIRE_ERROR_OFFSET_OUT_OF_RANGE);
    cr_assert_eq(commit_one(&client, "g1", "nowhere", 0, 5, NULL, -1, &partition_error), 0);
    cr_assert_eq(partition_error, SB_WIRE_ERROR_UNKNOWN_TOPIC_OR_PARTITION);
    cr_assert_eq(commit_one(&client, "g1", "orders", 7, 5, NULL, -1, &partition_error), 0);
    cr_assert_eq(partition_error, SB_WIRE_ERROR_UNKNOWN_TOPIC_OR_PARTITION);
    cr_assert_eq(commit_one(&client, "bad group", "orders", 0, 5, NULL, -1, NULL),
                 SB_WIRE_ERROR_INVALID_GROUP_ID);
    cr_assert_eq(fetch_one(&client, "g1", "orders", 0, NULL, 0), -1, "nothing was committed");
    cr_assert_eq(group_request(&client, SB_API_DESCRIBE_GROUP, "g1"),
                 SB_WIRE_ERROR_GROUP_ID_NOT_FOUND);
    client_close(&client);
    broker_stop_and_destroy(&broker);
}

/* The shard coordinating each partition of __consumer_offsets (asked for by name), into
 * `shards` (SB_GROUP_OFFSETS_PARTITIONS_DEFAULT entries); asserts Metadata for every topic
 * does not list it. */
static void
offsets_topic_shards(struct client *client, int32_t *shards)
{
    struct sb_wire_string name = sb_wire_string_from_cstr("__consumer_offsets");
    struct sb_metadata_request request = {.topics = &name, .topic_count = 1};
    struct sb_frame frame = ask(client, SB_API_METADATA, encode_metadata_request, &request);
    struct sb_metadata_response response;
    cr_assert_eq(sb_metadata_response_decode(frame.body, frame.body_bytes, &response), 0);
    struct sb_metadata_topic topic;
    cr_assert_eq(sb_metadata_response_next_topic(&response, &topic), 1);
    cr_assert_eq(topic.error_code, 0, "asked for by name, the internal topic is described");
    cr_assert_eq(topic.partition_count, SB_GROUP_OFFSETS_PARTITIONS_DEFAULT);
    struct sb_metadata_partition partition;
    while (sb_metadata_topic_next_partition(&topic, &partition) == 1) {
        shards[partition.partition] = partition.shard;
    }
    struct sb_metadata_request all = {.all_topics = true};
    frame = ask(client, SB_API_METADATA, encode_metadata_request, &all);
    cr_assert_eq(sb_metadata_response_decode(frame.body, frame.body_bytes, &response), 0);
    while (sb_metadata_response_next_topic(&response, &topic) == 1) {
        cr_assert(!sb_wire_string_equals(topic.name, "__consumer_offsets"), "hidden");
    }
}

/* Commits DURABLE_ROUNDS offsets to each of DURABLE_GROUPS groups through every port
 * (round-robin), then kills the broker with SIGKILL: each acknowledged commit is fetched
 * back after the restart, from every port. Both shards coordinate some of the groups. */
Test(groups, every_acknowledged_commit_survives_kill_9, .timeout = 120)
{
    struct broker_process broker;
    broker_start_new(&broker, 2, NULL);
    struct client clients[3];
    for (uint16_t port = 0; port < 3; port++) {
        client_connect(&clients[port], (uint16_t)(broker.port + port));
    }
    cr_assert_eq(client_create_topic(&clients[0], "orders", 2), SB_WIRE_ERROR_NONE);
    int32_t shards[SB_GROUP_OFFSETS_PARTITIONS_DEFAULT];
    offsets_topic_shards(&clients[0], shards);
    bool coordinated[2] = {false, false};
    char group[32];
    for (uint32_t index = 0; index < DURABLE_GROUPS; index++) {
        snprintf(group, sizeof(group), "group-%u", index);
        uint32_t partition = sb_crc32c(0, group, strlen(group)) %
                             SB_GROUP_OFFSETS_PARTITIONS_DEFAULT;
        coordinated[shards[partition]] = true;
        for (uint32_t round = 1; round <= DURABLE_ROUNDS; round++) {
            struct client *client = &clients[(index + round) % 3];
            cr_assert_eq(commit_one(client, group, "orders", (int32_t)(index % 2),
                                    (int64_t)(index * 100 + round), group, -1, NULL), 0);
        }
    }
    cr_assert(coordinated[0] && coordinated[1], "both shards coordinate groups");
    broker_kill(&broker);
    broker_start(&broker);
    char metadata[64];
    for (uint32_t index = 0; index < DURABLE_GROUPS; index++) {
        snprintf(group, sizeof(group), "group-%u", index);
        struct client *client = &clients[index % 3];
        client_close(client);
        client_connect(client, (uint16_t)(broker.port + index % 3));
        cr_assert_eq(fetch_one(client, group, "orders", (int32_t)(index % 2), metadata,
                               sizeof(metadata)),
                     (int64_t)(index * 100 + DURABLE_ROUNDS), "%s kept its last commit", group);
        cr_assert_str_eq(metadata, group);
    }
    for (uint16_t port = 0; port < 3; port++) {
        client_close(&clients[port]);
    }
    broker_stop_and_destroy(&broker);
}

static int
encode_list_topics(struct sb_wire_writer *writer, const void *request)
{
    return sb_list_topics_request_encode(writer, request);
}

/* Topics ListTopics answers for `prefix`, and whether the offsets topic is among them. */
static uint32_t
list_topics(struct client *client, const char *prefix, bool *offsets_listed)
{
    struct sb_list_topics_request request = {.prefix = sb_wire_string_from_cstr(prefix)};
    struct sb_frame frame = ask(client, SB_API_LIST_TOPICS, encode_list_topics, &request);
    struct sb_list_topics_response response;
    cr_assert_eq(sb_list_topics_response_decode(frame.body, frame.body_bytes, &response), 0);
    struct sb_list_topics_entry entry;
    *offsets_listed = false;
    while (sb_list_topics_response_next_topic(&response, &entry) == 1) {
        if (sb_wire_string_equals(entry.name, "__consumer_offsets")) {
            *offsets_listed = true;
            cr_assert_eq(entry.internal, 1);
        }
    }
    return response.topic_count;
}

Test(groups, the_offsets_topic_is_the_brokers_own, .timeout = 60)
{
    struct broker_process broker;
    broker_start_new(&broker, 1, NULL);
    struct client client;
    client_connect(&client, broker.port);
    cr_assert_eq(client_create_topic(&client, "orders", 1), SB_WIRE_ERROR_NONE);
    bool listed;
    cr_assert_eq(list_topics(&client, "", &listed), 1);
    cr_assert(!listed, "not listed unless asked for");
    cr_assert_eq(list_topics(&client, "__", &listed), 1);
    cr_assert(listed);
    uint8_t batch[256];
    uint32_t bytes = test_batch(batch, sizeof(batch), 1, "x");
    struct produce_spec spec = {.topic = "__consumer_offsets", .partition = 0, .batch = batch,
                                .bytes = bytes, .acks = -1, .timeout_ms = 5000};
    cr_assert_eq(client_produce(&client, &spec, NULL), SB_WIRE_ERROR_INVALID_TOPIC_NAME);
    cr_assert_eq(client_delete_topic(&client, "__consumer_offsets"),
                 SB_WIRE_ERROR_INVALID_TOPIC_NAME);
    cr_assert_eq(commit_one(&client, "g1", "orders", 0, 3, NULL, -1, NULL), 0);
    cr_assert_eq(fetch_one(&client, "g1", "orders", 0, NULL, 0), 3, "commits still work");
    client_close(&client);
    broker_stop_and_destroy(&broker);
}

static int
encode_list_groups(struct sb_wire_writer *writer, const void *request)
{
    return sb_list_groups_request_encode(writer, request);
}

/* The groups ListGroups answers (only those in `state`, or all for -1), as "a,b," into
 * `names`; asserts each is empty of members. */
static void
list_groups(struct client *client, int8_t state, char *names, size_t capacity)
{
    struct sb_list_groups_request request = {.states = &state, .state_count = state >= 0};
    struct sb_frame frame = ask(client, SB_API_LIST_GROUPS, encode_list_groups, &request);
    struct sb_list_groups_response response;
    cr_assert_eq(sb_list_groups_response_decode(frame.body, frame.body_bytes, &response), 0);
    cr_assert_eq(response.error_code, 0, "%s", sb_wire_error_name(response.error_code));
    struct sb_list_groups_entry entry;
    names[0] = '\0';
    while (sb_list_groups_response_next_group(&response, &entry) == 1) {
        cr_assert_eq(entry.state, SB_GROUP_STATE_EMPTY);
        cr_assert_eq(entry.member_count, 0);
        size_t used = strlen(names);
        snprintf(names + used, capacity - used, "%.*s,", (int)entry.group_id.length,
                 entry.group_id.chars);
    }
}

/* An empty group's offsets are reset by AlterGroupOffsets and removed by DeleteGroup, for
 * good (a restart reads the tombstones back). */
Test(groups, an_empty_group_is_reset_and_deleted, .timeout = 60)
{
    struct broker_process broker;
    broker_start_new(&broker, 2, NULL);
    struct client client;
    client_connect(&client, broker.port);
    cr_assert_eq(client_create_topic(&client, "orders", 2), SB_WIRE_ERROR_NONE);
    cr_assert_eq(commit_one(&client, "g1", "orders", 0, 10, NULL, -1, NULL), 0);
    cr_assert_eq(commit_one(&client, "g2", "orders", 1, 7, NULL, -1, NULL), 0);
    struct sb_offset_commit_partition reset = {.partition = 0, .offset = 2};
    struct sb_offset_commit_topic topic = {.name = sb_wire_string_from_cstr("orders"),
                                           .partitions = &reset, .partition_count = 1};
    struct sb_alter_group_offsets_request alter = {.group_id = sb_wire_string_from_cstr("g1"),
                                                   .topics = &topic, .topic_count = 1};
    struct sb_frame frame = ask(&client, SB_API_ALTER_GROUP_OFFSETS, encode_alter, &alter);
    struct sb_offset_commit_response response;
    cr_assert_eq(sb_offset_commit_response_decode(frame.body, frame.body_bytes, &response), 0);
    cr_assert_eq(response.error_code, 0);
    cr_assert_eq(fetch_one(&client, "g1", "orders", 0, NULL, 0), 2, "reset");
    char names[64];
    list_groups(&client, -1, names, sizeof(names));
    cr_assert_str_eq(names, "g1,g2,", "every shard's groups, sorted");
    list_groups(&client, SB_GROUP_STATE_STABLE, names, sizeof(names));
    cr_assert_str_eq(names, "", "no stable group");
    cr_assert_eq(group_request(&client, SB_API_DELETE_GROUP, "g1"), SB_WIRE_ERROR_NONE);
    list_groups(&client, SB_GROUP_STATE_EMPTY, names, sizeof(names));
    cr_assert_str_eq(names, "g2,");
    cr_assert_eq(group_request(&client, SB_API_DELETE_GROUP, "g1"),
                 SB_WIRE_ERROR_GROUP_ID_NOT_FOUND);
    cr_assert_eq(fetch_one(&client, "g1", "orders", 0, NULL, 0), -1);
    client_close(&client);
    cr_assert_eq(broker_stop(&broker), 0);
    broker_start(&broker);
    client_connect(&client, broker.port);
    cr_assert_eq(group_request(&client, SB_API_DESCRIBE_GROUP, "g1"),
                 SB_WIRE_ERROR_GROUP_ID_NOT_FOUND, "still deleted after a restart");
    cr_assert_eq(fetch_one(&client, "g2", "orders", 1, NULL, 0), 7, "the other group kept");
    client_close(&client);
    broker_stop_and_destroy(&broker);
}

/* With a tiny offsets_retention_ms, an empty group disappears soon after its last commit. */
Test(groups, an_empty_group_expires, .timeout = 60)
{
    struct broker_process broker;
    broker_start_new(&broker, 1, "--offsets-retention-ms 200");
    struct client client;
    client_connect(&client, broker.port);
    cr_assert_eq(client_create_topic(&client, "orders", 1), SB_WIRE_ERROR_NONE);
    cr_assert_eq(commit_one(&client, "short", "orders", 0, 1, NULL, -1, NULL), 0);
    int16_t error = SB_WIRE_ERROR_NONE;
    for (int poll = 0; poll < EXPIRY_POLLS && error == SB_WIRE_ERROR_NONE; poll++) {
        pause_ms(50);
        error = group_request(&client, SB_API_DESCRIBE_GROUP, "short");
    }
    cr_assert_eq(error, SB_WIRE_ERROR_GROUP_ID_NOT_FOUND, "expired");
    cr_assert_eq(fetch_one(&client, "short", "orders", 0, NULL, 0), -1);
    client_close(&client);
    broker_stop_and_destroy(&broker);
}

/* Membership over GroupHeartbeat (broker/group_member.c behind api_group.c). */

static int
encode_heartbeat(struct sb_wire_writer *writer, const void *request)
{
    return sb_group_heartbeat_request_encode(writer, request);
}

/* What one heartbeat answered. */
struct beat {
    int16_t error;           /* The response's error. */
    int32_t epoch;           /* The member's epoch. */
    int32_t interval_ms;     /* The heartbeat interval it was told. */
    uint32_t topic_id;       /* The assigned topic's id (0: none assigned). */
    uint32_t count;          /* Partitions assigned. */
    int32_t partitions[16];  /* Them. */
};

/* Sends `request` until its coordinator has read its groups back; the answer into *out
 * (valid until the next receive). */
static void
ask_heartbeat(struct client *client, const struct sb_group_heartbeat_request *request,
              struct sb_group_heartbeat_response *out)
{
    out->error_code = SB_WIRE_ERROR_COORDINATOR_LOAD_IN_PROGRESS;
    for (int try = 0; try < LOAD_TRIES &&
                      out->error_code == SB_WIRE_ERROR_COORDINATOR_LOAD_IN_PROGRESS; try++) {
        pause_ms(try == 0 ? 0 : 20);
        struct sb_frame frame = ask(client, SB_API_GROUP_HEARTBEAT, encode_heartbeat, request);
        cr_assert_eq(sb_group_heartbeat_response_decode(frame.body, frame.body_bytes, out), 0);
    }
}

/* A heartbeat of `member` at `epoch` in group "g" (a join subscribes to "orders"), owning
 * `owned` partitions of topic `topic_id`. */
static struct beat
heartbeat(struct client *client, const char *member, int32_t epoch, uint32_t topic_id,
          const int32_t *owned, uint32_t owned_count)
{
    struct sb_wire_string name = sb_wire_string_from_cstr("orders");
    struct sb_group_tpset set = {.topic_id = topic_id, .partitions = owned,
                                 .partition_count = owned_count};
    struct sb_group_heartbeat_request request = {
        .group_id = sb_wire_string_from_cstr("g"), .member_id = sb_wire_string_from_cstr(member),
        .member_epoch = epoch, .rebalance_timeout_ms = -1, .topic_names_unchanged = epoch != 0,
        .topic_names = &name, .topic_name_count = 1, .owned = &set,
        .owned_count = owned_count > 0 ? 1 : 0};
    struct sb_group_heartbeat_response response;
    ask_heartbeat(client, &request, &response);
    struct beat beat = {.error = response.error_code, .epoch = response.member_epoch,
                        .interval_ms = response.heartbeat_interval_ms};
    struct sb_group_tpset assigned;
    while (!response.assignment_unchanged &&
           sb_group_heartbeat_response_next_assignment(&response, &assigned) == 1) {
        beat.topic_id = assigned.topic_id;
        while (beat.count < 16 &&
               sb_group_tpset_next_partition(&assigned, &beat.partitions[beat.count]) == 1) {
            beat.count++;
        }
    }
    return beat;
}

/* Checks DescribeGroup of "g": stable, two members each owning (and targeted with) two
 * partitions, subscribed to "orders" by name. */
static void
describe_two_members(struct client *client)
{
    struct sb_group_id_request request = {.group_id = sb_wire_string_from_cstr("g")};
    struct sb_frame frame = ask(client, SB_API_DESCRIBE_GROUP, encode_group_id, &request);
    struct sb_describe_group_response response;
    cr_assert_eq(sb_describe_group_response_decode(frame.body, frame.body_bytes, &response), 0);
    cr_assert_eq(response.error_code, 0);
    cr_assert_eq(response.state, SB_GROUP_STATE_STABLE);
    cr_assert_eq(response.group_epoch, 2);
    cr_assert_eq(response.assignment_epoch, 2);
    cr_assert(sb_wire_string_equals(response.assignor, "uniform"));
    cr_assert_eq(response.member_count, 2u);
    struct sb_group_member_description member;
    while (sb_describe_group_response_next_member(&response, &member) == 1) {
        cr_assert_eq(member.member_epoch, 2);
        cr_assert_null(member.instance_id.chars);
        struct sb_wire_string name;
        cr_assert_eq(sb_group_member_next_topic_name(&member, &name), 1);
        cr_assert(sb_wire_string_equals(name, "orders"));
        struct sb_group_tpset set;
        cr_assert_eq(sb_group_member_next_assignment(&member, &set), 1);
        cr_assert_eq(set.partition_count, 2u);
        cr_assert_eq(sb_group_member_next_target(&member, &set), 1);
        cr_assert_eq(set.partition_count, 2u);
    }
}

Test(groups, two_members_split_a_topic_and_a_stale_members_commit_is_refused, .timeout = 60)
{
    struct broker_process broker;
    broker_start_new(&broker, 2, NULL);
    struct client client;
    client_connect(&client, broker.port);
    cr_assert_eq(client_create_topic(&client, "orders", 4), SB_WIRE_ERROR_NONE);
    struct beat a = heartbeat(&client, "member-1", 0, 0, NULL, 0);
    cr_assert_eq(a.error, 0, "%s", sb_wire_error_name(a.error));
    cr_assert_eq(a.epoch, 1);
    cr_assert_eq(a.count, 4u);
    struct beat b = heartbeat(&client, "member-2", 0, 0, NULL, 0);
    cr_assert_eq(b.epoch, 2);
    cr_assert_eq(b.count, 0u, "member-1 still owns everything");
    a = heartbeat(&client, "member-1", 1, a.topic_id, a.partitions, a.count);
    cr_assert_eq(a.epoch, 1, "revoke first");
    cr_assert_eq(a.count, 2u);
    a = heartbeat(&client, "member-1", 1, a.topic_id, a.partitions, a.count);
    cr_assert_eq(a.epoch, 2);
    b = heartbeat(&client, "member-2", 2, 0, NULL, 0);
    cr_assert_eq(b.count, 2u);
    bool seen[4] = {false};
    for (uint32_t at = 0; at < 2; at++) {
        cr_assert(!seen[a.partitions[at]] && !seen[b.partitions[at]]);
        seen[a.partitions[at]] = seen[b.partitions[at]] = true;
    }
    describe_two_members(&client);
    cr_assert_eq(commit_one(&client, "g", "orders", a.partitions[0], 5, NULL, 2, NULL), 0);
    cr_assert_eq(commit_one(&client, "g", "orders", a.partitions[0], 6, NULL, 1, NULL),
                 SB_WIRE_ERROR_STALE_MEMBER_EPOCH);
    cr_assert_eq(commit_one(&client, "g", "orders", a.partitions[0], 6, NULL, 7, NULL),
                 SB_WIRE_ERROR_FENCED_MEMBER_EPOCH);
    cr_assert_eq(group_request(&client, SB_API_DELETE_GROUP, "g"),
                 SB_WIRE_ERROR_NON_EMPTY_GROUP);
    cr_assert_eq(heartbeat(&client, "member-1", -1, 0, NULL, 0).epoch, -1);
    cr_assert_eq(commit_one(&client, "g", "orders", a.partitions[0], 6, NULL, 2, NULL),
                 SB_WIRE_ERROR_UNKNOWN_MEMBER_ID, "a member that left");
    cr_assert_eq(fetch_one(&client, "g", "orders", a.partitions[0], NULL, 0), 5);
    client_close(&client);
    broker_stop(&broker);
}

/* group_heartbeat_interval_ms is what members are told, and a member silent longer than
 * group_session_timeout_ms is fenced (its next heartbeat is refused, its partitions go to
 * the others). */
Test(groups, a_member_silent_past_the_session_timeout_is_fenced, .timeout = 60)
{
    struct broker_process broker;
    broker_start_new(&broker, 1, "--group-session-timeout-ms 1500 "
                     "--group-min-session-timeout-ms 1000 --group-heartbeat-interval-ms 500");
    struct client client;
    client_connect(&client, broker.port);
    cr_assert_eq(client_create_topic(&client, "orders", 2), SB_WIRE_ERROR_NONE);
    struct beat a = heartbeat(&client, "member-1", 0, 0, NULL, 0);
    cr_assert_eq(a.error, 0);
    cr_assert_eq(a.interval_ms, 500);
    cr_assert_eq(a.count, 2u);
    pause_ms(1700);
    struct beat b = heartbeat(&client, "member-2", 0, 0, NULL, 0);
    cr_assert_eq(b.count, 2u, "member-1's partitions are free again");
    a = heartbeat(&client, "member-1", a.epoch, a.topic_id, a.partitions, a.count);
    cr_assert_eq(a.error, SB_WIRE_ERROR_UNKNOWN_MEMBER_ID);
    client_close(&client);
    broker_stop_and_destroy(&broker);
}

/* A join of member "m" to group "g" with one field changed by `change`; returns its error. */
static int16_t
join_error(struct client *client, void (*change)(struct sb_group_heartbeat_request *request))
{
    struct sb_group_heartbeat_request request = {
        .group_id = sb_wire_string_from_cstr("g"), .member_id = sb_wire_string_from_cstr("m"),
        .rebalance_timeout_ms = -1, .topic_names_unchanged = true, .owned_unchanged = true};
    change(&request);
    struct sb_group_heartbeat_response response;
    ask_heartbeat(client, &request, &response);
    cr_assert(response.assignment_unchanged, "an error assigns nothing");
    return response.error_code;
}

static void
change_member_id(struct sb_group_heartbeat_request *request)
{
    request->member_id = sb_wire_string_from_cstr("");
}

static void
change_regex(struct sb_group_heartbeat_request *request)
{
    request->topic_regex = sb_wire_string_from_cstr("(");
}

static void
change_assignor(struct sb_group_heartbeat_request *request)
{
    request->server_assignor = sb_wire_string_from_cstr("a-very-long-assignor-name");
}

static void
change_epoch(struct sb_group_heartbeat_request *request)
{
    request->member_epoch = 5;
}

Test(groups, bad_heartbeats_are_refused, .timeout = 60)
{
    struct broker_process broker;
    broker_start_new(&broker, 1, NULL);
    struct client client;
    client_connect(&client, broker.port);
    cr_assert_eq(join_error(&client, change_member_id), SB_WIRE_ERROR_INVALID_REQUEST);
    cr_assert_eq(join_error(&client, change_regex), SB_WIRE_ERROR_INVALID_REGULAR_EXPRESSION);
    cr_assert_eq(join_error(&client, change_assignor), SB_WIRE_ERROR_UNSUPPORTED_ASSIGNOR);
    cr_assert_eq(join_error(&client, change_epoch), SB_WIRE_ERROR_UNKNOWN_MEMBER_ID);
    cr_assert_eq(group_request(&client, SB_API_DESCRIBE_GROUP, "g"),
                 SB_WIRE_ERROR_GROUP_ID_NOT_FOUND, "refused joins leave no group behind");
    client_close(&client);
    broker_stop(&broker);
}

/* A new broker of `cores` shards with a group session timeout of session_ms (heartbeats
 * every 200 ms), a client connected and topic "orders" of 4 partitions. */
static void
started_with_session(struct broker_process *broker, uint32_t cores, uint32_t session_ms,
                     struct client *client)
{
    char flags[160];
    snprintf(flags, sizeof(flags), "--group-session-timeout-ms %u "
             "--group-min-session-timeout-ms 500 --group-heartbeat-interval-ms 200", session_ms);
    broker_start_new(broker, cores, flags);
    client_connect(client, broker->port);
    cr_assert_eq(client_create_topic(client, "orders", 4), SB_WIRE_ERROR_NONE);
}

/* Members of all groups ListGroups answers. */
static int32_t
listed_members(struct client *client)
{
    struct sb_list_groups_request request = {.state_count = 0};
    struct sb_frame frame = ask(client, SB_API_LIST_GROUPS, encode_list_groups, &request);
    struct sb_list_groups_response response;
    cr_assert_eq(sb_list_groups_response_decode(frame.body, frame.body_bytes, &response), 0);
    int32_t members = 0;
    struct sb_list_groups_entry entry;
    while (sb_list_groups_response_next_group(&response, &entry) == 1) {
        members += entry.member_count;
    }
    return members;
}

/* issue 13: the membership timer fires at the members' next deadline: a member that stops
 * heartbeating is fenced within its session timeout and a small bound, with nothing else
 * asking about its group (ListGroups does not fence; the pass for empty groups runs only
 * every minute). The answer carries the configured heartbeat interval. */
Test(groups, a_silent_member_is_fenced_at_its_deadline_by_the_timer, .timeout = 60)
{
    struct broker_process broker;
    struct client client;
    started_with_session(&broker, 2, 1000, &client);
    struct sb_wire_string name = sb_wire_string_from_cstr("orders");
    struct sb_group_heartbeat_request request = {
        .group_id = sb_wire_string_from_cstr("g"), .member_id = sb_wire_string_from_cstr("m"),
        .member_epoch = 0, .rebalance_timeout_ms = -1, .topic_names = &name,
        .topic_name_count = 1, .owned_unchanged = true};
    struct sb_group_heartbeat_response response;
    ask_heartbeat(&client, &request, &response);
    cr_assert_eq(response.error_code, 0, "%s", sb_wire_error_name(response.error_code));
    cr_assert_eq(response.heartbeat_interval_ms, 200);
    cr_assert_eq(listed_members(&client), 1);
    int32_t members = 1;
    for (int poll = 0; poll < 400 && members > 0; poll++) {
        pause_ms(50);
        members = listed_members(&client);
    }
    cr_assert_eq(members, 0, "fenced within 20 s of a 1 s session, without a request");
    client_close(&client);
    broker_stop_and_destroy(&broker);
}

/* issue 13, found by sb-sim: a restarted broker has forgotten its members (membership is
 * kept in memory), but a member of its previous life still owns its partitions until its
 * session ends. So for a session timeout after its groups are read back, the coordinator
 * gives no partition to anyone; then the members get them at their next heartbeat. A first
 * start holds nothing. */
Test(groups, a_restarted_coordinator_gives_no_partition_for_a_session_timeout, .timeout = 90)
{
    struct broker_process broker;
    struct client client;
    started_with_session(&broker, 1, 10000, &client);
    struct beat a = heartbeat(&client, "member-1", 0, 0, NULL, 0);
    cr_assert_eq(a.count, 4u, "a first start holds nothing");
    client_close(&client);
    broker_kill(&broker);
    broker_start(&broker);
    client_connect(&client, broker.port);
    struct beat b = heartbeat(&client, "member-2", 0, 0, NULL, 0);
    cr_assert_eq(b.error, 0, "%s", sb_wire_error_name(b.error));
    cr_assert_eq(b.epoch, 1);
    cr_assert_eq(b.count, 0u, "member-1 may still own them for its session");
    for (int poll = 0; poll < 400 && b.count == 0; poll++) {
        pause_ms(100);
        b = heartbeat(&client, "member-2", 1, 0, NULL, 0);
        cr_assert_eq(b.error, 0, "%s", sb_wire_error_name(b.error));
    }
    cr_assert_eq(b.count, 4u, "given once the session timeout passed");
    client_close(&client);
    broker_stop_and_destroy(&broker);
}
