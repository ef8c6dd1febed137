/*
 * The conventions every mfl command keeps, in one place:
 *  - `-h`/`--help` prints the command's usage to stdout and exits 0;
 *  - a usage error (an unknown option, a missing or bad value, a missing
 *    argument) names the option and the value, goes to stderr, exits 2;
 *  - a runtime failure (a file, the network, invalid content) says what
 *    and why — a file's error names the file and strerror(errno) — and
 *    exits 1.
 * Messages start with the command's full name ("mfl model info: ...").
 */
#ifndef MFL_TOOLS_CLI_H
#define MFL_TOOLS_CLI_H

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>

#include "mfl/host/dataset.h"
#include "mfl/model.h"

#define CLI_USAGE 2   /* exit status of a usage error */
#define CLI_FAILED 1  /* exit status of a runtime failure */
#define CLI_EXIT 0x10000 /* cli_next(): stop and return c->status */

typedef struct {
    const char *name;             /* "mfl train" */
    void (*usage)(FILE *out);     /* the full usage text */
    int status;                   /* after CLI_EXIT: 0 (help shown) or CLI_USAGE */
    char optstring[64];
} cli_t;

/* Starts a command's option parsing (getopt state reset). */
void cli_init(cli_t *c, const char *name, void (*usage)(FILE *out));

/* getopt_long with the conventions: returns the next option, -1 after the
 * last, or CLI_EXIT once --help was printed (status 0) or an unknown
 * option or one missing its value was named (status 2). shortopts must
 * hold 'h' for -h; every command has --help as a long option too. */
int cli_next(cli_t *c, int argc, char **argv, const char *shortopts, const struct option *longopts);

/* Prints "NAME: <message>" and a pointer to --help; returns CLI_USAGE. */
int cli_usage_error(const cli_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prints "NAME: <message>"; returns CLI_FAILED. */
int cli_fail(const cli_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Exactly n positional arguments from optind on (names[i] says what the
 * i-th is): a missing one or one too many is a usage error naming it.
 * Returns 0 or CLI_USAGE. */
int cli_positionals(const cli_t *c, int argc, char **argv, const char *const *names, int n);

/* Option values, strictly (mfl/host/host_io.h): flag's value text in
 * lo..hi, or a usage error naming the flag, the value and the range.
 * Return 0 or CLI_USAGE. */
int cli_u64(const cli_t *c, const char *flag, const char *text, uint64_t lo, uint64_t hi, uint64_t *v);
int cli_u32(const cli_t *c, const char *flag, const char *text, uint32_t lo, uint32_t hi, uint32_t *v);
int cli_int(const cli_t *c, const char *flag, const char *text, int lo, int hi, int *v);
/* A finite number in [lo, hi], or (lo, hi] when lo_open. */
int cli_double(const cli_t *c, const char *flag, const char *text, double lo, double hi, int lo_open, double *v);

/* "NAME: PATH: why" for a failed file operation (strerror(errno) for
 * MFL_ERR_IO, else the error's text); returns CLI_FAILED. */
int cli_file_error(const cli_t *c, const char *path, int err);

/* Checks, before slow work, that path can be written (host_io's
 * mfl_check_writable); says why not. Returns 0 or CLI_FAILED. */
int cli_check_output(const cli_t *c, const char *path);

/* Reads and validates a model (.mfl, or .tflite imported on the fly).
 * Returns 0 (*image is the caller's to free) or CLI_FAILED, said. */
int cli_load_model(const cli_t *c, const char *path, uint8_t **image, size_t *size, mfl_model_t *model);

/* Loads the Fashion-MNIST training (train = 1) or test set from dir (NULL:
 * Debian's). Returns 0 or CLI_FAILED, said (a file's reason named). */
int cli_load_fmnist(const cli_t *c, const char *dir, int train, mfl_dataset_t *ds);

/* The n bytes of b as text for a terminal: printable ASCII as it is,
 * anything else (and '\\') as \xNN, so that a peer's or a file's bytes
 * cannot pass for escape codes. out needs 4 * n + 1 bytes; longer input
 * is cut at what fits. Returns out. */
char *cli_printable(const uint8_t *b, size_t n, char *out, size_t cap);

#endif /* MFL_TOOLS_CLI_H */
