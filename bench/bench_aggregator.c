/*
 * bench_aggregator DATA_DIR PORT DEVICES UPDATES ROWS COLS: a load generator
 * on loopback. It provisions DEVICES identities into the aggregator's store
 * (keys derived from the index), pre-signs UPDATES updates per device
 * (signing is not measured), opens one DTLS-PSK session per device and keeps
 * one update in flight per session. Prints the size of the signed updates,
 * then accepted updates per second and p50/p99 latency; every update gets a
 * real signature check and a committed SQLite transaction on the server.
 *
 * With ACKED_FILE (and TIMEOUT_S), every acknowledged (device, counter) is
 * appended to the file as it arrives; the crash test kills the server
 * during the stream and checks that each of them is stored exactly once.
 *
 * With --probe first, the same requests go to a path the server does not
 * serve (/fl/v1/probe), which libcoap answers 4.04 without calling microfl:
 * the server's cost of DTLS and CoAP for an update, with no update work.
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <coap3/coap.h>

#include "mfl/messages.h"
#include "mfl/host/store.h"

typedef struct {
    char id[16];
    uint8_t psk[16];
    coap_session_t *session;
    uint8_t **msg;
    size_t *len;
    unsigned next, done;
    double sent_at;
    uint8_t token[8];
    size_t token_len;
} device_t;

static device_t *devices;
static unsigned n_devices, n_updates, responses, accepted;
static double *latency, *answered_at;
static FILE *acked;
static int probe; /* --probe: POST to an unserved path */

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void send_next(device_t *d)
{
    coap_pdu_t *pdu = coap_pdu_init(COAP_MESSAGE_CON, COAP_REQUEST_CODE_POST, coap_new_message_id(d->session),
                                    coap_session_max_pdu_size(d->session));
    uint8_t b[2];
    coap_session_new_token(d->session, &d->token_len, d->token);
    coap_add_token(pdu, d->token_len, d->token);
    coap_add_option(pdu, COAP_OPTION_URI_PATH, 2, (const uint8_t *)"fl");
    coap_add_option(pdu, COAP_OPTION_URI_PATH, 2, (const uint8_t *)"v1");
    if (probe) {
        coap_add_option(pdu, COAP_OPTION_URI_PATH, 5, (const uint8_t *)"probe");
    } else {
        coap_add_option(pdu, COAP_OPTION_URI_PATH, 6, (const uint8_t *)"update");
    }
    coap_add_option(pdu, COAP_OPTION_CONTENT_FORMAT, coap_encode_var_safe(b, sizeof(b), 18), b);
    coap_add_data_large_request(d->session, pdu, d->len[d->next], d->msg[d->next], NULL, NULL);
    d->sent_at = now();
    coap_send(d->session, pdu);
}

static coap_response_t on_response(coap_session_t *session, const coap_pdu_t *sent, const coap_pdu_t *received,
                                   const coap_mid_t mid)
{
    (void)sent, (void)mid;
    device_t *d = coap_session_get_app_data(session);
    const coap_bin_const_t token = coap_pdu_get_token(received);
    if (!d || d->done || token.length != d->token_len || memcmp(token.s, d->token, d->token_len)) {
        return COAP_RESPONSE_OK; /* a late copy of an earlier answer: libcoap passes those on too */
    }
    answered_at[responses] = now();
    latency[responses] = answered_at[responses] - d->sent_at;
    responses++;
    if (coap_pdu_get_code(received) == (probe ? COAP_RESPONSE_CODE(404) : COAP_RESPONSE_CODE(204))) {
        accepted++;
        if (acked) { /* acknowledged: the server promised it is durable */
            fprintf(acked, "%s %u\n", d->id, d->next + 1);
            fflush(acked);
        }
    }
    if (++d->next < n_updates) {
        send_next(d);
    } else {
        d->done = 1;
    }
    return COAP_RESPONSE_OK;
}

static int cmp(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Provisions device i and signs its updates. */
static int prepare(mfl_store_t *store, unsigned i, uint16_t rows, uint16_t cols)
{
    device_t *d = &devices[i];
    mfl_es256_private_t key;
    mfl_device_rec_t rec;
    snprintf(d->id, sizeof(d->id), "load%05u", i);
    memset(&key, 0, sizeof(key));
    for (int k = 0; k < 32; k++) {
        key.d[k] = (uint8_t)(i * 131 + k * 7 + 1);
    }
    key.d[0] = 0x11; /* well below the group order */
    memset(&rec, 0, sizeof(rec));
    rec.id_len = strlen(d->id);
    memcpy(rec.id, d->id, rec.id_len);
    for (int k = 0; k < 16; k++) {
        d->psk[k] = rec.psk[k] = (uint8_t)(i + k);
    }
    rec.psk_len = 16;
    snprintf(rec.group, sizeof(rec.group), "g%u", i % 4);
    if (mfl_es256_public_from_private(&key, &rec.pub)) {
        return -1;
    }
    const int err = mfl_store_add_device(store, &rec);
    if (err && err != MFL_ERR_EXISTS) {
        return -1;
    }
    const size_t n = (size_t)rows * cols, cap = n + 512;
    int32_t *delta = malloc(n * sizeof(int32_t));
    int8_t *values = malloc(n), shift[256];
    uint8_t *scratch = malloc(cap);
    d->msg = calloc(n_updates, sizeof(uint8_t *));
    d->len = calloc(n_updates, sizeof(size_t));
    for (unsigned u = 0; u < n_updates; u++) {
        for (size_t j = 0; j < n; j++) {
            delta[j] = (int32_t)((j * 7919 + u * 104729 + i) % 2001) - 1000;
        }
        mfl_update_t up = {.device_id = (const uint8_t *)d->id, .device_id_len = strlen(d->id),
                           .base_version = 1, .counter = u + 1, .samples = 10};
        up.delta.shift = shift;
        up.delta.values = values;
        d->msg[u] = malloc(cap + 128);
        if (mfl_delta_quantize(delta, NULL, rows, cols, (uint32_t)n, &up.delta) ||
            mfl_update_sign(&up, &key, scratch, cap, d->msg[u], cap + 128, &d->len[u])) {
            return -1;
        }
    }
    free(delta), free(values), free(scratch);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "--probe")) {
        probe = 1;
        argv++, argc--;
    }
    if (argc != 7 && argc != 9) {
        fprintf(stderr, "usage: bench_aggregator [--probe] DATA_DIR PORT DEVICES UPDATES ROWS COLS "
                        "[ACKED_FILE TIMEOUT_S]\n");
        return 2;
    }
    const double timeout = argc == 9 ? atof(argv[8]) : 120.0;
    if (argc == 9 && !(acked = fopen(argv[7], "w"))) {
        return 2;
    }
    n_devices = (unsigned)atoi(argv[3]);
    n_updates = (unsigned)atoi(argv[4]);
    const uint16_t rows = (uint16_t)atoi(argv[5]), cols = (uint16_t)atoi(argv[6]);
    devices = calloc(n_devices, sizeof(device_t));
    latency = calloc((size_t)n_devices * n_updates, sizeof(double));
    answered_at = calloc((size_t)n_devices * n_updates, sizeof(double));
    mfl_store_t *store;
    if (mfl_store_open(argv[1], MFL_DURABLE_PROCESS, &store)) {
        return 1;
    }
    for (unsigned i = 0; i < n_devices; i++) {
        if (prepare(store, i, rows, cols)) {
            fprintf(stderr, "bench_aggregator: cannot prepare device %u\n", i);
            return 1;
        }
    }
    mfl_store_close(store);
    size_t min_len = SIZE_MAX, max_len = 0;
    for (unsigned i = 0; i < n_devices; i++) {
        for (unsigned u = 0; u < n_updates; u++) {
            min_len = devices[i].len[u] < min_len ? devices[i].len[u] : min_len;
            max_len = devices[i].len[u] > max_len ? devices[i].len[u] : max_len;
        }
    }
    if (!acked && max_len) {
        printf("update size: %zu-%zu bytes (COSE_Sign1, %u x %u head, signed before the run)\n", min_len,
               max_len, (unsigned)rows, (unsigned)cols);
        fflush(stdout);
    }

    coap_startup();
    coap_set_log_level(getenv("MFL_COAP_DEBUG") ? LOG_DEBUG : LOG_EMERG);
    coap_context_t *ctx = coap_new_context(NULL);
    coap_context_set_block_mode(ctx, COAP_BLOCK_USE_LIBCOAP | COAP_BLOCK_SINGLE_BODY);
    coap_register_response_handler(ctx, on_response);
    coap_address_t dst;
    coap_address_init(&dst);
    dst.addr.sin.sin_family = AF_INET;
    dst.addr.sin.sin_port = htons((uint16_t)atoi(argv[2]));
    dst.size = sizeof(dst.addr.sin);
    inet_pton(AF_INET, "127.0.0.1", &dst.addr.sin.sin_addr);
    for (unsigned i = 0; i < n_devices; i++) {
        coap_dtls_cpsk_t cpsk;
        memset(&cpsk, 0, sizeof(cpsk));
        cpsk.version = COAP_DTLS_CPSK_SETUP_VERSION;
        cpsk.psk_info.identity.s = (const uint8_t *)devices[i].id;
        cpsk.psk_info.identity.length = strlen(devices[i].id);
        cpsk.psk_info.key.s = devices[i].psk;
        cpsk.psk_info.key.length = 16;
        devices[i].session = coap_new_client_session_psk2(ctx, NULL, &dst, COAP_PROTO_DTLS, &cpsk);
        coap_session_set_app_data(devices[i].session, &devices[i]);
    }
    const double start = now();
    for (unsigned i = 0; i < n_devices; i++) {
        send_next(&devices[i]);
    }
    const unsigned total = n_devices * n_updates;
    while (responses < total && now() - start < timeout) {
        coap_io_process(ctx, 10);
    }
    const double elapsed = now() - start;
    /* Steady state: the middle 80 % of the answers. The whole run's rate is
     * set by its slowest device, often one whose packet the kernel dropped
     * during the handshake burst and who waited out a CoAP retransmission. */
    const unsigned lo = responses / 10, hi = responses * 9 / 10;
    const double steady = hi > lo && answered_at[hi] > answered_at[lo] ? (hi - lo) / (answered_at[hi] - answered_at[lo])
                                                                       : 0.0;
    qsort(latency, responses, sizeof(double), cmp);
    printf("%sdevices %u, updates %u, responses %u, %s %u in %.2f s: %.0f/s overall, %.0f/s steady "
           "(middle 80 %%); latency p50 %.2f ms, p99 %.2f ms (DTLS handshakes included in the first requests)\n",
           probe ? "probe (unserved path, 4.04): " : "", n_devices, total, responses, probe ? "answered 4.04" : "accepted",
           accepted, elapsed, accepted / elapsed, steady,
           responses ? 1e3 * latency[responses / 2] : 0.0, responses ? 1e3 * latency[responses * 99 / 100] : 0.0);
    coap_free_context(ctx);
    coap_cleanup();
    if (acked) {
        fclose(acked);
        return 0; /* the crash test judges from the file */
    }
    return responses == total ? 0 : 1;
}
