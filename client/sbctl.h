/*
 * client/sbctl.h - what sbctl's command files share: sbctl.c (main, global
 * options, topic, produce, consume, health) and sbctl_group.c (group). Not
 * installed; sbctl uses only the public API of libstreambus.
 *
 * Exit codes (every command): 0 success; 1 the broker refused or a record
 * failed (e.g. unknown topic, a group with active members); 2 bad usage; 3
 * the broker could not be reached or did not answer in time; 4 consume
 * --count reached the end first. Messages go to stderr, prefixed "sbctl: ".
 */
#ifndef SB_CLIENT_SBCTL_H
#define SB_CLIENT_SBCTL_H

#include <stdbool.h>
#include <stdint.h>

#define SBCTL_EXIT_OK 0
#define SBCTL_EXIT_FAILED 1
#define SBCTL_EXIT_USAGE 2
#define SBCTL_EXIT_UNREACHABLE 3
#define SBCTL_EXIT_SHORT 4 /* consume --count: the end came first, no more within --timeout. */

/* Global options. */
struct sbctl {
    const char *brokers;          /* -b HOST:PORT[,HOST:PORT]. */
    int timeout_ms;               /* --timeout: every wait on the broker. */
    struct sb_client *client;     /* Open client, or NULL. */
};

struct sbctl_options;

/* Prints "sbctl: " and the message, with a newline, to stderr. */
void sbctl_error(const char *format, ...) __attribute__((format(printf, 1, 2)));
/* Reports error for what (e.g. "topic create orders") and returns its exit status. */
int sbctl_fail(const char *what, int error);
/* Parses a decimal int64 >= min (the whole text); false when it is not one. */
bool sbctl_parse_i64(const char *text, int64_t min, int64_t *out);
/* Opens sbctl->client with the global options (and produce's, when options is not NULL);
 * returns an exit status. */
int sbctl_connect(struct sbctl *sbctl, const struct sbctl_options *options);
/* Matches option name at argv[*index] (as "--name value", "--name=value" or a short
 * alias); sets *value and advances *index. Returns 1 matched, 0 not this option, -1 when
 * the value is missing. */
int sbctl_option(int argc, char **argv, int *index, const char *name, const char *alias,
                 const char **value);

/* What `sbctl group` was asked to do (sbctl_group.c). */
struct sbctl_group_options {
    const char *action; /* list, describe, reset-offsets or delete. */
    const char *group;  /* GROUP, or NULL for list. */
    const char *topic;  /* reset-offsets --topic, else NULL. */
    int mode;           /* reset-offsets: SB_ADMIN_RESET_*; else -1. */
    int64_t value;      /* --to-offset N or --to-time MS (>= 0). */
};

/* Parses and checks the arguments after "group" (argv); returns -1 for --help, 0 when
 * options describe a complete command, or SBCTL_EXIT_USAGE after saying what is wrong. */
int sbctl_group_options_parse(int argc, char **argv, struct sbctl_group_options *options);
/* sbctl group ...: argv are the arguments after "group"; returns the exit status. */
int sbctl_group(struct sbctl *sbctl, int argc, char **argv);

#endif /* SB_CLIENT_SBCTL_H */
