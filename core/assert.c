/*
 * core/assert.c - the failure path of SB_ASSERT and sb_panic: one line naming
 * the expression, the place and the shard, then abort() so a core dump (or a
 * Criterion death test) sees SIGABRT.
 */
#include "core/assert.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/log.h"

void
sb_assert_fail(const char *expression, const char *file, int line)
{
    char text[512];
    int length = snprintf(text, sizeof(text), "assertion failed: %s at %s:%d shard=%d\n",
                          expression, file, line, sb_log_shard());
    if (length > 0) {
        ssize_t written = write(STDERR_FILENO, text, sb_min_u64((size_t)length, sizeof(text)));
        (void)written;
    }
    abort();
}

void
sb_panic(const char *format, ...)
{
    char text[512];
    va_list args;
    va_start(args, format);
    int length = vsnprintf(text, sizeof(text) - 1, format, args);
    va_end(args);
    if (length > 0) {
        size_t used = sb_min_u64((size_t)length, sizeof(text) - 2);
        text[used++] = '\n';
        ssize_t written = write(STDERR_FILENO, text, used);
        (void)written;
    }
    abort();
}
