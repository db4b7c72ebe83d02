/*
 * core/endian.h - little-endian loads and stores at any alignment, for every
 * on-disk and on-wire format (all of them are little-endian). memcpy compiles
 * to a single move on x86-64.
 */
#ifndef SB_CORE_ENDIAN_H
#define SB_CORE_ENDIAN_H

#include <endian.h>
#include <stdint.h>
#include <string.h>

static inline uint16_t
sb_load_le16(const uint8_t *bytes)
{
    uint16_t value;
    memcpy(&value, bytes, sizeof(value));
    return le16toh(value);
}

static inline uint32_t
sb_load_le32(const uint8_t *bytes)
{
    uint32_t value;
    memcpy(&value, bytes, sizeof(value));
    return le32toh(value);
}

static inline uint64_t
sb_load_le64(const uint8_t *bytes)
{
    uint64_t value;
    memcpy(&value, bytes, sizeof(value));
    return le64toh(value);
}

static inline void
sb_store_le16(uint8_t *bytes, uint16_t value)
{
    value = htole16(value);
    memcpy(bytes, &value, sizeof(value));
}

static inline void
sb_store_le32(uint8_t *bytes, uint32_t value)
{
    value = htole32(value);
    memcpy(bytes, &value, sizeof(value));
}

static inline void
sb_store_le64(uint8_t *bytes, uint64_t value)
{
    value = htole64(value);
    memcpy(bytes, &value, sizeof(value));
}

#endif /* SB_CORE_ENDIAN_H */
