/* Host-only whole-file I/O (see include/mfl/host/host_io.h). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mfl/error.h"
#include "mfl/host/host_io.h"

int mfl_read_file(const char *path, uint8_t **data, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        return MFL_ERR_IO;
    }
    int err = MFL_ERR_IO;
    long len = -1;
    if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        /* aligned_alloc needs a multiple of the alignment. */
        uint8_t *buf = aligned_alloc(16, ((size_t)len + 16) & ~(size_t)15);
        err = MFL_ERR_NO_MEMORY;
        if (buf) {
            err = fread(buf, 1, (size_t)len, f) == (size_t)len ? 0 : MFL_ERR_IO;
            if (err) {
                free(buf);
            } else {
                *data = buf;
                *size = (size_t)len;
            }
        }
    }
    fclose(f);
    return err;
}

int mfl_write_file(const char *path, const void *data, size_t size)
{
    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) {
        return MFL_ERR_IO;
    }
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        return MFL_ERR_IO;
    }
    int ok = fwrite(data, 1, size, f) == size;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        remove(tmp);
        return MFL_ERR_IO;
    }
    return 0;
}


int mfl_hex_decode(const char *hex, uint8_t *out, size_t cap, size_t *len)
{
    size_t n = 0;
    while (hex[n]) {
        const char c = hex[n++];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
            return -1;
        }
    }
    if (n % 2 || n / 2 > cap) {
        return -1;
    }
    for (size_t i = 0; i < n / 2; i++) {
        unsigned v = 0;
        sscanf(hex + 2 * i, "%2x", &v);
        out[i] = (uint8_t)v;
    }
    *len = n / 2;
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
