/* Internal: the aggregator's endpoints (endpoints.c). */
#ifndef MFL_AGGREGATOR_ENDPOINTS_H
#define MFL_AGGREGATOR_ENDPOINTS_H

#include <coap3/coap.h>

#include "aggregator.h"

/* Before anything is opened: every endpoint's address (listen,
 * plain_listen, cert_listen, metrics_listen) parses and a socket of ours
 * could bind it. Returns 0, or -1 with msg naming the key and the reason. */
int agg_server_preflight(const agg_config_t *c, char *msg, size_t cap);

/* A libcoap endpoint on HOST:PORT (name: "dtls", "plain", "certificates"
 * for the log), refused when the address is taken; its socket is then made
 * exclusive (SO_REUSEADDR cleared) and its receive buffer widened, and the
 * address bound is logged (event endpoint_bound). Returns 0 or -1 (logged,
 * event startup_failed). */
int agg_add_endpoint(coap_context_t *ctx, const char *name, const char *hostport, coap_proto_t proto);

#endif
