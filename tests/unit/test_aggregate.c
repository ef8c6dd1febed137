/* Aggregation strategies on hand-computed cases. */
#include <math.h>

#include "mfl/host/aggregate.h"
#include "mfl/error.h"
#include "test_support.h"

static uint8_t scratch[1024];

static void run(const mfl_agg_opts_t *o, const mfl_agg_update_t *u, size_t m, size_t n, const int32_t *g,
                int32_t *out)
{
    assert_int_equal(mfl_aggregate(o, u, m, n, g, out, scratch, sizeof(scratch)), 0);
}

static void test_fedavg_weights_by_samples(void **state)
{
    (void)state;
    const int32_t a[2] = {100, -30}, b[2] = {400, 30}, g[2] = {1000, 1000};
    mfl_agg_update_t u[2] = {{a, 1, 0, 0}, {b, 3, 0, 0}};
    mfl_agg_opts_t o = mfl_agg_defaults();
    int32_t out[2];
    run(&o, u, 2, 2, g, out);
    /* (1*100 + 3*400) / 4 = 325; (1*-30 + 3*30) / 4 = 15 */
    assert_int_equal(out[0], 1325);
    assert_int_equal(out[1], 1015);
    o.server_lr = 0.5;
    run(&o, u, 2, 2, g, out);
    assert_int_equal(out[0], 1163); /* 1000 + 162.5 rounds away from zero */
    o.server_lr = 1.0;
    o.sample_cap = 1; /* both weigh 1: plain mean */
    run(&o, u, 2, 2, NULL, out);
    assert_int_equal(out[0], 250);
    assert_int_equal(out[1], 0);
}

/* One update claiming 2^32 - 1 samples among honest ones of 10: capped at
 * twice the median, it weighs 20, not 99.99 % of the round. */
static void test_median_cap(void **state)
{
    (void)state;
    const int32_t honest[1] = {0}, hostile[1] = {1 << 20};
    mfl_agg_update_t u[4] = {{honest, 10, 0, 0}, {honest, 10, 0, 0}, {honest, 12, 0, 0}, {hostile, 4294967295u, 0, 0}};
    mfl_agg_opts_t o = mfl_agg_defaults();
    int32_t out[1];
    run(&o, u, 4, 1, NULL, out);
    assert_true(out[0] > (1 << 20) - 10); /* uncapped: the hostile update is the round */
    o.median_cap = 2.0; /* median of 10, 10, 12, 2^32-1 is 11: cap 22 */
    run(&o, u, 4, 1, NULL, out);
    assert_int_equal(out[0], (int32_t)llround((double)(1 << 20) * 22.0 / (10 + 10 + 12 + 22)));
    o.sample_cap = 5; /* the fixed cap still applies first */
    run(&o, u, 4, 1, NULL, out);
    assert_int_equal(out[0], (1 << 20) / 4);
    o.median_cap = -1.0;
    assert_int_equal(mfl_aggregate(&o, u, 4, 1, NULL, out, scratch, sizeof(scratch)), MFL_ERR_INVALID_ARG);
    u[0].samples = 0; /* the protocol refuses 0 samples; so does the aggregation */
    o.median_cap = 0.0;
    assert_int_equal(mfl_aggregate(&o, u, 4, 1, NULL, out, scratch, sizeof(scratch)), MFL_ERR_INVALID_ARG);
}

static void test_staleness_discount(void **state)
{
    (void)state;
    const int32_t a[1] = {0}, b[1] = {900};
    mfl_agg_update_t u[2] = {{a, 10, 0, 0}, {b, 10, 3, 0}};
    mfl_agg_opts_t o = mfl_agg_defaults();
    o.staleness_exponent = 0.5; /* weight (1 + 3)^-0.5 = 1/2 */
    int32_t out[1];
    run(&o, u, 2, 1, NULL, out);
    assert_int_equal(out[0], 300); /* 900 * 0.5 / 1.5 */
}

/* Two updates, one fresh (10 samples, +800) and one 3 versions stale (30
 * samples, +400), a = 0.5: s(0) = 1, s(3) = (1 + 3)^-0.5 = 1/2.
 *  sum:    w = 10 / (10 + 15), 15 / 25 = 0.4, 0.6   -> 320 + 240 = 560
 *  buffer: w = 10 / 40, 30 * 0.5 / 40 = 0.25, 0.375 -> 200 + 150 = 350
 * Both 3 versions stale: sum takes the full step (10/40 * 800 + 30/40 * 400
 * = 500), buffer half of it (250), as FedBuff's sum_i s(tau_i) delta_i / K. */
static void test_staleness_normalization(void **state)
{
    (void)state;
    const int32_t a[1] = {800}, b[1] = {400};
    mfl_agg_update_t u[2] = {{a, 10, 0, 0}, {b, 30, 3, 0}};
    mfl_agg_opts_t o = mfl_agg_defaults();
    assert_int_equal(o.staleness_norm, MFL_AGG_NORM_SUM);
    o.staleness_exponent = 0.5;
    int32_t out[1];
    run(&o, u, 2, 1, NULL, out);
    assert_int_equal(out[0], 560);
    o.staleness_norm = MFL_AGG_NORM_BUFFER;
    run(&o, u, 2, 1, NULL, out);
    assert_int_equal(out[0], 350);
    u[0].staleness = 3;
    run(&o, u, 2, 1, NULL, out);
    assert_int_equal(out[0], 250);
    o.staleness_norm = MFL_AGG_NORM_SUM;
    run(&o, u, 2, 1, NULL, out);
    assert_int_equal(out[0], 500);
    o.staleness_exponent = 0.0; /* staleness ignored: both give the same */
    run(&o, u, 2, 1, NULL, out);
    assert_int_equal(out[0], 500);
    o.staleness_norm = MFL_AGG_NORM_BUFFER;
    run(&o, u, 2, 1, NULL, out);
    assert_int_equal(out[0], 500);
    o.staleness_norm = 2;
    assert_int_equal(mfl_aggregate(&o, u, 2, 1, NULL, out, scratch, sizeof(scratch)), MFL_ERR_INVALID_ARG);
}

/* With groups balanced, buffer applies the decay after the groups' equal
 * shares: group 0 holds +800 (10 samples) and 0 (30), fresh; group 1 one
 * update of +400, 3 versions stale (a = 0.5). Shares 0.125, 0.375 and 0.5.
 *  sum:    the lone stale update's decay is normalised away inside its
 *          group: 0.125 * 800 + 0.5 * 400 = 300
 *  buffer: its share is halved: 0.125 * 800 + 0.25 * 400 = 200 */
static void test_staleness_normalization_balanced(void **state)
{
    (void)state;
    const int32_t a[1] = {800}, z[1] = {0}, b[1] = {400};
    mfl_agg_update_t u[3] = {{a, 10, 0, 0}, {z, 30, 0, 0}, {b, 20, 3, 1}};
    mfl_agg_opts_t o = mfl_agg_defaults();
    o.staleness_exponent = 0.5;
    o.balance_groups = 1;
    int32_t out[1];
    run(&o, u, 3, 1, NULL, out);
    assert_int_equal(out[0], 300);
    o.staleness_norm = MFL_AGG_NORM_BUFFER;
    run(&o, u, 3, 1, NULL, out);
    assert_int_equal(out[0], 200);
}

/* FedAvgM with beta = 0.5, lr = 1, the same update (+100) every round:
 * v = 100, 150, 175 and the head 1000 -> 1100 -> 1250 -> 1425. */
static void test_server_momentum(void **state)
{
    (void)state;
    const int32_t d[1] = {100};
    mfl_agg_update_t u[1] = {{d, 5, 0, 0}};
    mfl_agg_opts_t o = mfl_agg_defaults();
    o.server_momentum = 0.5;
    double v[1] = {0.0};
    int32_t head[1] = {1000}, out[1];
    const int32_t want[3] = {1100, 1250, 1425};
    const double want_v[3] = {100.0, 150.0, 175.0};
    for (int r = 0; r < 3; r++) {
        assert_int_equal(mfl_aggregate_momentum(&o, u, 1, 1, head, v, out, scratch, sizeof(scratch)), 0);
        assert_int_equal(out[0], want[r]);
        assert_true(v[0] == want_v[r]);
        head[0] = out[0];
    }
    o.server_lr = 0.5; /* the step is lr * v: v = 0.5 * 175 + 100 = 187.5, 1425 + 93.75 -> 1519 */
    assert_int_equal(mfl_aggregate_momentum(&o, u, 1, 1, head, v, out, scratch, sizeof(scratch)), 0);
    assert_int_equal(out[0], 1519);
    /* momentum needs its buffer; beta in [0, 1) */
    assert_int_equal(mfl_aggregate(&o, u, 1, 1, head, out, scratch, sizeof(scratch)), MFL_ERR_INVALID_ARG);
    assert_int_equal(mfl_aggregate_momentum(&o, u, 1, 1, head, NULL, out, scratch, sizeof(scratch)),
                     MFL_ERR_INVALID_ARG);
    const double bad[] = {1.0, -0.1, NAN};
    for (int i = 0; i < 3; i++) {
        o.server_momentum = bad[i];
        assert_int_equal(mfl_aggregate_momentum(&o, u, 1, 1, head, v, out, scratch, sizeof(scratch)),
                         MFL_ERR_INVALID_ARG);
    }
}

/* beta = 0 through the momentum entry point is mfl_aggregate bit for bit,
 * whatever the buffer held, and leaves v = the aggregate. */
static void test_momentum_zero_is_plain(void **state)
{
    (void)state;
    const int32_t a[3] = {123457, -98765, 31}, b[3] = {-7, 555555, -1234567}, g[3] = {1 << 24, -(1 << 22), 77};
    mfl_agg_update_t u[2] = {{a, 7, 1, 0}, {b, 13, 0, 1}};
    mfl_agg_opts_t o = mfl_agg_defaults();
    o.staleness_exponent = 0.7;
    o.server_lr = 0.3;
    int32_t plain[3], with[3];
    double v[3] = {1e6, -3.5, 42.0};
    run(&o, u, 2, 3, g, plain);
    assert_int_equal(mfl_aggregate_momentum(&o, u, 2, 3, g, v, with, scratch, sizeof(scratch)), 0);
    assert_memory_equal(plain, with, sizeof(plain));
    for (int j = 0; j < 3; j++) {
        assert_int_equal(plain[j], (int32_t)llround(g[j] + 0.3 * v[j]));
    }
}

static void test_clipping(void **state)
{
    (void)state;
    const int32_t a[2] = {300, 400}; /* norm 500 */
    mfl_agg_update_t u[1] = {{a, 1, 0, 0}};
    mfl_agg_opts_t o = mfl_agg_defaults();
    o.clip_norm_q24 = 50.0;
    int32_t out[2];
    run(&o, u, 1, 2, NULL, out);
    assert_int_equal(out[0], 30);
    assert_int_equal(out[1], 40);
}

static void test_robust_rules_resist_an_outlier(void **state)
{
    (void)state;
    const int32_t d[5][1] = {{10}, {12}, {11}, {13}, {1000000}}; /* one poisoned update */
    mfl_agg_update_t u[5];
    for (int i = 0; i < 5; i++) u[i] = (mfl_agg_update_t){d[i], 1, 0, 0};
    mfl_agg_opts_t o = mfl_agg_defaults();
    int32_t out[1];
    run(&o, u, 5, 1, NULL, out);
    assert_int_equal(out[0], 200009); /* the mean is dragged away */
    o.rule = MFL_AGG_MEDIAN;
    run(&o, u, 5, 1, NULL, out);
    assert_int_equal(out[0], 12);
    o.rule = MFL_AGG_TRIMMED_MEAN;
    o.trim_fraction = 0.2; /* drop one at each end: mean of 11, 12, 13 */
    run(&o, u, 5, 1, NULL, out);
    assert_int_equal(out[0], 12);
    const int32_t e[4][1] = {{1}, {2}, {3}, {10}};
    for (int i = 0; i < 4; i++) u[i] = (mfl_agg_update_t){e[i], 1, 0, 0};
    o.rule = MFL_AGG_MEDIAN;
    run(&o, u, 4, 1, NULL, out);
    assert_int_equal(out[0], 3); /* (2 + 3) / 2 = 2.5, rounded away from zero */
}

static void test_group_balance(void **state)
{
    (void)state;
    /* three devices of group 0 push +300, one of group 1 pushes -300 */
    const int32_t p[1] = {300}, q[1] = {-300};
    mfl_agg_update_t u[4] = {{p, 10, 0, 0}, {p, 10, 0, 0}, {p, 10, 0, 0}, {q, 10, 0, 1}};
    mfl_agg_opts_t o = mfl_agg_defaults();
    int32_t out[1];
    run(&o, u, 4, 1, NULL, out);
    assert_int_equal(out[0], 150); /* the majority decides */
    o.balance_groups = 1;
    run(&o, u, 4, 1, NULL, out);
    assert_int_equal(out[0], 0); /* each group counts the same */
}

static void test_invalid(void **state)
{
    (void)state;
    const int32_t a[1] = {1};
    mfl_agg_update_t u[1] = {{a, 1, 0, 0}};
    mfl_agg_opts_t o = mfl_agg_defaults();
    int32_t out[1];
    assert_int_equal(mfl_aggregate(&o, u, 0, 1, NULL, out, scratch, sizeof(scratch)), MFL_ERR_INVALID_ARG);
    assert_int_equal(mfl_aggregate(&o, u, 1, 1, NULL, out, scratch, 4), MFL_ERR_INVALID_ARG);
    o.trim_fraction = 0.5;
    o.rule = MFL_AGG_TRIMMED_MEAN;
    assert_int_equal(mfl_aggregate(&o, u, 1, 1, NULL, out, scratch, sizeof(scratch)), MFL_ERR_INVALID_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fedavg_weights_by_samples),
        cmocka_unit_test(test_median_cap),
        cmocka_unit_test(test_staleness_discount),
        cmocka_unit_test(test_staleness_normalization),
        cmocka_unit_test(test_staleness_normalization_balanced),
        cmocka_unit_test(test_server_momentum),
        cmocka_unit_test(test_momentum_zero_is_plain),
        cmocka_unit_test(test_clipping),
        cmocka_unit_test(test_robust_rules_resist_an_outlier),
        cmocka_unit_test(test_group_balance),
        cmocka_unit_test(test_invalid),
    };
    return cmocka_run_group_tests_name("aggregate", tests, NULL, NULL);
}
