#!/usr/bin/env bash
# The aggregator's HTTP endpoint (metrics_listen) against real tools:
#  - /metrics passes Debian's `promtool check metrics` and holds the
#    figures of what happened (one accepted update, one malformed, one
#    handshake refused);
#  - /status is JSON with the same figures (python's json);
#  - a real Prometheus (Debian's `prometheus`) scrapes it: `up` is 1 and
#    the accepted-updates counter reads 1 through its query API;
#  - GET only (405), unknown paths 404; off by default.
set -euo pipefail
: "${MFL:?}" "${AGG:?}"
MFL=$(readlink -f "$MFL"); AGG=$(readlink -f "$AGG")
tmp=$(mktemp -d)
pid=""; prom=""
cleanup() { [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; [ -n "$prom" ] && kill -9 "$prom" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
trap '[[ $- == *e* ]] && echo "FAIL: line $LINENO: $BASH_COMMAND" >&2' ERR
fail() { echo "FAIL: $*" >&2; [ -f "$tmp/srv.log" ] && tail -20 "$tmp/srv.log" >&2
         [ -f "$tmp/prom.log" ] && tail -5 "$tmp/prom.log" >&2; exit 1; }
port=$((20000 + RANDOM % 20000)); mport=$((port + 1)); pport=$((port + 2))
url=coaps://127.0.0.1:$port/fl/v1
client() { timeout 20 coap-client-openssl -u dev1 -k secret -B 5 "$@"; }
http() { /usr/bin/python3 - "$@" <<'PY'
import sys, urllib.request, urllib.error
method, url = sys.argv[1], sys.argv[2]
try:
    r = urllib.request.urlopen(urllib.request.Request(url, method=method, data=b"x" if method == "POST" else None),
                               timeout=10)
    print(r.status); print(r.headers.get("Content-Type")); sys.stdout.write(r.read().decode())
except urllib.error.HTTPError as e:
    print(e.code)
PY
}
cd "$tmp"
"$MFL" train -o base.mflf -a c4,p,c8s2,d16,d10 -e 1 -n 600 >/dev/null 2>&1
"$MFL" quantize base.mflf base.mfl --calib 100 >/dev/null
"$MFL" keygen agg >/dev/null
"$MFL" keygen dev1 >/dev/null
cat > agg.conf <<CONF
listen = 127.0.0.1:$port
data_dir = $tmp/data
model = $tmp/base.mfl
key = $tmp/agg.key
metrics_listen = 127.0.0.1:$mport
CONF
"$AGG" provision --config agg.conf add --id dev1 --psk 736563726574 --pub dev1.pub --group 'north"A\' >/dev/null
"$AGG" --config agg.conf > srv.log 2>&1 & pid=$!
for _ in $(seq 50); do grep -q "event=listening" srv.log && break; sleep 0.1; done
grep -q "event=endpoint_bound endpoint=metrics address=127.0.0.1:$mport" srv.log || fail "metrics endpoint not bound"

"$MFL" update make --model base.mfl --key dev1.key --device-id dev1 --counter 1 --base-version 1 --samples 5 \
  -o u1.cose >/dev/null
client -m post -t 18 -f u1.cose -o r1.cbor "$url/update" || fail "POST update"
head -c 64 /dev/urandom > junk.bin
client -m post -t 18 -f junk.bin "$url/update" >/dev/null 2>&1 || true
timeout 10 coap-client-openssl -u nobody -k secret -B 2 -m get "$url/status" >/dev/null 2>&1 || true

http GET "http://127.0.0.1:$mport/metrics" > metrics.out
[ "$(sed -n 1p metrics.out)" = 200 ] || fail "GET /metrics: $(head -1 metrics.out)"
sed -n 2p metrics.out | grep -q "text/plain; version=0.0.4" || fail "content type $(sed -n 2p metrics.out)"
tail -n +3 metrics.out > metrics.txt
promtool check metrics < metrics.txt || fail "promtool check metrics"
for want in "mfl_aggregator_updates_accepted_total 1" 'mfl_aggregator_refused_total{reason="malformed"} 1' \
            'mfl_aggregator_refused_total{reason="handshake"} 1' "mfl_aggregator_model_version 1" \
            'mfl_aggregator_group_devices{group="north\"A\\"} 1' "mfl_aggregator_pending_updates 1" \
            "mfl_aggregator_handshakes_total 2"; do
  grep -qxF "$want" metrics.txt || fail "/metrics lacks '$want'"
done

http GET "http://127.0.0.1:$mport/status" > status.out
[ "$(sed -n 1p status.out)" = 200 ] || fail "GET /status"
tail -n +3 status.out | /usr/bin/python3 -c '
import json, sys
s = json.load(sys.stdin)
assert s["accepted"] == 1 and s["rejected"] == 1 and s["refused"]["malformed"] == 1, s
assert s["groups"] == [{"name": "north\"A\\", "devices": 1, "accepted": 1}], s["groups"]
assert s["model_version"] == 1 and s["pending"] == 1, s' || fail "/status JSON: $(tail -n +3 status.out)"
[ "$(http POST "http://127.0.0.1:$mport/metrics" | head -1)" = 405 ] || fail "POST /metrics is not 405"
[ "$(http GET "http://127.0.0.1:$mport/nosuch" | head -1)" = 404 ] || fail "unknown path is not 404"

# a real Prometheus scrapes it
cat > prom.yml <<YML
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: mfl
    static_configs:
      - targets: ['127.0.0.1:$mport']
YML
prometheus --config.file=prom.yml --storage.tsdb.path="$tmp/tsdb" --web.listen-address=127.0.0.1:$pport \
  > prom.log 2>&1 & prom=$!
query() { /usr/bin/python3 - "$pport" "$1" <<'PY'
import json, sys, urllib.parse, urllib.request
try:
    r = urllib.request.urlopen("http://127.0.0.1:%s/api/v1/query?query=%s" % (sys.argv[1], urllib.parse.quote(sys.argv[2])),
                               timeout=5)
    res = json.load(r)["data"]["result"]
    print(res[0]["value"][1] if res else "")
except Exception:
    print("")
PY
}
up=""; accepted=""
for _ in $(seq 60); do
  up=$(query 'up{job="mfl"}'); accepted=$(query 'mfl_aggregator_updates_accepted_total{job="mfl"}')
  [ "$up" = 1 ] && [ "$accepted" = 1 ] && break; sleep 0.5
done
[ "$up" = 1 ] || fail "Prometheus does not see the target up (up='$up')"
[ "$accepted" = 1 ] || fail "Prometheus reads accepted='$accepted'"
echo "Prometheus scraped: up=$up accepted=$accepted"

# off by default
kill -TERM "$pid"; wait "$pid" || true; pid=""
sed -i '/^metrics_listen/d' agg.conf
"$AGG" --config agg.conf > srv2.log 2>&1 & pid=$!
for _ in $(seq 50); do grep -q "event=listening" srv2.log && break; sleep 0.1; done
grep -q "event=config .*metrics=off" srv2.log || fail "metrics not off by default"
! grep -q "endpoint=metrics" srv2.log || fail "a metrics endpoint without metrics_listen"
echo "metrics checks passed"
