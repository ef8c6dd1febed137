/*
 * What the aggregator checks before it serves, so that it refuses to run
 * misconfigured instead of quietly doing harm:
 *  - one aggregator per data_dir (an flock on data_dir/lock, held while
 *    the state is open): two on one store would both accept updates and
 *    publish over each other;
 *  - the signing key is the one that signed the stored models: with a
 *    replaced key, every device pinned to the old one would refuse every
 *    model from then on;
 *  - the base model is the one the store's models were made from (its
 *    backbone identity, below): a head trained on another backbone's
 *    features would be published to devices that compute other features.
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
    const int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(msg, cap, "%s: %s", path, strerror(errno));
        return MFL_ERR_IO;
    }
    if (flock(fd, LOCK_EX | LOCK_NB)) {
        const int e = errno;
        const ssize_t n = read(fd, pid, sizeof(pid) - 1);
        pid[n > 0 ? n : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        snprintf(msg, cap, e == EWOULDBLOCK ? "data_dir %s is in use by another aggregator (pid %s)" : "%s: %s",
                 e == EWOULDBLOCK ? s->cfg.data_dir : path, e == EWOULDBLOCK ? (pid[0] ? pid : "?") : strerror(e));
        close(fd);
        return MFL_ERR_IO;
    }
    const int n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) || pwrite(fd, pid, (size_t)n, 0) != n) {
        /* the pid is only for the message above; the lock is what counts */
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

static void hash_span(mfl_sha256_t *h, const uint8_t *data, size_t len, const uint8_t *blank_from,
                      const uint8_t *blank_to)
{
    static const uint8_t zeros[256];
    const uint8_t *end = data + len;
    for (const uint8_t *p = data; p < end;) {
        if (p >= blank_from && p < blank_to) { /* hashed as zeros */
            const size_t n = (size_t)(blank_to - p) < sizeof(zeros) ? (size_t)(blank_to - p) : sizeof(zeros);
            mfl_sha256_update(h, zeros, n);
            p += n;
        } else {
            const uint8_t *stop = p < blank_from && blank_from < end ? blank_from : end;
            mfl_sha256_update(h, p, (size_t)(stop - p));
            p = stop;
        }
    }
}

/*
 * The backbone's identity: SHA-256 of the model's tensor and operator
 * tables and its data section with the head's own values blanked (its
 * weights, biases, requantization and weight scales, which federated
 * rounds change), so it names everything that makes the features and
 * the head's shape. Two bases differ in it when any layer before the head,
 * any quantization parameter of the features, or the head's shape differs.
 */
void agg_backbone_id(const mfl_model_t *m, uint8_t out[32])
{
    const mfl_model_header_t *hd = m->header;
    const mfl_op_rec_t *op = &m->ops[hd->head_op];
    const mfl_tensor_rec_t *w = &m->tensors[op->inputs[1]];
    const mfl_tensor_rec_t *b = op->n_inputs > 2 && op->inputs[2] != MFL_NONE ? &m->tensors[op->inputs[2]] : NULL;
    mfl_sha256_t h;
    memset(out, 0, 32);
    if (mfl_sha256_start(&h)) {
        return;
    }
    mfl_sha256_update(&h, m->tensors, (size_t)hd->n_tensors * sizeof(mfl_tensor_rec_t));
    mfl_sha256_update(&h, m->ops, (size_t)hd->n_ops * sizeof(mfl_op_rec_t));
    /* the blanked spans, in data order; the head's weights, its bias, its
     * operator's parameters (multipliers from the weight scales), and the
     * head record's weight scales (after its four feature/output words) */
    const uint8_t *d = m->data;
    struct { const uint8_t *from, *to; } blank[4] = {
        {d + w->offset, d + w->offset + w->size},
        {b ? d + b->offset : d, b ? d + b->offset + b->size : d},
        {d + op->params_offset + sizeof(mfl_fc_rec_t), d + op->params_offset + op->params_size},
        {d + hd->head_params_offset + sizeof(mfl_head_rec_t), d + hd->head_params_offset + hd->head_params_size},
    };
    for (int i = 0; i < 4; i++) { /* sort by start (4 entries) */
        for (int j = i + 1; j < 4; j++) {
            if (blank[j].from < blank[i].from) {
                const __typeof__(blank[0]) t = blank[i];
                blank[i] = blank[j], blank[j] = t;
            }
        }
    }
    const uint8_t *p = d, *end = d + hd->data_size;
    for (int i = 0; i < 4; i++) {
        if (blank[i].to <= blank[i].from || blank[i].from < p) {
            continue; /* empty or overlapping: the bytes were covered already */
        }
        hash_span(&h, p, (size_t)(blank[i].to - p), blank[i].from, blank[i].to);
        p = blank[i].to;
    }
    hash_span(&h, p, (size_t)(end - p), end, end);
    mfl_sha256_finish(&h, out);
}

static void hex8(const uint8_t *b, char out[17])
{
    for (int i = 0; i < 8; i++) {
        snprintf(out + 2 * i, 3, "%02x", b[i]);
    }
}

int agg_check_base(agg_state_t *s, int first_start, char *msg, size_t cap)
{
    uint8_t id[32], stored[32];
    size_t len = 0;
    char a[17], b[17];
    agg_backbone_id(&s->model, id);
    int err = mfl_store_meta_get_blob(s->store, "backbone_id", stored, sizeof(stored), &len);
    if (err == MFL_ERR_NO_MODEL) { /* a new store, or one made before identities were kept */
        if (!first_start) {
            agg_log_at(AGG_LOG_WARNING, "backbone_recorded", "reason=\"the store had no backbone identity: %s is "
                       "taken as the base its models were made from\"", s->cfg.model);
        }
        return mfl_store_meta_put_blob(s->store, "backbone_id", id, sizeof(id));
    }
    if (err) {
        return err;
    }
    if (len != sizeof(id) || memcmp(id, stored, sizeof(id))) {
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
