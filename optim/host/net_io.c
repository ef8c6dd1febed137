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
#include "mfl/host/host_io.h"
#include "mfl/host/train.h"

#define MFLF_MAGIC "MFLF"
#define MFLF_VERSION 1u

static void put(uint8_t **p, const void *src, size_t n)
{
    memcpy(*p, src, n);
    *p += n;
}

int mfl_net_save(const mfl_net_t *net, const char *path)
{
    const uint32_t head[6] = {MFLF_VERSION, (uint32_t)net->in_h, (uint32_t)net->in_w, (uint32_t)net->in_c,
                              (uint32_t)strlen(net->arch), (uint32_t)net->n_params};
    const size_t size = 4 + 5 * 4 + head[4] + 4 + net->n_params * sizeof(float) + 4;
    uint8_t *buf = malloc(size), *p = buf;
    if (!buf) {
        return MFL_ERR_NO_MEMORY;
    }
    put(&p, MFLF_MAGIC, 4);
    put(&p, head, 5 * sizeof(uint32_t));
    put(&p, net->arch, head[4]);
    put(&p, &head[5], sizeof(uint32_t));
    put(&p, net->params, net->n_params * sizeof(float));
    const uint32_t crc = mfl_crc32(0, buf, (size_t)(p - buf));
    put(&p, &crc, sizeof(crc));
    const int err = mfl_write_file(path, buf, size);
    free(buf);
    return err;
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
    uint8_t *buf = NULL;
    size_t len = 0;
    int err = mfl_read_file(path, &buf, &len);
    if (err) {
        snprintf(msg, msg_cap, "cannot read %s", path);
        memset(net, 0, sizeof(*net));
        return err;
    }
    err = mfl_net_parse(net, buf, len, msg, msg_cap);
    free(buf);
    return err;
}
