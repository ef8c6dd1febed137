/* Reading model files of either kind (see include/mfl/host/model_file.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mfl/host/model_file.h"
#include "mfl/error.h"
#include "mfl/host/host_io.h"
#include "mfl/host/tflite_import.h"

int mfl_model_file_read(const char *path, uint8_t **image, size_t *size, char *msg, size_t msg_cap)
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
