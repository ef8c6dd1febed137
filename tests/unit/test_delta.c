/*
 * The delta codec: quantization error bounds, top-k selection against a
 * brute-force reference, and error feedback: over many rounds, everything
 * sent plus the final residual equals everything that was to be sent,
 * exactly (nothing is lost).
 */
#include <stdlib.h>
#include <string.h>

#include "mfl/delta.h"
#include "test_support.h"

enum { ROWS = 10, COLS = 65, N = ROWS * COLS };

static uint32_t seed = 3;
static int32_t rnd(int32_t span)
{
    seed = seed * 1103515245u + 12345u;
    return (int32_t)((seed >> 8) % (uint32_t)(2 * span + 1)) - span;
}

static void test_dense_error_bound(void **state)
{
    (void)state;
    int32_t delta[N], out[N], residual[N] = {0};
    int8_t shift[ROWS], values[N];
    for (int i = 0; i < N; i++) {
        delta[i] = rnd(1 << (10 + (i / COLS))); /* rows of very different ranges */
    }
    mfl_delta_q_t q = {.shift = shift, .values = values};
    assert_int_equal(mfl_delta_quantize(delta, residual, ROWS, COLS, N, &q), 0);
    mfl_delta_expand(&q, out);
    for (int r = 0; r < ROWS; r++) {
        int32_t max = 0;
        for (int c = 0; c < COLS; c++) max = abs(delta[r * COLS + c]) > max ? abs(delta[r * COLS + c]) : max;
        for (int c = 0; c < COLS; c++) {
            const int i = r * COLS + c;
            /* per-row scales: the error is at most half a step of that row's scale,
             * and the step is at most max / 63.5 */
            assert_true(abs(out[i] - delta[i]) <= max / 127 + 1);
            assert_int_equal(residual[i], delta[i] - out[i]);
        }
    }
}

static void test_topk_picks_the_largest(void **state)
{
    (void)state;
    int32_t delta[N], residual[N] = {0};
    int8_t shift[ROWS], values[65];
    uint32_t index[65];
    for (int i = 0; i < N; i++) delta[i] = rnd(100000);
    delta[5] = delta[6] = 99999999; /* a tie among the largest: lower index first */
    mfl_delta_q_t q = {.shift = shift, .values = values, .index = index};
    assert_int_equal(mfl_delta_quantize(delta, residual, ROWS, COLS, 65, &q), 0);
    /* brute force: the 65th largest magnitude */
    int32_t mags[N];
    for (int i = 0; i < N; i++) mags[i] = abs(delta[i]);
    for (int i = 0; i < 65; i++) { /* partial selection sort */
        for (int j = i + 1; j < N; j++) {
            if (mags[j] > mags[i]) { int32_t t = mags[i]; mags[i] = mags[j]; mags[j] = t; }
        }
    }
    for (uint32_t j = 0; j < 65; j++) {
        assert_true(abs(delta[index[j]]) >= mags[64]);
        if (j) assert_true(index[j] > index[j - 1]);
    }
    /* LEB128 index coding round trip, and its checks */
    uint8_t leb[400];
    uint32_t back[65];
    const size_t len = mfl_delta_index_encode(index, 65, leb, sizeof(leb));
    assert_true(len > 0);
    assert_int_equal(mfl_delta_index_decode(leb, len, 65, N, back), 0);
    assert_memory_equal(back, index, sizeof(index));
    assert_int_equal(mfl_delta_index_decode(leb, len, 65, index[64], back), MFL_ERR_PROTO_DIMENSION);
    assert_int_equal(mfl_delta_index_decode(leb, len - 1, 65, N, back), MFL_ERR_PROTO_VALUE);
    const uint8_t not_ascending[] = {5, 0};
    assert_int_equal(mfl_delta_index_decode(not_ascending, 2, 2, N, back), MFL_ERR_PROTO_VALUE);
    const uint8_t overlong[] = {0x85, 0x00};
    assert_int_equal(mfl_delta_index_decode(overlong, 2, 1, N, back), MFL_ERR_PROTO_VALUE);
}

static void test_error_feedback_loses_nothing(void **state)
{
    (void)state;
    int32_t residual[N] = {0}, delta[N], out[N];
    int64_t wanted[N] = {0}, sent[N] = {0};
    int8_t shift[ROWS], values[N];
    uint32_t index[N];
    for (int round = 0; round < 40; round++) {
        for (int i = 0; i < N; i++) {
            delta[i] = rnd(1 << 16);
            wanted[i] += delta[i];
        }
        mfl_delta_q_t q = {.shift = shift, .values = values, .index = index};
        const uint32_t k = round % 2 ? N / 10 : N; /* alternate top-10 % and dense */
        assert_int_equal(mfl_delta_quantize(delta, residual, ROWS, COLS, k, &q), 0);
        if (k == N) q.index = NULL;
        mfl_delta_expand(&q, out);
        for (int i = 0; i < N; i++) sent[i] += out[i];
    }
    for (int i = 0; i < N; i++) {
        assert_true(sent[i] + residual[i] == wanted[i]);
    }
}

static void test_zero_and_invalid(void **state)
{
    (void)state;
    int32_t delta[N] = {0}, out[N];
    int8_t shift[ROWS], values[N];
    mfl_delta_q_t q = {.shift = shift, .values = values};
    assert_int_equal(mfl_delta_quantize(delta, NULL, ROWS, COLS, N, &q), 0);
    assert_int_equal(q.m, 0);
    mfl_delta_expand(&q, out);
    for (int i = 0; i < N; i++) assert_int_equal(out[i], 0);
    assert_int_equal(mfl_delta_quantize(delta, NULL, ROWS, COLS, 10, &q), MFL_ERR_INVALID_ARG); /* no index */
    assert_int_equal(mfl_delta_quantize(delta, NULL, 0, COLS, 10, &q), MFL_ERR_INVALID_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dense_error_bound),
        cmocka_unit_test(test_topk_picks_the_largest),
        cmocka_unit_test(test_error_feedback_loses_nothing),
        cmocka_unit_test(test_zero_and_invalid),
    };
    return cmocka_run_group_tests_name("delta", tests, NULL, NULL);
}
