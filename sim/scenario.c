/* Scenario files: `key = value` lines, `#` comments (docs/sim.md). */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mfl/host/host_io.h"
#include "scenario.h"

static const char *const strategy_names[SIM_STRATEGIES] = {
    "frozen", "standardized", "recalibrated", "local", "local-recal", "federated", "fair", "federated-recal", "personalized", "oracle",
    "oracle-recal", "local-tuned", "federated-tuned", "oracle-full", "oracle-bias", "oracle-dense", "oracle-lastconv",
    "local-dense", "federated-dense", "federated-dense-shared"};

const char *sim_strategy_name(enum sim_strategy k)
{
    return k < SIM_STRATEGIES ? strategy_names[k] : "?";
}

int sim_strategy_default_on(enum sim_strategy k)
{
    return k < SIM_STRATEGIES && !sim_strategy_finetuned(k) && k != SIM_LOCAL_DENSE && k != SIM_FEDERATED_DENSE &&
           k != SIM_FEDERATED_DENSE_SHARED;
}

int sim_strategy_finetuned(enum sim_strategy k)
{
    return k == SIM_ORACLE_FULL || k == SIM_ORACLE_BIAS || k == SIM_ORACLE_DENSE || k == SIM_ORACLE_LASTCONV;
}

int sim_strategy_federated(enum sim_strategy k)
{
    return k == SIM_FEDERATED || k == SIM_FAIR || k == SIM_FEDERATED_RECAL || k == SIM_PERSONALIZED ||
           k == SIM_FEDERATED_TUNED || k == SIM_FEDERATED_DENSE || k == SIM_FEDERATED_DENSE_SHARED;
}

int sim_strategy_tuned(enum sim_strategy k)
{
    return k == SIM_LOCAL_TUNED || k == SIM_FEDERATED_TUNED || k == SIM_LOCAL_DENSE || k == SIM_FEDERATED_DENSE ||
           k == SIM_FEDERATED_DENSE_SHARED;
}

int sim_any_federated(const sim_scenario_t *s)
{
    int any = 0;
    for (int k = 0; k < SIM_STRATEGIES; k++) {
        any |= s->strategies[k] && sim_strategy_federated((enum sim_strategy)k);
    }
    return any;
}

const char *sim_partition_name(enum sim_partition p)
{
    return p == SIM_IID ? "iid" : p == SIM_DIRICHLET ? "dirichlet" : "region-shift";
}

/* The region-shift regions (docs/sim.md): the home region, where the base
 * model is trained and three classes are rare, and three regions where
 * every class is as common and the sensors differ. */
static const sim_region_t default_regions[] = {
    {.name = "home", .contrast = 1.0, .offset = 0.0, .noise = 0.0, .rare_weight = 0.03, .share = 1.0},
    {.name = "lowcontrast", .contrast = 0.5, .offset = 0.0, .noise = 0.0, .rare_weight = 1.0, .share = 1.0},
    {.name = "bright", .contrast = 0.6, .offset = 100.0, .noise = 0.0, .rare_weight = 1.0, .share = 1.0},
    {.name = "noisy", .contrast = 1.0, .offset = 0.0, .noise = 48.0, .rare_weight = 1.0, .share = 1.0},
};

/* A region's optional words at their neutral values: a line without them
 * sees, draws and goes online exactly as before they existed. */
static void region_neutral(sim_region_t *r)
{
    r->share = 1.0;
    r->invert = 0;
    r->rotate = 0;
    r->shift = r->occlude = r->blur = 0;
    r->occlude_value = 0;
    for (int c = 0; c < SIM_CLASSES; c++) {
        r->prior[c] = 1.0;
    }
    r->availability = -1.0;
}

void sim_scenario_defaults(sim_scenario_t *s)
{
    memset(s, 0, sizeof(*s));
    s->seed = 1;
    s->devices = 100;
    s->rounds = 20;
    s->threads = 2;
    s->partition = SIM_REGION_SHIFT;
    s->alpha = 0.5;
    s->n_regions = sizeof(default_regions) / sizeof(default_regions[0]);
    memcpy(s->regions, default_regions, sizeof(default_regions));
    for (uint32_t r = 0; r < s->n_regions; r++) {
        const double share = s->regions[r].share;
        region_neutral(&s->regions[r]);
        s->regions[r].share = share;
    }
    s->rare[0] = s->rare[2] = s->rare[6] = 1; /* T-shirt/top, Pullover, Shirt */
    s->availability = 0.5;
    s->dropout = 0.1;
    s->train_per_device = 60;
    s->samples_per_round = 6;
    s->test_per_device = 20;
    s->pool_per_region = 6000;
    snprintf(s->base_arch, sizeof(s->base_arch), "c16,p,c32s2,c32s2,d64,d10");
    s->base_images = 24000;
    s->base_epochs = 3;
    s->lr = 0.02;
    s->bias_lr = 0.02;
    s->weight_lr = 0x1p-21;
    s->local_epochs = 2;
    s->batch = 8;
    s->replay = 64;
    s->buffer_k = 10; /* FedBuff's K */
    s->max_staleness = 4;
    s->server_lr = 1.0;
    s->oracle_epochs = 0; /* to convergence */
    s->recal_inputs = 16;
    s->mode = SIM_INPROCESS;
    for (int k = 0; k < SIM_STRATEGIES; k++) {
        s->strategies[k] = (uint8_t)sim_strategy_default_on((enum sim_strategy)k);
    }
}

static int bad(char *msg, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int bad(char *msg, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, cap, fmt, ap);
    va_end(ap);
    return -1;
}

/* Digits only (no sign, no spaces: "-1" is not 2^64 - 1). */
static int to_u32(const char *v, uint32_t *out)
{
    uint64_t x;
    if (mfl_parse_u64(v, 0, UINT32_MAX, &x)) {
        return -1;
    }
    *out = (uint32_t)x;
    return 0;
}

static int to_double(const char *v, double *out, double lo, double hi)
{
    return mfl_parse_double(v, lo, hi, out) ? -1 : 0;
}

static int set_text(char *dst, size_t cap, const char *v)
{
    return (size_t)snprintf(dst, cap, "%s", v) >= cap ? -1 : 0;
}

/* "frozen,local,federated,fair,oracle"; an unknown name is named in why,
 * with the known ones. */
static int set_strategies(sim_scenario_t *s, const char *v, char *why, size_t cap)
{
    char buf[256];
    if (set_text(buf, sizeof(buf), v)) {
        return -1;
    }
    memset(s->strategies, 0, sizeof(s->strategies));
    for (char *save = NULL, *t = strtok_r(buf, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
        int found = 0;
        for (int k = 0; k < SIM_STRATEGIES; k++) {
            if (!strcmp(t, strategy_names[k])) {
                s->strategies[k] = 1;
                found = 1;
            }
        }
        if (!found) {
            size_t len = (size_t)snprintf(why, cap, "unknown strategy \"%s\" (known:", t);
            for (int k = 0; k < SIM_STRATEGIES && len < cap; k++) {
                len += (size_t)snprintf(why + len, cap - len, " %s", strategy_names[k]);
            }
            if (len < cap) {
                snprintf(why + len, cap - len, ")");
            }
            return -1;
        }
    }
    return 0;
}

/* "0,2,6" */
static int set_rare(sim_scenario_t *s, const char *v)
{
    char buf[64];
    if (set_text(buf, sizeof(buf), v)) {
        return -1;
    }
    memset(s->rare, 0, sizeof(s->rare));
    for (char *save = NULL, *t = strtok_r(buf, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
        uint32_t c;
        if (to_u32(t, &c) || c >= SIM_CLASSES) {
            return -1;
        }
        s->rare[c] = 1;
    }
    return 0;
}

/* `prior=`: ten weights "1,1,0.2,..." in class order, or the classes that
 * differ from 1 as CLASS:WEIGHT pairs, "0:4,9:0.1" (readable when a region
 * favours a few classes). */
static int set_prior(sim_region_t *r, const char *v)
{
    char buf[256];
    int n = 0, pairs = -1;
    double w[SIM_CLASSES];
    if (set_text(buf, sizeof(buf), v)) {
        return -1;
    }
    for (int c = 0; c < SIM_CLASSES; c++) {
        w[c] = 1.0;
    }
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save), n++) {
        char *colon = strchr(t, ':');
        uint32_t c = (uint32_t)n;
        if (pairs == -1) {
            pairs = colon != NULL;
        }
        if ((colon != NULL) != pairs) {
            return -1; /* one form per list */
        }
        if (colon) {
            *colon = '\0';
            if (to_u32(t, &c)) {
                return -1;
            }
            t = colon + 1;
        }
        if (c >= SIM_CLASSES || to_double(t, &w[c], 0.0, 100.0)) {
            return -1;
        }
    }
    if (pairs != 1 && n != SIM_CLASSES) {
        return -1;
    }
    memcpy(r->prior, w, sizeof(w));
    return 0;
}

/* One `KEY=VALUE` word after a region's positional fields. Returns 0, or
 * -1 with the accepted values in why. */
static int region_word(sim_region_t *r, char *word, char *why, size_t cap)
{
    char *eq = strchr(word, '=');
    const char *k = word, *v = eq ? eq + 1 : "";
    double x = 0;
    if (!eq) {
        return bad(why, cap, "\"%s\" is not KEY=VALUE (positional fields come first)", word);
    }
    *eq = '\0';
    if (!strcmp(k, "invert")) {
        if (to_double(v, &x, 0, 1) || (x != 0 && x != 1)) return bad(why, cap, "invert=%s: 0 or 1", v);
        r->invert = (uint8_t)x;
    } else if (!strcmp(k, "rotate")) {
        if (to_double(v, &r->rotate, 0, 45)) return bad(why, cap, "rotate=%s: 0..45 (degrees)", v);
    } else if (!strcmp(k, "shift")) {
        if (to_u32(v, &r->shift) || r->shift > 8) return bad(why, cap, "shift=%s: 0..8 (whole pixels)", v);
    } else if (!strcmp(k, "occlude")) {
        if (to_u32(v, &r->occlude) || r->occlude > 28) return bad(why, cap, "occlude=%s: 0..28 (patch side, pixels)", v);
    } else if (!strcmp(k, "occlude_value")) {
        if (to_double(v, &r->occlude_value, 0, 255)) return bad(why, cap, "occlude_value=%s: 0..255", v);
    } else if (!strcmp(k, "blur")) {
        if (to_u32(v, &r->blur) || r->blur > 3) return bad(why, cap, "blur=%s: 0..3 (box radius, pixels)", v);
    } else if (!strcmp(k, "availability")) {
        if (to_double(v, &r->availability, 0, 1)) return bad(why, cap, "availability=%s: 0..1", v);
    } else if (!strcmp(k, "prior")) {
        if (set_prior(r, v)) {
            return bad(why, cap, "prior=%s: 10 weights 0..100 in class order, or CLASS:WEIGHT pairs", v);
        }
    } else {
        return bad(why, cap, "unknown region word \"%s\" (invert, rotate, shift, occlude, occlude_value, blur, "
                   "prior, availability)", k);
    }
    return 0;
}

/* "NAME CONTRAST OFFSET NOISE RARE_WEIGHT [SHARE] [KEY=VALUE...]"; the
 * first `region` line of a file replaces the default regions. Returns 0,
 * or -1 with what is wrong in why. */
static int add_region(sim_scenario_t *s, const char *v, int *replaced, char *why, size_t cap)
{
    char buf[1200];
    double num[5] = {0, 0, 0, 0, 1.0};
    int positional = 0, words = 0;
    sim_region_t r;
    memset(&r, 0, sizeof(r));
    region_neutral(&r);
    if (!*replaced) {
        s->n_regions = 0;
        *replaced = 1;
    }
    if (s->n_regions >= SIM_MAX_REGIONS) {
        return bad(why, cap, "at most %d regions", SIM_MAX_REGIONS);
    }
    if (set_text(buf, sizeof(buf), v)) {
        return bad(why, cap, "line too long");
    }
    char *save = NULL, *t = strtok_r(buf, " \t", &save);
    if (!t || set_text(r.name, sizeof(r.name), t) || strchr(t, '=')) {
        return bad(why, cap, "a NAME of 1..%zu characters first", sizeof(r.name) - 1);
    }
    for (t = strtok_r(NULL, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
        if (!strchr(t, '=') && positional < 5 && !words) {
            if (to_double(t, &num[positional++], -1e9, 1e9)) {
                return bad(why, cap, "\"%s\" is not a number", t);
            }
        } else if (positional < 4) {
            return bad(why, cap, "CONTRAST OFFSET NOISE RARE_WEIGHT expected before \"%s\"", t);
        } else if (region_word(&r, t, why, cap)) {
            return -1;
        } else {
            words = 1; /* positional fields come first: "blur=1 2" is no share */
        }
    }
    if (positional < 4) {
        return bad(why, cap, "NAME CONTRAST OFFSET NOISE RARE_WEIGHT [SHARE] expected");
    }
    r.contrast = num[0];
    r.offset = num[1];
    r.noise = num[2];
    r.rare_weight = num[3];
    r.share = num[4];
    if (!(r.contrast > 0 && r.contrast <= 4) || !(r.offset >= -255 && r.offset <= 255) ||
        !(r.noise >= 0 && r.noise <= 255) || !(r.rare_weight > 0 && r.rare_weight <= 100) ||
        !(r.share > 0 && r.share <= 1000)) {
        return bad(why, cap, "need 0 < CONTRAST <= 4, -255 <= OFFSET <= 255, 0 <= NOISE <= 255, "
                   "0 < RARE_WEIGHT <= 100, 0 < SHARE <= 1000");
    }
    s->regions[s->n_regions++] = r;
    return 0;
}

/* "7,1,1,1": relative device counts of the regions, in order */
static int set_shares(sim_scenario_t *s, const char *v)
{
    char buf[256];
    uint32_t n = 0;
    double shares[SIM_MAX_REGIONS];
    if (set_text(buf, sizeof(buf), v)) {
        return -1;
    }
    for (char *save = NULL, *t = strtok_r(buf, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
        if (n >= SIM_MAX_REGIONS || to_double(t, &shares[n++], 1e-6, 1000)) {
            return -1;
        }
    }
    if (n != s->n_regions) {
        return -1;
    }
    for (uint32_t r = 0; r < n; r++) {
        s->regions[r].share = shares[r];
    }
    return 0;
}

uint32_t sim_region_of(const sim_scenario_t *s, uint32_t index)
{
    double total = 0, cum = 0;
    for (uint32_t r = 0; r < s->n_regions; r++) {
        total += s->regions[r].share;
    }
    const double pos = ((double)index + 0.5) / (double)s->devices * total;
    for (uint32_t r = 0; r < s->n_regions; r++) {
        cum += s->regions[r].share;
        if (pos < cum) {
            return r;
        }
    }
    return s->n_regions - 1;
}

double sim_region_availability(const sim_scenario_t *s, uint32_t region)
{
    const double a = region < s->n_regions ? s->regions[region].availability : -1.0;
    return a >= 0 ? a : s->availability;
}

uint32_t sim_buffer_k(const sim_scenario_t *s)
{
    const double delivering = s->devices * s->availability * (1.0 - s->dropout);
    return s->buffer_k ? s->buffer_k : delivering / 2 >= 1 ? (uint32_t)(delivering / 2) : 1;
}

uint32_t sim_concurrency(const sim_scenario_t *s)
{
    return s->concurrency ? s->concurrency : sim_buffer_k(s);
}

/* `agg.KEY = VALUE`: kept for the aggregators' files (checked by the
 * aggregator's own reader before the run: sim_link_check). */
static int set_agg(sim_scenario_t *s, const char *k, const char *v)
{
    uint32_t i = 0;
    while (i < s->n_agg && strcmp(s->agg_key[i], k)) {
        i++;
    }
    if (i == SIM_MAX_AGG_KEYS || !*k || set_text(s->agg_key[i], sizeof(s->agg_key[i]), k) ||
        set_text(s->agg_value[i], sizeof(s->agg_value[i]), v)) {
        return -1;
    }
    s->n_agg += i == s->n_agg;
    return 0;
}

/* Returns 0, -2 for an unknown key, or -1 for a bad value (with what is
 * wrong in why when the key's parser says more than "bad value"). */
static int set_key(sim_scenario_t *s, const char *k, const char *v, int *regions_replaced, char *why,
                   size_t why_cap)
{
    if (!strncmp(k, "agg.", 4)) {
        return set_agg(s, k + 4, v);
    }
    if (!strcmp(k, "seed")) {
        return mfl_parse_u64(v, 0, UINT64_MAX, &s->seed) ? -1 : 0;
    }
    if (!strcmp(k, "devices")) return to_u32(v, &s->devices);
    if (!strcmp(k, "rounds")) return to_u32(v, &s->rounds);
    if (!strcmp(k, "threads")) return to_u32(v, &s->threads);
    if (!strcmp(k, "partition")) {
        s->partition = !strcmp(v, "iid") ? SIM_IID : !strcmp(v, "dirichlet") ? SIM_DIRICHLET : SIM_REGION_SHIFT;
        return strcmp(v, "iid") && strcmp(v, "dirichlet") && strcmp(v, "region-shift") ? -1 : 0;
    }
    if (!strcmp(k, "alpha")) return to_double(v, &s->alpha, 1e-3, 1e3);
    if (!strcmp(k, "region")) return add_region(s, v, regions_replaced, why, why_cap);
    if (!strcmp(k, "rare_classes")) return set_rare(s, v);
    if (!strcmp(k, "region_shares")) return set_shares(s, v);
    if (!strcmp(k, "availability")) return to_double(v, &s->availability, 0.0, 1.0);
    if (!strcmp(k, "dropout")) return to_double(v, &s->dropout, 0.0, 1.0);
    if (!strcmp(k, "train_per_device")) return to_u32(v, &s->train_per_device);
    if (!strcmp(k, "samples_per_round")) return to_u32(v, &s->samples_per_round);
    if (!strcmp(k, "test_per_device")) return to_u32(v, &s->test_per_device);
    if (!strcmp(k, "pool_per_region")) return to_u32(v, &s->pool_per_region);
    if (!strcmp(k, "base")) return set_text(s->base, sizeof(s->base), v);
    if (!strcmp(k, "base_arch")) return set_text(s->base_arch, sizeof(s->base_arch), v);
    if (!strcmp(k, "base_images")) return to_u32(v, &s->base_images);
    if (!strcmp(k, "base_epochs")) return to_u32(v, &s->base_epochs);
    if (!strcmp(k, "lr")) return to_double(v, &s->lr, 1e-5, 1.0);
    if (!strcmp(k, "bias_lr")) return to_double(v, &s->bias_lr, 1e-5, 1.0);
    if (!strcmp(k, "weight_lr")) return to_double(v, &s->weight_lr, 1e-12, 1e-2);
    if (!strcmp(k, "local_epochs")) return to_u32(v, &s->local_epochs);
    if (!strcmp(k, "batch")) return to_u32(v, &s->batch);
    if (!strcmp(k, "replay")) return to_u32(v, &s->replay);
    if (!strcmp(k, "buffer_k")) return to_u32(v, &s->buffer_k);
    if (!strcmp(k, "max_staleness")) return to_u32(v, &s->max_staleness);
    if (!strcmp(k, "concurrency")) return to_u32(v, &s->concurrency);
    if (!strcmp(k, "server_lr")) return to_double(v, &s->server_lr, 1e-3, 10.0);
    if (!strcmp(k, "oracle_epochs")) return to_u32(v, &s->oracle_epochs);
    if (!strcmp(k, "recal_inputs")) return to_u32(v, &s->recal_inputs);
    if (!strcmp(k, "top_k")) return to_u32(v, &s->top_k);
    if (!strcmp(k, "mode")) {
        s->mode = !strcmp(v, "network") ? SIM_NETWORK : SIM_INPROCESS;
        return strcmp(v, "network") && strcmp(v, "inprocess") ? -1 : 0;
    }
    if (!strcmp(k, "strategies")) return set_strategies(s, v, why, why_cap);
    if (!strcmp(k, "data_dir")) return set_text(s->data_dir, sizeof(s->data_dir), v);
    if (!strcmp(k, "aggregator")) return set_text(s->aggregator, sizeof(s->aggregator), v);
    return -2;
}

int sim_scenario_set(sim_scenario_t *s, const char *key, const char *value, int *regions_replaced, char *msg,
                     size_t cap)
{
    char why[256] = "";
    const int r = set_key(s, key, value, regions_replaced, why, sizeof(why));
    if (r == -2) {
        return bad(msg, cap, "unknown scenario key \"%s\"", key);
    }
    return r ? bad(msg, cap, "bad value \"%s\" for \"%s\"%s%s", value, key, why[0] ? ": " : "", why) : 0;
}

int sim_scenario_load(sim_scenario_t *s, const char *path, char *msg, size_t cap)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        return bad(msg, cap, "cannot open scenario %s", path);
    }
    char line[1200];
    int lineno = 0, err = 0, regions_replaced = 0;
    while (!err && fgets(line, sizeof(line), f)) {
        lineno++;
        char *hash = strchr(line, '#');
        if (hash) {
            *hash = '\0';
        }
        char *t = mfl_trim(line);
        if (!*t) {
            continue;
        }
        char *eq = strchr(t, '=');
        if (!eq) {
            err = bad(msg, cap, "%s:%d: expected key = value", path, lineno);
            break;
        }
        *eq = '\0';
        const char *k = mfl_trim(t), *v = mfl_trim(eq + 1);
        char why[256] = "";
        const int r = set_key(s, k, v, &regions_replaced, why, sizeof(why));
        if (r == -2) {
            err = bad(msg, cap, "%s:%d: unknown key \"%s\"", path, lineno, k);
        } else if (r) {
            err = bad(msg, cap, "%s:%d: bad value \"%s\" for \"%s\"%s%s", path, lineno, v, k, why[0] ? ": " : "",
                      why);
        }
    }
    fclose(f);
    return err;
}

int sim_scenario_check(const sim_scenario_t *s, char *msg, size_t cap)
{
    if (s->devices < 1 || s->devices > 1000000) return bad(msg, cap, "devices must be 1..1000000");
    if (s->rounds < 1 || s->rounds > 100000) return bad(msg, cap, "rounds must be 1..100000");
    if (s->threads < 1 || s->threads > 64) return bad(msg, cap, "threads must be 1..64");
    if (s->n_regions < 1) return bad(msg, cap, "at least one region");
    for (uint32_t r = 0; r < s->n_regions; r++) {
        double sum = 0;
        for (int c = 0; c < SIM_CLASSES; c++) {
            sum += (s->rare[c] ? s->regions[r].rare_weight : 1.0) * s->regions[r].prior[c];
        }
        if (!(sum > 0)) return bad(msg, cap, "region %s: every class has prior weight 0", s->regions[r].name);
    }
    if (s->samples_per_round < 1 || s->train_per_device < s->samples_per_round)
        return bad(msg, cap, "need 1 <= samples_per_round <= train_per_device");
    if (s->test_per_device < 1) return bad(msg, cap, "test_per_device must be >= 1");
    if (s->recal_inputs < 1 || s->recal_inputs > 10000) return bad(msg, cap, "need 1 <= recal_inputs <= 10000");
    if (s->replay < s->batch || s->replay > 4096 || s->batch < 1 || s->batch > 64)
        return bad(msg, cap, "need 1 <= batch <= 64 and batch <= replay <= 4096");
    if (s->pool_per_region < 10) return bad(msg, cap, "pool_per_region must be >= 10");
    if (!s->base[0]) return bad(msg, cap, "no base model path (key \"base\")");
    if (s->mode == SIM_NETWORK && !s->aggregator[0]) return bad(msg, cap, "network mode needs the aggregator binary");
    int any = 0;
    for (int k = 0; k < SIM_STRATEGIES; k++) {
        any |= s->strategies[k];
    }
    return any ? 0 : bad(msg, cap, "no strategy selected");
}

/* The shortest of %.15g and %.17g that reads back as the same double. */
static const char *num(double v, char buf[32])
{
    snprintf(buf, 32, "%.15g", v);
    if (strtod(buf, NULL) != v) {
        snprintf(buf, 32, "%.17g", v);
    }
    return buf;
}

static void write_list(FILE *f, const char *key, const uint8_t *on, int n, const char *const *names)
{
    fprintf(f, "%s =", key);
    const char *sep = " ";
    for (int i = 0; i < n; i++) {
        if (on[i]) {
            if (names) {
                fprintf(f, "%s%s", sep, names[i]);
            } else {
                fprintf(f, "%s%d", sep, i);
            }
            sep = ",";
        }
    }
    fputc('\n', f);
}

/* A region's optional words, those away from their neutral values only:
 * a region without them is written as before they existed. */
static void write_region_words(FILE *f, const sim_region_t *g)
{
    char a[32];
    int any_prior = 0;
    if (g->invert) fprintf(f, " invert=1");
    if (g->rotate > 0) fprintf(f, " rotate=%s", num(g->rotate, a));
    if (g->shift) fprintf(f, " shift=%u", g->shift);
    if (g->occlude) fprintf(f, " occlude=%u", g->occlude);
    if (g->occlude_value != 0) fprintf(f, " occlude_value=%s", num(g->occlude_value, a));
    if (g->blur) fprintf(f, " blur=%u", g->blur);
    for (int c = 0; c < SIM_CLASSES; c++) {
        any_prior |= g->prior[c] != 1.0;
    }
    for (int c = 0; any_prior && c < SIM_CLASSES; c++) {
        fprintf(f, "%s%s", c ? "," : " prior=", num(g->prior[c], a));
    }
    if (g->availability >= 0) fprintf(f, " availability=%s", num(g->availability, a));
}

int sim_scenario_write(const sim_scenario_t *s, FILE *f)
{
    static const char *const partitions[] = {"iid", "dirichlet", "region-shift"};
    fprintf(f, "# every key of the run, defaults resolved (mfl-sim FILE --out DIR repeats it)\n");
    char a[32], b[32], c[32], d[32], e[32];
    fprintf(f, "seed = %llu\ndevices = %u\nrounds = %u\nthreads = %u\npartition = %s\nalpha = %s\n",
            (unsigned long long)s->seed, s->devices, s->rounds, s->threads, partitions[s->partition], num(s->alpha, a));
    for (uint32_t r = 0; r < s->n_regions; r++) {
        const sim_region_t *g = &s->regions[r];
        fprintf(f, "region = %s %s %s %s %s %s", g->name, num(g->contrast, a), num(g->offset, b), num(g->noise, c),
                num(g->rare_weight, d), num(g->share, e));
        write_region_words(f, g);
        fputc('\n', f);
    }
    write_list(f, "rare_classes", s->rare, SIM_CLASSES, NULL);
    fprintf(f, "availability = %s\ndropout = %s\ntrain_per_device = %u\nsamples_per_round = %u\n"
               "test_per_device = %u\npool_per_region = %u\n",
            num(s->availability, a), num(s->dropout, b), s->train_per_device, s->samples_per_round,
            s->test_per_device, s->pool_per_region);
    fprintf(f, "base = %s\nbase_arch = %s\nbase_images = %u\nbase_epochs = %u\n", s->base, s->base_arch,
            s->base_images, s->base_epochs);
    fprintf(f, "lr = %s\nbias_lr = %s\n", num(s->lr, a), num(s->bias_lr, b));
    fprintf(f, "weight_lr = %s\nlocal_epochs = %u\nbatch = %u\nreplay = %u\n", num(s->weight_lr, a), s->local_epochs,
            s->batch, s->replay);
    fprintf(f, "buffer_k = %u\nconcurrency = %u\nmax_staleness = %u\nserver_lr = %s\noracle_epochs = %u\n",
            sim_buffer_k(s), sim_concurrency(s), s->max_staleness, num(s->server_lr, a), s->oracle_epochs);
    fprintf(f, "top_k = %u\nrecal_inputs = %u\n", s->top_k, s->recal_inputs);
    for (uint32_t i = 0; i < s->n_agg; i++) {
        fprintf(f, "agg.%s = %s\n", s->agg_key[i], s->agg_value[i]);
    }
    fprintf(f, "mode = %s\n", s->mode == SIM_NETWORK ? "network" : "inprocess");
    write_list(f, "strategies", s->strategies, SIM_STRATEGIES, strategy_names);
    if (s->data_dir[0]) {
        fprintf(f, "data_dir = %s\n", s->data_dir);
    }
    if (s->aggregator[0]) {
        fprintf(f, "aggregator = %s\n", s->aggregator);
    }
    return ferror(f) ? -1 : 0;
}

void sim_base_inputs(const sim_scenario_t *s, char *out, size_t cap)
{
    char rare[32] = "";
    size_t n = 0;
    for (int c = 0; c < SIM_CLASSES && n + 4 < sizeof(rare); c++) {
        if (s->rare[c]) {
            n += (size_t)snprintf(rare + n, sizeof(rare) - n, "%s%d", n ? "," : "", c);
        }
    }
    /* everything train_base() reads: the images it keeps depend on the
     * seed, the home region's prior of the rare classes and base_images;
     * the network on base_arch, base_epochs and the seed; the data on
     * data_dir. Not the thread count: training is the same bit for bit
     * whatever it is (optim/host/train.c). */
    char w[32];
    int n_out = snprintf(out, cap, "mfl-sim base v1; seed=%llu; base_arch=%s; base_images=%u; base_epochs=%u; "
                         "partition=%d; rare_classes=%s; home_rare_weight=%s; data_dir=%s",
                         (unsigned long long)s->seed, s->base_arch, s->base_images, s->base_epochs,
                         s->partition == SIM_REGION_SHIFT, rare, num(s->regions[0].rare_weight, w), s->data_dir);
    /* the home prior decides which images train the base too; appended
     * only when set, so a base made before it existed stays cached */
    int any_prior = 0;
    for (int c = 0; c < SIM_CLASSES; c++) {
        any_prior |= s->regions[0].prior[c] != 1.0;
    }
    for (int c = 0; any_prior && c < SIM_CLASSES && n_out >= 0 && (size_t)n_out < cap; c++) {
        n_out += snprintf(out + n_out, cap - (size_t)n_out, "%s%s", c ? "," : "; home_prior=",
                          num(s->regions[0].prior[c], w));
    }
}
