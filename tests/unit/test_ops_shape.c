/*
 * PAD, MEAN, STRIDED_SLICE and TRANSPOSE (and QUANTIZE's loader bounds):
 * outputs worked out by hand from TFLite's definitions, on odd sizes and
 * the extreme zero points; TFLM's double rounding in MEAN; the importer's
 * resolution of STRIDED_SLICE's masks, negative indices and shrinking; and
 * the loader's refusal of every parameter that would index outside a
 * tensor. The bit-exact check against TFLM is the golden harness.
 */
#include <stdlib.h>
#include <string.h>

#include "mfl/host/model_writer.h"
#include "mfl/host/tflite_import.h"
#include "mfl/kernels.h"
#include "test_support.h"
#include "tflite_builder.h"

/* [1,2,1,3] padded by (0,0) (1,0) (1,1) (0,2) with -128: output [1,3,3,5];
 * zero point 127 inputs copied unchanged. */
static void test_pad_places_codes(void **state)
{
    (void)state;
    const int32_t in_dims[4] = {1, 2, 1, 3};
    const int8_t in[6] = {127, 1, 2, -128, 4, 5};
    const mfl_pad_params_t p = {{0, 1, 1, 0}, {0, 0, 1, 2}, -128};
    int8_t out[45];
    mfl_pad_s8(&p, in_dims, in, out);
    int8_t want[45];
    memset(want, -128, sizeof want);
    /* row h = 1 + ih, column w = 1, channels 0..2 of 5 */
    memcpy(want + (1 * 3 + 1) * 5, in, 3);
    memcpy(want + (2 * 3 + 1) * 5, in + 3, 3);
    assert_memory_equal(out, want, 45);
}

/* MEAN over H x W as TFLM computes it: the ratio of scales (here 1.0:
 * m = 2^30, shift 1) divided by the count in the multiplier. */
static void test_mean_double_rounding(void **state)
{
    (void)state;
    /* 2 x 2 pixels, 3 channels, input zero point -128, output -128. count
     * 4: s = 2, m = 2^30 * 4 / 4 = 2^30, shift 1 - 2 = -1 (a quarter).
     * channel 0: -128 x 3 and -127: sum of (x + 128) = 1; SRDHM(1, 2^30) =
     *   round(0.5) = 1 (ties up), then 1 / 2 rounded = 1: TFLM gives 1
     *   where the mean is 0.25 -> -127;
     * channel 1: 127 x 4: 1020 -> 255 -> 127;
     * channel 2: -128, 127, 0, 1: 0 + 255 + 128 + 129 = 512 -> 128 -> 0. */
    const mfl_dims_t d = {1, 2, 2, 3};
    const int8_t in[12] = {-128, 127, -128, -128, 127, 127, -128, 127, 0, -127, 127, 1};
    const mfl_mean_params_t p = {128, -128, 1 << 30, -1};
    int8_t out[3];
    mfl_mean_hw_s8(&p, &d, in, out);
    assert_int_equal(out[0], -127);
    assert_int_equal(out[1], 127);
    assert_int_equal(out[2], 0);
    /* Three pixels (odd), zero points 0: s = 1, m = (2^30 << 1) / 3 =
     * 715827882 (truncated), shift 0: SRDHM(x, m) = floor((x m + 2^30) /
     * 2^31). Sums 3 -> floor(1.49999...) = 1; 1 -> floor(0.83) = 0;
     * 2 -> floor(1.17) = 1; -3 -> floor(-0.49999...) = -1. */
    const mfl_dims_t d3 = {1, 1, 3, 4};
    const int8_t in3[12] = {1, 1, 2, -1, 1, 0, 0, -1, 1, 0, 0, -1};
    const mfl_mean_params_t p3 = {0, 0, 715827882, 0};
    int8_t out3[4];
    mfl_mean_hw_s8(&p3, &d3, in3, out3);
    assert_int_equal(out3[0], 1);
    assert_int_equal(out3[1], 0);
    assert_int_equal(out3[2], 1);
    assert_int_equal(out3[3], -1);
}

/* A 4 x 5 plane, element (r, c) = 5r + c, walked backwards by 2 on both
 * axes from (3, 4): rows 3, 1 and columns 4, 2, 0. */
static void test_strided_slice_negative_strides(void **state)
{
    (void)state;
    const int32_t in_dims[4] = {1, 1, 4, 5};
    int8_t in[20];
    for (int i = 0; i < 20; i++) {
        in[i] = (int8_t)i;
    }
    const mfl_slice_params_t p = {{0, 0, 3, 4}, {1, 1, -2, -2}, {1, 1, 2, 3}};
    int8_t out[6];
    mfl_strided_slice_s8(&p, in_dims, in, out);
    const int8_t want[6] = {19, 17, 15, 9, 7, 5};
    assert_memory_equal(out, want, 6);
}

/* [2,3] transposed (rank 2, perm (1, 0): four-dimensional (0, 1, 3, 2)). */
static void test_transpose_rank2(void **state)
{
    (void)state;
    const int32_t in_dims[4] = {1, 1, 2, 3}, perm[4] = {0, 1, 3, 2};
    const int8_t in[6] = {0, 1, 2, 3, 4, 5};
    int8_t out[6];
    mfl_transpose_s8(perm, in_dims, in, out);
    const int8_t want[6] = {0, 3, 1, 4, 2, 5};
    assert_memory_equal(out, want, 6);
    /* NHWC -> NCHW on [1,2,2,3]: out[c][h][w] = in[h][w][c] */
    const int32_t d4[4] = {1, 2, 2, 3}, p4[4] = {0, 3, 1, 2};
    int8_t x[12], y[12];
    for (int i = 0; i < 12; i++) {
        x[i] = (int8_t)(i * 10 - 128);
    }
    mfl_transpose_s8(p4, d4, x, y);
    for (int c = 0; c < 3; c++) {
        for (int hw = 0; hw < 4; hw++) {
            assert_int_equal(y[c * 4 + hw], x[hw * 3 + c]);
        }
    }
}

/* A one-operator model in_dims -> out_dims with these words. */
static uint8_t *one_op_model(int opcode, const int32_t *params, size_t n, int in_rank, const int32_t *in_dims,
                             int out_rank, const int32_t *out_dims, size_t *size)
{
    mfl_model_builder_t *b;
    assert_int_equal(mfl_builder_new(&b), 0);
    uint16_t in, out;
    assert_int_equal(mfl_builder_add_tensor(b, MFL_TYPE_INT8, in_rank, in_dims, -3, NULL, &in), 0);
    assert_int_equal(mfl_builder_add_tensor(b, MFL_TYPE_INT8, out_rank, out_dims, 7, NULL, &out), 0);
    assert_int_equal(mfl_builder_add_op(b, opcode, 1, &in, out, params, n), 0);
    assert_int_equal(mfl_builder_set_io(b, in, out), 0);
    uint8_t *image;
    assert_int_equal(mfl_builder_finish(b, &image, size), 0);
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

typedef struct {
    int opcode;
    int32_t params[12];
    size_t n;
    int in_rank, out_rank;
    int32_t in_dims[4], out_dims[4];
    struct {
        int word;
        int32_t value;
        int err;
    } bad[6];
    int n_bad;
} loader_case_t;

static void test_loader_bounds(void **state)
{
    (void)state;
    const int P = MFL_ERR_MODEL_PARAMS, S = MFL_ERR_MODEL_SHAPE;
    const loader_case_t cases[] = {
        {MFL_OP_QUANTIZE, {1 << 30, 1, -128, 127}, 4, 2, 2, {3, 5}, {3, 5},
         {{0, -1, P}, {1, 31, P}, {2, 5, 0}}, 3},
        {MFL_OP_PAD, {0, 1, 0, 2, 0, 0, 1, 0, -7}, 9, 3, 3, {1, 2, 3}, {2, 3, 5},
         {{1, -1, P}, {8, 128, P}, {3, 3, S}, {5, 1, S}}, 4},
        {MFL_OP_MEAN, {1 << 30, -1, -128, 127}, 4, 4, 2, {1, 2, 2, 3}, {1, 3},
         {{0, -1, P}, {1, -32, P}, {2, -127, P}, {3, 126, P}}, 4},
        {MFL_OP_STRIDED_SLICE, {0, 0, 3, 4, 1, 1, -2, -2, 1, 1, 2, 3}, 12, 2, 2, {4, 5}, {2, 3},
         {{2, 4, P}, {10, 3, P}, {7, 0, P}, {6, -4, P}, {11, 2, S}, {8, 2, P}}, 6},
        {MFL_OP_TRANSPOSE, {0, 1, 3, 2}, 4, 2, 2, {4, 5}, {5, 4}, {{2, 2, P}, {3, 4, P}, {0, 1, P}}, 3},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const loader_case_t *c = &cases[k];
        size_t size;
        uint8_t *image = one_op_model(c->opcode, c->params, c->n, c->in_rank, c->in_dims, c->out_rank, c->out_dims,
                                      &size);
        for (int i = 0; i < c->n_bad; i++) {
            const int err = load_with_word(image, size, c->bad[i].word, c->bad[i].value);
            if (err != c->bad[i].err) {
                fail_msg("%s word %d = %d: got %d, want %d", mfl_opcode_name(c->opcode), c->bad[i].word,
                         c->bad[i].value, err, c->bad[i].err);
            }
        }
        free(image);
    }
}

/* STRIDED_SLICE as the converter writes it: [1,4,5] with begin (0, -1, 0),
 * end (1, 0, 5), strides (1, -2, 2), end_mask on axis 2 and axis 0 shrunk:
 * axis 0 gives index 0; axis 1 starts at -1 + 4 = 3 and stops before 0:
 * rows 3, 1; axis 2 runs to the end: columns 0, 2, 4. Output [2,3]. */
static void test_import_resolves_slice_masks(void **state)
{
    (void)state;
    const int32_t begin[3] = {0, -1, 0}, end[3] = {1, 0, 5}, strides[3] = {1, -2, 2};
    const tb_tensor_t t[5] = {
        {9, 3, {1, 4, 5}, 1, {0.5f}, {-3}, 0, NULL, 0},
        {2, 1, {3}, 0, {0}, {0}, 0, begin, sizeof begin},
        {2, 1, {3}, 0, {0}, {0}, 0, end, sizeof end},
        {2, 1, {3}, 0, {0}, {0}, 0, strides, sizeof strides},
        {9, 2, {2, 3}, 1, {0.5f}, {-3}, 0, NULL, 0},
    };
    /* StridedSliceOptions (union type 32): begin_mask, end_mask,
     * ellipsis_mask, new_axis_mask, shrink_axis_mask */
    const tb_op_t op = {45, 4, {0, 1, 2, 3}, 4, 32, 5,
                        {{TB_I32, 0, 0}, {TB_I32, 4, 0}, {TB_I32, 0, 0}, {TB_I32, 0, 0}, {TB_I32, 1, 0}}};
    const tb_model_t m = {3, 1, t, 5, &op, 1, 0, 4};
    uint8_t *file, *image = NULL;
    size_t len, size;
    char msg[256] = "";
    tb_build(&m, &file, &len);
    if (mfl_tflite_import(file, len, &image, &size, msg, sizeof msg) != 0) {
        fail_msg("import: %s", msg);
    }
    free(file);
    mfl_model_t model;
    assert_int_equal(mfl_model_load(&model, image, size), 0);
    uint8_t arena[64];
    mfl_interp_t it;
    int8_t *x;
    const int8_t *y;
    size_t n;
    assert_int_equal(mfl_interp_init(&it, &model, arena, sizeof arena), 0);
    assert_int_equal(mfl_interp_input(&it, &x, &n), 0);
    assert_int_equal(n, 20);
    for (int i = 0; i < 20; i++) {
        x[i] = (int8_t)i;
    }
    assert_int_equal(mfl_interp_invoke(&it), 0);
    assert_int_equal(mfl_interp_output(&it, &y, &n), 0);
    const int8_t want[6] = {15, 17, 19, 5, 7, 9};
    assert_int_equal(n, 6);
    assert_memory_equal(y, want, 6);
    free(image);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pad_places_codes),
        cmocka_unit_test(test_mean_double_rounding),
        cmocka_unit_test(test_strided_slice_negative_strides),
        cmocka_unit_test(test_transpose_rank2),
        cmocka_unit_test(test_loader_bounds),
        cmocka_unit_test(test_import_resolves_slice_masks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
