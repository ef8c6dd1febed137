#!/usr/bin/env bash
# Runs the sync image (built by scripts/firmware.sh) against a real
# aggregator: QEMU's serial line goes to tests/support/serial_bridge.py, which
# carries each SLIP frame to the aggregator as one UDP datagram — through the
# lossy proxy (tests/support/udp_faults.py: 30 % loss each way, 150 ms +
# 0-30 ms one way, duplicates, reordering) with --lossy SEED. The device
# fetches the model, learns, posts its update over DTLS, and installs the
# model published from it. Prints the image's figures and checks that the
# update was stored exactly once. Runs in real time (no -icount).
# Usage: scripts/firmware_sync.sh [soft|hard] [--lossy SEED]
set -euo pipefail
cd "$(dirname "$0")/.."
abi=${1:-soft}
case "$abi" in
  soft | hard) ;;
  *) echo "usage: scripts/firmware_sync.sh [soft|hard] [--lossy SEED]" >&2; exit 2 ;;
esac
seed=""; [ "${2:-}" = --lossy ] && seed=${3:?--lossy needs a seed}
root=$(pwd)
elf=$root/build-fw-$abi/device/cortex-m/mfl-firmware-sync.elf
data=$root/build/firmware-data
[ -f "$elf" ] || { echo "firmware sync: no $elf (run scripts/firmware.sh $abi first)" >&2; exit 1; }
cmake --build build -j"$(nproc)" --target mfl-aggregator >/dev/null
run=$root/build-fw-$abi/run/sync${seed:+-lossy}
rm -rf "$run" && mkdir -p "$run" && cd "$run"
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT
# three free ports in a row: aggregator, proxy, bridge
port=$((20000 + RANDOM % 20000))
cat > agg.conf <<CONF
listen = 127.0.0.1:$port
data_dir = $run/data
model = $data/fmnist.mfl
key = $data/aggregator.key
buffer_k = 1
CONF
"$root/build/bin/mfl-aggregator" provision --config agg.conf add --id fw-dev-1 --psk 66772d6b6579 \
  --pub "$data/device.pub" --group m4 >/dev/null
"$root/build/bin/mfl-aggregator" --config agg.conf 2> srv.log & pids+=($!)
upstream=127.0.0.1:$port
if [ -n "$seed" ]; then
  python3 "$root/tests/support/udp_faults.py" --listen 127.0.0.1:$((port + 1)) --upstream "$upstream" --seed "$seed" \
    --loss 0.3 --delay-ms 150 --jitter-ms 30 --duplicate 0.05 --reorder 0.05 --stats proxy.json & pids+=($!)
  upstream=127.0.0.1:$((port + 1))
fi
python3 "$root/tests/support/serial_bridge.py" --listen 127.0.0.1:$((port + 2)) --upstream "$upstream" \
  --stats bridge.json --ready bridge.ready & pids+=($!)
for _ in $(seq 100); do grep -q event=listening srv.log 2>/dev/null && [ -f bridge.ready ] && break; sleep 0.1; done
echo "== the image syncs with a real aggregator over DTLS on its serial line ($abi-float${seed:+, lossy link seed $seed}) =="
timeout 1500 qemu-system-arm -M mps2-an386 -nographic -monitor none -serial tcp:127.0.0.1:$((port + 2)) \
  -semihosting-config enable=on,target=native -kernel "$elf" > output.txt 2>&1 || true
cat output.txt
kill -TERM "${pids[0]}"; wait "${pids[0]}" || true
grep -q "^firmware sync: done" output.txt || { echo "firmware sync: FAILED" >&2; grep -v WARN srv.log | tail -5 >&2; exit 1; }
accepted=$(grep -c "event=update_accepted device=fw-dev-1" srv.log || true)
[ "$accepted" = 1 ] || { echo "firmware sync: $accepted updates stored, expected exactly 1" >&2; exit 1; }
grep -q "^model_current 1$" output.txt || { echo "firmware sync: the unchanged model was not recognised (ETag, 2.03)" >&2; exit 1; }
grep -q "^model_installed 2$" output.txt || { echo "firmware sync: the next model was not installed" >&2; exit 1; }
awk '/_bytes_(sent|received) / { split($1, p, "_bytes_"); b[p[1]] += $2 }
     END { printf "bytes on the line per phase (DTLS records, both ways): handshake + unchanged fetch %d, update %d, changed fetch %d\n",
                  b["fetch_unchanged"], b["update"], b["fetch_changed"] }' output.txt
echo "== footprint of the sync image ($abi-float, -Os) =="
python3 "$root/scripts/map_sizes.py" "$root/build-fw-$abi/device/cortex-m/mfl-firmware-sync.map" output.txt
echo "firmware sync: OK (stored once, next model installed; server log $run/srv.log)"
