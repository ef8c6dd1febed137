#!/usr/bin/env bash
# Load benchmark of the aggregator on loopback: DEVICES identities, each with
# its own DTLS-PSK session, send UPDATES signed updates each (one in flight
# per device). Prints accepted updates per second and p50/p99 latency, with a
# real ES256 check and a committed SQLite transaction per update, and the
# server's CPU time per accepted update (user + sys of all its threads, from
# /proc/PID/stat) as a multiple of one P-256 verification measured in the same
# run by `openssl speed ecdsap256` (single-threaded): a figure that, unlike
# updates/s, hardly moves with the machine's load.
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
buffer_k = $devices
max_sessions = $((devices + 64))
max_handshakes = $((devices + 64))
max_staleness = 1000000
verify_threads = ${VERIFY_THREADS:-auto}
CONF
# Pinned (server on CPU 0, load on CPU 1) when there are two CPUs: the two
# then do not take turns on one core's caches, and the figure holds from run
# to run (unpinned, it swung 3.3-5.1x one verification on a 2-CPU machine).
pin_server=() pin_load=()
if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
    pin_server=(taskset -c 0) pin_load=(taskset -c 1)
fi
"${pin_server[@]}" "$build/bin/mfl-aggregator" --config "$tmp/agg.conf" 2> "$tmp/srv.log" & pid=$!
sleep 1
# utime + stime (clock ticks) of the whole process, all threads included;
# and of the event loop alone (the main thread, whose id is the pid)
ticks() { awk '{print $14 + $15}' "$1"; }
# First the transport floor: the same requests to a path the server does not
# serve, answered 4.04 by libcoap alone (DTLS, CoAP, the event loop).
probe0=$(ticks /proc/$pid/stat)
"${pin_load[@]}" "$build/bin/bench_aggregator" --probe "$tmp/data" "$port" "$devices" "$updates" 10 17
probe1=$(ticks /proc/$pid/stat)
cpu0=$(ticks /proc/$pid/stat) loop0=$(ticks /proc/$pid/task/$pid/stat)
"${pin_load[@]}" "$build/bin/bench_aggregator" "$tmp/data" "$port" "$devices" "$updates" 10 17
cpu1=$(ticks /proc/$pid/stat) loop1=$(ticks /proc/$pid/task/$pid/stat)
hz=$(getconf CLK_TCK)
n_accepted=$(grep -c event=update_accepted "$tmp/srv.log" || true)
cpu_s=$(awk -v c=$((cpu1 - cpu0)) -v t="$hz" 'BEGIN {printf "%.2f", c / t}')
echo "server: $n_accepted accepted, $(grep -c event=model_published "$tmp/srv.log" || true) models published, CPU $cpu_s s during the load, peak RSS $(awk '/VmHWM/{print $2}' /proc/$pid/status) kB"
# One P-256 verification on one core, measured now, next to the load (the
# server is idle). -mr prints "+F4:<n>:256:<sign/s>:<verify/s>".
verify_per_s=$("${pin_server[@]}" openssl speed -mr -seconds 3 ecdsap256 2>/dev/null | awk -F: '$1 == "+F4" && $3 == 256 {v = $5} END {print v + 0}' || true)
awk -v n="$n_accepted" -v c=$((cpu1 - cpu0)) -v t="$hz" -v vps="${verify_per_s:-0}" -v loop=$((loop1 - loop0)) \
    -v floor=$((probe1 - probe0)) -v requests=$((devices * updates)) 'BEGIN {
    vus = vps > 0 ? 1e6 / vps : 0
    if (vus > 0) {
        printf "P-256 verify: %.1f µs (%.0f verifications/s on one core, openssl speed -seconds 3 ecdsap256)\n", vus, vps
    } else {
        print "P-256 verify: not measured (openssl speed ecdsap256 failed)"
    }
    if (n == 0) {
        print "server CPU per accepted update: n/a (no update accepted)"
        exit
    }
    per = c / t * 1e6 / n
    fl = floor / t * 1e6 / requests
    printf "server CPU per accepted update: %.0f µs", per
    if (vus > 0) {
        printf " = %.2f x one P-256 verify (%.1f µs, openssl speed)", per / vus, vus
    }
    printf "\nserver CPU per accepted update by thread: event loop %.0f µs, verify threads %.0f µs\n", loop / t * 1e6 / n,
           (c - loop) / t * 1e6 / n
    printf "server CPU per request answered 4.04 by libcoap alone (same sessions and sizes): %.0f µs", fl
    if (vus > 0) {
        printf " = %.2f x one verify; left for microfl per update besides one verify: %.0f µs = %.2f x", fl / vus,
               per - fl - vus, (per - fl - vus) / vus
    }
    printf "\n"
}'
