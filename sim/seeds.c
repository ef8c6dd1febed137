/* Statistics, tables and plots over the seeds of a multi-seed run (seeds.h). */
#define _GNU_SOURCE /* fopencookie */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mfl/host/host_io.h"
#include "report.h"
#include "seeds.h"

/* Student's t, the 0.975 quantile, for 1..30 degrees of freedom (the
 * usual table, to 6 digits). Beyond 30 the Cornish-Fisher expansion
 * around the normal quantile is within 1e-5 of the exact value. */
static double t975(unsigned df)
{
    static const double table[30] = {12.706205, 4.302653, 3.182446, 2.776445, 2.570582, 2.446912, 2.364624,
                                     2.306004,  2.262157, 2.228139, 2.200985, 2.178813, 2.160369, 2.144787,
                                     2.131450,  2.119905, 2.109816, 2.100922, 2.093024, 2.085963, 2.079614,
                                     2.073873,  2.068658, 2.063899, 2.059539, 2.055529, 2.051831, 2.048407,
                                     2.045230,  2.042272};
    if (df >= 1 && df <= 30) {
        return table[df - 1];
    }
    const double z = 1.959964, v = df, z3 = z * z * z, z5 = z3 * z * z, z7 = z5 * z * z;
    return z + (z3 + z) / (4 * v) + (5 * z5 + 16 * z3 + 3 * z) / (96 * v * v) +
           (3 * z7 + 19 * z5 + 17 * z3 - 15 * z) / (384 * v * v * v);
}

/* The figures, per seed and strategy; key: seeds.csv and summary.json,
 * head: the table's column. */
enum figure {
    F_WORST, F_MEAN, F_GAP, F_WORST_GAIN, F_OVER_BASELINE, F_VS_ORACLE, F_HOME_GAIN, F_MIN_REGION_GAIN, F_WORST_SD5,
    F_COUNT
};
static const struct {
    const char *key, *head, *what;
} figures[F_COUNT] = {
    {"worst", "worst %", "final accuracy of the worst region, %"},
    {"mean", "mean %", "final mean accuracy over regions, %"},
    {"gap", "best-worst", "final best minus worst region, points"},
    {"worst_gain", "worst-frozen", "final worst region minus frozen's, points"},
    {"worst_over_baseline", "worst-baseline",
     "final worst region minus the best baseline's (frozen, standardized, recalibrated: the highest worst region), "
     "points"},
    {"vs_oracle", "mean-oracle", "final mean minus the oracle's on the same backbone (oracle-recal for "
                                 "recalibrated ones), points"},
    {"home_gain", "home-frozen", "final home region (the first) minus frozen's, points"},
    {"min_region_gain", "min region-frozen", "final accuracy minus frozen's in the region where it is lowest, points "
                                             "(negative: some region ends below frozen)"},
    {"worst_sd5", "worst sd5", "standard deviation of the worst region over the last 5 rounds (n-1), points"},
};
#define SD_ROUNDS 5

/* Sample standard deviation of the worst region over the last rounds
 * (round 0, before any learning, never counted); -1 under two rounds. */
static int worst_sd(const sim_rounds_t *t, const sim_series_t *s, double *v)
{
    const unsigned col = SIM_COL_WORST(t->n_regions);
    const unsigned learnt = s->n_rows > 1 ? s->n_rows - 1 : 0;
    const unsigned n = learnt < SD_ROUNDS ? learnt : SD_ROUNDS;
    double sum = 0, ss = 0;
    if (n < 2) {
        return -1;
    }
    for (unsigned i = s->n_rows - n; i < s->n_rows; i++) {
        sum += s->rows[i][col];
    }
    for (unsigned i = s->n_rows - n; i < s->n_rows; i++) {
        ss += (s->rows[i][col] - sum / n) * (s->rows[i][col] - sum / n);
    }
    *v = sqrt(ss / (n - 1));
    return 0;
}

/* Figure f of the strategy called name in one seed's rounds; -1 when it
 * is not defined there (no such strategy, no frozen, no oracle). */
static int figure(const sim_rounds_t *t, const char *name, enum figure f, double *v)
{
    const unsigned n = t->n_regions;
    const int k = sim_rounds_find(t, name);
    const int ref = f == F_VS_ORACLE ? sim_rounds_oracle_for(t, name)
                    : f == F_OVER_BASELINE ? sim_rounds_best_baseline(t)
                                           : sim_rounds_find(t, "frozen");
    if (k < 0 || (f != F_WORST && f != F_MEAN && f != F_GAP && f != F_WORST_SD5 && ref < 0)) {
        return -1;
    }
    if (f == F_OVER_BASELINE && sim_strategy_is_baseline(name)) {
        return -1; /* the best baseline is picked after the fact: a baseline is never above it */
    }
    const double *last = t->s[k].rows[t->s[k].n_rows - 1];
    const double *base = ref >= 0 ? t->s[ref].rows[t->s[ref].n_rows - 1] : NULL;
    switch (f) {
    case F_WORST: *v = last[SIM_COL_WORST(n)]; return 0;
    case F_MEAN: *v = last[SIM_COL_MEAN(n)]; return 0;
    case F_GAP: *v = last[SIM_COL_GAP(n)]; return 0;
    case F_WORST_GAIN: *v = last[SIM_COL_WORST(n)] - base[SIM_COL_WORST(n)]; return 0;
    case F_VS_ORACLE: *v = last[SIM_COL_MEAN(n)] - base[SIM_COL_MEAN(n)]; return 0;
    case F_OVER_BASELINE: *v = last[SIM_COL_WORST(n)] - base[SIM_COL_WORST(n)]; return 0;
    case F_HOME_GAIN: *v = last[SIM_COL_ACC(0)] - base[SIM_COL_ACC(0)]; return 0;
    case F_MIN_REGION_GAIN:
        *v = INFINITY;
        for (unsigned g = 0; g < n; g++) {
            *v = fmin(*v, last[SIM_COL_ACC(g)] - base[SIM_COL_ACC(g)]);
        }
        return 0;
    default: return worst_sd(t, &t->s[k], v);
    }
}

typedef struct {
    unsigned n;        /* seeds where the figure is defined */
    double mean, sd;   /* sd: sample (n-1); 0 for one seed */
    double ci;         /* 95 % half-width; NAN for one seed */
    double min, max;
} stat_t;

static stat_t stats(const double *v, const int *have, unsigned n_seeds)
{
    stat_t s = {0, 0, 0, NAN, INFINITY, -INFINITY};
    double ss = 0;
    for (unsigned i = 0; i < n_seeds; i++) {
        if (have[i]) {
            s.n++;
            s.mean += v[i];
            s.min = v[i] < s.min ? v[i] : s.min;
            s.max = v[i] > s.max ? v[i] : s.max;
        }
    }
    s.mean = s.n ? s.mean / s.n : NAN;
    for (unsigned i = 0; i < n_seeds; i++) {
        ss += have[i] ? (v[i] - s.mean) * (v[i] - s.mean) : 0;
    }
    if (s.n >= 2) {
        s.sd = sqrt(ss / (s.n - 1));
        s.ci = t975(s.n - 1) * s.sd / sqrt((double)s.n);
    }
    return s;
}

/* Every seed's rounds, in the order of the seeds, and the strategies
 * over all of them (the first seed's order, then any new ones). */
typedef struct {
    unsigned n;
    uint64_t seed[SIM_SEEDS_MAX];
    sim_rounds_t *r;
    unsigned n_names;
    char names[SIM_REPORT_MAX_STRATEGIES][32];
} seeds_t;

int sim_seeds_dir(char *out, size_t cap, const char *dir, uint64_t seed)
{
    return (size_t)snprintf(out, cap, "%s/seed-%llu", dir, (unsigned long long)seed) < cap ? 0 : -1;
}

int sim_seeds_is_dir_name(const char *name)
{
    uint64_t s;
    return !strncmp(name, "seed-", 5) && mfl_parse_u64(name + 5, 0, UINT64_MAX, &s) == 0;
}

static int by_seed(const void *a, const void *b)
{
    const uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The seeds of DIR's seed-S directories that hold a rounds.csv, sorted. */
static unsigned list_seeds(const char *dir, uint64_t *seeds)
{
    DIR *d = opendir(dir);
    unsigned n = 0;
    for (struct dirent *e; d && n < SIM_SEEDS_MAX && (e = readdir(d)) != NULL;) {
        char path[1300];
        if (sim_seeds_is_dir_name(e->d_name) &&
            (size_t)snprintf(path, sizeof(path), "%s/%s/rounds.csv", dir, e->d_name) < sizeof(path) &&
            access(path, F_OK) == 0) {
            mfl_parse_u64(e->d_name + 5, 0, UINT64_MAX, &seeds[n++]);
        }
    }
    if (d) {
        closedir(d);
    }
    qsort(seeds, n, sizeof(*seeds), by_seed);
    return n;
}

unsigned sim_seeds_count(const char *dir)
{
    static uint64_t seeds[SIM_SEEDS_MAX];
    return list_seeds(dir, seeds);
}

static void seeds_free(seeds_t *s)
{
    for (unsigned i = 0; s->r && i < s->n; i++) {
        sim_rounds_free(&s->r[i]);
    }
    free(s->r);
    free(s);
}

static int add_names(seeds_t *s, const sim_rounds_t *r)
{
    for (unsigned k = 0; k < r->n_strategies; k++) {
        int known = 0;
        for (unsigned j = 0; j < s->n_names; j++) {
            known |= !strcmp(s->names[j], r->s[k].name);
        }
        if (!known && s->n_names == SIM_REPORT_MAX_STRATEGIES) {
            return -1;
        }
        if (!known) {
            snprintf(s->names[s->n_names++], sizeof(s->names[0]), "%s", r->s[k].name);
        }
    }
    return 0;
}

/* Reads every seed's rounds.csv; the seeds must have the same regions
 * (they are one scenario). NULL with the reason in msg. */
static seeds_t *seeds_load(const char *dir, char *msg, size_t cap)
{
    seeds_t *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(msg, cap, "out of memory");
        return NULL;
    }
    s->n = list_seeds(dir, s->seed);
    s->r = calloc(s->n ? s->n : 1, sizeof(*s->r));
    int err = s->r ? 0 : -1;
    if (!err && !s->n) {
        snprintf(msg, cap, "%s holds no seed-S/rounds.csv (not a multi-seed run directory)", dir);
        err = -1;
    }
    for (unsigned i = 0; !err && i < s->n; i++) {
        char path[1300];
        snprintf(path, sizeof(path), "%s/seed-%llu/rounds.csv", dir, (unsigned long long)s->seed[i]);
        err = sim_rounds_read(path, &s->r[i], msg, cap);
        if (!err && (s->r[i].n_regions != s->r[0].n_regions ||
                     memcmp(s->r[i].regions, s->r[0].regions, sizeof(s->r[0].regions)))) {
            snprintf(msg, cap, "%s: other regions than seed %llu's: the seeds are not one scenario", path,
                     (unsigned long long)s->seed[0]);
            err = -1;
        }
        if (!err && add_names(s, &s->r[i])) {
            snprintf(msg, cap, "%s: more than %d strategies over the seeds", path, SIM_REPORT_MAX_STRATEGIES);
            err = -1;
        }
    }
    if (err) {
        seeds_free(s);
        return NULL;
    }
    return s;
}

/* Figure f of one strategy over the seeds: values[], have[] per seed. */
static stat_t over_seeds(const seeds_t *s, const char *name, enum figure f, double *values, int *have)
{
    for (unsigned i = 0; i < s->n; i++) {
        have[i] = figure(&s->r[i], name, f, &values[i]) == 0;
    }
    return stats(values, have, s->n);
}

static void print_header(const seeds_t *s, const char *dir, FILE *out)
{
    fprintf(out, "Over %u seed%s (", s->n, s->n == 1 ? "" : "s");
    for (unsigned i = 0; i < s->n && i < 12; i++) {
        fprintf(out, "%s%llu", i ? ", " : "", (unsigned long long)s->seed[i]);
    }
    fprintf(out, "%s; %s/seed-*/rounds.csv): ", s->n > 12 ? ", ..." : "", dir);
    if (s->n < 2) {
        fprintf(out, "the figures of that seed; one seed gives no interval (--seeds 2 or more)\n");
    } else {
        fprintf(out, "mean ± half-width of the 95 %% confidence interval (Student t, %u degree%s of freedom: t = "
                     "%.3f)\n", s->n - 1, s->n == 2 ? "" : "s", t975(s->n - 1));
    }
}

static void print_table(const seeds_t *s, const char *dir, FILE *out)
{
    double v[SIM_SEEDS_MAX];
    int have[SIM_SEEDS_MAX];
    int w = 10;
    for (unsigned k = 0; k < s->n_names; k++) {
        w = (int)strlen(s->names[k]) > w ? (int)strlen(s->names[k]) : w;
    }
    print_header(s, dir, out);
    fprintf(out, "%-*s", w, "strategy");
    for (int f = 0; f < F_COUNT; f++) {
        fprintf(out, " %16s", figures[f].head);
    }
    fprintf(out, "\n");
    for (unsigned k = 0; k < s->n_names; k++) {
        fprintf(out, "%-*s", w, s->names[k]);
        for (int f = 0; f < F_COUNT; f++) {
            const stat_t st = over_seeds(s, s->names[k], (enum figure)f, v, have);
            if (!st.n) {
                fprintf(out, " %16s", "-");
            } else if (st.n < 2) {
                fprintf(out, " %7.2f%9s", st.mean, ""); /* where " ± " and a half-width go */
            } else {
                fprintf(out, " %7.2f ± %6.2f", st.mean, st.ci);
            }
        }
        fprintf(out, "\n");
    }
}

/* A number, or an empty cell / null where it is not defined. */
static void csv_num(FILE *f, double x)
{
    if (isfinite(x)) {
        fprintf(f, ",%.4f", x);
    } else {
        fprintf(f, ",");
    }
}
static void json_num(FILE *f, const char *sep, double x)
{
    if (isfinite(x)) {
        fprintf(f, "%s%.4f", sep, x);
    } else {
        fprintf(f, "%snull", sep);
    }
}

static int write_csv(const seeds_t *s, const char *path)
{
    double v[SIM_SEEDS_MAX];
    int have[SIM_SEEDS_MAX];
    FILE *f = fopen(path, "w");
    if (!f) {
        return -1;
    }
    fprintf(f, "strategy,figure,seeds,mean,ci95,sd,min,max");
    for (unsigned i = 0; i < s->n; i++) {
        fprintf(f, ",seed-%llu", (unsigned long long)s->seed[i]);
    }
    fprintf(f, "\n");
    for (unsigned k = 0; k < s->n_names; k++) {
        for (int fi = 0; fi < F_COUNT; fi++) {
            const stat_t st = over_seeds(s, s->names[k], (enum figure)fi, v, have);
            fprintf(f, "%s,%s,%u", s->names[k], figures[fi].key, st.n);
            csv_num(f, st.mean);
            csv_num(f, st.ci);
            csv_num(f, st.n >= 2 ? st.sd : NAN);
            csv_num(f, st.n ? st.min : NAN);
            csv_num(f, st.n ? st.max : NAN);
            for (unsigned i = 0; i < s->n; i++) {
                csv_num(f, have[i] ? v[i] : NAN);
            }
            fprintf(f, "\n");
        }
    }
    return fclose(f) ? -1 : 0;
}

/* The worst region per round over the seeds that reached that round. */
static int write_band(const seeds_t *s, const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        return -1;
    }
    fprintf(f, "strategy,round,mean,min,max,seeds\n");
    const unsigned col = SIM_COL_WORST(s->r[0].n_regions);
    for (unsigned k = 0; k < s->n_names; k++) {
        for (unsigned round = 0;; round++) {
            double sum = 0, lo = INFINITY, hi = -INFINITY;
            unsigned n = 0;
            for (unsigned i = 0; i < s->n; i++) {
                const int j = sim_rounds_find(&s->r[i], s->names[k]);
                if (j >= 0 && round < s->r[i].s[j].n_rows) {
                    const double x = s->r[i].s[j].rows[round][col];
                    sum += x, n++;
                    lo = x < lo ? x : lo;
                    hi = x > hi ? x : hi;
                }
            }
            if (!n) {
                break;
            }
            fprintf(f, "%s,%u,%.4f,%.2f,%.2f,%u\n", s->names[k], round, sum / n, lo, hi, n);
        }
    }
    return fclose(f) ? -1 : 0;
}

static void json_interval(FILE *f, const seeds_t *s)
{
    if (s->n < 2) {
        fprintf(f, "  \"interval\": null,\n  \"interval_note\": \"one seed gives no interval\",\n");
        return;
    }
    fprintf(f, "  \"interval\": {\"level\": 0.95, \"half_width\": \"t * sd / sqrt(n)\", \"distribution\": "
               "\"Student t\", \"degrees_of_freedom\": %u, \"t\": %.6f},\n",
            s->n - 1, t975(s->n - 1));
}

static void json_strategy(FILE *f, const seeds_t *s, unsigned k)
{
    double v[SIM_SEEDS_MAX];
    int have[SIM_SEEDS_MAX];
    fprintf(f, "%s    \"%s\": {", k ? ",\n" : "", s->names[k]);
    for (int fi = 0; fi < F_COUNT; fi++) {
        const stat_t st = over_seeds(s, s->names[k], (enum figure)fi, v, have);
        fprintf(f, "%s\n      \"%s\": {\"n\": %u", fi ? "," : "", figures[fi].key, st.n);
        json_num(f, ", \"mean\": ", st.mean);
        json_num(f, ", \"ci95\": ", st.ci);
        json_num(f, ", \"sd\": ", st.n >= 2 ? st.sd : NAN);
        json_num(f, ", \"min\": ", st.n ? st.min : NAN);
        json_num(f, ", \"max\": ", st.n ? st.max : NAN);
        fprintf(f, ", \"values\": [");
        for (unsigned i = 0; i < s->n; i++) {
            json_num(f, i ? ", " : "", have[i] ? v[i] : NAN);
        }
        fprintf(f, "]}");
    }
    fprintf(f, "\n    }");
}

static int write_json(const seeds_t *s, const char *path, const char *extra)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        return -1;
    }
    fprintf(f, "{\n  \"layout\": \"seeds\",\n  \"seeds\": [");
    for (unsigned i = 0; i < s->n; i++) {
        fprintf(f, "%s%llu", i ? ", " : "", (unsigned long long)s->seed[i]);
    }
    fprintf(f, "],\n  \"regions\": [");
    for (unsigned g = 0; g < s->r[0].n_regions; g++) {
        fprintf(f, "%s\"%s\"", g ? ", " : "", s->r[0].regions[g]);
    }
    fprintf(f, "],\n");
    json_interval(f, s);
    fprintf(f, "  \"figures\": {");
    for (int fi = 0; fi < F_COUNT; fi++) {
        fprintf(f, "%s\n    \"%s\": \"%s\"", fi ? "," : "", figures[fi].key, figures[fi].what);
    }
    fprintf(f, "\n  },\n  \"strategies\": {\n");
    for (unsigned k = 0; k < s->n_names; k++) {
        json_strategy(f, s, k);
    }
    fprintf(f, "\n  }%s%s\n}\n", extra ? ",\n  " : "", extra ? extra : "");
    return fclose(f) ? -1 : 0;
}

static int write_outputs(const seeds_t *s, const char *dir, const char *extra, char *msg, size_t cap)
{
    static const char *const names[] = {"seeds.csv", "worst-seeds.csv", "summary.json"};
    for (int i = 0; i < 3; i++) {
        char path[1200];
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        const int err = i == 0 ? write_csv(s, path) : i == 1 ? write_band(s, path) : write_json(s, path, extra);
        if (err) {
            snprintf(msg, cap, "cannot write %s: %s", path, strerror(errno));
            return -1;
        }
    }
    return 0;
}

int sim_seeds_report(const char *dir, FILE *out, int write, const char *extra, char *msg, size_t cap)
{
    seeds_t *s = seeds_load(dir, msg, cap);
    if (!s) {
        return -1;
    }
    print_table(s, dir, out);
    const int err = write ? write_outputs(s, dir, extra, msg, cap) : 0;
    seeds_free(s);
    return err;
}

/* The worst region of every strategy: the mean over seeds, a band from
 * the lowest to the highest seed (references: dashed, a lighter band).
 * Every band first, then every line, so no band hides a line. */
static void plot_band(FILE *f, const sim_rounds_t *names)
{
    char style[80];
    fprintf(f, "  set output 'worst.'.fmt\n  set title 'Worst region per strategy'\n"
               "  set key title \"mean over seeds;\\nband: lowest to highest\"\n  plot ");
    for (unsigned k = 0; k < names->n_strategies; k++) {
        const char *name = names->s[k].name;
        fprintf(f, "%s\"< grep '^%s,' worst-seeds.csv\" using 2:4:5 with filledcurves fc rgb '%s' "
                   "fs transparent solid %s noborder notitle",
                k ? ", \\\n       " : "", name, sim_plot_colour(names, k),
                sim_strategy_is_reference(name) ? "0.10" : "0.20");
    }
    for (unsigned k = 0; k < names->n_strategies; k++) {
        const char *name = names->s[k].name;
        fprintf(f, ", \\\n       \"< grep '^%s,' worst-seeds.csv\" using 2:3 with %s %s title '%s'", name,
                sim_strategy_is_reference(name) ? "lines" : "linespoints",
                sim_plot_style(names, k, style, sizeof(style)), name);
    }
    fprintf(f, "\n");
}

int sim_seeds_plots(const char *dir, char *msg, size_t cap)
{
    char path[1200];
    seeds_t *s = seeds_load(dir, msg, cap);
    if (!s) {
        return -1;
    }
    /* the styles come by strategy index: a table holding every name */
    sim_rounds_t names = {0};
    unsigned last = 0;
    for (unsigned k = 0; k < s->n_names; k++) {
        snprintf(names.s[names.n_strategies++].name, sizeof(names.s[0].name), "%s", s->names[k]);
    }
    for (unsigned i = 0; i < s->n; i++) {
        for (unsigned k = 0; k < s->r[i].n_strategies; k++) {
            const sim_series_t *x = &s->r[i].s[k];
            const unsigned round = (unsigned)x->rows[x->n_rows - 1][SIM_COL_ROUND];
            last = round > last ? round : last;
        }
    }
    snprintf(path, sizeof(path), "%s/plots.gp", dir);
    FILE *f = fopen(path, "w");
    if (!f) {
        snprintf(msg, cap, "cannot write %s: %s", path, strerror(errno));
        seeds_free(s);
        return -1;
    }
    sim_plot_preamble(f, last);
    fprintf(f, "# every seed's own plots are in seed-S/\ndo for [fmt in formats] {\n");
    sim_plot_terminal(f);
    plot_band(f, &names);
    fprintf(f, "  set output\n}\n");
    seeds_free(s);
    if (fclose(f)) {
        snprintf(msg, cap, "cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    return sim_plot_run(dir, msg, cap);
}

/* The status line sim_run draws is "\r" + text, and "\r" + blanks + "\r"
 * to clear it at the end. The stream writes it to the terminal with the
 * tag in front of each text, and widens each clearing by the tag's
 * length. sim_run flushes after each line, so a write holds whole lines. */
typedef struct {
    FILE *term;
    char tag[96];
} tagger_t;

static ssize_t tag_write(void *cookie, const char *buf, size_t size)
{
    const tagger_t *t = cookie;
    for (size_t i = 0; i < size;) {
        size_t end = i + 1;
        while (end < size && buf[end] != '\r') {
            end++;
        }
        if (buf[i] == '\r') {
            size_t blank = i + 1;
            while (blank < end && buf[blank] == ' ') {
                blank++;
            }
            fputc('\r', t->term);
            if (blank < end) {
                fputs(t->tag, t->term);
            } else if (end > i + 1) { /* blanks: clear the tag too; a bare "\r" stays one */
                fprintf(t->term, "%*s", (int)strlen(t->tag), "");
            }
            i++;
        }
        fwrite(buf + i, 1, end - i, t->term);
        i = end;
    }
    fflush(t->term);
    return (ssize_t)size;
}

static int tag_close(void *cookie)
{
    free(cookie);
    return 0;
}

FILE *sim_seeds_progress(FILE *term, const char *tag)
{
    tagger_t *t = term ? calloc(1, sizeof(*t)) : NULL;
    if (!t) {
        return NULL;
    }
    t->term = term;
    snprintf(t->tag, sizeof(t->tag), "%s", tag);
    FILE *f = fopencookie(t, "w", (cookie_io_functions_t){.write = tag_write, .close = tag_close});
    if (!f) {
        free(t);
    }
    return f;
}
