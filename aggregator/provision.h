/* mfl-aggregator provision: the device lifecycle in the aggregator's store
 * (provision.c). */
#ifndef AGG_PROVISION_H
#define AGG_PROVISION_H

#include <stdio.h>

/* The verbs, one or two lines each (mfl-aggregator --help shows them). */
void agg_provision_verbs(FILE *out);

/* The whole usage of mfl-aggregator provision: verbs and options. */
void agg_provision_usage(FILE *out);

/* Runs `mfl-aggregator provision ...`; argv[0] is "provision". Returns the
 * exit status: 0 done (or nothing to do), 1 failed (a file, the store, an
 * unknown or existing device), 2 usage error (said on stderr, naming the
 * option and why). */
int agg_provision_main(int argc, char **argv);

#endif /* AGG_PROVISION_H */
