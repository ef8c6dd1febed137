/*
 * `mfl device sync` and `mfl device relay`: a Linux-class device (or a
 * gateway) talking to the aggregator with the device library's own sync
 * (mfl/sync.h) on UDP, secured by its DTLS port (mfl/dtls_mbedtls.h) unless
 * --plain: the same code a microcontroller runs. Device state lives in a
 * directory: device.state is the device library's persistent state
 * (mfl/device_state.h) on the file storage port — update counters persisted
 * before use, the installed model in two slots, re-verified at start — and
 * residual.bin the error-feedback residual, replaced atomically once an
 * update is acknowledged.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>

#include <mbedtls/error.h>

#include "commands.h"
#include "mfl/cose.h"
#include "mfl/host/datagram_udp.h"
#include "mfl/device_state.h"
#include "mfl/dtls_mbedtls.h"
#include "mfl/host/features.h"
#include "mfl/host/host_io.h"
#include "mfl/host/keys.h"
#include "mfl/host/model_file.h"
#include "mfl/host/posix_platform.h"
#include "mfl/storage.h"
#include "mfl/sync.h"
#include "mfl/update_builder.h"

#define STATE_BYTES (64u * 1024u) /* two 4 KB journal sectors, two 28 KB model slots */
#define STATE_SECTOR 4096u

typedef struct {
    char host[256];
    uint16_t port;
    int plain;                   /* plain CoAP (test endpoints only) */
    char id[MFL_DEVICE_ID_MAX + 1];
    uint8_t psk[64];
    size_t psk_len;
    const char *cert, *cert_key, *ca;
    const char *agg_pub, *model, *key, *state;
    size_t samples;
    uint64_t seed;
    uint32_t top_k;
    int fetch_only;
    unsigned deadline_ms;        /* one request, all its attempts */
    int verbose;
} device_opts_t;

/* The link to the aggregator: UDP, and DTLS on it unless plain. */
typedef struct {
    mfl_datagram_udp_t udp;
    mfl_dtls_t dtls;
    int secured;
    mfl_datagram_port_t port;
} link_t;

/* A decimal number in 0..max, digits only (no sign, no spaces). */
static int parse_u64(const char *s, uint64_t max, uint64_t *v)
{
    char *end;
    errno = 0;
    const unsigned long long x = strtoull(s, &end, 10);
    if (!*s || *s < '0' || *s > '9' || *end || errno || x > max) {
        return -1;
    }
    *v = x;
    return 0;
}

/* Says which flag has which bad value and what it takes; returns the
 * usage exit status, 2. */
static int bad_value(const char *flag, const char *value, const char *takes)
{
    fprintf(stderr, "mfl device: %s '%s': %s\n", flag, value, takes);
    return 2;
}

static int parse_server(const char *s, device_opts_t *o)
{
    const char *colon = strrchr(s, ':');
    uint64_t port = 0;
    if (!colon || colon == s || (size_t)(colon - s) >= sizeof(o->host) || parse_u64(colon + 1, 65535, &port) ||
        port == 0) {
        return -1;
    }
    const int bracketed = s[0] == '[' && colon[-1] == ']'; /* [IPv6]:port */
    const size_t len = (size_t)(colon - s) - (bracketed ? 2u : 0u);
    memcpy(o->host, s + bracketed, len);
    o->host[len] = '\0';
    o->port = (uint16_t)port;
    return 0;
}

static int parse_seconds(const char *s, unsigned *ms)
{
    uint64_t v = 0;
    if (parse_u64(s, 86400, &v) || v == 0) {
        return -1;
    }
    *ms = (unsigned)v * 1000u;
    return 0;
}

static void state_path(const device_opts_t *o, const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", o->state, name);
}

static int link_open(const device_opts_t *o, link_t *k)
{
    const char *why = NULL;
    memset(k, 0, sizeof(*k));
    int err = mfl_datagram_udp_open(&k->port, &k->udp, o->host, o->port, &why);
    if (err) {
        fprintf(stderr, "mfl device: cannot reach %s:%u: %s\n", o->host, o->port, why ? why : mfl_strerror(err));
        return err;
    }
    if (o->plain) {
        return 0;
    }
    const mfl_dtls_config_t c = {k->port, (const uint8_t *)o->id, strlen(o->id), o->psk_len ? o->psk : NULL,
                                 o->psk_len, mfl_posix_clock_ms, mfl_posix_entropy, NULL, o->cert, o->cert_key,
                                 o->ca};
    err = mfl_dtls_init(&k->dtls, &c, &k->port);
    if (err) {
        fprintf(stderr, "mfl device: DTLS setup failed: %s\n", mfl_strerror(err));
        mfl_datagram_udp_close(&k->udp);
        return err;
    }
    k->secured = 1;
    return 0;
}

static void link_close(link_t *k)
{
    if (k->secured) {
        mfl_dtls_free(&k->dtls);
    }
    mfl_datagram_udp_close(&k->udp);
}

static double seconds_since(uint32_t t0)
{
    return (double)(mfl_posix_clock_ms() - t0) / 1e3;
}

/* Polls the sync's operation to its end, waiting on the socket in between;
 * gives up (cancels) at the deadline. */
static int run(const device_opts_t *o, mfl_sync_t *s, link_t *k, uint32_t started)
{
    uint8_t attempt = s->attempt;
    for (;;) {
        const uint32_t now = mfl_posix_clock_ms();
        const int rc = mfl_sync_poll(s, now);
        if (rc != MFL_SYNC_PENDING) {
            return rc;
        }
        if (o->verbose && s->attempt != attempt) {
            fprintf(stderr, "mfl device: attempt %u (the last one: %s)\n", s->attempt, mfl_strerror(s->last_error));
        }
        attempt = s->attempt;
        if (o->deadline_ms && now - started >= o->deadline_ms) {
            mfl_sync_cancel(s);
            return s->last_error ? s->last_error : MFL_ERR_COAP_TIMEOUT;
        }
        const int32_t until = (int32_t)(s->wake_ms - now);
        /* a handshake in progress retransmits on its own clock (1 s and up);
         * and the wait never runs past the deadline */
        uint32_t cap = k->secured && !k->dtls.up ? 250u : 60000u;
        if (o->deadline_ms && o->deadline_ms - (now - started) < cap) {
            cap = o->deadline_ms - (now - started);
        }
        mfl_datagram_udp_wait(&k->udp, until <= 0 ? 0u : (uint32_t)until < cap ? (uint32_t)until : cap);
    }
}

static void explain_failure(const device_opts_t *o, const char *what, const mfl_sync_t *s, const link_t *k, int err,
                            unsigned attempts, double secs)
{
    fprintf(stderr, "%s from %s:%u failed: %s after %u attempt%s in %.1f s (last answer %d.%02d)\n", what, o->host,
            o->port, mfl_strerror(err), attempts, attempts == 1 ? "" : "s", secs, s->response_code >> 5,
            s->response_code & 31);
    if (k->udp.unreachable) {
        fprintf(stderr, "  nothing listens at %s:%u (ICMP port unreachable, %u time%s)\n", o->host, o->port,
                k->udp.unreachable, k->udp.unreachable == 1 ? "" : "s");
    } else if (k->secured && !k->dtls.handshakes && k->dtls.last_error) {
        char text[160];
        mbedtls_strerror(k->dtls.last_error, text, sizeof(text));
        fprintf(stderr, "  no DTLS session could be set up: %s (wrong PSK or identity, unprovisioned or revoked "
                        "device, or a certificate the aggregator refuses)\n", text);
    }
}

/* GET the model; install it if it is newer than what the device runs. */
static int fetch_model(const device_opts_t *o, mfl_sync_t *s, link_t *k)
{
    const uint32_t t0 = mfl_posix_clock_ms();
    const unsigned a0 = s->stats.attempts;
    k->udp.unreachable = 0; /* what this request meets */
    int err = mfl_sync_fetch_model(s, t0);
    err = err ? err : run(o, s, k, t0);
    if (!err) {
        printf(s->outcome == MFL_SYNC_MODEL_INSTALLED ? "model: installed version %llu\n"
                                                       : "model: version %llu is current\n",
               (unsigned long long)s->version);
    } else if (err <= MFL_ERR_COAP_FORMAT && err >= MFL_ERR_DTLS_PEER) {
        explain_failure(o, "mfl device: GET model", s, k, err, s->stats.attempts - a0, seconds_since(t0));
    } else {
        fprintf(stderr, "mfl device: model refused: %s\n", mfl_strerror(err));
    }
    return err;
}

/* The bytes of a diagnostic, with anything that is not printable ASCII as
 * \xNN (a terminal must not take a server's bytes for escape codes). */
static void printable(const uint8_t *b, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        if (b[i] >= 0x20 && b[i] < 0x7F && b[i] != '\\') {
            *out++ = (char)b[i];
        } else {
            *out++ = '\\', *out++ = 'x', *out++ = hex[b[i] >> 4], *out++ = hex[b[i] & 15];
        }
    }
    *out = '\0';
}

/* Posts the update (built by the sync, or signed elsewhere when relayed)
 * and says what the aggregator answered; 0 only when it is stored. */
static int post_update(const device_opts_t *o, mfl_sync_t *s, link_t *k, const char *who, int relayed,
                       size_t len, uint64_t counter)
{
    const uint32_t t0 = mfl_posix_clock_ms();
    const unsigned a0 = s->stats.attempts;
    k->udp.unreachable = 0; /* what this request meets */
    int err = relayed ? mfl_sync_post_signed(s, len, counter, t0) : mfl_sync_send_update(s, t0);
    err = err ? err : run(o, s, k, t0);
    const unsigned attempts = s->stats.attempts - a0;
    if (s->counter_used) {
        fprintf(stderr, "%s: counter %llu not stored: the aggregator's last counter for %s is %llu\n", who,
                (unsigned long long)s->counter_used, o->id, (unsigned long long)s->aggregator_last);
    }
    const mfl_receipt_t *r = &s->receipt;
    if (!err) {
        printf("%s: counter %llu %s (aggregator at version %llu; %u attempt%s, %.1f s)\n", who,
               (unsigned long long)s->counter, r->status == MFL_RECEIPT_ACCEPTED ? "accepted" : "already counted",
               (unsigned long long)r->model_version, attempts, attempts == 1 ? "" : "s", seconds_since(t0));
    } else if (err == MFL_ERR_SYNC_STALE && r->model_version) {
        fprintf(stderr, "%s: counter %llu not stored: stale (the aggregator is at version %llu; fetch the model "
                        "and learn again)\n", who, (unsigned long long)s->counter, (unsigned long long)r->model_version);
    } else if (err == MFL_ERR_SYNC_STALE) {
        fprintf(stderr, "%s: counter %llu not stored: stale (fetch the model and learn again)\n", who,
                (unsigned long long)s->counter);
    } else if (err == MFL_ERR_SYNC_REFUSED) { /* the server's code and its text */
        char text[sizeof(s->response) * 4 + 1];
        printable(s->response, s->x.response_len < sizeof(s->response) ? s->x.response_len : 0, text);
        fprintf(stderr, "%s: counter %llu refused: code %d.%02d %s\n", who, (unsigned long long)s->counter,
                s->response_code >> 5, s->response_code & 31, text);
    } else if (err == MFL_ERR_SYNC_RECEIPT) {
        fprintf(stderr, "%s: counter %llu: answer %d.%02d, but %s; the update is not taken as stored\n", who,
                (unsigned long long)s->counter, s->response_code >> 5, s->response_code & 31, mfl_strerror(err));
    } else if (err == MFL_ERR_BUFFER_TOO_SMALL && attempts) {
        fprintf(stderr, "%s: counter %llu sent, but the aggregator's answer is larger than %zu bytes; the update is "
                        "not taken as stored\n", who, (unsigned long long)s->counter, sizeof(s->response));
    } else if (err <= MFL_ERR_COAP_FORMAT && err >= MFL_ERR_DTLS_PEER) {
        fprintf(stderr, "%s: counter %llu not delivered\n", who, (unsigned long long)s->counter);
        explain_failure(o, "  POST update", s, k, err, attempts, seconds_since(t0));
    } else {
        fprintf(stderr, "%s: no update sent: %s\n", who, mfl_strerror(err));
    }
    return err;
}

static mfl_sync_config_t sync_config(const device_opts_t *o, const link_t *k)
{
    mfl_sync_config_t c = mfl_sync_default_config();
    c.port = k->port;
    c.device_id = (const uint8_t *)o->id;
    c.device_id_len = strlen(o->id);
    c.max_attempts = 7;
    /* 1,024-byte blocks: a UDP host's datagrams carry them whole, and on a
     * lossy link each block is a round trip that may be lost (a 2.7 KB
     * update: three instead of eleven) */
    c.coap.szx = 6;
    mfl_posix_entropy(NULL, (unsigned char *)&c.seed, sizeof(c.seed));
    return c;
}

/* The committed residual, or zeros if there is none yet (or it does not
 * fit this head). */
static void load_residual(const char *path, int32_t *residual, size_t n)
{
    uint8_t *data = NULL;
    size_t len = 0;
    memset(residual, 0, n * sizeof(int32_t));
    if (mfl_read_file(path, &data, &len) == 0 && len == n * sizeof(int32_t)) {
        memcpy(residual, data, len);
    }
    free(data);
}

/* Learns the device's share of the Fashion-MNIST training set. */
static int learn(const device_opts_t *o, mfl_learner_t *l, char *msg, size_t cap)
{
    mfl_dataset_t train;
    int err = mfl_fmnist_load(NULL, 1, &train, msg, cap);
    int8_t in[784];
    for (size_t i = 0; !err && i < o->samples; i++) {
        const size_t s = (size_t)((o->seed * 7919u + i * 104729u) % train.n);
        mfl_image_to_input(train.images + s * 784, 784, in);
        err = mfl_learner_learn(l, in, 784, train.labels[s]);
    }
    mfl_dataset_free(&train);
    return err;
}

/* Fetch, learn, send: the device library's sync, start to end. */
static int exchange(const device_opts_t *o, mfl_state_t *st, mfl_learner_t *l, const mfl_es256_private_t *key,
                    const mfl_es256_public_t *agg, uint64_t version, link_t *k)
{
    char path[1024], msg[1400] = "";
    const size_t n = (size_t)l->head.units * (l->head.features + 1u);
    mfl_sync_config_t c = sync_config(o, k);
    c.learner = l;
    c.state = st;
    c.aggregator = agg;
    c.key = key;
    c.top_k = o->top_k;
    c.version = version;
    c.model_cap = mfl_sync_model_max_size(l);
    c.update_cap = mfl_update_max_size(l, c.device_id_len);
    c.work_size = (mfl_update_work_size(l, o->top_k) + 7u) & ~(size_t)7u;
    c.residual = calloc(n, sizeof(int32_t));
    c.residual_work = calloc(n, sizeof(int32_t));
    c.model_buf = malloc(c.model_cap);
    c.update_buf = malloc(c.update_cap);
    c.work = aligned_alloc(8, c.work_size);
    mfl_sync_t *s = malloc(sizeof(*s));
    int err = c.residual && c.residual_work && c.model_buf && c.update_buf && c.work && s ? 0 : MFL_ERR_NO_MEMORY;
    state_path(o, "residual.bin", path, sizeof(path));
    if (!err) {
        load_residual(path, c.residual, n);
        err = mfl_sync_init(s, &c);
    }
    err = err ? err : fetch_model(o, s, k);
    if (!err && !o->fetch_only && o->samples && (err = learn(o, l, msg, sizeof(msg))) != 0) {
        fprintf(stderr, "mfl device: %s\n", msg[0] ? msg : mfl_strerror(err));
    }
    if (!err && !o->fetch_only) {
        err = post_update(o, s, k, "update", 0, 0, 0);
        /* only now is the residual committed */
        if (!err && (err = mfl_write_file(path, c.residual, n * sizeof(int32_t))) != 0) {
            fprintf(stderr, "mfl device: the update is stored, but its residual could not be written to %s: %s "
                            "(the next update carries this one's rounding again)\n", path, strerror(errno));
        }
    }
    free(c.residual), free(c.residual_work), free(c.model_buf), free(c.update_buf), free(c.work), free(s);
    return err;
}

static int sync_device(device_opts_t *o)
{
    char msg[1400] = "", path[1024];
    uint8_t *image = NULL, *stored = malloc(STATE_BYTES / 2);
    size_t size;
    mfl_model_t model;
    mfl_es256_private_t key;
    mfl_es256_public_t agg;
    int err = mfl_key_load_private(o->key, &key);
    if (err) {
        snprintf(msg, sizeof(msg), "cannot read the device key %s: %s", o->key,
                 err == MFL_ERR_IO ? strerror(errno) : mfl_strerror(err));
    } else if ((err = mfl_key_load_public(o->agg_pub, &agg)) != 0) {
        snprintf(msg, sizeof(msg), "cannot read the aggregator's public key %s: %s", o->agg_pub,
                 err == MFL_ERR_IO ? strerror(errno) : mfl_strerror(err));
    }
    err = err ? err : mfl_model_file_read(o->model, &image, &size, msg, sizeof(msg));
    err = err ? err : mfl_model_load(&model, image, size);
    mfl_storage_t storage = {0};
    mfl_state_t st;
    state_path(o, "device.state", path, sizeof(path));
    if (!err && (err = mfl_storage_file_open(&storage, path, STATE_BYTES, STATE_SECTOR)) == MFL_ERR_IO) {
        snprintf(msg, sizeof(msg), "cannot open the device state %s: %s", path, strerror(errno));
    }
    err = err ? err : mfl_state_open(&st, &storage);
    err = err ? err : stored ? 0 : MFL_ERR_NO_MEMORY;
    if (err) {
        fprintf(stderr, "mfl device: %s\n", msg[0] ? msg : mfl_strerror(err));
        mfl_storage_file_close(&storage);
        free(image), free(stored);
        return 1;
    }
    const size_t mem_size = mfl_learner_mem_size(&model, 128, 8);
    uint8_t *arena = malloc(mfl_model_arena_size(&model)), *mem = aligned_alloc(8, (mem_size + 8) & ~(size_t)7);
    mfl_learner_t l;
    uint64_t version = 1;
    err = mfl_learner_init(&l, &model, arena, mfl_model_arena_size(&model), mem, mem_size, 128, NULL);
    if (!err) { /* the model installed last time, verified again */
        uint64_t restored = 0;
        const int r = mfl_state_restore(&st, &l, &agg, stored, STATE_BYTES / 2, &restored);
        err = r == MFL_ERR_NO_MODEL ? 0 : r;
        version = restored ? restored : version;
    }
    link_t k;
    if (err) {
        fprintf(stderr, "mfl device sync: %s\n", mfl_strerror(err));
    } else if (!(err = link_open(o, &k))) {
        err = exchange(o, &st, &l, &key, &agg, version, &k);
        link_close(&k);
    }
    memset(&key, 0, sizeof(key));
    mfl_storage_file_close(&storage);
    free(image), free(arena), free(mem), free(stored);
    return err ? 1 : 0;
}

/* A relay cannot re-sign: every answer but "stored" is final for it. */
static int relay(device_opts_t *o, const char *file)
{
    uint8_t *msg = NULL;
    size_t len = 0;
    mfl_cose_sign1_t c;
    mfl_update_t u;
    char who[1100];
    int err = mfl_read_file(file, &msg, &len);
    err = err ? err : mfl_cose_sign1_decode(msg, len, &c);
    err = err ? err : mfl_update_decode(c.payload, c.payload_len, 0, 0, &u);
    if (err) {
        fprintf(stderr, "mfl device relay: %s: %s\n", file, mfl_strerror(err));
        free(msg);
        return 1;
    }
    snprintf(who, sizeof(who), "relayed %s", file);
    link_t k;
    mfl_sync_t *s = malloc(sizeof(*s));
    err = s ? link_open(o, &k) : MFL_ERR_NO_MEMORY;
    if (!err) {
        mfl_sync_config_t cfg = sync_config(o, &k);
        cfg.update_buf = msg;
        cfg.update_cap = len;
        err = mfl_sync_init(s, &cfg);
        err = err ? err : post_update(o, s, &k, who, 1, len, u.counter);
        link_close(&k);
    }
    free(msg), free(s);
    return err ? 1 : 0;
}

int mfl_cmd_device(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"server", required_argument, 0, 'S'}, {"id", required_argument, 0, 'i'}, {"psk", required_argument, 0, 'k'},
        {"agg-pub", required_argument, 0, 'a'}, {"model", required_argument, 0, 'm'},
        {"key", required_argument, 0, 'K'}, {"state", required_argument, 0, 's'},
        {"samples", required_argument, 0, 'n'}, {"seed", required_argument, 0, 'e'},
        {"top-k", required_argument, 0, 't'}, {"fetch-only", no_argument, 0, 'f'},
        {"plain", no_argument, 0, 'p'}, {"cert", required_argument, 0, 'c'},
        {"cert-key", required_argument, 0, 'C'}, {"ca", required_argument, 0, 'A'},
        {"timeout", required_argument, 0, 'T'}, {"verbose", no_argument, 0, 'v'},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    device_opts_t o;
    memset(&o, 0, sizeof(o));
    o.deadline_ms = 300000;
    o.samples = 100;
    o.seed = 1;
    const char *verb = argc > 1 ? argv[1] : "";
    int c, bad = 0;
    uint64_t num = 0;
    optind = 1;
    while ((c = getopt_long(argc - 1, argv + 1, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'S':
            if (parse_server(optarg, &o)) {
                return bad_value("--server", optarg, "expected HOST:PORT (a name, IPv4, or [IPv6]; port 1..65535)");
            }
            break;
        case 'i':
            if (!*optarg || strlen(optarg) > MFL_DEVICE_ID_MAX) {
                return bad_value("--id", optarg, "a device id is 1 to 64 bytes");
            }
            snprintf(o.id, sizeof(o.id), "%s", optarg);
            break;
        case 'k':
            if (mfl_hex_decode(optarg, o.psk, sizeof(o.psk), &o.psk_len) || !o.psk_len) {
                return bad_value("--psk", optarg, "expected 1 to 64 bytes in hex (an even number of digits)");
            }
            break;
        case 'a': o.agg_pub = optarg; break;
        case 'm': o.model = optarg; break;
        case 'K': o.key = optarg; break;
        case 's': o.state = optarg; break;
        case 'n':
            if (parse_u64(optarg, 10000000, &num)) {
                return bad_value("--samples", optarg, "expected a whole number of images, 0..10000000");
            }
            o.samples = (size_t)num;
            break;
        case 'e':
            if (parse_u64(optarg, UINT64_MAX, &o.seed)) {
                return bad_value("--seed", optarg, "expected a whole number");
            }
            break;
        case 't':
            if (parse_u64(optarg, UINT32_MAX, &num)) {
                return bad_value("--top-k", optarg, "expected a whole number of entries (0: dense)");
            }
            o.top_k = (uint32_t)num;
            break;
        case 'f': o.fetch_only = 1; break;
        case 'p': o.plain = 1; break;
        case 'c': o.cert = optarg; break;
        case 'C': o.cert_key = optarg; break;
        case 'A': o.ca = optarg; break;
        case 'T':
            if (parse_seconds(optarg, &o.deadline_ms)) {
                return bad_value("--timeout", optarg, "expected seconds, 1..86400");
            }
            break;
        case 'v': o.verbose = 1; break;
        default: bad = 1; break;
        }
    }
    if (!bad && (!o.cert != !o.cert_key || !o.cert != !o.ca)) {
        fprintf(stderr, "mfl device: --cert, --cert-key and --ca go together\n");
        return 2;
    }
    if (!bad && (!strcmp(verb, "sync") || !strcmp(verb, "relay")) && !o.port) {
        fprintf(stderr, "mfl device %s: --server HOST:PORT is required\n", verb);
        return 2;
    }
    if (!bad && (!strcmp(verb, "sync") || !strcmp(verb, "relay")) && !o.plain && !o.cert && !o.psk_len) {
        fprintf(stderr, "mfl device %s: DTLS needs a key: --psk HEX, or --cert/--cert-key/--ca (or --plain for a "
                        "test endpoint)\n", verb);
        return 2;
    }
    const int sync_ok = !strcmp(verb, "sync") && o.id[0] && o.agg_pub && o.model && o.key && o.state;
    const int relay_ok = !strcmp(verb, "relay") && o.id[0] && optind + 1 == argc - 1;
    if (bad || (!sync_ok && !relay_ok)) {
        fprintf(stderr,
                "usage: mfl device sync --server HOST:PORT --id ID --psk HEX --agg-pub AGG.pub --model BASE.mfl\n"
                "                       --key DEVICE.key --state DIR [--samples N] [--seed N] [--top-k K] [--fetch-only]\n"
                "       mfl device relay --server HOST:PORT --id ID --psk HEX UPDATE.cose\n"
                "  (instead of --psk: --cert DEV.pem --cert-key DEV.key --ca CA.pem, certificate CN = device id)\n"
                "  --timeout S: give up a request after S seconds in all (default 300); --verbose: say why it retries\n"
                "sync: fetch and install a newer signed model, learn N labelled images, send the signed update\n"
                "(retries with backoff and jitter; each update gets a new counter, persisted before it is signed;\n"
                "if the aggregator says the counter was used, the device moves past its last counter and resends).\n"
                "relay: post a signed update produced elsewhere (a firmware image, a gateway queue).\n"
                "Exit 0 only when the aggregator stored the update (accepted, or already counted).\n");
        return 2;
    }
    return sync_ok ? sync_device(&o) : relay(&o, argv[argc - 1]);
}
