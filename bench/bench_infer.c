/*
 * bench_infer MODEL [RUNS [PATH]]: loads a model (.mfl or .tflite), fills the
 * input with the golden xorshift bytes and runs RUNS inferences (default 1)
 * on the kernel path PATH ("portable", the host default, or "dsp").
 * scripts/bench.sh runs it under callgrind, collecting only inside
 * mfl_interp_invoke, so the count is instructions per inference.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mfl/host/model_file.h"
#include "mfl/interpreter.h"
#include "mfl/kernels.h"

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_infer MODEL [RUNS]\n");
        return 2;
    }
    const int runs = argc > 2 ? atoi(argv[2]) : 1;
    if (argc > 3 && mfl_kernels_select(strcmp(argv[3], "dsp") == 0 ? MFL_KERNELS_DSP : MFL_KERNELS_PORTABLE)) {
        fprintf(stderr, "bench_infer: no kernel path %s in this build\n", argv[3]);
        return 2;
    }
    uint8_t *image;
    size_t size;
    char msg[256] = "";
    mfl_model_t model;
    if (mfl_model_file_read(argv[1], &image, &size, msg, sizeof(msg)) || mfl_model_load(&model, image, size)) {
        fprintf(stderr, "bench_infer: cannot load %s %s\n", argv[1], msg);
        return 1;
    }
    uint8_t *arena = malloc(mfl_model_arena_size(&model));
    mfl_interp_t it;
    int8_t *in;
    size_t in_len;
    if (!arena || mfl_interp_init(&it, &model, arena, mfl_model_arena_size(&model)) ||
        mfl_interp_input(&it, &in, &in_len)) {
        return 1;
    }
    uint32_t x = 1;
    for (size_t i = 0; i < in_len; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        in[i] = (int8_t)(x & 0xFF);
    }
    for (int r = 0; r < runs; r++) {
        mfl_interp_invoke(&it);
    }
    const int8_t *out;
    size_t out_len;
    mfl_interp_output(&it, &out, &out_len);
    printf("output[0] = %d\n", out[0]);
    free(arena);
    free(image);
    return 0;
}
