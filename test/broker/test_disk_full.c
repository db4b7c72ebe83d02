/*
 * test/broker/test_disk_full.c - a real broker on a small file system that
 * fills up: a 64 MiB ext4 image, loop-mounted (O_DIRECT works there, unlike
 * tmpfs), holding the data directory and an 8 MiB file placed beforehand.
 *
 * Producers push 1 MiB batches (acks=all) until the disk is full. Expected:
 * once flushes fail with ENOSPC (WAL files are preallocated, so the WAL itself
 * keeps working) the memtable fills and produce answers DISK_FULL at once
 * (any earlier refusal must be retriable too), never a crash;
 * fetches keep being answered meanwhile; deleting the placed file lets writes
 * resume without a restart; after kill -9 and a restart every acknowledged
 * batch is there, whole, at its offset. EIO and failed fdatasyncs are covered at the storage
 * level by test/storage/test_faults.c (simulator, "fail the Nth op").
 *
 * Needs root, mkfs.ext4 and a loop device: otherwise the test is skipped with
 * a message. The mount is removed in the fini hook, also after a failure.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "proto/api_fetch.h"
#include "proto/batch.h"
#include "proto/errors.h"
#include "test/broker/broker_fixture.h"

#define TIMEOUT_MS 20000
#define TOPIC "full"
#define BATCHES_MAX 200u
#define RECORDS_PER_BATCH 900u
#define VALUE_BYTES 1000u
/* Produce attempts before the disk must be full, and after the space is freed. */
#define FILL_ATTEMPTS_MAX 150u
#define RESUME_SECONDS_MAX 30u

static char image_path[64];
static char mount_path[80];
static bool mounted;

static int
run_quietly(const char *command)
{
    char line[512];
    snprintf(line, sizeof(line), "%s >/dev/null 2>&1", command);
    return system(line);
}

/* Creates and mounts the image; false (with the reason) if this machine cannot. */
static bool
disk_mount(char *reason, size_t capacity)
{
    if (geteuid() != 0) {
        snprintf(reason, capacity, "not root: mounting a loop file system needs root");
        return false;
    }
    if (access("/dev/loop-control", F_OK) != 0 || run_quietly("losetup -f") != 0) {
        snprintf(reason, capacity, "no loop device available (losetup -f failed)");
        return false;
    }
    snprintf(image_path, sizeof(image_path), "/tmp/sb-disk-full-XXXXXX");
    int fd = mkstemp(image_path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(ftruncate(fd, 64 << 20), 0);
    close(fd);
    snprintf(mount_path, sizeof(mount_path), "%s.mnt", image_path);
    mkdir(mount_path, 0755);
    char command[256];
    snprintf(command, sizeof(command), "mkfs.ext4 -q -F %s", image_path);
    if (run_quietly(command) != 0) {
        snprintf(reason, capacity, "mkfs.ext4 failed or is missing (e2fsprogs)");
        return false;
    }
    snprintf(command, sizeof(command), "mount -o loop %s %s", image_path, mount_path);
    if (run_quietly(command) != 0) {
        snprintf(reason, capacity, "mount -o loop failed (no loop support in this sandbox)");
        return false;
    }
    mounted = true;
    return true;
}

static void
disk_unmount(void)
{
    if (mounted) {
        umount2(mount_path, MNT_DETACH);
        mounted = false;
    }
    if (mount_path[0] != '\0') {
        rmdir(mount_path);
    }
    if (image_path[0] != '\0') {
        unlink(image_path);
    }
}

/* A batch of RECORDS_PER_BATCH records of VALUE_BYTES each (varied, so it is not tiny). */
static uint32_t
big_batch(uint8_t *buffer, uint32_t capacity, uint32_t index)
{
    static char value[VALUE_BYTES];
    struct sb_batch_builder builder;
    int64_t now_ms = (int64_t)(sb_clock_realtime_ns() / SB_NS_PER_MS);
    sb_batch_builder_init(&builder, buffer, capacity, now_ms);
    for (uint32_t record = 0; record < RECORDS_PER_BATCH; record++) {
        uint32_t seed = index * 7919u + record * 104729u;
        for (uint32_t at = 0; at < VALUE_BYTES; at++) {
            seed = seed * 1103515245u + 12345u;
            value[at] = (char)('a' + (seed >> 16) % 26);
        }
        int length = snprintf(value, 24, "b%u-r%u", index, record);
        value[length] = ' ';
        struct sb_record item = {.key_length = -1, .value = value, .value_length = VALUE_BYTES,
                                 .timestamp_ms = now_ms};
        cr_assert_eq(sb_batch_builder_add(&builder, &item), 0);
    }
    const uint8_t *batch;
    uint32_t bytes;
    cr_assert_eq(sb_batch_builder_finish(&builder, SB_COMPRESSION_NONE, NULL, 0, &batch, &bytes),
                 0);
    return bytes;
}

/* Produces batch `index`; returns the partition error, the base offset in *offset. */
static int16_t
produce(struct client *client, uint32_t index, int64_t *offset)
{
    static uint8_t batch[1100 << 10];
    struct produce_spec spec = {.topic = TOPIC, .batch = batch,
                                .bytes = big_batch(batch, sizeof(batch), index), .acks = -1,
                                .timeout_ms = 1500};
    return client_produce(client, &spec, offset);
}

static bool
retriable(int16_t error)
{
    return error == SB_WIRE_ERROR_DISK_FULL || error == SB_WIRE_ERROR_STORAGE_ERROR ||
           error == SB_WIRE_ERROR_BROKER_BUSY || error == SB_WIRE_ERROR_REQUEST_TIMED_OUT;
}

/* Fetches one batch at `offset`; returns the partition error; checks what is served. */
static int16_t
fetch_check(struct client *client, int64_t offset, uint32_t index)
{
    struct fetch_spec spec = {.topic = TOPIC, .offset = offset, .partition_max_bytes = 1,
                              .max_bytes = 1};
    struct sb_fetch_partition_response result;
    client_fetch(client, &spec, &result);
    if (result.error_code != 0) {
        return result.error_code;
    }
    cr_assert_gt(result.records.length, 0, "batch %u at %lld is there", index, (long long)offset);
    struct sb_batch_header header;
    cr_assert_eq(sb_batch_verify(result.records.data, result.records.length, 1 << 24, &header),
                 0);
    cr_assert_eq(header.base_offset, offset);
    struct sb_record_iter iterator;
    sb_record_iter_init(&iterator, &header, result.records.data + SB_BATCH_HEADER_BYTES,
                        header.records_bytes);
    struct sb_record_view record;
    cr_assert_eq(sb_record_iter_next(&iterator, &record), 1);
    char expected[32];
    int length = snprintf(expected, sizeof(expected), "b%u-r0 ", index);
    cr_assert(memcmp(record.value, expected, (size_t)length) == 0, "batch %u's records", index);
    return 0;
}

static struct broker_process disk_broker;
static bool disk_broker_used;

static void
disk_fini(void)
{
    if (disk_broker_used) {
        broker_destroy(&disk_broker);
        disk_broker_used = false;
    }
    disk_unmount();
}

/* Writes `bytes` of data into a new file and syncs it: the space freed later. */
static void
place_reserve(const char *path, uint32_t bytes)
{
    static uint8_t block[1 << 20];
    memset(block, 0x5a, sizeof(block));
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    cr_assert_geq(fd, 0);
    for (uint32_t done = 0; done < bytes; done += sizeof(block)) {
        cr_assert_eq(write(fd, block, sizeof(block)), (ssize_t)sizeof(block));
    }
    cr_assert_eq(fsync(fd), 0);
    close(fd);
}

static void
disk_start_broker(void)
{
    broker_init(&disk_broker, 1);
    disk_broker_used = true;
    rmdir(disk_broker.data_dir);
    snprintf(disk_broker.data_dir, sizeof(disk_broker.data_dir), "%s/data", mount_path);
    cr_assert_eq(mkdir(disk_broker.data_dir, 0755), 0);
    /* Small WAL and memtable, so the file system fills with segments, not preallocation. */
    snprintf(disk_broker.extra, sizeof(disk_broker.extra),
             "--wal-file-bytes 5m --wal-files 2 --memtable-bytes 6m");
    broker_start(&disk_broker);
}

Test(disk_full, retriable_errors_reads_go_on_writes_resume_nothing_lost, .timeout = 240,
     .fini = disk_fini)
{
    char reason[128];
    if (!disk_mount(reason, sizeof(reason))) {
        disk_unmount();
        cr_skip_test("disk-full test skipped: %s", reason);
    }
    char reserve[128];
    snprintf(reserve, sizeof(reserve), "%s/reserve", mount_path);
    place_reserve(reserve, 8u << 20);
    disk_start_broker();
    struct client client;
    client_connect(&client, disk_broker.port);
    client.timeout_ms = TIMEOUT_MS;
    cr_assert_eq(client_create_topic(&client, TOPIC, 1), SB_WIRE_ERROR_NONE);
    static int64_t offsets[FILL_ATTEMPTS_MAX + 64];
    uint32_t index = 0;
    uint32_t acknowledged = 0;
    uint32_t errors = 0;
    int16_t last_error = 0;
    /* Fill: bounded by FILL_ATTEMPTS_MAX (~135 MiB, twice the file system). */
    for (; index < FILL_ATTEMPTS_MAX && errors < 3; index++) {
        offsets[index] = -1;
        int16_t error = produce(&client, index, &offsets[index]);
        cr_assert(error == 0 || retriable(error), "batch %u: %s is not retriable", index,
                  sb_wire_error_name(error));
        acknowledged += error == 0;
        errors += error != 0;
        if (error != 0) {
            last_error = error;
            offsets[index] = -1;
            cr_log_info("batch %u refused: %s", index, sb_wire_error_name(error));
        }
    }
    cr_assert_eq(errors, 3, "the disk filled up (%u batches acknowledged)", acknowledged);
    /* Once a flush has failed for lack of space, producers are told so at once. */
    cr_assert_eq(last_error, SB_WIRE_ERROR_DISK_FULL, "refused with %s, not DISK_FULL",
                 sb_wire_error_name(last_error));
    /* Reads go on while the disk is full. */
    cr_assert_eq(fetch_check(&client, offsets[0], 0), 0);
    cr_assert_eq(fetch_check(&client, offsets[acknowledged / 2], acknowledged / 2), 0);
    /* Free space: writes resume without a restart (retries back off up to 1 s). */
    cr_assert_eq(unlink(reserve), 0);
    uint64_t deadline = sb_clock_monotonic_ns() + RESUME_SECONDS_MAX * SB_NS_PER_S;
    bool resumed = false;
    for (; !resumed && sb_clock_monotonic_ns() < deadline; index++) {
        offsets[index] = -1;
        int16_t error = produce(&client, index, &offsets[index]);
        cr_assert(error == 0 || retriable(error));
        resumed = error == 0;
        offsets[index] = error == 0 ? offsets[index] : -1;
    }
    cr_assert(resumed, "writes resumed after space was freed");
    client_close(&client);
    broker_kill(&disk_broker); /* kill -9: only what was durable can come back. */
    /* Every acknowledged batch survives a restart, whole, at its offset. */
    broker_start(&disk_broker);
    client_connect(&client, disk_broker.port);
    client.timeout_ms = TIMEOUT_MS;
    uint32_t checked = 0;
    for (uint32_t batch = 0; batch < index; batch++) {
        if (offsets[batch] >= 0) {
            cr_assert_eq(fetch_check(&client, offsets[batch], batch), 0, "batch %u", batch);
            checked++;
        }
    }
    cr_log_info("disk full after %u acknowledged batches (~%u MiB); %u checked after restart",
                acknowledged, acknowledged * 9 / 10, checked);
    client_close(&client);
    cr_assert_eq(broker_stop(&disk_broker), 0);
}
