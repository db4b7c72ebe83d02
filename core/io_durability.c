/*
 * core/io_durability.c - the test-only durability log (see io_durability.h).
 *
 * Owns one process-wide descriptor, opened once from SB_TEST_DURABILITY_LOG,
 * and the directory "<log>.d" that keeps the files renames replace (so the
 * harness can undo a rename whose directory was never fsynced). Start reading
 * at sb_io_durability_queued: a write's changed span is what the harness may
 * garble after a simulated power cut, so bytes a write rewrites unchanged (a
 * segment's last partial block, docs/storage.md "Flush") are never counted.
 *
 * Nothing here uses the heap: lines are formatted on the stack, old file
 * contents are compared through a per-thread buffer mapped on first use (only
 * when the log is on; it lives until the process exits).
 */
#include "core/io_durability.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/base.h"

/* Bytes of old file content compared per read. */
#define DURABILITY_COMPARE_BYTES (64u << 10)
/* Longest log line (paths included). */
#define DURABILITY_LINE_BYTES 1024u

static pthread_once_t durability_once = PTHREAD_ONCE_INIT;
static int durability_fd = -1;             /* The log, or -1 when off (set once). */
static char durability_backups[512];       /* "<log>.d": files replaced by renames. */
static _Thread_local uint8_t *durability_old; /* Mapped on first use (never when off). */
static _Thread_local uint32_t durability_backup_count; /* Names this thread's backups. */

/* A changed span being grown while a write's bytes are compared. */
struct durability_span {
    uint64_t first; /* First changed byte (UINT64_MAX: none yet). */
    uint64_t end;   /* One past the last changed byte. */
};

static void
durability_open_log(void)
{
    const char *path = getenv("SB_TEST_DURABILITY_LOG");
    if (path == NULL || path[0] == '\0') {
        return;
    }
    int written = snprintf(durability_backups, sizeof(durability_backups), "%s.d", path);
    if (written < 0 || (size_t)written >= sizeof(durability_backups)) {
        return;
    }
    if (mkdir(durability_backups, 0755) != 0 && errno != EEXIST) {
        return;
    }
    durability_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
}

bool
sb_io_durability_init(void)
{
    pthread_once(&durability_once, durability_open_log);
    return durability_fd >= 0;
}

/* One line, one write(2): O_APPEND keeps lines of several threads whole. */
__attribute__((format(printf, 1, 2))) static void
durability_line(const char *format, ...)
{
    char line[DURABILITY_LINE_BYTES];
    va_list arguments;
    va_start(arguments, format);
    int length = vsnprintf(line, sizeof(line) - 1, format, arguments);
    va_end(arguments);
    if (length < 0) {
        return;
    }
    size_t bytes = sb_min_u64((uint64_t)length, sizeof(line) - 2);
    line[bytes++] = '\n';
    ssize_t done = write(durability_fd, line, bytes);
    (void)done; /* A test aid: a lost line shows up as a harness failure, not a crash. */
}

void
sb_io_durability_opened(int fd, const char *path, bool existed)
{
    struct stat status;
    if (durability_fd < 0 || fd < 0 || fstat(fd, &status) != 0) {
        return;
    }
    durability_line("O %d %llu %lld %d %s", fd, (unsigned long long)status.st_ino,
                    (long long)status.st_size, existed ? 0 : 1, path);
}

/* Compares `length` new bytes with the file's bytes at `offset` (past its end: zeros). If the
 * old bytes cannot be read (no reader, no buffer), every byte counts as changed. */
static void
durability_compare(int reader, const uint8_t *bytes, uint64_t length, uint64_t offset,
                   struct durability_span *span)
{
    if ((reader < 0 || durability_old == NULL) && length > 0) {
        span->first = sb_min_u64(span->first, offset);
        span->end = sb_max_u64(span->end, offset + length);
        return;
    }
    for (uint64_t done = 0; done < length;) {
        uint64_t chunk = sb_min_u64(length - done, DURABILITY_COMPARE_BYTES);
        ssize_t got = pread(reader, durability_old, chunk, (off_t)(offset + done));
        uint64_t have = got > 0 ? (uint64_t)got : 0;
        memset(durability_old + have, 0, chunk - have);
        for (uint64_t index = 0; index < chunk; index++) {
            if (durability_old[index] != bytes[done + index]) {
                uint64_t position = offset + done + index;
                span->first = sb_min_u64(span->first, position);
                span->end = sb_max_u64(span->end, position + 1);
            }
        }
        done += chunk;
    }
}

/* The span of bytes a queued write changes, read through a second, buffered descriptor
 * (the op's own may be O_DIRECT). */
static void
durability_write_span(const struct sb_io_op *op, struct durability_span *span)
{
    if (durability_old == NULL) {
        void *memory = mmap(NULL, DURABILITY_COMPARE_BYTES, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        durability_old = memory == MAP_FAILED ? NULL : memory;
    }
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", op->fd);
    int reader = open(path, O_RDONLY | O_CLOEXEC);
    span->first = UINT64_MAX;
    span->end = 0;
    if (op->kind == SB_IO_OP_WRITE || op->kind == SB_IO_OP_WRITE_DSYNC) {
        durability_compare(reader, op->u.source, op->length, op->offset, span);
    } else {
        uint64_t offset = op->offset;
        for (uint32_t index = 0; index < op->length; index++) {
            const struct iovec *vector = &op->u.vectors[index];
            durability_compare(reader, vector->iov_base, vector->iov_len, offset, span);
            offset += vector->iov_len;
        }
    }
    if (reader >= 0) {
        close(reader);
    }
}

/* A SYNCFS covers every file of the filesystem: one S line per regular file or directory this
 * process holds open (what the broker relies on a syncfs for is open: its segments). A file
 * written and closed before, not listed, stays unsynced to the harness: the safe side. */
static void
durability_syncfs_queued(const struct sb_io_op *op)
{
    DIR *directory = opendir("/proc/self/fd");
    if (directory == NULL) {
        return;
    }
    int own = dirfd(directory);
    for (struct dirent *entry = readdir(directory); entry != NULL;
         entry = readdir(directory)) {
        int fd = atoi(entry->d_name);
        struct stat status;
        if (entry->d_name[0] == '.' || fd == own || fd == durability_fd ||
            fstat(fd, &status) != 0 || !(S_ISREG(status.st_mode) || S_ISDIR(status.st_mode))) {
            continue;
        }
        durability_line("S %p %llu %lld", (const void *)op, (unsigned long long)status.st_ino,
                        (long long)status.st_size);
    }
    closedir(directory);
}

void
sb_io_durability_queued(const struct sb_io_op *op)
{
    if (durability_fd >= 0 && op->kind == SB_IO_OP_SYNCFS) {
        durability_syncfs_queued(op);
        return;
    }
    struct stat status;
    bool is_write = op->kind == SB_IO_OP_WRITE || op->kind == SB_IO_OP_WRITEV ||
                    op->kind == SB_IO_OP_WRITE_DSYNC;
    bool is_sync = op->kind == SB_IO_OP_FSYNC || op->kind == SB_IO_OP_FDATASYNC;
    if (durability_fd < 0 || (!is_write && !is_sync) || fstat(op->fd, &status) != 0) {
        return;
    }
    if (is_sync) {
        durability_line("F %p %llu %lld", (const void *)op, (unsigned long long)status.st_ino,
                        (long long)status.st_size);
        return;
    }
    struct durability_span span;
    durability_write_span(op, &span);
    uint64_t first = span.end > 0 ? span.first : op->offset;
    uint64_t length = span.end > 0 ? span.end - span.first : 0;
    durability_line("%c %p %llu %llu %llu", op->kind == SB_IO_OP_WRITE_DSYNC ? 'D' : 'W',
                    (const void *)op, (unsigned long long)status.st_ino,
                    (unsigned long long)first, (unsigned long long)length);
}

void
sb_io_durability_completed(const struct sb_io_op *op, int32_t result)
{
    bool logged = op->kind == SB_IO_OP_WRITE || op->kind == SB_IO_OP_WRITEV ||
                  op->kind == SB_IO_OP_WRITE_DSYNC || op->kind == SB_IO_OP_FSYNC ||
                  op->kind == SB_IO_OP_FDATASYNC || op->kind == SB_IO_OP_SYNCFS;
    if (durability_fd < 0 || !logged) {
        return;
    }
    durability_line("C %p %d", (const void *)op, (int)result);
}

int
sb_io_durability_rename(const char *from, const char *to)
{
    sb_io_durability_init();
    struct stat status;
    if (durability_fd >= 0 && stat(from, &status) == 0) {
        char backup[600] = "-";
        if (access(to, F_OK) == 0) {
            snprintf(backup, sizeof(backup), "%s/%d-%u", durability_backups, (int)gettid(),
                     durability_backup_count++);
            if (link(to, backup) != 0) {
                snprintf(backup, sizeof(backup), "!"); /* Cannot be undone: the harness says so. */
            }
        }
        /* Logged before it happens: the harness checks which name holds the inode. */
        durability_line("R %llu %s %s %s", (unsigned long long)status.st_ino, backup, from, to);
    }
    return rename(from, to) == 0 ? 0 : -errno;
}
