/*
 * core/error.h - StreamBus's own error codes. Functions return >= 0 on success
 * and a negative value on failure: -errno for system errors, or one of the
 * SB_E* codes below (all below -4096, so they never collide with -errno).
 * Wire error codes are data in responses, never return values.
 */
#ifndef SB_CORE_ERROR_H
#define SB_CORE_ERROR_H

enum sb_error {
    SB_ECORRUPT = -4097,  /* Bytes from disk or network failed a CRC or structural check. */
    SB_ESHUTDOWN = -4098, /* The runtime is stopping; the operation was not started. */
    SB_EFULL = -4099,     /* A bounded queue, pool or budget is exhausted (back-pressure). */
    SB_ECONFIG = -4100,   /* A configuration value is out of range or inconsistent. */
    SB_EIO_SETUP = -4101, /* io_uring could not be set up (see the logged reason). */
};

/* Describes any return code: SB_E* codes, -errno values and 0. Never returns NULL. */
const char *sb_strerror(int code);

#endif /* SB_CORE_ERROR_H */
