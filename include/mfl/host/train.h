/*
 * Host-only float training of small CNNs (the base model devices ship with).
 *
 * An architecture is a comma-separated list of layers applied to an
 * H x W x C input:
 *   cN[kK][sS]  convolution with N filters, K x K kernel (default 3),
 *               stride S (default 1), SAME padding, ReLU
 *   p           2 x 2 max pooling, stride 2
 *   dN          dense layer of N units (flattens its input), ReLU, except
 *               the last layer, which is linear: the logits
 * The last layer must be dense: it is the model's head, which devices
 * retrain; its input is the feature vector.
 * Example: "c16,p,c32s2,c32s2,d64,d10".
 *
 * Training is deterministic for a given seed, whatever the thread count:
 * gradients are accumulated per sample slot in a fixed order (threads own
 * fixed slices of the batch and slices are summed in order).
 */
#ifndef MFL_TRAIN_H
#define MFL_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "mfl/host/dataset.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MFL_NET_MAX_LAYERS 16
#define MFL_ARCH_MAX 128

enum mfl_layer_kind { MFL_LAYER_CONV = 1, MFL_LAYER_MAXPOOL = 2, MFL_LAYER_DENSE = 3 };

typedef struct {
    int kind;
    int kernel, stride, pad; /* conv: square kernel, stride, leading SAME padding */
    int relu;                /* fused ReLU on the output */
    int in_h, in_w, in_c;    /* input shape (dense: 1 x 1 x features) */
    int out_h, out_w, out_c; /* output shape (dense: 1 x 1 x units) */
    size_t w_off, b_off;     /* offsets in mfl_net_t.params; weights are HWIO / [in][out] */
    size_t n_weights;
} mfl_layer_t;

typedef struct {
    char arch[MFL_ARCH_MAX];
    int in_h, in_w, in_c;
    int n_layers;
    mfl_layer_t layers[MFL_NET_MAX_LAYERS];
    size_t n_params;
    float *params; /* malloc'd */
} mfl_net_t;

/* Parses an architecture for an in_h x in_w x in_c input and allocates
 * zeroed parameters. Returns 0, MFL_ERR_ARCH (message in msg) or
 * MFL_ERR_NO_MEMORY. */
int mfl_net_create(mfl_net_t *net, const char *arch, int in_h, int in_w, int in_c, char *msg, size_t msg_cap);
void mfl_net_free(mfl_net_t *net);

/* He-uniform weights, zero biases, from a seed. */
void mfl_net_init(mfl_net_t *net, uint64_t seed);

/* Largest activation of any layer, in floats (for caller workspaces). */
size_t mfl_net_max_activation(const mfl_net_t *net);

/* Output shape size of the net's class logits. */
static inline int mfl_net_classes(const mfl_net_t *net)
{
    return net->layers[net->n_layers - 1].out_c;
}

/* Forward pass of one image (pixels scaled to [0, 1]); writes each layer's
 * output into acts[l] (each mfl_net_max_activation floats) and returns the
 * logits (acts[n_layers - 1]). */
const float *mfl_net_forward(const mfl_net_t *net, const float *input, float **acts);

/* Index of the largest logit for one image of raw pixels. */
int mfl_net_predict(const mfl_net_t *net, const uint8_t *pixels, float *work);

/* Training progress: after batch `batch` (1-based) of `batches` in epoch
 * `epoch` (1-based) of `epochs`. Called from the training thread; it must
 * not touch the net. */
typedef void (*mfl_train_progress_fn)(void *user, int epoch, int epochs, size_t batch, size_t batches);

/* A progress callback is called after every this many batches and after
 * each epoch's last: a few times a second for the base models mfl-sim
 * trains, and nothing it does can change the result. */
#define MFL_TRAIN_PROGRESS_BATCHES 16

/* After each epoch (1-based) with its mean loss and training accuracy
 * (0..1, of the samples as they were trained, during the epoch). It may
 * change *lr for the next epochs (the optimizer's state is kept) and
 * returns nonzero to end training there. Called from the training thread;
 * it must not touch the net. */
typedef int (*mfl_train_epoch_fn)(void *user, int epoch, double loss, double accuracy, float *lr);

/* Which parameters train (mfl_train_opts_t.trainable). */
enum {
    MFL_TRAIN_ALL = 0,    /* every weight and bias */
    MFL_TRAIN_BIASES = 1, /* the biases of every layer and the last layer's weights (the head): bias-only
                           * fine-tuning of the layers below a learned head (TinyTL, Cai et al. 2020); every
                           * other weight keeps its value bit for bit */
    MFL_TRAIN_DENSE = 2,  /* every weight and bias of the dense layers; the convolutions keep theirs bit for
                           * bit (a sparse update of the top of the network: Lin et al., "On-Device Training
                           * Under 256KB Memory", NeurIPS 2022) */
    MFL_TRAIN_LAST_CONV = 3, /* as MFL_TRAIN_DENSE, and also the last convolution's weights and biases */
};

typedef struct {
    int epochs;
    int batch;
    float lr;
    int optimizer;        /* MFL_OPT_ADAM or MFL_OPT_SGD_MOMENTUM */
    float momentum;       /* SGD momentum */
    uint64_t seed;
    int threads;          /* 1 or more */
    int verbose;          /* print a line per epoch to stderr */
    mfl_train_progress_fn progress; /* optional (NULL: none) */
    void *progress_user;  /* passed to progress */
    int trainable;        /* MFL_TRAIN_ALL (default), _BIASES, _DENSE or _LAST_CONV */
    mfl_train_epoch_fn epoch_end; /* optional (NULL: none) */
    void *epoch_user;     /* passed to epoch_end */
} mfl_train_opts_t;

enum { MFL_OPT_ADAM = 0, MFL_OPT_SGD_MOMENTUM = 1 };

/* Sensible defaults: Adam, lr 1e-3, batch 64, 8 epochs, 2 threads. */
mfl_train_opts_t mfl_train_defaults(void);

/* Trains on ds samples idx[0..n) (all samples if idx is NULL, n = ds->n),
 * for opts->epochs epochs or until opts->epoch_end says stop.
 * Returns 0 or MFL_ERR_INVALID_ARG (also for an unknown trainable) /
 * MFL_ERR_NO_MEMORY. */
int mfl_net_train(mfl_net_t *net, const mfl_dataset_t *ds, const uint32_t *idx, size_t n,
                  const mfl_train_opts_t *opts);

/* Mean softmax cross-entropy over samples idx[0..n) and, if grad is not
 * NULL, its gradient with respect to every parameter (n_params floats):
 * the quantities training descends, exposed for gradient checks. */
int mfl_net_loss_grad(const mfl_net_t *net, const mfl_dataset_t *ds, const uint32_t *idx, size_t n, double *loss,
                      float *grad);

/* Accuracy (0..1) on every sample of ds. */
double mfl_net_accuracy(const mfl_net_t *net, const mfl_dataset_t *ds);

/* Float model files ("MFLF"): architecture, input shape, parameters, CRC.
 * Load validates everything (untrusted input). */
int mfl_net_save(const mfl_net_t *net, const char *path);
int mfl_net_parse(mfl_net_t *net, const uint8_t *buf, size_t len, char *msg, size_t msg_cap);
int mfl_net_load(mfl_net_t *net, const char *path, char *msg, size_t msg_cap);

/* Calibration for post-training quantization: the range [lo[l], hi[l]] of
 * every layer's output over ds samples idx[0..n) (all if idx is NULL). */
int mfl_net_calibrate(const mfl_net_t *net, const mfl_dataset_t *ds, const uint32_t *idx, size_t n, float *lo,
                      float *hi);

/*
 * Sample selection for training subsets: keeps sample i with probability
 * class_weight[label] (NULL: all 1), in a seeded random order, at most
 * limit samples (0: no limit). *idx is malloc'd.
 */
int mfl_dataset_select(const mfl_dataset_t *ds, const float *class_weight, size_t limit, uint64_t seed,
                       uint32_t **idx, size_t *n);

#ifdef __cplusplus
}
#endif

#endif /* MFL_TRAIN_H */
