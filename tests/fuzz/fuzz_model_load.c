/*
 * Fuzz target for the device model loader (untrusted model images, e.g. a
 * model received over the air). The CRC is recomputed over the input first,
 * so that the fuzzer reaches the validation behind it instead of stopping
 * at the checksum. Whatever loads is then run once: validation must have
 * made every kernel access safe.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz_run.h"
#include "mfl/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *image = aligned_alloc(16, (size + 16) & ~(size_t)15);
    if (!image) {
        return 0;
    }
    memcpy(image, data, size);
    if (size >= sizeof(mfl_model_header_t)) {
        mfl_model_header_t h;
        memcpy(&h, image, sizeof(h));
        if (h.file_size >= 16 && h.file_size <= size) {
            h.crc32 = mfl_crc32(0, image + 16, h.file_size - 16);
            memcpy(image, &h, sizeof(h));
        }
    }
    mfl_model_t model;
    if (mfl_model_load(&model, image, size) == 0) {
        fuzz_run_once(&model);
    }
    free(image);
    return 0;
}
