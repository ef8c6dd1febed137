/* What the state's record slots offer the rest of device/state/. */
#ifndef MFL_STATE_INTERNAL_H
#define MFL_STATE_INTERNAL_H

#include <stdint.h>

#include "mfl/device_state.h"

#define MFL_STATE_HEADER 32u /* slot header bytes before a record's body */

enum { PAIR_MODEL = 0, PAIR_HEAD = 1 }; /* the two pairs of record slots */

typedef struct {
    const void *data;
    uint32_t len;
} mfl_state_part_t;

/* Byte offset of slot 0/1 of pair 0 (models) or 1 (head checkpoints). */
uint32_t mfl_state_slot_offset(const mfl_state_t *s, int pair, int slot);
/* Makes the newest intact slot of a pair current (-1 if none). */
void mfl_state_pick_newest(mfl_state_pair_t *p);
/* A record of up to three parts into the pair's free slot, header last. */
int mfl_state_write_record(mfl_state_t *s, int pair, const mfl_state_part_t *parts, int n_parts, uint64_t version);

#endif /* MFL_STATE_INTERNAL_H */
