/*
 * test/core/test_alloc.c - the general heap (core/alloc.h): zeroed blocks are
 * zero and aligned whatever their size and history, and large zeroed blocks
 * are resident only where written (sb_pages_zero), or zeroed by writing
 * where the kernel refuses to drop the pages.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/pages.h"
#include "test/core/residency.h"

static void
expect_zero(const uint8_t *memory, size_t size)
{
    for (size_t index = 0; index < size; index++) {
        cr_assert_eq(memory[index], 0, "byte %zu of %zu is %u", index, size, memory[index]);
    }
}

/* Sizes around the lazy-zeroing threshold, with partial last pages. */
static const size_t sizes[] = {1, 4095, SB_PAGES_LAZY_ZERO_BYTES - 1, SB_PAGES_LAZY_ZERO_BYTES,
                               SB_PAGES_LAZY_ZERO_BYTES + 123, (3u << 20) + 17};

Test(alloc, zeroed_blocks_are_zero_even_where_freed_memory_was_dirty)
{
    for (size_t round = 0; round < 3; round++) {
        for (size_t index = 0; index < sizeof(sizes) / sizeof(sizes[0]); index++) {
            uint8_t *plain = sb_alloc(sizes[index]);
            uint8_t *aligned = sb_alloc_aligned(sizes[index], 64);
            cr_assert_not_null(plain);
            cr_assert_not_null(aligned);
            cr_assert_eq((uintptr_t)aligned % 64, 0);
            expect_zero(plain, sizes[index]);
            expect_zero(aligned, sizes[index]);
            /* Dirty them so the next round may be handed the same memory back. */
            memset(plain, 0xa5, sizes[index]);
            memset(aligned, 0x5a, sizes[index]);
            sb_free(plain);
            sb_free(aligned);
        }
    }
}

Test(alloc, large_zeroed_blocks_are_resident_only_where_written)
{
    size_t size = 8u << 20;
    uint8_t *block = sb_alloc_aligned(size, SB_PAGE_BYTES);
    cr_assert_not_null(block);
    /* Allocators may keep a few pages of their own; nothing near the whole block. */
    cr_assert_lt(resident_bytes(block, size), 1u << 20, "%zu of %zu bytes resident",
                 resident_bytes(block, size), size);
    memset(block + (4u << 20), 1, SB_PAGE_BYTES);
    cr_assert_geq(resident_bytes(block, size), SB_PAGE_BYTES, "the written page is resident");
    sb_free(block);
}

Test(alloc, pages_zero_zeroes_partial_pages_too)
{
    size_t size = 5 * SB_PAGE_BYTES + 100;
    uint8_t *block = sb_alloc_aligned_raw(size, SB_PAGE_BYTES);
    cr_assert_not_null(block);
    memset(block, 0xff, size);
    sb_pages_zero(block, size);
    expect_zero(block, size);
    sb_pages_zero(block, 10); /* Less than a page: written, not advised. */
    expect_zero(block, size);
    sb_free(block);
}

Test(alloc, pages_zero_falls_back_to_writing_when_the_kernel_refuses)
{
    /* MADV_DONTNEED fails (EINVAL) on locked pages: the zeros must be written instead. The
     * lock is the raw system call: AddressSanitizer turns mlock() into a no-op. */
    size_t size = 4 * SB_PAGE_BYTES;
    uint8_t *block = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                          -1, 0);
    cr_assert_neq(block, MAP_FAILED);
    memset(block, 0x77, size);
    if (syscall(SYS_mlock, block, size) != 0) {
        munmap(block, size);
        cr_skip_test("mlock refused (RLIMIT_MEMLOCK): cannot make madvise fail");
    }
    cr_assert_neq(madvise(block, size, MADV_DONTNEED), 0, "locked pages refuse DONTNEED");
    sb_pages_zero(block, size);
    expect_zero(block, size);
    syscall(SYS_munlock, block, size);
    munmap(block, size);
}
