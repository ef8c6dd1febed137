#!/usr/bin/env bash
# The firmware image end to end: build it for Cortex-M4, run it under QEMU
# (scripts/firmware.sh: it infers, learns, signs an update and writes it
# through semihosting, and the four MLPerf Tiny models must match TFLite
# Micro byte for byte on the target), then relay the device's update to a
# real mfl-aggregator over DTLS with `mfl device relay`: accepted once,
# "already counted" the second time, and a byte flipped in it is refused.
set -euo pipefail
: "${MFL:?}" "${AGG:?}" "${SRC:?}"
MFL=$(readlink -f "$MFL"); AGG=$(readlink -f "$AGG")
tmp=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; [ -f "$tmp/srv.log" ] && tail -20 "$tmp/srv.log" >&2; exit 1; }

"$SRC/scripts/firmware.sh" soft > "$tmp/fw.txt" 2>&1 || { cat "$tmp/fw.txt"; fail "firmware build or run"; }
grep -E "instructions|bitexact|accuracy|device library|stack" "$tmp/fw.txt"
for m in kws vww ic ad; do
  grep -q "^${m}_bitexact 1" "$tmp/fw.txt" || fail "$m not bit-exact on the target"
done
data=$SRC/build/firmware-data
update=$SRC/build-fw-soft/run/update.cose
"$MFL" verify --key "$data/device.pub" "$update" > /dev/null || fail "the device's signature does not verify on the host"

port=$((20000 + RANDOM % 20000))
cd "$tmp"
cat > agg.conf <<CONF
listen = 127.0.0.1:$port
data_dir = $tmp/data
model = $data/fmnist.mfl
key = $data/aggregator.key
CONF
"$AGG" provision --config agg.conf add --id fw-dev-1 --psk 66772d6b6579 --pub "$data/device.pub" --group m4 >/dev/null
"$AGG" --config agg.conf > srv.log 2>&1 & pid=$!
sleep 1
relay() { "$MFL" device relay --server 127.0.0.1:$port --id fw-dev-1 --psk 66772d6b6579 "$1"; }
relay "$update" > r1.txt || fail "relay: $(cat r1.txt)"
grep -q "counter 1 accepted" r1.txt || fail "firmware update not accepted: $(cat r1.txt)"
relay "$update" | grep -q "already counted" || fail "replay not reported as already counted"
cp "$update" forged.cose
printf '\x01' | dd of=forged.cose bs=1 seek=200 conv=notrunc 2>/dev/null
relay forged.cose > r3.txt 2>&1 && fail "a modified update was accepted: $(cat r3.txt)"
grep -q "event=update_accepted device=fw-dev-1 counter=1" srv.log || fail "no accepted update in the log"
[ "$(grep -c event=update_accepted srv.log)" = 1 ] || fail "more than one update accepted"
echo "1 passed, 0 failed"
