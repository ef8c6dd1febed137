/*
 * mfl-sim: multi-node simulation of microfl devices against the real
 * aggregator code. See docs/sim.md.
 */
#define _XOPEN_SOURCE 700 /* nftw */
#include <dirent.h>
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
#include "seeds.h"
#include "world.h"

#define MFL_SIM_VERSION "0.1.0"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: mfl-sim [SCENARIO] [options]      run a simulation\n"
            "       mfl-sim report DIR                reprint a run's summary (or a --seeds run's)\n"
            "Runs every selected strategy (frozen, local, federated, fair, oracle, ...; the fine-tuned\n"
            "references oracle-full, -bias, -dense and -lastconv and the devices' local-dense,\n"
            "federated-dense and federated-dense-shared only when named in `strategies`) on the same\n"
            "virtual devices and writes DIR/rounds.csv, DIR/summary.json and plots (png, svg, pdf).\n"
            "options:\n"
            "  --out DIR            run directory (default sim-run)\n"
            "  --set KEY=VALUE      override a scenario key (repeatable; docs/sim.md lists them)\n"
            "  --mode MODE          inprocess (default) or network (a real mfl-aggregator over DTLS)\n"
            "  --devices N, --rounds N, --seed N, --threads N\n"
            "  --seeds N            run seeds SEED..SEED+N-1, each in DIR/seed-S/, and report the mean\n"
            "                       and 95%% interval over them (DIR/seeds.csv, DIR/summary.json)\n"
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

/* The command line besides the scenario's settings. */
typedef struct {
    const char *dir;  /* --out */
    int quiet, replace;
    uint32_t seeds;   /* --seeds N; 0: one run in dir itself */
} options_t;

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
static int parse(int argc, char **argv, sim_scenario_t *sc, options_t *o, char *msg, size_t cap)
{
    static const struct option opts[] = {
        {"out", required_argument, 0, 'o'},     {"set", required_argument, 0, 's'},
        {"mode", required_argument, 0, 'm'},    {"devices", required_argument, 0, 'd'},
        {"rounds", required_argument, 0, 'r'},  {"seed", required_argument, 0, 'S'},
        {"threads", required_argument, 0, 't'}, {"quiet", no_argument, 0, 'q'}, {"replace", no_argument, 0, 'R'},
        {"help", no_argument, 0, 'h'},          {"version", no_argument, 0, 'V'},
        {"seeds", required_argument, 0, 'N'},   {0, 0, 0, 0}};
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
        case 'o': o->dir = optarg; continue;
        case 'q': o->quiet = 1; continue;
        case 'R': o->replace = 1; continue;
        case 'N': /* not a scenario key: a scenario is one seed's run */
            if (check_count("--seeds", optarg, 1, SIM_SEEDS_MAX)) {
                return 2;
            }
            o->seeds = (uint32_t)strtoul(optarg, NULL, 10);
            continue;
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
 * cached by its inputs and may be shared), a multi-seed run's files over
 * its seeds included; plus accuracy-STRATEGY.{png,svg,pdf} and each
 * federated strategy's aggregator directory. */
static const char *const run_files[] = {"rounds.csv", "summary.json", "scenario.ini", "plots.gp",
                                        "plots.log",  "worst.png",    "worst.svg",    "worst.pdf",
                                        "seeds.csv",  "worst-seeds.csv"};
static const char *const plot_formats[] = {"png", "svg", "pdf"};

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st, (void)type, (void)ftw;
    return remove(path) && errno != ENOENT ? -1 : 0;
}

/* Calls fn(dir/NAME) for each seed-S directory in dir; stops at the first
 * nonzero return. */
static int each_seed_dir(const char *dir, int (*fn)(const char *path, void *arg), void *arg)
{
    DIR *d = opendir(dir);
    int r = 0;
    for (struct dirent *e; d && !r && (e = readdir(d)) != NULL;) {
        char path[PATH_MAX];
        if (sim_seeds_is_dir_name(e->d_name) &&
            (size_t)snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) < sizeof(path)) {
            r = fn(path, arg);
        }
    }
    if (d) {
        closedir(d);
    }
    return r;
}

/* A previous run's first output found in dir or its seed-S directories,
 * written to arg (PATH_MAX + 64 bytes); 1 if found. */
static int find_previous(const char *dir, void *arg)
{
    char *path = arg;
    for (size_t i = 0; i < sizeof(run_files) / sizeof(run_files[0]); i++) {
        snprintf(path, PATH_MAX + 64, "%s/%s", dir, run_files[i]);
        if (access(path, F_OK) == 0) {
            return 1;
        }
    }
    for (int k = 0; k < SIM_STRATEGIES; k++) { /* an aggregator that ran there */
        snprintf(path, PATH_MAX + 64, "%s/%s/aggregator.log", dir, sim_strategy_name((enum sim_strategy)k));
        if (access(path, F_OK) == 0) {
            return 1;
        }
    }
    return each_seed_dir(dir, find_previous, arg);
}

/* Removes a previous run's outputs from dir and its seed-S directories,
 * keeping base models (cached by their inputs). On failure arg holds the
 * path that could not be removed. */
static int clear_previous(const char *dir, void *arg)
{
    char *path = arg;
    for (size_t i = 0; i < sizeof(run_files) / sizeof(run_files[0]); i++) {
        snprintf(path, PATH_MAX + 64, "%s/%s", dir, run_files[i]);
        if (remove(path) && errno != ENOENT) {
            return -1;
        }
    }
    for (int k = 0; k < SIM_STRATEGIES; k++) {
        const char *name = sim_strategy_name((enum sim_strategy)k);
        for (size_t i = 0; i < sizeof(plot_formats) / sizeof(plot_formats[0]); i++) {
            snprintf(path, PATH_MAX + 64, "%s/accuracy-%s.%s", dir, name, plot_formats[i]);
            if (remove(path) && errno != ENOENT) {
                return -1;
            }
        }
        snprintf(path, PATH_MAX + 64, "%s/%s", dir, name);
        if (access(path, F_OK) == 0 && nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0) {
            return -1;
        }
    }
    return each_seed_dir(dir, clear_previous, arg);
}

/* A directory that holds a previous run's outputs (a single run's, or a
 * --seeds run's in DIR/seed-S/) is refused, or with --replace cleared of
 * them first: a run must not mix with stale files (an aggregator's store
 * from an earlier run would carry its updates on, and seed directories
 * left from a run of more seeds would enter `mfl-sim report`). Returns 0,
 * or 1 with the reason said. */
static int previous_run(const char *dir, int replace)
{
    char path[PATH_MAX + 64];
    if (!find_previous(dir, path)) {
        return 0;
    }
    if (!replace) {
        fprintf(stderr, "mfl-sim: %s holds a previous run (%s): use another --out, or --replace to clear its "
                        "outputs first\n", dir, path);
        return 1;
    }
    if (clear_previous(dir, path)) {
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

/* The base model: a supplied one is read; a missing one, or one made from
 * other inputs, is trained and written, so it must be writable. */
/* The strategies on recalibrated backbones need a first convolution of at
 * most 256 channels: said before a base is trained for nothing (a model
 * of the user's own is checked when it is loaded). */
static int check_recal_arch(const sim_scenario_t *sc)
{
    int tuned = 0;
    for (int k = 0; k < SIM_STRATEGIES; k++) {
        tuned |= sc->strategies[k] && sim_strategy_tuned((enum sim_strategy)k);
    }
    const int recal = sc->strategies[SIM_RECALIBRATED] || sc->strategies[SIM_LOCAL_RECAL] ||
                      sc->strategies[SIM_FEDERATED_RECAL] || sc->strategies[SIM_PERSONALIZED] ||
                      sc->strategies[SIM_ORACLE_RECAL] || tuned;
    const char *last = strrchr(sc->base_arch, ','), *feature = last ? last - 1 : NULL;
    while (feature && feature > sc->base_arch && feature[-1] != ',') {
        feature--;
    }
    if (tuned && (!feature || feature[0] != 'd')) {
        fprintf(stderr, "mfl-sim: base_arch %s: local-tuned, federated-tuned and the dense strategies tune "
                        "a dense layer right below the head (an arch ending in ,dN,dC)\n", sc->base_arch);
        return 1;
    }
    const char *conv = sc->base_arch[0] == 'c' ? sc->base_arch : strstr(sc->base_arch, ",c");
    if (!recal) {
        return 0;
    }
    if (!conv) {
        fprintf(stderr, "mfl-sim: base_arch %s has no convolution to recalibrate: leave out recalibrated, local-recal, "
                        "federated-recal, personalized, oracle-recal and the tuned and dense strategies\n",
                sc->base_arch);
        return 1;
    }
    const long channels = strtol(conv + (conv[0] == ',' ? 2 : 1), NULL, 10);
    if (channels > 256) {
        fprintf(stderr, "mfl-sim: base_arch %s: the first convolution has %ld channels; recalibration takes at most "
                        "256\n", sc->base_arch, channels);
        return 1;
    }
    return 0;
}

static int check_base(const sim_scenario_t *sc)
{
    const enum sim_base_status base = sim_base_status(sc);
    char inputs[1100], float_path[1100];
    snprintf(inputs, sizeof(inputs), "%s.inputs", sc->base);
    sim_base_float_path(sc, float_path, sizeof(float_path));
    if (base == SIM_BASE_SUPPLIED && sim_world_needs_float(sc)) {
        fprintf(stderr, "mfl-sim: " SIM_FINETUNED_NAMES " fine-tune the float network the base model was made "
                        "from; %s was supplied (no %s) and has none: leave them out\n", sc->base, inputs);
        return 1;
    }
    /* a cached base whose float network is missing or stale is trained again (world.h) */
    const int train = base == SIM_BASE_MISSING || base == SIM_BASE_STALE || sim_world_needs_float(sc);
    if (train && (mfl_check_writable(sc->base) != 0 || mfl_check_writable(inputs) != 0 ||
                  mfl_check_writable(float_path) != 0)) {
        fprintf(stderr, "mfl-sim: cannot write the base model %s: %s\n", sc->base, strerror(errno));
        return 1;
    }
    if (access(sc->base, F_OK) == 0 && access(sc->base, R_OK) != 0) {
        fprintf(stderr, "mfl-sim: cannot read the base model %s: %s\n", sc->base, strerror(errno));
        return 1;
    }
    return base == SIM_BASE_SUPPLIED ? 0 : check_recal_arch(sc);
}

/* A strategy's outputs: its plots, and a federated strategy's aggregator
 * directory with the files the aggregator writes there. */
static int check_strategy(const sim_scenario_t *sc, const char *dir, int k)
{
    char name[64], sub[PATH_MAX + 64];
    const char *strategy = sim_strategy_name((enum sim_strategy)k);
    for (size_t i = 0; sc->strategies[k] && i < sizeof(plot_formats) / sizeof(plot_formats[0]); i++) {
        snprintf(name, sizeof(name), "accuracy-%s.%s", strategy, plot_formats[i]);
        if (check_output(dir, name)) {
            return 1;
        }
    }
    if (!sc->strategies[k] || !sim_strategy_federated((enum sim_strategy)k)) {
        return 0;
    }
    snprintf(sub, sizeof(sub), "%s/%s/data", dir, strategy);
    if (mfl_make_dirs(sub) != 0) {
        fprintf(stderr, "mfl-sim: cannot create %s: %s\n", sub, strerror(errno));
        return 1;
    }
    snprintf(sub, sizeof(sub), "%s/%s", dir, strategy);
    return check_output(sub, "aggregator.conf") || check_output(sub, "aggregator.key") ||
           check_output(sub, "aggregator.log") || check_output(sub, "data/state.db");
}

/* The run directory with its parents (mkdir -p), refused if it holds a
 * previous run (cleared with --replace), and every file in run_files
 * checked writable. Returns 0, or 1 with the reason said. */
static int make_run_dir(const char *dir, int replace)
{
    if (mfl_make_dirs(dir) != 0) {
        fprintf(stderr, "mfl-sim: cannot create the run directory %s: %s\n", dir, strerror(errno));
        return 1;
    }
    if (previous_run(dir, replace)) {
        return 1;
    }
    for (size_t i = 0; i < sizeof(run_files) / sizeof(run_files[0]); i++) {
        if (check_output(dir, run_files[i])) {
            return 1;
        }
    }
    return 0;
}

/* Everything a run will write, checked before the slow work (the base
 * model's training, the features, the rounds): the run directory, the
 * base model if it is to be trained, each strategy's outputs, and
 * gnuplot, which draws the plots at the end; then the aggregator's
 * settings, and the resolved scenario saved. Returns 0, or 1 with the
 * reason said. */
static int prepare(const sim_scenario_t *sc, const char *dir, int replace)
{
    char msg[512] = "";
    if (make_run_dir(dir, replace) || check_base(sc)) {
        return 1;
    }
    for (int k = 0; k < SIM_STRATEGIES; k++) {
        if (check_strategy(sc, dir, k)) {
            return 1;
        }
    }
    if (!on_path("gnuplot")) {
        fprintf(stderr, "mfl-sim: gnuplot is not installed (./scripts/setup.sh installs it): the run's plots need "
                        "it\n");
        return 1;
    }
    if (sim_any_federated(sc) && sim_link_check(sc, dir, msg, sizeof(msg))) {
        fprintf(stderr, "mfl-sim: the aggregator's settings (agg.KEY): line %s\n", msg);
        return 1;
    }
    return save_scenario(sc, dir);
}

/* The run's facts for summary.json. */
static void run_facts(const sim_scenario_t *sc, uint32_t seeds, double seconds, char *out, size_t cap)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    snprintf(out, cap,
             "\"run\": {\"devices\": %u, \"rounds\": %u, \"partition\": \"%s\", \"mode\": \"%s\", \"seed\": %llu, "
             "%s%.0u%s\"threads\": %u, \"seconds\": %.1f, \"peak_rss_kb\": %ld}",
             sc->devices, sc->rounds, sim_partition_name(sc->partition),
             sc->mode == SIM_NETWORK ? "network" : "inprocess", (unsigned long long)sc->seed,
             seeds ? "\"seeds\": " : "", seeds, seeds ? ", " : "", sc->threads, seconds, ru.ru_maxrss);
}

/* The references' training, in the log and the summary: an oracle that
 * stopped at its epoch cap is not converged. */
static void oracle_facts(const sim_results_t *res, char *extra, size_t cap)
{
    size_t len = strlen(extra);
    int any = 0;
    for (int k = 0; k < SIM_STRATEGIES && len < cap; k++) {
        if (res->oracle_epochs[k]) {
            const char *name = sim_strategy_name((enum sim_strategy)k);
            fprintf(stderr, "mfl-sim: %s trained %u epochs\n", name, res->oracle_epochs[k]);
            len += (size_t)snprintf(extra + len, cap - len, "%s\"%s\": %u", any ? ", " : ", \"oracle_epochs\": {",
                                    name, res->oracle_epochs[k]);
            any = 1;
        }
    }
    if (any && len < cap) {
        snprintf(extra + len, cap - len, "}");
    }
}

/* One run in dir, prepared: the world, the rounds, then the table and
 * summary, then the plots (a plot that fails loses nothing else; it is
 * said, and the run's status is 1). *seconds: the rounds' time. */
static int simulate(const sim_scenario_t *sc, const char *dir, FILE *progress, double *seconds)
{
    char msg[512] = "", extra[1024];
    sim_world_t w;
    sim_results_t res;
    fprintf(stderr, "mfl-sim: %u devices, %u rounds, %s partition, %s mode, seed %llu -> %s/\n", sc->devices,
            sc->rounds, sim_partition_name(sc->partition), sc->mode == SIM_NETWORK ? "network (DTLS)" : "in-process",
            (unsigned long long)sc->seed, dir);
    if (sim_world_build_progress(&w, sc, stderr, progress, msg, sizeof(msg))) {
        fprintf(stderr, "mfl-sim: %s\n", msg);
        sim_world_free(&w);
        return 1;
    }
    int status = sim_run(sc, &w, dir, progress, &res, msg, sizeof(msg)) ? 1 : 0;
    if (status) {
        fprintf(stderr, "mfl-sim: %s\n", msg);
    }
    *seconds = res.seconds;
    run_facts(sc, 0, res.seconds, extra, sizeof(extra));
    oracle_facts(&res, extra, sizeof(extra));
    if (!status && sim_report(dir, stdout, 1, extra, msg, sizeof(msg))) {
        fprintf(stderr, "mfl-sim: %s\n", msg);
        status = 1;
    }
    sim_results_free(&res);
    sim_world_free(&w);
    if (!status && sim_plots(dir, msg, sizeof(msg))) {
        fprintf(stderr, "mfl-sim: %s (rounds.csv and summary.json are written)\n", msg);
        status = 2; /* the run's figures are complete */
    }
    return status;
}

static double peak_mb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0;
}

static int run(const sim_scenario_t *sc, const options_t *o)
{
    double seconds = 0;
    if (prepare(sc, o->dir, o->replace)) {
        return 1;
    }
    const int status = simulate(sc, o->dir, !o->quiet && isatty(2) ? stderr : NULL, &seconds);
    if (!status) {
        printf("rounds took %.1f s; peak memory %.1f MB; plots: %s/accuracy-*.png, %s/worst.png (.svg, .pdf "
               "beside)\n", seconds, peak_mb(), o->dir, o->dir);
    }
    return status ? 1 : 0;
}

/* Seed i's scenario of a --seeds run: the seed, and its base model. A
 * model of the user's own (no BASE.inputs) is the same for every seed; a
 * base the simulator trains depends on the seed (its inputs include it),
 * so each seed has its own: DIR/seed-S/base.mfl, or with `base = B.mfl`
 * set, B-seed-S.mfl beside it (one path for all would be trained again
 * for every seed, each overwriting the last). */
static int seed_scenario(const sim_scenario_t *sc0, const options_t *o, int base_set, uint32_t i,
                         sim_scenario_t *sc, char *dir, size_t cap)
{
    *sc = *sc0;
    sc->seed = sc0->seed + i;
    if (sim_seeds_dir(dir, cap, o->dir, sc->seed)) {
        fprintf(stderr, "mfl-sim: --out %s: too long a path\n", o->dir);
        return 1;
    }
    int n = 0;
    if (!base_set) {
        n = snprintf(sc->base, sizeof(sc->base), "%s/base.mfl", dir);
    } else if (sim_base_status(sc0) != SIM_BASE_SUPPLIED) {
        const size_t stem = strlen(sc0->base) - (strlen(sc0->base) > 4 && !strcmp(sc0->base + strlen(sc0->base) - 4,
                                                                                   ".mfl") ? 4 : 0);
        n = snprintf(sc->base, sizeof(sc->base), "%.*s-seed-%llu%s", (int)stem, sc0->base,
                     (unsigned long long)sc->seed, sc0->base + stem);
    }
    if (n < 0 || (size_t)n >= sizeof(sc->base)) {
        fprintf(stderr, "mfl-sim: the base model's path for seed %llu is too long\n", (unsigned long long)sc->seed);
        return 1;
    }
    return 0;
}

/* --seeds N: every seed's directory prepared before the first slow step,
 * then the seeds run one after the other, each a complete run in
 * DIR/seed-S/; then the table over them, DIR/seeds.csv, DIR/summary.json
 * and DIR/worst.{png,svg,pdf}. A seed whose plots fail still counts (its
 * table and summary are written); the run then ends with status 1. */
static int run_seeds(const sim_scenario_t *sc0, const options_t *o, int base_set)
{
    char dir[PATH_MAX], msg[512] = "", extra[1024], tag[96];
    sim_scenario_t sc;
    double seconds = 0, total = 0;
    int status = 0;
    if (sc0->seed > UINT64_MAX - (o->seeds - 1)) {
        return usage_error("--seed %llu --seeds %u: seeds past 2^64-1", (unsigned long long)sc0->seed, o->seeds);
    }
    if (make_run_dir(o->dir, o->replace)) {
        return 1;
    }
    for (uint32_t i = 0; i < o->seeds; i++) {
        if (seed_scenario(sc0, o, base_set, i, &sc, dir, sizeof(dir)) || prepare(&sc, dir, 0)) {
            return 1;
        }
    }
    for (uint32_t i = 0; i < o->seeds && status != 1; i++) {
        seed_scenario(sc0, o, base_set, i, &sc, dir, sizeof(dir));
        snprintf(tag, sizeof(tag), "seed %llu (%u/%u)", (unsigned long long)sc.seed, i + 1, o->seeds);
        FILE *progress = !o->quiet && isatty(2) ? sim_seeds_progress(stderr, tag) : NULL;
        const int s = simulate(&sc, dir, progress, &seconds);
        if (progress) {
            fclose(progress);
        }
        status = s > status ? s : status;
        total += seconds;
    }
    if (status == 1) {
        return 1;
    }
    run_facts(sc0, o->seeds, total, extra, sizeof(extra));
    if (sim_seeds_report(o->dir, stdout, 1, extra, msg, sizeof(msg))) {
        fprintf(stderr, "mfl-sim: %s\n", msg);
        return 1;
    }
    if (sim_seeds_plots(o->dir, msg, sizeof(msg))) {
        fprintf(stderr, "mfl-sim: %s (seeds.csv and summary.json are written)\n", msg);
        return 1;
    }
    printf("%u seeds' rounds took %.1f s; peak memory %.1f MB; plots: %s/worst.png (.svg, .pdf beside), "
           "%s/seed-*/\n", o->seeds, total, peak_mb(), o->dir, o->dir);
    return status ? 1 : 0;
}

/* `mfl-sim report DIR`: a run directory, or a --seeds run's (seed-S
 * directories and no rounds.csv of its own). */
static int report(int argc, char **argv)
{
    char msg[512] = "", path[PATH_MAX + 64];
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
    snprintf(path, sizeof(path), "%s/rounds.csv", argv[2]);
    const int seeds = access(path, F_OK) != 0 && sim_seeds_count(argv[2]) > 0;
    if (seeds ? sim_seeds_report(argv[2], stdout, 0, NULL, msg, sizeof(msg))
              : sim_report(argv[2], stdout, 0, NULL, msg, sizeof(msg))) {
        fprintf(stderr, "mfl-sim report: %s\n", msg);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    char msg[512] = "";
    if (argc >= 2 && !strcmp(argv[1], "report")) {
        return report(argc, argv);
    }
    sim_scenario_t sc;
    options_t o = {"sim-run", 0, 0, 0};
    sim_scenario_defaults(&sc);
    int r = parse(argc, argv, &sc, &o, msg, sizeof(msg));
    if (r < 0) {
        return 0; /* --help, --version */
    }
    if (r == 2) {
        return 2; /* said */
    }
    if (r) {
        fprintf(stderr, "mfl-sim: %s\n", msg);
        return r;
    }
    default_aggregator(&sc);
    const int base_set = sc.base[0] != '\0';
    if (!base_set) { /* --seeds: each seed's own, set per seed */
        snprintf(sc.base, sizeof(sc.base), "%s/base.mfl", o.dir);
    }
    if (sim_scenario_check(&sc, msg, sizeof(msg))) {
        return usage_error("%s", msg);
    }
    return o.seeds ? run_seeds(&sc, &o, base_set) : run(&sc, &o);
}
