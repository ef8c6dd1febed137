/* A device's persistent state: counter journal and two model slots
 * (device_state.h). Every write is ordered so that a power cut at any
 * byte leaves a state that opens to the last completed operation. */
#include <string.h>

#include "mfl/common.h"
#include "mfl/device_state.h"
#include "mfl/error.h"

#define COUNTER_MAGIC 0x434C464Du /* "MFLC" */
#define MODEL_MAGIC 0x4D4C464Du   /* "MFLM" */
#define RECORD 16u                /* counter record: magic, counter, crc */
#define HEADER 32u                /* model slot header */

typedef struct {
    uint32_t magic;
    uint32_t seq;
    uint32_t len;
    uint32_t body_crc;
    uint64_t version;
    uint32_t reserved;
    uint32_t header_crc; /* of the 28 bytes before it */
} slot_header_t;

static uint32_t slot_offset(const mfl_state_t *s, int slot)
{
    return 2u * s->storage->sector + (uint32_t)slot * s->slot_size;
}

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

int mfl_state_next_counter(mfl_state_t *s, uint64_t *counter)
{
    if (!s || !counter || s->counter == UINT64_MAX) {
        return MFL_ERR_INVALID_ARG;
    }
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
    const uint64_t next = s->counter + 1;
    memcpy(rec, &magic, 4);
    memcpy(rec + 4, &next, 8);
    const uint32_t crc = mfl_crc32(0, rec, 12);
    memcpy(rec + 12, &crc, 4);
    if (st->write(st, at, rec, RECORD)) {
        return MFL_ERR_FLASH;
    }
    s->counter = next;
    s->counter_sector = j;
    *counter = next;
    return 0;
}

/* ---- model slots ---- */

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

/* Fills seq/len/version of a slot if it holds a complete model. */
static int scan_slot(mfl_state_t *s, int slot)
{
    mfl_storage_t *st = s->storage;
    slot_header_t h;
    uint32_t crc;
    s->seq[slot] = 0;
    if (st->read(st, slot_offset(s, slot), &h, sizeof(h))) {
        return MFL_ERR_FLASH;
    }
    if (h.magic != MODEL_MAGIC || h.header_crc != header_crc(&h) || h.seq == 0 || h.len == 0 ||
        h.len > s->slot_size - HEADER) {
        return 0; /* empty, or torn before its header was complete */
    }
    if (body_crc(st, slot_offset(s, slot) + HEADER, h.len, &crc)) {
        return MFL_ERR_FLASH;
    }
    if (crc == h.body_crc) {
        s->seq[slot] = h.seq;
        s->len[slot] = h.len;
        s->version[slot] = h.version;
    }
    return 0;
}

static void pick_newest(mfl_state_t *s)
{
    s->slot = s->seq[0] == 0 && s->seq[1] == 0 ? -1 : s->seq[0] >= s->seq[1] ? 0 : 1;
}

int mfl_state_open(mfl_state_t *s, mfl_storage_t *storage)
{
    if (!s || !storage || !storage->sector || storage->size % storage->sector ||
        storage->size / storage->sector < 4) {
        return MFL_ERR_INVALID_ARG;
    }
    memset(s, 0, sizeof(*s));
    s->storage = storage;
    s->slot_size = (storage->size / storage->sector - 2u) / 2u * storage->sector;
    int err = scan_journal(s);
    err = err ? err : scan_slot(s, 0);
    err = err ? err : scan_slot(s, 1);
    pick_newest(s);
    return err;
}

int mfl_state_install_model(mfl_state_t *s, const uint8_t *msg, uint32_t len, uint64_t version)
{
    if (!s || !msg || len == 0) {
        return MFL_ERR_INVALID_ARG;
    }
    if (len > s->slot_size - HEADER) {
        return MFL_ERR_BUFFER_TOO_SMALL;
    }
    mfl_storage_t *st = s->storage;
    const int target = s->slot == 0 ? 1 : 0; /* never the slot in use */
    const uint32_t base = slot_offset(s, target);
    slot_header_t h = {MODEL_MAGIC, (s->seq[0] > s->seq[1] ? s->seq[0] : s->seq[1]) + 1u, len,
                       mfl_crc32(0, msg, len), version, 0, 0};
    h.header_crc = header_crc(&h);
    s->seq[target] = 0; /* being overwritten */
    int err = 0;
    for (uint32_t at = 0; at < s->slot_size && !err; at += st->sector) {
        err = st->erase(st, base + at);
    }
    /* the body first, the header last: the slot counts only once both are in */
    err = err ? err : st->write(st, base + HEADER, msg, len);
    err = err ? err : st->write(st, base, &h, sizeof(h));
    if (err) {
        pick_newest(s);
        return MFL_ERR_FLASH;
    }
    s->seq[target] = h.seq;
    s->len[target] = len;
    s->version[target] = version;
    s->slot = target;
    return 0;
}
