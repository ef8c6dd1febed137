/*
 * Fuzz target for the .tflite importer (untrusted model files). Whatever
 * imports must load on the device side and run.
 */
#include <stdlib.h>

#include "fuzz_run.h"
#include "mfl/host/tflite_import.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *image = NULL;
    size_t image_size = 0;
    char msg[256];
    if (mfl_tflite_import(data, size, &image, &image_size, msg, sizeof(msg)) != 0) {
        return 0;
    }
    mfl_model_t model;
    if (mfl_model_load(&model, image, image_size) != 0) {
        abort(); /* the importer wrote a model the loader refuses */
    }
    fuzz_run_once(&model);
    free(image);
    return 0;
}
