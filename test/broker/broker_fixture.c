/*
 * test/broker/broker_fixture.c - see broker_fixture.h.
 */
#include "test/broker/broker_fixture.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "proto/api_admin.h"
#include "proto/api_meta.h"
#include "proto/api_produce.h"
#include "proto/api_producer.h"
#include "proto/batch.h"
#include "proto/errors.h"

#ifndef STREAMBUS_BINARY
#error "STREAMBUS_BINARY must name the streambus executable"
#endif

/* Ports tests listen on: below Linux's ephemeral range (32768-60999 by default), so that no
 * outgoing connection of a concurrently running test can hold a port a broker is about to
 * bind. */
#define TEST_PORT_FIRST 10000u
#define TEST_PORT_COUNT 22000u
/* The file whose bytes stand for ports: see port_range_claim. */
#define TEST_PORT_LOCK_FILE "/tmp/streambus-test-ports.lock"
/* How often a first start tries a new port range when another process took the picked one
 * between picking and binding. */
#define START_PORT_ATTEMPTS 5
/* How long a start may take before its main port answers: a wait for an event, not a speed
 * bound. A sanitizer build on a loaded 2-CPU machine once needed more than 5 s. */
#define START_WAIT_S 60

/* True when ports base .. base + cores can all be bound now. */
static bool
port_range_free(uint16_t base, uint32_t cores)
{
    bool free_range = true;
    for (uint32_t offset = 0; offset <= cores && free_range; offset++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in address = {.sin_family = AF_INET,
                                      .sin_port = htons((uint16_t)(base + offset)),
                                      .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        free_range = bind(fd, (struct sockaddr *)&address, sizeof(address)) == 0;
        close(fd);
    }
    return free_range;
}

/* Claims ports base .. base + cores among every test process of this machine: a write lock
 * on those bytes of one shared file (an open-file-description lock, released when the
 * returned descriptor is closed or the process ends, so none is ever left stale). Returns the
 * descriptor, or -1 when another test holds part of the range. */
static int
port_range_claim(uint16_t base, uint32_t cores)
{
    int fd = open(TEST_PORT_LOCK_FILE, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    cr_assert_geq(fd, 0, "%s: %s", TEST_PORT_LOCK_FILE, strerror(errno));
    struct flock lock = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = base,
                         .l_len = (off_t)cores + 1};
    if (fcntl(fd, F_OFD_SETLK, &lock) == 0) {
        return fd;
    }
    close(fd);
    return -1;
}

/* A port range no test claimed and nobody listens on: base, base + 1 .. base + cores. Keeps
 * the claim in broker->port_claim until broker_destroy. */
static void
pick_ports(struct broker_process *broker)
{
    if (broker->port_claim > 0) {
        close(broker->port_claim);
    }
    uint32_t cores = broker->cores;
    uint32_t seed = (uint32_t)getpid() * 2654435761u ^ (uint32_t)sb_clock_monotonic_ns();
    for (uint32_t attempt = 0; attempt < 200; attempt++) {
        uint16_t base =
            (uint16_t)(TEST_PORT_FIRST + (seed + attempt * 7919u) % (TEST_PORT_COUNT - cores));
        int claim = port_range_claim(base, cores);
        if (claim < 0) {
            continue;
        }
        if (port_range_free(base, cores)) {
            broker->port = base;
            broker->port_claim = claim;
            return;
        }
        close(claim);
    }
    cr_assert_fail("no free port range");
}

void
broker_init(struct broker_process *broker, uint32_t cores)
{
    memset(broker, 0, sizeof(*broker));
    snprintf(broker->data_dir, sizeof(broker->data_dir), "/tmp/sb-broker-XXXXXX");
    cr_assert_not_null(mkdtemp(broker->data_dir));
    broker->cores = cores;
    pick_ports(broker);
}

/* Sends ApiVersions (an empty body) and waits briefly for any answer. */
static bool
broker_probe(struct client *probe)
{
    client_send(probe, SB_API_API_VERSIONS, 0, encode_api_versions_request, NULL);
    struct sb_frame frame;
    return client_receive(probe, &frame, 1000) == 0;
}

void
broker_spawn(struct broker_process *broker)
{
    char listen[64];
    char cores[16];
    snprintf(listen, sizeof(listen), "127.0.0.1:%u", broker->port);
    snprintf(cores, sizeof(cores), "%u", broker->cores);
    char *argv[48] = {STREAMBUS_BINARY, "--data-dir", broker->data_dir, "--listen", listen,
                      "--cores", cores, "--wal-prefill", "false", "--wal-file-bytes", "4m",
                      "--memtable-bytes", "16m", "--block-cache-bytes", "4m",
                      "--log-level", getenv("SB_TEST_LOG_LEVEL") != NULL
                                         ? getenv("SB_TEST_LOG_LEVEL") : "warn"};
    int argc = 17;
    static char extra[256];
    snprintf(extra, sizeof(extra), "%s", broker->extra);
    for (char *token = strtok(extra, " "); token != NULL && argc < 46;
         token = strtok(NULL, " ")) {
        argv[argc++] = token;
    }
    argv[argc] = NULL;
    broker->pid = fork();
    cr_assert_geq(broker->pid, 0);
    if (broker->pid == 0) {
        /* If the test dies (a failed assertion), the broker goes with it. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        execv(argv[0], argv);
        _exit(127);
    }
}

/* Spawns the broker and waits (bounded) until its main port answers; returns false when it
 * exited before answering. */
static bool
broker_spawn_and_wait(struct broker_process *broker)
{
    broker_spawn(broker);
    struct client probe;
    uint64_t deadline_ns = sb_clock_monotonic_ns() + START_WAIT_S * SB_NS_PER_S;
    /* Bounded by the deadline. */
    while (sb_clock_monotonic_ns() < deadline_ns) {
        /* A listener of a killed broker can outlive it briefly (its io_uring is torn down
         * after the exit), so only an answered request proves the new broker is up. */
        if (client_try_connect(&probe, broker->port) == 0) {
            bool answered = broker_probe(&probe);
            client_close(&probe);
            if (answered) {
                return true;
            }
        }
        int status;
        if (waitpid(broker->pid, &status, WNOHANG) == broker->pid) {
            broker->pid = 0;
            return false;
        }
        struct timespec delay = {0, 10 * 1000 * 1000};
        nanosleep(&delay, NULL);
    }
    cr_assert_fail("broker did not start listening within %d s", START_WAIT_S);
    return false;
}

void
broker_start(struct broker_process *broker)
{
    bool first_start = !broker->started;
    for (int attempt = 0; attempt < START_PORT_ATTEMPTS; attempt++) {
        if (broker_spawn_and_wait(broker)) {
            broker->started = true;
            return;
        }
        /* Another process (not a test: those claim their ports) bound the range between
         * picking and binding: a first start moves to a new range; anything else is the
         * broker's own failure. */
        cr_assert(first_start && !port_range_free(broker->port, broker->cores),
                  "broker exited at start");
        pick_ports(broker);
    }
    cr_assert_fail("broker lost its ports %d times", START_PORT_ATTEMPTS);
}

static int
broker_wait(struct broker_process *broker)
{
    int status = 0;
    for (int attempt = 0; attempt < 3000; attempt++) {
        pid_t done = waitpid(broker->pid, &status, WNOHANG);
        if (done == broker->pid) {
            broker->pid = 0;
            return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
        }
        struct timespec delay = {0, 10 * 1000 * 1000};
        nanosleep(&delay, NULL);
    }
    kill(broker->pid, SIGKILL);
    waitpid(broker->pid, &status, 0);
    broker->pid = 0;
    cr_assert_fail("broker did not stop within 30 s");
    return -1;
}

int
broker_stop(struct broker_process *broker)
{
    cr_assert_gt(broker->pid, 0);
    kill(broker->pid, SIGTERM);
    return broker_wait(broker);
}

void
broker_kill(struct broker_process *broker)
{
    cr_assert_gt(broker->pid, 0);
    kill(broker->pid, SIGKILL);
    broker_wait(broker);
}

static int
remove_entry(const char *path, const struct stat *status, int flag, struct FTW *walk)
{
    (void)status;
    (void)flag;
    (void)walk;
    return remove(path);
}

void
broker_destroy(struct broker_process *broker)
{
    if (broker->pid > 0) {
        broker_kill(broker);
    }
    nftw(broker->data_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    if (broker->port_claim > 0) {
        close(broker->port_claim);
        broker->port_claim = 0;
    }
}

void
broker_start_new(struct broker_process *broker, uint32_t cores, const char *extra)
{
    broker_init(broker, cores);
    snprintf(broker->extra, sizeof(broker->extra), "%s", extra != NULL ? extra : "");
    broker_start(broker);
}

void
broker_stop_and_destroy(struct broker_process *broker)
{
    cr_assert_eq(broker_stop(broker), 0, "SIGTERM exits 0");
    broker_destroy(broker);
}

long
broker_rss_kb(const struct broker_process *broker)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)broker->pid);
    FILE *file = fopen(path, "r");
    cr_assert_not_null(file);
    char line[256];
    long rss = -1;
    while (fgets(line, sizeof(line), file) != NULL) {
        if (strncmp(line, "VmRSS:", 6) == 0) {
            rss = strtol(line + 6, NULL, 10);
        }
    }
    fclose(file);
    return rss;
}

int
client_try_connect(struct client *client, uint16_t port)
{
    memset(client, 0, sizeof(*client));
    client->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(port),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(client->fd, (struct sockaddr *)&address, sizeof(address)) != 0) {
        int error = -errno;
        close(client->fd);
        return error;
    }
    int one = 1;
    setsockopt(client->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    client->capacity = 32u << 20;
    client->buffer = malloc(client->capacity);
    client->next_correlation = 1;
    client->timeout_ms = CLIENT_TIMEOUT_MS;
    return 0;
}

void
client_connect(struct client *client, uint16_t port)
{
    cr_assert_eq(client_try_connect(client, port), 0, "connect to %u", port);
}

void
client_close(struct client *client)
{
    close(client->fd);
    free(client->buffer);
    client->buffer = NULL;
}

void
client_send_raw(struct client *client, const void *bytes, size_t length)
{
    const uint8_t *cursor = bytes;
    while (length > 0) {
        ssize_t sent = send(client->fd, cursor, length, MSG_NOSIGNAL);
        if (sent <= 0) {
            return; /* The broker closed: the receive that follows says so. */
        }
        cursor += sent;
        length -= (size_t)sent;
    }
}

uint32_t
client_send(struct client *client, uint16_t api_key, uint16_t flags,
            int (*encode)(struct sb_wire_writer *writer, const void *request),
            const void *request)
{
    static uint8_t frame[16u << 20];
    struct sb_frame_header header = {.api_key = api_key, .flags = flags,
                                     .correlation_id = client->next_correlation++};
    client_send_raw(client, frame, frame_encode(frame, sizeof(frame), &header, encode, request));
    return header.correlation_id;
}

uint32_t
frame_encode(uint8_t *frame, uint32_t capacity, const struct sb_frame_header *header,
             int (*encode)(struct sb_wire_writer *writer, const void *request),
             const void *request)
{
    struct sb_wire_writer writer;
    sb_wire_writer_init(&writer, frame, capacity);
    cr_assert_eq(sb_frame_begin(&writer, header), 0);
    cr_assert_eq(encode(&writer, request), 0);
    cr_assert_eq(sb_frame_finish(&writer), 0);
    return (uint32_t)sb_wire_writer_length(&writer);
}

static int
client_read_exactly(struct client *client, uint8_t *out, size_t length, int timeout_ms)
{
    size_t have = 0;
    while (have < length) {
        struct pollfd poll_fd = {.fd = client->fd, .events = POLLIN};
        int ready = poll(&poll_fd, 1, timeout_ms);
        if (ready == 0) {
            return -ETIMEDOUT;
        }
        ssize_t got = recv(client->fd, out + have, length - have, 0);
        if (got == 0) {
            return -ECONNRESET;
        }
        if (got < 0) {
            return errno == EINTR ? 0 : -errno;
        }
        have += (size_t)got;
    }
    return 0;
}

int
client_receive(struct client *client, struct sb_frame *frame, int timeout_ms)
{
    int result = client_read_exactly(client, client->buffer, 4, timeout_ms);
    if (result != 0) {
        return result;
    }
    uint32_t frame_bytes = (uint32_t)client->buffer[0] | (uint32_t)client->buffer[1] << 8 |
                           (uint32_t)client->buffer[2] << 16 | (uint32_t)client->buffer[3] << 24;
    cr_assert_leq(frame_bytes + 4, client->capacity);
    result = client_read_exactly(client, client->buffer + 4, frame_bytes, timeout_ms);
    if (result != 0) {
        return result;
    }
    cr_assert_eq(sb_frame_decode(client->buffer, frame_bytes + 4, UINT32_MAX, frame), 0,
                 "a well-formed response frame");
    return 0;
}

uint32_t
test_batch(uint8_t *buffer, uint32_t capacity, uint32_t count, const char *prefix)
{
    struct sb_batch_builder builder;
    int64_t now_ms = (int64_t)(sb_clock_realtime_ns() / SB_NS_PER_MS);
    sb_batch_builder_init(&builder, buffer, capacity, now_ms);
    for (uint32_t index = 0; index < count; index++) {
        char key[32];
        char value[128];
        int key_length = snprintf(key, sizeof(key), "key-%u", index);
        int value_length = snprintf(value, sizeof(value), "%s-%u", prefix, index);
        struct sb_record record = {.key = key, .key_length = key_length, .value = value,
                                   .value_length = value_length, .timestamp_ms = now_ms};
        cr_assert_eq(sb_batch_builder_add(&builder, &record), 0);
    }
    const uint8_t *batch;
    uint32_t bytes;
    cr_assert_eq(sb_batch_builder_finish(&builder, SB_COMPRESSION_NONE, NULL, 0, &batch, &bytes),
                 0);
    return bytes;
}

uint32_t
test_producer_batch(uint8_t *buffer, uint32_t capacity, int64_t producer_id,
                    int16_t epoch, int32_t sequence, uint32_t records)
{
    struct sb_batch_builder builder;
    sb_batch_builder_init(&builder, buffer, capacity, 1000);
    if (producer_id >= 0) {
        sb_batch_builder_set_producer(&builder, producer_id, epoch, sequence);
    }
    for (uint32_t index = 0; index < records; index++) {
        struct sb_record record = {.key = "k", .key_length = 1, .value = "v",
                                   .value_length = 1, .timestamp_ms = 1000};
        cr_assert_eq(sb_batch_builder_add(&builder, &record), 0);
    }
    const uint8_t *bytes;
    uint32_t length;
    cr_assert_eq(sb_batch_builder_finish(&builder, SB_COMPRESSION_NONE, NULL, 0, &bytes,
                                         &length), 0);
    memmove(buffer, bytes, length);
    return length;
}

int
encode_empty_request(struct sb_wire_writer *writer, const void *request)
{
    (void)writer;
    (void)request;
    return 0;
}

int
encode_api_versions_request(struct sb_wire_writer *writer, const void *request)
{
    (void)request;
    return sb_api_versions_request_encode(writer);
}

int
encode_metadata_request(struct sb_wire_writer *writer, const void *request)
{
    return sb_metadata_request_encode(writer, request);
}

int
encode_create_topics_request(struct sb_wire_writer *writer, const void *request)
{
    return sb_create_topics_request_encode(writer, request);
}

int
encode_init_producer_id_request(struct sb_wire_writer *writer, const void *request)
{
    return sb_init_producer_id_request_encode(writer, request);
}

int
encode_produce_request(struct sb_wire_writer *writer, const void *request)
{
    return sb_produce_request_encode(writer, request);
}

int
encode_fetch_request(struct sb_wire_writer *writer, const void *request)
{
    return sb_fetch_request_encode(writer, request);
}

int
encode_list_offsets_request(struct sb_wire_writer *writer, const void *request)
{
    return sb_list_offsets_request_encode(writer, request);
}

int16_t
health_on_new_connection(uint16_t port)
{
    struct client client;
    client_connect(&client, port);
    uint32_t correlation = client_send(&client, SB_API_HEALTH, 0, encode_empty_request, NULL);
    struct sb_frame frame;
    cr_assert_eq(client_receive(&client, &frame, client.timeout_ms), 0, "Health is answered");
    cr_assert_eq(frame.header.correlation_id, correlation);
    client_close(&client);
    return frame.header.error_code;
}

bool
new_connection_answered(uint16_t port, int attempts, int timeout_ms)
{
    bool answered = false;
    for (int attempt = 0; attempt < attempts && !answered; attempt++) {
        struct client client;
        client_connect(&client, port);
        client_send(&client, SB_API_HEALTH, 0, encode_empty_request, NULL);
        struct sb_frame frame;
        answered = client_receive(&client, &frame, timeout_ms) == 0;
        client_close(&client);
    }
    return answered;
}

int16_t
client_create_topic(struct client *client, const char *name, int32_t partitions)
{
    return client_create_topic_id(client, name, partitions, NULL);
}

int16_t
client_create_topic_id(struct client *client, const char *name, int32_t partitions,
                       uint32_t *topic_id_out)
{
    struct sb_create_topic topic = {.name = sb_wire_string_from_cstr(name),
                                    .partition_count = partitions, .replication_factor = 1};
    struct sb_create_topics_request request = {.topics = &topic, .topic_count = 1,
                                               .timeout_ms = 5000};
    uint32_t correlation = client_send(client, SB_API_CREATE_TOPICS, 0,
                                       encode_create_topics_request, &request);
    struct sb_frame frame;
    int received = client_receive(client, &frame, client->timeout_ms);
    cr_assert_eq(received, 0, "create %s: receive %d", name, received);
    cr_assert_eq(frame.header.correlation_id, correlation);
    cr_assert_eq(frame.header.error_code, 0, "create %s: %s", name,
                 sb_wire_error_name(frame.header.error_code));
    struct sb_create_topics_response response;
    cr_assert_eq(sb_create_topics_response_decode(frame.body, frame.body_bytes, &response), 0);
    struct sb_create_topic_result result;
    cr_assert_eq(sb_create_topics_response_next_topic(&response, &result), 1);
    if (topic_id_out != NULL) {
        *topic_id_out = result.topic_id;
    }
    return result.error_code;
}

/* Receives the answer to `correlation`, asserting it comes without a frame-level error. */
static void
client_receive_answer(struct client *client, uint32_t correlation, struct sb_frame *frame)
{
    int received = client_receive(client, frame, client->timeout_ms);
    cr_assert_eq(received, 0, "receive %d", received);
    cr_assert_eq(frame->header.correlation_id, correlation);
    cr_assert_eq(frame->header.error_code, 0, "%s", sb_wire_error_name(frame->header.error_code));
}

static int
encode_delete_topics_request(struct sb_wire_writer *writer, const void *request)
{
    return sb_delete_topics_request_encode(writer, request);
}

int16_t
client_delete_topic(struct client *client, const char *name)
{
    struct sb_wire_string names[1] = {sb_wire_string_from_cstr(name)};
    struct sb_delete_topics_request request = {.names = names, .name_count = 1,
                                               .timeout_ms = 5000};
    struct sb_frame frame;
    client_receive_answer(client, client_send(client, SB_API_DELETE_TOPICS, 0,
                                              encode_delete_topics_request, &request), &frame);
    struct sb_delete_topics_response response;
    struct sb_delete_topic_result result;
    cr_assert_eq(sb_delete_topics_response_decode(frame.body, frame.body_bytes, &response), 0);
    cr_assert_eq(sb_delete_topics_response_next_topic(&response, &result), 1);
    return result.error_code;
}

static int
encode_alter_topic_config_request(struct sb_wire_writer *writer, const void *request)
{
    return sb_alter_topic_config_request_encode(writer, request);
}

int16_t
client_alter_topic(struct client *client, const char *name, int32_t partitions,
                   const char *key, const char *value)
{
    struct sb_topic_config config = {.key = sb_wire_string_from_cstr(key != NULL ? key : ""),
                                     .value = sb_wire_string_from_cstr(value != NULL ? value
                                                                                     : "")};
    struct sb_alter_topic_config_request request = {.name = sb_wire_string_from_cstr(name),
                                                    .partition_count = partitions,
                                                    .configs = &config,
                                                    .config_count = key != NULL ? 1 : 0};
    struct sb_frame frame;
    client_receive_answer(client, client_send(client, SB_API_ALTER_TOPIC_CONFIG, 0,
                                              encode_alter_topic_config_request, &request),
                          &frame);
    struct sb_alter_topic_config_response response;
    cr_assert_eq(sb_alter_topic_config_response_decode(frame.body, frame.body_bytes, &response),
                 0);
    return response.error_code;
}

static int
encode_describe_topic_request(struct sb_wire_writer *writer, const void *request)
{
    return sb_describe_topic_request_encode(writer, request);
}

void
client_describe_topic(struct client *client, const char *name, struct topic_description *out)
{
    memset(out, 0, sizeof(*out));
    struct sb_describe_topic_request request = {.name = sb_wire_string_from_cstr(name)};
    struct sb_frame frame;
    client_receive_answer(client, client_send(client, SB_API_DESCRIBE_TOPIC, 0,
                                              encode_describe_topic_request, &request), &frame);
    struct sb_describe_topic_response response;
    cr_assert_eq(sb_describe_topic_response_decode(frame.body, frame.body_bytes, &response), 0);
    out->error = response.error_code;
    out->topic_id = response.topic_id;
    out->partition_count = response.partition_count;
    struct sb_describe_topic_partition partition;
    while (sb_describe_topic_response_next_partition(&response, &partition) == 1) {
        cr_assert(partition.partition >= 0 && partition.partition < DESCRIBED_PARTITIONS_MAX);
        out->high_watermark[partition.partition] = partition.high_watermark;
        out->log_end_offset[partition.partition] = partition.log_end_offset;
    }
    struct sb_topic_config config;
    while (sb_describe_topic_response_next_config(&response, &config) == 1) {
        if (sb_wire_string_equals(config.key, "retention.ms")) {
            snprintf(out->retention_ms, sizeof(out->retention_ms), "%.*s",
                     (int)config.value.length, config.value.chars);
        }
    }
}

int
encode_produce_spec(struct sb_wire_writer *writer, const void *request)
{
    const struct produce_spec *spec = request;
    struct sb_produce_partition part = {.partition = spec->partition,
                                        .records = {spec->batch, spec->bytes}};
    struct sb_produce_topic topic = {.name = sb_wire_string_from_cstr(spec->topic),
                                     .partitions = &part, .partition_count = 1};
    struct sb_produce_request produce = {.acks = spec->acks, .timeout_ms = spec->timeout_ms,
                                         .topics = &topic, .topic_count = 1};
    return sb_produce_request_encode(writer, &produce);
}

int16_t
client_produce_answer(struct client *client, const struct produce_spec *spec,
                      struct sb_produce_partition_response *result)
{
    *result = (struct sb_produce_partition_response){.base_offset = -1,
                                                     .log_append_time_ms = -1};
    client_send(client, SB_API_PRODUCE, spec->acks == 0 ? SB_FRAME_FLAG_NO_RESPONSE : 0,
                encode_produce_spec, spec);
    if (spec->acks == 0) {
        return SB_WIRE_ERROR_NONE;
    }
    struct sb_frame frame;
    cr_assert_eq(client_receive(client, &frame, client->timeout_ms), 0, "produce is answered");
    if (frame.header.error_code != 0) {
        return frame.header.error_code;
    }
    struct sb_produce_response response;
    struct sb_produce_topic_response topic_response;
    cr_assert_eq(sb_produce_response_decode(frame.body, frame.body_bytes, &response), 0);
    cr_assert_eq(sb_produce_response_next_topic(&response, &topic_response), 1);
    cr_assert_eq(sb_produce_topic_response_next_partition(&topic_response, result), 1);
    return result->error_code;
}

int16_t
client_produce(struct client *client, const struct produce_spec *spec, int64_t *base_offset)
{
    struct sb_produce_partition_response result;
    int16_t error = client_produce_answer(client, spec, &result);
    if (base_offset != NULL) {
        *base_offset = result.base_offset;
    }
    return error;
}

int16_t
client_produce_acks_all(struct client *client, const char *topic, int32_t partition,
                        const uint8_t *batch, uint32_t bytes, int64_t *base_offset)
{
    struct produce_spec spec = {.topic = topic, .partition = partition, .batch = batch,
                                .bytes = bytes, .acks = -1, .timeout_ms = 5000};
    return client_produce(client, &spec, base_offset);
}

int
encode_fetch_spec(struct sb_wire_writer *writer, const void *request)
{
    const struct fetch_spec *spec = request;
    struct sb_fetch_partition part = {.partition = spec->partition,
                                      .fetch_offset = spec->offset,
                                      .partition_max_bytes = spec->partition_max_bytes};
    struct sb_fetch_topic topic = {.name = sb_wire_string_from_cstr(spec->topic),
                                   .topic_id = spec->topic_id, .partitions = &part,
                                   .partition_count = 1};
    struct sb_fetch_request fetch = {.api_version = spec->topic_id != 0 ? 1 : 0,
                                     .max_wait_ms = spec->max_wait_ms,
                                     .min_bytes = spec->min_bytes, .max_bytes = spec->max_bytes,
                                     .topics = &topic, .topic_count = 1};
    return sb_fetch_request_encode(writer, &fetch);
}

void
decode_fetch_partition(const struct sb_frame *frame,
                       struct sb_fetch_partition_response *partition)
{
    cr_assert_eq(frame->header.error_code, 0, "fetch refused: %s",
                 sb_wire_error_name(frame->header.error_code));
    struct sb_fetch_response response;
    struct sb_fetch_topic_response topic_response;
    cr_assert_eq(sb_fetch_response_decode(frame->body, frame->body_bytes, &response), 0);
    cr_assert_eq(sb_fetch_response_next_topic(&response, &topic_response), 1);
    cr_assert_eq(sb_fetch_topic_response_next_partition(&topic_response, partition), 1);
}

void
client_fetch(struct client *client, const struct fetch_spec *spec,
             struct sb_fetch_partition_response *partition)
{
    static uint8_t bytes[64u << 10];
    struct sb_frame_header header = {.api_key = SB_API_FETCH,
                                     .api_version = spec->topic_id != 0 ? 1 : 0,
                                     .correlation_id = client->next_correlation++};
    client_send_raw(client, bytes,
                    frame_encode(bytes, sizeof(bytes), &header, encode_fetch_spec, spec));
    struct sb_frame frame;
    cr_assert_eq(client_receive(client, &frame, client->timeout_ms), 0, "fetch is answered");
    decode_fetch_partition(&frame, partition);
}
