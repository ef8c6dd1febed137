/*
 * The broadcast walk shared by the binary operators (ADD, SUB, MUL,
 * MAXIMUM, MINIMUM), following TFLite's broadcasting rule: shapes
 * right-aligned to four dimensions, each input of the output's size or 1
 * on every axis.
 *
 * Neighbouring axes on which both inputs behave alike (each either spans
 * the axis or is broadcast along it) are merged into one, since walking
 * them together reads the same elements in the same order: equal shapes
 * become one axis (a single flat run, the fast path), [N,H,W,C] against
 * [1,1,1,C] two ([N*H*W] over [C]). Three patterns exist per axis (both
 * span; only in1; only in2: an axis where both are 1 has output size 1
 * and is skipped), so at most four merged axes remain. The innermost one
 * becomes the run handed to the operator with steps of 0 or 1; an input
 * that spans it is contiguous there because every axis inside it has size
 * 1. The outer ones are walked with each input's stride (0 when it is
 * broadcast). Strides are products of dimensions the loader bounded
 * (elements <= 2^28), so they fit in size_t on every target.
 */
#include <stddef.h>

#include "kernel_util.h"

void mfl_broadcast_walk_s8(mfl_binary_run_t run, const void *params, const mfl_broadcast_t *shape,
                           const int8_t *in1, const int8_t *in2, int8_t *out)
{
    /* merged axes, innermost first */
    int32_t size[4] = {1, 1, 1, 1};
    size_t stride1[4] = {0, 0, 0, 0}, stride2[4] = {0, 0, 0, 0};
    int full1[4] = {0, 0, 0, 0}, full2[4] = {0, 0, 0, 0};
    size_t elems1 = 1, elems2 = 1; /* each input's elements inside the current axis */
    int k = 0;
    for (int i = 3; i >= 0; i--) {
        const int32_t n = shape->out[i];
        if (n == 1) {
            continue;
        }
        const int f1 = shape->in1[i] == n;
        const int f2 = shape->in2[i] == n;
        if (k > 0 && full1[k - 1] == f1 && full2[k - 1] == f2) {
            size[k - 1] *= n;
        } else {
            size[k] = n;
            full1[k] = f1;
            full2[k] = f2;
            stride1[k] = f1 ? elems1 : 0;
            stride2[k] = f2 ? elems2 : 0;
            k++;
        }
        elems1 *= (size_t)shape->in1[i];
        elems2 *= (size_t)shape->in2[i];
    }
    const int32_t step1 = full1[0], step2 = full2[0];
    for (int32_t a = 0; a < size[3]; a++) {
        for (int32_t b = 0; b < size[2]; b++) {
            for (int32_t c = 0; c < size[1]; c++) {
                const size_t o1 = (size_t)a * stride1[3] + (size_t)b * stride1[2] + (size_t)c * stride1[1];
                const size_t o2 = (size_t)a * stride2[3] + (size_t)b * stride2[2] + (size_t)c * stride2[1];
                run(params, size[0], in1 + o1, step1, in2 + o2, step2, out);
                out += size[0];
            }
        }
    }
}
