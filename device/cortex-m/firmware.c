/*
 * The microfl firmware image for Cortex-M4 (run under QEMU, mps2-an386):
 * runs the int8 Fashion-MNIST model on test images embedded in flash,
 * learns from a few labelled ones with the fixed-point learner, builds an
 * update signed with the device key and hands it to the host through
 * semihosting (update.cose), for `mfl device relay` to post. It also runs
 * the four MLPerf Tiny models on their first golden input, checks every
 * output byte, and prints instruction counts (QEMU -icount shift=6) and the
 * stack's high-water mark as `name value` lines.
 */
#include <stdint.h>
#include <string.h>

#include "board.h"
#include "mlperf_ops.h"
#include "mfl/crypto.h"
#include "mfl/device_state.h"
#include "mfl/error.h"
#include "mfl/interpreter.h"
#include "mfl/learner.h"
#include "mfl/op_resolver.h"
#include "mfl/recalibrate.h"
#include "mfl/update_builder.h"
#include "semihost.h"

#define BLOB(name) extern const uint8_t blob_##name[], blob_##name##_end[]
#define BLOB_LEN(name) ((size_t)(blob_##name##_end - blob_##name))
BLOB(fmnist_model); BLOB(images); BLOB(labels); BLOB(device_key); BLOB(device_id); BLOB(aggregator_key);
BLOB(kws_model); BLOB(kws_in); BLOB(kws_out); BLOB(vww_model); BLOB(vww_in); BLOB(vww_out);
BLOB(ic_model); BLOB(ic_in); BLOB(ic_out); BLOB(ad_model); BLOB(ad_in); BLOB(ad_out);

#define PIXELS 784
#define EVAL_IMAGES 100  /* accuracy before and after learning */
#define LEARN_IMAGES 40  /* the labelled images the device learns from */
#define REPLAY 32

static uint8_t arena[64 * 1024] __attribute__((aligned(16)));
static uint8_t learner_mem[24 * 1024] __attribute__((aligned(8)));
static uint8_t update_msg[4 * 1024];
static int32_t residual[1024]; /* error feedback: units x (features + 1) */
/* persistent state: RAM standing in for the board's flash (QEMU's image
 * starts erased at every run) */
static uint8_t flash_mem[16 * 1024];
static uint8_t model_msg_buf[2048];
static uint8_t mlperf_learner_mem[16 * 1024] __attribute__((aligned(8)));
static uint8_t tuned_learner_mem[40 * 1024] __attribute__((aligned(8)));
/* the weight-tuned learner: the feature layer's int8 weights, their int16
 * master and the replayed layer inputs (512 x 64 here: 132,088 B) */
static uint8_t weight_learner_mem[160 * 1024] __attribute__((aligned(8)));
#define HELD_OUT 20 /* do no harm: the first evaluation images, never learned from */
static int8_t held_out_features[HELD_OUT * 64];

/* recalibration of the first convolution (at most 64 channels here) */
#define RECAL_MAX_CHANNELS 64
#define RECAL_INPUTS 16
static int64_t recal_stats_mem[2 * RECAL_MAX_CHANNELS];
static mfl_recal_moment_t recal_ref[RECAL_MAX_CHANNELS], recal_dev[RECAL_MAX_CHANNELS];
static int32_t recal_bias[RECAL_MAX_CHANNELS], recal_mult[RECAL_MAX_CHANNELS], recal_shift[RECAL_MAX_CHANNELS];

static int failed(const char *what, int err)
{
    sh_puts("firmware: ");
    sh_puts(what);
    sh_puts(": ");
    sh_puts(mfl_strerror(err));
    sh_puts("\n");
    return 1;
}

/* A model the resolver refused: the error, and the operator if one was
 * the reason ("operator 3 (SOFTMAX)"). */
static int refused(const char *what, int err, const mfl_op_refusal_t *why)
{
    if (why->op != MFL_NONE) {
        sh_puts("firmware: ");
        sh_puts(what);
        sh_puts(": operator ");
        sh_put_u64(why->op);
        sh_puts(" (");
        sh_puts(mfl_opcode_name(why->opcode));
        sh_puts(")\n");
    }
    return failed(what, err);
}

static void to_input(const uint8_t *pixels, int8_t *input)
{
    for (int k = 0; k < PIXELS; k++) {
        input[k] = (int8_t)(pixels[k] - 128);
    }
}

static uint32_t accuracy_x100(mfl_learner_t *l, uint64_t *instructions)
{
    const size_t n = BLOB_LEN(labels) < EVAL_IMAGES ? BLOB_LEN(labels) : EVAL_IMAGES;
    uint32_t correct = 0;
    int8_t input[PIXELS];
    for (size_t i = 0; i < n; i++) {
        int label = -1;
        to_input(blob_images + i * PIXELS, input);
        const uint32_t t0 = board_ticks();
        mfl_learner_predict(l, input, PIXELS, &label);
        if (i == 0 && instructions) {
            *instructions = board_instructions(board_ticks() - t0);
        }
        correct += label == blob_labels[i];
    }
    return (uint32_t)(correct * 10000u / n);
}

/* Moments of op 0 over RECAL_INPUTS images from `first`, at full or half
 * contrast (a dimmer sensor); adds the instructions spent observing. */
static int recal_measure(mfl_learner_t *l, size_t first, int halve, mfl_recal_moment_t *out, uint64_t *instr)
{
    mfl_recal_stats_t s;
    int err = mfl_recal_stats_init(&s, l->interp.model, 0, recal_stats_mem, sizeof(recal_stats_mem));
    for (size_t i = first; i < first + RECAL_INPUTS && !err; i++) {
        int8_t *in;
        size_t len;
        err = mfl_interp_input(&l->interp, &in, &len);
        for (size_t k = 0; !err && k < PIXELS; k++) {
            const int px = blob_images[i * PIXELS + k];
            in[k] = (int8_t)((halve ? (px + 1) / 2 : px) - 128);
        }
        const uint32_t t0 = board_ticks();
        err = err ? err : mfl_recal_observe(&s, &l->interp);
        *instr += board_instructions(board_ticks() - t0);
    }
    return err ? err : mfl_recal_moments(&s, out);
}

/* Label-free recalibration's cost on the device: observing one unlabelled
 * input, computing the new requantization, and its RAM. */
static int recalibration(mfl_learner_t *l)
{
    uint64_t observe = 0;
    mfl_requant_override_t ovr;
    if (mfl_recal_stats_mem_size(l->interp.model, 0) > sizeof(recal_stats_mem)) {
        return failed("recalibration statistics", MFL_ERR_BUFFER_TOO_SMALL);
    }
    int err = recal_measure(l, 0, 0, recal_ref, &observe); /* stands in for the reference shipped with the model */
    err = err ? err : recal_measure(l, RECAL_INPUTS, 1, recal_dev, &observe);
    const uint32_t t0 = board_ticks();
    err = err ? err : mfl_recal_compute(l->interp.model, 0, recal_ref, recal_dev, recal_bias, recal_mult, recal_shift,
                                        &ovr);
    const uint64_t compute = board_instructions(board_ticks() - t0);
    err = err ? err : mfl_interp_set_override(&l->interp, &ovr);
    if (err) {
        return failed("recalibration", err);
    }
    const uint64_t channels = ovr.channels;
    sh_line("recal_observe_instructions", observe / (2 * RECAL_INPUTS));
    sh_line("recal_compute_instructions", compute);
    /* the statistics, the device's moments and the new requantization (the reference's moments ship with
     * the model, in flash) */
    sh_line("recal_ram_bytes", mfl_recal_stats_mem_size(l->interp.model, 0) + sizeof(mfl_recal_moment_t) * channels +
                                   3 * sizeof(int32_t) * channels);
    return mfl_interp_set_override(&l->interp, NULL);
}

/* Bias-only fine-tuning of the feature layer: a second learner that tunes
 * it learns the same labelled images; its cost per sample (the backbone to
 * the feature layer's accumulators, then the step on head and biases) and
 * its memory beside the head-only learner's. */
static int bias_tuning(const mfl_model_t *model)
{
    mfl_learner_t t;
    mfl_learn_opts_t o = mfl_learn_defaults();
    o.bias_lr = o.lr;
    const size_t mem = mfl_learner_mem_size_tuned(model, REPLAY, o.batch);
    if (!mem || mem > sizeof(tuned_learner_mem)) {
        return failed("tuned learner memory", mem ? MFL_ERR_BUFFER_TOO_SMALL : MFL_ERR_LEARN_CONFIG);
    }
    int err = mfl_learner_init(&t, model, arena, sizeof(arena), tuned_learner_mem, mem, REPLAY, &o);
    int8_t input[PIXELS];
    uint64_t acc = 0, step = 0, steps = 0;
    for (size_t i = EVAL_IMAGES; i < EVAL_IMAGES + LEARN_IMAGES && !err; i++) {
        const int32_t *a;
        to_input(blob_images + i * PIXELS, input);
        uint32_t t0 = board_ticks();
        err = mfl_learner_feature_acc(&t, input, PIXELS, &a);
        acc += board_instructions(board_ticks() - t0);
        t0 = board_ticks();
        err = err ? err : mfl_learner_learn_acc(&t, a, blob_labels[i]);
        step += board_instructions(board_ticks() - t0);
        steps++;
    }
    if (err) {
        return failed("bias tuning", err);
    }
    sh_line("tune_backbone_instructions", acc / steps);
    sh_line("tune_learn_step_instructions", step / steps);
    sh_line("tune_learner_mem_bytes", mem);
    sh_line("tune_accuracy_after_x100", accuracy_x100(&t, NULL));
    return 0;
}

/* The weight tuning's step, timed: the table's own step, called through a
 * copy of the table that adds up its instructions, so that the weight
 * update (the gradients one layer down and the SGD on the master) shows
 * apart from the head's step and the batch's features it shares. */
static uint64_t weight_update_instr, weight_updates;

static void timed_weight_step(mfl_weight_tune_t *wt, const mfl_bias_tune_t *bt, const mfl_head_t *h,
                              const int16_t *g, const int8_t *const *in, int batch, mfl_scale_t lr)
{
    const uint32_t t0 = board_ticks();
    mfl_weight_tuning.step(wt, bt, h, g, in, batch, lr);
    weight_update_instr += board_instructions(board_ticks() - t0);
    weight_updates++;
}

/* Fine-tuning of the feature layer's weights: a third learner that tunes
 * them (and its biases, at the bias-tuned learner's rate) learns the same
 * labelled images from the layer's inputs; its cost per sample (the
 * backbone to the feature layer's input, then the step on head, biases and
 * weights, the batch's features recomputed with the weights as they
 * learn), that of a full-batch step, the weight update's share of it, its
 * memory and accuracy. */
static int weight_tuning(const mfl_model_t *model)
{
    static mfl_weight_tuning_t timed;
    timed = mfl_weight_tuning;
    timed.step = timed_weight_step;
    mfl_learner_t t;
    mfl_learn_opts_t o = mfl_learn_defaults();
    o.bias_lr = o.lr;
    o.weight_lr = mfl_scale_from_int(1, 22); /* 2^-22 per input code, as test_weight_tune */
    o.weight_tuning = &timed;
    const size_t mem = mfl_learner_mem_size_for(model, REPLAY, &o);
    if (!mem || mem > sizeof(weight_learner_mem)) {
        return failed("weight-tuned learner memory", mem ? MFL_ERR_BUFFER_TOO_SMALL : MFL_ERR_LEARN_CONFIG);
    }
    int err = mfl_learner_init(&t, model, arena, sizeof(arena), weight_learner_mem, mem, REPLAY, &o);
    if (err) {
        return failed("weight-tuned learner", err);
    }
    sh_line("weight_tune_accuracy_before_x100", accuracy_x100(&t, NULL));
    int8_t input[PIXELS];
    uint64_t backbone = 0, step = 0, steps = 0;
    for (size_t i = EVAL_IMAGES; i < EVAL_IMAGES + LEARN_IMAGES && !err; i++) {
        const int8_t *in;
        size_t n;
        to_input(blob_images + i * PIXELS, input);
        uint32_t t0 = board_ticks();
        err = mfl_learner_layer_input(&t, input, PIXELS, &in, &n);
        backbone += board_instructions(board_ticks() - t0);
        t0 = board_ticks();
        err = err ? err : mfl_learner_learn_layer_input(&t, in, blob_labels[i]);
        step += board_instructions(board_ticks() - t0);
        steps++;
    }
    if (err) {
        return failed("weight tuning", err);
    }
    sh_line("weight_tune_layer_inputs", t.bt.inputs);
    sh_line("weight_tune_layer_features", t.bt.features);
    sh_line("weight_tune_backbone_instructions", backbone / steps);
    /* opts.steps = 1 step per sample; the first 7 on short batches (the replay buffer filling) */
    sh_line("weight_tune_learn_step_instructions", step / steps);
    sh_line("weight_tune_learner_mem_bytes", mem);
    sh_line("weight_tune_accuracy_after_x100", accuracy_x100(&t, NULL));
    /* full batches: one pass over the replay buffer (its samples already learned) */
    weight_update_instr = weight_updates = 0;
    const uint32_t t0 = board_ticks();
    err = mfl_learner_train_buffer(&t, 1);
    const uint64_t pass = board_instructions(board_ticks() - t0);
    if (err || !weight_updates) {
        return failed("weight tuning, replay pass", err ? err : MFL_ERR_LEARN_CONFIG);
    }
    sh_line("weight_tune_sgd_step_instructions", pass / weight_updates);
    sh_line("weight_tune_weight_update_instructions", weight_update_instr / weight_updates);
    return 0;
}

/* Do no harm: which head the device would use, judged on held-out
 * samples, and what choosing costs (three heads over HELD_OUT feature
 * vectors; the features themselves are the backbone's usual cost). */
static int head_choice(mfl_learner_t *l)
{
    uint8_t labels[HELD_OUT];
    int8_t input[PIXELS];
    if ((size_t)l->head.features * HELD_OUT > sizeof(held_out_features)) {
        return failed("held-out features", MFL_ERR_BUFFER_TOO_SMALL);
    }
    int err = 0;
    for (size_t k = 0; k < HELD_OUT && !err; k++) {
        const int8_t *f;
        to_input(blob_images + k * PIXELS, input);
        err = mfl_learner_features(l, input, PIXELS, &f);
        if (!err) {
            memcpy(held_out_features + k * l->head.features, f, l->head.features);
            labels[k] = blob_labels[k];
        }
    }
    mfl_head_choice_t chosen = MFL_HEAD_SHIPPED;
    uint16_t right[3] = {0, 0, 0};
    const uint32_t t0 = board_ticks();
    err = err ? err : mfl_learner_choose_head(l, held_out_features, labels, HELD_OUT, &chosen, right);
    const uint64_t instr = board_instructions(board_ticks() - t0);
    if (err) {
        return failed("head choice", err);
    }
    sh_line("choose_head_instructions", instr);
    sh_line("held_out_right_shipped", right[MFL_HEAD_SHIPPED]);
    sh_line("held_out_right_global", right[MFL_HEAD_GLOBAL]);
    sh_line("held_out_right_own", right[MFL_HEAD_OWN]);
    sh_line("chosen_head", (uint64_t)chosen);
    return 0;
}

static uint64_t model_macs(const mfl_model_t *m)
{
    uint64_t macs = 0;
    for (uint16_t op = 0; op < m->header->n_ops; op++) {
        macs += mfl_model_op_macs(m, op);
    }
    return macs;
}

/* Infer, learn, sign: the device's whole job on Fashion-MNIST. */
static int fashion_mnist(void)
{
    mfl_model_t model;
    mfl_learner_t l;
    uint64_t infer_instr = 0;
    mfl_op_refusal_t why;
    int err = mfl_model_load_ops(&model, blob_fmnist_model, BLOB_LEN(fmnist_model), &mlperf_ops, &why);
    if (err) {
        return refused("Fashion-MNIST model", err, &why);
    }
    if (mfl_learner_mem_size(&model, REPLAY, 8) > sizeof(learner_mem)) {
        return failed("learner memory", MFL_ERR_BUFFER_TOO_SMALL);
    }
    err = mfl_learner_init(&l, &model, arena, sizeof(arena), learner_mem, sizeof(learner_mem), REPLAY, NULL);
    if (err) {
        return failed("learner", err);
    }
    /* boot: the counter and the last installed model from flash */
    mfl_storage_t storage;
    mfl_ram_flash_t flash;
    mfl_state_t state;
    mfl_es256_public_t aggregator; /* pinned in the image */
    uint64_t version = 0;
    if (BLOB_LEN(aggregator_key) != sizeof(aggregator.q)) {
        return failed("aggregator key", MFL_ERR_KEY);
    }
    memcpy(aggregator.q, blob_aggregator_key, sizeof(aggregator.q));
    err = mfl_storage_ram_init(&storage, &flash, flash_mem, sizeof(flash_mem), 1024);
    err = err ? err : mfl_state_open(&state, &storage);
    if (err) {
        return failed("device state", err);
    }
    err = mfl_state_restore(&state, &l, &aggregator, model_msg_buf, sizeof(model_msg_buf), &version);
    if (err && err != MFL_ERR_NO_MODEL) {
        return failed("restoring the model", err);
    }
    err = 0; /* none stored: the model's built-in head */
    sh_line("installed_model_version", version);
    if (mfl_state_restore_head(&state, &l, version) == 0) {
        sh_puts("restored the learned head\n");
    }
    sh_line("fmnist_macs", model_macs(&model));
    sh_line("fmnist_arena_bytes", mfl_model_arena_size(&model));
    sh_line("learner_mem_bytes", mfl_learner_mem_size(&model, REPLAY, 8));
    sh_line("fmnist_accuracy_before_x100", accuracy_x100(&l, &infer_instr));
    sh_line("fmnist_infer_instructions", infer_instr);

    /* learning: the backbone gives features, the learner takes one SGD step
     * (batch 8 from the replay buffer) and requantizes the head */
    int8_t input[PIXELS];
    uint64_t backbone = 0, step = 0, steps = 0;
    for (size_t i = EVAL_IMAGES; i < EVAL_IMAGES + LEARN_IMAGES && !err; i++) {
        const int8_t *features;
        to_input(blob_images + i * PIXELS, input);
        uint32_t t0 = board_ticks();
        err = mfl_learner_features(&l, input, PIXELS, &features);
        backbone += board_instructions(board_ticks() - t0);
        t0 = board_ticks();
        err = err ? err : mfl_learner_learn_features(&l, features, blob_labels[i]);
        step += board_instructions(board_ticks() - t0);
        steps++;
    }
    if (err) {
        return failed("learning", err);
    }
    sh_line("fmnist_learn_step_instructions", step / steps);
    sh_line("fmnist_learn_head_parameters", (uint64_t)l.head.units * l.head.features);
    sh_line("fmnist_learn_batch", l.opts.batch);
    sh_line("fmnist_backbone_instructions", backbone / steps);
    sh_line("fmnist_accuracy_after_x100", accuracy_x100(&l, NULL));
    if (head_choice(&l) || recalibration(&l) || bias_tuning(&model) || weight_tuning(&model)) {
        return 1;
    }
    uint32_t t_save = board_ticks();
    err = mfl_state_save_head(&state, &l, version); /* what was learned survives a reboot */
    sh_line("head_checkpoint_instructions", board_instructions(board_ticks() - t_save));
    if (err) {
        return failed("head checkpoint", err);
    }

    /* the signed update */
    mfl_es256_private_t key;
    memcpy(key.d, blob_device_key, sizeof(key.d));
    uint64_t counter;
    err = mfl_state_next_counter(&state, &counter); /* persisted before it signs anything */
    if (err) {
        return failed("counter", err);
    }
    const mfl_update_params_t p = {blob_device_id, BLOB_LEN(device_id), version ? version : 1, counter, 0};
    size_t len = 0;
    /* the update is built in the arena: nothing is inferred meanwhile */
    uint8_t *update_work = arena;
    if (mfl_update_work_size(&l, 0) > sizeof(arena) || mfl_update_max_size(&l, p.device_id_len) > sizeof(update_msg) ||
        (size_t)l.head.units * (l.head.features + 1u) > sizeof(residual) / sizeof(residual[0])) {
        return failed("update buffers", MFL_ERR_BUFFER_TOO_SMALL);
    }
    sh_line("update_work_bytes", mfl_update_work_size(&l, 0));
    sh_line("residual_bytes", (uint64_t)l.head.units * (l.head.features + 1u) * sizeof(int32_t));
    uint32_t t0 = board_ticks();
    err = mfl_update_build(&l, &p, residual, &key, update_work, sizeof(arena), update_msg, sizeof(update_msg), &len);
    const uint64_t build = board_instructions(board_ticks() - t0);
    if (err) {
        return failed("update", err);
    }
    uint8_t hash[MFL_SHA256_BYTES] = {1}, sig[MFL_ES256_SIG_BYTES];
    t0 = board_ticks();
    err = mfl_es256_sign(&key, hash, sig);
    const uint64_t sign = board_instructions(board_ticks() - t0);
    memset(&key, 0, sizeof(key));
    if (err) {
        return failed("signing", err);
    }
    sh_line("update_bytes", len);
    sh_line("update_build_instructions", build);
    sh_line("es256_sign_instructions", sign);
    if (sh_write_file("update.cose", update_msg, len)) {
        return failed("writing update.cose", MFL_ERR_IO);
    }
    return 0;
}

/* One SGD step (batch 8, requantization included) on the model's head, if
 * the learner takes it: the replay buffer is filled first so the step is a
 * full batch. */
static void mlperf_learning_step(const char *name, const mfl_model_t *model, const uint8_t *in, size_t in_len)
{
    mfl_learner_t l;
    const int8_t *features;
    sh_puts(name);
    if (mfl_learner_mem_size(model, 8, 8) > sizeof(mlperf_learner_mem) ||
        mfl_learner_init(&l, model, arena, sizeof(arena), mlperf_learner_mem, sizeof(mlperf_learner_mem), 8, NULL) ||
        mfl_learner_features(&l, (const int8_t *)in, in_len, &features)) {
        sh_puts("_learn_step: head too large for the learner's limits\n");
        return;
    }
    uint64_t instructions = 0;
    for (uint16_t k = 0; k < 8; k++) {
        const uint32_t t0 = board_ticks();
        if (mfl_learner_learn_features(&l, features, (uint8_t)(k % l.head.units))) {
            sh_puts("_learn_step: failed\n");
            return;
        }
        instructions = board_instructions(board_ticks() - t0);
    }
    sh_line("_learn_step_instructions", instructions);
}

/* Instructions per operator type, from a second inference run op by op
 * (where the time goes, for the kernel work). */
static void op_profile(const char *name, mfl_interp_t *it, const mfl_model_t *model)
{
    uint64_t per_type[MFL_OP_COUNT_] = {0};
    for (uint16_t op = 0; op < model->header->n_ops; op++) {
        const uint32_t t0 = board_ticks();
        mfl_interp_invoke_range(it, op, (uint16_t)(op + 1));
        per_type[model->ops[op].opcode] += board_instructions(board_ticks() - t0);
    }
    for (int type = 1; type < MFL_OP_COUNT_; type++) {
        if (per_type[type]) {
            sh_puts(name);
            sh_puts("_op_");
            sh_puts(mfl_opcode_name(type));
            sh_line("_instructions", per_type[type]);
        }
    }
}

/* One MLPerf Tiny model on its first golden input: bit-exact output and
 * instructions per inference (and per learning step, if it has a head). */
static int mlperf(const char *name, const uint8_t *image, size_t size, const uint8_t *in, size_t in_len,
                  const uint8_t *expect, size_t expect_len)
{
    mfl_model_t model;
    mfl_interp_t it;
    int8_t *input;
    const int8_t *output;
    size_t n_in, n_out;
    mfl_op_refusal_t why;
    int err = mfl_model_load_ops(&model, image, size, &mlperf_ops, &why);
    if (err) {
        return refused(name, err, &why);
    }
    err = mfl_interp_init(&it, &model, arena, sizeof(arena));
    err = err ? err : mfl_interp_input(&it, &input, &n_in);
    if (err || n_in != in_len) {
        return failed(name, err ? err : MFL_ERR_INVALID_ARG);
    }
    memcpy(input, in, n_in);
    const uint32_t t0 = board_ticks();
    err = mfl_interp_invoke(&it);
    const uint64_t instructions = board_instructions(board_ticks() - t0);
    err = err ? err : mfl_interp_output(&it, &output, &n_out);
    if (err) {
        return failed(name, err);
    }
    const uint64_t macs = model_macs(&model);
    sh_puts(name);
    sh_line("_infer_instructions", instructions);
    sh_puts(name);
    sh_line("_macs", macs);
    sh_puts(name);
    sh_line("_instructions_per_mac_x100", instructions * 100u / (macs ? macs : 1));
    sh_puts(name);
    const int exact = n_out == expect_len && memcmp(output, expect, n_out) == 0;
    sh_line("_bitexact", (uint64_t)exact);
    op_profile(name, &it, &model);
    mlperf_learning_step(name, &model, in, in_len);
    return exact ? 0 : 1;
}

/* The resolver at work: the ic model (it adds) against a resolver without
 * ADD is refused at load, ADD named, the model struct untouched. */
static int resolver_refusal(void)
{
    static const mfl_op_reg_t *const no_add[] = {&mfl_op_conv_2d_s8, &mfl_op_average_pool_2d_s8,
                                                 &mfl_op_reshape_s8, &mfl_op_fully_connected_s8,
                                                 &mfl_op_softmax_s8};
    static const mfl_op_resolver_t ops = MFL_OP_RESOLVER(no_add);
    mfl_model_t model = {0};
    mfl_op_refusal_t why;
    const int err = mfl_model_load_ops(&model, blob_ic_model, BLOB_LEN(ic_model), &ops, &why);
    const int ok = err == MFL_ERR_OP_NOT_REGISTERED && why.opcode == MFL_OP_ADD && !model.header;
    sh_line("resolver_refuses_unregistered", (uint64_t)ok);
    return !ok;
}

int main(void)
{
    board_timer_start();
    sh_puts("microfl firmware: Cortex-M4, mps2-an386\n");
    int status = fashion_mnist();
    status |= mlperf("kws", blob_kws_model, BLOB_LEN(kws_model), blob_kws_in, BLOB_LEN(kws_in), blob_kws_out,
                     BLOB_LEN(kws_out));
    status |= mlperf("vww", blob_vww_model, BLOB_LEN(vww_model), blob_vww_in, BLOB_LEN(vww_in), blob_vww_out,
                     BLOB_LEN(vww_out));
    status |= mlperf("ic", blob_ic_model, BLOB_LEN(ic_model), blob_ic_in, BLOB_LEN(ic_in), blob_ic_out,
                     BLOB_LEN(ic_out));
    status |= mlperf("ad", blob_ad_model, BLOB_LEN(ad_model), blob_ad_in, BLOB_LEN(ad_in), blob_ad_out,
                     BLOB_LEN(ad_out));
    status |= resolver_refusal();
    sh_line("stack_high_water_bytes", board_stack_high_water());
    sh_puts(status ? "firmware: FAILED\n" : "firmware: done\n");
    return status;
}
