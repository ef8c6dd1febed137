/*
 * mfl-sim: multi-node simulation of microfl devices against the real
 * aggregator code. See docs/sim.md.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "report.h"
#include "run.h"
#include "scenario.h"
#include "world.h"

#define MFL_SIM_VERSION "0.1.0"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: mfl-sim [SCENARIO] [options]      run a simulation\n"
            "       mfl-sim report DIR                reprint a run's summary\n"
            "Runs every selected strategy (frozen, local, federated, fair, oracle) on the same\n"
            "virtual devices and writes DIR/rounds.csv, DIR/summary.json and DIR/*.png.\n"
            "options:\n"
            "  --out DIR            run directory (default sim-run)\n"
            "  --set KEY=VALUE      override a scenario key (repeatable; docs/sim.md lists them)\n"
            "  --mode MODE          inprocess (default) or network (a real mfl-aggregator over DTLS)\n"
            "  --devices N, --rounds N, --seed N, --threads N\n"
            "  --quiet              no progress line\n"
            "  --help, --version\n");
}

/* The aggregator binary next to this one, unless the scenario names one. */
static void default_aggregator(sim_scenario_t *sc)
{
    char self[PATH_MAX];
    const ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (sc->aggregator[0] || n <= 0) {
        return;
    }
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (slash) {
        *slash = '\0';
        if ((size_t)snprintf(sc->aggregator, sizeof(sc->aggregator), "%.*s/mfl-aggregator",
                             (int)(sizeof(sc->aggregator) - 32), self) >= sizeof(sc->aggregator)) {
            sc->aggregator[0] = '\0';
        }
    }
}

typedef struct {
    const char *key, *value;
} setting_t;

/* Options first (getopt moves the scenario file behind them), then the
 * file, then the options' settings on top of it. */
static int parse(int argc, char **argv, sim_scenario_t *sc, const char **out_dir, int *quiet, char *msg, size_t cap)
{
    static const struct option opts[] = {
        {"out", required_argument, 0, 'o'},     {"set", required_argument, 0, 's'},
        {"mode", required_argument, 0, 'm'},    {"devices", required_argument, 0, 'd'},
        {"rounds", required_argument, 0, 'r'},  {"seed", required_argument, 0, 'S'},
        {"threads", required_argument, 0, 't'}, {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},          {"version", no_argument, 0, 'V'},
        {0, 0, 0, 0}};
    static setting_t settings[256];
    size_t n = 0;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        const char *key = c == 'm' ? "mode" : c == 'd' ? "devices" : c == 'r' ? "rounds" : c == 'S' ? "seed"
                        : c == 't' ? "threads" : NULL;
        if (c == 'o') {
            *out_dir = optarg;
        } else if (c == 'q') {
            *quiet = 1;
        } else if (c == 'h') {
            usage(stdout);
            exit(0);
        } else if (c == 'V') {
            printf("mfl-sim %s\n", MFL_SIM_VERSION);
            exit(0);
        } else if ((c == 's' || key) && n < sizeof(settings) / sizeof(settings[0])) {
            char *eq = c == 's' ? strchr(optarg, '=') : NULL;
            if (c == 's' && !eq) {
                snprintf(msg, cap, "--set wants KEY=VALUE, got \"%s\"", optarg);
                return 2;
            }
            if (eq) {
                *eq = '\0';
            }
            settings[n++] = (setting_t){key ? key : optarg, key ? optarg : eq + 1};
        } else {
            usage(stderr);
            exit(2);
        }
    }
    if (argc - optind > 1) {
        snprintf(msg, cap, "one scenario file at most");
        return 2;
    }
    if (optind < argc && sim_scenario_load(sc, argv[optind], msg, cap)) {
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        if (sim_scenario_set(sc, settings[i].key, settings[i].value, msg, cap)) {
            return 2;
        }
    }
    return 0;
}

/* mkdir -p: the run directory and any parent it lacks (a fresh clone has
 * no runs/). Returns 0, or -1 with errno set. */
static int make_dirs(const char *dir)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof(path), "%s", dir) >= (int)sizeof(path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = path + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(path, 0755) != 0 && errno != EEXIST) {
                return -1;
            }
            *p = '/';
        }
    }
    return mkdir(path, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

static int run(sim_scenario_t *sc, const char *dir, int quiet)
{
    char msg[512] = "", extra[1024];
    if (make_dirs(dir) != 0) {
        fprintf(stderr, "mfl-sim: cannot create the run directory %s: %s\n", dir, strerror(errno));
        return 1;
    }
    FILE *progress = !quiet && isatty(2) ? stderr : NULL;
    sim_world_t w;
    sim_results_t res;
    fprintf(stderr, "mfl-sim: %u devices, %u rounds, %s partition, %s mode, seed %llu -> %s/\n", sc->devices,
            sc->rounds, sim_partition_name(sc->partition), sc->mode == SIM_NETWORK ? "network (DTLS)" : "in-process",
            (unsigned long long)sc->seed, dir);
    if (sim_world_build(&w, sc, stderr, msg, sizeof(msg))) {
        fprintf(stderr, "mfl-sim: %s\n", msg);
        sim_world_free(&w);
        return 1;
    }
    int status = sim_run(sc, &w, dir, progress, &res, msg, sizeof(msg)) ? 1 : 0;
    if (status) {
        fprintf(stderr, "mfl-sim: %s\n", msg);
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    snprintf(extra, sizeof(extra),
             "\"run\": {\"devices\": %u, \"rounds\": %u, \"partition\": \"%s\", \"mode\": \"%s\", \"seed\": %llu, "
             "\"threads\": %u, \"seconds\": %.1f, \"peak_rss_kb\": %ld}",
             sc->devices, sc->rounds, sim_partition_name(sc->partition),
             sc->mode == SIM_NETWORK ? "network" : "inprocess", (unsigned long long)sc->seed, sc->threads,
             res.seconds, ru.ru_maxrss);
    if (!status && sim_plots(dir, msg, sizeof(msg))) {
        fprintf(stderr, "mfl-sim: %s\n", msg);
        status = 1;
    }
    if (!status && sim_report(dir, stdout, 1, extra, msg, sizeof(msg))) {
        fprintf(stderr, "mfl-sim: %s\n", msg);
        status = 1;
    }
    if (!status) {
        printf("rounds took %.1f s; peak memory %.1f MB; plots: %s/accuracy-*.png, %s/worst.png\n", res.seconds,
               (double)ru.ru_maxrss / 1024.0, dir, dir);
    }
    sim_results_free(&res);
    sim_world_free(&w);
    return status;
}

int main(int argc, char **argv)
{
    char msg[512] = "";
    if (argc >= 2 && !strcmp(argv[1], "report")) {
        if (argc != 3) {
            usage(stderr);
            return 2;
        }
        if (sim_report(argv[2], stdout, 0, NULL, msg, sizeof(msg))) {
            fprintf(stderr, "mfl-sim report: %s\n", msg);
            return 1;
        }
        return 0;
    }
    sim_scenario_t sc;
    const char *dir = "sim-run";
    int quiet = 0;
    sim_scenario_defaults(&sc);
    int r = parse(argc, argv, &sc, &dir, &quiet, msg, sizeof(msg));
    if (!r) {
        default_aggregator(&sc);
        if (!sc.base[0]) {
            snprintf(sc.base, sizeof(sc.base), "%s/base.mfl", dir);
        }
        r = sim_scenario_check(&sc, msg, sizeof(msg)) ? 2 : 0;
    }
    if (r) {
        fprintf(stderr, "mfl-sim: %s\n", msg);
        return r;
    }
    return run(&sc, dir, quiet);
}
