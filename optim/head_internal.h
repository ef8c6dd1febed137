/*
 * Shared between the parts of the head trainer (optim/head_*.c): the
 * forward pass of a learning step on a 16-bit shadow of the master.
 */
#ifndef MFL_OPTIM_HEAD_INTERNAL_H
#define MFL_OPTIM_HEAD_INTERNAL_H

#include "mfl/head.h"

/* Values per shadow row: the features rounded up to a multiple of 4 and
 * zero-padded (the forward pass unpacks four int8 features per load). */
static inline size_t mfl_head_shadow_width(uint16_t features)
{
    return ((size_t)features + 3u) & ~(size_t)3u;
}

/*
 * The shadow of the master for one step's forward pass: per unit i a
 * shift t_i >= 1 from the bit length L of the row's largest magnitude
 * (t_i = L - 14 when L > 15), w16 = round(W / 2^t_i) (ties up) in int16,
 * |w16| <= 2^14 (14 to 15 bits relative to the row's largest weight), each
 * group of four features
 * stored in the order 0, 2, 1, 3 (the order in which SXTAB16 unpacks four
 * int8 inputs), and scale[i] = s_x 2^t_i, which turns a row's sum of
 * w16 (x - zp_x) into a Q8.24 logit. w16: [units][mfl_head_shadow_width].
 */
void mfl_head_shadow(const mfl_head_t *h, int16_t *w16, mfl_scale_t *scale);

/* The Q8.24 logits z[units] of one int8 feature vector from the shadow:
 * z_i = b_i + scale_i sum_j w16_ij (x_j - zp_x), saturated; for rows of
 * up to 256 values truncated below 2^(e_i+1) (scale_i = m 2^(e_i - 31)),
 * wider ones rounded.
 * xt: scratch of mfl_head_shadow_width() int16 (4-byte aligned), left
 * holding the feature offsets in the shadow's order. */
void mfl_head_shadow_logits(const mfl_head_t *h, const int16_t *w16, const mfl_scale_t *scale, const int8_t *x,
                            int16_t *xt, int32_t *z);

#endif /* MFL_OPTIM_HEAD_INTERNAL_H */
