/* Internal: the CoAP/DTLS event loop (server.c). */
#ifndef MFL_AGGREGATOR_SERVER_H
#define MFL_AGGREGATOR_SERVER_H

#include "aggregator.h"
#include "endpoints.h"

/* Serves until SIGTERM or SIGINT. Returns 0 after a clean shutdown. */
int agg_server_run(agg_state_t *s);

#endif
