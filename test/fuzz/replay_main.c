/*
 * test/fuzz/replay_main.c - the main() of fuzz targets built without a
 * fuzzing engine (meson option fuzzing=none): runs LLVMFuzzerTestOneInput
 * once over every file of the corpus directories (or files) given as
 * arguments, so `meson test` replays every corpus (STYLE.md rule 39). Each
 * input gets a heap buffer of exactly its size, so sanitizers see overreads.
 * Fails when no input was found: a corpus that silently vanished is a bug.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The largest corpus file replayed; seeds are small. */
#define REPLAY_INPUT_BYTES_MAX (16u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
replay_file(const char *path)
{
    FILE *file = fopen(path, "rb");
    if (file == NULL) {
        perror(path);
        return -1;
    }
    uint8_t *data = malloc(REPLAY_INPUT_BYTES_MAX);
    size_t size = data == NULL ? 0 : fread(data, 1, REPLAY_INPUT_BYTES_MAX, file);
    fclose(file);
    if (data == NULL) {
        return -1;
    }
    /* Copy into an allocation of exactly size bytes, so one byte too far is caught. */
    uint8_t *exact = malloc(size > 0 ? size : 1);
    if (exact == NULL) {
        free(data);
        return -1;
    }
    memcpy(exact, data, size);
    free(data);
    LLVMFuzzerTestOneInput(exact, size);
    free(exact);
    return 0;
}

static int
replay_directory(const char *path, int *count)
{
    struct dirent **entries;
    int entry_count = scandir(path, &entries, NULL, alphasort);
    if (entry_count < 0) {
        perror(path);
        return -1;
    }
    int result = 0;
    for (int i = 0; i < entry_count; i++) {
        char child[4096];
        snprintf(child, sizeof(child), "%s/%s", path, entries[i]->d_name);
        struct stat info;
        if (entries[i]->d_name[0] != '.' && stat(child, &info) == 0 && S_ISREG(info.st_mode)) {
            result |= replay_file(child);
            (*count)++;
        }
        free(entries[i]);
    }
    free(entries);
    return result;
}

int
main(int argc, char **argv)
{
    int count = 0;
    int result = 0;
    for (int i = 1; i < argc; i++) {
        struct stat info;
        if (stat(argv[i], &info) != 0) {
            perror(argv[i]);
            return 1;
        }
        if (S_ISDIR(info.st_mode)) {
            result |= replay_directory(argv[i], &count);
        } else {
            result |= replay_file(argv[i]);
            count++;
        }
    }
    printf("replayed %d input(s)\n", count);
    return result == 0 && count > 0 ? 0 : 1;
}
