/*
 * test/broker/test_work.c - the owning shard's side of partition requests
 * (broker/work.c) against a real broker: produces that are in flight while their
 * topic is deleted.
 *
 * Delete-while-producing loop: each round creates a topic, floods it from
 * several pipelining connections (large batches, so produces also wait for
 * memtable room), deletes it while those are in flight, and reads every
 * answer. Every produce must be answered with data (NONE) or an error that
 * says the topic went away (UNKNOWN_TOPIC_OR_PARTITION), or with a retriable
 * BROKER_BUSY / REQUEST_TIMED_OUT; the broker must stay alive and stop
 * cleanly. With 2 shards the produces go through shard 1's port, so the work
 * for shard 0's partitions reaches shard 0 while its table no longer has the
 * topic; with 1 shard the produces wait for memtable room across the delete.
 *
 * Failing disk: the data directory is an ext4 image on a loop device whose
 * backing file lives on a small tmpfs; filling the tmpfs makes every new
 * write fail (EIO, then a read-only file system). The WAL retries its cycle
 * forever, so an acks=all produce must be answered REQUEST_TIMED_OUT once its
 * timeout_ms passed. Needs root and a loop device, else it is skipped.
 *
 * Log-append time: a produce to a LogAppendTime topic answers with the time stamped into
 * its first stored batch, not a second reading of the clock.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proto/api_admin.h"
#include "proto/api_fetch.h"
#include "proto/api_produce.h"
#include "proto/batch.h"
#include "proto/errors.h"
#include "test/broker/broker_fixture.h"

#define DELETE_ROUNDS 10
#define PRODUCERS 4
#define PRODUCE_PIPELINE 24
#define PRODUCE_PARTITIONS 4
#define FILLER_BATCHES 24

/* Reads one produce answer: NONE or an error a deleted topic or a busy broker explains. */
static void
expect_produce_answer(struct client *client, uint32_t correlation)
{
    struct sb_frame frame;
    cr_assert_eq(client_receive(client, &frame, 30000), 0, "every produce is answered");
    cr_assert_eq(frame.header.correlation_id, correlation, "answers in order");
    int16_t error = frame.header.error_code;
    if (error == 0) {
        struct sb_produce_response response;
        struct sb_produce_topic_response topic;
        struct sb_produce_partition_response partition;
        cr_assert_eq(sb_produce_response_decode(frame.body, frame.body_bytes, &response), 0);
        cr_assert_eq(sb_produce_response_next_topic(&response, &topic), 1);
        cr_assert_eq(sb_produce_topic_response_next_partition(&topic, &partition), 1);
        error = partition.error_code;
    }
    cr_assert(error == SB_WIRE_ERROR_NONE || error == SB_WIRE_ERROR_UNKNOWN_TOPIC_OR_PARTITION ||
              error == SB_WIRE_ERROR_BROKER_BUSY || error == SB_WIRE_ERROR_REQUEST_TIMED_OUT,
              "produce answered %s", sb_wire_error_name(error));
}

/* Pipelines PRODUCE_PIPELINE produces of `batch` to "doomed" on every producer; returns
 * their correlation ids in `correlations`. */
static void
produce_flood(struct client *producers, const uint8_t *batch, uint32_t bytes,
              uint32_t correlations[PRODUCERS][PRODUCE_PIPELINE])
{
    for (uint32_t sent = 0; sent < PRODUCE_PIPELINE; sent++) {
        for (uint32_t index = 0; index < PRODUCERS; index++) {
            struct produce_spec spec = {.topic = "doomed", .batch = batch, .bytes = bytes,
                                        .partition = (int32_t)(sent % PRODUCE_PARTITIONS),
                                        .acks = (int16_t)(sent % 2 ? 1 : -1),
                                        .timeout_ms = 5000};
            correlations[index][sent] = client_send(&producers[index], SB_API_PRODUCE, 0,
                                                    encode_produce_spec, &spec);
        }
    }
}

/* `filler_records` > 0: before each flood, fill the memtable from the control connection
 * with acks=0 batches of that many records to another topic, so the flood waits for room. */
static void
delete_while_producing(uint32_t cores, uint16_t produce_port, uint32_t records,
                       uint32_t filler_records)
{
    struct broker_process broker;
    broker_start_new(&broker, cores, NULL);
    static uint8_t batch[1u << 20];
    static uint8_t filler[1u << 20];
    uint32_t bytes = test_batch(batch, sizeof(batch), records, "delete-while-producing");
    uint32_t filler_bytes = test_batch(filler, sizeof(filler), filler_records + 1, "filler");
    struct client control;
    client_connect(&control, broker.port);
    cr_assert_eq(client_create_topic(&control, "filler", 1), 0);
    struct client producers[PRODUCERS];
    for (uint32_t index = 0; index < PRODUCERS; index++) {
        client_connect(&producers[index], (uint16_t)(broker.port + produce_port));
    }
    for (int round = 0; round < DELETE_ROUNDS; round++) {
        cr_assert_eq(client_create_topic(&control, "doomed", PRODUCE_PARTITIONS), 0);
        for (uint32_t index = 0; filler_records > 0 && index < FILLER_BATCHES; index++) {
            struct produce_spec spec = {.topic = "filler", .batch = filler,
                                        .bytes = filler_bytes, .acks = 0};
            client_produce(&control, &spec, NULL);
        }
        uint32_t correlations[PRODUCERS][PRODUCE_PIPELINE];
        produce_flood(producers, batch, bytes, correlations);
        cr_assert_eq(client_delete_topic(&control, "doomed"), SB_WIRE_ERROR_NONE);
        for (uint32_t index = 0; index < PRODUCERS; index++) {
            for (uint32_t sent = 0; sent < PRODUCE_PIPELINE; sent++) {
                expect_produce_answer(&producers[index], correlations[index][sent]);
            }
        }
    }
    cr_assert_eq(health_on_new_connection(broker.port), SB_WIRE_ERROR_NONE, "broker alive");
    for (uint32_t index = 0; index < PRODUCERS; index++) {
        client_close(&producers[index]);
    }
    client_close(&control);
    broker_stop_and_destroy(&broker);
}

Test(work, delete_while_producing_two_shards_through_shard_1_is_answered, .timeout = 240)
{
    delete_while_producing(2, 2, 20, 0); /* Shard 1's port: main + 1 + 1. */
}

Test(work, delete_while_producing_one_shard_waiting_for_memtable_is_answered, .timeout = 240)
{
    delete_while_producing(1, 0, 20, 30000);
}

static char failing_root[64];     /* The test's directory, or empty. */
static char failing_tmpfs[96];    /* The small tmpfs holding the image. */
static char failing_mount[96];    /* The ext4 image's mount: the data directory's parent. */

static int
run_quietly(const char *command)
{
    char line[1100];
    snprintf(line, sizeof(line), "%s >/dev/null 2>&1", command);
    return system(line);
}

/* Mounts a 40 MiB tmpfs holding a 64 MiB sparse ext4 image, loop-mounted; false (with the
 * reason) if this machine cannot. */
static bool
failing_disk_mount(char *reason, size_t capacity)
{
    if (geteuid() != 0 || access("/dev/loop-control", F_OK) != 0 ||
        run_quietly("losetup -f") != 0) {
        snprintf(reason, capacity, "needs root and a free loop device");
        return false;
    }
    snprintf(failing_root, sizeof(failing_root), "/tmp/sb-failing-XXXXXX");
    cr_assert_not_null(mkdtemp(failing_root));
    snprintf(failing_tmpfs, sizeof(failing_tmpfs), "%s/tmpfs", failing_root);
    snprintf(failing_mount, sizeof(failing_mount), "%s/ext4", failing_root);
    mkdir(failing_tmpfs, 0755);
    mkdir(failing_mount, 0755);
    char command[1024];
    snprintf(command, sizeof(command),
             "mount -t tmpfs -o size=40m tmpfs %s && truncate -s 64M %s/image && "
             "mkfs.ext4 -q -F %s/image && mount -o loop %s/image %s", failing_tmpfs,
             failing_tmpfs, failing_tmpfs, failing_tmpfs, failing_mount);
    if (run_quietly(command) != 0) {
        snprintf(reason, capacity, "tmpfs, mkfs.ext4 or loop mount failed");
        return false;
    }
    return true;
}

static void
failing_disk_fini(void)
{
    if (failing_root[0] == '\0') {
        return;
    }
    umount2(failing_mount, MNT_DETACH);
    umount2(failing_tmpfs, MNT_DETACH);
    char command[128];
    snprintf(command, sizeof(command), "rm -rf %s", failing_root);
    run_quietly(command);
    failing_root[0] = '\0';
}

/* Fills the tmpfs under the image: from now on every write to a new block of it fails. */
static void
failing_disk_break(void)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/filler", failing_tmpfs);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    cr_assert_geq(fd, 0);
    static uint8_t zeros[1u << 20];
    /* Bounded: the tmpfs holds 40 MiB. */
    for (int chunk = 0; chunk < 64 && write(fd, zeros, sizeof(zeros)) > 0; chunk++) {
    }
    close(fd);
}

/* Starts a 1-shard broker whose data directory is on the failing disk; skips the test when
 * this machine cannot make one. */
static void
failing_disk_broker(struct broker_process *broker)
{
    char reason[128];
    if (!failing_disk_mount(reason, sizeof(reason))) {
        failing_disk_fini();
        cr_skip_test("failing-disk test skipped: %s", reason);
    }
    broker_init(broker, 1);
    rmdir(broker->data_dir);
    snprintf(broker->data_dir, sizeof(broker->data_dir), "%s/data", failing_mount);
    broker_start(broker);
}

Test(work, acks_all_on_a_failing_disk_is_answered_request_timed_out, .timeout = 120,
     .fini = failing_disk_fini)
{
    struct broker_process broker;
    failing_disk_broker(&broker);
    struct client client;
    client_connect(&client, broker.port);
    cr_assert_eq(client_create_topic(&client, "stalled", 1), SB_WIRE_ERROR_NONE);
    static uint8_t batch[1u << 16];
    struct produce_spec spec = {.topic = "stalled", .batch = batch, .acks = -1,
                                .bytes = test_batch(batch, sizeof(batch), 1000, "stalled"),
                                .timeout_ms = 5000};
    cr_assert_eq(client_produce(&client, &spec, NULL), SB_WIRE_ERROR_NONE);
    failing_disk_break();
    spec.timeout_ms = 1500;
    int16_t error = SB_WIRE_ERROR_NONE;
    /* A write may still land on a block the image's file already has: go on until one
     * needs a new block (bounded: 64 x 64 KiB is more than the WAL file written so far). */
    for (int attempt = 0; attempt < 64 && error == SB_WIRE_ERROR_NONE; attempt++) {
        error = client_produce(&client, &spec, NULL); /* Asserts it is answered. */
    }
    cr_assert_eq(error, SB_WIRE_ERROR_REQUEST_TIMED_OUT, "got %s", sb_wire_error_name(error));
    cr_assert_eq(health_on_new_connection(broker.port), SB_WIRE_ERROR_NONE, "broker alive");
    client_close(&client);
    broker_kill(&broker); /* Its WAL cannot drain: no clean stop on this disk. */
}

/* docs/protocol.md: a partition's batches are checked, producer sequence included, before
 * any is appended. Two batches of one producer with a gap between them: the partition is
 * refused whole (OUT_OF_ORDER_SEQUENCE_NUMBER), and nothing of it is stored. */
Test(work, a_partition_with_a_sequence_gap_inside_is_refused_whole, .timeout = 60)
{
    struct broker_process broker;
    broker_start_new(&broker, 1, NULL);
    struct client client;
    client_connect(&client, broker.port);
    cr_assert_eq(client_create_topic(&client, "gapped", 1), SB_WIRE_ERROR_NONE);
    static uint8_t batches[8192];
    uint32_t first = test_producer_batch(batches, 4096, 7, 0, 0, 3);
    uint32_t second = test_producer_batch(batches + first, 4096, 7, 0, 5, 3); /* 3 and 4 missing. */
    struct produce_spec spec = {.topic = "gapped", .batch = batches, .bytes = first + second,
                                .acks = -1, .timeout_ms = 5000};
    int64_t base_offset;
    int16_t error = client_produce(&client, &spec, &base_offset);
    cr_assert_eq(error, SB_WIRE_ERROR_OUT_OF_ORDER_SEQUENCE_NUMBER, "got %s",
                 sb_wire_error_name(error));
    cr_assert_eq(base_offset, -1, "nothing appended");
    static uint8_t plain[4096];
    spec.batch = plain;
    spec.bytes = test_batch(plain, sizeof(plain), 1, "after");
    cr_assert_eq(client_produce(&client, &spec, &base_offset), SB_WIRE_ERROR_NONE);
    cr_assert_eq(base_offset, 0, "the refused partition stored nothing");
    client_close(&client);
    broker_stop_and_destroy(&broker);
}

/* Appending stops part-way through a partition's batches (the disk fails, so the memtable
 * and the WAL fill up): the answer is an error with base_offset the offset of the first
 * batch stored (docs/protocol.md), and that batch is readable. */
Test(work, a_partition_appended_in_part_reports_where_its_stored_batches_start, .timeout = 120,
     .fini = failing_disk_fini)
{
    struct broker_process broker;
    failing_disk_broker(&broker);
    struct client client;
    client_connect(&client, broker.port);
    cr_assert_eq(client_create_topic(&client, "partial", 1), SB_WIRE_ERROR_NONE);
    failing_disk_break();
    static uint8_t big[1u << 20];
    struct produce_spec spec = {.topic = "partial", .batch = big, .acks = 1,
                                .bytes = test_batch(big, sizeof(big), 30000, "big"),
                                .timeout_ms = 1000};
    int16_t error = SB_WIRE_ERROR_NONE;
    for (int attempt = 0; attempt < 64 && error == SB_WIRE_ERROR_NONE; attempt++) {
        error = client_produce(&client, &spec, NULL); /* Until there is no room left. */
    }
    cr_assert_neq(error, SB_WIRE_ERROR_NONE, "the memtable or the WAL filled up");
    static uint8_t pair[1u << 20];
    uint32_t small = test_batch(pair, sizeof(pair), 1, "small");
    memcpy(pair + small, big, spec.bytes);
    spec.batch = pair;
    spec.bytes += small;
    int64_t base_offset;
    error = client_produce(&client, &spec, &base_offset);
    cr_assert_neq(error, SB_WIRE_ERROR_NONE, "the big batch does not fit");
    cr_assert_geq(base_offset, 0, "the small batch was stored: %s with base_offset %lld",
                  sb_wire_error_name(error), (long long)base_offset);
    client_close(&client);
    broker_kill(&broker);
}

/* Batches of one LogAppendTime produce: large, so stamping them all takes a while. */
#define STAMPED_BATCHES 8
#define STAMPED_ROUNDS 4

/* Produces STAMPED_BATCHES large batches to "stamped" in one request; returns the
 * response's log-append time and the base offset in *base_offset. */
static int64_t
produce_stamped(struct client *client, uint8_t *batches, uint32_t capacity,
                int64_t *base_offset)
{
    uint32_t bytes = 0;
    for (uint32_t index = 0; index < STAMPED_BATCHES; index++) {
        bytes += test_batch(batches + bytes, capacity - bytes, 20000, "stamped");
    }
    struct produce_spec spec = {.topic = "stamped", .batch = batches, .bytes = bytes,
                                .acks = -1, .timeout_ms = 5000};
    struct sb_produce_partition_response result;
    int16_t error = client_produce_answer(client, &spec, &result);
    cr_assert_eq(error, SB_WIRE_ERROR_NONE, "got %s", sb_wire_error_name(error));
    *base_offset = result.base_offset;
    return result.log_append_time_ms;
}

/* issue 12, clean-up: the broker read the clock again for the response, after storage had
 * stamped the batches; across a millisecond boundary the two differed. */
Test(work, a_log_append_time_produce_answers_the_time_stamped_into_its_batch, .timeout = 120)
{
    struct broker_process broker;
    broker_start_new(&broker, 1, NULL);
    struct client client;
    client_connect(&client, broker.port);
    cr_assert_eq(client_create_topic(&client, "stamped", 1), SB_WIRE_ERROR_NONE);
    cr_assert_eq(client_alter_topic(&client, "stamped", 0, "message.timestamp.type",
                                    "LogAppendTime"), SB_WIRE_ERROR_NONE);
    static uint8_t batches[STAMPED_BATCHES << 20];
    for (int round = 0; round < STAMPED_ROUNDS; round++) {
        int64_t base_offset;
        int64_t stamped = produce_stamped(&client, batches, sizeof(batches), &base_offset);
        cr_assert_geq(stamped, 0, "a LogAppendTime topic reports its append time");
        struct fetch_spec spec = {.topic = "stamped", .offset = base_offset,
                                  .partition_max_bytes = 1 << 20, .max_bytes = 1 << 20};
        struct sb_fetch_partition_response fetched;
        client_fetch(&client, &spec, &fetched);
        struct sb_batch_header header;
        cr_assert_eq(sb_batch_header_decode(fetched.records.data, fetched.records.length,
                                            UINT32_MAX, &header), 0);
        cr_assert_eq(header.base_offset, base_offset);
        cr_assert_eq(header.max_timestamp_ms, stamped, "round %d: stored %lld, answered %lld",
                     round, (long long)header.max_timestamp_ms, (long long)stamped);
    }
    client_close(&client);
    broker_stop_and_destroy(&broker);
}
