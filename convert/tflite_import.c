/*
 * .tflite -> microfl model conversion (host only). Reads the flatbuffer with
 * tflite_reader.c, checks that every operator is one microfl runs with the
 * types it supports, and computes each kernel's integer parameters exactly
 * as TensorFlow Lite Micro's Prepare functions do (double precision where
 * TFLM uses double, float where it uses float).
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mfl/host/model_writer.h"
#include "mfl/host/quant_host.h"
#include "mfl/host/tflite_import.h"
#include "tflite_import_internal.h"


int imp_fail(importer_t *im, int err, const char *fmt, ...)
{
    if (im->err) {
        return im->err;
    }
    im->err = err;
    if (im->msg && im->msg_cap) {
        const tfl_op_t *op = im->op_index < im->tm->n_ops ? &im->tm->ops[im->op_index] : NULL;
        int n = op ? snprintf(im->msg, im->msg_cap, "operator %u (%s): ", im->op_index, tfl_op_name(op->builtin))
                   : 0;
        if (n < 0 || (size_t)n >= im->msg_cap) {
            n = 0;
        }
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(im->msg + n, im->msg_cap - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return err;
}

const tfl_tensor_t *imp_tensor(importer_t *im, int32_t index)
{
    if (index < 0 || (uint32_t)index >= im->tm->n_tensors) {
        imp_fail(im, MFL_ERR_TFLITE_FORMAT, "tensor index %d out of range", index);
        return NULL;
    }
    return &im->tm->tensors[index];
}

/* Per-tensor scale and zero point of an int8 activation. */
int imp_per_tensor_quant(importer_t *im, const tfl_tensor_t *t, float *scale, int32_t *zp)
{
    if (t->n_scales < 1 || t->n_zero_points < 1 || !(t->scales[0] > 0.0f) || !isfinite(t->scales[0]) ||
        t->zero_points[0] < -128 || t->zero_points[0] > 127) {
        return imp_fail(im, MFL_ERR_TFLITE_QUANT, "tensor %s lacks a valid int8 scale and zero point", t->name);
    }
    *scale = t->scales[0];
    *zp = (int32_t)t->zero_points[0];
    return 0;
}

int imp_check_rank(importer_t *im, const tfl_tensor_t *t, int min, int max)
{
    if (t->rank < min || t->rank > max) {
        return imp_fail(im, MFL_ERR_TFLITE_UNSUPPORTED, "tensor %s has rank %d (expected %d..%d)", t->name, t->rank,
                    min, max);
    }
    for (int i = 0; i < t->rank; i++) {
        if (t->dims[i] < 1 || t->dims[i] > 65535) {
            return imp_fail(im, MFL_ERR_TFLITE_UNSUPPORTED, "tensor %s has dimension %d", t->name, t->dims[i]);
        }
    }
    return 0;
}

/* Maps an int8 activation tensor (non-constant), creating it on first use. */
int imp_map_activation(importer_t *im, int32_t index, uint16_t *out)
{
    const tfl_tensor_t *t = imp_tensor(im, index);
    if (!t) {
        return im->err;
    }
    /* int16 and int32 activations only inside a 16x8 operator (im->s16) */
    const int wide = im->s16 && (t->type == TFL_TYPE_INT16 || t->type == TFL_TYPE_INT32);
    if (t->type != TFL_TYPE_INT8 && !wide) {
        static const char *const names[] = {"float32", "float16", "int32", "uint8", "int64", "string", "bool",
                                            "int16"}; /* TFLite's TensorType 0 .. 7 */
        const char *type = t->type >= 0 && t->type < 8 ? names[t->type] : "another type";
        return imp_fail(im, MFL_ERR_TFLITE_UNSUPPORTED, "tensor '%s' is not int8 (TFLite type %d: %s)%s", t->name,
                        t->type, type,
                        t->type == TFL_TYPE_INT16 ? " (int16 is taken by the 16x8 operators only: CONV_2D, "
                                                    "TRANSPOSE_CONV, ADD, SUB, LEAKY_RELU, PAD, STRIDED_SLICE, "
                                                    "QUANTIZE from int32)"
                                                  : "");
    }
    if (t->data) {
        return imp_fail(im, MFL_ERR_TFLITE_UNSUPPORTED, "tensor %s is constant where an activation is expected",
                    t->name);
    }
    float scale;
    int32_t zp;
    if (imp_check_rank(im, t, 1, 4) || imp_per_tensor_quant(im, t, &scale, &zp)) {
        return im->err;
    }
    if (wide && zp != 0) {
        return imp_fail(im, MFL_ERR_TFLITE_QUANT, "tensor %s: 16x8 operators need zero point 0, not %d", t->name, zp);
    }
    if (im->map[index] == MFL_NONE) {
        const int type = !wide ? MFL_TYPE_INT8 : t->type == TFL_TYPE_INT16 ? MFL_TYPE_INT16 : MFL_TYPE_INT32;
        int err = mfl_builder_add_tensor(im->b, type, t->rank, t->dims, zp, NULL, &im->map[index]);
        if (err) {
            return imp_fail(im, err, "cannot add tensor %s: %s", t->name, mfl_strerror(err));
        }
    }
    *out = im->map[index];
    return 0;
}

/* Maps a constant tensor of the given microfl type and rank. */
int imp_map_const(importer_t *im, int32_t index, int type, int rank, uint16_t *out)
{
    const tfl_tensor_t *t = imp_tensor(im, index);
    if (!t) {
        return im->err;
    }
    const int tfl_type = type == MFL_TYPE_INT8 ? TFL_TYPE_INT8 : TFL_TYPE_INT32;
    if (t->type != tfl_type || !t->data) {
        return imp_fail(im, MFL_ERR_TFLITE_UNSUPPORTED, "tensor %s must be a constant %s tensor", t->name,
                    type == MFL_TYPE_INT8 ? "int8" : "int32");
    }
    if (imp_check_rank(im, t, rank, rank)) {
        return im->err;
    }
    uint64_t elements = 1;
    for (int i = 0; i < t->rank; i++) {
        elements *= (uint64_t)t->dims[i];
    }
    if (t->data_size != elements * (type == MFL_TYPE_INT8 ? 1u : 4u)) {
        return imp_fail(im, MFL_ERR_TFLITE_FORMAT, "tensor %s holds %zu bytes for %llu elements", t->name,
                    t->data_size, (unsigned long long)elements);
    }
    if (im->map[index] == MFL_NONE) {
        const int32_t zp = t->n_zero_points ? (int32_t)t->zero_points[0] : 0;
        int err = mfl_builder_add_tensor(im->b, type, t->rank, t->dims, zp, t->data, &im->map[index]);
        if (err) {
            return imp_fail(im, err, "cannot add tensor %s: %s", t->name, mfl_strerror(err));
        }
    }
    *out = im->map[index];
    return 0;
}

int imp_optional_bias(importer_t *im, const tfl_op_t *op, int32_t channels, uint16_t *out)
{
    *out = MFL_NONE;
    if (op->n_inputs < 3 || op->inputs[2] < 0) {
        return 0;
    }
    if (imp_map_const(im, op->inputs[2], MFL_TYPE_INT32, 1, out)) {
        return im->err;
    }
    if (im->tm->tensors[op->inputs[2]].dims[0] != channels) {
        return imp_fail(im, MFL_ERR_TFLITE_FORMAT, "bias has %d entries for %d channels",
                    im->tm->tensors[op->inputs[2]].dims[0], channels);
    }
    return 0;
}

int imp_activation_range(importer_t *im, int32_t activation, int32_t out_index, int32_t *lo, int32_t *hi)
{
    float scale = 1.0f;
    int32_t zp = 0;
    if (imp_per_tensor_quant(im, &im->tm->tensors[out_index], &scale, &zp)) {
        return im->err;
    }
    if (mfl_quant_activation_range(activation, scale, zp, lo, hi) != 0) {
        return imp_fail(im, MFL_ERR_TFLITE_UNSUPPORTED, "fused activation %d is not supported", activation);
    }
    return 0;
}

/* Output size and leading padding of one spatial axis (TFLite's
 * ComputeOutSize and ComputePaddingHeightWidth). */
int imp_spatial_axis(importer_t *im, int32_t padding, int32_t in, int32_t filter, int32_t stride,
                        int32_t dilation, int32_t out, int32_t *pad)
{
    if (stride < 1 || stride > 255 || dilation < 1 || dilation > 255 || filter < 1) {
        return imp_fail(im, MFL_ERR_TFLITE_UNSUPPORTED, "stride %d, dilation %d, filter %d", stride, dilation,
                    filter);
    }
    const int32_t effective = (filter - 1) * dilation + 1;
    int32_t expected;
    if (padding == TFL_PADDING_SAME) {
        expected = (in + stride - 1) / stride;
    } else if (padding == TFL_PADDING_VALID) {
        expected = (in + stride - effective) / stride;
    } else {
        return imp_fail(im, MFL_ERR_TFLITE_FORMAT, "unknown padding %d", padding);
    }
    if (expected != out) {
        return imp_fail(im, MFL_ERR_TFLITE_FORMAT, "output size %d, expected %d", out, expected);
    }
    const int32_t p = ((out - 1) * stride + effective - in) / 2;
    *pad = p > 0 ? p : 0;
    return 0;
}

/* Per-channel (or per-tensor) requantization of a weight tensor's channels:
 * real = input_scale * weight_scale[c] / output_scale, in double as TFLM. */
int imp_requant_words(importer_t *im, const tfl_tensor_t *w, int32_t channels, float in_scale,
                         float out_scale, int32_t *mult, int32_t *shift)
{
    if (w->n_scales != 1 && w->n_scales != (uint32_t)channels) {
        return imp_fail(im, MFL_ERR_TFLITE_QUANT, "weights %s have %u scales for %d channels", w->name,
                    w->n_scales, channels);
    }
    for (uint32_t i = 0; i < w->n_zero_points; i++) {
        if (w->zero_points[i] != 0) {
            return imp_fail(im, MFL_ERR_TFLITE_QUANT, "weights %s are not symmetric (zero point %lld)", w->name,
                        (long long)w->zero_points[i]);
        }
    }
    for (int32_t c = 0; c < channels; c++) {
        const float ws = w->scales[w->n_scales == 1 ? 0 : c];
        if (!(ws > 0.0f) || !isfinite(ws)) {
            return imp_fail(im, MFL_ERR_TFLITE_QUANT, "weights %s have scale %g", w->name, (double)ws);
        }
        const double real = (double)in_scale * (double)ws / (double)out_scale;
        int s;
        mfl_quant_multiplier_from_real(real, &mult[c], &s);
        if (s < -31 || s > 30) {
            return imp_fail(im, MFL_ERR_TFLITE_QUANT, "effective scale %g out of range", real);
        }
        shift[c] = s;
    }
    return 0;
}

static int import_op(importer_t *im, const tfl_op_t *op)
{
    if (imp_is_s16_op(im, op)) {
        return imp_op_s16(im, op);
    }
    switch (op->builtin) {
    case TFL_OP_CONV_2D: return imp_conv(im, op, 0);
    case TFL_OP_DEPTHWISE_CONV_2D: return imp_conv(im, op, 1);
    case TFL_OP_FULLY_CONNECTED: return imp_fully_connected(im, op);
    case TFL_OP_AVERAGE_POOL_2D: return imp_pool(im, op, MFL_OP_AVERAGE_POOL_2D);
    case TFL_OP_MAX_POOL_2D: return imp_pool(im, op, MFL_OP_MAX_POOL_2D);
    case TFL_OP_ADD: return imp_add(im, op);
    case TFL_OP_RESHAPE: return imp_reshape(im, op);
    case TFL_OP_SOFTMAX: return imp_softmax(im, op);
    case TFL_OP_RELU: return imp_relu(im, op);
    case TFL_OP_RELU6: return imp_relu6(im, op);
    case TFL_OP_LEAKY_RELU: return imp_leaky_relu(im, op);
    case TFL_OP_LOGISTIC: return imp_logistic(im, op);
    case TFL_OP_TANH: return imp_tanh(im, op);
    case TFL_OP_HARD_SWISH: return imp_hard_swish(im, op);
    case TFL_OP_QUANTIZE: return imp_quantize(im, op);
    case TFL_OP_PAD:
    case TFL_OP_PADV2: return imp_pad(im, op);
    case TFL_OP_MEAN: return imp_mean(im, op);
    case TFL_OP_SQUEEZE:
    case TFL_OP_EXPAND_DIMS: return imp_reshape(im, op);
    case TFL_OP_STRIDED_SLICE: return imp_strided_slice(im, op);
    case TFL_OP_TRANSPOSE: return imp_transpose(im, op);
    case TFL_OP_SUB: return imp_sub(im, op);
    case TFL_OP_MUL: return imp_mul(im, op);
    case TFL_OP_MAXIMUM: return imp_maximum_minimum(im, op, MFL_OP_MAXIMUM);
    case TFL_OP_MINIMUM: return imp_maximum_minimum(im, op, MFL_OP_MINIMUM);
    case TFL_OP_CONCATENATION: return imp_concatenation(im, op);
    default:
        return imp_fail(im, MFL_ERR_TFLITE_UNSUPPORTED,
                    "not supported (builtin code %d); microfl runs CONV_2D, DEPTHWISE_CONV_2D, "
                    "FULLY_CONNECTED, AVERAGE_POOL_2D, MAX_POOL_2D, ADD, RESHAPE, SOFTMAX, RELU, RELU6, "
                    "LEAKY_RELU, LOGISTIC, TANH, HARD_SWISH, QUANTIZE (int8), PAD, PADV2, MEAN (H, W), "
                    "SQUEEZE, EXPAND_DIMS, STRIDED_SLICE, TRANSPOSE, SUB, MUL, MAXIMUM, MINIMUM, "
                    "CONCATENATION",
                    op->builtin);
    }
}

/* TFLite's DEQUANTIZE: only ever taken off a model's output, never imported. */
#define TFL_OP_DEQUANTIZE_ 6

/* The edges of a model converted with float input and output: TFLite's
 * QUANTIZE float32 -> int8 right after a float input, DEQUANTIZE int8 ->
 * float32 right before a float output. The importer takes them off (the
 * device stays integer-only) and records the edge as float32 with the int8
 * tensor's scale, with which the host repeats TFLM's float arithmetic
 * (mfl/host/model_io.h). Float tensors anywhere else are refused, naming
 * the operator at fault. */
typedef struct {
    int32_t tensor; /* TFLite index of the int8 tensor the device exchanges */
    int type;       /* MFL_IO_INT8 or MFL_IO_FLOAT32 */
} edge_t;

/* Model input k (TFLite tensor t): int8 as it is, or float32 into exactly
 * one QUANTIZE to int8, which *skip marks. */
static int input_edge(importer_t *im, int32_t k, int32_t t, uint8_t *skip, edge_t *e)
{
    *e = (edge_t){t, MFL_IO_INT8};
    if (im->tm->tensors[t].type != TFL_TYPE_FLOAT32) {
        return 0;
    }
    uint32_t user = UINT32_MAX, users = 0;
    for (uint32_t i = 0; i < im->tm->n_ops; i++) {
        for (int32_t j = 0; j < im->tm->ops[i].n_inputs; j++) {
            if (im->tm->ops[i].inputs[j] == t) {
                user = users++ ? user : i;
            }
        }
    }
    if (users != 1 || im->tm->ops[user].builtin != TFL_OP_QUANTIZE || im->tm->ops[user].n_inputs != 1) {
        im->op_index = user < im->tm->n_ops ? user : 0;
        return imp_fail(im, MFL_ERR_TFLITE_UNSUPPORTED,
                        "the model's float32 input %d must go into one QUANTIZE (to int8) alone", k);
    }
    const int32_t q = im->tm->ops[user].output;
    if (q < 0 || (uint32_t)q >= im->tm->n_tensors || im->tm->tensors[q].type != TFL_TYPE_INT8) {
        im->op_index = user;
        return imp_fail(im, MFL_ERR_TFLITE_UNSUPPORTED,
                        "the model's float32 input %d is quantized to another type than int8", k);
    }
    skip[user] = 1;
    *e = (edge_t){q, MFL_IO_FLOAT32};
    return 0;
}

/* Model output k (TFLite tensor t): int8 as it is, or float32 made by a
 * DEQUANTIZE of an int8 tensor, which *skip marks. */
static int output_edge(importer_t *im, int32_t k, int32_t t, uint8_t *skip, edge_t *e)
{
    *e = (edge_t){t, MFL_IO_INT8};
    if (im->tm->tensors[t].type != TFL_TYPE_FLOAT32) {
        return 0;
    }
    uint32_t maker = UINT32_MAX;
    for (uint32_t i = 0; i < im->tm->n_ops; i++) {
        maker = im->tm->ops[i].output == t ? i : maker;
    }
    if (maker == UINT32_MAX || im->tm->ops[maker].builtin != TFL_OP_DEQUANTIZE_ ||
        im->tm->ops[maker].n_inputs != 1) {
        im->op_index = maker < im->tm->n_ops ? maker : 0;
        return imp_fail(im, MFL_ERR_TFLITE_UNSUPPORTED,
                        "the model's float32 output %d must come from a DEQUANTIZE (of int8)", k);
    }
    const int32_t d = im->tm->ops[maker].inputs[0];
    if (d < 0 || (uint32_t)d >= im->tm->n_tensors || im->tm->tensors[d].type != TFL_TYPE_INT8) {
        im->op_index = maker;
        return imp_fail(im, MFL_ERR_TFLITE_UNSUPPORTED,
                        "the model's float32 output %d is dequantized from another type than int8", k);
    }
    skip[maker] = 1;
    *e = (edge_t){d, MFL_IO_FLOAT32};
    return 0;
}

/* An edge tensor that no imported operator touched (a model that only
 * quantizes or only dequantizes): mapped here, in the name of its edge op. */
static int map_edge(importer_t *im, const edge_t *e)
{
    if (im->map[e->tensor] != MFL_NONE) {
        return 0;
    }
    uint16_t unused;
    return imp_map_activation(im, e->tensor, &unused);
}

/* An output that is also an input (nothing left between them once the
 * edge ops are off) gets a copy of its own: a RESHAPE to a new tensor, so
 * that every model has an operator and distinct inputs and outputs. */
static int separate_output(importer_t *im, const edge_t *in, int n_in, uint16_t *out)
{
    for (int i = 0; i < n_in; i++) {
        if (im->map[in[i].tensor] == *out) {
            const tfl_tensor_t *t = &im->tm->tensors[in[i].tensor];
            uint16_t copy;
            int err = mfl_builder_add_tensor(im->b, MFL_TYPE_INT8, t->rank, t->dims, (int32_t)t->zero_points[0],
                                             NULL, &copy);
            err = err ? err : mfl_builder_add_op(im->b, MFL_OP_RESHAPE, 1, out, copy, NULL, 0);
            if (err) {
                return imp_fail(im, err, "cannot add the output's copy: %s", mfl_strerror(err));
            }
            *out = copy;
            return 0;
        }
    }
    return 0;
}

/* Marks the last FULLY_CONNECTED (TFLite op tfl_index, microfl op head) as
 * the trainable head, with its scales. */
static int mark_head(importer_t *im, uint32_t tfl_index, uint16_t head)
{
    const tfl_op_t *op = &im->tm->ops[tfl_index];
    const tfl_tensor_t *w = &im->tm->tensors[op->inputs[1]];
    const int units = w->dims[0];
    double *scales = malloc((size_t)units * sizeof(double));
    if (!scales) {
        return MFL_ERR_NO_MEMORY;
    }
    for (int i = 0; i < units; i++) {
        scales[i] = w->scales[w->n_scales == 1 ? 0 : i];
    }
    const int err = mfl_builder_set_head(im->b, head, im->tm->tensors[op->inputs[0]].scales[0],
                                         im->tm->tensors[op->output].scales[0], scales, units);
    free(scales);
    return err;
}

/* Every model input's and output's edge, in order; marks the edge ops. */
static int find_edges(importer_t *im, uint8_t *skip, edge_t *in, edge_t *out)
{
    const tfl_model_t *tm = im->tm;
    for (uint32_t k = 0; k < tm->n_inputs + tm->n_outputs; k++) {
        const int32_t t = k < tm->n_inputs ? tm->inputs[k] : tm->outputs[k - tm->n_inputs];
        if (t < 0 || (uint32_t)t >= tm->n_tensors) {
            return imp_fail(im, MFL_ERR_TFLITE_FORMAT, "the model's input or output index %d is out of range", t);
        }
        if (k < tm->n_inputs ? input_edge(im, (int32_t)k, t, skip, &in[k])
                             : output_edge(im, (int32_t)(k - tm->n_inputs), t, skip, &out[k - tm->n_inputs])) {
            return im->err;
        }
    }
    return 0;
}

/* Declares the imported inputs and outputs, in the model's order, with
 * their edge types and scales. */
static int declare_io(importer_t *im, const edge_t *in, const edge_t *out)
{
    const tfl_model_t *tm = im->tm;
    im->op_index = UINT32_MAX;
    for (uint32_t k = 0; k < tm->n_inputs + tm->n_outputs; k++) {
        if (map_edge(im, k < tm->n_inputs ? &in[k] : &out[k - tm->n_inputs])) {
            return im->err;
        }
    }
    int err = 0;
    for (uint32_t k = 0; k < tm->n_inputs && !err; k++) {
        if (im->map[in[k].tensor] == MFL_NONE) {
            return imp_fail(im, MFL_ERR_TFLITE_UNSUPPORTED, "model input %u is not an int8 operator tensor", k);
        }
        err = mfl_builder_add_input(im->b, im->map[in[k].tensor], in[k].type, tm->tensors[in[k].tensor].scales[0]);
    }
    for (uint32_t k = 0; k < tm->n_outputs && !err; k++) {
        uint16_t t = im->map[out[k].tensor];
        if (t == MFL_NONE) {
            return imp_fail(im, MFL_ERR_TFLITE_UNSUPPORTED, "model output %u is not an int8 operator tensor", k);
        }
        if (separate_output(im, in, (int)tm->n_inputs, &t)) {
            return im->err;
        }
        err = mfl_builder_add_output(im->b, t, out[k].type, tm->tensors[out[k].tensor].scales[0]);
    }
    return err ? imp_fail(im, err, "cannot declare the model's inputs and outputs: %s", mfl_strerror(err)) : 0;
}

static int import_graph(importer_t *im, uint8_t *skip, uint8_t **image, size_t *image_size)
{
    uint16_t head = MFL_NONE;
    uint32_t head_tfl = 0;
    edge_t in_edge[TFL_MAX_IO], out_edge[TFL_MAX_IO];
    if (find_edges(im, skip, in_edge, out_edge)) {
        return im->err;
    }
    for (im->op_index = 0; im->op_index < im->tm->n_ops; im->op_index++) {
        const tfl_op_t *op = &im->tm->ops[im->op_index];
        if (skip[im->op_index]) {
            continue;
        }
        if (import_op(im, op)) {
            return im->err;
        }
        if (op->builtin == TFL_OP_FULLY_CONNECTED) {
            head = (uint16_t)(mfl_builder_op_count(im->b) - 1);
            head_tfl = im->op_index;
        }
    }
    if (declare_io(im, in_edge, out_edge)) {
        return im->err;
    }
    int err = 0;
    if (head != MFL_NONE) {
        err = mark_head(im, head_tfl, head);
    }
    if (!err) {
        err = mfl_builder_finish(im->b, image, image_size);
    }
    return err ? imp_fail(im, err, "cannot write the model: %s", mfl_strerror(err)) : 0;
}

int mfl_tflite_import(const uint8_t *tflite, size_t len, uint8_t **image, size_t *image_size, char *msg,
                      size_t msg_cap)
{
    if (!tflite || !image || !image_size) {
        return MFL_ERR_INVALID_ARG;
    }
    tfl_model_t tm;
    int err = tfl_read(tflite, len, &tm, msg, msg_cap);
    if (err) {
        return err;
    }
    importer_t im = {.tm = &tm, .msg = msg, .msg_cap = msg_cap, .op_index = UINT32_MAX};
    im.map = malloc((tm.n_tensors ? tm.n_tensors : 1) * sizeof(uint16_t));
    uint8_t *skip = calloc(tm.n_ops ? tm.n_ops : 1, 1); /* edge ops taken off */
    err = im.map && skip ? mfl_builder_new(&im.b) : MFL_ERR_NO_MEMORY;
    if (!err) {
        for (uint32_t i = 0; i < tm.n_tensors; i++) {
            im.map[i] = MFL_NONE;
        }
        if (tm.n_tensors > MFL_MAX_TENSORS || tm.n_ops > MFL_MAX_OPS) {
            imp_fail(&im, MFL_ERR_TFLITE_UNSUPPORTED, "%u tensors and %u operators exceed microfl's limits",
                 tm.n_tensors, tm.n_ops);
        } else if (tm.n_ops == 0) {
            imp_fail(&im, MFL_ERR_TFLITE_UNSUPPORTED, "the model has no operators");
        } else {
            import_graph(&im, skip, image, image_size);
        }
        err = im.err;
    }
    mfl_builder_free(im.b);
    free(im.map);
    free(skip);
    tfl_free(&tm);
    return err;
}
