/*
 * broker/api.c - the API registry's table: one entry per API, indexed by key.
 *
 * Adding an API is adding its entry here (key, versions, route, handlers) and
 * its handlers' file (broker/README.md, "Adding an API"). A key whose slot has
 * no decode handler is not served: api_check answers UNKNOWN_API for it. The
 * ranges are the broker's; each lies within what proto/ decodes (sb_api_check),
 * which test/broker/test_api.c checks.
 */
#include "broker/api.h"

#include "core/assert.h"
#include "core/base.h"

static const struct api apis[] = {
    [SB_API_API_VERSIONS] = {.key = SB_API_API_VERSIONS, .version_min = 0, .version_max = 0,
                             .route = API_ROUTE_LOCAL, .decode = api_versions_decode,
                             .encode = api_versions_encode},
    [SB_API_METADATA] = {.key = SB_API_METADATA, .version_min = 0, .version_max = 0,
                         .route = API_ROUTE_LOCAL, .decode = metadata_decode,
                         .encode = metadata_encode},
    [SB_API_PRODUCE] = {.key = SB_API_PRODUCE, .version_min = 0, .version_max = 0,
                        .route = API_ROUTE_OWNERS, .silent_allowed = true,
                        .decode = produce_decode, .execute = produce_execute,
                        .encode = produce_encode},
    [SB_API_FETCH] = {.key = SB_API_FETCH, .version_min = 0, .version_max = 1,
                      .route = API_ROUTE_OWNERS, .decode = fetch_decode,
                      .execute = fetch_execute, .encode = fetch_encode,
                      .gathered = fetch_gathered, .cancel = fetch_cancel},
    [SB_API_LIST_OFFSETS] = {.key = SB_API_LIST_OFFSETS, .version_min = 0, .version_max = 0,
                             .route = API_ROUTE_OWNERS, .decode = list_offsets_decode,
                             .execute = list_offsets_execute, .encode = list_offsets_encode},
    [SB_API_INIT_PRODUCER_ID] = {.key = SB_API_INIT_PRODUCER_ID, .version_min = 0,
                                 .version_max = 0, .route = API_ROUTE_CONTROL,
                                 .decode = init_producer_id_decode,
                                 .encode = init_producer_id_encode},
    [SB_API_CREATE_TOPICS] = {.key = SB_API_CREATE_TOPICS, .version_min = 0, .version_max = 0,
                              .route = API_ROUTE_CONTROL, .decode = create_topics_decode,
                              .encode = create_topics_encode},
    [SB_API_DELETE_TOPICS] = {.key = SB_API_DELETE_TOPICS, .version_min = 0, .version_max = 0,
                              .route = API_ROUTE_CONTROL, .decode = delete_topics_decode,
                              .encode = delete_topics_encode},
    [SB_API_LIST_TOPICS] = {.key = SB_API_LIST_TOPICS, .version_min = 0, .version_max = 0,
                            .route = API_ROUTE_LOCAL, .decode = list_topics_decode,
                            .encode = list_topics_encode},
    [SB_API_DESCRIBE_TOPIC] = {.key = SB_API_DESCRIBE_TOPIC, .version_min = 0,
                               .version_max = 0, .route = API_ROUTE_OWNERS,
                               .decode = describe_topic_decode,
                               .execute = describe_topic_execute,
                               .encode = describe_topic_encode},
    [SB_API_ALTER_TOPIC_CONFIG] = {.key = SB_API_ALTER_TOPIC_CONFIG, .version_min = 0,
                                   .version_max = 0, .route = API_ROUTE_CONTROL,
                                   .decode = alter_topic_config_decode,
                                   .encode = alter_topic_config_encode},
    [SB_API_HEALTH] = {.key = SB_API_HEALTH, .version_min = 0, .version_max = 0,
                       .route = API_ROUTE_OWNERS, .decode = health_decode,
                       .execute = health_execute, .encode = health_encode},
    [SB_API_OFFSET_COMMIT] = {.key = SB_API_OFFSET_COMMIT, .version_min = 0, .version_max = 0,
                              .route = API_ROUTE_COORDINATOR, .decode = offset_commit_decode,
                              .execute = offset_commit_execute,
                              .encode = offset_commit_encode},
    [SB_API_OFFSET_FETCH] = {.key = SB_API_OFFSET_FETCH, .version_min = 0, .version_max = 0,
                             .route = API_ROUTE_COORDINATOR, .decode = offset_fetch_decode,
                             .execute = offset_fetch_execute, .encode = offset_fetch_encode,
                             .gathered = group_body_gathered},
    [SB_API_GROUP_HEARTBEAT] = {.key = SB_API_GROUP_HEARTBEAT, .version_min = 0,
                                .version_max = 0, .route = API_ROUTE_COORDINATOR,
                                .decode = group_heartbeat_decode,
                                .execute = group_heartbeat_execute,
                                .encode = group_heartbeat_encode,
                                .gathered = group_body_gathered},
    [SB_API_LIST_GROUPS] = {.key = SB_API_LIST_GROUPS, .version_min = 0, .version_max = 0,
                            .route = API_ROUTE_OWNERS, .decode = list_groups_decode,
                            .execute = list_groups_execute, .encode = list_groups_encode,
                            .gathered = list_groups_gathered},
    [SB_API_DESCRIBE_GROUP] = {.key = SB_API_DESCRIBE_GROUP, .version_min = 0,
                               .version_max = 0, .route = API_ROUTE_COORDINATOR,
                               .decode = describe_group_decode,
                               .execute = describe_group_execute,
                               .encode = describe_group_encode,
                               .gathered = group_body_gathered},
    [SB_API_DELETE_GROUP] = {.key = SB_API_DELETE_GROUP, .version_min = 0, .version_max = 0,
                             .route = API_ROUTE_COORDINATOR, .decode = delete_group_decode,
                             .execute = delete_group_execute, .encode = delete_group_encode},
    [SB_API_ALTER_GROUP_OFFSETS] = {.key = SB_API_ALTER_GROUP_OFFSETS, .version_min = 0,
                                    .version_max = 0, .route = API_ROUTE_COORDINATOR,
                                    .decode = alter_group_offsets_decode,
                                    .execute = offset_commit_execute,
                                    .encode = offset_commit_encode},
};

const struct api *
api_find(uint16_t key)
{
    if (key >= SB_ARRAY_COUNT(apis) || apis[key].decode == NULL) {
        return NULL;
    }
    const struct api *api = &apis[key];
    SB_ASSERT(api->key == key);
    SB_ASSERT(api->encode != NULL);
    if (api->route == API_ROUTE_OWNERS || api->route == API_ROUTE_COORDINATOR) {
        SB_ASSERT(api->execute != NULL);
    }
    return api;
}

enum sb_wire_error
api_check(uint16_t key, uint16_t version, const struct api **api_out)
{
    const struct api *api = api_find(key);
    *api_out = api;
    if (api == NULL) {
        return SB_WIRE_ERROR_UNKNOWN_API;
    }
    if (version < api->version_min || version > api->version_max) {
        return SB_WIRE_ERROR_UNSUPPORTED_VERSION;
    }
    return SB_WIRE_ERROR_NONE;
}

uint32_t
api_version_ranges(struct sb_api_version_range *out, uint32_t capacity)
{
    uint32_t count = 0;
    for (uint32_t key = 0; key < SB_ARRAY_COUNT(apis); key++) {
        const struct api *api = api_find((uint16_t)key);
        if (api == NULL) {
            continue;
        }
        SB_ASSERT(api->version_min <= api->version_max);
        if (count < capacity) {
            out[count] = (struct sb_api_version_range){api->key, api->version_min,
                                                       api->version_max};
        }
        count++;
    }
    return count;
}

uint32_t
api_key_limit(void)
{
    return SB_ARRAY_COUNT(apis);
}
