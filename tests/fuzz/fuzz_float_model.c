/* Fuzz target for float model files (.mflf). The CRC is patched so that the
 * fuzzer reaches the structural checks behind it; what parses is run once. */
#include <stdlib.h>
#include <string.h>

#include "mfl/common.h"
#include "mfl/host/train.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 8 || size > (1u << 20)) {
        return 0;
    }
    uint8_t *buf = malloc(size);
    memcpy(buf, data, size);
    const uint32_t crc = mfl_crc32(0, buf, size - 4);
    memcpy(buf + size - 4, &crc, 4);
    mfl_net_t net;
    char msg[256];
    if (mfl_net_parse(&net, buf, size, msg, sizeof(msg)) == 0) {
        if (mfl_net_max_activation(&net) < (1u << 20)) {
            float *work = calloc((size_t)(net.n_layers + 1) * mfl_net_max_activation(&net), sizeof(float));
            uint8_t *pixels = calloc((size_t)net.in_h * net.in_w * net.in_c, 1);
            if (work && pixels) {
                mfl_net_predict(&net, pixels, work);
            }
            free(work);
            free(pixels);
        }
        mfl_net_free(&net);
    }
    free(buf);
    return 0;
}
