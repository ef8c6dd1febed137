/*
 * ADD and SUB, int8 (TFLM reference integer Add, BroadcastAdd; Sub,
 * BroadcastQuantSubSlow). Each input is offset to zero, scaled up by
 * 2^left_shift (20 in TFLite) for headroom, rescaled to a common scale of
 * twice the larger input scale, summed (or subtracted), and rescaled to
 * the output. With |input + offset| <= 255 and left_shift <= 22 (the
 * loader's bound) the shifted values stay below 2^30; rescaled by
 * multipliers below one (shifts <= 0, also the loader's bound) they stay
 * below 2^30 in magnitude, so the sum or difference cannot overflow either.
 *
 * The branch-free requantization is exact here: the loader admits only
 * multipliers >= 0. An operand read with step 0 (broadcast along the run)
 * is rescaled once per run instead of once per element: same bits. From
 * ADD_TABLE_MIN outputs on, each input's rescaled value is tabulated once
 * for all 256 codes (2 KB of stack for the two tables) and looked up:
 * again the same bits, for a third of the multiplications (on the
 * Cortex-M4 about 25 instructions an element instead of 75).
 */
#include "kernel_util.h"

static inline int32_t scale_input(int32_t code, int32_t offset, int32_t left_shift, int32_t multiplier,
                                  int32_t shift)
{
    return mfl_quant_mul_by_qm_fast(mfl_quant_shl_wrap(offset + code, left_shift), multiplier, shift);
}

static inline int8_t finish(const mfl_add_params_t *p, int32_t raw)
{
    const int32_t out = mfl_quant_add_wrap(mfl_quant_mul_by_qm_fast(raw, p->output_multiplier, p->output_shift),
                                           p->output_offset);
    return (int8_t)mfl_quant_clamp(out, p->act_min, p->act_max);
}

/* s1 + s2 (ADD, sign > 0) or s1 - s2 (SUB); in the loader's bounds neither
 * overflows, the wrapping forms only keep C's arithmetic defined. */
static inline int32_t combine(int32_t sign, int32_t s1, int32_t s2)
{
    return sign > 0 ? mfl_quant_add_wrap(s1, s2) : mfl_quant_sub_wrap(s1, s2);
}

static inline void add_run(const mfl_add_params_t *params, int32_t sign, int32_t n, const int8_t *in1,
                           int32_t step1, const int8_t *in2, int32_t step2, int8_t *out)
{
    /* Locals: the int8 stores may alias the parameter struct, which would
     * make the compiler reload every field for every element. */
    const mfl_add_params_t p = *params;
    if (step2 == 0) {
        const int32_t s2 =
            scale_input(*in2, p.input2_offset, p.left_shift, p.input2_multiplier, p.input2_shift);
        for (int32_t i = 0; i < n; i++, in1 += step1) {
            const int32_t s1 =
                scale_input(*in1, p.input1_offset, p.left_shift, p.input1_multiplier, p.input1_shift);
            out[i] = finish(&p, combine(sign, s1, s2));
        }
    } else if (step1 == 0) {
        const int32_t s1 =
            scale_input(*in1, p.input1_offset, p.left_shift, p.input1_multiplier, p.input1_shift);
        for (int32_t i = 0; i < n; i++, in2 += step2) {
            const int32_t s2 =
                scale_input(*in2, p.input2_offset, p.left_shift, p.input2_multiplier, p.input2_shift);
            out[i] = finish(&p, combine(sign, s1, s2));
        }
    } else {
        for (int32_t i = 0; i < n; i++) {
            const int32_t s1 =
                scale_input(in1[i], p.input1_offset, p.left_shift, p.input1_multiplier, p.input1_shift);
            const int32_t s2 =
                scale_input(in2[i], p.input2_offset, p.left_shift, p.input2_multiplier, p.input2_shift);
            out[i] = finish(&p, combine(sign, s1, s2));
        }
    }
}

/* Outputs from which tabulating the two inputs' 256 rescaled codes (512
 * rescalings) costs less than rescaling two inputs per output. */
#define ADD_TABLE_MIN 512

typedef struct {
    mfl_add_params_t p;
    int32_t s1[256], s2[256]; /* rescaled inputs, indexed by the code as uint8_t */
} add_tables_t;

static void add_tables_fill(add_tables_t *t, const mfl_add_params_t *params)
{
    t->p = *params;
    for (int32_t code = -128; code <= 127; code++) {
        t->s1[(uint8_t)code] = scale_input(code, t->p.input1_offset, t->p.left_shift, t->p.input1_multiplier,
                                           t->p.input1_shift);
        t->s2[(uint8_t)code] = scale_input(code, t->p.input2_offset, t->p.left_shift, t->p.input2_multiplier,
                                           t->p.input2_shift);
    }
}

static inline void add_table_run(const add_tables_t *t, int32_t sign, int32_t n, const int8_t *in1, int32_t step1,
                                 const int8_t *in2, int32_t step2, int8_t *out)
{
    const mfl_add_params_t p = t->p; /* locals: the int8 stores may alias the tables' struct */
    for (int32_t i = 0; i < n; i++, in1 += step1, in2 += step2) {
        out[i] = finish(&p, combine(sign, t->s1[(uint8_t)*in1], t->s2[(uint8_t)*in2]));
    }
}

static void add_table_run_fn(const void *tables, int32_t n, const int8_t *in1, int32_t step1, const int8_t *in2,
                             int32_t step2, int8_t *out)
{
    add_table_run(tables, 1, n, in1, step1, in2, step2, out);
}

static void sub_table_run_fn(const void *tables, int32_t n, const int8_t *in1, int32_t step1, const int8_t *in2,
                             int32_t step2, int8_t *out)
{
    add_table_run(tables, -1, n, in1, step1, in2, step2, out);
}

static void add_run_fn(const void *params, int32_t n, const int8_t *in1, int32_t step1, const int8_t *in2,
                       int32_t step2, int8_t *out)
{
    add_run(params, 1, n, in1, step1, in2, step2, out);
}

static void sub_run_fn(const void *params, int32_t n, const int8_t *in1, int32_t step1, const int8_t *in2,
                       int32_t step2, int8_t *out)
{
    add_run(params, -1, n, in1, step1, in2, step2, out);
}

static int32_t broadcast_size(const mfl_broadcast_t *shape)
{
    return shape->out[0] * shape->out[1] * shape->out[2] * shape->out[3];
}

void mfl_add_s8(const mfl_add_params_t *params, int32_t size, const int8_t *input1, const int8_t *input2,
                int8_t *output)
{
    if (size >= ADD_TABLE_MIN) {
        add_tables_t t;
        add_tables_fill(&t, params);
        add_table_run(&t, 1, size, input1, 1, input2, 1, output);
    } else {
        add_run(params, 1, size, input1, 1, input2, 1, output);
    }
}

void mfl_add_s8_broadcast(const mfl_add_params_t *params, const mfl_broadcast_t *shape, const int8_t *input1,
                          const int8_t *input2, int8_t *output)
{
    if (broadcast_size(shape) >= ADD_TABLE_MIN) {
        add_tables_t t;
        add_tables_fill(&t, params);
        mfl_broadcast_walk_s8(add_table_run_fn, &t, shape, input1, input2, output);
    } else {
        mfl_broadcast_walk_s8(add_run_fn, params, shape, input1, input2, output);
    }
}

void mfl_sub_s8_broadcast(const mfl_add_params_t *params, const mfl_broadcast_t *shape, const int8_t *input1,
                          const int8_t *input2, int8_t *output)
{
    if (broadcast_size(shape) >= ADD_TABLE_MIN) {
        add_tables_t t;
        add_tables_fill(&t, params);
        mfl_broadcast_walk_s8(sub_table_run_fn, &t, shape, input1, input2, output);
    } else {
        mfl_broadcast_walk_s8(sub_run_fn, params, shape, input1, input2, output);
    }
}
