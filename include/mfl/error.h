/*
 * microfl error codes.
 *
 * One convention everywhere: functions return int, 0 on success and a
 * negative MFL_ERR_* code on failure. mfl_strerror() names each code in
 * words a user can act on.
 */
#ifndef MFL_ERROR_H
#define MFL_ERROR_H

#define MFL_OK 0

/* General */
#define MFL_ERR_INVALID_ARG        -1   /* a NULL pointer or out-of-range argument */
#define MFL_ERR_BUFFER_TOO_SMALL   -2   /* output buffer too small; needed size reported */
#define MFL_ERR_IO                 -3   /* a file could not be read or written */
#define MFL_ERR_NO_MEMORY          -4   /* allocation failed (a host's heap, a device's Mbed TLS pool) */
#define MFL_ERR_BUSY               -5   /* held by another process (a device's state file) */

/* Model files (microfl format) */
#define MFL_ERR_MODEL_TRUNCATED    -20  /* file shorter than its header or tables say */
#define MFL_ERR_MODEL_MAGIC        -21  /* not a microfl model (bad magic) */
#define MFL_ERR_MODEL_VERSION      -22  /* model format version not supported */
#define MFL_ERR_MODEL_CHECKSUM     -23  /* CRC-32 mismatch: file corrupt */
#define MFL_ERR_MODEL_ALIGNMENT    -24  /* model buffer or a section is misaligned */
#define MFL_ERR_MODEL_LIMITS       -25  /* more tensors/ops than MFL_MAX_* allow */
#define MFL_ERR_MODEL_TENSOR       -26  /* a tensor record is invalid */
#define MFL_ERR_MODEL_OP           -27  /* an operator record is invalid */
#define MFL_ERR_MODEL_SHAPE        -28  /* shapes of an operator do not agree */
#define MFL_ERR_MODEL_PARAMS       -29  /* operator parameters out of range */
#define MFL_ERR_MODEL_GRAPH        -30  /* tensor used before produced, or produced twice */
#define MFL_ERR_MODEL_PLAN         -31  /* memory plan places live tensors on top of each other */
#define MFL_ERR_UNSUPPORTED_OP     -32  /* operator not implemented by microfl */
#define MFL_ERR_UNSUPPORTED_TYPE   -33  /* tensor data type not supported */
#define MFL_ERR_ARENA_TOO_SMALL    -34  /* arena smaller than the model needs */
#define MFL_ERR_KERNEL_PATH        -35  /* kernel implementation not in this build */
#define MFL_ERR_OP_NOT_REGISTERED  -36  /* operator not registered in the resolver the model was loaded with */

/* TFLite import (host) */
#define MFL_ERR_TFLITE_FORMAT      -40  /* not a well-formed .tflite flatbuffer */
#define MFL_ERR_TFLITE_UNSUPPORTED -41  /* valid .tflite using a feature microfl lacks */
#define MFL_ERR_TFLITE_QUANT       -42  /* missing or inconsistent quantization parameters */

/* Data and training (host) */
#define MFL_ERR_DATA_FORMAT        -50  /* malformed dataset file */
#define MFL_ERR_ARCH               -51  /* invalid network architecture description */
#define MFL_ERR_FLOAT_MODEL        -52  /* malformed float model file */

/* On-device learning */
#define MFL_ERR_NO_HEAD            -60  /* the model has no trainable head */
#define MFL_ERR_LABEL              -61  /* label outside the head's classes */
#define MFL_ERR_LEARN_CONFIG       -62  /* learner options out of range */
#define MFL_ERR_NO_SAMPLES         -63  /* nothing learned since the global head: no update to send */
#define MFL_ERR_RECAL_STATS        -64  /* recalibration statistics empty, or full (MFL_RECAL_MAX_POSITIONS) */
#define MFL_ERR_RECAL_RANGE        -65  /* a recalibrated bias or scale outside the kernels' ranges */

/* CBOR well-formedness (strict, deterministic profile) */
#define MFL_ERR_CBOR_TRUNCATED     -70  /* input ends inside an item */
#define MFL_ERR_CBOR_TRAILING      -71  /* bytes after the top-level item */
#define MFL_ERR_CBOR_INDEFINITE    -72  /* indefinite-length item */
#define MFL_ERR_CBOR_NON_SHORTEST  -73  /* integer or length not in its shortest form */
#define MFL_ERR_CBOR_DEPTH         -74  /* nesting deeper than allowed */
#define MFL_ERR_CBOR_MALFORMED     -75  /* reserved encoding, or a float/simple value */

/* microfl message schema */
#define MFL_ERR_PROTO_TYPE         -76  /* an item has the wrong type */
#define MFL_ERR_PROTO_DUP_KEY      -77  /* a map key appears twice */
#define MFL_ERR_PROTO_UNKNOWN_KEY  -78  /* a map key the schema does not define */
#define MFL_ERR_PROTO_KEY_ORDER    -79  /* map keys not in ascending order */
#define MFL_ERR_PROTO_MISSING_KEY  -80  /* a required key is absent */
#define MFL_ERR_PROTO_SIZE         -81  /* a length above the schema's limit */
#define MFL_ERR_PROTO_VERSION      -82  /* unknown format version */
#define MFL_ERR_PROTO_DIMENSION    -83  /* sizes that do not agree */
#define MFL_ERR_PROTO_VALUE        -84  /* a value out of range */
#define MFL_ERR_PROTO_MSG_TYPE     -85  /* a message of another type than expected */

/* COSE_Sign1 (ES256 profile) */
#define MFL_ERR_COSE_TAG           -86  /* missing or wrong COSE tag (18) */
#define MFL_ERR_COSE_HEADER        -87  /* unexpected, missing or malformed header */
#define MFL_ERR_COSE_ALG           -88  /* algorithm other than ES256 */
#define MFL_ERR_COSE_SIG_SIZE      -89  /* signature not exactly 64 bytes */
#define MFL_ERR_COSE_SIGNATURE     -90  /* signature does not verify */
#define MFL_ERR_COSE_KID           -91  /* key id does not match the sender */
#define MFL_ERR_CRYPTO             -92  /* crypto backend failure */
#define MFL_ERR_KEY                -93  /* key missing, malformed or of the wrong type */

/* Update ranges (protocol/microfl.cddl) */
#define MFL_ERR_PROTO_COUNTER      -94  /* update counter outside 1..2^63-1 */
#define MFL_ERR_PROTO_MODEL_VERSION -95 /* model or base version outside 1..2^63-1 */
#define MFL_ERR_PROTO_SAMPLES      -96  /* sample count outside 1..2^32-1 */
#define MFL_ERR_PROTO_SCALE        -97  /* delta step above one real unit: values would overflow Q8.24 */
#define MFL_ERR_PROTO_BACKBONE     -98  /* a model message for another base model (backbone identity differs) */

/* Aggregator state */
#define MFL_ERR_STORE             -100 /* SQLite failed (details in the log) */
#define MFL_ERR_REPLAY            -101 /* counter not above the device's last one (or device unknown/revoked) */
#define MFL_ERR_NO_DEVICE         -102 /* unknown or revoked device */
#define MFL_ERR_EXISTS            -103 /* device already provisioned */

/* Device persistent state */
#define MFL_ERR_FLASH             -110 /* storage read, write or erase failed (or power was lost) */
#define MFL_ERR_NO_MODEL          -111 /* no stored model verifies: run the built-in one */

/* Device networking */
#define MFL_ERR_COAP_FORMAT       -120 /* malformed CoAP message (RFC 7252 section 3) */
#define MFL_ERR_COAP_TIMEOUT      -121 /* no answer after the last retransmission (RFC 7252 section 4.2) */
#define MFL_ERR_COAP_RESET        -122 /* the peer reset the message (RST) */
#define MFL_ERR_COAP_BLOCK        -123 /* a block-wise transfer the peer broke off or numbered wrongly (RFC 7959) */
#define MFL_ERR_SYNC_REFUSED      -124 /* the aggregator refused the request for good (a 4.xx) */
#define MFL_ERR_SYNC_STALE        -125 /* update based on a model the aggregator no longer takes: fetch, learn again */
#define MFL_ERR_SYNC_RECEIPT      -126 /* an answer without a well-formed receipt for this device and counter */
#define MFL_ERR_SYNC_UNAVAILABLE  -127 /* the aggregator answered 5.xx, 4.08 or 4.29 to every attempt */
#define MFL_ERR_DTLS_REFUSED      -128 /* the aggregator refused the DTLS handshake (a fatal alert) */
#define MFL_ERR_DTLS_PEER         -129 /* the aggregator's certificate does not verify against the CA */

#ifdef __cplusplus
extern "C" {
#endif

/* A short, static, human-readable description of an error code. */
const char *mfl_strerror(int err);

#ifdef __cplusplus
}
#endif

#endif /* MFL_ERROR_H */
