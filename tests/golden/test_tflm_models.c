/*
 * Bit-exactness against TensorFlow Lite Micro's reference kernels on the
 * models of shared/golden/tflm-models (TFLM's own example, benchmark and
 * integration-test models, and one-operator models): each model.tflite is
 * imported in memory as `mfl model import` does, loaded, and every record of
 * inputs.bin is run on both kernel paths (portable, and DSP through its C
 * emulation); the outputs must equal outputs.bin byte for byte.
 *
 * One line per model:
 *   PASS     every record, both paths, with the arena against TFLM's
 *   FAIL     the first mismatching record and byte, expected vs got (or
 *            what else went wrong after the import accepted the model)
 *   REFUSED  the importer's message, which must name the operator at fault
 *            (or, for a refusal of the model's interface, its inputs)
 *   CRASH    the model's check died (signal or sanitizer exit)
 *
 * The test fails when a model of required[] does not pass, when any model
 * fails or crashes (an accepted model that computes wrong bytes is worse
 * than a refused one), or when a refusal names no operator. Each model is
 * checked in a child process, so that one crash is reported by name and the
 * others still run.
 */
#define _POSIX_C_SOURCE 200809L /* fork, waitpid, strdup, strtok_r, opendir */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mfl/common.h"
#include "mfl/host/host_io.h"
#include "mfl/host/model_io.h"
#include "mfl/host/tflite_import.h"
#include "mfl/interpreter.h"
#include "mfl/kernels.h"
#include "mfl/model.h"
#include "mfl/op_resolver.h"

/* Models that must run bit-exactly. When the importer and the kernels
 * learn a model, add its folder name here: one line per model (clang-format
 * is told to leave the list alone). */
// clang-format off
static const char *const required[] = {
    "hello_world_int8",
    "micro_speech_quantized",
    "person_detect",
    "relu_i8",
    "relu6_i8",
    "relu6_i8_sameq",
    "leaky_relu_i8",
    "logistic_i8",
    "logistic_i8_zp",
    "tanh_i8",
    "hard_swish_i8",
    "quantize_i8_requant",
    "quantize_f32_to_i8",
    "dequantize_i8_to_f32",
    "pad_i8",
    "mean_hw_keepdims",
    "mean_hw_keepdims_sameq",
    "squeeze_i8",
    "strided_slice_i8",
    "strided_slice_i8_shrink",
    "transpose_i8",
    "simple_add_model",
    "add_i8_bcast",
    "add_i8_bcast2",
    "sub_i8",
    "sub_i8_bcast",
    "mul_i8",
    "mul_i8_bcast",
    "maximum_i8",
    "minimum_i8_bcast",
    "concat_ch",
    "concat_h",
    "mini_net_f32io",
    "conv_i16x8",
    "seanet_conv2",
    "seanet_leaky_relu0",
    "seanet_pad0",
    "seanet_quantize0",
    "seanet_strided_slice0",
    "seanet_add0",
    "seanet_sub0",
    "seanet_transpose_conv4",
};
// clang-format on

#define GOLDEN_DIR "golden/tflm-models"
#define MAX_IO 8       /* inputs or outputs per model described in meta.txt */
#define MAX_MODELS 128 /* folders in the golden set (48 today) */

enum { ST_PASS = 0, ST_FAIL = 1, ST_REFUSED = 2, ST_CRASH = 3 };

typedef struct {
    char type[16]; /* INT8, INT16, INT32, FLOAT32... as meta.txt spells it */
    size_t bytes;  /* of one record */
} golden_io_t;

/* What the harness needs from a model's meta.txt. */
typedef struct {
    char model[512]; /* the .tflite, relative to the shared directory */
    char ops[1024];  /* ops=: operator names in order of first use, comma-separated */
    unsigned n;      /* records */
    size_t record_in, record_out;
    unsigned n_inputs, n_outputs;
    golden_io_t inputs[MAX_IO], outputs[MAX_IO];
    uint32_t outputs_fnv1a;
    unsigned long tflm_arena; /* arena_used_bytes_host64 */
} golden_meta_t;

static size_t type_size(const char *type)
{
    if (!strcmp(type, "INT8") || !strcmp(type, "UINT8")) {
        return 1;
    }
    if (!strcmp(type, "INT16")) {
        return 2;
    }
    if (!strcmp(type, "INT64")) {
        return 8;
    }
    return 4; /* INT32, FLOAT32 */
}

/* FNV-1a, 32 bits: meta.txt's checksum of outputs.bin. */
static uint32_t fnv1a(const uint8_t *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h = (h ^ p[i]) * 16777619u;
    }
    return h;
}

/* One key=value line of meta.txt into *m (unknown keys are ignored). */
static void meta_line(golden_meta_t *m, const char *key, const char *value)
{
    unsigned k;
    char what[16];
    if (!strcmp(key, "model")) {
        snprintf(m->model, sizeof(m->model), "%s", value);
    } else if (!strcmp(key, "ops")) {
        snprintf(m->ops, sizeof(m->ops), "%s", value);
    } else if (!strcmp(key, "N")) {
        m->n = (unsigned)strtoul(value, NULL, 10);
    } else if (!strcmp(key, "record_in_bytes")) {
        m->record_in = strtoul(value, NULL, 10);
    } else if (!strcmp(key, "record_out_bytes")) {
        m->record_out = strtoul(value, NULL, 10);
    } else if (!strcmp(key, "outputs_fnv1a")) {
        m->outputs_fnv1a = (uint32_t)strtoul(value, NULL, 16);
    } else if (!strcmp(key, "arena_used_bytes_host64")) {
        m->tflm_arena = strtoul(value, NULL, 10);
    } else if (sscanf(key, "input%u_%15s", &k, what) == 2 || sscanf(key, "output%u_%15s", &k, what) == 2) {
        const int is_input = key[0] == 'i';
        golden_io_t *io = is_input ? m->inputs : m->outputs;
        unsigned *count = is_input ? &m->n_inputs : &m->n_outputs;
        if (k >= MAX_IO) {
            return;
        }
        if (k + 1 > *count) {
            *count = k + 1;
        }
        if (!strcmp(what, "type")) {
            snprintf(io[k].type, sizeof(io[k].type), "%s", value);
        } else if (!strcmp(what, "bytes")) {
            io[k].bytes = strtoul(value, NULL, 10);
        }
    }
}

/* Reads dir/meta.txt. Returns 0, or -1 with the reason in why. */
static int meta_read(const char *dir, golden_meta_t *m, char *why, size_t why_cap)
{
    char path[1100], line[4096];
    memset(m, 0, sizeof(*m));
    snprintf(path, sizeof(path), "%s/meta.txt", dir);
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(why, why_cap, "cannot read %s", path);
        return -1;
    }
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\r\n")] = '\0';
        char *eq = strchr(line, '=');
        /* keys are identifiers; "records: ..." description lines are not */
        if (!eq || strcspn(line, " :") < (size_t)(eq - line)) {
            continue;
        }
        *eq = '\0';
        meta_line(m, line, eq + 1);
    }
    fclose(f);
    size_t in_sum = 0, out_sum = 0;
    for (unsigned i = 0; i < m->n_inputs; i++) {
        in_sum += m->inputs[i].bytes;
    }
    for (unsigned i = 0; i < m->n_outputs; i++) {
        out_sum += m->outputs[i].bytes;
    }
    if (!m->model[0] || !m->n || !m->n_inputs || !m->n_outputs || in_sum != m->record_in ||
        out_sum != m->record_out) {
        snprintf(why, why_cap, "%s: incomplete or inconsistent (model, N, inputs, outputs, record sizes)",
                 path);
        return -1;
    }
    return 0;
}

/* Reads a file of the shared directory given as meta.txt does
 * ("shared/models/..."), or a path relative to a model folder. */
static int read_shared(const char *path, uint8_t **data, size_t *size)
{
    char full[4096];
    const char *rel = !strncmp(path, "shared/", 7) ? path + 7 : path;
    snprintf(full, sizeof(full), "%s/%s", MFL_SHARED_DIR, rel);
    return mfl_read_file(full, data, size);
}

/* Does the refusal name one of the model's operators (ops=), or is it about
 * the model's interface ("the model has 2 inputs")? A user must be able to
 * tell from the message alone what to change. */
static int refusal_is_named(const char *msg, const char *ops)
{
    if (!strncmp(msg, "the model has", 13)) {
        return 1;
    }
    char list[1024];
    snprintf(list, sizeof(list), "%s", ops);
    for (char *save = NULL, *op = strtok_r(list, ",", &save); op; op = strtok_r(NULL, ",", &save)) {
        const char *hit = strstr(msg, op);
        const size_t len = strlen(op);
        /* a whole name: "ADD" in "(ADD)", not in "PADV2" or "ADD_N" */
        while (hit) {
            const char before = hit == msg ? ' ' : hit[-1];
            const char after = hit[len];
            const int word =
                !(before == '_' || (before >= 'A' && before <= 'Z')) &&
                !(after == '_' || (after >= 'A' && after <= 'Z') || (after >= '0' && after <= '9'));
            if (word) {
                return 1;
            }
            hit = strstr(hit + 1, op);
        }
    }
    return 0;
}

/* The value of element `at` (byte offset) of a tensor of `type`, as text. */
static void element_text(const char *type, const uint8_t *p, char *dst, size_t cap)
{
    if (!strcmp(type, "INT8")) {
        snprintf(dst, cap, "%d", (int8_t)p[0]);
    } else if (!strcmp(type, "UINT8")) {
        snprintf(dst, cap, "%u", p[0]);
    } else if (!strcmp(type, "INT16")) {
        int16_t v;
        memcpy(&v, p, 2);
        snprintf(dst, cap, "%d", v);
    } else if (!strcmp(type, "INT32")) {
        int32_t v;
        memcpy(&v, p, 4);
        snprintf(dst, cap, "%ld", (long)v);
    } else if (!strcmp(type, "FLOAT32")) {
        float v;
        memcpy(&v, p, 4);
        snprintf(dst, cap, "%.9g", (double)v);
    } else {
        snprintf(dst, cap, "0x%02x", p[0]);
    }
}

/* Reports the first differing byte of an output record: which output
 * tensor, which element, and both values in the tensor's type. */
static void report_mismatch(const char *name, const golden_meta_t *m, const char *path, unsigned record,
                            const uint8_t *want, const uint8_t *got)
{
    size_t at = 0;
    while (want[at] == got[at]) {
        at++;
    }
    unsigned k = 0;
    size_t base = 0;
    while (k + 1 < m->n_outputs && at >= base + m->outputs[k].bytes) {
        base += m->outputs[k++].bytes;
    }
    const size_t esize = type_size(m->outputs[k].type);
    const size_t elem = (at - base) / esize;
    char w[32], g[32];
    element_text(m->outputs[k].type, want + base + elem * esize, w, sizeof(w));
    element_text(m->outputs[k].type, got + base + elem * esize, g, sizeof(g));
    printf("FAIL     %-26s record %u byte %zu (output %u %s element %zu, %s path): expected %s, got %s\n", name,
           record, at, k, m->outputs[k].type, elem, path, w, g);
}

/* Input k's int8 bytes in the arena (NULL: no such input). */
static int8_t *in_buffer(const mfl_interp_t *it, unsigned k)
{
    int8_t *p = NULL;
    size_t len = 0;
    return mfl_interp_input_at(it, k, &p, &len) == 0 ? p : NULL;
}

/* Output k's int8 bytes in the arena (NULL: no such output). */
static const int8_t *out_buffer(const mfl_interp_t *it, unsigned k)
{
    const int8_t *p = NULL;
    size_t len = 0;
    return mfl_interp_output_at(it, k, &p, &len) == 0 ? p : NULL;
}

/* A record of inputs.bin into the model's inputs, each part as meta.txt
 * types it: int8 copied, float32 quantized as TFLM's QUANTIZE (the edge
 * the importer took off). */
static void load_inputs(const mfl_model_t *model, const mfl_interp_t *it, const uint8_t *record)
{
    mfl_io_info_t io;
    for (unsigned k = 0; mfl_model_input_info(model, k, &io) == 0; k++) {
        if (io.type == MFL_IO_FLOAT32) {
            mfl_io_quantize_f32(&io, record, io.size, in_buffer(it, k));
            record += (size_t)io.size * 4;
        } else {
            memcpy(in_buffer(it, k), record, io.size);
            record += io.size;
        }
    }
}

/* The model's outputs as a record of outputs.bin (float32 ones
 * dequantized as TFLM's DEQUANTIZE). */
static void store_outputs(const mfl_model_t *model, const mfl_interp_t *it, uint8_t *record)
{
    mfl_io_info_t io;
    for (unsigned k = 0; mfl_model_output_info(model, k, &io) == 0; k++) {
        if (io.type == MFL_IO_FLOAT32) {
            mfl_io_dequantize_s8(&io, out_buffer(it, k), io.size, record);
            record += (size_t)io.size * 4;
        } else {
            memcpy(record, out_buffer(it, k), io.size);
            record += io.size;
        }
    }
}

/* Runs every record through the interpreter on the selected kernel path.
 * Returns ST_PASS or ST_FAIL (reported). */
static int run_records(const char *name, const golden_meta_t *m, const mfl_model_t *model, mfl_interp_t *it,
                       const uint8_t *inputs, const uint8_t *outputs, const char *path)
{
    uint8_t *got = malloc(m->record_out);
    int status = got ? ST_PASS : ST_FAIL;
    for (unsigned r = 0; r < m->n && status == ST_PASS; r++) {
        load_inputs(model, it, inputs + (size_t)r * m->record_in);
        const int err = mfl_interp_invoke(it);
        if (err) {
            printf("FAIL     %-26s record %u: invoke returned %s\n", name, r, mfl_strerror(err));
            status = ST_FAIL;
            break;
        }
        store_outputs(model, it, got);
        const uint8_t *want = outputs + (size_t)r * m->record_out;
        if (memcmp(want, got, m->record_out) != 0) {
            report_mismatch(name, m, path, r, want, got);
            status = ST_FAIL;
        }
    }
    free(got);
    return status;
}

/* Do the model's inputs and outputs match meta.txt's, in number, order,
 * type at the edge and bytes? Says which does not. */
static int check_interface(const char *name, const golden_meta_t *m, const mfl_model_t *model)
{
    for (int side = 0; side < 2; side++) {
        const unsigned n = side ? mfl_model_output_count(model) : mfl_model_input_count(model);
        const unsigned want_n = side ? m->n_outputs : m->n_inputs;
        const golden_io_t *want = side ? m->outputs : m->inputs;
        const char *what = side ? "output" : "input";
        if (n != want_n) {
            printf("FAIL     %-26s the model has %u %ss, meta.txt %u\n", name, n, what, want_n);
            return ST_FAIL;
        }
        for (unsigned k = 0; k < n; k++) {
            mfl_io_info_t io;
            (side ? mfl_model_output_info : mfl_model_input_info)(model, k, &io);
            /* the device's integer type, by its element size */
            const uint32_t elem = io.size / mfl_tensor_elements(&model->tensors[io.tensor]);
            const char *type = io.type == MFL_IO_FLOAT32 ? "FLOAT32" : elem == 1 ? "INT8" : elem == 2 ? "INT16" : "INT32";
            const size_t bytes = (size_t)io.size * (io.type == MFL_IO_FLOAT32 ? 4u : 1u);
            if (strcmp(want[k].type, type) != 0 || bytes != want[k].bytes) {
                printf("FAIL     %-26s %s %u: %s of %zu bytes, meta.txt %s of %zu\n", name, what, k, type, bytes,
                       want[k].type, want[k].bytes);
                return ST_FAIL;
            }
        }
    }
    return ST_PASS;
}

/* One line of layers/index.txt: "op_index op_name tensor name type shape
 * scale zero_point file". Returns 1 when it is one (not a comment). */
static int layer_line(const char *line, unsigned *op, char op_name[64], char *file, size_t file_cap)
{
    if (line[0] == '#') {
        return 0;
    }
    const char *last_space = strrchr(line, ' ');
    if (sscanf(line, "%u %63s", op, op_name) != 2 || !last_space) {
        return 0;
    }
    snprintf(file, file_cap, "%s", last_space + 1);
    file[strcspn(file, "\r\n")] = '\0';
    return 1;
}

/* Record 0 operator by operator against layers/ (the multi-operator real
 * models and mini_net_f32io), when the import kept TFLM's operators one for
 * one: a wrong output is then traced to the first operator that differs.
 * Returns ST_PASS (equal, or not comparable: said so) or ST_FAIL (reported);
 * *layers counts the layers found equal. */
static int check_layers(const char *name, const golden_meta_t *m, const mfl_model_t *model, mfl_interp_t *it,
                        const uint8_t *inputs, unsigned *layers)
{
    char rel[1200], line[4096], op_name[64], file[256];
    snprintf(rel, sizeof(rel), "%s/%s/%s/layers/index.txt", MFL_SHARED_DIR, GOLDEN_DIR, name);
    FILE *index = fopen(rel, "r");
    if (!index) {
        return ST_PASS; /* a one-operator model: its output is its only layer */
    }
    unsigned tflm_op, op, taken_off = 0;
    mfl_io_info_t in0, out0;
    int status = ST_PASS;
    (void)m;
    *layers = 0;
    mfl_model_input_info(model, 0, &in0);
    mfl_model_output_info(model, 0, &out0);
    load_inputs(model, it, inputs);
    while (status == ST_PASS && fgets(line, sizeof(line), index)) {
        if (!layer_line(line, &tflm_op, op_name, file, sizeof(file))) {
            continue;
        }
        /* the QUANTIZE and DEQUANTIZE the importer took off a float edge
         * are TFLM's first and last operators, not microfl's */
        if ((tflm_op == 0 && in0.type == MFL_IO_FLOAT32 && !strcmp(op_name, "QUANTIZE")) ||
            (tflm_op - taken_off == model->header->n_ops && out0.type == MFL_IO_FLOAT32 &&
             !strcmp(op_name, "DEQUANTIZE"))) {
            taken_off += tflm_op == 0;
            continue;
        }
        op = tflm_op - taken_off;
        if (op >= model->header->n_ops || strcmp(mfl_opcode_name(model->ops[op].opcode), op_name) != 0) {
            printf("         %-26s layers not compared: TFLM's op %u is %s, microfl's %s\n", name, tflm_op, op_name,
                   op < model->header->n_ops ? mfl_opcode_name(model->ops[op].opcode) : "absent");
            break;
        }
        uint8_t *want = NULL;
        size_t want_size = 0, got_len = 0;
        const int8_t *got;
        snprintf(rel, sizeof(rel), "%s/%s/layers/%s", GOLDEN_DIR, name, file);
        if (read_shared(rel, &want, &want_size) ||
            mfl_interp_invoke_range(it, (uint16_t)op, (uint16_t)(op + 1)) ||
            mfl_interp_tensor(it, model->ops[op].output, &got, &got_len) || got_len != want_size) {
            printf("FAIL     %-26s layer %u (%s): cannot run it or compare its %zu bytes\n", name, op, op_name,
                   want_size);
            status = ST_FAIL;
        } else if (memcmp(want, got, want_size) != 0) {
            size_t at = 0;
            while (want[at] == (uint8_t)got[at]) {
                at++;
            }
            printf("FAIL     %-26s record 0, first differing layer: op %u (%s) byte %zu: expected %d, got %d\n",
                   name, op, op_name, at, (int8_t)want[at], got[at]);
            status = ST_FAIL;
        }
        free(want);
        *layers += status == ST_PASS;
    }
    fclose(index);
    return status;
}

/* Loads the imported image and runs every record on both kernel paths. */
static int run_model(const char *name, const golden_meta_t *m, const uint8_t *image, size_t image_size,
                     const uint8_t *inputs, const uint8_t *outputs)
{
    mfl_model_t model;
    mfl_op_refusal_t why;
    int err = mfl_model_load_ops(&model, image, image_size, &mfl_ops_all, &why);
    if (err) {
        printf("FAIL     %-26s the imported image does not load: %s (operator %u: %s)\n", name,
               mfl_strerror(err), (unsigned)why.op, why.op == MFL_NONE ? "none" : mfl_opcode_name(why.opcode));
        return ST_FAIL;
    }
    if (check_interface(name, m, &model) != ST_PASS) {
        return ST_FAIL;
    }
    const uint32_t arena_size = mfl_model_arena_size(&model);
    uint8_t *arena = malloc(arena_size ? arena_size : 1);
    mfl_interp_t it;
    const int bound = arena && !mfl_interp_init(&it, &model, arena, arena_size);
    unsigned layers = 0;
    int status = bound ? ST_PASS : ST_FAIL;
    if (!bound) {
        printf("FAIL     %-26s cannot bind an arena of %lu bytes\n", name, (unsigned long)arena_size);
    }
    const mfl_kernel_path_t paths[] = {MFL_KERNELS_PORTABLE, MFL_KERNELS_DSP};
    const char *const path_names[] = {"portable", "DSP"};
    for (size_t p = 0; p < 2 && status == ST_PASS; p++) {
        mfl_kernels_select(paths[p]);
        status = run_records(name, m, &model, &it, inputs, outputs, path_names[p]);
    }
    mfl_kernels_select(MFL_KERNELS_PORTABLE);
    /* intermediate tensors too: after a pass (they must match as well), and
     * after a failure (to name the operator where it starts) */
    if (bound) {
        status = check_layers(name, m, &model, &it, inputs, &layers) == ST_FAIL ? ST_FAIL : status;
    }
    if (status == ST_PASS) {
        char layer_text[48] = "";
        if (layers) {
            snprintf(layer_text, sizeof(layer_text), ", %u layers of record 0", layers);
        }
        printf("PASS     %-26s %u records, portable and DSP paths%s; arena %lu B (TFLM on x86-64: %lu B)\n",
               name, m->n, layer_text, (unsigned long)arena_size, m->tflm_arena);
    }
    free(arena);
    return status;
}

/* Imports the tflite, as `mfl model import` does, and runs it if accepted. */
static int import_and_run(const char *name, const golden_meta_t *m, const uint8_t *inputs,
                          const uint8_t *outputs)
{
    uint8_t *tflite = NULL, *image = NULL;
    size_t tflite_size = 0, image_size = 0;
    char msg[512] = "";
    if (read_shared(m->model, &tflite, &tflite_size)) {
        printf("FAIL     %-26s cannot read %s\n", name, m->model);
        return ST_FAIL;
    }
    const int err = mfl_tflite_import(tflite, tflite_size, &image, &image_size, msg, sizeof(msg));
    free(tflite);
    if (err) {
        if (!refusal_is_named(msg, m->ops)) {
            printf("FAIL     %-26s refused without naming one of its operators (%s): %s\n", name, m->ops, msg);
            return ST_FAIL;
        }
        printf("REFUSED  %-26s %s\n", name, msg);
        return ST_REFUSED;
    }
    const int status = run_model(name, m, image, image_size, inputs, outputs);
    free(image);
    return status;
}

/* Checks one model folder; prints its line. Returns an ST_* status. */
static int check_model(const char *name)
{
    char dir[1024], why[1200], rel[1100];
    golden_meta_t m;
    snprintf(dir, sizeof(dir), "%s/%s/%s", MFL_SHARED_DIR, GOLDEN_DIR, name);
    if (meta_read(dir, &m, why, sizeof(why))) {
        printf("FAIL     %-26s %s\n", name, why);
        return ST_FAIL;
    }
    uint8_t *inputs = NULL, *outputs = NULL;
    size_t in_size = 0, out_size = 0;
    snprintf(rel, sizeof(rel), "%s/%s/inputs.bin", GOLDEN_DIR, name);
    int bad = read_shared(rel, &inputs, &in_size);
    snprintf(rel, sizeof(rel), "%s/%s/outputs.bin", GOLDEN_DIR, name);
    bad = bad || read_shared(rel, &outputs, &out_size);
    /* the files are what meta.txt describes: we read the records right */
    bad = bad || in_size != (size_t)m.n * m.record_in || out_size != (size_t)m.n * m.record_out ||
          fnv1a(outputs, out_size) != m.outputs_fnv1a;
    int status = ST_FAIL;
    if (bad) {
        printf("FAIL     %-26s inputs.bin/outputs.bin missing or not N records as meta.txt says\n", name);
    } else {
        status = import_and_run(name, &m, inputs, outputs);
    }
    free(inputs);
    free(outputs);
    return status;
}

/* Runs check_model in a child; a signal or a sanitizer's exit is a crash. */
static int check_model_isolated(const char *name)
{
    fflush(stdout);
    const pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return ST_CRASH;
    }
    if (pid == 0) {
        const int status = check_model(name);
        fflush(stdout);
        exit(status); /* exit, not _exit: LeakSanitizer checks at exit */
    }
    int ws = 0;
    if (waitpid(pid, &ws, 0) != pid) {
        return ST_CRASH;
    }
    if (WIFEXITED(ws) && WEXITSTATUS(ws) <= ST_REFUSED) {
        return WEXITSTATUS(ws);
    }
    if (WIFSIGNALED(ws)) {
        printf("CRASH    %-26s signal %d\n", name, WTERMSIG(ws));
    } else {
        printf("CRASH    %-26s exit status %d (a sanitizer's report is above)\n", name, WEXITSTATUS(ws));
    }
    return ST_CRASH;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The model folders (those with a meta.txt), sorted. Returns the count. */
static size_t list_models(char **names, size_t cap)
{
    char dir[1024], meta[1400];
    snprintf(dir, sizeof(dir), "%s/%s", MFL_SHARED_DIR, GOLDEN_DIR);
    DIR *d = opendir(dir);
    size_t n = 0;
    if (!d) {
        return 0;
    }
    for (struct dirent *e = readdir(d); e && n < cap; e = readdir(d)) {
        snprintf(meta, sizeof(meta), "%s/%s/meta.txt", dir, e->d_name);
        if (e->d_name[0] != '.' && access(meta, R_OK) == 0) {
            names[n++] = strdup(e->d_name);
        }
    }
    closedir(d);
    qsort(names, n, sizeof(names[0]), compare_names);
    return n;
}

static int is_required(const char *name)
{
    for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
        if (!strcmp(required[i], name)) {
            return 1;
        }
    }
    return 0;
}

int main(void)
{
    char *names[MAX_MODELS];
    const size_t n = list_models(names, MAX_MODELS);
    size_t count[4] = {0}, required_passed = 0;
    int failed = 0;
    printf("TFLM reference outputs (%s/%s): %zu models\n", MFL_SHARED_DIR, GOLDEN_DIR, n);
    for (size_t i = 0; i < n; i++) {
        const int status = check_model_isolated(names[i]);
        count[status]++;
        if (is_required(names[i])) {
            required_passed += status == ST_PASS;
            if (status != ST_PASS) {
                printf("         %-26s ^ required to pass\n", "");
            }
        }
        failed |= status == ST_FAIL || status == ST_CRASH || (is_required(names[i]) && status != ST_PASS);
    }
    /* a required model whose folder is missing (a typo in the list) */
    for (size_t r = 0; r < sizeof(required) / sizeof(required[0]); r++) {
        if (!bsearch(&required[r], names, n, sizeof(names[0]), compare_names)) {
            printf("FAIL     %-26s required, but no such folder\n", required[r]);
            failed = 1;
        }
    }
    printf("%zu pass, %zu refused, %zu fail, %zu crash; required: %zu of %zu pass\n", count[ST_PASS],
           count[ST_REFUSED], count[ST_FAIL], count[ST_CRASH], required_passed,
           sizeof(required) / sizeof(required[0]));
    for (size_t i = 0; i < n; i++) {
        free(names[i]);
    }
    return failed || n == 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
