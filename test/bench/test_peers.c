/*
 * test/bench/test_peers.c - sb-bench's NATS JetStream and Redis Streams drivers
 * end to end for about 2 s each, against a nats-server or redis-server started
 * here on 127.0.0.1 (scripts/setup installs both servers; a missing one fails):
 * e2e exits 0 with zero lost, duplicated and out-of-order messages.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef SB_BENCH_BINARY
#error "SB_BENCH_BINARY must be defined"
#endif

/* A peer server process and its scratch directory. */
struct peer {
    pid_t pid;          /* The server, or 0. */
    uint16_t port;      /* Its port on 127.0.0.1. */
    char dir[64];       /* Its data directory. */
};

static bool
program_exists(const char *name)
{
    char command[128];
    snprintf(command, sizeof(command), "command -v %s >/dev/null 2>&1", name);
    return system(command) == 0;
}

static bool
port_open(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(port),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bool open = connect(fd, (struct sockaddr *)&address, sizeof(address)) == 0;
    close(fd);
    return open;
}

/* A port of 127.0.0.1 nothing listens on now: the kernel's pick for an unbound bind (a peer
 * started right after takes it; a fixed or random one could be some test's connection). */
static uint16_t
free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(fd, 0);
    struct sockaddr_in address = {.sin_family = AF_INET,
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t length = sizeof(address);
    cr_assert_eq(bind(fd, (struct sockaddr *)&address, sizeof(address)), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&address, &length), 0);
    close(fd);
    return ntohs(address.sin_port);
}

/* Starts argv (the port is already in it) and waits until the port accepts. */
static void
peer_start(struct peer *peer, char *const *argv)
{
    peer->pid = fork();
    cr_assert_geq(peer->pid, 0);
    if (peer->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        freopen("/dev/null", "w", stdout);
        freopen("/dev/null", "w", stderr);
        execvp(argv[0], argv);
        _exit(127);
    }
    /* Up to 20 s (a loaded machine starts it slowly), unless it exits first. */
    int status = 0;
    for (int attempt = 0; attempt < 2000 && !port_open(peer->port); attempt++) {
        if (waitpid(peer->pid, &status, WNOHANG) == peer->pid) {
            peer->pid = 0;
            cr_assert_fail("%s exited before it listened on port %u (status %d)", argv[0],
                    peer->port, status);
        }
        struct timespec pause = {0, 10 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    cr_assert(port_open(peer->port), "%s did not start", argv[0]);
}

static void
peer_stop(struct peer *peer)
{
    char command[128];
    if (peer->pid > 0) {
        kill(peer->pid, SIGTERM);
        waitpid(peer->pid, NULL, 0);
    }
    snprintf(command, sizeof(command), "rm -rf %s", peer->dir);
    cr_assert_eq(system(command), 0);
}

static void
peer_init(struct peer *peer)
{
    snprintf(peer->dir, sizeof(peer->dir), "/tmp/sb-bench-peer-XXXXXX");
    cr_assert_not_null(mkdtemp(peer->dir));
    peer->port = free_port();
}

/* Runs an e2e of about 2 s; returns the exit status and leaves the JSON in dir. */
static int
run_e2e(const struct peer *peer, const char *driver, char *json, size_t capacity)
{
    char address[32];
    snprintf(address, sizeof(address), "127.0.0.1:%u", peer->port);
    snprintf(json, capacity, "%s/result.json", peer->dir);
    pid_t child = fork();
    cr_assert_geq(child, 0);
    if (child == 0) {
        freopen("/dev/null", "w", stdout);
        execl(SB_BENCH_BINARY, SB_BENCH_BINARY, "e2e", "--driver", driver, "-b", address,
              "--duration", "2", "--warmup", "0", "--partitions", "3", "--rate", "3000",
              "--quiet", "--json", json, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    cr_assert_eq(waitpid(child, &status, 0), child);
    cr_assert(WIFEXITED(status));
    return WEXITSTATUS(status);
}

static void
check_clean(const char *json)
{
    char command[512];
    snprintf(command, sizeof(command),
             "grep -q '\"lost\": 0,' %s && grep -q '\"duplicated\": 0,' %s && "
             "grep -q '\"out_of_order\": 0,' %s && grep -q '\"lost_checked\": true' %s",
             json, json, json, json);
    cr_assert_eq(system(command), 0, "verification counts are not zero in %s", json);
}

Test(peers, nats_jetstream_e2e_delivers_everything_once, .timeout = 60)
{
    cr_assert(program_exists("nats-server"), "nats-server is missing (scripts/setup installs it)");
    struct peer peer;
    char port[16];
    char json[128];
    peer_init(&peer);
    snprintf(port, sizeof(port), "%u", peer.port);
    char *const argv[] = {"nats-server", "-js", "-sd", peer.dir, "-a", "127.0.0.1", "-p",
                          port, NULL};
    peer_start(&peer, argv);
    int status = run_e2e(&peer, "nats", json, sizeof(json));
    if (status != 0) {
        peer_stop(&peer);
        cr_assert_eq(status, 0, "sb-bench --driver nats exited %d", status);
    }
    check_clean(json);
    peer_stop(&peer);
}

Test(peers, redis_streams_e2e_delivers_everything_once, .timeout = 60)
{
    cr_assert(program_exists("redis-server"),
              "redis-server is missing (scripts/setup installs it)");
    struct peer peer;
    char port[16];
    char json[128];
    peer_init(&peer);
    snprintf(port, sizeof(port), "%u", peer.port);
    char *const argv[] = {"redis-server", "--port", port, "--bind", "127.0.0.1", "--dir",
                          peer.dir, "--appendonly", "yes", "--appendfsync", "everysec",
                          "--save", "", NULL};
    peer_start(&peer, argv);
    int status = run_e2e(&peer, "redis", json, sizeof(json));
    if (status != 0) {
        peer_stop(&peer);
        cr_assert_eq(status, 0, "sb-bench --driver redis exited %d", status);
    }
    check_clean(json);
    peer_stop(&peer);
}
