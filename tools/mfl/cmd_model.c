/* `mfl model ...`: import, describe and run models. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "mfl/host/host_io.h"
#include "mfl/host/model_file.h"
#include "mfl/interpreter.h"
#include "mfl/model.h"
#include "mfl/host/tflite_import.h"

typedef struct {
    uint8_t *image;
    size_t size;
    mfl_model_t model;
} loaded_model_t;

static int load(const char *path, loaded_model_t *lm)
{
    char msg[256] = "";
    memset(lm, 0, sizeof(*lm));
    int err = mfl_model_file_read(path, &lm->image, &lm->size, msg, sizeof(msg));
    if (!err) {
        err = mfl_model_load(&lm->model, lm->image, lm->size);
        if (err) {
            snprintf(msg, sizeof(msg), "%s", mfl_strerror(err));
        }
    }
    if (err) {
        fprintf(stderr, "mfl: %s: %s\n", path, msg[0] ? msg : mfl_strerror(err));
        free(lm->image);
        lm->image = NULL;
    }
    return err;
}

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

static int cmd_info(const char *path)
{
    loaded_model_t lm;
    if (load(path, &lm)) {
        return 1;
    }
    const mfl_model_t *m = &lm.model;
    const mfl_model_header_t *h = m->header;
    char shape[64];
    uint64_t macs = 0;
    printf("model: %s (%zu bytes, format %u)\n", path, lm.size, h->format_version);
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
    format_shape(&m->tensors[h->input], shape, sizeof(shape));
    printf("input:      tensor %u, int8 %s, zero point %d\n", h->input, shape, m->tensors[h->input].zero_point);
    format_shape(&m->tensors[h->output], shape, sizeof(shape));
    printf("output:     tensor %u, int8 %s, zero point %d\n", h->output, shape, m->tensors[h->output].zero_point);
    printf("operators:  %u\n", h->n_ops);
    printf("tensors:    %u\n", h->n_tensors);
    printf("parameters: %llu\n", (unsigned long long)mfl_model_param_count(m));
    printf("MACs:       %llu\n", (unsigned long long)macs);
    printf("arena:      %u bytes (activations and kernel scratch; largest scratch %u bytes)\n",
           mfl_model_arena_size(m), scratch_max);
    free(lm.image);
    return 0;
}

static int run_all(const mfl_model_t *m, const uint8_t *in, size_t in_size, FILE *out, const char *out_path)
{
    uint8_t *arena = malloc(mfl_model_arena_size(m) + 1);
    mfl_interp_t it;
    int8_t *input;
    const int8_t *output;
    size_t in_len, out_len;
    int status = 1;
    if (!arena || mfl_interp_init(&it, m, arena, mfl_model_arena_size(m)) ||
        mfl_interp_input(&it, &input, &in_len) || mfl_interp_output(&it, &output, &out_len)) {
        fprintf(stderr, "mfl: cannot set up the interpreter\n");
    } else if (in_size == 0 || in_size % in_len != 0) {
        fprintf(stderr, "mfl: input file holds %zu bytes, not a positive multiple of the %zu-byte input\n",
                in_size, in_len);
    } else {
        status = 0;
        for (size_t k = 0; k < in_size / in_len && status == 0; k++) {
            memcpy(input, in + k * in_len, in_len);
            mfl_interp_invoke(&it);
            if (fwrite(output, 1, out_len, out) != out_len) {
                fprintf(stderr, "mfl: cannot write %s\n", out_path);
                status = 1;
            }
        }
    }
    free(arena);
    return status;
}

static int cmd_run(const char *model_path, const char *in_path, const char *out_path)
{
    loaded_model_t lm;
    uint8_t *in = NULL;
    size_t in_size = 0;
    if (load(model_path, &lm)) {
        return 1;
    }
    int status = 1;
    if (mfl_read_file(in_path, &in, &in_size)) {
        fprintf(stderr, "mfl: cannot read %s\n", in_path);
    } else {
        FILE *out = fopen(out_path, "wb");
        if (!out) {
            fprintf(stderr, "mfl: cannot create %s\n", out_path);
        } else {
            status = run_all(&lm.model, in, in_size, out, out_path);
            if (fclose(out) != 0) {
                status = 1;
            }
        }
    }
    free(in);
    free(lm.image);
    return status;
}

static int cmd_import(const char *in_path, const char *out_path)
{
    uint8_t *raw = NULL, *image = NULL;
    size_t raw_size = 0, size = 0;
    char msg[256] = "";
    if (mfl_read_file(in_path, &raw, &raw_size)) {
        fprintf(stderr, "mfl: cannot read %s\n", in_path);
        return 1;
    }
    int err = mfl_tflite_import(raw, raw_size, &image, &size, msg, sizeof(msg));
    free(raw);
    if (err) {
        fprintf(stderr, "mfl: %s: %s\n", in_path, msg[0] ? msg : mfl_strerror(err));
        return 1;
    }
    err = mfl_write_file(out_path, image, size);
    free(image);
    if (err) {
        fprintf(stderr, "mfl: cannot write %s\n", out_path);
        return 1;
    }
    printf("wrote %s (%zu bytes)\n", out_path, size);
    return 0;
}

int mfl_cmd_model(int argc, char **argv)
{
    if (argc >= 1 && !strcmp(argv[0], "info") && argc == 2) {
        return cmd_info(argv[1]);
    }
    if (argc >= 1 && !strcmp(argv[0], "run") && argc == 4) {
        return cmd_run(argv[1], argv[2], argv[3]);
    }
    if (argc >= 1 && !strcmp(argv[0], "import") && argc == 3) {
        return cmd_import(argv[1], argv[2]);
    }
    fprintf(stderr, "usage: mfl model info MODEL | mfl model run MODEL IN.bin OUT.bin | "
                    "mfl model import IN.tflite OUT.mfl\n");
    return 2;
}
