/*
 * client/records.c - walks the record batches a Fetch returned, one record at
 * a time: verifies each batch (header and payload CRC, structure),
 * decompresses it into a scratch buffer no larger than the caller's limit,
 * skips control batches, and decodes records and their headers.
 *
 * Pure and lock-free: it works on bytes the consumer owns, so poll runs it on
 * the application's thread. Every inconsistency is SB_ERR_CORRUPT and stops
 * the walk (the iterator keeps returning the error); nothing is asserted.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client/client_private.h"

void
client_records_init(struct client_records *records, const uint8_t *bytes, size_t length,
                    size_t scratch_limit)
{
    uint8_t *scratch = records->scratch;
    size_t scratch_capacity = records->scratch_capacity;
    memset(records, 0, sizeof(*records));
    records->bytes = bytes;
    records->length = length;
    records->scratch = scratch; /* Kept across chunks: decompression reuses it. */
    records->scratch_capacity = scratch_capacity;
    records->scratch_limit = scratch_limit;
}

/* Stops the walk: every later call returns error. */
static int
client_records_stop(struct client_records *records, int error)
{
    records->position = records->length;
    records->in_batch = false;
    records->iter.error = error;
    return error;
}

/* Makes the record area of the batch at batch (header already verified) iterable. */
static int
client_records_open(struct client_records *records, const uint8_t *batch)
{
    const struct sb_batch_header *header = &records->header;
    const uint8_t *area = batch + SB_BATCH_HEADER_BYTES;
    if (sb_batch_header_compression(header) != SB_COMPRESSION_NONE) {
        if (header->records_bytes > records->scratch_limit) {
            return SB_ERR_CORRUPT; /* Would expand beyond what we accept. */
        }
        if (records->scratch_capacity < header->records_bytes) {
            uint8_t *scratch = realloc(records->scratch, header->records_bytes);
            if (scratch == NULL) {
                return -ENOMEM;
            }
            records->scratch = scratch;
            records->scratch_capacity = header->records_bytes;
        }
        int result = sb_batch_decompress_records(batch, header, records->scratch,
                                                 records->scratch_capacity);
        if (result < 0) {
            return result == -ENOMEM ? -ENOMEM : SB_ERR_CORRUPT;
        }
        area = records->scratch;
    }
    sb_record_iter_init(&records->iter, header, area, header->records_bytes);
    records->in_batch = true;
    return 0;
}

int
client_records_next(struct client_records *records, struct sb_record_view *out,
                    bool *log_append_time_out)
{
    if (records->iter.error != 0 && !records->in_batch) {
        return records->iter.error;
    }
    /* Bounded: each round either returns or moves past one whole batch. */
    for (;;) {
        if (records->in_batch) {
            int result = sb_record_iter_next(&records->iter, out);
            if (result == 1) {
                *log_append_time_out = sb_batch_header_is_log_append_time(&records->header);
                return 1;
            }
            if (result < 0) {
                return client_records_stop(records, SB_ERR_CORRUPT);
            }
            records->in_batch = false;
        }
        if (records->position >= records->length) {
            return 0;
        }
        const uint8_t *batch = records->bytes + records->position;
        size_t left = records->length - records->position;
        if (sb_batch_verify(batch, left, UINT32_MAX, &records->header) != 0) {
            return client_records_stop(records, SB_ERR_CORRUPT);
        }
        records->position += records->header.batch_bytes;
        if (sb_batch_header_is_control(&records->header)) {
            continue;
        }
        int result = client_records_open(records, batch);
        if (result != 0) {
            return client_records_stop(records, result);
        }
    }
}

void
client_records_deinit(struct client_records *records)
{
    free(records->scratch);
    memset(records, 0, sizeof(*records));
}

int
client_records_headers(const struct sb_record_view *record, struct sb_client_header **headers,
                       uint32_t *capacity)
{
    if (record->header_count > *capacity) {
        struct sb_client_header *grown = realloc(*headers,
                                                 record->header_count * sizeof(**headers));
        if (grown == NULL) {
            return -ENOMEM;
        }
        *headers = grown;
        *capacity = record->header_count;
    }
    struct sb_record_header_iter iter;
    sb_record_header_iter_init(&iter, record);
    struct sb_record_header_view view;
    uint32_t count = 0;
    while (count < record->header_count && sb_record_header_iter_next(&iter, &view) == 1) {
        (*headers)[count++] = (struct sb_client_header){
            .name = (const char *)view.name,
            .name_length = view.name_length,
            .value = view.value,
            .value_length = view.value_length < 0 ? 0 : (size_t)view.value_length,
        };
    }
    return (int)count;
}
