/*
 * test/sim/sim_world.h - one sb-sim run: the simulated world (core/sim.h), the
 * broker started on it (broker/broker.h), the simulated clients, the seeded
 * fault schedule and the model of what the broker must hold (sim_model.h).
 *
 *   sim_world.c    set-up, the step loop, faults, power cuts and restarts,
 *                  the final recovery check, the trace
 *   sim_clients.c  the clients: admin, producers (acks=all / acks=1,
 *                  idempotent or not, pipelined) and a consumer, each on a
 *                  sim_conn, checking every response they get
 *   sim_members.c  consumer group members (GroupHeartbeat, OffsetCommit,
 *                  OffsetFetch) and the group invariants
 *   sb_sim.c       the command line
 */
#ifndef SB_TEST_SIM_WORLD_H
#define SB_TEST_SIM_WORLD_H

#include <stdbool.h>
#include <stdint.h>

#include "broker/config.h"
#include "core/sim.h"
#include "test/sim/sim_conn.h"
#include "test/sim/sim_model.h"

#define SIM_CLIENTS_MAX 11u
#define SIM_TOPICS 2u
/* Consumer groups and their members (clients after the first SIM_CLIENTS_BASE_MAX). */
#define SIM_GROUPS 2u
#define SIM_MEMBERS_MAX 5u
#define SIM_CLIENTS_BASE_MAX (SIM_CLIENTS_MAX - SIM_MEMBERS_MAX)
/* Commit values of one partition whose outcome is unknown, remembered for the check. */
#define SIM_LOST_COMMITS 8u

enum sim_role {
    SIM_ROLE_ADMIN = 0,
    SIM_ROLE_PRODUCER,
    SIM_ROLE_CONSUMER,
    SIM_ROLE_MEMBER,
};

/* A group member's life (sim_members.c). */
enum sim_member_state {
    SIM_MEMBER_DOWN = 0, /* Not running (crashed or left); comes back at restart_ns. */
    SIM_MEMBER_JOINING,  /* Heartbeats with epoch 0 until it has an epoch. */
    SIM_MEMBER_ACTIVE,   /* Has an epoch; heartbeats, owns, commits. */
    SIM_MEMBER_LEAVING,  /* Sends its leave heartbeat, then goes down. */
};

/* One group member: what it believes, and what it must see refused. */
struct sim_member {
    uint32_t group;                /* Index of its group. */
    bool is_static;                /* Has an instance id ("g<G>-i<client>"). */
    uint8_t state;                 /* enum sim_member_state. */
    uint32_t incarnation;          /* Restarts so far (part of its member id). */
    char member_id[32];            /* "g<G>-c<client>-<incarnation>". */
    int32_t epoch;                 /* Its member epoch (0 before the first answer). */
    bool owned[SIM_SLOTS_MAX];     /* The partitions it believes it owns, by slot. */
    uint64_t live_until_ns;        /* It believes its session alive until then: the send time
                                      of its last answered heartbeat + the session timeout. */
    uint64_t last_heartbeat_ns;    /* Send time of its last heartbeat (answered or not). */
    uint64_t next_heartbeat_ns;    /* When to heartbeat next. */
    uint64_t next_event_ns;        /* When it next crashes, leaves or commits (seeded). */
    uint64_t restart_ns;           /* DOWN: when it comes back. */
    bool busy;                     /* A request is in flight (one at a time). */
    bool zombie;                   /* zombie_id / zombie_epoch must see a commit refused. */
    char zombie_id[32];            /* A fenced identity of its own. */
    int32_t zombie_epoch;          /* Its epoch then. */
    uint64_t zombie_after_ns;      /* Send its commit from then on (the broker fenced it). */
    int64_t commit_values[SIM_SLOTS_MAX]; /* The commit in flight: value per slot, -1 none. */
    bool zombie_in_flight;         /* That commit is a zombie's (its values never count). */
    bool fetching;                 /* Its request in flight is its group's OffsetFetch. */
};

/* One group's committed offsets as the members saw them acknowledged. */
struct sim_group_model {
    int64_t acked[SIM_SLOTS_MAX];  /* The last acknowledged commit per slot, -1 none. */
    int64_t lost[SIM_SLOTS_MAX][SIM_LOST_COMMITS]; /* Commits of unknown outcome (-1). */
    uint32_t lost_next[SIM_SLOTS_MAX];             /* Ring position per slot. */
    bool check_pending;            /* After a start: OffsetFetch must show `acked`. */
    bool check_in_flight;          /* One member's OffsetFetch for it is in flight (one at a
                                      time: an answer to a fetch sent before a commit must
                                      not be taken for the state after it). */
    bool subscribed[SIM_TOPICS];   /* Topics its members subscribe to. */
    bool by_regex;                 /* Subscribes with a regex instead of names. */
    const char *assignor;          /* The assignor its members ask for (NULL: none). */
};

/* What one produce request carried, by ring slot (its pending tag). */
struct sim_produce_note {
    uint32_t part_count;         /* Partitions in the request (1 or 2). */
    uint32_t slots[2];           /* Their slots. */
    uint64_t first_ids[2];       /* First record id of each batch (ids are consecutive). */
    uint32_t counts[2];          /* Records of each batch. */
};

struct sim_world;

struct sim_client {
    struct sim_world *world;       /* Back pointer. */
    struct sim_conn conn;          /* Its connection. */
    uint32_t index;                /* In world->clients. */
    uint8_t role;                  /* enum sim_role. */
    uint64_t reconnect_ns;         /* Closed: when to connect again. */
    uint64_t next_op_ns;           /* Admin: next operation; others: next request. */
    /* Producers. */
    int16_t acks;                  /* -1 (all) or 1. */
    bool idempotent;               /* Uses InitProducerId and sequences. */
    uint32_t depth;                /* Requests in flight at most. */
    bool producer_ready;           /* Idempotent: holds a producer id. */
    bool init_in_flight;           /* Idempotent: an InitProducerId is in flight. */
    int64_t producer_id;           /* Idempotent: the id. */
    int16_t producer_epoch;        /* Idempotent: its epoch. */
    int32_t sequences[SIM_SLOTS_MAX]; /* Idempotent: next sequence per slot. */
    struct sim_produce_note notes[SIM_CONN_PENDING_MAX]; /* By pending tag. */
    uint32_t next_note;            /* Next ring slot of notes. */
    /* Consumer. */
    bool fetch_in_flight;          /* One Fetch or ListOffsets at a time. */
    int64_t next_offsets[SIM_SLOTS_MAX];    /* Next offset to read per slot. */
    int64_t durable_at_send[SIM_SLOTS_MAX]; /* Fetch or describe: durable_end when sent. */
    int64_t high_watermarks[SIM_SLOTS_MAX]; /* Last high watermark seen this life. */
    /* Group member. */
    struct sim_member member;      /* Its membership (role SIM_ROLE_MEMBER). */
};

struct sim_world {
    uint64_t seed;                 /* The run's seed. */
    uint64_t steps_max;            /* Steps of traffic before the final check. */
    uint64_t step;                 /* Steps done. */
    struct sb_sim *sim;            /* The world (owned). */
    struct sb_io *io;              /* The clients' io, joined to sim (owned). */
    struct sb_broker *broker;      /* The broker (owned), NULL while down. */
    struct sb_broker_config config; /* How it is started, every time. */
    char data_dir[64];             /* Its data directory (removed at the end). */
    uint32_t shards;               /* 1 or 2. */
    uint32_t partitions[SIM_TOPICS]; /* Partitions of topic t<i>. */
    uint32_t slot_count;           /* Sum of partitions. */
    struct sim_model model;        /* What the broker must hold. */
    struct sim_client clients[SIM_CLIENTS_MAX]; /* Clients. */
    uint32_t client_count;         /* Clients used. */
    bool topic_ready[SIM_TOPICS];  /* This life: the topic exists (created or found). */
    uint64_t started_ns;           /* This life: when the broker's start returned. */
    bool connected;                /* This life: some client's connection opened. */
    bool topic_acked[SIM_TOPICS];  /* A CreateTopics for it succeeded once: it must stay. */
    uint32_t topic_ids[SIM_TOPICS]; /* The broker's ids of t0, t1 (0: not known yet). */
    struct sim_group_model groups[SIM_GROUPS]; /* The consumer groups. */
    uint32_t group_count;          /* Groups used (1 or 2). */
    uint32_t member_count;         /* Members (the last clients). */
    int64_t next_commit_value;     /* Commit offsets grow across all members. */
    uint64_t commits_acked;        /* Partitions of acknowledged commits. */
    bool settling;                 /* Final phase: members stop crashing and leaving. */
    struct sb_sim_faults calm;     /* Latencies only. */
    struct sb_sim_faults storm;    /* Latencies and the seed's fault rates. */
    bool storming;                 /* storm is in force. */
    uint64_t weather_step;         /* Step at which calm and storm swap. */
    uint64_t crash_steps[3];       /* Steps of the scheduled power cuts. */
    uint32_t crash_count;          /* Scheduled power cuts. */
    uint32_t crashes;              /* Power cuts done. */
    uint64_t trap_step;            /* Step at which the next fsync trap is armed. */
    bool trap_armed;               /* A one-shot fdatasync failure waits to fire. */
    bool trap_fired;               /* It fired: cut power at the next acks=all ack. */
    uint64_t trap_acked;           /* acked_all when it fired. */
    uint64_t trap_fired_step;      /* Step at which it fired. */
    enum sb_sim_power_loss_mode loss_mode; /* How power cuts treat unsynced writes. */
    uint64_t trace;                /* FNV-1a of what the clients saw. */
    bool keep_data;                /* --keep: leave the data directory. */
    enum sb_log_level log_level;   /* --log-level: the broker's. */
};

/* Sets up the world, the data directory and the broker for `seed`. Returns 0 or -errno. */
int sim_world_create(struct sim_world *world, uint64_t seed, uint64_t steps_max);
/* Runs the traffic, then the final power cut and recovery check. Returns true if every
 * invariant held (else world->model.violation says what broke). */
bool sim_world_run(struct sim_world *world);
/* The run's trace hash (clients' view folded with the simulator's). */
uint64_t sim_world_trace(const struct sim_world *world);
void sim_world_destroy(struct sim_world *world);

/* For sim_clients.c. */
void sim_world_fold(struct sim_world *world, uint64_t value);
uint64_t sim_world_random(struct sim_world *world, uint64_t bound);
uint64_t sim_world_now_ns(const struct sim_world *world);
/* The slot of topic `topic`'s `partition`, or UINT32_MAX. */
uint32_t sim_world_slot(const struct sim_world *world, uint32_t topic, int32_t partition);
const char *sim_world_topic_name(uint32_t topic);

/* sim_clients.c */
int sim_client_init(struct sim_client *client, struct sim_world *world, uint32_t index,
                    uint8_t role);
/* One step of the client's own activity: connect, send what it wants to send. */
void sim_client_drive(struct sim_client *client);
/* The broker lost power: the client's connection and requests are gone. */
void sim_client_crash(struct sim_client *client);
/* Closed: connects again 1-20 virtual ms from now (after a close, and after each broker
 * start). A deadline still ahead, so the world's alarm holds time for it: a client due "now"
 * (reconnect_ns 0) would let an idle broker's step jump to its farthest timer first. */
void sim_client_reconnect_later(struct sim_client *client);
/* When the client next wants to act on its own (0: only when answered). */
uint64_t sim_client_deadline(const struct sim_client *client);
/* Checks that no request waits longer than the broker's promises allow. */
void sim_client_check_liveness(struct sim_client *client);
/* Fails the run naming the client. */
void sim_client_fail(struct sim_client *client, const char *what, int16_t error);
/* Errors any request may get while the broker is stressed or restarting. */
bool sim_client_error_tolerated(int16_t error);
/* The index of topic `name` (t0, t1), or UINT32_MAX. */
uint32_t sim_client_topic_index(struct sb_wire_string name);
/* Starts a request (sim_conn_begin), and queues it (sim_conn_finish; false on failure). */
bool sim_client_begin(struct sim_client *client, uint16_t api_key,
                      struct sb_wire_writer *writer);
bool sim_client_finish(struct sim_client *client, struct sb_wire_writer *writer, int encoded,
                       uint64_t tag);

/* sim_members.c */
/* Sets up the seed's groups and makes the last clients their members. */
int sim_members_init(struct sim_world *world);
/* One step of a member's own activity. */
void sim_member_drive(struct sim_client *client);
void sim_member_answered(struct sim_client *client, const struct sim_pending *pending,
                         const struct sb_frame *frame);
/* Its connection closed (or power was lost): whatever it had in flight has an unknown
 * outcome. */
void sim_member_disconnected(struct sim_client *client);
uint64_t sim_member_deadline(const struct sim_client *client);
/* The broker (re)started: committed offsets must be read back before new commits. */
void sim_members_broker_started(struct sim_world *world);
/* Every step: no partition owned by two live members of a group. */
void sim_members_check(struct sim_world *world);
/* Final phase: members come back and stay; true once every subscribed partition of every
 * group is owned by exactly one live member and every offsets check is done. */
bool sim_members_settled(struct sim_world *world);

#endif /* SB_TEST_SIM_WORLD_H */
