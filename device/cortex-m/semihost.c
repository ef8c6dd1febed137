/* ARM semihosting calls (semihost.h): BKPT 0xAB with the operation in r0
 * and a pointer to its arguments in r1. */
#include <string.h>

#include "semihost.h"

enum { SYS_OPEN = 0x01, SYS_CLOSE = 0x02, SYS_WRITE0 = 0x04, SYS_WRITE = 0x05, SYS_READ = 0x06, SYS_EXIT = 0x18 };
enum { ADP_STOPPED_APPLICATION_EXIT = 0x20026, ADP_STOPPED_RUNTIME_ERROR = 0x20023 };

static int call(int op, const void *arg)
{
    register int r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

void sh_puts(const char *s)
{
    call(SYS_WRITE0, s);
}

void sh_put_u64(uint64_t v)
{
    char buf[24];
    char *p = buf + sizeof(buf) - 1;
    *p = '\0';
    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    sh_puts(p);
}

void sh_line(const char *name, uint64_t value)
{
    sh_puts(name);
    sh_puts(" ");
    sh_put_u64(value);
    sh_puts("\n");
}

int sh_write_file(const char *path, const void *data, size_t len)
{
    const uintptr_t open_args[3] = {(uintptr_t)path, 5 /* "wb" */, strlen(path)};
    const int fd = call(SYS_OPEN, open_args);
    if (fd < 0) {
        return -1;
    }
    const uintptr_t write_args[3] = {(uintptr_t)fd, (uintptr_t)data, len};
    const int left = call(SYS_WRITE, write_args); /* bytes not written */
    const uintptr_t close_args[1] = {(uintptr_t)fd};
    call(SYS_CLOSE, close_args);
    return left == 0 ? 0 : -1;
}

int sh_read_file(const char *path, void *data, size_t len)
{
    const uintptr_t open_args[3] = {(uintptr_t)path, 1 /* "rb" */, strlen(path)};
    const int fd = call(SYS_OPEN, open_args);
    if (fd < 0) {
        return -1;
    }
    const uintptr_t read_args[3] = {(uintptr_t)fd, (uintptr_t)data, len};
    const int left = call(SYS_READ, read_args); /* bytes not read */
    const uintptr_t close_args[1] = {(uintptr_t)fd};
    call(SYS_CLOSE, close_args);
    return left == 0 ? 0 : -1;
}

void sh_exit(int status)
{
    call(SYS_EXIT, (const void *)(uintptr_t)(status ? ADP_STOPPED_RUNTIME_ERROR : ADP_STOPPED_APPLICATION_EXIT));
    for (;;) {
    }
}
