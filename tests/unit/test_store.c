/* The aggregator's durable state: devices, counters across restarts,
 * pending updates, model versions that only go up. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "mfl/host/store.h"
#include "test_support.h"

static char dir[] = "/tmp/mfl_store_XXXXXX";

static void add(mfl_store_t *s, const char *id, const char *group)
{
    mfl_device_rec_t d;
    memset(&d, 0, sizeof(d));
    d.id_len = strlen(id);
    memcpy(d.id, id, d.id_len);
    d.psk_len = 16;
    memset(d.psk, 0x42, 16);
    d.pub.q[0] = 4;
    snprintf(d.group, sizeof(d.group), "%s", group);
    assert_int_equal(mfl_store_add_device(s, &d), 0);
}

static int count_devices(void *ctx, const mfl_device_rec_t *d)
{
    (void)d;
    (*(int *)ctx)++;
    return 0;
}

static int sum_pending(void *ctx, int64_t rowid, const uint8_t *msg, size_t len)
{
    (void)rowid;
    *(size_t *)ctx += len + msg[0];
    return 0;
}

typedef struct {
    int64_t rowid[8];
    size_t n;
} pending_rows_t;

static int list_pending(void *ctx, int64_t rowid, const uint8_t *msg, size_t len)
{
    (void)msg, (void)len;
    pending_rows_t *r = ctx;
    r->rowid[r->n++] = rowid;
    return r->n == 8;
}

/* Offers an update whose digest is 32 bytes of `digest`; returns the
 * store's outcome (or its error), with the device's last counter. */
static int offer(mfl_store_t *s, const char *id, uint64_t counter, uint8_t digest, uint64_t *last)
{
    static const uint8_t msg[3] = {1, 2, 3};
    mfl_store_update_t u = {(const uint8_t *)id, strlen(id), counter, 1, {0}, msg, sizeof(msg)};
    memset(u.digest, digest, sizeof(u.digest));
    int outcome = -1;
    uint64_t last_counter = 0;
    const int err = mfl_store_accept_update(s, &u, &outcome, &last_counter);
    if (last) {
        *last = last_counter;
    }
    return err ? err : outcome;
}

static void test_store_lifecycle(void **state)
{
    (void)state;
    assert_non_null(mkdtemp(dir));
    mfl_store_t *s;
    assert_int_equal(mfl_store_open(dir, MFL_DURABLE_PROCESS, &s), 0);
    add(s, "dev1", "north");
    add(s, "dev2", "south");
    mfl_device_rec_t d;
    memcpy(d.id, "dev1", 4);
    d.id_len = 4;
    assert_int_equal(mfl_store_add_device(s, &d), MFL_ERR_EXISTS);
    assert_int_equal(mfl_store_get_device(s, (const uint8_t *)"dev2", 4, &d), 0);
    assert_string_equal(d.group, "south");
    assert_int_equal(d.psk_len, 16);
    assert_int_equal(mfl_store_get_device(s, (const uint8_t *)"nope", 4, &d), MFL_ERR_NO_DEVICE);

    const uint8_t msg[3] = {1, 2, 3};
    uint64_t last = 0;
    assert_int_equal(offer(s, "dev1", 5, 0xA5, &last), MFL_STORE_ACCEPTED);
    assert_int_equal(last, 5);
    /* the same update again: a duplicate; another update on a spent
     * counter (equal or lower): counter used, with the last counter */
    assert_int_equal(offer(s, "dev1", 5, 0xA5, &last), MFL_STORE_DUPLICATE);
    assert_int_equal(last, 5);
    assert_int_equal(offer(s, "dev1", 5, 0x5A, &last), MFL_STORE_COUNTER_USED);
    assert_int_equal(last, 5);
    assert_int_equal(offer(s, "dev1", 4, 0xA5, &last), MFL_STORE_COUNTER_USED);
    assert_int_equal(last, 5);
    assert_int_equal(offer(s, "dev2", 1, 0x01, NULL), MFL_STORE_ACCEPTED);
    assert_int_equal(offer(s, "zzz", 1, 0x01, NULL), MFL_ERR_NO_DEVICE);
    /* counters SQLite cannot hold are refused before anything is written */
    assert_int_equal(offer(s, "dev2", (uint64_t)INT64_MAX + 1, 0x02, NULL), MFL_ERR_INVALID_ARG);
    assert_int_equal(offer(s, "dev2", UINT64_MAX, 0x02, NULL), MFL_ERR_INVALID_ARG);
    assert_int_equal(offer(s, "dev2", 0, 0x02, NULL), MFL_ERR_INVALID_ARG);
    assert_int_equal(mfl_store_pending_count(s), 2);
    mfl_store_close(s);

    /* after a restart: the counters, digests and pending updates are still there */
    assert_int_equal(mfl_store_open(dir, MFL_DURABLE_POWER, &s), 0);
    assert_int_equal(offer(s, "dev1", 5, 0xA5, &last), MFL_STORE_DUPLICATE);
    assert_int_equal(offer(s, "dev1", 3, 0x33, &last), MFL_STORE_COUNTER_USED);
    assert_int_equal(last, 5);
    assert_int_equal(mfl_store_get_device(s, (const uint8_t *)"dev1", 4, &d), 0);
    assert_int_equal(d.last_counter, 5);
    size_t sum = 0;
    mfl_store_each_pending(s, sum_pending, &sum);
    assert_int_equal(sum, 8);
    int n = 0;
    mfl_store_each_device(s, count_devices, &n);
    assert_int_equal(n, 2);

    /* models: versions only go up; publishing folds the listed updates */
    uint64_t version;
    uint8_t *model;
    size_t len;
    pending_rows_t rows = {0};
    mfl_store_each_pending(s, list_pending, &rows);
    assert_int_equal(rows.n, 2);
    assert_int_equal(mfl_store_pending_devices(s), 2);
    assert_int_equal(mfl_store_latest_model(s, &version, &model, &len), 0);
    assert_null(model);
    assert_int_equal(mfl_store_publish_model(s, 2, msg, 3, msg, 3, rows.rowid, 1), 0);
    assert_int_equal(mfl_store_pending_count(s), 1);
    assert_int_equal(mfl_store_pending_devices(s), 1);
    assert_int_equal(mfl_store_publish_model(s, 2, msg, 3, NULL, 0, rows.rowid + 1, 1), MFL_ERR_INVALID_ARG);
    assert_int_equal(mfl_store_publish_model(s, 1, msg, 3, NULL, 0, rows.rowid + 1, 1), MFL_ERR_INVALID_ARG);
    assert_int_equal(mfl_store_pending_count(s), 1);
    /* a device's second pending update does not count as another device */
    assert_int_equal(offer(s, "dev2", 2, 0x22, NULL), MFL_STORE_ACCEPTED);
    assert_int_equal(mfl_store_pending_count(s), 2);
    assert_int_equal(mfl_store_pending_devices(s), 1);
    assert_int_equal(mfl_store_latest_model(s, &version, &model, &len), 0);
    assert_int_equal(version, 2);
    assert_int_equal(len, 3);
    free(model);
    uint8_t head[3];
    assert_int_equal(mfl_store_latest_head(s, 2, head, 3), 0); /* the exact head, kept with the model */
    assert_memory_equal(head, msg, 3);
    assert_int_equal(mfl_store_latest_head(s, 2, head, 2), MFL_ERR_NO_MODEL);

    /* a revoked device can no longer send */
    assert_int_equal(mfl_store_revoke_device(s, (const uint8_t *)"dev2", 4), 0);
    assert_int_equal(offer(s, "dev2", 9, 0x09, NULL), MFL_ERR_NO_DEVICE);
    /* a digest outlives the round that folds its update in */
    assert_int_equal(offer(s, "dev1", 6, 0x66, NULL), MFL_STORE_ACCEPTED);
    assert_int_equal(mfl_store_pending_devices(s), 2);
    rows.n = 0;
    mfl_store_each_pending(s, list_pending, &rows);
    assert_int_equal(rows.n, 3);
    assert_int_equal(mfl_store_publish_model(s, 3, msg, 3, NULL, 0, rows.rowid, rows.n), 0);
    assert_int_equal(mfl_store_pending_count(s), 0);
    assert_int_equal(mfl_store_pending_devices(s), 0);
    assert_int_equal(offer(s, "dev1", 6, 0x66, &last), MFL_STORE_DUPLICATE);
    assert_int_equal(last, 6);
    assert_int_equal(mfl_store_revoke_device(s, (const uint8_t *)"nope", 4), MFL_ERR_NO_DEVICE);
    mfl_store_close(s);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

/* A store written by the version before digests, pending counts and exact
 * heads: it opens, its devices and pending update carry over, and its old
 * update's retransmission (no digest known) is "counter used". */
static void test_store_made_by_an_earlier_version(void **state)
{
    (void)state;
    char old_dir[] = "/tmp/mfl_store_old_XXXXXX", path[64];
    assert_non_null(mkdtemp(old_dir));
    snprintf(path, sizeof(path), "%s/state.db", old_dir);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
        "PRAGMA journal_mode=WAL;"
        "CREATE TABLE devices (id BLOB PRIMARY KEY, psk BLOB NOT NULL, pub BLOB NOT NULL, grp TEXT NOT NULL,"
        "  last_counter INTEGER NOT NULL DEFAULT 0, revoked INTEGER NOT NULL DEFAULT 0,"
        "  accepted INTEGER NOT NULL DEFAULT 0);"
        "CREATE TABLE pending (rowid INTEGER PRIMARY KEY AUTOINCREMENT, device BLOB NOT NULL,"
        "  counter INTEGER NOT NULL, base_version INTEGER NOT NULL, msg BLOB NOT NULL, UNIQUE(device, counter));"
        "CREATE TABLE models (version INTEGER PRIMARY KEY, msg BLOB NOT NULL);"
        "INSERT INTO devices (id, psk, pub, grp, last_counter, accepted) VALUES (x'64657631', x'00', x'04', 'g', 3, 3);"
        "INSERT INTO pending (device, counter, base_version, msg) VALUES (x'64657631', 3, 1, x'010203');"
        "INSERT INTO models (version, msg) VALUES (1, x'01');", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    mfl_store_t *s;
    assert_int_equal(mfl_store_open(old_dir, MFL_DURABLE_PROCESS, &s), 0);
    assert_int_equal(mfl_store_pending_count(s), 1);
    assert_int_equal(mfl_store_pending_devices(s), 1);
    uint64_t last = 0;
    assert_int_equal(offer(s, "dev1", 3, 0x33, &last), MFL_STORE_COUNTER_USED);
    assert_int_equal(last, 3);
    assert_int_equal(offer(s, "dev1", 4, 0x44, &last), MFL_STORE_ACCEPTED);
    assert_int_equal(mfl_store_pending_count(s), 2);
    assert_int_equal(mfl_store_pending_devices(s), 1);
    uint8_t head[4];
    assert_int_equal(mfl_store_latest_head(s, 1, head, sizeof(head)), MFL_ERR_NO_MODEL); /* none kept then */
    mfl_store_close(s);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", old_dir);
    assert_int_equal(system(cmd), 0);
}

/* The device lifecycle of provisioning: revoke and readmit keep the
 * counters; new keys keep everything else; removal refuses a device with
 * pending updates unless forced, and its id added again continues above
 * its last counter, so its old updates stay spent. */
static void test_store_device_lifecycle(void **state)
{
    (void)state;
    char ldir[] = "/tmp/mfl_store_dev_XXXXXX";
    assert_non_null(mkdtemp(ldir));
    mfl_store_t *s;
    assert_int_equal(mfl_store_open(ldir, MFL_DURABLE_PROCESS, &s), 0);
    add(s, "dev1", "north");
    add(s, "dev2", "south");
    const uint8_t *id1 = (const uint8_t *)"dev1";
    mfl_device_rec_t d;
    uint64_t last = 0, pending = 99;
    int was = -1;
    assert_int_equal(offer(s, "dev1", 3, 0x03, NULL), MFL_STORE_ACCEPTED);
    assert_int_equal(mfl_store_get_device(s, id1, 4, &d), 0);
    assert_int_equal(d.accepted, 1);
    assert_int_equal(d.pending, 1);

    /* revoke, revoke again, readmit: the counter is the one before */
    assert_int_equal(mfl_store_set_device_revoked(s, id1, 4, 1, &was), 0);
    assert_int_equal(was, 0);
    assert_int_equal(offer(s, "dev1", 4, 0x04, NULL), MFL_ERR_NO_DEVICE);
    assert_int_equal(mfl_store_get_device(s, id1, 4, &d), 0);
    assert_int_equal(d.revoked, 1);
    assert_int_equal(mfl_store_set_device_revoked(s, id1, 4, 1, &was), 0);
    assert_int_equal(was, 1);
    assert_int_equal(mfl_store_set_device_revoked(s, id1, 4, 0, &was), 0);
    assert_int_equal(was, 1);
    assert_int_equal(offer(s, "dev1", 3, 0x03, &last), MFL_STORE_DUPLICATE);
    assert_int_equal(offer(s, "dev1", 4, 0x04, &last), MFL_STORE_ACCEPTED);
    assert_int_equal(mfl_store_set_device_revoked(s, (const uint8_t *)"nope", 4, 0, &was), MFL_ERR_NO_DEVICE);

    /* new keys, one or both: the rest stays */
    const uint8_t psk[3] = {7, 8, 9};
    mfl_es256_public_t pub;
    memset(pub.q, 0x11, sizeof(pub.q));
    assert_int_equal(mfl_store_rekey_device(s, id1, 4, psk, sizeof(psk), NULL), 0);
    assert_int_equal(mfl_store_get_device(s, id1, 4, &d), 0);
    assert_int_equal(d.psk_len, 3);
    assert_memory_equal(d.psk, psk, 3);
    assert_int_equal(d.pub.q[0], 4);
    assert_int_equal(mfl_store_rekey_device(s, id1, 4, NULL, 0, &pub), 0);
    assert_int_equal(mfl_store_get_device(s, id1, 4, &d), 0);
    assert_memory_equal(d.pub.q, pub.q, sizeof(pub.q));
    assert_int_equal(d.psk_len, 3);
    assert_int_equal(d.last_counter, 4);
    assert_int_equal(d.accepted, 2);
    assert_string_equal(d.group, "north");
    assert_int_equal(mfl_store_rekey_device(s, id1, 4, NULL, 0, NULL), MFL_ERR_INVALID_ARG);
    assert_int_equal(mfl_store_rekey_device(s, id1, 4, psk, 0, NULL), MFL_ERR_INVALID_ARG);
    assert_int_equal(mfl_store_rekey_device(s, id1, 4, psk, 65, NULL), MFL_ERR_INVALID_ARG);
    assert_int_equal(mfl_store_rekey_device(s, (const uint8_t *)"nope", 4, psk, 3, NULL), MFL_ERR_NO_DEVICE);

    /* removal: refused while updates wait, unless forced */
    assert_int_equal(mfl_store_pending_count(s), 2);
    assert_int_equal(mfl_store_remove_device(s, id1, 4, 0, &pending), MFL_ERR_BUSY);
    assert_int_equal(pending, 2);
    assert_int_equal(mfl_store_get_device(s, id1, 4, &d), 0);
    assert_int_equal(mfl_store_remove_device(s, id1, 4, 1, &pending), 0);
    assert_int_equal(pending, 2);
    assert_int_equal(mfl_store_get_device(s, id1, 4, &d), MFL_ERR_NO_DEVICE);
    assert_int_equal(mfl_store_pending_count(s), 0);
    assert_int_equal(mfl_store_pending_devices(s), 0);
    assert_int_equal(offer(s, "dev1", 5, 0x05, NULL), MFL_ERR_NO_DEVICE);
    assert_int_equal(mfl_store_remove_device(s, id1, 4, 1, NULL), MFL_ERR_NO_DEVICE);
    assert_int_equal(mfl_store_remove_device(s, (const uint8_t *)"dev2", 4, 0, &pending), 0);
    assert_int_equal(pending, 0);
    int n = 0;
    mfl_store_each_device(s, count_devices, &n);
    assert_int_equal(n, 0);

    /* the id added again: its old counters stay spent */
    add(s, "dev1", "east");
    assert_int_equal(mfl_store_get_device(s, id1, 4, &d), 0);
    assert_int_equal(d.last_counter, 4);
    assert_int_equal(d.accepted, 0);
    assert_int_equal(offer(s, "dev1", 4, 0x04, &last), MFL_STORE_DUPLICATE);
    assert_int_equal(offer(s, "dev1", 2, 0x22, &last), MFL_STORE_COUNTER_USED);
    assert_int_equal(last, 4);
    assert_int_equal(offer(s, "dev1", 5, 0x05, NULL), MFL_STORE_ACCEPTED);
    /* removed twice: the larger counter is kept */
    assert_int_equal(mfl_store_remove_device(s, id1, 4, 1, NULL), 0);
    add(s, "dev1", "east");
    assert_int_equal(mfl_store_get_device(s, id1, 4, &d), 0);
    assert_int_equal(d.last_counter, 5);
    mfl_store_close(s);

    /* another process's write transaction: refused at once by default,
     * waited for with a busy timeout */
    char path[64];
    snprintf(path, sizeof(path), "%s/state.db", ldir);
    sqlite3 *other;
    assert_int_equal(sqlite3_open(path, &other), SQLITE_OK);
    assert_int_equal(mfl_store_open(ldir, MFL_DURABLE_PROCESS, &s), 0);
    assert_int_equal(mfl_store_set_busy_timeout(s, -1), MFL_ERR_INVALID_ARG);
    assert_int_equal(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(mfl_store_revoke_device(s, id1, 4), MFL_ERR_STORE);
    assert_int_equal(mfl_store_set_busy_timeout(s, 100), 0);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(mfl_store_revoke_device(s, id1, 4), MFL_ERR_STORE);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_true((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 >= 90);
    assert_int_equal(sqlite3_exec(other, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(mfl_store_revoke_device(s, id1, 4), 0);
    sqlite3_close(other);
    mfl_store_close(s);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", ldir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_lifecycle),
        cmocka_unit_test(test_store_made_by_an_earlier_version),
        cmocka_unit_test(test_store_device_lifecycle),
    };
    return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
