/* `mfl quantize` and `mfl eval`: float model -> int8 model, and accuracy. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "mfl/host/host_io.h"
#include "mfl/host/model_file.h"
#include "mfl/host/dataset.h"
#include "mfl/interpreter.h"
#include "mfl/host/net_export.h"
#include "mfl/host/train.h"

static void quantize_usage(FILE *out)
{
    fprintf(out, "usage: mfl quantize FLOAT.mflf OUT.mfl [--calib N] [--headroom X] [--seed N] [--data DIR]\n"
                 "Post-training quantization: calibrates activation ranges on N training images\n"
                 "(default 2000), writes an int8 microfl model whose last dense layer is the\n"
                 "trainable head. --headroom widens the logits' range (default 2).\n");
}

int mfl_cmd_quantize(int argc, char **argv)
{
    static const struct option longopts[] = {{"calib", required_argument, 0, 'c'},
                                             {"headroom", required_argument, 0, 'r'},
                                             {"seed", required_argument, 0, 's'},
                                             {"data", required_argument, 0, 'd'},
                                             {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    size_t calib = 2000;
    float headroom = 2.0f;
    uint64_t seed = 1;
    const char *dir = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': calib = strtoull(optarg, NULL, 10); break;
        case 'r': headroom = strtof(optarg, NULL); break;
        case 's': seed = strtoull(optarg, NULL, 10); break;
        case 'd': dir = optarg; break;
        case 'h': quantize_usage(stdout); return 0;
        default: quantize_usage(stderr); return 2;
        }
    }
    if (argc - optind != 2 || calib < 1 || !(headroom >= 1.0f)) {
        quantize_usage(stderr);
        return 2;
    }
    char msg[256];
    mfl_net_t net;
    mfl_dataset_t train;
    if (mfl_net_load(&net, argv[optind], msg, sizeof(msg))) {
        fprintf(stderr, "mfl quantize: %s\n", msg);
        return 1;
    }
    int status = 1;
    uint32_t *idx = NULL;
    size_t n = 0;
    uint8_t *image = NULL;
    size_t size = 0;
    float lo[MFL_NET_MAX_LAYERS], hi[MFL_NET_MAX_LAYERS];
    if (mfl_fmnist_load(dir, 1, &train, msg, sizeof(msg))) {
        fprintf(stderr, "mfl quantize: %s\n", msg);
    } else {
        if (mfl_dataset_select(&train, NULL, calib, seed, &idx, &n) == 0 &&
            mfl_net_calibrate(&net, &train, idx, n, lo, hi) == 0 &&
            mfl_net_export(&net, lo, hi, headroom, &image, &size, msg, sizeof(msg)) == 0 &&
            mfl_write_file(argv[optind + 1], image, size) == 0) {
            printf("wrote %s (%zu bytes, calibrated on %zu images)\n", argv[optind + 1], size, n);
            status = 0;
        } else {
            fprintf(stderr, "mfl quantize: %s\n", msg[0] ? msg : "failed");
        }
        mfl_dataset_free(&train);
    }
    free(idx);
    free(image);
    mfl_net_free(&net);
    return status;
}

/* Accuracy of an int8 model: argmax of the head's logits (the softmax
 * output saturates and can tie). */
static int eval_int8(const char *path, const mfl_dataset_t *test, double *accuracy)
{
    uint8_t *image;
    size_t size;
    char msg[256] = "";
    mfl_model_t model;
    if (mfl_model_file_read(path, &image, &size, msg, sizeof(msg)) || mfl_model_load(&model, image, size)) {
        fprintf(stderr, "mfl eval: cannot load %s %s\n", path, msg);
        return 1;
    }
    const uint16_t logits = model.header->head_op != MFL_NONE ? model.ops[model.header->head_op].output
                                                              : model.header->output;
    uint8_t *arena = malloc(mfl_model_arena_size(&model));
    mfl_interp_t it;
    int8_t *in;
    size_t in_len, n_out;
    const int8_t *out;
    int status = 1;
    if (arena && mfl_interp_init(&it, &model, arena, mfl_model_arena_size(&model)) == 0 &&
        mfl_interp_input(&it, &in, &in_len) == 0 && in_len == (size_t)test->rows * test->cols) {
        size_t correct = 0;
        for (uint32_t i = 0; i < test->n; i++) {
            const uint8_t *px = test->images + (size_t)i * in_len;
            for (size_t k = 0; k < in_len; k++) {
                in[k] = (int8_t)(px[k] - 128);
            }
            mfl_interp_invoke(&it);
            mfl_interp_tensor(&it, logits, &out, &n_out);
            size_t best = 0;
            for (size_t c = 1; c < n_out; c++) {
                best = out[c] > out[best] ? c : best;
            }
            correct += best == test->labels[i];
        }
        *accuracy = (double)correct / test->n;
        status = 0;
    } else {
        fprintf(stderr, "mfl eval: %s does not take %ux%u images\n", path, test->rows, test->cols);
    }
    free(arena);
    free(image);
    return status;
}

int mfl_cmd_eval(int argc, char **argv)
{
    if (argc < 2 || argc > 3 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        fprintf(argc == 2 ? stdout : stderr, "usage: mfl eval MODEL [DATA_DIR]\n"
                                             "Accuracy on the Fashion-MNIST test set of an int8 model (.mfl) "
                                             "or a float model (.mflf).\n");
        return argc == 2 ? 0 : 2;
    }
    char msg[256];
    mfl_dataset_t test;
    if (mfl_fmnist_load(argc == 3 ? argv[2] : NULL, 0, &test, msg, sizeof(msg))) {
        fprintf(stderr, "mfl eval: %s\n", msg);
        return 1;
    }
    double accuracy = 0.0;
    int status;
    uint8_t magic[4] = {0};
    FILE *f = fopen(argv[1], "rb");
    if (f) {
        status = fread(magic, 1, 4, f) == 4 ? 0 : 1;
        fclose(f);
    }
    if (!memcmp(magic, "MFLF", 4)) {
        mfl_net_t net;
        status = mfl_net_load(&net, argv[1], msg, sizeof(msg));
        if (status) {
            fprintf(stderr, "mfl eval: %s\n", msg);
        } else {
            accuracy = mfl_net_accuracy(&net, &test);
            mfl_net_free(&net);
        }
    } else {
        status = eval_int8(argv[1], &test, &accuracy);
    }
    if (!status) {
        printf("%s: test accuracy %.2f%% (%u images)\n", argv[1], 100.0 * accuracy, test.n);
    }
    mfl_dataset_free(&test);
    return status ? 1 : 0;
}
