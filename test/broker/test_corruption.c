/*
 * test/broker/test_corruption.c - damaged files of a stopped broker. A broker
 * with one shard stores acknowledged batches in several closed segments, an
 * open one and (killed -9 before a flush) the WAL; then, while it is stopped,
 * bits are flipped, 4 KiB blocks zeroed or files truncated in a closed
 * segment, the open segment, the WAL, the MANIFEST or the metadata file.
 *
 * Expected (docs/storage.md "Recovery", docs/reliability.md):
 *  - MANIFEST or metadata damaged, or metadata missing: the broker refuses
 *    to start, exits non-zero, its error names the file, and nothing is
 *    deleted;
 *  - anything else: it starts and logs what is corrupt and where (file and
 *    position); every batch a client can read passes its CRCs and is exactly
 *    the acknowledged one; every batch before the damage is readable; in a
 *    closed segment whose footer survived, every batch but the damaged ones is
 *    readable; after damage recovery cannot step over (a lost stretch of the
 *    open segment, a cut closed segment, a hole in the WAL) the partition is
 *    fenced at the first lost offset, and later offsets are refused with
 *    DATA_FENCED, never served.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/base.h"
#include "core/endian.h"
#include "proto/api_fetch.h"
#include "proto/batch.h"
#include "proto/errors.h"
#include "test/broker/broker_fixture.h"

#define TIMEOUT_MS 10000
#define TOPIC "damaged"
#define SEGMENT_BATCHES 120u
#define WAL_BATCHES 24u
#define BATCHES_MAX (SEGMENT_BATCHES + WAL_BATCHES)
#define RECORDS_PER_BATCH 40u
#define SEGMENTS_MAX 64u

/* One acknowledged batch and where it sits on disk. */
struct stored {
    int64_t offset;        /* Base offset. */
    uint32_t bytes;        /* Batch size. */
    int32_t segment;       /* Index in `segments`, or -1 (only in the WAL). */
    uint64_t position;     /* Position in that segment file. */
};

struct scene {
    struct broker_process broker;
    char log_path[160];               /* The broker's stderr, captured. */
    struct stored batches[BATCHES_MAX]; /* Acknowledged, in offset order. */
    uint32_t batch_count;             /* Batches acknowledged. */
    char segments[SEGMENTS_MAX][320]; /* Segment files, sorted (the last is open). */
    uint32_t segment_count;           /* Segment files found. */
};

static struct scene scene_state;

/* Runs `start` with the broker's stderr going to the scene's log file. */
static void
scene_capture_start(struct scene *scene)
{
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    int log = open(scene->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    cr_assert_geq(log, 0);
    dup2(log, STDERR_FILENO);
    close(log);
    broker_start(&scene->broker);
    dup2(saved, STDERR_FILENO);
    close(saved);
}

static bool
scene_log_has(const struct scene *scene, const char *text)
{
    FILE *file = fopen(scene->log_path, "r");
    char line[1024];
    bool found = false;
    while (file != NULL && !found && fgets(line, sizeof(line), file) != NULL) {
        found = strstr(line, text) != NULL;
    }
    if (file != NULL) {
        fclose(file);
    }
    return found;
}

static void
batch_prefix(uint32_t index, char *prefix, size_t capacity)
{
    snprintf(prefix, capacity, "batch%04u-padding-so-that-segments-fill-up-quickly", index);
}

/* Produces batch `index` with acks=all and remembers its offset. */
static void
produce(struct scene *scene, struct client *client, uint32_t index)
{
    static uint8_t batch[1 << 16];
    char prefix[64];
    batch_prefix(index, prefix, sizeof(prefix));
    uint32_t bytes = test_batch(batch, sizeof(batch), RECORDS_PER_BATCH, prefix);
    int64_t base_offset;
    int16_t error = client_produce_acks_all(client, TOPIC, 0, batch, bytes, &base_offset);
    cr_assert_eq(error, 0, "batch %u: %s", index, sb_wire_error_name(error));
    cr_assert_eq(base_offset, (int64_t)index * RECORDS_PER_BATCH);
    scene->batches[index] = (struct stored){.offset = base_offset, .bytes = bytes,
                                            .segment = -1};
    scene->batch_count = index + 1;
}

static int
compare_names(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* Lists the partition's segment files and finds each batch's position in them. */
static void
scene_map_segments(struct scene *scene)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/partitions", scene->broker.data_dir);
    DIR *partitions = opendir(path);
    cr_assert_not_null(partitions);
    struct dirent *entry;
    char partition_dir[300] = "";
    while ((entry = readdir(partitions)) != NULL) {
        if (entry->d_name[0] != '.') {
            snprintf(partition_dir, sizeof(partition_dir), "%.150s/%.100s", path, entry->d_name);
        }
    }
    closedir(partitions);
    DIR *directory = opendir(partition_dir);
    cr_assert_not_null(directory);
    scene->segment_count = 0;
    while ((entry = readdir(directory)) != NULL && scene->segment_count < SEGMENTS_MAX) {
        if (strstr(entry->d_name, ".seg") != NULL) {
            snprintf(scene->segments[scene->segment_count++], sizeof(scene->segments[0]),
                     "%.250s/%.60s", partition_dir, entry->d_name);
        }
    }
    closedir(directory);
    qsort(scene->segments, scene->segment_count, sizeof(scene->segments[0]), compare_names);
}

/* Finds the batches of segment `index` (they follow its 4 KiB header block back to back). */
static void
scene_map_batches(struct scene *scene, uint32_t index)
{
    int fd = open(scene->segments[index], O_RDONLY);
    cr_assert_geq(fd, 0);
    struct stat status;
    fstat(fd, &status);
    uint8_t *bytes = malloc((size_t)status.st_size);
    cr_assert_eq(read(fd, bytes, (size_t)status.st_size), status.st_size);
    close(fd);
    for (uint64_t position = 4096; position + SB_BATCH_HEADER_BYTES <= (uint64_t)status.st_size;) {
        struct sb_batch_header header;
        if (sb_batch_verify(bytes + position, (size_t)status.st_size - position, 1 << 24,
                            &header) != 0) {
            break;
        }
        uint32_t batch = (uint32_t)(header.base_offset / RECORDS_PER_BATCH);
        cr_assert_lt(batch, scene->batch_count);
        scene->batches[batch].segment = (int32_t)index;
        scene->batches[batch].position = position;
        position += header.batch_bytes;
    }
    free(bytes);
}

/* Data in closed segments, an open segment, and (with `wal`) WAL_BATCHES more batches that
 * only the WAL holds (the broker is killed -9 before it flushes them). Leaves it stopped. */
static void
scene_setup(struct scene *scene, bool wal)
{
    memset(scene, 0, sizeof(*scene));
    broker_init(&scene->broker, 1);
    snprintf(scene->broker.extra, sizeof(scene->broker.extra), "--segment-bytes 64k");
    snprintf(scene->log_path, sizeof(scene->log_path), "%s.log", scene->broker.data_dir);
    unlink(scene->log_path);
    broker_start(&scene->broker);
    struct client client;
    client_connect(&client, scene->broker.port);
    cr_assert_eq(client_create_topic(&client, TOPIC, 1), SB_WIRE_ERROR_NONE);
    for (uint32_t index = 0; index < SEGMENT_BATCHES; index++) {
        produce(scene, &client, index);
    }
    client_close(&client);
    cr_assert_eq(broker_stop(&scene->broker), 0, "a clean stop flushes into segments");
    if (wal) {
        broker_start(&scene->broker);
        client_connect(&client, scene->broker.port);
        for (uint32_t index = SEGMENT_BATCHES; index < BATCHES_MAX; index++) {
            produce(scene, &client, index);
        }
        client_close(&client);
        broker_kill(&scene->broker);
    }
    scene_map_segments(scene);
    cr_assert_geq(scene->segment_count, 3, "closed segments and an open one");
    for (uint32_t index = 0; index < scene->segment_count; index++) {
        scene_map_batches(scene, index);
    }
}

static void
scene_destroy(struct scene *scene)
{
    if (scene->broker.data_dir[0] != '\0') {
        broker_destroy(&scene->broker);
        unlink(scene->log_path);
    }
    memset(scene, 0, sizeof(*scene));
}

/* Runs after every test, also after a failed assertion: no broker or directory outlives it. */
static void
scene_fini(void)
{
    scene_destroy(&scene_state);
}

static void
file_flip(const char *path, uint64_t position)
{
    int fd = open(path, O_RDWR);
    cr_assert_geq(fd, 0, "open %s", path);
    uint8_t byte;
    cr_assert_eq(pread(fd, &byte, 1, (off_t)position), 1);
    byte ^= 0x10;
    cr_assert_eq(pwrite(fd, &byte, 1, (off_t)position), 1);
    close(fd);
}

static void
file_zero_block(const char *path, uint64_t position)
{
    static const uint8_t zeros[4096];
    int fd = open(path, O_RDWR);
    cr_assert_geq(fd, 0, "open %s", path);
    struct stat status;
    fstat(fd, &status);
    uint64_t block = position / 4096 * 4096;
    uint64_t length = sb_min_u64(4096, (uint64_t)status.st_size - block);
    cr_assert_eq(pwrite(fd, zeros, length, (off_t)block), (ssize_t)length);
    close(fd);
}

static void
file_truncate(const char *path, uint64_t length)
{
    cr_assert_eq(truncate(path, (off_t)length), 0, "truncate %s", path);
}

/* The middle batch stored in segment `segment`. */
static uint32_t
scene_middle_batch(const struct scene *scene, uint32_t segment)
{
    uint32_t first = UINT32_MAX;
    uint32_t last = 0;
    for (uint32_t index = 0; index < scene->batch_count; index++) {
        if (scene->batches[index].segment == (int32_t)segment) {
            first = first == UINT32_MAX ? index : first;
            last = index;
        }
    }
    cr_assert_neq(first, UINT32_MAX, "segment %u holds batches", segment);
    return first + (last - first) / 2;
}

enum verdict { READABLE, REFUSED_CORRUPT, REFUSED_FENCED, MISSING };

/* Fetches the batch at its offset; every batch served must be whole, valid and ours. */
static enum verdict
fetch_batch(struct client *client, uint32_t index, int64_t offset)
{
    struct fetch_spec spec = {.topic = TOPIC, .offset = offset, .partition_max_bytes = 1,
                              .max_bytes = 1};
    struct sb_fetch_partition_response result;
    client_fetch(client, &spec, &result);
    if (result.error_code == SB_WIRE_ERROR_CORRUPT_MESSAGE) {
        return REFUSED_CORRUPT;
    }
    if (result.error_code == SB_WIRE_ERROR_DATA_FENCED) {
        return REFUSED_FENCED;
    }
    if (result.error_code != 0 || result.records.length == 0) {
        cr_assert(result.error_code == 0 ||
                  result.error_code == SB_WIRE_ERROR_OFFSET_OUT_OF_RANGE,
                  "batch %u: unexpected error %s", index,
                  sb_wire_error_name(result.error_code));
        return MISSING;
    }
    struct sb_batch_header header;
    cr_assert_eq(sb_batch_verify(result.records.data, result.records.length, 1 << 24, &header), 0,
                 "batch %u: a served batch passes its CRCs", index);
    cr_assert_eq(header.base_offset, offset, "batch %u: the batch at its offset", index);
    struct sb_record_iter iterator;
    sb_record_iter_init(&iterator, &header, result.records.data + SB_BATCH_HEADER_BYTES,
                        header.records_bytes);
    struct sb_record_view record;
    char prefix[64];
    batch_prefix(index, prefix, sizeof(prefix));
    uint32_t count = 0;
    while (sb_record_iter_next(&iterator, &record) == 1) {
        char expected[96];
        int length = snprintf(expected, sizeof(expected), "%s-%u", prefix, count++);
        cr_assert(record.value_length == length &&
                  memcmp(record.value, expected, (size_t)length) == 0,
                  "batch %u: the acknowledged records", index);
    }
    cr_assert_eq(count, RECORDS_PER_BATCH);
    return READABLE;
}

struct outcome {
    uint32_t readable;  /* Batches served intact. */
    uint32_t corrupt;   /* Refused as corrupt. */
    uint32_t fenced;    /* Refused by the partition's fence. */
    uint32_t missing;   /* Neither served nor refused (beyond the high watermark). */
};

/* Restarts on the damaged files and reads every acknowledged batch. Batches before `first`
 * must be readable; those in [first, last] refused, never hidden; after `last` readable too
 * unless `fence_allowed` (then readable or fenced) or up to `lossy_last` (may be refused as
 * corrupt: a reader finds batch boundaries again only at the next sparse-index entry). */
static struct outcome
scene_verify_lossy(struct scene *scene, uint32_t first, uint32_t last, uint32_t lossy_last,
                   bool fence_allowed)
{
    scene_capture_start(scene);
    struct client client;
    client_connect(&client, scene->broker.port);
    struct outcome outcome = {0};
    for (uint32_t index = 0; index < scene->batch_count; index++) {
        enum verdict verdict = fetch_batch(&client, index, scene->batches[index].offset);
        outcome.readable += verdict == READABLE;
        outcome.corrupt += verdict == REFUSED_CORRUPT;
        outcome.fenced += verdict == REFUSED_FENCED;
        outcome.missing += verdict == MISSING;
        if (index < first) {
            cr_assert_eq(verdict, READABLE, "batch %u before the damage is readable", index);
        } else if (index > last) {
            cr_assert(verdict == READABLE || (fence_allowed && verdict == REFUSED_FENCED) ||
                      (index <= lossy_last && verdict == REFUSED_CORRUPT),
                      "batch %u after the damage: %d", index, verdict);
        } else {
            cr_assert_neq(verdict, MISSING, "batch %u in the damage is refused, not hidden",
                          index);
        }
    }
    client_close(&client);
    cr_log_info("readable=%u corrupt=%u fenced=%u missing=%u of %u", outcome.readable,
                outcome.corrupt, outcome.fenced, outcome.missing, scene->batch_count);
    cr_assert_eq(broker_stop(&scene->broker), 0);
    return outcome;
}

static struct outcome
scene_verify(struct scene *scene, uint32_t first, uint32_t last, bool fence_allowed)
{
    return scene_verify_lossy(scene, first, last, last, fence_allowed);
}

/* The batches [first, last] that overlap bytes [from, to) of segment `segment`. */
static void
scene_overlap(const struct scene *scene, uint32_t segment, uint64_t from, uint64_t to,
              uint32_t *first, uint32_t *last)
{
    *first = UINT32_MAX;
    *last = 0;
    for (uint32_t index = 0; index < scene->batch_count; index++) {
        const struct stored *batch = &scene->batches[index];
        if (batch->segment == (int32_t)segment && batch->position < to &&
            batch->position + batch->bytes > from) {
            *first = *first == UINT32_MAX ? index : *first;
            *last = index;
        }
    }
    cr_assert_neq(*first, UINT32_MAX);
}

Test(corruption, closed_segment_bit_flip_loses_only_that_batch, .timeout = 120,
     .fini = scene_fini)
{
    struct scene *scene = &scene_state;
    scene_setup(scene, false);
    uint32_t middle = scene_middle_batch(scene, 1);
    file_flip(scene->segments[1], scene->batches[middle].position + 200);
    struct outcome outcome = scene_verify(scene, middle, middle, false);
    cr_assert_eq(outcome.corrupt, 1);
    cr_assert(scene_log_has(scene, "corrupt batch in segment; not served"));
    char where[64];
    snprintf(where, sizeof(where), "position=%llu",
             (unsigned long long)scene->batches[middle].position);
    cr_assert(scene_log_has(scene, where), "the log says where: %s", where);
}

Test(corruption, closed_segment_zeroed_block_loses_only_the_batches_in_it, .timeout = 120,
     .fini = scene_fini)
{
    struct scene *scene = &scene_state;
    scene_setup(scene, false);
    uint32_t middle = scene_middle_batch(scene, 1);
    uint64_t block = scene->batches[middle].position / 4096 * 4096;
    file_zero_block(scene->segments[1], block);
    uint32_t first;
    uint32_t last;
    scene_overlap(scene, 1, block, block + 4096, &first, &last);
    uint32_t segment_first;
    uint32_t segment_last;
    scene_overlap(scene, 1, 0, UINT64_MAX, &segment_first, &segment_last);
    struct outcome outcome = scene_verify_lossy(scene, first, last, segment_last, false);
    cr_log_info("zeroed block held %u batches; %u refused (the rest up to the segment's next "
                "index entry)", last - first + 1, outcome.corrupt);
    cr_assert_eq(outcome.fenced, 0);
    cr_assert(scene_log_has(scene, "corrupt"), "the damage is reported");
}

Test(corruption, closed_segment_truncated_is_rescanned_and_fenced, .timeout = 120,
     .fini = scene_fini)
{
    struct scene *scene = &scene_state;
    scene_setup(scene, false);
    uint32_t middle = scene_middle_batch(scene, 1);
    file_truncate(scene->segments[1], scene->batches[middle].position + 10);
    uint32_t last;
    uint32_t first;
    scene_overlap(scene, 1, scene->batches[middle].position, UINT64_MAX, &first, &last);
    scene_verify(scene, first, last, true);
    cr_assert(scene_log_has(scene, "segment footer or header is corrupt; rescanning"));
    cr_assert(scene_log_has(scene, scene->segments[1]), "the log names the file");
    cr_assert(scene_log_has(scene, "partition fenced"));
}

Test(corruption, open_segment_bit_flip_fences_from_there, .timeout = 120,
     .fini = scene_fini)
{
    struct scene *scene = &scene_state;
    scene_setup(scene, false);
    uint32_t open = scene->segment_count - 1;
    uint32_t middle = scene_middle_batch(scene, open);
    file_flip(scene->segments[open], scene->batches[middle].position + 200);
    struct outcome outcome = scene_verify(scene, middle, middle, true);
    cr_assert_geq(outcome.fenced, 1);
    cr_assert(scene_log_has(scene, "corrupt data in open segment"));
    cr_assert(scene_log_has(scene, scene->segments[open]), "the log names the file");
}

Test(corruption, open_segment_truncated_fences_from_there, .timeout = 120,
     .fini = scene_fini)
{
    struct scene *scene = &scene_state;
    scene_setup(scene, false);
    uint32_t open = scene->segment_count - 1;
    uint32_t middle = scene_middle_batch(scene, open);
    file_truncate(scene->segments[open], scene->batches[middle].position + 10);
    uint32_t last;
    uint32_t first;
    scene_overlap(scene, open, scene->batches[middle].position, UINT64_MAX, &first, &last);
    scene_verify(scene, first, last, true);
    cr_assert(scene_log_has(scene, "corrupt data in open segment"));
    cr_assert(scene_log_has(scene, scene->segments[open]), "the log names the file");
}

/* Finds batch `index` in the WAL files; returns its file and position. */
static void
scene_find_in_wal(const struct scene *scene, uint32_t index, char *path, size_t capacity,
                  uint64_t *position_out)
{
    static uint8_t bytes[64u << 20];
    for (uint32_t file = 0; file < 16; file++) {
        snprintf(path, capacity, "%s/shards/0/wal-%u.log", scene->broker.data_dir, file);
        int fd = open(path, O_RDONLY);
        if (fd < 0) {
            continue;
        }
        ssize_t length = read(fd, bytes, sizeof(bytes));
        close(fd);
        for (ssize_t at = 0; at + SB_BATCH_HEADER_BYTES <= length; at += 4) {
            struct sb_batch_header header;
            if (sb_load_le32(bytes + at) == SB_BATCH_MAGIC &&
                sb_batch_header_decode(bytes + at, (size_t)(length - at), 1 << 24, &header) == 0 &&
                header.base_offset == scene->batches[index].offset) {
                *position_out = (uint64_t)at;
                return;
            }
        }
    }
    cr_assert_fail("batch %u is not in the WAL", index);
}

Test(corruption, wal_bit_flip_inside_acknowledged_data_is_reported_and_fenced, .timeout = 120,
     .fini = scene_fini)
{
    struct scene *scene = &scene_state;
    scene_setup(scene, true);
    uint32_t damaged = SEGMENT_BATCHES + WAL_BATCHES / 2;
    char path[256];
    uint64_t position;
    scene_find_in_wal(scene, damaged, path, sizeof(path), &position);
    file_flip(path, position + 200);
    struct outcome outcome = scene_verify(scene, damaged, damaged, true);
    cr_assert_eq(outcome.readable, damaged, "everything before it is served");
    cr_assert(scene_log_has(scene, "WAL corruption inside acknowledged data"));
    cr_assert(scene_log_has(scene, strrchr(path, '/') + 1), "the log names the file");
    cr_assert(scene_log_has(scene, "partition fenced"));
}

/* Starts the broker on damaged metadata: it must exit non-zero and name `file`. */
static void
scene_expect_refusal(struct scene *scene, const char *file)
{
    char listen[64];
    snprintf(listen, sizeof(listen), "127.0.0.1:%u", scene->broker.port);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int log = open(scene->log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        dup2(log, STDERR_FILENO);
        execl(STREAMBUS_BINARY, STREAMBUS_BINARY, "--data-dir", scene->broker.data_dir,
              "--listen", listen, "--cores", "1", "--wal-prefill", "false", "--wal-file-bytes",
              "4m", "--memtable-bytes", "16m", (char *)NULL);
        _exit(127);
    }
    int status = 0;
    pid_t done = 0;
    for (int attempt = 0; attempt < 1000 && done == 0; attempt++) {
        done = waitpid(pid, &status, WNOHANG);
        struct timespec delay = {0, 10 * 1000 * 1000};
        nanosleep(&delay, NULL);
    }
    if (done == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        cr_assert_fail("the broker started on a damaged %s", file);
    }
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) != 0, "exits with an error");
    char named[320];
    snprintf(named, sizeof(named), "%s/%s", scene->broker.data_dir, file);
    cr_assert(scene_log_has(scene, named), "the error names %s", named);
}

Test(corruption, manifest_bit_flip_refuses_to_start_naming_it, .timeout = 120,
     .fini = scene_fini)
{
    struct scene *scene = &scene_state;
    scene_setup(scene, false);
    char path[256];
    snprintf(path, sizeof(path), "%.128s/shards/0/MANIFEST", scene->broker.data_dir);
    file_flip(path, 40);
    scene_expect_refusal(scene, "shards/0/MANIFEST");
}

Test(corruption, manifest_truncated_refuses_to_start_naming_it, .timeout = 120,
     .fini = scene_fini)
{
    struct scene *scene = &scene_state;
    scene_setup(scene, false);
    char path[256];
    snprintf(path, sizeof(path), "%.128s/shards/0/MANIFEST", scene->broker.data_dir);
    file_truncate(path, 30);
    scene_expect_refusal(scene, "shards/0/MANIFEST");
}

Test(corruption, metadata_bit_flip_refuses_to_start_naming_it, .timeout = 120,
     .fini = scene_fini)
{
    struct scene *scene = &scene_state;
    scene_setup(scene, false);
    char path[256];
    snprintf(path, sizeof(path), "%.128s/metadata", scene->broker.data_dir);
    file_flip(path, 50);
    scene_expect_refusal(scene, "metadata");
}

Test(corruption, metadata_zeroed_refuses_to_start_naming_it, .timeout = 120,
     .fini = scene_fini)
{
    struct scene *scene = &scene_state;
    scene_setup(scene, false);
    char path[256];
    snprintf(path, sizeof(path), "%.128s/metadata", scene->broker.data_dir);
    file_zero_block(path, 0);
    scene_expect_refusal(scene, "metadata");
}

/* The metadata file is gone but the shard and partition files are there: that is not a new
 * data directory. The broker refuses to start naming the file and deletes nothing: with the
 * file back, every acknowledged batch (in segments and in the WAL) is readable. */
Test(corruption, metadata_missing_refuses_to_start_and_deletes_nothing, .timeout = 120,
     .fini = scene_fini)
{
    struct scene *scene = &scene_state;
    scene_setup(scene, true);
    char path[256];
    char moved[272];
    snprintf(path, sizeof(path), "%.128s/metadata", scene->broker.data_dir);
    snprintf(moved, sizeof(moved), "%s.moved", path);
    cr_assert_eq(rename(path, moved), 0);
    scene_expect_refusal(scene, "metadata");
    cr_assert_eq(rename(moved, path), 0);
    scene_verify(scene, scene->batch_count, scene->batch_count, false);
}
