/*
 * broker/group_member.c - a consumer group's membership state machine (group_member.h;
 * docs/groups.md has the diagram and the rules in prose).
 *
 * The group keeps one table of partition slots (topics by ascending topic id, each topic's
 * partitions in order) with two member indexes per slot: `target`, where the assignor wants
 * it, and `holder`, the member that was given it and has not confirmed its revocation.
 * Invariants, each kept by the function named:
 * - A slot has at most one holder; a slot gets a holder only while it has none
 *   (reconcile_assign), and loses it only when its holder's heartbeat no longer lists it
 *   (reconcile_revoke) or its holder leaves or is fenced (member_remove). So no partition
 *   is ever assigned to two members at once.
 * - A member's epoch advances to the assignment epoch only once it holds nothing whose
 *   target is another member (reconcile); epochs never go backwards.
 * - The group epoch grows with every change of members, subscriptions or subscribed topics
 *   (heartbeat, member_remove, topics_refresh); the target is recomputed when the group
 *   epoch is ahead of the assignment epoch (target_compute).
 * - A topic stays in the table while a member still holds one of its partitions, even when
 *   nobody subscribes to it any more (topics_refresh), so its revocation is still tracked.
 * Start reading at sb_membership_heartbeat.
 */
#include "broker/group_member.h"

#include <errno.h>
#include <string.h>

#include "core/assert.h"

/* A heartbeat's subscription fields, checked and compiled before anything changes. */
struct subscription {
    bool names_set;                                  /* The request carried topic names. */
    char names[SB_GROUP_SUBSCRIPTION_BYTES_MAX];     /* Each NUL-ended. */
    uint32_t names_bytes;                            /* Bytes used in names. */
    bool regex_set;                                  /* The request carried a regex. */
    char regex_source[SB_GROUP_REGEX_BYTES_MAX + 1]; /* The pattern; "" = none. */
    bool regex_compiled;                             /* regex holds a compiled pattern. */
    regex_t regex;                                   /* The compiled pattern. */
    bool assignor_set;                               /* The request named an assignor. */
    enum sb_group_assignor assignor;                 /* The assignor it named. */
};

static bool ids_valid(const struct sb_group_heartbeat *request);
static void heartbeat_leave(struct sb_membership *membership, int index,
                            const struct sb_group_heartbeat *request, int64_t now_ms,
                            struct sb_group_answer *answer);
static enum sb_group_error subscription_parse(const struct sb_group_heartbeat *request,
                                              struct subscription *subscription);
static void subscription_free(struct subscription *subscription);
static int member_join(struct sb_membership *membership, const struct sb_group_heartbeat *request,
                       int64_t now_ms, enum sb_group_error *error_out);
static enum sb_group_error epoch_check(struct sb_membership *membership, uint32_t index,
                                       const struct sb_group_heartbeat *request);
static bool subscription_apply(struct sb_group_member *member,
                               struct subscription *subscription);
static bool topics_refresh(struct sb_membership *membership, const struct sb_group_topics *topics);
static void target_compute(struct sb_membership *membership);
static void reconcile(struct sb_membership *membership, uint32_t index,
                      const struct sb_group_heartbeat *request, int64_t now_ms);
static void member_remove(struct sb_membership *membership, uint32_t index);
static int topic_find(const struct sb_membership *membership, uint32_t topic_id);

void
sb_membership_init(struct sb_membership *membership, enum sb_group_assignor assignor,
                   int32_t session_timeout_ms)
{
    SB_ASSERT(session_timeout_ms > 0);
    memset(membership, 0, sizeof(*membership));
    membership->assignor = assignor;
    membership->session_timeout_ms = session_timeout_ms;
}

void
sb_membership_hold(struct sb_membership *membership, int64_t until_ms)
{
    SB_ASSERT(!membership->dead);
    membership->hold_until_ms = until_ms;
}

void
sb_membership_deinit(struct sb_membership *membership)
{
    SB_ASSERT(!membership->dead);
    for (uint32_t index = 0; index < SB_GROUP_MEMBERS_MAX; index++) {
        if (membership->members[index].used && membership->members[index].regex_source[0]) {
            regfree(&membership->members[index].regex);
        }
        membership->members[index].used = false;
    }
    membership->member_count = 0;
    membership->dead = true;
}

void
sb_membership_heartbeat(struct sb_membership *membership,
                        const struct sb_group_heartbeat *request,
                        const struct sb_group_topics *topics, int64_t now_ms,
                        struct sb_group_answer *answer, struct sb_group_partition *assigned)
{
    SB_ASSERT(!membership->dead);
    memset(answer, 0, sizeof(*answer));
    answer->member_epoch = request->member_epoch;
    if (!ids_valid(request)) {
        answer->error = SB_GROUP_ERROR_INVALID_REQUEST;
        return;
    }
    int index = sb_membership_find(membership, request->member_id);
    if (request->member_epoch < 0) {
        heartbeat_leave(membership, index, request, now_ms, answer);
        return;
    }
    struct subscription subscription;
    answer->error = subscription_parse(request, &subscription);
    if (answer->error != SB_GROUP_ERROR_NONE) {
        return;
    }
    uint32_t members_before = membership->member_count;
    if (index < 0) {
        index = member_join(membership, request, now_ms, &answer->error);
    } else {
        answer->error = epoch_check(membership, (uint32_t)index, request);
    }
    if (answer->error != SB_GROUP_ERROR_NONE) {
        subscription_free(&subscription);
        return;
    }
    struct sb_group_member *member = &membership->members[index];
    bool changed = membership->member_count != members_before;
    if (subscription_apply(member, &subscription)) {
        changed = true;
        membership->topics_known = false;
    }
    member->heartbeat_ms = now_ms;
    if (request->rebalance_timeout_ms >= 0) {
        member->rebalance_timeout_ms = request->rebalance_timeout_ms;
    }
    if (topics_refresh(membership, topics) || changed) {
        membership->group_epoch++;
    }
    if (membership->group_epoch > membership->assignment_epoch) {
        target_compute(membership);
    }
    reconcile(membership, (uint32_t)index, request, now_ms);
    answer->member_epoch = member->epoch;
    answer->assigned_count = sb_membership_partitions(membership, (uint32_t)index, false,
                                                      assigned);
}

static bool
ids_valid(const struct sb_group_heartbeat *request)
{
    size_t member_bytes = request->member_id == NULL ? 0 : strlen(request->member_id);
    if (member_bytes == 0 || member_bytes > SB_WIRE_MEMBER_ID_BYTES_MAX) {
        return false;
    }
    return request->instance_id == NULL ||
           (request->instance_id[0] != '\0' &&
            strlen(request->instance_id) <= SB_GROUP_INSTANCE_ID_BYTES_MAX);
}

/* Epoch -1 removes the member; -2 keeps a static member's place and partitions for the
 * session timeout (a dynamic member simply leaves). */
static void
heartbeat_leave(struct sb_membership *membership, int index,
                const struct sb_group_heartbeat *request, int64_t now_ms,
                struct sb_group_answer *answer)
{
    if (request->member_epoch != SB_MEMBER_EPOCH_LEAVE &&
        request->member_epoch != SB_MEMBER_EPOCH_STATIC_LEAVE) {
        answer->error = SB_GROUP_ERROR_INVALID_REQUEST;
        return;
    }
    if (index < 0) {
        answer->error = SB_GROUP_ERROR_UNKNOWN_MEMBER_ID;
        return;
    }
    struct sb_group_member *member = &membership->members[index];
    if (request->member_epoch == SB_MEMBER_EPOCH_LEAVE || member->instance_id[0] == '\0') {
        member_remove(membership, (uint32_t)index);
        answer->member_epoch = SB_MEMBER_EPOCH_LEAVE;
        return;
    }
    if (member->epoch != SB_MEMBER_EPOCH_STATIC_LEAVE) {
        member->previous_epoch = member->epoch;
        member->epoch = SB_MEMBER_EPOCH_STATIC_LEAVE;
    }
    member->heartbeat_ms = now_ms;
    SB_ASSERT(member->previous_epoch >= 0);
}

static enum sb_group_error
subscription_parse(const struct sb_group_heartbeat *request, struct subscription *subscription)
{
    memset(subscription, 0, sizeof(*subscription));
    if (request->assignor != NULL) {
        if (!sb_group_assignor_parse(request->assignor, &subscription->assignor)) {
            return SB_GROUP_ERROR_UNSUPPORTED_ASSIGNOR;
        }
        subscription->assignor_set = true;
    }
    subscription->names_set = request->topic_names_set;
    for (uint32_t at = 0; request->topic_names_set && at < request->topic_name_count; at++) {
        size_t bytes = strlen(request->topic_names[at]) + 1;
        if (bytes > SB_GROUP_SUBSCRIPTION_BYTES_MAX - subscription->names_bytes) {
            return SB_GROUP_ERROR_INVALID_REQUEST;
        }
        memcpy(subscription->names + subscription->names_bytes, request->topic_names[at],
               bytes);
        subscription->names_bytes += (uint32_t)bytes;
    }
    if (request->topic_regex == NULL) {
        return SB_GROUP_ERROR_NONE;
    }
    subscription->regex_set = true;
    if (strlen(request->topic_regex) > SB_GROUP_REGEX_BYTES_MAX) {
        return SB_GROUP_ERROR_INVALID_REQUEST;
    }
    memcpy(subscription->regex_source, request->topic_regex, strlen(request->topic_regex) + 1);
    if (request->topic_regex[0] != '\0') {
        if (regcomp(&subscription->regex, request->topic_regex, REG_EXTENDED) != 0) {
            return SB_GROUP_ERROR_INVALID_REGULAR_EXPRESSION;
        }
        subscription->regex_compiled = true;
    }
    return SB_GROUP_ERROR_NONE;
}

static void
subscription_free(struct subscription *subscription)
{
    if (subscription->regex_compiled) {
        regfree(&subscription->regex);
        subscription->regex_compiled = false;
    }
}

/* A join (epoch 0) with an unknown member id: a static member taking back its place (its
 * epoch and partitions, without a new group epoch), or a new member. Returns the member's
 * index, or -1 with *error_out set. */
static int
member_join(struct sb_membership *membership, const struct sb_group_heartbeat *request,
            int64_t now_ms, enum sb_group_error *error_out)
{
    if (request->member_epoch != SB_MEMBER_EPOCH_JOIN) {
        *error_out = SB_GROUP_ERROR_UNKNOWN_MEMBER_ID;
        return -1;
    }
    int free_index = -1;
    for (uint32_t index = 0; index < SB_GROUP_MEMBERS_MAX; index++) {
        struct sb_group_member *member = &membership->members[index];
        if (!member->used) {
            free_index = free_index < 0 ? (int)index : free_index;
        } else if (request->instance_id != NULL &&
                   strcmp(member->instance_id, request->instance_id) == 0) {
            if (member->epoch != SB_MEMBER_EPOCH_STATIC_LEAVE) {
                *error_out = SB_GROUP_ERROR_UNRELEASED_INSTANCE_ID;
                return -1;
            }
            memcpy(member->member_id, request->member_id, strlen(request->member_id) + 1);
            member->epoch = member->previous_epoch;
            return (int)index;
        }
    }
    if (free_index < 0) {
        *error_out = SB_GROUP_ERROR_GROUP_MAX_SIZE_REACHED;
        return -1;
    }
    struct sb_group_member *member = &membership->members[free_index];
    memset(member, 0, sizeof(*member));
    member->used = true;
    memcpy(member->member_id, request->member_id, strlen(request->member_id) + 1);
    if (request->instance_id != NULL) {
        memcpy(member->instance_id, request->instance_id, strlen(request->instance_id) + 1);
    }
    member->rebalance_timeout_ms = membership->session_timeout_ms;
    member->heartbeat_ms = now_ms;
    member->revoke_deadline_ms = -1;
    membership->member_count++;
    membership->topics_known = false;
    SB_ASSERT(membership->member_count <= SB_GROUP_MEMBERS_MAX);
    return free_index;
}

/* The slot of (topic_id, partition) in the group's table, or -ENOENT. */
static int
slot_find(const struct sb_membership *membership, uint32_t topic_id, uint32_t partition)
{
    int at = topic_find(membership, topic_id);
    if (at < 0 || partition >= membership->topics[at].partition_count) {
        return -ENOENT;
    }
    return (int)(membership->topics[at].first_slot + partition);
}

/* A known member's epoch: its own, 0 (it rejoins, having lost what it owned), or its
 * previous one when it lists only partitions it holds (the last answer was lost). */
static enum sb_group_error
epoch_check(struct sb_membership *membership, uint32_t index,
            const struct sb_group_heartbeat *request)
{
    struct sb_group_member *member = &membership->members[index];
    if (request->member_epoch == SB_MEMBER_EPOCH_JOIN) {
        if (member->epoch == SB_MEMBER_EPOCH_STATIC_LEAVE) {
            member->epoch = member->previous_epoch;
        }
        return SB_GROUP_ERROR_NONE;
    }
    if (request->member_epoch == member->epoch) {
        return SB_GROUP_ERROR_NONE;
    }
    if (member->epoch == SB_MEMBER_EPOCH_STATIC_LEAVE ||
        request->member_epoch != member->previous_epoch || !request->owned_set) {
        return SB_GROUP_ERROR_FENCED_MEMBER_EPOCH;
    }
    for (uint32_t at = 0; at < request->owned_count; at++) {
        int slot = slot_find(membership, request->owned[at].topic_id,
                             request->owned[at].partition);
        if (slot < 0 || membership->holder[slot] != index) {
            return SB_GROUP_ERROR_FENCED_MEMBER_EPOCH;
        }
    }
    return SB_GROUP_ERROR_NONE;
}

/* Moves the parsed subscription into the member; returns whether anything changed. */
static bool
subscription_apply(struct sb_group_member *member, struct subscription *subscription)
{
    bool changed = false;
    if (subscription->assignor_set &&
        (!member->assignor_set || member->assignor != subscription->assignor)) {
        member->assignor_set = true;
        member->assignor = subscription->assignor;
        changed = true;
    }
    if (subscription->names_set &&
        (member->topic_names_bytes != subscription->names_bytes ||
         memcmp(member->topic_names, subscription->names, subscription->names_bytes) != 0)) {
        memcpy(member->topic_names, subscription->names, subscription->names_bytes);
        member->topic_names_bytes = subscription->names_bytes;
        changed = true;
    }
    if (subscription->regex_set &&
        strcmp(member->regex_source, subscription->regex_source) != 0) {
        if (member->regex_source[0] != '\0') {
            regfree(&member->regex);
        }
        memcpy(member->regex_source, subscription->regex_source, sizeof(member->regex_source));
        if (subscription->regex_compiled) {
            member->regex = subscription->regex;
            subscription->regex_compiled = false;
        }
        changed = true;
    }
    subscription_free(subscription);
    SB_ASSERT(!subscription->regex_compiled);
    return changed;
}

/* Whether the member subscribes to the topic called `name`. */
static bool
member_matches(const struct sb_group_member *member, const char *name)
{
    for (uint32_t at = 0; at < member->topic_names_bytes;) {
        const char *subscribed = member->topic_names + at;
        if (strcmp(subscribed, name) == 0) {
            return true;
        }
        at += (uint32_t)strlen(subscribed) + 1;
    }
    if (member->regex_source[0] == '\0') {
        return false;
    }
    regmatch_t match;
    return regexec(&member->regex, name, 1, &match, 0) == 0 && match.rm_so == 0 &&
           (size_t)match.rm_eo == strlen(name);
}

static bool
any_member_matches(const struct sb_membership *membership, const char *name)
{
    for (uint32_t index = 0; index < SB_GROUP_MEMBERS_MAX; index++) {
        if (membership->members[index].used &&
            member_matches(&membership->members[index], name)) {
            return true;
        }
    }
    return false;
}

/* A topic of the table being built. */
struct candidate {
    uint32_t topic_id;        /* The broker's topic id. */
    uint32_t partition_count; /* Slots it gets. */
    const char *name;         /* Borrowed from the caller's topics; NULL once deleted. */
};

/* The table being built by topics_refresh. */
struct candidates {
    struct candidate topic[SB_GROUP_TOPICS_MAX]; /* Topics, sorted by id at the end. */
    uint32_t count;                              /* Entries of topic. */
    uint32_t slots;                              /* Partitions across them. */
};

static const struct sb_group_topic *
metadata_find(const struct sb_group_topics *topics, uint32_t topic_id)
{
    for (uint32_t at = 0; at < topics->count; at++) {
        if (topics->topics[at].topic_id == topic_id) {
            return &topics->topics[at];
        }
    }
    return NULL;
}

static void
candidate_add(struct candidates *candidates, uint32_t topic_id, uint32_t partition_count,
              const char *name)
{
    SB_ASSERT(candidates->count < SB_GROUP_TOPICS_MAX);
    SB_ASSERT(candidates->slots + partition_count <= SB_GROUP_PARTITIONS_MAX);
    candidates->topic[candidates->count++] = (struct candidate){topic_id, partition_count, name};
    candidates->slots += partition_count;
}

static bool
topic_held(const struct sb_membership *membership, const struct sb_group_topic_entry *entry)
{
    for (uint32_t slot = entry->first_slot; slot < entry->first_slot + entry->partition_count;
         slot++) {
        if (membership->holder[slot] != SB_GROUP_NOBODY) {
            return true;
        }
    }
    return false;
}

/* First the topics a member still holds a partition of: they keep their slots (and grow
 * while the others' old slots stay reserved) so their revocation stays tracked. */
static void
candidates_held(const struct sb_membership *membership, const struct sb_group_topics *topics,
                struct candidates *candidates)
{
    uint32_t reserved = 0;
    for (uint32_t at = 0; at < membership->topic_count; at++) {
        if (topic_held(membership, &membership->topics[at])) {
            reserved += membership->topics[at].partition_count;
        }
    }
    for (uint32_t at = 0; at < membership->topic_count; at++) {
        const struct sb_group_topic_entry *entry = &membership->topics[at];
        if (!topic_held(membership, entry)) {
            continue;
        }
        reserved -= entry->partition_count;
        const struct sb_group_topic *topic = metadata_find(topics, entry->topic_id);
        uint32_t partition_count = entry->partition_count;
        if (topic != NULL && topic->partition_count > partition_count &&
            candidates->slots + topic->partition_count + reserved <= SB_GROUP_PARTITIONS_MAX) {
            partition_count = topic->partition_count;
        }
        candidate_add(candidates, entry->topic_id, partition_count,
                      topic == NULL ? NULL : topic->name);
    }
    SB_ASSERT(reserved == 0);
}

static bool
candidates_contain(const struct candidates *candidates, uint32_t topic_id)
{
    for (uint32_t at = 0; at < candidates->count; at++) {
        if (candidates->topic[at].topic_id == topic_id) {
            return true;
        }
    }
    return false;
}

/* Then every topic some member subscribes to, in the caller's order, while it fits. */
static void
candidates_subscribed(struct sb_membership *membership, const struct sb_group_topics *topics,
                      struct candidates *candidates)
{
    membership->topics_truncated = false;
    for (uint32_t at = 0; at < topics->count; at++) {
        const struct sb_group_topic *topic = &topics->topics[at];
        if (candidates_contain(candidates, topic->topic_id) ||
            !any_member_matches(membership, topic->name)) {
            continue;
        }
        if (candidates->count == SB_GROUP_TOPICS_MAX ||
            topic->partition_count > SB_GROUP_PARTITIONS_MAX - candidates->slots) {
            membership->topics_truncated = true;
            continue;
        }
        candidate_add(candidates, topic->topic_id, topic->partition_count, topic->name);
    }
}

static void
candidates_sort(struct candidates *candidates)
{
    for (uint32_t at = 1; at < candidates->count; at++) {
        struct candidate moving = candidates->topic[at];
        uint32_t to = at;
        while (to > 0 && candidates->topic[to - 1].topic_id > moving.topic_id) {
            candidates->topic[to] = candidates->topic[to - 1];
            to--;
        }
        candidates->topic[to] = moving;
    }
}

/* The index of topic_id in the group's table, or -ENOENT. */
static int
topic_find(const struct sb_membership *membership, uint32_t topic_id)
{
    uint32_t low = 0;
    uint32_t high = membership->topic_count;
    while (low < high) {
        uint32_t middle = low + (high - low) / 2;
        if (membership->topics[middle].topic_id < topic_id) {
            low = middle + 1;
        } else {
            high = middle;
        }
    }
    if (low == membership->topic_count || membership->topics[low].topic_id != topic_id) {
        return -ENOENT;
    }
    return (int)low;
}

/* Replaces the table by the candidates, keeping each surviving slot's target and holder;
 * returns whether the topics or their partition counts changed. */
static bool
table_rebuild(struct sb_membership *membership, const struct candidates *candidates)
{
    bool changed = candidates->count != membership->topic_count;
    uint32_t first = 0;
    for (uint32_t at = 0; at < candidates->count; at++) {
        const struct candidate *candidate = &candidates->topic[at];
        int old = topic_find(membership, candidate->topic_id);
        const struct sb_group_topic_entry *entry = old < 0 ? NULL : &membership->topics[old];
        changed |= entry == NULL || entry->partition_count != candidate->partition_count;
        for (uint32_t partition = 0; partition < candidate->partition_count; partition++) {
            bool kept = entry != NULL && partition < entry->partition_count;
            uint32_t slot = kept ? entry->first_slot + partition : 0;
            membership->next_target[first + partition] =
                kept ? membership->target[slot] : SB_GROUP_NOBODY;
            membership->next_holder[first + partition] =
                kept ? membership->holder[slot] : SB_GROUP_NOBODY;
        }
        first += candidate->partition_count;
    }
    SB_ASSERT(first == candidates->slots);
    first = 0;
    for (uint32_t at = 0; at < candidates->count; at++) {
        membership->topics[at] = (struct sb_group_topic_entry){
            candidates->topic[at].topic_id, candidates->topic[at].partition_count, first};
        first += candidates->topic[at].partition_count;
    }
    membership->topic_count = candidates->count;
    membership->slot_count = first;
    memcpy(membership->target, membership->next_target, first * sizeof(uint16_t));
    memcpy(membership->holder, membership->next_holder, first * sizeof(uint16_t));
    return changed;
}

/* Rereads the broker's topics when they or the subscriptions changed: rebuilds the table
 * and every member's topic bitmap. Returns whether the topics, their partition counts or
 * what a member subscribes to changed (the group epoch moves on). */
static bool
topics_refresh(struct sb_membership *membership, const struct sb_group_topics *topics)
{
    if (membership->topics_known && membership->topics_version == topics->version) {
        return false;
    }
    struct candidates candidates;
    candidates.count = 0;
    candidates.slots = 0;
    candidates_held(membership, topics, &candidates);
    candidates_subscribed(membership, topics, &candidates);
    candidates_sort(&candidates);
    bool changed = table_rebuild(membership, &candidates);
    for (uint32_t index = 0; index < SB_GROUP_MEMBERS_MAX; index++) {
        struct sb_group_member *member = &membership->members[index];
        uint64_t bits[SB_GROUP_TOPIC_WORDS] = {0};
        for (uint32_t at = 0; member->used && at < candidates.count; at++) {
            const char *name = candidates.topic[at].name;
            if (name != NULL && member_matches(member, name)) {
                bits[at / 64u] |= 1ull << (at % 64u);
            }
        }
        changed |= memcmp(bits, member->topic_bits, sizeof(bits)) != 0;
        memcpy(member->topic_bits, bits, sizeof(bits));
    }
    membership->topics_known = true;
    membership->topics_version = topics->version;
    return changed;
}

static void
target_compute(struct sb_membership *membership)
{
    struct sb_assignor_member members[SB_GROUP_MEMBERS_MAX];
    uint32_t partition_counts[SB_GROUP_TOPICS_MAX];
    for (uint32_t index = 0; index < SB_GROUP_MEMBERS_MAX; index++) {
        const struct sb_group_member *member = &membership->members[index];
        members[index].member_id = member->used ? member->member_id : NULL;
        members[index].topic_bits = member->topic_bits;
    }
    for (uint32_t at = 0; at < membership->topic_count; at++) {
        partition_counts[at] = membership->topics[at].partition_count;
    }
    struct sb_assignor_input input = {members, SB_GROUP_MEMBERS_MAX, partition_counts,
                                      membership->topic_count, membership->target};
    int slots = sb_group_assign(sb_membership_assignor(membership), &input,
                                membership->next_target);
    SB_ASSERT(slots == (int)membership->slot_count);
    memcpy(membership->target, membership->next_target, (size_t)slots * sizeof(uint16_t));
    membership->assignment_epoch = membership->group_epoch;
}

/* Releases what the member no longer lists among its owned partitions but must revoke;
 * returns whether it released any. */
static bool
reconcile_revoke(struct sb_membership *membership, uint32_t index,
                 const struct sb_group_heartbeat *request)
{
    uint16_t *listed = membership->next_target;
    memset(listed, 0, membership->slot_count * sizeof(uint16_t));
    for (uint32_t at = 0; at < request->owned_count; at++) {
        int slot = slot_find(membership, request->owned[at].topic_id,
                             request->owned[at].partition);
        if (slot >= 0) {
            listed[slot] = 1;
        }
    }
    bool released = false;
    for (uint32_t slot = 0; slot < membership->slot_count; slot++) {
        if (membership->holder[slot] == index && membership->target[slot] != index &&
            !listed[slot]) {
            membership->holder[slot] = SB_GROUP_NOBODY;
            released = true;
        }
    }
    return released;
}

/* Gives the member the free slots of its target. */
static void
reconcile_assign(struct sb_membership *membership, uint32_t index)
{
    for (uint32_t slot = 0; slot < membership->slot_count; slot++) {
        if (membership->target[slot] == index && membership->holder[slot] == SB_GROUP_NOBODY) {
            membership->holder[slot] = (uint16_t)index;
        }
    }
}

/* Moves the member towards its target: revoke first; once nothing it holds belongs
 * elsewhere, its epoch reaches the assignment epoch and it gets its free target slots
 * (unless the group is held). While it still must revoke, its rebalance timeout runs, from
 * the last heartbeat that released something (a prompt member whose targets keep taking
 * more away is not fenced). */
static void
reconcile(struct sb_membership *membership, uint32_t index,
          const struct sb_group_heartbeat *request, int64_t now_ms)
{
    struct sb_group_member *member = &membership->members[index];
    SB_ASSERT(member->used);
    SB_ASSERT(member->epoch >= 0);
    bool released = request->owned_set && reconcile_revoke(membership, index, request);
    bool revoking = false;
    for (uint32_t slot = 0; slot < membership->slot_count && !revoking; slot++) {
        revoking = membership->holder[slot] == index && membership->target[slot] != index;
    }
    if (revoking) {
        if (member->revoke_deadline_ms < 0 || released) {
            member->revoke_deadline_ms = now_ms + member->rebalance_timeout_ms;
        }
        return;
    }
    member->revoke_deadline_ms = -1;
    if (member->epoch < membership->assignment_epoch) {
        member->previous_epoch = member->epoch;
        member->epoch = membership->assignment_epoch;
    }
    if (now_ms >= membership->hold_until_ms) {
        reconcile_assign(membership, index);
    }
}

static void
member_remove(struct sb_membership *membership, uint32_t index)
{
    struct sb_group_member *member = &membership->members[index];
    SB_ASSERT(member->used);
    SB_ASSERT(membership->member_count > 0);
    for (uint32_t slot = 0; slot < membership->slot_count; slot++) {
        if (membership->target[slot] == index) {
            membership->target[slot] = SB_GROUP_NOBODY;
        }
        if (membership->holder[slot] == index) {
            membership->holder[slot] = SB_GROUP_NOBODY;
        }
    }
    if (member->regex_source[0] != '\0') {
        regfree(&member->regex);
    }
    memset(member->topic_bits, 0, sizeof(member->topic_bits));
    member->used = false;
    membership->member_count--;
    membership->group_epoch++;
    membership->topics_known = false;
}

uint32_t
sb_membership_expire(struct sb_membership *membership, int64_t now_ms)
{
    SB_ASSERT(!membership->dead);
    uint32_t removed = 0;
    for (uint32_t index = 0; index < SB_GROUP_MEMBERS_MAX; index++) {
        const struct sb_group_member *member = &membership->members[index];
        if (!member->used) {
            continue;
        }
        if (now_ms - member->heartbeat_ms >= membership->session_timeout_ms ||
            (member->revoke_deadline_ms >= 0 && now_ms >= member->revoke_deadline_ms)) {
            member_remove(membership, index);
            removed++;
        }
    }
    return removed;
}

int64_t
sb_membership_deadline(const struct sb_membership *membership)
{
    int64_t deadline = INT64_MAX;
    for (uint32_t index = 0; index < SB_GROUP_MEMBERS_MAX; index++) {
        const struct sb_group_member *member = &membership->members[index];
        if (!member->used) {
            continue;
        }
        int64_t session_ms = member->heartbeat_ms + membership->session_timeout_ms;
        deadline = session_ms < deadline ? session_ms : deadline;
        if (member->revoke_deadline_ms >= 0 && member->revoke_deadline_ms < deadline) {
            deadline = member->revoke_deadline_ms;
        }
    }
    return deadline;
}

enum sb_group_error
sb_membership_check_commit(const struct sb_membership *membership, const char *member_id,
                           int32_t member_epoch)
{
    if (member_epoch == SB_MEMBER_EPOCH_LEAVE) {
        return membership->member_count == 0 ? SB_GROUP_ERROR_NONE
                                             : SB_GROUP_ERROR_UNKNOWN_MEMBER_ID;
    }
    int index = member_id == NULL ? -ENOENT : sb_membership_find(membership, member_id);
    if (index < 0) {
        return SB_GROUP_ERROR_UNKNOWN_MEMBER_ID;
    }
    int32_t epoch = membership->members[index].epoch;
    if (member_epoch == epoch && epoch >= 0) {
        return SB_GROUP_ERROR_NONE;
    }
    if (member_epoch >= 0 && member_epoch < epoch) {
        return SB_GROUP_ERROR_STALE_MEMBER_EPOCH;
    }
    return SB_GROUP_ERROR_FENCED_MEMBER_EPOCH;
}

enum sb_membership_state
sb_membership_state(const struct sb_membership *membership)
{
    if (membership->dead) {
        return SB_MEMBERSHIP_DEAD;
    }
    if (membership->member_count == 0) {
        return SB_MEMBERSHIP_EMPTY;
    }
    if (membership->group_epoch > membership->assignment_epoch) {
        return SB_MEMBERSHIP_ASSIGNING;
    }
    for (uint32_t index = 0; index < SB_GROUP_MEMBERS_MAX; index++) {
        const struct sb_group_member *member = &membership->members[index];
        if (member->used && member->epoch != SB_MEMBER_EPOCH_STATIC_LEAVE &&
            member->epoch != membership->assignment_epoch) {
            return SB_MEMBERSHIP_RECONCILING;
        }
    }
    for (uint32_t slot = 0; slot < membership->slot_count; slot++) {
        if (membership->holder[slot] != membership->target[slot]) {
            return SB_MEMBERSHIP_RECONCILING;
        }
    }
    return SB_MEMBERSHIP_STABLE;
}

int
sb_membership_find(const struct sb_membership *membership, const char *member_id)
{
    for (uint32_t index = 0; index < SB_GROUP_MEMBERS_MAX; index++) {
        if (membership->members[index].used &&
            strcmp(membership->members[index].member_id, member_id) == 0) {
            return (int)index;
        }
    }
    return -ENOENT;
}

uint32_t
sb_membership_partitions(const struct sb_membership *membership, uint32_t index, bool target,
                         struct sb_group_partition *out)
{
    SB_ASSERT(index < SB_GROUP_MEMBERS_MAX);
    uint32_t count = 0;
    for (uint32_t at = 0; at < membership->topic_count; at++) {
        const struct sb_group_topic_entry *entry = &membership->topics[at];
        for (uint32_t partition = 0; partition < entry->partition_count; partition++) {
            uint32_t slot = entry->first_slot + partition;
            bool counted = membership->target[slot] == index &&
                           (target || membership->holder[slot] == index);
            if (counted) {
                out[count++] = (struct sb_group_partition){entry->topic_id, partition};
            }
        }
    }
    SB_ASSERT(count <= SB_GROUP_PARTITIONS_MAX);
    return count;
}

enum sb_group_assignor
sb_membership_assignor(const struct sb_membership *membership)
{
    uint32_t range = 0;
    uint32_t uniform = 0;
    for (uint32_t index = 0; index < SB_GROUP_MEMBERS_MAX; index++) {
        const struct sb_group_member *member = &membership->members[index];
        if (member->used && member->assignor_set) {
            range += member->assignor == SB_GROUP_ASSIGNOR_RANGE;
            uniform += member->assignor == SB_GROUP_ASSIGNOR_UNIFORM;
        }
    }
    if (range == uniform) {
        return membership->assignor;
    }
    return range > uniform ? SB_GROUP_ASSIGNOR_RANGE : SB_GROUP_ASSIGNOR_UNIFORM;
}
