/* Small helpers shared by every module. */
#ifndef MFL_COMMON_H
#define MFL_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "mfl/config.h"
#include "mfl/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* CRC-32 as zlib's crc32(): start with crc = 0, feed chunks in order. */
uint32_t mfl_crc32(uint32_t crc, const void *data, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* MFL_COMMON_H */
