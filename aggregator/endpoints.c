/*
 * The aggregator's endpoints: addresses checked before anything is opened,
 * and the UDP sockets libcoap binds made exclusive and given a wide receive
 * buffer. libcoap 4.3.1 exposes neither its sockets nor a bind without
 * SO_REUSEADDR, hence the probing here.
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <coap3/coap.h>

#include "aggregator.h"
#include "endpoints.h"

/*
 * Every device's datagrams arrive on the endpoint's one socket. With the
 * default receive buffer (about 200 kB, a few hundred small datagrams), a
 * burst from many devices while the loop is busy (publishing a model, or
 * descheduled) overflows it, and each dropped request costs its device a
 * 2-3 s retransmission timeout. The kernel caps the size at
 * net.core.rmem_max; the size obtained is logged.
 */
#define RECEIVE_BUFFER_BYTES (4 << 20)

/* libcoap 4.3.1 does not expose an endpoint's socket: it is found among
 * the process's UDP sockets bound to the endpoint's address, as the one
 * that was not there before the endpoint was made (so port 0, any free
 * port, works too). */
#define MAX_FD_SCAN 4096

static int bound_like(int fd, const struct sockaddr_storage *want, struct sockaddr_storage *got)
{
    socklen_t alen = sizeof(*got);
    int type = 0;
    socklen_t tlen = sizeof(type);
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) != 0 || type != SOCK_DGRAM ||
        getsockname(fd, (struct sockaddr *)got, &alen) != 0 || got->ss_family != want->ss_family) {
        return 0;
    }
    if (want->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const void *)got, *b = (const void *)want;
        return !memcmp(&a->sin6_addr, &b->sin6_addr, sizeof(a->sin6_addr)) &&
               (!b->sin6_port || a->sin6_port == b->sin6_port);
    }
    const struct sockaddr_in *a = (const void *)got, *b = (const void *)want;
    return a->sin_addr.s_addr == b->sin_addr.s_addr && (!b->sin_port || a->sin_port == b->sin_port);
}

static void sockets_like(const struct sockaddr_storage *want, uint8_t seen[MAX_FD_SCAN])
{
    struct sockaddr_storage got;
    for (int fd = 3; fd < MAX_FD_SCAN; fd++) {
        seen[fd] = (uint8_t)bound_like(fd, want, &got);
    }
}

/* The endpoint's socket (not in `before`) and its bound address; -1 if none. */
static int endpoint_socket(const struct sockaddr_storage *want, const uint8_t before[MAX_FD_SCAN],
                           struct sockaddr_storage *bound)
{
    for (int fd = 3; fd < MAX_FD_SCAN; fd++) {
        if (!before[fd] && bound_like(fd, want, bound)) {
            return fd;
        }
    }
    return -1;
}

/* 0 when a socket of ours may bind the address, else why not (errno).
 * libcoap binds with SO_REUSEADDR, with which Linux lets a second UDP
 * server share an address and take its traffic: this bind has no
 * SO_REUSEADDR, so it fails while any socket holds the address. */
static int address_unavailable(const struct sockaddr_storage *addr, socklen_t len, int type)
{
    const int fd = socket(addr->ss_family, type, 0);
    if (fd < 0) {
        return errno;
    }
    const int err = bind(fd, (const struct sockaddr *)addr, len) != 0 ? errno : 0;
    close(fd);
    return err;
}

/* The endpoint's socket made exclusive (no later server can join the
 * address) and its receive buffer widened; the address bound is logged. */
static void own_socket(const char *name, const struct sockaddr_storage *addr, const uint8_t before[MAX_FD_SCAN])
{
    struct sockaddr_storage bound;
    const int fd = endpoint_socket(addr, before, &bound);
    int off = 0, size = RECEIVE_BUFFER_BYTES;
    socklen_t slen = sizeof(size);
    char text[AGG_PEER_MAX];
    if (fd < 0) {
        agg_format_address((const struct sockaddr *)addr, text, sizeof(text));
        agg_log_at(AGG_LOG_WARNING, "endpoint_bound", "endpoint=%s address=%s exclusive=unknown", name, text);
        return;
    }
    agg_format_address((const struct sockaddr *)&bound, text, sizeof(text));
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &off, sizeof(off));
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
    getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, &slen);
    agg_log("endpoint_bound", "endpoint=%s address=%s receive_buffer=%d", name, text, size);
}

int agg_server_preflight(const agg_config_t *c, char *msg, size_t cap)
{
    const char *const names[4] = {"listen", "plain_listen", "cert_listen", "metrics_listen"};
    const char *const texts[4] = {c->listen, c->plain_listen, c->cert_listen, c->metrics_listen};
    for (int i = 0; i < 4; i++) {
        struct sockaddr_storage ss;
        socklen_t len = 0;
        char why[256];
        if (!texts[i][0]) {
            continue;
        }
        if (agg_parse_address(texts[i], &ss, &len, why, sizeof(why))) {
            snprintf(msg, cap, "%s = %s: %s", names[i], texts[i], why);
            return -1;
        }
        const int err = address_unavailable(&ss, len, i == 3 ? SOCK_STREAM : SOCK_DGRAM);
        if (err) {
            snprintf(msg, cap, "%s = %s: %s%s", names[i], texts[i], strerror(err),
                     err == EADDRINUSE ? " (another aggregator?)" : "");
            return -1;
        }
    }
    return 0;
}

int agg_add_endpoint(coap_context_t *ctx, const char *name, const char *hostport, coap_proto_t proto)
{
    coap_address_t addr;
    struct sockaddr_storage ss;
    socklen_t len = 0;
    char why[256];
    if (agg_parse_address(hostport, &ss, &len, why, sizeof(why))) {
        agg_log_at(AGG_LOG_ERROR, "startup_failed", "endpoint=%s address=\"%s\" reason=\"%s\"", name, hostport, why);
        return -1;
    }
    const int unavailable = address_unavailable(&ss, len, SOCK_DGRAM);
    if (unavailable) {
        agg_log_at(AGG_LOG_ERROR, "startup_failed", "endpoint=%s address=%s reason=\"%s%s\"", name, hostport,
                   strerror(unavailable), unavailable == EADDRINUSE ? " (another aggregator?)" : "");
        return -1;
    }
    static uint8_t before[MAX_FD_SCAN];
    sockets_like(&ss, before);
    coap_address_init(&addr);
    memcpy(&addr.addr, &ss, len);
    addr.size = len;
    if (!coap_new_endpoint(ctx, &addr, proto)) {
        agg_log_at(AGG_LOG_ERROR, "startup_failed", "endpoint=%s address=%s reason=\"cannot bind\"", name, hostport);
        return -1;
    }
    own_socket(name, &ss, before);
    return 0;
}
