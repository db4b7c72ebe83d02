/*
 * core/io.h - the one asynchronous I/O interface every shard uses.
 *
 * Two backends sit behind it, sibling files that nothing else names:
 *   io_uring.c  the production backend: a ring created on the shard's own
 *               thread (SINGLE_ISSUER | DEFER_TASKRUN), one submit per loop
 *               iteration plus one for what the completion callbacks
 *               started, completions reaped in batches;
 *   io_sim.c    the deterministic simulator: a virtual clock, simulated
 *               sockets, real files with remembered unsynced writes, and
 *               seeded faults (failed, short and torn writes, failed fsync,
 *               delayed and reset connections). See core/sim.h.
 *
 * Operations are caller-owned (struct sb_io_op is embedded in its owner):
 * starting one never allocates. The op must stay alive and untouched until its
 * callback has run with `more == false`. Callbacks run inside sb_io_run on the
 * owning thread, in completion order. Results are >= 0 or -errno.
 *
 * Lifecycle of an op:
 *
 *   IDLE --sb_io_<verb>()--> QUEUED --sb_io_run() submits--> IN_FLIGHT
 *    ^                                                          |
 *    +---- callback with more == false <-- completion ---------+
 *                         (multishot: callbacks with more == true stay IN_FLIGHT)
 *
 * Thread-safety: an io belongs to the thread that created it; only
 * sb_io_wake_external may be called from any thread.
 */
#ifndef SB_CORE_IO_H
#define SB_CORE_IO_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <netinet/in.h>

struct sb_io;
struct sb_sim;
struct sb_io_op;

typedef void (*sb_io_callback)(struct sb_io_op *op);

enum sb_io_backend_kind {
    SB_IO_BACKEND_URING = 0,
    SB_IO_BACKEND_SIM = 1,
};

/* How a sender wakes a sleeping shard (see ring.h for the handshake). */
enum sb_io_doorbell {
    SB_IO_DOORBELL_MSG_RING = 0, /* IORING_OP_MSG_RING from the sender's ring. */
    SB_IO_DOORBELL_EVENTFD = 1,  /* write(2) to the receiver's eventfd. */
};

enum sb_io_op_kind {
    SB_IO_OP_NOP = 0,
    SB_IO_OP_READ,
    SB_IO_OP_WRITE,
    SB_IO_OP_WRITEV,
    SB_IO_OP_FSYNC,
    SB_IO_OP_FDATASYNC,
    SB_IO_OP_FALLOCATE,
    SB_IO_OP_SYNCFS,
    SB_IO_OP_OPENAT,
    SB_IO_OP_ACCEPT,
    SB_IO_OP_CONNECT,
    SB_IO_OP_RECV,
    SB_IO_OP_SEND,
    SB_IO_OP_SENDMSG,
    SB_IO_OP_CANCEL,
    SB_IO_OP_WRITE_DSYNC, /* A WRITE that is durable when it completes (RWF_DSYNC). */
};

enum sb_io_op_state {
    SB_IO_OP_IDLE = 0,
    SB_IO_OP_QUEUED,
    SB_IO_OP_IN_FLIGHT,
};

struct sb_io_op {
    sb_io_callback callback; /* Runs on completion (borrowed function). */
    void *context;           /* For the callback; never touched by the io. */
    int32_t result;          /* Bytes, new fd or 0 on success; -errno on failure. */
    int32_t fd;              /* File or socket the op works on. */
    uint8_t kind;            /* enum sb_io_op_kind. */
    uint8_t state;           /* enum sb_io_op_state. */
    bool multishot;          /* ACCEPT/RECV: keep completing until cancelled or failed. */
    bool more;               /* Set per completion: another completion of this op follows. */
    bool has_buffer;         /* RECV from a buffer group: buffer_id names the buffer used. */
    uint16_t buffer_group;   /* RECV from a buffer group: which group. */
    uint16_t buffer_id;      /* Set per completion when has_buffer. */
    uint32_t length;         /* READ/WRITE(_DSYNC)/RECV/SEND bytes, WRITEV/SENDMSG vector
                                count, OPENAT open flags. */
    uint64_t offset;         /* READ/WRITE(_DSYNC)/WRITEV/FALLOCATE file offset, OPENAT mode. */
    uint64_t length_wide;    /* FALLOCATE byte count. */
    union {
        void *buffer;                /* READ, RECV: destination (borrowed). */
        const void *source;          /* WRITE(_DSYNC), SEND: source; OPENAT: the path
                                        (borrowed). */
        const struct iovec *vectors; /* WRITEV (borrowed). */
        const struct msghdr *message; /* SENDMSG (borrowed). */
        struct sb_io_op *target;     /* CANCEL: the op to cancel (borrowed). */
        struct sockaddr_in *address; /* ACCEPT: peer address out (may be NULL); CONNECT: in. */
    } u;
    socklen_t address_length;   /* ACCEPT/CONNECT: size of *u.address. */
    struct sb_io_op *next;      /* Backend-private queue link. */
    uint64_t backend_due_ns;    /* Backend-private (simulator: completion time). */
    uint64_t backend_sequence;  /* Backend-private (simulator: tie-break order). */
};

struct sb_io_config {
    enum sb_io_backend_kind backend;
    struct sb_sim *sim;                /* SB_IO_BACKEND_SIM: the world to join (borrowed). */
    uint32_t submit_queue_entries;     /* 0: SB_IO_SUBMIT_QUEUE_ENTRIES. */
    uint32_t completion_queue_entries; /* 0: SB_IO_COMPLETION_QUEUE_ENTRIES. */
    uint32_t blocking_workers_max;     /* io_uring: kernel workers running blocking file ops
                                          (fsync) at once. 0: SB_IO_BLOCKING_WORKERS. */
};

/* Creates an io on the calling thread. For io_uring, a failure is logged once with its likely
 * cause (kernel.io_uring_disabled, seccomp, RLIMIT_MEMLOCK) and SB_EIO_SETUP or -errno returned. */
int sb_io_create(const struct sb_io_config *config, struct sb_io **io_out);
/* Cancels nothing: the caller must have completed or cancelled its ops. Frees the io. */
void sb_io_destroy(struct sb_io *io);
enum sb_io_backend_kind sb_io_backend(const struct sb_io *io);

/* Now on this io's clock (monotonic ns; virtual under the simulator). */
uint64_t sb_io_now_ns(struct sb_io *io);

/* Submits everything queued, waits until at least one completion, a wake-up or `wait_ns` has
 * passed (0: do not wait), then runs callbacks for every completion ready. io_uring submits
 * the ops those callbacks started before returning (the simulator at its next run). Returns
 * the number of callbacks run, or -errno on a fatal ring error. */
int sb_io_run(struct sb_io *io, uint64_t wait_ns);
/* Ops started and not yet finished (multishot ops count until their last completion). */
uint32_t sb_io_in_flight(const struct sb_io *io);
/* The most FSYNC, FDATASYNC, SYNCFS and WRITE_DSYNC ops that were in flight at once since the
 * io was created (how tests prove that syncs overlap, by count rather than by time). */
uint32_t sb_io_syncs_in_flight_max(const struct sb_io *io);

/* Starting operations. Each takes the op (IDLE) and returns immediately; the result arrives in
 * the callback. Buffers are borrowed until the callback. */
void sb_io_nop(struct sb_io *io, struct sb_io_op *op, sb_io_callback callback, void *context);
void sb_io_read(struct sb_io *io, struct sb_io_op *op, int fd, void *buffer, uint32_t length,
                uint64_t offset, sb_io_callback callback, void *context);
void sb_io_write(struct sb_io *io, struct sb_io_op *op, int fd, const void *buffer,
                 uint32_t length, uint64_t offset, sb_io_callback callback, void *context);
void sb_io_writev(struct sb_io *io, struct sb_io_op *op, int fd, const struct iovec *vectors,
                  uint32_t vector_count, uint64_t offset, sb_io_callback callback,
                  void *context);
/* As sb_io_write, and durable once it succeeds (RWF_DSYNC): as if an fdatasync of the file
 * had followed it, for these bytes (data, and the metadata needed to read them back), in one
 * command. A failure may leave the bytes written but not durable; like fdatasync, it may also
 * report a write-back error of an earlier write of the open file. Counts as a sync in
 * sb_io_syncs_in_flight_max. */
void sb_io_write_dsync(struct sb_io *io, struct sb_io_op *op, int fd, const void *buffer,
                       uint32_t length, uint64_t offset, sb_io_callback callback,
                       void *context);
/* datasync: fdatasync semantics (data and the metadata needed to read it back). */
void sb_io_fsync(struct sb_io *io, struct sb_io_op *op, int fd, bool datasync,
                 sb_io_callback callback, void *context);
/* syncfs(2) of the filesystem holding `fd`: every file's dirty data and metadata written back
 * and the device cache flushed, in one call. The result reports write-back errors of any file
 * of that filesystem since `fd` was opened (Linux >= 5.8: the superblock's errseq; older
 * kernels may return 0 after a lost write, so callers check sb_io_syncfs_reports_errors).
 * io_uring has no syncfs op: the backend runs it on a helper thread of its own, started by the
 * first SYNCFS (a failed start fails that op). At most one SYNCFS per io may be in flight
 * (asserted). */
void sb_io_syncfs(struct sb_io *io, struct sb_io_op *op, int fd, sb_io_callback callback,
                  void *context);
/* True if this kernel's syncfs(2) reports write-back errors (Linux >= 5.8), or under the
 * simulator (whose syncfs models that). */
bool sb_io_syncfs_reports_errors(const struct sb_io *io);
/* open(2) of `path` (borrowed until the callback) as an op, so creating a file (inode
 * allocation, O_TRUNC) does not block the calling thread: io_uring runs it in a kernel
 * worker. The result is the new descriptor, to be closed with sb_io_close, or -errno. */
void sb_io_openat(struct sb_io *io, struct sb_io_op *op, const char *path, int flags,
                  unsigned mode, sb_io_callback callback, void *context);
/* Reserves blocks (fallocate mode 0) for [offset, offset + length). */
void sb_io_fallocate(struct sb_io *io, struct sb_io_op *op, int fd, uint64_t offset,
                     uint64_t length, sb_io_callback callback, void *context);
/* Accepts connections; the result is the new socket. `peer` may be NULL. */
void sb_io_accept(struct sb_io *io, struct sb_io_op *op, int listen_fd, bool multishot,
                  struct sockaddr_in *peer, sb_io_callback callback, void *context);
/* Connects socket `fd` (from sb_io_socket) to `address`. */
void sb_io_connect(struct sb_io *io, struct sb_io_op *op, int fd,
                   const struct sockaddr_in *address, sb_io_callback callback, void *context);
/* Receives into `buffer`; result 0 means the peer closed. */
void sb_io_recv(struct sb_io *io, struct sb_io_op *op, int fd, void *buffer, uint32_t length,
                sb_io_callback callback, void *context);
/* Multishot receive into buffers of `group` (sb_io_buffer_group_create): each completion
 * names its buffer, which the caller owns until sb_io_buffer_recycle. */
void sb_io_recv_multishot(struct sb_io *io, struct sb_io_op *op, int fd, uint16_t group,
                          sb_io_callback callback, void *context);
void sb_io_send(struct sb_io *io, struct sb_io_op *op, int fd, const void *buffer,
                uint32_t length, sb_io_callback callback, void *context);
void sb_io_sendmsg(struct sb_io *io, struct sb_io_op *op, int fd, const struct msghdr *message,
                   sb_io_callback callback, void *context);
/* Asks `target` to finish early: it completes with -ECANCELED (or its real result if it won
 * the race). `op`'s own result is 0, -ENOENT (already done) or -EALREADY. */
void sb_io_cancel(struct sb_io *io, struct sb_io_op *op, struct sb_io_op *target,
                  sb_io_callback callback, void *context);

/* Synchronous set-up calls (not on the hot path), routed through the backend so the simulator
 * can stand in for the kernel. Each returns an fd or -errno. */
int sb_io_open(struct sb_io *io, const char *path, int flags, unsigned mode);
int sb_io_close(struct sb_io *io, int fd);
/* A TCP socket for sb_io_connect. */
int sb_io_socket(struct sb_io *io);
/* A listening TCP socket bound to `address` (port 0 picks one; sb_io_local_port tells). */
int sb_io_listen(struct sb_io *io, const struct sockaddr_in *address, int backlog);
int sb_io_local_port(struct sb_io *io, int fd);
/* Turns off Nagle's algorithm on a connected TCP socket (TCP_NODELAY); the simulator has no
 * Nagle and only checks the descriptor. Returns 0 or -errno. */
int sb_io_socket_nodelay(struct sb_io *io, int fd);

/* Provided-buffer groups for multishot receive: `count` buffers of `buffer_bytes` each
 * (count a power of two). Returns 0 or -errno. */
int sb_io_buffer_group_create(struct sb_io *io, uint16_t group, uint32_t count,
                              uint32_t buffer_bytes);
/* Borrowed pointer to buffer `buffer_id` of `group`, valid until it is recycled. */
void *sb_io_buffer(struct sb_io *io, uint16_t group, uint16_t buffer_id);
/* Gives the buffer back to the kernel (or simulator) for later receives. */
void sb_io_buffer_recycle(struct sb_io *io, uint16_t group, uint16_t buffer_id);

/* Wakes `target` (another shard's io, possibly sleeping in sb_io_run) using `doorbell`; a
 * MSG_RING doorbell is an SQE on `self`, sent with self's next submit. */
void sb_io_wake(struct sb_io *self, struct sb_io *target, enum sb_io_doorbell doorbell);
/* Wakes `target` from any thread, including non-shard threads (eventfd). */
void sb_io_wake_external(struct sb_io *target);
/* Wake-ups received so far (for tests and metrics). */
uint64_t sb_io_wakeups(const struct sb_io *io);

#endif /* SB_CORE_IO_H */
