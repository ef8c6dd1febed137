#!/usr/bin/env bash
# Prints microfl's inference figures: arena bytes against each MLPerf Tiny
# model's activation lower bound, MACs, and host instructions per inference
# counted by callgrind inside mfl_interp_invoke (repeatable, unlike time).
# Usage: scripts/bench.sh [BUILD_DIR]   (default build/, built if needed)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
shared=${MFL_SHARED_DIR:-../shared}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)" --target mfl bench_infer bench_learn bench_protocol_mbedtls \
  bench_protocol_openssl >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

declare -A bound=([kws_ref_model]=16000 [vww_96_int8]=55296 [pretrainedResnet_quant]=49152 [ad01_int8]=768)
# host instructions per inference before the engine work of issue 12
# (commit 94d9161, same method): the target is at most half of these
declare -A before=([kws_ref_model]=33393074 [vww_96_int8]=88695739 [pretrainedResnet_quant]=117608907
                   [ad01_int8]=2217641)
printf '%-24s %8s %8s %6s %12s %14s %9s %8s\n' model arena bound ratio MACs instructions instr/MAC vs_before
for m in kws_ref_model vww_96_int8 pretrainedResnet_quant ad01_int8; do
  "$build/bin/mfl" model import "$shared/models/mlperf-tiny/$m.tflite" "$tmp/$m.mfl" >/dev/null
  "$build/bin/mfl" model info "$tmp/$m.mfl" > "$tmp/$m.info"
  arena=$(awk '/^arena:/{print $2}' "$tmp/$m.info")
  macs=$(awk '/^MACs:/{print $2}' "$tmp/$m.info")
  valgrind --tool=callgrind --toggle-collect=mfl_interp_invoke --callgrind-out-file="$tmp/cg.$m" \
    "$build/bin/bench_infer" "$tmp/$m.mfl" >/dev/null 2>"$tmp/vg.$m"
  instr=$(awk '/^summary:/{print $2}' "$tmp/cg.$m")
  printf '%-24s %8d %8d %6.3f %12d %14d %9.2f %8.3f\n' "$m" "$arena" "${bound[$m]}" \
    "$(echo "$arena / ${bound[$m]}" | bc -l)" "$macs" "$instr" "$(echo "$instr / $macs" | bc -l)" \
    "$(echo "$instr / ${before[$m]}" | bc -l)"
done
echo "(instructions: x86-64 host, $(gcc -dumpfullversion) -O2 with the kernels at -O3, portable path, one inference,"
echo " callgrind; vs_before: against the same count before issue 12, target <= 0.5)"

echo
echo "On-device learning step (fixed-point SGD on a batch), and the requantization to int8 the next"
echo "inference needs (host instructions, callgrind; the Cortex-M4 figures come from scripts/firmware.sh):"
printf '%-10s %6s %14s %16s %18s\n' head batch instr/step "per param·sample" requantization
steps=20
for head in 10x64 10x256; do
  for batch in 1 8; do
    units=${head%x*}; features=${head#*x}
    for fn in learning_step requantize_head; do
      valgrind --tool=callgrind --toggle-collect=$fn --callgrind-out-file="$tmp/cgl.$fn" \
        "$build/bin/bench_learn" "$units" "$features" "$batch" "$steps" > "$tmp/learn.txt" 2>/dev/null
    done
    step=$(( $(awk '/^summary:/{print $2}' "$tmp/cgl.learning_step") / steps ))
    requant=$(( $(awk '/^summary:/{print $2}' "$tmp/cgl.requantize_head") / steps ))
    printf '%-10s %6d %14d %16.2f %18d\n' "$head" "$batch" "$step" \
      "$(echo "$step / ($units * $features * $batch)" | bc -l)" "$requant"
  done
  sed 's/^/  /' "$tmp/learn.txt"
done

echo
echo "Signed updates (COSE_Sign1 / ES256 around the CBOR body):"
"$build/bin/bench_protocol_mbedtls" sizes 0
echo
echo "ES256 cost per operation (callgrind, host instructions; verify includes COSE decoding):"
printf '%-10s %14s %14s\n' backend sign verify
for backend in mbedtls openssl; do
  for op in sign verify; do
    valgrind --tool=callgrind --toggle-collect=one_$op --callgrind-out-file="$tmp/cg.$op" \
      "$build/bin/bench_protocol_$backend" $op 5 >/dev/null 2>&1
    eval "$op=\$(( \$(awk '/^summary:/{print \$2}' \"$tmp/cg.$op\") / 5 ))"
  done
  printf '%-10s %14d %14d\n' "$backend" "$sign" "$verify"
done
