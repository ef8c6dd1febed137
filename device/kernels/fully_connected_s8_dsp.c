/*
 * FULLY_CONNECTED, int8, for the Armv7E-M DSP extension. Same results as
 * mfl_fully_connected_s8_portable, bit for bit.
 *
 * Four output features per pass: each input word is widened once (SXTAB16
 * adds the input offset while sign-extending bytes 0/2 and 1/3) and serves
 * four weight rows, whose words SXTB16 splits the same way, so one SMLAD
 * does two multiply-adds. The accumulators start at the bias; a feature
 * count that is not a multiple of four ends with up to three scalar steps,
 * and up to three features left over go one row at a time.
 */
#include "dsp.h"
#include "fully_connected_acc.h"
#include "kernel_util.h"

#if MFL_HAVE_DSP

/* acc[i] += dot(row i, input + offset) for the four rows starting at w,
 * `n` bytes apart: each widened input word serves four rows. */
static inline __attribute__((always_inline)) void dot_rows4(const int8_t *x, const int8_t *w, int32_t n,
                                                            int32_t offset, int32_t *acc)
{
    const int32_t offset_pair = mfl_dsp_offset_pair(offset);
    const int8_t *w0 = w, *w1 = w + n, *w2 = w + 2 * (size_t)n, *w3 = w + 3 * (size_t)n;
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    for (int32_t k = n >> 2; k > 0; k--) {
        const int32_t xv = mfl_read_s8x4(x);
        x += 4;
        const int32_t xe = mfl_sxtab16(offset_pair, xv), xo = mfl_sxtab16_ror8(offset_pair, xv);
        int32_t wv = mfl_read_s8x4(w0);
        w0 += 4;
        a0 = mfl_smlad(mfl_sxtb16(wv), xe, a0);
        a0 = mfl_smlad(mfl_sxtb16_ror8(wv), xo, a0);
        wv = mfl_read_s8x4(w1);
        w1 += 4;
        a1 = mfl_smlad(mfl_sxtb16(wv), xe, a1);
        a1 = mfl_smlad(mfl_sxtb16_ror8(wv), xo, a1);
        wv = mfl_read_s8x4(w2);
        w2 += 4;
        a2 = mfl_smlad(mfl_sxtb16(wv), xe, a2);
        a2 = mfl_smlad(mfl_sxtb16_ror8(wv), xo, a2);
        wv = mfl_read_s8x4(w3);
        w3 += 4;
        a3 = mfl_smlad(mfl_sxtb16(wv), xe, a3);
        a3 = mfl_smlad(mfl_sxtb16_ror8(wv), xo, a3);
    }
    for (int32_t k = 0; k < (n & 3); k++) { /* wrapping: the sums started at the bias */
        const int32_t xv = x[k] + offset;
        a0 = mfl_quant_add_wrap(a0, w0[k] * xv);
        a1 = mfl_quant_add_wrap(a1, w1[k] * xv);
        a2 = mfl_quant_add_wrap(a2, w2[k] * xv);
        a3 = mfl_quant_add_wrap(a3, w3[k] * xv);
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

/* acc += dot(row, input + offset) for one row: the rows left over. */
static int32_t dot_row(const int8_t *x, const int8_t *w, int32_t n, int32_t offset, int32_t acc)
{
    const int32_t offset_pair = mfl_dsp_offset_pair(offset);
    for (int32_t k = n >> 2; k > 0; k--) {
        const int32_t xv = mfl_read_s8x4(x), wv = mfl_read_s8x4(w);
        x += 4;
        w += 4;
        acc = mfl_smlad(mfl_sxtb16(wv), mfl_sxtab16(offset_pair, xv), acc);
        acc = mfl_smlad(mfl_sxtb16_ror8(wv), mfl_sxtab16_ror8(offset_pair, xv), acc);
    }
    for (int32_t k = 0; k < (n & 3); k++) {
        acc = mfl_quant_add_wrap(acc, w[k] * (x[k] + offset));
    }
    return acc;
}

void mfl_fully_connected_s8_dsp(const mfl_fc_params_t *params, const mfl_requant_t *requant, int32_t batches,
                                int32_t in_features, const int8_t *input, int32_t out_features,
                                const int8_t *weights, const int32_t *bias, int8_t *output)
{
    /* locals: the int8 stores below may alias the parameter struct */
    const int32_t input_offset = params->input_offset, output_offset = params->output_offset;
    const int32_t act_min = params->act_min, act_max = params->act_max, per_channel = params->per_channel;
    const int mode = mfl_dsp_requant_mode(requant->shift, per_channel ? out_features : 1, act_min, act_max);
    for (int32_t b = 0; b < batches; b++) {
        const int8_t *x = input + (size_t)b * (size_t)in_features;
        int8_t *out = output + (size_t)b * (size_t)out_features;
        int32_t o = 0;
        for (; o + 4 <= out_features; o += 4) {
            int32_t acc[4];
            for (int32_t i = 0; i < 4; i++) {
                acc[i] = bias ? bias[o + i] : 0;
            }
            dot_rows4(x, weights + (size_t)o * (size_t)in_features, in_features, input_offset, acc);
            for (int32_t i = 0; i < 4; i++) {
                const int32_t q = per_channel ? o + i : 0;
                out[o + i] = mfl_dsp_requant_s8(acc[i], requant->multiplier[q], requant->shift[q], mode,
                                                output_offset, act_min, act_max);
            }
        }
        for (; o < out_features; o++) {
            const int32_t acc = dot_row(x, weights + (size_t)o * (size_t)in_features, in_features, input_offset,
                                        bias ? bias[o] : 0);
            const int32_t q = per_channel ? o : 0;
            out[o] = mfl_dsp_requant_s8(acc, requant->multiplier[q], requant->shift[q], mode, output_offset,
                                        act_min, act_max);
        }
    }
}

void mfl_fully_connected_acc_s8_dsp(int32_t in_features, const int8_t *input, int32_t input_offset,
                                    int32_t out_features, const int8_t *weights, int32_t *acc)
{
    int32_t o = 0;
    for (; o + 4 <= out_features; o += 4) {
        acc[o] = acc[o + 1] = acc[o + 2] = acc[o + 3] = 0;
        dot_rows4(input, weights + (size_t)o * (size_t)in_features, in_features, input_offset, acc + o);
    }
    for (; o < out_features; o++) {
        acc[o] = dot_row(input, weights + (size_t)o * (size_t)in_features, in_features, input_offset, 0);
    }
}

#else
typedef int mfl_fully_connected_s8_dsp_unavailable; /* no DSP extension: the portable kernel runs */
#endif /* MFL_HAVE_DSP */
