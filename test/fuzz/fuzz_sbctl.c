/*
 * test/fuzz/fuzz_sbctl.c - libFuzzer target for sbctl's command line (client/sbctl.c):
 * the global options, then the command's options and positional arguments, then
 * consume's --from; `group`'s arguments (client/sbctl_group.c, linked in). Built with
 * -fsanitize=fuzzer (-Dfuzzing=libfuzzer) or linked with replay_main.c, which replays
 * corpus/sbctl in every `meson test` (suite `fuzz`).
 *
 * sbctl's parsers are static functions of a program, so this file includes sbctl.c with
 * its main() renamed (never called: it would connect to a broker) and calls the parsers
 * as main() does, stopping before anything connects. They write their usage and error
 * messages to stdout and stderr; nothing else.
 *
 * Input: the arguments after "sbctl", separated by NUL bytes (at most FUZZ_ARGUMENTS_MAX).
 * Oracles, besides the sanitizers: a command index lies within argv and names no option;
 * the timeout stays within 1 ms .. 1 day; a command's parse returns -1, 0 or the usage exit
 * status, and on success leaves at most the command's positional arguments (each an
 * argument of argv), at most SBCTL_REPEATS_MAX --config and -H values, a partition >= 0 or
 * "any", a partition count >= 1 or "not given", and a count >= -1; `group` parses to -1,
 * 0 or the usage status, and on success names a known action, a GROUP (an argument of argv)
 * exactly when the action is not list, and a --topic with a reset mode and a value >= 0
 * exactly when it is reset-offsets.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int sbctl_main(int argc, char **argv);

#define main sbctl_main
#include "client/sbctl.c"
#undef main

/* Arguments taken from one input. */
#define FUZZ_ARGUMENTS_MAX 64
/* The largest input used. */
#define FUZZ_INPUT_BYTES_MAX (16u << 10)

/* Splits `text` at NUL bytes into argv (argv[0] "sbctl"); returns argc. */
static int
fuzz_split(const uint8_t *text, size_t size, char *copy, char **argv)
{
    memcpy(copy, text, size);
    copy[size] = '\0';
    int argc = 0;
    argv[argc++] = "sbctl";
    for (size_t at = 0; at <= size && argc < FUZZ_ARGUMENTS_MAX + 1;) {
        argv[argc++] = copy + at;
        at += strlen(copy + at) + 1;
    }
    argv[argc] = NULL;
    return argc;
}

/* Whether `pointer` is one of argv[first..argc-1]. */
static bool
fuzz_is_argument(const char *pointer, char **argv, int first, int argc)
{
    for (int index = first; index < argc; index++) {
        if (argv[index] == pointer) {
            return true;
        }
    }
    return false;
}

/* Parses `group`'s arguments as sbctl_group does and checks the outcome. */
static void
fuzz_group(int argc, char **argv)
{
    struct sbctl_group_options options;
    int parsed = sbctl_group_options_parse(argc, argv, &options);
    if (parsed != 0) {
        if (parsed != -1 && parsed != SBCTL_EXIT_USAGE) {
            abort();
        }
        return;
    }
    bool list = strcmp(options.action, "list") == 0;
    bool reset = strcmp(options.action, "reset-offsets") == 0;
    bool known = list || reset || strcmp(options.action, "describe") == 0 ||
                 strcmp(options.action, "delete") == 0;
    if (!known || list != (options.group == NULL) ||
        (options.group != NULL && !fuzz_is_argument(options.group, argv, 0, argc)) ||
        reset != (options.topic != NULL) || reset != (options.mode >= 0) ||
        options.mode > SB_ADMIN_RESET_TIME || options.value < 0) {
        abort();
    }
}

/* Parses the command's arguments as its sbctl_<command> does and checks the outcome. */
static void
fuzz_command(const char *name, int argc, char **argv)
{
    if (strcmp(name, "group") == 0) {
        fuzz_group(argc, argv);
        return;
    }
    int positional_max = strcmp(name, "topic") == 0 ? 3
                         : strcmp(name, "health") == 0 ? 0 : 1;
    struct sbctl_options options;
    const char *positional[3];
    int count = -1;
    int parsed = sbctl_parse(argc, argv, &options, positional, positional_max, &count);
    if (parsed != 0) {
        if (parsed != -1 && parsed != SBCTL_EXIT_USAGE) {
            abort();
        }
        return;
    }
    if (count < 0 || count > positional_max || options.config_count > SBCTL_REPEATS_MAX ||
        options.header_count > SBCTL_REPEATS_MAX ||
        (options.partition < 0 && options.partition != SB_PARTITION_ANY) ||
        options.partitions < 0 || options.count < -1) {
        abort();
    }
    for (int index = 0; index < count; index++) {
        if (!fuzz_is_argument(positional[index], argv, 0, argc)) {
            abort();
        }
    }
    int64_t offset = 0;
    int64_t timestamp = 0;
    if (options.from != NULL) {
        sbctl_parse_from(options.from, &offset, &timestamp);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char copy[FUZZ_INPUT_BYTES_MAX + 1];
    char *argv[FUZZ_ARGUMENTS_MAX + 2];
    if (size > FUZZ_INPUT_BYTES_MAX) {
        return 0;
    }
    int argc = fuzz_split(data, size, copy, argv);
    struct sbctl sbctl = {.brokers = "127.0.0.1:9092", .timeout_ms = 30000};
    int exit_code = -1;
    int command = sbctl_globals(argc, argv, &sbctl, &exit_code);
    if (command < 0) {
        if (exit_code != SBCTL_EXIT_OK && exit_code != SBCTL_EXIT_USAGE) {
            abort();
        }
        return 0;
    }
    if (command >= argc || argv[command][0] == '-' || sbctl.timeout_ms < 1 ||
        sbctl.timeout_ms > 86400000 || sbctl.client != NULL) {
        abort();
    }
    fuzz_command(argv[command], argc - command - 1, argv + command + 1);
    return 0;
}
