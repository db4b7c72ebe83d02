/*
 * broker/main.c - the `streambus` binary: settings from defaults, --config FILE
 * and flags (broker/config.h), then sb_broker_run until SIGINT/SIGTERM.
 * Exit status: 0 after a clean stop, 1 on a fatal error, 2 on bad usage.
 */
#include <stdio.h>

#include "core/error.h"
#include "core/log.h"
#include "broker/broker.h"
#include "broker/config.h"

int
main(int argc, char **argv)
{
    struct sb_broker_config config;
    sb_broker_config_defaults(&config);
    char error[512];
    int parsed = sb_broker_config_parse_args(&config, argc, argv, error, sizeof(error));
    if (parsed == 1) {
        return 0;
    }
    if (parsed != 0) {
        fprintf(stderr, "streambus: %s\n", error);
        return 2;
    }
    int result = sb_broker_run(&config);
    if (result != 0) {
        fprintf(stderr, "streambus: %s\n", sb_strerror(result));
        return 1;
    }
    return 0;
}
