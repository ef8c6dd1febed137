/*
 * Import of TFLite's 16x8 operators (int16 activations with zero point 0,
 * int8 weights, int64 convolution biases), each parameter computed as
 * TFLM's Prepare computes it. Every operator whose output is an int16
 * tensor, and every TRANSPOSE_CONV, comes here from import_op; the rest of
 * the importer maps int8 tensors only (im->s16 lets it map int16 and int32
 * activations while one of these operators is imported, so that PAD,
 * STRIDED_SLICE and LEAKY_RELU reuse their int8 import: their parameters do
 * not depend on the element type).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mfl/host/quant_host.h"
#include "mfl/kernels_s16.h"
#include "mfl/quant.h"
#include "tflite_import_internal.h"

#define S16_OPS "CONV_2D, TRANSPOSE_CONV, ADD, SUB, LEAKY_RELU, PAD, PADV2, STRIDED_SLICE, QUANTIZE (int32 -> int16)"

static int add_op(importer_t *im, int opcode, int n_inputs, const uint16_t *inputs, uint16_t output,
                  const int32_t *params, size_t n_params)
{
    int err = mfl_builder_add_op(im->b, opcode, n_inputs, inputs, output, params, n_params);
    return err ? imp_fail(im, err, "cannot add operator: %s", mfl_strerror(err)) : 0;
}

/* A TFLite tensor of the given type mapped as an activation (im->s16 set),
 * with its per-tensor scale. */
static int map_typed(importer_t *im, int32_t index, int tfl_type, uint16_t *out, float *scale)
{
    const tfl_tensor_t *t = imp_tensor(im, index);
    if (!t) {
        return im->err;
    }
    if (t->type != tfl_type) {
        return imp_fail(im, MFL_ERR_TFLITE_UNSUPPORTED, "tensor %s has TFLite type %d where %s is needed", t->name,
                        t->type, tfl_type == TFL_TYPE_INT16 ? "int16" : "int32");
    }
    int32_t zp;
    if (imp_map_activation(im, index, out) || imp_per_tensor_quant(im, t, scale, &zp)) {
        return im->err;
    }
    return 0;
}

/* A constant int16 or int64 tensor of rank 1..4 (int8 and int32 ones go
 * through imp_map_const). */
static int map_const_wide(importer_t *im, int32_t index, int tfl_type, uint16_t *out)
{
    const tfl_tensor_t *t = imp_tensor(im, index);
    if (!t) {
        return im->err;
    }
    const int mfl_type = tfl_type == TFL_TYPE_INT16 ? MFL_TYPE_INT16 : MFL_TYPE_INT64;
    const size_t elem = tfl_type == TFL_TYPE_INT16 ? 2u : 8u;
    if (t->type != tfl_type || !t->data || imp_check_rank(im, t, 1, 4)) {
        return im->err ? im->err
                       : imp_fail(im, MFL_ERR_TFLITE_UNSUPPORTED, "tensor %s must be a constant %s tensor", t->name,
                                  elem == 2 ? "int16" : "int64");
    }
    uint64_t elements = 1;
    for (int i = 0; i < t->rank; i++) {
        elements *= (uint64_t)t->dims[i];
    }
    if (t->data_size != elements * elem || (t->n_zero_points && t->zero_points[0] != 0)) {
        return imp_fail(im, MFL_ERR_TFLITE_FORMAT, "tensor %s: %zu bytes for %llu elements, or a zero point", t->name,
                        t->data_size, (unsigned long long)elements);
    }
    if (im->map[index] == MFL_NONE) {
        int err = mfl_builder_add_tensor(im->b, mfl_type, t->rank, t->dims, 0, t->data, &im->map[index]);
        if (err) {
            return imp_fail(im, err, "cannot add tensor %s: %s", t->name, mfl_strerror(err));
        }
    }
    *out = im->map[index];
    return 0;
}

/* CalculateActivationRangeQuantized for an int16 output (zero point 0). */
static int act_range16(importer_t *im, int32_t activation, float scale, int32_t *lo, int32_t *hi)
{
    float a = -INFINITY, b = INFINITY;
    switch (activation) {
    case MFL_ACT_NONE: break;
    case MFL_ACT_RELU: a = 0.0f; break;
    case MFL_ACT_RELU6: a = 0.0f, b = 6.0f; break;
    case MFL_ACT_RELU_N1_TO_1: a = -1.0f, b = 1.0f; break;
    default: return imp_fail(im, MFL_ERR_TFLITE_UNSUPPORTED, "fused activation %d is not supported", activation);
    }
    const float qa = isinf(a) ? -32768.0f : roundf(a / scale);
    const float qb = isinf(b) ? 32767.0f : roundf(b / scale);
    *lo = qa > -32768.0f ? (int32_t)qa : -32768;
    *hi = qb < 32767.0f ? (int32_t)qb : 32767;
    return 0;
}

/* TRANSPOSE_CONV's padding as TFLM computes it: ComputePaddingHeightWidth
 * with the *output* size as the "input" of a convolution (stride, filter,
 * dilation 1), whose output size follows from the padding type. */
static int32_t transpose_pad(int32_t padding, int32_t out_size, int32_t filter, int32_t stride)
{
    const int32_t conv_out = padding == TFL_PADDING_SAME ? (out_size + stride - 1) / stride
                                                         : (out_size + stride - filter) / stride;
    const int32_t total = (conv_out - 1) * stride + filter - out_size;
    return total > 0 ? total / 2 : 0;
}

/* TFLM's output-shape input of TRANSPOSE_CONV (ignored by TFLM, which has
 * no dynamic shapes): a constant must name the output's shape; a model
 * input (SEANet's) is kept as an int32 activation that no operator reads,
 * so that the model's inputs stay TFLite's. */
static int shape_input(importer_t *im, const tfl_op_t *op)
{
    const tfl_tensor_t *ts = op->inputs[0] >= 0 ? imp_tensor(im, op->inputs[0]) : NULL;
    const tfl_tensor_t *to = &im->tm->tensors[op->output];
    if (!ts || ts->type != TFL_TYPE_INT32 || ts->rank != 1 || ts->dims[0] != to->rank) {
        return im->err ? im->err : imp_fail(im, MFL_ERR_TFLITE_FORMAT, "the output shape must be int32 [rank]");
    }
    if (ts->data) {
        for (int i = 0; i < to->rank; i++) {
            int32_t v;
            memcpy(&v, ts->data + 4 * i, 4);
            if ((size_t)(4 * to->rank) > ts->data_size || v != to->dims[i]) {
                return imp_fail(im, MFL_ERR_TFLITE_UNSUPPORTED, "the output shape %s differs from output %s",
                                ts->name, to->name);
            }
        }
        return 0;
    }
    if (im->map[op->inputs[0]] == MFL_NONE) {
        int err = mfl_builder_add_tensor(im->b, MFL_TYPE_INT32, 1, ts->dims, 0, NULL, &im->map[op->inputs[0]]);
        if (err) {
            return imp_fail(im, err, "cannot add tensor %s: %s", ts->name, mfl_strerror(err));
        }
    }
    return 0;
}

/* CONV_2D and TRANSPOSE_CONV 16x8 (TFLM's conv and transpose_conv Prepare:
 * PopulateConvolutionQuantizationParams, per channel, in double). The bias
 * must be int64: TFLM runs a 16x8 CONV_2D without one, or with an int32
 * one, on an int32 accumulator, which microfl does not implement. */
static int imp_conv16(importer_t *im, const tfl_op_t *op, int transposed)
{
    const int k_in = transposed ? 2 : 0, k_filter = 1, k_bias = transposed ? 3 : 2;
    uint16_t in, out, filter, bias = MFL_NONE;
    float si, so;
    if (op->n_inputs < k_in + 1 || !op->has_options) {
        return imp_fail(im, MFL_ERR_TFLITE_FORMAT, "inputs or builtin options are missing");
    }
    if (map_typed(im, op->inputs[k_in], TFL_TYPE_INT16, &in, &si) ||
        map_typed(im, op->output, TFL_TYPE_INT16, &out, &so) ||
        imp_map_const(im, op->inputs[k_filter], MFL_TYPE_INT8, 4, &filter) ||
        (transposed && shape_input(im, op))) {
        return im->err;
    }
    const tfl_tensor_t *ti = &im->tm->tensors[op->inputs[k_in]];
    const tfl_tensor_t *tf = &im->tm->tensors[op->inputs[k_filter]];
    const tfl_tensor_t *to = &im->tm->tensors[op->output];
    const int32_t oc = tf->dims[0];
    if (ti->rank != 4 || to->rank != 4 || tf->dims[3] != ti->dims[3] || to->dims[3] != oc ||
        to->dims[0] != ti->dims[0]) {
        return imp_fail(im, MFL_ERR_TFLITE_UNSUPPORTED, "filter %s does not match input and output channels "
                        "(NHWC, no groups)", tf->name);
    }
    const tfl_tensor_t *tb = op->n_inputs > k_bias && op->inputs[k_bias] >= 0 ? imp_tensor(im, op->inputs[k_bias])
                                                                              : NULL;
    if (tb ? tb->type != TFL_TYPE_INT64 : !transposed) {
        return imp_fail(im, MFL_ERR_TFLITE_UNSUPPORTED,
                        "a 16x8 convolution needs an int64 bias (TFLM's int32-accumulator variant, with an "
                        "int32 bias or none, is not supported)");
    }
    if (tb && (map_const_wide(im, op->inputs[k_bias], TFL_TYPE_INT64, &bias) || tb->rank != 1 || tb->dims[0] != oc)) {
        return im->err ? im->err : imp_fail(im, MFL_ERR_TFLITE_FORMAT, "bias %s does not have %d entries", tb->name, oc);
    }
    if (transposed && op->activation != MFL_ACT_NONE) {
        return imp_fail(im, MFL_ERR_TFLITE_UNSUPPORTED, "a fused activation on TRANSPOSE_CONV is not supported");
    }
    int32_t *w = calloc(8 + 2 * (size_t)oc, sizeof(int32_t));
    if (!w) {
        return imp_fail(im, MFL_ERR_NO_MEMORY, "out of memory");
    }
    w[0] = op->stride_w, w[1] = op->stride_h;
    w[2] = transposed ? 1 : op->dilation_w, w[3] = transposed ? 1 : op->dilation_h;
    int err = 0;
    if (transposed) {
        if (op->stride_w < 1 || op->stride_w > 255 || op->stride_h < 1 || op->stride_h > 255 ||
            (op->padding != TFL_PADDING_SAME && op->padding != TFL_PADDING_VALID)) {
            err = imp_fail(im, MFL_ERR_TFLITE_UNSUPPORTED, "stride %d x %d, padding %d", op->stride_h, op->stride_w,
                           op->padding);
        }
        w[4] = transpose_pad(op->padding, to->dims[2], tf->dims[2], op->stride_w);
        w[5] = transpose_pad(op->padding, to->dims[1], tf->dims[1], op->stride_h);
    } else {
        err = imp_spatial_axis(im, op->padding, ti->dims[2], tf->dims[2], op->stride_w, op->dilation_w,
                               to->dims[2], &w[4]) ||
              imp_spatial_axis(im, op->padding, ti->dims[1], tf->dims[1], op->stride_h, op->dilation_h,
                               to->dims[1], &w[5]);
    }
    err = err || act_range16(im, op->activation, so, &w[6], &w[7]) ||
          imp_requant_words(im, tf, oc, si, so, w + 8, w + 8 + oc);
    for (int32_t c = 0; !err && c < oc; c++) {
        if (w[8 + oc + c] > MFL_S16_SHIFT_MAX) {
            err = imp_fail(im, MFL_ERR_TFLITE_QUANT, "channel %d's scale ratio is 2^%d or more (TFLite's 16x8 "
                           "requantization takes at most 2^7)", c, w[8 + oc + c]);
        }
    }
    if (!err) {
        const uint16_t inputs[3] = {in, filter, bias};
        add_op(im, transposed ? MFL_OP_TRANSPOSE_CONV : MFL_OP_CONV_2D, 3, inputs, out, w, 8 + 2 * (size_t)oc);
    }
    free(w);
    return im->err;
}

/* ADD and SUB, int16 (TFLM's CalculateOpDataAdd / CalculateOpDataSub with
 * left_shift 15): ADD forms its ratios in double, SUB in float (as TFLM's
 * sub_common.cc does), each then QuantizeMultiplierSmallerThanOneExp. */
static int imp_add16(importer_t *im, const tfl_op_t *op, int opcode)
{
    uint16_t inputs[2], out;
    float s[2], so;
    if (op->n_inputs != 2 || map_typed(im, op->output, TFL_TYPE_INT16, &out, &so)) {
        return im->err ? im->err : imp_fail(im, MFL_ERR_TFLITE_FORMAT, "expected two inputs");
    }
    const tfl_tensor_t *to = &im->tm->tensors[op->output];
    for (int k = 0; k < 2; k++) {
        const tfl_tensor_t *t = imp_tensor(im, op->inputs[k]);
        int32_t zp;
        if (!t || (t->data ? map_const_wide(im, op->inputs[k], TFL_TYPE_INT16, &inputs[k])
                           : map_typed(im, op->inputs[k], TFL_TYPE_INT16, &inputs[k], &s[k])) ||
            imp_per_tensor_quant(im, t, &s[k], &zp)) {
            return im->err;
        }
        if (zp != 0 || t->rank > to->rank) {
            return imp_fail(im, MFL_ERR_TFLITE_UNSUPPORTED, "input %s: zero point %d, rank %d", t->name, zp, t->rank);
        }
        for (int i = 1; i <= t->rank; i++) {
            const int32_t d = t->dims[t->rank - i];
            if (d != 1 && d != to->dims[to->rank - i]) {
                return imp_fail(im, MFL_ERR_TFLITE_UNSUPPORTED, "input %s does not broadcast to output %s", t->name,
                                to->name);
            }
        }
    }
    const int left_shift = 15;
    double r1, r2, ro;
    if (opcode == MFL_OP_ADD) {
        const double twice_max = 2.0 * (double)(s[0] > s[1] ? s[0] : s[1]);
        r1 = (double)s[0] / twice_max;
        r2 = (double)s[1] / twice_max;
        ro = twice_max / ((double)(1 << left_shift) * (double)so);
    } else {
        const float twice_max = 2.0f * (s[0] > s[1] ? s[0] : s[1]);
        r1 = (double)(s[0] / twice_max);
        r2 = (double)(s[1] / twice_max);
        ro = (double)(twice_max / ((float)(1 << left_shift) * so));
    }
    int32_t w[9];
    int shifts[3];
    w[0] = left_shift;
    mfl_quant_multiplier_from_real(r1, &w[1], &shifts[0]);
    mfl_quant_multiplier_from_real(r2, &w[3], &shifts[1]);
    mfl_quant_multiplier_from_real(ro, &w[5], &shifts[2]);
    w[2] = shifts[0], w[4] = shifts[1], w[6] = shifts[2];
    if (shifts[0] > 0 || shifts[1] > 0 || shifts[2] > 0 || shifts[2] < MFL_QUANT_SHIFT_MIN) {
        return imp_fail(im, MFL_ERR_TFLITE_QUANT, "output scale %g is out of range for the inputs' scales",
                        (double)so);
    }
    if (!act_range16(im, op->activation, so, &w[7], &w[8])) {
        add_op(im, opcode, 2, inputs, out, w, 9);
    }
    return im->err;
}

/* QUANTIZE int32 -> int16 (TFLM's quantize Prepare: input_scale /
 * output_scale in double, QuantizeMultiplier; Requantize clamps to int16). */
static int imp_quantize16(importer_t *im, const tfl_op_t *op)
{
    uint16_t in, out;
    float si, so;
    if (op->n_inputs != 1 || map_typed(im, op->inputs[0], TFL_TYPE_INT32, &in, &si) ||
        map_typed(im, op->output, TFL_TYPE_INT16, &out, &so)) {
        return im->err ? im->err
                       : imp_fail(im, MFL_ERR_TFLITE_FORMAT, "expected one int32 input (int16 -> int16 is not "
                                  "supported)");
    }
    const tfl_tensor_t *ti = &im->tm->tensors[op->inputs[0]];
    const tfl_tensor_t *to = &im->tm->tensors[op->output];
    int same = ti->rank == to->rank;
    for (int i = 0; same && i < ti->rank; i++) {
        same = ti->dims[i] == to->dims[i];
    }
    int32_t w[4] = {0, 0, -32768, 32767};
    int shift;
    mfl_quant_multiplier_from_real((double)si / (double)so, &w[0], &shift);
    if (!same || shift < MFL_QUANT_SHIFT_MIN || shift > MFL_QUANT_SHIFT_MAX) {
        return imp_fail(im, MFL_ERR_TFLITE_UNSUPPORTED, "input and output shapes differ, or scale ratio %g",
                        (double)si / (double)so);
    }
    w[1] = shift;
    return add_op(im, MFL_OP_QUANTIZE, 1, &in, out, w, 4);
}

int imp_is_s16_op(const importer_t *im, const tfl_op_t *op)
{
    return op->builtin == TFL_OP_TRANSPOSE_CONV ||
           (op->output >= 0 && (uint32_t)op->output < im->tm->n_tensors &&
            im->tm->tensors[op->output].type == TFL_TYPE_INT16);
}

int imp_op_s16(importer_t *im, const tfl_op_t *op)
{
    if (op->output < 0 || (uint32_t)op->output >= im->tm->n_tensors ||
        im->tm->tensors[op->output].type != TFL_TYPE_INT16) {
        return imp_fail(im, MFL_ERR_TFLITE_UNSUPPORTED, "only the 16x8 form (int16 input and output, int8 "
                        "weights) is supported");
    }
    im->s16 = 1;
    switch (op->builtin) {
    case TFL_OP_CONV_2D: imp_conv16(im, op, 0); break;
    case TFL_OP_TRANSPOSE_CONV: imp_conv16(im, op, 1); break;
    case TFL_OP_ADD: imp_add16(im, op, MFL_OP_ADD); break;
    case TFL_OP_SUB: imp_add16(im, op, MFL_OP_SUB); break;
    case TFL_OP_QUANTIZE: imp_quantize16(im, op); break;
    case TFL_OP_LEAKY_RELU:
    case TFL_OP_PAD:
    case TFL_OP_PADV2:
    case TFL_OP_STRIDED_SLICE: {
        /* the int8 imports; both ends must be int16 */
        const tfl_tensor_t *ti = op->n_inputs > 0 ? imp_tensor(im, op->inputs[0]) : NULL;
        if (!ti || ti->type != TFL_TYPE_INT16) {
            imp_fail(im, MFL_ERR_TFLITE_UNSUPPORTED, "the input must be int16 like the output");
        } else if (op->builtin == TFL_OP_LEAKY_RELU) {
            imp_leaky_relu(im, op);
        } else if (op->builtin == TFL_OP_STRIDED_SLICE) {
            imp_strided_slice(im, op);
        } else {
            imp_pad(im, op);
        }
        break;
    }
    default:
        imp_fail(im, MFL_ERR_TFLITE_UNSUPPORTED, "int16 operator not supported; microfl runs int16 (16x8) " S16_OPS);
        break;
    }
    im->s16 = 0;
    return im->err;
}
