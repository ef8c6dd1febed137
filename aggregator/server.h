/* Internal: the CoAP/DTLS event loop (server.c). */
#ifndef MFL_AGGREGATOR_SERVER_H
#define MFL_AGGREGATOR_SERVER_H

#include "aggregator.h"

/* Before anything is opened: every endpoint's address parses and is free.
 * Returns 0, or -1 with msg. */
int agg_server_preflight(const agg_config_t *c, char *msg, size_t cap);

/* Serves until SIGTERM or SIGINT. Returns 0 after a clean shutdown. */
int agg_server_run(agg_state_t *s);

#endif
