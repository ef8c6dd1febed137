#!/usr/bin/env bash
# A small region-shift scenario, in-process and over DTLS against a real
# mfl-aggregator: both modes give the same per-round accuracy (devices reach
# the server in the same seeded order), and so does a one-thread run;
# federated learning lifts the worst region well above the frozen model;
# the network run's counts match what the aggregator itself logged and
# stored; the outputs (CSV, JSON, PNG, `mfl-sim report`) are there and
# consistent; bad scenario values get a specific error.
set -euo pipefail
: "${SIM:?}"
SIM=$(readlink -f "$SIM")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
cd "$tmp"
small=(--devices 40 --rounds 8 --quiet --set base=base.mfl --set base_arch=c4,p,c8s2,d16,d10
       --set base_images=6000 --set base_epochs=2 --set pool_per_region=1500)
"$SIM" "${small[@]}" --out inproc > inproc.txt 2> inproc.err || { cat inproc.err; fail "in-process run"; }
"$SIM" "${small[@]}" --out net --mode network > net.txt 2> net.err || { cat net.err; fail "network run"; }
cat net.txt

# the same figures, round by round, in both modes: accuracy, bytes up and
# down (a current model is answered 2.03 in both), accepted, rejected, lost
acc() { awk -F, 'NR > 1' "$1/rounds.csv"; }
diff <(acc inproc) <(acc net) > /dev/null || { diff <(acc inproc) <(acc net) | head; fail "modes differ"; }

# deterministic for a seed, whatever the number of threads
"$SIM" "${small[@]}" --out one --threads 1 > /dev/null 2>&1 || fail "one-thread run"
cmp <(cut -d, -f1-15 inproc/rounds.csv) <(cut -d, -f1-15 one/rounds.csv) > /dev/null || fail "1 and 2 threads differ"

# the figures (summary.json, checked with Python's json module)
/usr/bin/python3 - net/summary.json <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
f = s["final"]
fz, fed, orc = f["frozen"], f["federated"], f["oracle"]
assert fed["worst"] >= fz["worst"] + 10, ("worst region gain", fz["worst"], fed["worst"])
assert fed["mean"] >= fz["mean"] + 3, ("mean gain", fz["mean"], fed["mean"])
assert orc["worst"] >= fz["worst"] + 30, ("oracle", fz["worst"], orc["worst"])
assert fed["accepted"] > 0 and fed["lost"] > 0, fed  # dropout loses some updates
assert s["run"]["mode"] == "network" and s["run"]["devices"] == 40
assert abs(s["checks"]["federated"]["worst_gain_over_frozen"] - (fed["worst"] - fz["worst"])) < 0.01
PY

# what the simulator counted is what the aggregator logged and stored
for k in federated fair; do
  csv_accepted=$(awk -F, -v k=$k '$1 == k { n += $(NF-2) } END { print n }' net/rounds.csv)
  log_accepted=$(grep -c "event=update_accepted" net/$k/aggregator.log || true)
  [ "$csv_accepted" = "$log_accepted" ] || fail "$k: simulator counted $csv_accepted accepted, aggregator logged $log_accepted"
  csv_version=$(awk -F, -v k=$k '$1 == k { v = $3 } END { print v }' net/rounds.csv)
  db_version=$(sqlite3 net/$k/data/state.db "SELECT max(version) FROM models")
  [ "$csv_version" = "$db_version" ] || fail "$k: final version $csv_version, aggregator stored $db_version"
done

# plots and the report
for p in net/accuracy-frozen.png net/accuracy-federated.png net/worst.png; do
  [ "$(head -c 8 "$p" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ] || fail "$p is not a PNG"
done
"$SIM" report net > report.txt
diff <(grep -v "^rounds took" net.txt) report.txt > /dev/null || fail "report differs from the run's table"
"$SIM" report nowhere 2> /dev/null && fail "report of a missing run succeeded"
"$SIM" --set devices=0 2> bad.txt && fail "devices=0 accepted"
grep -q "devices must be" bad.txt || fail "unclear error: $(cat bad.txt)"
"$SIM" --set colour=blue 2> bad.txt && fail "unknown key accepted"
grep -q 'unknown scenario key "colour"' bad.txt || fail "unclear error: $(cat bad.txt)"
echo "1 passed, 0 failed"
