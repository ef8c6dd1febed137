/*
 * A firmware image for one model of shared/golden/tflm-models, chosen by
 * scripts/firmware_tflm.sh: the model (imported on the host into microfl's
 * format), its first input record (every input in order, as int8 codes: the
 * host quantizes a float input) and the host's output for it, which the
 * script checks against TFLM's, are embedded in flash (blobs_tflm.S.in).
 * The image runs one inference on the target's
 * default kernel path (DSP on a Cortex-M4) and prints, as `name value`
 * lines: whether every output byte equals the embedded ones, the outputs'
 * FNV-1a hash and bytes (so the host checks them on its own), the
 * instructions of the inference (QEMU -icount shift=6), the arena the
 * model's memory plan needs and the stack's high-water mark.
 */
#include <stdint.h>
#include <string.h>

#include "board.h"
#include "mfl/error.h"
#include "mfl/interpreter.h"
#include "mfl/op_resolver.h"
#include "semihost.h"

#define BLOB(name) extern const uint8_t blob_##name[], blob_##name##_end[]
#define BLOB_LEN(name) ((size_t)(blob_##name##_end - blob_##name))
BLOB(tflm_model);
BLOB(tflm_in);
BLOB(tflm_out);

/* Room for any model of the set (person_detect plans 55,328 B; TFLM's
 * largest arena in the set is 85,024 B) on a board with 4 MB of RAM. What
 * a model needs is printed (tflm_arena_bytes), not this. */
#ifndef MFL_TFLM_ARENA_BYTES
#define MFL_TFLM_ARENA_BYTES (256u * 1024u)
#endif
static uint8_t arena[MFL_TFLM_ARENA_BYTES] __attribute__((aligned(16)));

/* The golden set's checksum: FNV-1a, 32 bits (meta.txt's outputs_fnv1a),
 * continued from h (2166136261 to start), so that it runs over several
 * outputs as over their record. */
static uint32_t fnv1a(uint32_t h, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h = (h ^ p[i]) * 16777619u;
    }
    return h;
}

/* "name 0a0bff...\n": the first max bytes, for a person to compare. */
static void put_hex_line(const char *name, const uint8_t *p, size_t n, size_t max)
{
    static const char digits[] = "0123456789abcdef";
    char pair[3] = {0, 0, 0};
    sh_puts(name);
    sh_puts(" ");
    for (size_t i = 0; i < n && i < max; i++) {
        pair[0] = digits[p[i] >> 4];
        pair[1] = digits[p[i] & 15];
        sh_puts(pair);
    }
    sh_puts(n > max ? "...\n" : "\n");
}

static int failed(const char *what, int err)
{
    sh_puts("tflm: ");
    sh_puts(what);
    sh_puts(": ");
    sh_puts(mfl_strerror(err));
    sh_puts("\n");
    return 1;
}

/* The embedded record into the model's inputs, in order (each input's
 * bytes as the golden record lays them out: int8, int16 or int32 alike).
 * Returns 0, or MFL_ERR_INVALID_ARG when the record's size differs. */
static int load_record(const mfl_model_t *model, const mfl_interp_t *it)
{
    size_t at = 0;
    for (unsigned k = 0; k < mfl_model_input_count(model); k++) {
        int8_t *buf;
        size_t len;
        const int err = mfl_interp_input_at(it, k, &buf, &len);
        if (err || at + len > BLOB_LEN(tflm_in)) {
            return err ? err : MFL_ERR_INVALID_ARG;
        }
        memcpy(buf, blob_tflm_in + at, len);
        at += len;
    }
    return at == BLOB_LEN(tflm_in) ? 0 : MFL_ERR_INVALID_ARG;
}

/* Loads the model, runs the embedded record once, reports: every output,
 * in order, against the embedded record (their bytes and hash together,
 * output 0's first bytes). */
static int run(void)
{
    mfl_model_t model;
    mfl_interp_t it;
    /* every operator microfl has: the image runs whichever model the
     * script embeds (an MLPerf-only firmware names its few, mlperf_ops.h) */
    mfl_op_refusal_t why;
    int err = mfl_model_load_ops(&model, blob_tflm_model, BLOB_LEN(tflm_model), &mfl_ops_all, &why);
    if (err) {
        if (why.op != MFL_NONE) {
            sh_puts("tflm: refused operator ");
            sh_put_u64(why.op);
            sh_puts(" (");
            sh_puts(mfl_opcode_name(why.opcode));
            sh_puts(")\n");
        }
        return failed("model", err);
    }
    sh_line("tflm_arena_bytes", mfl_model_arena_size(&model));
    err = mfl_interp_init(&it, &model, arena, sizeof(arena));
    err = err ? err : load_record(&model, &it);
    if (err) {
        return failed("input", err);
    }
    const uint32_t t0 = board_ticks();
    err = mfl_interp_invoke(&it);
    const uint64_t instructions = board_instructions(board_ticks() - t0);
    if (err) {
        return failed("invoke", err);
    }
    size_t at = 0;
    uint32_t hash = 2166136261u;
    int exact = 1;
    for (unsigned k = 0; k < mfl_model_output_count(&model); k++) {
        const int8_t *output;
        size_t n;
        err = mfl_interp_output_at(&it, k, &output, &n);
        if (err) {
            return failed("output", err);
        }
        const uint8_t *out = (const uint8_t *)output;
        exact = exact && n <= BLOB_LEN(tflm_out) - at && memcmp(out, blob_tflm_out + at, n) == 0;
        hash = fnv1a(hash, out, n);
        if (k == 0) {
            put_hex_line("tflm_output_hex", out, n, 64);
        }
        at += n;
    }
    exact = exact && at == BLOB_LEN(tflm_out);
    sh_line("tflm_infer_instructions", instructions);
    sh_line("tflm_output_bytes", at);
    sh_line("tflm_output_fnv1a", hash);
    sh_line("tflm_bitexact", (uint64_t)exact);
    return exact ? 0 : 1;
}

int main(void)
{
    board_timer_start();
    sh_puts("microfl firmware (one TFLM model): Cortex-M4, mps2-an386\n");
    const int status = run();
    sh_line("stack_high_water_bytes", board_stack_high_water());
    sh_puts(status ? "tflm: FAILED\n" : "tflm: done\n");
    return status;
}
