/* Test-only .tflite writer; see tflite_builder.h. */
#include <stdlib.h>
#include <string.h>

#include "tflite_builder.h"

typedef struct {
    uint8_t *buf;
    size_t len, cap;
} tb_t;

static size_t tb_reserve(tb_t *b, size_t n, size_t align)
{
    size_t pos = (b->len + align - 1) & ~(align - 1);
    if (pos + n > b->cap) {
        b->cap = (pos + n) * 2 + 256;
        b->buf = realloc(b->buf, b->cap);
    }
    memset(b->buf + b->len, 0, pos + n - b->len);
    b->len = pos + n;
    return pos;
}

static void put32(tb_t *b, size_t pos, uint32_t v)
{
    memcpy(b->buf + pos, &v, 4);
}

/* A table whose fields are each 4 bytes (bytes use the low one). Returns
 * the table position; reference fields are patched with tb_ref(). */
static size_t tb_table(tb_t *b, int n, const tb_field_t *f)
{
    const size_t vt_size = 4 + 2 * (size_t)n;
    const size_t vt = tb_reserve(b, vt_size, 2);
    const size_t table = tb_reserve(b, 4 + 4 * (size_t)n, 4);
    const uint16_t sizes[2] = {(uint16_t)vt_size, (uint16_t)(4 + 4 * n)};
    memcpy(b->buf + vt, sizes, 4);
    put32(b, table, (uint32_t)(int32_t)(table - vt));
    for (int i = 0; i < n; i++) {
        const uint16_t off = f[i].kind == TB_NONE ? 0 : (uint16_t)(4 + 4 * i);
        memcpy(b->buf + vt + 4 + 2 * i, &off, 2);
        if (f[i].kind == TB_F32) {
            memcpy(b->buf + table + off, &f[i].f, 4);
        } else if (f[i].kind != TB_NONE) {
            put32(b, table + off, (uint32_t)f[i].i);
        }
    }
    return table;
}

/* Points reference field `id` of `table` at `target` (which lies after it). */
static void tb_ref(tb_t *b, size_t table, int id, size_t target)
{
    const size_t field = table + 4 + 4 * (size_t)id;
    put32(b, field, (uint32_t)(target - field));
}

static size_t tb_vec(tb_t *b, const void *data, uint32_t n, size_t elem, size_t align)
{
    const size_t pos = tb_reserve(b, 4 + n * elem, align < 4 ? 4 : align);
    put32(b, pos, n);
    if (n) {
        memcpy(b->buf + pos + 4, data, n * elem);
    }
    return pos;
}

/* A vector of n table references, patched with tb_vec_ref(). */
static size_t tb_ref_vector(tb_t *b, uint32_t n)
{
    const size_t pos = tb_reserve(b, 4 + 4 * (size_t)n, 4);
    put32(b, pos, n);
    return pos;
}

static void tb_vec_ref(tb_t *b, size_t vec, uint32_t i, size_t target)
{
    const size_t field = vec + 4 + 4 * (size_t)i;
    put32(b, field, (uint32_t)(target - field));
}

static tb_field_t fi(int32_t v) { tb_field_t f = {TB_I32, v, 0}; return f; }
static tb_field_t fu8(int32_t v) { tb_field_t f = {TB_U8, v, 0}; return f; }
static tb_field_t fref(void) { tb_field_t f = {TB_I32, 0, 0}; return f; }
static tb_field_t fnone(void) { tb_field_t f = {TB_NONE, 0, 0}; return f; }

static void write_tensor(tb_t *b, size_t vec, int i, const tb_tensor_t *t, uint32_t buffer)
{
    /* Tensor: shape 0, type 1, buffer 2, name 3, quantization 4 */
    const tb_field_t f[5] = {fref(), fu8(t->type), fi((int32_t)buffer), fnone(),
                             t->n_scales ? fref() : fnone()};
    const size_t table = tb_table(b, 5, f);
    tb_vec_ref(b, vec, (uint32_t)i, table);
    tb_ref(b, table, 0, tb_vec(b, t->dims, (uint32_t)t->rank, 4, 4));
    if (t->n_scales) {
        /* QuantizationParameters: min 0, max 1, scale 2, zero_point 3, details 4/5, quantized_dimension 6 */
        const tb_field_t q[7] = {fnone(), fnone(), fref(), fref(), fnone(), fnone(), fi(t->quantized_dimension)};
        const size_t qt = tb_table(b, 7, q);
        tb_ref(b, table, 4, qt);
        tb_ref(b, qt, 2, tb_vec(b, t->scales, (uint32_t)t->n_scales, 4, 4));
        tb_ref(b, qt, 3, tb_vec(b, t->zero_points, (uint32_t)t->n_scales, 8, 8));
    }
}

static void write_op(tb_t *b, size_t vec, int i, const tb_op_t *op)
{
    /* Operator: opcode_index 0, inputs 1, outputs 2, options type 3, options 4 */
    const tb_field_t f[5] = {fi(i), fref(), fref(), fu8(op->options_type), op->options_type ? fref() : fnone()};
    const size_t table = tb_table(b, 5, f);
    tb_vec_ref(b, vec, (uint32_t)i, table);
    tb_ref(b, table, 1, tb_vec(b, op->inputs, (uint32_t)op->n_inputs, 4, 4));
    tb_ref(b, table, 2, tb_vec(b, &op->output, 1, 4, 4));
    if (op->options_type) {
        tb_ref(b, table, 4, tb_table(b, op->n_options, op->options));
    }
}

static void write_subgraph(tb_t *b, size_t vec, int index, const tb_model_t *m)
{
    /* SubGraph: tensors 0, inputs 1, outputs 2, operators 3 */
    const tb_field_t f[4] = {fref(), fref(), fref(), fref()};
    const size_t table = tb_table(b, 4, f);
    tb_vec_ref(b, vec, (uint32_t)index, table);
    const size_t tensors = tb_ref_vector(b, (uint32_t)m->n_tensors);
    tb_ref(b, table, 0, tensors);
    tb_ref(b, table, 1, tb_vec(b, &m->input, 1, 4, 4));
    tb_ref(b, table, 2, tb_vec(b, &m->output, 1, 4, 4));
    const size_t ops = tb_ref_vector(b, (uint32_t)m->n_ops);
    tb_ref(b, table, 3, ops);
    uint32_t next_buffer = 1;
    for (int i = 0; i < m->n_tensors; i++) {
        write_tensor(b, tensors, i, &m->tensors[i], m->tensors[i].data ? next_buffer++ : 0);
    }
    for (int i = 0; i < m->n_ops; i++) {
        write_op(b, ops, i, &m->ops[i]);
    }
}

void tb_build(const tb_model_t *m, uint8_t **out, size_t *len)
{
    tb_t b = {0};
    const size_t header = tb_reserve(&b, 8, 4);
    memcpy(b.buf + header + 4, "TFL3", 4);
    /* Model: version 0, operator_codes 1, subgraphs 2, description 3, buffers 4 */
    const tb_field_t f[5] = {fi((int32_t)m->schema_version), fref(), fref(), fnone(), fref()};
    const size_t model = tb_table(&b, 5, f);
    put32(&b, 0, (uint32_t)model);

    const size_t codes = tb_ref_vector(&b, (uint32_t)m->n_ops);
    tb_ref(&b, model, 1, codes);
    for (int i = 0; i < m->n_ops; i++) {
        /* OperatorCode: deprecated_builtin_code 0, custom_code 1, version 2, builtin_code 3 */
        const int32_t code = m->ops[i].builtin;
        const tb_field_t c[4] = {fu8(code < 127 ? code : 127), fnone(), fi(1), fi(code)};
        tb_vec_ref(&b, codes, (uint32_t)i, tb_table(&b, 4, c));
    }
    const size_t subgraphs = tb_ref_vector(&b, (uint32_t)m->n_subgraphs);
    tb_ref(&b, model, 2, subgraphs);
    for (int s = 0; s < m->n_subgraphs; s++) {
        write_subgraph(&b, subgraphs, s, m);
    }
    /* Buffers: 0 is the empty sentinel, then one per constant tensor. */
    uint32_t n_buffers = 1;
    for (int i = 0; i < m->n_tensors; i++) {
        n_buffers += m->tensors[i].data != NULL;
    }
    const size_t buffers = tb_ref_vector(&b, n_buffers);
    tb_ref(&b, model, 4, buffers);
    tb_vec_ref(&b, buffers, 0, tb_table(&b, 0, NULL));
    for (int i = 0, k = 1; i < m->n_tensors; i++) {
        if (m->tensors[i].data) {
            const tb_field_t d[1] = {fref()};
            const size_t buf = tb_table(&b, 1, d);
            tb_vec_ref(&b, buffers, (uint32_t)k++, buf);
            tb_ref(&b, buf, 0, tb_vec(&b, m->tensors[i].data, (uint32_t)m->tensors[i].data_size, 1, 16));
        }
    }
    *out = b.buf;
    *len = b.len;
}
