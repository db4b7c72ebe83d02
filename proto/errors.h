/*
 * proto/errors.h - the error codes of the native protocol (docs/protocol.md,
 * "Error codes"). They are data: int16 values in frame headers and response
 * bodies, never function return values (those are -errno / SB_E*, see
 * core/error.h). Values are part of the wire format and never change; new
 * codes are only appended.
 */
#ifndef SB_PROTO_ERRORS_H
#define SB_PROTO_ERRORS_H

#include <stdbool.h>
#include <stdint.h>

/* One row per code of the table in docs/protocol.md. */
enum sb_wire_error {
    SB_WIRE_ERROR_NONE = 0,
    SB_WIRE_ERROR_UNKNOWN_SERVER_ERROR = 1,
    SB_WIRE_ERROR_CORRUPT_FRAME = 2,
    SB_WIRE_ERROR_UNSUPPORTED_VERSION = 3,
    SB_WIRE_ERROR_UNKNOWN_API = 4,
    SB_WIRE_ERROR_REQUEST_TOO_LARGE = 5,
    SB_WIRE_ERROR_INVALID_REQUEST = 6,
    SB_WIRE_ERROR_UNKNOWN_TOPIC_OR_PARTITION = 7,
    SB_WIRE_ERROR_TOPIC_ALREADY_EXISTS = 8,
    SB_WIRE_ERROR_INVALID_TOPIC_NAME = 9,
    SB_WIRE_ERROR_INVALID_PARTITIONS = 10,
    SB_WIRE_ERROR_INVALID_REPLICATION_FACTOR = 11,
    SB_WIRE_ERROR_INVALID_CONFIG = 12,
    SB_WIRE_ERROR_OFFSET_OUT_OF_RANGE = 13,
    SB_WIRE_ERROR_CORRUPT_MESSAGE = 14,
    SB_WIRE_ERROR_MESSAGE_TOO_LARGE = 15,
    SB_WIRE_ERROR_RECORD_LIST_TOO_LARGE = 16,
    SB_WIRE_ERROR_INVALID_RECORD = 17,
    SB_WIRE_ERROR_NOT_LEADER_OR_FOLLOWER = 18,
    SB_WIRE_ERROR_WRONG_SHARD = 19,
    SB_WIRE_ERROR_REQUEST_TIMED_OUT = 20,
    SB_WIRE_ERROR_NOT_ENOUGH_REPLICAS = 21,
    SB_WIRE_ERROR_STORAGE_ERROR = 22,
    SB_WIRE_ERROR_DISK_FULL = 23,
    SB_WIRE_ERROR_THROTTLED = 24,
    SB_WIRE_ERROR_BROKER_BUSY = 25,
    SB_WIRE_ERROR_OUT_OF_ORDER_SEQUENCE_NUMBER = 26,
    SB_WIRE_ERROR_DUPLICATE_SEQUENCE_NUMBER = 27,
    SB_WIRE_ERROR_INVALID_PRODUCER_EPOCH = 28,
    SB_WIRE_ERROR_UNKNOWN_PRODUCER_ID = 29,
    SB_WIRE_ERROR_INVALID_PRODUCER_ID_MAPPING = 30,
    SB_WIRE_ERROR_DATA_FENCED = 31,
    SB_WIRE_ERROR_SHUTTING_DOWN = 32,
    SB_WIRE_ERROR_TOO_MANY_CONNECTIONS = 33,
    SB_WIRE_ERROR_TOO_MANY_IN_FLIGHT_REQUESTS = 34,
    SB_WIRE_ERROR_POLICY_VIOLATION = 35,
    SB_WIRE_ERROR_INVALID_TIMESTAMP = 36,
    SB_WIRE_ERROR_UNSUPPORTED_COMPRESSION = 37,
    SB_WIRE_ERROR_UNKNOWN_TOPIC_ID = 38,
    SB_WIRE_ERROR_GROUP_ID_NOT_FOUND = 39,
    SB_WIRE_ERROR_INVALID_GROUP_ID = 40,
    SB_WIRE_ERROR_UNKNOWN_MEMBER_ID = 41,
    SB_WIRE_ERROR_FENCED_MEMBER_EPOCH = 42,
    SB_WIRE_ERROR_STALE_MEMBER_EPOCH = 43,
    SB_WIRE_ERROR_NON_EMPTY_GROUP = 44,
    SB_WIRE_ERROR_GROUP_MAX_SIZE_REACHED = 45,
    SB_WIRE_ERROR_UNRELEASED_INSTANCE_ID = 46,
    SB_WIRE_ERROR_COORDINATOR_LOAD_IN_PROGRESS = 47,
    SB_WIRE_ERROR_NOT_COORDINATOR = 48,
    SB_WIRE_ERROR_UNSUPPORTED_ASSIGNOR = 49,
    SB_WIRE_ERROR_INVALID_REGULAR_EXPRESSION = 50,
    SB_WIRE_ERROR_OFFSET_METADATA_TOO_LARGE = 51,
};

/* Number of defined codes: 0 .. SB_WIRE_ERROR_COUNT - 1. */
#define SB_WIRE_ERROR_COUNT 52

/* True for the defined codes. A peer may send others (a newer broker): keep them as data. */
bool sb_wire_error_is_known(int code);

/* The code's name as in docs/protocol.md ("NONE", "CORRUPT_FRAME", ...), or "UNKNOWN" for
 * an undefined code. Never NULL; static storage. */
const char *sb_wire_error_name(int code);

/* True when resending the same request later may succeed (the table's "retriable" column).
 * False for NONE and for undefined codes, which a client must not retry blindly. */
bool sb_wire_error_retriable(int code);

#endif /* SB_PROTO_ERRORS_H */
