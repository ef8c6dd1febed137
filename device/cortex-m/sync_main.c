/*
 * The microfl sync image for Cortex-M4 (QEMU mps2-an386, scripts/firmware.sh):
 * the device talks to a real aggregator by itself, with no relay. Its
 * datagrams leave the board on the serial line (UART0, SLIP frames) and a
 * host bridge carries each frame to the aggregator as one UDP datagram and
 * back (tests/support/serial_bridge.py); DTLS ends on the device. The
 * device fetches the model (unchanged: 2.03), learns from the labelled
 * images in flash, sends its signed update and reads the receipt, then
 * fetches and installs the model the aggregator published from it.
 * Prints `name value` lines: bytes on the line per phase, RAM of a sync in
 * progress, the stack's high-water mark. The entropy for DTLS comes from
 * the host's /dev/urandom through semihosting: QEMU's board has no TRNG.
 */
#include <stdint.h>
#include <string.h>

#include "board.h"
#include "mlperf_ops.h"
#include "mfl/crypto.h"
#include "mfl/device_state.h"
#include "mfl/dtls_mbedtls.h"
#include "mfl/error.h"
#include "mfl/learner.h"
#include "mfl/sync.h"
#include "mfl/update_builder.h"
#include "semihost.h"
#include "uart_slip.h"

#define BLOB(name) extern const uint8_t blob_##name[], blob_##name##_end[]
#define BLOB_LEN(name) ((size_t)(blob_##name##_end - blob_##name))
BLOB(fmnist_model); BLOB(images); BLOB(labels); BLOB(device_key); BLOB(device_id); BLOB(aggregator_key); BLOB(psk);

#define PIXELS 784
#define FIRST_LEARN_IMAGE 100
#define LEARN_IMAGES 40
#define REPLAY 32
#define TICKS_PER_MS 25000u  /* the CMSDK timer runs at 25 MHz */
#define DEADLINE_MS 600000u  /* one operation, all its attempts */

static uint8_t arena[64 * 1024] __attribute__((aligned(16)));
static uint8_t learner_mem[24 * 1024] __attribute__((aligned(8)));
static uint8_t flash_mem[16 * 1024];
/* a sync in progress: these, the Mbed TLS pool and the structs below */
static uint8_t model_buf[1088], update_buf[832]; /* 10x64 head: 1,068 and 818 needed */
static int32_t residual[10 * 65]; /* the committed error feedback: the learner's, synced or not */
#ifndef MFL_SYNC_TLS_POOL
#define MFL_SYNC_TLS_POOL (7 * 1024) /* ES256 alone needs 6 KB; DTLS with ES256 ran at 6 KB, not at 5.5 */
#endif
static unsigned char tls_pool[MFL_SYNC_TLS_POOL] __attribute__((aligned(8)));
static mfl_sync_t sync;
static mfl_dtls_t dtls;
static uart_slip_t uart;

static int failed(const char *what, int err)
{
    sh_puts("firmware sync: ");
    sh_puts(what);
    sh_puts(": ");
    sh_puts(mfl_strerror(err));
    sh_puts("\n");
    return 1;
}

/* Milliseconds from the 25 MHz timer, carried across its 32-bit wraps
 * (the loop reads it far more often than every 171 s). */
static uint32_t clock_ms(void)
{
    static uint64_t total;
    static uint32_t last;
    const uint32_t now = board_ticks();
    total += now - last;
    last = now;
    return (uint32_t)(total / TICKS_PER_MS);
}

static int entropy(void *ctx, unsigned char *buf, size_t len)
{
    (void)ctx;
    return sh_read_file("/dev/urandom", buf, len);
}

/* Polls the sync's operation to its end (the UART has no interrupt here:
 * the loop spins) and prints what it cost on the line. */
static int run(const char *phase)
{
    const uint32_t t0 = clock_ms(), in0 = uart.bytes_in, out0 = uart.bytes_out;
    const uint32_t frames0 = uart.frames_in + uart.frames_out;
    int rc;
    while ((rc = mfl_sync_poll(&sync, clock_ms())) == MFL_SYNC_PENDING) {
        if (clock_ms() - t0 > DEADLINE_MS) {
            mfl_sync_cancel(&sync);
            rc = sync.last_error ? sync.last_error : MFL_ERR_COAP_TIMEOUT;
            break;
        }
    }
    sh_puts(phase);
    sh_line("_bytes_sent", uart.bytes_out - out0);
    sh_puts(phase);
    sh_line("_bytes_received", uart.bytes_in - in0);
    sh_puts(phase);
    sh_line("_datagrams", uart.frames_in + uart.frames_out - frames0);
    sh_puts(phase);
    sh_line("_ms", clock_ms() - t0);
    return rc;
}

static int learn(mfl_learner_t *l)
{
    int8_t input[PIXELS];
    for (size_t i = FIRST_LEARN_IMAGE; i < FIRST_LEARN_IMAGE + LEARN_IMAGES; i++) {
        for (int k = 0; k < PIXELS; k++) {
            input[k] = (int8_t)(blob_images[i * PIXELS + k] - 128);
        }
        const int err = mfl_learner_learn(l, input, PIXELS, blob_labels[i]);
        if (err) {
            return err;
        }
    }
    return 0;
}

static int setup(mfl_learner_t *l, mfl_model_t *model, mfl_state_t *state, mfl_storage_t *storage,
                 mfl_ram_flash_t *flash)
{
    int err = mfl_model_load_ops(model, blob_fmnist_model, BLOB_LEN(fmnist_model), &mlperf_ops, NULL);
    err = err ? err : mfl_learner_init(l, model, arena, sizeof(arena), learner_mem, sizeof(learner_mem), REPLAY, NULL);
    err = err ? err : mfl_storage_ram_init(storage, flash, flash_mem, sizeof(flash_mem), 1024);
    err = err ? err : mfl_state_open(state, storage);
    if (!err && ((size_t)l->head.units * (l->head.features + 1u) > sizeof(residual) / sizeof(residual[0]) ||
                 mfl_sync_model_max_size(l) > sizeof(model_buf) ||
                 mfl_update_max_size(l, BLOB_LEN(device_id)) > sizeof(update_buf))) {
        err = MFL_ERR_BUFFER_TOO_SMALL;
    }
    return err;
}

int main(void)
{
    board_timer_start();
    sh_puts("microfl sync firmware: Cortex-M4, mps2-an386, serial line to the aggregator\n");
    mfl_mbedtls_use_pool(tls_pool, sizeof(tls_pool));
    static mfl_learner_t l;
    static mfl_model_t model;
    static mfl_state_t state;
    static mfl_storage_t storage;
    static mfl_ram_flash_t flash;
    static mfl_es256_public_t aggregator;
    static mfl_es256_private_t key;
    int err = setup(&l, &model, &state, &storage, &flash);
    if (err) {
        sh_exit(failed("setup", err));
    }
    memcpy(aggregator.q, blob_aggregator_key, sizeof(aggregator.q));
    memcpy(key.d, blob_device_key, sizeof(key.d));
    mfl_datagram_port_t line, secured;
    uart_slip_init(&uart, &line);
    const mfl_dtls_config_t dc = {line, blob_device_id, BLOB_LEN(device_id), blob_psk, BLOB_LEN(psk), clock_ms,
                                  entropy, NULL, NULL, NULL, NULL};
    err = mfl_dtls_init(&dtls, &dc, &secured);
    if (err) {
        sh_exit(failed("DTLS", err));
    }
    mfl_sync_config_t c = mfl_sync_default_config();
    c.port = secured;
    c.learner = &l;
    c.state = &state;
    c.aggregator = &aggregator;
    c.key = &key;
    c.device_id = blob_device_id;
    c.device_id_len = BLOB_LEN(device_id);
    c.version = 1; /* the model built in (mfl_state_restore() gives the one installed last, if any) */
    c.residual = residual;
    /* the arena's tail, beyond what the model needs, holds the update
     * builder's work and the residual of the update in flight: the device
     * may go on inferring while a sync runs */
    const size_t n = (size_t)l.head.units * (l.head.features + 1u), used = (mfl_model_arena_size(&model) + 7u) & ~7u;
    const size_t work = (mfl_update_work_size(&l, 0) + 7u) & ~7u;
    if (used + work + n * sizeof(int32_t) > sizeof(arena)) {
        sh_exit(failed("arena", MFL_ERR_BUFFER_TOO_SMALL));
    }
    c.work = arena + used;
    c.work_size = work;
    c.residual_work = (int32_t *)(void *)(arena + used + work);
    c.model_buf = model_buf;
    c.model_cap = sizeof(model_buf);
    c.update_buf = update_buf;
    c.update_cap = sizeof(update_buf);
    /* RFC 7252's MAX_RETRANSMIT of 4 (an attempt gives up within 93 s);
     * after that the sync starts afresh: a new DTLS session from a new
     * source port (the port's reset), then the same request */
    entropy(NULL, (unsigned char *)&c.seed, sizeof(c.seed));
    err = mfl_sync_init(&sync, &c);
    if (err) {
        sh_exit(failed("sync", err));
    }
    sh_line("sync_ram_bytes", sizeof(sync) + sizeof(dtls) + sizeof(uart) + sizeof(tls_pool) + sizeof(model_buf) +
                                  sizeof(update_buf));
    sh_line("sync_arena_tail_bytes", work + n * sizeof(int32_t));
    sh_line("fmnist_arena_bytes", mfl_model_arena_size(&model));
    sh_line("sync_struct_bytes", sizeof(sync));
    sh_line("dtls_struct_bytes", sizeof(dtls));
    sh_line("tls_pool_bytes", sizeof(tls_pool));
    sh_line("model_buf_needed_bytes", mfl_sync_model_max_size(&l));
    sh_line("update_buf_needed_bytes", mfl_update_max_size(&l, BLOB_LEN(device_id)));

    err = mfl_sync_fetch_model(&sync, clock_ms());
    err = err ? err : run("fetch_unchanged");
    if (err) {
        sh_exit(failed("fetching the model", err));
    }
    sh_line(sync.outcome == MFL_SYNC_MODEL_CURRENT ? "model_current" : "model_installed", sync.version);
    err = learn(&l);
    err = err ? err : mfl_sync_send_update(&sync, clock_ms());
    err = err ? err : run("update");
    if (err) {
        sh_exit(failed("sending the update", err));
    }
    sh_line(sync.receipt.status == MFL_RECEIPT_ACCEPTED ? "update_accepted" : "update_already_counted",
            sync.counter);
    err = mfl_sync_fetch_model(&sync, clock_ms());
    err = err ? err : run("fetch_changed");
    if (err) {
        sh_exit(failed("fetching the next model", err));
    }
    sh_line(sync.outcome == MFL_SYNC_MODEL_INSTALLED ? "model_installed" : "model_current", sync.version);
    sh_line("dtls_handshakes", dtls.handshakes);
    sh_line("coap_attempts", sync.stats.attempts);
    sh_line("stack_high_water_bytes", board_stack_high_water());
    memset(&key, 0, sizeof(key));
    mfl_dtls_free(&dtls);
    sh_puts("firmware sync: done\n");
    sh_exit(0);
}
