/*
 * The 16x8 operators (int16 activations, int8 weights, int64 biases):
 * expected codes worked out by hand from TFLite's definitions (each case
 * shows its arithmetic), saturation at -32768 and 32767, negative shifts,
 * the ties of the 64-bit requantization (toward +infinity) against those of
 * the 32-bit one (away from zero), int64 bias extremes, odd channel counts,
 * broadcasting, and the loader's bounds on hostile parameters. The
 * bit-exact check against TFLM itself is the golden harness (the seanet_*
 * models and conv_i16x8).
 */
#include <stdlib.h>
#include <string.h>

#include "mfl/host/model_writer.h"
#include "mfl/host/tflite_import.h"
#include "mfl/kernels_s16.h"
#include "mfl/quant.h"
#include "test_support.h"
#include "tflite_builder.h"

#define Q31_HALF (1 << 30) /* a Q31 multiplier of 0.5: real = 0.5 * 2^shift */

/* TFLite's int64 MultiplyByQuantizedMultiplier: m -> Q15 (rounded, capped at
 * 0x7FFF), one rounding shift by 15 - shift with ties toward +infinity. */
static void test_mul_by_qm_s64(void **state)
{
    (void)state;
    /* 0.5: Q15 16384; 3 * 0.5 = 1.5 -> 2, -1.5 -> -1 (toward +inf) */
    assert_int_equal(mfl_quant_mul_by_qm_s64(3, Q31_HALF, 0), 2);
    assert_int_equal(mfl_quant_mul_by_qm_s64(-3, Q31_HALF, 0), -1);
    /* -6 * 0.25 = -1.5: -1 here; the 32-bit form's final rounding divide
     * takes it away from zero */
    assert_int_equal(mfl_quant_mul_by_qm_s64(-6, Q31_HALF, -1), -1);
    assert_int_equal(mfl_quant_mul_by_qm(-6, Q31_HALF, -1), -2);
    /* 100 * 0.5 / 8 = 6.25 -> 6 (shift -3: total shift 18) */
    assert_int_equal(mfl_quant_mul_by_qm_s64(100, Q31_HALF, -3), 6);
    /* m >= 0x7FFF0000 is capped at Q15 0x7FFF (not rounded up to 0x8000):
     * 2^20 * 32767 / 2^15 = 1048544 */
    assert_int_equal(mfl_quant_mul_by_qm_s64(1 << 20, 0x7FFFFFFF, 0), 1048544);
    /* just below the cap rounds: 0x7FFE8000 -> 0x7FFF, 0x7FFE7FFF -> 0x7FFE */
    assert_int_equal(mfl_quant_mul_by_qm_s64(1 << 15, 0x7FFE8000, 0), 0x7FFF);
    assert_int_equal(mfl_quant_mul_by_qm_s64(1 << 15, 0x7FFE7FFF, 0), 0x7FFE);
    /* the extreme accumulators: +-2^47 * 0.5 * 2^-31 = +-2^15 */
    assert_int_equal(mfl_quant_mul_by_qm_s64((int64_t)1 << 47, Q31_HALF, -31), 32768);
    assert_int_equal(mfl_quant_mul_by_qm_s64(-((int64_t)1 << 47), Q31_HALF, -31), -32768);
    /* shift 7 (the largest): 1000 * 0.5 * 128 = 64000, beyond int16 (the kernel clamps) */
    assert_int_equal(mfl_quant_mul_by_qm_s64(1000, Q31_HALF, 7), 64000);
}

/* input [1,1,2,3] (odd channels), filter [2,1,1,3], per-channel shifts. */
static const int16_t conv_in[6] = {32767, -32768, 1000, -1, 2, 3};
static const int8_t conv_filter[6] = {1, 1, 0, 127, -128, 5};
static const int64_t conv_bias[2] = {-12, -1048576};
static const int32_t conv_mult[2] = {Q31_HALF, Q31_HALF};
static const int32_t conv_shift[2] = {0, -5};
/* oc0: pixel 0: 32767 - 32768 - 12 = -13, * 0.5 = -6.5 -> -6 (tie toward
 *      +inf); pixel 1: -1 + 2 - 12 = -11 -> -5.5 -> -5.
 * oc1: pixel 0: 127 * 32767 + 128 * 32768 + 5 * 1000 - 2^20 = 7312137,
 *      / 64 = 114252.1 -> clamped to 32767; pixel 1: -127 - 256 + 15 - 2^20
 *      = -1048944, / 64 = -16389.75 -> -16390. */
static const int16_t conv_want[4] = {-6, 32767, -5, -16390};

static void test_conv2d_s16_hand_worked(void **state)
{
    (void)state;
    const mfl_conv_params_t p = {.stride_w = 1, .stride_h = 1, .dilation_w = 1, .dilation_h = 1,
                                 .act_min = -32768, .act_max = 32767};
    const mfl_requant_t q = {conv_mult, conv_shift};
    const mfl_dims_t in = {1, 1, 2, 3}, f = {2, 1, 1, 3}, out = {1, 1, 2, 2};
    int16_t y[4];
    mfl_conv2d_s16(&p, &q, &in, conv_in, &f, conv_filter, conv_bias, &out, y);
    assert_memory_equal(y, conv_want, sizeof(y));

    /* int64 bias extremes on a zero input: +-2^47 * 0.5 * 2^-31 = +-32768,
     * clamped to 32767 and -32768; a narrower clamp applies as well */
    const int16_t zeros[6] = {0};
    const int64_t extreme[2] = {MFL_S16_MAX_BIAS, -MFL_S16_MAX_BIAS};
    const int32_t shift31[2] = {-31, -31};
    const mfl_requant_t q31 = {conv_mult, shift31};
    mfl_conv2d_s16(&p, &q31, &in, zeros, &f, conv_filter, extreme, &out, y);
    const int16_t want_extreme[4] = {32767, -32768, 32767, -32768};
    assert_memory_equal(y, want_extreme, sizeof(y));
    mfl_conv_params_t narrow = p;
    narrow.act_min = -100, narrow.act_max = 100;
    mfl_conv2d_s16(&narrow, &q31, &in, zeros, &f, conv_filter, extreme, &out, y);
    const int16_t want_narrow[4] = {100, -100, 100, -100};
    assert_memory_equal(y, want_narrow, sizeof(y));

    /* dilation 2 and a padded edge: input [1,1,3,1] = {10, 20, 30}, filter
     * {1, 1} two columns apart, pad 1, stride 1, output width 2: x = 0
     * reads columns -1 (padding) and 1: 20; x = 1 reads 0 and 2: 40;
     * times 0.5: {10, 20} */
    const int16_t row[3] = {10, 20, 30};
    const int8_t ones[2] = {1, 1};
    const int32_t m1[1] = {Q31_HALF}, s1[1] = {0};
    const mfl_requant_t q1 = {m1, s1};
    mfl_conv_params_t dil = p;
    dil.dilation_w = 2, dil.pad_w = 1;
    const mfl_dims_t in3 = {1, 1, 3, 1}, f2 = {1, 1, 2, 1}, out2 = {1, 1, 2, 1};
    mfl_conv2d_s16(&dil, &q1, &in3, row, &f2, ones, NULL, &out2, y);
    assert_int_equal(y[0], 10);
    assert_int_equal(y[1], 20);

    /* an output wider than its input (the loader leaves the spatial sizes
     * to the kernel): windows beside the input add nothing but the bias.
     * {10, 20} x 1 + 4, halved: {7, 12, 2, 2} */
    const int64_t four[1] = {4};
    const mfl_dims_t in2 = {1, 1, 2, 1}, f1 = {1, 1, 1, 1}, out4 = {1, 1, 4, 1};
    mfl_conv2d_s16(&p, &q1, &in2, row, &f1, ones, four, &out4, y);
    const int16_t want_beside[4] = {7, 12, 2, 2};
    assert_memory_equal(y, want_beside, sizeof(want_beside));
}

/* A window deeper than MFL_S16_ACC32_TAPS accumulates in 64 bits: 600
 * products of -32768 x -128 = 2^22 sum to 2,516,582,400 (beyond int32);
 * times 0.5 x 2^-16 that is exactly 19200. The same through a 1x1
 * transposed convolution. */
static void test_deep_window_64bit(void **state)
{
    (void)state;
    enum { C = 600 };
    static int16_t x[C];
    static int8_t w[C];
    for (int i = 0; i < C; i++) {
        x[i] = -32768;
        w[i] = -128;
    }
    const int32_t mult[1] = {Q31_HALF}, shift[1] = {-16};
    const mfl_requant_t q = {mult, shift};
    const mfl_dims_t in = {1, 1, 1, C}, f = {1, 1, 1, C}, out = {1, 1, 1, 1};
    const mfl_conv_params_t p = {.stride_w = 1, .stride_h = 1, .dilation_w = 1, .dilation_h = 1,
                                 .act_min = -32768, .act_max = 32767};
    int16_t y = 0;
    mfl_conv2d_s16(&p, &q, &in, x, &f, w, NULL, &out, &y);
    assert_int_equal(y, 19200);
    y = 0;
    mfl_transpose_conv2d_s16(&p, &q, &in, x, &f, w, NULL, &out, &y);
    assert_int_equal(y, 19200);
}

/* input [1,1,2,1] = {100, -200}, filter [1,1,3,1] = {1, 2, 3}, stride 2:
 * input x reaches outputs 2x - pad .. 2x - pad + 2. Without padding the
 * output [1,1,5,1] sums {100, 200, 300 - 200, -400, -600}; + bias 1 and
 * * 0.5 (ties up): {51, 101, 51, -199, -299}. With pad 1 the output
 * [1,1,3,1] is the middle three: {101, 51, -199}. */
static void test_transpose_conv_s16_hand_worked(void **state)
{
    (void)state;
    const int16_t x[2] = {100, -200};
    const int8_t w[3] = {1, 2, 3};
    const int64_t bias[1] = {1};
    const int32_t mult[1] = {Q31_HALF}, shift[1] = {0};
    const mfl_requant_t q = {mult, shift};
    const mfl_dims_t in = {1, 1, 2, 1}, f = {1, 1, 3, 1};
    mfl_conv_params_t p = {.stride_w = 2, .stride_h = 1, .dilation_w = 1, .dilation_h = 1,
                           .act_min = -32768, .act_max = 32767};
    int16_t y[5];
    const mfl_dims_t out5 = {1, 1, 5, 1};
    mfl_transpose_conv2d_s16(&p, &q, &in, x, &f, w, bias, &out5, y);
    const int16_t want5[5] = {51, 101, 51, -199, -299};
    assert_memory_equal(y, want5, sizeof(want5));
    p.pad_w = 1;
    const mfl_dims_t out3 = {1, 1, 3, 1};
    mfl_transpose_conv2d_s16(&p, &q, &in, x, &f, w, bias, &out3, y);
    const int16_t want3[3] = {101, 51, -199};
    assert_memory_equal(y, want3, sizeof(want3));
    /* no bias, output clamp */
    p.pad_w = 0, p.act_min = -250, p.act_max = 60;
    mfl_transpose_conv2d_s16(&p, &q, &in, x, &f, w, NULL, &out5, y);
    const int16_t want_clamped[5] = {50, 60, 50, -200, -250};
    assert_memory_equal(y, want_clamped, sizeof(want_clamped));
}

/* Equal input scales s: each input x 0.5 (m 2^30, shift 0); output scale s:
 * 2s / (2^15 s) = 2^-14 (m 2^30, shift -13), so out = a + b exactly;
 * output scale 2s: 2^-15 (shift -14), out = (a + b) / 2 rounded half away
 * from zero (gemmlowp's rounding divide). */
static void test_add_sub_s16_hand_worked(void **state)
{
    (void)state;
    mfl_add_params_t p = {.left_shift = 15, .input1_multiplier = Q31_HALF, .input2_multiplier = Q31_HALF,
                          .output_multiplier = Q31_HALF, .output_shift = -13, .act_min = -32768, .act_max = 32767};
    const int32_t d3[4] = {1, 1, 1, 3};
    const int16_t a[3] = {1000, 32767, -32768}, b[3] = {2000, 32767, -32768};
    int16_t y[6];
    mfl_add_s16(&p, d3, d3, a, d3, b, y);
    const int16_t want_add[3] = {3000, 32767, -32768}; /* saturating both ways */
    assert_memory_equal(y, want_add, 3 * sizeof(int16_t));
    mfl_sub_s16(&p, d3, d3, a, d3, b, y);
    const int16_t want_sub[3] = {-1000, 0, 0};
    assert_memory_equal(y, want_sub, 3 * sizeof(int16_t));

    p.output_shift = -14; /* halves: 1.5 -> 2, -1.5 -> -2 */
    const int16_t c[3] = {1, -1, 1}, d[3] = {2, -2, 4};
    mfl_add_s16(&p, d3, d3, c, d3, d, y);
    const int16_t want_half[3] = {2, -2, 3}; /* 3/2, -3/2, 5/2 */
    assert_memory_equal(y, want_half, 3 * sizeof(int16_t));
    mfl_sub_s16(&p, d3, d3, c, d3, d, y);
    const int16_t want_half_sub[3] = {-1, 1, -2}; /* -1/2, 1/2, -3/2 */
    assert_memory_equal(y, want_half_sub, 3 * sizeof(int16_t));

    /* broadcast: [1,1,2,3] - [3] (SEANet's bias subtraction) and [3] + [1,1,2,3] */
    p.output_shift = -13;
    const int32_t d23[4] = {1, 1, 2, 3};
    const int16_t x[6] = {10, 20, 30, -10, -20, -30}, v[3] = {1, 2, 3};
    mfl_sub_s16(&p, d23, d23, x, d3, v, y);
    const int16_t want_bsub[6] = {9, 18, 27, -11, -22, -33};
    assert_memory_equal(y, want_bsub, sizeof(want_bsub));
    mfl_add_s16(&p, d23, d3, v, d23, x, y);
    const int16_t want_badd[6] = {11, 22, 33, -9, -18, -27};
    assert_memory_equal(y, want_badd, sizeof(want_badd));
}

/* Identity 1.0 (m 2^30, shift 1), alpha 0.125 (m 2^30, shift -2), 32-bit
 * double rounding: -3 * 0.125 = -0.375 -> 0; -32768 -> -4096; a 2.0
 * identity saturates 20000 -> 32767. */
static void test_leaky_relu_s16_hand_worked(void **state)
{
    (void)state;
    mfl_leaky_relu_params_t p = {0, 0, Q31_HALF, 1, Q31_HALF, -2};
    const int16_t x[5] = {32767, -32768, -3, -12, 0};
    int16_t y[5];
    mfl_leaky_relu_s16(&p, 5, x, y);
    const int16_t want[5] = {32767, -4096, 0, -2, 0}; /* -12 / 8 = -1.5 -> -2 */
    assert_memory_equal(y, want, sizeof(want));
    p.identity_shift = 2;
    const int16_t big = 20000;
    mfl_leaky_relu_s16(&p, 1, &big, y);
    assert_int_equal(y[0], 32767);
}

/* QUANTIZE int32 -> int16 by 2^-13 (m 2^30, shift -12): 32-bit double
 * rounding, ties away from zero (the 64-bit form would give -1 for -1.5). */
static void test_quantize_s32_s16_hand_worked(void **state)
{
    (void)state;
    const mfl_requantize_params_t p = {0, 0, Q31_HALF, -12, -32768, 32767};
    const int32_t x[6] = {1 << 28, -(1 << 28), 12288, -12288, INT32_MIN, INT32_MAX};
    int16_t y[6];
    mfl_requantize_s32_s16(&p, 6, x, y);
    const int16_t want[6] = {32767, -32768, 2, -2, -32768, 32767};
    assert_memory_equal(y, want, sizeof(want));
}

static void test_pad_and_slice_s16(void **state)
{
    (void)state;
    const int16_t x[6] = {-32768, 2, 3, 4, 5, 32767}; /* [1,1,2,3] */
    const int32_t d[4] = {1, 1, 2, 3};
    const mfl_pad_params_t pad = {{0, 0, 1, 0}, {0, 0, 0, 1}, -7};
    int16_t y[12];
    mfl_pad_s16(&pad, d, x, y); /* -> [1,1,3,4] */
    const int16_t want_pad[12] = {-7, -7, -7, -7, -32768, 2, 3, -7, 4, 5, 32767, -7};
    assert_memory_equal(y, want_pad, sizeof(want_pad));
    const mfl_slice_params_t s = {{0, 0, 1, 2}, {1, 1, -1, -2}, {1, 1, 2, 2}};
    mfl_strided_slice_s16(&s, d, x, y); /* rows 1, 0; channels 2, 0 */
    const int16_t want_slice[4] = {32767, 4, 3, -32768};
    assert_memory_equal(y, want_slice, sizeof(want_slice));
}

/* A one-op 16x8 CONV_2D model: the tensors of test_conv2d_s16_hand_worked. */
static uint8_t *conv16_model(size_t *size)
{
    mfl_model_builder_t *b;
    assert_int_equal(mfl_builder_new(&b), 0);
    const int32_t din[4] = {1, 1, 2, 3}, df[4] = {2, 1, 1, 3}, db[1] = {2}, dout[4] = {1, 1, 2, 2};
    uint16_t in, f, bias, out;
    assert_int_equal(mfl_builder_add_tensor(b, MFL_TYPE_INT16, 4, din, 0, NULL, &in), 0);
    assert_int_equal(mfl_builder_add_tensor(b, MFL_TYPE_INT8, 4, df, 0, conv_filter, &f), 0);
    assert_int_equal(mfl_builder_add_tensor(b, MFL_TYPE_INT64, 1, db, 0, conv_bias, &bias), 0);
    assert_int_equal(mfl_builder_add_tensor(b, MFL_TYPE_INT16, 4, dout, 0, NULL, &out), 0);
    const int32_t w[12] = {1, 1, 1, 1, 0, 0, -32768, 32767, Q31_HALF, Q31_HALF, 0, -5};
    const uint16_t inputs[3] = {in, f, bias};
    assert_int_equal(mfl_builder_add_op(b, MFL_OP_CONV_2D, 3, inputs, out, w, 12), 0);
    assert_int_equal(mfl_builder_set_io(b, in, out), 0);
    uint8_t *image;
    assert_int_equal(mfl_builder_finish(b, &image, size), 0);
    mfl_builder_free(b);
    return image;
}

/* A copy of image with `len` bytes at data offset `at` replaced (CRC fixed),
 * loaded: the loader's verdict. */
static int load_patched(const uint8_t *image, size_t size, size_t at, const void *bytes, size_t len)
{
    uint8_t *copy = aligned_alloc(16, (size + 15) & ~(size_t)15);
    memcpy(copy, image, size);
    memcpy(copy + at, bytes, len);
    ts_fix_crc(copy);
    mfl_model_t m;
    const int err = mfl_model_load(&m, copy, size);
    free(copy);
    return err;
}

/* The model runs through the interpreter as the kernel does on its own;
 * every hostile parameter is refused. */
static void test_loader_bounds_and_dispatch(void **state)
{
    (void)state;
    size_t size;
    uint8_t *image = conv16_model(&size);
    mfl_model_t m;
    assert_int_equal(mfl_model_load(&m, image, size), 0);
    uint8_t *arena = calloc(1, mfl_model_arena_size(&m));
    mfl_interp_t it;
    assert_int_equal(mfl_interp_init(&it, &m, arena, mfl_model_arena_size(&m)), 0);
    int8_t *x;
    const int8_t *y;
    size_t len;
    assert_int_equal(mfl_interp_input(&it, &x, &len), 0);
    assert_int_equal(len, sizeof(conv_in));
    memcpy(x, conv_in, sizeof(conv_in));
    assert_int_equal(mfl_interp_invoke(&it), 0);
    assert_int_equal(mfl_interp_output(&it, &y, &len), 0);
    assert_int_equal(len, sizeof(conv_want));
    assert_memory_equal(y, conv_want, sizeof(conv_want));
    free(arena);

    const mfl_model_header_t *h = m.header;
    const size_t params = h->data_offset + m.ops[0].params_offset;
    const struct {
        int word;
        int32_t value;
    } bad[] = {
        {0, 0},       /* stride 0 */
        {2, 0},       /* dilation 0 */
        {4, -1},      /* negative padding */
        {6, -32769},  /* clamp below int16 */
        {7, 32768},   /* clamp above int16 */
        {8, -1},      /* negative multiplier */
        {10, 8},      /* shift beyond TFLite's 64-bit requantization (< 8) */
        {11, -32},    /* shift below -31 */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const int err = load_patched(image, size, params + 4 * (size_t)bad[i].word, &bad[i].value, 4);
        if (err != MFL_ERR_MODEL_PARAMS) {
            fail_msg("word %d = %d: got %d", bad[i].word, bad[i].value, err);
        }
    }
    /* a bias beyond 2^47 */
    const mfl_tensor_rec_t *tb = &m.tensors[m.ops[0].inputs[2]];
    const int64_t over = MFL_S16_MAX_BIAS + 1;
    assert_int_equal(load_patched(image, size, h->data_offset + tb->offset + 8, &over, 8), MFL_ERR_MODEL_SHAPE);
    const int64_t at_limit = -MFL_S16_MAX_BIAS;
    assert_int_equal(load_patched(image, size, h->data_offset + tb->offset, &at_limit, 8), 0);
    /* an int16 tensor with a zero point, a bias of the wrong type */
    const size_t in_rec = h->tensors_offset + sizeof(mfl_tensor_rec_t) * m.ops[0].inputs[0];
    const int32_t zp = 1;
    assert_int_equal(load_patched(image, size, in_rec + offsetof(mfl_tensor_rec_t, zero_point), &zp, 4),
                     MFL_ERR_MODEL_TENSOR);
    const size_t b_rec = h->tensors_offset + sizeof(mfl_tensor_rec_t) * m.ops[0].inputs[2];
    const uint8_t unknown_type = 5, int32_type = MFL_TYPE_INT32;
    assert_int_equal(load_patched(image, size, b_rec, &unknown_type, 1), MFL_ERR_UNSUPPORTED_TYPE);
    assert_int_equal(load_patched(image, size, b_rec, &int32_type, 1), MFL_ERR_MODEL_TENSOR); /* size */
    /* an opcode the 16x8 set does not have */
    const size_t op_rec = h->ops_offset;
    const uint8_t dw = MFL_OP_DEPTHWISE_CONV_2D;
    assert_int_equal(load_patched(image, size, op_rec, &dw, 1), MFL_ERR_UNSUPPORTED_OP);
    free(image);
}

/* TFLite's codes: TensorType int16 7, int64 4, int32 2, int8 9; builtins
 * CONV_2D 3, SOFTMAX 25, QUANTIZE 114, TRANSPOSE_CONV 67. */
enum { T_I16 = 7, T_I64 = 4, T_I32 = 2, T_I8 = 9 };

static int import_tb(const tb_model_t *m, char *msg, size_t cap, uint8_t **image, size_t *size)
{
    uint8_t *file;
    size_t len;
    tb_build(m, &file, &len);
    const int err = mfl_tflite_import(file, len, image, size, msg, cap);
    free(file);
    return err;
}

static void expect_refusal(const tb_model_t *m, const char *part)
{
    char msg[320] = "";
    uint8_t *image = NULL;
    size_t size = 0;
    const int err = import_tb(m, msg, sizeof msg, &image, &size);
    if (err == 0 || !strstr(msg, part)) {
        fail_msg("got %d '%s', want a refusal with '%s'", err, msg, part);
    }
    assert_null(image);
}

/* The hand-worked convolution as a .tflite: input scale 1, output scale 2,
 * weight scales 1 and 1/32 give the multipliers 0.5 and 0.5 x 2^-5 of
 * test_conv2d_s16_hand_worked; the import runs to the same codes. Then
 * what the importer refuses, each naming the operator. */
static void test_import_conv16_and_refusals(void **state)
{
    (void)state;
    const int32_t i32_bias[2] = {-12, -1048576};
    tb_tensor_t t[4] = {
        {T_I16, 4, {1, 1, 2, 3}, 1, {1.0f}, {0}, 0, NULL, 0},
        {T_I8, 4, {2, 1, 1, 3}, 2, {1.0f, 1.0f / 32.0f}, {0, 0}, 0, conv_filter, sizeof(conv_filter)},
        {T_I64, 1, {2}, 2, {1.0f, 1.0f / 32.0f}, {0, 0}, 0, conv_bias, sizeof(conv_bias)},
        {T_I16, 4, {1, 1, 2, 2}, 1, {2.0f}, {0}, 0, NULL, 0},
    };
    tb_op_t conv = {3, 3, {0, 1, 2}, 3, 1, 4, {{TB_U8, 1, 0}, {TB_I32, 1, 0}, {TB_I32, 1, 0}, {TB_U8, 0, 0}}};
    tb_model_t m = {3, 1, t, 4, &conv, 1, 0, 3};
    char msg[320] = "";
    uint8_t *image = NULL;
    size_t size;
    if (import_tb(&m, msg, sizeof msg, &image, &size) != 0) {
        fail_msg("import: %s", msg);
    }
    mfl_model_t model;
    assert_int_equal(mfl_model_load(&model, image, size), 0);
    uint8_t arena[64] __attribute__((aligned(4)));
    mfl_interp_t it;
    int8_t *x;
    const int8_t *y;
    size_t len;
    assert_int_equal(mfl_interp_init(&it, &model, arena, sizeof arena), 0);
    assert_int_equal(mfl_interp_input(&it, &x, &len), 0);
    assert_int_equal(len, sizeof(conv_in));
    memcpy(x, conv_in, sizeof(conv_in));
    assert_int_equal(mfl_interp_invoke(&it), 0);
    assert_int_equal(mfl_interp_output(&it, &y, &len), 0);
    assert_memory_equal(y, conv_want, sizeof(conv_want));
    free(image);

    /* an int32 bias, or none: TFLM's int32-accumulator variant */
    t[2].type = T_I32, t[2].data = i32_bias, t[2].data_size = sizeof(i32_bias);
    expect_refusal(&m, "CONV_2D");
    expect_refusal(&m, "int64 bias");
    t[2].type = T_I64, t[2].data = conv_bias, t[2].data_size = sizeof(conv_bias);
    conv.n_inputs = 2;
    expect_refusal(&m, "int64 bias");
    conv.n_inputs = 3;
    /* a zero point on an int16 tensor */
    t[0].zero_points[0] = 1;
    expect_refusal(&m, "zero point 0");
    t[0].zero_points[0] = 0;
    /* a scale ratio of 2^8 or more (TFLite's 64-bit requantization) */
    t[3].scales[0] = 1.0f / 512.0f;
    expect_refusal(&m, "at most 2^7");
    t[3].scales[0] = 2.0f;

    /* int16 operators outside the 16x8 set: SOFTMAX int16, QUANTIZE int16 -> int16 */
    tb_tensor_t u[2] = {
        {T_I16, 2, {1, 8}, 1, {0.01f}, {0}, 0, NULL, 0},
        {T_I16, 2, {1, 8}, 1, {1.0f / 32768.0f}, {0}, 0, NULL, 0},
    };
    tb_op_t softmax = {25, 1, {0}, 1, 9, 1, {{TB_F32, 0, 1.0f}}};
    const tb_model_t ms = {3, 1, u, 2, &softmax, 1, 0, 1};
    expect_refusal(&ms, "operator 0 (SOFTMAX): int16 operator not supported");
    tb_op_t quantize = {114, 1, {0}, 1, 0, 0, {{0}}};
    const tb_model_t mq = {3, 1, u, 2, &quantize, 1, 0, 1};
    expect_refusal(&mq, "operator 0 (QUANTIZE)");
}

/* TRANSPOSE_CONV: a constant output shape must be the output's; one that
 * differs is refused (TFLM ignores it, having no dynamic shapes, so a model
 * whose shape tensor lies would compute something else elsewhere). */
static void test_import_transpose_conv_shape(void **state)
{
    (void)state;
    int32_t shape[4] = {1, 1, 5, 1};
    const int8_t w[3] = {1, 2, 3};
    const int64_t bias[1] = {1};
    const tb_tensor_t t[5] = {
        {T_I32, 1, {4}, 0, {0}, {0}, 0, shape, sizeof(shape)},
        {T_I8, 4, {1, 1, 3, 1}, 1, {1.0f}, {0}, 0, w, sizeof(w)},
        {T_I16, 4, {1, 1, 2, 1}, 1, {1.0f}, {0}, 0, NULL, 0},
        {T_I64, 1, {1}, 1, {1.0f}, {0}, 0, bias, sizeof(bias)},
        {T_I16, 4, {1, 1, 5, 1}, 1, {2.0f}, {0}, 0, NULL, 0},
    };
    /* TransposeConvOptions (union type 49): padding VALID, stride_w 2, stride_h 1 */
    const tb_op_t tc = {67, 4, {0, 1, 2, 3}, 4, 49, 3, {{TB_U8, 1, 0}, {TB_I32, 2, 0}, {TB_I32, 1, 0}}};
    const tb_model_t m = {3, 1, t, 5, &tc, 1, 2, 4};
    char msg[320] = "";
    uint8_t *image = NULL;
    size_t size;
    if (import_tb(&m, msg, sizeof msg, &image, &size) != 0) {
        fail_msg("import: %s", msg);
    }
    mfl_model_t model;
    assert_int_equal(mfl_model_load(&model, image, size), 0);
    uint8_t arena[64] __attribute__((aligned(4)));
    mfl_interp_t it;
    int8_t *x;
    const int8_t *y;
    size_t len;
    assert_int_equal(mfl_interp_init(&it, &model, arena, sizeof arena), 0);
    assert_int_equal(mfl_interp_input(&it, &x, &len), 0);
    const int16_t in[2] = {100, -200};
    memcpy(x, in, sizeof(in));
    assert_int_equal(mfl_interp_invoke(&it), 0);
    assert_int_equal(mfl_interp_output(&it, &y, &len), 0);
    const int16_t want[5] = {51, 101, 51, -199, -299}; /* test_transpose_conv_s16_hand_worked */
    assert_int_equal(len, sizeof(want));
    assert_memory_equal(y, want, sizeof(want));
    free(image);
    shape[2] = 6;
    expect_refusal(&m, "operator 0 (TRANSPOSE_CONV): the output shape");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mul_by_qm_s64),
        cmocka_unit_test(test_conv2d_s16_hand_worked),
        cmocka_unit_test(test_transpose_conv_s16_hand_worked),
        cmocka_unit_test(test_deep_window_64bit),
        cmocka_unit_test(test_add_sub_s16_hand_worked),
        cmocka_unit_test(test_leaky_relu_s16_hand_worked),
        cmocka_unit_test(test_quantize_s32_s16_hand_worked),
        cmocka_unit_test(test_pad_and_slice_s16),
        cmocka_unit_test(test_loader_bounds_and_dispatch),
        cmocka_unit_test(test_import_conv16_and_refusals),
        cmocka_unit_test(test_import_transpose_conv_shape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
