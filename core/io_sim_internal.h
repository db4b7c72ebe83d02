/*
 * core/io_sim_internal.h - private to the simulator's three files: io_sim.c
 * (the world, each io's event heap and run loop), io_sim_disk.c (real files,
 * unsynced writes, disk faults, power loss) and io_sim_net.c (simulated
 * sockets). Nothing else includes it; everyone else sees core/sim.h and
 * core/io.h.
 *
 * Every op a sim io has accepted is in exactly one of two places until its
 * last completion: an event in its io's heap (due at a virtual time), or parked
 * on a simulated socket waiting for bytes or a connection (io_sim_net.c).
 */
#ifndef SB_CORE_IO_SIM_INTERNAL_H
#define SB_CORE_IO_SIM_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/io_backend.h"
#include "core/limits.h"
#include "core/sim.h"

/* Virtual socket descriptors start here, far above any real descriptor of the process. */
#define SB_SIM_SOCKET_FD_BASE (1 << 20)

enum sim_event_action {
    SIM_EVENT_EXECUTE = 0,  /* Do the op's work when due (syscall, receive, accept, cancel). */
    SIM_EVENT_COMPLETE = 1, /* Deliver `result`, decided earlier, when due. */
};

/* One pending event of an io: ordered by (due_ns, sequence), never by address. */
struct sim_event {
    struct sb_io_op *op; /* The op it belongs to (borrowed from the caller). */
    uint64_t due_ns;     /* Virtual time at which it fires. */
    uint64_t sequence;   /* World-wide push order: breaks ties between equal due_ns. */
    int32_t result;      /* SIM_EVENT_COMPLETE: the result to deliver. */
    uint8_t action;      /* enum sim_event_action. */
};

/* Provided buffers of one group, handed out in FIFO order of their return. */
struct sim_buffer_group {
    uint8_t *memory;       /* count * buffer_bytes bytes (owned); NULL: group not created. */
    uint16_t *free_ids;    /* Ring of free buffer ids, count entries (owned). */
    bool *lent;            /* Per buffer: handed to the caller, not yet recycled (owned). */
    uint32_t count;        /* Buffers in the group (power of two). */
    uint32_t buffer_bytes; /* Bytes per buffer. */
    uint32_t free_head;    /* Ring index of the oldest free id. */
    uint32_t free_count;   /* Free ids in the ring. */
};

/* One simulated shard's io: the backend state behind struct sb_io. */
struct sim_io {
    struct sb_io base;        /* Must be first: the backend contract. */
    struct sb_sim *sim;       /* The world this io joined (borrowed). */
    struct sim_event *events; /* Min-heap of pending events (owned). */
    uint32_t event_count;     /* Events in the heap. */
    uint32_t event_capacity;  /* Slots allocated; doubles up to SB_SIM_EVENTS_MAX. */
    uint64_t completions;     /* Callbacks run so far (run returns the difference). */
    bool woken;               /* A wake arrived since the last run. */
    bool dead;                /* Power was lost under it: nothing runs, destroy only. */
    struct sim_buffer_group groups[SB_IO_BUFFER_GROUPS_MAX]; /* By group id. */
};

/* One write not yet covered by an fsync, with what it overwrote. */
struct sim_write {
    struct sim_write *older; /* Previous unsynced write of the same file; NULL: oldest. */
    struct sim_write *newer; /* Next unsynced write of the same file; NULL: newest. */
    uint64_t offset;         /* File offset of the first byte written. */
    uint32_t length;         /* Bytes written (after any short-write fault). */
    uint32_t before_bytes;   /* Pre-image bytes that existed; the rest was past EOF. */
    uint32_t kept_bytes;     /* Power loss only: the prefix that survives (TEAR, GARBLE). */
    uint32_t garbled_bytes;  /* Power loss only: bytes after the prefix left as garbage
                                (GARBLE mode: the rest of one sector). */
    uint8_t *before;         /* Pre-image, `length` bytes, zero past before_bytes (in block). */
    uint8_t *after;          /* The bytes written, `length` bytes (in the same block). */
    int32_t writeback_error; /* A write-back fault: the next fsync of the file fails with it
                                and undoes this write (0: none). */
};

/* A real file (one inode) written through the world, whatever descriptors name it. */
struct sim_file {
    bool used;                /* Slot holds a file. */
    bool regular;             /* S_ISREG: only regular files are rewritten at power loss. */
    dev_t device;             /* Identity of the inode... */
    ino_t inode;              /*   ...so two opens of one file share their history. */
    int shadow_fd;            /* Our own O_RDWR descriptor, -1 if never opened for writing. */
    uint32_t fd_count;        /* Caller descriptors open on it. */
    uint64_t synced_size;     /* Size at the last successful fsync (or at first open). */
    struct sim_write *oldest; /* Unsynced writes, oldest first (owned). */
    struct sim_write *newest; /* The newest unsynced write (owned, same list). */
    int32_t error_unreported; /* A write-back error a SYNCFS reported first: the file's own
                                 next fsync reports it too (Linux keeps an error sequence per
                                 file and one per filesystem), then 0. */
};

/* A caller's descriptor on a tracked file. */
struct sim_fd {
    bool used;           /* Slot holds a descriptor. */
    bool direct;         /* Opened with O_DIRECT: alignment is asserted on every op. */
    int fd;              /* The real descriptor the caller holds. */
    uint32_t file_index; /* Its file in sb_sim.files. */
};

/* A one-shot fault from sb_sim_fault_once. */
struct sim_fault_once {
    bool armed;         /* Still waiting for its op. */
    uint8_t kind;       /* WRITE, READ, FSYNC or SYNCFS (WRITEV, FDATASYNC fold into these). */
    uint32_t remaining; /* Matching ops still to pass, counting the one that fails. */
    int32_t error;      /* -errno to inject. */
    bool writeback;     /* WRITE: fails at the next fsync instead (sb_sim_fault_once). */
};

struct sim_net;

/* The world: one per simulation, shared by every io that joins it. */
struct sb_sim {
    uint64_t now_ns;             /* The virtual clock; never moves backwards. */
    uint64_t alarm_ns;           /* sb_sim_alarm: moving time stops here first; 0: none. */
    uint64_t random[4];          /* xoshiro256** state. */
    uint64_t sequence;           /* Next event sequence number. */
    uint64_t trace_hash;         /* FNV-1a over every completion. */
    uint64_t trace_count;        /* Completions folded into trace_hash. */
    struct sb_sim_faults faults; /* Rates and latencies in force. */
    struct sim_fault_once once[SB_SIM_FAULTS_ONCE_MAX]; /* Armed one-shot faults. */
    struct sim_io *ios[SB_SIM_IOS_MAX];      /* Joined ios in join order (borrowed). */
    uint32_t io_count;                       /* Entries used in `ios`. */
    struct sim_fd fds[SB_SIM_FILES_MAX];     /* Caller descriptors of tracked files. */
    struct sim_file files[SB_SIM_FILES_MAX]; /* Tracked inodes. */
    int32_t syncfs_error_unreported;         /* A write-back error a file's fsync reported
                                                first: the next SYNCFS reports it too. */
    uint32_t unsynced_writes;    /* sim_write records alive in all files. */
    uint64_t unsynced_bytes;     /* Sum of their lengths. */
    struct sim_net *net;         /* The simulated network (owned, io_sim_net.c). */
};

/* io_sim.c, for io_sim_disk.c and io_sim_net.c. */

/* Schedules `op` on `io` at `due_ns` (never before now). */
void sb_sim_event_push(struct sim_io *io, struct sb_io_op *op, uint64_t due_ns,
                       enum sim_event_action action, int32_t result);
/* Turns every pending event of any io whose op works on `fd` into -ECANCELED, due now. */
void sb_sim_events_cancel_fd(struct sb_sim *sim, int fd);
/* Folds one completion into the trace and delivers it through sb_io_complete. */
void sb_sim_complete(struct sim_io *io, struct sb_io_op *op, int32_t result, bool more,
                     bool has_buffer, uint16_t buffer_id);
/* Uniform in [min_value, max_value] (max below min counts as min). */
uint64_t sb_sim_uniform(struct sb_sim *sim, uint64_t min_value, uint64_t max_value);
/* True with probability ppm / 1e6; draws nothing when ppm is 0. */
bool sb_sim_chance(struct sb_sim *sim, uint32_t ppm);
/* Takes the oldest free buffer of `group`, or returns NULL when none is free (or no group). */
void *sb_sim_buffer_take(struct sim_io *io, uint16_t group, uint16_t *buffer_id_out,
                         uint32_t *buffer_bytes_out);

/* io_sim_disk.c, for io_sim.c. */

/* Frees every remembered write and shadow descriptor (callers' descriptors stay open). */
void sb_sim_disk_destroy(struct sb_sim *sim);
/* The tracked caller descriptor `fd`, or NULL. */
struct sim_fd *sb_sim_disk_fd_find(struct sb_sim *sim, int fd);
int sb_sim_disk_open(struct sim_io *io, const char *path, int flags, unsigned mode);
int sb_sim_disk_close(struct sim_io *io, int fd);
/* Submits a disk op (READ, WRITE, WRITEV, FSYNC, FDATASYNC, FALLOCATE). */
void sb_sim_disk_queue(struct sim_io *io, struct sb_io_op *op);
/* Runs a due disk op: the real syscall, faults, and the unsynced-write bookkeeping. */
void sb_sim_disk_execute(struct sim_io *io, struct sb_io_op *op);

/* io_sim_net.c, for io_sim.c. */

int sb_sim_net_create(struct sb_sim *sim, struct sim_net **net_out);
/* Frees every socket and the table. */
void sb_sim_net_destroy(struct sim_net *net);
/* Power loss: drops every socket and its bytes without completing anything. */
void sb_sim_net_wipe(struct sim_net *net);
int sb_sim_net_socket(struct sim_io *io);
int sb_sim_net_listen(struct sim_io *io, const struct sockaddr_in *address, int backlog);
int sb_sim_net_local_port(struct sim_io *io, int fd);
/* 0 if `fd` is a connected socket (reset or not), else -EBADF or -ENOTCONN. */
int sb_sim_net_connected(struct sim_io *io, int fd);
int sb_sim_net_close(struct sim_io *io, int fd);
/* Submits a socket op (ACCEPT, CONNECT, RECV, SEND, SENDMSG). */
void sb_sim_net_queue(struct sim_io *io, struct sb_io_op *op);
/* Runs a due SIM_EVENT_EXECUTE of an ACCEPT or RECV. */
void sb_sim_net_execute(struct sim_io *io, struct sb_io_op *op);
/* Cancel: if a socket holds `op` (parked or scheduled), lets go of it and returns true. */
bool sb_sim_net_forget(struct sim_io *io, struct sb_io_op *op);

#endif /* SB_CORE_IO_SIM_INTERNAL_H */
