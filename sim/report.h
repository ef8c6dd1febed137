/*
 * A run's results from its rounds.csv: the table of final per-region
 * accuracy per strategy with the figures the project tracks (worst-region
 * gain over frozen, best-worst gap, federated vs the centralized oracle),
 * a JSON summary, and gnuplot plots. `mfl-sim report DIR` reprints it.
 *
 * The reader takes whatever strategies rounds.csv holds, in the order of
 * their first row (the simulator writes them in scenario.c's order), so a
 * strategy added to the simulator is reported and plotted with no change
 * here. "oracle" and every strategy named "oracle..." are references: an
 * upper bound, drawn dashed, never checked against frozen.
 */
#ifndef MFL_SIM_REPORT_H
#define MFL_SIM_REPORT_H

#include <stdio.h>

#include "scenario.h"

#define SIM_REPORT_MAX_STRATEGIES 32
/* Numeric columns after "strategy": round, version, one accuracy per
 * region, mean, worst, gap, bytes_up, bytes_down, accepted, rejected, lost. */
#define SIM_REPORT_MAX_COLS (SIM_MAX_REGIONS + 10)

/* One strategy's rows, in file order (row i is round i when the file is
 * the simulator's). */
typedef struct {
    char name[32];
    unsigned n_rows;
    double (*rows)[SIM_REPORT_MAX_COLS]; /* heap, n_rows entries */
} sim_series_t;

typedef struct {
    char regions[SIM_MAX_REGIONS][32]; /* region 0 is the home region in region-shift */
    unsigned n_regions;
    unsigned n_strategies;
    sim_series_t s[SIM_REPORT_MAX_STRATEGIES];
} sim_rounds_t;

/* Column indexes into a row, for a file of n_regions regions. */
#define SIM_COL_ROUND 0u
#define SIM_COL_ACC(g) (2u + (g))
#define SIM_COL_MEAN(n) (2u + (n))
#define SIM_COL_WORST(n) (3u + (n))
#define SIM_COL_GAP(n) (4u + (n))

/* Reads a rounds.csv. Returns 0, or -1 with "cannot read PATH: reason" or
 * "PATH: not a mfl-sim rounds file (line N)" in msg; free with
 * sim_rounds_free either way. */
int sim_rounds_read(const char *path, sim_rounds_t *t, char *msg, size_t cap);
void sim_rounds_free(sim_rounds_t *t);
/* Index of the strategy of that name, or -1. */
int sim_rounds_find(const sim_rounds_t *t, const char *name);
/* 1 for "oracle" and "oracle..." (reference lines, not compared). */
int sim_strategy_is_reference(const char *name);
/* 1 for the strategies that learn nothing: frozen and its label-free
 * adaptations (standardized, recalibrated). */
int sim_strategy_is_baseline(const char *name);
/* The oracle strategy name is compared with: the one on the same backbone
 * ("oracle-recal" for strategies on recalibrated backbones, when present),
 * else "oracle"; -1 when neither is in the table. The fine-tuned
 * references (oracle-full, -bias, -dense, -lastconv), which learn below
 * the head, are compared with oracle-recal too (when present): the best
 * head-only reference. */
int sim_rounds_oracle_for(const sim_rounds_t *t, const char *name);
/* The best (highest final worst region) of the baselines in the table, or -1. */
int sim_rounds_best_baseline(const sim_rounds_t *t);

/* Prints the table to out; writes DIR/summary.json if write_json. extra:
 * a JSON fragment of run facts (scenario, timings) to embed, or NULL. */
int sim_report(const char *run_dir, FILE *out, int write_json, const char *extra, char *msg, size_t cap);

/* DIR/accuracy-STRATEGY.{png,svg,pdf} (per region over rounds) and
 * DIR/worst.{png,svg,pdf} (worst region per strategy), with gnuplot from
 * DIR/plots.gp; pdf when gnuplot has the pdfcairo terminal. */
int sim_plots(const char *run_dir, char *msg, size_t cap);

/* Shared with seeds.c's plots. The script's preamble: Okabe-Ito colours,
 * axes in % ending at last_round, and `formats`, the outputs gnuplot can
 * write (png svg, and pdf with pdfcairo); the caller then writes
 * `do for [fmt in formats] { ... }` around its plots. */
void sim_plot_preamble(FILE *f, unsigned last_round);
/* Between plots of one output file: the terminal for fmt. */
void sim_plot_terminal(FILE *f);
/* Strategy k's colour ("#RRGGBB") and line style (colour, dash type:
 * references black and dashed), the same in every plot of a run. */
const char *sim_plot_colour(const sim_rounds_t *t, unsigned k);
const char *sim_plot_style(const sim_rounds_t *t, unsigned k, char *buf, size_t cap);
/* Runs `gnuplot plots.gp` in run_dir (its errors in plots.log). */
int sim_plot_run(const char *run_dir, char *msg, size_t cap);

#endif /* MFL_SIM_REPORT_H */
