/*
 * Host-only post-training quantization of a float network (train.h) into a
 * microfl int8 model: per-channel symmetric weights, per-tensor asymmetric
 * activations from calibrated ranges, int32 biases, and the integer kernel
 * parameters computed exactly as for an imported .tflite. The last dense
 * layer becomes the trainable head; a SOFTMAX follows it.
 */
#ifndef MFL_NET_EXPORT_H
#define MFL_NET_EXPORT_H

#include <stddef.h>
#include <stdint.h>

#include "mfl/host/train.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * lo/hi: each layer's calibrated output range (mfl_net_calibrate).
 * logit_headroom >= 1 widens the logits' range so that a head retrained on
 * device has room before its outputs saturate.
 * *image is malloc'd. Returns 0 or an MFL_ERR_* code with msg filled.
 */
int mfl_net_export(const mfl_net_t *net, const float *lo, const float *hi, float logit_headroom, uint8_t **image,
                   size_t *size, char *msg, size_t msg_cap);

#ifdef __cplusplus
}
#endif

#endif /* MFL_NET_EXPORT_H */
