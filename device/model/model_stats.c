/* Figures about a loaded model: multiply-accumulates and parameter counts. */
#include "model_validate.h"

uint64_t mfl_model_op_macs(const mfl_model_t *m, uint16_t index)
{
    if (!m || !m->header || index >= m->header->n_ops) {
        return 0;
    }
    const mfl_op_rec_t *op = &m->ops[index];
    const mfl_tensor_rec_t *out = &m->tensors[op->output];
    const uint64_t out_elems = mfl_tensor_elements(out);
    switch (op->opcode) {
    case MFL_OP_CONV_2D: {
        const mfl_tensor_rec_t *f = &m->tensors[op->inputs[1]];
        return out_elems * (uint64_t)f->dims[1] * (uint64_t)f->dims[2] * (uint64_t)f->dims[3];
    }
    case MFL_OP_DEPTHWISE_CONV_2D: {
        const mfl_tensor_rec_t *f = &m->tensors[op->inputs[1]];
        return out_elems * (uint64_t)f->dims[1] * (uint64_t)f->dims[2];
    }
    case MFL_OP_FULLY_CONNECTED:
        return out_elems * (uint64_t)m->tensors[op->inputs[1]].dims[1];
    case MFL_OP_TRANSPOSE_CONV: { /* every input element through every tap to every output channel */
        const mfl_tensor_rec_t *f = &m->tensors[op->inputs[1]];
        return mfl_tensor_elements(&m->tensors[op->inputs[0]]) * (uint64_t)f->dims[0] * (uint64_t)f->dims[1] *
               (uint64_t)f->dims[2];
    }
    default:
        return 0;
    }
}

uint64_t mfl_model_param_count(const mfl_model_t *m)
{
    uint64_t n = 0;
    for (uint16_t i = 0; m && m->header && i < m->header->n_tensors; i++) {
        if (m->tensors[i].flags & MFL_TENSOR_CONST) {
            n += mfl_tensor_elements(&m->tensors[i]);
        }
    }
    return n;
}

/* Whether op k reads tensor t. */
static int reads(const mfl_op_rec_t *op, uint16_t t)
{
    for (uint8_t i = 0; i < op->n_inputs && i < 3; i++) {
        if (op->inputs[i] == t) {
            return 1;
        }
    }
    return 0;
}

/* Whether op k is a RESHAPE whose output shares its input's memory (the
 * planner's rule: same size). */
static int aliasing(const mfl_model_t *m, const mfl_op_rec_t *op)
{
    return op->opcode == MFL_OP_RESHAPE && m->tensors[op->inputs[0]].size == m->tensors[op->output].size;
}

/* Tensor t's own lifetime in op indices: from the op writing it (-1: a
 * model input, there before the first op) to the last op reading it
 * (n_ops: written and read by none, a model output, alive after the last
 * op); a kernel's scratch lives during its op. *last < 0: not used. */
static void own_lifetime(const mfl_model_t *m, uint16_t t, int32_t *first, int32_t *last)
{
    const int32_t n = m->header->n_ops;
    int written = 0, read = 0;
    *first = -1;
    *last = -1;
    for (int32_t k = 0; k < n; k++) {
        const mfl_op_rec_t *op = &m->ops[k];
        if (op->output == t || mfl_op_scratch(m, op) == t) {
            *first = k;
            *last = k > *last ? k : *last;
            written = op->output == t;
        }
        if (reads(op, t)) {
            *last = k;
            read = 1;
        }
    }
    if (written && !read) {
        *last = n;
    }
}

/* The last op that needs t's memory: its own last use, or that of a
 * RESHAPE output sharing it (chains followed; depth below n_ops). */
static int32_t memory_last(const mfl_model_t *m, uint16_t t, int depth)
{
    int32_t first, last;
    own_lifetime(m, t, &first, &last);
    for (uint16_t k = 0; depth < m->header->n_ops && k < m->header->n_ops; k++) {
        const mfl_op_rec_t *op = &m->ops[k];
        if (aliasing(m, op) && op->inputs[0] == t) {
            const int32_t child = memory_last(m, op->output, depth + 1);
            last = child > last ? child : last;
        }
    }
    return last;
}

/* Whether t occupies arena bytes of its own, and when: constants and
 * unused tensors do not, nor a RESHAPE output sharing its input's. */
static int arena_lifetime(const mfl_model_t *m, uint16_t t, int32_t *first, int32_t *last)
{
    if (m->tensors[t].flags & MFL_TENSOR_CONST) {
        return 0;
    }
    own_lifetime(m, t, first, last);
    if (*last < 0 || (*first >= 0 && m->ops[*first].output == t && aliasing(m, &m->ops[*first]))) {
        return 0;
    }
    *last = memory_last(m, t, 0);
    return 1;
}

uint32_t mfl_model_arena_lower_bound(const mfl_model_t *m)
{
    if (!m || !m->header) {
        return 0;
    }
    uint32_t peak = 0;
    for (int32_t k = -1; k <= (int32_t)m->header->n_ops; k++) {
        uint32_t live = 0;
        for (uint16_t t = 0; t < m->header->n_tensors; t++) {
            int32_t first, last;
            if (arena_lifetime(m, t, &first, &last) && first <= k && k <= last) {
                live += m->tensors[t].size;
            }
        }
        peak = live > peak ? live : peak;
    }
    return peak;
}
