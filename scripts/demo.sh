#!/usr/bin/env bash
# microfl's main job, for now: import the four MLPerf Tiny int8 models,
# describe them, run the golden inputs on microfl's integer-only engine and
# check every output byte against TensorFlow Lite Micro.
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
exit $status
