/*
 * The device's CoAP exchange (device/sync/coap_exchange.c) against libcoap's
 * stock server (coap-server-notls, Debian's libcoap3-bin), over UDP on
 * loopback: a 3,000-byte body PUT to /example_data in Block1 blocks (with
 * Size1) is stored, and comes back byte for byte by GET in Block2 blocks,
 * at 16-, 256- and 1,024-byte blocks; a GET of a path the server does not
 * have is answered 4.04. The server is the independent truth: it is not
 * ours, and it speaks RFC 7252 and RFC 7959 as libcoap implements them.
 */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mfl/coap_exchange.h"
#include "mfl/error.h"
#include "mfl/host/datagram_udp.h"
#include "mfl/host/posix_platform.h"
#include "test_support.h"

enum { BODY = 3000 };

static pid_t server;
static uint16_t port;

static int setup(void **state)
{
    (void)state;
    const char *bin = getenv("COAP_SERVER");
    port = (uint16_t)(30000 + getpid() % 20000);
    char p[8];
    snprintf(p, sizeof(p), "%u", port);
    server = fork();
    if (server == 0) {
        execlp(bin ? bin : "coap-server-notls", "coap-server-notls", "-A", "127.0.0.1", "-p", p, "-d", "10", "-v",
               "0", (char *)NULL);
        _exit(127);
    }
    nanosleep(&(struct timespec){0, 300000000}, NULL);
    return server > 0 && waitpid(server, NULL, WNOHANG) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    kill(server, SIGTERM);
    waitpid(server, NULL, 0);
    return 0;
}

/* One exchange to its end over the socket; returns its error. */
static int run(mfl_coap_exchange_t *x, mfl_datagram_port_t *port_, mfl_datagram_udp_t *u)
{
    uint8_t in[2048];
    while (!mfl_coap_exchange_done(x)) {
        const uint8_t *out;
        size_t out_len;
        const uint32_t now = mfl_posix_clock_ms();
        mfl_coap_exchange_poll(x, now, &out, &out_len);
        if (out) {
            assert_int_equal(port_->send(port_->ctx, out, out_len), 0);
        }
        if (mfl_coap_exchange_done(x)) {
            break;
        }
        const int32_t until = (int32_t)(x->wake_ms - now);
        mfl_datagram_udp_wait(u, until <= 0 ? 0u : (uint32_t)until);
        int n;
        while ((n = port_->receive(port_->ctx, in, sizeof(in))) > 0) {
            mfl_coap_exchange_receive(x, in, (size_t)n, mfl_posix_clock_ms(), &out, &out_len);
            if (out) {
                assert_int_equal(port_->send(port_->ctx, out, out_len), 0);
            }
        }
    }
    return x->error;
}

static void test_put_then_get_in_blocks(void **state)
{
    (void)state;
    static uint8_t body[BODY], back[BODY + 16];
    for (int i = 0; i < BODY; i++) {
        body[i] = (uint8_t)('a' + (i * 7 + i / 13) % 26);
    }
    mfl_datagram_udp_t u;
    mfl_datagram_port_t p;
    assert_int_equal(mfl_datagram_udp_open(&p, &u, "127.0.0.1", port, NULL), 0);
    static const uint8_t szx[] = {0, 4, 6};
    for (size_t k = 0; k < sizeof(szx); k++) {
        body[0] = (uint8_t)('A' + k); /* each round stores different bytes */
        mfl_coap_params_t params = mfl_coap_default_params();
        params.szx = szx[k];
        const uint8_t token[4] = {1, 2, 3, (uint8_t)(16 * k)};
        mfl_coap_exchange_t x;
        uint8_t answer[256];
        const mfl_coap_request_t put = {MFL_COAP_CODE(0, 3), {"example_data"}, 1, 0, body, BODY, answer,
                                        sizeof(answer), NULL, 0};
        assert_int_equal(mfl_coap_exchange_start(&x, &params, &put, (uint16_t)(0x100 * (k + 1)), token, 4, 7,
                                                 mfl_posix_clock_ms()),
                         0);
        assert_int_equal(run(&x, &p, &u), 0);
        assert_true(x.response_code == MFL_COAP_CODE(2, 4) || x.response_code == MFL_COAP_CODE(2, 1));
        const uint32_t blocks = (BODY + (16u << szx[k]) - 1) / (16u << szx[k]);
        assert_int_equal(x.messages, blocks);
        const mfl_coap_request_t get = {MFL_COAP_GET, {"example_data"}, 1, -1, NULL, 0, back, sizeof(back), NULL, 0};
        const uint8_t token2[4] = {5, 6, 7, (uint8_t)(16 * k)};
        assert_int_equal(mfl_coap_exchange_start(&x, &params, &get, (uint16_t)(0x100 * (k + 1) + 0x80), token2, 4, 9,
                                                 mfl_posix_clock_ms()),
                         0);
        assert_int_equal(run(&x, &p, &u), 0);
        assert_int_equal(x.response_code, MFL_COAP_CONTENT);
        assert_int_equal(x.response_len, BODY);
        assert_memory_equal(back, body, BODY);
    }
    /* a path it does not have */
    const mfl_coap_request_t none = {MFL_COAP_GET, {"no", "such"}, 2, -1, NULL, 0, back, sizeof(back), NULL, 0};
    const uint8_t token3[2] = {9, 9};
    mfl_coap_exchange_t x;
    mfl_coap_params_t params = mfl_coap_default_params();
    assert_int_equal(mfl_coap_exchange_start(&x, &params, &none, 0x7000, token3, 2, 3, mfl_posix_clock_ms()), 0);
    assert_int_equal(run(&x, &p, &u), 0);
    assert_int_equal(x.response_code, MFL_COAP_CODE(4, 4));
    mfl_datagram_udp_close(&u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_then_get_in_blocks),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
