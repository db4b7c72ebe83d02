/*
 * test/core/test_io_sim.c - the deterministic simulation backend (core/io_sim*.c
 * behind core/io.h and core/sim.h): seed replay of a mixed workload, the
 * virtual clock, real-file round trips, every disk fault, one-shot "fail the
 * Nth op" faults, power loss (lose and tear), simulated sockets (connect,
 * accept, ordered delivery, multishot receive with provided buffers, close,
 * reset, cancel), wake-ups, the driver's alarm, and death on misuse.
 *
 * Helpers at the top: a probe records every completion of one op; drain runs
 * ios and advances the world until nothing is left to happen.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/io.h"
#include "core/sim.h"

#define PROBE_CALLS_MAX 64
#define DRAIN_ROUNDS_MAX 1000000
#define EPOCH_NS 1000000000ull

/* One op and every completion it had. */
struct probe {
    struct sb_io_op op;                  /* The op under test. */
    uint32_t calls;                      /* Completions so far. */
    int32_t results[PROBE_CALLS_MAX];    /* Result of each completion. */
    bool more[PROBE_CALLS_MAX];          /* `more` of each completion. */
    bool has_buffer[PROBE_CALLS_MAX];    /* `has_buffer` of each completion. */
    uint16_t buffer_ids[PROBE_CALLS_MAX]; /* `buffer_id` of each completion. */
};

static void
probe_done(struct sb_io_op *op)
{
    struct probe *probe = op->context;
    cr_assert_lt(probe->calls, PROBE_CALLS_MAX);
    probe->results[probe->calls] = op->result;
    probe->more[probe->calls] = op->more;
    probe->has_buffer[probe->calls] = op->has_buffer;
    probe->buffer_ids[probe->calls] = op->buffer_id;
    probe->calls++;
}

static int32_t
probe_last(const struct probe *probe)
{
    cr_assert_gt(probe->calls, 0);
    return probe->results[probe->calls - 1];
}

static struct sb_sim *
world_create(uint64_t seed, const struct sb_sim_faults *faults)
{
    struct sb_sim_config config;
    memset(&config, 0, sizeof(config));
    config.seed = seed;
    if (faults != NULL) {
        config.faults = *faults;
    }
    struct sb_sim *sim = NULL;
    cr_assert_eq(sb_sim_create(&config, &sim), 0);
    return sim;
}

static struct sb_io *
world_join(struct sb_sim *sim)
{
    struct sb_io_config config;
    memset(&config, 0, sizeof(config));
    config.backend = SB_IO_BACKEND_SIM;
    config.sim = sim;
    struct sb_io *io = NULL;
    cr_assert_eq(sb_io_create(&config, &io), 0);
    cr_assert_eq(sb_io_backend(io), SB_IO_BACKEND_SIM);
    return io;
}

/* Runs every io, then advances time, until no io has anything left to run. */
static void
drain(struct sb_sim *sim, struct sb_io **ios, int count)
{
    for (int round = 0; round < DRAIN_ROUNDS_MAX; round++) {
        int ran = 0;
        for (int index = 0; index < count; index++) {
            int result = sb_io_run(ios[index], 0);
            cr_assert_geq(result, 0);
            ran += result;
        }
        if (ran == 0 && !sb_sim_advance(sim)) {
            return;
        }
    }
    cr_assert_fail("the simulation did not settle");
}

static void
drain_one(struct sb_sim *sim, struct sb_io *io)
{
    drain(sim, &io, 1);
}

static void
tmp_dir_create(char *dir, size_t size)
{
    snprintf(dir, size, "/tmp/sb_io_sim_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void
tmp_dir_remove(const char *dir)
{
    DIR *handle = opendir(dir);
    cr_assert_not_null(handle);
    struct dirent *entry;
    while ((entry = readdir(handle)) != NULL) {
        if (strcmp(entry->d_name, ".") != 0 && strcmp(entry->d_name, "..") != 0) {
            cr_assert_eq(unlinkat(dirfd(handle), entry->d_name, 0), 0);
        }
    }
    closedir(handle);
    cr_assert_eq(rmdir(dir), 0);
}

static void
tmp_path(char *path, size_t size, const char *dir, const char *name)
{
    snprintf(path, size, "%s/%s", dir, name);
}

/* Reads a whole file with plain syscalls; returns its size. */
static size_t
file_slurp(const char *path, uint8_t *buffer, size_t capacity)
{
    int fd = open(path, O_RDONLY);
    cr_assert_geq(fd, 0);
    ssize_t count = pread(fd, buffer, capacity, 0);
    cr_assert_geq(count, 0);
    struct stat status;
    cr_assert_eq(fstat(fd, &status), 0);
    close(fd);
    cr_assert_eq((size_t)status.st_size, (size_t)count, "file larger than the test buffer");
    return (size_t)count;
}

static int32_t
write_wait(struct sb_sim *sim, struct sb_io *io, int fd, const void *bytes, uint32_t length,
           uint64_t offset)
{
    struct probe probe = {0};
    sb_io_write(io, &probe.op, fd, bytes, length, offset, probe_done, &probe);
    drain_one(sim, io);
    cr_assert_eq(probe.calls, 1);
    return probe.results[0];
}

static int32_t
fsync_wait(struct sb_sim *sim, struct sb_io *io, int fd, bool datasync)
{
    struct probe probe = {0};
    sb_io_fsync(io, &probe.op, fd, datasync, probe_done, &probe);
    drain_one(sim, io);
    cr_assert_eq(probe.calls, 1);
    return probe.results[0];
}

static int32_t
read_wait(struct sb_sim *sim, struct sb_io *io, int fd, void *bytes, uint32_t length,
          uint64_t offset)
{
    struct probe probe = {0};
    sb_io_read(io, &probe.op, fd, bytes, length, offset, probe_done, &probe);
    drain_one(sim, io);
    cr_assert_eq(probe.calls, 1);
    return probe.results[0];
}

static int32_t
writev_wait(struct sb_sim *sim, struct sb_io *io, int fd, const struct iovec *vectors,
            uint32_t count, uint64_t offset)
{
    struct probe probe = {0};
    sb_io_writev(io, &probe.op, fd, vectors, count, offset, probe_done, &probe);
    drain_one(sim, io);
    cr_assert_eq(probe.calls, 1);
    return probe.results[0];
}

static struct sockaddr_in
loopback(int port)
{
    struct sockaddr_in address;
    memset(&address, 0, sizeof(address));
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons((uint16_t)port);
    return address;
}

/* A connected pair on `io`: listener (port 0), single accept, connect. */
static void
net_pair(struct sb_sim *sim, struct sb_io *io, int *client_out, int *server_out)
{
    struct sockaddr_in any = loopback(0);
    int listener = sb_io_listen(io, &any, 8);
    cr_assert_geq(listener, 0);
    struct sockaddr_in target = loopback(sb_io_local_port(io, listener));
    int client = sb_io_socket(io);
    cr_assert_geq(client, 0);
    struct probe accept = {0};
    struct probe connect = {0};
    sb_io_accept(io, &accept.op, listener, false, NULL, probe_done, &accept);
    sb_io_connect(io, &connect.op, client, &target, probe_done, &connect);
    drain_one(sim, io);
    cr_assert_eq(connect.calls, 1);
    cr_assert_eq(connect.results[0], 0);
    cr_assert_eq(accept.calls, 1);
    cr_assert_geq(accept.results[0], 1 << 20, "virtual descriptors are far above real ones");
    cr_assert_eq(sb_io_close(io, listener), 0);
    *client_out = client;
    *server_out = accept.results[0];
}

/* ---- Determinism ------------------------------------------------------------------------ */

struct workload_net {
    struct sb_sim *sim;   /* The world. */
    struct sb_io *ios[2]; /* Client side, server side. */
    int client;           /* Client socket, -1 when not connected. */
    int server;           /* Server socket, -1 when not connected. */
    struct probe accepts; /* The multishot accept on the listener. */
    int port;             /* Listener port. */
};

static void
workload_connect(struct workload_net *net)
{
    struct sockaddr_in target = loopback(net->port);
    net->client = sb_io_socket(net->ios[0]);
    struct probe connect = {0};
    uint32_t accepted = net->accepts.calls;
    sb_io_connect(net->ios[0], &connect.op, net->client, &target, probe_done, &connect);
    drain(net->sim, net->ios, 2);
    cr_assert_eq(connect.results[0], 0);
    cr_assert_eq(net->accepts.calls, accepted + 1);
    net->server = probe_last(&net->accepts);
}

/* One message each way; on a reset both ends are closed and the next round reconnects. */
static void
workload_ping(struct workload_net *net, uint32_t round)
{
    uint8_t out[64];
    uint8_t in[64];
    memset(out, (int)round, sizeof(out));
    int from[2] = {net->client, net->server};
    int to[2] = {net->server, net->client};
    for (int leg = 0; leg < 2; leg++) {
        struct probe send = {0};
        struct probe recv = {0};
        sb_io_recv(net->ios[1 - leg], &recv.op, to[leg], in, sizeof(in), probe_done, &recv);
        sb_io_send(net->ios[leg], &send.op, from[leg], out, sizeof(out), probe_done, &send);
        drain(net->sim, net->ios, 2);
        if (send.results[0] == -ECONNRESET) {
            cr_assert_eq(recv.results[0], -ECONNRESET);
            cr_assert_eq(sb_io_close(net->ios[0], net->client), 0);
            cr_assert_eq(sb_io_close(net->ios[1], net->server), 0);
            net->client = -1;
            return;
        }
        cr_assert_eq(send.results[0], (int32_t)sizeof(out));
        cr_assert_gt(recv.results[0], 0);
        cr_assert_eq(memcmp(in, out, (size_t)recv.results[0]), 0);
    }
}

static void
workload_disk(struct sb_sim *sim, struct sb_io *io, const char *dir)
{
    char path[256];
    tmp_path(path, sizeof(path), dir, "log");
    int fd = sb_io_open(io, path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    cr_assert_geq(fd, 0);
    static uint8_t block[4096];
    for (uint32_t round = 0; round < 16; round++) {
        memset(block, (int)round, sizeof(block));
        write_wait(sim, io, fd, block, sizeof(block), round * sizeof(block));
        fsync_wait(sim, io, fd, round % 2 == 0);
        read_wait(sim, io, fd, block, sizeof(block), 0);
        cr_assert_eq(sb_io_run(io, 50000 + round), 0, "an idle wait is a timer");
    }
    cr_assert_eq(sb_io_close(io, fd), 0);
}

static void
workload_run(uint64_t seed, uint64_t *hash_out, uint64_t *count_out, uint64_t *now_out)
{
    struct sb_sim_faults faults = {
        .write_error_ppm = 100000,
        .write_short_ppm = 100000,
        .read_error_ppm = 100000,
        .fsync_error_ppm = 100000,
        .connection_reset_ppm = 100000,
        .disk_latency_min_ns = 10000,
        .disk_latency_max_ns = 200000,
        .net_latency_min_ns = 5000,
        .net_latency_max_ns = 100000,
    };
    struct workload_net net = {.sim = world_create(seed, &faults), .client = -1};
    net.ios[0] = world_join(net.sim);
    net.ios[1] = world_join(net.sim);
    char dir[64];
    tmp_dir_create(dir, sizeof(dir));
    workload_disk(net.sim, net.ios[0], dir);
    struct sockaddr_in any = loopback(0);
    int listener = sb_io_listen(net.ios[1], &any, 16);
    net.port = sb_io_local_port(net.ios[1], listener);
    sb_io_accept(net.ios[1], &net.accepts.op, listener, true, NULL, probe_done, &net.accepts);
    for (uint32_t round = 0; round < 24; round++) {
        if (net.client < 0) {
            workload_connect(&net);
        }
        workload_ping(&net, round);
    }
    if (net.client >= 0) {
        cr_assert_eq(sb_io_close(net.ios[0], net.client), 0);
        cr_assert_eq(sb_io_close(net.ios[1], net.server), 0);
    }
    cr_assert_eq(sb_io_close(net.ios[1], listener), 0);
    drain(net.sim, net.ios, 2);
    cr_assert_eq(probe_last(&net.accepts), -ECANCELED);
    *hash_out = sb_sim_trace_hash(net.sim);
    *count_out = sb_sim_trace_count(net.sim);
    *now_out = sb_sim_now_ns(net.sim);
    sb_io_destroy(net.ios[0]);
    sb_io_destroy(net.ios[1]);
    sb_sim_destroy(net.sim);
    tmp_dir_remove(dir);
}

Test(io_sim, same_seed_replays_the_same_trace)
{
    uint64_t hash[3];
    uint64_t count[3];
    uint64_t now[3];
    workload_run(42, &hash[0], &count[0], &now[0]);
    workload_run(42, &hash[1], &count[1], &now[1]);
    workload_run(43, &hash[2], &count[2], &now[2]);
    cr_assert_gt(count[0], 100);
    cr_assert_eq(hash[0], hash[1], "same seed, same trace");
    cr_assert_eq(count[0], count[1]);
    cr_assert_eq(now[0], now[1]);
    cr_assert_neq(hash[0], hash[2], "another seed, another trace");
}

Test(io_sim, random_is_seeded)
{
    struct sb_sim *first = world_create(7, NULL);
    struct sb_sim *second = world_create(7, NULL);
    struct sb_sim *other = world_create(8, NULL);
    bool differs = false;
    for (int index = 0; index < 16; index++) {
        uint64_t value = sb_sim_random(first);
        cr_assert_eq(value, sb_sim_random(second));
        differs = differs || value != sb_sim_random(other);
    }
    cr_assert(differs);
    sb_sim_destroy(first);
    sb_sim_destroy(second);
    sb_sim_destroy(other);
}

/* ---- The virtual clock ------------------------------------------------------------------ */

static void
chain_nop_done(struct sb_io_op *op)
{
    struct probe *probe = op->context;
    probe->calls++;
}

Test(io_sim, clock_only_jumps)
{
    struct sb_sim_faults faults = {.disk_latency_min_ns = 10000, .disk_latency_max_ns = 10000};
    struct sb_sim *sim = world_create(1, &faults);
    struct sb_io *io = world_join(sim);
    cr_assert_eq(sb_sim_now_ns(sim), EPOCH_NS);
    cr_assert_eq(sb_io_run(io, 0), 0);
    cr_assert_eq(sb_sim_now_ns(sim), EPOCH_NS, "run(0) never moves time");
    cr_assert_eq(sb_io_run(io, 5000), 0);
    cr_assert_eq(sb_sim_now_ns(sim), EPOCH_NS + 5000, "an idle wait lasts exactly wait_ns");
    cr_assert_eq(sb_io_now_ns(io), EPOCH_NS + 5000);
    cr_assert_not(sb_sim_advance(sim), "nothing pending");
    sb_sim_sleep(sim, 1000);
    cr_assert_eq(sb_sim_now_ns(sim), EPOCH_NS + 6000);

    /* A pending event earlier than the wait ends the wait at its due time. */
    struct probe probe = {0};
    sb_io_fsync(io, &probe.op, 99, false, probe_done, &probe);
    cr_assert_eq(sb_io_in_flight(io), 1);
    cr_assert_eq(sb_io_run(io, 1000000), 1);
    cr_assert_eq(probe.results[0], -EBADF, "not a file opened through the simulator");
    cr_assert_eq(sb_sim_now_ns(sim), EPOCH_NS + 16000);
    cr_assert_eq(sb_io_in_flight(io), 0);

    /* sb_sim_advance jumps to the earliest event; NOP is due at once. */
    sb_io_fsync(io, &probe.op, 99, false, probe_done, &probe);
    cr_assert(sb_sim_advance(sim));
    cr_assert_eq(sb_sim_now_ns(sim), EPOCH_NS + 26000);
    cr_assert_eq(sb_io_run(io, 0), 1);
    sb_io_nop(io, &probe.op, chain_nop_done, &probe);
    uint32_t calls = probe.calls;
    cr_assert_eq(sb_io_run(io, 0), 1);
    cr_assert_eq(probe.calls, calls + 1);
    cr_assert_eq(sb_sim_now_ns(sim), EPOCH_NS + 26000);
    sb_io_destroy(io);
    sb_sim_destroy(sim);
}

struct chain {
    struct sb_io_op op; /* Re-started by its own callback. */
    struct sb_io *io;   /* Where to re-start it. */
    uint32_t calls;     /* Completions so far. */
};

static void
chain_done(struct sb_io_op *op)
{
    struct chain *chain = op->context;
    chain->calls++;
    if (chain->calls < 3) {
        sb_io_nop(chain->io, &chain->op, chain_done, chain);
    }
}

Test(io_sim, ops_started_by_callbacks_run_in_the_next_run)
{
    struct sb_sim *sim = world_create(1, NULL);
    struct sb_io *io = world_join(sim);
    struct chain chain = {.io = io};
    sb_io_nop(io, &chain.op, chain_done, &chain);
    cr_assert_eq(sb_io_run(io, 0), 1);
    cr_assert_eq(sb_io_run(io, 0), 1);
    cr_assert_eq(sb_io_run(io, 0), 1);
    cr_assert_eq(sb_io_run(io, 0), 0);
    cr_assert_eq(chain.calls, 3);
    sb_io_destroy(io);
    sb_sim_destroy(sim);
}

Test(io_sim, wake_returns_without_advancing_time)
{
    struct sb_sim *sim = world_create(1, NULL);
    struct sb_io *sender = world_join(sim);
    struct sb_io *receiver = world_join(sim);
    sb_io_wake(sender, receiver, SB_IO_DOORBELL_MSG_RING);
    cr_assert_eq(sb_io_run(receiver, 1000000), 0);
    cr_assert_eq(sb_sim_now_ns(sim), EPOCH_NS, "woken: no wait");
    cr_assert_eq(sb_io_wakeups(receiver), 1);
    sb_io_wake_external(receiver);
    cr_assert_eq(sb_io_run(receiver, 1000), 0);
    cr_assert_eq(sb_io_wakeups(receiver), 2);
    cr_assert_eq(sb_sim_now_ns(sim), EPOCH_NS);
    cr_assert_eq(sb_io_run(receiver, 1000), 0);
    cr_assert_eq(sb_sim_now_ns(sim), EPOCH_NS + 1000, "the flag was consumed");
    cr_assert_eq(sb_io_wakeups(sender), 0);
    sb_io_destroy(sender);
    sb_io_destroy(receiver);
    sb_sim_destroy(sim);
}

/* ---- Files ------------------------------------------------------------------------------ */

struct disk_fixture {
    struct sb_sim *sim; /* The world. */
    struct sb_io *io;   /* Its one io. */
    char dir[64];       /* mkdtemp directory, removed at the end. */
    char path[128];     /* dir/data. */
    int fd;             /* path, opened O_RDWR | O_CREAT. */
};

static void
disk_setup(struct disk_fixture *disk, uint64_t seed, const struct sb_sim_faults *faults)
{
    disk->sim = world_create(seed, faults);
    disk->io = world_join(disk->sim);
    tmp_dir_create(disk->dir, sizeof(disk->dir));
    tmp_path(disk->path, sizeof(disk->path), disk->dir, "data");
    disk->fd = sb_io_open(disk->io, disk->path, O_RDWR | O_CREAT, 0600);
    cr_assert_geq(disk->fd, 0);
}

static void
disk_teardown(struct disk_fixture *disk)
{
    if (disk->fd >= 0) {
        cr_assert_eq(sb_io_close(disk->io, disk->fd), 0);
    }
    sb_io_destroy(disk->io);
    sb_sim_destroy(disk->sim);
    tmp_dir_remove(disk->dir);
}

static void
clear_faults(struct sb_sim *sim)
{
    struct sb_sim_faults none;
    memset(&none, 0, sizeof(none));
    sb_sim_set_faults(sim, &none);
}

Test(io_sim, file_write_fsync_read_round_trip)
{
    struct sb_sim_faults faults = {.disk_latency_min_ns = 1000, .disk_latency_max_ns = 9000};
    struct disk_fixture disk;
    disk_setup(&disk, 3, &faults);
    uint8_t out[3000];
    for (size_t index = 0; index < sizeof(out); index++) {
        out[index] = (uint8_t)(index * 7);
    }
    cr_assert_eq(write_wait(disk.sim, disk.io, disk.fd, out, sizeof(out), 100), 3000);
    struct iovec vectors[2] = {{out, 10}, {out + 10, 20}};
    cr_assert_eq(writev_wait(disk.sim, disk.io, disk.fd, vectors, 2, 3100), 30);
    cr_assert_eq(fsync_wait(disk.sim, disk.io, disk.fd, true), 0);
    uint8_t in[4000] = {0};
    cr_assert_eq(read_wait(disk.sim, disk.io, disk.fd, in, sizeof(in), 0), 3130);
    cr_assert_eq(memcmp(in + 100, out, 3000), 0);
    cr_assert_eq(memcmp(in + 3100, out, 30), 0);
    cr_assert_eq(in[0], 0);
    cr_assert_gt(sb_sim_now_ns(disk.sim), EPOCH_NS, "disk latency took virtual time");

    struct probe probe = {0};
    sb_io_fallocate(disk.io, &probe.op, disk.fd, 0, 8192, probe_done, &probe);
    drain_one(disk.sim, disk.io);
    cr_assert_eq(probe.results[0], 0);
    struct stat status;
    cr_assert_eq(fstat(disk.fd, &status), 0);
    cr_assert_eq(status.st_size, 8192);
    cr_assert_eq(sb_io_local_port(disk.io, disk.fd), -ENOTSOCK);
    cr_assert_eq(sb_io_open(disk.io, disk.path, O_WRONLY | O_APPEND, 0), -EINVAL);
    disk_teardown(&disk);
}

Test(io_sim, write_error_fault_writes_nothing)
{
    struct sb_sim_faults faults = {.write_error_ppm = 1000000};
    struct disk_fixture disk;
    disk_setup(&disk, 4, &faults);
    uint8_t bytes[4096] = {1};
    cr_assert_eq(write_wait(disk.sim, disk.io, disk.fd, bytes, sizeof(bytes), 0), -EIO);
    struct stat status;
    cr_assert_eq(fstat(disk.fd, &status), 0);
    cr_assert_eq(status.st_size, 0);
    disk_teardown(&disk);
}

Test(io_sim, write_nospace_fault_writes_nothing)
{
    struct sb_sim_faults faults = {.write_nospace_ppm = 1000000};
    struct disk_fixture disk;
    disk_setup(&disk, 5, &faults);
    uint8_t bytes[4096] = {1};
    struct iovec vector = {bytes, sizeof(bytes)};
    cr_assert_eq(writev_wait(disk.sim, disk.io, disk.fd, &vector, 1, 0), -ENOSPC);
    struct stat status;
    cr_assert_eq(fstat(disk.fd, &status), 0);
    cr_assert_eq(status.st_size, 0);
    disk_teardown(&disk);
}

Test(io_sim, short_write_writes_an_aligned_prefix)
{
    struct sb_sim_faults faults = {.write_short_ppm = 1000000};
    struct disk_fixture disk;
    disk_setup(&disk, 6, &faults);
    static uint8_t bytes[8192];
    static uint8_t back[16384];
    memset(bytes, 0xab, sizeof(bytes));
    for (int attempt = 0; attempt < 8; attempt++) {
        cr_assert_eq(ftruncate(disk.fd, 0), 0);
        int32_t result = write_wait(disk.sim, disk.io, disk.fd, bytes, sizeof(bytes), 0);
        cr_assert_gt(result, 0);
        cr_assert_lt(result, (int32_t)sizeof(bytes));
        cr_assert_eq(result % 512, 0);
        cr_assert_eq(file_slurp(disk.path, back, sizeof(back)), (size_t)result);
        cr_assert_eq(memcmp(back, bytes, (size_t)result), 0, "the prefix is written");
        cr_assert_eq(fsync_wait(disk.sim, disk.io, disk.fd, false), 0);
    }
    cr_assert_eq(write_wait(disk.sim, disk.io, disk.fd, bytes, 512, 0), 512,
                 "one sector cannot be shortened");
    disk_teardown(&disk);
}

Test(io_sim, read_error_fault)
{
    struct disk_fixture disk;
    disk_setup(&disk, 7, NULL);
    uint8_t bytes[512] = {9};
    cr_assert_eq(write_wait(disk.sim, disk.io, disk.fd, bytes, sizeof(bytes), 0), 512);
    struct sb_sim_faults faults = {.read_error_ppm = 1000000};
    sb_sim_set_faults(disk.sim, &faults);
    cr_assert_eq(read_wait(disk.sim, disk.io, disk.fd, bytes, sizeof(bytes), 0), -EIO);
    clear_faults(disk.sim);
    cr_assert_eq(read_wait(disk.sim, disk.io, disk.fd, bytes, sizeof(bytes), 0), 512);
    disk_teardown(&disk);
}

Test(io_sim, fsync_error_leaves_writes_unsynced)
{
    struct disk_fixture disk;
    disk_setup(&disk, 8, NULL);
    uint8_t synced[4096];
    uint8_t later[4096];
    memset(synced, 'a', sizeof(synced));
    memset(later, 'b', sizeof(later));
    cr_assert_eq(write_wait(disk.sim, disk.io, disk.fd, synced, sizeof(synced), 0), 4096);
    cr_assert_eq(fsync_wait(disk.sim, disk.io, disk.fd, false), 0);
    cr_assert_eq(write_wait(disk.sim, disk.io, disk.fd, later, sizeof(later), 0), 4096);
    cr_assert_eq(write_wait(disk.sim, disk.io, disk.fd, later, sizeof(later), 4096), 4096);
    struct sb_sim_faults faults = {.fsync_error_ppm = 1000000};
    sb_sim_set_faults(disk.sim, &faults);
    cr_assert_eq(fsync_wait(disk.sim, disk.io, disk.fd, true), -EIO);
    clear_faults(disk.sim);
    cr_assert_eq(sb_sim_power_loss(disk.sim, SB_SIM_LOSE_UNSYNCED), 0);
    uint8_t back[16384];
    cr_assert_eq(file_slurp(disk.path, back, sizeof(back)), 4096);
    cr_assert_eq(memcmp(back, synced, sizeof(synced)), 0);
    disk_teardown(&disk);
}

static int32_t
syncfs_wait(struct sb_sim *sim, struct sb_io *io, int fd)
{
    struct probe probe = {0};
    sb_io_syncfs(io, &probe.op, fd, probe_done, &probe);
    drain_one(sim, io);
    cr_assert_eq(probe.calls, 1);
    return probe.results[0];
}

/* SYNCFS through any descriptor makes every file's writes durable at once; a failed one (a
 * one-shot SYNCFS fault, then the fsync error rate, then another file's write-back fault)
 * makes nothing durable, and a power cut then undoes the writes. */
Test(io_sim, syncfs_makes_every_file_durable_or_none)
{
    struct disk_fixture disk;
    disk_setup(&disk, 9, NULL);
    char other_path[300];
    snprintf(other_path, sizeof(other_path), "%s/other", disk.dir);
    int other = sb_io_open(disk.io, other_path, O_RDWR | O_CREAT, 0644);
    cr_assert_geq(other, 0);
    uint8_t first[4096];
    uint8_t second[4096];
    memset(first, 'a', sizeof(first));
    memset(second, 'b', sizeof(second));
    cr_assert_eq(write_wait(disk.sim, disk.io, disk.fd, first, sizeof(first), 0), 4096);
    cr_assert_eq(write_wait(disk.sim, disk.io, other, first, sizeof(first), 0), 4096);
    cr_assert_eq(syncfs_wait(disk.sim, disk.io, other), 0);
    cr_assert_eq(write_wait(disk.sim, disk.io, disk.fd, second, sizeof(second), 4096), 4096);
    struct sb_sim_fault_once fault = {.kind = SB_IO_OP_SYNCFS, .nth = 1, .error = -EIO};
    cr_assert_eq(sb_sim_fault_once(disk.sim, &fault), 0);
    cr_assert_eq(syncfs_wait(disk.sim, disk.io, other), -EIO);
    struct sb_sim_faults faults = {.fsync_error_ppm = 1000000};
    sb_sim_set_faults(disk.sim, &faults);
    cr_assert_eq(syncfs_wait(disk.sim, disk.io, disk.fd), -EIO);
    clear_faults(disk.sim);
    struct sb_sim_fault_once writeback = {.kind = SB_IO_OP_WRITE, .nth = 1, .error = -ENOSPC,
                                          .writeback = true};
    cr_assert_eq(sb_sim_fault_once(disk.sim, &writeback), 0);
    cr_assert_eq(write_wait(disk.sim, disk.io, other, second, sizeof(second), 4096), 4096);
    cr_assert_eq(syncfs_wait(disk.sim, disk.io, disk.fd), -ENOSPC, "another file's error");
    cr_assert_eq(sb_sim_power_loss(disk.sim, SB_SIM_LOSE_UNSYNCED), 0);
    uint8_t back[16384];
    cr_assert_eq(file_slurp(disk.path, back, sizeof(back)), 4096, "a failed syncfs synced");
    cr_assert_eq(memcmp(back, first, sizeof(first)), 0);
    cr_assert_eq(file_slurp(other_path, back, sizeof(back)), 4096);
    cr_assert_eq(memcmp(back, first, sizeof(first)), 0, "the good syncfs lost a file");
    cr_assert_eq(sb_io_close(disk.io, other), 0);
    disk_teardown(&disk);
}

/* Linux keeps a write-back error sequence per file and one per filesystem: an error is
 * reported once to the file's own fsync and once to a SYNCFS, whichever comes first. */
Test(io_sim, a_write_back_error_reaches_both_the_syncfs_and_the_files_own_fsync)
{
    struct disk_fixture disk;
    disk_setup(&disk, 11, NULL);
    uint8_t bytes[4096];
    memset(bytes, 'a', sizeof(bytes));
    for (uint32_t syncfs_first = 0; syncfs_first < 2; syncfs_first++) {
        struct sb_sim_fault_once writeback = {.kind = SB_IO_OP_WRITE, .nth = 1, .error = -EIO,
                                              .writeback = true};
        cr_assert_eq(sb_sim_fault_once(disk.sim, &writeback), 0);
        cr_assert_eq(write_wait(disk.sim, disk.io, disk.fd, bytes, sizeof(bytes), 0), 4096);
        if (syncfs_first) {
            cr_assert_eq(syncfs_wait(disk.sim, disk.io, disk.fd), -EIO);
            cr_assert_eq(fsync_wait(disk.sim, disk.io, disk.fd, true), -EIO,
                         "the file's fsync missed the error a syncfs reported");
            cr_assert_eq(fsync_wait(disk.sim, disk.io, disk.fd, true), 0);
            cr_assert_eq(syncfs_wait(disk.sim, disk.io, disk.fd), 0);
        } else {
            cr_assert_eq(fsync_wait(disk.sim, disk.io, disk.fd, true), -EIO);
            cr_assert_eq(syncfs_wait(disk.sim, disk.io, disk.fd), -EIO,
                         "the syncfs missed the error the file's fsync reported");
            cr_assert_eq(syncfs_wait(disk.sim, disk.io, disk.fd), 0);
            cr_assert_eq(fsync_wait(disk.sim, disk.io, disk.fd, true), 0);
        }
    }
    disk_teardown(&disk);
}

/* OPENAT creates its file when its event fires (tracked like sb_io_open: its writes are
 * remembered); a one-shot OPENAT fault fails it with nothing created. */
Test(io_sim, openat_opens_at_its_event_and_faults_create_nothing)
{
    struct disk_fixture disk;
    disk_setup(&disk, 10, NULL);
    char path[300];
    snprintf(path, sizeof(path), "%s/created", disk.dir);
    struct sb_sim_fault_once fault = {.kind = SB_IO_OP_OPENAT, .nth = 1, .error = -ENOSPC};
    cr_assert_eq(sb_sim_fault_once(disk.sim, &fault), 0);
    struct probe probe = {0};
    sb_io_openat(disk.io, &probe.op, path, O_RDWR | O_CREAT | O_TRUNC, 0644, probe_done, &probe);
    drain_one(disk.sim, disk.io);
    cr_assert_eq(probe.results[0], -ENOSPC);
    cr_assert_neq(access(path, F_OK), 0, "a failed OPENAT created its file");
    struct probe opened = {0};
    sb_io_openat(disk.io, &opened.op, path, O_RDWR | O_CREAT | O_TRUNC, 0644, probe_done,
                 &opened);
    cr_assert_neq(access(path, F_OK), 0, "OPENAT ran before its event");
    drain_one(disk.sim, disk.io);
    int fd = opened.results[0];
    cr_assert_geq(fd, 0);
    uint8_t bytes[4096];
    memset(bytes, 'c', sizeof(bytes));
    cr_assert_eq(write_wait(disk.sim, disk.io, fd, bytes, sizeof(bytes), 0), 4096);
    cr_assert_eq(sb_sim_power_loss(disk.sim, SB_SIM_LOSE_UNSYNCED), 0);
    uint8_t back[8192];
    cr_assert_eq(file_slurp(path, back, sizeof(back)), 0, "an unsynced write survived");
    cr_assert_eq(sb_io_close(disk.io, fd), 0);
    disk_teardown(&disk);
}

/* Issues four ops of one family; returns a bitmask of those that failed with -EIO. */
static uint32_t
fault_once_round(struct disk_fixture *disk, enum sb_io_op_kind family)
{
    uint32_t failed = 0;
    uint8_t bytes[1024] = {0};
    for (uint32_t index = 0; index < 4; index++) {
        int32_t result = 0;
        if (family == SB_IO_OP_WRITE) {
            struct iovec vector = {bytes, sizeof(bytes)};
            result = index % 2 == 0
                         ? write_wait(disk->sim, disk->io, disk->fd, bytes, sizeof(bytes), 0)
                         : writev_wait(disk->sim, disk->io, disk->fd, &vector, 1, 0);
            cr_assert(result == -EIO || result == (int32_t)sizeof(bytes));
        } else if (family == SB_IO_OP_FSYNC) {
            result = fsync_wait(disk->sim, disk->io, disk->fd, index % 2 == 1);
            cr_assert(result == -EIO || result == 0);
        } else {
            result = read_wait(disk->sim, disk->io, disk->fd, bytes, sizeof(bytes), 0);
            cr_assert(result == -EIO || result == (int32_t)sizeof(bytes));
        }
        failed |= result == -EIO ? 1u << index : 0;
    }
    return failed;
}

Test(io_sim, fault_once_fails_exactly_the_nth_op)
{
    const enum sb_io_op_kind families[] = {SB_IO_OP_WRITE, SB_IO_OP_FSYNC, SB_IO_OP_READ};
    for (uint32_t family = 0; family < 3; family++) {
        for (uint32_t nth = 1; nth <= 3; nth++) {
            struct disk_fixture disk;
            disk_setup(&disk, 9, NULL);
            uint8_t bytes[1024] = {0};
            cr_assert_eq(write_wait(disk.sim, disk.io, disk.fd, bytes, sizeof(bytes), 0), 1024);
            struct sb_sim_fault_once fault = {.kind = families[family], .nth = nth,
                                              .error = -EIO};
            cr_assert_eq(sb_sim_fault_once(disk.sim, &fault), 0);
            cr_assert_eq(sb_sim_faults_once_armed(disk.sim), 1);
            cr_assert_eq(fault_once_round(&disk, families[family]), 1u << (nth - 1),
                         "family %u nth %u", family, nth);
            cr_assert_eq(sb_sim_faults_once_armed(disk.sim), 0, "fired, so no longer armed");
            disk_teardown(&disk);
        }
    }
}

Test(io_sim, fault_once_counts_by_family_and_has_a_limit)
{
    struct disk_fixture disk;
    disk_setup(&disk, 10, NULL);
    struct sb_sim_fault_once fault = {.kind = SB_IO_OP_WRITEV, .nth = 2, .error = -ENOSPC};
    cr_assert_eq(sb_sim_fault_once(disk.sim, &fault), 0);
    uint8_t bytes[512] = {0};
    cr_assert_eq(write_wait(disk.sim, disk.io, disk.fd, bytes, sizeof(bytes), 0), 512);
    cr_assert_eq(fsync_wait(disk.sim, disk.io, disk.fd, false), 0, "other families do not count");
    cr_assert_eq(write_wait(disk.sim, disk.io, disk.fd, bytes, sizeof(bytes), 0), -ENOSPC);
    cr_assert_eq(write_wait(disk.sim, disk.io, disk.fd, bytes, sizeof(bytes), 0), 512);
    fault.kind = SB_IO_OP_FDATASYNC;
    fault.nth = 1000;
    for (int index = 0; index < 16; index++) {
        cr_assert_eq(sb_sim_fault_once(disk.sim, &fault), 0);
    }
    cr_assert_eq(sb_sim_fault_once(disk.sim, &fault), -ENOSPC);
    disk_teardown(&disk);
}

#define LIMIT_BATCH 4096

Test(io_sim, unsynced_write_limit_fails_with_enomem)
{
    struct disk_fixture disk;
    disk_setup(&disk, 24, NULL);
    static struct probe probes[LIMIT_BATCH];
    uint8_t byte = 'z';
    uint32_t written = 0;
    for (uint32_t batch = 0; batch < 16; batch++) {
        memset(probes, 0, sizeof(probes));
        for (uint32_t index = 0; index < LIMIT_BATCH; index++) {
            sb_io_write(disk.io, &probes[index].op, disk.fd, &byte, 1, written + index,
                        probe_done, &probes[index]);
        }
        drain_one(disk.sim, disk.io);
        for (uint32_t index = 0; index < LIMIT_BATCH; index++) {
            cr_assert_eq(probes[index].results[0], 1);
        }
        written += LIMIT_BATCH;
    }
    cr_assert_eq(write_wait(disk.sim, disk.io, disk.fd, &byte, 1, written), -ENOMEM,
                 "the world remembers at most 65536 unsynced writes");
    cr_assert_eq(fsync_wait(disk.sim, disk.io, disk.fd, true), 0);
    cr_assert_eq(write_wait(disk.sim, disk.io, disk.fd, &byte, 1, written), 1);
    disk_teardown(&disk);
}

/* ---- Power loss ------------------------------------------------------------------------- */

static int32_t
write_dsync_wait(struct sb_sim *sim, struct sb_io *io, int fd, const void *bytes,
                 uint32_t length, uint64_t offset)
{
    struct probe probe = {0};
    sb_io_write_dsync(io, &probe.op, fd, bytes, length, offset, probe_done, &probe);
    drain_one(sim, io);
    cr_assert_eq(probe.calls, 1);
    return probe.results[0];
}

/* True if `length` bytes of `back` from `offset` all equal `value`. */
static bool
bytes_all(const uint8_t *back, size_t offset, size_t length, uint8_t value)
{
    for (size_t index = offset; index < offset + length; index++) {
        if (back[index] != value) {
            return false;
        }
    }
    return true;
}

/* A WRITE_DSYNC is durable alone once it succeeds: a power cut keeps its bytes, even over an
 * older unsynced write (cut around it), and undoes every other unsynced write. A failed sync
 * (one-shot FSYNC fault, or a write-back fault of its own) leaves it undone at the cut. */
Test(io_sim, a_dsync_write_is_durable_alone_when_it_succeeds)
{
    for (uint32_t mode = 0; mode < 3; mode++) {
        struct disk_fixture disk;
        struct sb_sim_faults faults = {.disk_latency_min_ns = 1000, .disk_latency_max_ns = 9000};
        disk_setup(&disk, 12 + mode, &faults);
        static uint8_t bytes[16384];
        static uint8_t back[32768];
        memset(bytes, 'a', sizeof(bytes));
        cr_assert_eq(write_wait(disk.sim, disk.io, disk.fd, bytes, 16384, 0), 16384);
        cr_assert_eq(fsync_wait(disk.sim, disk.io, disk.fd, true), 0);
        memset(bytes, 'b', sizeof(bytes));
        cr_assert_eq(write_wait(disk.sim, disk.io, disk.fd, bytes, 12288, 0), 12288);
        memset(bytes, 'd', sizeof(bytes));
        cr_assert_eq(write_dsync_wait(disk.sim, disk.io, disk.fd, bytes, 4096, 4096), 4096);
        memset(bytes, 'e', sizeof(bytes));
        cr_assert_eq(write_wait(disk.sim, disk.io, disk.fd, bytes, 4096, 16384), 4096);
        /* Each failure: the dsync write lands, is not durable, and fails. */
        const struct sb_sim_fault_once failures[] = {
            {.kind = SB_IO_OP_FDATASYNC, .nth = 1, .error = -EIO},
            {.kind = SB_IO_OP_WRITE, .nth = 1, .error = -EIO, .writeback = true},
            {.kind = SB_IO_OP_WRITE, .nth = 1, .error = -ENOSPC},
        };
        cr_assert_eq(sb_sim_fault_once(disk.sim, &failures[mode]), 0);
        memset(bytes, 'f', sizeof(bytes));
        cr_assert_eq(write_dsync_wait(disk.sim, disk.io, disk.fd, bytes, 4096, 12288),
                     failures[mode].error);
        cr_assert_eq(sb_sim_faults_once_armed(disk.sim), 0);
        cr_assert_eq(sb_sim_power_loss(disk.sim, mode == 0 ? SB_SIM_LOSE_UNSYNCED
                                                           : SB_SIM_GARBLE_UNSYNCED), 0);
        size_t size = file_slurp(disk.path, back, sizeof(back));
        cr_assert_geq(size, 16384, "mode %u", mode);
        cr_assert(bytes_all(back, 4096, 4096, 'd'), "mode %u: the dsync write survives", mode);
        if (mode == 0) {
            cr_assert_eq(size, 16384, "the unsynced extension is cut");
            cr_assert(bytes_all(back, 0, 4096, 'a'), "the older write is undone before it");
            cr_assert(bytes_all(back, 8192, 8192, 'a'), "after it, and the failed dsync");
        }
        disk_teardown(&disk);
    }
}

Test(io_sim, power_loss_restores_the_last_synced_state)
{
    struct disk_fixture disk;
    disk_setup(&disk, 11, NULL);
    static uint8_t synced[8192];
    static uint8_t bytes[8192];
    static uint8_t back[32768];
    for (size_t index = 0; index < sizeof(synced); index++) {
        synced[index] = (uint8_t)(index * 13 + 1);
    }
    memset(bytes, 'x', sizeof(bytes));
    cr_assert_eq(write_wait(disk.sim, disk.io, disk.fd, synced, sizeof(synced), 0), 8192);
    cr_assert_eq(fsync_wait(disk.sim, disk.io, disk.fd, true), 0);
    /* Overwrite synced data, extend, overwrite the extension, leave a hole, write a vector. */
    cr_assert_eq(write_wait(disk.sim, disk.io, disk.fd, bytes, 1000, 100), 1000);
    cr_assert_eq(write_wait(disk.sim, disk.io, disk.fd, bytes, 5000, 6000), 5000);
    cr_assert_eq(write_wait(disk.sim, disk.io, disk.fd, synced, 300, 10500), 300);
    struct iovec vectors[2] = {{bytes, 50}, {synced, 60}};
    cr_assert_eq(writev_wait(disk.sim, disk.io, disk.fd, vectors, 2, 20000), 110);
    cr_assert_eq(write_wait(disk.sim, disk.io, disk.fd, bytes, 100, 7000), 100);
    /* A second file, closed with unsynced writes: they are still lost. */
    char other_path[128];
    tmp_path(other_path, sizeof(other_path), disk.dir, "closed");
    int other = sb_io_open(disk.io, other_path, O_WRONLY | O_CREAT, 0600);
    cr_assert_geq(other, 0);
    cr_assert_eq(write_wait(disk.sim, disk.io, other, synced, 700, 0), 700);
    cr_assert_eq(fsync_wait(disk.sim, disk.io, other, false), 0);
    cr_assert_eq(write_wait(disk.sim, disk.io, other, bytes, 2000, 300), 2000);
    cr_assert_eq(sb_io_close(disk.io, other), 0);

    cr_assert_eq(sb_sim_power_loss(disk.sim, SB_SIM_LOSE_UNSYNCED), 0);
    cr_assert_eq(file_slurp(disk.path, back, sizeof(back)), sizeof(synced));
    cr_assert_eq(memcmp(back, synced, sizeof(synced)), 0);
    cr_assert_eq(file_slurp(other_path, back, sizeof(back)), 700);
    cr_assert_eq(memcmp(back, synced, 700), 0);
    disk_teardown(&disk);
}

/* Checks that [offset, offset + length) holds a 512-multiple prefix of `written` followed by
 * `old` (or is cut off by the end of the file); returns the end of the kept prefix. */
static uint64_t
tear_check_region(const uint8_t *file, size_t file_size, const uint8_t *written,
                  const uint8_t *old, uint64_t offset, uint32_t length)
{
    uint32_t kept = 0;
    while (kept < length && offset + kept < file_size && file[offset + kept] == written[kept]) {
        kept++;
    }
    cr_assert_eq(kept % 512, 0, "kept %u bytes at %llu", kept, (unsigned long long)offset);
    for (uint32_t index = kept; index < length && offset + index < file_size; index++) {
        cr_assert_eq(file[offset + index], old[index], "byte %u of the write at %llu", index,
                     (unsigned long long)offset);
    }
    return kept > 0 ? offset + kept : 0;
}

static void
tear_run(uint64_t seed, bool *kept_some, bool *lost_some)
{
    struct disk_fixture disk;
    disk_setup(&disk, seed, NULL);
    static uint8_t synced[16384];
    static uint8_t zeros[4096];
    static uint8_t written[4][4096];
    static uint8_t back[65536];
    memset(synced, 'a', sizeof(synced));
    const uint64_t offsets[4] = {0, 4096, 16384, 24576};
    const uint32_t lengths[4] = {2048, 1000, 4096, 2048};
    cr_assert_eq(write_wait(disk.sim, disk.io, disk.fd, synced, sizeof(synced), 0), 16384);
    cr_assert_eq(fsync_wait(disk.sim, disk.io, disk.fd, false), 0);
    for (int index = 0; index < 4; index++) {
        memset(written[index], 'b' + index, sizeof(written[index]));
        cr_assert_eq(write_wait(disk.sim, disk.io, disk.fd, written[index], lengths[index],
                                offsets[index]), (int32_t)lengths[index]);
    }
    cr_assert_eq(sb_sim_power_loss(disk.sim, SB_SIM_TEAR_UNSYNCED), 0);
    size_t size = file_slurp(disk.path, back, sizeof(back));
    uint64_t expected_size = sizeof(synced);
    for (int index = 0; index < 4; index++) {
        const uint8_t *old = offsets[index] < sizeof(synced) ? synced : zeros;
        uint64_t end = tear_check_region(back, size, written[index], old, offsets[index],
                                         lengths[index]);
        expected_size = end > expected_size ? end : expected_size;
        *kept_some = *kept_some || end > 0;
        *lost_some = *lost_some || end < offsets[index] + lengths[index];
    }
    cr_assert_eq(size, expected_size, "truncated to max(synced, kept prefixes)");
    /* Synced bytes no write touched are intact. */
    cr_assert_eq(memcmp(back + 2048, synced, 2048), 0);
    cr_assert_eq(memcmp(back + 5096, synced, 16384 - 5096), 0);
    if (size > 20480) {
        cr_assert_eq(memcmp(back + 20480, zeros, 4096), 0, "the hole reads as zeros");
    }
    disk_teardown(&disk);
}

Test(io_sim, power_loss_tear_keeps_aligned_prefixes_only)
{
    bool kept_some = false;
    bool lost_some = false;
    for (uint64_t seed = 1; seed <= 12; seed++) {
        tear_run(seed, &kept_some, &lost_some);
    }
    cr_assert(kept_some, "some prefix survived");
    cr_assert(lost_some, "some bytes were lost");
}

Test(io_sim, power_loss_drops_ops_in_flight)
{
    struct sb_sim_faults faults = {.disk_latency_min_ns = 5000, .disk_latency_max_ns = 5000};
    struct disk_fixture disk;
    disk_setup(&disk, 12, &faults);
    uint8_t bytes[512] = {1};
    struct probe probe = {0};
    sb_io_write(disk.io, &probe.op, disk.fd, bytes, sizeof(bytes), 0, probe_done, &probe);
    cr_assert_eq(sb_sim_power_loss(disk.sim, SB_SIM_LOSE_UNSYNCED), 0);
    cr_assert_not(sb_sim_advance(disk.sim));
    cr_assert_eq(sb_io_run(disk.io, 100000), 0);
    cr_assert_eq(probe.calls, 0, "never completed");
    cr_assert_eq(sb_io_in_flight(disk.io), 1);
    /* The io may still be destroyed; a new io can join the same world. */
    sb_io_destroy(disk.io);
    disk.io = world_join(disk.sim);
    cr_assert_eq(write_wait(disk.sim, disk.io, disk.fd, bytes, sizeof(bytes), 0), 512);
    disk_teardown(&disk);
}

/* ---- Sockets ---------------------------------------------------------------------------- */

Test(io_sim, connect_without_listener_is_refused)
{
    struct sb_sim *sim = world_create(13, NULL);
    struct sb_io *io = world_join(sim);
    int client = sb_io_socket(io);
    struct sockaddr_in target = loopback(9);
    struct probe connect = {0};
    sb_io_connect(io, &connect.op, client, &target, probe_done, &connect);
    drain_one(sim, io);
    cr_assert_eq(connect.results[0], -ECONNREFUSED);
    /* A full backlog refuses too. */
    struct sockaddr_in any = loopback(0);
    int listener = sb_io_listen(io, &any, 1);
    target = loopback(sb_io_local_port(io, listener));
    int second = sb_io_socket(io);
    struct probe refused = {0};
    sb_io_connect(io, &connect.op, client, &target, probe_done, &connect);
    sb_io_connect(io, &refused.op, second, &target, probe_done, &refused);
    drain_one(sim, io);
    cr_assert_eq(connect.results[1], 0);
    cr_assert_eq(refused.results[0], -ECONNREFUSED);
    cr_assert_eq(sb_io_close(io, client), 0);
    cr_assert_eq(sb_io_close(io, second), 0);
    cr_assert_eq(sb_io_close(io, listener), 0);
    cr_assert_eq(sb_io_close(io, listener), -EBADF);
    sb_io_destroy(io);
    sb_sim_destroy(sim);
}

Test(io_sim, listen_ports)
{
    struct sb_sim *sim = world_create(14, NULL);
    struct sb_io *io = world_join(sim);
    struct sockaddr_in fixed = loopback(40000);
    struct sockaddr_in any = loopback(0);
    int first = sb_io_listen(io, &fixed, 4);
    cr_assert_geq(first, 0);
    cr_assert_eq(sb_io_listen(io, &fixed, 4), -EADDRINUSE);
    int second = sb_io_listen(io, &any, 4);
    cr_assert_eq(sb_io_local_port(io, first), 40000);
    cr_assert_eq(sb_io_local_port(io, second), 40001, "ephemeral ports skip busy ones");
    cr_assert_eq(sb_io_local_port(io, (1 << 20) + 500), -EBADF);
    cr_assert_eq(sb_io_local_port(io, 12345), -EBADF);
    cr_assert_eq(sb_io_close(io, first), 0);
    cr_assert_eq(sb_io_close(io, second), 0);
    sb_io_destroy(io);
    sb_sim_destroy(sim);
}

Test(io_sim, accept_single_and_multishot)
{
    struct sb_sim_faults faults = {.net_latency_min_ns = 1000, .net_latency_max_ns = 50000};
    struct sb_sim *sim = world_create(15, &faults);
    struct sb_io *ios[2] = {world_join(sim), world_join(sim)};
    struct sockaddr_in any = loopback(0);
    int listener = sb_io_listen(ios[1], &any, 8);
    struct sockaddr_in target = loopback(sb_io_local_port(ios[1], listener));
    struct sockaddr_in peer;
    struct probe accept = {0};
    struct probe connects[3];
    memset(connects, 0, sizeof(connects));
    int clients[3];
    sb_io_accept(ios[1], &accept.op, listener, true, &peer, probe_done, &accept);
    for (int index = 0; index < 3; index++) {
        clients[index] = sb_io_socket(ios[0]);
        sb_io_connect(ios[0], &connects[index].op, clients[index], &target, probe_done,
                      &connects[index]);
    }
    drain(sim, ios, 2);
    cr_assert_eq(accept.calls, 3);
    for (int index = 0; index < 3; index++) {
        cr_assert_eq(connects[index].results[0], 0);
        cr_assert(accept.more[index], "multishot keeps going");
        cr_assert_geq(accept.results[index], 1 << 20);
        cr_assert_eq(sb_io_local_port(ios[1], accept.results[index]),
                     sb_io_local_port(ios[1], listener));
    }
    cr_assert_eq(ntohs(peer.sin_port), sb_io_local_port(ios[0], clients[2]));
    cr_assert_eq(sb_io_in_flight(ios[1]), 1);
    struct probe cancel = {0};
    sb_io_cancel(ios[1], &cancel.op, &accept.op, probe_done, &cancel);
    drain(sim, ios, 2);
    cr_assert_eq(probe_last(&accept), -ECANCELED);
    cr_assert_not(accept.more[accept.calls - 1]);
    cr_assert_eq(cancel.results[0], 0);
    /* A single accept takes a connection that was waiting in the backlog. */
    int late = sb_io_socket(ios[0]);
    struct probe late_connect = {0};
    struct probe single = {0};
    sb_io_connect(ios[0], &late_connect.op, late, &target, probe_done, &late_connect);
    drain(sim, ios, 2);
    sb_io_accept(ios[1], &single.op, listener, false, NULL, probe_done, &single);
    drain(sim, ios, 2);
    cr_assert_eq(single.calls, 1);
    cr_assert_not(single.more[0]);
    cr_assert_geq(single.results[0], 1 << 20);
    for (int index = 0; index < 3; index++) {
        cr_assert_eq(sb_io_close(ios[0], clients[index]), 0);
        cr_assert_eq(sb_io_close(ios[1], accept.results[index]), 0);
    }
    cr_assert_eq(sb_io_close(ios[0], late), 0);
    cr_assert_eq(sb_io_close(ios[1], single.results[0]), 0);
    cr_assert_eq(sb_io_close(ios[1], listener), 0);
    sb_io_destroy(ios[0]);
    sb_io_destroy(ios[1]);
    sb_sim_destroy(sim);
}

#define ORDERED_SENDS 100

Test(io_sim, delivery_is_ordered_under_random_latency)
{
    struct sb_sim_faults faults = {.net_latency_min_ns = 1000, .net_latency_max_ns = 1000000};
    struct sb_sim *sim = world_create(16, &faults);
    struct sb_io *io = world_join(sim);
    int client = -1;
    int server = -1;
    net_pair(sim, io, &client, &server);
    static uint8_t stream[ORDERED_SENDS * 100];
    static uint8_t received[sizeof(stream)];
    for (size_t index = 0; index < sizeof(stream); index++) {
        stream[index] = (uint8_t)(index * 31 + index / 256);
    }
    static struct probe sends[ORDERED_SENDS];
    size_t offset = 0;
    for (int index = 0; index < ORDERED_SENDS; index++) {
        uint32_t length = 1 + (uint32_t)(sb_sim_random(sim) % 99);
        if (index % 2 == 0) {
            sb_io_send(io, &sends[index].op, client, stream + offset, length, probe_done,
                       &sends[index]);
        } else {
            struct iovec vectors[2] = {{stream + offset, 1}, {stream + offset + 1, length - 1}};
            struct msghdr message = {.msg_iov = vectors, .msg_iovlen = 2};
            sb_io_sendmsg(io, &sends[index].op, client, &message, probe_done, &sends[index]);
        }
        offset += length;
        sb_sim_sleep(sim, sb_sim_random(sim) % 3000);
    }
    size_t total = offset;
    size_t got = 0;
    for (int attempt = 0; attempt < 10 * ORDERED_SENDS && got < total; attempt++) {
        struct probe recv = {0};
        sb_io_recv(io, &recv.op, server, received + got, 37, probe_done, &recv);
        drain_one(sim, io);
        cr_assert_gt(recv.results[0], 0);
        got += (size_t)recv.results[0];
    }
    cr_assert_eq(got, total);
    cr_assert_eq(memcmp(received, stream, total), 0, "bytes arrive in the order sent");
    for (int index = 0; index < ORDERED_SENDS; index++) {
        cr_assert_eq(sends[index].calls, 1);
        cr_assert_gt(sends[index].results[0], 0);
    }
    cr_assert_eq(sb_io_close(io, client), 0);
    cr_assert_eq(sb_io_close(io, server), 0);
    sb_io_destroy(io);
    sb_sim_destroy(sim);
}

static void
send_wait(struct sb_sim *sim, struct sb_io *io, int fd, const char *text)
{
    struct probe send = {0};
    sb_io_send(io, &send.op, fd, text, (uint32_t)strlen(text), probe_done, &send);
    drain_one(sim, io);
    cr_assert_eq(send.results[0], (int32_t)strlen(text));
}

Test(io_sim, multishot_recv_runs_out_of_buffers_then_resumes)
{
    struct sb_sim_faults faults = {.net_latency_min_ns = 2000, .net_latency_max_ns = 2000};
    struct sb_sim *sim = world_create(17, &faults);
    struct sb_io *io = world_join(sim);
    int client = -1;
    int server = -1;
    net_pair(sim, io, &client, &server);
    cr_assert_eq(sb_io_buffer_group_create(io, 1, 2, 16), 0);
    cr_assert_eq(sb_io_buffer_group_create(io, 1, 2, 16), -EEXIST);
    struct probe recv = {0};
    sb_io_recv_multishot(io, &recv.op, server, 1, probe_done, &recv);
    send_wait(sim, io, client, "first");
    send_wait(sim, io, client, "second");
    send_wait(sim, io, client, "third");
    cr_assert_eq(recv.calls, 3);
    cr_assert_eq(recv.results[0], 5);
    cr_assert(recv.more[0] && recv.has_buffer[0]);
    cr_assert_eq(memcmp(sb_io_buffer(io, 1, recv.buffer_ids[0]), "first", 5), 0);
    cr_assert_eq(recv.results[1], 6);
    cr_assert_neq(recv.buffer_ids[1], recv.buffer_ids[0]);
    cr_assert_eq(memcmp(sb_io_buffer(io, 1, recv.buffer_ids[1]), "second", 6), 0);
    cr_assert_eq(recv.results[2], -ENOBUFS);
    cr_assert_not(recv.more[2], "no buffer ends the multishot, as in the kernel");
    cr_assert_eq(sb_io_in_flight(io), 0);
    /* Recycle one buffer and re-arm: the waiting bytes land in it. */
    sb_io_buffer_recycle(io, 1, recv.buffer_ids[0]);
    sb_io_recv_multishot(io, &recv.op, server, 1, probe_done, &recv);
    drain_one(sim, io);
    cr_assert_eq(recv.calls, 4);
    cr_assert_eq(recv.results[3], 5);
    cr_assert_eq(recv.buffer_ids[3], recv.buffer_ids[0]);
    cr_assert_eq(memcmp(sb_io_buffer(io, 1, recv.buffer_ids[3]), "third", 5), 0);
    /* The peer closes: bytes first, then 0 without more. */
    sb_io_buffer_recycle(io, 1, recv.buffer_ids[1]);
    send_wait(sim, io, client, "last");
    cr_assert_eq(sb_io_close(io, client), 0);
    drain_one(sim, io);
    cr_assert_eq(recv.calls, 6);
    cr_assert_eq(recv.results[4], 4);
    cr_assert_eq(recv.results[5], 0);
    cr_assert_not(recv.more[5]);
    cr_assert_eq(sb_io_close(io, server), 0);
    sb_io_destroy(io);
    sb_sim_destroy(sim);
}

Test(io_sim, peer_close_gives_end_of_stream_after_the_bytes)
{
    struct sb_sim_faults faults = {.net_latency_min_ns = 100, .net_latency_max_ns = 90000};
    struct sb_sim *sim = world_create(18, &faults);
    struct sb_io *io = world_join(sim);
    int client = -1;
    int server = -1;
    net_pair(sim, io, &client, &server);
    struct probe send = {0};
    sb_io_send(io, &send.op, client, "hello", 5, probe_done, &send);
    drain_one(sim, io);
    cr_assert_eq(sb_io_close(io, client), 0);
    char buffer[16];
    struct probe recv = {0};
    sb_io_recv(io, &recv.op, server, buffer, sizeof(buffer), probe_done, &recv);
    drain_one(sim, io);
    cr_assert_eq(recv.results[0], 5);
    sb_io_recv(io, &recv.op, server, buffer, sizeof(buffer), probe_done, &recv);
    drain_one(sim, io);
    cr_assert_eq(recv.results[1], 0);
    sb_io_send(io, &send.op, server, "late", 4, probe_done, &send);
    drain_one(sim, io);
    cr_assert_eq(send.results[1], -EPIPE);
    cr_assert_eq(sb_io_close(io, server), 0);
    sb_io_destroy(io);
    sb_sim_destroy(sim);
}

Test(io_sim, reset_fails_both_ends)
{
    struct sb_sim *sim = world_create(19, NULL);
    struct sb_io *io = world_join(sim);
    int client = -1;
    int server = -1;
    net_pair(sim, io, &client, &server);
    char buffer[16];
    struct probe server_recv = {0};
    sb_io_recv(io, &server_recv.op, server, buffer, sizeof(buffer), probe_done, &server_recv);
    struct sb_sim_faults faults = {.connection_reset_ppm = 1000000};
    sb_sim_set_faults(sim, &faults);
    struct probe send = {0};
    sb_io_send(io, &send.op, client, "boom", 4, probe_done, &send);
    drain_one(sim, io);
    clear_faults(sim);
    cr_assert_eq(send.results[0], -ECONNRESET);
    cr_assert_eq(server_recv.results[0], -ECONNRESET);
    struct probe client_recv = {0};
    sb_io_recv(io, &client_recv.op, client, buffer, sizeof(buffer), probe_done, &client_recv);
    sb_io_send(io, &send.op, server, "late", 4, probe_done, &send);
    drain_one(sim, io);
    cr_assert_eq(client_recv.results[0], -ECONNRESET);
    cr_assert_eq(send.results[1], -ECONNRESET);
    cr_assert_eq(sb_io_close(io, client), 0);
    cr_assert_eq(sb_io_close(io, server), 0);
    sb_io_destroy(io);
    sb_sim_destroy(sim);
}

Test(io_sim, cancel_pending_and_idle_ops)
{
    struct sb_sim *sim = world_create(20, NULL);
    struct sb_io *io = world_join(sim);
    int client = -1;
    int server = -1;
    net_pair(sim, io, &client, &server);
    char buffer[16];
    struct probe recv = {0};
    struct probe cancel = {0};
    sb_io_recv(io, &recv.op, server, buffer, sizeof(buffer), probe_done, &recv);
    drain_one(sim, io);
    cr_assert_eq(recv.calls, 0, "parked: nothing to receive");
    sb_io_cancel(io, &cancel.op, &recv.op, probe_done, &cancel);
    drain_one(sim, io);
    cr_assert_eq(recv.results[0], -ECANCELED);
    cr_assert_eq(cancel.results[0], 0);
    struct probe idle = {0};
    sb_io_cancel(io, &cancel.op, &idle.op, probe_done, &cancel);
    drain_one(sim, io);
    cr_assert_eq(cancel.results[1], -ENOENT);
    cr_assert_eq(idle.calls, 0);
    /* A multishot receive ends with more == false. */
    cr_assert_eq(sb_io_buffer_group_create(io, 0, 4, 64), 0);
    sb_io_recv_multishot(io, &recv.op, server, 0, probe_done, &recv);
    sb_io_cancel(io, &cancel.op, &recv.op, probe_done, &cancel);
    drain_one(sim, io);
    cr_assert_eq(recv.results[1], -ECANCELED);
    cr_assert_not(recv.more[1]);
    cr_assert_eq(cancel.results[2], 0);
    cr_assert_eq(sb_io_in_flight(io), 0);
    cr_assert_eq(sb_io_close(io, client), 0);
    cr_assert_eq(sb_io_close(io, server), 0);
    sb_io_destroy(io);
    sb_sim_destroy(sim);
}

Test(io_sim, close_cancels_pending_ops_and_unknown_fds_fail)
{
    struct sb_sim *sim = world_create(21, NULL);
    struct sb_io *io = world_join(sim);
    int client = -1;
    int server = -1;
    net_pair(sim, io, &client, &server);
    char buffer[16];
    struct probe recv = {0};
    sb_io_recv(io, &recv.op, server, buffer, sizeof(buffer), probe_done, &recv);
    struct probe busy = {0};
    sb_io_recv(io, &busy.op, server, buffer, sizeof(buffer), probe_done, &busy);
    drain_one(sim, io);
    cr_assert_eq(busy.results[0], -EBUSY, "one receive per socket at a time");
    cr_assert_eq(sb_io_close(io, server), 0);
    drain_one(sim, io);
    cr_assert_eq(recv.results[0], -ECANCELED);
    cr_assert_eq(sb_io_close(io, server), -EBADF);
    struct probe stale = {0};
    sb_io_recv(io, &stale.op, server, buffer, sizeof(buffer), probe_done, &stale);
    sb_io_send(io, &busy.op, (1 << 20) + 999, "x", 1, probe_done, &busy);
    drain_one(sim, io);
    cr_assert_eq(stale.results[0], -EBADF);
    cr_assert_eq(busy.results[1], -EBADF);
    cr_assert_eq(sb_io_close(io, client), 0);
    sb_io_destroy(io);
    sb_sim_destroy(sim);
}

Test(io_sim, socket_misuse_fails_with_errno)
{
    struct sb_sim *sim = world_create(25, NULL);
    struct sb_io *io = world_join(sim);
    int client = -1;
    int server = -1;
    net_pair(sim, io, &client, &server);
    struct sockaddr_in any = loopback(0);
    int listener = sb_io_listen(io, &any, 4);
    struct sockaddr_in target = loopback(sb_io_local_port(io, listener));
    int idle = sb_io_socket(io);
    cr_assert_eq(sb_io_local_port(io, idle), 0, "not bound yet");
    struct probe probes[7];
    memset(probes, 0, sizeof(probes));
    char buffer[8];
    sb_io_connect(io, &probes[0].op, client, &target, probe_done, &probes[0]);
    sb_io_recv(io, &probes[1].op, idle, buffer, sizeof(buffer), probe_done, &probes[1]);
    sb_io_send(io, &probes[2].op, idle, "x", 1, probe_done, &probes[2]);
    sb_io_accept(io, &probes[3].op, client, false, NULL, probe_done, &probes[3]);
    sb_io_accept(io, &probes[4].op, listener, false, NULL, probe_done, &probes[4]);
    sb_io_accept(io, &probes[5].op, listener, false, NULL, probe_done, &probes[5]);
    sb_io_recv(io, &probes[6].op, 7, buffer, sizeof(buffer), probe_done, &probes[6]);
    drain_one(sim, io);
    cr_assert_eq(probes[0].results[0], -EISCONN);
    cr_assert_eq(probes[1].results[0], -ENOTCONN);
    cr_assert_eq(probes[2].results[0], -ENOTCONN);
    cr_assert_eq(probes[3].results[0], -EINVAL, "accept on a connected socket");
    cr_assert_eq(probes[4].calls, 0, "parked: no connection yet");
    cr_assert_eq(probes[5].results[0], -EBUSY, "one accept per listener at a time");
    cr_assert_eq(probes[6].results[0], -ENOTSOCK);
    cr_assert_eq(sb_io_close(io, listener), 0);
    drain_one(sim, io);
    cr_assert_eq(probes[4].results[0], -ECANCELED);
    cr_assert_eq(sb_io_close(io, idle), 0);
    cr_assert_eq(sb_io_close(io, client), 0);
    cr_assert_eq(sb_io_close(io, server), 0);
    sb_io_destroy(io);
    sb_sim_destroy(sim);
}

/* ---- Death on misuse -------------------------------------------------------------------- */

Test(io_sim, misaligned_direct_write_aborts, .signal = SIGABRT)
{
    struct sb_sim *sim = world_create(22, NULL);
    struct sb_io *io = world_join(sim);
    char dir[64];
    char path[128];
    tmp_dir_create(dir, sizeof(dir));
    tmp_path(path, sizeof(path), dir, "direct");
    int fd = sb_io_open(io, path, O_RDWR | O_CREAT | O_DIRECT, 0600);
    unlink(path);
    rmdir(dir);
    cr_assert_geq(fd, 0);
    static uint8_t bytes[1024] __attribute__((aligned(512)));
    struct probe aligned = {0};
    struct probe misaligned = {0};
    sb_io_write(io, &aligned.op, fd, bytes, 512, 512, probe_done, &aligned);
    sb_io_write(io, &misaligned.op, fd, bytes, 100, 0, probe_done, &misaligned);
}

Test(io_sim, destroy_with_ops_in_flight_aborts, .signal = SIGABRT)
{
    struct sb_sim *sim = world_create(23, NULL);
    struct sb_io *io = world_join(sim);
    struct probe probe = {0};
    sb_io_nop(io, &probe.op, probe_done, &probe);
    sb_io_destroy(io);
}

/* GARBLE: an identical overwrite, cut: a 512-aligned prefix holds, then one sector is garbage
 * (no byte old or new), then the old bytes. Returns true if a sector was garbled. */
static bool
garble_run(uint64_t seed)
{
    struct disk_fixture disk;
    disk_setup(&disk, seed, NULL);
    static uint8_t synced[8192];
    static uint8_t back[65536];
    memset(synced, 'a', sizeof(synced));
    cr_assert_eq(write_wait(disk.sim, disk.io, disk.fd, synced, sizeof(synced), 0), 8192);
    cr_assert_eq(fsync_wait(disk.sim, disk.io, disk.fd, false), 0);
    cr_assert_eq(write_wait(disk.sim, disk.io, disk.fd, synced, 4096, 0), 4096);
    cr_assert_eq(sb_sim_power_loss(disk.sim, SB_SIM_GARBLE_UNSYNCED), 0);
    size_t size = file_slurp(disk.path, back, sizeof(back));
    cr_assert_eq(size, sizeof(synced));
    uint32_t kept = 0;
    while (kept < 4096 && back[kept] == 'a') {
        kept++;
    }
    cr_assert_eq(kept % 512, 0);
    uint32_t garbled = kept < 4096 ? 512 : 0;
    for (uint32_t index = kept; index < kept + garbled; index++) {
        cr_assert_neq(back[index], 'a', "byte %u of the cut sector", index);
    }
    cr_assert_eq(memcmp(back + kept + garbled, synced, sizeof(synced) - kept - garbled), 0);
    disk_teardown(&disk);
    return garbled > 0;
}

Test(io_sim, power_loss_garble_breaks_an_identical_overwrite_in_one_sector)
{
    uint32_t garbled = 0;
    for (uint64_t seed = 1; seed <= 12; seed++) {
        garbled += garble_run(seed) ? 1 : 0;
    }
    cr_assert_gt(garbled, 0, "some cut sector was garbage");
}

Test(io_sim, socket_nodelay_checks_the_descriptor)
{
    struct sb_sim *sim = world_create(15, NULL);
    struct sb_io *io = world_join(sim);
    struct sockaddr_in any = loopback(0);
    int listener = sb_io_listen(io, &any, 4);
    struct sockaddr_in target = loopback(sb_io_local_port(io, listener));
    int client = sb_io_socket(io);
    cr_assert_eq(sb_io_socket_nodelay(io, client), -ENOTCONN, "not connected yet");
    struct probe connect = {0};
    sb_io_connect(io, &connect.op, client, &target, probe_done, &connect);
    drain_one(sim, io);
    cr_assert_eq(connect.results[0], 0);
    cr_assert_eq(sb_io_socket_nodelay(io, client), 0);
    cr_assert_eq(sb_io_socket_nodelay(io, listener), -ENOTCONN);
    cr_assert_eq(sb_io_socket_nodelay(io, (1 << 20) + 500), -EBADF);
    cr_assert_eq(sb_io_socket_nodelay(io, 12345), -EBADF);
    cr_assert_eq(sb_io_close(io, client), 0);
    cr_assert_eq(sb_io_close(io, listener), 0);
    drain_one(sim, io);
    sb_io_destroy(io);
    sb_sim_destroy(sim);
}

Test(io_sim, ops_started_after_power_loss_never_complete)
{
    struct sb_sim *sim = world_create(16, NULL);
    struct sb_io *io = world_join(sim);
    cr_assert_eq(sb_sim_power_loss(sim, SB_SIM_LOSE_UNSYNCED), 0);
    struct probe nop = {0};
    sb_io_nop(io, &nop.op, probe_done, &nop);
    cr_assert_eq(sb_io_run(io, 1000), 0);
    cr_assert_eq(nop.calls, 0, "a dead io completes nothing");
    cr_assert_eq(sb_io_in_flight(io), 1);
    sb_io_destroy(io);
    sb_sim_destroy(sim);
}

Test(io_sim, alarm_stops_moving_time)
{
    struct sb_sim *sim = world_create(17, NULL);
    struct sb_io *io = world_join(sim);
    cr_assert_not(sb_sim_advance(sim), "no event, no alarm");
    sb_sim_alarm(sim, EPOCH_NS + 500);
    cr_assert(sb_sim_advance(sim));
    cr_assert_eq(sb_sim_now_ns(sim), EPOCH_NS + 500, "advance stops at the alarm");
    cr_assert_not(sb_sim_advance(sim), "reached: the alarm cleared");
    sb_sim_alarm(sim, EPOCH_NS + 800);
    sb_sim_sleep(sim, 1000);
    cr_assert_eq(sb_sim_now_ns(sim), EPOCH_NS + 800, "a sleep stops at the alarm");
    sb_sim_alarm(sim, EPOCH_NS + 900);
    cr_assert_eq(sb_io_run(io, 1000), 0);
    cr_assert_eq(sb_sim_now_ns(sim), EPOCH_NS + 900, "a waiting run stops at the alarm");
    sb_sim_alarm(sim, EPOCH_NS + 10);
    sb_sim_sleep(sim, 100);
    cr_assert_eq(sb_sim_now_ns(sim), EPOCH_NS + 1000, "an alarm in the past is none");
    sb_io_destroy(io);
    sb_sim_destroy(sim);
}
