/*
 * bench/sb_bench_reference.c - the reference a consume run verifies against: the
 * acknowledged range of every producer of a produce (or e2e) run, read back from
 * that run's --json file, where sb_bench_report.c writes it as
 *   "acknowledged": [{"producer": ID, "first": S, "last": S, "count": N}, ...]
 * (first and last: the smallest and largest acknowledged sequence; count: how many
 * were acknowledged, all of [first, last] unless some sends failed).
 *
 * The file is untrusted input: every entry is checked (first <= last, 1 <= count <=
 * last - first + 1, last inside the verifier's bitmap, at most
 * SB_BENCH_VERIFY_PRODUCERS_MAX entries) and a bad one refuses the whole file. An
 * empty list (nothing was acknowledged) is a valid reference. Start at sb_bench_reference_load.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/sb_bench.h"

/* The largest reference file read (a produce run's JSON is far smaller). */
#define REFERENCE_BYTES_MAX (64u << 20)
/* The JSON key opening the list. */
#define REFERENCE_KEY "\"acknowledged\": ["

/* Reads path into a NUL-terminated buffer (freed by the caller). */
static int
reference_read(const char *path, char **text_out)
{
    FILE *file = fopen(path, "r");
    if (file == NULL) {
        return -errno;
    }
    char *text = malloc(REFERENCE_BYTES_MAX + 1);
    size_t length = text != NULL ? fread(text, 1, REFERENCE_BYTES_MAX + 1, file) : 0;
    int result = text == NULL ? -ENOMEM : ferror(file) ? -EIO : 0;
    fclose(file);
    if (result == 0 && length > REFERENCE_BYTES_MAX) {
        result = -EFBIG;
    }
    if (result < 0) {
        free(text);
        return result;
    }
    text[length] = '\0';
    *text_out = text;
    return 0;
}

/* Parses one entry at *at (advanced past it); false when it is malformed. */
static bool
reference_entry(const char **at, struct sb_bench_acknowledged *entry)
{
    unsigned int producer_id = 0;
    unsigned long long first = 0;
    unsigned long long last = 0;
    unsigned long long count = 0;
    int consumed = 0;
    if (sscanf(*at, " {\"producer\": %u, \"first\": %llu, \"last\": %llu, \"count\": %llu}%n",
               &producer_id, &first, &last, &count, &consumed) != 4 || consumed == 0) {
        return false;
    }
    uint64_t sequences_max = (uint64_t)SB_BENCH_BITMAP_CHUNKS_MAX << SB_BENCH_BITMAP_CHUNK_BITS;
    if (first > last || last >= sequences_max || count == 0 || count > last - first + 1) {
        return false;
    }
    *entry = (struct sb_bench_acknowledged){
        .producer_id = producer_id, .first = first, .last = last, .count = count};
    *at += consumed;
    return true;
}

/* Parses the list that follows REFERENCE_KEY in text. */
static int
reference_parse(const char *text, struct sb_bench_reference *reference)
{
    const char *at = strstr(text, REFERENCE_KEY);
    if (at == NULL) {
        return -EBADMSG;
    }
    at += strlen(REFERENCE_KEY);
    at += strspn(at, " \n");
    if (*at == ']') {
        return 0;
    }
    reference->producers = calloc(SB_BENCH_VERIFY_PRODUCERS_MAX, sizeof(*reference->producers));
    if (reference->producers == NULL) {
        return -ENOMEM;
    }
    for (uint32_t index = 0; index < SB_BENCH_VERIFY_PRODUCERS_MAX; index++) {
        if (!reference_entry(&at, &reference->producers[index])) {
            return -EBADMSG;
        }
        reference->count++;
        at += strspn(at, " \n");
        if (*at == ']') {
            return 0;
        }
        if (*at != ',') {
            return -EBADMSG;
        }
        at++;
    }
    return -EBADMSG;
}

int
sb_bench_reference_load(const char *path, struct sb_bench_reference *reference)
{
    char *text = NULL;
    memset(reference, 0, sizeof(*reference));
    int result = reference_read(path, &text);
    if (result < 0) {
        return result;
    }
    result = reference_parse(text, reference);
    free(text);
    if (result < 0) {
        sb_bench_reference_free(reference);
    }
    return result;
}

void
sb_bench_reference_free(struct sb_bench_reference *reference)
{
    free(reference->producers);
    reference->producers = NULL;
    reference->count = 0;
}
