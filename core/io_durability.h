/*
 * core/io_durability.h - a test-only record of what the production io backend
 * made durable, for the power-loss harness (scripts/power-loss-test,
 * docs/reliability.md).
 *
 * When the environment variable SB_TEST_DURABILITY_LOG names a file, the
 * io_uring backend appends one line per file open, queued write, queued
 * fsync/fdatasync and completion of either, and sb_io_durability_rename
 * one line per rename. Lines are single write(2)s to an O_APPEND descriptor,
 * so they survive kill -9 and lines of several shards never interleave. A
 * line is written before the event it describes can have an effect (queued
 * writes before the kernel sees them, completions before their callbacks), so
 * nothing a client was told is missing from the log. Format (fields separated
 * by one space; OP is the op's address, INODE the file's inode number):
 *
 *   O FD INODE SIZE CREATED PATH    sb_io_open returned FD (CREATED 1: O_CREAT made
 *                                   the file); SIZE after the open (O_TRUNC applied)
 *   W OP INODE OFFSET LENGTH        a WRITE/WRITEV was queued; [OFFSET, OFFSET +
 *                                   LENGTH) is the span of bytes it changes (read
 *                                   and compared first; LENGTH 0: it changes none)
 *   D OP INODE OFFSET LENGTH        a WRITE_DSYNC was queued: as W, and its span is
 *                                   durable once its C line says it succeeded
 *   F OP INODE SIZE                 an FSYNC/FDATASYNC was queued (INODE may be a
 *                                   directory); SIZE is the file's size then
 *   S OP INODE SIZE                 a SYNCFS was queued: one line per regular file or
 *                                   directory the process holds open (same OP), SIZE
 *                                   as for F; its C line completes all of them
 *   C OP RESULT                     the last W, D, F or S of OP completed with RESULT
 *   R INODE BACKUP FROM TO          FROM was renamed over TO; TO's previous file was
 *                                   hard-linked to BACKUP first (- if TO did not exist)
 *
 * Unset, nothing is read or written: the backend tests one bool per op.
 * Everything here runs on the calling (shard) thread; the log descriptor is set
 * once, before any shard uses it (pthread_once).
 */
#ifndef SB_CORE_IO_DURABILITY_H
#define SB_CORE_IO_DURABILITY_H

#include <stdbool.h>

#include "core/io.h"

/* Reads SB_TEST_DURABILITY_LOG once per process and opens the log. Returns true if logging is
 * on. The io_uring backend calls it when an io is created. */
bool sb_io_durability_init(void);
/* Records an open (path borrowed for the call); `existed`: the path existed before it. */
void sb_io_durability_opened(int fd, const char *path, bool existed);
/* Records a queued WRITE, WRITE_DSYNC, WRITEV, FSYNC, FDATASYNC or SYNCFS op (borrowed for the
 * call); other kinds are ignored. A write's changed span is found by reading the file before
 * it is submitted. */
void sb_io_durability_queued(const struct sb_io_op *op);
/* Records the completion of an op that sb_io_durability_queued recorded. */
void sb_io_durability_completed(const struct sb_io_op *op, int32_t result);
/* rename(2), recorded (with a hard-linked backup of what `to` named before) when the log is
 * on. Storage and the broker use it for every rename. Returns 0 or -errno (errno is left as
 * rename(2) set it). */
int sb_io_durability_rename(const char *from, const char *to);

#endif /* SB_CORE_IO_DURABILITY_H */
