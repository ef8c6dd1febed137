/* Shared by the fuzz targets: run a loaded model on a zeroed arena, once on
 * each kernel path (portable, and DSP through its emulation): validation
 * must have made every access of both safe. */
#ifndef MFL_FUZZ_RUN_H
#define MFL_FUZZ_RUN_H

#include <stdlib.h>

#include "mfl/interpreter.h"
#include "mfl/kernels.h"

#define FUZZ_MAX_ARENA (4u << 20)

static inline void fuzz_run_once(const mfl_model_t *model)
{
    if (mfl_model_arena_size(model) > FUZZ_MAX_ARENA) {
        return;
    }
    uint8_t *arena = calloc(1, mfl_model_arena_size(model) + 1);
    mfl_interp_t it;
    if (arena && mfl_interp_init(&it, model, arena, mfl_model_arena_size(model)) == 0) {
        mfl_kernels_select(MFL_KERNELS_PORTABLE);
        mfl_interp_invoke(&it);
        mfl_kernels_select(MFL_KERNELS_DSP);
        mfl_interp_invoke(&it);
        mfl_kernels_select(MFL_KERNELS_PORTABLE);
    }
    free(arena);
}

#endif
