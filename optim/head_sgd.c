/*
 * Integer-only SGD of the head (see include/mfl/head.h, docs/learning.md).
 *
 * Formats and bounds:
 *  - master W, b: Q8.24 int32 (|real| < 128, resolution 6e-8);
 *  - feature offsets x~ = q - zp: |x~| <= 255, int16;
 *  - logits in Q8.24 from a 16-bit shadow of the master (head_forward.c);
 *  - probabilities and gradients g = p - onehot(y): Q0.15 int16, in
 *    [-2^15, 2^15 - 1] as p <= 32767;
 *  - a weight's batch sum sum_k g_k x~_k: pairs of 16 x 16 products (SMLAD
 *    on Armv7E-M), |.| <= 2^15 * 255 * 64 < 2^29, int32;
 *  - the step lr * s_x / B * 2^(24 - 15) is one mfl_scale_t applied to it.
 */
#include "dsp.h" /* device/kernels: SMLAD, or its C emulation on hosts */
#include "head_internal.h"
#include "mfl/error.h"
#include "mfl/quant.h"

static int32_t sat32(int64_t v)
{
    return v > INT32_MAX ? INT32_MAX : v < INT32_MIN ? INT32_MIN : (int32_t)v;
}

/* The step's scratch (mfl_head_step_scratch_size), 4-byte aligned parts. */
typedef struct {
    int16_t *g;         /* [units][stride] */
    int16_t *w16;       /* [units][shadow width] */
    int16_t *xt;        /* [shadow width]: one sample's feature offsets */
    mfl_scale_t *scale; /* [units] */
} scratch_t;

static size_t grad_bytes(uint16_t units, int batch)
{
    return (size_t)units * (size_t)MFL_HEAD_GRAD_STRIDE(batch) * sizeof(int16_t);
}

static size_t shadow_bytes(uint16_t rows, uint16_t features)
{
    return (size_t)rows * mfl_head_shadow_width(features) * sizeof(int16_t);
}

size_t mfl_head_step_scratch_size(uint16_t units, uint16_t features, int batch)
{
    return grad_bytes(units, batch) + shadow_bytes((uint16_t)(units + 1u), features) +
           (size_t)units * sizeof(mfl_scale_t);
}

static scratch_t scratch_parts(const mfl_head_t *h, int batch, void *scratch)
{
    uint8_t *at = scratch;
    const size_t g = grad_bytes(h->units, batch), w16 = shadow_bytes(h->units, h->features),
                 xt = shadow_bytes(1, h->features);
    const scratch_t s = {(int16_t *)(void *)at, (int16_t *)(void *)(at + g), (int16_t *)(void *)(at + g + w16),
                         (mfl_scale_t *)(void *)(at + g + w16 + xt)};
    return s;
}

/* The logit gradients of the batch, g[unit][sample] in Q0.15. */
static void logit_gradients(const mfl_head_t *h, const int8_t *const *x, const uint8_t *y, int batch,
                            const scratch_t *s)
{
    const int stride = MFL_HEAD_GRAD_STRIDE(batch);
    int16_t *g = s->g;
    int32_t z[MFL_HEAD_MAX_UNITS];
    int16_t p[MFL_HEAD_MAX_UNITS];
    mfl_head_shadow(h, s->w16, s->scale);
    for (int k = 0; k < batch; k++) {
        mfl_head_shadow_logits(h, s->w16, s->scale, x[k], s->xt, z);
        mfl_head_softmax(z, h->units, p);
        for (uint16_t i = 0; i < h->units; i++) {
            g[(size_t)i * (size_t)stride + (size_t)k] = (int16_t)(p[i] - (i == y[k] ? 32768 : 0));
        }
    }
    if (stride != batch) { /* the padding sample of an odd batch */
        for (uint16_t i = 0; i < h->units; i++) {
            g[(size_t)i * (size_t)stride + (size_t)batch] = 0;
        }
    }
}

/* acc + g.bottom * x[0] + g.top * x[1]: SMLAD on Armv7E-M. */
static inline int32_t dot_pair(int32_t g, const int16_t *x, int32_t acc)
{
#if MFL_HAVE_DSP
    return mfl_smlad(g, mfl_read_s16x2(x), acc);
#else
    return acc + (int16_t)g * x[0] + (g >> 16) * x[1];
#endif
}

static inline int32_t read_pair(const int16_t *p)
{
    return (int32_t)(((uint32_t)(uint16_t)p[1] << 16) | (uint16_t)p[0]);
}

/* w - step, saturated, for |step| < 2^30. */
static inline int32_t sub_saturated(int32_t w, int32_t step)
{
#if MFL_HAVE_DSP
    return mfl_qsub(w, step);
#else
    return sat32((int64_t)w - step);
#endif
}

/* How a weight's batch sum acc becomes its change: round(acc * scale),
 * ties up. With 33 <= sh <= 61 (sh = 31 - scale.e; the usual learning
 * rates) that is the high word of one 32x32->64 multiply, a rounding
 * constant and a shift: with P = acc * m = H 2^32 + L, floor((P +
 * 2^(sh-1)) / 2^sh) = floor((H + 2^(sh-33)) / 2^(sh-32)) exactly, as L /
 * 2^32 < 1 cannot carry past a whole division step. |acc| < 2^29, so
 * |H| < 2^28 and the change is below 2^28 in magnitude. */
typedef struct {
    mfl_scale_t scale;
    int fast;
    int32_t round; /* 2^(sh - 33) on the fast path */
    int shift;     /* sh - 32 on the fast path */
} step_scale_t;

static step_scale_t step_scale(mfl_scale_t s)
{
    const int sh = 31 - s.e;
    step_scale_t t = {s, s.m != 0 && sh >= 33 && sh <= 61, 0, 0};
    if (t.fast) {
        t.round = (int32_t)1 << (sh - 33);
        t.shift = sh - 32;
    }
    return t;
}

static inline int32_t fast_step(int32_t acc, int32_t m, int32_t round, int shift)
{
    return ((int32_t)(((int64_t)acc * m) >> 32) + round) >> shift;
}

static int32_t general_step(const step_scale_t *t, int32_t acc)
{
    if (t->fast) {
        return fast_step(acc, t->scale.m, t->round, t->shift);
    }
    const int64_t v = mfl_scale_apply(t->scale, acc);
    return v > (1 << 29) ? (1 << 29) : v < -(1 << 29) ? -(1 << 29) : (int32_t)v; /* the weight saturates */
}

/* round(gb * s), ties up, for a bias's batch sum |gb| <= 64 * 2^15:
 * |gb * m| < 2^52, so for a shift sh = 31 - s.e of 1..62 one 64-bit
 * product and shift; otherwise mfl_scale_apply. */
static int64_t bias_step(mfl_scale_t s, int32_t gb)
{
    const int sh = 31 - s.e;
    if (sh >= 1 && sh <= 62) {
        return ((int64_t)gb * s.m + ((int64_t)1 << (sh - 1))) >> sh;
    }
    return mfl_scale_apply(s, gb);
}

typedef struct {
    step_scale_t step;
    const int8_t *w0; /* global head, or NULL: no drift limit */
    const mfl_scale_t *w0_scale;
    int32_t drift;
} update_t;

/* One unit's row over n features, the default batch of 8 on the fast
 * path: the unit's eight gradients stay in four registers, and each
 * weight costs four SMLAD, one multiply and a saturating subtract. */
static void row8_fast(const update_t *u, const int16_t *gi, const int16_t *xt, int32_t *w, uint16_t n)
{
    const int32_t g0 = read_pair(gi), g1 = read_pair(gi + 2), g2 = read_pair(gi + 4), g3 = read_pair(gi + 6);
    const int32_t m = u->step.scale.m, round = u->step.round;
    const int shift = u->step.shift;
    for (int32_t *end = w + n; w != end; w++, xt += 8) {
        int32_t acc = dot_pair(g0, xt, 0);
        acc = dot_pair(g1, xt + 2, acc);
        acc = dot_pair(g2, xt + 4, acc);
        acc = dot_pair(g3, xt + 6, acc);
        *w = sub_saturated(*w, fast_step(acc, m, round, shift));
    }
}

/* sum_k g_k x~_k over `stride` (even) samples. */
static inline int32_t column_dot(const int16_t *g, const int16_t *xt, int stride)
{
    int32_t acc = 0;
    for (int k = 0; k < stride; k += 2) {
        acc = dot_pair(read_pair(g + k), xt + k, acc);
    }
    return acc;
}

/* Any batch, any step scale, with the drift limit if set. */
static void row_general(const update_t *u, const int16_t *gi, const int16_t *xt, int stride, int32_t *w,
                        uint16_t n, uint16_t unit, size_t first)
{
    const mfl_scale_t to_w = u->w0 ? (mfl_scale_t){u->w0_scale[unit].m, u->w0_scale[unit].e + MFL_HEAD_FRAC}
                                   : (mfl_scale_t){0, 0};
    for (uint16_t j = 0; j < n; j++, xt += stride) {
        int32_t v = sub_saturated(w[j], general_step(&u->step, column_dot(gi, xt, stride)));
        if (u->w0) { /* within drift of the global weight W0 = w0 * s_w0 */
            const int64_t c = sat32(mfl_scale_apply(to_w, u->w0[first + j]));
            v = (int32_t)(v > c + u->drift ? c + u->drift : v < c - u->drift ? c - u->drift : v);
        }
        w[j] = v;
    }
}

#if MFL_HAVE_DSP
/* Four features of samples k and k + 1 (at a and b) as the pairs
 * (x_k, x_k+1) of each feature: SXTAB16 unpacks and offsets each sample's
 * bytes 0, 2 and 1, 3, PKHBT/PKHTB pair the samples up. */
static inline void transpose_4x2(const int8_t *a, const int8_t *b, int32_t minus_zp, int16_t *xt, int stride)
{
    const int32_t va = mfl_read_s8x4(a), vb = mfl_read_s8x4(b);
    const int32_t a02 = mfl_sxtab16(minus_zp, va), a13 = mfl_sxtab16_ror8(minus_zp, va);
    const int32_t b02 = mfl_sxtab16(minus_zp, vb), b13 = mfl_sxtab16_ror8(minus_zp, vb);
    mfl_write_s16x2(xt, mfl_pkhbt16(a02, b02));
    mfl_write_s16x2(xt + stride, mfl_pkhbt16(a13, b13));
    mfl_write_s16x2(xt + 2 * stride, mfl_pkhtb16(b02, a02));
    mfl_write_s16x2(xt + 3 * stride, mfl_pkhtb16(b13, a13));
}
#endif

/* The batch's feature offsets for features [j0, j0 + n), transposed:
 * xt[j][k] = x[k][j0 + j] - zp, each feature's samples contiguous and
 * padded with 0 to the stride. */
static void transpose_offsets(const int8_t *const *x, int batch, int stride, int32_t zp, uint16_t j0, uint16_t n,
                              int16_t *xt)
{
    uint16_t done = 0;
#if MFL_HAVE_DSP
    if (batch == stride) { /* an even batch: four features of two samples at a time */
        const int32_t minus_zp = mfl_dsp_offset_pair(-zp);
        done = n & (uint16_t)~3u;
        for (int k = 0; k < batch; k += 2) {
            const int8_t *a = x[k] + j0, *b = x[k + 1] + j0;
            int16_t *col = xt + k;
            for (uint16_t j = 0; j < done; j += 4, col += 4 * stride) {
                transpose_4x2(a + j, b + j, minus_zp, col, stride);
            }
        }
    }
#endif
    for (int k = 0; k < stride; k++) {
        const int8_t *xk = k < batch ? x[k] + j0 : NULL;
        int16_t *col = xt + (size_t)done * (size_t)stride + k;
        for (uint16_t j = done; j < n; j++, col += stride) {
            *col = xk ? (int16_t)(xk[j] - zp) : 0;
        }
    }
}

static void update_weights(mfl_head_t *h, const int8_t *const *x, int batch, const int16_t *g, const update_t *u)
{
    /* a chunk of features at a time: the batch's offsets transposed, then
     * every unit's row over the chunk */
    enum { CHUNK_VALUES = 512 };
    int16_t xt[CHUNK_VALUES];
    const int stride = MFL_HEAD_GRAD_STRIDE(batch);
    const uint16_t chunk = (uint16_t)(CHUNK_VALUES / stride);
    const int fast8 = stride == 8 && u->step.fast && !u->w0;
    for (uint16_t j0 = 0; j0 < h->features; j0 += chunk) {
        const uint16_t n = h->features - j0 < chunk ? (uint16_t)(h->features - j0) : chunk;
        transpose_offsets(x, batch, stride, h->feature_zp, j0, n, xt);
        for (uint16_t i = 0; i < h->units; i++) {
            const int16_t *gi = g + (size_t)i * (size_t)stride;
            int32_t *w = h->w + (size_t)i * h->features + j0;
            if (fast8) {
                row8_fast(u, gi, xt, w, n);
            } else {
                row_general(u, gi, xt, stride, w, n, i, (size_t)i * h->features + j0);
            }
        }
    }
}

int mfl_head_sgd_step(mfl_head_t *h, const int8_t *const *x, const uint8_t *y, int batch, mfl_scale_t lr,
                      void *scratch, const int8_t *w0, const mfl_scale_t *w0_scale, int32_t drift)
{
    if (batch < 1 || batch > MFL_HEAD_MAX_BATCH || h->units > MFL_HEAD_MAX_UNITS) {
        return MFL_ERR_INVALID_ARG;
    }
    for (int k = 0; k < batch; k++) {
        if (y[k] >= h->units) {
            return MFL_ERR_INVALID_ARG;
        }
    }
    const scratch_t parts = scratch_parts(h, batch, scratch);
    const int16_t *g = parts.g;
    logit_gradients(h, x, y, batch, &parts);
    /* step scales: lr / B * 2^(24 - 15), and times s_x for the weights */
    mfl_scale_t step_b = mfl_scale_div(lr, mfl_scale_from_int((uint64_t)batch, 0));
    step_b.e += MFL_HEAD_FRAC - MFL_HEAD_GRAD_FRAC;
    const int stride = MFL_HEAD_GRAD_STRIDE(batch);
    for (uint16_t i = 0; i < h->units; i++) {
        int32_t gb = 0; /* |.| <= 64 * 2^15 */
        for (int k = 0; k < batch; k++) {
            gb += g[(size_t)i * (size_t)stride + (size_t)k];
        }
        h->b[i] = sat32((int64_t)h->b[i] - bias_step(step_b, gb));
    }
    const update_t u = {step_scale(mfl_scale_mul(step_b, h->feature_scale)), drift > 0 ? w0 : NULL, w0_scale,
                        drift};
    update_weights(h, x, batch, g, &u);
    return 0;
}
