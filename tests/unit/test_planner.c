/* Memory planner on hand-computed cases. */
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chain_reuses_memory),
        cmocka_unit_test(test_skip_connection_keeps_tensor_alive),
        cmocka_unit_test(test_alias_shares_offset_and_lifetime),
        cmocka_unit_test(test_alignment_and_unplanned),
        cmocka_unit_test(test_bad_aliases_rejected),
    };
    return cmocka_run_group_tests_name("planner", tests, NULL, NULL);
}
