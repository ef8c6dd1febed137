/* The storage port on a file, for Linux-class devices (storage.h): the
 * file plays the flash (0xFF when erased); every write and erase reaches
 * the disk (fdatasync) before it returns. */
#define _POSIX_C_SOURCE 200809L
#include <fcntl.h>
#include <stdint.h>
#include <errno.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mfl/error.h"
#include "mfl/storage.h"

static int fd_of(const mfl_storage_t *s)
{
    return (int)(intptr_t)s->ctx;
}

static int file_read(mfl_storage_t *s, uint32_t offset, void *dst, uint32_t len)
{
    if (offset > s->size || len > s->size - offset) {
        return MFL_ERR_FLASH;
    }
    return pread(fd_of(s), dst, len, offset) == (ssize_t)len ? 0 : MFL_ERR_FLASH;
}

static int file_write(mfl_storage_t *s, uint32_t offset, const void *src, uint32_t len)
{
    if (offset > s->size || len > s->size - offset) {
        return MFL_ERR_FLASH;
    }
    return pwrite(fd_of(s), src, len, offset) == (ssize_t)len && fdatasync(fd_of(s)) == 0 ? 0 : MFL_ERR_FLASH;
}

static int file_erase(mfl_storage_t *s, uint32_t sector_offset)
{
    uint8_t ff[512];
    memset(ff, 0xFF, sizeof(ff));
    if (sector_offset % s->sector || sector_offset >= s->size) {
        return MFL_ERR_FLASH;
    }
    for (uint32_t done = 0; done < s->sector; done += (uint32_t)sizeof(ff)) {
        const uint32_t n = s->sector - done < sizeof(ff) ? s->sector - done : (uint32_t)sizeof(ff);
        if (pwrite(fd_of(s), ff, n, sector_offset + done) != (ssize_t)n) {
            return MFL_ERR_FLASH;
        }
    }
    return fdatasync(fd_of(s)) == 0 ? 0 : MFL_ERR_FLASH;
}

int mfl_storage_file_open(mfl_storage_t *s, const char *path, uint32_t size, uint32_t sector)
{
    if (!s || !path || sector == 0 || size % sector) {
        return MFL_ERR_INVALID_ARG;
    }
    const int fd = open(path, O_RDWR | O_CREAT, 0600);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        if (fd >= 0) {
            const int e = errno;
            close(fd);
            errno = e;
        }
        return MFL_ERR_IO; /* errno says why (a missing directory, a permission) */
    }
    /* one user at a time: two processes on one counter journal could hand
     * out the same counter for two different updates */
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        close(fd);
        return MFL_ERR_BUSY;
    }
    *s = (mfl_storage_t){size, sector, file_read, file_write, file_erase, (void *)(intptr_t)fd};
    /* a new file is erased flash; a shorter one is extended with erased bytes */
    for (uint32_t at = (uint32_t)(st.st_size / sector) * sector; at < size; at += sector) {
        if (file_erase(s, at)) {
            close(fd);
            return MFL_ERR_FLASH;
        }
    }
    return 0;
}

void mfl_storage_file_close(mfl_storage_t *s)
{
    if (s && s->ctx) {
        close(fd_of(s));
        s->ctx = NULL;
    }
}
