/* Tables, JSON summary and plots of a run (report.h). */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

int sim_strategy_is_reference(const char *name)
{
    return !strncmp(name, "oracle", 6);
}

int sim_strategy_is_baseline(const char *name)
{
    return !strcmp(name, "frozen") || !strcmp(name, "standardized") || !strcmp(name, "recalibrated");
}

int sim_rounds_oracle_for(const sim_rounds_t *t, const char *name)
{
    /* the references that learn below the head are held to the best head-only one: what the layers below
     * would add over the head the federated strategies are judged against */
    const int below = !strncmp(name, "oracle-", 7) && strcmp(name, "oracle-recal") != 0;
    const int recal = strstr(name, "recal") != NULL || strstr(name, "tuned") != NULL || strstr(name, "dense") != NULL ||
                      !strcmp(name, "personalized") || below;
    const int k = recal ? sim_rounds_find(t, "oracle-recal") : -1;
    return k >= 0 ? k : sim_rounds_find(t, "oracle");
}

static const double *last_row(const sim_rounds_t *t, unsigned k)
{
    return t->s[k].rows[t->s[k].n_rows - 1];
}

static double final_worst(const sim_rounds_t *t, unsigned k)
{
    return last_row(t, k)[SIM_COL_WORST(t->n_regions)];
}

int sim_rounds_best_baseline(const sim_rounds_t *t)
{
    int best = -1;
    for (unsigned k = 0; k < t->n_strategies; k++) {
        if (sim_strategy_is_baseline(t->s[k].name) && (best < 0 || final_worst(t, k) > final_worst(t, (unsigned)best))) {
            best = (int)k;
        }
    }
    return best;
}

int sim_rounds_find(const sim_rounds_t *t, const char *name)
{
    for (unsigned k = 0; k < t->n_strategies; k++) {
        if (!strcmp(t->s[k].name, name)) {
            return (int)k;
        }
    }
    return -1;
}

void sim_rounds_free(sim_rounds_t *t)
{
    for (unsigned k = 0; k < t->n_strategies; k++) {
        free(t->s[k].rows);
    }
    memset(t, 0, sizeof(*t));
}

/* A strategy name as the simulator writes it: a short lowercase word with
 * '-' or '_' (it goes into file names, gnuplot strings and JSON keys
 * unescaped, so anything else is refused). */
static int valid_name(const char *c)
{
    size_t n = strlen(c);
    for (size_t i = 0; i < n; i++) {
        if (!islower((unsigned char)c[i]) && !isdigit((unsigned char)c[i]) && c[i] != '-' && c[i] != '_') {
            return 0;
        }
    }
    return n > 0 && n < sizeof(((sim_series_t *)0)->name);
}

/* The row's strategy, added on its first row; -1 when there is no room. */
static int series_for(sim_rounds_t *t, const char *name)
{
    int k = sim_rounds_find(t, name);
    if (k < 0 && t->n_strategies < SIM_REPORT_MAX_STRATEGIES) {
        k = (int)t->n_strategies++;
        snprintf(t->s[k].name, sizeof(t->s[k].name), "%s", name);
    }
    return k;
}

static int append_row(sim_series_t *s, const double *v)
{
    if ((s->n_rows & (s->n_rows - 1)) == 0) { /* grow at powers of two */
        void *p = realloc(s->rows, (s->n_rows ? 2 * s->n_rows : 1) * sizeof(*s->rows));
        if (!p) {
            return -1;
        }
        s->rows = p;
    }
    memcpy(s->rows[s->n_rows++], v, sizeof(*s->rows));
    return 0;
}

/* One data line: a known-good strategy name and exactly ncols numbers. */
static int read_row(sim_rounds_t *t, char *line, unsigned ncols)
{
    double v[SIM_REPORT_MAX_COLS] = {0};
    unsigned n = 0;
    char *save = NULL, *c = strtok_r(line, ",\n", &save), *end;
    const int k = c && valid_name(c) ? series_for(t, c) : -1;
    while (k >= 0 && (c = strtok_r(NULL, ",\n", &save)) != NULL) {
        if (n == SIM_REPORT_MAX_COLS) {
            return -1;
        }
        v[n++] = strtod(c, &end);
        if (end == c) {
            return -1;
        }
    }
    return k < 0 || n != ncols ? -1 : append_row(&t->s[k], v);
}

int sim_rounds_read(const char *path, sim_rounds_t *t, char *msg, size_t cap)
{
    FILE *f = fopen(path, "r");
    char line[2048];
    memset(t, 0, sizeof(*t));
    if (!f || !fgets(line, sizeof(line), f)) {
        snprintf(msg, cap, "cannot read %s: %s", path, f ? "empty" : strerror(errno));
        if (f) {
            fclose(f);
        }
        return -1;
    }
    for (char *save = NULL, *c = strtok_r(line, ",\n", &save); c; c = strtok_r(NULL, ",\n", &save)) {
        if (!strncmp(c, "acc_", 4) && t->n_regions < SIM_MAX_REGIONS) {
            snprintf(t->regions[t->n_regions++], sizeof(t->regions[0]), "%s", c + 4);
        }
    }
    const unsigned ncols = 2 + t->n_regions + 8;
    unsigned lineno = 1;
    int err = t->n_regions ? 0 : -1;
    while (!err && fgets(line, sizeof(line), f)) {
        lineno++;
        err = read_row(t, line, ncols);
    }
    fclose(f);
    if (!err && !t->n_strategies) {
        err = -1;
    }
    if (err) {
        snprintf(msg, cap, "%s: not a mfl-sim rounds file (line %u)", path, lineno);
    }
    return err;
}

/* The last round's figures of strategy k. */
static double total(const sim_rounds_t *t, unsigned k, unsigned col)
{
    double sum = 0;
    for (unsigned i = 0; i < t->s[k].n_rows; i++) {
        sum += t->s[k].rows[i][col];
    }
    return sum;
}
/* Totals of the traffic columns after gap. */
#define COL_UP(n) (5u + (n))
#define COL_DOWN(n) (6u + (n))
#define COL_ACCEPTED(n) (7u + (n))
#define COL_REJECTED(n) (8u + (n))
#define COL_LOST(n) (9u + (n))

/* The name column is 10 wide as it always was, wider for a longer name. */
static int name_width(const sim_rounds_t *t)
{
    size_t w = 10;
    for (unsigned k = 0; k < t->n_strategies; k++) {
        w = strlen(t->s[k].name) > w ? strlen(t->s[k].name) : w;
    }
    return (int)w;
}

static void print_table(const sim_rounds_t *t, FILE *out)
{
    const unsigned n = t->n_regions;
    const int w = name_width(t);
    fprintf(out, "%-*s", w, "strategy");
    for (unsigned g = 0; g < n; g++) {
        fprintf(out, " %11.11s", t->regions[g]);
    }
    fprintf(out, " %7s %7s %6s %9s %9s %8s %8s\n", "mean", "worst", "gap", "up kB", "down kB", "accepted",
            "rejected");
    for (unsigned k = 0; k < t->n_strategies; k++) {
        const double *v = last_row(t, k);
        fprintf(out, "%-*s", w, t->s[k].name);
        for (unsigned g = 0; g < n; g++) {
            fprintf(out, " %10.2f%%", v[SIM_COL_ACC(g)]);
        }
        fprintf(out, " %6.2f%% %6.2f%% %6.2f %9.1f %9.1f %8.0f %8.0f\n", v[SIM_COL_MEAN(n)], v[SIM_COL_WORST(n)],
                v[SIM_COL_GAP(n)], total(t, k, COL_UP(n)) / 1000.0, total(t, k, COL_DOWN(n)) / 1000.0,
                total(t, k, COL_ACCEPTED(n)), total(t, k, COL_REJECTED(n)));
    }
}

typedef struct {
    int have;
    double worst_gain, gap, vs_oracle;
    int oracle;                /* the oracle compared with, or -1 */
    int baseline;              /* learning strategies: the best baseline, or -1 */
    double over_baseline;      /* worst region minus that baseline's */
    int no_region_worse;
} checks_t;

/* The figures the project tracks, against frozen and the oracle, for a
 * strategy other than frozen (what they compare against), local (a head
 * per device, checked by no one before either) and the references. */
static checks_t checks_for(const sim_rounds_t *t, unsigned k)
{
    checks_t c = {0};
    const int frozen = sim_rounds_find(t, "frozen");
    const char *name = t->s[k].name;
    if (frozen < 0 || !strcmp(name, "frozen") || !strcmp(name, "local") || sim_strategy_is_reference(name)) {
        return c;
    }
    const unsigned n = t->n_regions;
    const double *s = last_row(t, k), *fz = last_row(t, (unsigned)frozen);
    c.have = 1;
    c.worst_gain = s[SIM_COL_WORST(n)] - fz[SIM_COL_WORST(n)];
    c.gap = s[SIM_COL_GAP(n)];
    c.oracle = sim_rounds_oracle_for(t, name);
    c.vs_oracle = c.oracle >= 0 ? s[SIM_COL_MEAN(n)] - last_row(t, (unsigned)c.oracle)[SIM_COL_MEAN(n)] : 0;
    c.baseline = sim_strategy_is_baseline(name) ? -1 : sim_rounds_best_baseline(t);
    c.over_baseline = c.baseline >= 0 ? s[SIM_COL_WORST(n)] - final_worst(t, (unsigned)c.baseline) : 0;
    c.no_region_worse = 1;
    for (unsigned g = 0; g < n; g++) {
        c.no_region_worse &= s[SIM_COL_ACC(g)] >= fz[SIM_COL_ACC(g)];
    }
    return c;
}

static void print_checks(const sim_rounds_t *t, FILE *out)
{
    for (unsigned k = 0; k < t->n_strategies; k++) {
        const checks_t c = checks_for(t, k);
        if (!c.have) {
            continue;
        }
        fprintf(out, "%-10s worst region %+.2f pts over frozen", t->s[k].name, c.worst_gain);
        if (c.baseline >= 0 && strcmp(t->s[c.baseline].name, "frozen")) {
            fprintf(out, " (%+.2f over %s)", c.over_baseline, t->s[c.baseline].name);
        }
        fprintf(out, "; best-worst gap %.2f pts", c.gap);
        if (c.oracle >= 0) {
            fprintf(out, "; mean %+.2f pts vs %s", c.vs_oracle, t->s[c.oracle].name);
        }
        fprintf(out, "; %s\n", c.no_region_worse ? "no region below frozen" : "SOME REGION BELOW FROZEN");
    }
}

static void json_final(FILE *f, const sim_rounds_t *t)
{
    const unsigned n = t->n_regions;
    for (unsigned k = 0; k < t->n_strategies; k++) {
        const double *v = last_row(t, k);
        fprintf(f, "%s    \"%s\": {\"rounds\": %u, \"accuracy\": [", k ? ",\n" : "", t->s[k].name,
                (unsigned)v[SIM_COL_ROUND]);
        for (unsigned g = 0; g < n; g++) {
            fprintf(f, "%s%.2f", g ? ", " : "", v[SIM_COL_ACC(g)]);
        }
        fprintf(f, "], \"mean\": %.2f, \"worst\": %.2f, \"gap\": %.2f, \"bytes_up\": %.0f, \"bytes_down\": %.0f, "
                   "\"accepted\": %.0f, \"rejected\": %.0f, \"lost\": %.0f}",
                v[SIM_COL_MEAN(n)], v[SIM_COL_WORST(n)], v[SIM_COL_GAP(n)], total(t, k, COL_UP(n)),
                total(t, k, COL_DOWN(n)), total(t, k, COL_ACCEPTED(n)), total(t, k, COL_REJECTED(n)),
                total(t, k, COL_LOST(n)));
    }
}

static int write_json(const char *dir, const sim_rounds_t *t, const char *extra)
{
    char path[1200];
    snprintf(path, sizeof(path), "%s/summary.json", dir);
    FILE *f = fopen(path, "w");
    if (!f) {
        return -1;
    }
    fprintf(f, "{\n  \"regions\": [");
    for (unsigned g = 0; g < t->n_regions; g++) {
        fprintf(f, "%s\"%s\"", g ? ", " : "", t->regions[g]);
    }
    fprintf(f, "],\n  \"final\": {\n");
    json_final(f, t);
    fprintf(f, "\n  },\n  \"checks\": {\n");
    int first = 1;
    for (unsigned k = 0; k < t->n_strategies; k++) {
        const checks_t c = checks_for(t, k);
        if (!c.have) {
            continue;
        }
        fprintf(f, "%s    \"%s\": {\"worst_gain_over_frozen\": %.2f, \"gap\": %.2f, \"mean_vs_oracle\": %.2f, "
                   "\"oracle\": \"%s\", \"best_baseline\": \"%s\", \"worst_gain_over_best_baseline\": %.2f, "
                   "\"no_region_below_frozen\": %s}",
                first ? "" : ",\n", t->s[k].name, c.worst_gain, c.gap, c.vs_oracle,
                c.oracle >= 0 ? t->s[c.oracle].name : "", c.baseline >= 0 ? t->s[c.baseline].name : "",
                c.over_baseline, c.no_region_worse ? "true" : "false");
        first = 0;
    }
    fprintf(f, "\n  }%s%s\n}\n", extra ? ",\n  " : "", extra ? extra : "");
    return fclose(f) == 0 ? 0 : -1;
}

int sim_report(const char *run_dir, FILE *out, int json, const char *extra, char *msg, size_t cap)
{
    char path[1200];
    sim_rounds_t t;
    snprintf(path, sizeof(path), "%s/rounds.csv", run_dir);
    int err = sim_rounds_read(path, &t, msg, cap);
    if (!err) {
        fprintf(out, "Accuracy per region after the last round (%s/rounds.csv):\n", run_dir);
        print_table(&t, out);
        print_checks(&t, out);
    }
    if (!err && json && write_json(run_dir, &t, extra)) {
        snprintf(msg, cap, "cannot write %s/summary.json: %s", run_dir, strerror(errno));
        err = -1;
    }
    sim_rounds_free(&t);
    return err;
}

/* Okabe & Ito's colour-blind-safe palette, black last (references). */
static const char *const okabe_ito[] = {"#E69F00", "#56B4E9", "#009E73", "#0072B2",
                                        "#D55E00", "#CC79A7", "#F0E442", "#000000"};

void sim_plot_preamble(FILE *f, unsigned last_round)
{
    fprintf(f, "# Written by mfl-sim; restyle here and run `gnuplot plots.gp` in this directory.\n"
               "set datafile separator ','\n"
               "# png and svg always; pdf when this gnuplot has the cairo pdf terminal\n"
               "formats = 'png svg' . (strstrt(GPVAL_TERMINALS, 'pdfcairo') ? ' pdf' : '')\n");
    for (unsigned i = 0; i < sizeof(okabe_ito) / sizeof(okabe_ito[0]); i++) {
        fprintf(f, "set linetype %u lc rgb '%s' lw 2 pt %u ps 0.7\n", i + 1, okabe_ito[i], 5 + 2 * (i % 4));
    }
    /* x ends at the last round, not at gnuplot's next round tic */
    fprintf(f, "set xrange [0:%u]\n%sset xlabel 'round'\nset ylabel 'accuracy (%%)'\n"
               "set key outside right top\nset grid\n",
            last_round ? last_round : 1, last_round <= 20 ? "set xtics 1\n" : "");
}

void sim_plot_terminal(FILE *f)
{
    fprintf(f, "  if (fmt eq 'png') { set terminal pngcairo size 900,560 font 'sans,11' }\n"
               "  if (fmt eq 'svg') { set terminal svg size 900,560 font 'sans,11' background rgb 'white' }\n"
               "  if (fmt eq 'pdf') { set terminal pdfcairo size 6.25in,3.9in font 'sans,10' }\n");
}

/* Learning strategies take the palette in their order (yellow and black
 * skipped: too light on white, and the references' colour), dotted after
 * the sixth; references are black and dashed, each its own dash pattern. */
static unsigned style_rank(const sim_rounds_t *t, unsigned k)
{
    unsigned same = 0;
    for (unsigned i = 0; i < k; i++) {
        same += sim_strategy_is_reference(t->s[i].name) == sim_strategy_is_reference(t->s[k].name);
    }
    return same;
}

const char *sim_plot_colour(const sim_rounds_t *t, unsigned k)
{
    return sim_strategy_is_reference(t->s[k].name) ? okabe_ito[7] : okabe_ito[style_rank(t, k) % 6];
}

const char *sim_plot_style(const sim_rounds_t *t, unsigned k, char *buf, size_t cap)
{
    const unsigned rank = style_rank(t, k);
    if (sim_strategy_is_reference(t->s[k].name)) {
        snprintf(buf, cap, "lc rgb '%s' dt %u lw 2", sim_plot_colour(t, k), 2 + rank % 4);
    } else {
        snprintf(buf, cap, "lc rgb '%s' dt %u lw 2 pt %u ps 0.7", sim_plot_colour(t, k), 1 + 2 * (rank / 6 % 2),
                 5 + 2 * (rank % 4));
    }
    return buf;
}

int sim_plot_run(const char *run_dir, char *msg, size_t cap)
{
    char cmd[2600];
    snprintf(cmd, sizeof(cmd), "cd '%s' && gnuplot plots.gp 2> plots.log", run_dir);
    if (system(cmd) != 0) {
        snprintf(msg, cap, "gnuplot failed (is it installed? ./scripts/setup.sh installs it); see %s/plots.log",
                 run_dir);
        return -1;
    }
    return 0;
}

/* A strategy's rows of rounds.csv, as gnuplot reads them. */
static void rows_of(FILE *f, const char *name)
{
    fprintf(f, "\"< grep '^%s,' rounds.csv\"", name);
}

/* Accuracy per region of strategy k, the mean of the oracle on its
 * backbone as a dashed reference line when there is one. */
static void plot_regions(FILE *f, const sim_rounds_t *t, unsigned k)
{
    const int oracle = sim_rounds_oracle_for(t, t->s[k].name);
    char style[80];
    fprintf(f, "  set output 'accuracy-%s.'.fmt\n  set title 'Accuracy per region: %s'\n  plot ", t->s[k].name,
            t->s[k].name);
    for (unsigned g = 0; g < t->n_regions; g++) {
        fprintf(f, "%s", g ? ", \\\n       " : "");
        rows_of(f, t->s[k].name);
        fprintf(f, " using 2:%u with linespoints lt %u title '%s'", 2 + SIM_COL_ACC(g), g + 1,
                t->regions[g]);
    }
    if (oracle >= 0 && !sim_strategy_is_reference(t->s[k].name)) {
        fprintf(f, ", \\\n       ");
        rows_of(f, t->s[oracle].name);
        fprintf(f, " using 2:%u with lines %s title '%s (mean)'", 2 + SIM_COL_MEAN(t->n_regions),
                sim_plot_style(t, (unsigned)oracle, style, sizeof(style)), t->s[oracle].name);
    }
    fprintf(f, "\n");
}

static void plot_worst(FILE *f, const sim_rounds_t *t)
{
    char style[80];
    fprintf(f, "  set output 'worst.'.fmt\n  set title 'Worst region per strategy'\n  plot ");
    for (unsigned k = 0; k < t->n_strategies; k++) {
        const int ref = sim_strategy_is_reference(t->s[k].name);
        fprintf(f, "%s", k ? ", \\\n       " : "");
        rows_of(f, t->s[k].name);
        fprintf(f, " using 2:%u with %s %s title '%s'", 2 + SIM_COL_WORST(t->n_regions),
                ref ? "lines" : "linespoints", sim_plot_style(t, k, style, sizeof(style)), t->s[k].name);
    }
    fprintf(f, "\n");
}

int sim_plots(const char *run_dir, char *msg, size_t cap)
{
    char path[1200];
    sim_rounds_t t;
    snprintf(path, sizeof(path), "%s/rounds.csv", run_dir);
    if (sim_rounds_read(path, &t, msg, cap)) {
        sim_rounds_free(&t);
        return -1;
    }
    snprintf(path, sizeof(path), "%s/plots.gp", run_dir);
    FILE *f = fopen(path, "w");
    if (!f) {
        snprintf(msg, cap, "cannot write %s: %s", path, strerror(errno));
        sim_rounds_free(&t);
        return -1;
    }
    unsigned last = 0;
    for (unsigned k = 0; k < t.n_strategies; k++) {
        const unsigned r = (unsigned)last_row(&t, k)[SIM_COL_ROUND];
        last = r > last ? r : last;
    }
    /* the script is kept in the run directory so plots can be restyled */
    sim_plot_preamble(f, last);
    fprintf(f, "do for [fmt in formats] {\n");
    sim_plot_terminal(f);
    for (unsigned k = 0; k < t.n_strategies; k++) {
        plot_regions(f, &t, k);
    }
    plot_worst(f, &t);
    fprintf(f, "  set output\n}\n");
    sim_rounds_free(&t);
    if (fclose(f)) {
        snprintf(msg, cap, "cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    return sim_plot_run(run_dir, msg, cap);
}
