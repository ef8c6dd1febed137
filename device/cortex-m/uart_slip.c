/* SLIP-framed datagrams on the CMSDK APB UART0 (uart_slip.h). */
#include <string.h>

#include "mfl/error.h"
#include "uart_slip.h"

#define UART0_BASE 0x40004000u
#define UART_DATA (*(volatile uint32_t *)(UART0_BASE + 0x00))
#define UART_STATE (*(volatile uint32_t *)(UART0_BASE + 0x04))
#define UART_CTRL (*(volatile uint32_t *)(UART0_BASE + 0x08))
#define UART_BAUDDIV (*(volatile uint32_t *)(UART0_BASE + 0x10))
#define STATE_TX_FULL 1u
#define STATE_RX_FULL 2u

enum { END = 0xC0, ESC = 0xDB, ESC_END = 0xDC, ESC_ESC = 0xDD };

static void put(uint8_t b)
{
    while (UART_STATE & STATE_TX_FULL) {
    }
    UART_DATA = b;
}

static int slip_send(void *ctx, const uint8_t *d, size_t len)
{
    uart_slip_t *u = ctx;
    put(END); /* ends any noise the other side holds as a frame */
    for (size_t i = 0; i < len; i++) {
        if (d[i] == END || d[i] == ESC) {
            put(ESC);
            put(d[i] == END ? ESC_END : ESC_ESC);
        } else {
            put(d[i]);
        }
    }
    put(END);
    u->frames_out++;
    u->bytes_out += (uint32_t)len;
    return 0;
}

/* Takes the bytes the UART holds until a frame ends; 0 while none has. */
static int slip_receive(void *ctx, uint8_t *buf, size_t cap)
{
    uart_slip_t *u = ctx;
    while (UART_STATE & STATE_RX_FULL) {
        uint8_t b = (uint8_t)UART_DATA;
        if (b == END) {
            const size_t n = u->len;
            const int bad = u->overflow;
            u->len = 0;
            u->escaped = u->overflow = 0;
            if (n == 0 || bad) {
                continue; /* an empty frame (the leading END), or one too long: dropped */
            }
            u->frames_in++;
            u->bytes_in += (uint32_t)n;
            if (n > cap) {
                return MFL_ERR_BUFFER_TOO_SMALL;
            }
            memcpy(buf, u->frame, n);
            return (int)n;
        }
        if (b == ESC) {
            u->escaped = 1;
            continue;
        }
        if (u->escaped) {
            b = b == ESC_END ? END : b == ESC_ESC ? ESC : b;
            u->escaped = 0;
        }
        if (u->len < sizeof(u->frame)) {
            u->frame[u->len++] = b;
        } else {
            u->overflow = 1;
        }
    }
    return 0;
}

/* The modem's "close and reopen the socket": a one-byte frame 0x00, which
 * no CoAP or DTLS datagram can be, tells the bridge to move to a new UDP
 * source port (a DTLS server ignores a new handshake from the address of a
 * session it still holds). */
static void slip_reset(void *ctx)
{
    static const uint8_t reopen = 0;
    slip_send(ctx, &reopen, 1);
}

void uart_slip_init(uart_slip_t *u, mfl_datagram_port_t *port)
{
    memset(u, 0, sizeof(*u));
    UART_BAUDDIV = 16; /* the smallest divider the UART takes */
    UART_CTRL = 3;     /* transmitter and receiver on, no interrupts */
    port->send = slip_send;
    port->receive = slip_receive;
    port->reset = slip_reset;
    port->ctx = u;
}
