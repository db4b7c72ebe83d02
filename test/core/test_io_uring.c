/*
 * test/core/test_io_uring.c - the io_uring backend against the real kernel:
 * file write/fsync/read (buffered and O_DIRECT), writev, fallocate, loopback
 * TCP with multishot accept and multishot receive from a provided-buffer ring
 * (the liburing 2.3 shim), buffer exhaustion, cancellation, run timeouts, and
 * both doorbells waking a sleeping io from another thread.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/io.h"

struct completion {
    int32_t result;    /* Last result. */
    uint32_t count;    /* Completions seen. */
    bool more;         /* Last more flag. */
    bool has_buffer;   /* Last has_buffer flag. */
    uint16_t buffer_id; /* Last buffer id. */
};

static void
record_completion(struct sb_io_op *op)
{
    struct completion *completion = op->context;
    completion->result = op->result;
    completion->more = op->more;
    completion->has_buffer = op->has_buffer;
    completion->buffer_id = op->buffer_id;
    completion->count++;
}

static struct sb_io *
io_new(void)
{
    struct sb_io_config config = {.backend = SB_IO_BACKEND_URING};
    struct sb_io *io = NULL;
    cr_assert_eq(sb_io_create(&config, &io), 0);
    return io;
}

/* Runs the io until `completion` has `count` completions (bounded by 1,000 runs of 10 ms). */
static void
run_until(struct sb_io *io, struct completion *completion, uint32_t count)
{
    for (int round = 0; round < 1000 && completion->count < count; round++) {
        cr_assert_geq(sb_io_run(io, 10 * SB_NS_PER_MS), 0);
    }
    cr_assert_geq(completion->count, count, "completion did not arrive");
}

static int
temp_file(char *path, size_t capacity, int extra_flags)
{
    snprintf(path, capacity, "/tmp/sb-io-uring-XXXXXX");
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    close(fd);
    return open(path, O_RDWR | extra_flags);
}

Test(io_uring, write_fsync_read_round_trip)
{
    struct sb_io *io = io_new();
    char path[64];
    int fd = temp_file(path, sizeof(path), 0);
    struct sb_io_op op = {0};
    struct completion done = {0};
    const char text[] = "streambus writes through io_uring";
    sb_io_write(io, &op, fd, text, sizeof(text), 100, record_completion, &done);
    run_until(io, &done, 1);
    cr_assert_eq(done.result, (int32_t)sizeof(text));
    sb_io_fsync(io, &op, fd, true, record_completion, &done);
    run_until(io, &done, 2);
    cr_assert_eq(done.result, 0);
    char back[sizeof(text)] = {0};
    sb_io_read(io, &op, fd, back, sizeof(back), 100, record_completion, &done);
    run_until(io, &done, 3);
    cr_assert_eq(done.result, (int32_t)sizeof(text));
    cr_assert_str_eq(back, text);
    cr_assert_eq(sb_io_in_flight(io), 0);
    close(fd);
    unlink(path);
    sb_io_destroy(io);
}

Test(io_uring, direct_io_writev_and_fallocate)
{
    struct sb_io *io = io_new();
    char path[64];
    int fd = temp_file(path, sizeof(path), O_DIRECT);
    cr_assert_geq(fd, 0, "O_DIRECT not supported on /tmp?");
    struct sb_io_op op = {0};
    struct completion done = {0};
    sb_io_fallocate(io, &op, fd, 0, 1 << 20, record_completion, &done);
    run_until(io, &done, 1);
    cr_assert_eq(done.result, 0);
    uint8_t *blocks = sb_alloc_aligned(8192, 4096);
    memset(blocks, 'a', 4096);
    memset(blocks + 4096, 'b', 4096);
    struct iovec vectors[2] = {{blocks, 4096}, {blocks + 4096, 4096}};
    sb_io_writev(io, &op, fd, vectors, 2, 4096, record_completion, &done);
    run_until(io, &done, 2);
    cr_assert_eq(done.result, 8192);
    memset(blocks, 0, 8192);
    sb_io_read(io, &op, fd, blocks, 8192, 4096, record_completion, &done);
    run_until(io, &done, 3);
    cr_assert_eq(done.result, 8192);
    cr_assert_eq(blocks[0], 'a');
    cr_assert_eq(blocks[8191], 'b');
    sb_free(blocks);
    close(fd);
    unlink(path);
    sb_io_destroy(io);
}

#define FILLER_FDS_MAX 4096u

/* The helper thread is made by the first SYNCFS: with no descriptor left for its pipes that
 * SYNCFS fails with -EMFILE (nothing else breaks), and the next one, with descriptors again,
 * starts the thread and syncs. */
Test(io_uring, a_syncfs_without_descriptors_for_its_thread_fails_and_the_next_starts_it)
{
    struct sb_io *io = io_new();
    char path[64];
    int fd = temp_file(path, sizeof(path), 0);
    struct rlimit saved;
    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &saved), 0);
    struct rlimit tight = saved;
    tight.rlim_cur = (rlim_t)fcntl(fd, F_DUPFD, 0); /* Its own dup is closed below. */
    close((int)tight.rlim_cur);
    tight.rlim_cur += 64;
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &tight), 0);
    static int fillers[FILLER_FDS_MAX];
    uint32_t filled = 0;
    /* Bounded: the limit leaves at most 64 descriptors (plus holes below it) to take. */
    while (filled < FILLER_FDS_MAX && (fillers[filled] = dup(fd)) >= 0) {
        filled++;
    }
    cr_assert_eq(errno, EMFILE);
    struct sb_io_op op = {0};
    struct completion done = {0};
    sb_io_syncfs(io, &op, fd, record_completion, &done);
    run_until(io, &done, 1);
    cr_assert_eq(done.result, -EMFILE);
    for (uint32_t index = 0; index < filled; index++) {
        close(fillers[index]);
    }
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &saved), 0);
    sb_io_syncfs(io, &op, fd, record_completion, &done);
    run_until(io, &done, 2);
    cr_assert_eq(done.result, 0);
    cr_assert_eq(sb_io_in_flight(io), 0);
    close(fd);
    unlink(path);
    sb_io_destroy(io);
}

/* syncfs runs on the backend's helper thread: a file's filesystem syncs; a descriptor that is
 * not open fails with -EBADF; ops run in order, one at a time, from one io. */
Test(io_uring, syncfs_completes_through_the_helper_thread)
{
    struct sb_io *io = io_new();
    char path[64];
    int fd = temp_file(path, sizeof(path), 0);
    struct sb_io_op op = {0};
    struct completion done = {0};
    sb_io_write(io, &op, fd, "x", 1, 0, record_completion, &done);
    run_until(io, &done, 1);
    sb_io_syncfs(io, &op, fd, record_completion, &done);
    run_until(io, &done, 2);
    cr_assert_eq(done.result, 0);
    sb_io_syncfs(io, &op, 1000000, record_completion, &done);
    run_until(io, &done, 3);
    cr_assert_eq(done.result, -EBADF);
    sb_io_syncfs(io, &op, fd, record_completion, &done);
    run_until(io, &done, 4);
    cr_assert_eq(done.result, 0);
    cr_assert_eq(sb_io_in_flight(io), 0);
    close(fd);
    unlink(path);
    sb_io_destroy(io);
}

/* OPENAT creates a file in a kernel worker and returns its descriptor; a missing directory
 * comes back as -ENOENT. */
Test(io_uring, openat_creates_a_file)
{
    struct sb_io *io = io_new();
    char path[64];
    snprintf(path, sizeof(path), "/tmp/sb-io-uring-openat-%d", (int)getpid());
    struct sb_io_op op = {0};
    struct completion done = {0};
    sb_io_openat(io, &op, path, O_RDWR | O_CREAT | O_TRUNC, 0644, record_completion, &done);
    run_until(io, &done, 1);
    cr_assert_geq(done.result, 0);
    cr_assert_eq(write(done.result, "y", 1), 1);
    cr_assert_eq(sb_io_close(io, done.result), 0);
    cr_assert_eq(access(path, F_OK), 0);
    sb_io_openat(io, &op, "/tmp/sb-no-such-dir/x", O_RDWR | O_CREAT, 0644, record_completion,
                 &done);
    run_until(io, &done, 2);
    cr_assert_eq(done.result, -ENOENT);
    unlink(path);
    sb_io_destroy(io);
}

Test(io_uring, errors_come_back_as_negative_errno)
{
    struct sb_io *io = io_new();
    struct sb_io_op op = {0};
    struct completion done = {0};
    char byte;
    sb_io_read(io, &op, 987654, &byte, 1, 0, record_completion, &done);
    run_until(io, &done, 1);
    cr_assert_eq(done.result, -EBADF);
    cr_assert_eq(sb_io_open(io, "/nonexistent/dir/file", O_RDONLY, 0), -ENOENT);
    sb_io_destroy(io);
}

struct tcp_pair {
    int listener;  /* Listening socket. */
    int client;    /* Connected client socket. */
    int server;    /* Accepted server-side socket. */
};

static void
tcp_pair_open(struct sb_io *io, struct tcp_pair *pair, struct sb_io_op *accept_op,
              struct completion *accepted)
{
    struct sockaddr_in address = {.sin_family = AF_INET,
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    pair->listener = sb_io_listen(io, &address, 16);
    cr_assert_geq(pair->listener, 0);
    address.sin_port = htons((uint16_t)sb_io_local_port(io, pair->listener));
    sb_io_accept(io, accept_op, pair->listener, true, NULL, record_completion, accepted);
    pair->client = sb_io_socket(io);
    struct sb_io_op connect_op = {0};
    struct completion connected = {0};
    sb_io_connect(io, &connect_op, pair->client, &address, record_completion, &connected);
    run_until(io, &connected, 1);
    cr_assert_eq(connected.result, 0);
    run_until(io, accepted, 1);
    cr_assert_geq(accepted->result, 0);
    cr_assert(accepted->more, "multishot accept stays armed");
    pair->server = accepted->result;
}

static void
cancel_and_wait(struct sb_io *io, struct sb_io_op *target, struct completion *target_done)
{
    uint32_t before = target_done->count;
    struct sb_io_op cancel_op = {0};
    struct completion cancelled = {0};
    sb_io_cancel(io, &cancel_op, target, record_completion, &cancelled);
    run_until(io, &cancelled, 1);
    cr_assert_eq(cancelled.result, 0);
    run_until(io, target_done, before + 1);
    cr_assert_eq(target_done->result, -ECANCELED);
    cr_assert_not(target_done->more);
}

Test(io_uring, tcp_multishot_accept_and_buffer_ring_receive)
{
    struct sb_io *io = io_new();
    cr_assert_eq(sb_io_buffer_group_create(io, 0, 4, 64), 0);
    struct sb_io_op accept_op = {0};
    struct completion accepted = {0};
    struct tcp_pair pair;
    tcp_pair_open(io, &pair, &accept_op, &accepted);
    struct sb_io_op recv_op = {0};
    struct completion received = {0};
    sb_io_recv_multishot(io, &recv_op, pair.server, 0, record_completion, &received);
    struct sb_io_op send_op = {0};
    struct completion sent = {0};
    for (uint32_t round = 0; round < 8; round++) {
        char text[32];
        int length = snprintf(text, sizeof(text), "message %u", round);
        sb_io_send(io, &send_op, pair.client, text, (uint32_t)length, record_completion, &sent);
        run_until(io, &sent, round + 1);
        run_until(io, &received, round + 1);
        cr_assert_eq(received.result, length);
        cr_assert(received.has_buffer);
        cr_assert(received.more);
        cr_assert_eq(memcmp(sb_io_buffer(io, 0, received.buffer_id), text, (size_t)length), 0);
        /* Recycling keeps a 4-buffer group going for 8 messages. */
        sb_io_buffer_recycle(io, 0, received.buffer_id);
    }
    cr_assert_eq(sb_io_socket_nodelay(io, pair.server), 0);
    cr_assert_eq(sb_io_socket_nodelay(io, -1), -EBADF);
    cancel_and_wait(io, &recv_op, &received);
    cancel_and_wait(io, &accept_op, &accepted);
    close(pair.client);
    close(pair.server);
    close(pair.listener);
    cr_assert_eq(sb_io_in_flight(io), 0);
    sb_io_destroy(io);
}

Test(io_uring, exhausted_buffer_ring_ends_multishot_with_enobufs)
{
    struct sb_io *io = io_new();
    cr_assert_eq(sb_io_buffer_group_create(io, 1, 2, 16), 0);
    struct sb_io_op accept_op = {0};
    struct completion accepted = {0};
    struct tcp_pair pair;
    tcp_pair_open(io, &pair, &accept_op, &accepted);
    struct sb_io_op recv_op = {0};
    struct completion received = {0};
    sb_io_recv_multishot(io, &recv_op, pair.server, 1, record_completion, &received);
    /* Three separate sends, never recycled: the third finds no buffer. */
    for (int round = 0; round < 3; round++) {
        cr_assert_eq(write(pair.client, "abcdefghijklmnop", 16), 16);
        run_until(io, &received, (uint32_t)round + 1);
    }
    cr_assert_eq(received.result, -ENOBUFS);
    cr_assert_not(received.more, "the kernel ends the multishot receive");
    cancel_and_wait(io, &accept_op, &accepted);
    close(pair.client);
    close(pair.server);
    close(pair.listener);
    sb_io_destroy(io);
}

Test(io_uring, run_waits_no_longer_than_asked, .timeout = 20)
{
    struct sb_io *io = io_new();
    uint64_t start = sb_clock_monotonic_ns();
    cr_assert_eq(sb_io_run(io, 20 * SB_NS_PER_MS), 0);
    uint64_t waited = sb_clock_monotonic_ns() - start;
    /* Functional bounds, not a speed claim: it did wait (at least half of the 20 ms; timer
     * slack), and it woke for its timeout rather than sleeping on. 1 s is 50 times the wait
     * asked, so only a lost or misscaled timeout, not a loaded machine, exceeds it. */
    cr_assert_geq(waited, 10 * SB_NS_PER_MS);
    cr_assert_lt(waited, SB_NS_PER_S, "waited %llu ns for 20 ms", (unsigned long long)waited);
    sb_io_destroy(io);
}

struct wake_test {
    struct sb_io *sleeper;              /* The io being woken. */
    pid_t sleeper_thread;               /* The thread running it (its tid). */
    enum sb_io_doorbell doorbell;       /* How. */
};

/* Whether thread `tid` of this process is blocked in the kernel (state S in its stat). */
static bool
thread_is_asleep(pid_t tid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
    FILE *file = fopen(path, "r");
    cr_assert_not_null(file);
    char line[512];
    char *read = fgets(line, sizeof(line), file);
    fclose(file);
    cr_assert_not_null(read);
    const char *state = strrchr(line, ')'); /* After the command name, which may hold spaces. */
    cr_assert_not_null(state);
    return state[2] == 'S';
}

static void *
waker_main(void *argument)
{
    struct wake_test *test = argument;
    /* Rings the doorbell once the sleeper sleeps, so the wake-up of a sleeping io is what is
     * tested (bounded: 5 s; a sleeper that never sleeps is seen by its wakeups count). */
    for (int attempt = 0; attempt < 5000 && !thread_is_asleep(test->sleeper_thread); attempt++) {
        struct timespec delay = {.tv_sec = 0, .tv_nsec = 1000 * 1000};
        nanosleep(&delay, NULL);
    }
    if (test->doorbell == SB_IO_DOORBELL_EVENTFD) {
        sb_io_wake_external(test->sleeper);
        return NULL;
    }
    struct sb_io *self = io_new();
    sb_io_wake(self, test->sleeper, SB_IO_DOORBELL_MSG_RING);
    sb_io_run(self, 0);
    sb_io_destroy(self);
    return NULL;
}

static void
wake_from_thread(enum sb_io_doorbell doorbell)
{
    struct wake_test test = {.sleeper = io_new(), .sleeper_thread = gettid(),
                             .doorbell = doorbell};
    pthread_t waker;
    pthread_create(&waker, NULL, waker_main, &test);
    /* Would sleep 30 s if the doorbell were lost. */
    for (int round = 0; round < 10 && sb_io_wakeups(test.sleeper) == 0; round++) {
        sb_io_run(test.sleeper, 30 * SB_NS_PER_S);
    }
    pthread_join(waker, NULL);
    cr_assert_eq(sb_io_wakeups(test.sleeper), 1);
    sb_io_destroy(test.sleeper);
}

Test(io_uring, msg_ring_doorbell_wakes_a_sleeping_io, .timeout = 20)
{
    wake_from_thread(SB_IO_DOORBELL_MSG_RING);
}

Test(io_uring, eventfd_doorbell_wakes_a_sleeping_io, .timeout = 20)
{
    wake_from_thread(SB_IO_DOORBELL_EVENTFD);
}

Test(io_uring, bad_buffer_group_arguments_are_refused)
{
    struct sb_io *io = io_new();
    cr_assert_eq(sb_io_buffer_group_create(io, 0, 3, 64), -EINVAL, "count not a power of two");
    cr_assert_eq(sb_io_buffer_group_create(io, 99, 4, 64), -EINVAL, "group out of range");
    cr_assert_eq(sb_io_buffer_group_create(io, 0, 4, 64), 0);
    cr_assert_eq(sb_io_buffer_group_create(io, 0, 4, 64), -EEXIST);
    sb_io_destroy(io);
}

Test(io_uring, starting_a_busy_op_aborts, .signal = SIGABRT)
{
    struct sb_io *io = io_new();
    struct sb_io_op op = {0};
    struct completion done = {0};
    sb_io_nop(io, &op, record_completion, &done);
    sb_io_nop(io, &op, record_completion, &done);
}
