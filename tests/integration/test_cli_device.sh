#!/usr/bin/env bash
# mfl device against a real aggregator (issue 14): each way a sync or a relay
# can fail is said for what it is, and exits 1 — a handshake refused for an
# unknown identity or for a wrong PSK, no answer where nothing listens or
# where something listens but never answers, an address that does not
# resolve, a model that does not verify with the pinned key, an update the
# aggregator refuses (its CoAP code and its text). A host name is accepted
# (localhost:PORT), and the PSK can come from a file or standard input.
set -euo pipefail
: "${MFL:?}" "${AGG:?}"
MFL=$(readlink -f "$MFL"); AGG=$(readlink -f "$AGG")
tmp=$(mktemp -d)
pid=""; silent=""
cleanup() {
  [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
  [ -n "$silent" ] && kill -9 "$silent" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; [ -f "$tmp/srv.log" ] && tail -5 "$tmp/srv.log" >&2; exit 1; }
checks=0
# expect STATUS PATTERN... -- CMD...: CMD exits with STATUS and its stderr
# holds every PATTERN (fixed strings)
expect() {
  local want=$1; shift
  local patterns=()
  while [ "$1" != "--" ]; do patterns+=("$1"); shift; done
  shift
  local rc=0
  "$@" > out.txt 2> err.txt || rc=$?
  [ "$rc" = "$want" ] || fail "'$*': exit $rc, expected $want; stderr: $(cat err.txt)"
  for p in "${patterns[@]}"; do
    grep -qF -- "$p" err.txt || fail "'$*': no \"$p\" in: $(cat err.txt)"
  done
  checks=$((checks + 1))
}
port=$((20000 + RANDOM % 20000))
cd "$tmp"
"$MFL" train -o base.mflf -a c4,p,c8s2,d16,d10 -e 1 -n 1000 >/dev/null 2>&1
"$MFL" quantize base.mflf base.mfl --calib 100 >/dev/null
"$MFL" keygen agg >/dev/null
# buffer_k = 1: the first accepted update publishes model version 2
cat > agg.conf <<CONF
listen = 127.0.0.1:$port
data_dir = $tmp/data
model = $tmp/base.mfl
model_id = cli
key = $tmp/agg.key
buffer_k = 1
CONF
for d in 1 2; do
  "$MFL" keygen dev$d >/dev/null
  "$AGG" provision --config agg.conf add --id dev$d --psk 6b65793$d --pub dev$d.pub --group g >/dev/null
  mkdir -p state$d
done
printf '6b657931\n' > dev1.psk
"$AGG" --config agg.conf > srv.log 2>&1 & pid=$!
sleep 1
kill -0 "$pid" || fail "the aggregator did not start"
dev_sync() { # device, extra args
  local d=$1; shift
  timeout 60 "$MFL" device sync --id dev$d --agg-pub agg.pub --model base.mfl --key dev$d.key --state state$d \
    --samples 20 "$@"
}

# a host name, and the PSK from a file and from standard input
expect 0 -- dev_sync 1 --server localhost:$port --psk-file dev1.psk
grep -q "counter 1 accepted" out.txt || fail "localhost: $(cat out.txt)"
rc=0; dev_sync 1 --server 127.0.0.1:$port --psk-file - < dev1.psk > out.txt 2> err.txt || rc=$?
[ "$rc" = 0 ] && grep -q "installed version 2" out.txt && grep -q "counter 2 accepted" out.txt ||
  fail "--psk-file -: exit $rc: $(cat out.txt err.txt)"
checks=$((checks + 1))

# handshake refused: an identity the aggregator does not know (its alert) ...
mkdir -p state9
expect 1 "mfl device sync: GET model: handshake refused by 127.0.0.1:$port" "does not know identity 'dev9'" -- \
  timeout 60 "$MFL" device sync --server 127.0.0.1:$port --id dev9 --psk 6b657939 --agg-pub agg.pub --model base.mfl \
  --key dev1.key --state state9 --fetch-only
# ... and a wrong PSK (its silence after our Finished), said at the deadline
expect 1 "handshake refused by 127.0.0.1:$port" "the PSK is wrong for identity 'dev1'" -- \
  dev_sync 1 --server 127.0.0.1:$port --psk 6b657930 --fetch-only --timeout 4
# timeouts: nothing listens (ICMP port unreachable) ...
expect 1 "GET model: timeout: no answer from 127.0.0.1:$((port + 3))" "nothing listens there" -- \
  dev_sync 1 --server 127.0.0.1:$((port + 3)) --psk-file dev1.psk --fetch-only --timeout 3
# ... and something listens but never answers
/usr/bin/python3 -c "
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('127.0.0.1', $port + 5)); time.sleep(60)" &
silent=$!
sleep 0.3
expect 1 "GET model: timeout: no answer from 127.0.0.1:$((port + 5)) in 3.0 s" "down or out of reach" -- \
  dev_sync 1 --server 127.0.0.1:$((port + 5)) --psk-file dev1.psk --fetch-only --timeout 3
kill -9 "$silent"; wait "$silent" 2>/dev/null || true; silent=""
# address errors: one that does not parse (usage, 2), a name that does not resolve (1)
expect 2 "--server '127.0.0.1'" "not HOST:PORT" -- dev_sync 1 --server 127.0.0.1 --psk-file dev1.psk
expect 2 "--server '::1:5684'" -- dev_sync 1 --server ::1:5684 --psk-file dev1.psk
expect 1 "address error: --server 'nosuch.invalid:5684': cannot resolve" -- \
  dev_sync 1 --server nosuch.invalid:5684 --psk-file dev1.psk --fetch-only

# a model that does not verify with the pinned key: refused, with the reason
mkdir -p state1b
expect 1 "mfl device sync: model refused: COSE: bad signature" "--agg-pub dev2.pub" -- \
  timeout 60 "$MFL" device sync --server 127.0.0.1:$port --id dev1 --psk-file dev1.psk --agg-pub dev2.pub \
  --model base.mfl --key dev1.key --state state1b --fetch-only
# an update the aggregator refuses: its CoAP code and its text
"$MFL" update make --model base.mfl --key dev2.key --device-id dev1 --counter 9 --base-version 2 --samples 5 \
  -o forged.cose >/dev/null
expect 1 "mfl device relay: relayed forged.cose: counter 9 refused: code 4.01 " -- \
  timeout 60 "$MFL" device relay --server 127.0.0.1:$port --id dev1 --psk-file dev1.psk forged.cose
grep -qE "code 4\.01 .+" err.txt || fail "no server text after the code: $(cat err.txt)"

kill -TERM "$pid"; wait "$pid"; pid=""
echo "$checks checks; 1 passed, 0 failed"
