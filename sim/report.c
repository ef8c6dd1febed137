/* Tables, JSON summary and plots of a run (report.h). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "scenario.h"

#define MAX_COLS (SIM_MAX_REGIONS + 12)

typedef struct {
    int present;
    unsigned rounds;
    double first[MAX_COLS], last[MAX_COLS]; /* numeric columns of round 0 and the last round */
    double total_up, total_down, accepted, rejected, lost;
} strat_rows_t;

typedef struct {
    char regions[SIM_MAX_REGIONS][32];
    unsigned n_regions;
    strat_rows_t s[SIM_STRATEGIES];
} table_t;

static int strategy_index(const char *name)
{
    for (int k = 0; k < SIM_STRATEGIES; k++) {
        if (!strcmp(name, sim_strategy_name((enum sim_strategy)k))) {
            return k;
        }
    }
    return -1;
}

/* Columns after "strategy": round, version, acc x regions, mean, worst,
 * gap, bytes_up, bytes_down, accepted, rejected, lost. */
static int read_csv(const char *path, table_t *t, char *msg, size_t cap)
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
    int err = t->n_regions ? 0 : -1;
    while (!err && fgets(line, sizeof(line), f)) {
        double v[MAX_COLS];
        unsigned n = 0;
        char *save = NULL, *c = strtok_r(line, ",\n", &save);
        const int k = c ? strategy_index(c) : -1;
        while (k >= 0 && n < MAX_COLS && (c = strtok_r(NULL, ",\n", &save)) != NULL) {
            v[n++] = strtod(c, NULL);
        }
        if (k < 0 || n != ncols) {
            err = -1;
            break;
        }
        strat_rows_t *s = &t->s[k];
        if (!s->present || v[0] == 0) {
            memcpy(s->first, v, sizeof(v));
        }
        s->present = 1;
        s->rounds = (unsigned)v[0];
        memcpy(s->last, v, sizeof(v));
        s->total_up += v[2 + t->n_regions + 3];
        s->total_down += v[2 + t->n_regions + 4];
        s->accepted += v[2 + t->n_regions + 5];
        s->rejected += v[2 + t->n_regions + 6];
        s->lost += v[2 + t->n_regions + 7];
    }
    fclose(f);
    if (err) {
        snprintf(msg, cap, "%s: not a mfl-sim rounds file", path);
    }
    return err;
}

/* Figures of the last round: accuracy of region g, mean, worst, gap. */
static double acc(const strat_rows_t *s, unsigned g)
{
    return s->last[2 + g];
}
static double mean_of(const table_t *t, const strat_rows_t *s)
{
    return s->last[2 + t->n_regions];
}
static double worst_of(const table_t *t, const strat_rows_t *s)
{
    return s->last[2 + t->n_regions + 1];
}
static double gap_of(const table_t *t, const strat_rows_t *s)
{
    return s->last[2 + t->n_regions + 2];
}

static void print_table(const table_t *t, FILE *out)
{
    fprintf(out, "%-10s", "strategy");
    for (unsigned g = 0; g < t->n_regions; g++) {
        fprintf(out, " %11.11s", t->regions[g]);
    }
    fprintf(out, " %7s %7s %6s %9s %9s %8s %8s\n", "mean", "worst", "gap", "up kB", "down kB", "accepted",
            "rejected");
    for (int k = 0; k < SIM_STRATEGIES; k++) {
        const strat_rows_t *s = &t->s[k];
        if (!s->present) {
            continue;
        }
        fprintf(out, "%-10s", sim_strategy_name((enum sim_strategy)k));
        for (unsigned g = 0; g < t->n_regions; g++) {
            fprintf(out, " %10.2f%%", acc(s, g));
        }
        fprintf(out, " %6.2f%% %6.2f%% %6.2f %9.1f %9.1f %8.0f %8.0f\n", mean_of(t, s), worst_of(t, s),
                gap_of(t, s), s->total_up / 1000.0, s->total_down / 1000.0, s->accepted, s->rejected);
    }
}

typedef struct {
    int have;
    double worst_gain, gap, vs_oracle;
    int no_region_worse;
} checks_t;

/* The figures the project tracks, for a federated strategy k. */
static checks_t checks_for(const table_t *t, int k)
{
    checks_t c = {0};
    const strat_rows_t *s = &t->s[k], *frozen = &t->s[SIM_FROZEN], *oracle = &t->s[SIM_ORACLE];
    if (!s->present || !frozen->present) {
        return c;
    }
    c.have = 1;
    c.worst_gain = worst_of(t, s) - worst_of(t, frozen);
    c.gap = gap_of(t, s);
    c.vs_oracle = oracle->present ? mean_of(t, s) - mean_of(t, oracle) : 0;
    c.no_region_worse = 1;
    for (unsigned g = 0; g < t->n_regions; g++) {
        c.no_region_worse &= acc(s, g) >= acc(frozen, g);
    }
    return c;
}

static void print_checks(const table_t *t, FILE *out)
{
    for (int k = SIM_FEDERATED; k <= SIM_FAIR; k++) {
        const checks_t c = checks_for(t, k);
        if (!c.have) {
            continue;
        }
        fprintf(out, "%-10s worst region %+.2f pts over frozen; best-worst gap %.2f pts", sim_strategy_name((enum sim_strategy)k),
                c.worst_gain, c.gap);
        if (t->s[SIM_ORACLE].present) {
            fprintf(out, "; mean %+.2f pts vs the oracle", c.vs_oracle);
        }
        fprintf(out, "; %s\n", c.no_region_worse ? "no region below frozen" : "SOME REGION BELOW FROZEN");
    }
}

static int write_json(const char *dir, const table_t *t, const char *extra)
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
    int first = 1;
    for (int k = 0; k < SIM_STRATEGIES; k++) {
        const strat_rows_t *s = &t->s[k];
        if (!s->present) {
            continue;
        }
        fprintf(f, "%s    \"%s\": {\"rounds\": %u, \"accuracy\": [", first ? "" : ",\n", sim_strategy_name((enum sim_strategy)k),
                s->rounds);
        for (unsigned g = 0; g < t->n_regions; g++) {
            fprintf(f, "%s%.2f", g ? ", " : "", acc(s, g));
        }
        fprintf(f, "], \"mean\": %.2f, \"worst\": %.2f, \"gap\": %.2f, \"bytes_up\": %.0f, \"bytes_down\": %.0f, "
                   "\"accepted\": %.0f, \"rejected\": %.0f, \"lost\": %.0f}",
                mean_of(t, s), worst_of(t, s), gap_of(t, s), s->total_up, s->total_down, s->accepted, s->rejected,
                s->lost);
        first = 0;
    }
    fprintf(f, "\n  },\n  \"checks\": {\n");
    first = 1;
    for (int k = SIM_FEDERATED; k <= SIM_FAIR; k++) {
        const checks_t c = checks_for(t, k);
        if (!c.have) {
            continue;
        }
        fprintf(f, "%s    \"%s\": {\"worst_gain_over_frozen\": %.2f, \"gap\": %.2f, \"mean_vs_oracle\": %.2f, "
                   "\"no_region_below_frozen\": %s}",
                first ? "" : ",\n", sim_strategy_name((enum sim_strategy)k), c.worst_gain, c.gap, c.vs_oracle,
                c.no_region_worse ? "true" : "false");
        first = 0;
    }
    fprintf(f, "\n  }%s%s\n}\n", extra ? ",\n  " : "", extra ? extra : "");
    return fclose(f) == 0 ? 0 : -1;
}

int sim_report(const char *run_dir, FILE *out, int json, const char *extra, char *msg, size_t cap)
{
    char path[1200];
    table_t t;
    snprintf(path, sizeof(path), "%s/rounds.csv", run_dir);
    if (read_csv(path, &t, msg, cap)) {
        return -1;
    }
    fprintf(out, "Accuracy per region after the last round (%s/rounds.csv):\n", run_dir);
    print_table(&t, out);
    print_checks(&t, out);
    if (json && write_json(run_dir, &t, extra)) {
        snprintf(msg, cap, "cannot write %s/summary.json: %s", run_dir, strerror(errno));
        return -1;
    }
    return 0;
}

int sim_plots(const char *run_dir, char *msg, size_t cap)
{
    char path[1200];
    table_t t;
    snprintf(path, sizeof(path), "%s/rounds.csv", run_dir);
    if (read_csv(path, &t, msg, cap)) {
        return -1;
    }
    snprintf(path, sizeof(path), "%s/plots.gp", run_dir);
    FILE *f = fopen(path, "w");
    if (!f) {
        snprintf(msg, cap, "cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    /* the script is kept in the run directory so plots can be restyled */
    fprintf(f, "set datafile separator ','\nset terminal pngcairo size 900,560 font ',11'\n"
               "set xlabel 'round'\nset ylabel 'accuracy (%%)'\nset key outside right top\nset grid\n");
    for (int k = 0; k < SIM_STRATEGIES; k++) {
        if (!t.s[k].present) {
            continue;
        }
        const char *name = sim_strategy_name((enum sim_strategy)k);
        fprintf(f, "set output 'accuracy-%s.png'\nset title 'Accuracy per region: %s'\nplot ", name, name);
        for (unsigned g = 0; g < t.n_regions; g++) {
            fprintf(f, "%s\"< grep '^%s,' rounds.csv\" using 2:%u with linespoints title '%s'", g ? ", " : "", name,
                    4 + g, t.regions[g]);
        }
        fprintf(f, "\n");
    }
    fprintf(f, "set output 'worst.png'\nset title 'Worst region per strategy'\nplot ");
    int first = 1;
    for (int k = 0; k < SIM_STRATEGIES; k++) {
        if (t.s[k].present) {
            fprintf(f, "%s\"< grep '^%s,' rounds.csv\" using 2:%u with linespoints title '%s'", first ? "" : ", ",
                    sim_strategy_name((enum sim_strategy)k), 4 + t.n_regions + 1,
                    sim_strategy_name((enum sim_strategy)k));
            first = 0;
        }
    }
    fprintf(f, "\n");
    fclose(f);
    char cmd[2600];
    snprintf(cmd, sizeof(cmd), "cd '%s' && gnuplot plots.gp 2> plots.log", run_dir);
    if (system(cmd) != 0) {
        snprintf(msg, cap, "gnuplot failed (is it installed? ./scripts/setup.sh installs it); see %s/plots.log", run_dir);
        return -1;
    }
    return 0;
}
