/*
 * The counters behind /fl/v1/status and /metrics. Accepted updates and
 * rounds are the store's own (every device's count; the model version);
 * refusals, duplicates and publish failures live in memory and are saved
 * to the store's `meta` table every few seconds (server.c) and at
 * shutdown, so a restart continues them (a kill -9 loses at most the last
 * few seconds of those). Saving per request would let refused traffic,
 * which needs no key, make the server write.
 */
#include <stdio.h>
#include <string.h>

#include "aggregator.h"

const char *const agg_refusal_names[AGG_REFUSED_COUNT] = {
    "malformed", "identity", "unknown_device", "signature", "delta", "counter_used", "stale", "samples", "handshake",
};

#define N_SAVED (AGG_REFUSED_COUNT + 2)

static void saved_names(const char *names[N_SAVED], char buf[AGG_REFUSED_COUNT][40])
{
    for (int i = 0; i < AGG_REFUSED_COUNT; i++) {
        snprintf(buf[i], sizeof(buf[i]), "refused.%s", agg_refusal_names[i]);
        names[i] = buf[i];
    }
    names[AGG_REFUSED_COUNT] = "duplicates";
    names[AGG_REFUSED_COUNT + 1] = "publish_failures";
}

static uint64_t *saved_value(agg_counters_t *c, int i)
{
    return i < AGG_REFUSED_COUNT ? &c->refused[i] : i == AGG_REFUSED_COUNT ? &c->duplicates : &c->publish_failures;
}

/* Updates refused (handshakes are not updates): the status's `rejected`. */
static uint64_t updates_refused(const agg_counters_t *c)
{
    uint64_t n = 0;
    for (int i = 0; i < AGG_REFUSED_COUNT; i++) {
        n += i == AGG_REFUSED_HANDSHAKE ? 0 : c->refused[i];
    }
    return n;
}

void agg_count_refusal(agg_state_t *s, enum agg_refusal why)
{
    s->counters.refused[why]++;
    s->rejected = updates_refused(&s->counters);
    s->counters_dirty = 1;
}

int agg_counters_load(agg_state_t *s)
{
    const char *names[N_SAVED];
    char buf[AGG_REFUSED_COUNT][40];
    saved_names(names, buf);
    for (int i = 0; i < N_SAVED; i++) {
        const int err = mfl_store_meta_get_int(s->store, names[i], saved_value(&s->counters, i));
        if (err && err != MFL_ERR_NO_MODEL) {
            return err;
        }
    }
    s->rejected = updates_refused(&s->counters);
    s->rounds = s->version > 1 ? s->version - 1 : 0;
    return mfl_store_total_accepted(s->store, &s->accepted);
}

int agg_counters_save(agg_state_t *s)
{
    if (!s->counters_dirty || !s->store) {
        return 0;
    }
    const char *names[N_SAVED];
    char buf[AGG_REFUSED_COUNT][40];
    uint64_t values[N_SAVED];
    saved_names(names, buf);
    for (int i = 0; i < N_SAVED; i++) {
        values[i] = *saved_value(&s->counters, i);
    }
    const int err = mfl_store_meta_put_ints(s->store, names, values, N_SAVED);
    s->counters_dirty = err != 0;
    return err;
}

void agg_escape(const uint8_t *data, size_t len, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; data && i < len && o + 5 <= cap; i++) {
        const uint8_t b = data[i];
        if (b >= 0x20 && b < 0x7f && b != '"' && b != '\\') {
            out[o++] = (char)b;
        } else {
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", b);
        }
    }
    if (cap) {
        out[o < cap ? o : cap - 1] = '\0';
    }
}

void agg_log_token(const uint8_t *data, size_t len, char *out, size_t cap)
{
    int bare = len > 0;
    for (size_t i = 0; bare && i < len; i++) {
        bare = data[i] > 0x20 && data[i] < 0x7f && data[i] != '"' && data[i] != '=' && data[i] != '\\';
    }
    if (bare && len < cap) {
        memcpy(out, data, len);
        out[len] = '\0';
        return;
    }
    if (cap < 3) {
        out[0] = '\0';
        return;
    }
    out[0] = '"';
    agg_escape(data, len, out + 1, cap - 2);
    const size_t n = strlen(out);
    out[n] = '"';
    out[n + 1] = '\0';
}
