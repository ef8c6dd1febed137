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
 */
#include "mfl/kernels_s16.h"
#include "mfl/quant.h"

/* MultiplyByQuantizedMultiplierSmallerThanOneExp: with m >= 0 and shift
 * <= 0 (the loader's bounds) the branch-free form gives the same bits. */
static int32_t rescale(int32_t x, int32_t m, int32_t shift)
{
    return mfl_quant_mul_by_qm_fast(x, m, shift);
}

static int16_t add_one(const mfl_add_params_t *p, int32_t a, int32_t b, int negate_b)
{
    const int32_t sa = rescale(a * (1 << p->left_shift), p->input1_multiplier, p->input1_shift);
    const int32_t sb = rescale(b * (1 << p->left_shift), p->input2_multiplier, p->input2_shift);
    const int32_t raw = rescale(negate_b ? sa - sb : sa + sb, p->output_multiplier, p->output_shift);
    return (int16_t)mfl_quant_clamp(raw, p->act_min, p->act_max);
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

static void binary_s16(const mfl_add_params_t *p, const int32_t out[4], const int32_t in1[4], const int16_t *a,
                       const int32_t in2[4], const int16_t *b, int16_t *output, int negate_b)
{
    int32_t s1[4], s2[4];
    broadcast_strides(in1, out, s1);
    broadcast_strides(in2, out, s2);
    for (int32_t i0 = 0; i0 < out[0]; i0++) {
        for (int32_t i1 = 0; i1 < out[1]; i1++) {
            for (int32_t i2 = 0; i2 < out[2]; i2++) {
                const int16_t *pa = a + i0 * s1[0] + i1 * s1[1] + i2 * s1[2];
                const int16_t *pb = b + i0 * s2[0] + i1 * s2[1] + i2 * s2[2];
                for (int32_t i3 = 0; i3 < out[3]; i3++) {
                    *output++ = add_one(p, pa[i3 * s1[3]], pb[i3 * s2[3]], negate_b);
                }
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
