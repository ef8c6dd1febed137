/* Device update builder (see include/mfl/update_builder.h). */
#include <string.h>

#include "mfl/error.h"
#include "mfl/update_builder.h"

#define ALIGN8(x) (((x) + 7u) & ~(size_t)7u)

typedef struct {
    size_t delta, shift, values, index, body, total;
} work_layout_t;

static work_layout_t layout(uint16_t rows, uint16_t cols, uint32_t top_k, size_t body_max)
{
    const size_t n = (size_t)rows * cols, k = top_k && top_k < n ? top_k : n;
    work_layout_t L;
    L.delta = 0;
    L.shift = L.delta + ALIGN8(n * 4);
    L.values = L.shift + ALIGN8(rows);
    L.index = L.values + ALIGN8(k);
    L.body = L.index + ALIGN8(k < n ? k * 4 : 0);
    L.total = L.body + ALIGN8(body_max);
    return L;
}

/* An upper bound of the body: fixed fields, scales, values, sparse indices. */
static size_t body_bound(uint16_t rows, uint16_t cols, uint32_t top_k, size_t id_len)
{
    const size_t n = (size_t)rows * cols, k = top_k && top_k < n ? top_k : n;
    return 64 + id_len + rows + k + (k < n ? 5 * k + 8 : 0);
}

size_t mfl_update_work_size(const mfl_learner_t *l, uint32_t top_k)
{
    const uint16_t rows = l->head.units, cols = (uint16_t)(l->head.features + 1);
    return layout(rows, cols, top_k, body_bound(rows, cols, top_k, MFL_DEVICE_ID_MAX)).total;
}

size_t mfl_update_max_size(const mfl_learner_t *l, size_t device_id_len)
{
    const uint16_t rows = l->head.units, cols = (uint16_t)(l->head.features + 1);
    return mfl_cose_sign1_size(device_id_len, body_bound(rows, cols, 0, device_id_len));
}

int mfl_update_build(const mfl_learner_t *l, const mfl_update_params_t *p, int32_t *residual,
                     const mfl_es256_private_t *key, void *work, size_t work_size, uint8_t *dst, size_t cap,
                     size_t *len)
{
    if (!l || !p || !key || !work || !len || !p->device_id || p->device_id_len == 0 ||
        p->device_id_len > MFL_DEVICE_ID_MAX) {
        return MFL_ERR_INVALID_ARG;
    }
    if (l->samples == 0) {
        return MFL_ERR_NO_SAMPLES; /* the aggregator refuses updates of 0 samples (microfl.cddl) */
    }
    const uint16_t rows = l->head.units, cols = (uint16_t)(l->head.features + 1);
    const size_t body_max = body_bound(rows, cols, p->top_k, p->device_id_len);
    const work_layout_t L = layout(rows, cols, p->top_k, body_max);
    if (work_size < L.total || (uintptr_t)work % 8) {
        return MFL_ERR_BUFFER_TOO_SMALL;
    }
    uint8_t *w = work;
    int32_t *delta = (int32_t *)(void *)(w + L.delta);
    for (uint16_t r = 0; r < rows; r++) {
        int err = mfl_learner_delta(l, r, delta + (size_t)r * cols);
        if (err) {
            return err;
        }
    }
    const uint32_t n = (uint32_t)rows * cols;
    const uint32_t k = p->top_k && p->top_k < n ? p->top_k : n;
    mfl_update_t u;
    memset(&u, 0, sizeof(u));
    u.device_id = p->device_id;
    u.device_id_len = p->device_id_len;
    u.base_version = p->base_version;
    u.counter = p->counter;
    u.samples = l->samples;
    u.delta.shift = (int8_t *)(w + L.shift);
    u.delta.values = (int8_t *)(w + L.values);
    u.delta.index = k < n ? (uint32_t *)(void *)(w + L.index) : NULL;
    int err = mfl_delta_quantize(delta, residual, rows, cols, k, &u.delta);
    return err ? err : mfl_update_sign(&u, key, w + L.body, body_max, dst, cap, len);
}
