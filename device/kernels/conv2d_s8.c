/* CONV_2D: picks the selected implementation (portable or DSP) and says how
 * much scratch the DSP one needs. */
#include "dsp.h"
#include "mfl/kernels.h"

uint32_t mfl_conv2d_s8_get_buffer_size(const mfl_dims_t *input_dims, const mfl_dims_t *filter_dims)
{
    const uint32_t depth = (uint32_t)filter_dims->h * (uint32_t)filter_dims->w * (uint32_t)input_dims->c;
    return 2u * ((depth + 1u) & ~1u) * (uint32_t)sizeof(int16_t);
}

void mfl_conv2d_s8(const mfl_kernel_ctx_t *ctx, const mfl_conv_params_t *params, const mfl_requant_t *requant,
                   const mfl_dims_t *input_dims, const int8_t *input,
                   const mfl_dims_t *filter_dims, const int8_t *filter, const int32_t *bias,
                   const mfl_dims_t *output_dims, int8_t *output)
{
#if MFL_HAVE_DSP
    if (mfl_kernels_selected() == MFL_KERNELS_DSP && ctx && ctx->buf &&
        ctx->size >= mfl_conv2d_s8_get_buffer_size(input_dims, filter_dims)) {
        mfl_conv2d_s8_dsp(ctx, params, requant, input_dims, input, filter_dims, filter, bias, output_dims, output);
        return;
    }
#endif
    mfl_conv2d_s8_portable(ctx, params, requant, input_dims, input, filter_dims, filter, bias, output_dims, output);
}
