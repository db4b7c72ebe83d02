/*
 * broker/api.h - the API registry: one table entry per API the broker serves
 * (api.c), and the handlers the entries name, by the file that holds them.
 *
 * request_start (request.c) looks the frame's key up here: a key without an
 * entry is answered UNKNOWN_API, a version outside the entry's range
 * UNSUPPORTED_VERSION (docs/protocol.md, "Receiving a frame"), so a request
 * only ever reaches its own API's handlers. The entry's route says where it
 * runs:
 *
 *   LOCAL        decode, then encode, on the connection's shard.
 *   OWNERS       decode on the connection's shard (it builds one op per owning
 *                shard, router.c), execute each op on its owner, then
 *                `gathered` (or encode) on the connection's shard.
 *   COORDINATOR  as OWNERS, with one op on the shard that owns the group's
 *                offsets partition (router_split_coordinator; api_group.c).
 *   CONTROL      decode (and decide) then encode on shard 0, one request at a
 *                time, after the changes are durable everywhere (admin.c).
 *
 * ApiVersions answers with the table's ranges, so adding an entry adds the API
 * to it. See broker/README.md, "Adding an API".
 */
#ifndef SB_BROKER_API_H
#define SB_BROKER_API_H

#include <stdbool.h>
#include <stdint.h>

#include "proto/errors.h"
#include "proto/wire.h"

struct broker_shard;
struct request;
struct op;

/* Where an API's request runs (see the file comment). */
enum api_route {
    API_ROUTE_LOCAL = 0,   /* The connection's shard answers alone. */
    API_ROUTE_OWNERS,      /* Ops on the shards that own the named partitions. */
    API_ROUTE_COORDINATOR, /* One op on the group coordinator's shard. */
    API_ROUTE_CONTROL,     /* Shard 0's control plane. */
};

/* Connection's shard (LOCAL, OWNERS) or shard 0 (CONTROL): decodes the request's body and
 * prepares it: reserves the response and scratch, builds the ops (router.c) or decides the
 * change (admin.c). Returns SB_WIRE_ERROR_NONE, or the frame-level error to answer
 * (INVALID_REQUEST for a body that does not decode, BROKER_BUSY when memory is short). */
typedef int16_t api_decode_fn(struct broker_shard *self, struct request *request);
/* OWNERS, COORDINATOR: runs one op on its owner `self`; the op goes home when its pending
 * steps are done (router_op_step, router_op_finish). */
typedef void api_execute_fn(struct broker_shard *self, struct op *op);
/* Writes the response body after the frame header (request_encode); returns the codec's
 * result (0, or -ENOSPC when an estimate of the response size was wrong: a bug). */
typedef int api_encode_fn(struct broker_shard *self, struct request *request,
                          struct sb_wire_writer *writer);
/* OWNERS: every op is back; answers (request_answer) or sends the ops again. */
typedef void api_gathered_fn(struct request *request);
/* OWNERS: the request's connection is closing before its answer (ops that wait may stop). */
typedef void api_cancel_fn(struct request *request);

/* One API. */
struct api {
    uint16_t key;              /* enum sb_api_key; the entry's index in the table. */
    uint16_t version_min;      /* Oldest version served. */
    uint16_t version_max;      /* Newest version served (proto decodes it). */
    enum api_route route;      /* Where it runs. */
    bool silent_allowed;       /* May carry SB_FRAME_FLAG_NO_RESPONSE (Produce acks=0). */
    api_decode_fn *decode;     /* Every route. */
    api_execute_fn *execute;   /* OWNERS, COORDINATOR; else NULL. */
    api_encode_fn *encode;     /* Every route. */
    api_gathered_fn *gathered; /* OWNERS, COORDINATOR: NULL answers at once (encode). */
    api_cancel_fn *cancel;     /* OWNERS, COORDINATOR: NULL when nothing waits. */
};

/* The entry for `key`, or NULL when the broker does not serve it. Borrowed, static. */
const struct api *api_find(uint16_t key);
/* What the broker answers for this key and version: NONE (and *api_out the entry), else
 * UNKNOWN_API (no entry) or UNSUPPORTED_VERSION (outside the entry's range). */
enum sb_wire_error api_check(uint16_t key, uint16_t version, const struct api **api_out);
/* Fills `out` (room for `capacity`) with every entry's versions in key order; returns how
 * many entries there are (ApiVersions' `apis`). */
uint32_t api_version_ranges(struct sb_api_version_range *out, uint32_t capacity);
/* Keys the table can hold: every registered key is below it. */
uint32_t api_key_limit(void);

/* api_metadata.c: ApiVersions, Metadata, ListTopics (LOCAL). */
api_decode_fn api_versions_decode;
api_encode_fn api_versions_encode;
api_decode_fn metadata_decode;
api_encode_fn metadata_encode;
api_decode_fn list_topics_decode;
api_encode_fn list_topics_encode;

/* api_produce.c: Produce. */
api_decode_fn produce_decode;
api_execute_fn produce_execute;
api_encode_fn produce_encode;

/* api_fetch.c: Fetch (long poll and reads, its ops sent again until answered). */
api_decode_fn fetch_decode;
api_execute_fn fetch_execute;
api_encode_fn fetch_encode;
api_gathered_fn fetch_gathered;
api_cancel_fn fetch_cancel;

/* api_offsets.c: ListOffsets. */
api_decode_fn list_offsets_decode;
api_execute_fn list_offsets_execute;
api_encode_fn list_offsets_encode;

/* api_topics.c: DescribeTopic (OWNERS) and Health (an op on every shard). */
api_decode_fn describe_topic_decode;
api_execute_fn describe_topic_execute;
api_encode_fn describe_topic_encode;
api_decode_fn health_decode;
api_execute_fn health_execute;
api_encode_fn health_encode;

/* api_group.c: the consumer group APIs with committed offsets (COORDINATOR). */
api_decode_fn offset_commit_decode;
api_execute_fn offset_commit_execute;
api_encode_fn offset_commit_encode;
api_decode_fn alter_group_offsets_decode;
api_decode_fn offset_fetch_decode;
api_execute_fn offset_fetch_execute;
api_encode_fn offset_fetch_encode;
api_gathered_fn group_body_gathered;
api_decode_fn describe_group_decode;
api_execute_fn describe_group_execute;
api_encode_fn describe_group_encode;
api_decode_fn list_groups_decode;
api_execute_fn list_groups_execute;
api_encode_fn list_groups_encode;
api_gathered_fn list_groups_gathered;
api_decode_fn group_heartbeat_decode;
api_execute_fn group_heartbeat_execute;
api_encode_fn group_heartbeat_encode;
api_decode_fn delete_group_decode;
api_execute_fn delete_group_execute;
api_encode_fn delete_group_encode;

/* admin.c: the control plane's APIs (CONTROL). */
api_decode_fn create_topics_decode;
api_encode_fn create_topics_encode;
api_decode_fn delete_topics_decode;
api_encode_fn delete_topics_encode;
api_decode_fn alter_topic_config_decode;
api_encode_fn alter_topic_config_encode;
api_decode_fn init_producer_id_decode;
api_encode_fn init_producer_id_encode;

#endif /* SB_BROKER_API_H */
