/* The aggregator's durable state in SQLite (see include/mfl/host/store.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "mfl/error.h"
#include "mfl/host/store.h"

struct mfl_store {
    sqlite3 *db;
    sqlite3_stmt *get_device, *accept_counter, *accept_insert, *find_digest;
    sqlite3_stmt *begin, *commit, *rollback; /* an update's transaction, compiled once */
    int64_t pending; /* rows in `pending`, kept in step with commits; -1 = count them */
    int64_t pending_devices; /* devices with a row in `pending`, likewise */
};

static const char schema[] =
    "PRAGMA journal_mode=WAL;"
    "CREATE TABLE IF NOT EXISTS devices ("
    "  id BLOB PRIMARY KEY, psk BLOB NOT NULL, pub BLOB NOT NULL, grp TEXT NOT NULL,"
    "  last_counter INTEGER NOT NULL DEFAULT 0, revoked INTEGER NOT NULL DEFAULT 0,"
    "  accepted INTEGER NOT NULL DEFAULT 0, pending INTEGER NOT NULL DEFAULT 0);"
    /* no AUTOINCREMENT and no index, each a page write per update: rowids
     * grow while rows are pending (arrival order), a round deletes the rows
     * it folded by rowid, and the counter check lives in `devices` */
    "CREATE TABLE IF NOT EXISTS pending ("
    "  rowid INTEGER PRIMARY KEY, device BLOB NOT NULL, counter INTEGER NOT NULL,"
    "  base_version INTEGER NOT NULL, msg BLOB NOT NULL, digest BLOB);"
    /* the digests of folded updates, kept for good: a retransmission is
     * told "duplicate" only when its signed body is the one stored under
     * its counter. Moved here by the round that folds them, so an update
     * costs one row write, not two */
    "CREATE TABLE IF NOT EXISTS accepted ("
    "  device BLOB NOT NULL, counter INTEGER NOT NULL, digest BLOB NOT NULL,"
    "  PRIMARY KEY(device, counter)) WITHOUT ROWID;"
    /* head: the exact global head (int32 Q8.24, little-endian) the model
     * message carries in int8, so a restart continues with the same head */
    "CREATE TABLE IF NOT EXISTS models (version INTEGER PRIMARY KEY, msg BLOB NOT NULL, head BLOB);"
    "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value) WITHOUT ROWID;"
    /* what stays of a removed device: its last counter, so that its id
     * added again cannot take its old signed updates (replays), and how
     * many updates it had accepted */
    "CREATE TABLE IF NOT EXISTS removed_devices ("
    "  id BLOB PRIMARY KEY, last_counter INTEGER NOT NULL, accepted INTEGER NOT NULL) WITHOUT ROWID;";

static int fail(mfl_store_t *s, const char *what)
{
    fprintf(stderr, "store: %s: %s\n", what, sqlite3_errmsg(s->db));
    return MFL_ERR_STORE;
}

static int has_column(sqlite3 *db, const char *table, const char *column)
{
    sqlite3_stmt *st;
    int has = 0;
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM pragma_table_info(?) WHERE name = ?", -1, &st, NULL) ==
        SQLITE_OK) {
        sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, column, -1, SQLITE_STATIC);
        has = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) > 0;
    }
    sqlite3_finalize(st);
    return has;
}

/* A store made by an earlier version: pending rows gain a digest column
 * (theirs stay empty, so their retransmissions are "counter used"), models
 * their exact head (older ones have none), and devices a count of their
 * pending rows. */
static int migrate(sqlite3 *db)
{
    int err = 0;
    if (!has_column(db, "pending", "digest")) {
        err = sqlite3_exec(db, "ALTER TABLE pending ADD COLUMN digest BLOB", NULL, NULL, NULL) != SQLITE_OK;
    }
    if (!err && !has_column(db, "models", "head")) {
        err = sqlite3_exec(db, "ALTER TABLE models ADD COLUMN head BLOB", NULL, NULL, NULL) != SQLITE_OK;
    }
    if (!err && !has_column(db, "devices", "pending")) {
        err = sqlite3_exec(db, "ALTER TABLE devices ADD COLUMN pending INTEGER NOT NULL DEFAULT 0;"
                               "UPDATE devices SET pending = (SELECT count(*) FROM pending WHERE device = devices.id);",
                           NULL, NULL, NULL) != SQLITE_OK;
    }
    return err ? -1 : 0;
}

int mfl_store_open(const char *data_dir, int durability, mfl_store_t **out)
{
    char path[4096];
    if (!data_dir || !out || (size_t)snprintf(path, sizeof(path), "%s/state.db", data_dir) >= sizeof(path)) {
        return MFL_ERR_INVALID_ARG;
    }
    mkdir(data_dir, 0700);
    mfl_store_t *s = calloc(1, sizeof(*s));
    if (!s) {
        return MFL_ERR_NO_MEMORY;
    }
    s->pending = s->pending_devices = -1;
    int err = 0;
    if (sqlite3_open(path, &s->db) != SQLITE_OK) {
        err = fail(s, path);
    } else {
        chmod(path, 0600); /* PSKs live here */
        char pragma[64];
        snprintf(pragma, sizeof(pragma), "PRAGMA synchronous=%s;", durability == MFL_DURABLE_POWER ? "FULL" : "NORMAL");
        if (sqlite3_exec(s->db, schema, NULL, NULL, NULL) != SQLITE_OK ||
            sqlite3_exec(s->db, pragma, NULL, NULL, NULL) != SQLITE_OK ||
            migrate(s->db) || /* before any statement names a new column */
            sqlite3_prepare_v2(s->db, "SELECT psk, pub, grp, last_counter, revoked, accepted, "
                                      "pending FROM devices WHERE id = ?", -1,
                               &s->get_device, NULL) != SQLITE_OK ||
            sqlite3_prepare_v2(s->db, "UPDATE devices SET last_counter = ?, accepted = accepted + 1, "
                                      "pending = pending + 1 WHERE id = ? AND revoked = 0 AND last_counter < ? "
                                      "RETURNING pending", -1, &s->accept_counter, NULL) != SQLITE_OK ||
            sqlite3_prepare_v2(s->db, "INSERT INTO pending (device, counter, base_version, msg, digest) "
                                      "VALUES (?,?,?,?,?)", -1, &s->accept_insert, NULL) != SQLITE_OK ||
            sqlite3_prepare_v2(s->db, "SELECT digest FROM pending WHERE device = ?1 AND counter = ?2 UNION ALL "
                                      "SELECT digest FROM accepted WHERE device = ?1 AND counter = ?2", -1,
                               &s->find_digest, NULL) != SQLITE_OK ||
            sqlite3_prepare_v2(s->db, "BEGIN IMMEDIATE", -1, &s->begin, NULL) != SQLITE_OK ||
            sqlite3_prepare_v2(s->db, "COMMIT", -1, &s->commit, NULL) != SQLITE_OK ||
            sqlite3_prepare_v2(s->db, "ROLLBACK", -1, &s->rollback, NULL) != SQLITE_OK) {
            err = fail(s, "schema");
        }
    }
    if (err) {
        mfl_store_close(s);
        return err;
    }
    *out = s;
    return 0;
}

void mfl_store_close(mfl_store_t *s)
{
    if (s) {
        sqlite3_finalize(s->get_device);
        sqlite3_finalize(s->accept_counter);
        sqlite3_finalize(s->accept_insert);
        sqlite3_finalize(s->find_digest);
        sqlite3_finalize(s->begin);
        sqlite3_finalize(s->commit);
        sqlite3_finalize(s->rollback);
        sqlite3_close(s->db);
        free(s);
    }
}

int mfl_store_add_device(mfl_store_t *s, const mfl_device_rec_t *d)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "INSERT INTO devices (id, psk, pub, grp, last_counter) VALUES (?1, ?2, ?3, ?4, "
                                  "coalesce((SELECT last_counter FROM removed_devices WHERE id = ?1), 0))", -1, &st,
                           NULL)) {
        return fail(s, "add device");
    }
    sqlite3_bind_blob(st, 1, d->id, (int)d->id_len, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, d->psk, (int)d->psk_len, SQLITE_STATIC);
    sqlite3_bind_blob(st, 3, d->pub.q, sizeof(d->pub.q), SQLITE_STATIC);
    sqlite3_bind_text(st, 4, d->group, -1, SQLITE_STATIC);
    const int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : rc == SQLITE_CONSTRAINT ? MFL_ERR_EXISTS : fail(s, "add device");
}

static void copy_blob(sqlite3_stmt *st, int col, uint8_t *dst, size_t cap, size_t *len)
{
    const int n = sqlite3_column_bytes(st, col);
    *len = n > 0 && (size_t)n <= cap ? (size_t)n : 0;
    if (*len) {
        memcpy(dst, sqlite3_column_blob(st, col), *len);
    }
}

static void read_device(sqlite3_stmt *st, int first, mfl_device_rec_t *d)
{
    size_t pub_len;
    copy_blob(st, first, d->psk, sizeof(d->psk), &d->psk_len);
    copy_blob(st, first + 1, d->pub.q, sizeof(d->pub.q), &pub_len);
    snprintf(d->group, sizeof(d->group), "%s", (const char *)sqlite3_column_text(st, first + 2));
    d->last_counter = (uint64_t)sqlite3_column_int64(st, first + 3);
    d->revoked = sqlite3_column_int(st, first + 4);
    d->accepted = (uint64_t)sqlite3_column_int64(st, first + 5);
    d->pending = (uint64_t)sqlite3_column_int64(st, first + 6);
}

int mfl_store_get_device(mfl_store_t *s, const uint8_t *id, size_t id_len, mfl_device_rec_t *d)
{
    sqlite3_reset(s->get_device);
    sqlite3_bind_blob(s->get_device, 1, id, (int)id_len, SQLITE_STATIC);
    const int rc = sqlite3_step(s->get_device);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(s->get_device);
        return rc == SQLITE_DONE ? MFL_ERR_NO_DEVICE : fail(s, "get device");
    }
    memset(d, 0, sizeof(*d));
    memcpy(d->id, id, id_len < sizeof(d->id) ? id_len : sizeof(d->id));
    d->id_len = id_len;
    read_device(s->get_device, 0, d);
    sqlite3_reset(s->get_device);
    return 0;
}

/* Runs a statement whose only parameter, ?1, is a device id, to its end. */
static int exec_with_id(mfl_store_t *s, const char *sql, const uint8_t *id, size_t id_len, const char *what)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL)) {
        return fail(s, what);
    }
    sqlite3_bind_blob(st, 1, id, (int)id_len, SQLITE_STATIC);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : fail(s, what);
}

static int begin_write(mfl_store_t *s)
{
    return sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK ? 0 : fail(s, "begin");
}

/* Commits when err is 0, else rolls back; err, or the commit's failure. */
static int end_write(mfl_store_t *s, int err)
{
    if (!err && sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        err = fail(s, "commit");
    }
    if (err) {
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    }
    return err;
}

int mfl_store_set_busy_timeout(mfl_store_t *s, int ms)
{
    if (!s || ms < 0) {
        return MFL_ERR_INVALID_ARG;
    }
    return sqlite3_busy_timeout(s->db, ms) == SQLITE_OK ? 0 : fail(s, "busy timeout");
}

int mfl_store_set_device_revoked(mfl_store_t *s, const uint8_t *id, size_t id_len, int revoked, int *was)
{
    if (!s || !id || id_len == 0 || id_len > INT32_MAX) {
        return MFL_ERR_INVALID_ARG;
    }
    mfl_device_rec_t d;
    int err = begin_write(s);
    if (err) {
        return err;
    }
    err = mfl_store_get_device(s, id, id_len, &d); /* in the transaction: the flag as it was */
    err = err ? err : exec_with_id(s, revoked ? "UPDATE devices SET revoked = 1 WHERE id = ?1"
                                              : "UPDATE devices SET revoked = 0 WHERE id = ?1", id, id_len, "revoke");
    err = end_write(s, err);
    if (!err && was) {
        *was = d.revoked;
    }
    memset(d.psk, 0, sizeof(d.psk));
    return err;
}

int mfl_store_revoke_device(mfl_store_t *s, const uint8_t *id, size_t id_len)
{
    return mfl_store_set_device_revoked(s, id, id_len, 1, NULL);
}

int mfl_store_rekey_device(mfl_store_t *s, const uint8_t *id, size_t id_len, const uint8_t *psk, size_t psk_len,
                           const mfl_es256_public_t *pub)
{
    sqlite3_stmt *st;
    if (!s || !id || id_len == 0 || id_len > INT32_MAX || (!psk && !pub) ||
        (psk && (psk_len == 0 || psk_len > sizeof(((mfl_device_rec_t *)0)->psk)))) {
        return MFL_ERR_INVALID_ARG;
    }
    if (sqlite3_prepare_v2(s->db, "UPDATE devices SET psk = coalesce(?2, psk), pub = coalesce(?3, pub) WHERE id = ?1",
                           -1, &st, NULL)) {
        return fail(s, "rekey");
    }
    sqlite3_bind_blob(st, 1, id, (int)id_len, SQLITE_STATIC);
    if (psk) {
        sqlite3_bind_blob(st, 2, psk, (int)psk_len, SQLITE_STATIC);
    }
    if (pub) {
        sqlite3_bind_blob(st, 3, pub->q, sizeof(pub->q), SQLITE_STATIC);
    }
    const int rc = sqlite3_step(st);
    const int changed = sqlite3_changes(s->db);
    sqlite3_finalize(st);
    return rc != SQLITE_DONE ? fail(s, "rekey") : changed ? 0 : MFL_ERR_NO_DEVICE;
}

/* Counts the device's pending rows into *n. */
static int count_pending_of(mfl_store_t *s, const uint8_t *id, size_t id_len, uint64_t *n)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "SELECT count(*) FROM pending WHERE device = ?", -1, &st, NULL)) {
        return fail(s, "pending of device");
    }
    sqlite3_bind_blob(st, 1, id, (int)id_len, SQLITE_STATIC);
    const int rc = sqlite3_step(st);
    *n = rc == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : fail(s, "pending of device");
}

int mfl_store_remove_device(mfl_store_t *s, const uint8_t *id, size_t id_len, int force, uint64_t *pending)
{
    if (!s || !id || id_len == 0 || id_len > INT32_MAX) {
        return MFL_ERR_INVALID_ARG;
    }
    mfl_device_rec_t d;
    uint64_t n = 0;
    int err = begin_write(s);
    if (err) {
        return err;
    }
    err = mfl_store_get_device(s, id, id_len, &d);
    memset(d.psk, 0, sizeof(d.psk));
    err = err ? err : count_pending_of(s, id, id_len, &n);
    err = err ? err : n && !force ? MFL_ERR_BUSY : 0;
    /* dropped updates keep their digests, as a round's dropped ones do */
    err = err ? err : exec_with_id(s, "INSERT OR IGNORE INTO accepted (device, counter, digest) SELECT device, "
                                      "counter, digest FROM pending WHERE device = ?1 AND digest IS NOT NULL",
                                   id, id_len, "remove");
    err = err ? err : exec_with_id(s, "DELETE FROM pending WHERE device = ?1", id, id_len, "remove");
    err = err ? err : exec_with_id(s, "INSERT INTO removed_devices (id, last_counter, accepted) SELECT id, "
                                      "last_counter, accepted FROM devices WHERE id = ?1 ON CONFLICT (id) DO UPDATE "
                                      "SET last_counter = max(last_counter, excluded.last_counter), "
                                      "accepted = accepted + excluded.accepted", id, id_len, "remove");
    err = err ? err : exec_with_id(s, "DELETE FROM devices WHERE id = ?1", id, id_len, "remove");
    err = end_write(s, err);
    if (pending) {
        *pending = n;
    }
    if (!err && n) {
        s->pending = s->pending_devices = -1; /* count again when asked */
    }
    return err;
}

int mfl_store_each_device(mfl_store_t *s, int (*fn)(void *ctx, const mfl_device_rec_t *d), void *ctx)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "SELECT id, psk, pub, grp, last_counter, revoked, accepted, pending "
                                  "FROM devices ORDER BY id", -1,
                           &st, NULL)) {
        return fail(s, "list devices");
    }
    int rc, stop = 0;
    while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        mfl_device_rec_t d;
        memset(&d, 0, sizeof(d));
        copy_blob(st, 0, d.id, sizeof(d.id), &d.id_len);
        read_device(st, 1, &d);
        stop = fn(ctx, &d);
    }
    sqlite3_finalize(st);
    return stop;
}

/* A spent counter: the same update stored under it (same digest), or
 * another one (or one stored before digests were kept). */
static int spent_outcome(mfl_store_t *s, const mfl_store_update_t *u, int *outcome)
{
    sqlite3_reset(s->find_digest);
    sqlite3_bind_blob(s->find_digest, 1, u->device, (int)u->device_len, SQLITE_STATIC);
    sqlite3_bind_int64(s->find_digest, 2, (sqlite3_int64)u->counter);
    const int rc = sqlite3_step(s->find_digest);
    const int same = rc == SQLITE_ROW && sqlite3_column_bytes(s->find_digest, 0) == 32 &&
                     !memcmp(sqlite3_column_blob(s->find_digest, 0), u->digest, 32);
    sqlite3_reset(s->find_digest);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        return fail(s, "find digest");
    }
    *outcome = same ? MFL_STORE_DUPLICATE : MFL_STORE_COUNTER_USED;
    return 0;
}

int mfl_store_prior(mfl_store_t *s, const mfl_store_update_t *u, int *outcome, uint64_t *last_counter)
{
    mfl_device_rec_t d;
    const int err = mfl_store_get_device(s, u->device, u->device_len, &d);
    if (err || d.revoked) {
        return err ? err : MFL_ERR_NO_DEVICE;
    }
    *last_counter = d.last_counter;
    if (u->counter > d.last_counter) {
        *outcome = MFL_STORE_NEW;
        return 0;
    }
    return spent_outcome(s, u, outcome);
}

static int step_insert(mfl_store_t *s, const mfl_store_update_t *u)
{
    sqlite3_stmt *p = s->accept_insert;
    sqlite3_reset(p);
    sqlite3_bind_blob(p, 1, u->device, (int)u->device_len, SQLITE_STATIC);
    sqlite3_bind_int64(p, 2, (sqlite3_int64)u->counter);
    sqlite3_bind_int64(p, 3, (sqlite3_int64)u->base_version);
    sqlite3_bind_blob(p, 4, u->msg, (int)u->len, SQLITE_STATIC);
    sqlite3_bind_blob(p, 5, u->digest, 32, SQLITE_STATIC);
    const int err = sqlite3_step(p) == SQLITE_DONE ? 0 : fail(s, "insert update");
    sqlite3_reset(p);
    return err;
}

/* Steps a prepared statement without results once: its result code. */
static int run_once(sqlite3_stmt *st)
{
    const int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc;
}

int mfl_store_accept_update(mfl_store_t *s, const mfl_store_update_t *u, int *outcome, uint64_t *last_counter)
{
    if (!s || !u || !outcome || !last_counter || u->counter == 0 || u->counter > INT64_MAX ||
        u->base_version > INT64_MAX || u->len > INT32_MAX || u->device_len > INT32_MAX) {
        return MFL_ERR_INVALID_ARG; /* SQLite integers are signed 64-bit */
    }
    if (run_once(s->begin) != SQLITE_DONE) {
        return fail(s, "begin");
    }
    sqlite3_reset(s->accept_counter);
    sqlite3_bind_int64(s->accept_counter, 1, (sqlite3_int64)u->counter);
    sqlite3_bind_blob(s->accept_counter, 2, u->device, (int)u->device_len, SQLITE_STATIC);
    sqlite3_bind_int64(s->accept_counter, 3, (sqlite3_int64)u->counter);
    int rc = sqlite3_step(s->accept_counter);
    const int taken = rc == SQLITE_ROW;
    const int64_t device_pending = taken ? sqlite3_column_int64(s->accept_counter, 0) : 0;
    rc = taken ? sqlite3_step(s->accept_counter) : rc;
    int err = rc == SQLITE_DONE ? 0 : fail(s, "counter");
    sqlite3_reset(s->accept_counter);
    err = err || !taken ? err : step_insert(s, u);
    if (err || !taken) {
        run_once(s->rollback);
        return err ? err : mfl_store_prior(s, u, outcome, last_counter); /* not taken: why */
    }
    if (run_once(s->commit) != SQLITE_DONE) {
        s->pending = s->pending_devices = -1;
        return fail(s, "commit");
    }
    s->pending += s->pending >= 0;
    s->pending_devices += s->pending_devices >= 0 && device_pending == 1;
    *outcome = MFL_STORE_ACCEPTED;
    *last_counter = u->counter;
    return 0;
}

int mfl_store_each_pending(mfl_store_t *s, int (*fn)(void *ctx, int64_t rowid, const uint8_t *msg, size_t len),
                           void *ctx)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "SELECT rowid, msg FROM pending ORDER BY rowid", -1, &st, NULL)) {
        return fail(s, "pending");
    }
    int rc, stop = 0;
    while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        stop = fn(ctx, sqlite3_column_int64(st, 0), sqlite3_column_blob(st, 1),
                  (size_t)sqlite3_column_bytes(st, 1));
    }
    sqlite3_finalize(st);
    return stop;
}

int mfl_store_each_group(mfl_store_t *s, int (*fn)(void *ctx, const char *group, uint64_t devices, uint64_t accepted),
                         void *ctx)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "SELECT grp, count(*), sum(accepted) FROM devices WHERE revoked = 0 "
                                  "GROUP BY grp ORDER BY grp", -1, &st, NULL)) {
        return fail(s, "groups");
    }
    int stop = 0;
    while (!stop && sqlite3_step(st) == SQLITE_ROW) {
        stop = fn(ctx, (const char *)sqlite3_column_text(st, 0), (uint64_t)sqlite3_column_int64(st, 1),
                  (uint64_t)sqlite3_column_int64(st, 2));
    }
    sqlite3_finalize(st);
    return stop;
}

/* *cached, or the count `sql` gives (kept in *cached; -1 on error). Both
 * counts are asked after every accepted update: no count(*) each time. */
static int64_t cached_count(mfl_store_t *s, int64_t *cached, const char *sql)
{
    if (*cached >= 0) {
        return *cached;
    }
    sqlite3_stmt *st;
    int64_t n = -1;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
        n = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    *cached = n;
    return n;
}

int64_t mfl_store_pending_count(mfl_store_t *s)
{
    return cached_count(s, &s->pending, "SELECT count(*) FROM pending");
}

int64_t mfl_store_pending_devices(mfl_store_t *s)
{
    return cached_count(s, &s->pending_devices, "SELECT count(*) FROM devices WHERE pending > 0");
}

#define FOLD_CHUNK 500 /* rowids per statement */

/* Folds pending rows (their devices' pending counts down, their digests
 * kept in `accepted`, the rows gone): three set statements per chunk of
 * rowids, not three per row (a round of 100 cost 1.5 ms that way). The
 * SQL is built from integers only. */
static int fold_rows(mfl_store_t *s, const int64_t *rowid, size_t n)
{
    const size_t cap = 2 * FOLD_CHUNK * 21 + 512;
    char *list = malloc(FOLD_CHUNK * 21 + 1), *stmt = malloc(cap);
    int err = list && stmt ? 0 : MFL_ERR_NO_MEMORY;
    for (size_t at = 0; !err && at < n; at += FOLD_CHUNK) {
        size_t used = 0;
        for (size_t i = at; i < n && i < at + FOLD_CHUNK; i++) {
            used += (size_t)snprintf(list + used, 22, "%s%lld", i > at ? "," : "", (long long)rowid[i]);
        }
        for (int k = 0; !err && k < 3; k++) {
            if (k == 0) {
                snprintf(stmt, cap, "UPDATE devices SET pending = max(0, pending - f.n) FROM (SELECT device, "
                         "count(*) AS n FROM pending WHERE rowid IN (%s) GROUP BY device) AS f "
                         "WHERE devices.id = f.device", list);
            } else if (k == 1) {
                snprintf(stmt, cap, "INSERT OR IGNORE INTO accepted (device, counter, digest) SELECT device, "
                         "counter, digest FROM pending WHERE rowid IN (%s) AND digest IS NOT NULL", list);
            } else {
                snprintf(stmt, cap, "DELETE FROM pending WHERE rowid IN (%s)", list);
            }
            err = sqlite3_exec(s->db, stmt, NULL, NULL, NULL) == SQLITE_OK ? 0 : fail(s, "fold");
        }
    }
    free(list);
    free(stmt);
    return err;
}

int mfl_store_publish_model(mfl_store_t *s, uint64_t version, const uint8_t *msg, size_t len, const uint8_t *head,
                            size_t head_len, const int64_t *folded, size_t n_folded)
{
    sqlite3_stmt *ins = NULL, *max = NULL;
    int err = sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK ? 0 : fail(s, "begin");
    if (!err && msg && (sqlite3_prepare_v2(s->db, "SELECT coalesce(max(version), 0) FROM models", -1, &max, NULL) ||
                        sqlite3_step(max) != SQLITE_ROW)) {
        err = fail(s, "model version");
    }
    if (!err && msg && (uint64_t)sqlite3_column_int64(max, 0) >= version) {
        err = MFL_ERR_INVALID_ARG; /* versions only go up */
    }
    if (!err && msg &&
        sqlite3_prepare_v2(s->db, "INSERT INTO models (version, msg, head) VALUES (?, ?, ?)", -1, &ins, NULL)) {
        err = fail(s, "publish");
    }
    if (!err && msg) {
        sqlite3_bind_int64(ins, 1, (sqlite3_int64)version);
        sqlite3_bind_blob(ins, 2, msg, (int)len, SQLITE_STATIC);
        if (head) {
            sqlite3_bind_blob(ins, 3, head, (int)head_len, SQLITE_STATIC);
        }
        err = sqlite3_step(ins) == SQLITE_DONE ? 0 : fail(s, "publish");
    }
    err = err ? err : fold_rows(s, folded, n_folded);
    sqlite3_finalize(ins);
    sqlite3_finalize(max);
    if (err) {
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return err;
    }
    s->pending = s->pending_devices = -1; /* some were folded in: count again when asked */
    return sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK ? 0 : fail(s, "commit");
}

int mfl_store_latest_head(mfl_store_t *s, uint64_t version, uint8_t *head, size_t len)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "SELECT head FROM models WHERE version = ?", -1, &st, NULL)) {
        return fail(s, "head");
    }
    sqlite3_bind_int64(st, 1, (sqlite3_int64)version);
    int err = MFL_ERR_NO_MODEL;
    if (sqlite3_step(st) == SQLITE_ROW && (size_t)sqlite3_column_bytes(st, 0) == len && len) {
        memcpy(head, sqlite3_column_blob(st, 0), len);
        err = 0;
    }
    sqlite3_finalize(st);
    return err;
}

int mfl_store_latest_model(mfl_store_t *s, uint64_t *version, uint8_t **msg, size_t *len)
{
    sqlite3_stmt *st;
    *version = 0;
    *msg = NULL;
    *len = 0;
    if (sqlite3_prepare_v2(s->db, "SELECT version, msg FROM models ORDER BY version DESC LIMIT 1", -1, &st, NULL)) {
        return fail(s, "latest model");
    }
    int err = 0;
    if (sqlite3_step(st) == SQLITE_ROW) {
        const int n = sqlite3_column_bytes(st, 1);
        *msg = malloc(n > 0 ? (size_t)n : 1);
        if (!*msg) {
            err = MFL_ERR_NO_MEMORY;
        } else {
            memcpy(*msg, sqlite3_column_blob(st, 1), (size_t)n);
            *len = (size_t)n;
            *version = (uint64_t)sqlite3_column_int64(st, 0);
        }
    }
    sqlite3_finalize(st);
    return err;
}

int mfl_store_meta_get_int(mfl_store_t *s, const char *name, uint64_t *value)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "SELECT value FROM meta WHERE name = ?", -1, &st, NULL)) {
        return fail(s, "meta");
    }
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    const int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *value = (uint64_t)sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? MFL_ERR_NO_MODEL : fail(s, "meta");
}

int mfl_store_meta_put_ints(mfl_store_t *s, const char *const *names, const uint64_t *values, size_t n)
{
    sqlite3_stmt *st;
    if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) ||
        sqlite3_prepare_v2(s->db, "INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)", -1, &st, NULL)) {
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return fail(s, "meta");
    }
    int err = 0;
    for (size_t i = 0; !err && i < n; i++) {
        sqlite3_bind_text(st, 1, names[i], -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)(values[i] & INT64_MAX));
        err = sqlite3_step(st) != SQLITE_DONE;
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    err = err || sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
    if (err) {
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return fail(s, "meta");
    }
    return 0;
}

int mfl_store_meta_get_blob(mfl_store_t *s, const char *name, uint8_t *buf, size_t cap, size_t *len)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "SELECT value FROM meta WHERE name = ?", -1, &st, NULL)) {
        return fail(s, "meta");
    }
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    const int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const size_t n = (size_t)sqlite3_column_bytes(st, 0);
        *len = n;
        memcpy(buf, sqlite3_column_blob(st, 0), n < cap ? n : cap);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? MFL_ERR_NO_MODEL : fail(s, "meta");
}

int mfl_store_meta_put_blob(mfl_store_t *s, const char *name, const uint8_t *value, size_t len)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)", -1, &st, NULL)) {
        return fail(s, "meta");
    }
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, value, (int)len, SQLITE_TRANSIENT);
    const int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : fail(s, "meta");
}

int mfl_store_total_accepted(mfl_store_t *s, uint64_t *total)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "SELECT coalesce((SELECT sum(accepted) FROM devices), 0) + "
                                  "coalesce((SELECT sum(accepted) FROM removed_devices), 0)", -1, &st, NULL)) {
        return fail(s, "accepted");
    }
    const int rc = sqlite3_step(st);
    *total = rc == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : fail(s, "accepted");
}
