/* Fuzz target for the device state's readers: the input is the flash
 * contents (a corrupted or hostile image). Opening it, restoring the model
 * and the head checkpoint, then taking a counter, installing a model and
 * saving the head must neither crash nor read or write out of bounds. */
#include <stdlib.h>
#include <string.h>

#include "mfl/device_state.h"
#include "mfl/host/net_export.h"
#include "mfl/host/train.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FLASH 8192u
#define SECTOR 512u

static mfl_model_t model;
static uint8_t *image;

/* A small model with a head, made once (no data needed: fixed ranges). */
static int make_model(void)
{
    char msg[128];
    mfl_net_t net;
    float lo[MFL_NET_MAX_LAYERS], hi[MFL_NET_MAX_LAYERS];
    size_t size;
    if (mfl_net_create(&net, "d16,d10", 28, 28, 1, msg, sizeof(msg))) {
        return -1;
    }
    mfl_net_init(&net, 1);
    for (int i = 0; i < MFL_NET_MAX_LAYERS; i++) {
        lo[i] = -4.0f;
        hi[i] = 4.0f;
    }
    const int err = mfl_net_export(&net, lo, hi, 2.0f, &image, &size, msg, sizeof(msg)) ||
                    mfl_model_load(&model, image, size);
    mfl_net_free(&net);
    return err ? -1 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t flash[FLASH], arena[64 * 1024], mem[32 * 1024], buf[4096];
    static int ready;
    if (!ready) {
        if (make_model()) {
            abort();
        }
        ready = 1;
    }
    mfl_storage_t st;
    mfl_ram_flash_t f;
    mfl_state_t s;
    mfl_learner_t l;
    mfl_es256_public_t agg;
    uint64_t version = 0, counter;
    memset(&agg, 0x04, sizeof(agg));
    mfl_storage_ram_init(&st, &f, flash, FLASH, SECTOR);
    memcpy(flash, data, size < FLASH ? size : FLASH);
    if (mfl_learner_init(&l, &model, arena, sizeof(arena), mem, sizeof(mem), 8, NULL) || mfl_state_open(&s, &st)) {
        return 0;
    }
    mfl_state_restore(&s, &l, &agg, buf, sizeof(buf), &version);
    mfl_state_restore_head(&s, &l, version);
    mfl_state_next_counter(&s, &counter);
    if (size) {
        mfl_state_install_model(&s, data, (uint32_t)(size < 600 ? size : 600), version + 1);
    }
    mfl_state_save_head(&s, &l, version + 1);
    return 0;
}
