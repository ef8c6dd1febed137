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
