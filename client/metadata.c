/*
 * client/metadata.c - the metadata cache: which topics exist, how many
 * partitions each has, which broker and shard own each partition, and the
 * ports of every broker's shards; and routing a partition to a connection.
 *
 * Refresh: a Metadata request for every topic the client has been asked
 * about goes to a bootstrap connection when a new topic appears, when a
 * producer or consumer reports a routing error (UNKNOWN_TOPIC_OR_PARTITION,
 * NOT_LEADER_OR_FOLLOWER, WRONG_SHARD, a lost connection), and every
 * metadata.max.age.ms; at most one is in flight and they are at least
 * metadata.refresh.backoff.ms apart.
 *
 * Topics are never freed before the client (producers and consumers keep
 * pointers to them); their partition arrays are replaced by each answer, so
 * nobody keeps a pointer into those.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client/client_private.h"
#include "proto/api_admin.h"
#include "proto/api_meta.h"

static void metadata_done(struct sb_client *client, struct client_request *request, int error,
                          const uint8_t *body, size_t body_bytes);

bool
metadata_name_valid(const char *name)
{
    return name != NULL && sb_topic_name_is_valid(sb_wire_string_from_cstr(name));
}

struct client_topic *
metadata_topic(struct sb_client *client, const char *name)
{
    for (struct client_topic *topic = client->topics; topic != NULL; topic = topic->next) {
        if (strcmp(topic->name, name) == 0) {
            return topic;
        }
    }
    struct client_topic *topic = calloc(1, sizeof(*topic));
    if (topic == NULL) {
        return NULL;
    }
    topic->name = strdup(name);
    if (topic->name == NULL) {
        free(topic);
        return NULL;
    }
    topic->next = client->topics;
    client->topics = topic;
    metadata_refresh(client);
    return topic;
}

void
metadata_refresh(struct sb_client *client)
{
    if (!client->metadata_wanted) {
        client->metadata_wanted = true;
        client_wake(client);
    }
}

struct client_conn *
metadata_bootstrap_conn(struct sb_client *client)
{
    for (uint32_t index = 0; index < client->bootstrap_count; index++) {
        struct client_conn *conn = conn_get(client, client->bootstrap_hosts[index],
                                            client->bootstrap_ports[index], 0);
        if (conn != NULL) {
            conn->bootstrap = true;
            if (conn_ready(conn)) {
                return conn;
            }
        }
    }
    uint32_t next = client->bootstrap_next % client->bootstrap_count;
    struct client_conn *conn = conn_get(client, client->bootstrap_hosts[next],
                                        client->bootstrap_ports[next], 0);
    if (conn != NULL && conn->state == CONN_BACKOFF && client->bootstrap_count > 1) {
        /* This one failed: the next attempt goes to the next server in the list. */
        client->bootstrap_next = (next + 1) % client->bootstrap_count;
    }
    return conn;
}

static int
metadata_encode(struct sb_wire_writer *writer, const void *body)
{
    return sb_metadata_request_encode(writer, body);
}

/* Sends one Metadata request naming every known topic; returns 0 or an error. */
static int
metadata_send(struct sb_client *client, struct client_conn *conn)
{
    uint32_t count = 0;
    for (struct client_topic *topic = client->topics; topic != NULL; topic = topic->next) {
        count++;
    }
    struct sb_wire_string *names = calloc(count + 1, sizeof(*names));
    if (names == NULL) {
        return -ENOMEM;
    }
    uint32_t index = 0;
    for (struct client_topic *topic = client->topics; topic != NULL; topic = topic->next) {
        names[index++] = sb_wire_string_from_cstr(topic->name);
    }
    struct sb_metadata_request request = {.topics = names, .topic_count = count};
    client->metadata_request = (struct client_request){.done = metadata_done};
    int result = conn_send(client, conn, SB_API_METADATA, 0, metadata_encode, &request,
                           &client->metadata_request, client->config.request_timeout_ms);
    free(names);
    return result;
}

void
metadata_run(struct sb_client *client, uint64_t now_ns)
{
    uint64_t age_ns = client->config.metadata_max_age_ms * 1000000ull;
    if (client->topics != NULL && now_ns - client->metadata_refreshed_ns >= age_ns) {
        client->metadata_wanted = true;
    }
    if (client->topics != NULL && !client->metadata_wanted) {
        client_schedule(client, client->metadata_refreshed_ns + age_ns);
    }
    if (!client->metadata_wanted || client->metadata_inflight) {
        return;
    }
    if (now_ns < client->metadata_next_ns) {
        client_schedule(client, client->metadata_next_ns);
        return;
    }
    struct client_conn *conn = metadata_bootstrap_conn(client);
    if (conn == NULL || !conn_want(client, conn)) {
        return;
    }
    /* Failed or not, the next attempt waits: a request that cannot be encoded must not
     * spin the loop. */
    client->metadata_next_ns = now_ns + client->config.metadata_refresh_backoff_ms * 1000000ull;
    if (metadata_send(client, conn) == 0) {
        client->metadata_inflight = true;
        client->metadata_wanted = false;
    }
}

static void
metadata_done(struct sb_client *client, struct client_request *request, int error,
              const uint8_t *body, size_t body_bytes)
{
    (void)request;
    client->metadata_inflight = false;
    if (error == 0) {
        error = metadata_apply(client, body, body_bytes);
    }
    if (error != 0) {
        client_log(client, SB_CLIENT_LOG_DEBUG, "metadata refresh failed: %s",
                   sb_client_strerror(error));
        client->metadata_wanted = true;
    }
    pthread_cond_broadcast(&client->cond);
}

/* Reads one broker into out; false when it is unusable (bad host or port). */
static bool
metadata_read_broker(struct sb_metadata_broker *broker, struct client_broker *out)
{
    if (broker->host.length == 0 || broker->host.length >= CLIENT_HOST_BYTES ||
        broker->port <= 0 || broker->port > 65535 ||
        memchr(broker->host.chars, '\0', broker->host.length) != NULL) {
        return false;
    }
    memset(out, 0, sizeof(*out));
    out->node_id = broker->node_id;
    memcpy(out->host, broker->host.chars, broker->host.length);
    out->port = broker->port;
    out->shard_count = broker->shard_count > CLIENT_SHARDS_MAX ? CLIENT_SHARDS_MAX
                                                               : broker->shard_count;
    struct sb_metadata_shard shard;
    while (sb_metadata_broker_next_shard(broker, &shard) == 1) {
        if (shard.shard_id >= 0 && (uint32_t)shard.shard_id < out->shard_count &&
            shard.port > 0 && shard.port <= 65535) {
            out->shard_ports[shard.shard_id] = shard.port;
        }
    }
    return true;
}

static int
metadata_apply_brokers(struct sb_client *client, struct sb_metadata_response *response)
{
    uint32_t count = response->broker_cursor.count;
    count = count > CLIENT_BROKERS_MAX ? CLIENT_BROKERS_MAX : count;
    struct client_broker *brokers = calloc(count + 1, sizeof(*brokers));
    if (brokers == NULL) {
        return -ENOMEM;
    }
    uint32_t used = 0;
    struct sb_metadata_broker broker;
    while (used < count && sb_metadata_response_next_broker(response, &broker) == 1) {
        used += metadata_read_broker(&broker, &brokers[used]);
    }
    free(client->brokers);
    client->brokers = brokers;
    client->broker_count = used;
    return 0;
}

static struct client_topic *
metadata_find(struct sb_client *client, struct sb_wire_string name)
{
    for (struct client_topic *topic = client->topics; topic != NULL; topic = topic->next) {
        if (sb_wire_string_equals(name, topic->name)) {
            return topic;
        }
    }
    return NULL;
}

static int
metadata_apply_topic(struct client_topic *topic, struct sb_metadata_topic *answer)
{
    topic->answers++;
    if (answer->error_code != 0) {
        topic->error = client_error_from_wire(answer->error_code);
        return 0;
    }
    uint32_t count = answer->partition_cursor.count;
    struct client_partition_meta *partitions = calloc(count + 1, sizeof(*partitions));
    if (partitions == NULL) {
        return -ENOMEM;
    }
    for (uint32_t index = 0; index < count; index++) {
        partitions[index] = (struct client_partition_meta){.leader = -1, .shard = -1};
    }
    struct sb_metadata_partition partition;
    while (sb_metadata_topic_next_partition(answer, &partition) == 1) {
        if (partition.partition >= 0 && (uint32_t)partition.partition < count) {
            partitions[partition.partition] = (struct client_partition_meta){
                partition.leader, partition.shard, partition.error_code};
        }
    }
    free(topic->partitions);
    topic->partitions = partitions;
    topic->partition_count = count;
    topic->topic_id = answer->topic_id;
    topic->error = count == 0 ? SB_ERR_UNKNOWN_TOPIC : 0;
    return 0;
}

int
metadata_apply(struct sb_client *client, const uint8_t *body, size_t body_bytes)
{
    struct sb_metadata_response response;
    if (sb_metadata_response_decode(body, body_bytes, &response) != 0) {
        return SB_ERR_CORRUPT;
    }
    int result = metadata_apply_brokers(client, &response);
    struct sb_metadata_topic answer;
    while (result == 0 && sb_metadata_response_next_topic(&response, &answer) == 1) {
        struct client_topic *topic = metadata_find(client, answer.name);
        if (topic != NULL) {
            result = metadata_apply_topic(topic, &answer);
        }
    }
    /* Shard ports that failed get another chance after each refresh. */
    for (struct client_conn *conn = client->conns; conn != NULL; conn = conn->next) {
        conn->failures = conn->failures > 1 ? 1 : conn->failures;
    }
    client->metadata_generation++;
    client->metadata_refreshed_ns = client_now_ns();
    return result;
}

static const struct client_broker *
metadata_broker(const struct sb_client *client, int32_t node_id)
{
    for (uint32_t index = 0; index < client->broker_count; index++) {
        if (client->brokers[index].node_id == node_id) {
            return &client->brokers[index];
        }
    }
    return NULL;
}

struct client_conn *
metadata_route(struct sb_client *client, const struct client_topic *topic, int32_t partition,
               uint32_t owner_id)
{
    if (partition < 0 || (uint32_t)partition >= topic->partition_count || topic->error != 0) {
        return NULL;
    }
    const struct client_partition_meta *meta = &topic->partitions[partition];
    const struct client_broker *broker = metadata_broker(client, meta->leader);
    if (broker == NULL) {
        return NULL;
    }
    if (client->config.shard_aware && meta->shard >= 0 &&
        (uint32_t)meta->shard < broker->shard_count && broker->shard_ports[meta->shard] > 0) {
        struct client_conn *conn = conn_get(client, broker->host,
                                            (uint16_t)broker->shard_ports[meta->shard],
                                            owner_id);
        /* A shard port that failed twice in a row: fall back to the plain port. */
        if (conn != NULL && (conn->failures < 2 || conn_ready(conn))) {
            return conn;
        }
    }
    return conn_get(client, broker->host, (uint16_t)broker->port, owner_id);
}

int
metadata_wait(struct sb_client *client, struct client_topic *topic, uint64_t deadline_ns)
{
    uint64_t answers = topic->answers;
    uint64_t failures = client->bootstrap_failures;
    metadata_refresh(client);
    for (;;) {
        if (topic->answers > answers) {
            return topic->error;
        }
        if (client->stopping) {
            return SB_ERR_SHUTDOWN;
        }
        /* Refused or reset connections are retried (with backoff) until the deadline. */
        if (client_wait(client, deadline_ns) != 0) {
            return topic->answers > answers ? topic->error
                                            : client_wait_error(client, failures);
        }
    }
}

void
metadata_free(struct sb_client *client)
{
    while (client->topics != NULL) {
        struct client_topic *topic = client->topics;
        client->topics = topic->next;
        free(topic->partitions);
        free(topic->name);
        free(topic);
    }
    free(client->brokers);
    client->brokers = NULL;
    client->broker_count = 0;
}
