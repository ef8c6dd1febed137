/* Fuzz target for the IDX dataset parser: the input is split in two at a
 * position given by its first byte (images | labels). */
#include <stdlib.h>

#include "mfl/host/dataset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) {
        return 0;
    }
    const size_t split = 1 + (size_t)data[0] * (size - 1) / 255;
    mfl_dataset_t ds;
    char msg[256];
    if (mfl_idx_parse(data + 1, split - 1, data + split, size - split, 10, &ds, msg, sizeof(msg)) == 0) {
        mfl_dataset_free(&ds);
    }
    return 0;
}
