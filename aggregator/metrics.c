/*
 * /metrics for Prometheus and /status as JSON, on libmicrohttpd.
 *
 * The daemon has no thread: its epoll descriptor joins the event loop's
 * poll (server.c), so the counters it reads are never written at the same
 * time (one thread owns the state). Off unless `metrics_listen` is set;
 * the address is the operator's choice, and docs/aggregator.md says to
 * keep it on loopback or behind a firewall: the figures name device
 * groups and traffic, not secrets. Metric names follow Prometheus's
 * conventions (snake_case, _total for counters, base units).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <microhttpd.h>

#include "metrics.h"

#define BODY_MAX (64 * 1024)

static struct {
    struct MHD_Daemon *daemon;
    agg_state_t *state;
    const agg_loop_stats_t *loop;
    double started;
    char body[BODY_MAX];
    size_t len;
} m;

__attribute__((format(printf, 1, 2))) static void put(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    const int n = vsnprintf(m.body + m.len, BODY_MAX - m.len, fmt, ap);
    va_end(ap);
    if (n > 0) {
        m.len = m.len + (size_t)n < BODY_MAX ? m.len + (size_t)n : BODY_MAX - 1;
    }
}

/* A label value or JSON string from bytes a store may hold from before
 * names were checked: '\\' and '"' escaped, every byte outside printable
 * ASCII written as the four characters \xNN (an escaped backslash, then
 * "xNN"), so the output stays valid UTF-8, a valid label and valid JSON. */
static void put_escaped(const char *text)
{
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if (*p == '\\' || *p == '"') {
            put("\\%c", *p);
        } else if (*p < 0x20 || *p > 0x7e) {
            put("\\\\x%02x", *p);
        } else {
            put("%c", *p);
        }
    }
}

static void metric(const char *name, const char *type, const char *help, uint64_t value)
{
    put("# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name, help, name, type, name, (unsigned long long)value);
}

static int group_metric(void *ctx, const char *group, uint64_t devices, uint64_t accepted)
{
    const int pass = *(int *)ctx;
    put("%s{group=\"", pass ? "mfl_aggregator_group_updates_accepted_total" : "mfl_aggregator_group_devices");
    put_escaped(group);
    put("\"} %llu\n", (unsigned long long)(pass ? accepted : devices));
    return 0;
}

static void render_metrics(void)
{
    agg_state_t *s = m.state;
    const agg_counters_t *c = &s->counters;
    metric("mfl_aggregator_updates_accepted_total", "counter", "Updates accepted and stored (over restarts).",
           s->accepted);
    metric("mfl_aggregator_updates_duplicate_total", "counter",
           "Updates answered duplicate: the same signed update was stored before.", c->duplicates);
    put("# HELP mfl_aggregator_refused_total Requests refused, by reason (handshake: DTLS handshakes).\n"
        "# TYPE mfl_aggregator_refused_total counter\n");
    for (int i = 0; i < AGG_REFUSED_COUNT; i++) {
        put("mfl_aggregator_refused_total{reason=\"%s\"} %llu\n", agg_refusal_names[i],
            (unsigned long long)c->refused[i]);
    }
    metric("mfl_aggregator_model_version", "gauge", "Version of the model being served.", s->version);
    metric("mfl_aggregator_rounds_total", "counter", "Aggregation rounds that published a model.", s->rounds);
    metric("mfl_aggregator_publish_failures_total", "counter", "Rounds that failed to publish (see the log).",
           c->publish_failures);
    put("# HELP mfl_aggregator_publish_cpu_seconds CPU time of the rounds this process published.\n"
        "# TYPE mfl_aggregator_publish_cpu_seconds summary\n"
        "mfl_aggregator_publish_cpu_seconds_sum %.6f\nmfl_aggregator_publish_cpu_seconds_count %llu\n",
        c->publish_seconds, (unsigned long long)c->publishes);
    const int64_t pending = mfl_store_pending_count(s->store), devices = mfl_store_pending_devices(s->store);
    metric("mfl_aggregator_pending_updates", "gauge", "Accepted updates waiting for a round.",
           pending > 0 ? (uint64_t)pending : 0);
    metric("mfl_aggregator_pending_devices", "gauge", "Devices with an update waiting for a round.",
           devices > 0 ? (uint64_t)devices : 0);
    metric("mfl_aggregator_dtls_sessions", "gauge", "DTLS sessions open (handshake completed).", m.loop->sessions);
    metric("mfl_aggregator_handshakes_total", "counter", "DTLS handshakes completed.", m.loop->handshakes);
    metric("mfl_aggregator_retransmissions_answered_total", "counter",
           "Retransmitted requests answered from the deduplication cache.", m.loop->retransmissions);
    metric("mfl_aggregator_model_reads_total", "counter", "Model fetches (2.05 or 2.03 Valid).", c->model_reads);
    metric("mfl_aggregator_status_reads_total", "counter", "CoAP status reads.", c->status_reads);
    for (int pass = 0; pass < 2; pass++) {
        put(pass ? "# HELP mfl_aggregator_group_updates_accepted_total Updates accepted per device group.\n"
                   "# TYPE mfl_aggregator_group_updates_accepted_total counter\n"
                 : "# HELP mfl_aggregator_group_devices Devices provisioned (not revoked) per group.\n"
                   "# TYPE mfl_aggregator_group_devices gauge\n");
        mfl_store_each_group(s->store, group_metric, &pass);
    }
    put("# HELP mfl_aggregator_start_time_seconds When this process started (Unix time).\n"
        "# TYPE mfl_aggregator_start_time_seconds gauge\nmfl_aggregator_start_time_seconds %.0f\n", m.started);
}

static int group_json(void *ctx, const char *group, uint64_t devices, uint64_t accepted)
{
    int *first = ctx;
    put("%s{\"name\":\"", *first ? "" : ",");
    put_escaped(group);
    put("\",\"devices\":%llu,\"accepted\":%llu}", (unsigned long long)devices, (unsigned long long)accepted);
    *first = 0;
    return 0;
}

static void render_status(void)
{
    agg_state_t *s = m.state;
    const agg_counters_t *c = &s->counters;
    const int64_t pending = mfl_store_pending_count(s->store);
    put("{\"model_id\":\"");
    put_escaped(s->cfg.model_id);
    put("\",\"model_version\":%llu,\"round\":%llu,\"accepted\":%llu,\"rejected\":%llu,\"duplicates\":%llu,"
        "\"publish_failures\":%llu,\"pending\":%lld,\"sessions\":%llu,\"refused\":{",
        (unsigned long long)s->version, (unsigned long long)s->rounds, (unsigned long long)s->accepted,
        (unsigned long long)s->rejected, (unsigned long long)c->duplicates, (unsigned long long)c->publish_failures,
        (long long)(pending > 0 ? pending : 0), (unsigned long long)m.loop->sessions);
    for (int i = 0; i < AGG_REFUSED_COUNT; i++) {
        put("%s\"%s\":%llu", i ? "," : "", agg_refusal_names[i], (unsigned long long)c->refused[i]);
    }
    put("},\"groups\":[");
    int first = 1;
    mfl_store_each_group(s->store, group_json, &first);
    put("]}\n");
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned code, const char *type, const char *text,
                             size_t len)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)text, MHD_RESPMEM_MUST_COPY);
    if (!r) {
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    const enum MHD_Result ret = MHD_queue_response(conn, code, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    (void)cls, (void)version, (void)upload, (void)con_cls;
    static const char plain[] = "text/plain; charset=utf-8";
    if (*upload_size) {
        *upload_size = 0; /* a body is not read: GET only */
    }
    if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
        return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, plain, "GET only\n", 9);
    }
    m.len = 0;
    m.body[0] = '\0';
    if (!strcmp(url, "/metrics")) {
        render_metrics();
        return reply(conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", m.body, m.len);
    }
    if (!strcmp(url, "/status")) {
        render_status();
        return reply(conn, MHD_HTTP_OK, "application/json", m.body, m.len);
    }
    return reply(conn, MHD_HTTP_NOT_FOUND, plain, "not found: /metrics or /status\n", 31);
}

__attribute__((format(printf, 2, 0))) static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char text[256], clean[300];
    vsnprintf(text, sizeof(text), fmt, ap);
    size_t n = strlen(text);
    while (n && (text[n - 1] == '\n' || text[n - 1] == ' ')) {
        n--;
    }
    agg_escape((const uint8_t *)text, n, clean, sizeof(clean));
    agg_log_at(AGG_LOG_WARNING, "http", "msg=\"%s\"", clean);
}

int agg_metrics_start(agg_state_t *s, const agg_loop_stats_t *loop, char *msg, size_t cap)
{
    struct sockaddr_storage addr;
    socklen_t len = 0;
    char why[256];
    m.state = s;
    m.loop = loop;
    m.started = (double)time(NULL);
    if (agg_parse_address(s->cfg.metrics_listen, &addr, &len, why, sizeof(why))) {
        snprintf(msg, cap, "metrics_listen = %s: %s", s->cfg.metrics_listen, why);
        return -1;
    }
    const unsigned flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG | (addr.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0);
    /* the logger first: libmicrohttpd warns about options before it */
    m.daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, NULL, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
                                MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_CONNECTION_LIMIT,
                                (unsigned)64, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)5, MHD_OPTION_END);
    if (!m.daemon) {
        snprintf(msg, cap, "metrics_listen = %s: cannot listen (address in use?)", s->cfg.metrics_listen);
        return -1;
    }
    agg_log("endpoint_bound", "endpoint=metrics address=%s", s->cfg.metrics_listen);
    return 0;
}

int agg_metrics_fd(void)
{
    const union MHD_DaemonInfo *i = m.daemon ? MHD_get_daemon_info(m.daemon, MHD_DAEMON_INFO_EPOLL_FD) : NULL;
    return i ? i->epoll_fd : -1;
}

void agg_metrics_run(void)
{
    if (m.daemon) {
        MHD_run(m.daemon);
    }
}

void agg_metrics_stop(void)
{
    if (m.daemon) {
        MHD_stop_daemon(m.daemon);
        m.daemon = NULL;
    }
}
