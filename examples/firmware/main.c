/*
 * A firmware skeleton on the installed microfl package: a board's ports
 * (docs/porting.md) and the super-loop that syncs with the aggregator. It
 * builds against the package as is; a board fills in the three functions
 * marked BOARD (its modem or network driver, its TRNG, its model in flash).
 * Until then the datagram port is microfl's stub, which sends nowhere, so
 * the sync reports that it could not reach the aggregator.
 */
#include <stdint.h>
#include <string.h>

#include "mfl/device_state.h"
#include "mfl/dtls_mbedtls.h"
#include "mfl/error.h"
#include "mfl/learner.h"
#include "mfl/model.h"
#include "mfl/sync.h"
#include "mfl/update_builder.h"

/* BOARD: the model the device was built with (a .mfl file in flash) */
__attribute__((weak)) const uint8_t board_model[] __attribute__((aligned(16))) = {0};
__attribute__((weak)) const size_t board_model_size = 0;

/* BOARD: the TRNG; 0 when len bytes were written */
__attribute__((weak)) int board_entropy(void *ctx, unsigned char *buf, size_t len)
{
    (void)ctx, (void)buf, (void)len;
    return -1; /* no entropy source: DTLS must not run without one */
}

/* BOARD: the link to the aggregator (a modem's UDP socket, a network stack) */
__attribute__((weak)) void board_datagram_port(mfl_datagram_port_t *port)
{
    mfl_datagram_stub_init(port);
}

/* The clock port: SysTick counting down from 2^24 at the core clock, read
 * often enough (every 100 ms at 168 MHz) to carry its wraps. */
#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)
#define CORE_HZ 25000000u

static uint32_t clock_ms(void)
{
    static uint64_t ticks;
    static uint32_t last;
    const uint32_t now = (0x00FFFFFFu - SYST_CVR) & 0x00FFFFFFu;
    ticks += (now - last) & 0x00FFFFFFu;
    last = now;
    return (uint32_t)(ticks / (CORE_HZ / 1000u));
}

static uint8_t arena[64 * 1024] __attribute__((aligned(16)));
static uint8_t learner_mem[24 * 1024] __attribute__((aligned(8)));
static uint8_t flash_mem[16 * 1024]; /* BOARD: a storage port on the real flash */
static uint8_t model_buf[1088], update_buf[832];
static int32_t residual[10 * 65], residual_work[10 * 65];
static unsigned char tls_pool[7 * 1024] __attribute__((aligned(8)));
static mfl_sync_t sync;
static mfl_dtls_t dtls;

static const uint8_t device_id[] = "dev1";     /* BOARD: provisioned identity */
static const uint8_t psk[] = "secret-key";     /* BOARD: provisioned PSK */
static const mfl_es256_public_t aggregator;    /* BOARD: the pinned aggregator key */
static const mfl_es256_private_t device_key;   /* BOARD: the device's signing key */

/* Polls one operation to its end; a board sleeps until a datagram or
 * sync.wake_ms instead of spinning. */
static int run(void)
{
    int rc;
    while ((rc = mfl_sync_poll(&sync, clock_ms())) == MFL_SYNC_PENDING) {
    }
    return rc;
}

int main(void)
{
    SYST_RVR = 0x00FFFFFFu;
    SYST_CVR = 0;
    SYST_CSR = 5; /* the core clock, no interrupt */
    mfl_mbedtls_use_pool(tls_pool, sizeof(tls_pool));
    static mfl_model_t model;
    static mfl_learner_t learner;
    static mfl_storage_t storage;
    static mfl_ram_flash_t flash;
    static mfl_state_t state;
    int err = mfl_model_load(&model, board_model, board_model_size);
    err = err ? err : mfl_learner_init(&learner, &model, arena, sizeof(arena), learner_mem, sizeof(learner_mem), 32,
                                       NULL);
    err = err ? err : mfl_storage_ram_init(&storage, &flash, flash_mem, sizeof(flash_mem), 1024);
    err = err ? err : mfl_state_open(&state, &storage);
    if (err) {
        return err;
    }
    mfl_datagram_port_t link, secured;
    board_datagram_port(&link);
    const mfl_dtls_config_t dc = {link, device_id, sizeof(device_id) - 1, psk, sizeof(psk) - 1, clock_ms,
                                  board_entropy, NULL, NULL, NULL, NULL};
    if ((err = mfl_dtls_init(&dtls, &dc, &secured)) != 0) {
        return err;
    }
    mfl_sync_config_t c = mfl_sync_default_config();
    c.port = secured;
    c.learner = &learner;
    c.state = &state;
    c.aggregator = &aggregator;
    c.key = &device_key;
    c.device_id = device_id;
    c.device_id_len = sizeof(device_id) - 1;
    c.version = 1; /* the model built in (mfl_state_restore() gives the one installed last, if any) */
    c.residual = residual;
    c.residual_work = residual_work;
    c.model_buf = model_buf;
    c.model_cap = sizeof(model_buf);
    c.update_buf = update_buf;
    c.update_cap = sizeof(update_buf);
    c.work = arena;
    c.work_size = sizeof(arena);
    board_entropy(NULL, (unsigned char *)&c.seed, sizeof(c.seed));
    err = mfl_sync_init(&sync, &c);
    err = err ? err : mfl_sync_fetch_model(&sync, clock_ms());
    err = err ? err : run();
    /* ... learn from the device's own labelled samples (mfl_learner_learn) ... */
    err = err ? err : mfl_sync_send_update(&sync, clock_ms());
    err = err ? err : run();
    mfl_dtls_free(&dtls);
    return err;
}
