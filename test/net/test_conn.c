/*
 * test/net/test_conn.c - connections (net/conn.c) and a listener
 * (net/listener.c) without a broker: one io_uring shard runs sb_net under a
 * small echo layer written here, and the test's thread is the client over
 * loopback. Frames are delivered whole and
 * in order (also when they arrive pipelined or a byte at a time), answers go
 * out in request order when completed out of order, request slots and the
 * in-flight limit push back without losing a byte, frame-level errors
 * (too large, malformed, over max_connections) are answered by the framer's
 * error frame before the connection closes, the idle timeout closes, a
 * closing connection cancels what it has in flight, and every request slot
 * the layer handed out comes back.
 *
 * The echo layer answers with the first BODY_BYTES_MAX bytes of a frame's
 * body, and the frame's first body byte says when: 'E' at once, 'H' holds
 * the answer until an 'R' frame comes (then the held ones are answered
 * newest first, after the 'R' itself), 'D' from a timer 20 ms later.
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/base.h"
#include "core/clock.h"
#include "core/io.h"
#include "core/runtime.h"
#include "core/shard.h"
#include "net/conn.h"
#include "net/framer.h"
#include "net/listener.h"
#include "proto/errors.h"
#include "proto/wire.h"

#define SLOTS_MAX 64u
#define FRAME_BYTES_MAX 1024u
#define BODY_BYTES_MAX 64u
#define DELAY_NS (20 * SB_NS_PER_MS)
#define CLIENT_TIMEOUT_MS 5000

struct echo_request {
    struct sb_net_request net;        /* The transport's part. */
    bool used;                        /* Handed out. */
    bool held;                        /* 'H': waiting for an 'R'. */
    struct sb_timer timer;            /* 'D': answers when it fires. */
    uint8_t frame[FRAME_BYTES_MAX + SB_FRAME_HEADER_BYTES]; /* The frame buffer. */
    uint8_t response[BODY_BYTES_MAX + SB_FRAME_HEADER_BYTES]; /* The answer. */
};

/* Shard state; the test's thread reads it only before start and after the runtime ended. */
struct echo {
    struct sb_net net;                /* The transport under test. */
    struct sb_shard *shard;           /* The one shard. */
    struct sb_net_config config;      /* Limits of this test. */
    uint32_t slots;                   /* Request slots the layer has (<= SLOTS_MAX). */
    struct echo_request requests[SLOTS_MAX]; /* The slots. */
    struct echo_request *held[SLOTS_MAX]; /* 'H' requests in arrival order. */
    uint32_t held_count;              /* Entries in held. */
    uint32_t in_use;                  /* Slots handed out now. */
    uint32_t in_use_max;              /* Most slots out at once. */
    uint32_t acquired;                /* Slots handed out in all. */
    uint32_t released;                /* Slots given back. */
    uint32_t refused;                 /* request_acquire returned NULL. */
    uint32_t started;                 /* Frames delivered. */
    uint32_t cancelled;               /* request_cancel calls. */
    uint32_t inflight_max;            /* Most frames started and not yet released. */
    struct sb_listener listener;      /* 127.0.0.1, any port. */
    _Atomic uint16_t port;            /* The listening port. */
    _Atomic uint32_t started_shared;  /* `started`, for the test's thread. */
    struct sb_runtime *runtime;       /* The runtime. */
};

static struct echo echo;

static struct sb_net_request *
echo_acquire(void *context, uint32_t frame_total_bytes)
{
    struct echo *self = context;
    cr_assert(frame_total_bytes <= FRAME_BYTES_MAX + SB_FRAME_HEADER_BYTES);
    for (uint32_t index = 0; index < self->slots; index++) {
        struct echo_request *request = &self->requests[index];
        if (!request->used) {
            memset(&request->net, 0, sizeof(request->net));
            request->used = true;
            request->held = false;
            sb_timer_init(&request->timer);
            if (frame_total_bytes != 0) {
                request->net.frame = request->frame;
                request->net.frame_capacity = sizeof(request->frame);
            }
            self->in_use++;
            self->in_use_max = (uint32_t)sb_max_u64(self->in_use_max, self->in_use);
            self->acquired++;
            return &request->net;
        }
    }
    self->refused++;
    return NULL;
}

/* Answers with the request's body, echoing its key and correlation id. */
static void
echo_answer(struct echo_request *request)
{
    struct sb_frame frame;
    int decoded = sb_frame_decode(request->frame, request->net.frame_total_bytes,
                                  FRAME_BYTES_MAX, &frame);
    cr_assert_eq(decoded, 0);
    uint32_t body_bytes = (uint32_t)sb_min_u64(frame.body_bytes, BODY_BYTES_MAX);
    struct sb_wire_writer writer;
    sb_wire_writer_init(&writer, request->response, sizeof(request->response));
    struct sb_frame_header header = {.api_key = frame.header.api_key,
                                     .correlation_id = frame.header.correlation_id,
                                     .flags = SB_FRAME_FLAG_RESPONSE};
    cr_assert_eq(sb_frame_begin(&writer, &header), 0);
    memcpy(sb_wire_write_reserve(&writer, body_bytes), frame.body, body_bytes);
    cr_assert_eq(sb_frame_finish(&writer), 0);
    request->net.response = request->response;
    request->net.response_capacity = sizeof(request->response);
    request->net.response_bytes = (uint32_t)sb_wire_writer_length(&writer);
    sb_net_request_complete(&request->net);
}

static void
echo_timer_fire(struct sb_timer *timer)
{
    echo_answer(timer->context);
}

/* Answers the held requests newest first. */
static void
echo_answer_held(struct echo *self)
{
    while (self->held_count > 0) {
        struct echo_request *request = self->held[--self->held_count];
        request->held = false;
        echo_answer(request);
    }
}

static void
echo_start(struct sb_net_request *net_request)
{
    struct echo_request *request = SB_CONTAINER_OF(net_request, struct echo_request, net);
    echo.started++;
    atomic_store(&echo.started_shared, echo.started);
    uint32_t inflight = echo.started - echo.released;
    echo.inflight_max = (uint32_t)sb_max_u64(echo.inflight_max, inflight);
    uint8_t kind = request->frame[SB_FRAME_HEADER_BYTES];
    if (kind == 'H') {
        request->held = true;
        echo.held[echo.held_count++] = request;
    } else if (kind == 'D') {
        sb_shard_timer_arm(echo.shard, &request->timer, DELAY_NS, echo_timer_fire, request);
    } else if (kind == 'R') {
        echo_answer(request);
        echo_answer_held(&echo);
    } else {
        echo_answer(request);
    }
}

static void
echo_release(struct sb_net_request *net_request)
{
    struct echo_request *request = SB_CONTAINER_OF(net_request, struct echo_request, net);
    cr_assert(request->used);
    cr_assert_null(net_request->conn);
    request->used = false;
    echo.in_use--;
    echo.released++;
}

/* Nobody waits any more: held answers go now (as a broker ends a long poll). */
static void
echo_cancel(struct sb_net_request *net_request)
{
    struct echo_request *request = SB_CONTAINER_OF(net_request, struct echo_request, net);
    echo.cancelled++;
    if (request->held) {
        echo_answer_held(&echo);
    }
}

static void
echo_conn_ended(void *context)
{
    (void)context;
    cr_assert_fail("no connection was adopted with report_end");
}

static void
echo_accepted(struct sb_listener *listener, int fd)
{
    struct echo *self = listener->context;
    sb_net_adopt(&self->net, fd, false);
}

static int
echo_shard_start(struct sb_shard *shard)
{
    echo.shard = shard;
    struct sb_net_callbacks callbacks = {
        .request_acquire = echo_acquire, .request_start = echo_start,
        .request_release = echo_release, .request_cancel = echo_cancel,
        .conn_ended = echo_conn_ended, .context = &echo,
    };
    int result = sb_net_init(&echo.net, shard, &echo.config, &sb_framer_native, &callbacks);
    cr_assert_eq(result, 0);
    result = sb_listener_open(&echo.listener, sb_shard_io(shard), "127.0.0.1", 0,
                              echo_accepted, &echo);
    cr_assert_eq(result, 0);
    cr_assert_neq(echo.listener.port, 0, "the port picked is known");
    echo.port = echo.listener.port;
    return 0;
}

static void
echo_shard_stop(struct sb_shard *shard)
{
    (void)shard;
    sb_listener_stop(&echo.listener);
    sb_net_stop(&echo.net);
}

static bool
echo_shard_drained(struct sb_shard *shard)
{
    (void)shard;
    return sb_net_idle(&echo.net) && echo.in_use == 0;
}

static void
echo_iteration_end(struct sb_shard *shard)
{
    (void)shard;
    sb_net_resume(&echo.net);
}

static void
echo_message(struct sb_shard *shard, const struct sb_msg *message)
{
    (void)shard;
    cr_assert_fail("one shard sends no message (type %u)", message->type);
}

static void
echo_finish(struct sb_shard *shard)
{
    (void)shard;
    sb_listener_close(&echo.listener);
}

/* Starts the shard with these limits and `slots` request slots. */
static void
echo_run(uint32_t slots, uint32_t max_connections, uint32_t max_inflight, uint32_t idle_ms)
{
    memset(&echo, 0, sizeof(echo));
    echo.slots = slots;
    echo.config = (struct sb_net_config){.max_connections = max_connections,
                                         .max_frame_bytes = FRAME_BYTES_MAX,
                                         .max_inflight_requests = max_inflight,
                                         .idle_timeout_ms = idle_ms};
    struct sb_runtime_config config = {
        .shard_count = 1,
        .backend = SB_IO_BACKEND_URING,
        .arena_bytes = 8u << 20,
        .shutdown_timeout_ns = 10 * SB_NS_PER_S,
        .idle_wait_ns = 50 * SB_NS_PER_MS,
        .hooks = {.start = echo_shard_start, .stop = echo_shard_stop,
                  .drained = echo_shard_drained, .message = echo_message,
                  .iteration_end = echo_iteration_end, .finish = echo_finish},
    };
    cr_assert_eq(sb_runtime_create(&config, &echo.runtime), 0);
    cr_assert_eq(sb_runtime_start(echo.runtime), 0);
}

/* Stops the shard; every slot handed out must have come back. */
static void
echo_end(void)
{
    sb_runtime_stop(echo.runtime);
    cr_assert_eq(sb_runtime_wait(echo.runtime), 0);
    sb_runtime_destroy(echo.runtime);
    cr_assert_eq(echo.acquired, echo.released, "every request slot was given back");
    cr_assert_eq(echo.in_use, 0);
}

static int
client_connect(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(fd, 0);
    struct timeval timeout = {.tv_sec = CLIENT_TIMEOUT_MS / 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(echo.port)};
    inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
    cr_assert_eq(connect(fd, (struct sockaddr *)&address, sizeof(address)), 0);
    return fd;
}

/* Encodes a request frame with `body` into out; returns its length. */
static uint32_t
frame_build(uint8_t *out, uint32_t capacity, uint32_t correlation_id, const char *body)
{
    struct sb_wire_writer writer;
    sb_wire_writer_init(&writer, out, capacity);
    struct sb_frame_header header = {.api_key = SB_API_METADATA,
                                     .correlation_id = correlation_id};
    cr_assert_eq(sb_frame_begin(&writer, &header), 0);
    uint32_t body_bytes = (uint32_t)strlen(body);
    memcpy(sb_wire_write_reserve(&writer, body_bytes), body, body_bytes);
    cr_assert_eq(sb_frame_finish(&writer), 0);
    return (uint32_t)sb_wire_writer_length(&writer);
}

static void
client_send(int fd, const uint8_t *bytes, uint32_t length)
{
    cr_assert_eq(send(fd, bytes, length, MSG_NOSIGNAL), (ssize_t)length);
}

static void
client_send_frame(int fd, uint32_t correlation_id, const char *body)
{
    uint8_t frame[SB_FRAME_HEADER_BYTES + BODY_BYTES_MAX];
    client_send(fd, frame, frame_build(frame, sizeof(frame), correlation_id, body));
}

/* Reads exactly `length` bytes; false on EOF or timeout. */
static bool
client_read(int fd, uint8_t *out, uint32_t length)
{
    uint32_t have = 0;
    /* Bounded: each pass reads at least one byte or returns. */
    while (have < length) {
        ssize_t got = recv(fd, out + have, length - have, 0);
        if (got <= 0) {
            return false;
        }
        have += (uint32_t)got;
    }
    return true;
}

/* Reads one answer frame; checks its correlation id, returns its error code, copies the
 * body (NUL-terminated) into body_out. */
static int16_t
client_read_answer(int fd, uint32_t correlation_id, char *body_out)
{
    uint8_t frame[SB_FRAME_HEADER_BYTES + BODY_BYTES_MAX];
    cr_assert(client_read(fd, frame, SB_FRAME_HEADER_BYTES), "an answer arrives");
    struct sb_frame_header header;
    int result = sb_frame_header_decode(frame, SB_FRAME_HEADER_BYTES, FRAME_BYTES_MAX, &header);
    cr_assert(result == 0 || result == -EAGAIN);
    uint32_t body_bytes = header.frame_bytes - SB_FRAME_BYTES_MIN;
    cr_assert(body_bytes <= BODY_BYTES_MAX);
    cr_assert(client_read(fd, frame + SB_FRAME_HEADER_BYTES, body_bytes));
    struct sb_frame decoded;
    cr_assert_eq(sb_frame_decode(frame, SB_FRAME_HEADER_BYTES + body_bytes, FRAME_BYTES_MAX,
                                 &decoded), 0);
    cr_assert(sb_frame_header_is_response(&decoded.header));
    cr_assert_eq(decoded.header.correlation_id, correlation_id);
    memcpy(body_out, decoded.body, body_bytes);
    body_out[body_bytes] = '\0';
    return decoded.header.error_code;
}

/* True when the broker side closed: recv sees EOF (not a timeout). */
static bool
client_sees_close(int fd)
{
    uint8_t byte;
    return recv(fd, &byte, 1, 0) == 0;
}

/* Sends `count` frames in one write, bodies `kind` + their index ("E00", "E01", ...). */
static void
client_send_numbered(int fd, char kind, uint32_t count)
{
    static uint8_t frames[64 * (SB_FRAME_HEADER_BYTES + 8)];
    cr_assert(count <= 64);
    uint32_t length = 0;
    for (uint32_t index = 0; index < count; index++) {
        char body[8];
        snprintf(body, sizeof(body), "%c%02u", kind, index);
        length += frame_build(frames + length, sizeof(frames) - length, index, body);
    }
    client_send(fd, frames, length); /* All pipelined in one write. */
}

/* Reads the answers to client_send_numbered, which must come in request order. */
static void
client_expect_numbered(int fd, char kind, uint32_t count)
{
    for (uint32_t index = 0; index < count; index++) {
        char body[BODY_BYTES_MAX + 1];
        char expected[8];
        snprintf(expected, sizeof(expected), "%c%02u", kind, index);
        cr_assert_eq(client_read_answer(fd, index, body), SB_WIRE_ERROR_NONE);
        cr_assert_str_eq(body, expected);
    }
}

Test(conn, frames_are_delivered_whole_and_in_order)
{
    echo_run(SLOTS_MAX, 8, 64, 0);
    int fd = client_connect();
    client_send_numbered(fd, 'E', 16);
    client_expect_numbered(fd, 'E', 16);
    close(fd);
    echo_end();
    cr_assert_eq(echo.started, 16);
}

Test(conn, frames_arriving_a_byte_at_a_time_are_assembled)
{
    echo_run(SLOTS_MAX, 8, 64, 0);
    int fd = client_connect();
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    uint8_t frame[SB_FRAME_HEADER_BYTES + 8];
    uint32_t length = frame_build(frame, sizeof(frame), 7, "Ebytes");
    for (uint32_t index = 0; index < length; index++) {
        client_send(fd, frame + index, 1);
        usleep(1000);
    }
    char body[BODY_BYTES_MAX + 1];
    cr_assert_eq(client_read_answer(fd, 7, body), SB_WIRE_ERROR_NONE);
    cr_assert_str_eq(body, "Ebytes");
    close(fd);
    echo_end();
}

Test(conn, answers_leave_in_request_order_when_completed_out_of_order)
{
    echo_run(SLOTS_MAX, 8, 64, 0);
    int fd = client_connect();
    client_send_frame(fd, 1, "H1");
    client_send_frame(fd, 2, "H2");
    client_send_frame(fd, 3, "D3");
    client_send_frame(fd, 4, "R4"); /* Answered first, then H2, then H1; D3 20 ms later. */
    const char *expected[4] = {"H1", "H2", "D3", "R4"};
    for (uint32_t index = 0; index < 4; index++) {
        char body[BODY_BYTES_MAX + 1];
        cr_assert_eq(client_read_answer(fd, index + 1, body), SB_WIRE_ERROR_NONE);
        cr_assert_str_eq(body, expected[index]);
    }
    close(fd);
    echo_end();
}

Test(conn, no_slot_and_the_inflight_limit_push_back_without_losing_bytes)
{
    echo_run(3, 8, 2, 0);
    int fd = client_connect();
    client_send_numbered(fd, 'D', 40);
    client_expect_numbered(fd, 'D', 40);
    close(fd);
    echo_end();
    cr_assert_eq(echo.started, 40);
    cr_assert_leq(echo.inflight_max, 2, "max_inflight_requests holds");
}

Test(conn, no_request_slot_waits_for_one)
{
    echo_run(1, 8, 64, 0);
    int fd = client_connect();
    client_send_frame(fd, 1, "D1");
    client_send_frame(fd, 2, "E2"); /* No slot until D1 is answered and sent. */
    char body[BODY_BYTES_MAX + 1];
    cr_assert_eq(client_read_answer(fd, 1, body), SB_WIRE_ERROR_NONE);
    cr_assert_eq(client_read_answer(fd, 2, body), SB_WIRE_ERROR_NONE);
    cr_assert_str_eq(body, "E2");
    close(fd);
    echo_end();
    cr_assert_geq(echo.refused, 1, "the layer was asked while it had no slot");
}

/* A header claiming frame_bytes, with the rest of a valid header. */
static void
client_send_length(int fd, uint32_t correlation_id, uint32_t frame_bytes)
{
    uint8_t frame[SB_FRAME_HEADER_BYTES];
    frame_build(frame, sizeof(frame), correlation_id, "");
    for (int index = 0; index < 4; index++) {
        frame[index] = (uint8_t)(frame_bytes >> (8 * index));
    }
    client_send(fd, frame, sizeof(frame));
}

Test(conn, frame_over_the_limit_gets_the_error_frame_then_close)
{
    echo_run(SLOTS_MAX, 8, 64, 0);
    int fd = client_connect();
    client_send_frame(fd, 1, "E1");
    client_send_length(fd, 2, FRAME_BYTES_MAX + 1);
    char body[BODY_BYTES_MAX + 1];
    cr_assert_eq(client_read_answer(fd, 1, body), SB_WIRE_ERROR_NONE);
    cr_assert_eq(client_read_answer(fd, 2, body), SB_WIRE_ERROR_REQUEST_TOO_LARGE);
    cr_assert_str_eq(body, "");
    cr_assert(client_sees_close(fd));
    close(fd);
    echo_end();
    cr_assert_eq(echo.started, 1, "the refused frame never reached the layer");
}

Test(conn, frame_at_the_limit_is_delivered)
{
    echo_run(SLOTS_MAX, 8, 64, 0);
    int fd = client_connect();
    static uint8_t frame[SB_FRAME_HEADER_BYTES + FRAME_BYTES_MAX];
    static char body[FRAME_BYTES_MAX - SB_FRAME_BYTES_MIN + 1];
    memset(body, 'x', sizeof(body) - 1);
    body[0] = 'E';
    uint32_t length = frame_build(frame, sizeof(frame), 3, body);
    cr_assert_eq(length, SB_FRAME_PREFIX_BYTES + FRAME_BYTES_MAX);
    client_send(fd, frame, length);
    char answer[BODY_BYTES_MAX + 1];
    cr_assert_eq(client_read_answer(fd, 3, answer), SB_WIRE_ERROR_NONE);
    cr_assert_eq(strlen(answer), BODY_BYTES_MAX, "the echo keeps the first bytes");
    cr_assert_eq(memcmp(answer, body, BODY_BYTES_MAX), 0);
    close(fd);
    echo_end();
}

Test(conn, malformed_header_gets_corrupt_frame_then_close)
{
    echo_run(SLOTS_MAX, 8, 64, 0);
    int fd = client_connect();
    uint8_t frame[SB_FRAME_HEADER_BYTES];
    frame_build(frame, sizeof(frame), 9, "");
    frame[SB_FRAME_OFFSET_RESERVED] = 1;
    client_send(fd, frame, sizeof(frame));
    char body[BODY_BYTES_MAX + 1];
    cr_assert_eq(client_read_answer(fd, 9, body), SB_WIRE_ERROR_CORRUPT_FRAME);
    cr_assert(client_sees_close(fd));
    close(fd);
    echo_end();
    cr_assert_eq(echo.started, 0);
}

Test(conn, connection_over_the_limit_is_refused_after_its_first_frame)
{
    echo_run(SLOTS_MAX, 1, 64, 0);
    int first = client_connect();
    char body[BODY_BYTES_MAX + 1];
    client_send_frame(first, 1, "E1");
    cr_assert_eq(client_read_answer(first, 1, body), SB_WIRE_ERROR_NONE);
    int second = client_connect();
    client_send_frame(second, 5, "E5");
    cr_assert_eq(client_read_answer(second, 5, body), SB_WIRE_ERROR_TOO_MANY_CONNECTIONS);
    cr_assert(client_sees_close(second));
    client_send_frame(first, 2, "E2");
    cr_assert_eq(client_read_answer(first, 2, body), SB_WIRE_ERROR_NONE);
    close(second);
    close(first);
    echo_end();
    cr_assert_eq(echo.started, 2);
}

Test(conn, idle_connection_is_closed)
{
    echo_run(SLOTS_MAX, 8, 64, 100);
    int fd = client_connect();
    uint64_t start_ns = sb_clock_monotonic_ns();
    cr_assert(client_sees_close(fd), "closed, not timed out");
    cr_assert_geq(sb_clock_monotonic_ns() - start_ns, 100 * SB_NS_PER_MS);
    close(fd);
    echo_end();
}

Test(conn, closing_connection_cancels_what_is_in_flight)
{
    echo_run(SLOTS_MAX, 8, 64, 0);
    int fd = client_connect();
    client_send_frame(fd, 1, "H1");
    client_send_frame(fd, 2, "E2");
    /* Bounded: 5 s in 1 ms steps. */
    for (uint32_t wait_ms = 0; wait_ms < CLIENT_TIMEOUT_MS && echo.started_shared < 2; wait_ms++) {
        usleep(1000);
    }
    cr_assert_eq(echo.started_shared, 2, "both frames arrived");
    uint8_t byte;
    cr_assert_eq(recv(fd, &byte, 1, MSG_DONTWAIT), -1, "E2 waits behind H1");
    close(fd);
    echo_end();
    cr_assert_geq(echo.cancelled, 1);
    cr_assert_eq(echo.started, 2);
}

Test(listener, host_that_is_not_ipv4_is_refused)
{
    struct sb_listener listener;
    cr_assert_eq(sb_listener_open(&listener, NULL, "localhost", 0, echo_accepted, &echo),
                 -EINVAL);
    cr_assert_eq(listener.fd, -1);
    sb_listener_close(&listener); /* Nothing to close. */
}

/* A framer whose prefix does not fit a connection's prefix buffer. */
static const struct sb_framer framer_too_long = {
    .name = "too-long", .prefix_bytes = SB_FRAMER_PREFIX_BYTES_MAX + 1,
};

Test(conn, framer_with_a_prefix_over_the_maximum_is_a_bug, .signal = SIGABRT)
{
    struct sb_net_callbacks callbacks = {.request_acquire = echo_acquire,
                                         .request_start = echo_start};
    static struct sb_net net;
    sb_net_init(&net, NULL, &echo.config, &framer_too_long, &callbacks);
}
