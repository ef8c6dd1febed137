/* `mfl train` and `mfl eval`: the base model pipeline on Fashion-MNIST. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "commands.h"
#include "mfl/host/host_io.h"
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

/* "w0,w1,...,w9": ten probabilities, each in [0, 1], no empty field. */
static int parse_weights(const char *s, float *w)
{
    char buf[256];
    if ((size_t)snprintf(buf, sizeof(buf), "%s", s) >= sizeof(buf)) {
        return -1;
    }
    char *field = buf;
    for (int c = 0; c < MFL_FMNIST_CLASSES; c++) {
        char *comma = strchr(field, ',');
        if ((comma == NULL) != (c == MFL_FMNIST_CLASSES - 1)) {
            return -1; /* fewer or more than ten fields */
        }
        if (comma) {
            *comma = '\0';
        }
        double x;
        if (mfl_parse_double(field, 0.0, 1.0, &x)) {
            return -1;
        }
        w[c] = (float)x;
        field = comma ? comma + 1 : field;
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
    uint64_t limit = 0;
    double lr = o.lr;
    float weights[MFL_FMNIST_CLASSES];
    int have_weights = 0, opt, rc = 0;
    cli_t c;
    o.verbose = 1;
    cli_init(&c, "mfl train", train_usage);
    while (!rc && (opt = cli_next(&c, argc, argv, "o:a:e:b:l:s:n:w:j:d:h", longopts)) != -1) {
        switch (opt) {
        case 'o': out = optarg; break;
        case 'a': arch = optarg; break;
        case 'e': rc = cli_int(&c, "--epochs", optarg, 1, 1000, &o.epochs); break;
        case 'b': rc = cli_int(&c, "--batch", optarg, 1, 60000, &o.batch); break;
        case 'l': rc = cli_double(&c, "--lr", optarg, 0.0, 10.0, 1, &lr); break;
        case 'S': o.optimizer = MFL_OPT_SGD_MOMENTUM; break;
        case 's': rc = cli_u64(&c, "--seed", optarg, 0, UINT64_MAX, &o.seed); break;
        case 'n': rc = cli_u64(&c, "--limit", optarg, 1, UINT32_MAX, &limit); break;
        case 'w':
            if (parse_weights(optarg, weights)) {
                rc = cli_usage_error(&c, "--class-weights '%s': not 10 comma-separated values in [0, 1]", optarg);
            }
            have_weights = 1;
            break;
        case 'j': rc = cli_int(&c, "--threads", optarg, 1, 64, &o.threads); break;
        case 'd': dir = optarg; break;
        default: return c.status; /* CLI_EXIT: --help shown (0), or a bad option named (2) */
        }
    }
    if (rc) {
        return rc;
    }
    o.lr = (float)lr;
    if (!out) {
        return cli_usage_error(&c, "missing -o/--output MODEL.mflf (the float model to write)");
    }
    if ((rc = cli_positionals(&c, argc, argv, NULL, 0)) != 0) {
        return rc;
    }
    char msg[256];
    mfl_net_t net;
    /* the architecture and the output, before the data is loaded and the
     * network trained (Fashion-MNIST's 28x28 images) */
    if (mfl_net_create(&net, arch, 28, 28, 1, msg, sizeof(msg))) {
        return cli_usage_error(&c, "--arch: %s", msg);
    }
    mfl_net_free(&net);
    if ((rc = cli_check_output(&c, out)) != 0) {
        return rc;
    }
    mfl_dataset_t train, test;
    if (cli_load_fmnist(&c, dir, 1, &train)) {
        return CLI_FAILED;
    }
    if (cli_load_fmnist(&c, dir, 0, &test)) {
        mfl_dataset_free(&train);
        return CLI_FAILED;
    }
    int status = CLI_FAILED, err;
    uint32_t *idx = NULL;
    size_t n = 0;
    if (mfl_net_create(&net, arch, (int)train.rows, (int)train.cols, 1, msg, sizeof(msg))) {
        cli_fail(&c, "--arch '%s' on %ux%u images: %s", arch, train.rows, train.cols, msg);
    } else if ((err = mfl_dataset_select(&train, have_weights ? weights : NULL, (size_t)limit, o.seed, &idx, &n)) !=
               0) {
        cli_fail(&c, "selecting the training samples: %s", mfl_strerror(err));
    } else {
        mfl_net_init(&net, o.seed);
        fprintf(stderr, "training %s (%zu parameters) on %zu samples\n", arch, net.n_params, n);
        const time_t t0 = time(NULL);
        if ((err = mfl_net_train(&net, &train, idx, n, &o)) != 0) {
            cli_fail(&c, "training failed: %s", mfl_strerror(err));
        } else if ((err = mfl_net_save(&net, out)) != 0) {
            cli_file_error(&c, out, err);
        } else {
            printf("test accuracy %.2f%% (float), %ld s, wrote %s\n", 100.0 * mfl_net_accuracy(&net, &test),
                   (long)(time(NULL) - t0), out);
            status = 0;
        }
    }
    free(idx);
    mfl_net_free(&net);
    mfl_dataset_free(&train);
    mfl_dataset_free(&test);
    return status;
}
