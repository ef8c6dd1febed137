/*
 * The element-wise int8 operators (RELU, RELU6, LEAKY_RELU, LOGISTIC, TANH,
 * HARD_SWISH and the requantization behind QUANTIZE): expected codes worked
 * out by hand from TFLite's definitions (each case shows its arithmetic),
 * edge zero points (-128, 127), saturation, the properties TFLM's
 * fixed-point functions have exactly (symmetry), the tabulated path equal
 * to the direct one, and the loader's bounds on every parameter. The
 * bit-exact check against TFLM itself is the golden harness over
 * ../shared/golden/tflm-models.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mfl/host/model_writer.h"
#include "mfl/kernels.h"
#include "mfl/quant.h"
#include "test_support.h"

#define Q31_HALF (1 << 30) /* a Q31 multiplier of 0.5: real = 0.5 * 2^shift */

typedef struct {
    int8_t in, want;
} code_case_t;

static void check_codes(const char *what, void (*run)(const void *, int32_t, const int8_t *, int8_t *),
                        const void *params, const code_case_t *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int8_t out = 0;
        run(params, 1, &cases[i].in, &out);
        if (out != cases[i].want) {
            fail_msg("%s: input %d gave %d, want %d", what, cases[i].in, out, cases[i].want);
        }
    }
}

static void run_requantize(const void *p, int32_t n, const int8_t *in, int8_t *out)
{
    mfl_requantize_s8(p, n, in, out);
}

static void run_leaky(const void *p, int32_t n, const int8_t *in, int8_t *out)
{
    mfl_leaky_relu_s8(p, n, in, out);
}

static void run_logistic(const void *p, int32_t n, const int8_t *in, int8_t *out)
{
    mfl_logistic_s8(p, n, in, out);
}

static void run_tanh(const void *p, int32_t n, const int8_t *in, int8_t *out)
{
    mfl_tanh_s8(p, n, in, out);
}

static void run_hard_swish(const void *p, int32_t n, const int8_t *in, int8_t *out)
{
    mfl_hard_swish_s8(p, n, in, out);
}

/* QUANTIZE int8 -> int8 between the extreme zero points, and TFLM's double
 * rounding (a rounding high multiply, then a rounding shift). */
static void test_requantize_edges_and_double_rounding(void **state)
{
    (void)state;
    /* in zp -128, out zp 127, scale ratio 1.0 (m = 2^30, shift 1):
     * out = 127 + (in + 128): only in = -128 is not saturated. */
    const mfl_requantize_params_t up = {128, 127, Q31_HALF, 1, -128, 127};
    const code_case_t up_cases[] = {{-128, 127}, {-127, 127}, {127, 127}};
    check_codes("zp -128 -> 127", run_requantize, &up, up_cases, 3);
    /* in zp 127, out zp -128, ratio 0.5 (m = 2^30, shift 0):
     * in = -128: x = -255, SRDHM(-255, 2^30) = floor((-255 * 2^30 + 2^30) / 2^31) = -127
     * (a tie goes up), -128 - 127 = -255 -> -128; in = 127: 0 -> -128. */
    const mfl_requantize_params_t down = {-127, -128, Q31_HALF, 0, -128, 127};
    const code_case_t down_cases[] = {{-128, -128}, {127, -128}, {126, -128}};
    check_codes("zp 127 -> -128", run_requantize, &down, down_cases, 3);
    /* zp 0 both sides, ratio 0.25 (m = 2^30, shift -1): x = 2 -> SRDHM = 1,
     * then 1 / 2 rounded half away = 1 (0.5 -> 1); x = -2 -> SRDHM =
     * floor(-0.5) = -1, then -1 / 2 -> -1 (-0.5 away from zero); x = 6 ->
     * 3 -> 2 (1.5 -> 2); x = 5 -> SRDHM(5, 2^30) = floor(3) = 3 (2.5 up)
     * -> 3 / 2 = 1.5 -> 2: double rounding gives 2 where 5 / 4 = 1.25
     * rounds to 1 in one step. */
    const mfl_requantize_params_t quarter = {0, 0, Q31_HALF, -1, -128, 127};
    const code_case_t quarter_cases[] = {{2, 1}, {-2, -1}, {6, 2}, {5, 2}, {-5, -1}, {127, 32}, {-128, -32}};
    check_codes("ratio 1/4", run_requantize, &quarter, quarter_cases, 7);
    /* RELU of the relu_i8 golden model: in 0.05 / -5, out 0.03 / -128,
     * 0.05 / 0.03 = 5/3 = (5/6) * 2^1, m = round(2^31 * 5/6) = 1789569707;
     * act_min = the output zero point. in = 127: x = 132, 132 * 5/3 = 220
     * (SRDHM(264, m) = 220) -> 92; in = -4: x = 1 -> SRDHM(2, m) = round(1.67)
     * = 2 -> -126; in = -6: x = -1 -> -2 -> clamped to -128. */
    const mfl_requantize_params_t relu = {5, -128, 1789569707, 1, -128, 127};
    const code_case_t relu_cases[] = {{127, 92}, {-4, -126}, {-5, -128}, {-6, -128}, {-128, -128}};
    check_codes("RELU", run_requantize, &relu, relu_cases, 5);
}

/* RELU6 clamps raw codes: at zero point 127 every output is 127; at -128
 * with scale 0.05 the upper bound is -128 + round(6 / 0.05) = -8. */
static void test_relu6_clamps_codes(void **state)
{
    (void)state;
    const int8_t in[4] = {-128, -9, -8, 127};
    int8_t out[4];
    mfl_relu6_s8(127, 127, 4, in, out);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(out[i], 127);
    }
    mfl_relu6_s8(-128, -8, 4, in, out);
    assert_int_equal(out[0], -128);
    assert_int_equal(out[1], -9);
    assert_int_equal(out[2], -8);
    assert_int_equal(out[3], -8);
    mfl_relu6_s8(-128, -8, 4, in, (int8_t *)in); /* in place */
    assert_int_equal(in[3], -8);
}

/* LEAKY_RELU with the zero point at 127 (every other input negative), a
 * positive and a negative alpha. */
static void test_leaky_relu_signs_and_saturation(void **state)
{
    (void)state;
    /* identity 1.0 (m 2^30, shift 1), alpha 0.5 (m 2^30, shift 0), out zp 0:
     * in = 127: x = 0 -> 0; in = -128: x = -255 -> SRDHM(-255, 2^30) = -127
     * (-127.5 ties up); in = 126: x = -1 -> SRDHM(-1, 2^30) = floor(-0.5 +
     * 0.5) = 0. */
    const mfl_leaky_relu_params_t half = {-127, 0, Q31_HALF, 1, Q31_HALF, 0};
    const code_case_t half_cases[] = {{127, 0}, {-128, -127}, {126, 0}, {125, -1}};
    check_codes("alpha 0.5", run_leaky, &half, half_cases, 4);
    /* alpha -0.5 (m = -2^30, shift 0): in = -128: SRDHM(-255, -2^30) =
     * floor((255 * 2^30 + 2^30) / 2^31) = 128 -> saturates at 127; in = 125:
     * x = -2 -> 1. Zero point -128 on the input: every x >= 0 is rescaled
     * by the identity: in = 127 -> x = 255 -> 255 -> 127. */
    const mfl_leaky_relu_params_t neg = {-127, 0, Q31_HALF, 1, -Q31_HALF, 0};
    const code_case_t neg_cases[] = {{-128, 127}, {125, 1}, {127, 0}};
    check_codes("alpha -0.5", run_leaky, &neg, neg_cases, 3);
    const mfl_leaky_relu_params_t low_zp = {128, -20, Q31_HALF, 1, -Q31_HALF, 0};
    const code_case_t low_cases[] = {{127, 127}, {-128, -20}, {-100, 8}};
    check_codes("input zp -128", run_leaky, &low_zp, low_cases, 3);
}

/* The parameters TFLM's Prepare derives from an input scale (host side,
 * as the importer computes them): input_scale * 2^27 by frexp. */
static mfl_sigmoid_params_t sigmoid_params(double scale, int32_t zero_point)
{
    int shift;
    const double q = frexp(scale * 134217728.0, &shift);
    mfl_sigmoid_params_t p = {-zero_point, (int32_t)round(q * 2147483648.0), shift,
                              (int32_t)floor(15.0 * 134217728.0 / ldexp(1.0, shift))};
    return p;
}

/* LOGISTIC: 0 -> 1/2 exactly (code 0); beyond the radius -128 and 127;
 * logistic(-x) = 1 - logistic(x) exactly in TFLM's fixed point, so the
 * codes are opposite (except 128, which is clamped to 127); and every code
 * within one step of the real function. */
static void test_logistic_definition_points(void **state)
{
    (void)state;
    const double scales[3] = {0.1, 0.0627451017, 1.0 / 16.0};
    for (int s = 0; s < 3; s++) {
        for (int32_t zp = -128; zp <= 127; zp += 127) {
            const mfl_sigmoid_params_t p = sigmoid_params(scales[s], zp);
            /* scale 0.1: 0.1 * 2^27 = 0.8 * 2^24, radius = 15 * 2^27 / 2^24 = 120 */
            if (s == 0) {
                assert_int_equal(p.input_left_shift, 24);
                assert_int_equal(p.input_range_radius, 120);
            }
            int8_t in[256], out[256];
            for (int i = 0; i < 256; i++) {
                in[i] = (int8_t)(i - 128);
            }
            mfl_logistic_s8(&p, 256, in, out);
            for (int i = 0; i < 256; i++) {
                const int32_t x = in[i] - zp;
                const double want = 256.0 / (1.0 + exp(-scales[s] * x)) - 128.0;
                if (x == 0) {
                    assert_int_equal(out[i], 0);
                } else if (x >= p.input_range_radius) {
                    assert_int_equal(out[i], 127);
                } else if (x <= -p.input_range_radius) {
                    assert_int_equal(out[i], -128);
                } else if (fabs(out[i] - (want > 127 ? 127 : want)) > 1.0) {
                    fail_msg("logistic scale %g zp %d x %d: %d, real %.3f", scales[s], zp, x, out[i], want);
                }
                const int j = 2 * zp - in[i] + 128; /* index of the input at -x */
                if (j >= 0 && j < 256 && out[i] != 127 && out[j] != 127) {
                    assert_int_equal(out[i], -out[j]);
                }
            }
        }
    }
}

/* TANH: odd exactly (the fixed-point tanh negates one value), 0 -> 0,
 * saturated beyond the radius, within one step of the real function. */
static void test_tanh_definition_points(void **state)
{
    (void)state;
    const double scales[3] = {0.05, 0.1, 0.01};
    for (int s = 0; s < 3; s++) {
        const mfl_sigmoid_params_t p = sigmoid_params(scales[s], 5);
        int8_t in[256], out[256];
        for (int i = 0; i < 256; i++) {
            in[i] = (int8_t)(i - 128);
        }
        mfl_tanh_s8(&p, 256, in, out);
        for (int i = 0; i < 256; i++) {
            const int32_t x = in[i] - 5;
            const double want = 128.0 * tanh(scales[s] * x);
            if (x == 0) {
                assert_int_equal(out[i], 0);
            } else if (x >= p.input_range_radius || x <= -p.input_range_radius) {
                assert_int_equal(out[i], x > 0 ? 127 : -128);
            } else if (fabs(out[i] - (want > 127 ? 127 : want)) > 1.0) {
                fail_msg("tanh scale %g x %d: %d, real %.3f", scales[s], x, out[i], want);
            }
            const int j = 10 - in[i] + 128;
            if (j >= 0 && j < 256 && out[i] != 127 && out[j] != 127) {
                assert_int_equal(out[i], -out[j]);
            }
        }
    }
}

/* HARD_SWISH with input and output scale 1/16, zero point 0: hires scale
 * 1/2048; output ratio 1/128 = 0.5 * 2^-6 -> Q15 16384, exponent -6;
 * reluish ratio (1/2048) / (3/32768) = 16/3 = (2/3) * 2^3 -> Q31 1431655765
 * -> Q15 (1431655765 + 2^15) >> 16 = 21845, exponent 3. */
static void test_hard_swish_hand_worked(void **state)
{
    (void)state;
    const mfl_hard_swish_params_t p = {0, 0, 21845, 3, 16384, -6};
    /* x = 64 (4.0): preshift 8192 * 16384 -> 4096; reluish saturates to
     * 32767 -> (32767 + 32768) >> 1 = 32767; 32767 * 4096 / 2^15 truncated =
     * 4095; 4095 / 64 rounded = 64 (hardswish(4) = 4).
     * x = -64 (-4.0): reluish saturates at -32768 -> 0 -> output 0.
     * x = 16 (1.0): preshift 1024; reluish 2048 << 2 = 8192, * 21845 -> 5461,
     * << 1 = 10922, (10922 + 32768) >> 1 = 21845; 21845 * 1024 / 2^15 = 682
     * (truncated); 682 / 64 = 10.66 -> 11 (hardswish(1) = 2/3: 10.67 codes).
     * x = -16 (-1.0): preshift -1024; reluish -8192 * 21845 -> -5461 (floor
     * of -5460.75), << 1 = -10922, -> 10923; 10923 * -1024 / 2^15 = -341
     * (truncated toward zero); -341 / 64 = -5.33 -> -5. */
    const code_case_t cases[] = {{64, 64}, {-64, 0}, {16, 11}, {-16, -5}, {0, 0}};
    check_codes("hard swish", run_hard_swish, &p, cases, 5);
    /* Zero point 127 on the input: x = -255 keeps int16 range (-32640 on
     * the high-resolution scale) and gives 0, i.e. the output zero point;
     * zero point -128: x = 255 (15.9) saturates the int8 output. */
    const mfl_hard_swish_params_t high = {-127, -128, 21845, 3, 16384, -6};
    const code_case_t high_cases[] = {{-128, -128}, {127, -128}};
    check_codes("hard swish zp 127", run_hard_swish, &high, high_cases, 2);
    const mfl_hard_swish_params_t low = {128, 0, 21845, 3, 16384, -6};
    const code_case_t low_cases[] = {{127, 127}, {-128, 0}};
    check_codes("hard swish zp -128", run_hard_swish, &low, low_cases, 2);
}

/* Tensors of more than 256 elements go through a table of the 256 codes:
 * the same bits as one call per element, also in place. */
static void test_tabulated_path_matches_direct(void **state)
{
    (void)state;
    enum { N = 1000 };
    int8_t in[N], big[N], small[N];
    for (int i = 0; i < N; i++) {
        in[i] = (int8_t)((i * 73 + 11) % 256 - 128);
    }
    const mfl_sigmoid_params_t sp = sigmoid_params(0.0627451017, -20);
    const mfl_hard_swish_params_t hp = {10, -119, 21845, 3, 16384, -6};
    void (*const runs[3])(const void *, int32_t, const int8_t *, int8_t *) = {run_logistic, run_tanh,
                                                                             run_hard_swish};
    const void *params[3] = {&sp, &sp, &hp};
    for (int k = 0; k < 3; k++) {
        runs[k](params[k], N, in, big);
        for (int i = 0; i < N; i++) {
            runs[k](params[k], 1, &in[i], &small[i]);
        }
        assert_memory_equal(big, small, N);
        memcpy(small, in, N);
        runs[k](params[k], N, small, small);
        assert_memory_equal(big, small, N);
    }
}

/* A one-operator model [1,3,5,7] -> [1,3,5,7] (odd sizes) with these
 * parameter words, loaded; returns the image (malloc'd). */
static uint8_t *one_op_model(int opcode, const int32_t *params, size_t n, int32_t in_zp, int32_t out_zp,
                             size_t *size)
{
    mfl_model_builder_t *b;
    assert_int_equal(mfl_builder_new(&b), 0);
    const int32_t dims[4] = {1, 3, 5, 7};
    uint16_t in, out;
    assert_int_equal(mfl_builder_add_tensor(b, MFL_TYPE_INT8, 4, dims, in_zp, NULL, &in), 0);
    assert_int_equal(mfl_builder_add_tensor(b, MFL_TYPE_INT8, 4, dims, out_zp, NULL, &out), 0);
    assert_int_equal(mfl_builder_add_op(b, opcode, 1, &in, out, params, n), 0);
    assert_int_equal(mfl_builder_set_io(b, in, out), 0);
    uint8_t *image;
    assert_int_equal(mfl_builder_finish(b, &image, size), 0);
    mfl_builder_free(b);
    return image;
}

/* Loads `image` with parameter word `word` of op 0 set to `value`. */
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

typedef struct {
    int opcode;
    int32_t params[4];
    size_t n;
    struct {
        int word;
        int32_t value;
    } bad[6];
    int n_bad;
} loader_case_t;

/* Every parameter outside its documented range is refused with
 * MFL_ERR_MODEL_PARAMS; the valid model runs through the interpreter
 * exactly as the kernel does on its own. */
static void test_loader_bounds_and_dispatch(void **state)
{
    (void)state;
    const loader_case_t cases[] = {
        {MFL_OP_RELU, {Q31_HALF, 1, -5, 127}, 4, {{0, -1}, {1, 31}, {1, -32}, {2, -129}, {3, 128}}, 5},
        {MFL_OP_RELU6, {-5, 60}, 2, {{0, 61}, {1, 128}, {0, -129}}, 3},
        {MFL_OP_LEAKY_RELU, {Q31_HALF, 1, -Q31_HALF, -3}, 4, {{0, -1}, {1, 31}, {3, -32}, {3, 31}}, 4},
        {MFL_OP_LOGISTIC, {1717986918, 24, 120}, 3, {{0, -1}, {1, -1}, {1, 32}, {2, 121}, {2, -1}}, 5},
        {MFL_OP_TANH, {1717986918, 24, 120}, 3, {{1, 25}}, 1},
        {MFL_OP_HARD_SWISH, {21845, 3, 16384, -6},
         4,
         {{0, 32768}, {0, -1}, {1, 31}, {1, -16}, {2, 32768}, {3, 1}},
         6},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const loader_case_t *c = &cases[k];
        size_t size;
        uint8_t *image = one_op_model(c->opcode, c->params, c->n, -5, c->opcode == MFL_OP_LOGISTIC ? -128 : 3,
                                      &size);
        for (int i = 0; i < c->n_bad; i++) {
            const int err = load_with_word(image, size, c->bad[i].word, c->bad[i].value);
            if (err != MFL_ERR_MODEL_PARAMS) {
                fail_msg("%s word %d = %d: got %d", mfl_opcode_name(c->opcode), c->bad[i].word, c->bad[i].value,
                         err);
            }
        }
        mfl_model_t m;
        assert_int_equal(mfl_model_load(&m, image, size), 0);
        uint8_t *arena = calloc(1, mfl_model_arena_size(&m));
        mfl_interp_t it;
        assert_int_equal(mfl_interp_init(&it, &m, arena, mfl_model_arena_size(&m)), 0);
        int8_t *x;
        const int8_t *y;
        size_t len;
        assert_int_equal(mfl_interp_input(&it, &x, &len), 0);
        assert_int_equal(len, 105);
        int8_t in[105], want[105];
        for (size_t i = 0; i < len; i++) {
            x[i] = in[i] = (int8_t)(i * 5 - 128);
        }
        assert_int_equal(mfl_interp_invoke(&it), 0);
        assert_int_equal(mfl_interp_output(&it, &y, &len), 0);
        const int32_t *w = c->params;
        const mfl_requantize_params_t rq = {5, 3, w[0], w[1], w[2], w[3]};
        const mfl_leaky_relu_params_t lr = {5, 3, w[0], w[1], w[2], w[3]};
        const mfl_sigmoid_params_t sg = {5, w[0], w[1], w[2]};
        const mfl_hard_swish_params_t hs = {5, 3, w[0], w[1], w[2], w[3]};
        switch (c->opcode) {
        case MFL_OP_RELU: mfl_requantize_s8(&rq, 105, in, want); break;
        case MFL_OP_RELU6: mfl_relu6_s8(w[0], w[1], 105, in, want); break;
        case MFL_OP_LEAKY_RELU: mfl_leaky_relu_s8(&lr, 105, in, want); break;
        case MFL_OP_LOGISTIC: mfl_logistic_s8(&sg, 105, in, want); break;
        case MFL_OP_TANH: mfl_tanh_s8(&sg, 105, in, want); break;
        default: mfl_hard_swish_s8(&hs, 105, in, want); break;
        }
        assert_memory_equal(y, want, 105);
        free(arena);
        free(image);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_requantize_edges_and_double_rounding),
        cmocka_unit_test(test_relu6_clamps_codes),
        cmocka_unit_test(test_leaky_relu_signs_and_saturation),
        cmocka_unit_test(test_logistic_definition_points),
        cmocka_unit_test(test_tanh_definition_points),
        cmocka_unit_test(test_hard_swish_hand_worked),
        cmocka_unit_test(test_tabulated_path_matches_direct),
        cmocka_unit_test(test_loader_bounds_and_dispatch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
