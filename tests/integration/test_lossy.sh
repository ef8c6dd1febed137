#!/usr/bin/env bash
# Uploads over a lossy link: devices sync through tests/support/udp_faults.py,
# a seeded UDP proxy that loses 30 % of the datagrams each way, delays each by
# 150 ms (+0..30 ms jitter) one way, and duplicates and reorders a few. The
# updates (10 x 257 head, ~2.7 kB) need block-wise transfer, so a lost ACK
# lands in the middle of a Block1 exchange. Every sync must succeed
# ("accepted", or "already counted" for a retry of an update that got in),
# and the server must have stored every update exactly once: the SQLite store
# and the aggregator's log agree with what the devices sent.
# buffer_k is larger than the number of updates, so no model is published and
# the `pending` table keeps every accepted update.
# Environment: MFL, AGG (required); SRC or PROXY (the proxy); SEED, DEVICES,
# UPDATES, LOSS, SYNC_TIMEOUT, KEEP=1 (keep the temp dir) (optional). The
# seed fixes the fault draws for a given order of arrivals; scheduling still
# varies from run to run, so a seed narrows a failure down but may not repeat it.
set -euo pipefail
export LC_ALL=C # EPOCHREALTIME with a decimal point
: "${MFL:?}" "${AGG:?}"
MFL=$(readlink -f "$MFL"); AGG=$(readlink -f "$AGG")
SRC=${SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
PROXY=$(readlink -f "${PROXY:-$SRC/tests/support/udp_faults.py}")
SEED=${SEED:-$RANDOM}
DEVICES=${DEVICES:-6}
UPDATES=${UPDATES:-2}
LOSS=${LOSS:-0.3}
# s: a sync is two requests, each given 600 s here (--timeout; the client's
# default is 300 s); at 30 % loss most syncs take 10-60 s, one in ten 100-270 s
# (a message lost five times ends an attempt after CoAP's 93 s
# MAX_TRANSMIT_WAIT, a handshake lost five times after 31 s, and the request
# starts again), and one in a few hundred needed more than 300 s in CI
REQUEST_TIMEOUT=${REQUEST_TIMEOUT:-600}
SYNC_TIMEOUT=${SYNC_TIMEOUT:-1250}
faults=(--loss "$LOSS" --delay-ms 150 --jitter-ms 30 --duplicate 0.05 --reorder 0.05)
tmp=$(mktemp -d)
pids=()     # aggregator and proxies
workers=()  # device loops
cleanup() {
  local p
  for p in "${workers[@]}"; do pkill -TERM -P "$p" 2>/dev/null || true; kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ -n "${KEEP:-}" ]; then echo "kept $tmp" >&2; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
fail() { # libcoap's DTLS warnings (timed-out handshakes) are the proxy's doing: left out
  echo "FAIL (seed $SEED): $*" >&2; [ -f "$tmp/srv.log" ] && grep -v ' WARN ' "$tmp/srv.log" | tail -20 >&2; exit 1
}
port=$((20000 + RANDOM % 20000)) # the aggregator; +1 the lossless proxy, +2 the lossy one
cd "$tmp"

# a model with a 10 x 257 head: its updates do not fit in one 1024-byte block
"$MFL" train -o base.mflf -a c4,p,c8s2,d256,d10 -e 1 -n 1000 >/dev/null 2>&1
"$MFL" quantize base.mflf base.mfl --calib 100 >/dev/null
"$MFL" keygen agg >/dev/null
cat > agg.conf <<CONF
listen = 127.0.0.1:$port
data_dir = $tmp/data
model = $tmp/base.mfl
model_id = lossy
key = $tmp/agg.key
buffer_k = 100000
CONF
psk() { printf '6b6579%02x' "$1"; }
for d in $(seq 0 "$DEVICES"); do # dev0 measures the lossless baseline
  "$MFL" keygen "dev$d" >/dev/null
  "$AGG" provision --config agg.conf add --id "dev$d" --psk "$(psk "$d")" --pub "dev$d.pub" --group g >/dev/null
  mkdir -p "state$d"
done
"$MFL" update make --model base.mfl --key dev0.key --device-id dev0 --counter 99 --base-version 1 --samples 20 \
  -o probe.cose >/dev/null
ubytes=$(wc -c < probe.cose)
[ "$ubytes" -gt 1024 ] || fail "an update of $ubytes bytes fits in one block: no block-wise transfer to test"

"$AGG" --config agg.conf > srv.log 2>&1 & pids+=($!)
for _ in $(seq 100); do grep -q event=listening srv.log && break; sleep 0.1; done
grep -q event=listening srv.log || fail "the aggregator did not start"
proxy() { # listen port, stats file, fault options...
  local lport=$1 stats=$2; shift 2
  python3 "$PROXY" --listen "127.0.0.1:$lport" --upstream "127.0.0.1:$port" --seed "$SEED" --stats "$stats" "$@" \
    2>> proxy.err & pids+=($!)
  for _ in $(seq 50); do [ -f "$stats" ] && return 0; sleep 0.1; done
  fail "the proxy on port $lport did not start: $(cat proxy.err)"
}
stop() { kill -TERM "$1" 2>/dev/null || true; wait "$1" || true; } # the proxy writes its last stats on SIGTERM
json() { # file, keys...: one number from the proxy's stats
  python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
for k in sys.argv[2:]: d = d[k]
print(d)' "$@"
}
now() { echo "$EPOCHREALTIME"; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
sync() { # device, proxy port, update number, [command to run it under...]
  local d=$1 p=$2 u=$3; shift 3
  "$@" "$MFL" device sync --server "127.0.0.1:$p" --id "dev$d" --psk "$(psk "$d")" --agg-pub agg.pub --model base.mfl \
    --key "dev$d.key" --state "state$d" --seed $((100 * d + u)) --samples 20 --timeout "$REQUEST_TIMEOUT"
}

# the baseline: one sync through the proxy with the delay but no faults
proxy $((port + 1)) clean.json --delay-ms 150
t0=$(now)
sync 0 $((port + 1)) 1 > base.out 2>&1 || fail "lossless sync: $(cat base.out)"
t1=$(now)
stop "${pids[-1]}"
grep -q "update: counter 1 accepted" base.out || fail "lossless sync not accepted: $(cat base.out)"
base_s=$(elapsed "$t0" "$t1")
base_dgrams=$(( $(json clean.json c2s received) + $(json clean.json s2c received) ))

# the lossy run: devices in parallel, each one's syncs in sequence
proxy $((port + 2)) lossy.json "${faults[@]}"
lossy_proxy=${pids[-1]}
started=$(now)
for d in $(seq 1 "$DEVICES"); do
  (
    for u in $(seq 1 "$UPDATES"); do
      rc=0
      a=$(now)
      sync "$d" $((port + 2)) "$u" timeout "$SYNC_TIMEOUT" > "sync$d.$u.out" 2>&1 || rc=$?
      b=$(now)
      echo "$d $u $rc $(elapsed "$a" "$b")" >> "times$d.txt"
    done
  ) & workers+=($!)
done
for w in "${workers[@]}"; do wait "$w"; done
workers=()
wall=$(elapsed "$started" "$(now)")
stop "$lossy_proxy"
kill -TERM "${pids[0]}"; wait "${pids[0]}" || fail "the aggregator did not exit cleanly"

# what the devices saw
problems=()
cat times*.txt > times.txt
: > reported.txt
while read -r d u rc secs; do
  out=sync$d.$u.out
  counter=$(sed -n 's/^update: counter \([0-9]*\) \(accepted\|already counted\) .*/\1/p' "$out")
  if [ "$rc" = 0 ] && [ -n "$counter" ]; then
    echo "dev$d $counter" >> reported.txt
  elif [ "$rc" = 124 ]; then
    problems+=("dev$d update $u: no result within ${SYNC_TIMEOUT} s")
  else
    problems+=("dev$d update $u: exit $rc after $secs s: $(grep -v '^model:' "$out" | tr '\n' ' ')")
  fi
done < times.txt
sent=$((DEVICES * UPDATES))
delivered=$(wc -l < reported.txt)
retried=$(cat sync*.out | grep -c "already counted" || true)
# what the server stored and logged (dev0: the baseline's one update)
{ echo "dev0 1"; for d in $(seq 1 "$DEVICES"); do for u in $(seq 1 "$UPDATES"); do echo "dev$d $u"; done; done; } |
  sort > expected.txt
sqlite3 data/state.db "SELECT CAST(device AS TEXT) || ' ' || counter FROM pending" | sort > stored.txt
sqlite3 data/state.db "SELECT CAST(id AS TEXT) || ' ' || last_counter FROM devices" | sort > last.txt
sed -n 's/.*event=update_accepted device=\([^ ]*\) counter=\([0-9]*\).*/\1 \2/p' srv.log | sort > logged.txt
stored=$(wc -l < stored.txt)
logged=$(wc -l < logged.txt)
[ -z "$(uniq -d stored.txt)" ] || problems+=("stored twice: $(uniq -d stored.txt | tr '\n' ' ')")
[ -z "$(uniq -d logged.txt)" ] || problems+=("accepted twice in the log: $(uniq -d logged.txt | tr '\n' ' ')")
differ() { diff "$1" "$2" | grep '^[<>]' | tr '\n' ' ' || true; } # < only in the first, > only in the second
cmp -s stored.txt logged.txt || problems+=("store and log differ: $(differ stored.txt logged.txt)")
cmp -s expected.txt stored.txt || problems+=("stored $((stored - 1)) updates, expected $sent: $(differ expected.txt stored.txt)")
lost=$(sort reported.txt | comm -23 - stored.txt | tr '\n' ' ')
[ -z "$lost" ] || problems+=("acknowledged but not stored: $lost")
for d in $(seq 1 "$DEVICES"); do
  grep -qx "dev$d $UPDATES" last.txt || problems+=("dev$d last_counter $(sed -n "s/^dev$d //p" last.txt), expected $UPDATES")
done

# the summary
pct() { sort -n | awk -v p="$1" '{ v[NR] = $1 } END { if (NR) { i = int(NR * p); if (i < NR * p) i++; if (i < 1) i = 1; print v[i] } else print "-" }'; }
syncs=$(wc -l < times.txt)
dg_c2s=$(json lossy.json c2s received); dg_s2c=$(json lossy.json s2c received)
per_sync=$(awk -v n="$((dg_c2s + dg_s2c))" -v s="$syncs" 'BEGIN { printf "%.1f", s ? n / s : 0 }')
echo "lossy link, seed $SEED: loss $LOSS each way, 150 ms +0..30 ms one way, duplicate 0.05, reorder 0.05;" \
  "$DEVICES devices x $UPDATES updates of $ubytes bytes"
echo "updates delivered: $delivered/$sent ($retried already counted); stored $((stored - 1)), logged $((logged - 1))" \
  "(+1 baseline); $wall s for the lossy run"
echo "seconds per sync: median $(cut -d' ' -f4 times.txt | pct 0.5), p99 $(cut -d' ' -f4 times.txt | pct 0.99)" \
  "(lossless: $base_s)"
for dir in c2s s2c; do
  echo "datagrams $dir: $(json lossy.json "$dir" received) received, $(json lossy.json "$dir" dropped) dropped," \
    "$(json lossy.json "$dir" duplicated) duplicated, $(json lossy.json "$dir" reordered) reordered"
done
echo "datagrams per sync (retransmissions): $per_sync lossy, $base_dgrams lossless;" \
  "$(json lossy.json clients) client sockets through the lossy proxy"
if [ "${#problems[@]}" -gt 0 ]; then
  printf '  %s\n' "${problems[@]}" >&2
  fail "${#problems[@]} problem(s) on the lossy link"
fi
echo "1 passed, 0 failed"
