/*
 * Host-only file I/O and strict text-to-number parsing, shared by the tools,
 * the simulator and the host libraries.
 *
 * Files: every function that fails with MFL_ERR_IO leaves errno as the
 * system call that failed set it (ENOENT, EACCES, EISDIR, ENOSPC, ...), so
 * that a caller can say why with strerror(errno) before it calls anything
 * else that may change errno.
 *
 * Numbers: the parsers take the whole text or nothing. No leading or
 * trailing space, no sign on an unsigned number (strtoull would turn "-1"
 * into 2^64-1), no hexadecimal or octal, no infinity or NaN.
 */
#ifndef MFL_HOST_IO_H
#define MFL_HOST_IO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Reads a whole file into a 16-byte-aligned malloc'd buffer (the caller
 * frees it; one spare byte past *size is allocated). Regular files, pipes
 * and character devices ("/dev/stdin") are read to their end; a directory
 * is refused with errno EISDIR. Returns 0, MFL_ERR_IO (errno says why) or
 * MFL_ERR_NO_MEMORY. */
int mfl_read_file(const char *path, uint8_t **data, size_t *size);

/* The same from an open descriptor (0: standard input), read to its end;
 * the descriptor stays open. */
int mfl_read_fd(int fd, uint8_t **data, size_t *size);

/* Writes a file atomically: a temporary file (path + ".tmp") renamed over
 * the target, so a crash leaves the old file or the new one, never half of
 * one. Returns 0 or MFL_ERR_IO (errno says why). */
int mfl_write_file(const char *path, const void *data, size_t size);

/* Whether path could be written now, checked before slow work that ends
 * by writing it: it must not be a directory, an existing file must be
 * writable, and a new one creatable (it is created and removed again).
 * Returns 0 or MFL_ERR_IO (errno says why: ENOENT for a missing
 * directory, EISDIR, EACCES, EROFS, ...). */
int mfl_check_writable(const char *path);

/* mkdir -p: dir and every parent it lacks (mode 0755). An existing
 * directory is fine; an existing non-directory is ENOTDIR. Returns 0 or
 * MFL_ERR_IO (errno says why). */
int mfl_make_dirs(const char *dir);

/* Hex text (two digits per byte, no separators, either case) to bytes.
 * Returns 0, or MFL_ERR_INVALID_ARG for an empty, odd-length, non-hex or
 * too long (> cap bytes) text; *len is the number of bytes written. */
int mfl_hex_decode(const char *hex, uint8_t *out, size_t cap, size_t *len);

/* A decimal integer in lo..hi: digits only. Returns 0 (*v set) or
 * MFL_ERR_INVALID_ARG (not digits, empty, or outside lo..hi, overflow
 * included); *v is untouched then. */
int mfl_parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *v);

/* A finite decimal number (123, -0.5, 1e-3) in lo..hi (both included).
 * Returns 0 (*v set) or MFL_ERR_INVALID_ARG; *v is untouched then. */
int mfl_parse_double(const char *s, double lo, double hi, double *v);

/* Strips leading and trailing white space in place (config-file lines). */
char *mfl_trim(char *s);

#ifdef __cplusplus
}
#endif

#endif /* MFL_HOST_IO_H */
