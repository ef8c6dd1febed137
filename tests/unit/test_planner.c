/* Memory planner on hand-computed cases. */
#include <stdlib.h>

#include "mfl/model.h"
#include "mfl/planner.h"
#include "test_support.h"

static void test_chain_reuses_memory(void **state)
{
    (void)state;
    /* a -> op0 -> b -> op1 -> c -> op2 -> d: only neighbours are alive together */
    mfl_plan_item_t items[4] = {{100, -1, 0, -1}, {60, 0, 1, -1}, {100, 1, 2, -1}, {10, 2, 3, -1}};
    uint32_t off[4], size;
    assert_int_equal(mfl_plan_arena(items, 4, 4, off, &size), 0);
    assert_int_equal(size, 160); /* the largest neighbouring pair */
    for (int i = 0; i < 3; i++) {
        /* neighbours do not overlap */
        assert_true(off[i] + items[i].size <= off[i + 1] || off[i + 1] + items[i + 1].size <= off[i]);
    }
}

static void test_skip_connection_keeps_tensor_alive(void **state)
{
    (void)state;
    /* x (op -1..2) feeds op0 and op2 (a residual ADD): x, y, z must coexist at op1..2 */
    mfl_plan_item_t items[4] = {{64, -1, 2, -1}, {64, 0, 1, -1}, {64, 1, 2, -1}, {64, 2, 3, -1}};
    uint32_t off[4], size;
    assert_int_equal(mfl_plan_arena(items, 4, 4, off, &size), 0);
    assert_int_equal(size, 192);
    assert_true(off[0] != off[2] && off[0] != off[1] && off[3] != off[0] && off[3] != off[2]);
}

static void test_alias_shares_offset_and_lifetime(void **state)
{
    (void)state;
    /* b = reshape(a); c produced from b while a's memory must survive */
    mfl_plan_item_t items[3] = {{40, -1, 0, -1}, {40, 0, 1, 0}, {40, 1, 2, -1}};
    uint32_t off[3], size;
    assert_int_equal(mfl_plan_arena(items, 3, 4, off, &size), 0);
    assert_int_equal(off[1], off[0]);
    assert_int_equal(size, 80);
    assert_true(off[2] >= off[0] + 40 || off[2] + 40 <= off[0]);
}

static void test_alignment_and_unplanned(void **state)
{
    (void)state;
    mfl_plan_item_t items[3] = {{5, 0, 1, -1}, {0, 0, 0, -1}, {7, 0, 1, -1}};
    uint32_t off[3], size;
    assert_int_equal(mfl_plan_arena(items, 3, 16, off, &size), 0);
    assert_int_equal(off[1], 0);
    assert_true(off[0] % 16 == 0 && off[2] % 16 == 0);
    assert_int_equal(size, 32);
}

static void test_bad_aliases_rejected(void **state)
{
    (void)state;
    uint32_t off[2], size;
    mfl_plan_item_t cycle[2] = {{4, 0, 1, 1}, {4, 0, 1, 0}};
    assert_int_equal(mfl_plan_arena(cycle, 2, 4, off, &size), MFL_ERR_INVALID_ARG);
    mfl_plan_item_t bigger[2] = {{4, 0, 1, -1}, {8, 1, 2, 0}};
    assert_int_equal(mfl_plan_arena(bigger, 2, 4, off, &size), MFL_ERR_INVALID_ARG);
    mfl_plan_item_t range[1] = {{4, 0, 1, 5}};
    assert_int_equal(mfl_plan_arena(range, 1, 4, off, &size), MFL_ERR_INVALID_ARG);
    assert_int_equal(mfl_plan_arena(range, 1, 3, off, &size), MFL_ERR_INVALID_ARG);
}

/* The bytes op k's own activations take (inputs, output, scratch), each
 * counted once: they must coexist, so no arena is smaller. */
static uint32_t op_bytes(const mfl_model_t *m, uint16_t k)
{
    const mfl_op_rec_t *op = &m->ops[k];
    uint16_t seen[5];
    int n = 0;
    uint32_t bytes = 0;
    const uint16_t s = mfl_op_scratch(m, op);
    const uint16_t cand[5] = {op->inputs[0], op->n_inputs > 1 ? op->inputs[1] : MFL_NONE,
                              op->n_inputs > 2 ? op->inputs[2] : MFL_NONE, op->output, s};
    for (int i = 0; i < 5; i++) {
        int dup = cand[i] == MFL_NONE || (m->tensors[cand[i]].flags & MFL_TENSOR_CONST);
        for (int j = 0; j < n && !dup; j++) {
            dup = seen[j] == cand[i];
        }
        if (!dup) {
            seen[n++] = cand[i];
            bytes += m->tensors[cand[i]].size;
        }
    }
    return bytes;
}

/* The arena's lower bound (mfl_model_arena_lower_bound): on a plain chain
 * (the small Fashion-MNIST model: nothing outlives its next op) it is the
 * largest op's own activations, exactly; on the MLPerf Tiny models (the
 * ResNet's skip connections keep tensors alive across ops) it lies between
 * that and the planner's arena. */
static void test_arena_lower_bound(void **state)
{
    (void)state;
    uint8_t *image;
    size_t size;
    mfl_model_t m;
    assert_int_equal(ts_small_fmnist_model(&image, &size, &m), 0);
    uint32_t largest = 0;
    for (uint16_t k = 0; k < m.header->n_ops; k++) {
        largest = op_bytes(&m, k) > largest ? op_bytes(&m, k) : largest;
    }
    print_message("small model: lower bound %u, largest op %u, arena %u\n", mfl_model_arena_lower_bound(&m), largest,
                  mfl_model_arena_size(&m));
    assert_int_equal(mfl_model_arena_lower_bound(&m), largest);
    free(image);
    const char *names[] = {"kws_ref_model", "vww_96_int8", "pretrainedResnet_quant", "ad01_int8"};
    for (int i = 0; i < 4; i++) {
        uint8_t *img = ts_import_mlperf(names[i], &size, &m);
        assert_non_null(img);
        largest = 0;
        for (uint16_t k = 0; k < m.header->n_ops; k++) {
            largest = op_bytes(&m, k) > largest ? op_bytes(&m, k) : largest;
        }
        const uint32_t bound = mfl_model_arena_lower_bound(&m);
        print_message("%s: lower bound %u, largest op %u, arena %u (%.1f %% above the bound)\n", names[i], bound,
                      largest, mfl_model_arena_size(&m), 100.0 * (mfl_model_arena_size(&m) - bound) / bound);
        assert_true(bound >= largest);
        assert_true(bound <= mfl_model_arena_size(&m));
        free(img);
    }
    assert_int_equal(mfl_model_arena_lower_bound(NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chain_reuses_memory),
        cmocka_unit_test(test_skip_connection_keeps_tensor_alive),
        cmocka_unit_test(test_alias_shares_offset_and_lifetime),
        cmocka_unit_test(test_alignment_and_unplanned),
        cmocka_unit_test(test_bad_aliases_rejected),
        cmocka_unit_test(test_arena_lower_bound),
    };
    return cmocka_run_group_tests_name("planner", tests, NULL, NULL);
}
