/*
 * Bit-exactness against TensorFlow Lite Micro's reference kernels on the
 * four MLPerf Tiny int8 models: every output byte of every golden input,
 * and every intermediate tensor of input #0 (shared/golden/mlperf-tiny,
 * produced by TFLM itself, is the independent truth), on the portable and
 * on the DSP kernel path; then once more loaded with only the MLPerf
 * operators registered (mfl/op_resolver.h), as the firmware loads them.
 * Also checks each model's arena against its activation lower bound.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mfl/kernels.h"
#include "mfl/op_resolver.h"
#include "test_support.h"

typedef struct {
    const char *name;
    uint32_t arena_lower_bound; /* bytes of the two largest tensors alive together */
} mlperf_case_t;

static const mlperf_case_t cases[] = {
    {"kws_ref_model", 16000},
    {"vww_96_int8", 55296},
    {"pretrainedResnet_quant", 49152},
    {"ad01_int8", 768},
};

/* What device/cortex-m/mlperf_ops.h registers. */
static const mfl_op_reg_t *const mlperf_table[] = {
    &mfl_op_conv_2d_s8, &mfl_op_depthwise_conv_2d_s8, &mfl_op_fully_connected_s8, &mfl_op_average_pool_2d_s8,
    &mfl_op_max_pool_2d_s8, &mfl_op_add_s8, &mfl_op_reshape_s8, &mfl_op_softmax_s8,
};
static const mfl_op_resolver_t mlperf_ops = MFL_OP_RESOLVER(mlperf_table);

static void compare_bytes(const char *what, const int8_t *got, const int8_t *want, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (got[i] != want[i]) {
            fail_msg("%s: byte %zu is %d, TFLM gives %d", what, i, got[i], want[i]);
        }
    }
}

/* All N golden inputs, every output byte. */
static void check_outputs(const mlperf_case_t *c, mfl_interp_t *it)
{
    char rel[256];
    size_t in_size, out_size, in_len, out_len;
    int8_t *input;
    const int8_t *output;
    snprintf(rel, sizeof(rel), "golden/mlperf-tiny/%s/inputs.bin", c->name);
    int8_t *inputs = (int8_t *)ts_read_shared(rel, &in_size);
    snprintf(rel, sizeof(rel), "golden/mlperf-tiny/%s/outputs.bin", c->name);
    int8_t *outputs = (int8_t *)ts_read_shared(rel, &out_size);
    assert_int_equal(mfl_interp_input(it, &input, &in_len), 0);
    assert_int_equal(mfl_interp_output(it, &output, &out_len), 0);
    const size_t n = in_size / in_len;
    assert_true(n >= 32);
    assert_int_equal(n * in_len, in_size);
    assert_int_equal(n * out_len, out_size);

    /* The inputs are the documented generator's bytes: we read them right. */
    int8_t *generated = malloc(in_size);
    uint32_t state = 1;
    ts_xorshift_bytes(&state, generated, in_size);
    assert_memory_equal(generated, inputs, in_size);
    free(generated);

    for (size_t k = 0; k < n; k++) {
        char what[128];
        memcpy(input, inputs + k * in_len, in_len);
        assert_int_equal(mfl_interp_invoke(it), 0);
        snprintf(what, sizeof(what), "%s input %zu", c->name, k);
        compare_bytes(what, output, outputs + k * out_len, out_len);
    }
    free(inputs);
    free(outputs);
}

/* Input #0 op by op against layers/index.txt. */
static void check_layers(const mlperf_case_t *c, const mfl_model_t *m, mfl_interp_t *it)
{
    char rel[512], line[4096];
    size_t in_size, in_len;
    int8_t *input;
    snprintf(rel, sizeof(rel), "golden/mlperf-tiny/%s/inputs.bin", c->name);
    int8_t *inputs = (int8_t *)ts_read_shared(rel, &in_size);
    assert_int_equal(mfl_interp_input(it, &input, &in_len), 0);
    memcpy(input, inputs, in_len);
    free(inputs);

    snprintf(rel, sizeof(rel), "%s/golden/mlperf-tiny/%s/layers/index.txt", MFL_SHARED_DIR, c->name);
    FILE *index = fopen(rel, "r");
    assert_non_null(index);
    int layers = 0;
    while (fgets(line, sizeof(line), index)) {
        unsigned op;
        char op_name[64], file[128];
        if (line[0] == '#' || sscanf(line, "%u %63s", &op, op_name) != 2) {
            continue;
        }
        const char *last_space = strrchr(line, ' ');
        assert_non_null(last_space);
        sscanf(last_space + 1, "%127s", file);
        assert_true(op < m->header->n_ops);
        assert_string_equal(mfl_opcode_name(m->ops[op].opcode), op_name);
        assert_int_equal(mfl_interp_invoke_range(it, (uint16_t)op, (uint16_t)(op + 1)), 0);

        size_t want_size, got_len;
        const int8_t *got;
        snprintf(rel, sizeof(rel), "golden/mlperf-tiny/%s/layers/%s", c->name, file);
        int8_t *want = (int8_t *)ts_read_shared(rel, &want_size);
        assert_int_equal(mfl_interp_tensor(it, m->ops[op].output, &got, &got_len), 0);
        assert_int_equal(got_len, want_size);
        char what[128];
        snprintf(what, sizeof(what), "%s op %u (%s)", c->name, op, op_name);
        compare_bytes(what, got, want, want_size);
        free(want);
        layers++;
    }
    fclose(index);
    assert_int_equal(layers, m->header->n_ops);
}

static void test_model(void **state)
{
    const mlperf_case_t *c = *state;
    mfl_model_t m;
    size_t size;
    uint8_t *image = ts_import_mlperf(c->name, &size, &m);
    const uint32_t arena_size = mfl_model_arena_size(&m);
    print_message("%s: arena %u bytes, lower bound %u (%.3fx)\n", c->name, arena_size, c->arena_lower_bound,
                  (double)arena_size / c->arena_lower_bound);
    assert_true(arena_size >= c->arena_lower_bound);
    assert_true((uint64_t)arena_size * 100 <= (uint64_t)c->arena_lower_bound * 105);

    uint8_t *arena = malloc(arena_size);
    mfl_interp_t it;
    assert_int_equal(mfl_interp_init(&it, &m, arena, arena_size), 0);
    /* both kernel paths: the DSP one runs through its C emulation here */
    const mfl_kernel_path_t paths[] = {MFL_KERNELS_PORTABLE, MFL_KERNELS_DSP};
    for (size_t p = 0; p < sizeof(paths) / sizeof(paths[0]); p++) {
        assert_int_equal(mfl_kernels_select(paths[p]), 0);
        check_layers(c, &m, &it);
        check_outputs(c, &it);
    }
    assert_int_equal(mfl_kernels_select(MFL_KERNELS_PORTABLE), 0);
    /* the MLPerf operators only: the same bytes on both paths */
    mfl_model_t sub;
    assert_int_equal(mfl_model_load_ops(&sub, image, size, &mlperf_ops, NULL), 0);
    assert_int_equal(mfl_interp_init(&it, &sub, arena, arena_size), 0);
    for (size_t p = 0; p < sizeof(paths) / sizeof(paths[0]); p++) {
        assert_int_equal(mfl_kernels_select(paths[p]), 0);
        check_outputs(c, &it);
    }
    assert_int_equal(mfl_kernels_select(MFL_KERNELS_PORTABLE), 0);
    free(arena);
    free(image);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_prestate(test_model, (void *)&cases[0]),
        cmocka_unit_test_prestate(test_model, (void *)&cases[1]),
        cmocka_unit_test_prestate(test_model, (void *)&cases[2]),
        cmocka_unit_test_prestate(test_model, (void *)&cases[3]),
    };
    return cmocka_run_group_tests_name("mlperf_golden", tests, NULL, NULL);
}
