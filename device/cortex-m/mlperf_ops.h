/*
 * The operators of the MLPerf Tiny models (kws, vww, ic, ad) and of the
 * Fashion-MNIST base model, all int8: what the MLPerf and the sync images
 * register (mfl/op_resolver.h), so that they link these kernels and no
 * other. A model using any other operator is refused at load with
 * MFL_ERR_OP_NOT_REGISTERED, the operator named in the refusal.
 */
#ifndef MFL_CORTEX_M_MLPERF_OPS_H
#define MFL_CORTEX_M_MLPERF_OPS_H

#include "mfl/op_resolver.h"

static const mfl_op_reg_t *const mlperf_op_table[] = {
    &mfl_op_conv_2d_s8, &mfl_op_depthwise_conv_2d_s8, &mfl_op_fully_connected_s8, &mfl_op_average_pool_2d_s8,
    &mfl_op_max_pool_2d_s8, &mfl_op_add_s8, &mfl_op_reshape_s8, &mfl_op_softmax_s8,
};

static const mfl_op_resolver_t mlperf_ops = MFL_OP_RESOLVER(mlperf_op_table);

#endif /* MFL_CORTEX_M_MLPERF_OPS_H */
