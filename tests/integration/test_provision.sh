#!/usr/bin/env bash
# mfl-aggregator provision: the device lifecycle (issue 14).
#  - every usage error exits 2 and names the option and why; every runtime
#    failure (a file, an unknown or existing device) exits 1 and says so;
#    --help anywhere prints the usage and exits 0;
#  - the PSK comes from a file or standard input, never argv (checked in
#    /proc/PID/cmdline while the command waits for it), and is never printed;
#    --psk HEX still works, with a warning;
#  - while the server runs (it holds data_dir/lock; provisioning must not
#    need it), against a stock client (coap-client-openssl): a revoked
#    device's handshake is refused and a readmitted one's works, with its
#    counters; after a PSK rotation the old key fails and the new one works;
#    after a key rotation updates signed with the old key get 4.01; a device
#    with pending updates is removed only with --force, which drops them;
#    the id added again continues above its counters (no replays).
set -euo pipefail
: "${MFL:?}" "${AGG:?}"
MFL=$(readlink -f "$MFL"); AGG=$(readlink -f "$AGG")
tmp=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; [ -f "$tmp/srv.log" ] && tail -20 "$tmp/srv.log" >&2; exit 1; }
port=$((20000 + RANDOM % 20000))
url=coaps://127.0.0.1:$port/fl/v1

# expect RC PATTERN COMMAND...: exit status RC, and PATTERN (ERE) in its stdout and stderr
expect() {
  local rc=$1 pat=$2 got; shift 2
  set +e; out=$("$@" 2>&1); got=$?; set -e
  [ "$got" = "$rc" ] || fail "$*: exit $got, expected $rc: $out"
  grep -qE -- "$pat" <<< "$out" || fail "$*: expected /$pat/ in: $out"
}
P() { "$AGG" provision --config agg.conf "$@"; }
# answered ID KEY: a GET of the status over DTLS-PSK gets an answer
answered() {
  rm -f status.out
  timeout 20 coap-client-openssl -u "$1" -k "$2" -B 4 -m get -o status.out "$url/status" >/dev/null 2>&1 || true
  [ -s status.out ]
}
# post ID KEY UPDATE: the receipt (or the error) of a POST of UPDATE
post() {
  rm -f receipt.cbor
  timeout 20 coap-client-openssl -u "$1" -k "$2" -B 5 -m post -t 18 -f "$3" -o receipt.cbor "$url/update" \
    > post.out 2>&1 || true
  if [ -s receipt.cbor ]; then "$MFL" inspect receipt.cbor; else cat post.out; fi
}
update() { # update KEY COUNTER OUT
  "$MFL" update make --model base.mfl --key "$1" --device-id dev1 --counter "$2" --base-version 1 --samples 10 \
    --seed "$2" -o "$3" >/dev/null
}

cd "$tmp"
"$MFL" train -o base.mflf -a c4,p,c8s2,d16,d10 -e 1 -n 1000 >/dev/null 2>&1
"$MFL" quantize base.mflf base.mfl --calib 100 >/dev/null
for k in agg dev1 dev1b dev2; do "$MFL" keygen $k >/dev/null; done
cat > agg.conf <<CONF
listen = 127.0.0.1:$port
data_dir = $tmp/data
model = $tmp/base.mfl
key = $tmp/agg.key
buffer_k = 10
CONF
printf '736563726574\n' > dev1.psk     # "secret"
fp1=$(openssl pkey -pubin -in dev1.pub -outform DER | tail -c 65 | sha256sum | cut -c1-16)
long_id=$(printf 'd%.0s' $(seq 33)); long_group=$(printf 'g%.0s' $(seq 64))

# 1. usage errors: exit 2, the option and the reason named
expect 2 "unknown verb 'frob'" P frob
expect 2 "a verb is needed" P
expect 2 "unknown option '--bogus'" P add --bogus
expect 2 "unexpected argument 'extra'" P list extra
expect 2 "revoke needs --id" P revoke
expect 2 "--id needs a value" P show --id
expect 2 "--id: a device id is 1 to 32 printable ASCII characters" P add --id "$long_id" --psk-file dev1.psk --pub dev1.pub
expect 2 "--group: a group name is 1 to 63 printable ASCII characters" \
  P add --id dev1 --psk-file dev1.psk --pub dev1.pub --group "$long_group"
# ids and groups are printable ASCII: they become log fields, Prometheus labels and JSON strings
expect 2 "--group: a group name is 1 to 63 printable ASCII characters" \
  P add --id dev1 --psk-file dev1.psk --pub dev1.pub --group $'g\xff'
expect 2 "--id: a device id is 1 to 32 printable ASCII characters" P add --id "sp id" --psk-file dev1.psk --pub dev1.pub
expect 2 "--psk: not 1 to 64 bytes in hex" P add --id dev1 --psk 73656x --pub dev1.pub
expect 2 "add needs a PSK: --psk-file" P add --id dev1 --pub dev1.pub
expect 2 "add needs --pub" P add --id dev1 --psk-file dev1.psk
expect 2 "--psk and --psk-file: one or the other" P add --id dev1 --psk 00 --psk-file dev1.psk --pub dev1.pub
expect 2 "rotate needs something new" P rotate --id dev1
expect 2 "--force does not apply to revoke" P revoke --id dev1 --force
expect 2 "--id given twice" P show --id a --id b
expect 2 "--config FILE is needed" "$AGG" provision list
expect 2 "unknown option '--bogus'" "$AGG" --bogus
# --help anywhere, even after an error: the usage, exit 0
expect 0 "usage: mfl-aggregator provision" P add --bogus --help
expect 0 "usage: mfl-aggregator provision" "$AGG" provision -h
expect 0 "rotate --id ID" "$AGG" --help
for verb in add list show revoke readmit rotate remove; do
  "$AGG" --help | grep -q "^  $verb" || fail "mfl-aggregator --help does not list provision $verb"
done

# 2. runtime failures: exit 1, what and why; nothing is added
expect 1 "--pub nosuch.pub: No such file or directory" P add --id dev1 --psk-file dev1.psk --pub nosuch.pub
expect 1 "--pub agg.conf: not a P-256 public key" P add --id dev1 --psk-file dev1.psk --pub agg.conf
expect 1 "--psk-file nosuch: No such file or directory" P add --id dev1 --psk-file nosuch --pub dev1.pub
expect 1 "--psk-file agg.conf: expected 1 to 64 bytes in hex" P add --id dev1 --psk-file agg.conf --pub dev1.pub
for verb in show revoke readmit remove; do expect 1 "no device 'nosuch'" P $verb --id nosuch; done
expect 1 "no device 'nosuch'" P rotate --id nosuch --psk-file dev1.psk
expect 0 "^no devices$" P list

# 3. the PSK from a file or standard input, never from argv
mkfifo psk.fifo
"$AGG" provision --config agg.conf add --id dev1 --psk-file psk.fifo --pub dev1.pub --group north > add1.out &
adder=$!
sleep 0.3   # it waits on the FIFO for the key
tr '\0' ' ' < /proc/$adder/cmdline | grep -q -- "--psk-file psk.fifo" || fail "not the provision process"
tr '\0' ' ' < /proc/$adder/cmdline | grep -q 736563726574 && fail "the PSK is in argv"
cat dev1.psk > psk.fifo
wait $adder || fail "add from a FIFO"
grep -qx "added dev1: group north, key $fp1, PSK of 6 bytes" add1.out || fail "add said: $(cat add1.out)"
expect 0 "^added dev2: group default" sh -c "printf '  736563726575 \n' | '$AGG' provision --config agg.conf \
  add --id dev2 --psk-file - --pub dev2.pub"
expect 0 "warning: --psk shows the key to every local user" P add --id dev3 --psk 0011223344 --pub dev2.pub
expect 1 "device 'dev1' exists: 'rotate --id dev1' gives it new keys" P add --id dev1 --psk-file dev1.psk --pub dev1.pub
P list > list.out
head -1 list.out | grep -qE "^ID +GROUP +STATUS +LAST_COUNTER +ACCEPTED +PENDING +KEY$" || fail "list header: $(cat list.out)"
grep -qE "^dev1 +north +active +0 +0 +0  $fp1$" list.out || fail "list: $(cat list.out)"
[ "$(wc -l < list.out)" = 4 ] || fail "list: 3 devices expected: $(cat list.out)"
expect 0 "psk +5 bytes \(not shown\)" P show --id dev3
P show --id dev1 > show.out; cat list.out show.out add1.out | grep -q 736563726574 && fail "the PSK was printed"
expect 0 "^removed dev3$" P remove --id dev3

# 4. while the server serves
"$AGG" --config agg.conf >> srv.log 2>&1 & pid=$!
for _ in $(seq 100); do grep -q "event=listening" srv.log && break; sleep 0.1; done
kill -0 "$pid" || fail "server did not start"
answered dev1 secret || fail "dev1's handshake before any change"
update dev1.key 1 u1.cose
post dev1 secret u1.cose | grep -q accepted || fail "dev1's update 1: $(cat post.out)"
expect 0 "last counter  1" P show --id dev1
expect 1 "dev1 has 1 update waiting for a round: 'revoke --id dev1'.*'remove --id dev1 --force'" P remove --id dev1
expect 0 "^revoked dev1: its handshakes and updates are refused from now on; its 1 pending update will be dropped" \
  P revoke --id dev1
expect 0 "^dev1 was revoked already: nothing changed" P revoke --id dev1
answered dev1 secret && fail "a revoked device's handshake was answered"
grep -q 'event=handshake_refused.*identity="dev1" identity_bytes=4 reason=revoked' srv.log || fail "no refusal of revoked dev1 logged"
expect 1 "device 'dev1' exists and is revoked: 'readmit --id dev1'" P add --id dev1 --psk-file dev1.psk --pub dev1.pub
expect 0 "^readmitted dev1: accepted again from its next handshake, its counters kept \(last 1\)" P readmit --id dev1
expect 0 "^dev1 is not revoked: nothing changed" P readmit --id dev1
answered dev1 secret || fail "a readmitted device's handshake failed"
update dev1.key 2 u2.cose
post dev1 secret u2.cose | grep -q accepted || fail "readmitted dev1's update 2: $(cat post.out)"
post dev1 secret u1.cose | grep -q duplicate || fail "update 1 again after readmit: $(cat post.out)"

# a new PSK from standard input: the old one fails, the new one works
expect 0 "^rotated dev1: new PSK of 7 bytes; counters kept \(last 2\)" \
  sh -c "printf '6e65776b657921\n' | '$AGG' provision --config agg.conf rotate --id dev1 --psk-file -"
answered dev1 secret && fail "the old PSK still works after rotation"
answered dev1 'newkey!' || fail "the new PSK does not work"
# a new public key: the old key's updates are forged now, the new key's count
fp1b=$(openssl pkey -pubin -in dev1b.pub -outform DER | tail -c 65 | sha256sum | cut -c1-16)
expect 0 "^rotated dev1: new key $fp1b \(was $fp1\); counters kept \(last 2\)" P rotate --id dev1 --pub dev1b.pub
update dev1.key 3 u3old.cose
post dev1 'newkey!' u3old.cose | grep -q "4\.01" || fail "an update signed with the old key: $(cat post.out)"
update dev1b.key 3 u3.cose
post dev1 'newkey!' u3.cose | grep -q accepted || fail "an update signed with the new key: $(cat post.out)"
P list | grep -qE "^dev1 +north +active +3 +3 +3  $fp1b$" || fail "list after rotation: $(P list)"

# removal: the pending updates go with --force; the id comes back above its counters
expect 0 "^removed dev1 and dropped its 3 pending updates; its counters up to 3 stay spent" P remove --id dev1 --force
[ "$(sqlite3 data/state.db "SELECT count(*) FROM pending WHERE CAST(device AS TEXT) = 'dev1'")" = 0 ] ||
  fail "dev1's pending updates were not dropped"
answered dev1 'newkey!' && fail "a removed device's handshake was answered"
grep -q 'event=handshake_refused.*identity="dev1" identity_bytes=4 reason=unknown_device' srv.log || fail "no refusal of removed dev1 logged"
expect 0 "^added dev1: group default, key $fp1b, PSK of 6 bytes; its counters continue above 3" \
  P add --id dev1 --psk-file dev1.psk --pub dev1b.pub
post dev1 secret u3.cose | grep -q accepted && fail "a removed device's old update was taken again"
update dev1b.key 4 u4.cose
post dev1 secret u4.cose | grep -q accepted || fail "the re-added device's next update: $(cat post.out)"
answered dev2 secreu || fail "dev2 disturbed"
kill -TERM "$pid"; wait "$pid" || fail "server exit"; pid=""
echo "test_provision: ok"
