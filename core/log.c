/*
 * core/log.c - formats structured log lines (see log.h) and writes each with a
 * single write(2) to stderr. The shard identity is thread-local; the level is
 * process-wide and set once at start-up.
 */
#include "core/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/limits.h"

static enum sb_log_level log_level_min = SB_LOG_INFO;
static _Thread_local int log_shard_id = -1;

static const char *const log_level_names[] = {"debug", "info", "warn", "error"};

void
sb_log_set_level(enum sb_log_level level)
{
    log_level_min = level;
}

int
sb_log_level_parse(const char *name, enum sb_log_level *level_out)
{
    for (size_t index = 0; index < SB_ARRAY_COUNT(log_level_names); index++) {
        if (strcmp(name, log_level_names[index]) == 0) {
            *level_out = (enum sb_log_level)index;
            return 0;
        }
    }
    return -EINVAL;
}

void
sb_log_set_shard(int shard_id)
{
    log_shard_id = shard_id;
}

int
sb_log_shard(void)
{
    return log_shard_id;
}

static size_t
log_format_prefix(char *line, size_t capacity, enum sb_log_level level)
{
    struct timespec now;
    struct tm utc;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &utc);
    size_t used = strftime(line, capacity, "%Y-%m-%dT%H:%M:%S", &utc);
    int added;
    if (log_shard_id >= 0) {
        added = snprintf(line + used, capacity - used, ".%06ldZ level=%s shard=%d",
                         now.tv_nsec / 1000, log_level_names[level], log_shard_id);
    } else {
        added = snprintf(line + used, capacity - used, ".%06ldZ level=%s shard=-",
                         now.tv_nsec / 1000, log_level_names[level]);
    }
    return used + (added > 0 ? (size_t)added : 0);
}

void
sb_log(enum sb_log_level level, const char *message, const char *fields_format, ...)
{
    if (level < log_level_min) {
        return;
    }
    char line[SB_LOG_LINE_BYTES];
    size_t used = log_format_prefix(line, sizeof(line) - 2, level);
    int added = snprintf(line + used, sizeof(line) - 2 - used, " msg=\"%s\"", message);
    used = sb_min_u64(used + (added > 0 ? (size_t)added : 0), sizeof(line) - 2);
    if (fields_format[0] != '\0' && used < sizeof(line) - 3) {
        line[used++] = ' ';
        va_list args;
        va_start(args, fields_format);
        added = vsnprintf(line + used, sizeof(line) - 2 - used, fields_format, args);
        va_end(args);
        used = sb_min_u64(used + (added > 0 ? (size_t)added : 0), sizeof(line) - 2);
    }
    line[used++] = '\n';
    ssize_t written = write(STDERR_FILENO, line, used);
    (void)written; /* Nothing useful to do if stderr is gone. */
}
