/* TRANSPOSE_CONV 16x8: runs the selected implementation (portable or DSP;
 * see mfl_kernels_select() in include/mfl/kernels.h). Neither needs
 * scratch. */
#include "dsp.h"
#include "mfl/kernels_s16.h"

void mfl_transpose_conv2d_s16(const mfl_conv_params_t *params, const mfl_requant_t *requant,
                              const mfl_dims_t *input_dims, const int16_t *input, const mfl_dims_t *filter_dims,
                              const int8_t *filter, const int64_t *bias, const mfl_dims_t *output_dims,
                              int16_t *output)
{
#if MFL_HAVE_DSP
    if (mfl_kernels_selected() == MFL_KERNELS_DSP) {
        mfl_transpose_conv2d_s16_dsp(params, requant, input_dims, input, filter_dims, filter, bias, output_dims,
                                     output);
        return;
    }
#endif
    mfl_transpose_conv2d_s16_portable(params, requant, input_dims, input, filter_dims, filter, bias, output_dims,
                                      output);
}
