/*
 * The operator registrations (mfl/op_resolver.h): for each operator and
 * output type, its loader check and its runner. A registration is a const
 * object of its own section (-fdata-sections), so a firmware links the
 * checks and kernels of the registrations it names and no other; mfl_ops_all
 * names them all. The idea is TensorFlow Lite Micro's
 * MicroMutableOpResolver; here a resolver is a table in flash.
 *
 * Invariant: mfl_ops_all lists every registration below, and
 * mfl_op_supported() is true of exactly those (opcode, type) pairs
 * (test_op_resolver checks both).
 */
#include "model_validate.h"

#define REG(name, opcode, type, check, run) const mfl_op_reg_t name = {opcode, type, check, run}

REG(mfl_op_conv_2d_s8, MFL_OP_CONV_2D, MFL_TYPE_INT8, mfl_check_conv_2d_s8, mfl_run_conv_2d_s8);
REG(mfl_op_depthwise_conv_2d_s8, MFL_OP_DEPTHWISE_CONV_2D, MFL_TYPE_INT8, mfl_check_depthwise_conv_2d_s8,
    mfl_run_depthwise_conv_2d_s8);
REG(mfl_op_fully_connected_s8, MFL_OP_FULLY_CONNECTED, MFL_TYPE_INT8, mfl_check_fully_connected_s8,
    mfl_run_fully_connected_s8);
REG(mfl_op_average_pool_2d_s8, MFL_OP_AVERAGE_POOL_2D, MFL_TYPE_INT8, mfl_check_pool_2d_s8,
    mfl_run_average_pool_2d_s8);
REG(mfl_op_max_pool_2d_s8, MFL_OP_MAX_POOL_2D, MFL_TYPE_INT8, mfl_check_pool_2d_s8, mfl_run_max_pool_2d_s8);
REG(mfl_op_add_s8, MFL_OP_ADD, MFL_TYPE_INT8, mfl_check_add_s8, mfl_run_add_s8);
REG(mfl_op_sub_s8, MFL_OP_SUB, MFL_TYPE_INT8, mfl_check_add_s8, mfl_run_sub_s8);
REG(mfl_op_mul_s8, MFL_OP_MUL, MFL_TYPE_INT8, mfl_check_mul_s8, mfl_run_mul_s8);
REG(mfl_op_maximum_s8, MFL_OP_MAXIMUM, MFL_TYPE_INT8, mfl_check_maximum_minimum_s8, mfl_run_maximum_s8);
REG(mfl_op_minimum_s8, MFL_OP_MINIMUM, MFL_TYPE_INT8, mfl_check_maximum_minimum_s8, mfl_run_minimum_s8);
REG(mfl_op_concatenation_s8, MFL_OP_CONCATENATION, MFL_TYPE_INT8, mfl_check_concatenation_s8,
    mfl_run_concatenation_s8);
REG(mfl_op_reshape_s8, MFL_OP_RESHAPE, MFL_TYPE_INT8, mfl_check_reshape_s8, mfl_run_reshape_s8);
REG(mfl_op_softmax_s8, MFL_OP_SOFTMAX, MFL_TYPE_INT8, mfl_check_softmax_s8, mfl_run_softmax_s8);
REG(mfl_op_relu_s8, MFL_OP_RELU, MFL_TYPE_INT8, mfl_check_requantize_s8, mfl_run_requantize_s8);
REG(mfl_op_relu6_s8, MFL_OP_RELU6, MFL_TYPE_INT8, mfl_check_relu6_s8, mfl_run_relu6_s8);
REG(mfl_op_leaky_relu_s8, MFL_OP_LEAKY_RELU, MFL_TYPE_INT8, mfl_check_leaky_relu_s8, mfl_run_leaky_relu_s8);
REG(mfl_op_logistic_s8, MFL_OP_LOGISTIC, MFL_TYPE_INT8, mfl_check_sigmoid_s8, mfl_run_logistic_s8);
REG(mfl_op_tanh_s8, MFL_OP_TANH, MFL_TYPE_INT8, mfl_check_sigmoid_s8, mfl_run_tanh_s8);
REG(mfl_op_hard_swish_s8, MFL_OP_HARD_SWISH, MFL_TYPE_INT8, mfl_check_hard_swish_s8, mfl_run_hard_swish_s8);
REG(mfl_op_quantize_s8, MFL_OP_QUANTIZE, MFL_TYPE_INT8, mfl_check_requantize_s8, mfl_run_requantize_s8);
REG(mfl_op_pad_s8, MFL_OP_PAD, MFL_TYPE_INT8, mfl_check_pad_s8, mfl_run_pad_s8);
REG(mfl_op_mean_s8, MFL_OP_MEAN, MFL_TYPE_INT8, mfl_check_mean_s8, mfl_run_mean_s8);
REG(mfl_op_strided_slice_s8, MFL_OP_STRIDED_SLICE, MFL_TYPE_INT8, mfl_check_strided_slice_s8,
    mfl_run_strided_slice_s8);
REG(mfl_op_transpose_s8, MFL_OP_TRANSPOSE, MFL_TYPE_INT8, mfl_check_transpose_s8, mfl_run_transpose_s8);

REG(mfl_op_conv_2d_s16, MFL_OP_CONV_2D, MFL_TYPE_INT16, mfl_check_conv_2d_s16, mfl_run_conv_2d_s16);
REG(mfl_op_transpose_conv_s16, MFL_OP_TRANSPOSE_CONV, MFL_TYPE_INT16, mfl_check_transpose_conv_s16,
    mfl_run_transpose_conv_s16);
REG(mfl_op_add_s16, MFL_OP_ADD, MFL_TYPE_INT16, mfl_check_add_s16, mfl_run_add_s16);
REG(mfl_op_sub_s16, MFL_OP_SUB, MFL_TYPE_INT16, mfl_check_add_s16, mfl_run_sub_s16);
REG(mfl_op_leaky_relu_s16, MFL_OP_LEAKY_RELU, MFL_TYPE_INT16, mfl_check_leaky_relu_s16, mfl_run_leaky_relu_s16);
REG(mfl_op_quantize_s16, MFL_OP_QUANTIZE, MFL_TYPE_INT16, mfl_check_quantize_s16, mfl_run_quantize_s16);
REG(mfl_op_pad_s16, MFL_OP_PAD, MFL_TYPE_INT16, mfl_check_pad_s16, mfl_run_pad_s16);
REG(mfl_op_strided_slice_s16, MFL_OP_STRIDED_SLICE, MFL_TYPE_INT16, mfl_check_strided_slice_s16,
    mfl_run_strided_slice_s16);

static const mfl_op_reg_t *const all_ops[] = {
    &mfl_op_conv_2d_s8, &mfl_op_depthwise_conv_2d_s8, &mfl_op_fully_connected_s8, &mfl_op_average_pool_2d_s8,
    &mfl_op_max_pool_2d_s8, &mfl_op_add_s8, &mfl_op_sub_s8, &mfl_op_mul_s8, &mfl_op_maximum_s8,
    &mfl_op_minimum_s8, &mfl_op_concatenation_s8, &mfl_op_reshape_s8, &mfl_op_softmax_s8, &mfl_op_relu_s8,
    &mfl_op_relu6_s8, &mfl_op_leaky_relu_s8, &mfl_op_logistic_s8, &mfl_op_tanh_s8, &mfl_op_hard_swish_s8,
    &mfl_op_quantize_s8, &mfl_op_pad_s8, &mfl_op_mean_s8, &mfl_op_strided_slice_s8, &mfl_op_transpose_s8,
    &mfl_op_conv_2d_s16, &mfl_op_transpose_conv_s16, &mfl_op_add_s16, &mfl_op_sub_s16, &mfl_op_leaky_relu_s16,
    &mfl_op_quantize_s16, &mfl_op_pad_s16, &mfl_op_strided_slice_s16,
};

const mfl_op_resolver_t mfl_ops_all = MFL_OP_RESOLVER(all_ops);

/* The registration key: every output type but int16 runs the int8 kernels
 * (whose checks refuse a type they do not take). */
static int key_type(int out_type)
{
    return out_type == MFL_TYPE_INT16 ? MFL_TYPE_INT16 : MFL_TYPE_INT8;
}

const mfl_op_reg_t *mfl_op_find(const mfl_op_resolver_t *r, int opcode, int out_type)
{
    const int type = key_type(out_type);
    for (size_t i = 0; i < r->count; i++) {
        if (r->ops[i]->opcode == opcode && r->ops[i]->type == type) {
            return r->ops[i];
        }
    }
    return NULL;
}

#define BIT(op) (1u << (op))
_Static_assert(MFL_OP_COUNT_ <= 32, "an opcode bit per operator");

int mfl_op_supported(int opcode, int out_type)
{
    /* The opcodes of the registrations above, by key type: bits, not the
     * table, so that asking does not link every kernel. */
    static const uint32_t s8 =
        BIT(MFL_OP_CONV_2D) | BIT(MFL_OP_DEPTHWISE_CONV_2D) | BIT(MFL_OP_FULLY_CONNECTED) |
        BIT(MFL_OP_AVERAGE_POOL_2D) | BIT(MFL_OP_MAX_POOL_2D) | BIT(MFL_OP_ADD) | BIT(MFL_OP_SUB) |
        BIT(MFL_OP_MUL) | BIT(MFL_OP_MAXIMUM) | BIT(MFL_OP_MINIMUM) | BIT(MFL_OP_CONCATENATION) |
        BIT(MFL_OP_RESHAPE) | BIT(MFL_OP_SOFTMAX) | BIT(MFL_OP_RELU) | BIT(MFL_OP_RELU6) | BIT(MFL_OP_LEAKY_RELU) |
        BIT(MFL_OP_LOGISTIC) | BIT(MFL_OP_TANH) | BIT(MFL_OP_HARD_SWISH) | BIT(MFL_OP_QUANTIZE) | BIT(MFL_OP_PAD) |
        BIT(MFL_OP_MEAN) | BIT(MFL_OP_STRIDED_SLICE) | BIT(MFL_OP_TRANSPOSE);
    static const uint32_t s16 = BIT(MFL_OP_CONV_2D) | BIT(MFL_OP_TRANSPOSE_CONV) | BIT(MFL_OP_ADD) |
                                BIT(MFL_OP_SUB) | BIT(MFL_OP_LEAKY_RELU) | BIT(MFL_OP_QUANTIZE) | BIT(MFL_OP_PAD) |
                                BIT(MFL_OP_STRIDED_SLICE);
    if (opcode <= 0 || opcode >= MFL_OP_COUNT_) {
        return 0;
    }
    return ((key_type(out_type) == MFL_TYPE_INT16 ? s16 : s8) & BIT(opcode)) != 0;
}
