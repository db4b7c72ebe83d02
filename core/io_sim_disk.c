/*
 * core/io_sim_disk.c - the disk half of the simulator (world and event heap in
 * io_sim.c, sockets in io_sim_net.c, shared types in io_sim_internal.h): real
 * files whose unsynced writes are remembered, seeded disk faults, and power
 * loss.
 *
 * Start reading at sb_sim_disk_execute (a due disk op), then disk_write and
 * sb_sim_power_loss.
 *
 * sb_sim_disk_open does a real open(2) without O_DIRECT (so pre-images can be
 * read back; O_DIRECT alignment is still asserted per op) and tracks the file
 * by inode, with a private O_RDWR "shadow" descriptor that outlives the
 * caller's, so a closed file's unsynced data is still lost at power loss.
 * READ, WRITE, WRITEV, FSYNC, FDATASYNC and FALLOCATE run as real syscalls on
 * the caller's descriptor when their event fires, after a seeded disk latency;
 * WRITE_DSYNC is a WRITE and an FDATASYNC of just its bytes (disk_write_dsync).
 * SYNCFS is one fsync of every tracked file at once (the world is one
 * filesystem): all of it becomes durable, or (a fault) none of it. OPENAT
 * is sb_sim_disk_open when its event fires (after a one-shot OPENAT fault
 * check), so a file is created at a seeded moment, not when the op starts.
 *
 * Before a write lands, the bytes it will overwrite are read (bytes past EOF
 * are remembered as absent) and the write is remembered with its data, until
 * an fsync of that inode succeeds (a failed fsync makes nothing durable).
 * sb_sim_power_loss undoes the remembered writes newest first (bytes that were
 * past EOF become zeros), re-applies the kept 512-byte-aligned prefixes oldest
 * first (TEAR and GARBLE modes), in GARBLE mode followed by one sector of
 * seeded garbage where the write was cut (a drive that does not write a
 * sector atomically), then truncates to max(synced size, end of kept
 * prefixes and garbage). Each byte so ends as the newest kept write covering
 * it, else its synced value: a state a real power cut can leave.
 *
 * Not simulated: durability of names (create, rename, unlink) and truncations
 * done outside the simulator; the size seen at the first open (or after
 * O_TRUNC) counts as durable. O_APPEND is refused with -EINVAL (pwrite would
 * ignore the offset the pre-image was read at).
 *
 * Fault order for one op: armed one-shot faults are counted first (the nth
 * matching op fails with its error, nothing written), then the rates:
 * write -EIO, write -ENOSPC, short write; read -EIO; fsync -EIO (a WRITE_DSYNC
 * draws the write's, then, if it landed, the fsync's). A rate of 0
 * draws nothing from the generator. A one-shot write-back fault lets its write
 * land; the next fsync of the inode then fails and undoes that write
 * (disk_writeback_failed), before any other fault is drawn for it.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/assert.h"
#include "core/io_sim_internal.h"
#include "core/limits.h"
#include "core/sim.h"

/* Disk sector: O_DIRECT alignment, short-write and torn-write granularity. */
#define SIM_SECTOR_BYTES 512u
/* Largest write the simulator accepts (Linux caps one syscall at 0x7ffff000 bytes). */
#define SIM_WRITE_BYTES_MAX 0x7ffff000u

static_assert(SB_SIM_FILES_MAX < SB_SIM_SOCKET_FD_BASE, "file slots never look like sockets");
static_assert(SB_SIM_FAULTS_ONCE_MAX >= 16, "core/sim.h promises 16 armed one-shot faults");

static void file_forget_writes(struct sb_sim *sim, struct sim_file *file);
static void file_release_if_idle(struct sim_file *file);

/* One-shot faults match by family: WRITEV counts as WRITE, FDATASYNC as FSYNC; WRITE_DSYNC
 * counts as a WRITE, and once it landed as an FSYNC too (disk_write_dsync). */
static enum sb_io_op_kind
fault_kind_fold(enum sb_io_op_kind kind)
{
    if (kind == SB_IO_OP_WRITEV || kind == SB_IO_OP_WRITE_DSYNC) {
        return SB_IO_OP_WRITE;
    }
    if (kind == SB_IO_OP_FDATASYNC) {
        return SB_IO_OP_FSYNC;
    }
    return kind;
}

int
sb_sim_fault_once(struct sb_sim *sim, const struct sb_sim_fault_once *fault)
{
    enum sb_io_op_kind kind = fault_kind_fold(fault->kind);
    SB_ASSERT(kind == SB_IO_OP_WRITE || kind == SB_IO_OP_READ || kind == SB_IO_OP_FSYNC ||
              kind == SB_IO_OP_SYNCFS || kind == SB_IO_OP_OPENAT);
    SB_ASSERT(fault->nth >= 1);
    SB_ASSERT(fault->error < 0);
    SB_ASSERT(!fault->writeback || kind == SB_IO_OP_WRITE);
    for (uint32_t index = 0; index < SB_SIM_FAULTS_ONCE_MAX; index++) {
        struct sim_fault_once *slot = &sim->once[index];
        if (!slot->armed) {
            slot->armed = true;
            slot->kind = (uint8_t)kind;
            slot->remaining = fault->nth;
            slot->error = fault->error;
            slot->writeback = fault->writeback;
            return 0;
        }
    }
    return -ENOSPC;
}

uint32_t
sb_sim_faults_once_armed(const struct sb_sim *sim)
{
    uint32_t armed = 0;
    for (uint32_t index = 0; index < SB_SIM_FAULTS_ONCE_MAX; index++) {
        armed += sim->once[index].armed;
    }
    return armed;
}

static int power_loss_file(struct sb_sim *sim, struct sim_file *file,
                           enum sb_sim_power_loss_mode mode);

int
sb_sim_power_loss(struct sb_sim *sim, enum sb_sim_power_loss_mode mode)
{
    SB_ASSERT(mode == SB_SIM_LOSE_UNSYNCED || mode == SB_SIM_TEAR_UNSYNCED ||
              mode == SB_SIM_GARBLE_UNSYNCED);
    int result = 0;
    for (uint32_t index = 0; index < SB_SIM_FILES_MAX; index++) {
        struct sim_file *file = &sim->files[index];
        if (!file->used || !file->regular || file->shadow_fd < 0) {
            continue;
        }
        int file_result = power_loss_file(sim, file, mode);
        if (result == 0) {
            result = file_result;
        }
        file_forget_writes(sim, file);
        file_release_if_idle(file);
    }
    /* Nothing in flight survives: ops are dropped, never completed. */
    for (uint32_t index = 0; index < sim->io_count; index++) {
        sim->ios[index]->dead = true;
        sim->ios[index]->event_count = 0;
    }
    sb_sim_net_wipe(sim->net);
    return result;
}

static int
power_loss_write(int fd, const uint8_t *bytes, uint32_t length, uint64_t offset)
{
    ssize_t written = pwrite(fd, bytes, length, (off_t)offset);
    if (written < 0) {
        return -errno;
    }
    return (uint32_t)written == length ? 0 : -EIO;
}

/* GARBLE mode: the sector the write was cut in gets seeded bytes, unlike its old or new ones. */
static int
power_loss_garble(struct sb_sim *sim, int fd, const struct sim_write *record)
{
    uint8_t garbage[SIM_SECTOR_BYTES];
    for (uint32_t index = 0; index < record->garbled_bytes; index++) {
        uint8_t byte = (uint8_t)sb_sim_random(sim);
        uint8_t old = record->before[record->kept_bytes + index];
        uint8_t new = record->after[record->kept_bytes + index];
        /* Bounded: at most two values are excluded. */
        while (byte == old || byte == new) {
            byte++;
        }
        garbage[index] = byte;
    }
    return power_loss_write(fd, garbage, record->garbled_bytes,
                            record->offset + record->kept_bytes);
}

/* Puts one file back the way a power cut could leave it (see the file comment). */
static int
power_loss_file(struct sb_sim *sim, struct sim_file *file, enum sb_sim_power_loss_mode mode)
{
    struct stat status;
    if (fstat(file->shadow_fd, &status) != 0) {
        return -errno;
    }
    int result = 0;
    uint32_t visited = 0;
    for (struct sim_write *record = file->newest; record != NULL; record = record->older) {
        SB_ASSERT(visited++ < SB_SIM_UNSYNCED_WRITES_MAX);
        record->kept_bytes = 0;
        record->garbled_bytes = 0;
        if (mode != SB_SIM_LOSE_UNSYNCED) {
            uint64_t sectors = sb_sim_uniform(sim, 0, record->length / SIM_SECTOR_BYTES);
            record->kept_bytes = (uint32_t)sectors * SIM_SECTOR_BYTES;
        }
        if (mode == SB_SIM_GARBLE_UNSYNCED) {
            record->garbled_bytes = (uint32_t)sb_min_u64(SIM_SECTOR_BYTES,
                                                         record->length - record->kept_bytes);
        }
        /* Bytes that were past EOF are zero in `before`: a hole reads as zeros. */
        int undo = power_loss_write(file->shadow_fd, record->before, record->length,
                                    record->offset);
        result = result != 0 ? result : undo;
    }
    uint64_t size = file->synced_size;
    visited = 0;
    for (struct sim_write *record = file->oldest; record != NULL; record = record->newer) {
        SB_ASSERT(visited++ < SB_SIM_UNSYNCED_WRITES_MAX);
        SB_ASSERT(record->kept_bytes + record->garbled_bytes <= record->length);
        if (record->kept_bytes > 0) {
            int redo = power_loss_write(file->shadow_fd, record->after, record->kept_bytes,
                                        record->offset);
            result = result != 0 ? result : redo;
            size = sb_max_u64(size, record->offset + record->kept_bytes);
        }
        if (record->garbled_bytes > 0) {
            int garble = power_loss_garble(sim, file->shadow_fd, record);
            result = result != 0 ? result : garble;
            size = sb_max_u64(size, record->offset + record->kept_bytes +
                                        record->garbled_bytes);
        }
    }
    /* A truncation done outside the simulator may have made the file smaller still. */
    size = sb_min_u64(size, (uint64_t)status.st_size);
    if (ftruncate(file->shadow_fd, (off_t)size) != 0) {
        return -errno;
    }
    file->synced_size = size;
    return result;
}

void
sb_sim_disk_destroy(struct sb_sim *sim)
{
    for (uint32_t index = 0; index < SB_SIM_FILES_MAX; index++) {
        struct sim_file *file = &sim->files[index];
        if (file->used) {
            file_forget_writes(sim, file);
            if (file->shadow_fd >= 0) {
                close(file->shadow_fd);
            }
            memset(file, 0, sizeof(*file));
            file->shadow_fd = -1;
        }
    }
    SB_ASSERT(sim->unsynced_writes == 0);
    SB_ASSERT(sim->unsynced_bytes == 0);
}

struct sim_fd *
sb_sim_disk_fd_find(struct sb_sim *sim, int fd)
{
    if (fd < 0 || fd >= SB_SIM_SOCKET_FD_BASE) {
        return NULL;
    }
    for (uint32_t index = 0; index < SB_SIM_FILES_MAX; index++) {
        if (sim->fds[index].used && sim->fds[index].fd == fd) {
            return &sim->fds[index];
        }
    }
    return NULL;
}

static int open_track(struct sb_sim *sim, const char *path, int fd, int flags);

int
sb_sim_disk_open(struct sim_io *io, const char *path, int flags, unsigned mode)
{
    struct sb_sim *sim = io->sim;
    SB_ASSERT(path != NULL);
    if ((flags & O_APPEND) != 0) {
        return -EINVAL;
    }
    int fd = open(path, (flags & ~O_DIRECT) | O_CLOEXEC, mode);
    if (fd < 0) {
        return -errno;
    }
    SB_ASSERT(fd < SB_SIM_SOCKET_FD_BASE);
    int result = open_track(sim, path, fd, flags);
    if (result < 0) {
        close(fd);
        return result;
    }
    return fd;
}

static int open_file(struct sb_sim *sim, const struct stat *status, uint32_t *file_index_out);
static int open_shadow(const char *path, const struct stat *status, int *shadow_fd_out);

static int
open_track(struct sb_sim *sim, const char *path, int fd, int flags)
{
    uint32_t fd_index = 0;
    while (fd_index < SB_SIM_FILES_MAX && sim->fds[fd_index].used) {
        fd_index++;
    }
    struct stat status;
    if (fd_index == SB_SIM_FILES_MAX) {
        return -EMFILE;
    }
    if (fstat(fd, &status) != 0) {
        return -errno;
    }
    uint32_t file_index = 0;
    int result = open_file(sim, &status, &file_index);
    if (result < 0) {
        return result;
    }
    struct sim_file *file = &sim->files[file_index];
    if ((flags & O_ACCMODE) != O_RDONLY && file->regular && file->shadow_fd < 0) {
        result = open_shadow(path, &status, &file->shadow_fd);
        if (result < 0) {
            file_release_if_idle(file);
            return result;
        }
    }
    if ((flags & O_TRUNC) != 0) {
        /* The truncation counts as durable: nothing before it can come back. */
        file_forget_writes(sim, file);
        file->synced_size = (uint64_t)status.st_size;
    }
    file->fd_count++;
    struct sim_fd *entry = &sim->fds[fd_index];
    entry->used = true;
    entry->direct = (flags & O_DIRECT) != 0;
    entry->fd = fd;
    entry->file_index = file_index;
    return 0;
}

/* Finds the inode's slot, or takes a free one (its current size counts as synced). */
static int
open_file(struct sb_sim *sim, const struct stat *status, uint32_t *file_index_out)
{
    uint32_t free_index = SB_SIM_FILES_MAX;
    for (uint32_t index = 0; index < SB_SIM_FILES_MAX; index++) {
        struct sim_file *file = &sim->files[index];
        if (!file->used) {
            free_index = sb_min_u64(free_index, index);
        } else if (file->device == status->st_dev && file->inode == status->st_ino) {
            *file_index_out = index;
            return 0;
        }
    }
    if (free_index == SB_SIM_FILES_MAX) {
        return -EMFILE;
    }
    struct sim_file *file = &sim->files[free_index];
    memset(file, 0, sizeof(*file));
    file->used = true;
    file->regular = S_ISREG(status->st_mode);
    file->device = status->st_dev;
    file->inode = status->st_ino;
    file->shadow_fd = -1;
    file->synced_size = (uint64_t)status->st_size;
    *file_index_out = free_index;
    return 0;
}

/* Our own descriptor on the same inode, independent of the caller's flags and lifetime. */
static int
open_shadow(const char *path, const struct stat *status, int *shadow_fd_out)
{
    int shadow_fd = open(path, O_RDWR | O_CLOEXEC);
    if (shadow_fd < 0) {
        return -errno;
    }
    struct stat shadow_status;
    if (fstat(shadow_fd, &shadow_status) != 0 || shadow_status.st_dev != status->st_dev ||
        shadow_status.st_ino != status->st_ino) {
        close(shadow_fd);
        return -ESTALE;
    }
    *shadow_fd_out = shadow_fd;
    return 0;
}

/* Closing a file keeps its remembered writes (power loss still undoes them through the
 * shadow descriptor). Closing a file with disk ops in flight is a bug (asserted): the
 * descriptor number could be reused before they run. */
int
sb_sim_disk_close(struct sim_io *io, int fd)
{
    struct sb_sim *sim = io->sim;
    struct sim_fd *entry = sb_sim_disk_fd_find(sim, fd);
    if (entry == NULL) {
        return -EBADF;
    }
    for (uint32_t io_index = 0; io_index < sim->io_count; io_index++) {
        const struct sim_io *other = sim->ios[io_index];
        for (uint32_t index = 0; index < other->event_count; index++) {
            SB_ASSERT(other->events[index].op->fd != fd && "closing a file with ops in flight");
        }
    }
    struct sim_file *file = &sim->files[entry->file_index];
    SB_ASSERT(file->fd_count > 0);
    file->fd_count--;
    memset(entry, 0, sizeof(*entry));
    file_release_if_idle(file);
    return close(fd) == 0 ? 0 : -errno;
}

static void queue_check_direct(struct sb_sim *sim, const struct sb_io_op *op);

void
sb_sim_disk_queue(struct sim_io *io, struct sb_io_op *op)
{
    struct sb_sim *sim = io->sim;
    SB_ASSERT(op->state == SB_IO_OP_IN_FLIGHT);
    queue_check_direct(sim, op);
    uint64_t latency_ns = sb_sim_uniform(sim, sim->faults.disk_latency_min_ns,
                                         sim->faults.disk_latency_max_ns);
    if (op->kind == SB_IO_OP_WRITE_DSYNC) {
        /* A write, then the device's flush: a second disk op's latency. */
        latency_ns += sb_sim_uniform(sim, sim->faults.disk_latency_min_ns,
                                     sim->faults.disk_latency_max_ns);
    }
    if (op->kind == SB_IO_OP_FSYNC || op->kind == SB_IO_OP_FDATASYNC ||
        op->kind == SB_IO_OP_WRITE_DSYNC || op->kind == SB_IO_OP_SYNCFS) {
        latency_ns += sim->faults.sync_latency_extra_ns;
    }
    sb_sim_event_push(io, op, sim->now_ns + latency_ns, SIM_EVENT_EXECUTE, 0);
}

/* O_DIRECT users must keep offsets, lengths and buffers 512-byte aligned (asserted at submit,
 * as the kernel would refuse them with -EINVAL). */
static void
queue_check_direct(struct sb_sim *sim, const struct sb_io_op *op)
{
    struct sim_fd *entry = sb_sim_disk_fd_find(sim, op->fd);
    if (entry == NULL || !entry->direct) {
        return;
    }
    SB_ASSERT(op->offset % SIM_SECTOR_BYTES == 0 && "O_DIRECT offset not 512-aligned");
    if (op->kind == SB_IO_OP_READ || op->kind == SB_IO_OP_WRITE ||
        op->kind == SB_IO_OP_WRITE_DSYNC) {
        SB_ASSERT(op->length % SIM_SECTOR_BYTES == 0 && "O_DIRECT length not 512-aligned");
        SB_ASSERT((uintptr_t)op->u.source % SIM_SECTOR_BYTES == 0 && "O_DIRECT buffer");
    } else if (op->kind == SB_IO_OP_WRITEV) {
        SB_ASSERT(op->length <= SB_SIM_VECTORS_MAX);
        for (uint32_t index = 0; index < op->length; index++) {
            const struct iovec *vector = &op->u.vectors[index];
            SB_ASSERT(vector->iov_len % SIM_SECTOR_BYTES == 0 && "O_DIRECT length");
            SB_ASSERT((uintptr_t)vector->iov_base % SIM_SECTOR_BYTES == 0 && "O_DIRECT buffer");
        }
    }
}

static int32_t disk_read(struct sb_sim *sim, struct sb_io_op *op);
static int32_t disk_write(struct sb_sim *sim, struct sim_file *file, struct sb_io_op *op);
static int32_t disk_fsync(struct sb_sim *sim, struct sim_file *file, struct sb_io_op *op);
static int32_t disk_write_dsync(struct sb_sim *sim, struct sim_file *file, struct sb_io_op *op);
static int32_t disk_syncfs(struct sb_sim *sim, struct sb_io_op *op);
static int32_t disk_fault_once(struct sb_sim *sim, enum sb_io_op_kind kind,
                               int32_t *writeback_error);

void
sb_sim_disk_execute(struct sim_io *io, struct sb_io_op *op)
{
    struct sb_sim *sim = io->sim;
    if (op->kind == SB_IO_OP_OPENAT) {
        /* A one-shot fault fails it before anything is created. */
        int32_t opened = disk_fault_once(sim, op->kind, NULL);
        if (opened == 0) {
            opened = sb_sim_disk_open(io, op->u.source, (int)op->length, (unsigned)op->offset);
        }
        sb_sim_complete(io, op, opened, false, false, 0);
        return;
    }
    struct sim_fd *entry = sb_sim_disk_fd_find(sim, op->fd);
    int32_t result = -EBADF;
    if (entry != NULL) {
        struct sim_file *file = &sim->files[entry->file_index];
        SB_ASSERT(file->used);
        switch (op->kind) {
        case SB_IO_OP_READ:
            result = disk_read(sim, op);
            break;
        case SB_IO_OP_WRITE:
        case SB_IO_OP_WRITEV:
            result = disk_write(sim, file, op);
            break;
        case SB_IO_OP_WRITE_DSYNC:
            result = disk_write_dsync(sim, file, op);
            break;
        case SB_IO_OP_FSYNC:
        case SB_IO_OP_FDATASYNC:
            result = disk_fsync(sim, file, op);
            break;
        case SB_IO_OP_SYNCFS:
            result = disk_syncfs(sim, op);
            break;
        case SB_IO_OP_FALLOCATE:
            result = fallocate(op->fd, 0, (off_t)op->offset, (off_t)op->length_wide) == 0
                         ? 0 : -errno;
            break;
        default:
            SB_ASSERT(false && "not a disk op");
        }
    }
    sb_sim_complete(io, op, result, false, false, 0);
}

/* Counts this op against every armed one-shot fault of its family; returns the error of the
 * first one that reaches its nth op (all that reach it are used up), or 0. A write-back
 * fault's error goes to *writeback_error instead (NULL: the op has no write-back). */
static int32_t
disk_fault_once(struct sb_sim *sim, enum sb_io_op_kind kind, int32_t *writeback_error)
{
    enum sb_io_op_kind family = fault_kind_fold(kind);
    int32_t error = 0;
    for (uint32_t index = 0; index < SB_SIM_FAULTS_ONCE_MAX; index++) {
        struct sim_fault_once *fault = &sim->once[index];
        if (!fault->armed || fault->kind != family) {
            continue;
        }
        SB_ASSERT(fault->remaining > 0);
        fault->remaining--;
        if (fault->remaining == 0) {
            fault->armed = false;
            int32_t *slot = fault->writeback ? writeback_error : &error;
            SB_ASSERT(slot != NULL);
            *slot = *slot != 0 ? *slot : fault->error;
        }
    }
    return error;
}

static int32_t
disk_read(struct sb_sim *sim, struct sb_io_op *op)
{
    int32_t error = disk_fault_once(sim, SB_IO_OP_READ, NULL);
    if (error == 0 && sb_sim_chance(sim, sim->faults.read_error_ppm)) {
        error = -EIO;
    }
    if (error != 0) {
        return error;
    }
    ssize_t count = pread(op->fd, op->u.buffer, op->length, (off_t)op->offset);
    return count >= 0 ? (int32_t)count : -errno;
}

static int disk_write_record(struct sb_sim *sim, const struct sim_file *file,
                             const struct sb_io_op *op, uint32_t length,
                             struct sim_write **record_out);
static void disk_write_link(struct sb_sim *sim, struct sim_file *file, struct sim_write *record);

static uint64_t
disk_write_total(const struct sb_io_op *op)
{
    if (op->kind != SB_IO_OP_WRITEV) {
        return op->length;
    }
    SB_ASSERT(op->length <= SB_SIM_VECTORS_MAX);
    uint64_t total = 0;
    for (uint32_t index = 0; index < op->length; index++) {
        total += op->u.vectors[index].iov_len;
    }
    return total;
}

/* Fails whole (one-shot, -EIO, -ENOSPC), shortens (a 512-byte multiple, written), or writes;
 * a write that lands is remembered until an fsync covers it (or, with a write-back fault,
 * until the next fsync undoes it). */
static int32_t
disk_write(struct sb_sim *sim, struct sim_file *file, struct sb_io_op *op)
{
    int32_t writeback_error = 0;
    int32_t error = disk_fault_once(sim, op->kind, &writeback_error);
    if (error == 0 && sb_sim_chance(sim, sim->faults.write_error_ppm)) {
        error = -EIO;
    }
    if (error == 0 && sb_sim_chance(sim, sim->faults.write_nospace_ppm)) {
        error = -ENOSPC;
    }
    if (error != 0) {
        return error;
    }
    uint64_t total = disk_write_total(op);
    if (file->shadow_fd < 0 || total > SIM_WRITE_BYTES_MAX) {
        return file->shadow_fd < 0 ? -EBADF : -EINVAL;
    }
    uint32_t length = (uint32_t)total;
    if (length > SIM_SECTOR_BYTES && sb_sim_chance(sim, sim->faults.write_short_ppm)) {
        uint64_t sectors = sb_sim_uniform(sim, 1, (length - 1) / SIM_SECTOR_BYTES);
        length = (uint32_t)sectors * SIM_SECTOR_BYTES;
    }
    if (length == 0) {
        return 0;
    }
    struct sim_write *record = NULL;
    int result = disk_write_record(sim, file, op, length, &record);
    if (result < 0) {
        return result;
    }
    ssize_t written = pwrite(op->fd, record->after, length, (off_t)op->offset);
    if (written <= 0) {
        sb_free(record);
        return written == 0 ? 0 : -errno;
    }
    SB_ASSERT((uint64_t)written <= length);
    record->length = (uint32_t)written;
    record->before_bytes = (uint32_t)sb_min_u64(record->before_bytes, (uint64_t)written);
    record->writeback_error = writeback_error;
    disk_write_link(sim, file, record);
    return (int32_t)written;
}

static void
disk_write_gather(const struct sb_io_op *op, uint8_t *destination, uint32_t length)
{
    if (op->kind != SB_IO_OP_WRITEV) {
        memcpy(destination, op->u.source, length);
        return;
    }
    uint32_t copied = 0;
    for (uint32_t index = 0; index < op->length && copied < length; index++) {
        const struct iovec *vector = &op->u.vectors[index];
        uint32_t part = (uint32_t)sb_min_u64(vector->iov_len, length - copied);
        if (part > 0) {
            memcpy(destination + copied, vector->iov_base, part);
            copied += part;
        }
    }
    SB_ASSERT(copied == length);
}

/* Allocates the record of a write about to land: its data and the bytes it will overwrite.
 * -ENOMEM when the world already remembers SB_SIM_UNSYNCED_WRITES_MAX writes or
 * SB_SIM_UNSYNCED_BYTES_MAX bytes (the write then fails whole: nothing is written). */
static int
disk_write_record(struct sb_sim *sim, const struct sim_file *file, const struct sb_io_op *op,
                  uint32_t length, struct sim_write **record_out)
{
    SB_ASSERT(length > 0);
    SB_ASSERT(file->shadow_fd >= 0);
    if (sim->unsynced_writes >= SB_SIM_UNSYNCED_WRITES_MAX ||
        sim->unsynced_bytes + length > SB_SIM_UNSYNCED_BYTES_MAX) {
        return -ENOMEM;
    }
    struct sim_write *record = sb_alloc(sizeof(*record) + 2 * (size_t)length);
    if (record == NULL) {
        return -ENOMEM;
    }
    record->before = (uint8_t *)(record + 1);
    record->after = record->before + length;
    record->offset = op->offset;
    record->length = length;
    record->writeback_error = 0;
    disk_write_gather(op, record->after, length);
    /* A regular file returns everything up to EOF in one pread: a short count means EOF. */
    ssize_t count = pread(file->shadow_fd, record->before, length, (off_t)op->offset);
    if (count < 0) {
        int error = -errno;
        sb_free(record);
        return error;
    }
    record->before_bytes = (uint32_t)count;
    *record_out = record;
    return 0;
}

static void
disk_write_link(struct sb_sim *sim, struct sim_file *file, struct sim_write *record)
{
    record->older = file->newest;
    record->newer = NULL;
    if (file->newest != NULL) {
        file->newest->newer = record;
    } else {
        file->oldest = record;
    }
    file->newest = record;
    sim->unsynced_writes++;
    sim->unsynced_bytes += record->length;
    SB_ASSERT(sim->unsynced_writes <= SB_SIM_UNSYNCED_WRITES_MAX);
}

static void file_forget_write(struct sb_sim *sim, struct sim_file *file,
                              struct sim_write *record);

/* Write-back faults come due: each faulted write's old bytes go back on disk and it is
 * forgotten; returns the first fault's error, or 0 if there was none. */
static int32_t
disk_writeback_undo(struct sb_sim *sim, struct sim_file *file)
{
    int32_t error = 0;
    struct sim_write *record = file->oldest;
    for (uint32_t index = 0; record != NULL; index++) {
        SB_ASSERT(index < SB_SIM_UNSYNCED_WRITES_MAX);
        struct sim_write *newer = record->newer;
        if (record->writeback_error != 0) {
            for (const struct sim_write *later = newer; later != NULL; later = later->newer) {
                SB_ASSERT((later->offset >= record->offset + record->length ||
                           record->offset >= later->offset + later->length) &&
                          "a write-back fault under a later unsynced write is not modelled");
            }
            error = error != 0 ? error : record->writeback_error;
            /* The bytes past the old EOF read back as zeros, as after a power cut. */
            ssize_t restored = pwrite(file->shadow_fd, record->before, record->length,
                                      (off_t)record->offset);
            SB_ASSERT(restored == (ssize_t)record->length);
            file_forget_write(sim, file, record);
        }
        record = newer;
    }
    return error;
}

/* The file's own fsync (or RWF_DSYNC write) after write-back faults: their error, or one a
 * SYNCFS already reported, which the file reports once too. The next SYNCFS reports a new one
 * as well. */
static int32_t
disk_writeback_failed(struct sb_sim *sim, struct sim_file *file)
{
    int32_t error = disk_writeback_undo(sim, file);
    if (error != 0) {
        sim->syncfs_error_unreported = error;
    } else {
        error = file->error_unreported;
    }
    file->error_unreported = 0;
    return error;
}

/* On success every remembered write of the inode becomes durable; on failure none does. */
static int32_t
disk_fsync(struct sb_sim *sim, struct sim_file *file, struct sb_io_op *op)
{
    int32_t error = disk_writeback_failed(sim, file);
    if (error != 0) {
        (void)disk_fault_once(sim, op->kind, NULL); /* The op is counted all the same. */
        return error;
    }
    error = disk_fault_once(sim, op->kind, NULL);
    if (error == 0 && sb_sim_chance(sim, sim->faults.fsync_error_ppm)) {
        error = -EIO;
    }
    if (error != 0) {
        return error;
    }
    int synced = op->kind == SB_IO_OP_FDATASYNC ? fdatasync(op->fd) : fsync(op->fd);
    struct stat status;
    if (synced != 0 || fstat(op->fd, &status) != 0) {
        return -errno;
    }
    file_forget_writes(sim, file);
    file->synced_size = (uint64_t)status.st_size;
    return 0;
}

/* Every tracked file at once. A write-back fault of any file fails it (as the superblock's
 * errseq reports any file's error) and undoes the faulted writes, as the fsync of that file
 * would, and that file's next fsync still reports it; so does an error a file's own fsync
 * reported since the last SYNCFS; then one-shot SYNCFS faults and the fsync error rate. On
 * success every remembered write of every file becomes durable; on failure none does. */
static int32_t
disk_syncfs(struct sb_sim *sim, struct sb_io_op *op)
{
    int32_t error = sim->syncfs_error_unreported;
    sim->syncfs_error_unreported = 0;
    for (uint32_t index = 0; index < SB_SIM_FILES_MAX; index++) {
        struct sim_file *file = &sim->files[index];
        int32_t file_error = file->used ? disk_writeback_undo(sim, file) : 0;
        if (file_error != 0) {
            file->error_unreported = file_error; /* Its own next fsync reports it too. */
        }
        error = error != 0 ? error : file_error;
    }
    int32_t once = disk_fault_once(sim, op->kind, NULL); /* Counted even after a failure. */
    error = error != 0 ? error : once;
    if (error == 0 && sb_sim_chance(sim, sim->faults.fsync_error_ppm)) {
        error = -EIO;
    }
    if (error != 0) {
        return error;
    }
    /* No real syncfs(2): it would wait for every other process's dirty data on the machine;
     * durability here is the model's (the remembered writes), not the kernel's. */
    for (uint32_t index = 0; index < SB_SIM_FILES_MAX; index++) {
        struct sim_file *file = &sim->files[index];
        struct stat status;
        if (!file->used || file->shadow_fd < 0 || fstat(file->shadow_fd, &status) != 0) {
            continue;
        }
        file_forget_writes(sim, file);
        file->synced_size = (uint64_t)status.st_size;
        file_release_if_idle(file);
    }
    return 0;
}

static void file_forget_covered(struct sb_sim *sim, struct sim_file *file,
                                struct sim_write *record);
static void file_trim_write(struct sb_sim *sim, struct sim_write *record, uint32_t head,
                            uint32_t tail);
static void file_split_write(struct sb_sim *sim, struct sim_file *file,
                             struct sim_write *record, uint64_t at);

/* A write with RWF_DSYNC: the write's faults first (nothing written on a failure), then, once
 * it landed, the sync's, as disk_fsync draws them: a write-back error pending on the file (its
 * own included), a one-shot FSYNC fault, the fsync error rate. A failed sync leaves the write
 * landed and unsynced (a power cut may undo it). On success the write is durable: it is
 * forgotten, and so are its bytes in older unsynced writes of the file (a retried cycle
 * rewriting the same bytes), and the synced size grows to its end; the rest stays unsynced. */
static int32_t
disk_write_dsync(struct sb_sim *sim, struct sim_file *file, struct sb_io_op *op)
{
    int32_t written = disk_write(sim, file, op);
    if (written <= 0) {
        return written;
    }
    struct sim_write *record = file->newest;
    SB_ASSERT(record != NULL && record->offset == op->offset);
    SB_ASSERT(record->length == (uint32_t)written);
    int32_t error = disk_writeback_failed(sim, file);
    int32_t once = disk_fault_once(sim, SB_IO_OP_FDATASYNC, NULL); /* Counted all the same. */
    error = error != 0 ? error : once;
    if (error == 0 && sb_sim_chance(sim, sim->faults.fsync_error_ppm)) {
        error = -EIO;
    }
    if (error != 0) {
        return error;
    }
    if (fdatasync(op->fd) != 0) {
        return -errno;
    }
    file->synced_size = sb_max_u64(file->synced_size, record->offset + record->length);
    file_forget_covered(sim, file, record);
    return written;
}

/* Forgets `record` (durable now) and its bytes in every older unsynced write: one inside them
 * is forgotten, one overlapping them is cut to what lies outside (a power cut must neither
 * undo nor tear the durable bytes). */
static void
file_forget_covered(struct sb_sim *sim, struct sim_file *file, struct sim_write *record)
{
    uint64_t start = record->offset;
    uint64_t end = record->offset + record->length;
    struct sim_write *older = record->older;
    for (uint32_t index = 0; older != NULL; index++) {
        SB_ASSERT(index < SB_SIM_UNSYNCED_WRITES_MAX);
        struct sim_write *next = older->older;
        uint64_t older_end = older->offset + older->length;
        if (older->offset >= start && older_end <= end) {
            file_forget_write(sim, file, older);
        } else if (older->offset < end && older_end > start) {
            if (older->offset < start && older_end > end) {
                file_split_write(sim, file, older, end); /* The part after `end` stays. */
                older_end = end;
            }
            if (older->offset < start) {
                file_trim_write(sim, older, 0, (uint32_t)(older_end - start));
            } else {
                file_trim_write(sim, older, (uint32_t)(end - older->offset), 0);
            }
        }
        older = next;
    }
    file_forget_write(sim, file, record);
}

/* Drops `head` bytes from the front and `tail` bytes from the end of a remembered write. */
static void
file_trim_write(struct sb_sim *sim, struct sim_write *record, uint32_t head, uint32_t tail)
{
    SB_ASSERT(head + tail < record->length);
    SB_ASSERT(sim->unsynced_bytes >= (uint64_t)head + tail);
    record->offset += head;
    record->before += head;
    record->after += head;
    record->before_bytes = record->before_bytes > head ? record->before_bytes - head : 0;
    record->length -= head + tail;
    record->before_bytes = (uint32_t)sb_min_u64(record->before_bytes, record->length);
    sim->unsynced_bytes -= (uint64_t)head + tail;
}

/* Cuts a remembered write in two at file offset `at`: a new record of the same age (linked
 * just after it) keeps the bytes from `at` on; `record` keeps those before. */
static void
file_split_write(struct sb_sim *sim, struct sim_file *file, struct sim_write *record,
                 uint64_t at)
{
    SB_ASSERT(at > record->offset && at < record->offset + record->length);
    uint32_t skip = (uint32_t)(at - record->offset);
    uint32_t length = record->length - skip;
    struct sim_write *piece = sb_alloc(sizeof(*piece) + 2 * (size_t)length);
    SB_ASSERT(piece != NULL && "out of memory in the simulator");
    *piece = *record;
    piece->before = (uint8_t *)(piece + 1);
    piece->after = piece->before + length;
    memcpy(piece->before, record->before + skip, length);
    memcpy(piece->after, record->after + skip, length);
    piece->offset = at;
    piece->length = length;
    piece->before_bytes = record->before_bytes > skip ? record->before_bytes - skip : 0;
    piece->older = record;
    piece->newer = record->newer;
    if (record->newer != NULL) {
        record->newer->older = piece;
    } else {
        file->newest = piece;
    }
    record->newer = piece;
    sim->unsynced_writes++;
    sim->unsynced_bytes += length;
    SB_ASSERT(sim->unsynced_writes <= SB_SIM_UNSYNCED_WRITES_MAX + 1);
    file_trim_write(sim, record, 0, length);
}

/* Unlinks and frees one remembered write. */
static void
file_forget_write(struct sb_sim *sim, struct sim_file *file, struct sim_write *record)
{
    if (record->older != NULL) {
        record->older->newer = record->newer;
    } else {
        file->oldest = record->newer;
    }
    if (record->newer != NULL) {
        record->newer->older = record->older;
    } else {
        file->newest = record->older;
    }
    SB_ASSERT(sim->unsynced_writes > 0);
    sim->unsynced_writes--;
    sim->unsynced_bytes -= record->length;
    sb_free(record);
}

static void
file_forget_writes(struct sb_sim *sim, struct sim_file *file)
{
    for (uint32_t index = 0; file->oldest != NULL; index++) {
        SB_ASSERT(index < SB_SIM_UNSYNCED_WRITES_MAX);
        file_forget_write(sim, file, file->oldest);
    }
}

/* Frees the slot of a file nobody holds and nothing is left to undo (no remembered write,
 * and no size change since the last fsync, e.g. from FALLOCATE). */
static void
file_release_if_idle(struct sim_file *file)
{
    SB_ASSERT(file->used);
    if (file->fd_count > 0 || file->oldest != NULL) {
        return;
    }
    if (file->shadow_fd >= 0) {
        struct stat status;
        if (fstat(file->shadow_fd, &status) == 0 &&
            (uint64_t)status.st_size != file->synced_size) {
            return;
        }
        close(file->shadow_fd);
    }
    memset(file, 0, sizeof(*file));
    file->shadow_fd = -1;
}
