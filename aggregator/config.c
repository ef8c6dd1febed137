/* The aggregator's configuration file: `key = value` lines, `#` comments.
 * docs/aggregator.md lists every key. */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <netdb.h>
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
    c->log_level = AGG_LOG_INFO;
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

/* Digits only, in [lo, hi]: strtoul alone would take "-1" (as 2^64 - 1),
 * " 7" and "+7". */
static int set_uint(uint32_t *dst, const char *v, uint32_t lo, uint32_t hi)
{
    char *end;
    if (!isdigit((unsigned char)v[0])) {
        return -1;
    }
    errno = 0;
    const unsigned long long x = strtoull(v, &end, 10);
    if (*end || errno || x < lo || x > hi) {
        return -1;
    }
    *dst = (uint32_t)x;
    return 0;
}

/* A finite number in [lo, hi] (hi_open: [lo, hi)). */
static int set_double(double *dst, const char *v, double lo, double hi, int hi_open)
{
    char *end;
    const double x = strtod(v, &end);
    if (*end || end == v || !isfinite(x) || x < lo || x > hi || (hi_open && x >= hi)) {
        return -1;
    }
    *dst = x;
    return 0;
}

int agg_parse_address(const char *text, struct sockaddr_storage *addr, socklen_t *len, char *why, size_t cap)
{
    char host[128];
    const char *colon = strrchr(text, ':');
    const char *port = colon ? colon + 1 : "";
    size_t host_len = colon ? (size_t)(colon - text) : 0;
    const char *h = text;
    if (host_len >= 2 && text[0] == '[' && text[host_len - 1] == ']') { /* [IPv6]:port */
        h++, host_len -= 2;
    }
    uint32_t p = 0;
    if (!colon || host_len == 0 || host_len >= sizeof(host)) {
        return bad(why, cap, "expected HOST:PORT (IPv6 as [ADDR]:PORT)");
    }
    if (set_uint(&p, port, 0, 65535)) { /* 0: any free port (the simulator's in-process aggregators) */
        return bad(why, cap, "port '%s' is not a number in 0..65535", port);
    }
    memcpy(host, h, host_len);
    host[host_len] = '\0';
    struct addrinfo hints = {.ai_socktype = SOCK_DGRAM, .ai_flags = AI_NUMERICSERV}, *res = NULL;
    const int gai = getaddrinfo(host, port, &hints, &res);
    if (gai) {
        return bad(why, cap, "host '%s': %s", host, gai_strerror(gai));
    }
    memcpy(addr, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

void agg_format_address(const struct sockaddr *a, char *out, size_t cap)
{
    char host[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    if (a->sa_family == AF_INET6) {
        const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)a;
        inet_ntop(AF_INET6, &a6->sin6_addr, host, sizeof(host));
        port = ntohs(a6->sin6_port);
        snprintf(out, cap, "[%s]:%u", host, port);
        return;
    }
    if (a->sa_family == AF_INET) {
        const struct sockaddr_in *a4 = (const struct sockaddr_in *)a;
        inet_ntop(AF_INET, &a4->sin_addr, host, sizeof(host));
        port = ntohs(a4->sin_port);
    }
    snprintf(out, cap, "%s:%u", host, port);
}

static int set_address(char *dst, size_t cap, const char *v, char *why, size_t why_cap)
{
    struct sockaddr_storage a;
    socklen_t len;
    if (agg_parse_address(v, &a, &len, why, why_cap)) {
        return -1;
    }
    return set_text(dst, cap, v);
}

/* Ranges, for the message that names them. */
#define R_BUFFER_K "an integer in 1..1000000000"
#define R_STALENESS "an integer in 0..1000000"
#define R_MAX_BODY "an integer in 64..16777216 (bytes)"
#define R_COUNT "an integer in 1..1000000"
#define R_TIMEOUT "an integer in 1..86400 (seconds)"
#define R_VERIFY "'auto' or an integer in 0..16"
#define R_NORM "'auto', 0 (no bound) or a number in 2^-24..1e9 (real units)"
#define R_TRIM "a number in [0, 0.5)"
#define R_CAP "'auto' or an integer in 0..4294967295 (0 = no cap)"
#define R_EXPONENT "a number in 0..10"
#define R_CLIP "a number in 0..1e9 (real units; 0 = no clipping)"
#define R_LR "a number in (0, 100]"
#define R_MOMENTUM "a number in [0, 1)"
#define R_STALENESS_NORM "'sum' or 'buffer'"
#define R_LOG "'debug', 'info' or 'warning'"

/* Applies one key. Returns 0, -2 for an unknown key, or -1 with *range
 * (what the value must be) or why (what is wrong with it) filled. */
static int apply(agg_config_t *c, const char *k, const char *v, const char **range, char *why, size_t why_cap)
{
    uint32_t u = 0;
    *range = NULL;
    if (!strcmp(k, "listen")) return set_address(c->listen, sizeof(c->listen), v, why, why_cap);
    if (!strcmp(k, "plain_listen")) return set_address(c->plain_listen, sizeof(c->plain_listen), v, why, why_cap);
    if (!strcmp(k, "cert_listen")) return set_address(c->cert_listen, sizeof(c->cert_listen), v, why, why_cap);
    if (!strcmp(k, "metrics_listen")) return set_address(c->metrics_listen, sizeof(c->metrics_listen), v, why, why_cap);
    if (!strcmp(k, "data_dir")) return set_text(c->data_dir, sizeof(c->data_dir), v);
    if (!strcmp(k, "model")) return set_text(c->model, sizeof(c->model), v);
    if (!strcmp(k, "model_id")) return *v ? set_text(c->model_id, sizeof(c->model_id), v) : -1;
    if (!strcmp(k, "key")) return set_text(c->key, sizeof(c->key), v);
    if (!strcmp(k, "cert")) return set_text(c->cert, sizeof(c->cert), v);
    if (!strcmp(k, "cert_key")) return set_text(c->cert_key, sizeof(c->cert_key), v);
    if (!strcmp(k, "ca")) return set_text(c->ca, sizeof(c->ca), v);
    if (!strcmp(k, "buffer_k")) return *range = R_BUFFER_K, set_uint(&c->buffer_k, v, 1, 1000000000);
    if (!strcmp(k, "max_staleness")) return *range = R_STALENESS, set_uint(&c->max_staleness, v, 0, 1000000);
    if (!strcmp(k, "max_delta_norm")) {
        *range = R_NORM;
        if (!strcmp(v, "auto")) {
            c->max_delta_norm = AGG_NORM_AUTO;
            return 0;
        }
        /* the bound travels in Q8.24: a positive value below one step would
         * round to 0, which means no bound at all */
        return set_double(&c->max_delta_norm, v, 0.0, AGG_NORM_MAX, 0) ||
                       (c->max_delta_norm > 0.0 && c->max_delta_norm < 1.0 / 16777216.0) ? -1 : 0;
    }
    if (!strcmp(k, "max_body")) return *range = R_MAX_BODY, set_uint(&c->max_body, v, 64, 16u << 20);
    if (!strcmp(k, "verify_threads")) {
        *range = R_VERIFY;
        if (!strcmp(v, "auto")) {
            c->verify_threads = auto_verify_threads();
            return 0;
        }
        return set_uint(&c->verify_threads, v, 0, 16);
    }
    if (!strcmp(k, "max_sessions")) return *range = R_COUNT, set_uint(&c->max_sessions, v, 1, 1000000);
    if (!strcmp(k, "max_handshakes")) return *range = R_COUNT, set_uint(&c->max_handshakes, v, 1, 1000000);
    if (!strcmp(k, "session_timeout")) return *range = R_TIMEOUT, set_uint(&c->session_timeout_s, v, 1, 86400);
    if (!strcmp(k, "durability")) {
        *range = "'process' or 'power'";
        c->durability = !strcmp(v, "power") ? MFL_DURABLE_POWER : MFL_DURABLE_PROCESS;
        return strcmp(v, "power") && strcmp(v, "process") ? -1 : 0;
    }
    if (!strcmp(k, "rule")) {
        *range = "'mean', 'trimmed_mean' or 'median'";
        c->agg.rule = !strcmp(v, "median") ? MFL_AGG_MEDIAN : !strcmp(v, "trimmed_mean") ? MFL_AGG_TRIMMED_MEAN
                                                                                        : MFL_AGG_MEAN;
        return strcmp(v, "mean") && strcmp(v, "median") && strcmp(v, "trimmed_mean") ? -1 : 0;
    }
    if (!strcmp(k, "trim_fraction")) return *range = R_TRIM, set_double(&c->agg.trim_fraction, v, 0.0, 0.5, 1);
    if (!strcmp(k, "sample_cap")) {
        *range = R_CAP;
        const int is_auto = !strcmp(v, "auto");
        const int err = is_auto ? 0 : set_uint(&u, v, 0, UINT32_MAX);
        c->agg.sample_cap = is_auto ? 0 : u;
        c->agg.median_cap = is_auto ? AGG_MEDIAN_CAP : 0.0;
        return err;
    }
    if (!strcmp(k, "staleness_exponent")) {
        return *range = R_EXPONENT, set_double(&c->agg.staleness_exponent, v, 0.0, 10.0, 0);
    }
    if (!strcmp(k, "clip_norm")) {
        double x = 0.0;
        *range = R_CLIP;
        const int err = set_double(&x, v, 0.0, AGG_NORM_MAX, 0);
        c->agg.clip_norm_q24 = x * 16777216.0; /* configured in real units */
        return err;
    }
    if (!strcmp(k, "balance_groups")) {
        *range = "0 or 1";
        return set_uint(&u, v, 0, 1) ? -1 : (c->agg.balance_groups = (int)u, 0);
    }
    if (!strcmp(k, "server_lr")) {
        *range = R_LR;
        return set_double(&c->agg.server_lr, v, 0.0, 100.0, 0) || !(c->agg.server_lr > 0.0) ? -1 : 0;
    }
    if (!strcmp(k, "server_momentum")) {
        return *range = R_MOMENTUM, set_double(&c->agg.server_momentum, v, 0.0, 1.0, 1);
    }
    if (!strcmp(k, "staleness_normalization")) {
        *range = R_STALENESS_NORM;
        c->agg.staleness_norm = !strcmp(v, "buffer") ? MFL_AGG_NORM_BUFFER : MFL_AGG_NORM_SUM;
        return strcmp(v, "sum") && strcmp(v, "buffer") ? -1 : 0;
    }
    if (!strcmp(k, "log_level")) {
        *range = R_LOG;
        return agg_log_level_parse(v, &c->log_level);
    }
    return -2;
}

/* Keys seen so far, to refuse a key given twice (which one would win is a
 * guess an operator should not have to make). */
#define MAX_KEYS 64

int agg_config_load(const char *path, agg_config_t *c, char *msg, size_t cap)
{
    agg_config_defaults(c);
    FILE *f = fopen(path, "r");
    if (!f) {
        return bad(msg, cap, "%s: %s", path, strerror(errno));
    }
    char line[1200], seen[MAX_KEYS][32];
    int n = 0, err = 0, n_seen = 0;
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
        for (int i = 0; !err && i < n_seen; i++) {
            err = strcmp(seen[i], k) ? 0 : bad(msg, cap, "%s:%d: '%s' is set twice", path, n, k);
        }
        if (err) {
            break;
        }
        const char *range = NULL;
        char why[256] = "";
        const int r = apply(c, k, v, &range, why, sizeof(why));
        if (r == -2) {
            err = bad(msg, cap, "%s:%d: unknown key '%s' (docs/aggregator.md lists them)", path, n, k);
        } else if (r && why[0]) {
            err = bad(msg, cap, "%s:%d: %s = '%s': %s", path, n, k, v, why);
        } else if (r) {
            err = range ? bad(msg, cap, "%s:%d: %s = '%s': must be %s", path, n, k, v, range)
                        : bad(msg, cap, "%s:%d: %s = '%s': too long or empty", path, n, k, v);
        } else if (n_seen < MAX_KEYS) {
            snprintf(seen[n_seen++], sizeof(seen[0]), "%s", k);
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

#define AGG_PATH_TOKEN 300 /* a path in the log (long ones cut: the log line has 768 bytes) */

void agg_config_log(const agg_config_t *c)
{
    static const char *const rules[] = {"mean", "trimmed_mean", "median"};
    char cap[32], norm[32];
    if (c->agg.median_cap > 0.0) {
        snprintf(cap, sizeof(cap), "auto(%gx_median)", c->agg.median_cap);
    } else {
        snprintf(cap, sizeof(cap), "%llu", (unsigned long long)c->agg.sample_cap);
    }
    if (c->max_delta_norm == AGG_NORM_AUTO) {
        snprintf(norm, sizeof(norm), "auto");
    } else {
        snprintf(norm, sizeof(norm), "%g", c->max_delta_norm);
    }
    char model_id[2 * sizeof(c->model_id) + 3], data_dir[AGG_PATH_TOKEN], model[AGG_PATH_TOKEN],
        key[AGG_PATH_TOKEN];
    agg_log_token((const uint8_t *)c->model_id, strlen(c->model_id), model_id, sizeof(model_id));
    agg_log_token((const uint8_t *)c->data_dir, strlen(c->data_dir), data_dir, sizeof(data_dir));
    agg_log_token((const uint8_t *)c->model, strlen(c->model), model, sizeof(model));
    agg_log_token((const uint8_t *)c->key, strlen(c->key), key, sizeof(key));
    agg_log("config", "data_dir=%s model=%s model_id=%s key=%s buffer_k=%u max_staleness=%u "
            "max_delta_norm=%s max_body=%u max_sessions=%u max_handshakes=%u session_timeout=%u verify_threads=%u "
            "durability=%s rule=%s trim_fraction=%g sample_cap=%s staleness_exponent=%g clip_norm=%g "
            "balance_groups=%d server_lr=%g server_momentum=%g staleness_normalization=%s log_level=%s metrics=%s",
            data_dir, model, model_id, key, c->buffer_k, c->max_staleness, norm, c->max_body,
            c->max_sessions, c->max_handshakes, c->session_timeout_s, c->verify_threads,
            c->durability == MFL_DURABLE_POWER ? "power" : "process", rules[c->agg.rule], c->agg.trim_fraction, cap,
            c->agg.staleness_exponent, c->agg.clip_norm_q24 / 16777216.0, c->agg.balance_groups, c->agg.server_lr,
            c->agg.server_momentum, c->agg.staleness_norm == MFL_AGG_NORM_BUFFER ? "buffer" : "sum",
            agg_log_level_name(c->log_level), c->metrics_listen[0] ? c->metrics_listen : "off");
}

const char *agg_config_diff(const agg_config_t *a, const agg_config_t *b)
{
#define TEXT(f, name) if (strcmp(a->f, b->f)) return name
#define NUM(f, name) if (a->f != b->f) return name
    TEXT(listen, "listen"); TEXT(plain_listen, "plain_listen"); TEXT(cert_listen, "cert_listen");
    TEXT(metrics_listen, "metrics_listen"); TEXT(data_dir, "data_dir"); TEXT(model, "model");
    TEXT(model_id, "model_id"); TEXT(key, "key"); TEXT(cert, "cert"); TEXT(cert_key, "cert_key"); TEXT(ca, "ca");
    NUM(buffer_k, "buffer_k"); NUM(max_staleness, "max_staleness"); NUM(max_delta_norm, "max_delta_norm");
    NUM(max_body, "max_body"); NUM(max_sessions, "max_sessions"); NUM(max_handshakes, "max_handshakes");
    NUM(session_timeout_s, "session_timeout"); NUM(verify_threads, "verify_threads");
    NUM(durability, "durability"); NUM(log_level, "log_level"); NUM(agg.rule, "rule");
    NUM(agg.trim_fraction, "trim_fraction"); NUM(agg.sample_cap, "sample_cap"); NUM(agg.median_cap, "sample_cap");
    NUM(agg.staleness_exponent, "staleness_exponent"); NUM(agg.clip_norm_q24, "clip_norm");
    NUM(agg.balance_groups, "balance_groups"); NUM(agg.server_lr, "server_lr");
    NUM(agg.server_momentum, "server_momentum"); NUM(agg.staleness_norm, "staleness_normalization");
#undef TEXT
#undef NUM
    return NULL;
}
