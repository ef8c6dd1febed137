/* `mfl quantize` and `mfl eval`: float model -> int8 model, and accuracy. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
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
    static const char *const args[] = {"FLOAT.mflf", "OUT.mfl"};
    uint64_t calib = 2000, seed = 1;
    double headroom = 2.0;
    const char *dir = NULL;
    int opt, rc = 0;
    cli_t c;
    cli_init(&c, "mfl quantize", quantize_usage);
    while (!rc && (opt = cli_next(&c, argc, argv, "h", longopts)) != -1) {
        switch (opt) {
        case 'c': rc = cli_u64(&c, "--calib", optarg, 1, 60000, &calib); break;
        case 'r': rc = cli_double(&c, "--headroom", optarg, 1.0, 64.0, 0, &headroom); break;
        case 's': rc = cli_u64(&c, "--seed", optarg, 0, UINT64_MAX, &seed); break;
        case 'd': dir = optarg; break;
        default: return c.status; /* CLI_EXIT: --help shown (0), or a bad option named (2) */
        }
    }
    if (rc || (rc = cli_positionals(&c, argc, argv, args, 2)) != 0) {
        return rc;
    }
    const char *in = argv[optind], *out = argv[optind + 1];
    char msg[256] = "";
    mfl_net_t net;
    mfl_dataset_t train;
    int err = mfl_net_load(&net, in, msg, sizeof(msg));
    if (err) {
        return err == MFL_ERR_IO ? cli_file_error(&c, in, err) : cli_fail(&c, "%s: %s", in, msg);
    }
    if ((rc = cli_check_output(&c, out)) != 0 || (rc = cli_load_fmnist(&c, dir, 1, &train)) != 0) {
        mfl_net_free(&net);
        return rc;
    }
    uint32_t *idx = NULL;
    size_t n = 0;
    uint8_t *image = NULL;
    size_t size = 0;
    float lo[MFL_NET_MAX_LAYERS], hi[MFL_NET_MAX_LAYERS];
    msg[0] = '\0';
    err = mfl_dataset_select(&train, NULL, (size_t)calib, seed, &idx, &n);
    err = err ? err : mfl_net_calibrate(&net, &train, idx, n, lo, hi);
    err = err ? err : mfl_net_export(&net, lo, hi, (float)headroom, &image, &size, msg, sizeof(msg));
    if (err) {
        rc = cli_fail(&c, "%s: %s", in, msg[0] ? msg : mfl_strerror(err));
    } else if ((err = mfl_write_file(out, image, size)) != 0) {
        rc = cli_file_error(&c, out, err);
    } else {
        printf("wrote %s (%zu bytes, calibrated on %zu images)\n", out, size, n);
    }
    mfl_dataset_free(&train);
    free(idx);
    free(image);
    mfl_net_free(&net);
    return rc;
}

/* Accuracy of an int8 model: argmax of the head's logits (the softmax
 * output saturates and can tie). */
static int eval_int8(const cli_t *c, const char *path, const mfl_dataset_t *test, double *accuracy)
{
    uint8_t *image;
    size_t size;
    mfl_model_t model;
    if (cli_load_model(c, path, &image, &size, &model)) {
        return CLI_FAILED;
    }
    const uint16_t logits = model.header->head_op != MFL_NONE ? model.ops[model.header->head_op].output
                                                              : model.header->output;
    uint8_t *arena = malloc(mfl_model_arena_size(&model));
    mfl_interp_t it;
    int8_t *in;
    size_t in_len, n_out;
    const int8_t *out;
    int status = CLI_FAILED;
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
            for (size_t k = 1; k < n_out; k++) {
                best = out[k] > out[best] ? k : best;
            }
            correct += best == test->labels[i];
        }
        *accuracy = (double)correct / test->n;
        status = 0;
    } else {
        cli_fail(c, "%s does not take %ux%u images", path, test->rows, test->cols);
    }
    free(arena);
    free(image);
    return status;
}

static void eval_usage(FILE *out)
{
    fprintf(out, "usage: mfl eval MODEL [DATA_DIR]\n"
                 "Accuracy on the Fashion-MNIST test set of an int8 model (.mfl, or .tflite) or a\n"
                 "float model (.mflf). DATA_DIR holds the IDX files (default " MFL_FMNIST_DIR ").\n");
}

int mfl_cmd_eval(int argc, char **argv)
{
    static const struct option longopts[] = {{"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    static const char *const args[] = {"MODEL", "DATA_DIR"};
    cli_t c;
    cli_init(&c, "mfl eval", eval_usage);
    if (cli_next(&c, argc, argv, "h", longopts) != -1) {
        return c.status;
    }
    const int have = argc - optind;
    int rc = cli_positionals(&c, argc, argv, args, have >= 2 ? 2 : 1);
    if (rc) {
        return rc;
    }
    const char *path = argv[optind];
    /* the model's kind from its first bytes: a float model starts "MFLF" */
    uint8_t *head = NULL;
    size_t head_len = 0;
    int err = mfl_read_file(path, &head, &head_len);
    if (err) {
        return cli_file_error(&c, path, err);
    }
    const int is_float = head_len >= 4 && !memcmp(head, "MFLF", 4);
    free(head);
    mfl_dataset_t test;
    if (cli_load_fmnist(&c, have == 2 ? argv[optind + 1] : NULL, 0, &test)) {
        return CLI_FAILED;
    }
    double accuracy = 0.0;
    char msg[256] = "";
    if (is_float) {
        mfl_net_t net;
        if ((err = mfl_net_load(&net, path, msg, sizeof(msg))) != 0) {
            rc = err == MFL_ERR_IO ? cli_file_error(&c, path, err) : cli_fail(&c, "%s: %s", path, msg);
        } else {
            accuracy = mfl_net_accuracy(&net, &test);
            mfl_net_free(&net);
        }
    } else {
        rc = eval_int8(&c, path, &test, &accuracy);
    }
    if (!rc) {
        printf("%s: test accuracy %.2f%% (%u images)\n", path, 100.0 * accuracy, test.n);
    }
    mfl_dataset_free(&test);
    return rc;
}
