/*
 * test/client/test_admin_groups.c - consumer group administration (sb_admin_group_*)
 * against a real broker: groups made by resetting offsets list and describe with their
 * state, committed offsets, end offsets and lag; a member that joins over GroupHeartbeat
 * (sent raw: the consumer side lives elsewhere) shows up with its assignment and blocks a
 * reset and a delete until it leaves; every reset mode lands where it should; a deleted
 * group is gone; bad arguments, unknown groups and topics, and a broker that is down each
 * give their error. A scripted broker (a socket this test answers) shows that a loading or
 * moved coordinator is asked again until the timeout, and that a mangled answer is
 * SB_ERR_CORRUPT.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proto/api_group.h"
#include "proto/api_meta.h"
#include "test/client/client_fixture.h"

TestSuite(admin_groups, .fini = cluster_cleanup);

/* The row of topic/partition in a description (asserts it is there). */
static const struct sb_admin_group_partition *
row_of(const struct sb_admin_group_description *description, const char *topic,
       int32_t partition)
{
    for (uint32_t index = 0; index < description->partition_count; index++) {
        const struct sb_admin_group_partition *row = &description->partitions[index];
        if (row->topic != NULL && strcmp(row->topic, topic) == 0 &&
            row->partition == partition) {
            return row;
        }
    }
    cr_assert_fail("no row %s/%d", topic, partition);
    return NULL;
}

static void
assert_row(const struct sb_admin_group_description *description, int32_t partition,
           int64_t committed, int64_t end, int64_t lag)
{
    const struct sb_admin_group_partition *row = row_of(description, "orders", partition);
    cr_assert_eq(row->committed_offset, committed, "partition %d", partition);
    cr_assert_eq(row->end_offset, end, "partition %d", partition);
    cr_assert_eq(row->lag, lag, "partition %d", partition);
}

/* The state and member count of group in a fresh list; false when it is not listed. */
static bool
listed(struct sb_client *client, const char *group, int *state, int32_t *members)
{
    struct sb_admin_group_list *list = NULL;
    cr_assert_eq(sb_admin_group_list(client, TEST_WAIT_MS, &list), 0);
    bool found = false;
    for (uint32_t index = 0; index < list->group_count; index++) {
        if (index > 0) {
            cr_assert_lt(strcmp(list->groups[index - 1].group_id, list->groups[index].group_id),
                         0, "sorted");
        }
        if (strcmp(list->groups[index].group_id, group) == 0) {
            *state = list->groups[index].state;
            *members = list->groups[index].member_count;
            found = true;
        }
    }
    sb_admin_group_list_free(list);
    return found;
}

Test(admin_groups, list_and_describe_show_offsets_lag_and_members, .timeout = 90)
{
    struct cluster cluster;
    cluster_start(&cluster, 2, NULL, NULL);
    cluster_topic(&cluster, "orders", 3);
    cluster_produce(cluster.client, "orders", 0, 0, 10);
    cluster_produce(cluster.client, "orders", 1, 0, 4);
    struct sb_admin_group_reset *reset = NULL;
    cr_assert_eq(sb_admin_group_reset_offsets(cluster.client, "billing", "orders",
                                              SB_ADMIN_RESET_OFFSET, 3, TEST_WAIT_MS, &reset),
                 0, "%s", sb_client_error_detail());
    cr_assert_eq(reset->partition_count, 3u);
    cr_assert_eq(reset->offsets[0], 3);
    cr_assert_eq(reset->offsets[1], 3);
    cr_assert_eq(reset->offsets[2], 0, "clamped to the end of an empty partition");
    sb_admin_group_reset_free(reset);
    cr_assert_eq(sb_admin_group_reset_offsets(cluster.client, "audit", "orders",
                                              SB_ADMIN_RESET_LATEST, 0, -1, NULL), 0);
    int state = -1;
    int32_t members = -1;
    cr_assert(listed(cluster.client, "billing", &state, &members));
    cr_assert_eq(state, SB_ADMIN_GROUP_EMPTY);
    cr_assert_eq(members, 0);
    cr_assert(listed(cluster.client, "audit", &state, &members));

    struct sb_admin_group_description *description = NULL;
    cr_assert_eq(sb_admin_group_describe(cluster.client, "billing", TEST_WAIT_MS, &description),
                 0);
    cr_assert_str_eq(description->group_id, "billing");
    cr_assert_eq(description->state, SB_ADMIN_GROUP_EMPTY);
    cr_assert_str_eq(sb_admin_group_state_name(description->state), "Empty");
    cr_assert_eq(description->member_count, 0u);
    cr_assert_eq(description->partition_count, 3u);
    assert_row(description, 0, 3, 10, 7);
    assert_row(description, 1, 3, 4, 1);
    assert_row(description, 2, 0, 0, 0);
    cr_assert_null(description->partitions[0].member_id);
    cr_assert_geq(description->partitions[0].commit_time_ms, test_now_ms() - 600000);
    sb_admin_group_description_free(description);

    struct client raw;
    client_connect(&raw, cluster.broker.port);
    cr_assert_eq(cluster_member_heartbeat(&raw, "billing", "member-a", "orders", 0), 0);
    cr_assert_eq(sb_admin_group_describe(cluster.client, "billing", -1, &description), 0);
    cr_assert_neq(description->state, SB_ADMIN_GROUP_EMPTY);
    cr_assert_eq(description->member_count, 1u);
    const struct sb_admin_group_member *member = &description->members[0];
    cr_assert_str_eq(member->member_id, "member-a");
    cr_assert_null(member->instance_id);
    cr_assert_eq(member->topic_count, 1u);
    cr_assert_str_eq(member->topics[0], "orders");
    cr_assert_eq(member->assigned_count, 3u, "a lone member owns every partition");
    cr_assert_str_eq(member->assigned[0].topic, "orders");
    cr_assert_eq(member->target_count, 3u);
    cr_assert_str_eq(description->assignor, "uniform");
    cr_assert_eq(description->partition_count, 3u, "owned and committed rows merged");
    cr_assert_str_eq(row_of(description, "orders", 1)->member_id, "member-a");
    assert_row(description, 1, 3, 4, 1);
    sb_admin_group_description_free(description);
    cr_assert(listed(cluster.client, "billing", &state, &members));
    cr_assert_eq(members, 1);
    cr_assert_eq(cluster_member_heartbeat(&raw, "billing", "member-a", "orders", -1), 0);
    client_close(&raw);
    cluster_stop(&cluster);
}

Test(admin_groups, reset_is_refused_while_a_member_is_active, .timeout = 90)
{
    struct cluster cluster;
    cluster_start(&cluster, 1, NULL, NULL);
    cluster_topic(&cluster, "orders", 2);
    cluster_produce(cluster.client, "orders", 0, 0, 5);
    struct client raw;
    client_connect(&raw, cluster.broker.port);
    cr_assert_eq(cluster_member_heartbeat(&raw, "live", "member-a", "orders", 0), 0);
    cr_assert_eq(sb_admin_group_reset_offsets(cluster.client, "live", "orders",
                                              SB_ADMIN_RESET_EARLIEST, 0, TEST_WAIT_MS, NULL),
                 SB_ERR_NON_EMPTY_GROUP);
    cr_assert_str_eq(sb_client_error_detail(), "stop the consumers of group \"live\" first");
    cr_assert_str_eq(sb_client_strerror(SB_ERR_NON_EMPTY_GROUP), "the group has active members");
    cr_assert_eq(sb_admin_group_delete(cluster.client, "live", TEST_WAIT_MS),
                 SB_ERR_NON_EMPTY_GROUP);
    cr_assert_eq(cluster_member_heartbeat(&raw, "live", "member-a", "orders", -1), 0, "leaves");
    cr_assert_eq(sb_admin_group_reset_offsets(cluster.client, "live", "orders",
                                              SB_ADMIN_RESET_LATEST, 0, TEST_WAIT_MS, NULL), 0);
    struct sb_admin_group_description *description = NULL;
    cr_assert_eq(sb_admin_group_describe(cluster.client, "live", TEST_WAIT_MS, &description), 0);
    cr_assert_eq(description->state, SB_ADMIN_GROUP_EMPTY);
    cr_assert_eq(description->member_count, 0u);
    assert_row(description, 0, 5, 5, 0);
    sb_admin_group_description_free(description);
    client_close(&raw);
    cluster_stop(&cluster);
}

/* Resets group "g" on "orders" as mode/value says and returns partition 0's new offset, as
 * the reset reported it and as describe then shows it (asserted equal). */
static int64_t
reset_to(struct sb_client *client, int mode, int64_t value)
{
    struct sb_admin_group_reset *reset = NULL;
    cr_assert_eq(sb_admin_group_reset_offsets(client, "g", "orders", mode, value, TEST_WAIT_MS,
                                              &reset), 0, "mode %d: %s", mode,
                 sb_client_error_detail());
    int64_t offset = reset->offsets[0];
    sb_admin_group_reset_free(reset);
    struct sb_admin_group_description *description = NULL;
    cr_assert_eq(sb_admin_group_describe(client, "g", TEST_WAIT_MS, &description), 0);
    cr_assert_eq(row_of(description, "orders", 0)->committed_offset, offset);
    sb_admin_group_description_free(description);
    return offset;
}

Test(admin_groups, every_reset_mode_moves_the_committed_offsets, .timeout = 90)
{
    struct cluster cluster;
    cluster_start(&cluster, 2, NULL, NULL);
    cluster_topic(&cluster, "orders", 1);
    cluster_produce(cluster.client, "orders", 0, 0, 6);
    test_sleep_ms(20);
    int64_t middle_ms = test_now_ms();
    test_sleep_ms(20);
    cluster_produce(cluster.client, "orders", 0, 6, 4);
    cr_assert_eq(reset_to(cluster.client, SB_ADMIN_RESET_LATEST, 0), 10);
    cr_assert_eq(reset_to(cluster.client, SB_ADMIN_RESET_EARLIEST, 0), 0);
    cr_assert_eq(reset_to(cluster.client, SB_ADMIN_RESET_OFFSET, 7), 7);
    cr_assert_eq(reset_to(cluster.client, SB_ADMIN_RESET_OFFSET, 1000), 10, "clamped");
    cr_assert_eq(reset_to(cluster.client, SB_ADMIN_RESET_TIME, middle_ms), 6);
    cr_assert_eq(reset_to(cluster.client, SB_ADMIN_RESET_TIME, 0), 0);
    cr_assert_eq(reset_to(cluster.client, SB_ADMIN_RESET_TIME, test_now_ms() + 3600000), 10,
                 "no record that late: the end");
    cluster_stop(&cluster);
}

Test(admin_groups, delete_removes_the_group, .timeout = 60)
{
    struct cluster cluster;
    cluster_start(&cluster, 2, NULL, NULL);
    cluster_topic(&cluster, "orders", 2);
    cr_assert_eq(sb_admin_group_reset_offsets(cluster.client, "old", "orders",
                                              SB_ADMIN_RESET_EARLIEST, 0, TEST_WAIT_MS, NULL), 0);
    cr_assert_eq(sb_admin_group_delete(cluster.client, "old", TEST_WAIT_MS), 0);
    struct sb_admin_group_description *description = NULL;
    cr_assert_eq(sb_admin_group_describe(cluster.client, "old", TEST_WAIT_MS, &description),
                 SB_ERR_GROUP_NOT_FOUND);
    cr_assert_str_eq(sb_client_error_detail(), "no group \"old\"");
    cr_assert_eq(sb_admin_group_delete(cluster.client, "old", TEST_WAIT_MS),
                 SB_ERR_GROUP_NOT_FOUND);
    int state = -1;
    int32_t members = -1;
    cr_assert_not(listed(cluster.client, "old", &state, &members));
    cluster_stop(&cluster);
}

Test(admin_groups, bad_arguments_unknown_names_and_a_down_broker_give_errors, .timeout = 60)
{
    struct cluster cluster;
    cluster_start(&cluster, 1, NULL, NULL);
    cluster_topic(&cluster, "orders", 1);
    struct sb_client *client = cluster.client;
    struct sb_admin_group_description *description = NULL;
    struct sb_admin_group_list *list = NULL;
    cr_assert_eq(sb_admin_group_describe(client, "two words", -1, &description),
                 SB_ERR_INVALID_GROUP_ID);
    cr_assert_neq(strstr(sb_client_error_detail(), "printable"), NULL);
    cr_assert_eq(sb_admin_group_delete(client, "", -1), SB_ERR_INVALID_GROUP_ID);
    cr_assert_eq(sb_admin_group_describe(client, NULL, -1, &description), -EINVAL);
    cr_assert_eq(sb_admin_group_describe(client, "g", -1, NULL), -EINVAL);
    cr_assert_eq(sb_admin_group_list(client, -1, NULL), -EINVAL);
    cr_assert_eq(sb_admin_group_list(NULL, -1, &list), -EINVAL);
    cr_assert_eq(sb_admin_group_reset_offsets(client, "g", NULL, 0, 0, -1, NULL), -EINVAL);
    cr_assert_eq(sb_admin_group_reset_offsets(client, "g", "orders", 9, 0, -1, NULL), -EINVAL);
    cr_assert_eq(sb_admin_group_reset_offsets(client, "g", "orders", SB_ADMIN_RESET_OFFSET, -5,
                                              -1, NULL), -EINVAL);
    cr_assert_eq(sb_admin_group_reset_offsets(client, "g", "missing", SB_ADMIN_RESET_LATEST, 0,
                                              TEST_WAIT_MS, NULL), SB_ERR_UNKNOWN_TOPIC);
    cr_assert_eq(sb_admin_group_describe(client, "nobody", TEST_WAIT_MS, &description),
                 SB_ERR_GROUP_NOT_FOUND);
    cr_assert_str_eq(sb_client_strerror(SB_ERR_GROUP_NOT_FOUND), "no such group");
    cr_assert_str_eq(sb_admin_group_state_name(42), "Unknown");
    cr_assert_eq(broker_stop(&cluster.broker), 0);
    cr_assert_eq(sb_admin_group_list(client, TEST_WAIT_MS, &list), -ECONNREFUSED);
    cr_assert_eq(sb_admin_group_describe(client, "g", TEST_WAIT_MS, &description),
                 -ECONNREFUSED);
    cr_assert_eq(sb_admin_group_delete(client, "g", TEST_WAIT_MS), -ECONNREFUSED);
    cr_assert_eq(sb_admin_group_reset_offsets(client, "g", "orders", SB_ADMIN_RESET_LATEST, 0,
                                              TEST_WAIT_MS, NULL), -ECONNREFUSED);
    cluster_stop(&cluster);
}

/* Scripted answers: the n-th DescribeGroup gets script[n] (the last one repeats); a wire
 * error code, or SCRIPT_MANGLED for a body no decoder accepts. */
#define SCRIPT_MANGLED (-1)

/* One sb_admin_group_describe call, run on its own thread while the test answers. */
struct scripted_call {
    struct sb_client *client; /* The client, pointed at the scripted broker. */
    int timeout_ms;           /* The call's timeout. */
    int result;               /* What it returned. */
    char detail[256];         /* Its error detail (a per-thread value). */
    bool done;                /* Set (atomically) when it returned. */
};

static void *
scripted_describe(void *opaque)
{
    struct scripted_call *call = opaque;
    struct sb_admin_group_description *description = NULL;
    call->result = sb_admin_group_describe(call->client, "g", call->timeout_ms, &description);
    snprintf(call->detail, sizeof(call->detail), "%s", sb_client_error_detail());
    sb_admin_group_description_free(description);
    __atomic_store_n(&call->done, true, __ATOMIC_RELEASE);
    return NULL;
}

static int
encode_versions(struct sb_wire_writer *writer, const void *response)
{
    return sb_api_versions_response_encode(writer, response);
}

static int
encode_describe(struct sb_wire_writer *writer, const void *response)
{
    return sb_describe_group_response_encode(writer, response);
}

static int
encode_mangled(struct sb_wire_writer *writer, const void *response)
{
    (void)response;
    sb_wire_write_u8(writer, 0xFF);
    return writer->error;
}

/* Answers one request frame on peer: ApiVersions truthfully, DescribeGroup from script. */
static void
scripted_answer(struct client *peer, const struct sb_frame *frame, int16_t code)
{
    struct sb_frame_header header = {.api_key = frame->header.api_key,
                                     .api_version = frame->header.api_version,
                                     .correlation_id = frame->header.correlation_id,
                                     .flags = SB_FRAME_FLAG_RESPONSE};
    uint8_t out[4096];
    uint32_t bytes = 0;
    if (frame->header.api_key == SB_API_API_VERSIONS) {
        struct sb_api_versions_response versions = {
            .broker_version = sb_wire_string_from_cstr("0.1.0"), .frame_bytes_max = 1u << 20,
            .batch_bytes_max = 1u << 20};
        versions.api_count = sb_api_version_ranges(&versions.apis);
        bytes = frame_encode(out, sizeof(out), &header, encode_versions, &versions);
    } else {
        cr_assert_eq(frame->header.api_key, SB_API_DESCRIBE_GROUP);
        struct sb_describe_group_response describe = {
            .error_code = code, .group_id = sb_wire_string_from_cstr(""), .group_epoch = -1,
            .assignment_epoch = -1, .assignor = sb_wire_string_from_cstr("")};
        bytes = code == SCRIPT_MANGLED
                    ? frame_encode(out, sizeof(out), &header, encode_mangled, NULL)
                    : frame_encode(out, sizeof(out), &header, encode_describe, &describe);
    }
    client_send_raw(peer, out, bytes);
}

/* Runs one describe against a broker that answers as script says; returns how many
 * DescribeGroup requests it answered, the call's outcome in *call. */
static uint32_t
scripted_run(const int16_t *script, uint32_t script_length, int timeout_ms,
             struct scripted_call *call)
{
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = {.sin_family = AF_INET,
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t length = sizeof(address);
    cr_assert_eq(bind(listener, (struct sockaddr *)&address, sizeof(address)), 0);
    cr_assert_eq(listen(listener, 4), 0);
    cr_assert_eq(getsockname(listener, (struct sockaddr *)&address, &length), 0);
    char bootstrap[32];
    snprintf(bootstrap, sizeof(bootstrap), "127.0.0.1:%u", ntohs(address.sin_port));
    const char *settings[] = {"bootstrap.servers", bootstrap, "retry.backoff.ms", "20",
                              "connection.health.interval.ms", "600000", NULL};
    struct cluster none = {.client = NULL};
    snprintf(none.bootstrap, sizeof(none.bootstrap), "%s", bootstrap);
    *call = (struct scripted_call){.client = cluster_client(&none, settings),
                                   .timeout_ms = timeout_ms};
    pthread_t thread;
    cr_assert_eq(pthread_create(&thread, NULL, scripted_describe, call), 0);
    struct pollfd ready = {.fd = listener, .events = POLLIN};
    cr_assert_eq(poll(&ready, 1, TEST_WAIT_MS), 1, "the client connects");
    struct client peer = {.fd = accept(listener, NULL, NULL), .capacity = 1u << 16,
                          .timeout_ms = TEST_WAIT_MS};
    peer.buffer = malloc(peer.capacity);
    uint32_t answered = 0;
    int64_t deadline_ms = test_now_ms() + 4 * TEST_WAIT_MS;
    while (!__atomic_load_n(&call->done, __ATOMIC_ACQUIRE) && test_now_ms() < deadline_ms) {
        struct sb_frame frame;
        int received = client_receive(&peer, &frame, 50);
        if (received == 0) {
            bool describe = frame.header.api_key == SB_API_DESCRIBE_GROUP;
            scripted_answer(&peer, &frame, script[answered < script_length ? answered
                                                                            : script_length - 1]);
            answered += describe ? 1 : 0;
        }
        cr_assert(received == 0 || received == -ETIMEDOUT, "%d", received);
    }
    cr_assert_eq(pthread_join(thread, NULL), 0);
    sb_client_close(call->client);
    client_close(&peer);
    close(listener);
    return answered;
}

Test(admin_groups, a_loading_or_moved_coordinator_is_asked_again)
{
    static const int16_t script[] = {SB_WIRE_ERROR_COORDINATOR_LOAD_IN_PROGRESS,
                                     SB_WIRE_ERROR_NOT_COORDINATOR,
                                     SB_WIRE_ERROR_COORDINATOR_LOAD_IN_PROGRESS,
                                     SB_WIRE_ERROR_GROUP_ID_NOT_FOUND};
    struct scripted_call call;
    cr_assert_eq(scripted_run(script, 4, TEST_WAIT_MS, &call), 4);
    cr_assert_eq(call.result, SB_ERR_GROUP_NOT_FOUND, "%s", sb_client_strerror(call.result));
}

Test(admin_groups, a_coordinator_still_loading_at_the_timeout_is_the_error)
{
    static const int16_t script[] = {SB_WIRE_ERROR_COORDINATOR_LOAD_IN_PROGRESS};
    struct scripted_call call;
    cr_assert_geq(scripted_run(script, 1, 500, &call), 2, "asked more than once");
    cr_assert_eq(call.result, SB_ERR_COORDINATOR_LOADING);
    cr_assert_neq(strstr(call.detail, "not ready before the timeout"), NULL, "%s", call.detail);
}

Test(admin_groups, a_mangled_answer_is_corrupt)
{
    static const int16_t script[] = {SCRIPT_MANGLED};
    struct scripted_call call;
    cr_assert_eq(scripted_run(script, 1, TEST_WAIT_MS, &call), 1);
    cr_assert_eq(call.result, SB_ERR_CORRUPT);
}
