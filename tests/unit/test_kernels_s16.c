/*
 * The 16x8 convolutions' two paths (portable C and the DSP path, run here
 * through its C emulation of SMLAD/SXTB16/PKH) against an independent
 * reference written from TFLite's definition: an int64 sum over explicit
 * (y, x, channel) taps, out-of-bounds taps skipped, for CONV_2D; for
 * TRANSPOSE_CONV the scatter TFLM does (every input pixel adds its products
 * to an int64 buffer of the output's size), not the kernels' gather. Both
 * then add the int64 bias and requantize with TFLite's 64-bit
 * MultiplyByQuantizedMultiplier (Q15 multiplier, one rounding shift by
 * 15 - shift), and clamp.
 *
 * Edge cases: input depths 1 to 9 and 17 (every SIMD tail: runs not a
 * multiple of 4, and dilated runs of one pixel's channels), odd output
 * channel counts (the last one alone), saturating codes (-32768 x -128 =
 * 2^22 per product, the largest), windows of exactly 511 taps (the int32
 * bound, no flush) and beyond (flushes mid-run and between runs), bias
 * extremes of +-2^47, narrow activation clamps, shifts from -31 to 7,
 * strides, padding, dilation, outputs beside the input, and unaligned
 * activation and weight pointers. Then the 16x8 ADD/SUB against TFLite's
 * formula (gemmlowp's rounding written out as TFLite writes it) on every
 * kind of broadcast, and PAD / STRIDED_SLICE of int8 and int16 codes (one
 * walker, copy_walk.h) against index-by-index references.
 */
#include <stdlib.h>
#include <string.h>

#include "mfl/kernels.h"
#include "mfl/kernels_s16.h"
#include "test_support.h"

static uint32_t rng = 0x9E3779B9u;
static uint32_t next_u32(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

static int32_t rand_in(int32_t lo, int32_t hi) /* [lo, hi] */
{
    return lo + (int32_t)(next_u32() % (uint32_t)(hi - lo + 1));
}

/* An int16 code: a quarter of them at the extremes. */
static int16_t rand_s16(void)
{
    switch (next_u32() & 7) {
    case 0: return -32768;
    case 1: return 32767;
    default: return (int16_t)next_u32();
    }
}

static int8_t rand_s8(void)
{
    switch (next_u32() & 7) {
    case 0: return -128;
    case 1: return 127;
    default: return (int8_t)next_u32();
    }
}

/* TFLite's MultiplyByQuantizedMultiplier(int64_t x, int32_t m, int shift). */
static int32_t ref_requant64(int64_t x, int32_t m, int shift)
{
    const int32_t reduced = m < 0x7FFF0000 ? (m + (1 << 15)) >> 16 : 0x7FFF;
    const int total = 15 - shift;
    int64_t r = x * reduced + ((int64_t)1 << (total - 1));
    r >>= total;
    return (int32_t)r;
}

static int16_t ref_output(int64_t sum, const int64_t *bias, int32_t oc, int32_t m, int32_t shift, int32_t lo,
                          int32_t hi)
{
    if (bias) {
        sum += bias[oc];
    }
    const int32_t v = ref_requant64(sum, m, shift);
    return (int16_t)(v < lo ? lo : v > hi ? hi : v);
}

static void ref_conv(const mfl_conv_params_t *p, const int32_t *mult, const int32_t *shift,
                     const mfl_dims_t *in, const int16_t *x, const mfl_dims_t *f, const int8_t *w,
                     const int64_t *bias, const mfl_dims_t *out, int16_t *y)
{
    for (int32_t b = 0; b < out->n; b++) {
        for (int32_t oy = 0; oy < out->h; oy++) {
            for (int32_t ox = 0; ox < out->w; ox++) {
                for (int32_t oc = 0; oc < out->c; oc++) {
                    int64_t sum = 0;
                    for (int32_t ky = 0; ky < f->h; ky++) {
                        for (int32_t kx = 0; kx < f->w; kx++) {
                            const int32_t iy = oy * p->stride_h - p->pad_h + ky * p->dilation_h;
                            const int32_t ix = ox * p->stride_w - p->pad_w + kx * p->dilation_w;
                            if (iy < 0 || iy >= in->h || ix < 0 || ix >= in->w) {
                                continue;
                            }
                            for (int32_t c = 0; c < in->c; c++) {
                                sum += (int64_t)x[((b * in->h + iy) * in->w + ix) * in->c + c] *
                                       w[((oc * f->h + ky) * f->w + kx) * f->c + c];
                            }
                        }
                    }
                    y[((b * out->h + oy) * out->w + ox) * out->c + oc] =
                        ref_output(sum, bias, oc, mult[oc], shift[oc], p->act_min, p->act_max);
                }
            }
        }
    }
}

static void ref_transpose_conv(const mfl_conv_params_t *p, const int32_t *mult, const int32_t *shift,
                               const mfl_dims_t *in, const int16_t *x, const mfl_dims_t *f, const int8_t *w,
                               const int64_t *bias, const mfl_dims_t *out, int16_t *y)
{
    const size_t n = (size_t)out->n * out->h * out->w * out->c;
    int64_t *acc = test_calloc(n, sizeof(*acc));
    for (int32_t b = 0; b < in->n; b++) {
        for (int32_t iy = 0; iy < in->h; iy++) {
            for (int32_t ix = 0; ix < in->w; ix++) {
                for (int32_t ky = 0; ky < f->h; ky++) {
                    for (int32_t kx = 0; kx < f->w; kx++) {
                        const int32_t oy = iy * p->stride_h - p->pad_h + ky;
                        const int32_t ox = ix * p->stride_w - p->pad_w + kx;
                        if (oy < 0 || oy >= out->h || ox < 0 || ox >= out->w) {
                            continue;
                        }
                        for (int32_t oc = 0; oc < out->c; oc++) {
                            for (int32_t c = 0; c < in->c; c++) {
                                acc[((b * out->h + oy) * out->w + ox) * out->c + oc] +=
                                    (int64_t)x[((b * in->h + iy) * in->w + ix) * in->c + c] *
                                    w[((oc * f->h + ky) * f->w + kx) * f->c + c];
                            }
                        }
                    }
                }
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        const int32_t oc = (int32_t)(i % (size_t)out->c);
        y[i] = ref_output(acc[i], bias, oc, mult[oc], shift[oc], p->act_min, p->act_max);
    }
    test_free(acc);
}

static int32_t ilog2(int32_t v)
{
    int32_t r = 0;
    while (v > 1) {
        v >>= 1;
        r++;
    }
    return r;
}

/* One case: shapes, parameters and how the data is drawn. */
typedef struct {
    mfl_dims_t in, f, out;
    mfl_conv_params_t p;
    int transpose;
    int fill;      /* 0: random; 1: every code -32768 and every weight -128 (the largest products) */
    int bias_kind; /* 0: none; 1: random within 2^24; 2: the same but +-2^47 on every third channel */
    int misalign;  /* activations and weights one element past an aligned address */
} conv_case_t;

typedef void (*conv_fn_t)(const mfl_conv_params_t *, const mfl_requant_t *, const mfl_dims_t *, const int16_t *,
                          const mfl_dims_t *, const int8_t *, const int64_t *, const mfl_dims_t *, int16_t *);

static void run_case(const conv_case_t *k)
{
    const size_t nx = (size_t)k->in.n * k->in.h * k->in.w * k->in.c;
    const size_t nw = (size_t)k->f.n * k->f.h * k->f.w * k->f.c;
    const size_t ny = (size_t)k->out.n * k->out.h * k->out.w * k->out.c;
    const int32_t cout = k->out.c, taps = k->f.h * k->f.w * k->f.c;
    int16_t *xbuf = test_malloc((nx + 2) * sizeof(int16_t));
    int8_t *wbuf = test_malloc(nw + 4);
    int16_t *x = xbuf + (k->misalign ? 1 : 0);
    int8_t *w = wbuf + (k->misalign ? 1 : 0);
    for (size_t i = 0; i < nx; i++) {
        x[i] = k->fill ? -32768 : rand_s16();
    }
    for (size_t i = 0; i < nw; i++) {
        w[i] = k->fill ? -128 : rand_s8();
    }
    int64_t *bias = k->bias_kind ? test_malloc((size_t)cout * sizeof(int64_t)) : NULL;
    int32_t *mult = test_malloc((size_t)cout * sizeof(int32_t));
    int32_t *shift = test_malloc((size_t)cout * sizeof(int32_t));
    for (int32_t oc = 0; oc < cout; oc++) {
        if (bias) {
            /* within 2^24 (the size of typical sums), or +-2^47 on every third channel */
            bias[oc] = k->bias_kind == 2 && oc % 3 == 2 ? (oc & 1 ? -MFL_S16_MAX_BIAS : MFL_S16_MAX_BIAS)
                                                        : (int64_t)((int32_t)next_u32() >> 7);
        }
        mult[oc] = oc == 0 ? 0x7FFFFFFF : (int32_t)(0x40000000u + (next_u32() & 0x3FFFFFFFu));
        /* outputs spread over int16: a shift that brings the window's
         * typical sum (sqrt(taps) * 2^21 for random codes, taps * 2^22 for
         * the largest products) near 2^14; channel 1 saturates (shift 7) */
        const int32_t base = k->fill ? 22 + ilog2(taps) : 21 + ilog2(taps) / 2;
        const int32_t sh = 14 - base + rand_in(-1, 1);
        shift[oc] = oc == 1 ? MFL_S16_SHIFT_MAX : sh < -31 ? -31 : sh;
    }
    const mfl_requant_t rq = {mult, shift};
    int16_t *want = test_malloc(ny * sizeof(int16_t));
    int16_t *got = test_malloc(ny * sizeof(int16_t));
    if (k->transpose) {
        ref_transpose_conv(&k->p, mult, shift, &k->in, x, &k->f, w, bias, &k->out, want);
    } else {
        ref_conv(&k->p, mult, shift, &k->in, x, &k->f, w, bias, &k->out, want);
    }
    const conv_fn_t fns[3] = {
        k->transpose ? mfl_transpose_conv2d_s16_portable : mfl_conv2d_s16_portable,
        k->transpose ? mfl_transpose_conv2d_s16_dsp : mfl_conv2d_s16_dsp,
        k->transpose ? mfl_transpose_conv2d_s16 : mfl_conv2d_s16, /* the entry point, DSP selected */
    };
    assert_int_equal(mfl_kernels_select(MFL_KERNELS_DSP), 0);
    for (int i = 0; i < 3; i++) {
        memset(got, 0x5A, ny * sizeof(int16_t));
        fns[i](&k->p, &rq, &k->in, x, &k->f, w, bias, &k->out, got);
        if (memcmp(got, want, ny * sizeof(int16_t)) != 0) {
            for (size_t j = 0; j < ny; j++) {
                if (got[j] != want[j]) {
                    print_error("%s path %d: in [%d,%d,%d,%d] filter [%d,%d,%d,%d] out [%d,%d,%d,%d]: "
                                "output %zu is %d, want %d\n",
                                k->transpose ? "transpose" : "conv", i, k->in.n, k->in.h, k->in.w, k->in.c,
                                k->f.n, k->f.h, k->f.w, k->f.c, k->out.n, k->out.h, k->out.w, k->out.c, j,
                                got[j], want[j]);
                    break;
                }
            }
            fail();
        }
    }
    mfl_kernels_select(MFL_KERNELS_PORTABLE);
    test_free(got);
    test_free(want);
    test_free(shift);
    test_free(mult);
    test_free(bias);
    test_free(wbuf);
    test_free(xbuf);
}

static mfl_conv_params_t params(int32_t sh, int32_t sw, int32_t dh, int32_t dw, int32_t ph, int32_t pw)
{
    const mfl_conv_params_t p = {.stride_w = sw,
                                 .stride_h = sh,
                                 .dilation_w = dw,
                                 .dilation_h = dh,
                                 .pad_w = pw,
                                 .pad_h = ph,
                                 .act_min = -32768,
                                 .act_max = 32767};
    return p;
}

/* Output size along an axis, TFLite's VALID/SAME arithmetic with explicit
 * padding: the windows that start at or before the last input + pad. */
static int32_t conv_out(int32_t in, int32_t k, int32_t stride, int32_t dil, int32_t pad)
{
    const int32_t eff = (k - 1) * dil + 1;
    const int32_t n = (in + 2 * pad - eff) / stride + 1;
    return n < 1 ? 1 : n;
}

static void test_conv_edge_shapes(void **state)
{
    (void)state;
    /* every input depth through the 4-tap groups and their tails, with and
     * without dilation, odd and even output channel counts */
    for (int32_t cin = 1; cin <= 9; cin++) {
        for (int32_t cout = 1; cout <= 4; cout++) {
            for (int dil = 1; dil <= 2; dil++) {
                conv_case_t k = {.in = {1, 5, 6, cin},
                                 .f = {cout, 3, 3, cin},
                                 .p = params(1, 2, 1, dil, 1, 1),
                                 .bias_kind = 1 + (cin & 1),
                                 .misalign = cout & 1};
                k.out = (mfl_dims_t){1, conv_out(5, 3, 1, 1, 1), conv_out(6, 3, 2, dil, 1), cout};
                run_case(&k);
            }
        }
    }
    /* depth 17 with strides and a batch of 2; a narrow clamp */
    conv_case_t k = {.in = {2, 7, 9, 17}, .f = {5, 2, 4, 17}, .p = params(2, 2, 2, 1, 1, 2), .bias_kind = 1};
    k.p.act_min = -300, k.p.act_max = 1000;
    k.out = (mfl_dims_t){2, conv_out(7, 2, 2, 2, 1), conv_out(9, 4, 2, 1, 2), 5};
    run_case(&k);
    /* outputs beside the input (more outputs than the input covers) */
    conv_case_t beside = {.in = {1, 2, 3, 4},
                          .f = {3, 1, 2, 4},
                          .out = {1, 4, 6, 3},
                          .p = params(1, 1, 1, 1, 0, 0),
                          .bias_kind = 1};
    run_case(&beside);
}

/* The largest products, -32768 x -128 = 2^22: 511 of them (a 1x7x73
 * window) sum to 2^31 - 2^22, still an int32; 512 (1x8x64) and 1025
 * (5x5x41) go past it, so the DSP path flushes its int32 partial sums into
 * int64 mid-run, and with dilation between runs. */
static void test_conv_accumulator_bounds(void **state)
{
    (void)state;
    const struct {
        mfl_dims_t in, f;
        int32_t dil;
    } shapes[] = {
        {{1, 1, 7, 73}, {3, 1, 7, 73}, 1},     /* 511 taps: exactly the bound */
        {{1, 1, 8, 64}, {2, 1, 8, 64}, 1},     /* 512 */
        {{1, 5, 5, 41}, {3, 5, 5, 41}, 1},     /* 1025, runs of 205 */
        {{1, 9, 9, 41}, {3, 5, 5, 41}, 2},     /* 1025, dilated: runs of 41 */
        {{1, 1, 1, 1030}, {2, 1, 1, 1030}, 1}, /* one run of 1030 */
    };
    for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
        for (int fill = 0; fill <= 1; fill++) {
            for (int bias_kind = 0; bias_kind <= 2; bias_kind++) {
                conv_case_t k = {.in = shapes[i].in,
                                 .f = shapes[i].f,
                                 .p = params(1, 1, shapes[i].dil, shapes[i].dil, 0, 0),
                                 .fill = fill,
                                 .bias_kind = bias_kind,
                                 .misalign = fill};
                k.out = (mfl_dims_t){1, conv_out(k.in.h, k.f.h, 1, shapes[i].dil, 0),
                                     conv_out(k.in.w, k.f.w, 1, shapes[i].dil, 0), k.f.n};
                run_case(&k);
            }
        }
    }
}

/* A random sweep of small shapes, both operators. */
static void test_random_shapes(void **state)
{
    (void)state;
    for (int it = 0; it < 300; it++) {
        conv_case_t k = {.transpose = it & 1, .bias_kind = rand_in(0, 2), .misalign = rand_in(0, 1)};
        const int32_t cin = rand_in(1, 20), cout = rand_in(1, 7), kh = rand_in(1, 4), kw = rand_in(1, 5);
        const int32_t sh = rand_in(1, 3), sw = rand_in(1, 3);
        k.in = (mfl_dims_t){rand_in(1, 2), rand_in(1, 6), rand_in(1, 9), cin};
        k.f = (mfl_dims_t){cout, kh, kw, cin};
        if (k.transpose) { /* TFLite: out = (in - 1) * stride + k - 2 * pad, pad < k */
            const int32_t ph = rand_in(0, kh - 1) / 2, pw = rand_in(0, kw - 1) / 2;
            k.p = params(sh, sw, 1, 1, ph, pw);
            k.out = (mfl_dims_t){k.in.n, (k.in.h - 1) * sh + kh - 2 * ph + rand_in(0, sh - 1),
                                 (k.in.w - 1) * sw + kw - 2 * pw + rand_in(0, sw - 1), cout};
            if (k.out.h < 1 || k.out.w < 1) {
                continue;
            }
        } else {
            const int32_t dh = rand_in(1, 2), dw = rand_in(1, 3), ph = rand_in(0, kh), pw = rand_in(0, kw);
            k.p = params(sh, sw, dh, dw, ph, pw);
            k.out =
                (mfl_dims_t){k.in.n, conv_out(k.in.h, kh, sh, dh, ph), conv_out(k.in.w, kw, sw, dw, pw), cout};
        }
        if (rand_in(0, 3) == 0) {
            k.p.act_min = -rand_in(0, 32768), k.p.act_max = rand_in(0, 32767);
        }
        run_case(&k);
    }
}

/* The seanet shapes (CONV_2D 3x4 stride 2 over 8 channels, TRANSPOSE_CONV
 * 3x4 stride 2 over 16). */
static void test_seanet_shapes(void **state)
{
    (void)state;
    conv_case_t conv = {.in = {1, 4, 162, 8},
                        .f = {16, 3, 4, 8},
                        .out = {1, 2, 80, 16},
                        .p = params(1, 2, 1, 1, 0, 0),
                        .bias_kind = 1};
    run_case(&conv);
    conv_case_t tconv = {.in = {1, 2, 80, 16},
                         .f = {8, 3, 4, 16},
                         .out = {1, 4, 162, 8},
                         .p = params(1, 2, 1, 1, 0, 0),
                         .transpose = 1,
                         .bias_kind = 1};
    run_case(&tconv);
}

/* gemmlowp's SaturatingRoundingDoublingHighMul and RoundingDivideByPOT,
 * as TFLite writes them (a nudge, a truncating division; a remainder
 * against a threshold). */
static int32_t ref_srdhm(int32_t a, int32_t b)
{
    if (a == INT32_MIN && b == INT32_MIN) {
        return INT32_MAX;
    }
    const int64_t ab = (int64_t)a * b;
    const int64_t nudge = ab >= 0 ? (1 << 30) : (1 - (1 << 30));
    return (int32_t)((ab + nudge) / ((int64_t)1 << 31));
}

static int32_t ref_rdbpot(int32_t x, int exponent)
{
    const int32_t mask = (int32_t)(((int64_t)1 << exponent) - 1);
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/* MultiplyByQuantizedMultiplierSmallerThanOneExp (shift <= 0). */
static int32_t ref_scale(int32_t x, int32_t m, int32_t shift)
{
    return ref_rdbpot(ref_srdhm(x, m), -shift);
}

/* TFLite's int16 ADD / SUB of one pair of codes (zero points 0). */
static int16_t ref_add_one(const mfl_add_params_t *p, int32_t a, int32_t b, int sub)
{
    const int32_t sa = ref_scale(a * (1 << p->left_shift), p->input1_multiplier, p->input1_shift);
    const int32_t sb = ref_scale(b * (1 << p->left_shift), p->input2_multiplier, p->input2_shift);
    const int32_t raw = ref_scale(sub ? sa - sb : sa + sb, p->output_multiplier, p->output_shift);
    return (int16_t)(raw < p->act_min ? p->act_min : raw > p->act_max ? p->act_max : raw);
}

/* Flat index of output element (i0..i3) in an input of dims d (size 1 on
 * an axis: index 0 there). */
static int32_t bcast_index(const int32_t d[4], const int32_t i[4])
{
    int32_t at = 0;
    for (int k = 0; k < 4; k++) {
        at = at * d[k] + (d[k] == 1 ? 0 : i[k]);
    }
    return at;
}

/* Random shapes with every kind of broadcast (none, per channel, scalar,
 * either operand, middle axes), saturating codes, shifts from -31 to 0 and
 * narrow clamps, against the reference above. */
static void test_add_sub_s16(void **state)
{
    (void)state;
    for (int it = 0; it < 400; it++) {
        int32_t out[4], d1[4], d2[4];
        for (int k = 0; k < 4; k++) {
            out[k] = rand_in(1, k == 3 ? 70 : 4);
            const int kind = rand_in(0, 3);
            d1[k] = kind == 1 ? 1 : out[k];
            d2[k] = kind == 2 ? 1 : out[k];
        }
        if (it % 4 == 0) { /* equal shapes: one flat run */
            memcpy(d1, out, sizeof(out));
            memcpy(d2, out, sizeof(out));
        }
        const int32_t n = out[0] * out[1] * out[2] * out[3];
        const int32_t n1 = d1[0] * d1[1] * d1[2] * d1[3], n2 = d2[0] * d2[1] * d2[2] * d2[3];
        int16_t *a = test_malloc((size_t)n1 * sizeof(int16_t)), *b = test_malloc((size_t)n2 * sizeof(int16_t));
        int16_t *got = test_malloc((size_t)n * sizeof(int16_t)),
                *want = test_malloc((size_t)n * sizeof(int16_t));
        for (int32_t i = 0; i < n1; i++) {
            a[i] = rand_s16();
        }
        for (int32_t i = 0; i < n2; i++) {
            b[i] = rand_s16();
        }
        mfl_add_params_t p = {.left_shift = 15,
                              .input1_multiplier = (int32_t)(0x40000000u + (next_u32() & 0x3FFFFFFFu)),
                              .input1_shift = rand_in(-3, 0),
                              .input2_multiplier = (int32_t)(0x40000000u + (next_u32() & 0x3FFFFFFFu)),
                              .input2_shift = rand_in(-3, 0),
                              .output_multiplier = (int32_t)(0x40000000u + (next_u32() & 0x3FFFFFFFu)),
                              .output_shift = rand_in(-16, 0),
                              .act_min = -32768,
                              .act_max = 32767};
        if (it % 7 == 0) { /* the extremes of the loader's bounds */
            p.input1_shift = -31, p.output_shift = 0, p.input2_multiplier = 0x7FFFFFFF;
        }
        if (it % 5 == 0) {
            p.act_min = -rand_in(0, 32768), p.act_max = rand_in(0, 32767);
        }
        const int sub = it & 1;
        int32_t i[4], at = 0;
        for (i[0] = 0; i[0] < out[0]; i[0]++) {
            for (i[1] = 0; i[1] < out[1]; i[1]++) {
                for (i[2] = 0; i[2] < out[2]; i[2]++) {
                    for (i[3] = 0; i[3] < out[3]; i[3]++) {
                        want[at++] = ref_add_one(&p, a[bcast_index(d1, i)], b[bcast_index(d2, i)], sub);
                    }
                }
            }
        }
        (sub ? mfl_sub_s16 : mfl_add_s16)(&p, out, d1, a, d2, b, got);
        assert_memory_equal(got, want, (size_t)n * sizeof(int16_t));
        test_free(want);
        test_free(got);
        test_free(b);
        test_free(a);
    }
}

/* PAD and STRIDED_SLICE through the shared walker (copy_walk.h) on both
 * element sizes, against index-by-index references: random shapes,
 * paddings (zero on some axes), PADV2 values at the int8 and int16
 * extremes, negative strides. */
static void test_pad_and_slice_both_sizes(void **state)
{
    (void)state;
    for (int it = 0; it < 200; it++) {
        int32_t dims[4], od[4];
        mfl_pad_params_t pp;
        mfl_slice_params_t sp;
        for (int k = 0; k < 4; k++) {
            dims[k] = rand_in(1, k == 3 ? 9 : 4);
            pp.before[k] = rand_in(0, 2) == 0 ? 0 : rand_in(0, 3);
            pp.after[k] = rand_in(0, 2);
            od[k] = pp.before[k] + dims[k] + pp.after[k];
            sp.stride[k] = rand_in(0, 1) ? rand_in(1, 3) : -rand_in(1, 3);
            sp.start[k] = rand_in(0, dims[k] - 1);
            /* as many as fit inside the input from start */
            const int32_t room =
                sp.stride[k] > 0 ? (dims[k] - 1 - sp.start[k]) / sp.stride[k] : sp.start[k] / -sp.stride[k];
            sp.count[k] = 1 + rand_in(0, room);
        }
        const int32_t n = dims[0] * dims[1] * dims[2] * dims[3];
        const int32_t no = od[0] * od[1] * od[2] * od[3];
        const int32_t ns = sp.count[0] * sp.count[1] * sp.count[2] * sp.count[3];
        int16_t *x16 = test_malloc((size_t)n * 2), *y16 = test_malloc((size_t)no * 2),
                *w16 = test_malloc((size_t)no * 2);
        int8_t *x8 = test_malloc((size_t)n), *y8 = test_malloc((size_t)no), *w8 = test_malloc((size_t)no);
        for (int32_t i = 0; i < n; i++) {
            x16[i] = rand_s16();
            x8[i] = rand_s8();
        }
        for (int size = 1; size <= 2; size++) {
            pp.pad_value = size == 1 ? (it & 1 ? -128 : 127) : (it & 1 ? -32768 : 32767);
            int32_t o[4], at = 0;
            for (o[0] = 0; o[0] < od[0]; o[0]++) {
                for (o[1] = 0; o[1] < od[1]; o[1]++) {
                    for (o[2] = 0; o[2] < od[2]; o[2]++) {
                        for (o[3] = 0; o[3] < od[3]; o[3]++, at++) {
                            int inside = 1, src = 0;
                            for (int k = 0; k < 4; k++) {
                                const int32_t ik = o[k] - pp.before[k];
                                inside = inside && ik >= 0 && ik < dims[k];
                                src = src * dims[k] + ik;
                            }
                            w8[at] = inside ? x8[src] : (int8_t)pp.pad_value;
                            w16[at] = inside ? x16[src] : (int16_t)pp.pad_value;
                        }
                    }
                }
            }
            if (size == 1) {
                mfl_pad_s8(&pp, dims, x8, y8);
                assert_memory_equal(y8, w8, (size_t)no);
            } else {
                mfl_pad_s16(&pp, dims, x16, y16);
                assert_memory_equal(y16, w16, (size_t)no * 2);
            }
        }
        int32_t c[4], at = 0;
        for (c[0] = 0; c[0] < sp.count[0]; c[0]++) {
            for (c[1] = 0; c[1] < sp.count[1]; c[1]++) {
                for (c[2] = 0; c[2] < sp.count[2]; c[2]++) {
                    for (c[3] = 0; c[3] < sp.count[3]; c[3]++, at++) {
                        int32_t src = 0;
                        for (int k = 0; k < 4; k++) {
                            src = src * dims[k] + sp.start[k] + c[k] * sp.stride[k];
                        }
                        w8[at] = x8[src];
                        w16[at] = x16[src];
                    }
                }
            }
        }
        mfl_strided_slice_s8(&sp, dims, x8, y8);
        assert_memory_equal(y8, w8, (size_t)ns);
        mfl_strided_slice_s16(&sp, dims, x16, y16);
        assert_memory_equal(y16, w16, (size_t)ns * 2);
        test_free(w8);
        test_free(y8);
        test_free(x8);
        test_free(w16);
        test_free(y16);
        test_free(x16);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv_edge_shapes), cmocka_unit_test(test_conv_accumulator_bounds),
        cmocka_unit_test(test_random_shapes),    cmocka_unit_test(test_seanet_shapes),
        cmocka_unit_test(test_add_sub_s16),      cmocka_unit_test(test_pad_and_slice_both_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
