/*
 * IDX parsing: the real Fashion-MNIST files have the published shape and
 * class balance; malformed files are refused with a message.
 */
#include <stdlib.h>
#include <string.h>

#include "mfl/host/dataset.h"
#include "test_support.h"

static void test_fashion_mnist_shape_and_balance(void **state)
{
    (void)state;
    char msg[256] = "";
    mfl_dataset_t train, test;
    assert_int_equal(mfl_fmnist_load(NULL, 1, &train, msg, sizeof(msg)), 0);
    assert_int_equal(mfl_fmnist_load(NULL, 0, &test, msg, sizeof(msg)), 0);
    assert_int_equal(train.n, 60000);
    assert_int_equal(test.n, 10000);
    assert_int_equal(train.rows, 28);
    assert_int_equal(train.cols, 28);
    unsigned counts[2][10] = {{0}};
    for (uint32_t i = 0; i < train.n; i++) counts[0][train.labels[i]]++;
    for (uint32_t i = 0; i < test.n; i++) counts[1][test.labels[i]]++;
    for (int c = 0; c < 10; c++) {
        assert_int_equal(counts[0][c], 6000); /* the dataset is exactly balanced */
        assert_int_equal(counts[1][c], 1000);
    }
    assert_string_equal(mfl_fmnist_class_name(9), "Ankle boot");
    mfl_dataset_free(&train);
    mfl_dataset_free(&test);
}

/* A 2-image 2x2 dataset. */
static void make_idx(uint8_t *img, size_t *ilen, uint8_t *lab, size_t *llen)
{
    const uint8_t ih[16] = {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2};
    const uint8_t lh[8] = {0, 0, 8, 1, 0, 0, 0, 2};
    memcpy(img, ih, 16);
    for (int i = 0; i < 8; i++) img[16 + i] = (uint8_t)(i * 30);
    memcpy(lab, lh, 8);
    lab[8] = 3;
    lab[9] = 7;
    *ilen = 24;
    *llen = 10;
}

static void test_idx_errors(void **state)
{
    (void)state;
    uint8_t img[64], lab[16];
    size_t ilen, llen;
    char msg[256];
    mfl_dataset_t ds;
    make_idx(img, &ilen, lab, &llen);
    assert_int_equal(mfl_idx_parse(img, ilen, lab, llen, 10, &ds, msg, sizeof(msg)), 0);
    assert_int_equal(ds.n, 2);
    assert_int_equal(ds.images[7], 210);
    assert_int_equal(ds.labels[1], 7);
    mfl_dataset_free(&ds);
    for (size_t cut = 0; cut < ilen; cut++) { /* every truncation */
        assert_int_equal(mfl_idx_parse(img, cut, lab, llen, 10, &ds, msg, sizeof(msg)), MFL_ERR_DATA_FORMAT);
    }
    assert_int_equal(mfl_idx_parse(img, ilen, lab, llen - 1, 10, &ds, msg, sizeof(msg)), MFL_ERR_DATA_FORMAT);
    assert_int_equal(mfl_idx_parse(img, ilen, lab, llen, 5, &ds, msg, sizeof(msg)), MFL_ERR_DATA_FORMAT);
    assert_non_null(strstr(msg, "label 7 of sample 1"));
    img[2] = 0x0D; /* float data */
    assert_int_equal(mfl_idx_parse(img, ilen, lab, llen, 10, &ds, msg, sizeof(msg)), MFL_ERR_DATA_FORMAT);
    make_idx(img, &ilen, lab, &llen);
    img[7] = 0xFF; /* declares 255 images */
    assert_int_equal(mfl_idx_parse(img, ilen, lab, llen, 10, &ds, msg, sizeof(msg)), MFL_ERR_DATA_FORMAT);
    assert_int_equal(mfl_fmnist_load("/nonexistent", 1, &ds, msg, sizeof(msg)), MFL_ERR_IO);
    assert_non_null(strstr(msg, "/nonexistent/train-images-idx3-ubyte.gz"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fashion_mnist_shape_and_balance),
        cmocka_unit_test(test_idx_errors),
    };
    return cmocka_run_group_tests_name("dataset", tests, NULL, NULL);
}
