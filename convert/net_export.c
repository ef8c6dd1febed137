/*
 * Float network -> int8 microfl model (host only); see net_export.h.
 * The graph: input [1,H,W,C] (pixels - 128: scale 1/255, zero point -128),
 * then per layer CONV_2D / MAX_POOL_2D / (RESHAPE +) FULLY_CONNECTED with
 * fused ReLU, then SOFTMAX.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mfl/host/model_writer.h"
#include "mfl/host/net_export.h"
#include "mfl/host/quant_host.h"

typedef struct {
    mfl_model_builder_t *b;
    const mfl_net_t *net;
    uint16_t t;    /* current activation tensor */
    float scale;   /* its scale */
    int32_t zp;    /* its zero point */
    int32_t dims[4];
    int rank;
} exporter_t;

static int new_activation(exporter_t *x, int rank, const int32_t *dims, float scale, int32_t zp)
{
    uint16_t t;
    int err = mfl_builder_add_tensor(x->b, MFL_TYPE_INT8, rank, dims, zp, NULL, &t);
    if (!err) {
        x->t = t, x->scale = scale, x->zp = zp, x->rank = rank;
        memcpy(x->dims, dims, sizeof(int32_t) * (size_t)rank);
    }
    return err;
}

/* Quantizes weights (channel c at w[c*cs + k*es], k < n), adds weight and
 * bias tensors, fills multipliers/shifts for output scale out_scale. */
static int add_weights(exporter_t *x, const float *w, const float *bias, int channels, int n, size_t cs, size_t es,
                       const int32_t *wdims, int wrank, float out_scale, uint16_t *wt, uint16_t *bt,
                       int32_t *mult, int32_t *shift, double *wscale_out)
{
    const size_t total = (size_t)channels * (size_t)n;
    int8_t *q_ordered = malloc(total);
    float *wf = calloc(total ? total : 1, sizeof(float));
    float *ws = malloc((size_t)channels * sizeof(float));
    int32_t *qb = malloc((size_t)channels * sizeof(int32_t));
    int err = q_ordered && wf && ws && qb ? 0 : MFL_ERR_NO_MEMORY;
    if (!err) {
        /* gather into [channel][k], the order microfl stores, then quantize */
        for (int c = 0; c < channels; c++) {
            for (int k = 0; k < n; k++) {
                wf[(size_t)c * (size_t)n + (size_t)k] = w[(size_t)c * cs + (size_t)k * es];
            }
        }
        mfl_quant_weights_per_channel(wf, channels, n, (size_t)n, 1, q_ordered, ws);
    }
    for (int c = 0; !err && c < channels; c++) {
        qb[c] = mfl_quant_bias(bias[c], x->scale, ws[c]);
        int s;
        mfl_quant_multiplier_from_real((double)x->scale * (double)ws[c] / (double)out_scale, &mult[c], &s);
        shift[c] = s;
        if (wscale_out) {
            wscale_out[c] = ws[c];
        }
    }
    if (!err) {
        err = mfl_builder_add_tensor(x->b, MFL_TYPE_INT8, wrank, wdims, 0, q_ordered, wt);
    }
    if (!err) {
        const int32_t bdims[1] = {channels};
        err = mfl_builder_add_tensor(x->b, MFL_TYPE_INT32, 1, bdims, 0, qb, bt);
    }
    free(q_ordered);
    free(wf);
    free(ws);
    free(qb);
    return err;
}

static int export_conv(exporter_t *x, const mfl_layer_t *l, float lo, float hi)
{
    float out_scale;
    int32_t out_zp;
    mfl_quant_choose_activation(lo, hi, &out_scale, &out_zp);
    const int oc = l->out_c, n = l->kernel * l->kernel * l->in_c;
    int32_t *words = calloc(8 + 2 * (size_t)oc, sizeof(int32_t));
    if (!words) {
        return MFL_ERR_NO_MEMORY;
    }
    const float *w = x->net->params + l->w_off; /* HWIO: channel c at w[c], element k at w[k * oc] */
    const int32_t wdims[4] = {oc, l->kernel, l->kernel, l->in_c};
    uint16_t wt, bt;
    const uint16_t in = x->t;
    int err = add_weights(x, w, x->net->params + l->b_off, oc, n, 1, (size_t)oc, wdims, 4, out_scale, &wt, &bt,
                          words + 8, words + 8 + oc, NULL);
    if (!err) {
        words[0] = words[1] = l->stride;
        words[2] = words[3] = 1;
        words[4] = words[5] = l->pad;
        mfl_quant_activation_range(l->relu ? 1 : 0, out_scale, out_zp, &words[6], &words[7]);
        const int32_t odims[4] = {1, l->out_h, l->out_w, oc};
        err = new_activation(x, 4, odims, out_scale, out_zp);
    }
    if (!err) {
        const uint16_t inputs[3] = {in, wt, bt};
        err = mfl_builder_add_op(x->b, MFL_OP_CONV_2D, 3, inputs, x->t, words, 8 + 2 * (size_t)oc);
    }
    free(words);
    return err;
}

static int export_maxpool(exporter_t *x, const mfl_layer_t *l)
{
    const uint16_t in = x->t;
    const int32_t odims[4] = {1, l->out_h, l->out_w, l->out_c};
    const int32_t words[8] = {2, 2, 2, 2, 0, 0, -128, 127};
    int err = new_activation(x, 4, odims, x->scale, x->zp);
    return err ? err : mfl_builder_add_op(x->b, MFL_OP_MAX_POOL_2D, 1, &in, x->t, words, 8);
}

static int export_dense(exporter_t *x, const mfl_layer_t *l, float lo, float hi, int is_head, double *head_ws)
{
    int err = 0;
    if (x->rank != 2) { /* flatten (NHWC order, as the float network) */
        const uint16_t in = x->t;
        const int32_t fdims[2] = {1, l->in_c};
        err = new_activation(x, 2, fdims, x->scale, x->zp);
        err = err ? err : mfl_builder_add_op(x->b, MFL_OP_RESHAPE, 1, &in, x->t, NULL, 0);
    }
    float out_scale;
    int32_t out_zp;
    mfl_quant_choose_activation(lo, hi, &out_scale, &out_zp);
    const int units = l->out_c;
    int32_t *words = calloc(3 + 2 * (size_t)units, sizeof(int32_t));
    if (!words) {
        return MFL_ERR_NO_MEMORY;
    }
    const int32_t wdims[2] = {units, l->in_c};
    uint16_t wt, bt;
    const uint16_t in = x->t;
    /* [in][out]: unit c at w[c], feature k at w[k * units] */
    err = err ? err : add_weights(x, x->net->params + l->w_off, x->net->params + l->b_off, units, l->in_c, 1,
                                  (size_t)units, wdims, 2, out_scale, &wt, &bt, words + 3, words + 3 + units,
                                  is_head ? head_ws : NULL);
    if (!err) {
        mfl_quant_activation_range(l->relu ? 1 : 0, out_scale, out_zp, &words[0], &words[1]);
        words[2] = units;
        const int32_t odims[2] = {1, units};
        err = new_activation(x, 2, odims, out_scale, out_zp);
    }
    if (!err) {
        const uint16_t inputs[3] = {in, wt, bt};
        err = mfl_builder_add_op(x->b, MFL_OP_FULLY_CONNECTED, 3, inputs, x->t, words, 3 + 2 * (size_t)units);
    }
    free(words);
    return err;
}

static int export_softmax(exporter_t *x)
{
    const uint16_t in = x->t;
    int32_t words[3];
    int left_shift;
    mfl_quant_softmax_params(1.0, (double)x->scale, &words[0], &left_shift, &words[2]);
    words[1] = left_shift;
    int err = new_activation(x, 2, x->dims, 1.0f / 256.0f, -128);
    return err ? err : mfl_builder_add_op(x->b, MFL_OP_SOFTMAX, 1, &in, x->t, words, 3);
}

int mfl_net_export(const mfl_net_t *net, const float *lo, const float *hi, float logit_headroom, uint8_t **image,
                   size_t *size, char *msg, size_t msg_cap)
{
    exporter_t x = {.net = net};
    const mfl_layer_t *last = &net->layers[net->n_layers - 1];
    double *head_ws = malloc((size_t)last->out_c * sizeof(double));
    int err = head_ws ? mfl_builder_new(&x.b) : MFL_ERR_NO_MEMORY;
    const int32_t in_dims[4] = {1, net->in_h, net->in_w, net->in_c};
    err = err ? err : new_activation(&x, 4, in_dims, 1.0f / 255.0f, -128);
    const uint16_t input = x.t;
    float feature_scale = 0.0f;
    for (int i = 0; !err && i < net->n_layers; i++) {
        const mfl_layer_t *l = &net->layers[i];
        const int is_head = i == net->n_layers - 1;
        const float h = is_head ? logit_headroom : 1.0f;
        if (l->kind == MFL_LAYER_CONV) {
            err = export_conv(&x, l, lo[i], hi[i]);
        } else if (l->kind == MFL_LAYER_MAXPOOL) {
            err = export_maxpool(&x, l);
        } else {
            feature_scale = x.scale;
            err = export_dense(&x, l, lo[i] * h, hi[i] * h, is_head, head_ws);
        }
    }
    const float logit_scale = x.scale;
    const uint16_t head = (uint16_t)(mfl_builder_op_count(x.b) - 1);
    err = err ? err : export_softmax(&x);
    err = err ? err : mfl_builder_add_input(x.b, input, MFL_IO_INT8, 1.0f / 255.0f);
    err = err ? err : mfl_builder_add_output(x.b, x.t, MFL_IO_INT8, x.scale); /* SOFTMAX's 1/256 */
    err = err ? err : mfl_builder_set_head(x.b, head, feature_scale, logit_scale, head_ws, last->out_c);
    err = err ? err : mfl_builder_finish(x.b, image, size);
    if (err && msg && msg_cap) {
        snprintf(msg, msg_cap, "cannot export %s: %s", net->arch, mfl_strerror(err));
    }
    mfl_builder_free(x.b);
    free(head_ws);
    return err;
}
