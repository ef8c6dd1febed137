#!/usr/bin/env bash
# The mfl command line as a user drives it: import a real model, describe it,
# run the golden inputs through both the .tflite and the imported .mfl, and
# check that bad input gets a clear error and a non-zero exit.
set -euo pipefail
: "${MFL:?path to mfl}" "${MFL_SHARED_DIR:?path to shared/}"
models="$MFL_SHARED_DIR/models/mlperf-tiny"
golden="$MFL_SHARED_DIR/golden/mlperf-tiny"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$MFL" --help | grep -q "mfl model run" || fail "--help does not describe model run"
"$MFL" model import "$models/kws_ref_model.tflite" "$tmp/kws.mfl" >/dev/null
"$MFL" model info "$tmp/kws.mfl" > "$tmp/info.txt"
grep -q "MACs:       2656768" "$tmp/info.txt" || fail "MACs differ from TFLM's count"
# two 8,000-byte activations and the 256-byte scratch of a 1x1 convolution alive together
grep -q "arena:      16256 bytes" "$tmp/info.txt" || fail "arena is not 16256 bytes"
grep -q "FULLY_CONNECTED.*(trainable head)" "$tmp/info.txt" || fail "head not marked"

"$MFL" model run "$tmp/kws.mfl" "$golden/kws_ref_model/inputs.bin" "$tmp/out1.bin"
cmp "$tmp/out1.bin" "$golden/kws_ref_model/outputs.bin" || fail ".mfl outputs differ from TFLM"
"$MFL" model run "$models/ad01_int8.tflite" "$golden/ad01_int8/inputs.bin" "$tmp/out2.bin"
cmp "$tmp/out2.bin" "$golden/ad01_int8/outputs.bin" || fail ".tflite outputs differ from TFLM"

# Scales in the model (format 3): each input's and output's, both forms.
grep -q "^input 0:    tensor 0, int8 \[1,49,10,1\], scale 0.584702909 (mantissa 1255639936, exponent 0), zero point 83$" \
  "$tmp/info.txt" || fail "input scale not printed: $(grep '^input' "$tmp/info.txt")"
grep -q "^output 0:   .*scale 0.00390625 (mantissa 1073741824, exponent -7), zero point -128$" "$tmp/info.txt" ||
  fail "output scale not printed"

# Two inputs: a record holds both, in order (TFLM's simple_add_model).
tflm="$MFL_SHARED_DIR/golden/tflm-models"
"$MFL" model info "$MFL_SHARED_DIR/models/tflm/simple_add_model.tflite" | grep -q "^input 1: " || fail "no input 1"
"$MFL" model run "$MFL_SHARED_DIR/models/tflm/simple_add_model.tflite" "$tflm/simple_add_model/inputs.bin" "$tmp/add.bin"
cmp "$tmp/add.bin" "$tflm/simple_add_model/outputs.bin" || fail "two-input outputs differ from TFLM"

# Float edges: --float takes and gives what the .tflite does; quantize, run
# and dequantize give the same floats through the device's int8 records.
for m in quantize_f32_to_i8 dequantize_i8_to_f32; do
  "$MFL" model import "$tflm/$m/model.tflite" "$tmp/$m.mfl" >/dev/null
  "$MFL" model run --float "$tmp/$m.mfl" "$tflm/$m/inputs.bin" "$tmp/$m.out"
  cmp "$tmp/$m.out" "$tflm/$m/outputs.bin" || fail "$m: --float outputs differ from TFLM"
  "$MFL" model quantize "$tmp/$m.mfl" "$tflm/$m/inputs.bin" "$tmp/$m.q"
  "$MFL" model run "$tmp/$m.mfl" "$tmp/$m.q" "$tmp/$m.q.out"
  "$MFL" model dequantize "$tmp/$m.mfl" "$tmp/$m.q.out" "$tmp/$m.f"
  cmp "$tmp/$m.f" "$tflm/$m/outputs.bin" || fail "$m: quantize, run, dequantize differ from TFLM"
done
"$MFL" model info "$tmp/quantize_f32_to_i8.mfl" | grep -q "^input 0: .*; float32 in the source model (QUANTIZE taken off)$" ||
  fail "float input edge not shown"
if "$MFL" model run --float "$tmp/kws.mfl" "$golden/kws_ref_model/inputs.bin" "$tmp/o.bin" 2> "$tmp/err.txt"; then
  fail "--float accepted on an int8 model"
fi
grep -q "has no float32 input or output" "$tmp/err.txt" || fail "no --float message: $(cat "$tmp/err.txt")"

# Bad input: a clear message and exit status 1, no output file left behind.
head -c 1000 "$tmp/kws.mfl" > "$tmp/trunc.mfl"
if "$MFL" model info "$tmp/trunc.mfl" 2> "$tmp/err.txt"; then fail "truncated model accepted"; fi
grep -q "model truncated" "$tmp/err.txt" || fail "no truncation message: $(cat "$tmp/err.txt")"
head -c 100 "$golden/kws_ref_model/inputs.bin" > "$tmp/short.bin"
if "$MFL" model run "$tmp/kws.mfl" "$tmp/short.bin" "$tmp/o.bin" 2> "$tmp/err.txt"; then fail "short input accepted"; fi
grep -q "not a positive multiple of the 490-byte input" "$tmp/err.txt" || fail "no input-size message"
if "$MFL" model import "$tmp/kws.mfl" "$tmp/x.mfl" 2> "$tmp/err.txt"; then fail "import of a non-tflite accepted"; fi
grep -q "TFL3" "$tmp/err.txt" || fail "no format message"
if "$MFL" model bogus 2>/dev/null; then fail "unknown subcommand accepted"; fi
echo "1 passed, 0 failed"
