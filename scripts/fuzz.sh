#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each for a
# bounded time, seeded with the real models. Fails on any crash, leak or
# sanitizer report. Usage: scripts/fuzz.sh [SECONDS_PER_TARGET]  (default 60)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shared=${MFL_SHARED_DIR:-../shared}
build=build-fuzz
CC=clang cmake -S . -B "$build" -DMFL_FUZZ=ON -DMFL_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)" --target fuzz_model_load fuzz_tflite_import fuzz_idx fuzz_float_model fuzz_messages fuzz_device_state fuzz_reassembly fuzz_coap_msg fuzz_coap_exchange fuzz_sync mfl \
  >/dev/null

seeds=$build/seeds
mkdir -p "$seeds/tflite" "$seeds/mfl" "$seeds/idx" "$seeds/mflf" "$seeds/msg"
for m in kws_ref_model ad01_int8 pretrainedResnet_quant; do
  cp "$shared/models/mlperf-tiny/$m.tflite" "$seeds/tflite/"
  "$build/bin/mfl" model import "$shared/models/mlperf-tiny/$m.tflite" "$seeds/mfl/$m.mfl" >/dev/null
done
# 16x8 models (int16 activations, int64 biases, TRANSPOSE_CONV, broadcast SUB)
for m in seanet_conv2 seanet_sub0 seanet_transpose_conv4; do
  cp "$shared/models/tflm/$m.tflite" "$seeds/tflite/"
  "$build/bin/mfl" model import "$shared/models/tflm/$m.tflite" "$seeds/mfl/$m.mfl" >/dev/null
done

run() { # target corpus
  local target=$1 corpus=$2 work=$build/corpus-$1
  mkdir -p "$work"
  echo "fuzz: $target for ${seconds}s"
  "$build/bin/$target" "$work" "$corpus" -max_total_time="$seconds" -max_len=400000 \
    -rss_limit_mb=2048 -print_final_stats=1 2>"$build/$target.log" || { tail -50 "$build/$target.log"; exit 1; }
  grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$build/$target.log" | sed 's/^/  /'
}
# an IDX seed: the split byte (0xb0 puts it after the 20 image bytes), one
# 2x2 image, one label
printf '\xb0\x00\x00\x08\x03\x00\x00\x00\x01\x00\x00\x00\x02\x00\x00\x00\x02\x01\x02\x03\x04\x00\x00\x08\x01\x00\x00\x00\x01\x05' \
  > "$seeds/idx/seed"
"$build/bin/mfl" train -o "$seeds/mflf/tiny.mflf" -a c2,p,p,d10 -e 1 -n 64 -j 1 >/dev/null 2>&1

# one-operator models of the binary operators and CONCATENATION (several
# inputs, broadcasts, constant operands), and a float-edged chain with a
# broadcast MUL
for m in add_i8_bcast2 sub_i8_bcast mul_i8_bcast minimum_i8_bcast concat_ch mini_net_f32io; do
  cp "$shared/golden/tflm-models/$m/model.tflite" "$seeds/tflite/$m.tflite"
  "$build/bin/mfl" model import "$seeds/tflite/$m.tflite" "$seeds/mfl/$m.mfl" >/dev/null
done

run fuzz_model_load "$seeds/mfl"
run fuzz_tflite_import "$seeds/tflite"
run fuzz_idx "$seeds/idx"
run fuzz_float_model "$seeds/mflf"
# message seeds: signed updates (dense and top-k; `update make` learns
# Fashion-MNIST images, so from a tiny Fashion-MNIST model) and the public
# COSE vectors
"$build/bin/mfl" keygen --force "$seeds/dev" >/dev/null  # the seeds are made again on every run
"$build/bin/mfl" quantize "$seeds/mflf/tiny.mflf" "$seeds/tiny.mfl" --calib 20 >/dev/null
for k in 0 30; do
  "$build/bin/mfl" update make --model "$seeds/tiny.mfl" --key "$seeds/dev.key" --device-id d1 \
    --samples 5 --top-k $k -o "$seeds/msg/update$k.cose" >/dev/null
done
for f in "$shared"/testvectors/cose/*/*.json; do
  /usr/bin/python3 -c 'import json,sys; sys.stdout.buffer.write(bytes.fromhex(json.load(open(sys.argv[1]))["output"]["cbor"]))' \
    "$f" > "$seeds/msg/$(basename "$f" .json).cbor"
done
run fuzz_messages "$seeds/msg"
# the device state: an empty flash and one after a counter and a model install
mkdir -p "$seeds/state"
head -c 8192 /dev/zero | tr '\0' '\377' > "$seeds/state/erased"
run fuzz_device_state "$seeds/state"
# block sequences: one upload in four in-order blocks, one with a repeat and a gap
mkdir -p "$seeds/blocks"
printf 'a\x00\x00\x04\x01xxxxa\x00\x04\x04\x01yyyya\x00\x08\x02\x00zz' > "$seeds/blocks/in-order"
printf 'b\x00\x00\x04\x03xxxxb\x00\x00\x04\x01xxxxb\x00\x0c\x04\x01gggg' > "$seeds/blocks/repeat-gap"
run fuzz_reassembly "$seeds/blocks"
# CoAP datagrams: a Block1 POST of the update (RFC 7959) and its 2.31 answer
mkdir -p "$seeds/coap"
printf '\x42\x02\x10\x00\xa1\xb2\xb2fl\x02v1\x06update\x11\x12\xd1\x02\x09\xff0123456789abcdef' > "$seeds/coap/post-block1"
printf '\x62\x5f\x10\x00\xa1\xb2\xd1\x0e\x09' > "$seeds/coap/continue"
run fuzz_coap_msg "$seeds/coap"
# exchanges: a 2.31 Continue to a first block, then a 2.04 (clock steps between them)
mkdir -p "$seeds/exchange"
printf '\x04\x00\x01\x09\x62\x5f\x10\x00\xa1\xb2\xd1\x0e\x0c\x10\x09\x62\x44\x10\x01\xa1\xb3\xd1\x0e\x14' \
  > "$seeds/exchange/continue-changed"
run fuzz_coap_exchange "$seeds/exchange"
# a sync relaying an update: the aggregator's datagrams (an ACK with an empty token, a 2.04 with a body)
mkdir -p "$seeds/sync"
printf '\x02\x04\x60\x00\x12\x34\x0c\x64\x44\x12\x34\x01\x02\x03\x04\xff\xa0' > "$seeds/sync/answers"
run fuzz_sync "$seeds/sync"
