/*
 * Loader of microfl model images: validates everything once so that the
 * interpreter and kernels can trust the model afterwards.
 *
 * Order of checks: header, sections, tensors, operators (model_ops.c),
 * inputs and outputs (format 3: the I/O table), graph order, memory plan. Each check reads only bytes already proven to
 * lie inside the image, and every size computation is done in 64 bits or
 * against limits that keep it inside 32, so no input can cause an
 * out-of-bounds read or an arithmetic overflow.
 */
#include "model_validate.h"

_Static_assert(sizeof(mfl_model_header_t) == 64, "header layout");
_Static_assert(sizeof(mfl_tensor_rec_t) == 32, "tensor record layout");
_Static_assert(sizeof(mfl_op_rec_t) == 20, "op record layout");

#define MAX_ELEMENTS (1u << 28)

uint32_t mfl_tensor_elements(const mfl_tensor_rec_t *t)
{
    uint32_t n = 1;
    for (int i = 0; i < t->rank && i < 4; i++) {
        n *= (uint32_t)t->dims[i];
    }
    return n;
}

void mfl_tensor_dims4(const mfl_tensor_rec_t *t, int32_t d[4])
{
    for (int i = 0; i < 4; i++) {
        d[i] = i < 4 - t->rank ? 1 : t->dims[i - (4 - t->rank)];
    }
}

mfl_dims_t mfl_tensor_dims(const mfl_tensor_rec_t *t)
{
    int32_t d[4] = {1, 1, 1, 1};
    /* Right-align the shape: the last dimension is always channels. */
    for (int i = 0; i < t->rank; i++) {
        d[4 - t->rank + i] = t->dims[i];
    }
    if (t->rank == 2) { /* [batches, features] */
        d[0] = t->dims[0];
        d[2] = 1;
    }
    mfl_dims_t dims = {d[0], d[1], d[2], d[3]};
    return dims;
}

static int check_header(const mfl_model_header_t *h, size_t size)
{
    if (h->magic != MFL_MODEL_MAGIC) {
        return MFL_ERR_MODEL_MAGIC;
    }
    if (h->format_version < MFL_MODEL_FORMAT_VERSION_MIN || h->format_version > MFL_MODEL_FORMAT_VERSION ||
        h->header_size != sizeof(*h)) {
        return MFL_ERR_MODEL_VERSION;
    }
    if (h->file_size > size || h->file_size < sizeof(*h)) {
        return MFL_ERR_MODEL_TRUNCATED;
    }
    if (h->n_tensors < 2 || h->n_tensors > MFL_MAX_TENSORS || h->n_ops < 1 || h->n_ops > MFL_MAX_OPS) {
        return MFL_ERR_MODEL_LIMITS;
    }
    return 0;
}

static int check_section(uint32_t offset, uint64_t bytes, uint32_t align, uint32_t file_size)
{
    if (offset % align != 0) {
        return MFL_ERR_MODEL_ALIGNMENT;
    }
    if ((uint64_t)offset + bytes > file_size) {
        return MFL_ERR_MODEL_TRUNCATED;
    }
    return 0;
}

static int check_sections(const mfl_model_header_t *h)
{
    int err = check_section(h->tensors_offset, (uint64_t)h->n_tensors * sizeof(mfl_tensor_rec_t), 4,
                            h->file_size);
    if (!err) {
        err = check_section(h->ops_offset, (uint64_t)h->n_ops * sizeof(mfl_op_rec_t), 4, h->file_size);
    }
    if (!err) {
        err = check_section(h->data_offset, h->data_size, MFL_MODEL_DATA_ALIGN, h->file_size);
    }
    return err;
}

static int check_tensor(const mfl_tensor_rec_t *t, const mfl_model_header_t *h)
{
    if (t->type < MFL_TYPE_INT8 || t->type > MFL_TYPE_INT64) {
        return MFL_ERR_UNSUPPORTED_TYPE;
    }
    if (t->rank < 1 || t->rank > 4 || (t->flags & ~MFL_TENSOR_CONST) != 0) {
        return MFL_ERR_MODEL_TENSOR;
    }
    uint64_t elements = 1;
    for (int i = 0; i < 4; i++) {
        const int32_t d = t->dims[i];
        if (i < t->rank ? (d < 1 || d > MFL_MAX_DIM) : d != 1) {
            return MFL_ERR_MODEL_TENSOR;
        }
        elements *= (uint64_t)d;
    }
    static const uint8_t elem_sizes[] = {0, 1, 4, 2, 8}; /* by enum mfl_tensor_type */
    const uint32_t elem_size = elem_sizes[t->type];
    if (elements > MAX_ELEMENTS || t->size != elements * elem_size) {
        return MFL_ERR_MODEL_TENSOR;
    }
    if (t->type == MFL_TYPE_INT8 && (t->zero_point < -128 || t->zero_point > 127)) {
        return MFL_ERR_MODEL_TENSOR;
    }
    /* 16x8 tensors are symmetric; so are int32 activations and int64
     * constants (int32 constants keep what older images wrote) */
    const int is_const = (t->flags & MFL_TENSOR_CONST) != 0;
    if ((t->type == MFL_TYPE_INT16 || t->type == MFL_TYPE_INT64 || (t->type == MFL_TYPE_INT32 && !is_const)) &&
        t->zero_point != 0) {
        return MFL_ERR_MODEL_TENSOR;
    }
    if (t->flags & MFL_TENSOR_CONST) {
        if (t->offset % elem_size != 0) {
            return MFL_ERR_MODEL_ALIGNMENT;
        }
        return (uint64_t)t->offset + t->size <= h->data_size ? 0 : MFL_ERR_MODEL_TRUNCATED;
    }
    /* Activations are int8, int16 or int32 and live in the arena. */
    if (t->type == MFL_TYPE_INT64) {
        return MFL_ERR_UNSUPPORTED_TYPE;
    }
    if (t->offset % MFL_MODEL_ARENA_ALIGN != 0 || (uint64_t)t->offset + t->size > h->arena_size) {
        return MFL_ERR_MODEL_PLAN;
    }
    return 0;
}

static int valid_fixed_scale(int32_t m, int32_t e)
{
    return m >= (1 << 30) && e >= -126 && e <= 127;
}

/* The head block: one positive scale for features and logits, one per unit. */
static int check_head_params(const mfl_model_t *m)
{
    const mfl_model_header_t *h = m->header;
    const uint32_t units = (uint32_t)m->tensors[m->ops[h->head_op].inputs[1]].dims[0];
    if (h->head_params_offset % 4 != 0 || h->head_params_size != sizeof(mfl_head_rec_t) + 8u * units ||
        (uint64_t)h->head_params_offset + h->head_params_size > h->data_size) {
        return MFL_ERR_MODEL_PARAMS;
    }
    const mfl_head_rec_t *r = (const mfl_head_rec_t *)(const void *)(m->data + h->head_params_offset);
    const int32_t *w_m = (const int32_t *)(const void *)(r + 1);
    int ok = valid_fixed_scale(r->feature_scale_m, r->feature_scale_e) &&
             valid_fixed_scale(r->output_scale_m, r->output_scale_e);
    for (uint32_t i = 0; ok && i < units; i++) {
        ok = valid_fixed_scale(w_m[i], w_m[units + i]);
    }
    return ok ? 0 : MFL_ERR_MODEL_PARAMS;
}

/* One I/O table entry: an int8 activation, a known edge type, and a scale
 * that is absent (all zero) or the same number in both forms. */
static int check_io_rec(const mfl_model_t *m, const mfl_io_rec_t *r)
{
    if (r->tensor >= m->header->n_tensors || (m->tensors[r->tensor].flags & MFL_TENSOR_CONST)) {
        return MFL_ERR_MODEL_GRAPH;
    }
    if ((r->type != MFL_IO_INT8 && r->type != MFL_IO_FLOAT32) || r->reserved != 0) {
        return MFL_ERR_MODEL_PARAMS;
    }
    if (r->scale_f32 == 0) {
        return r->scale_m == 0 && r->scale_e == 0 && r->type == MFL_IO_INT8 ? 0 : MFL_ERR_MODEL_PARAMS;
    }
    mfl_scale_t s;
    if (mfl_scale_from_f32_bits(r->scale_f32, &s) != 0 || s.m != r->scale_m || s.e != r->scale_e) {
        return MFL_ERR_MODEL_PARAMS;
    }
    return 0;
}

/* Format 3's I/O table: inside the data section, every entry valid, no
 * tensor twice among the inputs or among the outputs, none both an input
 * and an output, and the header's input and output its first of each.
 * Sets m->io. A float edge needs its scale (the host converts with it). */
static int check_io_table(mfl_model_t *m)
{
    const mfl_model_header_t *h = m->header;
    m->io = NULL;
    if (h->format_version < 3) {
        return 0;
    }
    const unsigned n = (unsigned)h->n_inputs + h->n_outputs;
    if (h->n_inputs < 1 || h->n_inputs > MFL_MODEL_MAX_IO || h->n_outputs < 1 ||
        h->n_outputs > MFL_MODEL_MAX_IO || h->reserved != 0) {
        return MFL_ERR_MODEL_LIMITS;
    }
    if (h->io_offset % 4 != 0) {
        return MFL_ERR_MODEL_ALIGNMENT;
    }
    if ((uint64_t)h->io_offset + (uint64_t)n * sizeof(mfl_io_rec_t) > h->data_size) {
        return MFL_ERR_MODEL_TRUNCATED;
    }
    const mfl_io_rec_t *io = (const mfl_io_rec_t *)(const void *)(m->data + h->io_offset);
    for (unsigned i = 0; i < n; i++) {
        int err = check_io_rec(m, &io[i]);
        if (err) {
            return err;
        }
        for (unsigned j = 0; j < i; j++) {
            if (io[j].tensor == io[i].tensor) {
                return MFL_ERR_MODEL_GRAPH;
            }
        }
    }
    if (io[0].tensor != h->input || io[h->n_inputs].tensor != h->output) {
        return MFL_ERR_MODEL_GRAPH;
    }
    m->io = io;
    return 0;
}

static int check_io(mfl_model_t *m)
{
    const mfl_model_header_t *h = m->header;
    int err = check_io_table(m);
    if (err) {
        return err;
    }
    if (h->input >= h->n_tensors || h->output >= h->n_tensors || h->input == h->output) {
        return MFL_ERR_MODEL_GRAPH;
    }
    if ((m->tensors[h->input].flags & MFL_TENSOR_CONST) || (m->tensors[h->output].flags & MFL_TENSOR_CONST)) {
        return MFL_ERR_MODEL_GRAPH;
    }
    if (h->head_op == MFL_NONE) {
        return h->feature == MFL_NONE && h->head_params_size == 0 ? 0 : MFL_ERR_MODEL_GRAPH;
    }
    if (h->head_op >= h->n_ops || m->ops[h->head_op].opcode != MFL_OP_FULLY_CONNECTED ||
        h->feature != m->ops[h->head_op].inputs[0]) {
        return MFL_ERR_MODEL_GRAPH;
    }
    return check_head_params(m);
}

/* Is tensor t one of the model's inputs (outputs)? From format 3 the I/O
 * table says (check_io checked it before the graph is); before, the
 * header's one input and one output. */
static int is_input(const mfl_model_t *m, uint16_t t)
{
    for (unsigned k = 0; m->io && k < m->header->n_inputs; k++) {
        if (m->io[k].tensor == t) {
            return 1;
        }
    }
    return t == m->header->input;
}

static int is_output(const mfl_model_t *m, uint16_t t)
{
    for (unsigned k = 0; m->io && k < m->header->n_outputs; k++) {
        if (m->io[m->header->n_inputs + k].tensor == t) {
            return 1;
        }
    }
    return t == m->header->output;
}

/* Index of the op producing tensor t among ops [0, before), or -1. */
static int producer_before(const mfl_model_t *m, uint16_t t, int before)
{
    for (int j = 0; j < before; j++) {
        if (m->ops[j].output == t) {
            return j;
        }
    }
    return -1;
}

/* Op i's scratch (if any) is neither the model's input or output nor
 * another op's input, output or scratch: no value lives in it. */
static int scratch_is_private(const mfl_model_t *m, int i)
{
    const uint16_t s = mfl_op_scratch(m, &m->ops[i]);
    if (s == MFL_NONE) {
        return 1;
    }
    if (is_input(m, s) || is_output(m, s)) {
        return 0;
    }
    for (int j = 0; j < m->header->n_ops; j++) {
        const mfl_op_rec_t *op = &m->ops[j];
        if (op->output == s || (j != i && mfl_op_scratch(m, op) == s)) {
            return 0;
        }
        for (int k = 0; k < op->n_inputs; k++) {
            if (op->inputs[k] == s) {
                return 0;
            }
        }
    }
    return 1;
}

/* Every activation read is a model input or produced by an earlier op;
 * every op writes a fresh tensor; every model output is produced. */
static int check_graph_order(const mfl_model_t *m)
{
    const mfl_model_header_t *h = m->header;
    for (int i = 0; i < h->n_ops; i++) {
        const mfl_op_rec_t *op = &m->ops[i];
        if (is_input(m, op->output) || producer_before(m, op->output, i) >= 0) {
            return MFL_ERR_MODEL_GRAPH;
        }
        for (int k = 0; k < op->n_inputs; k++) {
            const uint16_t t = op->inputs[k];
            if (t == MFL_NONE || (m->tensors[t].flags & MFL_TENSOR_CONST) || is_input(m, t)) {
                continue;
            }
            if (producer_before(m, t, i) < 0) {
                return MFL_ERR_MODEL_GRAPH;
            }
        }
    }
    for (unsigned k = 0; k < mfl_model_output_count(m); k++) {
        const uint16_t t = m->io ? m->io[h->n_inputs + k].tensor : h->output;
        if (producer_before(m, t, h->n_ops) < 0) {
            return MFL_ERR_MODEL_GRAPH;
        }
    }
    for (int i = 0; i < h->n_ops; i++) {
        if (!scratch_is_private(m, i)) {
            return MFL_ERR_MODEL_GRAPH;
        }
    }
    return 0;
}

typedef struct {
    int first, last; /* ops during which the tensor must hold its value */
} lifetime_t;

static lifetime_t tensor_lifetime(const mfl_model_t *m, uint16_t t)
{
    const mfl_model_header_t *h = m->header;
    lifetime_t life = {-1, -1};
    life.first = is_input(m, t) ? -1 : producer_before(m, t, h->n_ops);
    life.last = life.first;
    for (int i = 0; i < h->n_ops; i++) {
        for (int k = 0; k < m->ops[i].n_inputs; k++) {
            if (m->ops[i].inputs[k] == t) {
                life.last = i;
            }
        }
    }
    if (is_output(m, t)) {
        life.last = h->n_ops;
    }
    for (int i = 0; i < h->n_ops; i++) {
        if (mfl_op_scratch(m, &m->ops[i]) == t) { /* private to op i (checked) */
            life.first = life.last = i;
        }
    }
    return life;
}

/* A RESHAPE may give its output the very memory of its input. */
static int is_reshape_alias(const mfl_model_t *m, uint16_t a, uint16_t b)
{
    const mfl_tensor_rec_t *ta = &m->tensors[a];
    const mfl_tensor_rec_t *tb = &m->tensors[b];
    if (ta->offset != tb->offset || ta->size != tb->size) {
        return 0;
    }
    for (int i = 0; i < m->header->n_ops; i++) {
        const mfl_op_rec_t *op = &m->ops[i];
        if (op->opcode == MFL_OP_RESHAPE &&
            ((op->inputs[0] == a && op->output == b) || (op->inputs[0] == b && op->output == a))) {
            return 1;
        }
    }
    return 0;
}

/* No two activations whose lifetimes overlap may share arena bytes, except
 * a reshape and its input. Unused tensors have no lifetime. */
static int check_memory_plan(const mfl_model_t *m)
{
    const uint16_t n = m->header->n_tensors;
    for (uint16_t a = 0; a < n; a++) {
        const mfl_tensor_rec_t *ta = &m->tensors[a];
        if (ta->flags & MFL_TENSOR_CONST) {
            continue;
        }
        for (uint16_t b = (uint16_t)(a + 1); b < n; b++) {
            const mfl_tensor_rec_t *tb = &m->tensors[b];
            if ((tb->flags & MFL_TENSOR_CONST) || ta->offset >= tb->offset + tb->size ||
                tb->offset >= ta->offset + ta->size) {
                continue;
            }
            const lifetime_t la = tensor_lifetime(m, a);
            const lifetime_t lb = tensor_lifetime(m, b);
            const int unused = (la.first < 0 && !is_input(m, a)) || (lb.first < 0 && !is_input(m, b));
            if (!unused && la.first <= lb.last && lb.first <= la.last && !is_reshape_alias(m, a, b)) {
                return MFL_ERR_MODEL_PLAN;
            }
        }
    }
    return 0;
}

/* Validates every operator through the resolver; on a refusal, names the
 * operator in *why. */
static int check_ops(const mfl_model_t *m, mfl_op_refusal_t *why)
{
    const mfl_model_header_t *h = m->header;
    for (uint16_t i = 0; i < h->n_ops; i++) {
        const mfl_op_rec_t *op = &m->ops[i];
        int err = mfl_validate_op(m, op, m->resolver);
        if (err) {
            why->op = i;
            why->opcode = op->opcode;
            why->type = op->output < h->n_tensors ? m->tensors[op->output].type : 0;
            return err;
        }
    }
    return 0;
}

static int check_body(mfl_model_t *m, mfl_op_refusal_t *why)
{
    const mfl_model_header_t *h = m->header;
    for (uint16_t i = 0; i < h->n_tensors; i++) {
        int err = check_tensor(&m->tensors[i], h);
        if (err) {
            return err;
        }
    }
    int err = check_ops(m, why);
    if (err) {
        return err;
    }
    err = check_io(m);
    if (!err) {
        err = check_graph_order(m);
    }
    if (!err) {
        err = check_memory_plan(m);
    }
    return err;
}

/* A resolver the loader can search: every entry present. */
static int valid_resolver(const mfl_op_resolver_t *r)
{
    if (!r || (!r->ops && r->count > 0)) {
        return 0;
    }
    for (size_t i = 0; i < r->count; i++) {
        if (!r->ops[i]) {
            return 0;
        }
    }
    return 1;
}

int mfl_model_load(mfl_model_t *model, const void *image, size_t size)
{
    return mfl_model_load_ops(model, image, size, &mfl_ops_all, NULL);
}

int mfl_model_load_ops(mfl_model_t *model, const void *image, size_t size, const mfl_op_resolver_t *ops,
                       mfl_op_refusal_t *why)
{
    mfl_op_refusal_t ignored;
    why = why ? why : &ignored;
    *why = (mfl_op_refusal_t){MFL_NONE, 0, 0};
    if (!model || !image || !valid_resolver(ops)) {
        return MFL_ERR_INVALID_ARG;
    }
    if ((uintptr_t)image % 4 != 0) {
        return MFL_ERR_MODEL_ALIGNMENT;
    }
    if (size < sizeof(mfl_model_header_t)) {
        return MFL_ERR_MODEL_TRUNCATED;
    }
    const uint8_t *bytes = image;
    const mfl_model_header_t *h = image;
    int err = check_header(h, size);
    if (err) {
        return err;
    }
#if !MFL_MODEL_SKIP_CRC
    if (mfl_crc32(0, bytes + 16, h->file_size - 16) != h->crc32) {
        return MFL_ERR_MODEL_CHECKSUM;
    }
#endif
    err = check_sections(h);
    if (err) {
        return err;
    }
    mfl_model_t m = {
        .image = bytes,
        .header = h,
        .tensors = (const mfl_tensor_rec_t *)(const void *)(bytes + h->tensors_offset),
        .ops = (const mfl_op_rec_t *)(const void *)(bytes + h->ops_offset),
        .data = bytes + h->data_offset,
        .resolver = ops,
    };
    err = check_body(&m, why);
    if (err) {
        return err;
    }
    *model = m;
    return 0;
}

const char *mfl_opcode_name(int opcode)
{
    static const char *const names[MFL_OP_COUNT_] = {
        "?", "CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "AVERAGE_POOL_2D",
        "MAX_POOL_2D", "ADD", "RESHAPE", "SOFTMAX", "RELU", "RELU6", "LEAKY_RELU", "LOGISTIC", "TANH",
        "HARD_SWISH", "QUANTIZE", "PAD", "MEAN", "STRIDED_SLICE", "TRANSPOSE", "SUB", "MUL", "MAXIMUM",
        "MINIMUM", "CONCATENATION", "TRANSPOSE_CONV",
    };
    return opcode > 0 && opcode < MFL_OP_COUNT_ ? names[opcode] : "?";
}
