/* `mfl train` and `mfl eval`: the base model pipeline on Fashion-MNIST. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "mfl/host/dataset.h"
#include "mfl/host/train.h"

#define DEFAULT_ARCH "c16,p,c32s2,c32s2,d64,d10"

static void train_usage(FILE *out)
{
    fprintf(out,
            "usage: mfl train -o MODEL.mflf [options]\n"
            "Trains a float CNN on Fashion-MNIST (deterministic for a given seed).\n"
            "  -o, --output FILE        float model to write (required)\n"
            "  -a, --arch SPEC          architecture (default " DEFAULT_ARCH ")\n"
            "                           cN[kK][sS] conv+ReLU, p 2x2 max pool, dN dense; last dN = head\n"
            "  -e, --epochs N           passes over the training set (default 8)\n"
            "  -b, --batch N            mini-batch size (default 64)\n"
            "  -l, --lr X               learning rate (default 0.001)\n"
            "      --sgd                SGD with momentum 0.9 instead of Adam\n"
            "  -s, --seed N             seed for initialisation, order and subsets (default 1)\n"
            "  -n, --limit N            train on at most N samples\n"
            "  -w, --class-weights LIST keep each class-c sample with probability w_c (10 values)\n"
            "  -j, --threads N          worker threads (default 2; results do not depend on it)\n"
            "  -d, --data DIR           Fashion-MNIST directory (default " MFL_FMNIST_DIR ")\n");
}

static int parse_weights(const char *s, float *w)
{
    for (int c = 0; c < MFL_FMNIST_CLASSES; c++) {
        char *end;
        w[c] = strtof(s, &end);
        if (end == s || w[c] < 0.0f || w[c] > 1.0f || (c < MFL_FMNIST_CLASSES - 1 && *end != ',')) {
            return -1;
        }
        s = end + 1;
    }
    return 0;
}

int mfl_cmd_train(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"output", required_argument, 0, 'o'}, {"arch", required_argument, 0, 'a'},
        {"epochs", required_argument, 0, 'e'}, {"batch", required_argument, 0, 'b'},
        {"lr", required_argument, 0, 'l'},     {"sgd", no_argument, 0, 'S'},
        {"seed", required_argument, 0, 's'},   {"limit", required_argument, 0, 'n'},
        {"class-weights", required_argument, 0, 'w'}, {"threads", required_argument, 0, 'j'},
        {"data", required_argument, 0, 'd'},   {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    mfl_train_opts_t o = mfl_train_defaults();
    const char *out = NULL, *arch = DEFAULT_ARCH, *dir = NULL;
    size_t limit = 0;
    float weights[MFL_FMNIST_CLASSES];
    int have_weights = 0, c;
    o.verbose = 1;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:a:e:b:l:s:n:w:j:d:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'a': arch = optarg; break;
        case 'e': o.epochs = atoi(optarg); break;
        case 'b': o.batch = atoi(optarg); break;
        case 'l': o.lr = strtof(optarg, NULL); break;
        case 'S': o.optimizer = MFL_OPT_SGD_MOMENTUM; break;
        case 's': o.seed = strtoull(optarg, NULL, 10); break;
        case 'n': limit = strtoull(optarg, NULL, 10); break;
        case 'w':
            if (parse_weights(optarg, weights)) {
                fprintf(stderr, "mfl train: --class-weights needs 10 values in [0, 1]\n");
                return 2;
            }
            have_weights = 1;
            break;
        case 'j': o.threads = atoi(optarg); break;
        case 'd': dir = optarg; break;
        case 'h': train_usage(stdout); return 0;
        default: train_usage(stderr); return 2;
        }
    }
    if (!out || optind != argc || o.epochs < 1 || o.batch < 1 || o.threads < 1 || !(o.lr > 0.0f)) {
        train_usage(stderr);
        return 2;
    }
    char msg[256];
    mfl_dataset_t train, test;
    if (mfl_fmnist_load(dir, 1, &train, msg, sizeof(msg)) || mfl_fmnist_load(dir, 0, &test, msg, sizeof(msg))) {
        fprintf(stderr, "mfl train: %s\n", msg);
        return 1;
    }
    mfl_net_t net;
    int status = 1;
    uint32_t *idx = NULL;
    size_t n = 0;
    if (mfl_net_create(&net, arch, (int)train.rows, (int)train.cols, 1, msg, sizeof(msg))) {
        fprintf(stderr, "mfl train: %s\n", msg);
    } else if (mfl_dataset_select(&train, have_weights ? weights : NULL, limit, o.seed, &idx, &n) == 0) {
        mfl_net_init(&net, o.seed);
        fprintf(stderr, "training %s (%zu parameters) on %zu samples\n", arch, net.n_params, n);
        const time_t t0 = time(NULL);
        if (mfl_net_train(&net, &train, idx, n, &o) == 0 && mfl_net_save(&net, out) == 0) {
            printf("test accuracy %.2f%% (float), %ld s, wrote %s\n", 100.0 * mfl_net_accuracy(&net, &test),
                   (long)(time(NULL) - t0), out);
            status = 0;
        } else {
            fprintf(stderr, "mfl train: training or writing %s failed\n", out);
        }
    }
    free(idx);
    mfl_net_free(&net);
    mfl_dataset_free(&train);
    mfl_dataset_free(&test);
    return status;
}
