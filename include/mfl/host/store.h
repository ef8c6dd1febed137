/*
 * The aggregator's durable state in SQLite (one file, data_dir/state.db):
 * devices (id, PSK, public key, group, last counter, revoked), accepted
 * updates waiting for aggregation, and published models.
 *
 * Two processes may hold the store at once: the server, and provisioning
 * (mfl-aggregator provision) changing devices while it serves. In WAL mode
 * a reader never waits; a writer meets the other's write transaction as
 * SQLITE_BUSY, which mfl_store_set_busy_timeout() turns into a wait. The
 * server looks a device up at each handshake and each update, so a change
 * takes effect at the device's next one.
 *
 * Durability: an update is acknowledged only after mfl_store_accept_update()
 * returned 0, i.e. after its transaction committed. In WAL mode with
 * synchronous=NORMAL a commit survives the process being killed at any
 * moment (kill -9); synchronous=FULL (durability "power") also survives an
 * operating-system crash or power loss, at the cost of an fsync per commit.
 * The counter check and the insert are one transaction, so an update is
 * never counted twice and a replayed counter is refused even after restarts.
 * Every accepted update's digest is kept for good (about 80 bytes each), so
 * that a retransmission is told apart from another update reusing a counter.
 */
#ifndef MFL_STORE_H
#define MFL_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "mfl/crypto.h"
#include "mfl/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mfl_store mfl_store_t;

enum mfl_durability { MFL_DURABLE_PROCESS = 0, MFL_DURABLE_POWER = 1 };

int mfl_store_open(const char *data_dir, int durability, mfl_store_t **store);
void mfl_store_close(mfl_store_t *store);

/* How long a write waits for another process's write transaction to end
 * (SQLite's busy timeout, in ms); 0, the default, fails at once with
 * MFL_ERR_STORE. Returns 0 or MFL_ERR_INVALID_ARG (ms < 0). */
int mfl_store_set_busy_timeout(mfl_store_t *s, int ms);

typedef struct {
    uint8_t id[32];
    size_t id_len;
    uint8_t psk[64];
    size_t psk_len;
    mfl_es256_public_t pub;
    char group[64];
    uint64_t last_counter;
    int revoked;
    /* read by get/each; add ignores them */
    uint64_t accepted; /* updates ever accepted from the device */
    uint64_t pending;  /* of those, waiting for a round */
} mfl_device_rec_t;

/* Adds a device (id 1..32 bytes, psk 1..64 bytes, group NUL-terminated).
 * A device of that id removed before continues from the removed one's last
 * counter (see mfl_store_remove_device). Returns 0, MFL_ERR_EXISTS or
 * MFL_ERR_STORE. */
int mfl_store_add_device(mfl_store_t *s, const mfl_device_rec_t *d);
/* Returns 0, MFL_ERR_NO_DEVICE (unknown; a revoked one is returned, with
 * revoked set) or MFL_ERR_STORE. */
int mfl_store_get_device(mfl_store_t *s, const uint8_t *id, size_t id_len, mfl_device_rec_t *d);
/* Sets the device's revoked flag: 1 refuses its handshakes and updates
 * (its pending updates are dropped by the next round), 0 readmits it with
 * its counters. *was (may be NULL) gets the previous flag. Returns 0,
 * MFL_ERR_NO_DEVICE or MFL_ERR_STORE. */
int mfl_store_set_device_revoked(mfl_store_t *s, const uint8_t *id, size_t id_len, int revoked, int *was);
/* mfl_store_set_device_revoked(s, id, id_len, 1, NULL). */
int mfl_store_revoke_device(mfl_store_t *s, const uint8_t *id, size_t id_len);
/* New keys for a device: psk (1..64 bytes; NULL keeps the PSK) and/or pub
 * (NULL keeps the key). Its counter, counts, group, pending updates and
 * revoked flag stay. Returns 0, MFL_ERR_INVALID_ARG (neither given, or a
 * PSK length out of range), MFL_ERR_NO_DEVICE or MFL_ERR_STORE. */
int mfl_store_rekey_device(mfl_store_t *s, const uint8_t *id, size_t id_len, const uint8_t *psk, size_t psk_len,
                           const mfl_es256_public_t *pub);
/*
 * Deletes a device: its keys, group and flag. Its pending updates: with
 * force 0, none may be left (MFL_ERR_BUSY, nothing changed); with force,
 * they are dropped with it. *pending (may be NULL) gets their number.
 * Its replay history stays, so that nobody can replay its old signed
 * updates by adding the id again: the digests of its updates (dropped ones
 * included, as a round drops them) and, in table removed_devices, its last
 * counter and accepted count. A device added again under the id continues
 * above that counter. In one transaction. Returns 0, MFL_ERR_BUSY,
 * MFL_ERR_NO_DEVICE or MFL_ERR_STORE.
 */
int mfl_store_remove_device(mfl_store_t *s, const uint8_t *id, size_t id_len, int force, uint64_t *pending);
/* Calls fn for every device, in id order; stops at a nonzero return. */
int mfl_store_each_device(mfl_store_t *s, int (*fn)(void *ctx, const mfl_device_rec_t *d), void *ctx);

/* One verified update, as the store keeps it. */
typedef struct {
    const uint8_t *device;    /* device id (COSE kid), 1..32 bytes */
    size_t device_len;
    uint64_t counter;         /* 1..2^63-1 */
    uint64_t base_version;    /* 0..2^63-1 */
    uint8_t digest[32];       /* SHA-256 of the signed body (the COSE payload, not the
                               * signature: ECDSA signatures are malleable) */
    const uint8_t *msg;       /* the whole signed message, kept for aggregation */
    size_t len;
} mfl_store_update_t;

enum mfl_store_outcome {
    MFL_STORE_ACCEPTED = 0,     /* stored now */
    MFL_STORE_DUPLICATE = 1,    /* this update (same counter, same digest) was stored before */
    MFL_STORE_COUNTER_USED = 2, /* not stored: counter <= last_counter, held by another update */
    MFL_STORE_NEW = 3,          /* (mfl_store_prior) the counter is unspent */
};

/* What the store already holds for this update, before any other check:
 * a retransmission of a stored update is "duplicate" whatever else has
 * changed since (the model's version, the head). *outcome is DUPLICATE,
 * COUNTER_USED or NEW; *last_counter the device's last accepted counter.
 * Returns 0, MFL_ERR_NO_DEVICE (unknown or revoked) or MFL_ERR_STORE. */
int mfl_store_prior(mfl_store_t *s, const mfl_store_update_t *u, int *outcome, uint64_t *last_counter);

/*
 * Accepts one verified update: in one transaction, checks counter >
 * last_counter, stores the message and its digest and raises the counter.
 * *outcome says what happened (enum mfl_store_outcome) and *last_counter
 * is the device's last accepted counter afterwards. Only ACCEPTED changes
 * anything. Returns 0, MFL_ERR_NO_DEVICE (unknown or revoked),
 * MFL_ERR_INVALID_ARG (counter 0, or a counter, version or length beyond
 * SQLite's signed 64-bit integers) or MFL_ERR_STORE.
 */
int mfl_store_accept_update(mfl_store_t *s, const mfl_store_update_t *u, int *outcome, uint64_t *last_counter);

/* Per group (revoked devices excluded): devices and updates accepted, in
 * group order; fn's nonzero return stops. */
int mfl_store_each_group(mfl_store_t *s, int (*fn)(void *ctx, const char *group, uint64_t devices, uint64_t accepted),
                         void *ctx);

/* Pending (accepted, not yet aggregated) updates, oldest first. */
int mfl_store_each_pending(mfl_store_t *s, int (*fn)(void *ctx, int64_t rowid, const uint8_t *msg, size_t len),
                           void *ctx);
int64_t mfl_store_pending_count(mfl_store_t *s);

/* Devices with at least one pending update (a round folds one per device). */
int64_t mfl_store_pending_devices(mfl_store_t *s);

/* Publishes a model: in one transaction stores it with the exact global
 * head it was made from (head may be NULL), the version above every stored
 * one (MFL_ERR_INVALID_ARG otherwise), and folds the pending updates
 * whose rowids are listed (their digests stay, in `accepted`); the others
 * stay pending. msg NULL: folds (drops) the listed updates, no model. */
int mfl_store_publish_model(mfl_store_t *s, uint64_t version, const uint8_t *msg, size_t len, const uint8_t *head,
                            size_t head_len, const int64_t *folded, size_t n_folded);

/* The exact head stored with model `version` (head_len bytes, as given to
 * mfl_store_publish_model). MFL_ERR_NO_MODEL when there is none of that
 * size (a store made before heads were kept). */
int mfl_store_latest_head(mfl_store_t *s, uint64_t version, uint8_t *head, size_t len);

/* The latest model message (malloc'd into *msg) and its version; *msg NULL
 * and version 0 when none is stored. */
int mfl_store_latest_model(mfl_store_t *s, uint64_t *version, uint8_t **msg, size_t *len);

#ifdef __cplusplus
}
#endif

/* Named values beside the data (table `meta`): the status counters, the
 * identity of the base model and of the signing key. */
/* *value, or MFL_ERR_NO_MODEL when the name is not set. */
int mfl_store_meta_get_int(mfl_store_t *s, const char *name, uint64_t *value);
/* Sets n names to their values in one transaction. */
int mfl_store_meta_put_ints(mfl_store_t *s, const char *const *names, const uint64_t *values, size_t n);
/* Up to cap bytes into buf, *len the stored length; MFL_ERR_NO_MODEL when not set. */
int mfl_store_meta_get_blob(mfl_store_t *s, const char *name, uint8_t *buf, size_t cap, size_t *len);
int mfl_store_meta_put_blob(mfl_store_t *s, const char *name, const uint8_t *value, size_t len);
/* Updates ever accepted, over every device (revoked ones included). */
int mfl_store_total_accepted(mfl_store_t *s, uint64_t *total);

#endif /* MFL_STORE_H */
