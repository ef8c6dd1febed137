/* `mfl keygen`, `mfl verify`, `mfl inspect`, `mfl update make`: keys and messages. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "mfl/cbor.h"
#include "mfl/host/features.h"
#include "mfl/host/host_io.h"
#include "mfl/host/keys.h"
#include "mfl/messages.h"
#include "mfl/host/model_file.h"
#include "mfl/update_builder.h"

int mfl_cmd_keygen(int argc, char **argv)
{
    if (argc != 2 || argv[1][0] == '-') {
        fprintf(argc == 2 ? stdout : stderr, "usage: mfl keygen PREFIX\n"
                                             "Writes a P-256 key pair: PREFIX.key (PEM, mode 0600) and PREFIX.pub.\n");
        return argc == 2 ? 0 : 2;
    }
    char priv[4096], pub[4096];
    snprintf(priv, sizeof(priv), "%s.key", argv[1]);
    snprintf(pub, sizeof(pub), "%s.pub", argv[1]);
    mfl_es256_private_t key;
    int err = mfl_key_generate(&key);
    err = err ? err : mfl_key_save(&key, priv, pub);
    memset(&key, 0, sizeof(key));
    if (err) {
        fprintf(stderr, "mfl keygen: %s\n", mfl_strerror(err));
        return 1;
    }
    printf("wrote %s and %s\n", priv, pub);
    return 0;
}

int mfl_cmd_verify(int argc, char **argv)
{
    static const struct option longopts[] = {{"key", required_argument, 0, 'k'}, {"aad", required_argument, 0, 'a'},
                                             {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *key_path = NULL, *aad_hex = "";
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "k:a:h", longopts, NULL)) != -1) {
        if (c == 'k') {
            key_path = optarg;
        } else if (c == 'a') {
            aad_hex = optarg;
        } else {
            fprintf(c == 'h' ? stdout : stderr, "usage: mfl verify --key PUB [--aad HEX] FILE\n"
                                                "Checks a COSE_Sign1 (ES256) message's structure and signature.\n");
            return c == 'h' ? 0 : 2;
        }
    }
    uint8_t aad[1024];
    size_t aad_len = 0;
    if (!key_path || argc - optind != 1 || (aad_hex[0] && mfl_hex_decode(aad_hex, aad, sizeof(aad), &aad_len))) {
        fprintf(stderr, "usage: mfl verify --key PUB [--aad HEX] FILE\n");
        return 2;
    }
    mfl_es256_public_t pub;
    uint8_t *msg = NULL;
    size_t len = 0;
    mfl_cose_sign1_t m;
    int err = mfl_key_load_public(key_path, &pub);
    if (err) {
        fprintf(stderr, "mfl verify: %s: %s\n", key_path, mfl_strerror(err));
        return 1;
    }
    err = mfl_read_file(argv[optind], &msg, &len);
    err = err ? err : mfl_cose_sign1_decode(msg, len, &m);
    err = err ? err : mfl_cose_sign1_verify(&m, aad, aad_len, &pub);
    if (err) {
        printf("%s: INVALID: %s\n", argv[optind], mfl_strerror(err));
    } else {
        printf("%s: valid ES256 signature (kid of %zu bytes%s)\n", argv[optind], m.kid ? m.kid_len : 0,
               m.kid && !m.kid_protected ? ", unprotected" : "");
    }
    free(msg);
    return err ? 1 : 0;
}

static void print_bytes(const char *label, const uint8_t *b, size_t n)
{
    printf("  %-14s ", label);
    for (size_t i = 0; i < n && i < 32; i++) {
        printf("%02x", b[i]);
    }
    printf("%s (%zu bytes)\n", n > 32 ? "..." : "", n);
}

static int inspect_body(const uint8_t *body, size_t len)
{
    const int type = mfl_msg_type(body, len);
    if (type == MFL_MSG_UPDATE) {
        mfl_update_t u;
        int err = mfl_update_decode(body, len, 0, 0, &u);
        if (err) {
            return err;
        }
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

int mfl_cmd_inspect(int argc, char **argv)
{
    if (argc != 2 || argv[1][0] == '-') {
        fprintf(argc == 2 ? stdout : stderr, "usage: mfl inspect FILE\n"
                                             "Prints a microfl message (signed or not) and says whether and why it "
                                             "is invalid.\n");
        return argc == 2 ? 0 : 2;
    }
    uint8_t *msg = NULL;
    size_t len = 0;
    if (mfl_read_file(argv[1], &msg, &len)) {
        fprintf(stderr, "mfl inspect: cannot read %s\n", argv[1]);
        return 1;
    }
    int err;
    if (len > 0 && msg[0] == 0xD2) { /* tag 18: COSE_Sign1 */
        mfl_cose_sign1_t m;
        err = mfl_cose_sign1_decode(msg, len, &m);
        if (!err) {
            printf("COSE_Sign1, ES256, %zu bytes\n", len);
            print_bytes(m.kid_protected ? "kid (protected)" : "kid", m.kid ? m.kid : (const uint8_t *)"",
                        m.kid ? m.kid_len : 0);
            print_bytes("signature", m.signature, 64);
            err = inspect_body(m.payload, m.payload_len);
            if (!err && (!m.kid || !m.kid_protected || m.unprotected_count)) {
                err = MFL_ERR_COSE_HEADER; /* microfl messages carry kid protected only */
            }
        }
    } else {
        err = inspect_body(msg, len);
    }
    free(msg);
    if (err) {
        printf("INVALID: %s\n", mfl_strerror(err));
        return 1;
    }
    printf("well-formed (signature not checked: use mfl verify --key)\n");
    return 0;
}

static int make_update(const char *model_path, const char *key_path, const char *device_id, uint64_t counter,
                       uint64_t base_version, size_t samples, uint32_t top_k, uint64_t seed, const char *out)
{
    char msg[256] = "";
    uint8_t *image = NULL;
    size_t size;
    mfl_model_t model;
    mfl_dataset_t train;
    mfl_es256_private_t key;
    int err = mfl_key_load_private(key_path, &key);
    if (err) {
        fprintf(stderr, "mfl update make: %s: %s\n", key_path, mfl_strerror(err));
        return 1;
    }
    err = mfl_model_file_read(model_path, &image, &size, msg, sizeof(msg));
    err = err ? err : mfl_model_load(&model, image, size);
    err = err ? err : mfl_fmnist_load(NULL, 1, &train, msg, sizeof(msg));
    if (err) {
        fprintf(stderr, "mfl update make: %s\n", msg[0] ? msg : mfl_strerror(err));
        free(image);
        return 1;
    }
    const size_t mem_size = mfl_learner_mem_size(&model, 64, 8);
    uint8_t *arena = malloc(mfl_model_arena_size(&model)), *mem = aligned_alloc(8, (mem_size + 8) & ~(size_t)7);
    mfl_learner_t l;
    err = mfl_learner_init(&l, &model, arena, mfl_model_arena_size(&model), mem, mem_size, 64, NULL);
    int8_t in[784];
    for (size_t i = 0; i < samples && !err; i++) {
        const size_t s = (size_t)((seed * 7919 + i * 104729) % train.n);
        mfl_image_to_input(train.images + s * 784, 784, in);
        err = mfl_learner_learn(&l, in, 784, train.labels[s]);
    }
    uint8_t *work = NULL, *dst = NULL;
    int32_t *residual = NULL;
    size_t len = 0;
    if (!err) {
        const size_t ws = mfl_update_work_size(&l, top_k), cap = mfl_update_max_size(&l, strlen(device_id));
        work = aligned_alloc(8, (ws + 8) & ~(size_t)7);
        dst = malloc(cap);
        residual = calloc((size_t)l.head.units * (l.head.features + 1u), sizeof(int32_t));
        const mfl_update_params_t p = {(const uint8_t *)device_id, strlen(device_id), base_version, counter, top_k};
        err = mfl_update_build(&l, &p, residual, &key, work, ws, dst, cap, &len);
        err = err ? err : mfl_write_file(out, dst, len);
    }
    if (err) {
        fprintf(stderr, "mfl update make: %s\n", mfl_strerror(err));
    } else {
        printf("wrote %s: signed update of %zu bytes (%u x %u head, %zu samples learned, %s)\n", out, len,
               l.head.units, l.head.features + 1, samples, top_k ? "top-k" : "dense");
    }
    memset(&key, 0, sizeof(key));
    free(work), free(dst), free(residual), free(arena), free(mem), free(image);
    mfl_dataset_free(&train);
    return err ? 1 : 0;
}

int mfl_cmd_update(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"model", required_argument, 0, 'm'}, {"key", required_argument, 0, 'k'},
        {"device-id", required_argument, 0, 'i'}, {"counter", required_argument, 0, 'c'},
        {"base-version", required_argument, 0, 'v'}, {"samples", required_argument, 0, 'n'},
        {"top-k", required_argument, 0, 't'}, {"seed", required_argument, 0, 's'},
        {"output", required_argument, 0, 'o'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *model = NULL, *key = NULL, *id = NULL, *out = NULL;
    uint64_t counter = 1, base = 1, seed = 1;
    size_t samples = 200;
    uint32_t top_k = 0;
    int c;
    if (argc < 2 || strcmp(argv[1], "make") != 0) {
        fprintf(stderr, "usage: mfl update make --model M --key K --device-id ID -o OUT [options]\n");
        return 2;
    }
    optind = 1;
    while ((c = getopt_long(argc - 1, argv + 1, "m:k:i:c:v:n:t:s:o:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case 'k': key = optarg; break;
        case 'i': id = optarg; break;
        case 'c': counter = strtoull(optarg, NULL, 10); break;
        case 'v': base = strtoull(optarg, NULL, 10); break;
        case 'n': samples = strtoull(optarg, NULL, 10); break;
        case 't': top_k = (uint32_t)strtoul(optarg, NULL, 10); break;
        case 's': seed = strtoull(optarg, NULL, 10); break;
        case 'o': out = optarg; break;
        default:
            fprintf(c == 'h' ? stdout : stderr,
                    "usage: mfl update make --model M.mfl --key DEVICE.key --device-id ID -o UPDATE.cose\n"
                    "         [--counter N] [--base-version V] [--samples N] [--top-k K] [--seed N]\n"
                    "Learns N labelled Fashion-MNIST images on a device learner and writes the signed\n"
                    "update (COSE_Sign1, kid = device id) of its head delta.\n");
            return c == 'h' ? 0 : 2;
        }
    }
    if (!model || !key || !id || !out || strlen(id) == 0 || strlen(id) > MFL_DEVICE_ID_MAX) {
        fprintf(stderr, "mfl update make: --model, --key, --device-id (1..32 bytes) and -o are required\n");
        return 2;
    }
    return make_update(model, key, id, counter, base, samples, top_k, seed, out);
}
