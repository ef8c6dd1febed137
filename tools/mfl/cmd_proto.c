/* `mfl keygen`, `mfl verify`, `mfl inspect`, `mfl update make`: keys and messages. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "mfl/cbor.h"
#include "mfl/host/features.h"
#include "mfl/host/host_io.h"
#include "mfl/host/keys.h"
#include "mfl/messages.h"
#include "mfl/host/model_file.h"
#include "mfl/update_builder.h"

static void keygen_usage(FILE *out)
{
    fprintf(out, "usage: mfl keygen [--force] PREFIX\n"
                 "Writes a P-256 key pair: PREFIX.key (PEM, mode 0600) and PREFIX.pub.\n"
                 "An existing PREFIX.key or PREFIX.pub is kept unless --force: a replaced aggregator key\n"
                 "makes every device that pinned the old one refuse its models.\n");
}

int mfl_cmd_keygen(int argc, char **argv)
{
    static const struct option longopts[] = {{"force", no_argument, 0, 'f'}, {"help", no_argument, 0, 'h'},
                                             {0, 0, 0, 0}};
    static const char *const args[] = {"PREFIX"};
    cli_t c;
    int opt, force = 0;
    cli_init(&c, "mfl keygen", keygen_usage);
    while ((opt = cli_next(&c, argc, argv, "fh", longopts)) != -1) {
        if (opt != 'f') {
            return c.status;
        }
        force = 1;
    }
    int rc = cli_positionals(&c, argc, argv, args, 1);
    if (rc) {
        return rc;
    }
    char priv[4096], pub[4096];
    if ((size_t)snprintf(priv, sizeof(priv), "%s.key", argv[optind]) >= sizeof(priv) ||
        (size_t)snprintf(pub, sizeof(pub), "%s.pub", argv[optind]) >= sizeof(pub)) {
        return cli_usage_error(&c, "PREFIX is too long");
    }
    for (int i = 0; i < 2 && !force; i++) {
        const char *path = i ? pub : priv;
        if (access(path, F_OK) == 0) {
            return cli_fail(&c, "%s exists: kept (a new key would not match what was signed or pinned with it; "
                            "--force replaces it)", path);
        }
    }
    if ((rc = cli_check_output(&c, priv)) != 0 || (rc = cli_check_output(&c, pub)) != 0) {
        return rc;
    }
    mfl_es256_private_t key;
    int err = mfl_key_generate(&key);
    if (err) {
        return cli_fail(&c, "%s", mfl_strerror(err));
    }
    err = mfl_key_save(&key, priv, pub);
    memset(&key, 0, sizeof(key));
    if (err) {
        return err == MFL_ERR_IO ? cli_fail(&c, "cannot write %s or %s: %s", priv, pub, strerror(errno))
                                 : cli_fail(&c, "%s", mfl_strerror(err));
    }
    printf("wrote %s and %s\n", priv, pub);
    return 0;
}

static void verify_usage(FILE *out)
{
    fprintf(out, "usage: mfl verify --key PUB [--aad HEX] FILE\n"
                 "Checks a COSE_Sign1 (ES256) message's structure and signature (exit 1 if invalid).\n");
}

/* A key file's error: the file and why it cannot be used. */
static int key_error(const cli_t *c, const char *path, int err)
{
    return err == MFL_ERR_IO ? cli_file_error(c, path, err) : cli_fail(c, "%s: %s", path, mfl_strerror(err));
}

int mfl_cmd_verify(int argc, char **argv)
{
    static const struct option longopts[] = {{"key", required_argument, 0, 'k'}, {"aad", required_argument, 0, 'a'},
                                             {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    static const char *const args[] = {"FILE"};
    const char *key_path = NULL;
    uint8_t aad[1024];
    size_t aad_len = 0;
    int opt, rc;
    cli_t c;
    cli_init(&c, "mfl verify", verify_usage);
    while ((opt = cli_next(&c, argc, argv, "k:a:h", longopts)) != -1) {
        if (opt == 'k') {
            key_path = optarg;
        } else if (opt == 'a') {
            if (optarg[0] && mfl_hex_decode(optarg, aad, sizeof(aad), &aad_len)) {
                return cli_usage_error(&c, "--aad '%s': not hex of at most %zu bytes", optarg, sizeof(aad));
            }
        } else {
            return c.status;
        }
    }
    if (!key_path) {
        return cli_usage_error(&c, "missing --key PUB (the signer's public key)");
    }
    if ((rc = cli_positionals(&c, argc, argv, args, 1)) != 0) {
        return rc;
    }
    const char *path = argv[optind];
    mfl_es256_public_t pub;
    uint8_t *msg = NULL;
    size_t len = 0;
    mfl_cose_sign1_t m;
    int err = mfl_key_load_public(key_path, &pub);
    if (err) {
        return key_error(&c, key_path, err);
    }
    if ((err = mfl_read_file(path, &msg, &len)) != 0) {
        return cli_file_error(&c, path, err);
    }
    err = mfl_cose_sign1_decode(msg, len, &m);
    err = err ? err : mfl_cose_sign1_verify(&m, aad, aad_len, &pub);
    if (err) {
        printf("%s: INVALID: %s\n", path, mfl_strerror(err));
    } else {
        printf("%s: valid ES256 signature (kid of %zu bytes%s)\n", path, m.kid ? m.kid_len : 0,
               m.kid && !m.kid_protected ? ", unprotected" : "");
    }
    free(msg);
    return err ? CLI_FAILED : 0;
}

static void print_bytes(const char *label, const uint8_t *b, size_t n)
{
    printf("  %-14s ", label);
    for (size_t i = 0; i < n && i < 32; i++) {
        printf("%02x", b[i]);
    }
    printf("%s (%zu bytes)\n", n > 32 ? "..." : "", n);
}

/* Prints a message body; an update's device id (which its COSE kid must
 * equal) goes to *device_id. Returns 0 or why the body is invalid. */
static int inspect_body(const uint8_t *body, size_t len, const uint8_t **device_id, size_t *device_id_len)
{
    const int type = mfl_msg_type(body, len);
    if (type == MFL_MSG_UPDATE) {
        mfl_update_t u;
        int err = mfl_update_decode(body, len, 0, 0, &u);
        if (err) {
            return err;
        }
        *device_id = u.device_id;
        *device_id_len = u.device_id_len;
        printf("update (format v%d)\n", MFL_PROTO_VERSION);
        print_bytes("device id", u.device_id, u.device_id_len);
        printf("  %-14s %llu\n  %-14s %llu\n  %-14s %llu\n", "base version", (unsigned long long)u.base_version,
               "counter", (unsigned long long)u.counter, "samples", (unsigned long long)u.samples);
        printf("  %-14s %u x %u, %s, %u values, scale %u * 2^%d\n", "delta", u.delta.rows, u.delta.cols,
               u.index_bytes ? "sparse (top-k)" : "dense", u.delta.k, u.delta.m, u.delta.e);
        for (uint32_t i = 0; i < u.n_metrics; i++) {
            printf("  metric %-7u %lld\n", u.metrics[i].key, (long long)u.metrics[i].value);
        }
        return 0;
    }
    if (type == MFL_MSG_MODEL) {
        mfl_model_msg_t m;
        int err = mfl_model_msg_decode(body, len, 0, 0, &m);
        if (err) {
            return err;
        }
        printf("model (format v%d)\n  %-14s %.*s\n  %-14s %llu\n", MFL_PROTO_VERSION, "model id",
               (int)m.model_id_len, m.model_id, "version", (unsigned long long)m.version);
        print_bytes("previous hash", m.prev_hash, 32);
        printf("  %-14s %u x %u int8, scale %u * 2^%d\n", "head", m.head.rows, m.head.cols, m.head.m, m.head.e);
        printf("  %-14s staleness %u, delta norm %llu (%.4g), drift %u (Q8.24)\n", "bounds", m.bounds.max_staleness,
               (unsigned long long)m.bounds.max_delta_norm_q24, (double)m.bounds.max_delta_norm_q24 / 16777216.0,
               m.bounds.drift_max_q24);
        return 0;
    }
    if (type == MFL_MSG_RECEIPT) {
        mfl_receipt_t r;
        int err = mfl_receipt_decode(body, len, &r);
        if (err) {
            return err;
        }
        printf("receipt\n");
        print_bytes("device id", r.device_id, r.device_id_len);
        printf("  %-14s %llu\n  %-14s %s\n  %-14s %llu\n  %-14s %llu\n", "counter", (unsigned long long)r.counter,
               "status", mfl_receipt_status_name(r.status), "model version", (unsigned long long)r.model_version,
               "last counter", (unsigned long long)r.last_counter);
        return 0;
    }
    if (type == MFL_MSG_STATUS) {
        mfl_status_t s;
        int err = mfl_status_decode(body, len, &s);
        if (err) {
            return err;
        }
        printf("status\n  round %llu, model version %llu, accepted %llu, rejected %llu\n",
               (unsigned long long)s.round, (unsigned long long)s.model_version, (unsigned long long)s.accepted,
               (unsigned long long)s.rejected);
        for (uint32_t g = 0; g < s.n_groups; g++) {
            printf("  group %.*s: %llu devices, %llu accepted\n", (int)s.groups[g].name_len, s.groups[g].name,
                   (unsigned long long)s.groups[g].devices, (unsigned long long)s.groups[g].accepted);
        }
        return 0;
    }
    return type;
}

static void inspect_usage(FILE *out)
{
    fprintf(out, "usage: mfl inspect FILE\n"
                 "Prints a microfl message (signed or not) and says whether and why it is invalid\n"
                 "(exit 1 if it is). The signature is not checked: mfl verify --key does that.\n");
}

/* A signed message's headers against its body: microfl messages carry
 * their kid protected and nothing unprotected, and an update's kid is its
 * device id (protocol/microfl.cddl). Returns 0 or MFL_ERR_COSE_HEADER /
 * MFL_ERR_COSE_KID, with the reason in why. */
static int check_headers(const mfl_cose_sign1_t *m, const uint8_t *device_id, size_t device_id_len, char *why,
                         size_t cap)
{
    if (!m->kid || !m->kid_protected || m->unprotected_count) {
        snprintf(why, cap, "%s: microfl messages carry their kid in the protected header and nothing unprotected",
                 mfl_strerror(MFL_ERR_COSE_HEADER));
        return MFL_ERR_COSE_HEADER;
    }
    if (device_id && (m->kid_len != device_id_len || memcmp(m->kid, device_id, device_id_len) != 0)) {
        char kid[4 * 64 + 1], id[4 * MFL_DEVICE_ID_MAX + 1];
        snprintf(why, cap, "the COSE kid '%s' is not the update's device id '%s' (they must be equal; an aggregator "
                           "refuses it with 4.03)", cli_printable(m->kid, m->kid_len < 64 ? m->kid_len : 64, kid,
                                                                 sizeof(kid)),
                 cli_printable(device_id, device_id_len, id, sizeof(id)));
        return MFL_ERR_COSE_KID;
    }
    return 0;
}

int mfl_cmd_inspect(int argc, char **argv)
{
    static const struct option longopts[] = {{"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    static const char *const args[] = {"FILE"};
    cli_t c;
    cli_init(&c, "mfl inspect", inspect_usage);
    if (cli_next(&c, argc, argv, "h", longopts) != -1) {
        return c.status;
    }
    int rc = cli_positionals(&c, argc, argv, args, 1);
    if (rc) {
        return rc;
    }
    const char *path = argv[optind];
    uint8_t *msg = NULL;
    size_t len = 0;
    int err = mfl_read_file(path, &msg, &len);
    if (err) {
        return cli_file_error(&c, path, err);
    }
    const uint8_t *device_id = NULL;
    size_t device_id_len = 0;
    char why[512] = "";
    if (len > 0 && msg[0] == 0xD2) { /* tag 18: COSE_Sign1 */
        mfl_cose_sign1_t m;
        err = mfl_cose_sign1_decode(msg, len, &m);
        if (!err) {
            printf("COSE_Sign1, ES256, %zu bytes\n", len);
            print_bytes(m.kid_protected ? "kid (protected)" : "kid", m.kid ? m.kid : (const uint8_t *)"",
                        m.kid ? m.kid_len : 0);
            print_bytes("signature", m.signature, 64);
            err = inspect_body(m.payload, m.payload_len, &device_id, &device_id_len);
            err = err ? err : check_headers(&m, device_id, device_id_len, why, sizeof(why));
        }
    } else {
        err = inspect_body(msg, len, &device_id, &device_id_len);
    }
    free(msg);
    if (err) {
        printf("INVALID: %s\n", why[0] ? why : mfl_strerror(err));
        return CLI_FAILED;
    }
    printf("well-formed (signature not checked: use mfl verify --key)\n");
    return 0;
}

typedef struct {
    const char *model, *key, *device_id, *out;
    uint64_t counter, base_version, seed;
    uint64_t samples;
    uint32_t top_k;
} update_opts_t;

static int make_update(const cli_t *c, const update_opts_t *o)
{
    uint8_t *image = NULL;
    size_t size;
    mfl_model_t model;
    mfl_dataset_t train;
    mfl_es256_private_t key;
    int err = mfl_key_load_private(o->key, &key);
    if (err) {
        return key_error(c, o->key, err);
    }
    if (cli_check_output(c, o->out) || cli_load_model(c, o->model, &image, &size, &model)) {
        memset(&key, 0, sizeof(key));
        return CLI_FAILED;
    }
    if (cli_load_fmnist(c, NULL, 1, &train)) {
        memset(&key, 0, sizeof(key));
        free(image);
        return CLI_FAILED;
    }
    const size_t mem_size = mfl_learner_mem_size(&model, 64, 8);
    uint8_t *arena = malloc(mfl_model_arena_size(&model)), *mem = aligned_alloc(8, (mem_size + 8) & ~(size_t)7);
    mfl_learner_t l;
    err = arena && mem ? 0 : MFL_ERR_NO_MEMORY;
    err = err ? err : mfl_learner_init(&l, &model, arena, mfl_model_arena_size(&model), mem, mem_size, 64, NULL);
    if (err) {
        cli_fail(c, "%s: cannot learn on this model: %s", o->model, mfl_strerror(err));
    }
    int8_t in[784];
    for (uint64_t i = 0; i < o->samples && !err; i++) {
        const size_t s = (size_t)((o->seed * 7919 + i * 104729) % train.n);
        mfl_image_to_input(train.images + s * 784, 784, in);
        if ((err = mfl_learner_learn(&l, in, 784, train.labels[s])) != 0) {
            cli_fail(c, "learning failed: %s", mfl_strerror(err));
        }
    }
    uint8_t *work = NULL, *dst = NULL;
    int32_t *residual = NULL;
    size_t len = 0;
    if (!err) {
        const size_t id_len = strlen(o->device_id);
        const size_t ws = mfl_update_work_size(&l, o->top_k), cap = mfl_update_max_size(&l, id_len);
        work = aligned_alloc(8, (ws + 8) & ~(size_t)7);
        dst = malloc(cap);
        residual = calloc((size_t)l.head.units * (l.head.features + 1u), sizeof(int32_t));
        const mfl_update_params_t p = {(const uint8_t *)o->device_id, id_len, o->base_version, o->counter, o->top_k};
        err = work && dst && residual ? 0 : MFL_ERR_NO_MEMORY;
        err = err ? err : mfl_update_build(&l, &p, residual, &key, work, ws, dst, cap, &len);
        if (err) {
            cli_fail(c, "cannot build the update: %s", mfl_strerror(err));
        } else if ((err = mfl_write_file(o->out, dst, len)) != 0) {
            cli_file_error(c, o->out, err);
        }
    }
    if (!err) {
        printf("wrote %s: signed update of %zu bytes (%u x %u head, %llu samples learned, %s)\n", o->out, len,
               l.head.units, l.head.features + 1, (unsigned long long)o->samples, o->top_k ? "top-k" : "dense");
    }
    memset(&key, 0, sizeof(key));
    free(work), free(dst), free(residual), free(arena), free(mem), free(image);
    mfl_dataset_free(&train);
    return err ? CLI_FAILED : 0;
}

static void update_usage(FILE *out)
{
    fprintf(out, "usage: mfl update make --model M.mfl --key DEVICE.key --device-id ID -o UPDATE.cose\n"
                 "         [--counter N] [--base-version V] [--samples N] [--top-k K] [--seed N]\n"
                 "Learns N labelled Fashion-MNIST images (1..1000000, default 200) on a device\n"
                 "learner and writes the signed update (COSE_Sign1, kid = device id) of its head delta.\n"
                 "  --device-id ID      1..32 bytes\n"
                 "  --counter N         the update's counter, 1..2^63-1 (default 1)\n"
                 "  --base-version V    the model version learned from, 1..2^63-1 (default 1)\n"
                 "  --top-k K           send the K largest entries (default 0: dense)\n");
}

int mfl_cmd_update(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"model", required_argument, 0, 'm'}, {"key", required_argument, 0, 'k'},
        {"device-id", required_argument, 0, 'i'}, {"counter", required_argument, 0, 'c'},
        {"base-version", required_argument, 0, 'v'}, {"samples", required_argument, 0, 'n'},
        {"top-k", required_argument, 0, 't'}, {"seed", required_argument, 0, 's'},
        {"output", required_argument, 0, 'o'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    /* counters and versions: 1..2^63-1 on the wire (protocol/microfl.cddl) */
    const uint64_t wire_max = (uint64_t)INT64_MAX;
    update_opts_t o = {NULL, NULL, NULL, NULL, 1, 1, 1, 200, 0};
    const char *verb = argc > 1 ? argv[1] : "";
    int opt, rc = 0;
    cli_t c;
    if (strcmp(verb, "make") != 0) {
        cli_init(&c, "mfl update", update_usage);
        if (!strcmp(verb, "-h") || !strcmp(verb, "--help")) {
            update_usage(stdout);
            return 0;
        }
        return verb[0] ? cli_usage_error(&c, "unknown command '%s' (make)", verb)
                       : cli_usage_error(&c, "missing the command: make");
    }
    cli_init(&c, "mfl update make", update_usage);
    argc--, argv++;
    while (!rc && (opt = cli_next(&c, argc, argv, "m:k:i:c:v:n:t:s:o:h", longopts)) != -1) {
        switch (opt) {
        case 'm': o.model = optarg; break;
        case 'k': o.key = optarg; break;
        case 'i':
            if (!optarg[0] || strlen(optarg) > MFL_DEVICE_ID_MAX) {
                rc = cli_usage_error(&c, "--device-id '%s': a device id is 1 to %d bytes", optarg, MFL_DEVICE_ID_MAX);
            }
            o.device_id = optarg;
            break;
        case 'c': rc = cli_u64(&c, "--counter", optarg, 1, wire_max, &o.counter); break;
        case 'v': rc = cli_u64(&c, "--base-version", optarg, 1, wire_max, &o.base_version); break;
        case 'n': rc = cli_u64(&c, "--samples", optarg, 1, 1000000, &o.samples); break;
        case 't': rc = cli_u32(&c, "--top-k", optarg, 0, UINT32_MAX, &o.top_k); break;
        case 's': rc = cli_u64(&c, "--seed", optarg, 0, UINT64_MAX, &o.seed); break;
        case 'o': o.out = optarg; break;
        default: return c.status; /* CLI_EXIT: --help shown (0), or a bad option named (2) */
        }
    }
    if (rc || (rc = cli_positionals(&c, argc, argv, NULL, 0)) != 0) {
        return rc;
    }
    const char *missing = !o.model ? "--model M.mfl" : !o.key ? "--key DEVICE.key" : !o.device_id ? "--device-id ID"
                        : !o.out   ? "-o/--output UPDATE.cose" : NULL;
    if (missing) {
        return cli_usage_error(&c, "missing %s", missing);
    }
    return make_update(&c, &o);
}
