/*
 * client/admin.c - topic administration and broker health (sb_admin_*).
 *
 * Each call encodes its request body on the caller's thread, queues an
 * admin_job, and waits. The I/O thread sends queued jobs on a bootstrap
 * connection (admin_run) and copies the answer into the job (admin_done);
 * the caller decodes it into the public result. A caller that gives up
 * (timeout) marks its job abandoned, and whoever touches it last frees it.
 * Admin requests are not idempotent (a create sent twice answers
 * TOPIC_ALREADY_EXISTS), so a job that was sent is never resent: a lost
 * connection is the call's error.
 *
 * Results are single allocations (struct, arrays and strings in one block),
 * freed by the public *_free functions.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client/client_private.h"
#include "proto/api_admin.h"
#include "proto/api_meta.h"

/* Largest admin request body the client encodes. */
#define ADMIN_BODY_BYTES_MAX (16u << 20)
/* Config entries one call may carry. */
#define ADMIN_CONFIGS_MAX 1024

/* Writes a pre-encoded body (conn_send calls encode with NULL and the job as body). */
static int
admin_encode_raw(struct sb_wire_writer *writer, const void *body)
{
    const struct admin_job *job = body;
    uint8_t *room = sb_wire_write_reserve(writer, job->body_bytes);
    if (room != NULL && job->body_bytes > 0) {
        memcpy(room, job->body, job->body_bytes);
    }
    return writer->error;
}

void
admin_run(struct sb_client *client)
{
    if (client->admin_queue == NULL) {
        return;
    }
    struct client_conn *conn = metadata_bootstrap_conn(client);
    if (conn == NULL || !conn_want(client, conn)) {
        return;
    }
    while (client->admin_queue != NULL) {
        struct admin_job *job = client->admin_queue;
        client->admin_queue = job->next;
        job->next = NULL;
        job->sent = true;
        int result = conn_send(client, conn, job->api_key, 0, admin_encode_raw, job, &job->request,
                               client->config.request_timeout_ms);
        if (result != 0) {
            admin_done(client, &job->request, result, NULL, 0);
        }
    }
}

void
admin_done(struct sb_client *client, struct client_request *request, int error,
           const uint8_t *body, size_t body_bytes)
{
    struct admin_job *job = (struct admin_job *)request;
    if (job->abandoned) {
        free(job->body);
        free(job);
        return;
    }
    if (error == 0) {
        job->response = malloc(body_bytes + 1);
        error = job->response == NULL ? -ENOMEM : 0;
        if (job->response != NULL) {
            memcpy(job->response, body, body_bytes);
            job->response_bytes = body_bytes;
        }
    }
    job->error = error;
    job->done = true;
    pthread_cond_broadcast(&client->cond);
}

/* Encodes a request body with encode into a new buffer. */
static int
admin_encode(int (*encode)(struct sb_wire_writer *writer, const void *request),
             const void *request, uint8_t **body_out, size_t *body_bytes_out)
{
    /* Bounded: the buffer doubles up to ADMIN_BODY_BYTES_MAX. */
    for (size_t capacity = CLIENT_ENCODE_BYTES_MIN; capacity <= ADMIN_BODY_BYTES_MAX;
         capacity *= 2) {
        uint8_t *buffer = malloc(capacity);
        if (buffer == NULL) {
            return -ENOMEM;
        }
        struct sb_wire_writer writer;
        sb_wire_writer_init(&writer, buffer, capacity);
        int result = encode(&writer, request);
        if (result == 0) {
            *body_out = buffer;
            *body_bytes_out = sb_wire_writer_length(&writer);
            return 0;
        }
        free(buffer);
        if (result != -ENOSPC) {
            return result;
        }
    }
    return -EMSGSIZE;
}

/* Mutex held: takes the job out of the unsent queue; false when it was already sent. */
static bool
admin_unqueue(struct sb_client *client, struct admin_job *job)
{
    for (struct admin_job **link = &client->admin_queue; *link != NULL;
         link = &(*link)->next) {
        if (*link == job) {
            *link = job->next;
            return true;
        }
    }
    return false;
}

/* Mutex held: waits for job; returns its error, or gives the job up. */
static int
admin_wait(struct sb_client *client, struct admin_job *job, uint64_t deadline_ns)
{
    uint64_t failures = client->bootstrap_failures;
    for (;;) {
        if (job->done) {
            return job->error;
        }
        int error = 0;
        /* Refused or reset connections are retried (with backoff) until the deadline. */
        if (client->stopping) {
            error = SB_ERR_SHUTDOWN;
        } else if (client_wait(client, deadline_ns) != 0 && !job->done) {
            error = job->sent ? -ETIMEDOUT : client_wait_error(client, failures);
        }
        if (error != 0) {
            if (!admin_unqueue(client, job)) {
                job->abandoned = true; /* In flight: admin_done frees it. */
            }
            return error;
        }
    }
}

int
admin_execute(struct sb_client *client, uint16_t api_key,
              int (*encode)(struct sb_wire_writer *writer, const void *request),
              const void *request, int timeout_ms, uint8_t **response_out,
              size_t *response_bytes_out)
{
    if (client_on_io_thread(client)) {
        return -EDEADLK;
    }
    struct admin_job *job = calloc(1, sizeof(*job));
    if (job == NULL) {
        return -ENOMEM;
    }
    int result = admin_encode(encode, request, &job->body, &job->body_bytes);
    if (result != 0) {
        free(job);
        return result;
    }
    job->api_key = api_key;
    job->request = (struct client_request){.done = admin_done};
    uint64_t deadline_ns = client_deadline_ns(timeout_ms);
    pthread_mutex_lock(&client->mutex);
    struct admin_job **link = &client->admin_queue;
    while (*link != NULL) {
        link = &(*link)->next;
    }
    *link = job;
    client_wake(client);
    result = admin_wait(client, job, deadline_ns);
    bool owned = !job->abandoned;
    pthread_mutex_unlock(&client->mutex);
    if (!owned) {
        return result;
    }
    if (result == 0) {
        *response_out = job->response;
        *response_bytes_out = job->response_bytes;
        job->response = NULL;
    }
    free(job->response);
    free(job->body);
    free(job);
    return result;
}

int
admin_timeout_ms(const struct sb_client *client, int timeout_ms)
{
    return timeout_ms < 0 ? (int)client->config.request_timeout_ms : timeout_ms;
}

/* Splits "key=value" (or "key" when reset is allowed: null value) into entry. */
static int
admin_config_parse(const char *text, bool reset_allowed, struct sb_topic_config *entry)
{
    if (text == NULL) {
        return -EINVAL;
    }
    const char *equals = strchr(text, '=');
    if ((equals == NULL && !reset_allowed) || equals == text || text[0] == '\0') {
        client_detail_set("config \"%s\" is not key=value", text);
        return -EINVAL;
    }
    size_t key_length = equals != NULL ? (size_t)(equals - text) : strlen(text);
    if (key_length > SB_WIRE_STRING_BYTES_MAX ||
        (equals != NULL && strlen(equals + 1) > SB_WIRE_STRING_BYTES_MAX)) {
        return -EINVAL;
    }
    *entry = (struct sb_topic_config){
        .key = {text, (uint16_t)key_length},
        .value = equals != NULL ? sb_wire_string_from_cstr(equals + 1)
                                : (struct sb_wire_string){NULL, 0},
    };
    return 0;
}

static int
admin_configs_parse(const char *const *configs, size_t config_count, bool reset_allowed,
                    struct sb_topic_config **entries_out)
{
    if (config_count > ADMIN_CONFIGS_MAX || (config_count > 0 && configs == NULL)) {
        return -EINVAL;
    }
    struct sb_topic_config *entries = calloc(config_count + 1, sizeof(*entries));
    if (entries == NULL) {
        return -ENOMEM;
    }
    for (size_t index = 0; index < config_count; index++) {
        int result = admin_config_parse(configs[index], reset_allowed, &entries[index]);
        if (result != 0) {
            free(entries);
            return result;
        }
    }
    *entries_out = entries;
    return 0;
}

static int
admin_name_check(struct sb_client *client, const char *name)
{
    client_detail_clear();
    if (client == NULL || name == NULL || strlen(name) > SB_WIRE_STRING_BYTES_MAX) {
        return -EINVAL;
    }
    return 0;
}

/* After a change to topic name: waits (bounded) until the metadata cache has a fresh
 * answer about it, so the caller's next send or assign sees the change. A failure here is
 * not the change's failure: the refresh continues in the background. */
static int
admin_refresh_topic(struct sb_client *client, const char *name, int timeout_ms)
{
    uint64_t deadline_ns = client_deadline_ns(admin_timeout_ms(client, timeout_ms));
    pthread_mutex_lock(&client->mutex);
    struct client_topic *topic = metadata_name_valid(name) ? metadata_topic(client, name)
                                                           : NULL;
    if (topic != NULL) {
        metadata_wait(client, topic, deadline_ns);
    }
    pthread_mutex_unlock(&client->mutex);
    return 0;
}

static int
admin_encode_create(struct sb_wire_writer *writer, const void *request)
{
    return sb_create_topics_request_encode(writer, request);
}

int
sb_admin_topic_create(struct sb_client *client, const char *name, int32_t partitions,
                      const char *const *configs, size_t config_count, int timeout_ms)
{
    int result = admin_name_check(client, name);
    struct sb_topic_config *entries = NULL;
    result = result == 0 ? admin_configs_parse(configs, config_count, false, &entries) : result;
    if (result != 0) {
        return result;
    }
    timeout_ms = admin_timeout_ms(client, timeout_ms);
    struct sb_create_topic topic = {
        .name = sb_wire_string_from_cstr(name), .partition_count = partitions,
        .replication_factor = 1, .configs = entries, .config_count = (uint32_t)config_count};
    struct sb_create_topics_request request = {.topics = &topic, .topic_count = 1,
                                               .timeout_ms = timeout_ms};
    uint8_t *response = NULL;
    size_t response_bytes = 0;
    result = admin_execute(client, SB_API_CREATE_TOPICS, admin_encode_create, &request,
                           timeout_ms, &response, &response_bytes);
    free(entries);
    if (result == 0) {
        result = admin_parse_create(response, response_bytes);
        free(response);
    }
    return result == 0 ? admin_refresh_topic(client, name, timeout_ms) : result;
}

static int
admin_encode_delete(struct sb_wire_writer *writer, const void *request)
{
    return sb_delete_topics_request_encode(writer, request);
}

int
sb_admin_topic_delete(struct sb_client *client, const char *name, int timeout_ms)
{
    int result = admin_name_check(client, name);
    if (result != 0) {
        return result;
    }
    timeout_ms = admin_timeout_ms(client, timeout_ms);
    struct sb_wire_string topic = sb_wire_string_from_cstr(name);
    struct sb_delete_topics_request request = {.names = &topic, .name_count = 1,
                                               .timeout_ms = timeout_ms};
    uint8_t *response = NULL;
    size_t response_bytes = 0;
    result = admin_execute(client, SB_API_DELETE_TOPICS, admin_encode_delete, &request,
                           timeout_ms, &response, &response_bytes);
    if (result == 0) {
        result = admin_parse_delete(response, response_bytes);
        free(response);
    }
    return result;
}

static int
admin_encode_alter(struct sb_wire_writer *writer, const void *request)
{
    return sb_alter_topic_config_request_encode(writer, request);
}

int
sb_admin_topic_alter(struct sb_client *client, const char *name, int32_t partitions,
                     const char *const *configs, size_t config_count, int timeout_ms)
{
    int result = admin_name_check(client, name);
    struct sb_topic_config *entries = NULL;
    result = result == 0 ? admin_configs_parse(configs, config_count, true, &entries) : result;
    if (result != 0) {
        return result;
    }
    struct sb_alter_topic_config_request request = {
        .name = sb_wire_string_from_cstr(name), .partition_count = partitions,
        .configs = entries, .config_count = (uint32_t)config_count};
    uint8_t *response = NULL;
    size_t response_bytes = 0;
    result = admin_execute(client, SB_API_ALTER_TOPIC_CONFIG, admin_encode_alter, &request,
                           admin_timeout_ms(client, timeout_ms), &response, &response_bytes);
    free(entries);
    if (result == 0) {
        result = admin_parse_alter(response, response_bytes);
        free(response);
    }
    return result == 0 && partitions > 0 ? admin_refresh_topic(client, name, timeout_ms)
                                         : result;
}

static int
admin_encode_list(struct sb_wire_writer *writer, const void *request)
{
    return sb_list_topics_request_encode(writer, request);
}

int
sb_admin_topic_list(struct sb_client *client, const char *prefix, int timeout_ms,
                    struct sb_admin_topic_list **list_out)
{
    int result = admin_name_check(client, prefix != NULL ? prefix : "");
    if (result != 0 || list_out == NULL) {
        return result != 0 ? result : -EINVAL;
    }
    struct sb_list_topics_request request = {
        .prefix = sb_wire_string_from_cstr(prefix != NULL ? prefix : "")};
    uint8_t *response = NULL;
    size_t response_bytes = 0;
    result = admin_execute(client, SB_API_LIST_TOPICS, admin_encode_list, &request,
                           admin_timeout_ms(client, timeout_ms), &response, &response_bytes);
    if (result == 0) {
        result = admin_parse_list(response, response_bytes, list_out);
        free(response);
    }
    return result;
}

void
sb_admin_topic_list_free(struct sb_admin_topic_list *list)
{
    free(list);
}

static int
admin_encode_describe(struct sb_wire_writer *writer, const void *request)
{
    return sb_describe_topic_request_encode(writer, request);
}

int
sb_admin_topic_describe(struct sb_client *client, const char *name, int timeout_ms,
                        struct sb_admin_topic_description **description_out)
{
    int result = admin_name_check(client, name);
    if (result != 0 || description_out == NULL) {
        return result != 0 ? result : -EINVAL;
    }
    struct sb_describe_topic_request request = {.name = sb_wire_string_from_cstr(name)};
    uint8_t *response = NULL;
    size_t response_bytes = 0;
    result = admin_execute(client, SB_API_DESCRIBE_TOPIC, admin_encode_describe, &request,
                           admin_timeout_ms(client, timeout_ms), &response, &response_bytes);
    if (result == 0) {
        result = admin_parse_describe(response, response_bytes, description_out);
        free(response);
    }
    return result;
}

void
sb_admin_topic_description_free(struct sb_admin_topic_description *description)
{
    free(description);
}

static int
admin_encode_health(struct sb_wire_writer *writer, const void *request)
{
    (void)request;
    return sb_health_request_encode(writer);
}

int
sb_admin_health(struct sb_client *client, int timeout_ms, struct sb_admin_health **health_out)
{
    client_detail_clear();
    if (client == NULL || health_out == NULL) {
        return -EINVAL;
    }
    uint8_t *response = NULL;
    size_t response_bytes = 0;
    int result = admin_execute(client, SB_API_HEALTH, admin_encode_health, NULL,
                               admin_timeout_ms(client, timeout_ms), &response,
                               &response_bytes);
    if (result == 0) {
        result = admin_parse_health(response, response_bytes, health_out);
        free(response);
    }
    return result;
}

void
sb_admin_health_free(struct sb_admin_health *health)
{
    free(health);
}
