/*
 * client/error.c - the client's error codes: text for every code
 * (sb_client_strerror), which ones are worth retrying, the mapping of broker
 * wire errors into return values (SB_ERR_WIRE), and the per-thread detail
 * text (sb_client_error_detail).
 *
 * Ranges: 0 success; -1 .. -4095 negated errno; -4097 .. -4101 core's SB_E*
 * (same values as SB_ERR_CORRUPT ...); -4200 .. client-only; -5000 - c the
 * broker's wire error c (c in 1 .. 32767).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "client/client_private.h"
#include "core/error.h"
#include "proto/errors.h"

_Static_assert(SB_ERR_CORRUPT == SB_ECORRUPT, "client and core agree on SB_ECORRUPT");
_Static_assert(SB_ERR_SHUTDOWN == SB_ESHUTDOWN, "client and core agree on SB_ESHUTDOWN");
_Static_assert(SB_ERR_FULL == SB_EFULL, "client and core agree on SB_EFULL");
_Static_assert(SB_ERR_CONFIG == SB_ECONFIG, "client and core agree on SB_ECONFIG");
_Static_assert(SB_ERR_UNKNOWN_TOPIC ==
                   SB_ERR_WIRE(SB_WIRE_ERROR_UNKNOWN_TOPIC_OR_PARTITION), "wire codes");
_Static_assert(SB_ERR_OUT_OF_ORDER ==
                   SB_ERR_WIRE(SB_WIRE_ERROR_OUT_OF_ORDER_SEQUENCE_NUMBER), "wire codes");
_Static_assert(SB_ERR_PRODUCER_FENCED == SB_ERR_WIRE(SB_WIRE_ERROR_INVALID_PRODUCER_EPOCH),
               "wire codes");
_Static_assert(SB_ERR_GROUP_NOT_FOUND == SB_ERR_WIRE(SB_WIRE_ERROR_GROUP_ID_NOT_FOUND),
               "wire codes");
_Static_assert(SB_ERR_INVALID_GROUP_ID == SB_ERR_WIRE(SB_WIRE_ERROR_INVALID_GROUP_ID),
               "wire codes");
_Static_assert(SB_ERR_NON_EMPTY_GROUP == SB_ERR_WIRE(SB_WIRE_ERROR_NON_EMPTY_GROUP),
               "wire codes");
_Static_assert(SB_ERR_COORDINATOR_LOADING ==
                   SB_ERR_WIRE(SB_WIRE_ERROR_COORDINATOR_LOAD_IN_PROGRESS), "wire codes");
_Static_assert(SB_ERR_NOT_COORDINATOR == SB_ERR_WIRE(SB_WIRE_ERROR_NOT_COORDINATOR),
               "wire codes");

/* Largest wire code we map (int16 on the wire). */
#define CLIENT_WIRE_CODE_MAX 32767

static _Thread_local char client_detail[CLIENT_DETAIL_BYTES];

/* Human text for the broker's wire errors, by code; NULL falls back to the wire name. */
static const char *const client_wire_text[SB_WIRE_ERROR_COUNT] = {
    [SB_WIRE_ERROR_UNKNOWN_SERVER_ERROR] = "broker: unexpected server error",
    [SB_WIRE_ERROR_CORRUPT_FRAME] = "broker: corrupt frame",
    [SB_WIRE_ERROR_UNSUPPORTED_VERSION] = "broker: unsupported API version",
    [SB_WIRE_ERROR_UNKNOWN_API] = "broker: unknown API",
    [SB_WIRE_ERROR_REQUEST_TOO_LARGE] = "broker: request too large",
    [SB_WIRE_ERROR_INVALID_REQUEST] = "broker: invalid request",
    [SB_WIRE_ERROR_UNKNOWN_TOPIC_OR_PARTITION] = "unknown topic or partition",
    [SB_WIRE_ERROR_TOPIC_ALREADY_EXISTS] = "topic already exists",
    [SB_WIRE_ERROR_INVALID_TOPIC_NAME] = "invalid topic name",
    [SB_WIRE_ERROR_INVALID_PARTITIONS] = "invalid partition count",
    [SB_WIRE_ERROR_INVALID_REPLICATION_FACTOR] = "invalid replication factor",
    [SB_WIRE_ERROR_INVALID_CONFIG] = "invalid topic config",
    [SB_WIRE_ERROR_OFFSET_OUT_OF_RANGE] = "offset out of range",
    [SB_WIRE_ERROR_CORRUPT_MESSAGE] = "corrupt record batch",
    [SB_WIRE_ERROR_MESSAGE_TOO_LARGE] = "message too large",
    [SB_WIRE_ERROR_RECORD_LIST_TOO_LARGE] = "record list too large",
    [SB_WIRE_ERROR_INVALID_RECORD] = "invalid record",
    [SB_WIRE_ERROR_NOT_LEADER_OR_FOLLOWER] = "broker is not the partition's leader",
    [SB_WIRE_ERROR_WRONG_SHARD] = "wrong shard for the partition",
    [SB_WIRE_ERROR_REQUEST_TIMED_OUT] = "broker: request timed out",
    [SB_WIRE_ERROR_NOT_ENOUGH_REPLICAS] = "not enough in-sync replicas",
    [SB_WIRE_ERROR_STORAGE_ERROR] = "broker: storage error",
    [SB_WIRE_ERROR_DISK_FULL] = "broker: disk full",
    [SB_WIRE_ERROR_THROTTLED] = "throttled by quota",
    [SB_WIRE_ERROR_BROKER_BUSY] = "broker busy (back-pressure)",
    [SB_WIRE_ERROR_OUT_OF_ORDER_SEQUENCE_NUMBER] = "out-of-order producer sequence",
    [SB_WIRE_ERROR_DUPLICATE_SEQUENCE_NUMBER] = "duplicate producer sequence",
    [SB_WIRE_ERROR_INVALID_PRODUCER_EPOCH] = "producer fenced by a newer epoch",
    [SB_WIRE_ERROR_UNKNOWN_PRODUCER_ID] = "unknown producer id",
    [SB_WIRE_ERROR_INVALID_PRODUCER_ID_MAPPING] = "invalid producer id mapping",
    [SB_WIRE_ERROR_DATA_FENCED] = "partition fenced after corruption",
    [SB_WIRE_ERROR_SHUTTING_DOWN] = "broker shutting down",
    [SB_WIRE_ERROR_TOO_MANY_CONNECTIONS] = "broker: too many connections",
    [SB_WIRE_ERROR_TOO_MANY_IN_FLIGHT_REQUESTS] = "broker: too many requests in flight",
    [SB_WIRE_ERROR_POLICY_VIOLATION] = "refused by broker policy",
    [SB_WIRE_ERROR_INVALID_TIMESTAMP] = "invalid record timestamp",
    [SB_WIRE_ERROR_UNSUPPORTED_COMPRESSION] = "unsupported compression codec",
    [SB_WIRE_ERROR_UNKNOWN_TOPIC_ID] = "the topic was deleted or created again",
    [SB_WIRE_ERROR_GROUP_ID_NOT_FOUND] = "no such group",
    [SB_WIRE_ERROR_INVALID_GROUP_ID] = "invalid group id",
    [SB_WIRE_ERROR_UNKNOWN_MEMBER_ID] = "unknown group member",
    [SB_WIRE_ERROR_FENCED_MEMBER_EPOCH] = "group member fenced (stale epoch)",
    [SB_WIRE_ERROR_STALE_MEMBER_EPOCH] = "group member epoch is stale",
    [SB_WIRE_ERROR_NON_EMPTY_GROUP] = "the group has active members",
    [SB_WIRE_ERROR_GROUP_MAX_SIZE_REACHED] = "the group is full",
    [SB_WIRE_ERROR_UNRELEASED_INSTANCE_ID] = "the instance id is held by another member",
    [SB_WIRE_ERROR_COORDINATOR_LOAD_IN_PROGRESS] = "group coordinator still loading",
    [SB_WIRE_ERROR_NOT_COORDINATOR] = "not the group's coordinator",
    [SB_WIRE_ERROR_UNSUPPORTED_ASSIGNOR] = "unsupported group assignor",
    [SB_WIRE_ERROR_INVALID_REGULAR_EXPRESSION] = "invalid subscription pattern",
    [SB_WIRE_ERROR_OFFSET_METADATA_TOO_LARGE] = "commit metadata too large",
};

const char *
sb_client_strerror(int code)
{
    switch (code) {
    case SB_ERR_PROTOCOL:
        return "protocol error: unexpected answer from the broker";
    case SB_ERR_NOT_ASSIGNED:
        return "partition not assigned to this consumer";
    case SB_ERR_NO_OFFSET:
        return "no committed offset for the partition (auto.offset.reset=error)";
    case SB_ERR_NO_GROUP:
        return "the consumer has no group.id";
    case SB_ERR_FULL:
        return "producer buffer full (back-pressure)";
    case SB_ERR_SHUTDOWN:
        return "client shutting down";
    case -ETIMEDOUT:
        return "timed out";
    default:
        break;
    }
    int wire = client_error_wire_code(code);
    if (wire >= 0) {
        if (wire < SB_WIRE_ERROR_COUNT && client_wire_text[wire] != NULL) {
            return client_wire_text[wire];
        }
        return "broker: unknown error code";
    }
    return sb_strerror(code);
}

bool
sb_client_error_is_retriable(int code)
{
    int wire = client_error_wire_code(code);
    if (wire >= 0) {
        return sb_wire_error_retriable(wire);
    }
    switch (code) {
    case -ETIMEDOUT:
    case -ECONNREFUSED:
    case -ECONNRESET:
    case -ECONNABORTED:
    case -EPIPE:
    case -ENOTCONN:
    case -EHOSTUNREACH:
    case -ENETUNREACH:
    case -EAGAIN:
    case SB_ERR_FULL:
    case SB_ERR_CORRUPT:
        return true;
    default:
        return false;
    }
}

const char *
sb_client_error_detail(void)
{
    return client_detail;
}

const char *
sb_client_version(void)
{
    return SB_VERSION;
}

int
client_error_from_wire(int code)
{
    if (code <= 0 || code > CLIENT_WIRE_CODE_MAX) {
        /* Negative codes are not defined: report them as an unknown broker error. */
        return code == 0 ? 0 : SB_ERR_WIRE(SB_WIRE_ERROR_UNKNOWN_SERVER_ERROR);
    }
    return SB_ERR_WIRE(code);
}

int
client_error_wire_code(int error)
{
    if (error > SB_ERR_WIRE_BASE || error < SB_ERR_WIRE(CLIENT_WIRE_CODE_MAX)) {
        return -1;
    }
    return SB_ERR_WIRE_BASE - error;
}

void
client_detail_set(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    vsnprintf(client_detail, sizeof(client_detail), format, args);
    va_end(args);
}

void
client_detail_clear(void)
{
    client_detail[0] = '\0';
}
