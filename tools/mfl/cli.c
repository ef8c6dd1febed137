/* The mfl commands' shared conventions (see cli.h). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "mfl/error.h"
#include "mfl/host/host_io.h"
#include "mfl/host/model_file.h"

void cli_init(cli_t *c, const char *name, void (*usage)(FILE *out))
{
    memset(c, 0, sizeof(*c));
    c->name = name;
    c->usage = usage;
    optind = 0; /* glibc: 0 also resets getopt's internal state (a second parse in one process) */
    opterr = 0; /* the messages are ours: they name the command */
}

/* The text of the option at argv[optind - 1] up to any "=value". */
static void option_text(int argc, char **argv, char *out, size_t cap)
{
    const char *arg = optind >= 1 && optind - 1 < argc ? argv[optind - 1] : "?";
    const size_t n = strcspn(arg, "=");
    snprintf(out, cap, "%.*s", (int)(n < cap ? n : cap - 1), arg);
}

int cli_next(cli_t *c, int argc, char **argv, const char *shortopts, const struct option *longopts)
{
    if (!c->optstring[0]) {
        /* a leading ':' makes getopt tell a missing value (':') from an
         * unknown option ('?') */
        snprintf(c->optstring, sizeof(c->optstring), ":%s", shortopts);
    }
    const int opt = getopt_long(argc, argv, c->optstring, longopts, NULL);
    char text[64];
    if (opt == 'h') {
        c->usage(stdout);
        c->status = 0;
        return CLI_EXIT;
    }
    if (opt == ':') {
        if (optopt && optopt < 256 && !(optind >= 1 && optind - 1 < argc && argv[optind - 1][1] == '-')) {
            snprintf(text, sizeof(text), "-%c", optopt);
        } else {
            option_text(argc, argv, text, sizeof(text));
        }
        c->status = cli_usage_error(c, "option '%s' needs a value", text);
        return CLI_EXIT;
    }
    if (opt == '?') {
        if (optopt && optopt < 256) { /* an unknown short option, maybe inside a bundle like -xv */
            snprintf(text, sizeof(text), "-%c", optopt);
        } else {
            option_text(argc, argv, text, sizeof(text));
        }
        c->status = cli_usage_error(c, "unknown option '%s'", text);
        return CLI_EXIT;
    }
    return opt;
}

__attribute__((format(printf, 2, 0))) static void vsay(const cli_t *c, const char *fmt, va_list ap)
{
    fprintf(stderr, "%s: ", c->name);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

int cli_usage_error(const cli_t *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsay(c, fmt, ap);
    va_end(ap);
    fprintf(stderr, "Try '%s --help'.\n", c->name);
    return CLI_USAGE;
}

int cli_fail(const cli_t *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsay(c, fmt, ap);
    va_end(ap);
    return CLI_FAILED;
}

int cli_positionals(const cli_t *c, int argc, char **argv, const char *const *names, int n)
{
    const int have = argc - optind;
    if (have < n) {
        return cli_usage_error(c, "missing %s", names[have]);
    }
    if (have > n) {
        return cli_usage_error(c, "unexpected argument '%s'", argv[optind + n]);
    }
    return 0;
}

/* 2^63-1 and 2^64-1 read better as powers. */
static const char *bound(uint64_t x, char *buf, size_t cap)
{
    if (x == UINT64_MAX) {
        return "2^64-1";
    }
    if (x == (uint64_t)INT64_MAX) {
        return "2^63-1";
    }
    snprintf(buf, cap, "%llu", (unsigned long long)x);
    return buf;
}

int cli_u64(const cli_t *c, const char *flag, const char *text, uint64_t lo, uint64_t hi, uint64_t *v)
{
    if (mfl_parse_u64(text, lo, hi, v) == 0) {
        return 0;
    }
    char a[24], b[24];
    return cli_usage_error(c, "%s '%s': not an integer in %s..%s", flag, text, bound(lo, a, sizeof(a)),
                           bound(hi, b, sizeof(b)));
}

int cli_u32(const cli_t *c, const char *flag, const char *text, uint32_t lo, uint32_t hi, uint32_t *v)
{
    uint64_t x = 0;
    const int rc = cli_u64(c, flag, text, lo, hi, &x);
    if (!rc) {
        *v = (uint32_t)x;
    }
    return rc;
}

int cli_int(const cli_t *c, const char *flag, const char *text, int lo, int hi, int *v)
{
    uint64_t x = 0;
    /* the tools' int options are counts: never negative */
    const int rc = cli_u64(c, flag, text, (uint64_t)(lo > 0 ? lo : 0), (uint64_t)(hi > 0 ? hi : 0), &x);
    if (!rc) {
        *v = (int)x;
    }
    return rc;
}

int cli_double(const cli_t *c, const char *flag, const char *text, double lo, double hi, int lo_open, double *v)
{
    double x = 0.0;
    if (mfl_parse_double(text, lo, hi, &x) == 0 && !(lo_open && x == lo)) {
        *v = x;
        return 0;
    }
    return cli_usage_error(c, "%s '%s': not a number in %c%g, %g]", flag, text, lo_open ? '(' : '[', lo, hi);
}

int cli_file_error(const cli_t *c, const char *path, int err)
{
    return cli_fail(c, "%s: %s", path, err == MFL_ERR_IO ? strerror(errno) : mfl_strerror(err));
}

int cli_check_output(const cli_t *c, const char *path)
{
    if (mfl_check_writable(path) == 0) {
        return 0;
    }
    return cli_fail(c, "cannot write %s: %s", path, strerror(errno));
}

int cli_load_model(const cli_t *c, const char *path, uint8_t **image, size_t *size, mfl_model_t *model)
{
    char msg[256] = "";
    *image = NULL;
    int err = mfl_model_file_read(path, image, size, msg, sizeof(msg));
    if (err == MFL_ERR_IO) {
        return cli_file_error(c, path, err); /* errno is the read's: its message says only "cannot read" */
    }
    if (!err && (err = mfl_model_load(model, *image, *size)) != 0) {
        msg[0] = '\0';
    }
    if (err) {
        free(*image);
        *image = NULL;
        const size_t n = strlen(path); /* a message that names the file already is said as it is */
        if (msg[0] && !strncmp(msg, path, n) && msg[n] == ':') {
            return cli_fail(c, "%s", msg);
        }
        return cli_fail(c, "%s: %s", path, msg[0] ? msg : mfl_strerror(err));
    }
    return 0;
}

int cli_load_fmnist(const cli_t *c, const char *dir, int train, mfl_dataset_t *ds)
{
    char msg[512] = "";
    const int err = mfl_fmnist_load(dir, train, ds, msg, sizeof(msg));
    if (!err) {
        return 0;
    }
    if (err == MFL_ERR_IO) {
        /* the loader says "input/output error": find the file and its reason */
        static const char *const kinds[] = {"images-idx3-ubyte.gz", "labels-idx1-ubyte.gz"};
        char path[1100];
        for (int i = 0; i < 2; i++) {
            snprintf(path, sizeof(path), "%s/%s-%s", dir ? dir : MFL_FMNIST_DIR, train ? "train" : "t10k", kinds[i]);
            if (access(path, R_OK) != 0) {
                return cli_fail(c, "%s: %s (the Fashion-MNIST %s set)", path, strerror(errno),
                                train ? "training" : "test");
            }
        }
    }
    return cli_fail(c, "%s", msg[0] ? msg : mfl_strerror(err));
}

char *cli_printable(const uint8_t *b, size_t n, char *out, size_t cap)
{
    static const char hex[] = "0123456789abcdef";
    size_t k = 0;
    for (size_t i = 0; i < n && k + 5 <= cap; i++) {
        if (b[i] >= 0x20 && b[i] < 0x7F && b[i] != '\\') {
            out[k++] = (char)b[i];
        } else {
            out[k++] = '\\', out[k++] = 'x', out[k++] = hex[b[i] >> 4], out[k++] = hex[b[i] & 15];
        }
    }
    if (cap) {
        out[k < cap ? k : cap - 1] = '\0';
    }
    return out;
}
