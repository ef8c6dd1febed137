/* Virtual devices to aggregator: in-process or over CoAP/DTLS (link.h). */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../aggregator/aggregator.h"
#include "link.h"
#include "mfl/dtls_mbedtls.h"
#include "mfl/error.h"
#include "mfl/host/datagram_udp.h"
#include "mfl/host/keys.h"
#include "mfl/host/posix_platform.h"
#include "mfl/host/store.h"
#include "mfl/sync.h"
#include "mfl/update_builder.h"
#include "world.h"

struct sim_link {
    enum sim_mode mode;
    agg_state_t state;     /* in-process */
    int state_open;
    FILE *log;             /* in-process: the aggregator's log lines */
    pid_t pid;             /* network: the aggregator process */
    uint16_t port;
    mfl_agg_opts_t agg;    /* the aggregator's rule and options, as its config file sets them */
    uint32_t max_staleness;
    mfl_es256_public_t agg_pub;
};

int sim_identity(const sim_scenario_t *sc, uint32_t index, sim_identity_t *out)
{
    memset(out, 0, sizeof(*out));
    snprintf(out->id, sizeof(out->id), "d%06u", index);
    snprintf(out->group, sizeof(out->group), "%s", sc->regions[sim_region_of(sc, index)].name);
    uint64_t s = sim_stream(sc->seed, SIM_STREAM_KEYS, index, 0);
    for (int i = 0; i < 16; i += 8) {
        const uint64_t r = sim_mix(s++);
        memcpy(out->psk + i, &r, 8);
    }
    /* a test key from the seed: simulated devices need no secrecy, and
     * derived keys keep runs reproducible */
    for (int attempt = 0; attempt < 16; attempt++) {
        for (int i = 0; i < MFL_ES256_PRIVATE_BYTES; i += 8) {
            const uint64_t r = sim_mix(s++);
            memcpy(out->key.d + i, &r, 8);
        }
        if (mfl_es256_public_from_private(&out->key, &out->pub) == 0) {
            return 0;
        }
    }
    return MFL_ERR_KEY;
}

static int write_config(const sim_scenario_t *sc, const char *dir, int fair, uint16_t port, char *path, size_t cap)
{
    snprintf(path, cap, "%s/aggregator.conf", dir);
    FILE *f = fopen(path, "w");
    if (!f) {
        return MFL_ERR_IO;
    }
    const uint32_t k = sim_buffer_k(sc);
    fprintf(f,
            "# written by mfl-sim for one strategy of a run\n"
            "listen = 127.0.0.1:%u\n"
            "data_dir = %s/data\n"
            "model = %s\n"
            "key = %s/aggregator.key\n"
            "buffer_k = %u\n"
            "max_staleness = %u\n"
            "server_lr = %g\n"
            "balance_groups = %d\n"
            "max_sessions = %u\n"
            "max_handshakes = 256\n"
            "session_timeout = 10\n",
            port, dir, sc->base, dir, k, sc->max_staleness, sc->server_lr, fair, sc->devices + 64);
    for (uint32_t i = 0; i < sc->n_agg; i++) { /* the scenario's agg.KEY settings */
        fprintf(f, "%s = %s\n", sc->agg_key[i], sc->agg_value[i]);
    }
    return fclose(f) == 0 ? 0 : MFL_ERR_IO;
}

static int provision(mfl_store_t *store, const sim_identity_t *ids, uint32_t n)
{
    int err = 0;
    for (uint32_t i = 0; i < n && !err; i++) {
        mfl_device_rec_t d;
        memset(&d, 0, sizeof(d));
        d.id_len = strlen(ids[i].id);
        memcpy(d.id, ids[i].id, d.id_len);
        memcpy(d.psk, ids[i].psk, sizeof(ids[i].psk));
        d.psk_len = sizeof(ids[i].psk);
        d.pub = ids[i].pub;
        snprintf(d.group, sizeof(d.group), "%s", ids[i].group);
        err = mfl_store_add_device(store, &d);
    }
    return err;
}

/* A UDP port nobody holds right now (the aggregator binds it next). */
static uint16_t free_port(void)
{
    const int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    uint16_t port = 0;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 && getsockname(fd, (struct sockaddr *)&a, &len) == 0) {
        port = ntohs(a.sin_port);
    }
    if (fd >= 0) {
        close(fd);
    }
    return port;
}

/* A virtual device's link to the aggregator for one request: a UDP socket
 * and a DTLS session (it ends with the request, as a duty-cycled device's
 * would), and the sync that drives it. */
typedef struct {
    mfl_datagram_udp_t udp;
    mfl_dtls_t dtls;
    mfl_sync_t sync;
} net_t;

static int net_open(const sim_link_t *link, const sim_identity_t *id, net_t *n, mfl_sync_config_t *c)
{
    mfl_datagram_port_t udp;
    int err = mfl_datagram_udp_open(&udp, &n->udp, "127.0.0.1", link->port, NULL);
    const mfl_dtls_config_t dc = {udp, (const uint8_t *)id->id, strlen(id->id), id->psk, sizeof(id->psk),
                                  mfl_posix_clock_ms, mfl_posix_entropy, NULL, NULL, NULL, NULL};
    if (!err && (err = mfl_dtls_init(&n->dtls, &dc, &c->port)) != 0) {
        mfl_datagram_udp_close(&n->udp);
    }
    if (err) {
        return err;
    }
    c->device_id = (const uint8_t *)id->id;
    c->device_id_len = strlen(id->id);
    c->coap.szx = 6; /* loopback: whole 1 KB blocks */
    c->coap.ack_timeout_ms = 1000;
    c->max_attempts = 4;
    c->retry_base_ms = 200;
    c->seed = (uint32_t)sim_mix(id->psk[0] ^ ((uint64_t)id->psk[1] << 8)); /* reproducible jitter */
    err = mfl_sync_init(&n->sync, c);
    if (err) {
        mfl_dtls_free(&n->dtls);
        mfl_datagram_udp_close(&n->udp);
    }
    return err;
}

/* Polls the operation to its end, waiting on the socket in between. */
static int net_run(net_t *n)
{
    int rc;
    while ((rc = mfl_sync_poll(&n->sync, mfl_posix_clock_ms())) == MFL_SYNC_PENDING) {
        const int32_t until = (int32_t)(n->sync.wake_ms - mfl_posix_clock_ms());
        const uint32_t cap = n->dtls.up ? 60000u : 100u; /* a handshake retransmits on its own clock */
        mfl_datagram_udp_wait(&n->udp, until <= 0 ? 0u : (uint32_t)until < cap ? (uint32_t)until : cap);
    }
    return rc;
}

static void net_close(net_t *n)
{
    mfl_dtls_free(&n->dtls);
    mfl_datagram_udp_close(&n->udp);
}

static int start_server(sim_link_t *link, const sim_scenario_t *sc, const char *dir, const char *conf, char *msg,
                        size_t cap)
{
    char log_path[1200];
    snprintf(log_path, sizeof(log_path), "%s/aggregator.log", dir);
    link->pid = fork();
    if (link->pid == 0) {
        const int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 2);
            dup2(fd, 1);
        }
        execl(sc->aggregator, sc->aggregator, "--config", conf, (char *)NULL);
        _exit(127);
    }
    if (link->pid < 0) {
        snprintf(msg, cap, "cannot start %s: %s", sc->aggregator, strerror(errno));
        return MFL_ERR_IO;
    }
    /* ready once it logs that it listens */
    for (int i = 0; i < 100; i++) {
        int status;
        if (waitpid(link->pid, &status, WNOHANG) == link->pid) {
            link->pid = 0;
            snprintf(msg, cap, "the aggregator exited at startup; see %s", log_path);
            return MFL_ERR_IO;
        }
        char line[512];
        FILE *f = fopen(log_path, "r");
        int listening = 0;
        while (f && !listening && fgets(line, sizeof(line), f)) {
            listening = strstr(line, "event=listening") != NULL;
        }
        if (f) {
            fclose(f);
        }
        if (listening) {
            return 0;
        }
        nanosleep(&(struct timespec){0, 100000000}, NULL);
    }
    snprintf(msg, cap, "the aggregator does not answer on port %u; see %s", link->port, log_path);
    return MFL_ERR_IO;
}

int sim_link_check(const sim_scenario_t *sc, const char *run_dir, char *msg, size_t cap)
{
    char conf[1200], checked[1300];
    agg_config_t cfg;
    if (write_config(sc, run_dir, 0, 0, conf, sizeof(conf))) {
        snprintf(msg, cap, "%s: %s", conf, strerror(errno));
        return MFL_ERR_IO;
    }
    const int err = agg_config_load(conf, &cfg, checked, sizeof(checked)) ? MFL_ERR_INVALID_ARG : 0;
    if (err) { /* the file is gone with the run: name the setting */
        const char *line = strstr(checked, ".conf:");
        snprintf(msg, cap, "%s", line ? line + 6 : checked);
    }
    unlink(conf);
    return err;
}

int sim_link_open(sim_link_t **out, const sim_scenario_t *sc, const char *run_dir, const char *name, int fair,
                  const sim_identity_t *ids, uint32_t n_ids, char *msg, size_t cap)
{
    char dir[1100], conf[1200], key_path[1200], pub_path[1200], db[1200];
    snprintf(dir, sizeof(dir), "%s/%s", run_dir, name);
    mkdir(dir, 0755);
    snprintf(db, sizeof(db), "%s/data", dir);
    mkdir(db, 0700);
    static const char *const state_files[] = {"state.db", "state.db-wal", "state.db-shm"};
    for (int i = 0; i < 3; i++) {
        char f[1300];
        snprintf(f, sizeof(f), "%s/%s", db, state_files[i]);
        unlink(f); /* every run starts from the base model */
    }
    sim_link_t *link = calloc(1, sizeof(*link));
    if (!link) {
        return MFL_ERR_NO_MEMORY;
    }
    link->mode = sc->mode;
    link->port = sc->mode == SIM_NETWORK ? free_port() : 0;
    snprintf(key_path, sizeof(key_path), "%s/aggregator.key", dir);
    snprintf(pub_path, sizeof(pub_path), "%s/aggregator.pub", dir);
    mfl_es256_private_t key;
    int err = mfl_key_generate(&key);
    err = err ? err : mfl_key_save(&key, key_path, pub_path);
    err = err ? err : mfl_es256_public_from_private(&key, &link->agg_pub);
    err = err ? err : write_config(sc, dir, fair, link->port, conf, sizeof(conf));
    if (err) {
        snprintf(msg, cap, "%s: cannot write the aggregator's key and config: %s", dir, mfl_strerror(err));
    }
    agg_config_t cfg;
    if (!err && agg_config_load(conf, &cfg, msg, cap)) {
        err = MFL_ERR_INVALID_ARG;
    }
    if (!err) {
        link->agg = cfg.agg;
        link->max_staleness = cfg.max_staleness;
    }
    if (!err && sc->mode == SIM_INPROCESS) {
        char log_path[1200];
        snprintf(log_path, sizeof(log_path), "%s/aggregator.log", dir);
        link->log = fopen(log_path, "w");
        agg_log_to(link->log);
        err = agg_state_open(&link->state, &cfg, msg, cap) ? MFL_ERR_IO : 0;
        link->state_open = !err;
        err = err ? err : provision(link->state.store, ids, n_ids);
    } else if (!err) {
        mfl_store_t *store;
        err = mfl_store_open(cfg.data_dir, cfg.durability, &store);
        if (!err) {
            err = provision(store, ids, n_ids);
            mfl_store_close(store);
        }
        err = err ? err : start_server(link, sc, dir, conf, msg, cap);
    }
    if (err) {
        if (!msg[0]) {
            snprintf(msg, cap, "%s: %s", dir, mfl_strerror(err));
        }
        sim_link_close(link);
        return err;
    }
    *out = link;
    return 0;
}

void sim_link_close(sim_link_t *link)
{
    if (!link) {
        return;
    }
    if (link->state_open) {
        agg_state_close(&link->state);
    }
    if (link->log) {
        agg_log_to(NULL);
        fclose(link->log);
    }
    if (link->pid > 0) {
        kill(link->pid, SIGTERM);
        waitpid(link->pid, NULL, 0);
    }
    free(link);
}

const mfl_es256_public_t *sim_link_aggregator_key(const sim_link_t *link)
{
    return &link->agg_pub;
}

int sim_link_fetch_model(sim_link_t *link, const sim_identity_t *id, mfl_learner_t *l, uint64_t *version,
                         int *installed, size_t *bytes)
{
    *installed = 0;
    *bytes = 0;
    if (link->mode == SIM_INPROCESS) {
        uint64_t v = *version;
        const int err = mfl_model_install(l, link->state.model_msg, link->state.model_msg_len, &link->agg_pub,
                                          *version, &v);
        *installed = err == 0;
        *bytes = *installed ? link->state.model_msg_len : 0; /* unchanged: 2.03, no body (as over the network) */
        *version = v;
        return err == MFL_ERR_PROTO_VALUE ? 0 : err;
    }
    static uint8_t model_buf[8192];
    static net_t n;
    mfl_sync_config_t c = mfl_sync_default_config();
    c.learner = l;
    c.aggregator = &link->agg_pub;
    c.model_buf = model_buf;
    c.model_cap = sizeof(model_buf);
    c.version = *version;
    int err = net_open(link, id, &n, &c);
    if (err) {
        return err;
    }
    err = mfl_sync_fetch_model(&n.sync, mfl_posix_clock_ms());
    err = err ? err : net_run(&n);
    if (!err) {
        *installed = n.sync.outcome == MFL_SYNC_MODEL_INSTALLED;
        *bytes = *installed ? n.sync.x.response_len : 0;
        *version = n.sync.version;
    }
    net_close(&n);
    return err;
}

void sim_link_agg_opts(const sim_link_t *link, mfl_agg_opts_t *opts, uint32_t *max_staleness)
{
    *opts = link->agg;
    *max_staleness = link->max_staleness;
}

int sim_link_post_update(sim_link_t *link, const sim_identity_t *id, const uint8_t *msg, size_t len,
                         uint64_t counter, int *code, sim_receipt_t *receipt)
{
    memset(receipt, 0, sizeof(*receipt));
    if (link->mode == SIM_INPROCESS) {
        agg_outcome_t out;
        mfl_receipt_t r;
        agg_handle_update(&link->state, (const uint8_t *)id->id, strlen(id->id), msg, len, &out);
        *code = out.code;
        if (out.is_receipt && mfl_receipt_decode(out.body, out.body_len, &r) == 0) {
            *receipt = (sim_receipt_t){1, r.status, r.model_version};
        }
        return 0;
    }
    static uint8_t update_buf[8192];
    static net_t n;
    if (len > sizeof(update_buf)) {
        return MFL_ERR_BUFFER_TOO_SMALL;
    }
    mfl_sync_config_t c = mfl_sync_default_config();
    memcpy(update_buf, msg, len);
    c.update_buf = update_buf;
    c.update_cap = sizeof(update_buf);
    int err = net_open(link, id, &n, &c);
    if (err) {
        return err;
    }
    err = mfl_sync_post_signed(&n.sync, len, counter, mfl_posix_clock_ms());
    err = err ? err : net_run(&n);
    /* an answer, stored or not, is an answer; silence is an error */
    const uint8_t rc = n.sync.response_code;
    *code = rc >> 5 ? (rc >> 5) * 100 + (rc & 31) : 0;
    if (err == 0) {
        *code = 204;
    } else if (rc >> 5) {
        err = 0;
    }
    if (n.sync.receipt.device_id) { /* an answer with a receipt */
        *receipt = (sim_receipt_t){1, n.sync.receipt.status, n.sync.receipt.model_version};
    }
    net_close(&n);
    return err;
}
