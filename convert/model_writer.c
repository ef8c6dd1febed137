/*
 * Builder of microfl model images (host only). Keeps tensors, ops and a
 * growing data blob; finish() plans the arena and writes header, tables and
 * data in the layout of model.h, then loads the result as a self-check.
 */
#include <stdlib.h>
#include <string.h>

#include "mfl/kernels.h"
#include "mfl/host/model_writer.h"
#include "mfl/planner.h"
#include "mfl/host/quant_host.h"

struct mfl_model_builder {
    mfl_tensor_rec_t *tensors;
    size_t n_tensors, cap_tensors;
    mfl_op_rec_t *ops;
    size_t n_ops, cap_ops;
    uint8_t *data;
    size_t data_size, cap_data;
    uint16_t head_op, feature;
    uint32_t head_params_offset, head_params_size;
    mfl_io_rec_t inputs[MFL_MODEL_MAX_IO], outputs[MFL_MODEL_MAX_IO];
    unsigned n_inputs, n_outputs;
};

static int grow(void **ptr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) {
        return 0;
    }
    size_t cap2 = *cap ? *cap * 2 : 64;
    while (cap2 < need) {
        cap2 *= 2;
    }
    void *p = realloc(*ptr, cap2 * elem);
    if (!p) {
        return MFL_ERR_NO_MEMORY;
    }
    *ptr = p;
    *cap = cap2;
    return 0;
}

/* Appends bytes to the data blob at a MFL_MODEL_DATA_ALIGN boundary. */
static int append_data(mfl_model_builder_t *b, const void *src, size_t len, uint32_t *offset)
{
    const size_t start = (b->data_size + MFL_MODEL_DATA_ALIGN - 1) & ~(size_t)(MFL_MODEL_DATA_ALIGN - 1);
    if (start + len > UINT32_MAX / 2) {
        return MFL_ERR_MODEL_LIMITS;
    }
    int err = grow((void **)&b->data, &b->cap_data, start + len, 1);
    if (err) {
        return err;
    }
    if (start > b->data_size) { /* (b->data may still be NULL when nothing was appended) */
        memset(b->data + b->data_size, 0, start - b->data_size);
    }
    if (len) {
        memcpy(b->data + start, src, len);
    }
    b->data_size = start + len;
    *offset = (uint32_t)start;
    return 0;
}

int mfl_builder_new(mfl_model_builder_t **builder)
{
    if (!builder) {
        return MFL_ERR_INVALID_ARG;
    }
    *builder = calloc(1, sizeof(**builder));
    if (!*builder) {
        return MFL_ERR_NO_MEMORY;
    }
    (*builder)->head_op = (*builder)->feature = MFL_NONE;
    return 0;
}

void mfl_builder_free(mfl_model_builder_t *b)
{
    if (b) {
        free(b->tensors);
        free(b->ops);
        free(b->data);
        free(b);
    }
}

int mfl_builder_add_tensor(mfl_model_builder_t *b, int type, int rank, const int32_t *dims,
                           int32_t zero_point, const void *data, uint16_t *index)
{
    if (!b || !dims || !index || rank < 1 || rank > 4 || type < MFL_TYPE_INT8 || type > MFL_TYPE_INT64) {
        return MFL_ERR_INVALID_ARG;
    }
    if (b->n_tensors >= MFL_MAX_TENSORS) {
        return MFL_ERR_MODEL_LIMITS;
    }
    int err = grow((void **)&b->tensors, &b->cap_tensors, b->n_tensors + 1, sizeof(mfl_tensor_rec_t));
    if (err) {
        return err;
    }
    mfl_tensor_rec_t t = {.type = (uint8_t)type, .rank = (uint8_t)rank, .zero_point = zero_point,
                          .dims = {1, 1, 1, 1}};
    uint64_t elements = 1;
    for (int i = 0; i < rank; i++) {
        if (dims[i] < 1) {
            return MFL_ERR_INVALID_ARG;
        }
        t.dims[i] = dims[i];
        elements *= (uint64_t)dims[i];
    }
    static const uint8_t elem_sizes[] = {0, 1, 4, 2, 8}; /* by enum mfl_tensor_type */
    const uint64_t bytes = elements * elem_sizes[type];
    if (bytes > UINT32_MAX / 2) {
        return MFL_ERR_MODEL_LIMITS;
    }
    t.size = (uint32_t)bytes;
    if (data) {
        t.flags = MFL_TENSOR_CONST;
        err = append_data(b, data, t.size, &t.offset);
        if (err) {
            return err;
        }
    }
    b->tensors[b->n_tensors] = t;
    *index = (uint16_t)b->n_tensors++;
    return 0;
}

int mfl_builder_add_op(mfl_model_builder_t *b, int opcode, int n_inputs, const uint16_t *inputs,
                       uint16_t output, const int32_t *params, size_t n_params)
{
    if (!b || n_inputs < 1 || n_inputs > 3 || !inputs || (n_params && !params)) {
        return MFL_ERR_INVALID_ARG;
    }
    if (b->n_ops >= MFL_MAX_OPS) {
        return MFL_ERR_MODEL_LIMITS;
    }
    int err = grow((void **)&b->ops, &b->cap_ops, b->n_ops + 1, sizeof(mfl_op_rec_t));
    if (err) {
        return err;
    }
    mfl_op_rec_t op = {.opcode = (uint8_t)opcode, .n_inputs = (uint8_t)n_inputs, .output = output,
                       .inputs = {MFL_NONE, MFL_NONE, MFL_NONE}, .scratch = MFL_NONE};
    for (int k = 0; k < n_inputs; k++) {
        op.inputs[k] = inputs[k];
    }
    op.params_size = (uint32_t)(n_params * sizeof(int32_t));
    err = append_data(b, params, op.params_size, &op.params_offset);
    if (err) {
        return err;
    }
    b->ops[b->n_ops++] = op;
    return 0;
}

int mfl_builder_set_io(mfl_model_builder_t *b, uint16_t input, uint16_t output)
{
    if (!b || input >= b->n_tensors || output >= b->n_tensors) {
        return MFL_ERR_INVALID_ARG;
    }
    b->n_inputs = b->n_outputs = 0;
    int err = mfl_builder_add_input(b, input, MFL_IO_INT8, 0.0f);
    return err ? err : mfl_builder_add_output(b, output, MFL_IO_INT8, 0.0f);
}

/* An I/O table entry for tensor t: scale 0 is "not recorded" (int8 only). */
static int io_rec(const mfl_model_builder_t *b, uint16_t t, int type, float scale, mfl_io_rec_t *r)
{
    if (t >= b->n_tensors || (b->tensors[t].flags & MFL_TENSOR_CONST) ||
        (type != MFL_IO_INT8 && type != MFL_IO_FLOAT32) || (type == MFL_IO_FLOAT32 && scale == 0.0f)) {
        return MFL_ERR_INVALID_ARG;
    }
    *r = (mfl_io_rec_t){.tensor = t, .type = (uint8_t)type};
    if (scale != 0.0f) {
        mfl_scale_t s;
        memcpy(&r->scale_f32, &scale, sizeof(scale));
        if (mfl_scale_from_f32_bits(r->scale_f32, &s) != 0) {
            return MFL_ERR_INVALID_ARG;
        }
        r->scale_m = s.m;
        r->scale_e = s.e;
    }
    return 0;
}

int mfl_builder_add_input(mfl_model_builder_t *b, uint16_t tensor, int type, float scale)
{
    if (!b) {
        return MFL_ERR_INVALID_ARG;
    }
    if (b->n_inputs >= MFL_MODEL_MAX_IO) {
        return MFL_ERR_MODEL_LIMITS;
    }
    int err = io_rec(b, tensor, type, scale, &b->inputs[b->n_inputs]);
    b->n_inputs += err == 0;
    return err;
}

int mfl_builder_add_output(mfl_model_builder_t *b, uint16_t tensor, int type, float scale)
{
    if (!b) {
        return MFL_ERR_INVALID_ARG;
    }
    if (b->n_outputs >= MFL_MODEL_MAX_IO) {
        return MFL_ERR_MODEL_LIMITS;
    }
    int err = io_rec(b, tensor, type, scale, &b->outputs[b->n_outputs]);
    b->n_outputs += err == 0;
    return err;
}

int mfl_builder_set_head(mfl_model_builder_t *b, uint16_t head_op, double feature_scale, double output_scale,
                         const double *weight_scales, int units)
{
    if (!b || head_op >= b->n_ops || b->ops[head_op].opcode != MFL_OP_FULLY_CONNECTED || !weight_scales ||
        units != b->tensors[b->ops[head_op].inputs[1]].dims[0] || !(feature_scale > 0) || !(output_scale > 0)) {
        return MFL_ERR_INVALID_ARG;
    }
    const size_t n_words = sizeof(mfl_head_rec_t) / 4 + 2 * (size_t)units;
    int32_t *words = calloc(n_words, sizeof(int32_t));
    if (!words) {
        return MFL_ERR_NO_MEMORY;
    }
    mfl_quant_scale_to_fixed(feature_scale, &words[0], &words[1]);
    mfl_quant_scale_to_fixed(output_scale, &words[2], &words[3]);
    int err = 0;
    for (int i = 0; i < units && !err; i++) {
        err = weight_scales[i] > 0 ? 0 : MFL_ERR_INVALID_ARG;
        mfl_quant_scale_to_fixed(weight_scales[i], &words[4 + i], &words[4 + units + i]);
    }
    if (!err) {
        err = append_data(b, words, n_words * sizeof(int32_t), &b->head_params_offset);
    }
    free(words);
    if (err) {
        return err;
    }
    b->head_params_size = (uint32_t)(n_words * sizeof(int32_t));
    b->head_op = head_op;
    b->feature = b->ops[head_op].inputs[0];
    return 0;
}

uint16_t mfl_builder_op_count(const mfl_model_builder_t *b)
{
    return b ? (uint16_t)b->n_ops : 0;
}

/* Lifetimes of activation tensors; reshape outputs alias their input. */
static void fill_plan_items(const mfl_model_builder_t *b, mfl_plan_item_t *items)
{
    for (size_t t = 0; t < b->n_tensors; t++) {
        const int is_act = !(b->tensors[t].flags & MFL_TENSOR_CONST);
        items[t] = (mfl_plan_item_t){is_act ? b->tensors[t].size : 0, INT32_MAX, -1, -1};
    }
    for (unsigned k = 0; k < b->n_inputs; k++) {
        items[b->inputs[k].tensor].first = -1;
    }
    for (size_t i = 0; i < b->n_ops; i++) {
        const mfl_op_rec_t *op = &b->ops[i];
        mfl_plan_item_t *out = &items[op->output];
        out->first = out->first < (int32_t)i ? out->first : (int32_t)i;
        out->last = out->last > (int32_t)i ? out->last : (int32_t)i;
        for (int k = 0; k < op->n_inputs; k++) {
            if (op->inputs[k] != MFL_NONE) {
                items[op->inputs[k]].last = (int32_t)i;
            }
        }
        if (op->opcode == MFL_OP_RESHAPE && items[op->inputs[0]].size == out->size) {
            out->alias = op->inputs[0];
        }
        if (op->scratch != MFL_NONE) { /* lives during its op only */
            items[op->scratch].first = items[op->scratch].last = (int32_t)i;
        }
    }
    for (unsigned k = 0; k < b->n_outputs; k++) {
        items[b->outputs[k].tensor].last = (int32_t)b->n_ops;
    }
    for (size_t t = 0; t < b->n_tensors; t++) {
        if (items[t].first == INT32_MAX) { /* never written: not planned */
            items[t].size = 0;
            items[t].first = items[t].last = -1;
        }
    }
}

/* Gives every CONV_2D the scratch its DSP kernel needs, as a tensor the
 * planner places in the arena for that op only (the portable kernel ignores
 * it, so one image serves both paths). */
static int add_scratch(mfl_model_builder_t *b)
{
    for (size_t i = 0; i < b->n_ops; i++) {
        mfl_op_rec_t *op = &b->ops[i];
        if (op->opcode != MFL_OP_CONV_2D || op->scratch != MFL_NONE ||
            b->tensors[op->inputs[0]].type != MFL_TYPE_INT8) { /* 16x8 convolutions take none */
            continue;
        }
        const mfl_tensor_rec_t *in = &b->tensors[op->inputs[0]], *f = &b->tensors[op->inputs[1]];
        const mfl_dims_t in_dims = {in->dims[0], in->dims[1], in->dims[2], in->dims[3]};
        const mfl_dims_t f_dims = {f->dims[0], f->dims[1], f->dims[2], f->dims[3]};
        /* [8, bytes / 8]: no dimension above the loader's 65,535 even for
         * the deepest kernel it admits (bytes = 4 * depth rounded to even) */
        const int32_t bytes = (int32_t)mfl_conv2d_s8_get_buffer_size(&in_dims, &f_dims);
        const int32_t dims[2] = {8, bytes / 8};
        uint16_t t;
        int err = mfl_builder_add_tensor(b, MFL_TYPE_INT8, 2, dims, 0, NULL, &t);
        if (err) {
            return err;
        }
        op->scratch = t;
    }
    return 0;
}

static int plan_arena(mfl_model_builder_t *b, uint32_t *arena_size)
{
    mfl_plan_item_t *items = calloc(b->n_tensors, sizeof(*items));
    uint32_t *offsets = calloc(b->n_tensors, sizeof(*offsets));
    int err = (items && offsets) ? 0 : MFL_ERR_NO_MEMORY;
    if (!err) {
        fill_plan_items(b, items);
        err = mfl_plan_arena(items, b->n_tensors, MFL_MODEL_ARENA_ALIGN, offsets, arena_size);
    }
    for (size_t t = 0; !err && t < b->n_tensors; t++) {
        if (!(b->tensors[t].flags & MFL_TENSOR_CONST)) {
            b->tensors[t].offset = offsets[t];
        }
    }
    free(items);
    free(offsets);
    return err;
}

int mfl_builder_finish(mfl_model_builder_t *b, uint8_t **image, size_t *size)
{
    if (!b || !image || !size || b->n_inputs == 0 || b->n_outputs == 0 || b->n_ops == 0) {
        return MFL_ERR_INVALID_ARG;
    }
    /* the I/O table, inputs then outputs, at the end of the data */
    mfl_io_rec_t table[2 * MFL_MODEL_MAX_IO];
    memcpy(table, b->inputs, b->n_inputs * sizeof(table[0]));
    memcpy(table + b->n_inputs, b->outputs, b->n_outputs * sizeof(table[0]));
    uint32_t io_offset = 0;
    int err = append_data(b, table, (b->n_inputs + b->n_outputs) * sizeof(table[0]), &io_offset);
    if (err) {
        return err;
    }
    mfl_model_header_t h = {
        .magic = MFL_MODEL_MAGIC, .format_version = MFL_MODEL_FORMAT_VERSION,
        .header_size = sizeof(mfl_model_header_t),
        .n_tensors = (uint16_t)b->n_tensors, .n_ops = (uint16_t)b->n_ops,
        .input = b->inputs[0].tensor, .output = b->outputs[0].tensor, .head_op = b->head_op,
        .feature = b->feature, .head_params_offset = b->head_params_offset,
        .head_params_size = b->head_params_size, .io_offset = io_offset,
        .n_inputs = (uint8_t)b->n_inputs, .n_outputs = (uint8_t)b->n_outputs,
    };
    err = add_scratch(b);
    h.n_tensors = (uint16_t)b->n_tensors;
    err = err ? err : plan_arena(b, &h.arena_size);
    if (err) {
        return err;
    }
    h.tensors_offset = sizeof(h);
    h.ops_offset = h.tensors_offset + (uint32_t)(b->n_tensors * sizeof(mfl_tensor_rec_t));
    const uint32_t ops_end = h.ops_offset + (uint32_t)(b->n_ops * sizeof(mfl_op_rec_t));
    h.data_offset = (ops_end + MFL_MODEL_DATA_ALIGN - 1) & ~(uint32_t)(MFL_MODEL_DATA_ALIGN - 1);
    h.data_size = (uint32_t)b->data_size;
    h.file_size = h.data_offset + h.data_size;

    uint8_t *img = calloc(1, h.file_size);
    if (!img) {
        return MFL_ERR_NO_MEMORY;
    }
    memcpy(img + h.tensors_offset, b->tensors, b->n_tensors * sizeof(mfl_tensor_rec_t));
    memcpy(img + h.ops_offset, b->ops, b->n_ops * sizeof(mfl_op_rec_t));
    if (b->data_size) {
        memcpy(img + h.data_offset, b->data, b->data_size);
    }
    memcpy(img, &h, sizeof(h));
    h.crc32 = mfl_crc32(0, img + 16, h.file_size - 16);
    memcpy(img, &h, sizeof(h));

    mfl_model_t check;
    err = mfl_model_load(&check, img, h.file_size);
    if (err) {
        free(img);
        return err;
    }
    *image = img;
    *size = h.file_size;
    return 0;
}
