/* Test helpers (see test_support.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mfl/host/dataset.h"
#include "mfl/host/net_export.h"
#include "mfl/host/tflite_import.h"
#include "mfl/messages.h"
#include "mfl/host/train.h"
#include "test_support.h"

uint8_t *ts_read_shared(const char *relpath, size_t *size)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", MFL_SHARED_DIR, relpath);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fail_msg("missing shared test material: %s", path);
    }
    fseek(f, 0, SEEK_END);
    const long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = aligned_alloc(16, ((size_t)len + 16) & ~(size_t)15);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    *size = (size_t)len;
    return buf;
}

uint8_t *ts_import_mlperf(const char *name, size_t *size, mfl_model_t *model)
{
    char rel[256], msg[256] = "";
    size_t tfl_size;
    snprintf(rel, sizeof(rel), "models/mlperf-tiny/%s.tflite", name);
    uint8_t *tfl = ts_read_shared(rel, &tfl_size);
    uint8_t *image = NULL;
    int err = mfl_tflite_import(tfl, tfl_size, &image, size, msg, sizeof(msg));
    free(tfl);
    if (err) {
        fail_msg("import of %s failed: %s (%s)", name, mfl_strerror(err), msg);
    }
    assert_int_equal(mfl_model_load(model, image, *size), 0);
    return image;
}

void ts_xorshift_bytes(uint32_t *state, int8_t *dst, size_t n)
{
    uint32_t x = *state;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        dst[i] = (int8_t)(x & 0xFF);
    }
    *state = x;
}

void ts_fix_crc(uint8_t *image)
{
    mfl_model_header_t h;
    memcpy(&h, image, sizeof(h));
    h.crc32 = mfl_crc32(0, image + 16, h.file_size - 16);
    memcpy(image, &h, sizeof(h));
}

int ts_small_fmnist_model(uint8_t **image, size_t *size, mfl_model_t *model)
{
    char msg[256];
    mfl_dataset_t train;
    mfl_net_t net;
    float lo[MFL_NET_MAX_LAYERS], hi[MFL_NET_MAX_LAYERS];
    if (mfl_fmnist_load(NULL, 1, &train, msg, sizeof(msg))) {
        return -1;
    }
    if (mfl_net_create(&net, "c4,p,c8s2,d16,d10", 28, 28, 1, msg, sizeof(msg))) {
        mfl_dataset_free(&train);
        return -1;
    }
    mfl_net_init(&net, 3);
    const int err = mfl_net_calibrate(&net, &train, NULL, 200, lo, hi) ||
                    mfl_net_export(&net, lo, hi, 2.0f, image, size, msg, sizeof(msg)) ||
                    mfl_model_load(model, *image, *size);
    mfl_net_free(&net);
    mfl_dataset_free(&train);
    return err ? -1 : 0;
}
