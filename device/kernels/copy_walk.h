/*
 * The data-movement walks PAD and STRIDED_SLICE share across element sizes
 * (int8 and int16 codes: TFLM's reference Pad and StridedSlice copy codes
 * unchanged, whatever their type). Each walker takes the element size in
 * bytes; the per-type kernels (pad_s8.c, pad_s16.c, strided_slice_s8.c,
 * strided_slice_s16.c) call them with a constant size, so that every copy
 * and fill below is inlined for that size: the int8 path keeps its memset
 * and byte moves.
 *
 * Shapes are right-aligned to four dimensions. The loader checked PAD's
 * output = before + input + after on every axis with non-negative
 * paddings, and that STRIDED_SLICE's first and last index of every axis lie
 * inside the input, so every offset is below the input's element count
 * (< 2^28) and fits int32.
 */
#ifndef MFL_KERNELS_COPY_WALK_H
#define MFL_KERNELS_COPY_WALK_H

#include <stdint.h>
#include <string.h>

#include "mfl/kernels.h"

#define MFL_COPY_WALK_INLINE static inline __attribute__((always_inline))

/* n elements of `size` bytes at dst set to value (its low size bytes). */
MFL_COPY_WALK_INLINE void mfl_fill_elems(uint8_t *dst, int32_t value, int32_t n, size_t size)
{
    if (size == 1) {
        memset(dst, value, (size_t)n);
        return;
    }
    const int16_t v16 = (int16_t)value; /* size 2, the only other one */
    for (int32_t i = 0; i < n; i++) {
        memcpy(dst + (size_t)i * size, &v16, sizeof(v16));
    }
}

/* PAD / PADV2: the input placed at offset `before` of each dimension of
 * the output, every other element the pad value (an int8 or int16 code). */
MFL_COPY_WALK_INLINE void mfl_pad_walk(const mfl_pad_params_t *params, const int32_t input_dims[4],
                                       const void *input, void *output, size_t size)
{
    const uint8_t *in = input;
    uint8_t *out = output;
    int32_t out_dims[4];
    for (int i = 0; i < 4; i++) {
        out_dims[i] = params->before[i] + input_dims[i] + params->after[i];
    }
    const int32_t row = out_dims[3], before = params->before[3], width = input_dims[3];
    const int32_t pad = params->pad_value;
    for (int32_t a = 0; a < out_dims[0]; a++) {
        const int32_t ia = a - params->before[0];
        for (int32_t b = 0; b < out_dims[1]; b++) {
            const int32_t ib = b - params->before[1];
            for (int32_t c = 0; c < out_dims[2]; c++) {
                const int32_t ic = c - params->before[2];
                const int inside = ia >= 0 && ia < input_dims[0] && ib >= 0 && ib < input_dims[1] && ic >= 0 &&
                                   ic < input_dims[2];
                if (!inside) {
                    mfl_fill_elems(out, pad, row, size);
                } else {
                    const size_t at =
                        (((size_t)ia * (size_t)input_dims[1] + (size_t)ib) * (size_t)input_dims[2] +
                         (size_t)ic) *
                        (size_t)width;
                    mfl_fill_elems(out, pad, before, size);
                    memcpy(out + (size_t)before * size, in + at * size, (size_t)width * size);
                    mfl_fill_elems(out + (size_t)(before + width) * size, pad, params->after[3], size);
                }
                out += (size_t)row * size;
            }
        }
    }
}

/* STRIDED_SLICE: along each dimension the elements start, start + stride,
 * ..., count of them (stride of either sign), in order. */
MFL_COPY_WALK_INLINE void mfl_strided_slice_walk(const mfl_slice_params_t *params, const int32_t input_dims[4],
                                                 const void *input, void *output, size_t size)
{
    const uint8_t *in = input;
    uint8_t *out = output;
    const mfl_slice_params_t p = *params;
    const int32_t s2 = input_dims[3], s1 = s2 * input_dims[2], s0 = s1 * input_dims[1];
    for (int32_t a = 0; a < p.count[0]; a++) {
        const int32_t oa = (p.start[0] + a * p.stride[0]) * s0;
        for (int32_t b = 0; b < p.count[1]; b++) {
            const int32_t ob = oa + (p.start[1] + b * p.stride[1]) * s1;
            for (int32_t c = 0; c < p.count[2]; c++) {
                const uint8_t *src =
                    in + (size_t)(ob + (p.start[2] + c * p.stride[2]) * s2 + p.start[3]) * size;
                const ptrdiff_t step = (ptrdiff_t)p.stride[3] * (ptrdiff_t)size;
                for (int32_t d = 0; d < p.count[3]; d++, out += size) {
                    memcpy(out, src + d * step, size);
                }
            }
        }
    }
}

#endif /* MFL_KERNELS_COPY_WALK_H */
