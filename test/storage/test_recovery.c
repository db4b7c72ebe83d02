/*
 * test/storage/test_recovery.c - what survives a crash: every acknowledged
 * batch after kill-style closes, a WAL cut at every 512-byte boundary of its
 * last cycle and at random bytes (a torn tail: cut, never reported as
 * corruption), bit flips inside acknowledged WAL data and segments (reported,
 * fenced, never served), a corrupt manifest (refuse to start), failed and
 * short WAL reads during the read-ahead.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/endian.h"
#include "core/error.h"
#include "proto/batch.h"
#include "storage/format.h"
#include "test/storage/fixture.h"

#define BUFFER_BYTES (256u << 10)
#define PARTITIONS 4u

static uint8_t batch_buffer[BUFFER_BYTES];
static uint8_t read_buffer[BUFFER_BYTES];

static int64_t
now_ms(void)
{
    return (int64_t)(sb_clock_realtime_ns() / SB_NS_PER_MS);
}

static struct sb_partition *
partition_of(struct fixture *fixture, uint32_t index)
{
    struct sb_partition_config config;
    sb_partition_config_default(&config);
    config.segment_bytes = 32 << 10;
    struct sb_partition *partition = NULL;
    cr_assert_eq(sb_store_partition_open(fixture->store, 9, index, &config, &partition), 0);
    return partition;
}

/* Appends `rounds` durable batches of 3 records round-robin over the partitions; the tag of
 * each batch is its round. Returns the next offset of each partition in next[]. */
static void
append_rounds(struct fixture *fixture, uint32_t first_round, uint32_t rounds, int64_t *next)
{
    for (uint32_t round = first_round; round < first_round + rounds; round++) {
        struct sb_partition *partition = partition_of(fixture, round % PARTITIONS);
        uint32_t bytes = fixture_batch(batch_buffer, BUFFER_BYTES, 3, round, now_ms());
        int64_t offset = fixture_append_durable(fixture, partition, batch_buffer, bytes);
        cr_assert_eq(offset, next[round % PARTITIONS]);
        next[round % PARTITIONS] += 3;
    }
}

/* Reads every offset below `next` of each partition: whole, valid, dense batches. */
static void
check_everything(struct fixture *fixture, const int64_t *next)
{
    for (uint32_t index = 0; index < PARTITIONS; index++) {
        struct sb_partition *partition = partition_of(fixture, index);
        cr_assert_geq(sb_partition_high_watermark(partition), next[index],
                      "partition %u lost acknowledged data", index);
        cr_assert_not(sb_partition_fenced(partition, NULL));
        int64_t offset = 0;
        while (offset < next[index]) {
            uint32_t bytes = 0;
            cr_assert_eq(fixture_read(fixture, partition, offset, read_buffer, BUFFER_BYTES,
                                      4096, &bytes), 0);
            cr_assert_gt(bytes, 0);
            for (uint32_t at = 0; at < bytes;) {
                struct sb_batch_header header;
                cr_assert_eq(sb_batch_verify(read_buffer + at, bytes - at, 1 << 20, &header),
                             0);
                cr_assert_eq(header.base_offset, offset, "dense offsets");
                offset += header.record_count;
                at += header.batch_bytes;
            }
        }
    }
}

Test(recovery, acknowledged_batches_survive_crashes)
{
    struct fixture fixture;
    fixture_init(&fixture, 0);
    int64_t next[PARTITIONS] = {0};
    uint32_t round = 0;
    for (uint32_t crash = 0; crash < 5; crash++) {
        cr_assert_eq(fixture_open(&fixture), 0);
        check_everything(&fixture, next);
        append_rounds(&fixture, round, 300, next);
        round += 300;
        fixture_crash(&fixture);
    }
    cr_assert_eq(fixture_open(&fixture), 0);
    check_everything(&fixture, next);
    struct sb_store_stats stats;
    sb_store_stats(fixture.store, &stats);
    fixture_close(&fixture);
    fixture_destroy(&fixture);
}

/* Where the WAL's last cycle lies: file index, file position and length. */
struct cycle_place {
    uint32_t file;        /* wal-<file>.log */
    uint64_t position;    /* First byte of the cycle. */
    uint64_t bytes;       /* Its length (a multiple of 4096). */
};

static int
wal_open(const struct fixture *fixture, uint32_t file)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/shards/0/wal-%u.log", fixture->data_dir, file);
    int fd = open(path, O_RDWR);
    cr_assert_geq(fd, 0);
    return fd;
}

/* Finds the newest generation's file and walks it to its last complete cycle. */
static struct cycle_place
find_last_cycle(const struct fixture *fixture)
{
    struct cycle_place place = {0};
    uint64_t newest = 0;
    static uint8_t block[1 << 20];
    for (uint32_t file = 0; file < fixture->config.wal_file_count; file++) {
        int fd = wal_open(fixture, file);
        struct sb_wal_file_header header;
        if (pread(fd, block, 4096, 0) == 4096 && sb_wal_file_header_decode(block, &header) == 0 &&
            header.generation >= newest) {
            newest = header.generation;
            place.file = file;
        }
        close(fd);
    }
    int fd = wal_open(fixture, place.file);
    cr_assert_eq(pread(fd, block, sizeof(block), 0), (ssize_t)sizeof(block));
    close(fd);
    struct sb_wal_file_header file_header;
    cr_assert_eq(sb_wal_file_header_decode(block, &file_header), 0);
    uint64_t position = 4096;
    uint64_t expected = file_header.first_sequence;
    while (position + 64 <= sizeof(block)) {
        struct sb_wal_entry_header entry;
        if (sb_wal_entry_header_decode(block + position, &entry) != 0 ||
            entry.generation != file_header.generation || entry.sequence != expected) {
            break;
        }
        if (entry.cycle_sequence == entry.sequence) {
            place.position = position;
        }
        position += sb_wal_entry_span(entry.payload_bytes);
        expected++;
    }
    place.bytes = position - place.position;
    cr_assert_gt(place.bytes, 0);
    return place;
}

/* Copies the WAL file, cuts it at `cut` (zeros from there to the end of the cycle), reopens,
 * and checks that everything before the last cycle is there and nothing is fenced. */
static void
cut_and_recover(struct fixture *fixture, const struct cycle_place *place, uint64_t cut,
                const int64_t *before_last_cycle)
{
    int fd = wal_open(fixture, place->file);
    uint64_t end = place->position + place->bytes;
    static uint8_t zeros[1 << 20];
    cr_assert_eq(pwrite(fd, zeros, end - cut, (off_t)cut), (ssize_t)(end - cut));
    close(fd);
    cr_assert_eq(fixture_open(fixture), 0);
    struct sb_store_stats stats;
    sb_store_stats(fixture->store, &stats);
    check_everything(fixture, before_last_cycle);
    fixture_crash(fixture);
}

static void
save_dir(const struct fixture *fixture, const char *suffix)
{
    char command[512];
    snprintf(command, sizeof(command), "rm -rf %s%s && cp -a %s %s%s", fixture->data_dir,
             suffix, fixture->data_dir, fixture->data_dir, suffix);
    cr_assert_eq(system(command), 0);
}

static void
restore_dir(const struct fixture *fixture, const char *suffix)
{
    char command[512];
    snprintf(command, sizeof(command), "rm -rf %s && cp -a %s%s %s", fixture->data_dir,
             fixture->data_dir, suffix, fixture->data_dir);
    cr_assert_eq(system(command), 0);
}

Test(recovery, wal_cut_at_every_sector_of_the_last_cycle_and_random_bytes, .timeout = 300)
{
    struct fixture fixture;
    fixture_init(&fixture, 0);
    fixture.config.commit_delay_ns = 0;
    cr_assert_eq(fixture_open(&fixture), 0);
    int64_t next[PARTITIONS] = {0};
    append_rounds(&fixture, 0, 40, next);
    int64_t before[PARTITIONS];
    memcpy(before, next, sizeof(before));
    /* The last cycle: several batches appended in one iteration, then made durable. */
    bool done = false;
    for (uint32_t round = 40; round < 52; round++) {
        uint32_t bytes = fixture_batch(batch_buffer, BUFFER_BYTES, 20, round, now_ms());
        struct sb_partition *partition = partition_of(&fixture, round % PARTITIONS);
        cr_assert_eq(sb_partition_append(partition, batch_buffer, bytes, NULL, NULL, NULL), 0);
    }
    fixture_step(&fixture, 0);
    for (uint32_t step = 0; step < 1000 && !done; step++) {
        fixture_step(&fixture, SB_NS_PER_MS);
        done = sb_partition_high_watermark(partition_of(&fixture, 3)) > before[3];
    }
    cr_assert(done);
    fixture_crash(&fixture);
    struct cycle_place place = find_last_cycle(&fixture);
    cr_assert_geq(place.bytes, 8192, "the last cycle spans several sectors");
    save_dir(&fixture, ".saved");
    for (uint64_t cut = place.position; cut < place.position + place.bytes; cut += 512) {
        cut_and_recover(&fixture, &place, cut, before);
        restore_dir(&fixture, ".saved");
    }
    srand(7);
    for (int trial = 0; trial < 20; trial++) {
        uint64_t cut = place.position + (uint64_t)rand() % place.bytes;
        cut_and_recover(&fixture, &place, cut, before);
        restore_dir(&fixture, ".saved");
    }
    /* Uncut, the last cycle is there too. */
    cr_assert_eq(fixture_open(&fixture), 0);
    check_everything(&fixture, next);
    fixture_close(&fixture);
    char command[256];
    snprintf(command, sizeof(command), "rm -rf %s.saved", fixture.data_dir);
    cr_assert_eq(system(command), 0);
    fixture_destroy(&fixture);
}

/* Flips one bit at `position` of a file under the data directory. */
static void
flip_bit(const struct fixture *fixture, const char *relative, uint64_t position)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", fixture->data_dir, relative);
    int fd = open(path, O_RDWR);
    cr_assert_geq(fd, 0, "open %s", path);
    uint8_t byte;
    cr_assert_eq(pread(fd, &byte, 1, (off_t)position), 1);
    byte ^= 0x10;
    cr_assert_eq(pwrite(fd, &byte, 1, (off_t)position), 1);
    close(fd);
}

/* Position of the first BATCH entry of the file's `cycle_index`-th cycle. */
static uint64_t
wal_cycle_entry(const struct fixture *fixture, uint32_t file, uint32_t cycle_index)
{
    static uint8_t block[1 << 20];
    int fd = wal_open(fixture, file);
    cr_assert_eq(pread(fd, block, sizeof(block), 0), (ssize_t)sizeof(block));
    close(fd);
    struct sb_wal_file_header file_header;
    cr_assert_eq(sb_wal_file_header_decode(block, &file_header), 0);
    uint64_t position = 4096;
    uint32_t cycles = 0;
    for (;;) {
        struct sb_wal_entry_header entry;
        cr_assert_eq(sb_wal_entry_header_decode(block + position, &entry), 0);
        if (entry.cycle_sequence == entry.sequence) {
            cycles++;
        }
        if (cycles == cycle_index + 1 && entry.kind == SB_WAL_ENTRY_BATCH) {
            return position;
        }
        position += sb_wal_entry_span(entry.payload_bytes);
    }
}

Test(recovery, bit_flip_inside_acknowledged_wal_data_is_reported_and_fenced)
{
    for (int target = 0; target < 2; target++) {
        struct fixture fixture;
        fixture_init(&fixture, 0);
        cr_assert_eq(fixture_open(&fixture), 0);
        int64_t next[PARTITIONS] = {0};
        append_rounds(&fixture, 0, 40, next);
        fixture_crash(&fixture);
        struct cycle_place place = find_last_cycle(&fixture);
        uint64_t entry = wal_cycle_entry(&fixture, place.file, 10);
        /* target 0: the entry header; target 1: the batch payload behind it. */
        uint64_t position = entry + (target == 0 ? 20 : 64 + 100);
        char relative[64];
        snprintf(relative, sizeof(relative), "shards/0/wal-%u.log", place.file);
        flip_bit(&fixture, relative, position);
        cr_assert_eq(fixture_open(&fixture), 0, "a corrupt WAL middle does not stop the start");
        struct sb_store_stats stats;
        sb_store_stats(fixture.store, &stats);
        cr_assert_geq(stats.recovery_corruptions, 1, "the corruption is reported");
        uint32_t fenced = 0;
        for (uint32_t index = 0; index < PARTITIONS; index++) {
            int64_t fenced_offset = -1;
            if (sb_partition_fenced(partition_of(&fixture, index), &fenced_offset)) {
                fenced++;
                uint32_t bytes = 0;
                cr_assert_eq(fixture_read(&fixture, partition_of(&fixture, index),
                                          fenced_offset, read_buffer, BUFFER_BYTES, 4096,
                                          &bytes), -EROFS, "nothing past the fence is served");
            }
        }
        cr_assert_eq(fenced, 1, "exactly the partition that lost a batch is fenced");
        fixture_crash(&fixture);
        fixture_destroy(&fixture);
    }
}

/* Gives every cycle of the file from `first_cycle_entry` on the flag BEHIND with
 * `unsynced_sequence`, as if each had been issued while an earlier cycle was on disk. */
static void
mark_later_cycles_behind(const struct fixture *fixture, uint32_t file, uint64_t first_cycle_entry,
                         uint64_t unsynced_sequence)
{
    int fd = wal_open(fixture, file);
    uint32_t marked = 0;
    /* Bounded by the 1 MiB file. */
    for (uint64_t position = first_cycle_entry; position < fixture->config.wal_file_bytes;
         position += SB_BLOCK_BYTES) {
        uint8_t bytes[SB_WAL_ENTRY_HEADER_BYTES];
        struct sb_wal_entry_header entry;
        cr_assert_eq(pread(fd, bytes, sizeof(bytes), (off_t)position), (ssize_t)sizeof(bytes));
        if (sb_wal_entry_header_decode(bytes, &entry) != 0 ||
            entry.cycle_sequence != entry.sequence) {
            continue;
        }
        cr_assert_lt(unsynced_sequence, entry.sequence);
        entry.behind = true;
        entry.unsynced_sequence = unsynced_sequence;
        sb_wal_entry_header_encode(&entry, bytes);
        cr_assert_eq(pwrite(fd, bytes, sizeof(bytes), (off_t)position), (ssize_t)sizeof(bytes));
        marked++;
    }
    close(fd);
    cr_assert_geq(marked, 20, "the later cycles were found");
}

/* The stop is corrupt payload in cycle 10 of 40 (one batch per cycle, round-robin over the
 * partitions); every later cycle has the flag BEHIND. `proves`: their unsynced_sequence is past
 * the stopped entry (it was durable when they were issued), else it is the stopped entry itself
 * (it was still on disk). */
static void
later_behind_cycles_setup(struct fixture *fixture, uint64_t seed, bool proves)
{
    fixture_init(fixture, seed);
    cr_assert_eq(fixture_open(fixture), 0);
    int64_t next[PARTITIONS] = {0};
    append_rounds(fixture, 0, 40, next);
    fixture_crash(fixture);
    struct cycle_place place = find_last_cycle(fixture);
    uint64_t entry_position = wal_cycle_entry(fixture, place.file, 10);
    struct sb_wal_entry_header stopped;
    int fd = wal_open(fixture, place.file);
    uint8_t bytes[SB_WAL_ENTRY_HEADER_BYTES];
    cr_assert_eq(pread(fd, bytes, sizeof(bytes), (off_t)entry_position), (ssize_t)sizeof(bytes));
    close(fd);
    cr_assert_eq(sb_wal_entry_header_decode(bytes, &stopped), 0);
    mark_later_cycles_behind(fixture, place.file, entry_position + SB_BLOCK_BYTES,
                             stopped.sequence + (proves ? 1 : 0));
    char relative[64];
    snprintf(relative, sizeof(relative), "shards/0/wal-%u.log", place.file);
    flip_bit(fixture, relative, entry_position + 64 + 100);
}

static void
later_behind_cycles_decide(bool proves)
{
    struct fixture fixture;
    later_behind_cycles_setup(&fixture, 0, proves);
    cr_assert_eq(fixture_open(&fixture), 0);
    struct sb_store_stats stats;
    sb_store_stats(fixture.store, &stats);
    uint32_t fenced = 0;
    int64_t fenced_offset = -1;
    for (uint32_t index = 0; index < PARTITIONS; index++) {
        fenced += sb_partition_fenced(partition_of(&fixture, index), &fenced_offset);
    }
    if (proves) {
        /* Corruption of acknowledged data: reported, replay resumes at cycle 11, and partition
         * 2 (round 10's) is fenced at round 10's offset. */
        cr_assert_geq(stats.recovery_corruptions, 1);
        cr_assert_eq(fenced, 1);
        cr_assert(sb_partition_fenced(partition_of(&fixture, 10 % PARTITIONS), &fenced_offset));
        cr_assert_eq(fenced_offset, 3 * (10 / PARTITIONS));
        cr_assert_gt(stats.recovered_batches, 10, "later cycles replayed");
    } else {
        /* A torn tail: the log ends before cycle 10, the later cycles are dropped with it. */
        cr_assert_eq(stats.recovery_corruptions, 0);
        cr_assert_eq(fenced, 0);
        cr_assert_eq(stats.recovered_batches, 10);
        int64_t expected[PARTITIONS] = {9, 9, 6, 6};
        check_everything(&fixture, expected);
        for (uint32_t index = 0; index < PARTITIONS; index++) {
            cr_assert_eq(sb_partition_high_watermark(partition_of(&fixture, index)),
                         expected[index]);
        }
    }
    fixture_close(&fixture);
    fixture_destroy(&fixture);
}

/* Proof by a later cycle ([WAL-ENTRY] durable-before): the stopped entry's own fdatasync is
 * not proven by its cycle, but a later BEHIND cycle issued after it was durable proves it. */
Test(recovery, later_behind_cycle_past_the_stop_proves_it_durable)
{
    later_behind_cycles_decide(true);
}

/* Later cycles issued BEHIND the stopped one (it was still on disk) prove nothing: a torn tail,
 * even though they survived whole. */
Test(recovery, later_behind_cycles_at_the_stop_prove_nothing)
{
    later_behind_cycles_decide(false);
}

/* The proof lies in blocks after the stop; a read there that fails (the Nth read of the
 * recovery, in turn) must not make the stop look like a torn tail, which would drop
 * acknowledged data without a word: the start is refused with the read's error, or the
 * read was elsewhere and the corruption is found and reported as without the fault. */
Test(recovery, a_failed_read_in_the_later_cycles_is_never_taken_for_a_torn_tail,
     .timeout = 120)
{
    uint32_t refused = 0;
    uint32_t reported = 0;
    for (uint32_t nth = 1; nth <= 24; nth++) {
        struct fixture fixture;
        later_behind_cycles_setup(&fixture, 700 + nth, true);
        struct sb_sim_fault_once fault = {.kind = SB_IO_OP_READ, .nth = nth, .error = -EIO};
        cr_assert_eq(sb_sim_fault_once(fixture.sim, &fault), 0);
        int opened = fixture_open(&fixture);
        if (opened != 0) {
            cr_assert_eq(opened, -EIO, "nth %u: the read's error", nth);
            refused++;
        } else {
            struct sb_store_stats stats;
            sb_store_stats(fixture.store, &stats);
            cr_assert_geq(stats.recovery_corruptions, 1,
                          "nth %u: a failed read turned corruption into a torn tail", nth);
            reported++;
            fixture_close(&fixture);
        }
        fixture_destroy(&fixture);
    }
    cr_assert_gt(refused, 0);
    cr_assert_gt(reported, 0);
}

/* Data file of the partition's first segment (base offset 0). */
static const char *
first_segment(uint32_t index)
{
    static char relative[128];
    snprintf(relative, sizeof(relative), "partitions/9-%u/%020d.seg", index, 0);
    return relative;
}

Test(recovery, bit_flip_in_a_closed_segment_is_never_served)
{
    struct fixture fixture;
    fixture_init(&fixture, 0);
    cr_assert_eq(fixture_open(&fixture), 0);
    int64_t next[PARTITIONS] = {0};
    append_rounds(&fixture, 0, 1200, next); /* Enough for segment 0 of each to close. */
    fixture_close(&fixture);
    /* Partition 0: a payload byte of its second batch (batches are 4096 + n * size). */
    uint8_t header[64];
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", fixture.data_dir, first_segment(0));
    int fd = open(path, O_RDONLY);
    cr_assert_eq(pread(fd, header, 64, 4096), 64);
    close(fd);
    uint32_t first_batch_bytes = sb_load_le32(header + 8);
    flip_bit(&fixture, first_segment(0), 4096 + first_batch_bytes + 80);
    cr_assert_eq(fixture_open(&fixture), 0);
    struct sb_partition *partition = partition_of(&fixture, 0);
    uint32_t bytes = 0;
    cr_assert_eq(fixture_read(&fixture, partition, 3, read_buffer, BUFFER_BYTES, 1, &bytes),
                 SB_ECORRUPT, "the corrupt batch is refused");
    cr_assert_eq(fixture_read(&fixture, partition, 0, read_buffer, BUFFER_BYTES, 1 << 20,
                              &bytes), 0, "the batch before it is served");
    cr_assert_eq(bytes, first_batch_bytes, "and only that one");
    cr_assert_eq(fixture_read(&fixture, partition, 6, read_buffer, BUFFER_BYTES, 4096, &bytes),
                 0, "batches after it are served");
    struct sb_store_stats stats;
    sb_store_stats(fixture.store, &stats);
    cr_assert_geq(stats.corrupt_reads, 1);
    cr_assert_not(sb_partition_fenced(partition, NULL), "a closed segment's footer still holds");
    fixture_crash(&fixture);
    fixture_destroy(&fixture);
}

Test(recovery, bit_flip_in_the_open_segment_fences_from_there)
{
    struct fixture fixture;
    fixture_init(&fixture, 0);
    cr_assert_eq(fixture_open(&fixture), 0);
    int64_t next[PARTITIONS] = {0};
    append_rounds(&fixture, 0, 40, next);
    fixture_close(&fixture);
    uint8_t header[64];
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", fixture.data_dir, first_segment(1));
    int fd = open(path, O_RDONLY);
    cr_assert_eq(pread(fd, header, 64, 4096), 64);
    close(fd);
    flip_bit(&fixture, first_segment(1), 4096 + sb_load_le32(header + 8) + 80);
    cr_assert_eq(fixture_open(&fixture), 0);
    struct sb_partition *partition = partition_of(&fixture, 1);
    int64_t fenced_offset = -1;
    cr_assert(sb_partition_fenced(partition, &fenced_offset));
    cr_assert_eq(fenced_offset, 3, "fenced at the first batch that is not intact");
    uint32_t bytes = 0;
    cr_assert_eq(fixture_read(&fixture, partition, 3, read_buffer, BUFFER_BYTES, 1, &bytes),
                 -EROFS);
    cr_assert_eq(fixture_read(&fixture, partition, 0, read_buffer, BUFFER_BYTES, 1 << 20,
                              &bytes), 0, "what precedes the damage is served");
    cr_assert_gt(bytes, 0);
    uint32_t batch_bytes = fixture_batch(batch_buffer, BUFFER_BYTES, 1, 0, now_ms());
    cr_assert_eq(sb_partition_append(partition, batch_buffer, batch_bytes, NULL, NULL, NULL),
                 -EROFS, "a fenced partition takes no writes");
    fixture_crash(&fixture);
    fixture_destroy(&fixture);
}

Test(recovery, corrupt_manifest_refuses_to_start)
{
    struct fixture fixture;
    fixture_init(&fixture, 0);
    cr_assert_eq(fixture_open(&fixture), 0);
    int64_t next[PARTITIONS] = {0};
    append_rounds(&fixture, 0, 20, next);
    fixture_close(&fixture);
    flip_bit(&fixture, "shards/0/MANIFEST", 70);
    cr_assert_eq(fixture_open(&fixture), SB_ECORRUPT);
    fixture_destroy(&fixture);
}

Test(recovery, second_open_of_a_locked_directory_is_refused)
{
    struct fixture fixture;
    fixture_init(&fixture, 0);
    cr_assert_eq(fixture_open(&fixture), 0);
    struct sb_store *second = NULL;
    cr_assert_eq(sb_store_open(fixture.io, &fixture.timers, &fixture.config, &second), -EBUSY);
    fixture_close(&fixture);
    fixture_destroy(&fixture);
}

/* Settings of a reopen after a power cut: WAL file size and count. */
struct wal_settings {
    uint64_t file_bytes; /* wal_file_bytes. */
    uint32_t count;      /* wal_files. */
};

/* Acknowledges `rounds` batches with settings `before`, cuts the power, reopens with `after`:
 * every acknowledged batch is back, nothing is reported corrupt, writes continue; a second
 * power cut and reopen (with `after`) still has everything. Enough rounds to reach the third
 * WAL file, so a smaller count leaves acknowledged entries in a file it no longer names. */
static void
wal_settings_change_keeps_everything(uint64_t seed, struct wal_settings before,
                                     struct wal_settings after)
{
    struct fixture fixture;
    fixture_init(&fixture, seed);
    fixture.config.wal_prefill = true;
    fixture.config.wal_file_bytes = before.file_bytes;
    fixture.config.wal_file_count = before.count;
    cr_assert_eq(fixture_open(&fixture), 0);
    int64_t next[PARTITIONS] = {0};
    append_rounds(&fixture, 0, 700, next);
    fixture_power_loss(&fixture, SB_SIM_LOSE_UNSYNCED);
    fixture.config.wal_file_bytes = after.file_bytes;
    fixture.config.wal_file_count = after.count;
    cr_assert_eq(fixture_open(&fixture), 0, "reopen with other WAL settings");
    struct sb_store_stats stats;
    sb_store_stats(fixture.store, &stats);
    cr_assert_eq(stats.recovery_corruptions, 0);
    check_everything(&fixture, next);
    append_rounds(&fixture, 700, 700, next);
    fixture_power_loss(&fixture, SB_SIM_LOSE_UNSYNCED);
    cr_assert_eq(fixture_open(&fixture), 0);
    sb_store_stats(fixture.store, &stats);
    cr_assert_eq(stats.recovery_corruptions, 0);
    check_everything(&fixture, next);
    fixture_close(&fixture);
    fixture_destroy(&fixture);
}

Test(recovery, wal_file_bytes_changed_after_a_crash_keeps_acknowledged_batches, .timeout = 300)
{
    wal_settings_change_keeps_everything(81, (struct wal_settings){1 << 20, 4},
                                         (struct wal_settings){2 << 20, 4});
    wal_settings_change_keeps_everything(82, (struct wal_settings){1 << 20, 4},
                                         (struct wal_settings){512 << 10, 4});
}

Test(recovery, wal_files_changed_after_a_crash_keeps_acknowledged_batches, .timeout = 300)
{
    wal_settings_change_keeps_everything(83, (struct wal_settings){1 << 20, 4},
                                         (struct wal_settings){1 << 20, 6});
    wal_settings_change_keeps_everything(84, (struct wal_settings){1 << 20, 4},
                                         (struct wal_settings){1 << 20, 2});
    wal_settings_change_keeps_everything(85, (struct wal_settings){1 << 20, 6},
                                         (struct wal_settings){512 << 10, 3});
}

/* Appends `count` batches of about 56 KiB (under a 64 KiB batch_bytes_max) to partition 0. */
static void
append_large_batches(struct fixture *fixture, uint32_t count, int64_t *next)
{
    for (uint32_t index = 0; index < count; index++) {
        uint32_t bytes = fixture_batch(batch_buffer, BUFFER_BYTES, 1500, index, now_ms());
        cr_assert(bytes > 32u << 10 && bytes <= 64u << 10, "batch of %u bytes", bytes);
        cr_assert_eq(fixture_append_durable(fixture, partition_of(fixture, 0), batch_buffer,
                                            bytes), next[0]);
        next[0] += 1500;
    }
}

/* Reopens with batch_bytes_max 16 KiB: nothing reported corrupt, everything readable. */
static void
reopen_with_a_lower_batch_limit(struct fixture *fixture, const int64_t *next)
{
    fixture->config.batch_bytes_max = 16 << 10;
    cr_assert_eq(fixture_open(fixture), 0);
    struct sb_store_stats stats;
    sb_store_stats(fixture->store, &stats);
    cr_assert_eq(stats.recovery_corruptions, 0, "stored batches are not corrupt");
    check_everything(fixture, next);
    fixture->config.batch_bytes_max = 64 << 10;
}

Test(recovery, lower_batch_bytes_max_keeps_stored_batches_readable, .timeout = 120)
{
    struct fixture fixture;
    fixture_init(&fixture, 91);
    cr_assert_eq(fixture_open(&fixture), 0);
    int64_t next[PARTITIONS] = {0};
    append_large_batches(&fixture, 6, next);
    fixture_close(&fixture);
    reopen_with_a_lower_batch_limit(&fixture, next);
    fixture_close(&fixture);
    cr_assert_eq(fixture_open(&fixture), 0);
    append_large_batches(&fixture, 6, next);
    fixture_power_loss(&fixture, SB_SIM_LOSE_UNSYNCED);
    reopen_with_a_lower_batch_limit(&fixture, next);
    uint32_t bytes = fixture_batch(batch_buffer, BUFFER_BYTES, 1500, 0, now_ms());
    cr_assert_eq(sb_partition_append(partition_of(&fixture, 0), batch_buffer, bytes, NULL, NULL,
                                     NULL), -EMSGSIZE, "the lower limit applies to new input");
    fixture_close(&fixture);
    fixture_destroy(&fixture);
}

/* A 5 MiB batch of five 1 MiB records into `buffer`; returns its bytes. */
static uint32_t
huge_batch(uint8_t *buffer, uint32_t capacity, uint8_t *value)
{
    struct sb_batch_builder builder;
    sb_batch_builder_init(&builder, buffer, capacity, now_ms());
    for (uint32_t index = 0; index < 5; index++) {
        memset(value, 'a' + (int)index, 1 << 20);
        struct sb_record record = {.key = "k", .key_length = 1, .value = value,
                                   .value_length = 1 << 20, .timestamp_ms = now_ms()};
        cr_assert_eq(sb_batch_builder_add(&builder, &record), 0);
    }
    const uint8_t *batch;
    uint32_t bytes;
    cr_assert_eq(sb_batch_builder_finish(&builder, SB_COMPRESSION_NONE, NULL, 0, &batch, &bytes),
                 0);
    return bytes;
}

/* Partition 0 holds the huge batch at offset 0, then a small one: both read back whole. */
static void
check_huge_batch(struct fixture *fixture, uint8_t *buffer, uint32_t capacity)
{
    struct sb_partition *partition = partition_of(fixture, 0);
    cr_assert_not(sb_partition_fenced(partition, NULL));
    cr_assert_eq(sb_partition_high_watermark(partition), 5 + 3);
    uint32_t bytes = 0;
    cr_assert_eq(fixture_read(fixture, partition, 0, buffer, capacity, 1, &bytes), 0);
    struct sb_batch_header header;
    cr_assert_eq(sb_batch_verify(buffer, bytes, UINT32_MAX, &header), 0);
    cr_assert_eq(header.record_count, 5);
    cr_assert_gt(header.batch_bytes, 5u << 20);
    cr_assert_eq(fixture_read(fixture, partition, 5, buffer, capacity, 1, &bytes), 0);
    cr_assert_eq(sb_batch_verify(buffer, bytes, UINT32_MAX, &header), 0);
    cr_assert_eq(header.base_offset, 5);
}

/* A store whose WAL holds a 5 MiB batch (offsets 0-4, appended under a 6 MiB batch limit)
 * and a small one (5-7), both durable, then a power cut and the batch limit back at 1 MiB:
 * the next open replays an entry longer than recovery's read buffer. */
static void
huge_entry_cut(struct fixture *fixture, uint64_t seed, uint8_t *buffer, uint32_t capacity,
               uint8_t *value)
{
    fixture_init(fixture, seed);
    fixture->config.batch_bytes_max = 6 << 20;
    fixture->config.cycle_bytes_max = 8 << 20;
    fixture->config.memtable_bytes = 32 << 20;
    fixture->config.wal_file_bytes = 16 << 20;
    fixture->config.wal_file_count = 2;
    cr_assert_eq(fixture_open(fixture), 0);
    uint32_t bytes = huge_batch(buffer, capacity, value);
    cr_assert_eq(fixture_append_durable(fixture, partition_of(fixture, 0), buffer, bytes), 0);
    bytes = fixture_batch(buffer, capacity, 3, 0, now_ms());
    cr_assert_eq(fixture_append_durable(fixture, partition_of(fixture, 0), buffer, bytes), 5);
    fixture_power_loss(fixture, SB_SIM_LOSE_UNSYNCED);
    fixture->config.batch_bytes_max = 1 << 20;
}

/* A WAL entry larger than recovery's read buffer (about 4 MiB once the batch limit is back at
 * 1 MiB) is replayed, flushed and read back; bounded by the test's timeout, as a recovery
 * that re-reads the same chunk forever would never return. */
Test(recovery, wal_entry_larger_than_the_read_buffer_recovers, .timeout = 120)
{
    struct fixture fixture;
    uint32_t capacity = 8 << 20;
    uint8_t *buffer = malloc(capacity);
    uint8_t *value = malloc(1 << 20);
    cr_assert(buffer != NULL && value != NULL);
    huge_entry_cut(&fixture, 92, buffer, capacity, value);
    cr_assert_eq(fixture_open(&fixture), 0);
    struct sb_store_stats stats;
    sb_store_stats(fixture.store, &stats);
    cr_assert_eq(stats.recovery_corruptions, 0);
    check_huge_batch(&fixture, buffer, capacity);
    fixture_close(&fixture);
    cr_assert_eq(fixture_open(&fixture), 0, "the batch is in a segment now");
    check_huge_batch(&fixture, buffer, capacity);
    fixture_close(&fixture);
    fixture_destroy(&fixture);
    free(value);
    free(buffer);
}

/* The read of a WAL entry longer than the read-ahead's room (read whole, on its own) fails, as
 * does each other read of the recovery in turn (the Nth, a fresh store each time): a start
 * that reaches its failed read reports the error, one whose failed read was not needed (a
 * read-ahead chunk the long entry's own read replaced) starts; the next start has both
 * batches either way. */
Test(recovery, failed_read_of_a_long_wal_entry_refuses_to_start, .timeout = 120)
{
    uint32_t capacity = 8 << 20;
    uint8_t *buffer = malloc(capacity);
    uint8_t *value = malloc(1 << 20);
    cr_assert(buffer != NULL && value != NULL);
    uint32_t failures = 0;
    for (uint32_t nth = 1; nth <= 10; nth++) {
        struct fixture fixture;
        huge_entry_cut(&fixture, 95, buffer, capacity, value);
        struct sb_sim_fault_once fault = {.kind = SB_IO_OP_READ, .nth = nth, .error = -EIO};
        cr_assert_eq(sb_sim_fault_once(fixture.sim, &fault), 0);
        int opened = fixture_open(&fixture);
        if (opened != 0) {
            cr_assert_eq(opened, -EIO, "nth %u", nth);
            failures++;
            fixture_power_loss(&fixture, SB_SIM_LOSE_UNSYNCED);
            cr_assert_eq(fixture_open(&fixture), 0);
        }
        struct sb_store_stats stats;
        sb_store_stats(fixture.store, &stats);
        cr_assert_eq(stats.recovery_corruptions, 0);
        check_huge_batch(&fixture, buffer, capacity);
        fixture_close(&fixture);
        fixture_destroy(&fixture);
    }
    /* MANIFEST, two WAL headers, the read-ahead's first chunk, the long entry's own read. */
    cr_assert_geq(failures, 5, "failures %u", failures);
    free(value);
    free(buffer);
}

/* A store whose WAL holds about 7 MiB of batches (several of recovery's read-ahead chunks) in
 * one partition, every batch acknowledged, then the power cut. Returns the batches appended;
 * next[0] is the partition's next offset. */
static uint32_t
fill_wal_for_read_ahead(struct fixture *fixture, int64_t *next)
{
    fixture->config.memtable_bytes = 64 << 20;
    fixture->config.wal_file_bytes = 16 << 20;
    fixture->config.wal_file_count = 2;
    cr_assert_eq(fixture_open(fixture), 0);
    uint32_t batches = 0;
    for (; batches < 400; batches++) {
        uint32_t bytes = fixture_batch(batch_buffer, BUFFER_BYTES, 1000, batches, now_ms());
        int64_t offset = fixture_append_durable(fixture, partition_of(fixture, 0),
                                                batch_buffer, bytes);
        cr_assert_eq(offset, next[0]);
        next[0] += 1000;
    }
    fixture_power_loss(fixture, SB_SIM_LOSE_UNSYNCED);
    return batches;
}

/* Every read of the WAL's read-ahead fails once in turn (the Nth read of the recovery): a
 * recovery that reaches a failed read refuses to start with its error (it never cuts the log
 * there), one whose failed read was beyond the log's end starts, and nothing acknowledged is
 * lost either way. */
Test(recovery, failed_wal_read_ahead_refuses_to_start_and_loses_nothing, .timeout = 120)
{
    struct fixture fixture;
    fixture_init(&fixture, 93);
    int64_t next[PARTITIONS] = {0};
    fill_wal_for_read_ahead(&fixture, next);
    uint32_t failures = 0;
    int opened = -EIO;
    /* Bounded: the recovery makes a few dozen reads at most. */
    for (uint32_t nth = 1; opened != 0 && nth <= 64; nth++) {
        struct sb_sim_fault_once fault = {.kind = SB_IO_OP_READ, .nth = nth, .error = -EIO};
        cr_assert_eq(sb_sim_fault_once(fixture.sim, &fault), 0);
        opened = fixture_open(&fixture);
        if (opened != 0) {
            cr_assert_eq(opened, -EIO, "nth %u: a failed recovery reports the read's error",
                         nth);
            failures++;
            fixture_power_loss(&fixture, SB_SIM_LOSE_UNSYNCED);
        }
    }
    cr_assert_eq(opened, 0);
    /* The MANIFEST, the two WAL headers, then the read-ahead: 7 MiB are 4 chunks of 2 MiB. */
    cr_assert_geq(failures, 6, "the read-ahead's reads failed: %u", failures);
    int64_t expected[PARTITIONS] = {next[0]};
    check_everything(&fixture, expected);
    fixture_close(&fixture);
    fixture_destroy(&fixture);
}

/* The batch entries of a WAL file that end at or before `cut`. */
static uint32_t
entries_before(const char *path, uint64_t cut)
{
    int fd = open(path, O_RDONLY);
    cr_assert_geq(fd, 0);
    uint32_t count = 0;
    uint8_t header_bytes[SB_WAL_ENTRY_HEADER_BYTES];
    for (uint64_t position = SB_BLOCK_BYTES;;) {
        struct sb_wal_entry_header header;
        if (pread(fd, header_bytes, sizeof(header_bytes), (off_t)position) !=
                (ssize_t)sizeof(header_bytes) ||
            sb_wal_entry_header_decode(header_bytes, &header) != 0) {
            break;
        }
        position += sb_wal_entry_span(header.payload_bytes);
        if (position > cut) {
            break;
        }
        count += header.kind == SB_WAL_ENTRY_BATCH;
    }
    close(fd);
    return count;
}

/* A WAL file shorter than its header says (cut by something outside StreamBus, at a point
 * inside the read-ahead's third chunk and inside an entry): its reads come back short, and
 * the log ends at the last whole entry before the cut, as at a torn tail. */
Test(recovery, wal_file_cut_short_ends_the_log_at_the_last_whole_entry, .timeout = 120)
{
    struct fixture fixture;
    fixture_init(&fixture, 94);
    int64_t next[PARTITIONS] = {0};
    uint32_t batches = fill_wal_for_read_ahead(&fixture, next);
    char path[256];
    /* The first generation after a new store's first open is in the second file. */
    snprintf(path, sizeof(path), "%s/shards/0/wal-1.log", fixture.data_dir);
    uint64_t cut = (5u << 20) + 3 * SB_BLOCK_BYTES + 512;
    uint32_t whole = entries_before(path, cut);
    cr_assert_gt(whole, 0);
    cr_assert_lt(whole, batches);
    cr_assert_eq(truncate(path, (off_t)cut), 0);
    cr_assert_eq(fixture_open(&fixture), 0);
    struct sb_store_stats stats;
    sb_store_stats(fixture.store, &stats);
    cr_assert_eq(stats.recovered_batches, whole);
    cr_assert_eq(stats.recovery_corruptions, 0, "a cut end is a torn tail");
    int64_t expected[PARTITIONS] = {(int64_t)whole * 1000};
    check_everything(&fixture, expected);
    cr_assert_eq(sb_partition_high_watermark(partition_of(&fixture, 0)), expected[0]);
    fixture_close(&fixture);
    fixture_destroy(&fixture);
}

/* Whether the file system of `path` answers FIEMAP (else the store cannot tell a prefilled
 * file and prefills it at every start). */
static bool
fiemap_supported(const char *path)
{
    int fd = open(path, O_RDONLY);
    cr_assert_geq(fd, 0);
    uint64_t words[(sizeof(struct fiemap) + sizeof(struct fiemap_extent)) / sizeof(uint64_t)];
    memset(words, 0, sizeof(words));
    struct fiemap *map = (struct fiemap *)words;
    map->fm_length = UINT64_MAX;
    map->fm_extent_count = 1;
    bool supported = ioctl(fd, FS_IOC_FIEMAP, map) == 0;
    close(fd);
    return supported;
}

/* A WAL file that was prefilled but never used by a cycle (every block written, no header) is
 * not written again at the next start: a restart with large WAL files rewrote gigabytes of
 * zeros. The witness is a marker written into its last block between the starts. */
Test(recovery, prefilled_wal_file_is_not_prefilled_again_at_restart)
{
    struct fixture fixture;
    fixture_init(&fixture, 0);
    fixture.config.wal_prefill = true;
    cr_assert_eq(fixture_open(&fixture), 0);
    fixture_close(&fixture);
    char path[256];
    snprintf(path, sizeof(path), "%s/shards/0/wal-3.log", fixture.data_dir);
    if (!fiemap_supported(path)) {
        fixture_destroy(&fixture);
        cr_skip_test("no FIEMAP on this file system");
    }
    struct stat status;
    cr_assert_eq(stat(path, &status), 0);
    cr_assert_geq((uint64_t)status.st_blocks * 512, fixture.config.wal_file_bytes);
    static const char marker[] = "not prefilled again";
    off_t marker_at = (off_t)(fixture.config.wal_file_bytes - SB_BLOCK_BYTES);
    int fd = open(path, O_RDWR);
    cr_assert_geq(fd, 0);
    cr_assert_eq(pwrite(fd, marker, sizeof(marker), marker_at), (ssize_t)sizeof(marker));
    cr_assert_eq(fsync(fd), 0);
    cr_assert_eq(fixture_open(&fixture), 0);
    fixture_close(&fixture);
    char found[sizeof(marker)] = {0};
    cr_assert_eq(pread(fd, found, sizeof(found), marker_at), (ssize_t)sizeof(found));
    close(fd);
    cr_assert_str_eq(found, marker, "wal-3.log (never used) was written again");
    fixture_destroy(&fixture);
}
