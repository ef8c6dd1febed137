/* Whole-file I/O for the host tools (see file_util.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "file_util.h"
#include "mfl/error.h"
#include "mfl/tflite_import.h"

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

int mfl_load_model_file(const char *path, uint8_t **image, size_t *size, char *msg, size_t msg_cap)
{
    uint8_t *raw = NULL;
    size_t raw_size = 0;
    int err = mfl_read_file(path, &raw, &raw_size);
    if (err) {
        snprintf(msg, msg_cap, "cannot read %s", path);
        return err;
    }
    if (raw_size >= 8 && memcmp(raw + 4, "TFL3", 4) == 0) {
        err = mfl_tflite_import(raw, raw_size, image, size, msg, msg_cap);
        free(raw);
        return err;
    }
    *image = raw;
    *size = raw_size;
    return 0;
}
