/*
 * Runs a validated model over a caller-provided arena.
 *
 * The arena holds every activation tensor at the offset the model's memory
 * plan gives it; weights are read in place from the model image. Nothing is
 * allocated: an mfl_interp_t is a few pointers the caller owns.
 *
 *   mfl_model_t model;      mfl_model_load(&model, image, size);
 *   static uint8_t arena[N]; // N >= mfl_model_arena_size(&model)
 *   mfl_interp_t it;        mfl_interp_init(&it, &model, arena, sizeof arena);
 *   mfl_interp_input(&it, &in, &in_len);   fill in[0..in_len)
 *   mfl_interp_invoke(&it);
 *   mfl_interp_output(&it, &out, &out_len);
 *
 * A model of several inputs or outputs (mfl_model_input_count) has each
 * one's buffer from mfl_interp_input_at / mfl_interp_output_at; the
 * single-buffer calls are input 0's and output 0's.
 *
 * Each operator runs through the registration of the resolver the model
 * was loaded with (mfl/op_resolver.h): mfl_model_load() registers every
 * operator; a firmware that loads with mfl_model_load_ops() and its own
 * table links only the kernels it names.
 */
#ifndef MFL_INTERPRETER_H
#define MFL_INTERPRETER_H

#include <stddef.h>
#include <stdint.h>

#include "mfl/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Requantization of one CONV_2D or DEPTHWISE_CONV_2D operator taken from
 * RAM instead of the model image: what per-channel recalibration
 * (mfl/recalibrate.h) computes for a device whose sensor differs from the
 * data the model was made on. Arrays are the caller's and must outlive
 * their use; values have the model's own ranges: bias in int32
 * accumulator units (input scale x weight scale), multiplier >= 0 (a Q31
 * mantissa), shift in [MFL_QUANT_SHIFT_MIN, MFL_QUANT_SHIFT_MAX].
 */
typedef struct {
    uint16_t op;               /* index of the operator replaced */
    uint16_t channels;         /* its output channels */
    const int32_t *bias;       /* [channels] */
    const int32_t *multiplier; /* [channels] */
    const int32_t *shift;      /* [channels] */
} mfl_requant_override_t;

typedef struct {
    const mfl_model_t *model; /* loaded model, owned by the caller */
    uint8_t *arena;           /* caller's arena */
    size_t arena_size;
    const mfl_requant_override_t *override; /* NULL, or set by mfl_interp_set_override */
} mfl_interp_t;

/* Binds a loaded model to an arena (arena_size bytes, 4-byte aligned,
 * owned by the caller). Returns 0, MFL_ERR_INVALID_ARG (NULL pointers, a
 * model not loaded: no header or resolver), or MFL_ERR_ARENA_TOO_SMALL
 * when arena_size < mfl_model_arena_size(model). */
int mfl_interp_init(mfl_interp_t *it, const mfl_model_t *model, void *arena, size_t arena_size);

/* Runs operator ovr->op with ovr's bias and requantization from now on
 * (NULL: the model's own again). ovr is the caller's and must outlive the
 * interpreter's use of it. Returns 0, or MFL_ERR_INVALID_ARG: op out of
 * range or not a CONV_2D/DEPTHWISE_CONV_2D, channels not its output
 * channels, a NULL array, or a value outside the ranges above (then the
 * previous override stays). */
int mfl_interp_set_override(mfl_interp_t *it, const mfl_requant_override_t *ovr);

/* The model's int8 input buffer (inside the arena) and its length in bytes;
 * for a model of several inputs, input 0's. Write the input before each
 * mfl_interp_invoke(): the memory planner lets later tensors reuse these
 * bytes, so they do not survive a run. */
int mfl_interp_input(const mfl_interp_t *it, int8_t **data, size_t *len);

/* The model's int8 output buffer (inside the arena) and its length in bytes
 * (output 0's). Valid after mfl_interp_invoke() until an input is written
 * again. */
int mfl_interp_output(const mfl_interp_t *it, const int8_t **data, size_t *len);

/* Input k's buffer, k < mfl_model_input_count(): write every input before
 * each mfl_interp_invoke(). Returns 0, or MFL_ERR_INVALID_ARG (NULL
 * pointers, k out of range). mfl_model_input_info() gives its scale and
 * zero point. In a 16x8 model an input or output may be int16 (or an input
 * int32): the buffer then holds those elements, little-endian, 2-byte
 * (4-byte) aligned, and len counts bytes; the tensor's record gives the
 * type. */
int mfl_interp_input_at(const mfl_interp_t *it, unsigned k, int8_t **data, size_t *len);

/* Output k's buffer, k < mfl_model_output_count(), as mfl_interp_output. */
int mfl_interp_output_at(const mfl_interp_t *it, unsigned k, const int8_t **data, size_t *len);

/* Runs every operator in order. Returns 0 or MFL_ERR_INVALID_ARG. */
int mfl_interp_invoke(mfl_interp_t *it);

/* Runs operators [first, last) only: for running the backbone up to the
 * trainable head, or for comparing intermediate tensors. */
int mfl_interp_invoke_range(mfl_interp_t *it, uint16_t first, uint16_t last);

/* Read access to any activation tensor after it has been computed. */
int mfl_interp_tensor(const mfl_interp_t *it, uint16_t index, const int8_t **data, size_t *len);

#ifdef __cplusplus
}
#endif

#endif /* MFL_INTERPRETER_H */
