/*
 * test/client/client_fixture.h - a real broker (test/broker/broker_fixture) plus
 * libstreambus clients pointed at it, and helpers the client tests share:
 * creating topics, producing numbered records, and reading a partition back.
 */
#ifndef SB_TEST_CLIENT_CLIENT_FIXTURE_H
#define SB_TEST_CLIENT_CLIENT_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>

#include "streambus/streambus.h"
#include "test/broker/broker_fixture.h"

/* Generous wait for one broker operation in tests (no test asserts speed). */
#define TEST_WAIT_MS 10000

/* A broker and the client opened on it. */
struct cluster {
    struct broker_process broker; /* The broker process. */
    char bootstrap[64];           /* "127.0.0.1:port". */
    struct sb_client *client;     /* Opened by cluster_start with its settings. */
};

/* Starts a broker with cores shards (extra: more broker flags or NULL) and opens a client
 * with settings, a NULL-terminated list of key, value pairs (NULL: none). */
void cluster_start(struct cluster *cluster, uint32_t cores, const char *extra,
                   const char *const *settings);
/* Opens one more client on the cluster with settings (as above). */
struct sb_client *cluster_client(struct cluster *cluster, const char *const *settings);
/* Closes the client, stops the broker (asserting a clean exit) and removes its data. */
void cluster_stop(struct cluster *cluster);
/* Removes the data directories of every broker this test started (a suite .fini). */
void cluster_cleanup(void);
/* Creates topic with partitions (asserts success). */
void cluster_topic(struct cluster *cluster, const char *topic, int32_t partitions);

/* One record read back. */
struct test_record {
    int64_t offset;       /* Its offset. */
    int64_t timestamp_ms; /* Its timestamp. */
    char key[64];         /* Key (NUL-terminated copy, truncated). */
    bool key_null;        /* The key was null. */
    char value[256];      /* Value (NUL-terminated copy, truncated). */
    size_t value_length;  /* Full value length. */
    uint32_t header_count; /* Headers. */
    char header[64];      /* First header as "name=value". */
};

/* Reads partition of topic from offset until count records arrived or wait_ms passed
 * without a record; returns how many were read into records. */
uint32_t cluster_read(struct sb_client *client, const char *topic, int32_t partition,
                      int64_t offset, struct test_record *records, uint32_t count,
                      int wait_ms);

/* Sends "value-<i>" with key "key-<i>" for i in [first, first + count) synchronously to
 * partition; asserts success and returns the first offset. */
int64_t cluster_produce(struct sb_client *client, const char *topic, int32_t partition,
                        uint32_t first, uint32_t count);

/* Member `member` of `group` joins (epoch 0, subscribing to `topic`) or leaves (epoch -1)
 * with one GroupHeartbeat over the raw connection (resent while the coordinator is
 * loading); returns the answer's wire error code. */
int16_t cluster_member_heartbeat(struct client *raw, const char *group, const char *member,
                                 const char *topic, int32_t epoch);

/* Milliseconds since the epoch. */
int64_t test_now_ms(void);
/* Sleeps for ms milliseconds. */
void test_sleep_ms(int ms);

#endif /* SB_TEST_CLIENT_CLIENT_FIXTURE_H */
