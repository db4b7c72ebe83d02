/*
 * test/core/residency.h - how much of a memory range is resident (mincore),
 * for tests that check memory is paid for only when used.
 */
#ifndef SB_TEST_CORE_RESIDENCY_H
#define SB_TEST_CORE_RESIDENCY_H

#include <stddef.h>

/* Resident bytes of the pages covering [memory, memory + bytes); memory must be
 * page-aligned. */
size_t resident_bytes(const void *memory, size_t bytes);

#endif /* SB_TEST_CORE_RESIDENCY_H */
