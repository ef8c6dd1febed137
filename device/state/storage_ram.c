/* RAM standing in for NOR flash, with an optional power-cut budget
 * (storage.h). Used by the emulated firmware and the power-loss tests. */
#include <string.h>

#include "mfl/error.h"
#include "mfl/storage.h"

static mfl_ram_flash_t *flash(mfl_storage_t *s)
{
    return (mfl_ram_flash_t *)s->ctx;
}

/* Bytes the power lets through, out of len; marks the flash dead at the cut. */
static uint32_t allowance(mfl_ram_flash_t *f, uint32_t len)
{
    if (f->power_budget == UINT32_MAX) {
        return len;
    }
    const uint32_t n = len < f->power_budget ? len : f->power_budget;
    f->power_budget -= n;
    f->dead = n < len || f->power_budget == 0;
    return n;
}

static int ram_read(mfl_storage_t *s, uint32_t offset, void *dst, uint32_t len)
{
    if (flash(s)->dead || offset > s->size || len > s->size - offset) {
        return MFL_ERR_FLASH;
    }
    memcpy(dst, flash(s)->mem + offset, len);
    return 0;
}

static int ram_write(mfl_storage_t *s, uint32_t offset, const void *src, uint32_t len)
{
    mfl_ram_flash_t *f = flash(s);
    if (f->dead || offset > s->size || len > s->size - offset) {
        return MFL_ERR_FLASH;
    }
    const uint32_t n = allowance(f, len);
    const uint8_t *in = src;
    for (uint32_t i = 0; i < n; i++) {
        f->mem[offset + i] &= in[i]; /* programming only clears bits */
    }
    return n == len ? 0 : MFL_ERR_FLASH;
}

static int ram_erase(mfl_storage_t *s, uint32_t sector_offset)
{
    mfl_ram_flash_t *f = flash(s);
    if (f->dead || sector_offset % s->sector || sector_offset >= s->size) {
        return MFL_ERR_FLASH;
    }
    const uint32_t n = allowance(f, s->sector);
    memset(f->mem + sector_offset, 0xFF, n); /* a cut erase leaves the rest as it was */
    return n == s->sector ? 0 : MFL_ERR_FLASH;
}

int mfl_storage_ram_init(mfl_storage_t *s, mfl_ram_flash_t *f, uint8_t *mem, uint32_t size, uint32_t sector)
{
    if (!s || !f || !mem || sector == 0 || size % sector) {
        return MFL_ERR_INVALID_ARG;
    }
    memset(mem, 0xFF, size);
    f->mem = mem;
    f->power_budget = UINT32_MAX;
    f->dead = 0;
    *s = (mfl_storage_t){size, sector, ram_read, ram_write, ram_erase, f};
    return 0;
}
