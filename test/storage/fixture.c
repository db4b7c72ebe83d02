/*
 * test/storage/fixture.c - see fixture.h.
 */
#include "test/storage/fixture.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/crc32c.h"
#include "proto/batch.h"

void
fixture_init(struct fixture *fixture, uint64_t sim_seed)
{
    memset(fixture, 0, sizeof(*fixture));
    snprintf(fixture->data_dir, sizeof(fixture->data_dir), "/tmp/sb-storage-XXXXXX");
    cr_assert_not_null(mkdtemp(fixture->data_dir));
    struct sb_io_config io_config = {.backend = SB_IO_BACKEND_URING};
    if (sim_seed != 0) {
        struct sb_sim_config sim_config = {.seed = sim_seed};
        sim_config.faults.disk_latency_min_ns = 10 * 1000;
        sim_config.faults.disk_latency_max_ns = 200 * 1000;
        fixture->faults = sim_config.faults;
        cr_assert_eq(sb_sim_create(&sim_config, &fixture->sim), 0);
        io_config.backend = SB_IO_BACKEND_SIM;
        io_config.sim = fixture->sim;
    }
    cr_assert_eq(sb_io_create(&io_config, &fixture->io), 0);
    cr_assert_eq(sb_arena_init(&fixture->arena, 1 << 20), 0);
    cr_assert_eq(sb_timer_heap_init(&fixture->timers, &fixture->arena, 1024), 0);
    fixture->config = (struct sb_store_config){
        .data_dir = fixture->data_dir,
        .wal_file_bytes = 1 << 20,
        .wal_file_count = 4,
        .memtable_bytes = 4 << 20,
        .cycle_bytes_max = 256 << 10,
        .batch_bytes_max = 64 << 10,
        .partitions_max = 256,
        .segments_max = 1024,
        .block_cache_bytes = 1 << 20,
        .index_bytes = 1 << 20,
        .index_interval_bytes = 4096,
        .flush_concurrency = 4,
    };
}

int
fixture_open(struct fixture *fixture)
{
    cr_assert_null(fixture->store);
    return sb_store_open(fixture->io, &fixture->timers, &fixture->config, &fixture->store);
}

void
fixture_step(struct fixture *fixture, uint64_t wait_ns)
{
    if (fixture->store != NULL) {
        sb_store_iteration_end(fixture->store);
    }
    int ran = sb_io_run(fixture->io, wait_ns);
    cr_assert_geq(ran, 0);
    sb_timer_fire_due(&fixture->timers, sb_io_now_ns(fixture->io));
}

bool
fixture_run_until(struct fixture *fixture, const bool *flag, uint32_t steps_max)
{
    for (uint32_t step = 0; step < steps_max && !*flag; step++) {
        fixture_step(fixture, SB_NS_PER_MS);
    }
    return *flag;
}

void
fixture_settle(struct fixture *fixture)
{
    for (uint32_t step = 0; step < 100000 && !sb_store_idle(fixture->store); step++) {
        fixture_step(fixture, SB_NS_PER_MS);
    }
    cr_assert(sb_store_idle(fixture->store), "store did not settle");
}

void
fixture_close(struct fixture *fixture)
{
    sb_store_shutdown(fixture->store);
    fixture_settle(fixture);
    sb_store_close(fixture->store);
    fixture->store = NULL;
}

void
fixture_crash(struct fixture *fixture)
{
    /* Let in-flight io finish (a real crash would simply lose it; the store's memory must not
     * be freed under the kernel's feet). */
    for (uint32_t step = 0; step < 10000 && sb_io_in_flight(fixture->io) > 0; step++) {
        int ran = sb_io_run(fixture->io, SB_NS_PER_MS);
        cr_assert_geq(ran, 0);
    }
    sb_store_close(fixture->store);
    fixture->store = NULL;
}

void
fixture_power_loss(struct fixture *fixture, enum sb_sim_power_loss_mode mode)
{
    cr_assert_not_null(fixture->sim, "power loss needs the simulator");
    cr_assert_eq(sb_sim_power_loss(fixture->sim, mode), 0);
    if (fixture->store != NULL) {
        sb_store_close(fixture->store);
        fixture->store = NULL;
    }
    sb_io_destroy(fixture->io);
    struct sb_io_config io_config = {.backend = SB_IO_BACKEND_SIM, .sim = fixture->sim};
    cr_assert_eq(sb_io_create(&io_config, &fixture->io), 0);
}

void
fixture_set_faults(struct fixture *fixture, const struct sb_sim_faults *faults)
{
    cr_assert_not_null(fixture->sim);
    struct sb_sim_faults rates = {0};
    if (faults != NULL) {
        rates = *faults;
    }
    rates.disk_latency_min_ns = fixture->faults.disk_latency_min_ns;
    rates.disk_latency_max_ns = fixture->faults.disk_latency_max_ns;
    sb_sim_set_faults(fixture->sim, &rates);
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
fixture_destroy(struct fixture *fixture)
{
    if (fixture->store != NULL) {
        fixture_crash(fixture);
    }
    sb_io_destroy(fixture->io);
    if (fixture->sim != NULL) {
        sb_sim_destroy(fixture->sim);
    }
    sb_arena_deinit(&fixture->arena);
    nftw(fixture->data_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

uint32_t
fixture_batch(uint8_t *buffer, uint32_t capacity, uint32_t count, uint64_t tag,
              int64_t first_timestamp_ms)
{
    struct sb_batch_builder builder;
    sb_batch_builder_init(&builder, buffer, capacity, first_timestamp_ms);
    for (uint32_t index = 0; index < count; index++) {
        char key[32];
        char value[64];
        int key_length = snprintf(key, sizeof(key), "key-%u", index);
        int value_length = snprintf(value, sizeof(value), "value-%u-%llu", index,
                                    (unsigned long long)tag);
        struct sb_record_header header = {.name = (const uint8_t *)"h", .name_length = 1,
                                          .value = (const uint8_t *)"v", .value_length = 1};
        struct sb_record record = {
            .key = key, .key_length = key_length, .value = value, .value_length = value_length,
            .timestamp_ms = first_timestamp_ms + index, .headers = &header, .header_count = 1,
        };
        cr_assert_eq(sb_batch_builder_add(&builder, &record), 0);
    }
    const uint8_t *batch;
    uint32_t bytes;
    cr_assert_eq(sb_batch_builder_finish(&builder, SB_COMPRESSION_NONE, NULL, 0, &batch, &bytes),
                 0);
    cr_assert_eq(batch, buffer);
    return bytes;
}

static void
append_done(struct sb_append *append)
{
    *(bool *)append->context = true;
}

int64_t
fixture_append_durable(struct fixture *fixture, struct sb_partition *partition,
                       const uint8_t *batch, uint32_t bytes)
{
    struct sb_append append;
    bool done = false;
    int result = sb_partition_append(partition, batch, bytes, &append, append_done, &done);
    if (result < 0) {
        return result;
    }
    cr_assert(fixture_run_until(fixture, &done, 100000), "append never became durable");
    return append.result < 0 ? append.result : append.base_offset;
}

static void
read_done(struct sb_read *read)
{
    *(bool *)read->context = true;
}

int
fixture_read(struct fixture *fixture, struct sb_partition *partition, int64_t offset,
             uint8_t *buffer, uint32_t capacity, uint32_t max_bytes, uint32_t *bytes_out)
{
    bool done = false;
    struct sb_read read = {.offset = offset, .max_bytes = max_bytes, .buffer = buffer,
                           .capacity = capacity, .callback = read_done, .context = &done};
    int started = sb_partition_read(partition, &read);
    if (started < 0) {
        *bytes_out = 0;
        return started;
    }
    if (started == 0) {
        cr_assert(fixture_run_until(fixture, &done, 100000), "read never finished");
    }
    *bytes_out = read.bytes;
    /* Every read, from a segment or the memtable, reports the CRC of what it copied (the
     * broker's response frame CRC combines it instead of reading the records again). */
    cr_assert_eq(read.crc, sb_crc32c(0, buffer, read.bytes), "the read's CRC is its bytes'");
    return read.result;
}
