/*
 * test/fuzz/fuzz_config.c - libFuzzer target for the broker's settings (broker/config.c):
 * the config file (`--config FILE`) and the command-line flags, as an operator (or a
 * tool writing files for one) may get them wrong. Built with -fsanitize=fuzzer
 * (-Dfuzzing=libfuzzer) or linked with replay_main.c, which replays corpus/config in every
 * `meson test` (suite `fuzz`).
 *
 * Input: byte 0 picks the form of the rest.
 *   even: a config file. It is written to a memfd and loaded through /proc/self/fd/N, so
 *         sb_broker_config_load reads it as it reads any file (nothing touches the disk);
 *   odd:  flags, split at NUL bytes into argv[1..] (at most FUZZ_ARGUMENTS_MAX). Inputs
 *         naming --config (it would open any file the input names) or --help (it only
 *         prints) are skipped.
 *
 * Oracles, besides the sanitizers: the result is 0 or -EINVAL; an error is a non-empty
 * message; after success the string settings are NUL-terminated within their fields; and
 * parsing is deterministic (the same input twice gives the same settings). A file is also
 * checked against fuzz_config_model, the format of docs/configuration.md written again
 * line by line: the same lines are accepted with the same settings, and an error names the
 * file and the model's first bad line ("PATH:N: ...").
 */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "broker/config.h"

/* Flags taken from one input. */
#define FUZZ_ARGUMENTS_MAX 64
/* The largest input used (a config file is a few KiB). */
#define FUZZ_INPUT_BYTES_MAX (64u << 10)
/* The longest line the loader reads whole (broker/config.c's buffer, less its NUL); a longer
 * one is accepted only when a comment starts within these bytes. */
#define FUZZ_LINE_BYTES 511u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Loads `text` as a config file into *config; returns the result, the error in `error`,
 * and the file's name in `path`. */
static int
fuzz_config_file(const uint8_t *text, size_t size, struct sb_broker_config *config,
                 char *path, size_t path_capacity, char *error, size_t error_capacity)
{
    int fd = memfd_create("fuzz_config", MFD_CLOEXEC);
    if (fd < 0 || (size > 0 && write(fd, text, size) != (ssize_t)size)) {
        abort(); /* The harness, not the code under test, failed. */
    }
    snprintf(path, path_capacity, "/proc/self/fd/%d", fd);
    sb_broker_config_defaults(config);
    int result = sb_broker_config_load(config, path, error, error_capacity);
    close(fd);
    return result;
}

static char *
fuzz_config_trim(char *text)
{
    while (isspace((unsigned char)*text)) {
        text++;
    }
    size_t length = strlen(text);
    while (length > 0 && isspace((unsigned char)text[length - 1])) {
        text[--length] = '\0';
    }
    return text;
}

/* The config file format, independently of broker/config.c: lines end at '\n' (a NUL ends
 * what is read of one), '#' starts a comment, blank lines are skipped, every other line is
 * `key = value` with spaces trimmed. Applies the lines to *config (from the defaults);
 * returns 0, or the number of the first bad line. */
static int
fuzz_config_model(const uint8_t *text, size_t size, struct sb_broker_config *config)
{
    sb_broker_config_defaults(config);
    int number = 0;
    for (size_t at = 0; at < size; number++) {
        const uint8_t *end = memchr(text + at, '\n', size - at);
        size_t length = end != NULL ? (size_t)(end - (text + at)) : size - at;
        char line[FUZZ_LINE_BYTES + 1];
        size_t kept = length < FUZZ_LINE_BYTES ? length : FUZZ_LINE_BYTES;
        memcpy(line, text + at, kept);
        line[kept] = '\0';
        at += length + 1;
        char *comment = strchr(line, '#');
        if (length > FUZZ_LINE_BYTES && comment == NULL) {
            return number + 1;
        }
        if (comment != NULL) {
            *comment = '\0';
        }
        char *key = fuzz_config_trim(line);
        if (*key == '\0') {
            continue;
        }
        char *equals = strchr(key, '=');
        if (equals == NULL) {
            return number + 1;
        }
        *equals = '\0';
        char error[256];
        if (sb_broker_config_set(config, fuzz_config_trim(key), fuzz_config_trim(equals + 1),
                                 error, sizeof(error)) != 0) {
            return number + 1;
        }
    }
    return 0;
}

/* A file's error names the file and the model's first bad line. */
static void
fuzz_config_check_file_error(const char *path, const char *error, int bad_line)
{
    size_t path_length = strlen(path);
    if (strncmp(error, path, path_length) != 0 || error[path_length] != ':') {
        abort();
    }
    char *end = NULL;
    long line = strtol(error + path_length + 1, &end, 10);
    if (end == NULL || *end != ':' || line != bad_line) {
        abort();
    }
}

/* The string settings end within their fields. */
static void
fuzz_config_check(const struct sb_broker_config *config)
{
    if (memchr(config->data_dir, '\0', sizeof(config->data_dir)) == NULL ||
        memchr(config->listen_host, '\0', sizeof(config->listen_host)) == NULL ||
        config->data_dir[0] == '\0' || config->listen_host[0] == '\0') {
        abort();
    }
}

static void
fuzz_file(const uint8_t *text, size_t size)
{
    struct sb_broker_config first;
    struct sb_broker_config again;
    char path[64];
    char error[512] = "";
    int result = fuzz_config_file(text, size, &first, path, sizeof(path), error,
                                  sizeof(error));
    int bad_line = fuzz_config_model(text, size, &again);
    if (result != 0) {
        if (result != -EINVAL || bad_line == 0) {
            abort();
        }
        fuzz_config_check_file_error(path, error, bad_line);
        return;
    }
    if (bad_line != 0 || memcmp(&first, &again, sizeof(first)) != 0) {
        abort();
    }
    fuzz_config_check(&first);
    if (fuzz_config_file(text, size, &again, path, sizeof(path), error, sizeof(error)) != 0 ||
        memcmp(&first, &again, sizeof(first)) != 0) {
        abort();
    }
}

/* Splits `text` at NUL bytes into argv (argv[0] "streambus"); returns argc, or 0 for an
 * input to skip. `copy` holds the strings. */
static int
fuzz_flags_split(const uint8_t *text, size_t size, char *copy, char **argv)
{
    memcpy(copy, text, size);
    copy[size] = '\0';
    int argc = 0;
    argv[argc++] = "streambus";
    for (size_t at = 0; at <= size && argc < FUZZ_ARGUMENTS_MAX + 1;) {
        char *argument = copy + at;
        if (strcmp(argument, "--config") == 0 || strcmp(argument, "--help") == 0 ||
            strcmp(argument, "-h") == 0) {
            return 0;
        }
        argv[argc++] = argument;
        at += strlen(argument) + 1;
    }
    argv[argc] = NULL;
    return argc;
}

static void
fuzz_flags(const uint8_t *text, size_t size)
{
    static char copy[FUZZ_INPUT_BYTES_MAX + 1];
    static char copy_again[FUZZ_INPUT_BYTES_MAX + 1];
    char *argv[FUZZ_ARGUMENTS_MAX + 2];
    char *argv_again[FUZZ_ARGUMENTS_MAX + 2];
    int argc = fuzz_flags_split(text, size, copy, argv);
    if (argc == 0 || fuzz_flags_split(text, size, copy_again, argv_again) != argc) {
        return;
    }
    struct sb_broker_config first;
    struct sb_broker_config again;
    char error[512] = "";
    sb_broker_config_defaults(&first);
    int result = sb_broker_config_parse_args(&first, argc, argv, error, sizeof(error));
    if (result != 0) {
        if (result != -EINVAL || error[0] == '\0') {
            abort();
        }
        return;
    }
    fuzz_config_check(&first);
    sb_broker_config_defaults(&again);
    if (sb_broker_config_parse_args(&again, argc, argv_again, error, sizeof(error)) != 0 ||
        memcmp(&first, &again, sizeof(first)) != 0) {
        abort();
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0 || size > FUZZ_INPUT_BYTES_MAX) {
        return 0;
    }
    if (data[0] % 2 == 0) {
        fuzz_file(data + 1, size - 1);
    } else {
        fuzz_flags(data + 1, size - 1);
    }
    return 0;
}
