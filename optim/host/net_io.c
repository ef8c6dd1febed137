/*
 * Float model files (host only):
 *   "MFLF" | u32 version (1) | u32 in_h, in_w, in_c | u32 arch length |
 *   arch bytes | u32 n_params | n_params float32 | u32 CRC-32 of all before
 * Little-endian. The parser checks every length against the bytes present
 * and the parameter count against the one the architecture implies.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mfl/common.h"
#include "mfl/train.h"

#define MFLF_MAGIC "MFLF"
#define MFLF_VERSION 1u

static int put(FILE *f, const void *p, size_t n, uint32_t *crc)
{
    *crc = mfl_crc32(*crc, p, n);
    return fwrite(p, 1, n, f) == n ? 0 : MFL_ERR_IO;
}

int mfl_net_save(const mfl_net_t *net, const char *path)
{
    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) {
        return MFL_ERR_IO;
    }
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        return MFL_ERR_IO;
    }
    uint32_t crc = 0;
    const uint32_t head[6] = {MFLF_VERSION, (uint32_t)net->in_h, (uint32_t)net->in_w, (uint32_t)net->in_c,
                              (uint32_t)strlen(net->arch), (uint32_t)net->n_params};
    int err = put(f, MFLF_MAGIC, 4, &crc);
    err = err ? err : put(f, head, 5 * sizeof(uint32_t), &crc);
    err = err ? err : put(f, net->arch, head[4], &crc);
    err = err ? err : put(f, &head[5], sizeof(uint32_t), &crc);
    err = err ? err : put(f, net->params, net->n_params * sizeof(float), &crc);
    const uint32_t crc_out = crc;
    err = err ? err : put(f, &crc_out, sizeof(crc_out), &crc);
    if (fclose(f) != 0 || err || rename(tmp, path) != 0) {
        remove(tmp);
        return MFL_ERR_IO;
    }
    return 0;
}

static int parse_error(char *msg, size_t cap, const char *why)
{
    if (msg && cap) {
        snprintf(msg, cap, "float model: %s", why);
    }
    return MFL_ERR_FLOAT_MODEL;
}

int mfl_net_parse(mfl_net_t *net, const uint8_t *buf, size_t len, char *msg, size_t msg_cap)
{
    uint32_t head[5], n_params, crc;
    memset(net, 0, sizeof(*net));
    if (len < 4 + sizeof(head) || memcmp(buf, MFLF_MAGIC, 4) != 0) {
        return parse_error(msg, msg_cap, "not a float model (no MFLF magic)");
    }
    memcpy(head, buf + 4, sizeof(head));
    if (head[0] != MFLF_VERSION) {
        return parse_error(msg, msg_cap, "unsupported version");
    }
    const size_t arch_at = 4 + sizeof(head);
    if (head[4] == 0 || head[4] >= MFL_ARCH_MAX || len < arch_at + head[4] + 4) {
        return parse_error(msg, msg_cap, "architecture string missing or too long");
    }
    memcpy(&n_params, buf + arch_at + head[4], 4);
    const size_t params_at = arch_at + head[4] + 4;
    if ((uint64_t)n_params * 4 + 4 != len - params_at) {
        return parse_error(msg, msg_cap, "size does not match the parameter count");
    }
    memcpy(&crc, buf + len - 4, 4);
    if (mfl_crc32(0, buf, len - 4) != crc) {
        return parse_error(msg, msg_cap, "checksum mismatch: file is corrupt");
    }
    char arch[MFL_ARCH_MAX];
    memcpy(arch, buf + arch_at, head[4]);
    arch[head[4]] = '\0';
    if (head[1] < 1 || head[1] > 1024 || head[2] < 1 || head[2] > 1024 || head[3] < 1 || head[3] > 64) {
        return parse_error(msg, msg_cap, "input shape out of range");
    }
    int err = mfl_net_create(net, arch, (int)head[1], (int)head[2], (int)head[3], msg, msg_cap);
    if (err) {
        return err;
    }
    if (net->n_params != n_params) {
        mfl_net_free(net);
        return parse_error(msg, msg_cap, "parameter count does not match the architecture");
    }
    memcpy(net->params, buf + params_at, (size_t)n_params * 4);
    return 0;
}

int mfl_net_load(mfl_net_t *net, const char *path, char *msg, size_t msg_cap)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(msg, msg_cap, "cannot open %s", path);
        return MFL_ERR_IO;
    }
    fseek(f, 0, SEEK_END);
    const long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = len > 0 ? malloc((size_t)len) : NULL;
    int err = buf && fread(buf, 1, (size_t)len, f) == (size_t)len ? 0 : MFL_ERR_IO;
    fclose(f);
    if (!err) {
        err = mfl_net_parse(net, buf, (size_t)len, msg, msg_cap);
    } else {
        snprintf(msg, msg_cap, "cannot read %s", path);
    }
    free(buf);
    return err;
}
