/*
 * test/sim/sim_members.c - consumer group members in sb-sim (sim_world.h): one or two groups
 * of the seed's members, some static (an instance id), speaking GroupHeartbeat, OffsetCommit
 * and OffsetFetch. Each member follows the protocol: it takes what an answer assigns, drops
 * what an answer leaves out before its next heartbeat (revoke before assign), commits only
 * what it owns, and believes itself a member until the send time of its last answered
 * heartbeat plus the session timeout less 1 ms (the coordinator's clock granularity; then
 * it drops everything and joins again). At seeded
 * times it commits, crashes (stops without leaving, comes back later, a static one with the
 * same instance id) or leaves (epoch -1, or -2 when static).
 *
 * Invariants:
 *   - at every step, no partition is owned by two live members of a group (live: believing
 *     its session alive, not told it is fenced);
 *   - a commit under an identity the coordinator fenced (a heartbeat answered
 *     UNKNOWN_MEMBER_ID or FENCED_MEMBER_EPOCH, or a crashed member's, once its session
 *     ended) is refused;
 *   - after every broker start, OffsetFetch shows every partition's last acknowledged
 *     commit (or one whose outcome was unknown) before the group commits again;
 *   - every assignment names only subscribed partitions; in the final phase, with members
 *     stable, every subscribed partition is owned by exactly one live member.
 */
#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "proto/api_group.h"
#include "test/sim/sim_world.h"

/* Margin after a crashed member's session ends before its zombie commit (the broker may
 * still read its last heartbeat a little after it was sent). */
#define MEMBER_ZOMBIE_MARGIN_NS (20 * SB_NS_PER_MS)
/* Seeded events (commit, crash, leave) come every 2 to 40 virtual ms per member. */
#define MEMBER_EVENT_MIN_MS 2u
#define MEMBER_EVENT_SPREAD_MS 38u
/* A request refused for a passing reason is tried again this much later. */
#define MEMBER_RETRY_NS (5 * SB_NS_PER_MS)

static const char *const group_assignors[] = {NULL, "range", "uniform"};

static struct sim_group_model *
member_group(struct sim_client *client)
{
    return &client->world->groups[client->member.group];
}

static uint64_t
member_session_ns(const struct sim_world *world)
{
    return (uint64_t)world->config.group_session_timeout_ms * SB_NS_PER_MS;
}

static bool
member_live(const struct sim_client *client, uint64_t now_ns)
{
    return client->member.state == SIM_MEMBER_ACTIVE && now_ns < client->member.live_until_ns;
}

static void
member_group_name(const struct sim_client *client, char *out, size_t capacity)
{
    snprintf(out, capacity, "g%u", client->member.group);
}

static void
member_next_event(struct sim_client *client)
{
    struct sim_world *world = client->world;
    client->member.next_event_ns = sim_world_now_ns(world) +
        (MEMBER_EVENT_MIN_MS + sim_world_random(world, MEMBER_EVENT_SPREAD_MS)) * SB_NS_PER_MS;
}

int
sim_members_init(struct sim_world *world)
{
    world->group_count = 1 + (uint32_t)sim_world_random(world, SIM_GROUPS);
    for (uint32_t group = 0; group < world->group_count; group++) {
        struct sim_group_model *model = &world->groups[group];
        uint64_t topics = group == 0 ? 3 : 1 + sim_world_random(world, 3);
        model->subscribed[0] = (topics & 1) != 0;
        model->subscribed[1] = (topics & 2) != 0;
        model->by_regex = sim_world_random(world, 2) == 0;
        model->assignor = group_assignors[sim_world_random(world, 3)];
        for (uint32_t slot = 0; slot < SIM_SLOTS_MAX; slot++) {
            model->acked[slot] = -1;
            for (uint32_t at = 0; at < SIM_LOST_COMMITS; at++) {
                model->lost[slot][at] = -1;
            }
        }
    }
    world->member_count = 2 + (uint32_t)sim_world_random(world, SIM_MEMBERS_MAX - 1);
    for (uint32_t index = 0; index < world->member_count; index++) {
        struct sim_client *client = &world->clients[world->client_count];
        int result = sim_client_init(client, world, world->client_count, SIM_ROLE_MEMBER);
        if (result != 0) {
            return result;
        }
        world->client_count++;
        client->member.group = index % world->group_count;
        client->member.is_static = sim_world_random(world, 2) == 0;
        client->member.restart_ns = (1 + sim_world_random(world, 50)) * SB_NS_PER_MS;
        for (uint32_t slot = 0; slot < SIM_SLOTS_MAX; slot++) {
            client->member.commit_values[slot] = -1;
        }
    }
    return 0;
}

/* Stops running: owns nothing, no connection, back at a seeded time. */
static void
member_go_down(struct sim_client *client)
{
    struct sim_world *world = client->world;
    struct sim_member *member = &client->member;
    member->state = SIM_MEMBER_DOWN;
    member->epoch = 0;
    member->busy = false;
    memset(member->owned, 0, sizeof(member->owned));
    uint64_t session_ms = world->config.group_session_timeout_ms;
    member->restart_ns = sim_world_now_ns(world) +
                         (10 + sim_world_random(world, 2 * session_ms)) * SB_NS_PER_MS;
    sim_conn_close(&client->conn, 0);
    sim_world_fold(world, 0xd0e11ull + client->index);
}

/* Crashes: no leave; a crashed member that had an epoch is a zombie once its session ends. */
static void
member_crash(struct sim_client *client)
{
    struct sim_member *member = &client->member;
    if (member->state == SIM_MEMBER_ACTIVE && !member->zombie) {
        member->zombie = true;
        memcpy(member->zombie_id, member->member_id, sizeof(member->zombie_id));
        member->zombie_epoch = member->epoch;
        member->zombie_after_ns = member->last_heartbeat_ns +
                                  member_session_ns(client->world) + MEMBER_ZOMBIE_MARGIN_NS;
    }
    member_go_down(client);
}

/* Joins anew under a member id never used before (after a restart or being fenced), so
 * a fenced identity stays fenced even when the broker's epochs start again. */
static void
member_rejoin(struct sim_client *client)
{
    struct sim_member *member = &client->member;
    member->incarnation++;
    snprintf(member->member_id, sizeof(member->member_id), "g%u-c%u-%u", member->group,
             client->index, member->incarnation);
    memset(member->owned, 0, sizeof(member->owned));
    member->state = SIM_MEMBER_JOINING;
    member->epoch = 0;
    member->next_heartbeat_ns = sim_world_now_ns(client->world);
}

static void
member_restart(struct sim_client *client)
{
    member_rejoin(client);
    member_next_event(client);
    client->reconnect_ns = sim_world_now_ns(client->world);
}

/* The partitions it owns as topic-partition sets (one per topic). */
static uint32_t
member_owned_sets(struct sim_client *client, struct sb_group_tpset *sets, int32_t *numbers)
{
    struct sim_world *world = client->world;
    uint32_t count = 0;
    uint32_t used = 0;
    for (uint32_t topic = 0; topic < SIM_TOPICS; topic++) {
        struct sb_group_tpset *set = &sets[count];
        *set = (struct sb_group_tpset){.topic_id = world->topic_ids[topic],
                                       .partitions = &numbers[used]};
        for (uint32_t partition = 0; partition < world->partitions[topic]; partition++) {
            if (client->member.owned[sim_world_slot(world, topic, (int32_t)partition)]) {
                numbers[used++] = (int32_t)partition;
                set->partition_count++;
            }
        }
        count += set->partition_count > 0;
    }
    return count;
}

/* A heartbeat at `epoch` (0 joins with the subscription, -1/-2 leave). */
static void
member_heartbeat(struct sim_client *client, int32_t epoch)
{
    struct sim_world *world = client->world;
    struct sim_member *member = &client->member;
    struct sim_group_model *model = member_group(client);
    char group[8];
    char instance[24];
    member_group_name(client, group, sizeof(group));
    snprintf(instance, sizeof(instance), "g%u-i%u", member->group, client->index);
    struct sb_wire_string names[SIM_TOPICS];
    uint32_t name_count = 0;
    for (uint32_t topic = 0; topic < SIM_TOPICS; topic++) {
        if (model->subscribed[topic]) {
            names[name_count++] = sb_wire_string_from_cstr(sim_world_topic_name(topic));
        }
    }
    const char *regex = model->subscribed[0] && model->subscribed[1] ? "t[01]"
                        : model->subscribed[0]                      ? "t0" : "t1";
    bool join = epoch == SB_GROUP_EPOCH_JOIN;
    struct sb_group_tpset sets[SIM_TOPICS];
    int32_t numbers[SIM_SLOTS_MAX];
    struct sb_group_heartbeat_request request = {
        .group_id = sb_wire_string_from_cstr(group),
        .member_id = sb_wire_string_from_cstr(member->member_id), .member_epoch = epoch,
        .instance_id = member->is_static ? sb_wire_string_from_cstr(instance)
                                         : (struct sb_wire_string){NULL, 0},
        .rebalance_timeout_ms = join ? (int32_t)world->config.group_session_timeout_ms : -1,
        .topic_names_unchanged = !join || model->by_regex, .topic_names = names,
        .topic_name_count = name_count,
        .topic_regex = join && model->by_regex ? sb_wire_string_from_cstr(regex)
                                               : (struct sb_wire_string){NULL, 0},
        .server_assignor = join && model->assignor != NULL
                               ? sb_wire_string_from_cstr(model->assignor)
                               : (struct sb_wire_string){NULL, 0},
        .owned = sets, .owned_count = member_owned_sets(client, sets, numbers)};
    struct sb_wire_writer writer;
    member->busy = sim_client_begin(client, SB_API_GROUP_HEARTBEAT, &writer) &&
                   sim_client_finish(client, &writer,
                                     sb_group_heartbeat_request_encode(&writer, &request),
                                     (uint64_t)(uint32_t)epoch);
    if (member->busy) {
        member->last_heartbeat_ns = sim_world_now_ns(world);
    }
}

/* Commits a new offset for some of what it owns, or, as a zombie, under its fenced
 * identity (which must be refused). */
static void
member_commit(struct sim_client *client, bool zombie)
{
    struct sim_world *world = client->world;
    struct sim_member *member = &client->member;
    char group[8];
    member_group_name(client, group, sizeof(group));
    struct sb_offset_commit_partition partitions[SIM_SLOTS_MAX];
    struct sb_offset_commit_topic topics[SIM_TOPICS];
    uint32_t topic_count = 0;
    for (uint32_t slot = 0; slot < SIM_SLOTS_MAX; slot++) {
        member->commit_values[slot] = -1;
    }
    uint32_t used = 0;
    for (uint32_t topic = 0; topic < SIM_TOPICS; topic++) {
        struct sb_offset_commit_topic *entry = &topics[topic_count];
        *entry = (struct sb_offset_commit_topic){
            .name = sb_wire_string_from_cstr(sim_world_topic_name(topic)),
            .partitions = &partitions[used]};
        for (uint32_t partition = 0; partition < world->partitions[topic]; partition++) {
            uint32_t slot = sim_world_slot(world, topic, (int32_t)partition);
            if (zombie || (member->owned[slot] && sim_world_random(world, 4) != 0)) {
                member->commit_values[slot] = world->next_commit_value++;
                partitions[used++] = (struct sb_offset_commit_partition){
                    .partition = (int32_t)partition, .offset = member->commit_values[slot]};
                entry->partition_count++;
            }
        }
        topic_count += entry->partition_count > 0;
    }
    if (topic_count == 0) {
        return;
    }
    struct sb_offset_commit_request request = {
        .group_id = sb_wire_string_from_cstr(group),
        .member_id = sb_wire_string_from_cstr(zombie ? member->zombie_id : member->member_id),
        .member_epoch = zombie ? member->zombie_epoch : member->epoch, .topics = topics,
        .topic_count = topic_count};
    struct sb_wire_writer writer;
    member->busy = sim_client_begin(client, SB_API_OFFSET_COMMIT, &writer) &&
                   sim_client_finish(client, &writer,
                                     sb_offset_commit_request_encode(&writer, &request), zombie);
    member->zombie_in_flight = zombie;
}

/* After a broker start: the group's committed offsets of every partition. */
static void
member_fetch(struct sim_client *client)
{
    struct sim_world *world = client->world;
    char group[8];
    member_group_name(client, group, sizeof(group));
    int32_t numbers[SIM_SLOTS_MAX];
    struct sb_offset_fetch_topic topics[SIM_TOPICS];
    uint32_t used = 0;
    for (uint32_t topic = 0; topic < SIM_TOPICS; topic++) {
        topics[topic] = (struct sb_offset_fetch_topic){
            .name = sb_wire_string_from_cstr(sim_world_topic_name(topic)),
            .partitions = &numbers[used], .partition_count = world->partitions[topic]};
        for (uint32_t partition = 0; partition < world->partitions[topic]; partition++) {
            numbers[used++] = (int32_t)partition;
        }
    }
    struct sb_offset_fetch_request request = {.group_id = sb_wire_string_from_cstr(group),
                                              .topics = topics, .topic_count = SIM_TOPICS};
    struct sb_wire_writer writer;
    client->member.busy =
        sim_client_begin(client, SB_API_OFFSET_FETCH, &writer) &&
        sim_client_finish(client, &writer, sb_offset_fetch_request_encode(&writer, &request), 0);
    client->member.fetching = client->member.busy;
    member_group(client)->check_in_flight = client->member.busy;
}

/* A seeded event: commit (when it owns something), crash, leave, or nothing. */
static void
member_event(struct sim_client *client)
{
    struct sim_world *world = client->world;
    struct sim_member *member = &client->member;
    member_next_event(client);
    uint64_t choice = sim_world_random(world, 40);
    if (choice < 30 && member->state == SIM_MEMBER_ACTIVE &&
        !member_group(client)->check_pending) {
        member_commit(client, false);
    } else if (choice == 30) {
        member_crash(client);
    } else if (choice == 31 && member->state == SIM_MEMBER_ACTIVE) {
        memset(member->owned, 0, sizeof(member->owned)); /* Let go first. */
        member->state = SIM_MEMBER_LEAVING;
    }
}

void
sim_member_drive(struct sim_client *client)
{
    struct sim_world *world = client->world;
    struct sim_member *member = &client->member;
    uint64_t now_ns = sim_world_now_ns(world);
    if (member->state == SIM_MEMBER_DOWN) {
        if (now_ns >= member->restart_ns && world->broker != NULL) {
            member_restart(client);
        }
        return;
    }
    if (member->state == SIM_MEMBER_ACTIVE && now_ns >= member->live_until_ns) {
        member_rejoin(client); /* Its session ended: it lets go and joins again. */
    }
    if (member->busy || !sim_conn_can_send(&client->conn, 1) || world->topic_ids[0] == 0 ||
        world->topic_ids[1] == 0 || !world->topic_ready[0] || !world->topic_ready[1]) {
        return;
    }
    if (member->zombie && now_ns >= member->zombie_after_ns) {
        member_commit(client, true);
    } else if (member_group(client)->check_pending) {
        if (!member_group(client)->check_in_flight) {
            member_fetch(client);
        }
    } else if (!world->settling && now_ns >= member->next_event_ns) {
        member_event(client);
    }
    if (member->busy || member->state == SIM_MEMBER_DOWN) {
        return;
    }
    if (member->state == SIM_MEMBER_LEAVING) {
        member_heartbeat(client, member->is_static ? SB_GROUP_EPOCH_STATIC_LEAVE
                                                   : SB_GROUP_EPOCH_LEAVE);
    } else if (now_ns >= member->next_heartbeat_ns) {
        member_heartbeat(client, member->state == SIM_MEMBER_JOINING ? 0 : member->epoch);
    }
}

/* The slot of an assigned (topic id, partition), or UINT32_MAX after failing the run. */
static uint32_t
member_assigned_slot(struct sim_client *client, uint32_t topic_id, int32_t partition)
{
    struct sim_world *world = client->world;
    for (uint32_t topic = 0; topic < SIM_TOPICS; topic++) {
        uint32_t slot = sim_world_slot(world, topic, partition);
        if (world->topic_ids[topic] == topic_id && slot != UINT32_MAX &&
            member_group(client)->subscribed[topic]) {
            return slot;
        }
    }
    sim_client_fail(client, "GroupHeartbeat assigned a partition it does not subscribe to", 0);
    return UINT32_MAX;
}

/* An accepted heartbeat: the assignment replaces what it owns (dropping is revoking). */
static void
member_accepted(struct sim_client *client, const struct sim_pending *pending,
                struct sb_group_heartbeat_response *response)
{
    struct sim_world *world = client->world;
    struct sim_member *member = &client->member;
    member->epoch = response->member_epoch;
    member->state = SIM_MEMBER_ACTIVE;
    /* The coordinator keeps heartbeat times in whole ms: it may fence up to 1 ms before a
     * full session after the heartbeat arrived. */
    member->live_until_ns = pending->sent_ns + member_session_ns(world) - SB_NS_PER_MS;
    uint64_t interval_ms = response->heartbeat_interval_ms > 0
                               ? (uint64_t)response->heartbeat_interval_ms : 1;
    member->next_heartbeat_ns = sim_world_now_ns(world) + interval_ms * SB_NS_PER_MS;
    if (member->epoch <= 0) {
        sim_client_fail(client, "GroupHeartbeat accepted a member without giving an epoch", 0);
        return;
    }
    bool owned[SIM_SLOTS_MAX] = {false};
    struct sb_group_tpset set;
    while (!response->assignment_unchanged &&
           sb_group_heartbeat_response_next_assignment(response, &set) == 1) {
        int32_t partition;
        while (sb_group_tpset_next_partition(&set, &partition) == 1) {
            uint32_t slot = member_assigned_slot(client, set.topic_id, partition);
            if (slot == UINT32_MAX) {
                return;
            }
            owned[slot] = true;
        }
    }
    if (!response->assignment_unchanged) {
        memcpy(member->owned, owned, sizeof(owned));
    }
}

static void
member_heartbeat_answered(struct sim_client *client, const struct sim_pending *pending,
                          const struct sb_frame *frame)
{
    struct sim_member *member = &client->member;
    struct sb_group_heartbeat_response response;
    if (sb_group_heartbeat_response_decode(frame->body, frame->body_bytes, &response) != 0) {
        sim_client_fail(client, "a GroupHeartbeat response that does not decode", 0);
        return;
    }
    int16_t error = response.error_code;
    int32_t sent_epoch = (int32_t)(uint32_t)pending->tag;
    if (member->state == SIM_MEMBER_LEAVING) {
        member_go_down(client); /* Left, or will be fenced: either way it is gone. */
    } else if (error == SB_WIRE_ERROR_NONE) {
        member_accepted(client, pending, &response);
    } else if (error == SB_WIRE_ERROR_UNKNOWN_MEMBER_ID ||
               error == SB_WIRE_ERROR_FENCED_MEMBER_EPOCH) {
        if (sent_epoch > 0 && !member->zombie) {
            member->zombie = true;
            memcpy(member->zombie_id, member->member_id, sizeof(member->zombie_id));
            member->zombie_epoch = sent_epoch;
            member->zombie_after_ns = sim_world_now_ns(client->world);
        }
        member_rejoin(client);
    } else if (error == SB_WIRE_ERROR_UNRELEASED_INSTANCE_ID ||
               error == SB_WIRE_ERROR_COORDINATOR_LOAD_IN_PROGRESS ||
               sim_client_error_tolerated(error)) {
        member->next_heartbeat_ns = sim_world_now_ns(client->world) + MEMBER_RETRY_NS;
    } else {
        sim_client_fail(client, "GroupHeartbeat refused a valid heartbeat", error);
    }
}

/* A commit value whose outcome is unknown: it may be what the broker holds. */
static void
member_lost_value(struct sim_group_model *model, uint32_t slot, int64_t value)
{
    model->lost[slot][model->lost_next[slot]] = value;
    model->lost_next[slot] = (model->lost_next[slot] + 1) % SIM_LOST_COMMITS;
}

/* One partition's commit result. */
static void
member_commit_result(struct sim_client *client, bool zombie, uint32_t slot, int16_t error)
{
    struct sim_member *member = &client->member;
    struct sim_group_model *model = member_group(client);
    int64_t value = member->commit_values[slot];
    member->commit_values[slot] = -1;
    bool refused = error == SB_WIRE_ERROR_STALE_MEMBER_EPOCH ||
                   error == SB_WIRE_ERROR_FENCED_MEMBER_EPOCH ||
                   error == SB_WIRE_ERROR_UNKNOWN_MEMBER_ID;
    bool passing = sim_client_error_tolerated(error) ||
                   error == SB_WIRE_ERROR_COORDINATOR_LOAD_IN_PROGRESS;
    if (zombie && error == SB_WIRE_ERROR_NONE) {
        char what[160];
        snprintf(what, sizeof(what), "a commit of fenced member %s at epoch %d was accepted",
                 member->zombie_id, member->zombie_epoch);
        sim_client_fail(client, what, error);
    } else if (zombie) {
        member->zombie = member->zombie && !refused; /* Refused, as it must be. */
    } else if (error == SB_WIRE_ERROR_NONE) {
        model->acked[slot] = value;
        client->world->commits_acked++;
    } else if (passing) {
        member_lost_value(model, slot, value);
    } else if (!refused) {
        sim_client_fail(client, "OffsetCommit refused a commit of an owned partition", error);
    }
}

static void
member_commit_answered(struct sim_client *client, const struct sim_pending *pending,
                       const struct sb_frame *frame)
{
    struct sim_world *world = client->world;
    bool zombie = pending->tag != 0;
    struct sb_offset_commit_response response;
    if (sb_offset_commit_response_decode(frame->body, frame->body_bytes, &response) != 0) {
        sim_client_fail(client, "an OffsetCommit response that does not decode", 0);
        return;
    }
    struct sb_offset_commit_topic_result topic;
    while (response.error_code == SB_WIRE_ERROR_NONE &&
           sb_offset_commit_response_next_topic(&response, &topic) == 1) {
        uint32_t index = sim_client_topic_index(topic.name);
        struct sb_offset_commit_partition_result partition;
        while (index != UINT32_MAX &&
               sb_offset_commit_topic_result_next_partition(&topic, &partition) == 1) {
            uint32_t slot = sim_world_slot(world, index, partition.partition);
            if (slot == UINT32_MAX || client->member.commit_values[slot] < 0) {
                sim_client_fail(client, "OffsetCommit answered a partition not committed", 0);
                return;
            }
            member_commit_result(client, zombie, slot, partition.error_code);
        }
    }
    for (uint32_t slot = 0; slot < SIM_SLOTS_MAX; slot++) {
        if (client->member.commit_values[slot] >= 0) {
            member_commit_result(client, zombie, slot, response.error_code);
        }
    }
}

/* Each partition's committed offset must be its last acknowledged commit, or one whose
 * outcome was unknown (or none, when nothing was acknowledged). */
static void
member_fetch_check(struct sim_client *client, uint32_t slot, int64_t offset)
{
    const struct sim_group_model *model = member_group(client);
    sim_world_fold(client->world, (uint64_t)offset);
    bool possible = offset == model->acked[slot];
    for (uint32_t at = 0; at < SIM_LOST_COMMITS && !possible; at++) {
        possible = offset >= 0 && offset == model->lost[slot][at];
    }
    if (!possible) {
        char what[200];
        snprintf(what, sizeof(what), "after a restart, group g%u's committed offset of slot %u "
                 "is %lld, but its last acknowledged commit was %lld", client->member.group,
                 slot, (long long)offset, (long long)model->acked[slot]);
        sim_client_fail(client, what, 0);
    }
}

static void
member_fetch_answered(struct sim_client *client, const struct sb_frame *frame)
{
    struct sim_world *world = client->world;
    struct sb_offset_fetch_response response;
    if (sb_offset_fetch_response_decode(frame->body, frame->body_bytes, &response) != 0) {
        sim_client_fail(client, "an OffsetFetch response that does not decode", 0);
        return;
    }
    if (response.error_code != SB_WIRE_ERROR_NONE) {
        if (!sim_client_error_tolerated(response.error_code) &&
            response.error_code != SB_WIRE_ERROR_COORDINATOR_LOAD_IN_PROGRESS) {
            sim_client_fail(client, "OffsetFetch failed", response.error_code);
        }
        return; /* Asked again. */
    }
    uint32_t checked = 0;
    struct sb_group_offset_topic topic;
    while (sb_offset_fetch_response_next_topic(&response, &topic) == 1) {
        uint32_t index = sim_client_topic_index(topic.name);
        struct sb_group_offset offset;
        while (index != UINT32_MAX && sb_offset_fetch_topic_next_offset(&topic, &offset) == 1) {
            uint32_t slot = sim_world_slot(world, index, offset.partition);
            if (slot == UINT32_MAX || offset.error_code != SB_WIRE_ERROR_NONE) {
                sim_client_fail(client, "OffsetFetch of a partition failed", offset.error_code);
                return;
            }
            member_fetch_check(client, slot, offset.offset);
            checked++;
        }
    }
    if (checked != world->slot_count) {
        sim_client_fail(client, "OffsetFetch did not answer every partition asked for", 0);
        return;
    }
    member_group(client)->check_pending = false;
}

/* Its request in flight is over (answered or lost). */
static void
member_request_over(struct sim_client *client)
{
    struct sim_member *member = &client->member;
    member->busy = false;
    if (member->fetching) {
        member->fetching = false;
        member_group(client)->check_in_flight = false;
    }
}

void
sim_member_answered(struct sim_client *client, const struct sim_pending *pending,
                    const struct sb_frame *frame)
{
    member_request_over(client);
    if (frame->header.error_code != SB_WIRE_ERROR_NONE) {
        if (!sim_client_error_tolerated(frame->header.error_code)) {
            sim_client_fail(client, "a group request was refused", frame->header.error_code);
        }
        if (pending->api_key == SB_API_OFFSET_COMMIT) {
            sim_member_disconnected(client); /* Unknown outcome, as on a lost connection. */
        }
        return;
    }
    if (pending->api_key == SB_API_GROUP_HEARTBEAT) {
        member_heartbeat_answered(client, pending, frame);
    } else if (pending->api_key == SB_API_OFFSET_COMMIT) {
        member_commit_answered(client, pending, frame);
    } else if (pending->api_key == SB_API_OFFSET_FETCH) {
        member_fetch_answered(client, frame);
    }
}

void
sim_member_disconnected(struct sim_client *client)
{
    struct sim_member *member = &client->member;
    member_request_over(client);
    for (uint32_t slot = 0; slot < SIM_SLOTS_MAX; slot++) {
        if (member->commit_values[slot] >= 0 && !member->zombie_in_flight) {
            member_lost_value(member_group(client), slot, member->commit_values[slot]);
        }
        member->commit_values[slot] = -1;
    }
    if (member->state == SIM_MEMBER_LEAVING) {
        member_go_down(client);
    }
}

uint64_t
sim_member_deadline(const struct sim_client *client)
{
    const struct sim_member *member = &client->member;
    if (member->state == SIM_MEMBER_DOWN) {
        return member->restart_ns;
    }
    uint64_t deadline_ns = member->next_heartbeat_ns;
    if (!client->world->settling && member->next_event_ns < deadline_ns) {
        deadline_ns = member->next_event_ns;
    }
    if (member->state == SIM_MEMBER_ACTIVE && member->live_until_ns < deadline_ns) {
        deadline_ns = member->live_until_ns;
    }
    if (member->zombie && member->zombie_after_ns < deadline_ns) {
        deadline_ns = member->zombie_after_ns;
    }
    return deadline_ns;
}

void
sim_members_broker_started(struct sim_world *world)
{
    for (uint32_t group = 0; group < world->group_count; group++) {
        world->groups[group].check_pending = true;
    }
}

void
sim_members_check(struct sim_world *world)
{
    uint64_t now_ns = sim_world_now_ns(world);
    for (uint32_t slot = 0; slot < world->slot_count && !world->model.violated; slot++) {
        int owners[SIM_GROUPS] = {-1, -1};
        for (uint32_t index = 0; index < world->client_count; index++) {
            const struct sim_client *client = &world->clients[index];
            if (client->role != SIM_ROLE_MEMBER || !member_live(client, now_ns) ||
                !client->member.owned[slot]) {
                continue;
            }
            int *owner = &owners[client->member.group];
            if (*owner >= 0) {
                sim_model_fail(&world->model, "group g%u: slot %u is owned by two live members "
                               "at once: %s (epoch %d) and %s (epoch %d)", client->member.group,
                               slot, world->clients[*owner].member.member_id,
                               world->clients[*owner].member.epoch, client->member.member_id,
                               client->member.epoch);
                return;
            }
            *owner = (int)index;
        }
    }
}

/* Whether every subscribed slot of every group is owned by one live member, every member
 * is active and no offsets check is pending. */
bool
sim_members_settled(struct sim_world *world)
{
    uint64_t now_ns = sim_world_now_ns(world);
    uint32_t owned[SIM_GROUPS][SIM_SLOTS_MAX] = {{0}};
    for (uint32_t index = 0; index < world->client_count; index++) {
        const struct sim_client *client = &world->clients[index];
        if (client->role != SIM_ROLE_MEMBER) {
            continue;
        }
        if (!member_live(client, now_ns) || client->member.zombie) {
            return false;
        }
        for (uint32_t slot = 0; slot < world->slot_count; slot++) {
            owned[client->member.group][slot] += client->member.owned[slot];
        }
    }
    for (uint32_t group = 0; group < world->group_count; group++) {
        if (world->groups[group].check_pending) {
            return false;
        }
        for (uint32_t slot = 0; slot < world->slot_count; slot++) {
            uint32_t topic = slot < world->partitions[0] ? 0 : 1;
            if (owned[group][slot] != (world->groups[group].subscribed[topic] ? 1u : 0u)) {
                return false;
            }
        }
    }
    return true;
}
