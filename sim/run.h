/*
 * One simulation run: every selected strategy on the same devices, the
 * same data and the same online/offline pattern, round by round. Writes
 * rounds.csv into the run directory as it goes.
 */
#ifndef MFL_SIM_RUN_H
#define MFL_SIM_RUN_H

#include <stdio.h>

#include "scenario.h"
#include "world.h"

/* One strategy's figures for one round. */
typedef struct {
    double acc[SIM_MAX_REGIONS];   /* accuracy per region, % */
    double mean, worst, gap;       /* over regions; gap = best - worst */
    uint64_t version;              /* global model version (federated strategies) */
    uint64_t bytes_up, bytes_down; /* signed messages' bytes this round */
    uint32_t accepted, rejected, lost;
} sim_round_t;

typedef struct {
    uint32_t rounds;
    sim_round_t *r[SIM_STRATEGIES]; /* [strategy][round], round 0 = before any learning */
    uint32_t oracle_epochs[SIM_STRATEGIES]; /* the references: epochs trained (0 for the others) */
    double seconds;
} sim_results_t;

/* progress: a terminal to redraw a status line on, or NULL. */
int sim_run(const sim_scenario_t *sc, const sim_world_t *w, const char *run_dir, FILE *progress,
            sim_results_t *res, char *msg, size_t cap);
void sim_results_free(sim_results_t *res);

#endif /* MFL_SIM_RUN_H */
