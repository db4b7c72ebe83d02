/*
 * storage/format.c - encode and decode the on-disk structures tabled in
 * format.h. Pure functions over caller buffers: no I/O, no allocation.
 * Decoders treat every byte as untrusted and answer SB_ECORRUPT, never assert.
 */
#include "storage/format.h"

#include <string.h>

#include "core/assert.h"
#include "core/crc32c.h"
#include "core/endian.h"
#include "core/error.h"

static uint32_t
format_crc(const uint8_t *bytes, uint32_t from, uint32_t to)
{
    return sb_crc32c(0, bytes + from, to - from);
}

/* Magic at 0, CRC of [8, 64) at 4, version at 8 and reserved zero at 10: the common prefix of
 * the WAL file, segment and trailer-less headers. */
static void
format_seal_header(uint8_t *bytes, uint32_t magic)
{
    sb_store_le32(bytes, magic);
    sb_store_le32(bytes + 4, format_crc(bytes, 8, 64));
}

static bool
format_header_valid(const uint8_t *bytes, uint32_t magic, bool versioned)
{
    if (sb_load_le32(bytes) != magic || sb_load_le32(bytes + 4) != format_crc(bytes, 8, 64)) {
        return false;
    }
    return !versioned || (sb_load_le16(bytes + 8) == SB_FORMAT_VERSION &&
                          sb_load_le16(bytes + 10) == 0);
}

void
sb_wal_file_header_encode(const struct sb_wal_file_header *header, uint8_t *bytes)
{
    memset(bytes, 0, SB_WAL_FILE_HEADER_BYTES);
    sb_store_le16(bytes + 8, SB_FORMAT_VERSION);
    sb_store_le32(bytes + 12, header->shard_id);
    sb_store_le64(bytes + 16, header->generation);
    sb_store_le64(bytes + 24, header->first_sequence);
    sb_store_le64(bytes + 32, header->file_bytes);
    sb_store_le64(bytes + 40, header->created_ns);
    format_seal_header(bytes, SB_WAL_FILE_MAGIC);
}

int
sb_wal_file_header_decode(const uint8_t *bytes, struct sb_wal_file_header *header)
{
    if (!format_header_valid(bytes, SB_WAL_FILE_MAGIC, true)) {
        return SB_ECORRUPT;
    }
    header->shard_id = sb_load_le32(bytes + 12);
    header->generation = sb_load_le64(bytes + 16);
    header->first_sequence = sb_load_le64(bytes + 24);
    header->file_bytes = sb_load_le64(bytes + 32);
    header->created_ns = sb_load_le64(bytes + 40);
    return 0;
}

void
sb_wal_entry_header_encode(const struct sb_wal_entry_header *header, uint8_t *bytes)
{
    memset(bytes, 0, SB_WAL_ENTRY_HEADER_BYTES);
    sb_store_le16(bytes + 8, header->kind);
    sb_store_le32(bytes + 12, header->payload_bytes);
    sb_store_le64(bytes + 16, header->sequence);
    sb_store_le64(bytes + 24, header->generation);
    sb_store_le64(bytes + 32, header->cycle_sequence);
    sb_store_le32(bytes + 40, header->topic_id);
    sb_store_le32(bytes + 44, header->partition);
    sb_store_le64(bytes + 48, (uint64_t)header->base_offset);
    if (header->behind) {
        SB_ASSERT(header->unsynced_sequence < header->cycle_sequence);
        sb_store_le16(bytes + 10, SB_WAL_ENTRY_FLAG_BEHIND);
        sb_store_le64(bytes + 56, header->unsynced_sequence);
    }
    format_seal_header(bytes, SB_WAL_ENTRY_MAGIC);
}

int
sb_wal_entry_header_decode(const uint8_t *bytes, struct sb_wal_entry_header *header)
{
    uint16_t flags = sb_load_le16(bytes + 10);
    if (!format_header_valid(bytes, SB_WAL_ENTRY_MAGIC, false) ||
        (flags & ~SB_WAL_ENTRY_FLAG_BEHIND) != 0 ||
        (flags == 0 && sb_load_le64(bytes + 56) != 0)) {
        return SB_ECORRUPT;
    }
    header->behind = flags != 0;
    header->unsynced_sequence = sb_load_le64(bytes + 56);
    header->kind = sb_load_le16(bytes + 8);
    header->payload_bytes = sb_load_le32(bytes + 12);
    header->sequence = sb_load_le64(bytes + 16);
    header->generation = sb_load_le64(bytes + 24);
    header->cycle_sequence = sb_load_le64(bytes + 32);
    header->topic_id = sb_load_le32(bytes + 40);
    header->partition = sb_load_le32(bytes + 44);
    header->base_offset = (int64_t)sb_load_le64(bytes + 48);
    if (header->kind != SB_WAL_ENTRY_BATCH && header->kind != SB_WAL_ENTRY_PADDING) {
        return SB_ECORRUPT;
    }
    if (header->cycle_sequence > header->sequence ||
        (header->behind && header->unsynced_sequence >= header->cycle_sequence)) {
        return SB_ECORRUPT;
    }
    return 0;
}

bool
sb_format_is_zero(const uint8_t *bytes, uint32_t length)
{
    for (uint32_t index = 0; index < length; index++) {
        if (bytes[index] != 0) {
            return false;
        }
    }
    return true;
}

void
sb_segment_header_encode(const struct sb_segment_header *header, uint8_t *bytes)
{
    memset(bytes, 0, SB_SEGMENT_HEADER_BYTES);
    sb_store_le16(bytes + 8, SB_FORMAT_VERSION);
    sb_store_le32(bytes + 12, header->topic_id);
    sb_store_le32(bytes + 16, header->partition);
    sb_store_le64(bytes + 24, (uint64_t)header->base_offset);
    sb_store_le64(bytes + 32, header->created_ns);
    format_seal_header(bytes, SB_SEGMENT_MAGIC);
}

int
sb_segment_header_decode(const uint8_t *bytes, struct sb_segment_header *header)
{
    if (!format_header_valid(bytes, SB_SEGMENT_MAGIC, true)) {
        return SB_ECORRUPT;
    }
    header->topic_id = sb_load_le32(bytes + 12);
    header->partition = sb_load_le32(bytes + 16);
    header->base_offset = (int64_t)sb_load_le64(bytes + 24);
    header->created_ns = sb_load_le64(bytes + 32);
    return header->base_offset < 0 ? SB_ECORRUPT : 0;
}

void
sb_segment_footer_encode(const struct sb_segment_footer *footer, uint8_t *bytes)
{
    memset(bytes, 0, SB_FOOTER_HEADER_BYTES);
    sb_store_le32(bytes, SB_FOOTER_MAGIC);
    sb_store_le32(bytes + 8, footer->footer_bytes);
    sb_store_le32(bytes + 12, footer->index_count);
    sb_store_le32(bytes + 16, footer->batch_count);
    sb_store_le64(bytes + 24, footer->data_end);
    sb_store_le64(bytes + 32, (uint64_t)footer->first_offset);
    sb_store_le64(bytes + 40, (uint64_t)footer->last_offset);
    sb_store_le64(bytes + 48, footer->record_count);
    sb_store_le64(bytes + 56, (uint64_t)footer->min_timestamp_ms);
    sb_store_le64(bytes + 64, (uint64_t)footer->max_timestamp_ms);
}

void
sb_segment_footer_seal(uint8_t *footer_bytes_start, uint32_t footer_bytes)
{
    SB_ASSERT(footer_bytes % SB_BLOCK_BYTES == 0);
    SB_ASSERT(sb_load_le32(footer_bytes_start) == SB_FOOTER_MAGIC);
    sb_store_le32(footer_bytes_start + 4, format_crc(footer_bytes_start, 8, footer_bytes));
}

int
sb_segment_footer_decode(const uint8_t *bytes, uint32_t available,
                         struct sb_segment_footer *footer)
{
    if (available < SB_FOOTER_HEADER_BYTES || sb_load_le32(bytes) != SB_FOOTER_MAGIC) {
        return SB_ECORRUPT;
    }
    footer->footer_bytes = sb_load_le32(bytes + 8);
    footer->index_count = sb_load_le32(bytes + 12);
    footer->batch_count = sb_load_le32(bytes + 16);
    footer->data_end = sb_load_le64(bytes + 24);
    footer->first_offset = (int64_t)sb_load_le64(bytes + 32);
    footer->last_offset = (int64_t)sb_load_le64(bytes + 40);
    footer->record_count = sb_load_le64(bytes + 48);
    footer->min_timestamp_ms = (int64_t)sb_load_le64(bytes + 56);
    footer->max_timestamp_ms = (int64_t)sb_load_le64(bytes + 64);
    uint64_t index_bytes = (uint64_t)footer->index_count * SB_INDEX_ENTRY_BYTES;
    if (footer->footer_bytes > available || footer->footer_bytes % SB_BLOCK_BYTES != 0 ||
        SB_FOOTER_HEADER_BYTES + index_bytes + SB_TRAILER_BYTES > footer->footer_bytes ||
        footer->first_offset < 0 || footer->last_offset < footer->first_offset ||
        sb_load_le32(bytes + 20) != 0 ||
        !sb_format_is_zero(bytes + 72, SB_FOOTER_HEADER_BYTES - 72)) {
        return SB_ECORRUPT;
    }
    if (sb_load_le32(bytes + 4) != format_crc(bytes, 8, footer->footer_bytes)) {
        return SB_ECORRUPT;
    }
    return 0;
}

void
sb_index_entry_encode(const struct sb_index_entry *entry, uint8_t *bytes)
{
    sb_store_le64(bytes, (uint64_t)entry->base_offset);
    sb_store_le64(bytes + 8, entry->position);
    sb_store_le64(bytes + 16, (uint64_t)entry->max_timestamp_ms);
}

void
sb_index_entry_decode(const uint8_t *bytes, struct sb_index_entry *entry)
{
    entry->base_offset = (int64_t)sb_load_le64(bytes);
    entry->position = sb_load_le64(bytes + 8);
    entry->max_timestamp_ms = (int64_t)sb_load_le64(bytes + 16);
}

void
sb_segment_trailer_encode(const struct sb_segment_trailer *trailer, uint8_t *bytes)
{
    memset(bytes, 0, SB_TRAILER_BYTES);
    sb_store_le64(bytes + 8, trailer->footer_position);
    sb_store_le32(bytes + 16, trailer->footer_bytes);
    format_seal_header(bytes, SB_TRAILER_MAGIC);
}

int
sb_segment_trailer_decode(const uint8_t *bytes, struct sb_segment_trailer *trailer)
{
    if (!format_header_valid(bytes, SB_TRAILER_MAGIC, false)) {
        return SB_ECORRUPT;
    }
    trailer->footer_position = sb_load_le64(bytes + 8);
    trailer->footer_bytes = sb_load_le32(bytes + 16);
    if (trailer->footer_position % SB_BLOCK_BYTES != 0 ||
        trailer->footer_bytes % SB_BLOCK_BYTES != 0 || trailer->footer_bytes == 0) {
        return SB_ECORRUPT;
    }
    return 0;
}

void
sb_manifest_header_encode(const struct sb_manifest_header *header, uint8_t *bytes)
{
    memset(bytes, 0, SB_MANIFEST_HEADER_BYTES);
    sb_store_le32(bytes, SB_MANIFEST_MAGIC);
    sb_store_le16(bytes + 8, SB_FORMAT_VERSION);
    sb_store_le32(bytes + 12, header->partition_count);
    sb_store_le64(bytes + 16, header->file_bytes);
    sb_store_le64(bytes + 24, header->checkpoint_sequence);
    sb_store_le64(bytes + 32, header->written_ns);
}

int
sb_manifest_header_decode(const uint8_t *bytes, struct sb_manifest_header *header)
{
    if (sb_load_le32(bytes) != SB_MANIFEST_MAGIC ||
        sb_load_le16(bytes + 8) != SB_FORMAT_VERSION || sb_load_le16(bytes + 10) != 0) {
        return SB_ECORRUPT;
    }
    header->partition_count = sb_load_le32(bytes + 12);
    header->file_bytes = sb_load_le64(bytes + 16);
    header->checkpoint_sequence = sb_load_le64(bytes + 24);
    header->written_ns = sb_load_le64(bytes + 32);
    uint64_t expected = SB_MANIFEST_HEADER_BYTES +
                        (uint64_t)header->partition_count * SB_MANIFEST_PARTITION_BYTES;
    return header->file_bytes == expected ? 0 : SB_ECORRUPT;
}

void
sb_manifest_seal(uint8_t *file, uint64_t file_bytes)
{
    SB_ASSERT(file_bytes >= SB_MANIFEST_HEADER_BYTES);
    sb_store_le32(file + 4, sb_crc32c(0, file + 8, file_bytes - 8));
}

int
sb_manifest_verify(const uint8_t *file, uint64_t file_bytes)
{
    if (file_bytes < SB_MANIFEST_HEADER_BYTES) {
        return SB_ECORRUPT;
    }
    return sb_load_le32(file + 4) == sb_crc32c(0, file + 8, file_bytes - 8) ? 0 : SB_ECORRUPT;
}

void
sb_manifest_partition_encode(const struct sb_manifest_partition *record, uint8_t *bytes)
{
    memset(bytes, 0, SB_MANIFEST_PARTITION_BYTES);
    sb_store_le32(bytes, record->topic_id);
    sb_store_le32(bytes + 4, record->partition);
    sb_store_le64(bytes + 8, (uint64_t)record->log_start_offset);
    sb_store_le64(bytes + 16, (uint64_t)record->next_offset);
    sb_store_le64(bytes + 24, (uint64_t)record->open_segment_base);
    sb_store_le64(bytes + 32, record->open_segment_data_end);
    sb_store_le32(bytes + 40, record->flags);
    sb_store_le64(bytes + 48, (uint64_t)record->fenced_offset);
}

void
sb_manifest_partition_decode(const uint8_t *bytes, struct sb_manifest_partition *record)
{
    record->topic_id = sb_load_le32(bytes);
    record->partition = sb_load_le32(bytes + 4);
    record->log_start_offset = (int64_t)sb_load_le64(bytes + 8);
    record->next_offset = (int64_t)sb_load_le64(bytes + 16);
    record->open_segment_base = (int64_t)sb_load_le64(bytes + 24);
    record->open_segment_data_end = sb_load_le64(bytes + 32);
    record->flags = sb_load_le32(bytes + 40);
    record->fenced_offset = (int64_t)sb_load_le64(bytes + 48);
}

void
sb_producer_entry_encode(const struct sb_producer_entry *entry, uint8_t *bytes)
{
    SB_ASSERT(entry->recent_count >= 1 && entry->recent_count <= SB_PRODUCER_ENTRY_RECENT);
    memset(bytes, 0, SB_PRODUCER_ENTRY_BYTES);
    sb_store_le64(bytes, (uint64_t)entry->producer_id);
    sb_store_le64(bytes + 8, (uint64_t)entry->last_used_ms);
    sb_store_le16(bytes + 16, (uint16_t)entry->epoch);
    bytes[18] = entry->recent_count;
    sb_store_le32(bytes + 20, (uint32_t)entry->last_sequence);
    for (uint32_t index = 0; index < entry->recent_count; index++) {
        uint8_t *batch = bytes + 24 + index * 16;
        sb_store_le32(batch, (uint32_t)entry->recent[index].first_sequence);
        sb_store_le32(batch + 4, (uint32_t)entry->recent[index].last_sequence);
        sb_store_le64(batch + 8, (uint64_t)entry->recent[index].base_offset);
    }
}

int
sb_producer_entry_decode(const uint8_t *bytes, struct sb_producer_entry *entry)
{
    entry->producer_id = (int64_t)sb_load_le64(bytes);
    entry->last_used_ms = (int64_t)sb_load_le64(bytes + 8);
    entry->epoch = (int16_t)sb_load_le16(bytes + 16);
    entry->recent_count = bytes[18];
    entry->last_sequence = (int32_t)sb_load_le32(bytes + 20);
    if (entry->recent_count < 1 || entry->recent_count > SB_PRODUCER_ENTRY_RECENT ||
        entry->producer_id < 0 || bytes[19] != 0) {
        return SB_ECORRUPT;
    }
    for (uint32_t index = 0; index < entry->recent_count; index++) {
        const uint8_t *batch = bytes + 24 + index * 16;
        entry->recent[index].first_sequence = (int32_t)sb_load_le32(batch);
        entry->recent[index].last_sequence = (int32_t)sb_load_le32(batch + 4);
        entry->recent[index].base_offset = (int64_t)sb_load_le64(batch + 8);
    }
    return 0;
}

void
sb_producer_snapshot_seal(uint8_t *bytes, uint32_t count)
{
    SB_ASSERT(count <= SB_PRODUCER_SNAPSHOT_MAX);
    sb_store_le32(bytes, SB_PRODUCER_SNAPSHOT_MAGIC);
    sb_store_le32(bytes + 8, count);
    sb_store_le32(bytes + 12, 0);
    uint32_t end = SB_PRODUCER_SNAPSHOT_HEADER_BYTES + count * SB_PRODUCER_ENTRY_BYTES;
    sb_store_le32(bytes + 4, format_crc(bytes, 8, end));
}

int
sb_producer_snapshot_verify(const uint8_t *bytes, uint32_t *count_out)
{
    *count_out = 0;
    if (sb_format_is_zero(bytes, SB_PRODUCER_SNAPSHOT_HEADER_BYTES)) {
        return 0;
    }
    uint32_t count = sb_load_le32(bytes + 8);
    if (sb_load_le32(bytes) != SB_PRODUCER_SNAPSHOT_MAGIC || count > SB_PRODUCER_SNAPSHOT_MAX ||
        sb_load_le32(bytes + 4) != format_crc(bytes, 8, SB_PRODUCER_SNAPSHOT_HEADER_BYTES +
                                                            count * SB_PRODUCER_ENTRY_BYTES)) {
        return SB_ECORRUPT;
    }
    *count_out = count;
    return 0;
}
