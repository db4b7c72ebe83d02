/*
 * client/consumer.c - the consumer's API side (sb_consumer_*): assignment,
 * seeks, positions and lag, and poll, which hands out records from the
 * chunks fetch.c buffered.
 *
 * Positions: `position` is the offset of the next record poll returns; it
 * moves only in poll (and seek). `fetch_offset` (fetch.c) runs ahead of it
 * by whatever is buffered. A seek bumps the partition's epoch, drops its
 * buffered chunks, and sets the position directly (an offset) or asks the
 * I/O thread to resolve it with ListOffsets (beginning, end, timestamp).
 *
 * poll takes whole chunks out of the shared ready queue under the mutex and
 * decodes them (CRC checks, decompression) on the calling thread without it;
 * only the position update per record takes the mutex again.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client/client_private.h"
#include "proto/api_fetch.h"

int
sb_consumer_open(struct sb_client *client, struct sb_consumer **consumer_out)
{
    client_detail_clear();
    if (client == NULL || consumer_out == NULL) {
        return -EINVAL;
    }
    struct sb_consumer *consumer = calloc(1, sizeof(*consumer));
    if (consumer == NULL) {
        return -ENOMEM;
    }
    consumer->client = client;
    group_init(client, consumer);
    pthread_mutex_lock(&client->mutex);
    consumer->owner_id = client->next_owner_id++;
    consumer->next = client->consumers;
    client->consumers = consumer;
    pthread_mutex_unlock(&client->mutex);
    *consumer_out = consumer;
    return 0;
}

struct consumer_partition *
consumer_find(struct sb_consumer *consumer, const char *topic, int32_t partition)
{
    for (struct consumer_partition *entry = consumer->partitions; entry != NULL;
         entry = entry->next) {
        if (entry->partition == partition && strcmp(entry->topic->name, topic) == 0) {
            return entry;
        }
    }
    return NULL;
}

/* Mutex held: drops the partition's buffered chunks (and the current one if it is its). */
static void
consumer_drop_chunks(struct sb_consumer *consumer, struct consumer_partition *partition)
{
    struct consumer_chunk **link = &consumer->ready_head;
    consumer->ready_tail = NULL;
    while (*link != NULL) {
        struct consumer_chunk *chunk = *link;
        if (chunk->partition != partition) {
            consumer->ready_tail = chunk;
            link = &chunk->next;
            continue;
        }
        *link = chunk->next;
        consumer->buffered_bytes -= chunk->length;
        partition->buffered_bytes -= chunk->length;
        consumer_chunk_free(chunk);
    }
    if (consumer->current != NULL && consumer->current->partition == partition) {
        consumer_chunk_free(consumer->current);
        consumer->current = NULL;
    }
}

/* Mutex held: starts the partition over from offset (>= 0) or a ListOffsets timestamp. */
static void
consumer_reposition(struct sb_consumer *consumer, struct consumer_partition *partition,
                    int64_t offset, int64_t resolve_timestamp)
{
    consumer_drop_chunks(consumer, partition);
    partition->epoch++;
    partition->error = 0;
    partition->error_reported = false;
    partition->failures = 0;
    partition->retry_at_ns = 0;
    partition->topic_answers = partition->topic->answers;
    partition->topic_id = 0; /* The next Fetch names the topic the position is in. */
    if (offset >= 0) {
        partition->state = POSITION_VALID;
        partition->position = partition->fetch_offset = offset;
    } else {
        partition->state = POSITION_RESOLVE;
        partition->resolve_timestamp = resolve_timestamp;
    }
    if (partition->topic->error != 0) {
        metadata_refresh(consumer->client);
    }
    client_wake(consumer->client);
}

struct consumer_partition *
consumer_partition_add(struct sb_consumer *consumer, struct client_topic *topic,
                       int32_t partition, int64_t offset, int64_t resolve_timestamp)
{
    struct consumer_partition *assigned = calloc(1, sizeof(*assigned));
    if (assigned == NULL) {
        return NULL;
    }
    assigned->topic = topic;
    assigned->partition = partition;
    assigned->references = 1; /* The assignment itself. */
    assigned->committed = -1;
    assigned->next = consumer->partitions;
    consumer->partitions = assigned;
    consumer_reposition(consumer, assigned, offset, resolve_timestamp);
    return assigned;
}

int
sb_consumer_assign(struct sb_consumer *consumer, const char *topic, int32_t partition)
{
    client_detail_clear();
    if (consumer == NULL || topic == NULL || topic[0] == '\0' || partition < 0) {
        return -EINVAL;
    }
    if (!metadata_name_valid(topic)) {
        return SB_ERR_INVALID_TOPIC;
    }
    struct sb_client *client = consumer->client;
    pthread_mutex_lock(&client->mutex);
    int result = 0;
    struct client_topic *entry = NULL;
    int64_t start = client->config.auto_offset_reset == CLIENT_RESET_EARLIEST
                        ? SB_LIST_OFFSETS_EARLIEST
                        : SB_LIST_OFFSETS_LATEST;
    if (consumer->group.subscribed) {
        result = -EBUSY;
    } else if (consumer_find(consumer, topic, partition) != NULL) {
        result = -EEXIST;
    } else if ((entry = metadata_topic(client, topic)) == NULL ||
               consumer_partition_add(consumer, entry, partition, -1, start) == NULL) {
        result = -ENOMEM;
    }
    pthread_mutex_unlock(&client->mutex);
    return result;
}

void
consumer_partition_remove(struct sb_consumer *consumer, struct consumer_partition *partition)
{
    consumer_drop_chunks(consumer, partition);
    for (struct consumer_partition **link = &consumer->partitions; *link != NULL;
         link = &(*link)->next) {
        if (*link == partition) {
            *link = partition->next;
            break;
        }
    }
    partition->removed = true;
    partition->epoch++;
    consumer_partition_release(partition);
}

int
sb_consumer_unassign(struct sb_consumer *consumer, const char *topic, int32_t partition)
{
    client_detail_clear();
    if (consumer == NULL || topic == NULL) {
        return -EINVAL;
    }
    struct sb_client *client = consumer->client;
    pthread_mutex_lock(&client->mutex);
    struct consumer_partition *entry = consumer_find(consumer, topic, partition);
    if (entry != NULL) {
        consumer_partition_remove(consumer, entry);
    }
    pthread_mutex_unlock(&client->mutex);
    return entry != NULL ? 0 : SB_ERR_NOT_ASSIGNED;
}

static int
consumer_seek(struct sb_consumer *consumer, const char *topic, int32_t partition,
              int64_t offset, int64_t resolve_timestamp)
{
    client_detail_clear();
    if (consumer == NULL || topic == NULL) {
        return -EINVAL;
    }
    struct sb_client *client = consumer->client;
    pthread_mutex_lock(&client->mutex);
    struct consumer_partition *entry = consumer_find(consumer, topic, partition);
    if (entry != NULL) {
        consumer_reposition(consumer, entry, offset, resolve_timestamp);
    }
    pthread_mutex_unlock(&client->mutex);
    return entry != NULL ? 0 : SB_ERR_NOT_ASSIGNED;
}

int
sb_consumer_seek(struct sb_consumer *consumer, const char *topic, int32_t partition,
                 int64_t offset)
{
    if (offset < SB_OFFSET_BEGINNING) {
        return -EINVAL;
    }
    int64_t resolve = offset == SB_OFFSET_BEGINNING ? SB_LIST_OFFSETS_EARLIEST
                                                    : SB_LIST_OFFSETS_LATEST;
    return consumer_seek(consumer, topic, partition, offset >= 0 ? offset : -1, resolve);
}

int
sb_consumer_seek_timestamp(struct sb_consumer *consumer, const char *topic, int32_t partition,
                           int64_t timestamp_ms)
{
    if (timestamp_ms < 0) {
        return -EINVAL;
    }
    return consumer_seek(consumer, topic, partition, -1, timestamp_ms);
}

/* Fills the consumer's record as the report of a stopped partition. */
static void
consumer_error_record(struct sb_consumer *consumer, const struct consumer_partition *partition)
{
    consumer->record = (struct sb_consumer_record){
        .topic = partition->topic->name,
        .partition = partition->partition,
        .offset = partition->position,
        .timestamp_ms = -1,
    };
}

/* Next record of the current chunk: 1 with the record filled, 0 when the chunk is done
 * (and freed), or the error that stopped its partition. */
static int
consumer_next_current(struct sb_consumer *consumer, const struct sb_consumer_record **out)
{
    struct sb_client *client = consumer->client;
    struct consumer_chunk *chunk = consumer->current;
    struct sb_record_view view;
    bool log_append_time = false;
    /* Bounded: each round consumes one record of the chunk. */
    for (;;) {
        int result = client_records_next(&consumer->records, &view, &log_append_time);
        pthread_mutex_lock(&client->mutex);
        struct consumer_partition *partition = chunk->partition;
        bool stale = chunk->epoch != partition->epoch || partition->removed;
        if (result <= 0 || stale) {
            if (result < 0 && !stale) {
                partition->state = POSITION_FAILED;
                partition->error = result;
                partition->error_reported = true;
                partition->epoch++;
                consumer_error_record(consumer, partition);
                *out = &consumer->record;
            }
            consumer_chunk_free(chunk);
            consumer->current = NULL;
            pthread_mutex_unlock(&client->mutex);
            return result < 0 && !stale ? result : 0;
        }
        if (view.offset < partition->position) {
            pthread_mutex_unlock(&client->mutex);
            continue; /* Before the position (a batch may start earlier). */
        }
        partition->position = view.offset + 1;
        pthread_mutex_unlock(&client->mutex);
        int header_count = client_records_headers(&view, &consumer->headers,
                                                  &consumer->header_capacity);
        consumer->record = (struct sb_consumer_record){
            .topic = partition->topic->name, .partition = partition->partition,
            .offset = view.offset, .timestamp_ms = view.timestamp_ms,
            .log_append_time = log_append_time,
            .key = view.key, .key_length = view.key_length < 0 ? 0 : (size_t)view.key_length,
            .value = view.value,
            .value_length = view.value_length < 0 ? 0 : (size_t)view.value_length,
            .headers = consumer->headers,
            .header_count = header_count < 0 ? 0 : (uint32_t)header_count};
        *out = &consumer->record;
        return 1;
    }
}

/* Mutex held: a stopped partition not yet reported, or NULL. */
static struct consumer_partition *
consumer_unreported_failure(struct sb_consumer *consumer)
{
    for (struct consumer_partition *partition = consumer->partitions; partition != NULL;
         partition = partition->next) {
        if (partition->state == POSITION_FAILED && !partition->error_reported) {
            return partition;
        }
    }
    return NULL;
}

/* Mutex held: makes the oldest current chunk of the ready queue the current one. */
static bool
consumer_take_chunk(struct sb_consumer *consumer)
{
    while (consumer->ready_head != NULL) {
        struct consumer_chunk *chunk = consumer->ready_head;
        consumer->ready_head = chunk->next;
        if (consumer->ready_head == NULL) {
            consumer->ready_tail = NULL;
        }
        chunk->next = NULL;
        consumer->buffered_bytes -= chunk->length;
        chunk->partition->buffered_bytes -= chunk->length;
        client_wake(consumer->client); /* Room for the next fetch. */
        if (chunk->epoch != chunk->partition->epoch || chunk->partition->removed) {
            consumer_chunk_free(chunk);
            continue;
        }
        consumer->current = chunk;
        size_t limit = consumer->client->config.receive_frame_bytes_max;
        client_records_init(&consumer->records, chunk->bytes, chunk->length, limit);
        return true;
    }
    return false;
}

int
sb_consumer_poll(struct sb_consumer *consumer, int timeout_ms,
                 const struct sb_consumer_record **record_out)
{
    client_detail_clear();
    if (consumer == NULL || record_out == NULL) {
        return -EINVAL;
    }
    struct sb_client *client = consumer->client;
    /* timeout_ms 0 (draining what arrived, one call per record) reads no clock. */
    uint64_t deadline_ns = timeout_ms == 0 ? 0 : client_deadline_ns(timeout_ms);
    /* Bounded by the deadline: each round returns, takes a chunk, or waits. */
    for (;;) {
        int work = group_poll_work(consumer, record_out);
        if (work != 0) {
            return work;
        }
        if (consumer->current != NULL) {
            int result = consumer_next_current(consumer, record_out);
            if (result != 0) {
                return result;
            }
            continue;
        }
        pthread_mutex_lock(&client->mutex);
        struct consumer_partition *failed = consumer_unreported_failure(consumer);
        if (failed != NULL) {
            failed->error_reported = true;
            consumer_error_record(consumer, failed);
            *record_out = &consumer->record;
            pthread_mutex_unlock(&client->mutex);
            return failed->error;
        }
        int result = 0;
        if (!consumer_take_chunk(consumer)) {
            if (timeout_ms == 0 || client_now_ns() >= deadline_ns) {
                result = -ETIMEDOUT;
            } else if (client_on_io_thread(client)) {
                result = -EDEADLK;
            } else {
                client_wait(client, deadline_ns);
            }
        }
        pthread_mutex_unlock(&client->mutex);
        if (result != 0) {
            return result == -ETIMEDOUT ? 0 : result;
        }
    }
}

/* Mutex held: waits until ready(partition) or the deadline. */
static int
consumer_wait_for(struct sb_consumer *consumer, struct consumer_partition *partition,
                  bool need_watermark, uint64_t deadline_ns)
{
    struct sb_client *client = consumer->client;
    while (partition->state == POSITION_RESOLVE ||
           (need_watermark && partition->state == POSITION_VALID &&
            !partition->watermark_known)) {
        if (client_on_io_thread(client)) {
            return -EDEADLK;
        }
        if (client_wait(client, deadline_ns) != 0) {
            return -ETIMEDOUT;
        }
    }
    if (need_watermark && !partition->watermark_known) {
        return partition->error != 0 ? partition->error : -ETIMEDOUT;
    }
    return 0;
}

static int
consumer_query(struct sb_consumer *consumer, const char *topic, int32_t partition,
               int timeout_ms, bool lag, int64_t *value_out)
{
    client_detail_clear();
    if (consumer == NULL || topic == NULL || value_out == NULL) {
        return -EINVAL;
    }
    struct sb_client *client = consumer->client;
    uint64_t deadline_ns = client_deadline_ns(timeout_ms);
    pthread_mutex_lock(&client->mutex);
    struct consumer_partition *entry = consumer_find(consumer, topic, partition);
    int result = entry == NULL ? SB_ERR_NOT_ASSIGNED
                               : consumer_wait_for(consumer, entry, lag, deadline_ns);
    if (result == 0 && lag) {
        int64_t behind = entry->high_watermark - entry->position;
        *value_out = behind > 0 ? behind : 0;
    } else if (result == 0) {
        *value_out = entry->position;
    }
    pthread_mutex_unlock(&client->mutex);
    return result;
}

int
sb_consumer_position(struct sb_consumer *consumer, const char *topic, int32_t partition,
                     int timeout_ms, int64_t *offset_out)
{
    return consumer_query(consumer, topic, partition, timeout_ms, false, offset_out);
}

int
sb_consumer_lag(struct sb_consumer *consumer, const char *topic, int32_t partition,
                int timeout_ms, int64_t *lag_out)
{
    return consumer_query(consumer, topic, partition, timeout_ms, true, lag_out);
}

static void
consumer_unlink(struct sb_consumer *consumer)
{
    struct sb_client *client = consumer->client;
    for (struct sb_consumer **link = &client->consumers; *link != NULL; link = &(*link)->next) {
        if (*link == consumer) {
            *link = consumer->next;
            return;
        }
    }
}

void
sb_consumer_close(struct sb_consumer *consumer)
{
    if (consumer == NULL) {
        return;
    }
    struct sb_client *client = consumer->client;
    group_close(consumer);
    pthread_mutex_lock(&client->mutex);
    consumer->closing = true;
    consumer_unlink(consumer);
    conn_disown(client, consumer);
    conn_release_owner(client, consumer->owner_id, SB_ERR_SHUTDOWN);
    while (consumer->partitions != NULL) {
        consumer_partition_remove(consumer, consumer->partitions);
    }
    pthread_mutex_unlock(&client->mutex);
    client_records_deinit(&consumer->records);
    free(consumer->headers);
    free(consumer);
}
