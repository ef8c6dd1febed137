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
    case MFL_ERR_BUSY: return "in use by another process";
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
    case MFL_ERR_KERNEL_PATH: return "kernel implementation not in this build (no DSP extension)";
    case MFL_ERR_OP_NOT_REGISTERED: return "operator not registered in this firmware's op resolver";
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
    case MFL_ERR_NO_SAMPLES: return "nothing learned since the global model: no update to send";
    case MFL_ERR_RECAL_STATS: return "recalibration statistics empty or full";
    case MFL_ERR_RECAL_RANGE: return "recalibrated bias or scale out of the kernels' range";
    case MFL_ERR_CBOR_TRUNCATED: return "CBOR: input ends inside an item (truncated)";
    case MFL_ERR_CBOR_TRAILING: return "CBOR: trailing bytes after the message";
    case MFL_ERR_CBOR_INDEFINITE: return "CBOR: indefinite-length item";
    case MFL_ERR_CBOR_NON_SHORTEST: return "CBOR: integer or length not in shortest form";
    case MFL_ERR_CBOR_DEPTH: return "CBOR: nesting too deep";
    case MFL_ERR_CBOR_MALFORMED: return "CBOR: malformed or disallowed item (reserved encoding, float or simple value)";
    case MFL_ERR_PROTO_TYPE: return "message: item of the wrong type";
    case MFL_ERR_PROTO_DUP_KEY: return "message: duplicate map key";
    case MFL_ERR_PROTO_UNKNOWN_KEY: return "message: unknown map key";
    case MFL_ERR_PROTO_KEY_ORDER: return "message: map keys not in ascending order";
    case MFL_ERR_PROTO_MISSING_KEY: return "message: required key missing";
    case MFL_ERR_PROTO_SIZE: return "message: length above the limit";
    case MFL_ERR_PROTO_VERSION: return "message: unknown format version";
    case MFL_ERR_PROTO_DIMENSION: return "message: dimension mismatch";
    case MFL_ERR_PROTO_VALUE: return "message: value out of range";
    case MFL_ERR_PROTO_MSG_TYPE: return "message: not the expected message type";
    case MFL_ERR_PROTO_COUNTER: return "update: counter out of range (1..2^63-1)";
    case MFL_ERR_PROTO_MODEL_VERSION: return "message: model version out of range (1..2^63-1)";
    case MFL_ERR_PROTO_SAMPLES: return "update: sample count out of range (1..2^32-1)";
    case MFL_ERR_PROTO_SCALE: return "update: delta step above one real unit, values would overflow the head's Q8.24 range";
    case MFL_ERR_PROTO_BACKBONE: return "model message for another base model (backbone identity differs)";
    case MFL_ERR_COSE_TAG: return "COSE: missing or wrong tag (expected COSE_Sign1, 18)";
    case MFL_ERR_COSE_HEADER: return "COSE: unexpected, missing or malformed header";
    case MFL_ERR_COSE_ALG: return "COSE: algorithm is not ES256";
    case MFL_ERR_COSE_SIG_SIZE: return "COSE: signature is not exactly 64 bytes";
    case MFL_ERR_COSE_SIGNATURE: return "COSE: bad signature";
    case MFL_ERR_COSE_KID: return "COSE: key id does not match the sender";
    case MFL_ERR_CRYPTO: return "crypto backend failure";
    case MFL_ERR_KEY: return "key missing, malformed or not a P-256 key";
    case MFL_ERR_STORE: return "storage failure (SQLite)";
    case MFL_ERR_REPLAY: return "replayed or out-of-order counter";
    case MFL_ERR_NO_DEVICE: return "unknown or revoked device";
    case MFL_ERR_EXISTS: return "device already provisioned";
    case MFL_ERR_FLASH: return "device storage failed (read, write or erase; or power lost)";
    case MFL_ERR_NO_MODEL: return "no stored model verifies";
    case MFL_ERR_COAP_FORMAT: return "malformed CoAP message";
    case MFL_ERR_COAP_TIMEOUT: return "no CoAP answer after the last retransmission";
    case MFL_ERR_COAP_RESET: return "the CoAP peer reset the message";
    case MFL_ERR_COAP_BLOCK: return "inconsistent CoAP block-wise transfer";
    case MFL_ERR_SYNC_REFUSED: return "the aggregator refused the request";
    case MFL_ERR_SYNC_STALE: return "update based on a model the aggregator no longer accepts (fetch and learn again)";
    case MFL_ERR_SYNC_RECEIPT:
        return "the aggregator's answer carries no valid receipt for this update (malformed, for another device or "
               "counter, or an implausible last counter)";
    case MFL_ERR_DTLS_REFUSED:
        return "the aggregator refused the DTLS handshake (wrong PSK or identity, unknown or revoked device, or a "
               "certificate it does not accept)";
    case MFL_ERR_DTLS_PEER: return "the aggregator's certificate does not verify against the CA";
    case MFL_ERR_SYNC_UNAVAILABLE: return "the aggregator is unavailable (5.xx, 4.08 or 4.29 to every attempt)";
    default: return "unknown error";
    }
}
