/*
 * test/broker/test_abuse.c - hostile clients beyond test_hostile.c's bad frames:
 *
 *  - compression bombs: zstd and gzip batches whose record area claims 64 MiB
 *    (honestly), 2 GiB, or 1000 bytes while expanding to 64 MiB. The broker
 *    stores batches as sent and decompresses only for compaction and time
 *    lookups, both through sb_batch_decompress_records, which refuses a
 *    records_bytes above its buffer before expanding anything and never writes
 *    past records_bytes (fuzz_batch checks both). Here: produce is answered,
 *    ListOffsets by time over the bombs is answered, a fetch returns the bytes
 *    as stored, and the broker's memory does not grow by the expansion;
 *  - a connection flood: 600 connections at once against max_connections 50
 *    per shard; each extra one gets TOO_MANY_CONNECTIONS for its Health (with
 *    its correlation id) or, beyond the refused connections a shard keeps, is
 *    closed unanswered; a client connected before keeps being served, and
 *    afterwards new connections are served again;
 *  - consumers that never read their sockets while pipelining large fetches:
 *    another client's acks=all produce latency (p50/p99) is measured with and
 *    without them and printed for docs/reliability.md (target: p99 within 2x);
 *    the test asserts only that no produce stalls (each under 1 s).
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/base.h"
#include "core/clock.h"
#include "core/crc32c.h"
#include "core/endian.h"
#include "proto/api_fetch.h"
#include "proto/batch.h"
#include "proto/compress.h"
#include "proto/errors.h"
#include "test/broker/broker_fixture.h"

#define TIMEOUT_MS 10000
#define BOMB_BYTES (64u << 20)
#define FLOOD_CONNECTIONS 600u
#define ATTACKERS 8u
#define ATTACK_PIPELINE 64u
#define LATENCY_REQUESTS 1500u

/* A batch of one record whose payload is `codec`(zeros of `expanded` bytes) and whose header
 * claims `claimed` record bytes. Returns its size (in `out`). */
static uint32_t
bomb_batch(uint8_t *out, uint32_t capacity, enum sb_compression codec, uint32_t expanded,
           uint32_t claimed)
{
    uint8_t *zeros = calloc(expanded, 1);
    cr_assert_not_null(zeros);
    int payload = sb_compress(codec, zeros, expanded, out + SB_BATCH_HEADER_BYTES,
                              capacity - SB_BATCH_HEADER_BYTES);
    free(zeros);
    cr_assert_gt(payload, 0);
    int64_t now_ms = (int64_t)(sb_clock_realtime_ns() / SB_NS_PER_MS);
    struct sb_batch_header header = {
        .batch_bytes = SB_BATCH_HEADER_BYTES + (uint32_t)payload, .record_count = 1,
        .first_timestamp_ms = now_ms, .max_timestamp_ms = now_ms, .producer_id = -1,
        .producer_epoch = -1, .attributes = (uint16_t)codec, .base_sequence = -1,
        .records_bytes = claimed,
    };
    header.payload_crc32c = sb_crc32c(0, out + SB_BATCH_HEADER_BYTES, (size_t)payload);
    sb_batch_header_encode(&header, out);
    return SB_BATCH_HEADER_BYTES + (uint32_t)payload;
}

/* ListOffsets by time on `partition`; returns the partition's error (answered at all) and
 * the offset found in *offset. */
static int16_t
list_offsets_by_time(struct client *client, const char *topic_name, int32_t partition,
                     int64_t timestamp_ms, int64_t *offset)
{
    struct sb_list_offsets_partition part = {.partition = partition, .timestamp = timestamp_ms};
    struct sb_list_offsets_topic topic = {.name = sb_wire_string_from_cstr(topic_name),
                                          .partitions = &part, .partition_count = 1};
    struct sb_list_offsets_request request = {.topics = &topic, .topic_count = 1};
    client_send(client, SB_API_LIST_OFFSETS, 0, encode_list_offsets_request, &request);
    struct sb_frame frame;
    cr_assert_eq(client_receive(client, &frame, TIMEOUT_MS), 0, "ListOffsets is answered");
    struct sb_list_offsets_response response;
    struct sb_list_offsets_topic_response topic_response;
    struct sb_list_offsets_partition_response result;
    cr_assert_eq(sb_list_offsets_response_decode(frame.body, frame.body_bytes, &response), 0);
    cr_assert_eq(sb_list_offsets_response_next_topic(&response, &topic_response), 1);
    cr_assert_eq(sb_list_offsets_topic_response_next_partition(&topic_response, &result), 1);
    *offset = result.offset;
    return result.error_code;
}

/* Fetches offset 0 of `partition`: the stored batch comes back byte for byte, or nothing. */
static void
fetch_as_stored(struct client *client, const char *topic_name, int32_t partition,
                const uint8_t *sent, uint32_t bytes)
{
    struct fetch_spec spec = {.topic = topic_name, .partition = partition,
                              .partition_max_bytes = 1 << 20, .max_bytes = 1 << 20};
    struct sb_fetch_partition_response result;
    client_fetch(client, &spec, &result);
    cr_assert_eq(result.error_code, 0);
    cr_assert_eq(result.records.length, bytes, "the bomb is served as stored, unexpanded");
    /* Only the base offset (and header CRC) differ from what was sent. */
    cr_assert_eq(memcmp(result.records.data + SB_BATCH_HEADER_BYTES,
                        sent + SB_BATCH_HEADER_BYTES, bytes - SB_BATCH_HEADER_BYTES), 0);
}

Test(abuse, compression_bombs_are_never_expanded, .timeout = 120)
{
    struct broker_process broker;
    broker_init(&broker, 1);
    broker_start(&broker);
    struct client client;
    client_connect(&client, broker.port);
    cr_assert_eq(client_create_topic(&client, "bombs", 4), SB_WIRE_ERROR_NONE);
    long rss_before = broker_rss_kb(&broker);
    static uint8_t batches[4][1 << 20];
    uint32_t sizes[4] = {
        bomb_batch(batches[0], sizeof(batches[0]), SB_COMPRESSION_ZSTD, BOMB_BYTES, BOMB_BYTES),
        bomb_batch(batches[1], sizeof(batches[1]), SB_COMPRESSION_ZSTD, BOMB_BYTES, 1000),
        bomb_batch(batches[2], sizeof(batches[2]), SB_COMPRESSION_GZIP, BOMB_BYTES, 1u << 31),
        bomb_batch(batches[3], sizeof(batches[3]), SB_COMPRESSION_GZIP, BOMB_BYTES / 4,
                   BOMB_BYTES / 4),
    };
    int64_t now_ms = (int64_t)(sb_clock_realtime_ns() / SB_NS_PER_MS);
    for (int32_t partition = 0; partition < 4; partition++) {
        /* docs/reliability.md: answered, stored as sent (the broker checks the header and
         * the payload CRC, never the expansion), found by a time lookup, served unexpanded. */
        int64_t base_offset;
        int16_t stored = client_produce_acks_all(&client, "bombs", partition,
                                                 batches[partition], sizes[partition],
                                                 &base_offset);
        cr_assert_eq(stored, SB_WIRE_ERROR_NONE, "bomb %d stored as sent: %s", partition,
                     sb_wire_error_name(stored));
        cr_assert_eq(base_offset, 0);
        int64_t found;
        int16_t lookup = list_offsets_by_time(&client, "bombs", partition, now_ms - 60000,
                                              &found);
        cr_assert_eq(lookup, SB_WIRE_ERROR_NONE, "bomb %d: time lookup %s", partition,
                     sb_wire_error_name(lookup));
        cr_assert_eq(found, 0, "the lookup finds the bomb's offset");
        fetch_as_stored(&client, "bombs", partition, batches[partition], sizes[partition]);
    }
    cr_assert_eq(health_on_new_connection(broker.port), SB_WIRE_ERROR_NONE, "still serving");
    long rss_after = broker_rss_kb(&broker);
    cr_log_info("broker RSS %ld kB -> %ld kB", rss_before, rss_after);
    /* A generous bound, not a measurement: one expanded bomb alone adds 64 MiB (the 2 GiB
     * claim far more), while serving the four as stored adds a few MiB of buffers. */
    cr_assert_lt(rss_after - rss_before, 32 * 1024, "no bomb was expanded (64 MiB each)");
    client_close(&client);
    cr_assert_eq(broker_stop(&broker), 0);
    broker_destroy(&broker);
}

/* A raw socket connected to the broker, or -1. */
static int
connect_raw(uint16_t port, int receive_buffer_bytes)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (receive_buffer_bytes > 0) {
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer_bytes,
                   sizeof(receive_buffer_bytes));
    }
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(port),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(fd, (struct sockaddr *)&address, sizeof(address)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Health on a fresh frame over `fd`. */
static void
send_health(int fd, uint32_t correlation)
{
    uint8_t frame[64];
    struct sb_wire_writer writer;
    sb_wire_writer_init(&writer, frame, sizeof(frame));
    struct sb_frame_header header = {.api_key = SB_API_HEALTH, .correlation_id = correlation};
    cr_assert_eq(sb_frame_begin(&writer, &header), 0);
    cr_assert_eq(sb_frame_finish(&writer), 0);
    ssize_t sent = send(fd, frame, sb_wire_writer_length(&writer), MSG_NOSIGNAL);
    (void)sent; /* A refused connection may already be closed. */
}

/* What became of a flood connection that sent Health `correlation`: 0 served, 1 answered
 * TOO_MANY_CONNECTIONS, 2 closed without an answer. Asserts that an answer, if any, is for
 * `correlation` and one of the two. */
static int
flood_outcome(int fd, uint32_t correlation)
{
    struct pollfd poll_fd = {.fd = fd, .events = POLLIN};
    uint8_t bytes[256];
    if (poll(&poll_fd, 1, 5000) != 1 || recv(fd, bytes, 4, MSG_WAITALL) != 4) {
        return 2;
    }
    uint32_t frame_bytes = sb_load_le32(bytes);
    cr_assert_leq(frame_bytes, sizeof(bytes) - 4, "a Health answer is small");
    cr_assert_eq(recv(fd, bytes + 4, frame_bytes, MSG_WAITALL), (ssize_t)frame_bytes);
    struct sb_frame frame;
    cr_assert_eq(sb_frame_decode(bytes, 4 + frame_bytes, 1 << 20, &frame), 0);
    cr_assert_eq(frame.header.correlation_id, correlation);
    cr_assert(frame.header.error_code == SB_WIRE_ERROR_NONE ||
              frame.header.error_code == SB_WIRE_ERROR_TOO_MANY_CONNECTIONS, "answered %s",
              sb_wire_error_name(frame.header.error_code));
    return frame.header.error_code == SB_WIRE_ERROR_NONE ? 0 : 1;
}

Test(abuse, connection_flood_beyond_the_limit_keeps_others_served, .timeout = 120)
{
    struct broker_process broker;
    broker_init(&broker, 2);
    snprintf(broker.extra, sizeof(broker.extra), "--max-connections 50");
    broker_start(&broker);
    struct client victim;
    client_connect(&victim, broker.port);
    long rss_before = broker_rss_kb(&broker);
    static int fds[FLOOD_CONNECTIONS];
    uint32_t connected = 0;
    for (uint32_t index = 0; index < FLOOD_CONNECTIONS; index++) {
        fds[index] = connect_raw(broker.port, 0);
        connected += fds[index] >= 0;
        if (fds[index] >= 0) {
            send_health(fds[index], index + 1);
        }
    }
    /* The connection made before the flood is still served, promptly. */
    uint32_t correlation = client_send(&victim, SB_API_HEALTH, 0, encode_empty_request, NULL);
    struct sb_frame frame;
    uint64_t start_ns = sb_clock_monotonic_ns();
    cr_assert_eq(client_receive(&victim, &frame, TIMEOUT_MS), 0);
    cr_assert_eq(frame.header.correlation_id, correlation);
    uint64_t victim_us = (sb_clock_monotonic_ns() - start_ns) / 1000;
    uint32_t outcomes[3] = {0}; /* Served, refused with TOO_MANY_CONNECTIONS, closed. */
    for (uint32_t index = 0; index < FLOOD_CONNECTIONS; index++) {
        if (fds[index] >= 0) {
            outcomes[flood_outcome(fds[index], index + 1)]++;
        }
    }
    cr_log_info("flood: %u of %u connected, %u served (limit 2 x 50), %u refused, %u closed; "
                "victim answered in %llu us", connected, FLOOD_CONNECTIONS, outcomes[0],
                outcomes[1], outcomes[2], (unsigned long long)victim_us);
    cr_assert_leq(outcomes[0], 2 * 50, "connections beyond max_connections are refused");
    cr_assert_gt(outcomes[0], 0);
    cr_assert_gt(outcomes[1], 0, "refused connections are told why");
    for (uint32_t index = 0; index < FLOOD_CONNECTIONS; index++) {
        if (fds[index] >= 0) {
            close(fds[index]);
        }
    }
    /* Slots free again once the closes are noticed (bounded retries). */
    bool served = false;
    for (int attempt = 0; attempt < 100 && !served; attempt++) {
        struct client late;
        client_connect(&late, broker.port);
        client_send(&late, SB_API_HEALTH, 0, encode_empty_request, NULL);
        served = client_receive(&late, &frame, 200) == 0;
        client_close(&late);
    }
    cr_assert(served, "new connections are served after the flood");
    long rss_after = broker_rss_kb(&broker);
    cr_log_info("broker RSS %ld kB -> %ld kB", rss_before, rss_after);
    cr_assert_lt(rss_after - rss_before, 32 * 1024);
    client_close(&victim);
    cr_assert_eq(broker_stop(&broker), 0);
    broker_destroy(&broker);
}

static int
compare_u64(const void *a, const void *b)
{
    uint64_t left = *(const uint64_t *)a;
    uint64_t right = *(const uint64_t *)b;
    return left < right ? -1 : left > right;
}

struct latency {
    uint64_t p50_us; /* Median produce round trip. */
    uint64_t p99_us; /* 99th percentile. */
    uint64_t max_us; /* Slowest. */
};

/* LATENCY_REQUESTS acks=all produces of one small batch, one at a time. */
static struct latency
measure_produce(struct client *client)
{
    static uint64_t samples[LATENCY_REQUESTS];
    static uint8_t batch[4096];
    uint32_t bytes = test_batch(batch, sizeof(batch), 10, "latency");
    for (uint32_t index = 0; index < LATENCY_REQUESTS; index++) {
        uint64_t start_ns = sb_clock_monotonic_ns();
        cr_assert_eq(client_produce_acks_all(client, "victim", 0, batch, bytes, NULL), 0);
        samples[index] = (sb_clock_monotonic_ns() - start_ns) / 1000;
    }
    qsort(samples, LATENCY_REQUESTS, sizeof(samples[0]), compare_u64);
    return (struct latency){.p50_us = samples[LATENCY_REQUESTS / 2],
                            .p99_us = samples[LATENCY_REQUESTS * 99 / 100],
                            .max_us = samples[LATENCY_REQUESTS - 1]};
}

/* Pipelines ATTACK_PIPELINE fetches of up to 4 MiB each and never reads the answers. */
static int
attacker_start(uint16_t port)
{
    int fd = connect_raw(port, 4096);
    cr_assert_geq(fd, 0);
    static uint8_t frame[256];
    for (uint32_t index = 0; index < ATTACK_PIPELINE; index++) {
        struct sb_fetch_partition part = {.partition = 0, .fetch_offset = 0,
                                          .partition_max_bytes = 4 << 20};
        struct sb_fetch_topic topic = {.name = sb_wire_string_from_cstr("big"),
                                       .partitions = &part, .partition_count = 1};
        struct sb_fetch_request request = {.max_bytes = 4 << 20, .topics = &topic,
                                           .topic_count = 1};
        struct sb_wire_writer writer;
        sb_wire_writer_init(&writer, frame, sizeof(frame));
        struct sb_frame_header header = {.api_key = SB_API_FETCH, .correlation_id = index};
        cr_assert_eq(sb_frame_begin(&writer, &header), 0);
        cr_assert_eq(encode_fetch_request(&writer, &request), 0);
        cr_assert_eq(sb_frame_finish(&writer), 0);
        ssize_t sent = send(fd, frame, sb_wire_writer_length(&writer), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (sent <= 0) {
            break; /* Our own send buffer is full: the broker stopped reading us. */
        }
    }
    return fd;
}

Test(abuse, consumers_that_never_read_do_not_slow_others_down, .timeout = 180)
{
    struct broker_process broker;
    broker_init(&broker, 2);
    snprintf(broker.extra, sizeof(broker.extra), "--request-memory-bytes 64m");
    broker_start(&broker);
    struct client client;
    client_connect(&client, broker.port);
    cr_assert_eq(client_create_topic(&client, "victim", 1), SB_WIRE_ERROR_NONE);
    cr_assert_eq(client_create_topic(&client, "big", 1), SB_WIRE_ERROR_NONE);
    static uint8_t batch[1 << 20];
    for (int index = 0; index < 8; index++) {
        uint32_t bytes = test_batch(batch, sizeof(batch), 12000, "big-padding-padding-padding");
        cr_assert_eq(client_produce_acks_all(&client, "big", 0, batch, bytes, NULL), 0);
    }
    measure_produce(&client); /* Warm-up. */
    struct latency baseline = measure_produce(&client);
    int attackers[ATTACKERS];
    for (uint32_t index = 0; index < ATTACKERS; index++) {
        attackers[index] = attacker_start(broker.port);
    }
    struct latency attacked = measure_produce(&client);
    long rss_attacked = broker_rss_kb(&broker);
    health_on_new_connection(broker.port); /* Others are answered (busy or not). */
    for (uint32_t index = 0; index < ATTACKERS; index++) {
        close(attackers[index]);
    }
    struct latency after = measure_produce(&client);
    fprintf(stderr, "abuse: produce latency p50/p99 us: baseline %llu/%llu, with %u "
            "non-reading consumers %llu/%llu (p99 ratio %.2f), after %llu/%llu; broker RSS "
            "under attack %ld kB\n", (unsigned long long)baseline.p50_us,
            (unsigned long long)baseline.p99_us, ATTACKERS,
            (unsigned long long)attacked.p50_us, (unsigned long long)attacked.p99_us,
            (double)attacked.p99_us / (double)(baseline.p99_us ? baseline.p99_us : 1),
            (unsigned long long)after.p50_us, (unsigned long long)after.p99_us, rss_attacked);
    /* Not a speed assertion: the 2x p99 target is a figure for docs/reliability.md, printed
     * above, and not asserted on this shared 2-core machine. What is asserted is that no
     * produce stalls behind the attackers' memory: a stalled one would wait until they read
     * (never), while 1 s is hundreds of times the p99 of a loaded run. */
    cr_assert_lt(attacked.max_us, 1000000, "slowest produce under attack took %llu us",
                 (unsigned long long)attacked.max_us);
    client_close(&client);
    cr_assert_eq(broker_stop(&broker), 0);
    broker_destroy(&broker);
}
