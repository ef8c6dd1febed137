/*
 * Several seeds of one scenario (`mfl-sim --seeds N`): seed S runs in
 * DIR/seed-S/, a complete run directory of its own (rounds.csv,
 * summary.json, plots, scenario.ini, its own base model unless the user
 * supplied one). Over the seeds, per strategy and figure (final worst
 * region, mean, best-worst gap, worst-region gain over frozen, mean minus
 * the oracle's, home region minus frozen's, standard deviation of the
 * worst region over the last 5 rounds): the mean and the 95 % confidence
 * interval's half-width, t(0.975, n-1) * sd / sqrt(n) with Student's t
 * for n seeds (sd with n-1 in the denominator; one seed gives no
 * interval). Written to DIR/seeds.csv, DIR/summary.json and, per round,
 * DIR/worst-seeds.csv (the worst region's mean, min and max over seeds)
 * for DIR/worst.{png,svg,pdf}.
 */
#ifndef MFL_SIM_SEEDS_H
#define MFL_SIM_SEEDS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define SIM_SEEDS_MAX 1000

/* DIR/seed-S. Returns 0, or -1 when it does not fit in cap. */
int sim_seeds_dir(char *out, size_t cap, const char *dir, uint64_t seed);

/* 1 if name is a seed directory's name ("seed-" and a decimal seed). */
int sim_seeds_is_dir_name(const char *name);

/* How many seed directories with a rounds.csv DIR holds (0: not a
 * multi-seed run directory; a missing DIR counts as 0). */
unsigned sim_seeds_count(const char *dir);

/* Reads every DIR/seed-S/rounds.csv (in the order of S), prints the table
 * of means and intervals to out and, if write, writes DIR/seeds.csv,
 * DIR/worst-seeds.csv and DIR/summary.json, embedding extra (a JSON
 * fragment of run facts, or NULL). Returns 0, or -1 with the file and the
 * reason in msg (a seed's unreadable rounds.csv, seeds with different
 * regions, an unwritable output). */
int sim_seeds_report(const char *dir, FILE *out, int write, const char *extra, char *msg, size_t cap);

/* DIR/plots.gp and DIR/worst.{png,svg,pdf}: the worst region per
 * strategy, the mean over seeds with a band from the lowest to the highest
 * seed (read from DIR/worst-seeds.csv, which sim_seeds_report writes). */
int sim_seeds_plots(const char *dir, char *msg, size_t cap);

/* A stream for sim_run's status line on term that puts tag ("seed 3
 * (2/5)") in front of it, so the line says which seed is running; NULL if
 * term is NULL or the stream cannot be made. fclose it after the run
 * (term stays open). */
FILE *sim_seeds_progress(FILE *term, const char *tag);

#endif /* MFL_SIM_SEEDS_H */
