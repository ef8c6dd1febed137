/* Whole-file I/O for the host tools. */
#ifndef MFL_TOOLS_FILE_UTIL_H
#define MFL_TOOLS_FILE_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Reads a whole file into a 16-byte-aligned malloc'd buffer. Returns 0 or MFL_ERR_IO / MFL_ERR_NO_MEMORY. */
int mfl_read_file(const char *path, uint8_t **data, size_t *size);

/* Writes a file atomically (temporary file + rename). Returns 0 or MFL_ERR_IO. */
int mfl_write_file(const char *path, const void *data, size_t size);

/* Loads a model from a .mfl image or, by its TFL3 identifier, a .tflite file
 * (imported in memory). *image is malloc'd and must outlive *model. */
int mfl_load_model_file(const char *path, uint8_t **image, size_t *size, char *msg, size_t msg_cap);

#endif
