/*
 * test/sim/sim_world.c - one sb-sim run (sim_world.h): the world, the broker
 * on it, the step loop, the weather (calm and storm periods of seeded fault
 * rates), power cuts with a restart on the same data directory, and the
 * final check that every acks=all record is readable after recovery.
 *
 * A step: one iteration of every broker shard (sb_broker_step, which moves
 * virtual time when nobody had work), the clients' completions, then each
 * client's own activity, the weather, and the power cuts due. Every choice
 * comes from the world's seeded generator, so a seed replays exactly.
 */
#include "test/sim/sim_world.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/broker.h"
#include "core/clock.h"

#define WORLD_PORT 9092
#define WORLD_FNV_OFFSET 0xcbf29ce484222325ull
#define WORLD_FNV_PRIME 0x100000001b3ull
/* Steps the fsync trap waits for an acks=all acknowledgement after its fdatasync failed. */
#define WORLD_TRAP_STEPS_MAX 500u
/* A started broker listens: some client must connect within this much virtual time. */
#define WORLD_CONNECT_LIMIT_NS (1 * SB_NS_PER_S)
/* Steps the final check may take to read every partition back. */
#define WORLD_VERIFY_STEPS_MAX 200000u

static const char *const topic_names[SIM_TOPICS] = {"t0", "t1"};

const char *
sim_world_topic_name(uint32_t topic)
{
    return topic_names[topic];
}

void
sim_world_fold(struct sim_world *world, uint64_t value)
{
    for (uint32_t index = 0; index < 8; index++) {
        world->trace ^= (value >> (index * 8)) & 0xff;
        world->trace *= WORLD_FNV_PRIME;
    }
}

uint64_t
sim_world_random(struct sim_world *world, uint64_t bound)
{
    return bound <= 1 ? 0 : sb_sim_random(world->sim) % bound;
}

uint64_t
sim_world_now_ns(const struct sim_world *world)
{
    return sb_sim_now_ns(world->sim);
}

uint32_t
sim_world_slot(const struct sim_world *world, uint32_t topic, int32_t partition)
{
    if (topic >= SIM_TOPICS || partition < 0 || (uint32_t)partition >= world->partitions[topic]) {
        return UINT32_MAX;
    }
    return (topic == 0 ? 0 : world->partitions[0]) + (uint32_t)partition;
}

/* Small files and budgets: a seed's data directory stays a few MiB. */
static void
world_config(struct sim_world *world)
{
    struct sb_broker_config *config = &world->config;
    sb_broker_config_defaults(config);
    snprintf(config->data_dir, sizeof(config->data_dir), "%s", world->data_dir);
    snprintf(config->listen_host, sizeof(config->listen_host), "127.0.0.1");
    config->listen_port = WORLD_PORT;
    config->cores = world->shards;
    config->log_level = world->log_level;
    config->max_frame_bytes = 1u << 20;
    config->max_connections = 64;
    config->request_memory_bytes = 16ull << 20;
    config->wal_file_bytes = 1ull << 20;
    config->wal_files = 3;
    config->wal_prefill = false;
    config->memtable_bytes = 2ull << 20;
    config->block_cache_bytes = 1ull << 20;
    config->memory_limit_bytes = 1ull << 30;
    config->budgets_set = SB_BUDGET_REQUEST_MEMORY | SB_BUDGET_MEMTABLE | SB_BUDGET_BLOCK_CACHE;
    config->max_message_bytes = 64u << 10;
    config->commit_delay_us = sim_world_random(world, 3) * 100;
    config->topic_defaults.retention_ms = -1;
    config->topic_defaults.segment_bytes = 64u << 10;
    /* Sessions of tens of virtual ms: a run (a few virtual seconds, power cuts every tens
     * of ms when the fsync trap fires) sees many of them end. */
    config->group_min_session_timeout_ms = 1;
    config->group_session_timeout_ms = 8 + (uint32_t)sim_world_random(world, 40);
    config->group_heartbeat_interval_ms = config->group_session_timeout_ms / 4;
}

/* The seed's weather: latencies always, fault rates in storms. */
static void
world_weather(struct sim_world *world)
{
    struct sb_sim_faults *calm = &world->calm;
    memset(calm, 0, sizeof(*calm));
    calm->disk_latency_min_ns = 5 * SB_NS_PER_US;
    calm->disk_latency_max_ns = (20 + sim_world_random(world, 500)) * SB_NS_PER_US;
    calm->net_latency_min_ns = sim_world_random(world, 50) * SB_NS_PER_US;
    calm->net_latency_max_ns = calm->net_latency_min_ns +
                               sim_world_random(world, 2000) * SB_NS_PER_US;
    struct sb_sim_faults *storm = &world->storm;
    *storm = *calm;
    uint32_t *rates[] = {&storm->write_error_ppm, &storm->write_nospace_ppm,
                         &storm->write_short_ppm, &storm->read_error_ppm,
                         &storm->fsync_error_ppm, &storm->connection_reset_ppm};
    for (uint32_t index = 0; index < sizeof(rates) / sizeof(rates[0]); index++) {
        if (sim_world_random(world, 2) == 0) {
            *rates[index] = (uint32_t)(100 + sim_world_random(world, 20000));
        }
    }
    world->loss_mode = (enum sb_sim_power_loss_mode)sim_world_random(world, 3);
}

static void
world_schedule(struct sim_world *world)
{
    world->weather_step = 200 + sim_world_random(world, 800);
    world->crash_count = (uint32_t)sim_world_random(world, 4);
    for (uint32_t index = 0; index < world->crash_count; index++) {
        world->crash_steps[index] = world->steps_max / 10 +
                                    sim_world_random(world, world->steps_max * 9 / 10 + 1);
    }
    world->trap_step = 1 + sim_world_random(world, world->steps_max / 4 + 1);
}

static int
world_clients(struct sim_world *world)
{
    world->client_count = 4 + (uint32_t)sim_world_random(world, SIM_CLIENTS_BASE_MAX - 3);
    for (uint32_t index = 0; index < world->client_count; index++) {
        uint8_t role = index == 0 ? SIM_ROLE_ADMIN
                     : index == 1 ? SIM_ROLE_CONSUMER : SIM_ROLE_PRODUCER;
        int result = sim_client_init(&world->clients[index], world, index, role);
        if (result != 0) {
            return result;
        }
        struct sim_client *client = &world->clients[index];
        if (role == SIM_ROLE_PRODUCER) {
            /* The first producer uses acks=all, so every seed checks durability. */
            client->acks = index == 2 || sim_world_random(world, 3) != 0 ? -1 : 1;
            client->idempotent = sim_world_random(world, 2) == 0;
            client->depth = 1 + (uint32_t)sim_world_random(world, 4);
        }
    }
    return sim_members_init(world);
}

static int
world_join(struct sim_world *world)
{
    struct sb_io_config config = {.backend = SB_IO_BACKEND_SIM, .sim = world->sim};
    return sb_io_create(&config, &world->io);
}

/* Starts the broker on the data directory (recovery after a cut), faults off meanwhile: a
 * start that fails under injected faults proves nothing. */
static int
world_start_broker(struct sim_world *world)
{
    sb_sim_set_faults(world->sim, &world->calm);
    int result = sb_broker_start(&world->config, world->sim, &world->broker);
    sb_sim_set_faults(world->sim, world->storming ? &world->storm : &world->calm);
    if (result != 0) {
        world->broker = NULL;
        sim_model_fail(&world->model, "the broker did not start on its data directory "
                       "(recovery): error %d", result);
    }
    world->started_ns = sim_world_now_ns(world);
    world->connected = false;
    sim_members_broker_started(world);
    for (uint32_t index = 0; index < world->client_count && result == 0; index++) {
        sim_client_reconnect_later(&world->clients[index]);
    }
    sim_world_fold(world, 0x5747a27ull);
    return result;
}

int
sim_world_create(struct sim_world *world, uint64_t seed, uint64_t steps_max)
{
    bool keep = world->keep_data;
    enum sb_log_level log_level = world->log_level;
    memset(world, 0, sizeof(*world));
    world->keep_data = keep;
    world->log_level = log_level;
    world->seed = seed;
    world->steps_max = steps_max;
    world->trace = WORLD_FNV_OFFSET;
    struct sb_sim_config sim_config = {.seed = seed};
    int result = sb_sim_create(&sim_config, &world->sim);
    if (result != 0) {
        return result;
    }
    const char *tmp = getenv("TMPDIR");
    snprintf(world->data_dir, sizeof(world->data_dir), "%s/sb-sim-XXXXXX",
             tmp != NULL && strlen(tmp) < 40 ? tmp : "/tmp");
    if (mkdtemp(world->data_dir) == NULL) {
        return -errno;
    }
    world->shards = 1 + (uint32_t)sim_world_random(world, 2);
    world->partitions[0] = 1 + (uint32_t)sim_world_random(world, 4);
    world->partitions[1] = 1 + (uint32_t)sim_world_random(world, 2);
    world->slot_count = world->partitions[0] + world->partitions[1];
    world_config(world);
    world_weather(world);
    world_schedule(world);
    sb_sim_set_faults(world->sim, &world->calm);
    result = sim_model_init(&world->model, world->slot_count);
    result = result != 0 ? result : world_join(world);
    result = result != 0 ? result : world_clients(world);
    return result != 0 ? result : world_start_broker(world);
}

/* A power cut: unsynced writes are dropped (or torn, or garbled), every connection and op is
 * lost, the broker is abandoned as it stood, then started again on the same directory. */
static void
world_power_cut(struct sim_world *world, const char *why)
{
    sim_world_fold(world, 0xc0ffeeull + world->step);
    world->crashes++;
    if (sb_sim_power_loss(world->sim, world->loss_mode) != 0) {
        sim_model_fail(&world->model, "power loss could not rewrite the files (%s)", why);
        return;
    }
    int result = sb_broker_end(world->broker);
    world->broker = NULL;
    if (result != 0) {
        sim_model_fail(&world->model, "the broker had failed before the cut: error %d", result);
        return;
    }
    sb_io_destroy(world->io);
    world->io = NULL;
    if (world_join(world) != 0) {
        sim_model_fail(&world->model, "cannot join the world again");
        return;
    }
    for (uint32_t index = 0; index < world->client_count; index++) {
        sim_client_crash(&world->clients[index]);
    }
    sim_model_crash(&world->model);
    memset(world->topic_ready, 0, sizeof(world->topic_ready));
    world_start_broker(world);
}

/* Calm and storm take turns; a storm's rates come from the seed. */
static void
world_weather_step(struct sim_world *world)
{
    if (world->step != world->weather_step) {
        return;
    }
    world->storming = !world->storming;
    sb_sim_set_faults(world->sim, world->storming ? &world->storm : &world->calm);
    world->weather_step = world->step + 200 + sim_world_random(world, 800);
    sim_world_fold(world, world->storming ? 0x570a3ull : 0xca13ull);
}

/* The fsync trap: one fdatasync fails; the next acks=all acknowledgement is followed at once
 * by a power cut, so an acknowledgement that the failed fdatasync should have held back is
 * lost (unsynced writes are dropped) and the final check finds it missing. Once it has cut
 * (or no acknowledgement came within WORLD_TRAP_STEPS_MAX steps) the next one is set. */
static void
world_trap_step(struct sim_world *world)
{
    if (world->trap_fired && (world->model.acked_all > world->trap_acked ||
                              world->step - world->trap_fired_step > WORLD_TRAP_STEPS_MAX)) {
        bool cut = world->model.acked_all > world->trap_acked;
        world->trap_fired = false;
        world->trap_step = world->step + 100 + sim_world_random(world, 400);
        if (cut) {
            world_power_cut(world, "acks=all acknowledgement after a failed fdatasync");
        }
        return;
    }
    if (world->step == world->trap_step) {
        struct sb_sim_fault_once fault = {.kind = SB_IO_OP_FDATASYNC,
                                          .nth = 1 + (uint32_t)sim_world_random(world, 3),
                                          .error = -EIO};
        world->trap_armed = sb_sim_fault_once(world->sim, &fault) == 0;
    }
    if (world->trap_armed && sb_sim_faults_once_armed(world->sim) == 0) {
        world->trap_armed = false;
        world->trap_fired = true;
        world->trap_fired_step = world->step;
        world->trap_acked = world->model.acked_all;
    }
}

/* Time must not jump past the clients' own deadlines (reconnects, paced requests). */
static void
world_set_alarm(struct sim_world *world)
{
    uint64_t now_ns = sim_world_now_ns(world);
    uint64_t earliest_ns = UINT64_MAX;
    for (uint32_t index = 0; index < world->client_count; index++) {
        uint64_t deadline_ns = sim_client_deadline(&world->clients[index]);
        if (deadline_ns > now_ns && deadline_ns < earliest_ns) {
            earliest_ns = deadline_ns;
        }
    }
    if (earliest_ns != UINT64_MAX) {
        sb_sim_alarm(world->sim, earliest_ns);
    }
}

/* A start that waits for a timer before it listens, or clients idle while time jumps to a
 * far broker timer, shows as a life whose first connection comes late. */
static void
world_check_connected(struct sim_world *world)
{
    if (!world->connected && world->broker != NULL &&
        sim_world_now_ns(world) - world->started_ns > WORLD_CONNECT_LIMIT_NS) {
        sim_model_fail(&world->model, "no client connected within %llu virtual ms of the "
                       "broker's start", (unsigned long long)(WORLD_CONNECT_LIMIT_NS /
                                                              SB_NS_PER_MS));
    }
}

static void
world_step(struct sim_world *world)
{
    world_set_alarm(world);
    if (!sb_broker_step(world->broker)) {
        sim_model_fail(&world->model, "the broker ended by itself (a fatal error)");
        return;
    }
    int ran = sb_io_run(world->io, 0);
    if (ran < 0) {
        sim_model_fail(&world->model, "the clients' io failed: %d", ran);
        return;
    }
    for (uint32_t index = 0; index < world->client_count; index++) {
        sim_client_drive(&world->clients[index]);
        sim_client_check_liveness(&world->clients[index]);
        world->connected = world->connected || world->clients[index].conn.state == SIM_CONN_OPEN;
    }
    sim_members_check(world);
    world_check_connected(world);
    world->step++;
}

/* Every partition read back (in this life) up to its last acks=all acknowledgement. */
static bool
world_read_back(const struct sim_world *world)
{
    const struct sim_client *consumer = &world->clients[1];
    for (uint32_t slot = 0; slot < world->slot_count; slot++) {
        if (consumer->next_offsets[slot] < world->model.slots[slot].durable_end) {
            return false;
        }
    }
    return world->topic_ready[0] && world->topic_ready[1];
}

/* With members staying from now on, the groups must settle: every subscribed partition
 * owned by one live member. */
static void
world_groups_settle(struct sim_world *world)
{
    uint32_t steps = 0;
    for (; steps < WORLD_VERIFY_STEPS_MAX && !world->model.violated &&
           !sim_members_settled(world);
         steps++) {
        world_step(world);
    }
    if (!world->model.violated && !sim_members_settled(world)) {
        sim_model_fail(&world->model, "with members stable, the group assignments did not "
                       "come to cover every subscribed partition once");
    }
}

/* Calm, a last power cut, then every acknowledged record must be read back in order, and
 * the groups must settle. */
static void
world_final_check(struct sim_world *world)
{
    world->storming = false;
    world->trap_armed = false;
    world->trap_fired = false;
    world->settling = true;
    world_power_cut(world, "final");
    uint32_t steps = 0;
    for (; steps < WORLD_VERIFY_STEPS_MAX && !world->model.violated && !world_read_back(world);
         steps++) {
        world_step(world);
    }
    for (uint32_t slot = 0; slot < world->slot_count && !world->model.violated; slot++) {
        const struct sim_client *consumer = &world->clients[1];
        if (consumer->next_offsets[slot] < world->model.slots[slot].durable_end) {
            sim_model_fail(&world->model, "after recovery, slot %u reads only up to offset %lld "
                           "(high watermark %lld) but acks=all acknowledged up to %lld", slot,
                           (long long)consumer->next_offsets[slot],
                           (long long)consumer->high_watermarks[slot],
                           (long long)world->model.slots[slot].durable_end - 1);
        }
    }
    if (!world->model.violated) {
        world_groups_settle(world);
    }
}

/* A clean stop must finish: requests answered, stores shut down, every shard ended. */
static void
world_clean_stop(struct sim_world *world)
{
    sb_broker_stop(world->broker);
    uint32_t steps = 0;
    while (steps < WORLD_VERIFY_STEPS_MAX && sb_broker_step(world->broker)) {
        sb_io_run(world->io, 0);
        steps++;
    }
    if (steps == WORLD_VERIFY_STEPS_MAX) {
        sim_model_fail(&world->model, "a clean stop did not finish");
        return;
    }
    int result = sb_broker_end(world->broker);
    world->broker = NULL;
    if (result != 0) {
        sim_model_fail(&world->model, "a clean stop ended with error %d", result);
    }
}

bool
sim_world_run(struct sim_world *world)
{
    /* Bounded by steps_max (each step does a bounded amount of work). */
    while (world->step < world->steps_max && !world->model.violated) {
        world_step(world);
        world_weather_step(world);
        for (uint32_t index = 0; index < world->crash_count && !world->model.violated; index++) {
            if (world->crash_steps[index] == world->step) {
                world_power_cut(world, "scheduled");
            }
        }
        if (!world->model.violated) {
            world_trap_step(world);
        }
    }
    if (!world->model.violated) {
        world_final_check(world);
    }
    if (!world->model.violated) {
        world_clean_stop(world);
    }
    return !world->model.violated;
}

uint64_t
sim_world_trace(const struct sim_world *world)
{
    uint64_t trace = world->trace;
    uint64_t sim_trace = sb_sim_trace_hash(world->sim);
    for (uint32_t index = 0; index < 8; index++) {
        trace ^= (sim_trace >> (index * 8)) & 0xff;
        trace *= WORLD_FNV_PRIME;
    }
    return trace;
}

static int
world_remove_entry(const char *path, const struct stat *status, int flag, struct FTW *walk)
{
    (void)status;
    (void)flag;
    (void)walk;
    return remove(path);
}

void
sim_world_destroy(struct sim_world *world)
{
    /* Whatever is still in flight ends as at a power cut: the ios may then be freed. */
    if (world->sim != NULL && (world->broker != NULL || world->io != NULL)) {
        sb_sim_power_loss(world->sim, SB_SIM_LOSE_UNSYNCED);
    }
    if (world->broker != NULL) {
        sb_broker_end(world->broker);
    }
    for (uint32_t index = 0; index < world->client_count; index++) {
        sim_conn_deinit(&world->clients[index].conn);
    }
    if (world->io != NULL) {
        sb_io_destroy(world->io);
    }
    sim_model_deinit(&world->model);
    if (world->sim != NULL) {
        sb_sim_destroy(world->sim);
    }
    if (world->data_dir[0] != '\0' && !world->keep_data) {
        nftw(world->data_dir, world_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
}
