/*
 * test/fuzz/fuzz_batch.c - libFuzzer target for record batches: the header
 * decoder, sb_batch_verify, sb_batch_decompress_records (every codec) and the
 * record and record-header iterators, over batches as a producer or a disk
 * could hand them to the broker.
 *
 * Input: one control byte, then the batch. Control bit 0 set: the target
 * first writes correct header and payload CRC32Cs into the batch (the fuzzer
 * cannot forge them, and without this it would never get past verify); bits
 * 1-3 pick the decompression buffer: 64 bytes << (2 * value), so the
 * "records_bytes claims more than the buffer" refusal is fuzzed as well.
 *
 * Oracles besides the sanitizers: errors are the documented ones; a batch
 * whose records_bytes exceeds the buffer is refused with -E2BIG and nothing
 * written to the buffer (a compression bomb is never expanded); decompression
 * writes exactly records_bytes; iteration yields offsets base + 0, 1, ...,
 * and a batch that iterates to the end is rebuilt by sb_batch_builder into
 * the very same record area (the encoding is canonical).
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/assert.h"
#include "core/crc32c.h"
#include "core/endian.h"
#include "core/error.h"
#include "proto/batch.h"

/* Largest batch the target accepts, and its largest decompression buffer. */
#define FUZZ_BATCH_BYTES_MAX (1u << 20)
#define FUZZ_RECORDS_BYTES_MAX (1u << 20)
#define FUZZ_CANARY 0xA5

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t fuzz_copy[FUZZ_BATCH_BYTES_MAX];
static uint8_t fuzz_records[FUZZ_RECORDS_BYTES_MAX];
static uint8_t fuzz_rebuilt[FUZZ_RECORDS_BYTES_MAX + SB_BATCH_HEADER_BYTES];

/* Makes both CRCs of a batch right, as a well-behaved producer would. */
static void
fuzz_fix_crcs(uint8_t *batch, size_t size)
{
    if (size < SB_BATCH_HEADER_BYTES) {
        return;
    }
    sb_store_le32(batch + SB_BATCH_OFFSET_MAGIC, SB_BATCH_MAGIC);
    uint32_t batch_bytes = sb_load_le32(batch + SB_BATCH_OFFSET_BATCH_BYTES);
    if (batch_bytes >= SB_BATCH_HEADER_BYTES && batch_bytes <= size) {
        sb_store_le32(batch + SB_BATCH_OFFSET_PAYLOAD_CRC,
                      sb_crc32c(0, batch + SB_BATCH_HEADER_BYTES,
                                batch_bytes - SB_BATCH_HEADER_BYTES));
    }
    sb_store_le32(batch + SB_BATCH_OFFSET_HEADER_CRC,
                  sb_crc32c(0, batch + SB_BATCH_OFFSET_BATCH_BYTES, SB_BATCH_HEADER_CRC_BYTES));
}

/* Rebuilds the records the iterator returned; the record area must come out identical. */
static void
fuzz_rebuild(const struct sb_batch_header *header, const uint8_t *records)
{
    struct sb_batch_builder builder;
    sb_batch_builder_init(&builder, fuzz_rebuilt, sizeof(fuzz_rebuilt),
                          header->first_timestamp_ms);
    struct sb_record_iter iter;
    sb_record_iter_init(&iter, header, records, header->records_bytes);
    struct sb_record_view view;
    struct sb_record_header headers[64];
    while (sb_record_iter_next(&iter, &view) == 1) {
        struct sb_record_header_iter header_iter;
        sb_record_header_iter_init(&header_iter, &view);
        struct sb_record_header_view header_view;
        uint32_t count = 0;
        while (count < 64 && sb_record_header_iter_next(&header_iter, &header_view) == 1) {
            headers[count++] = (struct sb_record_header){
                .name = header_view.name, .name_length = header_view.name_length,
                .value = header_view.value, .value_length = header_view.value_length};
        }
        if (count == 64) {
            return; /* Too many headers to rebuild here; the iterators were still checked. */
        }
        struct sb_record record = {.key = view.key, .key_length = view.key_length,
                                   .value = view.value, .value_length = view.value_length,
                                   .timestamp_ms = view.timestamp_ms, .headers = headers,
                                   .header_count = count};
        SB_ASSERT(sb_batch_builder_add(&builder, &record) == 0);
    }
    SB_ASSERT(builder.used - SB_BATCH_HEADER_BYTES == header->records_bytes);
    SB_ASSERT(memcmp(fuzz_rebuilt + SB_BATCH_HEADER_BYTES, records,
                     header->records_bytes) == 0);
}

/* Walks every record and header; returns the iterator's final result. */
static int
fuzz_iterate(const struct sb_batch_header *header, const uint8_t *records)
{
    struct sb_record_iter iter;
    sb_record_iter_init(&iter, header, records, header->records_bytes);
    struct sb_record_view view;
    int result;
    uint32_t index = 0;
    while ((result = sb_record_iter_next(&iter, &view)) == 1) {
        SB_ASSERT(view.offset == header->base_offset + index);
        SB_ASSERT(index < header->record_count);
        index++;
        struct sb_record_header_iter header_iter;
        sb_record_header_iter_init(&header_iter, &view);
        struct sb_record_header_view header_view;
        int header_result;
        while ((header_result = sb_record_header_iter_next(&header_iter, &header_view)) == 1) {
        }
        SB_ASSERT(header_result == 0); /* The record iterator checked them already. */
    }
    SB_ASSERT(result == 0 || result == SB_ECORRUPT);
    if (result == 0) {
        SB_ASSERT(index == header->record_count);
    }
    SB_ASSERT(sb_record_iter_next(&iter, &view) == result); /* Errors and the end stick. */
    return result;
}

static void
fuzz_records_of(const uint8_t *batch, const struct sb_batch_header *header, size_t capacity)
{
    memset(fuzz_records, FUZZ_CANARY, capacity);
    int produced = sb_batch_decompress_records(batch, header, fuzz_records, capacity);
    if (header->records_bytes > capacity) {
        SB_ASSERT(produced == -E2BIG);
        for (size_t index = 0; index < capacity; index++) {
            SB_ASSERT(fuzz_records[index] == FUZZ_CANARY); /* Refused before expanding. */
        }
        return;
    }
    SB_ASSERT(produced == (int)header->records_bytes || produced == SB_ECORRUPT ||
              produced == -ENOMEM);
    if (produced < 0) {
        return;
    }
    if (fuzz_iterate(header, fuzz_records) == 0 && !sb_batch_header_is_log_append_time(header)) {
        fuzz_rebuild(header, fuzz_records);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size - 1 > FUZZ_BATCH_BYTES_MAX) {
        return 0;
    }
    uint8_t control = data[0];
    size_t length = size - 1;
    memcpy(fuzz_copy, data + 1, length);
    if ((control & 1) != 0) {
        fuzz_fix_crcs(fuzz_copy, length);
    }
    size_t capacity = (size_t)64 << (2 * ((control >> 1) & 7));
    capacity = capacity > FUZZ_RECORDS_BYTES_MAX ? FUZZ_RECORDS_BYTES_MAX : capacity;
    struct sb_batch_header header;
    int decoded = sb_batch_header_decode(fuzz_copy, length, FUZZ_BATCH_BYTES_MAX, &header);
    SB_ASSERT(decoded == 0 || decoded == -EAGAIN || decoded == SB_ECORRUPT);
    struct sb_batch_header verified;
    int result = sb_batch_verify(fuzz_copy, length, FUZZ_BATCH_BYTES_MAX, &verified);
    SB_ASSERT(result == 0 || result == -EAGAIN || result == SB_ECORRUPT);
    if (result != 0) {
        return 0;
    }
    SB_ASSERT(decoded == 0 && header.batch_bytes == verified.batch_bytes &&
              header.records_bytes == verified.records_bytes &&
              header.base_offset == verified.base_offset);
    SB_ASSERT(verified.batch_bytes <= length);
    fuzz_records_of(fuzz_copy, &verified, capacity);
    return 0;
}
