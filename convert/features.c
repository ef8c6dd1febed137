/* Running an int8 model over a dataset (host only); see features.h. */
#include <stdlib.h>
#include <string.h>

#include "mfl/host/features.h"
#include "mfl/interpreter.h"

void mfl_image_to_input(const uint8_t *pixels, size_t n, int8_t *input)
{
    for (size_t k = 0; k < n; k++) {
        input[k] = (int8_t)(pixels[k] - 128);
    }
}

int mfl_extract_features(const mfl_model_t *model, const mfl_dataset_t *ds, const uint32_t *idx, size_t n,
                         int8_t *out, uint16_t *features)
{
    if (model->header->head_op == MFL_NONE) {
        return MFL_ERR_NO_HEAD;
    }
    uint8_t *arena = malloc(mfl_model_arena_size(model) + 1);
    if (!arena) {
        return MFL_ERR_NO_MEMORY;
    }
    mfl_interp_t it;
    int8_t *in;
    size_t in_len, f_len;
    const int8_t *f;
    const uint16_t head = model->header->head_op;
    int err = mfl_interp_init(&it, model, arena, mfl_model_arena_size(model));
    err = err ? err : mfl_interp_input(&it, &in, &in_len);
    if (!err && in_len != (size_t)ds->rows * ds->cols) {
        err = MFL_ERR_INVALID_ARG;
    }
    for (size_t k = 0; !err && k < n; k++) {
        mfl_image_to_input(ds->images + (size_t)(idx ? idx[k] : k) * in_len, in_len, in);
        err = mfl_interp_invoke_range(&it, 0, head);
        err = err ? err : mfl_interp_tensor(&it, model->ops[head].inputs[0], &f, &f_len);
        if (!err) {
            memcpy(out + k * f_len, f, f_len);
            *features = (uint16_t)f_len;
        }
    }
    free(arena);
    return err;
}
