/* DEPTHWISE_CONV_2D: picks the selected implementation. The DSP kernel
 * covers depth multiplier 1 (every MobileNet-style model); other
 * multipliers run the portable one. */
#include "dsp.h"
#include "mfl/kernels.h"

void mfl_depthwise_conv2d_s8(const mfl_conv_params_t *params, const mfl_requant_t *requant,
                             const mfl_dims_t *input_dims, const int8_t *input,
                             const mfl_dims_t *filter_dims, const int8_t *filter,
                             const int32_t *bias, const mfl_dims_t *output_dims, int8_t *output)
{
#if MFL_HAVE_DSP
    if (mfl_kernels_selected() == MFL_KERNELS_DSP && output_dims->c == input_dims->c) {
        mfl_depthwise_conv2d_s8_dsp(params, requant, input_dims, input, filter_dims, filter, bias, output_dims,
                                    output);
        return;
    }
#endif
    mfl_depthwise_conv2d_s8_portable(params, requant, input_dims, input, filter_dims, filter, bias, output_dims,
                                     output);
}
