/* Activation ranges of a float network over calibration data (host only). */
#include <math.h>
#include <stdlib.h>

#include "mfl/error.h"
#include "mfl/host/train.h"

int mfl_net_calibrate(const mfl_net_t *net, const mfl_dataset_t *ds, const uint32_t *idx, size_t n, float *lo,
                      float *hi)
{
    const size_t stride = mfl_net_max_activation(net);
    float *work = malloc((size_t)(net->n_layers + 1) * stride * sizeof(float));
    if (!work) {
        return MFL_ERR_NO_MEMORY;
    }
    float *acts[MFL_NET_MAX_LAYERS];
    for (int l = 0; l < net->n_layers; l++) {
        acts[l] = work + (size_t)(l + 1) * stride;
        lo[l] = INFINITY;
        hi[l] = -INFINITY;
    }
    const size_t n_in = (size_t)net->in_h * net->in_w * net->in_c;
    for (size_t k = 0; k < n; k++) {
        const uint8_t *px = ds->images + (size_t)(idx ? idx[k] : k) * n_in;
        for (size_t i = 0; i < n_in; i++) {
            work[i] = px[i] / 255.0f;
        }
        mfl_net_forward(net, work, acts);
        for (int l = 0; l < net->n_layers; l++) {
            const mfl_layer_t *L = &net->layers[l];
            const size_t len = (size_t)L->out_h * L->out_w * L->out_c;
            for (size_t i = 0; i < len; i++) {
                lo[l] = acts[l][i] < lo[l] ? acts[l][i] : lo[l];
                hi[l] = acts[l][i] > hi[l] ? acts[l][i] : hi[l];
            }
        }
    }
    free(work);
    return 0;
}
