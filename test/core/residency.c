/*
 * test/core/residency.c - resident_bytes over mincore (residency.h).
 */
#include "test/core/residency.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

size_t
resident_bytes(const void *memory, size_t bytes)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t pages = (bytes + page - 1) / page;
    unsigned char *vector = calloc(pages, 1);
    cr_assert_not_null(vector);
    cr_assert_eq(mincore((void *)memory, bytes, vector), 0);
    size_t resident = 0;
    for (size_t index = 0; index < pages; index++) {
        resident += vector[index] & 1;
    }
    free(vector);
    return resident * page;
}
