/* Clock and entropy on POSIX hosts (include/mfl/host/posix_platform.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <sys/random.h>
#include <time.h>

#include "mfl/host/posix_platform.h"

uint32_t mfl_posix_clock_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint32_t)((uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u);
}

int mfl_posix_entropy(void *ctx, unsigned char *buf, size_t len)
{
    (void)ctx;
    size_t got = 0;
    while (got < len) {
        const ssize_t n = getrandom(buf + got, len - got, 0);
        if (n < 0 && errno != EINTR) {
            return -1;
        }
        got += n > 0 ? (size_t)n : 0;
    }
    return 0;
}
