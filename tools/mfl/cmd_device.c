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
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/error.h>

#include "cli.h"
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
    const cli_t *cli;            /* "mfl device sync" or "mfl device relay": every message's prefix */
    const char *server;          /* --server as given */
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

/* The link to the aggregator: UDP, and DTLS on it unless plain. Between
 * the socket and the rest sits a counter of what comes back, so that a
 * failure can say whether the aggregator answered anything at all. */
typedef struct {
    mfl_datagram_udp_t udp;
    mfl_datagram_port_t socket;  /* the UDP port itself */
    mfl_datagram_port_t counted; /* the socket, its datagrams counted */
    uint32_t received;           /* datagrams from the aggregator in this request (handshakes included) */
    mfl_dtls_t dtls;
    int secured;
    mfl_datagram_port_t port;    /* what the sync talks to: DTLS on counted, or counted */
} link_t;

/* HOST:PORT, [IPv6]:PORT; the name is resolved when the link opens.
 * Returns 0 or -1. */
static int parse_server(const char *s, device_opts_t *o)
{
    const char *colon = strrchr(s, ':');
    uint64_t port = 0;
    if (!colon || colon == s || (size_t)(colon - s) >= sizeof(o->host) || mfl_parse_u64(colon + 1, 1, 65535, &port)) {
        return -1;
    }
    const int bracketed = s[0] == '[' && colon[-1] == ']'; /* [IPv6]:port */
    const size_t len = (size_t)(colon - s) - (bracketed ? 2u : 0u);
    if (len == 0 || (!bracketed && memchr(s, ':', (size_t)(colon - s)))) {
        return -1; /* an IPv6 address needs its brackets: "::1:5684" is ambiguous */
    }
    memcpy(o->host, s + bracketed, len);
    o->host[len] = '\0';
    o->port = (uint16_t)port;
    return 0;
}

/* The PSK from a file ("-": standard input) holding it in hex (white
 * space around it is ignored), so that it need not be in argv, where any
 * local user sees it. Returns 0 or CLI_FAILED (the file, or what it
 * holds), said. */
static int read_psk_file(const cli_t *c, const char *path, device_opts_t *o)
{
    uint8_t *data = NULL;
    size_t len = 0;
    const int stdin_ = !strcmp(path, "-");
    int err = stdin_ ? mfl_read_fd(0, &data, &len) : mfl_read_file(path, &data, &len);
    if (err) {
        return err == MFL_ERR_IO ? cli_fail(c, "--psk-file %s: %s", stdin_ ? "- (standard input)" : path,
                                            strerror(errno))
                                 : cli_fail(c, "--psk-file %s: %s", path, mfl_strerror(err));
    }
    data[len] = '\0'; /* mfl_read_file leaves a spare byte */
    const int bad = strlen((char *)data) != len || mfl_hex_decode(mfl_trim((char *)data), o->psk, sizeof(o->psk),
                                                                  &o->psk_len) != 0;
    memset(data, 0, len);
    free(data);
    if (bad) {
        return cli_fail(c, "--psk-file %s: expected 1 to %zu bytes in hex (an even number of digits)",
                        stdin_ ? "-" : path, sizeof(o->psk));
    }
    return 0;
}

static void state_path(const device_opts_t *o, const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", o->state, name);
}

static int counted_send(void *ctx, const uint8_t *datagram, size_t len)
{
    link_t *k = ctx;
    return k->socket.send(k->socket.ctx, datagram, len);
}

static int counted_receive(void *ctx, uint8_t *buf, size_t cap)
{
    link_t *k = ctx;
    const int n = k->socket.receive(k->socket.ctx, buf, cap);
    k->received += n > 0 ? 1u : 0u;
    return n;
}

static void counted_reset(void *ctx)
{
    link_t *k = ctx;
    if (k->socket.reset) {
        k->socket.reset(k->socket.ctx);
    }
}

/* Resolves and connects; k must stay where it is while open (the ports
 * point into it). Returns 0 or CLI_FAILED, said. */
static int link_open(const device_opts_t *o, link_t *k)
{
    const cli_t *c = o->cli;
    const char *why = NULL;
    memset(k, 0, sizeof(*k));
    int err = mfl_datagram_udp_open(&k->socket, &k->udp, o->host, o->port, &why);
    if (err) {
        return cli_fail(c, "address error: --server '%s': cannot resolve or connect to '%s': %s", o->server, o->host,
                        why ? why : mfl_strerror(err));
    }
    k->counted = (mfl_datagram_port_t){counted_send, counted_receive, counted_reset, k};
    k->port = k->counted;
    if (o->plain) {
        return 0;
    }
    const mfl_dtls_config_t d = {k->counted, (const uint8_t *)o->id, strlen(o->id), o->psk_len ? o->psk : NULL,
                                 o->psk_len, mfl_posix_clock_ms, mfl_posix_entropy, NULL, o->cert, o->cert_key,
                                 o->ca};
    err = mfl_dtls_init(&k->dtls, &d, &k->port);
    if (err) {
        char text[160] = "";
        if (k->dtls.last_error) {
            mbedtls_strerror(k->dtls.last_error, text, sizeof(text));
        }
        mfl_datagram_udp_close(&k->udp);
        return o->cert ? cli_fail(c, "cannot use --cert %s, --cert-key %s or --ca %s: %s", o->cert, o->cert_key, o->ca,
                                  text[0] ? text : mfl_strerror(err))
                       : cli_fail(c, "DTLS setup failed: %s", text[0] ? text : mfl_strerror(err));
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
 * gives up (cancels) at the deadline, and says so in *gave_up. */
static int run(const device_opts_t *o, mfl_sync_t *s, link_t *k, uint32_t started, int *gave_up)
{
    uint8_t attempt = s->attempt;
    *gave_up = 0;
    for (;;) {
        const uint32_t now = mfl_posix_clock_ms();
        const int rc = mfl_sync_poll(s, now);
        if (rc != MFL_SYNC_PENDING) {
            return rc;
        }
        if (o->verbose && s->attempt != attempt) {
            fprintf(stderr, "%s: attempt %u (the last one: %s)\n", o->cli->name, s->attempt,
                    mfl_strerror(s->last_error));
        }
        attempt = s->attempt;
        if (o->deadline_ms && now - started >= o->deadline_ms) {
            mfl_sync_cancel(s);
            *gave_up = 1;
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

/* Whether the DTLS handshake got as far as our Finished and then met
 * silence: the aggregator answered every flight before it, so it is there
 * and knows the identity, but it could not check our Finished — a wrong
 * PSK (OpenSSL drops what it cannot decrypt). The DTLS port itself calls
 * this a refusal only the second time in a row (a lossy link can lose a
 * last flight five times), which takes minutes; a caller's deadline may
 * come first. */
static int finished_unanswered(const link_t *k)
{
    return k->secured && !k->dtls.up &&
           (k->dtls.silent_finishes > 0 ||
            (k->dtls.started && k->dtls.ssl.state >= MBEDTLS_SSL_SERVER_CHANGE_CIPHER_SPEC));
}

/* Why a request got no usable answer from the link — a refused handshake,
 * no answer (and whether anything listens), the aggregator busy — most
 * specific first. */
static void explain_link(const device_opts_t *o, const char *what, const mfl_sync_t *s, const link_t *k, int err,
                         unsigned attempts, double secs, int gave_up)
{
    const char *name = o->cli->name, *plural = attempts == 1 ? "" : "s";
    char text[160] = "";
    if (k->secured && k->dtls.last_error) {
        mbedtls_strerror(k->dtls.last_error, text, sizeof(text));
    }
    if (err == MFL_ERR_DTLS_PEER) {
        fprintf(stderr, "%s: %s: handshake refused: the certificate of %s:%u does not verify against --ca %s (%s)\n",
                name, what, o->host, o->port, o->ca, text);
    } else if (err == MFL_ERR_DTLS_REFUSED && o->cert) {
        fprintf(stderr, "%s: %s: handshake refused by %s:%u: it does not accept the certificate %s for device '%s' "
                        "(a CN it has not provisioned, or revoked)\n", name, what, o->host, o->port, o->cert, o->id);
    } else if ((err == MFL_ERR_DTLS_REFUSED && k->dtls.last_error == MBEDTLS_ERR_SSL_TIMEOUT) ||
               (err != MFL_ERR_DTLS_REFUSED && finished_unanswered(k))) {
        fprintf(stderr, "%s: %s: handshake refused by %s:%u: it answered the handshake but never accepted its end "
                        "(our Finished)%s the PSK is wrong for identity '%s'\n", name, what, o->host, o->port,
                err == MFL_ERR_DTLS_REFUSED ? ", twice:" : ": most likely", o->id);
    } else if (err == MFL_ERR_DTLS_REFUSED) {
        fprintf(stderr, "%s: %s: handshake refused by %s:%u (a fatal alert): it does not know identity '%s' (not "
                        "provisioned, or revoked) or refuses its PSK\n", name, what, o->host, o->port, o->id);
    } else if (err == MFL_ERR_SYNC_UNAVAILABLE) {
        fprintf(stderr, "%s: %s: the aggregator at %s:%u is unavailable: it answered %d.%02d to %u attempt%s in %.1f s "
                        "(busy or shutting down; try again later)\n", name, what, o->host, o->port,
                s->response_code >> 5, s->response_code & 31, attempts, plural, secs);
    } else if (k->udp.unreachable) {
        fprintf(stderr, "%s: %s: timeout: no answer from %s:%u in %.1f s (%u attempt%s): nothing listens there "
                        "(ICMP port unreachable, %u time%s); is the aggregator running, on that port?\n", name, what,
                o->host, o->port, secs, attempts, plural, k->udp.unreachable, k->udp.unreachable == 1 ? "" : "s");
    } else if (!k->received) {
        fprintf(stderr, "%s: %s: timeout: no answer from %s:%u in %.1f s (%u attempt%s): the aggregator is down or "
                        "out of reach, or a firewall drops the datagrams\n", name, what, o->host, o->port, secs,
                attempts, plural);
    } else if (k->secured && !k->dtls.handshakes) {
        fprintf(stderr, "%s: %s: timeout: %s:%u answered, but no DTLS session was set up in %.1f s (%u attempt%s%s%s)"
                        "\n", name, what, o->host, o->port, secs, attempts, plural, text[0] ? "; " : "", text);
    } else if (err == MFL_ERR_COAP_RESET) {
        fprintf(stderr, "%s: %s: %s:%u reset the request (CoAP RST) %u time%s: is it an aggregator?\n", name, what,
                o->host, o->port, attempts, plural);
    } else {
        fprintf(stderr, "%s: %s: timeout: %s:%u did not answer the request in %.1f s (%u attempt%s): %s\n", name,
                what, o->host, o->port, secs, attempts, plural, mfl_strerror(err));
    }
    if (gave_up) {
        fprintf(stderr, "  (gave up at the --timeout of %u s)\n", o->deadline_ms / 1000u);
    }
}

/* Whether err is the link's: no answer, a refused session, a busy server. */
static int link_error(int err)
{
    return err == MFL_ERR_COAP_TIMEOUT || err == MFL_ERR_COAP_RESET || err == MFL_ERR_COAP_BLOCK ||
           err == MFL_ERR_COAP_FORMAT || err == MFL_ERR_DTLS_REFUSED || err == MFL_ERR_DTLS_PEER ||
           err == MFL_ERR_SYNC_UNAVAILABLE || err == MFL_ERR_IO;
}

/* GET the model; install it if it is newer than what the device runs. */
static int fetch_model(const device_opts_t *o, mfl_sync_t *s, link_t *k)
{
    const char *name = o->cli->name;
    const uint32_t t0 = mfl_posix_clock_ms();
    const unsigned a0 = s->stats.attempts;
    int gave_up = 0;
    k->udp.unreachable = 0; /* what this request meets */
    k->received = 0;
    int err = mfl_sync_fetch_model(s, t0);
    err = err ? err : run(o, s, k, t0, &gave_up);
    if (!err) {
        printf(s->outcome == MFL_SYNC_MODEL_INSTALLED ? "model: installed version %llu\n"
                                                       : "model: version %llu is current\n",
               (unsigned long long)s->version);
    } else if (link_error(err)) {
        explain_link(o, "GET model", s, k, err, s->stats.attempts - a0, seconds_since(t0), gave_up);
    } else if (err == MFL_ERR_SYNC_REFUSED) { /* the aggregator's code and its text */
        char text[4 * 256 + 1];
        const size_t n = s->x.response_len < 256 ? s->x.response_len : 256;
        fprintf(stderr, "%s: model refused by %s:%u: code %d.%02d %s\n", name, o->host, o->port,
                s->response_code >> 5, s->response_code & 31, cli_printable(s->cfg.model_buf, n, text, sizeof(text)));
    } else if (err == MFL_ERR_COSE_SIGNATURE || err == MFL_ERR_COSE_KID) {
        fprintf(stderr, "%s: model refused: %s: the model from %s:%u is not signed by the key in --agg-pub %s\n",
                name, mfl_strerror(err), o->host, o->port, o->agg_pub);
    } else if (err == MFL_ERR_BUFFER_TOO_SMALL) {
        fprintf(stderr, "%s: model refused: the model message from %s:%u is larger than one for this head (%zu "
                        "bytes): is --model %s the aggregator's base model?\n", name, o->host, o->port,
                s->cfg.model_cap, o->model);
    } else if (err == MFL_ERR_PROTO_DIMENSION) {
        fprintf(stderr, "%s: model refused: %s: its head does not fit --model %s (another base model?)\n", name,
                mfl_strerror(err), o->model);
    } else {
        fprintf(stderr, "%s: model refused: %s\n", name, mfl_strerror(err));
    }
    return err;
}

/* Posts the update (built by the sync, or signed elsewhere when relayed)
 * and says what the aggregator answered; 0 only when it is stored. */
static int post_update(const device_opts_t *o, mfl_sync_t *s, link_t *k, const char *who, int relayed,
                       size_t len, uint64_t counter)
{
    const char *name = o->cli->name;
    const uint32_t t0 = mfl_posix_clock_ms();
    const unsigned a0 = s->stats.attempts;
    int gave_up = 0;
    k->udp.unreachable = 0; /* what this request meets */
    k->received = 0;
    int err = relayed ? mfl_sync_post_signed(s, len, counter, t0) : mfl_sync_send_update(s, t0);
    err = err ? err : run(o, s, k, t0, &gave_up);
    const unsigned attempts = s->stats.attempts - a0;
    if (s->counter_used) {
        fprintf(stderr, "%s: %s: counter %llu not stored: the aggregator's last counter for %s is %llu\n", name, who,
                (unsigned long long)s->counter_used, o->id, (unsigned long long)s->aggregator_last);
    }
    const mfl_receipt_t *r = &s->receipt;
    if (!err) {
        printf("%s: counter %llu %s (aggregator at version %llu; %u attempt%s, %.1f s)\n", who,
               (unsigned long long)s->counter, r->status == MFL_RECEIPT_ACCEPTED ? "accepted" : "already counted",
               (unsigned long long)r->model_version, attempts, attempts == 1 ? "" : "s", seconds_since(t0));
    } else if (err == MFL_ERR_SYNC_STALE && r->model_version) {
        fprintf(stderr, "%s: %s: counter %llu not stored: stale (the aggregator is at version %llu; fetch the model "
                        "and learn again)\n", name, who, (unsigned long long)s->counter,
                (unsigned long long)r->model_version);
    } else if (err == MFL_ERR_SYNC_STALE) {
        fprintf(stderr, "%s: %s: counter %llu not stored: stale (fetch the model and learn again)\n", name, who,
                (unsigned long long)s->counter);
    } else if (err == MFL_ERR_SYNC_REFUSED) { /* the server's code and its text */
        char text[sizeof(s->response) * 4 + 1];
        cli_printable(s->response, s->x.response_len < sizeof(s->response) ? s->x.response_len : 0, text,
                      sizeof(text));
        fprintf(stderr, "%s: %s: counter %llu refused: code %d.%02d %s\n", name, who, (unsigned long long)s->counter,
                s->response_code >> 5, s->response_code & 31, text);
    } else if (err == MFL_ERR_SYNC_RECEIPT) {
        fprintf(stderr, "%s: %s: counter %llu: answer %d.%02d, but %s; the update is not taken as stored\n", name,
                who, (unsigned long long)s->counter, s->response_code >> 5, s->response_code & 31, mfl_strerror(err));
    } else if (err == MFL_ERR_BUFFER_TOO_SMALL && attempts) {
        fprintf(stderr, "%s: %s: counter %llu sent, but the aggregator's answer is larger than %zu bytes; the update "
                        "is not taken as stored\n", name, who, (unsigned long long)s->counter, sizeof(s->response));
    } else if (link_error(err)) {
        char what[1200];
        snprintf(what, sizeof(what), "%s: counter %llu not delivered", who, (unsigned long long)s->counter);
        explain_link(o, what, s, k, err, attempts, seconds_since(t0), gave_up);
    } else {
        fprintf(stderr, "%s: %s: no update sent: %s\n", name, who, mfl_strerror(err));
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

/* Learns the device's share of the Fashion-MNIST training set. Returns 0
 * or an error, said. */
static int learn(const device_opts_t *o, mfl_learner_t *l)
{
    mfl_dataset_t train;
    if (cli_load_fmnist(o->cli, NULL, 1, &train)) {
        return MFL_ERR_IO;
    }
    int err = 0;
    int8_t in[784];
    for (size_t i = 0; !err && i < o->samples; i++) {
        const size_t s = (size_t)((o->seed * 7919u + i * 104729u) % train.n);
        mfl_image_to_input(train.images + s * 784, 784, in);
        err = mfl_learner_learn(l, in, 784, train.labels[s]);
    }
    mfl_dataset_free(&train);
    if (err) {
        cli_fail(o->cli, "learning failed: %s", mfl_strerror(err));
    }
    return err;
}

/* Fetch, learn, send: the device library's sync, start to end. */
static int exchange(const device_opts_t *o, mfl_state_t *st, mfl_learner_t *l, const mfl_es256_private_t *key,
                    const mfl_es256_public_t *agg, uint64_t version, link_t *k)
{
    char path[1024];
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
    if (err) {
        cli_fail(o->cli, "%s", mfl_strerror(err));
    }
    err = err ? err : fetch_model(o, s, k);
    if (!err && !o->fetch_only && o->samples) {
        err = learn(o, l);
    }
    if (!err && !o->fetch_only) {
        err = post_update(o, s, k, "update", 0, 0, 0);
        /* only now is the residual committed */
        if (!err && (err = mfl_write_file(path, c.residual, n * sizeof(int32_t))) != 0) {
            cli_fail(o->cli, "the update is stored, but its residual could not be written to %s: %s (the next "
                             "update carries this one's rounding again)", path, strerror(errno));
        }
    }
    free(c.residual), free(c.residual_work), free(c.model_buf), free(c.update_buf), free(c.work), free(s);
    return err;
}

/* Keys, model and state, every one before the network: a missing file is
 * named with its reason. Returns 0 or CLI_FAILED, said. */
static int load_device(const device_opts_t *o, mfl_es256_private_t *key, mfl_es256_public_t *agg, uint8_t **image,
                       mfl_model_t *model, mfl_storage_t *storage, mfl_state_t *st)
{
    const cli_t *c = o->cli;
    char path[1024];
    size_t size;
    int err = mfl_key_load_private(o->key, key);
    if (err) {
        return cli_fail(c, "cannot read the device key %s: %s", o->key,
                        err == MFL_ERR_IO ? strerror(errno) : mfl_strerror(err));
    }
    if ((err = mfl_key_load_public(o->agg_pub, agg)) != 0) {
        return cli_fail(c, "cannot read the aggregator's public key %s: %s", o->agg_pub,
                        err == MFL_ERR_IO ? strerror(errno) : mfl_strerror(err));
    }
    if (cli_load_model(c, o->model, image, &size, model)) {
        return CLI_FAILED;
    }
    state_path(o, "device.state", path, sizeof(path));
    if ((err = mfl_storage_file_open(storage, path, STATE_BYTES, STATE_SECTOR)) != 0) {
        return err == MFL_ERR_IO ? cli_fail(c, "cannot open the device state %s: %s", path, strerror(errno))
                                 : cli_fail(c, "the device state %s: %s", path, mfl_strerror(err));
    }
    if ((err = mfl_state_open(st, storage)) != 0) {
        return cli_fail(c, "the device state %s: %s", path, mfl_strerror(err));
    }
    return 0;
}

static int sync_device(const device_opts_t *o)
{
    const cli_t *c = o->cli;
    uint8_t *image = NULL, *stored = malloc(STATE_BYTES / 2);
    mfl_model_t model;
    mfl_es256_private_t key;
    mfl_es256_public_t agg;
    mfl_storage_t storage;
    mfl_state_t st;
    memset(&storage, 0, sizeof(storage));
    int status = stored ? load_device(o, &key, &agg, &image, &model, &storage, &st) : cli_fail(c, "out of memory");
    if (status) {
        memset(&key, 0, sizeof(key));
        mfl_storage_file_close(&storage);
        free(image), free(stored);
        return status;
    }
    const size_t mem_size = mfl_learner_mem_size(&model, 128, 8);
    uint8_t *arena = malloc(mfl_model_arena_size(&model)), *mem = aligned_alloc(8, (mem_size + 8) & ~(size_t)7);
    mfl_learner_t l;
    uint64_t version = 1;
    int err = arena && mem ? 0 : MFL_ERR_NO_MEMORY;
    err = err ? err : mfl_learner_init(&l, &model, arena, mfl_model_arena_size(&model), mem, mem_size, 128, NULL);
    if (err) {
        cli_fail(c, "%s: cannot learn on this model: %s", o->model, mfl_strerror(err));
    } else { /* the model installed last time, verified again */
        uint64_t restored = 0;
        const int r = mfl_state_restore(&st, &l, &agg, stored, STATE_BYTES / 2, &restored);
        err = r == MFL_ERR_NO_MODEL ? 0 : r;
        version = restored ? restored : version;
        if (err) {
            cli_fail(c, "the device state in %s: %s", o->state, mfl_strerror(err));
        }
    }
    link_t k;
    if (!err && (err = link_open(o, &k)) == 0) {
        err = exchange(o, &st, &l, &key, &agg, version, &k);
        link_close(&k);
    }
    memset(&key, 0, sizeof(key));
    mfl_storage_file_close(&storage);
    free(image), free(arena), free(mem), free(stored);
    return err ? CLI_FAILED : 0;
}

/* A relay cannot re-sign: every answer but "stored" is final for it. */
static int relay(const device_opts_t *o, const char *file)
{
    uint8_t *msg = NULL;
    size_t len = 0;
    mfl_cose_sign1_t cose;
    mfl_update_t u;
    char who[1100];
    int err = mfl_read_file(file, &msg, &len);
    if (err) {
        return cli_file_error(o->cli, file, err);
    }
    err = mfl_cose_sign1_decode(msg, len, &cose);
    err = err ? err : mfl_update_decode(cose.payload, cose.payload_len, 0, 0, &u);
    if (err) {
        free(msg);
        return cli_fail(o->cli, "%s: not a signed update: %s", file, mfl_strerror(err));
    }
    snprintf(who, sizeof(who), "relayed %s", file);
    link_t k;
    mfl_sync_t *s = malloc(sizeof(*s));
    err = s ? link_open(o, &k) : cli_fail(o->cli, "out of memory");
    if (!err) {
        mfl_sync_config_t cfg = sync_config(o, &k);
        cfg.update_buf = msg;
        cfg.update_cap = len;
        err = mfl_sync_init(s, &cfg);
        if (err) {
            cli_fail(o->cli, "%s", mfl_strerror(err));
        }
        err = err ? err : post_update(o, s, &k, who, 1, len, u.counter);
        link_close(&k);
    }
    free(msg), free(s);
    return err ? CLI_FAILED : 0;
}

static void options_usage(FILE *out)
{
    fprintf(out,
            "  --server HOST:PORT   the aggregator: a host name, an IPv4 address or [IPv6], port 1..65535\n"
            "  --id ID              the device id, 1..32 bytes (the PSK identity)\n"
            "  --psk-file FILE      the device's pre-shared key in hex, read from FILE ('-': standard input)\n"
            "  --psk HEX            the same on the command line (visible to other local users)\n"
            "  (instead of a PSK: --cert DEV.pem --cert-key DEV.key --ca CA.pem, certificate CN = device id;\n"
            "   --plain: no DTLS, for test endpoints only)\n"
            "  --timeout S          give up a request after S seconds in all (1..86400, default 300)\n"
            "  --verbose            say why a request is tried again\n"
            "Exit 0 only when the aggregator stored the update (accepted, or already counted); 1 when it\n"
            "did not (refused, no answer, a file); 2 for a usage error.\n");
}

static void sync_usage(FILE *out)
{
    fprintf(out,
            "usage: mfl device sync --server HOST:PORT --id ID --psk-file FILE --agg-pub AGG.pub --model BASE.mfl\n"
            "                       --key DEVICE.key --state DIR [--samples N] [--seed N] [--top-k K] [--fetch-only]\n"
            "Fetches and installs a newer signed model, learns N labelled images (0..10000000, default\n"
            "100) and sends the signed update (retries with backoff and jitter; each update gets a new\n"
            "counter, persisted before it is signed; if the aggregator says the counter was used, the\n"
            "device moves past its last counter and resends).\n");
    options_usage(out);
}

static void relay_usage(FILE *out)
{
    fprintf(out, "usage: mfl device relay --server HOST:PORT --id ID --psk-file FILE UPDATE.cose\n"
                 "Posts a signed update produced elsewhere (a firmware image, a gateway queue).\n");
    options_usage(out);
}

static void device_usage(FILE *out)
{
    fprintf(out, "usage: mfl device sync --server HOST:PORT --id ID --psk-file FILE --agg-pub AGG.pub ...\n"
                 "       mfl device relay --server HOST:PORT --id ID --psk-file FILE UPDATE.cose\n"
                 "(mfl device sync --help, mfl device relay --help describe each)\n");
}

/* The first required option missing, or NULL. */
static const char *missing_option(const device_opts_t *o, int sync)
{
    if (!o->port) {
        return "--server HOST:PORT";
    }
    if (!o->id[0]) {
        return "--id ID";
    }
    if (!o->plain && !o->cert && !o->psk_len) {
        return "a key: --psk-file FILE (or --psk HEX, or --cert/--cert-key/--ca; --plain for a test endpoint)";
    }
    if (sync) {
        return !o->agg_pub ? "--agg-pub AGG.pub" : !o->model ? "--model BASE.mfl" : !o->key ? "--key DEVICE.key"
             : !o->state   ? "--state DIR" : NULL;
    }
    return NULL;
}

int mfl_cmd_device(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"server", required_argument, 0, 'S'}, {"id", required_argument, 0, 'i'}, {"psk", required_argument, 0, 'k'},
        {"psk-file", required_argument, 0, 'P'},
        {"agg-pub", required_argument, 0, 'a'}, {"model", required_argument, 0, 'm'},
        {"key", required_argument, 0, 'K'}, {"state", required_argument, 0, 's'},
        {"samples", required_argument, 0, 'n'}, {"seed", required_argument, 0, 'e'},
        {"top-k", required_argument, 0, 't'}, {"fetch-only", no_argument, 0, 'f'},
        {"plain", no_argument, 0, 'p'}, {"cert", required_argument, 0, 'c'},
        {"cert-key", required_argument, 0, 'C'}, {"ca", required_argument, 0, 'A'},
        {"timeout", required_argument, 0, 'T'}, {"verbose", no_argument, 0, 'v'},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    static const char *const relay_args[] = {"UPDATE.cose"};
    device_opts_t o;
    memset(&o, 0, sizeof(o));
    o.deadline_ms = 300000;
    o.samples = 100;
    o.seed = 1;
    const char *verb = argc > 1 ? argv[1] : "", *psk_file = NULL;
    const int sync = !strcmp(verb, "sync");
    cli_t c;
    if (!sync && strcmp(verb, "relay") != 0) {
        cli_init(&c, "mfl device", device_usage);
        if (!strcmp(verb, "-h") || !strcmp(verb, "--help")) {
            device_usage(stdout);
            return 0;
        }
        return verb[0] ? cli_usage_error(&c, "unknown command '%s' (sync or relay)", verb)
                       : cli_usage_error(&c, "missing the command: sync or relay");
    }
    cli_init(&c, sync ? "mfl device sync" : "mfl device relay", sync ? sync_usage : relay_usage);
    o.cli = &c;
    argc--, argv++;
    int opt, rc = 0;
    uint64_t num = 0;
    uint32_t seconds = 0;
    while (!rc && (opt = cli_next(&c, argc, argv, "hv", longopts)) != -1) {
        switch (opt) {
        case 'S':
            o.server = optarg;
            if (parse_server(optarg, &o)) {
                rc = cli_usage_error(&c, "--server '%s': not HOST:PORT (a host name, an IPv4 address or [IPv6]; "
                                         "port 1..65535)", optarg);
            }
            break;
        case 'i':
            if (!*optarg || strlen(optarg) > MFL_DEVICE_ID_MAX) {
                rc = cli_usage_error(&c, "--id '%s': a device id is 1 to %d bytes", optarg, MFL_DEVICE_ID_MAX);
            }
            snprintf(o.id, sizeof(o.id), "%s", optarg);
            break;
        case 'k':
            if (mfl_hex_decode(optarg, o.psk, sizeof(o.psk), &o.psk_len)) {
                rc = cli_usage_error(&c, "--psk '%s': not 1 to %zu bytes in hex (an even number of digits)", optarg,
                                     sizeof(o.psk));
            }
            break;
        case 'P': psk_file = optarg; break;
        case 'a': o.agg_pub = optarg; break;
        case 'm': o.model = optarg; break;
        case 'K': o.key = optarg; break;
        case 's': o.state = optarg; break;
        case 'n':
            rc = cli_u64(&c, "--samples", optarg, 0, 10000000, &num);
            o.samples = (size_t)num;
            break;
        case 'e': rc = cli_u64(&c, "--seed", optarg, 0, UINT64_MAX, &o.seed); break;
        case 't': rc = cli_u32(&c, "--top-k", optarg, 0, UINT32_MAX, &o.top_k); break;
        case 'f': o.fetch_only = 1; break;
        case 'p': o.plain = 1; break;
        case 'c': o.cert = optarg; break;
        case 'C': o.cert_key = optarg; break;
        case 'A': o.ca = optarg; break;
        case 'T':
            rc = cli_u32(&c, "--timeout", optarg, 1, 86400, &seconds);
            o.deadline_ms = seconds * 1000u;
            break;
        case 'v': o.verbose = 1; break;
        default: return c.status; /* CLI_EXIT: --help shown (0), or a bad option named (2) */
        }
    }
    if (rc) {
        return rc;
    }
    if (psk_file && o.psk_len) {
        return cli_usage_error(&c, "--psk and --psk-file: one or the other");
    }
    if (!o.cert != !o.cert_key || !o.cert != !o.ca) {
        return cli_usage_error(&c, "--cert, --cert-key and --ca go together");
    }
    if ((rc = cli_positionals(&c, argc, argv, relay_args, sync ? 0 : 1)) != 0) {
        return rc;
    }
    if (psk_file && (rc = read_psk_file(&c, psk_file, &o)) != 0) {
        return rc;
    }
    const char *missing = missing_option(&o, sync);
    if (missing) {
        memset(o.psk, 0, sizeof(o.psk));
        return cli_usage_error(&c, "missing %s", missing);
    }
    rc = sync ? sync_device(&o) : relay(&o, argv[optind]);
    memset(o.psk, 0, sizeof(o.psk));
    return rc;
}
