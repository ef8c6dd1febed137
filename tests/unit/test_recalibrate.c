/*
 * Per-channel recalibration (mfl/recalibrate.h): the moments against a
 * double-precision recomputation of the accumulators from the model's own
 * tensors, the identity (device = reference) leaving every output bit
 * unchanged, a halved-contrast sensor brought back to the reference's
 * outputs, the overflow and range limits, and every error.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mfl/error.h"
#include "mfl/host/net_export.h"
#include "mfl/host/train.h"
#include "mfl/interpreter.h"
#include "mfl/quant.h"
#include "mfl/recalibrate.h"
#include "test_support.h"

#define PIXELS 784
#define CH 8
#define N_IMAGES 40

static mfl_dataset_t train;
/* the model under test (patch moments on op 0), and a deeper one whose
 * second convolution (36 taps) is measured through its accumulators */
typedef struct {
    uint8_t *image, *arena;
    size_t size;
    mfl_model_t model;
    mfl_interp_t it;
} net_t;
static net_t small, deep;

static int make(net_t *n, const char *arch)
{
    char msg[256];
    mfl_net_t net;
    float lo[MFL_NET_MAX_LAYERS], hi[MFL_NET_MAX_LAYERS];
    if (mfl_net_create(&net, arch, 28, 28, 1, msg, sizeof(msg))) {
        return -1;
    }
    mfl_net_init(&net, 3); /* random weights are enough: recalibration only needs statistics */
    int err = mfl_net_calibrate(&net, &train, NULL, 300, lo, hi);
    err = err ? err : mfl_net_export(&net, lo, hi, 2.0f, &n->image, &n->size, msg, sizeof(msg));
    mfl_net_free(&net);
    err = err ? err : mfl_model_load(&n->model, n->image, n->size);
    n->arena = err ? NULL : malloc(mfl_model_arena_size(&n->model));
    return err || !n->arena || mfl_interp_init(&n->it, &n->model, n->arena, mfl_model_arena_size(&n->model));
}

static int setup(void **state)
{
    (void)state;
    char msg[256];
    if (mfl_fmnist_load(NULL, 1, &train, msg, sizeof(msg))) {
        return -1;
    }
    return make(&small, "c8,p,d16,d10") || make(&deep, "c4,c6,p,d10");
}

static int teardown(void **state)
{
    (void)state;
    mfl_dataset_free(&train);
    free(small.image);
    free(small.arena);
    free(deep.image);
    free(deep.arena);
    return 0;
}

/* Image k as the model input; contrast 1 keeps small.it, 0.5 halves every pixel. */
static void write_input_to(mfl_interp_t *ip, uint32_t k, int halve)
{
    int8_t *in;
    size_t len;
    assert_int_equal(mfl_interp_input(ip, &in, &len), 0);
    assert_int_equal(len, PIXELS);
    for (int p = 0; p < PIXELS; p++) {
        const int px = train.images[(size_t)k * PIXELS + p];
        in[p] = (int8_t)((halve ? (px + 1) / 2 : px) - 128);
    }
}

static void write_input(uint32_t k, int halve)
{
    write_input_to(&small.it, k, halve);
}

static void observe(mfl_recal_stats_t *s, uint32_t first, uint32_t n, int halve)
{
    for (uint32_t k = first; k < first + n; k++) {
        write_input(k, halve);
        assert_int_equal(mfl_recal_observe(s, &small.it), 0);
    }
}

#define STATS_MEM 128 /* int64s: enough for either way of gathering here */

static void stats_over(mfl_recal_stats_t *s, int64_t *mem, uint32_t first, uint32_t n, int halve,
                       mfl_recal_moment_t *out)
{
    assert_int_equal(mfl_recal_stats_mem_size(&small.model, 0), 12 * (9 + 45)); /* patch moments of 3x3 grey */
    assert_int_equal(mfl_recal_stats_init(s, &small.model, 0, mem, 12 * (9 + 45)), 0);
    observe(s, first, n, halve);
    assert_int_equal(mfl_recal_moments(s, out), 0);
}

/* Op `op`'s accumulators recomputed in double from the model's tensors and
 * the op's input as the interpreter computed it (SAME, stride 1, filter
 * [C_out, KH, KW, C_in]); also feeds the statistics under test. */
static void reference_moments(net_t *n, uint16_t opi, mfl_recal_stats_t *st, uint32_t first, uint32_t count_in,
                              double *mean, double *sd)
{
    const mfl_model_t *m = &n->model;
    const mfl_op_rec_t *op = &m->ops[opi];
    const mfl_tensor_rec_t *w = &m->tensors[op->inputs[1]], *in = &m->tensors[op->inputs[0]];
    const int8_t *wt = (const int8_t *)(m->data + w->offset);
    const int zp = in->zero_point, H = in->dims[1], W = in->dims[2], C = in->dims[3], OC = w->dims[0];
    double s[64] = {0}, s2[64] = {0}, count = 0;
    for (uint32_t k = first; k < first + count_in; k++) {
        const int8_t *x;
        size_t len;
        write_input_to(&n->it, k, 0);
        assert_int_equal(mfl_recal_observe(st, &n->it), 0);
        assert_int_equal(mfl_interp_tensor(&n->it, op->inputs[0], &x, &len), 0);
        for (int y = 0; y < H; y++) {
            for (int xx = 0; xx < W; xx++, count++) {
                for (int c = 0; c < OC; c++) {
                    double acc = 0;
                    for (int ky = 0; ky < 3; ky++) {
                        for (int kx = 0; kx < 3; kx++) {
                            const int iy = y + ky - 1, ix = xx + kx - 1;
                            for (int ic = 0; ic < C && iy >= 0 && iy < H && ix >= 0 && ix < W; ic++) {
                                acc += wt[((c * 3 + ky) * 3 + kx) * C + ic] * (double)(x[(iy * W + ix) * C + ic] - zp);
                            }
                        }
                    }
                    s[c] += acc;
                    s2[c] += acc * acc;
                }
            }
        }
    }
    for (int c = 0; c < OC; c++) {
        mean[c] = s[c] / count;
        sd[c] = sqrt(s2[c] / count - mean[c] * mean[c]);
    }
}

static void check_moments(net_t *n, uint16_t op, uint16_t patch, uint8_t sq_shift)
{
    int64_t mem[STATS_MEM];
    mfl_recal_stats_t s;
    mfl_recal_moment_t m[64];
    double mean[64], sd[64];
    assert_int_equal(n->model.ops[op].opcode, MFL_OP_CONV_2D);
    assert_int_equal(mfl_recal_stats_init(&s, &n->model, op, mem, sizeof(mem)), 0);
    assert_int_equal(s.patch, patch);
    assert_int_equal(s.sq_shift, sq_shift);
    reference_moments(n, op, &s, 0, N_IMAGES, mean, sd);
    assert_int_equal(s.positions, N_IMAGES * PIXELS);
    assert_int_equal(mfl_recal_moments(&s, m), 0);
    for (int c = 0; c < s.channels; c++) {
        assert_true(fabs(m[c].mean - mean[c]) <= 0.5 + 1e-9);
        /* std16 rounds to 1/16; squares shifted right by sq_shift lose below 2^sq_shift / 2 of variance */
        const double bound = 1.0 / 16 + 1e-6 * sd[c] + (sq_shift ? ldexp(1.0, sq_shift) / sd[c] : 0);
        assert_true(fabs(m[c].std16 / 16.0 - sd[c]) <= bound);
        assert_true(sd[c] > 1.0);
    }
}

static void test_moments_match_double(void **state)
{
    (void)state;
    check_moments(&small, 0, 9, 0); /* a first layer: patch moments, exact */
    /* the second convolution of c4,c6: 36 taps, so accumulators; 36 x 128 x 255 < 2^21: squares shifted by 2 */
    check_moments(&deep, 1, 0, 2);
}

static void run_first_op(int8_t *out, size_t *len)
{
    const int8_t *o;
    assert_int_equal(mfl_interp_invoke_range(&small.it, 0, 1), 0);
    assert_int_equal(mfl_interp_tensor(&small.it, small.model.ops[0].output, &o, len), 0);
    memcpy(out, o, *len);
}

static void test_identity_changes_nothing(void **state)
{
    (void)state;
    int64_t mem[STATS_MEM];
    mfl_recal_stats_t s;
    mfl_recal_moment_t m[CH];
    int32_t bias[CH], mult[CH], shift[CH];
    mfl_requant_override_t ovr;
    stats_over(&s, mem, 100, 10, 0, m);
    assert_int_equal(mfl_recal_compute(&small.model, 0, m, m, bias, mult, shift, &ovr), 0);
    int8_t plain[PIXELS * CH], with[PIXELS * CH];
    size_t n1, n2;
    for (uint32_t k = 200; k < 205; k++) {
        write_input(k, 0);
        assert_int_equal(mfl_interp_invoke(&small.it), 0);
        const int8_t *out;
        size_t len;
        int8_t logits[10];
        assert_int_equal(mfl_interp_output(&small.it, &out, &len), 0);
        memcpy(logits, out, 10);
        write_input(k, 0);
        run_first_op(plain, &n1);
        assert_int_equal(mfl_interp_set_override(&small.it, &ovr), 0);
        write_input(k, 0);
        run_first_op(with, &n2);
        assert_memory_equal(plain, with, n1);
        write_input(k, 0);
        assert_int_equal(mfl_interp_invoke(&small.it), 0);
        assert_int_equal(mfl_interp_output(&small.it, &out, &len), 0);
        assert_memory_equal(logits, out, 10);
        assert_int_equal(mfl_interp_set_override(&small.it, NULL), 0);
    }
}

/* Mean absolute difference of op 0's outputs between image k seen at full
 * contrast without an override and at half contrast with `ovr` (or none). */
static double first_op_distance(uint32_t k, const mfl_requant_override_t *ovr)
{
    int8_t a[PIXELS * CH], b[PIXELS * CH];
    size_t n;
    write_input(k, 0);
    run_first_op(a, &n);
    assert_int_equal(mfl_interp_set_override(&small.it, ovr), 0);
    write_input(k, 1);
    run_first_op(b, &n);
    assert_int_equal(mfl_interp_set_override(&small.it, NULL), 0);
    double d = 0;
    for (size_t i = 0; i < n; i++) {
        d += abs(a[i] - b[i]);
    }
    return d / (double)n;
}

static void test_halved_contrast_is_undone(void **state)
{
    (void)state;
    int64_t mem_ref[STATS_MEM], mem_dev[STATS_MEM];
    mfl_recal_stats_t ref_s, dev_s;
    mfl_recal_moment_t ref[CH], dev[CH];
    int32_t bias[CH], mult[CH], shift[CH];
    mfl_requant_override_t ovr;
    stats_over(&ref_s, mem_ref, 0, N_IMAGES, 0, ref);        /* the maker's data */
    stats_over(&dev_s, mem_dev, 1000, N_IMAGES, 1, dev);     /* other images, the device's dim sensor */
    assert_int_equal(mfl_recal_compute(&small.model, 0, ref, dev, bias, mult, shift, &ovr), 0);
    for (int c = 0; c < CH; c++) { /* about twice the gain: the sensor halves every accumulator */
        const double a = ldexp(mult[c], shift[c] - 31);
        const int32_t *m0 = (const int32_t *)(const void *)(small.model.data + small.model.ops[0].params_offset) + 8;
        const double a0 = ldexp(m0[c], m0[CH + c] - 31);
        assert_true(a / a0 > 1.8 && a / a0 < 2.2);
    }
    double before = 0, after = 0;
    for (uint32_t k = 2000; k < 2010; k++) {
        before += first_op_distance(k, NULL) / 10;
        after += first_op_distance(k, &ovr) / 10;
    }
    print_message("  op 0 outputs, half contrast vs full: %.2f LSB apart before, %.2f after\n", before, after);
    /* not 0: the device's statistics come from other images than the
     * reference's, and halving rounds every pixel */
    assert_true(after < 1.5);
    assert_true(before > 5 * after);
}

static void test_clamps_and_errors(void **state)
{
    (void)state;
    int64_t mem[STATS_MEM];
    mfl_recal_stats_t s;
    mfl_recal_moment_t ref[CH], dev[CH], m[CH];
    int32_t bias[CH], mult[CH], shift[CH];
    mfl_requant_override_t ovr;
    /* errors before anything is observed */
    assert_int_equal(mfl_recal_stats_init(&s, &small.model, 0, mem, 12 * (9 + 45) - 1), MFL_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(mfl_recal_stats_mem_size(&deep.model, 1), 16 * 6); /* accumulators: 16 bytes a channel */
    assert_int_equal(mfl_recal_stats_init(&s, &small.model, small.model.header->n_ops, mem, sizeof(mem)), MFL_ERR_INVALID_ARG);
    assert_int_equal(mfl_recal_stats_init(&s, &small.model, 1, mem, sizeof(mem)), MFL_ERR_UNSUPPORTED_OP); /* MAX_POOL */
    assert_int_equal(mfl_recal_stats_mem_size(&small.model, 1), 0);
    assert_int_equal(mfl_recal_stats_init(&s, &small.model, 0, mem, sizeof(mem)), 0);
    assert_int_equal(mfl_recal_moments(&s, m), MFL_ERR_RECAL_STATS);
    /* full: nothing more is added */
    s.positions = MFL_RECAL_MAX_POSITIONS - 100;
    write_input(0, 0);
    assert_int_equal(mfl_recal_observe(&s, &small.it), MFL_ERR_RECAL_STATS);
    assert_int_equal(s.positions, MFL_RECAL_MAX_POSITIONS - 100);
    assert_int_equal(s.sum[0], 0);
    assert_int_equal(s.chunk[0], 0);
    /* a device channel without spread: the gain stops at 8 */
    for (int c = 0; c < CH; c++) {
        ref[c] = (mfl_recal_moment_t){100, 16 * 50};
        dev[c] = (mfl_recal_moment_t){100, c == 0 ? 0 : 16 * 50};
    }
    assert_int_equal(mfl_recal_compute(&small.model, 0, ref, dev, bias, mult, shift, &ovr), 0);
    const int32_t *m0 = (const int32_t *)(const void *)(small.model.data + small.model.ops[0].params_offset) + 8;
    assert_true(fabs(ldexp(mult[0], shift[0] - 31) / ldexp(m0[0], m0[CH] - 31) - 8.0) < 1e-6);
    assert_true(fabs(ldexp(mult[1], shift[1] - 31) / ldexp(m0[1], m0[CH + 1] - 31) - 1.0) < 1e-9);
    /* a bias beyond int32 */
    ref[2].mean = INT32_MAX;
    dev[2] = (mfl_recal_moment_t){INT32_MIN, 16 * 400}; /* gain 1/8 multiplies the bias by 8 */
    assert_int_equal(mfl_recal_compute(&small.model, 0, ref, dev, bias, mult, shift, &ovr), MFL_ERR_RECAL_RANGE);
    assert_int_equal(mfl_recal_compute(&small.model, 1, ref, dev, bias, mult, shift, &ovr), MFL_ERR_INVALID_ARG);
    /* the interpreter refuses overrides that do not fit the operator */
    ref[2] = ref[1];
    dev[2] = dev[1];
    assert_int_equal(mfl_recal_compute(&small.model, 0, ref, dev, bias, mult, shift, &ovr), 0);
    mfl_requant_override_t bad = ovr;
    bad.channels = CH - 1;
    assert_int_equal(mfl_interp_set_override(&small.it, &bad), MFL_ERR_INVALID_ARG);
    bad = ovr;
    bad.op = 1;
    assert_int_equal(mfl_interp_set_override(&small.it, &bad), MFL_ERR_INVALID_ARG);
    bad = ovr;
    shift[3] = MFL_QUANT_SHIFT_MAX + 1;
    assert_int_equal(mfl_interp_set_override(&small.it, &bad), MFL_ERR_INVALID_ARG);
    assert_null(small.it.override);
    assert_int_equal(mfl_interp_set_override(&small.it, NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_moments_match_double),
        cmocka_unit_test(test_identity_changes_nothing),
        cmocka_unit_test(test_halved_contrast_is_undone),
        cmocka_unit_test(test_clamps_and_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
