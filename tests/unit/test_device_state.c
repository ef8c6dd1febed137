/*
 * The device's persistent state under power loss (device_state.h), on the
 * RAM flash port with a power-cut budget:
 *  - the counter: power is cut at every byte of a run of counter requests
 *    (journal sector switches included); after each cut the device comes
 *    back with a counter above every one it handed out;
 *  - a model install: power is cut at every byte of it (erases included);
 *    after each cut the device boots with a model whose signature verifies:
 *    the old one if the install did not complete, the new one if it did;
 *  - a checkpoint of the learned head: cut at every byte of a save, the
 *    device comes back with the previous checkpoint or the new one, exact;
 *  - a stored model that no longer verifies is skipped for the older one;
 *  - the file port keeps both across close and reopen.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mfl/delta.h"
#include "mfl/device_state.h"
#include "mfl/error.h"
#include "mfl/messages.h"
#include "mfl/storage.h"
#include "test_support.h"

static uint8_t *model_image;
static size_t model_size;
static mfl_model_t model;
static mfl_es256_private_t agg_key;
static mfl_es256_public_t agg_pub;
static uint8_t msg_v2[2048], msg_v3[2048];
static size_t len_v2, len_v3;

/* A model message as the aggregator publishes it: head weights that
 * depend on the version, signed with the aggregator's key. */
static size_t model_msg(uint64_t version, uint8_t *out, size_t cap)
{
    mfl_learner_t l;
    static uint8_t arena[64 * 1024], mem[32 * 1024];
    assert_int_equal(mfl_learner_init(&l, &model, arena, sizeof(arena), mem, sizeof(mem), 8, NULL), 0);
    return ts_signed_model_msg(l.head.units, l.head.features, version, &agg_key, out, cap);
}

static int setup(void **state)
{
    (void)state;
    const int err = ts_small_fmnist_model(&model_image, &model_size, &model);
    memset(agg_key.d, 0x42, sizeof(agg_key.d));
    if (err || mfl_es256_public_from_private(&agg_key, &agg_pub)) {
        return -1;
    }
    len_v2 = model_msg(2, msg_v2, sizeof(msg_v2));
    len_v3 = model_msg(3, msg_v3, sizeof(msg_v3));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(model_image);
    return 0;
}

/* Boots on the flash: opens the state and restores the model into a
 * fresh learner. Returns the installed version (0: the built-in head). */
static uint64_t boot(mfl_storage_t *st, mfl_state_t *s)
{
    static uint8_t arena[64 * 1024], mem[32 * 1024], buf[4096];
    mfl_learner_t l;
    uint64_t version = 99;
    assert_int_equal(mfl_learner_init(&l, &model, arena, sizeof(arena), mem, sizeof(mem), 8, NULL), 0);
    assert_int_equal(mfl_state_open(s, st), 0);
    const int err = mfl_state_restore(s, &l, &agg_pub, buf, sizeof(buf), &version);
    assert_true(err == 0 || err == MFL_ERR_NO_MODEL);
    assert_true(err == 0 ? version >= 2 : version == 0);
    return version;
}

static void power_on(mfl_ram_flash_t *f)
{
    f->power_budget = UINT32_MAX;
    f->dead = 0;
}

static void test_counter_survives_a_cut_at_every_byte(void **state)
{
    (void)state;
    static uint8_t mem[6 * 256];
    mfl_storage_t st;
    mfl_ram_flash_t f;
    mfl_state_t s;
    unsigned cuts = 0;
    /* 40 requests cross the 16-record journal sectors twice */
    for (uint32_t budget = 0; budget < 40 * 16 + 3 * 256; budget++) {
        assert_int_equal(mfl_storage_ram_init(&st, &f, mem, sizeof(mem), 256), 0);
        assert_int_equal(mfl_state_open(&s, &st), 0);
        uint64_t c = 0, handed_out = 0;
        for (int i = 0; i < 3; i++) {
            assert_int_equal(mfl_state_next_counter(&s, &c), 0);
            assert_int_equal(c, handed_out + 1);
            handed_out = c;
        }
        f.power_budget = budget;
        for (int i = 0; i < 40 && mfl_state_next_counter(&s, &c) == 0; i++) {
            assert_true(c > handed_out);
            handed_out = c;
        }
        cuts += f.dead;
        power_on(&f);
        assert_int_equal(mfl_state_open(&s, &st), 0);
        assert_true(s.counter >= handed_out);
        assert_int_equal(mfl_state_next_counter(&s, &c), 0);
        assert_true(c > handed_out);
    }
    print_message("counter: power cut at %u points; every boot continued above the last counter handed out\n", cuts);
    assert_true(cuts > 1000);
}

static void test_install_survives_a_cut_at_every_byte(void **state)
{
    (void)state;
    enum { SECTOR = 512, SECTORS = 8 };
    static uint8_t mem[SECTORS * SECTOR], before[SECTORS * SECTOR];
    mfl_storage_t st;
    mfl_ram_flash_t f;
    mfl_state_t s;
    assert_int_equal(mfl_storage_ram_init(&st, &f, mem, sizeof(mem), SECTOR), 0);
    assert_int_equal(boot(&st, &s), 0); /* nothing stored yet: the built-in head */
    assert_int_equal(mfl_state_install_model(&s, msg_v2, (uint32_t)len_v2, 2), 0);
    assert_int_equal(boot(&st, &s), 2);
    memcpy(before, mem, sizeof(mem));
    const uint32_t total = s.slot_size + (uint32_t)len_v3 + 32u; /* erases, body, header */
    unsigned old = 0, new = 0;
    for (uint32_t budget = 0; budget <= total; budget++) {
        memcpy(mem, before, sizeof(mem));
        power_on(&f);
        assert_int_equal(mfl_state_open(&s, &st), 0);
        f.power_budget = budget;
        const int err = mfl_state_install_model(&s, msg_v3, (uint32_t)len_v3, 3);
        assert_true(err == 0 || err == MFL_ERR_FLASH);
        power_on(&f);
        const uint64_t v = boot(&st, &s);
        assert_int_equal(v, err == 0 ? 3 : 2);
        old += v == 2;
        new += v == 3;
    }
    print_message("install: power cut at each of %u bytes (erases, body, header): %u boots on the old model, "
                  "%u on the new\n", total, old, new);
    assert_int_equal(new, 1);
    assert_int_equal(old, total);
    /* and installing again goes to the other slot, keeping v3 until done */
    assert_int_equal(mfl_state_install_model(&s, msg_v2, (uint32_t)len_v2, 2), 0);
    assert_int_equal(boot(&st, &s), 2);
}

static void test_a_model_that_no_longer_verifies_is_skipped(void **state)
{
    (void)state;
    static uint8_t mem[8 * 512];
    mfl_storage_t st;
    mfl_ram_flash_t f;
    mfl_state_t s;
    assert_int_equal(mfl_storage_ram_init(&st, &f, mem, sizeof(mem), 512), 0);
    assert_int_equal(mfl_state_open(&s, &st), 0);
    assert_int_equal(mfl_state_install_model(&s, msg_v2, (uint32_t)len_v2, 2), 0);
    /* intact bytes (CRC fine) that another aggregator key signed */
    uint8_t forged[2048];
    memcpy(forged, msg_v3, len_v3);
    forged[len_v3 - 1] ^= 1; /* last byte of the signature */
    assert_int_equal(mfl_state_install_model(&s, forged, (uint32_t)len_v3, 3), 0);
    assert_int_equal(boot(&st, &s), 2);
    /* garbage everywhere: the built-in model */
    memset(mem, 0x5A, sizeof(mem));
    assert_int_equal(boot(&st, &s), 0);
    uint64_t c;
    assert_int_equal(mfl_state_next_counter(&s, &c), 0); /* the journal recovers too */
    assert_int_equal(mfl_state_install_model(&s, forged, 100000, 3), MFL_ERR_BUFFER_TOO_SMALL);
}

/* Learns n steps from synthetic feature vectors. */
static void learn_some(mfl_learner_t *l, int n, unsigned seed)
{
    int8_t x[64];
    for (int i = 0; i < n; i++) {
        for (uint16_t j = 0; j < l->head.features; j++) {
            x[j] = (int8_t)((j * 37u + (unsigned)i * 11u + seed * 101u) % 200u) - 100;
        }
        assert_int_equal(mfl_learner_learn_features(l, x, (uint8_t)((unsigned)i % l->head.units)), 0);
    }
}

static void test_head_checkpoint_survives_a_cut_at_every_byte(void **state)
{
    (void)state;
    enum { SECTOR = 512, SECTORS = 10 };
    static uint8_t mem[SECTORS * SECTOR], before[SECTORS * SECTOR], arena[64 * 1024], lmem[32 * 1024];
    static int32_t first_w[64 * 10], second_w[64 * 10];
    mfl_storage_t st;
    mfl_ram_flash_t f;
    mfl_state_t s;
    mfl_learner_t l;
    assert_int_equal(mfl_storage_ram_init(&st, &f, mem, sizeof(mem), SECTOR), 0);
    assert_int_equal(mfl_state_open(&s, &st), 0);
    assert_int_equal(mfl_learner_init(&l, &model, arena, sizeof(arena), lmem, sizeof(lmem), 8, NULL), 0);
    const size_t wbytes = (size_t)l.head.units * l.head.features * sizeof(int32_t);
    learn_some(&l, 20, 1);
    memcpy(first_w, l.head.w, wbytes);
    assert_int_equal(mfl_state_save_head(&s, &l, 2), 0);
    learn_some(&l, 20, 2);
    memcpy(second_w, l.head.w, wbytes);
    assert_true(memcmp(first_w, second_w, wbytes) != 0);
    memcpy(before, mem, sizeof(mem));
    unsigned first = 0, second = 0;
    const uint32_t total = s.slot_size + (uint32_t)(8 + wbytes + l.head.units * 4u) + 32u;
    for (uint32_t budget = 0; budget <= total; budget++) {
        memcpy(mem, before, sizeof(mem));
        power_on(&f);
        assert_int_equal(mfl_state_open(&s, &st), 0);
        f.power_budget = budget;
        const int err = mfl_state_save_head(&s, &l, 2);
        power_on(&f);
        /* reboot: a fresh learner on the global head, then the checkpoint */
        mfl_learner_t r;
        static uint8_t rmem[32 * 1024];
        assert_int_equal(mfl_learner_init(&r, &model, arena, sizeof(arena), rmem, sizeof(rmem), 8, NULL), 0);
        assert_int_equal(mfl_state_open(&s, &st), 0);
        assert_int_equal(mfl_state_restore_head(&s, &r, 2), 0);
        const int is_second = memcmp(r.head.w, second_w, wbytes) == 0;
        assert_true(is_second || memcmp(r.head.w, first_w, wbytes) == 0);
        assert_int_equal(is_second, err == 0);
        first += !is_second;
        second += is_second;
    }
    print_message("head checkpoint: power cut at each of %u bytes: %u boots on the previous checkpoint, %u on "
                  "the new\n", total, first, second);
    assert_int_equal(second, 1);
    /* a checkpoint learned from another global model is not applied */
    mfl_learner_t r;
    assert_int_equal(mfl_learner_init(&r, &model, arena, sizeof(arena), lmem, sizeof(lmem), 8, NULL), 0);
    assert_int_equal(mfl_state_restore_head(&s, &r, 3), MFL_ERR_NO_MODEL);
    int32_t d[65];
    assert_int_equal(mfl_learner_delta(&r, 0, d), 0);
    for (uint16_t j = 0; j <= r.head.features; j++) {
        assert_int_equal(d[j], 0);
    }
}

static void test_file_port_keeps_state_across_reopen(void **state)
{
    (void)state;
    char path[] = "/tmp/mfl-state-XXXXXX";
    const int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    mfl_storage_t st;
    mfl_state_t s;
    uint64_t c = 0;
    assert_int_equal(mfl_storage_file_open(&st, path, 8 * 512, 512), 0);
    assert_int_equal(mfl_state_open(&s, &st), 0);
    assert_int_equal(mfl_state_next_counter(&s, &c), 0);
    assert_int_equal(mfl_state_next_counter(&s, &c), 0);
    assert_int_equal(mfl_state_install_model(&s, msg_v3, (uint32_t)len_v3, 3), 0);
    mfl_storage_file_close(&st);
    assert_int_equal(mfl_storage_file_open(&st, path, 8 * 512, 512), 0);
    assert_int_equal(boot(&st, &s), 3);
    assert_int_equal(mfl_state_next_counter(&s, &c), 0);
    assert_int_equal(c, 3);
    /* a second user of the same state (another `mfl device sync`) is refused */
    mfl_storage_t other;
    assert_int_equal(mfl_storage_file_open(&other, path, 8 * 512, 512), MFL_ERR_BUSY);
    /* the aggregator said counters up to 41 are spent (a journal rolled back) */
    assert_int_equal(mfl_state_skip_counters(&s, 41), 0);
    assert_int_equal(mfl_state_skip_counters(&s, 7), 0); /* already past: nothing changes */
    assert_int_equal(mfl_state_skip_counters(&s, UINT64_MAX), MFL_ERR_INVALID_ARG);
    mfl_storage_file_close(&st);
    assert_int_equal(mfl_storage_file_open(&st, path, 8 * 512, 512), 0);
    assert_int_equal(mfl_state_open(&s, &st), 0);
    assert_int_equal(mfl_state_next_counter(&s, &c), 0);
    assert_int_equal(c, 42); /* persisted */
    mfl_storage_file_close(&st);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counter_survives_a_cut_at_every_byte),
        cmocka_unit_test(test_install_survives_a_cut_at_every_byte),
        cmocka_unit_test(test_a_model_that_no_longer_verifies_is_skipped),
        cmocka_unit_test(test_head_checkpoint_survives_a_cut_at_every_byte),
        cmocka_unit_test(test_file_port_keeps_state_across_reopen),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
