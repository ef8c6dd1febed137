/* `mfl model ...`: import, describe and run models. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "mfl/host/host_io.h"
#include "mfl/host/model_file.h"
#include "mfl/host/model_io.h"
#include "mfl/interpreter.h"
#include "mfl/model.h"
#include "mfl/host/tflite_import.h"

static void format_shape(const mfl_tensor_rec_t *t, char *buf, size_t cap)
{
    size_t n = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < t->rank && n < cap; i++) {
        n += (size_t)snprintf(buf + n, cap - n, i ? ",%d" : "%d", t->dims[i]);
    }
    if (n < cap) {
        snprintf(buf + n, cap - n, "]");
    }
}

/* "input 0:    tensor 0, int8 [1,49,10,1], scale 0.584702909 (mantissa 1255639936, exponent 0),
 * zero point 83": the scale is mantissa x 2^(exponent - 31) (mfl_scale_t) */
static void print_io(const mfl_model_t *m, const char *what, unsigned k, const mfl_io_info_t *io)
{
    char shape[64], label[24];
    format_shape(&m->tensors[io->tensor], shape, sizeof(shape));
    snprintf(label, sizeof(label), "%s %u:", what, k);
    static const char *const types[] = {"?", "int8", "int32", "int16", "int64"}; /* enum mfl_tensor_type */
    const uint8_t t = m->tensors[io->tensor].type;
    printf("%-11s tensor %u, %s %s, ", label, io->tensor, t <= MFL_TYPE_INT64 ? types[t] : "?", shape);
    if (io->scale.m) {
        printf("scale %.9g (mantissa %ld, exponent %ld), ", (double)mfl_io_scale(io), (long)io->scale.m,
               (long)io->scale.e);
    } else {
        printf("scale not recorded%s, ", m->header->format_version < 3 ? " (format < 3: import again)" : "");
    }
    printf("zero point %ld%s\n", (long)io->zero_point,
           io->type == MFL_IO_FLOAT32 ? (what[0] == 'i' ? "; float32 in the source model (QUANTIZE taken off)"
                                                        : "; float32 in the source model (DEQUANTIZE taken off)")
                                      : "");
}

static int cmd_info(const cli_t *c, const char *path)
{
    uint8_t *image;
    size_t size;
    mfl_model_t model;
    if (cli_load_model(c, path, &image, &size, &model)) {
        return CLI_FAILED;
    }
    const mfl_model_t *m = &model;
    const mfl_model_header_t *h = m->header;
    char shape[64];
    uint64_t macs = 0;
    printf("model: %s (%zu bytes, format %u)\n", path, size, h->format_version);
    printf("%-4s %-18s %-18s %12s %8s\n", "op", "type", "output", "MACs", "scratch");
    uint32_t scratch_max = 0;
    for (uint16_t i = 0; i < h->n_ops; i++) {
        const mfl_op_rec_t *op = &m->ops[i];
        format_shape(&m->tensors[op->output], shape, sizeof(shape));
        const uint64_t op_macs = mfl_model_op_macs(m, i);
        const uint16_t s = mfl_op_scratch(m, op);
        const uint32_t scratch = s == MFL_NONE ? 0 : m->tensors[s].size;
        scratch_max = scratch > scratch_max ? scratch : scratch_max;
        macs += op_macs;
        printf("%-4u %-18s %-18s %12llu %8u%s\n", i, mfl_opcode_name(op->opcode), shape,
               (unsigned long long)op_macs, scratch, i == h->head_op ? "  (trainable head)" : "");
    }
    mfl_io_info_t io;
    for (unsigned k = 0; mfl_model_input_info(m, k, &io) == 0; k++) {
        print_io(m, "input", k, &io);
    }
    for (unsigned k = 0; mfl_model_output_info(m, k, &io) == 0; k++) {
        print_io(m, "output", k, &io);
    }
    printf("operators:  %u\n", h->n_ops);
    printf("tensors:    %u\n", h->n_tensors);
    printf("parameters: %llu\n", (unsigned long long)mfl_model_param_count(m));
    printf("MACs:       %llu\n", (unsigned long long)macs);
    printf("arena:      %u bytes (activations and kernel scratch; largest scratch %u bytes)\n",
           mfl_model_arena_size(m), scratch_max);
    printf("lower bound: %u bytes (the most activation bytes alive at once: no plan needs less)\n",
           mfl_model_arena_lower_bound(m));
    free(image);
    return 0;
}

/* What `mfl model run`, `quantize` and `dequantize` turn into what. */
typedef enum { XF_RUN, XF_QUANTIZE, XF_DEQUANTIZE } transform_t;

typedef int (*io_info_fn)(const mfl_model_t *, unsigned, mfl_io_info_t *);

/* Bytes in a record of an edge: int8 codes, or as the source model had it
 * (typed: float32 where its QUANTIZE or DEQUANTIZE was taken off). */
static size_t edge_bytes(const mfl_io_info_t *io, int typed)
{
    return (size_t)io->size * (typed && io->type == MFL_IO_FLOAT32 ? 4u : 1u);
}

/* Bytes of one record: every input (or output) in order. */
static size_t record_size(const mfl_model_t *m, io_info_fn info, int typed)
{
    mfl_io_info_t io;
    size_t n = 0;
    for (unsigned k = 0; info(m, k, &io) == 0; k++) {
        n += edge_bytes(&io, typed);
    }
    return n;
}

/* Has the model a float32 edge on that side? */
static int has_float_edge(const mfl_model_t *m, io_info_fn info)
{
    mfl_io_info_t io;
    for (unsigned k = 0; info(m, k, &io) == 0; k++) {
        if (io.type == MFL_IO_FLOAT32) {
            return 1;
        }
    }
    return 0;
}

/* Input k's int8 bytes in the arena (NULL: no such input). */
static int8_t *in_buffer(mfl_interp_t *it, unsigned k)
{
    int8_t *p = NULL;
    size_t len = 0;
    return mfl_interp_input_at(it, k, &p, &len) == 0 ? p : NULL;
}

/* Output k's int8 bytes in the arena (NULL: no such output). */
static const int8_t *out_buffer(mfl_interp_t *it, unsigned k)
{
    const int8_t *p = NULL;
    size_t len = 0;
    return mfl_interp_output_at(it, k, &p, &len) == 0 ? p : NULL;
}

/* One input record (src; typed: float32 at float edges) into the model's
 * input buffers, or (quantize) into dst as int8 codes. */
static void load_record(const mfl_model_t *m, mfl_interp_t *it, int typed, const uint8_t *src, int8_t *dst)
{
    mfl_io_info_t io;
    for (unsigned k = 0; mfl_model_input_info(m, k, &io) == 0; k++) {
        int8_t *to = dst ? dst : in_buffer(it, k);
        if (typed && io.type == MFL_IO_FLOAT32) {
            mfl_io_quantize_f32(&io, src, io.size, to);
        } else {
            memcpy(to, src, io.size);
        }
        src += edge_bytes(&io, typed);
        dst = dst ? dst + io.size : NULL;
    }
}

/* One output record, from the model's output buffers or (dequantize) the
 * int8 codes at codes, to dst (typed: float32 at float edges). */
static void store_record(const mfl_model_t *m, mfl_interp_t *it, int typed, const int8_t *codes, uint8_t *dst)
{
    mfl_io_info_t io;
    for (unsigned k = 0; mfl_model_output_info(m, k, &io) == 0; k++) {
        const int8_t *from = codes ? codes : out_buffer(it, k);
        if (typed && io.type == MFL_IO_FLOAT32) {
            mfl_io_dequantize_s8(&io, from, io.size, dst);
        } else {
            memcpy(dst, from, io.size);
        }
        dst += edge_bytes(&io, typed);
        codes = codes ? codes + io.size : NULL;
    }
}

/* Every record of in, transformed, written to out. */
static int transform_all(const cli_t *c, const mfl_model_t *m, transform_t xf, int real, const uint8_t *in,
                         size_t in_size, FILE *out, const char *in_path, const char *out_path)
{
    const int real_in = xf == XF_QUANTIZE || (xf == XF_RUN && real);
    const int real_out = xf == XF_DEQUANTIZE || (xf == XF_RUN && real);
    const size_t in_rec = record_size(m, xf == XF_DEQUANTIZE ? mfl_model_output_info : mfl_model_input_info, real_in);
    const size_t out_rec = record_size(m, xf == XF_QUANTIZE ? mfl_model_input_info : mfl_model_output_info, real_out);
    uint8_t *arena = xf == XF_RUN ? malloc(mfl_model_arena_size(m) + 1) : NULL;
    uint8_t *rec = malloc(out_rec);
    mfl_interp_t it;
    int status = CLI_FAILED;
    if (!rec || (xf == XF_RUN && (!arena || mfl_interp_init(&it, m, arena, mfl_model_arena_size(m)) ||
                                  !in_buffer(&it, 0) || !out_buffer(&it, 0)))) {
        cli_fail(c, "cannot set up the interpreter");
    } else if (in_size == 0 || in_size % in_rec != 0) {
        cli_fail(c, "%s: %zu bytes, not a positive multiple of the %zu-byte %s record", in_path, in_size, in_rec,
                 xf == XF_DEQUANTIZE ? "output" : "input");
    } else {
        status = 0;
        for (size_t r = 0; r < in_size / in_rec && status == 0; r++) {
            const uint8_t *src = in + r * in_rec;
            if (xf == XF_QUANTIZE) {
                load_record(m, NULL, 1, src, (int8_t *)rec);
            } else if (xf == XF_DEQUANTIZE) {
                store_record(m, NULL, 1, (const int8_t *)src, rec);
            } else {
                load_record(m, &it, real, src, NULL);
                mfl_interp_invoke(&it);
                store_record(m, &it, real, NULL, rec);
            }
            if (fwrite(rec, 1, out_rec, out) != out_rec) {
                status = cli_file_error(c, out_path, MFL_ERR_IO);
            }
        }
    }
    free(rec);
    free(arena);
    return status;
}

static int cmd_transform(const cli_t *c, transform_t xf, int real, const char *model_path, const char *in_path,
                         const char *out_path)
{
    uint8_t *image, *in = NULL;
    size_t size, in_size = 0;
    mfl_model_t model;
    if (cli_load_model(c, model_path, &image, &size, &model)) {
        return CLI_FAILED;
    }
    int status = CLI_FAILED, err = 0;
    const int floats_in = has_float_edge(&model, mfl_model_input_info);
    const int floats_out = has_float_edge(&model, mfl_model_output_info);
    /* --float that would change nothing is a mistake worth naming (quantize
     * and dequantize copy int8 edges: scripts need not know the model) */
    if (xf == XF_RUN && real && !floats_in && !floats_out) {
        cli_fail(c, "%s has no float32 input or output (its source model took and gave int8 codes): drop --float",
                 model_path);
        free(image);
        return CLI_FAILED;
    }
    err = mfl_read_file(in_path, &in, &in_size);
    if (err) {
        cli_file_error(c, in_path, err);
    } else {
        FILE *out = fopen(out_path, "wb");
        if (!out) {
            cli_file_error(c, out_path, MFL_ERR_IO);
        } else {
            status = transform_all(c, &model, xf, real, in, in_size, out, in_path, out_path);
            if (fclose(out) != 0 && status == 0) {
                status = cli_file_error(c, out_path, MFL_ERR_IO);
            }
            if (status) {
                remove(out_path); /* no half-written outputs left behind */
            }
        }
    }
    free(in);
    free(image);
    return status;
}

static int cmd_import(const cli_t *c, const char *in_path, const char *out_path)
{
    uint8_t *raw = NULL, *image = NULL;
    size_t raw_size = 0, size = 0;
    char msg[256] = "";
    int err = mfl_read_file(in_path, &raw, &raw_size);
    if (err) {
        return cli_file_error(c, in_path, err);
    }
    err = mfl_tflite_import(raw, raw_size, &image, &size, msg, sizeof(msg));
    free(raw);
    if (err) {
        return cli_fail(c, "%s: %s", in_path, msg[0] ? msg : mfl_strerror(err));
    }
    err = mfl_write_file(out_path, image, size);
    free(image);
    if (err) {
        return cli_file_error(c, out_path, err);
    }
    printf("wrote %s (%zu bytes)\n", out_path, size);
    return 0;
}

static void info_usage(FILE *out)
{
    fprintf(out, "usage: mfl model info MODEL\n"
                 "Operators, tensors, parameters, MACs and arena bytes of a microfl model (.mfl)\n"
                 "or an int8 .tflite model (imported on the fly), and each input's and output's\n"
                 "shape, scale and zero point.\n");
}

static void run_usage(FILE *out)
{
    fprintf(out, "usage: mfl model run [--float] MODEL IN.bin OUT.bin\n"
                 "Runs N input records (back to back; a record holds every input in order) through\n"
                 "the model and writes the N output records (every output in order), as raw int8\n"
                 "codes. With --float, the inputs and outputs that the source .tflite took or gave\n"
                 "as float32 (its QUANTIZE and DEQUANTIZE, taken off at import) are float32\n"
                 "(little-endian) in the records, quantized and dequantized on the host with the\n"
                 "model's scales exactly as TensorFlow Lite Micro does: the records TFLM takes and\n"
                 "gives.\n"
                 "  --float   float32 at the model's float edges\n");
}

static void quantize_usage(FILE *out)
{
    fprintf(out, "usage: mfl model quantize MODEL IN.f32 OUT.bin\n"
                 "Quantizes N input records as the source .tflite takes them (every input in order,\n"
                 "float32 at its float inputs) with the model's scales and zero points, as TFLM's\n"
                 "QUANTIZE does: the int8 records a device takes (int8 inputs copied).\n");
}

static void dequantize_usage(FILE *out)
{
    fprintf(out, "usage: mfl model dequantize MODEL IN.bin OUT.f32\n"
                 "Dequantizes N int8 output records (every output in order, as a device gives\n"
                 "them) at the model's float outputs with their scales, as TFLM's DEQUANTIZE does:\n"
                 "the records the source .tflite gives (int8 outputs copied).\n");
}

static void import_usage(FILE *out)
{
    fprintf(out, "usage: mfl model import IN.tflite OUT.mfl\n"
                 "Converts an int8 .tflite model to microfl's format. A float32 input's QUANTIZE\n"
                 "and a float32 output's DEQUANTIZE are taken off and the edge recorded as float\n"
                 "(mfl model run --float converts on the host).\n");
}

static void model_usage(FILE *out)
{
    fprintf(out, "usage: mfl model info MODEL\n"
                 "       mfl model run [--float] MODEL IN.bin OUT.bin\n"
                 "       mfl model quantize MODEL IN.f32 OUT.bin\n"
                 "       mfl model dequantize MODEL IN.bin OUT.f32\n"
                 "       mfl model import IN.tflite OUT.mfl\n"
                 "(mfl model COMMAND --help describes each)\n");
}

int mfl_cmd_model(int argc, char **argv)
{
    static const struct option longopts[] = {{"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    static const struct option run_longopts[] = {
        {"help", no_argument, 0, 'h'}, {"float", no_argument, 0, 'f'}, {0, 0, 0, 0}};
    static const char *const info_args[] = {"MODEL"}, *const run_args[] = {"MODEL", "IN.bin", "OUT.bin"},
                             *const quantize_args[] = {"MODEL", "IN.f32", "OUT.bin"},
                             *const dequantize_args[] = {"MODEL", "IN.bin", "OUT.f32"},
                             *const import_args[] = {"IN.tflite", "OUT.mfl"};
    const char *verb = argc > 1 ? argv[1] : "";
    cli_t c;
    int rc, opt, real = 0;
    if (!strcmp(verb, "info")) {
        cli_init(&c, "mfl model info", info_usage);
    } else if (!strcmp(verb, "run")) {
        cli_init(&c, "mfl model run", run_usage);
    } else if (!strcmp(verb, "quantize")) {
        cli_init(&c, "mfl model quantize", quantize_usage);
    } else if (!strcmp(verb, "dequantize")) {
        cli_init(&c, "mfl model dequantize", dequantize_usage);
    } else if (!strcmp(verb, "import")) {
        cli_init(&c, "mfl model import", import_usage);
    } else {
        cli_init(&c, "mfl model", model_usage);
        if (!strcmp(verb, "-h") || !strcmp(verb, "--help")) {
            model_usage(stdout);
            return 0;
        }
        return verb[0] ? cli_usage_error(&c, "unknown command '%s' (info, run, quantize, dequantize or import)", verb)
                       : cli_usage_error(&c, "missing the command: info, run, quantize, dequantize or import");
    }
    argc--, argv++; /* the subcommand's own arguments */
    const int is_run = !strcmp(verb, "run");
    while ((opt = cli_next(&c, argc, argv, is_run ? "fh" : "h", is_run ? run_longopts : longopts)) != -1) {
        if (opt != 'f') {
            return c.status; /* CLI_EXIT: --help shown (0), or a bad option named (2) */
        }
        real = 1;
    }
    if (!strcmp(verb, "info")) {
        return (rc = cli_positionals(&c, argc, argv, info_args, 1)) ? rc : cmd_info(&c, argv[optind]);
    }
    if (!strcmp(verb, "import")) {
        return (rc = cli_positionals(&c, argc, argv, import_args, 2)) ? rc
                                                                       : cmd_import(&c, argv[optind], argv[optind + 1]);
    }
    const transform_t xf = is_run ? XF_RUN : !strcmp(verb, "quantize") ? XF_QUANTIZE : XF_DEQUANTIZE;
    const char *const *names = is_run ? run_args : xf == XF_QUANTIZE ? quantize_args : dequantize_args;
    return (rc = cli_positionals(&c, argc, argv, names, 3))
               ? rc
               : cmd_transform(&c, xf, real, argv[optind], argv[optind + 1], argv[optind + 2]);
}
