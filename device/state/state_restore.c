/* The parts of the device state that need the learner and the protocol
 * (device_state.h): re-verifying the stored model at boot, and the learned
 * head's checkpoints. */
#include <string.h>

#include "mfl/device_state.h"
#include "mfl/error.h"
#include "mfl/head.h"
#include "mfl/update_builder.h"
#include "state_internal.h"


int mfl_state_restore(mfl_state_t *s, mfl_learner_t *l, const mfl_es256_public_t *aggregator, uint8_t *buf,
                      uint32_t cap, uint64_t *version)
{
    if (!s || !l || !aggregator || !buf || !version) {
        return MFL_ERR_INVALID_ARG;
    }
    mfl_state_pair_t *p = &s->model;
    *version = 0;
    while (p->current >= 0) {
        const int slot = p->current;
        const uint32_t offset = mfl_state_slot_offset(s, PAIR_MODEL, slot) + MFL_STATE_HEADER;
        uint64_t v = 0;
        int err = p->len[slot] <= cap ? s->storage->read(s->storage, offset, buf, p->len[slot]) : MFL_ERR_BUFFER_TOO_SMALL;
        if (err == MFL_ERR_FLASH) {
            return err;
        }
        err = err ? err : mfl_model_install(l, buf, p->len[slot], aggregator, 0, &v);
        if (!err) {
            *version = v;
            return 0;
        }
        /* intact bytes that do not verify (another aggregator key, or a
         * model for another head): try the older slot */
        p->seq[slot] = 0;
        mfl_state_pick_newest(p);
    }
    return MFL_ERR_NO_MODEL;
}

/* A head checkpoint: shape and sample count, then the master weights and
 * biases as the learner holds them (Q8.24, the device's byte order). */
typedef struct {
    uint16_t units, features;
    uint32_t samples;
} head_meta_t;

int mfl_state_save_head(mfl_state_t *s, const mfl_learner_t *l, uint64_t base_version)
{
    if (!s || !l) {
        return MFL_ERR_INVALID_ARG;
    }
    const head_meta_t meta = {l->head.units, l->head.features, l->samples};
    const mfl_state_part_t parts[3] = {
        {&meta, sizeof(meta)},
        {l->head.w, (uint32_t)l->head.units * l->head.features * (uint32_t)sizeof(int32_t)},
        {l->head.b, (uint32_t)l->head.units * (uint32_t)sizeof(int32_t)},
    };
    return mfl_state_write_record(s, PAIR_HEAD, parts, 3, base_version);
}

int mfl_state_restore_head(mfl_state_t *s, mfl_learner_t *l, uint64_t base_version)
{
    if (!s || !l) {
        return MFL_ERR_INVALID_ARG;
    }
    const mfl_state_pair_t *p = &s->head;
    const int slot = p->current;
    const uint32_t weights = (uint32_t)l->head.units * l->head.features * (uint32_t)sizeof(int32_t);
    const uint32_t biases = (uint32_t)l->head.units * (uint32_t)sizeof(int32_t);
    head_meta_t meta;
    if (slot < 0 || p->version[slot] != base_version || p->len[slot] != (uint32_t)sizeof(meta) + weights + biases) {
        return MFL_ERR_NO_MODEL; /* none, or learned from another global model */
    }
    mfl_storage_t *st = s->storage;
    const uint32_t at = mfl_state_slot_offset(s, PAIR_HEAD, slot) + MFL_STATE_HEADER, meta_len = (uint32_t)sizeof(meta);
    int err = st->read(st, at, &meta, sizeof(meta));
    if (!err && (meta.units != l->head.units || meta.features != l->head.features)) {
        return MFL_ERR_NO_MODEL;
    }
    err = err ? err : st->read(st, at + meta_len, l->head.w, weights);
    err = err ? err : st->read(st, at + meta_len + weights, l->head.b, biases);
    err = err ? err : mfl_head_requantize(&l->head, &l->q);
    if (err) {
        mfl_learner_reset(l); /* never run a half-read head */
        return err == MFL_ERR_FLASH ? err : MFL_ERR_NO_MODEL;
    }
    l->samples = meta.samples;
    return 0;
}
