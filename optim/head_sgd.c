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
 * The mean squared error step (mfl_head_sgd_step_mse) differs only in its
 * gradients: int16 errors on one exponent per batch, |g| <= 2^15 as above,
 * so the same sums and bounds hold for any number of units.
 */
#include "head_internal.h" /* and device/kernels/dsp.h: SMLAD, QSUB, or their C emulation on hosts */
#include "mfl/error.h"
#include "mfl/quant.h"

/* The step's scratch (mfl_head_step_scratch_size), 4-byte aligned parts. */
typedef struct {
    int16_t *g;         /* [units][stride] */
    uint32_t *w16;      /* [shadow rows][shadow width / 2] pairs, four rows interleaved */
    uint32_t *xp;       /* [shadow width / 2]: one sample's feature offsets, pairs */
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
    return grad_bytes(units, batch) + shadow_bytes((uint16_t)mfl_head_shadow_rows(units), features) +
           shadow_bytes(1, features) + (size_t)units * sizeof(mfl_scale_t);
}

static scratch_t scratch_parts(const mfl_head_t *h, int batch, void *scratch)
{
    uint8_t *at = scratch;
    const size_t g = grad_bytes(h->units, batch), w16 = shadow_bytes((uint16_t)mfl_head_shadow_rows(h->units), h->features),
                 xt = shadow_bytes(1, h->features);
    const scratch_t s = {(int16_t *)(void *)at, (uint32_t *)(void *)(at + g), (uint32_t *)(void *)(at + g + w16),
                         (mfl_scale_t *)(void *)(at + g + w16 + xt)};
    return s;
}

/* The head output's range act_min..act_max in real units, Q8.24. */
static void output_range(const mfl_head_t *h, int32_t *lo, int32_t *hi)
{
    const mfl_scale_t to_q24 = {h->output_scale.m, h->output_scale.e + MFL_HEAD_FRAC};
    *lo = mfl_head_sat32(mfl_scale_apply(to_q24, (int64_t)h->act_min - h->output_zp));
    *hi = mfl_head_sat32(mfl_scale_apply(to_q24, (int64_t)h->act_max - h->output_zp));
}

/* The logit gradients of the batch, g[unit][sample] in Q0.15. */
static void logit_gradients(const mfl_head_t *h, const int8_t *const *x, const uint8_t *y, int batch,
                            const scratch_t *s, int clamp)
{
    const int stride = MFL_HEAD_GRAD_STRIDE(batch);
    int16_t *g = s->g;
    int32_t z[MFL_HEAD_MAX_UNITS];
    int16_t p[MFL_HEAD_MAX_UNITS];
    int32_t lo = INT32_MIN, hi = INT32_MAX;
    if (clamp) {
        output_range(h, &lo, &hi);
    }
    mfl_head_shadow(h, s->w16, s->scale);
    for (int k = 0; k < batch; k++) {
        mfl_head_shadow_logits(h, s->w16, s->scale, x[k], s->xp, z);
        for (uint16_t i = 0; i < h->units && clamp; i++) {
            z[i] = z[i] < lo ? lo : z[i] > hi ? hi : z[i];
        }
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

static inline uint32_t read_pair(const int16_t *p)
{
    return ((uint32_t)(uint16_t)p[1] << 16) | (uint16_t)p[0];
}

/* w - step, saturated, for |step| < 2^30. */
static inline int32_t sub_saturated(int32_t w, int32_t step)
{
#if MFL_HAVE_DSP
    return mfl_qsub(w, step);
#else
    return mfl_head_sat32((int64_t)w - step);
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

/* The change on either path, exact (ties away from zero off the fast
 * path), held to +-2^33: any larger change saturates the weight anyway. */
static int64_t general_step(const step_scale_t *t, int32_t acc)
{
    if (t->fast) {
        return fast_step(acc, t->scale.m, t->round, t->shift);
    }
    const int64_t v = mfl_scale_apply(t->scale, acc);
    const int64_t limit = (int64_t)1 << 33;
    return v > limit ? limit : v < -limit ? -limit : v;
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
    const int64_t v = mfl_scale_apply(s, gb), limit = (int64_t)1 << 33; /* larger saturates the bias anyway */
    return v > limit ? limit : v < -limit ? -limit : v;
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
static void row8_fast(const update_t *u, const int16_t *gi, const uint32_t *xp, int32_t *w, uint16_t n)
{
    const uint32_t g0 = read_pair(gi), g1 = read_pair(gi + 2), g2 = read_pair(gi + 4), g3 = read_pair(gi + 6);
    const int32_t m = u->step.scale.m, round = u->step.round;
    const int shift = u->step.shift;
    for (int32_t *end = w + n; w != end; w++) {
        uint32_t x0, x1, x2, x3;
        mfl_head_load2(&xp, &x0, &x1);
        mfl_head_load2(&xp, &x2, &x3);
        int32_t acc = mfl_head_smuad(g0, x0);
        acc = mfl_head_smlad(g1, x1, acc);
        acc = mfl_head_smlad(g2, x2, acc);
        acc = mfl_head_smlad(g3, x3, acc);
        *w = sub_saturated(*w, fast_step(acc, m, round, shift));
    }
}

/* sum_k g_k x~_k over `half` pairs of samples. */
static inline int32_t column_dot(const int16_t *g, const uint32_t *xp, int half)
{
    int32_t acc = 0;
    for (int k = 0; k < half; k++) {
        acc = mfl_head_smlad(read_pair(g + 2 * k), xp[k], acc);
    }
    return acc;
}

/* Any batch, any step scale, with the drift limit if set. */
static void row_general(const update_t *u, const int16_t *gi, const uint32_t *xp, int half, int32_t *w,
                        uint16_t n, uint16_t unit, size_t first)
{
    const mfl_scale_t to_w = u->w0 ? (mfl_scale_t){u->w0_scale[unit].m, u->w0_scale[unit].e + MFL_HEAD_FRAC}
                                   : (mfl_scale_t){0, 0};
    for (uint16_t j = 0; j < n; j++, xp += half) {
        int32_t v = mfl_head_sat32((int64_t)w[j] - general_step(&u->step, column_dot(gi, xp, half)));
        if (u->w0) { /* within drift of the global weight W0 = w0 * s_w0 */
            const int64_t c = mfl_head_sat32(mfl_scale_apply(to_w, u->w0[first + j]));
            v = (int32_t)(v > c + u->drift ? c + u->drift : v < c - u->drift ? c - u->drift : v);
        }
        w[j] = v;
    }
}

#if MFL_HAVE_DSP
/* Four features of samples k and k + 1 (at a and b) as the pairs
 * (x_k, x_k+1) of each feature, `half` words apart: SXTAB16 unpacks and
 * offsets each sample's bytes 0, 2 and 1, 3, PKHBT/PKHTB pair the samples
 * up. */
static inline void transpose_4x2(const int8_t *a, const int8_t *b, int32_t minus_zp, uint32_t *xp, int half)
{
    const int32_t va = mfl_read_s8x4(a), vb = mfl_read_s8x4(b);
    const int32_t a02 = mfl_sxtab16(minus_zp, va), a13 = mfl_sxtab16_ror8(minus_zp, va);
    const int32_t b02 = mfl_sxtab16(minus_zp, vb), b13 = mfl_sxtab16_ror8(minus_zp, vb);
    xp[0] = (uint32_t)mfl_pkhbt16(a02, b02);
    xp[half] = (uint32_t)mfl_pkhbt16(a13, b13);
    xp[2 * half] = (uint32_t)mfl_pkhtb16(b02, a02);
    xp[3 * half] = (uint32_t)mfl_pkhtb16(b13, a13);
}
#endif

/* The batch's feature offsets for features [j0, j0 + n), transposed into
 * pairs of samples: xp[j][k/2] = (x[k][j0 + j] - zp, x[k+1][j0 + j] - zp),
 * `half` = stride / 2 words per feature, an odd batch's padding sample 0. */
static void transpose_offsets(const int8_t *const *x, int batch, int half, int32_t zp, uint16_t j0, uint16_t n,
                              uint32_t *xp)
{
    uint16_t done = 0;
#if MFL_HAVE_DSP
    if (batch == 2 * half) { /* an even batch: four features of two samples at a time */
        const int32_t minus_zp = mfl_dsp_offset_pair(-zp);
        done = n & (uint16_t)~3u;
        for (int k = 0; k < batch; k += 2) {
            const int8_t *a = x[k] + j0, *b = x[k + 1] + j0;
            uint32_t *col = xp + k / 2;
            for (uint16_t j = 0; j < done; j += 4, col += 4 * half) {
                transpose_4x2(a + j, b + j, minus_zp, col, half);
            }
        }
    }
#endif
    for (int k = 0; k < batch; k += 2) {
        const int8_t *a = x[k] + j0, *b = k + 1 < batch ? x[k + 1] + j0 : NULL;
        uint32_t *col = xp + (size_t)done * (size_t)half + k / 2;
        for (uint16_t j = done; j < n; j++, col += half) {
            *col = mfl_head_pair(a[j] - zp, b ? b[j] - zp : 0);
        }
    }
}

static void update_weights(mfl_head_t *h, const int8_t *const *x, int batch, const int16_t *g, const update_t *u)
{
    /* a chunk of features at a time: the batch's offsets transposed, then
     * every unit's row over the chunk */
    enum { CHUNK_WORDS = 256 };
    uint32_t xp[CHUNK_WORDS];
    const int stride = MFL_HEAD_GRAD_STRIDE(batch), half = stride / 2;
    const uint16_t chunk = (uint16_t)(CHUNK_WORDS / half);
    const int fast8 = stride == 8 && u->step.fast && !u->w0;
    for (uint16_t j0 = 0; j0 < h->features; j0 += chunk) {
        const uint16_t n = h->features - j0 < chunk ? (uint16_t)(h->features - j0) : chunk;
        transpose_offsets(x, batch, half, h->feature_zp, j0, n, xp);
        for (uint16_t i = 0; i < h->units; i++) {
            const int16_t *gi = g + (size_t)i * (size_t)stride;
            int32_t *w = h->w + (size_t)i * h->features + j0;
            if (fast8) {
                row8_fast(u, gi, xp, w, n);
            } else {
                row_general(u, gi, xp, half, w, n, i, (size_t)i * h->features + j0);
            }
        }
    }
}

/* The bias and weight changes of a step from the gradients in g, with the
 * bias step scale step_b (Q8.24 change per unit of g summed over the
 * batch); the weights' is step_b s_x. */
static void apply_step(mfl_head_t *h, const int8_t *const *x, int batch, const int16_t *g, mfl_scale_t step_b,
                       const int8_t *w0, const mfl_scale_t *w0_scale, int32_t drift)
{
    const int stride = MFL_HEAD_GRAD_STRIDE(batch);
    for (uint16_t i = 0; i < h->units; i++) {
        int32_t gb = 0; /* |.| <= 64 * 2^15 */
        for (int k = 0; k < batch; k++) {
            gb += g[(size_t)i * (size_t)stride + (size_t)k];
        }
        h->b[i] = mfl_head_sat32((int64_t)h->b[i] - bias_step(step_b, gb));
    }
    const update_t u = {step_scale(mfl_scale_mul(step_b, h->feature_scale)), drift > 0 ? w0 : NULL, w0_scale,
                        drift};
    update_weights(h, x, batch, g, &u);
}

static int check_step(const mfl_head_t *h, int batch, uint16_t max_units, const int8_t *w0,
                      const mfl_scale_t *w0_scale, int32_t drift)
{
    const int ok = batch >= 1 && batch <= MFL_HEAD_MAX_BATCH && h->units >= 1 && h->units <= max_units &&
                   h->features >= 1 && h->features <= MFL_HEAD_MAX_FEATURES && !(drift > 0 && w0 && !w0_scale);
    return ok ? 0 : MFL_ERR_INVALID_ARG;
}

static int sgd_step_ce(mfl_head_t *h, const int8_t *const *x, const uint8_t *y, int batch, mfl_scale_t lr,
                       void *scratch, const int8_t *w0, const mfl_scale_t *w0_scale, int32_t drift, int clamp)
{
    if (check_step(h, batch, MFL_HEAD_MAX_UNITS, w0, w0_scale, drift)) {
        return MFL_ERR_INVALID_ARG;
    }
    for (int k = 0; k < batch; k++) {
        if (y[k] >= h->units) {
            return MFL_ERR_INVALID_ARG;
        }
    }
    const scratch_t parts = scratch_parts(h, batch, scratch);
    logit_gradients(h, x, y, batch, &parts, clamp);
    /* step scale: lr / B * 2^(24 - 15) (Q0.15 gradients into Q8.24 changes) */
    mfl_scale_t step_b = mfl_scale_div(lr, mfl_scale_from_int((uint64_t)batch, 0));
    step_b.e += MFL_HEAD_FRAC - MFL_HEAD_GRAD_FRAC;
    apply_step(h, x, batch, parts.g, step_b, w0, w0_scale, drift);
    return 0;
}

int mfl_head_sgd_step(mfl_head_t *h, const int8_t *const *x, const uint8_t *y, int batch, mfl_scale_t lr,
                      void *scratch, const int8_t *w0, const mfl_scale_t *w0_scale, int32_t drift)
{
    return sgd_step_ce(h, x, y, batch, lr, scratch, w0, w0_scale, drift, 0);
}

int mfl_head_sgd_step_clamped(mfl_head_t *h, const int8_t *const *x, const uint8_t *y, int batch, mfl_scale_t lr,
                              void *scratch, const int8_t *w0, const mfl_scale_t *w0_scale, int32_t drift)
{
    return sgd_step_ce(h, x, y, batch, lr, scratch, w0, w0_scale, drift, 1);
}

/* ---- mean squared error (regression heads) ---- */

size_t mfl_head_mse_scratch_size(uint16_t units, uint16_t features, int batch)
{
    return mfl_head_step_scratch_size(units, features, batch) + (size_t)units * sizeof(int32_t);
}

/* round(v / 2^s) for s >= 1, ties up, without overflow (as shadow_value). */
static inline int32_t round_shift(int32_t v, int s)
{
    return ((v >> (s - 1)) + 1) >> 1;
}

/* Sample k's errors D_i = clamp(z_i, lo, hi) - T_i (Q8.24) into d[units],
 * saturated to int32; returns the OR of their ones' complement magnitudes
 * (its bit length is that of max|D| or max|D| - 1). */
static uint32_t sample_errors(const mfl_head_t *h, const int32_t *z, const int8_t *t, mfl_scale_t to_q24, int32_t lo,
                              int32_t hi, int32_t *d)
{
    uint32_t bits = 0;
    for (uint16_t i = 0; i < h->units; i++) {
        const int32_t y = z[i] < lo ? lo : z[i] > hi ? hi : z[i];
        const int64_t target = mfl_head_sat32(mfl_scale_apply(to_q24, (int64_t)t[i] - h->output_zp));
        const int32_t v = mfl_head_sat32((int64_t)y - target);
        d[i] = v;
        bits |= (uint32_t)(v ^ (v >> 31));
    }
    return bits;
}

/* The batch's errors as int16 g[unit][sample] on one exponent 2^sh
 * (returned): each sample's errors need sh_k = bit length - 15 (at least
 * 0); when that exceeds the exponent so far, the earlier samples' columns
 * are rounded down to it. */
static int mse_gradients(const mfl_head_t *h, const int8_t *const *x, const int8_t *const *t, int batch,
                         const scratch_t *s, int32_t *z)
{
    const int stride = MFL_HEAD_GRAD_STRIDE(batch);
    int16_t *g = s->g;
    const mfl_scale_t to_q24 = {h->output_scale.m, h->output_scale.e + MFL_HEAD_FRAC};
    int32_t lo, hi;
    output_range(h, &lo, &hi);
    int sh = 0;
    mfl_head_shadow(h, s->w16, s->scale);
    for (int k = 0; k < batch; k++) {
        mfl_head_shadow_logits(h, s->w16, s->scale, x[k], s->xp, z);
        const uint32_t bits = sample_errors(h, z, t[k], to_q24, lo, hi, z);
        const int length = bits ? 32 - __builtin_clz(bits) : 0;
        const int need = length > 15 ? length - 15 : 0;
        if (need > sh) { /* the earlier columns onto the larger exponent */
            for (uint16_t i = 0; i < h->units; i++) {
                int16_t *gi = g + (size_t)i * (size_t)stride;
                for (int j = 0; j < k; j++) {
                    gi[j] = (int16_t)round_shift(gi[j], need - sh);
                }
            }
            sh = need;
        }
        for (uint16_t i = 0; i < h->units; i++) {
            const int32_t v = sh ? round_shift(z[i], sh) : z[i];
            g[(size_t)i * (size_t)stride + (size_t)k] = (int16_t)(v > 32767 ? 32767 : v < -32767 ? -32767 : v);
        }
    }
    if (stride != batch) { /* the padding sample of an odd batch */
        for (uint16_t i = 0; i < h->units; i++) {
            g[(size_t)i * (size_t)stride + (size_t)batch] = 0;
        }
    }
    return sh;
}

int mfl_head_sgd_step_mse(mfl_head_t *h, const int8_t *const *x, const int8_t *const *t, int batch, mfl_scale_t lr,
                          void *scratch, const int8_t *w0, const mfl_scale_t *w0_scale, int32_t drift,
                          int *grad_shift)
{
    if (check_step(h, batch, MFL_HEAD_MAX_UNITS_MSE, w0, w0_scale, drift) || !t) {
        return MFL_ERR_INVALID_ARG;
    }
    for (int k = 0; k < batch; k++) {
        if (!t[k]) {
            return MFL_ERR_INVALID_ARG;
        }
    }
    const scratch_t parts = scratch_parts(h, batch, scratch);
    int32_t *z = (int32_t *)(void *)((uint8_t *)scratch + mfl_head_step_scratch_size(h->units, h->features, batch));
    const int sh = mse_gradients(h, x, t, batch, &parts, z);
    /* step scale: lr / B * 2 / units * 2^sh (g 2^sh is D in Q8.24, and so is the change) */
    mfl_scale_t step_b = mfl_scale_div(lr, mfl_scale_from_int((uint64_t)batch * h->units, 0));
    step_b.e += 1 + sh;
    apply_step(h, x, batch, parts.g, step_b, w0, w0_scale, drift);
    if (grad_shift) {
        *grad_shift = sh;
    }
    return 0;
}
