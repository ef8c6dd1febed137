/*
 * mfl-aggregator: the federated-learning server.
 *   mfl-aggregator --config FILE                 serve
 *   mfl-aggregator provision --config FILE VERB  the devices (provision.c)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __GLIBC__ /* defined by the headers above */
#include <malloc.h>
#endif

#include "aggregator.h"
#include "provision.h"
#include "server.h"

#define VERSION "0.1.0"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: mfl-aggregator --config FILE                          run the server\n"
            "       mfl-aggregator provision --config FILE VERB [options]  manage the devices\n"
            "       mfl-aggregator --help | --version\n"
            "The configuration file is described in docs/aggregator.md.\n"
            "Provisioning verbs (mfl-aggregator provision --help for their options):\n");
    agg_provision_verbs(out);
}

/* A usage error, named; exit status 2. */
static int usage_error(const char *what, const char *arg)
{
    fprintf(stderr, "mfl-aggregator: %s%s%s%s\n(mfl-aggregator --help for the usage)\n", what, arg ? " '" : "",
            arg ? arg : "", arg ? "'" : "");
    return 2;
}

/* glibc gives memory back to the kernel (brk) whenever the top of the heap
 * has more than 128 KB free. SQLite frees a statement's savepoint bitmap at
 * the end of every update's transaction, right at the top of the heap, so
 * the heap shrank and grew again on each accepted update: a brk call and a
 * TLB shootdown to every core, about a tenth of the server's CPU under load
 * (perf). A server keeps what it has used instead. */
static void keep_freed_memory(void)
{
#ifdef __GLIBC__
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
    mallopt(M_TOP_PAD, 1 << 20);
#endif
}

int main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "provision")) {
        return agg_provision_main(argc - 1, argv + 1);
    }
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        }
    }
    if (argc == 2 && (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V"))) {
        printf("mfl-aggregator %s\n", VERSION);
        return 0;
    }
    const char *config = NULL;
    for (int i = 1; i < argc; i++) {
        const char *value;
        if (!strcmp(argv[i], "--config")) {
            if (i + 1 == argc) {
                return usage_error("--config needs a file", NULL);
            }
            value = argv[++i];
        } else if (!strncmp(argv[i], "--config=", 9)) {
            value = argv[i] + 9;
        } else {
            return usage_error(argv[i][0] == '-' ? "unknown option" : "unexpected argument", argv[i]);
        }
        if (config) {
            return usage_error("--config given twice", NULL);
        }
        config = value;
    }
    if (!config) {
        return usage_error("--config FILE is needed", NULL);
    }
    keep_freed_memory();
    agg_config_t cfg;
    agg_state_t state;
    char msg[512];
    if (agg_config_load(config, &cfg, msg, sizeof(msg))) {
        fprintf(stderr, "mfl-aggregator: %s\n", msg);
        return 2;
    }
    agg_log_set_level(cfg.log_level);
    agg_config_log(&cfg);
    /* the state exists (and needs closing) only once agg_state_open ran: a
     * refused preflight must not close a state never opened */
    const int preflight_err = agg_server_preflight(&cfg, msg, sizeof(msg));
    if (preflight_err || agg_state_open(&state, &cfg, msg, sizeof(msg))) {
        agg_log_at(AGG_LOG_ERROR, "startup_failed", "reason=\"%s\"", msg);
        if (!preflight_err) {
            agg_state_close(&state);
        }
        return 1;
    }
    state.cfg_path = config;
    const int rc = agg_server_run(&state);
    agg_state_close(&state);
    return rc ? 1 : 0;
}
