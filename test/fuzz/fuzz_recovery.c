/*
 * test/fuzz/fuzz_recovery.c - libFuzzer target for store recovery: the
 * MANIFEST loader, the segment scanner (open and closed segments, footers,
 * index) and the WAL replay, fed damaged files.
 *
 * Once per process a template store is made on the simulator: two partitions,
 * small segments (several closed ones and an open one), a small memtable so
 * flushes and checkpoints happen, and a last stretch of batches that are only
 * in the WAL; then a crash (closed without shutdown). Every input is a list of
 * mutations of the template's files, written to a fresh directory that a new
 * store then opens. Mutation records: selector byte (low nibble: file; high
 * nibble: 0-9 overwrite 1-16 bytes with the data that follows, 10-12 flip one
 * bit, 13 zero a 4 KiB block, 14 truncate, 15 replace the file with the rest
 * of the input: raw bytes as a WAL file or a segment), three bytes of position
 * (scaled to the file's size), one length byte, data.
 *
 * Oracles besides the sanitizers: opening returns 0, SB_ECORRUPT or a
 * documented -errno and never crashes; when it opens, every batch read from
 * either partition passes sb_batch_verify and is byte for byte the batch that
 * was appended at that offset (nothing corrupt is ever served), and reads fail
 * only with documented errors.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/arena.h"
#include "core/assert.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/io.h"
#include "core/log.h"
#include "core/sim.h"
#include "core/timer.h"
#include "proto/batch.h"
#include "storage/store.h"

#define FUZZ_TOPIC 7u
#define FUZZ_PARTITIONS 2u
#define FUZZ_BATCHES 96u
#define FUZZ_FILES_MAX 32u
#define FUZZ_STEPS_MAX 20000u
#define FUZZ_READ_BYTES (64u << 10)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_file {
    char name[512];  /* Path below the data directory. */
    uint8_t *bytes;  /* Template contents (malloc'd). */
    size_t size;     /* Bytes. */
};

struct fuzz_batch {
    int64_t offset;  /* Base offset it was appended at. */
    uint32_t bytes;  /* Its size. */
    uint8_t *data;   /* The batch as stored (base offset assigned; malloc'd). */
};

struct fuzz_world {
    struct sb_sim *sim;           /* Simulator. */
    struct sb_io *io;             /* Its io. */
    struct sb_arena arena;        /* Timer memory. */
    struct sb_timer_heap timers;  /* The store's timers. */
    struct sb_store_config config; /* Store settings. */
    char data_dir[64];            /* Where the store lives. */
};

static struct fuzz_file fuzz_files[FUZZ_FILES_MAX];
static uint32_t fuzz_file_count;
static struct fuzz_batch fuzz_batches[FUZZ_PARTITIONS][FUZZ_BATCHES];
static uint32_t fuzz_batch_counts[FUZZ_PARTITIONS];
static char fuzz_work_dir[64];
static uint8_t fuzz_read_buffer[FUZZ_READ_BYTES];

static void
fuzz_world_init(struct fuzz_world *world, const char *data_dir)
{
    memset(world, 0, sizeof(*world));
    snprintf(world->data_dir, sizeof(world->data_dir), "%s", data_dir);
    struct sb_sim_config sim_config = {.seed = 1};
    SB_ASSERT(sb_sim_create(&sim_config, &world->sim) == 0);
    struct sb_io_config io_config = {.backend = SB_IO_BACKEND_SIM, .sim = world->sim};
    SB_ASSERT(sb_io_create(&io_config, &world->io) == 0);
    SB_ASSERT(sb_arena_init(&world->arena, 1 << 20) == 0);
    SB_ASSERT(sb_timer_heap_init(&world->timers, &world->arena, 1024) == 0);
    world->config = (struct sb_store_config){
        .data_dir = world->data_dir, .wal_file_bytes = 64 << 10, .wal_file_count = 2,
        .memtable_bytes = 128 << 10, .cycle_bytes_max = 32 << 10, .batch_bytes_max = 16 << 10,
        .partitions_max = 16, .segments_max = 128, .block_cache_bytes = 256 << 10,
        .index_bytes = 64 << 10, .index_interval_bytes = 1024, .flush_concurrency = 2,
        .compaction_keys_max = 1024,
    };
}

static void
fuzz_world_deinit(struct fuzz_world *world)
{
    sb_io_destroy(world->io);
    sb_sim_destroy(world->sim);
    sb_arena_deinit(&world->arena);
}

static void
fuzz_step(struct fuzz_world *world, struct sb_store *store)
{
    if (store != NULL) {
        sb_store_iteration_end(store);
    }
    SB_ASSERT(sb_io_run(world->io, SB_NS_PER_MS) >= 0);
    sb_timer_fire_due(&world->timers, sb_io_now_ns(world->io));
}

static void
fuzz_append_done(struct sb_append *append)
{
    *(bool *)append->context = true;
}

/* Appends one batch of `count` records to `partition` and waits until it is durable. */
static void
fuzz_template_append(struct fuzz_world *world, struct sb_store *store, uint32_t index,
                     uint32_t count, uint32_t tag)
{
    static uint8_t buffer[8192];
    int64_t now_ms = (int64_t)(sb_clock_realtime_ns() / SB_NS_PER_MS); /* Inside retention. */
    struct sb_batch_builder builder;
    sb_batch_builder_init(&builder, buffer, 4096, now_ms);
    for (uint32_t record = 0; record < count; record++) {
        char key[32];
        char value[96];
        int key_length = snprintf(key, sizeof(key), "key-%u", record % 7);
        int value_length = snprintf(value, sizeof(value), "value-%u-%u-padding-padding", tag,
                                    record);
        struct sb_record item = {.key = key, .key_length = key_length, .value = value,
                                 .value_length = value_length,
                                 .timestamp_ms = now_ms + record};
        SB_ASSERT(sb_batch_builder_add(&builder, &item) == 0);
    }
    const uint8_t *batch;
    uint32_t bytes;
    SB_ASSERT(sb_batch_builder_finish(&builder, tag % 3 == 0 ? SB_COMPRESSION_ZSTD
                                                             : SB_COMPRESSION_NONE,
                                      buffer + 4096, 4096, &batch, &bytes) == 0);
    struct sb_partition *partition = sb_store_partition_find(store, FUZZ_TOPIC, index);
    struct sb_append append;
    bool done = false;
    SB_ASSERT(sb_partition_append(partition, batch, bytes, &append, fuzz_append_done,
                                  &done) == 0);
    for (uint32_t step = 0; step < FUZZ_STEPS_MAX && !done; step++) {
        fuzz_step(world, store);
    }
    SB_ASSERT(done && append.result == 0);
    struct fuzz_batch *kept = &fuzz_batches[index][fuzz_batch_counts[index]++];
    kept->offset = append.base_offset;
    kept->bytes = bytes;
    kept->data = malloc(bytes);
    memcpy(kept->data, batch, bytes);
    sb_batch_assign_offset(kept->data, append.base_offset);
}

/* Reads every regular file below `directory` into the template (sorted names). */
static void
fuzz_template_load(const char *root, const char *relative)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", root, relative);
    struct dirent **entries;
    int count = scandir(path, &entries, NULL, alphasort);
    SB_ASSERT(count >= 0);
    for (int index = 0; index < count; index++) {
        char child[512];
        snprintf(child, sizeof(child), "%.200s%s%.200s", relative, relative[0] ? "/" : "",
                 entries[index]->d_name);
        char full[1024];
        snprintf(full, sizeof(full), "%s/%s", root, child);
        struct stat status;
        if (entries[index]->d_name[0] != '.' && stat(full, &status) == 0) {
            if (S_ISDIR(status.st_mode)) {
                fuzz_template_load(root, child);
            } else if (status.st_size > 0 && fuzz_file_count < FUZZ_FILES_MAX) {
                struct fuzz_file *file = &fuzz_files[fuzz_file_count++];
                snprintf(file->name, sizeof(file->name), "%s", child);
                file->size = (size_t)status.st_size;
                file->bytes = malloc(file->size);
                int fd = open(full, O_RDONLY);
                SB_ASSERT(fd >= 0 && read(fd, file->bytes, file->size) == (ssize_t)file->size);
                close(fd);
            }
        }
        free(entries[index]);
    }
    free(entries);
}

static int
fuzz_remove_entry(const char *path, const struct stat *status, int flag, struct FTW *walk)
{
    (void)status;
    (void)flag;
    (void)walk;
    return remove(path);
}

static void
fuzz_work_dir_remove(void)
{
    nftw(fuzz_work_dir, fuzz_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* The template: 96 batches over two partitions, flushed into several segments, the last
 * ones only in the WAL, then a crash. */
static void
fuzz_template_make(void)
{
    char dir[64] = "/tmp/sb-fuzz-template-XXXXXX";
    SB_ASSERT(mkdtemp(dir) != NULL);
    struct fuzz_world world;
    fuzz_world_init(&world, dir);
    struct sb_store *store;
    SB_ASSERT(sb_store_open(world.io, &world.timers, &world.config, &store) == 0);
    struct sb_partition_config config;
    sb_partition_config_default(&config);
    config.segment_bytes = 6 << 10;
    config.retention_ms = -1;
    for (uint32_t index = 0; index < FUZZ_PARTITIONS; index++) {
        struct sb_partition *partition;
        SB_ASSERT(sb_store_partition_open(store, FUZZ_TOPIC, index, &config, &partition) == 0);
    }
    for (uint32_t tag = 0; tag < FUZZ_BATCHES * FUZZ_PARTITIONS - 6; tag++) {
        fuzz_template_append(&world, store, tag % FUZZ_PARTITIONS, 1 + tag % 9, tag);
    }
    /* A crash: in-flight I/O finishes, nothing else is written. */
    for (uint32_t step = 0; step < FUZZ_STEPS_MAX && sb_io_in_flight(world.io) > 0; step++) {
        SB_ASSERT(sb_io_run(world.io, SB_NS_PER_MS) >= 0);
    }
    sb_store_close(store);
    fuzz_world_deinit(&world);
    fuzz_template_load(dir, "");
    nftw(dir, fuzz_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    snprintf(fuzz_work_dir, sizeof(fuzz_work_dir), "/tmp/sb-fuzz-recovery-XXXXXX");
    SB_ASSERT(mkdtemp(fuzz_work_dir) != NULL);
    atexit(fuzz_work_dir_remove);
    if (getenv("SB_FUZZ_VERBOSE") != NULL) {
        for (uint32_t index = 0; index < fuzz_file_count; index++) {
            fprintf(stderr, "template file %u: %s (%zu bytes)\n", index, fuzz_files[index].name,
                    fuzz_files[index].size);
        }
    }
}

/* One file of the work directory: the template's bytes with this input's mutations. */
struct fuzz_output {
    uint8_t *bytes;   /* Contents (malloc'd). */
    size_t size;      /* Bytes. */
};

/* Applies one mutation record; returns the bytes of input it used (0: stop). */
static size_t
fuzz_mutate(struct fuzz_output *outputs, const uint8_t *data, size_t size)
{
    if (size < 5) {
        return 0;
    }
    struct fuzz_output *file = &outputs[(data[0] & 15) % fuzz_file_count];
    uint32_t action = data[0] >> 4;
    uint32_t scaled = (uint32_t)data[1] | (uint32_t)data[2] << 8 | (uint32_t)data[3] << 16;
    size_t position = file->size == 0 ? 0 : (size_t)(((uint64_t)scaled * file->size) >> 24);
    if (action == 15) {
        free(file->bytes);
        file->size = size - 5;
        file->bytes = malloc(file->size + 1);
        memcpy(file->bytes, data + 5, file->size);
        return size;
    }
    if (action == 14) {
        file->size = position;
        return 5;
    }
    if (action == 13) {
        size_t block = position / 4096 * 4096;
        memset(file->bytes + block, 0, file->size - block < 4096 ? file->size - block : 4096);
        return 5;
    }
    if (action >= 10) {
        if (position < file->size) {
            file->bytes[position] ^= (uint8_t)(1u << (data[4] & 7));
        }
        return 5;
    }
    size_t length = (size_t)(data[4] & 15) + 1;
    length = length > size - 5 ? size - 5 : length;
    for (size_t index = 0; index < length && position + index < file->size; index++) {
        file->bytes[position + index] = data[5 + index];
    }
    return 5 + length;
}

static void
fuzz_write_files(const uint8_t *data, size_t size)
{
    struct fuzz_output outputs[FUZZ_FILES_MAX];
    for (uint32_t index = 0; index < fuzz_file_count; index++) {
        outputs[index].size = fuzz_files[index].size;
        outputs[index].bytes = malloc(fuzz_files[index].size);
        memcpy(outputs[index].bytes, fuzz_files[index].bytes, fuzz_files[index].size);
    }
    /* Bounded by the input: every record uses at least 5 bytes. */
    for (size_t used = 0, step; used < size && (step = fuzz_mutate(outputs, data + used,
                                                                   size - used)) > 0;) {
        used += step;
    }
    nftw(fuzz_work_dir, fuzz_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    for (uint32_t index = 0; index < fuzz_file_count; index++) {
        char path[1024];
        snprintf(path, sizeof(path), "%s/%.500s", fuzz_work_dir, fuzz_files[index].name);
        for (char *slash = strchr(path + 1, '/'); slash != NULL; slash = strchr(slash + 1, '/')) {
            *slash = '\0';
            mkdir(path, 0755);
            *slash = '/';
        }
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        SB_ASSERT(fd >= 0);
        SB_ASSERT(write(fd, outputs[index].bytes, outputs[index].size) ==
                  (ssize_t)outputs[index].size);
        close(fd);
        free(outputs[index].bytes);
    }
}

static const struct fuzz_batch *
fuzz_batch_at(uint32_t partition, int64_t offset)
{
    for (uint32_t index = 0; index < fuzz_batch_counts[partition]; index++) {
        if (fuzz_batches[partition][index].offset == offset) {
            return &fuzz_batches[partition][index];
        }
    }
    return NULL;
}

static void
fuzz_read_done(struct sb_read *read)
{
    *(bool *)read->context = true;
}

/* Reads `partition` from its start; every batch served must be the one appended there. */
static void
fuzz_check_partition(struct fuzz_world *world, struct sb_store *store, uint32_t index)
{
    struct sb_partition *partition = sb_store_partition_find(store, FUZZ_TOPIC, index);
    if (partition == NULL) {
        return;
    }
    int64_t offset = sb_partition_log_start_offset(partition);
    for (uint32_t round = 0; round < 4 * FUZZ_BATCHES; round++) {
        bool done = false;
        struct sb_read read = {.offset = offset, .max_bytes = FUZZ_READ_BYTES,
                               .buffer = fuzz_read_buffer, .capacity = FUZZ_READ_BYTES,
                               .callback = fuzz_read_done, .context = &done};
        int started = sb_partition_read(partition, &read);
        for (uint32_t step = 0; started == 0 && !done && step < FUZZ_STEPS_MAX; step++) {
            fuzz_step(world, store);
        }
        int result = started < 0 ? started : read.result;
        SB_ASSERT(started != 0 || done);
        SB_ASSERT(result == 0 || result == SB_ECORRUPT || result == -EROFS ||
                  result == -ERANGE || result == -EIO);
        if (result != 0 || read.bytes == 0) {
            return;
        }
        for (uint32_t at = 0; at < read.bytes;) {
            struct sb_batch_header header;
            SB_ASSERT(sb_batch_verify(fuzz_read_buffer + at, read.bytes - at, UINT32_MAX,
                                      &header) == 0);
            const struct fuzz_batch *kept = fuzz_batch_at(index, header.base_offset);
            SB_ASSERT(kept != NULL && kept->bytes == header.batch_bytes);
            SB_ASSERT(memcmp(kept->data, fuzz_read_buffer + at, kept->bytes) == 0);
            offset = sb_batch_header_last_offset(&header) + 1;
            at += header.batch_bytes;
        }
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (fuzz_file_count == 0) {
        if (getenv("SB_FUZZ_VERBOSE") == NULL) {
            sb_log_set_level((enum sb_log_level)(SB_LOG_ERROR + 1));
        }
        fuzz_template_make();
    }
    fuzz_write_files(data, size);
    struct fuzz_world world;
    fuzz_world_init(&world, fuzz_work_dir);
    struct sb_store *store = NULL;
    int result = sb_store_open(world.io, &world.timers, &world.config, &store);
    SB_ASSERT(result <= 0);
    if (result == 0) {
        for (uint32_t index = 0; index < FUZZ_PARTITIONS; index++) {
            fuzz_check_partition(&world, store, index);
        }
        sb_store_shutdown(store);
        for (uint32_t step = 0; step < FUZZ_STEPS_MAX && !sb_store_idle(store); step++) {
            fuzz_step(&world, store);
        }
        for (uint32_t step = 0; step < FUZZ_STEPS_MAX && sb_io_in_flight(world.io) > 0;
             step++) {
            SB_ASSERT(sb_io_run(world.io, SB_NS_PER_MS) >= 0);
        }
        sb_store_close(store);
    }
    fuzz_world_deinit(&world);
    return 0;
}
