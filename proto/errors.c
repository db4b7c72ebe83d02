/*
 * proto/errors.c - names and retry classes of the wire error codes
 * (proto/errors.h). One table, indexed by code, mirrors the error table of
 * docs/protocol.md; test/proto/test_wire.c checks that every code has a
 * distinct name.
 */
#include "proto/errors.h"

#include <assert.h>
#include <stddef.h>

#include "core/base.h"

/* One row of the error table. */
struct wire_error_row {
    const char *name; /* The documented name, without the SB_WIRE_ERROR_ prefix. */
    bool retriable;   /* Resending later may succeed. */
};

static const struct wire_error_row wire_error_rows[] = {
    [SB_WIRE_ERROR_NONE] = {"NONE", false},
    [SB_WIRE_ERROR_UNKNOWN_SERVER_ERROR] = {"UNKNOWN_SERVER_ERROR", false},
    [SB_WIRE_ERROR_CORRUPT_FRAME] = {"CORRUPT_FRAME", true},
    [SB_WIRE_ERROR_UNSUPPORTED_VERSION] = {"UNSUPPORTED_VERSION", false},
    [SB_WIRE_ERROR_UNKNOWN_API] = {"UNKNOWN_API", false},
    [SB_WIRE_ERROR_REQUEST_TOO_LARGE] = {"REQUEST_TOO_LARGE", false},
    [SB_WIRE_ERROR_INVALID_REQUEST] = {"INVALID_REQUEST", false},
    [SB_WIRE_ERROR_UNKNOWN_TOPIC_OR_PARTITION] = {"UNKNOWN_TOPIC_OR_PARTITION", true},
    [SB_WIRE_ERROR_TOPIC_ALREADY_EXISTS] = {"TOPIC_ALREADY_EXISTS", false},
    [SB_WIRE_ERROR_INVALID_TOPIC_NAME] = {"INVALID_TOPIC_NAME", false},
    [SB_WIRE_ERROR_INVALID_PARTITIONS] = {"INVALID_PARTITIONS", false},
    [SB_WIRE_ERROR_INVALID_REPLICATION_FACTOR] = {"INVALID_REPLICATION_FACTOR", false},
    [SB_WIRE_ERROR_INVALID_CONFIG] = {"INVALID_CONFIG", false},
    [SB_WIRE_ERROR_OFFSET_OUT_OF_RANGE] = {"OFFSET_OUT_OF_RANGE", false},
    [SB_WIRE_ERROR_CORRUPT_MESSAGE] = {"CORRUPT_MESSAGE", true},
    [SB_WIRE_ERROR_MESSAGE_TOO_LARGE] = {"MESSAGE_TOO_LARGE", false},
    [SB_WIRE_ERROR_RECORD_LIST_TOO_LARGE] = {"RECORD_LIST_TOO_LARGE", false},
    [SB_WIRE_ERROR_INVALID_RECORD] = {"INVALID_RECORD", false},
    [SB_WIRE_ERROR_NOT_LEADER_OR_FOLLOWER] = {"NOT_LEADER_OR_FOLLOWER", true},
    [SB_WIRE_ERROR_WRONG_SHARD] = {"WRONG_SHARD", true},
    [SB_WIRE_ERROR_REQUEST_TIMED_OUT] = {"REQUEST_TIMED_OUT", true},
    [SB_WIRE_ERROR_NOT_ENOUGH_REPLICAS] = {"NOT_ENOUGH_REPLICAS", true},
    [SB_WIRE_ERROR_STORAGE_ERROR] = {"STORAGE_ERROR", true},
    [SB_WIRE_ERROR_DISK_FULL] = {"DISK_FULL", true},
    [SB_WIRE_ERROR_THROTTLED] = {"THROTTLED", true},
    [SB_WIRE_ERROR_BROKER_BUSY] = {"BROKER_BUSY", true},
    [SB_WIRE_ERROR_OUT_OF_ORDER_SEQUENCE_NUMBER] = {"OUT_OF_ORDER_SEQUENCE_NUMBER", false},
    [SB_WIRE_ERROR_DUPLICATE_SEQUENCE_NUMBER] = {"DUPLICATE_SEQUENCE_NUMBER", false},
    [SB_WIRE_ERROR_INVALID_PRODUCER_EPOCH] = {"INVALID_PRODUCER_EPOCH", false},
    [SB_WIRE_ERROR_UNKNOWN_PRODUCER_ID] = {"UNKNOWN_PRODUCER_ID", false},
    [SB_WIRE_ERROR_INVALID_PRODUCER_ID_MAPPING] = {"INVALID_PRODUCER_ID_MAPPING", false},
    [SB_WIRE_ERROR_DATA_FENCED] = {"DATA_FENCED", false},
    [SB_WIRE_ERROR_SHUTTING_DOWN] = {"SHUTTING_DOWN", true},
    [SB_WIRE_ERROR_TOO_MANY_CONNECTIONS] = {"TOO_MANY_CONNECTIONS", true},
    [SB_WIRE_ERROR_TOO_MANY_IN_FLIGHT_REQUESTS] = {"TOO_MANY_IN_FLIGHT_REQUESTS", true},
    [SB_WIRE_ERROR_POLICY_VIOLATION] = {"POLICY_VIOLATION", false},
    [SB_WIRE_ERROR_INVALID_TIMESTAMP] = {"INVALID_TIMESTAMP", false},
    [SB_WIRE_ERROR_UNSUPPORTED_COMPRESSION] = {"UNSUPPORTED_COMPRESSION", false},
    [SB_WIRE_ERROR_UNKNOWN_TOPIC_ID] = {"UNKNOWN_TOPIC_ID", true},
    [SB_WIRE_ERROR_GROUP_ID_NOT_FOUND] = {"GROUP_ID_NOT_FOUND", false},
    [SB_WIRE_ERROR_INVALID_GROUP_ID] = {"INVALID_GROUP_ID", false},
    [SB_WIRE_ERROR_UNKNOWN_MEMBER_ID] = {"UNKNOWN_MEMBER_ID", false},
    [SB_WIRE_ERROR_FENCED_MEMBER_EPOCH] = {"FENCED_MEMBER_EPOCH", false},
    [SB_WIRE_ERROR_STALE_MEMBER_EPOCH] = {"STALE_MEMBER_EPOCH", true},
    [SB_WIRE_ERROR_NON_EMPTY_GROUP] = {"NON_EMPTY_GROUP", false},
    [SB_WIRE_ERROR_GROUP_MAX_SIZE_REACHED] = {"GROUP_MAX_SIZE_REACHED", false},
    [SB_WIRE_ERROR_UNRELEASED_INSTANCE_ID] = {"UNRELEASED_INSTANCE_ID", false},
    [SB_WIRE_ERROR_COORDINATOR_LOAD_IN_PROGRESS] = {"COORDINATOR_LOAD_IN_PROGRESS", true},
    [SB_WIRE_ERROR_NOT_COORDINATOR] = {"NOT_COORDINATOR", true},
    [SB_WIRE_ERROR_UNSUPPORTED_ASSIGNOR] = {"UNSUPPORTED_ASSIGNOR", false},
    [SB_WIRE_ERROR_INVALID_REGULAR_EXPRESSION] = {"INVALID_REGULAR_EXPRESSION", false},
    [SB_WIRE_ERROR_OFFSET_METADATA_TOO_LARGE] = {"OFFSET_METADATA_TOO_LARGE", false},
};

static_assert(SB_ARRAY_COUNT(wire_error_rows) == SB_WIRE_ERROR_COUNT, "one row per code");

bool
sb_wire_error_is_known(int code)
{
    return code >= 0 && code < SB_WIRE_ERROR_COUNT;
}

const char *
sb_wire_error_name(int code)
{
    return sb_wire_error_is_known(code) ? wire_error_rows[code].name : "UNKNOWN";
}

bool
sb_wire_error_retriable(int code)
{
    return sb_wire_error_is_known(code) && wire_error_rows[code].retriable;
}
