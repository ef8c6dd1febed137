/*
 * The datagram port: how the device's sync reaches the aggregator. One
 * backend per link, each a file of its own: UDP sockets on Linux-class
 * devices (device/posix/datagram_udp.c), a framed serial line in the
 * emulated firmware, a stub that always compiles (device/sync/datagram_stub.c).
 * A backend whose link is secured (DTLS) hands out and takes plaintext CoAP
 * datagrams: the sync above it does not change.
 *
 * Contract: neither call blocks, and both are called from the one context
 * that drives the sync (a super-loop or one RTOS task). A datagram is sent
 * whole or not at all; a lost one is not an error (CoAP retransmits).
 */
#ifndef MFL_DATAGRAM_PORT_H
#define MFL_DATAGRAM_PORT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    /* Sends one datagram of len bytes (1..MFL_COAP_MAX_DATAGRAM) to the
     * aggregator. Returns 0, or a negative MFL_ERR_* when the link is down
     * (counted as a lost datagram). The bytes are the caller's and may be
     * reused once it returns. */
    int (*send)(void *ctx, const uint8_t *datagram, size_t len);
    /* Takes the next datagram from the aggregator into buf (cap bytes), if
     * one is waiting. Returns its length, 0 when none is waiting, or a
     * negative MFL_ERR_* (a datagram above cap is dropped and reported as
     * MFL_ERR_BUFFER_TOO_SMALL). */
    int (*receive)(void *ctx, uint8_t *buf, size_t cap);
    /* Optional (NULL: nothing to do): the link looks dead (a request went
     * unanswered), so start it afresh — a DTLS port drops its session and
     * handshakes again, since the server may have lost it in a restart. */
    void (*reset)(void *ctx);
    void *ctx;
} mfl_datagram_port_t;

/* A port that sends nowhere and never receives (every send fails with
 * MFL_ERR_IO): it compiles on any target and lets a build link before its
 * link exists. */
void mfl_datagram_stub_init(mfl_datagram_port_t *p);

#ifdef __cplusplus
}
#endif

#endif /* MFL_DATAGRAM_PORT_H */
