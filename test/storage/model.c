/*
 * test/storage/model.c - see model.h.
 */
#include "test/storage/model.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "proto/batch.h"

#define MODEL_READ_BYTES (128u << 10)

static uint8_t model_buffer[MODEL_BATCH_BYTES_MAX];
static uint8_t model_expected[MODEL_BATCH_BYTES_MAX];
static uint8_t model_read[MODEL_READ_BYTES];

/* splitmix64: the content generator behind a tag. */
static uint64_t
model_mix(uint64_t *state)
{
    *state += 0x9e3779b97f4a7c15ull;
    uint64_t value = *state;
    value = (value ^ (value >> 30)) * 0xbf58476d1ce4e5b9ull;
    value = (value ^ (value >> 27)) * 0x94d049bb133111ebull;
    return value ^ (value >> 31);
}

static int
model_lookup(void *context, uint32_t topic_id, uint32_t partition,
             struct sb_partition_config *config_out)
{
    const struct model *model = context;
    cr_assert_eq(topic_id, model->topic_id, "seed %llu", (unsigned long long)model->seed);
    cr_assert_lt(partition, model->partition_count, "seed %llu",
                 (unsigned long long)model->seed);
    *config_out = model->config;
    return 0;
}

void
model_init(struct model *model, struct fixture *fixture, uint64_t seed, uint32_t topic_id,
           uint32_t partition_count, const struct sb_partition_config *config)
{
    cr_assert_leq(partition_count, MODEL_PARTITIONS_MAX);
    memset(model, 0, sizeof(*model));
    model->seed = seed;
    model->fixture = fixture;
    model->topic_id = topic_id;
    model->partition_count = partition_count;
    model->config = *config;
    fixture->config.lookup = model_lookup;
    fixture->config.lookup_context = model;
}

void
model_open_partitions(struct model *model)
{
    for (uint32_t index = 0; index < model->partition_count; index++) {
        int result = sb_store_partition_open(model->fixture->store, model->topic_id, index,
                                             &model->config,
                                             &model->partitions[index].partition);
        cr_assert_eq(result, 0, "seed %llu", (unsigned long long)model->seed);
    }
}

uint32_t
model_batch_build(uint64_t tag, uint32_t record_count, uint8_t *buffer)
{
    static const uint32_t value_max[] = {16, 200, 1400};
    uint64_t state = tag;
    uint32_t value_bytes_max = value_max[model_mix(&state) % 3];
    int64_t first_timestamp_ms = 1700000000000ll + (int64_t)(tag % 1000000);
    struct sb_batch_builder builder;
    sb_batch_builder_init(&builder, buffer, MODEL_BATCH_BYTES_MAX, first_timestamp_ms);
    for (uint32_t index = 0; index < record_count; index++) {
        char key[48];
        uint8_t value[1400];
        int key_length = snprintf(key, sizeof(key), "key-%llx-%u", (unsigned long long)tag,
                                  index);
        uint32_t value_length = (uint32_t)(model_mix(&state) % (value_bytes_max + 1));
        for (uint32_t at = 0; at < value_length; at++) {
            value[at] = (uint8_t)('a' + (model_mix(&state) % 26));
        }
        struct sb_record record = {
            .key = key, .key_length = key_length, .value = value,
            .value_length = (int32_t)value_length, .timestamp_ms = first_timestamp_ms + index,
        };
        cr_assert_eq(sb_batch_builder_add(&builder, &record), 0);
    }
    const uint8_t *batch;
    uint32_t bytes;
    cr_assert_eq(sb_batch_builder_finish(&builder, SB_COMPRESSION_NONE, NULL, 0, &batch, &bytes),
                 0);
    return bytes;
}

/* Acknowledgements come in offset order: a durable batch makes every earlier one durable. */
static void
model_append_done(struct sb_append *append)
{
    struct model_batch *batch = append->context;
    cr_assert_not(batch->notified, "one notice per append");
    cr_assert_eq(append->base_offset, batch->base_offset);
    batch->notified = true;
    batch->acknowledged = append->result == 0;
    if (batch->acknowledged) {
        struct model *model = batch->model;
        model->acknowledged_out_of_order +=
            batch->append_index != model->acknowledged_total ? 1 : 0;
        model->acknowledged_total++;
    }
    if (batch->acknowledged && batch->base_offset > 0) {
        cr_assert((batch - 1)->acknowledged, "acknowledged before an earlier batch");
    }
}

int
model_append(struct model *model, uint32_t index, uint32_t record_count, uint64_t tag)
{
    cr_assert_lt(index, model->partition_count);
    struct model_partition *partition = &model->partitions[index];
    cr_assert_lt(partition->count, MODEL_BATCHES_MAX);
    uint32_t bytes = model_batch_build(tag, record_count, model_buffer);
    struct model_batch *batch = &partition->batches[partition->count];
    *batch = (struct model_batch){.base_offset = partition->next_offset,
                                  .record_count = record_count, .tag = tag, .model = model,
                                  .append_index = model->appended_total};
    int result = sb_partition_append(partition->partition, model_buffer, bytes, &batch->append,
                                     model_append_done, batch);
    if (result == 0) {
        partition->count++;
        partition->next_offset += record_count;
        model->appended_total++;
    }
    return result;
}

uint32_t
model_unacknowledged(const struct model *model)
{
    uint32_t count = 0;
    for (uint32_t index = 0; index < model->partition_count; index++) {
        const struct model_partition *partition = &model->partitions[index];
        for (uint32_t at = 0; at < partition->count; at++) {
            count += partition->batches[at].acknowledged ? 0 : 1;
        }
    }
    return count;
}

/* The stored batch at `at` must be the one the model appended at `offset`, byte for byte
 * (except the header fields the store sets). Returns its bytes. */
static uint32_t
model_check_batch(const struct model *model, uint32_t index, const struct model_batch *expected,
                  const uint8_t *at, uint32_t available, int64_t offset)
{
    unsigned long long seed = (unsigned long long)model->seed;
    long long where = (long long)offset;
    struct sb_batch_header header;
    cr_assert_eq(sb_batch_verify(at, available, MODEL_BATCH_BYTES_MAX, &header), 0,
                 "seed %llu partition %u offset %lld: stored batch is corrupt", seed, index,
                 where);
    cr_assert_eq(header.base_offset, offset, "seed %llu partition %u offset %lld: offsets not "
                 "dense (%lld)", seed, index, where, (long long)header.base_offset);
    cr_assert_not_null(expected, "seed %llu partition %u offset %lld: a batch nobody appended",
                       seed, index, where);
    cr_assert_eq(expected->base_offset, offset, "seed %llu partition %u offset %lld: expected "
                 "a batch at %lld", seed, index, where, (long long)expected->base_offset);
    uint32_t bytes = model_batch_build(expected->tag, expected->record_count, model_expected);
    cr_assert_eq(header.batch_bytes, bytes, "seed %llu partition %u offset %lld: wrong size",
                 seed, index, where);
    /* Everything but magic, header CRC, size and base offset (the store assigns it). */
    cr_assert_eq(memcmp(at + SB_BATCH_OFFSET_RECORD_COUNT,
                        model_expected + SB_BATCH_OFFSET_RECORD_COUNT, 4), 0);
    cr_assert_eq(memcmp(at + SB_BATCH_OFFSET_FIRST_TIMESTAMP,
                        model_expected + SB_BATCH_OFFSET_FIRST_TIMESTAMP,
                        bytes - SB_BATCH_OFFSET_FIRST_TIMESTAMP), 0,
                 "seed %llu partition %u offset %lld: content differs", seed, index, where);
    return bytes;
}

void
model_check_read(const struct model *model, uint32_t index, int64_t offset,
                 const uint8_t *buffer, uint32_t bytes)
{
    const struct model_partition *expected = &model->partitions[index];
    uint32_t low = 0;
    uint32_t high = expected->count;
    /* The last batch whose base offset is <= offset. */
    while (high - low > 1) {
        uint32_t middle = (low + high) / 2;
        if (expected->batches[middle].base_offset <= offset) {
            low = middle;
        } else {
            high = middle;
        }
    }
    if (bytes == 0) {
        return;
    }
    cr_assert_lt(low, expected->count, "seed %llu partition %u: read at %lld returned data "
                 "nobody appended", (unsigned long long)model->seed, index, (long long)offset);
    const struct model_batch *batch = &expected->batches[low];
    cr_assert_leq(batch->base_offset, offset);
    cr_assert_gt(batch->base_offset + batch->record_count, offset, "seed %llu partition %u: "
                 "read at %lld", (unsigned long long)model->seed, index, (long long)offset);
    int64_t at_offset = batch->base_offset;
    for (uint32_t at = 0; at < bytes; low++) {
        batch = low < expected->count ? &expected->batches[low] : NULL;
        at += model_check_batch(model, index, batch, buffer + at, bytes - at, at_offset);
        at_offset += batch->record_count;
    }
}

/* Reads the partition from its log start up to the high watermark against the model; returns
 * how many model batches lie below the high watermark. */
static uint32_t
model_check_all(struct model *model, uint32_t index, struct sb_partition *partition,
                 int64_t high_watermark)
{
    struct model_partition *expected = &model->partitions[index];
    unsigned long long seed = (unsigned long long)model->seed;
    uint32_t batch_index = 0;
    int64_t offset = 0;
    /* Bounded by the high watermark: each read returns at least one batch or fails. */
    while (offset < high_watermark) {
        uint32_t bytes = 0;
        int result = fixture_read(model->fixture, partition, offset, model_read,
                                  MODEL_READ_BYTES, MODEL_READ_BYTES / 2, &bytes);
        cr_assert_eq(result, 0, "seed %llu partition %u offset %lld: read %d", seed, index,
                     (long long)offset, result);
        cr_assert_gt(bytes, 0, "seed %llu partition %u offset %lld unreadable", seed, index,
                     (long long)offset);
        /* Reads step the io, so the high watermark may move on while this runs: only
         * batches below the one taken at the start are counted. */
        for (uint32_t at = 0; at < bytes && offset < high_watermark; batch_index++) {
            const struct model_batch *batch = batch_index < expected->count
                                                  ? &expected->batches[batch_index] : NULL;
            at += model_check_batch(model, index, batch, model_read + at, bytes - at, offset);
            offset += batch->record_count;
        }
    }
    cr_assert_eq(offset, high_watermark, "seed %llu partition %u offset %lld hw %lld", seed,
                 index, (long long)offset, (long long)high_watermark);
    return batch_index;
}

/* Checks one partition; with `reopened`, trims the model to what survived. */
static void
model_check_partition(struct model *model, uint32_t index, bool reopened)
{
    unsigned long long seed = (unsigned long long)model->seed;
    struct model_partition *expected = &model->partitions[index];
    int64_t acknowledged_end = 0;
    for (uint32_t at = 0; at < expected->count; at++) {
        const struct model_batch *batch = &expected->batches[at];
        if (batch->acknowledged) {
            acknowledged_end = batch->base_offset + batch->record_count;
        }
    }
    struct sb_partition *partition = sb_store_partition_find(model->fixture->store,
                                                             model->topic_id, index);
    int64_t high_watermark = partition != NULL ? sb_partition_high_watermark(partition) : 0;
    cr_assert_geq(high_watermark, acknowledged_end, "seed %llu partition %u: acknowledged "
                  "offsets [%lld, %lld) lost", seed, index, (long long)high_watermark,
                  (long long)acknowledged_end);
    if (partition != NULL) {
        int64_t log_end = sb_partition_log_end_offset(partition);
        cr_assert_not(sb_partition_fenced(partition, NULL), "seed %llu partition %u fenced",
                      seed, index);
        cr_assert_eq(sb_partition_log_start_offset(partition), 0, "seed %llu partition %u: "
                     "log start %lld", seed, index,
                     (long long)sb_partition_log_start_offset(partition));
        cr_assert_eq(log_end, reopened ? high_watermark : expected->next_offset,
                     "seed %llu partition %u: log end %lld", seed, index, (long long)log_end);
    }
    uint32_t surviving = model_check_all(model, index, partition, high_watermark);
    if (!reopened) {
        return;
    }
    for (uint32_t at = 0; at < surviving; at++) {
        expected->batches[at].acknowledged = true; /* Recovery made it durable. */
    }
    expected->count = surviving;
    expected->next_offset = high_watermark;
}

static void
model_check_stats(const struct model *model)
{
    struct sb_store_stats stats;
    sb_store_stats(model->fixture->store, &stats);
    cr_assert_eq(stats.recovery_corruptions, 0, "seed %llu: corruption reported",
                 (unsigned long long)model->seed);
    cr_assert_eq(stats.corrupt_reads, 0, "seed %llu: corrupt reads",
                 (unsigned long long)model->seed);
}

void
model_reopen_and_check(struct model *model)
{
    int opened = fixture_open(model->fixture);
    cr_assert_eq(opened, 0, "seed %llu: reopen failed: %d", (unsigned long long)model->seed,
                 opened);
    model_check_recovered(model);
}

void
model_check_recovered(struct model *model)
{
    for (uint32_t index = 0; index < model->partition_count; index++) {
        model->partitions[index].partition = NULL;
        model_check_partition(model, index, true);
    }
    model_check_stats(model);
    model_open_partitions(model);
    /* Every survivor now counts as acknowledged: log order restarts with the next append. */
    model->appended_total = 0;
    model->acknowledged_total = 0;
}

void
model_check(struct model *model)
{
    for (uint32_t index = 0; index < model->partition_count; index++) {
        model_check_partition(model, index, false);
    }
    model_check_stats(model);
}
