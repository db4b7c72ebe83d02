/*
 * bench/sb_bench.h - sb-bench, the load generator: its configuration, the
 * driver interface each measured system implements (StreamBus, NATS JetStream,
 * Redis Streams), and the producer, consumer and verification state the
 * drivers report into.
 *
 * Files: sb_bench.c (main, run phases), sb_bench_options.c (command line),
 * sb_bench_workload.c (message sizes, keys, the payload header),
 * sb_bench_verify.c (lost, duplicated, out-of-order), sb_bench_reference.c (the
 * acknowledged ranges of a produce run, for --verify-against), sb_bench_run.c (producer,
 * consumer and ping threads), sb_bench_report.c (progress, summary, JSON),
 * sb_bench_driver_*.c (one per system: streambus, nats, redis), sb_bench_group.c
 * (--group: redeliveries, rebalance pauses, commit latency, assignment events).
 *
 * Every message starts with a 32-byte header (little-endian):
 *   0  u32 magic "SBB1"   4  u32 producer id   8  u64 sequence (per producer)
 *   16 u64 send time (CLOCK_MONOTONIC ns: the intended time in open loop)
 *   24 u32 partition (topic index * partitions + partition)   28 u32 message bytes
 */
#ifndef SB_BENCH_SB_BENCH_H
#define SB_BENCH_SB_BENCH_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "bench/histogram.h"

#define SB_BENCH_HEADER_BYTES 32
#define SB_BENCH_MAGIC 0x31424253u /* "SBB1" read as a little-endian u32. */
/* Messages in flight per producer in open loop (closed loop: --max-in-flight). */
#define SB_BENCH_IN_FLIGHT_MAX (1u << 18)
/* Limits of the knobs. */
#define SB_BENCH_THREADS_MAX 64
#define SB_BENCH_PARTITIONS_MAX 100000
#define SB_BENCH_MESSAGE_BYTES_MAX (1u << 20)
#define SB_BENCH_KEYS_MAX 10000000u
/* --rate: messages per second over all producers (a whole number, 1 .. this). */
#define SB_BENCH_RATE_MAX 100000000u
/* --pace-us: an open-loop producer wakes at most this often (default, and the largest). */
#define SB_BENCH_PACE_US_DEFAULT 100u
#define SB_BENCH_PACE_US_MAX 10000u
/* Messages a producer sends after one wake-up before it reads the clock and flags again. */
#define SB_BENCH_BURST_MAX 4096u
#define SB_BENCH_SERIES_MAX 86400
#define SB_BENCH_NAME_BYTES 128
/* Partitions named in the summary (those that delivered nothing, those left behind). */
#define SB_BENCH_NAMED_MAX 16
/* --group: longest group id; entries of the assignment-event log (one per partition moved). */
#define SB_BENCH_GROUP_ID_BYTES_MAX 255
#define SB_BENCH_GROUP_EVENTS_MAX 65536
/* --commit-interval-ms: at most this many milliseconds. */
#define SB_BENCH_COMMIT_INTERVAL_MS_MAX 60000

enum sb_bench_mode {
    SB_BENCH_PRODUCE, /* Producers only. */
    SB_BENCH_CONSUME, /* Consumers only (e.g. a backlog written by a produce run). */
    SB_BENCH_E2E,     /* Both; end-to-end latency from send time to delivery. */
    SB_BENCH_PING,    /* Request round trips (Health, PING, NATS PING). */
};

/* How --group consumers commit their positions. */
enum sb_bench_commit {
    SB_BENCH_COMMIT_ASYNC, /* sb_consumer_commit_async, one in flight per consumer. */
    SB_BENCH_COMMIT_SYNC,  /* sb_consumer_commit_sync on the consumer's thread. */
};

enum sb_bench_size_kind {
    SB_BENCH_SIZE_FIXED,   /* Every message size_min bytes. */
    SB_BENCH_SIZE_UNIFORM, /* Uniform in [size_min, size_max]. */
};

enum sb_bench_key_kind {
    SB_BENCH_KEY_NONE,    /* Null keys; partitions round-robin. */
    SB_BENCH_KEY_UNIFORM, /* Uniform over key_count keys. */
    SB_BENCH_KEY_ZIPF,    /* Zipf(zipf_exponent) over key_count keys. */
};

/* Everything the command line sets (sb_bench_options.c documents each flag). */
struct sb_bench_config {
    enum sb_bench_mode mode;              /* What to run. */
    const char *driver;                   /* "streambus", "nats" or "redis". */
    char host[SB_BENCH_NAME_BYTES];       /* -b HOST. */
    uint16_t port;                        /* -b :PORT. */
    double duration_s;                    /* Measured time after warm-up. */
    uint32_t warmup_s;                    /* Warm-up seconds, not counted. */
    double idle_stop_s;                   /* Consume: stop after this long without records. */
    double drain_s;                       /* Longest wait for acks and deliveries at the end. */
    const char *topic;                    /* Topic name, or prefix when topic_count > 1. */
    uint32_t topic_count;                 /* Topics. */
    uint32_t partitions;                  /* Partitions per topic. */
    uint32_t producers;                   /* Producer threads (ping: pinging threads). */
    uint32_t consumers;                   /* Consumer threads (partitions split among them). */
    uint32_t threads;                     /* Client instances (I/O threads, connections). */
    enum sb_bench_size_kind size_kind;    /* Message size distribution. */
    uint32_t size_min;                    /* Bytes (fixed size, or the lower bound). */
    uint32_t size_max;                    /* Bytes (upper bound of uniform). */
    enum sb_bench_key_kind key_kind;      /* Key distribution. */
    uint32_t key_count;                   /* Distinct keys. */
    double zipf_exponent;                 /* Zipf s (0.99 default). */
    double rate;                          /* Messages/s over all producers; 0 = closed loop. */
    uint32_t pace_us;                     /* Open loop: shortest time between wake-ups. */
    uint32_t max_in_flight;               /* Closed loop: unacknowledged per producer. */
    uint64_t message_count;               /* Stop after this many sent or received; 0 = none. */
    uint32_t batch_bytes;                 /* Client batch size (StreamBus). */
    uint32_t linger_ms;                   /* Client linger (StreamBus). */
    const char *acks;                     /* "0", "1" or "all". */
    const char *compression;              /* none, gzip, snappy, lz4, zstd (StreamBus). */
    bool from_beginning;                  /* Consumers start at the first record. */
    bool recreate;                        /* Delete and create the topics first. */
    bool create;                          /* Create missing topics (not in consume mode). */
    const char *json_path;                /* --json FILE, or NULL. */
    const char *verify_against;           /* Consume: a produce run's --json, or NULL. */
    const char *label;                    /* Free text carried into the JSON. */
    bool quiet;                           /* No progress lines. */
    const char *group;                    /* --group: consumers subscribe in it; or NULL. */
    enum sb_bench_commit commit;          /* --commit: how group consumers commit. */
    uint32_t commit_interval_ms;          /* Commit at most this often (0: every poll). */
    double join_timeout_s;                /* e2e --group: longest wait for every partition. */
};

struct sb_bench_producer;
struct sb_bench_consumer;

/* One message handed to a driver. Borrowed for the send call. */
struct sb_bench_message {
    const char *topic;     /* Topic name. */
    uint32_t topic_index;  /* 0 .. topic_count - 1. */
    uint32_t partition;    /* Partition within the topic. */
    const void *key;       /* key_length bytes, or NULL. */
    size_t key_length;     /* Bytes of key. */
    const void *value;     /* value_length bytes, starting with the header. */
    size_t value_length;   /* Bytes of value. */
    uint64_t sequence;     /* The header's sequence. */
    uint64_t send_ns;      /* The header's send time. */
};

/*
 * A measured system. Each driver reports acknowledgements with
 * sb_bench_producer_complete and received messages with sb_bench_consumer_deliver,
 * from any thread. Functions return >= 0 or -errno (or a driver's negative code,
 * described by strerror).
 */
struct sb_bench_driver {
    const char *name;                                 /* --driver NAME. */
    /* Connects (lazily is fine) with config (borrowed until close). */
    int (*open)(const struct sb_bench_config *config, void **state_out);
    void (*close)(void *state);
    /* Makes topic exist with partitions (create, recreate as configured). */
    int (*topic_prepare)(void *state, const char *topic, uint32_t partitions);
    /* The durability of acknowledged messages, for labels (static string). */
    const char *(*durability)(void *state);
    int (*producer_open)(void *state, struct sb_bench_producer *owner, void **handle_out);
    int (*producer_send)(void *handle, const struct sb_bench_message *message);
    /* Waits for acknowledgements until deadline_ns; NULL when they arrive on other threads. */
    int (*producer_progress)(void *handle, uint64_t deadline_ns);
    /* Sends what is buffered and waits for every acknowledgement, up to timeout_ms. */
    int (*producer_flush)(void *handle, int timeout_ms);
    void (*producer_close)(void *handle);
    /* One request round trip on the producer's connection. */
    int (*ping)(void *handle);
    int (*consumer_open)(void *state, struct sb_bench_consumer *owner, void **handle_out);
    /* Delivers what arrives within timeout_ms through sb_bench_consumer_deliver. */
    int (*consumer_poll)(void *handle, int timeout_ms);
    /* After the consumer's thread ended: records of its index-th assigned partition not
     * yet delivered (0: caught up); -ETIMEDOUT or an error when the partition's end is
     * unknown (it was never answered). NULL when the system cannot tell. */
    int (*consumer_lag)(void *handle, uint32_t index, uint64_t *lag_out);
    void (*consumer_close)(void *handle);
    /* --group: waits until the position of each partition the consumer holds is known. */
    int (*consumer_ready)(void *handle);
    /* --group works (consumers subscribe; sb_bench_group.c's callbacks are made). */
    bool groups;
};

extern const struct sb_bench_driver sb_bench_driver_streambus;
extern const struct sb_bench_driver sb_bench_driver_nats;
extern const struct sb_bench_driver sb_bench_driver_redis;

/* Figures of one interval (a second) or of the whole run. */
struct sb_bench_counts {
    uint64_t sent;           /* Messages handed to the driver. */
    uint64_t acked;          /* Acknowledged successfully. */
    uint64_t acked_bytes;    /* Their bytes. */
    uint64_t errors;         /* Failed sends, acks, polls or pings. */
    uint64_t received;       /* Messages delivered to consumers. */
    uint64_t received_bytes; /* Their bytes. */
};

/* What one thread records, guarded by lock; the reporter takes it every second. */
struct sb_bench_recorder {
    pthread_mutex_t lock;              /* Guards everything below. */
    struct sb_bench_counts counts;     /* Since the last take. */
    struct sb_histogram ack;           /* Produce-ack (or ping) latency since the last take. */
    struct sb_histogram end_to_end;    /* End-to-end latency since the last take. */
    uint64_t last_event_ns;            /* Time of the latest ack or delivery. */
    char last_error[SB_BENCH_NAME_BYTES]; /* Description of the latest error. */
};

/* A chunked bitmap of sequence numbers, grown without locks (chunks set by CAS). */
#define SB_BENCH_BITMAP_CHUNK_BITS 20
#define SB_BENCH_BITMAP_CHUNKS_MAX 4096
struct sb_bench_bitmap {
    _Atomic(_Atomic uint64_t *) chunks[SB_BENCH_BITMAP_CHUNKS_MAX]; /* 2^20 bits, or NULL. */
};

/* Verification state of one producer id. */
struct sb_bench_verify_producer {
    uint32_t id;                        /* Producer id from the header. */
    struct sb_bench_bitmap received;    /* Sequences delivered. */
    _Atomic uint64_t sequence_min;      /* Smallest sequence delivered. */
    _Atomic uint64_t sequence_max;      /* Largest sequence delivered. */
    _Atomic uint64_t distinct;          /* Distinct sequences delivered. */
    int64_t *last_sequence;             /* Per global partition: last delivered, or -1. */
};

/* What consumers left behind at the end of a run (sb_bench.c, consumers_behind). */
struct sb_bench_behind {
    uint32_t partitions;                /* Assigned partitions with records left or unknown. */
    uint64_t records;                   /* Records known to be left on them. */
    uint32_t named[SB_BENCH_NAMED_MAX]; /* The first of them (global partitions). */
    bool stopped_early;                 /* Left behind without --messages or a signal. */
};

/* Verification of everything consumers receive (sb_bench_verify.c). */
#define SB_BENCH_VERIFY_PRODUCERS_MAX 4096
struct sb_bench_verify {
    pthread_mutex_t lock;                /* Guards inserting producers. */
    uint32_t partitions_total;           /* topic_count * partitions. */
    _Atomic uint64_t *delivered;         /* Per global partition: messages delivered. */
    _Atomic uint64_t ids[SB_BENCH_VERIFY_PRODUCERS_MAX]; /* Open addressing: id + 1, 0 free. */
    struct sb_bench_verify_producer *producers[SB_BENCH_VERIFY_PRODUCERS_MAX]; /* By slot. */
    _Atomic uint64_t duplicated;         /* Sequences delivered more than once. */
    _Atomic uint64_t out_of_order;       /* Sequences below an earlier one of that partition. */
    _Atomic uint64_t malformed;          /* Messages without a valid header. */
    _Atomic uint64_t overflow;           /* Producers beyond the table (not verified). */
};

/* What a produce run acknowledged for one producer id: the reference a consume run checks
 * against (written to the produce run's JSON, read back by sb_bench_reference_load). */
struct sb_bench_acknowledged {
    uint32_t producer_id; /* Producer id from the header. */
    uint64_t first;       /* Smallest acknowledged sequence. */
    uint64_t last;        /* Largest acknowledged sequence. */
    uint64_t count;       /* Acknowledged sequences in [first, last] (all of them when no
                           * send failed). */
};

/* The acknowledged ranges of every producer of a produce run (--verify-against FILE). */
struct sb_bench_reference {
    struct sb_bench_acknowledged *producers; /* count entries, or NULL. */
    uint32_t count;                          /* Producers. */
};

/* What a rebalance did to a partition (the event log of a --group run). */
enum sb_bench_group_kind {
    SB_BENCH_GROUP_ASSIGNED, /* Given to one of this run's consumers. */
    SB_BENCH_GROUP_REVOKED,  /* Taken from it (after its commit). */
    SB_BENCH_GROUP_LOST,     /* Taken from it without notice (fenced): no commit. */
};

/* One partition moved by a rebalance. */
struct sb_bench_group_event {
    uint64_t unix_us;                        /* When the callback ran (CLOCK_REALTIME). */
    _Atomic uint64_t first_delivery_unix_us; /* Assigned: its first record after, or 0. */
    uint32_t partition;                      /* Global partition. */
    uint32_t consumer;                       /* Consumer index. */
    enum sb_bench_group_kind kind;           /* What happened. */
};

/*
 * --group (sb_bench_group.c): what the run's consumers saw of their group. A record of a
 * partition whose offset is at most the partition's highest offset delivered in this run
 * when the partition was last assigned (handover_high) is a redelivery: an earlier owner in
 * this run delivered it and the commit the new owner started from was below it. It is
 * counted in redelivered and not verified again; any other record delivered twice is a
 * duplicate (the verifier's "duplicated", which fails the run). A fenced member keeps
 * delivering what it fetched until it learns of its fencing, possibly after the partition's
 * next owner was assigned: such a late delivery raises handover_high too, since the new
 * owner started from a commit below it.
 */
struct sb_bench_group {
    pthread_mutex_t lock;             /* Guards what follows the atomics. */
    uint32_t partitions_total;        /* topic_count * partitions. */
    _Atomic int64_t *high_offset;     /* Per partition: highest offset delivered, or -1. */
    _Atomic int64_t *handover_high;   /* Per partition: high_offset when last assigned, or a
                                       * later delivery by a member that no longer holds it. */
    _Atomic uint32_t *owner;          /* Per partition: its holder's consumer index + 1, or 0. */
    _Atomic uint64_t *revoked_ns;     /* Per partition: when last revoked or lost, 0 after
                                       * its first delivery since (monotonic ns). */
    _Atomic uint32_t *pending;        /* Per partition: its assigned event's index + 1 until
                                       * the first delivery, else 0. */
    _Atomic uint32_t held;            /* Partitions held by this run's consumers now. */
    _Atomic uint64_t redelivered;     /* Records delivered again after a handover. */
    uint64_t subscribe_ns;            /* When the first consumer subscribed (monotonic). */
    uint64_t join_ns;                 /* When every partition was first held, or 0. */
    uint64_t settled_ns;              /* When the last partition moved, or 0. */
    uint64_t received_settled;        /* The run's deliveries by then (received_total). */
    uint64_t moved[3];                /* Partition moves by enum sb_bench_group_kind. */
    uint64_t commit_errors;           /* Commits that failed. */
    struct sb_histogram commit;       /* Commit latency (call to outcome). */
    struct sb_histogram pause;        /* Revocation to the next owner's first delivery. */
    struct sb_histogram handover;     /* Revocation to the next assignment in this run. */
    struct sb_bench_group_event *events; /* SB_BENCH_GROUP_EVENTS_MAX entries. */
    uint32_t event_count;             /* Entries used. */
    uint64_t events_dropped;          /* Moves beyond the log. */
};

/* One producer thread. Its thread alone sends (next_sequence, sent_count) and takes no
 * lock to do so; completions (any thread) record under recorder.lock, then add to
 * completed, and signal wake only while the producer waits. In flight: sent less completed. */
struct sb_bench_producer {
    uint32_t index;                     /* 0 .. producers - 1. */
    uint32_t id;                        /* Producer id in headers (run nonce + index). */
    struct sb_bench *bench;             /* The run. */
    void *handle;                       /* Driver's producer. */
    pthread_t thread;                   /* Its thread. */
    pthread_mutex_t wake_lock;          /* Guards waiting on wake. */
    pthread_cond_t wake;                /* Signalled by a completion while waiting is set. */
    _Atomic bool waiting;               /* The producer waits for a completion. */
    _Atomic uint64_t sent_count;        /* Messages handed to the driver (its thread). */
    _Atomic uint64_t completed;         /* Messages acknowledged, failed or refused. */
    uint64_t sent_taken;                /* sent_count at the reporter's last take. */
    uint64_t in_flight_max;             /* Bound on sent less completed. */
    uint64_t due_count;                 /* Open loop: messages due when it stopped sending
                                         * (UINT64_MAX in closed loop). */
    struct sb_bench_bitmap acked;       /* Sequences acknowledged (for lost). */
    uint64_t acked_first;               /* Smallest acknowledged sequence (recorder.lock). */
    uint64_t acked_last;                /* Largest acknowledged sequence (recorder.lock). */
    uint64_t acked_count;               /* Sequences acknowledged (recorder.lock). */
    uint64_t drain_acked;               /* Of them, after sending stopped (recorder.lock). */
    uint64_t drain_ack_max_ns;          /* Their largest ack latency (recorder.lock). */
    uint64_t rng;                       /* Random state (sizes, keys). */
    uint64_t next_sequence;             /* Sequence of the next message (its thread). */
    struct sb_bench_recorder recorder;  /* What it measured. */
};

/* One consumer thread, with the partitions it reads. */
struct sb_bench_consumer {
    uint32_t index;                     /* 0 .. consumers - 1. */
    struct sb_bench *bench;             /* The run. */
    void *handle;                       /* Driver's consumer. */
    pthread_t thread;                   /* Its thread. */
    uint32_t *assigned;                 /* Global partitions (topic * partitions + p); with
                                         * --group, those the group gave it now. */
    uint32_t assigned_count;            /* Entries in assigned. */
    struct sb_bench_recorder recorder;  /* What it measured. */
};

/* One second of the run, as printed and written to the JSON series. */
struct sb_bench_second {
    double time_s;                      /* Seconds since the start (end of the interval). */
    bool warmup;                        /* Inside the warm-up. */
    struct sb_bench_counts counts;      /* Figures of the interval. */
    uint64_t ack_p50_ns;                /* Produce-ack (ping) latency p50 of the interval. */
    uint64_t ack_p99_ns;                /* And p99. */
    uint64_t end_to_end_p50_ns;         /* End-to-end latency p50 of the interval. */
    uint64_t end_to_end_p99_ns;         /* And p99. */
};

/* --- sb_bench_generator.c: is the generator the bottleneck? (the rule is in that file) */
/* A thread busy this share of the sending window (or the process using this share of the
 * CPUs it may run on) makes the run generator-bound. */
#define SB_BENCH_BUSY_SHARE 0.9
/* Open loop: more than this share of the due messages unsent when sending stopped. */
#define SB_BENCH_BEHIND_SHARE 0.01
/* Shortest sending window judged (CPU time is counted in 10 ms ticks). */
#define SB_BENCH_JUDGE_WINDOW_S 1.0
/* Threads sampled, at most (producers, consumers, client I/O threads, main). */
#define SB_BENCH_SAMPLE_THREADS_MAX 512

/* The CPU ticks of every thread of the process at one time. */
struct sb_bench_cpu_sample {
    uint64_t at_ns;            /* When it was taken (monotonic). */
    uint32_t ticks_per_s;      /* Clock ticks per second (sysconf(_SC_CLK_TCK)). */
    uint32_t count;            /* Entries in threads. */
    struct {
        int32_t tid;           /* Thread id. */
        uint64_t ticks;        /* utime + stime so far. */
    } threads[SB_BENCH_SAMPLE_THREADS_MAX];
};

/* What the generator cost and whether it was the bottleneck (JSON "generator"). */
struct sb_bench_generator {
    double cpu_s;              /* Process CPU from the end of the warm-up to the end. */
    uint64_t messages;         /* Messages sent after the warm-up (consume: received). */
    double window_s;           /* Sending window judged: end of warm-up to stop of sending. */
    double busiest_thread;     /* Largest share of the window one thread was on a CPU. */
    uint32_t threads_busy;     /* Threads on a CPU >= SB_BENCH_BUSY_SHARE of the window. */
    double cores;              /* CPU time of every thread in the window / the window. */
    uint32_t cores_allowed;    /* CPUs the process may run on (affinity). */
    uint64_t due;              /* Open loop: messages due when sending stopped; UINT64_MAX
                                * in closed loop or with --messages (not judged). */
    uint64_t sent;             /* Messages sent by then. */
    double behind;             /* (due - sent) / due, or 0. */
    bool judged;               /* window_s >= SB_BENCH_JUDGE_WINDOW_S. */
    bool bound;                /* The generator was the bottleneck (the rule above). */
    bool schedule_behind;      /* behind > SB_BENCH_BEHIND_SHARE. */
};

/* The utime + stime ticks of a /proc/.../stat line; -EBADMSG when it has none. */
int sb_bench_stat_ticks(const char *line, uint64_t *ticks_out);
/* Samples every thread under task_directory ("/proc/self/task": this process), skipping
 * threads whose stat cannot be read or parsed; -errno when the directory cannot be read. */
#define SB_BENCH_TASK_DIRECTORY "/proc/self/task"
int sb_bench_cpu_sample(struct sb_bench_cpu_sample *sample, const char *task_directory);
/* CPUs this process may run on. */
uint32_t sb_bench_cores_allowed(void);
/* Fills window_s, busiest_thread, threads_busy, cores, behind, judged, bound and
 * schedule_behind of generator from two samples (due, sent, cores_allowed given). */
void sb_bench_generator_judge(struct sb_bench_generator *generator,
                              const struct sb_bench_cpu_sample *start,
                              const struct sb_bench_cpu_sample *end);

/* The whole run. */
struct sb_bench {
    struct sb_bench_config config;          /* Settings. */
    const struct sb_bench_driver *driver;   /* The system measured. */
    void *driver_state;                     /* Its state. */
    uint32_t nonce;                         /* Run nonce, upper half of producer ids. */
    uint64_t start_ns;                      /* When threads started. */
    uint64_t measure_start_ns;              /* End of the warm-up. */
    uint64_t measure_end_ns;                /* End of the last counted event. */
    _Atomic bool stop_sending;              /* Producers stop. */
    _Atomic bool stop_consuming;            /* Consumers stop. */
    _Atomic bool measuring;                 /* Past the warm-up. */
    _Atomic uint64_t sent_total;            /* Sends over all producers (--messages). */
    _Atomic uint64_t acked_total;           /* Successful acks over all producers. */
    _Atomic uint64_t received_total;        /* Deliveries over all consumers. */
    _Atomic uint32_t producers_running;     /* Producer threads not yet finished. */
    char (*topic_names)[SB_BENCH_NAME_BYTES]; /* Name of each topic. */
    uint64_t last_tick_ns;                  /* End of the last interval taken. */
    struct sb_histogram *tick_ack;          /* Scratch: produce-ack of one interval. */
    struct sb_histogram *tick_end_to_end;   /* Scratch: end-to-end of one interval. */
    uint32_t series_capacity;               /* Entries series can hold. */
    struct sb_bench_producer *producers;    /* config.producers of them. */
    struct sb_bench_consumer *consumers;    /* config.consumers of them. */
    struct sb_bench_verify *verify;         /* Verification, or NULL (produce, ping). */
    struct sb_bench_group *group;           /* --group figures, or NULL. */
    struct sb_bench_counts totals;          /* Figures after the warm-up. */
    struct sb_histogram *ack;               /* Produce-ack (ping) latency after warm-up. */
    struct sb_histogram *end_to_end;        /* End-to-end latency after warm-up. */
    struct sb_bench_second *series;         /* Per-second figures. */
    uint32_t series_count;                  /* Entries in series. */
    bool caught_up;                         /* Consume: stopped because nothing more came. */
    bool lost_checked;                      /* lost is meaningful (e2e, or consume caught up). */
    struct sb_bench_reference reference;    /* Consume: --verify-against, or empty. */
    struct sb_bench_behind behind;          /* What consumers left behind at the end. */
    uint64_t lost;                          /* Acknowledged (or gap) but never delivered. */
    uint64_t duplicated;                    /* From verify. */
    uint64_t out_of_order;                  /* From verify. */
    char first_error[SB_BENCH_NAME_BYTES];  /* First error seen, for the summary. */
    double cpu_s;                           /* sb-bench's own CPU time (user + system). */
    double cpu_measure_start_s;             /* Its CPU time at the end of the warm-up. */
    struct sb_bench_cpu_sample *cpu_start;  /* Threads' CPU at the end of the warm-up. */
    struct sb_bench_cpu_sample *cpu_end;    /* And when sending stopped. */
    bool cpu_sampled;                       /* cpu_start was taken. */
    uint64_t send_stop_ns;                  /* When sending stopped (before stop_sending). */
    struct sb_bench_generator generator;    /* Its cost and verdict. */
    double elapsed_s;                       /* Wall time from thread start to the end. */
};

/* The monotonic clock in nanoseconds. */
static inline uint64_t
sb_bench_now_ns(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

/* Records the time from since_ns to now_ns (0 when now_ns is earlier). */
static inline void
sb_bench_histogram_record_since(struct sb_histogram *histogram, uint64_t since_ns,
                                uint64_t now_ns)
{
    sb_histogram_record(histogram, now_ns > since_ns ? now_ns - since_ns : 0);
}

/* sb_bench_options.c: parses argv into config; prints usage and returns -EINVAL. */
int sb_bench_options_parse(struct sb_bench_config *config, int argc, char **argv);
const char *sb_bench_mode_name(enum sb_bench_mode mode);

/* sb_bench_workload.c */
uint64_t sb_bench_random(uint64_t *state);
int sb_bench_workload_init(const struct sb_bench_config *config);
void sb_bench_workload_deinit(void);
uint32_t sb_bench_message_size(const struct sb_bench_config *config, uint64_t *rng);
/* Writes the key of a message into key (capacity bytes); returns its length, 0 for none. */
size_t sb_bench_message_key(const struct sb_bench_config *config, uint64_t *rng, char *key,
                            size_t capacity);
/* The partition of a key (FNV-1a), or round-robin by sequence without one. */
uint32_t sb_bench_message_partition(const struct sb_bench_config *config, const char *key,
                                    size_t key_length, uint64_t sequence, uint32_t salt);
/* Fills value (size bytes) with the header and filler. */
void sb_bench_message_fill(uint8_t *value, uint32_t size, uint32_t producer_id,
                           uint64_t sequence, uint64_t send_ns, uint32_t global_partition);
/* The header fields; false when value has no valid header. */
bool sb_bench_message_parse(const void *value, size_t size, uint32_t *producer_id,
                            uint64_t *sequence, uint64_t *send_ns, uint32_t *global_partition);
void sb_bench_topic_name(const struct sb_bench_config *config, uint32_t topic_index,
                         char *name, size_t capacity);

/* sb_bench_verify.c */
struct sb_bench_verify *sb_bench_verify_new(uint32_t partitions_total);
void sb_bench_verify_free(struct sb_bench_verify *verify);
/* Counts one delivered message (thread-safe; one thread per partition). */
void sb_bench_verify_deliver(struct sb_bench_verify *verify, uint32_t producer_id,
                             uint64_t sequence, uint32_t global_partition);
/* Acknowledged sequences of producer never delivered. */
uint64_t sb_bench_verify_lost_acked(struct sb_bench_verify *verify, uint32_t producer_id,
                                    const struct sb_bench_bitmap *acked, uint64_t sequences);
/* Sequences of range->producer_id acknowledged in [range->first, range->last] and never
 * delivered: range->count less the distinct sequences delivered in that range. */
uint64_t sb_bench_verify_lost_range(struct sb_bench_verify *verify,
                                    const struct sb_bench_acknowledged *range);
/* Gaps between the smallest and largest sequence delivered, over every producer (consume
 * without a reference: blind to loss before the first or after the last delivered). */
uint64_t sb_bench_verify_lost_gaps(struct sb_bench_verify *verify);
/* Sets bit; returns its previous value. */
bool sb_bench_bitmap_set(struct sb_bench_bitmap *bitmap, uint64_t bit);
bool sb_bench_bitmap_test(const struct sb_bench_bitmap *bitmap, uint64_t bit);
void sb_bench_bitmap_free(struct sb_bench_bitmap *bitmap);

/* sb_bench_group.c */
struct sb_bench_group *sb_bench_group_new(uint32_t partitions_total);
void sb_bench_group_free(struct sb_bench_group *group);
/* A consumer subscribed (the join time counts from the first). */
void sb_bench_group_subscribed(struct sb_bench_group *group);
/* A rebalance callback of consumer: kind, global partitions (count). Updates the
 * consumer's assigned list (the consumer's thread, or main before threads start). */
void sb_bench_group_rebalance(struct sb_bench_group *group, struct sb_bench_consumer *consumer,
                              enum sb_bench_group_kind kind, const uint32_t *partitions,
                              size_t count);
/* A record of global partition at offset is about to be delivered by consumer (its index);
 * true when it is a
 * redelivery (counted here: do not deliver it to the verifier). */
bool sb_bench_group_deliver(struct sb_bench_group *group, uint32_t consumer, uint32_t partition,
                            int64_t offset);
/* A commit's outcome: its latency and error (0 or negative). Any thread. */
void sb_bench_group_commit(struct sb_bench_group *group, uint64_t latency_ns, int error);
/* True when this run's consumers hold every partition. */
bool sb_bench_group_complete(struct sb_bench_group *group);
/* The summary lines and the JSON "group" member (null without --group). */
void sb_bench_group_summary(const struct sb_bench *bench);
void sb_bench_group_json(FILE *file, const struct sb_bench *bench);

/* sb_bench_reference.c: reads the "acknowledged" ranges of the JSON file at path (a produce
 * or e2e run's --json) into reference (freed with sb_bench_reference_free). Returns 0;
 * -errno from reading; -EBADMSG when the file has no valid ranges. */
int sb_bench_reference_load(const char *path, struct sb_bench_reference *reference);
void sb_bench_reference_free(struct sb_bench_reference *reference);

/* sb_bench_run.c: driver callbacks and the threads. */
/* A message's outcome: error 0 when acknowledged. Any thread. */
void sb_bench_producer_complete(struct sb_bench_producer *producer, uint64_t sequence,
                                uint64_t send_ns, size_t bytes, int error);
/* A message received (value borrowed for the call). Any thread, one per partition. */
void sb_bench_consumer_deliver(struct sb_bench_consumer *consumer, const void *value,
                               size_t value_length);
void sb_bench_recorder_init(struct sb_bench_recorder *recorder);
void sb_bench_recorder_deinit(struct sb_bench_recorder *recorder);
void sb_bench_recorder_error(struct sb_bench_recorder *recorder, const char *what, int error);
/* Open loop: how many messages are due at now_ns when message i is due at first_ns +
 * i * interval_ns (0 before first_ns); UINT64_MAX when interval_ns is 0 (closed loop). */
uint64_t sb_bench_pace_due(uint64_t first_ns, double interval_ns, uint64_t now_ns);
void *sb_bench_producer_main(void *argument);
void *sb_bench_ping_main(void *argument);
void *sb_bench_consumer_main(void *argument);

/* sb_bench_report.c */
/* A JSON string (NULL as ""), and a latency object "name": {count, ..., histogram}. */
void sb_bench_json_string(FILE *file, const char *text);
void sb_bench_json_latency(FILE *file, const char *name, const struct sb_histogram *histogram,
                           bool last);
/* A summary row of a latency histogram. */
void sb_bench_summary_latency(const char *name, const struct sb_histogram *histogram);
void sb_bench_report_tick(struct sb_bench *bench, uint64_t now_ns, bool print);
void sb_bench_report_summary(const struct sb_bench *bench);
int sb_bench_report_json(const struct sb_bench *bench, const char *path);
/* The warning lines on stderr when the generator was the bottleneck or fell behind. */
void sb_bench_report_generator_warnings(const struct sb_bench *bench);
/* An error code as text: -errno or a libstreambus code. */
const char *sb_bench_strerror(int error);

#endif /* SB_BENCH_SB_BENCH_H */
