/*
 * What the aggregator checks before it serves, so that it refuses to run
 * misconfigured instead of quietly doing harm:
 *  - one aggregator per data_dir (an flock on the directory, held while
 *    the state is open; data_dir/lock names the holder's pid): two on one
 *    store would both accept updates and publish over each other;
 *  - the signing key is the one that signed the stored models: with a
 *    replaced key, every device pinned to the old one would refuse every
 *    model from then on;
 *  - the base model is the one the store's models were made from (its
 *    backbone identity, mfl/model_identity.h): a head trained on another
 *    backbone's features would be published to devices that compute other
 *    features (devices check it too: it is in every model message).
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aggregator.h"

int agg_lock_data_dir(agg_state_t *s, char *msg, size_t cap)
{
    char path[1100], pid[32] = "";
    snprintf(path, sizeof(path), "%s/lock", s->cfg.data_dir);
    if (mkdir(s->cfg.data_dir, 0700) && errno != EEXIST) {
        snprintf(msg, cap, "data_dir %s: %s", s->cfg.data_dir, strerror(errno));
        return MFL_ERR_IO;
    }
    /* the lock is on the directory itself: deleting the `lock` file (which
     * only names the pid) cannot let a second aggregator in */
    const int fd = open(s->cfg.data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(msg, cap, "data_dir %s: %s", s->cfg.data_dir, strerror(errno));
        return MFL_ERR_IO;
    }
    if (flock(fd, LOCK_EX | LOCK_NB)) {
        const int e = errno;
        const int pf = open(path, O_RDONLY | O_CLOEXEC);
        const ssize_t n = pf >= 0 ? read(pf, pid, sizeof(pid) - 1) : -1;
        pid[n > 0 ? n : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        if (pf >= 0) {
            close(pf);
        }
        snprintf(msg, cap, e == EWOULDBLOCK ? "data_dir %s is in use by another aggregator (pid %s)" : "%s: %s",
                 s->cfg.data_dir, e == EWOULDBLOCK ? (pid[0] ? pid : "?") : strerror(e));
        close(fd);
        return MFL_ERR_IO;
    }
    const int pf = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    const int n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
    if (pf >= 0) {
        if (write(pf, pid, (size_t)n) != n) {
            /* the pid is only for the message above; the lock is what counts */
        }
        close(pf);
    }
    s->lock_fd = fd;
    return 0;
}

void agg_unlock_data_dir(agg_state_t *s)
{
    if (s->lock_fd >= 0) {
        close(s->lock_fd); /* releases the flock */
        s->lock_fd = -1;
    }
}

static void hex8(const uint8_t *b, char out[17])
{
    for (int i = 0; i < 8; i++) {
        snprintf(out + 2 * i, 3, "%02x", b[i]);
    }
}

int agg_check_base(agg_state_t *s, int first_start, char *msg, size_t cap)
{
    uint8_t stored[32];
    const uint8_t *id = s->backbone;
    size_t len = 0;
    char a[17], b[17];
    int err = mfl_store_meta_get_blob(s->store, "backbone_id", stored, sizeof(stored), &len);
    if (err == MFL_ERR_NO_MODEL) { /* a new store, or one made before identities were kept */
        if (!first_start) {
            agg_log_at(AGG_LOG_WARNING, "backbone_recorded", "reason=\"the store had no backbone identity: %s is "
                       "taken as the base its models were made from\"", s->cfg.model);
        }
        return mfl_store_meta_put_blob(s->store, "backbone_id", id, sizeof(stored));
    }
    if (err) {
        return err;
    }
    if (len != sizeof(stored) || memcmp(id, stored, sizeof(stored))) {
        hex8(id, a), hex8(stored, b);
        snprintf(msg, cap, "model %s (backbone %s) is not the base the models in %s were made from (backbone %s): "
                 "its features differ, and a head trained on others would be published; point 'model' at the "
                 "original base, or use a new data_dir", s->cfg.model, a, s->cfg.data_dir, b);
        return MFL_ERR_INVALID_ARG;
    }
    return 0;
}

int agg_check_key(agg_state_t *s, char *msg, size_t cap)
{
    mfl_es256_public_t pub;
    mfl_cose_sign1_t c;
    int err = mfl_es256_public_from_private(&s->key, &pub);
    err = err ? err : mfl_cose_sign1_decode(s->model_msg, s->model_msg_len, &c);
    if (err) {
        snprintf(msg, cap, "%s: %s", s->cfg.key, mfl_strerror(err));
        return err;
    }
    if (mfl_cose_sign1_verify(&c, NULL, 0, &pub)) {
        snprintf(msg, cap, "key %s did not sign model version %llu in %s: devices pinned to the key that did "
                 "would refuse every model from now on; restore that key, or start a new data_dir (and give "
                 "devices the new public key)", s->cfg.key, (unsigned long long)s->version, s->cfg.data_dir);
        return MFL_ERR_COSE_SIGNATURE;
    }
    return 0;
}
