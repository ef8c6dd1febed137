#!/usr/bin/env bash
# Runs models of ../shared/golden/tflm-models on the emulated Cortex-M4
# (QEMU mps2-an386, -icount shift=6): for each, the model imported on the
# host, its first input record and the expected output are embedded in a one-model
# image (device/cortex-m/tflm_main.c), which runs one inference and prints
# its output; the output must equal TFLM's byte for byte. A model converted
# with float input or output takes and gives int8 codes on the device (the
# importer took its QUANTIZE / DEQUANTIZE off): the host quantizes the
# record for it, and the output is checked twice, the device's int8 bytes
# against the host's, and the host's dequantized floats against TFLM's.
# Prints a table: instructions per inference, arena bytes, model bytes.
# Usage: scripts/firmware_tflm.sh [soft|hard] [MODEL...]
# Without MODEL: the models test_tflm_models requires to pass (its list in
# tests/golden/test_tflm_models.c), and then every one must be bit-exact.
# A chosen model that the importer refuses is reported, not run.
set -euo pipefail
cd "$(dirname "$0")/.."
abi=${1:-soft}
case "$abi" in
  soft | hard) ;;
  -h | --help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "usage: scripts/firmware_tflm.sh [soft|hard] [MODEL...], not '$abi'" >&2; exit 2 ;;
esac
shift $(($# ? 1 : 0))
shared=$(cd "${MFL_SHARED_DIR:-../shared}" && pwd)
golden=$shared/golden/tflm-models
if [ $# -gt 0 ]; then
  models=("$@")
else
  # the required list, one source of truth: the test's required[] array
  mapfile -t models < <(sed -n '/^static const char \*const required\[\] = {/,/^};/p' \
    tests/golden/test_tflm_models.c | grep -o '"[^"]*"' | tr -d '"')
  [ ${#models[@]} -gt 0 ] || { echo "firmware_tflm: no required models found in tests/golden/test_tflm_models.c" >&2; exit 1; }
fi

./scripts/target_deps.sh "$abi" >/dev/null
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j2 --target mfl >/dev/null
mfl=build/bin/mfl
data=$(pwd)/build/firmware-data
mkdir -p "$data/tflm"
# the same configuration as scripts/firmware.sh (one build directory per ABI)
fw=build-fw-$abi
mbedtls=mbedtls; [ "$abi" = hard ] && mbedtls=mbedtls-hard
cmake -S . -B "$fw" -DCMAKE_TOOLCHAIN_FILE=cmake/arm-none-eabi-cortex-m4.cmake -DMFL_FLOAT_ABI="$abi" \
  -DCMAKE_BUILD_TYPE=MinSizeRel -DMFL_WERROR=ON -DMFL_TARGET_MBEDTLS_DIR="$(pwd)/build-target-deps/$mbedtls" \
  -DMFL_FIRMWARE_DATA="$data" -DMFL_COAP_MAX_DATAGRAM=384 >/dev/null
elf=$fw/device/cortex-m/mfl-firmware-tflm.elf
run=$fw/run-tflm
mkdir -p "$run"

meta() { grep "^$2=" "$golden/$1/meta.txt" | head -1 | cut -d= -f2-; }
# FNV-1a (32 bits) of bytes [offset, offset + n) of a file, as the image prints it
fnv1a() {
  /usr/bin/python3 -c 'import sys
d = open(sys.argv[1], "rb").read()[int(sys.argv[2]):int(sys.argv[2]) + int(sys.argv[3])]
h = 2166136261
for b in d: h = ((h ^ b) * 16777619) & 0xFFFFFFFF
print(h)' "$1" "$2" "$3"
}

status=0
table=$run/table.txt
printf '%-26s %14s %10s %11s %12s %10s  %s\n' model "instructions" "arena B" "lower bound" "TFLM arena B" "model B" "on the M4" > "$table"
for m in "${models[@]}"; do
  [ -f "$golden/$m/meta.txt" ] || { echo "firmware_tflm: no model '$m' in $golden" >&2; status=1; continue; }
  tflite=$shared/$(meta "$m" model | sed 's#^shared/##')
  if ! "$mfl" model import "$tflite" "$data/tflm/model.mfl" > "$run/$m.import.txt" 2>&1; then
    printf '%-26s %s\n' "$m" "refused: $(sed 's/^mfl model import: [^:]*: //' "$run/$m.import.txt")" >> "$table"
    [ $# -gt 0 ] || status=1 # a required model
    continue
  fi
  in_bytes=$(meta "$m" record_in_bytes); out_bytes=$(meta "$m" record_out_bytes)
  head -c "$in_bytes" "$golden/$m/inputs.bin" > "$run/$m.in"
  head -c "$out_bytes" "$golden/$m/outputs.bin" > "$run/$m.want"
  # the device's int8 record (float inputs quantized as TFLM's QUANTIZE; int8
  # ones copied), the host's int8 output for it, and that output as the
  # source model gives it (float outputs dequantized), which must be TFLM's
  "$mfl" model quantize "$data/tflm/model.mfl" "$run/$m.in" "$data/tflm/input.bin"
  "$mfl" model run "$data/tflm/model.mfl" "$data/tflm/input.bin" "$data/tflm/output.bin"
  "$mfl" model dequantize "$data/tflm/model.mfl" "$data/tflm/output.bin" "$run/$m.host"
  cmake --build "$fw" -j2 --target mfl-firmware-tflm >/dev/null
  (timeout 300 qemu-system-arm -M mps2-an386 -nographic -monitor none -serial none \
     -semihosting-config enable=on,target=native -icount shift=6 -kernel "$elf" 2>&1 || true) > "$run/$m.txt"
  value() { awk -v k="$1" '$1 == k { print $2 }' "$run/$m.txt"; }
  # bit-exact twice over: the image against the bytes embedded in it, and
  # the hash it printed against the host's output read here, which in turn
  # is TFLM's (outputs.bin) once its float edges are dequantized
  verdict="bit-exact"
  if ! cmp -s "$run/$m.host" "$run/$m.want"; then
    verdict="NOT BIT-EXACT on the host (mfl model run differs from outputs.bin)"
    status=1
  elif [ "$(value tflm_bitexact)" != 1 ] || [ "$(value tflm_output_fnv1a)" != "$(fnv1a "$data/tflm/output.bin" 0 "$(stat -c %s "$data/tflm/output.bin")")" ]; then
    verdict="NOT BIT-EXACT ($(grep -m1 -E '^tflm(_output_hex|:)' "$run/$m.txt" || echo 'no output'))"
    status=1
  fi
  bound=$("$mfl" model info "$data/tflm/model.mfl" | awk '$1 == "lower" && $2 == "bound:" { print $3 }')
  printf '%-26s %14s %10s %11s %12s %10s  %s\n' "$m" "$(value tflm_infer_instructions)" "$(value tflm_arena_bytes)" \
    "$bound" "$(meta "$m" arena_used_bytes_host64)" "$(stat -c %s "$data/tflm/model.mfl")" "$verdict" >> "$table"
done
echo "== TFLM models on the Cortex-M4 ($abi-float): first record, one inference, DSP path =="
cat "$table"
echo "(instructions: QEMU -icount shift=6; arena: the model's memory plan; lower bound: the most activation bytes alive at once (mfl model info); TFLM arena: its x86-64 build, meta.txt)"
if [ "$status" = 0 ]; then
  echo "tflm models on the target: OK (${#models[@]} bit-exact)"
else
  echo "tflm models on the target: FAILED"
fi
exit "$status"
