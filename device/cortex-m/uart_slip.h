/*
 * The datagram port on a serial line (include/mfl/datagram_port.h), for the
 * emulated board: each datagram framed with SLIP (RFC 1055: END 0xC0 after
 * every frame and before the first, 0xC0 and 0xDB in the data escaped as
 * 0xDB 0xDC and 0xDB 0xDD), as a modem's UDP socket or a host bridge
 * carries them (tests/support/serial_bridge.py forwards each frame to the
 * aggregator as one UDP datagram). Hardware: the CMSDK APB UART0 of
 * mps2-an386, polled. Sending waits for the transmitter, byte by byte (a
 * board with a real line would use its DMA); receiving never waits. The
 * port's reset() sends the one-byte frame 0x00, the bridge's "reopen the
 * socket" (a modem's close and open), so that a new DTLS session starts
 * from a new source port.
 */
#ifndef MFL_UART_SLIP_H
#define MFL_UART_SLIP_H

#include <stddef.h>
#include <stdint.h>

#include "mfl/coap_exchange.h"
#include "mfl/datagram_port.h"

/* A DTLS record of the largest CoAP datagram: 13 bytes of header, 8 of
 * explicit nonce, 8 of CCM-8 tag, and room for the handshake's flights. */
#define UART_SLIP_MAX_FRAME (MFL_COAP_MAX_DATAGRAM + 64)

typedef struct {
    uint8_t frame[UART_SLIP_MAX_FRAME]; /* the frame being received */
    size_t len;
    int escaped, overflow;
    uint32_t frames_in, frames_out, bytes_in, bytes_out; /* datagram bytes, before framing */
} uart_slip_t;

/* Enables UART0 and fills *port (ctx = u). */
void uart_slip_init(uart_slip_t *u, mfl_datagram_port_t *port);

#endif /* MFL_UART_SLIP_H */
