/* Reading model files of either kind (see include/mfl/host/model_file.h). */
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "mfl/host/model_file.h"
#include "mfl/error.h"
#include "mfl/host/host_io.h"
#include "mfl/host/tflite_import.h"

#define MFL_MODEL_FILE_MAX (256ll << 20)

int mfl_model_file_read(const char *path, uint8_t **image, size_t *size, char *msg, size_t msg_cap)
{
    uint8_t *raw = NULL;
    size_t raw_size = 0;
    struct stat st;
    /* a model is a regular file of bounded size: /dev/zero or a FIFO
     * would otherwise be read until memory runs out */
    if (stat(path, &st) != 0) {
        snprintf(msg, msg_cap, "cannot read %s: %s", path, strerror(errno));
        return MFL_ERR_IO;
    }
    if (S_ISDIR(st.st_mode)) {
        errno = EISDIR;
        snprintf(msg, msg_cap, "cannot read %s: %s", path, strerror(errno));
        return MFL_ERR_IO;
    }
    if (!S_ISREG(st.st_mode) || st.st_size > MFL_MODEL_FILE_MAX) {
        snprintf(msg, msg_cap, "%s: %s", path, !S_ISREG(st.st_mode) ? "not a regular file"
                                                                    : "larger than a model can be (256 MiB)");
        return MFL_ERR_INVALID_ARG;
    }
    int err = mfl_read_file(path, &raw, &raw_size);
    if (err) {
        snprintf(msg, msg_cap, "cannot read %s: %s", path, err == MFL_ERR_IO ? strerror(errno) : mfl_strerror(err));
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
