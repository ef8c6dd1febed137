/*
 * bench_protocol OP N: N signatures (OP = sign) or N verifications
 * (OP = verify) of a 770-byte update, or (OP = sizes) the encoded sizes of
 * signed updates. scripts/bench.sh runs sign/verify under callgrind with
 * --toggle-collect on one_sign / one_verify, once per crypto backend.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mfl/error.h"
#include "mfl/messages.h"

static mfl_es256_private_t key;
static mfl_es256_public_t pub;

__attribute__((noinline)) int one_sign(const uint8_t *body, size_t len, uint8_t *out, size_t cap, size_t *n);
__attribute__((noinline)) int one_verify(const uint8_t *msg, size_t len);

__attribute__((noinline)) int one_sign(const uint8_t *body, size_t len, uint8_t *out, size_t cap, size_t *n)
{
    return mfl_cose_sign1_encode((const uint8_t *)"dev1", 4, body, len, NULL, 0, &key, out, cap, n);
}

__attribute__((noinline)) int one_verify(const uint8_t *msg, size_t len)
{
    mfl_cose_sign1_t m;
    int err = mfl_cose_sign1_decode(msg, len, &m);
    return err ? err : mfl_cose_sign1_verify(&m, NULL, 0, &pub);
}

/* A signed update of a rows x cols delta with k values. */
static size_t signed_update(uint16_t rows, uint16_t cols, uint32_t k, uint8_t *out, size_t cap)
{
    const uint32_t n = (uint32_t)rows * cols;
    int32_t *delta = malloc(n * sizeof(int32_t));
    int8_t *values = malloc(n), shift[256];
    uint32_t *index = malloc(n * sizeof(uint32_t));
    uint8_t *scratch = malloc(cap);
    for (uint32_t i = 0; i < n; i++) {
        delta[i] = (int32_t)((i * 2654435761u) % 200001) - 100000;
    }
    mfl_update_t u = {.device_id = (const uint8_t *)"dev1", .device_id_len = 4, .base_version = 12,
                      .counter = 345, .samples = 200};
    u.delta.shift = shift;
    u.delta.values = values;
    u.delta.index = k < n ? index : NULL;
    size_t len = 0;
    if (mfl_delta_quantize(delta, NULL, rows, cols, k, &u.delta) ||
        mfl_update_sign(&u, &key, scratch, cap, out, cap, &len)) {
        len = 0;
    }
    free(delta), free(values), free(index), free(scratch);
    return len;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: bench_protocol sign|verify|sizes N\n");
        return 2;
    }
    memset(key.d, 0x5A, sizeof(key.d));
    if (mfl_es256_public_from_private(&key, &pub)) {
        return 1;
    }
    static uint8_t msg[16384];
    const int n = atoi(argv[2]);
    if (!strcmp(argv[1], "sizes")) {
        printf("%-8s %-12s %8s %8s %9s\n", "head", "delta", "values", "bytes", "overhead");
        const uint16_t heads[2][2] = {{10, 65}, {10, 257}};
        for (int h = 0; h < 2; h++) {
            const uint32_t all = (uint32_t)heads[h][0] * heads[h][1];
            for (int sparse = 0; sparse < 2; sparse++) {
                const uint32_t k = sparse ? all / 10 : all;
                const size_t len = signed_update(heads[h][0], heads[h][1], k, msg, sizeof(msg));
                printf("%ux%-5u %-12s %8u %8zu %9zu\n", heads[h][0], heads[h][1] - 1,
                       sparse ? "top-k 10 %" : "dense int8", k, len, len - k);
            }
        }
        printf("(4-byte device id; columns = features + 1 for the bias; counter 345, base 12, 200 samples)\n");
        return 0;
    }
    const size_t len = signed_update(10, 65, 650, msg, sizeof(msg));
    int err = 0;
    for (int i = 0; i < n && !err; i++) {
        size_t out_len;
        static uint8_t out[16384];
        err = !strcmp(argv[1], "sign") ? one_sign(msg + 100, 600, out, sizeof(out), &out_len) : one_verify(msg, len);
    }
    printf("%s: %s x %d: %s\n", mfl_crypto_backend(), argv[1], n, err ? mfl_strerror(err) : "ok");
    return err ? 1 : 0;
}
