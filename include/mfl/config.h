/*
 * Compile-time configuration of microfl's device library.
 *
 * Every option has a default here; override any of them with -D on the
 * compiler command line or in a file named by MFL_CONFIG_FILE
 * (-DMFL_CONFIG_FILE='"my_mfl_config.h"'), which is included first.
 */
#ifndef MFL_CONFIG_H
#define MFL_CONFIG_H

#ifdef MFL_CONFIG_FILE
#include MFL_CONFIG_FILE
#endif

/* Largest model the loader accepts. They bound the interpreter's fixed
 * tables only through validation loops, never through RAM: a model's tables
 * are read in place. */
#ifndef MFL_MAX_TENSORS
#define MFL_MAX_TENSORS 512
#endif
#ifndef MFL_MAX_OPS
#define MFL_MAX_OPS 256
#endif

/* Skip the CRC-32 check at load (saves ~10 instructions per model byte at
 * boot when the image is already protected by a signed firmware update). */
#ifndef MFL_MODEL_SKIP_CRC
#define MFL_MODEL_SKIP_CRC 0
#endif

#if MFL_MAX_TENSORS < 2 || MFL_MAX_TENSORS > 65535
#error "MFL_MAX_TENSORS must be in [2, 65535]"
#endif
#if MFL_MAX_OPS < 1 || MFL_MAX_OPS > 65535
#error "MFL_MAX_OPS must be in [1, 65535]"
#endif

#endif /* MFL_CONFIG_H */
