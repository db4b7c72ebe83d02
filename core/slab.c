/*
 * core/slab.c - lazily carved object slabs (slab.h). Invariants: in_use <=
 * carved <= capacity; every object on the free list lies inside the carved
 * part and is not in use. Under AddressSanitizer a given-back object is
 * poisoned until it is taken again, so a use after free is reported (the
 * macros do nothing in other builds).
 */
#include "core/slab.h"

#include <errno.h>
#include <sanitizer/asan_interface.h>
#include <string.h>

#include "core/assert.h"
#include "core/pages.h"

int
sb_slab_init(struct sb_slab *slab, size_t object_bytes, uint64_t capacity)
{
    SB_ASSERT(object_bytes >= sizeof(void *));
    SB_ASSERT(capacity > 0);
    memset(slab, 0, sizeof(*slab));
    slab->memory = sb_pages_map(object_bytes * capacity);
    if (slab->memory == NULL) {
        return -ENOMEM;
    }
    slab->object_bytes = object_bytes;
    slab->capacity = capacity;
    return 0;
}

void
sb_slab_deinit(struct sb_slab *slab)
{
    ASAN_UNPOISON_MEMORY_REGION(slab->memory, slab->object_bytes * slab->carved);
    sb_pages_unmap(slab->memory, slab->object_bytes * slab->capacity);
    memset(slab, 0, sizeof(*slab));
}

void *
sb_slab_take(struct sb_slab *slab)
{
    uint8_t *object = slab->free;
    if (object != NULL) {
        ASAN_UNPOISON_MEMORY_REGION(object, slab->object_bytes);
        memcpy(&slab->free, object, sizeof(void *));
        memset(object, 0, slab->object_bytes);
    } else if (slab->carved < slab->capacity) {
        object = slab->memory + slab->carved * slab->object_bytes; /* Still zero. */
        slab->carved++;
    } else {
        return NULL;
    }
    slab->in_use++;
    return object;
}

void
sb_slab_give(struct sb_slab *slab, void *object)
{
    uint8_t *byte = object;
    SB_ASSERT(byte >= slab->memory &&
              byte < slab->memory + slab->carved * slab->object_bytes);
    SB_ASSERT((size_t)(byte - slab->memory) % slab->object_bytes == 0);
    SB_ASSERT(slab->in_use > 0);
    memcpy(object, &slab->free, sizeof(void *));
    ASAN_POISON_MEMORY_REGION(object, slab->object_bytes);
    slab->free = object;
    slab->in_use--;
}
