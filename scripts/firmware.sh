#!/usr/bin/env bash
# Builds the microfl firmware image for Cortex-M4 (QEMU mps2-an386) and runs
# it: Fashion-MNIST inference, on-device learning and a signed update
# (written to build-fw-ABI/run/update.cose through semihosting), then the
# four MLPerf Tiny models checked byte for byte. Prints instruction counts
# (-icount shift=6: instructions = timer ticks / 1.6), the stack high-water
# mark, and flash/RAM per component from the linker map. Then the TFLM
# models test_tflm_models requires, each in a one-model image
# (scripts/firmware_tflm.sh), and the sync image syncs with a real
# aggregator over DTLS on its serial line (scripts/firmware_sync.sh).
# Usage: scripts/firmware.sh [soft|hard]
set -euo pipefail
cd "$(dirname "$0")/.."
abi=${1:-soft}
case "$abi" in
  soft | hard) ;;
  -h | --help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "usage: scripts/firmware.sh [soft|hard] (the float ABI; soft by default), not '$abi'" >&2; exit 2 ;;
esac
shared=${MFL_SHARED_DIR:-../shared}
./scripts/setup.sh >/dev/null
./scripts/target_deps.sh "$abi"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target mfl >/dev/null
mfl=build/bin/mfl
data=$(pwd)/build/firmware-data
mkdir -p "$data"

# the Fashion-MNIST model: the base architecture, briefly trained (the
# instruction counts depend on the architecture, not on the weights)
# (trained once; converted on every run, so that the image always carries
# the model format this build writes)
[ -f "$data/fmnist.mflf" ] || "$mfl" train -o "$data/fmnist.mflf" --epochs 1 --limit 8000 >/dev/null 2>&1
"$mfl" quantize "$data/fmnist.mflf" "$data/fmnist.mfl" --calib 500 >/dev/null
# 140 test images and labels: 100 to evaluate, 40 to learn from
fm=/usr/share/datasets/fashion-mnist
set +o pipefail # head and tail stop reading early on purpose
zcat "$fm/t10k-images-idx3-ubyte.gz" | tail -c +17 | head -c $((140 * 784)) > "$data/images.bin"
zcat "$fm/t10k-labels-idx1-ubyte.gz" | tail -c +9 | head -c 140 > "$data/labels.bin"
set -o pipefail
# the device's identity and key (the aggregator gets device.pub)
printf 'fw-dev-1' > "$data/device_id.txt"
printf 'fw-key' > "$data/psk.bin" # its DTLS pre-shared key (hex 66772d6b6579)
[ -f "$data/device.key" ] || "$mfl" keygen "$data/device" >/dev/null
openssl ec -in "$data/device.key" -outform DER 2>/dev/null | tail -c +8 | head -c 32 > "$data/device.raw"
# the aggregator's key, pinned in the image (raw uncompressed point)
[ -f "$data/aggregator.key" ] || "$mfl" keygen "$data/aggregator" >/dev/null
openssl ec -pubin -in "$data/aggregator.pub" -outform DER 2>/dev/null | tail -c 65 > "$data/aggregator.raw"
# the MLPerf Tiny models and their first golden input and output
for pair in kws:kws_ref_model vww:vww_96_int8 ic:pretrainedResnet_quant ad:ad01_int8; do
  short=${pair%%:*}; m=${pair#*:}; g=$shared/golden/mlperf-tiny/$m
  "$mfl" model import "$shared/models/mlperf-tiny/$m.tflite" "$data/$short.mfl" >/dev/null
  head -c "$(grep '^input_bytes=' "$g/meta.txt" | cut -d= -f2)" "$g/inputs.bin" > "$data/$short.in"
  head -c "$(grep '^output_bytes=' "$g/meta.txt" | cut -d= -f2)" "$g/outputs.bin" > "$data/$short.out"
done

fw=build-fw-$abi
mbedtls=mbedtls; [ "$abi" = hard ] && mbedtls=mbedtls-hard
cmake -S . -B "$fw" -DCMAKE_TOOLCHAIN_FILE=cmake/arm-none-eabi-cortex-m4.cmake -DMFL_FLOAT_ABI="$abi" \
  -DCMAKE_BUILD_TYPE=MinSizeRel -DMFL_WERROR=ON -DMFL_TARGET_MBEDTLS_DIR="$(pwd)/build-target-deps/$mbedtls" \
  -DMFL_FIRMWARE_DATA="$data" -DMFL_COAP_MAX_DATAGRAM=384 >/dev/null
cmake --build "$fw" -j"$(nproc)" --target mfl-firmware mfl-firmware-sync >/dev/null
elf=$fw/device/cortex-m/mfl-firmware.elf
mkdir -p "$fw/run"
rm -f "$fw/run/update.cose"
echo "== firmware ($abi-float) under QEMU mps2-an386, -icount shift=6 =="
(cd "$fw/run" && timeout 900 qemu-system-arm -M mps2-an386 -nographic -monitor none -serial none \
   -semihosting-config enable=on,target=native -icount shift=6 -kernel "../device/cortex-m/mfl-firmware.elf" 2>&1) |
  tee "$fw/run/output.txt"
grep -q "^firmware: done" "$fw/run/output.txt"
[ -s "$fw/run/update.cose" ]
# Instructions per inference against TensorFlow Lite Micro on the same
# board and method (one Invoke, first golden input, arm-none-eabi-gcc 12 -O2;
# figures from ../shared/NOTES.md): its reference kernels, and CMSIS-NN's
# DSP path, the engine to beat (target: <= 1.0x on every model).
echo "== speed against TFLM (instructions per inference, Cortex-M4) =="
awk '
  BEGIN { ref["kws"] = 42281602; ref["vww"] = 99547345; ref["ic"] = 105740536; ref["ad"] = 1954204
          cmsis["kws"] = 7577955; cmsis["vww"] = 23776622; cmsis["ic"] = 29781649; cmsis["ad"] = 583126 }
  /^(kws|vww|ic|ad)_infer_instructions / {
    m = $1; sub(/_infer_instructions/, "", m); r = $2 / cmsis[m]; worst = r > worst ? r : worst
    printf "%-4s %11d = %.3f x TFLM+CMSIS-NN (%d), %.3f x TFLM reference kernels: %s\n",
           m, $2, r, cmsis[m], $2 / ref[m], r <= 1.0 ? "OK" : "ABOVE TARGET"; n++ }
  END { printf "worst ratio to TFLM+CMSIS-NN: %.3f (target <= 1.0, stretch <= 0.8) over %d models\n", worst, n }
' "$fw/run/output.txt" | tee "$fw/run/speed.txt"
# The learner: instructions per head parameter per sample of learning one
# labelled sample (one SGD step on a batch and the replay buffer; issue 12's
# target <= 8, stretch <= 4).
echo "== on-device learning (Cortex-M4) =="
awk '
  /^fmnist_learn_step_instructions / { step = $2 }
  /^fmnist_learn_head_parameters / { params = $2 }
  /^fmnist_learn_batch / { batch = $2 }
  END { r = step / (params * batch)
        printf "learning step %d instructions, %d parameters, batch %d: %.2f per parameter per sample (target <= 8, stretch <= 4): %s\n",
               step, params, batch, r, r <= 8 ? "OK" : "ABOVE TARGET" }
' "$fw/run/output.txt" | tee "$fw/run/learn.txt"
echo "== footprint ($abi-float, -Os) =="
arm-none-eabi-size "$elf"
python3 scripts/map_sizes.py "$fw/device/cortex-m/mfl-firmware.map" "$fw/run/output.txt"
# TFLM's own models that test_tflm_models requires, bit-exact on the target
./scripts/firmware_tflm.sh "$abi"
./scripts/firmware_sync.sh "$abi"
