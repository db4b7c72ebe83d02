/*
 * bench/bench_storage.c - the storage engine on its own (one shard, io_uring):
 *   append   durable append throughput and latency (append call -> durability
 *            callback) for a record size, records per batch and partition count;
 *   read     read throughput from the memtable and from segments;
 *   recover  recovery time per GiB of WAL;
 *   flush    how long a flush round over many partitions takes (one small batch each), and
 *            how many syncs it had in flight at once.
 * Usage:
 *   bench_storage append DIR RECORD_BYTES PARTITIONS SECONDS
 *     (environment: SB_INFLIGHT = appends in flight, default 4096; SB_CYCLE = cycle bytes;
 *     SB_BATCH_RECORDS = records per batch, default as many as fit 64 KiB)
 *   bench_storage read DIR
 *   bench_storage recover DIR MIB
 *   bench_storage flush DIR PARTITIONS ROUNDS
 * Prints `key=value` figures; scripts/bench-storage runs the matrix with fio.
 */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/base.h"
#include "core/clock.h"
#include "core/io.h"
#include "core/timer.h"
#include "proto/batch.h"
#include "storage/store.h"

#define BATCH_BYTES_TARGET (64u << 10)
#define IN_FLIGHT_MAX 4096u
#define LATENCY_SAMPLES_MAX (1u << 22)

struct bench {
    struct sb_io *io;                 /* io_uring. */
    struct sb_arena arena;            /* Timer heap memory. */
    struct sb_timer_heap timers;      /* For the store. */
    struct sb_store *store;           /* The store under test. */
    struct sb_store_config config;    /* Its config. */
    struct sb_partition **partitions; /* Open partitions. */
    uint32_t partition_count;         /* How many. */
};

struct pending {
    struct sb_append append;          /* The append record. */
    uint64_t started_ns;              /* When sb_partition_append was called. */
    bool busy;                        /* In flight. */
};

static struct pending pendings[IN_FLIGHT_MAX];
static uint64_t *latencies;
static uint64_t latency_count;
static uint64_t durable_batches;
static uint32_t in_flight;

static void
bench_fail(const char *what, int error)
{
    fprintf(stderr, "bench_storage: %s: %d\n", what, error);
    exit(1);
}

static void
bench_step(struct bench *bench, uint64_t wait_ns)
{
    sb_store_iteration_end(bench->store);
    if (sb_io_run(bench->io, wait_ns) < 0) {
        bench_fail("io", -EIO);
    }
    sb_timer_fire_due(&bench->timers, sb_io_now_ns(bench->io));
}

static void
bench_open(struct bench *bench, const char *dir, uint64_t memtable_bytes, uint64_t wal_bytes)
{
    struct sb_io_config io_config = {.backend = SB_IO_BACKEND_URING};
    if (sb_io_create(&io_config, &bench->io) != 0 || sb_arena_init(&bench->arena, 1 << 20) != 0 ||
        sb_timer_heap_init(&bench->timers, &bench->arena, 4096) != 0) {
        bench_fail("io setup", -ENOMEM);
    }
    bench->config = (struct sb_store_config){
        .data_dir = dir, .wal_file_bytes = wal_bytes, .wal_file_count = 4,
        .wal_prefill = true, .memtable_bytes = memtable_bytes, .partitions_max = 16384,
        .cycle_bytes_max = getenv("SB_CYCLE") ? strtoull(getenv("SB_CYCLE"), NULL, 10) : 0,
        .flush_concurrency = 8,
        /* SB_SYNCFS=N: rounds over N partitions end with one syncfs (the broker's 256). */
        .flush_syncfs_partitions_min = getenv("SB_SYNCFS") ? (uint32_t)atoi(getenv("SB_SYNCFS"))
                                                           : 0,
    };
    uint64_t start_ns = sb_clock_monotonic_ns();
    int result = sb_store_open(bench->io, &bench->timers, &bench->config, &bench->store);
    if (result != 0) {
        bench_fail("store open", result);
    }
    struct sb_store_stats stats;
    sb_store_stats(bench->store, &stats);
    printf("open_ms=%.1f recovered_batches=%llu\n",
           (double)(sb_clock_monotonic_ns() - start_ns) / 1e6,
           (unsigned long long)stats.recovered_batches);
}

static void
bench_partitions(struct bench *bench, uint32_t count)
{
    struct sb_partition_config config;
    sb_partition_config_default(&config);
    config.retention_ms = -1;
    bench->partitions = calloc(count, sizeof(bench->partitions[0]));
    bench->partition_count = count;
    for (uint32_t index = 0; index < count; index++) {
        int result = sb_store_partition_open(bench->store, 1, index, &config,
                                             &bench->partitions[index]);
        if (result != 0) {
            bench_fail("partition open", result);
        }
    }
}

static void
bench_close(struct bench *bench, bool clean)
{
    if (clean) {
        sb_store_shutdown(bench->store);
        for (uint32_t step = 0; step < 1000000 && !sb_store_idle(bench->store); step++) {
            bench_step(bench, SB_NS_PER_MS);
        }
    } else {
        for (uint32_t step = 0; step < 100000 && sb_io_in_flight(bench->io) > 0; step++) {
            sb_io_run(bench->io, SB_NS_PER_MS);
        }
    }
    sb_store_close(bench->store);
    sb_io_destroy(bench->io);
    sb_arena_deinit(&bench->arena);
    free(bench->partitions);
}

static void
bench_durable(struct sb_append *append)
{
    struct pending *pending = SB_CONTAINER_OF(append, struct pending, append);
    if (append->result == 0 && latency_count < LATENCY_SAMPLES_MAX) {
        latencies[latency_count++] = sb_clock_monotonic_ns() - pending->started_ns;
    }
    durable_batches += append->result == 0;
    pending->busy = false;
    in_flight--;
}

static void
bench_flush_durable(struct sb_append *append)
{
    if (append->result != 0) {
        bench_fail("append durable", append->result);
    }
    in_flight--;
}

static uint32_t
bench_batch(uint8_t *buffer, uint32_t capacity, uint32_t record_bytes, uint32_t *records_out)
{
    static uint8_t value[1 << 16];
    memset(value, 'x', sizeof(value));
    uint32_t records = BATCH_BYTES_TARGET / (record_bytes + 16);
    if (getenv("SB_BATCH_RECORDS") != NULL) {
        records = (uint32_t)atoi(getenv("SB_BATCH_RECORDS"));
    }
    records = records == 0 ? 1 : records;
    struct sb_batch_builder builder;
    int64_t now_ms = (int64_t)(sb_clock_realtime_ns() / SB_NS_PER_MS);
    sb_batch_builder_init(&builder, buffer, capacity, now_ms);
    for (uint32_t index = 0; index < records; index++) {
        struct sb_record record = {.key = NULL, .key_length = -1, .value = value,
                                   .value_length = (int32_t)record_bytes,
                                   .timestamp_ms = now_ms};
        if (sb_batch_builder_add(&builder, &record) != 0) {
            records = index;
            break;
        }
    }
    const uint8_t *batch;
    uint32_t bytes;
    sb_batch_builder_finish(&builder, SB_COMPRESSION_NONE, NULL, 0, &batch, &bytes);
    *records_out = records;
    return bytes;
}

static int
compare_u64(const void *a, const void *b)
{
    uint64_t left = *(const uint64_t *)a;
    uint64_t right = *(const uint64_t *)b;
    return left < right ? -1 : left > right;
}

static uint64_t
percentile(uint64_t fraction_per_mille)
{
    if (latency_count == 0) {
        return 0;
    }
    qsort(latencies, latency_count, sizeof(uint64_t), compare_u64);
    return latencies[(latency_count - 1) * fraction_per_mille / 1000];
}

/* Appends as fast as the store accepts them for `seconds`; reports durable throughput. */
static void
bench_append(const char *dir, uint32_t record_bytes, uint32_t partition_count, double seconds)
{
    struct bench bench = {0};
    bench_open(&bench, dir, 256ull << 20, 256ull << 20);
    bench_partitions(&bench, partition_count);
    static uint8_t batch[1 << 20];
    uint32_t records = 0;
    uint32_t batch_bytes = bench_batch(batch, sizeof(batch), record_bytes, &records);
    latencies = calloc(LATENCY_SAMPLES_MAX, sizeof(uint64_t));
    struct sb_store_stats before;
    sb_store_stats(bench.store, &before);
    uint64_t start_ns = sb_clock_monotonic_ns();
    uint64_t end_ns = start_ns + (uint64_t)(seconds * 1e9);
    uint32_t next_partition = 0;
    uint32_t next_slot = 0;
    uint32_t in_flight_limit = getenv("SB_INFLIGHT") != NULL
                                   ? (uint32_t)atoi(getenv("SB_INFLIGHT")) : IN_FLIGHT_MAX;
    in_flight_limit = in_flight_limit == 0 || in_flight_limit > IN_FLIGHT_MAX ? IN_FLIGHT_MAX
                                                                              : in_flight_limit;
    while (sb_clock_monotonic_ns() < end_ns) {
        bool refused = false;
        while (in_flight < in_flight_limit && !refused) {
            while (pendings[next_slot].busy) {
                next_slot = (next_slot + 1) % IN_FLIGHT_MAX;
            }
            struct pending *pending = &pendings[next_slot];
            pending->started_ns = sb_clock_monotonic_ns();
            int result = sb_partition_append(bench.partitions[next_partition], batch,
                                             batch_bytes, &pending->append, bench_durable,
                                             NULL);
            refused = result != 0;
            if (!refused) {
                pending->busy = true;
                in_flight++;
                next_partition = (next_partition + 1) % partition_count;
            }
        }
        bench_step(&bench, refused || in_flight == in_flight_limit ? 100 * SB_NS_PER_US : 0);
    }
    double elapsed = (double)(sb_clock_monotonic_ns() - start_ns) / 1e9;
    struct sb_store_stats after;
    sb_store_stats(bench.store, &after);
    double payload_mib = (double)durable_batches * batch_bytes / 1048576.0;
    printf("append record_bytes=%u records_per_batch=%u partitions=%u seconds=%.2f "
           "durable_batches=%llu payload_mib_s=%.1f wal_mib_s=%.1f records_per_s=%.0f "
           "cycles=%llu p50_us=%.1f p99_us=%.1f p999_us=%.1f\n",
           record_bytes, records, partition_count, elapsed,
           (unsigned long long)durable_batches, payload_mib / elapsed,
           (double)(after.cycle_bytes - before.cycle_bytes) / 1048576.0 / elapsed,
           (double)durable_batches * records / elapsed,
           (unsigned long long)(after.cycles - before.cycles),
           (double)percentile(500) / 1e3, (double)percentile(990) / 1e3,
           (double)percentile(999) / 1e3);
    bench_close(&bench, true);
    free(latencies);
}

/* Each round: reopen, append one 1 KiB-record batch to every partition, wait until all are
 * durable, then time the clean shutdown's flush round (the first also creates every segment
 * file; later ones read back each segment's tail block and rewrite it). */
static void
bench_flush(const char *dir, uint32_t partition_count, uint32_t rounds)
{
    static uint8_t batch[1 << 16];
    static struct sb_append appends[16384];
    uint32_t records = 0;
    setenv("SB_BATCH_RECORDS", "1", 1);
    uint32_t batch_bytes = bench_batch(batch, sizeof(batch), 1024, &records);
    if (partition_count > 16384) {
        bench_fail("partitions above 16384", -EINVAL);
    }
    for (uint32_t round = 0; round < rounds; round++) {
        struct bench bench = {0};
        bench_open(&bench, dir, 256ull << 20, 256ull << 20);
        bench_partitions(&bench, partition_count);
        in_flight = 0;
        for (uint32_t index = 0; index < partition_count; index++) {
            int result = sb_partition_append(bench.partitions[index], batch, batch_bytes,
                                             &appends[index], bench_flush_durable, NULL);
            if (result != 0) {
                bench_fail("append", result);
            }
            in_flight++;
        }
        for (uint32_t step = 0; step < 1000000 && in_flight > 0; step++) {
            bench_step(&bench, SB_NS_PER_MS);
        }
        uint64_t start_ns = sb_clock_monotonic_ns();
        sb_store_shutdown(bench.store);
        for (uint32_t step = 0; step < 1000000 && !sb_store_idle(bench.store); step++) {
            bench_step(&bench, SB_NS_PER_MS);
        }
        printf("flush round=%u partitions=%u round_ms=%.1f syncs_in_flight_max=%u\n", round,
               partition_count, (double)(sb_clock_monotonic_ns() - start_ns) / 1e6,
               sb_io_syncs_in_flight_max(bench.io));
        bench_close(&bench, false);
    }
}

/* Appends `mib` MiB to one partition and waits until all of it is durable. */
static void
bench_fill(struct bench *bench, uint64_t mib)
{
    static uint8_t batch[1 << 20];
    uint32_t records = 0;
    uint32_t batch_bytes = bench_batch(batch, sizeof(batch), 1024, &records);
    uint64_t batches = (mib << 20) / batch_bytes;
    uint32_t next_slot = 0;
    for (uint64_t done = 0; done < batches;) {
        while (pendings[next_slot].busy) {
            bench_step(bench, 0);
        }
        struct pending *pending = &pendings[next_slot];
        pending->started_ns = sb_clock_monotonic_ns();
        int result = sb_partition_append(bench->partitions[0], batch, batch_bytes,
                                         &pending->append, bench_durable, NULL);
        if (result == 0) {
            pending->busy = true;
            in_flight++;
            next_slot = (next_slot + 1) % IN_FLIGHT_MAX;
            done++;
        } else {
            bench_step(bench, 100 * SB_NS_PER_US);
        }
    }
    while (in_flight > 0) {
        bench_step(bench, SB_NS_PER_MS);
    }
}

static void
bench_read_done(struct sb_read *read)
{
    *(bool *)read->context = true;
}

/* Reads the partition from offset 0 to its end; returns MiB/s. */
static double
bench_read_all(struct bench *bench)
{
    static uint8_t buffer[4 << 20];
    struct sb_partition *partition = bench->partitions[0];
    int64_t end = sb_partition_high_watermark(partition);
    uint64_t bytes = 0;
    uint64_t start_ns = sb_clock_monotonic_ns();
    for (int64_t offset = 0; offset < end;) {
        bool done = false;
        struct sb_read read = {.offset = offset, .max_bytes = sizeof(buffer) / 2,
                               .buffer = buffer, .capacity = sizeof(buffer),
                               .callback = bench_read_done, .context = &done};
        int started = sb_partition_read(partition, &read);
        while (started == 0 && !done) {
            bench_step(bench, 0);
        }
        if (read.result != 0 || read.bytes == 0) {
            bench_fail("read", read.result);
        }
        for (uint32_t at = 0; at < read.bytes;) {
            struct sb_batch_header header;
            sb_batch_header_decode(buffer + at, read.bytes - at, UINT32_MAX, &header);
            offset = header.base_offset + header.record_count;
            at += header.batch_bytes;
        }
        bytes += read.bytes;
    }
    double seconds = (double)(sb_clock_monotonic_ns() - start_ns) / 1e9;
    return (double)bytes / 1048576.0 / seconds;
}

static void
bench_read(const char *dir)
{
    struct bench bench = {0};
    bench_open(&bench, dir, 256ull << 20, 256ull << 20);
    bench_partitions(&bench, 1);
    latencies = calloc(LATENCY_SAMPLES_MAX, sizeof(uint64_t));
    bench_fill(&bench, 64);
    printf("read source=memtable mib=64 mib_s=%.0f\n", bench_read_all(&bench));
    bench_fill(&bench, 448);
    bench_close(&bench, true);
    bench_open(&bench, dir, 256ull << 20, 256ull << 20);
    bench_partitions(&bench, 1);
    printf("read source=segments mib=512 mib_s=%.0f (O_DIRECT through a 64 MiB cache)\n",
           bench_read_all(&bench));
    bench_close(&bench, true);
    free(latencies);
}

/* Fills the WAL without a flush, closes as if killed, and times the reopen. */
static void
bench_recover(const char *dir, uint64_t mib)
{
    struct bench bench = {0};
    /* Twice the data, so nothing is flushed before the crash: all of it is in the WAL. */
    uint64_t ring = sb_align_up((2 * mib + 64) << 20, 1 << 20);
    bench_open(&bench, dir, ring, ring / 2);
    bench_partitions(&bench, 1);
    latencies = calloc(LATENCY_SAMPLES_MAX, sizeof(uint64_t));
    bench_fill(&bench, mib);
    bench_close(&bench, false);
    uint64_t start_ns = sb_clock_monotonic_ns();
    bench_open(&bench, dir, ring, ring / 2);
    double seconds = (double)(sb_clock_monotonic_ns() - start_ns) / 1e9;
    struct sb_store_stats stats;
    sb_store_stats(bench.store, &stats);
    double recovered_mib = (double)stats.recovered_batches * (64 << 10) / 1048576.0;
    printf("recover wal_mib=%.0f seconds=%.3f mib_s=%.0f (replay, flush to segments, "
           "checkpoint)\n", recovered_mib, seconds, recovered_mib / seconds);
    bench_close(&bench, true);
    free(latencies);
}

static int
remove_entry(const char *path, const struct stat *status, int flag, struct FTW *walk)
{
    (void)status;
    (void)flag;
    (void)walk;
    return remove(path);
}

int
main(int argc, char **argv)
{
    if (argc >= 6 && strcmp(argv[1], "append") == 0) {
        nftw(argv[2], remove_entry, 16, FTW_DEPTH | FTW_PHYS);
        bench_append(argv[2], (uint32_t)atoi(argv[3]), (uint32_t)atoi(argv[4]), atof(argv[5]));
    } else if (argc >= 3 && strcmp(argv[1], "read") == 0) {
        nftw(argv[2], remove_entry, 16, FTW_DEPTH | FTW_PHYS);
        bench_read(argv[2]);
    } else if (argc >= 5 && strcmp(argv[1], "flush") == 0) {
        nftw(argv[2], remove_entry, 16, FTW_DEPTH | FTW_PHYS);
        bench_flush(argv[2], (uint32_t)atoi(argv[3]), (uint32_t)atoi(argv[4]));
    } else if (argc >= 4 && strcmp(argv[1], "recover") == 0) {
        nftw(argv[2], remove_entry, 16, FTW_DEPTH | FTW_PHYS);
        bench_recover(argv[2], (uint64_t)atoi(argv[3]));
    } else {
        fprintf(stderr, "usage: bench_storage append DIR RECORD_BYTES PARTITIONS SECONDS\n"
                        "       bench_storage read DIR\n"
                        "       bench_storage recover DIR MIB\n");
        return 2;
    }
    nftw(argv[2], remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}
