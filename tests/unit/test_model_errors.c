/*
 * Hostile, truncated and corrupt model images: each gets its specific error,
 * never a crash or an out-of-bounds access (ASan/UBSan builds run this too),
 * and a failed load leaves the caller's working model untouched.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mfl/kernels.h"
#include "mfl/host/model_writer.h"
#include "mfl/host/tflite_import.h"
#include "test_support.h"

static uint8_t *good;
static size_t good_size;
static mfl_model_t good_model;

static int setup(void **state)
{
    (void)state;
    good = ts_import_mlperf("kws_ref_model", &good_size, &good_model);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(good);
    return 0;
}

/* A writable copy with views of its header and tables. */
typedef struct {
    uint8_t *img;
    mfl_model_header_t *h;
    mfl_tensor_rec_t *t;
    mfl_op_rec_t *op;
    uint8_t *data;
} copy_t;

static copy_t copy_of(const uint8_t *image, size_t size)
{
    copy_t c;
    c.img = aligned_alloc(16, (size + 15) & ~(size_t)15);
    memcpy(c.img, image, size);
    c.h = (mfl_model_header_t *)(void *)c.img;
    c.t = (mfl_tensor_rec_t *)(void *)(c.img + c.h->tensors_offset);
    c.op = (mfl_op_rec_t *)(void *)(c.img + c.h->ops_offset);
    c.data = c.img + c.h->data_offset;
    return c;
}

static copy_t copy_model(void)
{
    return copy_of(good, good_size);
}

/* Loads the edited copy (with a valid CRC) and checks the error. */
static void expect_error_of(copy_t *c, size_t size, int want)
{
    mfl_model_t m = good_model;
    ts_fix_crc(c->img);
    const int err = mfl_model_load(&m, c->img, size);
    if (err != want) {
        fail_msg("got %d (%s), want %d (%s)", err, mfl_strerror(err), want, mfl_strerror(want));
    }
    assert_memory_equal(&m, &good_model, sizeof(m)); /* untouched on error */
    free(c->img);
}

static void expect_error(copy_t *c, int want)
{
    expect_error_of(c, good_size, want);
}

static void test_every_truncation_is_reported(void **state)
{
    (void)state;
    mfl_model_t m;
    for (size_t len = 0; len < good_size; len += len < 4096 ? 1 : 61) {
        assert_int_equal(mfl_model_load(&m, good, len), MFL_ERR_MODEL_TRUNCATED);
    }
    assert_int_equal(mfl_model_load(&m, good, good_size - 1), MFL_ERR_MODEL_TRUNCATED);
}

static void test_corrupt_bytes_fail_the_checksum(void **state)
{
    (void)state;
    for (size_t pos = 16; pos < good_size; pos += 37) {
        copy_t c = copy_model();
        c.img[pos] ^= 0x40;
        mfl_model_t m = good_model;
        assert_int_equal(mfl_model_load(&m, c.img, good_size), MFL_ERR_MODEL_CHECKSUM);
        free(c.img);
    }
}

static void test_header_errors(void **state)
{
    (void)state;
    copy_t c = copy_model();
    c.h->magic ^= 1;
    expect_error(&c, MFL_ERR_MODEL_MAGIC);
    c = copy_model();
    c.h->format_version = MFL_MODEL_FORMAT_VERSION + 1;
    expect_error(&c, MFL_ERR_MODEL_VERSION);
    c = copy_model();
    c.h->n_tensors = 60000;
    expect_error(&c, MFL_ERR_MODEL_LIMITS);
    c = copy_model();
    c.h->ops_offset = (uint32_t)good_size - 8;
    expect_error(&c, MFL_ERR_MODEL_TRUNCATED);
    c = copy_model();
    c.h->data_offset += 4;
    expect_error(&c, MFL_ERR_MODEL_ALIGNMENT);
}

static void test_tensor_errors(void **state)
{
    (void)state;
    copy_t c = copy_model();
    c.t[1].type = 7;
    expect_error(&c, MFL_ERR_UNSUPPORTED_TYPE);
    c = copy_model();
    c.t[0].dims[1] = 70000; /* beyond MFL_MAX_DIM */
    expect_error(&c, MFL_ERR_MODEL_TENSOR);
    c = copy_model();
    c.t[0].size += 1; /* disagrees with its shape */
    expect_error(&c, MFL_ERR_MODEL_TENSOR);
    c = copy_model();
    c.t[0].rank = 5;
    expect_error(&c, MFL_ERR_MODEL_TENSOR);
    c = copy_model();
    /* a constant whose bytes would lie past the data section */
    c.t[c.op[0].inputs[1]].offset = c.h->data_size - 4;
    expect_error(&c, MFL_ERR_MODEL_TRUNCATED);
    c = copy_model();
    c.t[c.op[0].output].offset = c.h->arena_size; /* outside the arena */
    expect_error(&c, MFL_ERR_MODEL_PLAN);
}

static void test_op_errors(void **state)
{
    (void)state;
    copy_t c = copy_model();
    c.op[3].opcode = 99;
    expect_error(&c, MFL_ERR_UNSUPPORTED_OP);
    c = copy_model();
    c.op[0].inputs[1] = 5000;
    expect_error(&c, MFL_ERR_MODEL_OP);
    c = copy_model();
    c.op[0].inputs[1] = c.op[0].inputs[2]; /* filter replaced by the int32 bias */
    expect_error(&c, MFL_ERR_MODEL_OP);
    c = copy_model();
    c.op[1].inputs[1] = c.op[0].inputs[1]; /* a conv filter given to the depthwise op */
    expect_error(&c, MFL_ERR_MODEL_SHAPE);
    c = copy_model();
    c.op[0].params_size -= 4;
    expect_error(&c, MFL_ERR_MODEL_PARAMS);
    c = copy_model();
    c.op[0].params_offset = c.h->data_size;
    expect_error(&c, MFL_ERR_MODEL_PARAMS);
}

static void test_param_ranges(void **state)
{
    (void)state;
    copy_t c = copy_model();
    mfl_conv_rec_t *conv = (mfl_conv_rec_t *)(void *)(c.data + c.op[0].params_offset);
    conv->stride_w = 0;
    expect_error(&c, MFL_ERR_MODEL_PARAMS);
    c = copy_model();
    conv = (mfl_conv_rec_t *)(void *)(c.data + c.op[0].params_offset);
    conv->act_min = 100;
    conv->act_max = 50;
    expect_error(&c, MFL_ERR_MODEL_PARAMS);
    c = copy_model();
    int32_t *words = (int32_t *)(void *)(c.data + c.op[0].params_offset);
    const int32_t oc = c.t[c.op[0].output].dims[3];
    words[8 + oc] = 40; /* shift of channel 0 */
    expect_error(&c, MFL_ERR_MODEL_PARAMS);
    c = copy_model();
    words = (int32_t *)(void *)(c.data + c.op[0].params_offset);
    words[8] = -5; /* negative multiplier */
    expect_error(&c, MFL_ERR_MODEL_PARAMS);
    c = copy_model();
    /* op 9 is the average pool: padding as large as the window */
    assert_int_equal(c.op[9].opcode, MFL_OP_AVERAGE_POOL_2D);
    mfl_pool_rec_t *pool = (mfl_pool_rec_t *)(void *)(c.data + c.op[9].params_offset);
    pool->pad_w = pool->filter_w;
    expect_error(&c, MFL_ERR_MODEL_PARAMS);
}

static void test_graph_and_plan_errors(void **state)
{
    (void)state;
    copy_t c = copy_model();
    c.op[2].inputs[0] = c.op[4].output; /* read before produced (same shape) */
    expect_error(&c, MFL_ERR_MODEL_GRAPH);
    c = copy_model();
    c.op[2].output = c.op[1].output; /* produced twice */
    expect_error(&c, MFL_ERR_MODEL_GRAPH);
    c = copy_model();
    c.h->head_op = 0; /* the head must be a FULLY_CONNECTED */
    expect_error(&c, MFL_ERR_MODEL_GRAPH);
    c = copy_model();
    /* put op 1's output on top of its input, which is alive at the same time */
    c.t[c.op[1].output].offset = c.t[c.op[1].inputs[0]].offset;
    expect_error(&c, MFL_ERR_MODEL_PLAN);
}

/* Format 2's per-op scratch: only CONV_2D has one, it is private to its op
 * and placed apart from every tensor alive with it. */
static void test_scratch_errors(void **state)
{
    (void)state;
    copy_t c = copy_model();
    assert_int_equal(c.op[0].opcode, MFL_OP_CONV_2D);
    assert_int_not_equal(c.op[0].scratch, MFL_NONE);
    c.op[1].scratch = c.op[0].scratch; /* a DEPTHWISE_CONV_2D has none */
    expect_error(&c, MFL_ERR_MODEL_OP);
    c = copy_model();
    c.op[2].scratch = c.op[0].scratch; /* shared by two ops */
    expect_error(&c, MFL_ERR_MODEL_GRAPH);
    c = copy_model();
    c.op[0].scratch = c.h->input; /* a tensor holding a value */
    expect_error(&c, MFL_ERR_MODEL_GRAPH);
    c = copy_model();
    c.op[0].scratch = c.op[0].inputs[1]; /* a constant (the filter) */
    expect_error(&c, MFL_ERR_MODEL_OP);
    c = copy_model();
    c.op[0].scratch = c.h->n_tensors;
    expect_error(&c, MFL_ERR_MODEL_OP);
    c = copy_model();
    c.t[c.op[0].scratch].offset = c.t[c.op[0].output].offset; /* on top of the op's output */
    expect_error(&c, MFL_ERR_MODEL_PLAN);
    c = copy_model();
    c.h->format_version = 1; /* format 1 keeps the field zero */
    expect_error(&c, MFL_ERR_MODEL_OP);
}

/* A format-1 image (no scratch) still loads, and gives the same output as
 * the format-2 one: its convolutions run on the portable path. */
static void test_format_1_still_runs(void **state)
{
    (void)state;
    copy_t c = copy_model();
    c.h->format_version = 1;
    for (uint16_t i = 0; i < c.h->n_ops; i++) {
        c.op[i].scratch = 0;
    }
    ts_fix_crc(c.img);
    mfl_model_t old;
    assert_int_equal(mfl_model_load(&old, c.img, good_size), 0);
    assert_int_equal(mfl_kernels_select(MFL_KERNELS_DSP), 0); /* what a Cortex-M4 runs */
    const mfl_model_t *models[2] = {&good_model, &old};
    int8_t outputs[2][64];
    size_t out_len = 0;
    for (int k = 0; k < 2; k++) {
        uint8_t *arena = calloc(1, mfl_model_arena_size(models[k]));
        mfl_interp_t it;
        int8_t *in;
        const int8_t *out;
        size_t in_len;
        assert_int_equal(mfl_interp_init(&it, models[k], arena, mfl_model_arena_size(models[k])), 0);
        assert_int_equal(mfl_interp_input(&it, &in, &in_len), 0);
        for (size_t i = 0; i < in_len; i++) {
            in[i] = (int8_t)(i * 37);
        }
        assert_int_equal(mfl_interp_invoke(&it), 0);
        assert_int_equal(mfl_interp_output(&it, &out, &out_len), 0);
        assert_true(out_len <= sizeof(outputs[k]));
        memcpy(outputs[k], out, out_len);
        free(arena);
    }
    assert_memory_equal(outputs[0], outputs[1], out_len);
    assert_int_equal(mfl_kernels_select(MFL_KERNELS_PORTABLE), 0);
    free(c.img);
}

/* Format 3's I/O table: the model's inputs and outputs with their scales. */
static mfl_io_rec_t *io_table(copy_t *c)
{
    return (mfl_io_rec_t *)(void *)(c->data + c->h->io_offset);
}

/* Each bad entry of the I/O table, or bad count, offset or header field,
 * gets its error. */
static void test_io_table_errors(void **state)
{
    (void)state;
    copy_t c = copy_model();
    c.h->n_inputs = 0;
    expect_error(&c, MFL_ERR_MODEL_LIMITS);
    c = copy_model();
    c.h->n_outputs = MFL_MODEL_MAX_IO + 1;
    expect_error(&c, MFL_ERR_MODEL_LIMITS);
    c = copy_model();
    c.h->reserved = 1;
    expect_error(&c, MFL_ERR_MODEL_LIMITS);
    c = copy_model();
    c.h->io_offset += 2;
    expect_error(&c, MFL_ERR_MODEL_ALIGNMENT);
    c = copy_model();
    c.h->io_offset = c.h->data_size - 4;
    expect_error(&c, MFL_ERR_MODEL_TRUNCATED);
    c = copy_model();
    io_table(&c)[0].scale_m += 1; /* the two forms of the scale disagree */
    expect_error(&c, MFL_ERR_MODEL_PARAMS);
    c = copy_model();
    io_table(&c)[1].scale_e -= 1;
    expect_error(&c, MFL_ERR_MODEL_PARAMS);
    c = copy_model();
    io_table(&c)[0].scale_f32 |= 0x80000000u; /* negative */
    expect_error(&c, MFL_ERR_MODEL_PARAMS);
    c = copy_model();
    io_table(&c)[0].scale_f32 = 0x7F800000u; /* infinite */
    expect_error(&c, MFL_ERR_MODEL_PARAMS);
    c = copy_model();
    io_table(&c)[0].scale_m = 0; /* a half-recorded scale */
    io_table(&c)[0].scale_e = 0;
    expect_error(&c, MFL_ERR_MODEL_PARAMS);
    c = copy_model();
    io_table(&c)[1].type = 0;
    expect_error(&c, MFL_ERR_MODEL_PARAMS);
    c = copy_model();
    io_table(&c)[1].reserved = 1;
    expect_error(&c, MFL_ERR_MODEL_PARAMS);
    c = copy_model();
    io_table(&c)[1] = (mfl_io_rec_t){.tensor = io_table(&c)[1].tensor, .type = MFL_IO_FLOAT32};
    expect_error(&c, MFL_ERR_MODEL_PARAMS); /* a float edge without its scale */
    c = copy_model();
    io_table(&c)[0].tensor = c.op[0].inputs[1]; /* a constant */
    expect_error(&c, MFL_ERR_MODEL_GRAPH);
    c = copy_model();
    io_table(&c)[1].tensor = c.h->n_tensors;
    expect_error(&c, MFL_ERR_MODEL_GRAPH);
    c = copy_model();
    io_table(&c)[1].tensor = io_table(&c)[0].tensor; /* an output that is the input */
    expect_error(&c, MFL_ERR_MODEL_GRAPH);
    c = copy_model();
    io_table(&c)[0].tensor = c.op[0].output; /* not the header's input */
    expect_error(&c, MFL_ERR_MODEL_GRAPH);
}

/* The model's scales as the importer recorded them (kws: input 0.5847029
 * zero point 83, SOFTMAX output 1/256 zero point -128), in both forms. */
static void test_io_scales_recorded(void **state)
{
    (void)state;
    mfl_io_info_t in, out;
    assert_int_equal(mfl_model_input_count(&good_model), 1);
    assert_int_equal(mfl_model_output_count(&good_model), 1);
    assert_int_equal(mfl_model_input_info(&good_model, 0, &in), 0);
    assert_int_equal(mfl_model_output_info(&good_model, 0, &out), 0);
    assert_int_equal(mfl_model_input_info(&good_model, 1, &in), MFL_ERR_INVALID_ARG);
    assert_int_equal(mfl_model_output_info(NULL, 0, &out), MFL_ERR_INVALID_ARG);
    assert_int_equal(in.tensor, good_model.header->input);
    assert_int_equal(in.type, MFL_IO_INT8);
    assert_int_equal(in.zero_point, 83);
    assert_int_equal(in.size, 490);
    float f;
    memcpy(&f, &in.scale_f32, 4);
    assert_true(fabsf(f - 0.5847029f) < 1e-6f);
    assert_true(ldexp((double)in.scale.m, in.scale.e - 31) == (double)f);
    assert_int_equal(out.zero_point, -128);
    assert_int_equal(out.scale.m, 1 << 30);
    assert_int_equal(out.scale.e, -7); /* 2^30 x 2^(-7 - 31) = 1/256 */
    assert_int_equal(out.scale_f32, 0x3B800000u);
}

/* A format-2 image (no I/O table: the last 8 header bytes zero) loads, with
 * one input and one output whose scales are not recorded. */
static void test_format_2_still_loads(void **state)
{
    (void)state;
    copy_t c = copy_model();
    c.h->format_version = 2;
    c.h->io_offset = 0;
    c.h->n_inputs = c.h->n_outputs = 0;
    ts_fix_crc(c.img);
    mfl_model_t old;
    mfl_io_info_t in;
    assert_int_equal(mfl_model_load(&old, c.img, good_size), 0);
    assert_null(old.io);
    assert_int_equal(mfl_model_input_count(&old), 1);
    assert_int_equal(mfl_model_output_count(&old), 1);
    assert_int_equal(mfl_model_input_info(&old, 0, &in), 0);
    assert_int_equal(in.tensor, old.header->input);
    assert_int_equal(in.zero_point, 83);
    assert_int_equal(in.scale.m, 0);
    assert_int_equal(in.scale_f32, 0);
    free(c.img);
}

/* TFLM's simple_add_model: two inputs [1,128,128,1] added. Both inputs
 * have their own buffers, the graph checks see both, and the single-input
 * calls are input 0's. */
static void test_two_inputs(void **state)
{
    (void)state;
    size_t tfl_size, size;
    char msg[256] = "";
    uint8_t *tfl = ts_read_shared("models/tflm/simple_add_model.tflite", &tfl_size);
    uint8_t *image = NULL;
    assert_int_equal(mfl_tflite_import(tfl, tfl_size, &image, &size, msg, sizeof(msg)), 0);
    free(tfl);
    mfl_model_t model;
    assert_int_equal(mfl_model_load(&model, image, size), 0);
    assert_int_equal(mfl_model_input_count(&model), 2);
    assert_int_equal(mfl_model_output_count(&model), 1);
    mfl_io_info_t in0, in1;
    assert_int_equal(mfl_model_input_info(&model, 0, &in0), 0);
    assert_int_equal(mfl_model_input_info(&model, 1, &in1), 0);
    assert_int_equal(mfl_model_input_info(&model, 2, &in1), MFL_ERR_INVALID_ARG);
    assert_int_not_equal(in0.tensor, in1.tensor);
    assert_int_equal(in0.size, 128 * 128);
    uint8_t *arena = calloc(1, mfl_model_arena_size(&model));
    mfl_interp_t it;
    int8_t *a, *b, *first;
    const int8_t *out;
    size_t la, lb, lo;
    assert_int_equal(mfl_interp_init(&it, &model, arena, mfl_model_arena_size(&model)), 0);
    assert_int_equal(mfl_interp_input_at(&it, 0, &a, &la), 0);
    assert_int_equal(mfl_interp_input_at(&it, 1, &b, &lb), 0);
    assert_int_equal(mfl_interp_input_at(&it, 2, &b, &lb), MFL_ERR_INVALID_ARG);
    assert_int_equal(mfl_interp_output_at(&it, 1, &out, &lo), MFL_ERR_INVALID_ARG);
    assert_int_equal(mfl_interp_input(&it, &first, &la), 0);
    assert_ptr_equal(first, a);
    assert_true(a + la <= b || b + lb <= a); /* both alive at once */
    memset(a, in0.zero_point, la);
    memset(b, in1.zero_point, lb);
    assert_int_equal(mfl_interp_invoke(&it), 0);
    assert_int_equal(mfl_interp_output_at(&it, 0, &out, &lo), 0);
    mfl_io_info_t o;
    mfl_model_output_info(&model, 0, &o);
    assert_int_equal(out[0], o.zero_point); /* 0 + 0 */
    free(arena);

    /* the loader sees the second input: dropping it from the table leaves
     * a tensor read that nothing produces; sharing arena bytes with the
     * first is a plan error */
    copy_t c = copy_of(image, size);
    c.h->n_inputs = 1;
    io_table(&c)[1] = io_table(&c)[2]; /* the output moves up */
    expect_error_of(&c, size, MFL_ERR_MODEL_GRAPH);
    c = copy_of(image, size);
    c.t[io_table(&c)[1].tensor].offset = c.t[io_table(&c)[0].tensor].offset;
    expect_error_of(&c, size, MFL_ERR_MODEL_PLAN);
    c = copy_of(image, size);
    io_table(&c)[1].tensor = io_table(&c)[0].tensor;
    expect_error_of(&c, size, MFL_ERR_MODEL_GRAPH);
    free(image);
}

/* The deepest convolutions the loader admits still get their scratch
 * (3x3x2048 taps: 73,728 bytes, more than one dimension may hold), and both
 * kernel paths agree on them. */
static void test_deep_convolution_gets_scratch(void **state)
{
    (void)state;
    enum { C_IN = 2048, TAPS = 9 * C_IN };
    mfl_model_builder_t *b;
    assert_int_equal(mfl_builder_new(&b), 0);
    int8_t *filter = malloc(TAPS);
    for (int i = 0; i < TAPS; i++) {
        filter[i] = (int8_t)((i * 37) % 255 - 127);
    }
    const int32_t in_dims[4] = {1, 3, 3, C_IN}, f_dims[4] = {1, 3, 3, C_IN}, out_dims[4] = {1, 1, 1, 1};
    const int32_t bias_dims[1] = {1}, bias[1] = {12345};
    uint16_t in, f, bi, out;
    assert_int_equal(mfl_builder_add_tensor(b, MFL_TYPE_INT8, 4, in_dims, 3, NULL, &in), 0);
    assert_int_equal(mfl_builder_add_tensor(b, MFL_TYPE_INT8, 4, f_dims, 0, filter, &f), 0);
    assert_int_equal(mfl_builder_add_tensor(b, MFL_TYPE_INT32, 1, bias_dims, 0, bias, &bi), 0);
    assert_int_equal(mfl_builder_add_tensor(b, MFL_TYPE_INT8, 4, out_dims, -5, NULL, &out), 0);
    /* strides, dilations, paddings, activation range, multiplier, shift */
    const int32_t params[10] = {1, 1, 1, 1, 0, 0, -128, 127, 1 << 30, -12};
    const uint16_t inputs[3] = {in, f, bi};
    assert_int_equal(mfl_builder_add_op(b, MFL_OP_CONV_2D, 3, inputs, out, params, 10), 0);
    assert_int_equal(mfl_builder_set_io(b, in, out), 0);
    uint8_t *image;
    size_t size;
    assert_int_equal(mfl_builder_finish(b, &image, &size), 0);
    mfl_model_t m;
    assert_int_equal(mfl_model_load(&m, image, size), 0);
    const uint16_t scratch = mfl_op_scratch(&m, &m.ops[0]);
    assert_int_not_equal(scratch, MFL_NONE);
    assert_int_equal(m.tensors[scratch].size, 2 * 2 * TAPS);
    uint8_t *arena = calloc(1, mfl_model_arena_size(&m));
    mfl_interp_t it;
    int8_t *x;
    const int8_t *y;
    size_t len;
    int8_t got[2];
    assert_int_equal(mfl_interp_init(&it, &m, arena, mfl_model_arena_size(&m)), 0);
    for (int path = 0; path < 2; path++) {
        assert_int_equal(mfl_kernels_select(path ? MFL_KERNELS_DSP : MFL_KERNELS_PORTABLE), 0);
        assert_int_equal(mfl_interp_input(&it, &x, &len), 0);
        for (size_t i = 0; i < len; i++) {
            x[i] = (int8_t)(i * 11);
        }
        assert_int_equal(mfl_interp_invoke(&it), 0);
        assert_int_equal(mfl_interp_output(&it, &y, &len), 0);
        got[path] = y[0];
    }
    assert_int_equal(got[0], got[1]);
    assert_int_equal(mfl_kernels_select(MFL_KERNELS_PORTABLE), 0);
    free(arena);
    free(image);
    free(filter);
    mfl_builder_free(b);
}

static void test_failed_load_keeps_working_model(void **state)
{
    (void)state;
    mfl_model_t live;
    assert_int_equal(mfl_model_load(&live, good, good_size), 0);
    copy_t c = copy_model();
    c.op[4].opcode = 200;
    ts_fix_crc(c.img);
    assert_int_equal(mfl_model_load(&live, c.img, good_size), MFL_ERR_UNSUPPORTED_OP);
    free(c.img);
    /* the live model still runs */
    uint8_t *arena = malloc(mfl_model_arena_size(&live));
    mfl_interp_t it;
    assert_int_equal(mfl_interp_init(&it, &live, arena, mfl_model_arena_size(&live)), 0);
    assert_int_equal(mfl_interp_invoke(&it), 0);
    free(arena);
}

static void test_arena_and_alignment(void **state)
{
    (void)state;
    mfl_interp_t it;
    uint8_t arena[64];
    assert_int_equal(mfl_interp_init(&it, &good_model, arena, sizeof(arena)), MFL_ERR_ARENA_TOO_SMALL);
    assert_int_equal(mfl_interp_init(&it, &good_model, NULL, 100000), MFL_ERR_INVALID_ARG);
    uint8_t *shifted = malloc(good_size + 1);
    memcpy(shifted + 1, good, good_size);
    mfl_model_t m;
    assert_int_equal(mfl_model_load(&m, shifted + 1, good_size), MFL_ERR_MODEL_ALIGNMENT);
    free(shifted);
    assert_int_equal(mfl_model_load(NULL, good, good_size), MFL_ERR_INVALID_ARG);
    assert_int_equal(mfl_model_load(&m, NULL, good_size), MFL_ERR_INVALID_ARG);
}

static void test_every_error_has_a_message(void **state)
{
    (void)state;
    for (int code = -1; code >= -45; code--) {
        assert_non_null(mfl_strerror(code));
    }
    assert_string_equal(mfl_strerror(MFL_ERR_ARENA_TOO_SMALL), "arena too small for this model");
    assert_string_equal(mfl_strerror(-999), "unknown error");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_truncation_is_reported),
        cmocka_unit_test(test_corrupt_bytes_fail_the_checksum),
        cmocka_unit_test(test_header_errors),
        cmocka_unit_test(test_tensor_errors),
        cmocka_unit_test(test_op_errors),
        cmocka_unit_test(test_param_ranges),
        cmocka_unit_test(test_graph_and_plan_errors),
        cmocka_unit_test(test_scratch_errors),
        cmocka_unit_test(test_format_1_still_runs),
        cmocka_unit_test(test_io_table_errors),
        cmocka_unit_test(test_io_scales_recorded),
        cmocka_unit_test(test_format_2_still_loads),
        cmocka_unit_test(test_two_inputs),
        cmocka_unit_test(test_deep_convolution_gets_scratch),
        cmocka_unit_test(test_failed_load_keeps_working_model),
        cmocka_unit_test(test_arena_and_alignment),
        cmocka_unit_test(test_every_error_has_a_message),
    };
    return cmocka_run_group_tests_name("model_errors", tests, setup, teardown);
}
