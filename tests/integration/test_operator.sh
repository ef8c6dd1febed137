#!/usr/bin/env bash
# What an operator relies on before and while the aggregator serves
# (issue 14), each asserted:
#  - a bad configuration value is refused with FILE:LINE, the key and the
#    range (exit 2), and nothing is created;
#  - a second aggregator on the same listen address, or on the same
#    data_dir, refuses to start (exit 1) and names why;
#  - a replaced signing key, or a base model with another backbone, is
#    refused at start;
#  - one log stream: every line is ts=... level=... event=..., libcoap's
#    own messages included; the effective settings are logged at start;
#    handshakes refused or failed (unknown identity, wrong PSK) and
#    refused updates are logged with the peer and the identity; model and
#    status reads are logged;
#  - an update of 0 samples is refused (4.00, kind=samples), never stored;
#  - SIGHUP re-reads log_level and keeps serving;
#  - the status counters (accepted, rejected, round) survive a restart.
set -euo pipefail
: "${MFL:?}" "${AGG:?}"
MFL=$(readlink -f "$MFL"); AGG=$(readlink -f "$AGG")
tmp=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
trap '[[ $- == *e* ]] && echo "FAIL: line $LINENO: $BASH_COMMAND" >&2' ERR
fail() { echo "FAIL: $*" >&2; [ -f "$tmp/srv.log" ] && tail -20 "$tmp/srv.log" >&2; exit 1; }
port=$((20000 + RANDOM % 20000))
url=coaps://127.0.0.1:$port/fl/v1
client() { timeout 20 coap-client-openssl -u dev1 -k secret -B 5 "$@"; }
cd "$tmp"

"$MFL" train -o base.mflf -a c4,p,c8s2,d16,d10 -e 1 -n 600 >/dev/null 2>&1
"$MFL" quantize base.mflf base.mfl --calib 100 >/dev/null
"$MFL" train -o other.mflf -a c4,p,c8s2,d16,d10 -e 1 -n 700 >/dev/null 2>&1
"$MFL" quantize other.mflf other.mfl --calib 100 >/dev/null
"$MFL" keygen agg >/dev/null
"$MFL" keygen dev1 >/dev/null
write_conf() { # $1 file, $2 port, $3 data_dir, then extra lines
  local f=$1 p=$2 d=$3; shift 3
  { echo "listen = 127.0.0.1:$p"; echo "data_dir = $tmp/$d"; echo "model = $tmp/base.mfl"
    echo "key = $tmp/agg.key"; echo "buffer_k = 2"; echo "session_timeout = 2"; printf '%s\n' "$@"; } > "$f"
}
write_conf agg.conf "$port" data

# ---- configuration values out of range: FILE:LINE, key, range; exit 2 ----
expect_refused() { # $1 line to add, $2 text the message must hold
  write_conf bad.conf "$port" baddata "$1"
  set +e; out=$("$AGG" --config bad.conf 2>&1); rc=$?; set -e
  [ "$rc" = 2 ] || fail "'$1': exit $rc, expected 2 ($out)"
  echo "$out" | grep -qF "bad.conf:7:" || fail "'$1': no FILE:LINE in '$out'"
  echo "$out" | grep -qF "$2" || fail "'$1': expected '$2' in '$out'"
  [ ! -e baddata ] || fail "'$1': refused, yet data_dir was created"
}
expect_refused "trim_fraction = 0.9" "must be a number in [0, 0.5)"
expect_refused "server_lr = -5" "server_lr = '-5': must be"
expect_refused "clip_norm = -1" "clip_norm = '-1': must be"
expect_refused "max_delta_norm = nan" "max_delta_norm = 'nan': must be"
expect_refused "max_delta_norm = 1e-10" "max_delta_norm = '1e-10': must be 'auto', 0 (no bound) or a number in 2^-24..1e9"
expect_refused "max_staleness = -1" "max_staleness = '-1': must be an integer in 0..1000000"
expect_refused "log_level = loud" "must be 'debug', 'info' or 'warning'"
expect_refused "cert_listen = 127.0.0.1:abc" "port 'abc' is not a number in 0..65535"
expect_refused "plain_listen = :" "expected HOST:PORT"
expect_refused "plain_listen = 127.0.0.1:99999" "port '99999' is not a number in 0..65535"
expect_refused "plain_listen = 127.0.0.1:-1" "port '-1' is not a number"
expect_refused "buffer_k = 3" "'buffer_k' is set twice"
expect_refused "nosuch = 1" "unknown key 'nosuch'"
expect_refused "server_momentum = 1" "server_momentum = '1': must be a number in [0, 1)"
expect_refused "server_momentum = -0.1" "server_momentum = '-0.1': must be a number in [0, 1)"
expect_refused "staleness_normalization = k" "staleness_normalization = 'k': must be 'sum' or 'buffer'"

"$AGG" provision --config agg.conf add --id dev1 --psk 736563726574 --pub dev1.pub --group north >/dev/null
start() { # waits for this start's own "listening" line
  local seen; seen=$(grep -c "event=listening" srv.log 2>/dev/null || true)
  "$AGG" --config agg.conf >> srv.log 2>&1 & pid=$!
  for _ in $(seq 100); do [ "$(grep -c "event=listening" srv.log || true)" -gt "${seen:-0}" ] && break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null || fail "server did not start"; }
start
grep -q "event=config .*trim_fraction=0.1 .*server_lr=1 server_momentum=0 staleness_normalization=sum log_level=info" \
  srv.log || fail "effective settings not logged"
grep -q "event=endpoint_bound endpoint=dtls address=127.0.0.1:$port" srv.log || fail "bound address not logged"

# ---- a second aggregator: same address, or same data_dir ----
write_conf same_port.conf "$port" data2
set +e; out=$("$AGG" --config same_port.conf 2>&1); rc=$?; set -e
[ "$rc" = 1 ] && echo "$out" | grep -q "Address already in use (another aggregator?)" || fail "second aggregator on the same address: $rc $out"
[ ! -e data2 ] || fail "the refused second aggregator created its data_dir"
write_conf same_dir.conf $((port + 1)) data
set +e; out=$("$AGG" --config same_dir.conf 2>&1); rc=$?; set -e
[ "$rc" = 1 ] && echo "$out" | grep -q "data_dir $tmp/data is in use by another aggregator (pid $pid)" ||
  fail "second aggregator on the same data_dir: $rc $out"

# ---- handshakes refused and failed, with peer and identity ----
timeout 10 coap-client-openssl -u nobody -k secret -B 2 -m get "$url/status" >/dev/null 2>&1 || true
grep -q 'event=handshake_refused peer=127.0.0.1:[0-9]* identity="nobody" identity_bytes=6 reason=unknown_device' srv.log ||
  fail "unknown identity not logged"
timeout 10 coap-client-openssl -u dev1 -k wrong -B 2 -m get "$url/status" >/dev/null 2>&1 || true
for _ in $(seq 80); do grep -q 'event=handshake_failed .*identity="dev1"' srv.log && break; sleep 0.1; done
grep -q 'event=handshake_failed peer=127.0.0.1:[0-9]* identity="dev1" reason="handshake not completed' srv.log ||
  fail "a wrong PSK was not logged"

# ---- a refused update: peer and device; reads logged ----
head -c 100 /dev/urandom > junk.bin
client -m post -t 18 -f junk.bin "$url/update" >/dev/null 2>&1 || true
grep -q 'event=update_rejected device=dev1 code=4.00 kind=malformed reason=".*" peer=127.0.0.1:[0-9]*$' srv.log ||
  fail "refused update not logged with peer and device"
# an update of 0 samples (correctly signed: mfl update make refuses to make
# one, so it is rewritten and signed again by python3-cbor2 and
# python3-cryptography): 4.00 with its own reason, no receipt, counted as
# refused{reason="samples"}, nothing stored and its counter not spent
"$MFL" update make --model base.mfl --key dev1.key --device-id dev1 --counter 7 --base-version 1 --samples 5 \
  -o u7.cose >/dev/null
/usr/bin/python3 - u7.cose dev1.key zero.cose <<'PY'
import sys, cbor2
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
protected, _, payload, _ = cbor2.loads(open(sys.argv[1], "rb").read()).value
body = cbor2.loads(payload)
body[5] = 0                                              # samples (protocol/microfl.cddl)
body = cbor2.dumps(body, canonical=True)
key = serialization.load_pem_private_key(open(sys.argv[2], "rb").read(), None)
r, s = decode_dss_signature(key.sign(cbor2.dumps(["Signature1", protected, b"", body]), ec.ECDSA(hashes.SHA256())))
open(sys.argv[3], "wb").write(cbor2.dumps(cbor2.CBORTag(18, [protected, {}, body, r.to_bytes(32, "big") + s.to_bytes(32, "big")])))
PY
client -m post -t 18 -f zero.cose -o zero.out "$url/update" > zero.txt 2>&1 || true
grep -q "4\.00 update: sample count out of range" zero.txt && [ ! -s zero.out ] ||
  fail "0 samples not refused with 4.00 and a text, no receipt: $(cat zero.txt)"
grep -q 'event=update_rejected device=dev1 code=4.00 kind=samples reason="update: sample count out of range (1..2^32-1)"' \
  srv.log || fail "0 samples not logged with its reason"
[ "$(sqlite3 data/state.db "SELECT last_counter || ':' || pending FROM devices WHERE id = CAST('dev1' AS BLOB)")" = 0:0 ] ||
  fail "an update of 0 samples was stored or spent its counter"
client -m get -o m.cose "$url/model" || fail "GET model"
grep -q 'event=model_read peer=127.0.0.1:[0-9]* identity="dev1" version=1 answer=content' srv.log ||
  fail "model read not logged"
client -m get -o s1.cbor "$url/status" || fail "GET status"
grep -q 'event=status_read .*identity="dev1"' srv.log || fail "status read not logged"

# ---- an id cannot fake log fields: quoted and escaped when it holds '"' or '=' ----
odd='x"=level=error'
"$MFL" keygen odd >/dev/null
"$AGG" provision --config agg.conf add --id "$odd" --psk 736563726574 --pub odd.pub 2>/dev/null >/dev/null ||
  fail "provisioning a printable id with a quote"
"$MFL" update make --model base.mfl --key odd.key --device-id "$odd" --counter 1 --base-version 1 --samples 5 \
  -o odd.cose >/dev/null
timeout 20 coap-client-openssl -u "$odd" -k secret -B 5 -m post -t 18 -f odd.cose -o odd.cbor "$url/update" ||
  fail "POST of the odd id's update"
grep -qF 'event=update_accepted device="x\x22=level=error" counter=1' srv.log ||
  fail "an id with a quote was not escaped: $(grep 'update_accepted' srv.log | tail -1)"
! grep -q 'device=x" ' srv.log || fail "an id broke out of its field"
"$AGG" provision --config agg.conf add --id $'bad\xff' --psk 736563726574 --pub odd.pub 2>/dev/null &&
  fail "a non-ASCII id was provisioned"

# ---- SIGHUP: log_level re-read, still serving ----
echo "log_level = warning" >> agg.conf
kill -HUP "$pid"
for _ in $(seq 50); do grep -q "event=reloaded" srv.log && break; sleep 0.1; done
grep -q "event=reloaded log_level=warning restart_needed=no" srv.log || fail "SIGHUP: no reload logged"
kill -0 "$pid" || fail "SIGHUP killed the server"
reads=$(grep -c "event=model_read" srv.log || true)
client -m get -o m2.cose "$url/model" || fail "GET model after SIGHUP"
[ "$(grep -c "event=model_read" srv.log || true)" = "$reads" ] || fail "log_level = warning still logs reads"
sed -i '/^log_level/d' agg.conf

# ---- one accepted update; counters survive a restart ----
"$MFL" update make --model base.mfl --key dev1.key --device-id dev1 --counter 1 --base-version 1 --samples 5 \
  -o u1.cose >/dev/null
client -m post -t 18 -f u1.cose -o r1.cbor "$url/update" || fail "POST update"
"$MFL" inspect r1.cbor | grep -q accepted || fail "update not accepted"
client -m get -o s2.cbor "$url/status" || fail "GET status"
before=$("$MFL" inspect s2.cbor | grep -o "accepted [0-9]*, rejected [0-9]*" || true)
[ "$before" = "accepted 2, rejected 2" ] || fail "status before restart: $before"
kill -TERM "$pid"; wait "$pid" || true; pid=""
start
client -m get -o s3.cbor "$url/status" || fail "GET status after restart"
after=$("$MFL" inspect s3.cbor | grep -o "accepted [0-9]*, rejected [0-9]*" || true)
[ "$after" = "$before" ] || fail "status counters after a restart: '$after', expected '$before'"
[ "$(sqlite3 data/state.db "SELECT value FROM meta WHERE name = 'refused.samples'")" = 1 ] ||
  fail "the refusal of 0 samples was not counted under its reason"

# every line of the one log stream is ours, libcoap's included
grep -q 'event=coap msg=".*unknown PSK identity' srv.log || fail "libcoap's messages are not in the log stream"
if grep -v '^ts=[0-9T:Z-]* level=[a-z]* event=[a-z_]*' srv.log | grep -q .; then
  fail "lines outside the log format: $(grep -v '^ts=' srv.log | head -3)"
fi
kill -TERM "$pid"; wait "$pid" || true; pid=""

# ---- a replaced key, or another base model: refused at start ----
"$MFL" keygen agg2 >/dev/null
sed -i "s#^key = .*#key = $tmp/agg2.key#" agg.conf
set +e; out=$("$AGG" --config agg.conf 2>&1); rc=$?; set -e
[ "$rc" = 1 ] && echo "$out" | grep -q "key $tmp/agg2.key did not sign model version [0-9]" ||
  fail "a replaced key was not refused: $rc $out"
sed -i "s#^key = .*#key = $tmp/agg.key#" agg.conf
sed -i "s#^model = .*#model = $tmp/other.mfl#" agg.conf
set +e; out=$("$AGG" --config agg.conf 2>&1); rc=$?; set -e
[ "$rc" = 1 ] && echo "$out" | grep -q "is not the base the models in $tmp/data were made from" ||
  fail "another base model was not refused: $rc $out"
echo "operator checks passed"
