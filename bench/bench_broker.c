/*
 * bench/bench_broker.c - the broker measured over loopback with raw protocol
 * frames (no client library), beside the loopback limit in the same run:
 *   pingpong  TCP round trip of a 64-byte message between two threads (the limit);
 *   rtt       ApiVersions round trips on one connection, one at a time;
 *   produce   produce throughput: CONNECTIONS connections, each with PIPELINE
 *             requests in flight, 64 KiB batches of 1 KiB records, acks 1 or all.
 * Usage:
 *   bench_broker pingpong COUNT
 *   bench_broker rtt PORT COUNT
 *   bench_broker produce PORT TOPIC PARTITIONS ACKS CONNECTIONS SECONDS
 * The broker is started separately (scripts/bench-broker does it all). Prints key=value.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/endian.h"
#include "proto/api_admin.h"
#include "proto/api_meta.h"
#include "proto/api_produce.h"
#include "proto/batch.h"
#include "proto/wire.h"

#define PIPELINE 16
#define BATCH_TARGET_BYTES (64u << 10)

static int
connect_to(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(port),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(fd, (struct sockaddr *)&address, sizeof(address)) != 0) {
        perror("connect");
        exit(1);
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

static void
send_all(int fd, const uint8_t *bytes, size_t length)
{
    while (length > 0) {
        ssize_t sent = send(fd, bytes, length, MSG_NOSIGNAL);
        if (sent <= 0) {
            perror("send");
            exit(1);
        }
        bytes += sent;
        length -= (size_t)sent;
    }
}

static void
receive_all(int fd, uint8_t *bytes, size_t length)
{
    while (length > 0) {
        ssize_t got = recv(fd, bytes, length, 0);
        if (got <= 0) {
            fprintf(stderr, "connection closed\n");
            exit(1);
        }
        bytes += got;
        length -= (size_t)got;
    }
}

/* Receives one frame into buffer; returns its error code. */
static int16_t
receive_frame(int fd, uint8_t *buffer, uint32_t capacity)
{
    receive_all(fd, buffer, 4);
    uint32_t frame_bytes = sb_load_le32(buffer);
    if (frame_bytes + 4 > capacity) {
        fprintf(stderr, "response too large\n");
        exit(1);
    }
    receive_all(fd, buffer + 4, frame_bytes);
    return (int16_t)sb_load_le16(buffer + 18);
}

static int
compare_u64(const void *a, const void *b)
{
    uint64_t left = *(const uint64_t *)a;
    uint64_t right = *(const uint64_t *)b;
    return left < right ? -1 : left > right;
}

static void
print_percentiles(const char *what, uint64_t *samples, uint64_t count)
{
    qsort(samples, count, sizeof(uint64_t), compare_u64);
    printf("%s count=%llu p50_us=%.1f p99_us=%.1f p999_us=%.1f\n", what,
           (unsigned long long)count, (double)samples[count / 2] / 1e3,
           (double)samples[(count - 1) * 99 / 100] / 1e3,
           (double)samples[(count - 1) * 999 / 1000] / 1e3);
}

/* Pins the calling thread to `cpu` when the machine has it (ignored otherwise). */
static void
pin_to(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static void *
pingpong_echo(void *argument)
{
    pin_to(1);
    int listener = *(int *)argument;
    int fd = accept(listener, NULL, NULL);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    uint8_t message[64];
    for (;;) {
        ssize_t got = recv(fd, message, sizeof(message), MSG_WAITALL);
        if (got != (ssize_t)sizeof(message)) {
            break;
        }
        send_all(fd, message, sizeof(message));
    }
    close(fd);
    return NULL;
}

/* The loopback limit: a 64-byte TCP echo between two threads, pinned like a broker on
 * CPU 1 and its client on CPU 0. */
static void
bench_pingpong(uint64_t count)
{
    pin_to(0);
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = {.sin_family = AF_INET,
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t length = sizeof(address);
    bind(listener, (struct sockaddr *)&address, sizeof(address));
    listen(listener, 1);
    getsockname(listener, (struct sockaddr *)&address, &length);
    pthread_t echo;
    pthread_create(&echo, NULL, pingpong_echo, &listener);
    int fd = connect_to(ntohs(address.sin_port));
    uint64_t *samples = calloc(count, sizeof(uint64_t));
    uint8_t message[64] = {0};
    for (uint64_t index = 0; index < count; index++) {
        uint64_t start = sb_clock_monotonic_ns();
        send_all(fd, message, sizeof(message));
        receive_all(fd, message, sizeof(message));
        samples[index] = sb_clock_monotonic_ns() - start;
    }
    close(fd);
    pthread_join(echo, NULL);
    close(listener);
    print_percentiles("pingpong", samples, count);
    free(samples);
}

/* Encodes a request frame into buffer with `encode` writing the body; returns its length. */
static size_t
frame_request(uint8_t *buffer, size_t capacity, uint16_t api_key, uint32_t correlation,
              int (*encode)(struct sb_wire_writer *writer, const void *body), const void *body)
{
    struct sb_wire_writer writer;
    sb_wire_writer_init(&writer, buffer, capacity);
    struct sb_frame_header header = {.api_key = api_key, .correlation_id = correlation};
    if (sb_frame_begin(&writer, &header) != 0 || encode(&writer, body) != 0 ||
        sb_frame_finish(&writer) != 0) {
        fprintf(stderr, "encoding failed\n");
        exit(1);
    }
    return sb_wire_writer_length(&writer);
}

static int
encode_api_versions(struct sb_wire_writer *writer, const void *body)
{
    (void)body;
    return sb_api_versions_request_encode(writer);
}

static void
bench_rtt(uint16_t port, uint64_t count)
{
    int fd = connect_to(port);
    static uint8_t buffer[1 << 16];
    uint64_t *samples = calloc(count, sizeof(uint64_t));
    for (uint64_t index = 0; index < count; index++) {
        size_t length = frame_request(buffer, sizeof(buffer), SB_API_API_VERSIONS,
                                      (uint32_t)index, encode_api_versions, NULL);
        uint64_t start = sb_clock_monotonic_ns();
        send_all(fd, buffer, length);
        receive_frame(fd, buffer, sizeof(buffer));
        samples[index] = sb_clock_monotonic_ns() - start;
    }
    close(fd);
    print_percentiles("rtt api=ApiVersions", samples, count);
    free(samples);
}

static int
encode_create(struct sb_wire_writer *writer, const void *body)
{
    return sb_create_topics_request_encode(writer, body);
}

static int
encode_metadata(struct sb_wire_writer *writer, const void *body)
{
    return sb_metadata_request_encode(writer, body);
}

/* Creates the topic (an existing one is fine) and returns each partition's shard port. */
static void
prepare_topic(uint16_t port, const char *topic, int32_t partitions, uint16_t *ports)
{
    static uint8_t buffer[1 << 20];
    int fd = connect_to(port);
    struct sb_create_topic create = {.name = sb_wire_string_from_cstr(topic),
                                     .partition_count = partitions, .replication_factor = 1};
    struct sb_create_topics_request request = {.topics = &create, .topic_count = 1,
                                               .timeout_ms = 5000};
    send_all(fd, buffer, frame_request(buffer, sizeof(buffer), SB_API_CREATE_TOPICS, 1,
                                       encode_create, &request));
    receive_frame(fd, buffer, sizeof(buffer));
    struct sb_wire_string name = sb_wire_string_from_cstr(topic);
    struct sb_metadata_request metadata = {.topics = &name, .topic_count = 1};
    send_all(fd, buffer, frame_request(buffer, sizeof(buffer), SB_API_METADATA, 2,
                                       encode_metadata, &metadata));
    receive_frame(fd, buffer, sizeof(buffer));
    close(fd);
    struct sb_frame frame;
    struct sb_metadata_response response;
    struct sb_metadata_broker node;
    struct sb_metadata_topic found;
    if (sb_frame_decode(buffer, sb_load_le32(buffer) + 4, UINT32_MAX, &frame) != 0 ||
        sb_metadata_response_decode(frame.body, frame.body_bytes, &response) != 0 ||
        sb_metadata_response_next_broker(&response, &node) != 1 ||
        sb_metadata_response_next_topic(&response, &found) != 1 || found.error_code != 0) {
        fprintf(stderr, "metadata failed\n");
        exit(1);
    }
    struct sb_metadata_partition partition;
    while (sb_metadata_topic_next_partition(&found, &partition) == 1) {
        ports[partition.partition] = (uint16_t)(port + 1 + partition.shard);
    }
}

struct producer_thread {
    uint16_t port;              /* The owning shard's port. */
    const char *topic;          /* Topic name. */
    int32_t partition;          /* Partition written. */
    int16_t acks;               /* 1 or -1. */
    uint64_t end_ns;            /* Stop sending at this time. */
    uint64_t acknowledged;      /* Batches answered without error. */
    uint64_t errors;            /* Batches answered with an error. */
    uint32_t batch_bytes;       /* Bytes per batch. */
    uint32_t records;           /* Records per batch. */
};

static int
encode_produce(struct sb_wire_writer *writer, const void *body)
{
    return sb_produce_request_encode(writer, body);
}

static size_t
produce_frame(struct producer_thread *producer, uint8_t *frame, size_t capacity,
              const uint8_t *batch, uint32_t correlation)
{
    struct sb_produce_partition part = {.partition = producer->partition,
                                        .records = {batch, producer->batch_bytes}};
    struct sb_produce_topic topic = {.name = sb_wire_string_from_cstr(producer->topic),
                                     .partitions = &part, .partition_count = 1};
    struct sb_produce_request request = {.acks = producer->acks, .timeout_ms = 30000,
                                         .topics = &topic, .topic_count = 1};
    return frame_request(frame, capacity, SB_API_PRODUCE, correlation, encode_produce,
                         &request);
}

/* The partition error of a one-partition Produce response (-1 if it does not decode). */
static int16_t
produce_partition_error(const uint8_t *response)
{
    struct sb_frame frame;
    struct sb_produce_response decoded;
    struct sb_produce_topic_response topic;
    struct sb_produce_partition_response partition;
    if (sb_frame_decode(response, sb_load_le32(response) + 4, UINT32_MAX, &frame) != 0 ||
        sb_produce_response_decode(frame.body, frame.body_bytes, &decoded) != 0 ||
        sb_produce_response_next_topic(&decoded, &topic) != 1 ||
        sb_produce_topic_response_next_partition(&topic, &partition) != 1) {
        return -1;
    }
    return partition.error_code;
}

/* Keeps PIPELINE produce requests in flight until the end time, then drains. */
static void *
producer_main(void *argument)
{
    struct producer_thread *producer = argument;
    static _Thread_local uint8_t batch[BATCH_TARGET_BYTES + 4096];
    static _Thread_local uint8_t frame[BATCH_TARGET_BYTES + 8192];
    static _Thread_local uint8_t response[1 << 16];
    static uint8_t value[1024];
    struct sb_batch_builder builder;
    int64_t now_ms = (int64_t)(sb_clock_realtime_ns() / SB_NS_PER_MS);
    sb_batch_builder_init(&builder, batch, sizeof(batch), now_ms);
    struct sb_record record = {.key_length = -1, .value = value, .value_length = 1024,
                               .timestamp_ms = now_ms};
    while (sb_batch_builder_add(&builder, &record) == 0) {
        producer->records++;
    }
    const uint8_t *built;
    sb_batch_builder_finish(&builder, SB_COMPRESSION_NONE, NULL, 0, &built,
                            &producer->batch_bytes);
    int fd = connect_to(producer->port);
    size_t length = produce_frame(producer, frame, sizeof(frame), batch, 0);
    uint32_t outstanding = 0;
    for (; outstanding < PIPELINE; outstanding++) {
        send_all(fd, frame, length);
    }
    while (outstanding > 0) {
        int16_t error = receive_frame(fd, response, sizeof(response));
        outstanding--;
        bool failed = error != 0 || produce_partition_error(response) != 0;
        producer->errors += failed;
        producer->acknowledged += !failed;
        if (sb_clock_monotonic_ns() < producer->end_ns) {
            send_all(fd, frame, length);
            outstanding++;
        }
    }
    close(fd);
    return NULL;
}

static void
bench_produce(uint16_t port, const char *topic, int32_t partitions, int16_t acks,
              uint32_t connections, double seconds)
{
    uint16_t ports[4096];
    if (partitions <= 0 || partitions > 4096 || connections == 0 || connections > 256) {
        fprintf(stderr, "bad arguments\n");
        exit(2);
    }
    prepare_topic(port, topic, partitions, ports);
    struct producer_thread producers[256];
    pthread_t threads[256];
    uint64_t start_ns = sb_clock_monotonic_ns();
    for (uint32_t index = 0; index < connections; index++) {
        int32_t partition = (int32_t)(index % (uint32_t)partitions);
        producers[index] = (struct producer_thread){
            .port = ports[partition], .topic = topic, .partition = partition, .acks = acks,
            .end_ns = start_ns + (uint64_t)(seconds * 1e9)};
        pthread_create(&threads[index], NULL, producer_main, &producers[index]);
    }
    uint64_t batches = 0;
    uint64_t errors = 0;
    for (uint32_t index = 0; index < connections; index++) {
        pthread_join(threads[index], NULL);
        batches += producers[index].acknowledged;
        errors += producers[index].errors;
    }
    double elapsed = (double)(sb_clock_monotonic_ns() - start_ns) / 1e9;
    double bytes = (double)batches * producers[0].batch_bytes;
    printf("produce acks=%d partitions=%d connections=%u seconds=%.2f batches=%llu errors=%llu "
           "mib_s=%.1f records_s=%.0f\n", acks, partitions, connections, elapsed,
           (unsigned long long)batches, (unsigned long long)errors, bytes / 1048576.0 / elapsed,
           (double)batches * producers[0].records / elapsed);
}

int
main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "pingpong") == 0) {
        bench_pingpong(strtoull(argv[2], NULL, 10));
    } else if (argc == 4 && strcmp(argv[1], "rtt") == 0) {
        bench_rtt((uint16_t)atoi(argv[2]), strtoull(argv[3], NULL, 10));
    } else if (argc == 8 && strcmp(argv[1], "produce") == 0) {
        bench_produce((uint16_t)atoi(argv[2]), argv[3], atoi(argv[4]),
                      (int16_t)atoi(argv[5]), (uint32_t)atoi(argv[6]), atof(argv[7]));
    } else {
        fprintf(stderr, "usage: bench_broker pingpong COUNT\n"
                        "       bench_broker rtt PORT COUNT\n"
                        "       bench_broker produce PORT TOPIC PARTITIONS ACKS CONNECTIONS "
                        "SECONDS\n");
        return 2;
    }
    return 0;
}
