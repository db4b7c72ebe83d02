/*
 * client/producer.c - the producer's API side (sb_producer_*): checking a
 * message, waiting for metadata, choosing a partition, back-pressure on
 * buffer.memory.bytes, and appending the record to its partition's open
 * batch. produce.c sends the batches and handles the answers.
 *
 * A partition's batches form one list in send order (struct
 * producer_partition): IN_FLIGHT batches first, then QUEUED (sealed) ones,
 * then at most one OPEN batch at the tail that accepts records. A batch is
 * sealed when the next record does not fit in batch.bytes, when linger.ms
 * has passed since its first record, on flush and on close.
 *
 * Partitioner: an explicit partition is used as given; a keyed record goes
 * to murmur2(key) mod partitions (Kafka's default partitioner, so the same
 * key lands on the same partition number as with Kafka clients); a null key
 * goes round-robin over the topic's partitions.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/client_private.h"
#include "proto/compress.h"

/* Fixed overhead charged per record besides key, value and headers (varints, callback). */
#define PRODUCER_RECORD_OVERHEAD_BYTES 64u

int
sb_producer_open(struct sb_client *client, struct sb_producer **producer_out)
{
    client_detail_clear();
    if (client == NULL || producer_out == NULL) {
        return -EINVAL;
    }
    struct sb_producer *producer = calloc(1, sizeof(*producer));
    if (producer == NULL) {
        return -ENOMEM;
    }
    const struct sb_client_config *config = &client->config;
    producer->client = client;
    producer->acks = config->acks;
    producer->idempotent = config->idempotence == 1 ||
                           (config->idempotence == -1 && config->acks != 0);
    producer->compression = config->compression;
    producer->batch_bytes = config->batch_bytes;
    producer->producer_id = -1;
    producer->epoch = -1;
    pthread_mutex_lock(&client->mutex);
    producer->next = client->producers;
    client->producers = producer;
    client_wake(client);
    pthread_mutex_unlock(&client->mutex);
    *producer_out = producer;
    return 0;
}

/* Checks a message; returns the bytes it will hold in the buffer, or a negative error. */
static int64_t
producer_message_size(const struct sb_producer_message *message)
{
    if (message == NULL || message->topic == NULL || message->topic[0] == '\0' ||
        message->partition < SB_PARTITION_ANY || message->key_length > INT32_MAX ||
        message->value_length > INT32_MAX || message->header_count > CLIENT_HEADERS_MAX ||
        (message->header_count > 0 && message->headers == NULL) ||
        (message->key == NULL && message->key_length > 0) ||
        (message->value == NULL && message->value_length > 0)) {
        return -EINVAL;
    }
    uint64_t size = message->key_length + message->value_length +
                    PRODUCER_RECORD_OVERHEAD_BYTES;
    for (uint32_t index = 0; index < message->header_count; index++) {
        const struct sb_client_header *header = &message->headers[index];
        if (header->name_length > INT32_MAX || header->value_length > INT32_MAX ||
            (header->name == NULL && header->name_length > 0) ||
            (header->value == NULL && header->value_length > 0)) {
            return -EINVAL;
        }
        size += header->name_length + header->value_length + 10;
    }
    return size > INT32_MAX ? -EINVAL : (int64_t)size;
}

/* A send's max.block.ms deadline, read from the clock at its first wait (*deadline_ns 0
 * until then): a send that does not block reads no monotonic clock. */
static uint64_t
producer_deadline(const struct sb_client *client, uint64_t *deadline_ns)
{
    if (*deadline_ns == 0) {
        *deadline_ns = client_now_ns() + client->config.max_block_ms * 1000000ull;
    }
    return *deadline_ns;
}

/* Mutex held: waits until topic's metadata is usable. Returns 0 or an error. */
static int
producer_topic_ready(struct sb_producer *producer, struct client_topic *topic,
                     uint64_t *deadline_ns)
{
    struct sb_client *client = producer->client;
    if (topic->answers > 0 && topic->error == 0) {
        return 0;
    }
    if (client_on_io_thread(client)) {
        return topic->answers > 0 ? topic->error : -EAGAIN;
    }
    return metadata_wait(client, topic, producer_deadline(client, deadline_ns));
}

static int32_t
producer_choose_partition(struct sb_producer *producer, const struct client_topic *topic,
                          const struct sb_producer_message *message)
{
    if (message->partition >= 0) {
        return (uint32_t)message->partition < topic->partition_count ? message->partition
                                                                      : SB_ERR_UNKNOWN_TOPIC;
    }
    if (message->key != NULL) {
        uint32_t hash = producer_murmur2(message->key, message->key_length) & 0x7fffffffu;
        return (int32_t)(hash % topic->partition_count);
    }
    return (int32_t)(producer->round_robin++ % topic->partition_count);
}

/* Largest batch: batch.bytes, and no more than the broker accepts. */
static uint32_t
producer_batch_limit(const struct sb_producer *producer)
{
    uint32_t limit = producer->batch_bytes;
    uint32_t broker = producer->client->batch_bytes_max;
    return broker != 0 && broker < limit ? broker : limit;
}

/* Largest batch holding a single record: a record over batch.bytes travels alone, up to
 * the broker's batch_bytes_max (request.bytes.max until a handshake told it). */
static uint32_t
producer_single_limit(const struct sb_producer *producer)
{
    uint32_t broker = producer->client->batch_bytes_max;
    uint32_t request = producer->client->config.request_bytes_max;
    uint32_t limit = broker != 0 && broker < request ? broker : request;
    uint32_t batch = producer_batch_limit(producer);
    return limit > batch ? limit : batch;
}

static struct producer_batch *
producer_batch_new(struct sb_producer *producer, struct producer_partition *partition,
                   int64_t timestamp_ms, size_t first_bytes)
{
    struct producer_batch *batch = calloc(1, sizeof(*batch));
    size_t capacity = first_bytes + SB_BATCH_HEADER_BYTES + 32;
    capacity = capacity < CLIENT_BATCH_BUFFER_BYTES_MIN ? CLIENT_BATCH_BUFFER_BYTES_MIN
                                                        : capacity;
    capacity = capacity > producer_batch_limit(producer) ? producer_batch_limit(producer)
                                                         : capacity;
    uint8_t *buffer = batch != NULL ? malloc(capacity) : NULL;
    if (buffer == NULL) {
        free(batch);
        return NULL;
    }
    batch->partition = partition;
    batch->state = BATCH_OPEN;
    batch->buffer = buffer;
    batch->buffer_capacity = capacity;
    sb_batch_builder_init(&batch->builder, buffer, capacity, timestamp_ms);
    batch->created_ns = client_now_ns();
    batch->deadline_ns = batch->created_ns +
                         producer->client->config.delivery_timeout_ms * 1000000ull;
    batch->base_sequence = -1;
    batch->epoch = -1;
    producer_batch_link(partition, batch);
    producer_list_add(producer, partition, PRODUCER_LIST_LINGER);
    return batch;
}

/* Largest batch of several records for an open batch of partition: the batch limit, or
 * CLIENT_BATCH_BACKLOG_FACTOR times batch.bytes (at most the broker's batch_bytes_max, once
 * a handshake told it) while a sealed batch of the partition waits to be sent. Then the
 * records would wait anyway, and a larger batch carries more of them in each of the
 * partition's max.in.flight requests (docs/client.md, "Batching"). */
static uint32_t
producer_backlog_limit(const struct sb_producer *producer,
                       const struct producer_partition *partition)
{
    uint32_t limit = producer_batch_limit(producer);
    uint32_t broker = producer->client->batch_bytes_max;
    if (broker <= limit) {
        return limit; /* Unknown (0) or no room above batch.bytes. */
    }
    /* Bounded: in flight batches (at most max.in.flight), then the queue. */
    for (const struct producer_batch *batch = partition->head; batch != NULL;
         batch = batch->next) {
        if (batch->state == BATCH_QUEUED) {
            uint64_t backlog = (uint64_t)producer->batch_bytes * CLIENT_BATCH_BACKLOG_FACTOR;
            return backlog < broker ? (uint32_t)backlog : broker;
        }
    }
    return limit;
}

/* Grows an open batch's buffer towards the batch limit (an empty batch: towards the
 * single-record limit); false when it cannot grow. */
static bool
producer_batch_grow(struct sb_producer *producer, struct producer_batch *batch)
{
    size_t limit = batch->record_count == 0 ? producer_single_limit(producer)
                                            : producer_backlog_limit(producer, batch->partition);
    if (batch->buffer_capacity >= limit) {
        return false;
    }
    size_t capacity = batch->buffer_capacity * 2 > limit ? limit : batch->buffer_capacity * 2;
    uint8_t *buffer = realloc(batch->buffer, capacity);
    if (buffer == NULL) {
        return false;
    }
    batch->buffer = buffer;
    batch->buffer_capacity = capacity;
    batch->builder.buffer = buffer;
    batch->builder.capacity = capacity;
    return true;
}

static int
producer_callbacks_reserve(struct producer_batch *batch)
{
    if (batch->record_count < batch->callback_capacity) {
        return 0;
    }
    uint32_t capacity = batch->callback_capacity == 0 ? 8 : batch->callback_capacity * 2;
    struct producer_callback *callbacks = realloc(batch->callbacks,
                                                  capacity * sizeof(*callbacks));
    if (callbacks == NULL) {
        return -ENOMEM;
    }
    batch->callbacks = callbacks;
    batch->callback_capacity = capacity;
    return 0;
}

/* Unlinks and frees an open batch that received no record (a refused first record). */
static void
producer_batch_discard_empty(struct producer_partition *partition, struct producer_batch *batch)
{
    if (batch->record_count == 0) {
        producer_partition_unlink(partition, batch);
        free(batch->callbacks);
        free(batch->buffer);
        free(batch);
    }
}

/* Adds record to batch, growing its buffer; -ENOSPC when it is full at the batch limit. */
static int
producer_batch_add(struct sb_producer *producer, struct producer_batch *batch,
                   const struct sb_record *record)
{
    int result = producer_callbacks_reserve(batch);
    /* Bounded: each round doubles the buffer, up to the batch limit. */
    while (result == 0) {
        result = sb_batch_builder_add(&batch->builder, record);
        if (result != -ENOSPC || !producer_batch_grow(producer, batch)) {
            break;
        }
        result = 0;
    }
    return result;
}

/* Adds record to the partition's open batch (opening, growing and sealing batches as
 * needed). Returns 0, SB_ERR_MESSAGE_TOO_LARGE, -EINVAL or -ENOMEM. */
static int
producer_append(struct sb_producer *producer, struct producer_partition *partition,
                const struct sb_record *record, size_t record_bytes,
                const struct producer_callback *callback)
{
    struct producer_batch *batch = partition->tail;
    if (batch != NULL && batch->state == BATCH_OPEN) {
        size_t used_before = batch->builder.used;
        int result = producer_batch_add(producer, batch, record);
        if (result == 0) {
            batch->callbacks[batch->record_count++] = *callback;
            uint64_t charged = batch->builder.used - used_before + sizeof(*callback);
            batch->memory_bytes += charged;
            producer->buffered_bytes += charged;
            return 0;
        }
        if (result != -ENOSPC) {
            return result == -EINVAL ? -EINVAL : -ENOMEM;
        }
        producer_batch_seal(producer, batch);
        client_wake(producer->client); /* A batch to send. */
    }
    batch = producer_batch_new(producer, partition, record->timestamp_ms, record_bytes);
    if (batch == NULL) {
        return -ENOMEM;
    }
    int result = producer_batch_add(producer, batch, record);
    if (result != 0) {
        producer_batch_discard_empty(partition, batch);
        return result == -ENOSPC ? SB_ERR_MESSAGE_TOO_LARGE
                                 : result == -EINVAL ? -EINVAL : -ENOMEM;
    }
    batch->callbacks[batch->record_count++] = *callback;
    uint64_t charged = batch->builder.used - SB_BATCH_HEADER_BYTES + sizeof(*callback);
    batch->memory_bytes += charged;
    producer->buffered_bytes += charged;
    if (batch->buffer_capacity > producer_batch_limit(producer)) {
        producer_batch_seal(producer, batch); /* A record over batch.bytes goes alone. */
        client_wake(producer->client);
    }
    return 0;
}

/* Mutex held: blocks until record_bytes fit in buffer.memory.bytes. */
static int
producer_reserve_memory(struct sb_producer *producer, uint64_t record_bytes,
                        uint64_t *deadline_ns)
{
    struct sb_client *client = producer->client;
    while (producer->buffered_bytes + record_bytes > client->config.buffer_memory_bytes &&
           producer->buffered_bytes > 0) {
        if (client_on_io_thread(client) || producer->closing || producer->fatal_error != 0) {
            return producer->closing ? SB_ERR_SHUTDOWN
                                     : producer->fatal_error ? producer->fatal_error
                                                             : SB_ERR_FULL;
        }
        client_wake(client);
        if (client_wait(client, producer_deadline(client, deadline_ns)) != 0) {
            return SB_ERR_FULL;
        }
    }
    return 0;
}

static void
producer_record_from_message(const struct sb_producer_message *message,
                             struct sb_record_header *headers, struct sb_record *record)
{
    for (uint32_t index = 0; index < message->header_count; index++) {
        const struct sb_client_header *header = &message->headers[index];
        headers[index] = (struct sb_record_header){
            .name = header->name, .name_length = (uint32_t)header->name_length,
            .value = header->value,
            .value_length = header->value == NULL ? -1 : (int32_t)header->value_length};
    }
    int64_t timestamp_ms = message->timestamp_ms;
    if (timestamp_ms == 0) {
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        timestamp_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    }
    *record = (struct sb_record){
        .key = message->key,
        .key_length = message->key == NULL ? -1 : (int32_t)message->key_length,
        .value = message->value,
        .value_length = message->value == NULL ? -1 : (int32_t)message->value_length,
        .timestamp_ms = timestamp_ms,
        .headers = headers,
        .header_count = message->header_count,
    };
}

/* Mutex held: metadata, partition, memory, append. */
static int
producer_send_locked(struct sb_producer *producer, const struct sb_producer_message *message,
                     const struct sb_record *record, uint64_t record_bytes,
                     struct producer_callback *callback)
{
    struct sb_client *client = producer->client;
    uint64_t deadline_ns = 0; /* producer_deadline: read at the first wait. */
    if (producer->closing || producer->fatal_error != 0) {
        return producer->closing ? SB_ERR_SHUTDOWN : producer->fatal_error;
    }
    struct client_topic *topic = metadata_topic(client, message->topic);
    if (topic == NULL) {
        return -ENOMEM;
    }
    int result = producer_topic_ready(producer, topic, &deadline_ns);
    if (result != 0) {
        return result;
    }
    int32_t partition_number = producer_choose_partition(producer, topic, message);
    if (partition_number < 0) {
        return partition_number;
    }
    result = producer_reserve_memory(producer, record_bytes, &deadline_ns);
    if (result != 0) {
        return result;
    }
    struct producer_partition *partition = producer_partition_get(producer, topic,
                                                                  partition_number);
    if (partition == NULL) {
        return -ENOMEM;
    }
    callback->timestamp_ms = record->timestamp_ms;
    struct producer_batch *tail_before = partition->tail;
    bool linger_was_empty = producer->lists[PRODUCER_LIST_LINGER].count == 0;
    result = producer_append(producer, partition, record, record_bytes, callback);
    if (result != 0) {
        client_wake(client); /* A batch sealed on the way may be ready. */
        return result;
    }
    producer->pending_records++;
    /* A new batch is a new linger deadline (or sealed already): the I/O thread must know,
     * unless the batch left from this thread. A batch behind the linger list's head is due
     * later than that head, for which the I/O thread already set its wake-up: only a new
     * head needs one. */
    if (partition->tail != tail_before && !produce_send_now(client, producer, partition) &&
        (linger_was_empty || client->config.linger_ms == 0 ||
         partition->tail->state != BATCH_OPEN)) {
        client_wake(client);
    }
    return 0;
}

static int
producer_send(struct sb_producer *producer, const struct sb_producer_message *message,
              struct producer_callback *callback)
{
    client_detail_clear();
    if (producer == NULL) {
        return -EINVAL;
    }
    int64_t record_bytes = producer_message_size(message);
    if (record_bytes < 0) {
        return (int)record_bytes;
    }
    if (!metadata_name_valid(message->topic)) {
        return SB_ERR_INVALID_TOPIC;
    }
    struct sb_record_header *headers = NULL;
    if (message->header_count > 0) {
        headers = calloc(message->header_count, sizeof(*headers));
        if (headers == NULL) {
            return -ENOMEM;
        }
    }
    struct sb_record record;
    producer_record_from_message(message, headers, &record);
    struct sb_client *client = producer->client;
    pthread_mutex_lock(&client->mutex);
    int result = producer_send_locked(producer, message, &record, (uint64_t)record_bytes,
                                      callback);
    pthread_mutex_unlock(&client->mutex);
    free(headers);
    return result;
}

int
sb_producer_send(struct sb_producer *producer, const struct sb_producer_message *message,
                 void (*on_delivery)(const struct sb_producer_delivery *delivery, void *opaque),
                 void *opaque)
{
    struct producer_callback callback = {.callback = on_delivery, .opaque = opaque};
    return producer_send(producer, message, &callback);
}

int
sb_producer_send_sync(struct sb_producer *producer, const struct sb_producer_message *message,
                      int64_t *offset_out)
{
    if (producer != NULL && client_on_io_thread(producer->client)) {
        return -EDEADLK;
    }
    struct producer_sync sync = {.done = false, .error = 0, .offset = -1};
    struct producer_callback callback = {.sync = &sync};
    int result = producer_send(producer, message, &callback);
    if (result != 0) {
        return result;
    }
    struct sb_client *client = producer->client;
    pthread_mutex_lock(&client->mutex);
    producer->flushing++; /* Do not linger: someone is waiting. */
    client_wake(client);
    while (!sync.done) {
        /* Bounded: every batch completes by its delivery deadline (or on close). */
        client_wait(client, client_deadline_ns(1000));
    }
    producer->flushing--;
    pthread_mutex_unlock(&client->mutex);
    if (offset_out != NULL) {
        *offset_out = sync.offset;
    }
    return sync.error;
}

int
sb_producer_flush(struct sb_producer *producer, int timeout_ms)
{
    client_detail_clear();
    if (producer == NULL) {
        return -EINVAL;
    }
    struct sb_client *client = producer->client;
    if (client_on_io_thread(client)) {
        return -EDEADLK;
    }
    uint64_t deadline_ns = client_deadline_ns(timeout_ms);
    pthread_mutex_lock(&client->mutex);
    producer->flushing++;
    client_wake(client);
    int result = 0;
    while (producer->pending_records > 0 && result == 0) {
        result = client_wait(client, deadline_ns);
    }
    if (producer->pending_records == 0) {
        result = 0;
    }
    producer->flushing--;
    pthread_mutex_unlock(&client->mutex);
    return result;
}

uint64_t
sb_producer_pending(struct sb_producer *producer)
{
    if (producer == NULL) {
        return 0;
    }
    pthread_mutex_lock(&producer->client->mutex);
    uint64_t pending = producer->pending_records;
    pthread_mutex_unlock(&producer->client->mutex);
    return pending;
}

/* Mutex held: fails every batch with error (in flight ones too: their requests were
 * disowned), frees every partition. */
static void
producer_fail_all(struct sb_producer *producer, int error)
{
    for (struct producer_partition *partition = producer->partitions; partition != NULL;
         partition = partition->next) {
        while (partition->head != NULL) {
            struct producer_batch *batch = partition->head;
            producer_partition_unlink(partition, batch);
            producer_batch_complete(producer, batch, error, -1, -1);
        }
    }
    producer_partitions_free(producer);
    producer->inflight_batches = 0;
}

static void
producer_unlink(struct sb_producer *producer)
{
    struct sb_client *client = producer->client;
    for (struct sb_producer **link = &client->producers; *link != NULL;
         link = &(*link)->next) {
        if (*link == producer) {
            *link = producer->next;
            return;
        }
    }
}

int
sb_producer_close(struct sb_producer *producer, int timeout_ms)
{
    if (producer == NULL) {
        return 0;
    }
    struct sb_client *client = producer->client;
    if (client_on_io_thread(client)) {
        return -EDEADLK;
    }
    int result = sb_producer_flush(producer, timeout_ms);
    pthread_mutex_lock(&client->mutex);
    producer->closing = true;
    conn_disown(client, producer);
    producer_fail_all(producer, SB_ERR_SHUTDOWN);
    producer_unlink(producer);
    client_wake(client);
    /* The I/O thread runs the queued callbacks; they all return before we free. */
    while (producer->pending_records > 0 && client->io_thread_started) {
        client_wait(client, client_deadline_ns(1000));
    }
    pthread_mutex_unlock(&client->mutex);
    free(producer);
    return result;
}

int
producer_batch_seal(struct sb_producer *producer, struct producer_batch *batch)
{
    enum sb_compression codec = (enum sb_compression)producer->compression;
    size_t records_bytes = batch->builder.used - SB_BATCH_HEADER_BYTES;
    const uint8_t *sealed = NULL;
    uint32_t sealed_bytes = 0;
    int result = -EINVAL;
    if (codec != SB_COMPRESSION_NONE) {
        size_t capacity = sb_compress_bound(codec, records_bytes) + SB_BATCH_HEADER_BYTES;
        batch->compressed = malloc(capacity);
        result = batch->compressed == NULL
                     ? -ENOMEM
                     : sb_batch_builder_finish(&batch->builder, codec, batch->compressed,
                                               capacity, &sealed, &sealed_bytes);
        /* Keep the compressed form only when it is smaller. */
        if (result != 0 || sealed_bytes >= batch->builder.used) {
            free(batch->compressed);
            batch->compressed = NULL;
            result = -EINVAL;
        }
    }
    if (result != 0) {
        result = sb_batch_builder_finish(&batch->builder, SB_COMPRESSION_NONE, NULL, 0, &sealed,
                                         &sealed_bytes);
    }
    batch->sealed = sealed;
    batch->sealed_bytes = sealed_bytes;
    if (sealed_bytes > producer->sealed_bytes_max) {
        producer->sealed_bytes_max = sealed_bytes;
    }
    batch->state = BATCH_QUEUED;
    producer_list_remove(producer, batch->partition, PRODUCER_LIST_LINGER);
    producer_list_remove(producer, batch->partition, PRODUCER_LIST_WAITING);
    producer_list_add(producer, batch->partition, PRODUCER_LIST_READY);
    return result;
}

/* The outcome of record index of batch, as its callback sees it. */
static struct sb_producer_delivery
producer_delivery(const struct producer_batch *batch, uint32_t index, int error,
                  int64_t base_offset, int64_t append_time_ms)
{
    const struct producer_partition *partition = batch->partition;
    bool has_offset = error == 0 && base_offset >= 0;
    return (struct sb_producer_delivery){
        .error = error,
        .topic = partition->topic->name,
        .partition = partition->partition,
        .offset = has_offset ? base_offset + (int64_t)index : -1,
        .timestamp_ms = append_time_ms >= 0 ? append_time_ms
                                            : batch->callbacks[index].timestamp_ms,
    };
}

void
producer_batch_complete(struct sb_producer *producer, struct producer_batch *batch, int error,
                        int64_t base_offset, int64_t append_time_ms)
{
    struct sb_client *client = producer->client;
    CLIENT_ASSERT((batch->next == NULL && batch->state != BATCH_IN_FLIGHT) || producer->closing);
    CLIENT_ASSERT(producer->buffered_bytes >= batch->memory_bytes);
    for (uint32_t index = 0; index < batch->record_count; index++) {
        const struct producer_callback *callback = &batch->callbacks[index];
        struct sb_producer_delivery delivery = producer_delivery(batch, index, error,
                                                                 base_offset, append_time_ms);
        struct client_delivery entry = {callback->callback, callback->opaque, delivery,
                                        producer};
        if (callback->sync != NULL) {
            callback->sync->error = error;
            callback->sync->offset = delivery.offset;
            callback->sync->done = true;
            producer->pending_records--;
        } else if (callback->callback == NULL || client_delivery_push(client, &entry) != 0) {
            producer->pending_records--;
        }
    }
    producer->buffered_bytes -= batch->memory_bytes;
    free(batch->callbacks);
    free(batch->compressed);
    free(batch->buffer);
    free(batch);
    pthread_cond_broadcast(&client->cond);
}

/* Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2), seed 0x9747b28c. */
uint32_t
producer_murmur2(const void *key, size_t length)
{
    const uint8_t *data = key;
    const uint32_t m = 0x5bd1e995u;
    uint32_t h = 0x9747b28cu ^ (uint32_t)length;
    size_t blocks = length / 4;
    for (size_t index = 0; index < blocks; index++) {
        const uint8_t *block = data + index * 4;
        uint32_t k = (uint32_t)block[0] | (uint32_t)block[1] << 8 | (uint32_t)block[2] << 16 |
                     (uint32_t)block[3] << 24;
        k *= m;
        k ^= k >> 24;
        k *= m;
        h *= m;
        h ^= k;
    }
    const uint8_t *tail = data + blocks * 4;
    switch (length & 3) {
    case 3:
        h ^= (uint32_t)tail[2] << 16;
        /* fall through */
    case 2:
        h ^= (uint32_t)tail[1] << 8;
        /* fall through */
    case 1:
        h ^= tail[0];
        h *= m;
        break;
    default:
        break;
    }
    h ^= h >> 13;
    h *= m;
    h ^= h >> 15;
    return h;
}
