/*
 * The .tflite importer: a synthetic model imports and computes the
 * hand-checked answer; each unsupported feature gets its specific error and
 * a message naming the operator or tensor; truncated and corrupted real
 * files are rejected without crashing.
 */
#include <stdlib.h>
#include <string.h>

#include <math.h>

#include "mfl/host/model_io.h"
#include "mfl/host/tflite_import.h"
#include "test_support.h"
#include "tflite_builder.h"

static const int8_t fc_weights[3 * 4] = {1, 2, 3, 4, -1, -2, -3, -4, 10, 0, 0, 0};
static const int32_t fc_bias[3] = {0, 5, -7};

/* input [1,4] --FULLY_CONNECTED--> output [1,3]; all scales 1.0 */
static void fc_model(tb_tensor_t t[4], tb_op_t *op, tb_model_t *m)
{
    const tb_tensor_t in = {9, 2, {1, 4}, 1, {1.0f}, {0}, 0, NULL, 0};
    const tb_tensor_t w = {9, 2, {3, 4}, 1, {1.0f}, {0}, 0, fc_weights, sizeof(fc_weights)};
    const tb_tensor_t b = {2, 1, {3}, 1, {1.0f}, {0}, 0, fc_bias, sizeof(fc_bias)};
    const tb_tensor_t out = {9, 2, {1, 3}, 1, {1.0f}, {-1}, 0, NULL, 0};
    t[0] = in, t[1] = w, t[2] = b, t[3] = out;
    const tb_op_t fc = {9, 3, {0, 1, 2}, 3, 8, 1, {{TB_U8, 0, 0}}};
    *op = fc;
    const tb_model_t model = {3, 1, t, 4, op, 1, 0, 3};
    *m = model;
}

static int import_built(const tb_model_t *m, char *msg, size_t cap, uint8_t **image, size_t *size)
{
    uint8_t *file;
    size_t len;
    tb_build(m, &file, &len);
    const int err = mfl_tflite_import(file, len, image, size, msg, cap);
    free(file);
    return err;
}

static void expect_import_error(const tb_model_t *m, int want, const char *msg_part)
{
    char msg[256] = "";
    uint8_t *image = NULL;
    size_t size = 0;
    const int err = import_built(m, msg, sizeof(msg), &image, &size);
    if (err != want || !strstr(msg, msg_part)) {
        fail_msg("got %d '%s', want %d with '%s'", err, msg, want, msg_part);
    }
    assert_null(image);
}

static void test_synthetic_fc_model_runs(void **state)
{
    (void)state;
    tb_tensor_t t[4];
    tb_op_t op;
    tb_model_t m;
    fc_model(t, &op, &m);
    char msg[256] = "";
    uint8_t *image = NULL;
    size_t size;
    assert_int_equal(import_built(&m, msg, sizeof(msg), &image, &size), 0);
    mfl_model_t model;
    assert_int_equal(mfl_model_load(&model, image, size), 0);
    assert_int_equal(model.header->head_op, 0); /* the FC is marked trainable */
    uint8_t arena[64];
    mfl_interp_t it;
    int8_t *in;
    const int8_t *out;
    size_t in_len, out_len;
    assert_int_equal(mfl_interp_init(&it, &model, arena, sizeof(arena)), 0);
    assert_int_equal(mfl_interp_input(&it, &in, &in_len), 0);
    assert_int_equal(in_len, 4);
    const int8_t x[4] = {1, 2, 3, -4};
    memcpy(in, x, 4);
    assert_int_equal(mfl_interp_invoke(&it), 0);
    assert_int_equal(mfl_interp_output(&it, &out, &out_len), 0);
    /* w.x + b - 1 (output zero point): (1+4+9-16)=-2 -> -3; (2 + 5) -> 6; (10 - 7) -> 2 */
    assert_int_equal(out[0], -3);
    assert_int_equal(out[1], 6);
    assert_int_equal(out[2], 2);
    free(image);
}

static void test_unsupported_operator_is_named(void **state)
{
    (void)state;
    tb_tensor_t t[4];
    tb_op_t op;
    tb_model_t m;
    fc_model(t, &op, &m);
    op.builtin = 42; /* DIV */
    op.options_type = 0;
    expect_import_error(&m, MFL_ERR_TFLITE_UNSUPPORTED, "operator 0 (DIV): not supported");
    op.builtin = 150; /* GELU, only in the extended builtin_code field */
    expect_import_error(&m, MFL_ERR_TFLITE_UNSUPPORTED, "builtin code 150");
}

static void test_type_and_quantization_errors(void **state)
{
    (void)state;
    tb_tensor_t t[4];
    tb_op_t op;
    tb_model_t m;
    fc_model(t, &op, &m);
    t[0].type = 3; /* uint8 input (float32: test_float_elsewhere_is_refused) */
    expect_import_error(&m, MFL_ERR_TFLITE_UNSUPPORTED, "is not int8");
    fc_model(t, &op, &m);
    t[0].n_scales = 0; /* no quantization */
    expect_import_error(&m, MFL_ERR_TFLITE_QUANT, "lacks a valid int8 scale");
    fc_model(t, &op, &m);
    t[1].zero_points[0] = 3; /* asymmetric weights */
    expect_import_error(&m, MFL_ERR_TFLITE_QUANT, "not symmetric");
    fc_model(t, &op, &m);
    t[1].n_scales = 2; /* 2 scales for 3 channels */
    t[1].scales[1] = 0.5f;
    expect_import_error(&m, MFL_ERR_TFLITE_QUANT, "2 scales for 3 channels");
    fc_model(t, &op, &m);
    t[2].type = 4; /* int64 bias */
    expect_import_error(&m, MFL_ERR_TFLITE_UNSUPPORTED, "constant int32");
    fc_model(t, &op, &m);
    op.options[0].i = 4; /* fused TANH */
    expect_import_error(&m, MFL_ERR_TFLITE_UNSUPPORTED, "fused activation 4");
}

static void test_structure_errors(void **state)
{
    (void)state;
    tb_tensor_t t[4];
    tb_op_t op;
    tb_model_t m;
    fc_model(t, &op, &m);
    m.schema_version = 2;
    expect_import_error(&m, MFL_ERR_TFLITE_UNSUPPORTED, "schema version 2");
    fc_model(t, &op, &m);
    m.n_subgraphs = 2;
    expect_import_error(&m, MFL_ERR_TFLITE_UNSUPPORTED, "2 subgraphs");
    fc_model(t, &op, &m);
    op.inputs[1] = 17;
    expect_import_error(&m, MFL_ERR_TFLITE_FORMAT, "tensor index 17 out of range");
    fc_model(t, &op, &m);
    t[1].data_size = 5; /* fewer weight bytes than the shape needs */
    expect_import_error(&m, MFL_ERR_TFLITE_FORMAT, "holds 5 bytes for 12 elements");
}

/* ADD broadcasts (test_ops_binary), but only shapes that do: [1,3]
 * against [1,4] is refused. */
static void test_add_operands_must_broadcast(void **state)
{
    (void)state;
    tb_tensor_t t[3] = {
        {9, 2, {1, 4}, 1, {1.0f}, {0}, 0, NULL, 0},
        {9, 2, {1, 3}, 1, {1.0f}, {0}, 0, NULL, 0},
        {9, 2, {1, 4}, 1, {1.0f}, {0}, 0, NULL, 0},
    };
    static const int8_t three[3] = {1, 2, 3};
    t[1].data = three;
    t[1].data_size = 3;
    const tb_op_t add = {0, 2, {0, 1}, 2, 11, 1, {{TB_U8, 0, 0}}};
    const tb_model_t m = {3, 1, t, 3, &add, 1, 0, 2};
    expect_import_error(&m, MFL_ERR_TFLITE_UNSUPPORTED,
                        "operator 0 (ADD): inputs of shapes [1,4] and [1,3] do not broadcast to the output's [1,4]");
}

static void test_conv_shape_mismatch(void **state)
{
    (void)state;
    static int8_t filter[2 * 3 * 3 * 1];
    tb_tensor_t t[3] = {
        {9, 4, {1, 5, 5, 1}, 1, {1.0f}, {0}, 0, NULL, 0},
        {9, 4, {2, 3, 3, 1}, 1, {1.0f}, {0}, 0, filter, sizeof(filter)},
        {9, 4, {1, 4, 4, 2}, 1, {1.0f}, {0}, 0, NULL, 0}, /* VALID gives 3x3, not 4x4 */
    };
    /* Conv2DOptions: padding VALID, stride 1, 1, activation NONE */
    const tb_op_t conv = {3, 2, {0, 1}, 2, 1, 4, {{TB_U8, 1, 0}, {TB_I32, 1, 0}, {TB_I32, 1, 0}, {TB_U8, 0, 0}}};
    const tb_model_t m = {3, 1, t, 3, &conv, 1, 0, 2};
    expect_import_error(&m, MFL_ERR_TFLITE_FORMAT, "output size 4, expected 3");
}

static void test_softmax_output_quantization(void **state)
{
    (void)state;
    tb_tensor_t t[2] = {
        {9, 2, {1, 4}, 1, {0.1f}, {0}, 0, NULL, 0},
        {9, 2, {1, 4}, 1, {1.0f / 256}, {0}, 0, NULL, 0}, /* zero point must be -128 */
    };
    const tb_op_t sm = {25, 1, {0}, 1, 9, 1, {{TB_F32, 0, 1.0f}}};
    const tb_model_t m = {3, 1, t, 2, &sm, 1, 0, 1};
    expect_import_error(&m, MFL_ERR_TFLITE_QUANT, "scale 1/256, zero point -128");
}

static void test_truncated_and_corrupted_real_files(void **state)
{
    (void)state;
    size_t len;
    uint8_t *file = ts_read_shared("models/mlperf-tiny/kws_ref_model.tflite", &len);
    char msg[256];
    for (size_t cut = 0; cut < len; cut += cut < 2048 ? 7 : 997) {
        uint8_t *image = NULL;
        size_t size;
        const int err = mfl_tflite_import(file, cut, &image, &size, msg, sizeof(msg));
        assert_true(err < 0);
        assert_null(image);
    }
    uint32_t rng = 99;
    for (int i = 0; i < 300; i++) {
        uint8_t *copy = malloc(len);
        memcpy(copy, file, len);
        for (int k = 0; k < 4; k++) {
            rng = rng * 1664525u + 1013904223u;
            copy[(rng >> 8) % 4096 % len] ^= (uint8_t)(1u << (rng % 8)); /* the tables sit near the start */
        }
        uint8_t *image = NULL;
        size_t size;
        if (mfl_tflite_import(copy, len, &image, &size, msg, sizeof(msg)) == 0) {
            mfl_model_t m;
            assert_int_equal(mfl_model_load(&m, image, size), 0); /* what imports, loads */
            free(image);
        }
        free(copy);
    }
    uint8_t *image = NULL;
    size_t size;
    assert_int_equal(mfl_tflite_import((const uint8_t *)"hello, world", 12, &image, &size, msg, sizeof(msg)),
                     MFL_ERR_TFLITE_FORMAT);
    assert_non_null(strstr(msg, "TFL3"));
    free(file);
}

/* float [1,4] -QUANTIZE-> int8 [1,4] (0.5, 3) -FC-> int8 [1,3] (1.0, -1)
 * -DEQUANTIZE-> float [1,3]: the converter's float-edged model. */
static void test_float_edges_taken_off(void **state)
{
    (void)state;
    const tb_tensor_t t[6] = {
        {0, 2, {1, 4}, 0, {0}, {0}, 0, NULL, 0},
        {9, 2, {1, 4}, 1, {0.5f}, {3}, 0, NULL, 0},
        {9, 2, {3, 4}, 1, {1.0f}, {0}, 0, fc_weights, sizeof(fc_weights)},
        {2, 1, {3}, 1, {0.5f}, {0}, 0, fc_bias, sizeof(fc_bias)},
        {9, 2, {1, 3}, 1, {1.0f}, {-1}, 0, NULL, 0},
        {0, 2, {1, 3}, 0, {0}, {0}, 0, NULL, 0},
    };
    const tb_op_t ops[3] = {
        {114, 1, {0}, 1, 0, 0, {{0}}},
        {9, 3, {1, 2, 3}, 4, 8, 1, {{TB_U8, 0, 0}}},
        {6, 1, {4}, 5, 0, 0, {{0}}},
    };
    const tb_model_t m = {3, 1, t, 6, ops, 3, 0, 5};
    char msg[256] = "";
    uint8_t *image = NULL;
    size_t size;
    assert_int_equal(import_built(&m, msg, sizeof(msg), &image, &size), 0);
    mfl_model_t model;
    mfl_io_info_t in, out;
    assert_int_equal(mfl_model_load(&model, image, size), 0);
    assert_int_equal(model.header->n_ops, 1); /* the FULLY_CONNECTED alone */
    assert_int_equal(mfl_model_input_info(&model, 0, &in), 0);
    assert_int_equal(mfl_model_output_info(&model, 0, &out), 0);
    assert_int_equal(in.type, MFL_IO_FLOAT32);
    assert_int_equal(out.type, MFL_IO_FLOAT32);
    assert_true(mfl_io_scale(&in) == 0.5f && in.zero_point == 3);
    assert_true(mfl_io_scale(&out) == 1.0f && out.zero_point == -1);
    /* TFLM's QUANTIZE: x / 0.5 rounded half away from zero, + 3, clamped */
    assert_int_equal(mfl_io_quantize(&in, 1.25f), 6);   /* 2.5 -> 3 */
    assert_int_equal(mfl_io_quantize(&in, -1.25f), 0);  /* -2.5 -> -3 */
    assert_int_equal(mfl_io_quantize(&in, 1.2f), 5);    /* 2.4 -> 2 */
    assert_int_equal(mfl_io_quantize(&in, 62.0f), 127); /* 124 + 3 */
    assert_int_equal(mfl_io_quantize(&in, 1e30f), 127);
    assert_int_equal(mfl_io_quantize(&in, -65.5f), -128);
    assert_int_equal(mfl_io_quantize(&in, -INFINITY), -128);
    assert_int_equal(mfl_io_quantize(&in, NAN), -128);
    /* TFLM's DEQUANTIZE: (float)((double)scale * (q - zero_point)) */
    assert_true(mfl_io_dequantize(&out, -128) == -127.0f);
    assert_true(mfl_io_dequantize(&in, 4) == 0.5f);
    free(image);
}

/* Float tensors anywhere but at a QUANTIZE'd input or a DEQUANTIZE'd
 * output are refused, naming the operator at fault. */
static void test_float_elsewhere_is_refused(void **state)
{
    (void)state;
    tb_tensor_t t[4];
    tb_op_t op;
    tb_model_t m;
    fc_model(t, &op, &m);
    t[0].type = 0; /* a float input straight into the FULLY_CONNECTED */
    expect_import_error(&m, MFL_ERR_TFLITE_UNSUPPORTED, "operator 0 (FULLY_CONNECTED): the model's float32 input 0");
    fc_model(t, &op, &m);
    t[3].type = 0; /* a float output made by it */
    expect_import_error(&m, MFL_ERR_TFLITE_UNSUPPORTED, "operator 0 (FULLY_CONNECTED): the model's float32 output 0");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_synthetic_fc_model_runs),
        cmocka_unit_test(test_float_edges_taken_off),
        cmocka_unit_test(test_float_elsewhere_is_refused),
        cmocka_unit_test(test_unsupported_operator_is_named),
        cmocka_unit_test(test_type_and_quantization_errors),
        cmocka_unit_test(test_structure_errors),
        cmocka_unit_test(test_add_operands_must_broadcast),
        cmocka_unit_test(test_conv_shape_mismatch),
        cmocka_unit_test(test_softmax_output_quantization),
        cmocka_unit_test(test_truncated_and_corrupted_real_files),
    };
    return cmocka_run_group_tests_name("tflite_import", tests, NULL, NULL);
}
