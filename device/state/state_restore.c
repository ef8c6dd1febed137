/* Boot-time restore of the installed model (device_state.h): the stored
 * bytes are verified again, as if they had just arrived. */
#include "mfl/device_state.h"
#include "mfl/error.h"
#include "mfl/update_builder.h"

int mfl_state_restore(mfl_state_t *s, mfl_learner_t *l, const mfl_es256_public_t *aggregator, uint8_t *buf,
                      uint32_t cap, uint64_t *version)
{
    if (!s || !l || !aggregator || !buf || !version) {
        return MFL_ERR_INVALID_ARG;
    }
    *version = 0;
    while (s->slot >= 0) {
        const int slot = s->slot;
        const uint32_t offset = 2u * s->storage->sector + (uint32_t)slot * s->slot_size + 32u;
        uint64_t v = 0;
        int err = s->len[slot] <= cap ? s->storage->read(s->storage, offset, buf, s->len[slot]) : MFL_ERR_BUFFER_TOO_SMALL;
        if (err == MFL_ERR_FLASH) {
            return err;
        }
        err = err ? err : mfl_model_install(l, buf, s->len[slot], aggregator, 0, &v);
        if (!err) {
            *version = v;
            return 0;
        }
        /* intact bytes that do not verify (another aggregator key, or a
         * model for another head): try the older slot */
        s->seq[slot] = 0;
        s->slot = s->seq[slot ^ 1] ? slot ^ 1 : -1;
    }
    return MFL_ERR_NO_MODEL;
}
