/*
 * A loaded model's inputs and outputs as the API reports them (model.h):
 * from format 3 the I/O table the loader checked, before it the header's
 * one input and one output with no recorded scale.
 */
#include "model_validate.h"

unsigned mfl_model_input_count(const mfl_model_t *model)
{
    return !model || !model->header ? 0u : model->io ? model->header->n_inputs : 1u;
}

unsigned mfl_model_output_count(const mfl_model_t *model)
{
    return !model || !model->header ? 0u : model->io ? model->header->n_outputs : 1u;
}

/* Entry `index` of the table (inputs first), or the header's tensor. */
static void io_info(const mfl_model_t *m, unsigned index, uint16_t legacy_tensor, mfl_io_info_t *info)
{
    const mfl_io_rec_t *r = m->io ? &m->io[index] : NULL;
    const uint16_t t = r ? r->tensor : legacy_tensor;
    info->tensor = t;
    info->type = r ? r->type : (uint8_t)MFL_IO_INT8;
    info->zero_point = m->tensors[t].zero_point;
    info->size = m->tensors[t].size;
    info->scale.m = r ? r->scale_m : 0;
    info->scale.e = r ? r->scale_e : 0;
    info->scale_f32 = r ? r->scale_f32 : 0u;
}

int mfl_model_input_info(const mfl_model_t *model, unsigned k, mfl_io_info_t *info)
{
    if (!info || k >= mfl_model_input_count(model)) {
        return MFL_ERR_INVALID_ARG;
    }
    io_info(model, k, model->header->input, info);
    return 0;
}

int mfl_model_output_info(const mfl_model_t *model, unsigned k, mfl_io_info_t *info)
{
    if (!info || k >= mfl_model_output_count(model)) {
        return MFL_ERR_INVALID_ARG;
    }
    io_info(model, model->io ? model->header->n_inputs + k : 0u, model->header->output, info);
    return 0;
}
