/*
 * test/net/broker_fixture.h - runs a real `streambus` process on 127.0.0.1
 * with its own data directory, and talks to it over blocking sockets with
 * proto's codecs (the client library is not used here, so these tests check
 * the broker alone).
 */
#ifndef SB_TEST_NET_BROKER_FIXTURE_H
#define SB_TEST_NET_BROKER_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "proto/wire.h"

struct broker_process {
    pid_t pid;              /* The broker, or 0. */
    char data_dir[128];     /* Its data directory. */
    uint16_t port;          /* Main port (shard i: port + 1 + i). */
    uint32_t cores;         /* --cores. */
    char extra[256];        /* Extra flags, space separated. */
};

/* Picks a free port range, creates the data directory; does not start. */
void broker_init(struct broker_process *broker, uint32_t cores);
/* Starts the broker and waits (bounded) until its main port accepts. */
void broker_start(struct broker_process *broker);
/* SIGTERM and wait; returns the exit status (or -signal). */
int broker_stop(struct broker_process *broker);
/* SIGKILL and wait. */
void broker_kill(struct broker_process *broker);
/* Stops if running and removes the data directory. */
void broker_destroy(struct broker_process *broker);

/* A blocking connection. */
struct client {
    int fd;                     /* Socket. */
    uint32_t next_correlation;  /* Next correlation id. */
    uint8_t *buffer;            /* Receive buffer (owned). */
    uint32_t capacity;          /* Its size. */
};

/* Connects to 127.0.0.1:port; asserts on failure. */
void client_connect(struct client *client, uint16_t port);
/* Returns -errno instead of asserting. */
int client_try_connect(struct client *client, uint16_t port);
void client_close(struct client *client);
/* Sends raw bytes. */
void client_send_raw(struct client *client, const void *bytes, size_t length);
/* Encodes and sends a request: `encode` writes the body. Returns the correlation id. */
uint32_t client_send(struct client *client, uint16_t api_key, uint16_t flags,
                     int (*encode)(struct sb_wire_writer *writer, const void *request),
                     const void *request);
/* Receives one whole frame (asserts its CRC); returns the frame (body points into the
 * client's buffer, valid until the next receive). Returns 0, or -ECONNRESET/-EPIPE... if the
 * connection closed, or -ETIMEDOUT after `timeout_ms`. */
int client_receive(struct client *client, struct sb_frame *frame, int timeout_ms);

/* Builds a record batch of `count` records "key-i" -> "<prefix>-i" into buffer; returns bytes. */
uint32_t test_batch(uint8_t *buffer, uint32_t capacity, uint32_t count, const char *prefix);

#endif /* SB_TEST_NET_BROKER_FIXTURE_H */
