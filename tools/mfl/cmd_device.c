/*
 * `mfl device sync` and `mfl device relay`: a Linux-class device (or a
 * gateway) talking to the aggregator with the device library and the host
 * CoAP/DTLS client. Device state lives in a directory: device.state is the
 * device library's persistent state (mfl/device_state.h) on the file
 * storage port — update counters persisted before use, the installed model
 * in two slots, re-verified at start — and residual.bin the error-feedback
 * residual, replaced atomically once an update is acknowledged.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>

#include "commands.h"
#include "mfl/coap_client.h"
#include "mfl/device_state.h"
#include "mfl/features.h"
#include "mfl/host_io.h"
#include "mfl/keys.h"
#include "mfl/model_file.h"
#include "mfl/storage.h"
#include "mfl/update_builder.h"

#define STATE_BYTES (64u * 1024u) /* two 4 KB journal sectors, two 28 KB model slots */
#define STATE_SECTOR 4096u

typedef struct {
    mfl_coap_client_t net;
    char id[40];
    uint8_t psk[64];
    const char *agg_pub, *model, *key, *state;
    size_t samples;
    uint64_t seed;
    uint32_t top_k;
    int fetch_only;
} device_opts_t;

static int parse_server(const char *s, mfl_coap_client_t *c)
{
    const char *colon = strrchr(s, ':');
    if (!colon || (size_t)(colon - s) >= sizeof(c->host)) {
        return -1;
    }
    memcpy(c->host, s, (size_t)(colon - s));
    c->host[colon - s] = '\0';
    c->port = (uint16_t)atoi(colon + 1);
    return c->port ? 0 : -1;
}

static int parse_seconds(const char *s, unsigned *ms)
{
    char *end;
    const unsigned long v = strtoul(s, &end, 10);
    if (*end || end == s || v == 0 || v > 86400) {
        return -1;
    }
    *ms = (unsigned)v * 1000u;
    return 0;
}

static void state_path(const device_opts_t *o, const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", o->state, name);
}

/* GET the model; install it if it is newer than what the device runs. */
static int fetch_model(device_opts_t *o, mfl_state_t *st, mfl_learner_t *l, const mfl_es256_public_t *agg,
                       uint64_t *version)
{
    int code = 0;
    uint8_t *msg = NULL;
    size_t len = 0;
    mfl_coap_stats_t stats = {0};
    o->net.stats = &stats;
    /* the aggregator's ETag is the model version: an unchanged model is
     * answered 2.03 and not downloaded again */
    o->net.etag_len = 0;
    for (uint64_t v = *version; v; v >>= 8) {
        o->net.etag_len++;
    }
    for (size_t i = 0; i < o->net.etag_len; i++) {
        o->net.etag[i] = (uint8_t)(*version >> (8 * (o->net.etag_len - 1 - i)));
    }
    int err = mfl_coap_request(&o->net, "GET", "fl/v1/model", 0, NULL, 0, &code, &msg, &len);
    o->net.stats = NULL;
    o->net.etag_len = 0;
    if (!err && code == 203) {
        printf("model: version %llu is current\n", (unsigned long long)*version);
        free(msg);
        return 0;
    }
    if (err || code != 205) {
        fprintf(stderr, "mfl device: GET model from %s:%u failed: %s after %u attempt%s in %.1f s (last answer %d.%02d)\n",
                o->net.host, o->net.port, err ? mfl_strerror(err) : "unexpected answer", stats.attempts,
                stats.attempts == 1 ? "" : "s", (double)stats.elapsed_ms / 1e3, code / 100, code % 100);
        free(msg);
        return err ? err : MFL_ERR_IO;
    }
    uint64_t installed = *version;
    err = mfl_model_install(l, msg, len, agg, *version, &installed);
    if (err == MFL_ERR_PROTO_VALUE) {
        printf("model: version %llu is current\n", (unsigned long long)*version);
        err = 0;
    } else if (!err) {
        err = len <= UINT32_MAX ? mfl_state_install_model(st, msg, (uint32_t)len, installed) : MFL_ERR_PROTO_SIZE;
        printf("model: installed version %llu\n", (unsigned long long)installed);
        *version = installed;
    } else {
        fprintf(stderr, "mfl device: model refused: %s\n", mfl_strerror(err));
    }
    free(msg);
    return err;
}

/* What the aggregator said of one POSTed update. */
typedef enum { POSTED_STORED, POSTED_COUNTER_USED, POSTED_REFUSED } posted_t;

/* POSTs a signed update and reads the answer: stored (accepted now, or
 * this very update before), counter used (*last: the aggregator's last
 * counter for the device), or refused for good (said on stderr). */
static posted_t post_update(device_opts_t *o, const char *who, const uint8_t *msg, size_t len,
                            uint64_t counter, uint64_t *last)
{
    mfl_coap_stats_t stats = {0};
    o->net.stats = &stats;
    int code = 0;
    uint8_t *resp = NULL;
    size_t resp_len = 0;
    mfl_receipt_t r;
    const int err = mfl_coap_request(&o->net, "POST", "fl/v1/update", 18, msg, len, &code, &resp, &resp_len);
    o->net.stats = NULL;
    const int has_receipt = !err && mfl_receipt_decode(resp, resp_len, &r) == 0 && r.counter == counter &&
                            r.device_id_len == strlen(o->id) && !memcmp(r.device_id, o->id, r.device_id_len);
    posted_t result = POSTED_REFUSED;
    if (err) {
        fprintf(stderr, "%s: counter %llu not delivered: %s after %u attempts in %.1f s (last answer %d.%02d)\n",
                who, (unsigned long long)counter, mfl_strerror(err), stats.attempts, (double)stats.elapsed_ms / 1e3,
                code / 100, code % 100);
    } else if (code == 204 && has_receipt &&
               (r.status == MFL_RECEIPT_ACCEPTED || r.status == MFL_RECEIPT_DUPLICATE)) {
        printf("%s: counter %llu %s (aggregator at version %llu; %u attempt%s, %.1f s)\n", who,
               (unsigned long long)counter, r.status == MFL_RECEIPT_ACCEPTED ? "accepted" : "already counted",
               (unsigned long long)r.model_version, stats.attempts, stats.attempts == 1 ? "" : "s",
               (double)stats.elapsed_ms / 1e3);
        result = POSTED_STORED;
    } else if (code == 409 && has_receipt && r.status == MFL_RECEIPT_COUNTER_USED) {
        fprintf(stderr, "%s: counter %llu not stored: the aggregator's last counter for %s is %llu\n", who,
                (unsigned long long)counter, o->id, (unsigned long long)r.last_counter);
        *last = r.last_counter;
        result = POSTED_COUNTER_USED;
    } else if (code == 412 && has_receipt) {
        fprintf(stderr, "%s: counter %llu not stored: stale (the aggregator is at version %llu; fetch the model "
                "and learn again)\n", who, (unsigned long long)counter, (unsigned long long)r.model_version);
    } else { /* the server's code and its diagnostic text */
        fprintf(stderr, "%s: counter %llu refused: code %d.%02d %.*s\n", who, (unsigned long long)counter,
                code / 100, code % 100, (int)(resp && resp_len < 200 ? resp_len : 0), resp ? (const char *)resp : "");
    }
    free(resp);
    return result;
}

static int send_update(device_opts_t *o, mfl_state_t *st, mfl_learner_t *l, const mfl_es256_private_t *key,
                       uint64_t version)
{
    char path[1024];
    const size_t n = (size_t)l->head.units * (l->head.features + 1u);
    int32_t *residual = calloc(n, sizeof(int32_t)), *committed = calloc(n, sizeof(int32_t));
    uint8_t *data = NULL;
    size_t len = 0;
    state_path(o, "residual.bin", path, sizeof(path));
    if (committed && mfl_read_file(path, &data, &len) == 0 && len == n * sizeof(int32_t)) {
        memcpy(committed, data, len);
    }
    free(data);
    const size_t ws = mfl_update_work_size(l, o->top_k), cap = mfl_update_max_size(l, strlen(o->id));
    uint8_t *work = aligned_alloc(8, (ws + 8) & ~(size_t)7), *msg = malloc(cap);
    int err = residual && committed && work && msg ? 0 : MFL_ERR_NO_MEMORY;
    posted_t posted = POSTED_COUNTER_USED;
    /* a "counter used" answer (the device's journal was lost or rolled
     * back) moves the counter past the aggregator's and sends again, once */
    for (int round = 0; !err && round < 2 && posted == POSTED_COUNTER_USED; round++) {
        uint64_t counter = 0, last = 0;
        memcpy(residual, committed, n * sizeof(int32_t));
        err = mfl_state_next_counter(st, &counter); /* persisted before anything is signed */
        const mfl_update_params_t p = {(const uint8_t *)o->id, strlen(o->id), version, counter, o->top_k};
        err = err ? err : mfl_update_build(l, &p, residual, key, work, ws, msg, cap, &len);
        posted = err ? POSTED_REFUSED : post_update(o, "update", msg, len, counter, &last);
        if (!err && posted == POSTED_COUNTER_USED) {
            err = mfl_state_skip_counters(st, last);
        }
    }
    if (!err && posted == POSTED_STORED) {
        err = mfl_write_file(path, residual, n * sizeof(int32_t)); /* only now is the residual committed */
    } else if (!err) {
        err = MFL_ERR_IO;
    }
    free(residual), free(committed), free(work), free(msg);
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
    err = err ? err : mfl_key_load_public(o->agg_pub, &agg);
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
    err = err ? err : fetch_model(o, &st, &l, &agg, &version);
    mfl_dataset_t train;
    if (!err && !o->fetch_only && o->samples) {
        err = mfl_fmnist_load(NULL, 1, &train, msg, sizeof(msg));
        int8_t in[784];
        for (size_t i = 0; !err && i < o->samples; i++) {
            const size_t s = (size_t)((o->seed * 7919u + i * 104729u) % train.n);
            mfl_image_to_input(train.images + s * 784, 784, in);
            err = mfl_learner_learn(&l, in, 784, train.labels[s]);
        }
        mfl_dataset_free(&train);
    }
    if (!err && !o->fetch_only) {
        err = send_update(o, &st, &l, &key, version);
    }
    memset(&key, 0, sizeof(key));
    mfl_storage_file_close(&storage);
    free(image), free(arena), free(mem), free(stored);
    if (err) {
        fprintf(stderr, "mfl device sync: %s\n", mfl_strerror(err));
    }
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
    uint64_t last = 0;
    const posted_t posted = post_update(o, who, msg, len, u.counter, &last);
    free(msg);
    return posted == POSTED_STORED ? 0 : 1;
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
    mfl_coap_client_defaults(&o.net);
    o.samples = 100;
    o.seed = 1;
    const char *verb = argc > 1 ? argv[1] : "";
    int c, bad = 0;
    optind = 1;
    while ((c = getopt_long(argc - 1, argv + 1, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'S': bad |= parse_server(optarg, &o.net); break;
        case 'i': snprintf(o.id, sizeof(o.id), "%s", optarg); break;
        case 'k': bad |= mfl_hex_decode(optarg, o.psk, sizeof(o.psk), &o.net.psk_len) || !o.net.psk_len; break;
        case 'a': o.agg_pub = optarg; break;
        case 'm': o.model = optarg; break;
        case 'K': o.key = optarg; break;
        case 's': o.state = optarg; break;
        case 'n': o.samples = strtoull(optarg, NULL, 10); break;
        case 'e': o.seed = strtoull(optarg, NULL, 10); break;
        case 't': o.top_k = (uint32_t)strtoul(optarg, NULL, 10); break;
        case 'f': o.fetch_only = 1; break;
        case 'p': o.net.dtls = 0; break;
        case 'c': o.net.cert = optarg; break;
        case 'C': o.net.cert_key = optarg; break;
        case 'A': o.net.ca = optarg; break;
        case 'T': bad |= parse_seconds(optarg, &o.net.deadline_ms); break;
        case 'v': o.net.verbose = 1; break;
        default: bad = 1; break;
        }
    }
    o.net.identity = (const uint8_t *)o.id;
    o.net.identity_len = strlen(o.id);
    o.net.psk = o.psk;
    bad |= !o.net.cert != !o.net.cert_key || !o.net.cert != !o.net.ca;
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
    const int rc = sync_ok ? sync_device(&o) : relay(&o, argv[argc - 1]);
    mfl_coap_client_close(&o.net);
    return rc;
}
