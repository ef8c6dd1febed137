/*
 * The datagram port on a UDP socket, for Linux-class devices and host tools
 * (include/mfl/datagram_port.h). Host only.
 */
#ifndef MFL_DATAGRAM_UDP_H
#define MFL_DATAGRAM_UDP_H

#include <stdint.h>
#include <sys/socket.h>

#include "mfl/datagram_port.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int fd;              /* a non-blocking UDP socket connected to the aggregator, -1: closed */
    struct sockaddr_storage addr; /* the aggregator's address, resolved once */
    socklen_t addr_len;
    uint32_t unreachable; /* ICMP port unreachable reports (ECONNREFUSED): nothing listens there */
} mfl_datagram_udp_t;

/*
 * Resolves host (a name, an IPv4 or an IPv6 address) and connects a UDP
 * socket to host:port; p then sends and receives on it (only the
 * aggregator's datagrams are received). The port's reset() moves to a new
 * socket (a new source port), so that the aggregator sees a new peer: a
 * DTLS server ignores a fresh handshake on the address of a session it
 * still holds. Returns 0, MFL_ERR_INVALID_ARG
 * (port 0, NULL), or MFL_ERR_IO (the name does not resolve or no socket
 * can be made: *why, if not NULL, gets the resolver's or the system's
 * message, static).
 */
int mfl_datagram_udp_open(mfl_datagram_port_t *p, mfl_datagram_udp_t *u, const char *host, uint16_t port,
                          const char **why);

/* Waits up to timeout_ms for a datagram to arrive (or a signal). */
void mfl_datagram_udp_wait(const mfl_datagram_udp_t *u, uint32_t timeout_ms);

void mfl_datagram_udp_close(mfl_datagram_udp_t *u);

#ifdef __cplusplus
}
#endif

#endif /* MFL_DATAGRAM_UDP_H */
