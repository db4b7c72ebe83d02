/*
 * core/io_backend.h - the contract between io.c and its backends
 * (io_uring.c, io_sim.c). Only those three files include it.
 *
 * A backend embeds struct sb_io as the first member of its own state, fills
 * in `ops`, and reports every completion through sb_io_complete(), which
 * keeps the op state machine and the in-flight count honest for all backends.
 */
#ifndef SB_CORE_IO_BACKEND_H
#define SB_CORE_IO_BACKEND_H

#include "core/io.h"

struct sb_io_backend_ops {
    void (*destroy)(struct sb_io *io);
    uint64_t (*now_ns)(struct sb_io *io);
    /* Takes a QUEUED op; it is submitted no later than the next run. */
    void (*queue)(struct sb_io *io, struct sb_io_op *op);
    int (*run)(struct sb_io *io, uint64_t wait_ns);
    int (*open)(struct sb_io *io, const char *path, int flags, unsigned mode);
    int (*close)(struct sb_io *io, int fd);
    int (*socket)(struct sb_io *io);
    int (*listen)(struct sb_io *io, const struct sockaddr_in *address, int backlog);
    int (*local_port)(struct sb_io *io, int fd);
    int (*socket_nodelay)(struct sb_io *io, int fd);
    int (*buffer_group_create)(struct sb_io *io, uint16_t group, uint32_t count,
                               uint32_t buffer_bytes);
    void *(*buffer)(struct sb_io *io, uint16_t group, uint16_t buffer_id);
    void (*buffer_recycle)(struct sb_io *io, uint16_t group, uint16_t buffer_id);
    void (*wake)(struct sb_io *self, struct sb_io *target, enum sb_io_doorbell doorbell);
    void (*wake_external)(struct sb_io *target);
};

struct sb_io {
    const struct sb_io_backend_ops *ops; /* The live backend. */
    enum sb_io_backend_kind kind;        /* Which backend `ops` belongs to. */
    uint32_t in_flight;                  /* Ops QUEUED or IN_FLIGHT. */
    uint32_t syncs_in_flight;            /* FSYNC and FDATASYNC ops among them. */
    uint32_t syncs_in_flight_max;        /* The most syncs_in_flight has been. */
    uint64_t wakeups;                    /* Doorbells received (owner thread only). */
};

/* Delivers one completion of `op`: records result and flags, moves the op back to IDLE unless
 * `more`, and runs its callback. */
void sb_io_complete(struct sb_io *io, struct sb_io_op *op, int32_t result, bool more,
                    bool has_buffer, uint16_t buffer_id);

/* Backend constructors, called by sb_io_create on the owning thread. */
int sb_io_uring_create(const struct sb_io_config *config, struct sb_io **io_out);
int sb_io_sim_create(const struct sb_io_config *config, struct sb_io **io_out);

#endif /* SB_CORE_IO_BACKEND_H */
