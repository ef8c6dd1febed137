/* A device's persistent state: counter journal and two model slots
 * (device_state.h). Every write is ordered so that a power cut at any
 * byte leaves a state that opens to the last completed operation. */
#include <string.h>

#include "mfl/common.h"
#include "mfl/device_state.h"
#include "mfl/messages.h"
#include "mfl/error.h"
#include "state_internal.h"

#define COUNTER_MAGIC 0x434C464Du /* "MFLC" */
#define MODEL_MAGIC 0x4D4C464Du   /* "MFLM" */
#define HEAD_MAGIC 0x484C464Du    /* "MFLH" */
#define RECORD 16u                /* counter record: magic, counter, crc */
#define HEADER MFL_STATE_HEADER

typedef struct {
    uint32_t magic;
    uint32_t seq;
    uint32_t len;
    uint32_t body_crc;
    uint64_t version;
    uint32_t reserved;
    uint32_t header_crc; /* of the 28 bytes before it */
} slot_header_t;

static int is_erased(const uint8_t *p, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        if (p[i] != 0xFF) {
            return 0;
        }
    }
    return 1;
}

/* ---- counter journal ---- */

static int record_counter(const uint8_t rec[RECORD], uint64_t *counter)
{
    uint32_t magic, crc;
    memcpy(&magic, rec, 4);
    memcpy(counter, rec + 4, 8);
    memcpy(&crc, rec + 12, 4);
    return magic == COUNTER_MAGIC && crc == mfl_crc32(0, rec, 12);
}

static int scan_journal(mfl_state_t *s)
{
    mfl_storage_t *st = s->storage;
    uint8_t rec[RECORD];
    for (uint32_t j = 0; j < 2; j++) {
        for (uint32_t at = 0; at + RECORD <= st->sector; at += RECORD) {
            uint64_t c;
            if (st->read(st, j * st->sector + at, rec, RECORD)) {
                return MFL_ERR_FLASH;
            }
            if (record_counter(rec, &c) && c > s->counter) {
                s->counter = c;
                s->counter_sector = j;
            }
        }
    }
    return 0;
}

/* Offset of the first erased record of journal sector j, or UINT32_MAX. */
static uint32_t free_record(mfl_state_t *s, uint32_t j, int *err)
{
    mfl_storage_t *st = s->storage;
    uint8_t rec[RECORD];
    for (uint32_t at = 0; at + RECORD <= st->sector; at += RECORD) {
        if ((*err = st->read(st, j * st->sector + at, rec, RECORD)) != 0) {
            return UINT32_MAX;
        }
        if (is_erased(rec, RECORD)) {
            return j * st->sector + at;
        }
    }
    return UINT32_MAX;
}

/* Persists `value` as the highest counter handed out. */
static int write_counter(mfl_state_t *s, uint64_t value)
{
    mfl_storage_t *st = s->storage;
    int err = 0;
    uint32_t j = s->counter_sector, at = free_record(s, j, &err);
    if (!err && at == UINT32_MAX) {
        /* this sector is full: start the other one; this one keeps the
         * current counter until the new record is written */
        j ^= 1u;
        err = st->erase(st, j * st->sector);
        at = j * st->sector;
    }
    if (err) {
        return MFL_ERR_FLASH;
    }
    uint8_t rec[RECORD];
    const uint32_t magic = COUNTER_MAGIC;
    memcpy(rec, &magic, 4);
    memcpy(rec + 4, &value, 8);
    const uint32_t crc = mfl_crc32(0, rec, 12);
    memcpy(rec + 12, &crc, 4);
    if (st->write(st, at, rec, RECORD)) {
        return MFL_ERR_FLASH;
    }
    s->counter = value;
    s->counter_sector = j;
    return 0;
}

int mfl_state_next_counter(mfl_state_t *s, uint64_t *counter)
{
    if (!s || !counter || s->counter >= MFL_COUNTER_MAX) {
        return MFL_ERR_INVALID_ARG;
    }
    const int err = write_counter(s, s->counter + 1);
    *counter = err ? 0 : s->counter;
    return err;
}

int mfl_state_skip_counters(mfl_state_t *s, uint64_t used)
{
    if (!s || used >= MFL_COUNTER_MAX) {
        return MFL_ERR_INVALID_ARG;
    }
    return used > s->counter ? write_counter(s, used) : 0;
}

/* ---- record slots: pair k owns slots 2k and 2k + 1 ---- */

static const uint32_t pair_magic[2] = {MODEL_MAGIC, HEAD_MAGIC};

static mfl_state_pair_t *pair_of(mfl_state_t *s, int pair)
{
    return pair == PAIR_MODEL ? &s->model : &s->head;
}

uint32_t mfl_state_slot_offset(const mfl_state_t *s, int pair, int slot)
{
    return 2u * s->storage->sector + (uint32_t)(2 * pair + slot) * s->slot_size;
}

static uint32_t header_crc(const slot_header_t *h)
{
    return mfl_crc32(0, h, offsetof(slot_header_t, header_crc));
}

static int body_crc(mfl_storage_t *st, uint32_t offset, uint32_t len, uint32_t *crc)
{
    uint8_t chunk[64];
    *crc = 0;
    for (uint32_t done = 0; done < len;) {
        const uint32_t n = len - done < sizeof(chunk) ? len - done : (uint32_t)sizeof(chunk);
        if (st->read(st, offset + done, chunk, n)) {
            return MFL_ERR_FLASH;
        }
        *crc = mfl_crc32(*crc, chunk, n);
        done += n;
    }
    return 0;
}

/* Fills seq/len/version of a slot if it holds a complete record. */
static int scan_slot(mfl_state_t *s, int pair, int slot)
{
    mfl_storage_t *st = s->storage;
    mfl_state_pair_t *p = pair_of(s, pair);
    const uint32_t base = mfl_state_slot_offset(s, pair, slot);
    slot_header_t h;
    uint32_t crc;
    p->seq[slot] = 0;
    if (st->read(st, base, &h, sizeof(h))) {
        return MFL_ERR_FLASH;
    }
    if (h.magic != pair_magic[pair] || h.header_crc != header_crc(&h) || h.seq == 0 || h.len == 0 ||
        h.len > s->slot_size - HEADER) {
        return 0; /* empty, or torn before its header was complete */
    }
    if (body_crc(st, base + HEADER, h.len, &crc)) {
        return MFL_ERR_FLASH;
    }
    if (crc == h.body_crc) {
        p->seq[slot] = h.seq;
        p->len[slot] = h.len;
        p->version[slot] = h.version;
    }
    return 0;
}

void mfl_state_pick_newest(mfl_state_pair_t *p)
{
    p->current = p->seq[0] == 0 && p->seq[1] == 0 ? -1 : p->seq[0] >= p->seq[1] ? 0 : 1;
}

int mfl_state_open(mfl_state_t *s, mfl_storage_t *storage)
{
    if (!s || !storage || !storage->sector || storage->size % storage->sector ||
        storage->size / storage->sector < 6) {
        return MFL_ERR_INVALID_ARG;
    }
    memset(s, 0, sizeof(*s));
    s->storage = storage;
    s->slot_size = (storage->size / storage->sector - 2u) / 4u * storage->sector;
    int err = scan_journal(s);
    for (int pair = 0; pair < 2; pair++) {
        for (int slot = 0; slot < 2 && !err; slot++) {
            err = scan_slot(s, pair, slot);
        }
        mfl_state_pick_newest(pair_of(s, pair));
    }
    return err;
}

/*
 * Writes a record made of up to three parts into the slot of the pair not
 * in use: erase, body, then the header last, so that the record counts
 * only once all of it is in and a cut leaves the previous record current.
 */
int mfl_state_write_record(mfl_state_t *s, int pair, const mfl_state_part_t *parts, int n_parts, uint64_t version)
{
    mfl_state_pair_t *p = pair_of(s, pair);
    mfl_storage_t *st = s->storage;
    uint32_t len = 0, crc = 0;
    for (int i = 0; i < n_parts; i++) {
        if (parts[i].len > s->slot_size - HEADER - len) {
            return MFL_ERR_BUFFER_TOO_SMALL;
        }
        len += parts[i].len;
        crc = mfl_crc32(crc, parts[i].data, parts[i].len);
    }
    if (len == 0) {
        return MFL_ERR_INVALID_ARG;
    }
    const int target = p->current == 0 ? 1 : 0; /* never the slot in use */
    const uint32_t base = mfl_state_slot_offset(s, pair, target);
    slot_header_t h = {pair_magic[pair], (p->seq[0] > p->seq[1] ? p->seq[0] : p->seq[1]) + 1u, len, crc, version, 0, 0};
    h.header_crc = header_crc(&h);
    p->seq[target] = 0; /* being overwritten */
    int err = 0;
    for (uint32_t at = 0; at < s->slot_size && !err; at += st->sector) {
        err = st->erase(st, base + at);
    }
    for (uint32_t i = 0, at = base + HEADER; i < (uint32_t)n_parts && !err; at += parts[i++].len) {
        err = st->write(st, at, parts[i].data, parts[i].len);
    }
    err = err ? err : st->write(st, base, &h, sizeof(h));
    if (err) {
        mfl_state_pick_newest(p);
        return MFL_ERR_FLASH;
    }
    p->seq[target] = h.seq;
    p->len[target] = len;
    p->version[target] = version;
    p->current = target;
    return 0;
}

int mfl_state_install_model(mfl_state_t *s, const uint8_t *msg, uint32_t len, uint64_t version)
{
    if (!s || !msg || len == 0) {
        return MFL_ERR_INVALID_ARG;
    }
    const mfl_state_part_t part = {msg, len};
    return mfl_state_write_record(s, PAIR_MODEL, &part, 1, version);
}
