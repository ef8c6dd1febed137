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
    printf("%-11s tensor %u, int8 %s, ", label, io->tensor, shape);
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
    free(image);
    return 0;
}

static int run_all(const cli_t *c, const mfl_model_t *m, const uint8_t *in, size_t in_size, FILE *out,
                   const char *in_path, const char *out_path)
{
    uint8_t *arena = malloc(mfl_model_arena_size(m) + 1);
    mfl_interp_t it;
    int8_t *input;
    const int8_t *output;
    size_t in_len, out_len;
    int status = CLI_FAILED;
    if (!arena || mfl_interp_init(&it, m, arena, mfl_model_arena_size(m)) ||
        mfl_interp_input(&it, &input, &in_len) || mfl_interp_output(&it, &output, &out_len)) {
        cli_fail(c, "cannot set up the interpreter");
    } else if (in_size == 0 || in_size % in_len != 0) {
        cli_fail(c, "%s: %zu bytes, not a positive multiple of the %zu-byte input", in_path, in_size, in_len);
    } else {
        status = 0;
        for (size_t k = 0; k < in_size / in_len && status == 0; k++) {
            memcpy(input, in + k * in_len, in_len);
            mfl_interp_invoke(&it);
            if (fwrite(output, 1, out_len, out) != out_len) {
                status = cli_file_error(c, out_path, MFL_ERR_IO);
            }
        }
    }
    free(arena);
    return status;
}

static int cmd_run(const cli_t *c, const char *model_path, const char *in_path, const char *out_path)
{
    uint8_t *image, *in = NULL;
    size_t size, in_size = 0;
    mfl_model_t model;
    if (cli_load_model(c, model_path, &image, &size, &model)) {
        return CLI_FAILED;
    }
    int status = CLI_FAILED, err = mfl_read_file(in_path, &in, &in_size);
    if (err) {
        cli_file_error(c, in_path, err);
    } else {
        FILE *out = fopen(out_path, "wb");
        if (!out) {
            cli_file_error(c, out_path, MFL_ERR_IO);
        } else {
            status = run_all(c, &model, in, in_size, out, in_path, out_path);
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
                 "or an int8 .tflite model (imported on the fly).\n");
}

static void run_usage(FILE *out)
{
    fprintf(out, "usage: mfl model run MODEL IN.bin OUT.bin\n"
                 "Runs N inputs (raw int8, back to back) through the model and writes the N raw\n"
                 "int8 outputs.\n");
}

static void import_usage(FILE *out)
{
    fprintf(out, "usage: mfl model import IN.tflite OUT.mfl\n"
                 "Converts an int8 .tflite model to microfl's format.\n");
}

static void model_usage(FILE *out)
{
    fprintf(out, "usage: mfl model info MODEL\n"
                 "       mfl model run MODEL IN.bin OUT.bin\n"
                 "       mfl model import IN.tflite OUT.mfl\n"
                 "(mfl model COMMAND --help describes each)\n");
}

int mfl_cmd_model(int argc, char **argv)
{
    static const struct option longopts[] = {{"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    static const char *const info_args[] = {"MODEL"}, *const run_args[] = {"MODEL", "IN.bin", "OUT.bin"},
                             *const import_args[] = {"IN.tflite", "OUT.mfl"};
    const char *verb = argc > 1 ? argv[1] : "";
    cli_t c;
    int rc;
    if (!strcmp(verb, "info")) {
        cli_init(&c, "mfl model info", info_usage);
    } else if (!strcmp(verb, "run")) {
        cli_init(&c, "mfl model run", run_usage);
    } else if (!strcmp(verb, "import")) {
        cli_init(&c, "mfl model import", import_usage);
    } else {
        cli_init(&c, "mfl model", model_usage);
        if (!strcmp(verb, "-h") || !strcmp(verb, "--help")) {
            model_usage(stdout);
            return 0;
        }
        return verb[0] ? cli_usage_error(&c, "unknown command '%s' (info, run or import)", verb)
                       : cli_usage_error(&c, "missing the command: info, run or import");
    }
    argc--, argv++; /* the subcommand's own arguments */
    if (cli_next(&c, argc, argv, "h", longopts) != -1) {
        return c.status; /* CLI_EXIT: the only option is --help */
    }
    if (!strcmp(verb, "info")) {
        return (rc = cli_positionals(&c, argc, argv, info_args, 1)) ? rc : cmd_info(&c, argv[optind]);
    }
    if (!strcmp(verb, "run")) {
        return (rc = cli_positionals(&c, argc, argv, run_args, 3))
                   ? rc
                   : cmd_run(&c, argv[optind], argv[optind + 1], argv[optind + 2]);
    }
    return (rc = cli_positionals(&c, argc, argv, import_args, 2)) ? rc
                                                                   : cmd_import(&c, argv[optind], argv[optind + 1]);
}
