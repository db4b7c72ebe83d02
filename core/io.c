/*
 * core/io.c - the backend-independent half of core/io.h: filling in caller-owned
 * ops, the op state machine (IDLE -> QUEUED -> IN_FLIGHT -> IDLE) and
 * dispatch to the live backend. Start reading at sb_io_complete, the single
 * place every completion passes through.
 */
#include "core/io.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

#include "core/assert.h"
#include "core/io_backend.h"
#include "core/limits.h"

int
sb_io_create(const struct sb_io_config *config, struct sb_io **io_out)
{
    *io_out = NULL;
    switch (config->backend) {
    case SB_IO_BACKEND_URING:
        return sb_io_uring_create(config, io_out);
    case SB_IO_BACKEND_SIM:
        SB_ASSERT(config->sim != NULL);
        return sb_io_sim_create(config, io_out);
    }
    return -EINVAL;
}

void
sb_io_destroy(struct sb_io *io)
{
    if (io != NULL) {
        io->ops->destroy(io);
    }
}

enum sb_io_backend_kind
sb_io_backend(const struct sb_io *io)
{
    return io->kind;
}

uint64_t
sb_io_now_ns(struct sb_io *io)
{
    return io->ops->now_ns(io);
}

int
sb_io_run(struct sb_io *io, uint64_t wait_ns)
{
    return io->ops->run(io, wait_ns);
}

uint32_t
sb_io_in_flight(const struct sb_io *io)
{
    return io->in_flight;
}

uint32_t
sb_io_syncs_in_flight_max(const struct sb_io *io)
{
    return io->syncs_in_flight_max;
}

static bool
io_kind_is_sync(enum sb_io_op_kind kind)
{
    return kind == SB_IO_OP_FSYNC || kind == SB_IO_OP_FDATASYNC || kind == SB_IO_OP_SYNCFS ||
           kind == SB_IO_OP_WRITE_DSYNC;
}

void
sb_io_complete(struct sb_io *io, struct sb_io_op *op, int32_t result, bool more,
               bool has_buffer, uint16_t buffer_id)
{
    SB_ASSERT(op->state == SB_IO_OP_IN_FLIGHT || op->state == SB_IO_OP_QUEUED);
    SB_ASSERT(io->in_flight > 0);
    if (more) {
        SB_ASSERT(op->multishot);
    }
    op->result = result;
    op->more = more;
    op->has_buffer = has_buffer;
    op->buffer_id = buffer_id;
    if (!more) {
        op->state = SB_IO_OP_IDLE;
        io->in_flight--;
        if (io_kind_is_sync(op->kind)) {
            SB_ASSERT(io->syncs_in_flight > 0);
            io->syncs_in_flight--;
        }
    }
    op->callback(op);
}

static void
io_start(struct sb_io *io, struct sb_io_op *op, enum sb_io_op_kind kind, int fd,
         sb_io_callback callback, void *context)
{
    SB_ASSERT(op->state == SB_IO_OP_IDLE);
    SB_ASSERT(callback != NULL);
    op->callback = callback;
    op->context = context;
    op->kind = (uint8_t)kind;
    op->fd = fd;
    op->result = 0;
    op->more = false;
    op->has_buffer = false;
    op->next = NULL;
    op->state = SB_IO_OP_QUEUED;
    io->in_flight++;
    if (io_kind_is_sync(kind)) {
        io->syncs_in_flight++;
        if (io->syncs_in_flight > io->syncs_in_flight_max) {
            io->syncs_in_flight_max = io->syncs_in_flight;
        }
    }
    io->ops->queue(io, op);
}

static void
io_reset_arguments(struct sb_io_op *op)
{
    op->multishot = false;
    op->buffer_group = 0;
    op->length = 0;
    op->offset = 0;
    op->length_wide = 0;
    op->address_length = 0;
    memset(&op->u, 0, sizeof(op->u));
}

void
sb_io_nop(struct sb_io *io, struct sb_io_op *op, sb_io_callback callback, void *context)
{
    io_reset_arguments(op);
    io_start(io, op, SB_IO_OP_NOP, -1, callback, context);
}

void
sb_io_read(struct sb_io *io, struct sb_io_op *op, int fd, void *buffer, uint32_t length,
           uint64_t offset, sb_io_callback callback, void *context)
{
    io_reset_arguments(op);
    op->u.buffer = buffer;
    op->length = length;
    op->offset = offset;
    io_start(io, op, SB_IO_OP_READ, fd, callback, context);
}

/* WRITE and WRITE_DSYNC take the same arguments. */
static void
io_write_start(struct sb_io *io, struct sb_io_op *op, enum sb_io_op_kind kind, int fd,
               const void *buffer, uint32_t length, uint64_t offset, sb_io_callback callback,
               void *context)
{
    io_reset_arguments(op);
    op->u.source = buffer;
    op->length = length;
    op->offset = offset;
    io_start(io, op, kind, fd, callback, context);
}

void
sb_io_write(struct sb_io *io, struct sb_io_op *op, int fd, const void *buffer, uint32_t length,
            uint64_t offset, sb_io_callback callback, void *context)
{
    io_write_start(io, op, SB_IO_OP_WRITE, fd, buffer, length, offset, callback, context);
}

void
sb_io_write_dsync(struct sb_io *io, struct sb_io_op *op, int fd, const void *buffer,
                  uint32_t length, uint64_t offset, sb_io_callback callback, void *context)
{
    io_write_start(io, op, SB_IO_OP_WRITE_DSYNC, fd, buffer, length, offset, callback, context);
}

void
sb_io_writev(struct sb_io *io, struct sb_io_op *op, int fd, const struct iovec *vectors,
             uint32_t vector_count, uint64_t offset, sb_io_callback callback, void *context)
{
    io_reset_arguments(op);
    op->u.vectors = vectors;
    op->length = vector_count;
    op->offset = offset;
    io_start(io, op, SB_IO_OP_WRITEV, fd, callback, context);
}

void
sb_io_fsync(struct sb_io *io, struct sb_io_op *op, int fd, bool datasync,
            sb_io_callback callback, void *context)
{
    io_reset_arguments(op);
    io_start(io, op, datasync ? SB_IO_OP_FDATASYNC : SB_IO_OP_FSYNC, fd, callback, context);
}

void
sb_io_syncfs(struct sb_io *io, struct sb_io_op *op, int fd, sb_io_callback callback,
             void *context)
{
    io_reset_arguments(op);
    io_start(io, op, SB_IO_OP_SYNCFS, fd, callback, context);
}

void
sb_io_openat(struct sb_io *io, struct sb_io_op *op, const char *path, int flags,
             unsigned mode, sb_io_callback callback, void *context)
{
    SB_ASSERT(path != NULL);
    io_reset_arguments(op);
    op->u.source = path;
    op->length = (uint32_t)flags;
    op->offset = mode;
    io_start(io, op, SB_IO_OP_OPENAT, -1, callback, context);
}

/* Linux 5.8 made syncfs(2) return the superblock's errseq (commit 735e4ae5ba28, "vfs: track
 * per-sb writeback errors and report them to syncfs"). */
bool
sb_io_syncfs_reports_errors(const struct sb_io *io)
{
    if (io->kind == SB_IO_BACKEND_SIM) {
        return true;
    }
    struct utsname name;
    unsigned major = 0;
    unsigned minor = 0;
    if (uname(&name) != 0 || sscanf(name.release, "%u.%u", &major, &minor) != 2) {
        return false;
    }
    return major > 5 || (major == 5 && minor >= 8);
}

void
sb_io_fallocate(struct sb_io *io, struct sb_io_op *op, int fd, uint64_t offset,
                uint64_t length, sb_io_callback callback, void *context)
{
    io_reset_arguments(op);
    op->offset = offset;
    op->length_wide = length;
    io_start(io, op, SB_IO_OP_FALLOCATE, fd, callback, context);
}

void
sb_io_accept(struct sb_io *io, struct sb_io_op *op, int listen_fd, bool multishot,
             struct sockaddr_in *peer, sb_io_callback callback, void *context)
{
    io_reset_arguments(op);
    op->multishot = multishot;
    op->u.address = peer;
    op->address_length = peer != NULL ? sizeof(*peer) : 0;
    io_start(io, op, SB_IO_OP_ACCEPT, listen_fd, callback, context);
}

void
sb_io_connect(struct sb_io *io, struct sb_io_op *op, int fd, const struct sockaddr_in *address,
              sb_io_callback callback, void *context)
{
    io_reset_arguments(op);
    op->u.address = (struct sockaddr_in *)address;
    op->address_length = sizeof(*address);
    io_start(io, op, SB_IO_OP_CONNECT, fd, callback, context);
}

void
sb_io_recv(struct sb_io *io, struct sb_io_op *op, int fd, void *buffer, uint32_t length,
           sb_io_callback callback, void *context)
{
    io_reset_arguments(op);
    op->u.buffer = buffer;
    op->length = length;
    io_start(io, op, SB_IO_OP_RECV, fd, callback, context);
}

void
sb_io_recv_multishot(struct sb_io *io, struct sb_io_op *op, int fd, uint16_t group,
                     sb_io_callback callback, void *context)
{
    SB_ASSERT(group < SB_IO_BUFFER_GROUPS_MAX);
    io_reset_arguments(op);
    op->multishot = true;
    op->buffer_group = group;
    io_start(io, op, SB_IO_OP_RECV, fd, callback, context);
}

void
sb_io_send(struct sb_io *io, struct sb_io_op *op, int fd, const void *buffer, uint32_t length,
           sb_io_callback callback, void *context)
{
    io_reset_arguments(op);
    op->u.source = buffer;
    op->length = length;
    io_start(io, op, SB_IO_OP_SEND, fd, callback, context);
}

void
sb_io_sendmsg(struct sb_io *io, struct sb_io_op *op, int fd, const struct msghdr *message,
              sb_io_callback callback, void *context)
{
    io_reset_arguments(op);
    op->u.message = message;
    io_start(io, op, SB_IO_OP_SENDMSG, fd, callback, context);
}

void
sb_io_cancel(struct sb_io *io, struct sb_io_op *op, struct sb_io_op *target,
             sb_io_callback callback, void *context)
{
    io_reset_arguments(op);
    op->u.target = target;
    io_start(io, op, SB_IO_OP_CANCEL, -1, callback, context);
}

int
sb_io_open(struct sb_io *io, const char *path, int flags, unsigned mode)
{
    return io->ops->open(io, path, flags, mode);
}

int
sb_io_close(struct sb_io *io, int fd)
{
    return io->ops->close(io, fd);
}

int
sb_io_socket(struct sb_io *io)
{
    return io->ops->socket(io);
}

int
sb_io_listen(struct sb_io *io, const struct sockaddr_in *address, int backlog)
{
    return io->ops->listen(io, address, backlog);
}

int
sb_io_local_port(struct sb_io *io, int fd)
{
    return io->ops->local_port(io, fd);
}

int
sb_io_socket_nodelay(struct sb_io *io, int fd)
{
    return io->ops->socket_nodelay(io, fd);
}

int
sb_io_buffer_group_create(struct sb_io *io, uint16_t group, uint32_t count,
                          uint32_t buffer_bytes)
{
    if (group >= SB_IO_BUFFER_GROUPS_MAX || !sb_is_power_of_two(count) ||
        count > SB_IO_BUFFERS_PER_GROUP_MAX || buffer_bytes == 0) {
        return -EINVAL;
    }
    return io->ops->buffer_group_create(io, group, count, buffer_bytes);
}

void *
sb_io_buffer(struct sb_io *io, uint16_t group, uint16_t buffer_id)
{
    return io->ops->buffer(io, group, buffer_id);
}

void
sb_io_buffer_recycle(struct sb_io *io, uint16_t group, uint16_t buffer_id)
{
    io->ops->buffer_recycle(io, group, buffer_id);
}

void
sb_io_wake(struct sb_io *self, struct sb_io *target, enum sb_io_doorbell doorbell)
{
    self->ops->wake(self, target, doorbell);
}

void
sb_io_wake_external(struct sb_io *target)
{
    target->ops->wake_external(target);
}

uint64_t
sb_io_wakeups(const struct sb_io *io)
{
    return io->wakeups;
}

