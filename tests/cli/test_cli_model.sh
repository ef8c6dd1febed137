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
