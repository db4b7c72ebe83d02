/*
 * core/slab.h - a fixed number of same-size objects in memory that costs
 * nothing until used: the slab is mapped with sb_pages_map (zero, untouched)
 * and objects are carved from it in order the first time they are needed,
 * then recycled through a free list threaded through freed objects. A store
 * sized for 100,000 segments but holding ten pays for ten. One owner; not
 * thread-safe.
 */
#ifndef SB_CORE_SLAB_H
#define SB_CORE_SLAB_H

#include <stddef.h>
#include <stdint.h>

struct sb_slab {
    uint8_t *memory;     /* capacity * object_bytes bytes (owned, sb_pages_map). */
    size_t object_bytes; /* Size of one object (at least a pointer). */
    uint64_t capacity;   /* Objects the slab can hold. */
    uint64_t carved;     /* Objects handed out at least once; memory beyond is untouched. */
    uint64_t in_use;     /* Objects handed out and not given back. */
    void *free;          /* Given-back objects, linked through their first bytes. */
};

/* Maps room for `capacity` objects of `object_bytes`. Returns 0 or -ENOMEM. */
int sb_slab_init(struct sb_slab *slab, size_t object_bytes, uint64_t capacity);
/* Unmaps the memory; every object becomes invalid. Safe on a zeroed or failed slab. */
void sb_slab_deinit(struct sb_slab *slab);
/* Returns a zeroed object, or NULL when all `capacity` are in use. */
void *sb_slab_take(struct sb_slab *slab);
/* Gives an object from this slab back. */
void sb_slab_give(struct sb_slab *slab, void *object);

#endif /* SB_CORE_SLAB_H */
