/*
 * core/log.h - structured log lines: one line per event on stderr,
 *   2026-11-26T12:00:00.123456Z level=info shard=0 msg="listening" port=9092
 * The prefix (UTC time, level, shard) is added here; callers give the message
 * and key=value pairs. A line is written with one write(2), so lines from
 * different shards never interleave.
 */
#ifndef SB_CORE_LOG_H
#define SB_CORE_LOG_H

#include "core/base.h"

enum sb_log_level {
    SB_LOG_DEBUG = 0,
    SB_LOG_INFO = 1,
    SB_LOG_WARN = 2,
    SB_LOG_ERROR = 3,
};

/* Lines below this level are dropped. Default: SB_LOG_INFO. Not thread-safe: set at start-up. */
void sb_log_set_level(enum sb_log_level level);
/* Parses "debug", "info", "warn" or "error"; returns -EINVAL for anything else. */
int sb_log_level_parse(const char *name, enum sb_log_level *level_out);

/* Names the calling thread's shard in every line it logs (-1: not a shard thread). */
void sb_log_set_shard(int shard_id);
int sb_log_shard(void);

/* Writes one line: prefix, then msg="<message>" and the formatted fields (may be ""). */
SB_PRINTF(3, 4) void sb_log(enum sb_log_level level, const char *message,
                            const char *fields_format, ...);

#define sb_log_debug(message, ...) sb_log(SB_LOG_DEBUG, message, __VA_ARGS__)
#define sb_log_info(message, ...) sb_log(SB_LOG_INFO, message, __VA_ARGS__)
#define sb_log_warn(message, ...) sb_log(SB_LOG_WARN, message, __VA_ARGS__)
#define sb_log_error(message, ...) sb_log(SB_LOG_ERROR, message, __VA_ARGS__)

#endif /* SB_CORE_LOG_H */
