/*
 * test/fuzz/wire_walk.h - "decode everything" over one frame body: the body
 * decoder of an API and direction, then every iterator to its end, checking
 * what the design promises (a body that decodes never makes an iterator
 * fail; counts match; every string and bytes field lies inside the body).
 * A broken promise aborts (SB_ASSERT), which is what a fuzzer reports.
 *
 * Shared by the fuzz target (fuzz_wire.c) and the Criterion suites
 * (test/proto), which use it to decode truncated and mutated bodies.
 */
#ifndef SB_TEST_FUZZ_WIRE_WALK_H
#define SB_TEST_FUZZ_WIRE_WALK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One body decoder with its iterators. */
struct wire_walker {
    uint16_t api_key;     /* enum sb_api_key. */
    uint16_t api_version; /* The body layout's version. */
    bool response;        /* Response body (else request body). */
    const char *name; /* "produce_request", ... */
    int (*walk)(const uint8_t *body, size_t body_bytes); /* 0 or the decoder's error. */
};

/* Every walker, two per API and version. */
extern const struct wire_walker wire_walkers[];
extern const size_t wire_walker_count;

/* Decodes body as the body of (api_key, api_version, response) and walks it completely.
 * Returns 0, the decoder's error (SB_ECORRUPT), or -ENOENT for an unknown key or version. */
int wire_walk(uint16_t api_key, uint16_t api_version, bool response, const uint8_t *body,
              size_t body_bytes);

#endif /* SB_TEST_FUZZ_WIRE_WALK_H */
