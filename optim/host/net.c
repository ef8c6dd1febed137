/*
 * Float CNN: architecture parsing, initialisation and the forward pass
 * (host only). Layouts: activations HWC; convolution weights HWIO
 * ([ky][kx][in_c][out_c]) and dense weights [in][out], so that the inner
 * loops run over output channels with unit stride (they vectorise without
 * reassociating float sums, which keeps results reproducible).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mfl/error.h"
#include "mfl/host/train.h"
#include "rng.h"

static int arch_error(char *msg, size_t cap, const char *arch, const char *why)
{
    if (msg && cap) {
        snprintf(msg, cap, "architecture '%s': %s", arch, why);
    }
    return MFL_ERR_ARCH;
}

/* Parses one token into layer l (shapes filled later). */
static int parse_token(const char *tok, mfl_layer_t *l, int *units)
{
    char *end;
    memset(l, 0, sizeof(*l));
    if (tok[0] == 'p' && tok[1] == '\0') {
        l->kind = MFL_LAYER_MAXPOOL;
        l->kernel = l->stride = 2;
        return 0;
    }
    if (tok[0] != 'c' && tok[0] != 'd') {
        return -1;
    }
    long n = strtol(tok + 1, &end, 10);
    if (end == tok + 1 || n < 1 || n > 4096) {
        return -1;
    }
    *units = (int)n;
    l->kind = tok[0] == 'c' ? MFL_LAYER_CONV : MFL_LAYER_DENSE;
    l->kernel = l->kind == MFL_LAYER_CONV ? 3 : 1;
    l->stride = 1;
    while (*end && l->kind == MFL_LAYER_CONV) {
        const char key = *end;
        long v = strtol(end + 1, &end, 10);
        if ((key != 'k' && key != 's') || v < 1 || v > 15) {
            return -1;
        }
        *(key == 'k' ? &l->kernel : &l->stride) = (int)v;
    }
    return *end ? -1 : 0;
}

/* Output shape and parameter offsets of layer l given its input shape. */
static int shape_layer(mfl_layer_t *l, int units, int h, int w, int c, size_t *n_params)
{
    l->in_h = h, l->in_w = w, l->in_c = c;
    switch (l->kind) {
    case MFL_LAYER_CONV: {
        l->out_h = (h + l->stride - 1) / l->stride;
        l->out_w = (w + l->stride - 1) / l->stride;
        const int pad_total = (l->out_h - 1) * l->stride + l->kernel - h;
        l->pad = pad_total > 0 ? pad_total / 2 : 0;
        l->out_c = units;
        l->n_weights = (size_t)l->kernel * l->kernel * c * units;
        break;
    }
    case MFL_LAYER_MAXPOOL:
        l->out_h = h / 2, l->out_w = w / 2, l->out_c = c;
        if (l->out_h < 1 || l->out_w < 1) {
            return -1;
        }
        return 0;
    default: /* dense flattens its input */
        l->in_h = l->in_w = 1;
        l->in_c = h * w * c;
        l->out_h = l->out_w = 1;
        l->out_c = units;
        l->n_weights = (size_t)l->in_c * units;
        break;
    }
    l->w_off = *n_params;
    l->b_off = l->w_off + l->n_weights;
    *n_params = l->b_off + (size_t)l->out_c;
    return 0;
}

int mfl_net_create(mfl_net_t *net, const char *arch, int in_h, int in_w, int in_c, char *msg, size_t msg_cap)
{
    memset(net, 0, sizeof(*net));
    if (!arch || strlen(arch) >= MFL_ARCH_MAX || in_h < 1 || in_w < 1 || in_c < 1) {
        return arch_error(msg, msg_cap, arch ? arch : "", "empty, too long, or bad input shape");
    }
    strcpy(net->arch, arch);
    net->in_h = in_h, net->in_w = in_w, net->in_c = in_c;
    char buf[MFL_ARCH_MAX];
    strcpy(buf, arch);
    int h = in_h, w = in_w, c = in_c;
    for (char *tok = buf, *next; tok; tok = next) {
        next = strchr(tok, ',');
        if (next) {
            *next++ = '\0';
        }
        if (net->n_layers == MFL_NET_MAX_LAYERS) {
            return arch_error(msg, msg_cap, arch, "too many layers");
        }
        mfl_layer_t *l = &net->layers[net->n_layers];
        int units = 0;
        if (parse_token(tok, l, &units) != 0) {
            return arch_error(msg, msg_cap, arch, "a layer is not cN[kK][sS], p or dN");
        }
        if (net->n_layers && net->layers[net->n_layers - 1].kind == MFL_LAYER_DENSE && l->kind != MFL_LAYER_DENSE) {
            return arch_error(msg, msg_cap, arch, "only dense layers may follow a dense layer");
        }
        if (shape_layer(l, units, h, w, c, &net->n_params) != 0) {
            return arch_error(msg, msg_cap, arch, "pooling below 1x1");
        }
        l->relu = l->kind != MFL_LAYER_MAXPOOL;
        h = l->out_h, w = l->out_w, c = l->out_c;
        net->n_layers++;
    }
    if (net->n_layers < 2 || net->layers[net->n_layers - 1].kind != MFL_LAYER_DENSE) {
        return arch_error(msg, msg_cap, arch, "needs at least two layers and must end with a dense layer");
    }
    net->layers[net->n_layers - 1].relu = 0; /* logits */
    net->params = calloc(net->n_params, sizeof(float));
    return net->params ? 0 : MFL_ERR_NO_MEMORY;
}

void mfl_net_free(mfl_net_t *net)
{
    if (net) {
        free(net->params);
        net->params = NULL;
    }
}

void mfl_net_init(mfl_net_t *net, uint64_t seed)
{
    uint64_t rng = seed;
    for (int i = 0; i < net->n_layers; i++) {
        const mfl_layer_t *l = &net->layers[i];
        if (l->kind == MFL_LAYER_MAXPOOL) {
            continue;
        }
        const int fan_in = l->kind == MFL_LAYER_CONV ? l->kernel * l->kernel * l->in_c : l->in_c;
        const double limit = sqrt(6.0 / fan_in);
        for (size_t k = 0; k < l->n_weights; k++) {
            net->params[l->w_off + k] = (float)((2.0 * mfl_rng_uniform(&rng) - 1.0) * limit);
        }
        memset(net->params + l->b_off, 0, (size_t)l->out_c * sizeof(float));
    }
}

size_t mfl_net_max_activation(const mfl_net_t *net)
{
    size_t m = (size_t)net->in_h * net->in_w * net->in_c;
    for (int i = 0; i < net->n_layers; i++) {
        const mfl_layer_t *l = &net->layers[i];
        const size_t n = (size_t)l->out_h * l->out_w * l->out_c;
        m = n > m ? n : m;
    }
    return m;
}

static void conv_forward(const mfl_layer_t *l, const float *w, const float *b, const float *in, float *out)
{
    const int oc_n = l->out_c;
    for (int oy = 0; oy < l->out_h; oy++) {
        for (int ox = 0; ox < l->out_w; ox++) {
            float *o = out + ((size_t)oy * l->out_w + ox) * oc_n;
            memcpy(o, b, (size_t)oc_n * sizeof(float));
            for (int ky = 0; ky < l->kernel; ky++) {
                const int iy = oy * l->stride - l->pad + ky;
                if (iy < 0 || iy >= l->in_h) {
                    continue;
                }
                for (int kx = 0; kx < l->kernel; kx++) {
                    const int ix = ox * l->stride - l->pad + kx;
                    if (ix < 0 || ix >= l->in_w) {
                        continue;
                    }
                    const float *ip = in + ((size_t)iy * l->in_w + ix) * l->in_c;
                    const float *wp = w + ((size_t)ky * l->kernel + kx) * l->in_c * oc_n;
                    for (int ic = 0; ic < l->in_c; ic++) {
                        const float v = ip[ic];
                        const float *wr = wp + (size_t)ic * oc_n;
                        for (int oc = 0; oc < oc_n; oc++) {
                            o[oc] += v * wr[oc];
                        }
                    }
                }
            }
        }
    }
}

static void maxpool_forward(const mfl_layer_t *l, const float *in, float *out)
{
    for (int oy = 0; oy < l->out_h; oy++) {
        for (int ox = 0; ox < l->out_w; ox++) {
            for (int c = 0; c < l->out_c; c++) {
                float m = -INFINITY;
                for (int dy = 0; dy < 2; dy++) {
                    for (int dx = 0; dx < 2; dx++) {
                        const float v = in[((size_t)(2 * oy + dy) * l->in_w + 2 * ox + dx) * l->in_c + c];
                        m = v > m ? v : m;
                    }
                }
                out[((size_t)oy * l->out_w + ox) * l->out_c + c] = m;
            }
        }
    }
}

static void dense_forward(const mfl_layer_t *l, const float *w, const float *b, const float *in, float *out)
{
    memcpy(out, b, (size_t)l->out_c * sizeof(float));
    for (int i = 0; i < l->in_c; i++) {
        const float v = in[i];
        if (v == 0.0f) {
            continue; /* ReLU zeros are common and contribute nothing */
        }
        const float *wr = w + (size_t)i * l->out_c;
        for (int o = 0; o < l->out_c; o++) {
            out[o] += v * wr[o];
        }
    }
}

const float *mfl_net_forward(const mfl_net_t *net, const float *input, float **acts)
{
    const float *in = input;
    for (int i = 0; i < net->n_layers; i++) {
        const mfl_layer_t *l = &net->layers[i];
        const float *w = net->params + l->w_off, *b = net->params + l->b_off;
        float *out = acts[i];
        if (l->kind == MFL_LAYER_CONV) {
            conv_forward(l, w, b, in, out);
        } else if (l->kind == MFL_LAYER_MAXPOOL) {
            maxpool_forward(l, in, out);
        } else {
            dense_forward(l, w, b, in, out);
        }
        if (l->relu) {
            const size_t n = (size_t)l->out_h * l->out_w * l->out_c;
            for (size_t k = 0; k < n; k++) {
                out[k] = out[k] > 0.0f ? out[k] : 0.0f;
            }
        }
        in = out;
    }
    return in;
}

int mfl_net_predict(const mfl_net_t *net, const uint8_t *pixels, float *work)
{
    /* work: (n_layers + 1) x max_activation floats */
    const size_t stride = mfl_net_max_activation(net);
    float *acts[MFL_NET_MAX_LAYERS];
    const size_t n_in = (size_t)net->in_h * net->in_w * net->in_c;
    for (size_t k = 0; k < n_in; k++) {
        work[k] = pixels[k] / 255.0f;
    }
    for (int i = 0; i < net->n_layers; i++) {
        acts[i] = work + (size_t)(i + 1) * stride;
    }
    const float *logits = mfl_net_forward(net, work, acts);
    int best = 0;
    for (int c = 1; c < mfl_net_classes(net); c++) {
        best = logits[c] > logits[best] ? c : best;
    }
    return best;
}

double mfl_net_accuracy(const mfl_net_t *net, const mfl_dataset_t *ds)
{
    float *work = malloc((size_t)(net->n_layers + 1) * mfl_net_max_activation(net) * sizeof(float));
    if (!work || ds->n == 0) {
        free(work);
        return 0.0;
    }
    const size_t image = (size_t)ds->rows * ds->cols;
    size_t correct = 0;
    for (uint32_t i = 0; i < ds->n; i++) {
        correct += mfl_net_predict(net, ds->images + i * image, work) == ds->labels[i];
    }
    free(work);
    return (double)correct / ds->n;
}
