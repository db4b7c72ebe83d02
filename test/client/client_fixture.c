/*
 * test/client/client_fixture.c - see client_fixture.h. Client log lines go to
 * stderr when SB_TEST_LOG_LEVEL is set (as the broker's do), else nowhere.
 */
#include "test/client/client_fixture.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "proto/api_group.h"

/* Data directories made by this test process, removed by cluster_cleanup even when an
 * assertion ends the test early (brokers die with the test: PR_SET_PDEATHSIG). */
static char cluster_dirs[8][128];
static uint32_t cluster_dir_count;

void
cluster_cleanup(void)
{
    for (uint32_t index = 0; index < cluster_dir_count; index++) {
        struct broker_process gone = {.pid = 0};
        memcpy(gone.data_dir, cluster_dirs[index], sizeof(gone.data_dir));
        broker_destroy(&gone);
    }
    cluster_dir_count = 0;
}

static void
cluster_log(void *opaque, int level, const char *line)
{
    (void)opaque;
    fprintf(stderr, "[client %d] %s\n", level, line);
}

struct sb_client *
cluster_client(struct cluster *cluster, const char *const *settings)
{
    struct sb_client_config *config = sb_client_config_new();
    cr_assert_not_null(config);
    cr_assert_eq(sb_client_config_set(config, "bootstrap.servers", cluster->bootstrap), 0);
    cr_assert_eq(sb_client_config_set(config, "fetch.wait.max.ms", "100"), 0);
    cr_assert_eq(sb_client_config_set(config, "reconnect.backoff.max.ms", "200"), 0);
    for (size_t index = 0; settings != NULL && settings[index] != NULL; index += 2) {
        int result = sb_client_config_set(config, settings[index], settings[index + 1]);
        cr_assert_eq(result, 0, "config %s=%s: %s", settings[index], settings[index + 1],
                     sb_client_error_detail());
    }
    if (getenv("SB_TEST_LOG_LEVEL") != NULL) {
        sb_client_config_set_log(config, SB_CLIENT_LOG_DEBUG, cluster_log, NULL);
    }
    struct sb_client *client = NULL;
    cr_assert_eq(sb_client_open(config, &client), 0);
    sb_client_config_free(config);
    return client;
}

/* The inode of the socket listening on 127.0.0.1:port, or 0 (from /proc/net/tcp). */
static unsigned long
cluster_listener_inode(uint16_t port)
{
    FILE *table = fopen("/proc/net/tcp", "r");
    char line[512];
    unsigned long inode = 0;
    while (table != NULL && inode == 0 && fgets(line, sizeof(line), table) != NULL) {
        unsigned local_port = 0;
        unsigned state = 0;
        unsigned long found = 0;
        if (sscanf(line, " %*d: 0100007F:%X %*X:%*X %X %*X:%*X %*X:%*X %*X %*u %*u %lu",
                   &local_port, &state, &found) == 3 &&
            local_port == port && state == 0x0A) {
            inode = found;
        }
    }
    if (table != NULL) {
        fclose(table);
    }
    return inode;
}

/* True when pid holds the socket listening on port: the broker we started answers there,
 * not another test's broker that took the same free port (ports are picked at random). */
static bool
cluster_owns_port(pid_t pid, uint16_t port)
{
    unsigned long inode = cluster_listener_inode(port);
    char wanted[64];
    snprintf(wanted, sizeof(wanted), "socket:[%lu]", inode);
    char directory[64];
    snprintf(directory, sizeof(directory), "/proc/%d/fd", (int)pid);
    DIR *fds = opendir(directory);
    bool owned = false;
    for (struct dirent *entry = fds != NULL ? readdir(fds) : NULL; entry != NULL && !owned;
         entry = readdir(fds)) {
        char path[320];
        char target[64];
        snprintf(path, sizeof(path), "%s/%s", directory, entry->d_name);
        ssize_t length = readlink(path, target, sizeof(target) - 1);
        if (length > 0) {
            target[length] = '\0';
            owned = strcmp(target, wanted) == 0;
        }
    }
    if (fds != NULL) {
        closedir(fds);
    }
    return inode != 0 && owned;
}

void
cluster_start(struct cluster *cluster, uint32_t cores, const char *extra,
              const char *const *settings)
{
    /* Bounded: a port taken by another test's broker makes us pick another, 5 times. */
    for (int attempt = 0; attempt < 5; attempt++) {
        memset(cluster, 0, sizeof(*cluster));
        broker_init(&cluster->broker, cores);
        if (cluster_dir_count < 8) {
            memcpy(cluster_dirs[cluster_dir_count++], cluster->broker.data_dir,
                   sizeof(cluster_dirs[0]));
        }
        if (extra != NULL) {
            snprintf(cluster->broker.extra, sizeof(cluster->broker.extra), "%s", extra);
        }
        broker_start(&cluster->broker);
        if (cluster_owns_port(cluster->broker.pid, cluster->broker.port)) {
            break;
        }
        broker_destroy(&cluster->broker);
        cr_assert_lt(attempt, 4, "no port range of our own after 5 attempts");
    }
    snprintf(cluster->bootstrap, sizeof(cluster->bootstrap), "127.0.0.1:%u",
             cluster->broker.port);
    cluster->client = cluster_client(cluster, settings);
}

void
cluster_stop(struct cluster *cluster)
{
    sb_client_close(cluster->client);
    cluster->client = NULL;
    if (cluster->broker.pid > 0) {
        cr_assert_eq(broker_stop(&cluster->broker), 0, "the broker stops cleanly");
    }
    broker_destroy(&cluster->broker);
}

void
cluster_topic(struct cluster *cluster, const char *topic, int32_t partitions)
{
    int result = sb_admin_topic_create(cluster->client, topic, partitions, NULL, 0,
                                       TEST_WAIT_MS);
    cr_assert_eq(result, 0, "create %s: %s", topic, sb_client_strerror(result));
}

static void
test_record_copy(const struct sb_consumer_record *record, struct test_record *out)
{
    memset(out, 0, sizeof(*out));
    out->offset = record->offset;
    out->timestamp_ms = record->timestamp_ms;
    out->key_null = record->key == NULL;
    snprintf(out->key, sizeof(out->key), "%.*s", (int)record->key_length,
             record->key != NULL ? (const char *)record->key : "");
    snprintf(out->value, sizeof(out->value), "%.*s", (int)record->value_length,
             record->value != NULL ? (const char *)record->value : "");
    out->value_length = record->value_length;
    out->header_count = record->header_count;
    if (record->header_count > 0) {
        const struct sb_client_header *header = &record->headers[0];
        snprintf(out->header, sizeof(out->header), "%.*s=%.*s", (int)header->name_length,
                 header->name, (int)header->value_length,
                 header->value != NULL ? (const char *)header->value : "");
    }
}

uint32_t
cluster_read(struct sb_client *client, const char *topic, int32_t partition, int64_t offset,
             struct test_record *records, uint32_t count, int wait_ms)
{
    struct sb_consumer *consumer = NULL;
    cr_assert_eq(sb_consumer_open(client, &consumer), 0);
    cr_assert_eq(sb_consumer_assign(consumer, topic, partition), 0);
    cr_assert_eq(sb_consumer_seek(consumer, topic, partition, offset), 0);
    uint32_t read = 0;
    while (read < count) {
        const struct sb_consumer_record *record = NULL;
        int result = sb_consumer_poll(consumer, wait_ms, &record);
        cr_assert_geq(result, 0, "poll: %s", sb_client_strerror(result));
        if (result == 0) {
            break;
        }
        test_record_copy(record, &records[read++]);
    }
    sb_consumer_close(consumer);
    return read;
}

int64_t
cluster_produce(struct sb_client *client, const char *topic, int32_t partition, uint32_t first,
                uint32_t count)
{
    struct sb_producer *producer = NULL;
    cr_assert_eq(sb_producer_open(client, &producer), 0);
    int64_t first_offset = -1;
    for (uint32_t index = first; index < first + count; index++) {
        char key[32];
        char value[64];
        int key_length = snprintf(key, sizeof(key), "key-%u", index);
        int value_length = snprintf(value, sizeof(value), "value-%u", index);
        struct sb_producer_message message = {
            .topic = topic, .partition = partition, .key = key, .key_length = (size_t)key_length,
            .value = value, .value_length = (size_t)value_length};
        int64_t offset = -1;
        int result = sb_producer_send_sync(producer, &message, &offset);
        cr_assert_eq(result, 0, "send: %s", sb_client_strerror(result));
        first_offset = index == first ? offset : first_offset;
    }
    cr_assert_eq(sb_producer_close(producer, TEST_WAIT_MS), 0);
    return first_offset;
}

static int
cluster_encode_heartbeat(struct sb_wire_writer *writer, const void *request)
{
    return sb_group_heartbeat_request_encode(writer, request);
}

int16_t
cluster_member_heartbeat(struct client *raw, const char *group, const char *member,
                         const char *topic, int32_t epoch)
{
    struct sb_wire_string name = sb_wire_string_from_cstr(topic);
    struct sb_group_heartbeat_request request = {
        .group_id = sb_wire_string_from_cstr(group), .member_id = sb_wire_string_from_cstr(member),
        .member_epoch = epoch, .rebalance_timeout_ms = -1, .topic_names_unchanged = epoch != 0,
        .topic_names = &name, .topic_name_count = 1, .owned_unchanged = true};
    struct sb_group_heartbeat_response response = {
        .error_code = SB_WIRE_ERROR_COORDINATOR_LOAD_IN_PROGRESS};
    /* Bounded: a coordinator reads its groups back within seconds of a start. */
    for (int try = 0; try < 500 &&
                      response.error_code == SB_WIRE_ERROR_COORDINATOR_LOAD_IN_PROGRESS; try++) {
        test_sleep_ms(try == 0 ? 0 : 20);
        client_send(raw, SB_API_GROUP_HEARTBEAT, 0, cluster_encode_heartbeat, &request);
        struct sb_frame frame;
        cr_assert_eq(client_receive(raw, &frame, raw->timeout_ms), 0);
        cr_assert_eq(sb_group_heartbeat_response_decode(frame.body, frame.body_bytes,
                                                        &response), 0);
    }
    return response.error_code;
}

int64_t
test_now_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

void
test_sleep_ms(int ms)
{
    struct timespec delay = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&delay, NULL);
}
