/* Host-only whole-file I/O shared by the tools and host libraries. */
#ifndef MFL_HOST_IO_H
#define MFL_HOST_IO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Reads a whole file into a 16-byte-aligned malloc'd buffer (the caller
 * frees it). Returns 0, MFL_ERR_IO or MFL_ERR_NO_MEMORY. */
int mfl_read_file(const char *path, uint8_t **data, size_t *size);

/* Writes a file atomically: a temporary file renamed over the target, so a
 * crash leaves the old file or the new one, never half of one.
 * Returns 0 or MFL_ERR_IO. */
int mfl_write_file(const char *path, const void *data, size_t size);

/* Hex text (two digits per byte, no separators) to bytes. Returns 0, or -1
 * for an empty, odd-length, non-hex or too long (> cap bytes) text. */
int mfl_hex_decode(const char *hex, uint8_t *out, size_t cap, size_t *len);

/* Strips leading and trailing white space in place (config-file lines). */
char *mfl_trim(char *s);

#ifdef __cplusplus
}
#endif

#endif /* MFL_HOST_IO_H */
