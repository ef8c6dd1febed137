/*
 * Float training (host only): backward pass, softmax cross-entropy, Adam or
 * SGD with momentum, mini-batches split over threads.
 *
 * Determinism: the batch is cut into fixed slices, one per worker; each
 * worker sums its samples' gradients in order into its own buffer, and the
 * buffers are added in worker order. With a fixed slice count
 * (MFL_TRAIN_SLICES, independent of the thread count) the result is the same
 * bit for bit whatever the number of threads.
 *
 * MFL_TRAIN_BIASES (bias-only fine-tuning under a learned head): the
 * backward pass still carries input gradients through every layer, but
 * computes no weight gradients below the last layer, and the optimizer
 * steps only the biases and the last layer's weights, so every other
 * weight keeps its bits. MFL_TRAIN_DENSE and MFL_TRAIN_LAST_CONV train the
 * top of the network only: the backward pass stops at the lowest layer that
 * trains (nothing below it needs a gradient), and every frozen parameter
 * keeps its bits. MFL_TRAIN_ALL steps all parameters as one range, with the
 * same arithmetic in the same order as before the options existed.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mfl/error.h"
#include "mfl/host/train.h"
#include "rng.h"

#define MFL_TRAIN_SLICES 4

typedef struct {
    const mfl_net_t *net;
    const mfl_dataset_t *ds;
    const uint32_t *samples; /* this slice's sample indices */
    size_t n;
    int trainable;           /* which parameters train: layer_trains() */
    float *grad;             /* n_params, zeroed by the worker */
    float *work;             /* input + activations + their gradients */
    double loss;
    size_t correct;
} slice_t;

enum { LAYER_FROZEN, LAYER_BIASES, LAYER_ALL };

static int last_conv(const mfl_net_t *net)
{
    int last = -1;
    for (int i = 0; i < net->n_layers; i++) {
        last = net->layers[i].kind == MFL_LAYER_CONV ? i : last;
    }
    return last;
}

/* What layer i of net trains under `trainable`: nothing, its biases, or
 * every parameter it has. */
static int layer_trains(const mfl_net_t *net, int trainable, int i)
{
    const mfl_layer_t *l = &net->layers[i];
    if (l->kind == MFL_LAYER_MAXPOOL) {
        return LAYER_FROZEN;
    }
    switch (trainable) {
    case MFL_TRAIN_ALL: return LAYER_ALL;
    case MFL_TRAIN_BIASES: return i == net->n_layers - 1 ? LAYER_ALL : LAYER_BIASES;
    case MFL_TRAIN_DENSE: return l->kind == MFL_LAYER_DENSE ? LAYER_ALL : LAYER_FROZEN;
    default: return l->kind == MFL_LAYER_DENSE || i == last_conv(net) ? LAYER_ALL : LAYER_FROZEN;
    }
}

/* The lowest layer that trains anything: the backward pass ends there. */
static int lowest_trained(const mfl_net_t *net, int trainable)
{
    for (int i = 0; i < net->n_layers; i++) {
        if (layer_trains(net, trainable, i) != LAYER_FROZEN) {
            return i;
        }
    }
    return net->n_layers - 1;
}

/* dw (weight gradients) and din (input gradients) may be NULL: not wanted. */
static void conv_backward(const mfl_layer_t *l, const float *w, const float *in, const float *dout, float *dw,
                          float *db, float *din)
{
    const int oc_n = l->out_c;
    if (din) {
        memset(din, 0, (size_t)l->in_h * l->in_w * l->in_c * sizeof(float));
    }
    for (int oy = 0; oy < l->out_h; oy++) {
        for (int ox = 0; ox < l->out_w; ox++) {
            const float *g = dout + ((size_t)oy * l->out_w + ox) * oc_n;
            for (int oc = 0; oc < oc_n; oc++) {
                db[oc] += g[oc];
            }
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
                    const size_t in_pos = ((size_t)iy * l->in_w + ix) * l->in_c;
                    const size_t w_pos = ((size_t)ky * l->kernel + kx) * l->in_c * oc_n;
                    for (int ic = 0; ic < l->in_c; ic++) {
                        if (dw) {
                            const float v = in[in_pos + ic];
                            float *dwr = dw + w_pos + (size_t)ic * oc_n;
                            for (int oc = 0; oc < oc_n; oc++) {
                                dwr[oc] += v * g[oc];
                            }
                        }
                        if (din) {
                            const float *wr = w + w_pos + (size_t)ic * oc_n;
                            float s = 0.0f;
                            for (int oc = 0; oc < oc_n; oc++) {
                                s += wr[oc] * g[oc];
                            }
                            din[in_pos + ic] += s;
                        }
                    }
                }
            }
        }
    }
}

static void maxpool_backward(const mfl_layer_t *l, const float *in, const float *out, const float *dout,
                             float *din)
{
    memset(din, 0, (size_t)l->in_h * l->in_w * l->in_c * sizeof(float));
    for (int oy = 0; oy < l->out_h; oy++) {
        for (int ox = 0; ox < l->out_w; ox++) {
            for (int c = 0; c < l->out_c; c++) {
                const size_t o = ((size_t)oy * l->out_w + ox) * l->out_c + c;
                /* the gradient goes to the first input that holds the maximum */
                int done = 0;
                for (int dy = 0; dy < 2 && !done; dy++) {
                    for (int dx = 0; dx < 2 && !done; dx++) {
                        const size_t i = ((size_t)(2 * oy + dy) * l->in_w + 2 * ox + dx) * l->in_c + c;
                        if (in[i] == out[o]) {
                            din[i] += dout[o];
                            done = 1;
                        }
                    }
                }
            }
        }
    }
}

static void dense_backward(const mfl_layer_t *l, const float *w, const float *in, const float *dout, float *dw,
                           float *db, float *din)
{
    for (int o = 0; o < l->out_c; o++) {
        db[o] += dout[o];
    }
    for (int i = 0; i < l->in_c; i++) {
        const float v = in[i];
        float *dwr = dw + (size_t)i * l->out_c;
        const float *wr = w + (size_t)i * l->out_c;
        if (dw && v != 0.0f) {
            for (int o = 0; o < l->out_c; o++) {
                dwr[o] += v * dout[o];
            }
        }
        if (din) {
            float s = 0.0f;
            for (int o = 0; o < l->out_c; o++) {
                s += wr[o] * dout[o];
            }
            din[i] = s;
        }
    }
}

/* Softmax cross-entropy: writes dL/dlogits, returns the loss. */
static double softmax_xent(const float *logits, int classes, int label, float *dlogits)
{
    float max = logits[0];
    for (int c = 1; c < classes; c++) {
        max = logits[c] > max ? logits[c] : max;
    }
    double sum = 0.0;
    for (int c = 0; c < classes; c++) {
        sum += exp((double)(logits[c] - max));
    }
    for (int c = 0; c < classes; c++) {
        dlogits[c] = (float)(exp((double)(logits[c] - max)) / sum) - (c == label ? 1.0f : 0.0f);
    }
    return -((double)(logits[label] - max) - log(sum));
}

/* Forward and backward of one sample, accumulating into s->grad. */
static void train_sample(slice_t *s, uint32_t sample)
{
    const mfl_net_t *net = s->net;
    const size_t stride = mfl_net_max_activation(net);
    float *input = s->work, *acts[MFL_NET_MAX_LAYERS];
    float *g_a = s->work + (size_t)(net->n_layers + 1) * stride; /* two gradient buffers */
    float *g_b = g_a + stride;
    for (int i = 0; i < net->n_layers; i++) {
        acts[i] = s->work + (size_t)(i + 1) * stride;
    }
    const size_t n_in = (size_t)net->in_h * net->in_w * net->in_c;
    const uint8_t *px = s->ds->images + (size_t)sample * n_in;
    for (size_t k = 0; k < n_in; k++) {
        input[k] = px[k] / 255.0f;
    }
    const float *logits = mfl_net_forward(net, input, acts);
    const int classes = mfl_net_classes(net);
    const int label = s->ds->labels[sample];
    int best = 0;
    for (int c = 1; c < classes; c++) {
        best = logits[c] > logits[best] ? c : best;
    }
    s->correct += best == label;
    s->loss += softmax_xent(logits, classes, label, g_a);

    const int lowest = lowest_trained(net, s->trainable);
    for (int i = net->n_layers - 1; i >= lowest; i--) {
        const mfl_layer_t *l = &net->layers[i];
        const float *in = i ? acts[i - 1] : input;
        float *din = i > lowest ? g_b : NULL; /* nothing below the lowest trained layer needs a gradient */
        if (l->relu) {
            const size_t n = (size_t)l->out_h * l->out_w * l->out_c;
            for (size_t k = 0; k < n; k++) {
                g_a[k] = acts[i][k] > 0.0f ? g_a[k] : 0.0f;
            }
        }
        const float *w = net->params + l->w_off;
        /* frozen weights: their gradients are never computed (they stay 0) */
        float *dw = layer_trains(net, s->trainable, i) == LAYER_ALL ? s->grad + l->w_off : NULL;
        if (l->kind == MFL_LAYER_CONV) {
            conv_backward(l, w, in, g_a, dw, s->grad + l->b_off, din);
        } else if (l->kind == MFL_LAYER_MAXPOOL) {
            if (din) {
                maxpool_backward(l, in, acts[i], g_a, din);
            }
        } else {
            dense_backward(l, w, in, g_a, dw, s->grad + l->b_off, din);
        }
        float *t = g_a;
        g_a = g_b;
        g_b = t;
    }
}

static void *run_slice(void *arg)
{
    slice_t *s = arg;
    memset(s->grad, 0, s->net->n_params * sizeof(float));
    for (size_t k = 0; k < s->n; k++) {
        train_sample(s, s->samples[k]);
    }
    return NULL;
}

typedef struct {
    float *m, *v;      /* Adam moments, or m = SGD velocity */
    long step;
} optimizer_state_t;

/* One optimizer step on parameters [from, to). */
static void update_range(mfl_net_t *net, const mfl_train_opts_t *o, optimizer_state_t *st, const float *grad,
                         float scale, size_t from, size_t to)
{
    if (o->optimizer == MFL_OPT_SGD_MOMENTUM) {
        for (size_t k = from; k < to; k++) {
            st->m[k] = o->momentum * st->m[k] + grad[k] * scale;
            net->params[k] -= o->lr * st->m[k];
        }
        return;
    }
    const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
    const double c1 = 1.0 - pow(b1, (double)st->step), c2 = 1.0 - pow(b2, (double)st->step);
    const float step = (float)(o->lr * sqrt(c2) / c1);
    for (size_t k = from; k < to; k++) {
        const float g = grad[k] * scale;
        st->m[k] = (float)b1 * st->m[k] + (float)(1.0 - b1) * g;
        st->v[k] = (float)b2 * st->v[k] + (float)(1.0 - b2) * g * g;
        net->params[k] -= step * st->m[k] / (sqrtf(st->v[k]) + (float)eps);
    }
}

/* Every parameter (MFL_TRAIN_ALL: one range, the arithmetic as it always
 * was), or each layer's trained parameters (layer_trains()). */
static void apply_update(mfl_net_t *net, const mfl_train_opts_t *o, optimizer_state_t *st, const float *grad,
                         float scale)
{
    st->step++;
    if (o->trainable == MFL_TRAIN_ALL) {
        update_range(net, o, st, grad, scale, 0, net->n_params);
        return;
    }
    for (int i = 0; i < net->n_layers; i++) {
        const mfl_layer_t *l = &net->layers[i];
        const int trains = layer_trains(net, o->trainable, i);
        if (trains == LAYER_FROZEN) {
            continue;
        }
        const size_t from = trains == LAYER_ALL ? l->w_off : l->b_off;
        update_range(net, o, st, grad, scale, from, l->b_off + (size_t)l->out_c);
    }
}

mfl_train_opts_t mfl_train_defaults(void)
{
    mfl_train_opts_t o = {.epochs = 8, .batch = 64, .lr = 1e-3f, .optimizer = MFL_OPT_ADAM,
                          .momentum = 0.9f, .seed = 1, .threads = 2, .verbose = 0};
    return o;
}

/* Runs one batch's MFL_TRAIN_SLICES slices, `threads` at a time: the
 * calling thread takes the first of each group. */
static void run_batch(slice_t *slices, int threads)
{
    for (int first = 0; first < MFL_TRAIN_SLICES; first += threads) {
        const int end = first + threads < MFL_TRAIN_SLICES ? first + threads : MFL_TRAIN_SLICES;
        pthread_t tid[MFL_TRAIN_SLICES];
        int spawned[MFL_TRAIN_SLICES] = {0};
        for (int k = first + 1; k < end; k++) {
            spawned[k] = pthread_create(&tid[k], NULL, run_slice, &slices[k]) == 0;
        }
        run_slice(&slices[first]);
        for (int k = first + 1; k < end; k++) {
            if (spawned[k]) {
                pthread_join(tid[k], NULL);
            } else {
                run_slice(&slices[k]); /* could not spawn: same work, same result */
            }
        }
    }
}

static void shuffle(uint32_t *a, size_t n, uint64_t *rng)
{
    for (size_t i = n; i > 1; i--) {
        const size_t j = mfl_rng_below(rng, (uint32_t)i);
        const uint32_t t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}

int mfl_net_train(mfl_net_t *net, const mfl_dataset_t *ds, const uint32_t *idx, size_t n,
                  const mfl_train_opts_t *o)
{
    if (!net || !ds || !o || n == 0 || o->batch < 1 || o->epochs < 0 || o->threads < 1 ||
        o->trainable < MFL_TRAIN_ALL || o->trainable > MFL_TRAIN_LAST_CONV ||
        ds->rows * ds->cols != (uint32_t)(net->in_h * net->in_w * net->in_c)) {
        return MFL_ERR_INVALID_ARG;
    }
    const size_t stride = mfl_net_max_activation(net);
    const size_t work_floats = (size_t)(net->n_layers + 3) * stride;
    uint32_t *order = malloc(n * sizeof(uint32_t));
    float *mem = calloc((size_t)MFL_TRAIN_SLICES * (net->n_params + work_floats) + 2 * net->n_params,
                        sizeof(float));
    if (!order || !mem) {
        free(order);
        free(mem);
        return MFL_ERR_NO_MEMORY;
    }
    for (size_t i = 0; i < n; i++) {
        order[i] = idx ? idx[i] : (uint32_t)i;
    }
    slice_t slices[MFL_TRAIN_SLICES];
    for (int k = 0; k < MFL_TRAIN_SLICES; k++) {
        slices[k] = (slice_t){.net = net, .ds = ds, .trainable = o->trainable};
        slices[k].grad = mem + (size_t)k * (net->n_params + work_floats);
        slices[k].work = slices[k].grad + net->n_params;
    }
    optimizer_state_t st = {mem + (size_t)MFL_TRAIN_SLICES * (net->n_params + work_floats), NULL, 0};
    st.v = st.m + net->n_params;
    uint64_t rng = o->seed ^ 0x5EEDull;
    mfl_train_opts_t run = *o; /* its lr is what epoch_end may change */

    for (int e = 0; e < o->epochs; e++) {
        shuffle(order, n, &rng);
        double loss = 0.0;
        size_t correct = 0;
        for (size_t start = 0; start < n; start += (size_t)o->batch) {
            const size_t bn = n - start < (size_t)o->batch ? n - start : (size_t)o->batch;
            for (int k = 0; k < MFL_TRAIN_SLICES; k++) {
                const size_t lo = bn * (size_t)k / MFL_TRAIN_SLICES, hi = bn * (size_t)(k + 1) / MFL_TRAIN_SLICES;
                slices[k].samples = order + start + lo;
                slices[k].n = hi - lo;
                slices[k].loss = 0.0;
                slices[k].correct = 0;
            }
            run_batch(slices, o->threads);
            for (int k = 1; k < MFL_TRAIN_SLICES; k++) { /* fixed order */
                for (size_t p = 0; p < net->n_params; p++) {
                    slices[0].grad[p] += slices[k].grad[p];
                }
            }
            for (int k = 0; k < MFL_TRAIN_SLICES; k++) {
                loss += slices[k].loss;
                correct += slices[k].correct;
            }
            apply_update(net, &run, &st, slices[0].grad, 1.0f / (float)bn);
            const size_t done = start / (size_t)o->batch + 1, batches = (n + (size_t)o->batch - 1) / (size_t)o->batch;
            if (o->progress && (done % MFL_TRAIN_PROGRESS_BATCHES == 0 || done == batches)) {
                o->progress(o->progress_user, e + 1, o->epochs, done, batches);
            }
        }
        if (o->verbose) {
            fprintf(stderr, "epoch %d/%d: loss %.4f, train accuracy %.2f%%\n", e + 1, o->epochs,
                    loss / (double)n, 100.0 * (double)correct / (double)n);
        }
        if (o->epoch_end &&
            o->epoch_end(o->epoch_user, e + 1, loss / (double)n, (double)correct / (double)n, &run.lr)) {
            break;
        }
    }
    free(order);
    free(mem);
    return 0;
}

int mfl_net_loss_grad(const mfl_net_t *net, const mfl_dataset_t *ds, const uint32_t *idx, size_t n, double *loss,
                      float *grad)
{
    const size_t work_floats = (size_t)(net->n_layers + 3) * mfl_net_max_activation(net);
    float *mem = calloc(net->n_params + work_floats, sizeof(float));
    if (!mem || !idx || n == 0) {
        free(mem);
        return mem ? MFL_ERR_INVALID_ARG : MFL_ERR_NO_MEMORY;
    }
    slice_t s = {.net = net, .ds = ds, .samples = idx, .n = n, .grad = mem, .work = mem + net->n_params};
    run_slice(&s);
    *loss = s.loss / (double)n;
    for (size_t p = 0; grad && p < net->n_params; p++) {
        grad[p] = mem[p] / (float)n;
    }
    free(mem);
    return 0;
}

int mfl_dataset_select(const mfl_dataset_t *ds, const float *class_weight, size_t limit, uint64_t seed,
                       uint32_t **idx, size_t *n)
{
    uint32_t *out = malloc((ds->n ? ds->n : 1) * sizeof(uint32_t));
    if (!out) {
        return MFL_ERR_NO_MEMORY;
    }
    uint64_t rng = seed ^ 0xC1A55ull;
    size_t k = 0;
    for (uint32_t i = 0; i < ds->n; i++) {
        const double keep = class_weight ? class_weight[ds->labels[i]] : 1.0;
        if (mfl_rng_uniform(&rng) < keep) {
            out[k++] = i;
        }
    }
    shuffle(out, k, &rng);
    *idx = out;
    *n = limit && limit < k ? limit : k;
    return 0;
}
