/*
 * core/crc32c.h - CRC32C (Castagnoli, reflected polynomial 0x82F63B78), the
 * checksum of every record batch header and payload and of WAL records.
 *
 * The CRC is incremental: start with 0 and feed the previous result back in,
 *   crc = sb_crc32c(0, a, n); crc = sb_crc32c(crc, b, m);
 * gives the CRC of a||b. Results are the standard finalized values, so
 * sb_crc32c(0, "123456789", 9) == 0xE3069283.
 *
 * sb_crc32c() uses the SSE4.2 crc32 instruction when the CPU has it (checked
 * once at load time) and a table-driven software path otherwise. Both are
 * pure functions of their arguments, safe from any thread, and never allocate.
 */
#ifndef SB_CORE_CRC32C_H
#define SB_CORE_CRC32C_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Returns the CRC32C of `crc`'s message followed by `length` bytes of `data` (borrowed for
 * the call; may be NULL when length is 0). Pass crc = 0 to start a new message. */
uint32_t sb_crc32c(uint32_t crc, const void *data, size_t length);

/* The same function computed by the software path only, whatever the CPU (for tests and
 * for comparing the two paths in benchmarks). */
uint32_t sb_crc32c_software(uint32_t crc, const void *data, size_t length);

/* Returns the CRC32C of a message A||B from A's CRC (`crc_first`) and B's (`crc_second`,
 * computed from 0) and B's length, without B's bytes: a few hundred cycles whatever the
 * length, so a CRC already known for a stored batch need not be computed again over its
 * bytes (a response frame's CRC, proto/wire.h). */
uint32_t sb_crc32c_combine(uint32_t crc_first, uint32_t crc_second, uint64_t second_length);

/* True when sb_crc32c() uses the SSE4.2 instruction on this CPU. */
bool sb_crc32c_hardware_enabled(void);

#endif /* SB_CORE_CRC32C_H */
