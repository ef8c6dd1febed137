/*
 * The storage port: where a device keeps what must survive a reboot or a
 * power cut (its update counter and the last model it installed). It
 * behaves like NOR flash: erased bytes read 0xFF, a write can only clear
 * bits of erased bytes, and erasing works on whole sectors. Ports: a file
 * on Linux-class devices (device/posix/storage_file.c), RAM standing in for
 * flash in the emulated firmware and in tests (device/state/storage_ram.c).
 */
#ifndef MFL_STORAGE_H
#define MFL_STORAGE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mfl_storage mfl_storage_t;
struct mfl_storage {
    uint32_t size;   /* bytes, a multiple of sector */
    uint32_t sector; /* erase unit, bytes */
    /* each returns 0 or MFL_ERR_FLASH */
    int (*read)(mfl_storage_t *s, uint32_t offset, void *dst, uint32_t len);
    int (*write)(mfl_storage_t *s, uint32_t offset, const void *src, uint32_t len);
    int (*erase)(mfl_storage_t *s, uint32_t sector_offset);
    void *ctx;
};

/* RAM standing in for flash (no heap). power_budget: bytes that may be
 * written or erased before the power fails (UINT32_MAX: never): the write
 * or erase in progress stops part-way, and every later call fails, as
 * after a cut. */
typedef struct {
    uint8_t *mem;
    uint32_t power_budget;
    int dead;
} mfl_ram_flash_t;

/* mem: size bytes (erased to 0xFF here). Returns 0 or MFL_ERR_INVALID_ARG. */
int mfl_storage_ram_init(mfl_storage_t *s, mfl_ram_flash_t *f, uint8_t *mem, uint32_t size, uint32_t sector);

/* Host port: a file of size bytes (created mode 0600, erased), locked
 * (flock) for as long as it is open. Returns 0, MFL_ERR_IO (the file
 * cannot be opened or created: errno says why), MFL_ERR_FLASH (it cannot
 * be extended), MFL_ERR_BUSY (another process has it open) or
 * MFL_ERR_INVALID_ARG. */
int mfl_storage_file_open(mfl_storage_t *s, const char *path, uint32_t size, uint32_t sector);
void mfl_storage_file_close(mfl_storage_t *s);

#ifdef __cplusplus
}
#endif

#endif /* MFL_STORAGE_H */
