/*
 * ARM semihosting, the few calls the firmware needs to talk to the host
 * under QEMU (-semihosting-config enable=on): text out, writing a file,
 * exiting with a status. No libc stdio (and so no heap) behind it.
 */
#ifndef MFL_SEMIHOST_H
#define MFL_SEMIHOST_H

#include <stddef.h>
#include <stdint.h>

void sh_puts(const char *s);                 /* no newline added */
void sh_put_u64(uint64_t v);
/* "name value\n" */
void sh_line(const char *name, uint64_t value);
/* Writes a whole host file. Returns 0 or -1. */
int sh_write_file(const char *path, const void *data, size_t len);
/* Reads len bytes from the start of a host file. Returns 0 or -1. */
int sh_read_file(const char *path, void *data, size_t len);
/* Ends the QEMU run: status 0 is success, anything else a failure. */
void sh_exit(int status) __attribute__((noreturn));

#endif /* MFL_SEMIHOST_H */
