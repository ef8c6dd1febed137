/* Float32 reference of the head trainer; see include/mfl/host/head_ref.h. */
#include <math.h>
#include <stdlib.h>

#include "mfl/head.h"
#include "mfl/host/head_ref.h"

void mfl_head_ref_from_quantized(mfl_head_ref_t *h, const int8_t *q, const int32_t *bias, const double *scale)
{
    for (int i = 0; i < h->units; i++) {
        for (int j = 0; j < h->features; j++) {
            h->w[(size_t)i * h->features + j] = (float)(q[(size_t)i * h->features + j] * scale[i]);
        }
        h->b[i] = (float)(bias[i] * (double)h->feature_scale * scale[i]);
    }
}

void mfl_head_ref_logits(const mfl_head_ref_t *h, const int8_t *x, float *z)
{
    for (int i = 0; i < h->units; i++) {
        float acc = h->b[i];
        for (int j = 0; j < h->features; j++) {
            acc += h->w[(size_t)i * h->features + j] * h->feature_scale * (float)(x[j] - h->feature_zp);
        }
        z[i] = acc;
    }
}

void mfl_head_ref_step(mfl_head_ref_t *h, const int8_t *const *x, const uint8_t *y, int batch, float lr)
{
    float g[MFL_HEAD_MAX_BATCH][MFL_HEAD_MAX_UNITS], z[MFL_HEAD_MAX_UNITS];
    for (int k = 0; k < batch; k++) {
        mfl_head_ref_logits(h, x[k], z);
        float max = z[0], sum = 0.0f;
        for (int i = 1; i < h->units; i++) {
            max = z[i] > max ? z[i] : max;
        }
        for (int i = 0; i < h->units; i++) {
            sum += (g[k][i] = expf(z[i] - max));
        }
        for (int i = 0; i < h->units; i++) {
            g[k][i] = g[k][i] / sum - (i == y[k] ? 1.0f : 0.0f);
        }
    }
    const float step = lr / (float)batch;
    for (int i = 0; i < h->units; i++) {
        float gb = 0.0f;
        for (int k = 0; k < batch; k++) {
            gb += g[k][i];
        }
        h->b[i] -= step * gb;
        for (int j = 0; j < h->features; j++) {
            float gw = 0.0f;
            for (int k = 0; k < batch; k++) {
                gw += g[k][i] * h->feature_scale * (float)(x[k][j] - h->feature_zp);
            }
            h->w[(size_t)i * h->features + j] -= step * gw;
        }
    }
}

int mfl_head_ref_predict(const mfl_head_ref_t *h, const int8_t *x)
{
    float z[MFL_HEAD_MAX_UNITS];
    mfl_head_ref_logits(h, x, z);
    int best = 0;
    for (int i = 1; i < h->units; i++) {
        best = z[i] > z[best] ? i : best;
    }
    return best;
}
