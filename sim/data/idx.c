/*
 * IDX dataset files (the MNIST family's format), host only.
 * An IDX file is a big-endian header — two zero bytes, a type byte (0x08 =
 * unsigned byte), a dimension count — then one uint32 per dimension, then
 * the data. Everything declared is checked against the bytes present before
 * anything is allocated.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "mfl/host/dataset.h"
#include "mfl/error.h"

__attribute__((format(printf, 3, 4))) static int data_error(char *msg, size_t cap, const char *fmt, ...)
{
    if (msg && cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, cap, fmt, ap);
        va_end(ap);
    }
    return MFL_ERR_DATA_FORMAT;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Checks an unsigned-byte IDX header of `dims` dimensions; fills dim[]
 * and returns the payload offset, or 0 on error. */
static size_t idx_header(const uint8_t *buf, size_t len, int dims, uint32_t *dim)
{
    const size_t header = 4 + 4 * (size_t)dims;
    if (len < header || buf[0] != 0 || buf[1] != 0 || buf[2] != 0x08 || buf[3] != dims) {
        return 0;
    }
    uint64_t payload = 1;
    for (int i = 0; i < dims; i++) {
        dim[i] = be32(buf + 4 + 4 * i);
        payload *= dim[i];
    }
    return payload == len - header ? header : 0;
}

int mfl_idx_parse(const uint8_t *images, size_t images_len, const uint8_t *labels, size_t labels_len,
                  uint32_t max_label, mfl_dataset_t *ds, char *msg, size_t msg_cap)
{
    uint32_t idim[3], ldim[1];
    memset(ds, 0, sizeof(*ds));
    const size_t ioff = idx_header(images, images_len, 3, idim);
    if (!ioff) {
        return data_error(msg, msg_cap, "images: not an IDX file of unsigned bytes in 3 dimensions whose "
                                        "size matches its header (%zu bytes)", images_len);
    }
    const size_t loff = idx_header(labels, labels_len, 1, ldim);
    if (!loff) {
        return data_error(msg, msg_cap, "labels: not an IDX file of unsigned bytes in 1 dimension whose "
                                        "size matches its header (%zu bytes)", labels_len);
    }
    if (idim[0] != ldim[0] || idim[0] == 0 || idim[1] == 0 || idim[2] == 0) {
        return data_error(msg, msg_cap, "%u images of %ux%u but %u labels", idim[0], idim[1], idim[2], ldim[0]);
    }
    for (uint32_t i = 0; i < ldim[0]; i++) {
        if (labels[loff + i] >= max_label) {
            return data_error(msg, msg_cap, "label %u of sample %u is not below %u", labels[loff + i], i,
                              max_label);
        }
    }
    ds->images = malloc(images_len - ioff);
    ds->labels = malloc(ldim[0]);
    if (!ds->images || !ds->labels) {
        mfl_dataset_free(ds);
        return MFL_ERR_NO_MEMORY;
    }
    memcpy(ds->images, images + ioff, images_len - ioff);
    memcpy(ds->labels, labels + loff, ldim[0]);
    ds->n = idim[0];
    ds->rows = idim[1];
    ds->cols = idim[2];
    return 0;
}

/* Reads a whole file through zlib, which passes plain files through. */
static int read_gz(const char *path, uint8_t **out, size_t *len)
{
    gzFile f = gzopen(path, "rb");
    if (!f) {
        return MFL_ERR_IO;
    }
    size_t cap = 1 << 20, n = 0;
    uint8_t *buf = malloc(cap);
    int err = buf ? 0 : MFL_ERR_NO_MEMORY;
    while (!err) {
        if (n == cap) {
            uint8_t *bigger = realloc(buf, cap * 2);
            if (!bigger) {
                err = MFL_ERR_NO_MEMORY;
                break;
            }
            buf = bigger;
            cap *= 2;
        }
        const int got = gzread(f, buf + n, (unsigned)(cap - n));
        if (got < 0) {
            err = MFL_ERR_IO;
        } else if (got == 0) {
            break;
        }
        n += (size_t)(got > 0 ? got : 0);
    }
    gzclose(f);
    if (err) {
        free(buf);
        return err;
    }
    *out = buf;
    *len = n;
    return 0;
}

int mfl_idx_load(const char *images_path, const char *labels_path, uint32_t max_label, mfl_dataset_t *ds,
                 char *msg, size_t msg_cap)
{
    uint8_t *images = NULL, *labels = NULL;
    size_t ilen = 0, llen = 0;
    const char *failed = images_path;
    int err = read_gz(images_path, &images, &ilen);
    if (!err) {
        failed = labels_path;
        err = read_gz(labels_path, &labels, &llen);
    }
    if (err) {
        snprintf(msg, msg_cap, "cannot read %s: %s", failed, mfl_strerror(err));
    } else {
        err = mfl_idx_parse(images, ilen, labels, llen, max_label, ds, msg, msg_cap);
    }
    free(images);
    free(labels);
    return err;
}

int mfl_fmnist_load(const char *dir, int train, mfl_dataset_t *ds, char *msg, size_t msg_cap)
{
    char images[1024], labels[1024];
    const char *prefix = train ? "train" : "t10k";
    dir = dir ? dir : MFL_FMNIST_DIR;
    snprintf(images, sizeof(images), "%s/%s-images-idx3-ubyte.gz", dir, prefix);
    snprintf(labels, sizeof(labels), "%s/%s-labels-idx1-ubyte.gz", dir, prefix);
    return mfl_idx_load(images, labels, MFL_FMNIST_CLASSES, ds, msg, msg_cap);
}

void mfl_dataset_free(mfl_dataset_t *ds)
{
    if (ds) {
        free(ds->images);
        free(ds->labels);
        memset(ds, 0, sizeof(*ds));
    }
}

const char *mfl_fmnist_class_name(int label)
{
    static const char *const names[MFL_FMNIST_CLASSES] = {
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    };
    return label >= 0 && label < MFL_FMNIST_CLASSES ? names[label] : "?";
}
