/* The datagram port on a connected, non-blocking UDP socket
 * (include/mfl/host/datagram_udp.h). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mfl/host/datagram_udp.h"
#include "mfl/error.h"

static int failed(mfl_datagram_udp_t *u)
{
    u->unreachable += errno == ECONNREFUSED;
    return MFL_ERR_IO;
}

static int udp_send(void *ctx, const uint8_t *datagram, size_t len)
{
    mfl_datagram_udp_t *u = ctx;
    /* ECONNREFUSED (an ICMP unreachable for an earlier datagram), ENOBUFS:
     * the datagram is lost, and CoAP retransmits it */
    return send(u->fd, datagram, len, 0) == (ssize_t)len ? 0 : failed(u);
}

static int udp_receive(void *ctx, uint8_t *buf, size_t cap)
{
    mfl_datagram_udp_t *u = ctx;
    const ssize_t n = recv(u->fd, buf, cap, MSG_TRUNC);
    if (n < 0) {
        return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : failed(u);
    }
    if ((size_t)n > cap) {
        return MFL_ERR_BUFFER_TOO_SMALL;
    }
    return n > 0 ? (int)n : MFL_ERR_IO; /* an empty datagram is no CoAP message */
}

/* A socket connected to the resolved address, or -1. */
static int connect_socket(const mfl_datagram_udp_t *u)
{
    const int fd = socket(u->addr.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, (const struct sockaddr *)&u->addr, u->addr_len)) {
        close(fd);
        return -1;
    }
    return fd;
}

/* A new source port: the old one's datagrams in flight are dropped. */
static void udp_reset(void *ctx)
{
    mfl_datagram_udp_t *u = ctx;
    const int fd = connect_socket(u);
    if (fd >= 0) {
        close(u->fd);
        u->fd = fd;
    }
}

int mfl_datagram_udp_open(mfl_datagram_port_t *p, mfl_datagram_udp_t *u, const char *host, uint16_t port,
                          const char **why)
{
    static const char *const no_socket = "no UDP socket could be made";
    if (!p || !u || !host || !port) {
        return MFL_ERR_INVALID_ARG;
    }
    u->fd = -1;
    u->unreachable = 0;
    char service[8];
    snprintf(service, sizeof(service), "%u", (unsigned)port);
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_DGRAM;
    const int rc = getaddrinfo(host, service, &hints, &res);
    if (rc) {
        if (why) {
            *why = gai_strerror(rc);
        }
        return MFL_ERR_IO;
    }
    for (const struct addrinfo *a = res; a && u->fd < 0; a = a->ai_next) {
        if (a->ai_addrlen <= sizeof(u->addr)) {
            memcpy(&u->addr, a->ai_addr, a->ai_addrlen);
            u->addr_len = a->ai_addrlen;
            u->fd = connect_socket(u);
        }
    }
    freeaddrinfo(res);
    if (u->fd < 0) {
        if (why) {
            *why = no_socket;
        }
        return MFL_ERR_IO;
    }
    p->send = udp_send;
    p->receive = udp_receive;
    p->reset = udp_reset;
    p->ctx = u;
    return 0;
}

void mfl_datagram_udp_wait(const mfl_datagram_udp_t *u, uint32_t timeout_ms)
{
    struct pollfd fd = {.fd = u->fd, .events = POLLIN};
    poll(&fd, 1, timeout_ms > 60000 ? 60000 : (int)timeout_ms);
}

void mfl_datagram_udp_close(mfl_datagram_udp_t *u)
{
    if (u && u->fd >= 0) {
        close(u->fd);
        u->fd = -1;
    }
}
