/* Helpers shared by the tests: shared test material and model loading. */
#ifndef MFL_TEST_SUPPORT_H
#define MFL_TEST_SUPPORT_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "mfl/crypto.h"
#include "mfl/interpreter.h"
#include "mfl/model.h"

/* Reads MFL_SHARED_DIR/relpath into a malloc'd, 16-byte-aligned buffer;
 * fails the test if it is missing (shared material is never optional). */
uint8_t *ts_read_shared(const char *relpath, size_t *size);

/* Imports MFL_SHARED_DIR/models/mlperf-tiny/<name>.tflite into a microfl
 * image (malloc'd) and loads it; fails the test on any error. */
uint8_t *ts_import_mlperf(const char *name, size_t *size, mfl_model_t *model);

/* The shared golden inputs' generator: xorshift32 from seed 1, low byte. */
void ts_xorshift_bytes(uint32_t *state, int8_t *dst, size_t n);

/* The small Fashion-MNIST model the device tests run: c4,p,c8s2,d16,d10,
 * initialised (seed 3, untrained), calibrated on 200 training images and
 * exported to a microfl image (malloc'd) that *model is loaded from.
 * Returns 0, or -1 (the dataset or the export failed). */
int ts_small_fmnist_model(uint8_t **image, size_t *size, mfl_model_t *model);

/* A model message as the aggregator publishes it for a rows x features
 * head: weights and biases that depend on the version (so each version is
 * different), model id "m", signed with key. Fails the test on any error;
 * returns its length. */
size_t ts_signed_model_msg(uint16_t rows, uint16_t features, uint64_t version, const mfl_es256_private_t *key,
                           uint8_t *out, size_t cap);
/* The same naming a backbone identity (32 bytes; NULL: none), as the
 * aggregator's messages do. */
size_t ts_signed_model_msg_for(uint16_t rows, uint16_t features, uint64_t version, const uint8_t *backbone,
                               const mfl_es256_private_t *key, uint8_t *out, size_t cap);

/* Rewrites the CRC of a model image after a test has edited it. */
void ts_fix_crc(uint8_t *image);

#endif
