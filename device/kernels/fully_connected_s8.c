/* FULLY_CONNECTED: picks the selected implementation. */
#include "dsp.h"
#include "fully_connected_acc.h"
#include "mfl/kernels.h"

void mfl_fully_connected_s8(const mfl_fc_params_t *params, const mfl_requant_t *requant,
                            int32_t batches, int32_t in_features, const int8_t *input,
                            int32_t out_features, const int8_t *weights, const int32_t *bias,
                            int8_t *output)
{
#if MFL_HAVE_DSP
    if (mfl_kernels_selected() == MFL_KERNELS_DSP) {
        mfl_fully_connected_s8_dsp(params, requant, batches, in_features, input, out_features, weights, bias,
                                   output);
        return;
    }
#endif
    mfl_fully_connected_s8_portable(params, requant, batches, in_features, input, out_features, weights, bias,
                                    output);
}

void mfl_fully_connected_acc_s8(int32_t in_features, const int8_t *input, int32_t input_offset, int32_t out_features,
                                const int8_t *weights, int32_t *acc)
{
#if MFL_HAVE_DSP
    if (mfl_kernels_selected() == MFL_KERNELS_DSP) {
        mfl_fully_connected_acc_s8_dsp(in_features, input, input_offset, out_features, weights, acc);
        return;
    }
#endif
    mfl_fully_connected_acc_s8_portable(in_features, input, input_offset, out_features, weights, acc);
}
