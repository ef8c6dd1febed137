#!/usr/bin/env bash
# End to end over DTLS on loopback: three devices learn and send signed
# updates through the device client; the K-th update makes the aggregator
# publish a new signed model; every device fetches, verifies and installs it
# (the version only goes up); a relayed update produced elsewhere counts too;
# a device with a certificate (CN = device id) instead of a PSK takes part,
# and a certificate for an unprovisioned CN is refused; a device whose
# state was wiped moves past the counters it already spent.
set -euo pipefail
: "${MFL:?}" "${AGG:?}"
MFL=$(readlink -f "$MFL"); AGG=$(readlink -f "$AGG")
tmp=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; [ -f "$tmp/srv.log" ] && tail -20 "$tmp/srv.log" >&2; exit 1; }
port=$((20000 + RANDOM % 20000))
cd "$tmp"
"$MFL" train -o base.mflf -a c4,p,c8s2,d16,d10 -e 1 -n 1000 >/dev/null 2>&1
"$MFL" quantize base.mflf base.mfl --calib 100 >/dev/null
"$MFL" keygen agg >/dev/null
# a test CA, the aggregator's certificate, and device certificates
cert() { # name CN
  openssl ecparam -name prime256v1 -genkey -noout -out $1.cert.key 2>/dev/null
  openssl req -new -key $1.cert.key -subj "/CN=$2" -out $1.csr 2>/dev/null
  openssl x509 -req -in $1.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -out $1.pem 2>/dev/null
}
openssl ecparam -name prime256v1 -genkey -noout -out ca.key 2>/dev/null
openssl req -x509 -new -key ca.key -subj "/CN=microfl test CA" -days 2 -out ca.pem 2>/dev/null
cert srv aggregator
cert dev5 dev5
cert dev9 dev9
cat > agg.conf <<CONF
listen = 127.0.0.1:$port
data_dir = $tmp/data
model = $tmp/base.mfl
model_id = e2e
key = $tmp/agg.key
buffer_k = 3
verify_threads = 2
cert_listen = 127.0.0.1:$((port + 1))
cert = $tmp/srv.pem
cert_key = $tmp/srv.cert.key
ca = $tmp/ca.pem
CONF
for d in 1 2 3 4 5; do
  "$MFL" keygen dev$d >/dev/null
  "$AGG" provision --config agg.conf add --id dev$d --psk 6b6579$d$d --pub dev$d.pub --group g$((d % 2)) >/dev/null
  mkdir -p state$d
done
"$AGG" --config agg.conf > srv.log 2>&1 & pid=$!
sleep 1
sync() { # device, extra args
  local d=$1; shift
  "$MFL" device sync --server 127.0.0.1:$port --id dev$d --psk 6b6579$d$d --agg-pub agg.pub --model base.mfl \
    --key dev$d.key --state state$d --seed $d "$@"
}
for d in 1 2 3; do
  sync $d --samples 40 > out$d.txt || fail "device $d sync: $(cat out$d.txt)"
  grep -q "counter 1 accepted" out$d.txt || fail "device $d update not accepted: $(cat out$d.txt)"
done
grep -q "event=model_published version=2 updates=3" srv.log || fail "no model 2 after 3 updates"
for d in 1 2 3; do
  sync $d --fetch-only > fetch$d.txt || fail "device $d fetch"
  grep -q "installed version 2" fetch$d.txt || fail "device $d did not install version 2: $(cat fetch$d.txt)"
  [ -s state$d/device.state ] || fail "device $d kept no state"
done
sync 1 --fetch-only | grep -q "version 2 is current" || fail "re-fetch should find version 2 current"
# the second round starts from version 2
sync 1 --samples 20 > out1b.txt || fail "second round"
grep -q "counter 2 accepted" out1b.txt || fail "device 1 counter 2: $(cat out1b.txt)"
# a device whose state was wiped (counter journal lost) is told its counter
# is used, with the aggregator's last one, moves past it and is heard
rm -rf state1 && mkdir state1
sync 1 --samples 20 > out1c.txt 2> err1c.txt || fail "wiped device: $(cat out1c.txt err1c.txt)"
grep -q "counter 1 not stored: the aggregator's last counter for dev1 is 2" err1c.txt ||
  fail "wiped device not told its last counter: $(cat err1c.txt)"
grep -q "counter 3 accepted" out1c.txt || fail "wiped device did not move past counter 2: $(cat out1c.txt)"
# a relayed update, made elsewhere (by a firmware image or a gateway queue)
"$MFL" update make --model base.mfl --key dev4.key --device-id dev4 --counter 1 --base-version 2 --samples 10 \
  -o relayed.cose >/dev/null
"$MFL" device relay --server 127.0.0.1:$port --id dev4 --psk 6b657944 relayed.cose > relay.txt ||
  fail "relay: $(cat relay.txt)"
grep -q "counter 1 accepted" relay.txt || fail "relayed update not accepted"
"$MFL" device relay --server 127.0.0.1:$port --id dev4 --psk 6b657944 relayed.cose | grep -q "already counted" ||
  fail "relayed replay not reported as already counted"
# forged: dev4's identity and kid, dev3's signature; the check runs on a verify thread
"$MFL" update make --model base.mfl --key dev3.key --device-id dev4 --counter 7 --base-version 2 --samples 10 \
  -o forged.cose >/dev/null
if "$MFL" device relay --server 127.0.0.1:$port --id dev4 --psk 6b657944 forged.cose > forged.txt 2>&1; then
  fail "forged relayed update accepted: $(cat forged.txt)"
fi
grep -q "code 4.01" forged.txt || fail "forged update not refused with 4.01: $(cat forged.txt)"
# certificates instead of a PSK: dev5's certificate names it
"$MFL" device sync --server 127.0.0.1:$((port + 1)) --id dev5 --agg-pub agg.pub --model base.mfl --key dev5.key \
  --state state5 --samples 10 --cert dev5.pem --cert-key dev5.cert.key --ca ca.pem > cert.txt 2>&1 ||
  fail "certificate device: $(cat cert.txt)"
grep -q "counter 1 accepted" cert.txt || fail "certificate device update: $(cat cert.txt)"
# a valid certificate for a device that was never provisioned
mkdir -p state9
if timeout 60 "$MFL" device sync --server 127.0.0.1:$((port + 1)) --id dev9 --agg-pub agg.pub --model base.mfl \
  --key dev5.key --state state9 --samples 0 --cert dev9.pem --cert-key dev9.cert.key --ca ca.pem >/dev/null 2>&1; then
  fail "unprovisioned certificate accepted"
fi
grep -q "event=handshake_refused" srv.log || fail "no handshake_refused log line for the unknown CN"
# bad flags and files: a specific message naming them, exit 2 or 1, nothing sent
rc=0; "$MFL" device relay --server 127.0.0.1:0 --id dev4 --psk 6b657944 relayed.cose 2> bad1.txt || rc=$?
[ "$rc" = 2 ] && grep -q -- "--server '127.0.0.1:0'" bad1.txt || fail "bad --server: exit $rc, $(cat bad1.txt)"
rc=0; "$MFL" device relay --server 127.0.0.1:$port --id dev4 --psk 6b6579 --timeout abc x 2> bad2.txt || rc=$?
[ "$rc" = 2 ] && grep -q -- "--timeout 'abc'" bad2.txt || fail "bad --timeout: exit $rc, $(cat bad2.txt)"
rc=0; sync 1 --key nosuch.key > /dev/null 2> bad3.txt || rc=$?
[ "$rc" = 1 ] && grep -q "cannot read the device key nosuch.key" bad3.txt || fail "missing key: exit $rc, $(cat bad3.txt)"
kill -TERM $pid; wait $pid; pid=""
echo "1 passed, 0 failed"
