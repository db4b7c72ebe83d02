/*
 * test/broker/test_router.c - the router (broker/router.c) without sockets or a runtime:
 * a request naming partitions on several shards becomes one op per owner shard, in shard
 * order, each carrying its parts in request order; results come back in any order and are
 * answered in request order; a partition named twice is refused; the work bound holds; an
 * op answered early keeps its request until its owner releases it.
 *
 * The shard is a broker_unit (broker_unit.h) of three shards. Topic "a" (id 1) has four
 * partitions, owned by shard (1 + partition) % 3: partition 0 -> 1, 1 -> 2, 2 -> 0, 3 -> 1.
 * Owners are simulated: the test fills an op's results and hands it back.
 */
#include <criterion/criterion.h>

#include "broker_unit.h"
#include "broker/api.h"
#include "broker/router.h"
#include "proto/api_fetch.h"
#include "proto/api_produce.h"

#define SHARDS 3u

static const struct sb_wire_string topic_a = {"a", 1};
static const struct sb_wire_string topic_unknown = {"zz", 2};

static struct broker_unit unit;

static void
setup(void)
{
    broker_unit_init(&unit, SHARDS);
    cr_assert_eq(broker_unit_topic(&unit, "a", 4), 1);
}

static void
teardown(void)
{
    broker_unit_deinit(&unit);
}

/* ListOffsets for a: 3, 0, 1, 2 and zz: 0 (unknown), latest offsets. */
static int
body_list_offsets(struct sb_wire_writer *writer, const void *context)
{
    static const struct sb_list_offsets_partition a[] = {
        {3, SB_LIST_OFFSETS_LATEST}, {0, SB_LIST_OFFSETS_LATEST},
        {1, SB_LIST_OFFSETS_LATEST}, {2, SB_LIST_OFFSETS_LATEST}};
    static const struct sb_list_offsets_partition zz[] = {{0, SB_LIST_OFFSETS_LATEST}};
    const struct sb_list_offsets_topic topics[] = {
        {.name = topic_a, .partitions = a, .partition_count = 4},
        {.name = topic_unknown, .partitions = zz, .partition_count = 1}};
    struct sb_list_offsets_request request = {.topics = topics, .topic_count = 2};
    return sb_list_offsets_request_encode(writer, &request);
}

/* Produce naming the partitions in `context` (a -1 ends the list) of topic a, each with an
 * empty record set (decoding does not look into it). */
static int
body_produce(struct sb_wire_writer *writer, const void *context)
{
    const int32_t *numbers = context;
    static const uint8_t none[1];
    struct sb_produce_partition partitions[8];
    uint32_t count = 0;
    while (numbers[count] >= 0) {
        partitions[count] = (struct sb_produce_partition){numbers[count], {none, 0}};
        count++;
    }
    struct sb_produce_topic topic = {.name = topic_a, .partitions = partitions,
                                     .partition_count = count};
    struct sb_produce_request request = {.acks = 1, .topics = &topic, .topic_count = 1};
    return sb_produce_request_encode(writer, &request);
}

Test(router, parts_on_several_shards_become_one_op_per_owner, .init = setup, .fini = teardown)
{
    struct request *request = broker_unit_request(&unit, SB_API_LIST_OFFSETS, 0, 0,
                                                  body_list_offsets, NULL);
    cr_assert_eq(list_offsets_decode(&unit.shard, request), SB_WIRE_ERROR_NONE);
    cr_assert_eq(request->part_count, 5);
    cr_assert_eq(request->topic_count, 2);
    cr_assert_eq(request->op_count, SHARDS, "one op per owner used");
    /* Shard order; each op's parts in request order. */
    static const uint32_t parts_of[SHARDS][2] = {{3}, {0, 1}, {2}};
    static const uint32_t counts[SHARDS] = {1, 2, 1};
    for (uint32_t index = 0; index < SHARDS; index++) {
        struct op *op = router_op(request, index);
        cr_assert_eq(op->owner, index);
        cr_assert_eq(op->request, request);
        cr_assert_eq(op->part_count, counts[index]);
        for (uint32_t part = 0; part < op->part_count; part++) {
            cr_assert_eq(op->parts[part], parts_of[index][part]);
            cr_assert_eq(router_part(request, op->parts[part])->op, op);
            cr_assert_eq(router_part(request, op->parts[part])->owner, index);
        }
    }
    struct part *unknown = router_part(request, 4);
    cr_assert_eq(unknown->error, SB_WIRE_ERROR_UNKNOWN_TOPIC_OR_PARTITION);
    cr_assert_null(unknown->op, "a part with an error goes to no shard");
    request_release(request);
}

Test(router, results_in_any_order_are_answered_in_request_order, .init = setup,
     .fini = teardown)
{
    struct request *request = broker_unit_request(&unit, SB_API_LIST_OFFSETS, 0, 0,
                                                  body_list_offsets, NULL);
    cr_assert_eq(list_offsets_decode(&unit.shard, request), SB_WIRE_ERROR_NONE);
    /* What router_dispatch counts before sending; the owners answer last shard first, each
     * marking its parts with an error naming it. */
    request->ops_pending = request->op_count;
    for (uint32_t index = request->op_count; index-- > 0;) {
        struct op *op = router_op(request, index);
        for (uint32_t part = 0; part < op->part_count; part++) {
            router_part(request, op->parts[part])->error = (int16_t)(100 + op->owner);
        }
        cr_assert_not(request->net.complete, "not answered before every op is back");
        router_op_done(op);
    }
    const uint8_t *body;
    uint32_t body_bytes;
    cr_assert_eq(broker_unit_response(request, &body, &body_bytes), SB_WIRE_ERROR_NONE);
    struct sb_list_offsets_response response;
    cr_assert_eq(sb_list_offsets_response_decode(body, body_bytes, &response), 0);
    static const int32_t partitions[] = {3, 0, 1, 2};
    static const int16_t errors[] = {101, 101, 102, 100};
    struct sb_list_offsets_topic_response topic;
    struct sb_list_offsets_partition_response partition;
    cr_assert_eq(sb_list_offsets_response_next_topic(&response, &topic), 1);
    cr_assert(sb_wire_string_equals(topic.name, "a"));
    for (uint32_t index = 0; index < 4; index++) {
        cr_assert_eq(sb_list_offsets_topic_response_next_partition(&topic, &partition), 1);
        cr_assert_eq(partition.partition, partitions[index]);
        cr_assert_eq(partition.error_code, errors[index]);
    }
    cr_assert_eq(sb_list_offsets_response_next_topic(&response, &topic), 1);
    cr_assert(sb_wire_string_equals(topic.name, "zz"));
    cr_assert_eq(sb_list_offsets_topic_response_next_partition(&topic, &partition), 1);
    cr_assert_eq(partition.error_code, SB_WIRE_ERROR_UNKNOWN_TOPIC_OR_PARTITION);
    request_release(request);
}

Test(router, a_partition_named_twice_is_invalid_request, .init = setup, .fini = teardown)
{
    static const int32_t twice[] = {2, 0, 2, -1};
    struct request *request = broker_unit_request(&unit, SB_API_PRODUCE, 0, 0, body_produce,
                                                  twice);
    cr_assert_eq(produce_decode(&unit.shard, request), SB_WIRE_ERROR_INVALID_REQUEST);
    request_release(request);
    /* The same partitions once each are split as usual. */
    static const int32_t once[] = {2, 0, -1};
    request = broker_unit_request(&unit, SB_API_PRODUCE, 0, 0, body_produce, once);
    cr_assert_eq(produce_decode(&unit.shard, request), SB_WIRE_ERROR_NONE);
    cr_assert_eq(request->op_count, 2);
    cr_assert_eq(router_op(request, 0)->owner, 0);
    cr_assert_eq(router_op(request, 1)->owner, 1);
    request_release(request);
}

Test(router, more_topics_or_partitions_than_the_work_bound_are_refused, .init = setup,
     .fini = teardown)
{
    struct request *request = broker_unit_request(&unit, SB_API_LIST_OFFSETS, 0, 0,
                                                  body_list_offsets, NULL);
    struct router_layout layout = {.topic_count = SB_BROKER_REQUEST_TOPICS_MAX + 1,
                                   .part_bytes = sizeof(struct part),
                                   .op_bytes = sizeof(struct op)};
    cr_assert_eq(router_reserve(request, &layout), SB_WIRE_ERROR_INVALID_REQUEST);
    layout.topic_count = 1;
    layout.part_count = SB_BROKER_REQUEST_ITEMS_MAX + 1;
    cr_assert_eq(router_reserve(request, &layout), SB_WIRE_ERROR_INVALID_REQUEST);
    cr_assert_null(request->scratch, "nothing is taken for a refused request");
    request_release(request);
}

Test(router, every_shard_gets_one_op_without_parts, .init = setup, .fini = teardown)
{
    struct request *request = broker_unit_request(&unit, SB_API_HEALTH, 0, 0, NULL, NULL);
    cr_assert_eq(health_decode(&unit.shard, request), SB_WIRE_ERROR_NONE);
    cr_assert_eq(request->op_count, SHARDS);
    for (uint32_t index = 0; index < SHARDS; index++) {
        cr_assert_eq(router_op(request, index)->owner, index);
        cr_assert_eq(router_op(request, index)->part_count, 0);
    }
    request_release(request);
}

/* An op answered before its owner is done (a produce at its deadline): the request is
 * answered, and freed only when the owner releases the op. */
Test(router, an_op_answered_early_holds_its_request_until_released, .init = setup,
     .fini = teardown)
{
    struct request *request = broker_unit_request(&unit, SB_API_LIST_OFFSETS, 0, 0,
                                                  body_list_offsets, NULL);
    cr_assert_eq(list_offsets_decode(&unit.shard, request), SB_WIRE_ERROR_NONE);
    struct broker_shard *self = &unit.shard;
    struct op *local = router_op(request, 0);
    cr_assert_eq(local->owner, self->id, "shard 0's op runs at home");
    request->ops_pending = request->op_count;
    for (uint32_t index = 1; index < request->op_count; index++) {
        router_op_done(router_op(request, index));
    }
    /* The owner's side of the local op: two steps pending, answered early. */
    local->owner_shard = self;
    local->pending = 2;
    self->ops_in_flight++;
    router_op_answer_early(self, local);
    cr_assert(request->net.complete);
    cr_assert_eq(request->ops_held, 1);
    request_release(request);
    cr_assert_eq(self->requests_in_flight, 1, "kept while its op is held");
    cr_assert_not(router_op_step(self, local));
    cr_assert(router_op_step(self, local));
    router_op_finish(self, local);
    cr_assert_eq(self->ops_in_flight, 0);
    cr_assert_eq(self->requests_in_flight, 0, "freed once released");
}
