/*
 * Host-only file I/O and strict parsing (see include/mfl/host/host_io.h).
 * Every MFL_ERR_IO leaves errno as the failing call set it: cleanup on the
 * way out (close, unlink, free) saves and restores it.
 */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mfl/error.h"
#include "mfl/host/host_io.h"

/* Bytes allocated for a file of n bytes: a multiple of 16 (aligned_alloc
 * needs one) with room for two more (the spare byte, and the read that
 * finds the end without growing the buffer). */
static size_t alloc_size(size_t n)
{
    return (n + 2 + 15) & ~(size_t)15;
}

int mfl_read_fd(int fd, uint8_t **data, size_t *size)
{
    struct stat st;
    if (fstat(fd, &st) != 0) {
        return MFL_ERR_IO;
    }
    if (S_ISDIR(st.st_mode)) {
        errno = EISDIR;
        return MFL_ERR_IO;
    }
    /* a regular file's size is a hint (it may change under us); pipes
     * grow the buffer as they deliver */
    size_t cap = alloc_size(S_ISREG(st.st_mode) && st.st_size > 0 ? (size_t)st.st_size : 4080);
    size_t n = 0;
    uint8_t *buf = aligned_alloc(16, cap);
    if (!buf) {
        return MFL_ERR_NO_MEMORY;
    }
    for (;;) {
        if (n + 1 >= cap) { /* keep one spare byte: a full buffer may not be the end */
            uint8_t *bigger = cap <= SIZE_MAX / 2 ? aligned_alloc(16, cap * 2) : NULL;
            if (!bigger) {
                free(buf);
                return MFL_ERR_NO_MEMORY;
            }
            memcpy(bigger, buf, n);
            free(buf);
            buf = bigger;
            cap *= 2;
        }
        const ssize_t got = read(fd, buf + n, cap - 1 - n);
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got < 0) {
            const int saved = errno;
            free(buf);
            errno = saved;
            return MFL_ERR_IO;
        }
        if (got == 0) {
            break;
        }
        n += (size_t)got;
    }
    *data = buf;
    *size = n;
    return 0;
}

int mfl_read_file(const char *path, uint8_t **data, size_t *size)
{
    const int fd = open(path, O_RDONLY);
    if (fd < 0) {
        return MFL_ERR_IO;
    }
    const int err = mfl_read_fd(fd, data, size);
    const int saved = errno;
    close(fd);
    errno = saved;
    return err;
}

int mfl_write_file(const char *path, const void *data, size_t size)
{
    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) {
        errno = ENAMETOOLONG;
        return MFL_ERR_IO;
    }
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        errno = EISDIR; /* rename() would say so only after the data is written */
        return MFL_ERR_IO;
    }
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        return MFL_ERR_IO;
    }
    int saved = 0;
    if (fwrite(data, 1, size, f) != size) {
        saved = errno ? errno : EIO;
    }
    if (fclose(f) != 0 && !saved) {
        saved = errno; /* a full disk often shows only here */
    }
    if (!saved && rename(tmp, path) != 0) {
        saved = errno;
    }
    if (saved) {
        remove(tmp);
        errno = saved;
        return MFL_ERR_IO;
    }
    return 0;
}

int mfl_check_writable(const char *path)
{
    struct stat st;
    if (stat(path, &st) == 0) {
        if (S_ISDIR(st.st_mode)) {
            errno = EISDIR;
            return MFL_ERR_IO;
        }
        const int fd = open(path, O_WRONLY); /* no O_TRUNC: the file stays as it is */
        if (fd < 0) {
            return MFL_ERR_IO;
        }
        close(fd);
        return 0;
    }
    if (errno != ENOENT) {
        return MFL_ERR_IO; /* ENOTDIR, EACCES on the way, ELOOP, ... */
    }
    const int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0) {
        return MFL_ERR_IO;
    }
    close(fd);
    unlink(path);
    return 0;
}

int mfl_make_dirs(const char *dir)
{
    char path[4096];
    if (!*dir) {
        errno = ENOENT;
        return MFL_ERR_IO;
    }
    if ((size_t)snprintf(path, sizeof(path), "%s", dir) >= sizeof(path)) {
        errno = ENAMETOOLONG;
        return MFL_ERR_IO;
    }
    struct stat st;
    for (char *p = path + 1;; p++) {
        const char c = *p;
        if (c != '/' && c != '\0') {
            continue;
        }
        *p = '\0';
        if (mkdir(path, 0755) != 0 && errno != EEXIST) {
            return MFL_ERR_IO;
        }
        /* EEXIST also for a file of that name: only a directory will do */
        if (stat(path, &st) != 0) {
            return MFL_ERR_IO;
        }
        if (!S_ISDIR(st.st_mode)) {
            errno = ENOTDIR;
            return MFL_ERR_IO;
        }
        *p = c;
        if (c == '\0') {
            return 0;
        }
        while (p[1] == '/') {
            p++; /* "runs//x" */
        }
        if (p[1] == '\0') {
            return 0; /* a trailing slash */
        }
    }
}

static int hex_digit(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

int mfl_hex_decode(const char *hex, uint8_t *out, size_t cap, size_t *len)
{
    size_t n = 0;
    while (hex[n]) {
        if (hex_digit(hex[n++]) < 0) {
            return MFL_ERR_INVALID_ARG;
        }
    }
    if (n == 0 || n % 2 || n / 2 > cap) {
        return MFL_ERR_INVALID_ARG;
    }
    for (size_t i = 0; i < n / 2; i++) {
        out[i] = (uint8_t)(hex_digit(hex[2 * i]) << 4 | hex_digit(hex[2 * i + 1]));
    }
    *len = n / 2;
    return 0;
}

int mfl_parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *v)
{
    uint64_t x = 0;
    if (!s || !*s) {
        return MFL_ERR_INVALID_ARG;
    }
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9') {
            return MFL_ERR_INVALID_ARG;
        }
        const uint64_t d = (uint64_t)(*p - '0');
        if (x > (UINT64_MAX - d) / 10) {
            return MFL_ERR_INVALID_ARG; /* above 2^64-1 */
        }
        x = x * 10 + d;
    }
    if (x < lo || x > hi) {
        return MFL_ERR_INVALID_ARG;
    }
    *v = x;
    return 0;
}

int mfl_parse_double(const char *s, double lo, double hi, double *v)
{
    if (!s || !*s) {
        return MFL_ERR_INVALID_ARG;
    }
    /* strtod's own syntax, less what it takes beyond plain decimals:
     * leading space, hex floats, inf and nan */
    for (const char *p = s; *p; p++) {
        if (!strchr("0123456789+-.eE", *p)) {
            return MFL_ERR_INVALID_ARG;
        }
    }
    char *end;
    errno = 0;
    const double x = strtod(s, &end);
    if (end == s || *end || errno == ERANGE || !isfinite(x) || !(x >= lo && x <= hi)) {
        return MFL_ERR_INVALID_ARG;
    }
    *v = x;
    return 0;
}

char *mfl_trim(char *s)
{
    while (isspace((unsigned char)*s)) {
        s++;
    }
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1])) {
        *--e = '\0';
    }
    return s;
}
