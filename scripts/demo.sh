#!/usr/bin/env bash
# microfl's main job, for now:
#  1. import the four MLPerf Tiny int8 models, run the golden inputs on
#     microfl's integer-only engine and check every output byte against
#     TensorFlow Lite Micro;
#  2. train a Fashion-MNIST base model on data where three classes are rare,
#     quantize it, and let a device learn on its own labelled data: test
#     accuracy per class before and after, and fixed-point vs float32 parity.
# (The federated demo replaces this as the project grows.)
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${MFL_SHARED_DIR:-../shared}
./scripts/setup.sh >/dev/null
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
mfl=build/bin/mfl
out=build/demo
mkdir -p "$out"

printf '%-24s %10s %12s %10s %10s  %s\n' model params MACs arena inputs "vs TFLite Micro"
status=0
for m in kws_ref_model vww_96_int8 pretrainedResnet_quant ad01_int8; do
  "$mfl" model import "$shared/models/mlperf-tiny/$m.tflite" "$out/$m.mfl" >/dev/null
  "$mfl" model info "$out/$m.mfl" > "$out/$m.info"
  "$mfl" model run "$out/$m.mfl" "$shared/golden/mlperf-tiny/$m/inputs.bin" "$out/$m.out"
  if cmp -s "$out/$m.out" "$shared/golden/mlperf-tiny/$m/outputs.bin"; then verdict="bit-exact"; else verdict="DIFFERS"; status=1; fi
  printf '%-24s %10s %12s %10s %10s  %s\n' "$m" \
    "$(awk '/^parameters:/{print $2}' "$out/$m.info")" "$(awk '/^MACs:/{print $2}' "$out/$m.info")" \
    "$(awk '/^arena:/{print $2}' "$out/$m.info")" \
    "$(( $(stat -c %s "$shared/golden/mlperf-tiny/$m/inputs.bin") / $(grep -m1 '^input_bytes=' "$shared/golden/mlperf-tiny/$m/meta.txt" | cut -d= -f2) ))" \
    "$verdict"
done
echo
echo "Models in microfl's format are in $out/; try: $mfl model info $out/kws_ref_model.mfl"
[ $status -eq 0 ] || exit $status

echo
echo "== On-device learning =="
echo "Base model: trained where T-shirts, pullovers and shirts are rare (3% of their samples kept)."
"$mfl" train -o "$out/base_rare.mflf" --epochs 3 --limit 20000 \
  --class-weights 0.03,1,0.03,1,1,1,0.03,1,1,1 2>/dev/null
"$mfl" quantize "$out/base_rare.mflf" "$out/base_rare.mfl"
"$mfl" learn-demo "$out/base_rare.mfl" --samples 2000
