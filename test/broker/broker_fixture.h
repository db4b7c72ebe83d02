/*
 * test/broker/broker_fixture.h - runs a real `streambus` process on 127.0.0.1
 * with its own data directory, and talks to it over blocking sockets with
 * proto's codecs (the client library is not used here, so these tests check
 * the broker alone). Besides the process and the connection it owns the
 * helpers test/broker's suites share: the encode adapters client_send takes,
 * creating a topic, producing to and fetching from one partition (sending,
 * receiving and decoding the answer down to that partition), a Health check
 * on a fresh connection, and the broker's resident memory.
 */
#ifndef SB_TEST_NET_BROKER_FIXTURE_H
#define SB_TEST_NET_BROKER_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "proto/api_fetch.h"
#include "proto/api_produce.h"
#include "proto/wire.h"

/* How long a client waits for an answer unless told otherwise (client->timeout_ms). */
#define CLIENT_TIMEOUT_MS 10000

struct broker_process {
    pid_t pid;              /* The broker, or 0. */
    char data_dir[128];     /* Its data directory. */
    uint16_t port;          /* Main port (shard i: port + 1 + i). */
    uint32_t cores;         /* --cores. */
    char extra[256];        /* Extra flags, space separated. */
    bool started;           /* Answered once: restarts keep the port. */
    int port_claim;         /* Holds the claim on the ports (see broker_init), or 0. */
};

/* Picks and claims a free port range (no other test process of this machine can claim it
 * until broker_destroy), creates the data directory; does not start. */
void broker_init(struct broker_process *broker, uint32_t cores);
/* Starts the broker process and returns at once. */
void broker_spawn(struct broker_process *broker);
/* broker_spawn, then waits (bounded) until its main port answers a request. */
void broker_start(struct broker_process *broker);
/* SIGTERM and wait; returns the exit status (or -signal). */
int broker_stop(struct broker_process *broker);
/* SIGKILL and wait. */
void broker_kill(struct broker_process *broker);
/* Stops if running and removes the data directory. */
void broker_destroy(struct broker_process *broker);
/* broker_init, then `extra` broker flags (space separated; NULL: none), then broker_start. */
void broker_start_new(struct broker_process *broker, uint32_t cores, const char *extra);
/* broker_stop, asserting the broker exits 0 on SIGTERM, then broker_destroy. */
void broker_stop_and_destroy(struct broker_process *broker);
/* Reads the running broker's VmRSS from /proc (asserts the file opens); returns it in kB, or
 * -1 if the file has no such line. */
long broker_rss_kb(const struct broker_process *broker);

/* A blocking connection. */
struct client {
    int fd;                     /* Socket. */
    uint32_t next_correlation;  /* Next correlation id. */
    uint8_t *buffer;            /* Receive buffer (owned). */
    uint32_t capacity;          /* Its size. */
    int timeout_ms;             /* How long the helpers below wait for an answer. */
};

/* Connects to 127.0.0.1:port (timeout_ms: CLIENT_TIMEOUT_MS); asserts on failure. */
void client_connect(struct client *client, uint16_t port);
/* Returns -errno instead of asserting. */
int client_try_connect(struct client *client, uint16_t port);
void client_close(struct client *client);
/* Sends raw bytes. */
void client_send_raw(struct client *client, const void *bytes, size_t length);
/* Encodes one whole frame with `header` into `frame` (capacity bytes): `encode` writes the
 * body. Asserts every step succeeds; returns the frame's size. */
uint32_t frame_encode(uint8_t *frame, uint32_t capacity, const struct sb_frame_header *header,
                      int (*encode)(struct sb_wire_writer *writer, const void *request),
                      const void *request);
/* Encodes and sends a request: `encode` writes the body. Returns the correlation id. */
uint32_t client_send(struct client *client, uint16_t api_key, uint16_t flags,
                     int (*encode)(struct sb_wire_writer *writer, const void *request),
                     const void *request);
/* Receives one whole frame (asserts its CRC); returns the frame (body points into the
 * client's buffer, valid until the next receive). Returns 0, or -ECONNRESET/-EPIPE... if the
 * connection closed, or -ETIMEDOUT after `timeout_ms`. */
int client_receive(struct client *client, struct sb_frame *frame, int timeout_ms);

/* Encode adapters for client_send: each writes `request` (a pointer to the named proto request
 * struct, or NULL where it has none) with its sb_*_request_encode and returns that result. */
int encode_empty_request(struct sb_wire_writer *writer, const void *request);
int encode_api_versions_request(struct sb_wire_writer *writer, const void *request);
int encode_metadata_request(struct sb_wire_writer *writer, const void *request);
int encode_create_topics_request(struct sb_wire_writer *writer, const void *request);
int encode_init_producer_id_request(struct sb_wire_writer *writer, const void *request);
int encode_produce_request(struct sb_wire_writer *writer, const void *request);
int encode_fetch_request(struct sb_wire_writer *writer, const void *request);
int encode_list_offsets_request(struct sb_wire_writer *writer, const void *request);

/* Opens a new connection to `port`, sends Health and closes again. Asserts that an answer to
 * that request arrives; returns the answer's frame-level error (NONE when served). */
int16_t health_on_new_connection(uint16_t port);
/* Up to `attempts` times: opens a new connection to `port` (asserting the connect), sends
 * Health, waits up to `timeout_ms` for any answer, closes. Returns whether one came. */
bool new_connection_answered(uint16_t port, int attempts, int timeout_ms);

/* Creates topic `name` with `partitions` partitions (replication 1). Asserts the request is
 * answered, for this correlation, without a frame-level error, with one topic result;
 * returns that topic's error (NONE, TOPIC_ALREADY_EXISTS, INVALID_TOPIC_NAME...). */
int16_t client_create_topic(struct client *client, const char *name, int32_t partitions);
/* The same, and *topic_id_out: the id the broker gave it (0 on error). */
int16_t client_create_topic_id(struct client *client, const char *name, int32_t partitions,
                               uint32_t *topic_id_out);

/* Sends DeleteTopics for `name`; asserts it is answered, for this correlation, without a
 * frame-level error; returns the topic's error. */
int16_t client_delete_topic(struct client *client, const char *name);
/* Sends AlterTopicConfig for `name`: the partition count (0: unchanged) and, unless `key` is
 * NULL, one config key = value. Asserts it is answered as client_delete_topic does; returns
 * the response's error. */
int16_t client_alter_topic(struct client *client, const char *name, int32_t partitions,
                           const char *key, const char *value);

/* The partitions a topic_description keeps. */
#define DESCRIBED_PARTITIONS_MAX 16

/* What DescribeTopic said of a topic. */
struct topic_description {
    int16_t error;                                    /* The topic's error (NONE: found). */
    uint32_t topic_id;                                /* Its id (0 on error). */
    uint32_t partition_count;                         /* Partitions listed. */
    int64_t high_watermark[DESCRIBED_PARTITIONS_MAX]; /* Per partition, by index. */
    int64_t log_end_offset[DESCRIBED_PARTITIONS_MAX]; /* Per partition, by index. */
    char retention_ms[32];                            /* Config retention.ms, as text. */
};

/* Sends DescribeTopic for `name` and fills *out; asserts it is answered as client_delete_topic
 * does and decodes (at most DESCRIBED_PARTITIONS_MAX partitions). */
void client_describe_topic(struct client *client, const char *name,
                           struct topic_description *out);

/* Builds a record batch of `count` records "key-i" -> "<prefix>-i" into buffer; returns bytes. */
uint32_t test_batch(uint8_t *buffer, uint32_t capacity, uint32_t count, const char *prefix);
/* One batch of `records` records ("k" -> "v") into buffer (moved to its start), from
 * `producer_id` at `epoch` and `sequence` (producer -1: not idempotent). Returns its size. */
uint32_t test_producer_batch(uint8_t *buffer, uint32_t capacity, int64_t producer_id,
                             int16_t epoch, int32_t sequence, uint32_t records);

/* One Produce request: record batches (back to back) for one partition. */
struct produce_spec {
    const char *topic;     /* Topic name. */
    int32_t partition;     /* Partition index. */
    const uint8_t *batch;  /* The batches. */
    uint32_t bytes;        /* Their size. */
    int16_t acks;          /* -1 (all), 1 (leader), or 0: sent with NO_RESPONSE, no answer. */
    int32_t timeout_ms;    /* How long the broker may wait for the acks. */
};

/* Encode adapter for client_send or frame_encode: the Produce request a `struct produce_spec`
 * describes. */
int encode_produce_spec(struct sb_wire_writer *writer, const void *request);
/* Sends `spec`. With acks 0 returns NONE at once (*base_offset -1). Otherwise asserts an
 * answer arrives and, unless it is a frame-level error (returned as is, *base_offset -1),
 * that it decodes to one topic with one partition; returns that partition's error and its
 * base offset in *base_offset (NULL: not wanted). */
int16_t client_produce(struct client *client, const struct produce_spec *spec,
                       int64_t *base_offset);
/* client_produce, with the whole partition answer in *result (base_offset and
 * log_append_time_ms -1 when there is none). */
int16_t client_produce_answer(struct client *client, const struct produce_spec *spec,
                              struct sb_produce_partition_response *result);
/* client_produce with acks=all and a 5 s broker timeout. */
int16_t client_produce_acks_all(struct client *client, const char *topic, int32_t partition,
                                const uint8_t *batch, uint32_t bytes, int64_t *base_offset);

/* One Fetch request for one partition. */
struct fetch_spec {
    const char *topic;            /* Topic name. */
    int32_t partition;            /* Partition index. */
    int64_t offset;               /* First offset wanted. */
    int32_t partition_max_bytes;  /* The partition's soft byte limit. */
    int32_t max_bytes;            /* The response's soft byte limit. */
    int32_t max_wait_ms;          /* Long-poll: how long the broker may wait for min_bytes. */
    int32_t min_bytes;            /* Long-poll: bytes to wait for (0: answer at once). */
    uint32_t topic_id;            /* Non-zero: sent as Fetch version 1 naming this id. */
};

/* Encode adapter for client_send or frame_encode: the Fetch request a `struct fetch_spec`
 * describes. */
int encode_fetch_spec(struct sb_wire_writer *writer, const void *request);
/* Decodes a Fetch answer of one topic and one partition into *partition (its records point
 * into the frame). Asserts there is no frame-level error and that it decodes to exactly that
 * shape; the partition's own error is left to the caller. */
void decode_fetch_partition(const struct sb_frame *frame,
                            struct sb_fetch_partition_response *partition);
/* Sends `spec`, asserts an answer arrives within client->timeout_ms and decodes it with
 * decode_fetch_partition (valid until the client's next receive). */
void client_fetch(struct client *client, const struct fetch_spec *spec,
                  struct sb_fetch_partition_response *partition);

#endif /* SB_TEST_NET_BROKER_FIXTURE_H */
