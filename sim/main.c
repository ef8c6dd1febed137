/*
 * mfl-sim: multi-node simulation of microfl devices against the real
 * aggregator code. See docs/sim.md.
 */
#define _XOPEN_SOURCE 700 /* nftw */
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mfl/host/host_io.h"
#include "link.h"
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
            "  --replace            clear a previous run's outputs in DIR first (else such a DIR is refused)\n"
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

/* A usage error: what is wrong, named, and where to look; exit status 2. */
static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "mfl-sim: ");
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'mfl-sim --help'.\n");
    return 2;
}

/* A flag's integer, strictly (no sign, no wrap-around), in the range the
 * scenario checks too; the text then goes to the scenario as it is. */
static int check_count(const char *flag, const char *text, uint64_t lo, uint64_t hi)
{
    uint64_t v;
    if (mfl_parse_u64(text, lo, hi, &v) == 0) {
        return 0;
    }
    if (hi == UINT64_MAX) {
        return usage_error("%s '%s': not an integer in %llu..2^64-1", flag, text, (unsigned long long)lo);
    }
    return usage_error("%s '%s': not an integer in %llu..%llu", flag, text, (unsigned long long)lo,
                       (unsigned long long)hi);
}

/* Options first (getopt moves the scenario file behind them), then the
 * file, then the options' settings on top of it. Returns 0, 1 (the
 * scenario file), 2 (a usage error, said) or -1 (--help or --version
 * shown: exit 0). */
static int parse(int argc, char **argv, sim_scenario_t *sc, const char **out_dir, int *quiet, int *replace, char *msg,
                 size_t cap)
{
    static const struct option opts[] = {
        {"out", required_argument, 0, 'o'},     {"set", required_argument, 0, 's'},
        {"mode", required_argument, 0, 'm'},    {"devices", required_argument, 0, 'd'},
        {"rounds", required_argument, 0, 'r'},  {"seed", required_argument, 0, 'S'},
        {"threads", required_argument, 0, 't'}, {"quiet", no_argument, 0, 'q'}, {"replace", no_argument, 0, 'R'},
        {"help", no_argument, 0, 'h'},          {"version", no_argument, 0, 'V'},
        {0, 0, 0, 0}};
    static setting_t settings[256];
    size_t n = 0;
    int c;
    optind = 1;
    opterr = 0; /* our messages name the option */
    while ((c = getopt_long(argc, argv, ":hV", opts, NULL)) != -1) {
        const char *key = c == 'm' ? "mode" : c == 'd' ? "devices" : c == 'r' ? "rounds" : c == 'S' ? "seed"
                        : c == 't' ? "threads" : NULL;
        const char *flag = optind >= 1 && optind - 1 < argc ? argv[optind - 1] : "?";
        int bad = 0;
        switch (c) {
        case 'o': *out_dir = optarg; continue;
        case 'q': *quiet = 1; continue;
        case 'R': *replace = 1; continue;
        case 'h': usage(stdout); return -1;
        case 'V': printf("mfl-sim %s\n", MFL_SIM_VERSION); return -1;
        case ':':
            return usage_error("option '%.*s' needs a value", (int)strcspn(flag, "="), flag);
        case '?':
            return optopt ? usage_error("unknown option '-%c'", optopt)
                          : usage_error("unknown option '%.*s'", (int)strcspn(flag, "="), flag);
        case 'd': bad = check_count("--devices", optarg, 1, 1000000); break;
        case 'r': bad = check_count("--rounds", optarg, 1, 100000); break;
        case 't': bad = check_count("--threads", optarg, 1, 64); break;
        case 'S': bad = check_count("--seed", optarg, 0, UINT64_MAX); break;
        case 'm':
            if (strcmp(optarg, "inprocess") && strcmp(optarg, "network")) {
                bad = usage_error("--mode '%s': not inprocess or network", optarg);
            }
            break;
        default: break;
        }
        if (bad) {
            return bad;
        }
        if (n == sizeof(settings) / sizeof(settings[0])) {
            return usage_error("more than %zu settings", n);
        }
        char *eq = c == 's' ? strchr(optarg, '=') : NULL;
        if (c == 's' && !eq) {
            return usage_error("--set '%s': not KEY=VALUE", optarg);
        }
        if (eq) {
            *eq = '\0';
        }
        settings[n++] = (setting_t){key ? key : optarg, key ? optarg : eq + 1};
    }
    if (argc - optind > 1) {
        return usage_error("unexpected argument '%s' (one scenario file at most)", argv[optind + 1]);
    }
    if (optind < argc && sim_scenario_load(sc, argv[optind], msg, cap)) {
        return 1;
    }
    int regions_replaced = 0; /* --set region=... is repeatable, as in a file */
    for (size_t i = 0; i < n; i++) {
        if (sim_scenario_set(sc, settings[i].key, settings[i].value, &regions_replaced, msg, cap)) {
            return usage_error("--set %s=%s: %s", settings[i].key, settings[i].value, msg);
        }
    }
    return 0;
}

/* Whether an executable of that name is on $PATH. */
static int on_path(const char *name)
{
    const char *path = getenv("PATH");
    char file[PATH_MAX];
    while (path && *path) {
        const size_t n = strcspn(path, ":");
        if (n && (size_t)snprintf(file, sizeof(file), "%.*s/%s", (int)n, path, name) < sizeof(file) &&
            access(file, X_OK) == 0) {
            return 1;
        }
        path += n + (path[n] == ':');
    }
    return 0;
}

/* Whether dir/name can be written; says why not. */
static int check_output(const char *dir, const char *name)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (mfl_check_writable(path) != 0) {
        fprintf(stderr, "mfl-sim: cannot write %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* What a run writes in its directory (beside the base model, which is
 * cached by its inputs and may be shared). */
static const char *const run_files[] = {"rounds.csv", "summary.json", "scenario.ini", "plots.gp", "plots.log",
                                        "worst.png"};

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st, (void)type, (void)ftw;
    return remove(path) && errno != ENOENT ? -1 : 0;
}

/* A directory that holds a previous run's outputs is refused, or with
 * --replace cleared of them first: a run must not mix with stale files (an
 * aggregator's store from an earlier run would carry its updates on).
 * Returns 0, or 1 with the reason said. */
static int previous_run(const char *dir, int replace)
{
    char path[PATH_MAX + 64];
    const char *found = NULL;
    for (size_t i = 0; !found && i < sizeof(run_files) / sizeof(run_files[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, run_files[i]);
        found = access(path, F_OK) == 0 ? run_files[i] : NULL;
    }
    for (int k = 0; !found && k < SIM_STRATEGIES; k++) { /* an aggregator that ran there */
        snprintf(path, sizeof(path), "%s/%s/aggregator.log", dir, sim_strategy_name((enum sim_strategy)k));
        found = access(path, F_OK) == 0 ? sim_strategy_name((enum sim_strategy)k) : NULL;
    }
    if (!found) {
        return 0;
    }
    if (!replace) {
        fprintf(stderr, "mfl-sim: %s holds a previous run (%s/%s): use another --out, or --replace to clear its "
                        "outputs first\n", dir, dir, found);
        return 1;
    }
    int err = 0;
    for (size_t i = 0; !err && i < sizeof(run_files) / sizeof(run_files[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, run_files[i]);
        err = remove(path) && errno != ENOENT;
    }
    for (int k = 0; !err && k < SIM_STRATEGIES; k++) {
        snprintf(path, sizeof(path), "%s/accuracy-%s.png", dir, sim_strategy_name((enum sim_strategy)k));
        err = remove(path) && errno != ENOENT;
        snprintf(path, sizeof(path), "%s/%s", dir, sim_strategy_name((enum sim_strategy)k));
        err = err || (access(path, F_OK) == 0 && nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0);
    }
    if (err) {
        fprintf(stderr, "mfl-sim: cannot clear %s for --replace: %s: %s\n", dir, path, strerror(errno));
        return 1;
    }
    return 0;
}

/* The resolved scenario, every key, in the run directory. */
static int save_scenario(const sim_scenario_t *sc, const char *dir)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof(path), "%s/scenario.ini", dir);
    FILE *f = fopen(path, "w");
    if (!f || sim_scenario_write(sc, f) || fclose(f)) {
        fprintf(stderr, "mfl-sim: cannot write %s: %s\n", path, strerror(errno));
        return 1;
    }
    return 0;
}

/* Everything the run will write, checked before the slow work (the base
 * model's training, the features, the rounds): the run directory with its
 * parents (mkdir -p), the CSV, the summary, the plots and their script,
 * the base model if it is to be trained, and each federated strategy's
 * aggregator directory; and gnuplot, which draws the plots at the end.
 * Returns 0, or 1 with the reason said. */
static int preflight(const sim_scenario_t *sc, const char *dir, int replace)
{
    if (mfl_make_dirs(dir) != 0) {
        fprintf(stderr, "mfl-sim: cannot create the run directory %s: %s\n", dir, strerror(errno));
        return 1;
    }
    if (previous_run(dir, replace)) {
        return 1;
    }
    /* a base made from the same inputs, or supplied, is read; a missing
     * one, or one made from other inputs, is trained and written */
    const enum sim_base_status base = sim_base_status(sc);
    char inputs[1100];
    snprintf(inputs, sizeof(inputs), "%s.inputs", sc->base);
    if ((base == SIM_BASE_MISSING || base == SIM_BASE_STALE) &&
        (mfl_check_writable(sc->base) != 0 || mfl_check_writable(inputs) != 0)) {
        fprintf(stderr, "mfl-sim: cannot write the base model %s: %s\n", sc->base, strerror(errno));
        return 1;
    }
    if (access(sc->base, F_OK) == 0 && access(sc->base, R_OK) != 0) {
        fprintf(stderr, "mfl-sim: cannot read the base model %s: %s\n", sc->base, strerror(errno));
        return 1;
    }
    for (size_t i = 0; i < sizeof(run_files) / sizeof(run_files[0]); i++) {
        if (check_output(dir, run_files[i])) {
            return 1;
        }
    }
    for (int k = 0; k < SIM_STRATEGIES; k++) {
        char name[64], sub[PATH_MAX + 64];
        const char *strategy = sim_strategy_name((enum sim_strategy)k);
        snprintf(name, sizeof(name), "accuracy-%s.png", strategy);
        if (sc->strategies[k] && check_output(dir, name)) {
            return 1;
        }
        if (!sc->strategies[k] || (k != SIM_FEDERATED && k != SIM_FAIR)) {
            continue;
        }
        snprintf(sub, sizeof(sub), "%s/%s/data", dir, strategy);
        if (mfl_make_dirs(sub) != 0) {
            fprintf(stderr, "mfl-sim: cannot create %s: %s\n", sub, strerror(errno));
            return 1;
        }
        snprintf(sub, sizeof(sub), "%s/%s", dir, strategy);
        if (check_output(sub, "aggregator.conf") || check_output(sub, "aggregator.key") ||
            check_output(sub, "aggregator.log") || check_output(sub, "data/state.db")) {
            return 1;
        }
    }
    if (!on_path("gnuplot")) {
        fprintf(stderr, "mfl-sim: gnuplot is not installed (./scripts/setup.sh installs it): the run's plots need "
                        "it\n");
        return 1;
    }
    return 0;
}

static int run(sim_scenario_t *sc, const char *dir, int quiet, int replace)
{
    char msg[512] = "", extra[1024];
    if (preflight(sc, dir, replace)) {
        return 1;
    }
    if ((sc->strategies[SIM_FEDERATED] || sc->strategies[SIM_FAIR]) && sim_link_check(sc, dir, msg, sizeof(msg))) {
        fprintf(stderr, "mfl-sim: the aggregator's settings (agg.KEY): line %s\n", msg);
        return 1;
    }
    if (save_scenario(sc, dir)) {
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
    /* the table and summary first: a plot that fails loses nothing else */
    if (!status && sim_report(dir, stdout, 1, extra, msg, sizeof(msg))) {
        fprintf(stderr, "mfl-sim: %s\n", msg);
        status = 1;
    }
    if (!status && sim_plots(dir, msg, sizeof(msg))) {
        fprintf(stderr, "mfl-sim: %s (rounds.csv and summary.json are written)\n", msg);
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
        if (argc == 3 && (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h"))) {
            usage(stdout);
            return 0;
        }
        if (argc != 3) {
            return argc < 3 ? usage_error("report: missing DIR (a run directory)")
                            : usage_error("report: unexpected argument '%s'", argv[3]);
        }
        if (argv[2][0] == '-') {
            return usage_error("report: unknown option '%s'", argv[2]);
        }
        if (sim_report(argv[2], stdout, 0, NULL, msg, sizeof(msg))) {
            fprintf(stderr, "mfl-sim report: %s\n", msg);
            return 1;
        }
        return 0;
    }
    sim_scenario_t sc;
    const char *dir = "sim-run";
    int quiet = 0, replace = 0;
    sim_scenario_defaults(&sc);
    int r = parse(argc, argv, &sc, &dir, &quiet, &replace, msg, sizeof(msg));
    if (r < 0) {
        return 0; /* --help, --version */
    }
    if (r == 2) {
        return 2; /* said */
    }
    if (!r) {
        default_aggregator(&sc);
        if (!sc.base[0]) {
            snprintf(sc.base, sizeof(sc.base), "%s/base.mfl", dir);
        }
        if (sim_scenario_check(&sc, msg, sizeof(msg))) {
            return usage_error("%s", msg);
        }
    }
    if (r) {
        fprintf(stderr, "mfl-sim: %s\n", msg);
        return r;
    }
    return run(&sc, dir, quiet, replace);
}
