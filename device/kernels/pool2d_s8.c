/*
 * AVERAGE_POOL_2D and MAX_POOL_2D, int8 (TFLM reference pooling).
 * Both visit only the in-bounds part of each window; padding never counts.
 * The average divides by the number of in-bounds elements, rounding half
 * away from zero, and needs no requantization because input and output
 * share scale and zero point. A window with no in-bounds element (which the
 * loader rules out) yields 0 rather than a division by zero.
 */
#include "mfl/kernels.h"
#include "mfl/quant.h"

typedef struct {
    int32_t y0, y1, x0, x1; /* in-bounds window rows [y0, y1), columns [x0, x1) */
} pool_window_t;

static pool_window_t pool_window(const mfl_pool_params_t *p, const mfl_dims_t *in_dims,
                                 int32_t oy, int32_t ox)
{
    const int32_t in_y0 = oy * p->stride_h - p->pad_h;
    const int32_t in_x0 = ox * p->stride_w - p->pad_w;
    pool_window_t w;
    w.y0 = in_y0 > 0 ? in_y0 : 0;
    w.x0 = in_x0 > 0 ? in_x0 : 0;
    w.y1 = in_y0 + p->filter_h < in_dims->h ? in_y0 + p->filter_h : in_dims->h;
    w.x1 = in_x0 + p->filter_w < in_dims->w ? in_x0 + p->filter_w : in_dims->w;
    return w;
}

static int32_t rounded_average(int32_t sum, int32_t count)
{
    if (count <= 0) {
        return 0;
    }
    return sum > 0 ? (sum + count / 2) / count : (sum - count / 2) / count;
}

/* Reduces one channel over the window: the rounded mean or the maximum. */
static int32_t pool_channel(const int8_t *in_b, const mfl_dims_t *in_dims, const pool_window_t *w, int32_t c,
                            int is_max)
{
    int32_t sum = 0, count = 0, max = -128;
    for (int32_t y = w->y0; y < w->y1; y++) {
        const int8_t *row = in_b + (size_t)y * (size_t)in_dims->w * (size_t)in_dims->c;
        for (int32_t x = w->x0; x < w->x1; x++) {
            const int32_t v = row[(size_t)x * (size_t)in_dims->c + (size_t)c];
            sum += v;
            max = v > max ? v : max;
            count++;
        }
    }
    return is_max ? max : rounded_average(sum, count);
}

static void pool2d_s8(const mfl_pool_params_t *params, const mfl_dims_t *input_dims, const int8_t *input,
                      const mfl_dims_t *output_dims, int8_t *output, int is_max)
{
    const size_t in_batch_size = (size_t)input_dims->h * (size_t)input_dims->w * (size_t)input_dims->c;
    for (int32_t b = 0; b < output_dims->n; b++) {
        const int8_t *in_b = input + (size_t)b * in_batch_size;
        for (int32_t oy = 0; oy < output_dims->h; oy++) {
            for (int32_t ox = 0; ox < output_dims->w; ox++) {
                const pool_window_t w = pool_window(params, input_dims, oy, ox);
                for (int32_t c = 0; c < output_dims->c; c++) {
                    const int32_t v = pool_channel(in_b, input_dims, &w, c, is_max);
                    *output++ = (int8_t)mfl_quant_clamp(v, params->act_min, params->act_max);
                }
            }
        }
    }
}

void mfl_avg_pool2d_s8(const mfl_pool_params_t *params, const mfl_dims_t *input_dims,
                       const int8_t *input, const mfl_dims_t *output_dims, int8_t *output)
{
    pool2d_s8(params, input_dims, input, output_dims, output, 0);
}

void mfl_max_pool2d_s8(const mfl_pool_params_t *params, const mfl_dims_t *input_dims,
                       const int8_t *input, const mfl_dims_t *output_dims, int8_t *output)
{
    pool2d_s8(params, input_dims, input, output_dims, output, 1);
}
