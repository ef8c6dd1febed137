/*
 * DEPTHWISE_CONV_2D, int8, depth multiplier 1, for the Armv7E-M DSP
 * extension. Same results as mfl_depthwise_conv2d_s8_portable, bit for bit.
 *
 * Channels are independent, so there is no dot product to pair up: instead
 * four channels go through each tap together. One word load brings four
 * input channels and one four filter channels; SXTAB16 widens the inputs
 * with the offset added, SXTB16 the weights (even and odd channels), and
 * SMLABB/SMLATT add the four products to four accumulators that started at
 * the bias. The window is clipped to the input once per pixel, so the tap
 * loops have no bounds checks. Channels beyond a multiple of four are done
 * one by one. Requantization runs once per output.
 */
#include "dsp.h"
#include "kernel_util.h"

#if MFL_HAVE_DSP

typedef struct {
    int32_t rows, cols;        /* in-bounds taps */
    size_t in_col, in_row;     /* input bytes between taps along x and along y */
    size_t f_row;              /* filter bytes between tap rows */
    int32_t channels;          /* input = output = filter channels */
    int32_t offset_pair;       /* the input offset in both lanes */
} taps_t;

/* One tap of four channels: the products of the widened input and filter
 * words go to four accumulators. */
#define DW_TAP4(x_at, f_at)                                                                                       \
    do {                                                                                                         \
        const int32_t f_ = mfl_read_s8x4(f_at);                                                                  \
        const int32_t fe_ = mfl_sxtb16(f_), fo_ = mfl_sxtb16_ror8(f_);                                           \
        const int32_t x_ = mfl_read_s8x4(x_at);                                                                  \
        const int32_t xe_ = mfl_sxtab16(offset_pair, x_), xo_ = mfl_sxtab16_ror8(offset_pair, x_);               \
        a0 = mfl_smlabb(xe_, fe_, a0);                                                                           \
        a2 = mfl_smlatt(xe_, fe_, a2);                                                                           \
        a1 = mfl_smlabb(xo_, fo_, a1);                                                                           \
        a3 = mfl_smlatt(xo_, fo_, a3);                                                                           \
    } while (0)

/* acc[k] += sum over the taps of filter[c + k] * (input[c + k] + offset)
 * for k = 0..3; ip and fp point at channel c of the first in-bounds tap.
 * Ten values live in the tap loop (four accumulators, two pointers, two
 * steps, the counter, the offset pair) and at most four temporaries. A
 * whole 3x3 window (every interior pixel of the usual depthwise layer) is
 * unrolled: no counters, fixed steps. */
static inline __attribute__((always_inline)) void taps4(const taps_t *t, const int8_t *ip, const int8_t *fp,
                                                        int32_t *acc)
{
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    const int32_t offset_pair = t->offset_pair;
    const size_t in_col = t->in_col, f_col = (size_t)t->channels;
    if (t->rows == 3 && t->cols == 3) {
        for (int32_t r = 0; r < 3; r++, ip += t->in_row, fp += t->f_row) {
            DW_TAP4(ip, fp);
            DW_TAP4(ip + in_col, fp + f_col);
            DW_TAP4(ip + 2 * in_col, fp + 2 * f_col);
        }
    } else {
        for (int32_t r = t->rows; r > 0; r--, ip += t->in_row, fp += t->f_row) {
            const int8_t *x_at = ip, *f_at = fp;
            for (int32_t k = t->cols; k > 0; k--, x_at += in_col, f_at += f_col) {
                DW_TAP4(x_at, f_at);
            }
        }
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

/* One channel: those left over after the blocks of four. */
static int32_t taps1(const taps_t *t, const int8_t *ip, const int8_t *fp, int32_t offset, int32_t acc)
{
    for (int32_t r = 0; r < t->rows; r++) {
        for (int32_t k = 0; k < t->cols; k++) {
            acc = mfl_quant_add_wrap(acc, (ip[(size_t)r * t->in_row + (size_t)k * t->in_col] + offset) *
                                              fp[(size_t)r * t->f_row + (size_t)k * (size_t)t->channels]);
        }
    }
    return acc;
}

typedef struct {
    const int32_t *bias, *multiplier, *shift;
    int32_t input_offset, output_offset, act_min, act_max;
} dw_out_t;

/* Every channel of one output pixel; `mode` is a constant at each call, so
 * each caller gets one requantization inlined. */
static inline __attribute__((always_inline)) void pixel(const dw_out_t *o, const taps_t *t, const int8_t *ip,
                                                        const int8_t *fp, int8_t *out, int mode)
{
    const int32_t channels = t->channels, c4 = channels & ~3;
    const int32_t output_offset = o->output_offset, act_min = o->act_min, act_max = o->act_max;
    for (int32_t c = 0; c < c4; c += 4) {
        int32_t acc[4];
        for (int32_t k = 0; k < 4; k++) {
            acc[k] = o->bias ? o->bias[c + k] : 0;
        }
        taps4(t, ip + c, fp + c, acc);
        for (int32_t k = 0; k < 4; k++) {
            out[c + k] = mfl_dsp_requant_s8(acc[k], o->multiplier[c + k], o->shift[c + k], mode, output_offset,
                                            act_min, act_max);
        }
    }
    for (int32_t c = c4; c < channels; c++) {
        const int32_t acc = taps1(t, ip + c, fp + c, o->input_offset, o->bias ? o->bias[c] : 0);
        out[c] = mfl_dsp_requant_s8(acc, o->multiplier[c], o->shift[c], mode, output_offset, act_min, act_max);
    }
}

#define PIXEL_IN_MODE(name, mode)                                                                             \
    static void name(const dw_out_t *o, const taps_t *t, const int8_t *ip, const int8_t *fp, int8_t *out)     \
    {                                                                                                        \
        pixel(o, t, ip, fp, out, mode);                                                                      \
    }
PIXEL_IN_MODE(pixel_any, MFL_DSP_REQUANT_ANY)
PIXEL_IN_MODE(pixel_short, MFL_DSP_REQUANT_SHORT)
PIXEL_IN_MODE(pixel_short_full, MFL_DSP_REQUANT_SHORT_FULL)

void mfl_depthwise_conv2d_s8_dsp(const mfl_conv_params_t *params, const mfl_requant_t *requant,
                                 const mfl_dims_t *input_dims, const int8_t *input, const mfl_dims_t *filter_dims,
                                 const int8_t *filter, const int32_t *bias, const mfl_dims_t *output_dims,
                                 int8_t *output)
{
    const mfl_conv_params_t p = *params;
    const int32_t channels = output_dims->c;
    const dw_out_t o = {bias, requant->multiplier, requant->shift, p.input_offset, p.output_offset, p.act_min,
                        p.act_max};
    const int mode = mfl_dsp_requant_mode(requant->shift, channels, p.act_min, p.act_max);
    void (*const run)(const dw_out_t *, const taps_t *, const int8_t *, const int8_t *, int8_t *) =
        mode == MFL_DSP_REQUANT_SHORT_FULL ? pixel_short_full
        : mode == MFL_DSP_REQUANT_SHORT    ? pixel_short
                                           : pixel_any;
    const size_t px = (size_t)channels;
    taps_t t = {0, 0, (size_t)p.dilation_w * px, (size_t)p.dilation_h * (size_t)input_dims->w * px,
                (size_t)filter_dims->w * px, channels, mfl_dsp_offset_pair(p.input_offset)};
    const size_t in_batch = (size_t)input_dims->h * (size_t)input_dims->w * px;
    int8_t *out = output;
    for (int32_t b = 0; b < output_dims->n; b++) {
        const int8_t *in = input + (size_t)b * in_batch;
        for (int32_t oy = 0; oy < output_dims->h; oy++) {
            const int32_t in_y0 = oy * p.stride_h - p.pad_h;
            int32_t y0, y1;
            mfl_tap_range(in_y0, p.dilation_h, filter_dims->h, input_dims->h, &y0, &y1);
            t.rows = y1 - y0;
            for (int32_t ox = 0; ox < output_dims->w; ox++, out += px) {
                const int32_t in_x0 = ox * p.stride_w - p.pad_w;
                int32_t x0, x1;
                mfl_tap_range(in_x0, p.dilation_w, filter_dims->w, input_dims->w, &x0, &x1);
                t.cols = x1 - x0;
                if (t.rows <= 0 || t.cols <= 0) { /* the window lies wholly in the padding: the bias alone */
                    taps_t none = t;
                    none.rows = none.cols = 0;
                    run(&o, &none, in, filter, out);
                    continue;
                }
                const int8_t *ip = in + ((size_t)(in_y0 + y0 * p.dilation_h) * (size_t)input_dims->w +
                                         (size_t)(in_x0 + x0 * p.dilation_w)) * px;
                const int8_t *fp = filter + ((size_t)y0 * (size_t)filter_dims->w + (size_t)x0) * px;
                run(&o, &t, ip, fp, out);
            }
        }
    }
}

#else
typedef int mfl_depthwise_conv2d_s8_dsp_unavailable; /* no DSP extension: the portable kernel runs */
#endif /* MFL_HAVE_DSP */
