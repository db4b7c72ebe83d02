/*
 * test/broker/test_request.c - broker/request.c's memory for requests, against a
 * real broker over sockets:
 *
 *  - fetches over many partitions (15 to 1000, 1 MiB per partition, on 1
 *    and 2 shards) and over one partition with a 16 MiB partition limit are
 *    served with data, never BROKER_BUSY: the response reservation follows
 *    what was read, not the sum of every partition's limit;
 *  - the response's max_bytes is kept (whole batches, and the first batch
 *    even when it alone is larger); a fetch spanning more shards than its
 *    share of request memory holds batches for still returns a batch, and
 *    successive fetches serve every partition in turn;
 *  - request memory does not fragment for good: with 8 MiB of it, three
 *    connections pipelining small Metadata requests without reading the
 *    answers fill it with small buffers; once they close, a 256 KiB fetch is
 *    served again at once (memory moves back between buffer sizes);
 *  - long polls (max_wait = min_bytes = INT32_MAX) hold no fetch memory
 *    while they wait, and end with their connection: 64 of them leave
 *    another client's fetch served, and 4096 (every request slot of the
 *    shard) on 64 connections that then close leave it served at once;
 *  - one request cannot stall its shard: a 3 MB Metadata request naming
 *    1,000,000 topics delays another connection's Health by far less than
 *    a second (lookups are hashed and a request names at most 4096 topics).
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/clock.h"
#include "proto/api_fetch.h"
#include "proto/api_meta.h"
#include "proto/api_produce.h"
#include "proto/batch.h"
#include "proto/errors.h"
#include "test/broker/broker_fixture.h"

#define TIMEOUT_MS 10000
#define PARTITIONS_MAX 1000u
#define FLOOD_CONNECTIONS 3u
#define FLOOD_WAVE 2u
#define FLOOD_ROUNDS_MAX 100u
#define FLOOD_NAMES 120u
#define FLOOD_STALL_MS 300
#define POLL_CONNECTIONS_MAX 64u
#define POLL_PIPELINE 64u
#define STALL_NAMES 1000000u
/* How long the other connection's Health may take. The old code spent several seconds (1.5 s
 * to 4 s here) looking up a million names, each a scan of all 4096 topic slots; the fixed
 * broker refuses the request at once, so its Health takes milliseconds. 1 s leaves a wide
 * margin for a loaded 2-core machine and still fails on the old code. */
#define STALL_HEALTH_BOUND_MS 1000

/* Produces `batch` to every partition of `topic` in one acks=all request; asserts no error. */
static void
produce_everywhere(struct client *client, const char *topic, uint32_t partitions,
                   const uint8_t *batch, uint32_t bytes)
{
    static struct sb_produce_partition parts[PARTITIONS_MAX];
    for (uint32_t index = 0; index < partitions; index++) {
        parts[index] = (struct sb_produce_partition){(int32_t)index, {batch, bytes}};
    }
    struct sb_produce_topic produce_topic = {.name = sb_wire_string_from_cstr(topic),
                                             .partitions = parts, .partition_count = partitions};
    struct sb_produce_request request = {.acks = -1, .timeout_ms = 5000,
                                         .topics = &produce_topic, .topic_count = 1};
    client_send(client, SB_API_PRODUCE, 0, encode_produce_request, &request);
    struct sb_frame frame;
    cr_assert_eq(client_receive(client, &frame, TIMEOUT_MS), 0);
    cr_assert_eq(frame.header.error_code, 0, "produce: %s",
                 sb_wire_error_name(frame.header.error_code));
    struct sb_produce_response response;
    cr_assert_eq(sb_produce_response_decode(frame.body, frame.body_bytes, &response), 0);
    struct sb_produce_topic_response topic_response;
    cr_assert_eq(sb_produce_response_next_topic(&response, &topic_response), 1);
    struct sb_produce_partition_response partition;
    for (uint32_t index = 0; index < partitions; index++) {
        cr_assert_eq(sb_produce_topic_response_next_partition(&topic_response, &partition), 1);
        cr_assert_eq(partition.error_code, 0, "partition %u: %s", index,
                     sb_wire_error_name(partition.error_code));
    }
}

/* Sends one Fetch of partitions 0..partitions-1 of `topic` from offset 0 (no waiting) and
 * receives the answer; asserts it has no frame-level error. */
static void
fetch_all(struct client *client, const char *topic, uint32_t partitions,
          int32_t partition_max_bytes, int32_t max_bytes, struct sb_frame *frame)
{
    static struct sb_fetch_partition parts[PARTITIONS_MAX];
    for (uint32_t index = 0; index < partitions; index++) {
        parts[index] = (struct sb_fetch_partition){(int32_t)index, 0, partition_max_bytes};
    }
    struct sb_fetch_topic fetch_topic = {.name = sb_wire_string_from_cstr(topic),
                                         .partitions = parts, .partition_count = partitions};
    struct sb_fetch_request request = {.max_bytes = max_bytes, .topics = &fetch_topic,
                                       .topic_count = 1};
    client_send(client, SB_API_FETCH, 0, encode_fetch_request, &request);
    cr_assert_eq(client_receive(client, frame, TIMEOUT_MS), 0);
    cr_assert_eq(frame->header.error_code, 0, "fetch of %u partitions: %s", partitions,
                 sb_wire_error_name(frame->header.error_code));
}

/* Decodes a one-topic Fetch answer: each partition's error must be none; returns how many
 * partitions carried records and adds their record bytes to *bytes_out. */
static uint32_t
fetch_tally(const struct sb_frame *frame, uint32_t partitions, uint64_t *bytes_out)
{
    struct sb_fetch_response response;
    cr_assert_eq(sb_fetch_response_decode(frame->body, frame->body_bytes, &response), 0);
    struct sb_fetch_topic_response topic;
    cr_assert_eq(sb_fetch_response_next_topic(&response, &topic), 1);
    uint32_t with_data = 0;
    struct sb_fetch_partition_response partition;
    for (uint32_t index = 0; index < partitions; index++) {
        cr_assert_eq(sb_fetch_topic_response_next_partition(&topic, &partition), 1);
        cr_assert_eq(partition.error_code, 0, "partition %u: %s", index,
                     sb_wire_error_name(partition.error_code));
        with_data += partition.records.length != 0;
        *bytes_out += partition.records.length;
    }
    return with_data;
}

static void
many_partitions_with(uint32_t cores)
{
    static const uint32_t counts[] = {15, 16, 32, 64, PARTITIONS_MAX};
    struct broker_process broker;
    broker_start_new(&broker, cores, NULL);
    struct client client;
    client_connect(&client, broker.port);
    static uint8_t batch[4096];
    uint32_t bytes = test_batch(batch, sizeof(batch), 5, "many");
    for (size_t index = 0; index < sizeof(counts) / sizeof(counts[0]); index++) {
        char topic[32];
        snprintf(topic, sizeof(topic), "many-%u", counts[index]);
        cr_assert_eq(client_create_topic(&client, topic, (int32_t)counts[index]), 0);
        produce_everywhere(&client, topic, counts[index], batch, bytes);
        /* The client library's defaults: 1 MiB per partition, 16 MiB per response. */
        struct sb_frame frame;
        fetch_all(&client, topic, counts[index], 1 << 20, 16 << 20, &frame);
        uint64_t total = 0;
        cr_assert_eq(fetch_tally(&frame, counts[index], &total), counts[index],
                     "every partition of %s has its batch", topic);
    }
    /* One partition whose own limit is 16 MiB. */
    cr_assert_eq(client_create_topic(&client, "wide", 1), 0);
    produce_everywhere(&client, "wide", 1, batch, bytes);
    struct sb_frame frame;
    fetch_all(&client, "wide", 1, 16 << 20, 16 << 20, &frame);
    uint64_t total = 0;
    cr_assert_eq(fetch_tally(&frame, 1, &total), 1, "the 16 MiB partition limit is served");
    client_close(&client);
    broker_stop_and_destroy(&broker);
}

Test(request, fetch_many_partitions_is_served_one_shard, .timeout = 120)
{
    many_partitions_with(1);
}

Test(request, fetch_many_partitions_is_served_two_shards, .timeout = 120)
{
    many_partitions_with(2);
}

/* Batches of about 100 KiB: max_bytes limits the whole response, except that the first batch
 * comes back even when it alone is larger. */
Test(request, fetch_keeps_max_bytes_but_returns_a_first_batch, .timeout = 120)
{
    struct broker_process broker;
    broker_start_new(&broker, 2, NULL);
    struct client client;
    client_connect(&client, broker.port);
    cr_assert_eq(client_create_topic(&client, "limit", 8), 0);
    static uint8_t batch[1 << 18];
    uint32_t bytes = test_batch(batch, sizeof(batch), 1400,
                                "a-value-long-enough-to-make-the-batch-weigh-100-KiB");
    cr_assert_gt(bytes, 90u << 10);
    for (int round = 0; round < 3; round++) {
        produce_everywhere(&client, "limit", 8, batch, bytes);
    }
    const int32_t limits[] = {1, 250 << 10, 1 << 20, 16 << 20};
    for (size_t index = 0; index < sizeof(limits) / sizeof(limits[0]); index++) {
        struct sb_frame frame;
        fetch_all(&client, "limit", 8, 1 << 20, limits[index], &frame);
        uint64_t total = 0;
        uint32_t with_data = fetch_tally(&frame, 8, &total);
        uint64_t expected_max = limits[index] < (int32_t)bytes ? bytes : (uint64_t)limits[index];
        cr_assert_leq(total, expected_max, "max_bytes %d: %llu bytes", limits[index],
                      (unsigned long long)total);
        cr_assert_geq(total, bytes, "at least one batch");
        cr_assert_geq(with_data, 1u);
        if (limits[index] == 16 << 20) {
            cr_assert_eq(total, 24ull * bytes, "everything fits in 16 MiB");
        }
    }
    client_close(&client);
    broker_stop_and_destroy(&broker);
}

/* A fetch over 4 shards whose request memory holds room for fewer works than that: each
 * fetch still returns a batch, and successive fetches serve every partition in turn. */
Test(request, fetch_beyond_its_memory_share_serves_every_partition_in_turn, .timeout = 120)
{
    struct broker_process broker;
    broker_start_new(&broker, 4, "--max-frame-bytes 1m --request-memory-bytes 4m");
    struct client client;
    client_connect(&client, broker.port);
    cr_assert_eq(client_create_topic(&client, "spread", 4), 0);
    static uint8_t batch[4096];
    produce_everywhere(&client, "spread", 4, batch, test_batch(batch, sizeof(batch), 5, "s"));
    bool seen[4] = {false};
    uint32_t seen_count = 0;
    for (uint32_t round = 0; round < 8 && seen_count < 4; round++) {
        struct sb_frame frame;
        fetch_all(&client, "spread", 4, 1 << 20, 16 << 20, &frame);
        struct sb_fetch_response response;
        cr_assert_eq(sb_fetch_response_decode(frame.body, frame.body_bytes, &response), 0);
        struct sb_fetch_topic_response topic;
        cr_assert_eq(sb_fetch_response_next_topic(&response, &topic), 1);
        uint32_t with_data = 0;
        struct sb_fetch_partition_response partition;
        for (uint32_t index = 0; index < 4; index++) {
            cr_assert_eq(sb_fetch_topic_response_next_partition(&topic, &partition), 1);
            cr_assert_eq(partition.error_code, 0, "%s",
                         sb_wire_error_name(partition.error_code));
            if (partition.records.length != 0) {
                with_data++;
                seen_count += !seen[partition.partition];
                seen[partition.partition] = true;
            }
        }
        cr_assert_geq(with_data, 1u, "every fetch returns a batch");
    }
    cr_assert_eq(seen_count, 4u, "every partition was served within 8 fetches");
    client_close(&client);
    broker_stop_and_destroy(&broker);
}

/* A connection that reads nothing (4 KiB receive buffer). */
static int
flood_connect(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int small = 4096;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(port),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(connect(fd, (struct sockaddr *)&address, sizeof(address)), 0);
    return fd;
}

/* A Metadata request of FLOOD_NAMES unknown 200-character names (about 24 KiB, with a larger
 * answer) into `frame`; returns its size. */
static uint32_t
flood_frame(uint8_t *frame, uint32_t capacity, uint32_t correlation)
{
    static char name[200];
    memset(name, 'n', sizeof(name));
    static struct sb_wire_string names[FLOOD_NAMES];
    for (uint32_t index = 0; index < FLOOD_NAMES; index++) {
        names[index] = (struct sb_wire_string){name, sizeof(name)};
    }
    struct sb_metadata_request request = {.topics = names, .topic_count = FLOOD_NAMES};
    struct sb_frame_header header = {.api_key = SB_API_METADATA, .correlation_id = correlation};
    return frame_encode(frame, capacity, &header, encode_metadata_request, &request);
}

/* Pipelines FLOOD_WAVE flood requests on `fd`; false if the broker stopped taking them for
 * FLOOD_STALL_MS. */
static bool
flood_wave(int fd, uint32_t *correlation)
{
    static uint8_t frame[64 << 10];
    for (uint32_t index = 0; index < FLOOD_WAVE; index++) {
        uint32_t length = flood_frame(frame, sizeof(frame), (*correlation)++);
        for (uint32_t offset = 0; offset < length;) {
            struct pollfd poll_fd = {.fd = fd, .events = POLLOUT};
            if (poll(&poll_fd, 1, FLOOD_STALL_MS) == 0) {
                return false;
            }
            ssize_t sent = send(fd, frame + offset, length - offset,
                                MSG_NOSIGNAL | MSG_DONTWAIT);
            cr_assert(sent > 0 || errno == EAGAIN, "flood send: %d", errno);
            offset += sent > 0 ? (uint32_t)sent : 0;
        }
    }
    return true;
}

/* Whether one more flood request, on a new connection, is answered within FLOOD_STALL_MS. */
static bool
flood_probe_answered(uint16_t port)
{
    struct client client;
    client_connect(&client, port);
    static uint8_t frame[64 << 10];
    client_send_raw(&client, frame, flood_frame(frame, sizeof(frame), 1));
    struct sb_frame answer;
    bool answered = client_receive(&client, &answer, FLOOD_STALL_MS) == 0;
    client_close(&client);
    return answered;
}

/* Three connections flood in turns, a wave at a time, until one more such request gets no
 * answer (the request memory is full) - never far enough ahead for the broker to drop them.
 * Returns the sockets in `fds`. */
static void
flood_until_memory_is_full(uint16_t port, int fds[FLOOD_CONNECTIONS])
{
    uint32_t correlations[FLOOD_CONNECTIONS] = {0};
    for (uint32_t index = 0; index < FLOOD_CONNECTIONS; index++) {
        fds[index] = flood_connect(port);
    }
    for (uint32_t round = 0; round < FLOOD_ROUNDS_MAX; round++) {
        for (uint32_t index = 0; index < FLOOD_CONNECTIONS; index++) {
            if (!flood_wave(fds[index], &correlations[index])) {
                return;
            }
        }
        if (!flood_probe_answered(port)) {
            return;
        }
    }
    cr_assert_fail("the flood never filled the request memory");
}

/* Issue 10, defect 6: memory freed by small buffers used to stay in their size classes, and a
 * fetch needing a larger buffer got BROKER_BUSY for good (Health still answered). */
Test(request, memory_of_small_requests_serves_a_large_fetch_after_they_close, .timeout = 120)
{
    struct broker_process broker;
    broker_start_new(&broker, 1, "--request-memory-bytes 8m --max-frame-bytes 2m");
    struct client client;
    client_connect(&client, broker.port);
    cr_assert_eq(client_create_topic(&client, "frag", 1), 0);
    static uint8_t batch[4096];
    produce_everywhere(&client, "frag", 1, batch, test_batch(batch, sizeof(batch), 5, "frag"));
    int floods[FLOOD_CONNECTIONS];
    flood_until_memory_is_full(broker.port, floods);
    for (uint32_t index = 0; index < FLOOD_CONNECTIONS; index++) {
        close(floods[index]);
    }
    /* The broker notices the closes within moments; then the fetch must be served. */
    uint64_t deadline_ns = sb_clock_monotonic_ns() + 5 * SB_NS_PER_S;
    int16_t error = SB_WIRE_ERROR_BROKER_BUSY;
    /* Bounded by the deadline. */
    while (error == SB_WIRE_ERROR_BROKER_BUSY && sb_clock_monotonic_ns() < deadline_ns) {
        struct fetch_spec spec = {.topic = "frag", .partition = 0,
                                  .partition_max_bytes = 256 << 10, .max_bytes = 256 << 10};
        client_send(&client, SB_API_FETCH, 0, encode_fetch_spec, &spec);
        struct sb_frame frame;
        cr_assert_eq(client_receive(&client, &frame, TIMEOUT_MS), 0);
        error = frame.header.error_code;
        if (error == SB_WIRE_ERROR_BROKER_BUSY) {
            usleep(100 * 1000);
        }
    }
    cr_assert_eq(error, SB_WIRE_ERROR_NONE, "a 256 KiB fetch after the flood: %s",
                 sb_wire_error_name(error));
    cr_assert_eq(health_on_new_connection(broker.port), SB_WIRE_ERROR_NONE);
    client_close(&client);
    broker_stop_and_destroy(&broker);
}

/* Opens `connections` raw connections and pipelines POLL_PIPELINE long polls on each: topic
 * "poll" partition 0 (empty), 1 MiB per partition, 16 MiB per response, and max_wait and
 * min_bytes INT32_MAX. */
static void
long_polls_start(uint16_t port, uint32_t connections, int *fds)
{
    struct fetch_spec spec = {.topic = "poll", .partition = 0, .partition_max_bytes = 1 << 20,
                              .max_bytes = 16 << 20, .max_wait_ms = INT32_MAX,
                              .min_bytes = INT32_MAX};
    /* All of a connection's requests in one send: one receive buffer at the broker. */
    static uint8_t frames[POLL_PIPELINE * 256];
    uint32_t length = 0;
    for (uint32_t index = 0; index < POLL_PIPELINE; index++) {
        struct sb_frame_header header = {.api_key = SB_API_FETCH, .correlation_id = index};
        length += frame_encode(frames + length, sizeof(frames) - length, &header,
                               encode_fetch_spec, &spec);
    }
    for (uint32_t connection = 0; connection < connections; connection++) {
        fds[connection] = flood_connect(port);
        cr_assert_eq(send(fds[connection], frames, length, MSG_NOSIGNAL), (ssize_t)length);
    }
}

/* A fetch of topic "data" (which has records) must be answered with them within `timeout_ms`
 * (a long-poll's wait says nothing about it). */
static void
expect_data_fetch(struct client *client, int timeout_ms, const char *when)
{
    struct fetch_spec spec = {.topic = "data", .partition = 0, .partition_max_bytes = 1 << 20,
                              .max_bytes = 16 << 20};
    uint32_t correlation = client_send(client, SB_API_FETCH, 0, encode_fetch_spec, &spec);
    struct sb_frame frame;
    int received = client_receive(client, &frame, timeout_ms);
    cr_assert_eq(received, 0, "%s: answered within %d ms (%d)", when, timeout_ms, received);
    cr_assert_eq(frame.header.correlation_id, correlation);
    cr_assert_eq(frame.header.error_code, 0, "%s: %s", when,
                 sb_wire_error_name(frame.header.error_code));
    struct sb_fetch_partition_response partition;
    decode_fetch_partition(&frame, &partition);
    cr_assert_eq(partition.error_code, 0, "%s: %s", when,
                 sb_wire_error_name(partition.error_code));
    cr_assert_gt(partition.records.length, 0u, "%s: records", when);
}

/* Issue 10, defect 5: each parked fetch reserved its buffers up front (about 6 MiB), its wait
 * was not capped, and closing the connection did not end it, so 64 long polls left every other
 * client's fetch with BROKER_BUSY for as long as they waited (up to 24.8 days). */
Test(request, long_polls_hold_no_fetch_memory_and_end_with_their_connection, .timeout = 120)
{
    struct broker_process broker;
    broker_start_new(&broker, 1, "--request-memory-bytes 64m");
    struct client client;
    client_connect(&client, broker.port);
    cr_assert_eq(client_create_topic(&client, "poll", 1), 0);
    cr_assert_eq(client_create_topic(&client, "data", 1), 0);
    static uint8_t batch[4096];
    produce_everywhere(&client, "data", 1, batch, test_batch(batch, sizeof(batch), 5, "data"));
    int fds[POLL_CONNECTIONS_MAX];
    long_polls_start(broker.port, 1, fds);
    struct pollfd poll_fd = {.fd = fds[0], .events = POLLIN};
    cr_assert_eq(poll(&poll_fd, 1, 300), 0, "the long polls wait");
    expect_data_fetch(&client, TIMEOUT_MS, "beside 64 long polls");
    close(fds[0]);
    /* 4096 long polls take every request slot of the shard until they end; their wait (capped
     * at 30 s) is far beyond the 5 s allowed below, so only their connections' closing can
     * end them in time. */
    long_polls_start(broker.port, POLL_CONNECTIONS_MAX, fds);
    usleep(300 * 1000);
    for (uint32_t index = 0; index < POLL_CONNECTIONS_MAX; index++) {
        close(fds[index]);
    }
    expect_data_fetch(&client, 5000, "after 4096 long polls closed");
    client_close(&client);
    broker_stop_and_destroy(&broker);
}

/* Issue 10, defect 5: max_wait_ms is capped at 30 s (docs/protocol.md), so a long poll with
 * max_wait INT32_MAX on an empty partition is answered, empty and without error, within the cap
 * plus a margin for a loaded machine. */
Test(request, long_poll_wait_is_capped, .timeout = 120)
{
    struct broker_process broker;
    broker_start_new(&broker, 2, NULL);
    struct client client;
    client_connect(&client, broker.port);
    cr_assert_eq(client_create_topic(&client, "poll", 1), 0);
    struct fetch_spec spec = {.topic = "poll", .partition = 0, .partition_max_bytes = 1 << 20,
                              .max_bytes = 16 << 20, .max_wait_ms = INT32_MAX,
                              .min_bytes = INT32_MAX};
    client.timeout_ms = 45000;
    struct sb_fetch_partition_response partition;
    client_fetch(&client, &spec, &partition);
    cr_assert_eq(partition.error_code, 0);
    cr_assert_eq(partition.records.length, 0u);
    client_close(&client);
    broker_stop_and_destroy(&broker);
}

/* Issue 10, defect 7: every topic name was looked up by scanning all 4096 topic slots, so one
 * Metadata request of a million names held its shard for seconds. */
Test(request, one_huge_metadata_request_does_not_stall_its_shard, .timeout = 120)
{
    struct broker_process broker;
    broker_start_new(&broker, 1, NULL);
    struct client attacker;
    struct client other;
    client_connect(&attacker, broker.port);
    client_connect(&other, broker.port);
    cr_assert_eq(client_create_topic(&other, "present", 1), 0);
    struct sb_wire_string *names = calloc(STALL_NAMES, sizeof(*names));
    cr_assert_not_null(names);
    for (uint32_t index = 0; index < STALL_NAMES; index++) {
        names[index] = (struct sb_wire_string){"a", 1};
    }
    struct sb_metadata_request request = {.topics = names, .topic_count = STALL_NAMES};
    uint32_t capacity = 4u << 20;
    uint8_t *frame = malloc(capacity);
    cr_assert_not_null(frame);
    struct sb_frame_header header = {.api_key = SB_API_METADATA, .correlation_id = 1};
    uint32_t length = frame_encode(frame, capacity, &header, encode_metadata_request, &request);
    cr_assert_gt(length, 3000000u);
    client_send_raw(&attacker, frame, length);
    /* Let the broker take in the whole frame and start on it. */
    usleep(100 * 1000);
    uint64_t start_ns = sb_clock_monotonic_ns();
    uint32_t correlation = client_send(&other, SB_API_HEALTH, 0, encode_empty_request, NULL);
    struct sb_frame answer;
    cr_assert_eq(client_receive(&other, &answer, TIMEOUT_MS), 0);
    uint64_t health_ms = (sb_clock_monotonic_ns() - start_ns) / SB_NS_PER_MS;
    cr_assert_eq(answer.header.correlation_id, correlation);
    cr_assert_lt(health_ms, STALL_HEALTH_BOUND_MS, "Health took %llu ms",
                 (unsigned long long)health_ms);
    cr_assert_eq(client_receive(&attacker, &answer, TIMEOUT_MS), 0);
    cr_assert_eq(answer.header.error_code, SB_WIRE_ERROR_INVALID_REQUEST, "%s",
                 sb_wire_error_name(answer.header.error_code));
    free(frame);
    free(names);
    client_close(&attacker);
    client_close(&other);
    broker_stop_and_destroy(&broker);
}

/* Fetch version 1 names the topic id the reader's position belongs to: after the topic is
 * deleted and created again, the old id gets UNKNOWN_TOPIC_ID and no records of the new
 * topic; the new id and version 0 (no id) read them. */
Test(request, fetch_naming_a_deleted_topic_id_is_unknown_topic_id, .timeout = 60)
{
    struct broker_process broker;
    broker_start_new(&broker, 2, NULL);
    struct client client;
    client_connect(&client, broker.port);
    uint32_t old_id = 0;
    uint32_t new_id = 0;
    cr_assert_eq(client_create_topic_id(&client, "again", 2, &old_id), 0);
    cr_assert_eq(client_delete_topic(&client, "again"), 0);
    cr_assert_eq(client_create_topic_id(&client, "again", 2, &new_id), 0);
    cr_assert_neq(old_id, new_id, "a topic created again gets a new id");
    static uint8_t batch[4096];
    uint32_t bytes = test_batch(batch, sizeof(batch), 3, "new");
    for (int32_t partition = 0; partition < 2; partition++) {
        int64_t base_offset = -1;
        cr_assert_eq(client_produce_acks_all(&client, "again", partition, batch, bytes,
                                             &base_offset), 0);
        struct fetch_spec spec = {.topic = "again", .partition = partition, .offset = 0,
                                  .partition_max_bytes = 1 << 20, .max_bytes = 1 << 20,
                                  .topic_id = old_id};
        struct sb_fetch_partition_response answer;
        client_fetch(&client, &spec, &answer);
        cr_assert_eq(answer.error_code, SB_WIRE_ERROR_UNKNOWN_TOPIC_ID, "partition %d: %s",
                     partition, sb_wire_error_name(answer.error_code));
        cr_assert_eq(answer.records.length, 0);
        spec.topic_id = new_id;
        client_fetch(&client, &spec, &answer);
        cr_assert_eq(answer.error_code, 0);
        cr_assert_eq(answer.records.length, bytes);
        spec.topic_id = 0;
        client_fetch(&client, &spec, &answer);
        cr_assert_eq(answer.error_code, 0);
        cr_assert_eq(answer.records.length, bytes);
    }
    client_close(&client);
    broker_stop_and_destroy(&broker);
}
