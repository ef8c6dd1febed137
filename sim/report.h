/*
 * A run's results from its rounds.csv: the table of final per-region
 * accuracy per strategy with the figures the project tracks (worst-region
 * gain over frozen, best-worst gap, federated vs the centralized oracle),
 * a JSON summary, and gnuplot plots. `mfl-sim report DIR` reprints it.
 */
#ifndef MFL_SIM_REPORT_H
#define MFL_SIM_REPORT_H

#include <stdio.h>

/* Prints the table to out; writes DIR/summary.json if write_json. extra:
 * a JSON fragment of run facts (scenario, timings) to embed, or NULL. */
int sim_report(const char *run_dir, FILE *out, int write_json, const char *extra, char *msg, size_t cap);

/* DIR/accuracy-STRATEGY.png (per region over rounds) and DIR/worst.png
 * (worst region per strategy), with gnuplot. */
int sim_plots(const char *run_dir, char *msg, size_t cap);

#endif /* MFL_SIM_REPORT_H */
