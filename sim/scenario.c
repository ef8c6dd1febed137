/* Scenario files: `key = value` lines, `#` comments (docs/sim.md). */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mfl/host/host_io.h"
#include "scenario.h"

static const char *const strategy_names[SIM_STRATEGIES] = {"frozen", "local", "federated", "fair", "oracle"};

const char *sim_strategy_name(enum sim_strategy k)
{
    return k < SIM_STRATEGIES ? strategy_names[k] : "?";
}

const char *sim_partition_name(enum sim_partition p)
{
    return p == SIM_IID ? "iid" : p == SIM_DIRICHLET ? "dirichlet" : "region-shift";
}

/* The region-shift regions (docs/sim.md): the home region, where the base
 * model is trained and three classes are rare, and three regions where
 * every class is as common and the sensors differ. */
static const sim_region_t default_regions[] = {
    {"home", 1.0, 0.0, 0.0, 0.03, 1.0},
    {"lowcontrast", 0.5, 0.0, 0.0, 1.0, 1.0},
    {"bright", 0.6, 100.0, 0.0, 1.0, 1.0},
    {"noisy", 1.0, 0.0, 48.0, 1.0, 1.0},
};

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
    s->local_epochs = 2;
    s->batch = 8;
    s->replay = 64;
    s->buffer_k = 10; /* FedBuff's K */
    s->max_staleness = 4;
    s->server_lr = 1.0;
    s->oracle_epochs = 10;
    s->mode = SIM_INPROCESS;
    memset(s->strategies, 1, sizeof(s->strategies));
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

/* "frozen,local,federated,fair,oracle" */
static int set_strategies(sim_scenario_t *s, const char *v)
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

/* "NAME CONTRAST OFFSET NOISE RARE_WEIGHT [SHARE]"; the first `region`
 * line of a file replaces the default regions. */
static int add_region(sim_scenario_t *s, const char *v, int *replaced)
{
    sim_region_t r;
    if (!*replaced) {
        s->n_regions = 0;
        *replaced = 1;
    }
    r.share = 1.0;
    const int n = s->n_regions < SIM_MAX_REGIONS
                      ? sscanf(v, "%23s %lf %lf %lf %lf %lf", r.name, &r.contrast, &r.offset, &r.noise, &r.rare_weight,
                               &r.share)
                      : 0;
    if ((n != 5 && n != 6) || !(r.share > 0 && r.share <= 1000) ||
        !(r.contrast > 0 && r.contrast <= 4) || !(r.offset >= -255 && r.offset <= 255) ||
        !(r.noise >= 0 && r.noise <= 255) || !(r.rare_weight > 0 && r.rare_weight <= 100)) {
        return -1;
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

static int set_key(sim_scenario_t *s, const char *k, const char *v, int *regions_replaced)
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
    if (!strcmp(k, "region")) return add_region(s, v, regions_replaced);
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
    if (!strcmp(k, "local_epochs")) return to_u32(v, &s->local_epochs);
    if (!strcmp(k, "batch")) return to_u32(v, &s->batch);
    if (!strcmp(k, "replay")) return to_u32(v, &s->replay);
    if (!strcmp(k, "buffer_k")) return to_u32(v, &s->buffer_k);
    if (!strcmp(k, "max_staleness")) return to_u32(v, &s->max_staleness);
    if (!strcmp(k, "concurrency")) return to_u32(v, &s->concurrency);
    if (!strcmp(k, "server_lr")) return to_double(v, &s->server_lr, 1e-3, 10.0);
    if (!strcmp(k, "oracle_epochs")) return to_u32(v, &s->oracle_epochs);
    if (!strcmp(k, "top_k")) return to_u32(v, &s->top_k);
    if (!strcmp(k, "mode")) {
        s->mode = !strcmp(v, "network") ? SIM_NETWORK : SIM_INPROCESS;
        return strcmp(v, "network") && strcmp(v, "inprocess") ? -1 : 0;
    }
    if (!strcmp(k, "strategies")) return set_strategies(s, v);
    if (!strcmp(k, "data_dir")) return set_text(s->data_dir, sizeof(s->data_dir), v);
    if (!strcmp(k, "aggregator")) return set_text(s->aggregator, sizeof(s->aggregator), v);
    return -2;
}

int sim_scenario_set(sim_scenario_t *s, const char *key, const char *value, int *regions_replaced, char *msg,
                     size_t cap)
{
    const int r = set_key(s, key, value, regions_replaced);
    if (r == -2) {
        return bad(msg, cap, "unknown scenario key \"%s\"", key);
    }
    return r ? bad(msg, cap, "bad value \"%s\" for \"%s\"", value, key) : 0;
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
        const int r = set_key(s, k, v, &regions_replaced);
        if (r == -2) {
            err = bad(msg, cap, "%s:%d: unknown key \"%s\"", path, lineno, k);
        } else if (r) {
            err = bad(msg, cap, "%s:%d: bad value \"%s\" for \"%s\"", path, lineno, v, k);
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
    if (s->samples_per_round < 1 || s->train_per_device < s->samples_per_round)
        return bad(msg, cap, "need 1 <= samples_per_round <= train_per_device");
    if (s->test_per_device < 1) return bad(msg, cap, "test_per_device must be >= 1");
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

int sim_scenario_write(const sim_scenario_t *s, FILE *f)
{
    static const char *const partitions[] = {"iid", "dirichlet", "region-shift"};
    fprintf(f, "# every key of the run, defaults resolved (mfl-sim FILE --out DIR repeats it)\n");
    char a[32], b[32], c[32], d[32], e[32];
    fprintf(f, "seed = %llu\ndevices = %u\nrounds = %u\nthreads = %u\npartition = %s\nalpha = %s\n",
            (unsigned long long)s->seed, s->devices, s->rounds, s->threads, partitions[s->partition], num(s->alpha, a));
    for (uint32_t r = 0; r < s->n_regions; r++) {
        const sim_region_t *g = &s->regions[r];
        fprintf(f, "region = %s %s %s %s %s %s\n", g->name, num(g->contrast, a), num(g->offset, b), num(g->noise, c),
                num(g->rare_weight, d), num(g->share, e));
    }
    write_list(f, "rare_classes", s->rare, SIM_CLASSES, NULL);
    fprintf(f, "availability = %s\ndropout = %s\ntrain_per_device = %u\nsamples_per_round = %u\n"
               "test_per_device = %u\npool_per_region = %u\n",
            num(s->availability, a), num(s->dropout, b), s->train_per_device, s->samples_per_round,
            s->test_per_device, s->pool_per_region);
    fprintf(f, "base = %s\nbase_arch = %s\nbase_images = %u\nbase_epochs = %u\n", s->base, s->base_arch,
            s->base_images, s->base_epochs);
    fprintf(f, "lr = %s\nlocal_epochs = %u\nbatch = %u\nreplay = %u\n", num(s->lr, a), s->local_epochs, s->batch,
            s->replay);
    fprintf(f, "buffer_k = %u\nconcurrency = %u\nmax_staleness = %u\nserver_lr = %s\noracle_epochs = %u\n",
            sim_buffer_k(s), sim_concurrency(s), s->max_staleness, num(s->server_lr, a), s->oracle_epochs);
    fprintf(f, "top_k = %u\n", s->top_k);
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
    snprintf(out, cap, "mfl-sim base v1; seed=%llu; base_arch=%s; base_images=%u; base_epochs=%u; partition=%d; "
             "rare_classes=%s; home_rare_weight=%s; data_dir=%s",
             (unsigned long long)s->seed, s->base_arch, s->base_images, s->base_epochs,
             s->partition == SIM_REGION_SHIFT, rare, num(s->regions[0].rare_weight, w), s->data_dir);
}
