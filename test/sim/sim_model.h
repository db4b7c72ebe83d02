/*
 * test/sim/sim_model.h - what sb-sim knows the broker must hold: every record
 * it sent (by id, with its partition), and per partition, offset by offset,
 * which record each acknowledgement or read placed there. Each new claim is
 * checked against the earlier ones; the first contradiction is the seed's
 * failure (sim_model.violation).
 *
 *   durable  acks=all acknowledgements: must survive every crash.
 *   life     everything seen since the broker last started (acks=1, reads):
 *            offsets are assigned once per life; a crash may drop the tail.
 *   placed   per record id, the one offset it may ever occupy: clients never
 *            resend a batch, so a record appears at most once, at one offset.
 */
#ifndef SB_TEST_SIM_MODEL_H
#define SB_TEST_SIM_MODEL_H

#include <stdbool.h>
#include <stdint.h>

/* Partitions of all topics sb-sim produces to. */
#define SIM_SLOTS_MAX 8u
/* Bytes of a record value: id, slot, check. */
#define SIM_VALUE_BYTES 24u

enum sim_claim {
    SIM_CLAIM_ACK_ALL = 0, /* An acks=all produce acknowledged the record here. */
    SIM_CLAIM_ACK_ONE,     /* An acks=1 produce acknowledged it. */
    SIM_CLAIM_READ,        /* A fetch returned it. */
};

/* One partition: offset -> record id + 1 (0: nothing known). */
struct sim_slot {
    uint64_t *durable;    /* acks=all claims (owned). */
    uint64_t *life;       /* Claims since the broker last started (owned). */
    uint64_t capacity;    /* Offsets both arrays cover. */
    int64_t durable_end;  /* Highest acks=all offset + 1. */
};

struct sim_model {
    struct sim_slot slots[SIM_SLOTS_MAX]; /* By slot. */
    uint32_t slot_count;                  /* Slots in use. */
    uint8_t *sent_slot;                   /* By record id: its slot + 1 (owned). */
    int64_t *placed;                      /* By record id: its offset, or -1 (owned). */
    uint64_t sent_count;                  /* Records sent (ids 0 .. sent_count - 1). */
    uint64_t sent_capacity;               /* Entries allocated. */
    uint64_t acked_all;                   /* Records acknowledged with acks=all. */
    uint64_t acked_one;                   /* Records acknowledged with acks=1. */
    uint64_t read;                        /* Records returned by fetches. */
    bool violated;                        /* An invariant broke. */
    char violation[512];                  /* What broke (the first one). */
};

int sim_model_init(struct sim_model *model, uint32_t slot_count);
void sim_model_deinit(struct sim_model *model);
/* Records the first violation (later ones are ignored). */
void sim_model_fail(struct sim_model *model, const char *format, ...)
    __attribute__((format(printf, 2, 3)));
/* A new record for `slot`: returns its id (or UINT64_MAX when out of memory). */
uint64_t sim_model_new_record(struct sim_model *model, uint32_t slot);
/* The value bytes of record `id` (SIM_VALUE_BYTES). */
void sim_model_value(uint64_t id, uint32_t slot, uint8_t *out);
/* Checks and records that `slot` holds, at `offset`, the record whose value is `value`. */
void sim_model_claim(struct sim_model *model, uint32_t slot, int64_t offset,
                     const uint8_t *value, int32_t value_length, enum sim_claim claim);
/* The broker lost power: claims of the last life no longer bind. */
void sim_model_crash(struct sim_model *model);

#endif /* SB_TEST_SIM_MODEL_H */
