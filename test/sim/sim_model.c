/*
 * test/sim/sim_model.c - see sim_model.h.
 */
#include "test/sim/sim_model.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/endian.h"

#define MODEL_CHECK_SALT 0x9e3779b97f4a7c15ull

int
sim_model_init(struct sim_model *model, uint32_t slot_count)
{
    memset(model, 0, sizeof(*model));
    model->slot_count = slot_count;
    return slot_count <= SIM_SLOTS_MAX ? 0 : -EINVAL;
}

void
sim_model_deinit(struct sim_model *model)
{
    for (uint32_t slot = 0; slot < model->slot_count; slot++) {
        sb_free(model->slots[slot].durable);
        sb_free(model->slots[slot].life);
    }
    sb_free(model->sent_slot);
    sb_free(model->placed);
}

void
sim_model_fail(struct sim_model *model, const char *format, ...)
{
    if (model->violated) {
        return;
    }
    model->violated = true;
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(model->violation, sizeof(model->violation), format, arguments);
    va_end(arguments);
}

/* Grows an array of `count` elements of `size` bytes to `wanted`, zero-filling. */
static void *
model_grow(void *array, uint64_t count, uint64_t wanted, size_t size)
{
    void *grown = sb_alloc((size_t)wanted * size);
    if (grown == NULL) {
        return NULL;
    }
    if (count > 0) {
        memcpy(grown, array, (size_t)count * size);
    }
    memset((uint8_t *)grown + count * size, 0, (size_t)(wanted - count) * size);
    sb_free(array);
    return grown;
}

uint64_t
sim_model_new_record(struct sim_model *model, uint32_t slot)
{
    if (model->sent_count == model->sent_capacity) {
        uint64_t wanted = model->sent_capacity == 0 ? 4096 : model->sent_capacity * 2;
        uint8_t *slots = model_grow(model->sent_slot, model->sent_count, wanted, 1);
        model->sent_slot = slots != NULL ? slots : model->sent_slot;
        int64_t *placed = model_grow(model->placed, model->sent_count, wanted, 8);
        model->placed = placed != NULL ? placed : model->placed;
        if (slots == NULL || placed == NULL) {
            return UINT64_MAX;
        }
        model->sent_capacity = wanted;
    }
    uint64_t id = model->sent_count++;
    model->sent_slot[id] = (uint8_t)(slot + 1);
    model->placed[id] = -1;
    return id;
}

static uint64_t
model_check(uint64_t id, uint32_t slot)
{
    uint64_t mixed = (id + MODEL_CHECK_SALT) * 0xbf58476d1ce4e5b9ull;
    return (mixed ^ (mixed >> 31) ^ slot) * 0x94d049bb133111ebull;
}

void
sim_model_value(uint64_t id, uint32_t slot, uint8_t *out)
{
    sb_store_le64(out, id);
    sb_store_le64(out + 8, slot);
    sb_store_le64(out + 16, model_check(id, slot));
}

/* Makes room for `offset` in both arrays of `slot`. */
static bool
model_slot_reserve(struct sim_slot *slot, int64_t offset)
{
    if ((uint64_t)offset < slot->capacity) {
        return true;
    }
    uint64_t wanted = slot->capacity == 0 ? 4096 : slot->capacity;
    while (wanted <= (uint64_t)offset) {
        wanted *= 2;
    }
    uint64_t *durable = model_grow(slot->durable, slot->capacity, wanted, 8);
    slot->durable = durable != NULL ? durable : slot->durable;
    uint64_t *life = model_grow(slot->life, slot->capacity, wanted, 8);
    slot->life = life != NULL ? life : slot->life;
    if (durable == NULL || life == NULL) {
        return false;
    }
    slot->capacity = wanted;
    return true;
}

/* The record id in `value`, or UINT64_MAX (violation recorded) if it is not one sb-sim sent
 * to `slot`. */
static uint64_t
model_identify(struct sim_model *model, uint32_t slot, int64_t offset, const uint8_t *value,
               int32_t value_length)
{
    if (value == NULL || value_length != (int32_t)SIM_VALUE_BYTES) {
        sim_model_fail(model, "slot %u offset %lld: a record of %d bytes, not one sb-sim sent",
                       slot, (long long)offset, value_length);
        return UINT64_MAX;
    }
    uint64_t id = sb_load_le64(value);
    uint64_t value_slot = sb_load_le64(value + 8);
    if (value_slot != slot || sb_load_le64(value + 16) != model_check(id, slot) ||
        id >= model->sent_count || model->sent_slot[id] != slot + 1) {
        sim_model_fail(model, "slot %u offset %lld: record id %llu (slot %llu) was never sent "
                       "to this partition, or its bytes are corrupt", slot, (long long)offset,
                       (unsigned long long)id, (unsigned long long)value_slot);
        return UINT64_MAX;
    }
    return id;
}

static const char *const claim_names[] = {"acks=all acknowledgement", "acks=1 acknowledgement",
                                          "fetch"};

void
sim_model_claim(struct sim_model *model, uint32_t slot_index, int64_t offset,
                const uint8_t *value, int32_t value_length, enum sim_claim claim)
{
    struct sim_slot *slot = &model->slots[slot_index];
    uint64_t id = model_identify(model, slot_index, offset, value, value_length);
    if (id == UINT64_MAX || offset < 0 || !model_slot_reserve(slot, offset)) {
        sim_model_fail(model, "slot %u: bad offset %lld or out of memory", slot_index,
                       (long long)offset);
        return;
    }
    const char *how = claim_names[claim];
    if (model->placed[id] >= 0 && model->placed[id] != offset) {
        sim_model_fail(model, "slot %u: record %llu at offset %lld (%s), earlier at offset %lld",
                       slot_index, (unsigned long long)id, (long long)offset, how,
                       (long long)model->placed[id]);
        return;
    }
    if (slot->durable[offset] != 0 && slot->durable[offset] != id + 1) {
        sim_model_fail(model, "slot %u offset %lld: acknowledged (acks=all) record %llu lost; "
                       "a %s now finds record %llu there", slot_index, (long long)offset,
                       (unsigned long long)(slot->durable[offset] - 1), how,
                       (unsigned long long)id);
        return;
    }
    if (slot->life[offset] != 0 && slot->life[offset] != id + 1) {
        sim_model_fail(model, "slot %u offset %lld: record %llu, then record %llu (%s) in one "
                       "broker life", slot_index, (long long)offset,
                       (unsigned long long)(slot->life[offset] - 1), (unsigned long long)id, how);
        return;
    }
    model->placed[id] = offset;
    slot->life[offset] = id + 1;
    if (claim == SIM_CLAIM_ACK_ALL && slot->durable[offset] == 0) {
        slot->durable[offset] = id + 1;
        slot->durable_end = offset + 1 > slot->durable_end ? offset + 1 : slot->durable_end;
        model->acked_all++;
    }
    model->acked_one += claim == SIM_CLAIM_ACK_ONE;
    model->read += claim == SIM_CLAIM_READ;
}

void
sim_model_crash(struct sim_model *model)
{
    for (uint32_t index = 0; index < model->slot_count; index++) {
        struct sim_slot *slot = &model->slots[index];
        if (slot->capacity > 0) {
            memcpy(slot->life, slot->durable, (size_t)slot->capacity * 8);
        }
    }
    /* A record placed in the lost tail is gone for good: it is never sent again. */
}
