#!/usr/bin/env bash
# Load benchmark of the aggregator on loopback: DEVICES identities, each with
# its own DTLS-PSK session, send UPDATES signed updates each (one in flight
# per device). Prints accepted updates per second and p50/p99 latency, with a
# real ES256 check and a committed SQLite transaction per update.
# Usage: scripts/bench_aggregator.sh [BUILD_DIR] [DEVICES] [UPDATES]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
devices=${2:-200}
updates=${3:-25}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)" --target mfl mfl-aggregator bench_aggregator >/dev/null
tmp=$(mktemp -d)
pid=""
trap '[ -n "$pid" ] && { kill $pid 2>/dev/null; wait $pid 2>/dev/null; }; rm -rf "$tmp"' EXIT
port=$((20000 + RANDOM % 20000))
"$build/bin/mfl" train -o "$tmp/b.mflf" -a c4,p,c8s2,d16,d10 -e 1 -n 500 >/dev/null 2>&1
"$build/bin/mfl" quantize "$tmp/b.mflf" "$tmp/b.mfl" --calib 100 >/dev/null
"$build/bin/mfl" keygen "$tmp/agg" >/dev/null
cat > "$tmp/agg.conf" <<CONF
listen = 127.0.0.1:$port
data_dir = $tmp/data
model = $tmp/b.mfl
key = $tmp/agg.key
buffer_k = 1000
max_sessions = $((devices + 64))
max_handshakes = $((devices + 64))
max_staleness = 1000000
verify_threads = ${VERIFY_THREADS:-auto}
CONF
"$build/bin/mfl-aggregator" --config "$tmp/agg.conf" 2> "$tmp/srv.log" & pid=$!
sleep 1
cpu() { awk -v t="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / t}' "/proc/$1/stat"; }
before=$(cpu $pid)
"$build/bin/bench_aggregator" "$tmp/data" "$port" "$devices" "$updates" 10 17
echo "server: $(grep -c event=update_accepted "$tmp/srv.log") accepted, $(grep -c event=model_published "$tmp/srv.log") models published, CPU $(echo "$(cpu $pid) - $before" | bc) s during the load, peak RSS $(awk '/VmHWM/{print $2}' /proc/$pid/status) kB"
