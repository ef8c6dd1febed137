/*
 * The delta codec (see include/mfl/delta.h). Integer only.
 *
 * Scale choice: M = max |v| over the sent entries; the base step is
 * M / 127 rounded up to an 8-bit mantissa times a power of two, so that
 * M / step <= 127. Row r uses step * 2^s_r with the most negative s_r
 * that still keeps its own maximum within 127.
 */
#include <string.h>

#include "mfl/delta.h"
#include "mfl/error.h"

/* Updates refuse steps above one real unit (MFL_UPDATE_STEP_MAX in
 * messages.h; the codec does not depend on the messages). */
#define MFL_UPDATE_STEP_LIMIT (1u << 24)

static uint32_t magnitude(int64_t v)
{
    const int64_t a = v < 0 ? -v : v;
    return a > UINT32_MAX ? UINT32_MAX : (uint32_t)a;
}

/* The k-th largest magnitude among n values (k >= 1): a binary search on
 * the threshold, counting, so no sorting and no memory. */
static uint32_t kth_largest(const int32_t *delta, const int32_t *residual, uint32_t n, uint32_t k)
{
    uint32_t lo = 0, hi = UINT32_MAX; /* answer in [lo, hi] */
    while (lo < hi) {
        const uint32_t mid = lo + (hi - lo) / 2 + 1;
        uint32_t count = 0;
        for (uint32_t i = 0; i < n; i++) {
            count += magnitude((int64_t)delta[i] + (residual ? residual[i] : 0)) >= mid;
        }
        if (count >= k) {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    return lo;
}

/* round(v / step) with step = m * 2^sh (sh may be negative), ties away. */
static int64_t divide_by_step(int64_t v, uint16_t m, int sh)
{
    /* compare in a common scale: v * 2^-sh / m */
    int64_t num = v;
    int64_t den = m;
    if (sh >= 0) {
        if (sh > 40) {
            return 0;
        }
        den <<= sh;
    } else {
        if (-sh > 30) {
            return v == 0 ? 0 : (v > 0 ? INT32_MAX : INT32_MIN); /* far beyond int8: caller clamps */
        }
        num *= (int64_t)1 << -sh;
    }
    return num >= 0 ? (num + den / 2) / den : -((-num + den / 2) / den);
}

int32_t mfl_delta_dequant(const mfl_delta_q_t *q, uint16_t row, int8_t value)
{
    const int sh = q->e + q->shift[row];
    const int64_t v = (int64_t)value * q->m;
    if (sh >= 0) {
        const int64_t r = sh > 31 ? (v ? (v > 0 ? INT32_MAX : INT32_MIN) : 0) : v * ((int64_t)1 << sh);
        return r > INT32_MAX ? INT32_MAX : r < INT32_MIN ? INT32_MIN : (int32_t)r;
    }
    if (-sh > 62) {
        return 0;
    }
    const int64_t d = (int64_t)1 << -sh;
    return (int32_t)(v >= 0 ? (v + d / 2) / d : -((-v + d / 2) / d));
}

/* Base mantissa/exponent: the smallest step m * 2^e >= max / 127 with an
 * 8-bit mantissa (one CBOR byte less than 16 bits; the step is at most
 * 1/128 larger than needed). */
static void base_scale(uint32_t max, uint16_t *m, int16_t *e)
{
    if (max == 0) {
        *m = 0;
        *e = 0;
        return;
    }
    if (max > 127u * MFL_UPDATE_STEP_LIMIT) {
        *m = 128; /* the largest step an update may use (2^24); the excess stays in the residual */
        *e = 17;
        return;
    }
    /* step = ceil(max * 2^15 / 127) / 2^15, normalised to [2^7, 2^8) */
    uint64_t num = ((uint64_t)max << 15) + 126;
    uint64_t step = num / 127; /* step in units of 2^-15 */
    int exp = -15;
    while (step >= (1u << 8)) {
        step = (step + 1) >> 1; /* round up keeps step * 127 >= max */
        exp++;
    }
    while (step < (1u << 7)) {
        step <<= 1;
        exp--;
    }
    *m = (uint16_t)step;
    *e = (int16_t)exp;
}

/* Row offset: the most negative s (>= MFL_DELTA_MIN_SHIFT) with
 * max_row <= 127 * m * 2^(e+s). */
static int8_t row_shift(uint32_t row_max, uint16_t m, int16_t e)
{
    int8_t s = 0;
    while (s > MFL_DELTA_MIN_SHIFT && (row_max == 0 || divide_by_step(row_max, m, e + s - 1) <= 127)) {
        s--;
    }
    return s;
}

int mfl_delta_quantize(const int32_t *delta, int32_t *residual, uint16_t rows, uint16_t cols, uint32_t k,
                       mfl_delta_q_t *q)
{
    const uint32_t n = (uint32_t)rows * cols;
    if (!delta || !q || !q->shift || !q->values || rows == 0 || cols == 0 || rows > MFL_DELTA_MAX_ROWS ||
        cols > MFL_DELTA_MAX_COLS || k == 0 || k > n || (k < n && !q->index)) {
        return MFL_ERR_INVALID_ARG;
    }
    q->rows = rows;
    q->cols = cols;
    q->k = k;
    const int sparse = k < n;
    const uint32_t threshold = sparse ? kth_largest(delta, residual, n, k) : 0;
    /* which entries are sent: above the threshold, then ties in index order */
    uint32_t above = 0;
    for (uint32_t i = 0; sparse && i < n; i++) {
        above += magnitude((int64_t)delta[i] + (residual ? residual[i] : 0)) > threshold;
    }
    uint32_t ties_left = k - above;
    /* pass 1: selection and maxima */
    uint32_t max = 0, row_max[MFL_DELTA_MAX_ROWS] = {0};
    uint32_t taken = 0;
    for (uint32_t i = 0; i < n; i++) {
        const uint32_t a = magnitude((int64_t)delta[i] + (residual ? residual[i] : 0));
        int sent = !sparse || a > threshold || (a == threshold && ties_left > 0);
        if (sparse && sent && a == threshold) {
            ties_left--;
        }
        if (sent) {
            if (sparse) {
                q->index[taken] = i;
            }
            taken++;
            max = a > max ? a : max;
            row_max[i / cols] = a > row_max[i / cols] ? a : row_max[i / cols];
        }
    }
    base_scale(max, &q->m, &q->e);
    for (uint16_t r = 0; r < rows; r++) {
        q->shift[r] = q->m ? row_shift(row_max[r], q->m, q->e) : 0;
    }
    /* pass 2: values and residual */
    uint32_t j = 0;
    for (uint32_t i = 0; i < n; i++) {
        const int64_t v = (int64_t)delta[i] + (residual ? residual[i] : 0);
        const int is_sent = !sparse || (j < k && q->index[j] == i);
        int64_t left = v;
        if (is_sent) {
            const uint16_t row = (uint16_t)(i / cols);
            int64_t qv = q->m ? divide_by_step(v, q->m, q->e + q->shift[row]) : 0;
            qv = qv > 127 ? 127 : qv < -127 ? -127 : qv;
            q->values[j++] = (int8_t)qv;
            left = v - mfl_delta_dequant(q, row, (int8_t)qv);
        }
        if (residual) {
            residual[i] = left > INT32_MAX ? INT32_MAX : left < INT32_MIN ? INT32_MIN : (int32_t)left;
        }
    }
    return 0;
}

void mfl_delta_expand(const mfl_delta_q_t *q, int32_t *out)
{
    const uint32_t n = (uint32_t)q->rows * q->cols;
    memset(out, 0, (size_t)n * sizeof(int32_t));
    for (uint32_t j = 0; j < q->k; j++) {
        const uint32_t i = q->index ? q->index[j] : j;
        out[i] = mfl_delta_dequant(q, (uint16_t)(i / q->cols), q->values[j]);
    }
}

size_t mfl_delta_index_encode(const uint32_t *index, uint32_t k, uint8_t *dst, size_t cap)
{
    size_t len = 0;
    uint32_t prev = 0;
    for (uint32_t j = 0; j < k; j++) {
        uint32_t gap = j ? index[j] - prev : index[j];
        prev = index[j];
        do {
            if (len == cap) {
                return 0;
            }
            const uint8_t byte = (uint8_t)(gap & 0x7F);
            gap >>= 7;
            dst[len++] = gap ? (uint8_t)(byte | 0x80) : byte;
        } while (gap);
    }
    return len;
}

int mfl_delta_index_decode(const uint8_t *src, size_t len, uint32_t k, uint32_t bound, uint32_t *index)
{
    size_t pos = 0;
    uint64_t prev = 0;
    for (uint32_t j = 0; j < k; j++) {
        uint64_t gap = 0;
        int shift = 0;
        for (;;) {
            if (pos == len || shift > 28) {
                return MFL_ERR_PROTO_VALUE; /* truncated or over-long varint */
            }
            const uint8_t b = src[pos++];
            gap |= (uint64_t)(b & 0x7F) << shift;
            shift += 7;
            if (!(b & 0x80)) {
                if (b == 0 && shift > 7) {
                    return MFL_ERR_PROTO_VALUE; /* non-minimal varint */
                }
                break;
            }
        }
        if (j > 0 && gap == 0) {
            return MFL_ERR_PROTO_VALUE; /* indices must strictly ascend */
        }
        const uint64_t i = j ? prev + gap : gap;
        if (i >= bound) {
            return MFL_ERR_PROTO_DIMENSION;
        }
        if (index) {
            index[j] = (uint32_t)i;
        }
        prev = i;
    }
    return pos == len ? 0 : MFL_ERR_PROTO_DIMENSION;
}
