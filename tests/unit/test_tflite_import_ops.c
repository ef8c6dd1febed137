/*
 * The importer's mapping of TFLite's element-wise operators: options read
 * from the file (LEAKY_RELU's alpha), TFLM's quirks reproduced (RELU6's
 * bounds in the input quantization), and TFLM's own refusals given as
 * import errors naming the operator (LOGISTIC's output zero point, scales
 * TFLM's HARD_SWISH cannot express). The bit-exact results on real
 * converter output are the golden harness's (../shared/golden/tflm-models).
 */
#include <stdlib.h>
#include <string.h>

#include "mfl/host/tflite_import.h"
#include "test_support.h"
#include "tflite_builder.h"

enum { TFL_LOGISTIC = 14, TFL_RELU6 = 21, TFL_LEAKY_RELU = 98, TFL_HARD_SWISH = 117 };

/* input [1,2,2,3] -> op -> output [1,2,2,3]. */
static tb_model_t unary_model(tb_tensor_t t[2], tb_op_t *op, int32_t builtin, float in_scale, int64_t in_zp,
                              float out_scale, int64_t out_zp)
{
    const tb_tensor_t in = {9, 4, {1, 2, 2, 3}, 1, {in_scale}, {in_zp}, 0, NULL, 0};
    const tb_tensor_t out = {9, 4, {1, 2, 2, 3}, 1, {out_scale}, {out_zp}, 0, NULL, 0};
    t[0] = in, t[1] = out;
    const tb_op_t o = {builtin, 1, {0}, 1, 0, 0, {{0}}};
    *op = o;
    const tb_model_t m = {3, 1, t, 2, op, 1, 0, 1};
    return m;
}

static int import_model(const tb_model_t *m, char *msg, size_t cap, uint8_t **image, size_t *size)
{
    uint8_t *file;
    size_t len;
    tb_build(m, &file, &len);
    const int err = mfl_tflite_import(file, len, image, size, msg, cap);
    free(file);
    return err;
}

/* Imports, loads and runs the model on `in` (12 codes) into `out`. */
static void run_imported(const tb_model_t *m, const int8_t *in, int8_t *out)
{
    char msg[256] = "";
    uint8_t *image = NULL;
    size_t size;
    if (import_model(m, msg, sizeof msg, &image, &size) != 0) {
        fail_msg("import: %s", msg);
    }
    mfl_model_t model;
    assert_int_equal(mfl_model_load(&model, image, size), 0);
    uint8_t arena[64];
    mfl_interp_t it;
    int8_t *x;
    const int8_t *y;
    size_t len;
    assert_int_equal(mfl_interp_init(&it, &model, arena, sizeof arena), 0);
    assert_int_equal(mfl_interp_input(&it, &x, &len), 0);
    assert_int_equal(len, 12);
    memcpy(x, in, 12);
    assert_int_equal(mfl_interp_invoke(&it), 0);
    assert_int_equal(mfl_interp_output(&it, &y, &len), 0);
    memcpy(out, y, 12);
    free(image);
}

static void expect_refusal(const tb_model_t *m, int want, const char *part)
{
    char msg[256] = "";
    uint8_t *image = NULL;
    size_t size = 0;
    const int err = import_model(m, msg, sizeof msg, &image, &size);
    if (err != want || !strstr(msg, part)) {
        fail_msg("got %d '%s', want %d with '%s'", err, msg, want, part);
    }
    assert_null(image);
}

static const int8_t codes[12] = {-128, -100, -9, -8, -1, 0, 1, 7, 8, 60, 120, 127};

/* alpha = 0.25 read from LeakyReluOptions (union type 75); scales 1.0 and
 * zero points 0: negative codes are quartered (double rounding: -9 -> -2,
 * -1 -> 0), the others kept. */
static void test_leaky_relu_reads_alpha(void **state)
{
    (void)state;
    tb_tensor_t t[2];
    tb_op_t op;
    tb_model_t m = unary_model(t, &op, TFL_LEAKY_RELU, 1.0f, 0, 1.0f, 0);
    op.options_type = 75;
    op.n_options = 1;
    op.options[0] = (tb_field_t){TB_F32, 0, 0.25f};
    int8_t out[12];
    run_imported(&m, codes, out);
    const int8_t want[12] = {-32, -25, -2, -2, 0, 0, 1, 7, 8, 60, 120, 127};
    assert_memory_equal(out, want, 12);
}

/* RELU6 with input 0.05 / -8 and an output quantization of its own:
 * TFLM clamps the input codes to [-8, -8 + round(6 / 0.05) = 112] and
 * ignores the output quantization. */
static void test_relu6_keeps_input_codes(void **state)
{
    (void)state;
    tb_tensor_t t[2];
    tb_op_t op;
    const tb_model_t m = unary_model(t, &op, TFL_RELU6, 0.05f, -8, 6.0f / 255.0f, -128);
    int8_t out[12];
    run_imported(&m, codes, out);
    const int8_t want[12] = {-8, -8, -8, -8, -1, 0, 1, 7, 8, 60, 112, 112};
    assert_memory_equal(out, want, 12);
}

static void test_tflm_refusals_are_import_errors(void **state)
{
    (void)state;
    tb_tensor_t t[2];
    tb_op_t op;
    /* TFLM's LOGISTIC requires the output zero point -128. */
    tb_model_t m = unary_model(t, &op, TFL_LOGISTIC, 0.1f, 0, 1.0f / 256.0f, 0);
    expect_refusal(&m, MFL_ERR_TFLITE_QUANT, "operator 0 (LOGISTIC): int8 LOGISTIC needs output zero point -128");
    /* HARD_SWISH's output multiplier must not shift left (TFLM's check):
     * input 1.0 and output 1/1024 give (1/128) / (1/1024) = 8. */
    m = unary_model(t, &op, TFL_HARD_SWISH, 1.0f, 0, 1.0f / 1024.0f, 0);
    expect_refusal(&m, MFL_ERR_TFLITE_QUANT, "operator 0 (HARD_SWISH)");
    /* Shapes must match. */
    m = unary_model(t, &op, TFL_RELU6, 1.0f, 0, 1.0f, 0);
    t[1].dims[3] = 2;
    expect_refusal(&m, MFL_ERR_TFLITE_FORMAT, "differ in shape");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_leaky_relu_reads_alpha),
        cmocka_unit_test(test_relu6_keeps_input_codes),
        cmocka_unit_test(test_tflm_refusals_are_import_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
