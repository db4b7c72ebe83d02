/*
 * core/io_sim.c - the deterministic simulation backend of core/io.h and the
 * world of core/sim.h. The simulator has three sibling files behind the
 * private core/io_sim_internal.h:
 *   io_sim.c      (this file) the world: virtual clock, seeded generator,
 *                 fault rates, trace hash, registry of joined ios; each io's
 *                 event heap, run loop, provided buffers and wake flag;
 *   io_sim_disk.c real files: disk ops as real syscalls, remembered unsynced
 *                 writes, one-shot faults, power loss;
 *   io_sim_net.c  simulated TCP sockets, entirely in memory.
 *
 * Start reading at sim_run, then run_fire.
 *
 * Time and order. Every accepted op becomes an event in its io's min-heap,
 * ordered by (due_ns, sequence); the sequence is a world-wide counter, so ties
 * break by push order and never by address. sim_run fires, in that order, the
 * events of its own io that are due and that were pushed BEFORE the run began:
 * an op started by a callback fires in a later run even if it is due at once
 * (as with io_uring, where SQEs prepared in callbacks go out with the next
 * submit). That bounds each run by the heap size. Time moves only when a run
 * with nothing due waits (to the earlier of its next event and now + wait), in
 * sb_sim_advance and in sb_sim_sleep; it never moves backwards and is never
 * read from a real clock. NOP and CANCEL are due at once. A run that finds
 * the io woken (sb_io_wake, sb_io_wake_external) clears the flag, counts the
 * wake-up and does not wait, but still fires what is due.
 *
 * Trace. Each completion folds (virtual time, op kind, descriptor, result)
 * into an FNV-1a hash. Real descriptor numbers depend on the process, so a
 * tracked file is folded as SIM_TRACE_FILE_TAG + its descriptor slot, which
 * depends only on the order of opens and closes; sockets use their virtual
 * descriptor.
 *
 * Threads: a world and all its ios belong to one thread. sb_io_wake_external
 * only sets a flag here, so it must be called from that thread too.
 *
 * Destroying an io asserts that it has no ops in flight, unless power was lost
 * under it (sb_sim_power_loss marks every joined io dead and drops its events
 * and sockets without completing them, as a power cut would; ops started on a
 * dead io, e.g. by code freeing the crashed shard, never complete either).
 */
#include <errno.h>
#include <string.h>

#include "core/alloc.h"
#include "core/assert.h"
#include "core/io_backend.h"
#include "core/io_sim_internal.h"
#include "core/limits.h"
#include "core/sim.h"

/* The clock starts here, so that 0 never looks like a valid time. */
#define SIM_EPOCH_NS 1000000000ull
/* Heap slots allocated when an io is created; the heap doubles up to SB_SIM_EVENTS_MAX. */
#define SIM_EVENTS_INITIAL 64u
/* Trace descriptor of a tracked file: this tag plus its slot in sb_sim.fds. */
#define SIM_TRACE_FILE_TAG (1ull << 40)
#define SIM_FNV_OFFSET 0xcbf29ce484222325ull
#define SIM_FNV_PRIME 0x100000001b3ull

static_assert(SIM_EVENTS_INITIAL <= SB_SIM_EVENTS_MAX, "initial heap within the limit");

static const struct sb_io_backend_ops sim_ops;

static struct sim_io *
sim_io_from(struct sb_io *io)
{
    SB_ASSERT(io->kind == SB_IO_BACKEND_SIM);
    return (struct sim_io *)io;
}

/* ---- The world ------------------------------------------------------------------------ */

/* splitmix64: spreads one seed over the four words of xoshiro's state. */
static uint64_t
create_splitmix(uint64_t *state)
{
    *state += 0x9e3779b97f4a7c15ull;
    uint64_t value = *state;
    value = (value ^ (value >> 30)) * 0xbf58476d1ce4e5b9ull;
    value = (value ^ (value >> 27)) * 0x94d049bb133111ebull;
    return value ^ (value >> 31);
}

int
sb_sim_create(const struct sb_sim_config *config, struct sb_sim **sim_out)
{
    SB_ASSERT(config != NULL);
    SB_ASSERT(sim_out != NULL);
    *sim_out = NULL;
    struct sb_sim *sim = sb_alloc(sizeof(*sim));
    if (sim == NULL) {
        return -ENOMEM;
    }
    uint64_t seed_state = config->seed;
    for (uint32_t word = 0; word < SB_ARRAY_COUNT(sim->random); word++) {
        sim->random[word] = create_splitmix(&seed_state);
    }
    sim->now_ns = SIM_EPOCH_NS;
    sim->faults = config->faults;
    sim->trace_hash = SIM_FNV_OFFSET;
    for (uint32_t index = 0; index < SB_SIM_FILES_MAX; index++) {
        sim->files[index].shadow_fd = -1;
    }
    int result = sb_sim_net_create(sim, &sim->net);
    if (result < 0) {
        sb_free(sim);
        return result;
    }
    *sim_out = sim;
    return 0;
}

void
sb_sim_destroy(struct sb_sim *sim)
{
    if (sim == NULL) {
        return;
    }
    SB_ASSERT(sim->io_count == 0);
    sb_sim_disk_destroy(sim);
    sb_sim_net_destroy(sim->net);
    sb_free(sim);
}

uint64_t
sb_sim_now_ns(const struct sb_sim *sim)
{
    return sim->now_ns;
}

/* Moves the clock forward to `until_ns`, or only to the alarm if that comes first. */
static void
sim_clock_move(struct sb_sim *sim, uint64_t until_ns)
{
    if (sim->alarm_ns != 0) {
        until_ns = sb_min_u64(until_ns, sim->alarm_ns);
    }
    sim->now_ns = sb_max_u64(sim->now_ns, until_ns);
    if (sim->alarm_ns != 0 && sim->now_ns >= sim->alarm_ns) {
        sim->alarm_ns = 0;
    }
}

bool
sb_sim_advance(struct sb_sim *sim)
{
    uint64_t earliest_ns = UINT64_MAX;
    bool found = false;
    for (uint32_t index = 0; index < sim->io_count; index++) {
        const struct sim_io *io = sim->ios[index];
        if (!io->dead && io->event_count > 0) {
            earliest_ns = sb_min_u64(earliest_ns, io->events[0].due_ns);
            found = true;
        }
    }
    if (sim->alarm_ns != 0) {
        earliest_ns = sb_min_u64(earliest_ns, sim->alarm_ns);
        found = true;
    }
    if (found) {
        sim_clock_move(sim, earliest_ns);
    }
    return found;
}

void
sb_sim_sleep(struct sb_sim *sim, uint64_t delta_ns)
{
    SB_ASSERT(sim->now_ns <= UINT64_MAX - delta_ns);
    sim_clock_move(sim, sim->now_ns + delta_ns);
}

void
sb_sim_alarm(struct sb_sim *sim, uint64_t at_ns)
{
    sim->alarm_ns = at_ns > sim->now_ns ? at_ns : 0;
}

static uint64_t
random_rotate_left(uint64_t value, int bits)
{
    return (value << bits) | (value >> (64 - bits));
}

/* xoshiro256** (Blackman and Vigna): fast, 256 bits of state, good enough for test choices. */
uint64_t
sb_sim_random(struct sb_sim *sim)
{
    uint64_t *state = sim->random;
    uint64_t result = random_rotate_left(state[1] * 5, 7) * 9;
    uint64_t shifted = state[1] << 17;
    state[2] ^= state[0];
    state[3] ^= state[1];
    state[1] ^= state[2];
    state[0] ^= state[3];
    state[2] ^= shifted;
    state[3] = random_rotate_left(state[3], 45);
    return result;
}

uint64_t
sb_sim_uniform(struct sb_sim *sim, uint64_t min_value, uint64_t max_value)
{
    if (max_value <= min_value) {
        return min_value;
    }
    uint64_t span = max_value - min_value;
    if (span == UINT64_MAX) {
        return sb_sim_random(sim);
    }
    return min_value + sb_sim_random(sim) % (span + 1);
}

bool
sb_sim_chance(struct sb_sim *sim, uint32_t ppm)
{
    if (ppm == 0) {
        return false;
    }
    return sb_sim_random(sim) % 1000000u < ppm;
}

void
sb_sim_set_faults(struct sb_sim *sim, const struct sb_sim_faults *faults)
{
    SB_ASSERT(faults != NULL);
    sim->faults = *faults;
}

uint64_t
sb_sim_trace_hash(const struct sb_sim *sim)
{
    return sim->trace_hash;
}

uint64_t
sb_sim_trace_count(const struct sb_sim *sim)
{
    return sim->trace_count;
}

/* ---- Joining, leaving, completing ------------------------------------------------------ */

int
sb_io_sim_create(const struct sb_io_config *config, struct sb_io **io_out)
{
    struct sb_sim *sim = config->sim;
    SB_ASSERT(sim != NULL);
    SB_ASSERT(config->backend == SB_IO_BACKEND_SIM);
    if (sim->io_count == SB_SIM_IOS_MAX) {
        return -ENOSPC;
    }
    struct sim_io *io = sb_alloc(sizeof(*io));
    if (io == NULL) {
        return -ENOMEM;
    }
    io->events = sb_alloc(SIM_EVENTS_INITIAL * sizeof(io->events[0]));
    if (io->events == NULL) {
        sb_free(io);
        return -ENOMEM;
    }
    io->event_capacity = SIM_EVENTS_INITIAL;
    io->base.ops = &sim_ops;
    io->base.kind = SB_IO_BACKEND_SIM;
    io->sim = sim;
    sim->ios[sim->io_count++] = io;
    *io_out = &io->base;
    return 0;
}

static void
sim_destroy(struct sb_io *base)
{
    struct sim_io *io = sim_io_from(base);
    struct sb_sim *sim = io->sim;
    if (!io->dead) {
        SB_ASSERT(io->base.in_flight == 0 && "destroying a sim io with ops in flight");
        SB_ASSERT(io->event_count == 0);
    }
    uint32_t position = 0;
    while (position < sim->io_count && sim->ios[position] != io) {
        position++;
    }
    SB_ASSERT(position < sim->io_count);
    /* Keep join order: sb_sim_advance and power loss walk the registry in it. */
    memmove(&sim->ios[position], &sim->ios[position + 1],
            (sim->io_count - position - 1) * sizeof(sim->ios[0]));
    sim->io_count--;
    for (uint32_t group = 0; group < SB_IO_BUFFER_GROUPS_MAX; group++) {
        sb_free(io->groups[group].memory);
        sb_free(io->groups[group].free_ids);
        sb_free(io->groups[group].lent);
    }
    sb_free(io->events);
    sb_free(io);
}

static uint64_t
sim_now_ns(struct sb_io *base)
{
    return sim_io_from(base)->sim->now_ns;
}

static void
complete_trace_fold(struct sb_sim *sim, uint64_t value)
{
    for (uint32_t byte = 0; byte < sizeof(value); byte++) {
        sim->trace_hash ^= (value >> (byte * 8)) & 0xff;
        sim->trace_hash *= SIM_FNV_PRIME;
    }
}

/* The descriptor as the trace sees it: stable across processes (see the file comment). */
static uint64_t
complete_trace_fd(struct sb_sim *sim, int fd)
{
    struct sim_fd *entry = sb_sim_disk_fd_find(sim, fd);
    if (entry != NULL) {
        return SIM_TRACE_FILE_TAG + (uint64_t)(entry - sim->fds);
    }
    return (uint64_t)(int64_t)fd;
}

void
sb_sim_complete(struct sim_io *io, struct sb_io_op *op, int32_t result, bool more,
                bool has_buffer, uint16_t buffer_id)
{
    struct sb_sim *sim = io->sim;
    SB_ASSERT(op->state == SB_IO_OP_IN_FLIGHT);
    if (io->dead) {
        return; /* A callback of this run cut the power: the rest is lost. */
    }
    complete_trace_fold(sim, sim->now_ns);
    complete_trace_fold(sim, op->kind);
    complete_trace_fold(sim, complete_trace_fd(sim, op->fd));
    complete_trace_fold(sim, (uint64_t)(int64_t)result);
    sim->trace_count++;
    io->completions++;
    sb_io_complete(&io->base, op, result, more, has_buffer, buffer_id);
}

/* ---- The event heap --------------------------------------------------------------------- */

static bool
event_before(const struct sim_event *left, const struct sim_event *right)
{
    if (left->due_ns != right->due_ns) {
        return left->due_ns < right->due_ns;
    }
    return left->sequence < right->sequence;
}

static void
events_sift_up(struct sim_io *io, uint32_t index)
{
    struct sim_event moving = io->events[index];
    while (index > 0) {
        uint32_t parent = (index - 1) / 2;
        if (!event_before(&moving, &io->events[parent])) {
            break;
        }
        io->events[index] = io->events[parent];
        index = parent;
    }
    io->events[index] = moving;
}

static void
events_sift_down(struct sim_io *io, uint32_t index)
{
    struct sim_event moving = io->events[index];
    uint32_t count = io->event_count;
    while (2 * index + 1 < count) {
        uint32_t child = 2 * index + 1;
        if (child + 1 < count && event_before(&io->events[child + 1], &io->events[child])) {
            child++;
        }
        if (!event_before(&io->events[child], &moving)) {
            break;
        }
        io->events[index] = io->events[child];
        index = child;
    }
    io->events[index] = moving;
}

static void
events_remove_at(struct sim_io *io, uint32_t index)
{
    SB_ASSERT(index < io->event_count);
    io->event_count--;
    if (index == io->event_count) {
        return;
    }
    io->events[index] = io->events[io->event_count];
    events_sift_down(io, index);
    events_sift_up(io, index);
}

static void
event_push_grow(struct sim_io *io)
{
    SB_ASSERT(io->event_capacity < SB_SIM_EVENTS_MAX && "too many ops in flight on a sim io");
    uint32_t capacity = io->event_capacity * 2;
    struct sim_event *events = sb_alloc(capacity * sizeof(events[0]));
    if (events == NULL) {
        sb_panic("sim: out of memory growing the event heap to %u events", capacity);
    }
    memcpy(events, io->events, io->event_count * sizeof(events[0]));
    sb_free(io->events);
    io->events = events;
    io->event_capacity = capacity;
}

void
sb_sim_event_push(struct sim_io *io, struct sb_io_op *op, uint64_t due_ns,
                  enum sim_event_action action, int32_t result)
{
    struct sb_sim *sim = io->sim;
    SB_ASSERT(!io->dead);
    SB_ASSERT(due_ns >= sim->now_ns);
    SB_ASSERT(op->state == SB_IO_OP_IN_FLIGHT);
    if (io->event_count == io->event_capacity) {
        event_push_grow(io);
    }
    struct sim_event *event = &io->events[io->event_count++];
    event->op = op;
    event->due_ns = due_ns;
    event->sequence = sim->sequence++;
    event->result = result;
    event->action = (uint8_t)action;
    op->backend_due_ns = due_ns;
    op->backend_sequence = event->sequence;
    events_sift_up(io, io->event_count - 1);
}

void
sb_sim_events_cancel_fd(struct sb_sim *sim, int fd)
{
    SB_ASSERT(fd >= SB_SIM_SOCKET_FD_BASE);
    for (uint32_t io_index = 0; io_index < sim->io_count; io_index++) {
        struct sim_io *io = sim->ios[io_index];
        bool changed = false;
        /* Heap order, not address order: the new sequences are deterministic. */
        for (uint32_t index = 0; index < io->event_count; index++) {
            struct sim_event *event = &io->events[index];
            if (event->op->fd == fd) {
                event->due_ns = sim->now_ns;
                event->sequence = sim->sequence++;
                event->action = SIM_EVENT_COMPLETE;
                event->result = -ECANCELED;
                changed = true;
            }
        }
        for (uint32_t index = io->event_count / 2; changed && index-- > 0;) {
            events_sift_down(io, index);
        }
    }
}

/* ---- Running ---------------------------------------------------------------------------- */

static void run_fire(struct sim_io *io, const struct sim_event *event);

static int
sim_run(struct sb_io *base, uint64_t wait_ns)
{
    struct sim_io *io = sim_io_from(base);
    struct sb_sim *sim = io->sim;
    if (io->dead) {
        return 0;
    }
    uint64_t first_late_sequence = sim->sequence;
    uint64_t completions_before = io->completions;
    bool woken = io->woken;
    if (woken) {
        io->woken = false;
        io->base.wakeups++;
    }
    bool due = io->event_count > 0 && io->events[0].due_ns <= sim->now_ns;
    if (!due && !woken && wait_ns > 0) {
        uint64_t until_ns = sim->now_ns + sb_min_u64(wait_ns, UINT64_MAX - sim->now_ns);
        if (io->event_count > 0) {
            until_ns = sb_min_u64(until_ns, io->events[0].due_ns);
        }
        sim_clock_move(sim, until_ns);
    }
    /* Bounded: only events pushed before this run fire, and the heap holds at most
     * SB_SIM_EVENTS_MAX of them. */
    for (uint32_t fired = 0; fired < SB_SIM_EVENTS_MAX && io->event_count > 0 && !io->dead;
         fired++) {
        struct sim_event event = io->events[0];
        if (event.due_ns > sim->now_ns || event.sequence >= first_late_sequence) {
            break;
        }
        events_remove_at(io, 0);
        run_fire(io, &event);
    }
    return (int)(io->completions - completions_before);
}

static void run_cancel(struct sim_io *io, struct sb_io_op *op);

static void
run_fire(struct sim_io *io, const struct sim_event *event)
{
    struct sb_io_op *op = event->op;
    SB_ASSERT(op->state == SB_IO_OP_IN_FLIGHT);
    if (event->action == SIM_EVENT_COMPLETE) {
        sb_sim_complete(io, op, event->result, false, false, 0);
        return;
    }
    SB_ASSERT(event->action == SIM_EVENT_EXECUTE);
    switch (op->kind) {
    case SB_IO_OP_NOP:
        sb_sim_complete(io, op, 0, false, false, 0);
        break;
    case SB_IO_OP_CANCEL:
        run_cancel(io, op);
        break;
    case SB_IO_OP_ACCEPT:
    case SB_IO_OP_RECV:
        sb_sim_net_execute(io, op);
        break;
    default:
        sb_sim_disk_execute(io, op);
        break;
    }
}

/* The target completes first with -ECANCELED, then the cancel op with 0; -ENOENT if the
 * target is not pending on this io. */
static void
run_cancel(struct sim_io *io, struct sb_io_op *op)
{
    struct sb_io_op *target = op->u.target;
    SB_ASSERT(target != NULL);
    SB_ASSERT(target != op);
    bool found = false;
    if (target->state == SB_IO_OP_IN_FLIGHT) {
        for (uint32_t index = 0; index < io->event_count; index++) {
            if (io->events[index].op == target) {
                events_remove_at(io, index);
                found = true;
                break;
            }
        }
        found = sb_sim_net_forget(io, target) || found;
    }
    if (found) {
        sb_sim_complete(io, target, -ECANCELED, false, false, 0);
    }
    sb_sim_complete(io, op, found ? 0 : -ENOENT, false, false, 0);
}

/* ---- Queueing --------------------------------------------------------------------------- */

static void
sim_queue(struct sb_io *base, struct sb_io_op *op)
{
    struct sim_io *io = sim_io_from(base);
    SB_ASSERT(op->state == SB_IO_OP_QUEUED);
    op->state = SB_IO_OP_IN_FLIGHT;
    if (io->dead) {
        return; /* Code tearing down a crashed shard may start ops: they never complete. */
    }
    switch (op->kind) {
    case SB_IO_OP_NOP:
    case SB_IO_OP_CANCEL:
        sb_sim_event_push(io, op, io->sim->now_ns, SIM_EVENT_EXECUTE, 0);
        break;
    case SB_IO_OP_READ:
    case SB_IO_OP_WRITE:
    case SB_IO_OP_WRITE_DSYNC:
    case SB_IO_OP_WRITEV:
    case SB_IO_OP_FSYNC:
    case SB_IO_OP_FDATASYNC:
    case SB_IO_OP_FALLOCATE:
    case SB_IO_OP_SYNCFS:
    case SB_IO_OP_OPENAT:
        sb_sim_disk_queue(io, op);
        break;
    default:
        sb_sim_net_queue(io, op);
        break;
    }
}

static int
sim_open(struct sb_io *base, const char *path, int flags, unsigned mode)
{
    return sb_sim_disk_open(sim_io_from(base), path, flags, mode);
}

static int
sim_close(struct sb_io *base, int fd)
{
    struct sim_io *io = sim_io_from(base);
    if (fd >= SB_SIM_SOCKET_FD_BASE) {
        return sb_sim_net_close(io, fd);
    }
    return sb_sim_disk_close(io, fd);
}

static int
sim_socket(struct sb_io *base)
{
    return sb_sim_net_socket(sim_io_from(base));
}

static int
sim_listen(struct sb_io *base, const struct sockaddr_in *address, int backlog)
{
    SB_ASSERT(address != NULL);
    return sb_sim_net_listen(sim_io_from(base), address, backlog);
}

static int
sim_local_port(struct sb_io *base, int fd)
{
    struct sim_io *io = sim_io_from(base);
    if (fd < SB_SIM_SOCKET_FD_BASE) {
        return sb_sim_disk_fd_find(io->sim, fd) != NULL ? -ENOTSOCK : -EBADF;
    }
    return sb_sim_net_local_port(io, fd);
}

static int
sim_socket_nodelay(struct sb_io *base, int fd)
{
    struct sim_io *io = sim_io_from(base);
    if (fd < SB_SIM_SOCKET_FD_BASE) {
        return sb_sim_disk_fd_find(io->sim, fd) != NULL ? -ENOTSOCK : -EBADF;
    }
    return sb_sim_net_connected(io, fd);
}

/* ---- Provided buffers ------------------------------------------------------------------- */

static int
sim_buffer_group_create(struct sb_io *base, uint16_t group, uint32_t count,
                        uint32_t buffer_bytes)
{
    struct sim_buffer_group *buffers = &sim_io_from(base)->groups[group];
    SB_ASSERT(sb_is_power_of_two(count));
    SB_ASSERT(count <= SB_IO_BUFFERS_PER_GROUP_MAX);
    if (buffers->memory != NULL) {
        return -EEXIST;
    }
    buffers->memory = sb_alloc((size_t)count * buffer_bytes);
    buffers->free_ids = sb_alloc(count * sizeof(buffers->free_ids[0]));
    buffers->lent = sb_alloc(count * sizeof(buffers->lent[0]));
    if (buffers->memory == NULL || buffers->free_ids == NULL || buffers->lent == NULL) {
        sb_free(buffers->memory);
        sb_free(buffers->free_ids);
        sb_free(buffers->lent);
        memset(buffers, 0, sizeof(*buffers));
        return -ENOMEM;
    }
    for (uint32_t buffer_id = 0; buffer_id < count; buffer_id++) {
        buffers->free_ids[buffer_id] = (uint16_t)buffer_id;
    }
    buffers->count = count;
    buffers->buffer_bytes = buffer_bytes;
    buffers->free_head = 0;
    buffers->free_count = count;
    return 0;
}

static void *
sim_buffer(struct sb_io *base, uint16_t group, uint16_t buffer_id)
{
    SB_ASSERT(group < SB_IO_BUFFER_GROUPS_MAX);
    struct sim_buffer_group *buffers = &sim_io_from(base)->groups[group];
    SB_ASSERT(buffers->memory != NULL);
    SB_ASSERT(buffer_id < buffers->count);
    return buffers->memory + (size_t)buffer_id * buffers->buffer_bytes;
}

static void
sim_buffer_recycle(struct sb_io *base, uint16_t group, uint16_t buffer_id)
{
    SB_ASSERT(group < SB_IO_BUFFER_GROUPS_MAX);
    struct sim_buffer_group *buffers = &sim_io_from(base)->groups[group];
    SB_ASSERT(buffers->memory != NULL);
    SB_ASSERT(buffer_id < buffers->count);
    SB_ASSERT(buffers->lent[buffer_id] && "recycling a buffer that was not handed out");
    SB_ASSERT(buffers->free_count < buffers->count);
    buffers->lent[buffer_id] = false;
    uint32_t tail = (buffers->free_head + buffers->free_count) & (buffers->count - 1);
    buffers->free_ids[tail] = buffer_id;
    buffers->free_count++;
}

void *
sb_sim_buffer_take(struct sim_io *io, uint16_t group, uint16_t *buffer_id_out,
                   uint32_t *buffer_bytes_out)
{
    if (group >= SB_IO_BUFFER_GROUPS_MAX) {
        return NULL;
    }
    struct sim_buffer_group *buffers = &io->groups[group];
    if (buffers->memory == NULL || buffers->free_count == 0) {
        return NULL;
    }
    uint16_t buffer_id = buffers->free_ids[buffers->free_head];
    SB_ASSERT(!buffers->lent[buffer_id]);
    buffers->free_head = (buffers->free_head + 1) & (buffers->count - 1);
    buffers->free_count--;
    buffers->lent[buffer_id] = true;
    *buffer_id_out = buffer_id;
    *buffer_bytes_out = buffers->buffer_bytes;
    return buffers->memory + (size_t)buffer_id * buffers->buffer_bytes;
}

/* ---- Wake-ups --------------------------------------------------------------------------- */

/* Same thread only (see the file comment): the flag is a plain field. */
static void
sim_wake_external(struct sb_io *target)
{
    sim_io_from(target)->woken = true;
}

static void
sim_wake(struct sb_io *self, struct sb_io *target, enum sb_io_doorbell doorbell)
{
    (void)doorbell;
    if (self != NULL) {
        SB_ASSERT(sim_io_from(self)->sim == sim_io_from(target)->sim);
    }
    sim_wake_external(target);
}

static const struct sb_io_backend_ops sim_ops = {
    .destroy = sim_destroy,
    .now_ns = sim_now_ns,
    .queue = sim_queue,
    .run = sim_run,
    .open = sim_open,
    .close = sim_close,
    .socket = sim_socket,
    .listen = sim_listen,
    .local_port = sim_local_port,
    .socket_nodelay = sim_socket_nodelay,
    .buffer_group_create = sim_buffer_group_create,
    .buffer = sim_buffer,
    .buffer_recycle = sim_buffer_recycle,
    .wake = sim_wake,
    .wake_external = sim_wake_external,
};
