/* The datagram port's stub (include/mfl/datagram_port.h): no link at all. */
#include "mfl/datagram_port.h"
#include "mfl/error.h"

static int stub_send(void *ctx, const uint8_t *datagram, size_t len)
{
    (void)ctx, (void)datagram, (void)len;
    return MFL_ERR_IO;
}

static int stub_receive(void *ctx, uint8_t *buf, size_t cap)
{
    (void)ctx, (void)buf, (void)cap;
    return 0;
}

void mfl_datagram_stub_init(mfl_datagram_port_t *p)
{
    p->send = stub_send;
    p->receive = stub_receive;
    p->reset = 0;
    p->ctx = 0;
}
