/* Internal: the HTTP side of the aggregator (metrics.c). */
#ifndef MFL_AGGREGATOR_METRICS_H
#define MFL_AGGREGATOR_METRICS_H

#include "aggregator.h"

/* What the event loop knows that the state does not. */
typedef struct {
    uint64_t sessions;       /* DTLS sessions open now (handshake done) */
    uint64_t handshakes;     /* DTLS handshakes completed */
    uint64_t retransmissions; /* requests answered again from the dedup cache */
} agg_loop_stats_t;

/* Serves GET /metrics (Prometheus text format 0.0.4) and GET /status
 * (JSON) on cfg.metrics_listen from the event loop's thread (libmicrohttpd
 * without threads of its own: agg_metrics_fd() goes into the loop's poll,
 * agg_metrics_run() answers what is ready). Returns 0, or -1 with msg. */
int agg_metrics_start(agg_state_t *s, const agg_loop_stats_t *loop, char *msg, size_t cap);
int agg_metrics_fd(void);   /* -1 when not serving */
void agg_metrics_run(void);
void agg_metrics_stop(void);

#endif
