/* Host only: reading a model file of either kind. */
#ifndef MFL_MODEL_FILE_H
#define MFL_MODEL_FILE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Reads a microfl model (.mfl) or, recognised by its TFL3 identifier, an
 * int8 .tflite file imported in memory. *image (malloc'd, 16-byte aligned)
 * is ready for mfl_model_load(). Returns 0 or an MFL_ERR_* code with a
 * sentence in msg. */
int mfl_model_file_read(const char *path, uint8_t **image, size_t *size, char *msg, size_t msg_cap);

#ifdef __cplusplus
}
#endif

#endif /* MFL_MODEL_FILE_H */
