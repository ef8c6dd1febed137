/*
 * Kernel edge cases (padding, strides, dilation, depth multipliers, extreme
 * multipliers, saturation) against naive references written differently
 * from the kernels: the convolution references pad the input explicitly
 * with its zero point instead of skipping out-of-bounds taps. Multipliers
 * are chosen as 1.0 or 0.5 so that the reference's single exact rounding
 * equals TFLM's double rounding; the bit-exact check of the real rounding
 * path is the MLPerf golden test. Every test runs twice: on the portable
 * kernels and on the DSP kernels (through their C emulation on the host);
 * a randomized test also checks the two bit-identical on many shapes.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dsp.h" /* device/kernels, built here with MFL_EMULATE_DSP */
#include "mfl/kernels.h"
#include "mfl/quant.h"
#include "mfl/host/quant_host.h"
#include "test_support.h"

#define ONE_M (1 << 30) /* with shift 1: real multiplier 1.0 */

static uint32_t seed = 7;
static int8_t rand8(void)
{
    seed = seed * 1103515245u + 12345u;
    return (int8_t)(seed >> 16);
}

static int32_t round_half_away(double x)
{
    return (int32_t)(x >= 0 ? floor(x + 0.5) : -floor(-x + 0.5));
}

static int8_t requant_ref(int64_t acc, double real, int32_t zp, int32_t lo, int32_t hi)
{
    int64_t v = round_half_away((double)acc * real) + zp;
    return (int8_t)(v < lo ? lo : v > hi ? hi : v);
}

/* Input padded explicitly with the zero point: (H + 2P) x (W + 2P) x C. */
static int8_t padded_at(const int8_t *in, const mfl_dims_t *d, int32_t zp, int32_t y, int32_t x, int32_t c)
{
    return (y < 0 || x < 0 || y >= d->h || x >= d->w) ? (int8_t)zp : in[(y * d->w + x) * d->c + c];
}

typedef struct {
    int depthwise;
    mfl_dims_t in, filter, out;
    int32_t stride, dilation, pad, in_zp, out_zp, act_min, act_max;
    int bias_big; /* bias drives outputs into saturation */
} conv_case_t;

static void run_conv_case(const conv_case_t *k)
{
    const size_t n_in = (size_t)k->in.n * k->in.h * k->in.w * k->in.c;
    const size_t n_f = (size_t)k->filter.n * k->filter.h * k->filter.w * k->filter.c;
    const size_t n_out = (size_t)k->out.n * k->out.h * k->out.w * k->out.c;
    int8_t *in = malloc(n_in), *f = malloc(n_f), *out = malloc(n_out);
    int32_t bias[16], mult[16], shift[16];
    double real[16];
    for (size_t i = 0; i < n_in; i++) in[i] = rand8();
    for (size_t i = 0; i < n_f; i++) f[i] = (int8_t)(rand8() | 1); /* avoid -128 weights: symmetric int8 */
    for (int c = 0; c < k->out.c; c++) {
        bias[c] = k->bias_big ? (c % 2 ? 1 << 24 : -(1 << 24)) : rand8() * 50;
        mult[c] = ONE_M;
        shift[c] = c % 2 ? 0 : 1; /* alternate 0.5 and 1.0 */
        real[c] = c % 2 ? 0.5 : 1.0;
    }
    const mfl_conv_params_t p = {k->stride, k->stride, k->dilation, k->dilation, k->pad, k->pad,
                                 -k->in_zp, k->out_zp, k->act_min, k->act_max};
    const mfl_requant_t q = {mult, shift};
    if (k->depthwise) {
        mfl_depthwise_conv2d_s8(&p, &q, &k->in, in, &k->filter, f, bias, &k->out, out);
    } else {
        const mfl_kernel_ctx_t ctx = {malloc(mfl_conv2d_s8_get_buffer_size(&k->in, &k->filter)),
                                      mfl_conv2d_s8_get_buffer_size(&k->in, &k->filter)};
        mfl_conv2d_s8(&ctx, &p, &q, &k->in, in, &k->filter, f, bias, &k->out, out);
        free(ctx.buf);
    }
    const int32_t dm = k->out.c / k->in.c;
    for (int32_t b = 0; b < k->out.n; b++)
    for (int32_t oy = 0; oy < k->out.h; oy++)
    for (int32_t ox = 0; ox < k->out.w; ox++)
    for (int32_t oc = 0; oc < k->out.c; oc++) {
        int64_t acc = bias[oc];
        for (int32_t fy = 0; fy < k->filter.h; fy++)
        for (int32_t fx = 0; fx < k->filter.w; fx++) {
            const int32_t y = oy * k->stride - k->pad + fy * k->dilation;
            const int32_t x = ox * k->stride - k->pad + fx * k->dilation;
            const int8_t *inb = in + (size_t)b * k->in.h * k->in.w * k->in.c;
            if (k->depthwise) {
                acc += (int64_t)f[(fy * k->filter.w + fx) * k->filter.c + oc] *
                       (padded_at(inb, &k->in, k->in_zp, y, x, oc / dm) - k->in_zp);
            } else {
                for (int32_t ic = 0; ic < k->in.c; ic++) {
                    acc += (int64_t)f[((oc * k->filter.h + fy) * k->filter.w + fx) * k->filter.c + ic] *
                           (padded_at(inb, &k->in, k->in_zp, y, x, ic) - k->in_zp);
                }
            }
        }
        const size_t o = (((size_t)b * k->out.h + oy) * k->out.w + ox) * k->out.c + oc;
        assert_int_equal(out[o], requant_ref(acc, real[oc], k->out_zp, k->act_min, k->act_max));
    }
    free(in);
    free(f);
    free(out);
}

static void test_conv_same_padding_stride2(void **state)
{
    (void)state;
    /* 7x7 input, 3x3 filter, stride 2, SAME: out 4x4, pad 1 */
    conv_case_t k = {0, {2, 7, 7, 3}, {4, 3, 3, 3}, {2, 4, 4, 4}, 2, 1, 1, -5, 3, -128, 127, 0};
    run_conv_case(&k);
}

static void test_conv_valid_dilation(void **state)
{
    (void)state;
    /* 9x9 input, 3x3 filter, dilation 2 (effective 5), VALID: out 5x5 */
    conv_case_t k = {0, {1, 9, 9, 2}, {3, 3, 3, 2}, {1, 5, 5, 3}, 1, 2, 0, 17, -20, -128, 127, 0};
    run_conv_case(&k);
}

static void test_conv_saturation_and_relu6(void **state)
{
    (void)state;
    conv_case_t k = {0, {1, 5, 5, 2}, {4, 3, 3, 2}, {1, 5, 5, 4}, 1, 1, 1, 0, -128, -128, 127, 1};
    run_conv_case(&k);
    conv_case_t narrow = {0, {1, 5, 5, 2}, {4, 3, 3, 2}, {1, 5, 5, 4}, 1, 1, 1, 0, -128, -128, -60, 0};
    run_conv_case(&narrow);
}

static void test_depthwise_multiplier_and_padding(void **state)
{
    (void)state;
    /* depth multiplier 2, 5x5 filter, SAME on 6x6 with stride 1: pad 2 */
    conv_case_t k = {1, {1, 6, 6, 3}, {1, 5, 5, 6}, {1, 6, 6, 6}, 1, 1, 2, 9, 4, -128, 127, 0};
    run_conv_case(&k);
    conv_case_t s2 = {1, {2, 8, 8, 4}, {1, 3, 3, 4}, {2, 4, 4, 4}, 2, 1, 0, -100, 0, -128, 127, 1};
    run_conv_case(&s2);
}

static void test_fully_connected_per_tensor_and_per_channel(void **state)
{
    (void)state;
    enum { B = 3, IN = 37, OUT = 5 };
    int8_t in[B * IN], w[OUT * IN], out[B * OUT];
    int32_t bias[OUT], mult[OUT], shift[OUT];
    for (int i = 0; i < B * IN; i++) in[i] = rand8();
    for (int i = 0; i < OUT * IN; i++) w[i] = (int8_t)(rand8() | 1);
    for (int o = 0; o < OUT; o++) {
        bias[o] = rand8() * 100;
        mult[o] = ONE_M;
        shift[o] = o % 2 ? -2 : 0; /* 0.125 or 0.5 */
    }
    for (int per_channel = 0; per_channel < 2; per_channel++) {
        const mfl_fc_params_t p = {12, -7, -128, 127, per_channel};
        const mfl_requant_t q = {mult, shift};
        mfl_fully_connected_s8(&p, &q, B, IN, in, OUT, w, bias, out);
        for (int b = 0; b < B; b++) {
            for (int o = 0; o < OUT; o++) {
                int64_t acc = bias[o];
                for (int i = 0; i < IN; i++) acc += (int64_t)w[o * IN + i] * (in[b * IN + i] + 12);
                const int qi = per_channel ? o : 0;
                /* real = 2^30 * 2^shift / 2^31; the shift right adds a second rounding, so
                 * compare with TFLM's two-step rounding written out */
                const int64_t half = round_half_away((double)acc * 0.5);
                const int32_t two_step = mfl_quant_rdbpot((int32_t)half, -shift[qi]);
                int32_t want = two_step - 7;
                want = want < -128 ? -128 : want > 127 ? 127 : want;
                assert_int_equal(out[b * OUT + o], want);
            }
        }
    }
}

static void test_avg_pool_excludes_padding(void **state)
{
    (void)state;
    /* 3x3 single channel, 3x3 window, stride 1, pad 1 (SAME) */
    const int8_t in[9] = {1, 2, 3, 4, 5, 6, 7, 8, -100};
    int8_t out[9];
    const mfl_dims_t d = {1, 3, 3, 1};
    const mfl_pool_params_t p = {1, 1, 3, 3, 1, 1, -128, 127};
    mfl_avg_pool2d_s8(&p, &d, in, &d, out);
    /* corner (0,0): (1+2+4+5)/4 = 3; centre: (36-100)/9 = -7.1 -> -7;
     * corner (2,2): (5+6+8-100)/4 = -20.25 -> -20; edge (0,1): (1+2+3+4+5+6)/6 = 3.5 -> 4 */
    assert_int_equal(out[0], 3);
    assert_int_equal(out[4], -7);
    assert_int_equal(out[8], -20);
    assert_int_equal(out[1], 4);
    /* negative tie: (-5 + 0) / 2 = -2.5 rounds away from zero to -3 */
    const int8_t in2[2] = {-5, 0};
    const mfl_dims_t d2 = {1, 1, 2, 1}, o2 = {1, 1, 1, 1};
    const mfl_pool_params_t p2 = {2, 2, 2, 1, 0, 0, -128, 127};
    mfl_avg_pool2d_s8(&p2, &d2, in2, &o2, out);
    assert_int_equal(out[0], -3);
}

static void test_max_pool_padding_and_clamp(void **state)
{
    (void)state;
    const int8_t in[8] = {-128, -100, 50, 127, -3, -4, -5, -6}; /* 2x2x2 */
    int8_t out[8];
    const mfl_dims_t d = {1, 2, 2, 2};
    const mfl_pool_params_t p = {1, 1, 2, 2, 0, 0, -128, 100}; /* SAME-like: windows clipped at the edge */
    mfl_max_pool2d_s8(&p, &d, in, &d, out);
    assert_int_equal(out[0], 50);  /* channel 0 over all four */
    assert_int_equal(out[1], 100); /* 127 clamped by the activation */
    assert_int_equal(out[2], 50);
    assert_int_equal(out[6], -5);  /* last pixel alone */
    assert_int_equal(out[7], -6);
}

static void test_add_equal_scales_is_exact(void **state)
{
    (void)state;
    /* Same scale everywhere: TFLM's int8 ADD reduces to exact integer addition. */
    mfl_add_params_t p = {.input1_offset = 10, .input2_offset = -3, .output_offset = 5, .left_shift = 20,
                          .act_min = -128, .act_max = 127};
    int shift;
    mfl_quant_multiplier_from_real(0.5, &p.input1_multiplier, &shift);
    p.input1_shift = shift;
    p.input2_multiplier = p.input1_multiplier;
    p.input2_shift = shift;
    mfl_quant_multiplier_from_real(2.0 / (1 << 20), &p.output_multiplier, &shift);
    p.output_shift = shift;
    int8_t a[256], b[256], out[256];
    for (int i = 0; i < 256; i++) {
        a[i] = (int8_t)i;
        b[i] = rand8();
    }
    mfl_add_s8(&p, 256, a, b, out);
    for (int i = 0; i < 256; i++) {
        int32_t want = (a[i] + 10) + (b[i] - 3) + 5;
        want = want < -128 ? -128 : want > 127 ? 127 : want;
        assert_int_equal(out[i], want);
    }
}

static void test_softmax_shapes_of_the_distribution(void **state)
{
    (void)state;
    mfl_softmax_params_t p;
    int shift;
    mfl_quant_softmax_params(1.0, 0.1, &p.input_multiplier, &shift, &p.diff_min);
    p.input_left_shift = shift;
    /* uniform row of 4: each 0.25 = 64/256 -> -64 */
    const int8_t uniform[4] = {7, 7, 7, 7};
    int8_t out[12];
    mfl_softmax_s8(&p, 1, 4, uniform, out);
    for (int i = 0; i < 4; i++) assert_int_equal(out[i], -64);
    /* one dominant entry: it saturates at 127, the rest underflow to -128 */
    const int8_t peak[4] = {127, -128, -128, -128};
    mfl_softmax_s8(&p, 1, 4, peak, out);
    assert_int_equal(out[0], 127);
    for (int i = 1; i < 4; i++) assert_int_equal(out[i], -128);
    /* random rows of 12: within one step of the real softmax */
    for (int r = 0; r < 200; r++) {
        int8_t in[12];
        double e[12], sum = 0;
        for (int i = 0; i < 12; i++) in[i] = rand8();
        int8_t max = in[0];
        for (int i = 0; i < 12; i++) max = in[i] > max ? in[i] : max;
        for (int i = 0; i < 12; i++) sum += (e[i] = exp(0.1 * (in[i] - max)));
        mfl_softmax_s8(&p, 1, 12, in, out);
        for (int i = 0; i < 12; i++) {
            const double want = e[i] / sum * 256.0 - 128.0;
            assert_true(fabs(out[i] - (want > 127 ? 127 : want)) <= 1.0);
        }
    }
}

static int32_t out_size(int32_t in, int32_t filter, int32_t stride, int32_t dilation, int32_t pad)
{
    return (in + 2 * pad - ((filter - 1) * dilation + 1)) / stride + 1;
}

/* Random shapes (any input depth, odd channel and pixel counts, padding,
 * strides, dilation, batches, real multipliers and shifts): the DSP
 * convolution gives the portable one's bytes. */
static void test_conv_paths_agree(void **state)
{
    (void)state;
    for (int trial = 0; trial < 300; trial++) {
        const int32_t kh = 1 + trial % 4, kw = 1 + (trial / 4) % 3, stride = 1 + trial % 2;
        const int32_t dilation = 1 + (trial % 7 == 0), pad = (trial / 3) % 2 ? kh / 2 : 0;
        const mfl_dims_t in_d = {1 + trial % 2, 3 + (uint8_t)rand8() % 6, 3 + (uint8_t)rand8() % 6,
                                 1 + (uint8_t)rand8() % 13};
        const int32_t oh = out_size(in_d.h, kh, stride, dilation, pad);
        const int32_t ow = out_size(in_d.w, kw, stride, dilation, pad);
        if (oh < 1 || ow < 1) {
            continue;
        }
        const mfl_dims_t f_d = {1 + (uint8_t)rand8() % 7, kh, kw, in_d.c};
        const mfl_dims_t out_d = {in_d.n, oh, ow, f_d.n};
        const size_t n_in = (size_t)in_d.n * in_d.h * in_d.w * in_d.c, n_f = (size_t)f_d.n * kh * kw * in_d.c;
        const size_t n_out = (size_t)out_d.n * oh * ow * out_d.c;
        int8_t *in = malloc(n_in), *f = malloc(n_f), *a = malloc(n_out), *b = malloc(n_out);
        int32_t bias[8], mult[8], shift[8];
        for (size_t i = 0; i < n_in; i++) in[i] = rand8();
        for (size_t i = 0; i < n_f; i++) f[i] = (int8_t)(rand8() | 1);
        for (int c = 0; c < f_d.n; c++) {
            /* some trials near the int32 ends: the DSP sums start at the bias and must wrap, not overflow */
            bias[c] = trial % 9 == 0 ? INT32_MAX - (uint8_t)rand8() : trial % 9 == 1 ? INT32_MIN + (uint8_t)rand8()
                                                                                : rand8() * 97;
            mult[c] = (1 << 30) + (int32_t)(seed & 0x3FFFFFFF);
            /* mostly the DSP requantization's range [-23, -1], sometimes the whole range */
            shift[c] = trial % 4 ? -1 - (int32_t)((uint8_t)rand8() % 23) : -31 + (int32_t)((uint8_t)rand8() % 34);
        }
        const mfl_conv_params_t p = {stride, stride, dilation, dilation, pad, pad, rand8(), rand8(), -128, 127};
        const mfl_requant_t q = {mult, shift};
        const uint32_t scratch = mfl_conv2d_s8_get_buffer_size(&in_d, &f_d);
        const mfl_kernel_ctx_t ctx = {malloc(scratch), scratch};
        /* the portable kernel with its column (half the trials) or summing in place */
        mfl_conv2d_s8_portable(trial % 2 ? &ctx : NULL, &p, &q, &in_d, in, &f_d, f, trial % 5 ? bias : NULL, &out_d,
                               a);
        mfl_conv2d_s8_dsp(&ctx, &p, &q, &in_d, in, &f_d, f, trial % 5 ? bias : NULL, &out_d, b);
        assert_memory_equal(a, b, n_out);
        free(ctx.buf);
        free(in);
        free(f);
        free(a);
        free(b);
    }
}

/* Random depthwise shapes, depth multiplier 1 (the DSP kernel's case):
 * channel counts on and off multiples of four, odd widths, padding that
 * clips adjacent windows differently, strides, dilation. */
static void test_depthwise_paths_agree(void **state)
{
    (void)state;
    for (int trial = 0; trial < 300; trial++) {
        const int32_t kh = 1 + trial % 5, kw = 1 + (trial / 5) % 4, stride = 1 + trial % 3;
        /* every 13th trial pads by more than the window: edge windows lie wholly in the padding */
        const int32_t dilation = 1 + (trial % 6 == 0), pad = trial % 13 == 0 ? kw + 1 : (trial / 2) % 2 ? kw / 2 : 0;
        const mfl_dims_t in_d = {1 + trial % 2, 2 + (uint8_t)rand8() % 8, 2 + (uint8_t)rand8() % 8,
                                 1 + (uint8_t)rand8() % 11};
        const int32_t oh = out_size(in_d.h, kh, stride, dilation, pad);
        const int32_t ow = out_size(in_d.w, kw, stride, dilation, pad);
        if (oh < 1 || ow < 1) {
            continue;
        }
        const mfl_dims_t f_d = {1, kh, kw, in_d.c};
        const mfl_dims_t out_d = {in_d.n, oh, ow, in_d.c};
        const size_t n_in = (size_t)in_d.n * in_d.h * in_d.w * in_d.c, n_f = (size_t)kh * kw * in_d.c;
        const size_t n_out = (size_t)out_d.n * oh * ow * out_d.c;
        int8_t *in = malloc(n_in), *f = malloc(n_f), *a = malloc(n_out), *b = malloc(n_out);
        int32_t bias[16], mult[16], shift[16];
        for (size_t i = 0; i < n_in; i++) in[i] = rand8();
        for (size_t i = 0; i < n_f; i++) f[i] = (int8_t)(rand8() | 1);
        for (int c = 0; c < in_d.c; c++) {
            bias[c] = trial % 9 == 0 ? INT32_MAX - (uint8_t)rand8() : trial % 9 == 1 ? INT32_MIN + (uint8_t)rand8()
                                                                                : rand8() * 31;
            mult[c] = (1 << 30) + (int32_t)(seed & 0x3FFFFFFF);
            shift[c] = trial % 4 ? -1 - (int32_t)((uint8_t)rand8() % 23) : 1 - (int32_t)((uint8_t)rand8() % 9);
        }
        const mfl_conv_params_t p = {stride, stride, dilation, dilation, pad, pad, rand8(), rand8(), -100, 120};
        const mfl_requant_t q = {mult, shift};
        mfl_depthwise_conv2d_s8_portable(&p, &q, &in_d, in, &f_d, f, trial % 4 ? bias : NULL, &out_d, a);
        mfl_depthwise_conv2d_s8_dsp(&p, &q, &in_d, in, &f_d, f, trial % 4 ? bias : NULL, &out_d, b);
        assert_memory_equal(a, b, n_out);
        free(in);
        free(f);
        free(a);
        free(b);
    }
}

/* Random fully-connected shapes: feature counts on and off multiples of
 * four, odd output counts, batches, per-tensor and per-channel scales. */
static void test_fully_connected_paths_agree(void **state)
{
    (void)state;
    for (int trial = 0; trial < 300; trial++) {
        const int32_t batches = 1 + trial % 3, in_f = 1 + (uint8_t)rand8() % 70, out_f = 1 + (uint8_t)rand8() % 9;
        int8_t *x = malloc((size_t)batches * in_f), *w = malloc((size_t)in_f * out_f);
        int8_t *a = malloc((size_t)batches * out_f), *b = malloc((size_t)batches * out_f);
        int32_t bias[9], mult[9], shift[9];
        for (int32_t i = 0; i < batches * in_f; i++) x[i] = rand8();
        for (int32_t i = 0; i < in_f * out_f; i++) w[i] = (int8_t)(rand8() | 1);
        for (int o = 0; o < out_f; o++) {
            bias[o] = trial % 9 == 0 ? INT32_MAX - (uint8_t)rand8() : trial % 9 == 1 ? INT32_MIN + (uint8_t)rand8()
                                                                                : rand8() * 211;
            mult[o] = (1 << 30) + (int32_t)(seed & 0x3FFFFFFF);
            shift[o] = trial % 4 ? -1 - (int32_t)((uint8_t)rand8() % 23) : 2 - (int32_t)((uint8_t)rand8() % 12);
        }
        const mfl_fc_params_t p = {rand8(), rand8(), -128 + trial % 50, 127, trial % 2};
        const mfl_requant_t q = {mult, shift};
        mfl_fully_connected_s8_portable(&p, &q, batches, in_f, x, out_f, w, trial % 3 ? bias : NULL, a);
        mfl_fully_connected_s8_dsp(&p, &q, batches, in_f, x, out_f, w, trial % 3 ? bias : NULL, b);
        assert_memory_equal(a, b, (size_t)batches * out_f);
        free(x);
        free(w);
        free(a);
        free(b);
    }
}

/* The DSP kernels' short requantization (saturating add instead of the
 * remainder test) gives the reference's int8 output for every shift in its
 * range, every accumulator (up to the int32 extremes, where the saturation
 * happens), multiplier, zero point and activation range. */
static void test_dsp_requant_matches_reference(void **state)
{
    (void)state;
    int32_t shifts[1];
    for (int s = MFL_DSP_SHIFT_MIN; s <= -1; s++) {
        shifts[0] = s;
        assert_true(mfl_dsp_requant_fits(shifts, 1));
    }
    shifts[0] = 0;
    assert_false(mfl_dsp_requant_fits(shifts, 1));
    shifts[0] = MFL_DSP_SHIFT_MIN - 1;
    assert_false(mfl_dsp_requant_fits(shifts, 1));
    uint32_t x = 99;
    for (int i = 0; i < 3000000; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        const int32_t acc = i % 5 ? (int32_t)x >> (i % 31) : (int32_t)x;
        const int32_t m = (int32_t)(0x40000000u | (x * 2654435761u >> 2)) & (i % 7 ? 0x7FFFFFFF : 0x40000000);
        const int32_t shift = -1 - (int32_t)((x >> 3) % 23);
        const int32_t off = (int32_t)(x >> 11) % 256 - 128, lo = -128 + (int32_t)((x >> 20) % 64);
        const int32_t hi = 127 - (int32_t)((x >> 26) % 32);
        const int8_t want = (int8_t)mfl_quant_clamp(mfl_quant_add_wrap(mfl_quant_mul_by_qm(acc, m, shift), off), lo, hi);
        assert_int_equal(mfl_dsp_requant_s8(acc, m, shift, MFL_DSP_REQUANT_SHORT, off, lo, hi), want);
        const int8_t want_full = (int8_t)mfl_quant_clamp(mfl_quant_add_wrap(mfl_quant_mul_by_qm(acc, m, shift), off),
                                                         -128, 127);
        assert_int_equal(mfl_dsp_requant_s8(acc, m, shift, MFL_DSP_REQUANT_SHORT_FULL, off, -128, 127), want_full);
    }
    const int32_t extremes[] = {INT32_MAX, INT32_MAX - 1, INT32_MIN, INT32_MIN + 1, (1 << 30), -(1 << 30)};
    for (size_t e = 0; e < sizeof(extremes) / sizeof(extremes[0]); e++) {
        for (int shift = MFL_DSP_SHIFT_MIN; shift <= -1; shift++) {
            const int32_t ms[] = {0x7FFFFFFF, 0x40000000, 0x55555555};
            for (size_t k = 0; k < 3; k++) {
                const int8_t want = (int8_t)mfl_quant_clamp(
                    mfl_quant_add_wrap(mfl_quant_mul_by_qm(extremes[e], ms[k], shift), -128), -128, 127);
                assert_int_equal(mfl_dsp_requant_s8(extremes[e], ms[k], shift, MFL_DSP_REQUANT_SHORT, -128, -128, 127),
                                 want);
                assert_int_equal(
                    mfl_dsp_requant_s8(extremes[e], ms[k], shift, MFL_DSP_REQUANT_SHORT_FULL, -128, -128, 127), want);
            }
        }
    }
}

static int use_portable(void **state)
{
    (void)state;
    return mfl_kernels_select(MFL_KERNELS_PORTABLE);
}

static int use_dsp(void **state)
{
    (void)state;
    return mfl_kernels_select(MFL_KERNELS_DSP);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv_same_padding_stride2),
        cmocka_unit_test(test_conv_valid_dilation),
        cmocka_unit_test(test_conv_saturation_and_relu6),
        cmocka_unit_test(test_depthwise_multiplier_and_padding),
        cmocka_unit_test(test_fully_connected_per_tensor_and_per_channel),
        cmocka_unit_test(test_avg_pool_excludes_padding),
        cmocka_unit_test(test_max_pool_padding_and_clamp),
        cmocka_unit_test(test_add_equal_scales_is_exact),
        cmocka_unit_test(test_softmax_shapes_of_the_distribution),
        cmocka_unit_test(test_conv_paths_agree),
        cmocka_unit_test(test_depthwise_paths_agree),
        cmocka_unit_test(test_fully_connected_paths_agree),
        cmocka_unit_test(test_dsp_requant_matches_reference),
    };
    const int failed = cmocka_run_group_tests_name("kernels, portable path", tests, use_portable, NULL);
    return failed + cmocka_run_group_tests_name("kernels, DSP path", tests, use_dsp, NULL);
}
