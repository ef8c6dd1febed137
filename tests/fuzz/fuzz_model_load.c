/*
 * Fuzz target for the device model loader (untrusted model images, e.g. a
 * model received over the air). The CRC is recomputed over the input first,
 * so that the fuzzer reaches the validation behind it instead of stopping
 * at the checksum. Whatever loads is then run once: validation must have
 * made every kernel access safe. The image is loaded a second time through
 * a resolver of four operators, which may refuse more but only as
 * MFL_ERR_OP_NOT_REGISTERED, naming the operator.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz_run.h"
#include "mfl/error.h"
#include "mfl/model.h"
#include "mfl/op_resolver.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *image = aligned_alloc(16, (size + 16) & ~(size_t)15);
    if (!image) {
        return 0;
    }
    memcpy(image, data, size);
    if (size >= sizeof(mfl_model_header_t)) {
        mfl_model_header_t h;
        memcpy(&h, image, sizeof(h));
        if (h.file_size >= 16 && h.file_size <= size) {
            h.crc32 = mfl_crc32(0, image + 16, h.file_size - 16);
            memcpy(image, &h, sizeof(h));
        }
    }
    mfl_model_t model;
    const int all = mfl_model_load(&model, image, size);
    if (all == 0) {
        fuzz_run_once(&model);
    }
    /* The same image through a resolver of a few operators: it may only
     * refuse more, and what it refuses beyond mfl_ops_all is an operator it
     * does not register, named. */
    static const mfl_op_reg_t *const few[] = {&mfl_op_conv_2d_s8, &mfl_op_fully_connected_s8,
                                              &mfl_op_add_s16, &mfl_op_softmax_s8};
    static const mfl_op_resolver_t few_ops = MFL_OP_RESOLVER(few);
    mfl_model_t sub;
    mfl_op_refusal_t why;
    const int err = mfl_model_load_ops(&sub, image, size, &few_ops, &why);
    if ((all != 0 && err == 0) || (all == 0 && err != 0 && (err != MFL_ERR_OP_NOT_REGISTERED || why.op == MFL_NONE))) {
        abort();
    }
    if (err == 0) {
        fuzz_run_once(&sub);
    }
    free(image);
    return 0;
}
