/* Human-readable names for MFL_ERR_* codes (see include/mfl/error.h). */
#include "mfl/error.h"

const char *mfl_strerror(int err)
{
    switch (err) {
    case MFL_OK: return "success";
    case MFL_ERR_INVALID_ARG: return "invalid argument";
    case MFL_ERR_BUFFER_TOO_SMALL: return "buffer too small";
    case MFL_ERR_IO: return "input/output error";
    case MFL_ERR_NO_MEMORY: return "out of memory";
    case MFL_ERR_MODEL_TRUNCATED: return "model truncated: shorter than its header or tables declare";
    case MFL_ERR_MODEL_MAGIC: return "not a microfl model (bad magic)";
    case MFL_ERR_MODEL_VERSION: return "unsupported model format version";
    case MFL_ERR_MODEL_CHECKSUM: return "model checksum mismatch: file is corrupt";
    case MFL_ERR_MODEL_ALIGNMENT: return "model buffer or section misaligned";
    case MFL_ERR_MODEL_LIMITS: return "model exceeds compile-time limits (MFL_MAX_TENSORS/MFL_MAX_OPS)";
    case MFL_ERR_MODEL_TENSOR: return "invalid tensor record in model";
    case MFL_ERR_MODEL_OP: return "invalid operator record in model";
    case MFL_ERR_MODEL_SHAPE: return "operator tensor shapes do not agree";
    case MFL_ERR_MODEL_PARAMS: return "operator parameters out of range";
    case MFL_ERR_MODEL_GRAPH: return "invalid graph: tensor read before it is produced or produced twice";
    case MFL_ERR_MODEL_PLAN: return "invalid memory plan: live tensors overlap or exceed the arena";
    case MFL_ERR_UNSUPPORTED_OP: return "unsupported operator";
    case MFL_ERR_UNSUPPORTED_TYPE: return "unsupported tensor type";
    case MFL_ERR_ARENA_TOO_SMALL: return "arena too small for this model";
    case MFL_ERR_TFLITE_FORMAT: return "malformed .tflite file";
    case MFL_ERR_TFLITE_UNSUPPORTED: return ".tflite model uses a feature microfl does not support";
    case MFL_ERR_TFLITE_QUANT: return ".tflite model has missing or inconsistent quantization";
    case MFL_ERR_DATA_FORMAT: return "malformed dataset file";
    case MFL_ERR_ARCH: return "invalid architecture description";
    case MFL_ERR_FLOAT_MODEL: return "malformed float model file";
    case MFL_ERR_NO_HEAD: return "model has no trainable head";
    case MFL_ERR_LABEL: return "label outside the model's classes";
    case MFL_ERR_LEARN_CONFIG: return "learner options out of range";
    default: return "unknown error";
    }
}
