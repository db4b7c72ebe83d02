/*
 * test/proto/test_fixtures.c - every API body against bytes written by hand
 * from the tables of docs/protocol.md, not produced by the encoder. The
 * round-trip suites (test_api_*.c) feed each decoder what its own encoder
 * wrote, so a mistake made the same way on both sides (two fields swapped,
 * a wrong width, a nullable string read as plain) passes them; here each
 * body is encoded from a known struct and compared with the fixture byte
 * for byte, and the fixture is decoded and every field, every array element
 * and every array end compared with the struct.
 *
 * How the fixtures are written: one line per field in table order, its
 * little-endian bytes and a comment naming the field; values are chosen so
 * that no two neighbouring fields of one width hold the same bytes (a swap
 * shows), not always a combination a broker would send: the codecs check
 * layout, not meaning. A fixture changes only with docs/protocol.md. Three
 * frame fixtures add what the header example of the doc leaves at zero
 * (api_version, both flag bits, error_code) and a body behind the header.
 * The record batch that Produce and Fetch carry gets the same treatment from
 * the tables of docs/record-batch.md: the builder's bytes, the decoded
 * header and every record and header field, and the broker's offset
 * rewrite. CRCs were computed by hand (a bitwise CRC32C, checked against the
 * doc's frame example first) and are also checked here with core/crc32c.h.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "core/crc32c.h"
#include "core/error.h"
#include "proto/api_admin.h"
#include "proto/api_fetch.h"
#include "proto/api_meta.h"
#include "proto/api_produce.h"
#include "proto/api_producer.h"
#include "proto/batch.h"
#include "proto/wire.h"
#include "test/proto/wire_fixture.h"

static uint8_t output[4096];

/* A writer over output. */
static struct sb_wire_writer
fixture_writer(void)
{
    struct sb_wire_writer writer;
    sb_wire_writer_init(&writer, output, sizeof(output));
    return writer;
}

/* Asserts that bytes holds exactly want. */
static void
assert_bytes(struct sb_wire_bytes got, struct sb_wire_bytes want, const char *what)
{
    cr_assert_not_null(got.data, "%s", what);
    cr_assert_eq(got.length, want.length, "%s: length %u, expected %u", what, got.length,
                 want.length);
    cr_assert_arr_eq(got.data, want.data, want.length, "%s", what);
}

/* ---------------------------------------------------------------- frames */

/* An error response frame: every header field nonzero where the doc's example has zero. */
static const uint8_t error_response_frame_bytes[] = {
    0x14, 0x00, 0x00, 0x00, /* frame_bytes 20: the header rest, empty body */
    0x8a, 0xad, 0x2b, 0x4e, /* crc32c 0x4E2BAD8A of bytes [8, 24) */
    0x03, 0x00,             /* api_key 3 (Fetch) */
    0x07, 0x00,             /* api_version 7 */
    0x0d, 0x0c, 0x0b, 0x0a, /* correlation_id 0x0A0B0C0D */
    0x01, 0x00,             /* flags: bit 0, response */
    0x03, 0x00,             /* error_code 3 UNSUPPORTED_VERSION */
    0x00, 0x00, 0x00, 0x00, /* reserved */
};

Test(fixtures, error_response_frame)
{
    struct sb_wire_writer writer = fixture_writer();
    struct sb_frame_header request = {
        .api_key = SB_API_FETCH, .api_version = 7, .correlation_id = 0x0A0B0C0Du,
    };
    int error = sb_frame_error_response_encode(&writer, &request,
                                               SB_WIRE_ERROR_UNSUPPORTED_VERSION);
    fixture_assert_encoded(&writer, error, error_response_frame_bytes,
                           sizeof(error_response_frame_bytes), "error response frame");
    cr_assert_eq(sb_crc32c(0, error_response_frame_bytes + 8, 16), 0x4E2BAD8Au);
    struct sb_frame frame;
    cr_assert_eq(sb_frame_decode(error_response_frame_bytes, sizeof(error_response_frame_bytes),
                                 1u << 20, &frame), 0);
    cr_assert_eq(frame.header.frame_bytes, 20);
    cr_assert_eq(frame.header.crc32c, 0x4E2BAD8Au);
    cr_assert_eq(frame.header.api_key, SB_API_FETCH);
    cr_assert_eq(frame.header.api_version, 7);
    cr_assert_eq(frame.header.correlation_id, 0x0A0B0C0Du);
    cr_assert_eq(frame.header.flags, SB_FRAME_FLAG_RESPONSE);
    cr_assert_eq(frame.header.error_code, SB_WIRE_ERROR_UNSUPPORTED_VERSION);
    cr_assert_eq(frame.body_bytes, 0);
}

/* A request frame with a body: DescribeTopic "orders", correlation id 0x01020304. */
static const uint8_t describe_topic_frame_bytes[] = {
    0x1c, 0x00, 0x00, 0x00,                   /* frame_bytes 28 = 20 + 8 body bytes */
    0x23, 0xf6, 0xe7, 0x41,                   /* crc32c 0x41E7F623 of bytes [8, 32) */
    0x09, 0x00,                               /* api_key 9 (DescribeTopic) */
    0x00, 0x00,                               /* api_version 0 */
    0x04, 0x03, 0x02, 0x01,                   /* correlation_id 0x01020304 */
    0x00, 0x00,                               /* flags 0 */
    0x00, 0x00,                               /* error_code 0 */
    0x00, 0x00, 0x00, 0x00,                   /* reserved */
    0x06, 0x00, 'o', 'r', 'd', 'e', 'r', 's', /* body: name "orders" */
};

Test(fixtures, request_frame_with_a_body)
{
    struct sb_wire_writer writer = fixture_writer();
    struct sb_frame_header header = {
        .api_key = SB_API_DESCRIBE_TOPIC, .correlation_id = 0x01020304u,
    };
    struct sb_describe_topic_request request = {.name = {"orders", 6}};
    sb_frame_begin(&writer, &header);
    sb_describe_topic_request_encode(&writer, &request);
    int error = sb_frame_finish(&writer);
    fixture_assert_encoded(&writer, error, describe_topic_frame_bytes,
                           sizeof(describe_topic_frame_bytes), "DescribeTopic request frame");
    cr_assert_eq(sb_crc32c(0, describe_topic_frame_bytes + 8, 24), 0x41E7F623u);
    struct sb_frame frame;
    cr_assert_eq(sb_frame_decode(describe_topic_frame_bytes, sizeof(describe_topic_frame_bytes),
                                 1u << 20, &frame), 0);
    cr_assert_eq(frame.header.frame_bytes, 28);
    cr_assert_eq(frame.header.api_key, SB_API_DESCRIBE_TOPIC);
    cr_assert_eq(frame.header.api_version, 0);
    cr_assert_eq(frame.header.correlation_id, 0x01020304u);
    cr_assert_eq(frame.header.flags, 0);
    cr_assert_eq(frame.header.error_code, 0);
    cr_assert_eq(frame.body, describe_topic_frame_bytes + 24);
    cr_assert_eq(frame.body_bytes, 8);
}

/* A Produce request with acks=0: flag bit 1, "expects no response". */
static const uint8_t produce_acks_none_frame_bytes[] = {
    0x20, 0x00, 0x00, 0x00, /* frame_bytes 32 = 20 + 12 body bytes */
    0x41, 0x6f, 0xff, 0xb7, /* crc32c 0xB7FF6F41 of bytes [8, 36) */
    0x02, 0x00,             /* api_key 2 (Produce) */
    0x00, 0x00,             /* api_version 0 */
    0x08, 0x07, 0x06, 0x05, /* correlation_id 0x05060708 */
    0x02, 0x00,             /* flags: bit 1, no response */
    0x00, 0x00,             /* error_code 0 */
    0x00, 0x00, 0x00, 0x00, /* reserved */
    0x00, 0x00,             /* body: acks 0 */
    0xe8, 0x03, 0x00, 0x00, /* timeout_ms 1000 */
    0xff, 0xff,             /* transactional_id: null */
    0x00, 0x00, 0x00, 0x00, /* topics: count 0 */
};

Test(fixtures, request_frame_expecting_no_response)
{
    struct sb_wire_writer writer = fixture_writer();
    struct sb_frame_header header = {
        .api_key = SB_API_PRODUCE, .correlation_id = 0x05060708u,
        .flags = SB_FRAME_FLAG_NO_RESPONSE,
    };
    struct sb_produce_request request = {
        .acks = SB_PRODUCE_ACKS_NONE, .timeout_ms = 1000, .transactional_id = {NULL, 0},
    };
    sb_frame_begin(&writer, &header);
    sb_produce_request_encode(&writer, &request);
    int error = sb_frame_finish(&writer);
    fixture_assert_encoded(&writer, error, produce_acks_none_frame_bytes,
                           sizeof(produce_acks_none_frame_bytes), "Produce acks=0 frame");
    cr_assert_eq(sb_crc32c(0, produce_acks_none_frame_bytes + 8, 28), 0xB7FF6F41u);
    struct sb_frame frame;
    cr_assert_eq(sb_frame_decode(produce_acks_none_frame_bytes,
                                 sizeof(produce_acks_none_frame_bytes), 1u << 20, &frame), 0);
    cr_assert_eq(frame.header.frame_bytes, 32);
    cr_assert_eq(frame.header.api_key, SB_API_PRODUCE);
    cr_assert_eq(frame.header.correlation_id, 0x05060708u);
    cr_assert_eq(frame.header.flags, SB_FRAME_FLAG_NO_RESPONSE);
    cr_assert_not(sb_frame_header_is_response(&frame.header));
    cr_assert_eq(frame.body_bytes, 12);
}

/* ------------------------------------------------ ApiVersions (0), Health (11) */

Test(fixtures, empty_request_bodies)
{
    struct sb_wire_writer writer = fixture_writer();
    fixture_assert_encoded(&writer, sb_api_versions_request_encode(&writer), NULL, 0,
                           "ApiVersions request");
    cr_assert_eq(sb_api_versions_request_decode(output, 0), 0);
    writer = fixture_writer();
    fixture_assert_encoded(&writer, sb_health_request_encode(&writer), NULL, 0, "Health request");
    cr_assert_eq(sb_health_request_decode(output, 0), 0);
}

static const uint8_t api_versions_response_bytes[] = {
    0x02, 0x00, 0x00, 0x00,                 /* apis: count 2 */
    0x02, 0x00,                             /* · api_key 2 */
    0x01, 0x00,                             /* · min_version 1 */
    0x03, 0x00,                             /* · max_version 3 */
    0x0b, 0x00,                             /* · api_key 11 */
    0x04, 0x00,                             /* · min_version 4 */
    0x05, 0x00,                             /* · max_version 5 */
    0x05, 0x00, '0', '.', '1', '.', '0',    /* broker_version "0.1.0" */
    0x00, 0x00, 0x00, 0x01,                 /* frame_bytes_max 16 MiB */
    0x00, 0x00, 0x10, 0x00,                 /* batch_bytes_max 1 MiB */
};

static const struct sb_api_version_range api_version_ranges[] = {
    {.api_key = 2, .min_version = 1, .max_version = 3},
    {.api_key = 11, .min_version = 4, .max_version = 5},
};

Test(fixtures, api_versions_response)
{
    struct sb_api_versions_response response = {
        .apis = api_version_ranges, .api_count = 2,
        .broker_version = {"0.1.0", 5}, .frame_bytes_max = 16u << 20,
        .batch_bytes_max = 1u << 20,
    };
    struct sb_wire_writer writer = fixture_writer();
    fixture_assert_encoded(&writer, sb_api_versions_response_encode(&writer, &response),
                           api_versions_response_bytes, sizeof(api_versions_response_bytes),
                           "ApiVersions response");
    struct sb_api_versions_response got;
    cr_assert_eq(sb_api_versions_response_decode(api_versions_response_bytes,
                                                 sizeof(api_versions_response_bytes), &got), 0);
    cr_assert_eq(got.api_count, 2);
    fixture_assert_string(got.broker_version, response.broker_version, "broker_version");
    cr_assert_eq(got.frame_bytes_max, 16u << 20);
    cr_assert_eq(got.batch_bytes_max, 1u << 20);
    struct sb_api_version_range range;
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(sb_api_versions_response_next_api(&got, &range), 1);
        cr_assert_eq(range.api_key, api_version_ranges[i].api_key);
        cr_assert_eq(range.min_version, api_version_ranges[i].min_version);
        cr_assert_eq(range.max_version, api_version_ranges[i].max_version);
    }
    cr_assert_eq(sb_api_versions_response_next_api(&got, &range), 0);
}

static const uint8_t health_response_bytes[] = {
    0x03,                                           /* status 3 degraded */
    0x07, 0x00, 0x00, 0x00,                         /* node_id 7 */
    0x15, 0xcd, 0x5b, 0x07, 0x00, 0x00, 0x00, 0x00, /* uptime_ms 123456789 */
    0x02, 0x00, 0x00, 0x00,                         /* shards: count 2 */
    0x00, 0x00, 0x00, 0x00,                         /* · shard_id 0 */
    0x00,                                           /* · status 0 serving */
    0x05, 0x00, 0x00, 0x00,                         /* · connections 5 */
    0x06, 0x00, 0x00, 0x00,                         /* · partitions 6 */
    0x01, 0x00, 0x00, 0x00,                         /* · shard_id 1 */
    0x03,                                           /* · status 3 degraded */
    0x00, 0x01, 0x00, 0x00,                         /* · connections 256 */
    0x09, 0x00, 0x00, 0x00,                         /* · partitions 9 */
};

static const struct sb_health_shard health_shards[] = {
    {.shard_id = 0, .status = SB_HEALTH_SERVING, .connections = 5, .partitions = 6},
    {.shard_id = 1, .status = SB_HEALTH_DEGRADED, .connections = 256, .partitions = 9},
};

Test(fixtures, health_response)
{
    struct sb_health_response response = {
        .status = SB_HEALTH_DEGRADED, .node_id = 7, .uptime_ms = 123456789,
        .shards = health_shards, .shard_count = 2,
    };
    struct sb_wire_writer writer = fixture_writer();
    fixture_assert_encoded(&writer, sb_health_response_encode(&writer, &response),
                           health_response_bytes, sizeof(health_response_bytes), "Health response");
    struct sb_health_response got;
    cr_assert_eq(sb_health_response_decode(health_response_bytes, sizeof(health_response_bytes),
                                           &got), 0);
    cr_assert_eq(got.status, SB_HEALTH_DEGRADED);
    cr_assert_eq(got.node_id, 7);
    cr_assert_eq(got.uptime_ms, 123456789);
    cr_assert_eq(got.shard_count, 2);
    struct sb_health_shard shard;
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(sb_health_response_next_shard(&got, &shard), 1);
        cr_assert_eq(shard.shard_id, health_shards[i].shard_id);
        cr_assert_eq(shard.status, health_shards[i].status);
        cr_assert_eq(shard.connections, health_shards[i].connections);
        cr_assert_eq(shard.partitions, health_shards[i].partitions);
    }
    cr_assert_eq(sb_health_response_next_shard(&got, &shard), 0);
}

/* ------------------------------------------------------------- Metadata (1) */

static const uint8_t metadata_request_bytes[] = {
    0x02, 0x00, 0x00, 0x00,                   /* topics: count 2 */
    0x06, 0x00, 'o', 'r', 'd', 'e', 'r', 's', /* · "orders" */
    0x00, 0x00,                               /* · "" */
};

static const uint8_t metadata_request_all_bytes[] = {
    0xff, 0xff, 0xff, 0xff, /* topics: null, every topic */
};

static const struct sb_wire_string metadata_names[] = {{"orders", 6}, {"", 0}};

Test(fixtures, metadata_request)
{
    struct sb_metadata_request request = {.topics = metadata_names, .topic_count = 2};
    struct sb_wire_writer writer = fixture_writer();
    fixture_assert_encoded(&writer, sb_metadata_request_encode(&writer, &request),
                           metadata_request_bytes, sizeof(metadata_request_bytes),
                           "Metadata request");
    struct sb_metadata_request got;
    cr_assert_eq(sb_metadata_request_decode(metadata_request_bytes,
                                            sizeof(metadata_request_bytes), &got), 0);
    cr_assert_not(got.all_topics);
    cr_assert_eq(got.topic_count, 2);
    struct sb_wire_string name;
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(sb_metadata_request_next_topic(&got, &name), 1);
        fixture_assert_string(name, metadata_names[i], "topics[]");
    }
    cr_assert_eq(sb_metadata_request_next_topic(&got, &name), 0);
}

Test(fixtures, metadata_request_for_every_topic)
{
    struct sb_metadata_request request = {.all_topics = true};
    struct sb_wire_writer writer = fixture_writer();
    fixture_assert_encoded(&writer, sb_metadata_request_encode(&writer, &request),
                           metadata_request_all_bytes, sizeof(metadata_request_all_bytes),
                           "Metadata request, all topics");
    struct sb_metadata_request got;
    cr_assert_eq(sb_metadata_request_decode(metadata_request_all_bytes,
                                            sizeof(metadata_request_all_bytes), &got), 0);
    cr_assert(got.all_topics);
    cr_assert_eq(got.topic_count, 0);
}

static const uint8_t metadata_response_bytes[] = {
    0x01, 0x00, 0x00, 0x00,                         /* brokers: count 1 */
    0x07, 0x00, 0x00, 0x00,                         /* · node_id 7 */
    0x08, 0x00, '1', '0', '.', '0', '.', '0', '.', '1', /* · host "10.0.0.1" */
    0x84, 0x23, 0x00, 0x00,                         /* · port 9092 */
    0x02, 0x00, 0x00, 0x00,                         /* · shards: count 2 */
    0x00, 0x00, 0x00, 0x00,                         /* · · shard_id 0 */
    0x85, 0x23, 0x00, 0x00,                         /* · · port 9093 */
    0x01, 0x00, 0x00, 0x00,                         /* · · shard_id 1 */
    0x86, 0x23, 0x00, 0x00,                         /* · · port 9094 */
    0x02, 0x00, 0x00, 0x00,                         /* topics: count 2 */
    0x00, 0x00,                                     /* · error_code 0 */
    0x06, 0x00, 'o', 'r', 'd', 'e', 'r', 's',       /* · name "orders" */
    0x44, 0x33, 0x22, 0x11,                         /* · topic_id 0x11223344 */
    0x02, 0x00, 0x00, 0x00,                         /* · partitions: count 2 */
    0x03, 0x00, 0x00, 0x00,                         /* · · partition 3 */
    0x07, 0x00, 0x00, 0x00,                         /* · · leader 7 */
    0x01, 0x00, 0x00, 0x00,                         /* · · shard 1 */
    0x00, 0x00,                                     /* · · error_code 0 */
    0x04, 0x00, 0x00, 0x00,                         /* · · partition 4 */
    0xff, 0xff, 0xff, 0xff,                         /* · · leader -1 */
    0xfe, 0xff, 0xff, 0xff,                         /* · · shard -2 */
    0x12, 0x00,                                     /* · · error_code 18 NOT_LEADER */
    0x07, 0x00,                                     /* · error_code 7 UNKNOWN_TOPIC */
    0x04, 0x00, 'g', 'o', 'n', 'e',                 /* · name "gone" */
    0x00, 0x00, 0x00, 0x00,                         /* · topic_id 0 */
    0x00, 0x00, 0x00, 0x00,                         /* · partitions: count 0 */
};

static const struct sb_metadata_shard metadata_shards[] = {{0, 9093}, {1, 9094}};
static const struct sb_metadata_broker metadata_brokers[] = {
    {.node_id = 7, .host = {"10.0.0.1", 8}, .port = 9092, .shards = metadata_shards,
     .shard_count = 2},
};
static const struct sb_metadata_partition metadata_partitions[] = {
    {.partition = 3, .leader = 7, .shard = 1, .error_code = SB_WIRE_ERROR_NONE},
    {.partition = 4, .leader = -1, .shard = -2,
     .error_code = SB_WIRE_ERROR_NOT_LEADER_OR_FOLLOWER},
};
static const struct sb_metadata_topic metadata_topics[] = {
    {.error_code = SB_WIRE_ERROR_NONE, .name = {"orders", 6}, .topic_id = 0x11223344u,
     .partitions = metadata_partitions, .partition_count = 2},
    {.error_code = SB_WIRE_ERROR_UNKNOWN_TOPIC_OR_PARTITION, .name = {"gone", 4}},
};

static void
assert_metadata_broker(struct sb_metadata_broker *got, const struct sb_metadata_broker *want)
{
    cr_assert_eq(got->node_id, want->node_id);
    fixture_assert_string(got->host, want->host, "host");
    cr_assert_eq(got->port, want->port);
    cr_assert_eq(got->shard_count, want->shard_count);
    struct sb_metadata_shard shard;
    for (uint32_t i = 0; i < want->shard_count; i++) {
        cr_assert_eq(sb_metadata_broker_next_shard(got, &shard), 1);
        cr_assert_eq(shard.shard_id, want->shards[i].shard_id);
        cr_assert_eq(shard.port, want->shards[i].port);
    }
    cr_assert_eq(sb_metadata_broker_next_shard(got, &shard), 0);
}

static void
assert_metadata_topic(struct sb_metadata_topic *got, const struct sb_metadata_topic *want)
{
    cr_assert_eq(got->error_code, want->error_code);
    fixture_assert_string(got->name, want->name, "name");
    cr_assert_eq(got->topic_id, want->topic_id);
    cr_assert_eq(got->partition_count, want->partition_count);
    struct sb_metadata_partition partition;
    for (uint32_t i = 0; i < want->partition_count; i++) {
        cr_assert_eq(sb_metadata_topic_next_partition(got, &partition), 1);
        cr_assert_eq(partition.partition, want->partitions[i].partition);
        cr_assert_eq(partition.leader, want->partitions[i].leader);
        cr_assert_eq(partition.shard, want->partitions[i].shard);
        cr_assert_eq(partition.error_code, want->partitions[i].error_code);
    }
    cr_assert_eq(sb_metadata_topic_next_partition(got, &partition), 0);
}

Test(fixtures, metadata_response)
{
    struct sb_metadata_response response = {
        .brokers = metadata_brokers, .broker_count = 1,
        .topics = metadata_topics, .topic_count = 2,
    };
    struct sb_wire_writer writer = fixture_writer();
    fixture_assert_encoded(&writer, sb_metadata_response_encode(&writer, &response),
                           metadata_response_bytes, sizeof(metadata_response_bytes),
                           "Metadata response");
    struct sb_metadata_response got;
    cr_assert_eq(sb_metadata_response_decode(metadata_response_bytes,
                                             sizeof(metadata_response_bytes), &got), 0);
    cr_assert_eq(got.broker_count, 1);
    cr_assert_eq(got.topic_count, 2);
    struct sb_metadata_broker broker;
    cr_assert_eq(sb_metadata_response_next_broker(&got, &broker), 1);
    assert_metadata_broker(&broker, &metadata_brokers[0]);
    cr_assert_eq(sb_metadata_response_next_broker(&got, &broker), 0);
    struct sb_metadata_topic topic;
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(sb_metadata_response_next_topic(&got, &topic), 1);
        assert_metadata_topic(&topic, &metadata_topics[i]);
    }
    cr_assert_eq(sb_metadata_response_next_topic(&got, &topic), 0);
}

/* -------------------------------------------------------------- Produce (2) */

static const uint8_t produce_request_bytes[] = {
    0xff, 0xff,                                     /* acks -1 */
    0x30, 0x75, 0x00, 0x00,                         /* timeout_ms 30000 */
    0xff, 0xff,                                     /* transactional_id: null */
    0x01, 0x00, 0x00, 0x00,                         /* topics: count 1 */
    0x06, 0x00, 'o', 'r', 'd', 'e', 'r', 's',       /* · name "orders" */
    0x02, 0x00, 0x00, 0x00,                         /* · partitions: count 2 */
    0x03, 0x00, 0x00, 0x00,                         /* · · partition 3 */
    0x03, 0x00, 0x00, 0x00, 0xaa, 0xbb, 0xcc,       /* · · records: 3 bytes */
    0x05, 0x00, 0x00, 0x00,                         /* · · partition 5 */
    0x00, 0x00, 0x00, 0x00,                         /* · · records: empty */
};

static const uint8_t produce_records[] = {0xaa, 0xbb, 0xcc};
static const struct sb_produce_partition produce_partitions[] = {
    {.partition = 3, .records = {produce_records, 3}},
    {.partition = 5, .records = {produce_records, 0}},
};

Test(fixtures, produce_request)
{
    struct sb_produce_topic topic = {
        .name = {"orders", 6}, .partitions = produce_partitions, .partition_count = 2,
    };
    struct sb_produce_request request = {
        .acks = SB_PRODUCE_ACKS_ALL, .timeout_ms = 30000, .topics = &topic, .topic_count = 1,
    };
    struct sb_wire_writer writer = fixture_writer();
    fixture_assert_encoded(&writer, sb_produce_request_encode(&writer, &request),
                           produce_request_bytes, sizeof(produce_request_bytes), "Produce request");
    struct sb_produce_request got;
    cr_assert_eq(sb_produce_request_decode(produce_request_bytes, sizeof(produce_request_bytes),
                                           &got), 0);
    cr_assert_eq(got.acks, SB_PRODUCE_ACKS_ALL);
    cr_assert_eq(got.timeout_ms, 30000);
    fixture_assert_string(got.transactional_id, (struct sb_wire_string){NULL, 0},
                          "transactional_id");
    cr_assert_eq(got.topic_count, 1);
    struct sb_produce_topic got_topic;
    cr_assert_eq(sb_produce_request_next_topic(&got, &got_topic), 1);
    fixture_assert_string(got_topic.name, topic.name, "name");
    cr_assert_eq(got_topic.partition_count, 2);
    struct sb_produce_partition partition;
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(sb_produce_topic_next_partition(&got_topic, &partition), 1);
        cr_assert_eq(partition.partition, produce_partitions[i].partition);
        assert_bytes(partition.records, produce_partitions[i].records, "records");
    }
    cr_assert_eq(sb_produce_topic_next_partition(&got_topic, &partition), 0);
    cr_assert_eq(sb_produce_request_next_topic(&got, &got_topic), 0);
}

static const uint8_t produce_response_bytes[] = {
    0x01, 0x00, 0x00, 0x00,                         /* topics: count 1 */
    0x06, 0x00, 'o', 'r', 'd', 'e', 'r', 's',       /* · name "orders" */
    0x02, 0x00, 0x00, 0x00,                         /* · partitions: count 2 */
    0x03, 0x00, 0x00, 0x00,                         /* · · partition 3 */
    0x00, 0x00,                                     /* · · error_code 0 */
    0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, /* · · base_offset 0x0102030405060708 */
    0x00, 0x68, 0xe5, 0xcf, 0x8b, 0x01, 0x00, 0x00, /* · · log_append_time_ms 1.7e12 */
    0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* · · log_start_offset 16 */
    0x05, 0x00, 0x00, 0x00,                         /* · · partition 5 */
    0x0f, 0x00,                                     /* · · error_code 15 MESSAGE_TOO_LARGE */
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* · · base_offset -1 */
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* · · log_append_time_ms -1 */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* · · log_start_offset 0 */
    0x64, 0x00, 0x00, 0x00,                         /* throttle_ms 100 */
};

static const struct sb_produce_partition_response produce_results[] = {
    {.partition = 3, .error_code = SB_WIRE_ERROR_NONE, .base_offset = 0x0102030405060708,
     .log_append_time_ms = 1700000000000, .log_start_offset = 16},
    {.partition = 5, .error_code = SB_WIRE_ERROR_MESSAGE_TOO_LARGE, .base_offset = -1,
     .log_append_time_ms = -1, .log_start_offset = 0},
};

Test(fixtures, produce_response)
{
    struct sb_produce_topic_response topic = {
        .name = {"orders", 6}, .partitions = produce_results, .partition_count = 2,
    };
    struct sb_produce_response response = {.topics = &topic, .topic_count = 1,
                                           .throttle_ms = 100};
    struct sb_wire_writer writer = fixture_writer();
    fixture_assert_encoded(&writer, sb_produce_response_encode(&writer, &response),
                           produce_response_bytes, sizeof(produce_response_bytes),
                           "Produce response");
    struct sb_produce_response got;
    cr_assert_eq(sb_produce_response_decode(produce_response_bytes,
                                            sizeof(produce_response_bytes), &got), 0);
    cr_assert_eq(got.throttle_ms, 100);
    cr_assert_eq(got.topic_count, 1);
    struct sb_produce_topic_response got_topic;
    cr_assert_eq(sb_produce_response_next_topic(&got, &got_topic), 1);
    fixture_assert_string(got_topic.name, topic.name, "name");
    cr_assert_eq(got_topic.partition_count, 2);
    struct sb_produce_partition_response partition;
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(sb_produce_topic_response_next_partition(&got_topic, &partition), 1);
        cr_assert_eq(partition.partition, produce_results[i].partition);
        cr_assert_eq(partition.error_code, produce_results[i].error_code);
        cr_assert_eq(partition.base_offset, produce_results[i].base_offset);
        cr_assert_eq(partition.log_append_time_ms, produce_results[i].log_append_time_ms);
        cr_assert_eq(partition.log_start_offset, produce_results[i].log_start_offset);
    }
    cr_assert_eq(sb_produce_topic_response_next_partition(&got_topic, &partition), 0);
    cr_assert_eq(sb_produce_response_next_topic(&got, &got_topic), 0);
}

/* ------------------------------------------------------- InitProducerId (5) */

static const uint8_t init_producer_id_request_bytes[] = {
    0x02, 0x00, 't', 'x',                           /* transactional_id "tx" */
    0x60, 0xea, 0x00, 0x00,                         /* transaction_timeout_ms 60000 */
    0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, /* producer_id 0x0102030405060708 */
    0x09, 0x00,                                     /* producer_epoch 9 */
};

static const uint8_t init_producer_id_request_new_bytes[] = {
    0xff, 0xff,                                     /* transactional_id: null */
    0x00, 0x00, 0x00, 0x00,                         /* transaction_timeout_ms 0 */
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* producer_id -1: a new producer */
    0xff, 0xff,                                     /* producer_epoch -1 */
};

static void
assert_init_producer_id_request(const uint8_t *bytes, size_t length,
                                const struct sb_init_producer_id_request *want)
{
    struct sb_wire_writer writer = fixture_writer();
    fixture_assert_encoded(&writer, sb_init_producer_id_request_encode(&writer, want), bytes,
                           length, "InitProducerId request");
    struct sb_init_producer_id_request got;
    cr_assert_eq(sb_init_producer_id_request_decode(bytes, length, &got), 0);
    fixture_assert_string(got.transactional_id, want->transactional_id, "transactional_id");
    cr_assert_eq(got.transaction_timeout_ms, want->transaction_timeout_ms);
    cr_assert_eq(got.producer_id, want->producer_id);
    cr_assert_eq(got.producer_epoch, want->producer_epoch);
}

Test(fixtures, init_producer_id_request)
{
    struct sb_init_producer_id_request bump = {
        .transactional_id = {"tx", 2}, .transaction_timeout_ms = 60000,
        .producer_id = 0x0102030405060708, .producer_epoch = 9,
    };
    assert_init_producer_id_request(init_producer_id_request_bytes,
                                    sizeof(init_producer_id_request_bytes), &bump);
    struct sb_init_producer_id_request new_producer = {
        .transactional_id = {NULL, 0}, .producer_id = -1, .producer_epoch = -1,
    };
    assert_init_producer_id_request(init_producer_id_request_new_bytes,
                                    sizeof(init_producer_id_request_new_bytes), &new_producer);
}

static const uint8_t init_producer_id_response_bytes[] = {
    0x1c, 0x00,                                     /* error_code 28 INVALID_PRODUCER_EPOCH */
    0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, /* producer_id 0x0102030405060708 */
    0x09, 0x00,                                     /* producer_epoch 9 */
};

Test(fixtures, init_producer_id_response)
{
    struct sb_init_producer_id_response response = {
        .error_code = SB_WIRE_ERROR_INVALID_PRODUCER_EPOCH,
        .producer_id = 0x0102030405060708, .producer_epoch = 9,
    };
    struct sb_wire_writer writer = fixture_writer();
    fixture_assert_encoded(&writer, sb_init_producer_id_response_encode(&writer, &response),
                           init_producer_id_response_bytes, sizeof(init_producer_id_response_bytes),
                           "InitProducerId response");
    struct sb_init_producer_id_response got;
    cr_assert_eq(sb_init_producer_id_response_decode(init_producer_id_response_bytes,
                                                     sizeof(init_producer_id_response_bytes),
                                                     &got), 0);
    cr_assert_eq(got.error_code, SB_WIRE_ERROR_INVALID_PRODUCER_EPOCH);
    cr_assert_eq(got.producer_id, 0x0102030405060708);
    cr_assert_eq(got.producer_epoch, 9);
}

/* ---------------------------------------------------------------- Fetch (3) */

static const uint8_t fetch_request_bytes[] = {
    0xf4, 0x01, 0x00, 0x00,                         /* max_wait_ms 500 */
    0x01, 0x00, 0x00, 0x00,                         /* min_bytes 1 */
    0x00, 0x00, 0x10, 0x00,                         /* max_bytes 1 MiB */
    0x00,                                           /* isolation_level 0 */
    0x01, 0x00, 0x00, 0x00,                         /* topics: count 1 */
    0x06, 0x00, 'o', 'r', 'd', 'e', 'r', 's',       /* · name "orders" */
    0x02, 0x00, 0x00, 0x00,                         /* · partitions: count 2 */
    0x03, 0x00, 0x00, 0x00,                         /* · · partition 3 */
    0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, /* · · fetch_offset 0x0102030405060708 */
    0x00, 0x00, 0x01, 0x00,                         /* · · partition_max_bytes 64 KiB */
    0x04, 0x00, 0x00, 0x00,                         /* · · partition 4 */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* · · fetch_offset 0 */
    0x01, 0x00, 0x00, 0x00,                         /* · · partition_max_bytes 1 */
};

static const struct sb_fetch_partition fetch_partitions[] = {
    {.partition = 3, .fetch_offset = 0x0102030405060708, .partition_max_bytes = 64 << 10},
    {.partition = 4, .fetch_offset = 0, .partition_max_bytes = 1},
};

Test(fixtures, fetch_request)
{
    struct sb_fetch_topic topic = {
        .name = {"orders", 6}, .partitions = fetch_partitions, .partition_count = 2,
    };
    struct sb_fetch_request request = {
        .max_wait_ms = 500, .min_bytes = 1, .max_bytes = 1 << 20,
        .isolation_level = SB_FETCH_ISOLATION_READ_UNCOMMITTED, .topics = &topic,
        .topic_count = 1,
    };
    struct sb_wire_writer writer = fixture_writer();
    fixture_assert_encoded(&writer, sb_fetch_request_encode(&writer, &request), fetch_request_bytes,
                           sizeof(fetch_request_bytes), "Fetch request");
    struct sb_fetch_request got;
    cr_assert_eq(sb_fetch_request_decode(fetch_request_bytes, sizeof(fetch_request_bytes), 0,
                                         &got), 0);
    cr_assert_eq(got.max_wait_ms, 500);
    cr_assert_eq(got.min_bytes, 1);
    cr_assert_eq(got.max_bytes, 1 << 20);
    cr_assert_eq(got.isolation_level, SB_FETCH_ISOLATION_READ_UNCOMMITTED);
    cr_assert_eq(got.topic_count, 1);
    struct sb_fetch_topic got_topic;
    cr_assert_eq(sb_fetch_request_next_topic(&got, &got_topic), 1);
    fixture_assert_string(got_topic.name, topic.name, "name");
    cr_assert_eq(got_topic.partition_count, 2);
    struct sb_fetch_partition partition;
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(sb_fetch_topic_next_partition(&got_topic, &partition), 1);
        cr_assert_eq(partition.partition, fetch_partitions[i].partition);
        cr_assert_eq(partition.fetch_offset, fetch_partitions[i].fetch_offset);
        cr_assert_eq(partition.partition_max_bytes, fetch_partitions[i].partition_max_bytes);
    }
    cr_assert_eq(sb_fetch_topic_next_partition(&got_topic, &partition), 0);
    cr_assert_eq(sb_fetch_request_next_topic(&got, &got_topic), 0);
}

/* Version 1: each topic's id follows its name. */
static const uint8_t fetch_request_v1_bytes[] = {
    0x00, 0x00, 0x00, 0x00,                         /* max_wait_ms 0 */
    0x00, 0x00, 0x00, 0x00,                         /* min_bytes 0 */
    0x00, 0x04, 0x00, 0x00,                         /* max_bytes 1 KiB */
    0x00,                                           /* isolation_level 0 */
    0x01, 0x00, 0x00, 0x00,                         /* topics: count 1 */
    0x02, 0x00, 'o', 'k',                           /* · name "ok" */
    0x04, 0x03, 0x02, 0x01,                         /* · topic_id 0x01020304 */
    0x01, 0x00, 0x00, 0x00,                         /* · partitions: count 1 */
    0x07, 0x00, 0x00, 0x00,                         /* · · partition 7 */
    0x09, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* · · fetch_offset 9 */
    0x00, 0x02, 0x00, 0x00,                         /* · · partition_max_bytes 512 */
};

Test(fixtures, fetch_request_version_1)
{
    struct sb_fetch_partition partition = {.partition = 7, .fetch_offset = 9,
                                           .partition_max_bytes = 512};
    struct sb_fetch_topic topic = {.name = {"ok", 2}, .topic_id = 0x01020304,
                                   .partitions = &partition, .partition_count = 1};
    struct sb_fetch_request request = {.api_version = 1, .max_bytes = 1024, .topics = &topic,
                                       .topic_count = 1};
    struct sb_wire_writer writer = fixture_writer();
    fixture_assert_encoded(&writer, sb_fetch_request_encode(&writer, &request),
                           fetch_request_v1_bytes, sizeof(fetch_request_v1_bytes),
                           "Fetch request v1");
    struct sb_fetch_request got;
    cr_assert_eq(sb_fetch_request_decode(fetch_request_v1_bytes, sizeof(fetch_request_v1_bytes),
                                         1, &got), 0);
    cr_assert_eq(got.api_version, 1);
    cr_assert_eq(got.max_bytes, 1024);
    struct sb_fetch_topic got_topic;
    cr_assert_eq(sb_fetch_request_next_topic(&got, &got_topic), 1);
    fixture_assert_string(got_topic.name, topic.name, "name");
    cr_assert_eq(got_topic.topic_id, 0x01020304u);
    struct sb_fetch_partition got_partition;
    cr_assert_eq(sb_fetch_topic_next_partition(&got_topic, &got_partition), 1);
    cr_assert_eq(got_partition.partition, 7);
    cr_assert_eq(got_partition.fetch_offset, 9);
    cr_assert_eq(got_partition.partition_max_bytes, 512);
    cr_assert_eq(sb_fetch_request_next_topic(&got, &got_topic), 0);
    cr_assert_eq(sb_fetch_request_decode(fetch_request_v1_bytes, sizeof(fetch_request_v1_bytes),
                                         0, &got), SB_ECORRUPT, "read as version 0");
    cr_assert_eq(sb_fetch_request_decode(fetch_request_v1_bytes, sizeof(fetch_request_v1_bytes),
                                         2, &got), -EINVAL, "no version 2");
}

static const uint8_t fetch_response_bytes[] = {
    0x64, 0x00, 0x00, 0x00,                         /* throttle_ms 100 */
    0x01, 0x00, 0x00, 0x00,                         /* topics: count 1 */
    0x06, 0x00, 'o', 'r', 'd', 'e', 'r', 's',       /* · name "orders" */
    0x02, 0x00, 0x00, 0x00,                         /* · partitions: count 2 */
    0x03, 0x00, 0x00, 0x00,                         /* · · partition 3 */
    0x00, 0x00,                                     /* · · error_code 0 */
    0x30, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* · · high_watermark 48 */
    0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* · · log_start_offset 16 */
    0x20, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* · · last_stable_offset 32 */
    0x02, 0x00, 0x00, 0x00, 0xde, 0xad,             /* · · records: 2 bytes */
    0x04, 0x00, 0x00, 0x00,                         /* · · partition 4 */
    0x0d, 0x00,                                     /* · · error_code 13 OFFSET_OUT_OF_RANGE */
    0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* · · high_watermark 5 */
    0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* · · log_start_offset 1 */
    0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* · · last_stable_offset 3 */
    0x00, 0x00, 0x00, 0x00,                         /* · · records: empty */
};

static const uint8_t fetch_records[] = {0xde, 0xad};
static const struct sb_fetch_partition_response fetch_results[] = {
    {.partition = 3, .error_code = SB_WIRE_ERROR_NONE, .high_watermark = 48,
     .log_start_offset = 16, .last_stable_offset = 32, .records = {fetch_records, 2}},
    {.partition = 4, .error_code = SB_WIRE_ERROR_OFFSET_OUT_OF_RANGE, .high_watermark = 5,
     .log_start_offset = 1, .last_stable_offset = 3, .records = {fetch_records, 0}},
};

static void
assert_fetch_partition_response(const struct sb_fetch_partition_response *got,
                                const struct sb_fetch_partition_response *want)
{
    cr_assert_eq(got->partition, want->partition);
    cr_assert_eq(got->error_code, want->error_code);
    cr_assert_eq(got->high_watermark, want->high_watermark);
    cr_assert_eq(got->log_start_offset, want->log_start_offset);
    cr_assert_eq(got->last_stable_offset, want->last_stable_offset);
    assert_bytes(got->records, want->records, "records");
}

Test(fixtures, fetch_response)
{
    struct sb_fetch_topic_response topic = {
        .name = {"orders", 6}, .partitions = fetch_results, .partition_count = 2,
    };
    struct sb_fetch_response response = {.throttle_ms = 100, .topics = &topic,
                                         .topic_count = 1};
    struct sb_wire_writer writer = fixture_writer();
    fixture_assert_encoded(&writer, sb_fetch_response_encode(&writer, &response),
                           fetch_response_bytes, sizeof(fetch_response_bytes), "Fetch response");
    struct sb_fetch_response got;
    cr_assert_eq(sb_fetch_response_decode(fetch_response_bytes, sizeof(fetch_response_bytes),
                                          &got), 0);
    cr_assert_eq(got.throttle_ms, 100);
    cr_assert_eq(got.topic_count, 1);
    struct sb_fetch_topic_response got_topic;
    cr_assert_eq(sb_fetch_response_next_topic(&got, &got_topic), 1);
    fixture_assert_string(got_topic.name, topic.name, "name");
    cr_assert_eq(got_topic.partition_count, 2);
    struct sb_fetch_partition_response partition;
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(sb_fetch_topic_response_next_partition(&got_topic, &partition), 1);
        assert_fetch_partition_response(&partition, &fetch_results[i]);
    }
    cr_assert_eq(sb_fetch_topic_response_next_partition(&got_topic, &partition), 0);
    cr_assert_eq(sb_fetch_response_next_topic(&got, &got_topic), 0);
}

/* ---------------------------------------------------------- ListOffsets (4) */

static const uint8_t list_offsets_request_bytes[] = {
    0x01, 0x00, 0x00, 0x00,                         /* topics: count 1 */
    0x06, 0x00, 'o', 'r', 'd', 'e', 'r', 's',       /* · name "orders" */
    0x02, 0x00, 0x00, 0x00,                         /* · partitions: count 2 */
    0x03, 0x00, 0x00, 0x00,                         /* · · partition 3 */
    0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* · · timestamp -2 earliest */
    0x04, 0x00, 0x00, 0x00,                         /* · · partition 4 */
    0x00, 0x68, 0xe5, 0xcf, 0x8b, 0x01, 0x00, 0x00, /* · · timestamp 1700000000000 */
};

static const struct sb_list_offsets_partition list_offsets_partitions[] = {
    {.partition = 3, .timestamp = SB_LIST_OFFSETS_EARLIEST},
    {.partition = 4, .timestamp = 1700000000000},
};

Test(fixtures, list_offsets_request)
{
    struct sb_list_offsets_topic topic = {
        .name = {"orders", 6}, .partitions = list_offsets_partitions, .partition_count = 2,
    };
    struct sb_list_offsets_request request = {.topics = &topic, .topic_count = 1};
    struct sb_wire_writer writer = fixture_writer();
    fixture_assert_encoded(&writer, sb_list_offsets_request_encode(&writer, &request),
                           list_offsets_request_bytes, sizeof(list_offsets_request_bytes),
                           "ListOffsets request");
    struct sb_list_offsets_request got;
    cr_assert_eq(sb_list_offsets_request_decode(list_offsets_request_bytes,
                                                sizeof(list_offsets_request_bytes), &got), 0);
    cr_assert_eq(got.topic_count, 1);
    struct sb_list_offsets_topic got_topic;
    cr_assert_eq(sb_list_offsets_request_next_topic(&got, &got_topic), 1);
    fixture_assert_string(got_topic.name, topic.name, "name");
    cr_assert_eq(got_topic.partition_count, 2);
    struct sb_list_offsets_partition partition;
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(sb_list_offsets_topic_next_partition(&got_topic, &partition), 1);
        cr_assert_eq(partition.partition, list_offsets_partitions[i].partition);
        cr_assert_eq(partition.timestamp, list_offsets_partitions[i].timestamp);
    }
    cr_assert_eq(sb_list_offsets_topic_next_partition(&got_topic, &partition), 0);
    cr_assert_eq(sb_list_offsets_request_next_topic(&got, &got_topic), 0);
}

static const uint8_t list_offsets_response_bytes[] = {
    0x01, 0x00, 0x00, 0x00,                         /* topics: count 1 */
    0x06, 0x00, 'o', 'r', 'd', 'e', 'r', 's',       /* · name "orders" */
    0x02, 0x00, 0x00, 0x00,                         /* · partitions: count 2 */
    0x03, 0x00, 0x00, 0x00,                         /* · · partition 3 */
    0x00, 0x00,                                     /* · · error_code 0 */
    0x00, 0x68, 0xe5, 0xcf, 0x8b, 0x01, 0x00, 0x00, /* · · timestamp 1700000000000 */
    0x2a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* · · offset 42 */
    0x09, 0x00, 0x00, 0x00,                         /* · · partition 9 */
    0x07, 0x00,                                     /* · · error_code 7 UNKNOWN_TOPIC */
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* · · timestamp -1 */
    0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* · · offset -2 */
};

static const struct sb_list_offsets_partition_response list_offsets_results[] = {
    {.partition = 3, .error_code = SB_WIRE_ERROR_NONE, .timestamp = 1700000000000,
     .offset = 42},
    {.partition = 9, .error_code = SB_WIRE_ERROR_UNKNOWN_TOPIC_OR_PARTITION, .timestamp = -1,
     .offset = -2},
};

Test(fixtures, list_offsets_response)
{
    struct sb_list_offsets_topic_response topic = {
        .name = {"orders", 6}, .partitions = list_offsets_results, .partition_count = 2,
    };
    struct sb_list_offsets_response response = {.topics = &topic, .topic_count = 1};
    struct sb_wire_writer writer = fixture_writer();
    fixture_assert_encoded(&writer, sb_list_offsets_response_encode(&writer, &response),
                           list_offsets_response_bytes, sizeof(list_offsets_response_bytes),
                           "ListOffsets response");
    struct sb_list_offsets_response got;
    cr_assert_eq(sb_list_offsets_response_decode(list_offsets_response_bytes,
                                                 sizeof(list_offsets_response_bytes), &got), 0);
    cr_assert_eq(got.topic_count, 1);
    struct sb_list_offsets_topic_response got_topic;
    cr_assert_eq(sb_list_offsets_response_next_topic(&got, &got_topic), 1);
    fixture_assert_string(got_topic.name, topic.name, "name");
    cr_assert_eq(got_topic.partition_count, 2);
    struct sb_list_offsets_partition_response partition;
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(sb_list_offsets_topic_response_next_partition(&got_topic, &partition), 1);
        cr_assert_eq(partition.partition, list_offsets_results[i].partition);
        cr_assert_eq(partition.error_code, list_offsets_results[i].error_code);
        cr_assert_eq(partition.timestamp, list_offsets_results[i].timestamp);
        cr_assert_eq(partition.offset, list_offsets_results[i].offset);
    }
    cr_assert_eq(sb_list_offsets_topic_response_next_partition(&got_topic, &partition), 0);
    cr_assert_eq(sb_list_offsets_response_next_topic(&got, &got_topic), 0);
}

/* ------------------------------------------------ CreateTopics (6), configs */

static const struct sb_topic_config request_configs[] = {
    {.key = {"retention.ms", 12}, .value = {"1000", 4}},
    {.key = {"cleanup.policy", 14}, .value = {NULL, 0}},
};

/* Asserts that a config iterator returns exactly want (is_default too when described). */
static void
assert_configs(int (*next)(void *owner, struct sb_topic_config *out), void *owner,
               const struct sb_topic_config *want, uint32_t count, bool described)
{
    struct sb_topic_config config;
    for (uint32_t i = 0; i < count; i++) {
        cr_assert_eq(next(owner, &config), 1);
        fixture_assert_string(config.key, want[i].key, "key");
        fixture_assert_string(config.value, want[i].value, "value");
        if (described) {
            cr_assert_eq(config.is_default, want[i].is_default);
        }
    }
    cr_assert_eq(next(owner, &config), 0);
}

static int
create_topic_next_config(void *topic, struct sb_topic_config *out)
{
    return sb_create_topic_next_config(topic, out);
}

static const uint8_t create_topics_request_bytes[] = {
    0x01, 0x00, 0x00, 0x00,                                 /* topics: count 1 */
    0x06, 0x00, 'o', 'r', 'd', 'e', 'r', 's',               /* · name "orders" */
    0x06, 0x00, 0x00, 0x00,                                 /* · partitions 6 */
    0x01, 0x00,                                             /* · replication_factor 1 */
    0x02, 0x00, 0x00, 0x00,                                 /* · configs: count 2 */
    0x0c, 0x00, 'r', 'e', 't', 'e', 'n', 't', 'i', 'o', 'n', '.', 'm', 's', /* · · key */
    0x04, 0x00, '1', '0', '0', '0',                         /* · · value "1000" */
    0x0e, 0x00, 'c', 'l', 'e', 'a', 'n', 'u', 'p', '.', 'p', 'o', 'l', 'i', 'c', 'y',
                                                            /* · · key "cleanup.policy" */
    0xff, 0xff,                                             /* · · value: null, the default */
    0x88, 0x13, 0x00, 0x00,                                 /* timeout_ms 5000 */
    0x01,                                                   /* validate_only 1 */
};

Test(fixtures, create_topics_request)
{
    struct sb_create_topic topic = {
        .name = {"orders", 6}, .partition_count = 6, .replication_factor = 1,
        .configs = request_configs, .config_count = 2,
    };
    struct sb_create_topics_request request = {
        .topics = &topic, .topic_count = 1, .timeout_ms = 5000, .validate_only = 1,
    };
    struct sb_wire_writer writer = fixture_writer();
    fixture_assert_encoded(&writer, sb_create_topics_request_encode(&writer, &request),
                           create_topics_request_bytes, sizeof(create_topics_request_bytes),
                           "CreateTopics request");
    struct sb_create_topics_request got;
    cr_assert_eq(sb_create_topics_request_decode(create_topics_request_bytes,
                                                 sizeof(create_topics_request_bytes), &got), 0);
    cr_assert_eq(got.topic_count, 1);
    cr_assert_eq(got.timeout_ms, 5000);
    cr_assert_eq(got.validate_only, 1);
    struct sb_create_topic got_topic;
    cr_assert_eq(sb_create_topics_request_next_topic(&got, &got_topic), 1);
    fixture_assert_string(got_topic.name, topic.name, "name");
    cr_assert_eq(got_topic.partition_count, 6);
    cr_assert_eq(got_topic.replication_factor, 1);
    cr_assert_eq(got_topic.config_count, 2);
    assert_configs(create_topic_next_config, &got_topic, request_configs, 2, false);
    cr_assert_eq(sb_create_topics_request_next_topic(&got, &got_topic), 0);
}

static const uint8_t create_topics_response_bytes[] = {
    0x02, 0x00, 0x00, 0x00,                         /* topics: count 2 */
    0x06, 0x00, 'o', 'r', 'd', 'e', 'r', 's',       /* · name "orders" */
    0x44, 0x33, 0x22, 0x11,                         /* · topic_id 0x11223344 */
    0x00, 0x00,                                     /* · error_code 0 */
    0xff, 0xff,                                     /* · error_message: null */
    0x04, 0x00, 'b', 'a', 'd', '!',                 /* · name "bad!" */
    0x00, 0x00, 0x00, 0x00,                         /* · topic_id 0 */
    0x09, 0x00,                                     /* · error_code 9 INVALID_TOPIC_NAME */
    0x03, 0x00, 'b', 'a', 'd',                      /* · error_message "bad" */
};

static const struct sb_create_topic_result create_results[] = {
    {.name = {"orders", 6}, .topic_id = 0x11223344u, .error_code = SB_WIRE_ERROR_NONE,
     .error_message = {NULL, 0}},
    {.name = {"bad!", 4}, .topic_id = 0, .error_code = SB_WIRE_ERROR_INVALID_TOPIC_NAME,
     .error_message = {"bad", 3}},
};

Test(fixtures, create_topics_response)
{
    struct sb_create_topics_response response = {.topics = create_results, .topic_count = 2};
    struct sb_wire_writer writer = fixture_writer();
    fixture_assert_encoded(&writer, sb_create_topics_response_encode(&writer, &response),
                           create_topics_response_bytes, sizeof(create_topics_response_bytes),
                           "CreateTopics response");
    struct sb_create_topics_response got;
    cr_assert_eq(sb_create_topics_response_decode(create_topics_response_bytes,
                                                  sizeof(create_topics_response_bytes), &got),
                 0);
    cr_assert_eq(got.topic_count, 2);
    struct sb_create_topic_result result;
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(sb_create_topics_response_next_topic(&got, &result), 1);
        fixture_assert_string(result.name, create_results[i].name, "name");
        cr_assert_eq(result.topic_id, create_results[i].topic_id);
        cr_assert_eq(result.error_code, create_results[i].error_code);
        fixture_assert_string(result.error_message, create_results[i].error_message,
                              "error_message");
    }
    cr_assert_eq(sb_create_topics_response_next_topic(&got, &result), 0);
}

/* --------------------------------------------------------- DeleteTopics (7) */

static const uint8_t delete_topics_request_bytes[] = {
    0x02, 0x00, 0x00, 0x00,                         /* names: count 2 */
    0x06, 0x00, 'o', 'r', 'd', 'e', 'r', 's',       /* · "orders" */
    0x04, 0x00, 'g', 'o', 'n', 'e',                 /* · "gone" */
    0x88, 0x13, 0x00, 0x00,                         /* timeout_ms 5000 */
};

static const struct sb_wire_string delete_names[] = {{"orders", 6}, {"gone", 4}};

Test(fixtures, delete_topics_request)
{
    struct sb_delete_topics_request request = {
        .names = delete_names, .name_count = 2, .timeout_ms = 5000,
    };
    struct sb_wire_writer writer = fixture_writer();
    fixture_assert_encoded(&writer, sb_delete_topics_request_encode(&writer, &request),
                           delete_topics_request_bytes, sizeof(delete_topics_request_bytes),
                           "DeleteTopics request");
    struct sb_delete_topics_request got;
    cr_assert_eq(sb_delete_topics_request_decode(delete_topics_request_bytes,
                                                 sizeof(delete_topics_request_bytes), &got), 0);
    cr_assert_eq(got.name_count, 2);
    cr_assert_eq(got.timeout_ms, 5000);
    struct sb_wire_string name;
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(sb_delete_topics_request_next_name(&got, &name), 1);
        fixture_assert_string(name, delete_names[i], "names[]");
    }
    cr_assert_eq(sb_delete_topics_request_next_name(&got, &name), 0);
}

static const uint8_t delete_topics_response_bytes[] = {
    0x02, 0x00, 0x00, 0x00,                         /* topics: count 2 */
    0x06, 0x00, 'o', 'r', 'd', 'e', 'r', 's',       /* · name "orders" */
    0x00, 0x00,                                     /* · error_code 0 */
    0x04, 0x00, 'g', 'o', 'n', 'e',                 /* · name "gone" */
    0x07, 0x00,                                     /* · error_code 7 UNKNOWN_TOPIC */
};

static const struct sb_delete_topic_result delete_results[] = {
    {.name = {"orders", 6}, .error_code = SB_WIRE_ERROR_NONE},
    {.name = {"gone", 4}, .error_code = SB_WIRE_ERROR_UNKNOWN_TOPIC_OR_PARTITION},
};

Test(fixtures, delete_topics_response)
{
    struct sb_delete_topics_response response = {.topics = delete_results, .topic_count = 2};
    struct sb_wire_writer writer = fixture_writer();
    fixture_assert_encoded(&writer, sb_delete_topics_response_encode(&writer, &response),
                           delete_topics_response_bytes, sizeof(delete_topics_response_bytes),
                           "DeleteTopics response");
    struct sb_delete_topics_response got;
    cr_assert_eq(sb_delete_topics_response_decode(delete_topics_response_bytes,
                                                  sizeof(delete_topics_response_bytes), &got),
                 0);
    cr_assert_eq(got.topic_count, 2);
    struct sb_delete_topic_result result;
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(sb_delete_topics_response_next_topic(&got, &result), 1);
        fixture_assert_string(result.name, delete_results[i].name, "name");
        cr_assert_eq(result.error_code, delete_results[i].error_code);
    }
    cr_assert_eq(sb_delete_topics_response_next_topic(&got, &result), 0);
}

/* ----------------------------------------------------------- ListTopics (8) */

static const uint8_t list_topics_request_bytes[] = {
    0x03, 0x00, 'o', 'r', 'd', /* prefix "ord" */
};

Test(fixtures, list_topics_request)
{
    struct sb_list_topics_request request = {.prefix = {"ord", 3}};
    struct sb_wire_writer writer = fixture_writer();
    fixture_assert_encoded(&writer, sb_list_topics_request_encode(&writer, &request),
                           list_topics_request_bytes, sizeof(list_topics_request_bytes),
                           "ListTopics request");
    struct sb_list_topics_request got;
    cr_assert_eq(sb_list_topics_request_decode(list_topics_request_bytes,
                                               sizeof(list_topics_request_bytes), &got), 0);
    fixture_assert_string(got.prefix, request.prefix, "prefix");
}

static const uint8_t list_topics_response_bytes[] = {
    0x02, 0x00, 0x00, 0x00,                                   /* topics: count 2 */
    0x09, 0x00, '_', '_', 'o', 'f', 'f', 's', 'e', 't', 's',  /* · name "__offsets" */
    0x01, 0x00, 0x00, 0x00,                                   /* · topic_id 1 */
    0x32, 0x00, 0x00, 0x00,                                   /* · partition_count 50 */
    0x01,                                                     /* · internal 1 */
    0x06, 0x00, 'o', 'r', 'd', 'e', 'r', 's',                 /* · name "orders" */
    0x44, 0x33, 0x22, 0x11,                                   /* · topic_id 0x11223344 */
    0x06, 0x00, 0x00, 0x00,                                   /* · partition_count 6 */
    0x00,                                                     /* · internal 0 */
};

static const struct sb_list_topics_entry list_entries[] = {
    {.name = {"__offsets", 9}, .topic_id = 1, .partition_count = 50, .internal = 1},
    {.name = {"orders", 6}, .topic_id = 0x11223344u, .partition_count = 6, .internal = 0},
};

Test(fixtures, list_topics_response)
{
    struct sb_list_topics_response response = {.topics = list_entries, .topic_count = 2};
    struct sb_wire_writer writer = fixture_writer();
    fixture_assert_encoded(&writer, sb_list_topics_response_encode(&writer, &response),
                           list_topics_response_bytes, sizeof(list_topics_response_bytes),
                           "ListTopics response");
    struct sb_list_topics_response got;
    cr_assert_eq(sb_list_topics_response_decode(list_topics_response_bytes,
                                                sizeof(list_topics_response_bytes), &got), 0);
    cr_assert_eq(got.topic_count, 2);
    struct sb_list_topics_entry entry;
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(sb_list_topics_response_next_topic(&got, &entry), 1);
        fixture_assert_string(entry.name, list_entries[i].name, "name");
        cr_assert_eq(entry.topic_id, list_entries[i].topic_id);
        cr_assert_eq(entry.partition_count, list_entries[i].partition_count);
        cr_assert_eq(entry.internal, list_entries[i].internal);
    }
    cr_assert_eq(sb_list_topics_response_next_topic(&got, &entry), 0);
}

/* -------------------------------------------------------- DescribeTopic (9) */

Test(fixtures, describe_topic_request)
{
    /* The body of describe_topic_frame_bytes, whose encoding request_frame_with_a_body checks. */
    struct sb_describe_topic_request got;
    cr_assert_eq(sb_describe_topic_request_decode(describe_topic_frame_bytes + 24, 8, &got), 0);
    fixture_assert_string(got.name, (struct sb_wire_string){"orders", 6}, "name");
}

static const uint8_t describe_topic_response_bytes[] = {
    0x00, 0x00,                                     /* error_code 0 */
    0x06, 0x00, 'o', 'r', 'd', 'e', 'r', 's',       /* name "orders" */
    0x44, 0x33, 0x22, 0x11,                         /* topic_id 0x11223344 */
    0x01, 0x00, 0x00, 0x00,                         /* partitions: count 1 */
    0x03, 0x00, 0x00, 0x00,                         /* · partition 3 */
    0x07, 0x00, 0x00, 0x00,                         /* · leader 7 */
    0x01, 0x00, 0x00, 0x00,                         /* · shard 1 */
    0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* · log_start_offset 16 */
    0x20, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* · high_watermark 32 */
    0x30, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* · log_end_offset 48 */
    0x02, 0x00, 0x00, 0x00,                         /* configs: count 2 */
    0x0c, 0x00, 'r', 'e', 't', 'e', 'n', 't', 'i', 'o', 'n', '.', 'm', 's', /* · key */
    0x04, 0x00, '1', '0', '0', '0',                 /* · value "1000" */
    0x00,                                           /* · is_default 0 */
    0x0e, 0x00, 'c', 'l', 'e', 'a', 'n', 'u', 'p', '.', 'p', 'o', 'l', 'i', 'c', 'y',
                                                    /* · key "cleanup.policy" */
    0x06, 0x00, 'd', 'e', 'l', 'e', 't', 'e',       /* · value "delete" */
    0x01,                                           /* · is_default 1 */
};

static const struct sb_describe_topic_partition describe_partitions[] = {
    {.partition = 3, .leader = 7, .shard = 1, .log_start_offset = 16, .high_watermark = 32,
     .log_end_offset = 48},
};
static const struct sb_topic_config described_configs[] = {
    {.key = {"retention.ms", 12}, .value = {"1000", 4}, .is_default = 0},
    {.key = {"cleanup.policy", 14}, .value = {"delete", 6}, .is_default = 1},
};

static int
describe_topic_next_config(void *response, struct sb_topic_config *out)
{
    return sb_describe_topic_response_next_config(response, out);
}

Test(fixtures, describe_topic_response)
{
    struct sb_describe_topic_response response = {
        .error_code = SB_WIRE_ERROR_NONE, .name = {"orders", 6}, .topic_id = 0x11223344u,
        .partitions = describe_partitions, .partition_count = 1,
        .configs = described_configs, .config_count = 2,
    };
    struct sb_wire_writer writer = fixture_writer();
    fixture_assert_encoded(&writer, sb_describe_topic_response_encode(&writer, &response),
                           describe_topic_response_bytes, sizeof(describe_topic_response_bytes),
                           "DescribeTopic response");
    struct sb_describe_topic_response got;
    cr_assert_eq(sb_describe_topic_response_decode(describe_topic_response_bytes,
                                                   sizeof(describe_topic_response_bytes),
                                                   &got), 0);
    cr_assert_eq(got.error_code, SB_WIRE_ERROR_NONE);
    fixture_assert_string(got.name, response.name, "name");
    cr_assert_eq(got.topic_id, 0x11223344u);
    cr_assert_eq(got.partition_count, 1);
    cr_assert_eq(got.config_count, 2);
    struct sb_describe_topic_partition partition;
    cr_assert_eq(sb_describe_topic_response_next_partition(&got, &partition), 1);
    cr_assert_eq(partition.partition, 3);
    cr_assert_eq(partition.leader, 7);
    cr_assert_eq(partition.shard, 1);
    cr_assert_eq(partition.log_start_offset, 16);
    cr_assert_eq(partition.high_watermark, 32);
    cr_assert_eq(partition.log_end_offset, 48);
    cr_assert_eq(sb_describe_topic_response_next_partition(&got, &partition), 0);
    assert_configs(describe_topic_next_config, &got, described_configs, 2, true);
}

/* ----------------------------------------------------- AlterTopicConfig (10) */

static const uint8_t alter_topic_config_request_bytes[] = {
    0x06, 0x00, 'o', 'r', 'd', 'e', 'r', 's',               /* name "orders" */
    0x08, 0x00, 0x00, 0x00,                                 /* partitions 8 */
    0x02, 0x00, 0x00, 0x00,                                 /* configs: count 2 */
    0x0c, 0x00, 'r', 'e', 't', 'e', 'n', 't', 'i', 'o', 'n', '.', 'm', 's', /* · key */
    0x04, 0x00, '1', '0', '0', '0',                         /* · value "1000" */
    0x0e, 0x00, 'c', 'l', 'e', 'a', 'n', 'u', 'p', '.', 'p', 'o', 'l', 'i', 'c', 'y',
                                                            /* · key "cleanup.policy" */
    0xff, 0xff,                                             /* · value: null, reset */
    0x01,                                                   /* validate_only 1 */
};

static int
alter_topic_config_next_config(void *request, struct sb_topic_config *out)
{
    return sb_alter_topic_config_request_next_config(request, out);
}

Test(fixtures, alter_topic_config_request)
{
    struct sb_alter_topic_config_request request = {
        .name = {"orders", 6}, .partition_count = 8, .configs = request_configs,
        .config_count = 2, .validate_only = 1,
    };
    struct sb_wire_writer writer = fixture_writer();
    fixture_assert_encoded(&writer, sb_alter_topic_config_request_encode(&writer, &request),
                           alter_topic_config_request_bytes,
                           sizeof(alter_topic_config_request_bytes), "AlterTopicConfig request");
    struct sb_alter_topic_config_request got;
    cr_assert_eq(sb_alter_topic_config_request_decode(alter_topic_config_request_bytes,
                                                      sizeof(alter_topic_config_request_bytes),
                                                      &got), 0);
    fixture_assert_string(got.name, request.name, "name");
    cr_assert_eq(got.partition_count, 8);
    cr_assert_eq(got.config_count, 2);
    cr_assert_eq(got.validate_only, 1);
    assert_configs(alter_topic_config_next_config, &got, request_configs, 2, false);
}

static const uint8_t alter_topic_config_response_bytes[] = {
    0x0c, 0x00,                                     /* error_code 12 INVALID_CONFIG */
    0x0c, 0x00, 'r', 'e', 't', 'e', 'n', 't', 'i', 'o', 'n', '.', 'm', 's',
                                                    /* error_message "retention.ms" */
};

static const uint8_t alter_topic_config_response_ok_bytes[] = {
    0x00, 0x00, /* error_code 0 */
    0xff, 0xff, /* error_message: null */
};

static void
assert_alter_topic_config_response(const uint8_t *bytes, size_t length,
                                   const struct sb_alter_topic_config_response *want)
{
    struct sb_wire_writer writer = fixture_writer();
    fixture_assert_encoded(&writer, sb_alter_topic_config_response_encode(&writer, want), bytes,
                           length, "AlterTopicConfig response");
    struct sb_alter_topic_config_response got;
    cr_assert_eq(sb_alter_topic_config_response_decode(bytes, length, &got), 0);
    cr_assert_eq(got.error_code, want->error_code);
    fixture_assert_string(got.error_message, want->error_message, "error_message");
}

Test(fixtures, alter_topic_config_response)
{
    struct sb_alter_topic_config_response refused = {
        .error_code = SB_WIRE_ERROR_INVALID_CONFIG, .error_message = {"retention.ms", 12},
    };
    assert_alter_topic_config_response(alter_topic_config_response_bytes,
                                       sizeof(alter_topic_config_response_bytes), &refused);
    struct sb_alter_topic_config_response done = {.error_message = {NULL, 0}};
    assert_alter_topic_config_response(alter_topic_config_response_ok_bytes,
                                       sizeof(alter_topic_config_response_ok_bytes), &done);
}

/* ------------------------------------------- record batch (record-batch.md) */

/* Two records, first_timestamp_ms 1700000000000, producer 0x0102030405060708 epoch 9
 * sequence 5: record 0 one ms before it, key "k", value "v1", header "h" = "x"; record 1
 * 300 ms after it, null key, value "abc", no headers. */
static const uint8_t batch_bytes_fixture[] = {
    0x53, 0x42, 0x42, 0x31,                         /* magic "SBB1" */
    0x45, 0xa4, 0x9e, 0x63,                         /* header_crc32c 0x639EA445 */
    0x59, 0x00, 0x00, 0x00,                         /* batch_bytes 89 = 64 + 25 */
    0x02, 0x00, 0x00, 0x00,                         /* record_count 2 */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* base_offset 0: clients send 0 */
    0x00, 0x68, 0xe5, 0xcf, 0x8b, 0x01, 0x00, 0x00, /* first_timestamp_ms 1700000000000 */
    0x2c, 0x69, 0xe5, 0xcf, 0x8b, 0x01, 0x00, 0x00, /* max_timestamp_ms 1700000000300 */
    0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, /* producer_id 0x0102030405060708 */
    0x09, 0x00,                                     /* producer_epoch 9 */
    0x00, 0x00,                                     /* attributes: codec none, create time */
    0x05, 0x00, 0x00, 0x00,                         /* base_sequence 5 */
    0x0e, 0x64, 0x57, 0x07,                         /* payload_crc32c 0x0757640E */
    0x19, 0x00, 0x00, 0x00,                         /* records_bytes 25 */
    0x0d,                                           /* record 0: length 13 */
    0x00,                                           /* · attributes */
    0x01,                                           /* · timestamp_delta -1 (zigzag 1) */
    0x00,                                           /* · offset_delta 0 */
    0x02, 'k',                                      /* · key_length 1 (zigzag 2), key */
    0x04, 'v', '1',                                 /* · value_length 2, value */
    0x01,                                           /* · header_count 1 */
    0x01, 'h',                                      /* · · name_length 1 (uvarint), name */
    0x02, 'x',                                      /* · · value_length 1 (zigzag 2), value */
    0x0a,                                           /* record 1: length 10 */
    0x00,                                           /* · attributes */
    0xd8, 0x04,                                     /* · timestamp_delta 300 (zigzag 600) */
    0x01,                                           /* · offset_delta 1 */
    0x01,                                           /* · key_length -1: null (zigzag 1) */
    0x06, 'a', 'b', 'c',                            /* · value_length 3, value */
    0x00,                                           /* · header_count 0 */
};

static const struct sb_record_header batch_record_headers[] = {
    {.name = "h", .name_length = 1, .value = "x", .value_length = 1},
};
static const struct sb_record batch_records[] = {
    {.key = "k", .key_length = 1, .value = "v1", .value_length = 2,
     .timestamp_ms = 1700000000000 - 1, .headers = batch_record_headers, .header_count = 1},
    {.key = NULL, .key_length = -1, .value = "abc", .value_length = 3,
     .timestamp_ms = 1700000000000 + 300},
};

Test(fixtures, record_batch_built)
{
    struct sb_batch_builder builder;
    sb_batch_builder_init(&builder, output, sizeof(output), 1700000000000);
    sb_batch_builder_set_producer(&builder, 0x0102030405060708, 9, 5);
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(sb_batch_builder_add(&builder, &batch_records[i]), 0);
    }
    const uint8_t *batch;
    uint32_t batch_bytes;
    cr_assert_eq(sb_batch_builder_finish(&builder, SB_COMPRESSION_NONE, NULL, 0, &batch,
                                         &batch_bytes), 0);
    fixture_assert_same_bytes(batch, batch_bytes, batch_bytes_fixture, sizeof(batch_bytes_fixture),
                              "record batch");
    cr_assert_eq(sb_crc32c(0, batch_bytes_fixture + 8, 56), 0x639EA445u);
    cr_assert_eq(sb_crc32c(0, batch_bytes_fixture + 64, 25), 0x0757640Eu);
}

static void
assert_batch_header(const struct sb_batch_header *header)
{
    cr_assert_eq(header->header_crc32c, 0x639EA445u);
    cr_assert_eq(header->batch_bytes, 89);
    cr_assert_eq(header->record_count, 2);
    cr_assert_eq(header->base_offset, 0);
    cr_assert_eq(header->first_timestamp_ms, 1700000000000);
    cr_assert_eq(header->max_timestamp_ms, 1700000000300);
    cr_assert_eq(header->producer_id, 0x0102030405060708);
    cr_assert_eq(header->producer_epoch, 9);
    cr_assert_eq(header->attributes, 0);
    cr_assert_eq(header->base_sequence, 5);
    cr_assert_eq(header->payload_crc32c, 0x0757640Eu);
    cr_assert_eq(header->records_bytes, 25);
}

static void
assert_batch_record(const struct sb_record_view *view, const struct sb_record *want,
                    int64_t offset)
{
    cr_assert_eq(view->offset, offset);
    cr_assert_eq(view->timestamp_ms, want->timestamp_ms);
    cr_assert_eq(view->key_length, want->key_length);
    if (want->key_length < 0) {
        cr_assert_null(view->key);
    } else {
        cr_assert_arr_eq(view->key, want->key, (size_t)want->key_length);
    }
    cr_assert_eq(view->value_length, want->value_length);
    cr_assert_arr_eq(view->value, want->value, (size_t)want->value_length);
    cr_assert_eq(view->header_count, want->header_count);
    struct sb_record_header_iter headers;
    struct sb_record_header_view header;
    sb_record_header_iter_init(&headers, view);
    for (uint32_t i = 0; i < want->header_count; i++) {
        cr_assert_eq(sb_record_header_iter_next(&headers, &header), 1);
        cr_assert_eq(header.name_length, want->headers[i].name_length);
        cr_assert_arr_eq(header.name, want->headers[i].name, header.name_length);
        cr_assert_eq(header.value_length, want->headers[i].value_length);
        cr_assert_arr_eq(header.value, want->headers[i].value,
                         (size_t)header.value_length);
    }
    cr_assert_eq(sb_record_header_iter_next(&headers, &header), 0);
}

Test(fixtures, record_batch_read)
{
    struct sb_batch_header header;
    cr_assert_eq(sb_batch_verify(batch_bytes_fixture, sizeof(batch_bytes_fixture), 1u << 20,
                                 &header), 0);
    assert_batch_header(&header);
    struct sb_record_iter records;
    struct sb_record_view view;
    sb_record_iter_init(&records, &header, batch_bytes_fixture + 64, 25);
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(sb_record_iter_next(&records, &view), 1);
        assert_batch_record(&view, &batch_records[i], i);
    }
    cr_assert_eq(sb_record_iter_next(&records, &view), 0);
}

Test(fixtures, record_batch_offset_rewrite)
{
    memcpy(output, batch_bytes_fixture, sizeof(batch_bytes_fixture));
    sb_batch_assign_offset(output, 1000);
    static const uint8_t header_crc[] = {0x6b, 0x7c, 0x9f, 0xec}; /* 0xEC9F7C6B */
    static const uint8_t base_offset[] = {0xe8, 0x03, 0, 0, 0, 0, 0, 0}; /* 1000 */
    cr_assert_arr_eq(output + 4, header_crc, 4, "header_crc32c recomputed over [8, 64)");
    cr_assert_arr_eq(output + 16, base_offset, 8, "base_offset at byte 16");
    cr_assert_arr_eq(output, batch_bytes_fixture, 4, "magic unchanged");
    cr_assert_arr_eq(output + 8, batch_bytes_fixture + 8, 8, "bytes [8, 16) unchanged");
    cr_assert_arr_eq(output + 24, batch_bytes_fixture + 24, sizeof(batch_bytes_fixture) - 24,
                     "everything after base_offset unchanged");
}
