/*
 * The clock and entropy ports on POSIX hosts, for the device's sync
 * (include/mfl/sync.h) and its DTLS port (include/mfl/dtls_mbedtls.h).
 * Host only.
 */
#ifndef MFL_POSIX_PLATFORM_H
#define MFL_POSIX_PLATFORM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The monotonic clock (CLOCK_MONOTONIC) in milliseconds, wrapping at 2^32. */
uint32_t mfl_posix_clock_ms(void);

/* len bytes from the kernel's random source (getrandom(2)); ctx unused.
 * Returns 0, or -1 when the kernel gives fewer (the Mbed TLS entropy
 * callback's convention: nonzero is a failure). */
int mfl_posix_entropy(void *ctx, unsigned char *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* MFL_POSIX_PLATFORM_H */
