/*
 * Per-operator translation of TFLite operators into microfl operator records
 * with integer parameters. Each function mirrors the Prepare step of the
 * corresponding TFLM kernel.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mfl/host/quant_host.h"
#include "mfl/kernels.h"
#include "mfl/quant.h"
#include "tflite_import_internal.h"



static int add_op(importer_t *im, int opcode, int n_inputs, const uint16_t *inputs, uint16_t output,
                  const int32_t *params, size_t n_params)
{
    int err = mfl_builder_add_op(im->b, opcode, n_inputs, inputs, output, params, n_params);
    return err ? imp_fail(im, err, "cannot add operator: %s", mfl_strerror(err)) : 0;
}

/* Maps input 0 and the output, and fetches their quantization. */
static int map_io(importer_t *im, const tfl_op_t *op, uint16_t *in, uint16_t *out, float *in_scale,
                  float *out_scale)
{
    int32_t zp;
    if (op->n_inputs < 1 || imp_map_activation(im, op->inputs[0], in) ||
        imp_map_activation(im, op->output, out) ||
        imp_per_tensor_quant(im, &im->tm->tensors[op->inputs[0]], in_scale, &zp) ||
        imp_per_tensor_quant(im, &im->tm->tensors[op->output], out_scale, &zp)) {
        return im->err ? im->err : imp_fail(im, MFL_ERR_TFLITE_FORMAT, "operator has no inputs");
    }
    return 0;
}

static int require_options(importer_t *im, const tfl_op_t *op)
{
    return op->has_options ? 0 : imp_fail(im, MFL_ERR_TFLITE_FORMAT, "builtin options are missing");
}

int imp_conv(importer_t *im, const tfl_op_t *op, int depthwise)
{
    uint16_t in, out, filter, bias;
    float in_scale, out_scale;
    if (op->n_inputs < 2 || require_options(im, op) || map_io(im, op, &in, &out, &in_scale, &out_scale) ||
        imp_map_const(im, op->inputs[1], MFL_TYPE_INT8, 4, &filter)) {
        return im->err ? im->err : imp_fail(im, MFL_ERR_TFLITE_FORMAT, "missing filter input");
    }
    const tfl_tensor_t *ti = &im->tm->tensors[op->inputs[0]];
    const tfl_tensor_t *tf = &im->tm->tensors[op->inputs[1]];
    const tfl_tensor_t *to = &im->tm->tensors[op->output];
    if (ti->rank != 4 || to->rank != 4) {
        return imp_fail(im, MFL_ERR_TFLITE_UNSUPPORTED, "input and output must be NHWC (rank 4)");
    }
    const int32_t channels = depthwise ? tf->dims[3] : tf->dims[0];
    const int ok = depthwise ? (tf->dims[0] == 1 && channels % ti->dims[3] == 0)
                             : tf->dims[3] == ti->dims[3];
    if (!ok || to->dims[3] != channels) {
        return imp_fail(im, MFL_ERR_TFLITE_UNSUPPORTED, "filter %s does not match input and output channels "
                        "(grouped convolutions are not supported)", tf->name);
    }
    int32_t *w = calloc(8 + 2 * (size_t)channels, sizeof(int32_t));
    if (!w) {
        return imp_fail(im, MFL_ERR_NO_MEMORY, "out of memory");
    }
    w[0] = op->stride_w, w[1] = op->stride_h, w[2] = op->dilation_w, w[3] = op->dilation_h;
    if (!imp_optional_bias(im, op, channels, &bias) &&
        !imp_spatial_axis(im, op->padding, ti->dims[2], tf->dims[2], op->stride_w, op->dilation_w, to->dims[2],
                          &w[4]) &&
        !imp_spatial_axis(im, op->padding, ti->dims[1], tf->dims[1], op->stride_h, op->dilation_h, to->dims[1],
                          &w[5]) &&
        !imp_activation_range(im, op->activation, op->output, &w[6], &w[7]) &&
        !imp_requant_words(im, tf, channels, in_scale, out_scale, w + 8, w + 8 + channels)) {
        const uint16_t inputs[3] = {in, filter, bias};
        add_op(im, depthwise ? MFL_OP_DEPTHWISE_CONV_2D : MFL_OP_CONV_2D, 3, inputs, out, w,
               8 + 2 * (size_t)channels);
    }
    free(w);
    return im->err;
}

int imp_fully_connected(importer_t *im, const tfl_op_t *op)
{
    uint16_t in, out, weights, bias;
    float in_scale, out_scale;
    if (op->n_inputs < 2 || map_io(im, op, &in, &out, &in_scale, &out_scale) ||
        imp_map_const(im, op->inputs[1], MFL_TYPE_INT8, 2, &weights)) {
        return im->err ? im->err : imp_fail(im, MFL_ERR_TFLITE_FORMAT, "missing weights input");
    }
    if (op->weights_format != 0) {
        return imp_fail(im, MFL_ERR_TFLITE_UNSUPPORTED, "shuffled weights format %d", op->weights_format);
    }
    const tfl_tensor_t *tw = &im->tm->tensors[op->inputs[1]];
    const int32_t units = tw->dims[0];
    const int32_t n_mult = tw->n_scales > 1 ? units : 1;
    int32_t *w = calloc(3 + 2 * (size_t)n_mult, sizeof(int32_t));
    if (!w) {
        return imp_fail(im, MFL_ERR_NO_MEMORY, "out of memory");
    }
    w[2] = n_mult;
    if (!imp_optional_bias(im, op, units, &bias) &&
        !imp_activation_range(im, op->activation, op->output, &w[0], &w[1]) &&
        !imp_requant_words(im, tw, n_mult, in_scale, out_scale, w + 3, w + 3 + n_mult)) {
        const uint16_t inputs[3] = {in, weights, bias};
        add_op(im, MFL_OP_FULLY_CONNECTED, 3, inputs, out, w, 3 + 2 * (size_t)n_mult);
    }
    free(w);
    return im->err;
}

/* Input and output of a data-movement op must share scale and zero point. */
static int same_quant(importer_t *im, int32_t a, int32_t b)
{
    float sa, sb;
    int32_t za, zb;
    if (imp_per_tensor_quant(im, &im->tm->tensors[a], &sa, &za) ||
        imp_per_tensor_quant(im, &im->tm->tensors[b], &sb, &zb)) {
        return im->err;
    }
    if (sa != sb || za != zb) {
        return imp_fail(im, MFL_ERR_TFLITE_UNSUPPORTED, "input and output quantization differ");
    }
    return 0;
}

int imp_pool(importer_t *im, const tfl_op_t *op, int opcode)
{
    uint16_t in, out;
    float in_scale, out_scale;
    if (require_options(im, op) || map_io(im, op, &in, &out, &in_scale, &out_scale) ||
        same_quant(im, op->inputs[0], op->output)) {
        return im->err;
    }
    const tfl_tensor_t *ti = &im->tm->tensors[op->inputs[0]];
    const tfl_tensor_t *to = &im->tm->tensors[op->output];
    if (ti->rank != 4 || to->rank != 4 || ti->dims[3] != to->dims[3]) {
        return imp_fail(im, MFL_ERR_TFLITE_UNSUPPORTED, "input and output must be NHWC with equal channels");
    }
    int32_t w[8] = {op->stride_w, op->stride_h, op->filter_w, op->filter_h, 0, 0, 0, 0};
    if (!imp_spatial_axis(im, op->padding, ti->dims[2], op->filter_w, op->stride_w, 1, to->dims[2], &w[4]) &&
        !imp_spatial_axis(im, op->padding, ti->dims[1], op->filter_h, op->stride_h, 1, to->dims[1], &w[5]) &&
        !imp_activation_range(im, op->activation, op->output, &w[6], &w[7])) {
        add_op(im, opcode, 1, &in, out, w, 8);
    }
    return im->err;
}

int imp_reshape(importer_t *im, const tfl_op_t *op)
{
    uint16_t in, out;
    float in_scale, out_scale;
    if (map_io(im, op, &in, &out, &in_scale, &out_scale) || same_quant(im, op->inputs[0], op->output)) {
        return im->err;
    }
    /* The optional second input (the new shape) is implied by the output. */
    return add_op(im, MFL_OP_RESHAPE, 1, &in, out, NULL, 0);
}

int imp_softmax(importer_t *im, const tfl_op_t *op)
{
    uint16_t in, out;
    float in_scale, out_scale;
    if (require_options(im, op) || map_io(im, op, &in, &out, &in_scale, &out_scale)) {
        return im->err;
    }
    const tfl_tensor_t *to = &im->tm->tensors[op->output];
    if (to->zero_points[0] != -128 || fabsf(out_scale - 1.0f / 256.0f) > 1e-3f / 256.0f) {
        return imp_fail(im, MFL_ERR_TFLITE_QUANT, "int8 softmax output must have scale 1/256, zero point -128");
    }
    if (!(op->beta > 0.0f) || !isfinite(op->beta)) {
        return imp_fail(im, MFL_ERR_TFLITE_UNSUPPORTED, "softmax beta %g", (double)op->beta);
    }
    int32_t w[3];
    int left_shift;
    mfl_quant_softmax_params((double)op->beta, (double)in_scale, &w[0], &left_shift, &w[2]);
    w[1] = left_shift;
    return add_op(im, MFL_OP_SOFTMAX, 1, &in, out, w, 3);
}

/* Element-wise operators of one int8 input: TFLM requires the input and
 * output shapes to match (MatchingFlatSize); the output quantization is
 * fetched for the caller. */
static int map_unary(importer_t *im, const tfl_op_t *op, uint16_t *in, uint16_t *out, float *in_scale,
                     int32_t *in_zp, float *out_scale, int32_t *out_zp)
{
    if (op->n_inputs != 1 || map_io(im, op, in, out, in_scale, out_scale)) {
        return im->err ? im->err : imp_fail(im, MFL_ERR_TFLITE_FORMAT, "expected one input");
    }
    const tfl_tensor_t *ti = &im->tm->tensors[op->inputs[0]];
    const tfl_tensor_t *to = &im->tm->tensors[op->output];
    int same = ti->rank == to->rank;
    for (int i = 0; same && i < ti->rank; i++) {
        same = ti->dims[i] == to->dims[i];
    }
    if (!same) {
        return imp_fail(im, MFL_ERR_TFLITE_FORMAT, "input %s and output %s differ in shape", ti->name, to->name);
    }
    *in_zp = (int32_t)ti->zero_points[0];
    *out_zp = (int32_t)to->zero_points[0];
    return 0;
}

/* A TFLite QuantizeMultiplier result the kernels accept (shift in the
 * kernels' range), or a refusal naming what it is for. */
static int kernel_multiplier(importer_t *im, double real, const char *what, int32_t *mult, int32_t *shift)
{
    int s;
    mfl_quant_multiplier_from_real(real, mult, &s);
    if (s < MFL_QUANT_SHIFT_MIN || s > MFL_QUANT_SHIFT_MAX) {
        return imp_fail(im, MFL_ERR_TFLITE_QUANT, "%s %g is out of range", what, real);
    }
    *shift = s;
    return 0;
}

/* TFLM's RELU (CalculateReluOpData): a requantization by input_scale /
 * output_scale in double, clamped from the output zero point up. */
int imp_relu(importer_t *im, const tfl_op_t *op)
{
    uint16_t in, out;
    float si, so;
    int32_t zi, zo;
    int32_t w[4];
    if (map_unary(im, op, &in, &out, &si, &zi, &so, &zo) ||
        kernel_multiplier(im, (double)si / (double)so, "scale ratio", &w[0], &w[1])) {
        return im->err;
    }
    const int32_t lo = zo + (int32_t)roundf(0.0f / so);
    w[2] = lo > -128 ? lo : -128;
    w[3] = 127;
    return add_op(im, MFL_OP_RELU, 1, &in, out, w, 4);
}

/* TFLM's RELU6 (Relu6Prepare): a clamp of the raw codes between the input
 * zero point and the code of 6.0 in the input quantization, rounded in
 * float as FloatToQuantizedType does. The output quantization is ignored,
 * as TFLM ignores it. */
int imp_relu6(importer_t *im, const tfl_op_t *op)
{
    uint16_t in, out;
    float si, so;
    int32_t zi, zo;
    if (map_unary(im, op, &in, &out, &si, &zi, &so, &zo)) {
        return im->err;
    }
    const float six_over_scale = 6.0f / si;
    const double six = (double)roundf(six_over_scale) + zi;
    const int32_t w[2] = {zi, six > 127.0 ? 127 : (int32_t)six};
    return add_op(im, MFL_OP_RELU6, 1, &in, out, w, 2);
}

/* TFLM's LEAKY_RELU (CalculateOpDataLeakyRelu): both ratios are formed in
 * float (input_scale * alpha / output_scale) before QuantizeMultiplier. */
int imp_leaky_relu(importer_t *im, const tfl_op_t *op)
{
    uint16_t in, out;
    float si, so;
    int32_t zi, zo;
    int32_t w[4];
    if (map_unary(im, op, &in, &out, &si, &zi, &so, &zo)) {
        return im->err;
    }
    if (!isfinite(op->alpha)) {
        return imp_fail(im, MFL_ERR_TFLITE_UNSUPPORTED, "alpha %g", (double)op->alpha);
    }
    const float alpha_ratio = (float)((float)(si * op->alpha) / so);
    const float identity_ratio = (float)(si / so);
    if (kernel_multiplier(im, (double)identity_ratio, "scale ratio", &w[0], &w[1]) ||
        kernel_multiplier(im, (double)alpha_ratio, "alpha times the scale ratio", &w[2], &w[3])) {
        return im->err;
    }
    return add_op(im, MFL_OP_LEAKY_RELU, 1, &in, out, w, 4);
}

/* TFLM's int8 LOGISTIC and TANH Prepare: input_scale * 2^27 split by frexp
 * into a Q31 mantissa (rounded half away, without TFLite's carry check) and
 * a left shift, and CalculateInputRadius(4, shift, 31). */
static int imp_sigmoid(importer_t *im, const tfl_op_t *op, int opcode)
{
    uint16_t in, out;
    float si, so;
    int32_t zi, zo;
    if (map_unary(im, op, &in, &out, &si, &zi, &so, &zo)) {
        return im->err;
    }
    if (opcode == MFL_OP_LOGISTIC && zo != -128) {
        return imp_fail(im, MFL_ERR_TFLITE_QUANT, "int8 LOGISTIC needs output zero point -128 (TFLM), not %d", zo);
    }
    int shift = 0;
    const double q = frexp((double)si * (double)(1 << 27), &shift);
    const double m = round(q * 2147483648.0);
    if (m >= 2147483648.0 || shift < 0) {
        return imp_fail(im, MFL_ERR_TFLITE_QUANT, "input scale %g is outside what TFLM's kernel handles",
                        (double)si);
    }
    const double radius = floor(15.0 * 134217728.0 / ldexp(1.0, shift));
    const int32_t w[3] = {(int32_t)m, shift > 31 ? 31 : shift, (int32_t)radius};
    return add_op(im, opcode, 1, &in, out, w, 3);
}

int imp_logistic(importer_t *im, const tfl_op_t *op)
{
    return imp_sigmoid(im, op, MFL_OP_LOGISTIC);
}

int imp_tanh(importer_t *im, const tfl_op_t *op)
{
    return imp_sigmoid(im, op, MFL_OP_TANH);
}

/* TFLite's DownScaleInt32ToInt16Multiplier: a Q31 multiplier to Q15,
 * rounded, saturating at 32767. */
static int32_t q31_to_q15(int32_t m)
{
    return m >= INT32_MAX - (1 << 15) ? 32767 : (m + (1 << 15)) >> 16;
}

/* TFLM's HardSwishPrepare: float ratios of the "high-resolution" input
 * scale (input_scale / 128) to the reluish scale (3 / 32768) and to the
 * output scale, each as a Q15 multiplier and an exponent. */
int imp_hard_swish(importer_t *im, const tfl_op_t *op)
{
    uint16_t in, out;
    float si, so;
    int32_t zi, zo;
    if (map_unary(im, op, &in, &out, &si, &zi, &so, &zo)) {
        return im->err;
    }
    const float hires_scale = (1.0f / 128.0f) * si;
    const float reluish_scale = 3.0f / 32768.0f;
    const float output_ratio = hires_scale / so;
    const float reluish_ratio = hires_scale / reluish_scale;
    int32_t m_out, m_rel;
    int e_out, e_rel;
    mfl_quant_multiplier_from_real((double)output_ratio, &m_out, &e_out);
    mfl_quant_multiplier_from_real((double)reluish_ratio, &m_rel, &e_rel);
    if (e_out > 0 || e_out < -15 || e_rel < -15 || e_rel > 30) {
        return imp_fail(im, MFL_ERR_TFLITE_QUANT,
                        "scales %g (input) and %g (output) are outside what TFLM's kernel handles", (double)si,
                        (double)so);
    }
    const int32_t w[4] = {q31_to_q15(m_rel), e_rel, q31_to_q15(m_out), e_out};
    return add_op(im, MFL_OP_HARD_SWISH, 1, &in, out, w, 4);
}

/* QUANTIZE int8 -> int8 (TFLM's Requantize): input_scale / output_scale in
 * double, clamped to the int8 range. Float inputs and outputs are refused
 * here (the model's edges). */
int imp_quantize(importer_t *im, const tfl_op_t *op)
{
    uint16_t in, out;
    float si, so;
    int32_t zi, zo;
    int32_t w[4] = {0, 0, -128, 127};
    if (map_unary(im, op, &in, &out, &si, &zi, &so, &zo) ||
        kernel_multiplier(im, (double)si / (double)so, "scale ratio", &w[0], &w[1])) {
        return im->err;
    }
    return add_op(im, MFL_OP_QUANTIZE, 1, &in, out, w, 4);
}

/* Operator input k: a constant int32 vector of 1 .. max entries, copied
 * out (the file gives no alignment). */
static int const_i32_vector(importer_t *im, const tfl_op_t *op, int k, int32_t *dst, int max, int *n)
{
    const tfl_tensor_t *t = op->n_inputs > k && op->inputs[k] >= 0 ? imp_tensor(im, op->inputs[k]) : NULL;
    if (!t) {
        return im->err ? im->err : imp_fail(im, MFL_ERR_TFLITE_FORMAT, "input %d is missing", k);
    }
    int64_t elements = 1;
    for (int i = 0; i < t->rank; i++) {
        elements *= t->dims[i];
    }
    if (t->type != TFL_TYPE_INT32 || !t->data || elements < 1 || elements > max ||
        t->data_size != (size_t)elements * 4) {
        return imp_fail(im, MFL_ERR_TFLITE_UNSUPPORTED, "input %s must be a constant int32 tensor of 1 to %d values",
                        t->name, max);
    }
    memcpy(dst, t->data, (size_t)elements * 4);
    *n = (int)elements;
    return 0;
}

/* A TFLite tensor's shape right-aligned to four dimensions. */
static void tfl_dims4(const tfl_tensor_t *t, int32_t d[4])
{
    for (int i = 0; i < 4; i++) {
        d[i] = i < 4 - t->rank ? 1 : t->dims[i - (4 - t->rank)];
    }
}

/* PAD and PADV2 (TFLM's Pad): paddings a constant int32 [rank, 2], pad
 * value the output zero point or PADV2's constant (which TFLM requires in
 * the output's quantization). Codes are copied as TFLM copies them. */
int imp_pad(importer_t *im, const tfl_op_t *op)
{
    uint16_t in, out;
    float si, so;
    int32_t pads[8], w[9];
    int n;
    if (op->n_inputs < 2 || map_io(im, op, &in, &out, &si, &so) || const_i32_vector(im, op, 1, pads, 8, &n)) {
        return im->err ? im->err : imp_fail(im, MFL_ERR_TFLITE_FORMAT, "PAD needs its paddings");
    }
    const tfl_tensor_t *ti = &im->tm->tensors[op->inputs[0]];
    const tfl_tensor_t *to = &im->tm->tensors[op->output];
    if (n != 2 * ti->rank || to->rank != ti->rank) {
        return imp_fail(im, MFL_ERR_TFLITE_FORMAT, "paddings of %d values for rank %d", n, ti->rank);
    }
    int32_t pad_value = (int32_t)to->zero_points[0];
    if (op->n_inputs > 2 && op->inputs[2] >= 0) {
        const tfl_tensor_t *tc = imp_tensor(im, op->inputs[2]);
        if (!tc || tc->type != TFL_TYPE_INT8 || !tc->data || tc->data_size != 1 || tc->n_scales < 1 ||
            tc->n_zero_points < 1 || tc->scales[0] != so || tc->zero_points[0] != to->zero_points[0]) {
            return im->err ? im->err
                           : imp_fail(im, MFL_ERR_TFLITE_UNSUPPORTED,
                                      "the pad value must be one int8 constant in the output's quantization");
        }
        pad_value = (int8_t)tc->data[0];
    }
    int32_t di[4], d_out[4];
    tfl_dims4(ti, di);
    tfl_dims4(to, d_out);
    for (int i = 0; i < 4; i++) {
        const int k = i - (4 - ti->rank); /* TFLite axis, or < 0 for a padded one */
        w[i] = k < 0 ? 0 : pads[2 * k];
        w[4 + i] = k < 0 ? 0 : pads[2 * k + 1];
        if (w[i] < 0 || w[4 + i] < 0 || (int64_t)w[i] + di[i] + w[4 + i] != d_out[i]) {
            return imp_fail(im, MFL_ERR_TFLITE_UNSUPPORTED, "paddings %d, %d of axis %d do not make %d from %d", w[i],
                            w[4 + i], k, d_out[i], di[i]);
        }
    }
    w[8] = pad_value;
    return add_op(im, MFL_OP_PAD, 1, &in, out, w, 9);
}

/* MEAN over H and W of an NHWC tensor, keep_dims or not (TFLM's int8 mean
 * is QuantizedMeanOrSum): the ratio of scales as TFLite's multiplier, then
 * divided by the count H x W as TFLM does it, in integers: multiplier *
 * 2^s / count truncated and the shift lowered by s = floor(log2(count)),
 * capped at 32 and at 31 + shift. */
int imp_mean(importer_t *im, const tfl_op_t *op)
{
    uint16_t in, out;
    float si, so;
    int32_t axes[4], w[4] = {0, 0, -128, 127};
    int n;
    if (op->n_inputs != 2 || map_io(im, op, &in, &out, &si, &so) || const_i32_vector(im, op, 1, axes, 4, &n)) {
        return im->err ? im->err : imp_fail(im, MFL_ERR_TFLITE_FORMAT, "MEAN needs its axes");
    }
    const tfl_tensor_t *ti = &im->tm->tensors[op->inputs[0]];
    unsigned mask = 0;
    for (int i = 0; i < n; i++) {
        const int32_t a = axes[i] < 0 ? axes[i] + ti->rank : axes[i];
        mask |= a >= 0 && a < 8 ? 1u << a : 256u;
    }
    if (ti->rank != 4 || mask != 6u) {
        return imp_fail(im, MFL_ERR_TFLITE_UNSUPPORTED, "only the mean over H and W of an NHWC tensor (axes 1, 2)");
    }
    const int64_t count = (int64_t)ti->dims[1] * ti->dims[2];
    if (count > MFL_MEAN_MAX_COUNT) {
        return imp_fail(im, MFL_ERR_TFLITE_UNSUPPORTED, "a mean over %lld elements", (long long)count);
    }
    int32_t m = 0, s = 0;
    if (kernel_multiplier(im, (double)si / (double)so, "scale ratio", &m, &s)) {
        return im->err;
    }
    int bits = 0;
    while ((count >> (bits + 1)) != 0) {
        bits++;
    }
    bits = bits < 32 ? bits : 32;
    bits = bits < 31 + s ? bits : 31 + s;
    w[0] = (int32_t)(((int64_t)m << bits) / count);
    w[1] = s - bits;
    return add_op(im, MFL_OP_MEAN, 1, &in, out, w, 4);
}

/* TFLM's StridedSliceStartForAxis and StridedSliceEndForAxis, and the
 * number of indices its loop visits. */
static int32_t slice_axis(const tfl_op_t *op, int axis, int32_t size, int32_t begin, int32_t end, int32_t stride,
                          int32_t *start)
{
    int32_t s = begin < 0 ? begin + size : begin;
    s = stride > 0 ? (s < 0 ? 0 : s > size ? size : s) : (s < -1 ? -1 : s > size - 1 ? size - 1 : s);
    if (op->begin_mask & (1 << axis)) {
        s = stride > 0 ? 0 : size - 1;
    }
    int32_t e;
    if (op->shrink_axis_mask & (1 << axis)) {
        e = s >= size ? s : s + 1;
    } else {
        e = op->offset ? end + s : end;
        e = e < 0 ? e + size : e;
        e = stride > 0 ? (e < 0 ? 0 : e > size ? size : e) : (e < -1 ? -1 : e > size - 1 ? size - 1 : e);
        if (op->end_mask & (1 << axis)) {
            e = stride > 0 ? size : -1;
        }
    }
    *start = s;
    const int64_t span = stride > 0 ? (int64_t)e - s : (int64_t)s - e;
    const int64_t step = stride > 0 ? stride : -(int64_t)stride;
    return span <= 0 ? 0 : (int32_t)((span + step - 1) / step);
}

int imp_strided_slice(importer_t *im, const tfl_op_t *op)
{
    uint16_t in, out;
    float si, so;
    int32_t begin[4], end[4], strides[4];
    int nb, ne, ns;
    if (op->n_inputs != 4 || require_options(im, op) || map_io(im, op, &in, &out, &si, &so) ||
        const_i32_vector(im, op, 1, begin, 4, &nb) || const_i32_vector(im, op, 2, end, 4, &ne) ||
        const_i32_vector(im, op, 3, strides, 4, &ns)) {
        return im->err ? im->err : imp_fail(im, MFL_ERR_TFLITE_FORMAT, "STRIDED_SLICE needs begin, end and strides");
    }
    const tfl_tensor_t *ti = &im->tm->tensors[op->inputs[0]];
    if (nb != ti->rank || ne != ti->rank || ns != ti->rank) {
        return imp_fail(im, MFL_ERR_TFLITE_FORMAT, "begin, end and strides must have one value per axis");
    }
    if (op->ellipsis_mask || op->new_axis_mask) {
        return imp_fail(im, MFL_ERR_TFLITE_UNSUPPORTED, "ellipsis_mask and new_axis_mask are not supported (TFLM)");
    }
    int32_t w[12];
    uint64_t elements = 1;
    for (int i = 0; i < 4; i++) {
        const int k = i - (4 - ti->rank);
        w[i] = 0, w[4 + i] = 1, w[8 + i] = 1;
        if (k < 0) {
            continue;
        }
        if (strides[k] == 0 || strides[k] < -65535 || strides[k] > 65535) {
            return imp_fail(im, MFL_ERR_TFLITE_UNSUPPORTED, "stride %d on axis %d", strides[k], k);
        }
        w[4 + i] = strides[k];
        w[8 + i] = slice_axis(op, k, ti->dims[k], begin[k], end[k], strides[k], &w[i]);
        if (w[8 + i] < 1) {
            return imp_fail(im, MFL_ERR_TFLITE_UNSUPPORTED, "axis %d of the slice is empty", k);
        }
        elements *= (uint64_t)w[8 + i];
    }
    const tfl_tensor_t *to = &im->tm->tensors[op->output];
    uint64_t out_elements = 1;
    for (int i = 0; i < to->rank; i++) {
        out_elements *= (uint64_t)to->dims[i];
    }
    if (elements != out_elements) {
        return imp_fail(im, MFL_ERR_TFLITE_FORMAT, "the slice has %llu elements, output %s %llu",
                        (unsigned long long)elements, to->name, (unsigned long long)out_elements);
    }
    return add_op(im, MFL_OP_STRIDED_SLICE, 1, &in, out, w, 12);
}

/* TRANSPOSE (TFLM's Transpose): perm a constant int32 permutation of the
 * input's axes, made four-dimensional with an identity prefix. */
int imp_transpose(importer_t *im, const tfl_op_t *op)
{
    uint16_t in, out;
    float si, so;
    int32_t perm[4], w[4];
    int n;
    if (op->n_inputs != 2 || map_io(im, op, &in, &out, &si, &so) || const_i32_vector(im, op, 1, perm, 4, &n)) {
        return im->err ? im->err : imp_fail(im, MFL_ERR_TFLITE_FORMAT, "TRANSPOSE needs its permutation");
    }
    const tfl_tensor_t *ti = &im->tm->tensors[op->inputs[0]];
    const tfl_tensor_t *to = &im->tm->tensors[op->output];
    const int pad = 4 - ti->rank;
    if (n != ti->rank || to->rank != ti->rank) {
        return imp_fail(im, MFL_ERR_TFLITE_FORMAT, "a permutation of %d axes for rank %d", n, ti->rank);
    }
    unsigned seen = 0;
    for (int i = 0; i < 4; i++) {
        const int32_t p = i < pad ? i : perm[i - pad] + pad;
        if (p < 0 || p > 3 || (seen & (1u << p)) || (i >= pad && (perm[i - pad] < 0 || perm[i - pad] >= ti->rank))) {
            return imp_fail(im, MFL_ERR_TFLITE_FORMAT, "perm is not a permutation of the input's axes");
        }
        seen |= 1u << p;
        w[i] = p;
    }
    int32_t di[4], d_out[4];
    tfl_dims4(ti, di);
    tfl_dims4(to, d_out);
    for (int i = 0; i < 4; i++) {
        if (d_out[i] != di[w[i]]) {
            return imp_fail(im, MFL_ERR_TFLITE_FORMAT, "output %s is not the permuted input", to->name);
        }
    }
    return add_op(im, MFL_OP_TRANSPOSE, 1, &in, out, w, 4);
}

/* Operand k of a binary operator or CONCATENATION: an int8 activation or
 * an int8 constant (a scalar constant becomes a [1] tensor), quantized per
 * tensor; its scale and zero point are fetched. */
static int map_operand(importer_t *im, const tfl_op_t *op, int k, uint16_t *index, float *scale, int32_t *zp)
{
    const tfl_tensor_t *t = op->n_inputs > k ? imp_tensor(im, op->inputs[k]) : NULL;
    if (!t) {
        return im->err ? im->err : imp_fail(im, MFL_ERR_TFLITE_FORMAT, "input %d is missing", k);
    }
    if (imp_per_tensor_quant(im, t, scale, zp)) {
        return im->err;
    }
    if (t->n_scales > 1) {
        return imp_fail(im, MFL_ERR_TFLITE_UNSUPPORTED, "operand %s is quantized per channel", t->name);
    }
    if (!t->data) {
        return imp_map_activation(im, op->inputs[k], index);
    }
    if (t->rank > 0) {
        return imp_map_const(im, op->inputs[k], MFL_TYPE_INT8, t->rank, index);
    }
    if (t->type != TFL_TYPE_INT8 || t->data_size != 1) {
        return imp_fail(im, MFL_ERR_TFLITE_UNSUPPORTED, "scalar %s must be one int8 constant", t->name);
    }
    if (im->map[op->inputs[k]] == MFL_NONE) {
        const int32_t one = 1;
        int err = mfl_builder_add_tensor(im->b, MFL_TYPE_INT8, 1, &one, *zp, t->data, &im->map[op->inputs[k]]);
        if (err) {
            return imp_fail(im, err, "cannot add tensor %s: %s", t->name, mfl_strerror(err));
        }
    }
    *index = im->map[op->inputs[k]];
    return 0;
}

/* "[1,8,8,16]" (TFLite tensors often have no names: shapes say more). */
static const char *shape_text(const tfl_tensor_t *t, char *dst, size_t cap)
{
    size_t n = (size_t)snprintf(dst, cap, "[");
    for (int i = 0; i < t->rank && n < cap; i++) {
        n += (size_t)snprintf(dst + n, cap - n, i ? ",%d" : "%d", t->dims[i]);
    }
    if (n < cap) {
        snprintf(dst + n, cap - n, "]");
    }
    return dst;
}

/* Both operands of ADD, SUB, MUL, MAXIMUM, MINIMUM and the output: TFLite's
 * broadcast (shapes right-aligned; on each axis the sizes agree or one is
 * 1) must give the output's shape. */
static int map_binary(importer_t *im, const tfl_op_t *op, uint16_t inputs[2], uint16_t *out, float s[2],
                      float *out_scale)
{
    int32_t zp;
    if (op->n_inputs != 2) {
        return imp_fail(im, MFL_ERR_TFLITE_FORMAT, "expected two inputs, not %d", op->n_inputs);
    }
    if (map_operand(im, op, 0, &inputs[0], &s[0], &zp) || map_operand(im, op, 1, &inputs[1], &s[1], &zp) ||
        imp_map_activation(im, op->output, out) ||
        imp_per_tensor_quant(im, &im->tm->tensors[op->output], out_scale, &zp)) {
        return im->err;
    }
    const tfl_tensor_t *ta = &im->tm->tensors[op->inputs[0]];
    const tfl_tensor_t *tb = &im->tm->tensors[op->inputs[1]];
    const tfl_tensor_t *to = &im->tm->tensors[op->output];
    const int rank = ta->rank > tb->rank ? ta->rank : tb->rank;
    int ok = to->rank == (rank > 0 ? rank : 1);
    for (int i = 1; ok && i <= to->rank; i++) { /* i-th axis from the right */
        const int32_t a = i <= ta->rank ? ta->dims[ta->rank - i] : 1;
        const int32_t b = i <= tb->rank ? tb->dims[tb->rank - i] : 1;
        ok = (a == b || a == 1 || b == 1) && to->dims[to->rank - i] == (a > b ? a : b);
    }
    if (!ok) {
        char sa[64], sb[64], so[64];
        return imp_fail(im, MFL_ERR_TFLITE_UNSUPPORTED,
                        "inputs of shapes %s and %s do not broadcast to the output's %s", shape_text(ta, sa, sizeof sa),
                        shape_text(tb, sb, sizeof sb), shape_text(to, so, sizeof so));
    }
    return 0;
}

/* TFLM's int8 ADD and SUB (CalculateOpDataAdd, CalculateOpDataSub): inputs
 * rescaled to twice the larger input scale after a left shift of 20 bits,
 * the sum or difference rescaled to the output scale, every multiplier
 * "smaller than one" (TFLM checks the shift). ADD forms the ratios in
 * double; SUB in float (twice the larger scale, each ratio and the output
 * ratio are float quotients, widened to double only for
 * QuantizeMultiplier), as TFLM does. */
static int imp_add_sub(importer_t *im, const tfl_op_t *op, int opcode)
{
    uint16_t inputs[2], out;
    float s[2], so;
    if (map_binary(im, op, inputs, &out, s, &so)) {
        return im->err;
    }
    const int left_shift = 20;
    double real[3];
    if (opcode == MFL_OP_ADD) {
        const double twice_max = 2.0 * (double)(s[0] > s[1] ? s[0] : s[1]);
        real[0] = (double)s[0] / twice_max;
        real[1] = (double)s[1] / twice_max;
        real[2] = twice_max / ((double)(1 << left_shift) * (double)so);
    } else {
        const float twice_max = 2.0f * (s[0] > s[1] ? s[0] : s[1]);
        real[0] = (double)(s[0] / twice_max);
        real[1] = (double)(s[1] / twice_max);
        real[2] = (double)(twice_max / ((float)(1 << left_shift) * so));
    }
    int32_t w[9];
    w[0] = left_shift;
    for (int i = 0; i < 3; i++) {
        int shift;
        mfl_quant_multiplier_from_real(real[i], &w[1 + 2 * i], &shift);
        w[2 + 2 * i] = shift;
        if (shift > 0) {
            /* TFLM's SmallerThanOne rescaling is only defined for shifts <= 0. */
            return imp_fail(im, MFL_ERR_TFLITE_QUANT, "output scale %g too small for the inputs' scales %g, %g",
                            (double)so, (double)s[0], (double)s[1]);
        }
    }
    if (!imp_activation_range(im, op->activation, op->output, &w[7], &w[8])) {
        add_op(im, opcode, 2, inputs, out, w, 9);
    }
    return im->err;
}

int imp_add(importer_t *im, const tfl_op_t *op)
{
    return imp_add_sub(im, op, MFL_OP_ADD);
}

int imp_sub(importer_t *im, const tfl_op_t *op)
{
    return imp_add_sub(im, op, MFL_OP_SUB);
}

/* TFLM's int8 MUL (CalculateOpDataMul): input1_scale * input2_scale /
 * output_scale in double, QuantizeMultiplier; a left shift above 15 could
 * overflow TFLM's int32 product (undefined there) and is refused. */
int imp_mul(importer_t *im, const tfl_op_t *op)
{
    uint16_t inputs[2], out;
    float s[2], so;
    int32_t w[4];
    if (map_binary(im, op, inputs, &out, s, &so) ||
        kernel_multiplier(im, (double)s[0] * (double)s[1] / (double)so, "scale ratio", &w[0], &w[1])) {
        return im->err;
    }
    if (w[1] > MFL_MUL_MAX_SHIFT) {
        return imp_fail(im, MFL_ERR_TFLITE_QUANT, "input scales %g x %g over output scale %g exceed 2^%d",
                        (double)s[0], (double)s[1], (double)so, MFL_MUL_MAX_SHIFT);
    }
    if (!imp_activation_range(im, op->activation, op->output, &w[2], &w[3])) {
        add_op(im, MFL_OP_MUL, 2, inputs, out, w, 4);
    }
    return im->err;
}

/* MAXIMUM and MINIMUM: TFLM compares raw codes and checks no quantization,
 * so none is checked here either. */
int imp_maximum_minimum(importer_t *im, const tfl_op_t *op, int opcode)
{
    uint16_t inputs[2], out;
    float s[2], so;
    if (map_binary(im, op, inputs, &out, s, &so)) {
        return im->err;
    }
    return add_op(im, opcode, 2, inputs, out, NULL, 0);
}

/* TFLM's CONCATENATION: up to 10 inputs of rank <= 4, no fused activation,
 * int8 inputs in the output's scale and zero point (copied); the axis may
 * count from the end. microfl's operator takes three inputs: longer lists
 * are chained through intermediate tensors (concatenating a concatenation
 * along the same axis copies the same bytes to the same places). */
int imp_concatenation(importer_t *im, const tfl_op_t *op)
{
    uint16_t out, ins[TFL_MAX_OP_INPUTS];
    float so, si;
    int32_t zo, zi;
    if (op->n_inputs < 1 || op->n_inputs > 10 || require_options(im, op) ||
        imp_map_activation(im, op->output, &out) ||
        imp_per_tensor_quant(im, &im->tm->tensors[op->output], &so, &zo)) {
        return im->err ? im->err : imp_fail(im, MFL_ERR_TFLITE_UNSUPPORTED, "%d inputs (TFLM takes 1 to 10)",
                                            op->n_inputs);
    }
    if (op->activation != 0) {
        return imp_fail(im, MFL_ERR_TFLITE_UNSUPPORTED, "fused activation %d (TFLM's CONCATENATION takes none)",
                        op->activation);
    }
    const tfl_tensor_t *to = &im->tm->tensors[op->output];
    const int32_t axis = op->axis < 0 ? op->axis + to->rank : op->axis;
    if (axis < 0 || axis >= to->rank) {
        return imp_fail(im, MFL_ERR_TFLITE_FORMAT, "axis %d for rank %d", op->axis, to->rank);
    }
    int64_t along = 0;
    for (int k = 0; k < op->n_inputs; k++) {
        if (map_operand(im, op, k, &ins[k], &si, &zi)) {
            return im->err;
        }
        const tfl_tensor_t *t = &im->tm->tensors[op->inputs[k]];
        if (si != so || zi != zo) {
            return imp_fail(im, MFL_ERR_TFLITE_QUANT,
                            "input %s has scale %g, zero point %d; TFLM requires the output's (%g, %d)",
                            t->name, (double)si, zi, (double)so, zo);
        }
        int same = t->rank == to->rank;
        for (int i = 0; same && i < t->rank; i++) {
            same = i == axis || t->dims[i] == to->dims[i];
        }
        if (!same) {
            return imp_fail(im, MFL_ERR_TFLITE_FORMAT, "input %s does not match %s but on axis %d", t->name,
                            to->name, axis);
        }
        along += t->dims[axis];
    }
    if (along != to->dims[axis]) {
        return imp_fail(im, MFL_ERR_TFLITE_FORMAT, "inputs give %lld on axis %d, output %s has %d",
                        (long long)along, axis, to->name, to->dims[axis]);
    }
    const int32_t w[1] = {axis + 4 - to->rank};
    int32_t dims[4];
    memcpy(dims, to->dims, sizeof dims);
    dims[axis] = 0;
    uint16_t first = ins[0];
    int k = 1;
    int n = op->n_inputs < 3 ? op->n_inputs : 3;
    dims[axis] += im->tm->tensors[op->inputs[0]].dims[axis];
    while (!im->err) {
        uint16_t step_in[3] = {first, MFL_NONE, MFL_NONE};
        for (int j = 1; j < n; j++, k++) {
            step_in[j] = ins[k];
            dims[axis] += im->tm->tensors[op->inputs[k]].dims[axis];
        }
        if (k == op->n_inputs) {
            return add_op(im, MFL_OP_CONCATENATION, n, step_in, out, w, 1);
        }
        uint16_t partial;
        int err = mfl_builder_add_tensor(im->b, MFL_TYPE_INT8, to->rank, dims, zo, NULL, &partial);
        if (err) {
            return imp_fail(im, err, "cannot add a partial concatenation: %s", mfl_strerror(err));
        }
        add_op(im, MFL_OP_CONCATENATION, n, step_in, partial, w, 1);
        first = partial;
        n = op->n_inputs - k + 1 < 3 ? op->n_inputs - k + 1 : 3;
    }
    return im->err;
}
