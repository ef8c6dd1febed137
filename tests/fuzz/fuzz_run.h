/* Shared by the fuzz targets: run a loaded model once on a zeroed arena. */
#ifndef MFL_FUZZ_RUN_H
#define MFL_FUZZ_RUN_H

#include <stdlib.h>

#include "mfl/interpreter.h"

#define FUZZ_MAX_ARENA (4u << 20)

static inline void fuzz_run_once(const mfl_model_t *model)
{
    if (mfl_model_arena_size(model) > FUZZ_MAX_ARENA) {
        return;
    }
    uint8_t *arena = calloc(1, mfl_model_arena_size(model) + 1);
    mfl_interp_t it;
    if (arena && mfl_interp_init(&it, model, arena, mfl_model_arena_size(model)) == 0) {
        mfl_interp_invoke(&it);
    }
    free(arena);
}

#endif
