/*
 * core/error.c - text for StreamBus error codes and negated errno values.
 */
#include "core/error.h"

#include <string.h>

const char *
sb_strerror(int code)
{
    switch (code) {
    case 0:
        return "success";
    case SB_ECORRUPT:
        return "corrupt data (checksum or structure check failed)";
    case SB_ESHUTDOWN:
        return "shutting down";
    case SB_EFULL:
        return "resource limit reached (back-pressure)";
    case SB_ECONFIG:
        return "invalid configuration";
    case SB_EIO_SETUP:
        return "io_uring could not be set up";
    default:
        break;
    }
    if (code < 0 && code > -4096) {
        return strerrordesc_np(-code) != NULL ? strerrordesc_np(-code) : "unknown errno";
    }
    return "unknown error";
}
