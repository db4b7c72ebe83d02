/*
 * test/storage/model.h - a reference model of what a test appended to a
 * store: per partition, every batch in offset order with the seed (tag) its
 * bytes were made from and whether its durability callback said durable. After
 * a crash or power cut, model_reopen_and_check reads each partition back and
 * demands that every acknowledged batch is there, byte for byte, at its
 * offset, that offsets are dense, and that anything else that survived is the
 * batch appended at that offset. Failure messages carry the model's seed.
 */
#ifndef SB_TEST_STORAGE_MODEL_H
#define SB_TEST_STORAGE_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "storage/store.h"
#include "test/storage/fixture.h"

#define MODEL_PARTITIONS_MAX 32u
#define MODEL_BATCHES_MAX 4096u
/* Largest batch model_batch_build makes (20 records of up to 1400-byte values). */
#define MODEL_BATCH_BYTES_MAX (32u << 10)

/* One batch the test appended. */
struct model_batch {
    struct sb_append append; /* The store's durability notice. */
    int64_t base_offset;     /* Offset the append assigned. */
    uint32_t record_count;   /* Records in it. */
    uint64_t tag;            /* Seed of its bytes (model_batch_build). */
    bool notified;           /* The callback ran. */
    bool acknowledged;       /* It said durable (result 0). */
    struct model *model;     /* Owner. */
    uint64_t append_index;   /* Its place among all appends since model_init (log order). */
};

struct model_partition {
    struct sb_partition *partition;               /* Open in the current store, or NULL. */
    struct model_batch batches[MODEL_BATCHES_MAX]; /* In offset order. */
    uint32_t count;                               /* Batches appended, not known lost. */
    int64_t next_offset;                          /* Offset the next append gets. */
};

struct model {
    uint64_t seed;                        /* Printed by every failed check. */
    struct fixture *fixture;              /* The store (borrowed). */
    uint32_t topic_id;                    /* Topic of every partition. */
    uint32_t partition_count;             /* Partitions 0 .. count-1. */
    struct sb_partition_config config;    /* Their configuration (recovery's lookup too). */
    struct model_partition partitions[MODEL_PARTITIONS_MAX]; /* What was appended. */
    uint64_t appended_total;              /* Appends since model_init. */
    uint64_t acknowledged_total;          /* Acknowledgements by callback since model_init. */
    uint64_t acknowledged_out_of_order;   /* Of those, not the oldest unacknowledged append
                                             (meaningful until the first cut or reopen). */
};

/* Starts an empty model and makes the fixture's recovery lookup answer with `config`. */
void model_init(struct model *model, struct fixture *fixture, uint64_t seed, uint32_t topic_id,
                uint32_t partition_count, const struct sb_partition_config *config);
/* Opens (or finds) every partition in the fixture's current store. */
void model_open_partitions(struct model *model);
/* Builds the batch `tag` names into buffer (MODEL_BATCH_BYTES_MAX): keys, value sizes and
 * bytes, timestamps (fixed, in 2023) all follow from the tag. Returns its bytes. */
uint32_t model_batch_build(uint64_t tag, uint32_t record_count, uint8_t *buffer);
/* Appends batch `tag` to partition `index` and records it on success. Returns
 * sb_partition_append's result (-ENOBUFS and friends record nothing). */
int model_append(struct model *model, uint32_t index, uint32_t record_count, uint64_t tag);
/* Batches appended whose callback has not said durable. */
uint32_t model_unacknowledged(const struct model *model);
/* Opens the fixture's store (after a cut or a close), checks that recovery reported no
 * corruption, reads every partition back against the model, forgets batches that did not
 * survive (asserting none was acknowledged) and marks the survivors acknowledged. */
void model_reopen_and_check(struct model *model);
/* model_reopen_and_check on a store the caller has just opened. */
void model_check_recovered(struct model *model);
/* Checks what a read of partition `index` that asked for `offset` returned: whole batches,
 * the first holding `offset`, then dense, each the model's batch byte for byte. */
void model_check_read(const struct model *model, uint32_t index, int64_t offset,
                      const uint8_t *buffer, uint32_t bytes);
/* The same check on the open store, without reopening (nothing is forgotten). */
void model_check(struct model *model);

#endif /* SB_TEST_STORAGE_MODEL_H */
