/*
 * test/storage/test_readahead.c - segment reads that load ahead of themselves
 * (storage/read.c read_ahead, storage/cache.c cache_readahead) answer exactly
 * what reads without read-ahead answer, under the simulator: the same bytes
 * and batch boundaries (max_bytes, the whole first batch, a read ending at its
 * segment's end) for sequential consumers crossing segment rolls and for
 * random reads of random sizes; while retention deletes segments under reads
 * in flight (each read answers whole and exact, or -ERANGE before the new log
 * start); and with an I/O error injected at each load of a large read (the
 * read fails with -EIO or answers exactly; the next read answers exactly).
 * Only a sequential read loads beyond its max_bytes.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "core/base.h"
#include "core/clock.h"
#include "core/sim.h"
#include "proto/batch.h"
#include "test/storage/fixture.h"
#include "test/storage/model.h"

#define TOPIC 21u
#define SEGMENT_BYTES (160u << 10)
#define READS_MAX 512u
#define READ_BYTES_MAX (1u << 20)
#define READ_CAPACITY (READ_BYTES_MAX + MODEL_BATCH_BYTES_MAX)
#define RACING_READS 8u

/* What one read answered. */
struct answer {
    int64_t offset;     /* Asked. */
    uint32_t max_bytes; /* Asked. */
    int result;         /* The read's result. */
    uint32_t bytes;     /* Bytes returned. */
    uint64_t hash;      /* FNV-1a of them. */
};

static struct fixture fixture_state;
static struct model model_state;
static struct answer reference[READS_MAX];
static struct answer answers[READS_MAX];
static uint8_t read_buffer[READ_CAPACITY];

static uint64_t
mix(uint64_t *state)
{
    *state = *state * 6364136223846793005ull + 1442695040888963407ull;
    return *state >> 17;
}

static uint64_t
hash_bytes(const uint8_t *bytes, uint32_t length)
{
    uint64_t hash = 1469598103934665603ull;
    for (uint32_t at = 0; at < length; at++) {
        hash = (hash ^ bytes[at]) * 1099511628211ull;
    }
    return hash;
}

/* The offset after the last batch of an answer. */
static int64_t
answer_end(const uint8_t *buffer, uint32_t bytes)
{
    int64_t end = -1;
    for (uint32_t at = 0; at < bytes;) {
        struct sb_batch_header header;
        cr_assert_eq(sb_batch_header_decode(buffer + at, bytes - at, UINT32_MAX, &header), 0);
        end = header.base_offset + (int64_t)header.record_count;
        at += header.batch_bytes;
    }
    return end;
}

static struct sb_partition *
partition_of(void)
{
    return model_state.partitions[0].partition;
}

/* A simulated store with one partition of `segment_bytes` segments, holding `batches` durable
 * batches of 1-20 records of random sizes, flushed as soon as durable. */
static void
readahead_setup_with(uint64_t seed, uint32_t batches, uint64_t segment_bytes)
{
    fixture_init(&fixture_state, seed);
    fixture_state.config.flush_interval_ns = 1;
    struct sb_partition_config config;
    sb_partition_config_default(&config);
    config.segment_bytes = segment_bytes;
    config.retention_ms = -1;
    model_init(&model_state, &fixture_state, seed, TOPIC, 1, &config);
    cr_assert_eq(fixture_open(&fixture_state), 0);
    model_open_partitions(&model_state);
    uint64_t state = seed;
    for (uint32_t index = 0; index < batches; index++) {
        uint32_t records = 1 + (uint32_t)(mix(&state) % 20);
        uint64_t tag = mix(&state);
        int result;
        /* Bounded: a full memtable drains as its cycles become durable and flush. */
        for (uint32_t step = 0; step < 100000; step++) {
            result = model_append(&model_state, 0, records, tag);
            if (result != -ENOBUFS) {
                break;
            }
            fixture_step(&fixture_state, SB_NS_PER_MS);
        }
        cr_assert_eq(result, 0, "seed %llu", (unsigned long long)seed);
    }
    fixture_settle(&fixture_state);
}

/* Small segments: reads cross many segment rolls. */
static void
readahead_setup(uint64_t seed, uint32_t batches)
{
    readahead_setup_with(seed, batches, SEGMENT_BYTES);
}

/* Closes and opens the store again (a cold cache) with read-ahead of `ahead` bytes. */
static void
readahead_reopen(int64_t ahead)
{
    fixture_close(&fixture_state);
    fixture_state.config.readahead_bytes = ahead;
    cr_assert_eq(fixture_open(&fixture_state), 0);
    model_open_partitions(&model_state);
}

/* One synchronous read, recorded and checked against the model. */
static void
read_one(struct answer *answer, int64_t offset, uint32_t max_bytes)
{
    uint32_t bytes = 0;
    int result = fixture_read(&fixture_state, partition_of(), offset, read_buffer,
                              READ_CAPACITY, max_bytes, &bytes);
    *answer = (struct answer){.offset = offset, .max_bytes = max_bytes, .result = result,
                              .bytes = bytes, .hash = hash_bytes(read_buffer, bytes)};
    if (result == 0) {
        model_check_read(&model_state, 0, offset, read_buffer, bytes);
    }
}

/* Two sequential consumers (small and large max_bytes) from offset 0 to the end, then random
 * reads of random sizes. Returns the answers recorded. */
static uint32_t
read_pattern(uint64_t seed, struct answer *out)
{
    static const uint32_t consumer_bytes[] = {24u << 10, READ_BYTES_MAX};
    int64_t end = model_state.partitions[0].next_offset;
    uint32_t count = 0;
    for (uint32_t consumer = 0; consumer < 2; consumer++) {
        int64_t offset = 0;
        while (offset < end && count < READS_MAX / 2) {
            read_one(&out[count], offset, consumer_bytes[consumer]);
            cr_assert_eq(out[count].result, 0, "seed %llu", (unsigned long long)seed);
            cr_assert_gt(out[count].bytes, 0);
            offset = answer_end(read_buffer, out[count].bytes);
            count++;
        }
        cr_assert_geq(offset, end, "a consumer reached the end");
    }
    uint64_t state = seed ^ 0x5eedu;
    while (count < READS_MAX) {
        int64_t offset = (int64_t)(mix(&state) % (uint64_t)(end + 1));
        uint32_t max_bytes = 1 + (uint32_t)(mix(&state) % (700u << 10));
        read_one(&out[count++], offset, max_bytes);
    }
    return count;
}

static void
answers_equal(const struct answer *expected, const struct answer *actual, uint64_t seed)
{
    cr_assert_eq(actual->offset, expected->offset);
    cr_assert_eq(actual->max_bytes, expected->max_bytes);
    cr_assert_eq(actual->result, expected->result, "seed %llu offset %lld",
                 (unsigned long long)seed, (long long)expected->offset);
    cr_assert_eq(actual->bytes, expected->bytes, "seed %llu offset %lld max %u",
                 (unsigned long long)seed, (long long)expected->offset, expected->max_bytes);
    cr_assert_eq(actual->hash, expected->hash, "seed %llu offset %lld",
                 (unsigned long long)seed, (long long)expected->offset);
}

Test(readahead, answers_equal_reads_without_readahead, .timeout = 600)
{
    static const int64_t aheads[] = {0, 64 << 10, 5 << 20};
    for (uint64_t seed = 1; seed <= 4; seed++) {
        readahead_setup(seed, 700);
        readahead_reopen(-1);
        uint32_t count = read_pattern(seed, reference);
        for (uint32_t pass = 0; pass < sizeof(aheads) / sizeof(aheads[0]); pass++) {
            readahead_reopen(aheads[pass]);
            cr_assert_eq(read_pattern(seed, answers), count);
            for (uint32_t index = 0; index < count; index++) {
                answers_equal(&reference[index], &answers[index], seed);
            }
            struct sb_store_stats stats;
            sb_store_stats(fixture_state.store, &stats);
            cr_assert_eq(stats.corrupt_reads, 0);
        }
        fixture_close(&fixture_state);
        fixture_destroy(&fixture_state);
    }
}

/* A read in flight while retention runs. */
struct racing_read {
    struct sb_read read; /* The store's read. */
    uint32_t reference;  /* Index of its reference answer. */
    bool busy;           /* Started, not finished. */
    uint8_t *buffer;     /* READ_CAPACITY bytes. */
};

static uint32_t racing_done;

static void
racing_read_done(struct sb_read *read)
{
    struct racing_read *racing = read->context;
    racing->busy = false;
    racing_done++;
}

/* Checks a finished racing read against its reference answer. */
static void
racing_check(const struct racing_read *racing, uint64_t seed)
{
    const struct answer *expected = &reference[racing->reference];
    struct answer actual = {.offset = expected->offset, .max_bytes = expected->max_bytes,
                            .result = racing->read.result, .bytes = racing->read.bytes,
                            .hash = hash_bytes(racing->buffer, racing->read.bytes)};
    answers_equal(expected, &actual, seed);
}

/* Starts racing reads until `count` have run, each at a reference answer's offset; a read
 * refused at once must be below the log start. */
static uint32_t
racing_start(struct racing_read *racing, uint32_t started, uint32_t count, uint64_t seed)
{
    for (uint32_t slot = 0; slot < RACING_READS && started < count; slot++) {
        if (racing[slot].busy) {
            continue;
        }
        const struct answer *expected = &reference[started];
        racing[slot].reference = started++;
        racing[slot].read = (struct sb_read){
            .offset = expected->offset, .max_bytes = expected->max_bytes,
            .buffer = racing[slot].buffer, .capacity = READ_CAPACITY,
            .callback = racing_read_done, .context = &racing[slot]};
        int result = sb_partition_read(partition_of(), &racing[slot].read);
        if (result == 0) {
            racing[slot].busy = true;
            continue;
        }
        if (result == -ERANGE && expected->result == 0) {
            cr_assert_lt(expected->offset, sb_partition_log_start_offset(partition_of()));
        } else {
            racing_check(&racing[slot], seed);
        }
        racing[slot].reference = UINT32_MAX;
    }
    return started;
}

Test(readahead, retention_deletes_segments_under_reads_in_flight, .timeout = 600)
{
    for (uint64_t seed = 11; seed <= 13; seed++) {
        readahead_setup(seed, 700);
        readahead_reopen(-1);
        uint32_t count = read_pattern(seed, reference);
        /* Retention keeps about the newest third; it runs from the first iteration on. */
        model_state.config.retention_bytes = 3 * (int64_t)SEGMENT_BYTES;
        fixture_state.config.retention_check_interval_ns = 1;
        readahead_reopen(0);
        static struct racing_read racing[RACING_READS];
        static uint8_t buffers[RACING_READS][READ_CAPACITY];
        for (uint32_t slot = 0; slot < RACING_READS; slot++) {
            racing[slot] = (struct racing_read){.buffer = buffers[slot],
                                                .reference = UINT32_MAX};
        }
        racing_done = 0;
        uint32_t started = racing_start(racing, 0, count, seed);
        /* Bounded: every step lets reads finish; each finished slot takes the next read. */
        for (uint32_t step = 0; step < 1000000 && started < count; step++) {
            uint32_t before = racing_done;
            fixture_step(&fixture_state, SB_NS_PER_MS);
            for (uint32_t slot = 0; racing_done != before && slot < RACING_READS; slot++) {
                if (!racing[slot].busy && racing[slot].reference != UINT32_MAX) {
                    racing_check(&racing[slot], seed);
                    racing[slot].reference = UINT32_MAX;
                }
            }
            started = racing_start(racing, started, count, seed);
        }
        cr_assert_eq(started, count);
        fixture_settle(&fixture_state);
        for (uint32_t slot = 0; slot < RACING_READS; slot++) {
            cr_assert_not(racing[slot].busy, "seed %llu: a read never finished",
                          (unsigned long long)seed);
            if (racing[slot].reference != UINT32_MAX) {
                racing_check(&racing[slot], seed);
            }
        }
        cr_assert_gt(sb_partition_log_start_offset(partition_of()), 0, "retention deleted");
        fixture_close(&fixture_state);
        fixture_destroy(&fixture_state);
    }
}

Test(readahead, io_error_in_a_large_read_fails_it_and_serves_nothing_wrong, .timeout = 600)
{
    uint64_t seed = 21;
    readahead_setup(seed, 700);
    readahead_reopen(-1);
    struct answer expected;
    read_one(&expected, 0, READ_BYTES_MAX);
    cr_assert_eq(expected.result, 0);
    readahead_reopen(0);
    struct sb_store_stats before;
    struct sb_store_stats after;
    sb_store_stats(fixture_state.store, &before);
    struct answer actual;
    read_one(&actual, 0, READ_BYTES_MAX);
    answers_equal(&expected, &actual, seed);
    fixture_settle(&fixture_state);
    sb_store_stats(fixture_state.store, &after);
    uint32_t loads = (uint32_t)(after.cache_misses - before.cache_misses);
    cr_assert_gt(loads, 2, "a large read loads several blocks");
    uint32_t failed = 0;
    for (uint32_t nth = 1; nth <= loads; nth++) {
        readahead_reopen(0);
        struct sb_sim_fault_once fault = {.kind = SB_IO_OP_READ, .nth = nth, .error = -EIO};
        cr_assert_eq(sb_sim_fault_once(fixture_state.sim, &fault), 0);
        read_one(&actual, 0, READ_BYTES_MAX);
        if (actual.result == -EIO) {
            failed++;
        } else {
            answers_equal(&expected, &actual, seed);
        }
        fixture_settle(&fixture_state);
        read_one(&actual, 0, READ_BYTES_MAX);
        answers_equal(&expected, &actual, seed);
    }
    cr_assert_gt(failed, 0, "the injected error reached a read");
    fixture_close(&fixture_state);
    fixture_destroy(&fixture_state);
}

/* Blocks loaded by one read at `offset` of `max_bytes` on a cold cache after `warm` (a read
 * that ends where this one starts, or none). */
static uint64_t
loads_of(int64_t offset, uint32_t max_bytes, const struct answer *warm)
{
    readahead_reopen(0);
    struct answer answer;
    if (warm != NULL) {
        read_one(&answer, warm->offset, warm->max_bytes);
        fixture_settle(&fixture_state);
    }
    struct sb_store_stats before;
    struct sb_store_stats after;
    sb_store_stats(fixture_state.store, &before);
    read_one(&answer, offset, max_bytes);
    cr_assert_eq(answer.result, 0);
    fixture_settle(&fixture_state);
    sb_store_stats(fixture_state.store, &after);
    return after.cache_misses - before.cache_misses;
}

/* Only a read continuing where the segment's last read ended loads readahead_bytes beyond
 * its max_bytes; another loads at most what its max_bytes may copy. */
Test(readahead, only_a_sequential_read_loads_beyond_its_max_bytes, .timeout = 300)
{
    /* One segment of about 30 blocks; read-ahead may have 32 blocks loading. */
    readahead_setup_with(31, 700, 64u << 20);
    fixture_state.config.block_cache_bytes = 8u << 20;
    readahead_reopen(-1);
    struct answer first;
    read_one(&first, 0, 8u << 10);
    cr_assert_eq(first.result, 0);
    int64_t next = answer_end(read_buffer, first.bytes);
    uint64_t alone = loads_of(next, 8u << 10, NULL);
    uint64_t after_first = loads_of(next, 8u << 10, &first);
    cr_assert_leq(alone, 2, "a read of 8 KiB loads its own blocks (%llu)",
                  (unsigned long long)alone);
    cr_assert_gt(after_first, alone + 1, "a sequential read loads ahead (%llu, alone %llu)",
                 (unsigned long long)after_first, (unsigned long long)alone);
    fixture_close(&fixture_state);
    fixture_destroy(&fixture_state);
}
