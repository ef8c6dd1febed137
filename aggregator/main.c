/*
 * mfl-aggregator: the federated-learning server.
 *   mfl-aggregator --config FILE                 serve
 *   mfl-aggregator provision --config FILE add --id ID --psk HEX --pub DEVICE.pub [--group G]
 *   mfl-aggregator provision --config FILE list | revoke --id ID
 */
#include <getopt.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregator.h"
#include "mfl/host/host_io.h"
#include "mfl/host/keys.h"
#include "server.h"

#define VERSION "0.1.0"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: mfl-aggregator --config FILE            run the server\n"
            "       mfl-aggregator provision --config FILE add --id ID --psk HEX --pub DEVICE.pub [--group G]\n"
            "       mfl-aggregator provision --config FILE list\n"
            "       mfl-aggregator provision --config FILE revoke --id ID\n"
            "       mfl-aggregator --help | --version\n"
            "The configuration file is described in docs/aggregator.md.\n");
}

static int print_device(void *ctx, const mfl_device_rec_t *d)
{
    (void)ctx;
    printf("%-32.*s group=%-12s last_counter=%llu%s\n", (int)d->id_len, (const char *)d->id, d->group,
           (unsigned long long)d->last_counter, d->revoked ? " REVOKED" : "");
    return 0;
}

static int provision(int argc, char **argv)
{
    static const struct option longopts[] = {{"config", required_argument, 0, 'c'}, {"id", required_argument, 0, 'i'},
                                             {"psk", required_argument, 0, 'k'}, {"pub", required_argument, 0, 'p'},
                                             {"group", required_argument, 0, 'g'}, {0, 0, 0, 0}};
    const char *config = NULL, *id = NULL, *psk = NULL, *pub = NULL, *group = "default";
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:i:k:p:g:", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': config = optarg; break;
        case 'i': id = optarg; break;
        case 'k': psk = optarg; break;
        case 'p': pub = optarg; break;
        case 'g': group = optarg; break;
        default: usage(stderr); return 2;
        }
    }
    const char *verb = optind < argc ? argv[optind] : "";
    agg_config_t cfg;
    char msg[512];
    if (!config || agg_config_load(config, &cfg, msg, sizeof(msg))) {
        fprintf(stderr, "mfl-aggregator: %s\n", config ? msg : "--config is required");
        return 2;
    }
    mfl_store_t *store;
    int err = mfl_store_open(cfg.data_dir, cfg.durability, &store);
    if (err) {
        fprintf(stderr, "mfl-aggregator: %s: %s\n", cfg.data_dir, mfl_strerror(err));
        return 1;
    }
    if (!strcmp(verb, "list")) {
        err = mfl_store_each_device(store, print_device, NULL) < 0;
    } else if (!strcmp(verb, "revoke") && id) {
        err = mfl_store_revoke_device(store, (const uint8_t *)id, strlen(id));
    } else if (!strcmp(verb, "add") && id && psk && pub && strlen(id) <= MFL_DEVICE_ID_MAX && strlen(group) < 64) {
        mfl_device_rec_t d;
        memset(&d, 0, sizeof(d));
        d.id_len = strlen(id);
        memcpy(d.id, id, d.id_len);
        snprintf(d.group, sizeof(d.group), "%s", group);
        err = mfl_hex_decode(psk, d.psk, sizeof(d.psk), &d.psk_len) || d.psk_len == 0 ? MFL_ERR_INVALID_ARG : 0;
        err = err ? err : mfl_key_load_public(pub, &d.pub);
        err = err ? err : mfl_store_add_device(store, &d);
        memset(d.psk, 0, sizeof(d.psk));
    } else {
        usage(stderr);
        mfl_store_close(store);
        return 2;
    }
    mfl_store_close(store);
    if (err) {
        fprintf(stderr, "mfl-aggregator provision %s: %s\n", verb, mfl_strerror(err));
        return 1;
    }
    if (strcmp(verb, "list")) {
        printf("%s %s\n", verb, id);
    }
    return 0;
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
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        usage(stdout);
        return 0;
    }
    if (argc >= 2 && (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V"))) {
        printf("mfl-aggregator %s\n", VERSION);
        return 0;
    }
    if (argc >= 2 && !strcmp(argv[1], "provision")) {
        return provision(argc - 1, argv + 1);
    }
    if (argc != 3 || strcmp(argv[1], "--config")) {
        usage(stderr);
        return 2;
    }
    keep_freed_memory();
    agg_config_t cfg;
    agg_state_t state;
    char msg[512];
    if (agg_config_load(argv[2], &cfg, msg, sizeof(msg))) {
        fprintf(stderr, "mfl-aggregator: %s\n", msg);
        return 2;
    }
    agg_log_set_level(cfg.log_level);
    agg_config_log(&cfg);
    if (agg_server_preflight(&cfg, msg, sizeof(msg)) || agg_state_open(&state, &cfg, msg, sizeof(msg))) {
        agg_log_at(AGG_LOG_ERROR, "startup_failed", "reason=\"%s\"", msg);
        agg_state_close(&state);
        return 1;
    }
    state.cfg_path = argv[2];
    const int rc = agg_server_run(&state);
    agg_state_close(&state);
    return rc ? 1 : 0;
}
