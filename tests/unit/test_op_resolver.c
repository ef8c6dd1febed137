/*
 * The operator resolver (mfl/op_resolver.h): a model whose operators are
 * all registered loads and runs bit-exactly with the golden outputs (TFLM's
 * reference kernels); one using an operator microfl has but the resolver
 * does not register is refused at load with MFL_ERR_OP_NOT_REGISTERED, the
 * operator named and the model struct untouched; one microfl has no kernel
 * for stays MFL_ERR_UNSUPPORTED_OP. mfl_ops_all registers every operator
 * exactly once, in step with mfl_op_supported().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mfl/error.h"
#include "mfl/host/tflite_import.h"
#include "mfl/op_resolver.h"
#include "test_support.h"

/* The MLPerf Tiny operators, as device/cortex-m/mlperf_ops.h has them. */
static const mfl_op_reg_t *const mlperf_table[] = {
    &mfl_op_conv_2d_s8, &mfl_op_depthwise_conv_2d_s8, &mfl_op_fully_connected_s8, &mfl_op_average_pool_2d_s8,
    &mfl_op_max_pool_2d_s8, &mfl_op_add_s8, &mfl_op_reshape_s8, &mfl_op_softmax_s8,
};
static const mfl_op_resolver_t mlperf_ops = MFL_OP_RESOLVER(mlperf_table);

/* The same without ADD. */
static const mfl_op_reg_t *const no_add_table[] = {
    &mfl_op_conv_2d_s8, &mfl_op_depthwise_conv_2d_s8, &mfl_op_fully_connected_s8, &mfl_op_average_pool_2d_s8,
    &mfl_op_max_pool_2d_s8, &mfl_op_reshape_s8, &mfl_op_softmax_s8,
};
static const mfl_op_resolver_t no_add_ops = MFL_OP_RESOLVER(no_add_table);

/* shared/golden/tflm-models/<name>/model.tflite imported (malloc'd). */
static uint8_t *import_golden(const char *name, size_t *size)
{
    char rel[256], msg[256] = "";
    size_t tfl_size;
    snprintf(rel, sizeof(rel), "golden/tflm-models/%s/model.tflite", name);
    uint8_t *tfl = ts_read_shared(rel, &tfl_size);
    uint8_t *image = NULL;
    const int err = mfl_tflite_import(tfl, tfl_size, &image, size, msg, sizeof(msg));
    free(tfl);
    if (err) {
        fail_msg("import of %s: %s (%s)", name, mfl_strerror(err), msg);
    }
    return image;
}

/* Every golden record of a one-input, one-output model through a loaded
 * model: each output byte equals TFLM's. */
static void expect_golden(const char *name, const mfl_model_t *m)
{
    char rel[256];
    size_t in_size, out_size, in_len, out_len;
    snprintf(rel, sizeof(rel), "golden/tflm-models/%s/inputs.bin", name);
    uint8_t *inputs = ts_read_shared(rel, &in_size);
    snprintf(rel, sizeof(rel), "golden/tflm-models/%s/outputs.bin", name);
    uint8_t *outputs = ts_read_shared(rel, &out_size);
    uint8_t *arena = malloc(mfl_model_arena_size(m) + 1);
    mfl_interp_t it;
    int8_t *in;
    const int8_t *out;
    assert_int_equal(mfl_interp_init(&it, m, arena, mfl_model_arena_size(m)), 0);
    assert_int_equal(mfl_interp_input(&it, &in, &in_len), 0);
    assert_int_equal(mfl_interp_output(&it, &out, &out_len), 0);
    const size_t n = in_size / in_len;
    assert_true(n >= 1);
    assert_int_equal(n * out_len, out_size);
    for (size_t k = 0; k < n; k++) {
        memcpy(in, inputs + k * in_len, in_len);
        assert_int_equal(mfl_interp_invoke(&it), 0);
        assert_memory_equal(out, outputs + k * out_len, out_len);
    }
    free(arena);
    free(inputs);
    free(outputs);
}

/* mfl_ops_all: every registration once, each supported, and every
 * supported (opcode, type) registered. */
static void test_all_is_complete(void **state)
{
    (void)state;
    assert_int_equal(mfl_ops_all.count, 32);
    for (size_t i = 0; i < mfl_ops_all.count; i++) {
        for (size_t j = 0; j < i; j++) {
            assert_ptr_not_equal(mfl_ops_all.ops[i], mfl_ops_all.ops[j]);
        }
    }
    unsigned supported = 0;
    for (int opcode = 0; opcode <= MFL_OP_COUNT_; opcode++) {
        const int types[] = {MFL_TYPE_INT8, MFL_TYPE_INT16};
        for (int t = 0; t < 2; t++) {
            if (!mfl_op_supported(opcode, types[t])) {
                continue;
            }
            supported++;
            assert_true(opcode > 0 && opcode < MFL_OP_COUNT_);
        }
    }
    assert_int_equal(supported, mfl_ops_all.count);
    /* int32 or int64 outputs go to the int8 registrations (which refuse them) */
    assert_true(mfl_op_supported(MFL_OP_SOFTMAX, MFL_TYPE_INT32));
    assert_false(mfl_op_supported(MFL_OP_SOFTMAX, MFL_TYPE_INT16));
    assert_false(mfl_op_supported(MFL_OP_TRANSPOSE_CONV, MFL_TYPE_INT8));
    assert_false(mfl_op_supported(0, MFL_TYPE_INT8));
    assert_false(mfl_op_supported(MFL_OP_COUNT_, MFL_TYPE_INT8));
}

/* The ic model (CONV_2D, ADD, AVERAGE_POOL_2D, ...) against a resolver
 * without ADD: refused, its first ADD named, the struct untouched; with
 * the MLPerf operators it loads and is bound to that resolver. */
static void test_unregistered_is_refused(void **state)
{
    (void)state;
    mfl_model_t all;
    size_t size;
    uint8_t *image = ts_import_mlperf("pretrainedResnet_quant", &size, &all);
    assert_ptr_equal(all.resolver, &mfl_ops_all);
    uint16_t first_add = MFL_NONE;
    for (uint16_t i = 0; i < all.header->n_ops && first_add == MFL_NONE; i++) {
        first_add = all.ops[i].opcode == MFL_OP_ADD ? i : MFL_NONE;
    }
    assert_int_not_equal(first_add, MFL_NONE);

    mfl_model_t m, before;
    memset(&m, 0x5a, sizeof(m));
    before = m;
    mfl_op_refusal_t why;
    assert_int_equal(mfl_model_load_ops(&m, image, size, &no_add_ops, &why), MFL_ERR_OP_NOT_REGISTERED);
    assert_memory_equal(&m, &before, sizeof(m));
    assert_int_equal(why.op, first_add);
    assert_int_equal(why.opcode, MFL_OP_ADD);
    assert_int_equal(why.type, MFL_TYPE_INT8);
    assert_string_equal(mfl_opcode_name(why.opcode), "ADD");
    assert_non_null(strstr(mfl_strerror(MFL_ERR_OP_NOT_REGISTERED), "not registered"));
    /* why is optional */
    assert_int_equal(mfl_model_load_ops(&m, image, size, &no_add_ops, NULL), MFL_ERR_OP_NOT_REGISTERED);

    assert_int_equal(mfl_model_load_ops(&m, image, size, &mlperf_ops, &why), 0);
    assert_int_equal(why.op, MFL_NONE);
    assert_ptr_equal(m.resolver, &mlperf_ops);
    free(image);
}

/* A model whose operators are registered runs bit-exactly: kws and ad
 * with the MLPerf operators, against TFLM's outputs for every golden input,
 * and the same bytes as with every operator registered. */
static void check_mlperf_subset(const char *name)
{
    mfl_model_t all, sub;
    size_t size, in_size, out_size, in_len, out_len;
    uint8_t *image = ts_import_mlperf(name, &size, &all);
    assert_int_equal(mfl_model_load_ops(&sub, image, size, &mlperf_ops, NULL), 0);
    char rel[256];
    snprintf(rel, sizeof(rel), "golden/mlperf-tiny/%s/inputs.bin", name);
    uint8_t *inputs = ts_read_shared(rel, &in_size);
    snprintf(rel, sizeof(rel), "golden/mlperf-tiny/%s/outputs.bin", name);
    uint8_t *outputs = ts_read_shared(rel, &out_size);
    const size_t arena_size = mfl_model_arena_size(&sub);
    uint8_t *arena_sub = malloc(arena_size), *arena_all = malloc(arena_size);
    mfl_interp_t it_sub, it_all;
    int8_t *in_sub, *in_all;
    const int8_t *out_sub, *out_all;
    assert_int_equal(mfl_interp_init(&it_sub, &sub, arena_sub, arena_size), 0);
    assert_int_equal(mfl_interp_init(&it_all, &all, arena_all, arena_size), 0);
    assert_int_equal(mfl_interp_input(&it_sub, &in_sub, &in_len), 0);
    assert_int_equal(mfl_interp_input(&it_all, &in_all, &in_len), 0);
    assert_int_equal(mfl_interp_output(&it_sub, &out_sub, &out_len), 0);
    assert_int_equal(mfl_interp_output(&it_all, &out_all, &out_len), 0);
    const size_t n = in_size / in_len;
    assert_int_equal(n * out_len, out_size);
    for (size_t k = 0; k < n; k++) {
        memcpy(in_sub, inputs + k * in_len, in_len);
        memcpy(in_all, inputs + k * in_len, in_len);
        assert_int_equal(mfl_interp_invoke(&it_sub), 0);
        assert_int_equal(mfl_interp_invoke(&it_all), 0);
        assert_memory_equal(out_sub, outputs + k * out_len, out_len);
        assert_memory_equal(out_sub, out_all, out_len);
    }
    free(arena_sub);
    free(arena_all);
    free(inputs);
    free(outputs);
    free(image);
}

static void test_registered_runs_bitexact(void **state)
{
    (void)state;
    check_mlperf_subset("kws_ref_model");
    check_mlperf_subset("ad01_int8");
}

/* The 16x8 registrations are their own: the int8 CONV_2D does not admit
 * conv_i16x8 (the refusal gives the int16 type), its int16 one runs it
 * bit-exactly with TFLM. */
static void test_s16_registration(void **state)
{
    (void)state;
    static const mfl_op_reg_t *const s8_table[] = {&mfl_op_conv_2d_s8};
    static const mfl_op_reg_t *const s16_table[] = {&mfl_op_conv_2d_s16};
    static const mfl_op_resolver_t s8_ops = MFL_OP_RESOLVER(s8_table);
    static const mfl_op_resolver_t s16_ops = MFL_OP_RESOLVER(s16_table);
    size_t size;
    uint8_t *image = import_golden("conv_i16x8", &size);
    mfl_model_t m;
    mfl_op_refusal_t why;
    assert_int_equal(mfl_model_load_ops(&m, image, size, &s8_ops, &why), MFL_ERR_OP_NOT_REGISTERED);
    assert_int_equal(why.opcode, MFL_OP_CONV_2D);
    assert_int_equal(why.type, MFL_TYPE_INT16);
    assert_int_equal(mfl_model_load_ops(&m, image, size, &s16_ops, &why), 0);
    expect_golden("conv_i16x8", &m);
    free(image);

    /* and an int8 element-wise one, by itself */
    static const mfl_op_reg_t *const logistic_table[] = {&mfl_op_logistic_s8};
    static const mfl_op_resolver_t logistic_ops = MFL_OP_RESOLVER(logistic_table);
    image = import_golden("logistic_i8", &size);
    assert_int_equal(mfl_model_load_ops(&m, image, size, &mlperf_ops, &why), MFL_ERR_OP_NOT_REGISTERED);
    assert_int_equal(why.op, 0);
    assert_string_equal(mfl_opcode_name(why.opcode), "LOGISTIC");
    assert_int_equal(mfl_model_load_ops(&m, image, size, &logistic_ops, &why), 0);
    expect_golden("logistic_i8", &m);
    free(image);
}

/* An opcode microfl has no kernel for stays MFL_ERR_UNSUPPORTED_OP under
 * any resolver; an empty resolver refuses the first operator; a NULL
 * resolver or a NULL entry is an invalid argument. */
static void test_unsupported_and_arguments(void **state)
{
    (void)state;
    size_t size;
    uint8_t *image = import_golden("logistic_i8", &size);
    mfl_model_t m;
    mfl_op_refusal_t why;
    static const mfl_op_reg_t *const holes[] = {&mfl_op_logistic_s8, NULL};
    static const mfl_op_resolver_t holey = MFL_OP_RESOLVER(holes);
    static const mfl_op_resolver_t empty = {NULL, 0};
    assert_int_equal(mfl_model_load_ops(&m, image, size, NULL, &why), MFL_ERR_INVALID_ARG);
    assert_int_equal(why.op, MFL_NONE);
    assert_int_equal(mfl_model_load_ops(&m, image, size, &holey, &why), MFL_ERR_INVALID_ARG);
    assert_int_equal(mfl_model_load_ops(&m, image, size, &empty, &why), MFL_ERR_OP_NOT_REGISTERED);
    assert_int_equal(why.opcode, MFL_OP_LOGISTIC);

    /* op 0 becomes TRANSPOSE_CONV with an int8 output: no such kernel */
    mfl_model_t ok;
    assert_int_equal(mfl_model_load(&ok, image, size), 0);
    ((mfl_op_rec_t *)(uintptr_t)&ok.ops[0])->opcode = MFL_OP_TRANSPOSE_CONV;
    ts_fix_crc(image);
    assert_int_equal(mfl_model_load_ops(&m, image, size, &mfl_ops_all, &why), MFL_ERR_UNSUPPORTED_OP);
    assert_int_equal(why.op, 0);
    assert_int_equal(why.opcode, MFL_OP_TRANSPOSE_CONV);
    assert_int_equal(mfl_model_load_ops(&m, image, size, &mlperf_ops, &why), MFL_ERR_UNSUPPORTED_OP);
    /* a header error names no operator */
    image[0] ^= 1;
    assert_int_equal(mfl_model_load_ops(&m, image, size, &mfl_ops_all, &why), MFL_ERR_MODEL_MAGIC);
    assert_int_equal(why.op, MFL_NONE);
    free(image);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_is_complete),
        cmocka_unit_test(test_unregistered_is_refused),
        cmocka_unit_test(test_registered_runs_bitexact),
        cmocka_unit_test(test_s16_registration),
        cmocka_unit_test(test_unsupported_and_arguments),
    };
    return cmocka_run_group_tests_name("op_resolver", tests, NULL, NULL);
}
