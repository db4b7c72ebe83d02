/*
 * core/io_uring.c - the production io backend (see io.h).
 *
 * One ring per shard, created on the shard's own thread with SINGLE_ISSUER |
 * DEFER_TASKRUN: completions are produced only when this thread enters the
 * kernel, so callbacks never race with anything. Ops are turned into SQEs as
 * they are started and submitted together by uring_run, once per loop
 * iteration, and once more at the end of uring_run for the ops its completion
 * callbacks started (so an answer or a WAL fdatasync does not wait for the
 * next iteration), or early if the submission queue fills up.
 *
 * user_data is the op's address; a few small integers (never valid pointers)
 * tag internal completions: doorbells (MSG_RING or the eventfd read) and
 * CQEs to ignore.
 *
 * Provided-buffer rings: liburing 2.3 lacks io_uring_setup_buf_ring, so
 * uring_buffer_group_create maps the ring memory and registers it by hand.
 *
 * With SB_TEST_DURABILITY_LOG set (tests only), opens, file writes, fsyncs
 * and their completions are also recorded by core/io_durability.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/assert.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/io_backend.h"
#include "core/io_durability.h"
#include "core/limits.h"
#include "core/log.h"

/* Internal user_data tags; op pointers are at least 8-byte aligned, so these never collide. */
#define URING_TAG_IGNORE 1ull
#define URING_TAG_DOORBELL 2ull
#define URING_TAG_EVENTFD 3ull
#define URING_TAG_MAX 7ull

struct uring_buffer_group {
    struct io_uring_buf_ring *ring; /* Kernel-shared ring of free buffers (mmap'd, owned). */
    size_t ring_bytes;              /* Size of the ring mapping. */
    uint8_t *memory;                /* count * buffer_bytes bytes of buffers (owned). */
    uint32_t count;                 /* Buffers in the group (power of two). */
    uint32_t buffer_bytes;          /* Bytes per buffer. */
};

struct uring_io {
    struct sb_io base;                   /* Must be first: the backend contract. */
    struct io_uring ring;                /* The shard's ring. */
    int event_fd;                        /* Doorbell for eventfd and external wakes. */
    uint64_t event_value;                /* Target of the pending eventfd read. */
    bool event_read_armed;               /* An eventfd read is in the ring. */
    bool durability_log;                 /* SB_TEST_DURABILITY_LOG is on (tests only). */
    pthread_t syncfs_thread;             /* Runs syncfs(2), which io_uring has no op for. */
    int syncfs_request[2];               /* Pipe: the shard writes an fd to syncfs... */
    int syncfs_reply[2];                 /*   ...the thread writes back its int32 result. */
    int32_t syncfs_result;               /* Target of the pending reply read. */
    struct sb_io_op *syncfs_op;          /* The SYNCFS in flight (at most one), or NULL. */
    bool syncfs_running;                 /* The thread and pipes exist (the first SYNCFS). */
    int32_t syncfs_start_error;          /* Why the last start failed (its op's result). */
    struct uring_buffer_group groups[SB_IO_BUFFER_GROUPS_MAX]; /* By group id. */
};

static const struct sb_io_backend_ops uring_ops;
static int uring_syncfs_start(struct uring_io *uring);
static void uring_syncfs_stop(struct uring_io *uring);
static void uring_syncfs_queue(struct uring_io *uring, struct io_uring_sqe *sqe,
                               struct sb_io_op *op);

static struct uring_io *
uring_from(struct sb_io *io)
{
    SB_ASSERT(io->kind == SB_IO_BACKEND_URING);
    return (struct uring_io *)io;
}

/* One clear line on why io_uring is unavailable: the kernel switch, a sandbox, or memory. */
static void
uring_explain_setup_failure(int error)
{
    int disabled = 0;
    FILE *sysctl = fopen("/proc/sys/kernel/io_uring_disabled", "r");
    if (sysctl != NULL) {
        if (fscanf(sysctl, "%d", &disabled) != 1) {
            disabled = 0;
        }
        fclose(sysctl);
    }
    struct rlimit memlock = {0};
    getrlimit(RLIMIT_MEMLOCK, &memlock);
    const char *reason = "unexpected error";
    if (disabled != 0) {
        reason = "io_uring is disabled by sysctl kernel.io_uring_disabled (set it to 0)";
    } else if (error == -ENOSYS) {
        reason = "the kernel has no io_uring, or a seccomp filter blocks io_uring_setup";
    } else if (error == -EPERM) {
        reason = "permission denied: a seccomp filter or container policy blocks io_uring";
    } else if (error == -ENOMEM) {
        reason = "out of locked memory: raise RLIMIT_MEMLOCK (ulimit -l) or use fewer entries";
    } else if (error == -EINVAL) {
        reason = "the kernel lacks SINGLE_ISSUER/DEFER_TASKRUN (Linux 6.1 or newer is needed)";
    }
    sb_log_error("io_uring setup failed", "error=\"%s\" reason=\"%s\" memlock_bytes=%llu",
                 sb_strerror(error), reason, (unsigned long long)memlock.rlim_cur);
}

static struct io_uring_sqe *
uring_sqe(struct uring_io *uring)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&uring->ring);
    if (sqe == NULL) {
        /* Submission queue full: submit early, the only exception to one submit per loop. */
        int submitted = io_uring_submit(&uring->ring);
        SB_ASSERT(submitted >= 0 || submitted == -EBUSY || submitted == -EAGAIN);
        sqe = io_uring_get_sqe(&uring->ring);
    }
    SB_ASSERT(sqe != NULL);
    return sqe;
}

static void
uring_arm_eventfd(struct uring_io *uring)
{
    SB_ASSERT(!uring->event_read_armed);
    struct io_uring_sqe *sqe = uring_sqe(uring);
    io_uring_prep_read(sqe, uring->event_fd, &uring->event_value, sizeof(uring->event_value), 0);
    io_uring_sqe_set_data64(sqe, URING_TAG_EVENTFD);
    uring->event_read_armed = true;
}

int
sb_io_uring_create(const struct sb_io_config *config, struct sb_io **io_out)
{
    struct uring_io *uring = sb_alloc(sizeof(*uring));
    if (uring == NULL) {
        return -ENOMEM;
    }
    struct io_uring_params params;
    memset(&params, 0, sizeof(params));
    params.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
                   IORING_SETUP_SUBMIT_ALL | IORING_SETUP_CQSIZE;
    params.cq_entries = config->completion_queue_entries != 0
                            ? config->completion_queue_entries
                            : SB_IO_COMPLETION_QUEUE_ENTRIES;
    uint32_t entries = config->submit_queue_entries != 0 ? config->submit_queue_entries
                                                          : SB_IO_SUBMIT_QUEUE_ENTRIES;
    int result = io_uring_queue_init_params(entries, &uring->ring, &params);
    if (result < 0) {
        uring_explain_setup_failure(result);
        sb_free(uring);
        return SB_EIO_SETUP;
    }
    uring->event_fd = eventfd(0, EFD_CLOEXEC);
    if (uring->event_fd < 0) {
        result = -errno;
        io_uring_queue_exit(&uring->ring);
        sb_free(uring);
        return result;
    }
    io_uring_register_ring_fd(&uring->ring); /* Optional speed-up; failure is harmless. */
    /* [bounded, unbounded]: fsync of a regular file is bounded work; 0 keeps the unbounded
     * limit. Before Linux 5.15 this fails and the kernel's default (4 x CPUs) stays. */
    unsigned int workers[2] = {config->blocking_workers_max != 0 ? config->blocking_workers_max
                                                                 : SB_IO_BLOCKING_WORKERS,
                               0};
    io_uring_register_iowq_max_workers(&uring->ring, workers);
    uring->base.ops = &uring_ops;
    uring->base.kind = SB_IO_BACKEND_URING;
    uring->durability_log = sb_io_durability_init();
    uring_arm_eventfd(uring);
    *io_out = &uring->base;
    return 0;
}

static void
uring_destroy(struct sb_io *io)
{
    struct uring_io *uring = uring_from(io);
    for (uint16_t group = 0; group < SB_IO_BUFFER_GROUPS_MAX; group++) {
        struct uring_buffer_group *buffers = &uring->groups[group];
        if (buffers->ring != NULL) {
            io_uring_unregister_buf_ring(&uring->ring, group);
            munmap(buffers->ring, buffers->ring_bytes);
            sb_free(buffers->memory);
        }
    }
    io_uring_queue_exit(&uring->ring);
    close(uring->event_fd);
    if (uring->syncfs_running) {
        uring_syncfs_stop(uring);
    }
    sb_free(uring);
}

static uint64_t
uring_now_ns(struct sb_io *io)
{
    (void)io;
    return sb_clock_monotonic_ns();
}

static void
uring_prep_network(struct io_uring_sqe *sqe, struct sb_io_op *op)
{
    switch (op->kind) {
    case SB_IO_OP_ACCEPT:
        if (op->multishot) {
            io_uring_prep_multishot_accept(sqe, op->fd, (struct sockaddr *)op->u.address,
                                           op->u.address != NULL ? &op->address_length : NULL,
                                           SOCK_CLOEXEC);
        } else {
            io_uring_prep_accept(sqe, op->fd, (struct sockaddr *)op->u.address,
                                 op->u.address != NULL ? &op->address_length : NULL,
                                 SOCK_CLOEXEC);
        }
        break;
    case SB_IO_OP_CONNECT:
        io_uring_prep_connect(sqe, op->fd, (struct sockaddr *)op->u.address, op->address_length);
        break;
    case SB_IO_OP_RECV:
        if (op->multishot) {
            io_uring_prep_recv_multishot(sqe, op->fd, NULL, 0, 0);
            sqe->flags |= IOSQE_BUFFER_SELECT;
            sqe->buf_group = op->buffer_group;
        } else {
            io_uring_prep_recv(sqe, op->fd, op->u.buffer, op->length, 0);
        }
        break;
    case SB_IO_OP_SEND:
        io_uring_prep_send(sqe, op->fd, op->u.source, op->length, MSG_NOSIGNAL);
        break;
    case SB_IO_OP_SENDMSG:
        io_uring_prep_sendmsg(sqe, op->fd, op->u.message, MSG_NOSIGNAL);
        break;
    default:
        SB_ASSERT(false && "not a network op");
    }
}

static void
uring_queue(struct sb_io *io, struct sb_io_op *op)
{
    struct uring_io *uring = uring_from(io);
    struct io_uring_sqe *sqe = uring_sqe(uring);
    switch (op->kind) {
    case SB_IO_OP_NOP:
        io_uring_prep_nop(sqe);
        break;
    case SB_IO_OP_READ:
        io_uring_prep_read(sqe, op->fd, op->u.buffer, op->length, op->offset);
        break;
    case SB_IO_OP_WRITE:
        io_uring_prep_write(sqe, op->fd, op->u.source, op->length, op->offset);
        break;
    case SB_IO_OP_WRITE_DSYNC:
        io_uring_prep_write(sqe, op->fd, op->u.source, op->length, op->offset);
        sqe->rw_flags = RWF_DSYNC; /* The kernel syncs the range before it completes. */
        break;
    case SB_IO_OP_WRITEV:
        io_uring_prep_writev(sqe, op->fd, op->u.vectors, op->length, op->offset);
        break;
    case SB_IO_OP_FSYNC:
    case SB_IO_OP_FDATASYNC:
        io_uring_prep_fsync(sqe, op->fd,
                            op->kind == SB_IO_OP_FDATASYNC ? IORING_FSYNC_DATASYNC : 0);
        break;
    case SB_IO_OP_FALLOCATE:
        io_uring_prep_fallocate(sqe, op->fd, 0, (off_t)op->offset, (off_t)op->length_wide);
        break;
    case SB_IO_OP_CANCEL:
        io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)op->u.target, 0);
        break;
    case SB_IO_OP_SYNCFS:
        uring_syncfs_queue(uring, sqe, op);
        return;
    case SB_IO_OP_OPENAT:
        /* O_CREAT/O_TRUNC always run in a kernel worker, never on this thread. The log needs
         * to know whether the open will create the file (backend_due_ns is ours to use). */
        io_uring_prep_openat(sqe, AT_FDCWD, op->u.source, (int)op->length,
                             (mode_t)op->offset);
        op->backend_due_ns = uring->durability_log && access(op->u.source, F_OK) == 0;
        break;
    default:
        uring_prep_network(sqe, op);
        break;
    }
    io_uring_sqe_set_data(sqe, op);
    op->state = SB_IO_OP_IN_FLIGHT;
    if (SB_UNLIKELY(uring->durability_log)) {
        sb_io_durability_queued(op); /* Before the kernel can see the SQE. */
    }
}

static void
uring_dispatch(struct uring_io *uring, uint64_t user_data, int32_t result, uint32_t flags)
{
    if (user_data <= URING_TAG_MAX) {
        if (user_data == URING_TAG_DOORBELL) {
            uring->base.wakeups++;
        } else if (user_data == URING_TAG_EVENTFD) {
            uring->event_read_armed = false;
            uring->base.wakeups++;
            uring_arm_eventfd(uring);
        } else if (result < 0) {
            sb_log_warn("io_uring internal op failed", "error=\"%s\"", sb_strerror(result));
        }
        return;
    }
    struct sb_io_op *op = (struct sb_io_op *)(uintptr_t)user_data;
    bool more = (flags & IORING_CQE_F_MORE) != 0;
    bool has_buffer = (flags & IORING_CQE_F_BUFFER) != 0;
    uint16_t buffer_id = has_buffer ? (uint16_t)(flags >> IORING_CQE_BUFFER_SHIFT) : 0;
    if (op->kind == SB_IO_OP_SYNCFS) {
        /* The reply read's result is its byte count; the syncfs result is what it read. */
        SB_ASSERT(uring->syncfs_op == op);
        uring->syncfs_op = NULL;
        if (!uring->syncfs_running) {
            result = uring->syncfs_start_error; /* A NOP stood in for the reply read. */
        } else {
            result = result == (int32_t)sizeof(int32_t) ? uring->syncfs_result
                                                        : (result < 0 ? result : -EIO);
        }
    }
    if (SB_UNLIKELY(uring->durability_log) && !more) {
        sb_io_durability_completed(op, result); /* Before the callback can tell anyone. */
        if (op->kind == SB_IO_OP_OPENAT && result >= 0) {
            sb_io_durability_opened(result, op->u.source, op->backend_due_ns != 0);
        }
    }
    sb_io_complete(&uring->base, op, result, more, has_buffer, buffer_id);
}

/* Copies a batch of CQEs out, releases their slots, then runs callbacks (which may queue more
 * SQEs). Returns the number of CQEs handled. */
static int
uring_reap(struct uring_io *uring)
{
    struct io_uring_cqe *cqes[SB_IO_REAP_BATCH];
    uint64_t user_data[SB_IO_REAP_BATCH];
    int32_t results[SB_IO_REAP_BATCH];
    uint32_t flags[SB_IO_REAP_BATCH];
    unsigned count = io_uring_peek_batch_cqe(&uring->ring, cqes, SB_IO_REAP_BATCH);
    for (unsigned index = 0; index < count; index++) {
        user_data[index] = cqes[index]->user_data;
        results[index] = cqes[index]->res;
        flags[index] = cqes[index]->flags;
    }
    io_uring_cq_advance(&uring->ring, count);
    for (unsigned index = 0; index < count; index++) {
        uring_dispatch(uring, user_data[index], results[index], flags[index]);
    }
    return (int)count;
}

static int
uring_run(struct sb_io *io, uint64_t wait_ns)
{
    struct uring_io *uring = uring_from(io);
    int result;
    if (wait_ns == 0) {
        result = io_uring_submit_and_get_events(&uring->ring);
    } else {
        struct __kernel_timespec timeout = {
            .tv_sec = (long long)(wait_ns / SB_NS_PER_S),
            .tv_nsec = (long long)(wait_ns % SB_NS_PER_S),
        };
        struct io_uring_cqe *cqe = NULL;
        result = io_uring_submit_and_wait_timeout(&uring->ring, &cqe, 1, &timeout, NULL);
    }
    if (result < 0 && result != -ETIME && result != -EINTR && result != -EBUSY &&
        result != -EAGAIN) {
        return result;
    }
    int handled = 0;
    /* Bounded: at most the completion queue's capacity of batches per run. */
    for (uint32_t batch = 0; batch < SB_IO_COMPLETION_QUEUE_ENTRIES / SB_IO_REAP_BATCH; batch++) {
        int count = uring_reap(uring);
        handled += count;
        if (count < SB_IO_REAP_BATCH) {
            break;
        }
    }
    /* What the callbacks started (an answer's sendmsg, the fdatasync after a WAL write)
     * leaves now, not after the next iteration's timers and end-of-iteration work. */
    if (io_uring_sq_ready(&uring->ring) > 0) {
        int submitted = io_uring_submit(&uring->ring);
        SB_ASSERT(submitted >= 0 || submitted == -EBUSY || submitted == -EAGAIN);
    }
    return handled;
}

static int
uring_open(struct sb_io *io, const char *path, int flags, unsigned mode)
{
    bool logged = uring_from(io)->durability_log;
    bool existed = !logged || (flags & O_CREAT) == 0 || access(path, F_OK) == 0;
    int fd = open(path, flags | O_CLOEXEC, mode);
    if (fd < 0) {
        return -errno;
    }
    if (SB_UNLIKELY(logged)) {
        sb_io_durability_opened(fd, path, existed);
    }
    return fd;
}

static int
uring_close(struct sb_io *io, int fd)
{
    (void)io;
    return close(fd) == 0 ? 0 : -errno;
}

static int
uring_socket(struct sb_io *io)
{
    (void)io;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -errno;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

static int
uring_listen(struct sb_io *io, const struct sockaddr_in *address, int backlog)
{
    (void)io;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -errno;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (const struct sockaddr *)address, sizeof(*address)) != 0 ||
        listen(fd, backlog) != 0) {
        int error = -errno;
        close(fd);
        return error;
    }
    return fd;
}

static int
uring_local_port(struct sb_io *io, int fd)
{
    (void)io;
    struct sockaddr_in address;
    socklen_t length = sizeof(address);
    if (getsockname(fd, (struct sockaddr *)&address, &length) != 0) {
        return -errno;
    }
    return ntohs(address.sin_port);
}

static int
uring_socket_nodelay(struct sb_io *io, int fd)
{
    (void)io;
    int one = 1;
    return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == 0 ? 0 : -errno;
}

/* The shim liburing 2.3 lacks (io_uring_setup_buf_ring): map a page-aligned ring of
 * `count` entries, register it as `group`, and hand it every buffer. */
static int
uring_buffer_group_create(struct sb_io *io, uint16_t group, uint32_t count,
                          uint32_t buffer_bytes)
{
    struct uring_io *uring = uring_from(io);
    struct uring_buffer_group *buffers = &uring->groups[group];
    if (buffers->ring != NULL) {
        return -EEXIST;
    }
    size_t ring_bytes = sb_align_up((size_t)count * sizeof(struct io_uring_buf), 4096);
    void *ring_memory = mmap(NULL, ring_bytes, PROT_READ | PROT_WRITE,
                             MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (ring_memory == MAP_FAILED) {
        return -errno;
    }
    buffers->memory = sb_alloc_aligned_raw((size_t)count * buffer_bytes, 4096);
    if (buffers->memory == NULL) {
        munmap(ring_memory, ring_bytes);
        return -ENOMEM;
    }
    struct io_uring_buf_reg registration;
    memset(&registration, 0, sizeof(registration));
    registration.ring_addr = (uint64_t)(uintptr_t)ring_memory;
    registration.ring_entries = count;
    registration.bgid = group;
    int result = io_uring_register_buf_ring(&uring->ring, &registration, 0);
    if (result < 0) {
        sb_free(buffers->memory);
        munmap(ring_memory, ring_bytes);
        buffers->memory = NULL;
        return result;
    }
    buffers->ring = ring_memory;
    buffers->ring_bytes = ring_bytes;
    buffers->count = count;
    buffers->buffer_bytes = buffer_bytes;
    io_uring_buf_ring_init(buffers->ring);
    int mask = io_uring_buf_ring_mask(count);
    for (uint32_t buffer_id = 0; buffer_id < count; buffer_id++) {
        io_uring_buf_ring_add(buffers->ring, buffers->memory + (size_t)buffer_id * buffer_bytes,
                              buffer_bytes, (unsigned short)buffer_id, mask, (int)buffer_id);
    }
    io_uring_buf_ring_advance(buffers->ring, (int)count);
    return 0;
}

static void *
uring_buffer(struct sb_io *io, uint16_t group, uint16_t buffer_id)
{
    struct uring_io *uring = uring_from(io);
    struct uring_buffer_group *buffers = &uring->groups[group];
    SB_ASSERT(buffers->ring != NULL);
    SB_ASSERT(buffer_id < buffers->count);
    return buffers->memory + (size_t)buffer_id * buffers->buffer_bytes;
}

static void
uring_buffer_recycle(struct sb_io *io, uint16_t group, uint16_t buffer_id)
{
    struct uring_io *uring = uring_from(io);
    struct uring_buffer_group *buffers = &uring->groups[group];
    SB_ASSERT(buffers->ring != NULL);
    SB_ASSERT(buffer_id < buffers->count);
    io_uring_buf_ring_add(buffers->ring, uring_buffer(io, group, buffer_id),
                          buffers->buffer_bytes, buffer_id,
                          io_uring_buf_ring_mask(buffers->count), 0);
    io_uring_buf_ring_advance(buffers->ring, 1);
}

static void
uring_wake_external(struct sb_io *target)
{
    struct uring_io *receiver = uring_from(target);
    uint64_t one = 1;
    ssize_t written = write(receiver->event_fd, &one, sizeof(one));
    /* An eventfd write fails only if the counter would overflow: the receiver is awake then. */
    (void)written;
}

static void
uring_wake(struct sb_io *self, struct sb_io *target, enum sb_io_doorbell doorbell)
{
    if (doorbell == SB_IO_DOORBELL_EVENTFD || self == NULL) {
        uring_wake_external(target);
        return;
    }
    struct uring_io *sender = uring_from(self);
    struct uring_io *receiver = uring_from(target);
    struct io_uring_sqe *sqe = uring_sqe(sender);
    /* The receiver gets a CQE tagged DOORBELL; the sender gets one only if the send fails. */
    io_uring_prep_msg_ring(sqe, receiver->ring.ring_fd, 0, URING_TAG_DOORBELL, 0);
    sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
    io_uring_sqe_set_data64(sqe, URING_TAG_IGNORE);
}

/* ---- syncfs on a helper thread ----
 * io_uring has no syncfs op, so one thread per io runs them: it reads an fd from the request
 * pipe, calls syncfs(2), and writes the int32 result (0 or -errno) to the reply pipe, where
 * an IORING_OP_READ queued with the SYNCFS op (user_data = the op) completes it. One SYNCFS
 * at a time per io, so replies cannot be matched to the wrong op. The thread and its pipes
 * are made by the first SYNCFS (most ios never run one); if that fails, the op completes with
 * the error and the next SYNCFS tries again. The thread's loop ends when the request pipe
 * closes (uring_syncfs_stop); it is bounded by the io's lifetime, like the shard's reactor. */
static void *
uring_syncfs_thread(void *context)
{
    struct uring_io *uring = context;
    int32_t fd;
    while (read(uring->syncfs_request[0], &fd, sizeof(fd)) == (ssize_t)sizeof(fd)) {
        int32_t result = syncfs(fd) == 0 ? 0 : -errno;
        if (write(uring->syncfs_reply[1], &result, sizeof(result)) != (ssize_t)sizeof(result)) {
            break;
        }
    }
    return NULL;
}

static int
uring_syncfs_start(struct uring_io *uring)
{
    if (pipe2(uring->syncfs_request, O_CLOEXEC) != 0) {
        return -errno;
    }
    if (pipe2(uring->syncfs_reply, O_CLOEXEC) != 0) {
        int error = -errno;
        close(uring->syncfs_request[0]);
        close(uring->syncfs_request[1]);
        return error;
    }
    int error = -pthread_create(&uring->syncfs_thread, NULL, uring_syncfs_thread, uring);
    if (error != 0) {
        close(uring->syncfs_request[0]);
        close(uring->syncfs_request[1]);
        close(uring->syncfs_reply[0]);
        close(uring->syncfs_reply[1]);
        return error;
    }
    uring->syncfs_running = true;
    return 0;
}

/* Closing the request pipe ends the thread once it has answered what it was given (a SYNCFS
 * still in flight after a fatal error finishes; its reply is never read). */
static void
uring_syncfs_stop(struct uring_io *uring)
{
    close(uring->syncfs_request[1]);
    pthread_join(uring->syncfs_thread, NULL);
    close(uring->syncfs_request[0]);
    close(uring->syncfs_reply[0]);
    close(uring->syncfs_reply[1]);
}

/* Hands the fd to the thread and queues the read of its reply. The durability log line goes
 * first, before the thread can start. A request that cannot be sent (the pipe never fills:
 * one request at a time) still queues the read of a reply: the thread's is then missing, so
 * it is failed here by a reply of our own. */
static void
uring_syncfs_queue(struct uring_io *uring, struct io_uring_sqe *sqe, struct sb_io_op *op)
{
    SB_ASSERT(uring->syncfs_op == NULL && "one SYNCFS per io at a time");
    uring->syncfs_op = op;
    op->state = SB_IO_OP_IN_FLIGHT;
    if (SB_UNLIKELY(uring->durability_log)) {
        sb_io_durability_queued(op);
    }
    if (!uring->syncfs_running) {
        uring->syncfs_start_error = uring_syncfs_start(uring);
        if (!uring->syncfs_running) {
            io_uring_prep_nop(sqe); /* Completes the op with syncfs_start_error. */
            io_uring_sqe_set_data(sqe, op);
            return;
        }
    }
    io_uring_prep_read(sqe, uring->syncfs_reply[0], &uring->syncfs_result,
                       sizeof(uring->syncfs_result), (uint64_t)-1); /* A pipe: no offset. */
    io_uring_sqe_set_data(sqe, op);
    int32_t fd = op->fd;
    if (write(uring->syncfs_request[1], &fd, sizeof(fd)) != (ssize_t)sizeof(fd)) {
        int32_t error = -EIO;
        ssize_t written = write(uring->syncfs_reply[1], &error, sizeof(error));
        SB_ASSERT(written == (ssize_t)sizeof(error));
    }
}

static const struct sb_io_backend_ops uring_ops = {
    .destroy = uring_destroy,
    .now_ns = uring_now_ns,
    .queue = uring_queue,
    .run = uring_run,
    .open = uring_open,
    .close = uring_close,
    .socket = uring_socket,
    .listen = uring_listen,
    .local_port = uring_local_port,
    .socket_nodelay = uring_socket_nodelay,
    .buffer_group_create = uring_buffer_group_create,
    .buffer = uring_buffer,
    .buffer_recycle = uring_buffer_recycle,
    .wake = uring_wake,
    .wake_external = uring_wake_external,
};
