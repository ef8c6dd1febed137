/*
 * mfl — microfl's command-line tool for models (and, as the project grows,
 * training, keys and messages). Each command group lives in its own file.
 */
#include <stdio.h>
#include <string.h>

#include "commands.h"

#ifndef MFL_VERSION
#define MFL_VERSION "0.1.0"
#endif

static void usage(FILE *out)
{
    fprintf(out,
            "usage: mfl <command> [arguments]\n"
            "\n"
            "Model commands:\n"
            "  mfl model import IN.tflite OUT.mfl   convert an int8 .tflite model to microfl's format\n"
            "  mfl model info MODEL                  operators, tensors, parameters, MACs, arena bytes\n"
            "  mfl model run [--float] MODEL IN.bin OUT.bin\n"
            "                                        run N input records (int8; --float: float32 at\n"
            "                                        float edges) and write the N output records\n"
            "  mfl model quantize MODEL IN.f32 OUT.bin   float input records to the device's int8\n"
            "  mfl model dequantize MODEL IN.bin OUT.f32 the device's int8 output records to float\n"
            "\n"
            "MODEL is a microfl model (.mfl) or an int8 .tflite file, imported on the fly.\n"
            "\n"
            "Base model pipeline (Fashion-MNIST):\n"
            "  mfl train -o FLOAT.mflf [options]     train a float CNN (mfl train --help)\n"
            "  mfl quantize FLOAT.mflf OUT.mfl       post-training quantization to int8\n"
            "  mfl eval MODEL                        test-set accuracy of a .mfl or .mflf model\n"
            "  mfl learn-demo MODEL.mfl              on-device learning: accuracy before/after\n"
            "\n"
            "Keys and messages:\n"
            "  mfl keygen PREFIX                     P-256 key pair: PREFIX.key, PREFIX.pub\n"
            "  mfl update make --model M --key K --device-id ID -o OUT   a signed update\n"
            "  mfl inspect FILE                      print any microfl message; say why it is invalid\n"
            "  mfl verify --key PUB FILE             check a COSE_Sign1 signature\n"
            "\n"
            "Talking to an aggregator (CoAP over DTLS-PSK):\n"
            "  mfl device sync --server H:P --id ID --psk-file F ...   fetch/install the model, learn, send an update\n"
            "  mfl device relay --server H:P --id ID --psk-file F FILE  post a signed update made elsewhere\n"
            "\n"
            "Options:\n"
            "  -h, --help      show this help (mfl COMMAND --help: the command's)\n"
            "  -V, --version   show the version\n"
            "\n"
            "Exit status: 0 success, 1 the operation failed (a file, the network, invalid\n"
            "content), 2 a usage error (an unknown option, a bad or missing value).\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "mfl: missing the command\n");
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version")) {
        printf("mfl %s\n", MFL_VERSION);
        return 0;
    }
    if (!strcmp(argv[1], "model")) {
        return mfl_cmd_model(argc - 1, argv + 1);
    }
    if (!strcmp(argv[1], "train")) {
        return mfl_cmd_train(argc - 1, argv + 1);
    }
    if (!strcmp(argv[1], "quantize")) {
        return mfl_cmd_quantize(argc - 1, argv + 1);
    }
    if (!strcmp(argv[1], "eval")) {
        return mfl_cmd_eval(argc - 1, argv + 1);
    }
    if (!strcmp(argv[1], "learn-demo")) {
        return mfl_cmd_learn_demo(argc - 1, argv + 1);
    }
    if (!strcmp(argv[1], "keygen")) {
        return mfl_cmd_keygen(argc - 1, argv + 1);
    }
    if (!strcmp(argv[1], "verify")) {
        return mfl_cmd_verify(argc - 1, argv + 1);
    }
    if (!strcmp(argv[1], "inspect")) {
        return mfl_cmd_inspect(argc - 1, argv + 1);
    }
    if (!strcmp(argv[1], "update")) {
        return mfl_cmd_update(argc - 1, argv + 1);
    }
    if (!strcmp(argv[1], "device")) {
        return mfl_cmd_device(argc - 1, argv + 1);
    }
    fprintf(stderr, "mfl: unknown %s '%s'\nTry 'mfl --help'.\n", argv[1][0] == '-' ? "option" : "command", argv[1]);
    return 2;
}
