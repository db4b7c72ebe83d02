/*
 * test/crash/crash_client.c - the client side of scripts/crash-test.
 *
 *   crash_client produce PORT TOPIC PARTITIONS LOG SECONDS
 *       creates TOPIC if needed, then keeps producing acks=all batches to every
 *       partition (one connection per partition, 8 requests in flight) until
 *       SECONDS pass or the broker goes away. Each record's value is
 *       "<partition>:<sequence>"; each acknowledged batch is appended to LOG as
 *       "ack PARTITION BASE_OFFSET FIRST_SEQUENCE COUNT"; batches sent but not
 *       answered when the connection dies go to LOG as "inflight ...".
 *   crash_client verify PORT TOPIC PARTITIONS LOG
 *       reads every partition from offset 0 and checks it against LOG:
 *       every acknowledged record is present exactly once, at its offset, in
 *       order; offsets are dense; in-flight records may or may not be there.
 *       Prints "acknowledged= lost= duplicated= reordered= gaps= inflight_kept=
 *       inflight_lost=" and exits non-zero if anything acknowledged is wrong.
 *   crash_client consume PORT TOPIC PARTITIONS SECONDS
 *       a consumer for load tests (scripts/memory-limit-test): reads every
 *       partition from offset 0 to its end, again and again, until SECONDS
 *       pass; every batch must pass its CRC. Prints "consumed records= rounds=".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/endian.h"
#include "proto/api_admin.h"
#include "proto/api_fetch.h"
#include "proto/api_produce.h"
#include "proto/batch.h"
#include "proto/wire.h"

#define RECORDS_PER_BATCH 20
#define IN_FLIGHT 8
#define PARTITIONS_MAX 64
#define RESPONSE_BYTES (8u << 20)

static int
connect_to(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(port),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(fd, (struct sockaddr *)&address, sizeof(address)) != 0) {
        close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

static bool
send_all(int fd, const uint8_t *bytes, size_t length)
{
    while (length > 0) {
        ssize_t sent = send(fd, bytes, length, MSG_NOSIGNAL);
        if (sent <= 0) {
            return false;
        }
        bytes += sent;
        length -= (size_t)sent;
    }
    return true;
}

static bool
receive_all(int fd, uint8_t *bytes, size_t length, int timeout_ms)
{
    while (length > 0) {
        struct pollfd poll_fd = {.fd = fd, .events = POLLIN};
        if (poll(&poll_fd, 1, timeout_ms) <= 0) {
            return false;
        }
        ssize_t got = recv(fd, bytes, length, 0);
        if (got <= 0) {
            return false;
        }
        bytes += got;
        length -= (size_t)got;
    }
    return true;
}

/* Receives one frame and decodes it; false if the connection died or the frame is bad. */
static bool
receive_frame(int fd, uint8_t *buffer, struct sb_frame *frame, int timeout_ms)
{
    if (!receive_all(fd, buffer, 4, timeout_ms)) {
        return false;
    }
    uint32_t frame_bytes = sb_load_le32(buffer);
    if (frame_bytes + 4 > RESPONSE_BYTES || !receive_all(fd, buffer + 4, frame_bytes,
                                                         timeout_ms)) {
        return false;
    }
    return sb_frame_decode(buffer, frame_bytes + 4, UINT32_MAX, frame) == 0;
}

static size_t
frame_request(uint8_t *buffer, size_t capacity, uint16_t api_key, uint32_t correlation,
              int (*encode)(struct sb_wire_writer *writer, const void *body), const void *body)
{
    struct sb_wire_writer writer;
    sb_wire_writer_init(&writer, buffer, capacity);
    struct sb_frame_header header = {.api_key = api_key, .correlation_id = correlation};
    if (sb_frame_begin(&writer, &header) != 0 || encode(&writer, body) != 0 ||
        sb_frame_finish(&writer) != 0) {
        fprintf(stderr, "crash_client: encoding failed\n");
        exit(2);
    }
    return sb_wire_writer_length(&writer);
}

static int
encode_create(struct sb_wire_writer *writer, const void *body)
{
    return sb_create_topics_request_encode(writer, body);
}

static int
encode_produce(struct sb_wire_writer *writer, const void *body)
{
    return sb_produce_request_encode(writer, body);
}

static int
encode_fetch(struct sb_wire_writer *writer, const void *body)
{
    return sb_fetch_request_encode(writer, body);
}

struct producer {
    uint16_t port;            /* Broker main port. */
    const char *topic;        /* Topic. */
    int32_t partition;        /* The partition this thread writes. */
    uint64_t end_ns;          /* Stop at this time. */
    uint64_t next_sequence;   /* Sequence of the next record. */
    FILE *log;                /* Shared log (under log_lock). */
    uint64_t acknowledged;    /* Records acknowledged. */
};

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static void
log_line(FILE *log, const char *kind, int32_t partition, int64_t offset, uint64_t first,
         uint32_t count)
{
    pthread_mutex_lock(&log_lock);
    fprintf(log, "%s %d %lld %llu %u\n", kind, partition, (long long)offset,
            (unsigned long long)first, count);
    fflush(log);
    pthread_mutex_unlock(&log_lock);
}

/* One batch of RECORDS_PER_BATCH records "<partition>:<sequence>" into a Produce frame. */
static size_t
produce_frame(struct producer *producer, uint8_t *frame, size_t capacity, uint64_t first)
{
    static _Thread_local uint8_t batch[64 << 10];
    struct sb_batch_builder builder;
    int64_t now_ms = (int64_t)(sb_clock_realtime_ns() / SB_NS_PER_MS);
    sb_batch_builder_init(&builder, batch, sizeof(batch), now_ms);
    for (uint32_t index = 0; index < RECORDS_PER_BATCH; index++) {
        char value[64];
        int length = snprintf(value, sizeof(value), "%d:%llu", producer->partition,
                              (unsigned long long)(first + index));
        struct sb_record record = {.key_length = -1, .value = value, .value_length = length,
                                   .timestamp_ms = now_ms};
        sb_batch_builder_add(&builder, &record);
    }
    const uint8_t *built;
    uint32_t bytes;
    sb_batch_builder_finish(&builder, SB_COMPRESSION_NONE, NULL, 0, &built, &bytes);
    struct sb_produce_partition part = {.partition = producer->partition,
                                        .records = {batch, bytes}};
    struct sb_produce_topic topic = {.name = sb_wire_string_from_cstr(producer->topic),
                                     .partitions = &part, .partition_count = 1};
    struct sb_produce_request request = {.acks = -1, .timeout_ms = 10000, .topics = &topic,
                                         .topic_count = 1};
    return frame_request(frame, capacity, SB_API_PRODUCE, (uint32_t)first, encode_produce,
                         &request);
}

/* The base offset of an acknowledged one-partition Produce response, or -1. */
static int64_t
produce_offset(const struct sb_frame *frame)
{
    struct sb_produce_response response;
    struct sb_produce_topic_response topic;
    struct sb_produce_partition_response partition;
    if (frame->header.error_code != 0 ||
        sb_produce_response_decode(frame->body, frame->body_bytes, &response) != 0 ||
        sb_produce_response_next_topic(&response, &topic) != 1 ||
        sb_produce_topic_response_next_partition(&topic, &partition) != 1 ||
        partition.error_code != 0) {
        return -1;
    }
    return partition.base_offset;
}

static void *
producer_main(void *argument)
{
    struct producer *producer = argument;
    static _Thread_local uint8_t frame[128 << 10];
    static _Thread_local uint8_t response[RESPONSE_BYTES];
    uint64_t firsts[IN_FLIGHT];
    uint32_t head = 0;
    uint32_t count = 0;
    int fd = connect_to(producer->port);
    bool alive = fd >= 0;
    /* Bounded by end_ns and by the connection's life. */
    while (alive && (count > 0 || sb_clock_monotonic_ns() < producer->end_ns)) {
        while (count < IN_FLIGHT && sb_clock_monotonic_ns() < producer->end_ns && alive) {
            uint64_t first = producer->next_sequence;
            size_t length = produce_frame(producer, frame, sizeof(frame), first);
            alive = send_all(fd, frame, length);
            firsts[(head + count++) % IN_FLIGHT] = first;
            producer->next_sequence += RECORDS_PER_BATCH;
        }
        struct sb_frame answer;
        if (!alive || !receive_frame(fd, response, &answer, 15000)) {
            break;
        }
        int64_t offset = produce_offset(&answer);
        log_line(producer->log, offset >= 0 ? "ack" : "failed", producer->partition, offset,
                 firsts[head], RECORDS_PER_BATCH);
        producer->acknowledged += offset >= 0 ? RECORDS_PER_BATCH : 0;
        head = (head + 1) % IN_FLIGHT;
        count--;
    }
    for (; count > 0; count--, head = (head + 1) % IN_FLIGHT) {
        log_line(producer->log, "inflight", producer->partition, -1, firsts[head],
                 RECORDS_PER_BATCH);
    }
    if (fd >= 0) {
        close(fd);
    }
    return NULL;
}

struct log_entry {
    char kind;           /* 'a' ack, 'i' inflight or failed. */
    int32_t partition;   /* Partition. */
    int64_t offset;      /* Base offset (acks). */
    uint64_t first;      /* First sequence. */
    uint32_t count;      /* Records. */
};

/* Reads LOG; returns its entries (malloc'd) and their count. */
static struct log_entry *
log_read(const char *path, size_t *count_out)
{
    size_t capacity = 1024;
    size_t count = 0;
    struct log_entry *entries = malloc(capacity * sizeof(*entries));
    FILE *file = fopen(path, "r");
    char kind[16];
    struct log_entry entry;
    long long offset;
    unsigned long long first;
    while (file != NULL && fscanf(file, "%15s %d %lld %llu %u", kind, &entry.partition, &offset,
                                  &first, &entry.count) == 5) {
        if (count == capacity) {
            capacity *= 2;
            entries = realloc(entries, capacity * sizeof(*entries));
        }
        entry.kind = kind[0] == 'a' ? 'a' : 'i';
        entry.offset = offset;
        entry.first = first;
        if (entry.partition >= 0 && entry.partition < PARTITIONS_MAX) {
            entries[count++] = entry;
        }
    }
    if (file != NULL) {
        fclose(file);
    }
    *count_out = count;
    return entries;
}

static void
create_topic(uint16_t port, const char *topic, int32_t partitions)
{
    static uint8_t buffer[1 << 16];
    int fd = connect_to(port);
    if (fd < 0) {
        fprintf(stderr, "crash_client: cannot connect to %u\n", port);
        exit(2);
    }
    struct sb_create_topic create = {.name = sb_wire_string_from_cstr(topic),
                                     .partition_count = partitions, .replication_factor = 1};
    struct sb_create_topics_request request = {.topics = &create, .topic_count = 1,
                                               .timeout_ms = 5000};
    size_t length = frame_request(buffer, sizeof(buffer), SB_API_CREATE_TOPICS, 1,
                                  encode_create, &request);
    struct sb_frame frame;
    if (!send_all(fd, buffer, length) || !receive_frame(fd, buffer, &frame, 10000)) {
        fprintf(stderr, "crash_client: CreateTopics failed\n");
        exit(2);
    }
    close(fd);
}

static int
command_produce(uint16_t port, const char *topic, int32_t partitions, const char *log_path,
                double seconds)
{
    size_t count;
    struct log_entry *entries = log_read(log_path, &count);
    uint64_t next[PARTITIONS_MAX] = {0};
    for (size_t index = 0; index < count; index++) {
        uint64_t end = entries[index].first + entries[index].count;
        next[entries[index].partition] = end > next[entries[index].partition]
                                             ? end : next[entries[index].partition];
    }
    free(entries);
    create_topic(port, topic, partitions);
    FILE *log = fopen(log_path, "a");
    struct producer producers[PARTITIONS_MAX];
    pthread_t threads[PARTITIONS_MAX];
    uint64_t end_ns = sb_clock_monotonic_ns() + (uint64_t)(seconds * 1e9);
    for (int32_t index = 0; index < partitions; index++) {
        producers[index] = (struct producer){.port = port, .topic = topic, .partition = index,
                                             .end_ns = end_ns, .next_sequence = next[index],
                                             .log = log};
        pthread_create(&threads[index], NULL, producer_main, &producers[index]);
    }
    uint64_t acknowledged = 0;
    for (int32_t index = 0; index < partitions; index++) {
        pthread_join(threads[index], NULL);
        acknowledged += producers[index].acknowledged;
    }
    fclose(log);
    printf("produced acknowledged_records=%llu\n", (unsigned long long)acknowledged);
    return 0;
}

struct partition_log {
    uint64_t *sequences;   /* Sequence stored at each offset (UINT64_MAX: not ours). */
    uint64_t count;        /* Offsets read (the high watermark). */
    uint64_t capacity;     /* Slots. */
    uint64_t gaps;         /* Offsets that were not dense. */
};

static void
partition_log_add(struct partition_log *log, int64_t offset, uint64_t sequence)
{
    if ((uint64_t)offset != log->count) {
        log->gaps++;
    }
    if (log->count == log->capacity) {
        log->capacity = log->capacity == 0 ? 4096 : log->capacity * 2;
        log->sequences = realloc(log->sequences, log->capacity * sizeof(uint64_t));
    }
    log->sequences[log->count++] = sequence;
}

/* Adds every record of the fetched batches; returns the next offset to fetch. */
static int64_t
partition_log_batches(struct partition_log *log, const struct sb_wire_bytes *records,
                      int64_t offset)
{
    for (uint32_t at = 0; at < records->length;) {
        struct sb_batch_header header;
        if (sb_batch_verify(records->data + at, records->length - at, UINT32_MAX,
                            &header) != 0) {
            fprintf(stderr, "crash_client: a served batch fails its CRC\n");
            exit(1);
        }
        struct sb_record_iter iterator;
        sb_record_iter_init(&iterator, &header, records->data + at + SB_BATCH_HEADER_BYTES,
                            header.records_bytes);
        struct sb_record_view record;
        while (sb_record_iter_next(&iterator, &record) == 1) {
            if (record.offset < offset) {
                continue;
            }
            const char *colon = memchr(record.value, ':', (size_t)record.value_length);
            uint64_t sequence = colon != NULL ? strtoull(colon + 1, NULL, 10) : UINT64_MAX;
            partition_log_add(log, record.offset, sequence);
            offset = record.offset + 1;
        }
        at += header.batch_bytes;
    }
    return offset;
}

/* Fetches the whole partition; returns false if the broker cannot be read. */
static bool
partition_log_read(uint16_t port, const char *topic, int32_t partition,
                   struct partition_log *log)
{
    static uint8_t buffer[RESPONSE_BYTES];
    int fd = connect_to(port);
    int64_t offset = 0;
    for (uint32_t round = 0; fd >= 0 && round < 1000000; round++) {
        struct sb_fetch_partition part = {.partition = partition, .fetch_offset = offset,
                                          .partition_max_bytes = 4 << 20};
        struct sb_fetch_topic fetch_topic = {.name = sb_wire_string_from_cstr(topic),
                                             .partitions = &part, .partition_count = 1};
        struct sb_fetch_request request = {.max_bytes = 4 << 20, .topics = &fetch_topic,
                                           .topic_count = 1};
        size_t length = frame_request(buffer, sizeof(buffer), SB_API_FETCH, round,
                                      encode_fetch, &request);
        struct sb_frame frame;
        struct sb_fetch_response response;
        struct sb_fetch_topic_response topic_response;
        struct sb_fetch_partition_response result;
        if (!send_all(fd, buffer, length) || !receive_frame(fd, buffer, &frame, 30000) ||
            sb_fetch_response_decode(frame.body, frame.body_bytes, &response) != 0 ||
            sb_fetch_response_next_topic(&response, &topic_response) != 1 ||
            sb_fetch_topic_response_next_partition(&topic_response, &result) != 1 ||
            result.error_code != 0) {
            break;
        }
        if (result.records.length == 0) {
            close(fd);
            return offset == result.high_watermark;
        }
        offset = partition_log_batches(log, &result.records, offset);
    }
    if (fd >= 0) {
        close(fd);
    }
    return false;
}

struct verdict {
    uint64_t acknowledged;   /* Acknowledged records checked. */
    uint64_t lost;           /* Acknowledged records missing or wrong at their offset. */
    uint64_t duplicated;     /* Records stored twice. */
    uint64_t reordered;      /* Records stored after a later one. */
    uint64_t gaps;           /* Offsets that are not dense. */
    uint64_t inflight_kept;  /* In-flight records that are there. */
    uint64_t inflight_lost;  /* In-flight records that are not (allowed). */
};

static bool
partition_log_contains(const struct partition_log *log, uint64_t sequence)
{
    uint64_t low = 0;
    uint64_t high = log->count;
    while (low < high) {
        uint64_t middle = (low + high) / 2;
        if (log->sequences[middle] < sequence) {
            low = middle + 1;
        } else {
            high = middle;
        }
    }
    return low < log->count && log->sequences[low] == sequence;
}

static void
verify_partition(const struct partition_log *log, const struct log_entry *entries,
                 size_t count, int32_t partition, struct verdict *verdict)
{
    verdict->gaps += log->gaps;
    for (uint64_t index = 1; index < log->count; index++) {
        verdict->duplicated += log->sequences[index] == log->sequences[index - 1];
        verdict->reordered += log->sequences[index] < log->sequences[index - 1];
    }
    for (size_t index = 0; index < count; index++) {
        const struct log_entry *entry = &entries[index];
        if (entry->partition != partition) {
            continue;
        }
        for (uint32_t record = 0; record < entry->count; record++) {
            uint64_t sequence = entry->first + record;
            if (entry->kind == 'a') {
                uint64_t offset = (uint64_t)entry->offset + record;
                verdict->acknowledged++;
                verdict->lost += offset >= log->count || log->sequences[offset] != sequence;
            } else if (partition_log_contains(log, sequence)) {
                verdict->inflight_kept++;
            } else {
                verdict->inflight_lost++;
            }
        }
    }
}

static int
command_verify(uint16_t port, const char *topic, int32_t partitions, const char *log_path)
{
    size_t count;
    struct log_entry *entries = log_read(log_path, &count);
    struct verdict verdict = {0};
    create_topic(port, topic, partitions); /* The first cycle reads before any produce. */
    for (int32_t partition = 0; partition < partitions; partition++) {
        struct partition_log log = {0};
        if (!partition_log_read(port, topic, partition, &log)) {
            fprintf(stderr, "crash_client: cannot read partition %d\n", partition);
            return 1;
        }
        verify_partition(&log, entries, count, partition, &verdict);
        free(log.sequences);
    }
    free(entries);
    printf("acknowledged=%llu lost=%llu duplicated=%llu reordered=%llu gaps=%llu "
           "inflight_kept=%llu inflight_lost=%llu\n",
           (unsigned long long)verdict.acknowledged, (unsigned long long)verdict.lost,
           (unsigned long long)verdict.duplicated, (unsigned long long)verdict.reordered,
           (unsigned long long)verdict.gaps, (unsigned long long)verdict.inflight_kept,
           (unsigned long long)verdict.inflight_lost);
    bool clean = verdict.lost == 0 && verdict.duplicated == 0 && verdict.reordered == 0 &&
                 verdict.gaps == 0;
    return clean ? 0 : 1;
}

static int
command_consume(uint16_t port, const char *topic, int32_t partitions, double seconds)
{
    uint64_t end_ns = sb_clock_monotonic_ns() + (uint64_t)(seconds * 1e9);
    uint64_t records = 0;
    uint64_t rounds = 0;
    /* Bounded by SECONDS (each round reads what is there, then stops). */
    while (sb_clock_monotonic_ns() < end_ns) {
        for (int32_t partition = 0; partition < partitions; partition++) {
            struct partition_log log = {0};
            partition_log_read(port, topic, partition, &log);
            records += log.count;
            free(log.sequences);
        }
        rounds++;
    }
    printf("consumed records=%llu rounds=%llu\n", (unsigned long long)records,
           (unsigned long long)rounds);
    return 0;
}

int
main(int argc, char **argv)
{
    if (argc == 7 && strcmp(argv[1], "produce") == 0) {
        return command_produce((uint16_t)atoi(argv[2]), argv[3], atoi(argv[4]), argv[5],
                               atof(argv[6]));
    }
    if (argc == 6 && strcmp(argv[1], "verify") == 0) {
        return command_verify((uint16_t)atoi(argv[2]), argv[3], atoi(argv[4]), argv[5]);
    }
    if (argc == 6 && strcmp(argv[1], "consume") == 0) {
        return command_consume((uint16_t)atoi(argv[2]), argv[3], atoi(argv[4]), atof(argv[5]));
    }
    fprintf(stderr, "usage: crash_client produce PORT TOPIC PARTITIONS LOG SECONDS\n"
                    "       crash_client verify PORT TOPIC PARTITIONS LOG\n"
                    "       crash_client consume PORT TOPIC PARTITIONS SECONDS\n");
    return 2;
}
