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
#include "mfl/host/coap_client.h"
#include "mfl/error.h"
#include "mfl/host/keys.h"
#include "mfl/host/store.h"
#include "world.h"

struct sim_link {
    enum sim_mode mode;
    agg_state_t state;     /* in-process */
    int state_open;
    FILE *log;             /* in-process: the aggregator's log lines */
    pid_t pid;             /* network: the aggregator process */
    uint16_t port;
    mfl_es256_public_t agg_pub;
};

int sim_identity(const sim_scenario_t *sc, uint32_t index, sim_identity_t *out)
{
    memset(out, 0, sizeof(*out));
    snprintf(out->id, sizeof(out->id), "d%06u", index);
    snprintf(out->group, sizeof(out->group), "%s", sc->regions[sim_region_of(sc, index)].name);
    uint64_t s = sc->seed ^ ((uint64_t)index << 24) ^ 0x5EC0000000000000ull;
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

static void client_for(const sim_link_t *link, const sim_identity_t *id, mfl_coap_client_t *c)
{
    mfl_coap_client_defaults(c);
    snprintf(c->host, sizeof(c->host), "127.0.0.1");
    c->port = link->port;
    c->dtls = 1;
    c->identity = (const uint8_t *)id->id;
    c->identity_len = strlen(id->id);
    c->psk = id->psk;
    c->psk_len = sizeof(id->psk);
    c->timeout_ms = 3000;
    c->retries = 3;
    c->backoff_ms = 200;
    c->seed = (unsigned)sim_mix(id->psk[0] ^ ((uint64_t)id->psk[1] << 8)); /* reproducible jitter */
}

static int start_server(sim_link_t *link, const sim_scenario_t *sc, const char *dir, const char *conf,
                        const sim_identity_t *any, char *msg, size_t cap)
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
    /* ready once it answers a device */
    for (int i = 0; i < 100; i++) {
        uint8_t *m = NULL;
        size_t len;
        int status;
        if (waitpid(link->pid, &status, WNOHANG) == link->pid) {
            link->pid = 0;
            snprintf(msg, cap, "the aggregator exited at startup; see %s", log_path);
            return MFL_ERR_IO;
        }
        if (sim_link_get_model(link, any, &m, &len) == 0) {
            free(m);
            return 0;
        }
        nanosleep(&(struct timespec){0, 100000000}, NULL);
    }
    snprintf(msg, cap, "the aggregator does not answer on port %u; see %s", link->port, log_path);
    return MFL_ERR_IO;
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
        err = err ? err : start_server(link, sc, dir, conf, &ids[0], msg, cap);
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

int sim_link_get_model(sim_link_t *link, const sim_identity_t *id, uint8_t **msg, size_t *len)
{
    if (link->mode == SIM_INPROCESS) {
        *msg = malloc(link->state.model_msg_len);
        if (!*msg) {
            return MFL_ERR_NO_MEMORY;
        }
        memcpy(*msg, link->state.model_msg, link->state.model_msg_len);
        *len = link->state.model_msg_len;
        return 0;
    }
    mfl_coap_client_t c;
    client_for(link, id, &c);
    int code = 0;
    const int err = mfl_coap_request(&c, "GET", "fl/v1/model", 0, NULL, 0, &code, msg, len);
    mfl_coap_client_close(&c); /* a virtual device's session ends with its request */
    if (!err && code != 205) {
        free(*msg);
        *msg = NULL;
        return MFL_ERR_PROTO_VALUE;
    }
    return err;
}

int sim_link_post_update(sim_link_t *link, const sim_identity_t *id, const uint8_t *msg, size_t len, int *code)
{
    if (link->mode == SIM_INPROCESS) {
        agg_outcome_t out;
        agg_handle_update(&link->state, (const uint8_t *)id->id, strlen(id->id), msg, len, &out);
        *code = out.code;
        return 0;
    }
    mfl_coap_client_t c;
    client_for(link, id, &c);
    uint8_t *resp = NULL;
    size_t resp_len = 0;
    const int err = mfl_coap_request(&c, "POST", "fl/v1/update", 18, msg, len, code, &resp, &resp_len);
    mfl_coap_client_close(&c);
    free(resp);
    return err;
}
