/*
 * core/assert.h - assertions that stay on in every build.
 *
 * SB_ASSERT(expr) checks a programmer invariant; on failure it prints the
 * expression, file:line and the current shard, then aborts (SIGABRT, so death
 * tests can catch it). It is never used on bytes from disk or network: those
 * return -EBADMSG / SB_ECORRUPT (STYLE.md rule 12).
 *
 * SB_ASSERT_DEBUG is for O(n) checks and compiles away unless SB_DEBUG_ASSERTS
 * is defined.
 */
#ifndef SB_CORE_ASSERT_H
#define SB_CORE_ASSERT_H

#include "core/base.h"

SB_NORETURN void sb_assert_fail(const char *expression, const char *file, int line);
SB_NORETURN SB_PRINTF(1, 2) void sb_panic(const char *format, ...);

#define SB_ASSERT(expression)                                        \
    do {                                                             \
        if (SB_UNLIKELY(!(expression))) {                            \
            sb_assert_fail(#expression, __FILE__, __LINE__);         \
        }                                                            \
    } while (0)

#ifdef SB_DEBUG_ASSERTS
#define SB_ASSERT_DEBUG(expression) SB_ASSERT(expression)
#else
#define SB_ASSERT_DEBUG(expression) ((void)sizeof(!(expression)))
#endif

#endif /* SB_CORE_ASSERT_H */
