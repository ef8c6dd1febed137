/*
 * Operator resolver: the operators a firmware links, and a model loader
 * that refuses every other.
 *
 * Each operator microfl runs has one registration per output type: its
 * loader check (shapes, parameter ranges) and its runner (the kernel call).
 * The loader validates every operator of a model through the resolver it is
 * given and binds the model to it; the interpreter runs each operator
 * through the same registration. Only the registrations a firmware names
 * are referenced, so with -ffunction-sections -fdata-sections and
 * --gc-sections only their checks and kernels end up in flash. The idea is
 * TensorFlow Lite Micro's MicroMutableOpResolver (the application says which
 * operators it uses); here the resolver is a const table in flash, with no
 * registration calls at run time and no RAM.
 *
 *   static const mfl_op_reg_t *const my_ops[] = {
 *       &mfl_op_conv_2d_s8, &mfl_op_fully_connected_s8, &mfl_op_softmax_s8,
 *   };
 *   static const mfl_op_resolver_t resolver = MFL_OP_RESOLVER(my_ops);
 *   mfl_op_refusal_t why;
 *   int err = mfl_model_load_ops(&model, image, size, &resolver, &why);
 *   if (err == MFL_ERR_OP_NOT_REGISTERED)
 *       printf("operator %u (%s) not registered\n", why.op, mfl_opcode_name(why.opcode));
 *
 * mfl_model_load() is mfl_model_load_ops() with mfl_ops_all, every
 * operator microfl has: host tools, the simulator and tests use it, and a
 * firmware that calls it links every kernel.
 */
#ifndef MFL_OP_RESOLVER_H
#define MFL_OP_RESOLVER_H

#include <stddef.h>
#include <stdint.h>

#include "mfl/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One operator for one output type: opaque, defined by the library. */
typedef struct mfl_op_reg mfl_op_reg_t;

/* The operators a model may use: `count` registrations at `ops`, in flash
 * (a const table). Owned by the caller, and must outlive every model loaded
 * with it (normally a static const). Each (opcode, output type) should
 * appear once; the first match wins. */
struct mfl_op_resolver {
    const mfl_op_reg_t *const *ops;
    size_t count;
};

/* A resolver over a static array of registration pointers. */
#define MFL_OP_RESOLVER(table) { (table), sizeof(table) / sizeof((table)[0]) }

/* The int8 operators (int8 activations, int8 weights, int32 biases).
 * docs/model-format.md lists each one's constraints. */
extern const mfl_op_reg_t mfl_op_conv_2d_s8;
extern const mfl_op_reg_t mfl_op_depthwise_conv_2d_s8;
extern const mfl_op_reg_t mfl_op_fully_connected_s8;
extern const mfl_op_reg_t mfl_op_average_pool_2d_s8;
extern const mfl_op_reg_t mfl_op_max_pool_2d_s8;
extern const mfl_op_reg_t mfl_op_add_s8;
extern const mfl_op_reg_t mfl_op_sub_s8;
extern const mfl_op_reg_t mfl_op_mul_s8;
extern const mfl_op_reg_t mfl_op_maximum_s8;
extern const mfl_op_reg_t mfl_op_minimum_s8;
extern const mfl_op_reg_t mfl_op_concatenation_s8;
extern const mfl_op_reg_t mfl_op_reshape_s8;
extern const mfl_op_reg_t mfl_op_softmax_s8;
extern const mfl_op_reg_t mfl_op_relu_s8;
extern const mfl_op_reg_t mfl_op_relu6_s8;
extern const mfl_op_reg_t mfl_op_leaky_relu_s8;
extern const mfl_op_reg_t mfl_op_logistic_s8;
extern const mfl_op_reg_t mfl_op_tanh_s8;
extern const mfl_op_reg_t mfl_op_hard_swish_s8;
extern const mfl_op_reg_t mfl_op_quantize_s8;
extern const mfl_op_reg_t mfl_op_pad_s8;
extern const mfl_op_reg_t mfl_op_mean_s8;
extern const mfl_op_reg_t mfl_op_strided_slice_s8;
extern const mfl_op_reg_t mfl_op_transpose_s8;

/* The 16x8 operators (an int16 output; int8 weights, int64 biases). */
extern const mfl_op_reg_t mfl_op_conv_2d_s16;
extern const mfl_op_reg_t mfl_op_transpose_conv_s16;
extern const mfl_op_reg_t mfl_op_add_s16;
extern const mfl_op_reg_t mfl_op_sub_s16;
extern const mfl_op_reg_t mfl_op_leaky_relu_s16;
extern const mfl_op_reg_t mfl_op_quantize_s16; /* int32 in, int16 out */
extern const mfl_op_reg_t mfl_op_pad_s16;
extern const mfl_op_reg_t mfl_op_strided_slice_s16;

/* Every registration above: what mfl_model_load() uses. */
extern const mfl_op_resolver_t mfl_ops_all;

/* What the loader refused, when an operator was the reason. */
typedef struct {
    uint16_t op;    /* index of the operator in the model; MFL_NONE: no operator was refused */
    uint8_t opcode; /* its enum mfl_opcode (mfl_opcode_name() names it) */
    uint8_t type;   /* its output tensor's enum mfl_tensor_type (0 if out of range) */
} mfl_op_refusal_t;

/*
 * mfl_model_load() with the operators of `ops` only: validates the image
 * (same checks and order), each operator through its registration, and
 * binds *model to `ops` (model->resolver), which the interpreter runs it
 * with.
 *  ops:  the resolver, owned by the caller, alive as long as *model is.
 *  why:  NULL, or filled on every return: the operator refused (index,
 *        opcode, output type), or op = MFL_NONE when no operator was (success,
 *        or an error of the header, tensors, graph or plan).
 * Returns what mfl_model_load() returns, and MFL_ERR_OP_NOT_REGISTERED for an
 * operator microfl has but `ops` does not register (MFL_ERR_UNSUPPORTED_OP
 * stays for one microfl has no kernel for, with that output type);
 * MFL_ERR_INVALID_ARG also for a NULL `ops` or a NULL entry in it. On error
 * *model is left unchanged.
 */
int mfl_model_load_ops(mfl_model_t *model, const void *image, size_t size, const mfl_op_resolver_t *ops,
                       mfl_op_refusal_t *why);

/* Does microfl have a kernel for opcode with this output type (int8: any
 * type but int16)? Registered or not: what tells MFL_ERR_UNSUPPORTED_OP
 * from MFL_ERR_OP_NOT_REGISTERED. */
int mfl_op_supported(int opcode, int out_type);

#ifdef __cplusplus
}
#endif

#endif /* MFL_OP_RESOLVER_H */
