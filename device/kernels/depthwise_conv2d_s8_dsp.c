/*
 * DEPTHWISE_CONV_2D, int8, depth multiplier 1, for the Armv7E-M DSP
 * extension. Same results as mfl_depthwise_conv2d_s8_portable, bit for bit.
 *
 * Channels are independent, so there is no dot product to pair up: instead
 * four channels go through each tap together. One word load brings four
 * input channels and one four filter channels; SXTAB16 widens the inputs
 * with the offset added, SXTB16 the weights (even and odd channels), and
 * SMLABB/SMLATT add the four products to four accumulators that started at
 * the bias. Two horizontally adjacent output pixels whose windows are
 * equally clipped share every widened filter word. Channels beyond a
 * multiple of four are done one by one. Requantization runs once per output.
 */
#include "dsp.h"
#include "kernel_util.h"

#if MFL_HAVE_DSP

typedef struct {
    const mfl_conv_params_t *p;
    const mfl_requant_t *rq;
    const int8_t *filter;
    const int32_t *bias;
    int32_t in_w, channels, filter_w;
    int32_t offset_pair;
} dw_t;

typedef struct {
    int32_t y0, y1, x0, x1; /* in-bounds taps [y0, y1) x [x0, x1) */
    int32_t in_y0, in_x0;   /* input coordinate of tap (0, 0) */
} window_t;

static void store4(const dw_t *d, int32_t c, const int32_t *acc, int8_t *out)
{
    const mfl_conv_params_t *p = d->p;
    for (int32_t k = 0; k < 4; k++) {
        out[c + k] = mfl_requant_acc_s8(acc[k], d->rq->multiplier[c + k], d->rq->shift[c + k], p->output_offset,
                                        p->act_min, p->act_max);
    }
}

static void bias4(const dw_t *d, int32_t c, int32_t *acc)
{
    for (int32_t k = 0; k < 4; k++) {
        acc[k] = d->bias ? d->bias[c + k] : 0;
    }
}

/* Channels [c, c + 4) of one pixel (in1 NULL) or of two pixels whose
 * windows start `step` input pixels apart and are clipped alike. */
static void block4(const dw_t *d, const window_t *w, const int8_t *in, int32_t step, int32_t c, int8_t *out0,
                   int8_t *out1)
{
    const size_t row = (size_t)d->in_w * (size_t)d->channels;
    const size_t px = (size_t)d->channels;
    const size_t second = (size_t)step * px;
    int32_t a[4], b[4];
    bias4(d, c, a);
    bias4(d, c, b);
    for (int32_t fy = w->y0; fy < w->y1; fy++) {
        const int32_t in_y = w->in_y0 + fy * d->p->dilation_h;
        const int8_t *ip = in + (size_t)in_y * row + (size_t)(w->in_x0 + w->x0 * d->p->dilation_w) * px + (size_t)c;
        const int8_t *fp = d->filter + ((size_t)fy * (size_t)d->filter_w + (size_t)w->x0) * px + (size_t)c;
        const size_t ip_step = (size_t)d->p->dilation_w * px;
        for (int32_t fx = w->x0; fx < w->x1; fx++, ip += ip_step, fp += px) {
            const int32_t f = mfl_read_s8x4(fp);
            const int32_t fe = mfl_sxtb16(f), fo = mfl_sxtb16_ror8(f);
            int32_t x = mfl_read_s8x4(ip);
            int32_t xe = mfl_sxtab16(d->offset_pair, x), xo = mfl_sxtab16_ror8(d->offset_pair, x);
            a[0] = mfl_smlabb(xe, fe, a[0]);
            a[2] = mfl_smlatt(xe, fe, a[2]);
            a[1] = mfl_smlabb(xo, fo, a[1]);
            a[3] = mfl_smlatt(xo, fo, a[3]);
            if (out1) {
                x = mfl_read_s8x4(ip + second);
                xe = mfl_sxtab16(d->offset_pair, x);
                xo = mfl_sxtab16_ror8(d->offset_pair, x);
                b[0] = mfl_smlabb(xe, fe, b[0]);
                b[2] = mfl_smlatt(xe, fe, b[2]);
                b[1] = mfl_smlabb(xo, fo, b[1]);
                b[3] = mfl_smlatt(xo, fo, b[3]);
            }
        }
    }
    store4(d, c, a, out0);
    if (out1) {
        store4(d, c, b, out1);
    }
}

/* One channel of one pixel: the channels left over after the blocks of four. */
static void one_channel(const dw_t *d, const window_t *w, const int8_t *in, int32_t c, int8_t *out)
{
    const size_t px = (size_t)d->channels;
    int32_t acc = d->bias ? d->bias[c] : 0;
    for (int32_t fy = w->y0; fy < w->y1; fy++) {
        const int32_t in_y = w->in_y0 + fy * d->p->dilation_h;
        for (int32_t fx = w->x0; fx < w->x1; fx++) {
            const int32_t in_x = w->in_x0 + fx * d->p->dilation_w;
            const int32_t x = in[((size_t)in_y * (size_t)d->in_w + (size_t)in_x) * px + (size_t)c];
            acc += (x + d->p->input_offset) * d->filter[((size_t)fy * (size_t)d->filter_w + (size_t)fx) * px + (size_t)c];
        }
    }
    out[c] = mfl_requant_acc_s8(acc, d->rq->multiplier[c], d->rq->shift[c], d->p->output_offset, d->p->act_min,
                                d->p->act_max);
}

static void pixels(const dw_t *d, const window_t *w, const int8_t *in, int32_t step, int8_t *out0, int8_t *out1)
{
    const int32_t c4 = d->channels & ~3;
    for (int32_t c = 0; c < c4; c += 4) {
        block4(d, w, in, step, c, out0, out1);
    }
    for (int32_t c = c4; c < d->channels; c++) {
        one_channel(d, w, in, c, out0);
        if (out1) {
            window_t w1 = *w;
            w1.in_x0 += step;
            one_channel(d, &w1, in, c, out1);
        }
    }
}

void mfl_depthwise_conv2d_s8_dsp(const mfl_conv_params_t *params, const mfl_requant_t *requant,
                                 const mfl_dims_t *input_dims, const int8_t *input, const mfl_dims_t *filter_dims,
                                 const int8_t *filter, const int32_t *bias, const mfl_dims_t *output_dims,
                                 int8_t *output)
{
    const dw_t d = {params, requant, filter, bias, input_dims->w, output_dims->c, filter_dims->w,
                    mfl_dsp_offset_pair(params->input_offset)};
    const size_t in_batch = (size_t)input_dims->h * (size_t)input_dims->w * (size_t)input_dims->c;
    const size_t out_px = (size_t)output_dims->c;
    int8_t *out = output;
    for (int32_t b = 0; b < output_dims->n; b++) {
        const int8_t *in = input + (size_t)b * in_batch;
        for (int32_t oy = 0; oy < output_dims->h; oy++) {
            window_t w;
            w.in_y0 = oy * params->stride_h - params->pad_h;
            mfl_tap_range(w.in_y0, params->dilation_h, filter_dims->h, input_dims->h, &w.y0, &w.y1);
            for (int32_t ox = 0; ox < output_dims->w;) {
                w.in_x0 = ox * params->stride_w - params->pad_w;
                mfl_tap_range(w.in_x0, params->dilation_w, filter_dims->w, input_dims->w, &w.x0, &w.x1);
                window_t next = w;
                next.in_x0 += params->stride_w;
                if (ox + 1 < output_dims->w) {
                    mfl_tap_range(next.in_x0, params->dilation_w, filter_dims->w, input_dims->w, &next.x0, &next.x1);
                }
                if (ox + 1 < output_dims->w && next.x0 == w.x0 && next.x1 == w.x1) {
                    pixels(&d, &w, in, params->stride_w, out, out + out_px);
                    out += 2 * out_px;
                    ox += 2;
                } else {
                    pixels(&d, &w, in, 0, out, NULL);
                    out += out_px;
                    ox += 1;
                }
            }
        }
    }
}

#else
typedef int mfl_depthwise_conv2d_s8_dsp_unavailable; /* no DSP extension: the portable kernel runs */
#endif /* MFL_HAVE_DSP */
