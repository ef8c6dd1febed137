/* The aggregator's configuration file: `key = value` lines, `#` comments.
 * docs/aggregator.md lists every key. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aggregator.h"
#include "mfl/host/host_io.h"

/* One verify thread per core beyond the event loop's own, from three cores
 * on. A checked-off update is answered as a separate response (an empty
 * ACK first, then a confirmable answer and its ACK): on two cores that
 * costs more than it gains (scripts/bench_aggregator.sh: 207-212 us of CPU
 * per update against 144-166 us inline, at the same 5,300-6,500 updates/s),
 * so there the event loop checks signatures itself. */
static uint32_t auto_verify_threads(void)
{
    const long cores = sysconf(_SC_NPROCESSORS_ONLN);
    return cores <= 2 ? 0 : cores > 17 ? 16 : (uint32_t)(cores - 1);
}

void agg_config_defaults(agg_config_t *c)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->listen, sizeof(c->listen), "127.0.0.1:5684");
    snprintf(c->data_dir, sizeof(c->data_dir), "mfl-data");
    snprintf(c->model_id, sizeof(c->model_id), "microfl");
    c->buffer_k = 10;
    c->max_staleness = 4;
    c->max_body = 16384;
    c->verify_threads = auto_verify_threads();
    c->max_sessions = 1024;
    c->max_handshakes = 64;
    c->session_timeout_s = 60;
    c->durability = MFL_DURABLE_PROCESS;
    c->max_delta_norm = AGG_NORM_AUTO;
    c->agg = mfl_agg_defaults();
    c->agg.median_cap = AGG_MEDIAN_CAP; /* no update outweighs twice a typical one of its round */
}

__attribute__((format(printf, 3, 4))) static int bad(char *msg, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, cap, fmt, ap);
    va_end(ap);
    return -1;
}

static int set_text(char *dst, size_t cap, const char *v)
{
    return (size_t)snprintf(dst, cap, "%s", v) < cap ? 0 : -1;
}

static int set_uint(uint32_t *dst, const char *v)
{
    char *end;
    const unsigned long x = strtoul(v, &end, 10);
    if (*end || end == v || x > UINT32_MAX) {
        return -1;
    }
    *dst = (uint32_t)x;
    return 0;
}

static int set_double(double *dst, const char *v)
{
    char *end;
    *dst = strtod(v, &end);
    return *end || end == v || !isfinite(*dst) ? -1 : 0;
}

static int apply(agg_config_t *c, const char *k, const char *v)
{
    uint32_t u = 0;
    if (!strcmp(k, "listen")) return set_text(c->listen, sizeof(c->listen), v);
    if (!strcmp(k, "plain_listen")) return set_text(c->plain_listen, sizeof(c->plain_listen), v);
    if (!strcmp(k, "data_dir")) return set_text(c->data_dir, sizeof(c->data_dir), v);
    if (!strcmp(k, "model")) return set_text(c->model, sizeof(c->model), v);
    if (!strcmp(k, "model_id")) return set_text(c->model_id, sizeof(c->model_id), v);
    if (!strcmp(k, "key")) return set_text(c->key, sizeof(c->key), v);
    if (!strcmp(k, "cert")) return set_text(c->cert, sizeof(c->cert), v);
    if (!strcmp(k, "cert_key")) return set_text(c->cert_key, sizeof(c->cert_key), v);
    if (!strcmp(k, "ca")) return set_text(c->ca, sizeof(c->ca), v);
    if (!strcmp(k, "cert_listen")) return set_text(c->cert_listen, sizeof(c->cert_listen), v);
    if (!strcmp(k, "buffer_k")) return set_uint(&c->buffer_k, v) || c->buffer_k == 0 ? -1 : 0;
    if (!strcmp(k, "max_staleness")) return set_uint(&c->max_staleness, v);
    if (!strcmp(k, "max_delta_norm")) {
        if (!strcmp(v, "auto")) {
            c->max_delta_norm = AGG_NORM_AUTO;
            return 0;
        }
        return set_double(&c->max_delta_norm, v) || !(c->max_delta_norm >= 0.0 && c->max_delta_norm <= AGG_NORM_MAX)
                   ? -1 : 0;
    }
    if (!strcmp(k, "max_body")) return set_uint(&c->max_body, v);
    if (!strcmp(k, "verify_threads")) {
        if (!strcmp(v, "auto")) {
            c->verify_threads = auto_verify_threads();
            return 0;
        }
        return set_uint(&c->verify_threads, v) || c->verify_threads > 16 ? -1 : 0;
    }
    if (!strcmp(k, "max_sessions")) return set_uint(&c->max_sessions, v);
    if (!strcmp(k, "max_handshakes")) return set_uint(&c->max_handshakes, v);
    if (!strcmp(k, "session_timeout")) return set_uint(&c->session_timeout_s, v);
    if (!strcmp(k, "durability")) {
        c->durability = !strcmp(v, "power") ? MFL_DURABLE_POWER : MFL_DURABLE_PROCESS;
        return strcmp(v, "power") && strcmp(v, "process") ? -1 : 0;
    }
    if (!strcmp(k, "rule")) {
        c->agg.rule = !strcmp(v, "median") ? MFL_AGG_MEDIAN : !strcmp(v, "trimmed_mean") ? MFL_AGG_TRIMMED_MEAN
                                                                                        : MFL_AGG_MEAN;
        return strcmp(v, "mean") && strcmp(v, "median") && strcmp(v, "trimmed_mean") ? -1 : 0;
    }
    if (!strcmp(k, "trim_fraction")) return set_double(&c->agg.trim_fraction, v);
    if (!strcmp(k, "sample_cap")) {
        const int is_auto = !strcmp(v, "auto");
        const int err = is_auto ? 0 : set_uint(&u, v);
        c->agg.sample_cap = is_auto ? 0 : u;
        c->agg.median_cap = is_auto ? AGG_MEDIAN_CAP : 0.0;
        return err;
    }
    if (!strcmp(k, "staleness_exponent")) return set_double(&c->agg.staleness_exponent, v);
    if (!strcmp(k, "clip_norm")) {
        int err = set_double(&c->agg.clip_norm_q24, v);
        c->agg.clip_norm_q24 *= 16777216.0; /* configured in real units */
        return err;
    }
    if (!strcmp(k, "balance_groups")) return set_uint(&u, v) || u > 1 ? -1 : (c->agg.balance_groups = (int)u, 0);
    if (!strcmp(k, "server_lr")) return set_double(&c->agg.server_lr, v);
    return -2;
}

int agg_config_load(const char *path, agg_config_t *c, char *msg, size_t cap)
{
    agg_config_defaults(c);
    FILE *f = fopen(path, "r");
    if (!f) {
        return bad(msg, cap, "cannot open %s", path);
    }
    char line[1200];
    int n = 0, err = 0;
    while (!err && fgets(line, sizeof(line), f)) {
        n++;
        char *hash = strchr(line, '#');
        if (hash) {
            *hash = '\0';
        }
        char *eq = strchr(line, '=');
        char *k = mfl_trim(line);
        if (!*k) {
            continue;
        }
        if (!eq) {
            err = bad(msg, cap, "%s:%d: expected key = value", path, n);
            break;
        }
        *eq = '\0';
        k = mfl_trim(line);
        const char *v = mfl_trim(eq + 1);
        const int r = apply(c, k, v);
        if (r == -2) {
            err = bad(msg, cap, "%s:%d: unknown key '%s'", path, n, k);
        } else if (r) {
            err = bad(msg, cap, "%s:%d: bad value '%s' for %s", path, n, v, k);
        }
    }
    fclose(f);
    if (!err && (!c->model[0] || !c->key[0])) {
        err = bad(msg, cap, "%s: 'model' and 'key' are required", path);
    }
    if (!err && (!!c->cert[0] != !!c->cert_key[0] || !!c->cert[0] != !!c->ca[0] ||
                 !!c->cert[0] != !!c->cert_listen[0])) {
        err = bad(msg, cap, "%s: 'cert', 'cert_key', 'ca' and 'cert_listen' go together", path);
    }
    return err;
}
