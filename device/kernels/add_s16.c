/*
 * ADD and SUB of int16 tensors (zero points 0) with broadcasting: TFLM's
 * general int16 path (AddElementwise / BroadcastAdd6DSlow and
 * SubElementwise / BroadcastQuantSubSlow, the same arithmetic as int8 with
 * a left shift of 15 instead of 20), not TFLite's power-of-two Add16.
 *
 * Ranges: |x| <= 2^15, so x << 15 <= 2^30 fits int32; each rescaled input
 * is that times a multiplier below 1 (shift <= 0), so the sum or
 * difference of two stays within 2^31; the output rescale (shift <= 0)
 * then cannot overflow either. Rounding is gemmlowp's: a saturating
 * rounding doubling high multiply, then a rounding divide by a power of
 * two (ties away from zero).
 *
 * Speed: the loader bounds every shift to [-31, 0] (model_ops_s16.c), so
 * each rescaling is mfl_quant_mul_by_qm_fast without its left shift, with
 * the divide's mask and threshold computed once per call (scale_t); the
 * parameters are copied to locals (the int16 stores could alias them, which
 * would reload every field per element); the output is walked in runs
 * along the innermost axis (one flat run when neither input broadcasts),
 * and an operand that is constant along a run is rescaled once for it.
 * Same bits; on the Cortex-M4 about half the instructions per element.
 */
#include "mfl/kernels_s16.h"
#include "mfl/quant.h"

/* x * m * 2^-right with TFLM's double rounding (srdhm, then rdbpot), for
 * m >= 0 and right in [0, 31]: mfl_quant_mul_by_qm_fast with shift <= 0. */
typedef struct {
    int32_t m, right, mask, half;
} scale_t;

static scale_t scale_make(int32_t m, int32_t shift)
{
    const int32_t right = -shift;
    const int32_t mask = (int32_t)((1u << right) - 1u);
    const scale_t s = {m, right, mask, mask >> 1};
    return s;
}

static inline int32_t scale(scale_t s, int32_t x)
{
    const int32_t t = (int32_t)(((int64_t)x * s.m + (1LL << 30)) >> 31);
    const int32_t threshold = s.half + (int32_t)((uint32_t)t >> 31);
    return (t >> s.right) + ((t & s.mask) > threshold);
}

typedef struct {
    scale_t in1, in2, out;
    int32_t left_shift, act_min, act_max;
} add16_t;

static inline int16_t finish(const add16_t *k, int32_t raw)
{
    return (int16_t)mfl_quant_clamp(scale(k->out, raw), k->act_min, k->act_max);
}

static inline int32_t combine(int negate_b, int32_t sa, int32_t sb)
{
    return negate_b ? mfl_quant_sub_wrap(sa, sb) : mfl_quant_add_wrap(sa, sb);
}

/* n outputs from a and b read with steps of 0 (constant along the run) or 1. */
static inline void run(const add16_t *k, int negate_b, int32_t n, const int16_t *a, int32_t step_a,
                       const int16_t *b, int32_t step_b, int16_t *out)
{
    const int32_t ls = k->left_shift;
    if (step_b == 0) {
        const int32_t sb = scale(k->in2, *b * (1 << ls));
        for (int32_t i = 0; i < n; i++, a += step_a) {
            out[i] = finish(k, combine(negate_b, scale(k->in1, *a * (1 << ls)), sb));
        }
    } else if (step_a == 0) {
        const int32_t sa = scale(k->in1, *a * (1 << ls));
        for (int32_t i = 0; i < n; i++) {
            out[i] = finish(k, combine(negate_b, sa, scale(k->in2, b[i] * (1 << ls))));
        }
    } else {
        for (int32_t i = 0; i < n; i++) {
            out[i] =
                finish(k, combine(negate_b, scale(k->in1, a[i] * (1 << ls)), scale(k->in2, b[i] * (1 << ls))));
        }
    }
}

/* Element strides of a right-aligned shape, 0 on its broadcast axes. */
static void broadcast_strides(const int32_t dims[4], const int32_t out[4], int32_t strides[4])
{
    int32_t s = 1;
    for (int i = 3; i >= 0; i--) {
        strides[i] = dims[i] == 1 && out[i] != 1 ? 0 : s;
        s *= dims[i];
    }
}

/* Inlined into ADD and SUB each, so that the choice of operation is a
 * constant in the loops. */
static inline __attribute__((always_inline)) void binary_s16(const mfl_add_params_t *params,
                                                             const int32_t out[4], const int32_t in1[4],
                                                             const int16_t *a, const int32_t in2[4],
                                                             const int16_t *b, int16_t *output, int negate_b)
{
    const add16_t k = {scale_make(params->input1_multiplier, params->input1_shift),
                       scale_make(params->input2_multiplier, params->input2_shift),
                       scale_make(params->output_multiplier, params->output_shift),
                       params->left_shift,
                       params->act_min,
                       params->act_max};
    int32_t s1[4], s2[4];
    broadcast_strides(in1, out, s1);
    broadcast_strides(in2, out, s2);
    const int32_t total = out[0] * out[1] * out[2] * out[3];
    if (s1[0] * in1[0] == total && s2[0] * in2[0] == total) { /* neither broadcasts: one run */
        run(&k, negate_b, total, a, 1, b, 1, output);
        return;
    }
    for (int32_t i0 = 0; i0 < out[0]; i0++) {
        for (int32_t i1 = 0; i1 < out[1]; i1++) {
            for (int32_t i2 = 0; i2 < out[2]; i2++) {
                const int16_t *pa = a + i0 * s1[0] + i1 * s1[1] + i2 * s1[2];
                const int16_t *pb = b + i0 * s2[0] + i1 * s2[1] + i2 * s2[2];
                run(&k, negate_b, out[3], pa, s1[3], pb, s2[3], output);
                output += out[3];
            }
        }
    }
}

void mfl_add_s16(const mfl_add_params_t *params, const int32_t out_dims[4], const int32_t in1_dims[4],
                 const int16_t *input1, const int32_t in2_dims[4], const int16_t *input2, int16_t *output)
{
    binary_s16(params, out_dims, in1_dims, input1, in2_dims, input2, output, 0);
}

void mfl_sub_s16(const mfl_add_params_t *params, const int32_t out_dims[4], const int32_t in1_dims[4],
                 const int16_t *input1, const int32_t in2_dims[4], const int16_t *input2, int16_t *output)
{
    binary_s16(params, out_dims, in1_dims, input1, in2_dims, input2, output, 1);
}
