/*
 * The binary operators with broadcasting (ADD, SUB, MUL, MAXIMUM, MINIMUM)
 * and CONCATENATION: expected codes worked out by hand from TFLite's
 * definitions (each case shows its arithmetic: TFLM's double rounding,
 * saturation, the extreme zero points -128 and 127, odd channel counts),
 * every broadcast pattern of four axes against a plain index formula, the
 * loader's bounds on hostile shapes and parameters, the importer's
 * refusals of what TFLM refuses, and the golden records of
 * ../shared/golden/tflm-models run with every input but the first given as
 * a constant (a model of one input, which needs neither multi-input models
 * nor anything but this importer and these kernels). The golden harness
 * runs the same models with all their inputs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mfl/host/host_io.h"
#include "mfl/host/model_writer.h"
#include "mfl/host/tflite_import.h"
#include "mfl/kernels.h"
#include "test_support.h"
#include "tflite_builder.h"

#define Q31_HALF (1 << 30) /* a Q31 multiplier of 0.5: real = 0.5 * 2^shift */

/* ADD with three equal scales s: each input ratio is 1/2 (2^30, shift 0)
 * and the output ratio 2s / (2^20 s) = 2^-19 (2^30, shift -18), so every
 * step is exact and out = (a - za) + (b - zb) + zo, clamped. */
static mfl_add_params_t equal_scale_add(int32_t za, int32_t zb, int32_t zo)
{
    const mfl_add_params_t p = {-za, -zb, zo, 20, Q31_HALF, 0, Q31_HALF, 0, Q31_HALF, -18, -128, 127};
    return p;
}

static void test_add_sub_hand_worked(void **state)
{
    (void)state;
    /* za = -128, zb = 127, zo = 0: out = (a + 128) + (b - 127) */
    const mfl_add_params_t p = equal_scale_add(-128, 127, 0);
    const mfl_broadcast_t flat = {{1, 1, 1, 5}, {1, 1, 1, 5}, {1, 1, 1, 5}};
    const int8_t a[5] = {-128, 127, 0, -128, 100};
    const int8_t b[5] = {127, 127, -128, -128, 0};
    /* 0 + 0 = 0; 255 + 0 -> 127; 128 - 255 = -127; 0 - 255 -> -128; 228 - 127 -> 101 */
    const int8_t want_add[5] = {0, 127, -127, -128, 101};
    int8_t out[5];
    mfl_add_s8_broadcast(&p, &flat, a, b, out);
    assert_memory_equal(out, want_add, 5);
    mfl_add_s8(&p, 5, a, b, out);
    assert_memory_equal(out, want_add, 5);
    /* SUB: (a + 128) - (b - 127): 0; 255 -> 127; 128 + 255 -> 127; 0 + 255 -> 127; 228 + 127 -> 127 */
    const int8_t want_sub[5] = {0, 127, 127, 127, 127};
    mfl_sub_s8_broadcast(&p, &flat, a, b, out);
    assert_memory_equal(out, want_sub, 5);
    /* A fused activation's clamp [-3, 6]: a2 + 128 = 0, 0, 2, 0, 125 and
     * b2 - 127 = 0, -1, -7, -227, -255. SUB: 0, 1, 9 -> 6, 227 -> 6,
     * 380 -> 6; ADD: 0, -1, -5 -> -3, -227 -> -3, -130 -> -3. */
    mfl_add_params_t clamp = p;
    clamp.act_min = -3;
    clamp.act_max = 6;
    const int8_t a2[5] = {-128, -128, -126, -128, -3};
    const int8_t b2[5] = {127, 126, 120, -100, -128};
    const int8_t want_sub2[5] = {0, 1, 6, 6, 6};
    const int8_t want_add2[5] = {0, -1, -3, -3, -3};
    mfl_sub_s8_broadcast(&clamp, &flat, a2, b2, out);
    assert_memory_equal(out, want_sub2, 5);
    mfl_add_s8_broadcast(&clamp, &flat, a2, b2, out);
    assert_memory_equal(out, want_add2, 5);
}

/* Scales 1 and 0.5, output 1: twice the larger is 2, ratios 1/2 (2^30,
 * shift 0) and 1/4 (2^30, shift -1), output 2 / 2^20 (2^30, shift -18).
 * With A = a - za, B = b - zb: s1 = A * 2^19, s2 = B * 2^18 (exact), and
 * SUB gives round(A - B / 2), ties away from zero (TFLM's rounding divide):
 * A = 0, B = 1: -0.5 -> -1; A = 0, B = -1: 0.5 -> 1; A = 3, B = 1: 2.5 -> 3;
 * A = -3, B = -1: -2.5 -> -3; A = 1, B = 2: 0. ADD: round(A + B / 2). */
static void test_sub_rounds_half_away(void **state)
{
    (void)state;
    const mfl_add_params_t p = {0, 0, 0, 20, Q31_HALF, 0, Q31_HALF, -1, Q31_HALF, -18, -128, 127};
    const mfl_broadcast_t flat = {{1, 1, 1, 5}, {1, 1, 1, 5}, {1, 1, 1, 5}};
    const int8_t a[5] = {0, 0, 3, -3, 1};
    const int8_t b[5] = {1, -1, 1, -1, 2};
    const int8_t want_sub[5] = {-1, 1, 3, -3, 0};
    const int8_t want_add[5] = {1, -1, 4, -4, 2}; /* 0.5 -> 1, -0.5 -> -1, 3.5 -> 4, -3.5 -> -4, 2 */
    int8_t out[5];
    mfl_sub_s8_broadcast(&p, &flat, a, b, out);
    assert_memory_equal(out, want_sub, 5);
    mfl_add_s8_broadcast(&p, &flat, a, b, out);
    assert_memory_equal(out, want_add, 5);
}

/* From 512 outputs on ADD and SUB look the inputs' rescaled codes up in
 * tables: every pair of codes (65,536 outputs in one call) must give what
 * the direct path gives on runs of 256 (below the threshold), with
 * unequal scales, the extreme zero points and a fused clamp. */
static void test_add_tables_match_direct(void **state)
{
    (void)state;
    static int8_t a[65536], b[65536], tab[65536], direct[65536];
    for (int i = 0; i < 65536; i++) {
        a[i] = (int8_t)(i >> 8);
        b[i] = (int8_t)i;
    }
    /* scales 0.05 and 0.02 into 0.06: ratios 0.5 and 0.2, output 0.1 / 2^20 / 0.06 */
    const mfl_add_params_t p = {128, -127, -3, 20, Q31_HALF, 0, 1717986918, -2, 1789569707, -19, -100, 120};
    const mfl_broadcast_t whole = {{1, 1, 256, 256}, {1, 1, 256, 256}, {1, 1, 256, 256}};
    const mfl_broadcast_t row = {{1, 1, 1, 256}, {1, 1, 1, 256}, {1, 1, 1, 256}};
    for (int sub = 0; sub < 2; sub++) {
        (sub ? mfl_sub_s8_broadcast : mfl_add_s8_broadcast)(&p, &whole, a, b, tab);
        for (int r = 0; r < 256; r++) {
            (sub ? mfl_sub_s8_broadcast : mfl_add_s8_broadcast)(&p, &row, a + 256 * r, b + 256 * r,
                                                                direct + 256 * r);
        }
        assert_memory_equal(tab, direct, sizeof tab);
    }
    mfl_add_s8(&p, 65536, a, b, tab);
    for (int r = 0; r < 256; r++) {
        mfl_add_s8(&p, 256, a + 256 * r, b + 256 * r, direct + 256 * r);
    }
    assert_memory_equal(tab, direct, sizeof tab);
    /* a broadcast operand over the table path: [256,256] + [1,256] */
    const mfl_broadcast_t bc = {{1, 1, 256, 256}, {1, 1, 256, 256}, {1, 1, 1, 256}};
    mfl_add_s8_broadcast(&p, &bc, a, b, tab);
    for (int r = 0; r < 256; r++) {
        mfl_add_s8(&p, 256, a + 256 * r, b, direct + 256 * r);
    }
    assert_memory_equal(tab, direct, sizeof tab);
}

/* MUL with scale ratio 1/8 (2^30, shift -2): out = zo + round(round(A B /
 * 2) / 4), TFLM's double rounding, each step half away from zero. */
static void test_mul_double_rounding(void **state)
{
    (void)state;
    const mfl_broadcast_t flat6 = {{1, 1, 1, 6}, {1, 1, 1, 6}, {1, 1, 1, 6}};
    const mfl_mul_params_t q = {0, 0, 0, Q31_HALF, -2, -128, 127};
    const int8_t qa[6] = {3, -3, 127, 127, 20, 1};
    const int8_t qb[6] = {1, 1, 127, -128, 1, 1};
    /* 3: 1.5 -> 2, 0.5 -> 1 (one rounding of 0.375 would give 0);
     * -3: -1.5 -> -1 (the rounding high multiply rounds ties up, gemmlowp's
     * SaturatingRoundingDoublingHighMul; only the divide rounds them away
     * from zero), -0.25 -> 0; 16129: 8064.5 -> 8065, 2016.25 -> 127;
     * -16256: -8128, -2032 -> -128; 20: 10, 2.5 -> 3; 1: 0.5 -> 1, 0.25 -> 0 */
    const int8_t qwant[6] = {1, 0, 127, -128, 3, 0};
    int8_t out[6];
    mfl_mul_s8_broadcast(&q, &flat6, qa, qb, out);
    assert_memory_equal(out, qwant, 6);
    /* The extreme zero points: za = -128, zb = 127 give A = a + 128 in [0,
     * 255] and B = b - 127 in [-255, 0]. a = 127, b = -128: A B = -65025,
     * -32512.5 -> -32512, -8128 -> -128; a = -125, b = 126: A B = -3 -> 0. */
    const mfl_mul_params_t p = {128, -127, 0, Q31_HALF, -2, -128, 127};
    const mfl_broadcast_t flat2 = {{1, 1, 1, 2}, {1, 1, 1, 2}, {1, 1, 1, 2}};
    const int8_t ea[2] = {127, -125}, eb[2] = {-128, 126}, ewant[2] = {-128, 0};
    mfl_mul_s8_broadcast(&p, &flat2, ea, eb, out);
    assert_memory_equal(out, ewant, 2);
    /* Output zero point -5 and RELU6's clamp [-5, 1]: 3 - 5 = -2 for 20,
     * 1 - 5 = -4 for 3, 127 + ... -> 1 for 16129. */
    const mfl_mul_params_t r = {0, 0, -5, Q31_HALF, -2, -5, 1};
    mfl_mul_s8_broadcast(&r, &flat6, qa, qb, out);
    assert_int_equal(out[4], -2);
    assert_int_equal(out[0], -4);
    assert_int_equal(out[2], 1);
    assert_int_equal(out[3], -5);
    /* the largest shift, 15: real 2^14, so 1 x 1 -> 16384 -> 127 */
    const mfl_mul_params_t big = {0, 0, 0, Q31_HALF, MFL_MUL_MAX_SHIFT, -128, 127};
    mfl_mul_s8_broadcast(&big, &flat6, qa, qb, out);
    assert_int_equal(out[5], 127);
}

/* MAXIMUM and MINIMUM compare raw codes, including the extremes, with a
 * per-channel operand of three (odd) channels over 2 x 2 pixels. */
static void test_maximum_minimum_codes(void **state)
{
    (void)state;
    const mfl_broadcast_t bc = {{1, 2, 2, 3}, {1, 2, 2, 3}, {1, 1, 1, 3}};
    const int8_t a[12] = {-128, 0, 127, 5, -5, 0, 127, 127, -128, 1, 2, 3};
    const int8_t b[3] = {-128, 1, 127};
    const int8_t want_max[12] = {-128, 1, 127, 5, 1, 127, 127, 127, 127, 1, 2, 127};
    const int8_t want_min[12] = {-128, 0, 127, -128, -5, 0, -128, 1, -128, -128, 1, 3};
    int8_t out[12];
    mfl_maximum_s8(&bc, a, b, out);
    assert_memory_equal(out, want_max, 12);
    mfl_minimum_s8(&bc, a, b, out);
    assert_memory_equal(out, want_min, 12);
    /* swapped operands: the broadcast side may be either */
    const mfl_broadcast_t swapped = {{1, 2, 2, 3}, {1, 1, 1, 3}, {1, 2, 2, 3}};
    mfl_maximum_s8(&swapped, b, a, out);
    assert_memory_equal(out, want_max, 12);
}

/* Every broadcast of an output [2,3,4,5] (odd sizes): on each axis both
 * inputs span it, or one of them has size 1 (3^4 = 81 patterns), against
 * the plain index formula, through ADD with exact arithmetic (equal scales,
 * zero points 0: out = a + b) and MAXIMUM. */
static void test_every_broadcast_pattern(void **state)
{
    (void)state;
    const int32_t out_dims[4] = {2, 3, 4, 5};
    const mfl_add_params_t add = equal_scale_add(0, 0, 0);
    int8_t a[120], b[120], out[120], want[120], want_max[120];
    for (int pattern = 0; pattern < 81; pattern++) {
        mfl_broadcast_t bc;
        int code = pattern;
        for (int i = 0; i < 4; i++, code /= 3) {
            bc.out[i] = out_dims[i];
            bc.in1[i] = code % 3 == 1 ? 1 : out_dims[i];
            bc.in2[i] = code % 3 == 2 ? 1 : out_dims[i];
        }
        for (int i = 0; i < 120; i++) {
            a[i] = (int8_t)((i * 37 + pattern) % 121 - 60);
            b[i] = (int8_t)((i * 53 + 7 * pattern) % 121 - 60);
        }
        int o = 0;
        for (int n = 0; n < 2; n++) {
            for (int h = 0; h < 3; h++) {
                for (int w = 0; w < 4; w++) {
                    for (int c = 0; c < 5; c++, o++) {
                        const int coord[4] = {n, h, w, c};
                        int ia = 0, ib = 0;
                        for (int i = 0; i < 4; i++) {
                            ia = ia * bc.in1[i] + (bc.in1[i] == 1 ? 0 : coord[i]);
                            ib = ib * bc.in2[i] + (bc.in2[i] == 1 ? 0 : coord[i]);
                        }
                        want[o] = (int8_t)(a[ia] + b[ib]);
                        want_max[o] = a[ia] > b[ib] ? a[ia] : b[ib];
                    }
                }
            }
        }
        mfl_add_s8_broadcast(&add, &bc, a, b, out);
        if (memcmp(out, want, 120) != 0) {
            fail_msg("ADD, broadcast pattern %d", pattern);
        }
        mfl_maximum_s8(&bc, a, b, out);
        if (memcmp(out, want_max, 120) != 0) {
            fail_msg("MAXIMUM, broadcast pattern %d", pattern);
        }
    }
}

/* CONCATENATION: three inputs of 3, 1 and 5 channels over 2 x 2 pixels
 * (axis 3), then two on H (axis 1) and on the leading axis of a rank-2
 * shape [2,3] + [1,3] right-aligned as [1,1,2,3] + [1,1,1,3] (axis 2). */
static void test_concatenation_axes(void **state)
{
    (void)state;
    int8_t a[12], b[4], c[20], out[36];
    for (int i = 0; i < 12; i++) {
        a[i] = (int8_t)(-128 + i);
    }
    for (int i = 0; i < 4; i++) {
        b[i] = (int8_t)(127 - i);
    }
    for (int i = 0; i < 20; i++) {
        c[i] = (int8_t)(i * 3);
    }
    const int32_t dims[3][4] = {{1, 2, 2, 3}, {1, 2, 2, 1}, {1, 2, 2, 5}};
    const int8_t *ins[3] = {a, b, c};
    mfl_concatenation_s8(3, 3, dims, ins, out);
    for (int px = 0; px < 4; px++) {
        const int8_t *o = out + px * 9;
        assert_memory_equal(o, a + px * 3, 3);
        assert_int_equal(o[3], b[px]);
        assert_memory_equal(o + 4, c + px * 5, 5);
    }
    /* on H: [1,2,3,2] then [1,1,3,2]: the second block follows the first */
    const int32_t hdims[2][4] = {{1, 2, 3, 2}, {1, 1, 3, 2}};
    const int8_t *hins[2] = {a, c};
    mfl_concatenation_s8(1, 2, hdims, hins, out);
    assert_memory_equal(out, a, 12);
    assert_memory_equal(out + 12, c, 6);
    /* on W of [1,2,1,3] and [1,2,2,3]: per row, 3 then 6 codes */
    const int32_t wdims[2][4] = {{1, 2, 1, 3}, {1, 2, 2, 3}};
    mfl_concatenation_s8(2, 2, wdims, hins, out);
    assert_memory_equal(out, a, 3);
    assert_memory_equal(out + 3, c, 6);
    assert_memory_equal(out + 9, a + 3, 3);
    assert_memory_equal(out + 12, c + 6, 6);
}

/* A model: activation input x [in1 dims], constant operands for the other
 * inputs (their dims, zero points), output [out dims]; *err receives what
 * the builder's final load said (0 or the loader's code). */
typedef struct {
    int rank;
    int32_t dims[4];
    int32_t zero_point;
} shape_t;

static uint8_t *op_model(int opcode, int n_inputs, const shape_t *ins, const shape_t *out,
                         const int32_t *params, size_t n_params, size_t *size, int *err)
{
    mfl_model_builder_t *b;
    assert_int_equal(mfl_builder_new(&b), 0);
    uint16_t idx[3] = {MFL_NONE, MFL_NONE, MFL_NONE}, o;
    static const int8_t zeros[4096];
    for (int k = 0; k < n_inputs; k++) {
        assert_int_equal(mfl_builder_add_tensor(b, MFL_TYPE_INT8, ins[k].rank, ins[k].dims, ins[k].zero_point,
                                                k == 0 ? NULL : zeros, &idx[k]),
                         0);
    }
    assert_int_equal(mfl_builder_add_tensor(b, MFL_TYPE_INT8, out->rank, out->dims, out->zero_point, NULL, &o),
                     0);
    assert_int_equal(mfl_builder_add_op(b, opcode, n_inputs, idx, o, params, n_params), 0);
    assert_int_equal(mfl_builder_set_io(b, idx[0], o), 0);
    uint8_t *image = NULL;
    *err = mfl_builder_finish(b, &image, size);
    mfl_builder_free(b);
    return image;
}

static int load_with_word(const uint8_t *image, size_t size, int word, int32_t value)
{
    uint8_t *copy = aligned_alloc(16, (size + 15) & ~(size_t)15);
    memcpy(copy, image, size);
    const mfl_model_header_t *h = (const mfl_model_header_t *)(const void *)copy;
    const mfl_op_rec_t *op = (const mfl_op_rec_t *)(const void *)(copy + h->ops_offset);
    memcpy(copy + h->data_offset + op->params_offset + 4 * (size_t)word, &value, 4);
    ts_fix_crc(copy);
    mfl_model_t m;
    const int err = mfl_model_load(&m, copy, size);
    free(copy);
    return err;
}

/* The loader refuses every shape that does not broadcast into the output
 * and every parameter outside the kernels' reasoning. */
static void test_loader_bounds(void **state)
{
    (void)state;
    const int P = MFL_ERR_MODEL_PARAMS, S = MFL_ERR_MODEL_SHAPE;
    const shape_t x = {4, {1, 4, 4, 3}, -3}, ch = {1, {3, 1, 1, 1}, 5}, out = {4, {1, 4, 4, 3}, 7};
    const shape_t ins[2] = {x, ch};
    const int32_t add_words[9] = {20, Q31_HALF, 0, Q31_HALF, -1, Q31_HALF, -18, -128, 127};
    size_t size;
    int err;
    for (int opcode = MFL_OP_ADD; opcode <= MFL_OP_SUB; opcode += MFL_OP_SUB - MFL_OP_ADD) {
        uint8_t *image = op_model(opcode, 2, ins, &out, add_words, 9, &size, &err);
        assert_int_equal(err, 0);
        const struct {
            int word;
            int32_t value;
        } bad[] = {{0, 23}, {0, -1}, {1, -1}, {2, 1}, {4, 1}, {6, 1}, {5, -1}, {7, 128}, {8, -129}, {3, -1}};
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            if (load_with_word(image, size, bad[i].word, bad[i].value) != P) {
                fail_msg("%s word %d = %d loaded", mfl_opcode_name(opcode), bad[i].word, bad[i].value);
            }
        }
        free(image);
    }
    const int32_t mul_words[4] = {Q31_HALF, -3, -128, 127};
    uint8_t *image = op_model(MFL_OP_MUL, 2, ins, &out, mul_words, 4, &size, &err);
    assert_int_equal(err, 0);
    assert_int_equal(load_with_word(image, size, 1, MFL_MUL_MAX_SHIFT + 1), P);
    assert_int_equal(load_with_word(image, size, 1, MFL_MUL_MAX_SHIFT), 0);
    assert_int_equal(load_with_word(image, size, 0, -1), P);
    assert_int_equal(load_with_word(image, size, 1, -32), P);
    free(image);
    /* shapes: an operand of 2 channels against 3, an output too small or
     * too large on an axis, an output of lower rank, params of the wrong
     * size (MAXIMUM takes none) */
    const shape_t two = {1, {2, 1, 1, 1}, 0};
    const shape_t bad_ins[2] = {x, two};
    free(op_model(MFL_OP_MAXIMUM, 2, bad_ins, &out, NULL, 0, &size, &err));
    assert_int_equal(err, S);
    const shape_t col = {4, {1, 4, 1, 1}, 0}, row = {4, {1, 1, 4, 3}, 0};
    const shape_t outer_ins[2] = {col, row};
    const shape_t small = {4, {1, 4, 1, 3}, 0}, wide = {4, {1, 4, 5, 3}, 0}, flat = {2, {16, 3, 1, 1}, 0};
    free(op_model(MFL_OP_MINIMUM, 2, outer_ins, &out, NULL, 0, &size, &err));
    assert_int_equal(err, 0); /* [1,4,1,1] x [1,1,4,3] -> [1,4,4,3] */
    free(op_model(MFL_OP_MINIMUM, 2, outer_ins, &small, NULL, 0, &size, &err));
    assert_int_equal(err, S);
    free(op_model(MFL_OP_MINIMUM, 2, outer_ins, &wide, NULL, 0, &size, &err));
    assert_int_equal(err, S);
    free(op_model(MFL_OP_MINIMUM, 2, ins, &flat, NULL, 0, &size, &err));
    assert_int_equal(err, S);
    const int32_t one_word[1] = {0};
    free(op_model(MFL_OP_MAXIMUM, 2, ins, &out, one_word, 1, &size, &err));
    assert_int_equal(err, P);
    /* CONCATENATION: [1,4,4,3] + [1,4,4,2] (a constant) on axis 3 */
    const shape_t c2 = {4, {1, 4, 4, 2}, -3}, cat_out = {4, {1, 4, 4, 5}, -3};
    const shape_t cat_ins[2] = {x, c2};
    const int32_t axis3[1] = {3};
    image = op_model(MFL_OP_CONCATENATION, 2, cat_ins, &cat_out, axis3, 1, &size, &err);
    assert_int_equal(err, 0);
    assert_int_equal(load_with_word(image, size, 0, 4), P);
    assert_int_equal(load_with_word(image, size, 0, -1), P);
    assert_int_equal(load_with_word(image, size, 0, 2), S); /* the sizes on W do not add up */
    free(image);
    const shape_t c2_zp = {4, {1, 4, 4, 2}, -2}; /* another zero point: not a copy */
    const shape_t zp_ins[2] = {x, c2_zp};
    free(op_model(MFL_OP_CONCATENATION, 2, zp_ins, &cat_out, axis3, 1, &size, &err));
    assert_int_equal(err, S);
    const shape_t c2_rank = {3, {4, 4, 2, 1}, -3};
    const shape_t rank_ins[2] = {x, c2_rank};
    free(op_model(MFL_OP_CONCATENATION, 2, rank_ins, &cat_out, axis3, 1, &size, &err));
    assert_int_equal(err, S);
    const shape_t rank2 = {2, {16, 5, 1, 1}, -3};
    const int32_t axis1[1] = {1}; /* outside a rank-2 output's axes 2, 3 */
    free(op_model(MFL_OP_CONCATENATION, 2, cat_ins, &rank2, axis1, 1, &size, &err));
    assert_int_equal(err, P);
}

/* ---- through the importer ---- */

enum { ACT_NONE = 0, ACT_RELU = 1, ACT_RELU6 = 3 };

/* Imports a one-operator .tflite whose input 0 is the model input and
 * whose other inputs are constants; returns the importer's code with its
 * message. */
static int import_one_op(const tb_tensor_t *t, int n_tensors, const tb_op_t *op, uint8_t **image, size_t *size,
                         char *msg, size_t cap)
{
    const tb_model_t m = {3, 1, t, n_tensors, op, 1, 0, n_tensors - 1};
    uint8_t *file;
    size_t len;
    tb_build(&m, &file, &len);
    msg[0] = '\0';
    const int err = mfl_tflite_import(file, len, image, size, msg, cap);
    free(file);
    return err;
}

static void expect_refusal(const tb_tensor_t *t, int n_tensors, const tb_op_t *op, const char *words)
{
    uint8_t *image = NULL;
    size_t size;
    char msg[512];
    if (import_one_op(t, n_tensors, op, &image, &size, msg, sizeof msg) == 0) {
        free(image);
        fail_msg("imported; expected a refusal mentioning \"%s\"", words);
    }
    if (!strstr(msg, words)) {
        fail_msg("refusal \"%s\" does not mention \"%s\"", msg, words);
    }
}

/* What TFLM refuses (or cannot compute), refused with a message naming the
 * operator and the reason. */
static void test_import_refusals(void **state)
{
    (void)state;
    static const int8_t k16[16];
    /* CONCATENATION with an input in another scale, another zero point, a
     * fused activation, mismatched shapes */
    tb_tensor_t cat[3] = {
        {9, 4, {1, 2, 2, 3}, 1, {0.5f}, {-3}, 0, NULL, 0},
        {9, 4, {1, 2, 2, 1}, 1, {0.25f}, {-3}, 0, k16, 4},
        {9, 4, {1, 2, 2, 4}, 1, {0.5f}, {-3}, 0, NULL, 0},
    };
    tb_op_t op = {2, 2, {0, 1}, 2, 10, 2, {{TB_I32, -1, 0}, {TB_U8, ACT_NONE, 0}}};
    expect_refusal(cat, 3, &op, "CONCATENATION): input");
    cat[1].scales[0] = 0.5f;
    cat[1].zero_points[0] = -2;
    expect_refusal(cat, 3, &op, "TFLM requires the output's");
    cat[1].zero_points[0] = -3;
    op.options[1].i = ACT_RELU;
    expect_refusal(cat, 3, &op, "fused activation");
    op.options[1].i = ACT_NONE;
    op.options[0].i = 2; /* W: 2 + 2 != 2 */
    expect_refusal(cat, 3, &op, "does not match");
    op.options[0].i = 4;
    expect_refusal(cat, 3, &op, "axis 4");
    /* ADD, SUB, MUL, MAXIMUM: operands that do not broadcast to the output */
    tb_tensor_t bin[3] = {
        {9, 4, {1, 2, 2, 3}, 1, {0.5f}, {-3}, 0, NULL, 0},
        {9, 1, {2}, 1, {0.5f}, {4}, 0, k16, 2},
        {9, 4, {1, 2, 2, 3}, 1, {0.5f}, {1}, 0, NULL, 0},
    };
    const int32_t builtins[4] = {0, 41, 18, 55};
    const uint8_t options[4] = {11, 28, 21, 0};
    for (int i = 0; i < 4; i++) {
        tb_op_t b = {builtins[i], 2, {0, 1}, 2, options[i], options[i] ? 1 : 0, {{TB_U8, ACT_NONE, 0}}};
        expect_refusal(bin, 3, &b, "do not broadcast");
    }
    bin[1].dims[0] = 3;
    bin[1].data_size = 3;
    bin[2].dims[3] = 4; /* the output wider than the broadcast */
    tb_op_t add = {0, 2, {0, 1}, 2, 11, 1, {{TB_U8, ACT_NONE, 0}}};
    expect_refusal(bin, 3, &add, "do not broadcast");
    bin[2].dims[3] = 3;
    /* ADD and SUB need output ratios below one (TFLM's check); MUL a left
     * shift of at most 15 */
    bin[2].scales[0] = 1e-9f;
    expect_refusal(bin, 3, &add, "too small");
    tb_op_t sub = {41, 2, {0, 1}, 2, 28, 1, {{TB_U8, ACT_NONE, 0}}};
    expect_refusal(bin, 3, &sub, "too small");
    bin[0].scales[0] = bin[1].scales[0] = 8.0f;
    bin[2].scales[0] = 1e-3f; /* 64000 = 2^15.97 */
    tb_op_t mul = {18, 2, {0, 1}, 2, 21, 1, {{TB_U8, ACT_NONE, 0}}};
    expect_refusal(bin, 3, &mul, "exceed 2^15");
    /* a per-channel quantized operand */
    bin[0].scales[0] = bin[1].scales[0] = 0.5f;
    bin[2].scales[0] = 0.5f;
    bin[1].n_scales = 3;
    bin[1].scales[1] = bin[1].scales[2] = 0.5f;
    expect_refusal(bin, 3, &mul, "per channel");
}

/* TFLM's SUB forms its scale ratios in float and ADD in double: with sub_i8's
 * scales (0.04, 0.03 into 0.06) the output ratio 0.08 / (2^20 x 0.06)
 * rounds to another Q31 multiplier, 1431655808 (float) against 1431655765
 * (double), both with shift -19. The golden records happen not to tell
 * them apart; the parameter words do. */
static void test_sub_ratios_in_float(void **state)
{
    (void)state;
    static const int8_t k[4] = {1, 2, 3, 4};
    const tb_tensor_t t[3] = {
        {9, 2, {1, 4}, 1, {0.0399999991f}, {5}, 0, NULL, 0},
        {9, 2, {1, 4}, 1, {0.0299999993f}, {-6}, 0, k, 4},
        {9, 2, {1, 4}, 1, {0.0599999987f}, {2}, 0, NULL, 0},
    };
    const int32_t builtin[2] = {41, 0}, want[2] = {1431655808, 1431655765};
    const uint8_t options[2] = {28, 11};
    for (int i = 0; i < 2; i++) {
        const tb_op_t op = {builtin[i], 2, {0, 1}, 2, options[i], 1, {{TB_U8, ACT_NONE, 0}}};
        uint8_t *image = NULL;
        size_t size;
        char msg[512];
        if (import_one_op(t, 3, &op, &image, &size, msg, sizeof msg) != 0) {
            fail_msg("import: %s", msg);
        }
        mfl_model_t m;
        assert_int_equal(mfl_model_load(&m, image, size), 0);
        const mfl_add_rec_t *r = (const mfl_add_rec_t *)(const void *)(m.data + m.ops[0].params_offset);
        assert_int_equal(r->out_multiplier, want[i]);
        assert_int_equal(r->out_shift, -19);
        free(image);
    }
}

/* Runs a one-input model on `in`, returning its output (malloc'd). */
static int8_t *run_image(const uint8_t *image, size_t size, const int8_t *in, size_t in_len, size_t *out_len)
{
    mfl_model_t model;
    assert_int_equal(mfl_model_load(&model, image, size), 0);
    uint8_t *arena = malloc(mfl_model_arena_size(&model) + 1);
    mfl_interp_t it;
    assert_int_equal(mfl_interp_init(&it, &model, arena, mfl_model_arena_size(&model) + 1), 0);
    int8_t *x;
    const int8_t *y;
    size_t n;
    assert_int_equal(mfl_interp_input(&it, &x, &n), 0);
    assert_int_equal(n, in_len);
    memcpy(x, in, n);
    assert_int_equal(mfl_interp_invoke(&it), 0);
    assert_int_equal(mfl_interp_output(&it, &y, out_len), 0);
    int8_t *copy = malloc(*out_len);
    memcpy(copy, y, *out_len);
    free(arena);
    return copy;
}

/* CONCATENATION of four inputs (TFLM takes up to 10) on the last axis,
 * chained by the importer as [a, b, c] then [that, d]; a scalar constant
 * operand of MUL becomes a [1] tensor. */
static void test_import_concat_chain_and_scalar(void **state)
{
    (void)state;
    static const int8_t b[4] = {10, 11, 12, 13}, c[8] = {20, 21, 22, 23, 24, 25, 26, 27},
                        d[4] = {30, 31, 32, 33};
    const tb_tensor_t t4s[5] = {
        {9, 3, {1, 4, 1}, 1, {0.5f}, {0}, 0, NULL, 0}, {9, 3, {1, 4, 1}, 1, {0.5f}, {0}, 0, b, 4},
        {9, 3, {1, 4, 2}, 1, {0.5f}, {0}, 0, c, 8},    {9, 3, {1, 4, 1}, 1, {0.5f}, {0}, 0, d, 4},
        {9, 3, {1, 4, 5}, 1, {0.5f}, {0}, 0, NULL, 0},
    };
    const tb_op_t op4s = {2, 4, {0, 1, 2, 3}, 4, 10, 2, {{TB_I32, -1, 0}, {TB_U8, ACT_NONE, 0}}};
    uint8_t *image = NULL;
    size_t size, n;
    char msg[512];
    if (import_one_op(t4s, 5, &op4s, &image, &size, msg, sizeof msg) != 0) {
        fail_msg("import: %s", msg);
    }
    mfl_model_t model;
    assert_int_equal(mfl_model_load(&model, image, size), 0);
    assert_int_equal(model.header->n_ops, 2);
    const int8_t a[4] = {-128, -1, 0, 127};
    int8_t *y = run_image(image, size, a, 4, &n);
    assert_int_equal(n, 20);
    for (int r = 0; r < 4; r++) {
        const int8_t want[5] = {a[r], b[r], c[2 * r], c[2 * r + 1], d[r]};
        assert_memory_equal(y + 5 * r, want, 5);
    }
    free(y);
    free(image);
    /* MUL by a scalar constant 2 (scale 0.25, zero point 0) into scale
     * 0.25: ratio 0.5 * 0.25 / 0.25 = 0.5, so out = round(2 x / 2) = x */
    static const int8_t two = 2;
    const tb_tensor_t ts[3] = {
        {9, 2, {1, 4}, 1, {0.5f}, {0}, 0, NULL, 0},
        {9, 0, {0}, 1, {0.25f}, {0}, 0, &two, 1},
        {9, 2, {1, 4}, 1, {0.25f}, {0}, 0, NULL, 0},
    };
    const tb_op_t mul = {18, 2, {0, 1}, 2, 21, 1, {{TB_U8, ACT_NONE, 0}}};
    if (import_one_op(ts, 3, &mul, &image, &size, msg, sizeof msg) != 0) {
        fail_msg("import: %s", msg);
    }
    y = run_image(image, size, a, 4, &n);
    assert_memory_equal(y, a, 4);
    free(y);
    free(image);
}

/* ---- golden records, every input but the first as a constant ---- */

typedef struct {
    int rank;
    int32_t dims[4];
    float scale;
    int32_t zero_point;
    size_t bytes;
} meta_io_t;

typedef struct {
    char model[512];
    unsigned n, n_inputs;
    meta_io_t in[3], out;
} meta_t;

static void parse_shape(const char *v, meta_io_t *io)
{
    io->rank = 0;
    for (const char *p = v + 1; *p && *p != ']' && io->rank < 4;) {
        io->dims[io->rank++] = (int32_t)strtol(p, (char **)&p, 10);
        if (*p == ',') {
            p++;
        }
    }
}

static void read_meta(const char *name, meta_t *m)
{
    char path[1024], line[1024];
    memset(m, 0, sizeof *m);
    snprintf(path, sizeof path, "%s/golden/tflm-models/%s/meta.txt", MFL_SHARED_DIR, name);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        char *eq = strchr(line, '=');
        if (!eq) {
            continue;
        }
        *eq = '\0';
        const char *v = eq + 1;
        unsigned k;
        char what[32];
        meta_io_t *io = NULL;
        if (sscanf(line, "input%u_%31s", &k, what) == 2 && k < 3) {
            io = &m->in[k];
            m->n_inputs = k + 1 > m->n_inputs ? k + 1 : m->n_inputs;
        } else if (sscanf(line, "output0_%31s", what) == 1) {
            io = &m->out;
        } else if (!strcmp(line, "model")) {
            snprintf(m->model, sizeof m->model, "%s", v);
        } else if (!strcmp(line, "N")) {
            m->n = (unsigned)strtoul(v, NULL, 10);
        }
        if (!io) {
            continue;
        }
        if (!strcmp(what, "shape")) {
            parse_shape(v, io);
        } else if (!strcmp(what, "scale")) {
            io->scale = strtof(v, NULL); /* written with 9 digits: the float exactly */
        } else if (!strcmp(what, "zero_point")) {
            io->zero_point = (int32_t)strtol(v, NULL, 10);
        } else if (!strcmp(what, "bytes")) {
            io->bytes = strtoul(v, NULL, 10);
        }
    }
    fclose(f);
}

static tb_tensor_t tb_from_meta(const meta_io_t *io, const void *data)
{
    tb_tensor_t t = {9, io->rank, {1, 1, 1, 1},        1, {io->scale}, {io->zero_point},
                     0, data,     data ? io->bytes : 0};
    memcpy(t.dims, io->dims, sizeof t.dims);
    return t;
}

typedef struct {
    const char *name;
    int32_t builtin;
    uint8_t options_type; /* 0: none */
    int32_t activation;   /* as meta.txt's description says */
    int32_t axis;         /* CONCATENATION */
} golden_case_t;

/* Every record of a golden model of two or three inputs, rebuilt with
 * inputs 1.. as constants holding that record's values: the output must
 * be TFLM's byte for byte, on both kernel paths. */
static void test_golden_with_constant_operands(void **state)
{
    (void)state;
    const golden_case_t cases[] = {
        {"add_i8_bcast", 0, 11, ACT_NONE, 0},     {"add_i8_bcast2", 0, 11, ACT_RELU6, 0},
        {"simple_add_model", 0, 11, ACT_NONE, 0}, {"sub_i8", 41, 28, ACT_NONE, 0},
        {"sub_i8_bcast", 41, 28, ACT_RELU, 0},    {"mul_i8", 18, 21, ACT_NONE, 0},
        {"mul_i8_bcast", 18, 21, ACT_RELU6, 0},   {"maximum_i8", 55, 0, ACT_NONE, 0},
        {"minimum_i8_bcast", 57, 0, ACT_NONE, 0}, {"concat_ch", 2, 10, ACT_NONE, 3},
        {"concat_h", 2, 10, ACT_NONE, -3},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const golden_case_t *g = &cases[c];
        meta_t m;
        read_meta(g->name, &m);
        char rel[256];
        size_t in_size, out_size;
        snprintf(rel, sizeof rel, "golden/tflm-models/%s/inputs.bin", g->name);
        uint8_t *inputs = ts_read_shared(rel, &in_size);
        snprintf(rel, sizeof rel, "golden/tflm-models/%s/outputs.bin", g->name);
        uint8_t *outputs = ts_read_shared(rel, &out_size);
        const size_t record_in = in_size / m.n;
        assert_int_equal(out_size, (size_t)m.n * m.out.bytes);
        for (unsigned r = 0; r < m.n; r++) {
            const uint8_t *rec = inputs + (size_t)r * record_in;
            tb_tensor_t t[4];
            size_t at = 0;
            for (unsigned k = 0; k < m.n_inputs; k++) {
                t[k] = tb_from_meta(&m.in[k], k == 0 ? NULL : rec + at);
                at += m.in[k].bytes;
            }
            t[m.n_inputs] = tb_from_meta(&m.out, NULL);
            tb_op_t op = {g->builtin, (int)m.n_inputs, {0, 1, 2, 3}, (int32_t)m.n_inputs, g->options_type, 0,
                          {{0}}};
            if (g->options_type == 10) {
                op.n_options = 2;
                op.options[0] = (tb_field_t){TB_I32, g->axis, 0};
                op.options[1] = (tb_field_t){TB_U8, g->activation, 0};
            } else if (g->options_type) {
                op.n_options = 1;
                op.options[0] = (tb_field_t){TB_U8, g->activation, 0};
            }
            uint8_t *image = NULL;
            size_t size, n;
            char msg[512];
            if (import_one_op(t, (int)m.n_inputs + 1, &op, &image, &size, msg, sizeof msg) != 0) {
                fail_msg("%s: %s", g->name, msg);
            }
            for (int path = 0; path < 2; path++) {
                mfl_kernels_select(path ? MFL_KERNELS_DSP : MFL_KERNELS_PORTABLE);
                int8_t *y = run_image(image, size, (const int8_t *)rec, m.in[0].bytes, &n);
                const uint8_t *want = outputs + (size_t)r * m.out.bytes;
                assert_int_equal(n, m.out.bytes);
                if (memcmp(y, want, n) != 0) {
                    size_t i = 0;
                    while ((uint8_t)y[i] == want[i]) {
                        i++;
                    }
                    fail_msg("%s record %u element %zu: expected %d, got %d", g->name, r, i, (int8_t)want[i],
                             y[i]);
                }
                free(y);
            }
            mfl_kernels_select(MFL_KERNELS_PORTABLE);
            free(image);
        }
        free(inputs);
        free(outputs);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_sub_hand_worked),
        cmocka_unit_test(test_sub_rounds_half_away),
        cmocka_unit_test(test_add_tables_match_direct),
        cmocka_unit_test(test_mul_double_rounding),
        cmocka_unit_test(test_maximum_minimum_codes),
        cmocka_unit_test(test_every_broadcast_pattern),
        cmocka_unit_test(test_concatenation_axes),
        cmocka_unit_test(test_loader_bounds),
        cmocka_unit_test(test_import_refusals),
        cmocka_unit_test(test_sub_ratios_in_float),
        cmocka_unit_test(test_import_concat_chain_and_scalar),
        cmocka_unit_test(test_golden_with_constant_operands),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
