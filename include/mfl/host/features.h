/*
 * Host helpers that run an int8 model over a dataset: the model's input
 * for an image, feature vectors (the head's input) and accuracy. Models
 * made by `mfl quantize` take pixels - 128 (scale 1/255, zero point -128).
 */
#ifndef MFL_FEATURES_H
#define MFL_FEATURES_H

#include <stddef.h>
#include <stdint.h>

#include "mfl/host/dataset.h"
#include "mfl/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* int8 model input of an image of n pixels. */
void mfl_image_to_input(const uint8_t *pixels, size_t n, int8_t *input);

/* Feature vectors of samples idx[0..n) (all of ds if idx is NULL, n = ds->n)
 * into out (n x features bytes); *features receives the vector size.
 * Returns 0, MFL_ERR_NO_HEAD, MFL_ERR_INVALID_ARG or MFL_ERR_NO_MEMORY. */
int mfl_extract_features(const mfl_model_t *model, const mfl_dataset_t *ds, const uint32_t *idx, size_t n,
                         int8_t *out, uint16_t *features);

#ifdef __cplusplus
}
#endif

#endif /* MFL_FEATURES_H */
